#!/bin/sh
# b6_seeds.sh -- B6 (Fashion-MNIST, ../shared/BENCHMARKS.md) over several
# seeds: tapegrad's example and the PyTorch peer (torch_fashion.py, the same
# recipe) for each seed, one right after the other, then a table of test
# accuracy and training time per seed, their means and the differences.
#
#   sh bench/b6_seeds.sh                          # MLP, seeds 0-4, 20 epochs (about 5 minutes)
#   sh bench/b6_seeds.sh --nets mlp,cnn --seeds "0 1 2"
#   sh bench/b6_seeds.sh --epochs 5               # a shorter run
#   sh bench/b6_seeds.sh --log FILE               # keep the raw lines
#   sh bench/b6_seeds.sh --table FILE             # only print the table of a kept log
#
# Why several seeds: the seed picks the initial weights and the shuffling, and
# the two programs draw them from different generators, so a run of each is a
# different sample.  The last epoch's test accuracy of one seed moves by about
# 0.3 points from one seed (or epoch) to the next; the mean over seeds is what
# can be set against the target (the same accuracy within 0.3 points).
#
# Environment: PYTHON (/usr/bin/python3), PEERS (../shared/peers).
# OPENBLAS_CORETYPE is kept when set; when it is unset and OpenBLAS would run
# its generic kernels here, both programs run with the kernels tapegrad
# advises (compare.sh's --coretype auto; see common.sh).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
. "$HERE/common.sh"
NETS=mlp
SEEDS="0 1 2 3 4"
EPOCHS=20
LOG=""
TABLE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --nets) NETS=$2; shift ;;
        --seeds) SEEDS=$2; shift ;;
        --epochs) EPOCHS=$2; shift ;;
        --log) LOG=$2; shift ;;
        --table) TABLE=$2; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "b6_seeds.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
for net in $(echo "$NETS" | tr ',' ' '); do
    case "$net" in
        mlp|cnn) ;;
        *) echo "b6_seeds.sh: --nets takes mlp and cnn, not $net" >&2; exit 2 ;;
    esac
done

# one TAG NET SEED PATTERN CMD...: run CMD, append "TAG NET SEED acc train_s"
# (PATTERN, a sed expression, makes "acc train_s" of its summary line) to the
# log, or show the end of its output when it printed none
one() {
    tag=$1 net=$2 seed=$3 pat=$4
    shift 4
    out=$(mktemp "${TMPDIR:-/tmp}/tg-b6-run.XXXXXX")
    "$@" > "$out" 2>&1 || true
    line=$(sed -n "$pat" "$out" | tail -n 1)
    if [ -n "$line" ]; then
        echo "$tag $net $seed $line" >> "$LOG"
    else
        echo "b6_seeds.sh: $tag $net seed $seed printed no result; its last lines:" >&2
        tail -n 5 "$out" >&2
    fi
    rm -f "$out"
}

runs() {
    [ -n "$LOG" ] || LOG=$(mktemp "${TMPDIR:-/tmp}/tg-b6-log.XXXXXX")
    : > "$LOG"
    echo "# b6_seeds.sh $(date -u '+%Y-%m-%dT%H:%M:%SZ') nets=$NETS seeds=\"$SEEDS\" epochs=$EPOCHS" |
        tee -a "$LOG" >&2
    build_bench
    coretype_auto "$ROOT/build-bench/bench"
    if [ -n "$CORETYPE_ADVISED" ]; then
        echo "# OpenBLAS would run its generic kernels here: OPENBLAS_CORETYPE=$CORETYPE_ADVISED for both programs" |
            tee -a "$LOG" >&2
    fi
    echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" |
        tee -a "$LOG" >&2
    "$PY" -c 'import torch' 2>/dev/null || {
        echo "b6_seeds.sh: $PY cannot import torch; the peer cannot run" >&2
        exit 1
    }
    for net in $(echo "$NETS" | tr ',' ' '); do
        for s in $SEEDS; do
            echo "# $net seed $s load=\"$(cut -d' ' -f1-3 /proc/loadavg)\"" >&2
            # "fashion_mlp: test accuracy 0.8885 after 20 epochs, 20.2 s of training (1 thread)"
            one tapegrad "$net" "$s" \
                "s/^fashion_$net: test accuracy \([0-9.]*\) after .*, \([0-9.]*\) s of training.*/\1 \2/p" \
                "$ROOT/build-bench/examples/fashion_$net" --epochs "$EPOCHS" --seed "$s"
            # "B6 fashion-mnist net=mlp ... test_acc=0.8858 train_s=24.45 ..."
            one torch "$net" "$s" "s/^B6 .*test_acc=\([0-9.]*\) train_s=\([0-9.]*\).*/\1 \2/p" \
                "$PY" "$PEERS/torch_fashion.py" --nets "$net" --epochs-"$net" "$EPOCHS" --seed "$s"
        done
    done
    echo "# log: $LOG" >&2
}

table() {
    awk '
    /^#/ { next }
    {
        k = $2 SUBSEP $3
        if (!(k in seen)) { seen[k] = 1; n++; order[n] = k }
        acc[$1, k] = $4; tr[$1, k] = $5
    }
    END {
        print "| net | seed | tapegrad acc | PyTorch acc | difference (points) | tapegrad train s | PyTorch train s | time ratio |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|"
        for (i = 1; i <= n; i++) {
            k = order[i]; split(k, p, SUBSEP)
            if (!(("tapegrad", k) in acc) || !(("torch", k) in acc)) {
                printf "| %s | %s | %s | %s | (a run failed) | | | |\n", p[1], p[2], acc["tapegrad", k], acc["torch", k]
                continue
            }
            a = acc["tapegrad", k]; b = acc["torch", k]; ta = tr["tapegrad", k]; tb = tr["torch", k]
            printf "| %s | %s | %.4f | %.4f | %+.2f | %.1f | %.1f | %.2fx |\n", p[1], p[2], a, b, 100 * (a - b), ta, tb, ta / tb
            m = p[1]; cnt[m]++; sa[m] += a; sb[m] += b; qa[m] += a * a; qb[m] += b * b; st[m] += ta; sp[m] += tb
        }
        for (m in cnt) {
            c = cnt[m]; ma = sa[m] / c; mb = sb[m] / c
            da = c > 1 ? sqrt((qa[m] - c * ma * ma) / (c - 1)) : 0
            db = c > 1 ? sqrt((qb[m] - c * mb * mb) / (c - 1)) : 0
            printf "| %s | mean of %d | %.4f (sd %.4f) | %.4f (sd %.4f) | %+.2f | %.1f | %.1f | %.2fx |\n", m, c, ma, da, mb, db, 100 * (ma - mb), st[m] / c, sp[m] / c, st[m] / sp[m]
        }
    }' "$1"
}

if [ -n "$TABLE" ]; then
    table "$TABLE"
else
    runs
    table "$LOG"
fi
