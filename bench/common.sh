# common.sh -- sourced by compare.sh and b6_seeds.sh (POSIX sh), after they
# set ROOT (the repository).
#
# PEERS (../shared/peers) and PY (PYTHON, else /usr/bin/python3), unless set.
PEERS=${PEERS:-$ROOT/../shared/peers}
[ -d "$PEERS" ] || PEERS=/work/shared/peers
# shellcheck disable=SC2034 # used by the scripts that source this
PY=${PYTHON:-/usr/bin/python3}

# build_bench: the release bench build in $ROOT/build-bench, made or brought
# to these options, then built.  Link-time optimisation lets the scalar path
# (B1) inline the tape's small helpers across files; it changes no result.
# Tests and examples are left out: linking each of them with LTO took most
# of the time of a compare.sh run.
build_bench() {
    if [ ! -d "$ROOT/build-bench" ]; then
        meson setup "$ROOT/build-bench" "$ROOT" -Dbench=true -Dbuildtype=release -Db_lto=true \
            -Dtests=false -Dexamples=false >/dev/null
    else
        meson configure "$ROOT/build-bench" -Dbench=true -Dbuildtype=release -Db_lto=true \
            -Dtests=false -Dexamples=false >/dev/null
    fi
    ninja -C "$ROOT/build-bench" >/dev/null
}

# coretype_auto BENCH_DIR: when OPENBLAS_CORETYPE is unset and OpenBLAS
# would run its generic kernels on this CPU (releases before 0.3.25 do on
# CPU models they do not know: 2-4x slower sgemm for every program, peers
# included), export the kernels tapegrad advises, as bench_b3's "# gemm
# warning" line names them, and set CORETYPE_ADVISED to that name; else
# leave both as they are (CORETYPE_ADVISED empty).
coretype_auto() {
    CORETYPE_ADVISED=""
    [ -z "${OPENBLAS_CORETYPE+x}" ] || return 0
    CORETYPE_ADVISED=$("$1/bench_b3" --batch 16 --reps 1 --warmup 0 |
        sed -n 's/^# gemm warning: .*OPENBLAS_CORETYPE=\([A-Za-z0-9]*\).*/\1/p')
    if [ -n "$CORETYPE_ADVISED" ]; then
        OPENBLAS_CORETYPE=$CORETYPE_ADVISED
        export OPENBLAS_CORETYPE
    fi
}
