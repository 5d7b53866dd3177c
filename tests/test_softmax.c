/* Softmax and log-softmax: forward values against plain-C computations,
 * overflow safety, the Jacobian diag(y) - y y^T through vector-Jacobian
 * products, gradchecks with the axis in every position, second
 * derivatives, f32 against f64, and every error. */
#include "common.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- plain-C references --------------------------------------------------- */

/* Softmax (or log-softmax) of a row-major tensor along axis, by the
 * textbook formula with the max subtracted, in long double, walking the
 * axis with explicit index arithmetic (independent of the library's
 * blocked kernel). */
static void ref_softmax(int ndim, const int64_t *shape, int axis, const double *x, double *y,
                        bool log_out)
{
    int64_t outer = 1, inner = 1, n = shape[axis];
    for (int d = 0; d < axis; d++) outer *= shape[d];
    for (int d = axis + 1; d < ndim; d++) inner *= shape[d];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            long double mx = -INFINITY, s = 0;
            for (int64_t k = 0; k < n; k++) {
                long double v = x[(o * n + k) * inner + i];
                if (v > mx) mx = v;
            }
            for (int64_t k = 0; k < n; k++) s += expl(x[(o * n + k) * inner + i] - mx);
            for (int64_t k = 0; k < n; k++) {
                long double d = x[(o * n + k) * inner + i] - mx;
                y[(o * n + k) * inner + i] = (double)(log_out ? d - logl(s) : expl(d) / s);
            }
        }
}

static double *values_of(const tg_tensor *t)
{
    double *v = malloc((size_t)tg_tensor_numel(t) * sizeof *v + 1);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(tg_tensor_to_f64(t, v), TG_OK);
    return v;
}

/* ---- forward -------------------------------------------------------------- */

START_TEST(test_softmax_123)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    tg_tape *tp = tg_tape_new(NULL);
    double s = exp(1) + exp(2) + exp(3);
    tt_assert_values("softmax(1,2,3)", tg_softmax(tp, x, 0),
                     TT_VALUES(exp(1) / s, exp(2) / s, exp(3) / s), 3, 1e-15, 0);
    /* the same values to 4 digits, as printed in any textbook */
    tt_assert_values("softmax(1,2,3) rounded", tg_softmax(tp, x, -1),
                     TT_VALUES(0.0900306, 0.2447285, 0.6652410), 3, 1e-6, 0);
    tt_assert_values("log_softmax(1,2,3)", tg_log_softmax(tp, x, 0),
                     TT_VALUES(1 - log(s), 2 - log(s), 3 - log(s)), 3, 1e-15, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* Large inputs: a naive e^1001 overflows; the max-shifted form does not. */
START_TEST(test_softmax_large)
{
    tg_tape *tp = tg_tape_new(NULL);
    for (int dt = TG_F32; dt <= TG_F64; dt++) {
        const double tol = dt == TG_F64 ? 1e-15 : 4 * FLT_EPSILON;
        tg_tensor *x = tt_from((tg_dtype)dt, 1, TT_SHAPE(2), TT_VALUES(1000, 1001));
        const double e = exp(1.0), l = log1p(e);
        tt_assert_values("softmax(1000,1001)", tg_softmax(tp, x, 0),
                         TT_VALUES(1 / (1 + e), e / (1 + e)), 2, tol, 0);
        tt_assert_values("log_softmax(1000,1001)", tg_log_softmax(tp, x, 0), TT_VALUES(-l, 1 - l),
                         2, tol, 0);
        tg_tensor_free(x);
        /* and hugely negative: e^-1000 underflows to 0 without the shift */
        x = tt_from((tg_dtype)dt, 1, TT_SHAPE(3), TT_VALUES(-1000, -1001, -1002));
        double s = 1 + exp(-1.0) + exp(-2.0);
        tt_assert_values("softmax(-1000,-1001,-1002)", tg_softmax(tp, x, 0),
                         TT_VALUES(1 / s, exp(-1.0) / s, exp(-2.0) / s), 3, tol, 0);
        tt_assert_values("log_softmax(-1000,...)", tg_log_softmax(tp, x, 0),
                         TT_VALUES(-log(s), -1 - log(s), -2 - log(s)), 3, tol, 0);
        tg_tensor_free(x);
    }
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
}
END_TEST

/* Entries at -inf get probability exactly 0 (log-probability -inf); a row of
 * only -inf has no distribution and gives NaN, as in PyTorch. */
START_TEST(test_softmax_neg_inf)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 3),
                           TT_VALUES(-INFINITY, 0, 0, -INFINITY, -INFINITY, -INFINITY));
    tg_tensor *y = tg_softmax(tp, x, 1), *ly = tg_log_softmax(tp, x, 1);
    ck_assert_ptr_nonnull(y);
    ck_assert_ptr_nonnull(ly);
    ck_assert(tg_tensor_get_flat(y, 0) == 0.0);
    ck_assert(tg_tensor_get_flat(y, 1) == 0.5);
    ck_assert(tg_tensor_get_flat(y, 2) == 0.5);
    ck_assert(isinf(tg_tensor_get_flat(ly, 0)) && tg_tensor_get_flat(ly, 0) < 0);
    ck_assert(tg_tensor_get_flat(ly, 1) == -log(2.0));
    for (int i = 3; i < 6; i++) {
        ck_assert(isnan(tg_tensor_get_flat(y, i)));
        ck_assert(isnan(tg_tensor_get_flat(ly, i)));
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* Every axis of 1-d, 2-d, 3-d and 4-d tensors (including inner extents
 * larger than the kernel's block of columns) against the reference. */
START_TEST(test_softmax_axes_vs_reference)
{
    static const struct {
        int ndim;
        int64_t shape[4];
    } cases[] = {
        {1, {7}},       {2, {3, 5}},   {2, {1, 4}},     {2, {4, 1}},       {3, {2, 3, 4}},
        {3, {3, 1, 2}}, {2, {3, 130}}, {3, {2, 5, 70}}, {4, {2, 3, 2, 3}},
    };
    tg_tape *tp = tg_tape_new(NULL);
    for (int c = 0; c < LEN(cases); c++) {
        const int nd = cases[c].ndim;
        const int64_t *sh = cases[c].shape;
        tg_tensor *x = tt_rand(TG_F64, nd, sh, 100 + (uint64_t)c, -4, 4);
        double *xv = values_of(x);
        double *ref = malloc((size_t)tg_tensor_numel(x) * sizeof *ref);
        ck_assert_ptr_nonnull(ref);
        for (int axis = 0; axis < nd; axis++) {
            for (int lg = 0; lg < 2; lg++) {
                ref_softmax(nd, sh, axis, xv, ref, lg);
                tg_tensor *y = lg ? tg_log_softmax(tp, x, axis) : tg_softmax(tp, x, axis);
                tg_tensor *yn =
                    lg ? tg_log_softmax(tp, x, axis - nd) : tg_softmax(tp, x, axis - nd);
                char what[64];
                snprintf(what, sizeof what, "%s case %d axis %d", lg ? "log_softmax" : "softmax", c,
                         axis);
                /* log-softmax near 0 is a difference of O(1) terms: its
                 * absolute error is a few ulps of the inputs (|x| < 4 plus
                 * log sum e^x < 4 + log 130), not of the small result. */
                tt_assert_values(what, y, ref, tg_tensor_numel(x), 1e-14,
                                 lg ? 16 * 10 * DBL_EPSILON : 1e-300);
                /* the negative axis names the same axis: identical values */
                tt_assert_close(what, yn, y, 0, 0);
                ck_assert_int_eq(tg_tensor_ndim(y), nd);
                for (int d = 0; d < nd; d++) ck_assert_int_eq(tg_tensor_dim(y, d), sh[d]);
            }
            /* each slice along the axis sums to 1 */
            tg_tensor *s = tg_sum(tp, tg_softmax(tp, x, axis), 1, &axis, false);
            ck_assert_ptr_nonnull(s);
            for (int64_t i = 0; i < tg_tensor_numel(s); i++)
                ck_assert_double_eq_tol(tg_tensor_get_flat(s, i), 1.0, 1e-14);
        }
        ck_assert_int_eq(tg_tape_status(tp), TG_OK);
        tg_tape_reset(tp);
        free(xv);
        free(ref);
        tg_tensor_free(x);
    }
    tg_tape_free(tp);
}
END_TEST

/* An empty tensor is fine as long as the softmax axis itself is not empty:
 * there are simply no slices. */
START_TEST(test_softmax_empty_other_axis)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tg_tensor_zeros(TG_F64, 2, TT_SHAPE(0, 3));
    tg_tensor *y = tg_softmax(tp, x, 1);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_tensor_numel(y), 0);
    ck_assert_int_eq(tg_tensor_dim(y, 1), 3);
    ck_assert_ptr_nonnull(tg_log_softmax(tp, x, -1));
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* f32 agrees with f64 to f32 precision.  Bound: a few f32 ulps of the
 * result, plus a few ulps of the inputs' magnitude (4) for log-softmax,
 * whose value x - max - lse inherits the rounding of x itself. */
START_TEST(test_softmax_f32_vs_f64)
{
    tg_tape *tp = tg_tape_new(NULL);
    const int64_t *sh = TT_SHAPE(3, 4, 5);
    tg_tensor *x64 = tt_rand(TG_F64, 3, sh, 7, -4, 4);
    tg_tensor *x32 = tg_tensor_cast_new(x64, TG_F32);
    for (int axis = 0; axis < 3; axis++) {
        tt_assert_close("softmax f32", tg_softmax(tp, x32, axis), tg_softmax(tp, x64, axis),
                        8 * FLT_EPSILON, 0);
        tt_assert_close("log_softmax f32", tg_log_softmax(tp, x32, axis),
                        tg_log_softmax(tp, x64, axis), 8 * FLT_EPSILON, 4 * 4 * FLT_EPSILON);
        ck_assert_int_eq(tg_tensor_dtype(tg_softmax(tp, x32, axis)), TG_F32);
    }
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x64);
    tg_tensor_free(x32);
}
END_TEST

/* ---- gradients ------------------------------------------------------------ */

/* The Jacobian of y = softmax(x) is diag(y) - y y^T; of log_softmax it is
 * I - 1 y^T.  Row i is the VJP with the unit seed e_i. */
START_TEST(test_softmax_jacobian_vjp)
{
    const int n = 5;
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(5), TT_VALUES(0.3, -1.2, 2.0, 0.7, -0.1));
    tg_tape *tp = tg_tape_new(NULL);
    for (int lg = 0; lg < 2; lg++) {
        tg_tensor *y = lg ? tg_log_softmax(tp, x, 0) : tg_softmax(tp, x, 0);
        double sm[5], row[5];
        ref_softmax(1, TT_SHAPE(5), 0, (double[]){0.3, -1.2, 2.0, 0.7, -0.1}, sm, false);
        for (int i = 0; i < n; i++) {
            double e[5] = {0};
            e[i] = 1;
            tg_tensor *seed = tt_from(TG_F64, 1, TT_SHAPE(5), e);
            tg_tensor *g = NULL;
            ck_assert_int_eq(tg_vjp(tp, y, seed, 1, &x, &g, false), TG_OK);
            for (int j = 0; j < n; j++) row[j] = lg ? (i == j) - sm[j] : sm[i] * ((i == j) - sm[j]);
            tt_assert_values(lg ? "log_softmax Jacobian row" : "softmax Jacobian row", g, row, n,
                             1e-10, 0);
            tg_tensor_free(seed);
        }
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* Along axis 0 of a matrix the Jacobian is block-diagonal over columns: a
 * unit seed at (r, c) only reaches column c, with diag(y) - y y^T there. */
START_TEST(test_softmax_jacobian_columns)
{
    const int R = 3, C = 4;
    tg_tensor *x = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 11, -2, 2);
    double xv[12], sm[12];
    tg_tensor_to_f64(x, xv);
    ref_softmax(2, TT_SHAPE(3, 4), 0, xv, sm, false);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_softmax(tp, x, 0);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            double e[12] = {0}, expect[12] = {0};
            e[r * C + c] = 1;
            for (int k = 0; k < R; k++)
                expect[k * C + c] = sm[r * C + c] * ((k == r) - sm[k * C + c]);
            tg_tensor *seed = tt_from(TG_F64, 2, TT_SHAPE(3, 4), e);
            tg_tensor *g = NULL;
            ck_assert_int_eq(tg_vjp(tp, y, seed, 1, &x, &g, false), TG_OK);
            tt_assert_values("softmax axis-0 Jacobian row", g, expect, 12, 1e-10, 0);
            tg_tensor_free(seed);
        }
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

typedef struct sm_ctx {
    int axis;
    bool log_out;
} sm_ctx;

static tg_tensor *fn_softmax(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const sm_ctx *c = ctx;
    return c->log_out ? tg_log_softmax(tp, in[0], c->axis) : tg_softmax(tp, in[0], c->axis);
}

/* Gradcheck over 1-d, 2-d and 3-d inputs with the axis in every position,
 * given as positive and as negative numbers. */
START_TEST(test_softmax_gradcheck)
{
    static const struct {
        int ndim;
        int64_t shape[3];
    } cases[] = {{1, {6}}, {2, {3, 4}}, {2, {1, 5}}, {3, {2, 3, 4}}, {3, {4, 1, 3}}};
    for (int c = 0; c < LEN(cases); c++) {
        tg_tensor *x = tt_param(cases[c].ndim, cases[c].shape, 200 + (uint64_t)c, -3, 3);
        for (int axis = -cases[c].ndim; axis < cases[c].ndim; axis++)
            for (int lg = 0; lg < 2; lg++) {
                sm_ctx ctx = {axis, lg};
                char what[64];
                snprintf(what, sizeof what, "%s case %d axis %d", lg ? "log_softmax" : "softmax", c,
                         axis);
                /* over an axis of extent 1 the softmax is the constant 1
                 * (log-softmax 0): a zero gradient is the right answer */
                int a = axis < 0 ? axis + cases[c].ndim : axis;
                tt_gradcheck_ex(what, fn_softmax, &ctx, 1, &x, NULL, cases[c].shape[a] == 1);
            }
        tg_tensor_free(x);
    }
}
END_TEST

/* Second derivatives: the gradient of sum(w * softmax(x)) is itself
 * recorded (create_graph) and checked by finite differences, which
 * exercises the backward rule's own backward (through y = the node's
 * output). */
typedef struct sm2_ctx {
    int axis;
    bool log_out;
    tg_tensor *w;
} sm2_ctx;

static tg_tensor *fn_softmax_grad(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const sm2_ctx *c = ctx;
    tg_tensor *y = c->log_out ? tg_log_softmax(tp, in[0], c->axis) : tg_softmax(tp, in[0], c->axis);
    tg_tensor *f = tg_sum_all(tp, tg_mul(tp, y, c->w));
    return tg_grad(tp, f, in[0], true);
}

START_TEST(test_softmax_second_order)
{
    const int64_t *sh = TT_SHAPE(3, 4);
    tg_tensor *x = tt_param(2, sh, 31, -2, 2);
    tg_tensor *w = tt_rand(TG_F64, 2, sh, 32, -1, 1);
    for (int axis = 0; axis < 2; axis++)
        for (int lg = 0; lg < 2; lg++) {
            sm2_ctx ctx = {axis, lg, w};
            tt_gradcheck(lg ? "d/dx of grad log_softmax" : "d/dx of grad softmax", fn_softmax_grad,
                         &ctx, 1, &x);
        }
    tg_tensor_free(x);
    tg_tensor_free(w);
}
END_TEST

/* tg_backward into a parameter: d/dx sum(w * softmax(x)) = y (w - sum(w y)). */
START_TEST(test_softmax_backward_param)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    tg_tensor *w = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(0.5, -1, 2));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul(tp, w, tg_softmax(tp, x, 0)))), TG_OK);
    double s = exp(1) + exp(2) + exp(3), y[3] = {exp(1) / s, exp(2) / s, exp(3) / s};
    double wy = 0.5 * y[0] - y[1] + 2 * y[2];
    tt_assert_values("dx", tg_tensor_grad(x),
                     TT_VALUES(y[0] * (0.5 - wy), y[1] * (-1 - wy), y[2] * (2 - wy)), 3, 1e-10, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
}
END_TEST

/* ---- errors --------------------------------------------------------------- */

START_TEST(test_softmax_errors)
{
    tg_tensor *x = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 1, -1, 1);
    tg_tensor *e = tg_tensor_zeros(TG_F64, 2, TT_SHAPE(3, 0));
    tg_tensor *s = tg_tensor_scalar(TG_F64, 1.0);
    tg_tape *tp = tg_tape_new(NULL);

    ck_assert_ptr_null(tg_softmax(tp, x, 2));
    tt_assert_tape_error(tp, TG_ERR_AXIS, "softmax", "axis 2", "[3,4]");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_log_softmax(tp, x, -3));
    tt_assert_tape_error(tp, TG_ERR_AXIS, "log_softmax", "axis -3", "[3,4]");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_softmax(tp, s, 1)); /* a 0-d tensor takes only axis 0 or -1 */
    tt_assert_tape_error(tp, TG_ERR_AXIS, "softmax", "axis 1");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_softmax(tp, e, 1));
    tt_assert_tape_error(tp, TG_ERR_EMPTY, "softmax", "axis 1", "[3,0]", "extent 0");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_log_softmax(tp, e, -1));
    tt_assert_tape_error(tp, TG_ERR_EMPTY, "log_softmax", "axis -1", "[3,0]");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_softmax(tp, NULL, 0));
    tt_assert_tape_error(tp, TG_ERR_NULL, "softmax", "NULL");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_log_softmax(tp, NULL, 0));
    tt_assert_tape_error(tp, TG_ERR_NULL, "log_softmax", "NULL");
    tg_tape_reset(tp);
    /* no tape: NULL, nothing else to report to */
    ck_assert_ptr_null(tg_softmax(NULL, x, 0));
    ck_assert_ptr_null(tg_log_softmax(NULL, x, 0));

    /* on a tape in error: NULL, no node recorded, the first error kept */
    ck_assert_ptr_null(tg_softmax(tp, x, 5));
    int64_t nodes = tg_tape_usage(tp).nodes;
    ck_assert_ptr_null(tg_softmax(tp, x, 0));
    ck_assert_ptr_null(tg_log_softmax(tp, x, 1));
    ck_assert_int_eq(tg_tape_usage(tp).nodes, nodes);
    tt_assert_tape_error(tp, TG_ERR_AXIS, "axis 5");

    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(e);
    tg_tensor_free(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("softmax");
    TCase *tf = tcase_create("forward");
    tcase_add_test(tf, test_softmax_123);
    tcase_add_test(tf, test_softmax_large);
    tcase_add_test(tf, test_softmax_neg_inf);
    tcase_add_test(tf, test_softmax_axes_vs_reference);
    tcase_add_test(tf, test_softmax_empty_other_axis);
    tcase_add_test(tf, test_softmax_f32_vs_f64);
    suite_add_tcase(s, tf);
    TCase *tg = tcase_create("gradient");
    tcase_add_test(tg, test_softmax_jacobian_vjp);
    tcase_add_test(tg, test_softmax_jacobian_columns);
    tcase_add_test(tg, test_softmax_gradcheck);
    tcase_add_test(tg, test_softmax_second_order);
    tcase_add_test(tg, test_softmax_backward_param);
    suite_add_tcase(s, tg);
    TCase *te = tcase_create("errors");
    tcase_add_test(te, test_softmax_errors);
    suite_add_tcase(s, te);
    return tt_run(s);
}
