#!/usr/bin/env python3
"""Joins `sertool bench --out E.json` and `ser_reference.py bench --batches E.json --out P` (the same batches: the
bench's length set, each batch its first B lengths) into one markdown table: median seconds per forward and per
training step on each side and the ratio PyTorch / engine (> 1: the engine is faster).
Usage: engine-vs-pytorch.py ENGINE.json PYTORCH.json [PRESET]   (PRESET default paper)"""
import json
import sys


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    engine, torch = (json.load(open(p)) for p in sys.argv[1:3])
    preset = sys.argv[3] if len(sys.argv) > 3 else "paper"
    torch_time = {(m["batch"], m["mode"]): m["median_seconds"] for m in torch["measurements"]}
    gpu = torch["machine"].get("gpu") or torch["machine"]["cpu"]
    print(f"engine: sertool bench at {engine.get('commit', '?')} on {engine.get('device', '?')}; "
          f"PyTorch: {torch['implementations'][next(iter(torch['implementations']))]['version']} on {gpu}\n")
    print("| B | frames | mode | engine s | PyTorch s | PyTorch / engine |")
    print("|---:|---:|---|---:|---:|---:|")
    for r in engine["results"]:
        if r["preset"] != preset:
            continue
        for mode in ("forward", "train_step"):
            e, t = r[mode]["variable_seconds"], torch_time.get((r["batch"], mode))
            ratio = f"{t / e:.2f}" if t else "–"
            print(f"| {r['batch']} | {r['frames']} | {mode} | {e:.4f} | {t or float('nan'):.4f} | {ratio} |")


if __name__ == "__main__":
    main()
