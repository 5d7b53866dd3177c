/* Elementwise unary ops (neg, exp, log, sqrt, square, abs, sigmoid, tanh,
 * relu, softplus), the non-differentiable helpers (sign, step), detach and
 * cast: forward values by hand and against libm, no overflow at large |x|,
 * finite-difference gradchecks in f64 over several shapes, kinks, f32
 * against f64, and every error path. */
#include "common.h"
#include "op_cases.h"
#include "../src/kernels/vmath.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef tg_tensor *(*un_fn)(tg_tape *, tg_tensor *);

/* The elementwise unary cases: the OC_ELEM rows of op_cases.h (the op,
 * its gradcheck range, inside the domain, for log/sqrt away from 0, its
 * value and derivative in double), gathered by main. */
static const oc_case *k_uns[64];
static int N_UNS;

static tg_tensor *un(tg_tape *tp, const oc_case *c, tg_tensor *x)
{
    return c->f(tp, x, NULL, NULL);
}

static tg_tensor *call_un(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    return un(tp, ctx, in[0]);
}

typedef struct ushape {
    int nd;
    int64_t s[4];
} ushape;
static const ushape k_shapes[] = {
    {0, {0}}, {1, {1}}, {1, {7}}, {2, {2, 3}}, {3, {2, 3, 4}}, {4, {2, 1, 3, 2}},
};
#define N_SHAPES LEN(k_shapes)

/* ---- forward: hand values (decimal expansions from a 30-digit evaluation) ---- */
static void check_hand(tg_tape *tp, const char *what, un_fn f, int n, const double *x,
                       const double *expect, double rtol)
{
    tg_tensor *t = tt_from(TG_F64, 1, (int64_t[]){n}, x);
    tg_tensor *y = f(tp, t);
    ck_assert_msg(y != NULL, "%s: %s", what, tg_tape_error(tp));
    ck_assert_int_eq(tg_tensor_dtype(y), TG_F64);
    tt_assert_values(what, y, expect, n, rtol, 0);
    tg_tensor_free(t);
}

START_TEST(test_hand_values)
{
    tg_tape *tp = tg_tape_new(NULL);
    check_hand(tp, "neg", tg_neg, 3, TT_VALUES(-2, 0, 1.5), TT_VALUES(2, 0, -1.5), 0);
    check_hand(tp, "exp", tg_exp, 4, TT_VALUES(0.25, 1, 2.5, -1),
               TT_VALUES(1.2840254166877414841, 2.7182818284590452354, 12.182493960703473438,
                         0.3678794411714423216),
               1e-15);
    check_hand(tp, "log", tg_log, 4, TT_VALUES(0.25, 1, 2.5, 2.7182818284590452354),
               TT_VALUES(-1.3862943611198906188, 0, 0.91629073187415506518, 1), 1e-15);
    check_hand(tp, "sqrt", tg_sqrt, 4, TT_VALUES(0.25, 4, 2.5, 0),
               TT_VALUES(0.5, 2, 1.581138830084189666, 0), 1e-15);
    check_hand(tp, "square", tg_square, 3, TT_VALUES(-3, 0.5, 0), TT_VALUES(9, 0.25, 0), 0);
    check_hand(tp, "abs", tg_abs, 3, TT_VALUES(-3, 0, 2), TT_VALUES(3, 0, 2), 0);
    check_hand(tp, "relu", tg_relu, 4, TT_VALUES(-2, 0, 3, -1e-300), TT_VALUES(0, 0, 3, 0), 0);
    check_hand(tp, "sign", tg_sign, 4, TT_VALUES(-2, 0, 3, 1e-300), TT_VALUES(-1, 0, 1, 1), 0);
    check_hand(tp, "step", tg_step, 4, TT_VALUES(-2, 0, 3, 1e-300), TT_VALUES(0, 0, 1, 1), 0);
    check_hand(tp, "detach", tg_detach, 3, TT_VALUES(-2, 0, 3), TT_VALUES(-2, 0, 3), 0);
    /* sigmoid, softplus, tanh from -800 to 800: at +-800 a naive e^800 is
     * Inf and Inf/Inf NaN; the true sigmoid(-800) = 3.7e-348 and
     * softplus(-800) = 3.7e-348 round to 0 in double */
    const double xs[] = {-800, -30, -2, -0.5, 0, 0.5, 2, 30, 800};
    check_hand(tp, "sigmoid", tg_sigmoid, 9, xs,
               TT_VALUES(0, 9.3576229688392989538e-14, 0.11920292202211755594,
                         0.37754066879814543536, 0.5, 0.62245933120185456464,
                         0.88079707797788244406, 0.99999999999990642377, 1),
               1e-15);
    check_hand(tp, "softplus", tg_softplus, 9, xs,
               TT_VALUES(0, 9.3576229688397367741e-14, 0.12692801104297249644,
                         0.47407698418010668087, 0.69314718055994530942, 0.97407698418010668087,
                         2.1269280110429724964, 30.000000000000093576, 800),
               1e-15);
    check_hand(tp, "tanh", tg_tanh, 9, xs,
               TT_VALUES(-1, -1, -0.96402758007581688395, -0.4621171572600097585, 0,
                         0.4621171572600097585, 0.96402758007581688395, 1, 1),
               1e-15);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
}
END_TEST

/* Large |x| in both dtypes: finite values and finite, correct gradients. */
START_TEST(test_large_inputs_no_overflow)
{
    tg_dtype dt = _i ? TG_F32 : TG_F64;
    const double xv[] = {-800, -100, 100, 800};
    struct {
        un_fn f;
        const char *name;
        double y[4], dy[4];
    } cases[] = {
        {tg_sigmoid, "sigmoid", {0, 0, 1, 1}, {0, 0, 0, 0}},
        {tg_softplus, "softplus", {0, 0, 100, 800}, {0, 0, 1, 1}},
        {tg_tanh, "tanh", {-1, -1, 1, 1}, {0, 0, 0, 0}},
    };
    tg_tensor *x = tt_from(dt, 1, TT_SHAPE(4), xv);
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tape_set_anomaly(tp, true); /* any NaN/Inf on the way fails the op */
    for (int k = 0; k < LEN(cases); k++) {
        tg_tape_reset(tp);
        tg_tensor *y = cases[k].f(tp, x);
        ck_assert_msg(y != NULL, "%s: %s", cases[k].name, tg_tape_error(tp));
        /* softplus(-100) = e^-100 = 3.7e-44 (a denormal in f32): atol covers it */
        tt_assert_values(cases[k].name, y, cases[k].y, 4, 0, 1e-40);
        ck_assert_msg(tg_backward(tp, tg_sum_all(tp, y)) == TG_OK, "%s: %s", cases[k].name,
                      tg_tape_error(tp));
        tt_assert_values(cases[k].name, tg_tensor_grad(x), cases[k].dy, 4, 0, 1e-40);
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* ---- forward against libm, f64 and f32 -------------------------------------- */
START_TEST(test_reference_and_f32)
{
    const oc_case *c = k_uns[_i];
    tg_tape *tp = tg_tape_new(NULL);
    for (int k = 0; k < N_SHAPES; k++) {
        const ushape *us = &k_shapes[k];
        char what[64];
        snprintf(what, sizeof what, "%s, %d-d", c->id, us->nd);
        /* f32 inputs widened exactly: both dtypes see the same numbers */
        tg_tensor *x32 = tt_rand(TG_F32, us->nd, us->s, 10 + k, c->lo, c->hi);
        tg_tensor *x64 = tg_tensor_cast_new(x32, TG_F64);
        tg_tensor *ref = tg_tensor_clone(x64);
        for (int64_t i = 0; i < tg_tensor_numel(ref); i++)
            tg_tensor_set_flat(ref, i, c->ref(tg_tensor_get_flat(x64, i)));
        tg_tensor *y64 = un(tp, c, x64);
        tg_tensor *y32 = un(tp, c, x32);
        ck_assert_msg(y64 && y32, "%s: %s", what, tg_tape_error(tp));
        ck_assert_int_eq(tg_tensor_dtype(y32), TG_F32);
        ck_assert_int_eq(tg_tensor_ndim(y64), us->nd);
        tt_assert_close(what, y64, ref, 1e-15, 0);
        /* f32 libm functions are accurate to about 1 ulp: allow 4 */
        tt_assert_close(what, y32, y64, 4 * FLT_EPSILON, 0);
        tg_tensor_free(x32);
        tg_tensor_free(x64);
        tg_tensor_free(ref);
        tg_tape_reset(tp);
    }
    tg_tape_free(tp);
}
END_TEST

/* ---- gradients -------------------------------------------------------------- */
static bool any_positive(const tg_tensor *t)
{
    for (int64_t i = 0; i < tg_tensor_numel(t); i++)
        if (tg_tensor_get_flat(t, i) > 0) return true;
    return false;
}

START_TEST(test_gradcheck)
{
    const oc_case *c = k_uns[_i];
    for (int k = 0; k < N_SHAPES; k++) {
        const ushape *us = &k_shapes[k];
        char what[64];
        snprintf(what, sizeof what, "%s, %d-d", c->id, us->nd);
        tg_tensor *x = tt_param(us->nd, us->s, 20 + k, c->lo, c->hi);
        /* relu of an all-negative draw has a zero gradient (a vacuous
         * check): draw again, deterministically */
        for (uint64_t s = 1; strcmp(c->op, "relu") == 0 && !any_positive(x); s++) {
            ck_assert(s < 100);
            tg_tensor_free(x);
            x = tt_param(us->nd, us->s, 20 + k + 1000 * s, c->lo, c->hi);
        }
        tt_gradcheck(what, call_un, (void *)c, 1, &x);
        tg_tensor_free(x);
    }
}
END_TEST

/* Backward in f32 agrees with f64 to f32 precision (atol: 1 - tanh^2 near
 * |tanh| = 1 loses relative, not absolute, accuracy in f32). */
START_TEST(test_f32_gradient)
{
    const oc_case *c = k_uns[_i];
    tg_tensor *x32 = tt_rand(TG_F32, 2, TT_SHAPE(3, 5), 30, c->lo, c->hi);
    tg_tensor *x64 = tg_tensor_cast_new(x32, TG_F64);
    tg_tensor_set_requires_grad(x32, true);
    tg_tensor_set_requires_grad(x64, true);
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, un(tp, c, x32))), TG_OK);
    tg_tape_reset(tp); /* else the second backward zeroes x32's gradient */
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, un(tp, c, x64))), TG_OK);
    ck_assert_int_eq(tg_tensor_dtype(tg_tensor_grad(x32)), TG_F32);
    tt_assert_close(c->id, tg_tensor_grad(x32), tg_tensor_grad(x64), 1e-5, 1e-6);
    tg_tape_free(tp);
    tg_tensor_free(x32);
    tg_tensor_free(x64);
}
END_TEST

/* Whether every element of t is in [lo, hi). */
static bool inside(const tg_tensor *t, double lo, double hi)
{
    for (int64_t i = 0; i < tg_tensor_numel(t); i++)
        if (!(tg_tensor_get_flat(t, i) >= lo && tg_tensor_get_flat(t, i) < hi)) return false;
    return true;
}

/* The analytic derivatives against the textbook formulas (dref). */
START_TEST(test_gradient_formulas)
{
    const double xv[] = {0.3, 0.9, 1.7, 2.9};
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(4), xv);
    tg_tensor *xn = tt_from(TG_F64, 1, TT_SHAPE(4), TT_VALUES(-2.5, -0.7, 0.4, 1.1));
    /* the points inside a range of each sign, rewritten per case */
    tg_tensor *xi = tt_from(TG_F64, 1, TT_SHAPE(4), xv);
    tg_tensor *xni = tt_from(TG_F64, 1, TT_SHAPE(4), xv);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_requires_grad(xn, true);
    tg_tensor_set_requires_grad(xi, true);
    tg_tensor_set_requires_grad(xni, true);
    tg_tape *tp = tg_tape_new(NULL);
    for (int k = 0; k < N_UNS; k++) {
        const oc_case *c = k_uns[k];
        /* log and sqrt (a range above 0) need x > 0; the others also see
         * negative x; a range that holds neither set (asin's [-0.9, 0.9),
         * acosh's [1.1, 3)) gets four points spread inside it */
        tg_tensor *in = c->lo > 0 ? x : xn;
        if (!inside(in, c->lo, c->hi)) in = c->lo > 0 ? xi : xni;
        if (!inside(in, c->lo, c->hi))
            for (int i = 0; i < 4; i++)
                tg_tensor_set_flat(in, i, c->lo + (c->hi - c->lo) * (0.1 + 0.27 * i));
        double d[4];
        for (int i = 0; i < 4; i++) d[i] = c->dref(tg_tensor_get_flat(in, i));
        tg_tape_reset(tp);
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, un(tp, c, in))), TG_OK);
        tt_assert_values(c->id, tg_tensor_grad(in), d, 4, 1e-14, 0);
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(xn);
    tg_tensor_free(xi);
    tg_tensor_free(xni);
}
END_TEST

/* relu and abs at exact zeros: the analytic derivative is 0 there (the
 * PyTorch convention), gradcheck detects the kinks, skips and counts them,
 * and still passes on the other elements. */
START_TEST(test_kinks_at_zero)
{
    int at = -1; /* the _i-th OC_NONSMOOTH row: abs, relu */
    const oc_case *c = oc_next(&at, OC_ELEM | OC_NONSMOOTH);
    for (int k = 0; k < _i; k++) c = oc_next(&at, OC_ELEM | OC_NONSMOOTH);
    ck_assert_ptr_nonnull(c);
    const bool relu = strcmp(c->op, "relu") == 0;
    tg_tensor *x =
        tt_from(TG_F64, 2, TT_SHAPE(2, 4), TT_VALUES(-1.2, 0, 0.5, 0, 2, -0.3, 0.8, -0.6));
    tg_tensor_set_requires_grad(x, true);
    tg_compare_report rep;
    tg_status st = tg_gradcheck(call_un, (void *)c, 1, &x, NULL, &rep);
    if (st != TG_OK) tg_compare_report_print(stderr, c->id, &rep);
    ck_assert_msg(st == TG_OK, "%s: %s", c->id, tg_last_error());
    ck_assert(rep.ok);
    ck_assert_int_eq(rep.numel, 8);
    ck_assert_int_eq(rep.n_skipped, 2);
    ck_assert(!rep.vacuous);
    /* with skipping disabled: relu's central difference at 0 is r/2 (half
     * the slope), not its analytic 0, so the kinks fail and the skip is
     * what let it pass; abs is symmetric, its central difference at 0 is
     * exactly 0, and it passes either way */
    tg_gradcheck_options o = {.kink_tol = -1};
    st = tg_gradcheck(call_un, (void *)c, 1, &x, &o, &rep);
    ck_assert_int_eq(rep.n_skipped, 0);
    if (relu) {
        ck_assert_int_eq(st, TG_ERR_NUMERIC);
        ck_assert_int_eq(rep.n_failed, 2);
    } else {
        ck_assert_int_eq(st, TG_OK);
    }
    /* the value at the kink itself */
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, un(tp, c, x))), TG_OK);
    ck_assert(tg_tensor_get_flat(tg_tensor_grad(x), 1) == 0);
    ck_assert(tg_tensor_get_flat(tg_tensor_grad(x), 3) == 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* ---- sign, step, detach: zero gradient ---------------------------------------- */
START_TEST(test_zero_gradient_ops)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(4), TT_VALUES(-1.5, 0.5, 2, -3));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    int i = -1, n = 0; /* the OC_ZERO_GRAD rows: sign, step, detach, the 6 comparisons */
    for (const oc_case *c; (c = oc_next(&i, OC_ZERO_GRAD)); n++) {
        tg_tape_reset(tp);
        tg_tensor *y = un(tp, c, x);
        ck_assert_ptr_nonnull(y);
        if (strcmp(c->op, "detach") == 0) {
            /* a detached value depends on no parameter: backward says so */
            tg_tensor_zero_grad(x);
            ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_ERR_ARG);
            tg_tape_reset(tp);
            y = un(tp, c, x);
        } else {
            ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_OK);
        }
        /* an op without a backward rule carries no dependence: y does not
         * depend on x, so .grad stays NULL and tg_grad gives zeros only
         * with allow_unused (issue 24, item 7) */
        ck_assert_ptr_null(tg_tensor_grad(x));
        ck_assert_ptr_null(tg_grad(tp, tg_sum_all(tp, y), x, false));
        tg_tape_reset(tp);
        y = un(tp, c, x);
        tg_tensor *g =
            tg_grad_ex(tp, tg_sum_all(tp, y), x, &(tg_grad_options){.allow_unused = true});
        tt_assert_values(c->id, g, TT_VALUES(0, 0, 0, 0), 4, 0, 0);
    }
    ck_assert_int_eq(n, 9);
    /* x * detach(x): only the first factor is differentiated, so the
     * gradient is x, not 2x */
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul(tp, x, tg_detach(tp, x)))), TG_OK);
    tt_assert_values("d x*detach(x)", tg_tensor_grad(x), TT_VALUES(-1.5, 0.5, 2, -3), 4, 0, 0);
    /* a detached value does not require grad even when x does */
    tg_tensor *d = tg_detach(tp, x);
    ck_assert(!tg_tensor_requires_grad(d));
    ck_assert(tg_tensor_requires_grad(tg_exp(tp, x)));
    /* sign(x) * x = |x| with sign a constant: d = sign(x), as for abs */
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul(tp, tg_sign(tp, x), x))), TG_OK);
    tt_assert_values("d sign(x)*x", tg_tensor_grad(x), TT_VALUES(-1, 1, 1, -1), 4, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* ---- cast ------------------------------------------------------------------------ */
static tg_tensor *f_cast_roundtrip_f64(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    /* f64 -> f64 is an identity with a cast node: gradient 1 */
    return tg_tanh(tp, tg_cast(tp, in[0], TG_F64));
}

START_TEST(test_cast)
{
    tg_tape *tp = tg_tape_new(NULL);
    /* forward: rounding to f32 and exact widening back */
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1.0 / 3, -2.5, 1e-3));
    tg_tensor *y32 = tg_cast(tp, x, TG_F32);
    ck_assert_int_eq(tg_tensor_dtype(y32), TG_F32);
    ck_assert(tg_tensor_f32(y32)[0] == (float)(1.0 / 3));
    ck_assert(tg_tensor_f32(y32)[1] == -2.5f);
    ck_assert(tg_tensor_f32(y32)[2] == (float)1e-3);
    tg_tensor *y64 = tg_cast(tp, y32, TG_F64);
    ck_assert_int_eq(tg_tensor_dtype(y64), TG_F64);
    ck_assert(tg_tensor_f64(y64)[0] == (double)(float)(1.0 / 3));

    /* f64 -> f32 -> f64 with f32 math in between: the gradient flows back
     * through both casts and arrives as f64: d sum(x^2) = 2x in f32 */
    tg_tensor_set_requires_grad(x, true);
    tg_tape_reset(tp);
    tg_tensor *h = tg_cast(tp, tg_square(tp, tg_cast(tp, x, TG_F32)), TG_F64);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, h)), TG_OK);
    tg_tensor *g = tg_tensor_grad(x);
    ck_assert_int_eq(tg_tensor_dtype(g), TG_F64);
    /* exactly 2 * (float)x, computed in f32 */
    tt_assert_values("d/dx through f32", g,
                     TT_VALUES(2.0 * (float)(1.0 / 3), -5, 2.0 * (float)1e-3), 3, 0, 0);
    /* and within f32 precision of the f64 answer */
    tt_assert_values("d/dx vs f64", g, TT_VALUES(2.0 / 3, -5, 2e-3), 3, FLT_EPSILON, 0);

    /* an f32 parameter used in f64 math gets an f32 gradient */
    tg_tensor *p = tt_from(TG_F32, 1, TT_SHAPE(2), TT_VALUES(0.5, -1));
    tg_tensor *w = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(3, 1.0 / 3));
    tg_tensor_set_requires_grad(p, true);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul(tp, tg_cast(tp, p, TG_F64), w))), TG_OK);
    ck_assert_int_eq(tg_tensor_dtype(tg_tensor_grad(p)), TG_F32);
    tt_assert_values("d/dp", tg_tensor_grad(p), TT_VALUES(3, (float)(1.0 / 3)), 2, 0, 0);

    /* an unknown dtype is an error naming cast */
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_cast(tp, x, (tg_dtype)7));
    tt_assert_tape_error(tp, TG_ERR_DTYPE, "cast");
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(p);
    tg_tensor_free(w);

    tg_tensor *q = tt_param(2, TT_SHAPE(2, 3), 5, -2, 2);
    tt_gradcheck("cast f64->f64", f_cast_roundtrip_f64, NULL, 1, &q);
    tg_tensor_free(q);
}
END_TEST

/* Anomaly mode names the op that produced a NaN (log of a negative). */
START_TEST(test_anomaly_names_op)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, -1, 2));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_log(tp, x); /* NaN without anomaly mode: not an error */
    ck_assert_ptr_nonnull(y);
    ck_assert(isnan(tg_tensor_get_flat(y, 1)));
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_reset(tp);
    tg_tape_set_anomaly(tp, true);
    ck_assert_ptr_null(tg_log(tp, x));
    tt_assert_tape_error(tp, TG_ERR_NUMERIC, "log", "NaN");
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* ---- errors --------------------------------------------------------------------- */
static tg_tensor *cast_f32(tg_tape *tp, tg_tensor *x)
{
    return tg_cast(tp, x, TG_F32);
}
typedef struct named_op {
    const char *name;
    un_fn f;
} named_op;
static const named_op k_all[] = {
    {"neg", tg_neg},       {"exp", tg_exp},           {"log", tg_log},         {"sqrt", tg_sqrt},
    {"square", tg_square}, {"abs", tg_abs},           {"sigmoid", tg_sigmoid}, {"tanh", tg_tanh},
    {"relu", tg_relu},     {"softplus", tg_softplus}, {"sign", tg_sign},       {"step", tg_step},
    {"detach", tg_detach}, {"cast", cast_f32},
};
#define N_ALL LEN(k_all)

START_TEST(test_error_paths)
{
    const named_op *op = &k_all[_i];
    tg_tensor *a = tg_tensor_ones(TG_F64, 2, TT_SHAPE(2, 2));
    tg_tensor *bad = tg_tensor_ones(TG_F64, 1, TT_SHAPE(3));

    /* NULL input; NULL tape */
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_ptr_null(op->f(tp, NULL));
    tt_assert_tape_error(tp, TG_ERR_NULL, op->name, "input 0 is NULL");
    ck_assert_ptr_null(op->f(NULL, a));

    /* a tape in error: NULL, nothing recorded, the first error kept */
    tg_tape_reset(tp);
    tg_tensor *ok = op->f(tp, a);
    ck_assert_ptr_nonnull(ok);
    ck_assert_ptr_null(tg_add(tp, a, bad));
    char msg[256];
    snprintf(msg, sizeof msg, "%s", tg_tape_error(tp));
    tg_tape_stats before = tg_tape_usage(tp);
    ck_assert_ptr_null(op->f(tp, a));
    ck_assert_ptr_null(op->f(tp, ok));
    ck_assert_ptr_null(op->f(tp, NULL));
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_tape_error(tp), msg);
    tg_tape_stats after = tg_tape_usage(tp);
    ck_assert_int_eq(after.nodes, before.nodes);
    ck_assert_int_eq(after.tensors, before.tensors);
    ck_assert_uint_eq(after.bytes_in_use, before.bytes_in_use);

    /* a stale tensor from before a reset */
    tg_tape_reset(tp);
    ck_assert_ptr_null(op->f(tp, ok));
    tt_assert_tape_error(tp, TG_ERR_TAPE, op->name, "stale");

    /* a tensor of another tape */
    tg_tape_reset(tp);
    tg_tape *other = tg_tape_new(NULL);
    tg_tensor *y = tg_exp(other, a);
    ck_assert_ptr_null(op->f(tp, y));
    tt_assert_tape_error(tp, TG_ERR_TAPE, op->name, "another tape");
    ck_assert_int_eq(tg_tape_status(other), TG_OK);
    tg_tape_free(other);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(bad);
}
END_TEST

/* ---- the f32 kernels' own exp (src/kernels/vmath.h) ------------------------ */
/* |a - e| in units of the last place of the f32 nearest e (below the normal
 * range, of the smallest subnormal). */
static double ulp_err(float a, double e)
{
    const float r = (float)fabs(e);
    const double ulp = r < FLT_MIN ? 0x1p-149 : (double)nextafterf(r, INFINITY) - r;
    return fabs((double)a - e) / ulp;
}

/* Within 1 ulp of e^x (in f64) over every 1009th f32 of [-104, 89]: normal,
 * subnormal and zero results and the overflow edge; Inf, NaN pass through. */
START_TEST(test_vmath_expf)
{
    double worst = 0;
    float at = 0;
    int64_t n = 0;
    const float ends[2] = {-104.0f, 89.0f}; /* the negative, then the positive floats */
    for (int side = 0; side < 2; side++) {
        uint32_t end;
        memcpy(&end, &ends[side], sizeof end);
        for (uint32_t b = side ? 0u : 0x80000000u; b <= end; b += 1009, n++) {
            float x;
            memcpy(&x, &b, sizeof x);
            const double e = ulp_err(tg__expf(x), exp((double)x));
            if (e > worst) worst = e, at = x;
        }
    }
    ck_assert_msg(worst <= 1.0, "tg__expf: %.3f ulp at %.9g (%lld points)", worst, at,
                  (long long)n);
    ck_assert_int_gt(n, 1000000);
    ck_assert(tg__expf(0.0f) == 1.0f);
    ck_assert(isinf(tg__expf(88.8f)) && isinf(tg__expf(INFINITY)));
    ck_assert(tg__expf(-104.0f) == 0.0f && tg__expf(-INFINITY) == 0.0f);
    ck_assert(tg__expf(-100.0f) > 0.0f); /* a subnormal, not flushed */
    ck_assert(isnan(tg__expf(NAN)));
    /* the sigmoid built on it: within 3 ulp, exact limits, NaN kept */
    worst = 0;
    for (float x = -100.0f; x < 100.0f; x += 0.00390625f) {
        const double e = ulp_err(tg__sigmoidf(x), 1 / (1 + exp(-(double)x)));
        if (e > worst) worst = e, at = x;
    }
    ck_assert_msg(worst <= 3.0, "tg__sigmoidf: %.3f ulp at %.9g", worst, at);
    ck_assert(tg__sigmoidf(0.0f) == 0.5f && tg__sigmoidf(200.0f) == 1.0f);
    ck_assert(tg__sigmoidf(-200.0f) == 0.0f && isnan(tg__sigmoidf(NAN)));
}
END_TEST

int main(void)
{
    for (int i = -1; oc_next(&i, OC_ELEM);) {
        if (N_UNS == LEN(k_uns)) { /* never test fewer rows than the table has */
            fprintf(stderr, "test_activation: more than %d OC_ELEM rows: enlarge k_uns\n",
                    LEN(k_uns));
            return 1;
        }
        k_uns[N_UNS++] = &oc_cases[i];
    }
    Suite *s = suite_create("activation");
    TCase *fw = tcase_create("forward");
    tcase_add_test(fw, test_hand_values);
    tcase_add_test(fw, test_vmath_expf);
    tcase_add_loop_test(fw, test_large_inputs_no_overflow, 0, 2);
    tcase_add_loop_test(fw, test_reference_and_f32, 0, N_UNS);
    tcase_add_test(fw, test_anomaly_names_op);
    suite_add_tcase(s, fw);

    TCase *gr = tcase_create("gradient");
    tcase_add_loop_test(gr, test_gradcheck, 0, N_UNS);
    tcase_add_loop_test(gr, test_f32_gradient, 0, N_UNS);
    tcase_add_test(gr, test_gradient_formulas);
    tcase_add_loop_test(gr, test_kinks_at_zero, 0, 2);
    tcase_add_test(gr, test_zero_gradient_ops);
    tcase_add_test(gr, test_cast);
    suite_add_tcase(s, gr);

    TCase *er = tcase_create("errors");
    tcase_add_loop_test(er, test_error_paths, 0, N_ALL);
    suite_add_tcase(s, er);
    return tt_run(s);
}
