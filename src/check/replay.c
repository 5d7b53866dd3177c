/* The f32/f64 replay: a function run in both dtypes, node by node, to find
 * where single precision starts to lose the result (tg_replay_f64).  Built
 * on the public autodiff API plus read-only looks at the tape's nodes. */
#include "../core/internal.h"

#include <float.h>

/* ---- replay in f32 and f64 ---------------------------------------------------- */
/* Normwise relative gap of a (f32 side) against b (f64 side). */
static double gap_of(const tg_tensor *a, const tg_tensor *b, double *max_abs, int64_t *worst,
                     double *va, double *vb)
{
    double m = 0, scale = 0;
    int64_t w = a->numel ? 0 : -1;
    for (int64_t i = 0; i < a->numel; i++) {
        double x = tg_tensor_get_flat(a, i), y = tg_tensor_get_flat(b, i);
        double d = fabs(x - y);
        if (isnan(d)) d = INFINITY;
        if (d > m) m = d, w = i;
        scale = fmax(scale, fabs(y));
    }
    if (max_abs) *max_abs = m;
    if (worst) *worst = w;
    if (va) *va = w >= 0 ? tg_tensor_get_flat(a, w) : 0;
    if (vb) *vb = w >= 0 ? tg_tensor_get_flat(b, w) : 0;
    if (m == 0) return 0;
    return scale > 0 ? m / scale : INFINITY;
}

void tg_replay_report_free(tg_replay_report *rep)
{
    if (!rep) return;
    tg__free(rep->e);
    rep->e = NULL;
    rep->n = 0;
}

/* One run of tg_replay_f64: the function recorded on an f32 tape (side 0)
 * and an f64 tape (side 1). */
typedef struct replay {
    int n;                      /* inputs */
    tg_tape *tp[2];             /* the tapes */
    tg_tensor **in[2];          /* the inputs cast to each side's dtype */
    tg_tensor *out[2];          /* fn's output on each side */
    tg_tensor *seed[2];         /* the projection of a non-scalar output */
    tg_tensor **xs[2], **gs[2]; /* the tensors compared, and their adjoints */
    int64_t nn;                 /* nodes compared */
} replay;

static const tg_dtype k_replay_dtypes[2] = {TG_F32, TG_F64};

static tg_status replay_nomem(void)
{
    tg__set_last(TG_ERR_NOMEM, "replay: out of memory");
    return TG_ERR_NOMEM;
}

/* fn on each side's copies of the inputs. */
static tg_status replay_record(replay *r, tg_fn fn, void *ctx, tg_tensor *const *inputs)
{
    for (int s = 0; s < 2; s++) {
        const tg_dtype dt = k_replay_dtypes[s];
        for (int i = 0; i < r->n; i++) {
            r->in[s][i] = tg_tensor_cast_new(inputs[i], dt);
            if (!r->in[s][i]) return replay_nomem();
            r->in[s][i]->requires_grad = inputs[i]->requires_grad;
        }
        r->out[s] = fn(r->tp[s], r->in[s], ctx);
        if (!r->out[s]) {
            const tg_status ts = tg_tape_status(r->tp[s]);
            const tg_status st = ts != TG_OK ? ts : TG_ERR_ARG;
            tg__set_last(st, "replay: the function failed in %s: %s", tg_dtype_name(dt),
                         ts != TG_OK ? tg_tape_error(r->tp[s]) : "it returned NULL");
            return st;
        }
    }
    if (!tg_tensor_same_shape(r->out[0], r->out[1])) {
        tg__set_last(TG_ERR_SHAPE, "replay: the f32 and f64 outputs differ in shape");
        return TG_ERR_SHAPE;
    }
    return TG_OK;
}

/* The nodes compared: node by node up to the first structural difference. */
static void replay_common_nodes(replay *r, tg_replay_report *rep)
{
    int64_t nn = tg__tape_num_nodes(r->tp[0]), nn64 = tg__tape_num_nodes(r->tp[1]);
    if (nn64 != nn) rep->structure_differs = true;
    if (nn64 < nn) nn = nn64;
    for (int64_t i = 0; i < nn; i++) {
        const tg_node *a = tg__tape_node(r->tp[0], i), *b = tg__tape_node(r->tp[1], i);
        if (a->op != b->op || !tg_tensor_same_shape(a->out, b->out)) {
            rep->structure_differs = true;
            nn = i;
            break;
        }
    }
    r->nn = nn;
}

/* The adjoints of every input and compared node, one sweep per tape,
 * seeded with the same (f32-representable) projection. */
static tg_status replay_adjoints(replay *r, tg_replay_report *rep, int nx)
{
    rep->e = tg__calloc((size_t)nx + 1, sizeof *rep->e);
    for (int s = 0; s < 2; s++) r->xs[s] = tg__malloc((size_t)nx * sizeof(tg_tensor *) + 1);
    for (int s = 0; s < 2; s++) r->gs[s] = tg__malloc((size_t)nx * sizeof(tg_tensor *) + 1);
    if (!rep->e || !r->xs[0] || !r->xs[1] || !r->gs[0] || !r->gs[1]) return replay_nomem();
    tg_rng rng;
    tg_rng_seed(&rng, 12345);
    for (int s = 0; s < 2; s++) {
        if (r->out[s]->numel != 1) {
            r->seed[s] = tg_tensor_new(r->out[s]->dtype, r->out[s]->ndim, r->out[s]->shape);
            if (!r->seed[s]) return replay_nomem();
        }
    }
    for (int64_t j = 0; r->seed[0] && j < r->out[0]->numel; j++) {
        tg_tensor_set_flat(r->seed[0], j, 2 * tg_rng_uniform(&rng) - 1);
        tg_tensor_set_flat(r->seed[1], j, tg_tensor_get_flat(r->seed[0], j));
    }
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < r->n; i++) r->xs[s][i] = r->in[s][i];
        for (int64_t i = 0; i < r->nn; i++) r->xs[s][r->n + i] = tg__tape_node(r->tp[s], i)->out;
        tg_status st =
            tg__vjp(r->tp[s], "grad", r->out[s], r->seed[s], nx, r->xs[s], r->gs[s], false, false);
        if (st != TG_OK) {
            tg__set_last(st, "replay: backward failed in %s: %s", tg_dtype_name(k_replay_dtypes[s]),
                         tg_tape_error(r->tp[s]));
            return st;
        }
    }
    return TG_OK;
}

/* The report's entries (each compared tensor's value and adjoint gaps) and
 * where the gap starts. */
static void replay_entries(const replay *r, tg_replay_report *rep, int nx)
{
    const int n = r->n;
    char d[TG_SHAPE_BUF + 8];
    for (int k = 0; k < nx; k++) {
        tg_replay_entry *e = &rep->e[k];
        e->node = k < n ? -1 : k - n;
        e->input = k < n ? k : -1;
        e->numel = r->xs[0][k]->numel;
        tg__shape_str(r->xs[0][k], d, sizeof d);
        if (k < n)
            snprintf(e->label, sizeof e->label, "$%d input  %.40s", k, d);
        else
            snprintf(e->label, sizeof e->label, "%%%d = %.20s  %.40s", k - n,
                     tg__tape_node(r->tp[0], k - n)->op->name, d);
        e->gap = gap_of(r->xs[0][k], r->xs[1][k], &e->max_abs, &e->worst_index, &e->v32, &e->v64);
        e->adj_gap = gap_of(r->gs[0][k], r->gs[1][k], &e->adj_max_abs, NULL, NULL, NULL);
        e->flagged = !(e->gap <= rep->threshold) || !(e->adj_gap <= rep->threshold);
        rep->n_flagged += e->flagged;
    }
    /* Where the gap starts: values err forward, so the first value gap in
     * tape order; failing that, adjoints err backward, so the last adjoint
     * gap in tape order (the one nearest the output). */
    for (int k = 0; k < nx && rep->first_flagged < 0; k++)
        if (!(rep->e[k].gap <= rep->threshold)) rep->first_flagged = k;
    for (int k = nx - 1; k >= 0 && rep->first_flagged < 0; k--)
        if (!(rep->e[k].adj_gap <= rep->threshold)) rep->first_flagged = k;
    rep->n = nx;
}

static void replay_free(replay *r)
{
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < r->n && r->in[s]; i++) tg_tensor_free(r->in[s][i]);
        tg__free(r->in[s]);
        tg__free(r->xs[s]);
        tg__free(r->gs[s]);
        tg_tensor_free(r->seed[s]);
        tg_tape_free(r->tp[s]);
    }
}

tg_status tg_replay_f64(tg_fn fn, void *ctx, int n, tg_tensor *const *inputs, double threshold,
                        tg_replay_report *rep)
{
    tg__clear_last();
    if (rep) memset(rep, 0, sizeof *rep), rep->first_flagged = -1;
    if (!fn || !rep || n < 0 || (n && !inputs)) {
        tg__set_last(TG_ERR_NULL, "replay: function, inputs or report is NULL");
        return TG_ERR_NULL;
    }
    for (int i = 0; i < n; i++)
        if (!inputs[i]) {
            tg__set_last(TG_ERR_NULL, "replay: input %d is NULL", i);
            return TG_ERR_NULL;
        }
    rep->threshold = threshold > 0 ? threshold : 1e-4;
    replay r = {.n = n,
                .tp = {tg_tape_new(NULL), tg_tape_new(NULL)},
                .in = {tg__calloc((size_t)n + 1, sizeof(tg_tensor *)),
                       tg__calloc((size_t)n + 1, sizeof(tg_tensor *))}};
    tg_status st = !r.tp[0] || !r.tp[1] || !r.in[0] || !r.in[1] ? replay_nomem() : TG_OK;
    if (st == TG_OK) st = replay_record(&r, fn, ctx, inputs);
    if (st == TG_OK) {
        replay_common_nodes(&r, rep);
        const int nx = n + (int)r.nn;
        st = replay_adjoints(&r, rep, nx);
        if (st == TG_OK) replay_entries(&r, rep, nx);
    }
    if (st != TG_OK) tg_replay_report_free(rep);
    replay_free(&r);
    return st;
}

void tg_replay_report_print(FILE *f, const tg_replay_report *rep)
{
    if (!f || !rep) {
        tg__set_last(TG_ERR_NULL, "replay_report_print: %s is NULL", !f ? "f" : "report");
        return;
    }
    fprintf(f,
            "replay in f32 and f64: %d tensors; gap = max|v32 - v64| / max|v64| "
            "(f32 epsilon %.3g), flagged above %.3g\n",
            rep->n, (double)FLT_EPSILON, rep->threshold);
    fprintf(f, "  %-32s %11s %11s  %s\n", "tensor", "value gap", "adjoint gap", "");
    for (int k = 0; k < rep->n; k++) {
        const tg_replay_entry *e = &rep->e[k];
        fprintf(f, "  %-32.32s %11.3g %11.3g  %s\n", e->label, e->gap, e->adj_gap,
                e->flagged ? "FLAGGED" : "");
    }
    if (rep->structure_differs)
        fprintf(f, "the f32 and f64 tapes recorded different ops; compared up to the first "
                   "difference\n");
    if (!rep->n_flagged) {
        fprintf(f, "no gap above %.3g: the f32/f64 differences are rounding\n", rep->threshold);
    } else {
        const tg_replay_entry *e = &rep->e[rep->first_flagged];
        fprintf(f,
                "%d tensor(s) flagged; the gap starts at %s (value gap %.3g, adjoint gap "
                "%.3g; value [%lld]: f32 %.9g, f64 %.17g)\n",
                rep->n_flagged, e->label, e->gap, e->adj_gap, (long long)e->worst_index, e->v32,
                e->v64);
    }
}
