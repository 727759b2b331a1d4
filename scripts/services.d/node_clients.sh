#!/usr/bin/env bash
# The official OpenAI and Anthropic Node SDKs (npm) as a second real client for the tests.
# Exports LLMSERVER_TEST_NODE_CLIENTS=<dir with clients.mjs and node_modules>.

node_clients_start() {
  command -v node >/dev/null 2>&1 || apt_install nodejs npm || return 1
  local dir
  dir="$(cd "$SERVICES_DIR/../../tests/node-clients" && pwd)" || return 1
  if [[ ! -d "$dir/node_modules/openai" || ! -d "$dir/node_modules/@anthropic-ai/sdk" ]]; then
    (cd "$dir" && npm ci --no-audit --no-fund --silent >/dev/null 2>&1) || return 1
  fi
  export LLMSERVER_TEST_NODE_CLIENTS="$dir"
}

node_clients_stop() {
  :
}
