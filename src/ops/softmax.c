/* Softmax and log-softmax along one axis, numerically stable: the max along
 * the axis is subtracted before exponentiating, so no exp overflows, and
 * log-softmax is x - max - log sum e^(x - max) (log-sum-exp) rather than
 * the log of a softmax that may have underflowed to 0. */
#include "../core/internal.h"
#include "../core/parallel.h"

/* Columns of the (outer, n, inner) view processed together: the inner loops
 * then run over contiguous memory whatever the axis, with the per-column
 * max and sum kept on the stack. */
#define SM_BLOCK 64
/* Each block of columns of each outer index is computed alone, as on one
 * thread: the blocks are shared among threads above SM_PAR_MIN elements
 * (docs/performance.md, "Thread thresholds: convolution, pooling, ..."). */
#define SM_PAR_MIN ((int64_t)1 << 18)

typedef struct softmax_attr {
    int axis; /* normalised (0 <= axis < ndim) */
} softmax_attr;

/* x seen as (outer, n, inner) with the softmax axis in the middle. */
static void softmax_kernel(tg_tensor *out, const tg_tensor *x, int axis, bool log_out)
{
    int64_t outer = 1, inner = 1;
    const int64_t n = x->shape[axis];
    for (int d = 0; d < axis; d++) outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
    const int64_t nblk = TG_PAR_PIECES(inner, SM_BLOCK);
    const int nt = tg__par_threads(x->numel, SM_PAR_MIN);
    TG_DISPATCH(x->dtype, T, {
        T *restrict o = out->data;
        const T *restrict v = x->data;
        TG_PAR_FOR(nt, outer * nblk, u, {
            const int64_t base = u / nblk * n * inner, i0 = u % nblk * SM_BLOCK;
            T mx[SM_BLOCK];
            double sum[SM_BLOCK]; /* the sum in double keeps long f32 rows accurate */
            {
                const int64_t w = inner - i0 < SM_BLOCK ? inner - i0 : SM_BLOCK;
                const T *xb = v + base + i0;
                T *ob = o + base + i0;
                for (int64_t j = 0; j < w; j++) {
                    mx[j] = xb[j];
                    sum[j] = 0;
                }
                for (int64_t k = 1; k < n; k++)
                    for (int64_t j = 0; j < w; j++)
                        if (xb[k * inner + j] > mx[j]) mx[j] = xb[k * inner + j];
                /* A column of all -inf has max -inf and x - max would be NaN
                 * everywhere; shifting by 0 instead gives e^x = 0 entries and
                 * then 0/0 = NaN for softmax (as PyTorch), -inf + inf = NaN
                 * for log-softmax.  A finite max with some -inf entries gives
                 * exact zeros (softmax) and -inf (log-softmax) there. */
                for (int64_t j = 0; j < w; j++)
                    if (mx[j] == -(T)INFINITY) mx[j] = 0;
                for (int64_t k = 0; k < n; k++)
                    for (int64_t j = 0; j < w; j++) {
                        const T e = TG_EXP(xb[k * inner + j] - mx[j]);
                        sum[j] += e;
                        if (!log_out) ob[k * inner + j] = e;
                    }
                if (log_out) {
                    /* (x - max) - log sum, in that order: x - max is exact near
                     * the max, whereas x - (max + log sum) would lose the low
                     * bits of log sum against a large max (1000 in f32). */
                    T lse[SM_BLOCK];
                    for (int64_t j = 0; j < w; j++) lse[j] = (T)log(sum[j]);
                    for (int64_t k = 0; k < n; k++)
                        for (int64_t j = 0; j < w; j++)
                            ob[k * inner + j] = (xb[k * inner + j] - mx[j]) - lse[j];
                } else {
                    T inv[SM_BLOCK];
                    for (int64_t j = 0; j < w; j++) inv[j] = (T)(1.0 / sum[j]);
                    for (int64_t k = 0; k < n; k++)
                        for (int64_t j = 0; j < w; j++) ob[k * inner + j] *= inv[j];
                }
            }
        });
    });
}

static tg_tensor *softmax_common(tg_tape *tp, const tg_op *op, tg_tensor *x, int axis, bool log_out)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, op->name, 1, in)) return NULL;
    softmax_attr at;
    if (x->ndim == 0 && (axis == 0 || axis == -1)) {
        /* PyTorch's convention: a 0-d tensor takes axis 0 or -1, as a
         * one-element vector (softmax 1, log_softmax 0, gradient 0) */
        tg_tensor *v = tg_reshape(tp, x, 1, (const int64_t[]){1});
        tg_tensor *y = v ? softmax_common(tp, op, v, 0, log_out) : NULL;
        return y ? tg_reshape(tp, y, 0, NULL) : NULL;
    }
    if (!tg__norm_axis(tp, op->name, x, axis, &at.axis)) return NULL;
    if (x->shape[at.axis] == 0) {
        /* A distribution over no classes does not exist. */
        char s[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, TG_ERR_EMPTY, "%s: axis %d of %s has extent 0", op->name, axis,
                     tg_tensor_describe(x, s, sizeof s));
        return NULL;
    }
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, x->ndim, x->shape);
    if (!out) return NULL;
    if (out->numel) softmax_kernel(out, x, at.axis, log_out);
    return tg_tape_record(tp, op, 1, in, out, &at, sizeof at, 0, NULL);
}

/* y = softmax(x):  dy_i/dx_j = y_i (d_ij - y_j), so
 * dx = J^T g = y * (g - sum(g * y, axis, keepdim)).  Written with ops on the
 * node's output y, so a second derivative differentiates through y again. */
static tg_status softmax_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const softmax_attr *at = tg_node_saved(n);
    tg_tensor *y = tg_node_output(n);
    tg_tensor *s = tg_sum(tp, tg_mul(tp, g, y), 1, &at->axis, true);
    gin[0] = tg_mul(tp, y, tg_sub(tp, g, s));
    return TG_OK;
}
/* Direct rules of softmax and log-softmax, per block of columns of the
 * (outer, n, inner) view as the forward does, with no temporaries:
 *   softmax:      s = sum(g y),  dx (+)= y (g - s)
 *   log-softmax:  s = sum(g),    dx (+)= g - e^y s
 * the op-built rules' arithmetic in the same order (the sum along the axis
 * in T, in double when it is the whole tensor, as the sum op does). */
/* d (+)= E over one block of columns (q the element, j its column) */
#define SM_D(E)                                                                                    \
    do {                                                                                           \
        if (acc)                                                                                   \
            for (int64_t k = 0; k < n; k++)                                                        \
                for (int64_t j = 0; j < w; j++) {                                                  \
                    const int64_t q = k * inner + j;                                               \
                    db[q] += (E);                                                                  \
                }                                                                                  \
        else                                                                                       \
            for (int64_t k = 0; k < n; k++)                                                        \
                for (int64_t j = 0; j < w; j++) {                                                  \
                    const int64_t q = k * inner + j;                                               \
                    db[q] = (E);                                                                   \
                }                                                                                  \
    } while (0)

static void softmax_direct_kernel(tg_tensor *d, bool acc, const tg_tensor *g, const tg_tensor *y,
                                  int axis, bool log_out)
{
    int64_t outer = 1, inner = 1;
    const int64_t n = y->shape[axis];
    for (int a = 0; a < axis; a++) outer *= y->shape[a];
    for (int a = axis + 1; a < y->ndim; a++) inner *= y->shape[a];
    const bool whole = outer == 1 && inner == 1;
    const int64_t nblk = TG_PAR_PIECES(inner, SM_BLOCK);
    const int nt = tg__par_threads(y->numel, SM_PAR_MIN);
    TG_DISPATCH(y->dtype, T, {
        T *restrict dd = d->data;
        const T *restrict gg = g->data, *restrict yy = y->data;
        TG_PAR_FOR(nt, outer * nblk, u, {
            const int64_t base = u / nblk * n * inner, i0 = u % nblk * SM_BLOCK;
            T s[SM_BLOCK];
            {
                const int64_t w = inner - i0 < SM_BLOCK ? inner - i0 : SM_BLOCK;
                const T *gb = gg + base + i0, *yb = yy + base + i0;
                T *db = dd + base + i0;
                if (whole) {
                    double a = 0;
                    for (int64_t k = 0; k < n; k++) a += log_out ? gb[k] : gb[k] * yb[k];
                    s[0] = (T)a;
                } else {
                    for (int64_t j = 0; j < w; j++) s[j] = 0;
                    if (log_out)
                        for (int64_t k = 0; k < n; k++)
                            for (int64_t j = 0; j < w; j++) s[j] += gb[k * inner + j];
                    else
                        for (int64_t k = 0; k < n; k++)
                            for (int64_t j = 0; j < w; j++)
                                s[j] += gb[k * inner + j] * yb[k * inner + j];
                }
                if (log_out)
                    SM_D(gb[q] - TG_EXP(yb[q]) * s[j]);
                else
                    SM_D(yb[q] * (gb[q] - s[j]));
            }
        });
    });
}

static tg_status softmax_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    const softmax_attr *at = tg_node_saved(n);
    if (d->numel) softmax_direct_kernel(d, acc, g, n->out, at->axis, false);
    return TG_OK;
}
static tg_status log_softmax_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g,
                                    tg_grad_sink *k)
{
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    const softmax_attr *at = tg_node_saved(n);
    if (d->numel) softmax_direct_kernel(d, acc, g, n->out, at->axis, true);
    return TG_OK;
}
/* tangent: J t with J = diag(y) - y y^T symmetric, so J t = J^T t, the
 * backward rule with t for g: y * (t - sum(t * y, axis, keepdim)) */
static tg_status softmax_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    tg_tensor *gin[1] = {NULL};
    const tg_status st = softmax_backward(tp, n, tin[0], gin);
    *tout = gin[0];
    return st;
}
static int softmax_attrs(const tg_node *n, char *buf, size_t size)
{
    return snprintf(buf, size, "axis=%d", ((const softmax_attr *)tg_node_saved(n))->axis);
}
static const tg_op k_softmax = {.name = "softmax",
                                .arity = 1,
                                .backward = softmax_backward,
                                .direct = softmax_direct,
                                .scalar = NULL,
                                .jvp = softmax_jvp,
                                .formula = "dx += y * (g - sum(g * y, axis, keepdim))",
                                .attrs = softmax_attrs};

tg_tensor *tg_softmax(tg_tape *tp, tg_tensor *x, int axis)
{
    return softmax_common(tp, &k_softmax, x, axis, false);
}

/* y = log_softmax(x):  dy_i/dx_j = d_ij - softmax_j = d_ij - e^(y_j), so
 * dx = g - e^y * sum(g, axis, keepdim). */
static tg_status log_softmax_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const softmax_attr *at = tg_node_saved(n);
    tg_tensor *y = tg_node_output(n);
    tg_tensor *s = tg_sum(tp, g, 1, &at->axis, true);
    gin[0] = tg_sub(tp, g, tg_mul(tp, tg_exp(tp, y), s));
    return TG_OK;
}
/* tangent: J t = t - sum(e^y * t, axis, keepdim) (J = I - 1 softmax^T) */
static tg_status log_softmax_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                                 tg_tensor **tout)
{
    const softmax_attr *at = tg_node_saved(n);
    tg_tensor *p = tg_exp(tp, tg_node_output(n));
    *tout = tg_sub(tp, tin[0], tg_sum(tp, tg_mul(tp, p, tin[0]), 1, &at->axis, true));
    return tg_tape_status(tp);
}
static const tg_op k_log_softmax = {.name = "log_softmax",
                                    .arity = 1,
                                    .backward = log_softmax_backward,
                                    .direct = log_softmax_direct,
                                    .scalar = NULL,
                                    .jvp = log_softmax_jvp,
                                    .formula = "dx += g - e^y * sum(g, axis, keepdim)",
                                    .attrs = softmax_attrs};

tg_tensor *tg_log_softmax(tg_tape *tp, tg_tensor *x, int axis)
{
    return softmax_common(tp, &k_log_softmax, x, axis, true);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_softmax[] = {&k_softmax, &k_log_softmax, NULL};
