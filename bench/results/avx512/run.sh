#!/usr/bin/env bash
# Old (commit 1465814, Vector256 kernels) vs new (this branch: Vector512 path, and Vector256 forced) side by side, in
# one run: paper preset, sertool bench B=1 and B=8 on 1 and 2 threads, configurations alternating (old, new avx512,
# new avx2) in two rounds; then whole-process A/B ratios (farm-bench, paired runs), the roofline, and ONNX Runtime vs
# the engine (batch 1, paper). The nice'd background training runs are paused for the timing window only and resumed
# on any exit.
#   bench/results/avx512/run.sh OLD_SERTOOL NEW_SERTOOL ONNXBENCH OUTDIR
set -euo pipefail
OLD=$1 NEW=$2 ORT=$3 OUT=$4
mkdir -p "$OUT"
# a watchdog resumes them after 14 minutes whatever happens here
( sleep 840; pkill -CONT -f sertool-runs ) & WATCHDOG=$!
trap 'pkill -CONT -f sertool-runs || true; kill $WATCHDOG 2>/dev/null || true' EXIT
pkill -STOP -f sertool-runs || true
date -u +"paused background runs at %H:%M:%S" | tee "$OUT/run.log"
cat /proc/loadavg | tee -a "$OUT/run.log"

"$NEW" bench --peak --out "$OUT/peak.json" | tee -a "$OUT/run.log"

for round in 1 2; do
  for threads in 1 2; do
    "$OLD" bench --preset paper --batch-sizes 1,8 --threads $threads --paper-repeats 2 --out "$OUT/old-t$threads-r$round.json" | tail -n 4 | tee -a "$OUT/run.log"
    "$NEW" bench --simd avx512 --preset paper --batch-sizes 1,8 --threads $threads --paper-repeats 2 --out "$OUT/new-avx512-t$threads-r$round.json" | tail -n 4 | tee -a "$OUT/run.log"
    "$NEW" bench --simd avx2 --preset paper --batch-sizes 1,8 --threads $threads --paper-repeats 2 --out "$OUT/new-avx2-t$threads-r$round.json" | tail -n 4 | tee -a "$OUT/run.log"
  done
done
date -u +"bench done at %H:%M:%S" | tee -a "$OUT/run.log"

# whole process, paired A B A B: new vs old, paper B=8 (forward + training step, variable and padded), 1 thread
for simd in avx512 avx2; do
  echo "farm-bench: new --simd $simd vs old, paper B=8, 1 thread" | tee -a "$OUT/farm-bench.txt"
  farm-bench -n 3 --warmup 0 --timeout 600 --vs "$OLD bench --preset paper --batch-sizes 8 --threads 1 --out /tmp/ser-avx-fb-old.json" -- \
    "$NEW" bench --simd $simd --no-roofline --preset paper --batch-sizes 8 --threads 1 --out /tmp/ser-avx-fb-new.json 2>&1 | tee -a "$OUT/farm-bench.txt"
done
date -u +"farm-bench done at %H:%M:%S" | tee -a "$OUT/run.log"

"$ORT" --presets paper --repeats 5 --out "$OUT/onnx" | tee -a "$OUT/run.log"
date -u +"resuming background runs at %H:%M:%S" | tee -a "$OUT/run.log"
