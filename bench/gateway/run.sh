#!/usr/bin/env bash
# LlmServer gateway benchmark: publishes the app (Release), measures time to ready, then runs the shared
# harness (/work/shared/bench/run.sh: wrk, nginx, the fake upstream) with LlmServer added as "llmserver".
# Auth (master key = the wrk script's bearer) and usage capture are on.
#
#   bash bench/gateway/run.sh             # publish + ready + harness (direct, nginx, llmserver)
#   SKIP_PUBLISH=1 TARGETS="direct nginx portkey llmserver" bash bench/gateway/run.sh
#   FLOOR=1 bash bench/gateway/run.sh    # then a second pass: nginx vs bench/floor (the least a Kestrel +
#                                         # SocketsHttpHandler proxy costs here), to read LlmServer's own share
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
if [[ "${FLOOR:-0}" != 1 ]]; then
  exec bash "$HARNESS"
fi
bash "$HARNESS"
FLOOR_OUT=${FLOOR_OUT:-/tmp/llmserver-floor}
dotnet publish "$ROOT/bench/floor" -c Release -o "$FLOOR_OUT" -nologo -v q
# NOTE: the same gen0 budget as LlmServer gets from start-llmserver.sh, so RSS compares like with like.
TARGETS="nginx floor" EXTRA_NAME=floor EXTRA_URL="http://127.0.0.1:28084" \
  EXTRA_CMD="env DOTNET_GCgen0size=0x800000 dotnet $FLOOR_OUT/Floor.dll --urls http://127.0.0.1:28084 --upstream {UPSTREAM}" \
  exec bash "$HARNESS"
