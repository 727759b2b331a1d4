#!/usr/bin/env bash
# The coding-agent CLIs (npm): Claude Code and Codex, each a native binary inside its package.
# Exports LLMSERVER_TEST_AGENT_CLIENTS=<dir whose node_modules/.bin holds claude and codex>.

agent_clients_start() {
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm || return 1
  local dir
  dir="$(cd "$SERVICES_DIR/../../tests/agent-clients" && pwd)" || return 1
  if [[ ! -x "$dir/node_modules/.bin/claude" || ! -x "$dir/node_modules/.bin/codex" ]]; then
    (cd "$dir" && npm ci --no-audit --no-fund --silent >/dev/null 2>&1) || return 1
  fi
  "$dir/node_modules/.bin/claude" --version >/dev/null 2>&1 || return 1
  "$dir/node_modules/.bin/codex" --version >/dev/null 2>&1 || return 1
  export LLMSERVER_TEST_AGENT_CLIENTS="$dir"
}

agent_clients_stop() {
  :
}
