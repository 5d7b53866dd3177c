#!/usr/bin/env bash
# Installs what building and testing tapegrad needs, if it is missing
# (Debian/Ubuntu, apt-get; as root or through sudo).  Extra package names may
# be passed as arguments (e.g. clang for the CI's second compiler).
#
# One line per step on standard error; apt-get's own output goes to a log
# file (TG_DEPS_LOG, default a file under ${TMPDIR:-/tmp}) whose path and tail
# are printed when a step fails.
set -euo pipefail
need=()
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v meson >/dev/null 2>&1 || need+=(meson)
command -v ninja >/dev/null 2>&1 || need+=(ninja-build)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
pkg-config --exists check 2>/dev/null || need+=(check)
pkg-config --exists openblas 2>/dev/null || need+=(libopenblas-dev)
pkg-config --exists zlib 2>/dev/null || need+=(zlib1g-dev)
for extra in "$@"; do
    case "$extra" in
        clang) command -v clang >/dev/null 2>&1 || need+=(clang) ;;
        *) dpkg -s "$extra" >/dev/null 2>&1 || need+=("$extra") ;;
    esac
done
((${#need[@]})) || exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
log="${TG_DEPS_LOG:-${TMPDIR:-/tmp}/tapegrad-deps.$(id -u).log}"
: >"$log"
step() { # step "what it does" command...
    local what=$1
    shift
    echo "deps: $what" >&2
    if ! "$@" >>"$log" 2>&1; then
        echo "deps: failed: $what (apt-get's output: $log); its last lines:" >&2
        tail -n 15 "$log" >&2
        exit 1
    fi
}
step "updating the package lists" $sudo apt-get update
step "installing ${need[*]}" $sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${need[@]}"
