#!/usr/bin/env bash
# Issue 16's measurement on a machine with nothing else running: the kernels of commit 08793d2 (the issue's baseline,
# Vector256 only) against this build (Vector512 path, and Vector256 forced; fused conv blocks in training), paper preset,
# sertool bench B=1 and B=8 on 1 and 2 threads, configurations alternating in two rounds (medians of every timed run);
# then this build's per-layer profile and ONNX Runtime vs the engine at batch 1. "old-steady" is the old build with its
# loops jitted optimised from the first call (DOTNET_TC_QuickJitForLoops=0, what this build's runtimeconfig sets), so
# that old/new compares kernels, not JIT warm-up; "old" is the old build as it ran. Background training runs (sertool
# train) are paused for the timing window only and resumed on any exit.
#   bench/results/cpu-quiet/run.sh OLD_SERTOOL NEW_SERTOOL ONNXBENCH_DLL OUTDIR
#   python3 bench/results/avx512/summarize.py OUTDIR "old (08793d2, Vector256)" > OUTDIR/summary.md
set -euo pipefail
OLD=$1 NEW=$2 ORT=$3 OUT=$4
mkdir -p "$OUT"
( sleep 900; pkill -CONT -f "sertool train" ) & WATCHDOG=$!
trap 'pkill -CONT -f "sertool train" || true; kill $WATCHDOG 2>/dev/null || true' EXIT
pkill -STOP -f "sertool train" || true
date -u +"paused background runs at %H:%M:%S" | tee "$OUT/run.log"
cat /proc/loadavg | tee -a "$OUT/run.log"
"$NEW" bench --peak --out "$OUT/peak.json" | tee -a "$OUT/run.log"
for round in 1 2; do
  for threads in 1 2; do
    "$OLD" bench --preset paper --batch-sizes 1,8 --threads $threads --paper-repeats 2 --out "$OUT/old-t$threads-r$round.json" | tail -n 4 | tee -a "$OUT/run.log"
    DOTNET_TC_QuickJitForLoops=0 "$OLD" bench --preset paper --batch-sizes 1,8 --threads $threads --paper-repeats 2 --out "$OUT/old-steady-t$threads-r$round.json" | tail -n 4 | tee -a "$OUT/run.log"
    "$NEW" bench --simd avx512 --no-roofline --preset paper --batch-sizes 1,8 --threads $threads --paper-repeats 2 --out "$OUT/new-avx512-t$threads-r$round.json" | tail -n 4 | tee -a "$OUT/run.log"
    "$NEW" bench --simd avx2 --no-roofline --preset paper --batch-sizes 1,8 --threads $threads --paper-repeats 2 --out "$OUT/new-avx2-t$threads-r$round.json" | tail -n 4 | tee -a "$OUT/run.log"
  done
done
date -u +"bench done at %H:%M:%S" | tee -a "$OUT/run.log"
# per-layer GFLOP/s and % of peak of this build (the profile in README's table: paper, B=8, T=450, one thread)
"$NEW" profile --preset paper --batch 8 --threads 1 --repeats 3 --out "$OUT/profile-paper-t1.json" | tee "$OUT/profile-paper-t1.txt"
dotnet "$ORT" --presets paper --repeats 5 --out "$OUT/onnx" | tee -a "$OUT/run.log"
cat /proc/loadavg | tee -a "$OUT/run.log"
date -u +"resuming background runs at %H:%M:%S" | tee -a "$OUT/run.log"
