/* tapegrad: custom rules for whole functions.
 *
 * A function of several tensors, computed by any code (tapegrad ops, plain
 * loops, an iterative solver), recorded as ONE node whose derivative is a
 * rule the user gives: a vector-Jacobian product for reverse mode and,
 * optionally, a Jacobian-vector product for forward mode (tg_jvp).  This is
 * PyTorch's torch.autograd.Function and JAX's custom_vjp / custom_jvp: the
 * forward is not differentiated, so its intermediates are not kept and an
 * iteration inside it (Newton, a fixed point) is never unrolled.
 * docs/custom-ops.md, "Custom rules for whole functions", says when to use
 * this and when a tg_op descriptor. */
#ifndef TAPEGRAD_FUNCTION_H
#define TAPEGRAD_FUNCTION_H

#include "export.h"

#include "autodiff.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What each of a function's three callbacks is given. */
typedef struct tg_function_args {
    void *ctx;               /* the ctx given to tg_function_call, as it is */
    int n_in;                /* the inputs, as given to tg_function_call */
    tg_tensor *const *in;    /*   (recorded tensors: they carry their history) */
    int n_out;               /* the outputs the node recorded (NULL in forward) */
    tg_tensor *const *out;   /*   (with create_graph they carry their history) */
    int n_saved;             /* tg_function.n_saved slots, as forward filled */
    tg_tensor *const *saved; /*   them (NULL entries left NULL; NULL in forward) */
    /* vjp: needs[i] = input i needs a gradient (others are dropped); jvp:
     * input i has a tangent (tin[i] != NULL); forward: NULL */
    const bool *needs;
} tg_function_args;

/* Compute out[j] (j < a->n_out) from a->in with tapegrad ops or plain code
 * (tg_tape_alloc + loops); nothing it does is recorded.  It may keep
 * residuals for the rules in saved[k] (k < tg_function.n_saved, all NULL on
 * entry): tensors of this tape (or user tensors).  The rules see them as
 * constants: a rule to be differentiated again (create_graph) should build
 * on a->in and a->out, which carry their history, as PyTorch advises for
 * save_for_backward.  An output may be an input or any live tensor of the
 * tape (the node then records a copy).  Return TG_OK or an error. */
typedef tg_status (*tg_function_forward_fn)(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                                            tg_tensor **saved);

/* gin[i] = sum_j J_ji^T gout[j] for each input i with a->needs[i] (J_ji =
 * d out_j / d in_i), of input i's shape and dtype; gout[j] has output j's
 * shape (zeros for an output nothing used).  Built from tapegrad ops on tp,
 * it is recorded under create_graph and can be differentiated again.
 * Leave gin[i] NULL for no contribution.  Return TG_OK or an error. */
typedef tg_status (*tg_function_vjp_fn)(tg_tape *tp, const tg_function_args *a,
                                        tg_tensor *const *gout, tg_tensor **gin);

/* tout[j] = sum_i J_ji tin[i] (tin[i] NULL: a zero tangent), of output j's
 * shape and dtype; leave tout[j] NULL for a zero tangent.  Built from
 * tapegrad ops on tp.  Return TG_OK or an error. */
typedef tg_status (*tg_function_jvp_fn)(tg_tape *tp, const tg_function_args *a,
                                        tg_tensor *const *tin, tg_tensor **tout);

/* A function with its own derivative rules.  Like a tg_op it is read when
 * the rules run, so it must live as long as the tape holds the node
 * (usually: a static const). */
typedef struct tg_function {
    const char *name;               /* in errors and tg_tape_print */
    int n_saved;                    /* residual slots forward may fill (>= 0) */
    tg_function_forward_fn forward; /* required */
    tg_function_vjp_fn vjp;         /* required */
    tg_function_jvp_fn jvp;         /* optional: NULL = tg_jvp's own fallback */
} tg_function;

/* out[0..n_out) = f(in[0..n_in)), recorded as one node whose derivatives
 * are f's rules; out[j] are tape-owned.  Several outputs share one dtype.
 * ctx is passed to every callback as it is (NULL allowed) and must live
 * while the tape holds the node; only the tensors in `in` are
 * differentiated (a tensor reached through ctx is a constant).  Errors on
 * the tape, naming f->name: a NULL f, f->name, f->forward, f->vjp, in or
 * out (TG_ERR_NULL), a count out of range (TG_ERR_ARG), forward failing or
 * giving a NULL output or one of another tape (its error, prefixed
 * "function NAME: forward: "). */
TG_API tg_status tg_function_call(tg_tape *tp, const tg_function *f, void *ctx, int n_in,
                                  tg_tensor *const *in, int n_out, tg_tensor **out);

#ifdef __cplusplus
}
#endif
#endif
