/* Verification: tg_compare (allclose with a report) and tg_gradcheck
 * (central differences in f64 with kink detection). */
#include "../core/internal.h"

#include <stdlib.h>

static void report_init(tg_compare_report *r, int64_t numel)
{
    memset(r, 0, sizeof *r);
    r->ok = true;
    r->numel = numel;
    r->worst_index = -1;
}

/* Fold one element pair into the report.  The worst element is the one that
 * exceeds its tolerance by the most, or (while all pass) the largest error. */
static void report_add(tg_compare_report *r, int64_t i, double a, double b, double rtol,
                       double atol, double *worst_excess)
{
    double diff = fabs(a - b);
    bool bad = !(diff <= atol + rtol * fabs(b)); /* NaN fails */
    if (isnan(diff)) diff = INFINITY;
    double rel = diff / fmax(fabs(b), 1e-300);
    double excess = diff - (atol + rtol * fabs(b));
    if (diff > r->max_abs || r->worst_index < 0) r->max_abs = fmax(r->max_abs, diff);
    if (fabs(b) > atol && rel > r->max_rel) r->max_rel = rel;
    if (bad) r->n_failed++, r->ok = false;
    if (r->worst_index < 0 || excess > *worst_excess) {
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
    if (!f || !r) return;
    if (!label) label = "compare";
    if (r->shape_mismatch) {
        fprintf(f, "%s: FAIL: shapes differ\n", label);
        return;
    }
    fprintf(f, "%s: %s  %lld elements, %lld out of tolerance", label, r->ok ? "ok" : "FAIL",
            (long long)r->numel, (long long)r->n_failed);
    if (r->n_skipped) fprintf(f, ", %lld skipped at kinks", (long long)r->n_skipped);
    fputc('\n', f);
    if (r->worst_index >= 0)
        fprintf(f, "  worst at [%lld]: %.17g vs %.17g  abs err %.3g  rel err %.3g\n",
                (long long)r->worst_index, r->worst_a, r->worst_b, r->worst_abs, r->worst_rel);
    fprintf(f, "  max abs err %.3g, max rel err %.3g%s\n", r->max_abs, r->max_rel,
            r->vacuous ? "  (vacuous: both sides ~0 everywhere)" : "");
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

tg_status tg_gradcheck(tg_fn fn, void *ctx, int n, tg_tensor *const *inputs,
                       const tg_gradcheck_options *opts, tg_compare_report *reports)
{
    tg__clear_last();
    if (!fn || n < 0 || (n && !inputs)) {
        tg__set_last(TG_ERR_NULL, "gradcheck: function or inputs are NULL");
        return TG_ERR_NULL;
    }
    tg_gradcheck_options o = {.eps = 1e-6, .atol = 1e-6, .rtol = 1e-5, .kink_tol = 1e-3};
    if (opts) {
        if (opts->eps > 0) o.eps = opts->eps;
        if (opts->atol > 0) o.atol = opts->atol;
        if (opts->rtol > 0) o.rtol = opts->rtol;
        if (opts->kink_tol != 0) o.kink_tol = opts->kink_tol;
        o.seed = opts->seed;
    }
    bool any_rg = false;
    for (int i = 0; i < n; i++) {
        if (!inputs[i] || inputs[i]->magic != TG_MAGIC_USER) {
            tg__set_last(TG_ERR_ARG, "gradcheck: input %d is NULL or not user-owned", i);
            return TG_ERR_ARG;
        }
        any_rg = any_rg || inputs[i]->requires_grad;
    }
    bool *check = tg__calloc((size_t)n + 1, sizeof *check);
    tg_tensor **xs = tg__calloc((size_t)n + 1, sizeof *xs);
    tg_tensor **gs = tg__calloc((size_t)n + 1, sizeof *gs);
    double **analytic = tg__calloc((size_t)n + 1, sizeof *analytic);
    gc_state s = {fn, ctx, n, inputs, tg_tape_new(NULL), NULL, -1};
    tg_status st = TG_OK;
    int nx = 0;
    if (!check || !xs || !gs || !analytic || !s.tp) {
        st = TG_ERR_NOMEM;
        tg__set_last(st, "gradcheck: out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        check[i] = inputs[i]->requires_grad || !any_rg;
        if (check[i] && inputs[i]->dtype != TG_F64) {
            st = TG_ERR_DTYPE;
            tg__set_last(st,
                         "gradcheck: input %d is %s; finite differences need f64 inputs "
                         "(convert with tg_tensor_cast_new)",
                         i, tg_dtype_name(inputs[i]->dtype));
            goto done;
        }
        if (check[i]) xs[nx++] = inputs[i];
    }

    /* Analytic gradients, through a vector-Jacobian product with r. */
    double f0;
    tg_tensor *out;
    if ((st = gc_eval(&s, &f0, &out)) != TG_OK) goto done;
    s.out_numel = out->numel;
    tg_tensor *seed = NULL;
    if (out->numel != 1) {
        s.r = tg__malloc((size_t)out->numel * sizeof *s.r + 1);
        seed = tg_tape_alloc(s.tp, out->dtype, out->ndim, out->shape);
        if (!s.r || !seed) {
            st = TG_ERR_NOMEM;
            tg__set_last(st, "gradcheck: out of memory");
            goto done;
        }
        tg_rng rng;
        tg_rng_seed(&rng, o.seed ? o.seed : 12345);
        for (int64_t i = 0; i < out->numel; i++) {
            s.r[i] = tg_rng_uniform(&rng) * 2.0 - 1.0;
            tg_tensor_set_flat(seed, i, s.r[i]);
            s.r[i] = tg_tensor_get_flat(seed, i); /* the value actually used */
        }
        f0 = 0;
        for (int64_t i = 0; i < out->numel; i++) f0 += tg_tensor_get_flat(out, i) * s.r[i];
    }
    if ((st = tg_vjp(s.tp, out, seed, nx, xs, gs, false)) != TG_OK) {
        tg__set_last(st, "gradcheck: backward failed: %s", tg_tape_error(s.tp));
        goto done;
    }
    for (int k = 0; k < nx; k++) {
        analytic[k] = tg__malloc((size_t)xs[k]->numel * sizeof(double) + 1);
        if (!analytic[k]) {
            st = TG_ERR_NOMEM;
            tg__set_last(st, "gradcheck: out of memory");
            goto done;
        }
        tg_tensor_to_f64(gs[k], analytic[k]);
    }

    /* Numeric gradients, element by element. */
    bool failed = false;
    for (int i = 0, k = 0; i < n; i++) {
        tg_compare_report r;
        report_init(&r, 0);
        if (!check[i]) {
            if (reports) reports[i] = r;
            continue;
        }
        tg_tensor *x = inputs[i];
        double *v = x->data;
        r.numel = x->numel;
        double worst = -INFINITY;
        bool nonzero = false;
        for (int64_t j = 0; j < x->numel && st == TG_OK; j++) {
            double saved = v[j], fp, fm;
            v[j] = saved + o.eps;
            st = gc_eval(&s, &fp, NULL);
            v[j] = saved - o.eps;
            if (st == TG_OK) st = gc_eval(&s, &fm, NULL);
            v[j] = saved;
            if (st != TG_OK) break;
            double num = (fp - fm) / (2 * o.eps);
            double dp = (fp - f0) / o.eps, dm = (f0 - fm) / o.eps;
            /* A kink within eps shows as one-sided slopes that disagree far
             * more than curvature explains (h f'' is ~1e-6 for smooth f). */
            if (o.kink_tol > 0 && fabs(dp - dm) > o.kink_tol * fmax(1.0, fabs(dp) + fabs(dm))) {
                r.n_skipped++;
                continue;
            }
            double a = analytic[k][j];
            nonzero = nonzero || fabs(a) > o.atol || fabs(num) > o.atol;
            report_add(&r, j, a, num, o.rtol, o.atol, &worst);
        }
        r.vacuous = r.numel > r.n_skipped && !nonzero;
        if (!r.ok) failed = true;
        if (reports) reports[i] = r;
        k++;
    }
    if (st == TG_OK && failed) {
        st = TG_ERR_NUMERIC;
        tg__set_last(st, "gradcheck: analytic and numeric gradients differ");
    }
done:
    tg_tape_free(s.tp);
    for (int k = 0; k < nx && analytic; k++) tg__free(analytic[k]);
    tg__free(analytic);
    tg__free(s.r);
    tg__free(gs);
    tg__free(xs);
    tg__free(check);
    return st;
}

tg_status tg_gradcheck_print(FILE *f, tg_fn fn, void *ctx, int n, tg_tensor *const *inputs,
                             const tg_gradcheck_options *opts)
{
    tg_compare_report *rep = tg__calloc((size_t)n + 1, sizeof *rep);
    if (!rep) return TG_ERR_NOMEM;
    tg_status st = tg_gradcheck(fn, ctx, n, inputs, opts, rep);
    if (f) {
        if (st != TG_OK && st != TG_ERR_NUMERIC) fprintf(f, "gradcheck: %s\n", tg_last_error());
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
