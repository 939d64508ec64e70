#!/usr/bin/env bash
# Runs on the GPU machine from the repository root with .carry/ made by tools/device/prepare.sh
# (it also runs on a machine without a GPU, where every GPU test skips and the benchmarks are skipped).
# Unpacks the carried .NET runtime, then writes under $OUT (the device tool returns at most 8 files):
#   summary.txt            what ran and each exit code, plus the benchmark tables
#   device.txt             nvidia-smi, CUDA libraries, `sertool device`
#   tests.log              every carried test project's run (verbose, skip reasons included)
#   test-results.tar.gz    xUnit XML results per project
#   bench.txt              every benchmark's console output
#   bench-results.tar.gz   the benchmarks' JSON: frontend-bench, gpu-bench (per step), gpu-profile-paper (per layer),
#                          gpu-epoch-bench, pytorch-cuda (PyTorch on gpu-bench's batches), device.json
# Benchmarks (GPU only): the front end (CPU vs GPU), `sertool bench --device cuda` (paper, per training step and
# forward, variable-length vs padded), PyTorch eager on the same batches (the ratio, where python3 has torch), `sertool profile --device cuda` (paper, per-layer device time) and the epoch benchmark (paper, 2,280 synthetic IEMOCAP-like utterances resident
# on the GPU, batch sizes 16/32/64: time per epoch, audio-seconds per second, peak memory).
# Each part runs under a timeout so the whole script ends well inside the device tool's 10-minute limit.
# Exit code: 0 when every test project passed (skips are fine), 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."

CARRY=${CARRY:-.carry}
OUT=${OUT:-/tmp/out}
BENCH_HOURS=${BENCH_HOURS:-1}
BATCH_SIZES=${BATCH_SIZES:-16,32,64}
EPOCHS=${EPOCHS:-3}
mkdir -p "$OUT"
WORK=$(mktemp -d)
: > "$OUT/summary.txt"
: > "$OUT/bench.txt"
note() { echo "$*" | tee -a "$OUT/summary.txt"; }
# One deadline for the whole script (default 540 s, inside the device tool's 600 s per command): each part's timeout is
# its own limit or what is left, whichever is smaller, so the parts' worst cases cannot add up past the deadline.
DEADLINE=$((SECONDS + ${DEVICE_BUDGET_S:-540}))
limit() { local left=$((DEADLINE - SECONDS - 5)); (( left < 1 )) && left=1; echo $(( $1 < left ? $1 : left )); }

# 1. The .NET runtime (the GPU machine has none).
RT=${SER_DOTNET_DIR:-/tmp/ser-dotnet}
TARBALL=$(ls "$CARRY"/dotnet-runtime-*.tar.xz 2>/dev/null | head -n 1)
if [ -z "$TARBALL" ]; then note "no $CARRY/dotnet-runtime-*.tar.xz: run tools/device/prepare.sh first"; exit 1; fi
if [ ! -x "$RT/dotnet" ] || [ "$TARBALL" -nt "$RT/dotnet" ]; then
    rm -rf "$RT" && mkdir -p "$RT" && tar -C "$RT" -xJf "$TARBALL" && touch "$RT/dotnet"
fi
export DOTNET_ROOT="$RT" DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
export SER_COMMIT=$(cat "$CARRY/commit.txt" 2>/dev/null || echo unknown)
note "commit: $SER_COMMIT"
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
# The carried builds (tests/<Project>/, sertool/), unpacked beside the runtime.
BUILDS=${SER_BUILDS_DIR:-/tmp/ser-builds}
if [ ! -s "$CARRY/builds.tar.xz" ]; then note "no $CARRY/builds.tar.xz: run tools/device/prepare.sh first"; exit 1; fi
rm -rf "$BUILDS" && mkdir -p "$BUILDS" && tar -C "$BUILDS" -xJf "$CARRY/builds.tar.xz"
sertool() { "$DOTNET" "$BUILDS/sertool/sertool.dll" "$@"; }

# 3. The device report, with what the machine itself says.
{
    echo "== nvidia-smi"; if command -v nvidia-smi >/dev/null; then nvidia-smi; else echo "nvidia-smi not available"; fi
    echo "== CUDA libraries in /usr/local/cuda/lib64"; (ls /usr/local/cuda/lib64 2>/dev/null | grep -E '^lib(nvrtc|cublas|cufft|cudnn)' || echo none)
    echo "== sertool device"; sertool device; echo "exit code $?"
} > "$OUT/device.txt" 2>&1
sertool device --json > "$WORK/device.json" 2>&1
note "sertool device: see device.txt ($(grep -m1 -E '^GPU|│ 0 ' "$OUT/device.txt" | tr -s ' ' | cut -c1-120))"

# 4. Our NVRTC kernel sources compile with the machine's NVRTC (a fast, explicit check before the tests use them).
NVRTC=$(ls /usr/local/cuda/lib64/libnvrtc.so.1[0-9]* 2>/dev/null | head -n 1)
if [ -n "$NVRTC" ] && command -v python3 >/dev/null; then
    LD_LIBRARY_PATH="$(dirname "$NVRTC"):${LD_LIBRARY_PATH:-}" timeout $(limit 120) python3 tools/device/check-kernels.py "$NVRTC" >> "$OUT/tests.log" 2>&1
    note "kernel sources (check-kernels.py, $NVRTC): exit code $?"
fi

# 5. Every carried test project (its own xUnit runner, on the carried runtime). The GPU tests of
#    Ser.Native.Tests (bindings) and of Ser.Engine.Tests (namespace Ser.Engine.Tests.Cuda: the CUDA backend)
#    run here.
#    Ser.Engine.Tests runs only its GPU namespace by default (CI runs the rest); ENGINE_TESTS=all runs everything.
status=0
: >> "$OUT/tests.log"
for dir in "$BUILDS"/tests/*/; do
    name=$(basename "$dir")
    filter=()
    if [ "$name" = Ser.Engine.Tests ] && [ "${ENGINE_TESTS:-gpu}" != all ]; then filter=(-namespace Ser.Engine.Tests.Cuda); fi
    echo "== $name ${filter[*]}" >> "$OUT/tests.log"
    timeout $(limit 240) "$DOTNET" "$dir/$name.dll" -noColor -reporter verbose "${filter[@]}" -xml "$WORK/$name.xml" >> "$OUT/tests.log" 2>&1
    rc=$?
    summary=$(grep -A1 'TEST EXECUTION SUMMARY' "$OUT/tests.log" | tail -n 1 | tr -s ' ')
    note "$name: exit code $rc;$summary"
    [ $rc -eq 0 ] || status=1
done
(cd "$WORK" && ls *.xml >/dev/null 2>&1 && tar -czf "$OUT/test-results.tar.gz" *.xml)

# 6. Benchmarks, where there is a GPU with every library.
if sertool device --require-gpu > /dev/null 2>&1; then
    {
        echo "== sertool frontend-bench --device both --hours $BENCH_HOURS"
        timeout $(limit 90) "$DOTNET" "$BUILDS/sertool/sertool.dll" frontend-bench --device both --hours "$BENCH_HOURS" --json "$WORK/frontend-bench.json"
        echo "exit code $?"
        echo "== sertool bench --device cuda --preset paper --batch-sizes $BATCH_SIZES (one batch per size, per step)"
        timeout $(limit 150) "$DOTNET" "$BUILDS/sertool/sertool.dll" bench --device cuda --preset paper --batch-sizes "$BATCH_SIZES" \
            --repeats 5 --paper-repeats 5 --out "$WORK/gpu-bench.json"
        echo "exit code $?"
        if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
            echo "== PyTorch (tools/pytorch/ser_reference.py) on the same batches as the bench above, then the ratio"
            timeout $(limit 120) python3 tools/pytorch/ser_reference.py bench --device cuda --preset paper --batches "$WORK/gpu-bench.json" \
                --warmup 2 --repeats 5 --out "$WORK/pytorch-cuda"
            echo "exit code $?"
            python3 tools/device/engine-vs-pytorch.py "$WORK/gpu-bench.json" "$WORK/pytorch-cuda.json" | tee "$WORK/engine-vs-pytorch.md"
        else
            echo "== PyTorch: skipped (python3 has no torch with CUDA)"
        fi
        echo "== sertool profile --device cuda --preset paper --batch 32 (per-layer device time from CUDA events)"
        timeout $(limit 60) "$DOTNET" "$BUILDS/sertool/sertool.dll" profile --device cuda --preset paper --batch 32 --repeats 5 \
            --out "$WORK/gpu-profile-paper.json"
        echo "exit code $?"
        echo "== sertool bench --device cuda --epochs $EPOCHS (paper, 2,280 synthetic utterances resident on the GPU, batch sizes $BATCH_SIZES)"
        timeout $(limit 200) "$DOTNET" "$BUILDS/sertool/sertool.dll" bench --device cuda --preset paper --epochs "$EPOCHS" \
            --batch-sizes "$BATCH_SIZES" --out "$WORK/gpu-epoch-bench.json" | tee "$WORK/gpu-epoch-bench.txt"
        echo "exit code $?"
    } >> "$OUT/bench.txt" 2>&1
    note "benchmarks: see bench.txt"
    grep -E '^(paper|small) B=|epoch benchmark|audio-s/s' "$WORK/gpu-epoch-bench.txt" 2>/dev/null | tee -a "$OUT/summary.txt"
else
    echo "skipped: no GPU with every CUDA library (see device.txt)" > "$OUT/bench.txt"
    note "benchmarks: skipped, no complete GPU setup"
fi
cat "$WORK/engine-vs-pytorch.md" >> "$OUT/summary.txt" 2>/dev/null
(cd "$WORK" && tar -czf "$OUT/bench-results.tar.gz" $(ls *.json *.md 2>/dev/null))
rm -rf "$WORK"

note "done: $( [ $status -eq 0 ] && echo 'all test projects passed' || echo 'some test project FAILED' )"
exit $status
