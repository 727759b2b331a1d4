#!/usr/bin/env bash
# Many slow streams held open: a fake upstream that streams STREAM_CHUNKS events STREAM_DELAY_MS apart (300 x
# 100 ms = 30 s streams), STREAMS concurrent streaming clients through LlmServer (wrk, one stream per
# connection), and meanwhile GET /health every 100 ms on its own connection. Prints peak RSS, RSS at the end,
# /health p50/p99, streams completed / failed, and the series of RSS, threads and open client connections.
#   PUBLISH=/tmp/llmserver-gw-r2r bash bench/gateway/slowstreams.sh
#   STREAMS=2000 STREAM_CHUNKS=300 STREAM_DELAY_MS=100 HEALTH_PERIOD_MS=100 ENVS=... bash bench/gateway/slowstreams.sh
# LlmServer as shipped admits 512 concurrent requests (+128 queued) and opens at most 512 connections to an
# upstream; both are raised to STREAMS + 64 on its command line so that every stream is admitted and relayed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STREAMS=${STREAMS:-2000}; STREAM_CHUNKS=${STREAM_CHUNKS:-300}; STREAM_DELAY_MS=${STREAM_DELAY_MS:-100}
HEALTH_PERIOD_MS=${HEALTH_PERIOD_MS:-100}
UP_PORT=${UP_PORT:-28580}; PORT=${PORT:-28583}
need_publish
# Each stream holds a client socket in wrk and LlmServer and an upstream socket in LlmServer and the upstream.
ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) >= 2 * STREAMS + 512 )) || die "ulimit -n is $(ulimit -n); $STREAMS streams need at least $((2 * STREAMS + 512))"
stream_secs=$(( (STREAM_CHUNKS * STREAM_DELAY_MS + 999) / 1000 ))

start_upstream upstream-slow "$UP_PORT" FAKE_STREAM_CHUNKS="$STREAM_CHUNKS" FAKE_STREAM_DELAY_MS="$STREAM_DELAY_MS"
limit=$(( STREAMS + 64 ))
start_llmserver llmserver "http://127.0.0.1:$UP_PORT/v1" "$PORT" \
  --LlmServer:Operations:RateLimits:GlobalConcurrency=$limit --LlmServer:Gateway:Upstreams:0:MaxConnections=$limit
echo "# slow streams: ENVS=[$ENVS] ready in $READY_MS ms; $STREAMS streams of $STREAM_CHUNKS events ${STREAM_DELAY_MS} ms apart (~${stream_secs}s); GlobalConcurrency and upstream MaxConnections $limit"

# Warm /health and the stream relay (16 streams cut after 3 s) so that the first figures are not the JIT's.
warm "$SRV_PID" 1 3 "$HERE/health.lua" "$SRV_URL" PERIOD_MS=10
warm "$SRV_PID" 16 3 "$HERE/slowstream.lua" "$SRV_URL" STREAMS=1000000
sleep 2
rss_before=$(rss_mb "$SRV_PID")

SAMPLES="$LOGS/samples"; : >"$SAMPLES"
t_start=$(date +%s)
( while kill -0 "$SRV_PID" 2>/dev/null; do
    printf '%5d %8s %7s %7s\n' $(( $(date +%s) - t_start )) "$(rss_mb "$SRV_PID")" "$(threads_of "$SRV_PID")" \
      "$(ss -Htn state established "( sport = :$PORT )" | wc -l)" >>"$SAMPLES"
    sleep 1
  done ) &
STARTED+=("$!")

env PERIOD_MS="$HEALTH_PERIOD_MS" taskset -c 0 wrk -t1 -c1 -d$(( stream_secs * 3 + 180 ))s --timeout 10s --latency \
  -s "$HERE/health.lua" "$SRV_URL" >"$LOGS/health.txt" 2>&1 &
health_pid=$!; STARTED+=("$health_pid")
WRK_TIMEOUT=$(( stream_secs + 60 ))s measure "$SRV_PID" "$STREAMS" $(( stream_secs + 120 )) "$HERE/slowstream.lua" "$SRV_URL" STREAMS="$STREAMS"
streams_result=$RESULT; stream_cpu=$CPU_US
t_end=$(( $(date +%s) - t_start )); rss_end=$(rss_mb "$SRV_PID")
kill -INT "$health_pid" 2>/dev/null || true
wait "$health_pid" 2>/dev/null || true
health=$(grep '^RESULT' "$LOGS/health.txt" || echo "RESULT requests=0 p50_us=0 p99_us=0 max_us=0")
sleep 10
rss_idle=$(rss_mb "$SRV_PID")

echo "# series: t_s rss_MB threads client_connections (the /health connection included; the streams ended at ${t_end}s)"
cat "$SAMPLES"
peak=$(awk 'BEGIN{m = 0} $2 > m {m = $2} END{print m}' "$SAMPLES")
conns=$(awk 'BEGIN{m = 0} $4 > m {m = $4} END{print m}' "$SAMPLES")
echo "rss before the streams $rss_before MB; peak $peak MB sampled (VmHWM $(hwm_mb "$SRV_PID") MB); at the end $rss_end MB; 10 s later $rss_idle MB (target: peak at most 300)"
echo "peak open client connections $conns; threads at most $(awk 'BEGIN{m = 0} $3 > m {m = $3} END{print m}' "$SAMPLES")"
awk -v p50="$(kv p50_us "$health")" -v p99="$(kv p99_us "$health")" -v mx="$(kv max_us "$health")" -v n="$(kv requests "$health")" \
  -v st="$(kv statuses "$health")" 'BEGIN{ printf "/health p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d requests (%s) (target: p99 under 50 ms)\n", p50 / 1000, p99 / 1000, mx / 1000, n, st }'
echo "streams completed $(kv completed "$streams_result"), failed $(kv failed "$streams_result") ($(kv statuses "$streams_result"));" \
  "socket errors $(kv errors "$streams_result") (connect $(kv connect_err "$streams_result"), read $(kv read_err "$streams_result"), timeouts $(kv timeouts "$streams_result"));" \
  "server CPU $stream_cpu us per stream; stream time p50 $(awk -v v="$(kv p50_us "$streams_result")" 'BEGIN{printf "%.1f", v / 1e6}') s, max $(awk -v v="$(kv max_us "$streams_result")" 'BEGIN{printf "%.1f", v / 1e6}') s"
