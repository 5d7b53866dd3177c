/* Selection and comparison (src/ops/select.c): where, masked_fill, clamp,
 * clamp_tensor and the comparisons, their values by hand, their gradients
 * by hand at the bounds and ties (the conventions of docs/api.md), f64
 * gradchecks over broadcasting shapes, f32 against f64, zero-size inputs
 * and every error; then attention masking: softmax, log-softmax and both
 * cross-entropies of logits masked with -inf (masked_fill), against the
 * softmax over the unmasked entries only. */
#include "common.h"

#include <tapegrad/check_asserts.h>

#include <math.h>
#include <string.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

static double flat(const tg_tensor *t, int64_t i)
{
    return tg_tensor_get_flat(t, i);
}

/* t's values are want's, NaN where want has NaN (tt_assert_values takes
 * NaN for a mismatch) */
static void values_nan(const char *what, const tg_tensor *t, const double *want, int n)
{
    ck_assert_msg(t != NULL, "%s: NULL", what);
    ck_assert_int_eq(tg_tensor_numel(t), n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(isnan(want[i]) ? isnan(flat(t, i)) : flat(t, i) == want[i],
                      "%s [%d]: %g, want %g", what, i, flat(t, i), want[i]);
}

/* ---- comparisons ------------------------------------------------------------ */
START_TEST(test_comparisons)
{
    const tg_dtype dts[2] = {TG_F64, TG_F32};
    for (int d = 0; d < 2; d++) {
        tg_tensor *a = tt_from(dts[d], 2, TT_SHAPE(2, 3), TT_VALUES(1, 2, 3, 4, NAN, 6));
        tg_tensor *b = tt_from(dts[d], 1, TT_SHAPE(3), TT_VALUES(1, 3, 2));
        tg_tape *tp = tg_tape_new(NULL);
        /* b broadcasts over the rows; NaN is unequal to everything */
        tg_tensor *r[6] = {tg_eq(tp, a, b), tg_ne(tp, a, b), tg_lt(tp, a, b),
                           tg_le(tp, a, b), tg_gt(tp, a, b), tg_ge(tp, a, b)};
        const double want[6][6] = {
            {1, 0, 0, 0, 0, 0}, {0, 1, 1, 1, 1, 1}, {0, 1, 0, 0, 0, 0},
            {1, 1, 0, 0, 0, 0}, {0, 0, 1, 1, 0, 1}, {1, 0, 1, 1, 0, 1},
        };
        for (int k = 0; k < 6; k++) {
            tt_assert_shape(r[k], 2, TT_SHAPE(2, 3));
            ck_assert_int_eq(tg_tensor_dtype(r[k]), dts[d]);
            tt_assert_values("comparison", r[k], want[k], 6, 0, 0);
        }
        /* zero-size operands give a zero-size mask */
        tg_tensor *e = tg_tensor_zeros(dts[d], 2, TT_SHAPE(0, 3));
        tt_assert_shape(tg_lt(tp, e, b), 2, TT_SHAPE(0, 3));
        ck_assert_int_eq(tg_tape_status(tp), TG_OK);
        tg_tape_free(tp);
        tg_tensor_free(a);
        tg_tensor_free(b);
        tg_tensor_free(e);
    }
}
END_TEST

START_TEST(test_comparison_has_no_gradient)
{
    /* a mask from x used as a factor: the gradient is through the factor
     * only (the mask is a constant), d sum(x * [x > 0]) = [x > 0] */
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(4), TT_VALUES(-1, 2, 0, 3));
    tg_tensor_set_requires_grad(x, true);
    tg_tensor *z = tg_tensor_zeros(TG_F64, 0, NULL);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_all(tp, tg_mul(tp, x, tg_gt(tp, x, z)));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values("d/dx", tg_tensor_grad(x), TT_VALUES(0, 1, 0, 1), 4, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(z);
}
END_TEST

/* ---- where ------------------------------------------------------------------ */
START_TEST(test_where_values_and_gradients)
{
    /* cond (2,1), a (2,3), b (3): out (2,3); NaN in cond counts as true */
    tg_tensor *c = tt_from(TG_F64, 2, TT_SHAPE(2, 1), TT_VALUES(1, 0));
    tg_tensor *cn = tt_from(TG_F64, 2, TT_SHAPE(2, 1), TT_VALUES(NAN, 0));
    tg_tensor *a = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 2, 3, 4, 5, 6));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(-1, -2, -3));
    tg_tensor_set_requires_grad(a, true);
    tg_tensor_set_requires_grad(b, true);
    for (int direct = 0; direct < 2; direct++) {
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = tg_where(tp, direct ? c : cn, a, b);
        tt_assert_values("where", y, TT_VALUES(1, 2, 3, -1, -2, -3), 6, 0, 0);
        tg_tensor *w = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 2, 3, 4, 5, 6));
        tg_tensor *l = tg_sum_all(tp, tg_mul(tp, y, w));
        if (direct) {
            tg_tensor_zero_grad(a);
            tg_tensor_zero_grad(b);
            ck_assert_int_eq(tg_backward(tp, l), TG_OK);
            tt_assert_values("d/da", tg_tensor_grad(a), TT_VALUES(1, 2, 3, 0, 0, 0), 6, 0, 0);
            tt_assert_values("d/db", tg_tensor_grad(b), TT_VALUES(4, 5, 6), 3, 0, 0);
        } else { /* the op-built rule */
            tt_assert_values("d/da", tg_grad(tp, l, a, true), TT_VALUES(1, 2, 3, 0, 0, 0), 6, 0, 0);
            tt_assert_values("d/db", tg_grad(tp, l, b, true), TT_VALUES(4, 5, 6), 3, 0, 0);
        }
        tg_tape_free(tp);
        tg_tensor_free(w);
    }
    tg_tensor *all[] = {c, cn, a, b};
    for (int i = 0; i < 4; i++) tg_tensor_free(all[i]);
}
END_TEST

/* where(cond, a, b) for in = {a, b}, cond a constant of ctx's shape */
typedef struct where_case {
    int nc, na, nb;
    int64_t sc[4], sa[4], sb[4];
} where_case;

static tg_tensor *g_cond;
static tg_tensor *fn_where(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_sum_all(tp, tg_square(tp, tg_where(tp, g_cond, in[0], in[1])));
}

START_TEST(test_where_gradcheck_shapes)
{
    static const where_case k_cases[] = {
        {2, 2, 2, {3, 4}, {3, 4}, {3, 4}},          /* same shapes */
        {2, 1, 0, {3, 1}, {4}, {0}},                /* cond a column, b 0-d */
        {3, 2, 3, {2, 1, 4}, {3, 1}, {1, 3, 1}},    /* all three stretched */
        {0, 2, 2, {0}, {2, 3}, {2, 3}},             /* 0-d cond */
        {4, 0, 4, {2, 1, 3, 1}, {0}, {1, 2, 1, 4}}, /* batch, a 0-d */
    };
    for (int i = 0; i < LEN(k_cases); i++) {
        const where_case *w = &k_cases[i];
        int64_t nc = 1;
        for (int d = 0; d < w->nc; d++) nc *= w->sc[d];
        g_cond = tg_tensor_zeros(TG_F64, w->nc, w->sc);
        for (int64_t k = 0; k < nc; k++) tg_tensor_set_flat(g_cond, k, (k % 3) != 1);
        if (nc == 1) tg_tensor_set_flat(g_cond, 0, 1);
        tg_tensor *in[2] = {tt_param(w->na, w->sa, 40 + (uint64_t)i, -2, 2),
                            tt_param(w->nb, w->sb, 50 + (uint64_t)i, -2, 2)};
        char what[64];
        snprintf(what, sizeof what, "where case %d", i);
        /* b is unselected everywhere in the 0-d cond case */
        tt_gradcheck_ex(what, fn_where, NULL, 2, in, NULL, w->nc == 0);
        tg_ck_assert_gradgradcheck_ex(fn_where, NULL, 2, in, NULL, w->nc == 0);
        tg_tensor_free(in[0]);
        tg_tensor_free(in[1]);
        tg_tensor_free(g_cond);
    }
}
END_TEST

START_TEST(test_where_f32_and_empty)
{
    tg_tensor *c = tt_from(TG_F32, 1, TT_SHAPE(3), TT_VALUES(0, 1, 0));
    tg_tensor *a = tt_from(TG_F32, 1, TT_SHAPE(3), TT_VALUES(1.5, 2.5, 3.5));
    tg_tensor *b = tt_from(TG_F32, 0, NULL, TT_VALUES(-INFINITY));
    tg_tensor *e = tg_tensor_zeros(TG_F32, 2, TT_SHAPE(0, 3));
    tg_tape *tp = tg_tape_new(NULL);
    tt_assert_values("where f32", tg_where(tp, c, a, b), TT_VALUES(-INFINITY, 2.5, -INFINITY), 3, 0,
                     0);
    tt_assert_shape(tg_where(tp, c, e, b), 2, TT_SHAPE(0, 3));
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor *all[] = {c, a, b, e};
    for (int i = 0; i < 4; i++) tg_tensor_free(all[i]);
}
END_TEST

START_TEST(test_where_errors)
{
    tg_tensor *c = tg_tensor_zeros(TG_F64, 1, TT_SHAPE(2));
    tg_tensor *a = tg_tensor_zeros(TG_F64, 1, TT_SHAPE(3));
    tg_tensor *b = tg_tensor_zeros(TG_F64, 0, NULL);
    tg_tensor *f = tg_tensor_zeros(TG_F32, 1, TT_SHAPE(3));
    EXPECT_ERR(tg_where(tp, c, a, b), TG_ERR_SHAPE,
               "where: shapes cond (2), a (3) and b () do not broadcast");
    EXPECT_ERR(tg_where(tp, a, a, f), TG_ERR_DTYPE, "where", "f64", "f32");
    EXPECT_ERR(tg_where(tp, f, a, a), TG_ERR_DTYPE, "where", "f64", "f32");
    tg_tensor *all[] = {c, a, b, f};
    for (int i = 0; i < 4; i++) tg_tensor_free(all[i]);
}
END_TEST

/* ---- masked_fill -------------------------------------------------------------- */
START_TEST(test_masked_fill)
{
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 2, 3, 4, 5, 6));
    tg_tensor *m = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(0, 1, 0));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_masked_fill(tp, x, m, -INFINITY);
    tt_assert_values("masked_fill", y, TT_VALUES(1, -INFINITY, 3, 4, -INFINITY, 6), 6, 0, 0);
    /* the gradient is 0 where masked, even for an infinite output gradient */
    tg_tensor *s = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, INFINITY, 3, 4, NAN, 6));
    ck_assert_int_eq(tg_backward_ex(tp, y, &(tg_backward_options){.seed = s}), TG_OK);
    tt_assert_values("d/dx", tg_tensor_grad(x), TT_VALUES(1, 0, 3, 4, 0, 6), 6, 0, 0);
    tg_tape_reset(tp);
    y = tg_masked_fill(tp, x, m, -INFINITY);
    tt_assert_values("d/dx op-built",
                     tg_grad(tp, tg_sum_all(tp, tg_masked_fill(tp, y, m, 0)), x, true),
                     TT_VALUES(1, 0, 1, 1, 0, 1), 6, 0, 0);
    /* errors: a mask that would enlarge x, mixed dtypes */
    tg_tensor *big = tg_tensor_zeros(TG_F64, 3, TT_SHAPE(4, 2, 3));
    tg_tensor *f = tg_tensor_zeros(TG_F32, 1, TT_SHAPE(3));
    EXPECT_ERR(tg_masked_fill(tp, x, big, 0), TG_ERR_SHAPE,
               "masked_fill: mask (4,2,3) does not broadcast to x (2,3)");
    EXPECT_ERR(tg_masked_fill(tp, m, x, 0), TG_ERR_SHAPE,
               "masked_fill: mask (2,3) does not broadcast to x (3)");
    EXPECT_ERR(tg_masked_fill(tp, x, f, 0), TG_ERR_DTYPE, "masked_fill", "f64", "f32");
    tg_tape_free(tp);
    tg_tensor *all[] = {x, m, s, big, f};
    for (int i = 0; i < 5; i++) tg_tensor_free(all[i]);
}
END_TEST

static tg_tensor *fn_masked_fill(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    tg_tensor *y = tg_masked_fill(tp, in[0], ctx, 0.5);
    return tg_sum_all(tp, tg_mul(tp, y, tg_sin(tp, y)));
}

START_TEST(test_masked_fill_gradcheck)
{
    const int64_t sx[3][3] = {{2, 3, 4}, {5, 1, 0}, {3, 0, 0}};
    const int64_t sm[3][3] = {{3, 1, 0}, {1, 1, 0}, {0, 0, 0}};
    const int nx[3] = {3, 2, 1}, nm[3] = {2, 2, 0};
    for (int i = 0; i < 3; i++) {
        tg_tensor *m = tt_rand(TG_F64, nm[i], sm[i], 60 + (uint64_t)i, 0, 1);
        for (int64_t k = 0; k < tg_tensor_numel(m); k++)
            tg_tensor_set_flat(m, k, flat(m, k) > 0.5 ? 1.0 : 0.0);
        tg_tensor_set_flat(m, 0, 0); /* something unmasked */
        tg_tensor *x = tt_param(nx[i], sx[i], 70 + (uint64_t)i, -2, 2);
        tt_gradcheck("masked_fill", fn_masked_fill, m, 1, &x);
        tg_ck_assert_gradgradcheck(fn_masked_fill, m, 1, &x);
        tg_tensor_free(x);
        tg_tensor_free(m);
    }
}
END_TEST

/* ---- clamp -------------------------------------------------------------------- */
START_TEST(test_clamp_values_and_bounds)
{
    const tg_dtype dts[2] = {TG_F64, TG_F32};
    for (int d = 0; d < 2; d++) {
        /* below, at lo, inside, at hi, above, NaN */
        tg_tensor *x = tt_from(dts[d], 1, TT_SHAPE(6), TT_VALUES(-2, -1, 0.5, 1, 3, NAN));
        tg_tensor_set_requires_grad(x, true);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = tg_clamp(tp, x, -1, 1);
        values_nan("clamp", y, TT_VALUES(-1, -1, 0.5, 1, 1, NAN), 6);
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_masked_fill(tp, y, tg_ne(tp, y, y), 0))),
                         TG_OK);
        /* PyTorch's convention: the bounds themselves pass the gradient */
        tt_assert_values("d clamp", tg_tensor_grad(x), TT_VALUES(0, 1, 1, 1, 0, 0), 6, 0, 0);
        tg_tape_reset(tp);
        /* the op-built rule agrees */
        y = tg_clamp(tp, x, -1, 1);
        tt_assert_values(
            "d clamp op-built",
            tg_grad(tp, tg_sum_all(tp, tg_masked_fill(tp, y, tg_ne(tp, y, y), 0)), x, true),
            TT_VALUES(0, 1, 1, 1, 0, 0), 6, 0, 0);
        tg_tape_reset(tp);
        /* lo > hi: hi everywhere (PyTorch's min(max(x, lo), hi)), no gradient */
        tg_tensor_zero_grad(x);
        y = tg_clamp(tp, x, 2, -1);
        values_nan("clamp lo > hi", y, TT_VALUES(-1, -1, -1, -1, -1, NAN), 6);
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_masked_fill(tp, y, tg_ne(tp, y, y), 0))),
                         TG_OK);
        tt_assert_values("d clamp lo > hi", tg_tensor_grad(x), TT_VALUES(0, 0, 0, 0, 0, 0), 6, 0,
                         0);
        tg_tape_reset(tp);
        /* infinite bounds: one-sided clamps */
        values_nan("clamp lo only", tg_clamp(tp, x, 0, INFINITY), TT_VALUES(0, 0, 0.5, 1, 3, NAN),
                   6);
        values_nan("clamp hi only", tg_clamp(tp, x, -INFINITY, 0), TT_VALUES(-2, -1, 0, 0, 0, NAN),
                   6);
        ck_assert_int_eq(tg_tape_status(tp), TG_OK);
        /* a NaN bound is refused */
        tg_tape_reset(tp);
        ck_assert_ptr_null(tg_clamp(tp, x, NAN, 1));
        tt_assert_tape_error(tp, TG_ERR_ARG, "clamp: x (6): bound lo nan or hi 1 is NaN");
        tg_tape_free(tp);
        tg_tensor_free(x);
    }
}
END_TEST

static tg_tensor *fn_clamp(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_sum_all(tp, tg_mul(tp, tg_exp(tp, tg_clamp(tp, in[0], -0.5, 0.7)), in[0]));
}

START_TEST(test_clamp_gradcheck)
{
    /* values at least 0.01 from the bounds: the kinks are not crossed */
    tg_tensor *x = tt_param(3, TT_SHAPE(2, 3, 4), 80, -2, 2);
    for (int64_t i = 0; i < tg_tensor_numel(x); i++) {
        const double v = flat(x, i);
        if (fabs(v + 0.5) < 0.01 || fabs(v - 0.7) < 0.01) tg_tensor_set_flat(x, i, v + 0.03);
    }
    tt_gradcheck("clamp", fn_clamp, NULL, 1, &x);
    tg_ck_assert_gradgradcheck(fn_clamp, NULL, 1, &x);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_clamp_tensor_values_and_gradients)
{
    /* x (2,3), lo (3), hi (2,1) */
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(-3, 0, 3, -3, 0.5, 3));
    tg_tensor *lo = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(-1, 0, -1));
    tg_tensor *hi = tt_from(TG_F64, 2, TT_SHAPE(2, 1), TT_VALUES(1, -2));
    tg_tensor *w = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 2, 3, 4, 5, 6));
    tg_tensor *ps[3] = {x, lo, hi};
    for (int i = 0; i < 3; i++) tg_tensor_set_requires_grad(ps[i], true);
    for (int direct = 0; direct < 2; direct++) {
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = tg_clamp_tensor(tp, x, lo, hi);
        /* row 1: lo <= hi, x below, at lo, above; row 2: hi < lo, all hi */
        tt_assert_values("clamp_tensor", y, TT_VALUES(-1, 0, 1, -2, -2, -2), 6, 0, 0);
        tg_tensor *l = tg_sum_all(tp, tg_mul(tp, y, w));
        /* x: where lo <= x <= hi (x = 0 at lo = 0 passes); lo: x < lo <= hi;
         * hi: x > hi or hi < lo (the whole second row) */
        const double dx[6] = {0, 2, 0, 0, 0, 0}, dlo[3] = {1, 0, 0}, dhi[2] = {3, 15};
        if (direct) {
            ck_assert_int_eq(tg_backward(tp, l), TG_OK);
            tt_assert_values("d/dx", tg_tensor_grad(x), dx, 6, 0, 0);
            tt_assert_values("d/dlo", tg_tensor_grad(lo), dlo, 3, 0, 0);
            tt_assert_values("d/dhi", tg_tensor_grad(hi), dhi, 2, 0, 0);
        } else {
            tt_assert_values("d/dx", tg_grad(tp, l, x, true), dx, 6, 0, 0);
            tt_assert_values("d/dlo", tg_grad(tp, l, lo, true), dlo, 3, 0, 0);
            tt_assert_values("d/dhi", tg_grad(tp, l, hi, true), dhi, 2, 0, 0);
        }
        tg_tape_free(tp);
    }
    /* lo == hi (two tensors): the value is the bound; below it the
     * gradient goes to lo, above it to hi, at it to x */
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *hi2 = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(-1, 0, -1));
    tg_tensor_set_requires_grad(hi2, true);
    for (int i = 0; i < 3; i++) tg_tensor_zero_grad(ps[i]);
    tg_tensor *y = tg_clamp_tensor(tp, x, lo, hi2);
    tt_assert_values("clamp_tensor lo == hi", y, TT_VALUES(-1, 0, -1, -1, 0, -1), 6, 0, 0);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul(tp, y, w))), TG_OK);
    tt_assert_values("d/dx lo == hi", tg_tensor_grad(x), TT_VALUES(0, 2, 0, 0, 0, 0), 6, 0, 0);
    tt_assert_values("d/dlo lo == hi", tg_tensor_grad(lo), TT_VALUES(5, 0, 0), 3, 0, 0);
    tt_assert_values("d/dhi lo == hi", tg_tensor_grad(hi2), TT_VALUES(0, 5, 9), 3, 0, 0);
    tg_tensor_free(hi2);
    /* NULL bounds: none; both NULL is the identity */
    tg_tape_reset(tp);
    tt_assert_values("no hi", tg_clamp_tensor(tp, x, lo, NULL), TT_VALUES(-1, 0, 3, -1, 0.5, 3), 6,
                     0, 0);
    tt_assert_values("no lo", tg_clamp_tensor(tp, x, NULL, hi), TT_VALUES(-3, 0, 1, -3, -2, -2), 6,
                     0, 0);
    tt_assert_values("no bounds", tg_clamp_tensor(tp, x, NULL, NULL),
                     TT_VALUES(-3, 0, 3, -3, 0.5, 3), 6, 0, 0);
    /* a NaN bound element gives NaN there */
    tg_tensor *ln = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(NAN, 0, -1));
    values_nan("NaN bound", tg_clamp_tensor(tp, x, ln, NULL), TT_VALUES(NAN, 0, 3, NAN, 0.5, 3), 6);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    /* errors */
    tg_tensor *b4 = tg_tensor_zeros(TG_F64, 1, TT_SHAPE(4));
    tg_tensor *f = tg_tensor_zeros(TG_F32, 1, TT_SHAPE(3));
    EXPECT_ERR(tg_clamp_tensor(tp, x, b4, NULL), TG_ERR_SHAPE,
               "clamp_tensor: shapes x (2,3), lo (4) and hi (none) do not broadcast");
    EXPECT_ERR(tg_clamp_tensor(tp, x, NULL, f), TG_ERR_DTYPE, "clamp_tensor", "f64", "f32");
    tg_tensor *all[] = {x, lo, hi, w, ln, b4, f};
    for (int i = 0; i < 7; i++) tg_tensor_free(all[i]);
}
END_TEST

static tg_tensor *fn_clamp_tensor(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *y = tg_clamp_tensor(tp, in[0], in[1], in[2]);
    return tg_sum_all(tp, tg_mul(tp, y, tg_cos(tp, y)));
}

/* Moves each element of t that is within 0.02 of some element of u away. */
static void keep_apart(tg_tensor *t, const tg_tensor *u)
{
    for (int64_t i = 0; i < tg_tensor_numel(t); i++)
        for (int64_t j = 0; j < tg_tensor_numel(u); j++)
            if (fabs(flat(t, i) - flat(u, j)) < 0.02) tg_tensor_set_flat(t, i, flat(t, i) + 0.05);
}

START_TEST(test_clamp_tensor_gradcheck)
{
    static const struct {
        int n[3];
        int64_t s[3][4];
    } k_cases[] = {
        {{2, 2, 2}, {{3, 4}, {3, 4}, {3, 4}}},
        {{3, 1, 2}, {{2, 3, 4}, {4}, {3, 1}}},
        {{2, 0, 3}, {{3, 1}, {0}, {2, 1, 5}}},
        {{4, 2, 0}, {{2, 1, 3, 2}, {3, 1}, {0}}},
    };
    for (int i = 0; i < LEN(k_cases); i++) {
        tg_tensor *in[3];
        for (int k = 0; k < 3; k++)
            in[k] = tt_param(k_cases[i].n[k], k_cases[i].s[k], 90 + 3 * (uint64_t)i + (uint64_t)k,
                             k == 0   ? -2
                             : k == 1 ? -1.5
                                      : -0.5,
                             k == 0   ? 2
                             : k == 1 ? 0.5
                                      : 1.5);
        keep_apart(in[1], in[2]);
        keep_apart(in[0], in[1]);
        keep_apart(in[0], in[2]);
        char what[64];
        snprintf(what, sizeof what, "clamp_tensor case %d", i);
        tt_gradcheck(what, fn_clamp_tensor, NULL, 3, in);
        tg_ck_assert_gradgradcheck(fn_clamp_tensor, NULL, 3, in);
        for (int k = 0; k < 3; k++) tg_tensor_free(in[k]);
    }
}
END_TEST

/* ---- attention masking: -inf logits ---------------------------------------------- */
/* Logits (3,5) and a mask (3,5) with 1 = masked: every row keeps at least
 * one entry (the fully masked row is test_fully_masked_row). */
static const double k_logits[15] = {0.3, -1.2, 2.0,  0.7, -0.4, 1.1,  0.2, -0.3,
                                    0.9, 1.6,  -0.8, 0.5, 0.1,  -1.5, 0.6};
static const double k_mask[15] = {0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0};

/* softmax of row r over its unmasked entries, by hand (0 where masked) */
static double ref_prob(int r, int c)
{
    if (k_mask[5 * r + c] != 0) return 0;
    double s = 0;
    for (int j = 0; j < 5; j++)
        if (k_mask[5 * r + j] == 0) s += exp(k_logits[5 * r + j]);
    return exp(k_logits[5 * r + c]) / s;
}

START_TEST(test_masked_softmax_values)
{
    const tg_dtype dts[2] = {TG_F64, TG_F32};
    for (int d = 0; d < 2; d++) {
        const double tol = d ? 1e-6 : 1e-14;
        tg_tensor *x = tt_from(dts[d], 2, TT_SHAPE(3, 5), k_logits);
        tg_tensor *m = tt_from(dts[d], 2, TT_SHAPE(3, 5), k_mask);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *z = tg_masked_fill(tp, x, m, -INFINITY);
        tg_tensor *p = tg_softmax(tp, z, -1), *lp = tg_log_softmax(tp, z, 1);
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 5; c++) {
                const double q = ref_prob(r, c);
                ck_assert_double_eq_tol(flat(p, 5 * r + c), q, tol);
                if (q == 0) {
                    ck_assert_double_eq(flat(p, 5 * r + c), 0);
                    ck_assert(isinf(flat(lp, 5 * r + c)) && flat(lp, 5 * r + c) < 0);
                } else {
                    ck_assert_double_eq_tol(flat(lp, 5 * r + c), log(q), tol);
                }
            }
        tg_tape_free(tp);
        tg_tensor_free(x);
        tg_tensor_free(m);
    }
}
END_TEST

/* The four uses of masked logits z = masked_fill(x, mask, -inf), each made
 * into a finite scalar: which = 0 softmax, 1 log-softmax (summed over the
 * unmasked entries only: the masked ones are -inf), 2 the cross-entropy
 * with dense targets (0 on the masked classes), 3 with class indices. */
typedef struct mask_ctx {
    int which;
    tg_tensor *mask, *w, *targets, *labels;
} mask_ctx;

static tg_tensor *fn_masked(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const mask_ctx *c = ctx;
    tg_tensor *z = tg_masked_fill(tp, in[0], c->mask, -INFINITY);
    switch (c->which) {
    case 0:
        return tg_sum_all(tp, tg_mul(tp, tg_softmax(tp, z, -1), c->w));
    case 1:
        return tg_sum_all(
            tp, tg_masked_fill(tp, tg_mul(tp, tg_log_softmax(tp, z, -1), c->w), c->mask, 0.0));
    case 2:
        return tg_softmax_cross_entropy(tp, z, c->targets, TG_REDUCE_MEAN);
    default:
        return tg_softmax_cross_entropy_index(tp, z, c->labels, TG_REDUCE_SUM);
    }
}

static void mask_ctx_init(mask_ctx *c, tg_dtype dt)
{
    c->mask = tt_from(dt, 2, TT_SHAPE(3, 5), k_mask);
    c->w = tt_rand(dt, 2, TT_SHAPE(3, 5), 111, -1, 1);
    /* targets: a distribution over each row's unmasked classes */
    c->targets = tg_tensor_zeros(dt, 2, TT_SHAPE(3, 5));
    for (int r = 0; r < 3; r++) {
        double s = 0;
        for (int j = 0; j < 5; j++) s += k_mask[5 * r + j] == 0 ? 1.0 + j : 0;
        for (int j = 0; j < 5; j++)
            tg_tensor_set_flat(c->targets, 5 * r + j, k_mask[5 * r + j] == 0 ? (1.0 + j) / s : 0);
    }
    c->labels = tg_tensor_from(TG_I64, 1, TT_SHAPE(3), (const int64_t[]){2, 3, 4});
}

static void mask_ctx_free(mask_ctx *c)
{
    tg_tensor *all[] = {c->mask, c->w, c->targets, c->labels};
    for (int i = 0; i < 4; i++) tg_tensor_free(all[i]);
}

/* The losses' values against the closed form over the unmasked classes,
 * and their gradients: finite, 0 at the masked logits (the -inf themselves
 * too, taken as the leaf), softmax - t elsewhere; by both rules. */
START_TEST(test_masked_cross_entropy)
{
    const tg_dtype dts[2] = {TG_F64, TG_F32};
    for (int d = 0; d < 2; d++) {
        const double tol = d ? 1e-6 : 1e-13;
        mask_ctx c;
        mask_ctx_init(&c, dts[d]);
        double want2 = 0, want3 = 0;
        for (int r = 0; r < 3; r++) {
            for (int j = 0; j < 5; j++) {
                const double q = ref_prob(r, j), t = flat(c.targets, 5 * r + j);
                if (t > 0) want2 -= t * log(q) / 3;
            }
            want3 -= log(ref_prob(r, (int)(2 + r)));
        }
        /* z itself a leaf holding -inf, and z made by masked_fill of x */
        tg_tensor *x = tt_from(dts[d], 2, TT_SHAPE(3, 5), k_logits);
        tg_tensor *z = tt_from(dts[d], 2, TT_SHAPE(3, 5), k_logits);
        for (int i = 0; i < 15; i++)
            if (k_mask[i] != 0) tg_tensor_set_flat(z, i, -INFINITY);
        tg_tensor_set_requires_grad(x, true);
        tg_tensor_set_requires_grad(z, true);
        for (int which = 2; which < 4; which++)
            for (int leaf = 0; leaf < 2; leaf++)
                for (int direct = 0; direct < 2; direct++) {
                    tg_tape *tp = tg_tape_new(NULL);
                    c.which = which;
                    tg_tensor *l;
                    if (leaf)
                        l = which == 2
                                ? tg_softmax_cross_entropy(tp, z, c.targets, TG_REDUCE_MEAN)
                                : tg_softmax_cross_entropy_index(tp, z, c.labels, TG_REDUCE_SUM);
                    else
                        l = fn_masked(tp, &x, &c);
                    ck_assert_msg(l != NULL, "%s", tg_tape_error(tp));
                    ck_assert_double_eq_tol(flat(l, 0), which == 2 ? want2 : want3, tol);
                    tg_tensor *p = leaf ? z : x;
                    tg_tensor *g;
                    if (direct) {
                        tg_tensor_zero_grad(p);
                        ck_assert_int_eq(tg_backward(tp, l), TG_OK);
                        g = tg_tensor_grad(p);
                    } else {
                        g = tg_grad(tp, l, p, true);
                    }
                    ck_assert_ptr_nonnull(g);
                    for (int r = 0; r < 3; r++)
                        for (int j = 0; j < 5; j++) {
                            const double t =
                                which == 2 ? flat(c.targets, 5 * r + j) : (double)(j == 2 + r);
                            const double v = flat(g, 5 * r + j);
                            ck_assert_msg(isfinite(v), "which %d leaf %d direct %d: [%d,%d] = %g",
                                          which, leaf, direct, r, j, v);
                            if (k_mask[5 * r + j] != 0)
                                ck_assert_double_eq(v, 0);
                            else
                                ck_assert_double_eq_tol(
                                    v, (ref_prob(r, j) - t) / (which == 2 ? 3 : 1), tol);
                        }
                    tg_tape_free(tp);
                }
        tg_tensor_free(x);
        tg_tensor_free(z);
        mask_ctx_free(&c);
    }
}
END_TEST

/* f64 gradcheck (and gradgradcheck) of the four over the unmasked logits:
 * the -inf are made inside the graph, so the perturbed x stays finite. */
START_TEST(test_masked_gradcheck)
{
    mask_ctx c;
    mask_ctx_init(&c, TG_F64);
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(3, 5), k_logits);
    tg_tensor_set_requires_grad(x, true);
    for (c.which = 0; c.which < 4; c.which++) {
        char what[48];
        snprintf(what, sizeof what, "masked logits, use %d", c.which);
        tt_gradcheck(what, fn_masked, &c, 1, &x);
        tg_ck_assert_gradgradcheck(fn_masked, &c, 1, &x);
    }
    tg_tensor_free(x);
    mask_ctx_free(&c);
}
END_TEST

/* Second derivatives with z itself a leaf holding the -inf (no masked_fill
 * in the graph): the Hessian-vector product of each use, by the op-built
 * rules twice, is finite and 0 at the masked logits. */
START_TEST(test_masked_leaf_second_order)
{
    mask_ctx c;
    mask_ctx_init(&c, TG_F64);
    tg_tensor *z = tt_from(TG_F64, 2, TT_SHAPE(3, 5), k_logits);
    for (int i = 0; i < 15; i++)
        if (k_mask[i] != 0) tg_tensor_set_flat(z, i, -INFINITY);
    tg_tensor_set_requires_grad(z, true);
    tg_tensor *v = tt_rand(TG_F64, 2, TT_SHAPE(3, 5), 112, -1, 1);
    for (c.which = 0; c.which < 4; c.which++) {
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *l;
        switch (c.which) {
        case 0:
            l = tg_sum_all(tp, tg_mul(tp, tg_softmax(tp, z, -1), c.w));
            break;
        case 1: /* log-softmax summed over the unmasked entries */
            l = tg_sum_all(
                tp, tg_masked_fill(tp, tg_mul(tp, tg_log_softmax(tp, z, -1), c.w), c.mask, 0.0));
            break;
        case 2:
            l = tg_softmax_cross_entropy(tp, z, c.targets, TG_REDUCE_MEAN);
            break;
        default:
            l = tg_softmax_cross_entropy_index(tp, z, c.labels, TG_REDUCE_SUM);
        }
        tg_tensor *g = tg_grad(tp, l, z, true);
        tg_tensor *h = tg_grad(tp, tg_sum_all(tp, tg_mul(tp, g, v)), z, false);
        ck_assert_msg(g && h, "use %d: %s", c.which, tg_tape_error(tp));
        ck_assert_msg(isfinite(flat(l, 0)), "use %d: loss %g", c.which, flat(l, 0));
        for (int i = 0; i < 15; i++) {
            ck_assert_msg(isfinite(flat(g, i)) && isfinite(flat(h, i)),
                          "use %d [%d]: gradient %g, hvp %g", c.which, i, flat(g, i), flat(h, i));
            if (k_mask[i] != 0) {
                ck_assert_double_eq(flat(g, i), 0);
                ck_assert_double_eq(flat(h, i), 0);
            }
        }
        tg_tape_free(tp);
    }
    tg_tensor_free(z);
    tg_tensor_free(v);
    mask_ctx_free(&c);
}
END_TEST

/* Causal self-attention, batched: scores q k^T / sqrt(3) (2,4,4), the
 * future masked with -inf by a (4,4) mask broadcast over the batch,
 * softmax, times v.  f64 gradcheck and gradgradcheck in q, k and v. */
static tg_tensor *g_causal;
static tg_tensor *fn_attention(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    tg_tensor *s = tg_mul_scalar(tp, tg_matmul_t(tp, in[0], in[1], false, true), 1 / sqrt(3.0));
    tg_tensor *p = tg_softmax(tp, tg_masked_fill(tp, s, g_causal, -INFINITY), -1);
    return tg_sum_all(tp, tg_mul(tp, tg_matmul(tp, p, in[2]), ctx));
}

START_TEST(test_masked_attention)
{
    g_causal = tg_tensor_zeros(TG_F64, 2, TT_SHAPE(4, 4));
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++) tg_tensor_set_flat(g_causal, 4 * i + j, 1);
    tg_tensor *in[3];
    for (int k = 0; k < 3; k++) in[k] = tt_param(3, TT_SHAPE(2, 4, 3), 120 + (uint64_t)k, -1, 1);
    tg_tensor *w = tt_rand(TG_F64, 3, TT_SHAPE(2, 4, 3), 123, -1, 1);
    /* the first query sees only the first key: its output row is v's first */
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *s = tg_matmul_t(tp, in[0], in[1], false, true);
    tg_tensor *o =
        tg_matmul(tp, tg_softmax(tp, tg_masked_fill(tp, s, g_causal, -INFINITY), -1), in[2]);
    for (int b = 0; b < 2; b++)
        for (int j = 0; j < 3; j++)
            ck_assert_double_eq(flat(o, 12 * b + j), flat(in[2], 12 * b + j));
    tg_tape_free(tp);
    tt_gradcheck("causal attention", fn_attention, w, 3, in);
    tg_ck_assert_gradgradcheck(fn_attention, w, 3, in);
    for (int k = 0; k < 3; k++) tg_tensor_free(in[k]);
    tg_tensor_free(w);
    tg_tensor_free(g_causal);
}
END_TEST

/* Masking along a middle axis of a wide tensor (x (2,5,70), softmax over
 * axis 1: the kernel's blocks of columns), against the closed form. */
START_TEST(test_masked_softmax_middle_axis)
{
    tg_tensor *x = tt_rand(TG_F64, 3, TT_SHAPE(2, 5, 70), 130, -3, 3);
    tg_tensor *m = tt_rand(TG_F64, 3, TT_SHAPE(1, 5, 70), 131, 0, 1);
    for (int64_t i = 0; i < 350; i++) tg_tensor_set_flat(m, i, flat(m, i) < 0.4);
    for (int64_t c = 0; c < 70; c++) tg_tensor_set_flat(m, 70 * (c % 5) + c, 0); /* one kept */
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *p = tg_softmax(tp, tg_masked_fill(tp, x, m, -INFINITY), 1);
    ck_assert_ptr_nonnull(p);
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 70; c++) {
            double sum = 0;
            for (int k = 0; k < 5; k++)
                if (flat(m, 70 * k + c) == 0) sum += exp(flat(x, 350 * b + 70 * k + c));
            for (int k = 0; k < 5; k++) {
                const double want =
                    flat(m, 70 * k + c) == 0 ? exp(flat(x, 350 * b + 70 * k + c)) / sum : 0;
                ck_assert_double_eq_tol(flat(p, 350 * b + 70 * k + c), want, 1e-15);
            }
        }
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(m);
}
END_TEST

/* A row masked entirely has no distribution: softmax gives NaN there (0/0)
 * and log-softmax NaN (-inf + inf), as in PyTorch; the other rows are
 * unaffected.  The cross-entropy of such a row is NaN, and the logits'
 * gradient 0 there (masked), finite elsewhere. */
START_TEST(test_fully_masked_row)
{
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(0.1, 0.2, 0.3, 1, 2, 3));
    tg_tensor *m = tt_from(TG_F64, 2, TT_SHAPE(2, 1), TT_VALUES(1, 0));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *z = tg_masked_fill(tp, x, m, -INFINITY);
    tg_tensor *p = tg_softmax(tp, z, -1), *lp = tg_log_softmax(tp, z, -1);
    const double s = exp(1) + exp(2) + exp(3);
    for (int j = 0; j < 3; j++) {
        ck_assert(isnan(flat(p, j)));
        ck_assert(isnan(flat(lp, j)));
        ck_assert_double_eq_tol(flat(p, 3 + j), exp(1 + j) / s, 1e-15);
    }
    tg_tensor *labels = tg_tensor_from(TG_I64, 1, TT_SHAPE(2), (const int64_t[]){0, 2});
    tg_tensor *l = tg_softmax_cross_entropy_index(tp, z, labels, TG_REDUCE_SUM);
    ck_assert(isnan(flat(l, 0)));
    /* x's gradient: the other row's is softmax - onehot, finite; the masked
     * row's is 0 (masked_fill's rule selects, whatever arrives there) */
    ck_assert_int_eq(tg_backward(tp, l), TG_OK);
    for (int j = 0; j < 3; j++) {
        ck_assert_double_eq(flat(tg_tensor_grad(x), j), 0);
        ck_assert_double_eq_tol(flat(tg_tensor_grad(x), 3 + j), exp(1 + j) / s - (j == 2), 1e-15);
    }
    tg_tape_free(tp);
    tg_tensor_free(labels);
    tg_tensor_free(x);
    tg_tensor_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("select");
    TCase *tc = tcase_create("select");
    tcase_add_test(tc, test_comparisons);
    tcase_add_test(tc, test_comparison_has_no_gradient);
    tcase_add_test(tc, test_where_values_and_gradients);
    tcase_add_test(tc, test_where_gradcheck_shapes);
    tcase_add_test(tc, test_where_f32_and_empty);
    tcase_add_test(tc, test_where_errors);
    tcase_add_test(tc, test_masked_fill);
    tcase_add_test(tc, test_masked_fill_gradcheck);
    tcase_add_test(tc, test_clamp_values_and_bounds);
    tcase_add_test(tc, test_clamp_gradcheck);
    tcase_add_test(tc, test_clamp_tensor_values_and_gradients);
    tcase_add_test(tc, test_clamp_tensor_gradcheck);
    suite_add_tcase(s, tc);
    TCase *mk = tcase_create("masking");
    tcase_add_test(mk, test_masked_softmax_values);
    tcase_add_test(mk, test_masked_cross_entropy);
    tcase_add_test(mk, test_masked_gradcheck);
    tcase_add_test(mk, test_masked_leaf_second_order);
    tcase_add_test(mk, test_masked_attention);
    tcase_add_test(mk, test_masked_softmax_middle_axis);
    tcase_add_test(mk, test_fully_masked_row);
    suite_add_tcase(s, mk);
    return tt_run(s);
}
