#!/bin/sh
# The failure scenario of tests/test_dist.c: rank 1 of 2 stops taking part
# mid-training (stuck).  Rank 0 must report, within its timeout (3 s), that
# not every rank joined, and exit; mpirun then ends the stuck rank.  The
# whole run must end long before the stuck rank's 60 s sleep would.
# Usage: dist_fail.sh MPIRUN TEST_DIST
mpirun=$1
exe=$2
start=$(date +%s)
out=$("$mpirun" -np 2 --oversubscribe "$exe" --fail-rank 1 2>&1)
rc=$?
took=$(($(date +%s) - start))
printf '%s\n(mpirun exit status %d, %d s)\n' "$out" "$rc" "$took"
want="rank 0, step 3, after "
msg="tg_dist_allreduce_grads: MPI_Iallgather: not every rank joined within 3 s (a rank failed, exited or is stuck); the communicator is unusable now: report the error and exit"
case "$out" in *"$want"*"$msg"*) ;; *)
    echo "FAIL: rank 0 did not report the timeout"; exit 1 ;;
esac
[ "$rc" -ne 0 ] || { echo "FAIL: mpirun exited 0 after a rank failed"; exit 1; }
[ "$took" -lt 40 ] || { echo "FAIL: took $took s: the ranks waited for the stuck one"; exit 1; }
echo "ok: rank 0 timed out with a clear error and the job ended in $took s"
