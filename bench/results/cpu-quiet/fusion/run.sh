#!/usr/bin/env bash
# Fused conv blocks vs the separate layers (the build of e5fc6f4, just before the fusion), side by side: paper preset,
# sertool bench B=8 and B=1, 1 and 2 threads, three alternating rounds; background training runs paused meanwhile.
#   bench/results/cpu-quiet/fusion/run.sh BEFORE_SERTOOL AFTER_SERTOOL OUTDIR
set -euo pipefail
BEFORE=$1 AFTER=$2 OUT=$3
mkdir -p "$OUT"
( sleep 600; pkill -CONT -f "sertool train" ) & WATCHDOG=$!
trap 'pkill -CONT -f "sertool train" || true; kill $WATCHDOG 2>/dev/null || true' EXIT
pkill -STOP -f "sertool train" || true
cat /proc/loadavg | tee "$OUT/run.log"
for round in 1 2 3; do
  for threads in 1 2; do
    for side in before after; do
      bin=$BEFORE; [ $side = after ] && bin=$AFTER
      "$bin" bench --no-roofline --preset paper --batch-sizes 1,8 --threads $threads --paper-repeats 2 --out "$OUT/$side-t$threads-r$round.json" > /dev/null
    done
  done
done
cat /proc/loadavg | tee -a "$OUT/run.log"
python3 - "$OUT" <<'PY' | tee "$OUT/summary.md"
import glob, json, os, statistics, sys
d = sys.argv[1]; runs = {}; arena = {}
for path in glob.glob(os.path.join(d, "*-t[12]-r[123].json")):
    side = os.path.basename(path).split("-t")[0]; doc = json.load(open(path))
    for r in doc["results"]:
        arena[(side, r["batch"])] = r["arena_bytes"]
        for p in ("forward", "train_step"):
            runs.setdefault((side, doc["threads"], r["batch"], p), []).extend(r[p]["variable_seconds_runs"])
print("Medians of every timed run (3 rounds x 2), seconds; ratio = before / after (> 1: the fused build is faster).\n")
print("| case | threads | before (e5fc6f4) s | after (fused) s | before / after | arena MB before -> after |")
print("|---|---:|---:|---:|---:|---:|")
for b, p in ((8, "train_step"), (1, "train_step"), (8, "forward"), (1, "forward")):
    for t in (1, 2):
        x, y = statistics.median(runs[("before", t, b, p)]), statistics.median(runs[("after", t, b, p)])
        print(f"| paper {p} B={b} | {t} | {x:.4f} | {y:.4f} | {x / y:.2f} | {arena[('before', b)] / 1e6:.0f} -> {arena[('after', b)] / 1e6:.0f} |")
PY
