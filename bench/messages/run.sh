#!/usr/bin/env bash
# /v1/messages translation path vs /v1/chat/completions on the same LlmServer instance, in front of the shared
# bench fake upstream (OpenAI chat completions). Prints req/s, p50/p99 and LlmServer CPU microseconds per request.
#
#   bash bench/messages/run.sh        # needs wrk (Debian) and the published app (bench/gateway/run.sh publishes it)
#
# Env: PUBLISH=/tmp/llmserver-gw-r2r, DURATION=10, WARMUP=5, CONC=16, MASKING=mask|off (default mask).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PUBLISH=${PUBLISH:-/tmp/llmserver-gw-r2r}
DURATION=${DURATION:-10}; WARMUP=${WARMUP:-5}; CONC=${CONC:-16}; MASKING=${MASKING:-mask}
UP_PORT=${UP_PORT:-28180}; OURS_PORT=${OURS_PORT:-28183}
UPSTREAM_BIN=${UPSTREAM_BIN:-/tmp/gwbench-fake-upstream/fake-upstream}
HARNESS_DIR=${HARNESS_DIR:-$ROOT/../shared/bench}

command -v wrk >/dev/null || { apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq wrk >/dev/null; }
[[ -x "$UPSTREAM_BIN" ]] || bash "$HARNESS_DIR/run.sh" --setup >/dev/null
[[ -f "$PUBLISH/LlmServer.Api.dll" ]] || dotnet publish "$ROOT/src/LlmServer.Api" -c Release -r linux-x64 \
  --self-contained false -p:PublishReadyToRun=true -o "$PUBLISH" -nologo -v q

data=$(mktemp -d /tmp/llmserver-msg-bench.XXXXXX)
cleanup() { kill "${OURS:-}" "${UP:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

taskset -c 1 "$UPSTREAM_BIN" "$UP_PORT" >/dev/null 2>&1 & UP=$!
(cd "$PUBLISH" && exec taskset -c 1 env DOTNET_GCgen0size=0x800000 LLMSERVER_MASTER_KEY=sk-bench-0000000000000000 \
  LLMSERVER_DATA_DIR="$data" LLMSERVER_MASKING="$MASKING" LOG_LEVEL=Warning \
  dotnet LlmServer.Api.dll --urls "http://127.0.0.1:$OURS_PORT" \
  --LlmServer:Gateway:Upstreams:0:Name=bench --LlmServer:Gateway:Upstreams:0:Kind=openai_compatible \
  --LlmServer:Gateway:Upstreams:0:BaseUrl="http://127.0.0.1:$UP_PORT/v1" \
  --LlmServer:Gateway:Upstreams:0:Models:0=gpt-4o-mini >/dev/null 2>&1) & OURS=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$OURS_PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
# The server process is the dotnet child of the subshell.
PID=$(pgrep -f "LlmServer.Api.dll --urls http://127.0.0.1:$OURS_PORT" | head -1)

cpu_ticks() { awk '{print $14+$15}' "/proc/$PID/stat"; }
run() { # name path-env stream
  local name=$1 chat=$2 stream=$3
  PATH_CHAT=$chat STREAM=$stream taskset -c 0 wrk -t1 -c"$CONC" -d"${WARMUP}s" -s "$HERE/messages.lua" "http://127.0.0.1:$OURS_PORT" >/dev/null 2>&1 || true
  local t0; t0=$(cpu_ticks)
  local out; out=$(PATH_CHAT=$chat STREAM=$stream taskset -c 0 wrk -t1 -c"$CONC" -d"${DURATION}s" -s "$HERE/messages.lua" "http://127.0.0.1:$OURS_PORT" 2>&1 | grep RESULT)
  local t1; t1=$(cpu_ticks)
  local reqs; reqs=$(sed -nE 's/.*requests=([0-9]+).*/\1/p' <<<"$out")
  local hz; hz=$(getconf CLK_TCK)
  local cpu_us; cpu_us=$(awk -v d=$((t1 - t0)) -v r="$reqs" -v hz="$hz" 'BEGIN{ if (r>0) printf "%.0f", d*1e6/hz/r; else print "n/a" }')
  printf "%-28s %s cpu_us/r=%s\n" "$name" "$(sed 's/RESULT //' <<<"$out")" "$cpu_us"
}
echo "# LlmServer $(git -C "$ROOT" rev-parse --short HEAD), masking=$MASKING, c=$CONC, ${DURATION}s (warm-up ${WARMUP}s), pinned: wrk cpu0, servers cpu1"
run "chat.completions json" 1 0
run "messages (translated) json" 0 0
run "chat.completions stream" 1 1
run "messages (translated) stream" 0 1
echo "rss_MB=$(awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$PID/status")"
