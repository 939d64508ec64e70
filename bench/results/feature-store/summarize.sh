#!/bin/sh
# Epoch seconds (training + scoring both held-out speakers) of each train-*.log, per round, the store/in-memory ratios
# of each round (the runs of a round ran one after another), and each run's test WA/UA and memory line.
cd "$(dirname "$0")"
for f in train-*.log; do
  [ -f "$f" ] || continue
  secs=$(grep -E '^fold 1 epoch' "$f" | sed -E 's/.*\| ([0-9.]+) s.*/\1/' | tr '\n' ' ')
  test=$(grep -E '^fold 1 test' "$f" | sed -E 's/.*: (WA [0-9.]+% UA [0-9.]+%).*/\1/')
  mem=$(grep -E '^memory:' "$f" | sed -E 's/memory: peak RssAnon ([0-9.]+ GB).*/RssAnon \1/')
  echo "$f: epochs [$secs] test $test $mem"
done
echo "ratios of summed epoch seconds, per round (store / in memory):"
for i in 1 2 3 4 5; do
  [ -f train-memory-$i.log ] || continue
  m=$(grep -E '^fold 1 epoch' train-memory-$i.log | sed -E 's/.*\| ([0-9.]+) s.*/\1/' | awk '{s+=$1} END {print s}')
  for k in f32 f16; do
    [ -f train-$k-$i.log ] || continue
    s=$(grep -E '^fold 1 epoch' train-$k-$i.log | sed -E 's/.*\| ([0-9.]+) s.*/\1/' | awk '{s+=$1} END {print s}')
    [ -n "$s" ] && echo "round $i: $k / memory = $(echo "$s $m" | awk '{printf "%.3f", $1/$2}')"
  done
done
