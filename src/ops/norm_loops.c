/* The loops of the normalisation layers (norm.h), threaded. */
#include "norm.h"

#include "../core/parallel.h"

/* ---- threads ------------------------------------------------------------------
 * Every set and every channel is accumulated in the serial order whatever
 * the threads: the loops share out whole sets or whole channels.  A set of
 * layer_norm or group_norm lies in one p, so those loops share the p; a set
 * of batch_norm is a channel over every p, so its loops share pieces of
 * NORM_CBLOCK channels (a few, so that a layer of 64 still splits), each
 * walking p in order (rows of the piece, not columns of x); the
 * per-channel sums of the backward likewise.  Threads above NORM_PAR_MIN
 * elements of x, NORM_BATCH_PAR_MIN for batch_norm, whose channel pieces
 * walk x with a stride (docs/performance.md, "Thread thresholds: losses,
 * norms and axis reductions"). */
#define NORM_PAR_MIN       ((int64_t)1 << 14)
#define NORM_BATCH_PAR_MIN ((int64_t)1 << 16)
#define NORM_CBLOCK        ((int64_t)8)
/* Rows (p, c) per piece of the elementwise passes: about TG_ELEM-sized
 * pieces of S elements each. */
#define NORM_ROW_ELEMS ((int64_t)1 << 12)

static int norm_threads(const norm_attr *a, const tg_tensor *x)
{
    return tg__par_threads(x->numel, a->batch ? NORM_BATCH_PAR_MIN : NORM_PAR_MIN);
}

/* Rows (p, c) per piece of a pass over every element. */
static int64_t row_grain(const norm_attr *a)
{
    return a->S >= NORM_ROW_ELEMS ? 1 : NORM_ROW_ELEMS / (a->S ? a->S : 1);
}

/* mean[k], var[k] (biased) of every set of x, two passes in double. */
void tg__norm_moments(const norm_attr *a, const tg_tensor *x, double *mean, double *var)
{
    const int64_t ns = num_sets(a), cnt = set_count(a), P = rows(a, x), C = a->C;
    const int64_t nblk = TG_PAR_PIECES(C, NORM_CBLOCK);
    const int nt = norm_threads(a, x);
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
void tg__norm_forward(const norm_attr *a, const tg_tensor *x, const tg_tensor *w,
                      const tg_tensor *b, const tg_tensor *mean, const tg_tensor *rstd,
                      tg_tensor *out)
{
    const int nt = norm_threads(a, x);
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data, *mu = mean->data, *rs = rstd->data;
        const T *wv = w ? w->data : NULL, *bv = b ? b->data : NULL;
        T *o = out->data;
        TG_PAR_RANGES(nt, rows(a, x) * a->C, row_grain(a), lo, hi, {
            for (int64_t q = lo, p = lo / a->C, c = lo % a->C; q < hi;
                 q++, p += c + 1 == a->C, c = c + 1 == a->C ? 0 : c + 1) {
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
void tg__norm_sums(const norm_attr *a, const tg_tensor *x, const tg_tensor *w, const tg_tensor *g,
                   const tg_tensor *mean, const tg_tensor *rstd, bool chans, double *sg,
                   double *sgx, double *dw, double *db)
{
    const int64_t P = rows(a, x), C = a->C, nblk = TG_PAR_PIECES(C, NORM_CBLOCK);
    const int nt = norm_threads(a, x);
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
void tg__norm_dx(const norm_attr *a, const tg_tensor *x, const tg_tensor *w, const tg_tensor *g,
                 const tg_tensor *mean, const tg_tensor *rstd, const double *sg, const double *sgx,
                 tg_tensor *d, bool acc)
{
    const int64_t cnt = set_count(a);
    const double inv = cnt ? 1.0 / (double)cnt : 0;
    const int nt = norm_threads(a, x);
    TG_DISPATCH(x->dtype, T, {
        const T *v = x->data, *gv = g->data, *mu = mean->data, *rs = rstd->data;
        const T *wv = w ? w->data : NULL;
        T *dd = d->data;
        TG_PAR_RANGES(nt, rows(a, x) * a->C, row_grain(a), lo, hi, {
            for (int64_t q = lo, p = lo / a->C, c = lo % a->C; q < hi;
                 q++, p += c + 1 == a->C, c = c + 1 == a->C ? 0 : c + 1) {
                const int64_t s = set_of(a, p, c), base = q * a->S;
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
