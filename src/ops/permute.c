/* permute (and transpose, recorded as a permute): a reordering of axes,
 * whose adjoint and tangent are permutes again, so create_graph and
 * forward mode work through it. */
#include "../core/internal.h"

/* ---- permute: out axis i = x axis perm[i]; d = permute(g, perm^-1) --------
 * perm must list 0..ndim-1 once each (no negative entries); it may be NULL
 * for a 0-d x.  The output is a contiguous copy, not a strided view. */
typedef struct permute_attr {
    int perm[TG_MAX_DIMS];
} permute_attr;

/* The fewest output elements a permute splits among threads (measured:
 * docs/performance.md, "Thread thresholds: permute, concat and gathers"). */
#define TG_PERMUTE_MIN_WORK ((int64_t)1 << 15)

/* Output elements [lo, hi) of the strided copy: walks the output row-major
 * from element lo, reading x with the permuted strides st (the innermost
 * output axis is the inner loop, so the writes stream and the reads stride
 * by st[nd - 1]); with acc it adds to out instead. */
static void permute_piece(tg_tensor *out, const tg_tensor *x, const int64_t *st, bool acc,
                          int64_t lo, int64_t hi)
{
    const int nd = out->ndim;
    const int64_t last = nd ? out->shape[nd - 1] : 1, ls = nd ? st[nd - 1] : 0;
    int64_t idx[TG_MAX_DIMS] = {0}, xi = 0, r = lo;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = r % out->shape[d];
        r /= out->shape[d];
        xi += idx[d] * st[d];
    }
    xi -= nd ? idx[nd - 1] * ls : 0; /* xi: the start of the output row */
    TG_DISPATCH(x->dtype, T, {
        T *restrict o = out->data;
        const T *restrict v = x->data;
        for (int64_t base = lo - (nd ? idx[nd - 1] : 0); base < hi; base += last) {
            const int64_t j0 = base < lo ? lo - base : 0, j1 = hi - base < last ? hi - base : last;
            if (acc)
                for (int64_t j = j0; j < j1; j++) o[base + j] += v[xi + j * ls];
            else
                for (int64_t j = j0; j < j1; j++) o[base + j] = v[xi + j * ls];
            for (int d = nd - 2; d >= 0; d--) {
                xi += st[d];
                if (++idx[d] < out->shape[d]) break;
                xi -= st[d] * out->shape[d];
                idx[d] = 0;
            }
        }
    });
}

/* A generic strided copy, out = x with its axes permuted (added to out
 * with acc).  Every output element is written once from one element of x,
 * so the output goes to threads in pieces of consecutive elements. */
static void permute_kernel(tg_tensor *out, const tg_tensor *x, const int *perm, bool acc)
{
    const int nd = x->ndim;
    const int64_t n = out->numel;
    /* x has n > 0 elements, so the strides, products of its extents, are
     * at most n (with no elements they could overflow) */
    if (n == 0) return;
    int64_t xs[TG_MAX_DIMS], st[TG_MAX_DIMS], s = 1;
    for (int d = nd - 1; d >= 0; d--) {
        xs[d] = s;
        s *= x->shape[d];
    }
    for (int i = 0; i < nd; i++) st[i] = xs[perm[i]];
    const int nt = tg__par_threads(n, TG_PERMUTE_MIN_WORK);
    TG_PAR_RANGES(nt, n, TG_ELEM_GRAIN, lo, hi, permute_piece(out, x, st, acc, lo, hi));
}

static tg_status permute_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const permute_attr *at = tg_node_saved(n);
    int inv[TG_MAX_DIMS];
    for (int i = 0; i < g->ndim; i++) inv[at->perm[i]] = i;
    gin[0] = tg_permute_dims(tp, g, g->ndim, inv);
    return TG_OK;
}
/* direct: d (+)= permute(g, perm^-1) in one strided pass */
static tg_status permute_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const permute_attr *at = tg_node_saved(n);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    int inv[TG_MAX_DIMS];
    for (int i = 0; i < g->ndim; i++) inv[at->perm[i]] = i;
    permute_kernel(d, g, inv, acc);
    return TG_OK;
}
/* tangent: the same permute of x's tangent */
static tg_status permute_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const permute_attr *at = tg_node_saved(n);
    *tout = tg_permute_dims(tp, tin[0], tin[0]->ndim, at->perm);
    return tg_tape_status(tp);
}
/* "perm=(2,0,1)" */
static int permute_attrs(const tg_node *n, char *buf, size_t size)
{
    const permute_attr *at = tg_node_saved(n);
    char s[8 * TG_MAX_DIMS] = "";
    for (int i = 0, k = 0; i < tg_node_input(n, 0)->ndim; i++)
        k += snprintf(s + k, sizeof s - (size_t)k, "%s%d", i ? "," : "", at->perm[i]);
    return snprintf(buf, size, "perm=(%s)", s);
}
static const tg_op k_permute = {.name = "permute",
                                .arity = 1,
                                .backward = permute_backward,
                                .direct = permute_direct,
                                .scalar = tg__scalar_identity,
                                .jvp = permute_jvp,
                                .formula = "dx += permute(g, inverse of perm)",
                                .attrs = permute_attrs};

/* counted false: the deprecated tg_permute, whose perm has no length (x's
 * rank is assumed, nperm unused). */
static tg_tensor *permute_n(tg_tape *tp, tg_tensor *x, bool counted, int nperm, const int *perm)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_permute.name, 1, in)) return NULL;
    char s[TG_SHAPE_BUF];
    const int nd = x->ndim;
    if ((counted ? nperm : nd) > 0 && !perm) {
        tg_tape_fail(tp, TG_ERR_NULL, "permute: %s: perm is NULL", tg__shape_str(x, s, sizeof s));
        return NULL;
    }
    if (counted && nperm != nd) {
        tg_tape_fail(tp, TG_ERR_AXIS,
                     "permute: %s: perm lists %d axes for a %d-d input (each axis once)",
                     tg__shape_str(x, s, sizeof s), nperm, nd);
        return NULL;
    }
    permute_attr at = {{0}};
    bool seen[TG_MAX_DIMS] = {false}, ok = true;
    for (int i = 0; i < nd; i++) {
        ok = ok && perm[i] >= 0 && perm[i] < nd && !seen[perm[i]];
        if (ok) seen[perm[i]] = true;
        at.perm[i] = perm[i];
    }
    if (!ok) {
        char p[8 * TG_MAX_DIMS + 4];
        size_t k = (size_t)snprintf(p, sizeof p, "[");
        for (int i = 0; i < nd && k < sizeof p; i++)
            k += (size_t)snprintf(p + k, sizeof p - k, "%s%d", i ? "," : "", perm[i]);
        if (k < sizeof p) snprintf(p + k, sizeof p - k, "]");
        tg_tape_fail(tp, TG_ERR_AXIS, "permute: %s: perm %s is not a permutation of 0..%d",
                     tg__shape_str(x, s, sizeof s), p, nd - 1);
        return NULL;
    }
    int64_t shape[TG_MAX_DIMS];
    for (int i = 0; i < nd; i++) shape[i] = x->shape[perm[i]];
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, nd, shape);
    if (!out) return NULL;
    permute_kernel(out, x, at.perm, false);
    return tg_tape_record(tp, &k_permute, 1, in, out, &at, sizeof at, 0, NULL);
}

tg_tensor *tg_permute_dims(tg_tape *tp, tg_tensor *x, int nperm, const int *perm)
{
    return permute_n(tp, x, true, nperm, perm);
}

tg_tensor *tg_permute(tg_tape *tp, tg_tensor *x, const int *perm)
{
    return permute_n(tp, x, false, 0, perm);
}

/* transpose = the permute that swaps two axes (recorded as a permute). */
tg_tensor *tg_transpose(tg_tape *tp, tg_tensor *x, int axis0, int axis1)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, "transpose", 1, in)) return NULL;
    int a, b;
    if (x->ndim == 0) { /* PyTorch's convention: axis 0 or -1, a copy */
        const bool ok0 = axis0 == 0 || axis0 == -1, ok1 = axis1 == 0 || axis1 == -1;
        if (ok0 && ok1) return tg_permute_dims(tp, x, 0, NULL);
        (void)tg__norm_axis(tp, "transpose", x, ok0 ? axis1 : axis0, &a); /* fails, naming it */
        return NULL;
    }
    if (!tg__norm_axis(tp, "transpose", x, axis0, &a)) return NULL;
    if (!tg__norm_axis(tp, "transpose", x, axis1, &b)) return NULL;
    int perm[TG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    perm[a] = b;
    perm[b] = a;
    return tg_permute_dims(tp, x, x->ndim, perm);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_permute[] = {&k_permute, NULL};
