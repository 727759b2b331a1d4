#!/usr/bin/env bash
# Cost of masking on the gateway: the same LlmServer (published by run.sh) under policy off and mask, with a
# clean prompt and with seed 004's AWS prompt (8 values masked per request, the answer stream parsed and
# restored event by event). Prints req/s, p50/p99 and the gateway's CPU microseconds per request.
#   bash bench/gateway/masked.sh        (after bash bench/gateway/run.sh, which publishes and builds the fake upstream)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PUBLISH=${PUBLISH:-/tmp/llmserver-gw-r2r}
UPSTREAM_BIN=${UPSTREAM_BIN:-/tmp/gwbench-fake-upstream/fake-upstream}
UP_PORT=${UP_PORT:-28180}; OURS_PORT=${OURS_PORT:-28183}
DURATION=${DURATION:-10}; WARMUP=${WARMUP:-5}; CONC=${CONC:-64}; STREAM_CONC=${STREAM_CONC:-16}
TICK=$(getconf CLK_TCK)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
wait_http() { for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }

FAKE_STREAM_CHUNKS=20 taskset -c 1 "$UPSTREAM_BIN" "$UP_PORT" >/tmp/masked-bench-upstream.log 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$UP_PORT/healthz"
printf '%-6s %-8s %-4s %5s %9s %8s %8s %9s\n' policy prompt mode conc req/s p50_ms p99_ms cpu_us/r
for policy in ${POLICIES:-off mask}; do
  PUBLISH=$PUBLISH LLMSERVER_MASKING=$policy taskset -c 1 bash "$HERE/start-llmserver.sh" "http://127.0.0.1:$UP_PORT/v1" "$OURS_PORT" >/tmp/masked-bench-llmserver.log 2>&1 &
  pid=$!; pids+=($pid)
  wait_http "http://127.0.0.1:$OURS_PORT/version"
  # NOTE: tiered JIT (R2R -> instrumented tier -> tier 1) takes a while under load; warm every path first.
  for secrets in 0 1; do for s in 0 1; do
    SECRETS=$secrets STREAM=$s taskset -c 0 wrk -t1 -c16 -d"${START_WARMUP:-8}s" -s "$HERE/masked.lua" "http://127.0.0.1:$OURS_PORT" >/dev/null
  done; done
  for secrets in ${PROMPTS:-0 1}; do
    for mode in json stream; do
      conc=$CONC; [[ $mode == stream ]] && conc=$STREAM_CONC
      export SECRETS=$secrets STREAM=$([[ $mode == stream ]] && echo 1 || echo 0)
      taskset -c 0 wrk -t1 -c"$conc" -d"${WARMUP}s" -s "$HERE/masked.lua" "http://127.0.0.1:$OURS_PORT" >/dev/null
      before=$(cpu_ticks "$pid")
      out=$(taskset -c 0 wrk -t1 -c"$conc" -d"${DURATION}s" -s "$HERE/masked.lua" "http://127.0.0.1:$OURS_PORT" | grep RESULT)
      after=$(cpu_ticks "$pid")
      rps=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$out"); p50=$(sed -E 's/.*p50_us=([0-9]+).*/\1/' <<<"$out"); p99=$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$out")
      non2xx=$(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$out")
      [[ $non2xx == 0 ]] || echo "WARNING: $non2xx non-2xx answers" >&2
      cpu=$(awk -v t=$((after-before)) -v hz="$TICK" -v r="$rps" -v d="$DURATION" 'BEGIN{printf "%.0f", t/hz*1e6/(r*d)}')
      printf '%-6s %-8s %-4s %5s %9.0f %8.2f %8.2f %9s\n' "$policy" "$([[ $secrets == 1 ]] && echo aws || echo clean)" "$mode" "$conc" "$rps" "$(awk -v v=$p50 'BEGIN{print v/1000}')" "$(awk -v v=$p99 'BEGIN{print v/1000}')" "$cpu"
    done
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
