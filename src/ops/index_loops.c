/* The loops of the indexing ops, in pieces on threads (index_loops.h). */
#include "index_loops.h"

/* The fewest index elements (gather, scatter_add), selected elements
 * (index_select, embedding) and added elements (their backward, index_add)
 * split among threads (measured: docs/performance.md, "Thread thresholds:
 * permute, concat and gathers"). */
#define TG_GATHER_MIN_WORK    ((int64_t)1 << 16)
#define TG_SELECT_MIN_WORK    ((int64_t)1 << 17)
#define TG_INDEX_ADD_MIN_WORK ((int64_t)1 << 20)
/* The fewest columns of a piece that adds into shared rows */
#define TG_ADD_COLS_MIN 32

/* Extents from..to-1 multiplied: within TG_NUMEL_MAX for a tensor's
 * shape; 0 should a tensor with no elements carry extents whose product is
 * not (the kernels then do nothing). */
static int64_t prod_range(const int64_t *shape, int from, int to)
{
    int64_t p;
    return tg__extents_product(to - from, shape + from, TG_NUMEL_MAX, &p) ? p : 0;
}

/* Pieces of an (outer, m, inner) walk that adds into rows two positions
 * along m may share: blocks of ob outer positions times blocks of cw of
 * the inner columns, each piece visiting all m positions in order, so every
 * destination element receives its terms in the serial order, from one
 * piece.  Sizes alone fix the pieces (about TG_ELEM_GRAIN elements each). */
typedef struct add_grid {
    int64_t ob, cw, ncb, pieces;
} add_grid;
static add_grid add_grid_of(int64_t outer, int64_t m, int64_t inner)
{
    add_grid g = {.cw = TG_ELEM_GRAIN / m};
    if (g.cw < TG_ADD_COLS_MIN) g.cw = TG_ADD_COLS_MIN;
    if (g.cw > inner) g.cw = inner;
    g.ob = g.cw == inner && m * inner < TG_ELEM_GRAIN ? TG_ELEM_GRAIN / (m * inner) : 1;
    g.ncb = TG_PAR_PIECES(inner, g.cw);
    g.pieces = TG_PAR_PIECES(outer, g.ob) * g.ncb;
    return g;
}

/* Index elements [lo, hi) of tg__along_axis's row-major walk, from lo's
 * multi-index; st: full's strides. */
static void along_run(tg_tensor *full, int axis, const idx_copy *c, tg_tensor *part,
                      along_mode mode, const int64_t *st, int64_t lo, int64_t hi)
{
    const int nd = full->ndim;
    const int64_t sa = st[axis];
    int64_t at[TG_MAX_DIMS] = {0}, base = 0, r = lo; /* base: the offset off axis */
    for (int d = nd - 1; d >= 0; d--) {
        at[d] = r % c->shape[d];
        r /= c->shape[d];
        if (d != axis) base += at[d] * st[d];
    }
    TG_DISPATCH(full->dtype, T, {
        T *f = full->data;
        T *p = part->data;
        for (int64_t k = lo; k < hi; k++) {
            const int64_t off = base + c->data[k] * sa;
            if (mode == TAKE)
                p[k] = f[off];
            else if (mode == TAKE_ADD)
                p[k] += f[off];
            else
                f[off] += p[k];
            for (int d = nd - 1; d >= 0; d--) {
                if (d != axis) base += st[d];
                if (++at[d] < c->shape[d]) break;
                if (d != axis) base -= c->shape[d] * st[d];
                at[d] = 0;
            }
        }
    });
}

/* TAKE and TAKE_ADD write each element of part once: any pieces of the
 * index will do.  PUT_ADD adds into full, where index elements that agree
 * off the axis may meet: pieces of add_grid_of over the index's (outer, m,
 * inner) view. */
void tg__along_axis(tg_tensor *full, int axis, const idx_copy *c, tg_tensor *part, along_mode mode)
{
    const int64_t n = c->numel;
    /* an index with elements addresses one of full's, so full has some and
     * its strides are at most its element count */
    if (n == 0) return;
    const int nd = full->ndim;
    int64_t st[TG_MAX_DIMS], s = 1;
    for (int d = nd - 1; d >= 0; d--) {
        st[d] = s;
        s *= full->shape[d];
    }
    const int nt = tg__par_threads(n, TG_GATHER_MIN_WORK);
    if (mode != PUT_ADD) {
        TG_PAR_RANGES(nt, n, TG_ELEM_GRAIN, lo, hi,
                      along_run(full, axis, c, part, mode, st, lo, hi));
        return;
    }
    const int64_t outer = prod_range(c->shape, 0, axis), m = c->shape[axis],
                  inner = prod_range(c->shape, axis + 1, nd), blk = m * inner;
    const add_grid g = add_grid_of(outer, m, inner);
    TG_PAR_FOR(nt, g.pieces, q, const int64_t o0 = q / g.ncb * g.ob, c0 = q % g.ncb * g.cw;
               const int64_t o1 = outer - o0 < g.ob ? outer : o0 + g.ob;
               const int64_t c1 = inner - c0 < g.cw ? inner : c0 + g.cw;
               if (c1 - c0 == inner) along_run(full, axis, c, part, mode, st, o0 * blk, o1 * blk);
               else for (int64_t o = o0; o < o1; o++) for (int64_t j = 0; j < m; j++)
                   along_run(full, axis, c, part, mode, st, (o * m + j) * inner + c0,
                             (o * m + j) * inner + c1););
}

/* tg__select_slices on rows q0..q1-1 of part (q = o m + j), columns
 * c0..c1-1 of each; ext: full's extent along the axis, inner: a row's
 * length. */
static void select_rows(tg_tensor *full, const index_attr *at, tg_tensor *part, sel_mode mode,
                        int64_t ext, int64_t inner, int64_t q0, int64_t q1, int64_t c0, int64_t c1)
{
    const int64_t m = at->ix.numel, w = c1 - c0, *idx = at->ix.data;
    TG_DISPATCH(full->dtype, T, {
        T *f = full->data;
        T *p = part->data;
        for (int64_t q = q0; q < q1; q++) {
            const int64_t o = q / m, j = q % m;
            T *restrict fr = f + (o * ext + idx[j]) * inner + c0;
            T *restrict pr = p + q * inner + c0;
            if (idx[j] == at->skip && (mode == ADD_INTO || at->zero_skip)) {
                if (mode == SEL)
                    for (int64_t i = 0; i < w; i++) pr[i] = 0;
                continue;
            }
            if (mode == SEL)
                for (int64_t i = 0; i < w; i++) pr[i] = fr[i];
            else if (mode == SEL_ADD)
                for (int64_t i = 0; i < w; i++) pr[i] += fr[i];
            else
                for (int64_t i = 0; i < w; i++) fr[i] += pr[i];
        }
    });
}

/* SEL and SEL_ADD write each row of part once, so they go
 * to threads in pieces of rows; ADD_INTO adds rows into full's, which
 * repeated index values share: in pieces of add_grid_of. */
void tg__select_slices(tg_tensor *full, const index_attr *at, tg_tensor *part, sel_mode mode)
{
    if (part->numel == 0) return;
    const int ax = at->axis;
    const int64_t outer = prod_range(full->shape, 0, ax), ext = full->shape[ax],
                  inner = prod_range(full->shape, ax + 1, full->ndim), m = at->ix.numel;
    const int nt =
        tg__par_threads(part->numel, mode == ADD_INTO ? TG_INDEX_ADD_MIN_WORK : TG_SELECT_MIN_WORK);
    if (mode != ADD_INTO) {
        const int64_t rows = TG_ELEM_GRAIN / inner ? TG_ELEM_GRAIN / inner : 1;
        TG_PAR_RANGES(nt, outer * m, rows, lo, hi,
                      select_rows(full, at, part, mode, ext, inner, lo, hi, 0, inner));
        return;
    }
    const add_grid g = add_grid_of(outer, m, inner);
    TG_PAR_FOR(nt, g.pieces, q, const int64_t o0 = q / g.ncb * g.ob, c0 = q % g.ncb * g.cw;
               const int64_t o1 = outer - o0 < g.ob ? outer : o0 + g.ob;
               const int64_t c1 = inner - c0 < g.cw ? inner : c0 + g.cw;
               select_rows(full, at, part, mode, ext, inner, o0 * m, o1 * m, c0, c1););
}
