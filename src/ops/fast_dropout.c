/* The elementwise end of a fast-dropout layer (seed 000, eqs 26-28) as one
 * op:  n' = p a / sqrt(1 + c q),  c = (pi / 8) p (1 - p),
 * with a = o @ w and q = (o*o) @ (w*w) the layer's two matrix products, so
 * mu = p a and s2 = p (1 - p) q.  Written as separate ops it would be six
 * passes over the layer's output forward and as many backward; here it is
 * one each way.
 *
 * Its rules, with t = c q + 1 (so n' = p a / sqrt(t)):
 *   dn'/da = p / sqrt(t)
 *   dn'/dq = -(c / 2) p a t^(-3/2) = -(c / 2) n' / t
 * The op-built rule writes these with ops of g, q and the output n' (so it
 * can be differentiated again); the direct rule and the scalar rule compute
 * the same arithmetic in the same order. */
#include "../core/internal.h"

typedef struct fd_attr {
    double p, c;
} fd_attr;

static tg_status fd_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const fd_attr *at = tg_node_saved(n);
    tg_tensor *q = tg_node_input(n, 1), *y = tg_node_output(n);
    tg_tensor *t = tg_add_scalar(tp, tg_mul_scalar(tp, q, at->c), 1.0);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg_mul_scalar(tp, tg_div(tp, g, tg_sqrt(tp, t)), at->p);
    if (tg_node_needs_grad(n, 1))
        gin[1] = tg_mul_scalar(tp, tg_div(tp, tg_mul(tp, g, y), t), -at->c / 2);
    return TG_OK;
}

/* The rules' arithmetic, in the op-built rule's order (mul_scalar(v, s) is
 * s v + 0 and add_scalar(v, 1) is 1 v + 1); T, p_, c_, h_ = -c/2 in scope. */
#define FD_T(Q)        ((T)1 * (c_ * (Q) + (T)0) + (T)1)
#define FD_GA(G, Q)    (p_ * ((G) / TG_SQRT(FD_T(Q))) + (T)0)
#define FD_GQ(G, Q, Y) (h_ * (((G) * (Y)) / FD_T(Q)) + (T)0)

/* d (+)= E for the inputs that need a gradient, in one pass. */
TG_CLONES static tg_status fd_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g,
                                     tg_grad_sink *k)
{
    const fd_attr *at = tg_node_saved(n);
    bool acc_a = false, acc_q = false;
    tg_tensor *da = tg_grad_sink_buffer(k, 0, &acc_a);
    if (!tg__tape_ok(tp)) return tg_tape_status(tp);
    tg_tensor *dq = tg_grad_sink_buffer(k, 1, &acc_q);
    if (!tg__tape_ok(tp)) return tg_tape_status(tp);
    const int64_t m = g->numel;
    TG_DISPATCH(g->dtype, T, {
        const T p_ = (T)at->p, c_ = (T)at->c, h_ = (T)(-at->c / 2);
        const T *restrict gg = g->data, *restrict qq = n->in[1]->data, *restrict yy = n->out->data;
        if (da) {
            T *restrict d = da->data;
            if (acc_a)
                for (int64_t i = 0; i < m; i++) d[i] += FD_GA(gg[i], qq[i]);
            else
                for (int64_t i = 0; i < m; i++) d[i] = FD_GA(gg[i], qq[i]);
        }
        if (dq) {
            T *restrict d = dq->data;
            if (acc_q)
                for (int64_t i = 0; i < m; i++) d[i] += FD_GQ(gg[i], qq[i], yy[i]);
            else
                for (int64_t i = 0; i < m; i++) d[i] = FD_GQ(gg[i], qq[i], yy[i]);
        }
    });
    return TG_OK;
}

static void fd_scalar(const tg_node *n, const tg_scalar_args *a, double *gin)
{
    const fd_attr *at = tg_node_saved(n);
    TG_DISPATCH(a->dtype, T, {
        const T p_ = (T)at->p, c_ = (T)at->c, h_ = (T)(-at->c / 2);
        const T g = (T)a->gout, q = (T)a->x[1], y = (T)a->y;
        gin[0] = FD_GA(g, q);
        gin[1] = FD_GQ(g, q, y);
    });
}

/* tangent: ta p / sqrt(t) - tq (c / 2) n' / t, the two partials above */
static tg_status fd_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const fd_attr *at = tg_node_saved(n);
    tg_tensor *q = tg_node_input(n, 1), *y = tg_node_output(n), *r = NULL;
    tg_tensor *t = tg_add_scalar(tp, tg_mul_scalar(tp, q, at->c), 1.0);
    if (tin[0]) r = tg_mul_scalar(tp, tg_div(tp, tin[0], tg_sqrt(tp, t)), at->p);
    if (tin[1]) {
        tg_tensor *rq = tg_mul_scalar(tp, tg_div(tp, tg_mul(tp, tin[1], y), t), -at->c / 2);
        r = r ? tg_add(tp, r, rq) : rq;
    }
    *tout = r;
    return tg_tape_status(tp);
}
/* "p=0.5" */
static int fd_attrs(const tg_node *n, char *buf, size_t size)
{
    return snprintf(buf, size, "p=%g", ((const fd_attr *)tg_node_saved(n))->p);
}
static const tg_op k_fast_dropout = {.name = "fast_dropout",
                                     .arity = 2,
                                     .backward = fd_backward,
                                     .direct = fd_direct,
                                     .scalar = fd_scalar,
                                     .jvp = fd_jvp,
                                     .formula = "da += g * p / sqrt(1 + c q);  dq += -g * (c / 2) "
                                                "* y / (1 + c q)  (y = p a / sqrt(1 + c q), c = "
                                                "(pi/8) p (1-p))",
                                     .attrs = fd_attrs};

TG_CLONES static void fd_kernel(tg_tensor *out, const tg_tensor *a, const tg_tensor *q,
                                const fd_attr *at)
{
    const int64_t m = out->numel;
    TG_DISPATCH(out->dtype, T, {
        const T p_ = (T)at->p, c_ = (T)at->c;
        T *restrict o = out->data;
        const T *restrict aa = a->data, *restrict qq = q->data;
        for (int64_t i = 0; i < m; i++) o[i] = (p_ * aa[i]) / TG_SQRT(FD_T(qq[i]));
    });
}

/* a and q: the same shape and dtype (the caller, tg_fast_dropout_linear,
 * made them); p in [0, 1]. */
tg_tensor *tg__fast_dropout_scale(tg_tape *tp, tg_tensor *a, tg_tensor *q, double p)
{
    tg_tensor *in[2] = {a, q};
    if (!tg_tape_check_inputs(tp, k_fast_dropout.name, 2, in)) return NULL;
    if (!tg_tensor_same_shape(a, q) || !tg__same_dtype(tp, k_fast_dropout.name, a, q)) {
        char sa[TG_SHAPE_BUF], sq[TG_SHAPE_BUF];
        if (tg__tape_ok(tp))
            tg_tape_fail(tp, TG_ERR_SHAPE, "fast_dropout: a %s and q %s differ in shape",
                         tg__shape_str(a, sa, sizeof sa), tg__shape_str(q, sq, sizeof sq));
        return NULL;
    }
    const fd_attr at = {p, 3.14159265358979323846 / 8.0 * (p * (1.0 - p))};
    tg_tensor *out = tg_tape_alloc(tp, a->dtype, a->ndim, a->shape);
    if (!out) return NULL;
    fd_kernel(out, a, q, &at);
    return tg__tape_record_checked(tp, &k_fast_dropout, 2, in, out, &at, sizeof at, 0, NULL);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_fast_dropout[] = {&k_fast_dropout, NULL};
