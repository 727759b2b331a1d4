#!/usr/bin/env bash
# redis-server on loopback for the Redis masking vault tests (sourced by scripts/services.sh).
# Exports LLMSERVER_TEST_REDIS=127.0.0.1:PORT; tests that need it are skipped when it is unset.

REDIS_TEST_DIR=""
REDIS_TEST_PORT=""

redis_start() {
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server || return 1
  fi
  command -v redis-server >/dev/null 2>&1 || return 1
  REDIS_TEST_DIR=$(mktemp -d -t llmserver-redis-XXXXXX)
  # A free port chosen by the OS, so parallel runs never collide.
  REDIS_TEST_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000)))
  redis-server --bind 127.0.0.1 --port "$REDIS_TEST_PORT" --dir "$REDIS_TEST_DIR" --save "" --appendonly no \
    --daemonize yes --pidfile "$REDIS_TEST_DIR/redis.pid" --logfile "$REDIS_TEST_DIR/redis.log" || return 1
  local i
  for i in $(seq 1 50); do
    if redis-cli -h 127.0.0.1 -p "$REDIS_TEST_PORT" ping 2>/dev/null | grep -q PONG; then
      export LLMSERVER_TEST_REDIS="127.0.0.1:$REDIS_TEST_PORT"
      return 0
    fi
    sleep 0.1
  done
  redis_stop
  return 1
}

redis_stop() {
  if [[ -n "$REDIS_TEST_PORT" ]]; then
    redis-cli -h 127.0.0.1 -p "$REDIS_TEST_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
  if [[ -n "$REDIS_TEST_DIR" && -f "$REDIS_TEST_DIR/redis.pid" ]]; then
    kill "$(cat "$REDIS_TEST_DIR/redis.pid")" 2>/dev/null || true
  fi
  [[ -n "$REDIS_TEST_DIR" ]] && rm -rf "$REDIS_TEST_DIR"
  unset LLMSERVER_TEST_REDIS
  REDIS_TEST_DIR=""
  REDIS_TEST_PORT=""
  return 0
}
