#!/usr/bin/env bash
# The browser playground in one command: installs what is missing
# (Emscripten, node-acorn; Debian/Ubuntu), compiles the library and the page
# to WebAssembly (web/build.sh, into web/dist/) and serves it on localhost.
# Works offline once the packages are installed (no CDN: every file is
# built or in the repository).
#
#   bash scripts/playground.sh [PORT]      (default 8000; Ctrl+C stops it)
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-8000}
log=${TMPDIR:-/tmp}/tapegrad-playground.$(id -u).log

echo "playground: checking packages (emscripten, node-acorn)" >&2
if ! command -v emcc >/dev/null 2>&1 || ! dpkg -s node-acorn >/dev/null 2>&1; then
    bash scripts/deps.sh emscripten node-acorn
fi
echo "playground: compiling the library and web/playground.c to WebAssembly (a few minutes the first time)" >&2
if ! bash web/build.sh >"$log" 2>&1; then
    echo "playground: the build failed; its last lines ($log):" >&2
    tail -n 20 "$log" >&2
    exit 1
fi
echo "playground: open http://localhost:$port/ in a browser (Ctrl+C stops the server)"
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory web/dist
