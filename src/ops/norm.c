/* Normalisation layers: layer_norm, batch_norm, group_norm, each one fused
 * op with its own rules.
 *
 * All three are one computation on x seen as (P, C, S): C channels in G
 * groups of cg = C/G, each element normalised with the mean and the biased
 * variance of its set, then scaled and shifted per channel:
 *
 *   y = (x - mean) rstd w[c] + b[c],   rstd = 1 / sqrt(var + eps)
 *
 *   layer_norm  P = leading extents, C = the last naxes extents, S = 1,
 *               G = 1: one set per p (the affine is per normalised element);
 *   group_norm  x (N, C, ...): P = N, S = spatial, G = groups: one set per
 *               (p, group);
 *   batch_norm  P = N, S = spatial, G = C: one set per channel, over every
 *               p and s ("batch" sets).
 *
 * Each forward saves mean and rstd per set (aux 0 and 1).  With xhat =
 * (x - mean) rstd and gh = g w[c], over each set of n elements
 *
 *   dx = rstd (gh - mean(gh) - xhat mean(gh xhat)),
 *   dw[c] = sum g xhat,  db[c] = sum g  (over the elements of channel c).
 *
 * batch_norm in evaluation mode normalises with the running statistics,
 * constants: dx = gh rstd.  The direct rule computes these with loops (sums
 * in double); the op-built rule writes the same with ops, recomputing the
 * statistics from x, so that create_graph differentiates through them. */
#include "norm.h"

/* Arena scratch of parts[0] + ... + parts[n-1] doubles (at least one, so
 * an empty array still gets a valid pointer).  The parts are counts of
 * sets and channels, each at most numel(x); a sum or size that overflowed
 * would ask the arena for SIZE_MAX bytes, which it refuses with its
 * out-of-memory error. */
static double *scratch_doubles(tg_tape *tp, int n, const int64_t *parts)
{
    size_t len = 0, bytes;
    bool ok = true;
    for (int i = 0; i < n; i++)
        ok = ok && parts[i] >= 0 && tg__add_size(len, (size_t)parts[i], &len);
    if (!ok || !tg__mul_size(len ? len : 1, sizeof(double), &bytes)) bytes = SIZE_MAX;
    return tg__tape_scratch(tp, bytes);
}

/* ---- the rules --------------------------------------------------------------- */

/* Shapes of x seen as (P, G, cg S) (the sets) and (P, C, S) (the channels). */
static void views(const norm_attr *a, int64_t sets[3], int64_t chans[3])
{
    sets[0] = a->P, sets[1] = a->G, sets[2] = norm_extents(2, (const int64_t[]){a->cg, a->S});
    chans[0] = a->P, chans[1] = a->C, chans[2] = a->S;
}

/* The views and reduction axes both op-built rules use: sv the sets, cv
 * the channels, pc a per-channel tensor against cv; the nsa axes sa of sv
 * hold one set. */
typedef struct norm_views {
    int64_t sv[3], cv[3], pc[3];
    int nsa;
    const int *sa;
} norm_views;

static const int k_batch_axes[2] = {0, 2}, k_set_axis[1] = {2};

static norm_views norm_views_of(const norm_attr *a)
{
    norm_views v = {
        .pc = {1, a->C, 1}, .nsa = a->batch ? 2 : 1, .sa = a->batch ? k_batch_axes : k_set_axis};
    views(a, v.sv, v.cv);
    return v;
}

/* xhat in the channel view, recomputed with ops from x (with x's own
 * statistics, so that create_graph differentiates through them: rstd in
 * the set view into *rstd_s) or from the constant running statistics of
 * the aux (rstd in the channel view into *rstd_c). */
static tg_tensor *norm_xhat(tg_tape *tp, const tg_node *n, const norm_views *v, tg_tensor **rstd_s,
                            tg_tensor **rstd_c)
{
    const norm_attr *a = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0);
    *rstd_s = *rstd_c = NULL;
    if (a->stats) {
        tg_tensor *x_s = tg_reshape(tp, x, 3, v->sv);
        tg_tensor *xc = tg_sub(tp, x_s, tg_mean(tp, x_s, v->nsa, v->sa, true));
        tg_tensor *var = tg_mean(tp, tg_square(tp, xc), v->nsa, v->sa, true);
        *rstd_s = tg_pow_scalar(tp, tg_add_scalar(tp, var, a->eps), -0.5);
        return tg_reshape(tp, tg_mul(tp, xc, *rstd_s), 3, v->cv);
    }
    tg_tensor *mu = tg_reshape(tp, tg_node_aux(n, 0), 3, v->pc);
    *rstd_c = tg_reshape(tp, tg_node_aux(n, 1), 3, v->pc);
    return tg_mul(tp, tg_sub(tp, tg_reshape(tp, x, 3, v->cv), mu), *rstd_c);
}

/* The derivative of xhat (channel view) applied to u (channel view): with
 * x's statistics rstd (u - mean(u) - xhat mean(xhat u)) over each set, a
 * symmetric operator, so the backward rule applies it to gh = g w and the
 * tangent rule to tx; with the running statistics u rstd. */
static tg_tensor *norm_dxhat(tg_tape *tp, const norm_attr *a, const norm_views *v, tg_tensor *u,
                             tg_tensor *xhat_c, tg_tensor *rstd_s, tg_tensor *rstd_c)
{
    if (!a->stats) return tg_mul(tp, u, rstd_c);
    tg_tensor *u_s = tg_reshape(tp, u, 3, v->sv);
    tg_tensor *xhat_s = tg_reshape(tp, xhat_c, 3, v->sv);
    tg_tensor *m = tg_mean(tp, u_s, v->nsa, v->sa, true);
    tg_tensor *mx = tg_mean(tp, tg_mul(tp, u_s, xhat_s), v->nsa, v->sa, true);
    tg_tensor *d = tg_mul(tp, rstd_s, tg_sub(tp, tg_sub(tp, u_s, m), tg_mul(tp, xhat_s, mx)));
    return tg_reshape(tp, d, 3, v->cv);
}

/* t + u, either NULL for zero */
static tg_tensor *add_opt(tg_tape *tp, tg_tensor *t, tg_tensor *u)
{
    return !t ? u : !u ? t : tg_add(tp, t, u);
}

/* Tangent: dy = dxhat(tx) w + xhat tw + tb (norm_dxhat). */
static tg_status norm_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const norm_attr *a = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0);
    tg_tensor *w = a->has_w ? tg_node_input(n, 1) : NULL;
    const int bi = a->has_w ? 2 : 1;
    if (x->numel == 0) return TG_OK; /* nothing to carry: a zero tangent */
    const norm_views v = norm_views_of(a);
    tg_tensor *rstd_s, *rstd_c;
    tg_tensor *xhat_c = norm_xhat(tp, n, &v, &rstd_s, &rstd_c), *t = NULL;
    if (tin[0]) {
        tg_tensor *tx = tg_reshape(tp, tin[0], 3, v.cv);
        tg_tensor *d = norm_dxhat(tp, a, &v, tx, xhat_c, rstd_s, rstd_c);
        t = w ? tg_mul(tp, d, tg_reshape(tp, w, 3, v.pc)) : d;
    }
    if (w && tin[1]) t = add_opt(tp, t, tg_mul(tp, xhat_c, tg_reshape(tp, tin[1], 3, v.pc)));
    if (a->has_b && tin[bi]) {
        tg_tensor *tb = tg_reshape(tp, tin[bi], 3, v.pc);
        t = t ? tg_add(tp, t, tb) : tg_broadcast_to(tp, tb, 3, v.cv);
    }
    *tout = t ? tg_reshape(tp, t, x->ndim, x->shape) : NULL;
    return TG_OK;
}

/* "eps=1e-05", with "groups=2, " first for group_norm and ", eval" last
 * for a batch_norm with its running statistics */
static int norm_attrs(const tg_node *n, char *buf, size_t size)
{
    const norm_attr *a = tg_node_saved(n);
    char gr[40] = "";
    if (a->kind == NORM_GROUP) snprintf(gr, sizeof gr, "groups=%lld, ", (long long)a->G);
    return snprintf(buf, size, "%seps=%g%s", gr, a->eps, a->stats ? "" : ", eval");
}

/* The op-built rule, with ops on the node's inputs (and, in evaluation
 * mode, the constant statistics of the aux): see the top of the file. */
static tg_status norm_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const norm_attr *a = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0);
    tg_tensor *w = a->has_w ? tg_node_input(n, 1) : NULL;
    const int bi = a->has_w ? 2 : 1;
    const bool need_x = tg_node_needs_grad(n, 0), need_w = w && tg_node_needs_grad(n, 1),
               need_b = a->has_b && tg_node_needs_grad(n, bi);
    if (x->numel == 0) {
        /* no element: the sums over each channel are 0 (and no mean of an
         * empty set is formed) */
        if (need_x) gin[0] = tg__const_full(tp, x->dtype, x->ndim, x->shape, 0.0);
        if (need_w) gin[1] = tg__const_full(tp, w->dtype, w->ndim, w->shape, 0.0);
        if (need_b) {
            const tg_tensor *b = tg_node_input(n, bi);
            gin[bi] = tg__const_full(tp, b->dtype, b->ndim, b->shape, 0.0);
        }
        return tg_tape_status(tp);
    }
    const norm_views v = norm_views_of(a);
    tg_tensor *g_c = tg_reshape(tp, g, 3, v.cv);
    tg_tensor *rstd_s, *rstd_c;
    tg_tensor *xhat_c = norm_xhat(tp, n, &v, &rstd_s, &rstd_c);
    if (need_x) {
        tg_tensor *gh = w ? tg_mul(tp, g_c, tg_reshape(tp, w, 3, v.pc)) : g_c;
        tg_tensor *dx = norm_dxhat(tp, a, &v, gh, xhat_c, rstd_s, rstd_c);
        gin[0] = tg_reshape(tp, dx, x->ndim, x->shape);
    }
    if (need_w)
        gin[1] = tg_reshape(tp, tg_sum(tp, tg_mul(tp, g_c, xhat_c), 2, k_batch_axes, false),
                            w->ndim, w->shape);
    if (need_b) {
        const tg_tensor *b = tg_node_input(n, bi);
        gin[bi] = tg_reshape(tp, tg_sum(tp, g_c, 2, k_batch_axes, false), b->ndim, b->shape);
    }
    return tg_tape_status(tp);
}

/* The direct rule: the per-set sums of gh and gh xhat and the per-channel
 * sums of g xhat and g (double; tg__norm_sums), then each buffer in turn (two
 * slots may share one: each is written completely before the next is
 * asked for). */
static tg_status norm_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const norm_attr *a = tg_node_saved(n);
    const tg_tensor *x = n->in[0], *w = a->has_w ? n->in[1] : NULL;
    const tg_tensor *mean = tg_node_aux(n, 0), *rstd = tg_node_aux(n, 1);
    const int64_t ns = num_sets(a);
    double *sg = scratch_doubles(tp, 4, (const int64_t[]){ns, ns, a->C, a->C});
    if (!sg) return tg_tape_status(tp);
    double *sgx = sg + ns, *dw = sgx + ns, *db = dw + a->C;
    for (int64_t i = 0; i < ns; i++) sg[i] = sgx[i] = 0;
    for (int64_t c = 0; c < a->C; c++) dw[c] = db[c] = 0;
    bool chans = false;
    for (int slot = 1; slot < n->n_in; slot++) chans = chans || tg_node_needs_grad(n, slot);
    tg__norm_sums(a, x, w, g, mean, rstd, chans, sg, sgx, dw, db);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (d)
        tg__norm_dx(a, x, w, g, mean, rstd, sg, sgx, d, acc);
    else if (!tg__tape_ok(tp))
        return tg_tape_status(tp);
    for (int slot = 1; slot < n->n_in; slot++) {
        d = tg_grad_sink_buffer(k, slot, &acc);
        if (!d) {
            if (!tg__tape_ok(tp)) return tg_tape_status(tp);
            continue;
        }
        const double *src = slot == 1 && a->has_w ? dw : db;
        TG_DISPATCH(x->dtype, T, {
            T *dd = d->data;
            for (int64_t c = 0; c < a->C; c++) dd[c] = acc ? dd[c] + (T)src[c] : (T)src[c];
        });
    }
    return TG_OK;
}

static const tg_op k_layer_norm = {
    .name = "layer_norm",
    .arity = -1,
    .backward = norm_backward,
    .direct = norm_direct,
    .scalar = NULL,
    .jvp = norm_jvp,
    .formula = "dx += rstd (gh - mean(gh) - xhat mean(gh xhat)), gh = g w (eval: gh rstd);  "
               "dw += sum g xhat;  db += sum g",
    .attrs = norm_attrs};
static const tg_op k_batch_norm = {
    .name = "batch_norm",
    .arity = -1,
    .backward = norm_backward,
    .direct = norm_direct,
    .scalar = NULL,
    .jvp = norm_jvp,
    .formula = "dx += rstd (gh - mean(gh) - xhat mean(gh xhat)), gh = g w (eval: gh rstd);  "
               "dw += sum g xhat;  db += sum g",
    .attrs = norm_attrs};
static const tg_op k_group_norm = {
    .name = "group_norm",
    .arity = -1,
    .backward = norm_backward,
    .direct = norm_direct,
    .scalar = NULL,
    .jvp = norm_jvp,
    .formula = "dx += rstd (gh - mean(gh) - xhat mean(gh xhat)), gh = g w (eval: gh rstd);  "
               "dw += sum g xhat;  db += sum g",
    .attrs = norm_attrs};

/* ---- validation ------------------------------------------------------------- */

/* x, weight and bias (either may be NULL): live, one dtype; eps finite and
 * >= 0.  Fills in, n_in. */
static bool check_common(tg_tape *tp, const char *op, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                         double eps, tg_tensor **in, int *n_in)
{
    int n = 0;
    in[n++] = x;
    if (w) in[n++] = w;
    if (b) in[n++] = b;
    if (!tg_tape_check_inputs(tp, op, n, in)) return false;
    if ((w && !tg__same_dtype(tp, op, x, w)) || (b && !tg__same_dtype(tp, op, x, b))) return false;
    if (!(eps >= 0 && isfinite(eps))) {
        tg_tape_fail(tp, TG_ERR_ARG, "%s: eps %g must be finite and >= 0", op, eps);
        return false;
    }
    *n_in = n;
    return true;
}

/* t (weight, bias or a running statistic) is 1-d of x's C channels. */
static bool check_per_channel(tg_tape *tp, const char *op, const char *what, const tg_tensor *t,
                              const tg_tensor *x)
{
    if (!t || (t->ndim == 1 && t->shape[0] == x->shape[1])) return true;
    char s[TG_SHAPE_BUF], xs[TG_SHAPE_BUF];
    tg_tape_fail(tp, TG_ERR_SHAPE,
                 "%s: %s %s must have the shape (%lld), one per channel of input %s", op, what,
                 tg__shape_str(t, s, sizeof s), (long long)x->shape[1],
                 tg__shape_str(x, xs, sizeof xs));
    return false;
}

/* x is (N, C, ...). */
static bool check_nc(tg_tape *tp, const char *op, const tg_tensor *x)
{
    if (x->ndim >= 2) return true;
    char s[TG_SHAPE_BUF];
    tg_tape_fail(tp, TG_ERR_SHAPE, "%s: input %s must have at least 2 axes (N,C,...)", op,
                 tg__shape_str(x, s, sizeof s));
    return false;
}

/* Statistics, output and record; the per-set mean and biased variance in
 * double are left in *mean_d, *var_d for batch_norm's running averages.  In
 * evaluation mode (a->stats false) mean_in and var_in (C) are used
 * instead. */
static tg_tensor *norm_record(tg_tape *tp, const tg_op *op, norm_attr *a, tg_tensor *x,
                              tg_tensor *w, tg_tensor *b, tg_tensor **in, int n_in,
                              const tg_tensor *mean_in, const tg_tensor *var_in, double **mean_d,
                              double **var_d)
{
    a->has_w = w != NULL;
    a->has_b = b != NULL;
    const int64_t ns = num_sets(a);
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, x->ndim, x->shape);
    tg_tensor *mean = tg_tape_alloc(tp, x->dtype, 1, &ns);
    tg_tensor *rstd = tg_tape_alloc(tp, x->dtype, 1, &ns);
    double *md = scratch_doubles(tp, 2, (const int64_t[]){ns, ns});
    if (!out || !mean || !rstd || !md) return NULL;
    double *vd = md + ns;
    if (a->stats) {
        tg__norm_moments(a, x, md, vd);
    } else {
        TG_DISPATCH(x->dtype, T, {
            const T *mi = mean_in->data, *vi = var_in->data;
            for (int64_t k = 0; k < ns; k++) md[k] = mi[k], vd[k] = vi[k];
        });
    }
    TG_DISPATCH(x->dtype, T, {
        T *mv = mean->data, *rv = rstd->data;
        for (int64_t k = 0; k < ns; k++) {
            mv[k] = (T)md[k];
            rv[k] = (T)(1.0 / sqrt(vd[k] + a->eps));
        }
    });
    tg__norm_forward(a, x, w, b, mean, rstd, out);
    if (mean_d) *mean_d = md;
    if (var_d) *var_d = vd;
    return tg_tape_record(tp, op, n_in, in, out, a, sizeof *a, 2, (tg_tensor *[]){mean, rstd});
}

/* ---- layer_norm ------------------------------------------------------------- */
tg_tensor *tg_layer_norm(tg_tape *tp, tg_tensor *x, int naxes, tg_tensor *weight, tg_tensor *bias,
                         double eps)
{
    const char *op = k_layer_norm.name;
    tg_tensor *in[3];
    int n_in;
    if (!check_common(tp, op, x, weight, bias, eps, in, &n_in)) return NULL;
    char s[TG_SHAPE_BUF], t[TG_SHAPE_BUF];
    if (naxes < 1 || naxes > x->ndim) {
        tg_tape_fail(tp, TG_ERR_AXIS, "%s: naxes %d must be between 1 and the rank %d of input %s",
                     op, naxes, (int)x->ndim, tg__shape_str(x, s, sizeof s));
        return NULL;
    }
    const int lead = x->ndim - naxes;
    const tg_tensor *aff[2] = {weight, bias};
    for (int i = 0; i < 2; i++) {
        const tg_tensor *p = aff[i];
        if (!p) continue;
        bool ok = p->ndim == naxes;
        for (int d = 0; ok && d < naxes; d++) ok = p->shape[d] == x->shape[lead + d];
        if (!ok) {
            char ns[TG_SHAPE_BUF];
            tg_tape_fail(tp, TG_ERR_SHAPE,
                         "%s: %s %s must have the shape %s, the normalised extents of input %s", op,
                         i ? "bias" : "weight", tg__shape_str(p, s, sizeof s),
                         tg__dims_str(naxes, x->shape + lead, ns, sizeof ns),
                         tg__shape_str(x, t, sizeof t));
            return NULL;
        }
    }
    norm_attr a = {.G = 1, .S = 1, .eps = eps, .kind = NORM_LAYER, .stats = true};
    a.P = norm_extents(lead, x->shape);
    a.C = a.cg = norm_extents(naxes, x->shape + lead);
    return norm_record(tp, &k_layer_norm, &a, x, weight, bias, in, n_in, NULL, NULL, NULL, NULL);
}

/* ---- group_norm ------------------------------------------------------------- */
tg_tensor *tg_group_norm(tg_tape *tp, tg_tensor *x, int groups, tg_tensor *weight, tg_tensor *bias,
                         double eps)
{
    const char *op = k_group_norm.name;
    tg_tensor *in[3];
    int n_in;
    if (!check_common(tp, op, x, weight, bias, eps, in, &n_in)) return NULL;
    if (!check_nc(tp, op, x)) return NULL;
    if (groups < 1 || x->shape[1] % groups != 0) {
        char s[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_ARG,
                     "%s: groups %d must be >= 1 and divide the %lld channels of input %s", op,
                     groups, (long long)x->shape[1], tg__shape_str(x, s, sizeof s));
        return NULL;
    }
    if (!check_per_channel(tp, op, "weight", weight, x) ||
        !check_per_channel(tp, op, "bias", bias, x))
        return NULL;
    norm_attr a = {.P = x->shape[0],
                   .C = x->shape[1],
                   .G = groups,
                   .eps = eps,
                   .kind = NORM_GROUP,
                   .stats = true};
    a.cg = a.C / groups;
    a.S = norm_extents(x->ndim - 2, x->shape + 2);
    return norm_record(tp, &k_group_norm, &a, x, weight, bias, in, n_in, NULL, NULL, NULL, NULL);
}

/* ---- batch_norm ------------------------------------------------------------- */

/* A running statistic t (NULL allowed in training mode): live, of x's dtype
 * and channels; in training mode a user tensor of its own (it is written). */
static bool check_running(tg_tape *tp, const char *what, tg_tensor *t, const tg_tensor *x,
                          bool training, tg_tensor *const *others, const char *const *names)
{
    const char *op = k_batch_norm.name;
    if (!t) {
        if (training) return true;
        tg_tape_fail(tp, TG_ERR_NULL,
                     "%s: %s is NULL (evaluation mode normalises with the running statistics)", op,
                     what);
        return false;
    }
    if (!tg__tensor_live_on(t, tp) || (t->magic == TG_MAGIC_USER && tg__tensor_freed(t))) {
        tg_tape_fail(tp, TG_ERR_TAPE,
                     "%s: %s is not a live tensor of this tape (stale, of another tape, or freed)",
                     op, what);
        return false;
    }
    if (!tg__same_dtype(tp, op, x, t) || !check_per_channel(tp, op, what, t, x)) return false;
    if (!training) return true;
    if (t->magic != TG_MAGIC_USER) {
        char d[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, TG_ERR_ARG,
                     "%s: %s %s is a tensor of the tape: training mode updates it in place, so it "
                     "must be a user tensor",
                     op, what, tg_tensor_describe(t, d, sizeof d));
        return false;
    }
    for (int i = 0; names[i]; i++)
        if (others[i] == t) {
            tg_tape_fail(tp, TG_ERR_ARG,
                         "%s: %s is also %s: training mode updates the running statistics in "
                         "place, so each must be a tensor of its own",
                         op, what, names[i]);
            return false;
        }
    return true;
}

tg_tensor *tg_batch_norm(tg_tape *tp, tg_tensor *x, tg_tensor *weight, tg_tensor *bias,
                         tg_tensor *running_mean, tg_tensor *running_var, bool training,
                         double momentum, double eps)
{
    const char *op = k_batch_norm.name;
    tg_tensor *in[3];
    int n_in;
    if (!check_common(tp, op, x, weight, bias, eps, in, &n_in)) return NULL;
    if (!check_nc(tp, op, x)) return NULL;
    if (!check_per_channel(tp, op, "weight", weight, x) ||
        !check_per_channel(tp, op, "bias", bias, x))
        return NULL;
    /* running_mean must differ from weight and bias; running_var from those
     * and running_mean (NULL entries are skipped by the pointer test) */
    if (!check_running(tp, "running_mean", running_mean, x, training,
                       (tg_tensor *[]){weight, bias, NULL},
                       (const char *const[]){"weight", "bias", NULL}) ||
        !check_running(tp, "running_var", running_var, x, training,
                       (tg_tensor *[]){weight, bias, running_mean, NULL},
                       (const char *const[]){"weight", "bias", "running_mean", NULL}))
        return NULL;
    norm_attr a = {.P = x->shape[0],
                   .C = x->shape[1],
                   .G = x->shape[1],
                   .cg = 1,
                   .eps = eps,
                   .kind = NORM_BATCH,
                   .batch = true,
                   .stats = training};
    a.S = norm_extents(x->ndim - 2, x->shape + 2);
    const int64_t per = norm_extents(2, (const int64_t[]){a.P, a.S}); /* values per channel */
    char s[TG_SHAPE_BUF];
    if (training && !(momentum >= 0 && momentum <= 1)) {
        tg_tape_fail(tp, TG_ERR_ARG, "%s: momentum %g must be in [0, 1]", op, momentum);
        return NULL;
    }
    if (training && per <= 1) {
        /* PyTorch: "Expected more than 1 value per channel when training" */
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "%s: input %s has %lld value%s per channel: training mode needs more than 1",
                     op, tg__shape_str(x, s, sizeof s), (long long)per, per == 1 ? "" : "s");
        return NULL;
    }
    double *md = NULL, *vd = NULL;
    tg_tensor *y = norm_record(tp, &k_batch_norm, &a, x, weight, bias, in, n_in, running_mean,
                               running_var, &md, &vd);
    if (!y || !training) return y;
    /* Recorded: only now are the user's running statistics written, so a
     * failing call leaves them as they were.  The running variance takes
     * the unbiased batch variance, as PyTorch's. */
    const double unb = (double)per / (double)(per - 1);
    TG_DISPATCH(x->dtype, T, {
        T *rm = running_mean ? running_mean->data : NULL;
        T *rv = running_var ? running_var->data : NULL;
        for (int64_t c = 0; c < a.C; c++) {
            if (rm) rm[c] = (T)((1 - momentum) * (double)rm[c] + momentum * md[c]);
            if (rv) rv[c] = (T)((1 - momentum) * (double)rv[c] + momentum * (vd[c] * unb));
        }
    });
    if (running_mean) tg__bump_version(running_mean);
    if (running_var) tg__bump_version(running_var);
    return y;
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_norm[] = {&k_layer_norm, &k_batch_norm, &k_group_norm, NULL};
