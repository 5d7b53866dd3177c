/* 2-d max and average pooling (NCHW), window KH x KW, stride, zero padding.
 *
 *   max_pool2d: y[n,c,i,j] = max over the window of x (padding never wins)
 *   avg_pool2d: y[n,c,i,j] = (1 / (KH KW)) sum over the window of x, the
 *               padding counting as zeros (PyTorch's count_include_pad)
 *
 * The window of output (i, j) covers input rows i*SH - PH + p, p < KH, and
 * columns j*SW - PW + q, q < KW.  Padding is at most half the window, so
 * every window holds at least one input element.
 *
 * Both are linear maps once the arg-max is fixed, and each backward is
 * another recorded op whose own backward is the forward map again, so
 * create_graph works through pooling:
 *
 *   max:  y = gather(x, idx)     dx = scatter(g, idx)     d scatter = gather
 *   avg:  y = P x                dx = P^T g               d P^T     = P
 *
 * idx[o] is the flat input index of the first arg-max of window o (in
 * row-major window order), fixed at the forward pass.  At a tie the
 * function has a kink; gradcheck skips such elements by its kink rule. */
#include "../core/internal.h"
#include "../core/parallel.h"
#include "../kernels/im2col.h"
#include "conv.h"

typedef struct pool_attr {
    tg__conv_geom g;    /* C is the channel count; KH, KW the window */
    const int64_t *idx; /* max: arg-max per output element (tape arena) */
} pool_attr;

/* ---- the kernels, each storing or (acc) adding into its destination -------
 * The (n, c) planes are independent (an arg-max lies in its window's plane),
 * so the kernels share whole planes among threads, each element computed
 * as on one thread, above POOL_PAR_MIN window reads (docs/performance.md,
 * "Thread thresholds: convolution, pooling, ..."). */
#define POOL_PAR_MIN ((int64_t)1 << 18)

/* Threads for the planes of g, weighed by their window reads. */
static int pool_threads(const tg__conv_geom *g)
{
    int64_t w = g->N;
    const int64_t f[5] = {g->C, g->OH, g->OW, g->KH, g->KW};
    for (int i = 0; i < 5; i++)
        if (!tg__mul_i64(w, f[i], &w)) w = INT64_MAX;
    return tg__par_threads(w, POOL_PAR_MIN);
}

/* o[k] (+)= x[idx[k]] over the N C planes of OH OW outputs of g */
static void gather_kernel(tg_dtype dt, const tg__conv_geom *g, const int64_t *idx, const void *x,
                          void *out, bool acc)
{
    const int64_t L = g->OH * g->OW;
    const int nt = pool_threads(g);
    TG_DISPATCH(dt, T, {
        const T *restrict xv = x;
        T *restrict o = out;
        TG_PAR_FOR(nt, g->N * g->C, nc, {
            for (int64_t k = nc * L; k < (nc + 1) * L; k++)
                o[k] = acc ? o[k] + xv[idx[k]] : xv[idx[k]];
        });
    });
}

/* o (+)= scatter(g, idx): o[idx[k]] += gy[k], plane by plane, o (the N C
 * planes of H W of g) zeroed first unless acc */
static void scatter_kernel(tg_dtype dt, const tg__conv_geom *g, const int64_t *idx, const void *gy,
                           void *out, bool acc)
{
    const int64_t L = g->OH * g->OW, HW = g->H * g->W;
    const int nt = pool_threads(g);
    TG_DISPATCH(dt, T, {
        const T *restrict gv = gy;
        T *restrict o = out;
        TG_PAR_FOR(nt, g->N * g->C, nc, {
            if (!acc)
                for (int64_t k = nc * HW; k < (nc + 1) * HW; k++) o[k] = 0;
            /* overlapping windows can share an arg-max: accumulate */
            for (int64_t k = nc * L; k < (nc + 1) * L; k++) o[idx[k]] += gv[k];
        });
    });
}

/* ---- the gather / scatter pair of max pooling ------------------------------ */
static tg_tensor *gather_op(tg_tape *tp, tg_tensor *x, const pool_attr *at);
static tg_tensor *scatter_op(tg_tape *tp, tg_tensor *g, const pool_attr *at);

/* y[o] = x[idx[o]]: dx = scatter(g, idx) */
static tg_status gather_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = scatter_op(tp, g, tg_node_saved(n));
    return TG_OK;
}
/* dx (+)= scatter(g, idx), straight into the adjoint */
static tg_status gather_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const pool_attr *at = tg_node_saved(n);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (d) scatter_kernel(g->dtype, &at->g, at->idx, g->data, d->data, acc);
    return tg_tape_status(tp);
}
/* linear once the arg-max is fixed: the tangent gathered at the positions
 * the forward chose */
static tg_status gather_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    *tout = gather_op(tp, tin[0], tg_node_saved(n));
    return TG_OK;
}
/* "kernel=(2,2), stride=(2,2), padding=(0,0)" */
static int pool_attrs(const tg_node *n, char *buf, size_t size)
{
    const pool_attr *at = tg_node_saved(n);
    return tg__conv_geom_attrs(&at->g, 1, buf, size);
}
static const tg_op k_max_pool2d = {.name = "max_pool2d",
                                   .arity = 1,
                                   .backward = gather_backward,
                                   .direct = gather_direct,
                                   .scalar = NULL,
                                   .jvp = gather_jvp,
                                   .formula = "dx += g scattered to each window's first arg-max",
                                   .attrs = pool_attrs};
static const tg_op k_max_pool2d_gather = {.name = "max_pool2d_gather",
                                          .arity = 1,
                                          .backward = gather_backward,
                                          .direct = gather_direct,
                                          .scalar = NULL,
                                          .jvp = gather_jvp,
                                          .formula =
                                              "dx += g scattered to each window's first arg-max",
                                          .attrs = pool_attrs};

/* dx[idx[o]] += g[o]: dg = gather(dxbar, idx) */
static tg_status scatter_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = gather_op(tp, g, tg_node_saved(n));
    return TG_OK;
}
/* dg (+)= gather(dxbar, idx) */
static tg_status scatter_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const pool_attr *at = tg_node_saved(n);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (d) gather_kernel(g->dtype, &at->g, at->idx, g->data, d->data, acc);
    return tg_tape_status(tp);
}
/* linear: the tangent scattered to the same positions */
static tg_status scatter_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    *tout = scatter_op(tp, tin[0], tg_node_saved(n));
    return TG_OK;
}
static const tg_op k_max_pool2d_backward = {
    .name = "max_pool2d_backward",
    .arity = 1,
    .backward = scatter_backward,
    .direct = scatter_direct,
    .scalar = NULL,
    .jvp = scatter_jvp,
    .formula = "dx += g gathered at each window's first arg-max (max_pool2d_gather(g))",
    .attrs = pool_attrs};

static tg_tensor *gather_op(tg_tape *tp, tg_tensor *x, const pool_attr *at)
{
    tg_tensor *in[1] = {x};
    const char *name = k_max_pool2d_gather.name;
    const tg__conv_geom *g = &at->g;
    if (!tg_tape_check_inputs(tp, name, 1, in)) return NULL;
    if (!tg__expect_shape4(tp, name, "the input", x, g->N, g->C, g->H, g->W)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, 4, (const int64_t[]){g->N, g->C, g->OH, g->OW});
    if (!out) return NULL;
    gather_kernel(x->dtype, &at->g, at->idx, x->data, out->data, false);
    return tg_tape_record(tp, &k_max_pool2d_gather, 1, in, out, at, sizeof *at, 0, NULL);
}

static tg_tensor *scatter_op(tg_tape *tp, tg_tensor *gy, const pool_attr *at)
{
    tg_tensor *in[1] = {gy};
    const char *name = k_max_pool2d_backward.name;
    const tg__conv_geom *g = &at->g;
    if (!tg_tape_check_inputs(tp, name, 1, in)) return NULL;
    if (!tg__expect_shape4(tp, name, "the output gradient", gy, g->N, g->C, g->OH, g->OW))
        return NULL;
    tg_tensor *out = tg_tape_alloc(tp, gy->dtype, 4, (const int64_t[]){g->N, g->C, g->H, g->W});
    if (!out) return NULL;
    scatter_kernel(gy->dtype, &at->g, at->idx, gy->data, out->data, false);
    return tg_tape_record(tp, &k_max_pool2d_backward, 1, in, out, at, sizeof *at, 0, NULL);
}

/* ---- average pooling and its adjoint --------------------------------------- */
static tg_tensor *avg_op(tg_tape *tp, tg_tensor *x, const tg__conv_geom *g);
static tg_tensor *avg_adjoint_op(tg_tape *tp, tg_tensor *gy, const tg__conv_geom *g);

/* Rows [*lo, *hi) of the window of output row i that lie inside the input
 * (the same for columns with the W-side fields). */
static void window(int64_t i, int64_t s, int64_t pad, int64_t k, int64_t extent, int64_t *lo,
                   int64_t *hi)
{
    int64_t a = i * s - pad, b = a + k;
    *lo = a < 0 ? 0 : a;
    *hi = b > extent ? extent : b;
}

/* out (+)= P x: the window means of x (N,C,H,W), out (N,C,OH,OW). */
static void avg_kernel(const tg__conv_geom *g, tg_dtype dt, const void *x, void *out, bool acc)
{
    const double scale = 1.0 / (double)(g->KH * g->KW);
    const int nt = pool_threads(g);
    TG_DISPATCH(dt, T, {
        const T *restrict xv = x;
        TG_PAR_FOR(nt, g->N * g->C, nc, {
            const T *img = xv + nc * g->H * g->W;
            T *restrict o = (T *)out + nc * g->OH * g->OW;
            for (int64_t i = 0; i < g->OH; i++) {
                int64_t h0, h1;
                window(i, g->SH, g->PH, g->KH, g->H, &h0, &h1);
                for (int64_t j = 0; j < g->OW; j++) {
                    int64_t w0, w1;
                    window(j, g->SW, g->PW, g->KW, g->W, &w0, &w1);
                    T s = 0;
                    for (int64_t h = h0; h < h1; h++)
                        for (int64_t w = w0; w < w1; w++) s += img[h * g->W + w];
                    const T v = (T)(s * scale);
                    *o = acc ? *o + v : v;
                    o++;
                }
            }
        });
    });
}

/* out (+)= P^T gy: each output gradient spread over its window, out
 * (N,C,H,W) zeroed first unless acc. */
static void avg_adjoint_kernel(const tg__conv_geom *g, tg_dtype dt, const void *gy, void *out,
                               bool acc)
{
    const double scale = 1.0 / (double)(g->KH * g->KW);
    const int nt = pool_threads(g);
    TG_DISPATCH(dt, T, {
        TG_PAR_FOR(nt, g->N * g->C, nc, {
            const T *restrict gv = (const T *)gy + nc * g->OH * g->OW;
            T *img = (T *)out + nc * g->H * g->W;
            if (!acc)
                for (int64_t k = 0; k < g->H * g->W; k++) img[k] = 0;
            for (int64_t i = 0; i < g->OH; i++) {
                int64_t h0, h1;
                window(i, g->SH, g->PH, g->KH, g->H, &h0, &h1);
                for (int64_t j = 0; j < g->OW; j++) {
                    int64_t w0, w1;
                    window(j, g->SW, g->PW, g->KW, g->W, &w0, &w1);
                    const T v = (T)(*gv++ * scale);
                    for (int64_t h = h0; h < h1; h++)
                        for (int64_t w = w0; w < w1; w++) img[h * g->W + w] += v;
                }
            }
        });
    });
}

/* dx (+)= P^T g */
static tg_status avg_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const pool_attr *at = tg_node_saved(n);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (d) avg_adjoint_kernel(&at->g, g->dtype, g->data, d->data, acc);
    return tg_tape_status(tp);
}

/* dg (+)= P vbar */
static tg_status avg_adjoint_direct(tg_tape *tp, const tg_node *n, const tg_tensor *vbar,
                                    tg_grad_sink *k)
{
    const pool_attr *at = tg_node_saved(n);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (d) avg_kernel(&at->g, vbar->dtype, vbar->data, d->data, acc);
    return tg_tape_status(tp);
}

/* y = P x: dx = P^T g */
static tg_status avg_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const pool_attr *at = tg_node_saved(n);
    gin[0] = avg_adjoint_op(tp, g, &at->g);
    return TG_OK;
}
/* linear: the same pooling of the tangent */
static tg_status avg_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const pool_attr *at = tg_node_saved(n);
    *tout = avg_op(tp, tin[0], &at->g);
    return TG_OK;
}
static const tg_op k_avg_pool2d = {
    .name = "avg_pool2d",
    .arity = 1,
    .backward = avg_backward,
    .direct = avg_direct,
    .scalar = NULL,
    .jvp = avg_jvp,
    .formula = "dx += each g / (KH KW) spread over its window (padding included in the count)",
    .attrs = pool_attrs};

/* v = P^T g: dg = P vbar */
static tg_status avg_adjoint_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const pool_attr *at = tg_node_saved(n);
    gin[0] = avg_op(tp, g, &at->g);
    return TG_OK;
}
/* linear: the same adjoint of the tangent */
static tg_status avg_adjoint_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                                 tg_tensor **tout)
{
    const pool_attr *at = tg_node_saved(n);
    *tout = avg_adjoint_op(tp, tin[0], &at->g);
    return TG_OK;
}
static const tg_op k_avg_pool2d_backward = {.name = "avg_pool2d_backward",
                                            .arity = 1,
                                            .backward = avg_adjoint_backward,
                                            .direct = avg_adjoint_direct,
                                            .scalar = NULL,
                                            .jvp = avg_adjoint_jvp,
                                            .formula = "dx += avg_pool2d(g)  (the window means)",
                                            .attrs = pool_attrs};

static tg_tensor *avg_op(tg_tape *tp, tg_tensor *x, const tg__conv_geom *g)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_avg_pool2d.name, 1, in)) return NULL;
    if (!tg__expect_shape4(tp, "avg_pool2d", "the input", x, g->N, g->C, g->H, g->W)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, 4, (const int64_t[]){g->N, g->C, g->OH, g->OW});
    if (!out) return NULL;
    avg_kernel(g, x->dtype, x->data, out->data, false);
    pool_attr at = {.g = *g, .idx = NULL};
    return tg_tape_record(tp, &k_avg_pool2d, 1, in, out, &at, sizeof at, 0, NULL);
}

static tg_tensor *avg_adjoint_op(tg_tape *tp, tg_tensor *gy, const tg__conv_geom *g)
{
    tg_tensor *in[1] = {gy};
    const char *name = k_avg_pool2d_backward.name;
    if (!tg_tape_check_inputs(tp, name, 1, in)) return NULL;
    if (!tg__expect_shape4(tp, name, "the output gradient", gy, g->N, g->C, g->OH, g->OW))
        return NULL;
    tg_tensor *out = tg_tape_alloc(tp, gy->dtype, 4, (const int64_t[]){g->N, g->C, g->H, g->W});
    if (!out) return NULL;
    avg_adjoint_kernel(g, gy->dtype, gy->data, out->data, false);
    pool_attr at = {.g = *g, .idx = NULL};
    return tg_tape_record(tp, &k_avg_pool2d_backward, 1, in, out, &at, sizeof at, 0, NULL);
}

/* ---- public entry points ------------------------------------------------------ */
static bool pool_geom(tg_tape *tp, const char *op, const tg_tensor *x, int kh, int kw, int sh,
                      int sw, int ph, int pw, tg__conv_geom *g)
{
    char s[TG_SHAPE_BUF];
    if (x->ndim != 4) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: input %s must be 4-d (N,C,H,W)", op,
                     tg__shape_str(x, s, sizeof s));
        return false;
    }
    if (kh < 1 || kw < 1) {
        tg_tape_fail(tp, TG_ERR_ARG, "%s: input %s: window %dx%d must be at least 1x1", op,
                     tg__shape_str(x, s, sizeof s), kh, kw);
        return false;
    }
    if (sh < 1 || sw < 1) {
        tg_tape_fail(tp, TG_ERR_ARG, "%s: input %s: stride (%d,%d) must be >= 1", op,
                     tg__shape_str(x, s, sizeof s), sh, sw);
        return false;
    }
    if (ph < 0 || pw < 0 || ph > kh / 2 || pw > kw / 2) {
        tg_tape_fail(tp, TG_ERR_ARG,
                     "%s: input %s: padding (%d,%d) must be >= 0 and at most half the window "
                     "%dx%d",
                     op, tg__shape_str(x, s, sizeof s), ph, pw, kh, kw);
        return false;
    }
    if (x->shape[2] == 0 || x->shape[3] == 0) {
        /* a window of padding alone would have no maximum */
        tg_tape_fail(tp, TG_ERR_EMPTY, "%s: input %s has no pixels to pool", op,
                     tg__shape_str(x, s, sizeof s));
        return false;
    }
    const char *too_large = "padded input";
    switch (tg__conv_geom_make(g, x->shape, kh, kw, sh, sw, ph, pw)) {
    case TG__GEOM_OK: {
        int64_t n;
        const int64_t e[4] = {g->N, g->C, g->OH, g->OW};
        if (tg__extents_product(4, e, TG_NUMEL_MAX, &n)) return true;
        too_large = "output";
        break;
    }
    case TG__GEOM_FIT: /* the padded extents are within TG_NUMEL_MAX */
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "%s: window %dx%d is larger than the padded input %lldx%lld (input %s, "
                     "padding (%d,%d))",
                     op, kh, kw, (long long)(g->H + 2 * (int64_t)ph),
                     (long long)(g->W + 2 * (int64_t)pw), tg__shape_str(x, s, sizeof s), ph, pw);
        return false;
    default:
        break;
    }
    tg_tape_fail(tp, TG_ERR_SHAPE,
                 "%s: input %s, window %dx%d, stride (%d,%d), padding (%d,%d): the %s would have "
                 "more than %lld elements",
                 op, tg__shape_str(x, s, sizeof s), kh, kw, sh, sw, ph, pw, too_large,
                 (long long)TG_NUMEL_MAX);
    return false;
}

tg_tensor *tg_max_pool2d(tg_tape *tp, tg_tensor *x, int kh, int kw, int stride_h, int stride_w,
                         int pad_h, int pad_w)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_max_pool2d.name, 1, in)) return NULL;
    pool_attr at = {.idx = NULL};
    if (!pool_geom(tp, "max_pool2d", x, kh, kw, stride_h, stride_w, pad_h, pad_w, &at.g))
        return NULL;
    const tg__conv_geom *g = &at.g;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, 4, (const int64_t[]){g->N, g->C, g->OH, g->OW});
    if (!out) return NULL;
    int64_t *idx = tg__tape_scratch(tp, (size_t)(out->numel ? out->numel : 1) * sizeof *idx);
    if (!idx) return NULL;
    const int nt = pool_threads(g);
    TG_DISPATCH(x->dtype, T, {
        const T *restrict xv = x->data;
        T *restrict o = out->data;
        TG_PAR_FOR(nt, g->N * g->C, nc, {
            const int64_t base = nc * g->H * g->W;
            int64_t k = nc * g->OH * g->OW;
            for (int64_t i = 0; i < g->OH; i++) {
                int64_t h0, h1;
                window(i, g->SH, g->PH, g->KH, g->H, &h0, &h1);
                for (int64_t j = 0; j < g->OW; j++, k++) {
                    int64_t w0, w1;
                    window(j, g->SW, g->PW, g->KW, g->W, &w0, &w1);
                    /* the window is never empty (padding <= half the window) */
                    int64_t best = base + h0 * g->W + w0;
                    T bv = xv[best];
                    for (int64_t h = h0; h < h1; h++)
                        for (int64_t w = w0; w < w1; w++) {
                            const int64_t at_ = base + h * g->W + w;
                            const T v = xv[at_];
                            /* strictly greater keeps the first arg-max; a NaN
                             * wins and stays, so it propagates as in max() */
                            if (v > bv || (v != v && bv == bv)) {
                                bv = v;
                                best = at_;
                            }
                        }
                    o[k] = bv;
                    idx[k] = best;
                }
            }
        });
    });
    at.idx = idx;
    return tg_tape_record(tp, &k_max_pool2d, 1, in, out, &at, sizeof at, 0, NULL);
}

tg_tensor *tg_avg_pool2d(tg_tape *tp, tg_tensor *x, int kh, int kw, int stride_h, int stride_w,
                         int pad_h, int pad_w)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_avg_pool2d.name, 1, in)) return NULL;
    tg__conv_geom g;
    if (!pool_geom(tp, "avg_pool2d", x, kh, kw, stride_h, stride_w, pad_h, pad_w, &g)) return NULL;
    return avg_op(tp, x, &g);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_pool[] = {&k_max_pool2d, &k_max_pool2d_gather,   &k_max_pool2d_backward,
                                     &k_avg_pool2d, &k_avg_pool2d_backward, NULL};
