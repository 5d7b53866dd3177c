/* The elementary functions (src/ops/elementary.c), the activations beyond
 * the seed networks' (src/ops/activation.c) and the binary atan2 and hypot
 * (src/ops/elementwise.c), issue 19, item 1: values and derivatives against
 * textbook values (30-digit evaluations), the domains' edges (NaN and inf,
 * never an error), PyTorch's gradients at the corners of the piecewise
 * ones, the attributes, broadcasting, zero-size inputs, second derivatives
 * through the op-built rules, and the error paths.  The generic checks
 * (gradcheck over shapes, f32 against f64, direct and scalar rules) run on
 * their rows of tests/op_cases.h. */
#include "common.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef tg_tensor *(*un_fn)(tg_tape *, tg_tensor *);

/* y = f(x) and d sum(f(x)) / dx at the given points, in f64, against the
 * expected values (rtol). */
static void check_point(const char *what, un_fn f, int n, const double *x, const double *y,
                        const double *d, double rtol)
{
    tg_tensor *t = tt_from(TG_F64, 1, (int64_t[]){n}, x);
    tg_tensor_set_requires_grad(t, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *out = f(tp, t);
    ck_assert_msg(out != NULL, "%s: %s", what, tg_tape_error(tp));
    tt_assert_values(what, out, y, n, rtol, 0);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, out)), TG_OK);
    tt_assert_values(what, tg_tensor_grad(t), d, n, rtol, 0);
    tg_tape_free(tp);
    tg_tensor_free(t);
}

/* the attribute ops with this file's attributes, as un_fn */
static tg_tensor *leaky_01(tg_tape *tp, tg_tensor *x)
{
    return tg_leaky_relu(tp, x, 0.1);
}
static tg_tensor *elu_13(tg_tape *tp, tg_tensor *x)
{
    return tg_elu(tp, x, 1.3);
}
static tg_tensor *hardtanh_m1_2(tg_tape *tp, tg_tensor *x)
{
    return tg_hardtanh(tp, x, -1, 2);
}

/* ---- textbook values ------------------------------------------------------ */
START_TEST(test_closed_forms)
{
    const double pi = 3.14159265358979323846;
    check_point("tan", tg_tan, 2, TT_VALUES(0, 1), TT_VALUES(0, 1.5574077246549022305),
                TT_VALUES(1, 3.4255188208147597609), 1e-15);
    check_point("asin", tg_asin, 2, TT_VALUES(0, 0.5), TT_VALUES(0, pi / 6),
                TT_VALUES(1, 1.1547005383792515290), 1e-15);
    check_point("acos", tg_acos, 2, TT_VALUES(0, 0.5), TT_VALUES(pi / 2, pi / 3),
                TT_VALUES(-1, -1.1547005383792515290), 1e-15);
    check_point("atan", tg_atan, 2, TT_VALUES(0, 1), TT_VALUES(0, pi / 4), TT_VALUES(1, 0.5),
                1e-15);
    check_point("sinh", tg_sinh, 2, TT_VALUES(0, 1), TT_VALUES(0, 1.1752011936438014569),
                TT_VALUES(1, 1.5430806348152437785), 1e-15);
    check_point("cosh", tg_cosh, 2, TT_VALUES(0, 1), TT_VALUES(1, 1.5430806348152437785),
                TT_VALUES(0, 1.1752011936438014569), 1e-15);
    check_point("asinh", tg_asinh, 2, TT_VALUES(0, 1), TT_VALUES(0, 0.88137358701954302523),
                TT_VALUES(1, 0.70710678118654752440), 1e-15);
    check_point("acosh", tg_acosh, 1, TT_VALUES(2), TT_VALUES(1.3169578969248167086),
                TT_VALUES(0.57735026918962576451), 1e-15);
    check_point("atanh", tg_atanh, 2, TT_VALUES(0, 0.5), TT_VALUES(0, 0.54930614433405484570),
                TT_VALUES(1, 4.0 / 3), 1e-15);
    /* erf'(x) = 2/sqrt(pi) e^(-x^2) */
    check_point("erf", tg_erf, 3, TT_VALUES(0, 0.5, 1),
                TT_VALUES(0, 0.52049987781304653768, 0.84270079294971486934),
                TT_VALUES(1.1283791670955125739, 0.87878257893544479409, 0.41510749742059470334),
                2e-15);
    check_point("erfc", tg_erfc, 2, TT_VALUES(1, 5),
                TT_VALUES(0.15729920705028513066, 1.5374597944280348502e-12),
                TT_VALUES(-0.41510749742059470334, -1.5670866531017335308e-11), 1e-14);
    /* expm1 and log1p keep the digits that e^x - 1 and ln(1 + x) lose */
    check_point("expm1", tg_expm1, 2, TT_VALUES(1e-10, 1),
                TT_VALUES(1.00000000005e-10, 1.7182818284590452354),
                TT_VALUES(1.0000000001, 2.7182818284590452354), 1e-15);
    check_point("log1p", tg_log1p, 2, TT_VALUES(1e-10, 1),
                TT_VALUES(9.9999999995e-11, 0.69314718055994530942), TT_VALUES(0.9999999999, 0.5),
                1e-15);
    check_point("log2", tg_log2, 2, TT_VALUES(1, 8), TT_VALUES(0, 3),
                TT_VALUES(1.4426950408889634074, 0.18033688011112042592), 1e-15);
    check_point("log10", tg_log10, 2, TT_VALUES(1, 1000), TT_VALUES(0, 3),
                TT_VALUES(0.43429448190325182765, 4.3429448190325182765e-4), 1e-15);
    check_point("exp2", tg_exp2, 2, TT_VALUES(0, 10), TT_VALUES(1, 1024),
                TT_VALUES(0.69314718055994530942, 709.78271289338399684), 1e-15);
    check_point("cbrt", tg_cbrt, 2, TT_VALUES(-27, 8), TT_VALUES(-3, 2),
                TT_VALUES(1.0 / 27, 1.0 / 12), 1e-15);
    check_point("reciprocal", tg_reciprocal, 2, TT_VALUES(-4, 0.5), TT_VALUES(-0.25, 2),
                TT_VALUES(-0.0625, -4), 0);
    check_point("rsqrt", tg_rsqrt, 2, TT_VALUES(4, 0.25), TT_VALUES(0.5, 2), TT_VALUES(-0.0625, -4),
                0);
    /* gelu(0) = 0 with slope 1/2; gelu(1) = Phi(1); gelu(-3) small and
     * accurate (the erfc form has no cancellation) */
    check_point("gelu", tg_gelu, 3, TT_VALUES(0, 1, -3),
                TT_VALUES(0, 0.84134474606854294859, -0.0040496940948902835800),
                TT_VALUES(0.5, 1.0833154705876862984, -0.011945647204183927000), 1e-14);
    check_point("gelu_tanh", tg_gelu_tanh, 2, TT_VALUES(0, 1), TT_VALUES(0, 0.84119199060827670478),
                TT_VALUES(0.5, 1.0829640838457825551), 1e-15);
    check_point("silu", tg_silu, 2, TT_VALUES(0, 1), TT_VALUES(0, 0.73105857863000487925),
                TT_VALUES(0.5, 0.92767051187148673179), 1e-15);
    /* mish'(0) = tanh(ln 2) = 3/5 */
    check_point("mish", tg_mish, 2, TT_VALUES(0, 1), TT_VALUES(0, 0.86509838826731034612),
                TT_VALUES(0.6, 1.0490362200997921591), 1e-15);
    check_point("softsign", tg_softsign, 3, TT_VALUES(1, -3, 0), TT_VALUES(0.5, -0.75, 0),
                TT_VALUES(0.25, 0.0625, 1), 0);
}
END_TEST

/* The piecewise activations on each piece and at each corner: PyTorch's
 * gradient there (leaky_relu and elu the left piece's, hardtanh 0). */
START_TEST(test_corners)
{
    check_point("leaky_relu", leaky_01, 4, TT_VALUES(-2, 0, 3, -0.0), TT_VALUES(-0.2, 0, 3, 0),
                TT_VALUES(0.1, 0.1, 1, 0.1), 1e-16);
    check_point("elu", elu_13, 3, TT_VALUES(-1, 0, 2),
                TT_VALUES(1.3 * -0.63212055882855767840, 0, 2),
                TT_VALUES(1.3 * 0.36787944117144232160, 1.3, 1), 1e-15);
    check_point("hardtanh", hardtanh_m1_2, 6, TT_VALUES(-3, -1, 0.5, 2, 5, 1.999),
                TT_VALUES(-1, -1, 0.5, 2, 2, 1.999), TT_VALUES(0, 0, 1, 0, 0, 1), 0);
    /* elu at a large x: the op-built rule's e^min(x, 0) keeps 0 * inf out */
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(800, -800));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *g = tg_grad(tp, tg_sum_all(tp, elu_13(tp, x)), x, true);
    ck_assert_msg(g != NULL, "%s", tg_tape_error(tp));
    tt_assert_values("elu grad at +-800", g, TT_VALUES(1, 0), 2, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* Outside a domain or at its edge: libm's value and the rule's inf or NaN,
 * never an error (anomaly mode names the op). */
START_TEST(test_domains)
{
    struct {
        const char *name;
        un_fn f;
        double x, y, d; /* y, d: NAN for NaN */
    } k[] = {
        {"acosh", tg_acosh, 1, 0, INFINITY},
        {"acosh", tg_acosh, 0.5, NAN, NAN},
        {"atanh", tg_atanh, 1, INFINITY, INFINITY},
        {"atanh", tg_atanh, -1, -INFINITY, INFINITY},
        {"atanh", tg_atanh, 2, NAN, -1.0 / 3},
        {"asin", tg_asin, 1, 1.57079632679489661923, INFINITY},
        {"asin", tg_asin, 1.5, NAN, NAN},
        {"acos", tg_acos, -1, 3.14159265358979323846, -INFINITY},
        {"log2", tg_log2, 0, -INFINITY, INFINITY},
        {"log10", tg_log10, -1, NAN, -0.43429448190325182765},
        {"log1p", tg_log1p, -1, -INFINITY, INFINITY},
        {"rsqrt", tg_rsqrt, 0, INFINITY, -INFINITY},
        {"reciprocal", tg_reciprocal, 0, INFINITY, -INFINITY},
        {"cbrt", tg_cbrt, 0, 0, INFINITY},
    };
    for (int i = 0; i < LEN(k); i++) {
        char what[64];
        snprintf(what, sizeof what, "%s(%g)", k[i].name, k[i].x);
        tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(1), &k[i].x);
        tg_tensor_set_requires_grad(x, true);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = k[i].f(tp, x);
        ck_assert_msg(y != NULL, "%s: %s", what, tg_tape_error(tp));
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_OK);
        const double yv = tg_tensor_get_flat(y, 0), dv = tg_tensor_get_flat(tg_tensor_grad(x), 0);
        if (isnan(k[i].y))
            ck_assert_msg(isnan(yv), "%s = %g", what, yv);
        else
            ck_assert_msg(yv == k[i].y || fabs(yv - k[i].y) < 1e-15, "%s = %g", what, yv);
        if (isnan(k[i].d))
            ck_assert_msg(isnan(dv), "%s: d = %g", what, dv);
        else
            ck_assert_msg(dv == k[i].d || fabs(dv - k[i].d) < 1e-15, "%s: d = %g", what, dv);
        /* anomaly mode refuses the non-finite value, naming the op */
        if (!isfinite(k[i].y)) {
            tg_tape_reset(tp);
            tg_tape_set_anomaly(tp, true);
            ck_assert_ptr_null(k[i].f(tp, x));
            tt_assert_tape_error(tp, TG_ERR_NUMERIC, k[i].name);
        }
        tg_tape_free(tp);
        tg_tensor_free(x);
    }
}
END_TEST

/* ---- attributes ------------------------------------------------------------ */
START_TEST(test_attributes)
{
    /* hardtanh's bounds: lo above hi (or a NaN bound) is an error naming
     * the op, the bounds and the shape; lo == hi is a constant */
    tg_tensor *a = tg_tensor_ones(TG_F64, 2, TT_SHAPE(2, 3));
    EXPECT_ERR(tg_hardtanh(tp, a, 1, -1), TG_ERR_ARG, "hardtanh: lo 1 is not at most hi -1",
               "(2,3)");
    EXPECT_ERR(tg_hardtanh(tp, a, NAN, 1), TG_ERR_ARG, "hardtanh", "nan");
    EXPECT_ERR(tg_hardtanh(tp, a, -1, NAN), TG_ERR_ARG, "hardtanh", "nan");
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_hardtanh(tp, a, 0.5, 0.5);
    ck_assert_ptr_nonnull(y);
    tt_assert_values("hardtanh(1; 0.5, 0.5)", y, TT_VALUES(0.5, 0.5, 0.5, 0.5, 0.5, 0.5), 6, 0, 0);
    /* a negative slope and alpha are allowed (PyTorch's too) */
    tg_tensor *x = tt_param(2, TT_SHAPE(3, 4), 7, -2, 2);
    for (double s = -1.5; s <= 1.5; s += 1.5) {
        tg_tensor_set_requires_grad(x, true);
        tg_tape_reset(tp);
        tg_tensor *g = tg_grad(tp, tg_sum_all(tp, tg_leaky_relu(tp, x, s)), x, false);
        ck_assert_ptr_nonnull(g);
        for (int64_t i = 0; i < 12; i++)
            ck_assert(tg_tensor_get_flat(g, i) == (tg_tensor_get_flat(x, i) > 0 ? 1 : s));
        tg_tape_reset(tp);
        g = tg_grad(tp, tg_sum_all(tp, tg_elu(tp, x, s)), x, false);
        ck_assert_ptr_nonnull(g);
        for (int64_t i = 0; i < 12; i++) {
            const double v = tg_tensor_get_flat(x, i);
            ck_assert(tg_tensor_get_flat(g, i) == (v > 0 ? 1 : s * exp(v)));
        }
    }
    /* f32: the attribute is rounded once, as the forward pass uses it */
    tg_tensor *x32 = tt_from(TG_F32, 1, TT_SHAPE(2), TT_VALUES(-1, 1));
    tg_tape_reset(tp);
    y = tg_leaky_relu(tp, x32, 0.1);
    ck_assert(tg_tensor_get_flat(y, 0) == (double)(-0.1f));
    tg_tape_free(tp);
    tg_tensor_free(x32);
    tg_tensor_free(x);
    tg_tensor_free(a);
}
END_TEST

typedef struct attr_case {
    const char *name;
    int op; /* 0 leaky_relu, 1 elu, 2 hardtanh */
    double p, q;
} attr_case;
static const attr_case k_attr[] = {
    {"leaky_relu 0.2", 0, 0.2, 0},
    {"leaky_relu -0.5", 0, -0.5, 0},
    {"elu 1", 1, 1, 0},
    {"elu 0.4", 1, 0.4, 0},
    {"hardtanh -1 1", 2, -1, 1},
    {"hardtanh -0.3 0.8", 2, -0.3, 0.8},
};

static tg_tensor *call_attr(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const attr_case *c = ctx;
    tg_tensor *y = c->op == 0   ? tg_leaky_relu(tp, in[0], c->p)
                   : c->op == 1 ? tg_elu(tp, in[0], c->p)
                                : tg_hardtanh(tp, in[0], c->p, c->q);
    /* times x, so that hardtanh's flat pieces still have a gradient */
    return tg_mul(tp, y, in[0]);
}

/* f64 gradcheck of the attribute ops, several attributes and shapes */
START_TEST(test_attr_gradcheck)
{
    const attr_case *c = &k_attr[_i];
    const struct {
        int nd;
        int64_t s[4];
    } shapes[] = {{0, {0}}, {1, {5}}, {2, {3, 4}}, {4, {2, 1, 3, 2}}};
    for (int k = 0; k < LEN(shapes); k++) {
        tg_tensor *x = tt_param(shapes[k].nd, shapes[k].s, 40 + k, -2, 2);
        tt_gradcheck(c->name, call_attr, (void *)c, 1, &x);
        tg_tensor_free(x);
    }
}
END_TEST

/* ---- atan2 and hypot ------------------------------------------------------- */
START_TEST(test_binary_values)
{
    const double pi = 3.14159265358979323846;
    tg_tensor *a = tt_from(TG_F64, 1, TT_SHAPE(4), TT_VALUES(1, 1, -1, 0));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(4), TT_VALUES(1, -1, -1, -1));
    tg_tensor_set_requires_grad(a, true);
    tg_tensor_set_requires_grad(b, true);
    tg_tape *tp = tg_tape_new(NULL);
    /* the four quadrants */
    tg_tensor *y = tg_atan2(tp, a, b);
    tt_assert_values("atan2", y, TT_VALUES(pi / 4, 3 * pi / 4, -3 * pi / 4, pi), 4, 1e-15, 0);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_OK);
    /* d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2) */
    tt_assert_values("atan2 d/da", tg_tensor_grad(a), TT_VALUES(0.5, -0.5, -0.5, -1), 4, 0, 0);
    tt_assert_values("atan2 d/db", tg_tensor_grad(b), TT_VALUES(-0.5, -0.5, 0.5, 0), 4, 0, 0);
    tg_tape_reset(tp);
    tg_tensor *c = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(3, -5, INFINITY));
    tg_tensor *d = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(4, 12, NAN));
    y = tg_hypot(tp, c, d);
    /* hypot(inf, NaN) = inf, as C's */
    tt_assert_values("hypot", y, TT_VALUES(5, 13, INFINITY), 3, 0, 0);
    /* d/da = a / y at (3, 4) and (-5, 12) */
    tg_tensor_set_requires_grad(c, true);
    tg_tape_reset(tp);
    tg_tensor *g = tg_grad(tp, tg_sum_all(tp, tg_hypot(tp, c, d)), c, false);
    ck_assert_ptr_nonnull(g);
    ck_assert(tg_tensor_get_flat(g, 0) == 0.6 && tg_tensor_get_flat(g, 1) == -5.0 / 13);
    /* at a = b = 0 the gradient is 0/0 = NaN (PyTorch's too), not an error */
    tg_tensor *z = tg_tensor_zeros(TG_F64, 1, TT_SHAPE(1));
    tg_tensor_set_requires_grad(z, true);
    tg_tape_reset(tp);
    g = tg_grad(tp, tg_sum_all(tp, tg_atan2(tp, z, z)), z, false);
    ck_assert_ptr_nonnull(g);
    ck_assert(isnan(tg_tensor_get_flat(g, 0)));
    tg_tape_reset(tp);
    g = tg_grad(tp, tg_sum_all(tp, tg_hypot(tp, z, z)), z, false);
    ck_assert_ptr_nonnull(g);
    ck_assert(isnan(tg_tensor_get_flat(g, 0)));
    tg_tape_free(tp);
    tg_tensor_free(z);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(c);
    tg_tensor_free(d);
}
END_TEST

static tg_tensor *call_bin(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    return *(const int *)ctx ? tg_hypot(tp, in[0], in[1]) : tg_atan2(tp, in[0], in[1]);
}

/* f64 gradcheck with broadcasting: each gradient summed back to its
 * operand's shape */
START_TEST(test_binary_broadcast_gradcheck)
{
    static const int which[2] = {0, 1};
    const struct {
        int na, nb;
        int64_t sa[3], sb[3];
    } k[] = {
        {2, 1, {2, 3}, {3}},
        {3, 2, {2, 1, 3}, {4, 1}},
        {0, 2, {0}, {2, 3}},
        {2, 2, {3, 1}, {1, 4}},
    };
    for (int i = 0; i < LEN(k); i++) {
        tg_tensor *in[2] = {tt_param(k[i].na, k[i].sa, 50 + i, 0.3, 2),
                            tt_param(k[i].nb, k[i].sb, 60 + i, -2, -0.3)};
        tt_gradcheck(_i ? "hypot" : "atan2", call_bin, (void *)&which[_i], 2, in);
        tg_tensor_free(in[0]);
        tg_tensor_free(in[1]);
    }
}
END_TEST

/* ---- every new op: zero-size inputs, second order, errors ------------------ */
static tg_tensor *atan2_x_c(tg_tape *tp, tg_tensor *x)
{
    return tg_atan2(tp, x, tg_add_scalar(tp, tg_square(tp, x), 1));
}
static tg_tensor *hypot_x_c(tg_tape *tp, tg_tensor *x)
{
    return tg_hypot(tp, x, tg_add_scalar(tp, x, 0.5));
}

typedef struct named_op {
    const char *name;
    un_fn f;
    double lo, hi; /* a range inside the domain, away from the kinks' trouble */
} named_op;
static const named_op k_ops[] = {
    {"tan", tg_tan, -1, 1},
    {"asin", tg_asin, -0.8, 0.8},
    {"acos", tg_acos, -0.8, 0.8},
    {"atan", tg_atan, -2, 2},
    {"sinh", tg_sinh, -2, 2},
    {"cosh", tg_cosh, -2, 2},
    {"asinh", tg_asinh, -2, 2},
    {"acosh", tg_acosh, 1.2, 3},
    {"atanh", tg_atanh, -0.8, 0.8},
    {"erf", tg_erf, -2, 2},
    {"erfc", tg_erfc, -2, 2},
    {"expm1", tg_expm1, -2, 2},
    {"log1p", tg_log1p, -0.5, 2},
    {"log2", tg_log2, 0.3, 3},
    {"log10", tg_log10, 0.3, 3},
    {"exp2", tg_exp2, -2, 2},
    {"cbrt", tg_cbrt, 0.3, 3},
    {"reciprocal", tg_reciprocal, 0.3, 3},
    {"rsqrt", tg_rsqrt, 0.3, 3},
    {"silu", tg_silu, -3, 3},
    {"gelu", tg_gelu, -3, 3},
    {"gelu_tanh", tg_gelu_tanh, -3, 3},
    {"softsign", tg_softsign, 0.2, 3},
    {"mish", tg_mish, -3, 3},
    {"leaky_relu", leaky_01, -2, 2},
    {"elu", elu_13, -2, 2},
    {"hardtanh", hardtanh_m1_2, -2, 3},
    {"atan2", atan2_x_c, -2, 2},
    {"hypot", hypot_x_c, 0.3, 2},
};

START_TEST(test_zero_size)
{
    const named_op *op = &k_ops[_i];
    tg_tensor *x = tg_tensor_zeros(TG_F64, 2, TT_SHAPE(0, 3));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = op->f(tp, x);
    ck_assert_msg(y != NULL, "%s: %s", op->name, tg_tape_error(tp));
    tt_assert_shape(y, 2, TT_SHAPE(0, 3));
    tg_tensor *g = tg_grad_ex(tp, tg_sum_all(tp, y), x, &(tg_grad_options){.allow_unused = true});
    ck_assert_msg(g != NULL, "%s: %s", op->name, tg_tape_error(tp));
    tt_assert_shape(g, 2, TT_SHAPE(0, 3));
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* d sum(f(x)) / dx, recorded: its gradcheck checks the op-built rule's own
 * derivative (what create_graph differentiates) */
static tg_tensor *call_grad(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const named_op *op = ctx;
    return tg_grad(tp, tg_sum_all(tp, op->f(tp, in[0])), in[0], true);
}

START_TEST(test_second_order)
{
    const named_op *op = &k_ops[_i];
    tg_tensor *x = tt_param(2, TT_SHAPE(2, 3), 70 + _i, op->lo, op->hi);
    /* the piecewise-linear ones have a zero second derivative: not vacuous
     * through the mul in call_attr, so they are checked there instead */
    const bool linear = strcmp(op->name, "leaky_relu") == 0 || strcmp(op->name, "hardtanh") == 0;
    tt_gradcheck_ex(op->name, call_grad, (void *)op, 1, &x, NULL, linear);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_error_paths)
{
    const named_op *op = &k_ops[_i];
    tg_tensor *a = tg_tensor_ones(TG_F64, 2, TT_SHAPE(2, 2));
    tg_tape *tp = tg_tape_new(NULL);
    /* NULL input; NULL tape */
    ck_assert_ptr_null(op->f(tp, NULL));
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_NULL);
    ck_assert_ptr_null(op->f(NULL, a));
    /* a tensor of another tape */
    tg_tape_reset(tp);
    tg_tape *other = tg_tape_new(NULL);
    tg_tensor *y = tg_exp(other, a);
    ck_assert_ptr_null(op->f(tp, y));
    tt_assert_tape_error(tp, TG_ERR_TAPE, "another tape");
    tg_tape_free(other);
    /* an integer tensor is data only */
    tg_tape_reset(tp);
    tg_tensor *i64 = tg_tensor_zeros(TG_I64, 1, TT_SHAPE(2));
    ck_assert_ptr_null(op->f(tp, i64));
    tt_assert_tape_error(tp, TG_ERR_DTYPE, "i64");
    /* a tape in error stays in error, nothing recorded */
    tg_tape_reset(tp);
    tg_tensor *b3 = tg_tensor_ones(TG_F64, 1, TT_SHAPE(3));
    ck_assert_ptr_null(tg_add(tp, a, b3));
    const int64_t nodes = tg_tape_usage(tp).nodes;
    ck_assert_ptr_null(op->f(tp, a));
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_SHAPE);
    ck_assert_int_eq(tg_tape_usage(tp).nodes, nodes);
    tg_tape_free(tp);
    tg_tensor_free(i64);
    tg_tensor_free(b3);
    tg_tensor_free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("elementary");
    TCase *v = tcase_create("values");
    tcase_add_test(v, test_closed_forms);
    tcase_add_test(v, test_corners);
    tcase_add_test(v, test_domains);
    tcase_add_test(v, test_attributes);
    tcase_add_test(v, test_binary_values);
    suite_add_tcase(s, v);
    TCase *g = tcase_create("gradient");
    tcase_add_loop_test(g, test_attr_gradcheck, 0, LEN(k_attr));
    tcase_add_loop_test(g, test_binary_broadcast_gradcheck, 0, 2);
    tcase_add_loop_test(g, test_second_order, 0, LEN(k_ops));
    suite_add_tcase(s, g);
    TCase *e = tcase_create("edges");
    tcase_add_loop_test(e, test_zero_size, 0, LEN(k_ops));
    tcase_add_loop_test(e, test_error_paths, 0, LEN(k_ops));
    suite_add_tcase(s, e);
    return tt_run(s);
}
