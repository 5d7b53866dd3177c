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

/* Does the tangent rule's result fit node nd's output?  A wrong custom rule
 * is an error naming the op, not memory corruption. */
static bool tout_fits(tg_tape *tp, const tg_node *nd, int64_t i, const tg_tensor *t)
{
    if (tg_tensor_same_shape(t, nd->out) && t->dtype == nd->out->dtype) return true;
    char a[TG_SHAPE_BUF + 8], b[TG_SHAPE_BUF + 8];
    tg_tape_fail(tp, TG_ERR_SHAPE, "jvp: tangent rule of %s (node %lld) gave %s for its output %s",
                 nd->op->name, (long long)i, tg_tensor_describe(t, a, sizeof a),
                 tg_tensor_describe(nd->out, b, sizeof b));
    return false;
}

/* Does the backward rule's gin fit input k of node nd?  The fallback below
 * dots it with the input's tangent. */
static bool gin_fits(tg_tape *tp, const tg_node *nd, int64_t i, int k, const tg_tensor *g)
{
    const tg_tensor *x = nd->in[k];
    if (tg_tensor_same_shape(g, x) && g->dtype == x->dtype) return true;
    char a[TG_SHAPE_BUF + 8], b[TG_SHAPE_BUF + 8];
    tg_tape_fail(tp, TG_ERR_SHAPE,
                 "jvp: backward rule of %s (node %lld, no tangent rule) gave %s for input %d %s",
                 nd->op->name, (long long)i, tg_tensor_describe(g, a, sizeof a), k,
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

/* The tangent of a node whose op has no tangent rule, from its backward
 * rule (the double-vjp construction).  The rule maps an output gradient u
 * to gin_k = J_k^T u, linear in u, so s(u) = sum_k <J_k^T u, tin_k> =
 * <u, sum_k J_k tin_k> and ds/du is the tangent.  u is a zero leaf: s is
 * linear, so its value does not matter.  The rule's ops are recorded
 * whatever create_graph says (ds/du differentiates them); ds/du itself is
 * recorded only with create_graph.  Node-local: the reverse sweep for ds/du
 * only reaches the nodes made here, since nothing older depends on u. */
static tg_status tangent_by_double_vjp(tg_tape *tp, const tg_node *nd, int64_t i,
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
    tg__tape_set_recording(tp, true);
    tg_status st = nd->op->backward(tp, nd, u, gin);
    tg_tensor *s = NULL;
    bool ok = st == TG_OK && tg__tape_ok(tp);
    for (int k = 0; k < nd->n_in && ok; k++)
        ok = !gin[k] || !tin[k] || gin_fits(tp, nd, i, k, gin[k]);
    if (ok) s = dot_terms(tp, nd, gin, tin);
    tg__tape_set_recording(tp, create_graph);
    if (!ok || !tg__tape_ok(tp)) return st != TG_OK ? st : tg_tape_status(tp);
    if (!s) return TG_OK; /* no input with a tangent reaches the rule's result */
    return tg__vjp(tp, "jvp", s, NULL, 1, &u, tout, create_graph, true);
}

/* One node's tangent into tan[out_id]; false on failure (tape error set). */
static bool tangent_node(tg_tape *tp, const tg_node *np, int64_t i, tg_tensor **tan, int32_t nv,
                         bool *has)
{
    /* Copy the node: rules may record new nodes, which can move the array. */
    tg_node nd = *np;
    tg_tensor *tin_small[8];
    tg_tensor **tin = tin_small;
    if (nd.n_in > TG_ARRAY_LEN(tin_small)) {
        tin = tg__tape_scratch(tp, (size_t)nd.n_in * sizeof *tin);
        if (!tin) return false;
    }
    if (!node_tangents(&nd, tan, nv, tin)) return true;
    if (!nd.op->backward) return true; /* not differentiable: zero tangent */
    tg_tensor *tout = NULL;
    tg_status st = nd.op->jvp ? nd.op->jvp(tp, &nd, tin, &tout)
                              : tangent_by_double_vjp(tp, &nd, i, tin, &tout);
    if (st != TG_OK || !tg__tape_ok(tp)) {
        tg_tape_fail(tp, st == TG_OK ? TG_ERR_STATE : st,
                     "jvp: tangent rule of %s (node %lld) failed", nd.op->name, (long long)i);
        return false;
    }
    if (!tout) return true;
    if (!tout_fits(tp, &nd, i, tout)) return false;
    if (nd.out_id >= 0 && nd.out_id < nv) {
        tan[nd.out_id] = tout;
        has[nd.out_id] = true;
    }
    return true;
}

/* The checks of tg_jvp's arguments; false with the tape error set. */
static bool jvp_args(tg_tape *tp, int n, tg_tensor *const *xs, tg_tensor *const *ts, int m,
                     tg_tensor *const *ys, tg_tensor **out)
{
    if ((n > 0 && (!xs || !ts)) || (m > 0 && (!ys || !out))) {
        tg_tape_fail(tp, TG_ERR_NULL, "jvp: %s array is NULL",
                     n > 0 && !xs   ? "xs"
                     : n > 0 && !ts ? "tangents"
                     : m > 0 && !ys ? "ys"
                                    : "out");
        return false;
    }
    if (n < 0 || m < 0) {
        tg_tape_fail(tp, TG_ERR_ARG, "jvp: negative count (n %d, m %d)", n, m);
        return false;
    }
    if (!tg_tape_check_inputs(tp, "jvp", n, xs) || !tg_tape_check_inputs(tp, "jvp", n, ts) ||
        !tg_tape_check_inputs(tp, "jvp", m, ys))
        return false;
    for (int i = 0; i < n; i++) {
        if (tg_tensor_same_shape(ts[i], xs[i]) && ts[i]->dtype == xs[i]->dtype) continue;
        char a[TG_SHAPE_BUF + 8], b[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, tg_tensor_same_shape(ts[i], xs[i]) ? TG_ERR_DTYPE : TG_ERR_SHAPE,
                     "jvp: tangent %d %s does not match xs[%d] %s", i,
                     tg_tensor_describe(ts[i], a, sizeof a), i,
                     tg_tensor_describe(xs[i], b, sizeof b));
        return false;
    }
    return true;
}

/* The sweep proper over nodes [0, n_nodes), with the tangents of the xs
 * set; false on failure (tape error set). */
static bool sweep_forward(tg_tape *tp, int64_t n_nodes, tg_tensor **tan, int32_t nv, bool *has)
{
    for (int64_t i = 0; i < n_nodes; i++)
        if (!tangent_node(tp, tg__tape_node(tp, i), i, tan, nv, has)) return false;
    return true;
}

tg_status tg_jvp_ex(tg_tape *tp, int n, tg_tensor *const *xs, tg_tensor *const *ts, int m,
                    tg_tensor *const *ys, tg_tensor **out, const tg_jvp_options *opts)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "jvp: tape is NULL");
        return TG_ERR_NULL;
    }
    if (!tg__tape_ok(tp)) return TG_ERR_STATE;
    tg_jvp_options o = {0};
    if (opts) o = *opts;
    if (!jvp_args(tp, n, xs, ts, m, ys, out)) return tg_tape_status(tp);
    const int32_t nv = tg__tape_num_values(tp);
    const int64_t n_nodes = tg__tape_num_nodes(tp);
    tg_tensor **tan = tg__tape_scratch(tp, ((size_t)nv + 1) * sizeof *tan);
    bool *has = tg__tape_scratch(tp, (size_t)nv + 1);
    if (!tan || !has) return tg_tape_status(tp);
    memset(tan, 0, ((size_t)nv + 1) * sizeof *tan);
    memset(has, 0, (size_t)nv + 1);
    for (int i = 0; i < n; i++) {
        const int32_t id = tg__tape_value_id_lookup(tp, xs[i]);
        if (id < 0 || id >= nv) continue; /* used by no op: nothing depends on it */
        /* ts[i] itself, not a copy: with create_graph a tangent may be
         * differentiated against.  The same x twice: the tangents add. */
        tan[id] = tan[id] ? tg_add(tp, tan[id], ts[i]) : ts[i];
        if (!tan[id]) return tg_tape_status(tp);
        has[id] = true;
    }
    /* Rules see which inputs carry a tangent through tg_node_needs_grad. */
    const bool was_recording = tg__tape_recording(tp);
    const bool *was_dep = tg__tape_dep(tp);
    const int32_t was_n_dep = tg__tape_dep_count(tp);
    tg__tape_set_recording(tp, o.create_graph);
    tg__tape_set_dep(tp, has, nv);
    const bool ok = sweep_forward(tp, n_nodes, tan, nv, has);
    tg__tape_set_dep(tp, was_dep, was_n_dep);
    tg__tape_set_recording(tp, was_recording);
    if (!ok) return tg_tape_status(tp);
    for (int j = 0; j < m; j++) {
        const int32_t id = tg__tape_value_id_lookup(tp, ys[j]);
        tg_tensor *t = id >= 0 && id < nv ? tan[id] : NULL;
        if (!t) t = tg__const_full(tp, ys[j]->dtype, ys[j]->ndim, ys[j]->shape, 0.0);
        if (!t) return tg_tape_status(tp);
        out[j] = t;
    }
    return TG_OK;
}

tg_status tg_jvp(tg_tape *tp, int n, tg_tensor *const *xs, tg_tensor *const *ts, int m,
                 tg_tensor *const *ys, tg_tensor **out, bool create_graph)
{
    return tg_jvp_ex(tp, n, xs, ts, m, ys, out, &(tg_jvp_options){.create_graph = create_graph});
}
