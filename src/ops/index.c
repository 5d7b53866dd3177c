/* Indexing ops: gather (take_along_axis) and its adjoint scatter_add,
 * index_select and its adjoint index_add (internal), embedding (an
 * index_select of rows with a padding index), one_hot (a constant).
 *
 * An index tensor is data, not an input of the node: TG_I64, user-owned
 * (tg_tape_check_inputs refuses it as an op input), never differentiated.
 * Each op checks it (live, i64, shape) and copies it into the tape's arena
 * when it records, then checks every position of the copy before it reads
 * anything at one: an index out of range is an error naming the op, the
 * value, its position in the index and the extent, never a read or write
 * outside a tensor.  The backward rules read the copy, so the user may
 * change or free the index after the op without changing the recorded
 * graph.  Negative indices are refused (PyTorch's rule), not wrapped.
 *
 * Each op-built rule is the other op of its pair recorded with the same
 * copy, so derivatives of any order follow: d gather = scatter_add into
 * zeros, d scatter_add = (g, gather g); d index_select = index_add, d
 * index_add = index_select. */
#include "index_loops.h"

/* ---- checking an index tensor ------------------------------------------------ */
/* Non-NULL, live on tp (a user tensor, or one of tp's: those are never
 * i64, so the dtype check refuses them) and i64. */
static bool check_index(tg_tape *tp, const char *op, const tg_tensor *index)
{
    if (!index) {
        tg_tape_fail(tp, TG_ERR_NULL, "%s: index is NULL", op);
        return false;
    }
    if (!tg__tensor_live_on(index, tp) ||
        (index->magic == TG_MAGIC_USER && tg__tensor_freed(index))) {
        tg_tape_fail(tp, TG_ERR_TAPE,
                     "%s: index is not a live tensor of this tape (stale, of another tape, or "
                     "freed)",
                     op);
        return false;
    }
    if (index->dtype != TG_I64) {
        char d[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, TG_ERR_DTYPE, "%s: index %s must be i64 (integer positions)", op,
                     tg_tensor_describe(index, d, sizeof d));
        return false;
    }
    return true;
}

/* The index copied into the tape's arena (false on out of memory). */
static bool copy_index(tg_tape *tp, const tg_tensor *index, idx_copy *c)
{
    c->ndim = index->ndim;
    memcpy(c->shape, index->shape, (size_t)index->ndim * sizeof *c->shape);
    c->numel = index->numel;
    c->data = NULL;
    if (c->numel == 0) return true;
    /* numel <= TG_NUMEL_MAX: the byte count does not overflow */
    int64_t *d = tg__tape_scratch(tp, (size_t)c->numel * sizeof *d);
    if (!d) return false;
    memcpy(d, index->data, (size_t)c->numel * sizeof *d);
    c->data = d;
    return true;
}

/* Every value of c in [0, ext), else the error naming op, the value, its
 * position (a multi-index of the index) and the extent; where says what
 * the extent is ("along axis 1 of x (2,4)"). */
static bool check_range(tg_tape *tp, const char *op, const idx_copy *c, int64_t ext,
                        const char *where)
{
    for (int64_t k = 0; k < c->numel; k++) {
        const int64_t v = c->data[k];
        if (v >= 0 && v < ext) continue;
        int64_t pos[TG_MAX_DIMS], r = k;
        for (int d = c->ndim - 1; d >= 0; d--) {
            pos[d] = r % c->shape[d];
            r /= c->shape[d];
        }
        char p[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_ARG, "%s: index %lld at %s is out of range [0, %lld) %s%s", op,
                     (long long)v, tg__dims_str(c->ndim, pos, p, sizeof p), (long long)ext, where,
                     v < 0 ? " (negative indices do not wrap)" : "");
        return false;
    }
    return true;
}

/* "along axis 1 of x (2,4)" into buf. */
static const char *along(char *buf, size_t n, int axis, const char *name, const tg_tensor *x)
{
    char s[TG_SHAPE_BUF];
    snprintf(buf, n, "along axis %d of %s %s", axis, name, tg__shape_str(x, s, sizeof s));
    return buf;
}

/* ---- gather / scatter_add: positions along one axis (tg__along_axis) ---- */
static tg_tensor *scatter_add_rec(tg_tape *tp, tg_tensor *x, const index_attr *at, tg_tensor *src);
static tg_tensor *gather_rec(tg_tape *tp, tg_tensor *x, const index_attr *at);

/* "axis=1, index=(2,3)", then ", padding_idx=0" for an embedding with one */
static int index_attrs(const tg_node *n, char *buf, size_t size)
{
    const index_attr *at = tg_node_saved(n);
    char s[TG_SHAPE_BUF], p[40] = "";
    if (at->skip >= 0) snprintf(p, sizeof p, ", padding_idx=%lld", (long long)at->skip);
    return snprintf(buf, size, "axis=%d, index=%s%s", at->axis,
                    tg__dims_str(at->ix.ndim, at->ix.shape, s, sizeof s), p);
}

/* ---- gather: out[i] = x[i with i_axis = index[i]] ---------------------------
 * d x = scatter_add(zeros of x's shape, axis, index, g). */
static tg_status gather_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const tg_tensor *x = tg_node_input(n, 0);
    tg_tensor *z = tg__const_full(tp, x->dtype, x->ndim, x->shape, 0.0);
    gin[0] = z ? scatter_add_rec(tp, z, tg_node_saved(n), g) : NULL;
    return TG_OK;
}
/* direct: g added at the gathered positions of d (zeroed first when fresh) */
static tg_status gather_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const index_attr *at = tg_node_saved(n);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    if (!acc) memset(d->data, 0, (size_t)d->numel * tg_dtype_size(d->dtype));
    tg__along_axis(d, at->axis, &at->ix, (tg_tensor *)g, PUT_ADD);
    return TG_OK;
}
/* linear: the same gather of the tangent */
static tg_status gather_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    *tout = gather_rec(tp, tin[0], tg_node_saved(n));
    return TG_OK;
}
static const tg_op k_gather = {.name = "gather",
                               .arity = 1,
                               .backward = gather_backward,
                               .direct = gather_direct,
                               .scalar = NULL,
                               .jvp = gather_jvp,
                               .formula = "dx += scatter_add(zeros(x.shape), axis, index, g)",
                               .attrs = index_attrs};

static tg_tensor *gather_rec(tg_tape *tp, tg_tensor *x, const index_attr *at)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_gather.name, 1, in)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, at->ix.ndim, at->ix.shape);
    if (!out) return NULL;
    tg__along_axis(x, at->axis, &at->ix, out, TAKE);
    return tg__tape_record_checked(tp, &k_gather, 1, in, out, at, sizeof *at, 0, NULL);
}

/* The checks gather and scatter_add share: the axis, the index (live, i64,
 * x's rank, extents at most x's off axis, values in range), then the copy
 * into at. */
static bool check_along(tg_tape *tp, const char *op, const tg_tensor *x, int axis,
                        const tg_tensor *index, index_attr *at)
{
    *at = (index_attr){.skip = -1};
    if (!tg__norm_axis(tp, op, x, axis, &at->axis)) return false;
    if (!check_index(tp, op, index)) return false;
    char s[TG_SHAPE_BUF], t[TG_SHAPE_BUF];
    if (index->ndim != x->ndim) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: index %s has %d axes, x %s has %d (they must match)",
                     op, tg__shape_str(index, s, sizeof s), index->ndim,
                     tg__shape_str(x, t, sizeof t), x->ndim);
        return false;
    }
    for (int d = 0; d < x->ndim; d++)
        if (d != at->axis && index->shape[d] > x->shape[d]) {
            tg_tape_fail(tp, TG_ERR_SHAPE,
                         "%s: index %s is larger than x %s on axis %d (index extents must be at "
                         "most x's off axis %d)",
                         op, tg__shape_str(index, s, sizeof s), tg__shape_str(x, t, sizeof t), d,
                         at->axis);
            return false;
        }
    if (!copy_index(tp, index, &at->ix)) return false;
    char w[2 * TG_SHAPE_BUF];
    return check_range(tp, op, &at->ix, x->shape[at->axis], along(w, sizeof w, at->axis, "x", x));
}

tg_tensor *tg_gather(tg_tape *tp, tg_tensor *x, int axis, const tg_tensor *index)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_gather.name, 1, in)) return NULL;
    index_attr at;
    if (!check_along(tp, k_gather.name, x, axis, index, &at)) return NULL;
    return gather_rec(tp, x, &at);
}

/* ---- scatter_add: out = x, then out[i with i_axis = index[i]] += src[i] ----
 * d x = g, d src = gather(g, axis, index). */
static tg_status scatter_add_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    if (tg_node_needs_grad(n, 0)) gin[0] = g;
    if (tg_node_needs_grad(n, 1)) gin[1] = gather_rec(tp, g, tg_node_saved(n));
    return TG_OK;
}
/* direct: g itself for x; g at the index's positions for src (one slot at
 * a time: x and src may be one value) */
static tg_status scatter_add_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g,
                                    tg_grad_sink *k)
{
    const index_attr *at = tg_node_saved(n);
    if (tg_node_needs_grad(n, 0) && tg_grad_sink_add(k, 0, g) != TG_OK) return tg_tape_status(tp);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 1, &acc);
    if (!d) return tg_tape_status(tp);
    tg__along_axis((tg_tensor *)g, at->axis, &at->ix, d, acc ? TAKE_ADD : TAKE);
    return TG_OK;
}
/* linear in (x, src): scatter_add of the tangents, zeros for a missing one
 * of x; only x's: its tangent itself */
static tg_status scatter_add_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                                 tg_tensor **tout)
{
    if (!tin[1]) {
        *tout = tin[0];
        return TG_OK;
    }
    const tg_tensor *x = tg_node_input(n, 0);
    tg_tensor *tx = tin[0] ? tin[0] : tg__const_full(tp, x->dtype, x->ndim, x->shape, 0.0);
    *tout = tx ? scatter_add_rec(tp, tx, tg_node_saved(n), tin[1]) : NULL;
    return TG_OK;
}
static const tg_op k_scatter_add = {.name = "scatter_add",
                                    .arity = 2,
                                    .backward = scatter_add_backward,
                                    .direct = scatter_add_direct,
                                    .scalar = NULL,
                                    .jvp = scatter_add_jvp,
                                    .formula =
                                        "da += g;  db += gather(g, axis, index)  (a: x, b: src)",
                                    .attrs = index_attrs};

static tg_tensor *scatter_add_rec(tg_tape *tp, tg_tensor *x, const index_attr *at, tg_tensor *src)
{
    tg_tensor *in[2] = {x, src};
    if (!tg_tape_check_inputs(tp, k_scatter_add.name, 2, in)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, x->ndim, x->shape);
    if (!out) return NULL;
    if (x->numel) memcpy(out->data, x->data, (size_t)x->numel * tg_dtype_size(x->dtype));
    tg__along_axis(out, at->axis, &at->ix, src, PUT_ADD);
    return tg__tape_record_checked(tp, &k_scatter_add, 2, in, out, at, sizeof *at, 0, NULL);
}

tg_tensor *tg_scatter_add(tg_tape *tp, tg_tensor *x, int axis, const tg_tensor *index,
                          tg_tensor *src)
{
    const char *op = k_scatter_add.name;
    tg_tensor *in[2] = {x, src};
    if (!tg_tape_check_inputs(tp, op, 2, in)) return NULL;
    if (!tg__same_dtype(tp, op, x, src)) return NULL;
    index_attr at;
    if (!check_along(tp, op, x, axis, index, &at)) return NULL;
    if (!tg_tensor_same_shape(src, index)) {
        char s[TG_SHAPE_BUF], t[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "%s: src %s and index %s differ (src must have index's shape)", op,
                     tg__shape_str(src, s, sizeof s), tg__shape_str(index, t, sizeof t));
        return NULL;
    }
    return scatter_add_rec(tp, x, &at, src);
}

/* ---- index_select / index_add: whole slices along one axis (tg__select_slices) */
static tg_tensor *index_add_rec(tg_tape *tp, tg_tensor *g, const tg_tensor *like,
                                const index_attr *at);
static tg_tensor *select_rec(tg_tape *tp, const tg_op *op, tg_tensor *x, const index_attr *at,
                             int ndim, const int64_t *shape);

/* index_select and embedding: d x = index_add(g, x's shape, axis, index),
 * the skipped slices (embedding's padding row) getting none. */
static tg_status select_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = index_add_rec(tp, g, tg_node_input(n, 0), tg_node_saved(n));
    return TG_OK;
}
/* direct: g's slices added into d (zeroed first when fresh) */
static tg_status select_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    if (!acc) memset(d->data, 0, (size_t)d->numel * tg_dtype_size(d->dtype));
    tg__select_slices(d, tg_node_saved(n), (tg_tensor *)g, ADD_INTO);
    return TG_OK;
}
/* linear: the same selection of the tangent, with zeros at the skipped
 * slices (embedding's padding row), which the backward rule gives no
 * gradient: both modes then compute the same derivative */
static tg_status select_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    index_attr at = *(const index_attr *)tg_node_saved(n);
    at.zero_skip = true;
    const tg_tensor *y = tg_node_output(n);
    *tout = select_rec(tp, tg_node_op(n), tin[0], &at, y->ndim, y->shape);
    return TG_OK;
}
static const tg_op k_index_select = {.name = "index_select",
                                     .arity = 1,
                                     .backward = select_backward,
                                     .direct = select_direct,
                                     .scalar = NULL,
                                     .jvp = select_jvp,
                                     .formula = "dx += index_add(zeros(x.shape), axis, index, g)",
                                     .attrs = index_attrs};
/* The same node under the name the user called. */
static const tg_op k_embedding = {
    .name = "embedding",
    .arity = 1,
    .backward = select_backward,
    .direct = select_direct,
    .scalar = NULL,
    .jvp = select_jvp,
    .formula = "dx[index[i]] += g[i]  (x: the weight; nothing to the padding row)",
    .attrs = index_attrs};

/* ---- index_add (internal): zeros of like's shape with g's slices added at
 * the index's positions; d g = index_select(g, ...) with zeros at the
 * skipped slices, reshaped as g. */
static tg_status index_add_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    index_attr at = *(const index_attr *)tg_node_saved(n);
    at.zero_skip = true;
    const tg_tensor *src = tg_node_input(n, 0);
    gin[0] = select_rec(tp, &k_index_select, g, &at, src->ndim, src->shape);
    return TG_OK;
}
/* direct: the selected slices of g stored (added) into d, zeros (nothing)
 * at the skipped ones */
static tg_status index_add_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g,
                                  tg_grad_sink *k)
{
    index_attr at = *(const index_attr *)tg_node_saved(n);
    at.zero_skip = true;
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    tg__select_slices((tg_tensor *)g, &at, d, acc ? SEL_ADD : SEL);
    return TG_OK;
}
/* linear: the same index_add of the tangent */
static tg_status index_add_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                               tg_tensor **tout)
{
    *tout = index_add_rec(tp, tin[0], tg_node_output(n), tg_node_saved(n));
    return TG_OK;
}
static const tg_op k_index_add = {
    .name = "index_add",
    .arity = 1,
    .backward = index_add_backward,
    .direct = index_add_direct,
    .scalar = NULL,
    .jvp = index_add_jvp,
    .formula = "dx += index_select(g, axis, index)  (zeros at the padding row)",
    .attrs = index_attrs};

static tg_tensor *index_add_rec(tg_tape *tp, tg_tensor *g, const tg_tensor *like,
                                const index_attr *at)
{
    tg_tensor *in[1] = {g};
    if (!tg_tape_check_inputs(tp, k_index_add.name, 1, in)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, g->dtype, like->ndim, like->shape);
    if (!out) return NULL;
    if (out->numel) memset(out->data, 0, (size_t)out->numel * tg_dtype_size(out->dtype));
    tg__select_slices(out, at, g, ADD_INTO);
    return tg__tape_record_checked(tp, &k_index_add, 1, in, out, at, sizeof *at, 0, NULL);
}

/* The selection of x's slices as a tensor of (ndim, shape), which holds
 * outer * m * inner elements. */
static tg_tensor *select_rec(tg_tape *tp, const tg_op *op, tg_tensor *x, const index_attr *at,
                             int ndim, const int64_t *shape)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, op->name, 1, in)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, ndim, shape);
    if (!out) return NULL;
    tg__select_slices(x, at, out, SEL);
    return tg__tape_record_checked(tp, op, 1, in, out, at, sizeof *at, 0, NULL);
}

tg_tensor *tg_index_select(tg_tape *tp, tg_tensor *x, int axis, const tg_tensor *index)
{
    const char *op = k_index_select.name;
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, op, 1, in)) return NULL;
    index_attr at = {.skip = -1};
    if (!tg__norm_axis(tp, op, x, axis, &at.axis)) return NULL;
    if (!check_index(tp, op, index)) return NULL;
    char s[TG_SHAPE_BUF];
    if (index->ndim != 1) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: index %s must be 1-d", op,
                     tg__shape_str(index, s, sizeof s));
        return NULL;
    }
    if (!copy_index(tp, index, &at.ix)) return NULL;
    char w[2 * TG_SHAPE_BUF];
    if (!check_range(tp, op, &at.ix, x->shape[at.axis], along(w, sizeof w, at.axis, "x", x)))
        return NULL;
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, x->shape, (size_t)x->ndim * sizeof *shape);
    shape[at.axis] = at.ix.numel; /* tg_tape_alloc refuses a result too large */
    return select_rec(tp, &k_index_select, x, &at, x->ndim, shape);
}

/* ---- embedding: out[i..., :] = weight[index[i...], :] -----------------------
 * An index_select of weight's rows shaped index.shape + (D).  The padding
 * row is read as it is, but gets no gradient (PyTorch): the node's
 * rules leave its slices out, so its first derivative is the constant 0. */
tg_tensor *tg_embedding(tg_tape *tp, tg_tensor *weight, const tg_tensor *index, int64_t padding_idx)
{
    const char *op = k_embedding.name;
    tg_tensor *in[1] = {weight};
    if (!tg_tape_check_inputs(tp, op, 1, in)) return NULL;
    char s[TG_SHAPE_BUF], t[TG_SHAPE_BUF];
    if (weight->ndim != 2) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: weight %s must be 2-d (V,D)", op,
                     tg__shape_str(weight, s, sizeof s));
        return NULL;
    }
    const int64_t v = weight->shape[0];
    if (padding_idx >= v) {
        tg_tape_fail(tp, TG_ERR_ARG,
                     "%s: padding_idx %lld is out of range [0, %lld) for weight %s (negative: "
                     "none)",
                     op, (long long)padding_idx, (long long)v, tg__shape_str(weight, s, sizeof s));
        return NULL;
    }
    if (!check_index(tp, op, index)) return NULL;
    if (index->ndim >= TG_MAX_DIMS) {
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "%s: index %s has %d axes; the output would have %d (at most %d)", op,
                     tg__shape_str(index, t, sizeof t), index->ndim, index->ndim + 1, TG_MAX_DIMS);
        return NULL;
    }
    index_attr at = {.axis = 0, .skip = padding_idx < 0 ? -1 : padding_idx};
    if (!copy_index(tp, index, &at.ix)) return NULL;
    char w[2 * TG_SHAPE_BUF];
    snprintf(w, sizeof w, "for weight %s", tg__shape_str(weight, s, sizeof s));
    if (!check_range(tp, op, &at.ix, v, w)) return NULL;
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, index->shape, (size_t)index->ndim * sizeof *shape);
    shape[index->ndim] = weight->shape[1]; /* tg_tape_alloc refuses a result too large */
    return select_rec(tp, &k_embedding, weight, &at, index->ndim + 1, shape);
}

/* ---- one_hot: a constant, 1 at [i..., index[i...]] -------------------------- */
tg_tensor *tg_one_hot(tg_tape *tp, const tg_tensor *index, int64_t num_classes, tg_dtype dt)
{
    const char *op = "one_hot";
    /* no tensor input, no node: the tape's checks here (not
     * tg_tape_check_inputs, which would name this op in a later
     * tg_tape_alloc of the user's) */
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "%s: tape is NULL", op);
        return NULL;
    }
    if (!tg__tape_ok(tp)) return NULL;
    if (dt != TG_F32 && dt != TG_F64) {
        tg_tape_fail(tp, TG_ERR_DTYPE, "%s: dtype %s: the output is f32 or f64", op,
                     tg_dtype_name(dt));
        return NULL;
    }
    if (num_classes < 0) {
        tg_tape_fail(tp, TG_ERR_ARG, "%s: num_classes %lld must be >= 0", op,
                     (long long)num_classes);
        return NULL;
    }
    if (!check_index(tp, op, index)) return NULL;
    char s[TG_SHAPE_BUF];
    if (index->ndim >= TG_MAX_DIMS) {
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "%s: index %s has %d axes; the output would have %d (at most %d)", op,
                     tg__shape_str(index, s, sizeof s), index->ndim, index->ndim + 1, TG_MAX_DIMS);
        return NULL;
    }
    int64_t shape[TG_MAX_DIMS], n;
    memcpy(shape, index->shape, (size_t)index->ndim * sizeof *shape);
    shape[index->ndim] = num_classes;
    if (!tg__extents_product(index->ndim + 1, shape, TG_NUMEL_MAX, &n)) {
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "%s: index %s with %lld classes: the result has more than %lld elements", op,
                     tg__shape_str(index, s, sizeof s), (long long)num_classes,
                     (long long)TG_NUMEL_MAX);
        return NULL;
    }
    /* read in place: nothing is kept past this call */
    idx_copy cs = {.ndim = index->ndim, .numel = index->numel, .data = index->data};
    memcpy(cs.shape, index->shape, (size_t)index->ndim * sizeof *cs.shape);
    char w[48];
    snprintf(w, sizeof w, "(num_classes %lld)", (long long)num_classes);
    if (!check_range(tp, op, &cs, num_classes, w)) return NULL;
    tg_tensor *out = tg__const_full(tp, dt, index->ndim + 1, shape, 0.0);
    if (!out) return NULL;
    for (int64_t k = 0; k < cs.numel; k++) tg_tensor_set_flat(out, k * num_classes + cs.data[k], 1);
    return out;
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_index[] = {&k_gather,    &k_scatter_add, &k_index_select,
                                      &k_embedding, &k_index_add,   NULL};
