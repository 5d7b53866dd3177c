/* The generic backward pass.  It walks the nodes in reverse, calls each
 * node's op->backward, and accumulates the returned input gradients.  It
 * knows nothing about any particular op: backward rules are built from ops,
 * so with create_graph they are recorded like any other computation. */
#include "internal.h"

/* A direct sweep's adjoint of one value: its one element itself, or where
 * its data is (8 bytes per value id in all, so a scalar tape's sweep takes
 * no arena block per adjoint). */
typedef union adj_slot {
    double f64;
    float f32;
    void *p;
} adj_slot;

/* What a direct sweep's slot[id] holds (state[id]). */
enum {
    ADJ_NONE,    /* no adjoint yet */
    ADJ_INLINE,  /* owned: the one element, in the slot itself */
    ADJ_OWNED,   /* owned: slot.p is a buffer this sweep made */
    ADJ_ADOPTED, /* slot.p is data the sweep was handed: copied before any sum */
};

typedef struct sweep {
    int32_t nv;     /* values known when the sweep started */
    bool *dep;      /* dep[id]: value depends on a target */
    bool dep_ready; /* dep[] is already final: no forward pass needed */
    /* tg_backward replacing .grad, in a direct sweep: a parameter's adjoint
     * buffer (when it has more than one element) is its spare (see struct
     * tg_tensor), which backward swaps with .grad's data once the sweep has
     * succeeded, instead of copying the adjoint over */
    bool spares;
    /* tg_backward: an output that depends on no target is an error (it
     * would write no gradient at all, and say nothing); tg_grad gives
     * zeros instead */
    bool need_dep;
    bool create_graph; /* later contributions are summed by tg_add (recorded) */
    bool explain;      /* explain mode narrates each rule and contribution */
    /* The tag of the union below: a direct sweep (no graph built, explain
     * off) keeps its adjoints in d, any other sweep in t. */
    bool direct;
    union {
        /* Each adjoint as bare data of its value's shape and dtype,
         * described by state[id] and slot[id] (ADJ_*).  No tensor header is
         * made per adjoint (on a scalar tape that header was most of the
         * sweep's memory), and a one-element adjoint lives in its slot. */
        struct {
            uint8_t *state;
            adj_slot *slot;
        } d;
        /* Each adjoint as a tensor. */
        struct {
            tg_tensor **grads; /* grads[id]: accumulated adjoint, or NULL */
            /* owned[id]: grads[id] is a buffer this sweep made and nothing
             * else references, so later contributions may be added into it
             * in place.  An adopted first contribution is not owned: it may
             * be another slot's adjoint, a forward tensor, or share data
             * with one (a reshape view). */
            bool *owned;
        } t;
    };
} sweep;

/* A direct sweep's adjoint data of value id, or NULL for none. */
static void *adj_data(const sweep *s, int32_t id)
{
    const uint8_t st = s->d.state[id];
    return st == ADJ_INLINE ? (void *)&s->d.slot[id] : st != ADJ_NONE ? s->d.slot[id].p : NULL;
}

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

/* The reverse sweep proper, from node last down to node 0: each node whose
 * output has an adjoint and depends on a target takes the scalar step, the
 * direct step or the op-built step.  Returns the number of steps taken (for
 * explain mode); stops at the first error (tape error set). */
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
        steps++;
        const bool ok = s->direct && np->op->direct ? direct_node(tp, what, s, np, i)
                                                    : rule_node(tp, what, s, np, i);
        if (!ok) break;
    }
    return steps;
}

/* Runs the reverse sweep from y with the targets already marked in s->dep.
 * On return s holds the adjoint of every value that has one. */
static tg_status sweep_run(tg_tape *tp, const char *what, tg_tensor *y, const tg_tensor *seed_in,
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

static bool sweep_init(tg_tape *tp, sweep *s)
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
static tg_tensor *adjoint(tg_tape *tp, const sweep *s, int32_t id, const tg_tensor *x, tg_tensor *h)
{
    if (id < 0 || id >= s->nv) return NULL;
    if (!s->direct) return s->t.grads[id];
    void *d = adj_data(s, id);
    if (!d) return NULL;
    return h ? header_of(h, x, d) : tg__tape_wrap(tp, x, d);
}

static bool check_start(tg_tape *tp, const char *what, const tg_tensor *y)
{
    if (!tp) return false;
    if (!tg__tape_ok(tp)) return false;
    if (!y) {
        tg_tape_fail(tp, TG_ERR_NULL, "%s: output is NULL", what);
        return false;
    }
    tg_tensor *const in[1] = {(tg_tensor *)y};
    return tg_tape_check_inputs(tp, what, 1, in);
}

/* The spare gradient buffer (struct tg_tensor) of t, the tape's user
 * tensor $u; false on out of memory (tape error set). */
static bool make_spare(tg_tape *tp, tg_tensor *t, size_t u)
{
    t->spare = tg__malloc((size_t)t->numel * tg_dtype_size(t->dtype));
    if (!t->spare) {
        tg_tape_fail(tp, TG_ERR_NOMEM,
                     "backward: out of memory for a second gradient buffer of %lld elements "
                     "(parameter $%zu)",
                     (long long)t->numel, u);
        return false;
    }
    return true;
}

/* Does t's gradient storage still fit it?  A user tensor's extents can
 * change (never its ndim or dtype): tg_batches_next shows a shorter last
 * batch through the same tensor, and a gradient or spare made at one size
 * must not be written at another. */
static bool grad_fits(const tg_tensor *t)
{
    return t->grad && tg_tensor_same_shape(t->grad, t);
}

/* Storage for t's gradient: a new tensor when it has none, else new data
 * for the .grad tensor it has (installed by grad_install: the .grad tensor
 * a user may hold stays the same).  NULL and the tape error on out of
 * memory. */
static void *grad_make(tg_tape *tp, const tg_tensor *t)
{
    void *p = t->grad ? tg__calloc(t->numel ? (size_t)t->numel : 1, tg_dtype_size(t->dtype))
                      : (void *)tg_tensor_new(t->dtype, t->ndim, t->shape);
    if (!p)
        tg_tape_fail(tp, TG_ERR_NOMEM, "backward: out of memory for a gradient of %lld elements",
                     (long long)t->numel);
    else if (!t->grad)
        ((tg_tensor *)p)->holds = TG_HOLD_GRAD; /* its parameter's: tg_tensor_free refuses it */
    return p;
}
static void grad_drop(const tg_tensor *t, void *p)
{
    if (t->grad) {
        tg__free(p);
    } else {
        tg__free(((tg_tensor *)p)->data);
        tg__free(p);
    }
}
static void grad_install(tg_tensor *t, void *p)
{
    if (!t->grad) {
        t->grad = p;
        return;
    }
    tg__free(t->grad->data);
    t->grad->data = p;
    for (int d = 0; d < t->ndim; d++) t->grad->shape[d] = t->shape[d];
    t->grad->numel = t->numel;
}

/* The first recorded use of user tensor t: node *node's input *k; false
 * when no node has it as an input. */
static bool first_use(const tg_tape *tp, const tg_tensor *t, int64_t *node, int *k)
{
    const int64_t nn = tg__tape_num_nodes(tp);
    for (int64_t i = 0; i < nn; i++) {
        const tg_node *nd = tg__tape_node(tp, i);
        for (int j = 0; j < nd->n_in; j++)
            if (nd->in[j] == t) {
                *node = i;
                *k = j;
                return true;
            }
    }
    return false;
}

/* Has the tape's user tensor $u been written since the tape first used it?
 * Then a rule would read other data than the op computed with (or, on a
 * scalar tape, the recorded values would disagree with the tensor): an
 * error naming the op and input that recorded it.  A tensor no node uses
 * (registered by a recording that then failed) affects no gradient. */
static bool user_modified(tg_tape *tp, const char *what, size_t u)
{
    const tg_tensor *t = tg__tape_user(tp, u);
    const uint32_t was = tg__tape_user_version(tp, u);
    int64_t node;
    int k;
    if (t->version == was || !first_use(tp, t, &node, &k)) return false;
    char d[TG_SHAPE_BUF + 8];
    tg_tape_fail(tp, TG_ERR_TAPE,
                 "%s: input %d of %s (node %lld), $%zu %s, was modified after it was recorded "
                 "(version %u, now %u)",
                 what, k, tg__tape_node(tp, node)->op->name, (long long)node, u,
                 tg_tensor_describe(t, d, sizeof d), (unsigned)was, (unsigned)t->version);
    return true;
}

/* These passes visit every parameter's header, the last one also its
 * .grad's header and data: on a scalar tape 100,000 of each, apart in
 * memory.  Ask for them ahead, each from the one fetched before (header 16
 * on, its .grad 8 on, that one's data 4 on). */
static inline void prefetch_user_ahead(const tg_tape *tp, size_t u, size_t nu)
{
    if (u + 16 < nu) TG_PREFETCH(tg__tape_user(tp, u + 16), 0, 0);
}

static inline void prefetch_grad_ahead(const tg_tape *tp, size_t u, size_t nu)
{
    prefetch_user_ahead(tp, u, nu);
    if (u + 8 < nu && tg__tape_user(tp, u + 8)->grad)
        TG_PREFETCH(tg__tape_user(tp, u + 8)->grad, 0, 0);
    if (u + 4 < nu && tg__tape_user(tp, u + 4)->grad)
        TG_PREFETCH(tg__tape_user(tp, u + 4)->grad->data, 0, 1);
}

/* Parameter t, the tape's user tensor $u, as a target of backward: its
 * value is marked in s->dep, and its spare is made when the sweep uses
 * spares; false (tape error set) when it was freed, or on out of memory. */
static bool mark_parameter(tg_tape *tp, sweep *s, tg_tensor *t, size_t u, int32_t id)
{
    /* its .grad could never be read: the user gave the tensor up (the tape
     * keeps its memory until it lets go) */
    if (tg__tensor_freed(t)) {
        char d[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, TG_ERR_TAPE,
                     "backward: parameter $%zu %s was freed (tg_tensor_free) after it "
                     "was recorded",
                     u, tg_tensor_describe(t, d, sizeof d));
        return false;
    }
    s->dep[id] = true;
    /* a spare is made at .grad's size (or before .grad, at the tensor's):
     * one that may not fit the tensor now is remade */
    if (t->spare && !grad_fits(t)) {
        tg__free(t->spare);
        t->spare = NULL;
    }
    return !(s->spares && t->numel > 1 && !t->spare && !make_spare(tp, t, u));
}

/* The targets of tg_backward in s->dep: every parameter (and retained
 * tensor, and y when retained); false on error (tape error set).  The
 * parameters are the targets, so "depends on a target" is "required grad
 * when made", kept by the tape as it records, as long as no parameter flag
 * has changed since its first use and nothing is retained; then the forward
 * pass is skipped (s->dep_ready). */
static bool mark_backward_targets(tg_tape *tp, sweep *s, const tg_tensor *y)
{
    size_t nu = tg__tape_num_users(tp), nrg;
    const uint8_t *rg = tg__tape_rg(tp, &nrg);
    s->dep_ready = rg && tg__tape_num_retained(tp) == 0;
    for (size_t u = 0; u < nu; u++) {
        tg_tensor *t = tg__tape_user(tp, u);
        const int32_t id = tg__tape_user_id(tp, u);
        prefetch_user_ahead(tp, u, nu);
        if (t->version != tg__tape_user_version(tp, u) && user_modified(tp, "backward", u))
            return false;
        if (t->requires_grad && !mark_parameter(tp, s, t, u, id)) return false;
        if (s->dep_ready && ((size_t)id >= nrg || rg[id] != t->requires_grad)) s->dep_ready = false;
    }
    if (s->dep_ready) memcpy(s->dep, rg, (size_t)s->nv < nrg ? (size_t)s->nv : nrg);
    /* retained intermediates: a search of every node, only if there are any */
    const int64_t nn = tg__tape_num_retained(tp) ? tg__tape_num_nodes(tp) : 0;
    for (int64_t i = 0; i < nn; i++) {
        tg_tensor *t = tg__tape_node(tp, i)->out;
        if (t->retain && t->id < s->nv) s->dep[t->id] = true;
    }
    if (y->magic == TG_MAGIC_TAPE && y->retain) s->dep[y->id] = true;
    return true;
}

/* fresh[u]: this call makes .grad storage for parameter $u, which has none,
 * or none that fits it (a tensor whose extents changed: its gradient is
 * replaced, also when accumulating).  All of it is made before any is
 * installed, so out of memory leaves every .grad as it was (and no .grad
 * where there was none).  NULL on out of memory (tape error set). */
static bool *make_grad_storage(tg_tape *tp)
{
    const size_t nu = tg__tape_num_users(tp);
    bool *fresh = tg__tape_scratch(tp, nu + 1);
    if (!fresh) return NULL;
    size_t nmake = 0;
    for (size_t u = 0; u < nu; u++) {
        const tg_tensor *t = tg__tape_user(tp, u);
        prefetch_user_ahead(tp, u, nu);
        fresh[u] = t->requires_grad && !grad_fits(t);
        nmake += fresh[u];
    }
    if (!nmake) return fresh;
    void **made = tg__tape_scratch(tp, nmake * sizeof *made);
    if (!made) return NULL;
    size_t k = 0;
    for (size_t u = 0; u < nu && k < nmake; u++) {
        if (!fresh[u]) continue;
        if (!(made[k] = grad_make(tp, tg__tape_user(tp, u)))) {
            for (size_t v = 0, j = 0; j < k; v++)
                if (fresh[v]) grad_drop(tg__tape_user(tp, v), made[j++]);
            return NULL;
        }
        k++;
    }
    k = 0;
    for (size_t u = 0; u < nu && k < nmake; u++)
        if (fresh[u]) grad_install(tg__tape_user(tp, u), made[k++]);
    return fresh;
}

/* Replaces parameter t's .grad data by its adjoint (value id) after a direct
 * sweep: the adjoint's bytes as they are (a scalar tape has 100,000
 * parameters: no header is made for each). */
static void replace_grad_direct(const sweep *s, tg_tensor *t, int32_t id)
{
    const size_t bytes = (size_t)t->numel * tg_dtype_size(t->dtype);
    void *src = id >= 0 && id < s->nv ? adj_data(s, id) : NULL;
    if (!bytes) return;
    if (src && src == t->spare) {
        /* the sweep wrote it into the spare: swap, no copy (the old .grad
         * data is the next sweep's spare) */
        t->spare = t->grad->data;
        t->grad->data = src;
    } else if (src) {
        memcpy(t->grad->data, src, bytes); /* adopted, arena or its slot */
    } else {
        memset(t->grad->data, 0, bytes); /* IEEE zeros */
    }
}

/* Writes each parameter's adjoint into its .grad (made by
 * make_grad_storage): replaced, or with accumulate added to unless fresh. */
static void write_parameter_grads(tg_tape *tp, sweep *s, bool accumulate, const bool *fresh)
{
    const size_t nu = tg__tape_num_users(tp);
    for (size_t u = 0; u < nu; u++) {
        tg_tensor *t = tg__tape_user(tp, u);
        prefetch_grad_ahead(tp, u, nu);
        if (!t->requires_grad) continue;
        const int32_t id = tg__tape_user_id(tp, u);
        t->grad->version++; /* written below (tg__bump_version: always a user tensor) */
        const bool add = accumulate && !fresh[u];
        if (s->direct && !add) {
            replace_grad_direct(s, t, id);
            continue;
        }
        tg_tensor h, *g = adjoint(tp, s, id, t, &h);
        if (add) {
            if (g) tg__add_inplace(t->grad, g);
        } else if (g) {
            tg_tensor_copy(t->grad, g); /* one pass, not a clear and an add */
        } else {
            tg_tensor_fill(t->grad, 0.0);
        }
    }
}

/* Points each retained intermediate's .grad at its tape adjoint (zeros when
 * it has none; with accumulate, a tape copy of the old one plus it); false
 * on error (tape error set). */
static bool write_retained_grads(tg_tape *tp, sweep *s, bool accumulate)
{
    const int64_t nn = tg__tape_num_retained(tp) ? tg__tape_num_nodes(tp) : 0;
    for (int64_t i = 0; i < nn; i++) {
        tg_tensor *t = tg__tape_node(tp, i)->out;
        if (!t->retain || t->id >= s->nv) continue;
        tg_tensor *g = adjoint(tp, s, t->id, t, NULL);
        if (!g && tg__tape_ok(tp)) g = tg__const_full(tp, t->dtype, t->ndim, t->shape, 0.0);
        if (!g) return false;
        if (accumulate && t->grad) {
            tg_tensor *sum = tg__const_copy(tp, t->grad);
            if (!sum) return false;
            tg__add_inplace(sum, g);
            g = sum;
        }
        t->grad = g;
    }
    return true;
}

tg_status tg_backward_ex(tg_tape *tp, tg_tensor *y, const tg_backward_options *opts)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "backward: tape is NULL");
        return TG_ERR_NULL;
    }
    if (!tg__tape_ok(tp)) return TG_ERR_STATE;
    if (!check_start(tp, "backward", y)) return tg_tape_status(tp);
    tg__tape_note_backward(tp);
    tg_backward_options o = {0};
    if (opts) o = *opts;
    sweep s;
    if (!sweep_init(tp, &s)) return tg_tape_status(tp);
    /* Replacing .grad in a direct sweep (explain off; not from inside a
     * rule of another sweep on this tape), each parameter of more than one
     * element gets its adjoint written into its spare buffer, swapped into
     * .grad after the sweep.  Spares are made before the sweep, once per
     * parameter: running out of memory then changes nothing. */
    s.spares = !o.accumulate && !tg__tape_explain(tp) && !tg__tape_dep(tp);
    s.need_dep = true;
    if (!mark_backward_targets(tp, &s, y)) return tg_tape_status(tp);
    if (sweep_run(tp, "backward", y, o.seed, false, &s) != TG_OK) return tg_tape_status(tp);
    /* Write the results: parameters get user-owned storage (replaced or
     * accumulated), retained intermediates point at their tape adjoint.
     * Storage is made for every parameter before any is written, so an
     * allocation failure leaves all gradients as they were.  Nothing the
     * user sees has changed until here: the sweep wrote spares only. */
    const bool *fresh = make_grad_storage(tp);
    if (!fresh) return tg_tape_status(tp);
    write_parameter_grads(tp, &s, o.accumulate, fresh);
    if (!write_retained_grads(tp, &s, o.accumulate)) return tg_tape_status(tp);
    return TG_OK;
}

tg_status tg_backward(tg_tape *tp, tg_tensor *y)
{
    return tg_backward_ex(tp, y, NULL);
}

tg_status tg_retain_grad(tg_tape *tp, tg_tensor *t)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "retain_grad: tape is NULL");
        return TG_ERR_NULL;
    }
    if (!tg__tape_ok(tp)) return TG_ERR_STATE;
    tg_tensor *in[1] = {t};
    if (!tg_tape_check_inputs(tp, "retain_grad", 1, in)) return tg_tape_status(tp);
    if (t->magic != TG_MAGIC_TAPE) {
        tg_tape_fail(tp, TG_ERR_ARG,
                     "retain_grad: a user-owned tensor; use "
                     "tg_tensor_set_requires_grad instead");
        return tg_tape_status(tp);
    }
    if (!t->retain) tg__tape_note_retained(tp);
    t->retain = true;
    return TG_OK;
}

tg_status tg__vjp(tg_tape *tp, const char *what, tg_tensor *y, const tg_tensor *seed, int n,
                  tg_tensor *const *xs, tg_tensor **out, bool create_graph, bool allow_unused)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "vjp: tape is NULL");
        return TG_ERR_NULL;
    }
    if (!tg__tape_ok(tp)) return TG_ERR_STATE;
    if (!check_start(tp, what, y)) return tg_tape_status(tp);
    if (n > 0 && (!xs || !out)) { /* n < 0: tg_tape_check_inputs says so */
        tg_tape_fail(tp, TG_ERR_NULL, "%s: inputs or outputs array is NULL", what);
        return tg_tape_status(tp);
    }
    if (!tg_tape_check_inputs(tp, what, n, xs)) return tg_tape_status(tp);
    sweep s;
    if (!sweep_init(tp, &s)) return tg_tape_status(tp);
    for (int i = 0; i < n; i++) {
        int32_t id = tg__tape_value_id_lookup(tp, xs[i]);
        if (id < 0 && !allow_unused) {
            /* no op used it, so y cannot depend on it: a zero gradient
             * would hide a mix-up of tensors */
            char d[TG_SHAPE_BUF + 8];
            tg_tape_fail(tp, TG_ERR_TAPE,
                         "%s: xs[%d] %s is not on this tape (no recorded op used it)", what, i,
                         tg_tensor_describe(xs[i], d, sizeof d));
            return tg_tape_status(tp);
        }
        if (id >= 0 && id < s.nv) s.dep[id] = true;
    }
    const size_t nu = tg__tape_num_users(tp);
    for (size_t u = 0; u < nu; u++)
        if (tg__tape_user(tp, u)->version != tg__tape_user_version(tp, u) &&
            user_modified(tp, what, u))
            return tg_tape_status(tp);
    if (sweep_run(tp, what, y, seed, create_graph, &s) != TG_OK) return tg_tape_status(tp);
    for (int i = 0; i < n; i++) {
        int32_t id = tg__tape_value_id_lookup(tp, xs[i]);
        tg_tensor *g = adjoint(tp, &s, id, xs[i], NULL);
        if (!g && tg__tape_ok(tp))
            g = tg__const_full(tp, xs[i]->dtype, xs[i]->ndim, xs[i]->shape, 0.0);
        if (!g) return tg_tape_status(tp);
        out[i] = g;
    }
    return TG_OK;
}

tg_status tg_vjp(tg_tape *tp, tg_tensor *y, const tg_tensor *seed, int n, tg_tensor *const *xs,
                 tg_tensor **out, bool create_graph)
{
    return tg__vjp(tp, "grad", y, seed, n, xs, out, create_graph, false);
}

tg_tensor *tg_grad(tg_tape *tp, tg_tensor *y, tg_tensor *x, bool create_graph)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "grad: tape is NULL");
        return NULL;
    }
    tg_tensor *g = NULL;
    tg_tensor *xs[1] = {x};
    if (tg_vjp(tp, y, NULL, 1, xs, &g, create_graph) != TG_OK) return NULL;
    return g;
}
