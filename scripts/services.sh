#!/usr/bin/env bash
# Sourced by scripts/test.sh. Starts the real servers some tests use (redis-server, postgresql, chromium),
# installing them from Debian when missing, on loopback only, with throwaway data directories.
# Each scripts/services.d/NAME.sh defines NAME_start and NAME_stop; NAME_start exports what tests read
# (e.g. LLMSERVER_TEST_REDIS, LLMSERVER_TEST_PG). A test whose variable is unset is skipped and says why.
# LLMSERVER_SKIP_SERVICES=1 starts none of them.

SERVICES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/services.d"
SERVICES_STARTED=()
APT_UPDATED=0

# apt_install PKG...: installs Debian packages that are missing (apt-get update once).
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $APT_UPDATED -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1
}

services_start() {
  if [[ "${LLMSERVER_SKIP_SERVICES:-0}" == "1" ]]; then
    echo "services: skipped (LLMSERVER_SKIP_SERVICES=1)"
    return 0
  fi
  local f name
  for f in "$SERVICES_DIR"/*.sh; do
    [[ -e "$f" ]] || continue
    # shellcheck source=/dev/null
    source "$f"
    name=$(basename "$f" .sh)
    if "${name}_start"; then
      SERVICES_STARTED+=("$name")
      echo "services: $name started"
    else
      echo "services: $name could not start; its tests will be skipped"
    fi
  done
}

services_stop() {
  local name
  for name in "${SERVICES_STARTED[@]}"; do "${name}_stop" || true; done
}
