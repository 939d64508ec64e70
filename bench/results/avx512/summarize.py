#!/usr/bin/env python3
"""Summarises run.sh's bench JSON: medians over every timed run of both rounds, per configuration and thread count.
   python3 bench/results/avx512/summarize.py bench/results/avx512 > bench/results/avx512/summary.md
   python3 bench/results/avx512/summarize.py DIR "old (08793d2, Vector256)"   (another run.sh's folder and its old build)"""
import glob, json, os, statistics, sys

d = sys.argv[1]
runs = {}  # (config, threads, batch, pass) -> [seconds]
peak = json.load(open(os.path.join(d, "peak.json")))["roofline"]
for path in sorted(glob.glob(os.path.join(d, "*-t[12]-r[12].json"))):
    name = os.path.basename(path)
    config = name.rsplit("-t", 1)[0]
    doc = json.load(open(path))
    for r in doc["results"]:
        for p in ("forward", "train_step"):
            runs.setdefault((config, doc["threads"], r["batch"], p), []).extend(r[p]["variable_seconds_runs"])

def med(c, t, b, p):
    v = runs.get((c, t, b, p))
    return statistics.median(v) if v else float("nan")

old_label = sys.argv[2] if len(sys.argv) > 2 else "old (1465814, Vector256)"
configs = [("old", old_label), ("new-avx512", "new, Vector512"), ("new-avx2", "new, Vector256 forced")]
steady = any(c == "old-steady" for c, *_ in runs)   # run.sh's old build with DOTNET_TC_QuickJitForLoops=0 (kernels vs kernels)
if steady:
    configs.insert(1, ("old-steady", old_label + ", loops jitted optimised"))
print(f"roofline (`sertool bench --peak`): FMA peak per core {peak['fma_gflops_per_core']['vector256']:.1f} GFLOP/s (Vector256), "
      f"{peak['fma_gflops_per_core']['vector512']:.1f} (Vector512); memory {peak['memory_read_gb_per_s']:.1f} GB/s read, "
      f"{peak['memory_triad_gb_per_s']:.1f} triad\n")
print("Medians of every timed run (2 rounds x --paper-repeats 2), seconds; ratio = old / new (> 1: new is faster).\n")
for b, p, label in [(8, "train_step", "training step, B=8"), (1, "forward", "forward, batch 1"), (1, "train_step", "training step, B=1"), (8, "forward", "forward, B=8")]:
    print(f"### paper {label}\n")
    extra = " old-steady/new 1t | old-steady/new 2t |" if steady else ""
    print("| kernels | 1 thread s | 2 threads s | old/new 1t | old/new 2t |" + extra + " 2t speed-up |")
    print("|---|---:|---:|---:|---:|" + ("---:|---:|" if steady else "") + "---:|")
    for c, cl in configs:
        t1, t2 = med(c, 1, b, p), med(c, 2, b, p)
        o1, o2 = med("old", 1, b, p), med("old", 2, b, p)
        s1, s2 = med("old-steady", 1, b, p), med("old-steady", 2, b, p)
        cols = f" {s1 / t1:.2f} | {s2 / t2:.2f} |" if steady else ""
        print(f"| {cl} | {t1:.4f} | {t2:.4f} | {o1 / t1:.2f} | {o2 / t2:.2f} |{cols} {t1 / t2:.2f} |")
    print()
arena = {}  # config -> arena bytes of the B=8 training executor (the same in every run)
for path in sorted(glob.glob(os.path.join(d, "*-t1-r1.json"))):
    for r in json.load(open(path))["results"]:
        if r["batch"] == 8:
            arena[os.path.basename(path).rsplit("-t", 1)[0]] = r["arena_bytes"]
if arena:
    print("### arena bytes, paper training executor, B=8 (the batch set's longest utterance)\n")
    print("| kernels | MB |")
    print("|---|---:|")
    for c, cl in configs:
        if c in arena:
            print(f"| {cl} | {arena[c] / 1e6:.0f} |")
