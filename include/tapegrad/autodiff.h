/* tapegrad: reverse-mode differentiation and custom ops.
 *
 * tg_backward(tp, loss) replays the tape in reverse and writes d loss / d t
 * into every user-owned tensor t with requires_grad that loss depends on
 * and every tensor marked with tg_retain_grad.  tg_grad(tp, y, x, create_graph) returns dy/dx for
 * any recorded x without touching .grad; with create_graph the gradient is
 * itself recorded on the tape and can be differentiated again. */
#ifndef TAPEGRAD_AUTODIFF_H
#define TAPEGRAD_AUTODIFF_H

#include "export.h"

#include "tape.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_backward_options {
    /* Gradient of y to start from (same shape as y).  NULL: y must have one
     * element and the seed is 1. */
    const tg_tensor *seed;
    /* false (default): .grad is replaced by this call's gradient.
     * true: this call's gradient is added to what .grad holds. */
    bool accumulate;
} tg_backward_options;

/* Backward from a one-element y (seed 1).  A parameter y does not depend on
 * keeps its .grad (NULL if none; PyTorch's None).  Replaces .grad: its values, and
 * possibly its data pointer (see tg_tensor_grad); on failure every .grad is
 * left as it was.  Errors, on the tape (sticky until tg_tape_reset):
 * TG_ERR_ARG when y depends on no tensor that requires grad (nor on a
 * retained one: no gradient would be written at all; set requires_grad on
 * the parameters, before or after recording); TG_ERR_TAPE when a recorded
 * user tensor was modified since it was recorded (see tg_tensor_data) or a
 * parameter was freed (tg_tensor_free). */
TG_API tg_status tg_backward(tg_tape *tp, tg_tensor *y);
TG_API tg_status tg_backward_ex(tg_tape *tp, tg_tensor *y, const tg_backward_options *opts);

/* Mark a tape-owned intermediate so tg_backward keeps its gradient (in
 * tg_tensor_grad(t), tape-owned).  Call it before the tg_backward whose
 * gradient it should keep: on a tensor recorded before the last
 * tg_backward on tp it is an error (TG_ERR_ARG: that sweep kept nothing).
 * On a user-owned tensor it is a valid no-op (TG_OK): a user tensor that
 * requires grad gets .grad anyway.  Its errors (also a NULL t, a tensor of
 * another tape or a stale one: TG_ERR_TAPE) are returned and set as the
 * thread's last error (tg_last_error), never on the tape: the tape stays
 * usable. */
TG_API tg_status tg_retain_grad(tg_tape *tp, tg_tensor *t);

/* Options of tg_grad_ex and tg_vjp_ex; {0} gives tg_grad's behaviour. */
typedef struct tg_grad_options {
    /* Gradient of y to start from (same shape as y).  NULL: y must have one
     * element and the seed is 1. */
    const tg_tensor *seed;
    /* Record the gradient on the tape, so it can be differentiated again. */
    bool create_graph;
    /* What an x that y does not depend on gets (no gradient reaches it, or
     * no recorded op used it).  false (default): an error naming the call,
     * the index and the shape (a zero gradient would hide a mix-up of
     * tensors).  true: zeros of x's shape.  PyTorch's allow_unused gives
     * None there (or zeros with materialize_grads); zeros here, since in C
     * a NULL reads as a failure. */
    bool allow_unused;
} tg_grad_options;

/* dy/dx for one-element y, as a tape-owned tensor of x's shape.  x may be
 * any tensor recorded on the tape (an op's output or an input of some op),
 * whether or not it requires grad.  If y does not depend on x it is an
 * error (TG_ERR_ARG; TG_ERR_TAPE for an x no recorded op used), unless
 * allow_unused (tg_grad_ex); so is a recorded tensor modified since (see
 * tg_backward).  With create_graph the gradient is recorded on the tape.
 * (After tg_backward, the .grad of a parameter y does not depend on stays
 * NULL: see tg_tensor_grad.) */
TG_API tg_tensor *tg_grad(tg_tape *tp, tg_tensor *y, tg_tensor *x, bool create_graph);
/* The same with options (opts NULL: all defaults). */
TG_API tg_tensor *tg_grad_ex(tg_tape *tp, tg_tensor *y, tg_tensor *x, const tg_grad_options *opts);

/* Vector-Jacobian products: seed^T dy/dx[i] for each of n tensors xs, into
 * out[i] (tape-owned).  seed NULL means y has one element and seed 1.  An
 * x that y does not depend on is an error, as in tg_grad. */
TG_API tg_status tg_vjp(tg_tape *tp, tg_tensor *y, const tg_tensor *seed, int n,
                        tg_tensor *const *xs, tg_tensor **out, bool create_graph);
/* The same with options (opts NULL: all defaults; the seed is opts->seed). */
TG_API tg_status tg_vjp_ex(tg_tape *tp, tg_tensor *y, int n, tg_tensor *const *xs, tg_tensor **out,
                           const tg_grad_options *opts);

/* ---- forward mode ---------------------------------------------------------- */

/* Options of tg_jvp_ex; {0} gives tg_jvp's behaviour. */
typedef struct tg_jvp_options {
    /* Record the tangents on the tape, so they can be differentiated again
     * (forward over reverse: a Hessian-vector product). */
    bool create_graph;
} tg_jvp_options;

/* Jacobian-vector products (forward mode): for each of m recorded tensors
 * ys, out[j] = sum_i (d ys[j] / d xs[i]) ts[i], tape-owned, of ys[j]'s
 * shape; ts[i] has xs[i]'s shape and dtype.  One forward sweep over the
 * nodes recorded so far (its cost is proportional to the tape, as ADOL-C's
 * fos_forward), whatever m: each op's tangent rule (tg_op.jvp) carries the
 * tangents from its inputs to its output; an op without one gets its
 * tangent from its backward rule (the double-vjp construction, whose nodes
 * stay on the tape: docs/custom-ops.md).  A y that depends on
 * no x gets zeros, as in JAX.  xs may be any tensors recorded on tp (user
 * tensors or intermediates).  Errors on the tape (sticky): a NULL or
 * foreign tensor (TG_ERR_NULL, TG_ERR_TAPE), a tangent of the wrong shape
 * or dtype (TG_ERR_SHAPE, TG_ERR_DTYPE). */
TG_API tg_status tg_jvp(tg_tape *tp, int n, tg_tensor *const *xs, tg_tensor *const *ts, int m,
                        tg_tensor *const *ys, tg_tensor **out, bool create_graph);
/* The same with options (opts NULL: all defaults). */
TG_API tg_status tg_jvp_ex(tg_tape *tp, int n, tg_tensor *const *xs, tg_tensor *const *ts, int m,
                           tg_tensor *const *ys, tg_tensor **out, const tg_jvp_options *opts);

/* ---- custom ops -------------------------------------------------------- */
typedef struct tg_node tg_node;

/* A backward rule: given the node and the gradient of its output (gout),
 * set gin[i] to the gradient of input i for every i with
 * tg_node_needs_grad(node, i), built from tapegrad ops on tp so that it can
 * be recorded (create_graph).  Leave gin[i] NULL for "no contribution".
 * Return TG_OK or an error (the tape's sticky error is set by failing ops). */
typedef tg_status (*tg_backward_fn)(tg_tape *tp, const tg_node *node, tg_tensor *gout,
                                    tg_tensor **gin);

/* Where a direct rule (below) puts its input gradients; owned by the sweep. */
typedef struct tg_grad_sink tg_grad_sink;

/* An optional direct first-order rule: the same derivative as the op's
 * backward rule, computed with plain loops and written in place, for the
 * common case where no graph is being built (tg_backward, and tg_grad/tg_vjp
 * without create_graph, explain mode off).  It reads gout and, for each
 * input i that needs a gradient, either
 *   - asks tg_grad_sink_buffer(sink, i, &acc) for the input's adjoint
 *     buffer (shape and dtype of input i) and writes its contribution into
 *     it: added when acc is true, stored when false; or
 *   - hands over a whole contribution with tg_grad_sink_add (for example
 *     gout itself, for an identity).
 * Two input slots may name the same value (mul(x, x)) and then share one
 * buffer: write each buffer completely before asking for the next.  The
 * tensors gout and the buffers are handed over in are valid only while the
 * rule runs (the data they point at lives until the tape is reset).
 * Return TG_OK or an error. */
typedef tg_status (*tg_direct_fn)(tg_tape *tp, const tg_node *node, const tg_tensor *gout,
                                  tg_grad_sink *sink);

/* An optional scalar rule, for a node whose inputs and output each hold one
 * element: set gin[i], for every input i, to input i's gradient for the
 * output gradient a->gout.  Compute it in a->dtype (the output's) with the
 * direct rule's arithmetic, so both rules give the same bits; values pass
 * as double, which holds every f32 exactly.  The values are the ones
 * recorded (a->x[i] of input i, a->y of the output), kept beside the node,
 * so the rule need not touch the tensors: an op with a scalar rule must
 * compute its output before calling tg_tape_record.  Plain backward sweeps (where
 * direct rules run) use it on such nodes instead: a scalar tape keeps every
 * one-element adjoint in one flat array, and its reverse sweep then reads
 * the tape in order, allocates nothing and makes no tensor header per node.
 * At most TG_SCALAR_MAX_INPUTS inputs; a node with more uses direct. */
typedef struct tg_scalar_args {
    tg_dtype dtype;  /* the output's dtype: compute in it */
    double gout;     /* the output's gradient */
    double y;        /* the output's value */
    const double *x; /* x[i]: input i's value */
} tg_scalar_args;
typedef void (*tg_scalar_fn)(const tg_node *node, const tg_scalar_args *a, double *gin);
#define TG_SCALAR_MAX_INPUTS 8

/* An optional tangent rule (forward mode, tg_jvp): given the tangents of
 * the node's inputs, tin[i] (NULL: a zero tangent; else input i's shape and
 * dtype), set *tout to the tangent of its output (the output's shape and
 * dtype), sum_i (d out / d in_i) tin[i], built from tapegrad ops on tp so
 * that it can be recorded and differentiated again (create_graph); leave
 * *tout NULL for a zero tangent.  The primal values are the node's
 * (tg_node_input, tg_node_output, tg_node_saved).  tg_node_needs_grad(node,
 * i) says whether input i has a tangent.  Return TG_OK or an error. */
typedef tg_status (*tg_jvp_fn)(tg_tape *tp, const tg_node *node, tg_tensor *const *tin,
                               tg_tensor **tout);

/* An optional printer of a node's attributes for tg_tape_print, explain
 * mode and DOT ("axis=1", "0.5"): writes at most size bytes into buf, NUL
 * terminated, snprintf-style; returns the length it wanted. */
typedef int (*tg_attrs_fn)(const tg_node *node, char *buf, size_t size);

typedef struct tg_op {
    const char *name;        /* shown in errors and tg_tape_print */
    int arity;               /* number of tensor inputs; -1 = any */
    tg_backward_fn backward; /* NULL = not differentiable (gradient zero) */
    tg_direct_fn direct;     /* optional; NULL = backward is used everywhere */
    tg_scalar_fn scalar;     /* optional; NULL = direct (or backward) on scalars too */
    tg_jvp_fn jvp;           /* optional; NULL = tg_jvp builds the tangent from backward */
    /* optional: the backward rule in one line for explain mode, in g (the
     * output's gradient), y (the output), x or a, b, ... (the inputs):
     * "dx += g * y * (1 - y)" */
    const char *formula;
    tg_attrs_fn attrs; /* optional: the node's attributes, for printing */
} tg_op;

/* Input i's adjoint buffer for a direct rule, or NULL when input i needs no
 * gradient (or on out of memory: the tape's error is then set).  *accumulate
 * says whether it already holds a contribution (add to it) or not (store). */
TG_API tg_tensor *tg_grad_sink_buffer(tg_grad_sink *sink, int i, bool *accumulate);
/* Contribute g (the shape and dtype of input i) to input i's gradient.  The
 * first contribution is adopted without a copy, so g must not change
 * afterwards (gout or a tensor made on the tape are fine).  Ignored when
 * input i needs no gradient. */
TG_API tg_status tg_grad_sink_add(tg_grad_sink *sink, int i, const tg_tensor *g);

/* Inspection of a node from inside a backward rule. */
TG_API const tg_op *tg_node_op(const tg_node *n);
TG_API int tg_node_num_inputs(const tg_node *n);
TG_API tg_tensor *tg_node_input(const tg_node *n, int i);
TG_API tg_tensor *tg_node_output(const tg_node *n);
TG_API bool tg_node_needs_grad(const tg_node *n, int i);
/* The op's saved attributes (a copy made at record time), or NULL. */
TG_API const void *tg_node_saved(const tg_node *n);
/* Extra tensors the op saved for backward (tape-owned or inputs). */
TG_API tg_tensor *tg_node_aux(const tg_node *n, int i);
TG_API int tg_node_num_aux(const tg_node *n);

/* To write a custom op:
 *   1. validate inputs (tg_tape_check_inputs),
 *   2. allocate the output with tg_tape_alloc and compute it,
 *   3. call tg_tape_record with the op descriptor, inputs, output, and
 *      optionally a blob of attributes (copied) and aux tensors.
 * tg_tape_record returns out, or NULL if the tape is in error. */
TG_API tg_tensor *tg_tape_alloc(tg_tape *tp, tg_dtype dt, int ndim, const int64_t *shape);
/* Checks that the tape is usable and each input is non-NULL, live and owned
 * by tp or by the user; on failure sets the tape error naming op_name and
 * returns false. */
TG_API bool tg_tape_check_inputs(tg_tape *tp, const char *op_name, int n, tg_tensor *const *in);
TG_API tg_tensor *tg_tape_record(tg_tape *tp, const tg_op *op, int n_in, tg_tensor *const *in,
                                 tg_tensor *out, const void *saved, size_t saved_size, int n_aux,
                                 tg_tensor *const *aux);
/* Set the tape's sticky error (printf-style message), if none is set yet.
 * With tp NULL the message goes to tg_last_error() instead. */
TG_API void tg_tape_fail(tg_tape *tp, tg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
