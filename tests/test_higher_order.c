/* Second (and third) derivatives through create-graph mode: a gradient
 * recorded with tg_grad(..., create_graph = true) is differentiated again
 * as a Hessian-vector product and compared with closed forms to 1e-10
 * relative in f64; finite differences of recorded gradients; and the node
 * bookkeeping of plain vs create-graph gradients. */
#include "common.h"

#include <math.h>
#include <stdio.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define RTOL   1e-10 /* hand formula against autodiff, f64 */

static double sig(double x)
{
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

/* ---- unary ops: f'(x) and f''(x) in closed form ------------------------------- */
typedef enum uop {
    O_SIGMOID,
    O_TANH,
    O_EXP,
    O_LOG,
    O_SQRT,
    O_SQUARE,
    O_SOFTPLUS,
    O_POW3,
    O_POW_HALF,
    O_POW_M15,
    O_POW2,
    O_RDIV,
    O_NEG,
    O_ABS,
    O_RELU,
    O_POW1,
    O_MULSC
} uop;

typedef struct ucase {
    const char *name;
    uop op;
    double lo, hi; /* input range: inside the domain */
    bool zero_d2;  /* f'' is identically zero (a.e.) */
} ucase;

static const ucase k_ucases[] = {
    {"sigmoid", O_SIGMOID, -3, 3, false},
    {"tanh", O_TANH, -2, 2, false},
    {"exp", O_EXP, -2, 2, false},
    {"log", O_LOG, 0.3, 3, false},
    {"sqrt", O_SQRT, 0.3, 3, false},
    {"square", O_SQUARE, -2, 2, false},
    {"softplus", O_SOFTPLUS, -3, 3, false},
    {"pow_scalar 3", O_POW3, -2, 2, false},
    {"pow_scalar 0.5", O_POW_HALF, 0.3, 3, false},
    {"pow_scalar -1.5", O_POW_M15, 0.3, 3, false},
    {"pow_scalar 2", O_POW2, -2, 2, false},
    {"rdiv_scalar 1.5", O_RDIV, 0.5, 2, false},
    {"neg", O_NEG, -2, 2, true},
    {"abs", O_ABS, -2, 2, true},
    {"relu", O_RELU, -2, 2, true},
    {"pow_scalar 1", O_POW1, -2, 2, true},
    {"mul_scalar -2", O_MULSC, -2, 2, true},
};
#define N_UCASES LEN(k_ucases)

static tg_tensor *apply_u(tg_tape *tp, uop op, tg_tensor *x)
{
    switch (op) {
    case O_SIGMOID:
        return tg_sigmoid(tp, x);
    case O_TANH:
        return tg_tanh(tp, x);
    case O_EXP:
        return tg_exp(tp, x);
    case O_LOG:
        return tg_log(tp, x);
    case O_SQRT:
        return tg_sqrt(tp, x);
    case O_SQUARE:
        return tg_square(tp, x);
    case O_SOFTPLUS:
        return tg_softplus(tp, x);
    case O_POW3:
        return tg_pow_scalar(tp, x, 3);
    case O_POW_HALF:
        return tg_pow_scalar(tp, x, 0.5);
    case O_POW_M15:
        return tg_pow_scalar(tp, x, -1.5);
    case O_POW2:
        return tg_pow_scalar(tp, x, 2);
    case O_RDIV:
        return tg_rdiv_scalar(tp, 1.5, x);
    case O_NEG:
        return tg_neg(tp, x);
    case O_ABS:
        return tg_abs(tp, x);
    case O_RELU:
        return tg_relu(tp, x);
    case O_POW1:
        return tg_pow_scalar(tp, x, 1);
    default:
        return tg_mul_scalar(tp, x, -2);
    }
}

/* f'(x) (k = 1) and f''(x) (k = 2) */
static double deriv(uop op, int k, double x)
{
    double s = sig(x), t = tanh(x);
    switch (op) {
    case O_SIGMOID:
        return k == 1 ? s * (1 - s) : s * (1 - s) * (1 - 2 * s);
    case O_TANH:
        return k == 1 ? 1 - t * t : -2 * t * (1 - t * t);
    case O_EXP:
        return exp(x);
    case O_LOG:
        return k == 1 ? 1 / x : -1 / (x * x);
    case O_SQRT:
        return k == 1 ? 0.5 / sqrt(x) : -0.25 / (x * sqrt(x));
    case O_SQUARE:
        return k == 1 ? 2 * x : 2;
    case O_SOFTPLUS:
        return k == 1 ? s : s * (1 - s);
    case O_POW3:
        return k == 1 ? 3 * x * x : 6 * x;
    case O_POW_HALF:
        return k == 1 ? 0.5 * pow(x, -0.5) : -0.25 * pow(x, -1.5);
    case O_POW_M15:
        return k == 1 ? -1.5 * pow(x, -2.5) : 3.75 * pow(x, -3.5);
    case O_POW2:
        return k == 1 ? 2 * x : 2;
    case O_RDIV:
        return k == 1 ? -1.5 / (x * x) : 3 / (x * x * x);
    case O_NEG:
        return k == 1 ? -1 : 0;
    case O_ABS:
        return k == 1 ? (x > 0 ? 1 : -1) : 0;
    case O_RELU:
        return k == 1 ? (x > 0) : 0;
    case O_POW1:
        return k == 1 ? 1 : 0;
    default:
        return k == 1 ? -2 : 0;
    }
}

/* g = d sum f(x) / dx recorded; h = d sum(g v) / dx = f''(x) v (the Hessian
 * of an elementwise f is diagonal). */
START_TEST(test_unary_hvp)
{
    const ucase *c = &k_ucases[_i];
    const int64_t *shape = TT_SHAPE(2, 4);
    tg_tensor *x = tt_param(2, shape, 11, c->lo, c->hi);
    tg_tensor *v = tt_rand(TG_F64, 2, shape, 12, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *g = tg_grad(tp, tg_sum_all(tp, apply_u(tp, c->op, x)), x, true);
    ck_assert_msg(g != NULL, "%s: %s", c->name, tg_tape_error(tp));
    /* allow_unused: for an f with f'' = 0, g does not depend on x */
    tg_tensor *h = tg_grad_ex(tp, tg_sum_all(tp, tg_mul(tp, g, v)), x,
                              &(tg_grad_options){.allow_unused = true});
    ck_assert_msg(h != NULL, "%s: %s", c->name, tg_tape_error(tp));
    double d1[8], d2v[8];
    for (int i = 0; i < 8; i++) {
        double xi = tg_tensor_get_flat(x, i);
        d1[i] = deriv(c->op, 1, xi);
        d2v[i] = deriv(c->op, 2, xi) * tg_tensor_get_flat(v, i);
    }
    char what[64];
    snprintf(what, sizeof what, "%s: f'", c->name);
    tt_assert_values(what, g, d1, 8, RTOL, 0);
    snprintf(what, sizeof what, "%s: f'' v", c->name);
    /* f'' = 0 must come out as exact zeros (atol 0) */
    tt_assert_values(what, h, d2v, 8, RTOL, 0);
    if (!c->zero_d2)
        for (int i = 0; i < 8; i++) ck_assert(d2v[i] != 0); /* not a vacuous comparison */
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(v);
}
END_TEST

/* ---- binary ops: the 2x2 block Hessian of sum f(a, b) ---------------------------- */
typedef tg_tensor *(*bin_fn)(tg_tape *, tg_tensor *, tg_tensor *);

/* h_a = H_aa va + H_ab vb, h_b = H_ba va + H_bb vb for same-shaped a, b. */
static void binary_hvp(bin_fn f, const char *name, tg_tensor *a, tg_tensor *b, const double *ha,
                       const double *hb, const double *ga, const double *gb)
{
    int64_t n = tg_tensor_numel(a);
    tg_tensor *va = tt_rand(TG_F64, tg_tensor_ndim(a), tg_tensor_shape(a), 31, -1, 1);
    tg_tensor *vb = tt_rand(TG_F64, tg_tensor_ndim(b), tg_tensor_shape(b), 32, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *xs[2] = {a, b}, *g[2] = {NULL, NULL}, *h[2] = {NULL, NULL};
    tg_tensor *y = tg_sum_all(tp, f(tp, a, b));
    ck_assert_int_eq(tg_vjp(tp, y, NULL, 2, xs, g, true), TG_OK);
    char what[64];
    snprintf(what, sizeof what, "%s: df/da", name);
    tt_assert_values(what, g[0], ga, n, RTOL, 0);
    snprintf(what, sizeof what, "%s: df/db", name);
    tt_assert_values(what, g[1], gb, tg_tensor_numel(b), RTOL, 0);
    tg_tensor *z =
        tg_add(tp, tg_sum_all(tp, tg_mul(tp, g[0], va)), tg_sum_all(tp, tg_mul(tp, g[1], vb)));
    ck_assert_int_eq(tg_vjp(tp, z, NULL, 2, xs, h, false), TG_OK);
    snprintf(what, sizeof what, "%s: (H v)_a", name);
    tt_assert_values(what, h[0], ha, n, RTOL, 0);
    snprintf(what, sizeof what, "%s: (H v)_b", name);
    tt_assert_values(what, h[1], hb, tg_tensor_numel(b), RTOL, 0);
    tg_tape_free(tp);
    tg_tensor_free(va);
    tg_tensor_free(vb);
}

/* The same vectors binary_hvp draws, for computing the expectations. */
static double vget(int which, int64_t ndim, const int64_t *shape, int64_t i)
{
    tg_tensor *v = tt_rand(TG_F64, (int)ndim, shape, which ? 32 : 31, -1, 1);
    double r = tg_tensor_get_flat(v, i);
    tg_tensor_free(v);
    return r;
}

START_TEST(test_mul_hvp)
{
    /* f = sum(a b): H_aa = H_bb = 0, H_ab = I */
    const int64_t *s = TT_SHAPE(5);
    tg_tensor *a = tt_param(1, s, 1, -2, 2), *b = tt_param(1, s, 2, -2, 2);
    double ha[5], hb[5], ga[5], gb[5];
    for (int i = 0; i < 5; i++) {
        ga[i] = tg_tensor_get_flat(b, i);
        gb[i] = tg_tensor_get_flat(a, i);
        ha[i] = vget(1, 1, s, i);
        hb[i] = vget(0, 1, s, i);
    }
    binary_hvp(tg_mul, "mul", a, b, ha, hb, ga, gb);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* mul(x, x): both inputs are x, so the recorded gradient 2x is the sum of
 * two contributions and differentiates to 2 v. */
START_TEST(test_mul_same_input_hvp)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(6), 3, -2, 2);
    tg_tensor *v = tt_rand(TG_F64, 1, TT_SHAPE(6), 4, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *g = tg_grad(tp, tg_sum_all(tp, tg_mul(tp, x, x)), x, true);
    tg_tensor *h = tg_grad(tp, tg_sum_all(tp, tg_mul(tp, g, v)), x, false);
    double e1[6], e2[6];
    for (int i = 0; i < 6; i++) {
        e1[i] = 2 * tg_tensor_get_flat(x, i);
        e2[i] = 2 * tg_tensor_get_flat(v, i);
    }
    tt_assert_values("d x*x", g, e1, 6, RTOL, 0);
    tt_assert_values("d2 x*x v", h, e2, 6, RTOL, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(v);
}
END_TEST

START_TEST(test_div_hvp)
{
    /* f = sum(a / b): df/da = 1/b, df/db = -a/b^2; d2/da2 = 0,
     * d2/dadb = -1/b^2, d2/db2 = 2a/b^3.  b of both signs, |b| >= 0.5. */
    const int64_t *s = TT_SHAPE(2, 3);
    tg_tensor *a = tt_param(2, s, 5, -2, 2);
    tg_tensor *b = tt_from(TG_F64, 2, s, TT_VALUES(0.7, -1.3, 1.9, -0.6, 1.1, 2.4));
    tg_tensor_set_requires_grad(b, true);
    double ha[6], hb[6], ga[6], gb[6];
    for (int i = 0; i < 6; i++) {
        double x = tg_tensor_get_flat(a, i), y = tg_tensor_get_flat(b, i);
        double va = vget(0, 2, s, i), vb = vget(1, 2, s, i);
        ga[i] = 1 / y;
        gb[i] = -x / (y * y);
        ha[i] = -vb / (y * y);
        hb[i] = -va / (y * y) + 2 * x * vb / (y * y * y);
    }
    binary_hvp(tg_div, "div", a, b, ha, hb, ga, gb);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* div with b broadcast along rows: a (2,3), b (3).  f = sum_ij a_ij / b_j;
 * (H v)_a_ij = -vb_j / b_j^2,
 * (H v)_b_j = sum_i (-va_ij / b_j^2) + 2 vb_j sum_i a_ij / b_j^3.
 * Second derivatives pass through sum_to's backward (a broadcast). */
START_TEST(test_div_broadcast_hvp)
{
    const int64_t *sa = TT_SHAPE(2, 3), *sb = TT_SHAPE(3);
    tg_tensor *a = tt_param(2, sa, 6, -2, 2);
    tg_tensor *b = tt_from(TG_F64, 1, sb, TT_VALUES(0.8, -1.4, 1.7));
    tg_tensor_set_requires_grad(b, true);
    double ha[6], hb[3] = {0, 0, 0}, ga[6], gb[3] = {0, 0, 0};
    for (int j = 0; j < 3; j++) {
        double y = tg_tensor_get_flat(b, j), vb = vget(1, 1, sb, j);
        for (int i = 0; i < 2; i++) {
            double x = tg_tensor_get_flat(a, i * 3 + j), va = vget(0, 2, sa, i * 3 + j);
            ga[i * 3 + j] = 1 / y;
            gb[j] += -x / (y * y);
            ha[i * 3 + j] = -vb / (y * y);
            hb[j] += -va / (y * y) + 2 * x * vb / (y * y * y);
        }
    }
    binary_hvp(tg_div, "div (2,3)/(3)", a, b, ha, hb, ga, gb);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

START_TEST(test_pow_hvp)
{
    /* f = sum(a^b), a > 0: df/da = b a^(b-1), df/db = a^b ln a;
     * d2/da2 = b (b-1) a^(b-2), d2/dadb = a^(b-1) (1 + b ln a),
     * d2/db2 = a^b (ln a)^2 */
    const int64_t *s = TT_SHAPE(5);
    tg_tensor *a = tt_param(1, s, 7, 0.5, 2.5);
    tg_tensor *b = tt_param(1, s, 8, -2, 2);
    double ha[5], hb[5], ga[5], gb[5];
    for (int i = 0; i < 5; i++) {
        double x = tg_tensor_get_flat(a, i), y = tg_tensor_get_flat(b, i), l = log(x);
        double va = vget(0, 1, s, i), vb = vget(1, 1, s, i);
        double haa = y * (y - 1) * pow(x, y - 2), hab = pow(x, y - 1) * (1 + y * l),
               hbb = pow(x, y) * l * l;
        ga[i] = y * pow(x, y - 1);
        gb[i] = pow(x, y) * l;
        ha[i] = haa * va + hab * vb;
        hb[i] = hab * va + hbb * vb;
    }
    binary_hvp(tg_pow, "pow", a, b, ha, hb, ga, gb);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* ---- third derivatives: nesting create-graph twice ---------------------------- */
START_TEST(test_third_derivative)
{
    const int64_t *s = TT_SHAPE(6);
    tg_tensor *x = tt_param(1, s, 9, -2, 2);
    tg_tensor *v = tt_rand(TG_F64, 1, s, 10, -1, 1);
    tg_tensor *w = tt_rand(TG_F64, 1, s, 11, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    for (int k = 0; k < 2; k++) {
        tg_tape_reset(tp);
        tg_tensor *y = k ? tg_sigmoid(tp, x) : tg_exp(tp, x);
        tg_tensor *g1 = tg_grad(tp, tg_sum_all(tp, y), x, true);
        tg_tensor *g2 = tg_grad(tp, tg_sum_all(tp, tg_mul(tp, g1, v)), x, true);
        tg_tensor *g3 = tg_grad(tp, tg_sum_all(tp, tg_mul(tp, g2, w)), x, false);
        ck_assert_msg(g3 != NULL, "%s", tg_tape_error(tp));
        double e2[6], e3[6];
        for (int i = 0; i < 6; i++) {
            double xi = tg_tensor_get_flat(x, i), si = sig(xi);
            double vi = tg_tensor_get_flat(v, i), wi = tg_tensor_get_flat(w, i);
            /* exp''' = e^x; sigmoid''' = s (1-s) (1 - 6 s + 6 s^2) */
            double d2 = k ? si * (1 - si) * (1 - 2 * si) : exp(xi);
            double d3 = k ? si * (1 - si) * (1 - 6 * si + 6 * si * si) : exp(xi);
            e2[i] = d2 * vi;
            e3[i] = d3 * vi * wi;
        }
        tt_assert_values(k ? "sigmoid'' v" : "exp'' v", g2, e2, 6, RTOL, 0);
        tt_assert_values(k ? "sigmoid''' v w" : "exp''' v w", g3, e3, 6, RTOL, 0);
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(v);
    tg_tensor_free(w);
}
END_TEST

/* ---- finite differences of recorded gradients ---------------------------------- */
/* gradcheck of x -> d sum f(x) / dx (recorded): checks the Hessian by
 * central differences of the first derivative. */
static tg_tensor *f_unary_grad(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const ucase *c = ctx;
    return tg_grad(tp, tg_sum_all(tp, apply_u(tp, c->op, in[0])), in[0], true);
}

START_TEST(test_unary_gradgradcheck)
{
    const ucase *c = &k_ucases[_i];
    ck_assert(!c->zero_d2); /* the loop covers the non-trivial ones */
    tg_tensor *x = tt_param(2, TT_SHAPE(3, 2), 13, c->lo, c->hi);
    tt_gradcheck(c->name, f_unary_grad, (void *)c, 1, &x);
    tg_tensor_free(x);
}
END_TEST

typedef struct bin_grad_ctx {
    bin_fn f;
    int which; /* return d/da (0) or d/db (1) */
} bin_grad_ctx;

static tg_tensor *f_binary_grad(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const bin_grad_ctx *c = ctx;
    tg_tensor *g[2] = {NULL, NULL};
    if (tg_vjp(tp, tg_sum_all(tp, c->f(tp, in[0], in[1])), NULL, 2, in, g, true) != TG_OK)
        return NULL;
    return g[c->which];
}

START_TEST(test_binary_gradgradcheck)
{
    struct {
        bin_fn f;
        const char *name;
        double alo, ahi, blo, bhi;
        int na;
        int64_t sa[2];
        int nb;
        int64_t sb[2];
        bool zero_aa, zero_bb; /* d2f/da2 (d2f/db2) is identically zero */
    } cases[] = {
        {tg_mul, "mul", -2, 2, -2, 2, 2, {2, 3}, 2, {2, 3}, true, true},
        {tg_mul, "mul (2,3)*(3)", -2, 2, -2, 2, 2, {2, 3}, 1, {3}, true, true},
        {tg_div, "div", -2, 2, 0.5, 2, 2, {2, 3}, 2, {2, 3}, true, false},
        {tg_div, "div (2,3)/(2,1)", -2, 2, 0.5, 2, 2, {2, 3}, 2, {2, 1}, true, false},
        {tg_pow, "pow", 0.5, 2, -2, 2, 2, {2, 3}, 2, {2, 3}, false, false},
        {tg_pow, "pow (3)^0-d", 0.5, 2, -2, 2, 1, {3}, 0, {0}, false, false},
    };
    for (int k = 0; k < LEN(cases); k++) {
        tg_tensor *in[2] = {tt_param(cases[k].na, cases[k].sa, 40 + k, cases[k].alo, cases[k].ahi),
                            tt_param(cases[k].nb, cases[k].sb, 50 + k, cases[k].blo, cases[k].bhi)};
        for (int which = 0; which < 2; which++) {
            bin_grad_ctx ctx = {cases[k].f, which};
            char what[64];
            snprintf(what, sizeof what, "%s: d/d%c", cases[k].name, which ? 'b' : 'a');
            /* a block that is identically zero (checked exactly by the
             * closed-form tests) would make its input's check vacuous:
             * differentiate df/da (df/db) only by the other input then */
            tg_tensor_set_requires_grad(in[0], !(which == 0 && cases[k].zero_aa));
            tg_tensor_set_requires_grad(in[1], !(which == 1 && cases[k].zero_bb));
            tt_gradcheck(what, f_binary_grad, &ctx, 2, in);
        }
        tg_tensor_free(in[0]);
        tg_tensor_free(in[1]);
    }
}
END_TEST

/* ---- node bookkeeping ---------------------------------------------------------- */
START_TEST(test_create_graph_records_nodes)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(4), 14, -2, 2);
    tg_tensor *v = tt_rand(TG_F64, 1, TT_SHAPE(4), 15, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *z = tg_sigmoid(tp, x);
    tg_tensor *y = tg_sum_all(tp, tg_mul(tp, z, z));
    int64_t n0 = tg_tape_usage(tp).nodes;
    ck_assert_int_eq(n0, 3);

    /* plain gradients (of a leaf and of an intermediate) record nothing */
    tg_tensor *gx = tg_grad(tp, y, x, false);
    tg_tensor *gz = tg_grad(tp, y, z, false);
    ck_assert_ptr_nonnull(gx);
    ck_assert_ptr_nonnull(gz);
    ck_assert_int_eq(tg_tape_usage(tp).nodes, n0);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    ck_assert_int_eq(tg_tape_usage(tp).nodes, n0);
    double ez[4];
    for (int i = 0; i < 4; i++) ez[i] = 2 * tg_tensor_get_flat(z, i);
    tt_assert_values("dy/dz", gz, ez, 4, RTOL, 0);
    /* so a plain gradient is a constant: differentiating it gives zero */
    int64_t n1 = tg_tape_usage(tp).nodes;
    tg_tensor *h0 = tg_grad_ex(tp, tg_sum_all(tp, tg_mul(tp, gx, v)), x,
                               &(tg_grad_options){.allow_unused = true});
    tt_assert_values("d(plain grad)", h0, TT_VALUES(0, 0, 0, 0), 4, 0, 0);
    ck_assert_int_eq(tg_tape_usage(tp).nodes, n1 + 2); /* the mul and the sum */

    /* create_graph records the backward computation */
    int64_t n2 = tg_tape_usage(tp).nodes;
    tg_tensor *gc = tg_grad(tp, y, x, true);
    ck_assert_ptr_nonnull(gc);
    ck_assert_int_gt(tg_tape_usage(tp).nodes, n2);
    /* the same values as the plain gradient */
    tt_assert_close("plain vs create_graph", gc, gx, 0, 0);
    /* and now the second derivative is not zero:
     * y = sum s^2, y' = 2 s s', y'' = 2 (s'^2 + s s'') */
    tg_tensor *h = tg_grad(tp, tg_sum_all(tp, tg_mul(tp, gc, v)), x, false);
    double eh[4];
    for (int i = 0; i < 4; i++) {
        double s = sig(tg_tensor_get_flat(x, i)), d1 = s * (1 - s), d2 = d1 * (1 - 2 * s);
        eh[i] = 2 * (d1 * d1 + s * d2) * tg_tensor_get_flat(v, i);
    }
    tt_assert_values("y'' v", h, eh, 4, RTOL, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(v);
}
END_TEST

/* ---- matmul --------------------------------------------------------------------- */
/* f = sum((X W)^2): df/dW = 2 X^T X W, d2f/dW2 v = 2 X^T X V, and the mixed
 * term d<df/dW, V>/dX = 2 X (W V^T + V W^T); all by plain loops. */
START_TEST(test_matmul_hvp)
{
    enum { M = 3, K = 4, N = 2 };
    tg_tensor *X = tt_param(2, TT_SHAPE(M, K), 16, -1, 1);
    tg_tensor *W = tt_param(2, TT_SHAPE(K, N), 17, -1, 1);
    tg_tensor *V = tt_rand(TG_F64, 2, TT_SHAPE(K, N), 18, -1, 1);
    const double *x = tg_tensor_f64(X), *w = tg_tensor_f64(W), *vv = tg_tensor_f64(V);
    double xtx[K][K] = {{0}}, gw[K * N] = {0}, hw[K * N] = {0}, hx[M * K] = {0};
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++)
            for (int m = 0; m < M; m++) xtx[i][j] += x[m * K + i] * x[m * K + j];
    for (int i = 0; i < K; i++)
        for (int n = 0; n < N; n++)
            for (int j = 0; j < K; j++) {
                gw[i * N + n] += 2 * xtx[i][j] * w[j * N + n];
                hw[i * N + n] += 2 * xtx[i][j] * vv[j * N + n];
            }
    /* A = W V^T + V W^T (K x K) */
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < K; j++) {
                double a = 0;
                for (int n = 0; n < N; n++) a += w[k * N + n] * vv[j * N + n];
                for (int n = 0; n < N; n++) a += vv[k * N + n] * w[j * N + n];
                hx[m * K + k] += 2 * x[m * K + j] * a;
            }
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_all(tp, tg_square(tp, tg_matmul(tp, X, W)));
    ck_assert_msg(y != NULL, "%s", tg_tape_error(tp));
    tg_tensor *g = tg_grad(tp, y, W, true);
    ck_assert_msg(g != NULL, "%s", tg_tape_error(tp));
    tt_assert_values("df/dW", g, gw, K * N, RTOL, 0);
    tg_tensor *xs[2] = {W, X}, *h[2] = {NULL, NULL};
    ck_assert_int_eq(tg_vjp(tp, tg_sum_all(tp, tg_mul(tp, g, V)), NULL, 2, xs, h, false), TG_OK);
    tt_assert_values("d2f/dW2 V", h[0], hw, K * N, RTOL, 0);
    tt_assert_values("d2f/dXdW V", h[1], hx, M * K, RTOL, 0);
    tg_tape_free(tp);
    tg_tensor_free(X);
    tg_tensor_free(W);
    tg_tensor_free(V);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("higher_order");
    TCase *tc = tcase_create("closed_forms");
    tcase_add_loop_test(tc, test_unary_hvp, 0, N_UCASES);
    tcase_add_test(tc, test_mul_hvp);
    tcase_add_test(tc, test_mul_same_input_hvp);
    tcase_add_test(tc, test_div_hvp);
    tcase_add_test(tc, test_div_broadcast_hvp);
    tcase_add_test(tc, test_pow_hvp);
    tcase_add_test(tc, test_third_derivative);
    tcase_add_test(tc, test_matmul_hvp);
    suite_add_tcase(s, tc);

    TCase *fd = tcase_create("finite_differences");
    int n_nontrivial = 0;
    while (n_nontrivial < N_UCASES && !k_ucases[n_nontrivial].zero_d2) n_nontrivial++;
    tcase_add_loop_test(fd, test_unary_gradgradcheck, 0, n_nontrivial);
    tcase_add_test(fd, test_binary_gradgradcheck);
    suite_add_tcase(s, fd);

    TCase *bk = tcase_create("bookkeeping");
    tcase_add_test(bk, test_create_graph_records_nodes);
    suite_add_tcase(s, bk);
    return tt_run(s);
}
