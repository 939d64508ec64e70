#!/usr/bin/env bash
# Mutation testing with Stryker.NET 5.1.0 (MTP test runner, per-test coverage) on the issue-12 scopes of Ser.Engine.
# Not in CI: slow. Usage: tools/mutation/stryker.sh [SCOPE ...]  (default: every scope below, one Stryker run each)
#   scopes: metrics checkpoints folds experiments loss confusion (confusion = Metrics/ConfusionMatrix.cs only)
# Reports: bench/results/mutation/stryker-<scope>/ (html + json + the log).
# Environment: STRYKER (default /tmp/stryker/dotnet-stryker, installed with
#   dotnet tool install dotnet-stryker --version 5.1.0 --tool-path /tmp/stryker),
#   CONCURRENCY (default 1: the machine is shared), COVERAGE (default perTest), TIMEOUT (seconds per scope, default 3600).
# Stryker mutates compiled assemblies in the test project's bin folder: do not run tests in this tree meanwhile, and
# rebuild afterwards (the script does).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
STRYKER=${STRYKER:-/tmp/stryker/dotnet-stryker}
CONCURRENCY=${CONCURRENCY:-1}
COVERAGE=${COVERAGE:-perTest}
TIMEOUT=${TIMEOUT:-3600}
[ -x "$STRYKER" ] || dotnet tool install dotnet-stryker --version 5.1.0 --tool-path "$(dirname "$STRYKER")"

declare -A MUTATE=(
  [confusion]='"**/Metrics/ConfusionMatrix.cs"'
  [metrics]='"**/Metrics/**/*.cs"'
  [checkpoints]='"**/Checkpoints/**/*.cs"'
  [folds]='"**/Data/Folds.cs"'
  [experiments]='"**/Experiments/**/*.cs"'
  [loss]='"**/Backends/Cpu/CpuLoss.cs", "**/Backends/Cuda/CudaLoss.cs"'
)
# The tests that run against each scope's mutants. Unfiltered, Stryker's per-test coverage capture over all 257
# Ser.Engine tests did not finish in 15 minutes on a 2-core machine (relay-ack timeouts, tests marked Dubious; see
# bench/results/mutation/stryker-unfiltered-attempt); filtered to the scope's tests it works (ConfusionMatrix: 4 min).
# The '|' filters are VSTest filter syntax, which the MTP runner accepted for the single-namespace filter only so far.
declare -A TESTS=(
  [confusion]='FullyQualifiedName~Ser.Engine.Tests.Metrics'
  [metrics]='FullyQualifiedName~Ser.Engine.Tests.Metrics'
  [checkpoints]='FullyQualifiedName~Ser.Engine.Tests.Checkpoints|FullyQualifiedName~Ser.Engine.Tests.IO'
  [folds]='FullyQualifiedName~Ser.Engine.Tests.Data.FoldsTests'
  [experiments]='FullyQualifiedName~Ser.Engine.Tests.Experiments'
  [loss]='FullyQualifiedName~Ser.Engine.Tests.Graph|FullyQualifiedName~Ser.Engine.Tests.Training|FullyQualifiedName~Ser.Engine.Tests.Backends'
)
if [ $# -gt 0 ]; then SCOPES=("$@"); else SCOPES=(metrics checkpoints folds experiments loss); fi

status=0
for scope in "${SCOPES[@]}"; do
  [ -n "${MUTATE[$scope]:-}" ] || { echo "unknown scope $scope (one of ${!MUTATE[*]})" >&2; exit 2; }
  out="$ROOT/bench/results/mutation/stryker-$scope"
  rm -rf "$out" && mkdir -p "$out"
  cat > "$out/stryker-config.json" <<JSON
{
  "stryker-config": {
    "project": "Ser.Engine.csproj",
    "test-projects": ["$ROOT/tests/Ser.Engine.Tests/Ser.Engine.Tests.csproj"],
    "test-runner": "mtp",
    "coverage-analysis": "$COVERAGE",
    "test-case-filter": "${TESTS[$scope]}",
    "mutate": [${MUTATE[$scope]}],
    "configuration": "Debug",
    "concurrency": $CONCURRENCY,
    "reporters": ["html", "json", "cleartext"]
  }
}
JSON
  echo "== stryker: $scope (${MUTATE[$scope]}), coverage $COVERAGE, concurrency $CONCURRENCY"
  (cd tests/Ser.Engine.Tests && timeout "$TIMEOUT" "$STRYKER" -f "$out/stryker-config.json" -O "$out/run" --skip-version-check) \
    > "$out/stryker.log" 2>&1
  rc=$?
  echo "exit code $rc" | tee -a "$out/stryker.log"
  grep -E "mutation score|Killed|Survived|Timeout|No coverage" "$out/stryker.log" | tail -8
  [ $rc -eq 0 ] || status=1
done
# Stryker leaves mutated assemblies behind: rebuild from the clean sources.
dotnet build tests/Ser.Engine.Tests -c Debug -v q -nologo > /dev/null
exit $status
