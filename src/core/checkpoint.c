/* Checkpointing: tg_checkpoint runs a segment on a scratch tape, copies its
 * output onto the caller's tape and records one node, so the segment's
 * intermediates are gone once the call returns.  The node's rules run the
 * segment again:
 *   - plain backward (the direct rule, or the op-built rule while nothing
 *     is recorded): on a scratch tape, with the segment's own direct rules,
 *     then its vector-Jacobian product is copied onto the tape.  The same
 *     kernels run on the same values in the same order as without the
 *     checkpoint, so the gradients are the same bits;
 *   - create_graph: on the tape itself, recorded, so the gradient is a
 *     function of the inputs and can be differentiated again;
 *   - forward mode likewise, through tg_jvp.
 * The tape's RNG state at the checkpoint is saved with the node and
 * restored for every recomputation (a dropout mask is drawn again, the
 * same), and the tape's RNG leaves the checkpoint advanced as if the
 * segment had run on it, so what is drawn afterwards does not change. */
#include "internal.h"

#include <stdio.h>

typedef struct ckpt_saved {
    tg_segment_fn fn;
    void *ctx;
    tg_rng rng; /* the tape's RNG as the segment began */
} ckpt_saved;

/* The segment's inputs are handed over in arrays of this many on the stack;
 * more come from the arena of the tape they are used on. */
#define CKPT_SMALL 32

/* A scratch tape for one run of a segment (tg__tape_take_scratch) with the
 * RNG state rng. */
static tg_tape *scratch_new(tg_tape *tp, const tg_rng *rng)
{
    tg_tape *s = tg__tape_take_scratch(tp);
    if (!s) {
        tg_tape_fail(tp, TG_ERR_NOMEM, "checkpoint: out of memory for a scratch tape");
        return NULL;
    }
    *tg_tape_rng(s) = *rng;
    return s;
}

/* Done with scratch tape s: its peak is counted into tp's high water (it
 * was in use on top of what tp holds), and tp keeps it for the next. */
static void scratch_free(tg_tape *tp, tg_tape *s)
{
    tg__tape_note_nested(tp, tg_tape_usage(s).high_water);
    tg__tape_give_scratch(tp, s);
}

/* Scratch tape s's error message without its " [node N]": the node is
 * the scratch tape's, and the message gets the checkpoint's node. */
static const char *inner_error(const tg_tape *s, char *buf, size_t n)
{
    snprintf(buf, n, "%s", tg_tape_error(s));
    char *tail = strstr(buf, " [node ");
    if (tail && strchr(tail, ']') && strchr(tail, ']')[1] == '\0') *tail = '\0';
    return buf;
}

/* Room for n tensor pointers: buf when n fits it, else arena memory of s. */
static tg_tensor **ptrs(tg_tape *s, tg_tensor **buf, int n)
{
    return n <= CKPT_SMALL ? buf : tg__tape_scratch(s, (size_t)n * sizeof(tg_tensor *));
}

/* Does input t take part in differentiation (f32 or f64)?  Index tensors
 * (labels) pass through as they are. */
static bool is_float(const tg_tensor *t)
{
    return t->dtype == TG_F32 || t->dtype == TG_F64;
}

/* Leaves of scratch tape s over the data of in[0..n) into w: a tape tensor
 * of tp cannot be used on s, and separate leaves keep the inputs
 * independent, so that each gets its own partial derivative even when one
 * is computed from another or appears twice.  False with tp's error set. */
static bool wrap_inputs(tg_tape *tp, tg_tape *s, int n, tg_tensor *const *in, tg_tensor **w)
{
    for (int k = 0; k < n; k++) {
        w[k] = is_float(in[k]) ? tg__tape_wrap(s, in[k], in[k]->data) : in[k];
        if (!w[k]) {
            char m[512];
            tg_tape_fail(tp, TG_ERR_NOMEM, "checkpoint: input %d: %s", k,
                         inner_error(s, m, sizeof m));
            return false;
        }
    }
    return true;
}

/* The segment sv->fn run on tape s over inputs in, for a checkpoint on tp
 * (s is tp itself when recomputing with create_graph): its output, or NULL
 * with tp's error set naming what went wrong. */
static tg_tensor *run_segment(tg_tape *tp, tg_tape *s, const ckpt_saved *sv, int n,
                              tg_tensor *const *in)
{
    const int64_t nodes = tg__tape_num_nodes(tp);
    tg_tensor *y = sv->fn(s, n, in, sv->ctx);
    if (!tg__tape_ok(tp)) return NULL; /* the segment used tp; its error stays */
    if (s != tp && tg__tape_num_nodes(tp) != nodes) {
        tg_tape_fail(tp, TG_ERR_TAPE,
                     "checkpoint: the segment recorded %lld nodes on the checkpoint's tape "
                     "instead of the tape it was given",
                     (long long)(tg__tape_num_nodes(tp) - nodes));
        return NULL;
    }
    if (!tg__tape_ok(s)) {
        char m[512];
        tg_tape_fail(tp, tg_tape_status(s), "checkpoint: the segment failed: %s",
                     inner_error(s, m, sizeof m));
        return NULL;
    }
    if (!y) {
        tg_tape_fail(tp, TG_ERR_ARG, "checkpoint: the segment returned NULL without an error");
        return NULL;
    }
    if (!tg__tensor_live_on(y, s)) {
        tg_tape_fail(tp, TG_ERR_TAPE,
                     "checkpoint: the segment returned a tensor of another tape (or a stale "
                     "one), not of the tape it was given");
        return NULL;
    }
    if (!is_float(y)) {
        char d[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, TG_ERR_DTYPE,
                     "checkpoint: the segment returned %s; its output must be f32 or f64",
                     tg_tensor_describe(y, d, sizeof d));
        return NULL;
    }
    return y;
}

/* A user tensor that requires grad used by the segment directly (through
 * ctx), not through its inputs, would get no gradient from the checkpoint
 * (its node does not list it): an error rather than a silent zero. */
static bool check_captured(tg_tape *tp, const tg_tape *s)
{
    const size_t nu = tg__tape_num_users(s);
    for (size_t u = 0; u < nu; u++) {
        const tg_tensor *t = tg__tape_user(s, u);
        if (!t->requires_grad) continue;
        char d[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, TG_ERR_ARG,
                     "checkpoint: the segment used %s, which requires grad, directly instead of "
                     "through its inputs: pass it in in so that its gradient reaches it",
                     tg_tensor_describe(t, d, sizeof d));
        return false;
    }
    return true;
}

/* ---- recomputation ------------------------------------------------------ */

/* The start of a recomputation of node nd's segment on scratch tape s:
 * a[0..2], three arrays of n_in pointers (bufs on the caller's stack when
 * they fit, else s's arena), leaves of the node's inputs in a[0], and the
 * segment's output over them.  NULL with tp's error set. */
static tg_tensor *replay_start(tg_tape *tp, tg_tape *s, const tg_node *nd,
                               tg_tensor *bufs[3][CKPT_SMALL], tg_tensor **a[3])
{
    const int n = nd->n_in;
    for (int i = 0; i < 3; i++) a[i] = ptrs(s, bufs[i], n);
    if (!a[0] || !a[1] || !a[2]) {
        char m[512];
        tg_tape_fail(tp, TG_ERR_NOMEM, "checkpoint: %s", inner_error(s, m, sizeof m));
        return NULL;
    }
    if (!wrap_inputs(tp, s, n, nd->in, a[0])) return NULL;
    return run_segment(tp, s, tg_node_saved(nd), n, a[0]);
}

/* The segment of node nd recomputed on scratch tape s over leaves of its
 * inputs, and its vector-Jacobian product with g: gs[k] on s for every
 * input k that needs a gradient, NULL for the others.  False with tp's
 * error set. */
static bool replay_vjp(tg_tape *tp, tg_tape *s, const tg_node *nd, const tg_tensor *g,
                       tg_tensor **gs)
{
    const int n = nd->n_in;
    tg_tensor *bufs[3][CKPT_SMALL], **a[3];
    tg_tensor *y = replay_start(tp, s, nd, bufs, a);
    if (!y) return false;
    tg_tensor **w = a[0], **xs = a[1], **out = a[2];
    int m = 0;
    for (int k = 0; k < n; k++) {
        gs[k] = NULL;
        if (tg_node_needs_grad(nd, k) && is_float(w[k])) xs[m++] = w[k];
    }
    if (!m) return true;
    const tg_status st = tg__vjp(s, "checkpoint", y, g, m, xs, out, false, true);
    if (st != TG_OK) {
        char m[512];
        tg_tape_fail(tp, st, "checkpoint: the segment's gradient: %s", inner_error(s, m, sizeof m));
        return false;
    }
    for (int k = 0, j = 0; k < n; k++)
        if (tg_node_needs_grad(nd, k) && is_float(w[k])) gs[k] = out[j++];
    return true;
}

/* The segment of node nd recomputed on tp itself, recorded, over recorded
 * views of its inputs (in alias): views, not the inputs, so that each
 * input gets its partial derivative only (tg_vjp would follow a path from
 * one input to another), and recorded, so that what is computed from them
 * depends on the inputs for the next derivative. */
static tg_tensor *replay_on_tape(tg_tape *tp, const tg_node *nd, tg_tensor **alias)
{
    const ckpt_saved *sv = tg_node_saved(nd);
    for (int k = 0; k < nd->n_in; k++) {
        tg_tensor *x = nd->in[k];
        alias[k] = is_float(x) ? tg_reshape(tp, x, x->ndim, x->shape) : x;
        if (!alias[k]) return NULL;
    }
    const tg_rng keep = *tg_tape_rng(tp);
    *tg_tape_rng(tp) = sv->rng;
    tg_tensor *y = run_segment(tp, tp, sv, nd->n_in, alias);
    *tg_tape_rng(tp) = keep;
    return y;
}

/* ---- the node's rules --------------------------------------------------- */

/* create_graph: gin = J^T gout recorded on tp.  The product is taken as the
 * gradient of sum(y * gout) (recorded, gout a factor) rather than with gout
 * as tg_vjp's seed, which the sweep copies as a constant: the next
 * derivative must see how gout depends on the inputs too. */
static tg_status backward_recorded(tg_tape *tp, const tg_node *nd, tg_tensor *gout, tg_tensor **gin)
{
    const int n = nd->n_in;
    tg_tensor *ab[CKPT_SMALL], *xb[CKPT_SMALL], *ob[CKPT_SMALL];
    tg_tensor **alias = ptrs(tp, ab, n), **xs = ptrs(tp, xb, n), **out = ptrs(tp, ob, n);
    if (!alias || !xs || !out) return tg_tape_status(tp);
    tg_tensor *y = replay_on_tape(tp, nd, alias);
    if (!y) return tg_tape_status(tp);
    tg_tensor *z = tg_sum_all(tp, tg_mul(tp, y, gout));
    if (!z) return tg_tape_status(tp);
    int m = 0;
    for (int k = 0; k < n; k++)
        if (tg_node_needs_grad(nd, k) && is_float(alias[k])) xs[m++] = alias[k];
    if (!m) return TG_OK;
    const tg_status st = tg__vjp(tp, "checkpoint", z, NULL, m, xs, out, true, true);
    if (st != TG_OK) return st;
    for (int k = 0, j = 0; k < n; k++)
        if (tg_node_needs_grad(nd, k) && is_float(alias[k])) gin[k] = out[j++];
    return TG_OK;
}

/* The op-built rule: recorded with create_graph, else (explain mode) the
 * scratch recomputation, its gradients copied onto tp. */
static tg_status checkpoint_backward(tg_tape *tp, const tg_node *nd, tg_tensor *gout,
                                     tg_tensor **gin)
{
    if (tg__tape_recording(tp)) return backward_recorded(tp, nd, gout, gin);
    const ckpt_saved *sv = tg_node_saved(nd);
    tg_tape *s = scratch_new(tp, &sv->rng);
    if (!s) return tg_tape_status(tp);
    tg_tensor *gb[CKPT_SMALL];
    tg_tensor **gs = ptrs(s, gb, nd->n_in);
    bool ok = gs && replay_vjp(tp, s, nd, gout, gs);
    for (int k = 0; ok && k < nd->n_in; k++)
        if (gs[k]) ok = (gin[k] = tg__const_copy(tp, gs[k])) != NULL;
    scratch_free(tp, s);
    return ok ? TG_OK : tg_tape_status(tp);
}

/* The direct rule: the scratch recomputation's gradients written into the
 * sweep's buffers. */
static tg_status checkpoint_direct(tg_tape *tp, const tg_node *nd, const tg_tensor *gout,
                                   tg_grad_sink *sink)
{
    const ckpt_saved *sv = tg_node_saved(nd);
    tg_tape *s = scratch_new(tp, &sv->rng);
    if (!s) return tg_tape_status(tp);
    tg_tensor *gb[CKPT_SMALL];
    tg_tensor **gs = ptrs(s, gb, nd->n_in);
    bool ok = gs && replay_vjp(tp, s, nd, gout, gs);
    for (int k = 0; ok && k < nd->n_in; k++) {
        if (!gs[k]) continue;
        bool acc;
        tg_tensor *b = tg_grad_sink_buffer(sink, k, &acc);
        if (!b) {
            ok = tg__tape_ok(tp);
        } else if (acc) {
            tg__add_inplace(b, gs[k]);
        } else {
            memcpy(b->data, gs[k]->data, (size_t)b->numel * tg_dtype_size(b->dtype));
        }
    }
    scratch_free(tp, s);
    return ok ? TG_OK : tg_tape_status(tp);
}

/* Forward mode on tp itself (create_graph): the recorded recomputation and
 * tg_jvp over it from the inputs' views, m of which carry tangents. */
static tg_status jvp_recorded(tg_tape *tp, const tg_node *nd, tg_tensor *const *tin,
                              tg_tensor **tout)
{
    const int n = nd->n_in;
    tg_tensor *ab[CKPT_SMALL], *xb[CKPT_SMALL], *tb[CKPT_SMALL];
    tg_tensor **alias = ptrs(tp, ab, n), **xs = ptrs(tp, xb, n), **ts = ptrs(tp, tb, n);
    if (!alias || !xs || !ts) return tg_tape_status(tp);
    tg_tensor *y = replay_on_tape(tp, nd, alias);
    if (!y) return tg_tape_status(tp);
    int m = 0;
    for (int k = 0; k < n; k++)
        if (tin[k]) {
            xs[m] = alias[k];
            ts[m++] = tin[k];
        }
    return tg_jvp(tp, m, xs, ts, 1, &y, tout, true);
}

/* Forward mode without recording: on a scratch tape, the tangent copied
 * onto tp. */
static bool jvp_scratch(tg_tape *tp, tg_tape *s, const tg_node *nd, tg_tensor *const *tin,
                        tg_tensor **tout)
{
    const int n = nd->n_in;
    tg_tensor *bufs[3][CKPT_SMALL], **a[3];
    tg_tensor *y = replay_start(tp, s, nd, bufs, a);
    if (!y) return false;
    tg_tensor **w = a[0], **xs = a[1], **ts = a[2];
    int m = 0;
    for (int k = 0; k < n; k++) {
        if (!tin[k]) continue;
        xs[m] = w[k];
        if (!(ts[m++] = tg__tape_wrap(s, tin[k], tin[k]->data))) {
            char m[512];
            tg_tape_fail(tp, TG_ERR_NOMEM, "checkpoint: tangent %d: %s", k,
                         inner_error(s, m, sizeof m));
            return false;
        }
    }
    tg_tensor *t = NULL;
    if (tg_jvp(s, m, xs, ts, 1, &y, &t, false) != TG_OK) {
        char m[512];
        tg_tape_fail(tp, tg_tape_status(s), "checkpoint: the segment's tangent: %s",
                     inner_error(s, m, sizeof m));
        return false;
    }
    return (*tout = tg__const_copy(tp, t)) != NULL;
}

static tg_status checkpoint_jvp(tg_tape *tp, const tg_node *nd, tg_tensor *const *tin,
                                tg_tensor **tout)
{
    if (tg__tape_recording(tp)) return jvp_recorded(tp, nd, tin, tout);
    const ckpt_saved *sv = tg_node_saved(nd);
    tg_tape *s = scratch_new(tp, &sv->rng);
    if (!s) return tg_tape_status(tp);
    const bool ok = jvp_scratch(tp, s, nd, tin, tout);
    scratch_free(tp, s);
    return ok ? TG_OK : tg_tape_status(tp);
}

static const tg_op k_checkpoint = {
    .name = "checkpoint",
    .arity = -1,
    .backward = checkpoint_backward,
    .direct = checkpoint_direct,
    .jvp = checkpoint_jvp,
    .formula = "dx_i += (d segment / d x_i)^T g, the segment recomputed",
};

/* ---- the call ------------------------------------------------------------ */

/* The segment run on scratch tape s over leaves of in, its output copied
 * onto tp (not yet recorded); NULL with tp's error set. */
static tg_tensor *forward_on(tg_tape *tp, tg_tape *s, const ckpt_saved *sv, int n,
                             tg_tensor *const *in)
{
    tg_tensor *wb[CKPT_SMALL];
    tg_tensor **w = ptrs(s, wb, n);
    if (!w) {
        char m[512];
        tg_tape_fail(tp, TG_ERR_NOMEM, "checkpoint: %s", inner_error(s, m, sizeof m));
        return NULL;
    }
    if (!wrap_inputs(tp, s, n, in, w)) return NULL;
    tg_tensor *y = run_segment(tp, s, sv, n, w);
    if (!y || !check_captured(tp, s)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, y->dtype, y->ndim, y->shape);
    if (out) memcpy(out->data, y->data, (size_t)y->numel * tg_dtype_size(y->dtype));
    return out;
}

tg_tensor *tg_checkpoint(tg_tape *tp, tg_segment_fn fn, void *ctx, int n, tg_tensor *const *in)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "checkpoint: tape is NULL");
        return NULL;
    }
    if (!tg__tape_ok(tp)) return NULL;
    if (!fn || (n > 0 && !in)) {
        tg_tape_fail(tp, TG_ERR_NULL, "checkpoint: %s is NULL", !fn ? "fn" : "in");
        return NULL;
    }
    if (n < 0) {
        tg_tape_fail(tp, TG_ERR_ARG, "checkpoint: negative input count %d", n);
        return NULL;
    }
    if (!tg_tape_check_inputs(tp, "checkpoint", n, in)) return NULL;
    const ckpt_saved sv = {.fn = fn, .ctx = ctx, .rng = *tg_tape_rng(tp)};
    tg_tape *s = scratch_new(tp, &sv.rng);
    if (!s) return NULL;
    tg_tensor *out = forward_on(tp, s, &sv, n, in);
    /* later draws on tp as if the segment had run on it */
    if (out) *tg_tape_rng(tp) = *tg_tape_rng(s);
    scratch_free(tp, s);
    return out ? tg__tape_record_checked(tp, &k_checkpoint, n, in, out, &sv, sizeof sv, 0, NULL)
               : NULL;
}
