#!/bin/sh
# In-memory features vs the feature store (float32 and float16) on the quick start's corpus: store sizes, epoch times
# side by side (the three kinds of run alternate, so a drift in machine load hits all three alike) and WA/UA.
# Output: build-*.log, info.log, train-{memory,f32,f16}-{ROUND}.log in this folder. Rounds FIRST..LAST (default 1..3;
# the committed results: 1..3, then FIRST=4 LAST=5 because round 2's in-memory run overlapped the end of large.sh).
set -e
SERTOOL=${SERTOOL:-src/Ser.Tool/bin/Release/net10.0/sertool}
STORE=${STORE:-/tmp/ser-fs-bench/store2280}
OUT=bench/results/feature-store
CORPUS=synthetic:utterances=2280
FIRST=${FIRST:-1}
LAST=${LAST:-3}
if [ "$FIRST" = 1 ]; then
$SERTOOL features build --corpus $CORPUS --feature-cache $STORE --feature-precision float32 > $OUT/build-f32.log 2>&1
$SERTOOL features build --corpus $CORPUS --feature-cache $STORE --feature-precision float16 > $OUT/build-f16.log 2>&1
$SERTOOL features info --feature-cache $STORE > $OUT/info.log 2>&1
fi
for i in $(seq $FIRST $LAST); do
  for kind in memory f32 f16; do
    case $kind in
      memory) opt="--feature-cache off" ;;
      f32) opt="--feature-cache $STORE --feature-precision float32" ;;
      f16) opt="--feature-cache $STORE --feature-precision float16" ;;
    esac
    rm -rf /tmp/ser-fs-bench/run-$kind-$i
    $SERTOOL train --corpus $CORPUS --epochs 3 --folds 1 --device cpu $opt --out /tmp/ser-fs-bench/run-$kind-$i \
      > $OUT/train-$kind-$i.log 2>&1
  done
done
