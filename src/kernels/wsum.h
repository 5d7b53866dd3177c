/* Sums in a wider accumulator, for the reductions gradients make (sum_to,
 * a broadcast input's gradient, bias gradients).
 *
 * A sum of K terms added one at a time in the terms' own precision has an
 * error bound of about K eps sum|t|: with K = 10^6 f32 terms that is visible
 * (a relative error of 1e-5 where PyTorch gives 1e-7).  So:
 *   - f32 terms are added in a double: after K adds its error is about
 *     K 1.1e-16 sum|t|, far below the final rounding to f32 for any K a
 *     tensor can hold in practice (under 2^26 terms it stays under half an
 *     f32 ulp of sum|t|);
 *   - f64 terms are added in a double-double (s, c): TwoSum gives each add's
 *     exact rounding error, and c collects them, so the result s + c has an
 *     error of about eps |sum| + K eps^2 sum|t|.
 * Both are plain lane-wise arithmetic (no branch), so a loop adding a row
 * of terms into a row of accumulators vectorises, and a wider vector
 * version computes the same bits (nothing is reassociated).  A term or a
 * partial sum that is not finite makes c NaN; tg__wsum_value then returns s
 * alone (inf, -inf or NaN, the plain sum's value). */
#ifndef TG_KERNELS_WSUM_H
#define TG_KERNELS_WSUM_H

#include "../core/parallel.h"

#include <math.h>
#include <stdint.h>

/* Whether terms of type T need the compensation term c (f64). */
#define TG__WSUM_COMP(T) (sizeof(T) == sizeof(double))

/* (s, c) += v, s and c double lvalues (c untouched for f32). */
#define TG__WADD(T, s, c, v)                                                                       \
    do {                                                                                           \
        const double v_ = (double)(v);                                                             \
        if (TG__WSUM_COMP(T)) {                                                                    \
            const double t_ = (s) + v_, b_ = t_ - (s);                                             \
            (c) += ((s) - (t_ - b_)) + (v_ - b_);                                                  \
            (s) = t_;                                                                              \
        } else {                                                                                   \
            (s) += v_;                                                                             \
        }                                                                                          \
    } while (0)

/* (S, C) += the sum of EXPR for J = 0 .. len-1 (EXPR an expression of type
 * T in the loop variable J).  Term J goes to lane J % 8 (the last len % 8
 * terms are added in order after the lanes): eight independent chains of
 * adds, so the loop is not bound by one add's latency and vectorises, with
 * the same bits at any vector width.  With (S, C) = (0, 0) on entry and f32
 * terms this is tg_sum's full reduction as it always was. */
#define TG__WROW(T, len, J, EXPR, S, C) TG__WROW_LET(T, len, J, EXPR, S, C, (void)0)

/* TG__WROW where EXPR reads names of its own: the statements after C (the
 * variadic part) declare them from J before each term is taken. */
#define TG__WROW_LET(T, len, J, EXPR, S, C, ...) TG__WROW_AT(T, 0, len, J, EXPR, S, C, __VA_ARGS__)

/* TG__WROW_LET over J = start .. start + len - 1 (term J in lane
 * (J - start) % 8). */
#define TG__WROW_AT(T, start, len, J, EXPR, S, C, ...)                                             \
    do {                                                                                           \
        double ps_[8] = {0}, pc_[8] = {0};                                                         \
        const int64_t st_ = (start), ln_ = (len), n8_ = ln_ - ln_ % 8;                             \
        for (int64_t i8_ = 0; i8_ < n8_; i8_ += 8)                                                 \
            for (int e_ = 0; e_ < 8; e_++) {                                                       \
                const int64_t J = st_ + i8_ + e_;                                                  \
                __VA_ARGS__;                                                                       \
                TG__WADD(T, ps_[e_], pc_[e_], EXPR);                                               \
            }                                                                                      \
        for (int e_ = 0; e_ < 8; e_++) {                                                           \
            TG__WADD(T, S, C, ps_[e_]);                                                            \
            if (TG__WSUM_COMP(T)) (C) += pc_[e_];                                                  \
        }                                                                                          \
        for (int64_t J = st_ + n8_; J < st_ + ln_; J++) {                                          \
            __VA_ARGS__;                                                                           \
            TG__WADD(T, S, C, EXPR);                                                               \
        }                                                                                          \
    } while (0)

/* The most pieces a long sum is cut into, and the fewest terms per piece
 * (a multiple of 8, the lanes of TG__WROW). */
#define TG__WSUM_PIECES ((int64_t)256)
#define TG__WSUM_GRAIN  ((int64_t)1 << 15)
/* The fewest terms a long sum splits among threads (measured: docs/performance.md, "Thread
 * thresholds: elementwise and reductions"). */
#define TG__WSUM_MIN_WORK ((int64_t)1 << 17)

/* (S, C) = the sum of EXPR for J = 0 .. len-1, S and C double lvalues
 * holding 0 on entry.  Up to TG__WSUM_GRAIN terms this is TG__WROW_LET;
 * a longer sum is cut into at most TG__WSUM_PIECES pieces of a size that
 * depends on len alone, each summed by TG__WROW_AT into a partial of its
 * own (on up to tg_get_num_threads() threads), and the partials are added
 * in piece order the way TG__WROW adds its lanes.  So the bits depend on
 * len, never on the thread count. */
#define TG__WSUM_PAR(T, len, J, EXPR, S, C, ...)                                                   \
    do {                                                                                           \
        const int64_t wp_n_ = (len);                                                               \
        if (wp_n_ <= TG__WSUM_GRAIN) {                                                             \
            TG__WROW_AT(T, 0, wp_n_, J, EXPR, S, C, __VA_ARGS__);                                  \
        } else {                                                                                   \
            int64_t wp_g_ = (wp_n_ + TG__WSUM_PIECES - 1) / TG__WSUM_PIECES;                       \
            wp_g_ = wp_g_ < TG__WSUM_GRAIN ? TG__WSUM_GRAIN : (wp_g_ + 7) / 8 * 8;                 \
            double wp_s_[TG__WSUM_PIECES], wp_c_[TG__WSUM_PIECES];                                 \
            TG_PAR_RANGES(                                                                         \
                tg__par_threads(wp_n_, TG__WSUM_MIN_WORK), wp_n_, wp_g_, wp_lo_, wp_hi_,           \
                double wp_ps_ = 0, wp_pc_ = 0;                                                     \
                TG__WROW_AT(T, wp_lo_, wp_hi_ - wp_lo_, J, EXPR, wp_ps_, wp_pc_, __VA_ARGS__);     \
                wp_s_[wp_lo_ / wp_g_] = wp_ps_; wp_c_[wp_lo_ / wp_g_] = wp_pc_;);                  \
            for (int64_t wp_p_ = 0; wp_p_ < TG_PAR_PIECES(wp_n_, wp_g_); wp_p_++) {                \
                TG__WADD(T, S, C, wp_s_[wp_p_]);                                                   \
                if (TG__WSUM_COMP(T)) (C) += wp_c_[wp_p_];                                         \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* The value of an accumulator (s, c): s + c, or s alone when s is not
 * finite (c is then NaN or meaningless). */
static inline double tg__wsum_value(double s, double c)
{
    return isfinite(s) ? s + c : s;
}

#endif
