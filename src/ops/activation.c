/* Elementwise unary ops: forward kernel and backward rule side by side.
 * Backward rules are written with tapegrad ops, so they can be recorded
 * (create_graph) and differentiated again. */
#include "../core/internal.h"
#include "../kernels/vmath.h"

typedef enum unop {
    U_NEG,
    U_EXP,
    U_LOG,
    U_SQRT,
    U_SQUARE,
    U_ABS,
    U_SIGMOID,
    U_TANH,
    U_RELU,
    U_SOFTPLUS,
    U_SIGN,
    U_STEP,
    U_COPY
} unop;

/* sigmoid and softplus written so that no exp overflows.  The f32 sigmoid
 * is the vectorisable tg__sigmoidf (kernels/vmath.h): a libm call per
 * element made it a seventh of an MLP training step (B3). */
#define SIGMOID64(T, v) ((v) >= 0 ? (T)1 / ((T)1 + TG_EXP(-(v))) : TG_EXP(v) / ((T)1 + TG_EXP(v)))
#define SIGMOID(T, v)   _Generic((v), float : tg__sigmoidf((float)(v)), default : SIGMOID64(T, v))
#define SOFTPLUS(T, v)  (((v) > 0 ? (v) : (T)0) + TG_LOG1P(TG_EXP(-TG_FABS(v))))

/* o[i] = EXPR(v) with v = x[i]; large outputs are streamed (stream.h) */
#define UN_LOOP(T, EXPR) TG_STORE_LOOP(T, o, n, i, r_, const T v = x[i]; r_ = (EXPR))

TG_CLONES static void un_kernel(unop k, tg_tensor *out, const tg_tensor *in)
{
    const int64_t n = in->numel;
    TG_DISPATCH(in->dtype, T, {
        T *restrict o = out->data;
        const T *restrict x = in->data;
        switch (k) {
        case U_NEG:
            UN_LOOP(T, -v);
            break;
        case U_EXP:
            UN_LOOP(T, TG_EXP(v));
            break;
        case U_LOG:
            UN_LOOP(T, TG_LOG(v));
            break;
        case U_SQRT:
            UN_LOOP(T, TG_SQRT(v));
            break;
        case U_SQUARE:
            UN_LOOP(T, v * v);
            break;
        case U_ABS:
            UN_LOOP(T, TG_FABS(v));
            break;
        case U_SIGMOID:
            UN_LOOP(T, SIGMOID(T, v));
            break;
        case U_TANH:
            UN_LOOP(T, TG_TANH(v));
            break;
        case U_RELU:
            UN_LOOP(T, v > 0 ? v : (T)0);
            break;
        case U_SOFTPLUS:
            UN_LOOP(T, SOFTPLUS(T, v));
            break;
        case U_SIGN:
            UN_LOOP(T, (T)((v > 0) - (v < 0)));
            break;
        case U_STEP:
            UN_LOOP(T, v > 0 ? (T)1 : (T)0);
            break;
        case U_COPY:
            UN_LOOP(T, v);
            break;
        }
    });
}

static tg_tensor *unary(tg_tape *tp, const tg_op *op, unop k, tg_tensor *x)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, op->name, 1, in)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, x->ndim, x->shape);
    if (!out) return NULL;
    un_kernel(k, out, x);
    return tg_tape_record(tp, op, 1, in, out, NULL, 0, 0, NULL);
}

#define X(n) tg_node_input(n, 0)
#define Y(n) tg_node_output(n)

/* fused gradient ops of sigmoid, tanh, relu, square (defined below) */
typedef enum actgrad { AG_SIGMOID, AG_TANH, AG_RELU, AG_SQUARE } actgrad;

static tg_tensor *act_grad(tg_tape *tp, actgrad k, tg_tensor *s, tg_tensor *g);

/* ---- direct first-order rules: d (+)= E(g, x, y) in one pass, written in
 * place (no graph is built); each E is the op-built rule's arithmetic in the
 * same order (G the output gradient, X the input, Y the output). */
#define UNARY_GRAD(T, E) TG_UNARY_GRAD(T, E)

/* One direct rule per unary op: name##_direct writes d (+)= E elementwise,
 * and name##_scalar computes the same E for a one-element node. */
#define UNARY_DIRECT(name, E)                                                                      \
    TG_CLONES static tg_status name##_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g,    \
                                             tg_grad_sink *k)                                      \
    {                                                                                              \
        bool acc;                                                                                  \
        tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);                                            \
        if (!d) return tg_tape_status(tp);                                                         \
        TG_DISPATCH(g->dtype, T, { UNARY_GRAD(T, E); });                                           \
        return TG_OK;                                                                              \
    }                                                                                              \
    static void name##_scalar(const tg_node *n, const tg_scalar_args *a, double *gin)              \
    {                                                                                              \
        (void)n;                                                                                   \
        TG_DISPATCH(a->dtype, T, {                                                                 \
            const T g_ = (T)a->gout, x_ = (T)a->x[0], y_ = (T)a->y;                                \
            (void)x_, (void)y_;                                                                    \
            gin[0] = E(g_, x_, y_);                                                                \
        });                                                                                        \
    }

/* The fused gradient ops' kernels, shared by their forward (o = E(d, v)
 * with v the saved s and d the incoming g) and the direct rules of
 * sigmoid, tanh, relu and square (identical arithmetic). */
#define AG_SIGMOID_E(G, V) ((G) * ((V) * ((T)1 - (V))))
#define AG_TANH_E(G, V)    ((G) * ((T)1 - (V) * (V)))
#define AG_RELU_E(G, V)    ((V) > 0 ? (G) : (T)0)
#define AG_SQUARE_E(G, V)  ((G) * ((V) * (T)2))
/* mul_scalar(v, a) = a v + 0 and rsub_scalar(1, v) = -1 v + 1, as the
 * affine kernel computes them */
#define MULS(V, A) ((T)(A) * (V) + (T)0)
#define RSUB1(V)   ((T)-1 * (V) + (T)1)
#define SIGN(T, V) ((T)(((V) > 0) - ((V) < 0)))

#define E_NEG(G, X, Y)       (-(G))
#define E_EXP(G, X, Y)       ((G) * (Y))
#define E_LOGD(G, X, Y)      ((G) / (X))
#define E_SQRTD(G, X, Y)     ((G) / MULS(Y, 2))
#define E_SQUARED(G, X, Y)   AG_SQUARE_E(G, X)
#define E_ABSD(G, X, Y)      ((G)*SIGN(T, X))
#define E_SIGMOIDD(G, X, Y)  AG_SIGMOID_E(G, Y)
#define E_TANHD(G, X, Y)     AG_TANH_E(G, Y)
#define E_RELUD(G, X, Y)     AG_RELU_E(G, X)
#define E_SOFTPLUSD(G, X, Y) ((G)*SIGMOID(T, X))

/* d(-x) = -g */
static tg_status neg_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    (void)n;
    gin[0] = tg_neg(tp, g);
    return TG_OK;
}
UNARY_DIRECT(neg, E_NEG)
static const tg_op k_neg = {"neg", 1, neg_backward, neg_direct, neg_scalar};
tg_tensor *tg_neg(tg_tape *tp, tg_tensor *x)
{
    return unary(tp, &k_neg, U_NEG, x);
}

/* d e^x = g y */
static tg_status exp_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, Y(n));
    return TG_OK;
}
UNARY_DIRECT(exp, E_EXP)
static const tg_op k_exp = {"exp", 1, exp_backward, exp_direct, exp_scalar};
tg_tensor *tg_exp(tg_tape *tp, tg_tensor *x)
{
    return unary(tp, &k_exp, U_EXP, x);
}

/* d ln x = g / x */
static tg_status log_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_div(tp, g, X(n));
    return TG_OK;
}
UNARY_DIRECT(log, E_LOGD)
static const tg_op k_log = {"log", 1, log_backward, log_direct, log_scalar};
tg_tensor *tg_log(tg_tape *tp, tg_tensor *x)
{
    return unary(tp, &k_log, U_LOG, x);
}

/* d sqrt x = g / (2 y) */
static tg_status sqrt_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_div(tp, g, tg_mul_scalar(tp, Y(n), 2.0));
    return TG_OK;
}
UNARY_DIRECT(sqrt, E_SQRTD)
static const tg_op k_sqrt = {"sqrt", 1, sqrt_backward, sqrt_direct, sqrt_scalar};
tg_tensor *tg_sqrt(tg_tape *tp, tg_tensor *x)
{
    return unary(tp, &k_sqrt, U_SQRT, x);
}

/* d x^2 = 2 g x */
static tg_status square_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = act_grad(tp, AG_SQUARE, X(n), g);
    return TG_OK;
}
UNARY_DIRECT(square, E_SQUARED)
static const tg_op k_square = {"square", 1, square_backward, square_direct, square_scalar};
tg_tensor *tg_square(tg_tape *tp, tg_tensor *x)
{
    return unary(tp, &k_square, U_SQUARE, x);
}

/* d |x| = g sign(x)   (0 at the kink, as PyTorch) */
static tg_status abs_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_sign(tp, X(n)));
    return TG_OK;
}
UNARY_DIRECT(abs, E_ABSD)
static const tg_op k_abs = {"abs", 1, abs_backward, abs_direct, abs_scalar};
tg_tensor *tg_abs(tg_tape *tp, tg_tensor *x)
{
    return unary(tp, &k_abs, U_ABS, x);
}

/* ---- fused activation gradients ---------------------------------------------
 * The backward rules of sigmoid, tanh, relu and square are each one op of
 * (s, g), where s is the saved output (sigmoid, tanh) or input (relu, square)
 * and g the
 * incoming gradient of the same shape: one pass over memory instead of the
 * two or three a composition of mul / rsub / step would take.  Each is a
 * differentiable op in its own right, so create_graph works through it:
 *   sigmoid_grad(y, g) = g y (1 - y):  d/dy = g (1 - 2y),  d/dg = sigmoid_grad(y, .)
 *   tanh_grad(y, g)    = g (1 - y^2):  d/dy = -2 g y,      d/dg = tanh_grad(y, .)
 *   relu_grad(x, g)    = g [x > 0]:    d/dx = 0 (a.e.),    d/dg = relu_grad(x, .)
 *   square_grad(x, g)  = 2 g x:        d/dx = 2 g,         d/dg = square_grad(x, .) */

static tg_status sigmoid_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *gout,
                                       tg_tensor **gin)
{
    tg_tensor *y = tg_node_input(n, 0), *g = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0))
        gin[0] =
            tg_mul(tp, tg_mul(tp, gout, g), tg_rsub_scalar(tp, 1.0, tg_mul_scalar(tp, y, 2.0)));
    if (tg_node_needs_grad(n, 1)) gin[1] = act_grad(tp, AG_SIGMOID, y, gout);
    return TG_OK;
}
static tg_status tanh_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *gout, tg_tensor **gin)
{
    tg_tensor *y = tg_node_input(n, 0), *g = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0))
        gin[0] = tg_mul(tp, tg_mul(tp, gout, g), tg_mul_scalar(tp, y, -2.0));
    if (tg_node_needs_grad(n, 1)) gin[1] = act_grad(tp, AG_TANH, y, gout);
    return TG_OK;
}
static tg_status relu_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *gout, tg_tensor **gin)
{
    /* the mask is piecewise constant in x: no gradient flows to x */
    if (tg_node_needs_grad(n, 1)) gin[1] = act_grad(tp, AG_RELU, tg_node_input(n, 0), gout);
    return TG_OK;
}
static tg_status square_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *gout,
                                      tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0), *g = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg_mul(tp, gout, tg_mul_scalar(tp, g, 2.0));
    if (tg_node_needs_grad(n, 1)) gin[1] = act_grad(tp, AG_SQUARE, x, gout);
    return TG_OK;
}
/* Direct rules of the fused gradient ops: slot 0 (s) by E0(gout, s, g),
 * slot 1 (g) by the op's own kernel applied to gout; buffer 0 is written
 * completely before buffer 1 is asked for (s and g may be one value). */
#define E_SIGMOID_G0(G, S, H) (((G) * (H)) * RSUB1(MULS(S, 2)))
#define E_TANH_G0(G, S, H)    (((G) * (H)) * MULS(S, -2))
#define E_SQUARE_G0(G, S, H)  ((G)*MULS(H, 2))
#define E_NONE_G0(G, S, H)    ((void)(G), (void)(S), (void)(H), (T)0)
#define GRAD2_LOOP(T, E)                                                                           \
    do {                                                                                           \
        T *restrict dd = d->data;                                                                  \
        const T *restrict gg = gout->data, *restrict ss = n->in[0]->data,                          \
                          *restrict hh = n->in[1]->data;                                           \
        (void)ss, (void)hh;                                                                        \
        /* operands loaded first, as in TG_UNARY_GRAD */                                           \
        if (acc)                                                                                   \
            for (int64_t i = 0; i < m; i++) {                                                      \
                const T g_ = gg[i], s_ = ss[i], h_ = hh[i];                                        \
                (void)s_, (void)h_;                                                                \
                dd[i] += E(g_, s_, h_);                                                            \
            }                                                                                      \
        else                                                                                       \
            for (int64_t i = 0; i < m; i++) {                                                      \
                const T g_ = gg[i], s_ = ss[i], h_ = hh[i];                                        \
                (void)s_, (void)h_;                                                                \
                dd[i] = E(g_, s_, h_);                                                             \
            }                                                                                      \
    } while (0)
#define E_SIGMOID_G1(G, S, H) AG_SIGMOID_E(G, S)
#define E_TANH_G1(G, S, H)    AG_TANH_E(G, S)
#define E_RELU_G1(G, S, H)    AG_RELU_E(G, S)
#define E_SQUARE_G1(G, S, H)  AG_SQUARE_E(G, S)
#define GRAD2_DIRECT(name, E0, E1, has0)                                                           \
    TG_CLONES static tg_status name##_grad_direct(tg_tape *tp, const tg_node *n,                   \
                                                  const tg_tensor *gout, tg_grad_sink *k)          \
    {                                                                                              \
        const int64_t m = gout->numel;                                                             \
        bool acc;                                                                                  \
        tg_tensor *d;                                                                              \
        if ((has0) && (d = tg_grad_sink_buffer(k, 0, &acc)) != NULL)                               \
            TG_DISPATCH(gout->dtype, T, { GRAD2_LOOP(T, E0); });                                   \
        if (!tg__tape_ok(tp)) return tg_tape_status(tp);                                           \
        if ((d = tg_grad_sink_buffer(k, 1, &acc)) != NULL)                                         \
            TG_DISPATCH(gout->dtype, T, { GRAD2_LOOP(T, E1); });                                   \
        return tg_tape_status(tp);                                                                 \
    }
GRAD2_DIRECT(sigmoid, E_SIGMOID_G0, E_SIGMOID_G1, true)
GRAD2_DIRECT(tanh, E_TANH_G0, E_TANH_G1, true)
GRAD2_DIRECT(square, E_SQUARE_G0, E_SQUARE_G1, true)
/* relu_grad: the mask is piecewise constant, no gradient flows to x */
GRAD2_DIRECT(relu, E_NONE_G0, E_RELU_G1, false)
static const tg_op k_square_grad = {"square_grad", 2, square_grad_backward, square_grad_direct,
                                    NULL};
static const tg_op k_sigmoid_grad = {"sigmoid_grad", 2, sigmoid_grad_backward, sigmoid_grad_direct,
                                     NULL};
static const tg_op k_tanh_grad = {"tanh_grad", 2, tanh_grad_backward, tanh_grad_direct, NULL};
static const tg_op k_relu_grad = {"relu_grad", 2, relu_grad_backward, relu_grad_direct, NULL};

static tg_tensor *act_grad(tg_tape *tp, actgrad k, tg_tensor *s, tg_tensor *g)
{
    const tg_op *op = k == AG_SIGMOID ? &k_sigmoid_grad
                      : k == AG_TANH  ? &k_tanh_grad
                      : k == AG_RELU  ? &k_relu_grad
                                      : &k_square_grad;
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
    const int64_t n = s->numel;
    TG_DISPATCH(s->dtype, T, {
        T *restrict o = out->data;
        const T *restrict v = s->data;
        const T *restrict d = g->data;
        switch (k) {
        case AG_SIGMOID:
            for (int64_t i = 0; i < n; i++) o[i] = AG_SIGMOID_E(d[i], v[i]);
            break;
        case AG_TANH:
            for (int64_t i = 0; i < n; i++) o[i] = AG_TANH_E(d[i], v[i]);
            break;
        case AG_RELU:
            for (int64_t i = 0; i < n; i++) o[i] = AG_RELU_E(d[i], v[i]);
            break;
        case AG_SQUARE:
            for (int64_t i = 0; i < n; i++) o[i] = AG_SQUARE_E(d[i], v[i]);
            break;
        }
    });
    return tg_tape_record(tp, op, 2, in, out, NULL, 0, 0, NULL);
}

/* d sigmoid x = g y (1 - y)   (seed 003: sigma' = sigma (1 - sigma)) */
static tg_status sigmoid_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = act_grad(tp, AG_SIGMOID, Y(n), g);
    return TG_OK;
}
UNARY_DIRECT(sigmoid, E_SIGMOIDD)
static const tg_op k_sigmoid = {"sigmoid", 1, sigmoid_backward, sigmoid_direct, sigmoid_scalar};
tg_tensor *tg_sigmoid(tg_tape *tp, tg_tensor *x)
{
    return unary(tp, &k_sigmoid, U_SIGMOID, x);
}

/* d tanh x = g (1 - y^2) */
static tg_status tanh_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = act_grad(tp, AG_TANH, Y(n), g);
    return TG_OK;
}
UNARY_DIRECT(tanh, E_TANHD)
static const tg_op k_tanh = {"tanh", 1, tanh_backward, tanh_direct, tanh_scalar};
tg_tensor *tg_tanh(tg_tape *tp, tg_tensor *x)
{
    return unary(tp, &k_tanh, U_TANH, x);
}

/* d relu x = g [x > 0]   (0 at the kink, as PyTorch) */
static tg_status relu_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = act_grad(tp, AG_RELU, X(n), g);
    return TG_OK;
}
UNARY_DIRECT(relu, E_RELUD)
static const tg_op k_relu = {"relu", 1, relu_backward, relu_direct, relu_scalar};
tg_tensor *tg_relu(tg_tape *tp, tg_tensor *x)
{
    return unary(tp, &k_relu, U_RELU, x);
}

/* d ln(1 + e^x) = g sigmoid(x) */
static tg_status softplus_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_sigmoid(tp, X(n)));
    return TG_OK;
}
UNARY_DIRECT(softplus, E_SOFTPLUSD)
static const tg_op k_softplus = {"softplus", 1, softplus_backward, softplus_direct,
                                 softplus_scalar};
tg_tensor *tg_softplus(tg_tape *tp, tg_tensor *x)
{
    return unary(tp, &k_softplus, U_SOFTPLUS, x);
}

/* Piecewise-constant helpers and stop-gradient: no backward (gradient 0). */
static const tg_op k_sign = {"sign", 1, NULL, NULL, NULL};
static const tg_op k_step = {"step", 1, NULL, NULL, NULL};
static const tg_op k_detach = {"detach", 1, NULL, NULL, NULL};
tg_tensor *tg_sign(tg_tape *tp, tg_tensor *x)
{
    return unary(tp, &k_sign, U_SIGN, x);
}
tg_tensor *tg_step(tg_tape *tp, tg_tensor *x)
{
    return unary(tp, &k_step, U_STEP, x);
}
tg_tensor *tg_detach(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *y = unary(tp, &k_detach, U_COPY, x);
    if (y) tg__tape_clear_rg(tp, y);
    return y;
}

/* cast: the gradient is cast back to the input's dtype */
static tg_status cast_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_cast(tp, g, tg_tensor_dtype(X(n)));
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
    &k_sign,         &k_step,      &k_detach,    &k_cast,    NULL};
