#!/usr/bin/env bash
# Memory under hostile input and a soak: RSS after a warm-up of normal traffic; then HOSTILE hostile requests
# (malformed JSON, 2 MB bodies over the limit, huge headers, unknown models, random paths, invalid keys, deep
# JSON, streams and uploads cut by the client) at moderate concurrency, the answers counted by status per kind;
# then SOAK_SECONDS of normal json + stream traffic at a moderate rate. RSS (and the GC heap, threads) sampled
# every SAMPLE_SECONDS throughout; prints the series and "RSS back within N MB of warm".
#   PUBLISH=/tmp/llmserver-gw-r2r bash bench/gateway/soak.sh
#   HOSTILE=10000 HOSTILE_CONC=16 SOAK_SECONDS=300 SOAK_CONC=8 SOAK_RPS=500 WARMUP_SECONDS=60 SAMPLE_SECONDS=10 ENVS=... bash bench/gateway/soak.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HOSTILE=${HOSTILE:-10000}; HOSTILE_CONC=${HOSTILE_CONC:-16}
SOAK_SECONDS=${SOAK_SECONDS:-300}; SOAK_CONC=${SOAK_CONC:-8}; SOAK_RPS=${SOAK_RPS:-500}
WARMUP_SECONDS=${WARMUP_SECONDS:-60}; SAMPLE_SECONDS=${SAMPLE_SECONDS:-10}
UP_PORT=${UP_PORT:-28480}; SLOW_PORT=${SLOW_PORT:-28481}; PORT=${PORT:-28483}
KINDS="malformed_json oversize huge_headers unknown_model random_path invalid_key deep_json"
need_publish

start_upstream upstream "$UP_PORT"
# The cut streams need streams that last: 20 chunks 50 ms apart from a second upstream, model bench-slow.
start_upstream upstream-slow "$SLOW_PORT" FAKE_STREAM_CHUNKS=20 FAKE_STREAM_DELAY_MS=50
start_llmserver llmserver "http://127.0.0.1:$UP_PORT/v1" "$PORT" \
  --LlmServer:Gateway:Upstreams:1:Name=slow --LlmServer:Gateway:Upstreams:1:Kind=openai_compatible \
  --LlmServer:Gateway:Upstreams:1:BaseUrl="http://127.0.0.1:$SLOW_PORT/v1" --LlmServer:Gateway:Upstreams:1:Models:0=bench-slow
echo "# soak: ENVS=[$ENVS] ready in $READY_MS ms; wrk and curl on CPU 0, server + upstreams on CPU 1"

# RSS sampler: one line per SAMPLE_SECONDS, tagged with the phase the script is in
PHASE="$LOGS/phase"; SAMPLES="$LOGS/samples"; echo warm-up >"$PHASE"; : >"$SAMPLES"
t_start=$(date +%s)
sample() {
  # RSS split into anonymous memory and mapped files; the GC's committed memory, its free space between objects
  # and the large- and pinned-object heaps after the last GC (Kestrel's buffers are pinned blocks); methods the JIT has compiled (code pages are anonymous memory)
  local gc
  gc=$(system_info "$SRV_URL" '[((.gc.heap_size_bytes, .gc.committed_bytes, .gc.fragmented_bytes, (.gc.generations[3].size_after_bytes // 0), (.gc.generations[4].size_after_bytes // 0)) / 1048576 | floor), .jit.compiled_methods] | map(tostring) | join(" ")')
  [[ "$gc" == - ]] && gc="- - - - - -"
  # shellcheck disable=SC2086
  printf '%6d %-8s %8s %7s %7s %8s %8s %8s %7s %7s %7s %7s\n' $(( $(date +%s) - t_start )) "$(cat "$PHASE")" "$(rss_mb "$SRV_PID")" \
    "$(status_mb "$SRV_PID" RssAnon)" "$(status_mb "$SRV_PID" RssFile)" $gc "$(threads_of "$SRV_PID")" >>"$SAMPLES"
}
( while kill -0 "$SRV_PID" 2>/dev/null; do sample; sleep "$SAMPLE_SECONDS"; done ) &
STARTED+=("$!")

warm "$SRV_PID" 16 "$WARMUP_SECONDS" "$HERE/mix.lua" "$SRV_URL"
rss_warm=$(rss_mb "$SRV_PID")
echo "rss after ${WARMUP_SECONDS}s warm-up (json + stream, c=16): $rss_warm MB"

echo hostile >"$PHASE"
per_kind=$(( HOSTILE / 8 ))
fivexx=0
printf '%-15s %6s %8s %7s %9s  %s\n' kind sent answered sock_err cpu_us/r statuses
for kind in $KINDS; do
  measure "$SRV_PID" "$HOSTILE_CONC" 300 "$HERE/hostile.lua" "$SRV_URL" KIND="$kind" N="$per_kind"
  statuses=$(kv statuses "$RESULT")
  n5=$(tr ',' '\n' <<<"$statuses" | awk -F: '$1 >= 500 {s += $2} END{print s + 0}')
  fivexx=$((fivexx + n5))
  printf '%-15s %6s %8s %7s %9s  %s%s\n' "$kind" "$(kv sent "$RESULT")" "$(kv requests "$RESULT")" "$(kv errors "$RESULT")" \
    "$CPU_US" "$statuses" "$( ((n5 > 0)) && echo "   <- $n5 answers 5xx")"
done

# Cut by the client (curl --max-time): a stream after ~6 of its 20 events, a translated /v1/messages stream,
# and a 64 KB upload sent at 20 KB/s, each cut at 0.3 s. Printed as "http_code/curl_exit x count" (28 = cut).
upload="$LOGS/upload.json"
printf '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"%s"}]}' "$(head -c 65536 /dev/zero | tr '\0' 'u')" >"$upload"
cut() { # name count curl-args...
  local name=$1 n=$2; shift 2
  local out
  out=$(seq "$n" | taskset -c 0 xargs -P "$HOSTILE_CONC" -I{} curl -s -o /dev/null -w '%{http_code}/%{exitcode}\n' \
    --max-time 0.3 "$@" 2>/dev/null | sort | uniq -c | awk '{printf "%s x %s  ", $2, $1}' || true)
  printf '%-15s %6s %8s %7s %9s  %s\n' "$name" "$n" - - - "$out"
  local n5; n5=$( (grep -oE '5[0-9][0-9]/[0-9]+ x [0-9]+' <<<"$out" || true) | awk '{s += $3} END{print s + 0}')
  fivexx=$((fivexx + n5))
}
cuts=$(( per_kind / 3 ))
cut cut_stream "$cuts" -N "$SRV_URL/v1/chat/completions" -H 'content-type: application/json' -H "authorization: Bearer $BENCH_KEY" \
  -d '{"model":"bench-slow","stream":true,"messages":[{"role":"user","content":"hi"}]}'
cut cut_messages "$cuts" -N "$SRV_URL/v1/messages" -H 'content-type: application/json' -H "x-api-key: $BENCH_KEY" -H 'anthropic-version: 2023-06-01' \
  -d '{"model":"bench-slow","stream":true,"max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'
cut cut_upload $(( per_kind - 2 * cuts )) --limit-rate 20k "$SRV_URL/v1/chat/completions" -H 'content-type: application/json' \
  -H "authorization: Bearer $BENCH_KEY" --data-binary "@$upload"
rss_hostile=$(rss_mb "$SRV_PID")
echo "rss after $HOSTILE hostile requests: $rss_hostile MB; 5xx answers to hostile input: $fivexx"

echo soak >"$PHASE"
delay=$(( SOAK_CONC * 1000 / SOAK_RPS ))
measure "$SRV_PID" "$SOAK_CONC" "$SOAK_SECONDS" "$HERE/mix.lua" "$SRV_URL" DELAY_MS="$delay"
echo "soak: ${SOAK_SECONDS}s json + stream, c=$SOAK_CONC, ${delay} ms between a connection's requests:" \
  "$(kv rps "$RESULT") req/s, $(kv good "$RESULT") good, $(kv bad "$RESULT") bad ($(kv statuses "$RESULT")), $(kv errors "$RESULT") socket errors, $CPU_US us/request"
echo end >"$PHASE"; sample
rss_end=$(rss_mb "$SRV_PID")

echo "# RSS series (every ${SAMPLE_SECONDS}s)"
printf '%6s %-8s %8s %7s %7s %8s %8s %8s %7s %7s %7s %7s\n' t_s phase rss_MB anon_MB file_MB heap_MB gc_comm gc_frag loh_MB poh_MB jit_n threads
cat "$SAMPLES"
echo "rss: warm $rss_warm MB, after hostile $rss_hostile MB, after soak $rss_end MB"
awk -v w="$rss_warm" -v e="$rss_end" 'BEGIN{ d = e - w; printf "RSS back within %d MB of warm (target 20)\n", int(d + (d < 0 ? -0.5 : 0.5)) }'
