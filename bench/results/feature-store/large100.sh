#!/bin/sh
# Issue 18's 100-hour check: 90000 synthetic utterances (~100 h of audio), float16 store (~26 GB, more than this
# machine's 24 GB of RAM), one fold, one epoch. Output: large100.log (sertool's log) and large100.time (/usr/bin/time -v).
set -e
SERTOOL=${SERTOOL:-src/Ser.Tool/bin/Release/net10.0/sertool}
STORE=${STORE:-/tmp/ser-fs100/store}
OUT=bench/results/feature-store
rm -rf /tmp/ser-fs100/run
/usr/bin/time -v -o $OUT/large100.time $SERTOOL train --corpus synthetic:utterances=90000 --epochs 1 --folds 1 \
  --feature-cache $STORE --feature-precision float16 --device cpu --out /tmp/ser-fs100/run > $OUT/large100.log 2>&1
$SERTOOL features info --feature-cache $STORE >> $OUT/large100.log
