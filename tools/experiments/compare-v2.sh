#!/usr/bin/env bash
# The comparisons of issue 19 over the runs of variable-vs-fixed-v2.sh finished so far: variable vs fixed pieces,
# variable vs fixed equal (default corpus), variable vs fixed pieces on the span=1 control corpus, and the ablation
# without the 1/length loss weight (seed 1). Seeds are paired;
# a seed is used only when both sides' runs are finished (a run in progress would shrink the comparison to the few
# speakers it has tested, since the speakers compared are those every seed pair tested). Writes OUT_ROOT/compare-<name>.md (and .json, and .png: per-speaker differences).
# Usage: tools/experiments/compare-v2.sh SERTOOL OUT_ROOT   (SERTOOL: a sertool binary or "dotnet path/sertool.dll")
set -uo pipefail
sertool=${1:?sertool command}; root=${2:?run root (bench/results/variable-vs-fixed-v2)}
finished() { [[ -f "$root/$1/report.json" ]]; }
compare() {   # NAME PREFIX_A PREFIX_B SEEDS...
  local name=$1 a=$2 b=$3; shift 3
  local sa=() sb=()
  for seed in "$@"; do
    if finished "$a-s$seed" && finished "$b-s$seed"; then sa+=("$root/$a-s$seed"); sb+=("$root/$b-s$seed"); fi
  done
  if [[ ${#sa[@]} -eq 0 ]]; then echo "$name: no seed with finished runs on both sides yet"; return; fi
  local A B; A=$(IFS=,; echo "${sa[*]}"); B=$(IFS=,; echo "${sb[*]}")
  $sertool compare "$A" "$B" --names "$a,$b" --out "$root/compare-$name.md" --plot "$root/compare-$name.png" > /dev/null &&
    $sertool compare "$A" "$B" --names "$a,$b" --json > "$root/compare-$name.json" &&
    echo "$name: ${#sa[@]} seed pair(s) -> $root/compare-$name.md"
}
compare variable-vs-fixed-pieces variable fixed-pieces 1 2 3
compare variable-vs-fixed-equal variable fixed-equal 1 2 3
compare span1-variable-vs-fixed-pieces span1-variable span1-fixed-pieces 1 2
compare nolength-variable-vs-fixed-pieces nolength-variable nolength-fixed-pieces 1
