/* Data-parallel training over MPI (include/tapegrad/dist.h).  Run under
 * `mpirun -np 2` (tests/meson.build) and as one plain process: every test
 * holds for any number of ranks.
 *
 * The suite runs without Check's fork (MPI is initialised once per process
 * and a forked child cannot take part), so every rank runs every test in
 * the same order.  A collective timeout of 60 s bounds any wait should a
 * test fail on one rank only.
 *
 * `test_dist --fail-rank R` is the failure scenario instead
 * (tests/dist_fail.sh): rank R stops taking part mid-training (it sleeps,
 * as a stuck rank would); the others must report a timeout and exit. */
#include "common.h"

#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { IN = 6, HID = 5, OUT = 3, GLOBAL = 64, STEPS = 20, NPAR = 4 };

/* A 6-5-3 tanh network, mean squared error against a target. */
typedef struct net {
    tg_tensor *p[NPAR]; /* w1 (IN,HID), b1 (HID), w2 (HID,OUT), b2 (OUT) */
} net;

static void net_make(net *m, tg_dtype dt, uint64_t seed)
{
    tg_rng r;
    tg_rng_seed(&r, seed);
    const int64_t shapes[NPAR][2] = {{IN, HID}, {HID, 0}, {HID, OUT}, {OUT, 0}};
    for (int i = 0; i < NPAR; i++) {
        m->p[i] = tg_tensor_new(dt, shapes[i][1] ? 2 : 1, shapes[i]);
        ck_assert_ptr_nonnull(m->p[i]);
        ck_assert_int_eq(tg_tensor_fill_uniform(m->p[i], &r, -0.5, 0.5), TG_OK);
        tg_tensor_set_requires_grad(m->p[i], true);
    }
}

static void net_free(net *m)
{
    for (int i = 0; i < NPAR; i++) tg_tensor_free(m->p[i]);
}

/* Forward and backward of one (shard of a) batch: the gradients land in
 * the parameters' .grad. */
static void net_backward(tg_tape *tp, net *m, tg_tensor *x, tg_tensor *t)
{
    tg_tape_reset(tp);
    tg_tensor *h = tg_tanh(tp, tg_linear(tp, x, m->p[0], m->p[1]));
    tg_tensor *y = tg_linear(tp, h, m->p[2], m->p[3]);
    tg_tensor *loss = tg_mse(tp, y, t);
    ck_assert_msg(loss && tg_backward(tp, loss) == TG_OK, "%s", tg_tape_error(tp));
}

/* The data: x (rows, IN), the target (rows, OUT) a fixed function of x. */
static void make_data(tg_dtype dt, int64_t rows, tg_tensor **x, tg_tensor **t)
{
    tg_rng r;
    tg_rng_seed(&r, 1234);
    *x = tg_tensor_rand(dt, 2, TT_SHAPE(rows, IN), &r);
    *t = tg_tensor_new(dt, 2, TT_SHAPE(rows, OUT));
    ck_assert_ptr_nonnull(*x);
    ck_assert_ptr_nonnull(*t);
    for (int64_t i = 0; i < rows; i++)
        for (int k = 0; k < OUT; k++) {
            double v = 0;
            for (int j = 0; j < IN; j++)
                v += sin((double)(j + 1) * (k + 1) * tg_tensor_get_flat(*x, i * IN + j));
            tg_tensor_set_flat(*t, i * OUT + k, v / IN);
        }
}

/* Row indices of the x batch: the targets travel as the batch's labels
 * (the row index, recovered to pick the target rows). */
static tg_tensor *rows_of(const tg_tensor *src, int64_t cols, const int32_t *idx, int64_t n)
{
    tg_tensor *out = tg_tensor_new(tg_tensor_dtype(src), 2, TT_SHAPE(n, cols));
    ck_assert_ptr_nonnull(out);
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < cols; k++)
            tg_tensor_set_flat(out, i * cols + k, tg_tensor_get_flat(src, idx[i] * cols + k));
    return out;
}

/* Trains STEPS steps of SGD (lr 0.1, momentum 0.9) from the parameters of
 * seed 7, each step on a global batch of GLOBAL rows.  mode:
 *   DIST   this rank's shard, gradients averaged by tg_dist_allreduce_grads
 *          (the parameters made from a seed of the rank's own, then rank
 *          0's broadcast: tg_dist_broadcast is exercised too);
 *   PLAIN  one process, the whole global batch in one backward;
 *   SHARDS one process, the batch cut as tg_batches_shard cuts it for
 *          tg_dist_size() ranks, each part's gradient computed in turn and
 *          combined as tg_dist_allreduce_grads does: summed in rank order
 *          in the dtype's precision, then divided by the number of ranks. */
typedef enum { DIST, PLAIN, SHARDS } mode;

static void train(tg_dtype dt, mode md, net *m)
{
    const int size = tg_dist_size(), rank = tg_dist_rank();
    tg_tensor *x, *t;
    make_data(dt, (int64_t)GLOBAL * STEPS, &x, &t);
    int32_t *idx = malloc(sizeof(int32_t) * GLOBAL * STEPS);
    for (int i = 0; i < GLOBAL * STEPS; i++) idx[i] = i;
    net_make(m, dt, md == DIST ? 7 + 1000 * (uint64_t)rank : 7);
    if (md == DIST) ck_assert_msg(tg_dist_broadcast(NPAR, m->p) == TG_OK, "%s", tg_last_error());
    tg_batches *b = tg_batches_new(x, idx, GLOBAL, true, false, 99);
    ck_assert_ptr_nonnull(b);
    if (md == DIST) ck_assert_int_eq(tg_batches_shard(b, rank, size), TG_OK);
    tg_optim *o = tg_sgd_new(NPAR, m->p, 0.1, 0.9, 0.0);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *xb;
    const int32_t *yb;
    int64_t n;
    int steps = 0;
    while (tg_batches_next(b, &xb, &yb, &n)) {
        if (md == SHARDS) {
            /* the shards' gradients, combined in rank order */
            tg_tensor *sum[NPAR] = {0};
            for (int s = 0; s < size; s++) {
                const int64_t lo = n * s / size, hi = n * (s + 1) / size;
                int32_t local[GLOBAL];
                for (int64_t i = lo; i < hi; i++) local[i - lo] = (int32_t)i;
                tg_tensor *xs = rows_of(xb, IN, local, hi - lo);
                tg_tensor *ts = rows_of(t, OUT, yb + lo, hi - lo);
                net_backward(tp, m, xs, ts);
                for (int i = 0; i < NPAR; i++) {
                    tg_tensor *g = tg_tensor_grad(m->p[i]);
                    if (s == 0) {
                        sum[i] = tg_tensor_clone(g);
                        continue;
                    }
                    for (int64_t k = 0; k < tg_tensor_numel(g); k++) {
                        if (dt == TG_F32)
                            tg_tensor_f32(sum[i])[k] += tg_tensor_f32(g)[k];
                        else
                            tg_tensor_f64(sum[i])[k] += tg_tensor_f64(g)[k];
                    }
                }
                tg_tensor_free(xs);
                tg_tensor_free(ts);
            }
            for (int i = 0; i < NPAR; i++) {
                tg_tensor *g = tg_tensor_grad(m->p[i]);
                for (int64_t k = 0; k < tg_tensor_numel(g); k++) {
                    if (dt == TG_F32)
                        tg_tensor_f32(g)[k] = tg_tensor_f32(sum[i])[k] / (float)size;
                    else
                        tg_tensor_f64(g)[k] = tg_tensor_f64(sum[i])[k] / (double)size;
                }
                tg_tensor_free(sum[i]);
            }
        } else {
            tg_tensor *ts = rows_of(t, OUT, yb, n);
            net_backward(tp, m, xb, ts);
            tg_tensor_free(ts);
            if (md == DIST)
                ck_assert_msg(tg_dist_allreduce_grads(NPAR, m->p) == TG_OK, "%s", tg_last_error());
        }
        ck_assert_int_eq(tg_optim_step(o), TG_OK);
        steps++;
    }
    ck_assert_int_eq(steps, STEPS);
    tg_tape_free(tp);
    tg_optim_free(o);
    tg_batches_free(b);
    free(idx);
    tg_tensor_free(x);
    tg_tensor_free(t);
}

/* Every rank's parameters equal rank 0's, bit for bit. */
static void assert_same_on_every_rank(const net *m)
{
    for (int i = 0; i < NPAR; i++) {
        const size_t bytes =
            (size_t)tg_tensor_numel(m->p[i]) * tg_dtype_size(tg_tensor_dtype(m->p[i]));
        unsigned char *r0 = malloc(bytes);
        memcpy(r0, tg_tensor_data(m->p[i]), bytes);
        ck_assert_int_eq(MPI_Bcast(r0, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD), MPI_SUCCESS);
        ck_assert_msg(memcmp(r0, tg_tensor_data(m->p[i]), bytes) == 0,
                      "rank %d: parameter %d differs from rank 0's", tg_dist_rank(), i);
        free(r0);
    }
}

static void assert_bitwise(const net *a, const net *b, const char *what)
{
    for (int i = 0; i < NPAR; i++) {
        const size_t bytes =
            (size_t)tg_tensor_numel(a->p[i]) * tg_dtype_size(tg_tensor_dtype(a->p[i]));
        ck_assert_msg(memcmp(tg_tensor_data(a->p[i]), tg_tensor_data(b->p[i]), bytes) == 0,
                      "%s: parameter %d differs", what, i);
    }
}

static double max_abs_diff(const net *a, const net *b)
{
    double d = 0;
    for (int i = 0; i < NPAR; i++)
        for (int64_t k = 0; k < tg_tensor_numel(a->p[i]); k++) {
            const double e = fabs(tg_tensor_get_flat(a->p[i], k) - tg_tensor_get_flat(b->p[i], k));
            if (e > d) d = e;
        }
    return d;
}

/* f64: the ranks' result is the fixed-order reference's bit for bit, and
 * one process's whole-batch training to rounding. */
START_TEST(test_f64_matches_one_process)
{
    net d, s, p;
    train(TG_F64, DIST, &d);
    train(TG_F64, SHARDS, &s);
    train(TG_F64, PLAIN, &p);
    assert_same_on_every_rank(&d);
    assert_bitwise(&d, &s, "f64, ranks vs shards summed in rank order");
    /* The whole batch sums each weight's 64 per-row terms in one matmul,
     * the shards in parts then across ranks: the orders differ, so the
     * gradients may differ by a few units in the last place (2^-52 relative
     * each), and 20 steps of momentum 0.9 carry such a difference into the
     * weights amplified at most about sum(0.9^k) = 10 times per step: well
     * under 1e-12 on weights of size 1. */
    const double e = max_abs_diff(&d, &p);
    ck_assert_msg(e < 1e-12, "f64: ranks vs one process, batch %d: max difference %g", GLOBAL, e);
    net_free(&d), net_free(&s), net_free(&p);
}
END_TEST

/* f32: the same; the difference from the whole batch is f32 rounding. */
START_TEST(test_f32_matches_one_process)
{
    net d, s, p;
    train(TG_F32, DIST, &d);
    train(TG_F32, SHARDS, &s);
    train(TG_F32, PLAIN, &p);
    assert_same_on_every_rank(&d);
    assert_bitwise(&d, &s, "f32, ranks vs shards summed in rank order");
    /* As in f64 with eps 2^-23 = 1.2e-7 in place of 2^-52: each gradient
     * element a few eps off relative to its terms (of size up to 1), carried
     * into the weights through 20 steps of lr 0.1 with momentum (a factor
     * of at most 10 each), about 20 * 0.1 * 10 * 4 eps = 1e-5 at worst. */
    const double e = max_abs_diff(&d, &p);
    ck_assert_msg(e < 2e-5, "f32: ranks vs one process, batch %d: max difference %g", GLOBAL, e);
    net_free(&d), net_free(&s), net_free(&p);
}
END_TEST

/* The global batch is cut into contiguous parts, disjoint and covering;
 * a last batch of fewer rows than ranks is dropped on every rank. */
START_TEST(test_shard_split)
{
    tg_tensor *data = tt_iota(TG_F64, 2, TT_SHAPE(10, 1));
    for (int nr = 1; nr <= 4; nr++) {
        int seen[10] = {0}, batches = -1;
        for (int r = 0; r < nr; r++) {
            tg_batches *b = tg_batches_new(data, NULL, 4, true, false, 5);
            ck_assert_int_eq(tg_batches_shard(b, r, nr), TG_OK);
            tg_tensor *x;
            int64_t n;
            int k = 0;
            while (tg_batches_next(b, &x, NULL, &n)) {
                ck_assert_int_ge(n, 1);
                /* the part's size: 4 or 2 rows cut into nr, as documented */
                const int64_t global = k < 2 ? 4 : 2;
                ck_assert_int_eq(n, global * (r + 1) / nr - global * r / nr);
                for (int64_t i = 0; i < n; i++) seen[(int)tg_tensor_get_flat(x, i)]++;
                k++;
            }
            if (batches < 0) batches = k;
            ck_assert_int_eq(k, batches); /* the same count on every rank */
            tg_batches_free(b);
        }
        ck_assert_int_eq(batches, nr <= 2 ? 3 : 2);
        int total = 0;
        for (int i = 0; i < 10; i++) {
            ck_assert_int_le(seen[i], 1);
            total += seen[i];
        }
        ck_assert_int_eq(total, nr <= 2 ? 10 : 8);
    }
    tg_batches *b = tg_batches_new(data, NULL, 4, false, false, 5);
    ck_assert_int_eq(tg_batches_shard(b, 2, 2), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "batches_shard: rank 2 of 2: need 0 <= rank < nranks");
    tg_batches_free(b);
    tg_tensor_free(data);
}
END_TEST

/* A parameter list that differs on one rank, or a missing gradient there,
 * is an error on every rank, nothing changed; the next call works. */
START_TEST(test_lists_differ)
{
    const int size = tg_dist_size(), rank = tg_dist_rank();
    const bool odd = rank == size - 1 && size > 1;
    tg_tensor *p = tt_param(2, odd ? TT_SHAPE(3, 2) : TT_SHAPE(2, 3), 11, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_square(tp, p))), TG_OK);
    tg_tensor *before = tg_tensor_clone(tg_tensor_grad(p));
    tg_status st = tg_dist_allreduce_grads(1, &p);
    if (size > 1) {
        ck_assert_int_eq(st, TG_ERR_SHAPE);
        char want[300];
        snprintf(want, sizeof want,
                 "tg_dist_allreduce_grads: rank %d's parameters differ from this rank's (%d) in "
                 "number (1 there, 1 here), dtype or shape; nothing was exchanged",
                 rank == 0 ? size - 1 : 0, rank);
        ck_assert_str_eq(tg_last_error(), want);
        ck_assert(tg_compare(tg_tensor_grad(p), before, 0, 0, NULL));
    } else {
        ck_assert_int_eq(st, TG_OK);
    }
    /* a missing gradient on the last rank */
    tg_tensor *a = tt_param(2, TT_SHAPE(2, 3), 14, -1, 1), *q = tt_param(1, TT_SHAPE(4), 12, -1, 1);
    tg_tensor *list[2] = {a, q};
    tg_tape_reset(tp);
    tg_tensor *y = odd ? tg_sum_all(tp, a) : tg_add(tp, tg_sum_all(tp, a), tg_sum_all(tp, q));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    st = tg_dist_allreduce_grads(2, list);
    if (size > 1) {
        ck_assert_int_eq(st, TG_ERR_ARG);
        if (odd) {
            ck_assert_str_eq(tg_last_error(), "tg_dist_allreduce_grads: parameter 1 (4) has no "
                                              "gradient (tg_backward did not reach it)");
        } else {
            char want[300];
            snprintf(want, sizeof want,
                     "tg_dist_allreduce_grads: rank %d failed its checks (invalid argument, "
                     "parameter 1); nothing was exchanged",
                     size - 1);
            ck_assert_str_eq(tg_last_error(), want);
        }
    }
    tg_tensor_free(a);
    /* and the communicator still works: the same list everywhere */
    tg_tensor_free(p);
    p = tt_param(2, TT_SHAPE(2, 3), 13, -1, 1);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_square(tp, p))), TG_OK);
    ck_assert_msg(tg_dist_allreduce_grads(1, &p) == TG_OK, "%s", tg_last_error());
    tg_tape_free(tp);
    tg_tensor_free(before);
    tg_tensor_free(p);
    tg_tensor_free(q);
}
END_TEST

/* Small buckets: a parameter split across buckets, f32 and f64 mixed,
 * averaged exactly (values whose sums are exact). */
START_TEST(test_buckets_mixed)
{
    const int size = tg_dist_size(), rank = tg_dist_rank();
    tg_tensor *ps[3] = {tt_param(2, TT_SHAPE(7, 5), 1, -1, 1), NULL,
                        tt_param(1, TT_SHAPE(40), 3, -1, 1)};
    ps[1] = tg_tensor_new(TG_F32, 1, TT_SHAPE(23));
    tg_tensor_set_requires_grad(ps[1], true);
    tg_tape *tp = tg_tape_new(NULL);
    for (int i = 0; i < 3; i++) {
        tg_tape_reset(tp);
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, ps[i])), TG_OK);
        tg_tensor *g = tg_tensor_grad(ps[i]);
        for (int64_t k = 0; k < tg_tensor_numel(g); k++)
            tg_tensor_set_flat(g, k, (double)(k + 1) * (rank + 1));
    }
    ck_assert_msg(tg_dist_allreduce_grads(3, ps) == TG_OK, "%s", tg_last_error());
    /* mean over ranks of (k+1)(r+1) = (k+1)(size+1)/2 */
    for (int i = 0; i < 3; i++) {
        tg_tensor *g = tg_tensor_grad(ps[i]);
        for (int64_t k = 0; k < tg_tensor_numel(g); k++)
            ck_assert_double_eq(tg_tensor_get_flat(g, k), (double)(k + 1) * (size + 1) / 2.0);
    }
    tg_tape_free(tp);
    for (int i = 0; i < 3; i++) tg_tensor_free(ps[i]);
}
END_TEST

/* The failure scenario (see the top of the file): run as a Check test
 * for its assertions; the exit status says what happened. */
static int g_who, g_rc;
START_TEST(test_rank_fails)
{
    const int who = g_who;
    net m;
    tg_tensor *x, *t;
    make_data(TG_F64, GLOBAL, &x, &t);
    net_make(&m, TG_F64, 7);
    tg_tape *tp = tg_tape_new(NULL);
    int rc = 0;
    for (int step = 0; step < 5; step++) {
        if (step == 3 && tg_dist_rank() == who) {
            sleep(60); /* stuck: mpirun ends it once another rank exits */
            rc = 1;
            break;
        }
        net_backward(tp, &m, x, t);
        const double t0 = MPI_Wtime();
        if (tg_dist_allreduce_grads(NPAR, m.p) != TG_OK) {
            printf("rank %d, step %d, after %.1f s: %s\n", tg_dist_rank(), step, MPI_Wtime() - t0,
                   tg_last_error());
            fflush(stdout);
            rc = 3;
            break;
        }
    }
    tg_tape_free(tp);
    net_free(&m);
    tg_tensor_free(x);
    tg_tensor_free(t);
    g_rc = rc;
}
END_TEST

int main(int argc, char **argv)
{
    const bool fail = argc > 2 && strcmp(argv[1], "--fail-rank") == 0;
    const tg_dist_options opts = {.timeout_seconds = fail ? 3 : 60, .bucket_bytes = 64};
    if (tg_dist_init(&argc, &argv, &opts) != TG_OK) {
        fprintf(stderr, "%s\n", tg_last_error());
        return 1;
    }
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("dist");
    tcase_set_timeout(tc, 0);
    if (fail) {
        g_who = atoi(argv[2]);
        tcase_add_test(tc, test_rank_fails);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_set_fork_status(sr, CK_NOFORK);
        srunner_run_all(sr, CK_SILENT);
        srunner_free(sr);
        if (tg_dist_finalize() != TG_OK) {
            printf("rank %d: %s\n", tg_dist_rank(), tg_last_error());
            fflush(stdout);
        }
        return g_rc;
    }
    tcase_add_test(tc, test_shard_split);
    tcase_add_test(tc, test_buckets_mixed);
    tcase_add_test(tc, test_f64_matches_one_process);
    tcase_add_test(tc, test_f32_matches_one_process);
    tcase_add_test(tc, test_lists_differ);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, tg_dist_rank() == 0 ? CK_NORMAL : CK_SILENT);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (failed) fprintf(stderr, "rank %d: %d test(s) failed\n", tg_dist_rank(), failed);
    if (tg_dist_finalize() != TG_OK) {
        fprintf(stderr, "%s\n", tg_last_error());
        return 1;
    }
    return failed ? 1 : 0;
}
