#!/usr/bin/env bash
# Repeated measurements of one LlmServer process: how CPU/request evolves over time (JIT tiering, GC).
#   bash bench/gateway/probe.sh                 # 6 rounds x 10 s, json c=16, then one json c=64 and stream c=16
#   ROUNDS=3 CONC=64 ENVS="DOTNET_TieredPGO=0" bash bench/gateway/probe.sh
# Needs a publish in $PUBLISH (bench/gateway/run.sh makes one) and the shared fake upstream
# (bash /work/shared/bench/run.sh --setup). wrk on CPU 0, server + upstream on CPU 1, as the harness does.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PUBLISH=${PUBLISH:-/tmp/llmserver-gw-r2r}
LUA=${LUA:-/work/shared/bench/wrk/chat.lua}
UP_BIN=${UP_BIN:-/tmp/gwbench-fake-upstream/fake-upstream}
UP_PORT=${UP_PORT:-28180}; PORT=${PORT:-28183}
ROUNDS=${ROUNDS:-6}; CONC=${CONC:-16}; DURATION=${DURATION:-10}
ENVS=${ENVS:-}
pids=()
trap 'kill ${pids[*]} 2>/dev/null || true; wait 2>/dev/null || true' EXIT
taskset -c 1 "$UP_BIN" "$UP_PORT" >/tmp/probe-up.log 2>&1 & pids+=($!)
rm -rf /tmp/llmserver-gw-bench-data
# shellcheck disable=SC2086
if [[ -n "${SERVER_CMD:-}" ]]; then
  cmd=${SERVER_CMD//\{UPSTREAM\}/http://127.0.0.1:$UP_PORT/v1}; cmd=${cmd//\{PORT\}/$PORT}
  env $ENVS taskset -c 1 bash -c "exec $cmd" >/tmp/probe-srv.log 2>&1 & pids+=($!)
else
  env $ENVS PUBLISH="$PUBLISH" taskset -c 1 bash "$HERE/start-llmserver.sh" "http://127.0.0.1:$UP_PORT/v1" "$PORT" >/tmp/probe-srv.log 2>&1 & pids+=($!)
fi
srv=${pids[1]}
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/${READY_PATH:-version}" && break; sleep 0.1; done
cpu() { local f; f=$(sed 's/^.*) //' /proc/$srv/stat); awk '{print $12+$13}' <<<"$f"; }
# context switches of every thread of the server (voluntary + involuntary)
csw() { cat /proc/$srv/task/*/status 2>/dev/null | awk '/ctxt_switches/{s+=$2} END{print s}'; }
round() { # stream conc
  local c0 c1 out s0 s1; c0=$(cpu); s0=$(csw)
  out=$(STREAM=$1 taskset -c 0 wrk -t1 -c"$2" -d"${DURATION}s" --latency -s "$LUA" "http://127.0.0.1:$PORT" 2>&1)
  c1=$(cpu); s1=$(csw)
  local line; line=$(grep '^RESULT' <<<"$out")
  local n rps p50 p99; n=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line"); rps=$(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line")
  p50=$(sed 's/.*p50_us=\([0-9]*\).*/\1/' <<<"$line"); p99=$(sed 's/.*p99_us=\([0-9]*\).*/\1/' <<<"$line"); local bad; bad=$(sed "s/.*non2xx=\([0-9]*\).*/\1/" <<<"$line")
  local rss; rss=$(awk '/^VmRSS:/{print int($2/1024)}' /proc/$srv/status); local thr; thr=$(awk '/^Threads:/{print $2}' /proc/$srv/status)
  printf '%-7s c=%-3s rps=%-8s p50=%-6s p99=%-7s cpu_us/r=%-5s rss=%sMB thr=%s non2xx=%s csw/r=%s\n' "$([[ $1 == 1 ]] && echo stream || echo json)" "$2" "$rps" "$p50" "$p99" \
    "$(( n > 0 ? (c1 - c0) * 10000 / n : 0 ))" "$rss" "$thr" "$bad" "$(awk -v a="$s0" -v b="$s1" -v n="$n" 'BEGIN{printf "%.2f", (n > 0) ? (b - a) / n : 0}')"
  [[ -n "${SERVER_CMD:-}" ]] || curl -s -H "Authorization: Bearer sk-bench-0000000000000000" "http://127.0.0.1:$PORT/api/v1/system/info" | grep -o "\"jit\":{[^}]*}\|\"gen0_collections\":[0-9]*\|\"gen2_collections\":[0-9]*" | tr "\n" " " && echo
}
echo "# ENVS=[$ENVS]"
for i in $(seq "$ROUNDS"); do
  if [[ "${PERF_ROUND:-}" == "$i" ]]; then perf record -F 999 -g -p "$srv" -o "${PERF_OUT:-/tmp/probe-perf.data}" -- sleep $((DURATION - 2)) >/dev/null 2>&1 & fi
  round "${STREAM:-0}" "$CONC"
done
round 0 64
round 1 16
