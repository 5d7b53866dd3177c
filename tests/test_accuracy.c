/* Accuracy of the sums gradients make, at sizes where summing one term at a
 * time in the tensor's dtype shows (10^6 f32 terms: a relative error near
 * 1e-5), and of second derivatives through maximum/minimum.
 *
 * Each gradient is compared with a reference computed from the same inputs
 * in long double with a compensated sum (its own error is far below the
 * tolerances).  The tolerances come from the summation bound: a gradient
 * element is S = sum of K terms t_k, each term computed in the dtype with r
 * roundings (relative error <= r u, u the dtype's unit roundoff), all terms
 * of one sign (so sum |t_k| = |S| and the terms' errors bound S's relative
 * error by r u), summed in the accumulator (for f32 a double: error <= K
 * u_d |S|, u_d = 2^-53; for f64 a double-double: <= K u^2 |S|) and rounded
 * once to the dtype (u).  So
 *     |computed - S| / |S| <= (r + 1) u + K u_acc,
 * and the tests allow (r + 1.5) u + K u_acc (half an ulp for the second
 * order terms and the reference).  Summed one at a time in f32 the bound is
 * K u: 0.06 for K = 10^6, and the observed errors were 1e-5 to 1e-4. */
#include "common.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

typedef tg_tensor *(*bin_fn)(tg_tape *, tg_tensor *, tg_tensor *);

typedef struct acc_case {
    const char *name;
    bin_fn op;
    int r; /* roundings in one term of d L / d b (see the top) */
    int nd;
    int64_t full[3];  /* a's shape (and the output's) */
    int64_t bcast[3]; /* b's shape, broadcast over a's */
} acc_case;

/* L = sum(op(a, b) * w): the output gradient of op is w (exact), so the
 * terms of d L / d b are add: w; mul: w a (1 rounding); div: -(w ((a / b) /
 * b)) (3 roundings, the direct rule's and the op-built rule's arithmetic). */
static const acc_case k_cases[] = {
    {"add (1,)", tg_add, 0, 1, {1000000}, {1}},
    {"mul (1,)", tg_mul, 1, 1, {1000000}, {1}},
    {"div (1,)", tg_div, 3, 1, {1000000}, {1}},
    {"add (1,100)", tg_add, 0, 2, {10000, 100}, {1, 100}},
    {"mul (1,100)", tg_mul, 1, 2, {10000, 100}, {1, 100}},
    {"div (1,100)", tg_div, 3, 2, {10000, 100}, {1, 100}},
    {"mul (100,1)", tg_mul, 1, 2, {100, 10000}, {100, 1}},
    {"div (100,1)", tg_div, 3, 2, {100, 10000}, {100, 1}},
    {"mul (1,20,1)", tg_mul, 1, 3, {50, 20, 1000}, {1, 20, 1}},
};

static double unit_roundoff(tg_dtype dt)
{
    return dt == TG_F32 ? FLT_EPSILON / 2 : DBL_EPSILON / 2;
}

/* The accumulator's unit roundoff per add (see the top). */
static double acc_roundoff(tg_dtype dt)
{
    const double u = unit_roundoff(dt);
    return dt == TG_F32 ? DBL_EPSILON / 2 : u * u;
}

static double get(tg_tensor *t, int64_t i)
{
    return tg_tensor_dtype(t) == TG_F32 ? (double)tg_tensor_f32(t)[i] : tg_tensor_f64(t)[i];
}

/* Neumaier's compensated sum in long double (the reference). */
typedef struct ref_sum {
    long double s, c;
} ref_sum;
static void ref_add(ref_sum *r, long double v)
{
    long double t = r->s + v;
    if (fabsl(r->s) >= fabsl(v))
        r->c += (r->s - t) + v;
    else
        r->c += (v - t) + r->s;
    r->s = t;
}

/* d L / d b by the direct rules (tg_vjp without create_graph) or the
 * op-built rules (with it), copied out as doubles. */
static double *grad_b(const acc_case *c, tg_tensor *a, tg_tensor *b, tg_tensor *w, bool built)
{
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_ptr_nonnull(tp);
    tg_tensor *xs[1] = {b}, *g[1] = {NULL};
    tg_tensor *L = tg_sum_all(tp, tg_mul(tp, c->op(tp, a, b), w));
    ck_assert_msg(tg_vjp(tp, L, NULL, 1, xs, g, built) == TG_OK, "%s: %s", c->name,
                  tg_tape_error(tp));
    const int64_t m = tg_tensor_numel(b);
    double *v = malloc((size_t)m * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (int64_t i = 0; i < m; i++) v[i] = get(g[0], i);
    tg_tape_free(tp);
    return v;
}

static void check_case(const acc_case *c, tg_dtype dt)
{
    tg_tensor *a = tt_rand(dt, c->nd, c->full, 1, 0.5, 1.5);
    tg_tensor *w = tt_rand(dt, c->nd, c->full, 2, 0.5, 1.5);
    tg_tensor *b = tt_rand(dt, c->nd, c->bcast, 3, 0.5, 1.5);
    tg_tensor_set_requires_grad(b, true);
    const int64_t n = tg_tensor_numel(a), m = tg_tensor_numel(b), K = n / m;

    /* reference: b's element of each term from broadcast strides */
    int64_t bs[3], st = 1;
    for (int d = c->nd - 1; d >= 0; d--) {
        bs[d] = c->bcast[d] == 1 ? 0 : st;
        st *= c->bcast[d];
    }
    ref_sum *ref = calloc((size_t)m, sizeof *ref);
    ck_assert_ptr_nonnull(ref);
    int64_t idx[3] = {0, 0, 0};
    for (int64_t i = 0; i < n; i++) {
        int64_t o = 0;
        for (int d = 0; d < c->nd; d++) o += idx[d] * bs[d];
        const long double av = get(a, i), wv = get(w, i), bv = get(b, o);
        long double t = c->op == tg_add ? wv : c->op == tg_mul ? wv * av : -wv * av / (bv * bv);
        ref_add(&ref[o], t);
        for (int d = c->nd - 1; d >= 0; d--) {
            if (++idx[d] < c->full[d]) break;
            idx[d] = 0;
        }
    }

    const double tol = (c->r + 1.5) * unit_roundoff(dt) + (double)K * acc_roundoff(dt);
    double *direct = grad_b(c, a, b, w, false), *built = grad_b(c, a, b, w, true);
    double worst = 0, worst_pair = 0;
    for (int64_t o = 0; o < m; o++) {
        const double s = (double)(ref[o].s + ref[o].c);
        worst = fmax(worst, fmax(fabs(direct[o] - s), fabs(built[o] - s)) / fabs(s));
        worst_pair = fmax(worst_pair, fabs(direct[o] - built[o]) / fabs(s));
    }
    const char *dn = dt == TG_F32 ? "f32" : "f64";
    ck_assert_msg(worst <= tol, "%s %s: relative error %.3g beyond %.3g (%lld terms per element)",
                  c->name, dn, worst, tol, (long long)K);
    /* the direct and the op-built rule agree to the dtype's rounding, as
     * tg_gradcheck's rules_disagree asks */
    ck_assert_msg(worst_pair <= tol, "%s %s: the direct and op-built rules differ by %.3g", c->name,
                  dn, worst_pair);
    free(direct);
    free(built);
    free(ref);
    tg_tensor_free(a);
    tg_tensor_free(w);
    tg_tensor_free(b);
}

START_TEST(test_broadcast_grad_f32)
{
    check_case(&k_cases[_i], TG_F32);
}
END_TEST

START_TEST(test_broadcast_grad_f64)
{
    check_case(&k_cases[_i], TG_F64);
}
END_TEST

/* conv2d's bias gradient: db[f] = sum over images and pixels of the output
 * gradient, here w (exact terms, r = 0), 2^20 terms per filter. */
START_TEST(test_conv_bias_grad_f32)
{
    tg_tensor *x = tt_rand(TG_F32, 4, TT_SHAPE(64, 1, 128, 128), 4, -1, 1);
    tg_tensor *k = tt_rand(TG_F32, 4, TT_SHAPE(2, 1, 3, 3), 5, -1, 1);
    tg_tensor *bias = tt_rand(TG_F32, 1, TT_SHAPE(2), 6, -1, 1);
    tg_tensor *w = tt_rand(TG_F32, 4, TT_SHAPE(64, 2, 128, 128), 7, 0.5, 1.5);
    tg_tensor_set_requires_grad(bias, true);
    const int64_t K = 64 * 128 * 128;
    for (int built = 0; built < 2; built++) {
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *xs[1] = {bias}, *g[1] = {NULL};
        tg_tensor *L = tg_sum_all(tp, tg_mul(tp, tg_conv2d(tp, x, k, bias, 1, 1, 1, 1), w));
        ck_assert_msg(tg_vjp(tp, L, NULL, 1, xs, g, built) == TG_OK, "%s", tg_tape_error(tp));
        const float *wv = tg_tensor_f32(w);
        for (int f = 0; f < 2; f++) {
            ref_sum r = {0, 0};
            for (int64_t n = 0; n < 64; n++)
                for (int64_t l = 0; l < 128 * 128; l++)
                    ref_add(&r, wv[(n * 2 + f) * 128 * 128 + l]);
            const double s = (double)(r.s + r.c);
            const double err = fabs(tg_tensor_f32(g[0])[f] - s) / s;
            const double tol = 1.5 * (FLT_EPSILON / 2) + (double)K * (DBL_EPSILON / 2);
            ck_assert_msg(err <= tol, "conv2d db[%d] (%s rule): relative error %.3g beyond %.3g", f,
                          built ? "op-built" : "direct", err, tol);
        }
        tg_tape_free(tp);
    }
    tg_tensor_free(x);
    tg_tensor_free(k);
    tg_tensor_free(bias);
    tg_tensor_free(w);
}
END_TEST

/* f = sum(op(x1, x0)^2) with x1 selected everywhere (x1 < x0 for minimum,
 * x1 > x0 for maximum): the Hessian-vector product's x1 component is
 * exactly 2 v1 whatever v0 is; with the rule for x0 written g - g m a
 * second sweep formed (v1 + v0) - v0, which loses v1 when |v0| >> |v1|
 * (off by 2.8e-8 relative in f64, 1.3e-5 in f32, and exactly 0 in f32 for
 * v1 = 1e-9).  The x0 component is exactly 0.  The product 2 v1 takes a few
 * exact steps (times 2, times the mask 1), so 2 ulp is a generous bound. */
static void check_maxmin_hvp(bin_fn op, const char *name, tg_dtype dt, double v1s, double v0s)
{
    const int64_t n = 1000;
    const bool is_min = op == tg_minimum;
    tg_tensor *x1 = tt_rand(dt, 1, TT_SHAPE(n), 8, is_min ? -2 : 1, is_min ? -1 : 2);
    tg_tensor *x0 = tt_rand(dt, 1, TT_SHAPE(n), 9, -0.5, 0.5);
    tg_tensor *v1 = tt_rand(dt, 1, TT_SHAPE(n), 10, 0.5 * v1s, 1.5 * v1s);
    tg_tensor *v0 = tt_rand(dt, 1, TT_SHAPE(n), 11, 0.5 * v0s, 1.5 * v0s);
    tg_tensor_set_requires_grad(x1, true);
    tg_tensor_set_requires_grad(x0, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *xs[2] = {x1, x0}, *g[2] = {NULL, NULL}, *h[2] = {NULL, NULL};
    tg_tensor *y = op(tp, x1, x0);
    tg_tensor *f = tg_sum_all(tp, tg_mul(tp, y, y));
    ck_assert_int_eq(tg_vjp(tp, f, NULL, 2, xs, g, true), TG_OK);
    tg_tensor *z =
        tg_add(tp, tg_sum_all(tp, tg_mul(tp, g[0], v1)), tg_sum_all(tp, tg_mul(tp, g[1], v0)));
    ck_assert_msg(tg_vjp(tp, z, NULL, 2, xs, h, false) == TG_OK, "%s", tg_tape_error(tp));
    const double u2 = 2 * 2 * unit_roundoff(dt);
    for (int64_t i = 0; i < n; i++) {
        const double want = 2 * get(v1, i), got = get(h[0], i);
        ck_assert_msg(fabs(got - want) <= u2 * fabs(want),
                      "%s %s: (H v)_x1[%lld] = %.17g, want %.17g (v0 %.3g)", name,
                      dt == TG_F32 ? "f32" : "f64", (long long)i, got, want, get(v0, i));
        ck_assert_msg(get(h[1], i) == 0, "%s: (H v)_x0[%lld] = %g, want 0", name, (long long)i,
                      get(h[1], i));
    }
    tg_tape_free(tp);
    tg_tensor_free(x1);
    tg_tensor_free(x0);
    tg_tensor_free(v1);
    tg_tensor_free(v0);
}

START_TEST(test_maxmin_hvp_no_cancellation)
{
    const tg_dtype dts[2] = {TG_F32, TG_F64};
    for (int k = 0; k < 2; k++) {
        /* the cases: v1 small beside v0 */
        check_maxmin_hvp(tg_minimum, "minimum", dts[k], 1e-9, -0.92);
        check_maxmin_hvp(tg_maximum, "maximum", dts[k], 1e-9, -0.92);
        check_maxmin_hvp(tg_minimum, "minimum", dts[k], 1e-3, 1);
        check_maxmin_hvp(tg_maximum, "maximum", dts[k], 1e-3, 1);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("accuracy");
    TCase *tc = tcase_create("sums");
    tcase_set_timeout(tc, 300);
    const int nc = (int)(sizeof k_cases / sizeof k_cases[0]);
    tcase_add_loop_test(tc, test_broadcast_grad_f32, 0, nc);
    tcase_add_loop_test(tc, test_broadcast_grad_f64, 0, nc);
    tcase_add_test(tc, test_conv_bias_grad_f32);
    tcase_add_test(tc, test_maxmin_hvp_no_cancellation);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
