/* Convolution, im2col / col2im, max and average pooling, flatten.
 *
 * Forward values are compared with direct plain-C loops of the defining
 * formulas (no im2col, no gemm) and with small hand-computed examples;
 * gradients with finite differences (tg_gradcheck, f64) over stride 1 and 2,
 * padding 0, 1 and 2, odd and even sizes, non-square kernels, several
 * channels and batch > 1; first and second derivatives of conv also with
 * closed forms written as loops. */
#include "common.h"

#include "../src/ops/conv.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- configurations ----------------------------------------------------- */
typedef struct conv_cfg {
    int N, C, H, W, F, KH, KW, SH, SW, PH, PW;
    bool bias;
    int DH, DW, G; /* dilation and groups, 0 meaning 1 (then tg_conv2d is called) */
} conv_cfg;

/* The grid every conv test walks: strides 1 and 2, padding 0, 1, 2, odd
 * and even image sizes, square and non-square kernels, batch 1 to 3,
 * channels 1 to 3; then dilation and groups (tg_conv2d_ex, issue 19,
 * item 7), depthwise among them. */
static const conv_cfg k_cfgs[] = {
    {1, 1, 5, 5, 1, 3, 3, 1, 1, 0, 0, true, 0, 0, 0},  /* the plain valid case */
    {2, 3, 6, 6, 2, 3, 3, 1, 1, 1, 1, true, 0, 0, 0},  /* even size, same padding */
    {2, 2, 7, 5, 3, 3, 2, 2, 1, 0, 1, true, 0, 0, 0},  /* odd x odd, non-square kernel */
    {3, 2, 6, 7, 2, 2, 3, 2, 2, 2, 2, false, 0, 0, 0}, /* stride 2, padding 2, no bias */
    {2, 3, 5, 6, 4, 5, 5, 2, 2, 2, 2, true, 0, 0, 0},  /* the B4 conv2 shape, scaled down */
    {1, 2, 4, 4, 2, 4, 4, 1, 1, 0, 0, true, 0, 0, 0},  /* kernel = image: one output */
    {2, 1, 8, 8, 2, 3, 3, 2, 2, 1, 0, true, 0, 0, 0},  /* even, stride 2, padding in H only */
    {1, 2, 3, 3, 3, 5, 4, 1, 2, 2, 1, true, 0, 0, 0},  /* kernel larger than the image */
    {2, 1, 6, 7, 3, 3, 5, 1, 1, 1, 2, true, 0, 0, 0},  /* stride 1, one channel, wide kernel */
    {2, 3, 6, 5, 2, 5, 3, 1, 1, 2, 1, false, 0, 0, 0}, /* stride 1, tall kernel, no bias */
    {2, 4, 7, 6, 4, 3, 3, 1, 1, 2, 2, true, 2, 2, 0},  /* dilation 2, same padding */
    {2, 2, 9, 8, 3, 3, 2, 2, 1, 1, 0, true, 2, 3, 0},  /* dilation (2,3), stride (2,1) */
    {2, 4, 6, 5, 6, 3, 3, 1, 2, 1, 1, true, 0, 0, 2},  /* 2 groups of 2 channels, 3 filters */
    {2, 3, 6, 6, 3, 3, 3, 1, 1, 1, 1, true, 0, 0, 3},  /* depthwise */
    {1, 3, 7, 7, 6, 3, 3, 2, 2, 2, 2, false, 2, 2, 3}, /* depthwise x2, dilated, stride 2 */
    {2, 4, 5, 9, 4, 1, 3, 1, 1, 0, 2, true, 1, 4, 4},  /* depthwise 1x3, dilation 4 in W */
    /* few taps, horizontal stride 1, rows of 8 pixels or more: the direct
     * kernels of src/ops/conv_direct.c (forward and weight gradient) */
    {2, 1, 6, 9, 3, 3, 3, 1, 1, 1, 1, true, 0, 0, 0},   /* OW 9: one vector, 3 filters */
    {2, 1, 7, 20, 8, 5, 5, 1, 1, 2, 2, true, 0, 0, 0},  /* the B4 conv1 shape, scaled down */
    {2, 2, 5, 10, 9, 3, 2, 2, 1, 1, 2, false, 2, 1, 0}, /* stride (2,1), dilation 2 in H */
    {1, 3, 4, 17, 5, 2, 3, 1, 1, 0, 1, true, 1, 2, 0},  /* dilation 2 in W, R 18, OW 15 */
};

static int dil_h(const conv_cfg *c)
{
    return c->DH ? c->DH : 1;
}
static int dil_w(const conv_cfg *c)
{
    return c->DW ? c->DW : 1;
}
static int groups(const conv_cfg *c)
{
    return c->G ? c->G : 1;
}
static int64_t out_h(const conv_cfg *c)
{
    return (c->H + 2 * c->PH - (c->KH - 1) * dil_h(c) - 1) / c->SH + 1;
}
static int64_t out_w(const conv_cfg *c)
{
    return (c->W + 2 * c->PW - (c->KW - 1) * dil_w(c) - 1) / c->SW + 1;
}
/* c without dilation and groups: the geometry im2col shares */
static conv_cfg plain_cfg(const conv_cfg *c)
{
    conv_cfg p = *c;
    p.DH = p.DW = p.G = 0;
    return p;
}
/* conv(x, w) + b of configuration c: tg_conv2d for the plain ones */
static tg_tensor *conv_of(tg_tape *tp, tg_tensor *x, tg_tensor *w, tg_tensor *b, const conv_cfg *c)
{
    if (!c->DH && !c->DW && !c->G) return tg_conv2d(tp, x, w, b, c->SH, c->SW, c->PH, c->PW);
    const tg_conv2d_opts o = {c->SH, c->SW, c->PH, c->PW, c->DH, c->DW, c->G};
    return tg_conv2d_ex(tp, x, w, b, &o);
}

/* ---- references in plain loops --------------------------------------------- */
/* x value with zero padding outside the image */
static double xat(const double *x, const conv_cfg *c, int64_t n, int64_t ch, int64_t h, int64_t w)
{
    if (h < 0 || h >= c->H || w < 0 || w >= c->W) return 0.0;
    return x[((n * c->C + ch) * c->H + h) * c->W + w];
}

/* y[n,f,i,j] = b[f] + sum_{c',p,q} w[f,c',p,q] x[n,g Cg + c',i*SH-PH+p*DH,j*SW-PW+q*DW]
 * with Cg = C/G channels per group and g = f / (F/G) the filter's group */
static void ref_conv(const conv_cfg *c, const double *x, const double *w, const double *b,
                     double *y)
{
    const int64_t OH = out_h(c), OW = out_w(c), Cg = c->C / groups(c), Fg = c->F / groups(c);
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t f = 0; f < c->F; f++)
            for (int64_t i = 0; i < OH; i++)
                for (int64_t j = 0; j < OW; j++) {
                    double s = b ? b[f] : 0.0;
                    for (int64_t ch = 0; ch < Cg; ch++)
                        for (int64_t p = 0; p < c->KH; p++)
                            for (int64_t q = 0; q < c->KW; q++)
                                s +=
                                    w[((f * Cg + ch) * c->KH + p) * c->KW + q] *
                                    xat(x, c, n, f / Fg * Cg + ch, i * c->SH - c->PH + p * dil_h(c),
                                        j * c->SW - c->PW + q * dil_w(c));
                    y[((n * c->F + f) * OH + i) * OW + j] = s;
                }
}

/* Gradients of sum(g * conv(x, w) + b) by the textbook formulas:
 * dx[n,c,h,w] = sum over (f,i,j,p,q) with i*SH-PH+p = h, j*SW-PW+q = w of
 *               g[n,f,i,j] w[f,c,p,q]   (a full convolution of g with w),
 * dw[f,c,p,q] = sum_{n,i,j} g[n,f,i,j] x[n,c,i*SH-PH+p,j*SW-PW+q],
 * db[f]       = sum_{n,i,j} g[n,f,i,j]. */
static void ref_conv_grads(const conv_cfg *c, const double *x, const double *w, const double *g,
                           double *dx, double *dw, double *db)
{
    const int64_t OH = out_h(c), OW = out_w(c), Cg = c->C / groups(c), Fg = c->F / groups(c);
    memset(dx, 0, sizeof(double) * (size_t)(c->N * c->C * c->H * c->W));
    memset(dw, 0, sizeof(double) * (size_t)(c->F * Cg * c->KH * c->KW));
    memset(db, 0, sizeof(double) * (size_t)c->F);
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t f = 0; f < c->F; f++)
            for (int64_t i = 0; i < OH; i++)
                for (int64_t j = 0; j < OW; j++) {
                    const double gv = g[((n * c->F + f) * OH + i) * OW + j];
                    db[f] += gv;
                    for (int64_t cg = 0; cg < Cg; cg++)
                        for (int64_t p = 0; p < c->KH; p++)
                            for (int64_t q = 0; q < c->KW; q++) {
                                const int64_t h = i * c->SH - c->PH + p * dil_h(c),
                                              ww = j * c->SW - c->PW + q * dil_w(c);
                                const int64_t wi = ((f * Cg + cg) * c->KH + p) * c->KW + q;
                                const int64_t ch = f / Fg * Cg + cg;
                                dw[wi] += gv * xat(x, c, n, ch, h, ww);
                                if (h >= 0 && h < c->H && ww >= 0 && ww < c->W)
                                    dx[((n * c->C + ch) * c->H + h) * c->W + ww] += gv * w[wi];
                            }
                }
}

static double *values(const tg_tensor *t)
{
    double *v = malloc(sizeof(double) * (size_t)(tg_tensor_numel(t) ? tg_tensor_numel(t) : 1));
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(tg_tensor_to_f64(t, v), TG_OK);
    return v;
}

static void make_conv_inputs(const conv_cfg *c, tg_dtype dt, uint64_t seed, tg_tensor **x,
                             tg_tensor **w, tg_tensor **b)
{
    *x = tt_rand(dt, 4, TT_SHAPE(c->N, c->C, c->H, c->W), seed, -1, 1);
    *w = tt_rand(dt, 4, TT_SHAPE(c->F, c->C / groups(c), c->KH, c->KW), seed + 1, -1, 1);
    *b = c->bias ? tt_rand(dt, 1, TT_SHAPE(c->F), seed + 2, -1, 1) : NULL;
}

/* ---- forward --------------------------------------------------------------- */
/* x = 1..9 in a 3x3 image, w = [[1, 0], [0, -1]], b = 0.5:
 * y[i,j] = x[i,j] - x[i+1,j+1] + 0.5 = -4 + 0.5 everywhere (no flip: with a
 * flipped kernel, a true convolution, it would be +4 + 0.5). */
START_TEST(test_conv_hand_values)
{
    tg_tensor *x = tt_from(TG_F64, 4, TT_SHAPE(1, 1, 3, 3), TT_VALUES(1, 2, 3, 4, 5, 6, 7, 8, 9));
    tg_tensor *w = tt_from(TG_F64, 4, TT_SHAPE(1, 1, 2, 2), TT_VALUES(1, 0, 0, -1));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(1), TT_VALUES(0.5));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_conv2d(tp, x, w, b, 1, 1, 0, 0);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_tensor_ndim(y), 4);
    ck_assert_int_eq(tg_tensor_dim(y, 2), 2);
    ck_assert_int_eq(tg_tensor_dim(y, 3), 2);
    tt_assert_values("correlation, not convolution", y, TT_VALUES(-3.5, -3.5, -3.5, -3.5), 4, 0, 0);
    /* padding 1, stride 2 on the same image, w = ones(2x2), no bias:
     * rows/cols -1, 1, 3 -> windows {pad,pad,pad,1}=1, {pad,pad,2,3}=5, ...*/
    tg_tensor *ones = tt_from(TG_F64, 4, TT_SHAPE(1, 1, 2, 2), TT_VALUES(1, 1, 1, 1));
    tg_tensor *y2 = tg_conv2d(tp, x, ones, NULL, 2, 2, 1, 1);
    /* output 2x2: (0,0): x[0][0] = 1; (0,1): x[0][1]+x[0][2] = 5;
     * (1,0): x[1][0]+x[2][0] = 11; (1,1): 5+6+8+9 = 28 */
    tt_assert_values("stride 2 padding 1", y2, TT_VALUES(1, 5, 11, 28), 4, 0, 0);
    /* output size floor((W - K + 2P)/S) + 1 when S does not divide: 6x6,
     * K = 3, S = 2, P = 0: (6 - 3)/2 + 1 = 2.5 -> 2 */
    tg_tensor *x6 = tt_rand(TG_F64, 4, TT_SHAPE(1, 1, 6, 6), 7, -1, 1);
    tg_tensor *w3 = tt_rand(TG_F64, 4, TT_SHAPE(1, 1, 3, 3), 8, -1, 1);
    tg_tensor *y3 = tg_conv2d(tp, x6, w3, NULL, 2, 2, 0, 0);
    ck_assert_ptr_nonnull(y3);
    ck_assert_int_eq(tg_tensor_dim(y3, 2), 2);
    ck_assert_int_eq(tg_tensor_dim(y3, 3), 2);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(b);
    tg_tensor_free(ones);
    tg_tensor_free(x6);
    tg_tensor_free(w3);
}
END_TEST

/* Every configuration against the direct loops, f64 to 1e-13 and f32 to
 * f32 precision (relative to the sum of absolute terms, about C*K*K). */
START_TEST(test_conv_forward_reference)
{
    for (int k = 0; k < ARRAY_LEN(k_cfgs); k++) {
        const conv_cfg *c = &k_cfgs[k];
        tg_tensor *x, *w, *b, *x32, *w32, *b32;
        make_conv_inputs(c, TG_F64, 100 + (uint64_t)k, &x, &w, &b);
        make_conv_inputs(c, TG_F32, 100 + (uint64_t)k, &x32, &w32, &b32);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = conv_of(tp, x, w, b, c);
        tg_tensor *y32 = conv_of(tp, x32, w32, b32, c);
        ck_assert_msg(y && y32, "cfg %d: %s", k, tg_tape_error(tp));
        ck_assert_int_eq(tg_tensor_dim(y, 0), c->N);
        ck_assert_int_eq(tg_tensor_dim(y, 1), c->F);
        ck_assert_int_eq(tg_tensor_dim(y, 2), out_h(c));
        ck_assert_int_eq(tg_tensor_dim(y, 3), out_w(c));
        double *xv = values(x), *wv = values(w), *bv = b ? values(b) : NULL;
        double *ref = malloc(sizeof(double) * (size_t)tg_tensor_numel(y));
        ref_conv(c, xv, wv, bv, ref);
        char what[64];
        snprintf(what, sizeof what, "conv cfg %d f64", k);
        tt_assert_values(what, y, ref, tg_tensor_numel(y), 1e-13, 1e-13);
        snprintf(what, sizeof what, "conv cfg %d f32", k);
        tt_assert_values(what, y32, ref, tg_tensor_numel(y), 1e-5, 1e-5);
        free(xv);
        free(wv);
        free(bv);
        free(ref);
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

/* ---- gradients ---------------------------------------------------------------- */
static tg_tensor *fn_conv(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const conv_cfg *c = ctx;
    return conv_of(tp, in[0], in[1], c->bias ? in[2] : NULL, c);
}

START_TEST(test_conv_gradcheck)
{
    const conv_cfg *c = &k_cfgs[_i];
    tg_tensor *x, *w, *b;
    make_conv_inputs(c, TG_F64, 200 + (uint64_t)_i, &x, &w, &b);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_requires_grad(w, true);
    if (b) tg_tensor_set_requires_grad(b, true);
    char what[64];
    snprintf(what, sizeof what, "conv2d cfg %d", _i);
    tt_gradcheck(what, fn_conv, (void *)c, b ? 3 : 2, ((tg_tensor *[]){x, w, b}));
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(b);
}
END_TEST

/* Analytic gradients of sum(g * y) against the loop formulas, to 1e-12. */
START_TEST(test_conv_backward_reference)
{
    const conv_cfg *c = &k_cfgs[_i];
    tg_tensor *x, *w, *b;
    make_conv_inputs(c, TG_F64, 300 + (uint64_t)_i, &x, &w, &b);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_requires_grad(w, true);
    if (b) tg_tensor_set_requires_grad(b, true);
    tg_tensor *g = tt_rand(TG_F64, 4, TT_SHAPE(c->N, c->F, out_h(c), out_w(c)), 999, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = conv_of(tp, x, w, b, c);
    tg_tensor *loss = tg_sum_all(tp, tg_mul(tp, y, g));
    ck_assert_int_eq(tg_backward(tp, loss), TG_OK);
    double *xv = values(x), *wv = values(w), *gv = values(g);
    double *dx = malloc(sizeof(double) * (size_t)tg_tensor_numel(x));
    double *dw = malloc(sizeof(double) * (size_t)tg_tensor_numel(w));
    double *db = malloc(sizeof(double) * (size_t)c->F);
    ref_conv_grads(c, xv, wv, gv, dx, dw, db);
    tt_assert_values("dx (full convolution of g with w)", tg_tensor_grad(x), dx, tg_tensor_numel(x),
                     1e-12, 1e-13);
    tt_assert_values("dw (correlation of x with g)", tg_tensor_grad(w), dw, tg_tensor_numel(w),
                     1e-12, 1e-13);
    if (b) tt_assert_values("db (sum of g)", tg_tensor_grad(b), db, c->F, 1e-12, 1e-13);
    free(xv);
    free(wv);
    free(gv);
    free(dx);
    free(dw);
    free(db);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(b);
    tg_tensor_free(g);
}
END_TEST

/* ---- random geometries, exact ------------------------------------------------------
 * The im2col/col2im kernels split each padded image plane by the stride and
 * move whole runs (kernels/im2col.c), and the convolution works in a layout
 * with padded output rows when (KW - 1) / SW > 0: many branches on the
 * geometry.  Here 300 random geometries (strides 1-3, padding 0-3, kernels
 * 1-5, images 1-9, odd and even, non-square) run conv2d forward, both
 * backward rules (direct: tg_backward; op-built: tg_vjp with create_graph),
 * the direct rules adding into gradients that already hold a contribution
 * (x, w and b in two convolutions) and the public im2col / col2im against
 * the loop references.  The values
 * are small integers, so every sum is exact in f32 and f64 whatever its
 * order, and the comparison is exact. */
static double small_int(tg_rng *r)
{
    return (double)(int)(tg_rng_uniform(r) * 7.0) - 3.0;
}

static tg_tensor *int_tensor(tg_dtype dt, int ndim, const int64_t *shape, tg_rng *r, double **v)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
    ck_assert_ptr_nonnull(*v);
    for (int64_t i = 0; i < n; i++) (*v)[i] = small_int(r);
    tg_tensor *t = tg_tensor_from_f64(dt, ndim, shape, *v);
    ck_assert_ptr_nonnull(t);
    return t;
}

static conv_cfg random_cfg(tg_rng *r)
{
    conv_cfg c = {0};
    c.N = 1 + (int)(tg_rng_next(r) % 2);
    c.C = 1 + (int)(tg_rng_next(r) % 3);
    c.F = 1 + (int)(tg_rng_next(r) % 3);
    c.H = 1 + (int)(tg_rng_next(r) % 9);
    c.W = 1 + (int)(tg_rng_next(r) % 9);
    c.PH = (int)(tg_rng_next(r) % 4);
    c.PW = (int)(tg_rng_next(r) % 4);
    c.SH = 1 + (int)(tg_rng_next(r) % 3);
    c.SW = 1 + (int)(tg_rng_next(r) % 3);
    const int kh_max = c.H + 2 * c.PH < 5 ? c.H + 2 * c.PH : 5;
    const int kw_max = c.W + 2 * c.PW < 5 ? c.W + 2 * c.PW : 5;
    c.KH = 1 + (int)(tg_rng_next(r) % (uint64_t)kh_max);
    c.KW = 1 + (int)(tg_rng_next(r) % (uint64_t)kw_max);
    c.bias = tg_rng_next(r) % 2;
    return c;
}

static void cfg_str(const conv_cfg *c, tg_dtype dt, char *buf, size_t n)
{
    snprintf(buf, n, "%s x(%d,%d,%d,%d) w(%d,%d,%d,%d) stride (%d,%d) pad (%d,%d)",
             tg_dtype_name(dt), c->N, c->C, c->H, c->W, c->F, c->C, c->KH, c->KW, c->SH, c->SW,
             c->PH, c->PW);
}

START_TEST(test_conv_random_geometries_exact)
{
    tg_rng r;
    tg_rng_seed(&r, 2026);
    for (int k = 0; k < 300; k++) {
        const conv_cfg c = random_cfg(&r);
        const tg_dtype dt = k % 2 ? TG_F32 : TG_F64;
        char what[160];
        cfg_str(&c, dt, what, sizeof what);
        const int64_t OH = out_h(&c), OW = out_w(&c), R = (int64_t)c.C * c.KH * c.KW,
                      NL = c.N * OH * OW;
        double *xv, *wv, *bv = NULL, *gv, *mv;
        tg_tensor *x = int_tensor(dt, 4, TT_SHAPE(c.N, c.C, c.H, c.W), &r, &xv);
        tg_tensor *w = int_tensor(dt, 4, TT_SHAPE(c.F, c.C, c.KH, c.KW), &r, &wv);
        tg_tensor *b = c.bias ? int_tensor(dt, 1, TT_SHAPE(c.F), &r, &bv) : NULL;
        tg_tensor *g = int_tensor(dt, 4, TT_SHAPE(c.N, c.F, OH, OW), &r, &gv);
        tg_tensor *m = int_tensor(dt, 2, TT_SHAPE(R, NL), &r, &mv);
        tg_tensor_set_requires_grad(x, true);
        tg_tensor_set_requires_grad(w, true);
        if (b) tg_tensor_set_requires_grad(b, true);
        double *y_ref = malloc(sizeof(double) * (size_t)(c.N * c.F * OH * OW));
        double *dx = malloc(sizeof(double) * (size_t)(c.N * c.C * c.H * c.W));
        double *dw = malloc(sizeof(double) * (size_t)(c.F * R));
        double *db = malloc(sizeof(double) * (size_t)c.F);
        double *a_ref = malloc(sizeof(double) * (size_t)(R * NL));
        double *back_ref = calloc((size_t)(c.N * c.C * c.H * c.W), sizeof(double));
        ref_conv(&c, xv, wv, bv, y_ref);
        ref_conv_grads(&c, xv, wv, gv, dx, dw, db);
        for (int64_t ch = 0; ch < c.C; ch++)
            for (int64_t p = 0; p < c.KH; p++)
                for (int64_t q = 0; q < c.KW; q++)
                    for (int64_t n = 0; n < c.N; n++)
                        for (int64_t i = 0; i < OH; i++)
                            for (int64_t j = 0; j < OW; j++) {
                                const int64_t row = (ch * c.KH + p) * c.KW + q,
                                              col = (n * OH + i) * OW + j;
                                const int64_t h = i * c.SH - c.PH + p, ww = j * c.SW - c.PW + q;
                                a_ref[row * NL + col] = xat(xv, &c, n, ch, h, ww);
                                if (h >= 0 && h < c.H && ww >= 0 && ww < c.W)
                                    back_ref[((n * c.C + ch) * c.H + h) * c.W + ww] +=
                                        mv[row * NL + col];
                            }

        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = tg_conv2d(tp, x, w, b, c.SH, c.SW, c.PH, c.PW);
        ck_assert_msg(y != NULL, "%s: %s", what, tg_tape_error(tp));
        tt_assert_values(what, y, y_ref, c.N * c.F * OH * OW, 0, 0);
        tg_tensor *loss = tg_sum_all(tp, tg_mul(tp, y, g));
        ck_assert_msg(tg_backward(tp, loss) == TG_OK, "%s: %s", what, tg_tape_error(tp));
        tt_assert_values(what, tg_tensor_grad(x), dx, c.N * c.C * c.H * c.W, 0, 0);
        tt_assert_values(what, tg_tensor_grad(w), dw, c.F * R, 0, 0);
        if (b) tt_assert_values(what, tg_tensor_grad(b), db, c.F, 0, 0);
        /* the op-built rules: their forward is the same kernels */
        tg_tensor *gb[2];
        ck_assert_msg(tg_vjp(tp, loss, NULL, 2, (tg_tensor *[]){x, w}, gb, true) == TG_OK, "%s: %s",
                      what, tg_tape_error(tp));
        tt_assert_values(what, gb[0], dx, c.N * c.C * c.H * c.W, 0, 0);
        tt_assert_values(what, gb[1], dw, c.F * R, 0, 0);
        /* the same x and w in two convolutions: the second contribution
         * to dx, dw and db is added into the first (the rules' acc paths) */
        double *g2v, *dx2 = malloc(sizeof(double) * (size_t)(c.N * c.C * c.H * c.W)),
                     *dw2 = malloc(sizeof(double) * (size_t)(c.F * R)),
                     *db2 = malloc(sizeof(double) * (size_t)c.F);
        tg_tensor *g2 = int_tensor(dt, 4, TT_SHAPE(c.N, c.F, OH, OW), &r, &g2v);
        ref_conv_grads(&c, xv, wv, g2v, dx2, dw2, db2);
        for (int64_t e = 0; e < c.N * c.C * c.H * c.W; e++) dx2[e] += dx[e];
        for (int64_t e = 0; e < c.F * R; e++) dw2[e] += dw[e];
        for (int64_t e = 0; e < c.F; e++) db2[e] += db[e];
        tg_tensor *y2 = tg_conv2d(tp, x, w, b, c.SH, c.SW, c.PH, c.PW);
        tg_tensor *loss2 = tg_add(tp, loss, tg_sum_all(tp, tg_mul(tp, y2, g2)));
        ck_assert_msg(tg_backward(tp, loss2) == TG_OK, "%s: %s", what, tg_tape_error(tp));
        tt_assert_values(what, tg_tensor_grad(x), dx2, c.N * c.C * c.H * c.W, 0, 0);
        tt_assert_values(what, tg_tensor_grad(w), dw2, c.F * R, 0, 0);
        if (b) tt_assert_values(what, tg_tensor_grad(b), db2, c.F, 0, 0);
        free(g2v), free(dx2), free(dw2), free(db2);
        tg_tensor_free(g2);
        /* the public ops, whole batch */
        tg_tensor *a = tg_im2col(tp, x, c.KH, c.KW, c.SH, c.SW, c.PH, c.PW);
        tg_tensor *back = tg_col2im_to(tp, m, 4, TT_SHAPE(c.N, c.C, c.H, c.W), c.KH, c.KW, c.SH,
                                       c.SW, c.PH, c.PW);
        ck_assert_msg(a && back, "%s: %s", what, tg_tape_error(tp));
        tt_assert_values(what, a, a_ref, R * NL, 0, 0);
        tt_assert_values(what, back, back_ref, c.N * c.C * c.H * c.W, 0, 0);

        tg_tape_free(tp);
        free(xv), free(wv), free(bv), free(gv), free(mv);
        free(y_ref), free(dx), free(dw), free(db), free(a_ref), free(back_ref);
        tg_tensor_free(x), tg_tensor_free(w), tg_tensor_free(b), tg_tensor_free(g),
            tg_tensor_free(m);
    }
}
END_TEST

/* Non-finite values stay where the formulas put them.  The convolution's
 * padded-row layout computes extra columns that are dropped (forward) or
 * must add nothing (backward): with an Inf weight or a NaN pixel, 0 * Inf in
 * such a column would be NaN.  Each element of conv2d and of its gradients
 * must be NaN, +Inf, -Inf or finite exactly as the loop references say
 * (which of these a sum is does not depend on its order). */
static int fp_class(double v)
{
    return isnan(v) ? 0 : isinf(v) ? (v > 0 ? 1 : 2) : 3;
}

static void assert_classes(const char *what, const tg_tensor *t, const double *ref, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const double v = tg_tensor_get_flat(t, i);
        ck_assert_msg(fp_class(v) == fp_class(ref[i]) && (!isfinite(v) || v == ref[i]),
                      "%s: element %lld is %g, the reference %g", what, (long long)i, v, ref[i]);
    }
}

START_TEST(test_conv_nonfinite_exact)
{
    /* the B4 second layer's geometry (padded rows of 16 for 14 outputs),
     * then its first layer's (stride 1: padded rows of 32 for 28) */
    const conv_cfg geos[2] = {{1, 2, 8, 8, 3, 5, 5, 2, 2, 2, 2, false, 0, 0, 0},
                              {1, 1, 8, 8, 3, 5, 5, 1, 1, 2, 2, false, 0, 0, 0}};
    tg_rng r;
    tg_rng_seed(&r, 7);
    for (int k = 0; k < 4; k++) {
        const conv_cfg c = geos[k / 2];
        const int which = k % 2;
        double *xv, *wv, *gv;
        tg_tensor *x = int_tensor(TG_F64, 4, TT_SHAPE(c.N, c.C, c.H, c.W), &r, &xv);
        tg_tensor *w = int_tensor(TG_F64, 4, TT_SHAPE(c.F, c.C, c.KH, c.KW), &r, &wv);
        tg_tensor *g = int_tensor(TG_F64, 4, TT_SHAPE(c.N, c.F, out_h(&c), out_w(&c)), &r, &gv);
        if (which == 0) { /* an Inf weight of a tap that reads only some pixels */
            wv[4 * c.KW + 4] = INFINITY;
            tg_tensor_set_flat(w, 4 * c.KW + 4, INFINITY);
        } else { /* a NaN in the image's corner */
            xv[0] = NAN;
            tg_tensor_set_flat(x, 0, NAN);
        }
        tg_tensor_set_requires_grad(x, true);
        tg_tensor_set_requires_grad(w, true);
        const int64_t ny = c.N * c.F * out_h(&c) * out_w(&c), nx = c.N * c.C * c.H * c.W,
                      nw = c.F * c.C * c.KH * c.KW;
        double *y_ref = malloc(sizeof(double) * (size_t)ny), *dx = malloc(sizeof(double) * nx),
               *dw = malloc(sizeof(double) * nw), db[3];
        ref_conv(&c, xv, wv, NULL, y_ref);
        ref_conv_grads(&c, xv, wv, gv, dx, dw, db);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = tg_conv2d(tp, x, w, NULL, c.SH, c.SW, c.PH, c.PW);
        ck_assert_ptr_nonnull(y);
        assert_classes(which ? "y, NaN pixel" : "y, Inf weight", y, y_ref, ny);
        tg_tensor *gb[2];
        ck_assert_int_eq(tg_vjp(tp, y, g, 2, (tg_tensor *[]){x, w}, gb, false), TG_OK);
        assert_classes(which ? "dx, NaN pixel" : "dx, Inf weight", gb[0], dx, nx);
        assert_classes(which ? "dw, NaN pixel" : "dw, Inf weight", gb[1], dw, nw);
        tg_tape_free(tp);
        free(xv), free(wv), free(gv), free(y_ref), free(dx), free(dw);
        tg_tensor_free(x), tg_tensor_free(w), tg_tensor_free(g);
    }
}
END_TEST

/* ---- second derivatives -------------------------------------------------------- */
/* f = sum(conv(x, w)^2) (no bias) is quadratic: with C(x, w) the conv and
 * C^T its adjoints,
 *   df/dx = 2 C_x^T C(x, w),   H_xx v = 2 C_x^T C(v, w),
 *   d/dw <df/dx, v> = 2 [C_w^T(v, C(x,w)) + C_w^T(x, C(v,w))]
 * (the last from <C_x^T y, v> = <y, C(v, w)> with y = C(x, w) bilinear).
 * Each is written with the loop reference and compared with create_graph. */
START_TEST(test_conv_hvp_closed_form)
{
    const conv_cfg *c = &k_cfgs[_i];
    conv_cfg cb = *c;
    cb.bias = false;
    tg_tensor *x, *w, *b;
    make_conv_inputs(&cb, TG_F64, 400 + (uint64_t)_i, &x, &w, &b);
    tg_tensor *v = tt_rand(TG_F64, 4, TT_SHAPE(c->N, c->C, c->H, c->W), 401, -1, 1);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_requires_grad(w, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = conv_of(tp, x, w, NULL, c);
    tg_tensor *f = tg_sum_all(tp, tg_square(tp, y));
    tg_tensor *gx = tg_grad(tp, f, x, true);
    tg_tensor *gv = tg_sum_all(tp, tg_mul(tp, gx, v));
    tg_tensor *hv = tg_grad(tp, gv, x, true);
    tg_tensor *hw = tg_grad(tp, gv, w, false);
    ck_assert_msg(hv && hw, "%s", tg_tape_error(tp));

    const int64_t nx = tg_tensor_numel(x), nw = tg_tensor_numel(w), ny = tg_tensor_numel(y);
    double *xv = values(x), *wv = values(w), *vv = values(v);
    double *yx = malloc(sizeof(double) * (size_t)ny), *yv = malloc(sizeof(double) * (size_t)ny);
    double *dx = malloc(sizeof(double) * (size_t)nx), *dw1 = malloc(sizeof(double) * (size_t)nw);
    double *dw2 = malloc(sizeof(double) * (size_t)nw), *db = malloc(sizeof(double) * (size_t)c->F);
    double *tmp = malloc(sizeof(double) * (size_t)nx);
    ref_conv(&cb, xv, wv, NULL, yx);
    ref_conv(&cb, vv, wv, NULL, yv);
    /* gx = 2 C_x^T y */
    ref_conv_grads(&cb, xv, wv, yx, dx, dw1, db);
    for (int64_t k = 0; k < nx; k++) dx[k] *= 2;
    tt_assert_values("df/dx = 2 C^T C x", gx, dx, nx, 1e-12, 1e-13);
    /* H v = 2 C_x^T C(v, w); the weight part: C_w^T(v, y) + C_w^T(x, C(v, w)) */
    ref_conv_grads(&cb, vv, wv, yx, tmp, dw1, db); /* dw1 = C_w^T(v, y) */
    ref_conv_grads(&cb, xv, wv, yv, dx, dw2, db);  /* dx = C_x^T C(v,w), dw2 = C_w^T(x, C(v,w)) */
    for (int64_t k = 0; k < nx; k++) dx[k] *= 2;
    for (int64_t k = 0; k < nw; k++) dw1[k] = 2 * (dw1[k] + dw2[k]);
    tt_assert_values("H_xx v", hv, dx, nx, 1e-12, 1e-13);
    tt_assert_values("H_wx v", hw, dw1, nw, 1e-12, 1e-13);
    free(xv);
    free(wv);
    free(vv);
    free(yx);
    free(yv);
    free(dx);
    free(dw1);
    free(dw2);
    free(db);
    free(tmp);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(v);
}
END_TEST

/* gradcheck of a gradient: out = d/dx and d/dw of sum(sigmoid(conv(x,w)+b) * r)
 * with create_graph, differentiated again by finite differences.  This runs
 * every backward rule of the three conv ops (input_grad and weight_grad with
 * respect to both their inputs). */
typedef struct grad_ctx {
    const conv_cfg *c;
    int wrt;      /* 0: x, 1: w */
    tg_tensor *r; /* fixed weights of the output elements */
} grad_ctx;

static tg_tensor *fn_conv_grad(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const grad_ctx *gc = ctx;
    const conv_cfg *c = gc->c;
    tg_tensor *y = conv_of(tp, in[0], in[1], in[2], c);
    tg_tensor *f = tg_sum_all(tp, tg_mul(tp, tg_sigmoid(tp, y), gc->r));
    return tg_grad(tp, f, in[gc->wrt], true);
}

START_TEST(test_conv_second_order_gradcheck)
{
    const conv_cfg *c = &k_cfgs[_i / 2];
    conv_cfg cb = *c;
    cb.bias = true;
    tg_tensor *r = tt_rand(TG_F64, 4, TT_SHAPE(c->N, c->F, out_h(c), out_w(c)), 77, -1, 1);
    grad_ctx gc = {&cb, _i % 2, r};
    tg_tensor *x, *w, *b;
    make_conv_inputs(&cb, TG_F64, 500 + (uint64_t)_i, &x, &w, &b);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_requires_grad(w, true);
    tg_tensor_set_requires_grad(b, true);
    char what[64];
    snprintf(what, sizeof what, "d/d%s of conv cfg %d", gc.wrt ? "w" : "x", _i / 2);
    tt_gradcheck(what, fn_conv_grad, &gc, 3, ((tg_tensor *[]){x, w, b}));
    tg_tensor_free(r);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(b);
}
END_TEST

/* ---- im2col / col2im ---------------------------------------------------------------- */
START_TEST(test_im2col_reference)
{
    for (int k = 0; k < ARRAY_LEN(k_cfgs); k++) {
        const conv_cfg pc = plain_cfg(&k_cfgs[k]), *c = &pc;
        tg_tensor *x =
            tt_rand(TG_F64, 4, TT_SHAPE(c->N, c->C, c->H, c->W), 600 + (uint64_t)k, -1, 1);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *a = tg_im2col(tp, x, c->KH, c->KW, c->SH, c->SW, c->PH, c->PW);
        ck_assert_msg(a != NULL, "%s", tg_tape_error(tp));
        const int64_t OH = out_h(c), OW = out_w(c), R = (int64_t)c->C * c->KH * c->KW,
                      NL = c->N * OH * OW;
        ck_assert_int_eq(tg_tensor_dim(a, 0), R);
        ck_assert_int_eq(tg_tensor_dim(a, 1), NL);
        double *xv = values(x);
        double *ref = malloc(sizeof(double) * (size_t)(R * NL));
        for (int64_t ch = 0; ch < c->C; ch++)
            for (int64_t p = 0; p < c->KH; p++)
                for (int64_t q = 0; q < c->KW; q++)
                    for (int64_t n = 0; n < c->N; n++)
                        for (int64_t i = 0; i < OH; i++)
                            for (int64_t j = 0; j < OW; j++)
                                ref[((ch * c->KH + p) * c->KW + q) * NL + (n * OH + i) * OW + j] =
                                    xat(xv, c, n, ch, i * c->SH - c->PH + p, j * c->SW - c->PW + q);
        tt_assert_values("im2col", a, ref, R * NL, 0, 0);
        /* The adjoint identity <im2col(x), m> = <x, col2im(m)> for a random m. */
        tg_tensor *m = tt_rand(TG_F64, 2, TT_SHAPE(R, NL), 601, -1, 1);
        tg_tensor *back = tg_col2im_to(tp, m, 4, TT_SHAPE(c->N, c->C, c->H, c->W), c->KH, c->KW,
                                       c->SH, c->SW, c->PH, c->PW);
        ck_assert_ptr_nonnull(back);
        double *mv = values(m), *bv = values(back), lhs = 0, rhs = 0, mag = 0;
        for (int64_t e = 0; e < R * NL; e++) lhs += ref[e] * mv[e], mag += fabs(ref[e] * mv[e]);
        for (int64_t e = 0; e < tg_tensor_numel(x); e++) rhs += xv[e] * bv[e];
        ck_assert_msg(fabs(lhs - rhs) <= 1e-13 * mag,
                      "cfg %d: <im2col x, m> = %.17g, "
                      "<x, col2im m> = %.17g",
                      k, lhs, rhs);
        free(xv);
        free(ref);
        free(mv);
        free(bv);
        tg_tape_free(tp);
        tg_tensor_free(x);
        tg_tensor_free(m);
    }
}
END_TEST

typedef struct cols_ctx {
    const conv_cfg *c;
    bool second; /* check d/dx of col2im(im2col(x)^2) through create_graph */
} cols_ctx;

static tg_tensor *fn_im2col(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const conv_cfg *c = ((const cols_ctx *)ctx)->c;
    tg_tensor *a = tg_im2col(tp, in[0], c->KH, c->KW, c->SH, c->SW, c->PH, c->PW);
    if (!((const cols_ctx *)ctx)->second) return a;
    tg_tensor *f = tg_sum_all(tp, tg_pow_scalar(tp, a, 3.0));
    return tg_grad(tp, f, in[0], true); /* = col2im(3 a^2): through col2im's backward */
}

static tg_tensor *fn_col2im(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const conv_cfg *c = ((const cols_ctx *)ctx)->c;
    return tg_col2im_to(tp, in[0], 4, TT_SHAPE(c->N, c->C, c->H, c->W), c->KH, c->KW, c->SH, c->SW,
                        c->PH, c->PW);
}

START_TEST(test_im2col_gradcheck)
{
    const conv_cfg pc = plain_cfg(&k_cfgs[_i]), *c = &pc;
    const int64_t R = (int64_t)c->C * c->KH * c->KW, NL = c->N * out_h(c) * out_w(c);
    tg_tensor *x = tt_param(4, TT_SHAPE(c->N, c->C, c->H, c->W), 700 + (uint64_t)_i, -1, 1);
    tg_tensor *m = tt_param(2, TT_SHAPE(R, NL), 701 + (uint64_t)_i, -1, 1);
    char what[64];
    snprintf(what, sizeof what, "im2col cfg %d", _i);
    tt_gradcheck(what, fn_im2col, &((cols_ctx){c, false}), 1, &x);
    snprintf(what, sizeof what, "col2im cfg %d", _i);
    tt_gradcheck(what, fn_col2im, &((cols_ctx){c, false}), 1, &m);
    snprintf(what, sizeof what, "second order im2col cfg %d", _i);
    tt_gradcheck(what, fn_im2col, &((cols_ctx){c, true}), 1, &x);
    tg_tensor_free(x);
    tg_tensor_free(m);
}
END_TEST

/* conv2d is U = W A + b of seed 002 with A = im2col(x), written with the
 * public ops (matmul, im2col, reshape, permute): values and gradients agree. */
START_TEST(test_conv_is_matmul_of_im2col)
{
    const conv_cfg *c = &k_cfgs[4];
    tg_tensor *x, *w, *b;
    make_conv_inputs(c, TG_F64, 800, &x, &w, &b);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_requires_grad(w, true);
    tg_tensor_set_requires_grad(b, true);
    const int64_t OH = out_h(c), OW = out_w(c), R = (int64_t)c->C * c->KH * c->KW;
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_conv2d(tp, x, w, b, c->SH, c->SW, c->PH, c->PW);
    tg_tensor *a = tg_im2col(tp, x, c->KH, c->KW, c->SH, c->SW, c->PH, c->PW);
    tg_tensor *wm = tg_reshape(tp, w, 2, TT_SHAPE(c->F, R));
    tg_tensor *u = tg_add(tp, tg_matmul(tp, wm, a), tg_reshape(tp, b, 2, TT_SHAPE(c->F, 1)));
    /* U is (F, N*OH*OW): to (F, N, OH, OW), then (N, F, OH, OW) */
    tg_tensor *u4 = tg_permute_dims(tp, tg_reshape(tp, u, 4, TT_SHAPE(c->F, c->N, OH, OW)), 4,
                                    (const int[]){1, 0, 2, 3});
    ck_assert_msg(u4 != NULL, "%s", tg_tape_error(tp));
    tt_assert_close("conv2d vs W im2col(x) + b", y, u4, 1e-13, 1e-13);
    tg_tensor *r = tt_rand(TG_F64, 4, TT_SHAPE(c->N, c->F, OH, OW), 801, -1, 1);
    tg_tensor *ly = tg_sum_all(tp, tg_mul(tp, y, r)), *lu = tg_sum_all(tp, tg_mul(tp, u4, r));
    tg_tensor *src[3] = {x, w, b};
    for (int k = 0; k < 3; k++) {
        tg_tensor *g1 = tg_grad(tp, ly, src[k], false), *g2 = tg_grad(tp, lu, src[k], false);
        tt_assert_close("gradient: conv2d vs matmul of im2col", g1, g2, 1e-12, 1e-13);
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(b);
    tg_tensor_free(r);
}
END_TEST

/* ---- pooling --------------------------------------------------------------------- */
typedef struct pool_cfg {
    int N, C, H, W, KH, KW, SH, SW, PH, PW;
} pool_cfg;

static const pool_cfg k_pools[] = {
    {1, 1, 4, 4, 2, 2, 2, 2, 0, 0}, /* the usual 2x2 / 2 */
    {2, 3, 5, 5, 3, 3, 1, 1, 1, 1}, /* overlapping windows, padding 1 */
    {2, 2, 7, 6, 3, 2, 2, 1, 1, 0}, /* odd x even, non-square window */
    {1, 2, 6, 7, 4, 5, 2, 2, 2, 2}, /* padding 2, stride 2 */
    {3, 1, 5, 4, 2, 3, 2, 2, 0, 1}, /* batch 3, floor in the output size */
};

static int64_t pool_oh(const pool_cfg *c)
{
    return (c->H + 2 * c->PH - c->KH) / c->SH + 1;
}
static int64_t pool_ow(const pool_cfg *c)
{
    return (c->W + 2 * c->PW - c->KW) / c->SW + 1;
}

/* max over the in-image part of each window; avg: window sum / (KH KW) */
static void ref_pool(const pool_cfg *c, const double *x, bool max, double *y)
{
    const int64_t OH = pool_oh(c), OW = pool_ow(c);
    for (int64_t nc = 0; nc < (int64_t)c->N * c->C; nc++)
        for (int64_t i = 0; i < OH; i++)
            for (int64_t j = 0; j < OW; j++) {
                double m = -INFINITY, s = 0;
                for (int64_t p = 0; p < c->KH; p++)
                    for (int64_t q = 0; q < c->KW; q++) {
                        int64_t h = i * c->SH - c->PH + p, w = j * c->SW - c->PW + q;
                        if (h < 0 || h >= c->H || w < 0 || w >= c->W) continue;
                        double v = x[(nc * c->H + h) * c->W + w];
                        m = fmax(m, v);
                        s += v;
                    }
                y[(nc * OH + i) * OW + j] = max ? m : s / (c->KH * c->KW);
            }
}

static tg_tensor *pool(tg_tape *tp, tg_tensor *x, const pool_cfg *c, bool max)
{
    return (max ? tg_max_pool2d : tg_avg_pool2d)(tp, x, c->KH, c->KW, c->SH, c->SW, c->PH, c->PW);
}

START_TEST(test_pool_hand_values)
{
    /* 4x4 image, 2x2 windows, stride 2 */
    tg_tensor *x = tt_from(TG_F64, 4, TT_SHAPE(1, 1, 4, 4),
                           TT_VALUES(1, 3, 2, 0, 4, -1, 5, 6, 0, 0, -2, -3, 7, 1, -4, -1));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *mx = tg_max_pool2d(tp, x, 2, 2, 2, 2, 0, 0);
    tg_tensor *av = tg_avg_pool2d(tp, x, 2, 2, 2, 2, 0, 0);
    tt_assert_values("max", mx, TT_VALUES(4, 6, 7, -1), 4, 0, 0);
    tt_assert_values("avg", av, TT_VALUES(7.0 / 4, 13.0 / 4, 8.0 / 4, -10.0 / 4), 4, 0, 0);
    /* gradients of sum(max * [1,2,3,4]): each weight lands on its arg-max */
    tg_tensor *r = tt_from(TG_F64, 4, TT_SHAPE(1, 1, 2, 2), TT_VALUES(1, 2, 3, 4));
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul(tp, mx, r))), TG_OK);
    tt_assert_values("d max", tg_tensor_grad(x),
                     TT_VALUES(0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 4), 16, 0, 0);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul(tp, av, r))), TG_OK);
    tt_assert_values("d avg", tg_tensor_grad(x),
                     TT_VALUES(.25, .25, .5, .5, .25, .25, .5, .5, .75, .75, 1, 1, .75, .75, 1, 1),
                     16, 0, 0);
    /* padding 1, 3x3 window, stride 1 on a 2x2 image: every window sees the
     * whole image; avg divides by 9 (padding counts as zeros) */
    tg_tensor *s = tt_from(TG_F64, 4, TT_SHAPE(1, 1, 2, 2), TT_VALUES(-5, -2, -3, -4));
    tg_tensor *ms = tg_max_pool2d(tp, s, 3, 3, 1, 1, 1, 1);
    tg_tensor *as = tg_avg_pool2d(tp, s, 3, 3, 1, 1, 1, 1);
    /* padding never wins the max even though every value is negative */
    tt_assert_values("max padded", ms, TT_VALUES(-2, -2, -2, -2), 4, 0, 0);
    tt_assert_values("avg padded", as, TT_VALUES(-14.0 / 9, -14.0 / 9, -14.0 / 9, -14.0 / 9), 4,
                     1e-15, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(r);
    tg_tensor_free(s);
}
END_TEST

START_TEST(test_pool_reference)
{
    for (int k = 0; k < ARRAY_LEN(k_pools); k++)
        for (int mx = 0; mx < 2; mx++) {
            const pool_cfg *c = &k_pools[k];
            tg_tensor *x =
                tt_rand(TG_F64, 4, TT_SHAPE(c->N, c->C, c->H, c->W), 900 + (uint64_t)k, -1, 1);
            tg_tensor *x32 = tg_tensor_cast_new(x, TG_F32);
            tg_tape *tp = tg_tape_new(NULL);
            tg_tensor *y = pool(tp, x, c, mx), *y32 = pool(tp, x32, c, mx);
            ck_assert_msg(y && y32, "%s", tg_tape_error(tp));
            ck_assert_int_eq(tg_tensor_dim(y, 2), pool_oh(c));
            ck_assert_int_eq(tg_tensor_dim(y, 3), pool_ow(c));
            double *xv = values(x), *ref = malloc(sizeof(double) * (size_t)tg_tensor_numel(y));
            ref_pool(c, xv, mx, ref);
            char what[64];
            snprintf(what, sizeof what, "%s pool cfg %d", mx ? "max" : "avg", k);
            tt_assert_values(what, y, ref, tg_tensor_numel(y), 1e-15, 1e-15);
            tt_assert_values(what, y32, ref, tg_tensor_numel(y), 1e-6, 1e-6);
            free(xv);
            free(ref);
            tg_tape_free(tp);
            tg_tensor_free(x);
            tg_tensor_free(x32);
        }
}
END_TEST

typedef struct pctx {
    const pool_cfg *c;
    bool max, second;
} pctx;

static tg_tensor *fn_pool(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const pctx *p = ctx;
    tg_tensor *y = pool(tp, in[0], p->c, p->max);
    if (!p->second) return y;
    /* d/dx of sum(pool(x)^3 ... through the scatter / adjoint op: its
     * backward (gather / pool) is what create_graph differentiates */
    tg_tensor *f = tg_sum_all(tp, tg_pow_scalar(tp, y, 3.0));
    return tg_grad(tp, f, in[0], true);
}

START_TEST(test_pool_gradcheck)
{
    const pool_cfg *c = &k_pools[_i / 2];
    const bool mx = _i % 2;
    tg_tensor *x = tt_param(4, TT_SHAPE(c->N, c->C, c->H, c->W), 1000 + (uint64_t)_i, -1, 1);
    char what[64];
    snprintf(what, sizeof what, "%s_pool2d cfg %d", mx ? "max" : "avg", _i / 2);
    tt_gradcheck(what, fn_pool, &((pctx){c, mx, false}), 1, &x);
    snprintf(what, sizeof what, "second order %s_pool2d cfg %d", mx ? "max" : "avg", _i / 2);
    tt_gradcheck(what, fn_pool, &((pctx){c, mx, true}), 1, &x);
    tg_tensor_free(x);
}
END_TEST

/* Ties: the gradient goes to the first arg-max in window order; the
 * finite-difference check skips the tied elements by its kink rule and
 * still checks the others. */
START_TEST(test_max_pool_ties)
{
    tg_tensor *x =
        tt_from(TG_F64, 4, TT_SHAPE(1, 1, 2, 4), TT_VALUES(2, 2, 0.5, -1, 2, 1, 0.25, 0.75));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_max_pool2d(tp, x, 2, 2, 2, 2, 0, 0);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_OK);
    tt_assert_values("first arg-max", tg_tensor_grad(x), TT_VALUES(1, 0, 0, 0, 0, 0, 0, 1), 8, 0,
                     0);
    tg_tape_free(tp);
    tg_compare_report rep;
    pool_cfg c = {1, 1, 2, 4, 2, 2, 2, 2, 0, 0};
    ck_assert_int_eq(tg_gradcheck(fn_pool, &(pctx){&c, true, false}, 1, &x, NULL, &rep), TG_OK);
    ck_assert_int_eq(rep.n_skipped, 3); /* the three tied 2s */
    ck_assert(rep.ok);
    tg_tensor_free(x);
}
END_TEST

/* ---- a conv net to a dense layer through flatten -------------------------------- */
static tg_tensor *fn_cnn(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    /* in: x (2,2,6,6), w1 (3,2,3,3), b1 (3), w2 (27,4) dense, b2 (4) */
    tg_tensor *h = tg_relu(tp, tg_conv2d(tp, in[0], in[1], in[2], 1, 1, 1, 1)); /* (2,3,6,6) */
    tg_tensor *p = tg_max_pool2d(tp, h, 2, 2, 2, 2, 0, 0);                      /* (2,3,3,3) */
    tg_tensor *f = tg_flatten(tp, p);                                           /* (2,27) */
    tg_tensor *z = tg_add(tp, tg_matmul(tp, f, in[3]), in[4]);                  /* (2,4) */
    return tt_xent_labels(tp, z, (const int32_t[]){1, 3}, 2, TG_REDUCE_MEAN);
}

START_TEST(test_cnn_flatten_dense)
{
    tg_tensor *in[5] = {
        tt_param(4, TT_SHAPE(2, 2, 6, 6), 1100, -1, 1),
        tt_param(4, TT_SHAPE(3, 2, 3, 3), 1101, -1, 1),
        tt_param(1, TT_SHAPE(3), 1102, -0.1, 0.1),
        tt_param(2, TT_SHAPE(27, 4), 1103, -1, 1),
        tt_param(1, TT_SHAPE(4), 1104, -1, 1),
    };
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *f = tg_flatten(tp, in[0]);
    ck_assert_int_eq(tg_tensor_ndim(f), 2);
    ck_assert_int_eq(tg_tensor_dim(f, 0), 2);
    ck_assert_int_eq(tg_tensor_dim(f, 1), 72);
    tg_tape_free(tp);
    tt_gradcheck("conv-relu-maxpool-flatten-dense-xent", fn_cnn, NULL, 5, in);
    for (int k = 0; k < 5; k++) tg_tensor_free(in[k]);
}
END_TEST

/* ---- memory: steady-state steps allocate nothing -------------------------------- */
START_TEST(test_conv_step_no_malloc)
{
    tg_tensor *x = tt_rand(TG_F32, 4, TT_SHAPE(4, 1, 12, 12), 1200, 0, 1);
    tg_tensor *w1 = tt_rand(TG_F32, 4, TT_SHAPE(4, 1, 5, 5), 1201, -0.2, 0.2);
    tg_tensor *w2 = tt_rand(TG_F32, 4, TT_SHAPE(6, 4, 5, 5), 1202, -0.1, 0.1);
    tg_tensor *b1 = tt_rand(TG_F32, 1, TT_SHAPE(4), 1203, 0, 0.1);
    tg_tensor *b2 = tt_rand(TG_F32, 1, TT_SHAPE(6), 1204, 0, 0.1);
    tg_tensor *params[4] = {w1, w2, b1, b2};
    for (int k = 0; k < 4; k++) tg_tensor_set_requires_grad(params[k], true);
    tg_tape *tp = tg_tape_new(NULL);
    int64_t mallocs[6] = {0};
    for (int step = 0; step < 6; step++) {
        tg_tape_reset(tp);
        tg_tensor *h = tg_relu(tp, tg_conv2d(tp, x, w1, b1, 1, 1, 2, 2));
        tg_tensor *y = tg_conv2d(tp, h, w2, b2, 2, 2, 2, 2);
        tg_tensor *p = tg_avg_pool2d(tp, tg_max_pool2d(tp, y, 2, 2, 1, 1, 0, 0), 2, 2, 2, 2, 0, 0);
        ck_assert_int_eq(tg_backward(tp, tg_mean_all(tp, tg_square(tp, p))), TG_OK);
        mallocs[step] = tg_tape_usage(tp).mallocs;
    }
    /* after the arena has grown to the step's size, no more heap allocations */
    ck_assert_int_eq(mallocs[5], mallocs[2]);
    tg_tape_free(tp);
    tg_tensor_free(x);
    for (int k = 0; k < 4; k++) tg_tensor_free(params[k]);
}
END_TEST

/* ---- empty batch ------------------------------------------------------------------ */
START_TEST(test_conv_empty_batch)
{
    tg_tensor *x = tt_param(4, TT_SHAPE(0, 2, 5, 5), 1300, -1, 1);
    tg_tensor *w = tt_param(4, TT_SHAPE(3, 2, 3, 3), 1301, -1, 1);
    tg_tensor *b = tt_param(1, TT_SHAPE(3), 1302, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_conv2d(tp, x, w, b, 1, 1, 1, 1);
    ck_assert_msg(y != NULL, "%s", tg_tape_error(tp));
    ck_assert_int_eq(tg_tensor_numel(y), 0);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_OK);
    /* no examples: every gradient is exactly zero */
    tt_assert_values("dw", tg_tensor_grad(w), (double[54]){0}, 54, 0, 0);
    tt_assert_values("db", tg_tensor_grad(b), TT_VALUES(0, 0, 0), 3, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(b);
}
END_TEST

/* ---- errors --------------------------------------------------------------------------- */
/* The deprecated tg_col2im (no length) still works for one release: the
 * same image as tg_col2im_to. */
START_TEST(test_col2im_deprecated)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *cols = tt_rand(TG_F64, 2, TT_SHAPE(8, 8), 5, -1, 1);
    static const int64_t img[4] = {2, 2, 3, 3};
    tg_tensor *a = tg_col2im_to(tp, cols, 4, img, 2, 2, 1, 1, 0, 0);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    tg_tensor *b = tg_col2im(tp, cols, img, 2, 2, 1, 1, 0, 0);
#pragma GCC diagnostic pop
    ck_assert_msg(a && b, "%s", tg_tape_error(tp));
    tt_assert_shape(b, 4, img);
    tt_assert_values("deprecated tg_col2im", b, tg_tensor_f64(a), 36, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(cols);
}
END_TEST

START_TEST(test_conv_errors)
{
    tg_tensor *x = tt_rand(TG_F64, 4, TT_SHAPE(2, 3, 4, 4), 1, -1, 1);
    tg_tensor *w = tt_rand(TG_F64, 4, TT_SHAPE(5, 3, 3, 3), 2, -1, 1);
    tg_tensor *w2ch = tt_rand(TG_F64, 4, TT_SHAPE(5, 2, 3, 3), 3, -1, 1);
    tg_tensor *wbig = tt_rand(TG_F64, 4, TT_SHAPE(5, 3, 7, 3), 4, -1, 1);
    tg_tensor *b4 = tt_rand(TG_F64, 1, TT_SHAPE(4), 5, -1, 1);
    tg_tensor *x3 = tt_rand(TG_F64, 3, TT_SHAPE(3, 4, 4), 6, -1, 1);
    tg_tensor *x32 = tt_rand(TG_F32, 4, TT_SHAPE(2, 3, 4, 4), 7, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);

    ck_assert_ptr_null(tg_conv2d(tp, x, w2ch, NULL, 1, 1, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "conv2d", "(2,3,4,4)", "(5,2,3,3)", "channels");
    tg_tape_reset(tp);
    /* 7 > 4 + 2*1: kernel larger than the padded input */
    ck_assert_ptr_null(tg_conv2d(tp, x, wbig, NULL, 1, 1, 1, 1));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "conv2d", "7x3", "6x6", "(2,3,4,4)");
    tg_tape_reset(tp);
    /* with padding 2 it fits: 7 <= 8 */
    ck_assert_ptr_nonnull(tg_conv2d(tp, x, wbig, NULL, 1, 1, 2, 0));
    ck_assert_ptr_null(tg_conv2d(tp, x, w, NULL, 0, 1, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_ARG, "conv2d", "stride (0,1)", "(2,3,4,4)");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_conv2d(tp, x, w, NULL, 1, 1, -1, 0));
    tt_assert_tape_error(tp, TG_ERR_ARG, "conv2d", "padding (-1,0)");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_conv2d(tp, x, w, b4, 1, 1, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "conv2d", "bias (4)", "5 elements", "(5,3,3,3)");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_conv2d(tp, x3, w, NULL, 1, 1, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "conv2d", "(3,4,4)", "4-d");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_conv2d(tp, x, x3, NULL, 1, 1, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "conv2d", "weight (3,4,4)", "4-d");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_conv2d(tp, x32, w, NULL, 1, 1, 0, 0));
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_DTYPE);
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_conv2d(tp, NULL, w, NULL, 1, 1, 0, 0));
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_NULL);
    /* a tape in error: every op returns NULL without effect */
    ck_assert_ptr_null(tg_conv2d(tp, x, w, NULL, 1, 1, 0, 0));
    ck_assert_ptr_null(tg_max_pool2d(tp, x, 2, 2, 2, 2, 0, 0));
    ck_assert_ptr_null(tg_avg_pool2d(tp, x, 2, 2, 2, 2, 0, 0));
    ck_assert_ptr_null(tg_im2col(tp, x, 2, 2, 1, 1, 0, 0));
    ck_assert_ptr_null(tg_flatten(tp, x));
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_NULL);
    tg_tape_reset(tp);

    /* pooling */
    ck_assert_ptr_null(tg_max_pool2d(tp, x, 3, 3, 1, 1, 2, 0));
    tt_assert_tape_error(tp, TG_ERR_ARG, "max_pool2d", "padding (2,0)", "half the window 3x3",
                         "(2,3,4,4)");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_avg_pool2d(tp, x, 2, 2, 1, 0, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_ARG, "avg_pool2d", "stride (1,0)");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_max_pool2d(tp, x, 6, 2, 1, 1, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "max_pool2d", "6x2", "larger", "4x4", "(2,3,4,4)");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_avg_pool2d(tp, x3, 2, 2, 1, 1, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "avg_pool2d", "(3,4,4)", "4-d");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_max_pool2d(tp, x, 0, 2, 1, 1, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_ARG, "max_pool2d", "window 0x2");
    tg_tape_reset(tp);

    /* im2col / col2im */
    ck_assert_ptr_null(tg_im2col(tp, x, 5, 5, 1, 1, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "im2col", "5x5", "(2,3,4,4)");
    tg_tape_reset(tp);
    tg_tensor *bad = tt_rand(TG_F64, 2, TT_SHAPE(27, 7), 8, -1, 1);
    ck_assert_ptr_null(tg_col2im_to(tp, bad, 4, TT_SHAPE(2, 3, 4, 4), 3, 3, 1, 1, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "col2im", "(27,7)", "(27,8)");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_col2im_to(tp, bad, 4, NULL, 3, 3, 1, 1, 0, 0));
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_NULL);
    tg_tape_reset(tp);
    /* the image shape's length is checked (issue 24, item 5) */
    ck_assert_ptr_null(tg_col2im_to(tp, bad, 3, TT_SHAPE(2, 3, 4), 3, 3, 1, 1, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "col2im: image shape has 3 dimensions, not 4 (N,C,H,W)");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_col2im_to(tp, bad, 5, TT_SHAPE(1, 2, 3, 4, 4), 3, 3, 1, 1, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "col2im", "5 dimensions");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_col2im_to(tp, bad, 0, NULL, 3, 3, 1, 1, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "col2im", "0 dimensions");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_flatten(tp, tg_sum_all(tp, x)));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "flatten", "0-d");

    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(w2ch);
    tg_tensor_free(wbig);
    tg_tensor_free(b4);
    tg_tensor_free(x3);
    tg_tensor_free(x32);
    tg_tensor_free(bad);
}
END_TEST

/* ---- geometry whose sizes overflow (issue 18, items 1 and 3) --------------------- */
/* Strides and paddings as large as an int allows: each geometry whose sizes
 * (the padded input, the output, the column matrix, the kernels' work area)
 * exceed TG_NUMEL_MAX is refused with a message naming the op and the
 * geometry, never computed with a wrapped length. */
START_TEST(test_conv_geometry_overflow)
{
    const int S = 1 << 30, P = 3 << 29; /* stride 2^30, padding 1.5 * 2^30 */
    tg_tensor *x = tt_rand(TG_F64, 4, TT_SHAPE(1, 1, 1, 1), 1400, -1, 1);
    tg_tensor *w = tt_rand(TG_F64, 4, TT_SHAPE(1, 1, 1, 1), 1401, -1, 1);
    tg_tensor *w64 = tt_rand(TG_F64, 4, TT_SHAPE(64, 1, 1, 1), 1402, -1, 1);
    /* the 4 x 4 output positions of that geometry, one channel, one image */
    tg_tensor *cols = tt_rand(TG_F64, 2, TT_SHAPE(1, 16), 1403, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);

    /* a small output (4x4) but SH * SW = 2^60 phases of work area: its length
     * wrapped to a few elements and the kernels wrote past it */
    ck_assert_ptr_null(tg_conv2d(tp, x, w, NULL, S, S, P, P));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "conv2d", "input (1,1,1,1)", "kernel 1x1",
                         "stride (1073741824,1073741824)", "padding (1610612736,1610612736)",
                         "work area");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_im2col(tp, x, 1, 1, S, S, P, P));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "im2col", "stride (1073741824,1073741824)", "work area");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_col2im_to(tp, cols, 4, TT_SHAPE(1, 1, 1, 1), 1, 1, S, S, P, P));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "col2im", "stride (1073741824,1073741824)", "work area");
    tg_tape_reset(tp);

    /* padding INT_MAX: an output of (2^32 - 1)^2 positions, whose count
     * overflowed */
    ck_assert_ptr_null(tg_conv2d(tp, x, w, NULL, 1, 1, INT_MAX, INT_MAX));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "conv2d", "padding (2147483647,2147483647)", "output");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_im2col(tp, x, 1, 1, 1, 1, INT_MAX, INT_MAX));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "im2col", "padding (2147483647,2147483647)",
                         "column matrix");
    tg_tape_reset(tp);
    /* 2^58 positions fit, 64 filters of them do not */
    ck_assert_ptr_null(tg_conv2d(tp, x, w64, NULL, 1, 1, 1 << 28, 1 << 28));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "conv2d", "padding (268435456,268435456)", "output");
    tg_tape_reset(tp);

    /* col2im's image shape comes from the caller: its extents are checked
     * before the column matrix's shape is computed from them */
    ck_assert_ptr_null(tg_col2im_to(tp, cols, 4, TT_SHAPE(INT64_C(1) << 40, INT64_C(1) << 40, 1, 1),
                                    1, 1, 1, 1, 0, 0));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "col2im", "input (1099511627776,1099511627776,1,1)",
                         "padded input");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_col2im_to(tp, cols, 4, TT_SHAPE(1, 1, INT64_MAX, 1), 1, 1, 1, 1, 1, 0));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "col2im", "padded input");
    tg_tape_reset(tp);
    /* a kernel larger than a hugely padded input: the message's padded
     * extent is computed in 64 bits */
    tg_tensor *wtall = tg_tape_alloc(tp, TG_F64, 4, TT_SHAPE(0, 1, INT64_C(1) << 40, 1));
    ck_assert_ptr_nonnull(wtall);
    ck_assert_ptr_null(tg_conv2d(tp, x, wtall, NULL, 1, 1, P, 0));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "conv2d", "kernel 1099511627776x1",
                         "padded input 3221225473x1");
    tg_tape_reset(tp);

    /* pooling: the output of an empty batch counts its other extents */
    tg_tensor *e = tg_tape_alloc(tp, TG_F64, 4, TT_SHAPE(0, INT64_C(1) << 57, 1, 1));
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_null(tg_max_pool2d(tp, e, 2, 2, 1, 1, 1, 1));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "max_pool2d", "(0,144115188075855872,1,1)", "window 2x2",
                         "padding (1,1)", "output");
    tg_tape_reset(tp);

    /* huge strides and windows that do fit are computed as before */
    tg_tensor *x9 = tt_iota(TG_F64, 4, TT_SHAPE(1, 1, 3, 3));
    tg_tensor *y = tg_max_pool2d(tp, x9, 1, 1, INT_MAX, INT_MAX, 0, 0);
    ck_assert_msg(y != NULL, "%s", tg_tape_error(tp));
    tt_assert_values("max_pool2d stride INT_MAX", y, TT_VALUES(0), 1, 0, 0);
    y = tg_avg_pool2d(tp, x9, INT_MAX, 3, 1, 1, (INT_MAX - 1) / 2, 1);
    ck_assert_msg(y != NULL, "%s", tg_tape_error(tp));
    tt_assert_shape(y, 4, TT_SHAPE(1, 1, 3, 3));
    y = tg_conv2d(tp, x9, w, NULL, 1000, 1000, 0, 0);
    ck_assert_msg(y != NULL, "%s", tg_tape_error(tp));
    tt_assert_values("conv2d stride 1000", y, TT_VALUES(0), 1, 0, 0);

    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(w64);
    tg_tensor_free(cols);
    tg_tensor_free(x9);
}
END_TEST

/* flatten of a tensor with no elements and huge extents: the product of
 * the extents after the first used to wrap (to 0 for 2^40 * 2^40, giving
 * shape (0,0)); whichever the order of the axes, the shape is refused, at
 * the tensor's creation or by flatten. */
START_TEST(test_flatten_huge_extents)
{
    const int64_t big = INT64_C(1) << 40;
    const int64_t shapes[][3] = {{0, big, big}, {big, big, 0}, {big, 0, big}};
    for (int i = 0; i < ARRAY_LEN(shapes); i++) {
        tg_tensor *x = tg_tensor_new(TG_F64, 3, shapes[i]);
        if (!x) continue; /* refused where it is created: nothing to flatten */
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = tg_flatten(tp, x);
        ck_assert_msg(y == NULL, "flatten of shape %d gave %lld x %lld", i,
                      (long long)tg_tensor_shape(y)[0], (long long)tg_tensor_shape(y)[1]);
        tt_assert_tape_error(tp, TG_ERR_SHAPE, "flatten", "1099511627776");
        tg_tape_free(tp);
        tg_tensor_free(x);
    }
}
END_TEST

/* A batch of 2^40 images with no channels (or no filters): no elements
 * anywhere, so nothing to walk; the kernels looped over every image. */
START_TEST(test_conv_empty_huge_batch)
{
    const int64_t N = INT64_C(1) << 40;
    tg_tensor *x = tg_tensor_new(TG_F64, 4, TT_SHAPE(N, 0, 3, 3));
    tg_tensor *w = tg_tensor_new(TG_F64, 4, TT_SHAPE(0, 0, 3, 2));
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_requires_grad(w, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *c = tg_im2col(tp, x, 3, 2, 3, 3, 1, 1);
    ck_assert_msg(c != NULL, "%s", tg_tape_error(tp));
    tt_assert_shape(c, 2, TT_SHAPE(0, 2 * N)); /* OH 1, OW 2 */
    tg_tensor *y = tg_conv2d(tp, x, w, NULL, 3, 3, 1, 1);
    ck_assert_msg(y != NULL, "%s", tg_tape_error(tp));
    tt_assert_shape(y, 4, TT_SHAPE(N, 0, 1, 2));
    tg_tensor *back = tg_col2im_to(tp, c, 4, TT_SHAPE(N, 0, 3, 3), 3, 2, 3, 3, 1, 1);
    ck_assert_msg(back != NULL, "%s", tg_tape_error(tp));
    tg_tensor *loss = tg_add(tp, tg_sum_all(tp, tg_add(tp, back, x)), tg_sum_all(tp, y));
    ck_assert_int_eq(tg_backward(tp, loss), TG_OK);
    tt_assert_shape(tg_tensor_grad(x), 4, TT_SHAPE(N, 0, 3, 3));
    tt_assert_shape(tg_tensor_grad(w), 4, TT_SHAPE(0, 0, 3, 2));
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
}
END_TEST

/* ---- dilation and groups, random and exact (issue 19, item 7) -------------------
 * The kernels of kernels/im2col.c step the taps by the dilation through the
 * stride's phases, and the convolution runs one gemm per group: 300 random
 * geometries (dilation 1-3, groups 1-3 of 1-2 channels and 1-2 filters,
 * strides 1-3, padding 0-3) with small integers, forward and both backward
 * rules (direct and op-built) against the loops, exactly. */
static conv_cfg random_dg_cfg(tg_rng *r)
{
    conv_cfg c = random_cfg(r);
    c.G = 1 + (int)(tg_rng_next(r) % 3);
    c.C = c.G * (1 + (int)(tg_rng_next(r) % 2));
    c.F = c.G * (1 + (int)(tg_rng_next(r) % 2));
    c.DH = 1 + (int)(tg_rng_next(r) % 3);
    c.DW = 1 + (int)(tg_rng_next(r) % 3);
    /* the largest kernel whose span fits the padded input, at most 4 */
    const int kh = (c.H + 2 * c.PH - 1) / c.DH + 1, kw = (c.W + 2 * c.PW - 1) / c.DW + 1;
    c.KH = 1 + (int)(tg_rng_next(r) % (uint64_t)(kh < 4 ? kh : 4));
    c.KW = 1 + (int)(tg_rng_next(r) % (uint64_t)(kw < 4 ? kw : 4));
    return c;
}

START_TEST(test_conv_random_dilation_groups_exact)
{
    tg_rng r;
    tg_rng_seed(&r, 1907);
    for (int k = 0; k < 300; k++) {
        const conv_cfg c = random_dg_cfg(&r);
        const tg_dtype dt = k % 2 ? TG_F32 : TG_F64;
        char what[200];
        snprintf(what, sizeof what,
                 "%s x(%d,%d,%d,%d) w(%d,%d,%d,%d) stride (%d,%d) pad (%d,%d) dil (%d,%d) G %d",
                 tg_dtype_name(dt), c.N, c.C, c.H, c.W, c.F, c.C / c.G, c.KH, c.KW, c.SH, c.SW,
                 c.PH, c.PW, c.DH, c.DW, c.G);
        const int64_t OH = out_h(&c), OW = out_w(&c), nx = (int64_t)c.N * c.C * c.H * c.W,
                      nw = (int64_t)c.F * (c.C / c.G) * c.KH * c.KW, ny = c.N * c.F * OH * OW;
        double *xv, *wv, *bv = NULL, *gv;
        tg_tensor *x = int_tensor(dt, 4, TT_SHAPE(c.N, c.C, c.H, c.W), &r, &xv);
        tg_tensor *w = int_tensor(dt, 4, TT_SHAPE(c.F, c.C / c.G, c.KH, c.KW), &r, &wv);
        tg_tensor *b = c.bias ? int_tensor(dt, 1, TT_SHAPE(c.F), &r, &bv) : NULL;
        tg_tensor *g = int_tensor(dt, 4, TT_SHAPE(c.N, c.F, OH, OW), &r, &gv);
        tg_tensor_set_requires_grad(x, true);
        tg_tensor_set_requires_grad(w, true);
        double *y_ref = malloc(sizeof(double) * (size_t)ny), *dx = malloc(sizeof(double) * nx),
               *dw = malloc(sizeof(double) * nw), *db = malloc(sizeof(double) * (size_t)c.F);
        ref_conv(&c, xv, wv, bv, y_ref);
        ref_conv_grads(&c, xv, wv, gv, dx, dw, db);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = conv_of(tp, x, w, b, &c);
        ck_assert_msg(y != NULL, "%s: %s", what, tg_tape_error(tp));
        tt_assert_values(what, y, y_ref, ny, 0, 0);
        tg_tensor *loss = tg_sum_all(tp, tg_mul(tp, y, g));
        ck_assert_msg(tg_backward(tp, loss) == TG_OK, "%s: %s", what, tg_tape_error(tp));
        tt_assert_values(what, tg_tensor_grad(x), dx, nx, 0, 0);
        tt_assert_values(what, tg_tensor_grad(w), dw, nw, 0, 0);
        tg_tensor *gb[2];
        ck_assert_msg(tg_vjp(tp, loss, NULL, 2, (tg_tensor *[]){x, w}, gb, true) == TG_OK, "%s: %s",
                      what, tg_tape_error(tp));
        tt_assert_values(what, gb[0], dx, nx, 0, 0);
        tt_assert_values(what, gb[1], dw, nw, 0, 0);
        tg_tape_free(tp);
        free(xv), free(wv), free(bv), free(gv), free(y_ref), free(dx), free(dw), free(db);
        tg_tensor_free(x), tg_tensor_free(w), tg_tensor_free(b), tg_tensor_free(g);
    }
}
END_TEST

/* Hand values: x = 1..16 in a 4x4 image, a 2x2 kernel of ones with
 * dilation 2 sums x[i][j] + x[i][j+2] + x[i+2][j] + x[i+2][j+2]; with two
 * channels and two groups each filter sees its own channel only.  And
 * tg_conv2d_ex with NULL options is tg_conv2d with stride 1, no padding,
 * bit for bit. */
START_TEST(test_conv_ex_hand_values)
{
    double v[32];
    for (int k = 0; k < 32; k++) v[k] = k < 16 ? k + 1 : 100 * (k - 15);
    tg_tensor *x = tt_from(TG_F64, 4, TT_SHAPE(1, 1, 4, 4), v);
    tg_tensor *x2 = tt_from(TG_F64, 4, TT_SHAPE(1, 2, 4, 4), v);
    tg_tensor *ones = tt_from(TG_F64, 4, TT_SHAPE(1, 1, 2, 2), TT_VALUES(1, 1, 1, 1));
    tg_tensor *w2 = tt_from(TG_F64, 4, TT_SHAPE(2, 1, 1, 1), TT_VALUES(1, -1));
    tg_tape *tp = tg_tape_new(NULL);
    const tg_conv2d_opts dil = {.dilation_h = 2, .dilation_w = 2};
    tg_tensor *y = tg_conv2d_ex(tp, x, ones, NULL, &dil);
    ck_assert_msg(y != NULL, "%s", tg_tape_error(tp));
    tt_assert_shape(y, 4, TT_SHAPE(1, 1, 2, 2));
    /* (0,0): 1 + 3 + 9 + 11 = 24, then +1 per column, +4 per row */
    tt_assert_values("dilation 2", y, TT_VALUES(24, 28, 40, 44), 4, 0, 0);
    const tg_conv2d_opts grp = {.groups = 2};
    tg_tensor *yg = tg_conv2d_ex(tp, x2, w2, NULL, &grp);
    ck_assert_msg(yg != NULL, "%s", tg_tape_error(tp));
    double want[32];
    for (int k = 0; k < 32; k++) want[k] = k < 16 ? v[k] : -v[k];
    tt_assert_values("groups 2: filter f sees channel f", yg, want, 32, 0, 0);
    tg_tensor *w = tt_rand(TG_F64, 4, TT_SHAPE(3, 2, 3, 2), 5, -1, 1);
    tg_tensor *a = tg_conv2d(tp, x2, w, NULL, 1, 1, 0, 0), *e = tg_conv2d_ex(tp, x2, w, NULL, NULL);
    const tg_conv2d_opts zero = {0};
    tg_tensor *z = tg_conv2d_ex(tp, x2, w, NULL, &zero);
    ck_assert_msg(a && e && z, "%s", tg_tape_error(tp));
    tt_assert_close("conv2d_ex(NULL) is conv2d", a, e, 0, 0);
    tt_assert_close("conv2d_ex(zeros) is conv2d", a, z, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x), tg_tensor_free(x2), tg_tensor_free(ones), tg_tensor_free(w2),
        tg_tensor_free(w);
}
END_TEST

/* ---- conv1d: the 2-d loops with H = KH = 1 ---------------------------------------- */
static const conv_cfg k_cfgs1d[] = {
    /* N, C, H=1, L, F, KH=1, K, 1, stride, 0, pad, bias, DH=1, dilation, groups */
    {2, 3, 1, 9, 2, 1, 3, 1, 1, 0, 1, true, 1, 1, 1},
    {1, 4, 1, 11, 4, 1, 3, 1, 2, 0, 2, true, 1, 2, 2},
    {3, 2, 1, 7, 4, 1, 2, 1, 1, 0, 0, false, 1, 3, 2},
    {2, 3, 1, 8, 3, 1, 4, 1, 3, 0, 3, true, 1, 1, 3},
};

static tg_tensor *fn_conv1d(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const conv_cfg *c = ctx;
    return tg_conv1d(tp, in[0], in[1], c->bias ? in[2] : NULL, c->SW, c->PW, c->DW, c->G);
}

START_TEST(test_conv1d)
{
    const conv_cfg *c = &k_cfgs1d[_i];
    tg_tensor *x = tt_param(3, TT_SHAPE(c->N, c->C, c->W), 1100 + (uint64_t)_i, -1, 1);
    tg_tensor *w = tt_param(3, TT_SHAPE(c->F, c->C / c->G, c->KW), 1101 + (uint64_t)_i, -1, 1);
    tg_tensor *b = c->bias ? tt_param(1, TT_SHAPE(c->F), 1102 + (uint64_t)_i, -1, 1) : NULL;
    tg_tensor *g = tt_rand(TG_F64, 3, TT_SHAPE(c->N, c->F, out_w(c)), 1103, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = fn_conv1d(tp, (tg_tensor *[]){x, w, b}, (void *)c);
    ck_assert_msg(y != NULL, "%s", tg_tape_error(tp));
    tt_assert_shape(y, 3, TT_SHAPE(c->N, c->F, out_w(c)));
    double *xv = values(x), *wv = values(w), *bv = b ? values(b) : NULL, *gv = values(g);
    const int64_t nx = tg_tensor_numel(x), nw = tg_tensor_numel(w);
    double *ref = malloc(sizeof(double) * (size_t)tg_tensor_numel(y));
    double *dx = malloc(sizeof(double) * nx), *dw = malloc(sizeof(double) * nw),
           *db = malloc(sizeof(double) * (size_t)c->F);
    ref_conv(c, xv, wv, bv, ref);
    ref_conv_grads(c, xv, wv, gv, dx, dw, db);
    tt_assert_values("conv1d", y, ref, tg_tensor_numel(y), 1e-13, 1e-13);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul(tp, y, g))), TG_OK);
    tt_assert_values("conv1d dx", tg_tensor_grad(x), dx, nx, 1e-12, 1e-13);
    tt_assert_values("conv1d dw", tg_tensor_grad(w), dw, nw, 1e-12, 1e-13);
    if (b) tt_assert_values("conv1d db", tg_tensor_grad(b), db, c->F, 1e-12, 1e-13);
    tg_tape_free(tp);
    char what[64];
    snprintf(what, sizeof what, "conv1d cfg %d", _i);
    tt_gradcheck(what, fn_conv1d, (void *)c, b ? 3 : 2, ((tg_tensor *[]){x, w, b}));
    free(xv), free(wv), free(bv), free(gv), free(ref), free(dx), free(dw), free(db);
    tg_tensor_free(x), tg_tensor_free(w), tg_tensor_free(b), tg_tensor_free(g);
}
END_TEST

/* ---- conv_transpose2d: the adjoint of conv2d in its input -------------------------
 * For every configuration, with the output padding that gives back x's
 * extents: <conv(v, w), u> = <v, conv_transpose2d(u, w)> for random v and
 * u, to 1e-12 of the sum of the absolute terms; the values against the
 * loop formula of the input gradient; gradcheck of (u, w, b) and of its
 * gradient (second order). */
static tg_conv2d_opts cfg_opts(const conv_cfg *c)
{
    return (tg_conv2d_opts){c->SH, c->SW, c->PH, c->PW, c->DH, c->DW, c->G};
}
/* the output padding taking the transposed convolution back to H (W) */
static int out_pad_h(const conv_cfg *c)
{
    return (int)(c->H + 2 * c->PH - (c->KH - 1) * dil_h(c) - 1 - (out_h(c) - 1) * c->SH);
}
static int out_pad_w(const conv_cfg *c)
{
    return (int)(c->W + 2 * c->PW - (c->KW - 1) * dil_w(c) - 1 - (out_w(c) - 1) * c->SW);
}

typedef struct convt_ctx {
    const conv_cfg *c;
    int wrt;      /* -1: the value; 0, 1: d/du, d/dw of sum(sigmoid(y) * r) */
    tg_tensor *r; /* weights of y's elements */
} convt_ctx;

static tg_tensor *fn_conv_t(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const convt_ctx *t = ctx;
    const tg_conv2d_opts o = cfg_opts(t->c);
    tg_tensor *y =
        tg_conv_transpose2d(tp, in[0], in[1], in[2], &o, out_pad_h(t->c), out_pad_w(t->c));
    if (t->wrt < 0) return y;
    tg_tensor *f = tg_sum_all(tp, tg_mul(tp, tg_sigmoid(tp, y), t->r));
    return tg_grad(tp, f, in[t->wrt], true);
}

START_TEST(test_conv_transpose_adjoint)
{
    const conv_cfg *c = &k_cfgs[_i];
    tg_tensor *v, *w, *b;
    make_conv_inputs(c, TG_F64, 1200 + (uint64_t)_i, &v, &w, &b);
    tg_tensor *u = tt_rand(TG_F64, 4, TT_SHAPE(c->N, c->F, out_h(c), out_w(c)), 1201, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    const tg_conv2d_opts o = cfg_opts(c);
    tg_tensor *cv = conv_of(tp, v, w, NULL, c);
    tg_tensor *tu = tg_conv_transpose2d(tp, u, w, NULL, &o, out_pad_h(c), out_pad_w(c));
    ck_assert_msg(cv && tu, "cfg %d: %s", _i, tg_tape_error(tp));
    tt_assert_shape(tu, 4, TT_SHAPE(c->N, c->C, c->H, c->W));
    double *a = values(cv), *uv = values(u), *vv = values(v), *tv = values(tu), lhs = 0, rhs = 0,
           mag = 0;
    for (int64_t e = 0; e < tg_tensor_numel(u); e++) lhs += a[e] * uv[e], mag += fabs(a[e] * uv[e]);
    for (int64_t e = 0; e < tg_tensor_numel(v); e++) rhs += vv[e] * tv[e];
    ck_assert_msg(fabs(lhs - rhs) <= 1e-12 * mag,
                  "cfg %d: <conv v, u> = %.17g, <v, conv_t u> = %.17g", _i, lhs, rhs);
    /* the values: the input gradient's loop formula with g = u */
    double *wv = values(w), *dx = malloc(sizeof(double) * (size_t)tg_tensor_numel(v));
    double *dw = malloc(sizeof(double) * (size_t)tg_tensor_numel(w)),
           *db = malloc(sizeof(double) * (size_t)c->F);
    ref_conv_grads(c, vv, wv, uv, dx, dw, db);
    tt_assert_values("conv_transpose2d", tu, dx, tg_tensor_numel(v), 1e-12, 1e-13);
    tg_tape_free(tp);
    free(a), free(uv), free(vv), free(tv), free(wv), free(dx), free(dw), free(db);
    /* gradients, first and second order, with a bias of C elements */
    tg_tensor *bt = tt_param(1, TT_SHAPE(c->C), 1202, -1, 1);
    tg_tensor *r = tt_rand(TG_F64, 4, TT_SHAPE(c->N, c->C, c->H, c->W), 1203, -1, 1);
    tg_tensor_set_requires_grad(u, true);
    tg_tensor_set_requires_grad(w, true);
    char what[64];
    for (int wrt = -1; wrt < 2; wrt++) {
        snprintf(what, sizeof what, "conv_transpose2d cfg %d, wrt %d", _i, wrt);
        tt_gradcheck(what, fn_conv_t, &((convt_ctx){c, wrt, r}), 3, ((tg_tensor *[]){u, w, bt}));
    }
    tg_tensor_free(v), tg_tensor_free(w), tg_tensor_free(b), tg_tensor_free(u), tg_tensor_free(bt),
        tg_tensor_free(r);
}
END_TEST

/* PyTorch's values: x = [[1,2],[3,4]] and a 2x2 kernel of ones; stride 1
 * overlaps the spread copies, stride 2 tiles them, output padding adds a
 * row and a column that only the bias reaches. */
START_TEST(test_conv_transpose_hand_values)
{
    tg_tensor *x = tt_from(TG_F64, 4, TT_SHAPE(1, 1, 2, 2), TT_VALUES(1, 2, 3, 4));
    tg_tensor *ones = tt_from(TG_F64, 4, TT_SHAPE(1, 1, 2, 2), TT_VALUES(1, 1, 1, 1));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(1), TT_VALUES(0.5));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y1 = tg_conv_transpose2d(tp, x, ones, NULL, NULL, 0, 0);
    const tg_conv2d_opts s2 = {.stride_h = 2, .stride_w = 2};
    tg_tensor *y2 = tg_conv_transpose2d(tp, x, ones, b, &s2, 1, 0);
    ck_assert_msg(y1 && y2, "%s", tg_tape_error(tp));
    tt_assert_shape(y1, 4, TT_SHAPE(1, 1, 3, 3));
    tt_assert_values("stride 1", y1, TT_VALUES(1, 3, 2, 4, 10, 6, 3, 7, 4), 9, 0, 0);
    tt_assert_shape(y2, 4, TT_SHAPE(1, 1, 5, 4));
    tt_assert_values("stride 2, output padding (1,0), bias 0.5", y2,
                     TT_VALUES(1.5, 1.5, 2.5, 2.5, 1.5, 1.5, 2.5, 2.5, 3.5, 3.5, 4.5, 4.5, 3.5, 3.5,
                               4.5, 4.5, 0.5, 0.5, 0.5, 0.5),
                     20, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x), tg_tensor_free(ones), tg_tensor_free(b);
}
END_TEST

/* ---- adaptive average pooling ------------------------------------------------------ */
typedef struct apool_cfg {
    int N, C, H, W, OH, OW;
} apool_cfg;

static const apool_cfg k_apools[] = {
    {1, 1, 4, 4, 2, 2}, /* divisible: 2x2 windows */
    {2, 3, 5, 7, 3, 4}, /* not divisible: windows of 2 and 3 overlapping */
    {1, 2, 3, 5, 5, 2}, /* more outputs than rows: windows repeat rows */
    {2, 1, 6, 6, 1, 1}, /* global */
    {1, 2, 7, 3, 7, 3}, /* the identity */
};

/* The windows by PyTorch's formula, written out: start = floor(i H / OH),
 * end = ceil((i + 1) H / OH). */
static void ref_apool(const apool_cfg *c, const double *x, double *y)
{
    for (int64_t nc = 0; nc < (int64_t)c->N * c->C; nc++)
        for (int64_t i = 0; i < c->OH; i++)
            for (int64_t j = 0; j < c->OW; j++) {
                const int64_t h0 = (int64_t)floor((double)(i * c->H) / c->OH),
                              h1 = (int64_t)ceil((double)((i + 1) * c->H) / c->OH),
                              w0 = (int64_t)floor((double)(j * c->W) / c->OW),
                              w1 = (int64_t)ceil((double)((j + 1) * c->W) / c->OW);
                double s = 0;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) s += x[(nc * c->H + h) * c->W + w];
                y[(nc * c->OH + i) * c->OW + j] = s / (double)((h1 - h0) * (w1 - w0));
            }
}

typedef struct ap_ctx {
    const apool_cfg *c;
    tg_tensor *r; /* NULL: the value; else d/dx of sum(sigmoid(y) * r) */
} ap_ctx;

static tg_tensor *fn_apool(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const ap_ctx *a = ctx;
    tg_tensor *y = tg_adaptive_avg_pool2d(tp, in[0], a->c->OH, a->c->OW);
    if (!a->r) return y;
    return tg_grad(tp, tg_sum_all(tp, tg_mul(tp, tg_sigmoid(tp, y), a->r)), in[0], true);
}

START_TEST(test_adaptive_avg_pool)
{
    const apool_cfg *c = &k_apools[_i];
    tg_tensor *x = tt_param(4, TT_SHAPE(c->N, c->C, c->H, c->W), 1300 + (uint64_t)_i, -1, 1);
    tg_tensor *x32 =
        tt_rand(TG_F32, 4, TT_SHAPE(c->N, c->C, c->H, c->W), 1300 + (uint64_t)_i, -1, 1);
    tg_tensor *r = tt_rand(TG_F64, 4, TT_SHAPE(c->N, c->C, c->OH, c->OW), 1301, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_adaptive_avg_pool2d(tp, x, c->OH, c->OW);
    tg_tensor *y32 = tg_adaptive_avg_pool2d(tp, x32, c->OH, c->OW);
    ck_assert_msg(y && y32, "%s", tg_tape_error(tp));
    tt_assert_shape(y, 4, TT_SHAPE(c->N, c->C, c->OH, c->OW));
    double *xv = values(x), *ref = malloc(sizeof(double) * (size_t)tg_tensor_numel(y));
    ref_apool(c, xv, ref);
    tt_assert_values("adaptive_avg_pool2d", y, ref, tg_tensor_numel(y), 1e-15, 1e-15);
    tt_assert_values("adaptive_avg_pool2d f32", y32, ref, tg_tensor_numel(y), 1e-6, 1e-6);
    if (c->OH == 1 && c->OW == 1) {
        tg_tensor *gy = tg_global_avg_pool2d(tp, x);
        tg_tensor *m = tg_mean(tp, x, 2, (const int[]){2, 3}, true);
        ck_assert_msg(gy && m, "%s", tg_tape_error(tp));
        tt_assert_close("global_avg_pool2d is the plane mean", gy, m, 1e-15, 1e-15);
    }
    tg_tape_free(tp);
    char what[64];
    snprintf(what, sizeof what, "adaptive_avg_pool2d cfg %d", _i);
    tt_gradcheck(what, fn_apool, &((ap_ctx){c, NULL}), 1, &x);
    snprintf(what, sizeof what, "second order adaptive_avg_pool2d cfg %d", _i);
    tt_gradcheck(what, fn_apool, &((ap_ctx){c, r}), 1, &x);
    free(xv), free(ref);
    tg_tensor_free(x), tg_tensor_free(x32), tg_tensor_free(r);
}
END_TEST

/* 1..9 in a 3x3 image to 2x2: rows and columns [0,2) and [1,3), so the
 * windows share the middle row and column (PyTorch gives the same). */
START_TEST(test_adaptive_avg_pool_hand_values)
{
    tg_tensor *x = tt_from(TG_F64, 4, TT_SHAPE(1, 1, 3, 3), TT_VALUES(1, 2, 3, 4, 5, 6, 7, 8, 9));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_adaptive_avg_pool2d(tp, x, 2, 2);
    ck_assert_msg(y != NULL, "%s", tg_tape_error(tp));
    tt_assert_values("3x3 to 2x2", y, TT_VALUES(3, 4, 6, 7), 4, 0, 0);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_OK);
    /* each window has 4 pixels: a pixel in k windows gets k / 4 */
    tt_assert_values("d sum / dx", tg_tensor_grad(x),
                     TT_VALUES(0.25, 0.5, 0.25, 0.5, 1, 0.5, 0.25, 0.5, 0.25), 9, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* An empty batch through the new ops: shapes with N = 0, and gradients of
 * the weights and bias exactly 0 (no examples). */
START_TEST(test_conv_ex_empty_batch)
{
    tg_tensor *x = tt_param(4, TT_SHAPE(0, 4, 5, 5), 1400, -1, 1);
    tg_tensor *wd = tt_param(4, TT_SHAPE(8, 1, 3, 3), 1401, -1, 1);
    tg_tensor *wt = tt_param(4, TT_SHAPE(4, 3, 3, 3), 1402, -1, 1);
    tg_tensor *b = tt_param(1, TT_SHAPE(6), 1403, -1, 1);
    tg_tensor *x1 = tt_param(3, TT_SHAPE(0, 4, 9), 1404, -1, 1);
    tg_tensor *w1 = tt_param(3, TT_SHAPE(2, 2, 3), 1405, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    const tg_conv2d_opts dw = {.pad_h = 1, .pad_w = 1, .dilation_h = 2, .groups = 4};
    tg_tensor *y = tg_conv2d_ex(tp, x, wd, NULL, &dw);
    tg_tensor *t =
        tg_conv_transpose2d(tp, x, wt, b, &((tg_conv2d_opts){.stride_h = 2, .groups = 2}), 1, 0);
    tg_tensor *a = tg_adaptive_avg_pool2d(tp, x, 3, 2), *g = tg_global_avg_pool2d(tp, x);
    tg_tensor *c = tg_conv1d(tp, x1, w1, NULL, 2, 1, 2, 2);
    ck_assert_msg(y && t && a && g && c, "%s", tg_tape_error(tp));
    tt_assert_shape(y, 4, TT_SHAPE(0, 8, 3, 5));
    tt_assert_shape(t, 4, TT_SHAPE(0, 6, 12, 7));
    tt_assert_shape(a, 4, TT_SHAPE(0, 4, 3, 2));
    tt_assert_shape(g, 4, TT_SHAPE(0, 4, 1, 1));
    tt_assert_shape(c, 3, TT_SHAPE(0, 2, 4));
    tg_tensor *parts[5] = {y, t, a, g, c}, *loss = tg_sum_all(tp, y);
    for (int k = 1; k < 5; k++) loss = tg_add(tp, loss, tg_sum_all(tp, parts[k]));
    ck_assert_int_eq(tg_backward(tp, loss), TG_OK);
    tt_assert_values("dw depthwise", tg_tensor_grad(wd), (double[72]){0}, 72, 0, 0);
    tt_assert_values("dw transposed", tg_tensor_grad(wt), (double[108]){0}, 108, 0, 0);
    tt_assert_values("db transposed", tg_tensor_grad(b), (double[6]){0}, 6, 0, 0);
    tt_assert_values("dw conv1d", tg_tensor_grad(w1), (double[12]){0}, 12, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x), tg_tensor_free(wd), tg_tensor_free(wt), tg_tensor_free(b),
        tg_tensor_free(x1), tg_tensor_free(w1);
}
END_TEST

/* Bad arguments of the new convolutions and pooling: an error naming the op
 * and the shapes, nothing recorded. */
START_TEST(test_conv_ex_errors)
{
    tg_tensor *x = tt_rand(TG_F64, 4, TT_SHAPE(2, 6, 5, 5), 1, -1, 1);
    tg_tensor *w = tt_rand(TG_F64, 4, TT_SHAPE(4, 3, 3, 3), 2, -1, 1);
    tg_tensor *w4 = tt_rand(TG_F64, 4, TT_SHAPE(4, 4, 3, 3), 3, -1, 1);
    tg_tensor *x1 = tt_rand(TG_F64, 3, TT_SHAPE(2, 6, 5), 4, -1, 1);
    tg_tensor *w1 = tt_rand(TG_F64, 3, TT_SHAPE(4, 3, 3), 5, -1, 1);
    tg_tensor *b3 = tt_rand(TG_F64, 1, TT_SHAPE(3), 6, -1, 1);
    tg_tensor *x0 = tt_rand(TG_F64, 4, TT_SHAPE(2, 6, 0, 5), 7, -1, 1);

    EXPECT_ERR(tg_conv2d_ex(tp, x, w, NULL, &((tg_conv2d_opts){.groups = 4})), TG_ERR_SHAPE,
               "conv2d", "input (2,6,5,5)", "6 channels", "not divisible by groups 4");
    EXPECT_ERR(tg_conv2d_ex(tp, x, w, NULL, &((tg_conv2d_opts){.groups = 3})), TG_ERR_SHAPE,
               "conv2d", "weight (4,3,3,3)", "4 filters", "not divisible by groups 3");
    EXPECT_ERR(tg_conv2d_ex(tp, x, w4, NULL, &((tg_conv2d_opts){.groups = 2})), TG_ERR_SHAPE,
               "conv2d", "input (2,6,5,5)", "3 per group of 2", "weight (4,4,3,3) expects 4");
    EXPECT_ERR(tg_conv2d_ex(tp, x, w, NULL, &((tg_conv2d_opts){.groups = -2})), TG_ERR_ARG,
               "conv2d", "(2,6,5,5)", "groups -2 must be >= 1");
    EXPECT_ERR(tg_conv2d_ex(tp, x, w, NULL, &((tg_conv2d_opts){.dilation_w = -1, .groups = 2})),
               TG_ERR_ARG, "conv2d", "(2,6,5,5)", "dilation (1,-1) must be >= 1");
    EXPECT_ERR(tg_conv2d_ex(tp, x, w, NULL, &((tg_conv2d_opts){.dilation_h = 3, .groups = 2})),
               TG_ERR_SHAPE, "conv2d", "kernel 3x3 with dilation (3,1)",
               "does not fit the padded input 5x5", "(2,6,5,5)");
    /* conv1d's arguments are taken as given: 0 is no default there */
    EXPECT_ERR(tg_conv1d(tp, x1, w1, NULL, 1, 0, 0, 2), TG_ERR_ARG, "conv1d", "(2,6,5)",
               "dilation (1,0) must be >= 1");
    EXPECT_ERR(tg_conv1d(tp, x1, w1, NULL, 1, 0, 1, 0), TG_ERR_ARG, "conv1d", "(2,6,5)",
               "groups 0 must be >= 1");
    EXPECT_ERR(tg_conv1d(tp, x, w1, NULL, 1, 0, 1, 2), TG_ERR_SHAPE, "conv1d", "input (2,6,5,5)",
               "3-d (N,C,L)");
    EXPECT_ERR(tg_conv1d(tp, x1, w, NULL, 1, 0, 1, 2), TG_ERR_SHAPE, "conv1d", "weight (4,3,3,3)",
               "3-d (F,C/groups,K)");
    EXPECT_ERR(tg_conv1d(tp, x1, w1, b3, 1, 0, 1, 2), TG_ERR_SHAPE, "conv1d", "bias (3)",
               "4 elements", "(4,3,3)");
    /* transposed: w is (C, F/groups, KH, KW) */
    EXPECT_ERR(tg_conv_transpose2d(tp, x, w, NULL, NULL, 0, 0), TG_ERR_SHAPE, "conv_transpose2d",
               "input (2,6,5,5)", "6 channels", "weight (4,3,3,3) expects 4");
    tg_tensor *wt = tt_rand(TG_F64, 4, TT_SHAPE(6, 2, 3, 3), 8, -1, 1);
    EXPECT_ERR(tg_conv_transpose2d(tp, x, wt, NULL, NULL, 1, 0), TG_ERR_ARG, "conv_transpose2d",
               "(2,6,5,5)", "output padding (1,0)", "less than the stride (1,1)");
    EXPECT_ERR(tg_conv_transpose2d(tp, x, wt, NULL, &((tg_conv2d_opts){.groups = 4}), 0, 0),
               TG_ERR_SHAPE, "conv_transpose2d", "6 channels", "not divisible by groups 4");
    EXPECT_ERR(tg_conv_transpose2d(tp, x, wt, b3, &((tg_conv2d_opts){.groups = 2}), 0, 0),
               TG_ERR_SHAPE, "conv_transpose2d", "bias (3)", "4 elements", "(6,2,3,3)", "groups 2");
    EXPECT_ERR(tg_conv_transpose2d(tp, x, wt, NULL, &((tg_conv2d_opts){.pad_h = 4}), 0, 0),
               TG_ERR_SHAPE, "conv_transpose2d", "(2,6,5,5)", "(6,2,3,3)", "padding (4,0)",
               "output would be -1x7, not at least 1x1");
    EXPECT_ERR(tg_conv_transpose2d(tp, x0, wt, NULL, NULL, 0, 0), TG_ERR_EMPTY, "conv_transpose2d",
               "(2,6,0,5)", "no pixels to spread");
    EXPECT_ERR(tg_conv_transpose2d(tp, x, wt, NULL,
                                   &((tg_conv2d_opts){.stride_h = 1 << 30, .stride_w = 1 << 30}), 0,
                                   0),
               TG_ERR_SHAPE, "conv_transpose2d", "(2,6,5,5)", "stride (1073741824,1073741824)",
               "more than");
    EXPECT_ERR(tg_conv_transpose2d(tp, x, wt, NULL, &((tg_conv2d_opts){.stride_w = -1}), 0, 0),
               TG_ERR_ARG, "conv_transpose2d", "stride (1,-1) must be >= 1");
    /* adaptive and global pooling */
    EXPECT_ERR(tg_adaptive_avg_pool2d(tp, x, 0, 2), TG_ERR_ARG, "adaptive_avg_pool2d", "(2,6,5,5)",
               "output size 0x2");
    EXPECT_ERR(tg_adaptive_avg_pool2d(tp, x1, 2, 2), TG_ERR_SHAPE, "adaptive_avg_pool2d", "(2,6,5)",
               "4-d");
    EXPECT_ERR(tg_global_avg_pool2d(tp, x0), TG_ERR_EMPTY, "global_avg_pool2d", "(2,6,0,5)",
               "no pixels");
    EXPECT_ERR(tg_adaptive_avg_pool2d(tp, x, INT64_MAX / 4, 1), TG_ERR_SHAPE, "adaptive_avg_pool2d",
               "(2,6,5,5)", "would exceed");
    EXPECT_ERR(tg_adaptive_avg_pool2d(tp, NULL, 1, 1), TG_ERR_NULL, "adaptive_avg_pool2d");

    tg_tensor_free(x), tg_tensor_free(w), tg_tensor_free(w4), tg_tensor_free(x1),
        tg_tensor_free(w1), tg_tensor_free(b3), tg_tensor_free(x0), tg_tensor_free(wt);
}
END_TEST

/* ---- the direct kernels against the im2col path ---------------------------
 * The configurations the direct kernels take (tg__conv_direct_fits), run
 * through the raw maps twice, the direct kernels and the im2col + gemm path
 * (the same scratch with b.direct off), in f64 with random values: forward
 * and weight gradient agree to 1e-12 relative.  Then the same with an
 * infinite pixel at the end of a row, which the weight gradient's last
 * vector also reads in lanes past the output row (masked out). */
static void direct_vs_cols(const conv_cfg *c, const double *x, const double *w, const double *gy,
                           double *out[4])
{
    tg__conv_attr at = {.F = c->F, .G = groups(c)};
    const int64_t nchw[4] = {c->N, c->C, c->H, c->W};
    ck_assert_int_eq(tg__conv_geom_make_dil(&at.g, nchw, c->KH, c->KW, c->SH, c->SW, c->PH, c->PW,
                                            dil_h(c), dil_w(c)),
                     TG__GEOM_OK);
    ck_assert(tg__conv_direct_fits(&at));
    tg_tape *tp = tg_tape_new(NULL);
    tg__conv_blk b;
    ck_assert(tg__conv_blk_make(tp, TG_F64, &at, &b));
    ck_assert(b.direct);
    for (int d = 0; d < 2; d++) {
        b.direct = d == 0;
        tg__conv_into(TG_F64, &at, x, w, out[2 * d], false, &b);
        tg__conv_dw_into(TG_F64, &at, x, gy, out[2 * d + 1], false, &b);
    }
    tg_tape_free(tp);
}

START_TEST(test_conv_direct_vs_cols)
{
    for (int k = 0; k < ARRAY_LEN(k_cfgs); k++) {
        const conv_cfg *c = &k_cfgs[k];
        if (groups(c) != 1 || c->SW != 1 || c->C * c->KH * c->KW > 32 || out_w(c) < 8) continue;
        const int64_t nx = c->N * c->C * c->H * c->W, nw = c->F * c->C * c->KH * c->KW,
                      ny = c->N * c->F * out_h(c) * out_w(c);
        tg_tensor *tx = tt_rand(TG_F64, 1, TT_SHAPE(nx), 400 + (uint64_t)k, -1, 1),
                  *tw = tt_rand(TG_F64, 1, TT_SHAPE(nw), 500 + (uint64_t)k, -1, 1),
                  *tg = tt_rand(TG_F64, 1, TT_SHAPE(ny), 600 + (uint64_t)k, -1, 1);
        double *x = values(tx), *w = values(tw), *gy = values(tg), *out[4];
        for (int i = 0; i < 4; i++) out[i] = calloc((size_t)(i % 2 ? nw : ny), sizeof(double));
        direct_vs_cols(c, x, w, gy, out);
        for (int64_t i = 0; i < ny; i++)
            ck_assert_msg(fabs(out[0][i] - out[2][i]) <= 1e-12 * fabs(out[2][i]),
                          "cfg %d y[%lld]: direct %.17g, im2col %.17g", k, (long long)i, out[0][i],
                          out[2][i]);
        for (int64_t i = 0; i < nw; i++)
            ck_assert_msg(fabs(out[1][i] - out[3][i]) <= 1e-12 * fabs(out[3][i]),
                          "cfg %d dw[%lld]: direct %.17g, im2col %.17g", k, (long long)i, out[1][i],
                          out[3][i]);
        /* an infinite pixel at the end of a row: the taps that reach it
         * from valid outputs get +-Inf or NaN, the others (read by lanes
         * past the row's end only) must stay finite, as in the im2col path */
        x[(c->H / 2) * c->W + c->W - 1] = INFINITY;
        direct_vs_cols(c, x, w, gy, out);
        for (int64_t i = 0; i < nw; i++) {
            const double d = out[1][i], r = out[3][i];
            ck_assert_msg(
                isfinite(r) ? fabs(d - r) <= 1e-12 * fabs(r) : (isnan(r) ? isnan(d) : d == r),
                "cfg %d dw[%lld] with an Inf pixel: direct %g, im2col %g", k, (long long)i, d, r);
        }
        for (int i = 0; i < 4; i++) free(out[i]);
        free(x), free(w), free(gy);
        tg_tensor_free(tx), tg_tensor_free(tw), tg_tensor_free(tg);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_conv_hand_values);
    tcase_add_test(tc, test_conv_forward_reference);
    tcase_add_loop_test(tc, test_conv_gradcheck, 0, ARRAY_LEN(k_cfgs));
    tcase_add_loop_test(tc, test_conv_backward_reference, 0, ARRAY_LEN(k_cfgs));
    tcase_add_loop_test(tc, test_conv_hvp_closed_form, 0, ARRAY_LEN(k_cfgs));
    tcase_add_loop_test(tc, test_conv_second_order_gradcheck, 0, 2 * ARRAY_LEN(k_cfgs));
    tcase_add_test(tc, test_conv_is_matmul_of_im2col);
    tcase_add_test(tc, test_conv_direct_vs_cols);
    tcase_add_test(tc, test_conv_random_geometries_exact);
    tcase_add_test(tc, test_conv_nonfinite_exact);
    tcase_add_test(tc, test_conv_empty_batch);
    tcase_add_test(tc, test_conv_errors);
    tcase_add_test(tc, test_col2im_deprecated);
    tcase_add_test(tc, test_conv_step_no_malloc);
    tcase_add_test(tc, test_conv_geometry_overflow);
    tcase_add_test(tc, test_flatten_huge_extents);
    suite_add_tcase(s, tc);

    /* dilation, groups, conv1d, conv_transpose2d (issue 19, item 7) */
    TCase *tcx = tcase_create("conv_ex");
    tcase_set_timeout(tcx, 300);
    tcase_add_test(tcx, test_conv_random_dilation_groups_exact);
    tcase_add_test(tcx, test_conv_ex_hand_values);
    tcase_add_loop_test(tcx, test_conv1d, 0, ARRAY_LEN(k_cfgs1d));
    tcase_add_loop_test(tcx, test_conv_transpose_adjoint, 0, ARRAY_LEN(k_cfgs));
    tcase_add_test(tcx, test_conv_transpose_hand_values);
    tcase_add_test(tcx, test_conv_ex_errors);
    tcase_add_test(tcx, test_conv_ex_empty_batch);
    suite_add_tcase(s, tcx);

    TCase *tcc = tcase_create("im2col");
    tcase_set_timeout(tcc, 300);
    tcase_add_test(tcc, test_im2col_reference);
    tcase_add_loop_test(tcc, test_im2col_gradcheck, 0, ARRAY_LEN(k_cfgs));
    suite_add_tcase(s, tcc);

    TCase *tpl = tcase_create("pool");
    tcase_set_timeout(tpl, 300);
    tcase_add_test(tpl, test_pool_hand_values);
    tcase_add_test(tpl, test_pool_reference);
    tcase_add_loop_test(tpl, test_pool_gradcheck, 0, 2 * ARRAY_LEN(k_pools));
    tcase_add_test(tpl, test_max_pool_ties);
    tcase_add_test(tpl, test_cnn_flatten_dense);
    tcase_add_test(tpl, test_adaptive_avg_pool_hand_values);
    tcase_add_loop_test(tpl, test_adaptive_avg_pool, 0, ARRAY_LEN(k_apools));
    suite_add_tcase(s, tpl);

    /* a short timeout: the point is that nothing is walked */
    TCase *tce = tcase_create("empty");
    tcase_set_timeout(tce, 20);
    tcase_add_test(tce, test_conv_empty_huge_batch);
    suite_add_tcase(s, tce);
    return tt_run(s);
}
