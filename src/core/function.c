/* Custom rules for whole functions (include/tapegrad/function.h): a user
 * function runs with recording off and is recorded as one node whose
 * backward and tangent rules call the user's vjp and jvp.
 *
 * A node has one output, so a function of several outputs records one node
 * whose output packs them all, flattened one after another (hence one
 * dtype), and hands the user views of its parts (a recorded op each):
 * gradients reaching any of them meet in the packed output's adjoint, and
 * the rule runs once with every output's cotangent (zeros for an unused
 * one) as torch.autograd.Function's backward does, instead of once per
 * output. */
#include "internal.h"

#include "checked.h"

/* The node's attributes.  The residuals are its first n_saved aux
 * tensors; a function of several outputs keeps the forward's outputs
 * after them, for their shapes. */
typedef struct fn_attr {
    const tg_function *f;
    void *ctx;
    int n_out, n_saved;
} fn_attr;

/* ---- outputs as parts of the packed value -------------------------------------- */

/* Output j of a function of several outputs: a view of the packed value's
 * elements [off, off + numel), in output j's shape.  An op of its own (not
 * slice + reshape): one node, no copy, and its rules need nothing of the
 * shape ops. */
typedef struct part_attr {
    int64_t off;
    int j;
} part_attr;

/* d packed = g flattened at [off, off + numel), zeros elsewhere */
static tg_status part_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const part_attr *at = tg_node_saved(n);
    const tg_tensor *p = n->in[0];
    const int64_t k = g->numel;
    gin[0] = tg_embed(tp, tg_reshape(tp, g, 1, &k), 1, p->shape, 0, at->off, 1);
    return TG_OK;
}

/* t out = t packed [off, off + numel), in the output's shape */
static tg_status part_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const part_attr *at = tg_node_saved(n);
    const tg_tensor *o = n->out;
    tg_tensor *s = tg_slice(tp, tin[0], 0, at->off, at->off + o->numel, 1);
    *tout = tg_reshape(tp, s, o->ndim, o->shape);
    return TG_OK;
}

static int part_attrs(const tg_node *n, char *buf, size_t size)
{
    const part_attr *at = tg_node_saved(n);
    return snprintf(buf, size, "output %d at %lld", at->j, (long long)at->off);
}

static const tg_op k_part = {.name = "function_output",
                             .arity = 1,
                             .backward = part_backward,
                             .jvp = part_jvp,
                             .formula = "dx[off : off + numel] += g",
                             .attrs = part_attrs};

/* out[j] = the part of packed shaped as like[j], recorded (when recording
 * is on) so that each carries its history. */
static bool unpack(tg_tape *tp, tg_tensor *packed, int n_out, tg_tensor *const *like,
                   tg_tensor **out)
{
    const size_t es = tg_dtype_size(packed->dtype);
    int64_t off = 0;
    for (int j = 0; j < n_out; j++) {
        tg_tensor *v = tg__tape_wrap(tp, like[j], (char *)packed->data + (size_t)off * es);
        const part_attr at = {.off = off, .j = j};
        out[j] = v ? tg_tape_record(tp, &k_part, 1, &packed, v, &at, sizeof at, 0, NULL) : NULL;
        if (!out[j]) return false;
        off += like[j]->numel; /* the parts add up to packed's numel, checked */
    }
    return true;
}

/* ---- the node's rules --------------------------------------------------------- */

/* The callbacks' view of node n (arrays from the tape's scratch memory);
 * false on out of memory (tape error set). */
static bool node_args(tg_tape *tp, const tg_node *n, tg_function_args *a, bool **needs_out)
{
    const fn_attr *at = tg_node_saved(n);
    tg_tensor *const *aux = tg__node_aux(n);
    bool *needs = tg__tape_scratch(tp, (size_t)n->n_in + 1);
    tg_tensor **outs = tg__tape_scratch(tp, (size_t)at->n_out * sizeof *outs);
    if (!needs || !outs) return false;
    *needs_out = needs;
    *a = (tg_function_args){.ctx = at->ctx,
                            .n_in = n->n_in,
                            .in = n->in,
                            .n_out = at->n_out,
                            .out = outs,
                            .n_saved = at->n_saved,
                            .saved = aux,
                            .needs = needs};
    if (at->n_out == 1)
        outs[0] = n->out;
    else if (!unpack(tp, n->out, at->n_out, aux + at->n_saved, outs))
        return false;
    return true;
}

/* A callback failed: its error (or one saying it gave none), prefixed with
 * the function and the rule. */
static tg_status rule_failed(tg_tape *tp, const tg_function *f, const char *rule, tg_status st)
{
    if (tg__tape_ok(tp))
        tg_tape_fail(tp, st == TG_OK ? TG_ERR_STATE : st, "returned %s without a message",
                     tg_strerror(st == TG_OK ? TG_ERR_STATE : st));
    char prefix[160];
    snprintf(prefix, sizeof prefix, "function %s: %s: ", f->name, rule);
    tg__tape_error_prefix(tp, prefix);
    return tg_tape_status(tp);
}

static tg_status fn_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const fn_attr *at = tg_node_saved(n);
    tg_function_args a;
    bool *needs;
    if (!node_args(tp, n, &a, &needs)) return tg_tape_status(tp);
    for (int i = 0; i < n->n_in; i++) {
        needs[i] = tg_node_needs_grad(n, i);
        gin[i] = NULL;
    }
    tg_tensor **gout = &g;
    if (at->n_out > 1) {
        gout = tg__tape_scratch(tp, (size_t)at->n_out * sizeof *gout);
        if (!gout || !unpack(tp, g, at->n_out, tg__node_aux(n) + at->n_saved, gout))
            return tg_tape_status(tp);
    }
    tg_status st = at->f->vjp(tp, &a, gout, gin);
    if (st != TG_OK || !tg__tape_ok(tp)) return rule_failed(tp, at->f, "vjp", st);
    for (int i = 0; i < n->n_in; i++) {
        if (!needs[i]) gin[i] = NULL;
        if (!gin[i] || tg__tensor_live_on(gin[i], tp)) continue;
        tg_tape_fail(tp, TG_ERR_TAPE,
                     "function %s: vjp gave input %d a gradient that is not a live tensor of "
                     "this tape",
                     at->f->name, i);
        return TG_ERR_TAPE;
    }
    return TG_OK; /* the sweep checks each gradient's shape, naming the function */
}

/* Is the tangent rule's tout[j] of output j's shape and dtype?  Else an
 * error naming the function (tape error set). */
static bool tout_fits(tg_tape *tp, const tg_function *f, int j, const tg_tensor *t,
                      const tg_tensor *o)
{
    if (!tg__tensor_live_on(t, tp)) {
        tg_tape_fail(tp, TG_ERR_TAPE,
                     "function %s: jvp gave output %d a tangent that is not a live tensor of "
                     "this tape",
                     f->name, j);
        return false;
    }
    if (tg_tensor_same_shape(t, o) && t->dtype == o->dtype) return true;
    char b1[TG_SHAPE_BUF + 8], b2[TG_SHAPE_BUF + 8];
    tg_tape_fail(tp, TG_ERR_SHAPE, "function %s: jvp gave a %s tangent for its %s output %d",
                 f->name, tg_tensor_describe(t, b1, sizeof b1),
                 tg_tensor_describe(o, b2, sizeof b2), j);
    return false;
}

/* The packed tangent: each output's tangent flattened (zeros for NULL),
 * one after another, as the outputs are packed. */
static tg_tensor *pack_tangents(tg_tape *tp, int n_out, tg_tensor *const *outs, tg_tensor **tout)
{
    for (int j = 0; j < n_out; j++) {
        const int64_t n = tg_tensor_numel(outs[j]);
        tout[j] = tout[j] ? tg_reshape(tp, tout[j], 1, &n)
                          : tg__const_full(tp, outs[j]->dtype, 1, &n, 0.0);
        if (!tout[j]) return NULL;
    }
    return tg_concat(tp, n_out, tout, 0);
}

static tg_status fn_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const fn_attr *at = tg_node_saved(n);
    tg_function_args a;
    bool *needs;
    if (!node_args(tp, n, &a, &needs)) return tg_tape_status(tp);
    for (int i = 0; i < n->n_in; i++) needs[i] = tin[i] != NULL;
    tg_tensor **t = tg__tape_scratch(tp, (size_t)at->n_out * sizeof *t);
    if (!t) return tg_tape_status(tp);
    bool any = false;
    for (int j = 0; j < at->n_out; j++) t[j] = NULL;
    tg_status st = at->f->jvp(tp, &a, tin, t);
    if (st != TG_OK || !tg__tape_ok(tp)) return rule_failed(tp, at->f, "jvp", st);
    for (int j = 0; j < at->n_out; j++) {
        if (t[j] && !tout_fits(tp, at->f, j, t[j], a.out[j])) return tg_tape_status(tp);
        any |= t[j] != NULL;
    }
    *tout = !any ? NULL : at->n_out == 1 ? t[0] : pack_tangents(tp, at->n_out, a.out, t);
    return any && !*tout ? tg_tape_status(tp) : TG_OK;
}

/* ---- the call ----------------------------------------------------------------- */

/* The checks of tg_function_call's arguments; false with the tape error
 * set. */
static bool call_args(tg_tape *tp, const tg_function *f, int n_in, tg_tensor *const *in, int n_out,
                      tg_tensor **out)
{
    const char *name = f && f->name ? f->name : "";
    const char *null = !f                ? "f"
                       : !f->name        ? "f->name"
                       : !f->forward     ? "f->forward"
                       : !f->vjp         ? "f->vjp"
                       : !out            ? "out"
                       : n_in > 0 && !in ? "in"
                                         : NULL;
    if (null) {
        tg_tape_fail(tp, TG_ERR_NULL, "function_call%s%s: %s is NULL", *name ? " " : "", name,
                     null);
        return false;
    }
    if (n_in < 0 || n_out < 1 || f->n_saved < 0) {
        tg_tape_fail(tp, TG_ERR_ARG,
                     "function_call %s: n_in %d, n_out %d, n_saved %d (n_in >= 0, n_out >= 1 "
                     "and n_saved >= 0)",
                     name, n_in, n_out, f->n_saved);
        return false;
    }
    return tg_tape_check_inputs(tp, name, n_in, in);
}

/* Output j as forward gave it, made fit to be the node's output: a tensor
 * forward made (id >= first, recorded nowhere) is taken as it is; an input
 * or any other live tensor is copied, since a recorded value cannot become
 * a node's output.  NULL on failure (tape error set). */
static tg_tensor *own_output(tg_tape *tp, const tg_function *f, int j, tg_tensor *t, int32_t first,
                             tg_tensor *const *prev)
{
    if (!t || !tg__tensor_live_on(t, tp) || t->dtype == TG_I64) {
        tg_tape_fail(tp, !t ? TG_ERR_NULL : TG_ERR_TAPE, "function %s: forward gave output %d %s",
                     f->name, j,
                     !t                   ? "NULL"
                     : t->dtype == TG_I64 ? "as an integer tensor (outputs are f32 or f64)"
                                          : "as a tensor that is not a live tensor of this tape");
        return NULL;
    }
    bool fresh = t->magic == TG_MAGIC_TAPE && t->id >= first && t->node < 0;
    for (int k = 0; k < j && fresh; k++) fresh = prev[k] != t;
    return fresh ? t : tg__const_copy(tp, t);
}

/* Run forward with recording off; outs[j] and saved[k] as it left them,
 * each output fit to be recorded.  False on failure (tape error set). */
static bool run_forward(tg_tape *tp, const tg_function *f, const tg_function_args *a,
                        tg_tensor **outs, tg_tensor **saved)
{
    const int32_t first = tg__tape_num_values(tp);
    const bool was = tg__tape_recording(tp);
    tg__tape_set_recording(tp, false);
    const tg_status st = f->forward(tp, a, outs, saved);
    tg__tape_set_recording(tp, was);
    if (st != TG_OK || !tg__tape_ok(tp)) {
        rule_failed(tp, f, "forward", st);
        return false;
    }
    for (int k = 0; k < f->n_saved; k++) {
        if (!saved[k] || tg__tensor_live_on(saved[k], tp)) continue;
        tg_tape_fail(tp, TG_ERR_TAPE,
                     "function %s: forward saved residual %d, which is not a live tensor of this "
                     "tape",
                     f->name, k);
        return false;
    }
    for (int j = 0; j < a->n_out; j++) {
        outs[j] = own_output(tp, f, j, outs[j], first, outs);
        if (!outs[j]) return false;
        if (outs[j]->dtype == outs[0]->dtype) continue;
        char b1[TG_SHAPE_BUF + 8], b2[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, TG_ERR_DTYPE,
                     "function %s: forward gave output 0 %s and output %d %s; a function's outputs "
                     "share one dtype",
                     f->name, tg_tensor_describe(outs[0], b1, sizeof b1), j,
                     tg_tensor_describe(outs[j], b2, sizeof b2));
        return false;
    }
    return true;
}

/* The outputs of a function of several outputs packed one after another
 * into one 1-d tape tensor; NULL on failure (tape error set). */
static tg_tensor *pack_outputs(tg_tape *tp, const tg_function *f, int n_out, tg_tensor *const *outs)
{
    int64_t total = 0;
    for (int j = 0; j < n_out; j++) {
        if (tg__add_i64(total, outs[j]->numel, &total)) continue;
        tg_tape_fail(tp, TG_ERR_SHAPE, "function %s: the outputs have too many elements together",
                     f->name);
        return NULL;
    }
    tg_tensor *p = tg_tape_alloc(tp, outs[0]->dtype, 1, &total);
    if (!p) return NULL;
    const size_t es = tg_dtype_size(p->dtype);
    char *d = p->data;
    for (int j = 0; j < n_out; j++) {
        const size_t bytes = (size_t)outs[j]->numel * es; /* within total: fits */
        if (bytes) memcpy(d, outs[j]->data, bytes);
        d += bytes;
    }
    return p;
}

/* The node's descriptor: the function's name and rules (in the tape's
 * memory, which lives as long as the node). */
static tg_op *node_op(tg_tape *tp, const tg_function *f, int n_in)
{
    tg_op *op = tg__tape_scratch(tp, sizeof *op);
    if (op)
        *op = (tg_op){
            .name = f->name, .arity = n_in, .backward = fn_backward, .jvp = f->jvp ? fn_jvp : NULL};
    return op;
}

tg_status tg_function_call(tg_tape *tp, const tg_function *f, void *ctx, int n_in,
                           tg_tensor *const *in, int n_out, tg_tensor **out)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "function_call: tape is NULL");
        return TG_ERR_NULL;
    }
    if (!tg__tape_ok(tp)) return tg_tape_status(tp);
    if (!call_args(tp, f, n_in, in, n_out, out)) return tg_tape_status(tp);
    for (int j = 0; j < n_out; j++) out[j] = NULL;
    /* saved first, then (several outputs) the forward's outputs: the aux */
    const int n_aux = f->n_saved + (n_out > 1 ? n_out : 0);
    tg_tensor **aux = tg__tape_scratch(tp, ((size_t)n_aux + (size_t)n_out) * sizeof *aux);
    tg_op *op = node_op(tp, f, n_in);
    if (!aux || !op) return tg_tape_status(tp);
    tg_tensor **outs = n_out > 1 ? aux + f->n_saved : aux + n_aux;
    for (int k = 0; k < n_aux + n_out; k++) aux[k] = NULL;
    const tg_function_args a = {.ctx = ctx, .n_in = n_in, .in = in, .n_out = n_out};
    if (!run_forward(tp, f, &a, outs, aux)) return tg_tape_status(tp);
    const fn_attr at = {.f = f, .ctx = ctx, .n_out = n_out, .n_saved = f->n_saved};
    tg_tensor *node_out = n_out == 1 ? outs[0] : pack_outputs(tp, f, n_out, outs);
    if (!node_out ||
        !tg_tape_record(tp, op, n_in, in, node_out, &at, sizeof at, n_aux, n_aux ? aux : NULL))
        return tg_tape_status(tp);
    if (n_out == 1) {
        out[0] = node_out;
        return TG_OK;
    }
    tg_tensor **views = tg__tape_scratch(tp, (size_t)n_out * sizeof *views);
    if (!views || !unpack(tp, node_out, n_out, outs, views)) return tg_tape_status(tp);
    for (int j = 0; j < n_out; j++) out[j] = views[j];
    return TG_OK;
}
