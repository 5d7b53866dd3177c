#!/usr/bin/env bash
# The playground's browser test: installs what is missing (Emscripten,
# node-acorn, Chromium, Node and npm; Debian/Ubuntu), builds the page to
# WebAssembly and the same C natively (the reference values), installs the
# driver from web/test/package-lock.json (npm ci) and runs web/test/e2e.mjs
# in headless Chromium.  Screenshots go to web/dist/shots/, or to the folder
# given with --shots.
#
#   bash scripts/browser_test.sh [--shots DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(emscripten node-acorn chromium)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
bash scripts/deps.sh "${pkgs[@]}"
echo "browser_test: building web/dist (WebAssembly) and web/dist/native (reference)" >&2
bash web/build.sh
bash web/build.sh --native
echo "browser_test: npm ci (playwright-core, driving /usr/bin/chromium)" >&2
(cd web/test && npm ci --no-audit --no-fund --loglevel=error)
node web/test/e2e.mjs "$@"
