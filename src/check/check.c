/* Verification: tg_compare (allclose with a report) and tg_gradcheck
 * (central differences in f64 with kink detection; an f32 graph's gradient
 * is checked against differences of the function evaluated in f64). */
#include "../core/internal.h"

#include <float.h>
#include <stdlib.h>

static void report_init(tg_compare_report *r, int64_t numel)
{
    memset(r, 0, sizeof *r);
    r->ok = true;
    r->numel = numel;
    r->worst_index = -1;
}

/* Fold one element pair into the report.  The worst element is the one that
 * exceeds its tolerance by the most, or (while all pass) the one with the
 * largest error: the one max_abs reports.  Equal values (equal infinities
 * too) differ by 0; unequal ones with an infinite difference fail. */
static void report_add(tg_compare_report *r, int64_t i, double a, double b, double rtol,
                       double atol, double *worst_excess)
{
    double diff = a == b ? 0.0 : fabs(a - b);
    /* NaN fails, and so does an infinite error (against an infinite b,
     * rtol |b| would let any value through) */
    bool bad = diff != 0 && (!(diff <= atol + rtol * fabs(b)) || isinf(diff));
    if (isnan(diff)) diff = INFINITY;
    double rel = diff / fmax(fabs(b), 1e-300);
    double excess = diff - (atol + rtol * fabs(b));
    if (bad && isnan(excess)) excess = INFINITY; /* an infinite error against an infinite b */
    if (diff > r->max_abs || r->worst_index < 0) r->max_abs = fmax(r->max_abs, diff);
    if (fabs(b) > atol && rel > r->max_rel) r->max_rel = rel;
    if (bad) r->n_failed++, r->ok = false;
    bool take;
    if (bad) /* the first failure replaces a passing worst */
        take = r->n_failed == 1 || excess > *worst_excess;
    else
        take = r->n_failed == 0 && (r->worst_index < 0 || diff > r->worst_abs);
    if (take) {
        *worst_excess = excess;
        r->worst_index = i;
        r->worst_a = a;
        r->worst_b = b;
        r->worst_abs = diff;
        r->worst_rel = rel;
    }
}

bool tg_compare(const tg_tensor *a, const tg_tensor *b, double rtol, double atol,
                tg_compare_report *report)
{
    if (!a || !b) tg__set_last(TG_ERR_NULL, "compare: %s is NULL", !a ? "a" : "b");
    tg_compare_report r;
    report_init(&r, a ? a->numel : 0);
    if (!a || !b || !tg_tensor_same_shape(a, b)) {
        r.ok = false;
        r.shape_mismatch = true;
    } else {
        double worst = -INFINITY;
        bool nonzero = false;
        for (int64_t i = 0; i < a->numel; i++) {
            double x = tg_tensor_get_flat(a, i), y = tg_tensor_get_flat(b, i);
            nonzero = nonzero || fabs(x) > atol || fabs(y) > atol;
            report_add(&r, i, x, y, rtol, atol, &worst);
        }
        r.vacuous = a->numel > 0 && !nonzero;
    }
    if (report) *report = r;
    return r.ok;
}

void tg_compare_report_print(FILE *f, const char *label, const tg_compare_report *r)
{
    if (!f || !r) {
        tg__set_last(TG_ERR_NULL, "compare_report_print: %s is NULL", !f ? "f" : "report");
        return;
    }
    /* One text for the printed and the formatted report (verify.c). */
    char small[1024];
    size_t need = tg_compare_report_format(small, sizeof small, label, r);
    if (need < sizeof small) {
        fputs(small, f);
        return;
    }
    char *big = tg__malloc(need + 1);
    if (!big) {
        fputs(small, f); /* truncated rather than nothing */
        return;
    }
    tg_compare_report_format(big, need + 1, label, r);
    fputs(big, f);
    tg__free(big);
}

/* ---- gradcheck -------------------------------------------------------------- */
typedef struct gc_state {
    tg_fn fn;
    void *ctx;
    int n;
    tg_tensor *const *inputs;
    tg_tape *tp;
    double *r; /* projection of a non-scalar output, or NULL */
    int64_t out_numel;
} gc_state;

/* Evaluates sum(out * r) (or the scalar out) on a freshly reset tape. */
static tg_status gc_eval(gc_state *s, double *value, tg_tensor **out_t)
{
    tg_tape_reset(s->tp);
    tg_tensor *out = s->fn(s->tp, s->inputs, s->ctx);
    if (!out) {
        tg_status st = tg_tape_status(s->tp);
        tg__set_last(st == TG_OK ? TG_ERR_ARG : st, "gradcheck: the function failed: %s",
                     st == TG_OK ? "it returned NULL" : tg_tape_error(s->tp));
        return st == TG_OK ? TG_ERR_ARG : st;
    }
    if (s->out_numel >= 0 && out->numel != s->out_numel) {
        tg__set_last(TG_ERR_SHAPE, "gradcheck: the output changed size between evaluations");
        return TG_ERR_SHAPE;
    }
    double v = 0;
    for (int64_t i = 0; i < out->numel; i++)
        v += tg_tensor_get_flat(out, i) * (s->r ? s->r[i] : 1.0);
    *value = v;
    if (out_t) *out_t = out;
    return TG_OK;
}

/* Where the direct and the op-built rule disagree (first element). */
typedef struct rule_diff {
    bool bad;
    int64_t index;
    double direct, built;
} rule_diff;

/* Do the two analytic gradients agree to rounding?  The bound scales with
 * the elements and the gradient's largest element: the two rules sum in
 * different orders, so a small element can carry the rounding of large
 * terms.  An element that is a cancellation (terms of size 1 summing to 0)
 * keeps the rounding of its terms, which neither side shows: the absolute
 * floor is 64 ulp, or a hundredth of the check's atol if larger (1e-8 in
 * f64 by default), so the comparison is never looser than the numeric one. */
static bool rules_compare(const tg_tensor *built, const double *direct, double atol, rule_diff *d)
{
    const double ulp = built->dtype == TG_F64 ? DBL_EPSILON : FLT_EPSILON;
    const double floor = fmax(64 * ulp, 1e-2 * atol);
    double big = 0;
    for (int64_t i = 0; i < built->numel; i++) {
        const double a = fabs(direct[i]), b = fabs(tg_tensor_get_flat(built, i));
        if (isfinite(a)) big = fmax(big, a);
        if (isfinite(b)) big = fmax(big, b);
    }
    for (int64_t i = 0; i < built->numel; i++) {
        const double a = direct[i], b = tg_tensor_get_flat(built, i);
        if (a == b || (isnan(a) && isnan(b))) continue;
        if (fabs(a - b) <= 64 * ulp * (fabs(a) + fabs(b) + big) + floor) continue;
        *d = (rule_diff){true, i, a, b};
        return true;
    }
    return false;
}

/* Which node's rules disagree: for each node of the function's graph in
 * order, the vector-Jacobian product of its output with a random seed
 * with respect to its inputs, through the direct (or scalar) rules and
 * through the op-built ones; the first node where they differ.  Sets
 * *node (-1 if none differs), *op and *scalar (the node's sweep uses its
 * scalar rule).  Runs on s->tp holding fn's graph alone; the rules record
 * nodes past n_fwd, which are not visited. */
static void rules_locate(gc_state *s, int64_t n_fwd, double atol, int64_t *node, const char **op,
                         bool *scalar)
{
    *node = -1;
    tg_rng rng;
    tg_rng_seed(&rng, 4321);
    for (int64_t i = 0; i < n_fwd && *node < 0; i++) {
        /* the node array may move as the rules record nodes: copy first */
        const tg_node *nd = tg__tape_node(s->tp, i);
        const tg_op *o = nd->op;
        const int n_in = nd->n_in;
        const bool sc = nd->scalar && o->scalar;
        tg_tensor *y = nd->out;
        if (!o->backward || n_in <= 0 || (!o->direct && !sc)) continue; /* one rule only */
        tg_tensor **in = tg__calloc((size_t)n_in * 2, sizeof *in);
        double **direct = tg__calloc((size_t)n_in, sizeof *direct);
        tg_tensor *seed = tg_tape_alloc(s->tp, y->dtype, y->ndim, y->shape);
        bool ok = in && direct && seed;
        for (int k = 0; ok && k < n_in; k++) in[k] = nd->in[k];
        for (int64_t j = 0; ok && j < y->numel; j++)
            tg_tensor_set_flat(seed, j, tg_rng_uniform(&rng) * 2.0 - 1.0);
        ok = ok && tg__vjp(s->tp, "grad", y, seed, n_in, in, in + n_in, false, false) == TG_OK;
        for (int k = 0; ok && k < n_in; k++) {
            direct[k] = tg__malloc((size_t)in[k]->numel * sizeof(double) + 1);
            ok = direct[k] != NULL;
            if (ok) tg_tensor_to_f64(in[n_in + k], direct[k]);
        }
        ok = ok && tg__vjp(s->tp, "grad", y, seed, n_in, in, in + n_in, true, false) == TG_OK;
        for (int k = 0; ok && k < n_in; k++) {
            rule_diff d = {0};
            if (rules_compare(in[n_in + k], direct[k], atol, &d)) {
                *node = i;
                *op = o->name;
                *scalar = sc;
                break;
            }
        }
        for (int k = 0; direct && k < n_in; k++) tg__free(direct[k]);
        tg__free(direct);
        tg__free(in);
        if (!ok) break; /* out of memory, or a rule failed: no answer */
    }
}

/* One run of tg_gradcheck: its state, options and buffers. */
typedef struct gc_run {
    gc_state s;
    tg_gradcheck_options o;
    int n;
    bool mixed;        /* an f32 input: f32 analytic, f64 numeric */
    int nx;            /* number of checked inputs, in xs */
    bool *check;       /* check[i]: input i is checked */
    tg_tensor **xs;    /* the checked inputs */
    tg_tensor **gs;    /* their gradients, per vjp */
    double **analytic; /* their gradients through the direct rules, f64 */
    tg_tensor **in64;  /* mixed: an f64 copy per input (shared by repeats) */
    rule_diff *rules;  /* per checked input: where the two rules differ */
    bool rules_bad;    /* some rules differ */
    double f0;         /* the function's value (projected) at the point */
    tg_tensor *seed;   /* the projection r as a tensor, or NULL */
} gc_run;

static tg_status gc_nomem(void)
{
    tg__set_last(TG_ERR_NOMEM, "gradcheck: out of memory");
    return TG_ERR_NOMEM;
}

/* The arguments' checks; *any_rg: some input requires grad. */
static tg_status gc_check_args(tg_fn fn, int n, tg_tensor *const *inputs, bool *any_rg)
{
    if (!fn || n < 0 || (n && !inputs)) {
        tg__set_last(TG_ERR_NULL, "gradcheck: function or inputs are NULL");
        return TG_ERR_NULL;
    }
    *any_rg = false;
    for (int i = 0; i < n; i++) {
        if (!inputs[i] || inputs[i]->magic != TG_MAGIC_USER) {
            tg__set_last(TG_ERR_ARG, "gradcheck: input %d is NULL or not user-owned", i);
            return TG_ERR_ARG;
        }
        *any_rg = *any_rg || inputs[i]->requires_grad;
    }
    return TG_OK;
}

/* The options in effect: the defaults (looser in mixed mode) where opts
 * gives none. */
static tg_gradcheck_options gc_options(const tg_gradcheck_options *opts, bool mixed)
{
    tg_gradcheck_options o = {.eps = 1e-6, .atol = 1e-6, .rtol = 1e-5, .kink_tol = 1e-3};
    if (mixed) o.atol = 1e-5, o.rtol = 1e-4;
    if (opts) {
        if (opts->eps > 0) o.eps = opts->eps;
        if (opts->atol > 0) o.atol = opts->atol;
        if (opts->rtol > 0) o.rtol = opts->rtol;
        if (opts->kink_tol != 0) o.kink_tol = opts->kink_tol;
        o.seed = opts->seed;
    }
    return o;
}

/* The buffers, the checked inputs (those with requires_grad, or all when
 * none has it) and, in mixed mode, the f64 copies. */
static tg_status gc_setup(gc_run *g, bool any_rg)
{
    const int n = g->n;
    tg_tensor *const *inputs = g->s.inputs;
    g->check = tg__calloc((size_t)n + 1, sizeof *g->check);
    g->xs = tg__calloc((size_t)n + 1, sizeof *g->xs);
    g->gs = tg__calloc((size_t)n + 1, sizeof *g->gs);
    g->analytic = tg__calloc((size_t)n + 1, sizeof *g->analytic);
    g->in64 = g->mixed ? tg__calloc((size_t)n + 1, sizeof *g->in64) : NULL;
    g->rules = tg__calloc((size_t)n + 1, sizeof *g->rules);
    g->s.tp = tg_tape_new(NULL);
    if (!g->check || !g->xs || !g->gs || !g->analytic || !g->rules || !g->s.tp ||
        (g->mixed && !g->in64))
        return gc_nomem();
    for (int i = 0; i < n; i++) {
        /* an i64 input is data (labels): never differentiated */
        g->check[i] = inputs[i]->dtype != TG_I64 && (inputs[i]->requires_grad || !any_rg);
        if (g->check[i]) g->xs[g->nx++] = inputs[i];
        if (!g->mixed) continue;
        /* one copy per distinct tensor: an input passed twice is one
         * variable, perturbed in both places at once */
        for (int j = 0; j < i && !g->in64[i]; j++)
            if (inputs[j] == inputs[i]) g->in64[i] = g->in64[j];
        if (g->in64[i]) continue;
        g->in64[i] = inputs[i]->dtype == TG_I64 ? tg_tensor_clone(inputs[i])
                                                : tg_tensor_cast_new(inputs[i], TG_F64);
        if (!g->in64[i]) {
            tg__set_last(TG_ERR_NOMEM, "gradcheck: out of memory for an f64 copy of input %d", i);
            return TG_ERR_NOMEM;
        }
        g->in64[i]->requires_grad = inputs[i]->requires_grad;
    }
    return TG_OK;
}

/* A non-scalar output is checked through sum(out * r), r random: r (s.r),
 * the seed tensor holding it, and f0 its value. */
static tg_status gc_project(gc_run *g, const tg_tensor *out)
{
    gc_state *s = &g->s;
    s->r = tg__malloc((size_t)out->numel * sizeof *s->r + 1);
    g->seed = tg_tape_alloc(s->tp, out->dtype, out->ndim, out->shape);
    if (!s->r || !g->seed) return gc_nomem();
    tg_rng rng;
    tg_rng_seed(&rng, g->o.seed ? g->o.seed : 12345);
    for (int64_t i = 0; i < out->numel; i++) {
        s->r[i] = tg_rng_uniform(&rng) * 2.0 - 1.0;
        tg_tensor_set_flat(g->seed, i, s->r[i]);
        s->r[i] = tg_tensor_get_flat(g->seed, i); /* the value actually used */
    }
    g->f0 = 0;
    for (int64_t i = 0; i < out->numel; i++) g->f0 += tg_tensor_get_flat(out, i) * s->r[i];
    return TG_OK;
}

/* Analytic gradients, through a vector-Jacobian product with r, by the
 * direct rules (into analytic) and by the op-built rules (compared). */
static tg_status gc_analytic(gc_run *g)
{
    gc_state *s = &g->s;
    tg_tensor *out;
    tg_status st = gc_eval(s, &g->f0, &out);
    if (st != TG_OK) return st;
    s->out_numel = out->numel;
    if (out->numel != 1 && (st = gc_project(g, out)) != TG_OK) return st;
    /* an input fn does not use is never recorded: its gradient is zero */
    if ((st = tg__vjp(s->tp, "grad", out, g->seed, g->nx, g->xs, g->gs, false, true)) != TG_OK) {
        tg__set_last(st, "gradcheck: backward failed: %s", tg_tape_error(s->tp));
        return st;
    }
    for (int k = 0; k < g->nx; k++) {
        g->analytic[k] = tg__malloc((size_t)g->xs[k]->numel * sizeof(double) + 1);
        if (!g->analytic[k]) return gc_nomem();
        tg_tensor_to_f64(g->gs[k], g->analytic[k]);
    }
    /* The same gradients through the op-built rules (create_graph runs
     * every op's backward, never its direct rule): the two must agree to
     * rounding, so one gradcheck covers both rules of every op. */
    if ((st = tg__vjp(s->tp, "grad", out, g->seed, g->nx, g->xs, g->gs, true, true)) != TG_OK) {
        tg__set_last(st, "gradcheck: backward with create_graph failed: %s", tg_tape_error(s->tp));
        return st;
    }
    for (int k = 0; k < g->nx; k++)
        g->rules_bad =
            rules_compare(g->gs[k], g->analytic[k], g->o.atol, &g->rules[k]) || g->rules_bad;
    if (g->mixed) {
        /* From here on fn sees the f64 copies: f0 and every difference are
         * f64 evaluations of the same function at the same point (the f32
         * values convert exactly). */
        s->inputs = g->in64;
        if ((st = gc_eval(s, &g->f0, NULL)) != TG_OK) return st;
    }
    return TG_OK;
}

/* Numeric gradient of checked input i (the k-th checked), element by
 * element while *st is TG_OK, compared with the analytic one into r. */
static void gc_numeric_input(gc_run *g, int i, int k, tg_status *st, tg_compare_report *r)
{
    const tg_gradcheck_options *o = &g->o;
    tg_tensor *x = g->s.inputs[i];
    double *v = x->data; /* f64: an original, or its copy in mixed mode */
    r->numel = x->numel;
    double worst = -INFINITY;
    bool nonzero = false;
    for (int64_t j = 0; j < x->numel && *st == TG_OK; j++) {
        double saved = v[j], fp, fm;
        v[j] = saved + o->eps;
        *st = gc_eval(&g->s, &fp, NULL);
        v[j] = saved - o->eps;
        if (*st == TG_OK) *st = gc_eval(&g->s, &fm, NULL);
        v[j] = saved;
        if (*st != TG_OK) break;
        double num = (fp - fm) / (2 * o->eps);
        double dp = (fp - g->f0) / o->eps, dm = (g->f0 - fm) / o->eps;
        /* A kink within eps shows as one-sided slopes that disagree far
         * more than curvature explains (h f'' is ~1e-6 for smooth f). */
        if (o->kink_tol > 0 && fabs(dp - dm) > o->kink_tol * fmax(1.0, fabs(dp) + fabs(dm))) {
            r->n_skipped++;
            continue;
        }
        double a = g->analytic[k][j];
        nonzero = nonzero || fabs(a) > o->atol || fabs(num) > o->atol;
        report_add(r, j, a, num, o->rtol, o->atol, &worst);
    }
    r->vacuous = r->numel > r->n_skipped && !nonzero;
    const rule_diff *d = &g->rules[k];
    if (d->bad) {
        r->ok = false;
        r->rules_disagree = true;
        r->rules_index = d->index;
        r->rules_direct = d->direct;
        r->rules_built = d->built;
    }
}

/* The status of a check that ran (st: TG_OK, or an evaluation failed);
 * failed: some element's numeric and analytic gradients differ.  Rules
 * that disagree are named by their op where rules_locate finds it. */
static tg_status gc_verdict(gc_run *g, tg_status st, bool failed, tg_tensor *const *inputs)
{
    if (st == TG_OK && g->rules_bad) {
        /* name the op: at the point checked (fn's graph on a fresh tape) */
        int64_t node = -1;
        const char *op = NULL;
        bool scalar = false;
        g->s.inputs = inputs; /* the originals, as for the analytic gradients */
        double v;
        if (gc_eval(&g->s, &v, NULL) == TG_OK)
            rules_locate(&g->s, tg__tape_num_nodes(g->s.tp), g->o.atol, &node, &op, &scalar);
        st = TG_ERR_NUMERIC;
        if (node >= 0)
            tg__set_last(st,
                         "gradcheck: node %lld (%s): its %s rule and its op-built rule give "
                         "different gradients",
                         (long long)node, op, scalar ? "scalar" : "direct");
        else
            tg__set_last(st, "gradcheck: an op's direct rule and its op-built rule give different "
                             "gradients (see the report's rules_* fields)");
    } else if (st == TG_OK && failed) {
        st = TG_ERR_NUMERIC;
        tg__set_last(st, "gradcheck: analytic and numeric gradients differ");
    }
    return st;
}

static void gc_free(gc_run *g)
{
    tg_tape_free(g->s.tp);
    for (int k = 0; k < g->nx && g->analytic; k++) tg__free(g->analytic[k]);
    tg__free(g->analytic);
    tg__free(g->rules);
    tg__free(g->s.r);
    tg__free(g->gs);
    tg__free(g->xs);
    tg__free(g->check);
    for (int i = 0; i < g->n && g->in64; i++) {
        bool dup = false;
        for (int j = 0; j < i && !dup; j++) dup = g->in64[j] == g->in64[i];
        if (!dup) tg_tensor_free(g->in64[i]);
    }
    tg__free(g->in64);
}

tg_status tg_gradcheck(tg_fn fn, void *ctx, int n, tg_tensor *const *inputs,
                       const tg_gradcheck_options *opts, tg_compare_report *reports)
{
    tg__clear_last();
    bool any_rg;
    tg_status st = gc_check_args(fn, n, inputs, &any_rg);
    if (st != TG_OK) return st;
    gc_run g = {.s = {fn, ctx, n, inputs, NULL, NULL, -1}, .n = n};
    /* An f32 input switches to mixed mode: f32 analytic, f64 numeric. */
    for (int i = 0; i < n; i++)
        g.mixed = g.mixed || ((inputs[i]->requires_grad || !any_rg) && inputs[i]->dtype == TG_F32);
    g.o = gc_options(opts, g.mixed);
    if ((st = gc_setup(&g, any_rg)) == TG_OK && (st = gc_analytic(&g)) == TG_OK) {
        /* Numeric gradients, element by element. */
        bool failed = false;
        for (int i = 0, k = 0; i < n; i++) {
            tg_compare_report r;
            report_init(&r, 0);
            r.f32_vs_f64 = g.check[i] && inputs[i]->dtype == TG_F32;
            if (g.check[i]) {
                gc_numeric_input(&g, i, k++, &st, &r);
                failed = failed || !r.ok;
            }
            if (reports) reports[i] = r;
        }
        st = gc_verdict(&g, st, failed, inputs);
    }
    gc_free(&g);
    return st;
}

tg_status tg_gradcheck_print(FILE *f, tg_fn fn, void *ctx, int n, tg_tensor *const *inputs,
                             const tg_gradcheck_options *opts)
{
    tg_compare_report *rep = tg__calloc((size_t)n + 1, sizeof *rep);
    if (!rep) return TG_ERR_NOMEM;
    tg_status st = tg_gradcheck(fn, ctx, n, inputs, opts, rep);
    if (f) {
        bool rules = false;
        for (int i = 0; i < n && st == TG_ERR_NUMERIC; i++) rules = rules || rep[i].rules_disagree;
        /* an error, or the op whose rules disagree (the reports cannot name it) */
        if ((st != TG_OK && st != TG_ERR_NUMERIC) || rules)
            fprintf(f, "%s\n", tg_last_error()); /* already says "gradcheck:" */
        for (int i = 0; i < n && (st == TG_OK || st == TG_ERR_NUMERIC); i++) {
            if (!rep[i].numel) continue;
            char label[48];
            snprintf(label, sizeof label, "gradcheck input %d", i);
            tg_compare_report_print(f, label, &rep[i]);
        }
    }
    tg__free(rep);
    return st;
}
