/* Scans along one axis: cumsum and cumprod (inclusive, as in NumPy and
 * PyTorch), fused ops with their own rules.  x is seen as (outer, ext,
 * inner) around the axis; a 0-d x takes axis 0 or -1 as one element. */
#include "reduce.h"

typedef struct scan_attr {
    int axis;     /* normalised; -1 for a 0-d x */
    bool reverse; /* cumsum only: y_k = sum_{j >= k} x_j (the adjoint) */
} scan_attr;

static void scan_dims(const tg_tensor *x, int axis, int64_t *outer, int64_t *ext, int64_t *inner)
{
    if (axis < 0) {
        *outer = *ext = *inner = 1;
        return;
    }
    *ext = x->shape[axis];
    /* no elements: no lines either (the other extents' product may still
     * be huge, and a line's scratch is sized by it) */
    if (x->numel == 0) {
        *outer = *inner = 0;
        return;
    }
    *outer = tg__prod_range(x, 0, axis);
    *inner = tg__prod_range(x, axis + 1, x->ndim);
}

/* Element k of line (b, i) of a scan over ext elements is at
 * (b ext + k) inner + i. */
static inline int64_t scan_at(int64_t ext, int64_t inner, int64_t b, int64_t k, int64_t i)
{
    return (b * ext + k) * inner + i;
}

/* ---- cumsum ----------------------------------------------------------------
 * y_k = sum_{j <= k} x_j; dx = the reverse scan of g (sum_{k >= j} g_k),
 * recorded as cumsum with reverse set (an exact sum, not total - cumsum),
 * whose own gradient is the forward scan again.  Sums in double. */
static tg_tensor *cumsum_impl(tg_tape *tp, tg_tensor *x, int axis, bool reverse);

static tg_status cumsum_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const scan_attr *at = tg_node_saved(n);
    gin[0] = cumsum_impl(tp, g, at->axis, !at->reverse);
    return TG_OK;
}

static void scan_sum(const tg_tensor *x, int axis, bool reverse, void *dst, bool acc)
{
    int64_t outer, ext, inner;
    scan_dims(x, axis, &outer, &ext, &inner);
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data;
        T *y = dst;
        for (int64_t b = 0; inner > 0 && b < outer; b++)
            for (int64_t i = 0; i < inner; i++) {
                double s = 0;
                for (int64_t kk = 0; kk < ext; kk++) {
                    const int64_t k = reverse ? ext - 1 - kk : kk;
                    s += v[scan_at(ext, inner, b, k, i)];
                    const T r = (T)s;
                    y[scan_at(ext, inner, b, k, i)] = acc ? y[scan_at(ext, inner, b, k, i)] + r : r;
                }
            }
    });
}

static tg_status cumsum_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const scan_attr *at = tg_node_saved(n);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    scan_sum(g, at->axis, !at->reverse, d->data, acc);
    return TG_OK;
}
/* linear: the same scan of the tangent */
static tg_status cumsum_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const scan_attr *at = tg_node_saved(n);
    *tout = cumsum_impl(tp, tin[0], at->axis, at->reverse);
    return TG_OK;
}

/* "axis=1" (", reverse=1" for the adjoint scan) */
static int scan_attrs(const tg_node *n, char *buf, size_t size)
{
    const scan_attr *at = tg_node_saved(n);
    return snprintf(buf, size, "axis=%d%s", at->axis < 0 ? 0 : at->axis,
                    at->reverse ? ", reverse=1" : "");
}

/* one element: a copy (the sum of one value in double is the value) */
static const tg_op k_cumsum = {.name = "cumsum",
                               .arity = 1,
                               .backward = cumsum_backward,
                               .direct = cumsum_direct,
                               .scalar = tg__scalar_identity,
                               .jvp = cumsum_jvp,
                               .formula = "dx_j += sum_{k >= j} g_k  (sum_{k <= j} for reverse=1)",
                               .attrs = scan_attrs};

static bool scan_axis(tg_tape *tp, const char *op, const tg_tensor *x, int axis, int *a)
{
    if (tg__scalar_axis(x, axis)) {
        *a = -1;
        return true;
    }
    return tg__norm_axis(tp, op, x, axis, a);
}

static tg_tensor *cumsum_impl(tg_tape *tp, tg_tensor *x, int axis, bool reverse)
{
    if (!tg_tape_check_inputs(tp, k_cumsum.name, 1, &x)) return NULL;
    scan_attr at = {.reverse = reverse};
    if (!scan_axis(tp, k_cumsum.name, x, axis, &at.axis)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, x->ndim, x->shape);
    if (!out) return NULL;
    scan_sum(x, at.axis, reverse, out->data, false);
    return tg_tape_record(tp, &k_cumsum, 1, &x, out, &at, sizeof at, 0, NULL);
}

tg_tensor *tg_cumsum(tg_tape *tp, tg_tensor *x, int axis)
{
    return cumsum_impl(tp, x, axis, false);
}

/* ---- cumprod ---------------------------------------------------------------
 * y_k = prod_{j <= k} x_j; dx_i = sum_{k >= i} g_k prod_{j <= k, j != i} x_j.
 * Without a zero in the line: dx = revcumsum(g y) / x.  With zeros, z the
 * first and z2 the second (the line's length if none):
 *     i < z:  revcumsum(g y)_i / x_i    (y_k = 0 from z on: the same sum)
 *     i = z:  sum_{z <= k < z2} g_k y'_k, y' = cumprod of x with its zeros
 *             replaced by 1 (the products that skip x_z)
 *     i > z:  0.
 * The op-built rule writes this with constant masks (B: i < z, Z: i = z,
 * A: z <= k < z2), x' = x (1 - zeros) + zeros:
 *     dx = B revcumsum(g y) / x' + Z sum_axis(A g cumprod(x'))
 * exact to first order; its derivative is exact without zeros, and with
 * zeros except for the i > z entries (0 here, whose true derivative in
 * x_z is not). */
static tg_tensor *cumprod_impl(tg_tape *tp, tg_tensor *x, int axis);

/* Per line, the first and second zero (ext when none); NULL on OOM. */
static int64_t *line_zeros(tg_tape *tp, const tg_tensor *x, int axis, bool *any)
{
    int64_t outer, ext, inner;
    scan_dims(x, axis, &outer, &ext, &inner);
    const int64_t lines = inner > 0 ? outer * inner : 0;
    size_t bytes;
    if (!tg__mul_size((size_t)lines + 1, 2 * sizeof(int64_t), &bytes)) bytes = SIZE_MAX;
    int64_t *z = tg__tape_scratch(tp, bytes);
    if (!z) return NULL;
    *any = false;
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data;
        for (int64_t b = 0; b < outer && inner > 0; b++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t *zl = z + 2 * (b * inner + i);
                zl[0] = zl[1] = ext;
                for (int64_t k = 0; k < ext; k++)
                    if (v[scan_at(ext, inner, b, k, i)] == 0) {
                        if (zl[0] == ext)
                            zl[0] = k;
                        else if (zl[1] == ext)
                            zl[1] = k;
                    }
                *any |= zl[0] < ext;
            }
    });
    return z;
}

/* The constant masks of the rules with zeros, x's shape: zm x = 0, bm
 * k < z, fz k = z, am z <= k < z2 (zs from line_zeros). */
static bool zero_masks(tg_tape *tp, const tg_tensor *x, int axis, const int64_t *zs, tg_tensor **zm,
                       tg_tensor **bm, tg_tensor **fz, tg_tensor **am)
{
    tg_tensor **m[4] = {zm, bm, fz, am};
    for (int j = 0; j < 4; j++) {
        *m[j] = tg__const_full(tp, x->dtype, x->ndim, x->shape, 0);
        if (!*m[j]) return false;
    }
    int64_t outer, ext, inner;
    scan_dims(x, axis, &outer, &ext, &inner);
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data;
        T *zz = (*zm)->data, *bb = (*bm)->data, *ff = (*fz)->data, *aa = (*am)->data;
        for (int64_t b = 0; b < outer && inner > 0; b++)
            for (int64_t i = 0; i < inner; i++) {
                const int64_t *zl = zs + 2 * (b * inner + i);
                for (int64_t k = 0; k < ext; k++) {
                    const int64_t e = scan_at(ext, inner, b, k, i);
                    zz[e] = v[e] == 0;
                    bb[e] = k < zl[0];
                    ff[e] = k == zl[0];
                    aa[e] = k >= zl[0] && k < zl[1];
                }
            }
    });
    return true;
}

static tg_status cumprod_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const scan_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *y = tg_node_output(n);
    bool any;
    int64_t *zs = line_zeros(tp, x, at->axis, &any);
    if (!zs) return tg_tape_status(tp);
    tg_tensor *rc = cumsum_impl(tp, tg_mul(tp, g, y), at->axis, true);
    if (!any) {
        gin[0] = tg_div(tp, rc, x);
        return TG_OK;
    }
    tg_tensor *zm, *bm, *fz, *am;
    if (!zero_masks(tp, x, at->axis, zs, &zm, &bm, &fz, &am)) return tg_tape_status(tp);
    tg_tensor *xp = tg_add(tp, tg_mul(tp, x, tg_rsub_scalar(tp, 1, zm)), zm);
    tg_tensor *t1 = tg_div(tp, tg_mul(tp, bm, rc), xp);
    tg_tensor *s = tg_mul(tp, tg_mul(tp, am, g), cumprod_impl(tp, xp, at->axis));
    tg_tensor *t2 = s;
    if (at->axis >= 0) {
        tg_tensor *sa = tg_sum(tp, s, 1, &at->axis, true);
        t2 = tg_broadcast_to(tp, sa, x->ndim, x->shape);
    }
    gin[0] = tg_add(tp, t1, tg_mul(tp, fz, t2));
    return TG_OK;
}

static tg_status cumprod_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const scan_attr *at = tg_node_saved(n);
    const tg_tensor *x = n->in[0], *y = tg_node_output(n);
    bool acc, any;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    int64_t *zs = line_zeros(tp, x, at->axis, &any);
    if (!zs) return tg_tape_status(tp);
    int64_t outer, ext, inner;
    scan_dims(x, at->axis, &outer, &ext, &inner);
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data, *gg = g->data, *yy = y->data;
        T *dd = d->data;
        for (int64_t b = 0; b < outer && inner > 0; b++)
            for (int64_t i = 0; i < inner; i++) {
                const int64_t *zl = zs + 2 * (b * inner + i);
                /* i = z: the products that skip x_z, from z to z2 */
                T gz = 0;
                if (zl[0] < ext) {
                    double s = 0;
                    T yp = zl[0] > 0 ? yy[scan_at(ext, inner, b, zl[0] - 1, i)] : 1;
                    for (int64_t kk = zl[0]; kk < zl[1]; kk++) {
                        if (kk > zl[0]) yp *= v[scan_at(ext, inner, b, kk, i)];
                        s += gg[scan_at(ext, inner, b, kk, i)] * yp;
                    }
                    gz = (T)s;
                }
                double s = 0;
                for (int64_t kk = ext - 1; kk >= 0; kk--) {
                    const int64_t e = scan_at(ext, inner, b, kk, i);
                    s += (T)(gg[e] * yy[e]);
                    const T r = kk < zl[0] ? (T)s / v[e] : kk == zl[0] ? gz : 0;
                    dd[e] = acc ? dd[e] + r : r;
                }
            }
    });
    return TG_OK;
}
/* Tangent: dy_k = sum_{i <= k} t_i prod_{j <= k, j != i} x_j.  Without a
 * zero in the line it is y cumsum(t / x); with zeros (masks as in the
 * backward rule): before the first zero the same with x', from it to the
 * second only the term i = z survives (t_z cumprod(x')_k), after the
 * second nothing:
 *     dy = B y cumsum(t / x') + A cumprod(x') sum_axis(Z t) */
static tg_status cumprod_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const scan_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *y = tg_node_output(n), *t = tin[0];
    bool any;
    int64_t *zs = line_zeros(tp, x, at->axis, &any);
    if (!zs) return tg_tape_status(tp);
    if (!any) {
        *tout = tg_mul(tp, y, cumsum_impl(tp, tg_div(tp, t, x), at->axis, false));
        return TG_OK;
    }
    tg_tensor *zm, *bm, *fz, *am;
    if (!zero_masks(tp, x, at->axis, zs, &zm, &bm, &fz, &am)) return tg_tape_status(tp);
    tg_tensor *xp = tg_add(tp, tg_mul(tp, x, tg_rsub_scalar(tp, 1, zm)), zm);
    tg_tensor *t1 =
        tg_mul(tp, bm, tg_mul(tp, y, cumsum_impl(tp, tg_div(tp, t, xp), at->axis, false)));
    tg_tensor *tz = tg_mul(tp, fz, t);
    if (at->axis >= 0)
        tz = tg_broadcast_to(tp, tg_sum(tp, tz, 1, &at->axis, true), x->ndim, x->shape);
    *tout = tg_add(tp, t1, tg_mul(tp, tg_mul(tp, am, cumprod_impl(tp, xp, at->axis)), tz));
    return TG_OK;
}

/* no scalar rule: a one-element cumprod is a copy, the direct rule is as fast */
static const tg_op k_cumprod = {
    .name = "cumprod",
    .arity = 1,
    .backward = cumprod_backward,
    .direct = cumprod_direct,
    .scalar = NULL,
    .jvp = cumprod_jvp,
    .formula = "dx_i += sum_{k >= i} g_k prod_{j <= k, j != i} x_j  (revcumsum(g * y) / x "
               "without zeros)",
    .attrs = scan_attrs};

static tg_tensor *cumprod_impl(tg_tape *tp, tg_tensor *x, int axis)
{
    if (!tg_tape_check_inputs(tp, k_cumprod.name, 1, &x)) return NULL;
    scan_attr at = {0};
    if (!scan_axis(tp, k_cumprod.name, x, axis, &at.axis)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, x->ndim, x->shape);
    if (!out) return NULL;
    int64_t outer, ext, inner;
    scan_dims(x, at.axis, &outer, &ext, &inner);
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data;
        T *y = out->data;
        for (int64_t b = 0; inner > 0 && b < outer; b++)
            for (int64_t i = 0; i < inner; i++) {
                T p = 1;
                for (int64_t k = 0; k < ext; k++) {
                    p *= v[scan_at(ext, inner, b, k, i)];
                    y[scan_at(ext, inner, b, k, i)] = p;
                }
            }
    });
    return tg_tape_record(tp, &k_cumprod, 1, &x, out, &at, sizeof at, 0, NULL);
}

tg_tensor *tg_cumprod(tg_tape *tp, tg_tensor *x, int axis)
{
    return cumprod_impl(tp, x, axis);
}

/* Every built-in op descriptor of this file (src/ops/registry.c). */
#include "registry.h"
const tg_op *const tg__ops_scan[] = {&k_cumsum, &k_cumprod, NULL};
