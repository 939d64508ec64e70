#!/bin/sh
# The second `sertool train` on the 45000-utterance corpus (after large.sh): it reuses the float16 store (every block's
# checksum is verified) instead of computing spectrograms, and trains the same epoch again. Output: large-reuse.log.
# (The committed log came from a version of this script meant to stop the run with SIGINT once training began; a
# background job of a non-interactive sh ignores SIGINT, so the run went to the end, as this version does.)
SERTOOL=${SERTOOL:-src/Ser.Tool/bin/Release/net10.0/sertool}
STORE=${STORE:-/tmp/ser-fs-bench/store}
OUT=bench/results/feature-store
rm -rf /tmp/ser-fs-bench/large-reuse
$SERTOOL train --corpus synthetic:utterances=45000 --epochs 1 --folds 1 --feature-cache $STORE --feature-precision float16 \
  --device cpu --out /tmp/ser-fs-bench/large-reuse > $OUT/large-reuse.log 2>&1
echo "exit $?" >> $OUT/large-reuse.log
