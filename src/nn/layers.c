/* Layers as plain functions of user-owned parameter tensors, each built from
 * recorded ops, so they need no backward rule of their own: their gradients
 * (of any order) are those of the ops they are made of (for fast dropout,
 * one of them is a fused op with its own rules, ops/fast_dropout.c). */
#include "../core/internal.h"

/* x as a 2-d (N, in) matrix, N the product of its leading extents (1 for
 * 1-d x): a view. */
static tg_tensor *as_rows(tg_tape *tp, tg_tensor *x)
{
    if (x->ndim == 2) return x;
    int64_t rows = 1; /* a tensor's leading extents: bounded (checked.h) */
    if (!tg__extents_product(x->ndim - 1, x->shape, TG_NUMEL_MAX, &rows)) return NULL;
    return tg_reshape(tp, x, 2, (const int64_t[]){rows, x->shape[x->ndim - 1]});
}

/* Shared validation of linear-like layers: x (..., in) with 1 to max_rank
 * axes, w (in, out). */
static bool check_xw(tg_tape *tp, const char *op, tg_tensor *x, tg_tensor *w, int max_rank)
{
    char sx[TG_SHAPE_BUF], sw[TG_SHAPE_BUF];
    if (x->ndim < 1 || x->ndim > max_rank || w->ndim != 2) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: x %s, w %s: need x %s and w (in, out)", op,
                     tg__shape_str(x, sx, sizeof sx), tg__shape_str(w, sw, sizeof sw),
                     max_rank == 2 ? "(N, in) or (in)" : "(..., in), at least 1-d");
        return false;
    }
    if (x->shape[x->ndim - 1] != w->shape[0]) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: x %s, w %s: x has %lld inputs, w expects %lld", op,
                     tg__shape_str(x, sx, sizeof sx), tg__shape_str(w, sw, sizeof sw),
                     (long long)x->shape[x->ndim - 1], (long long)w->shape[0]);
        return false;
    }
    return tg__same_dtype(tp, op, x, w);
}

/* y = x @ w + b over x's last axis: x (..., in) gives y (..., out), the
 * leading axes as one batch of rows (one matmul, a view in and out). */
tg_tensor *tg_linear(tg_tape *tp, tg_tensor *x, tg_tensor *w, tg_tensor *b)
{
    tg_tensor *in[3] = {x, w, b};
    if (!tg_tape_check_inputs(tp, "linear", b ? 3 : 2, in)) return NULL;
    if (!check_xw(tp, "linear", x, w, TG_MAX_DIMS)) return NULL;
    if (b) {
        char sb[TG_SHAPE_BUF], sw[TG_SHAPE_BUF];
        if (b->ndim != 1 || b->shape[0] != w->shape[1]) {
            tg_tape_fail(tp, TG_ERR_SHAPE, "linear: w %s, b %s: b must be (%lld)",
                         tg__shape_str(w, sw, sizeof sw), tg__shape_str(b, sb, sizeof sb),
                         (long long)w->shape[1]);
            return NULL;
        }
        if (!tg__same_dtype(tp, "linear", w, b)) return NULL;
    }
    tg_tensor *y = tg_matmul(tp, as_rows(tp, x), w);
    if (b) y = tg_add(tp, y, b); /* b (out) broadcasts over the rows */
    if (y && x->ndim != 2) {
        int64_t shape[TG_MAX_DIMS];
        memcpy(shape, x->shape, (size_t)(x->ndim - 1) * sizeof *shape);
        shape[x->ndim - 1] = w->shape[1];
        y = tg_reshape(tp, y, x->ndim, shape);
    }
    return y;
}

/* Inverted dropout y = x * m with m_i = [u_i >= p] / (1 - p), u_i uniform
 * from the tape's RNG.  The mask is a tape constant (an unrecorded tape
 * tensor), so dy/dx = m exactly and higher derivatives are those of a
 * product with a constant.  The RNG advances by one draw per element, so a
 * function that reseeds the tape's RNG (tg_rng_seed(tg_tape_rng(tp), s))
 * before its forward draws the same mask at every evaluation (what
 * tg_gradcheck needs: tg_tape_reset does not reseed the RNG). */
tg_tensor *tg_dropout(tg_tape *tp, tg_tensor *x, double p, bool training)
{
    if (!tg_tape_check_inputs(tp, "dropout", 1, &x)) return NULL;
    if (!(p >= 0.0 && p < 1.0)) { /* also rejects NaN */
        char s[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_ARG, "dropout: x %s: drop probability %g is not in [0, 1)",
                     tg__shape_str(x, s, sizeof s), p);
        return NULL;
    }
    /* The identity as a recorded view, so the result is tape-owned as for
     * every op (and costs no copy). */
    if (!training || p == 0.0) return tg_reshape(tp, x, x->ndim, x->shape);
    tg_tensor *m = tg_tape_alloc(tp, x->dtype, x->ndim, x->shape);
    if (!m) return NULL;
    tg_rng *r = tg_tape_rng(tp);
    const double keep = 1.0 / (1.0 - p);
    TG_DISPATCH(x->dtype, T, {
        T *d = (T *)m->data;
        for (int64_t i = 0; i < m->numel; i++) d[i] = tg_rng_uniform(r) >= p ? (T)keep : (T)0;
    });
    return tg_mul(tp, x, m);
}

/* Fast dropout (Wang & Manning 2013; seed 000 eqs 26-28): the sum
 * sum_j z_j w_jk o_j with z_j ~ Bernoulli(p) is approximated by a Gaussian of
 * mean mu_k = p sum_j w_jk o_j and variance s2_k = p (1 - p) sum_j w_jk^2 o_j^2,
 * and E[sigmoid] of it by sigmoid(mu / sqrt(1 + pi s2 / 8)) (the probit
 * approximation of the logistic).  Built from two matmuls, two squares and
 * one fused elementwise op with its own rules (ops/fast_dropout.c), so eqs
 * 29-44 (the deltas and taus) come out of the reverse sweep. */
tg_tensor *tg_fast_dropout_linear(tg_tape *tp, tg_tensor *o, tg_tensor *w, double p)
{
    tg_tensor *in[2] = {o, w};
    if (!tg_tape_check_inputs(tp, "fast_dropout_linear", 2, in)) return NULL;
    if (!check_xw(tp, "fast_dropout_linear", o, w, 2)) return NULL;
    if (!(p >= 0.0 && p <= 1.0)) {
        char so[TG_SHAPE_BUF], sw[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_ARG,
                     "fast_dropout_linear: o %s, w %s: keep probability %g is not in [0, 1]",
                     tg__shape_str(o, so, sizeof so), tg__shape_str(w, sw, sizeof sw), p);
        return NULL;
    }
    tg_tensor *o2 = as_rows(tp, o);
    tg_tensor *a = tg_matmul(tp, o2, w);                               /* mu = p a */
    tg_tensor *q = tg_matmul(tp, tg_square(tp, o2), tg_square(tp, w)); /* s2 = p (1-p) q */
    tg_tensor *n = a && q ? tg__fast_dropout_scale(tp, a, q, p) : NULL;
    if (n && o->ndim == 1) n = tg_reshape(tp, n, 1, &w->shape[1]);
    return n;
}
