/* More reductions over an axis list, keepdim as tg_sum: prod, logsumexp
 * and norm (fused ops with their own rules), var and std (composites of
 * existing ops: two passes, as stable as a fused op), and argmax / argmin
 * (an index tensor, not differentiable, not recorded).
 *
 * Each fused op's output element reduces the elements of x that map to it
 * (tg__reduce_map); its op-built rule is written with ops, so create_graph
 * can differentiate it again, and its direct rule does the same arithmetic
 * in loops. */
#include "reduce.h"

#include "../core/parallel.h"

#include <float.h>

/* norm prints its order with the shared attribute printer */
static const tg_op k_norm;

typedef struct stat_attr {
    bool red[TG_MAX_DIMS];
    bool keepdim;
    double p; /* norm's order */
} stat_attr;

/* The common front of the fused reductions: inputs, axes, output. */
static tg_tensor *stat_begin(tg_tape *tp, const char *op, tg_tensor *x, int naxes, const int *axes,
                             bool keepdim, stat_attr *at)
{
    if (!tg_tape_check_inputs(tp, op, 1, &x)) return NULL;
    at->keepdim = keepdim;
    if (!tg__axes_flags(tp, op, NULL, x, naxes, axes, at->red)) return NULL;
    int64_t shape[TG_MAX_DIMS];
    int k = tg__reduced_shape(x, at->red, keepdim, shape);
    return tg_tape_alloc(tp, x->dtype, k, shape);
}

/* A constant of x's shape and dtype, v[i] = f(i) written by the caller. */
static tg_tensor *like(tg_tape *tp, const tg_tensor *x)
{
    return tg__const_full(tp, x->dtype, x->ndim, x->shape, 0);
}

/* The tangent of a reduction whose output elements each reduce their own
 * elements of x: sum over the axes of t * (dy / dx), the partials being
 * the backward rule's gradient for g = 1 (built from ops: differentiable
 * again). */
static tg_status stat_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const stat_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *y = tg_node_output(n);
    tg_tensor *ones = tg__const_full(tp, y->dtype, y->ndim, y->shape, 1.0), *gin[1] = {NULL};
    if (!ones) return tg_tape_status(tp);
    const tg_status st = tg_node_op(n)->backward(tp, n, ones, gin);
    if (st != TG_OK) return st;
    tg_tensor *p = tg_mul(tp, tin[0], gin[0]);
    int axes[TG_MAX_DIMS];
    const int na = tg__axes_list(x, at->red, axes);
    /* a 0-d x over its axis 0: y = f(x) elementwise */
    *tout = na ? tg_sum(tp, p, na, axes, at->keepdim) : p;
    return TG_OK;
}

/* "axis=1" or "axes=(0,2)", "keepdim=1", then "p=3" for norm */
static int stat_attrs(const tg_node *n, char *buf, size_t size)
{
    const stat_attr *at = tg_node_saved(n);
    char p[48] = "";
    if (tg_node_op(n) == &k_norm) snprintf(p, sizeof p, "p=%g", at->p);
    return tg__axes_attrs(tg_node_input(n, 0), at->red, at->keepdim, p, buf, size);
}

/* ---- threads ---------------------------------------------------------------
 * The fused loops go by output elements (tg__red_plan, reduce.h): pieces of
 * outputs, each walking its elements in x's order as the serial loop did,
 * so every output, and every element of a gradient, has the same bits on
 * any number of threads.  Threads above STAT_PAR_MIN elements of x
 * (docs/performance.md, "Thread thresholds: sums and map reductions along
 * axes"). */
#define STAT_PAR_MIN ((int64_t)1 << 14)

/* The plan of x reduced over red and its threads (x with elements). */
static int stat_plan(tg__red_plan *pl, const tg_tensor *x, const bool *red)
{
    tg__red_plan_init(pl, x, red);
    return tg__par_threads(x->numel, STAT_PAR_MIN);
}

/* ---- prod ------------------------------------------------------------------
 * y = prod x over the axes.  dy/dx_i = prod_{j != i} x_j: y / x_i when no
 * factor is 0; with one zero, the product of the others at the zero and 0
 * elsewhere; with two or more, 0 everywhere.  The op-built rule keeps each
 * case a function of x that create_graph differentiates right to second
 * order: with c zeros in a product, z their mask, x' = x with its zeros
 * replaced by 1 (x (1 - z) + z: no derivative at a zero), P' = prod x',
 * S = sum x z (0, but each zero's derivative is 1):
 *     dx = g P' [ (1 - z) K / x' + z ([c = 1] + [c = 2] (S - x)) ],
 *     K = [c = 0] + [c = 1] S
 * (at a zero of a product with two, prod_{j != i} x_j = (S - x_i) P').
 * Without zeros (the common case) it is g (y / x). */
static tg_tensor *prod_red(tg_tape *tp, tg_tensor *x, const bool *red, bool keepdim);

static bool any_zero(const tg_tensor *x)
{
    bool z = false;
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data;
        for (int64_t i = 0; i < x->numel && !z; i++) z = v[i] == 0;
    });
    return z;
}

/* Per output: the number of zeros (counted up to 3) into c[]. */
static bool zero_counts(tg_tape *tp, const tg_tensor *x, const bool *red, int64_t m, int8_t **c)
{
    int64_t *map;
    if (!tg__reduce_map(tp, x, red, &map)) return false;
    int8_t *cc = tg__tape_scratch(tp, (size_t)m + 1);
    if (!cc) return false;
    memset(cc, 0, (size_t)m + 1);
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data;
        for (int64_t i = 0; i < x->numel; i++)
            if (v[i] == 0 && cc[map[i]] < 3) cc[map[i]]++;
    });
    *c = cc;
    return true;
}

static tg_status prod_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const stat_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *y = tg_node_output(n);
    const bool kd = at->keepdim;
    if (!any_zero(x)) {
        gin[0] = tg_mul(tp, tg__reduce_expand(tp, g, x, at->red, kd),
                        tg_div(tp, tg__reduce_expand(tp, y, x, at->red, kd), x));
        return TG_OK;
    }
    int axes[TG_MAX_DIMS];
    const int na = tg__axes_list(x, at->red, axes);
    if (na == 0) { /* a 0-d x over its axis 0: y = x */
        gin[0] = g;
        return TG_OK;
    }
    int8_t *c;
    if (!zero_counts(tp, x, at->red, y->numel, &c)) return tg_tape_status(tp);
    int64_t ks[TG_MAX_DIMS];
    const int kn = tg__reduced_shape(x, at->red, true, ks);
    tg_tensor *z = like(tp, x), *a[3];
    for (int j = 0; j < 3; j++) a[j] = tg__const_full(tp, x->dtype, kn, ks, 0);
    if (!z || !a[0] || !a[1] || !a[2]) return tg_tape_status(tp);
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data;
        T *zz = z->data;
        for (int64_t i = 0; i < x->numel; i++) zz[i] = v[i] == 0;
        for (int j = 0; j < 3; j++)
            for (int64_t o = 0; o < y->numel; o++) ((T *)a[j]->data)[o] = c[o] == j;
    });
    tg_tensor *nz = tg_rsub_scalar(tp, 1, z);
    tg_tensor *xp = tg_add(tp, tg_mul(tp, x, nz), z);
    tg_tensor *pp = prod_red(tp, xp, at->red, true);
    tg_tensor *sz = tg_sum(tp, tg_mul(tp, x, z), na, axes, true);
    tg_tensor *k = tg_add(tp, a[0], tg_mul(tp, a[1], sz));
    tg_tensor *t_nz = tg_div(tp, tg_mul(tp, nz, tg__reduce_expand(tp, k, x, at->red, true)), xp);
    tg_tensor *cz = tg_add(tp, a[1], tg_mul(tp, a[2], tg_sub(tp, sz, x)));
    tg_tensor *t_z = tg_mul(tp, z, tg_broadcast_to(tp, cz, x->ndim, x->shape));
    tg_tensor *gp = tg_mul(tp, tg__reduce_expand(tp, g, x, at->red, kd),
                           tg__reduce_expand(tp, pp, x, at->red, true));
    gin[0] = tg_mul(tp, gp, tg_add(tp, t_nz, t_z));
    return TG_OK;
}

/* d (+)= g (y / x) without zeros; with c zeros in an output's product:
 * c = 1: g P' at the zero, 0 elsewhere; c > 1: 0 (P' the product of the
 * nonzero factors, in the order of x as the op-built rule's prod of x'). */
static tg_status prod_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const stat_attr *at = tg_node_saved(n);
    const tg_tensor *x = n->in[0], *y = tg_node_output(n);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    if (x->numel == 0) return TG_OK;
    const bool zeros = any_zero(x);
    int8_t *c = NULL;
    size_t bytes;
    /* per output: its zeros, counted up to 3, and the product of the others */
    if (!tg__mul_size((size_t)y->numel + 1, sizeof(double) + 1, &bytes)) bytes = SIZE_MAX;
    double *pp = zeros ? tg__tape_scratch(tp, bytes) : NULL;
    if (zeros && !pp) return tg_tape_status(tp);
    if (zeros) c = (int8_t *)(pp + y->numel + 1);
    tg__red_plan pl;
    const int nt = stat_plan(&pl, x, at->red);
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data, *gg = g->data, *yy = y->data;
        T *dd = d->data;
        TG__RED_PIECES(&pl, nt, r0, r1, c0, c1, {
            if (zeros) {
                for (int64_t r = r0; r < r1; r++)
                    for (int64_t j = c0; j < c1; j++) {
                        pp[r * pl.inner + j] = 1;
                        c[r * pl.inner + j] = 0;
                    }
                /* the product in T, in x's order, as the op-built rule's prod of x' */
                TG__RED_ELEMS(&pl, r0, r1, c0, c1, o, i, {
                    if (v[i] != 0)
                        pp[o] = (double)((T)pp[o] * v[i]);
                    else if (c[o] < 3)
                        c[o]++;
                });
            }
            TG__RED_ELEMS(&pl, r0, r1, c0, c1, o, i, {
                T r;
                if (!zeros || c[o] == 0)
                    r = gg[o] * (yy[o] / v[i]);
                else
                    r = c[o] == 1 && v[i] == 0 ? gg[o] * (T)pp[o] : 0;
                dd[i] = acc ? dd[i] + r : r;
            });
        });
    });
    return TG_OK;
}
static const tg_op k_prod = {.name = "prod",
                             .arity = 1,
                             .backward = prod_backward,
                             .direct = prod_direct,
                             .scalar = NULL,
                             .jvp = stat_jvp,
                             .formula =
                                 "dx_i += g * prod_{j != i} x_j  (g * y / x_i without zeros)",
                             .attrs = stat_attrs};

static tg_tensor *prod_record(tg_tape *tp, tg_tensor *x, tg_tensor *out, const stat_attr *at)
{
    TG_DISPATCH(x->dtype, T, {
        T *o = out->data;
        const T *v = x->data;
        /* the product of nothing is 1 */
        if (x->numel == 0) {
            for (int64_t i = 0; i < out->numel; i++) o[i] = 1;
            break;
        }
        tg__red_plan pl;
        const int nt = stat_plan(&pl, x, at->red);
        TG__RED_PIECES(&pl, nt, r0, r1, c0, c1, {
            for (int64_t r = r0; r < r1; r++)
                for (int64_t j = c0; j < c1; j++) o[r * pl.inner + j] = 1;
            TG__RED_ELEMS(&pl, r0, r1, c0, c1, oi, xi, o[oi] *= v[xi]);
        });
    });
    return tg_tape_record(tp, &k_prod, 1, &x, out, at, sizeof *at, 0, NULL);
}

static tg_tensor *prod_red(tg_tape *tp, tg_tensor *x, const bool *red, bool keepdim)
{
    if (!tg_tape_check_inputs(tp, k_prod.name, 1, &x)) return NULL;
    stat_attr at = {.keepdim = keepdim};
    for (int d = 0; d < TG_MAX_DIMS; d++) at.red[d] = red[d];
    int64_t shape[TG_MAX_DIMS];
    int kn = tg__reduced_shape(x, at.red, keepdim, shape);
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, kn, shape);
    return out ? prod_record(tp, x, out, &at) : NULL;
}

tg_tensor *tg_prod(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, bool keepdim)
{
    stat_attr at = {0};
    tg_tensor *out = stat_begin(tp, k_prod.name, x, naxes, axes, keepdim, &at);
    return out ? prod_record(tp, x, out, &at) : NULL;
}

/* ---- logsumexp -------------------------------------------------------------
 * y = m + log sum exp(x - m), m the max over the axes (no overflow: every
 * exp is at most 1); -inf over nothing or over -inf only, +inf when an
 * element is +inf, NaN when one is NaN.  dx = g exp(x - y) (the softmax
 * over the axes).  Where y is -inf (every element -inf) the gradient is 0:
 * x - y is NaN there, so y is raised to the lowest finite value first
 * (PyTorch gives NaN). */
static tg_status lse_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const stat_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *y = tg_node_output(n);
    bool ninf = false;
    TG_DISPATCH(y->dtype, T, {
        const T *v = y->data;
        for (int64_t i = 0; i < y->numel && !ninf; i++) ninf = v[i] == -INFINITY;
    });
    if (ninf) {
        const double lo = y->dtype == TG_F64 ? -DBL_MAX : -FLT_MAX;
        tg_tensor *c = tg__const_full(tp, y->dtype, y->ndim, y->shape, lo);
        y = tg_maximum(tp, y, c);
    }
    tg_tensor *e = tg_exp(tp, tg_sub(tp, x, tg__reduce_expand(tp, y, x, at->red, at->keepdim)));
    gin[0] = tg_mul(tp, tg__reduce_expand(tp, g, x, at->red, at->keepdim), e);
    return TG_OK;
}

static tg_status lse_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const stat_attr *at = tg_node_saved(n);
    const tg_tensor *x = n->in[0], *y = tg_node_output(n);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    if (x->numel == 0) return TG_OK;
    tg__red_plan pl;
    const int nt = stat_plan(&pl, x, at->red);
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data, *gg = g->data, *yy = y->data;
        const T lo = sizeof(T) == sizeof(double) ? (T)-DBL_MAX : (T)-FLT_MAX;
        T *dd = d->data;
        TG__RED_PIECES(&pl, nt, r0, r1, c0, c1, {
            TG__RED_ELEMS(&pl, r0, r1, c0, c1, o, i, {
                const T yo = yy[o] == -INFINITY ? lo : yy[o];
                const T r = gg[o] * TG_EXP(v[i] - yo);
                dd[i] = acc ? dd[i] + r : r;
            });
        });
    });
    return TG_OK;
}
static const tg_op k_logsumexp = {.name = "logsumexp",
                                  .arity = 1,
                                  .backward = lse_backward,
                                  .direct = lse_direct,
                                  .scalar = NULL,
                                  .jvp = stat_jvp,
                                  .formula = "dx += g * exp(x - y)",
                                  .attrs = stat_attrs};

tg_tensor *tg_logsumexp(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, bool keepdim)
{
    stat_attr at = {0};
    tg_tensor *out = stat_begin(tp, k_logsumexp.name, x, naxes, axes, keepdim, &at);
    if (!out) return NULL;
    const int64_t m = out->numel;
    size_t bytes;
    if (!tg__mul_size((size_t)m + 1, 2 * sizeof(double), &bytes)) bytes = SIZE_MAX;
    double *mx = tg__tape_scratch(tp, bytes);
    if (!mx) return NULL;
    double *s = mx + m;
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data;
        T *y = out->data;
        if (x->numel == 0) { /* over nothing: -inf */
            for (int64_t o = 0; o < m; o++) y[o] = (T)-INFINITY;
            break;
        }
        tg__red_plan pl;
        const int nt = stat_plan(&pl, x, at.red);
        TG__RED_PIECES(&pl, nt, r0, r1, c0, c1, {
            for (int64_t r = r0; r < r1; r++)
                for (int64_t j = c0; j < c1; j++) {
                    mx[r * pl.inner + j] = -INFINITY;
                    s[r * pl.inner + j] = 0;
                }
            TG__RED_ELEMS(&pl, r0, r1, c0, c1, o, i, {
                const double c = v[i];
                /* a NaN stays: nothing compares greater than it */
                if (c > mx[o] || c != c) mx[o] = mx[o] != mx[o] ? mx[o] : c;
            });
            TG__RED_ELEMS(&pl, r0, r1, c0, c1, o, i, {
                if (isfinite(mx[o])) s[o] += exp((double)v[i] - mx[o]);
            });
            for (int64_t r = r0; r < r1; r++)
                for (int64_t j = c0; j < c1; j++) {
                    const int64_t o = r * pl.inner + j;
                    y[o] = (T)(isfinite(mx[o]) ? mx[o] + log(s[o]) : mx[o]);
                }
        });
    });
    return tg_tape_record(tp, &k_logsumexp, 1, &x, out, &at, sizeof at, 0, NULL);
}

/* ---- norm ------------------------------------------------------------------
 * y = (sum |x|^p)^(1/p) over the axes, p > 0; p = INFINITY: max |x|.
 * Computed scaled by s = max |x| (s (sum (|x|/s)^p)^(1/p)), so that no
 * power overflows or underflows; 0 over nothing.
 *     p = 1:   dx = g sign x
 *     p = 2:   dx = g x / y
 *     p = inf: dx = g sign x at the first element with |x| = y, 0 elsewhere
 *              (tg_max's choice; PyTorch spreads g evenly over ties)
 *     else:    dx = g sign x (|x| / y)^(p-1)
 * At y = 0 (x = 0 over the whole reduction) the gradient is 0, as in
 * PyTorch (a subgradient; y is raised to 1 there, x is 0 anyway); for p < 1
 * an element that is 0 gets 0 (|x| raised to 1 there: sign x is 0), as in
 * PyTorch. */
static tg_status norm_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const stat_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *y = tg_node_output(n);
    const bool kd = at->keepdim;
    const double p = at->p;
    tg_tensor *ge = tg__reduce_expand(tp, g, x, at->red, kd);
    if (p == 1) {
        gin[0] = tg_mul(tp, ge, tg_sign(tp, x));
        return TG_OK;
    }
    if (isinf(p)) {
        int64_t *map;
        if (!tg__reduce_map(tp, x, at->red, &map)) return tg_tape_status(tp);
        tg_tensor *mask = like(tp, x);
        bool *seen = tg__tape_scratch(tp, (size_t)y->numel + 1);
        if (!mask || !seen) return tg_tape_status(tp);
        memset(seen, 0, (size_t)y->numel + 1);
        TG_DISPATCH(x->dtype, T, {
            const T *v = x->data, *yy = y->data;
            T *mm = mask->data;
            for (int64_t i = 0; i < x->numel; i++)
                if (!seen[map[i]] && TG_FABS(v[i]) == yy[map[i]]) {
                    seen[map[i]] = true;
                    mm[i] = 1;
                }
        });
        gin[0] = tg_mul(tp, ge, tg_mul(tp, tg_sign(tp, x), mask));
        return TG_OK;
    }
    /* y raised to 1 where it is 0 */
    tg_tensor *y0 = tg__const_full(tp, y->dtype, y->ndim, y->shape, 0);
    if (!y0) return tg_tape_status(tp);
    TG_DISPATCH(y->dtype, T, {
        for (int64_t i = 0; i < y->numel; i++) ((T *)y0->data)[i] = ((const T *)y->data)[i] == 0;
    });
    tg_tensor *ys = tg__reduce_expand(tp, tg_add(tp, y, y0), x, at->red, kd);
    if (p == 2) {
        gin[0] = tg_mul(tp, ge, tg_div(tp, x, ys));
        return TG_OK;
    }
    tg_tensor *ax = tg_abs(tp, x);
    if (p < 1) {
        tg_tensor *z = like(tp, x);
        if (!z) return tg_tape_status(tp);
        TG_DISPATCH(x->dtype, T, {
            for (int64_t i = 0; i < x->numel; i++) ((T *)z->data)[i] = ((const T *)x->data)[i] == 0;
        });
        ax = tg_add(tp, ax, z);
    }
    tg_tensor *r = tg_pow_scalar(tp, tg_div(tp, ax, ys), p - 1);
    gin[0] = tg_mul(tp, ge, tg_mul(tp, tg_sign(tp, x), r));
    return TG_OK;
}

static tg_status norm_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const stat_attr *at = tg_node_saved(n);
    const tg_tensor *x = n->in[0], *y = tg_node_output(n);
    const double p = at->p;
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    if (x->numel == 0) return TG_OK;
    bool *seen = tg__tape_scratch(tp, (size_t)y->numel + 1);
    if (!seen) return tg_tape_status(tp);
    memset(seen, 0, (size_t)y->numel + 1);
    tg__red_plan pl;
    const int nt = stat_plan(&pl, x, at->red);
    /* p = inf: the first element of an output at |x| = y, in x's order */
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data, *gg = g->data, *yy = y->data;
        T *dd = d->data;
        TG__RED_PIECES(&pl, nt, r0, r1, c0, c1, TG__RED_ELEMS(&pl, r0, r1, c0, c1, o, i, {
            const T xi = v[i], sg = (T)((xi > 0) - (xi < 0)), ys = yy[o] == 0 ? 1 : yy[o];
            T r;
            if (p == 1) {
                r = gg[o] * sg;
            } else if (isinf(p)) {
                T mk = 0;
                if (!seen[o] && TG_FABS(xi) == yy[o]) {
                    seen[o] = true;
                    mk = 1;
                }
                r = gg[o] * (sg * mk);
            } else if (p == 2) {
                r = gg[o] * (xi / ys);
            } else {
                const T ax = TG_FABS(xi) + (T)(p < 1 && xi == 0);
                r = gg[o] * (sg * TG_POW(ax / ys, (T)(p - 1)));
            }
            dd[i] = acc ? dd[i] + r : r;
        }));
    });
    return TG_OK;
}
static const tg_op k_norm = {
    .name = "norm",
    .arity = 1,
    .backward = norm_backward,
    .direct = norm_direct,
    .scalar = NULL,
    .jvp = stat_jvp,
    .formula = "dx += g * sign(x) * (|x| / y)^(p-1)  (p = 2: g * x / y; p = inf: g sign(x) at the "
               "first |x| = y)",
    .attrs = stat_attrs};

tg_tensor *tg_norm(tg_tape *tp, tg_tensor *x, double p, int naxes, const int *axes, bool keepdim)
{
    stat_attr at = {.p = p};
    if (!tg_tape_check_inputs(tp, k_norm.name, 1, &x)) return NULL;
    if (!(p > 0)) {
        char s[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, TG_ERR_ARG, "norm: order p = %g for %s (p must be > 0, or INFINITY)", p,
                     tg_tensor_describe(x, s, sizeof s));
        return NULL;
    }
    tg_tensor *out = stat_begin(tp, k_norm.name, x, naxes, axes, keepdim, &at);
    if (!out) return NULL;
    const int64_t m = out->numel;
    size_t bytes;
    if (!tg__mul_size((size_t)m + 1, 2 * sizeof(double), &bytes)) bytes = SIZE_MAX;
    double *sc = tg__tape_scratch(tp, bytes);
    if (!sc) return NULL;
    double *s = sc + m;
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data;
        T *y = out->data;
        if (x->numel == 0) { /* over nothing: 0 */
            for (int64_t o = 0; o < m; o++) y[o] = 0;
            break;
        }
        tg__red_plan pl;
        const int nt = stat_plan(&pl, x, at.red);
        TG__RED_PIECES(&pl, nt, r0, r1, c0, c1, {
            for (int64_t r = r0; r < r1; r++)
                for (int64_t j = c0; j < c1; j++) sc[r * pl.inner + j] = s[r * pl.inner + j] = 0;
            TG__RED_ELEMS(&pl, r0, r1, c0, c1, o, i, {
                const double a = fabs((double)v[i]);
                /* a NaN stays */
                if (a > sc[o] || a != a) sc[o] = sc[o] != sc[o] ? sc[o] : a;
            });
            if (!isinf(p))
                TG__RED_ELEMS(&pl, r0, r1, c0, c1, o, i, {
                    const double so = sc[o];
                    if (so > 0 && isfinite(so)) {
                        const double r = fabs((double)v[i]) / so;
                        s[o] += p == 1 ? r : p == 2 ? r * r : pow(r, p);
                    }
                });
            for (int64_t r = r0; r < r1; r++)
                for (int64_t j = c0; j < c1; j++) {
                    const int64_t o = r * pl.inner + j;
                    const double so = sc[o];
                    double q = so;
                    if (!isinf(p) && so > 0 && isfinite(so))
                        q = so * (p == 1 ? s[o] : p == 2 ? sqrt(s[o]) : pow(s[o], 1 / p));
                    y[o] = (T)q;
                }
        });
    });
    return tg_tape_record(tp, &k_norm, 1, &x, out, &at, sizeof at, 0, NULL);
}

/* ---- var and std -----------------------------------------------------------
 * var = sum (x - mean x)^2 / (N - correction) over the axes, N their
 * element count: a composite of mean, sub, square, sum and mul_scalar (two
 * passes, as stable as a fused op; no descriptor of its own).  std is
 * norm(x - mean x, 2) / sqrt(N - correction), so that its gradient where
 * every element is equal is 0 (PyTorch's choice; sqrt of var would give
 * NaN there).  N - correction <= 0 is an error (PyTorch returns inf or
 * NaN), so is a reduction over nothing. */
static bool var_begin(tg_tape *tp, const char *op, tg_tensor *x, int naxes, const int *axes,
                      double correction, double *dof)
{
    if (!tg_tape_check_inputs(tp, op, 1, &x)) return false;
    bool red[TG_MAX_DIMS];
    if (!tg__axes_flags(tp, op, NULL, x, naxes, axes, red)) return false;
    int64_t count = 1;
    for (int d = 0; d < x->ndim; d++)
        if (red[d]) count *= x->shape[d] ? 1 : 0;
    for (int d = 0; d < x->ndim && count; d++)
        if (red[d] && !tg__mul_i64(count, x->shape[d], &count)) count = TG_NUMEL_MAX;
    char s[TG_SHAPE_BUF + 8];
    if (count == 0) {
        tg_tape_fail(tp, TG_ERR_EMPTY, "%s: no elements to reduce in %s", op,
                     tg_tensor_describe(x, s, sizeof s));
        return false;
    }
    *dof = (double)count - correction;
    if (!isfinite(correction) || !(*dof > 0)) {
        tg_tape_fail(tp, TG_ERR_ARG,
                     "%s: correction %g leaves N - correction = %g <= 0 for %lld elements of %s "
                     "(N - correction must be > 0)",
                     op, correction, *dof, (long long)count, tg_tensor_describe(x, s, sizeof s));
        return false;
    }
    return true;
}

static tg_tensor *centered(tg_tape *tp, tg_tensor *x, int naxes, const int *axes)
{
    return tg_sub(tp, x, tg_mean(tp, x, naxes, axes, true));
}

tg_tensor *tg_var(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, double correction,
                  bool keepdim)
{
    double dof;
    if (!var_begin(tp, "var", x, naxes, axes, correction, &dof)) return NULL;
    tg_tensor *ss = tg_sum(tp, tg_square(tp, centered(tp, x, naxes, axes)), naxes, axes, keepdim);
    return tg_mul_scalar(tp, ss, 1 / dof);
}

tg_tensor *tg_std(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, double correction,
                  bool keepdim)
{
    double dof;
    if (!var_begin(tp, "std", x, naxes, axes, correction, &dof)) return NULL;
    tg_tensor *r = tg_norm(tp, centered(tp, x, naxes, axes), 2, naxes, axes, keepdim);
    return tg_mul_scalar(tp, r, 1 / sqrt(dof));
}

/* ---- argmax / argmin -------------------------------------------------------
 * The index along axis of the first max (min) element, a tape-owned TG_I64
 * tensor: data, not recorded (no node: nothing to differentiate, and no op
 * takes it as an input; tg_tape_check_inputs refuses it).  A NaN counts as
 * the max and as the min, as in tg_max and tg_min.
 *
 * Each index is found alone, as tg_max's outputs (reduce.c): pieces of
 * ARG_IBLOCK outputs of one outer index shared among threads above
 * ARG_PAR_MIN elements of x (docs/performance.md, "Thread thresholds:
 * losses, norms and axis reductions"). */
#define ARG_PAR_MIN ((int64_t)1 << 13)
#define ARG_IBLOCK  ((int64_t)1 << 7)
static tg_tensor *arg_extreme(tg_tape *tp, const char *op, tg_tensor *x, int axis, bool keepdim,
                              bool min)
{
    if (!tg_tape_check_inputs(tp, op, 1, &x)) return NULL;
    if (tg__scalar_axis(x, axis)) {
        tg_tensor *r = tg__tape_alloc_index(tp, 0, NULL);
        if (r) ((int64_t *)r->data)[0] = 0;
        return r;
    }
    int a;
    if (!tg__norm_axis(tp, op, x, axis, &a)) return NULL;
    if (x->shape[a] == 0) {
        char s[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, TG_ERR_EMPTY, "%s: axis %d of %s is empty (the %s of nothing)", op, axis,
                     tg_tensor_describe(x, s, sizeof s), op);
        return NULL;
    }
    bool red[TG_MAX_DIMS] = {false};
    red[a] = true;
    int64_t shape[TG_MAX_DIMS];
    const int k = tg__reduced_shape(x, red, keepdim, shape);
    tg_tensor *out = tg__tape_alloc_index(tp, k, shape);
    if (!out) return NULL;
    const int64_t outer = tg__prod_range(x, 0, a), inner = tg__prod_range(x, a + 1, x->ndim);
    const int64_t ext = x->shape[a], nib = TG_PAR_PIECES(inner, ARG_IBLOCK);
    int64_t *o = out->data;
    const int nt = tg__par_threads(x->numel, ARG_PAR_MIN);
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data;
        TG_PAR_FOR(nt, inner > 0 ? outer * nib : 0, u, {
            const int64_t b = u / nib, i0 = u % nib * ARG_IBLOCK;
            const int64_t i1 = inner - i0 < ARG_IBLOCK ? inner : i0 + ARG_IBLOCK;
            const T *vb = v + b * ext * inner;
            for (int64_t i = i0; i < i1; i++) {
                T best = vb[i];
                int64_t arg = 0;
                for (int64_t j = 1; j < ext && best == best; j++) {
                    const T c = vb[j * inner + i];
                    if ((min ? c < best : c > best) || c != c) {
                        best = c;
                        arg = j;
                    }
                }
                o[b * inner + i] = arg;
            }
        });
    });
    return out;
}

tg_tensor *tg_argmax(tg_tape *tp, tg_tensor *x, int axis, bool keepdim)
{
    return arg_extreme(tp, "argmax", x, axis, keepdim, false);
}

tg_tensor *tg_argmin(tg_tape *tp, tg_tensor *x, int axis, bool keepdim)
{
    return arg_extreme(tp, "argmin", x, axis, keepdim, true);
}

/* Every built-in op descriptor of this file (src/ops/registry.c). */
#include "registry.h"
const tg_op *const tg__ops_reduce_stat[] = {&k_prod, &k_logsumexp, &k_norm, NULL};
