/* The loops of the indexing ops (ops/index.c): gathers and scatter-adds
 * along one axis, and whole slices selected or added along one axis, in
 * pieces on threads.  A piece that copies writes each element once; a
 * piece that adds into rows two indices may share visits the indices in
 * order, so every destination element receives its terms in the serial
 * order, from one piece, at any thread count. */
#ifndef TG_INDEX_LOOPS_H
#define TG_INDEX_LOOPS_H

#include "../core/internal.h"

/* The recorded copy of an index tensor: its shape and values (data points
 * into the tape's arena; NULL when it has no elements). */
typedef struct idx_copy {
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    int64_t numel;
    const int64_t *data;
} idx_copy;

/* The attributes of every node of ops/index.c.  skip: an index value whose
 * rows an index_select or index_add leaves out (embedding's padding index;
 * -1, which no checked index equals, for none); zero_skip: index_select
 * writes zeros at those rows instead of copying them (the adjoint of
 * index_add, which drops them). */
typedef struct index_attr {
    int axis;
    bool zero_skip;
    int64_t skip;
    idx_copy ix;
} index_attr;

/* gather / scatter_add: positions along one axis.
 * The index has full's rank and extents at most full's off axis; element k
 * of the index (row-major) addresses full at the index's multi-index with
 * the axis coordinate replaced by the index's value.  part has the index's
 * shape. */
typedef enum { TAKE, TAKE_ADD, PUT_ADD } along_mode;

/* TAKE: part = full at the index's positions; TAKE_ADD: part += them;
 * PUT_ADD: full at those positions += part. */
void tg__along_axis(tg_tensor *full, int axis, const idx_copy *c, tg_tensor *part, along_mode mode);

/* index_select / index_add: whole slices along one axis.
 * full (outer, ext, inner) and part (outer, m, inner), m the index's
 * element count: part's slice j is full's slice index[j]. */
typedef enum { SEL, SEL_ADD, ADD_INTO } sel_mode;

/* SEL: part = the selected slices; SEL_ADD: part += them; ADD_INTO: full
 * += part's slices at their positions.  Slices at index value at->skip are
 * left out of ADD_INTO always; of SEL and SEL_ADD when at->zero_skip (SEL
 * then writes zeros there). */
void tg__select_slices(tg_tensor *full, const index_attr *at, tg_tensor *part, sel_mode mode);

#endif
