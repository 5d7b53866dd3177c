/* Elementwise unary ops: each op's op-built backward rule, then one line with
 * its forward expression and its derivative, side by side.  Backward rules
 * are written with tapegrad ops, so they can be recorded (create_graph) and
 * differentiated again.
 *
 * Adding a unary op f:
 *   1. f_backward, the op-built rule: the gradient of x written with
 *      tapegrad ops (what create_graph records);
 *   2. below it, TG_UNARY_OP(f, <y = f(x)>, <d (+)= the gradient of x>),
 *      which defines f_kernel, f_dx, f_direct, f_scalar, k_f and tg_f (list
 *      them in a comment on the next line, so that grep finds them);
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
            for (int64_t el_i = 0; el_i < el_m; el_i++) {                                          \
                const T a = el_a[el_i], b = el_b[el_i], c = el_c[el_i];                            \
                (void)a, (void)b, (void)c;                                                         \
                el_d[el_i] += (EXPR);                                                              \
            }                                                                                      \
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

/* k_name and tg_name, with the op's rules (NULL: none) */
#define TG_UNARY_API(name, backward, direct, scalar)                                               \
    static const tg_op k_##name = {#name, 1, backward, direct, scalar};                            \
    tg_tensor *tg_##name(tg_tape *tp, tg_tensor *x)                                                \
    {                                                                                              \
        return unary(tp, &k_##name, name##_kernel, x);                                             \
    }

/* A differentiable unary op: y = FWD, d (+)= DX, with name_backward its
 * op-built rule.  Defines name_kernel, name_dx, name_direct, name_scalar,
 * k_name and tg_name. */
#define TG_UNARY_OP(name, FWD, DX)                                                                 \
    TG_UNARY_KERNEL(name, FWD)                                                                     \
    TG_UNARY_RULES(name, DX)                                                                       \
    TG_UNARY_API(name, name##_backward, name##_direct, name##_scalar)

/* A piecewise-constant unary op: y = FWD, gradient zero (no rules).
 * Defines name_kernel, k_name and tg_name. */
#define TG_UNARY_CONST_OP(name, FWD)                                                               \
    TG_UNARY_KERNEL(name, FWD)                                                                     \
    TG_UNARY_API(name, NULL, NULL, NULL)

typedef void unary_kernel_fn(tg_tensor *out, const tg_tensor *in);

static tg_tensor *unary(tg_tape *tp, const tg_op *op, unary_kernel_fn *kernel, tg_tensor *x)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, op->name, 1, in)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, x->ndim, x->shape);
    if (!out) return NULL;
    kernel(out, x);
    return tg_tape_record(tp, op, 1, in, out, NULL, 0, 0, NULL);
}

/* The fused gradient ops of sigmoid, tanh, relu and square (defined below
 * the ops): name_grad(s, g) = name_dx of g with s the saved output or input. */
static tg_tensor *sigmoid_grad(tg_tape *tp, tg_tensor *y, tg_tensor *g);
static tg_tensor *tanh_grad(tg_tape *tp, tg_tensor *y, tg_tensor *g);
static tg_tensor *relu_grad(tg_tape *tp, tg_tensor *x, tg_tensor *g);
static tg_tensor *square_grad(tg_tape *tp, tg_tensor *x, tg_tensor *g);

/* d(-x) = -g */
static tg_status neg_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    (void)n;
    gin[0] = tg_neg(tp, g);
    return TG_OK;
}
TG_UNARY_OP(neg, -x, -g)
/* defines neg_kernel neg_dx neg_direct neg_scalar k_neg tg_neg */

/* d e^x = g y */
static tg_status exp_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_node_output(n));
    return TG_OK;
}
TG_UNARY_OP(exp, TG_EXP(x), (g * y))
/* defines exp_kernel exp_dx exp_direct exp_scalar k_exp tg_exp */

/* d sin x = g cos x */
static tg_status sin_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_cos(tp, tg_node_input(n, 0)));
    return TG_OK;
}
TG_UNARY_OP(sin, TG_LIBM(sin, x), (g * TG_LIBM(cos, x)))
/* defines sin_kernel sin_dx sin_direct sin_scalar k_sin tg_sin */

/* d cos x = g (-sin x) */
static tg_status cos_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_neg(tp, tg_sin(tp, tg_node_input(n, 0))));
    return TG_OK;
}
TG_UNARY_OP(cos, TG_LIBM(cos, x), (g * -TG_LIBM(sin, x)))
/* defines cos_kernel cos_dx cos_direct cos_scalar k_cos tg_cos */

/* d ln x = g / x */
static tg_status log_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_div(tp, g, tg_node_input(n, 0));
    return TG_OK;
}
TG_UNARY_OP(log, TG_LOG(x), (g / x))
/* defines log_kernel log_dx log_direct log_scalar k_log tg_log */

/* d sqrt x = g / (2 y) */
static tg_status sqrt_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_div(tp, g, tg_mul_scalar(tp, tg_node_output(n), 2.0));
    return TG_OK;
}
TG_UNARY_OP(sqrt, TG_SQRT(x), (g / MUL_SCALAR(T, y, 2)))
/* defines sqrt_kernel sqrt_dx sqrt_direct sqrt_scalar k_sqrt tg_sqrt */

/* d x^2 = 2 g x */
static tg_status square_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = square_grad(tp, tg_node_input(n, 0), g);
    return TG_OK;
}
TG_UNARY_OP(square, (x * x), (g * (x * (T)2)))
/* defines square_kernel square_dx square_direct square_scalar k_square tg_square */

/* d |x| = g sign(x)   (0 at the kink, as PyTorch) */
static tg_status abs_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_sign(tp, tg_node_input(n, 0)));
    return TG_OK;
}
TG_UNARY_OP(abs, TG_FABS(x), (g * SIGN(T, x)))
/* defines abs_kernel abs_dx abs_direct abs_scalar k_abs tg_abs */

/* d sigmoid x = g y (1 - y)   (seed 003: sigma' = sigma (1 - sigma)) */
static tg_status sigmoid_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = sigmoid_grad(tp, tg_node_output(n), g);
    return TG_OK;
}
TG_UNARY_OP(sigmoid, SIGMOID(T, x), (g * (y * ((T)1 - y))))
/* defines sigmoid_kernel sigmoid_dx sigmoid_direct sigmoid_scalar k_sigmoid tg_sigmoid */

/* d tanh x = g (1 - y^2) */
static tg_status tanh_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tanh_grad(tp, tg_node_output(n), g);
    return TG_OK;
}
TG_UNARY_OP(tanh, TG_TANH(x), (g * ((T)1 - y * y)))
/* defines tanh_kernel tanh_dx tanh_direct tanh_scalar k_tanh tg_tanh */

/* d relu x = g [x > 0]   (0 at the kink, as PyTorch) */
static tg_status relu_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = relu_grad(tp, tg_node_input(n, 0), g);
    return TG_OK;
}
TG_UNARY_OP(relu, (x > 0 ? x : (T)0), (x > 0 ? g : (T)0))
/* defines relu_kernel relu_dx relu_direct relu_scalar k_relu tg_relu */

/* d ln(1 + e^x) = g sigmoid(x) */
static tg_status softplus_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_sigmoid(tp, tg_node_input(n, 0)));
    return TG_OK;
}
TG_UNARY_OP(softplus, SOFTPLUS(T, x), (g * SIGMOID(T, x)))
/* defines softplus_kernel softplus_dx softplus_direct softplus_scalar k_softplus tg_softplus */

/* Piecewise-constant helpers: no backward (gradient 0). */
TG_UNARY_CONST_OP(sign, SIGN(T, x))
/* defines sign_kernel k_sign tg_sign */
TG_UNARY_CONST_OP(step, (x > 0 ? (T)1 : (T)0))
/* defines step_kernel k_step tg_step */

/* Stop-gradient: a copy whose result requires no gradient. */
TG_UNARY_KERNEL(detach, x)
/* defines detach_kernel */
static const tg_op k_detach = {"detach", 1, NULL, NULL, NULL};
tg_tensor *tg_detach(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *y = unary(tp, &k_detach, detach_kernel, x);
    if (y) tg__tape_clear_rg(tp, y);
    return y;
}

/* ---- fused activation gradients ---------------------------------------------
 * The backward rules of sigmoid, tanh, relu and square are each one op of
 * (s, g), where s is the saved output (sigmoid, tanh) or input (relu,
 * square) and g the incoming gradient of the same shape: one pass over
 * memory instead of the two or three a composition of mul / rsub / step
 * would take.  Its kernel is the unary op's name_dx (which reads s as x or
 * as y, whichever its derivative uses), so the arithmetic exists once.  Each
 * is a differentiable op in its own right, so create_graph works through it:
 *   sigmoid_grad(y, g) = g y (1 - y):  d/dy = g (1 - 2y),  d/dg = sigmoid_grad(y, .)
 *   tanh_grad(y, g)    = g (1 - y^2):  d/dy = -2 g y,      d/dg = tanh_grad(y, .)
 *   relu_grad(x, g)    = g [x > 0]:    d/dx = 0 (a.e.),    d/dg = relu_grad(x, .)
 *   square_grad(x, g)  = 2 g x:        d/dx = 2 g,         d/dg = square_grad(x, .) */
typedef void dx_fn(tg_tensor *d, bool acc, const tg_tensor *g, const tg_tensor *x,
                   const tg_tensor *y);

static tg_tensor *act_grad(tg_tape *tp, const tg_op *op, dx_fn *dx, tg_tensor *s, tg_tensor *g)
{
    tg_tensor *in[2] = {s, g};
    if (!tg_tape_check_inputs(tp, op->name, 2, in)) return NULL;
    if (!tg__same_dtype(tp, op->name, s, g)) return NULL;
    if (!tg_tensor_same_shape(s, g)) {
        char a[TG_SHAPE_BUF], b[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: shapes %s and %s differ", op->name,
                     tg__shape_str(s, a, sizeof a), tg__shape_str(g, b, sizeof b));
        return NULL;
    }
    tg_tensor *out = tg_tape_alloc(tp, s->dtype, s->ndim, s->shape);
    if (!out) return NULL;
    dx(out, false, g, s, s);
    return tg_tape_record(tp, op, 2, in, out, NULL, 0, 0, NULL);
}

/* The direct rule of name_grad(s, g): slot 0 (s) by DS, an expression of the
 * elements gout (its output gradient), s and g, when HAS_DS; slot 1 (g) by
 * name_dx applied to gout.  Buffer 0 is written completely before buffer 1
 * is asked for (s and g may be one value).  Defines name_grad_direct,
 * k_name_grad and name_grad, with name_grad_backward its op-built rule. */
#define TG_ACT_GRAD_OP(name, HAS_DS, DS)                                                           \
    TG_CLONES static tg_status name##_grad_direct(tg_tape *ag_tp, const tg_node *ag_n,             \
                                                  const tg_tensor *ag_go, tg_grad_sink *ag_k)      \
    {                                                                                              \
        bool ag_acc;                                                                               \
        tg_tensor *ag_d;                                                                           \
        if ((HAS_DS) && (ag_d = tg_grad_sink_buffer(ag_k, 0, &ag_acc)) != NULL)                    \
            TG_DISPATCH(ag_go->dtype, T, {                                                         \
                ELEM_LOOP(T, ag_d->data, ag_acc, ag_go->numel, gout, ag_go->data, s,               \
                          ag_n->in[0]->data, g, ag_n->in[1]->data, DS);                            \
            });                                                                                    \
        if (!tg__tape_ok(ag_tp)) return tg_tape_status(ag_tp);                                     \
        if ((ag_d = tg_grad_sink_buffer(ag_k, 1, &ag_acc)) != NULL)                                \
            name##_dx(ag_d, ag_acc, ag_go, ag_n->in[0], ag_n->in[0]);                              \
        return tg_tape_status(ag_tp);                                                              \
    }                                                                                              \
    static const tg_op k_##name##_grad = {#name "_grad", 2, name##_grad_backward,                  \
                                          name##_grad_direct, NULL};                               \
    static tg_tensor *name##_grad(tg_tape *tp, tg_tensor *s, tg_tensor *g)                         \
    {                                                                                              \
        return act_grad(tp, &k_##name##_grad, name##_dx, s, g);                                    \
    }

static tg_status sigmoid_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *gout,
                                       tg_tensor **gin)
{
    tg_tensor *y = tg_node_input(n, 0), *g = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0))
        gin[0] =
            tg_mul(tp, tg_mul(tp, gout, g), tg_rsub_scalar(tp, 1.0, tg_mul_scalar(tp, y, 2.0)));
    if (tg_node_needs_grad(n, 1)) gin[1] = sigmoid_grad(tp, y, gout);
    return TG_OK;
}
TG_ACT_GRAD_OP(sigmoid, true, ((gout * g) * RSUB_SCALAR(T, 1, MUL_SCALAR(T, s, 2))))
/* defines sigmoid_grad_direct k_sigmoid_grad sigmoid_grad */

static tg_status tanh_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *gout, tg_tensor **gin)
{
    tg_tensor *y = tg_node_input(n, 0), *g = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0))
        gin[0] = tg_mul(tp, tg_mul(tp, gout, g), tg_mul_scalar(tp, y, -2.0));
    if (tg_node_needs_grad(n, 1)) gin[1] = tanh_grad(tp, y, gout);
    return TG_OK;
}
TG_ACT_GRAD_OP(tanh, true, ((gout * g) * MUL_SCALAR(T, s, -2)))
/* defines tanh_grad_direct k_tanh_grad tanh_grad */

static tg_status relu_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *gout, tg_tensor **gin)
{
    /* the mask is piecewise constant in x: no gradient flows to x */
    if (tg_node_needs_grad(n, 1)) gin[1] = relu_grad(tp, tg_node_input(n, 0), gout);
    return TG_OK;
}
TG_ACT_GRAD_OP(relu, false, (T)0)
/* defines relu_grad_direct k_relu_grad relu_grad */

static tg_status square_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *gout,
                                      tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0), *g = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg_mul(tp, gout, tg_mul_scalar(tp, g, 2.0));
    if (tg_node_needs_grad(n, 1)) gin[1] = square_grad(tp, x, gout);
    return TG_OK;
}
TG_ACT_GRAD_OP(square, true, (gout * MUL_SCALAR(T, g, 2)))
/* defines square_grad_direct k_square_grad square_grad */

/* cast: the gradient is cast back to the input's dtype */
static tg_status cast_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_cast(tp, g, tg_tensor_dtype(tg_node_input(n, 0)));
    return TG_OK;
}
/* direct: g itself when the dtypes agree, else d (+)= g converted */
static tg_status cast_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    if (n->in[0]->dtype == g->dtype) return tg_grad_sink_add(k, 0, g);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    const int64_t m = g->numel;
    TG_DISPATCH(d->dtype, T, {
        T *restrict dd = d->data;
        if (g->dtype == TG_F64) {
            const double *restrict gg = g->data;
            if (acc)
                for (int64_t i = 0; i < m; i++) dd[i] += (T)gg[i];
            else
                for (int64_t i = 0; i < m; i++) dd[i] = (T)gg[i];
        } else {
            const float *restrict gg = g->data;
            if (acc)
                for (int64_t i = 0; i < m; i++) dd[i] += (T)gg[i];
            else
                for (int64_t i = 0; i < m; i++) dd[i] = (T)gg[i];
        }
    });
    return TG_OK;
}
/* scalar: g, stored in the input's dtype by the sweep (the conversion the
 * direct rule makes) */
static const tg_op k_cast = {"cast", 1, cast_backward, cast_direct, tg__scalar_identity};
tg_tensor *tg_cast(tg_tape *tp, tg_tensor *x, tg_dtype dt)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_cast.name, 1, in)) return NULL;
    if (dt != TG_F32 && dt != TG_F64) {
        tg_tape_fail(tp, TG_ERR_DTYPE, "cast: unknown dtype %d", (int)dt);
        return NULL;
    }
    tg_tensor *out = tg_tape_alloc(tp, dt, x->ndim, x->shape);
    if (!out) return NULL;
    tg_tensor_copy(out, x);
    return tg_tape_record(tp, &k_cast, 1, in, out, NULL, 0, 0, NULL);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_activation[] = {
    &k_neg,          &k_exp,       &k_log,       &k_sqrt,    &k_square, &k_abs,  &k_square_grad,
    &k_sigmoid_grad, &k_tanh_grad, &k_relu_grad, &k_sigmoid, &k_tanh,   &k_relu, &k_softplus,
    &k_sign,         &k_step,      &k_detach,    &k_cast,    &k_sin,    &k_cos,  NULL};
