#!/usr/bin/env bash
# Builds the Debian packages (libtapegrad0, libtapegrad-dev) from a copy of
# the tracked files, checks them with lintian (errors fail), installs them,
# builds the README's first program against them with pkg-config, runs it and
# removes the packages again.  Needs root or sudo (apt-get, dpkg -i).
# Usage: bash scripts/deb_check.sh [work-dir]   (default: a temp folder)
# DEB_BUILD_OPTIONS=nocheck skips the test suite inside the package build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
bash "$root/scripts/deps.sh" debhelper dpkg-dev lintian fakeroot

version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
src="$work/tapegrad-$version"
rm -rf "$src" && mkdir -p "$src"
git -C "$root" ls-files -z --cached --others --exclude-standard | (cd "$root" && xargs -0 cp --parents -t "$src")

echo "deb: dpkg-buildpackage -us -uc -b (log: $work/build.log)"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log"
    exit 1
fi
changes=$(ls "$work"/tapegrad_"$version"_*.changes)
echo "deb: lintian (errors fail; warnings are printed)"
lintian --fail-on error --tag-display-limit 0 "$changes" | tee "$work/lintian.log"

echo "deb: install the packages, build and run a program against them"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    "$work"/libtapegrad0_"$version"_*.deb "$work"/libtapegrad-dev_"$version"_*.deb \
    >"$work/install.log" 2>&1 || { tail -n 20 "$work/install.log"; exit 1; }
cc=${CC:-cc}
# shellcheck disable=SC2046 # pkg-config's output is a list of flags
$cc -std=c11 -o "$work/outside" "$root/examples/sigmoid_neuron.c" \
    $(pkg-config --cflags --libs tapegrad) -lm
env -u LD_LIBRARY_PATH "$work/outside" >"$work/outside.out"
grep -q 'dy/dw' "$work/outside.out"
$sudo dpkg -r libtapegrad-dev libtapegrad0 >/dev/null
echo "deb: packages built, lintian clean of errors, installed program runs"
