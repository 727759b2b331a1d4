#!/usr/bin/env bash
# Cold start: time to ready, then json c=16 in 5 s slices for the first 30 s after ready (CPU us per request,
# req/s, p99, methods the JIT compiled), then load until 60 s after ready and a warm figure (10 s); prints the
# ratio of the first 30 s's CPU per request to the warm one. ENVS passes runtime settings to the server.
#   PUBLISH=/tmp/llmserver-gw-r2r bash bench/gateway/cold.sh
#   ENVS="DOTNET_TieredCompilation=0" bash bench/gateway/cold.sh
#   ENVS="DOTNET_TC_QuickJitForLoops=0 DOTNET_ReadyToRun=1" CONC=16 SLICE=5 COLD_SECONDS=30 WARM_AFTER=60 WARM_SECONDS=10 bash bench/gateway/cold.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONC=${CONC:-16}; SLICE=${SLICE:-5}; COLD_SECONDS=${COLD_SECONDS:-30}; WARM_AFTER=${WARM_AFTER:-60}; WARM_SECONDS=${WARM_SECONDS:-10}
LUA=${LUA:-/work/shared/bench/wrk/chat.lua}
UP_PORT=${UP_PORT:-28280}; PORT=${PORT:-28283}
(( WARM_AFTER >= COLD_SECONDS )) || die "WARM_AFTER ($WARM_AFTER) must be at least COLD_SECONDS ($COLD_SECONDS)"
need_publish

start_upstream upstream "$UP_PORT"
start_llmserver llmserver "http://127.0.0.1:$UP_PORT/v1" "$PORT"
echo "# cold start: ENVS=[$ENVS] json c=$CONC, wrk on CPU 0, server + upstream on CPU 1"
echo "ready in $READY_MS ms (exec to GET /version answering)"
# JIT=0 leaves out the methods-compiled column (its GET /api/v1/system/info runs between slices, outside the figures)
jit() { if [[ ${JIT:-1} == 1 ]]; then system_info "$SRV_URL" .jit.compiled_methods; else echo -; fi; }
printf '%-9s %9s %9s %8s %8s %9s\n' slice req/s cpu_us/r p99_ms non2xx jit_total
ticks_cold=0; n_cold=0; t=0
while (( t < COLD_SECONDS )); do
  measure "$SRV_PID" "$CONC" "$SLICE" "$LUA" "$SRV_URL"
  n_cold=$((n_cold + $(kv requests "$RESULT"))); ticks_cold=$((ticks_cold + TICKS))
  printf '%-9s %9.0f %9s %8.2f %8s %9s\n' "$t-$((t + SLICE))s" "$(kv rps "$RESULT")" "$CPU_US" \
    "$(awk -v v="$(kv p99_us "$RESULT")" 'BEGIN{print v / 1000}')" "$(kv non2xx "$RESULT")" "$(jit)"
  t=$((t + SLICE))
done
cold=$(awk -v d="$ticks_cold" -v hz="$TICK" -v n="$n_cold" 'BEGIN{ printf "%.0f", (n > 0) ? d * 1e6 / hz / n : 0 }')
(( WARM_AFTER > COLD_SECONDS )) && warm "$SRV_PID" "$CONC" $((WARM_AFTER - COLD_SECONDS)) "$LUA" "$SRV_URL"
measure "$SRV_PID" "$CONC" "$WARM_SECONDS" "$LUA" "$SRV_URL"
printf '%-9s %9.0f %9s %8.2f %8s %9s\n' "warm" "$(kv rps "$RESULT")" "$CPU_US" \
  "$(awk -v v="$(kv p99_us "$RESULT")" 'BEGIN{print v / 1000}')" "$(kv non2xx "$RESULT")" "$(jit)"
echo "cold (first ${COLD_SECONDS}s) $cold us/request, warm (${WARM_SECONDS}s after ${WARM_AFTER}s of load) $CPU_US us/request:" \
  "cold/warm $(awk -v c="$cold" -v w="$CPU_US" 'BEGIN{ printf "%.2f", (w > 0) ? c / w : 0 }') (target at most 2)"
echo "rss after: $(rss_mb "$SRV_PID") MB"
