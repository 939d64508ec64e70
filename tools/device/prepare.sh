#!/usr/bin/env bash
# Prepares what the GPU machine needs (it has no .NET and no internet) into .carry/, which git ignores:
#   .carry/dotnet-runtime-<ver>.tar.xz   this machine's .NET runtime (dotnet host + Microsoft.NETCore.App)
#   .carry/tests/<Project>/               framework-dependent builds of the GPU test projects
#   .carry/sertool/                       framework-dependent build of sertool (device report, front-end bench)
# Usage: tools/device/prepare.sh [test project dirs...]   (default: tests/Ser.Native.Tests tests/Ser.Engine.Tests)
# Then run on the GPU machine with carry [".carry"]: bash tools/device/run-gpu.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

CARRY=.carry
CONFIG=${CONFIG:-Release}
LIMIT_MIB=${LIMIT_MIB:-60}   # the device tool carries at most 64 MiB with the working tree
if [ $# -gt 0 ]; then PROJECTS=("$@"); else PROJECTS=(tests/Ser.Native.Tests tests/Ser.Engine.Tests); fi
mkdir -p "$CARRY"
# The GPU machine gets no .git: record the commit the carried builds come from (result files cite it).
git rev-parse HEAD > "$CARRY/commit.txt" 2>/dev/null || echo unknown > "$CARRY/commit.txt"

# 1. The .NET runtime, packed once per runtime version.
DOTNET_HOME=$(dirname "$(readlink -f "$(command -v dotnet)")")
RUNTIME=$(ls "$DOTNET_HOME/shared/Microsoft.NETCore.App" | sort -V | tail -n 1)
FXR=$(ls "$DOTNET_HOME/host/fxr" | sort -V | tail -n 1)
TARBALL="$CARRY/dotnet-runtime-$RUNTIME.tar.xz"
if [ ! -s "$TARBALL" ]; then
    echo "packing .NET runtime $RUNTIME (hostfxr $FXR) from $DOTNET_HOME"
    rm -f "$CARRY"/dotnet-runtime-*.tar.xz
    tar -C "$DOTNET_HOME" -cf - dotnet "host/fxr/$FXR" "shared/Microsoft.NETCore.App/$RUNTIME" LICENSE.txt ThirdPartyNotices.txt \
        | xz -T2 -9 > "$TARBALL.tmp"
    mv "$TARBALL.tmp" "$TARBALL"
fi

# 2. Framework-dependent builds for linux-x64 (only linux native assets, no runtime inside).
build() {  # project, output folder
    rm -rf "$2"
    dotnet publish "$1" -c "$CONFIG" -r linux-x64 --self-contained false -p:DebugType=none -p:GenerateDocumentationFile=false -o "$2" -v quiet -nologo
}
rm -rf "$CARRY/tests"
for project in "${PROJECTS[@]}"; do
    name=$(basename "$project")
    echo "building $name"
    build "$project" "$CARRY/tests/$name"
done
echo "building sertool"
build src/Ser.Tool "$CARRY/sertool"

# 3. What will travel, against the limit.
du -sh "$TARBALL" "$CARRY"/tests/* "$CARRY/sertool"
total_kib=$(du -sk "$CARRY" | cut -f1)
echo "total: $((total_kib / 1024)) MiB in $CARRY (limit ${LIMIT_MIB} MiB)"
if [ "$total_kib" -gt $((LIMIT_MIB * 1024)) ]; then
    echo "prepare.sh: $CARRY is larger than ${LIMIT_MIB} MiB; carry fewer test projects" >&2
    exit 1
fi
echo "ready: carry [\"$CARRY\"], command: bash tools/device/run-gpu.sh"
