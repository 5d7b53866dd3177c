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
#include "../core/internal.h"
#include "../core/parallel.h"

typedef enum norm_kind { NORM_LAYER, NORM_BATCH, NORM_GROUP } norm_kind;

typedef struct norm_attr {
    int64_t P, C, S, G; /* x as (P, C, S); G groups of channels */
    int64_t cg;         /* channels per group (1 for batch_norm) */
    double eps;
    int kind;   /* norm_kind */
    bool batch; /* one set per group over every p and s (batch_norm) */
    bool stats; /* the statistics are x's own (false: batch_norm's running ones) */
    bool has_w, has_b;
} norm_attr;

/* The product of n extents of an accepted shape: within TG_NUMEL_MAX
 * (checked.h), so the check cannot fail; 0 if it did (nothing is then
 * computed). */
static int64_t extents(int n, const int64_t *e)
{
    int64_t r;
    return tg__extents_product(n, e, TG_NUMEL_MAX, &r) ? r : 0;
}

/* The set of element (p, c) and the number of sets (the products below are
 * of x's extents: C = G cg). */
static inline int64_t set_of(const norm_attr *a, int64_t p, int64_t c)
{
    return a->batch ? c / a->cg : p * a->G + c / a->cg;
}
static int64_t num_sets(const norm_attr *a)
{
    return a->batch ? a->G : extents(2, (const int64_t[]){a->P, a->G});
}
/* The leading extent the loops over (p, c) walk: none for an empty x,
 * whose other extents may be huge ((2^31, 1, 0) walked item by item is a
 * hang, with nothing to compute). */
static int64_t rows(const norm_attr *a, const tg_tensor *x)
{
    return x->numel ? a->P : 0;
}

/* Elements per set. */
static int64_t set_count(const norm_attr *a)
{
    return a->batch ? extents(3, (const int64_t[]){a->P, a->cg, a->S})
                    : extents(2, (const int64_t[]){a->cg, a->S});
}

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

/* ---- threads ------------------------------------------------------------------
 * Every set and every channel is accumulated in the serial order whatever
 * the threads: the loops share out whole sets or whole channels.  A set of
 * layer_norm or group_norm lies in one p, so those loops share the p; a set
 * of batch_norm is a channel over every p, so its loops share pieces of
 * NORM_CBLOCK channels, each walking p in order (rows of the piece, not
 * columns of x); the per-channel sums of the backward likewise.  Threads
 * above NORM_PAR_MIN elements of x (docs/performance.md, "Thread
 * thresholds: losses, norms and axis reductions"). */
#define NORM_PAR_MIN ((int64_t)1 << 15)
#define NORM_CBLOCK  ((int64_t)64)
/* Rows (p, c) per piece of the elementwise passes: about TG_ELEM-sized
 * pieces of S elements each. */
#define NORM_ROW_ELEMS ((int64_t)1 << 12)

static int norm_threads(const tg_tensor *x)
{
    return tg__par_threads(x->numel, NORM_PAR_MIN);
}

/* Rows (p, c) per piece of a pass over every element. */
static int64_t row_grain(const norm_attr *a)
{
    return a->S >= NORM_ROW_ELEMS ? 1 : NORM_ROW_ELEMS / (a->S ? a->S : 1);
}

/* mean[k], var[k] (biased) of every set of x, two passes in double. */
static void set_moments(const norm_attr *a, const tg_tensor *x, double *mean, double *var)
{
    const int64_t ns = num_sets(a), cnt = set_count(a), P = rows(a, x), C = a->C;
    const int64_t nblk = TG_PAR_PIECES(C, NORM_CBLOCK);
    const int nt = norm_threads(x);
    for (int64_t k = 0; k < ns; k++) mean[k] = var[k] = 0;
        /* the sum of row (p, c) of x, minus m, raised to the power e (1 or 2),
         * into set k */
#define NORM_ROW_MOMENT(T, v, a, p, c, m, e, acc)                                                  \
    do {                                                                                           \
        const T *nr_r = (v) + ((p) * (a)->C + (c)) * (a)->S;                                       \
        double nr_s = 0;                                                                           \
        for (int64_t nr_i = 0; nr_i < (a)->S; nr_i++) {                                            \
            const double nr_d = (double)nr_r[nr_i] - (m);                                          \
            nr_s += (e) == 1 ? nr_d : nr_d * nr_d;                                                 \
        }                                                                                          \
        (acc) += nr_s;                                                                             \
    } while (0)
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data;
        for (int e = 1; e <= 2; e++) {
            double *dst = e == 1 ? mean : var;
            if (a->batch) {
                TG_PAR_FOR(nt, P ? nblk : 0, b, {
                    const int64_t c1 =
                        C - b * NORM_CBLOCK < NORM_CBLOCK ? C : (b + 1) * NORM_CBLOCK;
                    for (int64_t p = 0; p < P; p++)
                        for (int64_t c = b * NORM_CBLOCK; c < c1; c++)
                            NORM_ROW_MOMENT(T, v, a, p, c, e == 1 ? 0.0 : mean[c], e, dst[c]);
                });
            } else {
                TG_PAR_FOR(nt, P, p, {
                    for (int64_t c = 0; c < C; c++) {
                        const int64_t k = set_of(a, p, c);
                        NORM_ROW_MOMENT(T, v, a, p, c, e == 1 ? 0.0 : mean[k], e, dst[k]);
                    }
                });
            }
            for (int64_t k = 0; k < ns; k++) dst[k] = cnt ? dst[k] / (double)cnt : 0;
        }
    });
#undef NORM_ROW_MOMENT
}

/* out = (x - mean) rstd w[c] + b[c], mean and rstd per set (the aux). */
static void norm_forward(const norm_attr *a, const tg_tensor *x, const tg_tensor *w,
                         const tg_tensor *b, const tg_tensor *mean, const tg_tensor *rstd,
                         tg_tensor *out)
{
    const int nt = norm_threads(x);
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data, *mu = mean->data, *rs = rstd->data;
        const T *wv = w ? w->data : NULL, *bv = b ? b->data : NULL;
        T *o = out->data;
        TG_PAR_RANGES(nt, rows(a, x) * a->C, row_grain(a), lo, hi, {
            for (int64_t q = lo; q < hi; q++) {
                const int64_t p = q / a->C, c = q % a->C;
                const int64_t k = set_of(a, p, c), base = q * a->S;
                const T m = mu[k], r = rs[k];
                const T sc = wv ? wv[c] : (T)1, sh = bv ? bv[c] : (T)0;
                for (int64_t i = 0; i < a->S; i++) {
                    const T h = (v[base + i] - m) * r;
                    o[base + i] = wv ? (bv ? h * sc + sh : h * sc) : (bv ? h + sh : h);
                }
            }
        });
    });
}

/* ---- the rules --------------------------------------------------------------- */

/* Shapes of x seen as (P, G, cg S) (the sets) and (P, C, S) (the channels). */
static void views(const norm_attr *a, int64_t sets[3], int64_t chans[3])
{
    sets[0] = a->P, sets[1] = a->G, sets[2] = extents(2, (const int64_t[]){a->cg, a->S});
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

/* The sums of g and g xhat over row (p, c) (in double), into a_g, a_gx. */
#define NORM_ROW_GSUMS(T, v, gv, base, S, m, r, a_g, a_gx)                                         \
    do {                                                                                           \
        for (int64_t ng_i = 0; ng_i < (S); ng_i++) {                                               \
            const double ng_h = ((double)(v)[(base) + ng_i] - (m)) * (r);                          \
            const double ng_g = (gv)[(base) + ng_i];                                               \
            (a_g) += ng_g;                                                                         \
            (a_gx) += ng_g * ng_h;                                                                 \
        }                                                                                          \
    } while (0)

/* The per-set sums sg of gh and sgx of gh xhat, and (when chans) the
 * per-channel sums dw of g xhat and db of g, each in the serial order
 * (threads: see set_moments). */
static void norm_sums(const norm_attr *a, const tg_tensor *x, const tg_tensor *w,
                      const tg_tensor *g, const tg_tensor *mean, const tg_tensor *rstd, bool chans,
                      double *sg, double *sgx, double *dw, double *db)
{
    const int64_t P = rows(a, x), C = a->C, nblk = TG_PAR_PIECES(C, NORM_CBLOCK);
    const int nt = norm_threads(x);
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data, *gv = g->data, *mu = mean->data, *rs = rstd->data;
        const T *wv = w ? w->data : NULL;
        if (!a->batch)
            TG_PAR_FOR(nt, P, p, {
                for (int64_t c = 0; c < C; c++) {
                    const int64_t s = set_of(a, p, c), base = (p * C + c) * a->S;
                    const double wc = wv ? (double)wv[c] : 1.0;
                    double a_g = 0, a_gx = 0;
                    NORM_ROW_GSUMS(T, v, gv, base, a->S, (double)mu[s], (double)rs[s], a_g, a_gx);
                    sg[s] += wc * a_g;
                    sgx[s] += wc * a_gx;
                }
            });
        if (a->batch || chans)
            TG_PAR_FOR(nt, P ? nblk : 0, bk, {
                const int64_t c1 = C - bk * NORM_CBLOCK < NORM_CBLOCK ? C : (bk + 1) * NORM_CBLOCK;
                for (int64_t p = 0; p < P; p++)
                    for (int64_t c = bk * NORM_CBLOCK; c < c1; c++) {
                        const int64_t s = set_of(a, p, c), base = (p * C + c) * a->S;
                        const double wc = wv ? (double)wv[c] : 1.0;
                        double a_g = 0, a_gx = 0;
                        NORM_ROW_GSUMS(T, v, gv, base, a->S, (double)mu[s], (double)rs[s], a_g,
                                       a_gx);
                        if (a->batch) { /* the set is the channel */
                            sg[s] += wc * a_g;
                            sgx[s] += wc * a_gx;
                        }
                        dw[c] += a_gx;
                        db[c] += a_g;
                    }
            });
    });
}
#undef NORM_ROW_GSUMS

/* d (+)= dx of the top of the file, from the per-set sums. */
static void norm_dx(const norm_attr *a, const tg_tensor *x, const tg_tensor *w, const tg_tensor *g,
                    const tg_tensor *mean, const tg_tensor *rstd, const double *sg,
                    const double *sgx, tg_tensor *d, bool acc)
{
    const int64_t cnt = set_count(a);
    const double inv = cnt ? 1.0 / (double)cnt : 0;
    const int nt = norm_threads(x);
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data, *gv = g->data, *mu = mean->data, *rs = rstd->data;
        const T *wv = w ? w->data : NULL;
        T *dd = d->data;
        TG_PAR_RANGES(nt, rows(a, x) * a->C, row_grain(a), lo, hi, {
            for (int64_t q = lo; q < hi; q++) {
                const int64_t c = q % a->C, s = set_of(a, q / a->C, c), base = q * a->S;
                const double m = mu[s], r = rs[s], wc = wv ? (double)wv[c] : 1.0;
                const double mg = sg[s] * inv, mgx = sgx[s] * inv;
                for (int64_t i = 0; i < a->S; i++) {
                    const double gh = wc * (double)gv[base + i];
                    double e;
                    if (a->stats) {
                        const double h = ((double)v[base + i] - m) * r;
                        e = r * (gh - mg - h * mgx);
                    } else {
                        e = gh * r;
                    }
                    dd[base + i] = acc ? dd[base + i] + (T)e : (T)e;
                }
            }
        });
    });
}

/* The direct rule: the per-set sums of gh and gh xhat and the per-channel
 * sums of g xhat and g (double; norm_sums), then each buffer in turn (two
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
    norm_sums(a, x, w, g, mean, rstd, chans, sg, sgx, dw, db);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (d)
        norm_dx(a, x, w, g, mean, rstd, sg, sgx, d, acc);
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
        set_moments(a, x, md, vd);
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
    norm_forward(a, x, w, b, mean, rstd, out);
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
    a.P = extents(lead, x->shape);
    a.C = a.cg = extents(naxes, x->shape + lead);
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
    a.S = extents(x->ndim - 2, x->shape + 2);
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
    a.S = extents(x->ndim - 2, x->shape + 2);
    const int64_t per = extents(2, (const int64_t[]){a.P, a.S}); /* values per channel */
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
