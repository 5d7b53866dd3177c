/* Elementwise binary ops with NumPy broadcasting, and their scalar variants.
 * Each op: validate, allocate, forward kernel, record; its backward rule
 * follows it, written with tapegrad ops (so it can itself be recorded), and
 * sums the gradient back to each input's shape with tg_sum_to. */
#include "../core/internal.h"
#include "../kernels/wsum.h"

/* ---- the broadcasting kernel --------------------------------------------- */
typedef enum binop {
    B_ADD,
    B_SUB,
    B_MUL,
    B_DIV,
    B_POW,
    B_MAXMASK,
    B_MINMASK,
    B_MAX,
    B_MIN,
    B_POWKEEP0, /* 0 where pow's d/da is masked to 0 (b == 0), else 1 */
    B_POWKEEP1, /* 0 where pow's d/db is masked to 0 (a == 0, b >= 0), else 1 */
    B_MAXCMASK, /* 1 - B_MAXMASK, as a selection: the weight of b in max */
    B_MINCMASK  /* 1 - B_MINMASK: the weight of b in min */
} binop;

/* pow's masked derivatives (PyTorch's convention): d/da = b a^(b-1) is 0
 * where b == 0, and d/db = a^b log a is 0 where a == 0 and b >= 0, where
 * the formulas give 0 * inf = NaN at a = 0 (a^b is constant in the
 * variable there, or tends to 0 faster than log a diverges). */
#define POW_MASK0(X, Y) ((Y) == 0)
#define POW_MASK1(X, Y) ((X) == 0 && (Y) >= 0)

#define APPLY(op, x, y)                                                                            \
    ((op) == B_ADD        ? (x) + (y)                                                              \
     : (op) == B_SUB      ? (x) - (y)                                                              \
     : (op) == B_MUL      ? (x) * (y)                                                              \
     : (op) == B_DIV      ? (x) / (y)                                                              \
     : (op) == B_POW      ? TG_POW(x, y)                                                           \
     : (op) == B_MAX      ? ((x) >= (y) ? (x) : (y))                                               \
     : (op) == B_MIN      ? ((x) <= (y) ? (x) : (y))                                               \
     : (op) == B_POWKEEP0 ? (POW_MASK0(x, y) ? 0 : 1)                                              \
     : (op) == B_POWKEEP1 ? (POW_MASK1(x, y) ? 0 : 1)                                              \
     : (op) == B_MAXMASK  ? ((x) > (y)    ? 1                                                      \
                             : (x) == (y) ? 0.5f                                                   \
                                          : 0)                                                     \
     : (op) == B_MAXCMASK ? ((x) > (y)    ? 0                                                      \
                             : (x) == (y) ? 0.5f                                                   \
                                          : 1)                                                     \
     : (op) == B_MINCMASK ? ((x) < (y)    ? 0                                                      \
                             : (x) == (y) ? 0.5f                                                   \
                                          : 1)                                                     \
                          : ((x) < (y)    ? 1                                                      \
                             : (x) == (y) ? 0.5f                                                   \
                                          : 0))

/* One loop per (op, dtype): the switch is outside the loops so each inner
 * loop is a plain contiguous or strided loop the compiler can vectorise. */
#define BIN_LOOPS(T, OP)                                                                           \
    do {                                                                                           \
        T *restrict o = out->data;                                                                 \
        const T *restrict x = a->data;                                                             \
        const T *restrict y = b->data;                                                             \
        if (same) {                                                                                \
            TG_STORE_LOOP(T, o, n, i, r_, r_ = (T)APPLY(OP, x[i], y[i]));                          \
        } else if (b->numel == 1) {                                                                \
            const T s = y[0];                                                                      \
            for (int64_t i = 0; i < n; i++) o[i] = (T)APPLY(OP, x[i], s);                          \
        } else if (a->numel == 1) {                                                                \
            const T s = x[0];                                                                      \
            for (int64_t i = 0; i < n; i++) o[i] = (T)APPLY(OP, s, y[i]);                          \
        } else {                                                                                   \
            int64_t idx[TG_MAX_DIMS] = {0}, ia = 0, ib = 0;                                        \
            const int64_t last = nd ? out->shape[nd - 1] : 1;                                      \
            const int64_t la = nd ? sa[nd - 1] : 0, lb = nd ? sb[nd - 1] : 0;                      \
            for (int64_t base = 0; base < n; base += last) {                                       \
                for (int64_t j = 0; j < last; j++)                                                 \
                    o[base + j] = (T)APPLY(OP, x[ia + j * la], y[ib + j * lb]);                    \
                for (int d = nd - 2; d >= 0; d--) {                                                \
                    ia += sa[d];                                                                   \
                    ib += sb[d];                                                                   \
                    if (++idx[d] < out->shape[d]) break;                                           \
                    ia -= sa[d] * out->shape[d];                                                   \
                    ib -= sb[d] * out->shape[d];                                                   \
                    idx[d] = 0;                                                                    \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

TG_CLONES static void bin_kernel(binop op, tg_tensor *out, const tg_tensor *a, const tg_tensor *b)
{
    const int nd = out->ndim;
    const int64_t n = out->numel;
    const bool same = a->numel == n && b->numel == n;
    int64_t sa[TG_MAX_DIMS], sb[TG_MAX_DIMS];
    if (!same) { /* the strides only serve the broadcasting loops */
        tg__broadcast_strides(a->ndim, a->shape, nd, out->shape, sa);
        tg__broadcast_strides(b->ndim, b->shape, nd, out->shape, sb);
    }
    TG_DISPATCH(out->dtype, T, {
        switch (op) {
        case B_ADD:
            BIN_LOOPS(T, B_ADD);
            break;
        case B_SUB:
            BIN_LOOPS(T, B_SUB);
            break;
        case B_MUL:
            BIN_LOOPS(T, B_MUL);
            break;
        case B_DIV:
            BIN_LOOPS(T, B_DIV);
            break;
        case B_POW:
            BIN_LOOPS(T, B_POW);
            break;
        case B_MAX:
            BIN_LOOPS(T, B_MAX);
            break;
        case B_MIN:
            BIN_LOOPS(T, B_MIN);
            break;
        case B_MAXMASK:
            BIN_LOOPS(T, B_MAXMASK);
            break;
        case B_MINMASK:
            BIN_LOOPS(T, B_MINMASK);
            break;
        case B_POWKEEP0:
            BIN_LOOPS(T, B_POWKEEP0);
            break;
        case B_POWKEEP1:
            BIN_LOOPS(T, B_POWKEEP1);
            break;
        case B_MAXCMASK:
            BIN_LOOPS(T, B_MAXCMASK);
            break;
        case B_MINCMASK:
            BIN_LOOPS(T, B_MINCMASK);
            break;
        }
    });
}

/* Validate, broadcast, allocate, compute and record a binary op. */
static tg_tensor *binary(tg_tape *tp, const tg_op *op, binop k, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *in[2] = {a, b};
    if (!tg_tape_check_inputs(tp, op->name, 2, in)) return NULL;
    if (!tg__same_dtype(tp, op->name, a, b)) return NULL;
    int nd;
    int64_t shape[TG_MAX_DIMS];
    if (!tg__broadcast_shape(a->ndim, a->shape, b->ndim, b->shape, &nd, shape)) {
        char x[TG_SHAPE_BUF], y[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: shapes %s and %s do not broadcast", op->name,
                     tg__shape_str(a, x, sizeof x), tg__shape_str(b, y, sizeof y));
        return NULL;
    }
    tg_tensor *out = tg_tape_alloc(tp, a->dtype, nd, shape);
    if (!out) return NULL;
    bin_kernel(k, out, a, b);
    return tg__tape_record_checked(tp, op, 2, in, out, NULL, 0, 0, NULL);
}

/* g summed back to the shape of input i of node n. */
static tg_tensor *to_input(tg_tape *tp, const tg_node *n, int i, tg_tensor *g)
{
    tg_tensor *x = tg_node_input(n, i);
    if (!g) return NULL;
    if (tg_tensor_same_shape(g, x)) return g;
    return tg_sum_to(tp, g, tg_tensor_ndim(x), tg_tensor_shape(x));
}

/* A constant mask tensor (not differentiable): the weight of a in max/min. */
static tg_tensor *mask(tg_tape *tp, binop k, tg_tensor *a, tg_tensor *b, const tg_tensor *like)
{
    tg_tensor *m = tg_tape_alloc(tp, like->dtype, like->ndim, like->shape);
    if (m) bin_kernel(k, m, a, b);
    return m;
}

/* ---- direct first-order rules: one pass per input, written in place ------
 * Each gradient expression E(G, X, Y, O) is the op-built rule's arithmetic in
 * the same order (G the output gradient, X and Y the inputs, O the output),
 * summed over broadcast axes by accumulating through stride-0 indices. */
#define E_ID(G, X, Y, O)   (G)
#define E_NEG(G, X, Y, O)  (-(G))
#define E_MUL0(G, X, Y, O) ((G) * (Y))
#define E_MUL1(G, X, Y, O) ((G) * (X))
#define E_DIV0(G, X, Y, O) ((G) / (Y))
#define E_DIV1(G, X, Y, O) (-((G) * ((O) / (Y))))
#define E_POW0(G, X, Y, O) ((G) * (POW_MASK0(X, Y) ? (T)0 : (Y)*TG_POW(X, (Y) + (T)-1)))
#define E_POW1(G, X, Y, O) ((G) * (POW_MASK1(X, Y) ? (T)0 : (O)*TG_LOG(X)))
#define MASK(op, X, Y)     ((T)APPLY(op, X, Y))
#define E_MAX0(G, X, Y, O) ((G)*MASK(B_MAXMASK, X, Y))
#define E_MAX1(G, X, Y, O) ((G)*MASK(B_MAXCMASK, X, Y))
#define E_MIN0(G, X, Y, O) ((G)*MASK(B_MINMASK, X, Y))
#define E_MIN1(G, X, Y, O) ((G)*MASK(B_MINCMASK, X, Y))

#define GRAD_LOOPS(T, E)                                                                           \
    do {                                                                                           \
        T *restrict dd = d->data;                                                                  \
        const T *restrict gg = g->data, *restrict xx = a->data, *restrict yy = b->data,            \
                          *restrict oo = y->data;                                                  \
        (void)xx, (void)yy, (void)oo;                                                              \
        if (same && acc) {                                                                         \
            for (int64_t i = 0; i < n; i++) {                                                      \
                const T g_ = gg[i], x_ = xx[i], y_ = yy[i], o_ = oo[i];                            \
                (void)x_, (void)y_, (void)o_;                                                      \
                dd[i] += E(g_, x_, y_, o_);                                                        \
            }                                                                                      \
        } else if (same) {                                                                         \
            TG_STORE_LOOP(T, dd, n, i, r_, const T g_ = gg[i], x_ = xx[i], y_ = yy[i], o_ = oo[i]; \
                          (void)x_, (void)y_, (void)o_; r_ = E(g_, x_, y_, o_));                   \
        } else if (d->numel == 1) {                                                                \
            /* a full reduction: the other input has g's elements, in order */                     \
            const int64_t fa = a->numel == 1 ? 0 : 1, fb = b->numel == 1 ? 0 : 1;                  \
            (void)fa, (void)fb;                                                                    \
            double s_ = 0, c_ = 0;                                                                 \
            TG__WROW(T, n, j, E(gg[j], xx[j * fa], yy[j * fb], oo[j]), s_, c_);                    \
            const T r_ = (T)tg__wsum_value(s_, c_);                                                \
            dd[0] = acc ? dd[0] + r_ : r_;                                                         \
        } else {                                                                                   \
            /* red: d is summed (w its accumulators); else the other input is                      \
             * the broadcast one and each element of d has one term */                             \
            const int64_t m_ = d->numel;                                                           \
            const bool red = m_ != n;                                                              \
            double *restrict ws = w, *restrict wc = TG__WSUM_COMP(T) && red ? w + m_ : w;          \
            if (red) {                                                                             \
                for (int64_t i = 0; i < m_; i++) ws[i] = 0;                                        \
                if (TG__WSUM_COMP(T))                                                              \
                    for (int64_t i = 0; i < m_; i++) wc[i] = 0;                                    \
            }                                                                                      \
            int64_t idx[TG_MAX_DIMS] = {0}, ia = 0, ib = 0, id = 0;                                \
            const int64_t last = nd ? g->shape[nd - 1] : 1;                                        \
            const int64_t la = nd ? sa[nd - 1] : 0, lb = nd ? sb[nd - 1] : 0,                      \
                          ld = nd ? sd[nd - 1] : 0;                                                \
            (void)la, (void)lb;                                                                    \
            for (int64_t base = 0; base < n; base += last) {                                       \
                const T *restrict gr = gg + base, *restrict orow = oo + base;                      \
                const T *restrict xr = xx + ia, *restrict yr = yy + ib;                            \
                (void)xr, (void)yr, (void)orow;                                                    \
                if (!red) {                                                                        \
                    T *restrict dr = dd + base;                                                    \
                    if (acc)                                                                       \
                        for (int64_t j = 0; j < last; j++)                                         \
                            dr[j] += E(gr[j], xr[j * la], yr[j * lb], orow[j]);                    \
                    else                                                                           \
                        for (int64_t j = 0; j < last; j++)                                         \
                            dr[j] = E(gr[j], xr[j * la], yr[j * lb], orow[j]);                     \
                } else if (ld == 0) {                                                              \
                    double rs = 0, rc = 0;                                                         \
                    TG__WROW(T, last, j, E(gr[j], xr[j * la], yr[j * lb], orow[j]), rs, rc);       \
                    TG__WADD(T, ws[id], wc[id], rs);                                               \
                    if (TG__WSUM_COMP(T)) wc[id] += rc;                                            \
                } else {                                                                           \
                    double *restrict wsr = ws + id, *restrict wcr = wc + id;                       \
                    for (int64_t j = 0; j < last; j++)                                             \
                        TG__WADD(T, wsr[j * ld], wcr[j * ld],                                      \
                                 E(gr[j], xr[j * la], yr[j * lb], orow[j]));                       \
                }                                                                                  \
                for (int e = nd - 2; e >= 0; e--) {                                                \
                    ia += sa[e];                                                                   \
                    ib += sb[e];                                                                   \
                    id += sd[e];                                                                   \
                    if (++idx[e] < g->shape[e]) break;                                             \
                    ia -= sa[e] * g->shape[e];                                                     \
                    ib -= sb[e] * g->shape[e];                                                     \
                    id -= sd[e] * g->shape[e];                                                     \
                    idx[e] = 0;                                                                    \
                }                                                                                  \
            }                                                                                      \
            for (int64_t i = 0; red && i < m_; i++) {                                              \
                const T r_ = (T)tg__wsum_value(ws[i], TG__WSUM_COMP(T) ? wc[i] : 0);               \
                dd[i] = acc ? dd[i] + r_ : r_;                                                     \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* d (+)= the gradient of input `slot` of the binary op k with inputs a, b
 * and output y, from the output gradient g.  A broadcast input's gradient
 * is summed in wide accumulators (kernels/wsum.h) the way sum_kernel in
 * reduce.c sums it for the op-built rule (tg_sum_to), so the two rules give
 * the same bits: w holds them (bin_direct allocates them) when d is summed
 * to more than one element. */
TG_CLONES static void bin_grad(binop k, int slot, tg_tensor *d, bool acc, const tg_tensor *g,
                               const tg_tensor *a, const tg_tensor *b, const tg_tensor *y,
                               double *w)
{
    const int nd = g->ndim;
    const int64_t n = g->numel;
    const bool same = a->numel == n && b->numel == n;
    int64_t sa[TG_MAX_DIMS], sb[TG_MAX_DIMS];
    if (!same) { /* the strides only serve the broadcasting loop */
        tg__broadcast_strides(a->ndim, a->shape, nd, g->shape, sa);
        tg__broadcast_strides(b->ndim, b->shape, nd, g->shape, sb);
    }
    const int64_t *sd = slot ? sb : sa;
    TG_DISPATCH(g->dtype, T, {
        switch (k * 2 + slot) {
        case B_ADD * 2:
        case B_ADD * 2 + 1:
        case B_SUB * 2:
            GRAD_LOOPS(T, E_ID);
            break;
        case B_SUB * 2 + 1:
            GRAD_LOOPS(T, E_NEG);
            break;
        case B_MUL * 2:
            GRAD_LOOPS(T, E_MUL0);
            break;
        case B_MUL * 2 + 1:
            GRAD_LOOPS(T, E_MUL1);
            break;
        case B_DIV * 2:
            GRAD_LOOPS(T, E_DIV0);
            break;
        case B_DIV * 2 + 1:
            GRAD_LOOPS(T, E_DIV1);
            break;
        case B_POW * 2:
            GRAD_LOOPS(T, E_POW0);
            break;
        case B_POW * 2 + 1:
            GRAD_LOOPS(T, E_POW1);
            break;
        case B_MAX * 2:
            GRAD_LOOPS(T, E_MAX0);
            break;
        case B_MAX * 2 + 1:
            GRAD_LOOPS(T, E_MAX1);
            break;
        case B_MIN * 2:
            GRAD_LOOPS(T, E_MIN0);
            break;
        case B_MIN * 2 + 1:
            GRAD_LOOPS(T, E_MIN1);
            break;
        default:
            break;
        }
    });
}

/* The direct rule of every binary op: each input's gradient in one pass.  A
 * gradient that is g itself (add, sub's first input, unbroadcast) is handed
 * over without a copy. */
static tg_status bin_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k,
                            binop op)
{
    for (int slot = 0; slot < 2 && tg__tape_ok(tp); slot++) {
        const tg_tensor *x = n->in[slot];
        if ((op == B_ADD || (op == B_SUB && slot == 0)) && tg_tensor_same_shape(x, g)) {
            tg_grad_sink_add(k, slot, g);
            continue;
        }
        bool acc;
        tg_tensor *d = tg_grad_sink_buffer(k, slot, &acc);
        if (!d) continue;
        double *w = NULL;
        if (d->numel > 1 && d->numel != g->numel) {
            size_t bytes;
            /* cannot overflow (numel <= TG_NUMEL_MAX); if it did, the
             * arena's own error says how much was asked */
            if (!tg__mul_size((size_t)d->numel, (d->dtype == TG_F64 ? 2 : 1) * sizeof(double),
                              &bytes))
                bytes = SIZE_MAX;
            if (!(w = tg__tape_scratch(tp, bytes))) break;
        }
        bin_grad(op, slot, d, acc, g, n->in[0], n->in[1], n->out, w);
    }
    return tg_tape_status(tp);
}
#define BIN_DIRECT(name, op)                                                                       \
    static tg_status name##_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g,              \
                                   tg_grad_sink *k)                                                \
    {                                                                                              \
        return bin_direct(tp, n, g, k, op);                                                        \
    }
/* The scalar rule of every binary op (inputs and output one element each):
 * both gradients with the same E as the direct loops, in the node's dtype. */
static void bin_scalar(const tg_scalar_args *a, double *gin, binop op)
{
#define PAIR(E0, E1) (gin[0] = E0(g_, x_, y_, o_), gin[1] = E1(g_, x_, y_, o_))
    TG_DISPATCH(a->dtype, T, {
        const T g_ = (T)a->gout, x_ = (T)a->x[0], y_ = (T)a->x[1], o_ = (T)a->y;
        switch (op) {
        case B_ADD:
            PAIR(E_ID, E_ID);
            break;
        case B_SUB:
            PAIR(E_ID, E_NEG);
            break;
        case B_MUL:
            PAIR(E_MUL0, E_MUL1);
            break;
        case B_DIV:
            PAIR(E_DIV0, E_DIV1);
            break;
        case B_POW:
            PAIR(E_POW0, E_POW1);
            break;
        case B_MAX:
            PAIR(E_MAX0, E_MAX1);
            break;
        case B_MIN:
            PAIR(E_MIN0, E_MIN1);
            break;
        default:
            gin[0] = gin[1] = 0;
            break;
        }
    });
#undef PAIR
}
#define BIN_SCALAR(name, op)                                                                       \
    static void name##_scalar(const tg_node *n, const tg_scalar_args *a, double *gin)              \
    {                                                                                              \
        (void)n;                                                                                   \
        bin_scalar(a, gin, op);                                                                    \
    }
BIN_SCALAR(add, B_ADD)
BIN_SCALAR(sub, B_SUB)
BIN_SCALAR(mul, B_MUL)
BIN_SCALAR(div, B_DIV)
BIN_SCALAR(pow, B_POW)
BIN_SCALAR(maximum, B_MAX)
BIN_SCALAR(minimum, B_MIN)

BIN_DIRECT(add, B_ADD)
BIN_DIRECT(sub, B_SUB)
BIN_DIRECT(mul, B_MUL)
BIN_DIRECT(div, B_DIV)
BIN_DIRECT(pow, B_POW)
BIN_DIRECT(maximum, B_MAX)
BIN_DIRECT(minimum, B_MIN)

/* ---- add: d(a+b) = g, g ------------------------------------------------- */
static tg_status add_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    if (tg_node_needs_grad(n, 0)) gin[0] = to_input(tp, n, 0, g);
    if (tg_node_needs_grad(n, 1)) gin[1] = to_input(tp, n, 1, g);
    return TG_OK;
}
static const tg_op k_add = {"add", 2, add_backward, add_direct, add_scalar};
tg_tensor *tg_add(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return binary(tp, &k_add, B_ADD, a, b);
}

/* ---- sub: d(a-b) = g, -g ------------------------------------------------ */
static tg_status sub_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    if (tg_node_needs_grad(n, 0)) gin[0] = to_input(tp, n, 0, g);
    if (tg_node_needs_grad(n, 1)) gin[1] = to_input(tp, n, 1, tg_neg(tp, g));
    return TG_OK;
}
static const tg_op k_sub = {"sub", 2, sub_backward, sub_direct, sub_scalar};
tg_tensor *tg_sub(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return binary(tp, &k_sub, B_SUB, a, b);
}

/* ---- mul: d(ab) = g b, g a ---------------------------------------------- */
static tg_status mul_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0)) gin[0] = to_input(tp, n, 0, tg_mul(tp, g, b));
    /* x * x: both contributions are g x; compute it once (the sweep adds
     * the two, copying before it accumulates, so sharing is safe) */
    if (a == b && gin[0])
        gin[1] = gin[0];
    else if (tg_node_needs_grad(n, 1))
        gin[1] = to_input(tp, n, 1, tg_mul(tp, g, a));
    return TG_OK;
}
static const tg_op k_mul = {"mul", 2, mul_backward, mul_direct, mul_scalar};
tg_tensor *tg_mul(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return binary(tp, &k_mul, B_MUL, a, b);
}

/* ---- div: d(a/b) = g / b, -g (a/b) / b ----------------------------------- */
static tg_status div_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *b = tg_node_input(n, 1), *y = tg_node_output(n);
    if (tg_node_needs_grad(n, 0)) gin[0] = to_input(tp, n, 0, tg_div(tp, g, b));
    if (tg_node_needs_grad(n, 1))
        gin[1] = to_input(tp, n, 1, tg_neg(tp, tg_mul(tp, g, tg_div(tp, y, b))));
    return TG_OK;
}
static const tg_op k_div = {"div", 2, div_backward, div_direct, div_scalar};
tg_tensor *tg_div(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return binary(tp, &k_div, B_DIV, a, b);
}

/* ---- pow: d(a^b) = g b a^(b-1), g a^b ln a -------------------------------
 * masked as POW_MASK0/1 say.  The op-built rule builds the masked form only
 * when some element is masked (the graph is otherwise the plain formula's):
 * there the base is replaced by 1 (a m - (m - 1), exactly a where m = 1)
 * so that every value and every derivative of the rule stays finite (for a
 * finite a), and the result is multiplied by the constant mask m, so the
 * masked elements' rule is the constant 0 (its own derivatives 0, as
 * through PyTorch's where). */

/* Whether some element of t (f64 or f32) is 0 (zero true) or >= 0. */
static bool any_of(const tg_tensor *t, bool zero)
{
    bool found = false;
    TG_DISPATCH(t->dtype, T, {
        const T *v = t->data;
        for (int64_t i = 0; i < t->numel && !found; i++) found = zero ? v[i] == 0 : v[i] >= 0;
    });
    return found;
}

/* a with 1 where the constant mask m is 0: a m - (m - 1). */
static tg_tensor *pow_safe_base(tg_tape *tp, tg_tensor *a, tg_tensor *m)
{
    return tg_sub(tp, tg_mul(tp, a, m), tg_add_scalar(tp, m, -1.0));
}

static tg_status pow_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1), *y = tg_node_output(n);
    if (tg_node_needs_grad(n, 0)) {
        tg_tensor *d;
        if (!any_of(b, true)) {
            d = tg_mul(tp, b, tg_pow(tp, a, tg_add_scalar(tp, b, -1.0)));
        } else {
            tg_tensor *m = mask(tp, B_POWKEEP0, a, b, y);
            if (!m) return tg_tape_status(tp);
            /* the exponent too is made safe (0 where masked): a^0 = 1 even
             * where a is infinite or NaN, and a m is then NaN */
            tg_tensor *as = pow_safe_base(tp, a, m);
            tg_tensor *e = tg_mul(tp, tg_add_scalar(tp, b, -1.0), m);
            d = tg_mul(tp, tg_mul(tp, b, tg_pow(tp, as, e)), m);
        }
        gin[0] = to_input(tp, n, 0, tg_mul(tp, g, d));
    }
    if (tg_node_needs_grad(n, 1)) {
        tg_tensor *d;
        if (!any_of(a, true) || !any_of(b, false)) {
            d = tg_mul(tp, y, tg_log(tp, a));
        } else {
            tg_tensor *m = mask(tp, B_POWKEEP1, a, b, y);
            if (!m) return tg_tape_status(tp);
            tg_tensor *as = pow_safe_base(tp, a, m);
            d = tg_mul(tp, tg_mul(tp, tg_pow(tp, as, b), tg_log(tp, as)), m);
        }
        gin[1] = to_input(tp, n, 1, tg_mul(tp, g, d));
    }
    return TG_OK;
}
static const tg_op k_pow = {"pow", 2, pow_backward, pow_direct, pow_scalar};
tg_tensor *tg_pow(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return binary(tp, &k_pow, B_POW, a, b);
}

/* ---- maximum / minimum: the gradient goes to the larger (smaller) input;
 * at a tie each gets half (the mean of the two one-sided derivatives). --- */
static tg_status maxmin_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin,
                                 binop k)
{
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1);
    tg_tensor *m = mask(tp, k, a, b, tg_node_output(n));
    if (!m) return tg_tape_status(tp);
    if (tg_node_needs_grad(n, 0)) gin[0] = to_input(tp, n, 0, tg_mul(tp, g, m));
    if (tg_node_needs_grad(n, 1)) {
        /* b's weight is the complementary mask, a selection of its own: g -
         * g m would make a second sweep through this rule form (v_a + v_b)
         * - v_b, which loses v_b when it is small beside v_a */
        tg_tensor *c = mask(tp, k == B_MAXMASK ? B_MAXCMASK : B_MINCMASK, a, b, tg_node_output(n));
        if (!c) return tg_tape_status(tp);
        gin[1] = to_input(tp, n, 1, tg_mul(tp, g, c));
    }
    return TG_OK;
}
static tg_status maximum_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    return maxmin_backward(tp, n, g, gin, B_MAXMASK);
}
static tg_status minimum_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    return maxmin_backward(tp, n, g, gin, B_MINMASK);
}
static const tg_op k_maximum = {"maximum", 2, maximum_backward, maximum_direct, maximum_scalar};
static const tg_op k_minimum = {"minimum", 2, minimum_backward, minimum_direct, minimum_scalar};
tg_tensor *tg_maximum(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return binary(tp, &k_maximum, B_MAX, a, b);
}
tg_tensor *tg_minimum(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return binary(tp, &k_minimum, B_MIN, a, b);
}

/* ---- scalar variants: y = alpha x + beta, s / x, x ^ p ------------------ */
typedef struct scalar_attr {
    double alpha, beta;
} scalar_attr;

TG_CLONES static tg_tensor *unary_scalar(tg_tape *tp, const tg_op *op, tg_tensor *x, scalar_attr at,
                                         int kind)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, op->name, 1, in)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, x->ndim, x->shape);
    if (!out) return NULL;
    const int64_t n = x->numel;
    TG_DISPATCH(x->dtype, T, {
        T *restrict o = out->data;
        const T *restrict v = x->data;
        const T al = (T)at.alpha, be = (T)at.beta;
        if (kind == 0)
            TG_STORE_LOOP(T, o, n, i, r_, r_ = al * v[i] + be);
        else if (kind == 1)
            for (int64_t i = 0; i < n; i++) o[i] = al / v[i];
        else
            for (int64_t i = 0; i < n; i++) o[i] = TG_POW(v[i], al);
    });
    return tg__tape_record_checked(tp, op, 1, in, out, &at, sizeof at, 0, NULL);
}

/* d(alpha x + beta) = alpha g */
static tg_status affine_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const scalar_attr *at = tg_node_saved(n);
    gin[0] = at->alpha == 1.0 ? g : tg_mul_scalar(tp, g, at->alpha);
    return TG_OK;
}
/* Direct rules of the scalar variants: d (+)= E(g, x, y) elementwise, the
 * op-built rules' arithmetic in the same order. */
#define UNARY_GRAD(T, E) TG_UNARY_GRAD(T, E)

/* al, pt, pm1, two: constants the direct rules below define */
#define E_AFFINE(G, X, Y) (al * (G))
#define E_RDIV(G, X, Y)   (-((G) * ((Y) / (X))))
#define E_P0(G, X, Y)     ((G) * (T)0)
#define E_P2(G, X, Y)     ((G) * (two * (X)))
#define E_PN(G, X, Y)     ((G) * (pt * TG_POW(X, pm1)))

TG_CLONES static tg_status affine_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g,
                                         tg_grad_sink *k)
{
    const scalar_attr *at = tg_node_saved(n);
    if (at->alpha == 1.0) return tg_grad_sink_add(k, 0, g);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    TG_DISPATCH(g->dtype, T, {
        const T al = (T)at->alpha;
        UNARY_GRAD(T, E_AFFINE);
    });
    return TG_OK;
}
static void affine_scalar(const tg_node *n, const tg_scalar_args *a, double *gin)
{
    const scalar_attr *at = tg_node_saved(n);
    TG_DISPATCH(a->dtype, T, {
        const T al = (T)at->alpha;
        gin[0] = at->alpha == 1.0 ? a->gout : (double)E_AFFINE((T)a->gout, 0, 0);
    });
}
static const tg_op k_add_scalar = {"add_scalar", 1, affine_backward, affine_direct, affine_scalar};
static const tg_op k_mul_scalar = {"mul_scalar", 1, affine_backward, affine_direct, affine_scalar};
static const tg_op k_rsub_scalar = {"rsub_scalar", 1, affine_backward, affine_direct,
                                    affine_scalar};

tg_tensor *tg_add_scalar(tg_tape *tp, tg_tensor *x, double s)
{
    return unary_scalar(tp, &k_add_scalar, x, (scalar_attr){1.0, s}, 0);
}
tg_tensor *tg_mul_scalar(tg_tape *tp, tg_tensor *x, double s)
{
    return unary_scalar(tp, &k_mul_scalar, x, (scalar_attr){s, 0.0}, 0);
}
tg_tensor *tg_rsub_scalar(tg_tape *tp, double s, tg_tensor *x)
{
    return unary_scalar(tp, &k_rsub_scalar, x, (scalar_attr){-1.0, s}, 0);
}

/* d(s / x) = -g y / x */
static tg_status rdiv_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0), *y = tg_node_output(n);
    gin[0] = tg_neg(tp, tg_mul(tp, g, tg_div(tp, y, x)));
    return TG_OK;
}
static tg_status rdiv_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    TG_DISPATCH(g->dtype, T, { UNARY_GRAD(T, E_RDIV); });
    return TG_OK;
}
static void rdiv_scalar(const tg_node *n, const tg_scalar_args *a, double *gin)
{
    (void)n;
    TG_DISPATCH(a->dtype, T, {
        const T x = (T)a->x[0], y = (T)a->y;
        gin[0] = E_RDIV((T)a->gout, x, y);
    });
}
static const tg_op k_rdiv_scalar = {"rdiv_scalar", 1, rdiv_backward, rdiv_direct, rdiv_scalar};
tg_tensor *tg_rdiv_scalar(tg_tape *tp, double s, tg_tensor *x)
{
    return unary_scalar(tp, &k_rdiv_scalar, x, (scalar_attr){s, 0.0}, 1);
}

/* p as the forward pass used it: rounded once to the dtype, so that a p
 * that rounds to 0, 1 or 2 takes that rule and p - 1 is the rounded p's. */
static double pow_p(const tg_node *n, tg_dtype dt)
{
    const double p = ((const scalar_attr *)tg_node_saved(n))->alpha;
    return dt == TG_F32 ? (double)(float)p : p;
}

/* d(x^p) = g p x^(p-1); exactly zero for p = 0 (no 0 * inf at x = 0). */
static tg_status pow_scalar_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0);
    double p = pow_p(n, x->dtype);
    if (p == 0.0)
        gin[0] = tg_mul_scalar(tp, g, 0.0);
    else if (p == 1.0)
        gin[0] = g;
    else if (p == 2.0)
        gin[0] = tg_mul(tp, g, tg_mul_scalar(tp, x, 2.0));
    else
        gin[0] = tg_mul(tp, g, tg_mul_scalar(tp, tg_pow_scalar(tp, x, p - 1.0), p));
    return TG_OK;
}
static tg_status pow_scalar_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g,
                                   tg_grad_sink *k)
{
    const double p = pow_p(n, g->dtype);
    if (p == 1.0) return tg_grad_sink_add(k, 0, g);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    TG_DISPATCH(g->dtype, T, {
        const T pt = (T)p, pm1 = (T)(p - 1.0), two = 2;
        if (p == 0.0)
            UNARY_GRAD(T, E_P0);
        else if (p == 2.0)
            UNARY_GRAD(T, E_P2);
        else
            UNARY_GRAD(T, E_PN);
    });
    return TG_OK;
}
static void pow_scalar_scalar(const tg_node *n, const tg_scalar_args *a, double *gin)
{
    const double p = pow_p(n, a->dtype);
    TG_DISPATCH(a->dtype, T, {
        const T pt = (T)p, pm1 = (T)(p - 1.0), two = 2, x = (T)a->x[0], g = (T)a->gout;
        if (p == 1.0)
            gin[0] = a->gout;
        else if (p == 0.0)
            gin[0] = E_P0(g, x, 0);
        else if (p == 2.0)
            gin[0] = E_P2(g, x, 0);
        else
            gin[0] = E_PN(g, x, 0);
    });
}
static const tg_op k_pow_scalar = {"pow_scalar", 1, pow_scalar_backward, pow_scalar_direct,
                                   pow_scalar_scalar};
tg_tensor *tg_pow_scalar(tg_tape *tp, tg_tensor *x, double p)
{
    return unary_scalar(tp, &k_pow_scalar, x, (scalar_attr){p, 0.0}, 2);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_elementwise[] = {
    &k_add,         &k_sub,        &k_mul,        &k_div,        &k_pow,
    &k_maximum,     &k_minimum,    &k_add_scalar, &k_mul_scalar, &k_rsub_scalar,
    &k_rdiv_scalar, &k_pow_scalar, NULL};
