#!/usr/bin/env bash
# The runs of the variable-vs-fixed comparison (issue 19), one after another, each resumable:
#   3 seeds x (variable, fixed pieces, fixed equal) on the default corpus,
#   2 seeds x (variable, fixed pieces) on the control corpus (span=1: emotion throughout each emotional utterance).
# Usage: tools/experiments/variable-vs-fixed-v2.sh SERTOOL OUT_ROOT   (SERTOOL: a sertool binary or "dotnet path/sertool.dll")
# A run folder that holds a state.json is continued with --resume (a finished run only rewrites its report); so the
# script can be killed at any time and started again, in this session or a later one on another machine.
set -uo pipefail
sertool=${1:?sertool command}; root=${2:?output root}
mkdir -p "$root"
run() {
  local name=$1; shift
  local out="$root/$name"
  if [[ -f "$out/state.json" ]]; then $sertool train --resume --out "$out" > "$out.log.resume" 2>&1 && cat "$out.log.resume" >> "$out.log"
  else $sertool train --folds all --out "$out" "$@" > "$out.log" 2>&1; fi
  echo "$(date -u +%FT%TZ) $name exit $?" >> "$root/progress.txt"
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
