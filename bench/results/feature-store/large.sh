#!/bin/sh
# Peak memory of training on a corpus larger than RAM's share for features: 45000 synthetic utterances (~50 h of audio),
# float16 store, one fold, one epoch. Output: large.log (sertool's log) and large.time (/usr/bin/time -v).
set -e
SERTOOL=${SERTOOL:-src/Ser.Tool/bin/Release/net10.0/sertool}
STORE=${STORE:-/tmp/ser-fs-bench/store}
OUT=bench/results/feature-store
rm -rf /tmp/ser-fs-bench/large-run
/usr/bin/time -v -o $OUT/large.time $SERTOOL train --corpus synthetic:utterances=45000 --epochs 1 --folds 1 \
  --feature-cache $STORE --feature-precision float16 --device cpu --out /tmp/ser-fs-bench/large-run > $OUT/large.log 2>&1
$SERTOOL features info --feature-cache $STORE >> $OUT/large.log
