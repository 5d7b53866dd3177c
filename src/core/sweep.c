/* The reverse sweep.  It walks the nodes in reverse, calls each node's
 * rule (scalar, direct or op-built), and accumulates the input gradients.
 * It knows nothing about any particular op: backward rules are built from
 * ops, so with create_graph they are recorded like any other computation.
 * The entry points that set a sweep up are in backward.c. */
#include "sweep.h"

static bool adj_owned(const sweep *s, int32_t id)
{
    return s->d.state[id] == ADJ_INLINE || s->d.state[id] == ADJ_OWNED;
}

/* Has value id an adjoint yet (in either representation)? */
static bool has_adjoint(const sweep *s, int32_t id)
{
    return s->direct ? s->d.state[id] != ADJ_NONE : s->t.grads[id] != NULL;
}

static tg_tensor *seed_tensor(tg_tape *tp, const char *what, tg_tensor *y, const tg_tensor *seed)
{
    char a[TG_SHAPE_BUF + 8], b[TG_SHAPE_BUF + 8];
    if (!seed) {
        if (y->numel != 1) {
            tg_tape_fail(tp, TG_ERR_NOT_SCALAR,
                         "%s: output %s is not a scalar; pass a seed gradient of its shape "
                         "(tg_backward_ex or tg_vjp)",
                         what, tg_tensor_describe(y, a, sizeof a));
            return NULL;
        }
        return tg__const_full(tp, y->dtype, y->ndim, y->shape, 1.0);
    }
    if (!tg_tensor_same_shape(seed, y) || seed->dtype != y->dtype) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: seed %s does not match output %s", what,
                     tg_tensor_describe(seed, a, sizeof a), tg_tensor_describe(y, b, sizeof b));
        return NULL;
    }
    return tg__const_copy(tp, seed);
}

/* t += t (tg__add_inplace's operands must not alias) */
static void double_inplace(tg_tensor *t)
{
    TG_DISPATCH(t->dtype, T, {
        T *y = t->data;
        for (int64_t i = 0; i < t->numel; i++) y[i] += y[i];
    });
}

/* May the sweep add into gin[k] in place when it adopts it?  Only if this
 * backward call made it (value id from mark on: not g, a forward tensor or
 * another slot's adjoint), it has its own data (not a reshape view of g), and
 * no other input slot of the node got the same tensor.  In plain backward
 * nothing else holds it: no node records it. */
static bool fresh_unshared(const tg_tensor *t, int32_t mark, const tg_node *nd,
                           tg_tensor *const *gin, int k)
{
    if (t->magic != TG_MAGIC_TAPE || t->id < mark || t->view) return false;
    for (int j = 0; j < nd->n_in; j++)
        if (j != k && gin[j] == t && tg__node_in_id(nd, j) != tg__node_in_id(nd, k)) return false;
    return true;
}

/* ---- the sink of a direct rule -------------------------------------------- */
struct tg_grad_sink {
    tg_tape *tp;
    sweep *s;
    const tg_node *nd;
    const char *what;
    tg_tensor *hdr; /* per input slot: the header handed out with its buffer */
};

/* A header for data of x's shape and dtype, valid while the rule runs. */
static tg_tensor *header_of(tg_tensor *h, const tg_tensor *x, void *data)
{
    /* field by field, not *h = *x: a user tensor's id is a hint other
     * threads' tapes may be writing (core/tape.c), read only atomically */
    h->magic = x->magic;
    h->dtype = x->dtype;
    h->id = x->magic == TG_MAGIC_TAPE ? x->id : -1;
    h->ndim = x->ndim;
    h->requires_grad = x->requires_grad;
    h->retain = false;
    h->view = true;
    h->shape = x->shape; /* borrowed: valid while x is, which outlives h */
    h->numel = x->numel;
    h->data = data;
    h->tape = x->tape;
    /* a user tensor's spare is not an epoch (and the header owns no spare) */
    h->epoch = x->magic == TG_MAGIC_TAPE ? x->epoch : 0;
    /* nor is its version a node (and its holds are other tapes' to change) */
    if (x->magic == TG_MAGIC_TAPE) {
        h->node = x->node;
    } else {
        h->version = 0;
        h->holds = 0;
    }
    h->grad = NULL;
    return h;
}

/* Make the adjoint of value id (shape of x) this sweep's own buffer, copying
 * an adopted one first; false on out of memory (tape error set).  The buffer
 * is the slot itself for one element, a parameter's spare when the sweep
 * uses them (made before the sweep: tg_backward_ex), else arena scratch. */
static bool own_adjoint(tg_tape *tp, sweep *s, int32_t id, const tg_tensor *x)
{
    if (adj_owned(s, id)) return true;
    const size_t bytes = (size_t)x->numel * tg_dtype_size(x->dtype);
    const void *src = adj_data(s, id); /* adopted, or NULL */
    if (x->numel == 1) {
        if (src) memcpy(&s->d.slot[id], src, bytes); /* src is never this slot */
        s->d.state[id] = ADJ_INLINE;
        return true;
    }
    void *b = NULL;
    if (s->spares && x->magic == TG_MAGIC_USER)
        b = x->spare; /* a parameter (dep: requires grad), spare made */
    if (!b) b = tg__tape_scratch(tp, bytes + 1);
    if (!b) return false;
    if (src) memcpy(b, src, bytes);
    s->d.slot[id].p = b;
    s->d.state[id] = ADJ_OWNED;
    return true;
}

/* The buffer is this sweep's own (owned), so a direct rule may write it in
 * place: a fresh one (accumulate false) or an owned sum of earlier
 * contributions.  An adopted adjoint (g, a tensor a rule handed over) is
 * copied once first. */
tg_tensor *tg_grad_sink_buffer(tg_grad_sink *k, int i, bool *accumulate)
{
    if (!k || !accumulate) {
        if (k)
            tg_tape_fail(k->tp, TG_ERR_NULL, "grad_sink_buffer: accumulate is NULL");
        else
            tg__set_last(TG_ERR_NULL, "grad_sink_buffer: sink is NULL");
        return NULL;
    }
    if (i < 0 || i >= k->nd->n_in) return NULL;
    sweep *s = k->s;
    const int32_t id = tg__node_in_id(k->nd, i);
    if (!s->dep[id]) return NULL;
    const tg_tensor *x = k->nd->in[i];
    *accumulate = s->d.state[id] != ADJ_NONE;
    if (!own_adjoint(k->tp, s, id, x)) return NULL;
    return header_of(&k->hdr[i], x, adj_data(s, id));
}

static void add_data(tg_dtype dt, int64_t n, void *dst, const void *src)
{
    TG_DISPATCH(dt, T, {
        T *y = dst;
        const T *x = src;
        if (y == x)
            for (int64_t i = 0; i < n; i++) y[i] += y[i];
        else
            for (int64_t i = 0; i < n; i++) y[i] += x[i];
    });
}

tg_status tg_grad_sink_add(tg_grad_sink *k, int i, const tg_tensor *g)
{
    if (!k) {
        tg__set_last(TG_ERR_NULL, "grad_sink_add: sink is NULL");
        return TG_ERR_NULL;
    }
    if (!g && i >= 0 && i < k->nd->n_in) {
        tg_tape_fail(k->tp, TG_ERR_NULL, "grad_sink_add: gradient of input %d is NULL", i);
        return tg_tape_status(k->tp);
    }
    if (!k || !g || i < 0 || i >= k->nd->n_in) {
        if (k) tg_tape_fail(k->tp, TG_ERR_ARG, "grad_sink_add: bad input %d or NULL gradient", i);
        return k ? tg_tape_status(k->tp) : TG_ERR_NULL;
    }
    sweep *s = k->s;
    const int32_t id = tg__node_in_id(k->nd, i);
    if (!s->dep[id]) return TG_OK;
    const tg_tensor *x = k->nd->in[i];
    if (!tg_tensor_same_shape(g, x) || g->dtype != x->dtype) {
        char a[TG_SHAPE_BUF + 8], b[TG_SHAPE_BUF + 8];
        tg_tape_fail(k->tp, TG_ERR_SHAPE,
                     "%s: direct rule of %s gave a %s gradient for its %s input %d", k->what,
                     k->nd->op->name, tg_tensor_describe(g, a, sizeof a),
                     tg_tensor_describe(x, b, sizeof b), i);
        return tg_tape_status(k->tp);
    }
    if (s->d.state[id] == ADJ_NONE) {
        s->d.slot[id].p = g->data; /* adopted: not owned, copied before any sum */
        s->d.state[id] = ADJ_ADOPTED;
        return TG_OK;
    }
    if (!own_adjoint(k->tp, s, id, x)) return tg_tape_status(k->tp);
    add_data(x->dtype, x->numel, adj_data(s, id), g->data);
    return TG_OK;
}

/* The scalar path of a direct sweep: node np's inputs and output hold one
 * element each and its op has a scalar rule, which works on the values
 * recorded beside the node.  Each input's contribution is stored into (or
 * added to) its adjoint, in its slot unless it was adopted, in the input's
 * dtype, as a direct rule would write it; false on out of memory. */
static bool scalar_step(tg_tape *tp, sweep *s, const tg_node *np)
{
    const bool out32 = np->f32_mask >> 8 & 1;
    const void *gp = adj_data(s, np->out_id);
    const double *vals = tg__node_values(np);
    const tg_scalar_args a = {.dtype = out32 ? TG_F32 : TG_F64,
                              .gout = out32 ? *(const float *)gp : *(const double *)gp,
                              .y = vals[np->n_in],
                              .x = vals};
    double gin[TG_SCALAR_MAX_INPUTS];
    np->op->scalar(np, &a, gin);
    for (int k = 0; k < np->n_in; k++) {
        const int32_t id = tg__node_in_id(np, k);
        if (!s->dep[id]) continue;
        const uint8_t st = s->d.state[id];
        const bool first = st == ADJ_NONE;
        if (first) {
            s->d.state[id] = ADJ_INLINE;
        } else if (st == ADJ_ADOPTED && !own_adjoint(tp, s, id, np->in[k])) {
            return false; /* (tested here first: no call in the usual case) */
        }
        if (np->f32_mask >> k & 1) {
            float *d = first ? &s->d.slot[id].f32 : adj_data(s, id);
            *d = first ? (float)gin[k] : *d + (float)gin[k];
        } else {
            double *d = first ? &s->d.slot[id].f64 : adj_data(s, id);
            *d = first ? gin[k] : *d + gin[k];
        }
    }
    return true;
}

/* Anomaly mode after a rule of a direct sweep: every adjoint it may have
 * written. */
static bool anomaly_inputs(tg_tape *tp, const sweep *s, const tg_node *nd)
{
    for (int k = 0; k < nd->n_in; k++) {
        const int32_t id = tg__node_in_id(nd, k);
        if (!s->dep[id] || s->d.state[id] == ADJ_NONE) continue;
        tg_tensor h;
        char what[64];
        snprintf(what, sizeof what, "the direct rule (gradient of input %d)", k);
        if (!tg__anomaly_check_with(tp, what, nd->n_in, nd->in,
                                    header_of(&h, nd->in[k], adj_data(s, id))))
            return false;
    }
    return true;
}

/* ---- the reverse sweep, step by step --------------------------------------- */

/* Step 1, dependency marking: which values depend on a target (marked in
 * s->dep)?  Only those need an adjoint, so the reverse sweep skips every
 * other node.  A forward pass over the nodes up to last (y's), unless the
 * caller knows dep[] already.  False (tape error set) when the sweep must
 * reach y and y depends on no target. */
static bool mark_dependents(tg_tape *tp, const char *what, sweep *s, const tg_tensor *y,
                            int32_t yid, int64_t last)
{
    for (int64_t i = 0; !s->dep_ready && i <= last; i++) {
        const tg_node *n = tg__tape_node(tp, i);
        if (n->out_id >= s->nv) continue;
        bool d = s->dep[n->out_id];
        for (int k = 0; k < n->n_in && !d; k++) d = s->dep[tg__node_in_id(n, k)];
        s->dep[n->out_id] = d;
    }
    if (s->need_dep && !s->dep[yid]) {
        char a[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, TG_ERR_ARG,
                     "%s: the output %s depends on no tensor that requires grad (call "
                     "tg_tensor_set_requires_grad on the parameters)",
                     what, tg_tensor_describe(y, a, sizeof a));
        return false;
    }
    return true;
}

/* Step 2, allocation: the adjoint arrays of the sweep's representation,
 * none but y's (the seed, adopted) set; false on out of memory (tape error
 * set). */
static bool alloc_adjoints(tg_tape *tp, sweep *s, int32_t yid, tg_tensor *seed)
{
    const size_t nv = (size_t)s->nv;
    if (s->direct) {
        s->d.state = tg__tape_scratch(tp, nv * sizeof *s->d.state + 1);
        s->d.slot = tg__tape_scratch(tp, nv * sizeof *s->d.slot + 1);
        if (!s->d.state || !s->d.slot) return false;
        memset(s->d.state, ADJ_NONE, nv * sizeof *s->d.state);
        s->d.slot[yid].p = seed->data;
        s->d.state[yid] = ADJ_ADOPTED;
    } else {
        s->t.grads = tg__tape_scratch(tp, nv * sizeof *s->t.grads + 1);
        s->t.owned = tg__tape_scratch(tp, nv * sizeof *s->t.owned + 1);
        if (!s->t.grads || !s->t.owned) return false;
        memset(s->t.grads, 0, nv * sizeof *s->t.grads);
        memset(s->t.owned, 0, nv * sizeof *s->t.owned);
        s->t.grads[yid] = seed;
    }
    return true;
}

/* The tape state a sweep changes while it runs, restored when it ends: a
 * sweep inside a backward rule nests. */
typedef struct tape_state {
    bool recording;
    const bool *dep;
    int32_t n_dep;
    int64_t backward_node;
} tape_state;

/* Rules record only with create_graph, and ops see which values need a
 * gradient (tg_node_needs_grad) through the tape's dep. */
static tape_state sweep_enter(tg_tape *tp, const sweep *s)
{
    tape_state was;
    was.recording = tg__tape_recording(tp);
    was.dep = tg__tape_dep(tp);
    was.n_dep = tg__tape_dep_count(tp);
    was.backward_node = tg__tape_set_backward_node(tp, -1);
    tg__tape_set_recording(tp, s->create_graph);
    tg__tape_set_dep(tp, s->dep, s->nv);
    return was;
}

static void sweep_leave(tg_tape *tp, const tape_state *was)
{
    tg__tape_set_backward_node(tp, was->backward_node);
    tg__tape_set_recording(tp, was->recording);
    tg__tape_set_dep(tp, was->dep, was->n_dep);
}

/* The nodes and their links are read backwards, a line or two each per step
 * on a scalar tape, faster than the hardware fetches them: ask for them
 * ahead of node i (the node 32 steps on, then the links it names, 16 steps
 * on; a scalar node's values begin 16 or 24 bytes before its input
 * pointers). */
static inline void prefetch_nodes_ahead(const tg_node *np, int64_t i)
{
    if (i >= 32) TG_PREFETCH(np - 32, 0, 0);
    if (i >= 16 && np[-16].n_in) TG_PREFETCH(np[-16].in, -24, 0);
}

/* Does any input of np need a gradient? */
static bool any_input_dep(const sweep *s, const tg_node *np)
{
    bool any = false;
    for (int k = 0; k < np->n_in; k++) any = any || s->dep[tg__node_in_id(np, k)];
    return any;
}

/* Adds contribution gin[k] of node nd (made by its op-built rule; value ids
 * from mark on were made by that call) into the adjoint of the node's input
 * k, by the sweep's policy:
 *  - direct: no graph is built, so the sum need not be an op.  The first
 *    contribution is adopted and copied once before anything is added into
 *    it (unless the rule just made it for this slot alone);
 *  - create_graph: the sum is recorded, tg_add;
 *  - explain without create_graph: the direct policy's in-place sum, on
 *    tensors.
 * Contributions to a value all arrive before its own node is processed
 * (reverse topological order), so an owned buffer is never modified after it
 * has been handed on.  False on failure (tape error set). */
static bool accumulate(tg_tape *tp, sweep *s, const tg_node *nd, tg_tensor *const *gin, int k,
                       int32_t mark)
{
    const int32_t id = tg__node_in_id(nd, k);
    tg_tensor *c = gin[k];
    if (s->direct) {
        if (s->d.state[id] == ADJ_NONE) {
            s->d.slot[id].p = c->data;
            s->d.state[id] = fresh_unshared(c, mark, nd, gin, k) ? ADJ_OWNED : ADJ_ADOPTED;
            return true;
        }
        if (!own_adjoint(tp, s, id, nd->in[k])) return false;
        add_data(c->dtype, c->numel, adj_data(s, id), c->data);
        tg_tensor h;
        return !tg__tape_anomaly(tp) ||
               tg__anomaly_check(tp, "add", header_of(&h, nd->in[k], adj_data(s, id)));
    }
    tg_tensor **acc = &s->t.grads[id];
    if (!*acc) {
        *acc = c; /* first contribution: adopted, no copy */
        s->t.owned[id] = !s->create_graph && fresh_unshared(c, mark, nd, gin, k);
        return true;
    }
    if (s->create_graph) {
        tg_tensor *sum = tg_add(tp, *acc, c);
        if (!sum) return false;
        *acc = sum;
        return true;
    }
    if (s->t.owned[id] && *acc == c) {
        double_inplace(c); /* x * x gave g x to both slots */
    } else {
        if (!s->t.owned[id]) {
            tg_tensor *copy = tg__const_copy(tp, *acc);
            if (!copy) return false;
            *acc = copy;
            s->t.owned[id] = true;
        }
        tg__add_inplace(*acc, c);
    }
    return !tg__tape_anomaly(tp) || tg__anomaly_check(tp, "add", *acc);
}

/* accumulate, narrated by explain mode: the contribution, then the running
 * total (none after the first). */
static bool accumulate_explained(tg_tape *tp, sweep *s, const tg_node *nd, const tg_tensor *g,
                                 tg_tensor *const *gin, int k, int32_t mark)
{
    char contrib[512];
    const int32_t id = tg__node_in_id(nd, k);
    const bool first = !s->t.grads[id];
    tg__explain_summary(tp, gin[k], contrib, sizeof contrib);
    if (!accumulate(tp, s, nd, gin, k, mark)) return false;
    tg__explain_contrib(tp, nd, g, k, contrib, first ? NULL : s->t.grads[id]);
    return true;
}

/* Step 3, the scalar step: scalar_step above, with anomaly mode's check. */
static bool scalar_node(tg_tape *tp, sweep *s, const tg_node *np)
{
    if (!scalar_step(tp, s, np)) return false;
    return !tg__tape_anomaly(tp) || anomaly_inputs(tp, s, np);
}

/* Step 4, the direct step: node i's direct rule writes into the adjoint
 * buffers through a sink.  Nothing is recorded here, so np stays valid; g
 * and the input buffers get headers on the stack (or scratch for many
 * inputs).  False on failure (tape error set). */
static bool direct_node(tg_tape *tp, const char *what, sweep *s, const tg_node *np, int64_t i)
{
    tg_tensor gh, hdr_small[4];
    tg_tensor *hdr = hdr_small;
    if (np->n_in > TG_ARRAY_LEN(hdr_small)) {
        hdr = tg__tape_scratch(tp, (size_t)np->n_in * sizeof *hdr);
        if (!hdr) return false;
    }
    tg_grad_sink sink = {tp, s, np, what, hdr};
    tg_status st = np->op->direct(tp, np, header_of(&gh, np->out, adj_data(s, np->out_id)), &sink);
    if (st != TG_OK || !tg__tape_ok(tp)) {
        tg_tape_fail(tp, st == TG_OK ? TG_ERR_STATE : st,
                     "%s: direct backward of %s (node %lld) failed", what, np->op->name,
                     (long long)i);
        return false;
    }
    return !tg__tape_anomaly(tp) || anomaly_inputs(tp, s, np);
}

/* Does the op-built rule's gradient gin[k] fit input k of nd?  A wrong
 * custom rule is an error naming the op (tape error set), not memory
 * corruption. */
static bool gin_fits(tg_tape *tp, const char *what, const tg_node *nd, tg_tensor *const *gin, int k)
{
    if (tg_tensor_same_shape(gin[k], nd->in[k]) && gin[k]->dtype == nd->in[k]->dtype) return true;
    char a[TG_SHAPE_BUF + 8], b[TG_SHAPE_BUF + 8];
    tg_tape_fail(tp, TG_ERR_SHAPE, "%s: backward of %s gave a %s gradient for its %s input %d",
                 what, nd->op->name, tg_tensor_describe(gin[k], a, sizeof a),
                 tg_tensor_describe(nd->in[k], b, sizeof b), k);
    return false;
}

/* Step 5, the op-built step: node i's backward rule, built from ops
 * (recorded with create_graph), returns each input's gradient as a tensor,
 * accumulated into the input's adjoint.  False on failure (tape error set). */
static bool rule_node(tg_tape *tp, const char *what, sweep *s, const tg_node *np, int64_t i)
{
    /* Copy the node: backward rules may record new nodes (create_graph),
     * which can move the node array. */
    tg_node nd = *np;
    /* an op without a direct rule in a direct sweep: its rule needs g as a
     * tape tensor (a view of the adjoint's data) */
    tg_tensor *g =
        s->direct ? tg__tape_wrap(tp, nd.out, adj_data(s, nd.out_id)) : s->t.grads[nd.out_id];
    if (!g) return false;
    tg_tensor *gin_small[8];
    tg_tensor **gin = gin_small;
    if (nd.n_in > TG_ARRAY_LEN(gin_small)) {
        gin = tg__tape_scratch(tp, (size_t)nd.n_in * sizeof *gin);
        if (!gin) return false;
    }
    for (int k = 0; k < nd.n_in; k++) gin[k] = NULL;
    const int32_t mark = tg__tape_num_values(tp);
    tg__explain_node(tp, i, &nd, g);
    tg_status st = nd.op->backward(tp, &nd, g, gin);
    if (st != TG_OK || !tg__tape_ok(tp)) {
        tg_tape_fail(tp, st == TG_OK ? TG_ERR_STATE : st, "%s: backward of %s (node %lld) failed",
                     what, nd.op->name, (long long)i);
        return false;
    }
    for (int k = 0; k < nd.n_in; k++) {
        if (!gin[k] || !s->dep[tg__node_in_id(&nd, k)]) continue;
        if (!gin_fits(tp, what, &nd, gin, k)) return false;
        if (!(s->explain ? accumulate_explained(tp, s, &nd, g, gin, k, mark)
                         : accumulate(tp, s, &nd, gin, k, mark)))
            return false;
    }
    return true;
}

/* Step 6, a node whose output has no elements: whatever its op, each
 * input's gradient is a sum over no terms, zero.  So no rule runs: the
 * rules of an empty output whose other extents are huge ((2^40, 1, 0))
 * would walk 2^40 empty items.  An input without an adjoint gets zeros, as
 * the rule would have given it (it is then reached, so tg_grad and .grad
 * see a gradient, not "does not depend"); one with an adjoint keeps it.
 * A zero constant is also right with create_graph: it depends on nothing.
 * False on out of memory (tape error set). */
static bool empty_node(tg_tape *tp, sweep *s, const tg_node *np)
{
    for (int k = 0; k < np->n_in; k++) {
        const int32_t id = tg__node_in_id(np, k);
        const tg_tensor *x = np->in[k];
        if (!s->dep[id] || has_adjoint(s, id)) continue;
        if (s->direct) {
            if (!own_adjoint(tp, s, id, x)) return false;
            memset(adj_data(s, id), 0, (size_t)x->numel * tg_dtype_size(x->dtype));
            continue;
        }
        tg_tensor *z = tg__const_full(tp, x->dtype, x->ndim, x->shape, 0.0);
        if (!z) return false;
        s->t.grads[id] = z;
        s->t.owned[id] = !s->create_graph; /* made here, shared with nothing */
    }
    return true;
}

/* The reverse sweep proper, from node last down to node 0: each node whose
 * output has an adjoint and depends on a target takes the scalar step, the
 * direct step or the op-built step (none for an empty output: step 6).  Returns the number of steps
 * taken (for explain mode); stops at the first error (tape error set). */
static int64_t sweep_nodes(tg_tape *tp, const char *what, sweep *s, int64_t last)
{
    int64_t steps = 0;
    for (int64_t i = last; i >= 0 && tg__tape_ok(tp); i--) {
        const tg_node *np = tg__tape_node(tp, i);
        prefetch_nodes_ahead(np, i);
        const int32_t oid = np->out_id;
        if (!has_adjoint(s, oid) || !s->dep[oid] || !np->op->backward) continue;
        /* anomaly mode names node i for what its rule and the sums make */
        if (s->direct && np->scalar) {
            /* no check first that an input needs a gradient: scalar_step
             * skips each that does not, and this is the path of a scalar
             * tape, where nearly every input does (the rule is a pure
             * function of the recorded values; steps is only printed by
             * explain mode, which takes the other paths) */
            tg__tape_set_backward_node(tp, i);
            steps++;
            if (!scalar_node(tp, s, np)) break;
            continue;
        }
        if (!any_input_dep(s, np)) continue;
        tg__tape_set_backward_node(tp, i);
        if (np->out->numel == 0) {
            if (!empty_node(tp, s, np)) break;
            continue;
        }
        steps++;
        const bool ok = s->direct && np->op->direct ? direct_node(tp, what, s, np, i)
                                                    : rule_node(tp, what, s, np, i);
        if (!ok) break;
    }
    return steps;
}

/* Runs the reverse sweep from y with the targets already marked in s->dep.
 * On return s holds the adjoint of every value that has one. */
tg_status tg__sweep_run(tg_tape *tp, const char *what, tg_tensor *y, const tg_tensor *seed_in,
                        bool create_graph, sweep *s)
{
    const int32_t yid = tg__tape_value_id_lookup(tp, y);
    if (yid < 0 || yid >= s->nv) {
        tg_tape_fail(tp, TG_ERR_TAPE, "%s: the output is not recorded on this tape", what);
        return tg_tape_status(tp);
    }
    tg_tensor *seed = seed_tensor(tp, what, y, seed_in);
    if (!seed) return tg_tape_status(tp);
    const int64_t last = y->magic == TG_MAGIC_TAPE ? y->node : -1;
    if (!mark_dependents(tp, what, s, y, yid, last)) return tg_tape_status(tp);
    tg__explain_begin(tp, what, y, seed);
    /* Direct rules when no graph is built; explain mode narrates the
     * op-built rules, whose steps are the ones it can name. */
    s->create_graph = create_graph;
    s->explain = tg__tape_explain(tp) != NULL;
    s->direct = !create_graph && !s->explain;
    s->spares = s->spares && s->direct;
    if (!alloc_adjoints(tp, s, yid, seed)) return tg_tape_status(tp);
    const tape_state was = sweep_enter(tp, s);
    const int64_t steps = sweep_nodes(tp, what, s, last);
    tg__explain_end(tp, steps, tg_tape_status(tp));
    sweep_leave(tp, &was);
    return tg_tape_status(tp);
}

bool tg__sweep_init(tg_tape *tp, sweep *s)
{
    /* the adjoint arrays are made by sweep_run, which knows which it needs;
     * spares only tg_backward_ex turns on */
    *s = (sweep){.nv = tg__tape_num_values(tp)};
    s->dep = tg__tape_scratch(tp, (size_t)s->nv * sizeof *s->dep + 1);
    if (!s->dep) return false;
    memset(s->dep, 0, (size_t)s->nv * sizeof *s->dep);
    return true;
}

/* The adjoint of value id (of x's shape) after a sweep, or NULL for none:
 * the tensor itself, or after a direct sweep a header for its data, in h
 * when given (valid while h is), else a tape tensor. */
tg_tensor *tg__sweep_adjoint(tg_tape *tp, const sweep *s, int32_t id, const tg_tensor *x,
                             tg_tensor *h)
{
    if (id < 0 || id >= s->nv) return NULL;
    if (!s->direct) return s->t.grads[id];
    void *d = adj_data(s, id);
    if (!d) return NULL;
    return h ? header_of(h, x, d) : tg__tape_wrap(tp, x, d);
}
