#!/usr/bin/env bash
# Checks the three ways an outside program uses tapegrad (docs/install.md),
# each by building examples/sigmoid_neuron.c (the README's first program)
# outside the project and running it:
#   1. installed into a prefix: `meson install`, then `cc ... $(pkg-config
#      --cflags --libs tapegrad)`, run with no LD_LIBRARY_PATH (the rpath the
#      pkg-config file carries for a non-system prefix);
#   2. an uninstalled build tree: PKG_CONFIG_PATH=<build>/meson-uninstalled;
#   3. a Meson subproject: dependency('tapegrad') in a parent project.
# Usage: bash scripts/install_check.sh [work-dir]   (default: a temp folder)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
prog="$root/examples/sigmoid_neuron.c"
cc=${CC:-cc}
lean=(-Dtests=false -Dexamples=false -Dbench=false)

echo "install: 1. meson install into $work/prefix, pkg-config, no LD_LIBRARY_PATH"
meson setup "$work/build" "$root" --prefix="$work/prefix" "${lean[@]}" >"$work/setup.log"
ninja -C "$work/build" >"$work/ninja.log"
meson install -C "$work/build" >"$work/install.log"
pc=$(dirname "$(find "$work/prefix" -name tapegrad.pc | head -n 1)")
# shellcheck disable=SC2046 # pkg-config's output is a list of flags
PKG_CONFIG_PATH="$pc" $cc -std=c11 -o "$work/installed" "$prog" \
    $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs tapegrad) -lm
env -u LD_LIBRARY_PATH "$work/installed" >"$work/installed.out"
grep -q 'dy/dw' "$work/installed.out"

echo "install: 2. the uninstalled build tree (meson-uninstalled/tapegrad-uninstalled.pc)"
unpc="$work/build/meson-uninstalled"
# shellcheck disable=SC2046
$cc -std=c11 -o "$work/uninstalled" "$prog" \
    $(PKG_CONFIG_PATH="$unpc" pkg-config --cflags --libs tapegrad) -lm \
    -Wl,-rpath,"$work/build"
"$work/uninstalled" >"$work/uninstalled.out"
grep -q 'dy/dw' "$work/uninstalled.out"

echo "install: 3. a Meson subproject (dependency('tapegrad'))"
parent="$work/parent"
mkdir -p "$parent/subprojects"
ln -sfn "$root" "$parent/subprojects/tapegrad"
cp "$prog" "$parent/main.c"
cat >"$parent/meson.build" <<'MESON'
project('outside', 'c', default_options : ['c_std=c11'])
tapegrad_dep = dependency('tapegrad', fallback : ['tapegrad', 'tapegrad_dep'],
  default_options : ['tests=false', 'examples=false', 'bench=false'])
executable('outside', 'main.c', dependencies : [tapegrad_dep,
  meson.get_compiler('c').find_library('m', required : false)])
MESON
meson setup "$parent/build" "$parent" >"$work/parent-setup.log"
ninja -C "$parent/build" >"$work/parent-ninja.log"
"$parent/build/outside" >"$work/parent.out"
grep -q 'dy/dw' "$work/parent.out"
echo "install: all three ways build and run"
