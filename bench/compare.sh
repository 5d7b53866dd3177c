#!/bin/sh
# compare.sh -- tapegrad's B1-B5 and B7 lines beside the peers', in one session, and
# a table of ratios (tapegrad / peer, tapegrad / limit).
#
#   sh bench/compare.sh                   # 2 rounds (about 10 minutes on 2 cores)
#   sh bench/compare.sh --rounds 3        # more rounds; each number is the median over rounds
#   sh bench/compare.sh --quick           # fewer repetitions per program
#   sh bench/compare.sh --no-torch        # skip PyTorch even when it is importable
#   sh bench/compare.sh --log FILE        # keep every raw line (default: a temp file, printed path)
#   sh bench/compare.sh --table FILE      # only print the table of a kept log
#   sh bench/compare.sh --coretype keep   # OpenBLAS kernels: keep (the environment's),
#                                         # auto (default: see below) or a name (SkylakeX)
#
# It builds the release bench build (build-bench/, -Dbench=true
# -Dbuildtype=release -Db_lto=true) and the peers of ../shared/peers into a temp folder:
# limits.c always, adolc_rosenbrock.cpp when ADOL-C's headers are installed,
# torch_bench.py when /usr/bin/python3 (or $PYTHON) can import torch.  Within a
# round each workload's tapegrad program runs right before its peers, so a
# ratio compares lines taken seconds apart.  Raw lines are tagged with their
# source ("tapegrad|", "limits|", "adolc|", "torch|") in the log.
#
# OpenBLAS chooses its kernels when it is loaded, from OPENBLAS_CORETYPE or its
# own detection; releases before 0.3.25 fall back to generic SSE3 kernels
# ("Prescott") on CPU models they do not know, 2-4x slower sgemm for every
# program, peers and limits included.  With --coretype auto (the default), when
# OPENBLAS_CORETYPE is unset and tapegrad's tg_gemm_slow_kernels says so, every
# program runs with the kernels it advises (the log's header says which).
#
# Environment: PYTHON, CC (gcc), CXX (g++), PEERS (../shared/peers).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
. "$HERE/common.sh"
CC=${CC:-gcc}
CXX=${CXX:-g++}
ROUNDS=2
QUICK=0
TORCH=1
LOG=""
TABLE=""
CORETYPE=auto
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift ;;
        --quick) QUICK=1 ;;
        --no-torch) TORCH=0 ;;
        --log) LOG=$2; shift ;;
        --table) TABLE=$2; shift ;;
        --coretype) CORETYPE=$2; shift ;;
        -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

if [ -n "$TABLE" ]; then
    RUNS=0
else
    RUNS=1
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tg-compare.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
do_runs() {
[ -n "$LOG" ] || LOG=$(mktemp "${TMPDIR:-/tmp}/tg-compare-log.XXXXXX")
: > "$LOG"

say() { echo "# $*" | tee -a "$LOG" >&2; }

say "compare.sh $(date -u '+%Y-%m-%dT%H:%M:%SZ') rounds=$ROUNDS quick=$QUICK"
say "cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')\" nproc=$(nproc)"
say "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
say "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') cc=\"$($CC --version | head -n1)\""

# ---- build (common.sh) ----------------------------------------------------------
build_bench
BB=$ROOT/build-bench/bench

$CC -O3 -march=native -fopenmp "$PEERS/limits.c" -o "$WORK/limits" -lopenblas -lm
ADOLC=0
if [ -f /usr/include/adolc/adolc.h ] &&
    $CXX -O2 "$PEERS/adolc_rosenbrock.cpp" -o "$WORK/adolc_rosenbrock" -ladolc 2>/dev/null; then
    ADOLC=1
fi
if [ "$TORCH" = 1 ] && ! "$PY" -c 'import torch' 2>/dev/null; then TORCH=0; fi
say "peers: limits adolc=$ADOLC torch=$TORCH"

# ---- OpenBLAS kernels (see the header) ----------------------------------------------
case "$CORETYPE" in
keep) ;;
auto)
    coretype_auto "$BB"
    if [ -n "$CORETYPE_ADVISED" ]; then
        say "OpenBLAS would run its generic kernels here: OPENBLAS_CORETYPE=$CORETYPE_ADVISED for every program"
    fi ;;
*) export OPENBLAS_CORETYPE="$CORETYPE" ;;
esac
say "OpenBLAS: $("$BB/bench_b3" --batch 16 --reps 1 --warmup 0 | sed -n 's/^# gemm //p' | head -n 1)"

if [ "$QUICK" = 1 ]; then
    B1R=3 B2R=3 STEPR=30 LIMR=21 ADR=5 TR=21 B7R=5
else
    B1R=7 B2R=7 STEPR=100 LIMR=51 ADR=11 TR=101 B7R=20
fi

# run TAG CMD... : tag each BENCHMARKS.md line (and # line) with its source
run() {
    tag=$1
    shift
    ("$@" 2>&1 || echo "# $tag: exit $?") | sed "s/^/$tag|/" >> "$LOG"
}

# ---- rounds: each workload's tapegrad program, then its peers --------------------
cd "$WORK" # ADOL-C may write tape files into the working directory
r=1
while [ "$r" -le "$ROUNDS" ]; do
    say "round $r load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
    echo "round|$r" >> "$LOG"
    run tapegrad "$BB/bench_b1" --reps $B1R
    run tapegrad "$BB/bench_b1_stape" --reps $B1R
    [ "$ADOLC" = 1 ] && run adolc "$WORK/adolc_rosenbrock" --reps $ADR
    run limits "$WORK/limits" --only B1 --reps $LIMR
    for t in 1 2; do run tapegrad "$BB/bench_b2" --threads $t --reps $B2R; done
    run limits "$WORK/limits" --only B2 --reps $LIMR
    [ "$TORCH" = 1 ] && run torch "$PY" "$PEERS/torch_bench.py" --workloads B2 --threads 1,2 --thp --reps $B2R
    for t in 1 2; do
        for b in 128 16; do
            run tapegrad "$BB/bench_b3" --batch $b --threads $t --reps $STEPR
        done
    done
    run limits "$WORK/limits" --only B3,B4,B5 --reps $LIMR
    run limits "$BB/bench_b5_floor" --reps $((LIMR * 4))
    [ "$TORCH" = 1 ] && run torch "$PY" "$PEERS/torch_bench.py" --workloads B3 --batches 128,16 --threads 1,2 --reps $TR
    for t in 1 2; do run tapegrad "$BB/bench_b4" --threads $t --reps $((STEPR / 2)); done
    [ "$TORCH" = 1 ] && run torch "$PY" "$PEERS/torch_bench.py" --workloads B4 --threads 1,2 --reps $((TR / 2))
    [ "$TORCH" = 1 ] && run torch "$PY" "$PEERS/torch_bench.py" --workloads B4 --threads 1,2 --thp --reps $((TR / 2))
    for t in 1 2; do run tapegrad "$BB/bench_b5" --threads $t --reps $STEPR; done
    [ "$TORCH" = 1 ] && run torch "$PY" "$PEERS/torch_bench.py" --workloads B5 --threads 1,2 --reps $TR
    # B7: one process per mode (peak_rss_mb is the process's); the peer is ours (bench/)
    for m in whole ckpt; do run tapegrad "$BB/bench_b7" --mode $m --reps $B7R; done
    [ "$TORCH" = 1 ] && run torch "$PY" "$HERE/peer_checkpoint.py" --reps $B7R
    r=$((r + 1))
done
say "done load=\"$(cut -d' ' -f1-3 /proc/loadavg)\" log=$LOG"

}

# ---- table ------------------------------------------------------------------------
# Each cell is the median over rounds of the program's median_ms.  A line is
# found by its source tag, its first word (the id) and every key=value of the
# selector, and must carry none of the variant keys the selector does not name.
table() {
awk -F'|' '
function val(line, key,    re, s) {
    re = "(^| )" key "=[^ ]*"
    if (!match(line, re)) return ""
    s = substr(line, RSTART, RLENGTH); sub(/^ /, "", s); sub(/^[^=]*=/, "", s)
    return s
}
function matches(src, line, sel,    n, parts, i, k) {
    n = split(sel, parts, " ")
    if (parts[1] != src) return 0
    if (substr(line, 1, length(parts[2]) + 1) != parts[2] " ") return 0
    for (i = 3; i <= n; i++) if (index(" " line " ", " " parts[i] " ") == 0) return 0
    split("limit mode phase malloc conv omp", vk, " ")
    for (k in vk) if (val(line, vk[k]) != "" && index(sel, vk[k] "=") == 0) return 0
    return 1
}
function median(key,    n, a, i, j, t) {
    n = cnt[key]
    if (!n) return ""
    for (i = 1; i <= n; i++) a[i] = v[key, i]
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function add(name, tg, peer, pname, lim, lname) {
    nrow++; rname[nrow] = name; rsel[nrow, 1] = tg; rsel[nrow, 2] = peer; rsel[nrow, 3] = lim
    rpn[nrow] = pname; rln[nrow] = lname
}
BEGIN {
    add("B1 record+reverse n=1e5", "tapegrad B1 phase=total", "adolc B1 mode=keep phase=total", "ADOL-C", "limits B1 limit=eval", "C eval")
    add("B1 record", "tapegrad B1 phase=record", "adolc B1 mode=keep phase=tape", "ADOL-C", "", "")
    add("B1 reverse", "tapegrad B1 phase=reverse", "adolc B1 mode=keep phase=reverse", "ADOL-C", "limits B1 limit=grad", "C hand grad")
    add("B1 scalar tape", "tapegrad B1-stape phase=total", "adolc B1 mode=keep phase=total", "ADOL-C", "limits B1 limit=eval", "C eval")
    add("B1 scalar tape record", "tapegrad B1-stape phase=record", "adolc B1 mode=keep phase=tape", "ADOL-C", "", "")
    add("B1 scalar tape reverse", "tapegrad B1-stape phase=reverse", "adolc B1 mode=keep phase=reverse", "ADOL-C", "limits B1 limit=grad", "C hand grad")
    add("B2 n=1e7", "tapegrad B2 threads=1", "torch B2 threads=1 malloc=thp", "torch(thp)", "limits B2 threads=1 limit=fused-fg", "fused f+g")
    add("B2 n=1e7 t=2", "tapegrad B2 threads=2", "torch B2 threads=2 malloc=thp", "torch(thp)", "limits B2 threads=2 limit=fused-fg", "fused f+g")
    add("B3 b=128 t=1", "tapegrad B3 batch=128 threads=1", "torch B3 batch=128 threads=1", "torch", "limits B3 batch=128 threads=1 limit=sgemm", "sgemm")
    add("B3 b=16 t=1", "tapegrad B3 batch=16 threads=1", "torch B3 batch=16 threads=1", "torch", "limits B3 batch=16 threads=1 limit=sgemm", "sgemm")
    add("B3 b=128 t=2", "tapegrad B3 batch=128 threads=2", "torch B3 batch=128 threads=2", "torch", "limits B3 batch=128 threads=2 limit=sgemm", "sgemm")
    add("B3 b=16 t=2", "tapegrad B3 batch=16 threads=2", "torch B3 batch=16 threads=2", "torch", "limits B3 batch=16 threads=2 limit=sgemm", "sgemm")
    add("B4 b=64 t=1", "tapegrad B4 threads=1", "torch B4 threads=1", "torch(oneDNN)", "limits B4 threads=1 limit=sgemm", "im2col sgemm")
    add("B4 b=64 t=1 (thp)", "tapegrad B4 threads=1", "torch B4 threads=1 malloc=thp", "torch(thp)", "limits B4 threads=1 limit=sgemm", "im2col sgemm")
    add("B4 b=64 t=2", "tapegrad B4 threads=2", "torch B4 threads=2", "torch(oneDNN)", "limits B4 threads=2 limit=sgemm", "im2col sgemm")
    add("B4 b=64 t=2 (thp)", "tapegrad B4 threads=2", "torch B4 threads=2 malloc=thp", "torch(thp)", "limits B4 threads=2 limit=sgemm", "im2col sgemm")
    add("B5 b=128 t=1", "tapegrad B5 threads=1", "torch B5 threads=1", "torch", "limits B5 threads=1 limit=sgemm", "sgemm")
    add("B5 b=128 t=2", "tapegrad B5 threads=2", "torch B5 threads=2", "torch", "limits B5 threads=2 limit=sgemm", "sgemm")
    # bench_b5_floor, plain C: the weight-sized passes of B5 alone; its tg/limit
    # column is their share of the sgemm limit (docs/performance.md)
    add("B7 whole tape", "tapegrad B7 mode=whole", "torch B7 mode=whole", "torch", "", "")
    add("B7 ckpt every 8", "tapegrad B7 mode=ckpt", "torch B7 mode=ckpt", "torch(ckpt)", "", "")
    add("B5 W passes (C floor)", "limits B5 threads=1 limit=weight-passes", "", "", "limits B5 threads=1 limit=sgemm", "sgemm")
}
$1 == "round" { rounds = $2; next }
{
    src = $1; line = substr($0, length($1) + 2)
    if (line ~ /^#/) {
        if ((src == "tapegrad" || (src == "torch" && line ~ /^# B7 /)) && line ~ / mem /)
            memline[++nmemall] = line
        next
    }
    ms = val(line, "median_ms"); if (ms == "") next
    rss = val(line, "peak_rss_mb")
    for (i = 1; i <= nrow; i++) for (c = 1; c <= 3; c++)
        if (rsel[i, c] != "" && matches(src, line, rsel[i, c])) {
            cnt[i, c]++; v[(i SUBSEP c), cnt[i, c]] = ms + 0; lastrss[i, c] = rss
        }
}
END {
    printf "\n%-24s %11s %8s %-14s %11s %-12s %11s %9s %9s\n", "workload", "tapegrad_ms", "rss_mb", "peer", "peer_ms", "limit", "limit_ms", "tg/peer", "tg/limit"
    for (i = 1; i <= nrow; i++) {
        for (c = 1; c <= 3; c++) { key = i SUBSEP c; m[c] = median(key) }
        if (m[1] == "") continue
        pr = (m[2] != "" && m[2] > 0) ? sprintf("%.2fx", m[1] / m[2]) : "-"
        lr = (m[3] != "" && m[3] > 0) ? sprintf("%.2fx", m[1] / m[3]) : "-"
        printf "%-24s %11.3f %8s %-14s %11s %-12s %11s %9s %9s\n", rname[i], m[1], lastrss[i, 1], \
            m[2] != "" ? rpn[i] : "-", m[2] != "" ? sprintf("%.3f", m[2]) : "-", \
            m[3] != "" ? rln[i] : "-", m[3] != "" ? sprintf("%.4f", m[3]) : "-", pr, lr
        if (m[2] != "" && lastrss[i, 2] != "") printf "%-24s %11s %8s (peer peak_rss_mb)\n", "", "", lastrss[i, 2]
    }
    print ""
    per_round = rounds ? nmemall / rounds : nmemall # print the last round
    for (k = nmemall - per_round + 1; k <= nmemall; k++) print memline[k]
}' "$1"
}

if [ "$RUNS" = 1 ]; then
    do_runs
    table "$LOG"
    echo "# raw lines: $LOG"
else
    table "$TABLE"
fi
