#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, -fsanitize=fuzzer,address,undefined)
# and runs each for FUZZ_SECONDS (default 60) starting from the seed corpus in
# tests/fuzz/corpus/<harness>/.  Fails on any crash, leak, timeout or
# sanitizer report; the input that caused it is left in
# <build>/fuzz-out/<harness>/crash-* (or leak-*, timeout-*) for reproduction:
#   <build>/tests/fuzz/<harness> <that file>
# Usage: scripts/fuzz.sh [build-dir] [extra meson setup options...]
#   (default build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-fuzz}"
shift || true
seconds="${FUZZ_SECONDS:-60}"

# clang and its runtime libraries (libFuzzer is libclang-rt-14-dev on Debian 12)
bash scripts/deps.sh clang
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; (void)n; return 0; }' |
    clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
    ver="$(clang -dumpversion | cut -d. -f1)"
    bash scripts/deps.sh "libclang-rt-${ver}-dev"
fi

if [ ! -d "$build" ]; then
    CC=clang meson setup "$build" -Dfuzz=true -Dtests=false -Dexamples=false "$@"
fi
meson compile -C "$build"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
for h in fuzz_graph fuzz_safetensors fuzz_idx; do
    exe="$build/tests/fuzz/$h"
    [ -x "$exe" ] || { echo "fuzz: $exe missing" >&2; status=1; continue; }
    # new inputs go to a scratch corpus in the build directory; the seed
    # corpus in the repository is only read
    work="$build/fuzz-out/$h"
    mkdir -p "$work/corpus"
    log="$work/log.txt"
    echo "=== $h: ${seconds}s"
    if "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/" "$work/corpus" "tests/fuzz/corpus/$h" >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true
        grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec' "$log" || true
    else
        echo "fuzz: $h FAILED; last lines of $log:" >&2
        tail -40 "$log" >&2
        ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null >&2 || true
        status=1
    fi
done
exit "$status"
