/* Losses: forward values against plain-C formulas, the closed-form
 * gradients (seed 000 eq. 3, seed 002 eqs. 15-20) against autodiff to 1e-10
 * relative in f64, gradchecks over shapes and both reductions (targets
 * included), second derivatives, f32 against f64, and every error. */
#include "common.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *red_name(tg_reduction r)
{
    return r == TG_REDUCE_SUM ? "sum" : "mean";
}

/* ---- plain-C references --------------------------------------------------- */

static double sigm(double z)
{
    return 1.0 / (1.0 + exp(-z));
}

/* -sum_c t_c log softmax(z)_c for one row of C logits, and softmax(z). */
static double ref_xent_row(int64_t C, const double *z, const double *t, double *sm)
{
    double mx = z[0], s = 0, l = 0;
    for (int64_t c = 1; c < C; c++) mx = fmax(mx, z[c]);
    for (int64_t c = 0; c < C; c++) s += exp(z[c] - mx);
    for (int64_t c = 0; c < C; c++) {
        double ls = z[c] - mx - log(s);
        l -= t[c] * ls;
        if (sm) sm[c] = exp(ls);
    }
    return l;
}

/* Random row-stochastic targets: each row positive and summing to 1. */
static tg_tensor *rand_dist(int ndim, const int64_t *shape, uint64_t seed)
{
    tg_tensor *t = tt_rand(TG_F64, ndim, shape, seed, 0.1, 1.0);
    const int64_t C = shape[ndim - 1], N = tg_tensor_numel(t) / C;
    for (int64_t r = 0; r < N; r++) {
        double s = 0;
        for (int64_t c = 0; c < C; c++) s += tg_tensor_get_flat(t, r * C + c);
        for (int64_t c = 0; c < C; c++)
            tg_tensor_set_flat(t, r * C + c, tg_tensor_get_flat(t, r * C + c) / s);
    }
    return t;
}

static double scalar(const tg_tensor *t)
{
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(tg_tensor_numel(t), 1);
    ck_assert_int_eq(tg_tensor_ndim(t), 0);
    return tg_tensor_get_flat(t, 0);
}

/* ---- forward -------------------------------------------------------------- */

START_TEST(test_sse_mse_forward)
{
    tg_tensor *y = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    tg_tensor *t = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(0, 2, 5));
    tg_tape *tp = tg_tape_new(NULL);
    /* 1/2 (1 + 0 + 4) and (1 + 0 + 4) / 3 */
    ck_assert_double_eq(scalar(tg_sse(tp, y, t)), 2.5);
    ck_assert_double_eq_tol(scalar(tg_mse(tp, y, t)), 5.0 / 3.0, 1e-15);
    tg_tape_reset(tp);
    /* 2-d random against the plain sum */
    tg_tensor *a = tt_rand(TG_F64, 2, TT_SHAPE(4, 3), 1, -2, 2);
    tg_tensor *b = tt_rand(TG_F64, 2, TT_SHAPE(4, 3), 2, -2, 2);
    double s = 0;
    for (int i = 0; i < 12; i++) {
        double d = tg_tensor_get_flat(b, i) - tg_tensor_get_flat(a, i);
        s += d * d;
    }
    ck_assert_double_eq_tol(scalar(tg_sse(tp, a, b)), 0.5 * s, 1e-14 * s);
    ck_assert_double_eq_tol(scalar(tg_mse(tp, a, b)), s / 12, 1e-14 * s);
    /* a 0-d pair is one element */
    tg_tensor *y0 = tg_tensor_scalar(TG_F64, 3.0), *t0 = tg_tensor_scalar(TG_F64, 1.0);
    ck_assert_double_eq(scalar(tg_sse(tp, y0, t0)), 2.0);
    ck_assert_double_eq(scalar(tg_mse(tp, y0, t0)), 4.0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(y);
    tg_tensor_free(t);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(y0);
    tg_tensor_free(t0);
}
END_TEST

START_TEST(test_sse_empty)
{
    /* a sum over nothing is 0; a mean over nothing is refused (see errors) */
    tg_tensor *y = tg_tensor_zeros(TG_F64, 2, TT_SHAPE(0, 3));
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_double_eq(scalar(tg_sse(tp, y, y)), 0.0);
    ck_assert_double_eq(scalar(tg_bce_logits(tp, y, y, TG_REDUCE_SUM)), 0.0);
    tg_tape_free(tp);
    tg_tensor_free(y);
}
END_TEST

START_TEST(test_bce_forward)
{
    const double p[4] = {0.1, 0.5, 0.9, 0.25}, t[4] = {0, 1, 1, 0.3};
    tg_tensor *P = tt_from(TG_F64, 2, TT_SHAPE(2, 2), p);
    tg_tensor *T = tt_from(TG_F64, 2, TT_SHAPE(2, 2), t);
    double s = 0;
    for (int i = 0; i < 4; i++) s -= t[i] * log(p[i]) + (1 - t[i]) * log(1 - p[i]);
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_double_eq_tol(scalar(tg_bce(tp, P, T, TG_REDUCE_SUM)), s, 1e-15 * s);
    ck_assert_double_eq_tol(scalar(tg_bce(tp, P, T, TG_REDUCE_MEAN)), s / 4, 1e-15 * s);
    /* by hand: -log 0.9 - log 0.5 - log 0.9 - (0.3 log 0.25 + 0.7 log 0.75) */
    double hand = -2 * log(0.9) + log(2.0) - 0.3 * log(0.25) - 0.7 * log(0.75);
    ck_assert_double_eq_tol(scalar(tg_bce(tp, P, T, TG_REDUCE_SUM)), hand, 1e-15 * hand);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(P);
    tg_tensor_free(T);
}
END_TEST

/* bce at p = 0 or 1 clamps each log at -100, as PyTorch's BCELoss, so the
 * loss is finite (100 per saturated wrong element, 0 for a right one, no
 * 0 * -inf = NaN); the gradient is the derivative of the clamped function:
 * a clamped log contributes 0, so d/dp is finite too (PyTorch's backward
 * divides by max(p (1 - p), 1e-12) instead and gives -1e12 at p = 0, t = 1).
 * Direct, op-built (create_graph) and both dtypes agree, and p strictly
 * inside (0, 1) keeps the plain formula (test_bce_forward). */
START_TEST(test_bce_clamped_log)
{
    const double p[6] = {0, 1, 0.5, 0, 1, 0.25}, t[6] = {1, 0, 0.5, 0, 1, 0.75};
    /* -[t max(log p, -100) + (1-t) max(log(1-p), -100)] */
    const double l = 100 + 100 + log(2.0) + 0 + 0 - (0.75 * log(0.25) + 0.25 * log(0.75));
    /* d/dp = -[t [log p > -100]/p - (1-t) [log(1-p) > -100]/(1-p)] */
    const double gp[6] = {0, 0, 0, 1, -1, -(0.75 / 0.25 - 0.25 / 0.75)};
    /* d/dt = -[max(log p, -100) - max(log(1-p), -100)] */
    const double gt[6] = {100, -100, 0, 100, -100, -(log(0.25) - log(0.75))};
    for (int dt = 0; dt < 2; dt++) {
        const tg_dtype d = dt ? TG_F32 : TG_F64;
        const double tol = dt ? 1e-6 : 1e-15;
        tg_tensor *P = tt_from(d, 1, TT_SHAPE(6), p), *T = tt_from(d, 1, TT_SHAPE(6), t);
        tg_tensor_set_requires_grad(P, true);
        tg_tensor_set_requires_grad(T, true);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = tg_bce(tp, P, T, TG_REDUCE_SUM);
        ck_assert_msg(y != NULL, "%s", tg_tape_error(tp));
        ck_assert_double_eq_tol(scalar(y), l, tol * l);
        ck_assert_int_eq(tg_backward(tp, y), TG_OK);
        tt_assert_values("d bce/dp, clamped (direct)", tg_tensor_grad(P), gp, 6, tol, tol);
        tt_assert_values("d bce/dt, clamped (direct)", tg_tensor_grad(T), gt, 6, tol, tol);
        tg_tensor *g = tg_grad(tp, y, P, true);
        tt_assert_values("d bce/dp, clamped (op-built)", g, gp, 6, tol, tol);
        /* second order stays finite: d/dp sum(d bce/dp) */
        tg_tensor *h = tg_grad(tp, tg_sum_all(tp, g), P, false);
        ck_assert_msg(h != NULL, "%s", tg_tape_error(tp));
        for (int i = 0; i < 6; i++) ck_assert(isfinite(tg_tensor_get_flat(h, i)));
        ck_assert_double_eq(tg_tensor_get_flat(h, 0), 0.0); /* a constant piece */
        /* the mean is the sum over 6 */
        ck_assert_double_eq_tol(scalar(tg_bce(tp, P, T, TG_REDUCE_MEAN)), l / 6, tol * l);
        ck_assert_int_eq(tg_tape_status(tp), TG_OK);
        tg_tape_free(tp);
        tg_tensor_free(P);
        tg_tensor_free(T);
    }
}
END_TEST

START_TEST(test_bce_logits_forward)
{
    const double z[6] = {-3, -0.5, 0, 0.7, 2, 5}, t[6] = {0, 1, 0.5, 1, 0, 0.2};
    tg_tensor *Z = tt_from(TG_F64, 2, TT_SHAPE(3, 2), z);
    tg_tensor *T = tt_from(TG_F64, 2, TT_SHAPE(3, 2), t);
    double s = 0, sp = 0;
    for (int i = 0; i < 6; i++) {
        s += log1p(exp(z[i])) - t[i] * z[i];
        double p = sigm(z[i]);
        sp -= t[i] * log(p) + (1 - t[i]) * log(1 - p);
    }
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_double_eq_tol(scalar(tg_bce_logits(tp, Z, T, TG_REDUCE_SUM)), s, 1e-15 * s);
    ck_assert_double_eq_tol(scalar(tg_bce_logits(tp, Z, T, TG_REDUCE_MEAN)), s / 6, 1e-15 * s);
    /* the same number as bce on sigmoid(z): the two forms agree */
    ck_assert_double_eq_tol(sp, s, 1e-13 * s);
    ck_assert_double_eq_tol(scalar(tg_bce(tp, tg_sigmoid(tp, Z), T, TG_REDUCE_SUM)), s, 1e-13 * s);
    tg_tape_reset(tp);

    /* stable for huge logits: a wrong sign at |z| = 1000 costs 1000, a right
     * one costs e^-1000 (0 in double); a naive log(1 + e^z) is inf. */
    tg_tensor *Zb = tt_from(TG_F64, 1, TT_SHAPE(4), TT_VALUES(1000, -1000, 1000, -1000));
    tg_tensor *Tb = tt_from(TG_F64, 1, TT_SHAPE(4), TT_VALUES(0, 1, 1, 0));
    ck_assert_double_eq(scalar(tg_bce_logits(tp, Zb, Tb, TG_REDUCE_SUM)), 2000.0);
    tg_tensor *g = tg_grad(tp, tg_bce_logits(tp, Zb, Tb, TG_REDUCE_SUM), Zb, false);
    tt_assert_values("d bce_logits / dz at |z| = 1000", g, TT_VALUES(1, -1, 0, 0), 4, 0, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(Z);
    tg_tensor_free(T);
    tg_tensor_free(Zb);
    tg_tensor_free(Tb);
}
END_TEST

START_TEST(test_xent_forward)
{
    /* one row by hand: z = (1, 2, 3), class 2: -log softmax_2 = log(e + e^2 + e^3) - 3 */
    tg_tensor *z1 = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    tg_tensor *t1 = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(0, 0, 1));
    const double hand = log(exp(1) + exp(2) + exp(3)) - 3;
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_double_eq_tol(scalar(tg_softmax_cross_entropy(tp, z1, t1, TG_REDUCE_SUM)), hand,
                            1e-15);
    ck_assert_double_eq_tol(scalar(tg_softmax_cross_entropy(tp, z1, t1, TG_REDUCE_MEAN)), hand,
                            1e-15);
    ck_assert_double_eq_tol(scalar(tt_xent_labels(tp, z1, (const int32_t[]){2}, 1, TG_REDUCE_SUM)),
                            hand, 1e-15);

    /* (N, C) with soft targets against the plain-C rows */
    const int64_t N = 4, C = 5;
    tg_tensor *z = tt_rand(TG_F64, 2, TT_SHAPE(4, 5), 3, -3, 3);
    tg_tensor *t = rand_dist(2, TT_SHAPE(4, 5), 4);
    double zv[20], tv[20], s = 0;
    tg_tensor_to_f64(z, zv);
    tg_tensor_to_f64(t, tv);
    for (int64_t r = 0; r < N; r++) s += ref_xent_row(C, zv + r * C, tv + r * C, NULL);
    ck_assert_double_eq_tol(scalar(tg_softmax_cross_entropy(tp, z, t, TG_REDUCE_SUM)), s,
                            1e-14 * s);
    ck_assert_double_eq_tol(scalar(tg_softmax_cross_entropy(tp, z, t, TG_REDUCE_MEAN)), s / N,
                            1e-14 * s);

    /* labels: the same as the one-hot targets, and as the plain-C rows */
    const int32_t lab[4] = {0, 4, 2, 2};
    double oh[20] = {0}, sl = 0;
    for (int64_t r = 0; r < N; r++) oh[r * C + lab[r]] = 1;
    for (int64_t r = 0; r < N; r++) sl += ref_xent_row(C, zv + r * C, oh + r * C, NULL);
    tg_tensor *toh = tt_from(TG_F64, 2, TT_SHAPE(4, 5), oh);
    for (int red = 0; red < 2; red++) {
        double lv = scalar(tt_xent_labels(tp, z, lab, N, (tg_reduction)red));
        ck_assert_double_eq_tol(lv, red ? sl / N : sl, 1e-14 * sl);
        ck_assert_double_eq(lv, scalar(tg_softmax_cross_entropy(tp, z, toh, (tg_reduction)red)));
    }
    /* large logits stay finite (log-sum-exp) */
    tg_tensor *zb = tt_from(TG_F64, 2, TT_SHAPE(1, 2), TT_VALUES(1000, 1001));
    double lb = scalar(tt_xent_labels(tp, zb, (const int32_t[]){0}, 1, TG_REDUCE_SUM));
    ck_assert_double_eq_tol(lb, log1p(exp(1.0)), 1e-13);
    /* an empty batch sums to 0 */
    tg_tensor *ze = tg_tensor_zeros(TG_F64, 2, TT_SHAPE(0, 3));
    ck_assert_double_eq(scalar(tt_xent_labels(tp, ze, NULL, 0, TG_REDUCE_SUM)), 0.0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(z1);
    tg_tensor_free(t1);
    tg_tensor_free(z);
    tg_tensor_free(t);
    tg_tensor_free(toh);
    tg_tensor_free(zb);
    tg_tensor_free(ze);
}
END_TEST

/* f32 agrees with f64 to f32 precision: each loss is a sum of O(1) terms
 * accumulated in double, so a few f32 ulps of the sum of |terms| bound the
 * difference; every loss here is a sum of positive terms, so that is a
 * few ulps of the loss itself. */
START_TEST(test_loss_f32_vs_f64)
{
    const int64_t *sh = TT_SHAPE(6, 5);
    tg_tensor *a = tt_rand(TG_F64, 2, sh, 5, 0.05, 0.95);
    tg_tensor *b = tt_rand(TG_F64, 2, sh, 6, 0.0, 1.0);
    tg_tensor *z = tt_rand(TG_F64, 2, sh, 7, -4, 4);
    tg_tensor *d = rand_dist(2, sh, 8);
    tg_tensor *a32 = tg_tensor_cast_new(a, TG_F32), *b32 = tg_tensor_cast_new(b, TG_F32);
    tg_tensor *z32 = tg_tensor_cast_new(z, TG_F32), *d32 = tg_tensor_cast_new(d, TG_F32);
    const int32_t lab[6] = {1, 0, 4, 3, 3, 2};
    tg_tape *tp = tg_tape_new(NULL);
    const double rt = 16 * FLT_EPSILON;
    for (int red = 0; red < 2; red++) {
        tg_reduction r = (tg_reduction)red;
        tg_tensor *pairs[][2] = {
            {tg_sse(tp, a32, b32), tg_sse(tp, a, b)},
            {tg_mse(tp, a32, b32), tg_mse(tp, a, b)},
            {tg_bce(tp, a32, b32, r), tg_bce(tp, a, b, r)},
            {tg_bce_logits(tp, z32, b32, r), tg_bce_logits(tp, z, b, r)},
            {tg_softmax_cross_entropy(tp, z32, d32, r), tg_softmax_cross_entropy(tp, z, d, r)},
            {tt_xent_labels(tp, z32, lab, 6, r), tt_xent_labels(tp, z, lab, 6, r)},
        };
        for (int i = 0; i < LEN(pairs); i++) {
            ck_assert_int_eq(tg_tensor_dtype(pairs[i][0]), TG_F32);
            char what[48];
            snprintf(what, sizeof what, "loss %d (%s) f32 vs f64", i, red_name(r));
            tt_assert_close(what, pairs[i][0], pairs[i][1], rt, 0);
        }
    }
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor *all[] = {a, b, z, d, a32, b32, z32, d32};
    for (int i = 0; i < LEN(all); i++) tg_tensor_free(all[i]);
}
END_TEST

/* ---- closed-form gradients (1e-10 relative, f64) ------------------------------ */

/* d sse/dy = y - t  (seed 000 eq. 3);  d mse/dy = 2 (y - t) / n;
 * both are minus the gradient with respect to t. */
START_TEST(test_sse_mse_closed_form)
{
    const int64_t *sh = TT_SHAPE(3, 4);
    tg_tensor *y = tt_param(2, sh, 11, -2, 2), *t = tt_param(2, sh, 12, -2, 2);
    double yv[12], tv[12], d[12], dm[12];
    tg_tensor_to_f64(y, yv);
    tg_tensor_to_f64(t, tv);
    for (int i = 0; i < 12; i++) d[i] = yv[i] - tv[i], dm[i] = 2 * d[i] / 12;
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_int_eq(tg_backward(tp, tg_sse(tp, y, t)), TG_OK);
    tt_assert_values("d sse/dy = y - t", tg_tensor_grad(y), d, 12, 1e-10, 0);
    for (int i = 0; i < 12; i++) d[i] = -d[i];
    tt_assert_values("d sse/dt = t - y", tg_tensor_grad(t), d, 12, 1e-10, 0);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_mse(tp, y, t)), TG_OK);
    tt_assert_values("d mse/dy = 2(y - t)/n", tg_tensor_grad(y), dm, 12, 1e-10, 0);
    tg_tape_free(tp);
    tg_tensor_free(y);
    tg_tensor_free(t);
}
END_TEST

/* d bce/dp = (p - t) / (p (1 - p))  (/n for the mean). */
START_TEST(test_bce_closed_form)
{
    const int64_t *sh = TT_SHAPE(2, 5);
    tg_tensor *p = tt_param(2, sh, 13, 0.05, 0.95), *t = tt_rand(TG_F64, 2, sh, 14, 0, 1);
    double pv[10], tv[10], e[10];
    tg_tensor_to_f64(p, pv);
    tg_tensor_to_f64(t, tv);
    tg_tape *tp = tg_tape_new(NULL);
    for (int red = 0; red < 2; red++) {
        for (int i = 0; i < 10; i++)
            e[i] = (pv[i] - tv[i]) / (pv[i] * (1 - pv[i])) / (red ? 10.0 : 1.0);
        tg_tape_reset(tp);
        ck_assert_int_eq(tg_backward(tp, tg_bce(tp, p, t, (tg_reduction)red)), TG_OK);
        tt_assert_values(red ? "d bce/dp (mean)" : "d bce/dp (sum)", tg_tensor_grad(p), e, 10,
                         1e-10, 0);
    }
    tg_tape_free(tp);
    tg_tensor_free(p);
    tg_tensor_free(t);
}
END_TEST

/* d bce_logits/dz = sigmoid(z) - t  (/n for the mean);
 * d/dt = -z  (/n). */
START_TEST(test_bce_logits_closed_form)
{
    const int64_t *sh = TT_SHAPE(3, 2, 2);
    tg_tensor *z = tt_param(3, sh, 15, -5, 5), *t = tt_param(3, sh, 16, 0, 1);
    double zv[12], tv[12], e[12], et[12];
    tg_tensor_to_f64(z, zv);
    tg_tensor_to_f64(t, tv);
    tg_tape *tp = tg_tape_new(NULL);
    for (int red = 0; red < 2; red++) {
        const double n = red ? 12.0 : 1.0;
        for (int i = 0; i < 12; i++) e[i] = (sigm(zv[i]) - tv[i]) / n, et[i] = -zv[i] / n;
        tg_tape_reset(tp);
        ck_assert_int_eq(tg_backward(tp, tg_bce_logits(tp, z, t, (tg_reduction)red)), TG_OK);
        tt_assert_values("d bce_logits/dz = sigmoid(z) - t", tg_tensor_grad(z), e, 12, 1e-10, 0);
        tt_assert_values("d bce_logits/dt = -z", tg_tensor_grad(t), et, 12, 1e-10, 0);
    }
    tg_tape_free(tp);
    tg_tensor_free(z);
    tg_tensor_free(t);
}
END_TEST

/* d softmax_ce/dz = softmax(z) - t per row (/N for the mean)  (seed 002
 * eqs. 15-20), for soft targets, one-hot targets and labels, (N,C) and (C). */
START_TEST(test_xent_closed_form)
{
    const int64_t N = 4, C = 6;
    tg_tensor *z = tt_param(2, TT_SHAPE(4, 6), 17, -3, 3);
    tg_tensor *t = rand_dist(2, TT_SHAPE(4, 6), 18);
    const int32_t lab[4] = {5, 0, 3, 0};
    double zv[24], tv[24], oh[24] = {0}, sm[24], e[24];
    tg_tensor_to_f64(z, zv);
    tg_tensor_to_f64(t, tv);
    for (int64_t r = 0; r < N; r++) {
        ref_xent_row(C, zv + r * C, tv + r * C, sm + r * C);
        oh[r * C + lab[r]] = 1;
    }
    tg_tape *tp = tg_tape_new(NULL);
    for (int red = 0; red < 2; red++) {
        const double n = red ? (double)N : 1.0;
        for (int i = 0; i < 24; i++) e[i] = (sm[i] - tv[i]) / n;
        tg_tape_reset(tp);
        ck_assert_int_eq(tg_backward(tp, tg_softmax_cross_entropy(tp, z, t, (tg_reduction)red)),
                         TG_OK);
        tt_assert_values("d xent/dz = softmax(z) - t", tg_tensor_grad(z), e, 24, 1e-10, 0);
        for (int i = 0; i < 24; i++) e[i] = (sm[i] - oh[i]) / n;
        tg_tape_reset(tp);
        ck_assert_int_eq(tg_backward(tp, tt_xent_labels(tp, z, lab, N, (tg_reduction)red)), TG_OK);
        tt_assert_values("d xent_labels/dz = softmax(z) - onehot", tg_tensor_grad(z), e, 24, 1e-10,
                         0);
    }
    /* 1-d logits: one row, the mean equals the sum */
    tg_tensor *z1 = tt_param(1, TT_SHAPE(6), 19, -3, 3);
    double z1v[6], sm1[6];
    tg_tensor_to_f64(z1, z1v);
    ref_xent_row(6, z1v, oh, sm1);
    for (int i = 0; i < 6; i++) e[i] = sm1[i] - oh[i];
    for (int red = 0; red < 2; red++) {
        tg_tape_reset(tp);
        ck_assert_int_eq(tg_backward(tp, tt_xent_labels(tp, z1, (const int32_t[]){lab[0]}, 1,
                                                        (tg_reduction)red)),
                         TG_OK);
        tt_assert_values("d xent/dz (C)", tg_tensor_grad(z1), e, 6, 1e-10, 0);
    }
    tg_tape_free(tp);
    tg_tensor_free(z);
    tg_tensor_free(t);
    tg_tensor_free(z1);
}
END_TEST

/* ---- gradchecks ------------------------------------------------------------ */

typedef enum which { L_SSE, L_MSE, L_BCE, L_BCE_LOGITS, L_XENT, L_XENT_LABELS } which;

typedef struct loss_ctx {
    which w;
    tg_reduction red;
    const int32_t *labels;
    int64_t n;
} loss_ctx;

static tg_tensor *fn_loss(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const loss_ctx *c = ctx;
    switch (c->w) {
    case L_SSE:
        return tg_sse(tp, in[0], in[1]);
    case L_MSE:
        return tg_mse(tp, in[0], in[1]);
    case L_BCE:
        return tg_bce(tp, in[0], in[1], c->red);
    case L_BCE_LOGITS:
        return tg_bce_logits(tp, in[0], in[1], c->red);
    case L_XENT:
        return tg_softmax_cross_entropy(tp, in[0], in[1], c->red);
    case L_XENT_LABELS:
        return tt_xent_labels(tp, in[0], c->labels, c->n, c->red);
    }
    return NULL;
}

static const struct {
    int ndim;
    int64_t shape[3];
} k_shapes[] = {{0, {0}}, {1, {5}}, {2, {3, 4}}, {3, {2, 3, 2}}};

/* The elementwise losses over 0-d to 3-d, both reductions, with respect to
 * the prediction and the target. */
START_TEST(test_elementwise_losses_gradcheck)
{
    for (int s = 0; s < LEN(k_shapes); s++) {
        const int nd = k_shapes[s].ndim;
        const int64_t *sh = k_shapes[s].shape;
        tg_tensor *y = tt_param(nd, sh, 300 + (uint64_t)s, -2, 2);
        tg_tensor *p = tt_param(nd, sh, 310 + (uint64_t)s, 0.1, 0.9);
        tg_tensor *t = tt_param(nd, sh, 320 + (uint64_t)s, 0, 1);
        for (int w = L_SSE; w <= L_BCE_LOGITS; w++)
            for (int red = 0; red < 2; red++) {
                loss_ctx c = {(which)w, (tg_reduction)red, NULL, 0};
                tg_tensor *in[2] = {w == L_BCE ? p : y, t};
                char what[64];
                snprintf(what, sizeof what, "loss %d %s, %d-d", w, red_name(c.red), nd);
                tt_gradcheck(what, fn_loss, &c, 2, in);
            }
        tg_tensor_free(y);
        tg_tensor_free(p);
        tg_tensor_free(t);
    }
}
END_TEST

START_TEST(test_xent_gradcheck)
{
    static const struct {
        int ndim;
        int64_t shape[2];
    } cases[] = {{1, {5}}, {2, {1, 4}}, {2, {3, 4}}, {2, {5, 2}}};
    for (int s = 0; s < LEN(cases); s++) {
        const int nd = cases[s].ndim;
        const int64_t *sh = cases[s].shape;
        const int64_t N = nd == 2 ? sh[0] : 1, C = sh[nd - 1];
        tg_tensor *z = tt_param(nd, sh, 400 + (uint64_t)s, -3, 3);
        tg_tensor *t = rand_dist(nd, sh, 410 + (uint64_t)s);
        tg_tensor_set_requires_grad(t, true);
        int32_t lab[5];
        for (int64_t r = 0; r < N; r++) lab[r] = (int32_t)((r * 3 + 1) % C);
        for (int red = 0; red < 2; red++) {
            loss_ctx c = {L_XENT, (tg_reduction)red, lab, N};
            char what[64];
            snprintf(what, sizeof what, "xent %s, case %d", red_name(c.red), s);
            tg_tensor *zt[2] = {z, t};
            tt_gradcheck(what, fn_loss, &c, 2, zt);
            c.w = L_XENT_LABELS;
            snprintf(what, sizeof what, "xent labels %s, case %d", red_name(c.red), s);
            tt_gradcheck(what, fn_loss, &c, 1, &z);
        }
        tg_tensor_free(z);
        tg_tensor_free(t);
    }
}
END_TEST

/* Second derivatives: the recorded gradient of each loss, checked by finite
 * differences (the Hessian-vector products of the composition). */
static tg_tensor *fn_loss_grad(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    return tg_grad(tp, fn_loss(tp, in, ctx), in[0], true);
}

START_TEST(test_losses_second_order)
{
    const int64_t *sh = TT_SHAPE(3, 4);
    tg_tensor *z = tt_param(2, sh, 500, -2, 2);
    tg_tensor *p = tt_param(2, sh, 501, 0.1, 0.9);
    tg_tensor *t = rand_dist(2, sh, 502);
    const int32_t lab[3] = {3, 1, 1};
    tg_tensor *pt[2] = {p, t}, *zt[2] = {z, t};
    for (int red = 0; red < 2; red++) {
        loss_ctx c = {L_BCE, (tg_reduction)red, lab, 3};
        tt_gradcheck("d/dp grad bce", fn_loss_grad, &c, 2, pt);
        c.w = L_BCE_LOGITS;
        tt_gradcheck("d/dz grad bce_logits", fn_loss_grad, &c, 2, zt);
        c.w = L_XENT;
        tt_gradcheck("d/dz grad xent", fn_loss_grad, &c, 2, zt);
        c.w = L_XENT_LABELS;
        tt_gradcheck("d/dz grad xent labels", fn_loss_grad, &c, 1, &z);
    }
    tg_tensor_free(z);
    tg_tensor_free(p);
    tg_tensor_free(t);
}
END_TEST

/* ---- numerics at the edges (issue 18, items 8 and 10) ---------------------- */

/* A -inf logit masks a class: with logits (0, 0, -inf) the loss is log 2 for
 * label 0 and its gradient softmax(z) - onehot = (-1/2, 1/2, 0), not the NaN
 * of 0 * -inf in the product of the targets with log_softmax(z).  Checked
 * for labels, one-hot and soft targets (soft (1/4, 3/4, 0): loss log 2,
 * gradient (1/4, -1/4, 0)), (N,C) and (C), both reductions, through the
 * direct rules (tg_backward), the op-built ones (tg_grad with
 * create_graph) and a second derivative (finite). */
typedef enum { M_LABELS, M_ONEHOT, M_SOFT } mask_kind;

static tg_tensor *masked_loss(tg_tape *tp, mask_kind k, tg_tensor *z, tg_tensor *onehot,
                              tg_tensor *soft, const int32_t *lab, int64_t n, tg_reduction red)
{
    switch (k) {
    case M_LABELS:
        return tt_xent_labels(tp, z, lab, n, red);
    case M_ONEHOT:
        return tg_softmax_cross_entropy(tp, z, onehot, red);
    default:
        return tg_softmax_cross_entropy(tp, z, soft, red);
    }
}

START_TEST(test_xent_masked_logits)
{
    const double L2 = 0.69314718055994530942;
    /* rows: (0, 0, -inf) label 0; (1, -inf, 2) label 2; (0.5, 0.5, 0.5) label 1 */
    const double zv[9] = {0, 0, -INFINITY, 1, -INFINITY, 2, 0.5, 0.5, 0.5};
    const int32_t lab[3] = {0, 2, 1};
    const double oh[9] = {1, 0, 0, 0, 0, 1, 0, 1, 0};
    const double sf[9] = {0.25, 0.75, 0, 0.5, 0, 0.5, 0.25, 0.25, 0.5};
    /* p = softmax rows: (1/2, 1/2, 0), (1/(1+e), 0, e/(1+e)), (1/3, 1/3, 1/3) */
    const double e1 = exp(1.0),
                 p[9] = {0.5, 0.5, 0, 1 / (1 + e1), 0, e1 / (1 + e1), 1.0 / 3, 1.0 / 3, 1.0 / 3};
    const double row_l[2][3] = {
        {L2, log1p(e1) - 1.0, log(3.0)},                                   /* one-hot / labels */
        {L2, 0.5 * (log1p(e1) - 0.0) + 0.5 * (log1p(e1) - 1.0), log(3.0)}, /* soft */
    };
    for (int k = 0; k < 3; k++)
        for (int rows = 1; rows <= 3; rows += 2) /* 1: the (C) shape of row 0 */
            for (int red = 0; red < 2; red++) {
                const bool d1 = rows == 1;
                tg_tensor *z = d1 ? tt_from(TG_F64, 1, TT_SHAPE(3), zv)
                                  : tt_from(TG_F64, 2, TT_SHAPE(3, 3), zv);
                tg_tensor *oht = d1 ? tt_from(TG_F64, 1, TT_SHAPE(3), oh)
                                    : tt_from(TG_F64, 2, TT_SHAPE(3, 3), oh);
                tg_tensor *sft = d1 ? tt_from(TG_F64, 1, TT_SHAPE(3), sf)
                                    : tt_from(TG_F64, 2, TT_SHAPE(3, 3), sf);
                tg_tensor_set_requires_grad(z, true);
                const double *t = k == M_SOFT ? sf : oh;
                const double n = red == TG_REDUCE_MEAN ? rows : 1;
                double want = 0, g[9];
                for (int r = 0; r < rows; r++) want += row_l[k == M_SOFT][r] / n;
                for (int i = 0; i < 3 * rows; i++) g[i] = (p[i] - t[i]) / n;
                char what[96];
                snprintf(what, sizeof what, "masked xent kind %d, %d rows, %s", k, rows,
                         red_name((tg_reduction)red));
                tg_tape *tp = tg_tape_new(NULL);
                tg_tensor *l =
                    masked_loss(tp, (mask_kind)k, z, oht, sft, lab, rows, (tg_reduction)red);
                ck_assert_msg(l != NULL, "%s: %s", what, tg_tape_error(tp));
                ck_assert_msg(fabs(scalar(l) - want) <= 1e-14 * want, "%s: loss %.17g, want %.17g",
                              what, scalar(l), want);
                ck_assert_int_eq(tg_backward(tp, l), TG_OK);
                tt_assert_values(what, tg_tensor_grad(z), g, 3 * rows, 1e-14, 1e-16);
                /* op-built rules, then a Hessian-vector product through them */
                tg_tensor *gz = tg_grad(tp, l, z, true);
                ck_assert_msg(gz != NULL, "%s: %s", what, tg_tape_error(tp));
                tt_assert_values(what, gz, g, 3 * rows, 1e-14, 1e-16);
                tg_tensor *v = tg_tensor_ones(TG_F64, tg_tensor_ndim(z), tg_tensor_shape(z));
                tg_tensor *hv = tg_grad(tp, tg_sum_all(tp, tg_mul(tp, gz, v)), z, false);
                ck_assert_msg(hv != NULL, "%s: %s", what, tg_tape_error(tp));
                for (int i = 0; i < 3 * rows; i++)
                    ck_assert_msg(isfinite(tg_tensor_get_flat(hv, i)), "%s: H v [%d] = %g", what, i,
                                  tg_tensor_get_flat(hv, i));
                tg_tape_free(tp);
                tg_tensor_free(v);
                tg_tensor_free(z);
                tg_tensor_free(oht);
                tg_tensor_free(sft);
            }
}
END_TEST

/* The finite logits around a masked class, gradchecked (both rules, and the
 * second derivative): z = concat(x, -inf) for each row. */
typedef struct masked_ctx {
    mask_kind k;
    tg_tensor *minf; /* (2,1) of -inf */
} masked_ctx;
static tg_tensor *fn_masked(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const masked_ctx *c = ctx;
    const int32_t lab[2] = {0, 1};
    tg_tensor *parts[2] = {in[0], c->minf};
    tg_tensor *z = tg_concat(tp, 2, parts, 1);
    return masked_loss(tp, c->k, z, in[1], in[1], lab, 2, TG_REDUCE_MEAN);
}
static tg_tensor *fn_masked_grad(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    return tg_grad(tp, fn_masked(tp, in, ctx), in[0], true);
}

START_TEST(test_xent_masked_gradcheck)
{
    tg_tensor *x = tt_param(2, TT_SHAPE(2, 3), 700, -2, 2);
    /* targets (2,4), 0 on the masked last class */
    tg_tensor *t = tt_from(TG_F64, 2, TT_SHAPE(2, 4), TT_VALUES(1, 0, 0, 0, 0.2, 0.3, 0.5, 0));
    tg_tensor *in[2] = {x, t};
    masked_ctx c = {M_LABELS, tg_tensor_full(TG_F64, 2, TT_SHAPE(2, 1), -INFINITY)};
    for (int k = 0; k < 3; k++) {
        c.k = (mask_kind)k;
        tt_gradcheck("masked xent", fn_masked, &c, 2, in);
        tt_gradcheck("masked xent, d/dx of the gradient", fn_masked_grad, &c, 2, in);
    }
    tg_tensor_free(c.minf);
    tg_tensor_free(x);
    tg_tensor_free(t);
}
END_TEST

/* softmax and log_softmax themselves at a -inf logit: (0, 0, -inf) gives
 * (1/2, 1/2, 0) and (-log 2, -log 2, -inf); their vector-Jacobian
 * products with w = (1, 2, 3) are y (w - sum w y) = (-1/4, 1/4, 0) and
 * w - softmax sum w = (-2, -1, 3), through the direct and op-built rules. */
START_TEST(test_softmax_masked_logits)
{
    const double L2 = 0.69314718055994530942;
    tg_tensor *z = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(0, 0, -INFINITY));
    tg_tensor *w = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    tg_tensor_set_requires_grad(z, true);
    for (int built = 0; built < 2; built++) {
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = tg_softmax(tp, z, 0), *ls = tg_log_softmax(tp, z, 0), *g;
        tt_assert_values("softmax", y, TT_VALUES(0.5, 0.5, 0), 3, 1e-15, 0);
        ck_assert(fabs(tg_tensor_get_flat(ls, 0) + L2) <= 1e-15 * L2);
        ck_assert(fabs(tg_tensor_get_flat(ls, 1) + L2) <= 1e-15 * L2);
        ck_assert(tg_tensor_get_flat(ls, 2) == -INFINITY);
        ck_assert_int_eq(tg_vjp(tp, y, w, 1, &z, &g, built), TG_OK);
        tt_assert_values("softmax vjp", g, TT_VALUES(-0.25, 0.25, 0), 3, 1e-15, 0);
        ck_assert_int_eq(tg_vjp(tp, ls, w, 1, &z, &g, built), TG_OK);
        tt_assert_values("log_softmax vjp", g, TT_VALUES(-2, -1, 3), 3, 1e-15, 0);
        tg_tape_free(tp);
    }
    tg_tensor_free(z);
    tg_tensor_free(w);
}
END_TEST

/* bce_logits at large |z|: max(z, 0) - t z + log1p(e^-|z|) against long
 * double, the loss to 2 ulp relative; softplus(z) - t z cancelled (z = 36,
 * t = 1 gave 0 for 2.3e-16).  The gradient sigmoid(z) - t likewise (1 - t -
 * sigmoid(-z) for z > 0), through the direct, op-built and scalar rules. */
START_TEST(test_bce_logits_extreme)
{
    const double zs[5] = {30, 36, 100, -100, 0}, ts[3] = {0, 1, 0.3};
    double zv[15], tv[15], el[15], eg[15];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++) {
            const int k = i * 3 + j;
            const long double z = zs[i], t = ts[j];
            zv[k] = zs[i], tv[k] = ts[j];
            el[k] = (double)((z > 0 ? z : 0) - t * z + log1pl(expl(-fabsl(z))));
            eg[k] = (double)(z > 0 ? (1 - t) - 1 / (1 + expl(z)) : 1 / (1 + expl(-z)) - t);
        }
    for (int dt = 0; dt < 2; dt++) {
        const tg_dtype d = dt ? TG_F32 : TG_F64;
        const double rtol = dt ? 4 * FLT_EPSILON : 4 * DBL_EPSILON;
        for (int k = 0; k < 15; k++) {
            tg_tensor *z = tg_tensor_scalar(d, zv[k]), *t = tg_tensor_scalar(d, tv[k]);
            tg_tensor_set_requires_grad(z, true);
            /* f32: the reference in the f32 values of z and t */
            const long double zz = tg_tensor_get_flat(z, 0), tt = tg_tensor_get_flat(t, 0);
            const double wl =
                dt ? (double)((zz > 0 ? zz : 0) - tt * zz + log1pl(expl(-fabsl(zz)))) : el[k];
            const double wg =
                dt ? (double)(zz > 0 ? (1 - tt) - 1 / (1 + expl(zz)) : 1 / (1 + expl(-zz)) - tt)
                   : eg[k];
            tg_tape *tp = tg_tape_new(NULL);
            tg_tensor *l = tg_bce_logits(tp, z, t, TG_REDUCE_SUM);
            /* f32: values below FLT_MIN are subnormal, with fewer digits */
            const double tiny = dt ? FLT_MIN : 0;
            ck_assert_msg(fabs(scalar(l) - wl) <= rtol * fabs(wl) || fabs(wl) < tiny,
                          "%s bce_logits(z %g, t %g) = %.17g, want %.17g", dt ? "f32" : "f64",
                          zv[k], tv[k], scalar(l), wl);
            ck_assert_int_eq(tg_backward(tp, l), TG_OK); /* scalar rules (one element) */
            const double g = tg_tensor_get_flat(tg_tensor_grad(z), 0);
            ck_assert_msg(fabs(g - wg) <= rtol * fabs(wg) || fabs(wg) < tiny,
                          "%s d/dz bce_logits(z %g, t %g) = %.17g, want %.17g", dt ? "f32" : "f64",
                          zv[k], tv[k], g, wg);
            tg_tensor *gz = tg_grad(tp, l, z, true); /* op-built rules */
            ck_assert_ptr_nonnull(gz);
            ck_assert_msg(fabs(tg_tensor_get_flat(gz, 0) - wg) <= rtol * fabs(wg) ||
                              fabs(wg) < tiny,
                          "%s op-built d/dz bce_logits(z %g, t %g) = %.17g, want %.17g",
                          dt ? "f32" : "f64", zv[k], tv[k], tg_tensor_get_flat(gz, 0), wg);
            tg_tape_free(tp);
            tg_tensor_free(z);
            tg_tensor_free(t);
        }
        /* the same values as one (5,3) tensor: the direct (tensor) rules */
        tg_tensor *z = tt_from(d, 2, TT_SHAPE(5, 3), zv), *t = tt_from(d, 2, TT_SHAPE(5, 3), tv);
        tg_tensor_set_requires_grad(z, true);
        tg_tape *tp = tg_tape_new(NULL);
        ck_assert_int_eq(tg_backward(tp, tg_bce_logits(tp, z, t, TG_REDUCE_SUM)), TG_OK);
        if (!dt) tt_assert_values("d/dz bce_logits, tensor", tg_tensor_grad(z), eg, 15, rtol, 0);
        tg_tape_free(tp);
        tg_tensor_free(z);
        tg_tensor_free(t);
    }
}
END_TEST

/* ---- errors --------------------------------------------------------------- */

/* call must return NULL and leave st with a message holding each string;
 * the tape is reset for the next case. */
#define EXPECT(call, st, ...)                                                                      \
    do {                                                                                           \
        ck_assert_ptr_null(call);                                                                  \
        tt_assert_tape_error(tp, st, __VA_ARGS__);                                                 \
        tg_tape_reset(tp);                                                                         \
    } while (0)

START_TEST(test_loss_shape_errors)
{
    tg_tensor *a = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 1, 0.1, 0.9);
    tg_tensor *b = tt_rand(TG_F64, 2, TT_SHAPE(3, 5), 2, 0.1, 0.9);
    tg_tensor *row = tt_rand(TG_F64, 1, TT_SHAPE(4), 3, 0.1, 0.9);
    tg_tensor *col = tt_rand(TG_F64, 2, TT_SHAPE(3, 1), 4, 0.1, 0.9);
    tg_tensor *a32 = tg_tensor_cast_new(a, TG_F32);
    tg_tape *tp = tg_tape_new(NULL);

    EXPECT(tg_bce(tp, a, b, TG_REDUCE_SUM), TG_ERR_SHAPE, "bce: p (3,4) and t (3,5) differ");
    EXPECT(tg_sse(tp, a, b), TG_ERR_SHAPE, "sse: y (3,4) and t (3,5) differ");
    EXPECT(tg_mse(tp, b, a), TG_ERR_SHAPE, "mse: y (3,5) and t (3,4) differ");
    EXPECT(tg_bce_logits(tp, a, b, TG_REDUCE_MEAN), TG_ERR_SHAPE,
           "bce_logits: z (3,4) and t (3,5) differ");
    EXPECT(tg_softmax_cross_entropy(tp, a, b, TG_REDUCE_SUM), TG_ERR_SHAPE,
           "softmax_cross_entropy: z (3,4) and targets (3,5) differ");
    /* targets that would broadcast are refused, not broadcast */
    EXPECT(tg_sse(tp, a, row), TG_ERR_SHAPE, "sse", "(3,4)", "(4)");
    EXPECT(tg_mse(tp, col, a), TG_ERR_SHAPE, "mse", "(3,1)", "(3,4)");
    EXPECT(tg_softmax_cross_entropy(tp, a, row, TG_REDUCE_MEAN), TG_ERR_SHAPE,
           "softmax_cross_entropy", "(3,4)", "(4)");
    /* dtypes */
    EXPECT(tg_sse(tp, a, a32), TG_ERR_DTYPE, "sse", "f64[3,4]", "f32[3,4]");
    EXPECT(tg_bce(tp, a32, a, TG_REDUCE_SUM), TG_ERR_DTYPE, "bce", "f32[3,4]", "f64[3,4]");
    EXPECT(tg_softmax_cross_entropy(tp, a, a32, TG_REDUCE_SUM), TG_ERR_DTYPE,
           "softmax_cross_entropy", "f32");
    /* reductions */
    EXPECT(tg_bce(tp, a, a, (tg_reduction)2), TG_ERR_ARG, "bce", "reduction 2");
    EXPECT(tg_bce_logits(tp, a, a, (tg_reduction)-1), TG_ERR_ARG, "bce_logits", "reduction -1");
    EXPECT(tg_softmax_cross_entropy(tp, a, a, (tg_reduction)7), TG_ERR_ARG, "softmax_cross_entropy",
           "reduction 7");
    EXPECT(tt_xent_labels(tp, a, (const int32_t[]){0, 0, 0}, 3, (tg_reduction)3), TG_ERR_ARG,
           "softmax_cross_entropy_index", "reduction 3");
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(row);
    tg_tensor_free(col);
    tg_tensor_free(a32);
}
END_TEST

START_TEST(test_loss_value_errors)
{
    tg_tensor *p = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(0.2, 1.5, 0.3));
    tg_tensor *pn = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(0.2, NAN));
    tg_tensor *t = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(0, 1, 0));
    tg_tensor *t2 = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(0, 1));
    tg_tensor *z = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 5, -1, 1);
    tg_tensor *z3 = tt_rand(TG_F64, 3, TT_SHAPE(2, 3, 4), 6, -1, 1);
    tg_tensor *z0c = tg_tensor_zeros(TG_F64, 2, TT_SHAPE(3, 0));
    tg_tensor *z0n = tg_tensor_zeros(TG_F64, 2, TT_SHAPE(0, 4));
    tg_tensor *s0 = tg_tensor_scalar(TG_F64, 0.5);
    tg_tape *tp = tg_tape_new(NULL);

    EXPECT(tg_bce(tp, p, t, TG_REDUCE_SUM), TG_ERR_ARG, "bce", "1.5", "flat index 1", "[0,1]");
    EXPECT(tg_bce(tp, pn, t2, TG_REDUCE_MEAN), TG_ERR_ARG, "bce", "nan", "flat index 1");
    /* cross-entropy shapes */
    EXPECT(tg_softmax_cross_entropy(tp, z3, z3, TG_REDUCE_SUM), TG_ERR_SHAPE,
           "softmax_cross_entropy", "(2,3,4)", "(N,C) or (C)");
    EXPECT(tg_softmax_cross_entropy(tp, s0, s0, TG_REDUCE_SUM), TG_ERR_SHAPE,
           "softmax_cross_entropy", "()");
    EXPECT(tt_xent_labels(tp, z3, (const int32_t[]){0, 0}, 2, TG_REDUCE_SUM), TG_ERR_SHAPE,
           "softmax_cross_entropy_index", "(2,3,4)");
    EXPECT(tg_softmax_cross_entropy(tp, z0c, z0c, TG_REDUCE_SUM), TG_ERR_EMPTY,
           "softmax_cross_entropy", "(3,0)", "no classes");
    EXPECT(tt_xent_labels(tp, z0c, (const int32_t[]){0, 0, 0}, 3, TG_REDUCE_SUM), TG_ERR_EMPTY,
           "softmax_cross_entropy_index", "(3,0)");
    /* means over nothing */
    EXPECT(tg_softmax_cross_entropy(tp, z0n, z0n, TG_REDUCE_MEAN), TG_ERR_EMPTY,
           "softmax_cross_entropy", "(0,4)", "empty");
    EXPECT(tt_xent_labels(tp, z0n, NULL, 0, TG_REDUCE_MEAN), TG_ERR_EMPTY,
           "softmax_cross_entropy_index", "(0,4)");
    EXPECT(tg_mse(tp, z0n, z0n), TG_ERR_EMPTY, "mse", "(0,4)");
    EXPECT(tg_bce(tp, z0n, z0n, TG_REDUCE_MEAN), TG_ERR_EMPTY, "bce", "(0,4)");
    EXPECT(tg_bce_logits(tp, z0n, z0n, TG_REDUCE_MEAN), TG_ERR_EMPTY, "bce_logits", "(0,4)");
    /* labels */
    EXPECT(tt_xent_labels(tp, z, (const int32_t[]){0, 4, 1}, 3, TG_REDUCE_SUM), TG_ERR_ARG,
           "softmax_cross_entropy_index", "label 4 at row 1", "[0, 4)", "(3,4)");
    EXPECT(tt_xent_labels(tp, z, (const int32_t[]){0, 1, -1}, 3, TG_REDUCE_MEAN), TG_ERR_ARG,
           "label -1 at row 2");
    EXPECT(tt_xent_labels(tp, z, (const int32_t[]){0, 1}, 2, TG_REDUCE_SUM), TG_ERR_SHAPE,
           "softmax_cross_entropy_index", "labels (2)", "(3,4)", "class axis, (3)");
    EXPECT(tt_xent_labels(tp, z, (const int32_t[]){0, 1, 2, 3}, 4, TG_REDUCE_SUM), TG_ERR_SHAPE,
           "labels (4)", "class axis, (3)");
    EXPECT(tg_softmax_cross_entropy_index(tp, z, NULL, TG_REDUCE_SUM), TG_ERR_NULL,
           "softmax_cross_entropy_index", "labels is NULL");
    tg_tensor *z1 = tt_rand(TG_F64, 1, TT_SHAPE(4), 7, -1, 1);
    EXPECT(tt_xent_labels(tp, z1, (const int32_t[]){0, 1}, 2, TG_REDUCE_SUM), TG_ERR_SHAPE,
           "labels (2)", "(4)", "class axis, ()");
    EXPECT(tt_xent_labels(tp, z1, (const int32_t[]){9}, 1, TG_REDUCE_SUM), TG_ERR_ARG,
           "label 9 at row 0");
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor *all[] = {p, pn, t, t2, z, z3, z0c, z0n, s0, z1};
    for (int i = 0; i < LEN(all); i++) tg_tensor_free(all[i]);
}
END_TEST

START_TEST(test_loss_null_and_tape_error)
{
    tg_tensor *a = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 1, 0.1, 0.9);
    const int32_t lab[2] = {0, 2};
    tg_tape *tp = tg_tape_new(NULL);
    EXPECT(tg_sse(tp, NULL, a), TG_ERR_NULL, "sse", "input 0 is NULL");
    EXPECT(tg_mse(tp, a, NULL), TG_ERR_NULL, "mse", "input 1 is NULL");
    EXPECT(tg_bce(tp, NULL, a, TG_REDUCE_SUM), TG_ERR_NULL, "bce", "NULL");
    EXPECT(tg_bce_logits(tp, a, NULL, TG_REDUCE_SUM), TG_ERR_NULL, "bce_logits", "NULL");
    EXPECT(tg_softmax_cross_entropy(tp, NULL, a, TG_REDUCE_SUM), TG_ERR_NULL,
           "softmax_cross_entropy", "NULL");
    EXPECT(tt_xent_labels(tp, NULL, lab, 2, TG_REDUCE_SUM), TG_ERR_NULL,
           "softmax_cross_entropy_index", "NULL");
    /* no tape */
    ck_assert_ptr_null(tg_sse(NULL, a, a));
    ck_assert_ptr_null(tg_mse(NULL, a, a));
    ck_assert_ptr_null(tg_bce(NULL, a, a, TG_REDUCE_SUM));
    ck_assert_ptr_null(tg_bce_logits(NULL, a, a, TG_REDUCE_SUM));
    ck_assert_ptr_null(tg_softmax_cross_entropy(NULL, a, a, TG_REDUCE_SUM));
    ck_assert_ptr_null(tt_xent_labels(NULL, a, lab, 2, TG_REDUCE_SUM));

    /* a tape in error: every loss returns NULL, records nothing, and the
     * first error stays (even for inputs that are themselves invalid) */
    ck_assert_ptr_null(tg_sse(tp, a, NULL));
    int64_t nodes = tg_tape_usage(tp).nodes;
    ck_assert_ptr_null(tg_sse(tp, a, a));
    ck_assert_ptr_null(tg_mse(tp, a, a));
    ck_assert_ptr_null(tg_bce(tp, a, a, TG_REDUCE_MEAN));
    ck_assert_ptr_null(tg_bce_logits(tp, a, a, TG_REDUCE_MEAN));
    ck_assert_ptr_null(tg_softmax_cross_entropy(tp, a, a, TG_REDUCE_MEAN));
    ck_assert_ptr_null(tt_xent_labels(tp, a, lab, 2, TG_REDUCE_MEAN));
    ck_assert_ptr_null(tg_softmax_cross_entropy_index(tp, a, NULL, (tg_reduction)9));
    ck_assert_int_eq(tg_tape_usage(tp).nodes, nodes);
    tt_assert_tape_error(tp, TG_ERR_NULL, "sse", "input 1 is NULL");
    tg_tape_free(tp);
    tg_tensor_free(a);
}
END_TEST

/* A failure in the middle of a composition (here: the arena limit) leaves
 * a clean sticky error and NULL, not a crash. */
START_TEST(test_loss_out_of_memory)
{
    tg_tensor *z = tt_rand(TG_F64, 2, TT_SHAPE(64, 64), 1, -1, 1);
    tg_tensor *t = tt_rand(TG_F64, 2, TT_SHAPE(64, 64), 2, 0, 1);
    tg_tape *tp = tg_tape_new(&(tg_tape_options){.arena_limit = 64 * 64 * 8 * 2});
    ck_assert_ptr_null(tg_softmax_cross_entropy(tp, z, t, TG_REDUCE_MEAN));
    tt_assert_tape_error(tp, TG_ERR_NOMEM, "limit");
    tg_tape_free(tp);
    tg_tensor_free(z);
    tg_tensor_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loss");
    TCase *tf = tcase_create("forward");
    tcase_add_test(tf, test_sse_mse_forward);
    tcase_add_test(tf, test_sse_empty);
    tcase_add_test(tf, test_bce_forward);
    tcase_add_test(tf, test_bce_clamped_log);
    tcase_add_test(tf, test_bce_logits_forward);
    tcase_add_test(tf, test_xent_forward);
    tcase_add_test(tf, test_loss_f32_vs_f64);
    suite_add_tcase(s, tf);
    TCase *tg = tcase_create("gradient");
    tcase_add_test(tg, test_sse_mse_closed_form);
    tcase_add_test(tg, test_bce_closed_form);
    tcase_add_test(tg, test_bce_logits_closed_form);
    tcase_add_test(tg, test_xent_closed_form);
    tcase_add_test(tg, test_elementwise_losses_gradcheck);
    tcase_add_test(tg, test_xent_gradcheck);
    tcase_add_test(tg, test_losses_second_order);
    tcase_add_test(tg, test_xent_masked_logits);
    tcase_add_test(tg, test_xent_masked_gradcheck);
    tcase_add_test(tg, test_softmax_masked_logits);
    tcase_add_test(tg, test_bce_logits_extreme);
    suite_add_tcase(s, tg);
    TCase *te = tcase_create("errors");
    tcase_add_test(te, test_loss_shape_errors);
    tcase_add_test(te, test_loss_value_errors);
    tcase_add_test(te, test_loss_null_and_tape_error);
    tcase_add_test(te, test_loss_out_of_memory);
    suite_add_tcase(s, te);
    return tt_run(s);
}
