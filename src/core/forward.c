/* Forward mode: tg_jvp carries tangents through the recorded nodes in
 * order, as ADOL-C's forward sweep over its trace does.  Each node's
 * tangent rule (tg_op.jvp) is built from ops, so with create_graph the
 * tangents are recorded like any other computation and can be
 * differentiated again.  Like the reverse sweep it knows nothing about any
 * particular op. */
#include "internal.h"

#include <stdlib.h>

/* The tangent of each input slot of node nd (NULL: zero); true if any. */
static bool node_tangents(const tg_node *nd, tg_tensor *const *tan, int32_t nv, tg_tensor **tin)
{
    bool any = false;
    for (int k = 0; k < nd->n_in; k++) {
        const int32_t id = tg__node_in_id(nd, k);
        tin[k] = id >= 0 && id < nv ? tan[id] : NULL;
        any |= tin[k] != NULL;
    }
    return any;
}

/* The state of one forward sweep: each value's tangent (NULL: zero) and
 * whether it has one, for the nv values known when it started; and the
 * double-vjp fallback's dependency flags over every value id (heap, grown
 * as the tape grows, all false between uses). */
typedef struct fwd {
    const char *what; /* the call the user made, naming its errors */
    tg_tensor **tan;
    bool *has;
    int32_t nv;
    bool *dep;
    int32_t dep_cap;
} fwd;

/* Does the tangent rule's result fit node nd's output?  A wrong custom rule
 * is an error naming the op, not memory corruption. */
static bool tout_fits(tg_tape *tp, const char *what, const tg_node *nd, int64_t i,
                      const tg_tensor *t)
{
    if (tg_tensor_same_shape(t, nd->out) && t->dtype == nd->out->dtype) return true;
    char a[TG_SHAPE_BUF + 8], b[TG_SHAPE_BUF + 8];
    tg_tape_fail(tp, TG_ERR_SHAPE, "%s: tangent rule of %s (node %lld) gave %s for its output %s",
                 what, nd->op->name, (long long)i, tg_tensor_describe(t, a, sizeof a),
                 tg_tensor_describe(nd->out, b, sizeof b));
    return false;
}

/* Does the backward rule's gin fit input k of node nd?  The fallback below
 * dots it with the input's tangent. */
static bool gin_fits(tg_tape *tp, const char *what, const char *why, const tg_node *nd, int64_t i,
                     int k, const tg_tensor *g)
{
    const tg_tensor *x = nd->in[k];
    if (tg_tensor_same_shape(g, x) && g->dtype == x->dtype) return true;
    char a[TG_SHAPE_BUF + 8], b[TG_SHAPE_BUF + 8];
    tg_tape_fail(tp, TG_ERR_SHAPE, "%s: backward rule of %s (node %lld%s) gave %s for input %d %s",
                 what, nd->op->name, (long long)i, why, tg_tensor_describe(g, a, sizeof a), k,
                 tg_tensor_describe(x, b, sizeof b));
    return false;
}

/* s = sum_k <gin[k], tin[k]> over the inputs with both, in the output's
 * dtype (a cast's input has another); NULL with the tape fine: no term. */
static tg_tensor *dot_terms(tg_tape *tp, const tg_node *nd, tg_tensor *const *gin,
                            tg_tensor *const *tin)
{
    tg_tensor *s = NULL;
    for (int k = 0; k < nd->n_in && tg__tape_ok(tp); k++) {
        if (!gin[k] || !tin[k]) continue;
        tg_tensor *t = tg_sum_all(tp, tg_mul(tp, gin[k], tin[k]));
        if (t && t->dtype != nd->out->dtype) t = tg_cast(tp, t, nd->out->dtype);
        s = s ? tg_add(tp, s, t) : t;
    }
    return s;
}

/* Grows f->dep to n flags, the new ones false. */
static bool grow_dep(tg_tape *tp, fwd *f, int32_t n)
{
    if (n <= f->dep_cap) return true;
    const int32_t cap = n > 2 * f->dep_cap ? n : 2 * f->dep_cap;
    bool *d = tg__realloc(f->dep, (size_t)cap);
    if (!d) {
        tg_tape_fail(tp, TG_ERR_NOMEM, "%s: out of memory for %d flags", f->what, (int)cap);
        return false;
    }
    memset(d + f->dep_cap, 0, (size_t)(cap - f->dep_cap));
    f->dep = d;
    f->dep_cap = cap;
    return true;
}

/* The adjoints of the fallback's reverse sweep: adj[id - uid]. */
typedef struct local_adj {
    tg_tensor **adj;
    int32_t uid;
} local_adj;

/* One node's step of the fallback's reverse sweep: its op-built rule, the
 * contributions summed into its inputs' adjoints. */
static bool local_step(tg_tape *tp, fwd *f, local_adj *a, int64_t i)
{
    tg_node nd = *tg__tape_node(tp, i); /* rules may move the node array */
    tg_tensor *g = a->adj[nd.out_id - a->uid];
    if (!g || !f->dep[nd.out_id] || !nd.op->backward) return true;
    tg_tensor *gin_small[8];
    tg_tensor **gin = gin_small;
    if (nd.n_in > TG_ARRAY_LEN(gin_small) &&
        !(gin = tg__tape_scratch(tp, (size_t)nd.n_in * sizeof *gin)))
        return false;
    for (int k = 0; k < nd.n_in; k++) gin[k] = NULL;
    if (nd.op->backward(tp, &nd, g, gin) != TG_OK || !tg__tape_ok(tp)) return false;
    for (int k = 0; k < nd.n_in; k++) {
        const int32_t id = tg__node_in_id(&nd, k);
        if (!gin[k] || id < a->uid || !f->dep[id]) continue;
        if (!gin_fits(tp, f->what, "", &nd, i, k, gin[k])) return false;
        tg_tensor **slot = &a->adj[id - a->uid];
        *slot = *slot ? tg_add(tp, *slot, gin[k]) : gin[k];
        if (!*slot) return false;
    }
    return true;
}

/* ds/du by a reverse sweep over the nodes [n0, n_nodes) the fallback has
 * just recorded, u being value uid.  Nothing recorded before n0 depends on
 * u, so these nodes are all it needs: the cost is the rule's, not the
 * tape's.  *du NULL: s does not depend on u (a zero tangent). */
static bool local_reverse(tg_tape *tp, fwd *f, int32_t uid, int64_t n0, tg_tensor *s,
                          tg_tensor **du)
{
    const int32_t nv = tg__tape_num_values(tp);
    const int64_t n1 = tg__tape_num_nodes(tp);
    const int32_t sid = tg__tape_value_id_lookup(tp, s);
    local_adj a = {tg__tape_scratch(tp, (size_t)(nv - uid) * sizeof *a.adj + 1), uid};
    if (!a.adj || !grow_dep(tp, f, nv)) return false;
    memset(a.adj, 0, (size_t)(nv - uid) * sizeof *a.adj);
    f->dep[uid] = true;
    for (int64_t i = n0; i < n1; i++) {
        const tg_node *nd = tg__tape_node(tp, i);
        bool d = false;
        for (int k = 0; k < nd->n_in && !d; k++) d = f->dep[tg__node_in_id(nd, k)];
        if (nd->out_id >= uid) f->dep[nd->out_id] = d;
    }
    bool ok = sid >= uid &&
              (a.adj[sid - uid] = tg__const_full(tp, s->dtype, s->ndim, s->shape, 1.0)) != NULL;
    tg__tape_set_dep(tp, f->dep, nv);
    for (int64_t i = n1 - 1; i >= n0 && ok; i--) ok = local_step(tp, f, &a, i);
    tg__tape_set_dep(tp, f->has, f->nv);
    memset(f->dep + uid, 0, (size_t)(nv - uid));
    *du = a.adj[0];
    return ok;
}

/* The tangent of a node whose op has no tangent rule, from its backward
 * rule (the double-vjp construction).  The rule maps an output gradient u
 * to gin_k = J_k^T u, linear in u, so s(u) = sum_k <J_k^T u, tin_k> =
 * <u, sum_k J_k tin_k> and ds/du is the tangent.  u is a zero leaf: s is
 * linear, so its value does not matter.  The rule's ops are recorded
 * whatever create_graph says (ds/du differentiates them); ds/du itself is
 * recorded only with create_graph. */
static tg_status tangent_by_double_vjp(tg_tape *tp, fwd *f, const tg_node *nd, int64_t i,
                                       tg_tensor *const *tin, tg_tensor **tout)
{
    const bool create_graph = tg__tape_recording(tp);
    tg_tensor *gin_small[8];
    tg_tensor **gin = gin_small;
    if (nd->n_in > TG_ARRAY_LEN(gin_small)) {
        gin = tg__tape_scratch(tp, (size_t)nd->n_in * sizeof *gin);
        if (!gin) return tg_tape_status(tp);
    }
    for (int k = 0; k < nd->n_in; k++) gin[k] = NULL;
    tg_tensor *u = tg__const_full(tp, nd->out->dtype, nd->out->ndim, nd->out->shape, 0.0);
    if (!u) return tg_tape_status(tp);
    const int32_t uid = tg__tape_value_id_lookup(tp, u);
    const int64_t n0 = tg__tape_num_nodes(tp);
    tg__tape_set_recording(tp, true);
    tg_status st = nd->op->backward(tp, nd, u, gin);
    tg_tensor *s = NULL;
    bool ok = st == TG_OK && tg__tape_ok(tp);
    for (int k = 0; k < nd->n_in && ok; k++)
        ok = !gin[k] || !tin[k] || gin_fits(tp, f->what, ", no tangent rule", nd, i, k, gin[k]);
    if (ok) s = dot_terms(tp, nd, gin, tin);
    tg__tape_set_recording(tp, create_graph);
    if (!ok || !tg__tape_ok(tp)) return st != TG_OK ? st : tg_tape_status(tp);
    if (!s) return TG_OK; /* no input with a tangent reaches the rule's result */
    if (!local_reverse(tp, f, uid, n0, s, tout))
        return tg__tape_ok(tp) ? TG_ERR_STATE : tg_tape_status(tp);
    return TG_OK;
}

/* One node's tangent into f->tan[out_id]; false on failure (tape error set). */
static bool tangent_node(tg_tape *tp, fwd *f, const tg_node *np, int64_t i)
{
    /* Copy the node: rules may record new nodes, which can move the array. */
    tg_node nd = *np;
    tg_tensor *tin_small[8];
    tg_tensor **tin = tin_small;
    if (nd.n_in > TG_ARRAY_LEN(tin_small)) {
        tin = tg__tape_scratch(tp, (size_t)nd.n_in * sizeof *tin);
        if (!tin) return false;
    }
    if (!node_tangents(&nd, f->tan, f->nv, tin)) return true;
    if (!nd.op->backward) return true; /* not differentiable: zero tangent */
    /* an output with no elements has an empty tangent, zero (NULL) without
     * the rule, which would walk the huge other extents of a (2^40, 1, 0) */
    if (nd.out->numel == 0) return true;
    tg_tensor *tout = NULL;
    tg_status st = nd.op->jvp ? nd.op->jvp(tp, &nd, tin, &tout)
                              : tangent_by_double_vjp(tp, f, &nd, i, tin, &tout);
    if (st != TG_OK || !tg__tape_ok(tp)) {
        tg_tape_fail(tp, st == TG_OK ? TG_ERR_STATE : st, "%s: %s of %s (node %lld) failed",
                     f->what, nd.op->jvp ? "tangent rule" : "backward rule (no tangent rule)",
                     nd.op->name, (long long)i);
        return false;
    }
    if (!tout) return true;
    if (!tout_fits(tp, f->what, &nd, i, tout)) return false;
    if (nd.out_id >= 0 && nd.out_id < f->nv) {
        f->tan[nd.out_id] = tout;
        f->has[nd.out_id] = true;
    }
    return true;
}

/* The checks of tg_jvp's arguments; false with the tape error set. */
static bool jvp_args(tg_tape *tp, const char *what, int n, tg_tensor *const *xs,
                     tg_tensor *const *ts, int m, tg_tensor *const *ys, tg_tensor **out)
{
    if ((n > 0 && (!xs || !ts)) || (m > 0 && (!ys || !out))) {
        tg_tape_fail(tp, TG_ERR_NULL, "%s: %s array is NULL", what,
                     n > 0 && !xs   ? "xs"
                     : n > 0 && !ts ? "tangents"
                     : m > 0 && !ys ? "ys"
                                    : "out");
        return false;
    }
    if (n < 0 || m < 0) {
        tg_tape_fail(tp, TG_ERR_ARG, "%s: negative count (n %d, m %d)", what, n, m);
        return false;
    }
    if (!tg_tape_check_inputs(tp, what, n, xs) || !tg_tape_check_inputs(tp, what, n, ts) ||
        !tg_tape_check_inputs(tp, what, m, ys))
        return false;
    for (int i = 0; i < n; i++) {
        if (tg_tensor_same_shape(ts[i], xs[i]) && ts[i]->dtype == xs[i]->dtype) continue;
        char a[TG_SHAPE_BUF + 8], b[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, tg_tensor_same_shape(ts[i], xs[i]) ? TG_ERR_DTYPE : TG_ERR_SHAPE,
                     "%s: tangent %d %s does not match xs[%d] %s", what, i,
                     tg_tensor_describe(ts[i], a, sizeof a), i,
                     tg_tensor_describe(xs[i], b, sizeof b));
        return false;
    }
    return true;
}

/* The first node that can use an x: nothing recorded before an
 * intermediate x was made reads it (a user tensor may be read anywhere). */
static int64_t first_node(int n, tg_tensor *const *xs)
{
    int64_t first = INT64_MAX;
    for (int i = 0; i < n && first > 0; i++) {
        const int64_t k = xs[i]->magic == TG_MAGIC_TAPE && xs[i]->node >= 0 ? xs[i]->node + 1 : 0;
        if (k < first) first = k;
    }
    return first;
}

/* The sweep proper over nodes [first, n_nodes), with the tangents of the
 * xs set; false on failure (tape error set).  Rules see which inputs carry
 * a tangent through tg_node_needs_grad. */
static bool sweep_forward(tg_tape *tp, fwd *f, int64_t first, int64_t n_nodes, bool create_graph)
{
    const bool was_recording = tg__tape_recording(tp);
    const bool *was_dep = tg__tape_dep(tp);
    const int32_t was_n_dep = tg__tape_dep_count(tp);
    tg__tape_set_recording(tp, create_graph);
    tg__tape_set_dep(tp, f->has, f->nv);
    bool ok = true;
    for (int64_t i = first; i < n_nodes && ok; i++)
        ok = tangent_node(tp, f, tg__tape_node(tp, i), i);
    tg__tape_set_dep(tp, was_dep, was_n_dep);
    tg__tape_set_recording(tp, was_recording);
    return ok;
}

/* The tangents of the xs into f (the same x twice: the tangents add). */
static bool seed_tangents(tg_tape *tp, fwd *f, int n, tg_tensor *const *xs, tg_tensor *const *ts)
{
    for (int i = 0; i < n; i++) {
        const int32_t id = tg__tape_value_id_lookup(tp, xs[i]);
        if (id < 0 || id >= f->nv) continue; /* used by no op: nothing depends on it */
        /* ts[i] itself, not a copy: with create_graph a tangent may be
         * differentiated against. */
        f->tan[id] = f->tan[id] ? tg_add(tp, f->tan[id], ts[i]) : ts[i];
        if (!f->tan[id]) return false;
        f->has[id] = true;
    }
    return true;
}

tg_status tg__jvp(tg_tape *tp, const char *what, int n, tg_tensor *const *xs, tg_tensor *const *ts,
                  int m, tg_tensor *const *ys, tg_tensor **out, bool create_graph)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "%s: tape is NULL", what);
        return TG_ERR_NULL;
    }
    if (!tg__tape_ok(tp)) return TG_ERR_STATE;
    if (!jvp_args(tp, what, n, xs, ts, m, ys, out)) return tg_tape_status(tp);
    fwd f = {.what = what, .nv = tg__tape_num_values(tp)};
    const int64_t n_nodes = tg__tape_num_nodes(tp);
    f.tan = tg__tape_scratch(tp, ((size_t)f.nv + 1) * sizeof *f.tan);
    f.has = tg__tape_scratch(tp, (size_t)f.nv + 1);
    if (!f.tan || !f.has) return tg_tape_status(tp);
    memset(f.tan, 0, ((size_t)f.nv + 1) * sizeof *f.tan);
    memset(f.has, 0, (size_t)f.nv + 1);
    if (!seed_tangents(tp, &f, n, xs, ts)) return tg_tape_status(tp);
    const bool ok = sweep_forward(tp, &f, first_node(n, xs), n_nodes, create_graph);
    tg__free(f.dep);
    if (!ok) return tg_tape_status(tp);
    for (int j = 0; j < m; j++) {
        const int32_t id = tg__tape_value_id_lookup(tp, ys[j]);
        tg_tensor *t = id >= 0 && id < f.nv ? f.tan[id] : NULL;
        if (!t) t = tg__const_full(tp, ys[j]->dtype, ys[j]->ndim, ys[j]->shape, 0.0);
        if (!t) return tg_tape_status(tp);
        out[j] = t;
    }
    return TG_OK;
}

tg_status tg_jvp_ex(tg_tape *tp, int n, tg_tensor *const *xs, tg_tensor *const *ts, int m,
                    tg_tensor *const *ys, tg_tensor **out, const tg_jvp_options *opts)
{
    tg_jvp_options o = {0};
    if (opts) o = *opts;
    return tg__jvp(tp, "jvp", n, xs, ts, m, ys, out, o.create_graph);
}

tg_status tg_jvp(tg_tape *tp, int n, tg_tensor *const *xs, tg_tensor *const *ts, int m,
                 tg_tensor *const *ys, tg_tensor **out, bool create_graph)
{
    return tg__jvp(tp, "jvp", n, xs, ts, m, ys, out, create_graph);
}
