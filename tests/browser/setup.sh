#!/usr/bin/env bash
# Installs what the browser tests (tests/browser.rs) need on a fresh
# Debian machine: Chromium, Node.js with npm, and the pinned playwright-core
# of package-lock.json. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")"

# apt-get as root, or through sudo when there is one.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# A Chinese font: the customers' records and the agent scripts are in
# Chinese (without one, the screenshots show boxes).
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "browser tests: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# Exactly the versions of package-lock.json; no browser download (the
# tests drive Debian's /usr/bin/chromium).
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
echo "browser tests: $(chromium --version 2>/dev/null | head -1), node $(node --version), playwright-core $(node -p 'require("./node_modules/playwright-core/package.json").version')"
