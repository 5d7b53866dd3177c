/* Elementwise binary ops with broadcasting (add, sub, mul, div, pow,
 * maximum, minimum) and their scalar variants: forward values against hand
 * values and against an independent plain-C broadcasting reference,
 * finite-difference gradchecks in f64 over many shape pairs, f32 against
 * f64, ties of maximum/minimum, inputs used twice, and every error path. */
#include "common.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- the ops under test ------------------------------------------------------- */
typedef tg_tensor *(*bin_fn)(tg_tape *, tg_tensor *, tg_tensor *);

typedef struct bin_case {
    const char *name;              /* the op's name as it appears in errors */
    bin_fn f;                      /* the op */
    double (*ref)(double, double); /* the same function in plain C */
    double alo, ahi, blo, bhi;     /* input ranges, away from singularities */
} bin_case;

static double r_add(double a, double b)
{
    return a + b;
}
static double r_sub(double a, double b)
{
    return a - b;
}
static double r_mul(double a, double b)
{
    return a * b;
}
static double r_div(double a, double b)
{
    return a / b;
}
static double r_max(double a, double b)
{
    return a >= b ? a : b;
}
static double r_min(double a, double b)
{
    return a <= b ? a : b;
}

/* div keeps |b| >= 0.5 (both signs tested); pow keeps a >= 0.5 because
 * d(a^b)/db = a^b ln a needs a > 0 and finite differences need room. */
static const bin_case k_bins[] = {
    {"add", tg_add, r_add, -2, 2, -2, 2},         {"sub", tg_sub, r_sub, -2, 2, -2, 2},
    {"mul", tg_mul, r_mul, -2, 2, -2, 2},         {"div", tg_div, r_div, -2, 2, 0.5, 2},
    {"div", tg_div, r_div, -2, 2, -2, -0.5},      {"pow", tg_pow, pow, 0.5, 2, -2, 2},
    {"maximum", tg_maximum, r_max, -2, 2, -2, 2}, {"minimum", tg_minimum, r_min, -2, 2, -2, 2},
};
#define N_BINS LEN(k_bins)

static tg_tensor *call_bin(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const bin_case *c = ctx;
    return c->f(tp, in[0], in[1]);
}

/* Shape pairs: same shape, every way of broadcasting (trailing, leading,
 * size-1 axes on either or both sides, 0-d scalars) and 1-d to 4-d. */
typedef struct shape_pair {
    int na;
    int64_t sa[4];
    int nb;
    int64_t sb[4];
} shape_pair;

static const shape_pair k_pairs[] = {
    {1, {7}, 1, {7}},
    {2, {2, 3}, 2, {2, 3}},
    {3, {2, 3, 4}, 3, {2, 3, 4}},
    {2, {2, 3}, 1, {3}},
    {1, {3}, 2, {2, 3}},
    {2, {2, 3}, 2, {2, 1}},
    {2, {2, 1}, 2, {2, 3}},
    {3, {4, 1, 3}, 2, {2, 1}},
    {0, {0}, 2, {2, 3}},
    {2, {2, 3}, 0, {0}},
    {0, {0}, 0, {0}},
    {1, {1}, 1, {5}},
    {1, {5}, 1, {1}},
    {2, {3, 1}, 2, {1, 4}},
    {4, {2, 1, 3, 1}, 4, {1, 4, 1, 2}},
    {4, {2, 3, 2, 2}, 1, {2}},
    {4, {1, 1, 1, 1}, 2, {2, 3}},
};
#define N_PAIRS LEN(k_pairs)

static const char *pair_str(const shape_pair *p, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < p->na; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)p->sa[i]);
    k += (size_t)snprintf(buf + k, n - k, ") and (");
    for (int i = 0; i < p->nb; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)p->sb[i]);
    snprintf(buf + k, n - k, ")");
    return buf;
}

/* The broadcast of a and b computed here, independently of the library:
 * out[idx] = f(a[idx mod a's extents], b[idx mod b's extents]) walked with
 * an explicit multi-index. */
static tg_tensor *ref_binary(double (*f)(double, double), const tg_tensor *a, const tg_tensor *b)
{
    int na = tg_tensor_ndim(a), nb = tg_tensor_ndim(b);
    int nd = na > nb ? na : nb;
    int64_t ea[4], eb[4], shape[4];
    for (int d = 0; d < nd; d++) {
        ea[d] = d - (nd - na) >= 0 ? tg_tensor_shape(a)[d - (nd - na)] : 1;
        eb[d] = d - (nd - nb) >= 0 ? tg_tensor_shape(b)[d - (nd - nb)] : 1;
        ck_assert(ea[d] == eb[d] || ea[d] == 1 || eb[d] == 1);
        shape[d] = ea[d] > eb[d] ? ea[d] : eb[d];
    }
    tg_tensor *out = tg_tensor_new(TG_F64, nd, shape);
    ck_assert_ptr_nonnull(out);
    int64_t n = tg_tensor_numel(out);
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, ia = 0, ib = 0, sta = 1, stb = 1;
        for (int d = nd - 1; d >= 0; d--) {
            int64_t id = rem % shape[d];
            rem /= shape[d];
            ia += (ea[d] == 1 ? 0 : id) * sta;
            ib += (eb[d] == 1 ? 0 : id) * stb;
            sta *= ea[d];
            stb *= eb[d];
        }
        tg_tensor_set_flat(out, i, f(tg_tensor_get_flat(a, ia), tg_tensor_get_flat(b, ib)));
    }
    return out;
}

static double r_gt(double a, double b)
{
    return a > b;
}
/* Does a win (a > b) at some broadcast position and b win at another? */
static bool both_win(const tg_tensor *a, const tg_tensor *b)
{
    tg_tensor *w = ref_binary(r_gt, a, b);
    int64_t n = tg_tensor_numel(w), wins = 0;
    for (int64_t i = 0; i < n; i++) wins += tg_tensor_get_flat(w, i) != 0;
    tg_tensor_free(w);
    return wins > 0 && wins < n;
}

/* ---- forward: hand values ------------------------------------------------------- */
START_TEST(test_binary_hand_values)
{
    tg_tape *tp = tg_tape_new(NULL);
    /* (2,3) with (3): b is repeated along the rows */
    tg_tensor *a = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 2, 3, 4, 5, 6));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(0.5, -1, 2));
    tt_assert_values("add", tg_add(tp, a, b), TT_VALUES(1.5, 1, 5, 4.5, 4, 8), 6, 0, 0);
    tt_assert_values("sub", tg_sub(tp, a, b), TT_VALUES(0.5, 3, 1, 3.5, 6, 4), 6, 0, 0);
    tt_assert_values("mul", tg_mul(tp, a, b), TT_VALUES(0.5, -2, 6, 2, -5, 12), 6, 0, 0);
    tt_assert_values("div", tg_div(tp, a, b), TT_VALUES(2, -2, 1.5, 8, -5, 3), 6, 0, 0);
    tt_assert_values("pow", tg_pow(tp, a, b), TT_VALUES(1, 0.5, 9, 2, 0.2, 36), 6, 1e-15, 0);
    /* sub is not symmetric: b - a broadcasts the other way round */
    tt_assert_values("sub reversed", tg_sub(tp, b, a), TT_VALUES(-0.5, -3, -1, -3.5, -6, -4), 6, 0,
                     0);
    /* (2,3) with (2,1): the column is repeated along each row */
    tg_tensor *c = tt_from(TG_F64, 2, TT_SHAPE(2, 1), TT_VALUES(3.5, -4));
    tt_assert_values("maximum", tg_maximum(tp, a, c), TT_VALUES(3.5, 3.5, 3.5, 4, 5, 6), 6, 0, 0);
    tt_assert_values("minimum", tg_minimum(tp, a, c), TT_VALUES(1, 2, 3, -4, -4, -4), 6, 0, 0);
    tt_assert_values("div (2,1)", tg_div(tp, a, c),
                     TT_VALUES(1 / 3.5, 2 / 3.5, 3 / 3.5, -1, -1.25, -1.5), 6, 1e-15, 0);
    /* (2,1) with (3): an outer operation, output (2,3) */
    tg_tensor *outer = tg_mul(tp, c, b);
    ck_assert_int_eq(tg_tensor_ndim(outer), 2);
    ck_assert_int_eq(tg_tensor_dim(outer, 0), 2);
    ck_assert_int_eq(tg_tensor_dim(outer, 1), 3);
    tt_assert_values("outer", outer, TT_VALUES(1.75, -3.5, 7, -2, 4, -8), 6, 0, 0);
    /* a 0-d scalar broadcasts to anything; the result takes the other shape */
    tg_tensor *s = tt_from(TG_F64, 0, NULL, TT_VALUES(2));
    tg_tensor *ps = tg_pow(tp, s, b);
    ck_assert_int_eq(tg_tensor_ndim(ps), 1);
    tt_assert_values("2 ^ b", ps, TT_VALUES(1.4142135623730950488, 0.5, 4), 3, 1e-15, 0);
    tg_tensor *ss = tg_sub(tp, s, s);
    ck_assert_int_eq(tg_tensor_ndim(ss), 0);
    tt_assert_values("0-d - 0-d", ss, TT_VALUES(0), 1, 0, 0);
    /* the inputs are left untouched */
    tt_assert_values("a unchanged", a, TT_VALUES(1, 2, 3, 4, 5, 6), 6, 0, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(c);
    tg_tensor_free(s);
}
END_TEST

/* (4,1,3) with (2,1): both sides are stretched; output (4,2,3). */
START_TEST(test_broadcast_3d_hand_values)
{
    tg_tape *tp = tg_tape_new(NULL);
    double av[12];
    for (int i = 0; i < 12; i++) av[i] = i; /* a[i,0,k] = 3 i + k */
    tg_tensor *a = tt_from(TG_F64, 3, TT_SHAPE(4, 1, 3), av);
    tg_tensor *b = tt_from(TG_F64, 2, TT_SHAPE(2, 1), TT_VALUES(100, 200));
    tg_tensor *y = tg_add(tp, a, b);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_tensor_ndim(y), 3);
    ck_assert_int_eq(tg_tensor_dim(y, 0), 4);
    ck_assert_int_eq(tg_tensor_dim(y, 1), 2);
    ck_assert_int_eq(tg_tensor_dim(y, 2), 3);
    double expect[24];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3; k++) expect[(i * 2 + j) * 3 + k] = 3 * i + k + 100 * (j + 1);
    tt_assert_values("(4,1,3) + (2,1)", y, expect, 24, 0, 0);
    /* the gradient of sum(a + b) counts how often each element was used */
    tg_tensor_set_requires_grad(a, true);
    tg_tensor_set_requires_grad(b, true);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_OK);
    double twos[12], twelves[2] = {12, 12};
    for (int i = 0; i < 12; i++) twos[i] = 2;
    tt_assert_values("d/da", tg_tensor_grad(a), twos, 12, 0, 0);
    tt_assert_values("d/db", tg_tensor_grad(b), twelves, 2, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* ---- forward against the plain-C reference, f64 and f32 ------------------------ */
START_TEST(test_binary_reference)
{
    const bin_case *c = &k_bins[_i];
    tg_tape *tp = tg_tape_new(NULL);
    for (int p = 0; p < N_PAIRS; p++) {
        const shape_pair *sp = &k_pairs[p];
        char what[160], ps[80];
        snprintf(what, sizeof what, "%s %s", c->name, pair_str(sp, ps, sizeof ps));
        /* f32 inputs, widened exactly to f64: both dtypes see the same numbers */
        tg_tensor *a32 = tt_rand(TG_F32, sp->na, sp->sa, 100 + p, c->alo, c->ahi);
        tg_tensor *b32 = tt_rand(TG_F32, sp->nb, sp->sb, 200 + p, c->blo, c->bhi);
        tg_tensor *a64 = tg_tensor_cast_new(a32, TG_F64);
        tg_tensor *b64 = tg_tensor_cast_new(b32, TG_F64);
        tg_tensor *ref = ref_binary(c->ref, a64, b64);
        tg_tensor *y64 = c->f(tp, a64, b64);
        tg_tensor *y32 = c->f(tp, a32, b32);
        ck_assert_msg(y64 && y32, "%s: %s", what, tg_tape_error(tp));
        ck_assert_int_eq(tg_tensor_dtype(y64), TG_F64);
        ck_assert_int_eq(tg_tensor_dtype(y32), TG_F32);
        /* f64: the same IEEE operations as the reference */
        tt_assert_close(what, y64, ref, 1e-15, 0);
        /* f32: each output is one rounded f32 operation on exact inputs,
         * so it is within a few f32 ulps of the f64 result */
        tt_assert_close(what, y32, y64, 4 * FLT_EPSILON, 0);
        tg_tensor_free(a32);
        tg_tensor_free(b32);
        tg_tensor_free(a64);
        tg_tensor_free(b64);
        tg_tensor_free(ref);
        tg_tape_reset(tp);
    }
    tg_tape_free(tp);
}
END_TEST

/* ---- gradients by finite differences ----------------------------------------- */
static bool one_output(const tg_tensor *a, const tg_tensor *b)
{
    return tg_tensor_numel(a) == 1 && tg_tensor_numel(b) == 1;
}

/* maximum/minimum of two one-element tensors: the loser's gradient is
 * exactly zero, so its check is vacuous by nature; require the winner's to
 * be a real check and the loser's to agree with the numeric zero. */
static void maxmin_single_gradcheck(const char *what, const bin_case *c, tg_tensor *const *in)
{
    tg_compare_report rep[2];
    tg_status st = tg_gradcheck(call_bin, (void *)c, 2, in, NULL, rep);
    ck_assert_msg(st == TG_OK, "%s: %s", what, tg_last_error());
    double a = tg_tensor_get_flat(in[0], 0), b = tg_tensor_get_flat(in[1], 0);
    int winner = (c->ref == r_max) == (a > b) ? 0 : 1;
    ck_assert_msg(rep[0].ok && rep[1].ok, "%s: gradients differ", what);
    ck_assert_msg(!rep[winner].vacuous, "%s: the winner's check is vacuous", what);
    ck_assert_msg(rep[1 - winner].vacuous && rep[1 - winner].max_abs == 0,
                  "%s: the loser's gradient is not zero", what);
}

START_TEST(test_binary_gradcheck)
{
    const bin_case *c = &k_bins[_i];
    for (int p = 0; p < N_PAIRS; p++) {
        const shape_pair *sp = &k_pairs[p];
        char what[160], ps[80];
        snprintf(what, sizeof what, "%s %s", c->name, pair_str(sp, ps, sizeof ps));
        tg_tensor *in[2] = {tt_param(sp->na, sp->sa, 300 + p, c->alo, c->ahi),
                            tt_param(sp->nb, sp->sb, 400 + p, c->blo, c->bhi)};
        /* maximum/minimum: a draw where one side wins everywhere would make
         * the other side's check vacuous, so draw again (deterministically)
         * until both sides win somewhere.  With a one-element output one
         * side must lose: see maxmin_single_gradcheck. */
        const bool maxmin = c->ref == r_max || c->ref == r_min;
        const bool single = maxmin && one_output(in[0], in[1]);
        for (uint64_t k = 1; maxmin && !single && !both_win(in[0], in[1]); k++) {
            ck_assert_msg(k < 100, "%s: no draw where both sides win", what);
            tg_tensor_free(in[0]);
            tg_tensor_free(in[1]);
            in[0] = tt_param(sp->na, sp->sa, 300 + p + 1000 * k, c->alo, c->ahi);
            in[1] = tt_param(sp->nb, sp->sb, 400 + p + 1000 * k, c->blo, c->bhi);
        }
        if (single) {
            maxmin_single_gradcheck(what, c, in);
        } else {
            tt_gradcheck(what, call_bin, (void *)c, 2, in);
            /* one input at a time: the other is a constant */
            tg_tensor_set_requires_grad(in[1], false);
            tt_gradcheck(what, call_bin, (void *)c, 2, in);
            tg_tensor_set_requires_grad(in[0], false);
            tg_tensor_set_requires_grad(in[1], true);
            tt_gradcheck(what, call_bin, (void *)c, 2, in);
        }
        tg_tensor_free(in[0]);
        tg_tensor_free(in[1]);
    }
}
END_TEST

/* Backward in f32: gradients come back as f32, summed over the broadcast
 * axes, and agree with the f64 gradients to f32 precision (atol covers
 * cancellation in the broadcast sums, which have terms of both signs). */
START_TEST(test_binary_f32_gradient)
{
    const bin_case *c = &k_bins[_i];
    const shape_pair pairs[] = {{2, {2, 3}, 2, {2, 3}},
                                {2, {2, 3}, 1, {3}},
                                {3, {4, 1, 3}, 2, {2, 1}},
                                {0, {0}, 2, {2, 3}}};
    tg_tape *tp = tg_tape_new(NULL);
    for (int p = 0; p < LEN(pairs); p++) {
        const shape_pair *sp = &pairs[p];
        char what[160], ps[80];
        snprintf(what, sizeof what, "%s %s (f32 gradient)", c->name, pair_str(sp, ps, sizeof ps));
        tg_tensor *a32 = tt_rand(TG_F32, sp->na, sp->sa, 700 + p, c->alo, c->ahi);
        tg_tensor *b32 = tt_rand(TG_F32, sp->nb, sp->sb, 800 + p, c->blo, c->bhi);
        tg_tensor *a64 = tg_tensor_cast_new(a32, TG_F64);
        tg_tensor *b64 = tg_tensor_cast_new(b32, TG_F64);
        tg_tensor *all[4] = {a32, b32, a64, b64};
        for (int k = 0; k < 4; k++) tg_tensor_set_requires_grad(all[k], true);
        /* one tape each: tg_backward writes (zero) gradients into every
         * parameter recorded on its tape, also those the loss ignores */
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, c->f(tp, a32, b32))), TG_OK);
        tg_tape_reset(tp);
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, c->f(tp, a64, b64))), TG_OK);
        ck_assert_int_eq(tg_tensor_dtype(tg_tensor_grad(a32)), TG_F32);
        ck_assert_int_eq(tg_tensor_dtype(tg_tensor_grad(b32)), TG_F32);
        tt_assert_close(what, tg_tensor_grad(a32), tg_tensor_grad(a64), 1e-5, 1e-6);
        tt_assert_close(what, tg_tensor_grad(b32), tg_tensor_grad(b64), 1e-5, 1e-6);
        for (int k = 0; k < 4; k++) tg_tensor_free(all[k]);
        tg_tape_reset(tp);
    }
    tg_tape_free(tp);
}
END_TEST

/* The analytic gradients of sum(f(a, b)) for a same-shape pair, against the
 * textbook derivatives (a second, non-numeric check of each rule). */
START_TEST(test_binary_gradient_formulas)
{
    const double av[] = {0.7, 1.3, 1.9, 0.6}, bv[] = {-1.5, 0.5, 1.2, 2.0};
    tg_tensor *a = tt_from(TG_F64, 1, TT_SHAPE(4), av);
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(4), bv);
    tg_tensor_set_requires_grad(a, true);
    tg_tensor_set_requires_grad(b, true);
    tg_tape *tp = tg_tape_new(NULL);
    struct {
        bin_fn f;
        const char *name;
    } ops[] = {{tg_add, "add"}, {tg_sub, "sub"},         {tg_mul, "mul"},        {tg_div, "div"},
               {tg_pow, "pow"}, {tg_maximum, "maximum"}, {tg_minimum, "minimum"}};
    for (int k = 0; k < LEN(ops); k++) {
        double ga[4], gb[4];
        for (int i = 0; i < 4; i++) {
            double x = av[i], y = bv[i];
            switch (k) {
            case 0:
                ga[i] = 1, gb[i] = 1;
                break;
            case 1:
                ga[i] = 1, gb[i] = -1;
                break;
            case 2:
                ga[i] = y, gb[i] = x;
                break;
            case 3:
                ga[i] = 1 / y, gb[i] = -x / (y * y);
                break;
            case 4:
                ga[i] = y * pow(x, y - 1), gb[i] = pow(x, y) * log(x);
                break;
            case 5:
                ga[i] = x > y, gb[i] = y > x;
                break;
            default:
                ga[i] = x < y, gb[i] = y < x;
                break;
            }
        }
        tg_tape_reset(tp);
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, ops[k].f(tp, a, b))), TG_OK);
        tt_assert_values(ops[k].name, tg_tensor_grad(a), ga, 4, 1e-14, 0);
        tt_assert_values(ops[k].name, tg_tensor_grad(b), gb, 4, 1e-14, 0);
    }
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* ---- maximum / minimum at ties ------------------------------------------------ */
/* At a tie the gradient is split half and half (the mean of the two
 * one-sided derivatives); finite differences cannot see that, so the
 * analytic values are checked directly. */
START_TEST(test_maxmin_ties)
{
    tg_tensor *a = tt_from(TG_F64, 1, TT_SHAPE(4), TT_VALUES(1, 2, 3, -1));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(4), TT_VALUES(1, 0, 3, 5));
    tg_tensor_set_requires_grad(a, true);
    tg_tensor_set_requires_grad(b, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *mx = tg_maximum(tp, a, b);
    tt_assert_values("max", mx, TT_VALUES(1, 2, 3, 5), 4, 0, 0);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, mx)), TG_OK);
    tt_assert_values("dmax/da", tg_tensor_grad(a), TT_VALUES(0.5, 1, 0.5, 0), 4, 0, 0);
    tt_assert_values("dmax/db", tg_tensor_grad(b), TT_VALUES(0.5, 0, 0.5, 1), 4, 0, 0);
    tg_tape_reset(tp);
    tg_tensor *mn = tg_minimum(tp, a, b);
    tt_assert_values("min", mn, TT_VALUES(1, 0, 3, -1), 4, 0, 0);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, mn)), TG_OK);
    tt_assert_values("dmin/da", tg_tensor_grad(a), TT_VALUES(0.5, 0, 0.5, 1), 4, 0, 0);
    tt_assert_values("dmin/db", tg_tensor_grad(b), TT_VALUES(0.5, 1, 0.5, 0), 4, 0, 0);

    /* a broadcast 0-d b tied with two of a's elements: its gradient sums
     * the halves (0.5 + 0.5) and the wins (1) */
    tg_tensor *s = tt_from(TG_F64, 0, NULL, TT_VALUES(2));
    tg_tensor *c = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(2, 1, 2, 3));
    tg_tensor_set_requires_grad(s, true);
    tg_tensor_set_requires_grad(c, true);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_maximum(tp, c, s))), TG_OK);
    tt_assert_values("dmax/dc", tg_tensor_grad(c), TT_VALUES(0.5, 0, 0.5, 1), 4, 0, 0);
    tt_assert_values("dmax/ds", tg_tensor_grad(s), TT_VALUES(2), 1, 0, 0);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_minimum(tp, s, c))), TG_OK);
    tt_assert_values("dmin/ds", tg_tensor_grad(s), TT_VALUES(2), 1, 0, 0);
    tt_assert_values("dmin/dc", tg_tensor_grad(c), TT_VALUES(0.5, 1, 0.5, 0), 4, 0, 0);

    /* maximum(x, x): both halves land on x, so d/dx = 1 as for the identity */
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_maximum(tp, a, a))), TG_OK);
    tt_assert_values("dmax(a,a)/da", tg_tensor_grad(a), TT_VALUES(1, 1, 1, 1), 4, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(s);
    tg_tensor_free(c);
}
END_TEST

/* ---- the same input used twice ------------------------------------------------- */
START_TEST(test_same_input_twice)
{
    const double xv[] = {-1.5, 0.25, 2.0, 3.0};
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(4), xv);
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    /* d sum(x * x) = 2x: both inputs of one node accumulate into x */
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul(tp, x, x))), TG_OK);
    tt_assert_values("d(x*x)", tg_tensor_grad(x), TT_VALUES(-3, 0.5, 4, 6), 4, 0, 0);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_add(tp, x, x))), TG_OK);
    tt_assert_values("d(x+x)", tg_tensor_grad(x), TT_VALUES(2, 2, 2, 2), 4, 0, 0);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_sub(tp, x, x))), TG_OK);
    tt_assert_values("d(x-x)", tg_tensor_grad(x), TT_VALUES(0, 0, 0, 0), 4, 0, 0);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_div(tp, x, x))), TG_OK);
    tt_assert_values("d(x/x)", tg_tensor_grad(x), TT_VALUES(0, 0, 0, 0), 4, 0, 0);
    /* x used by two different nodes: d sum(x*x*x) = 3x^2 */
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul(tp, tg_mul(tp, x, x), x))), TG_OK);
    tt_assert_values("d(x*x*x)", tg_tensor_grad(x), TT_VALUES(6.75, 0.1875, 12, 27), 4, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

static tg_tensor *f_square_by_mul(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_mul(tp, in[0], in[0]);
}
/* x^x: pow with the same tensor as base and exponent */
static tg_tensor *f_self_pow(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_pow(tp, in[0], in[0]);
}
START_TEST(test_same_input_gradcheck)
{
    tg_tensor *x = tt_param(2, TT_SHAPE(3, 4), 7, -2, 2);
    tt_gradcheck("mul(x, x)", f_square_by_mul, NULL, 1, &x);
    tg_tensor *p = tt_param(1, TT_SHAPE(5), 8, 0.5, 2);
    tt_gradcheck("pow(x, x)", f_self_pow, NULL, 1, &p);
    tg_tensor_free(x);
    tg_tensor_free(p);
}
END_TEST

/* ---- zero-size tensors ----------------------------------------------------------- */
START_TEST(test_empty_broadcast)
{
    tg_tensor *a = tg_tensor_new(TG_F64, 2, TT_SHAPE(0, 3));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    tg_tensor_set_requires_grad(a, true);
    tg_tensor_set_requires_grad(b, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_mul(tp, a, b);
    ck_assert_msg(y != NULL, "%s", tg_tape_error(tp));
    ck_assert_int_eq(tg_tensor_numel(y), 0);
    ck_assert_int_eq(tg_tensor_dim(y, 0), 0);
    ck_assert_int_eq(tg_tensor_dim(y, 1), 3);
    /* nothing flows into b: its gradient is zero, not garbage */
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_OK);
    tt_assert_values("d/db", tg_tensor_grad(b), TT_VALUES(0, 0, 0), 3, 0, 0);
    ck_assert_int_eq(tg_tensor_numel(tg_tensor_grad(a)), 0);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* ---- scalar variants ------------------------------------------------------------ */
typedef enum sc_kind { SC_ADD, SC_MUL, SC_RSUB, SC_RDIV, SC_POW } sc_kind;
typedef struct sc_case {
    const char *name;
    sc_kind kind;
    double s;
    double lo, hi;
} sc_case;

/* Every branch of the backward rules: alpha = 1 and alpha != 1 for the affine
 * ops, p = 1, 2 and general p for pow_scalar, both signs for rdiv. */
static const sc_case k_scs[] = {
    {"add_scalar", SC_ADD, 2.5, -2, 2},    {"add_scalar", SC_ADD, -1.25, -2, 2},
    {"mul_scalar", SC_MUL, -1.5, -2, 2},   {"mul_scalar", SC_MUL, 1.0, -2, 2},
    {"mul_scalar", SC_MUL, 3.0, -2, 2},    {"rsub_scalar", SC_RSUB, 3.0, -2, 2},
    {"rdiv_scalar", SC_RDIV, 2.0, 0.5, 2}, {"rdiv_scalar", SC_RDIV, -1.5, -2, -0.5},
    {"pow_scalar", SC_POW, 2.0, -2, 2},    {"pow_scalar", SC_POW, 1.0, -2, 2},
    {"pow_scalar", SC_POW, 3.0, -2, 2},    {"pow_scalar", SC_POW, 0.5, 0.5, 2},
    {"pow_scalar", SC_POW, -1.5, 0.5, 2},  {"pow_scalar", SC_POW, 2.5, 0.5, 2},
};
#define N_SCS LEN(k_scs)

static tg_tensor *apply_sc(tg_tape *tp, const sc_case *c, tg_tensor *x)
{
    switch (c->kind) {
    case SC_ADD:
        return tg_add_scalar(tp, x, c->s);
    case SC_MUL:
        return tg_mul_scalar(tp, x, c->s);
    case SC_RSUB:
        return tg_rsub_scalar(tp, c->s, x);
    case SC_RDIV:
        return tg_rdiv_scalar(tp, c->s, x);
    default:
        return tg_pow_scalar(tp, x, c->s);
    }
}
static double ref_sc(const sc_case *c, double x)
{
    switch (c->kind) {
    case SC_ADD:
        return x + c->s;
    case SC_MUL:
        return x * c->s;
    case SC_RSUB:
        return c->s - x;
    case SC_RDIV:
        return c->s / x;
    default:
        return pow(x, c->s);
    }
}
static tg_tensor *call_sc(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    return apply_sc(tp, ctx, in[0]);
}

typedef struct unary_shape {
    int nd;
    int64_t s[4];
} unary_shape;
static const unary_shape k_ushapes[] = {
    {0, {0}}, {1, {1}}, {1, {7}}, {2, {2, 3}}, {3, {2, 3, 4}}, {4, {2, 1, 3, 2}},
};
#define N_USHAPES LEN(k_ushapes)

START_TEST(test_scalar_hand_values)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(1, -2, 0.5, 4));
    tt_assert_values("x + 3", tg_add_scalar(tp, x, 3), TT_VALUES(4, 1, 3.5, 7), 4, 0, 0);
    tt_assert_values("x * -2", tg_mul_scalar(tp, x, -2), TT_VALUES(-2, 4, -1, -8), 4, 0, 0);
    tt_assert_values("1 - x", tg_rsub_scalar(tp, 1, x), TT_VALUES(0, 3, 0.5, -3), 4, 0, 0);
    tt_assert_values("2 / x", tg_rdiv_scalar(tp, 2, x), TT_VALUES(2, -1, 4, 0.5), 4, 0, 0);
    tt_assert_values("x ^ 2", tg_pow_scalar(tp, x, 2), TT_VALUES(1, 4, 0.25, 16), 4, 0, 0);
    tt_assert_values("x ^ 3", tg_pow_scalar(tp, x, 3), TT_VALUES(1, -8, 0.125, 64), 4, 0, 0);
    tt_assert_values("x ^ -1", tg_pow_scalar(tp, x, -1), TT_VALUES(1, -0.5, 2, 0.25), 4, 0, 0);
    tt_assert_values("x ^ 0", tg_pow_scalar(tp, x, 0), TT_VALUES(1, 1, 1, 1), 4, 0, 0);
    tg_tensor *p = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(4, 2, 9));
    tt_assert_values("x ^ 0.5", tg_pow_scalar(tp, p, 0.5), TT_VALUES(2, 1.4142135623730950488, 3),
                     3, 1e-15, 0);
    tt_assert_values("x ^ -1.5", tg_pow_scalar(tp, p, -1.5),
                     TT_VALUES(0.125, 0.35355339059327376220, 1.0 / 27), 3, 1e-15, 0);
    /* the output keeps the input's shape, also for 0-d */
    tg_tensor *s = tt_from(TG_F64, 0, NULL, TT_VALUES(5));
    tg_tensor *y = tg_rsub_scalar(tp, 2, s);
    ck_assert_int_eq(tg_tensor_ndim(y), 0);
    tt_assert_values("2 - 5", y, TT_VALUES(-3), 1, 0, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(p);
    tg_tensor_free(s);
}
END_TEST

START_TEST(test_scalar_reference_and_f32)
{
    const sc_case *c = &k_scs[_i];
    tg_tape *tp = tg_tape_new(NULL);
    for (int k = 0; k < N_USHAPES; k++) {
        const unary_shape *us = &k_ushapes[k];
        char what[96];
        snprintf(what, sizeof what, "%s %g, %d-d", c->name, c->s, us->nd);
        tg_tensor *x32 = tt_rand(TG_F32, us->nd, us->s, 500 + k, c->lo, c->hi);
        tg_tensor *x64 = tg_tensor_cast_new(x32, TG_F64);
        tg_tensor *ref = tg_tensor_clone(x64);
        for (int64_t i = 0; i < tg_tensor_numel(ref); i++)
            tg_tensor_set_flat(ref, i, ref_sc(c, tg_tensor_get_flat(x64, i)));
        tg_tensor *y64 = apply_sc(tp, c, x64);
        tg_tensor *y32 = apply_sc(tp, c, x32);
        ck_assert_msg(y64 && y32, "%s: %s", what, tg_tape_error(tp));
        ck_assert_int_eq(tg_tensor_dtype(y32), TG_F32);
        tt_assert_close(what, y64, ref, 1e-15, 0);
        /* the f32 kernel rounds the scalar to f32 first and then computes
         * in f32: a few f32 ulps of the f64 value */
        tt_assert_close(what, y32, y64, 4 * FLT_EPSILON, 0);
        tg_tensor_free(x32);
        tg_tensor_free(x64);
        tg_tensor_free(ref);
        tg_tape_reset(tp);
    }
    tg_tape_free(tp);
}
END_TEST

START_TEST(test_scalar_gradcheck)
{
    const sc_case *c = &k_scs[_i];
    for (int k = 0; k < N_USHAPES; k++) {
        const unary_shape *us = &k_ushapes[k];
        char what[96];
        snprintf(what, sizeof what, "%s %g, %d-d", c->name, c->s, us->nd);
        tg_tensor *x = tt_param(us->nd, us->s, 600 + k, c->lo, c->hi);
        tt_gradcheck(what, call_sc, (void *)c, 1, &x);
        tg_tensor_free(x);
    }
}
END_TEST

/* Degenerate scalars whose gradient is exactly zero (a gradcheck would be
 * vacuous): x * 0 and x ^ 0.  x ^ 0 at x = 0 must give 0, not 0 * inf. */
START_TEST(test_scalar_zero_gradients)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(-1, 0, 2));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_pow_scalar(tp, x, 0);
    tt_assert_values("x ^ 0", y, TT_VALUES(1, 1, 1), 3, 0, 0);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_OK);
    tt_assert_values("d x^0", tg_tensor_grad(x), TT_VALUES(0, 0, 0), 3, 0, 0);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul_scalar(tp, x, 0))), TG_OK);
    tt_assert_values("d 0x", tg_tensor_grad(x), TT_VALUES(0, 0, 0), 3, 0, 0);
    /* x ^ 2 and x ^ 1 at 0: 0 and 1, with no pow(0, negative) on the way */
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_pow_scalar(tp, x, 2))), TG_OK);
    tt_assert_values("d x^2", tg_tensor_grad(x), TT_VALUES(-2, 0, 4), 3, 0, 0);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_pow_scalar(tp, x, 1))), TG_OK);
    tt_assert_values("d x^1", tg_tensor_grad(x), TT_VALUES(1, 1, 1), 3, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* tg_pow at base 0 (issue 18, item 9), PyTorch's masked convention: d/db
 * a^b = a^b log a is taken as 0 where a == 0 and b >= 0 (0 * -inf
 * otherwise), and d/da = b a^(b-1) as 0 where b == 0 (0 * inf at a = 0).
 * The same in the direct rule (tensors), the scalar rule (one element) and
 * the op-built rule (tg_grad with create_graph), in f64 and f32; second
 * derivatives through the op-built rule stay finite there; and tg_pow
 * agrees with tg_pow_scalar, (0, 0) included (issue 24). */
START_TEST(test_pow_zero_base)
{
    const double L = 0.69314718055994530942; /* log 2 */
    /* (a, b): (0,0) (0,2) (0,1) (2,0) (0.5,0) (0,3.5) (0,0.5) (3,2) */
    const double av[8] = {0, 0, 0, 2, 0.5, 0, 0, 3};
    const double bv[8] = {0, 2, 1, 0, 0, 3.5, 0.5, 2};
    const double ya[8] = {0, 0, 1, 0, 0, 0, INFINITY, 6};
    const double yb[8] = {0, 0, 0, L, -L, 0, 0, 9 * 1.0986122886681098};
    for (int dt = 0; dt < 2; dt++) {
        const tg_dtype d = dt ? TG_F32 : TG_F64;
        const double rtol = dt ? 1e-6 : 1e-15;
        for (int mode = 0; mode < 3; mode++) { /* tensor direct, scalar, op-built */
            {
                /* mode 1: one element at a time, so the scalar rules run */
                const int n = mode == 1 ? 1 : 8;
                for (int j = 0; j < (mode == 1 ? 8 : 1); j++) {
                    const int at = mode == 1 ? j : 0;
                    tg_tensor *a = tt_from(d, 1, TT_SHAPE(n), av + at);
                    tg_tensor *b = tt_from(d, 1, TT_SHAPE(n), bv + at);
                    tg_tensor_set_requires_grad(a, true);
                    tg_tensor_set_requires_grad(b, true);
                    tg_tape *tp = tg_tape_new(NULL);
                    tg_tensor *l = tg_sum_all(tp, tg_pow(tp, a, b));
                    tg_tensor *ga, *gb;
                    if (mode < 2) {
                        ck_assert_int_eq(tg_backward(tp, l), TG_OK);
                        ga = (tg_tensor *)tg_tensor_grad(a), gb = (tg_tensor *)tg_tensor_grad(b);
                    } else {
                        ga = tg_grad(tp, l, a, true), gb = tg_grad(tp, l, b, true);
                        ck_assert_msg(ga && gb, "%s", tg_tape_error(tp));
                    }
                    char what[64];
                    snprintf(what, sizeof what, "%s pow mode %d d/da", dt ? "f32" : "f64", mode);
                    for (int k = 0; k < n; k++) {
                        const double x = tg_tensor_get_flat(ga, k), y = tg_tensor_get_flat(gb, k);
                        const double wx = ya[at + k], wy = yb[at + k];
                        ck_assert_msg(x == wx || fabs(x - wx) <= rtol * fabs(wx),
                                      "%s at (%g, %g): %g, want %g", what, av[at + k], bv[at + k],
                                      x, wx);
                        ck_assert_msg(y == wy || fabs(y - wy) <= rtol * fabs(wy),
                                      "%s d/db at (%g, %g): %g, want %g", what, av[at + k],
                                      bv[at + k], y, wy);
                    }
                    if (mode == 2) {
                        /* the Hessian-vector product through the op-built rule:
                         * finite at every masked point (the element (0, 0.5),
                         * whose d/da is infinite, is left out) */
                        tg_tensor *s = tg_add(tp, tg_sum_all(tp, ga), tg_sum_all(tp, gb));
                        tg_tensor *ha = tg_grad(tp, s, a, false), *hb = tg_grad(tp, s, b, false);
                        ck_assert_msg(ha && hb, "%s", tg_tape_error(tp));
                        for (int k = 0; k < n; k++) {
                            if (at + k == 6) continue;
                            ck_assert_msg(isfinite(tg_tensor_get_flat(ha, k)) &&
                                              isfinite(tg_tensor_get_flat(hb, k)),
                                          "%s: second derivative at (%g, %g): %g, %g", what,
                                          av[at + k], bv[at + k], tg_tensor_get_flat(ha, k),
                                          tg_tensor_get_flat(hb, k));
                        }
                    }
                    tg_tape_free(tp);
                    tg_tensor_free(a);
                    tg_tensor_free(b);
                }
            }
        }
    }
    /* an infinite base with exponent 0: d/da is 0 in both rules too */
    {
        tg_tensor *a = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(INFINITY, 0, 2));
        tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(0, 0, 1));
        tg_tensor_set_requires_grad(a, true);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *l = tg_sum_all(tp, tg_pow(tp, a, b));
        ck_assert_int_eq(tg_backward(tp, l), TG_OK);
        tt_assert_values("d/da inf^0, direct", tg_tensor_grad(a), TT_VALUES(0, 0, 1), 3, 0, 0);
        tt_assert_values("d/da inf^0, op-built", tg_grad(tp, l, a, true), TT_VALUES(0, 0, 1), 3, 0,
                         0);
        tg_tape_free(tp);
        tg_tensor_free(a);
        tg_tensor_free(b);
    }
    /* tg_pow and tg_pow_scalar: the same d/dx, exactly, at and away from 0 */
    const double xs[4] = {0, 2, -1.5, 0.25}, ps[5] = {0, 1, 2, 3, 0.5};
    for (int j = 0; j < 5; j++) {
        tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(4), xs);
        tg_tensor *p = tg_tensor_full(TG_F64, 1, TT_SHAPE(4), ps[j]);
        tg_tensor_set_requires_grad(x, true);
        tg_tape *tp = tg_tape_new(NULL);
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_pow_scalar(tp, x, ps[j]))), TG_OK);
        double g1[4], g2[4];
        tg_tensor_to_f64(tg_tensor_grad(x), g1);
        tg_tape_reset(tp);
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_pow(tp, x, p))), TG_OK);
        tg_tensor_to_f64(tg_tensor_grad(x), g2);
        for (int k = 0; k < 4; k++) {
            if (isnan(g1[k]) && isnan(g2[k])) continue; /* (-1.5)^-0.5 */
            ck_assert_msg(g1[k] == g2[k], "x^%g at %g: pow_scalar %g, pow %g", ps[j], xs[k], g1[k],
                          g2[k]);
        }
        tg_tape_free(tp);
        tg_tensor_free(x);
        tg_tensor_free(p);
    }
}
END_TEST

/* ---- errors ---------------------------------------------------------------------- */
/* Every op of this file as a two-input call (scalar ops ignore b). */
typedef struct any_op {
    const char *name;
    int arity;
    bin_fn bin;
    sc_kind kind;
} any_op;
static const any_op k_all[] = {
    {"add", 2, tg_add, 0},
    {"sub", 2, tg_sub, 0},
    {"mul", 2, tg_mul, 0},
    {"div", 2, tg_div, 0},
    {"pow", 2, tg_pow, 0},
    {"maximum", 2, tg_maximum, 0},
    {"minimum", 2, tg_minimum, 0},
    {"add_scalar", 1, NULL, SC_ADD},
    {"mul_scalar", 1, NULL, SC_MUL},
    {"rsub_scalar", 1, NULL, SC_RSUB},
    {"rdiv_scalar", 1, NULL, SC_RDIV},
    {"pow_scalar", 1, NULL, SC_POW},
};
#define N_ALL    LEN(k_all)
#define N_BINOPS 7

static tg_tensor *apply_any(tg_tape *tp, const any_op *op, tg_tensor *a, tg_tensor *b)
{
    if (op->arity == 2) return op->bin(tp, a, b);
    sc_case c = {op->name, op->kind, 2.0, 0, 0};
    return apply_sc(tp, &c, a);
}

START_TEST(test_error_broadcast)
{
    const any_op *op = &k_all[_i]; /* the binary ops: the first N_BINOPS */
    ck_assert_int_eq(op->arity, 2);
    struct {
        int na;
        int64_t sa[3];
        int nb;
        int64_t sb[3];
        const char *msg;
    } bad[] = {
        {2, {2, 3}, 1, {4}, "shapes (2,3) and (4) do not broadcast"},
        {2, {2, 3}, 2, {3, 2}, "shapes (2,3) and (3,2) do not broadcast"},
        {3, {2, 3, 4}, 2, {2, 4}, "shapes (2,3,4) and (2,4) do not broadcast"},
        {1, {0}, 1, {2}, "shapes (0) and (2) do not broadcast"},
    };
    for (int k = 0; k < LEN(bad); k++) {
        tg_tensor *a = tg_tensor_ones(TG_F64, bad[k].na, bad[k].sa);
        tg_tensor *b = tg_tensor_ones(TG_F64, bad[k].nb, bad[k].sb);
        tg_tape *tp = tg_tape_new(NULL);
        ck_assert_ptr_null(op->bin(tp, a, b));
        char prefix[32];
        snprintf(prefix, sizeof prefix, "%s: ", op->name);
        tt_assert_tape_error(tp, TG_ERR_SHAPE, prefix, bad[k].msg);
        ck_assert_int_eq(tg_tape_usage(tp).nodes, 0);
        tg_tape_free(tp);
        tg_tensor_free(a);
        tg_tensor_free(b);
    }
}
END_TEST

START_TEST(test_error_dtype)
{
    const any_op *op = &k_all[_i]; /* the binary ops: the first N_BINOPS */
    ck_assert_int_eq(op->arity, 2);
    tg_tensor *a = tg_tensor_ones(TG_F32, 2, TT_SHAPE(2, 3));
    tg_tensor *b = tg_tensor_ones(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_ptr_null(op->bin(tp, a, b));
    tt_assert_tape_error(tp, TG_ERR_DTYPE, op->name, "f32[2,3]", "f64[2,3]");
    tg_tape_free(tp);
    /* the other way round, with broadcastable shapes */
    tg_tensor *c = tg_tensor_ones(TG_F32, 1, TT_SHAPE(3));
    tp = tg_tape_new(NULL);
    ck_assert_ptr_null(op->bin(tp, b, c));
    tt_assert_tape_error(tp, TG_ERR_DTYPE, op->name, "f64[2,3]", "f32[3]");
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(c);
}
END_TEST

START_TEST(test_error_null)
{
    const any_op *op = &k_all[_i];
    tg_tensor *a = tg_tensor_ones(TG_F64, 1, TT_SHAPE(3));
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_ptr_null(apply_any(tp, op, NULL, a));
    tt_assert_tape_error(tp, TG_ERR_NULL, op->name, "input 0 is NULL");
    tg_tape_free(tp);
    if (op->arity == 2) {
        tp = tg_tape_new(NULL);
        ck_assert_ptr_null(op->bin(tp, a, NULL));
        tt_assert_tape_error(tp, TG_ERR_NULL, op->name, "input 1 is NULL");
        tg_tape_free(tp);
    }
    /* a NULL tape: NULL back, no crash */
    ck_assert_ptr_null(apply_any(NULL, op, a, a));
    tg_tensor_free(a);
}
END_TEST

/* On a tape in error an op returns NULL, records nothing and keeps the first
 * error (status and message). */
START_TEST(test_error_sticky)
{
    const any_op *op = &k_all[_i];
    tg_tensor *a = tg_tensor_ones(TG_F64, 1, TT_SHAPE(3));
    tg_tensor *bad = tg_tensor_ones(TG_F64, 1, TT_SHAPE(4));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *ok = tg_exp(tp, a);
    ck_assert_ptr_nonnull(ok);
    ck_assert_ptr_null(tg_add(tp, a, bad)); /* the first error */
    char msg[256];
    snprintf(msg, sizeof msg, "%s", tg_tape_error(tp));
    tg_tape_stats before = tg_tape_usage(tp);
    ck_assert_ptr_null(apply_any(tp, op, a, a));
    ck_assert_ptr_null(apply_any(tp, op, ok, a));
    ck_assert_ptr_null(apply_any(tp, op, NULL, a)); /* not even a new NULL error */
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_tape_error(tp), msg);
    tg_tape_stats after = tg_tape_usage(tp);
    ck_assert_int_eq(after.nodes, before.nodes);
    ck_assert_int_eq(after.tensors, before.tensors);
    ck_assert_uint_eq(after.bytes_in_use, before.bytes_in_use);
    /* reset clears the error and the op works again */
    tg_tape_reset(tp);
    ck_assert_ptr_nonnull(apply_any(tp, op, a, a));
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(bad);
}
END_TEST

START_TEST(test_error_other_tape)
{
    const any_op *op = &k_all[_i];
    tg_tensor *a = tg_tensor_ones(TG_F64, 1, TT_SHAPE(3));
    tg_tape *t1 = tg_tape_new(NULL), *t2 = tg_tape_new(NULL);
    tg_tensor *y1 = tg_exp(t1, a); /* owned by t1 */
    ck_assert_ptr_nonnull(y1);
    ck_assert_ptr_null(apply_any(t2, op, y1, a));
    tt_assert_tape_error(t2, TG_ERR_TAPE, op->name, "input 0", "another tape");
    if (op->arity == 2) {
        tg_tape_reset(t2);
        ck_assert_ptr_null(op->bin(t2, a, y1));
        tt_assert_tape_error(t2, TG_ERR_TAPE, op->name, "input 1", "another tape");
    }
    ck_assert_int_eq(tg_tape_status(t1), TG_OK); /* the owner is not affected */
    tg_tape_free(t1);
    tg_tape_free(t2);
    tg_tensor_free(a);
}
END_TEST

START_TEST(test_error_stale)
{
    const any_op *op = &k_all[_i];
    tg_tensor *a = tg_tensor_ones(TG_F64, 1, TT_SHAPE(3));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_exp(tp, a);
    ck_assert_ptr_nonnull(y);
    tg_tape_reset(tp);
    ck_assert_ptr_null(apply_any(tp, op, y, a));
    tt_assert_tape_error(tp, TG_ERR_TAPE, op->name, "stale");
    if (op->arity == 2) {
        tg_tape_reset(tp);
        ck_assert_ptr_null(op->bin(tp, a, y));
        tt_assert_tape_error(tp, TG_ERR_TAPE, op->name, "input 1", "stale");
    }
    tg_tape_free(tp);
    tg_tensor_free(a);
}
END_TEST

/* Outputs of 16 MiB and more are written with streaming stores, a 512-byte
 * block at a time after an aligning head (src/kernels/stream.h).  Each op
 * below writes such an output; every element must equal the plain
 * arithmetic exactly, in the head (the slice starts one element in, off the
 * alignment), the blocks and the tail (45 elements past a whole number of
 * blocks).  The gradients land in fresh buffers, so the direct rules'
 * streamed branches run as well. */
#define LARGE_CHECK(T, what, got, E)                                                               \
    do {                                                                                           \
        const T *g_ = (const T *)tg_tensor_data(got);                                              \
        int64_t bad = -1;                                                                          \
        T want = 0;                                                                                \
        for (int64_t i = 0; i < n && bad < 0; i++) {                                               \
            want = (E);                                                                            \
            if (g_[i] != want) bad = i;                                                            \
        }                                                                                          \
        ck_assert_msg(bad < 0, "%s (%s, n %lld): element %lld is %.17g, expected %.17g", what, #T, \
                      (long long)n, (long long)bad, bad < 0 ? 0.0 : (double)g_[bad],               \
                      (double)want);                                                               \
    } while (0)
#define LARGE_CHECKS(T)                                                                            \
    do {                                                                                           \
        const T *xv = (const T *)tg_tensor_data(x), *cv = (const T *)tg_tensor_data(c),            \
                *uv = (const T *)tg_tensor_data(u);                                                \
        LARGE_CHECK(T, "square", sq, xv[i] * xv[i]);                                               \
        LARGE_CHECK(T, "add", sum, xv[i] + cv[i]);                                                 \
        LARGE_CHECK(T, "mul_scalar", af, (T)3 * xv[i] + (T)0);                                     \
        LARGE_CHECK(T, "slice, square and sum rules", tg_tensor_grad(x),                           \
                    i ? (T)1 * (xv[i] * (T)2) : (T)0);                                             \
        LARGE_CHECK(T, "mul and sum rules", tg_tensor_grad(c), (T)1 * uv[i]);                      \
        LARGE_CHECK(T, "add_scalar, mul_scalar and sum rules", tg_tensor_grad(z), (T)3 * (T)1);    \
    } while (0)

START_TEST(test_large_outputs_streamed)
{
    const tg_dtype dt = _i ? TG_F32 : TG_F64;
    const size_t esz = dt == TG_F64 ? sizeof(double) : sizeof(float);
    const int64_t n = (int64_t)(((size_t)16 << 20) / esz) + 45;
    tg_tensor *x = tt_rand(dt, 1, TT_SHAPE(n), 7, -2, 2);
    tg_tensor *c = tt_rand(dt, 1, TT_SHAPE(n), 8, -2, 2);
    tg_tensor *z = tt_rand(dt, 1, TT_SHAPE(n), 9, -2, 2);
    tg_tensor *u = tt_rand(dt, 1, TT_SHAPE(n), 10, -2, 2); /* a constant */
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert(x && c && z && u && tp);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_requires_grad(c, true);
    tg_tensor_set_requires_grad(z, true);
    /* forward: the unary, binary and scalar-affine kernels */
    tg_tensor *sq = tg_square(tp, x), *sum = tg_add(tp, x, c), *af = tg_mul_scalar(tp, x, 3.0);
    ck_assert(sq && sum && af);
    /* f = sum(square(x[1:])) + sum(u * c) + sum(3 z - 0.5): each parameter
     * gets one contribution, so its gradient is one rule's arithmetic:
     * dx = [0, 2 x[1:]], dc = u, dz = 3 (sum fill, square, slice embed,
     * mul and affine rules, all into fresh buffers) */
    tg_tensor *hi = tg_slice(tp, x, 0, 1, n, 1);
    tg_tensor *f =
        tg_add(tp, tg_add(tp, tg_sum_all(tp, tg_square(tp, hi)), tg_sum_all(tp, tg_mul(tp, u, c))),
               tg_sum_all(tp, tg_add_scalar(tp, tg_mul_scalar(tp, z, 3.0), -0.5)));
    ck_assert_int_eq(tg_backward(tp, f), TG_OK);
    ck_assert(tg_tensor_grad(x) && tg_tensor_grad(c) && tg_tensor_grad(z));
    if (dt == TG_F64)
        LARGE_CHECKS(double);
    else
        LARGE_CHECKS(float);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(c);
    tg_tensor_free(z);
    tg_tensor_free(u);
}
END_TEST

/* ---- scalar arguments on f32 tensors (issue 24, item 9) ----------------------
 * A double argument is rounded once to the tensor's dtype, and the op then
 * computes in the dtype with the rounded value, forward and in every rule.
 * Each check compares bitwise against that computation, with scalars that
 * f32 cannot hold, and also asserts that the unrounded double would give
 * other bits somewhere, so the check can fail. */
START_TEST(test_scalar_args_rounded_once_f32)
{
    enum { N = 257 };
    float xv[N];
    /* small x, so that the results' ulps are near the scalars' rounding */
    for (int i = 0; i < N; i++) xv[i] = (float)(0.001 + 0.0007 * i) * (i % 2 ? -1.0f : 1.0f);
    tg_tensor *x = tg_tensor_new(TG_F32, 1, TT_SHAPE(N));
    memcpy(tg_tensor_f32(x), xv, sizeof xv);
    tg_tensor_set_requires_grad(x, true);
    const double s = 0.1, r = 1.0 / 3.0; /* neither is an f32 */
    const float sf = (float)s, rf = (float)r;
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y[4] = {tg_add_scalar(tp, x, s), tg_mul_scalar(tp, x, s), tg_rsub_scalar(tp, r, x),
                       tg_rdiv_scalar(tp, r, x)};
    int differs[4] = {0};
    for (int i = 0; i < N; i++) {
        const float v = xv[i];
        const float want[4] = {v + sf, v * sf, rf - v, rf / v};
        const float unrounded[4] = {(float)(v + s), (float)(v * s), (float)(r - v), (float)(r / v)};
        for (int k = 0; k < 4; k++) {
            ck_assert_msg(tg_tensor_f32(y[k])[i] == want[k], "op %d at %d: %a, want %a", k, i,
                          (double)tg_tensor_f32(y[k])[i], (double)want[k]);
            differs[k] += unrounded[k] != want[k];
        }
    }
    for (int k = 0; k < 4; k++) ck_assert_msg(differs[k] > 0, "op %d: the check cannot fail", k);
    /* d/dx of sum(mul_scalar(x, s)) is the rounded s, exactly, direct and op-built */
    tg_tensor *f = tg_sum_all(tp, y[1]);
    ck_assert_int_eq(tg_backward(tp, f), TG_OK);
    tg_tensor *gb = tg_grad(tp, f, x, true);
    for (int i = 0; i < N; i++) {
        ck_assert(tg_tensor_f32(tg_tensor_grad(x))[i] == sf);
        ck_assert(tg_tensor_f32(gb)[i] == sf);
    }
    tg_tape_free(tp);
    tg_tensor_free(x);

    /* pow_scalar: p = 1 + 2^-30 rounds to 1 and p = 1e-300 to 0 in f32: the
     * op is x^1 = x, d = 1, and x^0 = 1, d = 0, at x = 0 too (the unrounded
     * p - 1 = 2^-30 would give 0^(2^-30) = 0 there, and 0 * 0^-1 = NaN) */
    const double ps[2] = {1.0 + 0x1p-30, 1e-300};
    const float xs[4] = {0.0f, 1e-30f, 0.5f, 3.0f};
    for (int k = 0; k < 2; k++) {
        tg_tensor *x4 = tg_tensor_new(TG_F32, 1, TT_SHAPE(4));
        memcpy(tg_tensor_f32(x4), xs, sizeof xs);
        tg_tensor_set_requires_grad(x4, true);
        tp = tg_tape_new(NULL);
        tg_tensor *yp = tg_pow_scalar(tp, x4, ps[k]);
        tg_tensor *fp = tg_sum_all(tp, yp);
        ck_assert_int_eq(tg_backward(tp, fp), TG_OK);
        tg_tensor *go = tg_grad(tp, fp, x4, true);
        ck_assert_msg(go != NULL, "%s", tg_tape_error(tp));
        for (int i = 0; i < 4; i++) {
            const float wy = k == 0 ? xs[i] : 1.0f, wg = k == 0 ? 1.0f : 0.0f;
            ck_assert_msg(tg_tensor_f32(yp)[i] == wy, "p %g: y(%g) = %g", ps[k], (double)xs[i],
                          (double)tg_tensor_f32(yp)[i]);
            ck_assert_msg(tg_tensor_f32(tg_tensor_grad(x4))[i] == wg, "p %g: direct d(%g) = %g",
                          ps[k], (double)xs[i], (double)tg_tensor_f32(tg_tensor_grad(x4))[i]);
            ck_assert_msg(tg_tensor_f32(go)[i] == wg, "p %g: op-built d(%g) = %g", ps[k],
                          (double)xs[i], (double)tg_tensor_f32(go)[i]);
        }
        tg_tape_free(tp);
        tg_tensor_free(x4);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("elementwise");
    TCase *fw = tcase_create("forward");
    tcase_add_test(fw, test_binary_hand_values);
    tcase_add_test(fw, test_broadcast_3d_hand_values);
    tcase_add_loop_test(fw, test_binary_reference, 0, N_BINS);
    tcase_add_test(fw, test_scalar_hand_values);
    tcase_add_loop_test(fw, test_scalar_reference_and_f32, 0, N_SCS);
    tcase_add_test(fw, test_empty_broadcast);
    tcase_add_loop_test(fw, test_large_outputs_streamed, 0, 2);
    suite_add_tcase(s, fw);

    TCase *gr = tcase_create("gradient");
    tcase_add_loop_test(gr, test_binary_gradcheck, 0, N_BINS);
    tcase_add_loop_test(gr, test_binary_f32_gradient, 0, N_BINS);
    tcase_add_test(gr, test_binary_gradient_formulas);
    tcase_add_test(gr, test_maxmin_ties);
    tcase_add_test(gr, test_same_input_twice);
    tcase_add_test(gr, test_same_input_gradcheck);
    tcase_add_loop_test(gr, test_scalar_gradcheck, 0, N_SCS);
    tcase_add_test(gr, test_scalar_zero_gradients);
    tcase_add_test(gr, test_pow_zero_base);
    tcase_add_test(gr, test_scalar_args_rounded_once_f32);
    suite_add_tcase(s, gr);

    TCase *er = tcase_create("errors");
    tcase_add_loop_test(er, test_error_broadcast, 0, N_BINOPS);
    tcase_add_loop_test(er, test_error_dtype, 0, N_BINOPS);
    tcase_add_loop_test(er, test_error_null, 0, N_ALL);
    tcase_add_loop_test(er, test_error_sticky, 0, N_ALL);
    tcase_add_loop_test(er, test_error_other_tape, 0, N_ALL);
    tcase_add_loop_test(er, test_error_stale, 0, N_ALL);
    suite_add_tcase(s, er);
    return tt_run(s);
}
