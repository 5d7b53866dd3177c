/* Adaptive and global average pooling (NCHW).
 *
 *   y[n,c,i,j] = mean of x[n,c,h,w] over h in [h0(i), h1(i)), w in [w0(j), w1(j))
 *   h0(i) = floor(i H / OH),  h1(i) = ceil((i+1) H / OH)   (columns alike)
 *
 * PyTorch's windows: they cover the input, each is at least one pixel wide,
 * and where OH does not divide H neighbours overlap by a row.  Global
 * pooling is the case OH = OW = 1, the mean of each plane.
 *
 * The map is linear, y = P x, so as for avg_pool2d its backward is another
 * recorded op, the adjoint dx = P^T g (each g[i,j] spread over its window,
 * divided by the window's size), whose own backward is P again: derivatives
 * of any order stay within these two ops. */
#include "../core/internal.h"
#include "../core/parallel.h"

typedef struct apool_attr {
    int64_t N, C, H, W, OH, OW;
} apool_attr;

/* The (n, c) planes are independent: both kernels share whole planes among
 * threads, each element computed as on one thread, above APOOL_PAR_MIN
 * pixels read or written (docs/performance.md, "Thread thresholds: losses,
 * norms and axis reductions"). */
#define APOOL_PAR_MIN ((int64_t)1 << 15)

/* Threads for the planes of a, weighed by the larger of the input and the
 * output (the windows cover the input at least once). */
static int apool_threads(const apool_attr *a)
{
    int64_t in, out;
    if (!tg__extents_product(4, (const int64_t[]){a->N, a->C, a->H, a->W}, INT64_MAX, &in))
        in = INT64_MAX;
    if (!tg__extents_product(4, (const int64_t[]){a->N, a->C, a->OH, a->OW}, INT64_MAX, &out))
        out = INT64_MAX;
    return tg__par_threads(in > out ? in : out, APOOL_PAR_MIN);
}

/* [*lo, *hi): the window of output index i of n over an extent of e.
 * i n and (i+1) e + n - 1 are within int64 (apool_check). */
static void awindow(int64_t i, int64_t n, int64_t e, int64_t *lo, int64_t *hi)
{
    *lo = i * e / n;
    *hi = ((i + 1) * e + n - 1) / n;
}

/* out (+)= P x (acc: added), x (N,C,H,W), out (N,C,OH,OW). */
static void apool_kernel(const apool_attr *a, tg_dtype dt, const void *x, void *out, bool acc)
{
    TG_DISPATCH(dt, T, {
        const T *xv = x;
        T *o = out;
        TG_PAR_FOR(apool_threads(a), a->N * a->C, nc, {
            const T *plane = xv + nc * a->H * a->W;
            for (int64_t i = 0; i < a->OH; i++) {
                int64_t h0, h1;
                awindow(i, a->OH, a->H, &h0, &h1);
                for (int64_t j = 0; j < a->OW; j++) {
                    int64_t w0, w1;
                    awindow(j, a->OW, a->W, &w0, &w1);
                    T s = 0;
                    for (int64_t h = h0; h < h1; h++)
                        for (int64_t w = w0; w < w1; w++) s += plane[h * a->W + w];
                    const T v = s / (T)((h1 - h0) * (w1 - w0));
                    T *d = o + (nc * a->OH + i) * a->OW + j;
                    *d = acc ? *d + v : v;
                }
            }
        });
    });
}

/* out (+)= P^T g: g (N,C,OH,OW), out (N,C,H,W) zeroed first unless acc. */
static void apool_adjoint_kernel(const apool_attr *a, tg_dtype dt, const void *gy, void *out,
                                 bool acc)
{
    TG_DISPATCH(dt, T, {
        const T *gv = gy;
        T *o = out;
        const int64_t hw = a->H * a->W;
        TG_PAR_FOR(apool_threads(a), a->N * a->C, nc, {
            T *plane = o + nc * hw;
            if (!acc)
                for (int64_t e = 0; e < hw; e++) plane[e] = 0;
            for (int64_t i = 0; i < a->OH; i++) {
                int64_t h0, h1;
                awindow(i, a->OH, a->H, &h0, &h1);
                for (int64_t j = 0; j < a->OW; j++) {
                    int64_t w0, w1;
                    awindow(j, a->OW, a->W, &w0, &w1);
                    const T v = gv[(nc * a->OH + i) * a->OW + j] / (T)((h1 - h0) * (w1 - w0));
                    for (int64_t h = h0; h < h1; h++)
                        for (int64_t w = w0; w < w1; w++) plane[h * a->W + w] += v;
                }
            }
        });
    });
}

static tg_tensor *apool_op(tg_tape *tp, tg_tensor *x, const apool_attr *a);
static tg_tensor *apool_adjoint_op(tg_tape *tp, tg_tensor *gy, const apool_attr *a);

/* y = P x: dx = P^T g */
static tg_status apool_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = apool_adjoint_op(tp, g, tg_node_saved(n));
    return TG_OK;
}
static tg_status apool_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (d) apool_adjoint_kernel(tg_node_saved(n), g->dtype, g->data, d->data, acc);
    return tg_tape_status(tp);
}
/* linear: the same pooling of the tangent */
static tg_status apool_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    *tout = apool_op(tp, tin[0], tg_node_saved(n));
    return TG_OK;
}
/* "output=(2,2)" */
static int apool_attrs(const tg_node *n, char *buf, size_t size)
{
    const apool_attr *a = tg_node_saved(n);
    return snprintf(buf, size, "output=(%lld,%lld)", (long long)a->OH, (long long)a->OW);
}
static const tg_op k_adaptive_avg_pool2d = {
    .name = "adaptive_avg_pool2d",
    .arity = 1,
    .backward = apool_backward,
    .direct = apool_direct,
    .scalar = NULL,
    .jvp = apool_jvp,
    .formula = "dx += each g spread evenly over its window (g / window size)",
    .attrs = apool_attrs};

/* v = P^T g: dg = P vbar */
static tg_status apool_adjoint_backward(tg_tape *tp, const tg_node *n, tg_tensor *g,
                                        tg_tensor **gin)
{
    gin[0] = apool_op(tp, g, tg_node_saved(n));
    return TG_OK;
}
static tg_status apool_adjoint_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g,
                                      tg_grad_sink *k)
{
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (d) apool_kernel(tg_node_saved(n), g->dtype, g->data, d->data, acc);
    return tg_tape_status(tp);
}
/* linear: the same adjoint of the tangent */
static tg_status apool_adjoint_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                                   tg_tensor **tout)
{
    *tout = apool_adjoint_op(tp, tin[0], tg_node_saved(n));
    return TG_OK;
}
static const tg_op k_adaptive_avg_pool2d_backward = {
    .name = "adaptive_avg_pool2d_backward",
    .arity = 1,
    .backward = apool_adjoint_backward,
    .direct = apool_adjoint_direct,
    .scalar = NULL,
    .jvp = apool_adjoint_jvp,
    .formula = "dx += adaptive_avg_pool2d(g)  (the window means)",
    .attrs = apool_attrs};

static tg_tensor *apool_op(tg_tape *tp, tg_tensor *x, const apool_attr *a)
{
    tg_tensor *in[1] = {x};
    const char *name = k_adaptive_avg_pool2d.name;
    if (!tg_tape_check_inputs(tp, name, 1, in)) return NULL;
    if (!tg__expect_shape4(tp, name, "the input", x, a->N, a->C, a->H, a->W)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, 4, (const int64_t[]){a->N, a->C, a->OH, a->OW});
    if (!out) return NULL;
    apool_kernel(a, x->dtype, x->data, out->data, false);
    return tg_tape_record(tp, &k_adaptive_avg_pool2d, 1, in, out, a, sizeof *a, 0, NULL);
}

static tg_tensor *apool_adjoint_op(tg_tape *tp, tg_tensor *gy, const apool_attr *a)
{
    tg_tensor *in[1] = {gy};
    const char *name = k_adaptive_avg_pool2d_backward.name;
    if (!tg_tape_check_inputs(tp, name, 1, in)) return NULL;
    if (!tg__expect_shape4(tp, name, "the output gradient", gy, a->N, a->C, a->OH, a->OW))
        return NULL;
    tg_tensor *out = tg_tape_alloc(tp, gy->dtype, 4, (const int64_t[]){a->N, a->C, a->H, a->W});
    if (!out) return NULL;
    apool_adjoint_kernel(a, gy->dtype, gy->data, out->data, false);
    return tg_tape_record(tp, &k_adaptive_avg_pool2d_backward, 1, in, out, a, sizeof *a, 0, NULL);
}

/* The attr of op pooling x to oh x ow; false (tape failed) on bad
 * arguments.  Besides the output's size, oh (H + 1) and ow (W + 1) must be
 * within TG_NUMEL_MAX: the window bounds are computed from them. */
static bool apool_check(tg_tape *tp, const char *op, tg_tensor *x, int64_t oh, int64_t ow,
                        apool_attr *a)
{
    tg_tensor *in[1] = {x};
    char s[TG_SHAPE_BUF];
    if (!tg_tape_check_inputs(tp, op, 1, in)) return false;
    if (x->ndim != 4) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: input %s must be 4-d (N,C,H,W)", op,
                     tg__shape_str(x, s, sizeof s));
        return false;
    }
    if (oh < 1 || ow < 1) {
        tg_tape_fail(tp, TG_ERR_ARG, "%s: input %s: output size %lldx%lld must be at least 1x1", op,
                     tg__shape_str(x, s, sizeof s), (long long)oh, (long long)ow);
        return false;
    }
    if (x->shape[2] == 0 || x->shape[3] == 0) {
        /* an empty window has no mean */
        tg_tape_fail(tp, TG_ERR_EMPTY, "%s: input %s has no pixels to pool", op,
                     tg__shape_str(x, s, sizeof s));
        return false;
    }
    *a = (apool_attr){x->shape[0], x->shape[1], x->shape[2], x->shape[3], oh, ow};
    int64_t n, bh, bw;
    if (!tg__extents_product(4, (const int64_t[]){a->N, a->C, oh, ow}, TG_NUMEL_MAX, &n) ||
        !tg__mul_i64(oh, a->H + 1, &bh) || bh > TG_NUMEL_MAX || !tg__mul_i64(ow, a->W + 1, &bw) ||
        bw > TG_NUMEL_MAX) {
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "%s: input %s, output size %lldx%lld: the output, or an output extent times "
                     "the input's, would exceed %lld",
                     op, tg__shape_str(x, s, sizeof s), (long long)oh, (long long)ow,
                     (long long)TG_NUMEL_MAX);
        return false;
    }
    return true;
}

tg_tensor *tg_adaptive_avg_pool2d(tg_tape *tp, tg_tensor *x, int64_t oh, int64_t ow)
{
    apool_attr a;
    if (!apool_check(tp, "adaptive_avg_pool2d", x, oh, ow, &a)) return NULL;
    return apool_op(tp, x, &a);
}

tg_tensor *tg_global_avg_pool2d(tg_tape *tp, tg_tensor *x)
{
    apool_attr a;
    if (!apool_check(tp, "global_avg_pool2d", x, 1, 1, &a)) return NULL;
    return apool_op(tp, x, &a);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_pool_adaptive[] = {&k_adaptive_avg_pool2d,
                                              &k_adaptive_avg_pool2d_backward, NULL};
