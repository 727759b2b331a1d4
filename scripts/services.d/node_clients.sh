#!/usr/bin/env bash
# The official OpenAI and Anthropic Node SDKs, the Vercel AI SDK and LangChain JS (npm) as real clients for the tests.
# Exports LLMSERVER_TEST_NODE_CLIENTS=<dir with clients.mjs and node_modules>.

node_clients_start() {
  command -v node >/dev/null 2>&1 || apt_install nodejs npm || return 1
  local dir
  dir="$(cd "$SERVICES_DIR/../../tests/node-clients" && pwd)" || return 1
  # NOTE: reinstall when any dependency of package.json is missing (a node_modules from before a package was added).
  if ! (cd "$dir" && node -e 'const fs=require("fs");for (const d of Object.keys(require("./package.json").dependencies)) if (!fs.existsSync("node_modules/"+d+"/package.json")) process.exit(1)') 2>/dev/null; then
    (cd "$dir" && npm ci --no-audit --no-fund --silent >/dev/null 2>&1) || return 1
  fi
  export LLMSERVER_TEST_NODE_CLIENTS="$dir"
}

node_clients_stop() {
  :
}
