/* Reductions: sum and mean over all elements or given axes, sum_to (the
 * adjoint of broadcasting), and max along an axis. */
#include "../core/internal.h"

/* Output offset strides for reducing x over the axes flagged in red[]: 0
 * along reduced axes, the output's row-major stride elsewhere. */
static void reduce_strides(const tg_tensor *x, const bool *red, int64_t *ostride)
{
    int64_t st = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        ostride[d] = red[d] ? 0 : st;
        if (!red[d]) st *= x->shape[d];
    }
}

/* out[...] = scale * sum over the flagged axes of x (out zeroed first). */
static void sum_kernel(tg_tensor *out, const tg_tensor *x, const bool *red, double scale)
{
    int64_t os[TG_MAX_DIMS];
    reduce_strides(x, red, os);
    const int nd = x->ndim;
    const int64_t n = x->numel;
    TG_DISPATCH(x->dtype, T, {
        T *restrict o = out->data;
        const T *restrict v = x->data;
        for (int64_t i = 0; i < out->numel; i++) o[i] = 0;
        if (n == 0) break;
        if (out->numel == 1) {
            double acc = 0; /* one accumulator in double: a full sum stays accurate in f32 */
            for (int64_t i = 0; i < n; i++) acc += v[i];
            o[0] = (T)(acc * scale);
            break;
        }
        int64_t idx[TG_MAX_DIMS] = {0}, oi = 0;
        const int64_t last = nd ? x->shape[nd - 1] : 1, lo = nd ? os[nd - 1] : 0;
        for (int64_t base = 0; base < n; base += last) {
            if (lo == 0) {
                T acc = 0;
                for (int64_t j = 0; j < last; j++) acc += v[base + j];
                o[oi] += acc;
            } else {
                for (int64_t j = 0; j < last; j++) o[oi + j] += v[base + j];
            }
            for (int d = nd - 2; d >= 0; d--) {
                oi += os[d];
                if (++idx[d] < x->shape[d]) break;
                oi -= os[d] * x->shape[d];
                idx[d] = 0;
            }
        }
        if (scale != 1.0)
            for (int64_t i = 0; i < out->numel; i++) o[i] = (T)(o[i] * scale);
    });
}

typedef struct reduce_attr {
    bool red[TG_MAX_DIMS];
    bool keepdim;
    double scale; /* 1 for sum, 1/count for mean */
} reduce_attr;

/* Parse an axis list into flags; naxes == 0 with axes == NULL means all. */
static bool axes_flags(tg_tape *tp, const char *op, const tg_tensor *x, int naxes, const int *axes,
                       bool *red)
{
    for (int d = 0; d < TG_MAX_DIMS; d++) red[d] = false;
    if (naxes == 0 && !axes) {
        for (int d = 0; d < x->ndim; d++) red[d] = true;
        return true;
    }
    if (naxes < 0 || naxes > x->ndim || (naxes && !axes)) {
        char s[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, TG_ERR_AXIS, "%s: %d axes given for %s", op, naxes,
                     tg_tensor_describe(x, s, sizeof s));
        return false;
    }
    for (int i = 0; i < naxes; i++) {
        int a;
        if (!tg__norm_axis(tp, op, x, axes[i], &a)) return false;
        if (red[a]) {
            tg_tape_fail(tp, TG_ERR_AXIS, "%s: axis %d listed twice", op, axes[i]);
            return false;
        }
        red[a] = true;
    }
    return true;
}

static int reduced_shape(const tg_tensor *x, const bool *red, bool keepdim, int64_t *shape)
{
    int k = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (!red[d]) shape[k++] = x->shape[d];
        else if (keepdim) shape[k++] = 1;
    }
    return k;
}

/* d sum = broadcast of g back over the reduced axes (times scale for mean) */
static tg_status sum_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const reduce_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0);
    int64_t ks[TG_MAX_DIMS];
    int kn = reduced_shape(x, at->red, true, ks);
    tg_tensor *gk = at->keepdim ? g : tg_reshape(tp, g, kn, ks);
    if (at->scale != 1.0) gk = tg_mul_scalar(tp, gk, at->scale);
    gin[0] = tg_broadcast_to(tp, gk, x->ndim, x->shape);
    return TG_OK;
}

static const tg_op k_sum = {"sum", 1, sum_backward};
static const tg_op k_mean = {"mean", 1, sum_backward};

static tg_tensor *reduce_sum(tg_tape *tp, const tg_op *op, tg_tensor *x, int naxes,
                             const int *axes, bool keepdim, bool mean)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, op->name, 1, in)) return NULL;
    reduce_attr at = {.keepdim = keepdim, .scale = 1.0};
    if (!axes_flags(tp, op->name, x, naxes, axes, at.red)) return NULL;
    int64_t shape[TG_MAX_DIMS], count = 1;
    int k = reduced_shape(x, at.red, keepdim, shape);
    for (int d = 0; d < x->ndim; d++)
        if (at.red[d]) count *= x->shape[d];
    if (mean) {
        if (count == 0) {
            char s[TG_SHAPE_BUF + 8];
            tg_tape_fail(tp, TG_ERR_EMPTY, "mean: no elements to average in %s",
                         tg_tensor_describe(x, s, sizeof s));
            return NULL;
        }
        at.scale = 1.0 / (double)count;
    }
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, k, shape);
    if (!out) return NULL;
    sum_kernel(out, x, at.red, at.scale);
    return tg_tape_record(tp, op, 1, in, out, &at, sizeof at, 0, NULL);
}

tg_tensor *tg_sum(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, bool keepdim)
{
    return reduce_sum(tp, &k_sum, x, naxes, axes, keepdim, false);
}

tg_tensor *tg_mean(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, bool keepdim)
{
    return reduce_sum(tp, &k_mean, x, naxes, axes, keepdim, true);
}

tg_tensor *tg_sum_all(tg_tape *tp, tg_tensor *x)
{
    return reduce_sum(tp, &k_sum, x, 0, NULL, false, false);
}

tg_tensor *tg_mean_all(tg_tape *tp, tg_tensor *x)
{
    return reduce_sum(tp, &k_mean, x, 0, NULL, false, true);
}

/* ---- sum_to: the adjoint of broadcast_to --------------------------------- */
/* d sum_to(x, s) = broadcast_to(g, shape of x) */
static tg_status sum_to_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0);
    gin[0] = tg_broadcast_to(tp, g, x->ndim, x->shape);
    return TG_OK;
}
static const tg_op k_sum_to = {"sum_to", 1, sum_to_backward};

tg_tensor *tg_sum_to(tg_tape *tp, tg_tensor *x, int ndim, const int64_t *shape)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_sum_to.name, 1, in)) return NULL;
    bool ok = ndim >= 0 && ndim <= x->ndim && (ndim == 0 || shape);
    for (int i = 0; ok && i < ndim; i++) {
        int64_t e = shape[i], xe = x->shape[x->ndim - ndim + i];
        ok = e == xe || e == 1;
    }
    if (!ok) {
        char s[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_SHAPE, "sum_to: %s does not broadcast from a %d-d target shape",
                     tg__shape_str(x, s, sizeof s), ndim);
        return NULL;
    }
    reduce_attr at = {.keepdim = true, .scale = 1.0};
    for (int d = 0; d < x->ndim; d++) {
        int k = d - (x->ndim - ndim);
        at.red[d] = k < 0 || (shape[k] == 1 && x->shape[d] != 1);
    }
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, ndim, shape);
    if (!out) return NULL;
    sum_kernel(out, x, at.red, 1.0);
    return tg_tape_record(tp, &k_sum_to, 1, in, out, &at, sizeof at, 0, NULL);
}
