/* The scalar tape's operations: each is one line giving its value and the
 * partial derivative(s) of the value with respect to its input(s), written
 * in terms of the names the line itself chooses (A, B, C, Y). The partials
 * are computed here, when the operation runs, so the reverse sweep
 * (stape.c) is the same multiply-add for every operation.
 *
 * Adding an operation: its line here, its declaration in
 * include/tapegrad/scalar.h with the derivative as a comment, and a case in
 * tests/test_stape.c's table (checked against central differences). */
#include "stape.h"

#include <math.h>

/* True when st can record and h is one of its live values (errors set). */
static inline bool live(tg_stape *st, tg_sv h, const char *op, int slot)
{
    if (__builtin_expect(!st, 0)) {
        tg__set_last(TG_ERR_NULL, "%s: tape is NULL", op);
        return false;
    }
    if (__builtin_expect(h.tag == st->tag && (int64_t)h.i < st->n && st->status == TG_OK, 1))
        return true;
    return st->status == TG_OK && tg__stape_arg(st, h, op, slot);
}

/* y = value(A), dy/dA = partial(A, Y) */
#define TG_S_UNARY(name, A, Y, value, partial)                                                     \
    tg_sv tg_s_##name(tg_stape *st, tg_sv h_)                                                      \
    {                                                                                              \
        if (!live(st, h_, "tg_s_" #name, 1)) return TG_SV_NONE;                                    \
        const double A = tg__stape_val(st, h_.i);                                                  \
        const double Y = (value);                                                                  \
        return tg__stape_push(st, Y, 1, h_.i, (partial), 0, 0.0, "tg_s_" #name);                   \
    }

/* y = value(A, B), dy/dA = pa(A, B, Y), dy/dB = pb(A, B, Y) */
#define TG_S_BINARY(name, A, B, Y, value, pa, pb)                                                  \
    tg_sv tg_s_##name(tg_stape *st, tg_sv ha_, tg_sv hb_)                                          \
    {                                                                                              \
        if (!live(st, ha_, "tg_s_" #name, 1) || !live(st, hb_, "tg_s_" #name, 2))                  \
            return TG_SV_NONE;                                                                     \
        const double A = tg__stape_val(st, ha_.i), B = tg__stape_val(st, hb_.i);                   \
        const double Y = (value), pa_ = (pa), pb_ = (pb);                                          \
        if (ha_.i == hb_.i) /* one input: its partial is the sum (a * a records 2a once) */        \
            return tg__stape_push(st, Y, 1, ha_.i, pa_ + pb_, 0, 0.0, "tg_s_" #name);              \
        return tg__stape_push(st, Y, 2, ha_.i, pa_, hb_.i, pb_, "tg_s_" #name);                    \
    }

/* y = value(A, C) with a constant C, dy/dA = pa(A, C, Y) */
#define TG_S_CONST(name, A, C, Y, value, pa)                                                       \
    tg_sv tg_s_##name(tg_stape *st, tg_sv h_, double C)                                            \
    {                                                                                              \
        if (!live(st, h_, "tg_s_" #name, 1)) return TG_SV_NONE;                                    \
        const double A = tg__stape_val(st, h_.i);                                                  \
        const double Y = (value);                                                                  \
        return tg__stape_push(st, Y, 1, h_.i, (pa), 0, 0.0, "tg_s_" #name);                        \
    }

/* the same with the constant first: y = value(C, A) */
#define TG_S_RCONST(name, C, A, Y, value, pa)                                                      \
    tg_sv tg_s_##name(tg_stape *st, double C, tg_sv h_)                                            \
    {                                                                                              \
        if (!live(st, h_, "tg_s_" #name, 2)) return TG_SV_NONE;                                    \
        const double A = tg__stape_val(st, h_.i);                                                  \
        const double Y = (value);                                                                  \
        return tg__stape_push(st, Y, 1, h_.i, (pa), 0, 0.0, "tg_s_" #name);                        \
    }

/* 1 / (1 + e^-v) without overflow for either sign of v */
static inline double sigmoid(double v)
{
    return v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
}

/* clang-format off */
TG_S_BINARY(add, A, B, Y, A + B, 1.0, 1.0)
TG_S_BINARY(sub, A, B, Y, A - B, 1.0, -1.0)
TG_S_BINARY(mul, A, B, Y, A * B, B, A)
TG_S_BINARY(div, A, B, Y, A / B, 1.0 / B, -Y / B)
/* pow's masks are tg_pow's (PyTorch's): where the formula gives 0 * inf */
TG_S_BINARY(pow, A, B, Y, pow(A, B), B == 0 ? 0.0 : B * pow(A, B - 1),
            A == 0 && B >= 0 ? 0.0 : Y * log(A))
/* ties share the gradient; a NaN operand sends it to b, as tg_maximum does */
TG_S_BINARY(max, A, B, Y, A >= B ? A : B, A > B ? 1.0 : A == B ? 0.5 : 0.0,
            A > B ? 0.0 : A == B ? 0.5 : 1.0)
TG_S_BINARY(min, A, B, Y, A <= B ? A : B, A < B ? 1.0 : A == B ? 0.5 : 0.0,
            A < B ? 0.0 : A == B ? 0.5 : 1.0)

TG_S_CONST(add_c, A, C, Y, A + C, 1.0)
TG_S_CONST(mul_c, A, C, Y, A * C, C)
TG_S_RCONST(rsub_c, C, A, Y, C - A, -1.0)
TG_S_CONST(div_c, A, C, Y, A / C, 1.0 / C)
TG_S_RCONST(rdiv_c, C, A, Y, C / A, -Y / A)
TG_S_CONST(pow_c, A, C, Y, pow(A, C), C == 0 ? 0.0 : C * pow(A, C - 1))

TG_S_UNARY(neg, A, Y, -A, -1.0)
TG_S_UNARY(square, A, Y, A * A, 2.0 * A)
TG_S_UNARY(exp, A, Y, exp(A), Y)
TG_S_UNARY(log, A, Y, log(A), 1.0 / A)
TG_S_UNARY(sqrt, A, Y, sqrt(A), 0.5 / Y)
TG_S_UNARY(abs, A, Y, fabs(A), (double)((A > 0) - (A < 0)))
TG_S_UNARY(sin, A, Y, sin(A), cos(A))
TG_S_UNARY(cos, A, Y, cos(A), -sin(A))
TG_S_UNARY(tanh, A, Y, tanh(A), 1.0 - Y * Y)
TG_S_UNARY(sigmoid, A, Y, sigmoid(A), Y * (1.0 - Y))
TG_S_UNARY(softplus, A, Y, (A > 0 ? A : 0.0) + log1p(exp(-fabs(A))), sigmoid(A))
TG_S_UNARY(relu, A, Y, A > 0 ? A : 0.0, A > 0 ? 1.0 : 0.0)
/* clang-format on */

/* ---- gradcheck ---------------------------------------------------------------- */

/* f at x (n inputs) recorded on st from a reset; NaN with the error set when
 * the recording fails. */
static double value_at(tg_stape *st, tg_stape_fn f, void *ctx, int n, const double *x, tg_sv *xs)
{
    tg_stape_reset(st);
    for (int k = 0; k < n; k++) xs[k] = tg_stape_var(st, x[k]);
    const tg_sv y = f(st, xs, ctx);
    return tg_stape_status(st) == TG_OK ? tg_sv_value(st, y) : NAN;
}

tg_status tg_stape_gradcheck(tg_stape_fn f, void *ctx, int n, const double *x0, double eps,
                             double tol, double *max_err)
{
    const char *fn = "tg_stape_gradcheck";
    if (!f || !x0) {
        tg__set_last(TG_ERR_NULL, "%s: %s is NULL", fn, f ? "x0" : "f");
        return TG_ERR_NULL;
    }
    if (n < 1 || !(eps > 0) || !(tol > 0)) {
        tg__set_last(TG_ERR_ARG, "%s: n = %d, eps = %g, tol = %g (n >= 1, eps and tol > 0)", fn, n,
                     eps, tol);
        return TG_ERR_ARG;
    }
    size_t bytes;
    tg_stape *st = tg_stape_new();
    tg_sv *xs = tg__mul_size((size_t)n, sizeof *xs, &bytes) ? tg__malloc(bytes) : NULL;
    double *g = tg__calloc((size_t)n, sizeof *g), *x = tg__calloc((size_t)n, sizeof *x);
    tg_status s = TG_ERR_NOMEM;
    if (!st || !xs || !g || !x) {
        tg__set_last(s, "%s: out of memory for %d inputs", fn, n);
        goto out;
    }
    for (int k = 0; k < n; k++) xs[k] = tg_stape_var(st, x0[k]);
    const tg_sv y = f(st, xs, ctx);
    if ((s = tg_stape_status(st)) != TG_OK) {
        tg__set_last(s, "%s: recording f failed: %s", fn, tg_stape_error(st));
        goto out;
    }
    if ((s = tg_stape_gradient(st, y, n, xs, g)) != TG_OK) goto out;
    double worst = 0;
    int wk = 0;
    double wfd = 0;
    for (int k = 0; k < n; k++) {
        const double h = eps * (fabs(x0[k]) > 1 ? fabs(x0[k]) : 1.0);
        for (int i = 0; i < n; i++) x[i] = x0[i];
        x[k] = x0[k] + h;
        const double fp = value_at(st, f, ctx, n, x, xs);
        x[k] = x0[k] - h;
        const double fm = value_at(st, f, ctx, n, x, xs);
        const double fd = (fp - fm) / (2 * h);
        const double err = fabs(g[k] - fd) / (fabs(fd) > 1 ? fabs(fd) : 1.0);
        if (!(err <= worst)) worst = err, wk = k, wfd = fd; /* NaN is the worst */
    }
    if (max_err) *max_err = worst;
    s = worst <= tol ? TG_OK : TG_ERR_NUMERIC;
    if (s != TG_OK)
        tg__set_last(
            s, "%s: input %d: reverse mode %.17g, central differences %.17g (error %.3g > %g)", fn,
            wk, g[wk], wfd, worst, tol);
out:
    tg_stape_free(st);
    tg__free(xs);
    tg__free(g);
    tg__free(x);
    return s;
}
