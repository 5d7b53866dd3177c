/* The loops of the elementwise ops (ops/elementwise.c): a binary map over
 * NumPy-broadcast operands, its gradient summed back over the broadcast
 * axes, and the unary map and gradient of the scalar-attribute ops.
 *
 * The macros are hygienic: every tensor they read or write is a parameter,
 * their own locals end in _, and the element expression EXPR sees only the
 * element values, under the names the caller gives (A, B, ...), and the
 * element type T.  Each element's operands are loaded into those names
 * before EXPR runs, so an EXPR that selects (max's a >= b ? a : b) is a
 * select of values the compiler can vectorise, not a conditional load.
 * Results are rounded to T per element, as an op's output would be. */
#ifndef TG_KERNELS_BCAST_H
#define TG_KERNELS_BCAST_H

#include "../core/internal.h"
#include "wsum.h"

/* The fewest elements of output (or of g, for a gradient) a broadcasting
 * walk splits among threads (measured: docs/performance.md, "Thread
 * thresholds: broadcasting and copies"). */
#define TG_BCAST_MIN_WORK TG_ELEM_MIN_WORK
/* Rows of `last` elements per piece of a walk along rows: about
 * TG_ELEM_GRAIN elements, at least one row (one when rows are empty: an
 * output with no elements still reaches the walk).  Fixed by the sizes
 * alone. */
#define TG__BCAST_ROW_GRAIN(last)                                                                  \
    ((last) >= TG_ELEM_GRAIN || (last) < 1 ? 1 : TG_ELEM_GRAIN / (last))
/* Columns per piece of a gradient summed across rows (a bias gradient):
 * each piece owns these elements of d (64 doubles of accumulators, whole
 * cache lines) and visits every row for them, in row order. */
#define TG__BCAST_COL_GRAIN ((int64_t)64)

/* Row `row` of a walk along the last axis of extents ext (nd axes): its
 * coordinates in idx (axes 0 .. nd-2) and the offsets o[k] of three
 * operands of strides s0, s1, s2 (0 along a broadcast axis) at its start.
 * A piece of rows starts here and then steps with TG__BCAST_NEXT_ROW. */
static inline void tg__bcast_row_at(int nd, const int64_t *ext, int64_t row, int64_t *idx,
                                    const int64_t *s0, const int64_t *s1, const int64_t *s2,
                                    int64_t *o)
{
    o[0] = o[1] = o[2] = 0;
    for (int e = nd - 2; e >= 0; e--) {
        const int64_t c = row % ext[e];
        row /= ext[e];
        idx[e] = c;
        o[0] += c * s0[e];
        o[1] += c * s1[e];
        o[2] += c * s2[e];
    }
}

/* Steps idx (a row's coordinates over nd axes of extents ext) to the next
 * row and the offsets o0, o1, o2 of operands of strides s0, s1, s2 with it. */
#define TG__BCAST_NEXT_ROW(nd, ext, idx, s0, o0, s1, o1, s2, o2)                                   \
    do {                                                                                           \
        for (int nr_e_ = (nd)-2; nr_e_ >= 0; nr_e_--) {                                            \
            (o0) += (s0)[nr_e_];                                                                   \
            (o1) += (s1)[nr_e_];                                                                   \
            (o2) += (s2)[nr_e_];                                                                   \
            if (++(idx)[nr_e_] < (ext)[nr_e_]) break;                                              \
            (o0) -= (s0)[nr_e_] * (ext)[nr_e_];                                                    \
            (o1) -= (s1)[nr_e_] * (ext)[nr_e_];                                                    \
            (o2) -= (s2)[nr_e_] * (ext)[nr_e_];                                                    \
            (idx)[nr_e_] = 0;                                                                      \
        }                                                                                          \
    } while (0)

/* out[i] = EXPR for every element of out, A and B the elements of xa and
 * xb broadcast to out's shape.  The fast paths: both of out's element count
 * (one flat loop, streaming stores for a large out), xb or xa a single
 * element; else a walk along out's rows, each input's offset moving by its
 * broadcast strides (0 along a stretched axis). */
#define TG_BCAST_MAP(T, out, xa, xb, A, B, EXPR)                                                   \
    do {                                                                                           \
        T *restrict o_ = (out)->data;                                                              \
        const T *restrict pa_ = (xa)->data, *restrict pb_ = (xb)->data;                            \
        const int64_t n_ = (out)->numel;                                                           \
        if ((xa)->numel == n_ && (xb)->numel == n_) {                                              \
            TG_STORE_LOOP(T, o_, n_, i_, r_, const T A = pa_[i_], B = pb_[i_]; (void)A, (void)B;   \
                          r_ = (T)(EXPR));                                                         \
        } else if ((xb)->numel == 1) {                                                             \
            const T b1_ = pb_[0];                                                                  \
            TG_STORE_LOOP(T, o_, n_, i_, r_, const T A = pa_[i_], B = b1_; (void)A, (void)B;       \
                          r_ = (T)(EXPR));                                                         \
        } else if ((xa)->numel == 1) {                                                             \
            const T a1_ = pa_[0];                                                                  \
            TG_STORE_LOOP(T, o_, n_, i_, r_, const T A = a1_, B = pb_[i_]; (void)A, (void)B;       \
                          r_ = (T)(EXPR));                                                         \
        } else {                                                                                   \
            const int nd_ = (out)->ndim;                                                           \
            const int64_t *const ext_ = (out)->shape;                                              \
            int64_t sa_[TG_MAX_DIMS], sb_[TG_MAX_DIMS];                                            \
            tg__broadcast_strides((xa)->ndim, (xa)->shape, nd_, ext_, sa_);                        \
            tg__broadcast_strides((xb)->ndim, (xb)->shape, nd_, ext_, sb_);                        \
            const int64_t last_ = nd_ ? ext_[nd_ - 1] : 1;                                         \
            const int64_t la_ = nd_ ? sa_[nd_ - 1] : 0, lb_ = nd_ ? sb_[nd_ - 1] : 0;              \
            /* pieces of whole rows: an element's value does not depend on its piece */            \
            TG_PAR_RANGES(                                                                         \
                tg__par_threads(n_, TG_BCAST_MIN_WORK), last_ ? n_ / last_ : 0,                    \
                TG__BCAST_ROW_GRAIN(last_), r0_, r1_, int64_t idx_[TG_MAX_DIMS], of_[3];           \
                tg__bcast_row_at(nd_, ext_, r0_, idx_, sa_, sb_, sb_, of_);                        \
                int64_t ia_ = of_[0], ib_ = of_[1], iu_ = 0;                                       \
                for (int64_t r_ = r0_; r_ < r1_; r_++) {                                           \
                    const int64_t base_ = r_ * last_;                                              \
                    for (int64_t j_ = 0; j_ < last_; j_++) {                                       \
                        const T A = pa_[ia_ + j_ * la_], B = pb_[ib_ + j_ * lb_];                  \
                        (void)A, (void)B;                                                          \
                        o_[base_ + j_] = (T)(EXPR);                                                \
                    }                                                                              \
                    TG__BCAST_NEXT_ROW(nd_, ext_, idx_, sa_, ia_, sb_, ib_, sb_, iu_);             \
                });                                                                                \
        }                                                                                          \
    } while (0)

/* d (+)= EXPR summed over the axes along which input `slot` (0: xa, 1: xb)
 * of a broadcasting binary op was stretched: d is that input's gradient
 * (acc: add to what it holds), G the output gradient g's element, A and B
 * the inputs' and Y the output y's, all broadcast to g's shape (g and y
 * of one shape).  A summed
 * element is added up in wide accumulators (kernels/wsum.h) the way
 * sum_kernel in ops/reduce_loops.c sums for the op-built rule (tg_sum_to), so the
 * two rules give the same bits: w holds them, room for 2 d->numel doubles
 * when d is summed to more than one element (else unused). */
#define TG_BCAST_GRAD(T, d, acc, w, slot, g, xa, xb, y, G, A, B, Y, EXPR)                          \
    do {                                                                                           \
        T *restrict dd_ = (d)->data;                                                               \
        const T *restrict pg_ = (g)->data, *restrict pa_ = (xa)->data, *restrict pb_ = (xb)->data, \
                          *restrict py_ = (y)->data;                                               \
        const int64_t n_ = (g)->numel;                                                             \
        const bool acc_ = (acc);                                                                   \
        if ((xa)->numel == n_ && (xb)->numel == n_ && acc_) {                                      \
            TG_ELEM_LOOP(n_, TG_ELEM_MIN_WORK, i_, const T G = pg_[i_], A = pa_[i_], B = pb_[i_],  \
                         Y = py_[i_];                                                              \
                         (void)G, (void)A, (void)B, (void)Y; dd_[i_] += (T)(EXPR););               \
        } else if ((xa)->numel == n_ && (xb)->numel == n_) {                                       \
            TG_STORE_LOOP(T, dd_, n_, i_, r_, const T G = pg_[i_], A = pa_[i_], B = pb_[i_],       \
                          Y = py_[i_];                                                             \
                          (void)G, (void)A, (void)B, (void)Y; r_ = (T)(EXPR));                     \
        } else if ((d)->numel == 1) {                                                              \
            /* a full reduction: the other input has g's elements, in order */                     \
            const int64_t fa_ = (xa)->numel == 1 ? 0 : 1, fb_ = (xb)->numel == 1 ? 0 : 1;          \
            double s_ = 0, c_ = 0;                                                                 \
            TG__WSUM_PAR(T, n_, j_, (T)(EXPR), s_, c_, const T G = pg_[j_], A = pa_[j_ * fa_],     \
                         B = pb_[j_ * fb_], Y = py_[j_];                                           \
                         (void)G, (void)A, (void)B, (void)Y);                                      \
            const T r_ = (T)tg__wsum_value(s_, c_);                                                \
            dd_[0] = acc_ ? dd_[0] + r_ : r_;                                                      \
        } else {                                                                                   \
            TG__BCAST_GRAD_WALK(T, d, acc_, w, slot, g, xa, xb, pg_, pa_, pb_, py_, G, A, B, Y,    \
                                EXPR);                                                             \
        }                                                                                          \
    } while (0)

/* TG_BCAST_GRAD's general case, a walk along g's rows, pg, pa, pb and py
 * the element pointers of g, xa, xb and y.  red: d is summed (w its
 * accumulators); else the other input is the broadcast one and each
 * element of d has one term, and pieces of whole rows go to threads.  A
 * summed row either adds into one accumulator (d stretched along the
 * rows) or one per element.  Threads share a sum only by d's elements:
 * each element of d is added up by one piece, over its rows in row order,
 * as the serial walk (and sum_kernel) does, so its bits do not depend on
 * the pieces.  Stretched along the rows, rows go to threads when each row
 * has an accumulator of its own (else the walk is one piece); else pieces
 * of columns (TG__BCAST_COL_GRAIN), each walking every row. */
#define TG__BCAST_GRAD_WALK(T, d, acc, w, slot, g, xa, xb, pg, pa, pb, py, G, A, B, Y, EXPR)       \
    do {                                                                                           \
        T *restrict wd_ = (d)->data;                                                               \
        const bool wacc_ = (acc);                                                                  \
        const int nd_ = (g)->ndim;                                                                 \
        const int64_t *const ext_ = (g)->shape;                                                    \
        const int64_t n_ = (g)->numel;                                                             \
        int64_t sa_[TG_MAX_DIMS], sb_[TG_MAX_DIMS];                                                \
        tg__broadcast_strides((xa)->ndim, (xa)->shape, nd_, ext_, sa_);                            \
        tg__broadcast_strides((xb)->ndim, (xb)->shape, nd_, ext_, sb_);                            \
        const int64_t *const sd_ = (slot) ? sb_ : sa_;                                             \
        const int64_t m_ = (d)->numel;                                                             \
        const bool red_ = m_ != n_;                                                                \
        double *restrict ws_ = (w), *restrict wc_ = TG__WSUM_COMP(T) && red_ ? (w) + m_ : (w);     \
        if (red_) {                                                                                \
            for (int64_t i_ = 0; i_ < m_; i_++) ws_[i_] = 0;                                       \
            if (TG__WSUM_COMP(T))                                                                  \
                for (int64_t i_ = 0; i_ < m_; i_++) wc_[i_] = 0;                                   \
        }                                                                                          \
        const int64_t last_ = nd_ ? ext_[nd_ - 1] : 1, rows_ = last_ ? n_ / last_ : 0;             \
        const int64_t la_ = nd_ ? sa_[nd_ - 1] : 0, lb_ = nd_ ? sb_[nd_ - 1] : 0,                  \
                      ld_ = nd_ ? sd_[nd_ - 1] : 0;                                                \
        bool own_ = !red_ || ld_ == 0; /* every row its own elements of d */                       \
        for (int e_ = 0; red_ && ld_ == 0 && e_ < nd_ - 1; e_++)                                   \
            own_ = own_ && (ext_[e_] == 1 || sd_[e_] != 0);                                        \
        const int nt_ = tg__par_threads(n_, TG_BCAST_MIN_WORK);                                    \
        if (own_ || ld_ == 0) {                                                                    \
            TG_PAR_RANGES(                                                                         \
                own_ ? nt_ : 1, rows_, TG__BCAST_ROW_GRAIN(last_), r0_, r1_,                       \
                int64_t idx_[TG_MAX_DIMS], of_[3];                                                 \
                tg__bcast_row_at(nd_, ext_, r0_, idx_, sa_, sb_, sd_, of_);                        \
                int64_t ia_ = of_[0], ib_ = of_[1], id_ = of_[2];                                  \
                for (int64_t r_ = r0_; r_ < r1_; r_++) {                                           \
                    const int64_t base_ = r_ * last_;                                              \
                    const T *restrict gr_ = (pg) + base_, *restrict yr_ = (py) + base_;            \
                    const T *restrict ar_ = (pa) + ia_, *restrict br_ = (pb) + ib_;                \
                    if (!red_) {                                                                   \
                        T *restrict dr_ = wd_ + base_;                                             \
                        if (wacc_)                                                                 \
                            for (int64_t j_ = 0; j_ < last_; j_++) {                               \
                                const T G = gr_[j_], A = ar_[j_ * la_], B = br_[j_ * lb_],         \
                                        Y = yr_[j_];                                               \
                                (void)G, (void)A, (void)B, (void)Y;                                \
                                dr_[j_] += (T)(EXPR);                                              \
                            }                                                                      \
                        else                                                                       \
                            for (int64_t j_ = 0; j_ < last_; j_++) {                               \
                                const T G = gr_[j_], A = ar_[j_ * la_], B = br_[j_ * lb_],         \
                                        Y = yr_[j_];                                               \
                                (void)G, (void)A, (void)B, (void)Y;                                \
                                dr_[j_] = (T)(EXPR);                                               \
                            }                                                                      \
                    } else {                                                                       \
                        double rs_ = 0, rc_ = 0;                                                   \
                        TG__WROW_LET(T, last_, j_, (T)(EXPR), rs_, rc_, const T G = gr_[j_],       \
                                     A = ar_[j_ * la_], B = br_[j_ * lb_], Y = yr_[j_];            \
                                     (void)G, (void)A, (void)B, (void)Y);                          \
                        TG__WADD(T, ws_[id_], wc_[id_], rs_);                                      \
                        if (TG__WSUM_COMP(T)) wc_[id_] += rc_;                                     \
                    }                                                                              \
                    TG__BCAST_NEXT_ROW(nd_, ext_, idx_, sa_, ia_, sb_, ib_, sd_, id_);             \
                });                                                                                \
        } else {                                                                                   \
            TG_PAR_RANGES(                                                                         \
                nt_, last_, TG__BCAST_COL_GRAIN, c0_, c1_, int64_t idx_[TG_MAX_DIMS] = {0};        \
                int64_t ia_ = 0, ib_ = 0, id_ = 0; for (int64_t r_ = 0; r_ < rows_; r_++) {        \
                    const T *restrict gr_ = (pg) + r_ * last_, *restrict yr_ = (py) + r_ * last_;  \
                    const T *restrict ar_ = (pa) + ia_, *restrict br_ = (pb) + ib_;                \
                    double *restrict wsr_ = ws_ + id_, *restrict wcr_ = wc_ + id_;                 \
                    for (int64_t j_ = c0_; j_ < c1_; j_++) {                                       \
                        const T G = gr_[j_], A = ar_[j_ * la_], B = br_[j_ * lb_], Y = yr_[j_];    \
                        (void)G, (void)A, (void)B, (void)Y;                                        \
                        TG__WADD(T, wsr_[j_ * ld_], wcr_[j_ * ld_], (T)(EXPR));                    \
                    }                                                                              \
                    TG__BCAST_NEXT_ROW(nd_, ext_, idx_, sa_, ia_, sb_, ib_, sd_, id_);             \
                });                                                                                \
        }                                                                                          \
        for (int64_t i_ = 0; red_ && i_ < m_; i_++) {                                              \
            const T r_ = (T)tg__wsum_value(ws_[i_], TG__WSUM_COMP(T) ? wc_[i_] : 0);               \
            wd_[i_] = wacc_ ? wd_[i_] + r_ : r_;                                                   \
        }                                                                                          \
    } while (0)

/* out[i] = EXPR for every element X of x (out of x's shape). */
#define TG_MAP1(T, out, x, X, EXPR)                                                                \
    do {                                                                                           \
        const T *restrict px_ = (x)->data;                                                         \
        TG_STORE_LOOP(T, (out)->data, (x)->numel, i_, r_, const T X = px_[i_]; r_ = (T)(EXPR));    \
    } while (0)

/* d (+)= EXPR elementwise (acc: add), G the element of the output gradient
 * g, X of the input x and Y of the output y, all of one shape. */
#define TG_MAP1_GRAD(T, d, acc, g, x, y, G, X, Y, EXPR)                                            \
    do {                                                                                           \
        T *restrict dd_ = (d)->data;                                                               \
        const T *restrict pg_ = (g)->data, *restrict px_ = (x)->data, *restrict py_ = (y)->data;   \
        const int64_t n_ = (g)->numel;                                                             \
        if (acc) {                                                                                 \
            TG_ELEM_LOOP(n_, TG_ELEM_MIN_WORK, i_, const T G = pg_[i_], X = px_[i_], Y = py_[i_];  \
                         (void)G, (void)X, (void)Y; dd_[i_] += (T)(EXPR););                        \
        } else {                                                                                   \
            TG_STORE_LOOP(T, dd_, n_, i_, r_, const T G = pg_[i_], X = px_[i_], Y = py_[i_];       \
                          (void)G, (void)X, (void)Y; r_ = (T)(EXPR));                              \
        }                                                                                          \
    } while (0)

#endif
