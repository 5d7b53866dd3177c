#!/usr/bin/env bash
# Builds tapegrad and runs the whole test suite (installs missing packages).
# Usage: bash scripts/test.sh [build-dir] [extra meson setup options...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
dir="${1:-build}"
shift || true
if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@"
fi
ninja -C "$dir"
# --verbose streams each suite's Check summary ("100%: Checks: N, ...").
meson test -C "$dir" --verbose --num-processes 2
