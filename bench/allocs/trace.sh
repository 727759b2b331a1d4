#!/usr/bin/env bash
# Allocations per request on the hot path: warms the server 30 s at json c=64, records 9 s of dotnet-trace
# (gc-verbose: one AllocationTick per ~100 KB) under the same load, prints the request count; then
#   dotnet run -c Release --project bench/allocs -- /tmp/alloc.nettrace REQUESTS
# prints bytes per request by type and by the nearest frame of interest. Needs dotnet-trace (dotnet tool install -g dotnet-trace).
#   SERVER_CMD="env PUBLISH=/tmp/pub bash bench/gateway/start-llmserver.sh {UPSTREAM} {PORT}" bash bench/allocs/trace.sh
set -uo pipefail
UP=28380; PORT=28383; OUT=${OUT:-/tmp/alloc.nettrace}
taskset -c 1 /tmp/gwbench-fake-upstream/fake-upstream $UP >/tmp/at-up.log 2>&1 & upid=$!
rm -rf /tmp/llmserver-gw-bench-data
cmd=${SERVER_CMD//\{UPSTREAM\}/http://127.0.0.1:$UP/v1}; cmd=${cmd//\{PORT\}/$PORT}
taskset -c 1 bash -c "exec $cmd" >/tmp/at-srv.log 2>&1 & spid=$!
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:$PORT/health && break; sleep 0.1; done
STREAM=${STREAM:-0} taskset -c 0 wrk -t1 -c64 -d${WARM:-30}s -s /work/shared/bench/wrk/chat.lua http://127.0.0.1:$PORT >/dev/null 2>&1
~/.dotnet/tools/dotnet-trace collect -p $spid --profile gc-verbose --duration 00:00:00:09 -o $OUT >/tmp/at-trace.log 2>&1 & tp=$!
sleep 0.5
out=$(STREAM=${STREAM:-0} taskset -c 0 wrk -t1 -c64 -d8s -s /work/shared/bench/wrk/chat.lua http://127.0.0.1:$PORT 2>&1)
wait $tp
echo "$out" | grep -o 'requests=[0-9]*'
kill $spid $upid; wait 2>/dev/null
