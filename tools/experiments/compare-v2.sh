#!/usr/bin/env bash
# The comparisons of issue 19 over whatever runs of variable-vs-fixed-v2.sh exist so far (runs still in progress count
# with their finished folds, and `sertool compare` says how many): variable vs fixed pieces, variable vs fixed equal
# (default corpus), and variable vs fixed pieces on the span=1 control corpus. Seeds are paired; a seed is used only
# when both sides have a finished fold. Writes OUT_ROOT/compare-<name>.md (and .json, and .png: per-speaker differences).
# Usage: tools/experiments/compare-v2.sh SERTOOL OUT_ROOT   (SERTOOL: a sertool binary or "dotnet path/sertool.dll")
set -uo pipefail
sertool=${1:?sertool command}; root=${2:?run root (bench/results/variable-vs-fixed-v2)}
started() { [[ -f "$root/$1/state.json" ]] && grep -q '"fold"' "$root/$1/state.json"; }
compare() {   # NAME PREFIX_A PREFIX_B SEEDS...
  local name=$1 a=$2 b=$3; shift 3
  local sa=() sb=()
  for seed in "$@"; do
    if started "$a-s$seed" && started "$b-s$seed"; then sa+=("$root/$a-s$seed"); sb+=("$root/$b-s$seed"); fi
  done
  if [[ ${#sa[@]} -eq 0 ]]; then echo "$name: no seed with finished folds on both sides yet"; return; fi
  local A B; A=$(IFS=,; echo "${sa[*]}"); B=$(IFS=,; echo "${sb[*]}")
  $sertool compare "$A" "$B" --names "$a,$b" --out "$root/compare-$name.md" --plot "$root/compare-$name.png" > /dev/null &&
    $sertool compare "$A" "$B" --names "$a,$b" --json > "$root/compare-$name.json" &&
    echo "$name: ${#sa[@]} seed pair(s) -> $root/compare-$name.md"
}
compare variable-vs-fixed-pieces variable fixed-pieces 1 2 3
compare variable-vs-fixed-equal variable fixed-equal 1 2 3
compare span1-variable-vs-fixed-pieces span1-variable span1-fixed-pieces 1 2
