#!/usr/bin/env bash
# Benchmark of the inference doors (issue 13): ser_classify vs the engine's own path, the stream's real-time factor,
# end-of-segment latency and managed bytes per push, and bulk `predict --manifest` throughput.
#   bench/libser/run.sh [REPS]        # writes bench/results/libser-<host>-<date>.txt
# One thread per call everywhere. Run it on a quiet machine: on a shared one the numbers are upper bounds.
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=${1:-5}
out=out/libser-bench
mkdir -p "$out" bench/results
dotnet publish src/Ser.Abi -c Release -r linux-x64 -o artifacts/libser -nologo >/dev/null
dotnet build tools/LibserBench -c Release -nologo >/dev/null
dotnet build src/Ser.Tool -c Release -nologo >/dev/null
gcc -std=c99 -O2 -I src/Ser.Abi bench/libser/ser_bench.c -L artifacts/libser -lser -Wl,-rpath,"$PWD/artifacts/libser" -lm -o "$out/ser_bench"
result="bench/results/libser-$(hostname)-$(date +%Y%m%d-%H%M).txt"
{
  echo "# $(date -u +%FT%TZ) $(uname -m) $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "# commit $(git rev-parse --short HEAD); reps $reps; one thread per call"
  dotnet tools/LibserBench/bin/Release/net10.0/LibserBench.dll "$out" "$reps"
  for preset in small paper; do "$out/ser_bench" "$out/$preset.ser" "$preset" "$reps"; done
  # bulk: 1000 synthetic utterances (median 3.5 s) through predict --manifest, small model, all cores
  sertool="dotnet src/Ser.Tool/bin/Release/net10.0/sertool.dll"
  [ -f "$out/bulk/manifest.csv" ] || $sertool corpus synth --out "$out/bulk" --utterances 1000 >/dev/null
  rm -f "$out/preds.jsonl"
  $sertool predict --model "$out/small.ser" --manifest "$out/bulk/manifest.csv" --out "$out/preds.jsonl" 2>&1 | tail -n 1 | sed 's/^/bulk small /'
  # timeline on a 10-minute recording (LibserBench wrote long.wav): wall time and peak memory
  /usr/bin/time -f "timeline small 600s wall_s %e max_rss_kb %M" $sertool timeline --model "$out/small.ser" "$out/long.wav" --json 2>&1 >/dev/null | tail -n 1
} | tee "$result"
echo "wrote $result"
