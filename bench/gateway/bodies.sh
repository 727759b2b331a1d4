#!/usr/bin/env bash
# CPU per request against body size: chat completions of 1 KB, 10 KB, 100 KB and 1 MB of clean prose and a
# 121 KB coding agent's turn (bodies-gen.sh), at c=4, through bench/floor, LlmServer with masking off and
# LlmServer with masking on (as shipped); each server warmed on every body first. Prints a table with each
# LlmServer figure's ratio to the floor, and what masking adds per request as a scan rate (MB/s).
#   PUBLISH=/tmp/llmserver-gw-r2r bash bench/gateway/bodies.sh
#   CONC=4 WARMUP=5 DURATION=10 TARGETS="floor off mask" SIZES="1k 10k 100k agent-121k 1m" ENVS=... bash bench/gateway/bodies.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONC=${CONC:-4}; WARMUP=${WARMUP:-5}; DURATION=${DURATION:-10}
TARGETS=${TARGETS:-"floor off mask"}
SIZES=${SIZES:-"1k 10k 100k agent-121k 1m"}
UP_PORT=${UP_PORT:-28380}; PORT=${PORT:-28383}
need_publish
[[ " $TARGETS " == *" floor "* ]] && need_floor

BODIES="$LOGS/bodies"
bash "$HERE/bodies-gen.sh" "$BODIES" >/dev/null
body_file() { [[ $1 == agent-* ]] && echo "$BODIES/$1.json" || echo "$BODIES/prose-$1.json"; }
for s in $SIZES; do [[ -f $(body_file "$s") ]] || die "unknown size '$s' (sizes: 1k 10k 100k agent-121k 1m)"; done

start_upstream upstream "$UP_PORT"
UPSTREAM="http://127.0.0.1:$UP_PORT/v1"
declare -A CPU RPS BAD
for t in $TARGETS; do
  case $t in
    floor) start_floor "$UPSTREAM" "$PORT" ;;
    off|mask) LLMSERVER_MASKING=$t start_llmserver "llmserver-$t" "$UPSTREAM" "$PORT" ;;
    *) die "unknown target '$t' (floor, off, mask)" ;;
  esac
  for s in $SIZES; do   # every body answers 200 before it is measured
    code=$(curl -s -o "$LOGS/check-$t-$s.txt" -w '%{http_code}' --max-time 30 "$SRV_URL/v1/chat/completions" \
      -H 'content-type: application/json' -H "authorization: Bearer $BENCH_KEY" --data-binary "@$(body_file "$s")")
    [[ $code == 200 ]] || die "$t answered $code to the $s body: $(head -c 300 "$LOGS/check-$t-$s.txt")"
  done
  for s in $SIZES; do warm "$SRV_PID" "$CONC" "$WARMUP" "$HERE/body.lua" "$SRV_URL" BODY_FILE="$(body_file "$s")"; done
  for s in $SIZES; do
    measure "$SRV_PID" "$CONC" "$DURATION" "$HERE/body.lua" "$SRV_URL" BODY_FILE="$(body_file "$s")"
    CPU[$t|$s]=$CPU_US; RPS[$t|$s]=$(kv rps "$RESULT"); BAD[$t|$s]=$(( $(kv non2xx "$RESULT") + $(kv errors "$RESULT") ))
    log "$t $s: ${CPU_US} us/request, $(kv rps "$RESULT") req/s, ${BAD[$t|$s]} failed"
  done
  if [[ $t == mask ]]; then   # clean bodies: masking must have looked and found nothing
    masked=$(curl -s -H "authorization: Bearer $BENCH_KEY" "$SRV_URL/metrics" | awk '/^llmserver_masked_values/{s += $NF} END{print s + 0}')
    echo "# masking on: $masked values masked in all the bodies sent (0 expected: the bodies are clean)"
  fi
  echo "# $t: rss after $(rss_mb "$SRV_PID") MB"
  stop_server "$SRV_PID"
done

echo "# bodies: c=$CONC, ${WARMUP}s warm-up per body, ${DURATION}s measured; CPU us per request of the proxy process; (x) = ratio to the floor"
echo "# scan MB/s = body MB / (mask - off) CPU seconds per request: what masking's look at the body costs"
printf '%-11s %8s %9s %16s %16s %10s %8s\n' body bytes floor_us off_us mask_us scan_MB/s failed
for s in $SIZES; do
  bytes=$(wc -c <"$(body_file "$s")")
  awk -v s="$s" -v b="$bytes" -v f="${CPU[floor|$s]:--}" -v o="${CPU[off|$s]:--}" -v m="${CPU[mask|$s]:--}" \
      -v bad="$(( ${BAD[floor|$s]:-0} + ${BAD[off|$s]:-0} + ${BAD[mask|$s]:-0} ))" '
    function cell(v) { return (v == "-") ? "-" : (f != "-" && f > 0) ? sprintf("%s (%.2fx)", v, v / f) : v }
    BEGIN {
      scan = (o != "-" && m != "-" && m > o) ? sprintf("%.0f", (b / 1048576) / ((m - o) / 1e6)) : "-"
      printf "%-11s %8d %9s %16s %16s %10s %8d\n", s, b, f, cell(o), cell(m), scan, bad
    }'
done
