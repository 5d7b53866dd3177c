/* Elementwise binary ops with NumPy broadcasting, and the scalar-attribute
 * ops (x + s, s x, s - x, s / x, x ^ p).  Each op is its op-built rule,
 * written with tapegrad ops (so it can itself be recorded; a binary op's
 * sums each gradient back to its input's shape with tg__grad_to_input), then one
 * generator line beside it that makes the rest from the op's arithmetic
 * (the loops are in kernels/bcast.h).
 *
 * Adding a binary op `name` takes three places:
 *   1. name_backward, the op-built rule, and name_jvp, the tangent rule
 *      (bin_tangent of the two inputs' terms, each built from ops);
 *   2. TG_BINARY_OP(name, (Y), (DA), (DB), FORMULA) below it, after a comment line
 *      naming what it makes: name_kernel (the forward loops), name_direct
 *      and name_scalar (the fast rules), the descriptor k_name and tg_name.
 *      Y is the value, DA and DB the gradients of a and b: expressions of
 *      the elements a, b, y (the output) and g (its gradient), all of type
 *      T (parenthesised, so clang-format leaves them alone).  DA and DB do
 *      the op-built rule's arithmetic in the same order, so the rules agree
 *      to the bit (tests/test_direct.c compares them with ==).  A gradient
 *      written as g alone is handed over without a copy.  FORMULA is the
 *      backward rule in one line for explain mode;
 *   3. its line in include/tapegrad/ops.h (and its test case).
 * A scalar-attribute op: its op-built rule, TG_SCALAR_OP (the same with the
 * element x, and the attributes as doubles alpha, beta and in T al, be),
 * its descriptor (with tg__jvp_diagonal: the op is elementwise) and its
 * wrapper.  A constant mask an op-built rule
 * multiplies by is a TG_BINARY_KERNEL of the expression the direct rule
 * uses, so that arithmetic exists once. */
#include "../core/internal.h"
#include "../kernels/bcast.h"

/* ---- the steps every binary op shares ------------------------------------
 * tg__binary_op (core/opsupport.c) validates, broadcasts, allocates, runs a
 * kernel and records; tg__grad_to_input sums a gradient back to an input. */

/* A constant tensor (not differentiable) of like's shape: kernel(a, b), a
 * mask for an op-built rule. */
static tg_tensor *mask(tg_tape *tp, tg__bin_kernel_fn *kernel, tg_tensor *a, tg_tensor *b,
                       const tg_tensor *like)
{
    tg_tensor *m = tg_tape_alloc(tp, like->dtype, like->ndim, like->shape);
    if (m) kernel(m, a, b);
    return m;
}

/* The buffer of input `slot`'s gradient for a binary op's direct rule, and
 * in *w the wide accumulators (kernels/bcast.h) when it is summed to more
 * than one element.  NULL when there is nothing to compute: the input needs
 * no gradient, or the tape is in error (out of memory), or g itself was
 * handed over (pass: the gradient is g, and the input has g's shape). */
static tg_tensor *bin_grad_buffer(tg_tape *tp, const tg_node *n, const tg_tensor *g,
                                  tg_grad_sink *k, int slot, bool pass, bool *acc, double **w)
{
    *w = NULL;
    if (!tg__tape_ok(tp)) return NULL;
    if (pass && tg_tensor_same_shape(n->in[slot], g)) {
        tg_grad_sink_add(k, slot, g);
        return NULL;
    }
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

/* The tangent of a binary op's output from its inputs' terms ta (the
 * tangent of a times dy/da) and tb (NULL: the input has no tangent): their
 * sum, broadcast to the output's shape when a lone term is smaller (the
 * tangent of a broadcast input). */
static tg_status bin_tangent(tg_tape *tp, const tg_node *n, tg_tensor *ta, tg_tensor *tb,
                             tg_tensor **tout)
{
    if (!tg__tape_ok(tp)) return tg_tape_status(tp);
    tg_tensor *t = ta && tb ? tg_add(tp, ta, tb) : ta ? ta : tb;
    const tg_tensor *y = tg_node_output(n);
    if (t && !tg_tensor_same_shape(t, y)) t = tg_broadcast_to(tp, t, y->ndim, y->shape);
    *tout = t;
    return tg_tape_status(tp);
}

/* Whether a gradient expression is g alone: a compile-time constant. */
#define BIN_IS_G(D) (sizeof(#D) == sizeof("g") && (#D)[0] == 'g')

/* out = Y over a and b broadcast (a, b the elements, T their type). */
#define TG_BINARY_KERNEL(kernel, Y)                                                                \
    TG_CLONES static void kernel(tg_tensor *out, const tg_tensor *ta, const tg_tensor *tb)         \
    {                                                                                              \
        TG_DISPATCH(out->dtype, T, { TG_BCAST_MAP(T, out, ta, tb, a, b, Y); });                    \
    }

/* A binary op from its value Y and gradients DA, DB (see the top). */
#define TG_BINARY_OP(NAME, Y, DA, DB, FORMULA)                                                     \
    TG_BINARY_KERNEL(NAME##_kernel, Y)                                                             \
    TG_CLONES static tg_status NAME##_direct(tg_tape *tp, const tg_node *node,                     \
                                             const tg_tensor *gout, tg_grad_sink *sink)            \
    {                                                                                              \
        const tg_tensor *ta = node->in[0], *tb = node->in[1], *ty = node->out;                     \
        bool acc;                                                                                  \
        double *w;                                                                                 \
        tg_tensor *d = bin_grad_buffer(tp, node, gout, sink, 0, BIN_IS_G(DA), &acc, &w);           \
        if (d)                                                                                     \
            TG_DISPATCH(gout->dtype, T,                                                            \
                        { TG_BCAST_GRAD(T, d, acc, w, 0, gout, ta, tb, ty, g, a, b, y, DA); });    \
        if ((d = bin_grad_buffer(tp, node, gout, sink, 1, BIN_IS_G(DB), &acc, &w)))                \
            TG_DISPATCH(gout->dtype, T,                                                            \
                        { TG_BCAST_GRAD(T, d, acc, w, 1, gout, ta, tb, ty, g, a, b, y, DB); });    \
        return tg_tape_status(tp);                                                                 \
    }                                                                                              \
    static void NAME##_scalar(const tg_node *node, const tg_scalar_args *s, double *gin)           \
    {                                                                                              \
        (void)node;                                                                                \
        TG_DISPATCH(s->dtype, T, {                                                                 \
            const T g = (T)s->gout, a = (T)s->x[0], b = (T)s->x[1], y = (T)s->y;                   \
            (void)g, (void)a, (void)b, (void)y;                                                    \
            gin[0] = (T)(DA);                                                                      \
            gin[1] = (T)(DB);                                                                      \
        });                                                                                        \
    }                                                                                              \
    static const tg_op k_##NAME = {.name = #NAME,                                                  \
                                   .arity = 2,                                                     \
                                   .backward = NAME##_backward,                                    \
                                   .direct = NAME##_direct,                                        \
                                   .scalar = NAME##_scalar,                                        \
                                   .jvp = NAME##_jvp,                                              \
                                   .formula = FORMULA};                                            \
    tg_tensor *tg_##NAME(tg_tape *tp, tg_tensor *a, tg_tensor *b)                                  \
    {                                                                                              \
        return tg__binary_op(tp, &k_##NAME, NAME##_kernel, a, b);                                  \
    }

/* ---- add: d(a+b) = g, g ------------------------------------------------- */
static tg_status add_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    if (tg_node_needs_grad(n, 0)) gin[0] = tg__grad_to_input(tp, n, 0, g);
    if (tg_node_needs_grad(n, 1)) gin[1] = tg__grad_to_input(tp, n, 1, g);
    return TG_OK;
}
/* d(a+b) = ta + tb */
static tg_status add_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    return bin_tangent(tp, n, tin[0], tin[1], tout);
}
/* add_kernel, add_direct, add_scalar, k_add, tg_add: */
TG_BINARY_OP(add, (a + b), g, g,
             "da += sum_to(g, a.shape);  db += sum_to(g, b.shape)  (sum over broadcast axes)")

/* ---- sub: d(a-b) = g, -g ------------------------------------------------ */
static tg_status sub_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    if (tg_node_needs_grad(n, 0)) gin[0] = tg__grad_to_input(tp, n, 0, g);
    if (tg_node_needs_grad(n, 1)) gin[1] = tg__grad_to_input(tp, n, 1, tg_neg(tp, g));
    return TG_OK;
}
/* d(a-b) = ta - tb */
static tg_status sub_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    return bin_tangent(tp, n, tin[0], tin[1] ? tg_neg(tp, tin[1]) : NULL, tout);
}
/* sub_kernel, sub_direct, sub_scalar, k_sub, tg_sub: */
TG_BINARY_OP(sub, (a - b), g, (-g),
             "da += sum_to(g, a.shape);  db += sum_to(-g, b.shape)  (sum over broadcast axes)")

/* ---- mul: d(ab) = g b, g a ---------------------------------------------- */
static tg_status mul_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg__grad_to_input(tp, n, 0, tg_mul(tp, g, b));
    /* x * x: both contributions are g x; compute it once (the sweep adds
     * the two, copying before it accumulates, so sharing is safe) */
    if (a == b && gin[0])
        gin[1] = gin[0];
    else if (tg_node_needs_grad(n, 1))
        gin[1] = tg__grad_to_input(tp, n, 1, tg_mul(tp, g, a));
    return TG_OK;
}
/* d(ab) = ta b + a tb */
static tg_status mul_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1);
    return bin_tangent(tp, n, tin[0] ? tg_mul(tp, tin[0], b) : NULL,
                       tin[1] ? tg_mul(tp, a, tin[1]) : NULL, tout);
}
/* mul_kernel, mul_direct, mul_scalar, k_mul, tg_mul: */
TG_BINARY_OP(mul, (a * b), (g * b), (g * a),
             "da += sum_to(g * b, a.shape);  db += sum_to(g * a, b.shape)  (sum over broadcast "
             "axes)")

/* ---- div: d(a/b) = g / b, -g (a/b) / b ----------------------------------- */
static tg_status div_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *b = tg_node_input(n, 1), *y = tg_node_output(n);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg__grad_to_input(tp, n, 0, tg_div(tp, g, b));
    if (tg_node_needs_grad(n, 1))
        gin[1] = tg__grad_to_input(tp, n, 1, tg_neg(tp, tg_mul(tp, g, tg_div(tp, y, b))));
    return TG_OK;
}
/* d(a/b) = ta / b - tb y / b */
static tg_status div_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    tg_tensor *b = tg_node_input(n, 1), *y = tg_node_output(n);
    return bin_tangent(tp, n, tin[0] ? tg_div(tp, tin[0], b) : NULL,
                       tin[1] ? tg_neg(tp, tg_mul(tp, tin[1], tg_div(tp, y, b))) : NULL, tout);
}
/* div_kernel, div_direct, div_scalar, k_div, tg_div: */
TG_BINARY_OP(div, (a / b), (g / b), (-(g * (y / b))),
             "da += sum_to(g / b, a.shape);  db += sum_to(-g * y / b, b.shape)  (y = a / b; sum "
             "over broadcast axes)")

/* ---- pow: d(a^b) = g b a^(b-1), g a^b ln a -------------------------------
 * masked (PyTorch's convention): d/da = b a^(b-1) is 0 where b == 0, and
 * d/db = a^b log a is 0 where a == 0 and b >= 0, where the formulas give
 * 0 * inf = NaN at a = 0 (a^b is constant in the variable there, or tends
 * to 0 faster than log a diverges).  The op-built rule builds the masked
 * form only when some element is masked (the graph is otherwise the plain
 * formula's): there the base is replaced by 1 (a m - (m - 1), exactly a
 * where m = 1) so that every value and every derivative of the rule stays
 * finite (for a finite a), and the result is multiplied by the constant
 * mask m, so the masked elements' rule is the constant 0 (its own
 * derivatives 0, as through PyTorch's where). */
#define POW_MASK_A(a, b) ((b) == 0)
#define POW_MASK_B(a, b) ((a) == 0 && (b) >= 0)
TG_BINARY_KERNEL(pow_keep_a_kernel, POW_MASK_A(a, b) ? 0 : 1)
TG_BINARY_KERNEL(pow_keep_b_kernel, POW_MASK_B(a, b) ? 0 : 1)

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

/* dy/da = b a^(b-1), masked (NULL on out of memory) */
static tg_tensor *pow_da(tg_tape *tp, const tg_node *n)
{
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1), *y = tg_node_output(n);
    if (!any_of(b, true)) return tg_mul(tp, b, tg_pow(tp, a, tg_add_scalar(tp, b, -1.0)));
    tg_tensor *m = mask(tp, pow_keep_a_kernel, a, b, y);
    if (!m) return NULL;
    /* the exponent too is made safe (0 where masked): a^0 = 1 even where a
     * is infinite or NaN, and a m is then NaN */
    tg_tensor *as = pow_safe_base(tp, a, m);
    tg_tensor *e = tg_mul(tp, tg_add_scalar(tp, b, -1.0), m);
    return tg_mul(tp, tg_mul(tp, b, tg_pow(tp, as, e)), m);
}

/* dy/db = a^b ln a, masked (NULL on out of memory) */
static tg_tensor *pow_db(tg_tape *tp, const tg_node *n)
{
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1), *y = tg_node_output(n);
    if (!any_of(a, true) || !any_of(b, false)) return tg_mul(tp, y, tg_log(tp, a));
    tg_tensor *m = mask(tp, pow_keep_b_kernel, a, b, y);
    if (!m) return NULL;
    tg_tensor *as = pow_safe_base(tp, a, m);
    return tg_mul(tp, tg_mul(tp, tg_pow(tp, as, b), tg_log(tp, as)), m);
}

static tg_status pow_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    if (tg_node_needs_grad(n, 0))
        gin[0] = tg__grad_to_input(tp, n, 0, tg_mul(tp, g, pow_da(tp, n)));
    if (tg_node_needs_grad(n, 1))
        gin[1] = tg__grad_to_input(tp, n, 1, tg_mul(tp, g, pow_db(tp, n)));
    return tg_tape_status(tp);
}
/* d(a^b) = ta (dy/da) + tb (dy/db), the backward rule's masked partials */
static tg_status pow_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    return bin_tangent(tp, n, tin[0] ? tg_mul(tp, tin[0], pow_da(tp, n)) : NULL,
                       tin[1] ? tg_mul(tp, tin[1], pow_db(tp, n)) : NULL, tout);
}
/* pow_kernel, pow_direct, pow_scalar, k_pow, tg_pow: */
TG_BINARY_OP(pow, TG_POW(a, b), (g * (POW_MASK_A(a, b) ? (T)0 : b * TG_POW(a, b + (T)-1))),
             (g * (POW_MASK_B(a, b) ? (T)0 : y * TG_LOG(a))),
             "da += sum_to(g * b * a^(b-1), a.shape);  db += sum_to(g * y * ln a, b.shape)  (y "
             "= a^b; 0 where b = 0, resp. a = 0 and b >= 0)")

/* ---- maximum / minimum: the gradient goes to the larger (smaller) input;
 * at a tie each gets half (the mean of the two one-sided derivatives).
 * MAX_WA, MAX_WB: the weights of a and b in max, each a selection of its
 * own (1 - MAX_WA would make a second sweep through the op-built rule form
 * (v_a + v_b) - v_b, which loses v_b when it is small beside v_a). */
#define MAX_WA(a, b) ((a) > (b) ? 1 : (a) == (b) ? 0.5f : 0)
#define MAX_WB(a, b) ((a) > (b) ? 0 : (a) == (b) ? 0.5f : 1)
#define MIN_WA(a, b) ((a) < (b) ? 1 : (a) == (b) ? 0.5f : 0)
#define MIN_WB(a, b) ((a) < (b) ? 0 : (a) == (b) ? 0.5f : 1)
TG_BINARY_KERNEL(maximum_wa_kernel, MAX_WA(a, b))
TG_BINARY_KERNEL(maximum_wb_kernel, MAX_WB(a, b))
TG_BINARY_KERNEL(minimum_wa_kernel, MIN_WA(a, b))
TG_BINARY_KERNEL(minimum_wb_kernel, MIN_WB(a, b))

/* g times the weight masks wa, wb, each summed back to its input. */
static tg_status maxmin_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin,
                                 tg__bin_kernel_fn *wa, tg__bin_kernel_fn *wb)
{
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1);
    tg_tensor *m = mask(tp, wa, a, b, tg_node_output(n));
    if (!m) return tg_tape_status(tp);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg__grad_to_input(tp, n, 0, tg_mul(tp, g, m));
    if (tg_node_needs_grad(n, 1)) {
        tg_tensor *c = mask(tp, wb, a, b, tg_node_output(n));
        if (!c) return tg_tape_status(tp);
        gin[1] = tg__grad_to_input(tp, n, 1, tg_mul(tp, g, c));
    }
    return TG_OK;
}
/* ta wa + tb wb with the same weight masks */
static tg_status maxmin_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout,
                            tg__bin_kernel_fn *wa, tg__bin_kernel_fn *wb)
{
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1), *y = tg_node_output(n);
    tg_tensor *ta = NULL, *tb = NULL, *m;
    if (tin[0] && (m = mask(tp, wa, a, b, y))) ta = tg_mul(tp, tin[0], m);
    if (tin[1] && (m = mask(tp, wb, a, b, y))) tb = tg_mul(tp, tin[1], m);
    return bin_tangent(tp, n, ta, tb, tout);
}
static tg_status maximum_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    return maxmin_backward(tp, n, g, gin, maximum_wa_kernel, maximum_wb_kernel);
}
static tg_status maximum_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    return maxmin_jvp(tp, n, tin, tout, maximum_wa_kernel, maximum_wb_kernel);
}
/* maximum_kernel, maximum_direct, maximum_scalar, k_maximum, tg_maximum: */
TG_BINARY_OP(maximum, (a >= b ? a : b), (g * MAX_WA(a, b)), (g * MAX_WB(a, b)),
             "da += sum_to(g * [a > b], a.shape);  db += sum_to(g * [b > a], b.shape)  (1/2 "
             "each at a tie)")
static tg_status minimum_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    return maxmin_backward(tp, n, g, gin, minimum_wa_kernel, minimum_wb_kernel);
}
static tg_status minimum_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    return maxmin_jvp(tp, n, tin, tout, minimum_wa_kernel, minimum_wb_kernel);
}
/* minimum_kernel, minimum_direct, minimum_scalar, k_minimum, tg_minimum: */
TG_BINARY_OP(minimum, (a <= b ? a : b), (g * MIN_WA(a, b)), (g * MIN_WB(a, b)),
             "da += sum_to(g * [a < b], a.shape);  db += sum_to(g * [b < a], b.shape)  (1/2 "
             "each at a tie)")

/* ---- atan2: d atan2(a, b) = g b / (a^2 + b^2), -(g a / (a^2 + b^2)) -------
 * (libm's value at a = b = 0, where the gradient is 0/0 = NaN, as PyTorch) */
static tg_status atan2_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1);
    tg_tensor *r2 = tg_add(tp, tg_square(tp, a), tg_square(tp, b));
    if (tg_node_needs_grad(n, 0))
        gin[0] = tg__grad_to_input(tp, n, 0, tg_div(tp, tg_mul(tp, g, b), r2));
    if (tg_node_needs_grad(n, 1))
        gin[1] = tg__grad_to_input(tp, n, 1, tg_neg(tp, tg_div(tp, tg_mul(tp, g, a), r2)));
    return TG_OK;
}
/* d atan2(a, b) = (ta b - tb a) / (a^2 + b^2) */
static tg_status atan2_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1);
    tg_tensor *t = NULL;
    bin_tangent(tp, n, tin[0] ? tg_mul(tp, tin[0], b) : NULL,
                tin[1] ? tg_neg(tp, tg_mul(tp, tin[1], a)) : NULL, &t);
    *tout = tg_div(tp, t, tg_add(tp, tg_square(tp, a), tg_square(tp, b)));
    return tg_tape_status(tp);
}
/* atan2_kernel, atan2_direct, atan2_scalar, k_atan2, tg_atan2: */
TG_BINARY_OP(atan2,
             _Generic((a), float
                      : atan2f, default
                      : atan2)(a, b),
             ((g * b) / (a * a + b * b)), (-((g * a) / (a * a + b * b))),
             "da += sum_to(g * b / (a^2 + b^2), a.shape);  db += sum_to(-g * a / (a^2 + b^2), "
             "b.shape)")

/* ---- hypot: d sqrt(a^2 + b^2) = g a / y, g b / y -------------------------
 * (NaN at a = b = 0, as PyTorch's) */
static tg_status hypot_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1), *y = tg_node_output(n);
    if (tg_node_needs_grad(n, 0))
        gin[0] = tg__grad_to_input(tp, n, 0, tg_div(tp, tg_mul(tp, g, a), y));
    if (tg_node_needs_grad(n, 1))
        gin[1] = tg__grad_to_input(tp, n, 1, tg_div(tp, tg_mul(tp, g, b), y));
    return TG_OK;
}
/* d hypot(a, b) = (ta a + tb b) / y */
static tg_status hypot_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1);
    tg_tensor *t = NULL;
    bin_tangent(tp, n, tin[0] ? tg_mul(tp, tin[0], a) : NULL, tin[1] ? tg_mul(tp, tin[1], b) : NULL,
                &t);
    *tout = tg_div(tp, t, tg_node_output(n));
    return tg_tape_status(tp);
}
/* hypot_kernel, hypot_direct, hypot_scalar, k_hypot, tg_hypot: */
TG_BINARY_OP(hypot,
             _Generic((a), float
                      : hypotf, default
                      : hypot)(a, b),
             ((g * a) / y), ((g * b) / y),
             "da += sum_to(g * a / y, a.shape);  db += sum_to(g * b / y, b.shape)  (y = "
             "sqrt(a^2 + b^2))")

/* ---- scalar-attribute ops: y = Y(x) with two saved numbers ---------------- */
typedef struct scalar_attr {
    double alpha, beta;
} scalar_attr;

/* The names an attribute op's expressions read: the attributes as doubles
 * (alpha, beta) and in the element type (al, be). */
#define SCALAR_ATTR_LET(T, at)                                                                     \
    const double alpha = (at)->alpha, beta = (at)->beta;                                           \
    const T al = (T)alpha, be = (T)beta;                                                           \
    (void)alpha, (void)beta, (void)al, (void)be

/* An attribute op from its value Y and gradient DX, expressions of the
 * element x, y (the output) and g (its gradient) and the attributes; PASS,
 * an expression of al and be (the attributes rounded to the dtype, as the
 * forward pass uses them), says when DX is g itself (handed over
 * without a copy).  Makes name_forward(tp, op, x, attributes), the forward
 * of every descriptor that shares the rules, name_direct and name_scalar. */
#define TG_SCALAR_OP(NAME, Y, DX, PASS)                                                            \
    TG_CLONES static tg_tensor *NAME##_forward(tg_tape *tp, const tg_op *op, tg_tensor *tx,        \
                                               scalar_attr at)                                     \
    {                                                                                              \
        tg_tensor *in[1] = {tx};                                                                   \
        if (!tg_tape_check_inputs(tp, op->name, 1, in)) return NULL;                               \
        tg_tensor *out = tg_tape_alloc(tp, tx->dtype, tx->ndim, tx->shape);                        \
        if (!out) return NULL;                                                                     \
        TG_DISPATCH(tx->dtype, T, {                                                                \
            SCALAR_ATTR_LET(T, &at);                                                               \
            TG_MAP1(T, out, tx, x, Y);                                                             \
        });                                                                                        \
        return tg__tape_record_checked(tp, op, 1, in, out, &at, sizeof at, 0, NULL);               \
    }                                                                                              \
    TG_CLONES static tg_status NAME##_direct(tg_tape *tp, const tg_node *node,                     \
                                             const tg_tensor *gout, tg_grad_sink *sink)            \
    {                                                                                              \
        const scalar_attr *at = tg_node_saved(node);                                               \
        TG_DISPATCH(gout->dtype, T, {                                                              \
            SCALAR_ATTR_LET(T, at);                                                                \
            if (PASS) return tg_grad_sink_add(sink, 0, gout);                                      \
        });                                                                                        \
        bool acc;                                                                                  \
        tg_tensor *d = tg_grad_sink_buffer(sink, 0, &acc);                                         \
        if (!d) return tg_tape_status(tp);                                                         \
        TG_DISPATCH(gout->dtype, T, {                                                              \
            SCALAR_ATTR_LET(T, at);                                                                \
            TG_MAP1_GRAD(T, d, acc, gout, node->in[0], node->out, g, x, y, DX);                    \
        });                                                                                        \
        return TG_OK;                                                                              \
    }                                                                                              \
    static void NAME##_scalar(const tg_node *node, const tg_scalar_args *s, double *gin)           \
    {                                                                                              \
        const scalar_attr *at = tg_node_saved(node);                                               \
        TG_DISPATCH(s->dtype, T, {                                                                 \
            SCALAR_ATTR_LET(T, at);                                                                \
            const T g = (T)s->gout, x = (T)s->x[0], y = (T)s->y;                                   \
            (void)g, (void)x, (void)y;                                                             \
            gin[0] = (PASS) ? s->gout : (double)(T)(DX);                                           \
        });                                                                                        \
    }

/* The attribute printers: the op's number s, alpha or beta. */
static int alpha_attrs(const tg_node *n, char *buf, size_t size)
{
    return snprintf(buf, size, "%g", ((const scalar_attr *)tg_node_saved(n))->alpha);
}
static int beta_attrs(const tg_node *n, char *buf, size_t size)
{
    return snprintf(buf, size, "%g", ((const scalar_attr *)tg_node_saved(n))->beta);
}

/* d(alpha x + beta) = alpha g: add_scalar (1, s), mul_scalar (s, 0) and
 * rsub_scalar (-1, s) share it */
static tg_status affine_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const scalar_attr *at = tg_node_saved(n);
    gin[0] = at->alpha == 1.0 ? g : tg_mul_scalar(tp, g, at->alpha);
    return TG_OK;
}
/* affine_forward, affine_direct, affine_scalar: */
TG_SCALAR_OP(affine, (al * x + be), (al * g), al == 1)
static const tg_op k_add_scalar = {.name = "add_scalar",
                                   .arity = 1,
                                   .backward = affine_backward,
                                   .direct = affine_direct,
                                   .scalar = affine_scalar,
                                   .jvp = tg__jvp_diagonal,
                                   .formula = "dx += g  (y = x + s)",
                                   .attrs = beta_attrs};
static const tg_op k_mul_scalar = {.name = "mul_scalar",
                                   .arity = 1,
                                   .backward = affine_backward,
                                   .direct = affine_direct,
                                   .scalar = affine_scalar,
                                   .jvp = tg__jvp_diagonal,
                                   .formula = "dx += s * g  (y = s * x)",
                                   .attrs = alpha_attrs};
static const tg_op k_rsub_scalar = {.name = "rsub_scalar",
                                    .arity = 1,
                                    .backward = affine_backward,
                                    .direct = affine_direct,
                                    .scalar = affine_scalar,
                                    .jvp = tg__jvp_diagonal,
                                    .formula = "dx += -g  (y = s - x)",
                                    .attrs = beta_attrs};
tg_tensor *tg_add_scalar(tg_tape *tp, tg_tensor *x, double s)
{
    return affine_forward(tp, &k_add_scalar, x, (scalar_attr){1.0, s});
}
tg_tensor *tg_mul_scalar(tg_tape *tp, tg_tensor *x, double s)
{
    return affine_forward(tp, &k_mul_scalar, x, (scalar_attr){s, 0.0});
}
tg_tensor *tg_rsub_scalar(tg_tape *tp, double s, tg_tensor *x)
{
    return affine_forward(tp, &k_rsub_scalar, x, (scalar_attr){-1.0, s});
}

/* d(s / x) = -g y / x */
static tg_status rdiv_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0), *y = tg_node_output(n);
    gin[0] = tg_neg(tp, tg_mul(tp, g, tg_div(tp, y, x)));
    return TG_OK;
}
/* rdiv_forward, rdiv_direct, rdiv_scalar: */
TG_SCALAR_OP(rdiv, (al / x), (-(g * (y / x))), false)
static const tg_op k_rdiv_scalar = {.name = "rdiv_scalar",
                                    .arity = 1,
                                    .backward = rdiv_backward,
                                    .direct = rdiv_direct,
                                    .scalar = rdiv_scalar,
                                    .jvp = tg__jvp_diagonal,
                                    .formula = "dx += -g * y / x  (y = s / x)",
                                    .attrs = alpha_attrs};
tg_tensor *tg_rdiv_scalar(tg_tape *tp, double s, tg_tensor *x)
{
    return rdiv_forward(tp, &k_rdiv_scalar, x, (scalar_attr){s, 0.0});
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
/* pow_scalar_forward, pow_scalar_direct, pow_scalar_scalar: */
/* p as the forward pass used it, al (rounded once to the dtype), picks the
 * rule and gives p - 1 */
TG_SCALAR_OP(pow_scalar, TG_POW(x, al),
             (g * (al == 0   ? (T)0
                   : al == 2 ? (T)2 * x
                             : al * TG_POW(x, (T)((double)al - 1.0)))),
             al == 1)
static const tg_op k_pow_scalar = {.name = "pow_scalar",
                                   .arity = 1,
                                   .backward = pow_scalar_backward,
                                   .direct = pow_scalar_direct,
                                   .scalar = pow_scalar_scalar,
                                   .jvp = tg__jvp_diagonal,
                                   .formula = "dx += g * p * x^(p-1)  (y = x^p; 0 for p = 0)",
                                   .attrs = alpha_attrs};
tg_tensor *tg_pow_scalar(tg_tape *tp, tg_tensor *x, double p)
{
    return pow_scalar_forward(tp, &k_pow_scalar, x, (scalar_attr){p, 0.0});
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_elementwise[] = {
    &k_add,         &k_sub,        &k_mul,        &k_div,        &k_pow,
    &k_maximum,     &k_minimum,    &k_add_scalar, &k_mul_scalar, &k_rsub_scalar,
    &k_rdiv_scalar, &k_pow_scalar, &k_atan2,      &k_hypot,      NULL};
