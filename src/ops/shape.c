/* Shape ops: reshape, broadcast_to, permute/transpose, slice and its adjoint
 * embed, concat.  Each op's adjoint is another shape op, so create_graph
 * works through all of them. */
#include "../core/internal.h"

/* ---- reshape: same data, new shape; d = reshape(g, shape of x) ----------- */
static tg_status reshape_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0);
    gin[0] = tg_reshape(tp, g, x->ndim, x->shape);
    return TG_OK;
}
static const tg_op k_reshape = {"reshape", 1, reshape_backward};

tg_tensor *tg_reshape(tg_tape *tp, tg_tensor *x, int ndim, const int64_t *shape)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_reshape.name, 1, in)) return NULL;
    char s[TG_SHAPE_BUF];
    if (ndim < 0 || ndim > TG_MAX_DIMS || (ndim && !shape)) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "reshape: %s to a %d-d shape: bad target",
                     tg__shape_str(x, s, sizeof s), ndim);
        return NULL;
    }
    int64_t sh[TG_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        sh[i] = shape[i];
        if (shape[i] == -1 && infer < 0) {
            infer = i;
        } else if (shape[i] < 0) {
            tg_tape_fail(tp, TG_ERR_SHAPE, "reshape: %s: extent %lld of axis %d is invalid",
                         tg__shape_str(x, s, sizeof s), (long long)shape[i], i);
            return NULL;
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0) {
        if (known == 0 || x->numel % known) {
            tg_tape_fail(tp, TG_ERR_SHAPE, "reshape: cannot infer axis %d of %s from %lld elements",
                         infer, tg__shape_str(x, s, sizeof s), (long long)x->numel);
            return NULL;
        }
        sh[infer] = x->numel / known;
        known *= sh[infer];
    }
    if (known != x->numel) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "reshape: %s has %lld elements, the target shape %lld",
                     tg__shape_str(x, s, sizeof s), (long long)x->numel, (long long)known);
        return NULL;
    }
    tg_tensor *out = tg__tape_alloc_view(tp, x, ndim, sh);
    if (!out) return NULL;
    return tg_tape_record(tp, &k_reshape, 1, in, out, NULL, 0, 0, NULL);
}

/* ---- broadcast_to: d = sum_to(g, shape of x) ------------------------------ */
static tg_status broadcast_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0);
    gin[0] = tg_sum_to(tp, g, x->ndim, x->shape);
    return TG_OK;
}
static const tg_op k_broadcast_to = {"broadcast_to", 1, broadcast_backward};

tg_tensor *tg_broadcast_to(tg_tape *tp, tg_tensor *x, int ndim, const int64_t *shape)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_broadcast_to.name, 1, in)) return NULL;
    bool ok = ndim >= x->ndim && ndim <= TG_MAX_DIMS && (ndim == 0 || shape);
    for (int i = 0; ok && i < x->ndim; i++) {
        int64_t e = x->shape[i], t = shape[ndim - x->ndim + i];
        ok = e == t || e == 1;
    }
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] >= 0;
    if (!ok) {
        char s[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_SHAPE, "broadcast_to: %s does not broadcast to the %d-d target",
                     tg__shape_str(x, s, sizeof s), ndim);
        return NULL;
    }
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, ndim, shape);
    if (!out) return NULL;
    int64_t st[TG_MAX_DIMS], idx[TG_MAX_DIMS] = {0};
    tg__broadcast_strides(x->ndim, x->shape, ndim, shape, st);
    const int64_t n = out->numel;
    const int64_t last = ndim ? shape[ndim - 1] : 1, ls = ndim ? st[ndim - 1] : 0;
    TG_DISPATCH(x->dtype, T, {
        T *restrict o = out->data;
        const T *restrict v = x->data;
        int64_t xi = 0;
        for (int64_t base = 0; base < n; base += last) {
            for (int64_t j = 0; j < last; j++) o[base + j] = v[xi + j * ls];
            for (int d = ndim - 2; d >= 0; d--) {
                xi += st[d];
                if (++idx[d] < shape[d]) break;
                xi -= st[d] * shape[d];
                idx[d] = 0;
            }
        }
    });
    return tg_tape_record(tp, &k_broadcast_to, 1, in, out, NULL, 0, 0, NULL);
}
