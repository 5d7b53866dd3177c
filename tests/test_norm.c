/* Normalisation layers (src/ops/norm.c): layer_norm, batch_norm (training
 * with batch statistics and running averages, evaluation), group_norm.
 * Each fused op against the same computation composed from primitives
 * (tg_mean, tg_sub, tg_square, tg_sqrt, tg_div, ...) to 1e-12 in value and
 * in gradient (both rules: the direct one and the op-built one, with
 * create_graph), f64 gradchecks over several shapes, second derivatives,
 * closed forms, the running averages, f32 against f64, zero-size inputs,
 * and every error, with the user's running statistics left untouched by a
 * failing call. */
#include "common.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

enum { LN, BN, GN };

/* One call of a normalisation: which op, its integer argument (naxes for
 * layer_norm, groups for group_norm), whether weight and bias are given,
 * batch_norm's mode and running statistics, eps; composed: the same from
 * primitives instead of the fused op. */
typedef struct nctx {
    int kind, arg;
    bool w, b, training, composed;
    tg_tensor *rm, *rv;
    double momentum, eps;
} nctx;

/* t (C) seen as (1, C, 1, ...) against an x of ndim axes. */
static tg_tensor *per_channel(tg_tape *tp, tg_tensor *t, int ndim)
{
    int64_t s[8] = {1, tg_tensor_numel(t), 1, 1, 1, 1, 1, 1};
    return tg_reshape(tp, t, ndim, s);
}

/* (x - mean) / sqrt(var + eps) over the given axes, from primitives. */
static tg_tensor *normalise(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, double eps)
{
    tg_tensor *xc = tg_sub(tp, x, tg_mean(tp, x, naxes, axes, true));
    tg_tensor *var = tg_mean(tp, tg_square(tp, xc), naxes, axes, true);
    return tg_div(tp, xc, tg_sqrt(tp, tg_add_scalar(tp, var, eps)));
}

static tg_tensor *composed(tg_tape *tp, const nctx *c, tg_tensor *x, tg_tensor *w, tg_tensor *b)
{
    const int nd = tg_tensor_ndim(x);
    const int64_t *sh = tg_tensor_shape(x);
    int axes[8], na = 0;
    tg_tensor *h;
    bool chan = true; /* weight and bias per channel (axis 1) */
    switch (c->kind) {
    case LN:
        for (int a = nd - c->arg; a < nd; a++) axes[na++] = a;
        h = normalise(tp, x, na, axes, c->eps);
        chan = false;
        break;
    case BN:
        axes[na++] = 0;
        for (int a = 2; a < nd; a++) axes[na++] = a;
        if (c->training) {
            h = normalise(tp, x, na, axes, c->eps);
        } else {
            tg_tensor *m = per_channel(tp, c->rm, nd);
            tg_tensor *v = per_channel(tp, c->rv, nd);
            h = tg_div(tp, tg_sub(tp, x, m), tg_sqrt(tp, tg_add_scalar(tp, v, c->eps)));
        }
        break;
    default: {
        tg_tensor *xr = tg_reshape(tp, x, 3, TT_SHAPE(sh[0], c->arg, -1));
        h = tg_reshape(tp, normalise(tp, xr, 1, (const int[]){2}, c->eps), nd, sh);
    }
    }
    if (w) h = tg_mul(tp, h, chan ? per_channel(tp, w, nd) : w);
    if (b) h = tg_add(tp, h, chan ? per_channel(tp, b, nd) : b);
    return h;
}

static tg_tensor *fused(tg_tape *tp, const nctx *c, tg_tensor *x, tg_tensor *w, tg_tensor *b)
{
    switch (c->kind) {
    case LN:
        return tg_layer_norm(tp, x, c->arg, w, b, c->eps);
    case BN:
        return tg_batch_norm(tp, x, w, b, c->rm, c->rv, c->training, c->momentum, c->eps);
    default:
        return tg_group_norm(tp, x, c->arg, w, b, c->eps);
    }
}

/* inputs: x, then weight and bias when the case has them */
static tg_tensor *norm_fn(tg_tape *tp, tg_tensor *const *in, void *vctx)
{
    nctx c = *(const nctx *)vctx;
    tg_tensor *w = c.w ? in[1] : NULL, *b = c.b ? in[c.w ? 2 : 1] : NULL;
    /* an f32 gradcheck evaluates on f64 copies of the inputs: the running
     * statistics (evaluation mode: read only) follow x's dtype */
    const tg_dtype dt = tg_tensor_dtype(in[0]);
    if (c.rm && tg_tensor_dtype(c.rm) != dt) c.rm = tg_cast(tp, c.rm, dt);
    if (c.rv && tg_tensor_dtype(c.rv) != dt) c.rv = tg_cast(tp, c.rv, dt);
    return c.composed ? composed(tp, &c, in[0], w, b) : fused(tp, &c, in[0], w, b);
}

/* The shapes each case runs on. */
typedef struct ncase {
    const char *name;
    nctx c;
    int ndim;
    int64_t shape[4];
} ncase;

static const ncase k_cases[] = {
    {"layer_norm (4,5) naxes 1", {LN, 1, true, true, .eps = 1e-5}, 2, {4, 5}},
    {"layer_norm (2,3,4) naxes 1, no affine", {LN, 1, .eps = 1e-5}, 3, {2, 3, 4}},
    {"layer_norm (2,3,4) naxes 2", {LN, 2, true, true, .eps = 1e-5}, 3, {2, 3, 4}},
    {"layer_norm (2,3,4) naxes 2, weight only", {LN, 2, true, false, .eps = 1e-3}, 3, {2, 3, 4}},
    {"layer_norm (6) naxes 1, bias only", {LN, 1, false, true, .eps = 1e-5}, 1, {6}},
    {"layer_norm (2,2,3) naxes 3", {LN, 3, true, true, .eps = 0}, 3, {2, 2, 3}},
    {"batch_norm (5,3) training", {BN, 0, true, true, true, .eps = 1e-5}, 2, {5, 3}},
    {"batch_norm (2,3,2,2) training", {BN, 0, true, true, true, .eps = 1e-5}, 4, {2, 3, 2, 2}},
    {"batch_norm (3,2,4) training, no affine",
     {BN, 0, false, false, true, .eps = 1e-5},
     3,
     {3, 2, 4}},
    {"batch_norm (5,3) eval", {BN, 0, true, true, false, .eps = 1e-5}, 2, {5, 3}},
    {"batch_norm (2,3,2,2) eval, bias only",
     {BN, 0, false, true, false, .eps = 1e-5},
     4,
     {2, 3, 2, 2}},
    {"group_norm (2,4,3) groups 1", {GN, 1, true, true, .eps = 1e-5}, 3, {2, 4, 3}},
    {"group_norm (2,4,3) groups 2", {GN, 2, true, true, .eps = 1e-5}, 3, {2, 4, 3}},
    {"group_norm (2,4,3) groups 4 (= C)", {GN, 4, true, true, .eps = 1e-5}, 3, {2, 4, 3}},
    {"group_norm (2,6,2,2) groups 3", {GN, 3, true, false, .eps = 1e-5}, 4, {2, 6, 2, 2}},
    {"group_norm (3,6) groups 2, no affine", {GN, 2, .eps = 1e-5}, 2, {3, 6}},
};

/* The case's inputs (x, then weight and bias), requires_grad; its running
 * statistics (eval: positive variances) into c. */
static int make_inputs(const ncase *k, nctx *c, uint64_t seed, tg_dtype dt, tg_tensor **in)
{
    *c = k->c;
    int n = 0;
    in[n++] = tt_rand(dt, k->ndim, k->shape, seed, -1.5, 1.5);
    int pd = k->c.kind == LN ? k->c.arg : 1;
    const int64_t *ps = k->c.kind == LN ? k->shape + k->ndim - k->c.arg : k->shape + 1;
    if (c->w) in[n++] = tt_rand(dt, pd, ps, seed + 1, 0.5, 1.5);
    if (c->b) in[n++] = tt_rand(dt, pd, ps, seed + 2, -1, 1);
    for (int i = 0; i < n; i++) tg_tensor_set_requires_grad(in[i], true);
    if (c->kind == BN && !c->training) {
        c->rm = tt_rand(dt, 1, k->shape + 1, seed + 3, -0.5, 0.5);
        c->rv = tt_rand(dt, 1, k->shape + 1, seed + 4, 0.5, 2);
    }
    return n;
}

static void free_inputs(nctx *c, int n, tg_tensor **in)
{
    for (int i = 0; i < n; i++) tg_tensor_free(in[i]);
    tg_tensor_free(c->rm);
    tg_tensor_free(c->rv);
}

/* ---- fused against composed -------------------------------------------------- */

/* Value and gradient (for a random seed) of the fused op against the
 * composed one, the gradient by the direct rule (create_graph false) and by
 * the op-built rule (true). */
START_TEST(test_matches_composed)
{
    const ncase *k = &k_cases[_i];
    nctx c;
    tg_tensor *in[3];
    const int n = make_inputs(k, &c, 10 + (uint64_t)_i, TG_F64, in);
    tg_tape *tp = tg_tape_new(NULL);
    c.composed = false;
    tg_tensor *y = norm_fn(tp, in, &c);
    c.composed = true;
    tg_tensor *r = norm_fn(tp, in, &c);
    ck_assert_msg(y && r, "%s: %s", k->name, tg_tape_error(tp));
    tt_assert_close(k->name, y, r, 1e-12, 1e-12);
    tg_tensor *seed = tt_rand(TG_F64, k->ndim, k->shape, 99, -1, 1);
    for (int cg = 0; cg < 2; cg++) {
        tg_tensor *gy[3], *gr[3];
        ck_assert_int_eq(tg_vjp(tp, y, seed, n, in, gy, cg), TG_OK);
        ck_assert_int_eq(tg_vjp(tp, r, seed, n, in, gr, false), TG_OK);
        for (int i = 0; i < n; i++) {
            char what[160];
            snprintf(what, sizeof what, "%s: d/d input %d (%s rule)", k->name, i,
                     cg ? "op-built" : "direct");
            tt_assert_close(what, gy[i], gr[i], 1e-12, 1e-12);
        }
    }
    tg_tensor_free(seed);
    tg_tape_free(tp);
    free_inputs(&c, n, in);
}
END_TEST

START_TEST(test_gradcheck)
{
    const ncase *k = &k_cases[_i];
    nctx c;
    tg_tensor *in[3];
    const int n = make_inputs(k, &c, 20 + (uint64_t)_i, TG_F64, in);
    tt_gradcheck(k->name, norm_fn, &c, n, in);
    free_inputs(&c, n, in);
}
END_TEST

/* Second derivatives through the op-built rule (create_graph). */
START_TEST(test_gradgradcheck)
{
    const ncase *k = &k_cases[_i];
    nctx c;
    tg_tensor *in[3];
    const int n = make_inputs(k, &c, 30 + (uint64_t)_i, TG_F64, in);
    tg_compare_report rep[3];
    const tg_status st = tg_gradgradcheck(norm_fn, &c, n, in, NULL, rep);
    for (int i = 0; i < n; i++)
        if (rep[i].numel && !rep[i].ok) tg_compare_report_print(stderr, k->name, &rep[i]);
    ck_assert_msg(st == TG_OK, "%s: gradgradcheck: %s (%s)", k->name, tg_strerror(st),
                  tg_last_error());
    free_inputs(&c, n, in);
}
END_TEST

/* f32 against f64: values and gradients to f32 rounding, and an f32
 * gradcheck (against f64 differences). */
START_TEST(test_f32)
{
    const ncase *k = &k_cases[_i];
    nctx c32, c64;
    tg_tensor *i32[3], *i64[3];
    const int n = make_inputs(k, &c32, 40 + (uint64_t)_i, TG_F32, i32);
    make_inputs(k, &c64, 40 + (uint64_t)_i, TG_F64, i64);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y32 = norm_fn(tp, i32, &c32), *y64 = norm_fn(tp, i64, &c64);
    ck_assert_msg(y32 && y64, "%s: %s", k->name, tg_tape_error(tp));
    tg_tensor *y32w = tg_cast(tp, y32, TG_F64);
    tt_assert_close(k->name, y32w, y64, 1e-5, 1e-5);
    tg_tensor *g32[3], *g64[3];
    ck_assert_int_eq(tg_vjp(tp, tg_sum_all(tp, tg_square(tp, y32)), NULL, n, i32, g32, false),
                     TG_OK);
    ck_assert_int_eq(tg_vjp(tp, tg_sum_all(tp, tg_square(tp, y64)), NULL, n, i64, g64, false),
                     TG_OK);
    for (int i = 0; i < n; i++)
        tt_assert_close(k->name, tg_cast(tp, g32[i], TG_F64), g64[i], 1e-4, 1e-4);
    tg_tape_free(tp);
    tt_gradcheck(k->name, norm_fn, &c32, n, i32);
    free_inputs(&c32, n, i32);
    free_inputs(&c64, n, i64);
}
END_TEST

/* ---- closed forms ------------------------------------------------------------- */

/* Rows (1,2,3) and (2,4,6): mean 2 and 4, variance 2/3 and 8/3 (biased). */
START_TEST(test_layer_norm_closed_form)
{
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 2, 3, 2, 4, 6));
    tg_tensor *w = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(0.5, 0, -0.5));
    tg_tape *tp = tg_tape_new(NULL);
    const double eps = 1e-5, r0 = 1 / sqrt(2.0 / 3 + eps), r1 = 1 / sqrt(8.0 / 3 + eps);
    tt_assert_values("layer_norm", tg_layer_norm(tp, x, 1, NULL, NULL, eps),
                     TT_VALUES(-r0, 0, r0, -2 * r1, 0, 2 * r1), 6, 1e-15, 1e-15);
    tt_assert_values("layer_norm affine", tg_layer_norm(tp, x, 1, w, b, eps),
                     TT_VALUES(-r0 + 0.5, 0, 3 * r0 - 0.5, -2 * r1 + 0.5, 0, 6 * r1 - 0.5), 6,
                     1e-15, 1e-15);
    /* without eps the rows are the same standardised vector, -sqrt(3/2), 0, sqrt(3/2) */
    const double s = sqrt(1.5);
    /* over both axes: mean 3, variance 8/3 */
    const double v = 1 / sqrt(8.0 / 3);
    tt_assert_values("layer_norm naxes 2", tg_layer_norm(tp, x, 2, NULL, NULL, 0),
                     TT_VALUES(-2 * v, -v, 0, -v, v, 3 * v), 6, 1e-15, 1e-15);
    tt_assert_values("layer_norm eps 0 rows", tg_layer_norm(tp, x, 1, NULL, NULL, 0),
                     TT_VALUES(-s, 0, s, -s, 0, s), 6, 1e-15, 1e-15);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(b);
}
END_TEST

/* The gradient of sum(w * layer_norm(x)) is 0 wrt x for w constant along
 * the set (a normalised row sums to 0), and the gradient of bias is the
 * count of rows. */
START_TEST(test_layer_norm_gradient_identities)
{
    tg_tensor *x = tt_param(2, TT_SHAPE(3, 4), 5, -1, 1);
    tg_tensor *b = tt_param(1, TT_SHAPE(4), 6, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_all(tp, tg_layer_norm(tp, x, 1, NULL, b, 1e-5));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values("d/dx", tg_tensor_grad(x), TT_VALUES(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 12,
                     0, 1e-14);
    tt_assert_values("d/db", tg_tensor_grad(b), TT_VALUES(3, 3, 3, 3), 4, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(b);
}
END_TEST

/* Running averages against the closed form, over two training steps, then
 * evaluation mode with them. */
START_TEST(test_batch_norm_running)
{
    const int64_t N = 4, C = 3, S = 2;
    tg_tensor *x = tt_rand(TG_F64, 3, TT_SHAPE(N, C, S), 7, -2, 2);
    tg_tensor *rm = tt_from(TG_F64, 1, TT_SHAPE(C), TT_VALUES(0.1, -0.2, 0.3));
    tg_tensor *rv = tt_from(TG_F64, 1, TT_SHAPE(C), TT_VALUES(1, 0.5, 2));
    double m[3] = {0.1, -0.2, 0.3}, v[3] = {1, 0.5, 2};
    const double mom = 0.1;
    tg_tape *tp = tg_tape_new(NULL);
    for (int step = 0; step < 2; step++) {
        ck_assert_ptr_nonnull(tg_batch_norm(tp, x, NULL, NULL, rm, rv, true, mom, 1e-5));
        for (int c = 0; c < C; c++) {
            double s = 0, q = 0;
            for (int n = 0; n < N; n++)
                for (int i = 0; i < S; i++) s += tg_tensor_get_flat(x, (n * C + c) * S + i);
            const double mean = s / (double)(N * S);
            for (int n = 0; n < N; n++)
                for (int i = 0; i < S; i++) {
                    const double d = tg_tensor_get_flat(x, (n * C + c) * S + i) - mean;
                    q += d * d;
                }
            m[c] = (1 - mom) * m[c] + mom * mean;
            v[c] = (1 - mom) * v[c] + mom * q / (double)(N * S - 1); /* unbiased */
        }
        tt_assert_values("running_mean", rm, m, C, 1e-15, 1e-15);
        tt_assert_values("running_var", rv, v, C, 1e-15, 1e-15);
    }
    /* evaluation: (x - running_mean) / sqrt(running_var + eps), no update */
    tg_tensor *y = tg_batch_norm(tp, x, NULL, NULL, rm, rv, false, mom, 1e-5);
    ck_assert_ptr_nonnull(y);
    for (int64_t i = 0; i < N * C * S; i++) {
        const int64_t c = (i / S) % C;
        const double want = (tg_tensor_get_flat(x, i) - m[c]) / sqrt(v[c] + 1e-5);
        ck_assert_double_eq_tol(tg_tensor_get_flat(y, i), want, 1e-14);
    }
    tt_assert_values("running_mean after eval", rm, m, C, 0, 0);
    tt_assert_values("running_var after eval", rv, v, C, 0, 0);
    /* momentum 0 keeps them, 1 replaces them with the batch statistics */
    ck_assert_ptr_nonnull(tg_batch_norm(tp, x, NULL, NULL, rm, rv, true, 0, 1e-5));
    tt_assert_values("momentum 0", rm, m, C, 0, 0);
    /* one running statistic alone is updated alone */
    ck_assert_ptr_nonnull(tg_batch_norm(tp, x, NULL, NULL, NULL, rv, true, 1, 1e-5));
    tt_assert_values("running_mean untouched", rm, m, C, 0, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(rm);
    tg_tensor_free(rv);
}
END_TEST

/* The in-place update bumps the data version: a tape that recorded a
 * running statistic before reports the change at backward instead of
 * using the new values. */
START_TEST(test_batch_norm_update_is_a_write)
{
    tg_tensor *x = tt_rand(TG_F64, 2, TT_SHAPE(4, 2), 8, -1, 1);
    tg_tensor *rm = tt_param(1, TT_SHAPE(2), 9, -1, 1);
    tg_tape *tp = tg_tape_new(NULL), *other = tg_tape_new(NULL);
    tg_tensor *l = tg_sum_all(other, tg_square(other, rm));
    ck_assert_ptr_nonnull(tg_batch_norm(tp, x, NULL, NULL, rm, NULL, true, 0.1, 1e-5));
    ck_assert_int_eq(tg_backward(other, l), TG_ERR_TAPE);
    tg_tape_free(tp);
    tg_tape_free(other);
    tg_tensor_free(x);
    tg_tensor_free(rm);
}
END_TEST

/* ---- zero-size inputs --------------------------------------------------------- */
START_TEST(test_zero_size)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x0 = tt_param(2, TT_SHAPE(0, 4), 1, -1, 1);
    tg_tensor *w4 = tt_param(1, TT_SHAPE(4), 2, -1, 1);
    tg_tensor *y = tg_layer_norm(tp, x0, 1, w4, NULL, 1e-5);
    tt_assert_shape(y, 2, TT_SHAPE(0, 4));
    ck_assert_int_eq(tg_backward_ex(tp, tg_sum_all(tp, y), NULL), TG_OK);
    tt_assert_values("d/dw of an empty batch", tg_tensor_grad(w4), TT_VALUES(0, 0, 0, 0), 4, 0, 0);
    tg_tensor *x30 = tt_rand(TG_F64, 2, TT_SHAPE(3, 0), 3, -1, 1);
    tt_assert_shape(tg_layer_norm(tp, x30, 1, NULL, NULL, 1e-5), 2, TT_SHAPE(3, 0));
    tg_tensor *x040 = tt_rand(TG_F64, 3, TT_SHAPE(2, 0, 3), 4, -1, 1);
    tt_assert_shape(tg_group_norm(tp, x040, 1, NULL, NULL, 1e-5), 3, TT_SHAPE(2, 0, 3));
    tt_assert_shape(tg_batch_norm(tp, x040, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), 3,
                    TT_SHAPE(2, 0, 3));
    tg_tensor *rm = tt_rand(TG_F64, 1, TT_SHAPE(4), 5, -1, 1);
    tg_tensor *rv = tt_rand(TG_F64, 1, TT_SHAPE(4), 6, 1, 2);
    tt_assert_shape(tg_batch_norm(tp, x0, NULL, NULL, rm, rv, false, 0.1, 1e-5), 2, TT_SHAPE(0, 4));
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor *ts[] = {x0, w4, x30, x040, rm, rv};
    for (int i = 0; i < LEN(ts); i++) tg_tensor_free(ts[i]);
}
END_TEST

/* ---- errors ------------------------------------------------------------------- */

typedef struct efix {
    tg_tensor *x, *x1, *w3, *w4, *w43, *rm, *rv, *i64;
} efix;

/* An empty x whose batch axis is huge, (2^40, 1, 0): batch_norm (one
 * channel, so its statistics are small) gives an empty output and an empty
 * gradient at once; walking the 2^40 empty items was a hang (the graph
 * fuzzer found it). */
START_TEST(test_empty_huge_batch)
{
    tg_tensor *x = tg_tensor_new(TG_F64, 3, (const int64_t[]){(int64_t)1 << 40, 1, 0});
    tg_tensor *rm = tg_tensor_zeros(TG_F64, 1, (const int64_t[]){1});
    tg_tensor *rv = tg_tensor_ones(TG_F64, 1, (const int64_t[]){1});
    ck_assert(x && rm && rv);
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_batch_norm(tp, x, NULL, NULL, rm, rv, false, 0.1, 1e-5);
    ck_assert_msg(y != NULL, "%s", tg_tape_error(tp));
    ck_assert_int_eq(tg_tensor_numel(y), 0);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_square(tp, y))), TG_OK);
    ck_assert_int_eq(tg_tensor_numel(tg_tensor_grad(x)), 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(rm);
    tg_tensor_free(rv);
}
END_TEST

START_TEST(test_errors)
{
    efix f = {
        .x = tt_rand(TG_F64, 3, TT_SHAPE(2, 4, 3), 1, -1, 1),
        .x1 = tt_rand(TG_F64, 2, TT_SHAPE(1, 4), 2, -1, 1),
        .w3 = tt_rand(TG_F64, 1, TT_SHAPE(3), 3, -1, 1),
        .w4 = tt_rand(TG_F64, 1, TT_SHAPE(4), 4, -1, 1),
        .w43 = tt_rand(TG_F64, 2, TT_SHAPE(4, 3), 5, -1, 1),
        .rm = tt_rand(TG_F64, 1, TT_SHAPE(4), 6, -1, 1),
        .rv = tt_rand(TG_F64, 1, TT_SHAPE(4), 7, 1, 2),
        .i64 = tg_tensor_zeros(TG_I64, 1, TT_SHAPE(4)),
    };
    /* layer_norm */
    EXPECT_ERR(tg_layer_norm(tp, f.x, 0, NULL, NULL, 1e-5), TG_ERR_AXIS,
               "layer_norm: naxes 0 must be between 1 and the rank 3 of input (2,4,3)");
    EXPECT_ERR(tg_layer_norm(tp, f.x, 4, NULL, NULL, 1e-5), TG_ERR_AXIS, "naxes 4");
    EXPECT_ERR(tg_layer_norm(tp, f.x, 1, f.w4, NULL, 1e-5), TG_ERR_SHAPE,
               "layer_norm: weight (4) must have the shape (3), the normalised extents of input "
               "(2,4,3)");
    EXPECT_ERR(tg_layer_norm(tp, f.x, 2, f.w43, f.w3, 1e-5), TG_ERR_SHAPE,
               "layer_norm: bias (3) must have the shape (4,3)");
    EXPECT_ERR(tg_layer_norm(tp, f.x, 1, NULL, NULL, -1e-5), TG_ERR_ARG,
               "layer_norm: eps -1e-05 must be finite and >= 0");
    EXPECT_ERR(tg_layer_norm(tp, f.x, 1, NULL, NULL, NAN), TG_ERR_ARG, "eps nan");
    EXPECT_ERR(tg_layer_norm(tp, NULL, 1, NULL, NULL, 1e-5), TG_ERR_NULL,
               "layer_norm: input 0 is NULL");
    /* group_norm */
    EXPECT_ERR(tg_group_norm(tp, f.x, 3, NULL, NULL, 1e-5), TG_ERR_ARG,
               "group_norm: groups 3 must be >= 1 and divide the 4 channels of input (2,4,3)");
    EXPECT_ERR(tg_group_norm(tp, f.x, 0, NULL, NULL, 1e-5), TG_ERR_ARG, "groups 0");
    EXPECT_ERR(tg_group_norm(tp, f.w4, 1, NULL, NULL, 1e-5), TG_ERR_SHAPE,
               "group_norm: input (4) must have at least 2 axes (N,C,...)");
    EXPECT_ERR(tg_group_norm(tp, f.x, 2, f.w3, NULL, 1e-5), TG_ERR_SHAPE,
               "group_norm: weight (3) must have the shape (4), one per channel of input (2,4,3)");
    /* batch_norm */
    EXPECT_ERR(tg_batch_norm(tp, f.x, NULL, NULL, NULL, f.rv, false, 0.1, 1e-5), TG_ERR_NULL,
               "batch_norm: running_mean is NULL (evaluation mode normalises with the running "
               "statistics)");
    EXPECT_ERR(tg_batch_norm(tp, f.x, NULL, NULL, f.rm, NULL, false, 0.1, 1e-5), TG_ERR_NULL,
               "batch_norm: running_var is NULL");
    EXPECT_ERR(tg_batch_norm(tp, f.x1, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), TG_ERR_SHAPE,
               "batch_norm: input (1,4) has 1 value per channel: training mode needs more than 1");
    /* an empty batch has no statistics either */
    EXPECT_ERR(tg_batch_norm(tp, tg_tape_alloc(tp, TG_F64, 3, TT_SHAPE(0, 4, 3)), NULL, NULL, NULL,
                             NULL, true, 0.1, 1e-5),
               TG_ERR_SHAPE, "batch_norm: input (0,4,3) has 0 values per channel");
    EXPECT_ERR(tg_batch_norm(tp, f.x, NULL, f.w3, NULL, NULL, true, 0.1, 1e-5), TG_ERR_SHAPE,
               "batch_norm: bias (3) must have the shape (4), one per channel");
    EXPECT_ERR(tg_batch_norm(tp, f.x, NULL, NULL, f.w3, NULL, true, 0.1, 1e-5), TG_ERR_SHAPE,
               "batch_norm: running_mean (3) must have the shape (4)");
    EXPECT_ERR(tg_batch_norm(tp, f.x, NULL, NULL, f.rm, f.rm, true, 0.1, 1e-5), TG_ERR_ARG,
               "batch_norm: running_var is also running_mean: training mode updates the running "
               "statistics in place, so each must be a tensor of its own");
    EXPECT_ERR(tg_batch_norm(tp, f.x, f.rm, NULL, f.rm, NULL, true, 0.1, 1e-5), TG_ERR_ARG,
               "batch_norm: running_mean is also weight");
    EXPECT_ERR(tg_batch_norm(tp, f.x, NULL, NULL, f.rm, f.rv, true, 1.5, 1e-5), TG_ERR_ARG,
               "batch_norm: momentum 1.5 must be in [0, 1]");
    EXPECT_ERR(tg_batch_norm(tp, f.x, NULL, NULL, f.i64, NULL, true, 0.1, 1e-5), TG_ERR_DTYPE,
               "batch_norm: dtypes differ");
    EXPECT_ERR(tg_batch_norm(tp, f.x, NULL, NULL, tg_tape_alloc(tp, TG_F64, 1, TT_SHAPE(4)), NULL,
                             true, 0.1, 1e-5),
               TG_ERR_ARG,
               "batch_norm: running_mean f64[4] is a tensor of the tape: training mode updates it "
               "in place, so it must be a user tensor");
    {
        tg_tape *other = tg_tape_new(NULL);
        EXPECT_ERR(tg_batch_norm(tp, f.x, NULL, NULL, NULL, tg_exp(other, f.rv), false, 0.1, 1e-5),
                   TG_ERR_NULL, "running_mean is NULL");
        EXPECT_ERR(tg_batch_norm(tp, f.x, NULL, NULL, f.rm, tg_exp(other, f.rv), false, 0.1, 1e-5),
                   TG_ERR_TAPE,
                   "batch_norm: running_var is not a live tensor of this tape (stale, of another "
                   "tape, or freed)");
        tg_tape_free(other);
    }
    /* the running statistics are read only in evaluation mode: a tape
     * tensor is fine there */
    {
        tg_tape *tp = tg_tape_new(NULL);
        ck_assert_ptr_nonnull(
            tg_batch_norm(tp, f.x, NULL, NULL, tg_exp(tp, f.rm), f.rv, false, 0.1, 1e-5));
        tg_tape_free(tp);
    }
    tg_tensor *ts[] = {f.x, f.x1, f.w3, f.w4, f.w43, f.rm, f.rv, f.i64};
    for (int i = 0; i < LEN(ts); i++) tg_tensor_free(ts[i]);
}
END_TEST

/* Nothing the user owns changes when a training call fails: every check
 * (and every allocation) comes before the update. */
START_TEST(test_failing_call_keeps_running_stats)
{
    tg_tensor *x = tt_rand(TG_F64, 2, TT_SHAPE(8, 4), 1, -1, 1);
    tg_tensor *x1 = tt_rand(TG_F64, 2, TT_SHAPE(1, 4), 2, -1, 1);
    tg_tensor *w3 = tt_rand(TG_F64, 1, TT_SHAPE(3), 3, -1, 1);
    tg_tensor *rm = tt_rand(TG_F64, 1, TT_SHAPE(4), 4, -1, 1);
    tg_tensor *rv = tt_rand(TG_F64, 1, TT_SHAPE(4), 5, 1, 2);
    tg_tensor *rm0 = tg_tensor_clone(rm), *rv0 = tg_tensor_clone(rv);
    for (int k = 0; k < 6; k++) {
        tg_tape_options o = {.arena_limit = k == 5 ? 1024 : 0};
        tg_tape *tp = tg_tape_new(&o);
        tg_tensor *y = NULL;
        switch (k) {
        case 0:
            y = tg_batch_norm(tp, x1, NULL, NULL, rm, rv, true, 0.1, 1e-5);
            break;
        case 1:
            y = tg_batch_norm(tp, x, w3, NULL, rm, rv, true, 0.1, 1e-5);
            break;
        case 2:
            y = tg_batch_norm(tp, x, NULL, NULL, rm, rv, true, 0.1, -1);
            break;
        case 3:
            y = tg_batch_norm(tp, x, NULL, NULL, rm, rm, true, 0.1, 1e-5);
            break;
        case 4: /* a tape already in error */
            ck_assert_ptr_null(tg_matmul(tp, x, x));
            y = tg_batch_norm(tp, x, NULL, NULL, rm, rv, true, 0.1, 1e-5);
            break;
        default: { /* out of arena memory: the output, the statistics */
            tg_tensor *big = tt_rand(TG_F64, 2, TT_SHAPE(64, 4), 6, -1, 1);
            y = tg_batch_norm(tp, big, NULL, NULL, rm, rv, true, 0.1, 1e-5);
            ck_assert_int_eq(tg_tape_status(tp), TG_ERR_NOMEM);
            tg_tensor_free(big);
        }
        }
        ck_assert_msg(y == NULL, "case %d did not fail", k);
        ck_assert_int_ne(tg_tape_status(tp), TG_OK);
        tt_assert_close("running_mean", rm, rm0, 0, 0);
        tt_assert_close("running_var", rv, rv0, 0, 0);
        tg_tape_free(tp);
    }
    tg_tensor *ts[] = {x, x1, w3, rm, rv, rm0, rv0};
    for (int i = 0; i < LEN(ts); i++) tg_tensor_free(ts[i]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("norm");
    TCase *t = tcase_create("composed");
    tcase_add_loop_test(t, test_matches_composed, 0, LEN(k_cases));
    tcase_add_loop_test(t, test_gradcheck, 0, LEN(k_cases));
    tcase_add_loop_test(t, test_gradgradcheck, 0, LEN(k_cases));
    tcase_add_loop_test(t, test_f32, 0, LEN(k_cases));
    suite_add_tcase(s, t);
    TCase *c = tcase_create("closed_forms");
    tcase_add_test(c, test_layer_norm_closed_form);
    tcase_add_test(c, test_layer_norm_gradient_identities);
    tcase_add_test(c, test_batch_norm_running);
    tcase_add_test(c, test_batch_norm_update_is_a_write);
    tcase_add_test(c, test_zero_size);
    suite_add_tcase(s, c);
    TCase *e = tcase_create("errors");
    tcase_add_test(e, test_empty_huge_batch);
    tcase_add_test(e, test_errors);
    tcase_add_test(e, test_failing_call_keeps_running_stats);
    suite_add_tcase(s, e);
    return s;
}

int main(void)
{
    return tt_run(suite());
}
