/* tg_matmul's NumPy/PyTorch layouts beyond the op's own three (2-d @ 2-d,
 * a 3-d batch against a 3-d batch of the same length or a shared 2-d
 * matrix), built from recorded ops, so every derivative order follows:
 *   - a 1-d a is a row (1,K), a 1-d b a column (K,1), and that axis is
 *     dropped from the result (vector @ matrix, matrix @ vector, dot);
 *   - every axis before the last two is a batch axis, and the two operands'
 *     batch axes broadcast against each other (right-aligned, extent 1
 *     stretching), as elementwise ops do.
 * An operand whose batch axes hold one item (all extents 1, or none) is one
 * matrix shared by the batch: it goes in 2-d, so the op folds the batch into
 * the rows or sums the shared gradient.  Any other operand is stretched to
 * the common batch extents by tg_broadcast_to, whose gradient sums the
 * stretched axes back, and its batch axes fold into one. */
#include "matmul.h"

/* "(2,3,4)" or "(2,3,4)^T" */
static const char *mg_operand(const tg_tensor *t, bool trans, char *buf, size_t n)
{
    char s[TG_SHAPE_BUF];
    snprintf(buf, n, "%s%s", tg__shape_str(t, s, sizeof s), trans ? "^T" : "");
    return buf;
}

/* One operand, read as a matrix or a batch of them. */
typedef struct mg_side {
    int n;                      /* rank after a vector became a matrix */
    int64_t shape[TG_MAX_DIMS]; /* its extents */
    int64_t items;              /* product of its batch extents */
} mg_side;

static void mg_side_of(const tg_tensor *x, bool is_a, mg_side *s)
{
    s->n = x->ndim;
    for (int d = 0; d < x->ndim; d++) s->shape[d] = x->shape[d];
    if (x->ndim == 1) { /* a row for a, a column for b */
        s->n = 2;
        s->shape[is_a ? 0 : 1] = 1;
        s->shape[is_a ? 1 : 0] = x->shape[0];
    }
    /* -1: more than any tensor holds (an empty operand's other extents) */
    if (!tg__extents_product(s->n - 2, s->shape, TG_NUMEL_MAX, &s->items)) s->items = -1;
}

/* The operand in the form the op takes: 2-d when it is one matrix, else
 * stretched to the batch extents bs (nb of them) and folded to (items, r, c). */
static tg_tensor *mg_operand_in(tg_tape *tp, tg_tensor *x, const mg_side *s, int nb,
                                const int64_t *bs, int64_t items)
{
    const int64_t *rc = s->shape + s->n - 2;
    if (s->items == 1) return x->ndim == 2 ? x : tg_reshape(tp, x, 2, rc);
    bool same = s->n - 2 == nb;
    for (int d = 0; same && d < nb; d++) same = s->shape[d] == bs[d];
    if (!same) {
        int64_t full[TG_MAX_DIMS];
        for (int d = 0; d < nb; d++) full[d] = bs[d];
        full[nb] = rc[0];
        full[nb + 1] = rc[1];
        x = tg_broadcast_to(tp, x, nb + 2, full);
    }
    if (x && x->ndim == 3) return x;
    return tg_reshape(tp, x, 3, (const int64_t[]){items, rc[0], rc[1]});
}

/* Checks ranks, inner dimensions and batch axes; sets the common batch
 * extents bs (*nb of them) and the result's shape (*nr axes). */
static bool mg_check(tg_tape *tp, const tg_tensor *a, const tg_tensor *b, bool ta, bool tb,
                     const mg_side *sa, const mg_side *sb, int *nb, int64_t *bs, int *nr,
                     int64_t *rshape)
{
    char da[TG_SHAPE_BUF + 4], db[TG_SHAPE_BUF + 4];
    mg_operand(a, ta, da, sizeof da);
    mg_operand(b, tb, db, sizeof db);
    if (a->ndim == 0 || b->ndim == 0) {
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "matmul: %s @ %s: a 0-d operand has no matrix axes (tg_mul scales by a "
                     "scalar)",
                     da, db);
        return false;
    }
    if ((a->ndim == 1 && ta) || (b->ndim == 1 && tb)) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "matmul: %s @ %s: a 1-d operand cannot be transposed", da,
                     db);
        return false;
    }
    const int64_t *ea = sa->shape + sa->n - 2, *eb = sb->shape + sb->n - 2;
    const int64_t ka = ta ? ea[0] : ea[1], kb = tb ? eb[1] : eb[0];
    if (ka != kb) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "matmul: %s @ %s: inner dimensions differ (%lld vs %lld)",
                     da, db, (long long)ka, (long long)kb);
        return false;
    }
    const int na = sa->n - 2, nbb = sb->n - 2;
    *nb = na > nbb ? na : nbb;
    for (int d = 0; d < *nb; d++) {
        const int ia = d - (*nb - na), ib = d - (*nb - nbb);
        const int64_t xa = ia >= 0 ? sa->shape[ia] : 1, xb = ib >= 0 ? sb->shape[ib] : 1;
        if (xa != xb && xa != 1 && xb != 1) {
            tg_tape_fail(tp, TG_ERR_SHAPE,
                         "matmul: %s @ %s: batch axes do not broadcast (batch axis %d: %lld vs "
                         "%lld)",
                         da, db, d, (long long)xa, (long long)xb);
            return false;
        }
        bs[d] = xa == 1 ? xb : xa;
    }
    *nr = 0;
    for (int d = 0; d < *nb; d++) rshape[(*nr)++] = bs[d];
    if (a->ndim > 1) rshape[(*nr)++] = ta ? ea[1] : ea[0];
    if (b->ndim > 1) rshape[(*nr)++] = tb ? eb[0] : eb[1];
    int64_t numel;
    if (!tg__extents_product(*nr, rshape, TG_NUMEL_MAX, &numel)) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "matmul: %s @ %s: the result has more than %lld elements",
                     da, db, (long long)TG_NUMEL_MAX);
        return false;
    }
    return true;
}

tg_tensor *tg__matmul_general(tg_tape *tp, tg_tensor *a, tg_tensor *b, bool ta, bool tb)
{
    mg_side sa, sb;
    mg_side_of(a, true, &sa);
    mg_side_of(b, false, &sb);
    int nb, nr;
    int64_t bs[TG_MAX_DIMS], rshape[TG_MAX_DIMS];
    if (!mg_check(tp, a, b, ta, tb, &sa, &sb, &nb, bs, &nr, rshape)) return NULL;
    /* the batch items: the result's elements are items * M * N, so a
     * product that overflows has M or N zero and no element to compute */
    int64_t items = 1;
    if (!tg__extents_product(nb, bs, TG_NUMEL_MAX, &items)) items = 0;
    tg_tensor *a_in = mg_operand_in(tp, a, &sa, nb, bs, items);
    tg_tensor *b_in = mg_operand_in(tp, b, &sb, nb, bs, items);
    if (!a_in || !b_in) return NULL;
    tg_tensor *y = tg_matmul_t(tp, a_in, b_in, ta, tb);
    if (!y) return NULL;
    bool same = y->ndim == nr;
    for (int d = 0; same && d < nr; d++) same = y->shape[d] == rshape[d];
    return same ? y : tg_reshape(tp, y, nr, rshape);
}
