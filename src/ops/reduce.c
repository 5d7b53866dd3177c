/* Reductions: sum and mean over all elements or given axes, sum_to (the
 * adjoint of broadcasting), and max and min along an axis. */
#include "reduce.h"

#include "../core/parallel.h"
#include "../kernels/wsum.h"

/* The product of extents [from, to) of x, checked (tg__extents_product):
 * within TG_NUMEL_MAX for a tensor's shape; should a tensor with no
 * elements carry extents whose product is not, 0, an extent over which the
 * kernels do nothing. */
int64_t tg__prod_range(const tg_tensor *x, int from, int to)
{
    int64_t p;
    return tg__extents_product(to - from, x->shape + from, TG_NUMEL_MAX, &p) ? p : 0;
}

/* Output offset strides for reducing x over the axes flagged in red[]: 0
 * along reduced axes, the output's row-major stride elsewhere. */
void tg__reduce_strides(const tg_tensor *x, const bool *red, int64_t *ostride)
{
    int64_t st = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        ostride[d] = red[d] ? 0 : st;
        /* checked as in prod_range: unused when the product is out of range */
        if (!red[d] && !tg__mul_i64(st, x->shape[d], &st)) st = 0;
    }
}

/* The accumulators tg__sum_kernel needs to reduce x into out, from the tape's
 * arena (NULL, with the tape's error set, when they cannot be had; NULL with
 * *ok true when none are needed). */
static double *sum_scratch(tg_tape *tp, const tg_tensor *out, const tg_tensor *x, bool *ok)
{
    *ok = true;
    if (out->numel <= 1 || x->numel == 0) return NULL;
    size_t bytes;
    /* cannot overflow (numel <= TG_NUMEL_MAX); if it did, the arena's own
     * error says how much was asked */
    if (!tg__mul_size((size_t)out->numel, (x->dtype == TG_F64 ? 2 : 1) * sizeof(double), &bytes))
        bytes = SIZE_MAX;
    double *w = tg__tape_scratch(tp, bytes);
    *ok = w != NULL;
    return w;
}

typedef struct reduce_attr {
    bool red[TG_MAX_DIMS];
    bool keepdim;
    double scale; /* 1 for sum, 1/count for mean */
} reduce_attr;

/* PyTorch's convention for an axis of a 0-d tensor: 0 and -1 are accepted,
 * as if it had one axis of extent 1 (a reduction over it is the identity,
 * keepdim or not: the result stays 0-d). */
bool tg__scalar_axis(const tg_tensor *x, int axis)
{
    return x->ndim == 0 && (axis == 0 || axis == -1);
}

/* Parse an axis list into flags.  Negative axes count from the end; an
 * axis listed twice is an error.  An empty list (naxes 0, axes NULL or not)
 * is an error too: NumPy reads axis=() as "no axis" and PyTorch reads
 * dim=[] as "every axis", so either answer would surprise half the users;
 * every axis is the explicit call all_name (tg_sum_all, tg_mean_all). */
bool tg__axes_flags(tg_tape *tp, const char *op, const char *all_name, const tg_tensor *x,
                    int naxes, const int *axes, bool *red)
{
    for (int d = 0; d < TG_MAX_DIMS; d++) red[d] = false;
    char s[TG_SHAPE_BUF + 8];
    if (naxes == 0 && !all_name) {
        tg_tape_fail(tp, TG_ERR_AXIS,
                     "%s: no axes listed for %s (an empty list is refused: list every axis to "
                     "reduce them all)",
                     op, tg_tensor_describe(x, s, sizeof s));
        return false;
    }
    if (naxes == 0) {
        tg_tape_fail(tp, TG_ERR_AXIS,
                     "%s: no axes listed for %s (an empty list is refused: use %s to reduce "
                     "every axis)",
                     op, tg_tensor_describe(x, s, sizeof s), all_name);
        return false;
    }
    if (naxes > 0 && !axes) {
        tg_tape_fail(tp, TG_ERR_NULL, "%s: %d axes listed for %s but the list is NULL", op, naxes,
                     tg_tensor_describe(x, s, sizeof s));
        return false;
    }
    /* a 0-d x takes one axis, 0 or -1, as in PyTorch (scalar_axis) */
    if (naxes < 0 || naxes > (x->ndim ? x->ndim : 1)) {
        tg_tape_fail(tp, TG_ERR_AXIS, "%s: %d axes given for %s", op, naxes,
                     tg_tensor_describe(x, s, sizeof s));
        return false;
    }
    for (int i = 0; i < naxes; i++) {
        int a;
        if (tg__scalar_axis(x, axes[i])) continue; /* nothing to reduce: the identity */
        if (!tg__norm_axis(tp, op, x, axes[i], &a)) return false;
        if (red[a]) {
            tg_tape_fail(tp, TG_ERR_AXIS, "%s: axis %d listed twice for %s", op, axes[i],
                         tg_tensor_describe(x, s, sizeof s));
            return false;
        }
        red[a] = true;
    }
    return true;
}

int tg__reduced_shape(const tg_tensor *x, const bool *red, bool keepdim, int64_t *shape)
{
    int k = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (!red[d])
            shape[k++] = x->shape[d];
        else if (keepdim)
            shape[k++] = 1;
    }
    return k;
}

/* d sum = broadcast of g back over the reduced axes (times scale for mean) */
static tg_status sum_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const reduce_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0);
    int64_t ks[TG_MAX_DIMS];
    int kn = tg__reduced_shape(x, at->red, true, ks);
    tg_tensor *gk = at->keepdim ? g : tg_reshape(tp, g, kn, ks);
    if (at->scale != 1.0) gk = tg_mul_scalar(tp, gk, at->scale);
    gin[0] = tg_broadcast_to(tp, gk, x->ndim, x->shape);
    return TG_OK;
}

/* Direct rule of sum, mean and sum_to: d (+)= scale * g broadcast over the
 * reduced axes, in one pass over d, no temporary (mul_scalar's arithmetic
 * for mean; for sum the scale is 1 and 1 * g is exactly g).  A gradient
 * with x's element count (no axis of extent > 1 reduced) is g itself,
 * handed over (as a view with x's shape) without a copy. */
static tg_status sum_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const reduce_attr *at = tg_node_saved(n);
    const tg_tensor *x = n->in[0];
    if (at->scale == 1.0 && g->numel == x->numel) {
        if (tg_tensor_same_shape(g, x)) return tg_grad_sink_add(k, 0, g);
        tg_tensor *v = tg__tape_alloc_view(tp, g, x->ndim, x->shape);
        return v ? tg_grad_sink_add(k, 0, v) : tg_tape_status(tp);
    }
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    const int64_t nx = x->numel;
    if (g->numel != 1) {
        tg__sum_expand(d, acc, g, x, at->red, at->scale);
        return TG_OK;
    }
    TG_DISPATCH(x->dtype, T, {
        T *restrict dd = d->data;
        const T v = (T)at->scale * ((const T *)g->data)[0];
        if (acc)
            TG_ELEM_LOOP(nx, TG_ELEM_MIN_WORK, i, dd[i] += v;);
        else
            TG_STORE_LOOP(T, dd, nx, i, r_, r_ = v);
    });
    return TG_OK;
}

/* scalar: al g, or g itself when al is 1 (as the direct rule) */
static void sum_scalar(const tg_node *n, const tg_scalar_args *a, double *gin)
{
    const reduce_attr *at = tg_node_saved(n);
    const double g = a->gout;
    TG_DISPATCH(a->dtype, T, { gin[0] = at->scale == 1.0 ? g : (double)((T)at->scale * (T)g); });
}

/* The reduction of x described by at (scale included), shape (ndim,
 * shape), recorded as op: the forward of sum, mean and sum_to, and their
 * tangents. */
static tg_tensor *reduce_record(tg_tape *tp, const tg_op *op, tg_tensor *x, const reduce_attr *at,
                                int ndim, const int64_t *shape)
{
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, ndim, shape);
    if (!out) return NULL;
    bool wok;
    double *w = sum_scratch(tp, out, x, &wok);
    if (!wok) return NULL;
    tg__sum_kernel(out, x, at->red, at->scale, w);
    return tg_tape_record(tp, op, 1, &x, out, at, sizeof *at, 0, NULL);
}

/* Tangent of sum, mean and sum_to, all linear: the same reduction (same op,
 * same attributes) applied to the tangent of x. */
static tg_status sum_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const tg_tensor *y = tg_node_output(n);
    *tout = reduce_record(tp, tg_node_op(n), tin[0], tg_node_saved(n), y->ndim, y->shape);
    return TG_OK;
}

int tg__axes_attrs(const tg_tensor *x, const bool *red, bool keepdim, const char *extra, char *buf,
                   size_t size)
{
    int ax[TG_MAX_DIMS];
    const int na = tg__axes_list(x, red, ax);
    /* TG_MAX_DIMS axes and an extra of a few words fit */
    char s[16 * TG_MAX_DIMS + 64] = "";
    int k = 0;
    if (na > 0 && na < x->ndim) {
        k += snprintf(s, sizeof s, "%s", na == 1 ? "axis=" : "axes=(");
        for (int i = 0; i < na; i++)
            k += snprintf(s + k, sizeof s - (size_t)k, "%s%d", i ? "," : "", ax[i]);
        if (na > 1) k += snprintf(s + k, sizeof s - (size_t)k, ")");
    }
    if (keepdim) k += snprintf(s + k, sizeof s - (size_t)k, "%skeepdim=1", k ? ", " : "");
    if (extra && *extra) snprintf(s + k, sizeof s - (size_t)k, "%s%s", k ? ", " : "", extra);
    return snprintf(buf, size, "%s", s);
}

static int sum_attrs(const tg_node *n, char *buf, size_t size)
{
    const reduce_attr *at = tg_node_saved(n);
    return tg__axes_attrs(tg_node_input(n, 0), at->red, at->keepdim, NULL, buf, size);
}

static const tg_op k_sum = {.name = "sum",
                            .arity = 1,
                            .backward = sum_backward,
                            .direct = sum_direct,
                            .scalar = sum_scalar,
                            .jvp = sum_jvp,
                            .formula = "dx += broadcast_to(g, x.shape)",
                            .attrs = sum_attrs};
static const tg_op k_mean = {.name = "mean",
                             .arity = 1,
                             .backward = sum_backward,
                             .direct = sum_direct,
                             .scalar = sum_scalar,
                             .jvp = sum_jvp,
                             .formula =
                                 "dx += broadcast_to(g, x.shape) / N  (N: elements averaged)",
                             .attrs = sum_attrs};

/* all: every axis (the _all forms); otherwise the naxes listed in axes. */
static tg_tensor *reduce_sum(tg_tape *tp, const tg_op *op, tg_tensor *x, bool all, int naxes,
                             const int *axes, bool keepdim, bool mean)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, op->name, 1, in)) return NULL;
    reduce_attr at = {.keepdim = keepdim, .scale = 1.0};
    if (all) {
        for (int d = 0; d < x->ndim; d++) at.red[d] = true;
    } else if (!tg__axes_flags(tp, op->name, mean ? "tg_mean_all" : "tg_sum_all", x, naxes, axes,
                               at.red)) {
        return NULL;
    }
    int64_t shape[TG_MAX_DIMS], count = 1;
    int k = tg__reduced_shape(x, at.red, keepdim, shape);
    /* checked: out of range only for a tensor with no elements whose 0
     * extent is kept, whose output then has none either (count unused) */
    for (int d = 0; d < x->ndim; d++)
        if (at.red[d] && x->shape[d] == 0) count = 0;
    for (int d = 0; d < x->ndim && count; d++)
        if (at.red[d] && !tg__mul_i64(count, x->shape[d], &count)) count = TG_NUMEL_MAX;
    if (mean) {
        if (count == 0) {
            char s[TG_SHAPE_BUF + 8];
            tg_tape_fail(tp, TG_ERR_EMPTY, "mean: no elements to average in %s",
                         tg_tensor_describe(x, s, sizeof s));
            return NULL;
        }
        at.scale = 1.0 / (double)count;
    }
    return reduce_record(tp, op, x, &at, k, shape);
}

tg_tensor *tg_sum(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, bool keepdim)
{
    return reduce_sum(tp, &k_sum, x, false, naxes, axes, keepdim, false);
}

tg_tensor *tg_mean(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, bool keepdim)
{
    return reduce_sum(tp, &k_mean, x, false, naxes, axes, keepdim, true);
}

tg_tensor *tg_sum_all(tg_tape *tp, tg_tensor *x)
{
    /* checked here too, so that a bad x is reported as sum_all's, not sum's */
    if (!tg_tape_check_inputs(tp, "sum_all", 1, &x)) return NULL;
    return reduce_sum(tp, &k_sum, x, true, 0, NULL, false, false);
}

tg_tensor *tg_mean_all(tg_tape *tp, tg_tensor *x)
{
    if (!tg_tape_check_inputs(tp, "mean_all", 1, &x)) return NULL; /* as in tg_sum_all */
    return reduce_sum(tp, &k_mean, x, true, 0, NULL, false, true);
}

/* ---- sum_to: the adjoint of broadcast_to --------------------------------- */
/* d sum_to(x, s) = broadcast_to(g, shape of x) */
static tg_status sum_to_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0);
    gin[0] = tg_broadcast_to(tp, g, x->ndim, x->shape);
    return TG_OK;
}
/* "shape=(1,4)": the target shape */
static int sum_to_attrs(const tg_node *n, char *buf, size_t size)
{
    char s[TG_SHAPE_BUF];
    return snprintf(buf, size, "shape=%s", tg__shape_str(tg_node_output(n), s, sizeof s));
}
/* its direct rule is sum's: broadcast g back over the summed axes */
static const tg_op k_sum_to = {.name = "sum_to",
                               .arity = 1,
                               .backward = sum_to_backward,
                               .direct = sum_direct,
                               .scalar = sum_scalar,
                               .jvp = sum_jvp,
                               .formula = "dx += broadcast_to(g, x.shape)",
                               .attrs = sum_to_attrs};

tg_tensor *tg_sum_to(tg_tape *tp, tg_tensor *x, int ndim, const int64_t *shape)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_sum_to.name, 1, in)) return NULL;
    if (ndim > 0 && !shape) {
        char sx[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_NULL, "%s: %s: target shape is NULL", k_sum_to.name,
                     tg__shape_str(x, sx, sizeof sx));
        return NULL;
    }
    bool ok = ndim >= 0 && ndim <= x->ndim && (ndim == 0 || shape);
    for (int i = 0; ok && i < ndim; i++) {
        int64_t e = shape[i], xe = x->shape[x->ndim - ndim + i];
        ok = e == xe || e == 1;
    }
    if (!ok) {
        char s[TG_SHAPE_BUF], t[TG_SHAPE_BUF];
        if (ndim >= 0 && ndim <= TG_MAX_DIMS && (ndim == 0 || shape))
            tg__dims_str(ndim, shape, t, sizeof t);
        else
            snprintf(t, sizeof t, "a %d-d shape%s", ndim, shape ? "" : " (NULL)");
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "sum_to: %s cannot be summed to %s (it must broadcast to %s)",
                     tg__shape_str(x, s, sizeof s), t, s);
        return NULL;
    }
    reduce_attr at = {.keepdim = true, .scale = 1.0};
    for (int d = 0; d < x->ndim; d++) {
        int k = d - (x->ndim - ndim);
        at.red[d] = k < 0 || (shape[k] == 1 && x->shape[d] != 1);
    }
    return reduce_record(tp, &k_sum_to, x, &at, ndim, shape);
}

/* ---- max along one axis ----------------------------------------------------
 * y = max_k x[.., k, ..].  The derivative is g at the arg-max and 0 elsewhere;
 * at a tie the function has a kink and we pick one subgradient: everything
 * goes to the FIRST arg-max (lowest index), as NumPy's argmax and PyTorch's
 * max(dim) choose.  A NaN counts as larger than any number (the first NaN
 * wins), so a NaN propagates to the result as in NumPy.
 *
 * The arg-max is a constant of the forward pass, so it is stored then as a
 * one-hot mask (an aux tensor, not a node output: no gradient flows into it)
 * and the backward is plain ops:
 *     dx = broadcast_to(reshape(g, keepdim shape), x shape) * mask
 * which create_graph can record (its own derivative in g is the same mask). */
/* ---- max, min ----------------------------------------------------------------
 * With x seen as (outer, ext, inner), each output (a, i) is found alone:
 * the loops share pieces of RED_IBLOCK outputs of one a among threads
 * (each output walks its ext elements as on one thread), above
 * RED_PAR_MIN elements of x (docs/performance.md, "Thread thresholds:
 * losses, norms and axis reductions"). */
#define RED_PAR_MIN ((int64_t)1 << 14)
#define RED_IBLOCK  ((int64_t)1 << 7)

static int red_threads(const tg_tensor *x)
{
    return tg__par_threads(x->numel, RED_PAR_MIN);
}

typedef struct max_attr {
    int axis;
    bool keepdim;
} max_attr;

static tg_status max_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const max_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *mask = tg_node_aux(n, 0);
    int64_t ks[TG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) ks[i] = x->shape[i];
    ks[at->axis] = 1;
    tg_tensor *gk = at->keepdim ? g : tg_reshape(tp, g, x->ndim, ks);
    gin[0] = tg_mul(tp, tg_broadcast_to(tp, gk, x->ndim, x->shape), mask);
    return TG_OK;
}
/* Direct rule: d (+)= g * mask, g broadcast along the axis (the op-built
 * rule's product, so 0 * inf gives NaN there as here), in one pass over d
 * with x seen as (outer, ext, inner). */
static tg_status max_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const max_attr *at = tg_node_saved(n);
    const tg_tensor *x = n->in[0];
    const tg_tensor *mask = tg_node_aux(n, 0); /* tg_max saves it whenever it records a node */
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    const int64_t outer = tg__prod_range(x, 0, at->axis),
                  inner = tg__prod_range(x, at->axis + 1, x->ndim);
    const int64_t ext = x->shape[at->axis], nib = TG_PAR_PIECES(inner, RED_IBLOCK);
    TG_DISPATCH(x->dtype, T, {
        T *restrict dd = d->data;
        const T *restrict gg = g->data, *restrict mm = mask->data;
        /* with no elements (inner 0) nothing to do, however large outer */
        TG_PAR_FOR(red_threads(x), inner > 0 ? outer * nib : 0, u, {
            const int64_t a = u / nib, j0 = u % nib * RED_IBLOCK;
            const int64_t j1 = inner - j0 < RED_IBLOCK ? inner : j0 + RED_IBLOCK;
            const T *restrict ga = gg + a * inner;
            for (int64_t r = 0; r < ext; r++) {
                const int64_t off = (a * ext + r) * inner;
                T *restrict dr = dd + off;
                const T *restrict mr = mm + off;
                if (acc)
                    for (int64_t j = j0; j < j1; j++) dr[j] += ga[j] * mr[j];
                else
                    for (int64_t j = j0; j < j1; j++) dr[j] = ga[j] * mr[j];
            }
        });
    });
    return TG_OK;
}
/* The tangent at the arg-max the forward chose: sum over the axis of
 * t * mask (the backward's mask, so both modes pick the same element). */
static tg_status max_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const max_attr *at = tg_node_saved(n);
    *tout = tg_sum(tp, tg_mul(tp, tin[0], tg_node_aux(n, 0)), 1, &at->axis, at->keepdim);
    return TG_OK;
}
static int max_attrs(const tg_node *n, char *buf, size_t size)
{
    const max_attr *at = tg_node_saved(n);
    return snprintf(buf, size, "axis=%d%s", at->axis, at->keepdim ? ", keepdim=1" : "");
}
static const tg_op k_max = {.name = "max",
                            .arity = 1,
                            .backward = max_backward,
                            .direct = max_direct,
                            .scalar = NULL,
                            .jvp = max_jvp,
                            .formula = "dx += g at the first arg-max along the axis, 0 elsewhere",
                            .attrs = max_attrs};

/* Values into out and, when mask is not NULL, the one-hot first arg-max
 * (arg-min with min) into mask; x is seen as (outer, ext, inner) with
 * ext >= 1.  A NaN wins either way: it propagates, as in NumPy. */
static void max_kernel(tg_tensor *out, tg_tensor *mask, const tg_tensor *x, int axis, bool min)
{
    const int64_t outer = tg__prod_range(x, 0, axis), inner = tg__prod_range(x, axis + 1, x->ndim);
    const int64_t ext = x->shape[axis], nib = TG_PAR_PIECES(inner, RED_IBLOCK);
    TG_DISPATCH(x->dtype, T, {
        T *restrict o = out->data;
        T *restrict m = mask ? mask->data : NULL;
        const T *restrict v = x->data;
        /* with no elements (inner 0) nothing to do, however large outer */
        TG_PAR_FOR(red_threads(x), inner > 0 ? outer * nib : 0, u, {
            const int64_t a = u / nib, i0 = u % nib * RED_IBLOCK;
            const int64_t i1 = inner - i0 < RED_IBLOCK ? inner : i0 + RED_IBLOCK;
            const T *va = v + a * ext * inner;
            if (m)
                for (int64_t k = 0; k < ext; k++)
                    for (int64_t i = i0; i < i1; i++) m[(a * ext + k) * inner + i] = 0;
            for (int64_t i = i0; i < i1; i++) {
                T best = va[i];
                int64_t arg = 0;
                for (int64_t k = 1; k < ext && best == best; k++) {
                    const T c = va[k * inner + i];
                    /* strict: a later equal value never replaces the first */
                    if ((min ? c < best : c > best) || c != c) {
                        best = c;
                        arg = k;
                    }
                }
                o[a * inner + i] = best;
                if (m) m[(a * ext + arg) * inner + i] = 1;
            }
        });
    });
}

/* min has max's rules: g to the one-hot arg-min mask */
static const tg_op k_min = {.name = "min",
                            .arity = 1,
                            .backward = max_backward,
                            .direct = max_direct,
                            .scalar = NULL,
                            .jvp = max_jvp,
                            .formula = "dx += g at the first arg-min along the axis, 0 elsewhere",
                            .attrs = max_attrs};

static tg_tensor *max_min(tg_tape *tp, const tg_op *op, tg_tensor *x, int axis, bool keepdim)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, op->name, 1, in)) return NULL;
    const bool min = op == &k_min;
    max_attr at = {.keepdim = keepdim};
    if (tg__scalar_axis(x, axis)) /* as a one-element vector: a 0-d result, d = g */
        return max_min(tp, op, tg_reshape(tp, x, 1, (const int64_t[]){1}), 0, false);
    if (!tg__norm_axis(tp, op->name, x, axis, &at.axis)) return NULL;
    if (x->shape[at.axis] == 0) {
        char s[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, TG_ERR_EMPTY, "%s: axis %d of %s is empty (the %s of nothing)", op->name,
                     axis, tg_tensor_describe(x, s, sizeof s), op->name);
        return NULL;
    }
    bool red[TG_MAX_DIMS] = {false};
    red[at.axis] = true;
    int64_t shape[TG_MAX_DIMS];
    int k = tg__reduced_shape(x, red, keepdim, shape);
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, k, shape);
    if (!out) return NULL;
    /* Inside a plain backward nothing is recorded, so no mask is needed. */
    tg_tensor *mask = NULL;
    if (tg__tape_recording(tp)) {
        mask = tg_tape_alloc(tp, x->dtype, x->ndim, x->shape);
        if (!mask) return NULL;
    }
    max_kernel(out, mask, x, at.axis, min);
    return tg_tape_record(tp, op, 1, in, out, &at, sizeof at, mask ? 1 : 0, &mask);
}

tg_tensor *tg_max(tg_tape *tp, tg_tensor *x, int axis, bool keepdim)
{
    return max_min(tp, &k_max, x, axis, keepdim);
}

tg_tensor *tg_min(tg_tape *tp, tg_tensor *x, int axis, bool keepdim)
{
    return max_min(tp, &k_min, x, axis, keepdim);
}

/* ---- helpers of the other reductions (reduce.h) ------------------------- */
bool tg__reduce_map(tg_tape *tp, const tg_tensor *x, const bool *red, int64_t **map)
{
    *map = NULL;
    if (x->numel == 0) return true;
    size_t bytes;
    if (!tg__mul_size((size_t)x->numel, sizeof(int64_t), &bytes)) bytes = SIZE_MAX;
    int64_t *m = tg__tape_scratch(tp, bytes);
    if (!m) return false;
    int64_t os[TG_MAX_DIMS], idx[TG_MAX_DIMS] = {0}, oi = 0;
    tg__reduce_strides(x, red, os);
    const int nd = x->ndim;
    for (int64_t i = 0; i < x->numel; i++) {
        m[i] = oi;
        for (int d = nd - 1; d >= 0; d--) {
            oi += os[d];
            if (++idx[d] < x->shape[d]) break;
            oi -= os[d] * x->shape[d];
            idx[d] = 0;
        }
    }
    *map = m;
    return true;
}

tg_tensor *tg__reduce_expand(tg_tape *tp, tg_tensor *g, const tg_tensor *x, const bool *red,
                             bool keepdim)
{
    int64_t ks[TG_MAX_DIMS];
    int kn = tg__reduced_shape(x, red, true, ks);
    tg_tensor *gk = keepdim ? g : tg_reshape(tp, g, kn, ks);
    return tg_broadcast_to(tp, gk, x->ndim, x->shape);
}

int tg__axes_list(const tg_tensor *x, const bool *red, int *axes)
{
    int n = 0;
    for (int d = 0; d < x->ndim; d++)
        if (red[d]) axes[n++] = d;
    return n;
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_reduce[] = {&k_sum, &k_mean, &k_sum_to, &k_max, &k_min, NULL};
