/* Selection and comparison: where, masked_fill, clamp (scalar and tensor
 * bounds), and the comparisons eq ne lt le gt ge.
 *
 * A condition or a mask is a float tensor of the operands' dtype, nonzero
 * meaning true (NaN too), as the comparisons make it: 0 or 1.  The
 * comparisons are recorded without a gradient (their output is piecewise
 * constant).  Every op-built rule is written with where and masked_fill
 * themselves, which select and never multiply, so a gradient that meets an
 * infinite or NaN value in a position it does not reach stays untouched
 * (g * 0 would be NaN there), and the rule can be differentiated again.
 *
 * Conventions (docs/api.md, "Selection and comparison"):
 *   - clamp's gradient passes to x where lo <= x <= hi, bounds included
 *     (PyTorch's); lo > hi gives hi everywhere (PyTorch's min(max(x, lo),
 *     hi)) and x no gradient; a NaN x stays NaN and gets no gradient;
 *   - clamp_tensor: lo's gradient where x < lo <= hi, hi's where x > hi or
 *     hi < lo (so at lo == hi the clamped value's gradient goes to lo,
 *     where PyTorch gives it to neither); a NaN bound element gives NaN. */
#include "../core/internal.h"
#include "../kernels/bcast.h"

/* out = EXPR over three operands t0, t1, t2 broadcast to out's shape, A, B
 * and C their elements: a walk over out with each operand's offset moving
 * by its broadcast strides (0 along a stretched axis). */
#define SEL_MAP3(T, out, t0, t1, t2, A, B, C, EXPR)                                                \
    do {                                                                                           \
        T *restrict o_ = (out)->data;                                                              \
        const T *restrict p0_ = (t0)->data, *restrict p1_ = (t1)->data,                            \
                          *restrict p2_ = (t2)->data;                                              \
        const int nd_ = (out)->ndim;                                                               \
        const int64_t *const ext_ = (out)->shape;                                                  \
        int64_t s0_[TG_MAX_DIMS], s1_[TG_MAX_DIMS], s2_[TG_MAX_DIMS], idx_[TG_MAX_DIMS] = {0};     \
        int64_t i0_ = 0, i1_ = 0, i2_ = 0;                                                         \
        tg__broadcast_strides((t0)->ndim, (t0)->shape, nd_, ext_, s0_);                            \
        tg__broadcast_strides((t1)->ndim, (t1)->shape, nd_, ext_, s1_);                            \
        tg__broadcast_strides((t2)->ndim, (t2)->shape, nd_, ext_, s2_);                            \
        for (int64_t k_ = 0; k_ < (out)->numel; k_++) {                                            \
            const T A = p0_[i0_], B = p1_[i1_], C = p2_[i2_];                                      \
            (void)A, (void)B, (void)C;                                                             \
            o_[k_] = (T)(EXPR);                                                                    \
            for (int e_ = nd_ - 1; e_ >= 0; e_--) { /* the next element */                         \
                i0_ += s0_[e_];                                                                    \
                i1_ += s1_[e_];                                                                    \
                i2_ += s2_[e_];                                                                    \
                if (++idx_[e_] < ext_[e_]) break;                                                  \
                i0_ -= s0_[e_] * ext_[e_];                                                         \
                i1_ -= s1_[e_] * ext_[e_];                                                         \
                i2_ -= s2_[e_] * ext_[e_];                                                         \
                idx_[e_] = 0;                                                                      \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* A constant 0 (0-d) of t's dtype: the unselected side of a rule's where. */
static tg_tensor *zero_like(tg_tape *tp, const tg_tensor *t)
{
    return tg__const_full(tp, t->dtype, 0, NULL, 0.0);
}

/* Input slot's gradient buffer for a direct rule, and in *w the wide
 * accumulators (kernels/bcast.h) when it is summed to more than one
 * element; NULL when the input needs no gradient or the tape is in error
 * (ops/elementwise.c's bin_grad_buffer, without the hand-over of g). */
static tg_tensor *grad_buffer(tg_tape *tp, const tg_tensor *g, tg_grad_sink *k, int slot, bool *acc,
                              double **w)
{
    *w = NULL;
    if (!tg__tape_ok(tp)) return NULL;
    tg_tensor *d = tg_grad_sink_buffer(k, slot, acc);
    if (d && d->numel > 1 && d->numel != g->numel) {
        size_t bytes;
        /* cannot overflow (numel <= TG_NUMEL_MAX); if it did, the arena's
         * own error says how much was asked */
        if (!tg__mul_size((size_t)d->numel, (d->dtype == TG_F64 ? 2 : 1) * sizeof(double), &bytes))
            bytes = SIZE_MAX;
        if (!(*w = tg__tape_scratch(tp, bytes))) return NULL;
    }
    return d;
}

/* *out := a scratch tensor of g's shape and dtype (not recorded, valid
 * while the rule runs); false on out of memory (the tape's error set). */
static bool scratch_like(tg_tape *tp, const tg_tensor *g, tg_tensor *out)
{
    size_t bytes;
    const size_t es = g->dtype == TG_F64 ? sizeof(double) : sizeof(float);
    if (!tg__mul_size((size_t)g->numel, es, &bytes)) bytes = SIZE_MAX;
    *out = *g; /* borrows g's extents */
    out->data = tg__tape_scratch(tp, bytes ? bytes : es);
    return out->data != NULL;
}

/* The shape of three operands broadcast together, or false (the error set,
 * naming op and the operands, a NULL one shown as "(none)"). */
static bool broadcast3(tg_tape *tp, const char *op, const char *const names[3],
                       const tg_tensor *const t[3], const bool shown[3], int *nd, int64_t *shape)
{
    int n01;
    int64_t s01[TG_MAX_DIMS];
    if (tg__broadcast_shape(t[0]->ndim, t[0]->shape, t[1]->ndim, t[1]->shape, &n01, s01) &&
        tg__broadcast_shape(n01, s01, t[2]->ndim, t[2]->shape, nd, shape))
        return true;
    char s[3][TG_SHAPE_BUF];
    for (int i = 0; i < 3; i++)
        if (shown[i])
            tg__shape_str(t[i], s[i], sizeof s[i]);
        else
            snprintf(s[i], sizeof s[i], "(none)");
    tg_tape_fail(tp, TG_ERR_SHAPE, "%s: shapes %s %s, %s %s and %s %s do not broadcast", op,
                 names[0], s[0], names[1], s[1], names[2], s[2]);
    return false;
}

/* ---- comparisons: 0/1 of the operands' dtype, no gradient ----------------- */

/* A comparison a OPR b (IEEE: NaN compares unequal to everything, so only
 * ne is 1 there): its kernel, descriptor (no backward: the gradient is 0)
 * and tg_NAME. */
#define SEL_COMPARE(NAME, OPR)                                                                     \
    static void NAME##_kernel(tg_tensor *out, const tg_tensor *ta, const tg_tensor *tb)            \
    {                                                                                              \
        TG_DISPATCH(out->dtype, T, { TG_BCAST_MAP(T, out, ta, tb, a, b, (a OPR b) ? 1 : 0); });    \
    }                                                                                              \
    static const tg_op k_##NAME = {                                                                \
        .name = #NAME, .arity = 2, .backward = NULL, .direct = NULL, .scalar = NULL};              \
    tg_tensor *tg_##NAME(tg_tape *tp, tg_tensor *a, tg_tensor *b)                                  \
    {                                                                                              \
        return tg__binary_op(tp, &k_##NAME, NAME##_kernel, a, b);                                  \
    }
SEL_COMPARE(eq, ==)
SEL_COMPARE(ne, !=)
SEL_COMPARE(lt, <)
SEL_COMPARE(le, <=)
SEL_COMPARE(gt, >)
SEL_COMPARE(ge, >=)

/* ---- where: y = cond ? a : b ----------------------------------------------
 * d/da = g where cond, d/db = g elsewhere, none to cond: as where(cond, g,
 * 0) and where(cond, 0, g), each summed back to its input's shape. */
static tg_status where_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *c = tg_node_input(n, 0);
    tg_tensor *z = zero_like(tp, g);
    if (!z) return tg_tape_status(tp);
    if (tg_node_needs_grad(n, 1)) gin[1] = tg__grad_to_input(tp, n, 1, tg_where(tp, c, g, z));
    if (tg_node_needs_grad(n, 2)) gin[2] = tg__grad_to_input(tp, n, 2, tg_where(tp, c, z, g));
    return TG_OK;
}

static tg_status where_direct(tg_tape *tp, const tg_node *node, const tg_tensor *gout,
                              tg_grad_sink *sink)
{
    const tg_tensor *c = node->in[0];
    tg_tensor full;
    if (c->numel != 1 && c->numel != gout->numel) {
        /* TG_BCAST_GRAD's full reduction reads the other operand in g's
         * order: a cond stretched along some axes is written out first */
        if (!scratch_like(tp, gout, &full)) return tg_tape_status(tp);
        TG_DISPATCH(gout->dtype, T, { TG_BCAST_MAP(T, &full, c, c, a, b, a); });
        c = &full;
    }
    for (int slot = 1; slot <= 2; slot++) {
        bool acc;
        double *w;
        tg_tensor *d = grad_buffer(tp, gout, sink, slot, &acc, &w);
        if (!d) {
            if (!tg__tape_ok(tp)) return tg_tape_status(tp);
            continue;
        }
        const tg_tensor *x = node->in[slot];
        if (slot == 1)
            TG_DISPATCH(gout->dtype, T, {
                TG_BCAST_GRAD(T, d, acc, w, 0, gout, x, c, gout, g, a, m, y, (m != 0 ? g : (T)0));
            });
        else
            TG_DISPATCH(gout->dtype, T, {
                TG_BCAST_GRAD(T, d, acc, w, 0, gout, x, c, gout, g, a, m, y, (m != 0 ? (T)0 : g));
            });
    }
    return tg_tape_status(tp);
}

static void where_scalar(const tg_node *node, const tg_scalar_args *s, double *gin)
{
    (void)node;
    TG_DISPATCH(s->dtype, T, {
        const T g = (T)s->gout, m = (T)s->x[0];
        gin[0] = 0;
        gin[1] = (T)(m != 0 ? g : (T)0);
        gin[2] = (T)(m != 0 ? (T)0 : g);
    });
}

/* tangent: where(cond, ta, tb), 0 for a side without a tangent (cond's
 * tangent does not pass: the selection is piecewise constant in it) */
static tg_status where_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    if (!tin[1] && !tin[2]) return TG_OK;
    const tg_tensor *y = tg_node_output(n);
    tg_tensor *z = zero_like(tp, y);
    tg_tensor *t =
        z ? tg_where(tp, tg_node_input(n, 0), tin[1] ? tin[1] : z, tin[2] ? tin[2] : z) : NULL;
    if (t && !tg_tensor_same_shape(t, y)) t = tg_broadcast_to(tp, t, y->ndim, y->shape);
    *tout = t;
    return tg_tape_status(tp);
}
static const tg_op k_where = {.name = "where",
                              .arity = 3,
                              .backward = where_backward,
                              .direct = where_direct,
                              .scalar = where_scalar,
                              .jvp = where_jvp,
                              .formula = "da += sum_to(where(cond, g, 0), a.shape);  db += "
                                         "sum_to(where(cond, 0, g), b.shape)  (none to cond)"};

tg_tensor *tg_where(tg_tape *tp, tg_tensor *cond, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *in[3] = {cond, a, b};
    if (!tg_tape_check_inputs(tp, k_where.name, 3, in)) return NULL;
    if (!tg__same_dtype(tp, k_where.name, cond, a) || !tg__same_dtype(tp, k_where.name, a, b))
        return NULL;
    int nd;
    int64_t shape[TG_MAX_DIMS];
    static const char *const names[3] = {"cond", "a", "b"};
    if (!broadcast3(tp, k_where.name, names, (const tg_tensor *const *)in,
                    (const bool[3]){true, true, true}, &nd, shape))
        return NULL;
    tg_tensor *out = tg_tape_alloc(tp, a->dtype, nd, shape);
    if (!out) return NULL;
    TG_DISPATCH(a->dtype, T, { SEL_MAP3(T, out, cond, a, b, m, u, v, (m != 0 ? u : v)); });
    return tg__tape_record_checked(tp, &k_where, 3, in, out, NULL, 0, 0, NULL);
}

/* ---- masked_fill: y = mask ? value : x ------------------------------------
 * mask broadcasts to x's shape (y has x's); d/dx = g where the mask is 0,
 * as masked_fill(g, mask, 0); none to the mask. */
static tg_status masked_fill_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    if (tg_node_needs_grad(n, 0)) gin[0] = tg_masked_fill(tp, g, tg_node_input(n, 1), 0.0);
    return TG_OK;
}

static tg_status masked_fill_direct(tg_tape *tp, const tg_node *node, const tg_tensor *gout,
                                    tg_grad_sink *sink)
{
    bool acc;
    double *w;
    tg_tensor *d = grad_buffer(tp, gout, sink, 0, &acc, &w);
    if (d)
        TG_DISPATCH(gout->dtype, T, {
            TG_BCAST_GRAD(T, d, acc, w, 0, gout, node->in[0], node->in[1], gout, g, a, m, y,
                          (m != 0 ? (T)0 : g));
        });
    return tg_tape_status(tp);
}

static void masked_fill_scalar(const tg_node *node, const tg_scalar_args *s, double *gin)
{
    (void)node;
    TG_DISPATCH(s->dtype, T, {
        const T g = (T)s->gout, m = (T)s->x[1];
        gin[0] = (T)(m != 0 ? (T)0 : g);
        gin[1] = 0;
    });
}

/* tangent: x's tangent with the filled positions 0 (none from the mask) */
static tg_status masked_fill_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                                 tg_tensor **tout)
{
    if (tin[0]) *tout = tg_masked_fill(tp, tin[0], tg_node_input(n, 1), 0.0);
    return tg_tape_status(tp);
}
static const tg_op k_masked_fill = {.name = "masked_fill",
                                    .arity = 2,
                                    .backward = masked_fill_backward,
                                    .direct = masked_fill_direct,
                                    .scalar = masked_fill_scalar,
                                    .jvp = masked_fill_jvp,
                                    .formula = "dx += where(mask, 0, g)  (none to mask)"};

tg_tensor *tg_masked_fill(tg_tape *tp, tg_tensor *x, tg_tensor *mask, double value)
{
    tg_tensor *in[2] = {x, mask};
    if (!tg_tape_check_inputs(tp, k_masked_fill.name, 2, in)) return NULL;
    if (!tg__same_dtype(tp, k_masked_fill.name, x, mask)) return NULL;
    int nd;
    int64_t shape[TG_MAX_DIMS];
    if (!tg__broadcast_shape(x->ndim, x->shape, mask->ndim, mask->shape, &nd, shape) ||
        nd != x->ndim || memcmp(shape, x->shape, (size_t)nd * sizeof shape[0]) != 0) {
        char a[TG_SHAPE_BUF], b[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: mask %s does not broadcast to x %s", k_masked_fill.name,
                     tg__shape_str(mask, b, sizeof b), tg__shape_str(x, a, sizeof a));
        return NULL;
    }
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, x->ndim, x->shape);
    if (!out) return NULL;
    TG_DISPATCH(x->dtype, T, {
        const T v = (T)value;
        TG_BCAST_MAP(T, out, x, mask, a, m, (m != 0 ? v : a));
    });
    return tg__tape_record_checked(tp, &k_masked_fill, 2, in, out, NULL, 0, 0, NULL);
}

/* ---- clamp -----------------------------------------------------------------
 * y = min(max(x, lo), hi) with NaN bounds propagated: a NaN lo gives NaN, a
 * NaN hi gives NaN, a NaN x stays NaN, and lo > hi gives hi. */
#define SEL_CLAMP(x, l, h)                                                                         \
    ((l) != (l)                      ? (l)                                                         \
     : (h) != (h)                    ? (h)                                                         \
     : ((x) < (l) ? (l) : (x)) > (h) ? (h)                                                         \
     : (x) < (l)                     ? (l)                                                         \
                                     : (x))
/* Where each input gets the gradient (the conventions at the top). */
#define SEL_PASS_X(x, l, h)  ((x) >= (l) && (x) <= (h))
#define SEL_PASS_LO(x, l, h) ((x) < (l) && (l) <= (h))
#define SEL_PASS_HI(x, l, h) ((x) > (h) || (h) < (l))

typedef struct clamp_attr {
    double lo, hi;
} clamp_attr;

/* The constant mask, x's shape, of the elements where x gets no gradient. */
static tg_tensor *clamp_block(tg_tape *tp, const tg_tensor *x, const clamp_attr *at)
{
    tg_tensor *m = tg_tape_alloc(tp, x->dtype, x->ndim, x->shape);
    if (!m) return NULL;
    TG_DISPATCH(x->dtype, T, {
        const T l = (T)at->lo, h = (T)at->hi;
        TG_MAP1(T, m, x, v, (SEL_PASS_X(v, l, h) ? 0 : 1));
    });
    return m;
}

/* d/dx = g where lo <= x <= hi: masked_fill(g, outside, 0). */
static tg_status clamp_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *m = clamp_block(tp, tg_node_input(n, 0), tg_node_saved(n));
    if (!m) return tg_tape_status(tp);
    gin[0] = tg_masked_fill(tp, g, m, 0.0);
    return TG_OK;
}

static tg_status clamp_direct(tg_tape *tp, const tg_node *node, const tg_tensor *gout,
                              tg_grad_sink *sink)
{
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(sink, 0, &acc);
    if (!d) return tg_tape_status(tp);
    const clamp_attr *at = tg_node_saved(node);
    TG_DISPATCH(gout->dtype, T, {
        const T l = (T)at->lo, h = (T)at->hi;
        TG_MAP1_GRAD(T, d, acc, gout, node->in[0], node->out, g, x, y,
                     (SEL_PASS_X(x, l, h) ? g : (T)0));
    });
    return TG_OK;
}

static void clamp_scalar(const tg_node *node, const tg_scalar_args *s, double *gin)
{
    const clamp_attr *at = tg_node_saved(node);
    TG_DISPATCH(s->dtype, T, {
        const T l = (T)at->lo, h = (T)at->hi, g = (T)s->gout, x = (T)s->x[0];
        gin[0] = (T)(SEL_PASS_X(x, l, h) ? g : (T)0);
    });
}

/* "lo=-1, hi=1" */
static int clamp_attrs(const tg_node *n, char *buf, size_t size)
{
    const clamp_attr *at = tg_node_saved(n);
    return snprintf(buf, size, "lo=%g, hi=%g", at->lo, at->hi);
}
/* the tangent is the backward rule's masking (an elementwise op) */
static const tg_op k_clamp = {.name = "clamp",
                              .arity = 1,
                              .backward = clamp_backward,
                              .direct = clamp_direct,
                              .scalar = clamp_scalar,
                              .jvp = tg__jvp_diagonal,
                              .formula = "dx += g * [lo <= x <= hi]",
                              .attrs = clamp_attrs};

tg_tensor *tg_clamp(tg_tape *tp, tg_tensor *x, double lo, double hi)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_clamp.name, 1, in)) return NULL;
    if (isnan(lo) || isnan(hi)) {
        char s[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_ARG, "%s: x %s: bound lo %g or hi %g is NaN", k_clamp.name,
                     tg__shape_str(x, s, sizeof s), lo, hi);
        return NULL;
    }
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, x->ndim, x->shape);
    if (!out) return NULL;
    TG_DISPATCH(x->dtype, T, {
        const T l = (T)lo, h = (T)hi;
        TG_MAP1(T, out, x, v, SEL_CLAMP(v, l, h));
    });
    const clamp_attr at = {lo, hi};
    return tg__tape_record_checked(tp, &k_clamp, 1, in, out, &at, sizeof at, 0, NULL);
}

/* ---- clamp_tensor: the bounds are tensors, all three broadcast ------------
 * Input i (x, lo, hi) gets g where SEL_PASS_<i>, summed back to its shape;
 * a NULL bound is recorded as a constant -inf or inf (0-d). */
static void clamp3_block_kernel(tg_tensor *out, const tg_tensor *x, const tg_tensor *lo,
                                const tg_tensor *hi, int slot, bool block)
{
    const int b = block ? 1 : 0;
    TG_DISPATCH(out->dtype, T, {
        if (slot == 0)
            SEL_MAP3(T, out, x, lo, hi, v, l, h, (SEL_PASS_X(v, l, h) ? 1 - b : b));
        else if (slot == 1)
            SEL_MAP3(T, out, x, lo, hi, v, l, h, (SEL_PASS_LO(v, l, h) ? 1 - b : b));
        else
            SEL_MAP3(T, out, x, lo, hi, v, l, h, (SEL_PASS_HI(v, l, h) ? 1 - b : b));
    });
}

static tg_status clamp_tensor_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0), *lo = tg_node_input(n, 1), *hi = tg_node_input(n, 2);
    for (int i = 0; i < 3; i++) {
        if (!tg_node_needs_grad(n, i)) continue;
        tg_tensor *m = tg_tape_alloc(tp, g->dtype, g->ndim, g->shape);
        if (!m) return tg_tape_status(tp);
        clamp3_block_kernel(m, x, lo, hi, i, true);
        gin[i] = tg__grad_to_input(tp, n, i, tg_masked_fill(tp, g, m, 0.0));
    }
    return TG_OK;
}

static tg_status clamp_tensor_direct(tg_tape *tp, const tg_node *node, const tg_tensor *gout,
                                     tg_grad_sink *sink)
{
    for (int slot = 0; slot < 3; slot++) {
        bool acc;
        double *w;
        tg_tensor *d = grad_buffer(tp, gout, sink, slot, &acc, &w);
        if (!d) {
            if (!tg__tape_ok(tp)) return tg_tape_status(tp);
            continue;
        }
        /* where the slot gets the gradient, written out in g's shape */
        tg_tensor pass;
        if (!scratch_like(tp, gout, &pass)) return tg_tape_status(tp);
        clamp3_block_kernel(&pass, node->in[0], node->in[1], node->in[2], slot, false);
        TG_DISPATCH(gout->dtype, T, {
            TG_BCAST_GRAD(T, d, acc, w, 0, gout, node->in[slot], &pass, gout, g, a, m, y,
                          (m != 0 ? g : (T)0));
        });
    }
    return tg_tape_status(tp);
}

static void clamp_tensor_scalar(const tg_node *node, const tg_scalar_args *s, double *gin)
{
    (void)node;
    TG_DISPATCH(s->dtype, T, {
        const T g = (T)s->gout, x = (T)s->x[0], l = (T)s->x[1], h = (T)s->x[2];
        gin[0] = (T)(SEL_PASS_X(x, l, h) ? g : (T)0);
        gin[1] = (T)(SEL_PASS_LO(x, l, h) ? g : (T)0);
        gin[2] = (T)(SEL_PASS_HI(x, l, h) ? g : (T)0);
    });
}

/* tangent: each input's tangent where that input is selected, summed */
static tg_status clamp_tensor_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                                  tg_tensor **tout)
{
    tg_tensor *x = tg_node_input(n, 0), *lo = tg_node_input(n, 1), *hi = tg_node_input(n, 2);
    const tg_tensor *y = tg_node_output(n);
    tg_tensor *t = NULL, *z = zero_like(tp, y);
    for (int i = 0; i < 3 && z; i++) {
        if (!tin[i]) continue;
        tg_tensor *m = tg_tape_alloc(tp, y->dtype, y->ndim, y->shape);
        if (!m) break;
        clamp3_block_kernel(m, x, lo, hi, i, false); /* 1 where input i is selected */
        tg_tensor *ti = tg_where(tp, m, tin[i], z);
        t = t ? tg_add(tp, t, ti) : ti;
    }
    *tout = t;
    return tg_tape_status(tp);
}
static const tg_op k_clamp_tensor = {.name = "clamp_tensor",
                                     .arity = 3,
                                     .backward = clamp_tensor_backward,
                                     .direct = clamp_tensor_direct,
                                     .scalar = clamp_tensor_scalar,
                                     .jvp = clamp_tensor_jvp,
                                     .formula = "dx += sum_to(g * [lo <= x <= hi], x.shape);  dlo "
                                                "+= sum_to(g * [x < lo <= hi], lo.shape);  dhi += "
                                                "sum_to(g * [x > hi or hi < lo], hi.shape)"};

tg_tensor *tg_clamp_tensor(tg_tape *tp, tg_tensor *x, tg_tensor *lo, tg_tensor *hi)
{
    const char *op = k_clamp_tensor.name;
    tg_tensor *in[3] = {x, lo, hi};
    if (!tg_tape_check_inputs(tp, op, 1, in)) return NULL;
    /* a missing bound is no bound: -inf below, inf above */
    for (int i = 1; i < 3; i++)
        if (!in[i] &&
            !(in[i] = tg__const_full(tp, x->dtype, 0, NULL, i == 1 ? -INFINITY : INFINITY)))
            return NULL;
    if (!tg_tape_check_inputs(tp, op, 3, in)) return NULL;
    if (!tg__same_dtype(tp, op, x, in[1]) || !tg__same_dtype(tp, op, x, in[2])) return NULL;
    int nd;
    int64_t shape[TG_MAX_DIMS];
    static const char *const names[3] = {"x", "lo", "hi"};
    if (!broadcast3(tp, op, names, (const tg_tensor *const *)in,
                    (const bool[3]){true, lo != NULL, hi != NULL}, &nd, shape))
        return NULL;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, nd, shape);
    if (!out) return NULL;
    TG_DISPATCH(x->dtype, T,
                { SEL_MAP3(T, out, in[0], in[1], in[2], v, l, h, SEL_CLAMP(v, l, h)); });
    return tg__tape_record_checked(tp, &k_clamp_tensor, 3, in, out, NULL, 0, 0, NULL);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_select[] = {&k_eq,    &k_ne,           &k_lt,    &k_le,
                                       &k_gt,    &k_ge,           &k_where, &k_masked_fill,
                                       &k_clamp, &k_clamp_tensor, NULL};
