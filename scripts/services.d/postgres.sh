#!/usr/bin/env bash
# PostgreSQL for tests: a throwaway cluster on 127.0.0.1 (free port), unix sockets in its temp dir.
# postgres_start exports LLMSERVER_TEST_PG (an Npgsql connection string); postgres_stop removes everything.

_pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [[ -x "$d/initdb" ]] && { echo "$d"; return 0; }; done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

_pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}

postgres_start() {
  local bin
  bin=$(_pg_bindir) || { apt_install postgresql >/dev/null 2>&1; bin=$(_pg_bindir) || return 1; }
  PG_TMP=$(mktemp -d /tmp/llmserver-pg.XXXXXX)
  PG_PORT=$(_pg_free_port)
  PG_PASSWORD="llms_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  local run=()
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres >/dev/null 2>&1 || return 1
    chown postgres "$PG_TMP"
    chmod 700 "$PG_TMP"
    run=(runuser -u postgres --)
  fi
  echo "$PG_PASSWORD" >"$PG_TMP/pw"
  [[ $(id -u) -eq 0 ]] && chown postgres "$PG_TMP/pw"
  "${run[@]}" "$bin/initdb" -D "$PG_TMP/data" -U llmserver --pwfile="$PG_TMP/pw" -A scram-sha-256 \
    -E UTF8 --no-locale >"$PG_TMP/initdb.log" 2>&1 || { cat "$PG_TMP/initdb.log" >&2; return 1; }
  rm -f "$PG_TMP/pw"
  "${run[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_TMP -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null 2>&1 || { cat "$PG_TMP/server.log" >&2; return 1; }
  local i
  for i in $(seq 1 50); do
    "$bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1 && break
    sleep 0.2
  done
  PGPASSWORD="$PG_PASSWORD" "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U llmserver llmserver_test >/dev/null 2>&1 || return 1
  PG_BIN="$bin"
  export LLMSERVER_TEST_PG="Host=127.0.0.1;Port=$PG_PORT;Username=llmserver;Password=$PG_PASSWORD;Database=llmserver_test"
}

postgres_stop() {
  [[ -n "${PG_TMP:-}" && -d "$PG_TMP" ]] || return 0
  local run=()
  [[ $(id -u) -eq 0 ]] && run=(runuser -u postgres --)
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_TMP"
  unset LLMSERVER_TEST_PG PG_TMP
}
