/* The loops of the normalisation layers (norm.c): x seen as (P, C, S), sets
 * of channels, the statistics and the sums of the rules, shared among
 * threads (norm_loops.c).  Internal (tg__). */
#ifndef TG_OPS_NORM_H
#define TG_OPS_NORM_H

#include "../core/internal.h"

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
static inline int64_t norm_extents(int n, const int64_t *e)
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
static inline int64_t num_sets(const norm_attr *a)
{
    return a->batch ? a->G : norm_extents(2, (const int64_t[]){a->P, a->G});
}
/* The leading extent the loops over (p, c) walk: none for an empty x,
 * whose other extents may be huge ((2^31, 1, 0) walked item by item is a
 * hang, with nothing to compute). */
static inline int64_t rows(const norm_attr *a, const tg_tensor *x)
{
    return x->numel ? a->P : 0;
}

/* Elements per set. */
static inline int64_t set_count(const norm_attr *a)
{
    return a->batch ? norm_extents(3, (const int64_t[]){a->P, a->cg, a->S})
                    : norm_extents(2, (const int64_t[]){a->cg, a->S});
}

/* mean[k], var[k] (biased) of every set of x, two passes in double. */
void tg__norm_moments(const norm_attr *a, const tg_tensor *x, double *mean, double *var);
/* out = (x - mean) rstd w[c] + b[c], mean and rstd per set (the aux). */
void tg__norm_forward(const norm_attr *a, const tg_tensor *x, const tg_tensor *w,
                      const tg_tensor *b, const tg_tensor *mean, const tg_tensor *rstd,
                      tg_tensor *out);
/* The per-set sums sg of gh and sgx of gh xhat and (when chans) the
 * per-channel sums dw of g xhat and db of g, added into the zeroed arrays. */
void tg__norm_sums(const norm_attr *a, const tg_tensor *x, const tg_tensor *w, const tg_tensor *g,
                   const tg_tensor *mean, const tg_tensor *rstd, bool chans, double *sg,
                   double *sgx, double *dw, double *db);
/* d (+)= dx (norm.c's top), from the per-set sums. */
void tg__norm_dx(const norm_attr *a, const tg_tensor *x, const tg_tensor *w, const tg_tensor *g,
                 const tg_tensor *mean, const tg_tensor *rstd, const double *sg, const double *sgx,
                 tg_tensor *d, bool acc);

#endif
