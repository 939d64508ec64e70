#!/usr/bin/env bash
# Prepares what the GPU machine needs (it has no .NET and no internet) into .carry/, which git ignores:
#   .carry/dotnet-runtime-<ver>.tar.xz   this machine's .NET runtime (dotnet host + Microsoft.NETCore.App)
#   .carry/builds.tar.xz                  framework-dependent builds, xz-packed (they travel in a third of the room):
#       tests/<Project>/                  the GPU test projects
#       sertool/                          sertool (device report, benchmarks, profile)
# Usage: tools/device/prepare.sh [test project dirs...]   (default: tests/Ser.Native.Tests tests/Ser.Engine.Tests)
# Then run on the GPU machine with carry [".carry"]: bash tools/device/run-gpu.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

CARRY=.carry
CONFIG=${CONFIG:-Release}
LIMIT_MIB=${LIMIT_MIB:-64}   # the device tool sends at most 64 MiB: the working tree (tracked and untracked files) and .carry
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
STAGE="$CARRY/stage"
rm -rf "$STAGE" "$CARRY/tests" "$CARRY/sertool"
for project in "${PROJECTS[@]}"; do
    name=$(basename "$project")
    echo "building $name"
    build "$project" "$STAGE/tests/$name"
done
echo "building sertool"
build src/Ser.Tool "$STAGE/sertool"
tar -C "$STAGE" -cf - tests sertool | xz -T2 -6 > "$CARRY/builds.tar.xz.tmp"
mv "$CARRY/builds.tar.xz.tmp" "$CARRY/builds.tar.xz"
rm -rf "$STAGE"

# 3. What will travel, against the limit: every file git does not ignore (tracked or not) plus .carry.
du -sh "$TARBALL" "$CARRY/builds.tar.xz"
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
carry_bytes=$(du -sb "$CARRY" | cut -f1)
total_mib=$(( (tree_bytes + carry_bytes) / 1048576 ))
echo "travels: working tree $((tree_bytes / 1048576)) MiB + $CARRY $((carry_bytes / 1048576)) MiB = $total_mib MiB (limit $LIMIT_MIB MiB)"
if [ $((tree_bytes + carry_bytes)) -gt $((LIMIT_MIB * 1048576)) ]; then
    echo "prepare.sh: more than $LIMIT_MIB MiB would travel; carry fewer test projects or move large untracked files out of the tree" >&2
    exit 1
fi
echo "ready: carry [\"$CARRY\"], command: bash tools/device/run-gpu.sh"
