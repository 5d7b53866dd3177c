/* The scalar tape (include/tapegrad/scalar.h): every operation against
 * central differences and against the tensor API's one-element rule, the
 * singular points where both follow PyTorch's conventions, a whole function
 * against its hand gradient, and the error model. */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the operation table -------------------------------------------------------- */
typedef tg_sv (*s_fn)(tg_stape *st, const tg_sv *x);
typedef tg_tensor *(*t_fn)(tg_tape *tp, tg_tensor *const *x);

typedef struct op_case {
    const char *name;
    int arity;
    s_fn s;           /* on the scalar tape */
    t_fn t;           /* the tensor API's equivalent (NULL: none) */
    double pts[4][2]; /* where to check: inputs (a, b) */
} op_case;

#define S1(name, call)                                                                             \
    static tg_sv s_##name(tg_stape *st, const tg_sv *x)                                            \
    {                                                                                              \
        return call;                                                                               \
    }
#define T1(name, call)                                                                             \
    static tg_tensor *t_##name(tg_tape *tp, tg_tensor *const *x)                                   \
    {                                                                                              \
        return call;                                                                               \
    }

/* clang-format off */
S1(add, tg_s_add(st, x[0], x[1]))         T1(add, tg_add(tp, x[0], x[1]))
S1(sub, tg_s_sub(st, x[0], x[1]))         T1(sub, tg_sub(tp, x[0], x[1]))
S1(mul, tg_s_mul(st, x[0], x[1]))         T1(mul, tg_mul(tp, x[0], x[1]))
S1(div, tg_s_div(st, x[0], x[1]))         T1(div, tg_div(tp, x[0], x[1]))
S1(pow, tg_s_pow(st, x[0], x[1]))         T1(pow, tg_pow(tp, x[0], x[1]))
S1(max, tg_s_max(st, x[0], x[1]))         T1(max, tg_maximum(tp, x[0], x[1]))
S1(min, tg_s_min(st, x[0], x[1]))         T1(min, tg_minimum(tp, x[0], x[1]))
S1(add_c, tg_s_add_c(st, x[0], 0.7))      T1(add_c, tg_add_scalar(tp, x[0], 0.7))
S1(mul_c, tg_s_mul_c(st, x[0], -1.3))     T1(mul_c, tg_mul_scalar(tp, x[0], -1.3))
S1(rsub_c, tg_s_rsub_c(st, 0.7, x[0]))    T1(rsub_c, tg_rsub_scalar(tp, 0.7, x[0]))
S1(div_c, tg_s_div_c(st, x[0], 0.3))
S1(rdiv_c, tg_s_rdiv_c(st, 0.7, x[0]))    T1(rdiv_c, tg_rdiv_scalar(tp, 0.7, x[0]))
S1(pow_c, tg_s_pow_c(st, x[0], 2.5))      T1(pow_c, tg_pow_scalar(tp, x[0], 2.5))
S1(neg, tg_s_neg(st, x[0]))               T1(neg, tg_neg(tp, x[0]))
S1(square, tg_s_square(st, x[0]))         T1(square, tg_square(tp, x[0]))
S1(exp, tg_s_exp(st, x[0]))               T1(exp, tg_exp(tp, x[0]))
S1(log, tg_s_log(st, x[0]))               T1(log, tg_log(tp, x[0]))
S1(sqrt, tg_s_sqrt(st, x[0]))             T1(sqrt, tg_sqrt(tp, x[0]))
S1(abs, tg_s_abs(st, x[0]))               T1(abs, tg_abs(tp, x[0]))
S1(sin, tg_s_sin(st, x[0]))
S1(cos, tg_s_cos(st, x[0]))
S1(tanh, tg_s_tanh(st, x[0]))             T1(tanh, tg_tanh(tp, x[0]))
S1(sigmoid, tg_s_sigmoid(st, x[0]))       T1(sigmoid, tg_sigmoid(tp, x[0]))
S1(softplus, tg_s_softplus(st, x[0]))     T1(softplus, tg_softplus(tp, x[0]))
S1(relu, tg_s_relu(st, x[0]))             T1(relu, tg_relu(tp, x[0]))
/* clang-format on */

/* points away from each op's singular points (those are tested below) */
#define ANY                                                                                        \
    {                                                                                              \
        {-1.3, 0.6}, {-0.2, -2.1}, {0.4, 1.7},                                                     \
        {                                                                                          \
            2.1, -0.8                                                                              \
        }                                                                                          \
    }
#define POS                                                                                        \
    {                                                                                              \
        {0.3, 0.6}, {1.7, -2.1}, {0.45, 1.7},                                                      \
        {                                                                                          \
            4.2, -0.8                                                                              \
        }                                                                                          \
    }
#define NZ                                                                                         \
    {                                                                                              \
        {-1.3, 0.6}, {-0.2, -2.1}, {0.4, 1.7},                                                     \
        {                                                                                          \
            2.1, -0.8                                                                              \
        }                                                                                          \
    }
                                                                            static const op_case
    k_ops[] = {
        {"add", 2, s_add, t_add, ANY},
        {"sub", 2, s_sub, t_sub, ANY},
        {"mul", 2, s_mul, t_mul, ANY},
        {"div", 2, s_div, t_div, NZ},
        {"pow", 2, s_pow, t_pow, POS},
        {"max", 2, s_max, t_max, ANY},
        {"min", 2, s_min, t_min, ANY},
        {"add_c", 1, s_add_c, t_add_c, ANY},
        {"mul_c", 1, s_mul_c, t_mul_c, ANY},
        {"rsub_c", 1, s_rsub_c, t_rsub_c, ANY},
        {"div_c", 1, s_div_c, NULL, ANY},
        {"rdiv_c", 1, s_rdiv_c, t_rdiv_c, NZ},
        {"pow_c", 1, s_pow_c, t_pow_c, POS},
        {"neg", 1, s_neg, t_neg, ANY},
        {"square", 1, s_square, t_square, ANY},
        {"exp", 1, s_exp, t_exp, ANY},
        {"log", 1, s_log, t_log, POS},
        {"sqrt", 1, s_sqrt, t_sqrt, POS},
        {"abs", 1, s_abs, t_abs, ANY},
        {"sin", 1, s_sin, NULL, ANY},
        {"cos", 1, s_cos, NULL, ANY},
        {"tanh", 1, s_tanh, t_tanh, ANY},
        {"sigmoid", 1, s_sigmoid, t_sigmoid, ANY},
        {"softplus", 1, s_softplus, t_softplus, ANY},
        {"relu", 1, s_relu, t_relu, ANY},
};
#define N_OPS ((int)(sizeof k_ops / sizeof k_ops[0]))

static tg_sv run_case(tg_stape *st, const tg_sv *x, void *ctx)
{
    return ((const op_case *)ctx)->s(st, x);
}

/* Central differences: h = 1e-6 gives a truncation error O(h^2 f''') and a
 * rounding error O(eps f / h) of about 1e-10 for these values of order 1. */
START_TEST(test_op_gradcheck)
{
    const op_case *c = &k_ops[_i];
    for (int p = 0; p < 4; p++) {
        double err = -1;
        const tg_status s =
            tg_stape_gradcheck(run_case, (void *)c, c->arity, c->pts[p], 1e-6, 1e-8, &err);
        ck_assert_msg(s == TG_OK, "%s at (%g, %g): %s", c->name, c->pts[p][0], c->pts[p][1],
                      tg_last_error());
        ck_assert(err >= 0);
    }
}
END_TEST

/* The scalar tape's value and partials against the tensor API's one-element
 * rules: the same value bit for bit, and the same gradient to a few ulps
 * (the two may write a partial differently, e.g. -y/b against -a/b^2). */
START_TEST(test_op_matches_tensor_api)
{
    const op_case *c = &k_ops[_i];
    if (!c->t) return;
    for (int p = 0; p < 4; p++) {
        tg_stape *st = tg_stape_new();
        tg_sv xs[2];
        for (int k = 0; k < c->arity; k++) xs[k] = tg_stape_var(st, c->pts[p][k]);
        const tg_sv y = c->s(st, xs);
        double g[2];
        ck_assert_int_eq(tg_stape_gradient(st, y, c->arity, xs, g), TG_OK);

        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *xt[2];
        for (int k = 0; k < c->arity; k++) {
            xt[k] = tg_tensor_scalar(TG_F64, c->pts[p][k]);
            tg_tensor_set_requires_grad(xt[k], true);
        }
        tg_tensor *yt = c->t(tp, xt);
        ck_assert_msg(yt && tg_backward(tp, yt) == TG_OK, "%s: %s", c->name, tg_tape_error(tp));
        ck_assert_msg(tg_sv_value(st, y) == tg_tensor_get_flat(yt, 0), "%s value: %.17g vs %.17g",
                      c->name, tg_sv_value(st, y), tg_tensor_get_flat(yt, 0));
        for (int k = 0; k < c->arity; k++) {
            const double want = tg_tensor_get_flat(tg_tensor_grad(xt[k]), 0);
            ck_assert_msg(fabs(g[k] - want) <= 4e-16 * fabs(want),
                          "%s at (%g, %g), d/dx%d: %.17g vs the tensor API's %.17g", c->name,
                          c->pts[p][0], c->pts[p][1], k, g[k], want);
        }
        tg_tape_free(tp);
        for (int k = 0; k < c->arity; k++) tg_tensor_free(xt[k]);
        tg_stape_free(st);
    }
}
END_TEST

/* ---- singular points: the conventions of tg_pow / tg_maximum / relu / abs --- */
static void grad2(s_fn f, double a, double b, double *g)
{
    tg_stape *st = tg_stape_new();
    tg_sv x[2] = {tg_stape_var(st, a), tg_stape_var(st, b)};
    ck_assert_int_eq(tg_stape_gradient(st, f(st, x), 2, x, g), TG_OK);
    tg_stape_free(st);
}

START_TEST(test_singular_points)
{
    double g[2];
    grad2(s_pow, 0.0, 0.0, g); /* 0^0 = 1 is constant in both: 0, 0 */
    ck_assert(g[0] == 0.0 && g[1] == 0.0);
    grad2(s_pow, 0.0, 2.0, g); /* d/da = 2 * 0 = 0; d/db = 0 * log 0 masked to 0 */
    ck_assert(g[0] == 0.0 && g[1] == 0.0);
    grad2(s_pow, 2.0, 0.0, g); /* d/da masked to 0, d/db = log 2 */
    ck_assert(g[0] == 0.0 && g[1] == log(2.0));
    grad2(s_max, 1.5, 1.5, g); /* a tie shares the gradient */
    ck_assert(g[0] == 0.5 && g[1] == 0.5);
    grad2(s_min, -1.5, -1.5, g);
    ck_assert(g[0] == 0.5 && g[1] == 0.5);
    grad2(s_relu, 0.0, 0.0, g); /* relu'(0) = 0, abs'(0) = 0, as PyTorch */
    ck_assert(g[0] == 0.0);
    grad2(s_abs, 0.0, 0.0, g);
    ck_assert(g[0] == 0.0);
    grad2(s_sin, 0.3, 0.0, g); /* exactly the derivative's formula */
    ck_assert(g[0] == cos(0.3));
}
END_TEST

/* A non-differentiable point shows: gradcheck can fail (relu at 0: reverse
 * mode 0, central differences 1/2). */
START_TEST(test_gradcheck_fails_on_a_kink)
{
    const double x0[1] = {0.0};
    double err;
    ck_assert_int_eq(
        tg_stape_gradcheck(run_case, (void *)&k_ops[N_OPS - 1], 1, x0, 1e-6, 1e-8, &err),
        TG_ERR_NUMERIC);
    ck_assert(fabs(err - 0.5) < 1e-9);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "input 0: reverse mode 0"));
}
END_TEST

/* ---- a whole function: B1's extended Rosenbrock against its hand gradient ---- */
static tg_sv rosenbrock(tg_stape *st, const tg_sv *x, void *ctx)
{
    const int n = *(const int *)ctx;
    tg_sv f = tg_stape_const(st, 0.0);
    for (int i = 0; i < n - 1; i++) {
        const tg_sv a = tg_s_sub(st, x[i + 1], tg_s_mul(st, x[i], x[i]));
        const tg_sv b = tg_s_rsub_c(st, 1.0, x[i]);
        f = tg_s_add(st, f,
                     tg_s_add(st, tg_s_mul_c(st, tg_s_mul(st, a, a), 100.0), tg_s_mul(st, b, b)));
    }
    return f;
}

START_TEST(test_rosenbrock_hand_gradient)
{
    enum { N = 1000 };
    int n = N;
    double x0[N], g[N], hand[N] = {0};
    for (int i = 0; i < N; i++) x0[i] = 1 + 0.5 * sin((double)i);
    /* df/dx[i] = -400 x[i] (x[i+1] - x[i]^2) - 2 (1 - x[i]) + 200 (x[i] - x[i-1]^2) */
    for (int i = 0; i < N - 1; i++) {
        const double a = x0[i + 1] - x0[i] * x0[i];
        hand[i] += -400 * x0[i] * a - 2 * (1 - x0[i]);
        hand[i + 1] += 200 * a;
    }
    tg_stape *st = tg_stape_new();
    tg_sv x[N];
    for (int i = 0; i < N; i++) x[i] = tg_stape_var(st, x0[i]);
    const tg_sv f = rosenbrock(st, x, &n);
    ck_assert_int_eq(tg_stape_size(st), N + 1 + 8 * (N - 1));
    ck_assert_int_eq(tg_stape_gradient(st, f, N, x, g), TG_OK);
    for (int i = 0; i < N; i++)
        ck_assert_msg(fabs(g[i] - hand[i]) <= 1e-12 * (fabs(hand[i]) > 1 ? fabs(hand[i]) : 1),
                      "x[%d]: %.17g vs hand %.17g", i, g[i], hand[i]);
    /* a second sweep over the same record gives the same numbers */
    double g2[N];
    ck_assert_int_eq(tg_stape_gradient(st, f, N, x, g2), TG_OK);
    ck_assert(memcmp(g, g2, sizeof g) == 0);
    tg_stape_free(st);

    /* and central differences on the first 20 variables' function */
    int n20 = 20;
    double err;
    ck_assert_int_eq(tg_stape_gradcheck(rosenbrock, &n20, n20, x0, 1e-6, 1e-6, &err), TG_OK);
}
END_TEST

/* Intermediates, values recorded after the output, and vector-Jacobian products. */
START_TEST(test_intermediates_and_vjp)
{
    tg_stape *st = tg_stape_new();
    const tg_sv x = tg_stape_var(st, 0.8), y = tg_stape_var(st, -1.7);
    const tg_sv u = tg_s_mul(st, x, y); /* u = xy */
    const tg_sv f = tg_s_sin(st, u);    /* f = sin(xy) */
    const tg_sv later = tg_s_exp(st, x);
    double g[4];
    const tg_sv wrt[4] = {x, y, u, later};
    ck_assert_int_eq(tg_stape_gradient(st, f, 4, wrt, g), TG_OK);
    const double c = cos(0.8 * -1.7);
    ck_assert(g[0] == c * -1.7 && g[1] == c * 0.8 && g[2] == c && g[3] == 0.0);

    /* out = 2 df/d. + 3 dlater/d. */
    const tg_sv ys[2] = {f, later};
    const double w[2] = {2.0, 3.0};
    double v[2];
    ck_assert_int_eq(tg_stape_vjp(st, 2, ys, w, 2, wrt, v), TG_OK);
    ck_assert(v[0] == 2 * c * -1.7 + 3 * exp(0.8) && v[1] == 2 * c * 0.8);
    tg_stape_free(st);
}
END_TEST

/* ---- errors: sticky on the tape for operations, not for sweeps -------------- */
START_TEST(test_errors)
{
    /* NULL tape */
    ck_assert_int_eq(tg_s_exp(NULL, TG_SV_NONE).tag, 0);
    ck_assert_str_eq(tg_last_error(), "tg_s_exp: tape is NULL");

    tg_stape *st = tg_stape_new(), *other = tg_stape_new();
    const tg_sv x = tg_stape_var(st, 2.0), o = tg_stape_var(other, 3.0);
    /* a handle of another tape: a sticky error, later ops return TG_SV_NONE */
    ck_assert_int_eq(tg_s_mul(st, x, o).tag, 0);
    ck_assert_int_eq(tg_stape_status(st), TG_ERR_TAPE);
    ck_assert_str_eq(tg_stape_error(st), "tg_s_mul: argument 2 is not a value of this scalar "
                                         "tape (another tape's, or from before tg_stape_reset)");
    ck_assert_int_eq(tg_s_exp(st, x).tag, 0);
    ck_assert_str_eq(tg_stape_error(st), "tg_s_mul: argument 2 is not a value of this scalar "
                                         "tape (another tape's, or from before tg_stape_reset)");
    double g;
    ck_assert_int_eq(tg_stape_gradient(st, x, 1, &x, &g), TG_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "tg_stape_gradient: the tape is in error"));
    /* reset clears the error; the old handle is stale */
    tg_stape_reset(st);
    ck_assert_int_eq(tg_stape_status(st), TG_OK);
    ck_assert_int_eq(tg_stape_size(st), 0);
    const tg_sv x2 = tg_stape_var(st, 2.0);
    ck_assert_int_eq(tg_s_add(st, x2, x).tag, 0);
    ck_assert_int_eq(tg_stape_status(st), TG_ERR_TAPE);
    tg_stape_reset(st);
    ck_assert_int_eq(tg_s_neg(st, TG_SV_NONE).tag, 0);
    ck_assert_str_eq(tg_stape_error(st), "tg_s_neg: argument 1 is TG_SV_NONE (no value)");
    ck_assert(isnan(tg_sv_value(st, x)));

    /* a sweep's bad argument is the caller's error: the tape stays usable */
    tg_stape_reset(st);
    const tg_sv a = tg_stape_var(st, 1.5), b = tg_s_square(st, a);
    ck_assert_int_eq(tg_stape_gradient(st, b, 1, &o, &g), TG_ERR_TAPE);
    ck_assert_str_eq(tg_last_error(),
                     "tg_stape_gradient: input 0 is not a live value of this tape");
    ck_assert_int_eq(tg_stape_gradient(st, b, 1, NULL, &g), TG_ERR_NULL);
    ck_assert_str_eq(tg_last_error(), "tg_stape_gradient: x is NULL");
    ck_assert_int_eq(tg_stape_status(st), TG_OK);
    ck_assert_int_eq(tg_stape_gradient(st, b, 1, &a, &g), TG_OK);
    ck_assert(g == 3.0);
    ck_assert_int_eq(tg_stape_vjp(st, 0, &b, &g, 1, &a, &g), TG_ERR_ARG);
    ck_assert_int_eq(tg_stape_gradcheck(NULL, NULL, 1, &g, 1e-6, 1e-8, NULL), TG_ERR_NULL);
    ck_assert_int_eq(tg_stape_gradcheck(run_case, (void *)&k_ops[0], 0, &g, 1e-6, 1e-8, NULL),
                     TG_ERR_ARG);
    ck_assert(tg_stape_bytes(st) > 0);
    tg_stape_free(st);
    tg_stape_free(other);
}
END_TEST

/* Growth past the first blocks keeps every value and partial. */
START_TEST(test_growth)
{
    tg_stape *st = tg_stape_new();
    tg_sv s = tg_stape_var(st, 1.0);
    const tg_sv x = s;
    for (int i = 0; i < 100000; i++) s = tg_s_mul_c(st, tg_s_add_c(st, s, 1e-6), 1.0);
    double g;
    ck_assert_int_eq(tg_stape_gradient(st, s, 1, &x, &g), TG_OK);
    ck_assert(g == 1.0);
    ck_assert_int_eq(tg_stape_size(st), 200001);
    tg_stape_free(st);
}
END_TEST

/* ---- the record's blocks ---------------------------------------------------- */

/* s = x[0]; then N times s = 0.999 s + sin(x[i % M]): its gradient by hand is
 * a reverse loop, ds/dx[j] = sum over i = j (mod M) of 0.999^(N-1-i) cos x[j]
 * (+ 0.999^N for x[0]), and ds/ds_i = 0.999^(N-1-i) for the i-th step's s.
 * N is large enough that values, inputs and partials each fill many blocks. */
enum { CH_N = 30000, CH_M = 5 };

typedef struct chain {
    tg_sv x[CH_M], s[CH_N], y;
} chain;

static void chain_record(tg_stape *st, chain *c, const double *x0)
{
    for (int j = 0; j < CH_M; j++) c->x[j] = tg_stape_var(st, x0[j]);
    tg_sv s = c->x[0];
    for (int i = 0; i < CH_N; i++)
        c->s[i] = s = tg_s_add(st, tg_s_mul_c(st, s, 0.999), tg_s_sin(st, c->x[i % CH_M]));
    c->y = s;
}

static void chain_hand(const double *x0, double *gx, double *gs)
{
    double a = 1.0; /* ds/ds_i, from the last step down */
    for (int j = 0; j < CH_M; j++) gx[j] = 0.0;
    for (int i = CH_N - 1; i >= 0; i--) {
        gs[i] = a;
        gx[i % CH_M] += a * cos(x0[i % CH_M]);
        a *= 0.999;
    }
    gx[0] += a;
}

static void assert_rel(double got, double want, double tol, const char *what, int k)
{
    ck_assert_msg(fabs(got - want) <= tol * (fabs(want) > 1 ? fabs(want) : 1.0),
                  "%s %d: %.17g vs hand %.17g", what, k, got, want);
}

/* Inputs anywhere: variables in the first block, intermediates in blocks
 * the sweep finishes early (their adjoints must be kept), values after the
 * output (0). */
static void chain_check(tg_stape *st, const chain *c, const double *x0)
{
    static double gs[CH_N];
    double gx[CH_M];
    chain_hand(x0, gx, gs);
    const int at[4] = {0, 7, CH_N / 2, CH_N - 1};
    tg_sv wrt[CH_M + 5];
    double out[CH_M + 5];
    for (int j = 0; j < CH_M; j++) wrt[j] = c->x[j];
    for (int k = 0; k < 4; k++) wrt[CH_M + k] = c->s[at[k]];
    wrt[CH_M + 4] = tg_s_exp(st, c->x[1]); /* recorded after y */
    ck_assert_int_eq(tg_stape_gradient(st, c->y, CH_M + 5, wrt, out), TG_OK);
    for (int j = 0; j < CH_M; j++) assert_rel(out[j], gx[j], 1e-12, "x", j);
    for (int k = 0; k < 4; k++) assert_rel(out[CH_M + k], gs[at[k]], 1e-12, "s", at[k]);
    ck_assert(out[CH_M + 4] == 0.0);
}

START_TEST(test_many_blocks)
{
    const double x0[CH_M] = {0.3, -1.1, 2.0, 0.7, -0.4};
    static chain c;
    tg_stape *st = tg_stape_new();
    chain_record(st, &c, x0);
    ck_assert_int_eq(tg_stape_size(st), CH_M + 3 * CH_N);
    chain_check(st, &c, x0);
    /* a vjp with outputs in different blocks: 2 ds_N/d. + 3 ds_{N/2}/d. */
    const tg_sv ys[2] = {c.y, c.s[CH_N / 2]};
    const double w[2] = {2.0, 3.0};
    double v[CH_M], g1[CH_M], g2[CH_M];
    ck_assert_int_eq(tg_stape_vjp(st, 2, ys, w, CH_M, c.x, v), TG_OK);
    ck_assert_int_eq(tg_stape_gradient(st, c.y, CH_M, c.x, g1), TG_OK);
    ck_assert_int_eq(tg_stape_gradient(st, c.s[CH_N / 2], CH_M, c.x, g2), TG_OK);
    for (int j = 0; j < CH_M; j++) assert_rel(v[j], 2 * g1[j] + 3 * g2[j], 1e-12, "vjp", j);
    tg_stape_free(st);
}
END_TEST

/* After a reset the blocks are reused: recording the same function again
 * takes no more memory and gives the same numbers; a smaller one after it
 * sees none of the old record. */
START_TEST(test_reset_reuses_blocks)
{
    const double x0[CH_M] = {0.3, -1.1, 2.0, 0.7, -0.4};
    static chain c;
    tg_stape *st = tg_stape_new();
    chain_record(st, &c, x0);
    chain_check(st, &c, x0);
    const int64_t bytes = tg_stape_bytes(st);
    for (int r = 0; r < 2; r++) {
        tg_stape_reset(st);
        ck_assert_int_eq(tg_stape_size(st), 0);
        chain_record(st, &c, x0);
        chain_check(st, &c, x0);
        ck_assert_int_eq(tg_stape_bytes(st), bytes);
    }
    tg_stape_reset(st);
    const tg_sv a = tg_stape_var(st, 1.5), b = tg_stape_var(st, -2.0);
    const tg_sv y = tg_s_mul(st, a, b);
    const tg_sv ab[2] = {a, b};
    double g[2];
    ck_assert_int_eq(tg_stape_gradient(st, y, 2, ab, g), TG_OK);
    ck_assert(g[0] == -2.0 && g[1] == 1.5);
    ck_assert_int_eq(tg_stape_bytes(st), bytes);
    tg_stape_free(st);
}
END_TEST

/* One value as both inputs of a binary op records one input whose partial
 * is the sum of the two: each against central differences. */
static tg_sv twice(tg_stape *st, const tg_sv *x, void *ctx)
{
    return (*(const s_fn *)ctx)(st, (const tg_sv[2]){x[0], x[0]});
}

START_TEST(test_same_input_twice)
{
    const s_fn fns[] = {s_add, s_sub, s_mul, s_div, s_pow, s_max, s_min};
    const double x0[1] = {1.7};
    for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
        double err = -1;
        ck_assert_msg(tg_stape_gradcheck(twice, (void *)&fns[k], 1, x0, 1e-6, 1e-8, &err) == TG_OK,
                      "op %zu: %s", k, tg_last_error());
    }
    /* x * x: 2x exactly; x - x: 0 */
    tg_stape *st = tg_stape_new();
    const tg_sv x = tg_stape_var(st, 0.3);
    double g;
    ck_assert_int_eq(tg_stape_gradient(st, tg_s_mul(st, x, x), 1, &x, &g), TG_OK);
    ck_assert(g == 0.6);
    ck_assert_int_eq(tg_stape_gradient(st, tg_s_sub(st, x, x), 1, &x, &g), TG_OK);
    ck_assert(g == 0.0);
    tg_stape_free(st);
}
END_TEST

/* ---- out of memory at every allocation of a record and of a sweep ---------- */

/* Recording fails at the k-th allocation for every k until it succeeds:
 * the error is sticky and names the operation, the tape can be freed (no
 * leak under ASan) or reset and used. */
START_TEST(test_record_out_of_memory)
{
    const double x0[CH_M] = {0.3, -1.1, 2.0, 0.7, -0.4};
    static chain c;
    bool done = false;
    for (long k = 0; !done; k++) {
        tg_stape *st = tg_stape_new();
        tt_fail_after = k;
        tg_set_allocator(&tt_failing);
        chain_record(st, &c, x0);
        tg_set_allocator(NULL);
        done = tg_stape_status(st) == TG_OK;
        if (!done) {
            ck_assert_int_eq(tg_stape_status(st), TG_ERR_NOMEM);
            ck_assert_ptr_nonnull(strstr(tg_stape_error(st), "out of memory growing the tape"));
            ck_assert_int_eq(c.y.tag, 0);
        }
        if (k % 7 == 3 || done) { /* usable after a reset */
            tg_stape_reset(st);
            chain_record(st, &c, x0);
            chain_check(st, &c, x0);
        }
        tg_stape_free(st);
        ck_assert_int_lt(k, 1000);
    }
}
END_TEST

/* A sweep fails at the k-th allocation of adjoint blocks for every k until
 * it succeeds: a NOMEM that is not sticky, and the next sweep is right. */
START_TEST(test_sweep_out_of_memory)
{
    const double x0[CH_M] = {0.3, -1.1, 2.0, 0.7, -0.4};
    static chain c;
    bool done = false;
    for (long k = 0; !done; k++) {
        tg_stape *st = tg_stape_new();
        chain_record(st, &c, x0);
        double g[CH_M];
        tt_fail_after = k;
        tg_set_allocator(&tt_failing);
        const tg_status s = tg_stape_gradient(st, c.y, CH_M, c.x, g);
        tg_set_allocator(NULL);
        done = s == TG_OK;
        if (!done) {
            ck_assert_int_eq(s, TG_ERR_NOMEM);
            ck_assert_ptr_nonnull(strstr(tg_last_error(), "tg_stape_gradient: out of memory for"));
            ck_assert_int_eq(tg_stape_status(st), TG_OK);
        }
        chain_check(st, &c, x0);
        tg_stape_free(st);
        ck_assert_int_lt(k, 1000);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stape");
    TCase *tc = tcase_create("scalar tape");
    tcase_add_loop_test(tc, test_op_gradcheck, 0, N_OPS);
    tcase_add_loop_test(tc, test_op_matches_tensor_api, 0, N_OPS);
    tcase_add_test(tc, test_singular_points);
    tcase_add_test(tc, test_gradcheck_fails_on_a_kink);
    tcase_add_test(tc, test_rosenbrock_hand_gradient);
    tcase_add_test(tc, test_intermediates_and_vjp);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_growth);
    tcase_add_test(tc, test_many_blocks);
    tcase_add_test(tc, test_reset_reuses_blocks);
    tcase_add_test(tc, test_same_input_twice);
    tcase_add_test(tc, test_record_out_of_memory);
    tcase_add_test(tc, test_sweep_out_of_memory);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
