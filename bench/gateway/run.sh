#!/usr/bin/env bash
# LlmServer gateway benchmark: publishes the app (Release), measures time to ready, then runs the shared
# harness (/work/shared/bench/run.sh: wrk, nginx, the fake upstream) with LlmServer added as "llmserver".
# Auth (master key = the wrk script's bearer) and usage capture are on.
#
#   bash bench/gateway/run.sh             # publish + ready + harness (direct, nginx, llmserver)
#   SKIP_PUBLISH=1 TARGETS="direct nginx portkey llmserver" bash bench/gateway/run.sh
#
# Ports default to 28080-28083 so a parallel run of the harness on its defaults does not collide.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
HARNESS=${HARNESS:-/work/shared/bench/run.sh}
export PUBLISH=${PUBLISH:-/tmp/llmserver-gw-r2r}
OURS_PORT=${OURS_PORT:-28083}
if [[ "${SKIP_PUBLISH:-0}" != 1 ]]; then
  # ReadyToRun: ~35% faster time to ready on this box (1.4 s vs 2.2 s median under load), same steady state.
  dotnet publish "$ROOT/src/LlmServer.Api" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
    -o "$PUBLISH" -nologo -v q
fi
OURS_PORT=28093 bash "$HERE/ready.sh"
export UP_PORT=${UP_PORT:-28080} NGINX_PORT=${NGINX_PORT:-28081} PORTKEY_PORT=${PORTKEY_PORT:-28082}
export TARGETS=${TARGETS:-"direct nginx llmserver"}
# Longer warm-up than the harness default (3 s): tiered JIT finishes before the measured run.
export WARMUP=${WARMUP:-8}
export EXTRA_NAME=llmserver EXTRA_URL="http://127.0.0.1:$OURS_PORT"
export EXTRA_CMD="bash $HERE/start-llmserver.sh {UPSTREAM} $OURS_PORT"
exec bash "$HARNESS"
