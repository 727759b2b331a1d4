#!/usr/bin/env bash
# The one test command (README): builds and runs every test.
# It installs and starts what the tests need (redis-server, postgresql, chromium from Debian) on loopback
# with throwaway data directories via scripts/services.sh, then stops them.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=/dev/null
source scripts/services.sh
services_start
trap services_stop EXIT

log=$(mktemp)
set +e
dotnet test LlmServer.sln -c Release --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

# One plain closing line CI can read: "N passed, N failed".
count() { grep -E "^[[:space:]]+$1: [0-9]+$" "$log" | tail -n 1 | grep -oE '[0-9]+' || true; }
passed=$(count Passed); failed=$(count Failed); skipped=$(count Skipped)
rm -f "$log"
if [[ -z "$passed" ]]; then
  echo "tests: no test summary found (build failed?)"
  exit 1
fi
echo "tests: ${passed} passed, ${failed:-0} failed, ${skipped:-0} skipped"
if [[ "$passed" == "0" ]]; then
  echo "tests: no test ran"
  exit 1
fi
exit "$rc"
