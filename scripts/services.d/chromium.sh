#!/usr/bin/env bash
# Headless Chromium from Debian for the dashboard's browser test (Playwright drives it; its own browser
# download is not used). Exports LLMSERVER_TEST_CHROMIUM=/usr/bin/chromium.

chromium_start() {
  if ! command -v chromium >/dev/null 2>&1; then
    apt_install chromium || return 1
  fi
  # Korean glyphs in the dashboard screenshot (best effort: the test does not depend on fonts).
  apt_install fonts-noto-cjk || true
  export LLMSERVER_TEST_CHROMIUM
  LLMSERVER_TEST_CHROMIUM=$(command -v chromium)
  # Playwright's bundled driver must not try to download browsers.
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
}

chromium_stop() {
  :
}
