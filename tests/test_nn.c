/* Initialisers (statistics, fans, reproducibility, errors) and layers
 * (linear, dropout, fast dropout): forward against hand loops, gradchecks,
 * errors. */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- initialisers ------------------------------------------------------------- */

/* Asserts sample mean and variance of t are within 5 standard errors of
 * mean and var; mu4 is the fourth central moment of the distribution (for
 * the standard error of the sample variance, sqrt((mu4 - var^2) / n)). */
static void assert_moments(const char *what, const tg_tensor *t, double mean, double var,
                           double mu4)
{
    int64_t n = tg_tensor_numel(t);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) s += tg_tensor_get_flat(t, i);
    double m = s / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double d = tg_tensor_get_flat(t, i) - m;
        s2 += d * d;
    }
    double v = s2 / (double)(n - 1);
    double se_mean = sqrt(var / (double)n), se_var = sqrt((mu4 - var * var) / (double)n);
    ck_assert_msg(fabs(m - mean) < 5 * se_mean, "%s: mean %.6g, expected %.6g +- %.3g", what, m,
                  mean, 5 * se_mean);
    ck_assert_msg(fabs(v - var) < 5 * se_var, "%s: variance %.6g, expected %.6g +- %.3g", what, v,
                  var, 5 * se_var);
}
/* Fourth central moments: U(-a, a) has a^4 / 5, a normal 3 sigma^4. */
static double mu4_uniform(double half)
{
    return pow(half, 4) / 5.0;
}
static double mu4_normal(double var)
{
    return 3 * var * var;
}

/* Every value within [lo, hi], and the extremes close to the bounds (so the
 * bound really is the one used, not a smaller one). */
static void assert_bound(const char *what, const tg_tensor *t, double lo, double hi)
{
    double mn = INFINITY, mx = -INFINITY;
    for (int64_t i = 0; i < tg_tensor_numel(t); i++) {
        double x = tg_tensor_get_flat(t, i);
        mn = fmin(mn, x);
        mx = fmax(mx, x);
    }
    ck_assert_msg(mn >= lo && mx <= hi, "%s: values in [%.9g, %.9g], outside [%.9g, %.9g]", what,
                  mn, mx, lo, hi);
    /* the gap between the extreme of n uniform draws and its bound is about
     * exponential with mean w / n: a gap of 20 w / n has probability e^-20 */
    double w = hi - lo, gap = 20 * w / (double)tg_tensor_numel(t);
    ck_assert_msg(mn < lo + gap && mx > hi - gap,
                  "%s: values in [%.9g, %.9g] do not reach the bounds [%.9g, %.9g]", what, mn, mx,
                  lo, hi);
}

START_TEST(test_init_uniform_normal_stats)
{
    tg_rng r;
    tg_rng_seed(&r, 1);
    for (int d = 0; d < 2; d++) {
        tg_dtype dt = d ? TG_F32 : TG_F64;
        tg_tensor *t = tg_tensor_new(dt, 2, TT_SHAPE(200, 500));
        ck_assert_int_eq(tg_init_uniform(t, &r, -0.3, 0.7), TG_OK);
        assert_bound("uniform", t, -0.3, 0.7);
        if (dt == TG_F64) /* half-open in f64: hi itself is never drawn */
            for (int64_t i = 0; i < tg_tensor_numel(t); i++)
                ck_assert(tg_tensor_get_flat(t, i) < 0.7);
        assert_moments("uniform", t, 0.2, 1.0 / 12, mu4_uniform(0.5));
        ck_assert_int_eq(tg_init_normal(t, &r, 1.5, 2.0), TG_OK);
        assert_moments("normal", t, 1.5, 4.0, mu4_normal(4.0));
        tg_tensor_free(t);
    }
    /* any rank, including a bias and a 0-d tensor */
    tg_tensor *b = tg_tensor_new(TG_F64, 1, TT_SHAPE(7)), *s = tg_tensor_scalar(TG_F64, 0);
    ck_assert_int_eq(tg_init_uniform(b, &r, 2, 3), TG_OK);
    ck_assert_int_eq(tg_init_normal(s, &r, 0, 1), TG_OK);
    ck_assert(tg_tensor_get_flat(b, 0) >= 2 && tg_tensor_get_flat(b, 6) < 3);
    ck_assert(tg_tensor_get_flat(s, 0) != 0);
    /* std 0 and lo == hi are degenerate but valid: constants */
    ck_assert_int_eq(tg_init_normal(b, &r, 0.25, 0), TG_OK);
    tt_assert_values("std 0", b, TT_VALUES(.25, .25, .25, .25, .25, .25, .25), 7, 0, 0);
    ck_assert_int_eq(tg_init_uniform(b, &r, -1, -1), TG_OK);
    tt_assert_values("lo == hi", b, TT_VALUES(-1, -1, -1, -1, -1, -1, -1), 7, 0, 0);
    tg_tensor_free(b);
    tg_tensor_free(s);
}
END_TEST

typedef tg_status (*init_fn)(tg_tensor *, tg_rng *);

/* Xavier and He, 2-d (in, out) and 4-d (F, C, KH, KW), shapes chosen so
 * that fan_in and fan_out differ (a swapped fan would fail). */
START_TEST(test_init_fans)
{
    static const struct {
        int ndim;
        int64_t shape[4];
        double fan_in, fan_out;
    } cases[] = {
        {2, {400, 100}, 400, 100},           {2, {60, 900}, 60, 900},
        {4, {32, 4, 5, 5}, 4 * 25, 32 * 25}, {4, {3, 64, 3, 3}, 64 * 9, 3 * 9},
        {3, {50, 20, 7}, 20 * 7, 50 * 7}, /* conv1d (F, C, K) */
    };
    tg_rng r;
    tg_rng_seed(&r, 7);
    for (int c = 0; c < NELEM(cases); c++) {
        tg_tensor *w = tg_tensor_new(TG_F64, cases[c].ndim, cases[c].shape);
        double fi = cases[c].fan_in, fo = cases[c].fan_out;
        double a = sqrt(6 / (fi + fo));
        ck_assert_int_eq(tg_init_xavier_uniform(w, &r), TG_OK);
        assert_bound("xavier_uniform", w, -a, a);
        assert_moments("xavier_uniform", w, 0, a * a / 3, mu4_uniform(a));
        ck_assert_int_eq(tg_init_xavier_normal(w, &r), TG_OK);
        assert_moments("xavier_normal", w, 0, 2 / (fi + fo), mu4_normal(2 / (fi + fo)));
        a = sqrt(6 / fi);
        ck_assert_int_eq(tg_init_he_uniform(w, &r), TG_OK);
        assert_bound("he_uniform", w, -a, a);
        assert_moments("he_uniform", w, 0, a * a / 3, mu4_uniform(a));
        ck_assert_int_eq(tg_init_he_normal(w, &r), TG_OK);
        assert_moments("he_normal", w, 0, 2 / fi, mu4_normal(2 / fi));
        tg_tensor_free(w);
    }
}
END_TEST

/* xoshiro256** seeded by splitmix64, written here from the published
 * algorithm (Blackman & Vigna) independently of src/core, so the test pins
 * the exact stream: the same seed gives the same network on every machine. */
static uint64_t ref_next(uint64_t s[4])
{
#define ROTL(x, k) (((x) << (k)) | ((x) >> (64 - (k))))
    uint64_t result = ROTL(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ROTL(s[3], 45);
    return result;
#undef ROTL
}

START_TEST(test_init_reproducible)
{
    const int64_t *shape = TT_SHAPE(16, 8, 3, 3);
    tg_tensor *a = tg_tensor_new(TG_F64, 4, shape), *b = tg_tensor_new(TG_F64, 4, shape);
    tg_tensor *c = tg_tensor_new(TG_F32, 4, shape);
    init_fn fns[] = {tg_init_xavier_uniform, tg_init_xavier_normal, tg_init_he_uniform,
                     tg_init_he_normal};
    for (int f = 0; f < 4; f++) {
        tg_rng r1, r2, r3;
        tg_rng_seed(&r1, 2024);
        tg_rng_seed(&r2, 2024);
        tg_rng_seed(&r3, 2024);
        fns[f](a, &r1);
        fns[f](b, &r2);
        fns[f](c, &r3);
        ck_assert(!memcmp(tg_tensor_data(a), tg_tensor_data(b), 16 * 8 * 9 * sizeof(double)));
        /* the f32 network is the f64 one rounded */
        for (int64_t i = 0; i < tg_tensor_numel(a); i++)
            ck_assert(tg_tensor_f32(c)[i] == (float)tg_tensor_f64(a)[i]);
        tg_rng_seed(&r2, 2025);
        fns[f](b, &r2);
        ck_assert(memcmp(tg_tensor_data(a), tg_tensor_data(b), 16 * 8 * 9 * sizeof(double)));
    }
    /* the exact stream: he_uniform of seed 2024 from the reference generator */
    uint64_t s[4], x = 2024;
    for (int i = 0; i < 4; i++) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        s[i] = z ^ (z >> 31);
    }
    tg_rng r;
    tg_rng_seed(&r, 2024);
    ck_assert_int_eq(tg_init_he_uniform(a, &r), TG_OK);
    double bound = sqrt(6.0 / (8 * 9));
    for (int64_t i = 0; i < tg_tensor_numel(a); i++) {
        double u = (double)(ref_next(s) >> 11) * 0x1.0p-53;
        ck_assert(tg_tensor_f64(a)[i] == -bound + 2 * bound * u);
    }
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(c);
}
END_TEST

START_TEST(test_init_errors)
{
    tg_rng r;
    tg_rng_seed(&r, 1);
    tg_tensor *v = tg_tensor_new(TG_F64, 1, TT_SHAPE(5));
    tg_tensor *s = tg_tensor_scalar(TG_F64, 3);
    tg_tensor *w5 = tg_tensor_new(TG_F64, 5, TT_SHAPE(2, 2, 2, 2, 2));
    tg_tensor *w = tg_tensor_new(TG_F64, 2, TT_SHAPE(3, 4));
    init_fn fns[] = {tg_init_xavier_uniform, tg_init_xavier_normal, tg_init_he_uniform,
                     tg_init_he_normal};
    for (int f = 0; f < 4; f++) {
        ck_assert_int_eq(fns[f](NULL, &r), TG_ERR_NULL);
        ck_assert_int_eq(fns[f](w, NULL), TG_ERR_NULL);
        ck_assert_int_eq(fns[f](v, &r), TG_ERR_SHAPE);
        ck_assert_int_eq(tg_last_status(), TG_ERR_SHAPE);
        ck_assert_ptr_nonnull(strstr(tg_last_error(), "(5)"));
        ck_assert_int_eq(fns[f](s, &r), TG_ERR_SHAPE);
        ck_assert_int_eq(fns[f](w5, &r), TG_ERR_SHAPE);
        ck_assert_ptr_nonnull(strstr(tg_last_error(), "(2,2,2,2,2)"));
    }
    /* the failed calls drew nothing and wrote nothing */
    tt_assert_values("untouched", v, TT_VALUES(0, 0, 0, 0, 0), 5, 0, 0);
    ck_assert_int_eq(tg_init_uniform(NULL, &r, 0, 1), TG_ERR_NULL);
    ck_assert_int_eq(tg_init_uniform(v, &r, 1, 0), TG_ERR_ARG);
    ck_assert_int_eq(tg_init_uniform(v, &r, 0, INFINITY), TG_ERR_ARG);
    ck_assert_int_eq(tg_init_normal(v, &r, 0, -1), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "std"));
    ck_assert_int_eq(tg_init_normal(v, &r, NAN, 1), TG_ERR_ARG);
    tt_assert_values("untouched", v, TT_VALUES(0, 0, 0, 0, 0), 5, 0, 0);
    /* an empty weight is fine (nothing to draw, fans may be 0) */
    tg_tensor *e = tg_tensor_new(TG_F64, 2, TT_SHAPE(0, 3));
    ck_assert_int_eq(tg_init_he_normal(e, &r), TG_OK);
    ck_assert_int_eq(tg_init_xavier_uniform(e, &r), TG_OK);
    tg_tensor_free(e);
    tg_tensor_free(v);
    tg_tensor_free(s);
    tg_tensor_free(w5);
    tg_tensor_free(w);
}
END_TEST

/* ---- linear ---------------------------------------------------------------------- */
static void hand_linear(int64_t n, int64_t in, int64_t out, const double *x, const double *w,
                        const double *b, double *y)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < out; k++) {
            double s = b ? b[k] : 0;
            for (int64_t j = 0; j < in; j++) s += x[i * in + j] * w[j * out + k];
            y[i * out + k] = s;
        }
}

START_TEST(test_linear_forward)
{
    for (int with_b = 0; with_b < 2; with_b++)
        for (int n = 0; n <= 4; n++) { /* n = 0: a 1-d x */
            int64_t N = n ? n : 1, in = 3, out = 2;
            tg_tensor *x = n ? tt_rand(TG_F64, 2, TT_SHAPE(N, in), 10 + n, -1, 1)
                             : tt_rand(TG_F64, 1, TT_SHAPE(in), 10, -1, 1);
            tg_tensor *w = tt_rand(TG_F64, 2, TT_SHAPE(in, out), 20, -1, 1);
            tg_tensor *b = with_b ? tt_rand(TG_F64, 1, TT_SHAPE(out), 30, -1, 1) : NULL;
            double y[8];
            hand_linear(N, in, out, tg_tensor_f64(x), tg_tensor_f64(w), b ? tg_tensor_f64(b) : NULL,
                        y);
            tg_tape *tp = tg_tape_new(NULL);
            tg_tensor *yt = tg_linear(tp, x, w, b);
            ck_assert_msg(yt != NULL, "%s", tg_tape_error(tp));
            ck_assert_int_eq(tg_tensor_ndim(yt), n ? 2 : 1);
            ck_assert_int_eq(tg_tensor_dim(yt, -1), out);
            tt_assert_values("linear", yt, y, N * out, 1e-14, 1e-15);
            /* f32 agrees with f64 to f32 precision */
            tg_tensor *x32 = tg_tensor_cast_new(x, TG_F32), *w32 = tg_tensor_cast_new(w, TG_F32);
            tg_tensor *b32 = b ? tg_tensor_cast_new(b, TG_F32) : NULL;
            tg_tensor *y32 = tg_linear(tp, x32, w32, b32);
            ck_assert_int_eq(tg_tensor_dtype(y32), TG_F32);
            tt_assert_values("linear f32", y32, y, N * out, 1e-5, 1e-6);
            tg_tape_free(tp);
            tg_tensor_free(x);
            tg_tensor_free(w);
            tg_tensor_free(b);
            tg_tensor_free(x32);
            tg_tensor_free(w32);
            tg_tensor_free(b32);
        }
}
END_TEST

static tg_tensor *fn_linear(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_tanh(tp, tg_linear(tp, in[0], in[1], in[2]));
}
static tg_tensor *fn_linear_nob(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_linear(tp, in[0], in[1], NULL);
}

START_TEST(test_linear_gradcheck)
{
    static const int64_t shapes[][3] = {{1, 3, 2}, {4, 5, 3}, {2, 1, 1}, {0, 4, 3}};
    for (int s = 0; s < NELEM(shapes); s++) {
        int64_t n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
        tg_tensor *x = n ? tt_param(2, TT_SHAPE(n, in), 1 + s, -1, 1)
                         : tt_param(1, TT_SHAPE(in), 1 + s, -1, 1);
        tg_tensor *xs[3] = {x, tt_param(2, TT_SHAPE(in, out), 11 + s, -1, 1),
                            tt_param(1, TT_SHAPE(out), 21 + s, -1, 1)};
        tt_gradcheck("linear", fn_linear, NULL, 3, xs);
        tt_gradcheck("linear without bias", fn_linear_nob, NULL, 2, xs);
        for (int i = 0; i < 3; i++) tg_tensor_free(xs[i]);
    }
}
END_TEST

/* x (..., in) of 3 and 4 axes: the rows of the leading axes, each
 * x_row @ w + b (the hand loop), y (..., out), and the gradcheck; a zero
 * leading extent gives an empty y of the right shape. */
START_TEST(test_linear_leading_axes)
{
    static const int64_t shapes[][4] = {{2, 3, 4, 0}, {2, 1, 2, 4}, {0, 3, 4, 0}};
    for (int s = 0; s < NELEM(shapes); s++) {
        const int nd = shapes[s][3] ? 4 : 3;
        const int64_t in = shapes[s][nd - 1], out = 3;
        int64_t rows = 1;
        for (int i = 0; i < nd - 1; i++) rows *= shapes[s][i];
        tg_tensor *x = tt_param(nd, shapes[s], 40 + s, -1, 1);
        tg_tensor *w = tt_param(2, TT_SHAPE(in, out), 50 + s, -1, 1);
        tg_tensor *b = tt_param(1, TT_SHAPE(out), 60 + s, -1, 1);
        double y[64];
        hand_linear(rows, in, out, tg_tensor_f64(x), tg_tensor_f64(w), tg_tensor_f64(b), y);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *yt = tg_linear(tp, x, w, b);
        ck_assert_msg(yt != NULL, "%s", tg_tape_error(tp));
        ck_assert_int_eq(tg_tensor_ndim(yt), nd);
        for (int i = 0; i < nd - 1; i++) ck_assert_int_eq(tg_tensor_dim(yt, i), shapes[s][i]);
        ck_assert_int_eq(tg_tensor_dim(yt, -1), out);
        tt_assert_values("linear over leading axes", yt, y, rows * out, 1e-14, 1e-15);
        tg_tape_free(tp);
        tg_tensor *xs[3] = {x, w, b};
        if (rows) tt_gradcheck("linear over leading axes", fn_linear, NULL, 3, xs);
        for (int i = 0; i < 3; i++) tg_tensor_free(xs[i]);
    }
}
END_TEST

START_TEST(test_linear_errors)
{
    tg_tensor *x = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 1, 0, 1);
    tg_tensor *w = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 2, 0, 1);
    tg_tensor *w1 = tt_rand(TG_F64, 1, TT_SHAPE(3), 2, 0, 1);
    tg_tensor *w54 = tt_rand(TG_F64, 2, TT_SHAPE(5, 4), 2, 0, 1);
    tg_tensor *b3 = tt_rand(TG_F64, 1, TT_SHAPE(3), 3, 0, 1);
    tg_tensor *w32 = tg_tensor_cast_new(w, TG_F32);
    tg_tensor *x3 = tt_rand(TG_F64, 3, TT_SHAPE(1, 2, 3), 1, 0, 1);
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_ptr_null(tg_linear(tp, x, w1, NULL));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "linear", "(2,3)", "(3)");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_linear(tp, x, w54, NULL));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "linear", "(2,3)", "(5,4)");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_linear(tp, x, w, b3));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "linear", "(3)", "(4)");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_linear(tp, x, w32, NULL));
    tt_assert_tape_error(tp, TG_ERR_DTYPE, "linear");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_linear(tp, x3, w54, NULL));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "linear", "(1,2,3)", "(5,4)");
    tg_tape_reset(tp);
    tg_tensor *x0 = tg_tensor_scalar(TG_F64, 1);
    ck_assert_ptr_null(tg_linear(tp, x0, w, NULL));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "linear", "()", "(..., in)");
    tg_tensor_free(x0);
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_linear(tp, x, NULL, NULL));
    tt_assert_tape_error(tp, TG_ERR_NULL, "linear");
    /* a tape in error: NULL, the first error kept */
    ck_assert_ptr_null(tg_linear(tp, x, w, NULL));
    tt_assert_tape_error(tp, TG_ERR_NULL, "linear");
    ck_assert_ptr_null(tg_linear(NULL, x, w, NULL));
    tg_tape_free(tp);
    tg_tensor *ts[] = {x, w, w1, w54, b3, w32, x3};
    for (int i = 0; i < NELEM(ts); i++) tg_tensor_free(ts[i]);
}
END_TEST

/* ---- dropout ------------------------------------------------------------------------ */
START_TEST(test_dropout_mask)
{
    const double p = 0.3, keep = 1 / (1 - p);
    const int64_t n = 20000;
    for (int d = 0; d < 2; d++) {
        tg_dtype dt = d ? TG_F32 : TG_F64;
        tg_tensor *x = tt_rand(dt, 2, TT_SHAPE(100, 200), 5, 0.5, 1.5);
        tg_tape *t1 = tg_tape_new(&(tg_tape_options){.seed = 99});
        tg_tape *t2 = tg_tape_new(&(tg_tape_options){.seed = 99});
        tg_tape *t3 = tg_tape_new(&(tg_tape_options){.seed = 100});
        tg_tensor *y1 = tg_dropout(t1, x, p, true), *y2 = tg_dropout(t2, x, p, true);
        tg_tensor *y3 = tg_dropout(t3, x, p, true);
        ck_assert(y1 && y2 && y3);
        ck_assert_ptr_eq(tg_tensor_tape(y1), t1);
        int64_t kept = 0, same = 0;
        for (int64_t i = 0; i < n; i++) {
            double xi = tg_tensor_get_flat(x, i), yi = tg_tensor_get_flat(y1, i);
            if (yi != 0) {
                kept++;
                /* y = x * (1 / (1 - p)), the mask rounded to the dtype first */
                double want = d ? (double)(float)((float)xi * (float)keep) : xi * keep;
                ck_assert_msg(yi == want, "element %lld: %.17g, expected %.17g", (long long)i, yi,
                              want);
            }
            ck_assert(tg_tensor_get_flat(y2, i) == yi); /* same seed, same mask */
            same += (tg_tensor_get_flat(y3, i) != 0) == (yi != 0);
        }
        /* kept fraction 1 - p within 5 standard errors */
        double frac = (double)kept / (double)n, se = sqrt(p * (1 - p) / (double)n);
        ck_assert_msg(fabs(frac - (1 - p)) < 5 * se, "kept %.4f, expected %.4f", frac, 1 - p);
        /* another seed: another mask (agreement ~ p^2 + (1-p)^2 = 0.58) */
        ck_assert_int_lt(same, n * 7 / 10);
        /* the RNG advanced: a second dropout on the same tape draws a new mask */
        tg_tensor *y1b = tg_dropout(t1, x, p, true);
        ck_assert(memcmp(tg_tensor_data(y1), tg_tensor_data(y1b), (size_t)n * tg_dtype_size(dt)) !=
                  0);
        /* reseeding the tape's RNG reproduces the first mask */
        tg_rng_seed(tg_tape_rng(t1), 99);
        tg_tensor *y1c = tg_dropout(t1, x, p, true);
        ck_assert(!memcmp(tg_tensor_data(y1), tg_tensor_data(y1c), (size_t)n * tg_dtype_size(dt)));
        tg_tape_free(t1);
        tg_tape_free(t2);
        tg_tape_free(t3);
        tg_tensor_free(x);
    }
}
END_TEST

START_TEST(test_dropout_identity_and_errors)
{
    tg_tensor *x = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 5, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_rng before = *tg_tape_rng(tp);
    tg_tensor *e1 = tg_dropout(tp, x, 0.5, false), *e2 = tg_dropout(tp, x, 0.0, true);
    ck_assert(e1 && e2);
    ck_assert_ptr_eq(tg_tensor_tape(e1), tp); /* tape-owned like any op's result */
    tt_assert_close("eval", e1, x, 0, 0);
    tt_assert_close("p = 0", e2, x, 0, 0);
    ck_assert(!memcmp(&before, tg_tape_rng(tp), sizeof before)); /* no draws */
    ck_assert_ptr_null(tg_dropout(tp, x, 1.0, true));
    tt_assert_tape_error(tp, TG_ERR_ARG, "dropout", "(3,4)", "[0, 1)");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_dropout(tp, x, -0.1, true));
    tt_assert_tape_error(tp, TG_ERR_ARG, "dropout");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_dropout(tp, x, NAN, false));
    tt_assert_tape_error(tp, TG_ERR_ARG, "dropout");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_dropout(tp, NULL, 0.5, true));
    tt_assert_tape_error(tp, TG_ERR_NULL, "dropout");
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* The gradient of sum(w * dropout(x)) is w * mask, exactly. */
START_TEST(test_dropout_backward_exact)
{
    tg_tensor *x = tt_param(2, TT_SHAPE(6, 7), 3, -1, 1);
    tg_tensor *w = tt_rand(TG_F64, 2, TT_SHAPE(6, 7), 4, -1, 1);
    tg_tape *tp = tg_tape_new(&(tg_tape_options){.seed = 5});
    tg_tensor *y = tg_dropout(tp, x, 0.4, true);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul(tp, w, y))), TG_OK);
    const tg_tensor *g = tg_tensor_grad(x);
    int zeros = 0;
    for (int64_t i = 0; i < 42; i++) {
        double m = tg_tensor_get_flat(y, i) / tg_tensor_get_flat(x, i);
        if (tg_tensor_get_flat(y, i) == 0) m = 0;
        zeros += m == 0;
        ck_assert(m == 0 || fabs(m - 1 / 0.6) < 1e-15);
        ck_assert(tg_tensor_get_flat(g, i) == (m == 0 ? 0 : tg_tensor_get_flat(w, i) / 0.6));
    }
    ck_assert(zeros > 0 && zeros < 42);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
}
END_TEST

/* A dropout graph for tg_gradcheck: the function reseeds the tape's RNG
 * first, so each of gradcheck's evaluations draws the same mask (the
 * tape reset between them does not reseed). */
static tg_tensor *fn_dropout(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    tg_rng_seed(tg_tape_rng(tp), *(const uint64_t *)ctx);
    tg_tensor *h = tg_dropout(tp, tg_tanh(tp, tg_linear(tp, in[0], in[1], NULL)), 0.5, true);
    return tg_sum_all(tp, tg_square(tp, tg_linear(tp, h, in[2], NULL)));
}

START_TEST(test_dropout_gradcheck)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        tg_tensor *xs[3] = {tt_param(2, TT_SHAPE(4, 5), 1, -1, 1),
                            tt_param(2, TT_SHAPE(5, 6), 2, -1, 1),
                            tt_param(2, TT_SHAPE(6, 2), 3, -1, 1)};
        tt_gradcheck("dropout", fn_dropout, &seed, 3, xs);
        for (int i = 0; i < 3; i++) tg_tensor_free(xs[i]);
    }
}
END_TEST

/* ---- fast dropout -------------------------------------------------------------------- */
/* Seed 000 eqs 26-28 in plain loops: mu_k = p sum_j w_jk o_j,
 * s2_k = p (1-p) sum_j w_jk^2 o_j^2, n'_k = mu_k / sqrt(1 + s2_k pi / 8). */
static void hand_fast_dropout(int64_t n, int64_t in, int64_t out, const double *o, const double *w,
                              double p, double *y)
{
    const double pi = 3.14159265358979323846;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < out; k++) {
            double mu = 0, s2 = 0;
            for (int64_t j = 0; j < in; j++) {
                double wo = w[j * out + k] * o[i * in + j];
                mu += wo;
                s2 += wo * wo;
            }
            mu *= p;
            s2 *= p * (1 - p);
            y[i * out + k] = mu / sqrt(1 + s2 * pi / 8);
        }
}

START_TEST(test_fast_dropout_forward)
{
    const double ps[] = {0.5, 0.8, 1.0, 0.1};
    for (int c = 0; c < 4; c++)
        for (int oned = 0; oned < 2; oned++) {
            int64_t n = oned ? 1 : 4, in = 5, out = 3;
            tg_tensor *o = oned ? tt_rand(TG_F64, 1, TT_SHAPE(in), 40 + c, -2, 2)
                                : tt_rand(TG_F64, 2, TT_SHAPE(n, in), 40 + c, -2, 2);
            tg_tensor *w = tt_rand(TG_F64, 2, TT_SHAPE(in, out), 50 + c, -3, 3);
            double y[12];
            hand_fast_dropout(n, in, out, tg_tensor_f64(o), tg_tensor_f64(w), ps[c], y);
            tg_tape *tp = tg_tape_new(NULL);
            tg_tensor *yt = tg_fast_dropout_linear(tp, o, w, ps[c]);
            ck_assert_msg(yt != NULL, "%s", tg_tape_error(tp));
            ck_assert_int_eq(tg_tensor_ndim(yt), oned ? 1 : 2);
            tt_assert_values("fast dropout n'", yt, y, n * out, 1e-10, 0);
            /* p = 1 keeps everything: n' = o @ w exactly as a linear layer */
            if (ps[c] == 1.0) tt_assert_close("p = 1", yt, tg_linear(tp, o, w, NULL), 1e-15, 0);
            tg_tensor *o32 = tg_tensor_cast_new(o, TG_F32), *w32 = tg_tensor_cast_new(w, TG_F32);
            tt_assert_values("fast dropout f32", tg_fast_dropout_linear(tp, o32, w32, ps[c]), y,
                             n * out, 1e-5, 1e-6);
            tg_tape_free(tp);
            tg_tensor_free(o);
            tg_tensor_free(w);
            tg_tensor_free(o32);
            tg_tensor_free(w32);
        }
}
END_TEST

static tg_tensor *fn_fast_dropout(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    /* eq. 25's output sigma(n') */
    return tg_sigmoid(tp, tg_fast_dropout_linear(tp, in[0], in[1], *(const double *)ctx));
}

START_TEST(test_fast_dropout_gradcheck)
{
    const double ps[] = {0.5, 0.8, 1.0, 0.1};
    for (int c = 0; c < 4; c++) {
        tg_tensor *xs[2] = {tt_param(2, TT_SHAPE(3, 4), 60 + c, -2, 2),
                            tt_param(2, TT_SHAPE(4, 2), 70 + c, -2, 2)};
        tt_gradcheck("fast dropout", fn_fast_dropout, (void *)&ps[c], 2, xs);
        tg_tensor_free(xs[0]);
        tg_tensor *o1 = tt_param(1, TT_SHAPE(4), 80 + c, -2, 2);
        xs[0] = o1;
        tt_gradcheck("fast dropout 1-d", fn_fast_dropout, (void *)&ps[c], 2, xs);
        tg_tensor_free(xs[0]);
        tg_tensor_free(xs[1]);
    }
}
END_TEST

/* One-element layers: every node holds one value, so the reverse sweep takes
 * the ops' scalar rules (the fused op's fd_scalar among them). */
START_TEST(test_fast_dropout_scalar_gradcheck)
{
    const double ps[] = {0.5, 0.8};
    for (int c = 0; c < 2; c++) {
        tg_tensor *xs[2] = {tt_param(1, TT_SHAPE(1), 90 + c, -2, 2),
                            tt_param(2, TT_SHAPE(1, 1), 95 + c, -2, 2)};
        tt_gradcheck("fast dropout (1)x(1,1)", fn_fast_dropout, (void *)&ps[c], 2, xs);
        tg_tensor_free(xs[0]);
        tg_tensor_free(xs[1]);
    }
}
END_TEST

/* Second derivatives: the gradient of sum(sigmoid(n')) recorded with
 * create_graph (the fused op's op-built rule), checked by central
 * differences against its own recorded gradient. */
typedef struct fd_grad_ctx {
    double p;
    int which; /* return d/do (0) or d/dw (1) */
} fd_grad_ctx;

static tg_tensor *fn_fast_dropout_grad(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const fd_grad_ctx *c = ctx;
    tg_tensor *g[2] = {NULL, NULL};
    tg_tensor *y = tg_sum_all(tp, fn_fast_dropout(tp, in, (void *)&c->p));
    if (tg_vjp(tp, y, NULL, 2, in, g, true) != TG_OK) return NULL;
    return g[c->which];
}

START_TEST(test_fast_dropout_gradgradcheck)
{
    const double ps[] = {0.5, 0.8};
    for (int c = 0; c < 2; c++) {
        tg_tensor *xs[2] = {tt_param(2, TT_SHAPE(2, 3), 100 + c, -2, 2),
                            tt_param(2, TT_SHAPE(3, 2), 105 + c, -2, 2)};
        for (int which = 0; which < 2; which++) {
            fd_grad_ctx ctx = {ps[c], which};
            tt_gradcheck(which ? "fast dropout d/dw" : "fast dropout d/do", fn_fast_dropout_grad,
                         &ctx, 2, xs);
        }
        tg_tensor_free(xs[0]);
        tg_tensor_free(xs[1]);
    }
}
END_TEST

START_TEST(test_fast_dropout_errors)
{
    tg_tensor *o = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 1, 0, 1);
    tg_tensor *w = tt_rand(TG_F64, 2, TT_SHAPE(4, 2), 2, 0, 1);
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_ptr_null(tg_fast_dropout_linear(tp, o, w, 0.5));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "fast_dropout_linear", "(2,3)", "(4,2)");
    tg_tape_reset(tp);
    tg_tensor *w3 = tt_rand(TG_F64, 2, TT_SHAPE(3, 2), 2, 0, 1);
    ck_assert_ptr_null(tg_fast_dropout_linear(tp, o, w3, 1.5));
    tt_assert_tape_error(tp, TG_ERR_ARG, "fast_dropout_linear", "1.5");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_fast_dropout_linear(tp, o, w3, -0.5));
    tt_assert_tape_error(tp, TG_ERR_ARG, "fast_dropout_linear");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_fast_dropout_linear(tp, NULL, w3, 0.5));
    tt_assert_tape_error(tp, TG_ERR_NULL, "fast_dropout_linear");
    tg_tape_free(tp);
    tg_tensor_free(o);
    tg_tensor_free(w);
    tg_tensor_free(w3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("init");
    tcase_add_test(tc, test_init_uniform_normal_stats);
    tcase_add_test(tc, test_init_fans);
    tcase_add_test(tc, test_init_reproducible);
    tcase_add_test(tc, test_init_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("layers");
    tcase_add_test(tc, test_linear_forward);
    tcase_add_test(tc, test_linear_gradcheck);
    tcase_add_test(tc, test_linear_leading_axes);
    tcase_add_test(tc, test_linear_errors);
    tcase_add_test(tc, test_dropout_mask);
    tcase_add_test(tc, test_dropout_identity_and_errors);
    tcase_add_test(tc, test_dropout_backward_exact);
    tcase_add_test(tc, test_dropout_gradcheck);
    tcase_add_test(tc, test_fast_dropout_forward);
    tcase_add_test(tc, test_fast_dropout_scalar_gradcheck);
    tcase_add_test(tc, test_fast_dropout_gradgradcheck);
    tcase_add_test(tc, test_fast_dropout_gradcheck);
    tcase_add_test(tc, test_fast_dropout_errors);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
