/* Loops split among threads (OpenMP when TG_HAVE_OPENMP), deterministically.
 *
 * A parallel loop's iterations are pieces whose bounds the caller fixes
 * without regard to the thread count; OpenMP's static schedule hands each
 * thread a contiguous run of them.  A piece computes the same bits on any
 * thread, and a reduction keeps one partial per piece and adds the partials
 * up in piece order after the loop: so every result is independent of the
 * thread count, one thread included (include/tapegrad/threads.h).  Without
 * OpenMP the same pieces run in order on the calling thread. */
#ifndef TG_PARALLEL_H
#define TG_PARALLEL_H

#include "tg_config.h"

#include <stdbool.h>
#include <stdint.h>

/* Threads for a loop of `work` units (elements, or elements times a cost
 * the caller weighs them by): 1 when work < min_work, inside an OpenMP
 * parallel region already, in a child after fork() or when the setting is
 * 1; else the setting.  min_work is the call site's measured threshold
 * (docs/performance.md). */
int tg__par_threads(int64_t work, int64_t min_work);

/* Tests only: every loop takes the threaded path whatever its size (with
 * min_work ignored), so small shapes exercise the pieces and the combine.
 * Returns the previous setting. */
bool tg__par_force(bool on);

/* Whether tg__par_force is on: a call site whose pieces depend on a size
 * threshold (tg__gemm) cuts small work too, the same way at any thread
 * count. */
bool tg__par_forced(void);

/* Pieces of `grain` items covering n items: the last may be shorter. */
#define TG_PAR_PIECES(n, grain) (((n) + (grain)-1) / (grain))

#if TG_HAVE_OPENMP
#define TG__OMP_FOR_NT                                                                             \
    _Pragma("omp parallel for schedule(static) num_threads(pf_nt_) if (pf_nt_ > 1)")
#else
#define TG__OMP_FOR_NT
#endif

/* for (int64_t i = 0; i < n; i++) { body }, the iterations shared by nt
 * threads (tg__par_threads' answer) in contiguous runs.  The iterations must
 * not depend on each other; each writes only its own outputs.  The body
 * is the variadic part (it may hold commas); it must not return or jump
 * out of the loop.  With one thread the loop runs without entering the
 * OpenMP runtime at all (which costs a call and an allocation even when
 * a region's if clause is false). */
#define TG_PAR_FOR(nt, n, i, ...)                                                                  \
    do {                                                                                           \
        const int pf_nt_ = (nt);                                                                   \
        const int64_t pf_n_ = (n);                                                                 \
        if (TG_HAVE_OPENMP && pf_nt_ > 1) {                                                        \
            TG__OMP_FOR_NT                                                                         \
            for (int64_t i = 0; i < pf_n_; i++) {                                                  \
                __VA_ARGS__                                                                        \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < pf_n_; i++) {                                                  \
                __VA_ARGS__                                                                        \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* ---- pieces of a flat range (elementwise maps, sums, optimizer updates) ----
 * for each piece [lo, hi) of `grain` items covering n items (the last may
 * be shorter), the body (the variadic part), which sees lo and hi, through
 * TG_PAR_FOR: with nt 1 in piece order on the calling thread, so a small
 * tensor's loop pays nothing for the threads it does not use.  The pieces
 * are the same either way. */
#define TG_PAR_RANGES(nt, n, grain, lo, hi, ...)                                                   \
    do {                                                                                           \
        const int64_t pr_n_ = (n), pr_g_ = (grain);                                                \
        TG_PAR_FOR((nt), TG_PAR_PIECES(pr_n_, pr_g_), pr_p_, const int64_t lo = pr_p_ * pr_g_;     \
                   const int64_t hi = pr_n_ - lo < pr_g_ ? pr_n_ : lo + pr_g_; __VA_ARGS__;);      \
    } while (0)

#endif
