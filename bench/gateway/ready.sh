#!/usr/bin/env bash
# Time to ready: milliseconds from process start until GET /version answers 200 (RUNS starts, median printed).
#   ready.sh [UPSTREAM_V1_URL]   (default: the shared bench fake upstream on 28080 is not needed; any URL works)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUNS=${RUNS:-5}
PORT=${OURS_PORT:-28093}
UPSTREAM=${1:-http://127.0.0.1:9/v1}
times=()
for _ in $(seq "$RUNS"); do
  start=$(date +%s%N)
  bash "$HERE/start-llmserver.sh" "$UPSTREAM" "$PORT" >/dev/null 2>&1 &
  pid=$!
  until curl -s -o /dev/null -f "http://127.0.0.1:$PORT/version"; do sleep 0.01; done
  times+=($(( ($(date +%s%N) - start) / 1000000 )))
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "time-to-ready ms: ${times[*]}  median=${sorted[$((RUNS / 2))]}"
