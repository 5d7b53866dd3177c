/* Streaming (non-temporal) stores for large elementwise outputs.
 *
 * An ordinary store to a line that is not in cache first reads the line from
 * memory (read for ownership), so a kernel writing an 80 MB output moves
 * 160 MB.  A non-temporal store writes the line without reading it, but
 * also leaves it out of cache: an output small enough to stay in cache is
 * read back from there by the next op, and streaming it gains nothing or
 * loses.  Hence the threshold: only outputs of at least
 * TG_STREAM_MIN_BYTES, well beyond the caches, are streamed (the
 * measurements behind it: docs/performance.md).
 *
 * The stores are SSE2's (baseline x86-64), so they are legal in every
 * TG_CLONES version: 512 bytes of output are computed into a local array (a
 * loop the compiler vectorises for the clone's width) and written out with
 * 16-byte streaming stores.  The staging array is small: one of 4 KiB
 * aliases with the inputs (4 KiB aliasing), and computing straight into
 * registers a line at a time is a loop the compiler does not vectorise.  On
 * other targets the loop is the plain one.  The result is the same bits
 * either way: only the path of the bytes to memory differs. */
#ifndef TG_STREAM_H
#define TG_STREAM_H

#include "../core/parallel.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) && !defined(TG_NO_STREAM)
#include <emmintrin.h>
#define TG_STREAMING 1
/* One 64-byte aligned line from src (any alignment) to dst, around the
 * cache.  Typed loads (not __m128i ones) let the compiler keep the line in
 * vector registers instead of going through memory. */
static inline void tg__stream_line_f64(double *dst, const double *src)
{
    for (int k = 0; k < 8; k += 2) _mm_stream_pd(dst + k, _mm_loadu_pd(src + k));
}
static inline void tg__stream_line_f32(float *dst, const float *src)
{
    for (int k = 0; k < 16; k += 4) _mm_stream_ps(dst + k, _mm_loadu_ps(src + k));
}
/* Streaming stores are weakly ordered: fence them before another thread
 * could read the output (a tape may be handed to another thread). */
#define TG_STREAM_FENCE() _mm_sfence()
#else
#define TG_STREAMING      0
#define TG_STREAM_FENCE() ((void)0)
static inline void tg__stream_line_f64(double *dst, const double *src)
{
    memcpy(dst, src, 64);
}
static inline void tg__stream_line_f32(float *dst, const float *src)
{
    memcpy(dst, src, 64);
}
#endif

#define TG_STREAM_MIN_BYTES ((size_t)16 << 20)

/* One 64-byte line of values from src to the aligned dst (dst's type picks f32 or f64). */
#define TG_STREAM_LINE(dst, src)                                                                   \
    _Generic((dst), double * : tg__stream_line_f64, float * : tg__stream_line_f32)(dst, src)

/* Elements per piece of a parallel elementwise loop: a multiple of the
 * 512-byte streaming block in either type, so that every piece after the
 * aligned head starts on a 64-byte boundary. */
#define TG_ELEM_GRAIN ((int64_t)1 << 13)
/* The fewest elements an elementwise loop splits among threads (measured: docs/performance.md,
 * "Thread thresholds: elementwise and reductions"). */
#define TG_ELEM_MIN_WORK ((int64_t)1 << 16)

/* for (i = 0; i < n; i++) { body }, the variadic part, which computes
 * element i alone (it writes only outputs at i): in pieces of TG_ELEM_GRAIN
 * elements, shared among threads when n reaches min_work (the loop's
 * measured threshold, TG_ELEM_MIN_WORK for a plain map). */
#define TG_ELEM_LOOP(n, min_work, i, ...)                                                          \
    do {                                                                                           \
        const int64_t el_n_ = (n);                                                                 \
        TG_PAR_RANGES(tg__par_threads(el_n_, (min_work)), el_n_, TG_ELEM_GRAIN, el_lo_, el_hi_,    \
                      for (int64_t i = el_lo_; i < el_hi_; i++){__VA_ARGS__});                     \
    } while (0)

/* for (i = 0; i < n; i++) o[i] = r, where the statements after `r` (the
 * variadic part) compute the T value r from i.  Outputs of at least
 * TG_STREAM_MIN_BYTES are written with streaming stores: a plain head up to
 * a 64-byte boundary, then 512-byte blocks, each computed into a local
 * array (a loop the compiler vectorises) and streamed out a line at a time,
 * then a plain tail.  Smaller outputs take the plain loop alone, as if the
 * macro were not there.  After the head, the elements are cut into pieces
 * of TG_ELEM_GRAIN (whole blocks, so each piece stays aligned) shared among
 * threads when n is large enough; an element's value does not depend on
 * its piece.  The macro's own locals start with sl_, out of the way of the
 * callers'. */
#define TG_STORE_LOOP(T, o, n, i, r, ...)                                                          \
    do {                                                                                           \
        T *restrict const sl_o = (o);                                                              \
        const int64_t sl_n = (n);                                                                  \
        const bool sl_st = TG_STREAMING && (size_t)sl_n * sizeof(T) >= TG_STREAM_MIN_BYTES;        \
        /* elements before the first 64-byte boundary (o is T-aligned) */                          \
        int64_t sl_h = sl_st ? (int64_t)((-(uintptr_t)sl_o & 63) / sizeof(T)) : 0;                 \
        if (sl_h > sl_n) sl_h = sl_n;                                                              \
        for (int64_t i = 0; i < sl_h; i++) {                                                       \
            T r;                                                                                   \
            __VA_ARGS__;                                                                           \
            sl_o[i] = r;                                                                           \
        }                                                                                          \
        TG_PAR_RANGES(                                                                             \
            tg__par_threads(sl_n, TG_ELEM_MIN_WORK), sl_n - sl_h, TG_ELEM_GRAIN, sl_lo, sl_hi,     \
            TG__STORE_PIECE(T, sl_o, sl_h + sl_lo, sl_h + sl_hi, sl_st, i, r, __VA_ARGS__));       \
    } while (0)

/* TG_STORE_LOOP's elements lo <= i < hi, streamed (st: lo on a 64-byte
 * boundary) or plain.  A streamed piece ends with its fence, on the thread
 * that made the stores. */
#define TG__STORE_PIECE(T, o, lo, hi, st, i, r, ...)                                               \
    do {                                                                                           \
        const int64_t sp_hi = (hi);                                                                \
        int64_t sp_i = (lo);                                                                       \
        if (st) {                                                                                  \
            enum { sp_line = 64 / sizeof(T), sp_blk = 512 / sizeof(T) };                           \
            for (; sp_i + sp_blk <= sp_hi; sp_i += sp_blk) {                                       \
                T sp_t[sp_blk];                                                                    \
                for (int sp_j = 0; sp_j < sp_blk; sp_j++) {                                        \
                    const int64_t i = sp_i + sp_j;                                                 \
                    T r;                                                                           \
                    __VA_ARGS__;                                                                   \
                    sp_t[sp_j] = r;                                                                \
                    (void)i;                                                                       \
                }                                                                                  \
                for (int sp_j = 0; sp_j < sp_blk; sp_j += sp_line)                                 \
                    TG_STREAM_LINE((o) + sp_i + sp_j, sp_t + sp_j);                                \
            }                                                                                      \
        }                                                                                          \
        for (; sp_i < sp_hi; sp_i++) {                                                             \
            const int64_t i = sp_i;                                                                \
            T r;                                                                                   \
            __VA_ARGS__;                                                                           \
            (o)[i] = r;                                                                            \
        }                                                                                          \
        if (st) TG_STREAM_FENCE();                                                                 \
    } while (0)

#endif
