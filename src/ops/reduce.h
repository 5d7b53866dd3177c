/* Helpers shared by the reductions of src/ops: reduce.c (sum, mean, max,
 * min), reduce_stat.c (prod, logsumexp, norm, var, std, argmax) and scan.c
 * (cumsum, cumprod).  Internal (tg__). */
#ifndef TG_OPS_REDUCE_H
#define TG_OPS_REDUCE_H

#include "../core/internal.h"

/* PyTorch's convention for an axis of a 0-d tensor: 0 and -1 are accepted,
 * as if it had one axis of extent 1. */
bool tg__scalar_axis(const tg_tensor *x, int axis);
/* The axis list (naxes, axes) of op as flags red[TG_MAX_DIMS]; errors name
 * op and x.  all_name: the call that reduces every axis, named in the
 * error for an empty list (NULL: the op has none; list every axis). */
bool tg__axes_flags(tg_tape *tp, const char *op, const char *all_name, const tg_tensor *x,
                    int naxes, const int *axes, bool *red);
/* The shape of x reduced over red (extent 1 there with keepdim, dropped
 * without); returns its rank. */
int tg__reduced_shape(const tg_tensor *x, const bool *red, bool keepdim, int64_t *shape);
/* Output strides of x reduced over red: 0 along reduced axes. */
void tg__reduce_strides(const tg_tensor *x, const bool *red, int64_t *ostride);
/* The product of extents [from, to) of x (0 when out of range: see reduce.c). */
int64_t tg__prod_range(const tg_tensor *x, int from, int to);
/* For every element of x (row-major), the flat index of the output element
 * it reduces into, in tape scratch (NULL with the tape's error set on out of
 * memory; NULL and true for an x with no elements). */
bool tg__reduce_map(tg_tape *tp, const tg_tensor *x, const bool *red, int64_t **map);
/* g (the reduced shape, keepdim or not) broadcast back to x's shape, with
 * ops (recordable). */
tg_tensor *tg__reduce_expand(tg_tape *tp, tg_tensor *g, const tg_tensor *x, const bool *red,
                             bool keepdim);
/* Attribute printer (tg_attrs_fn style) of a reduction of x over red:
 * "axis=1" or "axes=(0,2)" (nothing when every axis is reduced), then
 * "keepdim=1" when kept, then extra (may be NULL), joined by ", ". */
int tg__axes_attrs(const tg_tensor *x, const bool *red, bool keepdim, const char *extra, char *buf,
                   size_t size);
/* The axes flagged in red as a list; returns their count. */
int tg__axes_list(const tg_tensor *x, const bool *red, int *axes);

/* ---- walks of a reduction by output elements (reduce_loops.c) -------------
 * x (at least one element) seen as rows of outputs: the kept axes before
 * the last, row-major (the output's order), each row of `inner` outputs,
 * inner the last axis's extent when it is kept (run 1), else 1 (run its
 * extent).  The elements reduced into output (row, c) are runs of `run`
 * elements at offsets base(row) + off(t) + c, t running over the tuples of
 * the reduced axes before the last in row-major order: x's row-major order,
 * the serial walk's.  So each output can be reduced alone, in the serial
 * order, and its bits do not depend on which piece or thread does it.
 * Pieces are rgrain whole rows of outputs, fixed by the sizes alone; a
 * piece's columns [C0, C1) are the whole row (blocks of columns would
 * walk x with a stride: see reduce_loops.c). */
typedef struct tg__red_plan {
    int64_t rows, inner, run;
    bool lastred;                                 /* the last axis reduced (run its extent) */
    int64_t tuples;                               /* reduced tuples per output: the runs it takes */
    int nk, nr;                                   /* kept and reduced axes before the last */
    int64_t kext[TG_MAX_DIMS], kstr[TG_MAX_DIMS]; /* their extents and strides in x */
    int64_t rext[TG_MAX_DIMS], rstr[TG_MAX_DIMS];
    int64_t rgrain; /* output rows per piece */
    int64_t pieces;
} tg__red_plan;

/* The plan of x reduced over red (x with at least one element). */
void tg__red_plan_init(tg__red_plan *pl, const tg_tensor *x, const bool *red);
/* Piece u's output rows [r0, r1) and columns [c0, c1). */
void tg__red_piece(const tg__red_plan *pl, int64_t u, int64_t *r0, int64_t *r1, int64_t *c0,
                   int64_t *c1);
/* The offset in x of output row `row`'s first element; its coordinates
 * along the kept axes into kidx. */
int64_t tg__red_row_at(const tg__red_plan *pl, int64_t row, int64_t *kidx);

/* For each piece of the plan pl, on nt threads (tg__par_threads), the body
 * (the variadic part), which sees the piece's rows [R0, R1) and columns
 * [C0, C1) and must write only those outputs (and their elements of x). */
#define TG__RED_PIECES(pl, nt, R0, R1, C0, C1, ...)                                                \
    do {                                                                                           \
        const tg__red_plan *const rpp_ = (pl);                                                     \
        TG_PAR_FOR((nt), rpp_->pieces, rpu_, int64_t R0, R1, C0, C1;                               \
                   tg__red_piece(rpp_, rpu_, &R0, &R1, &C0, &C1); __VA_ARGS__;);                   \
    } while (0)

/* For each reduced tuple in order and, within it, each output row R of
 * [r0, r1), the body, which sees OFF: the offset in x of the row's run for
 * that tuple (column 0, run element 0).  Every output takes its tuples in
 * order; the rows inside a tuple make the walk stream through x where the
 * kept axes are the inner ones. */
#define TG__RED_ROWS(pl, r0, r1, R, OFF, ...)                                                      \
    do {                                                                                           \
        const tg__red_plan *const rrp_ = (pl);                                                     \
        const int64_t rr0_ = (r0), rr1_ = (r1);                                                    \
        int64_t rrk0_[TG_MAX_DIMS], rri_[TG_MAX_DIMS] = {0}, rrt_off_ = 0;                         \
        const int64_t rrb0_ = tg__red_row_at(rrp_, rr0_, rrk0_);                                   \
        for (int64_t rrt_ = 0; rrt_ < rrp_->tuples; rrt_++) {                                      \
            int64_t rrk_[TG_MAX_DIMS], rrb_ = rrb0_;                                               \
            for (int rre_ = 0; rre_ < rrp_->nk; rre_++) rrk_[rre_] = rrk0_[rre_];                  \
            for (int64_t R = rr0_; R < rr1_; R++) {                                                \
                const int64_t OFF = rrb_ + rrt_off_;                                               \
                __VA_ARGS__;                                                                       \
                for (int rre_ = rrp_->nk - 1; rre_ >= 0; rre_--) {                                 \
                    rrb_ += rrp_->kstr[rre_];                                                      \
                    if (++rrk_[rre_] < rrp_->kext[rre_]) break;                                    \
                    rrb_ -= rrp_->kstr[rre_] * rrp_->kext[rre_];                                   \
                    rrk_[rre_] = 0;                                                                \
                }                                                                                  \
            }                                                                                      \
            for (int rre_ = rrp_->nr - 1; rre_ >= 0; rre_--) {                                     \
                rrt_off_ += rrp_->rstr[rre_];                                                      \
                if (++rri_[rre_] < rrp_->rext[rre_]) break;                                        \
                rrt_off_ -= rrp_->rstr[rre_] * rrp_->rext[rre_];                                   \
                rri_[rre_] = 0;                                                                    \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* For each element of x reduced into the outputs of rows [r0, r1), columns
 * [c0, c1), each output's elements in order: the body sees O, the output's
 * flat index, and I, the element's offset in x. */
#define TG__RED_ELEMS(pl, r0, r1, c0, c1, O, I, ...)                                               \
    do {                                                                                           \
        const tg__red_plan *const rep_ = (pl);                                                     \
        const int64_t rec0_ = (c0), rec1_ = (c1);                                                  \
        TG__RED_ROWS(rep_, (r0), (r1), rer_, reo_, {                                               \
            if (rep_->run == 1)                                                                    \
                for (int64_t rec_ = rec0_; rec_ < rec1_; rec_++) {                                 \
                    const int64_t O = rer_ * rep_->inner + rec_, I = reo_ + rec_;                  \
                    __VA_ARGS__;                                                                   \
                }                                                                                  \
            else                                                                                   \
                for (int64_t rel_ = 0; rel_ < rep_->run; rel_++) {                                 \
                    const int64_t O = rer_, I = reo_ + rel_;                                       \
                    __VA_ARGS__;                                                                   \
                }                                                                                  \
        });                                                                                        \
    } while (0)

/* out = scale * the sum of x over red, in wide accumulators; w: room for
 * out->numel doubles (f32) or twice that (f64) when out has more than one
 * element. */
void tg__sum_kernel(tg_tensor *out, const tg_tensor *x, const bool *red, double scale, double *w);
/* d (+)= (T)scale * g broadcast back over red (g: x reduced, keepdim or
 * not, more than one element; d: x's shape). */
void tg__sum_expand(tg_tensor *d, bool acc, const tg_tensor *g, const tg_tensor *x, const bool *red,
                    double scale);

#endif
