#!/usr/bin/env bash
# Builds the playground: the library (built-in gemm, no BLAS, no MPI, no
# zlib) and web/playground.c with Emscripten into web/dist/ (git-ignored),
# or, with --native, the same sources with the host compiler into
# web/dist/native/pg_cli (the browser test's reference values).
#
#   bash web/build.sh [--native]
#
# The library's source list is read from meson.build (tg_sources), so this
# script compiles exactly what the native library has; members the glue does
# not use (the gzip IDX reader, MPI) stay out because the objects go through
# an archive.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=wasm
if [ "${1:-}" = "--native" ]; then mode=native; fi
out=web/dist
[ "$mode" = native ] && out=web/dist/native
obj=$out/obj
mkdir -p "$obj"

# Configuration of a build without BLAS, LAPACK, MPI, OpenMP or ifunc clones.
cat >"$obj/tg_config.h" <<'CONF'
#define TG_HAVE_CLONES 0
#define TG_HAVE_CBLAS 0
#define TG_HAVE_LAPACK 0
#define TG_HAVE_MPI 0
#define TG_HAVE_OPENMP 0
CONF

mapfile -t lib_srcs < <(python3 - <<'PY'
import re
text = open("meson.build").read()
block = re.search(r"tg_sources = files\((.*?)\)", text, re.S).group(1)
for name in re.findall(r"'([^']+)'", block):
    if name not in ("src/io/idx.c",):  # gzip: zlib is not in the wasm build
        print(name)
PY
)
glue_srcs=(web/expr.c web/expr_lex.c web/playground.c web/seed_table.c
    tests/seeds/sn_table.c tests/seeds/seed_nets.c tests/seeds/seed002_cnn.c)

if [ "$mode" = wasm ]; then
    # emcc -O2 runs acorn (Debian: node-acorn) through node.
    export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
    cc=emcc
    ar=emar
    cflags=(-O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror)
else
    cc=${CC:-cc}
    ar=ar
    cflags=(-O1 -g -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror)
fi
incs=(-I"$obj" -Iinclude -I. -Iweb -Itests/seeds)

# One object per source, rebuilt when the source is newer; as many
# compilations at once as there are processors.
objs=()
jobs=0
for src in "${lib_srcs[@]}"; do
    o=$obj/$(echo "$src" | tr '/' '_').o
    if [ ! -f "$o" ] || [ "$src" -nt "$o" ] || [ "$0" -nt "$o" ]; then
        "$cc" "${cflags[@]}" "${incs[@]}" -c "$src" -o "$o" &
        jobs=$((jobs + 1))
        if [ "$jobs" -ge "$(nproc)" ]; then
            wait -n
            jobs=$((jobs - 1))
        fi
    fi
    objs+=("$o")
done
while [ "$jobs" -gt 0 ]; do
    wait -n
    jobs=$((jobs - 1))
done
rm -f "$obj/libtapegrad.a"
"$ar" rcs "$obj/libtapegrad.a" "${objs[@]}"

if [ "$mode" = wasm ]; then
    exports='["_pg_evaluate","_pg_backward","_pg_gradcheck","_pg_seed_table","_pg_free","_malloc","_free"]'
    emcc "${cflags[@]}" "${incs[@]}" "${glue_srcs[@]}" "$obj/libtapegrad.a" -lm \
        -sENVIRONMENT=web -sMODULARIZE=1 -sEXPORT_NAME=createTapegrad \
        -sALLOW_MEMORY_GROWTH=1 -sEXPORTED_FUNCTIONS="$exports" \
        -sEXPORTED_RUNTIME_METHODS='["ccall","UTF8ToString"]' \
        -o "$out/tapegrad.js"
    cp web/index.html web/app.js web/graph.js web/style.css web/examples.js "$out/"
    echo "$root/$out/index.html"
else
    "$cc" "${cflags[@]}" "${incs[@]}" "${glue_srcs[@]}" web/pg_cli.c "$obj/libtapegrad.a" -lm \
        -o "$out/pg_cli"
    echo "$root/$out/pg_cli"
fi
