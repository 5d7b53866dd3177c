/* Reductions: sum / mean over axis lists (negative axes, keepdim both
 * ways), sum_all / mean_all, sum_to (the adjoint of broadcast_to) and max
 * along an axis.  Forward values against hand values, gradchecks in f64
 * over every axis subset of 1-d to 4-d shapes, ties of max (the gradient
 * goes to the first arg-max), empty axes, second derivatives, f32 against
 * f64, and every error path. */
#include "common.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int64_t prod(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* ---- one reduction with its parameters, as a tg_fn --------------------------- */
typedef enum red_kind { R_SUM, R_MEAN, R_SUM_ALL, R_MEAN_ALL, R_MAX, R_SUM_TO } red_kind;

typedef struct red_ctx {
    red_kind k;
    int naxes;
    int axes[TG_MAX_DIMS];
    int axis; /* max */
    bool keepdim;
    int ndim; /* sum_to target */
    int64_t shape[TG_MAX_DIMS];
} red_ctx;

static tg_tensor *apply(tg_tape *tp, tg_tensor *x, const red_ctx *c)
{
    switch (c->k) {
    case R_SUM:
        return tg_sum(tp, x, c->naxes, c->axes, c->keepdim);
    case R_MEAN:
        return tg_mean(tp, x, c->naxes, c->axes, c->keepdim);
    case R_SUM_ALL:
        return tg_sum_all(tp, x);
    case R_MEAN_ALL:
        return tg_mean_all(tp, x);
    case R_MAX:
        return tg_max(tp, x, c->axis, c->keepdim);
    case R_SUM_TO:
        return tg_sum_to(tp, x, c->ndim, c->shape);
    }
    return NULL;
}

static tg_tensor *apply_fn(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    return apply(tp, in[0], ctx);
}

static void check_red(const char *what, const red_ctx *c, int ndim, const int64_t *shape,
                      uint64_t seed)
{
    tg_tensor *x = tt_param(ndim, shape, seed, -1, 1);
    /* default options: kinks (max near a tie) are detected and skipped */
    tt_gradcheck_ex(what, apply_fn, (void *)c, 1, &x, NULL, false);
    tg_tensor_free(x);
}

/* ---- sum / mean forward ------------------------------------------------------ */
/* x = [[0,1,2],[3,4,5]] */
START_TEST(test_sum_forward_2x3)
{
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum(tp, x, 1, (int[]){0}, false);
    tt_assert_shape(y, 1, TT_SHAPE(3));
    tt_assert_values("sum axis 0", y, TT_VALUES(3, 5, 7), 3, 0, 0);
    y = tg_sum(tp, x, 1, (int[]){0}, true);
    tt_assert_shape(y, 2, TT_SHAPE(1, 3));
    tt_assert_values("sum axis 0 keepdim", y, TT_VALUES(3, 5, 7), 3, 0, 0);
    y = tg_sum(tp, x, 1, (int[]){1}, false);
    tt_assert_shape(y, 1, TT_SHAPE(2));
    tt_assert_values("sum axis 1", y, TT_VALUES(3, 12), 2, 0, 0);
    y = tg_sum(tp, x, 1, (int[]){-1}, true);
    tt_assert_shape(y, 2, TT_SHAPE(2, 1));
    tt_assert_values("sum axis -1 keepdim", y, TT_VALUES(3, 12), 2, 0, 0);
    y = tg_sum(tp, x, 2, (int[]){0, 1}, false);
    tt_assert_shape(y, 0, NULL);
    tt_assert_values("sum axes 0,1", y, TT_VALUES(15), 1, 0, 0);
    y = tg_sum(tp, x, 2, (int[]){-1, 0}, true);
    tt_assert_shape(y, 2, TT_SHAPE(1, 1));
    tt_assert_values("sum axes -1,0 keepdim", y, TT_VALUES(15), 1, 0, 0);
    y = tg_sum(tp, x, 2, (int[]){0, 1}, true); /* every axis, listed */
    tt_assert_shape(y, 2, TT_SHAPE(1, 1));
    tt_assert_values("sum all keepdim", y, TT_VALUES(15), 1, 0, 0);
    y = tg_sum_all(tp, x);
    tt_assert_shape(y, 0, NULL);
    tt_assert_values("sum_all", y, TT_VALUES(15), 1, 0, 0);
    /* 0-d */
    tg_tensor *s = tt_from(TG_F64, 0, NULL, TT_VALUES(2.5));
    tt_assert_values("sum_all 0-d", tg_sum_all(tp, s), TT_VALUES(2.5), 1, 0, 0);
    tt_assert_values("mean_all 0-d", tg_mean_all(tp, s), TT_VALUES(2.5), 1, 0, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(s);
}
END_TEST

/* x[i][j][k] = 12 i + 4 j + k on (2,3,4) */
START_TEST(test_sum_forward_2x3x4)
{
    tg_tensor *x = tt_iota(TG_F64, 3, TT_SHAPE(2, 3, 4));
    tg_tape *tp = tg_tape_new(NULL);
    /* sum_i = 12 + 8 j + 2 k */
    tg_tensor *y = tg_sum(tp, x, 1, (int[]){0}, false);
    tt_assert_shape(y, 2, TT_SHAPE(3, 4));
    tt_assert_values("axis 0", y, TT_VALUES(12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34), 12, 0,
                     0);
    /* sum_j = 36 i + 12 + 3 k */
    y = tg_sum(tp, x, 1, (int[]){-2}, true);
    tt_assert_shape(y, 3, TT_SHAPE(2, 1, 4));
    tt_assert_values("axis -2 keepdim", y, TT_VALUES(12, 15, 18, 21, 48, 51, 54, 57), 8, 0, 0);
    /* sum_k = 48 i + 16 j + 6 */
    y = tg_sum(tp, x, 1, (int[]){2}, false);
    tt_assert_shape(y, 2, TT_SHAPE(2, 3));
    tt_assert_values("axis 2", y, TT_VALUES(6, 22, 38, 54, 70, 86), 6, 0, 0);
    /* sum_i sum_k = 60 + 32 j */
    y = tg_sum(tp, x, 2, (int[]){0, 2}, false);
    tt_assert_shape(y, 1, TT_SHAPE(3));
    tt_assert_values("axes 0,2", y, TT_VALUES(60, 92, 124), 3, 0, 0);
    y = tg_sum(tp, x, 2, (int[]){-1, -3}, true);
    tt_assert_shape(y, 3, TT_SHAPE(1, 3, 1));
    tt_assert_values("axes -1,-3 keepdim", y, TT_VALUES(60, 92, 124), 3, 0, 0);
    /* sum_i sum_j = 60 + 6 k; sum_j sum_k = 144 i + 66 */
    tt_assert_values("axes 0,1", tg_sum(tp, x, 2, (int[]){1, 0}, false), TT_VALUES(60, 66, 72, 78),
                     4, 0, 0);
    tt_assert_values("axes 1,2", tg_sum(tp, x, 2, (int[]){1, 2}, false), TT_VALUES(66, 210), 2, 0,
                     0);
    tt_assert_values("all", tg_sum(tp, x, 3, (int[]){2, 0, 1}, false), TT_VALUES(276), 1, 0, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_mean_forward)
{
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tensor *x3 = tt_iota(TG_F64, 3, TT_SHAPE(2, 3, 4));
    tg_tape *tp = tg_tape_new(NULL);
    tt_assert_values("mean axis 0", tg_mean(tp, x, 1, (int[]){0}, false), TT_VALUES(1.5, 2.5, 3.5),
                     3, 0, 0);
    tg_tensor *y = tg_mean(tp, x, 1, (int[]){-1}, true);
    tt_assert_shape(y, 2, TT_SHAPE(2, 1));
    tt_assert_values("mean axis -1", y, TT_VALUES(1, 4), 2, 0, 0);
    tt_assert_values("mean_all", tg_mean_all(tp, x), TT_VALUES(2.5), 1, 0, 0);
    tt_assert_values("mean axes 0,2", tg_mean(tp, x3, 2, (int[]){0, 2}, false),
                     TT_VALUES(7.5, 11.5, 15.5), 3, 0, 0);
    tt_assert_values("mean_all 3-d", tg_mean_all(tp, x3), TT_VALUES(11.5), 1, 0, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(x3);
}
END_TEST

/* Hand gradients: d sum(w * sum(x, 1)) / dx = w broadcast; d mean_all / dx
 * = 1/n.  Exact in f64 (compared to 1e-15). */
START_TEST(test_sum_mean_grad_hand)
{
    tg_tensor *x = tt_param(2, TT_SHAPE(2, 3), 1, -1, 1);
    tg_tensor *w = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(2, -3));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_all(tp, tg_mul(tp, tg_sum(tp, x, 1, (int[]){1}, false), w));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values("d sum", tg_tensor_grad(x), TT_VALUES(2, 2, 2, -3, -3, -3), 6, 0, 0);
    tg_tape_reset(tp);
    y = tg_mean_all(tp, x);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    const double s = 1.0 / 6;
    tt_assert_values("d mean", tg_tensor_grad(x), TT_VALUES(s, s, s, s, s, s), 6, 1e-15, 0);
    /* d sum(w^T mean(x, -2, keepdim)) / dx = w[j] / 2 for w (1,3) */
    tg_tape_reset(tp);
    tg_tensor *w3 = tt_from(TG_F64, 2, TT_SHAPE(1, 3), TT_VALUES(4, -2, 1));
    y = tg_sum_all(tp, tg_mul(tp, tg_mean(tp, x, 1, (int[]){-2}, true), w3));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values("d mean axis -2", tg_tensor_grad(x), TT_VALUES(2, -1, 0.5, 2, -1, 0.5), 6, 0,
                     0);
    tg_tape_free(tp);
    tg_tensor_free(w3);
    tg_tensor_free(x);
    tg_tensor_free(w);
}
END_TEST

/* Every subset of axes of 1-d to 4-d shapes, listed with positive and with
 * negative numbers, keepdim both ways, sum and mean. */
START_TEST(test_sum_mean_gradcheck)
{
    static const struct {
        int nd;
        int64_t shape[4];
    } shapes[] = {{1, {5}}, {2, {2, 3}}, {3, {2, 3, 4}}, {4, {2, 1, 3, 2}}};
    int count = 0;
    for (int s = 0; s < LEN(shapes); s++) {
        const int nd = shapes[s].nd;
        for (unsigned mask = 1; mask < (1u << nd); mask++) {
            for (int variant = 0; variant < 4; variant++) {
                red_ctx c = {.k = variant & 1 ? R_MEAN : R_SUM, .keepdim = variant & 2};
                /* list the axes from the last, alternately negative */
                for (int d = nd - 1; d >= 0; d--)
                    if (mask & (1u << d)) {
                        c.axes[c.naxes] = c.naxes % 2 ? d - nd : d;
                        c.naxes++;
                    }
                char what[96];
                snprintf(what, sizeof what, "%s of %d-d over mask %u (first axis %d) keepdim %d",
                         c.k == R_MEAN ? "mean" : "sum", nd, mask, c.axes[0], (int)c.keepdim);
                check_red(what, &c, nd, shapes[s].shape, 10 + (uint64_t)count++);
            }
        }
    }
    ck_assert_int_eq(count, 4 * (1 + 3 + 7 + 15));
    red_ctx all = {.k = R_SUM_ALL};
    check_red("sum_all 3-d", &all, 3, TT_SHAPE(2, 3, 2), 200);
    check_red("sum_all 0-d", &all, 0, NULL, 201);
    all.k = R_MEAN_ALL;
    check_red("mean_all 4-d", &all, 4, TT_SHAPE(2, 1, 3, 2), 202);
    check_red("mean_all 0-d", &all, 0, NULL, 203);
    red_ctx listed = {.k = R_MEAN, .naxes = 2, .axes = {1, 0}, .keepdim = true};
    check_red("mean over both axes listed", &listed, 2, TT_SHAPE(2, 2), 204);
}
END_TEST

/* An axis of extent 0: sum gives zeros, mean is an error, backward works. */
START_TEST(test_sum_empty_axis)
{
    tg_tensor *x = tg_tensor_new(TG_F64, 3, TT_SHAPE(2, 0, 3));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum(tp, x, 1, (int[]){1}, false);
    tt_assert_shape(y, 2, TT_SHAPE(2, 3));
    tt_assert_values("sum over empty axis", y, TT_VALUES(0, 0, 0, 0, 0, 0), 6, 0, 0);
    tg_tensor *k = tg_sum(tp, x, 1, (int[]){-2}, true);
    tt_assert_shape(k, 3, TT_SHAPE(2, 1, 3));
    tt_assert_values("keepdim", k, TT_VALUES(0, 0, 0, 0, 0, 0), 6, 0, 0);
    tt_assert_values("sum_all of empty", tg_sum_all(tp, x), TT_VALUES(0), 1, 0, 0);
    tt_assert_shape(tg_sum(tp, x, 1, (int[]){0}, false), 2, TT_SHAPE(0, 3));
    /* mean over a non-empty axis of an empty tensor is an empty result */
    tt_assert_shape(tg_mean(tp, x, 1, (int[]){2}, false), 2, TT_SHAPE(2, 0));
    tg_tensor *w = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 5, -1, 1);
    tg_tensor *loss = tg_sum_all(tp, tg_mul(tp, y, w));
    ck_assert_int_eq(tg_backward(tp, loss), TG_OK);
    tt_assert_shape(tg_tensor_grad(x), 3, TT_SHAPE(2, 0, 3));
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    ck_assert_ptr_null(tg_mean(tp, x, 1, (int[]){1}, false));
    tt_assert_tape_error(tp, TG_ERR_EMPTY, "mean", "f64[2,0,3]");
    tg_tape_free(tp);
    tp = tg_tape_new(NULL);
    ck_assert_ptr_null(tg_mean_all(tp, x));
    tt_assert_tape_error(tp, TG_ERR_EMPTY, "mean", "f64[2,0,3]");
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
}
END_TEST

/* ---- sum_to / broadcast_to ------------------------------------------------------ */
START_TEST(test_sum_to_forward)
{
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tensor *x3 = tt_iota(TG_F64, 3, TT_SHAPE(2, 3, 4));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_to(tp, x, 1, TT_SHAPE(3));
    tt_assert_shape(y, 1, TT_SHAPE(3));
    tt_assert_values("(2,3)->(3)", y, TT_VALUES(3, 5, 7), 3, 0, 0);
    y = tg_sum_to(tp, x, 2, TT_SHAPE(2, 1));
    tt_assert_shape(y, 2, TT_SHAPE(2, 1));
    tt_assert_values("(2,3)->(2,1)", y, TT_VALUES(3, 12), 2, 0, 0);
    tt_assert_values("(2,3)->(1,3)", tg_sum_to(tp, x, 2, TT_SHAPE(1, 3)), TT_VALUES(3, 5, 7), 3, 0,
                     0);
    y = tg_sum_to(tp, x, 0, NULL);
    tt_assert_shape(y, 0, NULL);
    tt_assert_values("(2,3)->()", y, TT_VALUES(15), 1, 0, 0);
    tt_assert_values("(2,3)->(1,1)", tg_sum_to(tp, x, 2, TT_SHAPE(1, 1)), TT_VALUES(15), 1, 0, 0);
    tt_assert_values("(2,3)->(2,3)", tg_sum_to(tp, x, 2, TT_SHAPE(2, 3)),
                     TT_VALUES(0, 1, 2, 3, 4, 5), 6, 0, 0);
    y = tg_sum_to(tp, x3, 2, TT_SHAPE(3, 1));
    tt_assert_shape(y, 2, TT_SHAPE(3, 1));
    tt_assert_values("(2,3,4)->(3,1)", y, TT_VALUES(60, 92, 124), 3, 0, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(x3);
}
END_TEST

START_TEST(test_sum_to_gradcheck)
{
    static const struct {
        int nd;
        int64_t shape[4];
        int td;
        int64_t target[4];
    } cases[] = {
        {2, {2, 3}, 1, {3}},          {2, {2, 3}, 2, {2, 1}},
        {2, {2, 3}, 0, {0}},          {3, {2, 3, 4}, 2, {3, 1}},
        {3, {2, 3, 4}, 3, {1, 3, 1}}, {3, {2, 3, 4}, 3, {2, 3, 4}},
        {4, {2, 1, 3, 2}, 2, {1, 2}}, {4, {2, 2, 3, 2}, 4, {2, 1, 3, 1}},
    };
    for (int i = 0; i < LEN(cases); i++) {
        red_ctx c = {.k = R_SUM_TO, .ndim = cases[i].td};
        memcpy(c.shape, cases[i].target, sizeof cases[i].target);
        char what[48];
        snprintf(what, sizeof what, "sum_to case %d", i);
        check_red(what, &c, cases[i].nd, cases[i].shape, 300 + (uint64_t)i);
    }
}
END_TEST

/* sum_to is the adjoint of broadcast_to: <broadcast_to(x), y> = <x, sum_to(y)>,
 * and sum_to(broadcast_to(x)) = x times the number of copies. */
START_TEST(test_broadcast_sum_to_round_trip)
{
    static const struct {
        int nd;
        int64_t shape[4];
        int td;
        int64_t target[4];
    } cases[] = {
        {1, {3}, 2, {2, 3}},    {2, {2, 1}, 3, {4, 2, 5}},       {0, {0}, 2, {3, 2}},
        {2, {1, 3}, 2, {4, 3}}, {3, {2, 1, 2}, 4, {3, 2, 4, 2}}, {2, {2, 3}, 2, {2, 3}},
    };
    for (int i = 0; i < LEN(cases); i++) {
        tg_tensor *x = tt_rand(TG_F64, cases[i].nd, cases[i].shape, 400 + (uint64_t)i, -1, 1);
        tg_tensor *y = tt_rand(TG_F64, cases[i].td, cases[i].target, 500 + (uint64_t)i, -1, 1);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *bx = tg_broadcast_to(tp, x, cases[i].td, cases[i].target);
        tg_tensor *sy = tg_sum_to(tp, y, cases[i].nd, cases[i].shape);
        tg_tensor *lhs = tg_sum_all(tp, tg_mul(tp, bx, y));
        tg_tensor *rhs = tg_sum_all(tp, tg_mul(tp, x, sy));
        ck_assert_msg(lhs && rhs, "case %d: %s", i, tg_tape_error(tp));
        tt_assert_close("adjoint", lhs, rhs, 1e-13, 1e-15);
        const double copies =
            (double)(prod(cases[i].td, cases[i].target) / prod(cases[i].nd, cases[i].shape));
        tg_tensor *back = tg_sum_to(tp, bx, cases[i].nd, cases[i].shape);
        tt_assert_close("round trip", back, tg_mul_scalar(tp, x, copies), 1e-14, 0);
        tg_tape_free(tp);
        tg_tensor_free(x);
        tg_tensor_free(y);
    }
}
END_TEST

/* ---- max ------------------------------------------------------------------- */
START_TEST(test_max_forward)
{
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 5, 2, 7, 0, 3));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_max(tp, x, 0, false);
    tt_assert_shape(y, 1, TT_SHAPE(3));
    tt_assert_values("max axis 0", y, TT_VALUES(7, 5, 3), 3, 0, 0);
    y = tg_max(tp, x, 1, true);
    tt_assert_shape(y, 2, TT_SHAPE(2, 1));
    tt_assert_values("max axis 1 keepdim", y, TT_VALUES(5, 7), 2, 0, 0);
    y = tg_max(tp, x, -1, false);
    tt_assert_shape(y, 1, TT_SHAPE(2));
    tt_assert_values("max axis -1", y, TT_VALUES(5, 7), 2, 0, 0);
    /* x[f] = 7 f mod 24 on (2,3,4): a permutation of 0..23 */
    double v[24];
    for (int f = 0; f < 24; f++) v[f] = (7 * f) % 24;
    tg_tensor *x3 = tt_from(TG_F64, 3, TT_SHAPE(2, 3, 4), v);
    y = tg_max(tp, x3, 0, false);
    tt_assert_shape(y, 2, TT_SHAPE(3, 4));
    tt_assert_values("3-d axis 0", y, TT_VALUES(12, 19, 14, 21, 16, 23, 18, 13, 20, 15, 22, 17), 12,
                     0, 0);
    y = tg_max(tp, x3, -2, true);
    tt_assert_shape(y, 3, TT_SHAPE(2, 1, 4));
    tt_assert_values("3-d axis -2", y, TT_VALUES(8, 15, 22, 21, 20, 23, 10, 17), 8, 0, 0);
    y = tg_max(tp, x3, 2, false);
    tt_assert_shape(y, 2, TT_SHAPE(2, 3));
    tt_assert_values("3-d axis 2", y, TT_VALUES(21, 18, 22, 19, 23, 20), 6, 0, 0);
    /* 1-d to 0-d, negative values, and an extent of 1 */
    tg_tensor *n = tt_from(TG_F64, 1, TT_SHAPE(4), TT_VALUES(-3, -1, -2, -8));
    y = tg_max(tp, n, 0, false);
    tt_assert_shape(y, 0, NULL);
    tt_assert_values("1-d", y, TT_VALUES(-1), 1, 0, 0);
    tg_tensor *o = tt_from(TG_F64, 2, TT_SHAPE(2, 1), TT_VALUES(4, -4));
    tt_assert_values("extent 1", tg_max(tp, o, 1, false), TT_VALUES(4, -4), 2, 0, 0);
    /* a max over a non-empty axis of an empty tensor is empty */
    tg_tensor *e = tg_tensor_new(TG_F64, 2, TT_SHAPE(0, 3));
    tt_assert_shape(tg_max(tp, e, 1, false), 1, TT_SHAPE(0));
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(x3);
    tg_tensor_free(n);
    tg_tensor_free(o);
    tg_tensor_free(e);
}
END_TEST

/* The hand formula d sum(w * max(x, axis)) / dx = w at the arg-max, 0
 * elsewhere, on the (2,3,4) permutation tensor: exact. */
START_TEST(test_max_grad_hand)
{
    double v[24];
    for (int f = 0; f < 24; f++) v[f] = (7 * f) % 24;
    tg_tensor *x = tt_from(TG_F64, 3, TT_SHAPE(2, 3, 4), v);
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    /* axis 0 with w = 1: the one-hot arg-max mask */
    tg_tensor *y = tg_sum_all(tp, tg_max(tp, x, 0, false));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values(
        "mask axis 0", tg_tensor_grad(x),
        TT_VALUES(0, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1), 24, 0,
        0);
    /* axis 1 keepdim with weights w[i][k] = 1 + 4 i + k at the arg-max j */
    tg_tape_reset(tp);
    tg_tensor *w = tt_iota(TG_F64, 3, TT_SHAPE(2, 1, 4));
    tg_tensor *m = tg_max(tp, x, 1, true);
    y = tg_sum_all(tp, tg_mul(tp, tg_add_scalar(tp, w, 1), m));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values(
        "weighted axis 1", tg_tensor_grad(x),
        TT_VALUES(0, 0, 0, 4, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 6, 0, 0, 5, 0, 7, 8), 24, 0,
        0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
}
END_TEST

/* Distinct random values: every axis (negative too) of 1-d to 4-d, keepdim
 * both ways. */
START_TEST(test_max_gradcheck)
{
    static const struct {
        int nd;
        int64_t shape[4];
    } shapes[] = {{1, {6}}, {2, {3, 4}}, {3, {2, 3, 4}}, {4, {2, 3, 1, 3}}};
    int count = 0;
    for (int s = 0; s < LEN(shapes); s++) {
        const int nd = shapes[s].nd;
        for (int ax = -nd; ax < nd; ax++) {
            for (int kd = 0; kd < 2; kd++) {
                red_ctx c = {.k = R_MAX, .axis = ax, .keepdim = kd};
                char what[64];
                snprintf(what, sizeof what, "max of %d-d axis %d keepdim %d", nd, ax, kd);
                check_red(what, &c, nd, shapes[s].shape, 600 + (uint64_t)count++);
            }
        }
    }
}
END_TEST

/* Ties: the whole gradient goes to the FIRST arg-max (checked by value:
 * the numeric derivative is ambiguous at a tie). */
START_TEST(test_max_ties)
{
    tg_tape *tp = tg_tape_new(NULL);
    /* rows [1,3,3] and [2,2,1] along axis 1, weights 10 and 20 */
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 3, 3, 2, 2, 1));
    tg_tensor_set_requires_grad(x, true);
    tg_tensor *w = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(10, 20));
    tg_tensor *m = tg_max(tp, x, 1, false);
    tt_assert_values("values", m, TT_VALUES(3, 2), 2, 0, 0);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul(tp, m, w))), TG_OK);
    tt_assert_values("first arg-max, axis 1", tg_tensor_grad(x), TT_VALUES(0, 10, 0, 20, 0, 0), 6,
                     0, 0);
    /* along axis 0: column 0 ties (4, 4) -> row 0; column 1 -> row 1 */
    tg_tape_reset(tp);
    tg_tensor *c = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(4, 1, 4, 2));
    tg_tensor_set_requires_grad(c, true);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_max(tp, c, -2, true))), TG_OK);
    tt_assert_values("first arg-max, axis 0", tg_tensor_grad(c), TT_VALUES(1, 0, 0, 1), 4, 0, 0);
    /* all equal along the middle axis of a 3-d tensor */
    tg_tape_reset(tp);
    tg_tensor *e = tg_tensor_full(TG_F64, 3, TT_SHAPE(2, 3, 2), 5.0);
    tg_tensor_set_requires_grad(e, true);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_max(tp, e, 1, false))), TG_OK);
    tt_assert_values("all tied", tg_tensor_grad(e), TT_VALUES(1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0),
                     12, 0, 0);
    /* gradcheck with kink detection: the tied elements are skipped, the
     * others (here the non-maximal ones, derivative 0) are checked */
    red_ctx rc = {.k = R_MAX, .axis = 1};
    tg_compare_report rep;
    ck_assert_int_eq(tg_gradcheck(apply_fn, &rc, 1, &x, NULL, &rep), TG_OK);
    ck_assert(rep.ok);
    ck_assert_int_eq(rep.n_skipped, 4); /* the two pairs (3,3) and (2,2) */
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(c);
    tg_tensor_free(e);
}
END_TEST

/* A NaN is the maximum (the first NaN, which then gets the gradient). */
START_TEST(test_max_nan)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, NAN, 3, NAN, 9, NAN));
    tg_tensor_set_requires_grad(x, true);
    tg_tensor *m = tg_max(tp, x, 1, false);
    ck_assert(isnan(tg_tensor_get_flat(m, 0)) && isnan(tg_tensor_get_flat(m, 1)));
    tg_tensor *z = tg_max(tp, x, 0, false);
    ck_assert(isnan(tg_tensor_get_flat(z, 0)) && isnan(tg_tensor_get_flat(z, 1)) &&
              isnan(tg_tensor_get_flat(z, 2)));
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, z)), TG_OK);
    tg_tensor *g = tg_tensor_grad(x);
    /* column 0: NaN at row 1; column 1: NaN at row 0; column 2: row 1 */
    static const double expect[6] = {0, 1, 0, 1, 0, 1};
    for (int i = 0; i < 6; i++) ck_assert_double_eq(tg_tensor_get_flat(g, i), expect[i]);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* ---- second derivatives through the backward rules ------------------------- */
typedef struct so_ctx {
    red_ctx r;
    tg_tensor *w; /* weights of the reduction's output shape */
} so_ctx;

/* d/dx sum(w * r(x^3)), recorded, as a function of x */
static tg_tensor *grad_of_cube(tg_tape *tp, tg_tensor *const *in, void *vctx)
{
    so_ctx *c = vctx;
    tg_tensor *y = apply(tp, tg_pow_scalar(tp, in[0], 3.0), &c->r);
    tg_tensor *f = tg_sum_all(tp, tg_mul(tp, y, c->w));
    return tg_grad(tp, f, in[0], true);
}

START_TEST(test_second_order)
{
    static const struct {
        red_ctx r;
        int ond;
        int64_t oshape[3];
    } cases[] = {
        {{.k = R_SUM, .naxes = 1, .axes = {1}}, 2, {2, 4}},
        {{.k = R_SUM, .naxes = 2, .axes = {0, -1}, .keepdim = true}, 3, {1, 3, 1}},
        {{.k = R_MEAN, .naxes = 1, .axes = {-3}}, 2, {3, 4}},
        {{.k = R_SUM_ALL}, 0, {0}},
        {{.k = R_MEAN_ALL}, 0, {0}},
        {{.k = R_SUM_TO, .ndim = 2, .shape = {3, 1}}, 2, {3, 1}},
        {{.k = R_MAX, .axis = 2}, 2, {2, 3}},
        {{.k = R_MAX, .axis = -2, .keepdim = true}, 3, {2, 1, 4}},
    };
    for (int i = 0; i < LEN(cases); i++) {
        so_ctx c = {.r = cases[i].r};
        c.w = tt_rand(TG_F64, cases[i].ond, cases[i].oshape, 700 + (uint64_t)i, 0.5, 1.5);
        tg_tensor *x = tt_param(3, TT_SHAPE(2, 3, 4), 710 + (uint64_t)i, -1, 1);
        char what[48];
        snprintf(what, sizeof what, "second order, case %d", i);
        tt_gradcheck_ex(what, grad_of_cube, &c, 1, &x, NULL, false);
        tg_tensor_free(x);
        tg_tensor_free(c.w);
    }
}
END_TEST

/* ---- f32 agrees with f64 ---------------------------------------------------- */
START_TEST(test_f32_matches_f64)
{
    static const red_ctx ops[] = {
        {.k = R_SUM, .naxes = 1, .axes = {1}},
        {.k = R_SUM, .naxes = 2, .axes = {0, 2}, .keepdim = true},
        {.k = R_MEAN, .naxes = 1, .axes = {-1}},
        {.k = R_SUM_ALL},
        {.k = R_MEAN_ALL},
        {.k = R_SUM_TO, .ndim = 2, .shape = {3, 1}},
        {.k = R_MAX, .axis = 1},
        {.k = R_MAX, .axis = -1, .keepdim = true},
    };
    /* positive values: no cancellation, so the relative error of a sum of n
     * terms is at most about n f32 roundings (n <= 24 here) */
    tg_tensor *x64 = tt_rand(TG_F64, 3, TT_SHAPE(2, 3, 4), 800, 0.5, 2);
    tg_tensor *x32 = tg_tensor_cast_new(x64, TG_F32);
    tg_tape *tp = tg_tape_new(NULL);
    for (int i = 0; i < LEN(ops); i++) {
        tg_tensor *a = apply(tp, x64, &ops[i]);
        tg_tensor *b = apply(tp, x32, &ops[i]);
        ck_assert_msg(a && b, "op %d: %s", i, tg_tape_error(tp));
        ck_assert_int_eq(tg_tensor_dtype(b), TG_F32);
        const double n = (double)(tg_tensor_numel(x64) / tg_tensor_numel(a));
        char what[32];
        snprintf(what, sizeof what, "f32 vs f64, op %d", i);
        tt_assert_close(what, b, a, (n + 1) * FLT_EPSILON / 2, 0);
    }
    tg_tape_free(tp);
    tg_tensor_free(x64);
    tg_tensor_free(x32);
}
END_TEST

/* ---- an empty axis list is refused (issue 24, item 4) ------------------------
 * NumPy reads axis=() as "no axis" and PyTorch reads dim=[] as "every axis":
 * naxes 0 is an error whether axes is NULL or not, pointing at the _all
 * form, so neither reading is guessed. */
START_TEST(test_axes_empty_refused)
{
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    const int none[1] = {0};
    for (int keep = 0; keep < 2; keep++)
        for (int withlist = 0; withlist < 2; withlist++) {
            const int *axes = withlist ? none : NULL;
            tg_tape *tp = tg_tape_new(NULL);
            ck_assert_ptr_null(tg_sum(tp, x, 0, axes, keep));
            tt_assert_tape_error(tp, TG_ERR_AXIS, "sum: no axes listed for f64[2,3]",
                                 "use tg_sum_all");
            ck_assert_int_eq(tg_tape_usage(tp).nodes, 0);
            tg_tape_reset(tp);
            ck_assert_ptr_null(tg_mean(tp, x, 0, axes, keep));
            tt_assert_tape_error(tp, TG_ERR_AXIS, "mean: no axes listed for f64[2,3]",
                                 "use tg_mean_all");
            tg_tape_free(tp);
        }
    /* the explicit forms */
    tg_tape *tp = tg_tape_new(NULL);
    tt_assert_values("sum_all", tg_sum_all(tp, x), TT_VALUES(15), 1, 0, 0);
    tt_assert_values("mean_all", tg_mean_all(tp, x), TT_VALUES(2.5), 1, 0, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* ---- an axis on a 0-d tensor (issue 24, item 10) ------------------------------
 * PyTorch lets a 0-d tensor take axis 0 or -1, as if it had one axis of
 * extent 1: sum, mean and max over it are the identity, softmax is 1 and
 * log_softmax 0, a transpose of it is a copy.  keepdim keeps the 0-d
 * shape (there is no axis to keep).  Any other axis is an error, and so
 * is a list of two axes (0 and -1 are the same one). */
static tg_tensor *fn_0d_chain(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *x = in[0];
    tg_tensor *a = tg_mul(tp, tg_sum(tp, x, 1, (int[]){0}, false), x);
    tg_tensor *b = tg_mul(tp, tg_mean(tp, x, 1, (int[]){-1}, true), a);
    tg_tensor *c = tg_mul(tp, tg_max(tp, x, -1, false), tg_transpose(tp, b, 0, -1));
    tg_tensor *d = tg_add(tp, tg_mul(tp, tg_softmax(tp, x, 0), c), tg_log_softmax(tp, x, -1));
    return tg_mul(tp, d, tg_max(tp, x, 0, true));
}

START_TEST(test_axis_on_0d)
{
    for (int dt = 0; dt < 2; dt++) {
        tg_tensor *s = tt_from(dt ? TG_F32 : TG_F64, 0, NULL, TT_VALUES(2.5));
        tg_tape *tp = tg_tape_new(NULL);
        for (int keep = 0; keep < 2; keep++)
            for (int ax = -1; ax <= 0; ax++) {
                tg_tensor *r[4] = {tg_sum(tp, s, 1, &ax, keep), tg_mean(tp, s, 1, &ax, keep),
                                   tg_max(tp, s, ax, keep), tg_transpose(tp, s, ax, -1 - ax)};
                for (int k = 0; k < 4; k++) {
                    ck_assert_msg(r[k] != NULL, "%d: %s", k, tg_tape_error(tp));
                    tt_assert_shape(r[k], 0, NULL);
                    tt_assert_values("identity over a 0-d tensor's axis", r[k], TT_VALUES(2.5), 1,
                                     0, 0);
                }
                tt_assert_values("softmax of 0-d", tg_softmax(tp, s, ax), TT_VALUES(1), 1, 0, 0);
                tt_assert_values("log_softmax of 0-d", tg_log_softmax(tp, s, ax), TT_VALUES(0), 1,
                                 0, 0);
            }
        ck_assert_int_eq(tg_tape_status(tp), TG_OK);
        ck_assert_ptr_null(tg_sum(tp, s, 2, (int[]){0, -1}, false));
        tt_assert_tape_error(tp, TG_ERR_AXIS, "sum: 2 axes given for", "[]");
        tg_tape_reset(tp);
        ck_assert_ptr_null(tg_mean(tp, s, 1, (int[]){1}, false));
        tt_assert_tape_error(tp, TG_ERR_AXIS, "mean: axis 1 out of range for", "[]");
        tg_tape_reset(tp);
        ck_assert_ptr_null(tg_max(tp, s, -2, false));
        tt_assert_tape_error(tp, TG_ERR_AXIS, "max: axis -2 out of range for", "[]");
        tg_tape_reset(tp);
        ck_assert_ptr_null(tg_softmax(tp, s, 1));
        tt_assert_tape_error(tp, TG_ERR_AXIS, "softmax: axis 1 out of range for", "[]");
        tg_tape_reset(tp);
        ck_assert_ptr_null(tg_transpose(tp, s, 0, 1));
        tt_assert_tape_error(tp, TG_ERR_AXIS, "transpose: axis 1 out of range for", "[]");
        tg_tape_free(tp);
        tg_tensor_free(s);
    }
    /* gradients: f = (softmax(x) x^4 + log_softmax(x)) max(x) = x^5, so
     * df/dx = 5 x^4 (the derivatives of softmax and log_softmax are 0) */
    tg_tensor *x = tt_param(0, NULL, 77, 0.5, 1.5);
    tt_gradcheck("0-d axis chain", fn_0d_chain, NULL, 1, &x);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *g = tg_grad(tp, fn_0d_chain(tp, &x, NULL), x, false);
    const double v = tg_tensor_get_flat(x, 0);
    tt_assert_values("d/dx of the 0-d chain", g, TT_VALUES(5 * v * v * v * v), 1, 1e-14, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* ---- errors ----------------------------------------------------------------- */
START_TEST(test_errors)
{
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tensor *s = tt_from(TG_F64, 0, NULL, TT_VALUES(1));
    tg_tensor *e = tg_tensor_new(TG_F32, 2, TT_SHAPE(2, 0));
    EXPECT_ERR(tg_sum(tp, x, 1, (int[]){2}, false), TG_ERR_AXIS, "sum", "f64[2,3]", "axis 2");
    EXPECT_ERR(tg_sum(tp, x, 1, (int[]){-3}, false), TG_ERR_AXIS, "sum", "f64[2,3]", "axis -3");
    EXPECT_ERR(tg_sum(tp, x, 2, (int[]){1, -1}, false), TG_ERR_AXIS, "sum", "f64[2,3]",
               "listed twice");
    EXPECT_ERR(tg_mean(tp, x, 2, (int[]){0, 0}, true), TG_ERR_AXIS, "mean", "f64[2,3]",
               "listed twice");
    EXPECT_ERR(tg_sum(tp, x, 3, (int[]){0, 1, 0}, false), TG_ERR_AXIS, "sum", "f64[2,3]", "3 axes");
    EXPECT_ERR(tg_mean(tp, x, -1, (int[]){0}, false), TG_ERR_AXIS, "mean", "f64[2,3]");
    EXPECT_ERR(tg_sum(tp, x, 1, NULL, false), TG_ERR_NULL, "sum", "f64[2,3]", "NULL");
    EXPECT_ERR(tg_sum(tp, s, 1, (int[]){1}, false), TG_ERR_AXIS, "sum", "f64[]");
    EXPECT_ERR(tg_mean(tp, e, 1, (int[]){1}, false), TG_ERR_EMPTY, "mean", "f32[2,0]");
    EXPECT_ERR(tg_mean_all(tp, e), TG_ERR_EMPTY, "mean", "f32[2,0]");
    EXPECT_ERR(tg_max(tp, e, 1, false), TG_ERR_EMPTY, "max", "f32[2,0]", "axis 1");
    EXPECT_ERR(tg_max(tp, e, -1, true), TG_ERR_EMPTY, "max", "f32[2,0]", "axis -1");
    EXPECT_ERR(tg_max(tp, x, 2, false), TG_ERR_AXIS, "max", "f64[2,3]", "axis 2");
    EXPECT_ERR(tg_max(tp, x, -3, false), TG_ERR_AXIS, "max", "f64[2,3]");
    EXPECT_ERR(tg_max(tp, s, 1, false), TG_ERR_AXIS, "max", "f64[]");
    EXPECT_ERR(tg_sum_to(tp, x, 1, TT_SHAPE(2)), TG_ERR_SHAPE, "sum_to", "(2,3)", "(2)");
    EXPECT_ERR(tg_sum_to(tp, x, 2, TT_SHAPE(3, 3)), TG_ERR_SHAPE, "sum_to", "(2,3)", "(3,3)");
    EXPECT_ERR(tg_sum_to(tp, x, 3, TT_SHAPE(1, 2, 3)), TG_ERR_SHAPE, "sum_to", "(2,3)", "(1,2,3)");
    EXPECT_ERR(tg_sum_to(tp, x, 2, NULL), TG_ERR_NULL, "sum_to", "(2,3)", "target shape is NULL");
    EXPECT_ERR(tg_sum_to(tp, x, -1, NULL), TG_ERR_SHAPE, "sum_to", "(2,3)");
    tg_tensor_free(x);
    tg_tensor_free(s);
    tg_tensor_free(e);
}
END_TEST

static const red_ctx k_ops[] = {
    {.k = R_SUM, .naxes = 1, .axes = {0}},
    {.k = R_MEAN, .naxes = 1, .axes = {1}},
    {.k = R_SUM_ALL},
    {.k = R_MEAN_ALL},
    {.k = R_MAX, .axis = 1},
    {.k = R_SUM_TO, .ndim = 1, .shape = {3}},
};
static const char *const k_names[] = {"sum", "mean", "sum", "mean", "max", "sum_to"};

START_TEST(test_errors_null_and_sticky)
{
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    for (int i = 0; i < LEN(k_ops); i++) {
        tg_tape *tp = tg_tape_new(NULL);
        ck_assert_ptr_null(apply(tp, NULL, &k_ops[i]));
        tt_assert_tape_error(tp, TG_ERR_NULL, k_names[i], "input 0 is NULL");
        tg_tape_free(tp);
        ck_assert_ptr_null(apply(NULL, x, &k_ops[i]));
        tp = tg_tape_new(NULL);
        ck_assert_msg(apply(tp, x, &k_ops[i]) != NULL, "%s: %s", k_names[i], tg_tape_error(tp));
        ck_assert_ptr_null(tg_max(tp, x, 7, false));
        char msg[512];
        snprintf(msg, sizeof msg, "%s", tg_tape_error(tp));
        tg_tape_stats st = tg_tape_usage(tp);
        ck_assert_ptr_null(apply(tp, x, &k_ops[i]));
        ck_assert_int_eq(tg_tape_status(tp), TG_ERR_AXIS);
        ck_assert_str_eq(tg_tape_error(tp), msg);
        ck_assert_int_eq(tg_tape_usage(tp).nodes, st.nodes);
        ck_assert_int_eq(tg_tape_usage(tp).tensors, st.tensors);
        tg_tape_free(tp);
    }
    tg_tensor_free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reduce");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_sum_forward_2x3);
    tcase_add_test(tc, test_sum_forward_2x3x4);
    tcase_add_test(tc, test_mean_forward);
    tcase_add_test(tc, test_sum_mean_grad_hand);
    tcase_add_test(tc, test_sum_empty_axis);
    tcase_add_test(tc, test_sum_to_forward);
    tcase_add_test(tc, test_broadcast_sum_to_round_trip);
    tcase_add_test(tc, test_max_forward);
    tcase_add_test(tc, test_max_grad_hand);
    tcase_add_test(tc, test_max_ties);
    tcase_add_test(tc, test_max_nan);
    tcase_add_test(tc, test_f32_matches_f64);
    suite_add_tcase(s, tc);
    TCase *tg = tcase_create("gradcheck");
    tcase_add_test(tg, test_sum_mean_gradcheck);
    tcase_add_test(tg, test_sum_to_gradcheck);
    tcase_add_test(tg, test_max_gradcheck);
    tcase_add_test(tg, test_second_order);
    suite_add_tcase(s, tg);
    TCase *te = tcase_create("errors");
    tcase_add_test(te, test_errors);
    tcase_add_test(te, test_axes_empty_refused);
    tcase_add_test(te, test_axis_on_0d);
    tcase_add_test(te, test_errors_null_and_sticky);
    suite_add_tcase(s, te);
    return tt_run(s);
}
