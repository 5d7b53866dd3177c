#!/usr/bin/env bash
# Builds tapegrad and runs the main demo: every formula of the five seed
# derivations checked against automatic differentiation, as a table.
#
# Only the library and the demo program are built (the test suites and the
# other examples are built by scripts/test.sh, in the same build folder).
# Meson's and ninja's output goes to build/demo-build.log, printed on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
mkdir -p build
log=build/demo-build.log
: >"$log"
quiet() { # quiet "what it does" command...
    local what=$1
    shift
    echo "demo: $what" >&2
    if ! "$@" >>"$log" 2>&1; then
        echo "demo: failed: $what (full output: $log); its last lines:" >&2
        tail -n 25 "$log" >&2
        exit 1
    fi
}
if [ ! -f build/build.ninja ]; then
    quiet "configuring (meson setup build)" meson setup build
fi
quiet "building the library and examples/derivations" ninja -C build examples/derivations
./build/examples/derivations "$@"
