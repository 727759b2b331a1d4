#!/usr/bin/env bash
# Where one LlmServer build spends its CPU at steady state: warms it with json or stream traffic, then samples the
# server with perf (perf maps on) while wrk runs, and prints the top symbols as CPU µs per request (samples x
# sampling period / requests), so two builds' lists can be compared line by line.
#   PUBLISH=/tmp/pub bash bench/gateway/profile.sh            # json c=16
#   STREAM=1 WARM_SECONDS=60 TOP=60 PUBLISH=/tmp/pub bash bench/gateway/profile.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STREAM=${STREAM:-0}; CONC=${CONC:-16}; WARM_SECONDS=${WARM_SECONDS:-45}; SECONDS_SAMPLED=${SECONDS_SAMPLED:-10}; TOP=${TOP:-40}; FREQ=${FREQ:-997}
LUA=${LUA:-/work/shared/bench/wrk/chat.lua}
UP_PORT=${UP_PORT:-28680}; PORT=${PORT:-28683}
command -v perf >/dev/null || die "perf is missing (apt-get install linux-perf)"
need_publish
# NOTE: W^X off so that the JIT'd code runs where the perf map says it is (with it on, it runs from a second mapping)
ENVS="DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 $ENVS"
start_upstream upstream "$UP_PORT"
start_llmserver llmserver "http://127.0.0.1:$UP_PORT/v1" "$PORT"
STREAM=$STREAM warm "$SRV_PID" "$CONC" "$WARM_SECONDS" "$LUA" "$SRV_URL"
perf record -q -F "$FREQ" -p "$SRV_PID" -o "$LOGS/perf.data" -- sleep "$((SECONDS_SAMPLED + 1))" >/dev/null 2>&1 &
perf_pid=$!
sleep 0.5
STREAM=$STREAM measure "$SRV_PID" "$CONC" "$SECONDS_SAMPLED" "$LUA" "$SRV_URL"
wait "$perf_pid" || true
n=$(kv requests "$RESULT")
echo "# $( ((STREAM)) && echo stream || echo json) c=$CONC after ${WARM_SECONDS}s: $n requests, $CPU_US us/request (process CPU); perf at $FREQ Hz"
# samples per symbol -> us per request (samples / FREQ s / n requests); then the same summed per library
perf report -i "$LOGS/perf.data" --no-children --sort dso,sym --stdio -q -F sample,dso,sym 2>/dev/null \
  | awk -v n="$n" -v f="$FREQ" 'NF >= 3 && $1 ~ /^[0-9]+$/ {
      us = $1 / f * 1e6 / n; sym = ""; for (i = 4; i <= NF; i++) sym = sym " " $i
      if ($2 ~ /\.dll$/ && sym ~ /0x0/) sym = " (ReadyToRun code)"
      key = sprintf("%-30s%s", substr($2, 1, 30), sym); by[key] += us; dso[$2] += us; all += us
      if ($2 == "[JIT]") { asm = "(stubs and runtime helpers)"; if (match(sym, /\[[A-Za-z][A-Za-z0-9.]*\]/)) asm = substr(sym, RSTART, RLENGTH); jit[asm] += us } }
    END {
      for (k in by) printf "%7.2f us  %s\n", by[k], k | "sort -rn | head -n '"$TOP"'"
      close("sort -rn | head -n '"$TOP"'")
      print "# per library"
      for (d in dso) printf "%7.2f us  %s\n", dso[d], d | "sort -rn | head -n 15"
      close("sort -rn | head -n 15")
      print "# JIT-compiled code per assembly (the first assembly named in the method signature)"
      for (a in jit) printf "%7.2f us  %s\n", jit[a], a | "sort -rn | head -n 25"
      close("sort -rn | head -n 25")
      printf "%7.2f us  in all sampled code\n", all }'
