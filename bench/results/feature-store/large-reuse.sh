#!/bin/sh
# The second start on the 45000-utterance corpus (after large.sh): train reuses the float16 store (every block's checksum
# is verified) instead of computing spectrograms; stopped with Ctrl-C (SIGINT) once training has begun. Output: large-reuse.log.
SERTOOL=${SERTOOL:-src/Ser.Tool/bin/Release/net10.0/sertool}
STORE=${STORE:-/tmp/ser-fs-bench/store}
OUT=bench/results/feature-store
rm -rf /tmp/ser-fs-bench/large-reuse
$SERTOOL train --corpus synthetic:utterances=45000 --epochs 1 --folds 1 --feature-cache $STORE --feature-precision float16 \
  --device cpu --out /tmp/ser-fs-bench/large-reuse > $OUT/large-reuse.log 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null && ! grep -q '^fold 1 (1 of 1)' $OUT/large-reuse.log; do sleep 1; done
kill -INT $pid 2>/dev/null
wait $pid
echo "exit $?" >> $OUT/large-reuse.log
