#!/usr/bin/env bash
# Starts the published LlmServer for the benchmark: auth on (the wrk script's key is the master key),
# usage capture, SQLite ledger and admission on, masking per LLMSERVER_MASKING (default mask, as shipped),
# one openai_compatible upstream serving gpt-4o-mini.
#   start-llmserver.sh UPSTREAM_V1_URL [PORT [--Setting=value ...]]   (further arguments are passed to the server)
set -euo pipefail
UPSTREAM=${1:?upstream /v1 URL}
PORT=${2:-${OURS_PORT:-28083}}
PUBLISH=${PUBLISH:-/tmp/llmserver-gw-r2r}
cd "$PUBLISH"
# A self-contained publish (its own runtime, e.g. a composite ReadyToRun image) runs as its own executable.
# DOTNET_GCgen0size: a 8 MB gen0 budget instead of the cache-sized default keeps RSS ~30 MB lower for a proxy
# whose allocations all die young (the runtimeconfig knob is not honoured; only the env var is).
exec env DOTNET_GCgen0size=${DOTNET_GCgen0size:-0x800000} LLMSERVER_MASKING=${LLMSERVER_MASKING:-mask} LLMSERVER_MASTER_KEY=sk-bench-0000000000000000 LLMSERVER_DATA_DIR=${BENCH_DATA_DIR:-/tmp/llmserver-gw-bench-data} \
  $([[ -x ./LlmServer.Api && -f ./libcoreclr.so ]] && echo ./LlmServer.Api || echo dotnet LlmServer.Api.dll) --urls "http://127.0.0.1:$PORT" \
  --LlmServer:Gateway:Upstreams:0:Name=bench \
  --LlmServer:Gateway:Upstreams:0:Kind=openai_compatible \
  --LlmServer:Gateway:Upstreams:0:BaseUrl="$UPSTREAM" \
  --LlmServer:Gateway:Upstreams:0:Models:0=gpt-4o-mini \
  "${@:3}"
