/* The elementwise unary op generator, shared by ops/activation.c (the
 * activations and the seed networks' functions) and ops/elementary.c (the
 * libm functions): each op is its op-built backward rule, then one line with
 * its forward expression and its derivative, side by side.  Backward rules
 * are written with tapegrad ops, so they can be recorded (create_graph) and
 * differentiated again.
 *
 * Adding a unary op f:
 *   1. f_backward, the op-built rule: the gradient of x written with
 *      tapegrad ops (what create_graph records);
 *   2. below it, TG_UNARY_OP(f, <y = f(x)>, <d (+)= the gradient of x>,
 *      "<the rule in one line>"), which defines f_kernel, f_dx, f_direct,
 *      f_scalar, k_f and tg_f (list them in a comment on the next line, so
 *      that grep finds them).  The one-line rule is what explain mode
 *      prints for teachers, in g, x and y: "dx += g * y * (1 - y)".  The
 *      tangent rule is the backward rule itself (tg__jvp_diagonal: the
 *      Jacobian of an elementwise op is diagonal);
 *   3. tg_f's declaration in include/tapegrad/ops.h.
 * The expressions are written in the elements x (input), y (output) and g
 * (output gradient), of type T (float or double), which the generated code
 * declares; one with an operator goes in parentheses (clang-format would
 * take g * y for a declaration).  A libm function without a wrapper of its
 * own is TG_LIBM(name, x) (sinf for float, sin for double).  The derivative
 * must be the op-built rule's arithmetic in the same order (tg_mul_scalar's
 * s x + 0 is MUL_SCALAR), so that the direct and scalar rules give the
 * op-built rule's bits: tests/test_scalar.c compares them with ==, and
 * tg_gradcheck compares the direct rule with the op-built one. */
#ifndef TG_OPS_UNARY_H
#define TG_OPS_UNARY_H

#include "../core/internal.h"
#include "../kernels/vmath.h"

/* sigmoid and softplus written so that no exp overflows.  The f32 sigmoid
 * is the vectorisable tg__sigmoidf (kernels/vmath.h), not a libm call per
 * element, which does not vectorise: the sigmoid is a large part of an MLP
 * training step (B3). */
#define SIGMOID64(T, v) ((v) >= 0 ? (T)1 / ((T)1 + TG_EXP(-(v))) : TG_EXP(v) / ((T)1 + TG_EXP(v)))
#define SIGMOID(T, v)   _Generic((v), float : tg__sigmoidf((float)(v)), default : SIGMOID64(T, v))
#define SOFTPLUS(T, v)  (((v) > 0 ? (v) : (T)0) + TG_LOG1P(TG_EXP(-TG_FABS(v))))
#define SIGN(T, v)      ((T)(((v) > 0) - ((v) < 0)))
/* tg_mul_scalar(v, s) = s v + 0 and tg_rsub_scalar(s, v) = -1 v + s, as
 * the affine kernel of ops/elementwise.c computes them */
#define MUL_SCALAR(T, v, s)  ((T)(s) * (v) + (T)0)
#define RSUB_SCALAR(T, s, v) ((T)-1 * (v) + (T)(s))
/* tg_add_scalar(v, s) = 1 v + s */
#define ADD_SCALAR(T, v, s) ((T)1 * (v) + (T)(s))

/* ---- the generator ----------------------------------------------------------
 * for (i < m) dst[i] (+)= EXPR, where EXPR reads the elements a, b and c (of
 * type T, named by the caller) of the arrays pa, pb and pc.  Every element's
 * operands are loaded before EXPR runs, so an EXPR that selects (relu's
 * x > 0 ? g : 0) is a select of values the compiler can vectorise, not a
 * conditional load.  Stores of a large output are streamed (stream.h). */
#define ELEM_LOOP(T, dst, acc, m, a, pa, b, pb, c, pc, EXPR)                                       \
    do {                                                                                           \
        T *restrict el_d = (dst);                                                                  \
        const T *restrict el_a = (pa), *restrict el_b = (pb), *restrict el_c = (pc);               \
        const int64_t el_m = (m);                                                                  \
        if (acc) {                                                                                 \
            TG_ELEM_LOOP(el_m, TG_ELEM_MIN_WORK, el_i, const T a = el_a[el_i], b = el_b[el_i],     \
                         c = el_c[el_i];                                                           \
                         (void)a, (void)b, (void)c; el_d[el_i] += (EXPR););                        \
        } else {                                                                                   \
            TG_STORE_LOOP(T, el_d, el_m, el_i, el_r, const T a = el_a[el_i], b = el_b[el_i],       \
                          c = el_c[el_i];                                                          \
                          (void)a, (void)b, (void)c; el_r = (EXPR));                               \
        }                                                                                          \
    } while (0)

/* name_kernel(out, in): out = FWD elementwise, FWD an expression of x */
#define TG_UNARY_KERNEL(name, FWD)                                                                 \
    TG_CLONES static void name##_kernel(tg_tensor *uk_out, const tg_tensor *uk_in)                 \
    {                                                                                              \
        const int64_t uk_n = uk_in->numel;                                                         \
        TG_DISPATCH(uk_in->dtype, T, {                                                             \
            T *restrict uk_o = uk_out->data;                                                       \
            const T *restrict uk_x = uk_in->data;                                                  \
            TG_STORE_LOOP(T, uk_o, uk_n, uk_i, uk_r, const T x = uk_x[uk_i]; uk_r = (FWD));        \
        });                                                                                        \
    }

/* name_dx(d, acc, g, x, y): d (+)= DX elementwise (acc: add), DX an
 * expression of g, x and y; the loop of the direct rule, and the kernel of
 * a fused gradient op (act_grad).  name_direct and name_scalar: the direct
 * and scalar rules, DX on a node's tensors and on its one-element values. */
#define TG_UNARY_RULES(name, DX)                                                                   \
    TG_CLONES static void name##_dx(tg_tensor *ud_d, bool ud_acc, const tg_tensor *ud_g,           \
                                    const tg_tensor *ud_x, const tg_tensor *ud_y)                  \
    {                                                                                              \
        TG_DISPATCH(ud_g->dtype, T, {                                                              \
            ELEM_LOOP(T, ud_d->data, ud_acc, ud_g->numel, g, ud_g->data, x, ud_x->data, y,         \
                      ud_y->data, DX);                                                             \
        });                                                                                        \
    }                                                                                              \
    static tg_status name##_direct(tg_tape *ud_tp, const tg_node *ud_n, const tg_tensor *ud_g,     \
                                   tg_grad_sink *ud_k)                                             \
    {                                                                                              \
        bool ud_acc;                                                                               \
        tg_tensor *ud_d = tg_grad_sink_buffer(ud_k, 0, &ud_acc);                                   \
        if (!ud_d) return tg_tape_status(ud_tp);                                                   \
        name##_dx(ud_d, ud_acc, ud_g, ud_n->in[0], ud_n->out);                                     \
        return TG_OK;                                                                              \
    }                                                                                              \
    static void name##_scalar(const tg_node *ud_n, const tg_scalar_args *ud_a, double *ud_gin)     \
    {                                                                                              \
        (void)ud_n;                                                                                \
        TG_DISPATCH(ud_a->dtype, T, {                                                              \
            const T g = (T)ud_a->gout, x = (T)ud_a->x[0], y = (T)ud_a->y;                          \
            (void)x, (void)y;                                                                      \
            ud_gin[0] = (DX);                                                                      \
        });                                                                                        \
    }

/* k_name and tg_name, with the op's rules and formula (NULL: none) */
#define TG_UNARY_API(nm, bw, dr, sc, jv, fo)                                                       \
    static const tg_op k_##nm = {.name = #nm,                                                      \
                                 .arity = 1,                                                       \
                                 .backward = bw,                                                   \
                                 .direct = dr,                                                     \
                                 .scalar = sc,                                                     \
                                 .jvp = jv,                                                        \
                                 .formula = fo};                                                   \
    tg_tensor *tg_##nm(tg_tape *tp, tg_tensor *x)                                                  \
    {                                                                                              \
        return unary(tp, &k_##nm, nm##_kernel, x);                                                 \
    }

/* A differentiable unary op: y = FWD, d (+)= DX, with name_backward its
 * op-built rule and FORMULA that rule in one line.  Defines name_kernel,
 * name_dx, name_direct, name_scalar, k_name and tg_name. */
#define TG_UNARY_OP(name, FWD, DX, FORMULA)                                                        \
    TG_UNARY_KERNEL(name, FWD)                                                                     \
    TG_UNARY_RULES(name, DX)                                                                       \
    TG_UNARY_API(name, name##_backward, name##_direct, name##_scalar, tg__jvp_diagonal, FORMULA)

/* A piecewise-constant unary op: y = FWD, gradient zero (no rules).
 * Defines name_kernel, k_name and tg_name. */
#define TG_UNARY_CONST_OP(name, FWD)                                                               \
    TG_UNARY_KERNEL(name, FWD)                                                                     \
    TG_UNARY_API(name, NULL, NULL, NULL, NULL, NULL)

typedef void unary_kernel_fn(tg_tensor *out, const tg_tensor *in);

static inline tg_tensor *unary(tg_tape *tp, const tg_op *op, unary_kernel_fn *kernel, tg_tensor *x)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, op->name, 1, in)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, x->ndim, x->shape);
    if (!out) return NULL;
    kernel(out, x);
    return tg_tape_record(tp, op, 1, in, out, NULL, 0, 0, NULL);
}

/* ---- ops with attributes ----------------------------------------------------
 * A unary op with up to two numbers of its own (leaky_relu's slope,
 * hardtanh's bounds), saved on its node.  Its expressions also read them as
 * al and be, the attributes rounded once to T (as the forward pass uses
 * them). */
typedef struct unary_attr {
    double alpha, beta;
} unary_attr;

#define UNARY_ATTR_LET(T, at)                                                                      \
    const T al = (T)(at)->alpha, be = (T)(at)->beta;                                               \
    (void)al, (void)be

/* NAME_forward(tp, x, at): y = FWD, recorded with at saved; NAME_dx,
 * NAME_direct and NAME_scalar: d (+)= DX, as TG_UNARY_RULES; k_NAME, with
 * NAME_backward its op-built rule (NAME, not name: k_NAME.name is read),
 * FORMULA that rule in one line and ATTRS the printer of its attributes.
 * The public wrapper is written by hand (it takes the attributes and
 * validates them). */
#define TG_UNARY_ATTR_OP(NAME, FWD, DX, FORMULA, ATTRS)                                            \
    static const tg_op k_##NAME;                                                                   \
    TG_CLONES static tg_tensor *NAME##_forward(tg_tape *ua_tp, tg_tensor *ua_x, unary_attr ua_at)  \
    {                                                                                              \
        tg_tensor *ua_in[1] = {ua_x};                                                              \
        if (!tg_tape_check_inputs(ua_tp, k_##NAME.name, 1, ua_in)) return NULL;                    \
        tg_tensor *ua_out = tg_tape_alloc(ua_tp, ua_x->dtype, ua_x->ndim, ua_x->shape);            \
        if (!ua_out) return NULL;                                                                  \
        TG_DISPATCH(ua_x->dtype, T, {                                                              \
            UNARY_ATTR_LET(T, &ua_at);                                                             \
            T *restrict ua_o = ua_out->data;                                                       \
            const T *restrict ua_v = ua_x->data;                                                   \
            TG_STORE_LOOP(T, ua_o, ua_x->numel, ua_i, ua_r, const T x = ua_v[ua_i]; ua_r = (FWD)); \
        });                                                                                        \
        return tg__tape_record_checked(ua_tp, &k_##NAME, 1, ua_in, ua_out, &ua_at, sizeof ua_at,   \
                                       0, NULL);                                                   \
    }                                                                                              \
    TG_CLONES static void NAME##_dx(tg_tensor *ud_d, bool ud_acc, const tg_tensor *ud_g,           \
                                    const tg_tensor *ud_x, const tg_tensor *ud_y,                  \
                                    const unary_attr *ud_at)                                       \
    {                                                                                              \
        TG_DISPATCH(ud_g->dtype, T, {                                                              \
            UNARY_ATTR_LET(T, ud_at);                                                              \
            ELEM_LOOP(T, ud_d->data, ud_acc, ud_g->numel, g, ud_g->data, x, ud_x->data, y,         \
                      ud_y->data, DX);                                                             \
        });                                                                                        \
    }                                                                                              \
    static tg_status NAME##_direct(tg_tape *ud_tp, const tg_node *ud_n, const tg_tensor *ud_g,     \
                                   tg_grad_sink *ud_k)                                             \
    {                                                                                              \
        bool ud_acc;                                                                               \
        tg_tensor *ud_d = tg_grad_sink_buffer(ud_k, 0, &ud_acc);                                   \
        if (!ud_d) return tg_tape_status(ud_tp);                                                   \
        NAME##_dx(ud_d, ud_acc, ud_g, ud_n->in[0], ud_n->out, tg_node_saved(ud_n));                \
        return TG_OK;                                                                              \
    }                                                                                              \
    static void NAME##_scalar(const tg_node *ud_n, const tg_scalar_args *ud_a, double *ud_gin)     \
    {                                                                                              \
        const unary_attr *ud_at = tg_node_saved(ud_n);                                             \
        TG_DISPATCH(ud_a->dtype, T, {                                                              \
            UNARY_ATTR_LET(T, ud_at);                                                              \
            const T g = (T)ud_a->gout, x = (T)ud_a->x[0], y = (T)ud_a->y;                          \
            (void)x, (void)y;                                                                      \
            ud_gin[0] = (DX);                                                                      \
        });                                                                                        \
    }                                                                                              \
    static const tg_op k_##NAME = {.name = #NAME,                                                  \
                                   .arity = 1,                                                     \
                                   .backward = NAME##_backward,                                    \
                                   .direct = NAME##_direct,                                        \
                                   .scalar = NAME##_scalar,                                        \
                                   .jvp = tg__jvp_diagonal,                                        \
                                   .formula = FORMULA,                                             \
                                   .attrs = ATTRS};

/* name(tp, n): a constant tensor (not differentiable) of node n's input
 * shape holding MASK, an expression of its input's elements x and its
 * attributes: the piecewise factor an op-built rule multiplies by, the
 * expression its direct rule uses, so that arithmetic exists once. */
#define TG_UNARY_ATTR_MASK(name, MASK)                                                             \
    static tg_tensor *name(tg_tape *um_tp, const tg_node *um_n)                                    \
    {                                                                                              \
        const tg_tensor *um_x = um_n->in[0];                                                       \
        const unary_attr *um_at = tg_node_saved(um_n);                                             \
        tg_tensor *um_m = tg_tape_alloc(um_tp, um_x->dtype, um_x->ndim, um_x->shape);              \
        if (um_m)                                                                                  \
            TG_DISPATCH(um_x->dtype, T, {                                                          \
                UNARY_ATTR_LET(T, um_at);                                                          \
                T *restrict um_o = um_m->data;                                                     \
                const T *restrict um_v = um_x->data;                                               \
                for (int64_t um_i = 0; um_i < um_x->numel; um_i++) {                               \
                    const T x = um_v[um_i];                                                        \
                    um_o[um_i] = (MASK);                                                           \
                }                                                                                  \
            });                                                                                    \
        return um_m;                                                                               \
    }

#endif
