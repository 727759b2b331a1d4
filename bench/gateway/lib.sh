# Shared by cold.sh, bodies.sh, soak.sh and slowstreams.sh (sourced, not run): starting the fake upstream and
# the servers pinned to CPU 1, wrk pinned to CPU 0 (probe.sh's convention), reading a process's CPU and RSS,
# and stopping exactly the processes the script started.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PUBLISH=${PUBLISH:-/tmp/llmserver-gw-r2r}
UP_BIN=${UP_BIN:-/tmp/gwbench-fake-upstream/fake-upstream}
FLOOR_OUT=${FLOOR_OUT:-/tmp/llmserver-floor}
BENCH_KEY=sk-bench-0000000000000000
export BENCH_LUA_DIR="$HERE"
ENVS=${ENVS:-}
TICK=$(getconf CLK_TCK)
LOGS=${LOGS:-$(mktemp -d "/tmp/llmserver-bench-$(basename "$0" .sh).XXXX")}
mkdir -p "$LOGS"
STARTED=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

stop_pid() { # pid: TERM, then KILL after 5 s
  local p=$1
  kill -TERM "$p" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
bench_cleanup() {
  local p
  for p in "${STARTED[@]}"; do stop_pid "$p"; done
  STARTED=()
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

need_publish() {
  [[ -f "$PUBLISH/LlmServer.Api.dll" ]] || die "no LlmServer publish in $PUBLISH; make one with:
  dotnet publish src/LlmServer.Api -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o $PUBLISH"
  [[ -x "$UP_BIN" ]] || die "no fake upstream at $UP_BIN; build it with: bash /work/shared/bench/run.sh --setup"
  command -v wrk >/dev/null || die "wrk is missing (bash /work/shared/bench/run.sh --setup installs it)"
  command -v jq >/dev/null || die "jq is missing (apt-get install jq)"
}

need_floor() {
  [[ -f "$FLOOR_OUT/Floor.dll" ]] && return 0
  log "publishing bench/floor to $FLOOR_OUT"
  dotnet publish "$ROOT/bench/floor" -c Release -o "$FLOOR_OUT" -nologo -v q >/dev/null
}

wait_http() { # url seconds: 0 once it answers (any status)
  local url=$1 t=$2
  for _ in $(seq $((t * 100))); do
    curl -s -o /dev/null --max-time 1 "$url" && return 0
    sleep 0.01
  done
  return 1
}

port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }

# start_upstream NAME PORT [VAR=value ...]: the shared fake upstream on CPU 1; sets UP_PID
start_upstream() {
  local name=$1 port=$2; shift 2
  port_free "$port" || die "port $port is in use"
  env "$@" taskset -c 1 "$UP_BIN" "$port" >"$LOGS/$name.log" 2>&1 &
  UP_PID=$!; STARTED+=("$UP_PID")
  wait_http "http://127.0.0.1:$port/healthz" 20 || die "fake upstream $name did not start (see $LOGS/$name.log)"
}

# start_llmserver NAME UPSTREAM_V1_URL PORT [--setting=value ...]: LlmServer as shipped (start-llmserver.sh) on
# CPU 1, ENVS in its environment, its own empty data directory; sets SRV_PID, SRV_URL and READY_MS (ms from
# exec until GET /version answers)
start_llmserver() {
  local name=$1 upstream=$2 port=$3; shift 3
  port_free "$port" || die "port $port is in use"
  local data="$LOGS/data-$name"; rm -rf "$data"
  local t0; t0=$(date +%s%N)
  # shellcheck disable=SC2086
  env $ENVS BENCH_DATA_DIR="$data" PUBLISH="$PUBLISH" taskset -c 1 bash "$HERE/start-llmserver.sh" "$upstream" "$port" "$@" \
    >"$LOGS/$name.log" 2>&1 &
  SRV_PID=$!; STARTED+=("$SRV_PID"); SRV_URL="http://127.0.0.1:$port"
  for _ in $(seq 3000); do
    curl -s -o /dev/null -f "$SRV_URL/version" && break
    kill -0 "$SRV_PID" 2>/dev/null || die "$name exited (see $LOGS/$name.log)"
    sleep 0.01
  done
  READY_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
  curl -s -o /dev/null -f "$SRV_URL/version" || die "$name not ready after 30 s (see $LOGS/$name.log)"
}

# start_floor UPSTREAM_V1_URL PORT: bench/floor on CPU 1 with the gen0 budget LlmServer gets; sets SRV_PID, SRV_URL
start_floor() {
  local upstream=$1 port=$2
  port_free "$port" || die "port $port is in use"
  env DOTNET_GCgen0size=0x800000 taskset -c 1 dotnet "$FLOOR_OUT/Floor.dll" --urls "http://127.0.0.1:$port" --upstream "$upstream" \
    >"$LOGS/floor.log" 2>&1 &
  SRV_PID=$!; STARTED+=("$SRV_PID"); SRV_URL="http://127.0.0.1:$port"
  wait_http "$SRV_URL/" 30 || die "floor did not start (see $LOGS/floor.log)"
}

# stop_server PID: stops one started process and forgets it
stop_server() {
  local p=$1 keep=() q
  stop_pid "$p"
  for q in "${STARTED[@]}"; do [[ $q == "$p" ]] || keep+=("$q"); done
  STARTED=("${keep[@]}")
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime of every thread, in clock ticks
rss_mb() { awk '/^VmRSS:/{printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
hwm_mb() { awk '/^VmHWM:/{printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
status_mb() { awk -v k="$2:" '$1 == k {printf "%.1f", $2 / 1024}' "/proc/$1/status"; } # pid field (RssAnon, RssFile)
threads_of() { awk '/^Threads:/{print $2}' "/proc/$1/status"; }

# kv KEY LINE: the value of KEY=value in a RESULT line
kv() { sed -nE "s/.*(^| )$1=([^ ]*).*/\2/p" <<<"$2"; }

# measure PID CONC SECONDS LUA URL [VAR=value ...]: one wrk run on CPU 0 (WRK_TIMEOUT, default 10s, is how long
# an answer may take and still count); sets RESULT (the lua script's RESULT
# line), TICKS (the server's CPU clock ticks during the run) and CPU_US (its CPU microseconds per request)
measure() {
  local pid=$1 conc=$2 secs=$3 lua=$4 url=$5; shift 5
  local c0 c1 out
  c0=$(cpu_ticks "$pid")
  out=$(env "$@" taskset -c 0 wrk -t1 -c"$conc" -d"${secs}s" --timeout "${WRK_TIMEOUT:-10s}" --latency -s "$lua" "$url" 2>&1 || true)
  c1=$(cpu_ticks "$pid"); TICKS=$((c1 - c0))
  RESULT=$(grep '^RESULT' <<<"$out" || true)
  [[ -n "$RESULT" ]] || { log "wrk gave no RESULT: ${out:0:400}"; RESULT="RESULT requests=0 rps=0 p50_us=0 p99_us=0 non2xx=0 errors=0"; }
  local n; n=$(kv requests "$RESULT")
  CPU_US=$(awk -v d="$TICKS" -v hz="$TICK" -v n="$n" 'BEGIN{ if (n > 0) printf "%.0f", d * 1e6 / hz / n; else print "-" }')
}

# warm PID CONC SECONDS LUA URL [VAR=value ...]: load that is not measured
warm() {
  local conc=$2 secs=$3 lua=$4 url=$5; shift 5
  env "$@" taskset -c 0 wrk -t1 -c"$conc" -d"${secs}s" --timeout 10s -s "$lua" "$url" >/dev/null 2>&1 || true
}

# system_info URL JQ_FILTER: a field of GET /api/v1/system/info (GC heap, JIT counts), "-" when not available
system_info() {
  curl -s --max-time 5 -H "Authorization: Bearer $BENCH_KEY" "$1/api/v1/system/info" | jq -r "$2 // \"-\"" 2>/dev/null || echo -
}
