#!/usr/bin/env bash
# Installs what building and testing tapegrad needs, if it is missing
# (Debian/Ubuntu, apt-get; as root or through sudo).  Extra package names may
# be passed as arguments (e.g. clang for the CI's second compiler).
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
if ((${#need[@]})); then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
    echo "deps: installing ${need[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
