/* What the linear algebra op files (ops/linalg.c, ops/linalg_det.c) share
 * (internal).  Every op takes batches of matrices over any leading axes:
 * a (..., n, n), flattened to batch items of n x n, row-major. */
#ifndef TG_OPS_LINALG_H
#define TG_OPS_LINALG_H

#include "../core/internal.h"

/* a is (..., n, n), n >= 0: its batch item count and n; else a shape
 * error naming op and a's shape.  (n always fits an int: n * n is at most
 * TG_NUMEL_MAX.) */
bool tg__la_square(tg_tape *tp, const char *op, const tg_tensor *a, int64_t *batch, int *n);
/* b is (..., n, k) with a's batch extents (after tg__la_stretch) and k within LAPACK's integers:
 * k, or -1 after a shape error naming op, a and b. */
int tg__la_rhs(tg_tape *tp, const char *op, const tg_tensor *a, const tg_tensor *b);
/* a (..., n, n) and b (..., m, k) stretched by tg_broadcast_to to their
 * common batch extents (NumPy's rule, as tg_matmul's batch axes) when these
 * differ; unchanged when they are equal or do not broadcast (tg__la_rhs
 * then names the shapes).  False when a stretch failed (tape error set). */
bool tg__la_stretch(tg_tape *tp, tg_tensor **a, tg_tensor **b);
/* Arena scratch for count elements of dt (NULL after an error). */
void *tg__la_scratch(tg_tape *tp, tg_dtype dt, int64_t count);
/* op(a) @ op(b) over any leading axes (op: the transpose of the last two
 * axes), recorded; NULL without a new error when a or b is NULL (an earlier
 * op of the rule failed and set it). */
tg_tensor *tg__la_bmm(tg_tape *tp, tg_tensor *a, tg_tensor *b, bool ta, bool tb);
/* The transpose of the last two axes, recorded. */
tg_tensor *tg__la_mT(tg_tape *tp, tg_tensor *x);
/* A constant (n, n) of dt: 1 in the lower (or upper) triangle below (above)
 * the diagonal, diag on it, 0 elsewhere. */
tg_tensor *tg__la_mask(tg_tape *tp, tg_dtype dt, int n, bool upper, double diag);
/* Adds src (d's element count) into the adjoint buffer d (acc), or stores
 * it. */
void tg__la_put(tg_tensor *d, const void *src, bool acc);
/* Batch item i's matrix of a batch of m x c matrices. */
static inline void *tg__la_item(const tg_tensor *t, int64_t i, int64_t per)
{
    return TG_AT_MUT(t->data, i * per, tg_dtype_size(t->dtype));
}

#endif
