/* Shape ops: reshape, broadcast_to, slice and its adjoint embed, concat
 * (permute and transpose: ops/permute.c).  Each op's adjoint is another
 * shape op and its tangent the op itself (they are linear), so create_graph
 * and forward mode work through all of them. */
#include "../core/internal.h"

/* Direct rules hand over a gradient that is a contiguous block of g without a
 * copy: a view of g's data from element off, with the shape of input i. */
static tg_status view_add(tg_tape *tp, const tg_node *n, tg_grad_sink *k, int i, const tg_tensor *g,
                          int64_t off)
{
    const tg_tensor *x = n->in[i];
    if (!tg_node_needs_grad(n, i)) return TG_OK;
    if (off == 0 && tg_tensor_same_shape(g, x)) return tg_grad_sink_add(k, i, g);
    tg_tensor *v = tg__tape_alloc_view(tp, g, x->ndim, x->shape);
    if (!v) return tg_tape_status(tp);
    v->data = (unsigned char *)g->data + (size_t)off * tg_dtype_size(g->dtype);
    return tg_grad_sink_add(k, i, v);
}

/* ---- reshape: same data, new shape; d = reshape(g, shape of x) ----------- */
static tg_status reshape_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0);
    gin[0] = tg_reshape(tp, g, x->ndim, x->shape);
    return TG_OK;
}
/* direct: g itself, seen with x's shape */
static tg_status reshape_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    return view_add(tp, n, k, 0, g, 0);
}
/* tangent: x's tangent reshaped like y */
static tg_status reshape_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const tg_tensor *y = tg_node_output(n);
    *tout = tg_reshape(tp, tin[0], y->ndim, y->shape);
    return tg_tape_status(tp);
}
static const tg_op k_reshape = {.name = "reshape",
                                .arity = 1,
                                .backward = reshape_backward,
                                .direct = reshape_direct,
                                .scalar = tg__scalar_identity,
                                .jvp = reshape_jvp,
                                .formula = "dx += reshape(g, x.shape)"};

tg_tensor *tg_reshape(tg_tape *tp, tg_tensor *x, int ndim, const int64_t *shape)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_reshape.name, 1, in)) return NULL;
    if (ndim > 0 && !shape) {
        char sx[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_NULL, "%s: %s: target shape is NULL", k_reshape.name,
                     tg__shape_str(x, sx, sizeof sx));
        return NULL;
    }
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
            sh[i] = 1; /* the product of the others, below */
        } else if (shape[i] < 0) {
            tg_tape_fail(tp, TG_ERR_SHAPE, "reshape: %s: extent %lld of axis %d is invalid",
                         tg__shape_str(x, s, sizeof s), (long long)shape[i], i);
            return NULL;
        }
    }
    /* the rule of tensor shapes (tg__extents_product): the product of the
     * non-zero extents is bounded even when one extent is 0, so no shape
     * with such extents is made from a tensor with no elements */
    if (!tg__extents_product(ndim, sh, TG_NUMEL_MAX, &known)) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "reshape: %s: the target shape overflows",
                     tg__shape_str(x, s, sizeof s));
        return NULL;
    }
    if (infer >= 0) {
        if (known == 0 || x->numel % known) {
            char t[TG_SHAPE_BUF];
            tg_tape_fail(tp, TG_ERR_SHAPE,
                         "reshape: %s (%lld elements) to %s: cannot infer axis %d",
                         tg__shape_str(x, s, sizeof s), (long long)x->numel,
                         tg__dims_str(ndim, shape, t, sizeof t), infer);
            return NULL;
        }
        sh[infer] = x->numel / known;
        known *= sh[infer]; /* x->numel: no overflow */
    }
    if (known != x->numel) {
        char t[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_SHAPE, "reshape: %s (%lld elements) to %s (%lld elements)",
                     tg__shape_str(x, s, sizeof s), (long long)x->numel,
                     tg__dims_str(ndim, shape, t, sizeof t), (long long)known);
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
/* direct: g itself when nothing was repeated (only leading or unit axes
 * added), else sum_to computed unrecorded (a tensor of x's size, adopted as
 * the gradient or added to it: the op-built rule's arithmetic) */
static tg_status broadcast_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g,
                                  tg_grad_sink *k)
{
    const tg_tensor *x = n->in[0];
    if (g->numel == x->numel) return view_add(tp, n, k, 0, g, 0);
    if (!tg_node_needs_grad(n, 0)) return TG_OK;
    tg_tensor *s = tg_sum_to(tp, (tg_tensor *)g, x->ndim, x->shape);
    return s ? tg_grad_sink_add(k, 0, s) : tg_tape_status(tp);
}
/* tangent: x's tangent broadcast like y */
static tg_status broadcast_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                               tg_tensor **tout)
{
    const tg_tensor *y = tg_node_output(n);
    *tout = tg_broadcast_to(tp, tin[0], y->ndim, y->shape);
    return tg_tape_status(tp);
}
static const tg_op k_broadcast_to = {.name = "broadcast_to",
                                     .arity = 1,
                                     .backward = broadcast_backward,
                                     .direct = broadcast_direct,
                                     .scalar = tg__scalar_identity,
                                     .jvp = broadcast_jvp,
                                     .formula = "dx += sum_to(g, x.shape)"};

tg_tensor *tg_broadcast_to(tg_tape *tp, tg_tensor *x, int ndim, const int64_t *shape)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_broadcast_to.name, 1, in)) return NULL;
    if (ndim > 0 && !shape) {
        char sx[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_NULL, "%s: %s: target shape is NULL", k_broadcast_to.name,
                     tg__shape_str(x, sx, sizeof sx));
        return NULL;
    }
    bool ok = ndim >= x->ndim && ndim <= TG_MAX_DIMS && (ndim == 0 || shape);
    for (int i = 0; ok && i < x->ndim; i++) {
        int64_t e = x->shape[i], t = shape[ndim - x->ndim + i];
        ok = e == t || e == 1;
    }
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] >= 0;
    if (!ok) {
        char s[TG_SHAPE_BUF], t[TG_SHAPE_BUF];
        if (ndim >= 0 && ndim <= TG_MAX_DIMS && (ndim == 0 || shape))
            tg__dims_str(ndim, shape, t, sizeof t);
        else
            snprintf(t, sizeof t, "a %d-d shape%s", ndim, shape ? "" : " (NULL)");
        tg_tape_fail(tp, TG_ERR_SHAPE, "broadcast_to: %s does not broadcast to %s",
                     tg__shape_str(x, s, sizeof s), t);
        return NULL;
    }
    int64_t n;
    if (!tg__extents_product(ndim, shape, TG_NUMEL_MAX, &n)) {
        char s[TG_SHAPE_BUF], t[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "broadcast_to: %s to %s: the result has more than %lld elements",
                     tg__shape_str(x, s, sizeof s), tg__dims_str(ndim, shape, t, sizeof t),
                     (long long)TG_NUMEL_MAX);
        return NULL;
    }
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, ndim, shape);
    if (!out) return NULL;
    int64_t st[TG_MAX_DIMS], idx[TG_MAX_DIMS] = {0};
    tg__broadcast_strides(x->ndim, x->shape, ndim, shape, st);
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

/* Extents before / after axis of a row-major shape: the op then works on an
 * (outer, extent, inner) view of contiguous data.  The product is checked
 * (tg__extents_product): it is within TG_NUMEL_MAX for a tensor's shape;
 * should a tensor with no elements carry extents whose product is not, 0
 * is returned, an extent with which the ops copy nothing. */
static int64_t prod_range(const int64_t *shape, int from, int to)
{
    int64_t p;
    return tg__extents_product(to - from, shape + from, TG_NUMEL_MAX, &p) ? p : 0;
}
static int64_t prod_before(const int64_t *shape, int axis)
{
    return prod_range(shape, 0, axis);
}
static int64_t prod_after(int ndim, const int64_t *shape, int axis)
{
    return prod_range(shape, axis + 1, ndim);
}

/* ---- slice: out[.., k, ..] = x[.., start + k step, ..] ---------------------
 * d = embed(g, shape of x, axis, start, step): g scattered back into zeros. */
typedef struct slice_attr {
    int axis;
    int64_t start, step; /* start normalised to [0, extent] */
} slice_attr;

/* The sliced positions of a (outer, ext, inner) tensor `full` as rows: for
 * each outer index, `rows` rows of `len` elements, row k starting at element
 * (start + k step) inner of that outer block.  With step 1 the m positions
 * are one row of m * inner contiguous elements. */
typedef struct slice_rows {
    int64_t outer, ext, inner, m, rows, len, pitch; /* pitch: between rows */
} slice_rows;
static slice_rows rows_of(const tg_tensor *full, const tg_tensor *part, int axis, int64_t step)
{
    slice_rows r = {.outer = prod_before(full->shape, axis),
                    .ext = full->shape[axis],
                    .inner = prod_after(full->ndim, full->shape, axis),
                    .m = part->shape[axis]};
    const bool merge = step == 1 && r.m > 0;
    r.rows = merge ? 1 : r.m;
    r.len = merge ? r.m * r.inner : r.inner;
    /* with m > 1 the positions fit the extent, (m - 1) step < ext, so the
     * pitch is within the tensor; with m <= 1 it is never used, and a huge
     * step would overflow it */
    r.pitch = r.m > 1 ? step * r.inner : 0;
    return r;
}

/* One row of len elements between fr (in the full tensor) and pr (in the
 * part), in the direction and mode strided_axis_copy was asked for. */
#define AXIS_ROW(fr, pr, len, to_part, acc)                                                        \
    do {                                                                                           \
        if ((to_part) && (acc))                                                                    \
            for (int64_t ar_j = 0; ar_j < (len); ar_j++) (pr)[ar_j] += (fr)[ar_j];                 \
        else if (to_part)                                                                          \
            for (int64_t ar_j = 0; ar_j < (len); ar_j++) (pr)[ar_j] = (fr)[ar_j];                  \
        else if (acc)                                                                              \
            for (int64_t ar_j = 0; ar_j < (len); ar_j++) (fr)[ar_j] += (pr)[ar_j];                 \
        else                                                                                       \
            for (int64_t ar_j = 0; ar_j < (len); ar_j++) (fr)[ar_j] = (pr)[ar_j];                  \
    } while (0)

/* Copies between the sliced axis positions of a (outer, ext, inner) tensor
 * `full` and the (outer, m, inner) tensor `part`, in either direction; with
 * acc, adds instead (into full or part).  Every element is written once
 * from one source element, so the rows can go to threads in any split: a
 * single row (a contiguous slice) is cut into pieces, several rows go to
 * threads whole. */
static void strided_axis_copy(tg_tensor *full, tg_tensor *part, int axis, int64_t start,
                              int64_t step, bool to_part, bool acc)
{
    const slice_rows r = rows_of(full, part, axis, step);
    if (part->numel == 0) return;
    const int64_t nrows = r.outer * r.rows; /* at most part's elements */
    const int nt = tg__par_threads(part->numel, TG_ELEM_MIN_WORK);
    TG_DISPATCH(full->dtype, T, {
        T *f = full->data;
        T *p = part->data;
        if (nrows == 1) {
            T *restrict fr = f + start * r.inner;
            T *restrict pr = p;
            TG_PAR_RANGES(nt, r.len, TG_ELEM_GRAIN, lo, hi,
                          AXIS_ROW(fr + lo, pr + lo, hi - lo, to_part, acc));
        } else {
            TG_PAR_FOR(nt, nrows, q, const int64_t o = q / r.rows, k = q % r.rows;
                       T *restrict fr = f + (o * r.ext + start) * r.inner + k * r.pitch;
                       T *restrict pr = p + o * r.m * r.inner + k * r.len;
                       AXIS_ROW(fr, pr, r.len, to_part, acc););
        }
    });
}

/* full = embed(part): part at the sliced positions, zeros elsewhere, each
 * element written once. */
static void embed_store(tg_tensor *full, const tg_tensor *part, int axis, int64_t start,
                        int64_t step)
{
    const slice_rows r = rows_of(full, part, axis, step);
    const int64_t block = r.ext * r.inner;
    /* nothing to store; outer alone may be as large as 2^59 */
    if (full->numel == 0) return;
    TG_DISPATCH(full->dtype, T, {
        T *restrict f = full->data;
        const T *restrict p = part->data;
        for (int64_t o = 0; o < r.outer; o++) {
            T *restrict fo = f + o * block;
            const T *restrict po = p + o * r.m * r.inner;
            int64_t pos = 0; /* elements of fo written so far */
            for (int64_t k = 0; k < r.rows; k++) {
                const int64_t at = start * r.inner + k * r.pitch;
                for (; pos < at; pos++) fo[pos] = 0;
                const T *restrict pr = po + k * r.len;
                TG_STORE_LOOP(T, fo + at, r.len, j, v, v = pr[j]);
                pos = at + r.len;
            }
            for (; pos < block; pos++) fo[pos] = 0;
        }
    });
}

static tg_status slice_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const slice_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0);
    gin[0] = tg_embed(tp, g, x->ndim, x->shape, at->axis, at->start, at->step);
    return TG_OK;
}
/* direct: g added into the slice region of d; stored, with zeros elsewhere,
 * when d is fresh */
static tg_status slice_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const slice_attr *at = tg_node_saved(n);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    if (acc)
        strided_axis_copy(d, (tg_tensor *)g, at->axis, at->start, at->step, false, true);
    else
        embed_store(d, g, at->axis, at->start, at->step);
    return TG_OK;
}
/* The stop of m positions from start by step (start itself when m = 0). */
static int64_t slice_stop(const slice_attr *at, int64_t m)
{
    return m ? at->start + (m - 1) * at->step + 1 : at->start;
}
/* tangent: the same slice of x's tangent */
static tg_status slice_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const slice_attr *at = tg_node_saved(n);
    const int64_t m = tg_node_output(n)->shape[at->axis];
    *tout = tg_slice(tp, tin[0], at->axis, at->start, slice_stop(at, m), at->step);
    return tg_tape_status(tp);
}
/* "axis=2, start=1, stop=4, step=2" (the stop just past the last position
 * taken, the one of the shortest equivalent slice) */
static int slice_attrs(const tg_node *n, char *buf, size_t size)
{
    const slice_attr *at = tg_node_saved(n);
    const int64_t m = tg_node_output(n)->shape[at->axis];
    return snprintf(buf, size, "axis=%d, start=%lld, stop=%lld, step=%lld", at->axis,
                    (long long)at->start, (long long)slice_stop(at, m), (long long)at->step);
}
static const tg_op k_slice = {.name = "slice",
                              .arity = 1,
                              .backward = slice_backward,
                              .direct = slice_direct,
                              .scalar = NULL,
                              .jvp = slice_jvp,
                              .formula = "dx += embed(g, x.shape, axis, start, step)  (zeros "
                                         "off the slice)",
                              .attrs = slice_attrs};

/* Python's rule for one bound: negative counts from the end, then clamp to
 * [0, extent]. */
static int64_t slice_bound(int64_t b, int64_t ext)
{
    if (b < 0) {
        b += ext; /* no overflow: b < 0 <= ext */
        return b < 0 ? 0 : b;
    }
    return b > ext ? ext : b;
}

tg_tensor *tg_slice(tg_tape *tp, tg_tensor *x, int axis, int64_t start, int64_t stop, int64_t step)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_slice.name, 1, in)) return NULL;
    slice_attr at = {.step = step};
    if (!tg__norm_axis(tp, k_slice.name, x, axis, &at.axis)) return NULL;
    char s[TG_SHAPE_BUF];
    if (step < 1) {
        tg_tape_fail(tp, TG_ERR_ARG, "slice: %s axis %d: step %lld must be >= 1",
                     tg__shape_str(x, s, sizeof s), axis, (long long)step);
        return NULL;
    }
    const int64_t ext = x->shape[at.axis];
    at.start = slice_bound(start, ext);
    const int64_t end = slice_bound(stop, ext);
    /* ceil((end - start) / step) without overflow for a huge step */
    const int64_t m = end > at.start ? (end - at.start - 1) / step + 1 : 0;
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, x->shape, (size_t)x->ndim * sizeof *shape);
    shape[at.axis] = m;
    /* a contiguous block of x: a view (ops never write their inputs) */
    const bool contig = prod_before(x->shape, at.axis) == 1 && (step == 1 || m <= 1);
    tg_tensor *out = contig ? tg__tape_alloc_view(tp, x, x->ndim, shape)
                            : tg_tape_alloc(tp, x->dtype, x->ndim, shape);
    if (!out) return NULL;
    if (contig)
        out->data =
            (unsigned char *)x->data +
            (size_t)(at.start * prod_after(x->ndim, x->shape, at.axis)) * tg_dtype_size(x->dtype);
    else
        strided_axis_copy(x, out, at.axis, at.start, step, true, false);
    return tg_tape_record(tp, &k_slice, 1, in, out, &at, sizeof at, 0, NULL);
}

/* ---- embed: zeros of shape with x at start, start + step, ... along axis ---
 * d = slice(g, axis, start, start + (m-1) step + 1, step), m = x's extent. */
static tg_status embed_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const slice_attr *at = tg_node_saved(n);
    const int64_t m = tg_node_input(n, 0)->shape[at->axis];
    gin[0] = tg_slice(tp, g, at->axis, at->start, slice_stop(at, m), at->step);
    return TG_OK;
}
/* direct: the slice of g at x's positions: a view when they are contiguous
 * in g, else copied (added) into d in one pass */
static tg_status embed_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const slice_attr *at = tg_node_saved(n);
    const tg_tensor *x = n->in[0];
    const slice_rows r = rows_of(g, x, at->axis, at->step);
    if (r.outer == 1 && r.rows <= 1) return view_add(tp, n, k, 0, g, at->start * r.inner);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    strided_axis_copy((tg_tensor *)g, d, at->axis, at->start, at->step, true, acc);
    return TG_OK;
}
/* tangent: x's tangent embedded the same way */
static tg_status embed_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const slice_attr *at = tg_node_saved(n);
    const tg_tensor *y = tg_node_output(n);
    *tout = tg_embed(tp, tin[0], y->ndim, y->shape, at->axis, at->start, at->step);
    return tg_tape_status(tp);
}
/* "axis=2, start=1, step=2" */
static int embed_attrs(const tg_node *n, char *buf, size_t size)
{
    const slice_attr *at = tg_node_saved(n);
    return snprintf(buf, size, "axis=%d, start=%lld, step=%lld", at->axis, (long long)at->start,
                    (long long)at->step);
}
static const tg_op k_embed = {.name = "embed",
                              .arity = 1,
                              .backward = embed_backward,
                              .direct = embed_direct,
                              .scalar = NULL,
                              .jvp = embed_jvp,
                              .formula = "dx += slice(g, axis, start, stop, step)  (x's positions)",
                              .attrs = embed_attrs};

tg_tensor *tg_embed(tg_tape *tp, tg_tensor *x, int ndim, const int64_t *shape, int axis,
                    int64_t start, int64_t step)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_embed.name, 1, in)) return NULL;
    char s[TG_SHAPE_BUF], t[TG_SHAPE_BUF];
    tg__shape_str(x, s, sizeof s);
    if (ndim && !shape) {
        tg_tape_fail(tp, TG_ERR_NULL, "embed: %s: target shape is NULL", s);
        return NULL;
    }
    if (ndim != x->ndim) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "embed: %s into a %d-d shape: the ranks differ", s, ndim);
        return NULL;
    }
    slice_attr at = {.start = start, .step = step};
    if (!tg__norm_axis(tp, k_embed.name, x, axis, &at.axis)) return NULL;
    tg__dims_str(ndim, shape, t, sizeof t);
    bool ok = true;
    for (int d = 0; d < ndim; d++)
        ok = ok && shape[d] >= 0 && (d == at.axis || shape[d] == x->shape[d]);
    if (!ok) {
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "embed: %s into %s: extents must be non-negative and equal off axis %d", s, t,
                     axis);
        return NULL;
    }
    if (step < 1) {
        tg_tape_fail(tp, TG_ERR_ARG, "embed: %s into %s axis %d: step %lld must be >= 1", s, t,
                     axis, (long long)step);
        return NULL;
    }
    int64_t numel;
    if (!tg__extents_product(ndim, shape, TG_NUMEL_MAX, &numel)) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "embed: %s into %s: the target has more than %lld elements",
                     s, t, (long long)TG_NUMEL_MAX);
        return NULL;
    }
    /* x's m positions start, ..., start + (m-1) step must lie in [0, ext);
     * with m = 0 any start in [0, ext] is fine (an empty slice's start). */
    const int64_t ext = shape[at.axis], m = x->shape[at.axis];
    if (start < 0 || start > ext ||
        (m > 0 && (start == ext || (m - 1) > (ext - 1 - start) / step))) {
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "embed: %s into %s axis %d: %lld positions from %lld step %lld do not fit "
                     "in extent %lld",
                     s, t, axis, (long long)m, (long long)start, (long long)step, (long long)ext);
        return NULL;
    }
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, ndim, shape);
    if (!out) return NULL;
    embed_store(out, x, at.axis, start, step);
    return tg_tape_record(tp, &k_embed, 1, in, out, &at, sizeof at, 0, NULL);
}

/* ---- concat along axis; d x_i = slice(g, axis, off_i, off_i + n_i, 1) ----- */
typedef struct concat_attr {
    int axis;
} concat_attr;

static tg_status concat_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const concat_attr *at = tg_node_saved(n);
    int64_t off = 0;
    for (int i = 0; i < tg_node_num_inputs(n); i++) {
        const int64_t len = tg_node_input(n, i)->shape[at->axis];
        if (tg_node_needs_grad(n, i)) gin[i] = tg_slice(tp, g, at->axis, off, off + len, 1);
        off += len;
    }
    return TG_OK;
}
/* direct: input i's block of g, a view when contiguous (concat along the
 * first non-unit axis), else copied (added) out of g's rows, as a slice's
 * gradient is */
static tg_status concat_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const concat_attr *at = tg_node_saved(n);
    const int ax = at->axis;
    const int64_t outer = prod_before(g->shape, ax), inner = prod_after(g->ndim, g->shape, ax);
    int64_t start = 0; /* input i's first position along the axis of g */
    for (int i = 0; i < n->n_in && tg__tape_ok(tp); i++) {
        if (outer == 1) {
            view_add(tp, n, k, i, g, start * inner);
        } else {
            bool acc;
            tg_tensor *d = tg_grad_sink_buffer(k, i, &acc);
            if (d) strided_axis_copy((tg_tensor *)g, d, ax, start, 1, true, acc);
        }
        start += n->in[i]->shape[ax];
    }
    return tg_tape_status(tp);
}
/* tangent: the concat of the inputs' tangents, zeros for an input without */
static tg_status concat_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const concat_attr *at = tg_node_saved(n);
    const int k = tg_node_num_inputs(n);
    tg_tensor *small[8], **ts = small;
    if (k > TG_ARRAY_LEN(small) && !(ts = tg__tape_scratch(tp, (size_t)k * sizeof *ts)))
        return tg_tape_status(tp);
    for (int i = 0; i < k; i++) {
        const tg_tensor *x = tg_node_input(n, i);
        ts[i] = tin[i] ? tin[i] : tg__const_full(tp, x->dtype, x->ndim, x->shape, 0.0);
        if (!ts[i]) return tg_tape_status(tp);
    }
    *tout = tg_concat(tp, k, ts, at->axis);
    return tg_tape_status(tp);
}
static int concat_attrs(const tg_node *n, char *buf, size_t size)
{
    const concat_attr *at = tg_node_saved(n);
    return snprintf(buf, size, "axis=%d", at->axis);
}
static const tg_op k_concat = {.name = "concat",
                               .arity = -1,
                               .backward = concat_backward,
                               .direct = concat_direct,
                               .scalar = NULL,
                               .jvp = concat_jvp,
                               .formula = "dx_i += slice(g, axis, off_i, off_i + n_i)  (x_i's "
                                          "block of g)",
                               .attrs = concat_attrs};

tg_tensor *tg_concat(tg_tape *tp, int n, tg_tensor *const *xs, int axis)
{
    if (!tg_tape_check_inputs(tp, k_concat.name, 0, NULL)) return NULL; /* the tape */
    if (n < 1) {
        tg_tape_fail(tp, TG_ERR_ARG, "concat: %d inputs; at least one is needed", n);
        return NULL;
    }
    if (!tg_tape_check_inputs(tp, k_concat.name, n, xs)) return NULL;
    const tg_tensor *x0 = xs[0];
    concat_attr at;
    if (!tg__norm_axis(tp, k_concat.name, x0, axis, &at.axis)) return NULL;
    const int nd = x0->ndim, ax = at.axis;
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, x0->shape, (size_t)nd * sizeof *shape);
    for (int i = 1; i < n; i++) {
        const tg_tensor *x = xs[i];
        if (!tg__same_dtype(tp, k_concat.name, x0, x)) return NULL;
        bool ok = x->ndim == nd;
        for (int d = 0; ok && d < nd; d++) ok = d == ax || x->shape[d] == x0->shape[d];
        if (!ok) {
            char a[TG_SHAPE_BUF], b[TG_SHAPE_BUF];
            tg_tape_fail(tp, TG_ERR_SHAPE,
                         "concat: input %d %s does not match input 0 %s off axis %d", i,
                         tg__shape_str(x, a, sizeof a), tg__shape_str(x0, b, sizeof b), axis);
            return NULL;
        }
        int64_t numel;
        if (!tg__add_i64(shape[ax], x->shape[ax], &shape[ax]) ||
            !tg__extents_product(nd, shape, TG_NUMEL_MAX, &numel)) {
            char a[TG_SHAPE_BUF];
            tg_tape_fail(tp, TG_ERR_SHAPE,
                         "concat: inputs 0..%d (input %d %s) along axis %d: the result has more "
                         "than %lld elements",
                         i, i, tg__shape_str(x, a, sizeof a), axis, (long long)TG_NUMEL_MAX);
            return NULL;
        }
    }
    tg_tensor *out = tg_tape_alloc(tp, x0->dtype, nd, shape);
    if (!out) return NULL;
    /* input i is the slice of out from start, step 1, along the axis */
    int64_t start = 0;
    for (int i = 0; i < n; start += xs[i]->shape[ax], i++)
        strided_axis_copy(out, xs[i], ax, start, 1, false, false);
    return tg_tape_record(tp, &k_concat, n, xs, out, &at, sizeof at, 0, NULL);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_shape[] = {&k_reshape, &k_broadcast_to, &k_slice,
                                      &k_embed,   &k_concat,       NULL};
