/* Elementwise unary ops of the seed networks and the activations: each op's
 * op-built backward rule, then one line with its forward expression and its
 * derivative, side by side (the generator and how to add an op: unary.h). */
#include "unary.h"

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
TG_UNARY_OP(neg, -x, -g, "dx += -g")
/* defines neg_kernel neg_dx neg_direct neg_scalar k_neg tg_neg */

/* d e^x = g y */
static tg_status exp_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_node_output(n));
    return TG_OK;
}
TG_UNARY_OP(exp, TG_EXP(x), (g * y), "dx += g * y  (y = e^x)")
/* defines exp_kernel exp_dx exp_direct exp_scalar k_exp tg_exp */

/* d ln x = g / x */
static tg_status log_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_div(tp, g, tg_node_input(n, 0));
    return TG_OK;
}
TG_UNARY_OP(log, TG_LOG(x), (g / x), "dx += g / x")
/* defines log_kernel log_dx log_direct log_scalar k_log tg_log */

/* d sqrt x = g / (2 y) */
static tg_status sqrt_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_div(tp, g, tg_mul_scalar(tp, tg_node_output(n), 2.0));
    return TG_OK;
}
TG_UNARY_OP(sqrt, TG_SQRT(x), (g / MUL_SCALAR(T, y, 2)), "dx += g / (2 y)  (y = sqrt x)")
/* defines sqrt_kernel sqrt_dx sqrt_direct sqrt_scalar k_sqrt tg_sqrt */

/* d x^2 = 2 g x */
static tg_status square_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = square_grad(tp, tg_node_input(n, 0), g);
    return TG_OK;
}
TG_UNARY_OP(square, (x * x), (g * (x * (T)2)), "dx += 2 g x")
/* defines square_kernel square_dx square_direct square_scalar k_square tg_square */

/* d |x| = g sign(x)   (0 at the kink, as PyTorch) */
static tg_status abs_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_sign(tp, tg_node_input(n, 0)));
    return TG_OK;
}
TG_UNARY_OP(abs, TG_FABS(x), (g * SIGN(T, x)), "dx += g * sign(x)  (0 at x = 0)")
/* defines abs_kernel abs_dx abs_direct abs_scalar k_abs tg_abs */

/* d sigmoid x = g y (1 - y)   (seed 003: sigma' = sigma (1 - sigma)) */
static tg_status sigmoid_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = sigmoid_grad(tp, tg_node_output(n), g);
    return TG_OK;
}
TG_UNARY_OP(sigmoid, SIGMOID(T, x), (g * (y * ((T)1 - y))), "dx += g * y * (1 - y)")
/* defines sigmoid_kernel sigmoid_dx sigmoid_direct sigmoid_scalar k_sigmoid tg_sigmoid */

/* d tanh x = g (1 - y^2) */
static tg_status tanh_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tanh_grad(tp, tg_node_output(n), g);
    return TG_OK;
}
TG_UNARY_OP(tanh, TG_TANH(x), (g * ((T)1 - y * y)), "dx += g * (1 - y^2)")
/* defines tanh_kernel tanh_dx tanh_direct tanh_scalar k_tanh tg_tanh */

/* d relu x = g [x > 0]   (0 at the kink, as PyTorch) */
static tg_status relu_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = relu_grad(tp, tg_node_input(n, 0), g);
    return TG_OK;
}
TG_UNARY_OP(relu, (x > 0 ? x : (T)0), (x > 0 ? g : (T)0), "dx += g * [x > 0]")
/* defines relu_kernel relu_dx relu_direct relu_scalar k_relu tg_relu */

/* d ln(1 + e^x) = g sigmoid(x) */
static tg_status softplus_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_sigmoid(tp, tg_node_input(n, 0)));
    return TG_OK;
}
TG_UNARY_OP(softplus, SOFTPLUS(T, x), (g * SIGMOID(T, x)), "dx += g * sigmoid(x)")
/* defines softplus_kernel softplus_dx softplus_direct softplus_scalar k_softplus tg_softplus */

/* ---- activations beyond the seed networks' ------------------------------- */

/* d x sigmoid(x) = g (s (x (1 - s) + 1)), s = sigmoid x */
static tg_status silu_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0), *s = tg_sigmoid(tp, x);
    gin[0] = tg_mul(
        tp, g, tg_mul(tp, s, tg_add_scalar(tp, tg_mul(tp, x, tg_rsub_scalar(tp, 1.0, s)), 1.0)));
    return TG_OK;
}
TG_UNARY_OP(silu, (x * SIGMOID(T, x)),
            (g * (SIGMOID(T, x) * ADD_SCALAR(T, x *RSUB_SCALAR(T, 1, SIGMOID(T, x)), 1))),
            "dx += g * s * (1 + x (1 - s))  (s = sigmoid x)")
/* defines silu_kernel silu_dx silu_direct silu_scalar k_silu tg_silu */

/* gelu x = x Phi(x), Phi the standard normal CDF, written 0.5 erfc(-x/sqrt 2)
 * (PyTorch's 0.5 (1 + erf(x/sqrt 2)), without its cancellation for x < 0);
 * d = g (Phi(x) + x phi(x)), phi(x) = e^(-x^2/2) / sqrt(2 pi). */
#define GELU_RSQRT2    0.70710678118654752440 /* 1/sqrt 2 */
#define GELU_PDF       0.39894228040143267794 /* 1/sqrt(2 pi) */
#define GELU_CDF(T, x) MUL_SCALAR(T, TG_LIBM(erfc, MUL_SCALAR(T, x, -GELU_RSQRT2)), 0.5)
static tg_status gelu_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0);
    tg_tensor *cdf = tg_mul_scalar(tp, tg_erfc(tp, tg_mul_scalar(tp, x, -GELU_RSQRT2)), 0.5);
    tg_tensor *pdf =
        tg_mul_scalar(tp, tg_exp(tp, tg_mul_scalar(tp, tg_square(tp, x), -0.5)), GELU_PDF);
    gin[0] = tg_mul(tp, g, tg_add(tp, cdf, tg_mul(tp, x, pdf)));
    return TG_OK;
}
TG_UNARY_OP(gelu, (x * GELU_CDF(T, x)),
            (g * (GELU_CDF(T, x) + x * MUL_SCALAR(T, TG_EXP(MUL_SCALAR(T, x *x, -0.5)), GELU_PDF))),
            "dx += g * (Phi(x) + x phi(x))  (Phi, phi: the standard normal CDF and density)")
/* defines gelu_kernel gelu_dx gelu_direct gelu_scalar k_gelu tg_gelu */

/* PyTorch's gelu(approximate='tanh'): y = 0.5 x (1 + t), t = tanh u,
 * u = b (x + k x^3), b = sqrt(2/pi), k = 0.044715;
 * d = g (0.5 (t + 1) + (0.5 x (1 - t^2)) (b (3k x^2 + 1))). */
#define GELU_B        0.79788456080286535588 /* sqrt(2/pi) */
#define GELU_K        0.044715
#define GELU_T(T, x)  TG_TANH(MUL_SCALAR(T, x + MUL_SCALAR(T, x * (x * x), GELU_K), GELU_B))
#define GELU_DU(T, x) MUL_SCALAR(T, ADD_SCALAR(T, MUL_SCALAR(T, x *x, 3 * GELU_K), 1), GELU_B)
static tg_status gelu_tanh_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0), *x2 = tg_square(tp, x);
    tg_tensor *u = tg_add(tp, x, tg_mul_scalar(tp, tg_mul(tp, x, x2), GELU_K));
    tg_tensor *t = tg_tanh(tp, tg_mul_scalar(tp, u, GELU_B));
    tg_tensor *left = tg_mul_scalar(tp, tg_add_scalar(tp, t, 1.0), 0.5);
    tg_tensor *dt =
        tg_mul(tp, tg_mul_scalar(tp, x, 0.5), tg_rsub_scalar(tp, 1.0, tg_square(tp, t)));
    tg_tensor *du =
        tg_mul_scalar(tp, tg_add_scalar(tp, tg_mul_scalar(tp, x2, 3 * GELU_K), 1.0), GELU_B);
    gin[0] = tg_mul(tp, g, tg_add(tp, left, tg_mul(tp, dt, du)));
    return TG_OK;
}
TG_UNARY_OP(gelu_tanh, (MUL_SCALAR(T, x, 0.5) * ADD_SCALAR(T, GELU_T(T, x), 1)),
            (g * (MUL_SCALAR(T, ADD_SCALAR(T, GELU_T(T, x), 1), 0.5) +
                  (MUL_SCALAR(T, x, 0.5) * RSUB_SCALAR(T, 1, GELU_T(T, x) * GELU_T(T, x))) *
                      GELU_DU(T, x))),
            "dx += g * ((1 + t) / 2 + (x / 2) (1 - t^2) b (1 + 3k x^2))  (t = tanh(b (x + k x^3)), "
            "b = sqrt(2/pi), k = 0.044715)")
/* defines gelu_tanh_kernel gelu_tanh_dx gelu_tanh_direct gelu_tanh_scalar k_gelu_tanh
 * tg_gelu_tanh */

/* d x / (1 + |x|) = g / (|x| + 1)^2 */
static tg_status softsign_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0);
    gin[0] = tg_div(tp, g, tg_square(tp, tg_add_scalar(tp, tg_abs(tp, x), 1.0)));
    return TG_OK;
}
TG_UNARY_OP(softsign, (x / ADD_SCALAR(T, TG_FABS(x), 1)),
            (g / (ADD_SCALAR(T, TG_FABS(x), 1) * ADD_SCALAR(T, TG_FABS(x), 1))),
            "dx += g / (1 + |x|)^2")
/* defines softsign_kernel softsign_dx softsign_direct softsign_scalar k_softsign tg_softsign */

/* mish x = x t, t = tanh(softplus x); d = g (t + (x sigmoid x) (1 - t^2)) */
#define MISH_T(T, x) TG_TANH(SOFTPLUS(T, x))
static tg_status mish_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0), *t = tg_tanh(tp, tg_softplus(tp, x));
    tg_tensor *xs = tg_mul(tp, x, tg_sigmoid(tp, x));
    gin[0] =
        tg_mul(tp, g, tg_add(tp, t, tg_mul(tp, xs, tg_rsub_scalar(tp, 1.0, tg_square(tp, t)))));
    return TG_OK;
}
TG_UNARY_OP(mish, (x * MISH_T(T, x)),
            (g *
             (MISH_T(T, x) + (x * SIGMOID(T, x)) * RSUB_SCALAR(T, 1, MISH_T(T, x) * MISH_T(T, x)))),
            "dx += g * (t + x sigmoid(x) (1 - t^2))  (t = tanh(softplus x))")
/* defines mish_kernel mish_dx mish_direct mish_scalar k_mish tg_mish */

/* ---- piecewise activations with attributes (unary.h, TG_UNARY_ATTR_OP) ------
 * The gradient at a corner is PyTorch's: leaky_relu and elu take the left
 * piece's slope at 0 (x > 0 picks the right one), hardtanh's is 0 at both
 * bounds.  Each op-built rule multiplies g by constant masks of x. */

/* The attribute printers: "slope=0.01", "alpha=1", "lo=-1, hi=1". */
static int leaky_relu_attrs(const tg_node *n, char *buf, size_t size)
{
    return snprintf(buf, size, "slope=%g", ((const unary_attr *)tg_node_saved(n))->alpha);
}
static int elu_attrs(const tg_node *n, char *buf, size_t size)
{
    return snprintf(buf, size, "alpha=%g", ((const unary_attr *)tg_node_saved(n))->alpha);
}
static int hardtanh_attrs(const tg_node *n, char *buf, size_t size)
{
    const unary_attr *at = tg_node_saved(n);
    return snprintf(buf, size, "lo=%g, hi=%g", at->alpha, at->beta);
}

/* leaky_relu(x; slope) = x > 0 ? x : slope x;  d = g (x > 0 ? 1 : slope) */
#define LEAKY_D(T, x) ((x) > 0 ? (T)1 : al)
TG_UNARY_ATTR_MASK(leaky_relu_mask, LEAKY_D(T, x))
static tg_status leaky_relu_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *m = leaky_relu_mask(tp, n);
    if (!m) return tg_tape_status(tp);
    gin[0] = tg_mul(tp, g, m);
    return TG_OK;
}
TG_UNARY_ATTR_OP(leaky_relu, (x > 0 ? x : al * x), (g * LEAKY_D(T, x)),
                 "dx += g * (x > 0 ? 1 : slope)", leaky_relu_attrs)
/* defines leaky_relu_forward leaky_relu_dx leaky_relu_direct leaky_relu_scalar k_leaky_relu */
tg_tensor *tg_leaky_relu(tg_tape *tp, tg_tensor *x, double slope)
{
    return leaky_relu_forward(tp, x, (unary_attr){slope, 0.0});
}

/* elu(x; alpha) = x > 0 ? x : alpha (e^x - 1);  d = g (x > 0 ? 1 : alpha e^x).
 * The op-built rule is g (m1 + m2 e^min(x, 0)) with the constant masks
 * m1 = [x > 0] and m2 = alpha [x <= 0]: e^min(x, 0) (min(x, 0) = -relu(-x))
 * is finite where m2 is 0, so no 0 * inf appears for a large x. */
TG_UNARY_ATTR_MASK(elu_right_mask, (x > 0 ? (T)1 : (T)0))
TG_UNARY_ATTR_MASK(elu_left_mask, (x > 0 ? (T)0 : al))
static tg_status elu_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *m1 = elu_right_mask(tp, n), *m2 = elu_left_mask(tp, n);
    if (!m1 || !m2) return tg_tape_status(tp);
    tg_tensor *e = tg_exp(tp, tg_neg(tp, tg_relu(tp, tg_neg(tp, tg_node_input(n, 0)))));
    gin[0] = tg_mul(tp, g, tg_add(tp, m1, tg_mul(tp, m2, e)));
    return TG_OK;
}
TG_UNARY_ATTR_OP(elu, (x > 0 ? x : al * TG_LIBM(expm1, x)), (g * (x > 0 ? (T)1 : al * TG_EXP(x))),
                 "dx += g * (x > 0 ? 1 : alpha e^x)", elu_attrs)
/* defines elu_forward elu_dx elu_direct elu_scalar k_elu */
tg_tensor *tg_elu(tg_tape *tp, tg_tensor *x, double alpha)
{
    return elu_forward(tp, x, (unary_attr){alpha, 0.0});
}

/* hardtanh(x; lo, hi) = min(max(x, lo), hi);  d = g [lo < x < hi] (0 at the
 * bounds, as PyTorch's x <= lo || x >= hi ? 0 : g, which passes NaN's g) */
#define HARDTANH_D(T, x) (((x) <= al || (x) >= be) ? (T)0 : (T)1)
TG_UNARY_ATTR_MASK(hardtanh_mask, HARDTANH_D(T, x))
static tg_status hardtanh_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *m = hardtanh_mask(tp, n);
    if (!m) return tg_tape_status(tp);
    gin[0] = tg_mul(tp, g, m);
    return TG_OK;
}
TG_UNARY_ATTR_OP(hardtanh,
                 (x < al   ? al
                  : x > be ? be
                           : x),
                 (g * HARDTANH_D(T, x)), "dx += g * [lo < x < hi]", hardtanh_attrs)
/* defines hardtanh_forward hardtanh_dx hardtanh_direct hardtanh_scalar k_hardtanh */
tg_tensor *tg_hardtanh(tg_tape *tp, tg_tensor *x, double lo, double hi)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_hardtanh.name, 1, in)) return NULL;
    if (!(lo <= hi)) { /* also a NaN bound */
        char s[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_ARG, "hardtanh: lo %g is not at most hi %g (x of shape %s)", lo, hi,
                     tg__shape_str(x, s, sizeof s));
        return NULL;
    }
    return hardtanh_forward(tp, x, (unary_attr){lo, hi});
}

/* Piecewise-constant helpers: no backward (gradient 0). */
TG_UNARY_CONST_OP(sign, SIGN(T, x))
/* defines sign_kernel k_sign tg_sign */
TG_UNARY_CONST_OP(step, (x > 0 ? (T)1 : (T)0))
/* defines step_kernel k_step tg_step */

/* Stop-gradient: a copy whose result requires no gradient. */
TG_UNARY_KERNEL(detach, x)
/* defines detach_kernel */
static const tg_op k_detach = {
    .name = "detach", .arity = 1, .backward = NULL, .direct = NULL, .scalar = NULL};
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

/* The sum of a tangent rule's two terms (NULL: none); NULL if the tape
 * is in error. */
static tg_tensor *act_grad_sum(tg_tape *tp, tg_tensor *t0, tg_tensor *t1)
{
    if (!tg__tape_ok(tp)) return NULL;
    return t0 && t1 ? tg_add(tp, t0, t1) : t0 ? t0 : t1;
}

/* The direct rule of name_grad(s, g): slot 0 (s) by DS, an expression of the
 * elements gout (its output gradient), s and g, when HAS_DS; slot 1 (g) by
 * name_dx applied to gout.  Buffer 0 is written completely before buffer 1
 * is asked for (s and g may be one value).  Defines name_grad_direct,
 * k_name_grad and name_grad, with name_grad_backward its op-built rule,
 * name_grad_jvp its tangent rule and FORMULA the op-built rule in one line
 * (in a = s and b = g, g being the output's gradient there). */
#define TG_ACT_GRAD_OP(nm, HAS_DS, DS, FORMULA)                                                    \
    TG_CLONES static tg_status nm##_grad_direct(tg_tape *ag_tp, const tg_node *ag_n,               \
                                                const tg_tensor *ag_go, tg_grad_sink *ag_k)        \
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
            nm##_dx(ag_d, ag_acc, ag_go, ag_n->in[0], ag_n->in[0]);                                \
        return tg_tape_status(ag_tp);                                                              \
    }                                                                                              \
    static const tg_op k_##nm##_grad = {.name = #nm "_grad",                                       \
                                        .arity = 2,                                                \
                                        .backward = nm##_grad_backward,                            \
                                        .direct = nm##_grad_direct,                                \
                                        .scalar = NULL,                                            \
                                        .jvp = nm##_grad_jvp,                                      \
                                        .formula = FORMULA};                                       \
    static tg_tensor *nm##_grad(tg_tape *tp, tg_tensor *s, tg_tensor *g)                           \
    {                                                                                              \
        return act_grad(tp, &k_##nm##_grad, nm##_dx, s, g);                                        \
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
/* the tangent: name_grad is linear in g and elementwise, so each input's
 * term is its row of the backward rule with the tangent for gout, and g's
 * is name_grad of g's tangent */
static tg_status sigmoid_grad_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                                  tg_tensor **tout)
{
    tg_tensor *y = tg_node_input(n, 0), *g = tg_node_input(n, 1);
    *tout = act_grad_sum(tp,
                         tin[0] ? tg_mul(tp, tg_mul(tp, tin[0], g),
                                         tg_rsub_scalar(tp, 1.0, tg_mul_scalar(tp, y, 2.0)))
                                : NULL,
                         tin[1] ? sigmoid_grad(tp, y, tin[1]) : NULL);
    return tg_tape_status(tp);
}
TG_ACT_GRAD_OP(sigmoid, true, ((gout * g) * RSUB_SCALAR(T, 1, MUL_SCALAR(T, s, 2))),
               "da += g * b * (1 - 2a);  db += g * a * (1 - a)  (y = b a (1 - a))")
/* defines sigmoid_grad_direct k_sigmoid_grad sigmoid_grad */

static tg_status tanh_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *gout, tg_tensor **gin)
{
    tg_tensor *y = tg_node_input(n, 0), *g = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0))
        gin[0] = tg_mul(tp, tg_mul(tp, gout, g), tg_mul_scalar(tp, y, -2.0));
    if (tg_node_needs_grad(n, 1)) gin[1] = tanh_grad(tp, y, gout);
    return TG_OK;
}
static tg_status tanh_grad_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                               tg_tensor **tout)
{
    tg_tensor *y = tg_node_input(n, 0), *g = tg_node_input(n, 1);
    *tout = act_grad_sum(
        tp, tin[0] ? tg_mul(tp, tg_mul(tp, tin[0], g), tg_mul_scalar(tp, y, -2.0)) : NULL,
        tin[1] ? tanh_grad(tp, y, tin[1]) : NULL);
    return tg_tape_status(tp);
}
TG_ACT_GRAD_OP(tanh, true, ((gout * g) * MUL_SCALAR(T, s, -2)),
               "da += -2 g b a;  db += g * (1 - a^2)  (y = b (1 - a^2))")
/* defines tanh_grad_direct k_tanh_grad tanh_grad */

static tg_status relu_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *gout, tg_tensor **gin)
{
    /* the mask is piecewise constant in x: no gradient flows to x */
    if (tg_node_needs_grad(n, 1)) gin[1] = relu_grad(tp, tg_node_input(n, 0), gout);
    return TG_OK;
}
static tg_status relu_grad_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                               tg_tensor **tout)
{
    /* the mask is piecewise constant in x: x's tangent does not pass */
    if (tin[1]) *tout = relu_grad(tp, tg_node_input(n, 0), tin[1]);
    return tg_tape_status(tp);
}
TG_ACT_GRAD_OP(relu, false, (T)0, "db += g * [a > 0]  (y = b [a > 0]; none to a)")
/* defines relu_grad_direct k_relu_grad relu_grad */

static tg_status square_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *gout,
                                      tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0), *g = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg_mul(tp, gout, tg_mul_scalar(tp, g, 2.0));
    if (tg_node_needs_grad(n, 1)) gin[1] = square_grad(tp, x, gout);
    return TG_OK;
}
static tg_status square_grad_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                                 tg_tensor **tout)
{
    tg_tensor *x = tg_node_input(n, 0), *g = tg_node_input(n, 1);
    *tout = act_grad_sum(tp, tin[0] ? tg_mul(tp, tin[0], tg_mul_scalar(tp, g, 2.0)) : NULL,
                         tin[1] ? square_grad(tp, x, tin[1]) : NULL);
    return tg_tape_status(tp);
}
TG_ACT_GRAD_OP(square, true, (gout * MUL_SCALAR(T, g, 2)), "da += 2 g b;  db += 2 g a  (y = 2 b a)")
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
/* tangent: x's tangent cast to the output's dtype */
static tg_status cast_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    *tout = tg_cast(tp, tin[0], tg_tensor_dtype(tg_node_output(n)));
    return tg_tape_status(tp);
}
static const tg_op k_cast = {.name = "cast",
                             .arity = 1,
                             .backward = cast_backward,
                             .direct = cast_direct,
                             .scalar = tg__scalar_identity,
                             .jvp = cast_jvp,
                             .formula = "dx += cast(g, x.dtype)"};
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
    &k_neg,          &k_exp,       &k_log,        &k_sqrt,    &k_square,   &k_abs,  &k_square_grad,
    &k_sigmoid_grad, &k_tanh_grad, &k_relu_grad,  &k_sigmoid, &k_tanh,     &k_relu, &k_softplus,
    &k_sign,         &k_step,      &k_detach,     &k_cast,    &k_silu,     &k_gelu, &k_gelu_tanh,
    &k_softsign,     &k_mish,      &k_leaky_relu, &k_elu,     &k_hardtanh, NULL};
