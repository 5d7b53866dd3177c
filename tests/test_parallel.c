/* Threads (include/tapegrad/threads.h): the setting, its errors, and the
 * promise that every result is the same bits with any thread count.
 *
 * The table test runs every OC_DIRECT row of op_cases.h, in f64 and f32,
 * with the threaded path forced at every size (tg__par_force: the small
 * shapes of the table would stay on one thread otherwise) and 1, 2 and 3
 * threads: the forward value, the gradient by the direct rules and the
 * gradient by the op-built rules (create_graph) must be equal bytes.  Three
 * threads split the pieces unevenly, as two do not; one thread runs the same
 * pieces in order.  The kernels' own suites add cases above the measured
 * thresholds, without the force. */
#include "common.h"
#include "op_cases.h"
#include "tg_config.h"

#include "../src/core/parallel.h"

#include <math.h>
#include <string.h>

START_TEST(test_setting)
{
    ck_assert_int_eq(tg_set_num_threads(2), TG_OK);
    ck_assert_int_eq(tg_get_num_threads(), 2);
    ck_assert_int_eq(tg_set_num_threads(1), TG_OK);
    ck_assert_int_eq(tg_get_num_threads(), 1);
    ck_assert_int_eq(tg_set_num_threads(0), TG_OK);
    ck_assert_int_ge(tg_get_num_threads(), 1);
    ck_assert_int_le(tg_get_num_threads(), TG_MAX_THREADS);
    ck_assert(tg_have_openmp() == (TG_HAVE_OPENMP != 0));
}
END_TEST

START_TEST(test_bad_counts)
{
    const int bad[] = {-1, TG_MAX_THREADS + 1, -2147483647 - 1};
    ck_assert_int_eq(tg_set_num_threads(3), TG_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(tg_set_num_threads(bad[i]), TG_ERR_ARG);
        ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(tg_last_error(), "tg_set_num_threads: n is"));
        ck_assert_int_eq(tg_get_num_threads(), 3); /* unchanged */
    }
}
END_TEST

/* One row's results: forward value, direct-rule and op-built gradients. */
typedef struct row_out {
    tg_tensor *y, *g_direct, *g_built;
} row_out;

static void row_out_free(row_out *o)
{
    tg_tensor_free(o->y);
    tg_tensor_free(o->g_direct);
    tg_tensor_free(o->g_built);
}

static row_out run_row(const oc_case *c, const oc_consts *K, const tg_tensor *x0)
{
    row_out o = {0};
    tg_tensor *x = tg_tensor_clone(x0);
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = c->f(tp, x, NULL, K);
    ck_assert_msg(y != NULL, "%s: %s", c->id, tg_tape_error(tp));
    tg_tensor *loss = tg_sum_all(tp, tg_square(tp, y));
    o.y = tg_tensor_cast_new(y, tg_tensor_dtype(y));
    ck_assert_msg(tg_backward(tp, loss) == TG_OK, "%s: %s", c->id, tg_tape_error(tp));
    o.g_direct = tg_tensor_clone(tg_tensor_grad(x));
    tg_tape_reset(tp);
    y = c->f(tp, x, NULL, K);
    tg_tensor *g = tg_grad(tp, tg_sum_all(tp, tg_square(tp, y)), x, true);
    ck_assert_msg(g != NULL, "%s: %s", c->id, tg_tape_error(tp));
    o.g_built = tg_tensor_clone(g);
    tg_tape_free(tp);
    tg_tensor_free(x);
    return o;
}

static void assert_same_bytes(const char *id, const char *what, int nt, const tg_tensor *a,
                              const tg_tensor *b)
{
    ck_assert_int_eq(tg_tensor_numel(a), tg_tensor_numel(b));
    const size_t es = tg_tensor_dtype(a) == TG_F64 ? 8 : 4;
    const size_t n = (size_t)tg_tensor_numel(a) * es;
    ck_assert_msg(memcmp(tg_tensor_data_const(a), tg_tensor_data_const(b), n) == 0,
                  "%s: the %s with %d threads differs from 1 thread's", id, what, nt);
}

static void check_dtype(tg_dtype dt)
{
    oc_consts *K64 = oc_consts_new();
    oc_consts *K = dt == TG_F64 ? K64 : oc_consts_cast(K64, dt);
    tg_tensor *x64 = tt_param(4, TT_SHAPE(2, 2, 4, 4), 4242, 0.2, 2);
    tg_tensor *x = tg_tensor_cast_new(x64, dt);
    const bool was = tg__par_force(true);
    int n = 0;
    for (int i = -1; oc_next(&i, OC_DIRECT); n++) {
        const oc_case *c = &oc_cases[i];
        ck_assert_int_eq(tg_set_num_threads(1), TG_OK);
        row_out one = run_row(c, K, x);
        for (int nt = 2; nt <= 3; nt++) {
            ck_assert_int_eq(tg_set_num_threads(nt), TG_OK);
            row_out more = run_row(c, K, x);
            assert_same_bytes(c->id, "forward value", nt, one.y, more.y);
            assert_same_bytes(c->id, "gradient (direct rules)", nt, one.g_direct, more.g_direct);
            assert_same_bytes(c->id, "gradient (op-built rules)", nt, one.g_built, more.g_built);
            row_out_free(&more);
        }
        row_out_free(&one);
    }
    ck_assert_int_ge(n, 100);
    tg__par_force(was);
    tg_tensor_free(x);
    tg_tensor_free(x64);
    if (K != K64) oc_consts_free(K);
    oc_consts_free(K64);
}

START_TEST(test_op_rows_same_bits_f64)
{
    check_dtype(TG_F64);
}
END_TEST

START_TEST(test_op_rows_same_bits_f32)
{
    check_dtype(TG_F32);
}
END_TEST

/* ---- elementwise maps, full sums, optimizer updates (no force) -------------
 * Sizes above the measured thresholds (src/kernels/stream.h, wsum.h,
 * src/nn/optim.c), so that 2 threads really split the loops: the results
 * must be the bytes 1 thread gives. */
enum { EL_N = (1 << 18) + 5 }; /* an odd tail after the pieces */

typedef struct elem_out {
    tg_tensor *map, *bmap, *sum, *sum32, *ga, *gb, *w;
} elem_out;

static tg_tensor *keep(tg_tensor *t)
{
    ck_assert_ptr_nonnull(t);
    return tg_tensor_cast_new(t, tg_tensor_dtype(t));
}

static elem_out elem_run(int nt)
{
    ck_assert_int_eq(tg_set_num_threads(nt), TG_OK);
    elem_out o = {0};
    tg_tensor *a = tt_param(1, TT_SHAPE(EL_N), 11, -2, 2);
    tg_tensor *b = tt_param(1, TT_SHAPE(1), 12, 0.5, 1.5);
    tg_tensor *a32 = tg_tensor_cast_new(a, TG_F32);
    tg_tape *tp = tg_tape_new(NULL);
    o.map = keep(tg_exp(tp, a32));
    o.bmap = keep(tg_mul(tp, a, b));
    o.sum = keep(tg_sum_all(tp, a));
    o.sum32 = keep(tg_sum_all(tp, a32));
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_square(tp, tg_mul(tp, a, b)))), TG_OK);
    o.ga = keep(tg_tensor_grad(a));
    o.gb = keep(tg_tensor_grad(b));
    /* Adam on a parameter of EL_N elements, two steps */
    tg_tensor *w = tg_tensor_cast_new(a, TG_F32);
    tg_tensor_set_requires_grad(w, true);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_square(tp, tg_sin(tp, w)))), TG_OK);
    tg_optim *opt = tg_adam_new(1, &w, 1e-2, 0.9, 0.999, 1e-8, 0.01);
    ck_assert_int_eq(tg_optim_step(opt), TG_OK);
    ck_assert_int_eq(tg_optim_step(opt), TG_OK);
    o.w = keep(w);
    tg_optim_free(opt);
    tg_tape_free(tp);
    tg_tensor_free(w);
    tg_tensor_free(a32);
    tg_tensor_free(a);
    tg_tensor_free(b);
    return o;
}

static void elem_free(elem_out *o)
{
    tg_tensor *all[] = {o->map, o->bmap, o->sum, o->sum32, o->ga, o->gb, o->w};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) tg_tensor_free(all[i]);
}

START_TEST(test_elem_big_same_bits)
{
    elem_out one = elem_run(1), two = elem_run(2);
    assert_same_bytes("exp (f32)", "forward value", 2, one.map, two.map);
    assert_same_bytes("mul by a scalar", "forward value", 2, one.bmap, two.bmap);
    assert_same_bytes("sum_all (f64)", "forward value", 2, one.sum, two.sum);
    assert_same_bytes("sum_all (f32)", "forward value", 2, one.sum32, two.sum32);
    assert_same_bytes("mul", "gradient of the full input", 2, one.ga, two.ga);
    assert_same_bytes("mul", "gradient of the broadcast scalar (a full sum)", 2, one.gb, two.gb);
    assert_same_bytes("adam", "parameter after two steps", 2, one.w, two.w);
    elem_free(&one);
    elem_free(&two);
    ck_assert_int_eq(tg_set_num_threads(0), TG_OK);
}
END_TEST

/* The full sum of sum_all and the one in a broadcast input's gradient are
 * cut into the same pieces, so they stay the same bits above the
 * threshold: d/db sum(a b) = sum(a) exactly, at 1 and 2 threads. */
START_TEST(test_elem_big_sums_agree)
{
    tg_tensor *a = tt_param(1, TT_SHAPE(EL_N), 21, -1, 3);
    tg_tensor *b = tt_param(1, TT_SHAPE(1), 22, 1, 2);
    tg_tensor_set_flat(b, 0, 1.0);
    for (int nt = 1; nt <= 2; nt++) {
        ck_assert_int_eq(tg_set_num_threads(nt), TG_OK);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *s = tg_sum_all(tp, a);
        tg_tensor *gb = tg_grad(tp, tg_sum_all(tp, tg_mul(tp, a, b)), b, false);
        ck_assert_ptr_nonnull(gb);
        const double vs = tg_tensor_get_flat(s, 0), vg = tg_tensor_get_flat(gb, 0);
        ck_assert_msg(memcmp(&vs, &vg, sizeof vs) == 0, "%d threads: sum_all %.17g, d/db %.17g", nt,
                      vs, vg);
        tg_tape_free(tp);
    }
    ck_assert_int_eq(tg_set_num_threads(0), TG_OK);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* ---- B2's graph (../shared/BENCHMARKS.md) above the thresholds ----------
 * x's gradient gathers two contiguous slices and y's a strided slice of
 * rows and one of columns, so the accumulating paths run on threads: a
 * unary map's gradient added into an adjoint, and a slice's gradient added
 * into part of its input's (one long row cut into pieces, or many rows).
 * Same bits at 1 and 2 threads, and the hand gradient to rounding (which
 * both thread counts would miss together if a piece were misplaced). */
enum { RB_R = 1031, RB_C = 512 };

typedef struct rosen_out {
    tg_tensor *f, *gx, *gy, *x, *y;
} rosen_out;

static rosen_out rosen_run(int nt)
{
    ck_assert_int_eq(tg_set_num_threads(nt), TG_OK);
    const int64_t n = EL_N;
    rosen_out o = {.x = tt_param(1, TT_SHAPE(EL_N), 31, -1, 2),
                   .y = tt_param(2, TT_SHAPE(RB_R, RB_C), 32, -1, 1)};
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *lo = tg_slice(tp, o.x, 0, 0, n - 1, 1), *hi = tg_slice(tp, o.x, 0, 1, n, 1);
    tg_tensor *a = tg_sub(tp, hi, tg_square(tp, lo));
    tg_tensor *b = tg_rsub_scalar(tp, 1.0, lo);
    tg_tensor *fx =
        tg_sum_all(tp, tg_add(tp, tg_mul_scalar(tp, tg_square(tp, a), 100.0), tg_square(tp, b)));
    tg_tensor *r = tg_slice(tp, o.y, 0, 0, RB_R, 3), *c = tg_slice(tp, o.y, 1, 1, RB_C, 2);
    tg_tensor *fy = tg_add(tp, tg_sum_all(tp, tg_square(tp, r)), tg_sum_all(tp, tg_exp(tp, c)));
    tg_tensor *f = tg_add(tp, fx, fy);
    ck_assert_int_eq(tg_backward(tp, f), TG_OK);
    o.f = keep(f);
    o.gx = keep(tg_tensor_grad(o.x));
    o.gy = keep(tg_tensor_grad(o.y));
    tg_tape_free(tp);
    return o;
}

/* d/dx of sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2, and of
 * sum over rows i = 0 mod 3 of y^2 plus sum over odd columns of exp(y). */
static void rosen_check_hand(const rosen_out *o)
{
    const int64_t n = EL_N;
    for (int64_t i = 0; i < n; i++) {
        const double x = tg_tensor_get_flat(o->x, i);
        double t1 = 0, t2 = 0, t3 = 0;
        if (i + 1 < n) {
            const double a = tg_tensor_get_flat(o->x, i + 1) - x * x;
            t1 = -400 * x * a;
            t2 = -2 * (1 - x);
        }
        if (i > 0) {
            const double xp = tg_tensor_get_flat(o->x, i - 1);
            t3 = 200 * (x - xp * xp);
        }
        const double want = t1 + t2 + t3, got = tg_tensor_get_flat(o->gx, i);
        ck_assert_msg(fabs(got - want) <= 1e-13 * (fabs(t1) + fabs(t2) + fabs(t3)),
                      "dx[%lld] = %.17g, by hand %.17g", (long long)i, got, want);
    }
    for (int64_t i = 0; i < RB_R; i++)
        for (int64_t j = 0; j < RB_C; j++) {
            const double y = tg_tensor_get_flat(o->y, i * RB_C + j);
            const double want = (i % 3 == 0 ? 2 * y : 0) + (j % 2 ? exp(y) : 0);
            const double got = tg_tensor_get_flat(o->gy, i * RB_C + j);
            ck_assert_msg(fabs(got - want) <= 1e-15 * fabs(want),
                          "dy[%lld][%lld] = %.17g, by hand %.17g", (long long)i, (long long)j, got,
                          want);
        }
}

static void rosen_free(rosen_out *o)
{
    tg_tensor *all[] = {o->f, o->gx, o->gy, o->x, o->y};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) tg_tensor_free(all[i]);
}

START_TEST(test_rosenbrock_big_same_bits)
{
    rosen_out one = rosen_run(1), two = rosen_run(2);
    rosen_check_hand(&one);
    assert_same_bytes("B2's graph", "value", 2, one.f, two.f);
    assert_same_bytes("slice, square, rsub", "gradient of x", 2, one.gx, two.gx);
    assert_same_bytes("strided slices, square, exp", "gradient of y", 2, one.gy, two.gy);
    rosen_free(&one);
    rosen_free(&two);
    ck_assert_int_eq(tg_set_num_threads(0), TG_OK);
}
END_TEST

/* ---- ompbcast: broadcasting walks and copies above their thresholds ------
 * A bias (1000) added to (1024, 1000), a (1000, 1) column times (1000, 300),
 * a transpose and a concat, forward and backward, without the force: the
 * bias gradient goes to threads by columns of d, the column's by rows of g,
 * the full inputs' gradients by pieces of rows.  2 threads must give the
 * bytes of 1. */
enum { BC_OUT = 9 };

static tg_tensor *bc_input(int ndim, const int64_t *shape, uint64_t seed, tg_dtype dt)
{
    tg_tensor *x = tt_param(ndim, shape, seed, -1.5, 1.5);
    tg_tensor *y = tg_tensor_cast_new(x, dt);
    tg_tensor_free(x);
    tg_tensor_set_requires_grad(y, true);
    return y;
}

/* out: a + b, transpose(a2), concat(a2, c), then the gradients of a, b,
 * a2, c, and b's and c's by the op-built rules. */
static void bc_run(tg_dtype dt, int nt, tg_tensor *out[BC_OUT])
{
    ck_assert_int_eq(tg_set_num_threads(nt), TG_OK);
    tg_tensor *a = bc_input(2, TT_SHAPE(1024, 1000), 31, dt),
              *b = bc_input(1, TT_SHAPE(1000), 32, dt);
    tg_tensor *a2 = bc_input(2, TT_SHAPE(1000, 300), 33, dt);
    tg_tensor *c = bc_input(2, TT_SHAPE(1000, 1), 34, dt);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_add(tp, a, b), *t = tg_transpose(tp, a2, 0, 1);
    tg_tensor *k = tg_concat(tp, 2, (tg_tensor *const[]){a2, c}, 1);
    tg_tensor *loss = tg_add(tp, tg_sum_all(tp, tg_square(tp, y)),
                             tg_sum_all(tp, tg_square(tp, tg_mul(tp, a2, c))));
    loss =
        tg_add(tp, loss, tg_add(tp, tg_sum_all(tp, tg_sin(tp, t)), tg_sum_all(tp, tg_cos(tp, k))));
    ck_assert_msg(loss != NULL, "%s", tg_tape_error(tp));
    out[0] = keep(y);
    out[1] = keep(t);
    out[2] = keep(k);
    out[3] = keep(tg_grad(tp, loss, a, false));
    out[4] = keep(tg_grad(tp, loss, b, false));
    out[5] = keep(tg_grad(tp, loss, a2, false));
    out[6] = keep(tg_grad(tp, loss, c, false));
    out[7] = keep(tg_grad(tp, loss, b, true));
    out[8] = keep(tg_grad(tp, loss, c, true));
    tg_tape_free(tp);
    tg_tensor *all[] = {a, b, a2, c};
    for (int i = 0; i < 4; i++) tg_tensor_free(all[i]);
}

START_TEST(test_ompbcast_big_same_bits)
{
    const tg_dtype dt = _i ? TG_F32 : TG_F64;
    static const char *const what[BC_OUT] = {"a + b (bias)",
                                             "transpose",
                                             "concat",
                                             "gradient of a",
                                             "gradient of the bias",
                                             "gradient of a2",
                                             "gradient of the column",
                                             "bias gradient (op-built)",
                                             "column gradient (op-built)"};
    tg_tensor *one[BC_OUT], *two[BC_OUT];
    bc_run(dt, 1, one);
    bc_run(dt, 2, two);
    const char *id = dt == TG_F32 ? "broadcast (f32)" : "broadcast (f64)";
    for (int k = 0; k < BC_OUT; k++) assert_same_bytes(id, what[k], 2, one[k], two[k]);
    /* the direct rule sums as tg_sum_to's kernel does, at any thread count */
    assert_same_bytes(id, "bias gradient, direct vs op-built rule", 2, two[4], two[7]);
    assert_same_bytes(id, "column gradient, direct vs op-built rule", 2, two[6], two[8]);
    for (int k = 0; k < BC_OUT; k++) {
        tg_tensor_free(one[k]);
        tg_tensor_free(two[k]);
    }
    ck_assert_int_eq(tg_set_num_threads(0), TG_OK);
}
END_TEST

static void add_ompbcast_cases(Suite *s)
{
    TCase *tc = tcase_create("ompbcast");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_ompbcast_big_same_bits, 0, 2);
    suite_add_tcase(s, tc);
}
/* ---- end of ompbcast's block */

/* ---- ompconv: convolution, pooling and softmax rows above their thresholds
 * (docs/performance.md, "Thread thresholds: convolution, pooling,
 * softmax"), without the force: 1 and 2 threads give
 * the same bytes for the value and every gradient.  Each case is a small
 * network whose every op has an input large enough to go parallel. */
enum { PC_NPARAM = 8 };
typedef struct pc_net {
    tg_tensor *x, *p[PC_NPARAM];
    tg_tensor *lab;
} pc_net;

/* The case's graph on tp: a scalar loss (case 0: B4's CNN step with both
 * pools; 1: softmax and log_softmax rows, cross entropy). */
static tg_tensor *pc_graph(tg_tape *tp, int which, const pc_net *m)
{
    tg_tensor *const *p = m->p;
    if (which == 0) {
        tg_tensor *h1 = tg_relu(tp, tg_conv2d(tp, m->x, p[0], p[1], 1, 1, 2, 2));
        tg_tensor *h2 = tg_add(tp, tg_max_pool2d(tp, h1, 2, 2, 2, 2, 0, 0),
                               tg_avg_pool2d(tp, h1, 2, 2, 2, 2, 0, 0));
        tg_tensor *h3 = tg_relu(tp, tg_conv2d(tp, h2, p[2], p[3], 2, 2, 2, 2));
        /* the classifier a convolution too: a matmul's OpenBLAS threads are
         * not this block's subject */
        tg_tensor *z =
            tg_reshape(tp, tg_conv2d(tp, h3, p[4], p[5], 1, 1, 0, 0), 2, TT_SHAPE(64, 10));
        return tg_softmax_cross_entropy_index(tp, z, m->lab, TG_REDUCE_MEAN);
    }
    tg_tensor *z = tg_mul(tp, m->x, p[6]);
    tg_tensor *a = tg_sum_all(tp, tg_square(tp, tg_softmax(tp, z, 1)));
    tg_tensor *b = tg_sum_all(tp, tg_square(tp, tg_log_softmax(tp, z, 1)));
    return tg_add(tp, tg_add(tp, a, b),
                  tg_softmax_cross_entropy_index(tp, z, m->lab, TG_REDUCE_MEAN));
}

static pc_net pc_net_make(int which, tg_dtype dt)
{
    pc_net m = {0};
    const int64_t rows = 4096, cls = 1000;
    tg_tensor *x = which == 0 ? tt_param(4, TT_SHAPE(64, 1, 28, 28), 11, 0, 1)
                              : tt_param(2, TT_SHAPE(rows, cls), 11, -3, 3);
    m.x = tg_tensor_cast_new(x, dt);
    tg_tensor_free(x);
    const int64_t *shapes[PC_NPARAM] = {
        TT_SHAPE(8, 1, 5, 5),   TT_SHAPE(8),  TT_SHAPE(16, 8, 5, 5), TT_SHAPE(16),
        TT_SHAPE(10, 16, 7, 7), TT_SHAPE(10), TT_SHAPE(1),           TT_SHAPE(1)};
    const int nd[PC_NPARAM] = {4, 1, 4, 1, 4, 1, 1, 1};
    for (int k = 0; k < PC_NPARAM; k++) {
        tg_tensor *t = tt_param(nd[k], shapes[k], 100 + (uint64_t)k, -0.3, 0.3);
        m.p[k] = tg_tensor_cast_new(t, dt);
        tg_tensor_free(t);
        tg_tensor_set_requires_grad(m.p[k], true);
    }
    const int64_t nlab = which == 1 ? rows : 64;
    m.lab = tg_tensor_new(TG_I64, 1, TT_SHAPE(nlab));
    for (int64_t i = 0; i < nlab; i++) tg_tensor_i64(m.lab)[i] = which == 1 ? i * 7 % cls : i % 10;
    tg_tensor_set_requires_grad(m.x, true);
    return m;
}

static void pc_net_free(pc_net *m)
{
    tg_tensor_free(m->x);
    tg_tensor_free(m->lab);
    for (int k = 0; k < PC_NPARAM; k++) tg_tensor_free(m->p[k]);
}

/* The loss and the gradients of x and p[0..7] (direct rules) with nt threads:
 * out[0] the loss, out[1] x's gradient, out[2 + k] p[k]'s (NULL: none). */
static void pc_run(int which, tg_dtype dt, int nt, tg_tensor *out[2 + PC_NPARAM])
{
    ck_assert_int_eq(tg_set_num_threads(nt), TG_OK);
    pc_net m = pc_net_make(which, dt);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *loss = pc_graph(tp, which, &m);
    ck_assert_msg(loss != NULL, "case %d: %s", which, tg_tape_error(tp));
    ck_assert_msg(tg_backward(tp, loss) == TG_OK, "case %d: %s", which, tg_tape_error(tp));
    out[0] = tg_tensor_clone(loss);
    out[1] = tg_tensor_clone(tg_tensor_grad(m.x));
    for (int k = 0; k < PC_NPARAM; k++) {
        const tg_tensor *g = tg_tensor_grad(m.p[k]);
        out[2 + k] = g ? tg_tensor_clone(g) : NULL;
    }
    tg_tape_free(tp);
    pc_net_free(&m);
}

START_TEST(test_ompconv_big_same_bits)
{
    const int which = _i / 2;
    const tg_dtype dt = _i % 2 ? TG_F32 : TG_F64;
    static const char *const names[2] = {"cnn", "softmax rows"};
    tg_tensor *one[2 + PC_NPARAM], *two[2 + PC_NPARAM];
    pc_run(which, dt, 1, one);
    pc_run(which, dt, 2, two);
    for (int k = 0; k < 2 + PC_NPARAM; k++) {
        ck_assert(!one[k] == !two[k]);
        if (!one[k]) continue;
        char what[48];
        snprintf(what, sizeof what, "%s %d (%s)", k == 0 ? "loss" : "gradient", k,
                 dt == TG_F32 ? "f32" : "f64");
        assert_same_bytes(names[which], what, 2, one[k], two[k]);
        tg_tensor_free(one[k]);
        tg_tensor_free(two[k]);
    }
    ck_assert_int_eq(tg_set_num_threads(0), TG_OK);
}
END_TEST

static void add_ompconv_cases(Suite *s)
{
    TCase *tc = tcase_create("ompconv");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_ompconv_big_same_bits, 0, 4);
    suite_add_tcase(s, tc);
}
/* ---- end of ompconv's block */

/* ---- omprows' block: norms, axis reductions, adaptive pooling, a loss at
 * sizes above their thresholds (not forced), 1 and 2 threads bytewise ---- */
enum { OR_NCASE = 6, OR_NOUT = 5 };

/* x of case which (f64 values cast to dt), requiring grad */
static tg_tensor *or_input(int which, tg_dtype dt)
{
    static const int nd[OR_NCASE] = {2, 4, 4, 2, 4, 2};
    const int64_t *shapes[OR_NCASE] = {TT_SHAPE(512, 256),       TT_SHAPE(64, 32, 8, 8),
                                       TT_SHAPE(16, 32, 16, 16), TT_SHAPE(256, 512),
                                       TT_SHAPE(4, 16, 32, 32),  TT_SHAPE(512, 256)};
    tg_tensor *x = tt_param(nd[which], shapes[which], 300 + (uint64_t)which, -2, 2);
    if (which == 5) /* masked classes: the cross entropy's xmul */
        for (int64_t r = 0; r < 512; r++)
            tg_tensor_set_flat(x, r * 256 + (r * 5 + 1) % 256, -INFINITY);
    tg_tensor *c = tg_tensor_cast_new(x, dt);
    tg_tensor_free(x);
    tg_tensor_set_requires_grad(c, true);
    return c;
}

/* sum(y * w) for a fixed w of y's shape (into *w, the caller's to free):
 * every gradient element differs */
static tg_tensor *or_weighted(tg_tape *tp, tg_tensor *y, tg_tensor **w)
{
    ck_assert(y != NULL);
    *w = tg_tensor_new(tg_tensor_dtype(y), tg_tensor_ndim(y), tg_tensor_shape(y));
    for (int64_t i = 0; i < tg_tensor_numel(*w); i++)
        tg_tensor_set_flat(*w, i, 0.25 + (double)(i * 37 % 101) / 50.0);
    return tg_sum_all(tp, tg_mul(tp, y, *w));
}

/* Case which's loss, gradients and (case 3) argmax with nt threads into out. */
static void or_run(int which, tg_dtype dt, int nt, tg_tensor *out[OR_NOUT])
{
    ck_assert_int_eq(tg_set_num_threads(nt), TG_OK);
    tg_tensor *x = or_input(which, dt), *p[2];
    const int64_t C = which == 0 || which == 5 ? 256 : 32;
    for (int k = 0; k < 2; k++) {
        tg_tensor *t = tt_param(1, TT_SHAPE(C), 400 + (uint64_t)k, 0.5, 1.5);
        p[k] = tg_tensor_cast_new(t, dt);
        tg_tensor_free(t);
        tg_tensor_set_requires_grad(p[k], true);
    }
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = NULL, *arg = NULL;
    if (which == 0) y = tg_layer_norm(tp, x, 1, p[0], p[1], 1e-5);
    if (which == 1) y = tg_batch_norm(tp, x, p[0], p[1], NULL, NULL, true, 0.1, 1e-5);
    if (which == 2) y = tg_group_norm(tp, x, 4, p[0], p[1], 1e-5);
    if (which == 3) {
        y = tg_add(tp, tg_max(tp, x, 0, false), tg_min(tp, x, 1, true));
        arg = tg_argmax(tp, x, 0, false);
    }
    if (which == 4) y = tg_adaptive_avg_pool2d(tp, x, 7, 5);
    if (which == 5) {
        tg_tensor *lab = tg_tensor_new(TG_I64, 1, TT_SHAPE(512));
        for (int64_t i = 0; i < 512; i++) tg_tensor_i64(lab)[i] = i * 7 % 256;
        y = tg_softmax_cross_entropy_index(tp, x, lab, TG_REDUCE_MEAN);
        tg_tensor_free(lab);
    }
    tg_tensor *w = NULL;
    tg_tensor *loss = which == 5 ? y : or_weighted(tp, y, &w);
    ck_assert_msg(loss != NULL, "case %d: %s", which, tg_tape_error(tp));
    ck_assert_msg(tg_backward(tp, loss) == TG_OK, "case %d: %s", which, tg_tape_error(tp));
    out[0] = tg_tensor_clone(loss);
    out[1] = tg_tensor_clone(tg_tensor_grad(x));
    for (int k = 0; k < 2; k++) {
        const tg_tensor *g = tg_tensor_grad(p[k]);
        out[2 + k] = g ? tg_tensor_clone(g) : NULL;
        tg_tensor_free(p[k]);
    }
    out[4] = arg ? tg_tensor_cast_new(arg, TG_F64) : NULL;
    tg_tape_free(tp);
    tg_tensor_free(w);
    tg_tensor_free(x);
}

START_TEST(test_omprows_big_same_bits)
{
    const int which = _i / 2;
    const tg_dtype dt = _i % 2 ? TG_F32 : TG_F64;
    static const char *const names[OR_NCASE] = {
        "layer_norm",       "batch_norm",          "group_norm",
        "max, min, argmax", "adaptive_avg_pool2d", "softmax_cross_entropy_index (masked classes)"};
    static const char *const what[OR_NOUT] = {"loss", "gradient of x", "gradient of weight",
                                              "gradient of bias", "argmax"};
    tg_tensor *one[OR_NOUT], *two[OR_NOUT];
    or_run(which, dt, 1, one);
    or_run(which, dt, 2, two);
    ck_assert(one[1] != NULL && (which != 3 || one[4] != NULL));
    for (int k = 0; k < OR_NOUT; k++) {
        ck_assert(!one[k] == !two[k]);
        if (!one[k]) continue;
        char w[64];
        snprintf(w, sizeof w, "%s (%s)", what[k], dt == TG_F32 ? "f32" : "f64");
        assert_same_bytes(names[which], w, 2, one[k], two[k]);
        tg_tensor_free(one[k]);
        tg_tensor_free(two[k]);
    }
    ck_assert_int_eq(tg_set_num_threads(0), TG_OK);
}
END_TEST

static void add_omprows_cases(Suite *s)
{
    TCase *tc = tcase_create("omprows");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_omprows_big_same_bits, 0, 2 * OR_NCASE);
    suite_add_tcase(s, tc);
}
/* ---- end of omprows' block */

/* ---- ompcopy: permute, concat, gather, index_select and embedding above
 * their thresholds (not forced), 1 and 2 threads bytewise, and in f64
 * against plain serial loops, so that a piece in the wrong place fails.
 * The loss adds sum(x) after the op, so the direct rules add into a
 * gradient already holding ones (their acc path). ---- */
/* CP_SEL: index_select's index, large enough for index_add's threshold */
enum { CP_NCASE = 7, CP_OUT = 5, CP_PAD = 3, CP_SEL = 4096 };

typedef struct cp_case {
    tg_tensor *x[2], *ix; /* x[1]: concat's second input, else NULL */
} cp_case;

/* i64 values (i 37 + i / 3) mod range: repeated, in no order */
static tg_tensor *cp_index(int ndim, const int64_t *shape, int64_t range)
{
    tg_tensor *t = tg_tensor_new(TG_I64, ndim, shape);
    for (int64_t i = 0; i < tg_tensor_numel(t); i++) tg_tensor_i64(t)[i] = (i * 37 + i / 3) % range;
    return t;
}

static tg_tensor *cp_input(int ndim, const int64_t *shape, uint64_t seed, tg_dtype dt)
{
    tg_tensor *x = tt_param(ndim, shape, seed, -1.5, 1.5);
    tg_tensor *y = tg_tensor_cast_new(x, dt);
    tg_tensor_free(x);
    tg_tensor_set_requires_grad(y, true);
    return y;
}

static cp_case cp_make(int which, tg_dtype dt)
{
    cp_case c = {{NULL, NULL}, NULL};
    const uint64_t sd = 400 + (uint64_t)which;
    const bool rows = which == 2 || which == 5; /* (256, 300), else (300, 256) */
    if (which == 0) c.x[0] = cp_input(3, TT_SHAPE(64, 128, 64), sd, dt);
    if (which == 1) {
        c.x[0] = cp_input(2, TT_SHAPE(512, 200), sd, dt);
        c.x[1] = cp_input(2, TT_SHAPE(512, 56), sd + 50, dt);
    }
    if (which >= 2 && which <= 5)
        c.x[0] = cp_input(2, rows ? TT_SHAPE(256, 300) : TT_SHAPE(300, 256), sd, dt);
    if (which == 6) c.x[0] = cp_input(2, TT_SHAPE(500, 256), sd, dt);
    if (which == 2) c.ix = cp_index(2, TT_SHAPE(256, 400), 300);
    if (which == 3) c.ix = cp_index(2, TT_SHAPE(400, 256), 300);
    if (which == 4 || which == 5) c.ix = cp_index(1, TT_SHAPE(CP_SEL), 300);
    if (which == 6) c.ix = cp_index(2, TT_SHAPE(64, 64), 500);
    return c;
}

static void cp_free(cp_case *c)
{
    tg_tensor_free(c->x[0]);
    tg_tensor_free(c->x[1]);
    tg_tensor_free(c->ix);
}

static tg_tensor *cp_op(tg_tape *tp, int which, const cp_case *c)
{
    switch (which) {
    case 0:
        return tg_permute_dims(tp, c->x[0], 3, (const int[]){2, 0, 1});
    case 1:
        return tg_concat(tp, 2, (tg_tensor *const[]){c->x[0], c->x[1]}, 1);
    case 2:
        return tg_gather(tp, c->x[0], 1, c->ix);
    case 3:
        return tg_gather(tp, c->x[0], 0, c->ix);
    case 4:
        return tg_index_select(tp, c->x[0], 0, c->ix);
    case 5:
        return tg_index_select(tp, c->x[0], 1, c->ix);
    default:
        return tg_embedding(tp, c->x[0], c->ix, CP_PAD);
    }
}

/* out: the op's value, the direct gradients of x[0], x[1], the op-built
 * ones (NULL for a missing x[1]); w: the loss's weights (kept). */
static void cp_run(int which, const cp_case *c, int nt, tg_tensor *out[CP_OUT], tg_tensor **w)
{
    ck_assert_int_eq(tg_set_num_threads(nt), TG_OK);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = cp_op(tp, which, c);
    ck_assert_msg(y != NULL, "case %d: %s", which, tg_tape_error(tp));
    tg_tensor *ww = NULL;
    tg_tensor *loss = or_weighted(tp, y, &ww);
    for (int i = 0; i < 2; i++)
        if (c->x[i]) loss = tg_add(tp, loss, tg_sum_all(tp, c->x[i]));
    ck_assert_msg(loss != NULL, "case %d: %s", which, tg_tape_error(tp));
    out[0] = keep(y);
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 2; i++)
            out[1 + 2 * b + i] = c->x[i] ? keep(tg_grad(tp, loss, c->x[i], b == 1)) : NULL;
    tg_tape_free(tp);
    if (w)
        *w = ww;
    else
        tg_tensor_free(ww);
}

/* Where output element k of case which reads: *in, the input, and the
 * returned flat index in it; *grad false for embedding's padding row. */
static int64_t cp_source(int which, const cp_case *c, int64_t k, int *in, bool *grad)
{
    const int64_t *ix = c->ix ? tg_tensor_i64(c->ix) : NULL;
    *in = 0;
    *grad = true;
    switch (which) {
    case 0: { /* y[c][a][b] = x[a][b][c], x (64, 128, 64) */
        const int64_t b = k % 128, a = k / 128 % 64, cc = k / (128 * 64);
        return (a * 128 + b) * 64 + cc;
    }
    case 1: {
        const int64_t r = k / 256, j = k % 256;
        *in = j >= 200;
        return j < 200 ? r * 200 + j : r * 56 + j - 200;
    }
    case 2:
        return k / 400 * 300 + ix[k];
    case 3:
        return ix[k] * 256 + k % 256;
    case 4:
        return ix[k / 256] * 256 + k % 256;
    case 5:
        return k / CP_SEL * 300 + ix[k % CP_SEL];
    default:
        *grad = ix[k / 256] != CP_PAD;
        return ix[k / 256] * 256 + k % 256;
    }
}

/* f64: the value and the direct gradients against serial loops: y[k] =
 * x[source(k)]; dx = 1 (sum(x)), then w[k] added for each k in order. */
static void cp_check_serial(int which, const cp_case *c, tg_tensor *const out[CP_OUT],
                            const tg_tensor *w)
{
    tg_tensor *dx[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++)
        if (c->x[i]) {
            dx[i] = tg_tensor_cast_new(c->x[i], TG_F64);
            for (int64_t j = 0; j < tg_tensor_numel(dx[i]); j++) tg_tensor_f64(dx[i])[j] = 1;
        }
    const int64_t n = tg_tensor_numel(out[0]);
    for (int64_t k = 0; k < n; k++) {
        int in;
        bool grad;
        const int64_t src = cp_source(which, c, k, &in, &grad);
        ck_assert_msg(tg_tensor_get_flat(out[0], k) == tg_tensor_get_flat(c->x[in], src),
                      "case %d: value %lld is not input %d's element %lld", which, (long long)k, in,
                      (long long)src);
        if (grad) tg_tensor_f64(dx[in])[src] += tg_tensor_get_flat(w, k);
    }
    for (int i = 0; i < 2; i++) {
        if (!dx[i]) continue;
        ck_assert_msg(memcmp(tg_tensor_data_const(dx[i]), tg_tensor_data_const(out[1 + i]),
                             (size_t)tg_tensor_numel(dx[i]) * sizeof(double)) == 0,
                      "case %d: the gradient of x[%d] differs from the serial loops'", which, i);
        tg_tensor_free(dx[i]);
    }
}

START_TEST(test_ompcopy_big_same_bits)
{
    const int which = _i / 2;
    const tg_dtype dt = _i % 2 ? TG_F32 : TG_F64;
    static const char *const names[CP_NCASE] = {"permute (64,128,64) by (2,0,1)",
                                                "concat (512,200), (512,56) axis 1",
                                                "gather axis 1",
                                                "gather axis 0",
                                                "index_select axis 0",
                                                "index_select axis 1",
                                                "embedding (padding 3)"};
    static const char *const what[CP_OUT] = {"value", "gradient of x[0]", "gradient of x[1]",
                                             "op-built gradient of x[0]",
                                             "op-built gradient of x[1]"};
    cp_case c = cp_make(which, dt);
    tg_tensor *one[CP_OUT], *two[CP_OUT], *w = NULL;
    cp_run(which, &c, 1, one, &w);
    cp_run(which, &c, 2, two, NULL);
    for (int k = 0; k < CP_OUT; k++) {
        ck_assert(!one[k] == !two[k]);
        if (!one[k]) continue;
        char id[80];
        snprintf(id, sizeof id, "%s (%s)", names[which], dt == TG_F32 ? "f32" : "f64");
        assert_same_bytes(id, what[k], 2, one[k], two[k]);
    }
    if (dt == TG_F64) cp_check_serial(which, &c, two, w);
    for (int k = 0; k < CP_OUT; k++) {
        tg_tensor_free(one[k]);
        tg_tensor_free(two[k]);
    }
    tg_tensor_free(w);
    cp_free(&c);
    ck_assert_int_eq(tg_set_num_threads(0), TG_OK);
}
END_TEST

static void add_ompcopy_cases(Suite *s)
{
    TCase *tc = tcase_create("ompcopy");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_ompcopy_big_same_bits, 0, 2 * CP_NCASE);
    suite_add_tcase(s, tc);
}
/* ---- end of ompcopy's block */

/* ---- ompaxis: sums, means, logsumexp, norm and prod along axes above
 * their thresholds (docs/performance.md, "Thread thresholds: sums and map
 * reductions along axes"), without the force: 2 threads give 1 thread's
 * bytes for the value and the gradient of sum_all(y^2), and in f64 both
 * match plain serial loops to 1e-12 (so a piece that reduced or wrote the
 * wrong elements fails even where its threads agree). */
enum { OA_SUM, OA_MEAN, OA_LSE, OA_NORM3, OA_PROD };
typedef struct oa_case {
    int op, ndim, naxes, axes[2];
    int64_t shape[3];
} oa_case;
static const oa_case oa_cases[] = {
    {OA_SUM, 3, 1, {0}, {50, 40, 300}},     /* over axis 0: 40 rows of outputs */
    {OA_SUM, 2, 1, {0}, {1000, 300}},       /* one row of outputs: one piece */
    {OA_SUM, 2, 1, {1}, {3000, 257}},       /* over the last axis */
    {OA_SUM, 3, 2, {0, 2}, {16, 40, 515}},  /* over two axes, the last among them */
    {OA_MEAN, 3, 2, {0, 2}, {24, 600, 30}}, /* over two axes, a middle one kept */
    {OA_MEAN, 3, 1, {0}, {24, 600, 30}},    {OA_LSE, 3, 1, {1}, {40, 50, 300}},
    {OA_LSE, 2, 1, {1}, {2000, 200}},       {OA_NORM3, 3, 1, {1}, {50, 300, 40}},
    {OA_PROD, 2, 1, {1}, {2000, 150}},
};
enum { OA_NCASE = sizeof oa_cases / sizeof *oa_cases };

static tg_tensor *oa_op(tg_tape *tp, const oa_case *c, tg_tensor *x)
{
    switch (c->op) {
    case OA_SUM:
        return tg_sum(tp, x, c->naxes, c->axes, false);
    case OA_MEAN:
        return tg_mean(tp, x, c->naxes, c->axes, false);
    case OA_LSE:
        return tg_logsumexp(tp, x, c->naxes, c->axes, false);
    case OA_NORM3:
        return tg_norm(tp, x, 3, c->naxes, c->axes, false);
    default:
        return tg_prod(tp, x, c->naxes, c->axes, false);
    }
}

/* x of the case (factors near 1 for prod: no underflow) */
static tg_tensor *oa_input(const oa_case *c, tg_dtype dt)
{
    const bool near1 = c->op == OA_PROD;
    tg_tensor *x =
        tt_param(c->ndim, c->shape, 70 + (uint64_t)c->op, near1 ? 0.8 : -1.5, near1 ? 1.2 : 1.5);
    tg_tensor *y = tg_tensor_cast_new(x, dt);
    tg_tensor_free(x);
    tg_tensor_set_requires_grad(y, true);
    return y;
}

/* out[0]: y = op(x), out[1]: the gradient of sum_all(y^2) in x. */
static void oa_run(const oa_case *c, tg_tensor *x, int nt, tg_tensor *out[2])
{
    ck_assert_int_eq(tg_set_num_threads(nt), TG_OK);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = oa_op(tp, c, x);
    tg_tensor *loss = tg_sum_all(tp, tg_square(tp, y));
    ck_assert_msg(loss != NULL, "%s", tg_tape_error(tp));
    out[0] = keep(y);
    out[1] = keep(tg_grad(tp, loss, x, false));
    tg_tape_free(tp);
}

/* The flat output index of x's element i (row-major, reduced axes dropped). */
static int64_t oa_out_index(const oa_case *c, int64_t i)
{
    int64_t o = 0, st = 1;
    for (int d = c->ndim - 1; d >= 0; d--) {
        const int64_t k = i % c->shape[d];
        i /= c->shape[d];
        bool red = false;
        for (int a = 0; a < c->naxes; a++) red = red || c->axes[a] == d;
        if (red) continue;
        o += k * st;
        st *= c->shape[d];
    }
    return o;
}

/* f64: y and the gradient against plain loops over x in row-major order. */
static void oa_check_serial(const oa_case *c, const tg_tensor *x, tg_tensor *const out[2])
{
    const int64_t n = tg_tensor_numel(x), m = tg_tensor_numel(out[0]);
    const double *v = tg_tensor_data_const(x), *y = tg_tensor_data_const(out[0]),
                 *g = tg_tensor_data_const(out[1]);
    tg_tensor *buf = tg_tensor_new(TG_F64, 2, (const int64_t[]){3, m});
    ck_assert_ptr_nonnull(buf);
    double *ref = tg_tensor_data(buf), *mag = ref + m, *mx = mag + m;
    for (int64_t o = 0; o < m; o++) {
        ref[o] = c->op == OA_PROD ? 1 : 0;
        mx[o] = -INFINITY;
    }
    for (int64_t i = 0; i < n; i++) {
        const int64_t o = oa_out_index(c, i);
        mx[o] = fmax(mx[o], v[i]);
        mag[o] += fabs(v[i]);
    }
    for (int64_t i = 0; i < n; i++) {
        const int64_t o = oa_out_index(c, i);
        if (c->op == OA_SUM || c->op == OA_MEAN) ref[o] += v[i];
        if (c->op == OA_LSE) ref[o] += exp(v[i] - mx[o]);
        if (c->op == OA_NORM3) ref[o] += pow(fabs(v[i]), 3);
        if (c->op == OA_PROD) ref[o] *= v[i];
    }
    for (int64_t o = 0; o < m; o++) {
        if (c->op == OA_MEAN) ref[o] *= (double)m / (double)n, mag[o] *= (double)m / (double)n;
        if (c->op == OA_LSE) ref[o] = mx[o] + log(ref[o]);
        if (c->op == OA_NORM3) ref[o] = cbrt(ref[o]);
        /* a sum's error is relative to its terms' magnitudes */
        if (c->op != OA_SUM && c->op != OA_MEAN) mag[o] = fabs(ref[o]);
        const double scale = mag[o];
        ck_assert_msg(fabs(y[o] - ref[o]) <= 1e-12 * scale, "case op %d: y[%lld] = %.17g, %.17g",
                      c->op, (long long)o, y[o], ref[o]);
    }
    for (int64_t i = 0; i < n; i++) {
        const int64_t o = oa_out_index(c, i);
        const double t = v[i], yo = ref[o];
        double dy = (double)m / (double)n; /* mean */
        if (c->op == OA_SUM) dy = 1;
        if (c->op == OA_LSE) dy = exp(t - yo);
        if (c->op == OA_NORM3) dy = (t > 0 ? 1 : -1) * pow(fabs(t) / yo, 2);
        if (c->op == OA_PROD) dy = yo / t;
        const double want = 2 * yo * dy;
        /* yo is known to 1e-12 of mag (a sum's: relative to its terms) */
        ck_assert_msg(fabs(g[i] - want) <= 1e-12 * fabs(2 * mag[o] * dy),
                      "case op %d: dx[%lld] = %.17g, %.17g", c->op, (long long)i, g[i], want);
    }
    tg_tensor_free(buf);
}

START_TEST(test_ompaxis_big_same_bits)
{
    const oa_case *c = &oa_cases[_i / 2];
    const tg_dtype dt = _i % 2 ? TG_F32 : TG_F64;
    tg_tensor *x = oa_input(c, dt), *one[2], *two[2];
    oa_run(c, x, 1, one);
    oa_run(c, x, 2, two);
    char id[64];
    snprintf(id, sizeof id, "ompaxis case %d (%s)", _i / 2, dt == TG_F32 ? "f32" : "f64");
    assert_same_bytes(id, "value", 2, one[0], two[0]);
    assert_same_bytes(id, "gradient", 2, one[1], two[1]);
    if (dt == TG_F64) oa_check_serial(c, x, two);
    for (int k = 0; k < 2; k++) {
        tg_tensor_free(one[k]);
        tg_tensor_free(two[k]);
    }
    tg_tensor_free(x);
    ck_assert_int_eq(tg_set_num_threads(0), TG_OK);
}
END_TEST

static void add_ompaxis_cases(Suite *s)
{
    TCase *tc = tcase_create("ompaxis");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_ompaxis_big_same_bits, 0, 2 * OA_NCASE);
    suite_add_tcase(s, tc);
}
/* ---- end of ompaxis' block */

int main(void)
{
    Suite *s = suite_create("parallel");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_setting);
    tcase_add_test(tc, test_bad_counts);
    tcase_add_test(tc, test_op_rows_same_bits_f64);
    tcase_add_test(tc, test_op_rows_same_bits_f32);
    tcase_add_test(tc, test_elem_big_same_bits);
    tcase_add_test(tc, test_elem_big_sums_agree);
    tcase_add_test(tc, test_rosenbrock_big_same_bits);
    suite_add_tcase(s, tc);
    add_ompbcast_cases(s);
    add_ompconv_cases(s);
    add_omprows_cases(s);
    add_ompcopy_cases(s);
    add_ompaxis_cases(s);
    return tt_run(s);
}
