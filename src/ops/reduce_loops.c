/* The loops of sum, mean and sum_to along axes, and the plan of a walk by
 * output elements (reduce.h) that they and the map-based reductions of
 * reduce_stat.c share among threads. */
#include "reduce.h"

#include "../core/parallel.h"
#include "../kernels/wsum.h"

/* Pieces of a walk: whole rows of outputs, about RED_WALK_GRAIN elements
 * of x and at most about RED_WALK_PIECES pieces, so that a piece's rows
 * make long runs through x for each reduced tuple.  A row is not cut into
 * blocks of columns: on one thread such blocks walk x with a stride and
 * were several times slower than the serial walk on a (4096, 1024) sum
 * over axis 0 (docs/performance.md), so such a sum stays one piece. */
#define RED_WALK_GRAIN  ((int64_t)1 << 13)
#define RED_WALK_PIECES ((int64_t)8)
/* The fewest elements of x a partial sum, and the broadcast of its
 * gradient (the direct rule), split among threads (measured:
 * docs/performance.md, "Thread thresholds: sums and map reductions along
 * axes"). */
#define SUM_PAR_MIN        ((int64_t)1 << 16)
#define SUM_EXPAND_PAR_MIN ((int64_t)1 << 17)

/* Every product below is of extents of x, so at most its element count
 * (within TG_NUMEL_MAX): none overflows. */
void tg__red_plan_init(tg__red_plan *pl, const tg_tensor *x, const bool *red)
{
    const int nd = x->ndim;
    int64_t xs[TG_MAX_DIMS], st = 1;
    for (int d = nd - 1; d >= 0; d--) {
        xs[d] = st;
        st *= x->shape[d];
    }
    pl->nk = pl->nr = 0;
    pl->rows = pl->tuples = 1;
    for (int d = 0; d < nd - 1; d++) {
        if (red[d]) {
            pl->rext[pl->nr] = x->shape[d];
            pl->rstr[pl->nr++] = xs[d];
            pl->tuples *= x->shape[d];
        } else {
            pl->kext[pl->nk] = x->shape[d];
            pl->kstr[pl->nk++] = xs[d];
            pl->rows *= x->shape[d];
        }
    }
    const int64_t last = nd ? x->shape[nd - 1] : 1;
    pl->lastred = nd && red[nd - 1];
    pl->inner = pl->lastred ? 1 : last;
    pl->run = pl->lastred ? last : 1;
    const int64_t per_row = pl->tuples * last > 0 ? pl->tuples * last : 1;
    const int64_t by_size = per_row < RED_WALK_GRAIN ? RED_WALK_GRAIN / per_row : 1;
    const int64_t by_count = TG_PAR_PIECES(pl->rows, RED_WALK_PIECES);
    pl->rgrain = by_size > by_count ? by_size : by_count;
    pl->pieces = TG_PAR_PIECES(pl->rows, pl->rgrain);
}

void tg__red_piece(const tg__red_plan *pl, int64_t u, int64_t *r0, int64_t *r1, int64_t *c0,
                   int64_t *c1)
{
    *r0 = u * pl->rgrain;
    *r1 = pl->rows - *r0 < pl->rgrain ? pl->rows : *r0 + pl->rgrain;
    *c0 = 0;
    *c1 = pl->inner;
}

int64_t tg__red_row_at(const tg__red_plan *pl, int64_t row, int64_t *kidx)
{
    int64_t off = 0;
    for (int e = pl->nk - 1; e >= 0; e--) {
        kidx[e] = row % pl->kext[e];
        off += kidx[e] * pl->kstr[e];
        row /= pl->kext[e];
    }
    return off;
}

/* out[...] = scale * sum over the flagged axes of x, every sum in a wide
 * accumulator (kernels/wsum.h): a full reduction in eight lanes (see
 * TG__WROW), a partial one per output, each row of x either reduced in
 * lanes into one output (the last axis reduced) or added into a row of
 * accumulators (kept: a loop across the row, which vectorises).  Threads
 * share the outputs (tg__red_plan), each output taking its rows in x's
 * order, so its bits are the serial walk's at any thread count.  w: the
 * accumulators when out has more than one element, out->numel doubles for
 * f32, twice that for f64 (sum_scratch in reduce.c).  A broadcast input's
 * gradient in the direct rules of elementwise.c sums g the same way
 * (TG_BCAST_GRAD in kernels/bcast.h), so the two rules of an op give the
 * same bits. */
TG_CLONES static void sum_kernel(tg_tensor *out, const tg_tensor *x, const bool *red, double scale,
                                 double *w)
{
    const int64_t n = x->numel, m = out->numel;
    TG_DISPATCH(x->dtype, T, {
        T *restrict o = out->data;
        const T *restrict v = x->data;
        if (m == 1) {
            double s = 0, c = 0;
            TG__WSUM_PAR(T, n, j, v[j], s, c, (void)0);
            o[0] = (T)(tg__wsum_value(s, c) * scale);
            break;
        }
        if (n == 0) {
            for (int64_t i = 0; i < m; i++) o[i] = 0;
            break;
        }
        tg__red_plan pl;
        tg__red_plan_init(&pl, x, red);
        double *const ws = w, *const wc = TG__WSUM_COMP(T) ? w + m : w;
        TG__RED_PIECES(&pl, tg__par_threads(n, SUM_PAR_MIN), r0, r1, c0, c1, {
            for (int64_t r = r0; r < r1; r++) {
                for (int64_t j = c0; j < c1; j++) ws[r * pl.inner + j] = 0;
                if (TG__WSUM_COMP(T))
                    for (int64_t j = c0; j < c1; j++) wc[r * pl.inner + j] = 0;
            }
            if (pl.lastred) {
                TG__RED_ROWS(&pl, r0, r1, r, off, {
                    const T *restrict vr = v + off;
                    double rs = 0, rc = 0;
                    TG__WROW(T, pl.run, j, vr[j], rs, rc);
                    TG__WADD(T, ws[r], wc[r], rs);
                    if (TG__WSUM_COMP(T)) wc[r] += rc;
                });
            } else {
                TG__RED_ROWS(&pl, r0, r1, r, off, {
                    const T *restrict vr = v + off;
                    double *restrict wsr = ws + r * pl.inner, *restrict wcr = wc + r * pl.inner;
                    for (int64_t j = c0; j < c1; j++) TG__WADD(T, wsr[j], wcr[j], vr[j]);
                });
            }
            for (int64_t r = r0; r < r1; r++)
                for (int64_t j = c0; j < c1; j++)
                    o[r * pl.inner + j] =
                        (T)(tg__wsum_value(ws[r * pl.inner + j],
                                           TG__WSUM_COMP(T) ? wc[r * pl.inner + j] : 0) *
                            scale);
        });
    });
}

/* d (+)= al g broadcast over the reduced axes (al: mul_scalar's
 * arithmetic, in T), g of out's element count (more than one): a map, each
 * element of d alone, so pieces of whole rows of x (streaming through d)
 * go to threads, each starting its output offset from its first row. */
TG_CLONES static void sum_expand(tg_tensor *d, bool acc, const tg_tensor *g, const tg_tensor *x,
                                 const bool *red, double scale)
{
    const int nd = x->ndim;
    const int64_t n = x->numel, last = nd ? x->shape[nd - 1] : 1;
    if (n == 0) return;
    int64_t os[TG_MAX_DIMS];
    tg__reduce_strides(x, red, os);
    const int64_t lg = nd ? os[nd - 1] : 0, rows = n / last;
    const int64_t grain = last >= RED_WALK_GRAIN ? 1 : RED_WALK_GRAIN / last;
    TG_DISPATCH(x->dtype, T, {
        T *restrict dd = d->data;
        const T *restrict gg = g->data;
        const T al = (T)scale;
        TG_PAR_RANGES(tg__par_threads(n, SUM_EXPAND_PAR_MIN), rows, grain, q0, q1, {
            int64_t idx[TG_MAX_DIMS], gi = 0, q = q0;
            for (int e = nd - 2; e >= 0; e--) {
                idx[e] = q % x->shape[e];
                gi += idx[e] * os[e];
                q /= x->shape[e];
            }
            for (int64_t r = q0; r < q1; r++) {
                T *restrict dr = dd + r * last;
                const T *restrict gr = gg + gi;
                if (lg == 0 && acc)
                    for (int64_t j = 0; j < last; j++) dr[j] += al * gr[0];
                else if (lg == 0)
                    for (int64_t j = 0; j < last; j++) dr[j] = al * gr[0];
                else if (acc)
                    for (int64_t j = 0; j < last; j++) dr[j] += al * gr[j];
                else
                    for (int64_t j = 0; j < last; j++) dr[j] = al * gr[j];
                for (int e = nd - 2; e >= 0; e--) {
                    gi += os[e];
                    if (++idx[e] < x->shape[e]) break;
                    gi -= os[e] * x->shape[e];
                    idx[e] = 0;
                }
            }
        });
    });
}

/* The clones stay internal: a target_clones function outside its file
 * would be exported (its resolver with it). */
void tg__sum_kernel(tg_tensor *out, const tg_tensor *x, const bool *red, double scale, double *w)
{
    sum_kernel(out, x, red, scale, w);
}

void tg__sum_expand(tg_tensor *d, bool acc, const tg_tensor *g, const tg_tensor *x, const bool *red,
                    double scale)
{
    sum_expand(d, acc, g, x, red, scale);
}
