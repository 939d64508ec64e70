#!/usr/bin/env bash
# Runs on the GPU machine from the repository root with .carry/ made by tools/device/prepare.sh
# (it also runs on a machine without a GPU, where every GPU test skips and the benchmark is skipped).
# Unpacks the carried .NET runtime, then writes under $OUT (at most 8 files, as the device tool returns):
#   summary.txt            what ran and each exit code
#   device.txt/.json       `sertool device` (GPU, driver, library paths and versions)
#   tests.log              every carried test project's run (verbose, skip reasons included)
#   test-results.tar.gz    xUnit XML results per project
#   frontend-bench.txt/.json  front-end throughput, CPU vs GPU, incl./excl. host<->device copies
# Exit code: 0 when every test project passed (skips are fine), 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."

CARRY=${CARRY:-.carry}
OUT=${OUT:-/tmp/out}
BENCH_HOURS=${BENCH_HOURS:-1}
mkdir -p "$OUT"
: > "$OUT/summary.txt"
note() { echo "$*" | tee -a "$OUT/summary.txt"; }

# 1. The .NET runtime (the GPU machine has none).
RT=${SER_DOTNET_DIR:-/tmp/ser-dotnet}
TARBALL=$(ls "$CARRY"/dotnet-runtime-*.tar.xz 2>/dev/null | head -n 1)
if [ -z "$TARBALL" ]; then note "no $CARRY/dotnet-runtime-*.tar.xz: run tools/device/prepare.sh first"; exit 1; fi
if [ ! -x "$RT/dotnet" ] || [ "$TARBALL" -nt "$RT/dotnet" ]; then
    rm -rf "$RT" && mkdir -p "$RT" && tar -C "$RT" -xJf "$TARBALL" && touch "$RT/dotnet"
fi
export DOTNET_ROOT="$RT" DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
DOTNET="$RT/dotnet"
note "runtime: $("$DOTNET" --list-runtimes | tr '\n' ' ')"

# 2. Where the CUDA libraries are: /usr/local/cuda is searched by Ser itself; pip wheels (cuDNN)
#    live in the site-packages of the python that holds PyTorch.
if [ -z "${SER_PYTHON_SITE:-}" ] && command -v python3 >/dev/null; then
    SER_PYTHON_SITE=$(python3 -c 'import site; print(":".join(site.getsitepackages()))' 2>/dev/null || true)
fi
export SER_PYTHON_SITE=${SER_PYTHON_SITE:-}
export SER_KERNEL_CACHE=${SER_KERNEL_CACHE:-/tmp/ser-kernels}
note "SER_PYTHON_SITE=$SER_PYTHON_SITE SER_CUDA_LIB_DIR=${SER_CUDA_LIB_DIR:-} SER_KERNEL_CACHE=$SER_KERNEL_CACHE"
sertool() { "$DOTNET" "$CARRY/sertool/sertool.dll" "$@"; }

# 3. The device report, with what the machine itself says.
{
    echo "== nvidia-smi -L"; if command -v nvidia-smi >/dev/null; then nvidia-smi -L; else echo "nvidia-smi not available"; fi
    echo "== CUDA libraries in /usr/local/cuda/lib64"; (ls /usr/local/cuda/lib64 2>/dev/null | grep -E '^lib(nvrtc|cublas|cufft|cudnn)' || echo none)
    echo "== sertool device"; sertool device; echo "exit code $?"
} > "$OUT/device.txt" 2>&1
sertool device --json > "$OUT/device.json" 2>&1
note "sertool device: see device.txt ($(grep -m1 -E '^GPU|│ 0 ' "$OUT/device.txt" | tr -s ' ' | cut -c1-120))"

# 4. Every carried test project (its own xUnit runner, on the carried runtime).
status=0
: > "$OUT/tests.log"
RESULTS=$(mktemp -d)
for dir in "$CARRY"/tests/*/; do
    name=$(basename "$dir")
    echo "== $name" >> "$OUT/tests.log"
    "$DOTNET" "$dir/$name.dll" -noColor -reporter verbose -xml "$RESULTS/$name.xml" >> "$OUT/tests.log" 2>&1
    rc=$?
    summary=$(grep -A1 'TEST EXECUTION SUMMARY' "$OUT/tests.log" | tail -n 1 | tr -s ' ')
    note "$name: exit code $rc;$summary"
    [ $rc -eq 0 ] || status=1
done
tar -C "$RESULTS" -czf "$OUT/test-results.tar.gz" . && rm -rf "$RESULTS"

# 5. The front-end benchmark, where there is a GPU.
if sertool device --require-gpu > /dev/null 2>&1; then
    sertool frontend-bench --device both --hours "$BENCH_HOURS" --json "$OUT/frontend-bench.json" > "$OUT/frontend-bench.txt" 2>&1
    note "frontend-bench: exit code $? (frontend-bench.txt)"
    cat "$OUT/frontend-bench.txt"
else
    echo "skipped: no GPU with every CUDA library (see device.txt)" > "$OUT/frontend-bench.txt"
    note "frontend-bench: skipped, no complete GPU setup"
fi

note "done: $( [ $status -eq 0 ] && echo 'all test projects passed' || echo 'some test project FAILED' )"
exit $status
