/* The verification toolkit: delta comparison with localisation, higher
 * order (Hessian-vector products and gradgradcheck; Jacobians and Hessians
 * are in jacobian.c), and
 * report formatting into a buffer for the Check assertions (the f32/f64
 * replay is in replay.c).  Everything here is built on the public autodiff API (tg_vjp
 * in create-graph mode) plus read-only looks at the tape's nodes. */
#include "../core/internal.h"

#include <float.h>
#include <stdlib.h>

/* ---- a text sink: a FILE or a bounded buffer --------------------------------
 * The same report code prints to a stream and formats into a string (Check
 * messages), so the two texts cannot drift apart. */
typedef struct sink {
    FILE *f;
    char *buf;
    size_t size, len; /* len: what the full text needs so far */
} sink;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
sk_printf(sink *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (s->f) {
        vfprintf(s->f, fmt, ap);
    } else {
        char dummy[1];
        char *at = s->len < s->size ? s->buf + s->len : dummy;
        size_t room = s->len < s->size ? s->size - s->len : sizeof dummy;
        int k = vsnprintf(at, room, fmt, ap);
        if (k > 0) s->len += (size_t)k;
    }
    va_end(ap);
}

static sink sink_buf(char *buf, size_t size)
{
    sink s = {NULL, buf, buf ? size : 0, 0};
    if (buf && size) buf[0] = '\0';
    return s;
}

static void compare_emit(sink *s, const char *label, const tg_compare_report *r)
{
    if (!label) label = "compare";
    if (r->shape_mismatch) {
        sk_printf(s, "%s: FAIL: shapes differ\n", label);
        return;
    }
    sk_printf(s, "%s: %s  %lld elements, %lld out of tolerance", label, r->ok ? "ok" : "FAIL",
              (long long)r->numel, (long long)r->n_failed);
    if (r->n_skipped) sk_printf(s, ", %lld skipped at kinks", (long long)r->n_skipped);
    /* gradcheck: the numbers pass, the two rules do not (say why it fails) */
    if (r->rules_disagree && r->n_failed == 0)
        sk_printf(s, "; failed because the direct and op-built rules disagree");
    sk_printf(s, "\n");
    if (r->f32_vs_f64)
        sk_printf(s, "  f32 analytic gradient against central differences evaluated in f64\n");
    if (r->worst_index >= 0)
        sk_printf(s, "  worst at [%lld]: %.17g vs %.17g  abs err %.3g  rel err %.3g\n",
                  (long long)r->worst_index, r->worst_a, r->worst_b, r->worst_abs, r->worst_rel);
    sk_printf(s, "  max abs err %.3g, max rel err %.3g%s\n", r->max_abs, r->max_rel,
              r->vacuous ? "  (vacuous: both sides ~0 everywhere)" : "");
    if (r->rules_disagree)
        sk_printf(s, "  direct rule and op-built rule disagree at [%lld]: %.17g vs %.17g\n",
                  (long long)r->rules_index, r->rules_direct, r->rules_built);
}

size_t tg_compare_report_format(char *buf, size_t size, const char *label,
                                const tg_compare_report *r)
{
    if (!r) tg__set_last(TG_ERR_NULL, "compare_report_format: report is NULL");
    sink s = sink_buf(buf, size);
    if (r) compare_emit(&s, label, r);
    return s.len;
}

/* "$2" for a user-owned input (its first-use order), "%7" for a node's
 * output, "c12" for a tape constant. */
static void ref_str(const tg_tape *tp, const tg_tensor *t, char *buf, size_t size)
{
    if (t->magic == TG_MAGIC_USER) {
        size_t nu = tg__tape_num_users(tp);
        for (size_t u = 0; u < nu; u++)
            if (tg__tape_user(tp, u) == t) {
                snprintf(buf, size, "$%zu", u);
                return;
            }
        snprintf(buf, size, "$?");
    } else if (t->node >= 0) {
        snprintf(buf, size, "%%%lld", (long long)t->node);
    } else {
        snprintf(buf, size, "c%d", t->id);
    }
}

/* ---- delta comparison with localisation ------------------------------------ */
const char *tg_delta_verdict_name(tg_delta_verdict v)
{
    switch (v) {
    case TG_DELTA_AGREES:
        return "agrees";
    case TG_DELTA_DIVERGES:
        return "DIVERGES";
    case TG_DELTA_NOT_INFORMATIVE:
        return "not informative";
    case TG_DELTA_AGREES_UPSTREAM:
        return "agrees (upstream)";
    }
    return "?";
}

static const char *entry_label(const tg_delta_entry *e, int i, char *buf, size_t size)
{
    if (e->label) return e->label;
    snprintf(buf, size, "#%d", i);
    return buf;
}

/* The arguments' checks: the tape, the loss (a recorded scalar) and each
 * entry (a recorded tensor with a hand value of its shape). */
static tg_status delta_check_args(tg_tape *tp, tg_tensor *loss, int n,
                                  const tg_delta_entry *entries, double rtol, double atol,
                                  const tg_delta_result *results)
{
    if (!tp || !loss || n < 0 || (n && (!entries || !results))) {
        tg__set_last(TG_ERR_NULL, "delta check: tape, loss, entries or results is NULL");
        return TG_ERR_NULL;
    }
    if (!tg__tape_ok(tp)) {
        tg__set_last(TG_ERR_STATE, "delta check: the tape is in error: %s", tg_tape_error(tp));
        return TG_ERR_STATE;
    }
    if (!(rtol >= 0) || !(atol >= 0)) {
        tg__set_last(TG_ERR_ARG, "delta check: rtol %g and atol %g must be >= 0", rtol, atol);
        return TG_ERR_ARG;
    }
    char lb[32], da[TG_SHAPE_BUF + 8], db[TG_SHAPE_BUF + 8];
    if (tg__tape_value_id_lookup(tp, loss) < 0) {
        tg__set_last(TG_ERR_TAPE, "delta check: the loss is not recorded on this tape");
        return TG_ERR_TAPE;
    }
    if (loss->numel != 1) {
        tg__set_last(TG_ERR_NOT_SCALAR, "delta check: the loss %s is not a scalar",
                     tg_tensor_describe(loss, da, sizeof da));
        return TG_ERR_NOT_SCALAR;
    }
    for (int i = 0; i < n; i++) {
        const tg_delta_entry *e = &entries[i];
        const char *name = entry_label(e, i, lb, sizeof lb);
        if (!e->tensor || !e->hand) {
            tg__set_last(TG_ERR_NULL, "delta check: entry %d (%s): tensor or hand is NULL", i,
                         name);
            return TG_ERR_NULL;
        }
        if (tg__tape_value_id_lookup(tp, e->tensor) < 0) {
            tg__set_last(TG_ERR_TAPE,
                         "delta check: entry %d (%s): the tensor is not recorded on this tape", i,
                         name);
            return TG_ERR_TAPE;
        }
        if (!tg_tensor_same_shape(e->tensor, e->hand)) {
            tg__set_last(TG_ERR_SHAPE, "delta check: entry %d (%s): hand %s, tensor %s", i, name,
                         tg_tensor_describe(e->hand, da, sizeof da),
                         tg_tensor_describe(e->tensor, db, sizeof db));
            return TG_ERR_SHAPE;
        }
    }
    return TG_OK;
}

/* Positions: the earliest consumer among the nodes up to the loss (mc[id],
 * -1 for none).  The reverse sweep finishes a tensor's adjoint when it
 * passes that node. */
static void delta_positions(tg_tape *tp, const tg_tensor *loss, int n,
                            const tg_delta_entry *entries, tg_delta_result *results, int64_t *mc)
{
    const int64_t loss_node = loss->magic == TG_MAGIC_TAPE ? loss->node : -1;
    const int32_t loss_id = tg__tape_value_id_lookup(tp, loss);
    const int32_t nv = tg__tape_num_values(tp);
    for (int32_t v = 0; v < nv; v++) mc[v] = -1;
    for (int64_t i = 0; i <= loss_node; i++) {
        const tg_node *nd = tg__tape_node(tp, i);
        for (int k = 0; k < nd->n_in; k++) {
            const int32_t id = tg__node_in_id(nd, k);
            if (id >= 0 && id < nv && mc[id] < 0) mc[id] = i;
        }
    }
    for (int i = 0; i < n; i++) {
        int32_t id = tg__tape_value_id_lookup(tp, entries[i].tensor);
        results[i].position = id == loss_id ? loss_node + 1 : mc[id];
        ref_str(tp, entries[i].tensor, results[i].ref, sizeof results[i].ref);
    }
}

/* Walk order: decreasing position, entry order within a position. */
static void delta_order(int n, const tg_delta_result *results, int *order)
{
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++) { /* insertion sort: stable, n is small */
        int v = order[i], j = i;
        while (j > 0 && results[order[j - 1]].position < results[v].position) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
}

/* Each entry's verdict, in walk order; true when one diverges (*first: the
 * first that does). */
static bool delta_verdicts(int n, const tg_delta_entry *entries, tg_tensor *const *gs, double rtol,
                           double atol, const int *order, tg_delta_result *results, int *first)
{
    bool diverged = false;
    int64_t div_pos = 0;
    for (int r = 0; r < n; r++) {
        int i = order[r];
        tg_delta_result *res = &results[i];
        res->rank = r;
        bool ok = tg_compare(entries[i].hand, gs[i], rtol, atol, &res->cmp);
        if (!diverged) {
            if (ok) {
                res->verdict = TG_DELTA_AGREES;
            } else {
                diverged = true;
                div_pos = res->position;
                res->verdict = TG_DELTA_DIVERGES;
                if (first) *first = i;
            }
        } else if (res->position == div_pos) {
            /* A sibling of the first divergence: computed from the same
             * downstream adjoints, so its mismatch is its own. */
            res->verdict = ok ? TG_DELTA_AGREES : TG_DELTA_DIVERGES;
        } else {
            res->verdict = ok ? TG_DELTA_AGREES_UPSTREAM : TG_DELTA_NOT_INFORMATIVE;
        }
    }
    return diverged;
}

tg_status tg_delta_check(tg_tape *tp, tg_tensor *loss, int n, const tg_delta_entry *entries,
                         double rtol, double atol, tg_delta_result *results, int *first)
{
    tg__clear_last();
    if (first) *first = -1;
    tg_status st = delta_check_args(tp, loss, n, entries, rtol, atol, results);
    if (st != TG_OK) return st;
    int32_t nv = tg__tape_num_values(tp);
    int64_t *mc = tg__malloc((size_t)nv * sizeof *mc + 1);
    tg_tensor **xs = tg__malloc((size_t)n * sizeof *xs + 1);
    tg_tensor **gs = tg__malloc((size_t)n * sizeof *gs + 1);
    int *order = tg__malloc((size_t)n * sizeof *order + 1);
    if (!mc || !xs || !gs || !order) {
        st = TG_ERR_NOMEM;
        tg__set_last(st, "delta check: out of memory");
        goto done;
    }
    delta_positions(tp, loss, n, entries, results, mc);
    for (int i = 0; i < n; i++) xs[i] = entries[i].tensor;
    /* The engine's adjoints, all in one reverse sweep (nothing recorded). */
    if ((st = tg__vjp(tp, "grad", loss, NULL, n, xs, gs, false, false)) != TG_OK) {
        tg__set_last(st, "delta check: backward failed: %s", tg_tape_error(tp));
        goto done;
    }
    delta_order(n, results, order);
    if (delta_verdicts(n, entries, gs, rtol, atol, order, results, first)) {
        st = TG_ERR_NUMERIC;
        int i = -1;
        for (int r = 0; r < n && i < 0; r++)
            if (results[order[r]].verdict == TG_DELTA_DIVERGES) i = order[r];
        char lb[32];
        tg__set_last(st, "delta check: the hand value of %s diverges from autodiff",
                     entry_label(&entries[i], i, lb, sizeof lb));
    }
done:
    tg__free(order);
    tg__free(gs);
    tg__free(xs);
    tg__free(mc);
    return st;
}

static void delta_emit(sink *s, int n, const tg_delta_entry *entries,
                       const tg_delta_result *results)
{
    if (n <= 0 || !entries || !results) {
        sk_printf(s, "delta check: no entries\n");
        return;
    }
    int *order = tg__malloc((size_t)n * sizeof *order);
    if (!order) {
        sk_printf(s, "delta check: out of memory for the report\n");
        return;
    }
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 0; i < n; i++) /* ranks are a permutation: place each */
        if (results[i].rank >= 0 && results[i].rank < n) order[results[i].rank] = i;
    int n_div = 0, n_ni = 0, first = -1;
    for (int r = 0; r < n; r++) {
        tg_delta_verdict v = results[order[r]].verdict;
        if (v == TG_DELTA_DIVERGES && first < 0) first = order[r];
        n_div += v == TG_DELTA_DIVERGES;
        n_ni += v == TG_DELTA_NOT_INFORMATIVE;
    }
    sk_printf(s, "delta check: %d hand adjoints against autodiff, walking back from the loss\n", n);
    sk_printf(s, "  %-4s %-8s %-18s %-34s %10s %10s\n", "rank", "tensor", "verdict", "label",
              "max abs", "max rel");
    for (int r = 0; r < n; r++) {
        int i = order[r];
        const tg_delta_result *res = &results[i];
        char lb[32];
        sk_printf(s, "  %-4d %-8s %-18s %-34.34s %10.3g %10.3g\n", r, res->ref,
                  tg_delta_verdict_name(res->verdict), entry_label(&entries[i], i, lb, sizeof lb),
                  res->cmp.max_abs, res->cmp.max_rel);
    }
    if (first < 0) {
        sk_printf(s, "every hand value agrees with autodiff\n");
    } else {
        const tg_compare_report *c = &results[first].cmp;
        char lb[32];
        sk_printf(s, "first divergence: %s, element [%lld]: hand %.17g, autodiff %.17g\n",
                  entry_label(&entries[first], first, lb, sizeof lb), (long long)c->worst_index,
                  c->worst_a, c->worst_b);
        sk_printf(s, "  abs err %.3g, rel err %.3g; %lld of %lld elements out of tolerance\n",
                  c->worst_abs, c->worst_rel, (long long)c->n_failed, (long long)c->numel);
        if (n_div > 1)
            sk_printf(s, "  (%d siblings at the same tape position diverge too)\n", n_div - 1);
        if (n_ni)
            sk_printf(s,
                      "  %d mismatch(es) upstream of it are not informative: a hand value "
                      "computed from the wrong one inherits its error\n",
                      n_ni);
    }
    tg__free(order);
}

void tg_delta_report_print(FILE *f, int n, const tg_delta_entry *entries,
                           const tg_delta_result *results)
{
    if (!f || (n > 0 && (!entries || !results))) {
        tg__set_last(TG_ERR_NULL, "delta_report_print: %s is NULL",
                     !f ? "f" : "entries or results");
        return;
    }
    sink s = {f, NULL, 0, 0};
    delta_emit(&s, n, entries, results);
}

size_t tg_delta_report_format(char *buf, size_t size, int n, const tg_delta_entry *entries,
                              const tg_delta_result *results)
{
    if (n > 0 && (!entries || !results)) {
        tg__set_last(TG_ERR_NULL, "delta_report_format: entries or results is NULL");
        if (buf && size) buf[0] = '\0';
        return 0;
    }
    sink s = sink_buf(buf, size);
    delta_emit(&s, n, entries, results);
    return s.len;
}

/* ---- higher order ------------------------------------------------------------ */
tg_status tg_hvp(tg_tape *tp, tg_tensor *y, int n, tg_tensor *const *xs, tg_tensor *const *vs,
                 tg_tensor **out, bool create_graph)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "hvp: tape is NULL");
        return TG_ERR_NULL;
    }
    if (!tg__tape_ok(tp)) return TG_ERR_STATE;
    if (!y || (n >= 1 && (!xs || !vs || !out))) {
        tg_tape_fail(tp, TG_ERR_NULL, "hvp: %s is NULL",
                     !y    ? "output"
                     : !xs ? "xs"
                     : !vs ? "vs"
                           : "out");
        return tg_tape_status(tp);
    }
    if (n < 1 || !xs || !vs || !out) {
        tg_tape_fail(tp, TG_ERR_NULL, "hvp: inputs, directions or outputs missing (n = %d)", n);
        return tg_tape_status(tp);
    }
    if (!tg_tape_check_inputs(tp, "hvp", n, xs) ||
        !tg_tape_check_inputs(tp, "hvp directions", n, vs))
        return tg_tape_status(tp);
    char a[TG_SHAPE_BUF + 8], b[TG_SHAPE_BUF + 8];
    for (int i = 0; i < n; i++)
        if (!tg_tensor_same_shape(xs[i], vs[i]) || xs[i]->dtype != vs[i]->dtype) {
            tg_tape_fail(tp, TG_ERR_SHAPE, "hvp: direction %d is %s, its input is %s", i,
                         tg_tensor_describe(vs[i], a, sizeof a),
                         tg_tensor_describe(xs[i], b, sizeof b));
            return tg_tape_status(tp);
        }
    tg_tensor **gs = tg__tape_scratch(tp, (size_t)n * sizeof *gs);
    if (!gs) return tg_tape_status(tp);
    /* Reverse over reverse: the gradient recorded, <g, v> differentiated.
     * Errors are named "hvp", the call the user made. */
    tg_status st = tg__vjp(tp, "hvp", y, NULL, n, xs, gs, true, false);
    if (st != TG_OK) return st;
    tg_tensor *dot = NULL;
    for (int i = 0; i < n; i++) {
        tg_tensor *t = tg_sum_all(tp, tg_mul(tp, gs[i], vs[i]));
        dot = dot ? tg_add(tp, dot, t) : t;
    }
    if (!dot) return tg_tape_status(tp);
    return tg__vjp(tp, "hvp", dot, NULL, n, xs, out, create_graph, false);
}

/* gradgradcheck: tg_gradcheck of G(x) = sum_i <d f / d x_i, u_i>. */
typedef struct gg_ctx {
    tg_fn fn;
    void *ctx;
    int n;
    const bool *check;
    tg_rng rng; /* for r, drawn at the first evaluation */
    double *r;  /* projection of a non-scalar output */
    int64_t r_n;
    double **u; /* u[i]: direction for checked input i */
} gg_ctx;

/* A tape constant of like's shape and dtype holding v. */
static tg_tensor *const_from(tg_tape *tp, const tg_tensor *like, const double *v)
{
    tg_tensor *t = tg_tape_alloc(tp, like->dtype, like->ndim, like->shape);
    if (!t) return NULL;
    for (int64_t i = 0; i < t->numel; i++) tg_tensor_set_flat(t, i, v[i]);
    return t;
}

static tg_tensor *gg_fn(tg_tape *tp, tg_tensor *const *inputs, void *vctx)
{
    gg_ctx *g = vctx;
    tg_tensor *out = g->fn(tp, inputs, g->ctx);
    if (!out) return NULL;
    tg_tensor *f = out;
    if (out->numel != 1) {
        if (!g->r) {
            g->r = tg__malloc((size_t)out->numel * sizeof *g->r + 1);
            if (!g->r) {
                tg_tape_fail(tp, TG_ERR_NOMEM, "gradgradcheck: out of memory");
                return NULL;
            }
            g->r_n = out->numel;
            for (int64_t i = 0; i < g->r_n; i++) g->r[i] = 2 * tg_rng_uniform(&g->rng) - 1;
        } else if (g->r_n != out->numel) {
            tg_tape_fail(tp, TG_ERR_SHAPE, "gradgradcheck: the output changed size");
            return NULL;
        }
        f = tg_sum_all(tp, tg_mul(tp, out, const_from(tp, out, g->r)));
        if (!f) return NULL;
    }
    tg_tensor **xs = tg__tape_scratch(tp, (size_t)g->n * sizeof *xs + 1);
    tg_tensor **gs = tg__tape_scratch(tp, (size_t)g->n * sizeof *gs + 1);
    if (!xs || !gs) return NULL;
    int k = 0;
    for (int i = 0; i < g->n; i++)
        if (g->check[i]) xs[k++] = inputs[i];
    if (tg__vjp(tp, "grad", f, NULL, k, xs, gs, true, false) != TG_OK) return NULL;
    tg_tensor *G = NULL;
    for (int i = 0, j = 0; i < g->n; i++) {
        if (!g->check[i]) continue;
        tg_tensor *t = tg_sum_all(tp, tg_mul(tp, gs[j], const_from(tp, xs[j], g->u[i])));
        G = G ? tg_add(tp, G, t) : t;
        j++;
    }
    return G;
}

tg_status tg_gradgradcheck(tg_fn fn, void *ctx, int n, tg_tensor *const *inputs,
                           const tg_gradcheck_options *opts, tg_compare_report *reports)
{
    tg__clear_last();
    if (!fn || n < 1 || !inputs) {
        tg__set_last(TG_ERR_NULL, "gradgradcheck: function or inputs are NULL");
        return TG_ERR_NULL;
    }
    bool any_rg = false;
    for (int i = 0; i < n; i++) {
        if (!inputs[i] || inputs[i]->magic != TG_MAGIC_USER) {
            tg__set_last(TG_ERR_ARG, "gradgradcheck: input %d is NULL or not user-owned", i);
            return TG_ERR_ARG;
        }
        any_rg = any_rg || inputs[i]->requires_grad;
    }
    gg_ctx g = {.fn = fn, .ctx = ctx, .n = n};
    bool *check = tg__calloc((size_t)n, sizeof *check);
    g.u = tg__calloc((size_t)n, sizeof *g.u);
    tg_status st = TG_OK;
    if (!check || !g.u) {
        st = TG_ERR_NOMEM;
        goto done;
    }
    g.check = check;
    uint64_t seed = opts && opts->seed ? opts->seed : 12345;
    tg_rng_seed(&g.rng, seed ^ 0x9e3779b97f4a7c15ull); /* not gradcheck's r stream */
    for (int i = 0; i < n; i++) {
        /* the inputs tg_gradcheck will check: requires_grad, or all */
        check[i] = inputs[i]->requires_grad || !any_rg;
        if (!check[i]) continue;
        g.u[i] = tg__malloc((size_t)inputs[i]->numel * sizeof(double) + 1);
        if (!g.u[i]) {
            st = TG_ERR_NOMEM;
            goto done;
        }
        for (int64_t j = 0; j < inputs[i]->numel; j++) g.u[i][j] = 2 * tg_rng_uniform(&g.rng) - 1;
    }
    st = tg_gradcheck(gg_fn, &g, n, inputs, opts, reports);
done:
    if (st == TG_ERR_NOMEM && !g.u) tg__set_last(st, "gradgradcheck: out of memory");
    for (int i = 0; i < n && g.u; i++) tg__free(g.u[i]);
    tg__free(g.u);
    tg__free(g.r);
    tg__free(check);
    return st;
}

tg_status tg_gradgradcheck_print(FILE *f, tg_fn fn, void *ctx, int n, tg_tensor *const *inputs,
                                 const tg_gradcheck_options *opts)
{
    if (n < 1) return tg_gradgradcheck(fn, ctx, n, inputs, opts, NULL);
    tg_compare_report *rep = tg__calloc((size_t)n, sizeof *rep);
    if (!rep) return TG_ERR_NOMEM;
    tg_status st = tg_gradgradcheck(fn, ctx, n, inputs, opts, rep);
    if (f) {
        if (st != TG_OK && st != TG_ERR_NUMERIC) fprintf(f, "gradgradcheck: %s\n", tg_last_error());
        for (int i = 0; i < n && (st == TG_OK || st == TG_ERR_NUMERIC); i++) {
            if (!rep[i].numel) continue;
            char label[64];
            snprintf(label, sizeof label, "gradgradcheck input %d (Hessian-vector product)", i);
            tg_compare_report_print(f, label, &rep[i]);
        }
    }
    tg__free(rep);
    return st;
}
