#!/usr/bin/env bash
# Builds tapegrad and runs the main demo: every formula of the five seed
# derivations checked against automatic differentiation, as a table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
if [ ! -f build/build.ninja ]; then
    meson setup build
fi
ninja -C build
./build/examples/derivations "$@"
