/* Losses, written as compositions of primitive ops (sub, square, log,
 * softplus, log_softmax, sum_all, ...).  Each loss is recorded as several
 * nodes whose backward rules are already tested, so its gradient, and its
 * second derivative, come for free; there is no loss-specific backward to
 * get wrong.  What lives here is the validation: a loss names itself and
 * both shapes when its inputs do not fit, and targets must have exactly the
 * shape of the prediction (broadcasting a target silently is a classic bug:
 * y (N,1) against t (N) would give an (N,N) loss). */
#include "../core/internal.h"
#include "../kernels/stream.h"

/* Common checks of a (prediction, target) pair: live inputs, same dtype,
 * identical shapes, and (when red is not NULL) a known reduction. */
static bool check_pair(tg_tape *tp, const char *op, const char *yname, tg_tensor *y,
                       const char *tname, tg_tensor *t, const tg_reduction *red)
{
    tg_tensor *in[2] = {y, t};
    if (!tg_tape_check_inputs(tp, op, 2, in)) return false;
    if (!tg__same_dtype(tp, op, y, t)) return false;
    if (!tg_tensor_same_shape(y, t)) {
        char a[TG_SHAPE_BUF], b[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: %s %s and %s %s differ (targets are not broadcast)", op,
                     yname, tg__shape_str(y, a, sizeof a), tname, tg__shape_str(t, b, sizeof b));
        return false;
    }
    if (red && *red != TG_REDUCE_SUM && *red != TG_REDUCE_MEAN) {
        tg_tape_fail(tp, TG_ERR_ARG,
                     "%s: unknown reduction %d (use TG_REDUCE_SUM or TG_REDUCE_MEAN)", op,
                     (int)*red);
        return false;
    }
    return true;
}

/* A mean over no elements is 0/0: refuse it up front, naming the loss. */
static bool check_nonempty(tg_tape *tp, const char *op, const char *what, const tg_tensor *x,
                           int64_t count)
{
    if (count > 0) return true;
    char s[TG_SHAPE_BUF];
    tg_tape_fail(tp, TG_ERR_EMPTY, "%s: mean over no elements (%s %s is empty)", op, what,
                 tg__shape_str(x, s, sizeof s));
    return false;
}

/* sum(l) * scale, the scale folding in the sign and the 1/count of a mean. */
static tg_tensor *reduce_scaled(tg_tape *tp, tg_tensor *l, double scale)
{
    tg_tensor *s = tg_sum_all(tp, l);
    return scale == 1.0 ? s : tg_mul_scalar(tp, s, scale);
}

/* 1/2 sum (t - y)^2  (seed 000 eq. 3);  d/dy = y - t. */
tg_tensor *tg_sse(tg_tape *tp, tg_tensor *y, tg_tensor *t)
{
    if (!check_pair(tp, "sse", "y", y, "t", t, NULL)) return NULL;
    return reduce_scaled(tp, tg_square(tp, tg_sub(tp, y, t)), 0.5);
}

/* mean (t - y)^2;  d/dy = 2 (y - t) / numel. */
tg_tensor *tg_mse(tg_tape *tp, tg_tensor *y, tg_tensor *t)
{
    if (!check_pair(tp, "mse", "y", y, "t", t, NULL)) return NULL;
    if (!check_nonempty(tp, "mse", "y", y, y->numel)) return NULL;
    return reduce_scaled(tp, tg_square(tp, tg_sub(tp, y, t)), 1.0 / (double)y->numel);
}

/* max(log q, -100) for q in [0, 1], PyTorch BCELoss's clamp, whose
 * derivative is 1/q where the log is above -100 and 0 where it is clamped.
 * With m = [log q > -100] and c = 1 - m (constants of the forward pass) it
 * is recorded as log(q m + c) - 100 c: where m = 1 exactly log q, where m = 0
 * log 1 - 100 with derivative m / (q m + c) = 0, so no 1/0 meets a zero
 * gradient (0 * inf = NaN) at any order.  When nothing is clamped, the
 * plain log. */
static tg_tensor *clamped_log(tg_tape *tp, tg_tensor *q)
{
    if (!q) return NULL;
    bool any = false;
    for (int64_t i = 0; i < q->numel && !any; i++) any = !(log(tg_tensor_get_flat(q, i)) > -100.0);
    if (!any) return tg_log(tp, q);
    tg_tensor *m = tg__const_full(tp, q->dtype, q->ndim, q->shape, 1.0);
    tg_tensor *c = tg__const_full(tp, q->dtype, q->ndim, q->shape, 0.0);
    tg_tensor *c100 = tg__const_full(tp, q->dtype, q->ndim, q->shape, 0.0);
    if (!m || !c || !c100) return NULL;
    for (int64_t i = 0; i < q->numel; i++)
        if (!(log(tg_tensor_get_flat(q, i)) > -100.0)) {
            tg_tensor_set_flat(m, i, 0.0);
            tg_tensor_set_flat(c, i, 1.0);
            tg_tensor_set_flat(c100, i, -100.0);
        }
    return tg_add(tp, tg_log(tp, tg_add(tp, tg_mul(tp, q, m), c)), c100);
}

/* -[t log p + (1-t) log(1-p)];  d/dp = (p - t) / (p (1 - p)).
 * p must be a probability: a value outside [0,1] (or NaN) is an error rather
 * than a silent NaN loss.  Each log is clamped at -100 as in PyTorch's
 * BCELoss (clamped_log), so p exactly 0 or 1 gives a finite loss (100 for
 * a saturated wrong answer) and the gradient of the clamped function
 * (finite; PyTorch's own backward instead divides by max(p (1-p), 1e-12)).
 * tg_bce_logits is the stable form for outputs of a sigmoid. */
tg_tensor *tg_bce(tg_tape *tp, tg_tensor *p, tg_tensor *t, tg_reduction red)
{
    if (!check_pair(tp, "bce", "p", p, "t", t, &red)) return NULL;
    if (red == TG_REDUCE_MEAN && !check_nonempty(tp, "bce", "p", p, p->numel)) return NULL;
    int64_t bad = -1;
    TG_DISPATCH(p->dtype, T, {
        const T *v = p->data;
        for (int64_t i = 0; i < p->numel; i++)
            if (!(v[i] >= 0 && v[i] <= 1)) { /* NaN fails too */
                bad = i;
                break;
            }
    });
    if (bad >= 0) {
        char s[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_ARG,
                     "bce: p %s holds %g at flat index %lld, not a probability in [0,1] "
                     "(use tg_bce_logits on logits)",
                     tg__shape_str(p, s, sizeof s), tg_tensor_get_flat(p, bad), (long long)bad);
        return NULL;
    }
    tg_tensor *pos = tg_mul(tp, t, clamped_log(tp, p));
    tg_tensor *neg =
        tg_mul(tp, tg_rsub_scalar(tp, 1.0, t), clamped_log(tp, tg_rsub_scalar(tp, 1.0, p)));
    double n = red == TG_REDUCE_MEAN ? (double)p->numel : 1.0;
    return reduce_scaled(tp, tg_add(tp, pos, neg), -1.0 / n);
}

/* The same on logits, p = sigmoid z:
 *   -[t log s(z) + (1-t) log(1 - s(z))] = softplus(z) - t z
 *                                       = max(z, 0) - t z + log1p(e^-|z|),
 * since log s(z) = -softplus(-z), log(1 - s(z)) = -softplus(z) and
 * softplus(z) - softplus(-z) = z.  The last form is the one computed:
 * softplus(z) - t z cancels for t near 1 and large z (softplus(36) rounds
 * to 36 and the loss to 0 instead of 2.3e-16).  d/dz = sigmoid(z) - t.
 *
 * As ops: relu(z) - t z + softplus(z s), with s the constant -1 where
 * z > 0 and 1 elsewhere, so z s = -|z| with derivative s.  (abs would give
 * -|z| a derivative 0 at z = 0, and the second derivative there 0 instead
 * of sigmoid'(0) = 1/4; relu's 0 at 0 plus softplus's 1/2 give the first
 * derivative 1/2 - t there.)  The softplus term is recorded first, so the
 * backward sweep, which visits the nodes in reverse, sums z's gradient as
 * ([z > 0] - t) + s sigmoid(-|z|): for t = 1 and large z the first sum is
 * exactly 0, and the small term keeps its digits (the other order would
 * round 1 - sigmoid(-z) to 1 first). */
tg_tensor *tg_bce_logits(tg_tape *tp, tg_tensor *z, tg_tensor *t, tg_reduction red)
{
    if (!check_pair(tp, "bce_logits", "z", z, "t", t, &red)) return NULL;
    if (red == TG_REDUCE_MEAN && !check_nonempty(tp, "bce_logits", "z", z, z->numel)) return NULL;
    tg_tensor *s = tg__const_full(tp, z->dtype, z->ndim, z->shape, 1.0);
    if (!s) return NULL;
    for (int64_t i = 0; i < z->numel; i++)
        if (tg_tensor_get_flat(z, i) > 0) tg_tensor_set_flat(s, i, -1.0);
    tg_tensor *tail = tg_softplus(tp, tg_mul(tp, z, s));
    tg_tensor *l = tg_add(tp, tg_sub(tp, tg_relu(tp, z), tg_mul(tp, t, z)), tail);
    double n = red == TG_REDUCE_MEAN ? (double)z->numel : 1.0;
    return reduce_scaled(tp, l, 1.0 / n);
}

/* Checks shared by both cross-entropies: z is (N,C) or (C) with C > 0, and a
 * mean needs N > 0.  Sets *rows to N (1 for 1-d z). */
static bool check_logits(tg_tape *tp, const char *op, tg_tensor *z, tg_reduction red, int64_t *rows)
{
    char s[TG_SHAPE_BUF];
    if (z->ndim != 1 && z->ndim != 2) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: logits z %s must be (N,C) or (C)", op,
                     tg__shape_str(z, s, sizeof s));
        return false;
    }
    if (red != TG_REDUCE_SUM && red != TG_REDUCE_MEAN) {
        tg_tape_fail(tp, TG_ERR_ARG,
                     "%s: unknown reduction %d (use TG_REDUCE_SUM or TG_REDUCE_MEAN)", op,
                     (int)red);
        return false;
    }
    if (z->shape[z->ndim - 1] == 0) {
        tg_tape_fail(tp, TG_ERR_EMPTY, "%s: logits z %s have no classes", op,
                     tg__shape_str(z, s, sizeof s));
        return false;
    }
    *rows = z->ndim == 2 ? z->shape[0] : 1;
    if (red == TG_REDUCE_MEAN && !check_nonempty(tp, op, "z", z, *rows)) return false;
    return true;
}

/* ---- xmul: the product t log p with 0 * inf taken as 0 -------------------
 * A -inf logit masks a class (log_softmax is -inf there) and its target is
 * 0: the product of the two is the 0 log 0 = 0 of entropy, not the NaN of
 * IEEE 0 * -inf.  xmul is a product of two tensors of one shape with that
 * convention, and its rules are xmul again: d/da = g b, d/db = g a.  So the
 * gradient reaching log_softmax is g t (finite), and the one reaching a
 * target that requires grad is g log p (-inf at a masked class: the
 * derivative of t log p in t there, not hidden).  Only the cross-entropy
 * uses it, and only when a product would be 0 * inf: every other graph
 * keeps the plain tg_mul.  Its loops are maps, threaded as the elementwise
 * ops' (kernels/stream.h). */
#define XMUL(T, a, b)                                                                              \
    ((((a) == 0 && TG_FABS(b) == (T)INFINITY) || ((b) == 0 && TG_FABS(a) == (T)INFINITY))          \
         ? (T)0                                                                                    \
         : (a) * (b))

static tg_tensor *xmul(tg_tape *tp, tg_tensor *a, tg_tensor *b);

static tg_status xmul_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    if (tg_node_needs_grad(n, 0)) gin[0] = xmul(tp, g, tg_node_input(n, 1));
    if (tg_node_needs_grad(n, 1)) gin[1] = xmul(tp, g, tg_node_input(n, 0));
    return TG_OK;
}

/* d (+)= XMUL(g, other) elementwise, one slot at a time (the two slots may
 * share a buffer: each is written completely before the next is asked). */
static tg_status xmul_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    for (int slot = 0; slot < 2; slot++) {
        bool acc;
        tg_tensor *d = tg_grad_sink_buffer(k, slot, &acc);
        if (!d) {
            if (!tg__tape_ok(tp)) return tg_tape_status(tp);
            continue; /* needs no gradient */
        }
        const tg_tensor *o = n->in[1 - slot];
        TG_DISPATCH(g->dtype, T, {
            T *dd = d->data;
            const T *gg = g->data, *oo = o->data;
            TG_ELEM_LOOP(g->numel, TG_ELEM_MIN_WORK, i, const T v = XMUL(T, gg[i], oo[i]);
                         dd[i] = acc ? dd[i] + v : v;);
        });
    }
    return TG_OK;
}

static void xmul_scalar(const tg_node *n, const tg_scalar_args *a, double *gin)
{
    (void)n;
    TG_DISPATCH(a->dtype, T, {
        const T g = (T)a->gout, x0 = (T)a->x[0], x1 = (T)a->x[1];
        gin[0] = XMUL(T, g, x1);
        gin[1] = XMUL(T, g, x0);
    });
}

/* tangent: xmul(ta, b) + xmul(a, tb), with the same 0 * inf = 0 */
static tg_status xmul_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    tg_tensor *t = NULL;
    if (tin[0]) t = xmul(tp, tin[0], tg_node_input(n, 1));
    if (tin[1]) {
        tg_tensor *tb = xmul(tp, tg_node_input(n, 0), tin[1]);
        t = t ? tg_add(tp, t, tb) : tb;
    }
    *tout = t;
    return tg_tape_status(tp);
}
static const tg_op k_xmul = {.name = "xmul",
                             .arity = 2,
                             .backward = xmul_backward,
                             .direct = xmul_direct,
                             .scalar = xmul_scalar,
                             .jvp = xmul_jvp,
                             .formula = "da += g * b;  db += g * a  (0 * inf taken as 0)"};

/* a and b of one shape and dtype (the callers' tensors are). */
static tg_tensor *xmul(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *in[2] = {a, b};
    if (!tg_tape_check_inputs(tp, "xmul", 2, in)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, a->dtype, a->ndim, a->shape);
    if (!out) return NULL;
    TG_DISPATCH(a->dtype, T, {
        T *o = out->data;
        const T *x = a->data, *y = b->data;
        TG_ELEM_LOOP(a->numel, TG_ELEM_MIN_WORK, i, o[i] = XMUL(T, x[i], y[i]););
    });
    return tg__tape_record_checked(tp, &k_xmul, 2, in, out, NULL, 0, 0, NULL);
}

/* Whether t * ls has an element 0 * inf. */
static bool has_zero_times_inf(const tg_tensor *t, const tg_tensor *ls)
{
    bool found = false;
    TG_DISPATCH(t->dtype, T, {
        const T *x = t->data, *y = ls->data;
        for (int64_t i = 0; i < t->numel && !found; i++)
            found = (x[i] == 0 && TG_FABS(y[i]) == (T)INFINITY) ||
                    (y[i] == 0 && TG_FABS(x[i]) == (T)INFINITY);
    });
    return found;
}

/* -sum_rows sum_c t_c log_softmax(z)_c   (/N for the mean).
 * d/dz = softmax(z) sum_c t_c - t, i.e. softmax(z) - t per row when each row
 * of t sums to 1 (seed 002).  A class masked by a -inf logit and a target
 * of 0 contributes 0 (xmul above). */
static tg_tensor *xent(tg_tape *tp, tg_tensor *z, tg_tensor *t, tg_reduction red, int64_t rows)
{
    tg_tensor *ls = tg_log_softmax(tp, z, -1);
    if (!ls) return NULL;
    tg_tensor *l = has_zero_times_inf(t, ls) ? xmul(tp, t, ls) : tg_mul(tp, t, ls);
    double n = red == TG_REDUCE_MEAN ? (double)rows : 1.0;
    return reduce_scaled(tp, l, -1.0 / n);
}

tg_tensor *tg_softmax_cross_entropy(tg_tape *tp, tg_tensor *z, tg_tensor *targets, tg_reduction red)
{
    const char *op = "softmax_cross_entropy";
    if (!check_pair(tp, op, "z", z, "targets", targets, &red)) return NULL;
    int64_t rows;
    if (!check_logits(tp, op, z, red, &rows)) return NULL;
    return xent(tp, z, targets, red, rows);
}

/* z's cross-entropy against n = rows class labels, label i read by
 * label(src, i): a one-hot constant (not differentiable: the labels are
 * integers) and the loss with dense targets.  Every label is checked
 * before the one-hot is written, so an out-of-range one is an error, never
 * a write outside it. */
static tg_tensor *xent_labels(tg_tape *tp, const char *op, tg_tensor *z, tg_reduction red,
                              int64_t rows, const void *src,
                              int64_t (*label)(const void *, int64_t))
{
    char s[TG_SHAPE_BUF];
    const int64_t c = z->shape[z->ndim - 1];
    for (int64_t i = 0; i < rows; i++) {
        const int64_t l = label(src, i);
        if (l < 0 || l >= c) {
            tg_tape_fail(tp, TG_ERR_ARG,
                         "%s: label %lld at row %lld is out of range [0, %lld) for "
                         "logits z %s",
                         op, (long long)l, (long long)i, (long long)c,
                         tg__shape_str(z, s, sizeof s));
            return NULL;
        }
    }
    tg_tensor *onehot = tg__const_full(tp, z->dtype, z->ndim, z->shape, 0.0);
    if (!onehot) return NULL;
    for (int64_t i = 0; i < rows; i++) tg_tensor_set_flat(onehot, i * c + label(src, i), 1.0);
    return xent(tp, z, onehot, red, rows);
}

static int64_t label_i64(const void *src, int64_t i)
{
    return ((const int64_t *)src)[i];
}

static int64_t label_i32(const void *src, int64_t i)
{
    return ((const int32_t *)src)[i];
}

tg_tensor *tg_softmax_cross_entropy_index(tg_tape *tp, tg_tensor *z, const tg_tensor *labels,
                                          tg_reduction red)
{
    const char *op = "softmax_cross_entropy_index";
    tg_tensor *in[1] = {z};
    if (!tg_tape_check_inputs(tp, op, 1, in)) return NULL;
    int64_t rows;
    if (!check_logits(tp, op, z, red, &rows)) return NULL;
    /* The labels are read here and not recorded (an integer tensor is no
     * op's input: tg_tape_check_inputs refuses it), so they are checked
     * here: live, i64, and z's shape without the class axis. */
    char s[TG_SHAPE_BUF], d[TG_SHAPE_BUF + 8];
    if (!labels) {
        tg_tape_fail(tp, TG_ERR_NULL, "%s: labels is NULL", op);
        return NULL;
    }
    if (!tg__tensor_live_on(labels, tp) ||
        (labels->magic == TG_MAGIC_USER && tg__tensor_freed(labels))) {
        tg_tape_fail(tp, TG_ERR_TAPE,
                     "%s: labels is not a live tensor of this tape (stale, of "
                     "another tape, or freed)",
                     op);
        return NULL;
    }
    if (labels->dtype != TG_I64) {
        tg_tape_fail(tp, TG_ERR_DTYPE,
                     "%s: labels %s must be i64 (class indices; for "
                     "probabilities use tg_softmax_cross_entropy)",
                     op, tg_tensor_describe(labels, d, sizeof d));
        return NULL;
    }
    if (labels->ndim != z->ndim - 1 || (z->ndim == 2 && labels->shape[0] != z->shape[0])) {
        char b[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "%s: labels %s must have the shape of logits z %s "
                     "without its class axis, %s",
                     op, tg__shape_str(labels, s, sizeof s), tg__shape_str(z, b, sizeof b),
                     z->ndim == 2 ? tg__dims_str(1, z->shape, d, sizeof d) : "()");
        return NULL;
    }
    return xent_labels(tp, op, z, red, rows, labels->data, label_i64);
}

tg_tensor *tg_softmax_cross_entropy_labels(tg_tape *tp, tg_tensor *z, const int32_t *labels,
                                           int64_t n, tg_reduction red)
{
    const char *op = "softmax_cross_entropy_labels";
    tg_tensor *in[1] = {z};
    if (!tg_tape_check_inputs(tp, op, 1, in)) return NULL;
    int64_t rows;
    if (!check_logits(tp, op, z, red, &rows)) return NULL;
    char s[TG_SHAPE_BUF];
    if (n != rows) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: %lld labels for logits z %s (expected %lld)", op,
                     (long long)n, tg__shape_str(z, s, sizeof s), (long long)rows);
        return NULL;
    }
    if (n > 0 && !labels) {
        tg_tape_fail(tp, TG_ERR_NULL, "%s: labels is NULL", op);
        return NULL;
    }
    return xent_labels(tp, op, z, red, rows, labels, label_i32);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_loss[] = {&k_xmul, NULL};
