/* The reductions of issue 19 (item 3): min, prod, logsumexp, norm, var,
 * std, cumsum, cumprod, argmax and argmin.  Closed-form values and
 * gradients (prod and cumprod with zeros, logsumexp of large values, the
 * norm's gradient at 0, var with both corrections), both rules (the direct
 * rule of tg_backward and the op-built one of tg_grad with create_graph),
 * f64 gradchecks over shapes, negative axes and keepdim, second derivatives,
 * zero-size inputs and every error. */
#include "common.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef enum kind { K_PROD, K_LSE, K_NORM, K_VAR, K_STD, K_CUMSUM, K_CUMPROD, K_MIN } kind;

typedef struct ctx {
    kind k;
    int naxes;
    int axes[TG_MAX_DIMS];
    bool keepdim;
    double p;  /* norm's order, var's correction */
    bool grad; /* the function is the create_graph gradient of sum(op^2) */
    bool lin;  /* ... of sum(op) */
} ctx;

static tg_tensor *apply(tg_tape *tp, tg_tensor *x, const ctx *c)
{
    switch (c->k) {
    case K_PROD:
        return tg_prod(tp, x, c->naxes, c->axes, c->keepdim);
    case K_LSE:
        return tg_logsumexp(tp, x, c->naxes, c->axes, c->keepdim);
    case K_NORM:
        return tg_norm(tp, x, c->p, c->naxes, c->axes, c->keepdim);
    case K_VAR:
        return tg_var(tp, x, c->naxes, c->axes, c->p, c->keepdim);
    case K_STD:
        return tg_std(tp, x, c->naxes, c->axes, c->p, c->keepdim);
    case K_CUMSUM:
        return tg_cumsum(tp, x, c->axes[0]);
    case K_CUMPROD:
        return tg_cumprod(tp, x, c->axes[0]);
    case K_MIN:
        return tg_min(tp, x, c->axes[0], c->keepdim);
    }
    return NULL;
}

static tg_tensor *apply_fn(tg_tape *tp, tg_tensor *const *in, void *vc)
{
    const ctx *c = vc;
    tg_tensor *y = apply(tp, in[0], c);
    if (!c->grad) return y;
    /* d sum(y^2)/dx, recorded: the op-built rule, differentiated again */
    return tg_grad(tp, tg_sum_all(tp, c->lin ? y : tg_square(tp, y)), in[0], true);
}

/* The gradient of sum(w * op(x)) by both rules: tg_backward (direct) and
 * tg_grad with create_graph (op-built), against the expected values. */
static void check_grad(const char *what, const ctx *c, tg_tensor *x, const double *expect,
                       double tol)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor *y = tg_sum_all(tp, apply(tp, x, c));
    ck_assert_msg(y, "%s: %s", what, tg_tape_error(tp));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values(what, tg_tensor_grad(x), expect, tg_tensor_numel(x), tol, tol);
    tg_tape_reset(tp);
    y = tg_sum_all(tp, apply(tp, x, c));
    tg_tensor *g = tg_grad(tp, y, x, true);
    ck_assert_msg(g, "%s (op-built): %s", what, tg_tape_error(tp));
    tt_assert_values(what, g, expect, tg_tensor_numel(x), tol, tol);
    tg_tape_free(tp);
}

static tg_tensor *vec(int n, const double *v)
{
    return tt_from(TG_F64, 1, (const int64_t[]){n}, v);
}

/* ---- prod --------------------------------------------------------------- */
START_TEST(test_prod_zeros)
{
    const ctx c = {.k = K_PROD, .naxes = 1, .axes = {0}};
    tg_tensor *x = vec(3, TT_VALUES(2, 3, 4));
    check_grad("prod no zero", &c, x, TT_VALUES(12, 8, 6), 1e-15);
    tg_tensor_free(x);
    /* one zero: the product of the others there, 0 elsewhere */
    x = vec(3, TT_VALUES(2, 0, 4));
    check_grad("prod one zero", &c, x, TT_VALUES(0, 8, 0), 0);
    tg_tensor_free(x);
    /* two zeros: 0 everywhere */
    x = vec(4, TT_VALUES(0, 3, 0, 5));
    check_grad("prod two zeros", &c, x, TT_VALUES(0, 0, 0, 0), 0);
    tg_tensor_free(x);
    /* per row of a (3,3) over axis -1: none, one and two zeros */
    x = tt_from(TG_F64, 2, TT_SHAPE(3, 3), TT_VALUES(1, 2, 3, 4, 0, 5, 0, 6, 0));
    const ctx r = {.k = K_PROD, .naxes = 1, .axes = {-1}, .keepdim = true};
    check_grad("prod rows", &r, x, TT_VALUES(6, 3, 2, 0, 20, 0, 0, 0, 0), 1e-15);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_prod_forward_empty)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_iota(TG_F64, 3, TT_SHAPE(2, 3, 2));
    tg_tensor *y = tg_prod(tp, tg_add_scalar(tp, x, 1), 2, (const int[]){0, -1}, false);
    tt_assert_shape(y, 1, TT_SHAPE(3));
    /* (1 2 7 8), (3 4 9 10), (5 6 11 12) */
    tt_assert_values("prod", y, TT_VALUES(112, 1080, 3960), 3, 0, 0);
    /* the product of nothing is 1 */
    tg_tensor *e = tg_tensor_zeros(TG_F64, 2, TT_SHAPE(2, 0));
    tg_tensor_set_requires_grad(e, true);
    y = tg_prod(tp, e, 1, (const int[]){1}, true);
    tt_assert_shape(y, 2, TT_SHAPE(2, 1));
    tt_assert_values("prod of nothing", y, TT_VALUES(1, 1), 2, 0, 0);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_OK);
    tt_assert_shape(tg_tensor_grad(e), 2, TT_SHAPE(2, 0));
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(e);
}
END_TEST

/* Second derivatives at zeros: the op-built rule of prod keeps the terms
 * whose value is 0 but whose derivative is not. */
START_TEST(test_prod_second_order_zeros)
{
    static const double pts[][4] = {{2, 3, 4, 5}, {2, 0, 4, 5}, {0, 3, 0, 5}, {0, 0, 0, 5}};
    for (int i = 0; i < LEN(pts); i++) {
        tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 2), pts[i]);
        tg_tensor_set_requires_grad(x, true);
        ctx c = {.k = K_PROD, .naxes = 2, .axes = {0, 1}, .grad = true, .lin = true};
        tg_gradcheck_options o = {.kink_tol = -1};
        char what[64];
        snprintf(what, sizeof what, "d2 prod at point %d", i);
        tt_gradcheck_ex(what, apply_fn, &c, 1, &x, &o, i == 3);
        tg_tensor_free(x);
    }
}
END_TEST

/* ---- logsumexp ----------------------------------------------------------- */
START_TEST(test_logsumexp_large)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = vec(2, TT_VALUES(1000, 1000));
    tg_tensor *y = tg_logsumexp(tp, x, 1, (const int[]){0}, false);
    tt_assert_values("lse(1000, 1000)", y, TT_VALUES(1000 + log(2.0)), 1, 1e-15, 0);
    tg_tensor *x2 = vec(3, TT_VALUES(-1000, -1000, -INFINITY));
    y = tg_logsumexp(tp, x2, 1, (const int[]){-1}, true);
    tt_assert_values("lse(-1000, -1000, -inf)", y, TT_VALUES(-1000 + log(2.0)), 1, 1e-15, 0);
    tg_tape_free(tp);
    const ctx c = {.k = K_LSE, .naxes = 1, .axes = {0}};
    /* 1000 + log 2 is rounded by an ulp of 1000: exp(x - y) by as much */
    check_grad("lse grad", &c, x, TT_VALUES(0.5, 0.5), 1e-12);
    check_grad("lse grad -inf", &c, x2, TT_VALUES(0.5, 0.5, 0), 1e-12);
    tg_tensor_free(x);
    tg_tensor_free(x2);
    /* every element -inf: -inf, gradient 0 (our choice) */
    x = vec(2, TT_VALUES(-INFINITY, -INFINITY));
    tp = tg_tape_new(NULL);
    y = tg_logsumexp(tp, x, 1, (const int[]){0}, false);
    ck_assert(tg_tensor_get_flat(y, 0) == -INFINITY);
    tg_tape_free(tp);
    check_grad("lse grad all -inf", &c, x, TT_VALUES(0, 0), 0);
    tg_tensor_free(x);
    /* over nothing: -inf */
    tp = tg_tape_new(NULL);
    tg_tensor *e = tg_tensor_zeros(TG_F32, 2, TT_SHAPE(0, 3));
    y = tg_logsumexp(tp, e, 1, (const int[]){0}, false);
    tt_assert_shape(y, 1, TT_SHAPE(3));
    for (int i = 0; i < 3; i++) ck_assert(tg_tensor_get_flat(y, i) == -INFINITY);
    tg_tape_free(tp);
    tg_tensor_free(e);
}
END_TEST

/* ---- norm ----------------------------------------------------------------- */
START_TEST(test_norm_values_and_zero)
{
    tg_tensor *x = vec(2, TT_VALUES(3, -4));
    static const double ps[] = {1, 2, INFINITY, 3, 0.5};
    const double yv[] = {7, 5, 4, cbrt(91), pow(sqrt(3) + 2, 2)};
    const double g[][2] = {{1, -1},
                           {0.6, -0.8},
                           {0, -1},
                           {9 / pow(cbrt(91), 2), -16 / pow(cbrt(91), 2)},
                           {pow(yv[4] / 3, 0.5), -pow(yv[4] / 4, 0.5)}};
    tg_tensor *z = vec(3, TT_VALUES(0, 0, 0));
    tg_tensor *h = vec(3, TT_VALUES(0, 2, -2));
    for (int i = 0; i < LEN(ps); i++) {
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = tg_norm(tp, x, ps[i], 1, (const int[]){0}, false);
        tt_assert_values("norm value", y, &yv[i], 1, 1e-14, 0);
        tg_tape_free(tp);
        ctx c = {.k = K_NORM, .naxes = 1, .axes = {0}, .p = ps[i]};
        check_grad("norm grad", &c, x, g[i], 1e-14);
        /* at 0 the gradient is 0 (PyTorch's choice) */
        check_grad("norm grad at 0", &c, z, TT_VALUES(0, 0, 0), 0);
        /* a zero element among others: 0 there for every p; inf: the
         * first of the tie */
        double e[3] = {0, 0, 0};
        if (ps[i] == 1) {
            e[1] = 1;
            e[2] = -1;
        } else if (isinf(ps[i])) {
            e[1] = 1;
        } else {
            e[1] = pow(2, ps[i] - 1) / pow(2 * pow(2, ps[i]), 1 - 1 / ps[i]);
            e[2] = -e[1];
        }
        check_grad("norm grad, one zero element", &c, h, e, 1e-14);
    }
    tg_tensor_free(x);
    tg_tensor_free(z);
    tg_tensor_free(h);
    /* no overflow in the scaled sum */
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *big = vec(2, TT_VALUES(3e200, 4e200));
    tt_assert_values("norm 2 big", tg_norm(tp, big, 2, 1, (const int[]){0}, false),
                     TT_VALUES(5e200), 1, 1e-15, 0);
    tg_tensor *e = tg_tensor_zeros(TG_F64, 1, TT_SHAPE(0));
    tt_assert_values("norm of nothing", tg_norm(tp, e, 2, 1, (const int[]){0}, false), TT_VALUES(0),
                     1, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(big);
    tg_tensor_free(e);
}
END_TEST

/* ---- var / std ----------------------------------------------------------- */
START_TEST(test_var_std_values)
{
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 4), TT_VALUES(1, 2, 3, 4, 2, 2, 2, 2));
    tg_tape *tp = tg_tape_new(NULL);
    tt_assert_values("var bessel", tg_var(tp, x, 1, (const int[]){-1}, 1, false),
                     TT_VALUES(5.0 / 3, 0), 2, 1e-15, 0);
    tt_assert_values("var population", tg_var(tp, x, 1, (const int[]){1}, 0, true),
                     TT_VALUES(1.25, 0), 2, 1e-15, 0);
    tt_assert_values("std", tg_std(tp, x, 1, (const int[]){1}, 1, false),
                     TT_VALUES(sqrt(5.0 / 3), 0), 2, 1e-15, 0);
    tt_assert_values("var all", tg_var(tp, x, 2, (const int[]){0, 1}, 1, false), TT_VALUES(5.5 / 7),
                     1, 1e-15, 0);
    tg_tape_free(tp);
    /* d var / dx = 2 (x - mean) / (N - c); std: that / (2 std); 0 for the
     * constant row (std at 0: PyTorch's choice) */
    ctx c = {.k = K_VAR, .naxes = 1, .axes = {1}, .p = 1};
    check_grad("var grad", &c, x, TT_VALUES(-1, -1.0 / 3, 1.0 / 3, 1, 0, 0, 0, 0), 1e-15);
    c.k = K_STD;
    const double s = sqrt(5.0 / 3);
    check_grad("std grad", &c, x,
               TT_VALUES(-0.5 / s, -0.5 / 3 / s, 0.5 / 3 / s, 0.5 / s, 0, 0, 0, 0), 1e-15);
    tg_tensor_free(x);
}
END_TEST

/* ---- cumsum / cumprod ---------------------------------------------------- */
START_TEST(test_cumsum_cumprod_values)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    tt_assert_values("cumsum axis 1", tg_cumsum(tp, x, 1), TT_VALUES(0, 1, 3, 3, 7, 12), 6, 0, 0);
    tt_assert_values("cumsum axis -2", tg_cumsum(tp, x, -2), TT_VALUES(0, 1, 2, 3, 5, 7), 6, 0, 0);
    tt_assert_values("cumprod axis 1", tg_cumprod(tp, tg_add_scalar(tp, x, 1), 1),
                     TT_VALUES(1, 2, 6, 4, 20, 120), 6, 0, 0);
    tg_tensor *e = tg_tensor_zeros(TG_F64, 2, TT_SHAPE(0, 3));
    tt_assert_shape(tg_cumsum(tp, e, 1), 2, TT_SHAPE(0, 3));
    tt_assert_shape(tg_cumprod(tp, e, 0), 2, TT_SHAPE(0, 3));
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    /* no elements, but extents whose product is far beyond any count: the
     * scans do nothing (no loop over the lines, no scratch for them) */
    tg_tensor *h = tg_tensor_zeros(TG_F64, 3, TT_SHAPE(1ll << 29, 0, 1ll << 29));
    tg_tensor_set_requires_grad(h, true);
    for (int i = 0; i < 3; i++) {
        tp = tg_tape_new(NULL);
        tg_tensor *y = i == 0 ? tg_cumsum(tp, h, 1) : tg_cumprod(tp, h, i == 1 ? 1 : -2);
        tt_assert_shape(y, 3, TT_SHAPE(1ll << 29, 0, 1ll << 29));
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_OK);
        ck_assert_ptr_nonnull(tg_grad(tp, tg_sum_all(tp, y), h, true));
        tg_tape_free(tp);
    }
    tg_tensor_free(h);
    const ctx c = {.k = K_CUMSUM, .axes = {1}};
    check_grad("cumsum grad", &c, x, TT_VALUES(3, 2, 1, 3, 2, 1), 0);
    tg_tensor_free(x);
    tg_tensor_free(e);
}
END_TEST

START_TEST(test_cumprod_zeros)
{
    const ctx c = {.k = K_CUMPROD, .axes = {0}};
    tg_tensor *x = vec(4, TT_VALUES(2, 3, 4, 5));
    /* dx_i = sum_{k >= i} prod_{j <= k, j != i} x_j */
    check_grad("cumprod no zero", &c, x, TT_VALUES(1 + 3 + 12 + 60, 2 + 8 + 40, 6 + 30, 24), 1e-14);
    tg_tensor_free(x);
    /* a zero in the middle: (1, 2 + 6 + 24, 0, 0) */
    x = vec(4, TT_VALUES(2, 0, 3, 4));
    check_grad("cumprod zero in the middle", &c, x, TT_VALUES(1, 32, 0, 0), 0);
    tg_tensor_free(x);
    /* two zeros: the first zero's products stop at the second */
    x = vec(5, TT_VALUES(2, 0, 3, 0, 5));
    check_grad("cumprod two zeros", &c, x, TT_VALUES(1, 8, 0, 0, 0), 0);
    tg_tensor_free(x);
    /* a zero first, and a (2,3) along axis 0 with a zero in one column */
    x = vec(3, TT_VALUES(0, 3, 4));
    check_grad("cumprod zero first", &c, x, TT_VALUES(1 + 3 + 12, 0, 0), 0);
    tg_tensor_free(x);
    x = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(2, 0, 3, 5, 7, 0));
    check_grad("cumprod columns", &c, x, TT_VALUES(6, 8, 1, 2, 0, 3), 0);
    tg_tensor_free(x);
}
END_TEST

/* ---- min ----------------------------------------------------------------- */
START_TEST(test_min)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(3, 1, 1, 2, NAN, 0));
    tg_tensor *y = tg_min(tp, x, -1, true);
    tt_assert_shape(y, 2, TT_SHAPE(2, 1));
    ck_assert(tg_tensor_get_flat(y, 0) == 1);
    ck_assert(isnan(tg_tensor_get_flat(y, 1)));
    y = tg_min(tp, x, 0, false);
    ck_assert(tg_tensor_get_flat(y, 0) == 2 && isnan(tg_tensor_get_flat(y, 1)) &&
              tg_tensor_get_flat(y, 2) == 0);
    tg_tape_free(tp);
    /* ties: the first arg-min; a NaN wins */
    const ctx c = {.k = K_MIN, .axes = {1}};
    check_grad("min grad", &c, x, TT_VALUES(0, 1, 0, 0, 1, 0), 0);
    tg_tensor_free(x);
}
END_TEST

/* ---- argmax / argmin ------------------------------------------------------- */
START_TEST(test_argmax)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x =
        tt_from(TG_F32, 3, TT_SHAPE(2, 2, 3), TT_VALUES(3, 1, 3, 0, 5, -1, 2, NAN, 2, 7, 7, 7));
    tg_tensor *a = tg_argmax(tp, x, -1, false);
    ck_assert_int_eq(tg_tensor_dtype(a), TG_I64);
    tt_assert_shape(a, 2, TT_SHAPE(2, 2));
    const int64_t *v = tg_tensor_i64(a);
    ck_assert(v[0] == 0 && v[1] == 1 && v[2] == 1 && v[3] == 0);
    a = tg_argmin(tp, x, 2, true);
    tt_assert_shape(a, 3, TT_SHAPE(2, 2, 1));
    v = tg_tensor_i64(a);
    ck_assert(v[0] == 1 && v[1] == 2 && v[2] == 1 && v[3] == 0);
    a = tg_argmax(tp, x, 0, false);
    v = tg_tensor_i64(a);
    ck_assert(v[0] == 0 && v[1] == 1 && v[2] == 0 && v[3] == 1 && v[4] == 1 && v[5] == 1);
    /* a 0-d x takes axis 0 or -1: index 0 */
    tg_tensor *s = tg_tensor_full(TG_F64, 0, NULL, 2.5);
    a = tg_argmin(tp, s, -1, true);
    ck_assert_int_eq(tg_tensor_ndim(a), 0);
    ck_assert(tg_tensor_i64(a)[0] == 0);
    /* no node: argmax is data */
    ck_assert_int_eq(tg_tape_usage(tp).nodes, 0);
    /* the labels of a cross entropy */
    tg_tensor *z = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 5, 2, 9, 0, 1));
    tg_tensor *l = tg_softmax_cross_entropy_index(tp, z, tg_argmax(tp, z, 1, false), TG_REDUCE_SUM);
    ck_assert_msg(l, "%s", tg_tape_error(tp));
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(s);
    tg_tensor_free(z);
}
END_TEST

/* An index tensor is data: no op takes it, no gradient reaches it. */
START_TEST(test_argmax_is_data)
{
    tg_tensor *x = tt_param(2, TT_SHAPE(2, 3), 5, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *a = tg_argmax(tp, x, 1, false);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_null(tg_exp(tp, a));
    tt_assert_tape_error(tp, TG_ERR_DTYPE,
                         "exp: input 0 is i64[2]: an integer tensor is data only");
    tg_tape_reset(tp);
    a = tg_argmin(tp, x, 1, false);
    ck_assert_int_ne(tg_backward(tp, a), TG_OK);
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_DTYPE);
    tg_tape_reset(tp);
    a = tg_argmin(tp, x, 0, true);
    tg_tensor *y = tg_sum_all(tp, x);
    ck_assert_ptr_null(tg_grad(tp, y, a, false));
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_DTYPE);
    tg_tape_reset(tp);
    /* a custom op cannot make it its output */
    static const tg_op k_id = {
        .name = "user_id", .arity = 1, .backward = NULL, .direct = NULL, .scalar = NULL};
    a = tg_argmax(tp, x, 0, false);
    ck_assert_ptr_null(tg_tape_record(tp, &k_id, 1, &x, a, NULL, 0, 0, NULL));
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_TAPE);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* ---- gradchecks over shapes ---------------------------------------------- */
typedef struct shape {
    int nd;
    int64_t s[4];
} shape;
static const shape k_shapes[] = {{1, {5}}, {2, {3, 4}}, {3, {2, 3, 4}}, {4, {2, 1, 3, 2}}};

static void check(const char *name, ctx c, const shape *sh, uint64_t seed, double lo, double hi)
{
    tg_tensor *x = tt_param(sh->nd, sh->s, seed, lo, hi);
    char what[128];
    snprintf(what, sizeof what, "%s %d-d axes %d (first %d) keepdim %d grad %d", name, sh->nd,
             c.naxes, c.axes[0], (int)c.keepdim, (int)c.grad);
    tt_gradcheck_ex(what, apply_fn, &c, 1, &x, NULL, false);
    tg_tensor_free(x);
}

START_TEST(test_gradcheck_axes)
{
    static const struct {
        const char *name;
        kind k;
        double p, lo, hi;
    } ops[] = {
        {"prod", K_PROD, 0, 0.5, 1.5},  {"prod signs", K_PROD, 0, -1.5, 1.5},
        {"logsumexp", K_LSE, 0, -3, 3}, {"norm 1", K_NORM, 1, 0.2, 1},
        {"norm 2", K_NORM, 2, -1, 1},   {"norm inf", K_NORM, INFINITY, -1, 1},
        {"norm 3", K_NORM, 3, -1, 1},   {"norm 0.5", K_NORM, 0.5, 0.2, 1},
        {"var", K_VAR, 1, -1, 1},       {"var population", K_VAR, 0, -1, 1},
        {"std", K_STD, 1, -1, 1},       {"std 0.5", K_STD, 0.5, -1, 1},
    };
    int count = 0;
    for (int o = 0; o < LEN(ops); o++)
        for (int s = 0; s < LEN(k_shapes); s++) {
            const int nd = k_shapes[s].nd;
            for (unsigned mask = 1; mask < (1u << nd); mask++) {
                /* axes 1, N: a var over one element with correction 1 is
                 * an error, tested elsewhere */
                if ((ops[o].k == K_VAR || ops[o].k == K_STD) && k_shapes[s].s[0] == 2 &&
                    mask == 2 && nd == 4)
                    continue;
                ctx c = {.k = ops[o].k, .p = ops[o].p, .keepdim = (mask + (unsigned)o) & 1};
                for (int d = nd - 1; d >= 0; d--)
                    if (mask & (1u << d)) {
                        c.axes[c.naxes] = c.naxes % 2 ? d - nd : d;
                        c.naxes++;
                    }
                check(ops[o].name, c, &k_shapes[s], 100 + (uint64_t)count++, ops[o].lo, ops[o].hi);
            }
        }
    ck_assert_int_gt(count, 300);
}
END_TEST

START_TEST(test_gradcheck_scans)
{
    int count = 0;
    for (int s = 0; s < LEN(k_shapes); s++)
        for (int a = -k_shapes[s].nd; a < k_shapes[s].nd; a++) {
            check("cumsum", (ctx){.k = K_CUMSUM, .axes = {a}}, &k_shapes[s], 500 + count++, -1, 1);
            check("cumprod", (ctx){.k = K_CUMPROD, .axes = {a}}, &k_shapes[s], 500 + count++, -1.5,
                  1.5);
            check("min", (ctx){.k = K_MIN, .axes = {a}, .keepdim = a & 1}, &k_shapes[s],
                  500 + count++, -1, 1);
        }
    /* 0-d with axis 0 and -1 */
    const shape s0 = {0, {0}};
    check("cumsum 0-d", (ctx){.k = K_CUMSUM, .axes = {-1}}, &s0, 900, -1, 1);
    check("cumprod 0-d", (ctx){.k = K_CUMPROD, .axes = {0}}, &s0, 901, -1, 1);
    check("prod 0-d", (ctx){.k = K_PROD, .naxes = 1, .axes = {0}}, &s0, 902, -1, 1);
    check("lse 0-d", (ctx){.k = K_LSE, .naxes = 1, .axes = {-1}}, &s0, 903, -1, 1);
}
END_TEST

/* The op-built rules differentiated again (create_graph). */
START_TEST(test_second_order)
{
    const shape sh = {3, {2, 3, 4}};
    const ctx cs[] = {
        {.k = K_PROD, .naxes = 2, .axes = {0, -1}, .grad = true},
        {.k = K_LSE, .naxes = 1, .axes = {1}, .keepdim = true, .grad = true},
        {.k = K_NORM, .naxes = 2, .axes = {2, 1}, .p = 2, .grad = true},
        {.k = K_NORM, .naxes = 1, .axes = {-1}, .p = 3, .grad = true},
        {.k = K_NORM, .naxes = 1, .axes = {0}, .p = 1.5, .grad = true},
        {.k = K_VAR, .naxes = 1, .axes = {-1}, .p = 1, .grad = true},
        {.k = K_STD, .naxes = 2, .axes = {0, 1}, .p = 0, .grad = true},
        {.k = K_CUMSUM, .axes = {1}, .grad = true},
        {.k = K_CUMPROD, .axes = {-1}, .grad = true},
    };
    for (int i = 0; i < LEN(cs); i++)
        check("second order", cs[i], &sh, 700 + (uint64_t)i, 0.3, 1.5);
    /* cumprod's op-built rule with zeros, differentiated: exact except in
     * the entries after a zero, so a line with its zero last */
    tg_tensor *x = vec(4, TT_VALUES(0.5, 1.5, 2, 0));
    tg_tensor_set_requires_grad(x, true);
    ctx c = {.k = K_CUMPROD, .axes = {0}, .grad = true};
    tt_gradcheck_ex("d2 cumprod, zero last", apply_fn, &c, 1, &x, NULL, false);
    tg_tensor_free(x);
}
END_TEST

/* f32 against f64, both rules. */
START_TEST(test_f32_matches_f64)
{
    const shape sh = {3, {2, 3, 4}};
    const ctx cs[] = {
        {.k = K_PROD, .naxes = 1, .axes = {1}},
        {.k = K_LSE, .naxes = 2, .axes = {0, 2}},
        {.k = K_NORM, .naxes = 1, .axes = {-1}, .p = 2},
        {.k = K_NORM, .naxes = 1, .axes = {-1}, .p = INFINITY},
        {.k = K_VAR, .naxes = 1, .axes = {0}, .p = 1},
        {.k = K_CUMSUM, .axes = {2}},
        {.k = K_CUMPROD, .axes = {1}},
    };
    for (int i = 0; i < LEN(cs); i++) {
        tg_tensor *x64 = tt_rand(TG_F64, sh.nd, sh.s, 800 + (uint64_t)i, 0.5, 1.5);
        tg_tensor *x32 = tg_tensor_cast_new(x64, TG_F32);
        tg_tensor_set_requires_grad(x64, true);
        tg_tensor_set_requires_grad(x32, true);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y64 = apply(tp, x64, &cs[i]), *y32 = apply(tp, x32, &cs[i]);
        tt_assert_close("f32 value", y32, y64, 1e-5, 1e-6);
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_square(tp, y64))), TG_OK);
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_square(tp, y32))), TG_OK);
        tt_assert_close("f32 grad", tg_tensor_grad(x32), tg_tensor_grad(x64), 1e-4, 1e-5);
        tg_tape_free(tp);
        tg_tensor_free(x64);
        tg_tensor_free(x32);
    }
}
END_TEST

/* ---- errors ------------------------------------------------------------- */
START_TEST(test_errors)
{
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tensor *e0 = tg_tensor_zeros(TG_F64, 2, TT_SHAPE(2, 0));
    EXPECT_ERR(tg_prod(tp, x, 0, NULL, false), TG_ERR_AXIS,
               "prod: no axes listed for f64[2,3] (an empty list is refused: list every axis to "
               "reduce them all)");
    EXPECT_ERR(tg_logsumexp(tp, x, 1, (const int[]){2}, false), TG_ERR_AXIS,
               "logsumexp: axis 2 out of range for f64[2,3]");
    EXPECT_ERR(tg_norm(tp, x, 0, 1, (const int[]){0}, false), TG_ERR_ARG,
               "norm: order p = 0 for f64[2,3] (p must be > 0, or INFINITY)");
    EXPECT_ERR(tg_norm(tp, x, NAN, 1, (const int[]){0}, false), TG_ERR_ARG, "norm: order p = nan");
    EXPECT_ERR(tg_norm(tp, x, 2, 2, (const int[]){1, -1}, false), TG_ERR_AXIS,
               "norm: axis -1 listed twice for f64[2,3]");
    EXPECT_ERR(tg_var(tp, x, 1, (const int[]){0}, 2, false), TG_ERR_ARG,
               "var: correction 2 leaves N - correction = 0 <= 0 for 2 elements of f64[2,3] (N - "
               "correction must be > 0)");
    EXPECT_ERR(tg_std(tp, x, 1, (const int[]){1}, INFINITY, false), TG_ERR_ARG,
               "std: correction inf leaves N - correction = -inf <= 0 for 3 elements");
    EXPECT_ERR(tg_var(tp, e0, 1, (const int[]){1}, 0, false), TG_ERR_EMPTY,
               "var: no elements to reduce in f64[2,0]");
    EXPECT_ERR(tg_std(tp, x, 0, NULL, 1, false), TG_ERR_AXIS, "std: no axes listed for f64[2,3]");
    EXPECT_ERR(tg_cumsum(tp, x, 2), TG_ERR_AXIS, "cumsum: axis 2 out of range for f64[2,3]");
    EXPECT_ERR(tg_cumprod(tp, x, -3), TG_ERR_AXIS, "cumprod: axis -3 out of range for f64[2,3]");
    EXPECT_ERR(tg_argmax(tp, x, 2, false), TG_ERR_AXIS, "argmax: axis 2 out of range for f64[2,3]");
    EXPECT_ERR(tg_argmax(tp, e0, -1, false), TG_ERR_EMPTY,
               "argmax: axis -1 of f64[2,0] is empty (the argmax of nothing)");
    EXPECT_ERR(tg_argmin(tp, e0, 1, true), TG_ERR_EMPTY,
               "argmin: axis 1 of f64[2,0] is empty (the argmin of nothing)");
    EXPECT_ERR(tg_min(tp, e0, 1, false), TG_ERR_EMPTY,
               "min: axis 1 of f64[2,0] is empty (the min of nothing)");
    EXPECT_ERR(tg_min(tp, NULL, 1, false), TG_ERR_NULL, "min: input 0 is NULL");
    EXPECT_ERR(tg_prod(tp, NULL, 1, (const int[]){0}, false), TG_ERR_NULL, "prod: input 0 is NULL");
    EXPECT_ERR(tg_argmax(tp, NULL, 0, false), TG_ERR_NULL, "argmax: input 0 is NULL");
    /* an i64 input: data only */
    tg_tensor *ix = tg_tensor_zeros(TG_I64, 1, TT_SHAPE(3));
    EXPECT_ERR(tg_argmax(tp, ix, 0, false), TG_ERR_DTYPE, "argmax: input 0 is i64[3]");
    EXPECT_ERR(tg_cumsum(tp, ix, 0), TG_ERR_DTYPE, "cumsum: input 0 is i64[3]");
    tg_tensor_free(ix);
    tg_tensor_free(x);
    tg_tensor_free(e0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reduce_more");
    TCase *tc = tcase_create("closed_form");
    tcase_add_test(tc, test_prod_zeros);
    tcase_add_test(tc, test_prod_forward_empty);
    tcase_add_test(tc, test_prod_second_order_zeros);
    tcase_add_test(tc, test_logsumexp_large);
    tcase_add_test(tc, test_norm_values_and_zero);
    tcase_add_test(tc, test_var_std_values);
    tcase_add_test(tc, test_cumsum_cumprod_values);
    tcase_add_test(tc, test_cumprod_zeros);
    tcase_add_test(tc, test_min);
    tcase_add_test(tc, test_argmax);
    tcase_add_test(tc, test_argmax_is_data);
    tcase_add_test(tc, test_f32_matches_f64);
    suite_add_tcase(s, tc);
    TCase *tg = tcase_create("gradcheck");
    tcase_add_test(tg, test_gradcheck_axes);
    tcase_add_test(tg, test_gradcheck_scans);
    tcase_add_test(tg, test_second_order);
    suite_add_tcase(s, tg);
    TCase *te = tcase_create("errors");
    tcase_add_test(te, test_errors);
    suite_add_tcase(s, te);
    return tt_run(s);
}
