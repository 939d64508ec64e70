#!/usr/bin/env bash
# The runs of the variable-vs-fixed comparison (issue 19), one after another, each resumable:
#   3 seeds x (variable, fixed pieces, fixed equal) on the default corpus,
#   2 seeds x (variable, fixed pieces) on the control corpus (span=1: emotion throughout each emotional utterance),
#   1 seed x (variable, fixed pieces) without the 1/length loss weight (the ablation).
# Usage: tools/experiments/variable-vs-fixed-v2.sh SERTOOL OUT_ROOT   (SERTOOL: a sertool binary or "dotnet path/sertool.dll")
# A run folder that holds a state.json is continued with --resume; one that holds report.json is finished and skipped. So
# the script can be killed at any time and started again, in this session or a later one on another machine.
# A finished run keeps its reports, state.json, plots and model.ser; its per-fold checkpoints (best.ser, best-reverse.ser,
# last.ser: 11 MB a run, needed only to resume or to build model.ser) are deleted, so that the committed results stay
# small enough to travel with the working tree to the GPU machine (64 MiB in all, tools/device/prepare.sh).
set -uo pipefail
sertool=${1:?sertool command}; root=${2:?output root}
mkdir -p "$root"
prune() { rm -f "$1"/fold*/last.ser "$1"/fold*/best.ser "$1"/fold*/best-reverse.ser; rmdir "$1"/fold* 2>/dev/null; true; }
run() {
  local name=$1; shift
  local out="$root/$name" rc
  if [[ -f "$out/report.json" ]]; then prune "$out"; return; fi
  if [[ -f "$out/state.json" ]]; then $sertool train --resume --out "$out" > "$out.log.resume" 2>&1; rc=$?; cat "$out.log.resume" >> "$out.log"
  else $sertool train --folds all --out "$out" "$@" > "$out.log" 2>&1; rc=$?; fi
  echo "$(date -u +%FT%TZ) $name exit $rc" >> "$root/progress.txt"
  if [[ $rc -eq 0 && -f "$out/report.json" ]]; then prune "$out"; fi
}
for seed in 1 2 3; do
  run "variable-s$seed"      --mode variable --seed "$seed"
  run "fixed-pieces-s$seed"  --mode fixed --split pieces --seed "$seed"
  run "fixed-equal-s$seed"   --mode fixed --split equal --seed "$seed"
done
for seed in 1 2; do
  run "span1-variable-s$seed"     --corpus synthetic:utterances=2280,span=1 --mode variable --seed "$seed"
  run "span1-fixed-pieces-s$seed" --corpus synthetic:utterances=2280,span=1 --mode fixed --split pieces --seed "$seed"
done
run "nolength-variable-s1"     --length-weight off --mode variable --seed 1
run "nolength-fixed-pieces-s1" --length-weight off --mode fixed --split pieces --seed 1
