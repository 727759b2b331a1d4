#!/usr/bin/env bash
# Sourced by scripts/test.sh. Installs (Debian packages) and starts the real servers some tests use,
# on loopback only, with throwaway data directories. Exports the variables the tests read.
# Set LLMSERVER_SKIP_SERVICES=1 to run without them (those tests are then skipped, and say why).

services_start() {
  if [[ "${LLMSERVER_SKIP_SERVICES:-0}" == "1" ]]; then
    echo "services: skipped (LLMSERVER_SKIP_SERVICES=1)"
    return 0
  fi
  : # filled in by the operations work (redis-server, postgresql, chromium)
}

services_stop() {
  :
}
