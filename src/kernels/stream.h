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

/* for (i = 0; i < n; i++) o[i] = r, where the statements after `r` (the
 * variadic part) compute the T value r from i.  Outputs of at least
 * TG_STREAM_MIN_BYTES are written with streaming stores: a plain head up to
 * a 64-byte boundary, then 512-byte blocks, each computed into a local
 * array (a loop the compiler vectorises) and streamed out a line at a time,
 * then a plain tail.  Smaller outputs take the plain loop alone, as if the
 * macro were not there.  The macro's own locals start with sl_, out of the
 * way of the callers'. */
#define TG_STORE_LOOP(T, o, n, i, r, ...)                                                          \
    do {                                                                                           \
        T *restrict const sl_o = (o);                                                              \
        const int64_t sl_n = (n);                                                                  \
        if (TG_STREAMING && (size_t)sl_n * sizeof(T) >= TG_STREAM_MIN_BYTES) {                     \
            enum { sl_line = 64 / sizeof(T), sl_blk = 512 / sizeof(T) };                           \
            int64_t sl_i = 0;                                                                      \
            for (; sl_i < sl_n && ((uintptr_t)(sl_o + sl_i) & 63) != 0; sl_i++) {                  \
                const int64_t i = sl_i;                                                            \
                T r;                                                                               \
                __VA_ARGS__;                                                                       \
                sl_o[i] = r;                                                                       \
            }                                                                                      \
            for (; sl_i + sl_blk <= sl_n; sl_i += sl_blk) {                                        \
                T sl_t[sl_blk];                                                                    \
                for (int sl_j = 0; sl_j < sl_blk; sl_j++) {                                        \
                    const int64_t i = sl_i + sl_j;                                                 \
                    T r;                                                                           \
                    __VA_ARGS__;                                                                   \
                    sl_t[sl_j] = r;                                                                \
                    (void)i;                                                                       \
                }                                                                                  \
                for (int sl_j = 0; sl_j < sl_blk; sl_j += sl_line)                                 \
                    TG_STREAM_LINE(sl_o + sl_i + sl_j, sl_t + sl_j);                               \
            }                                                                                      \
            for (; sl_i < sl_n; sl_i++) {                                                          \
                const int64_t i = sl_i;                                                            \
                T r;                                                                               \
                __VA_ARGS__;                                                                       \
                sl_o[i] = r;                                                                       \
            }                                                                                      \
            TG_STREAM_FENCE();                                                                     \
        } else {                                                                                   \
            for (int64_t i = 0; i < sl_n; i++) {                                                   \
                T r;                                                                               \
                __VA_ARGS__;                                                                       \
                sl_o[i] = r;                                                                       \
            }                                                                                      \
        }                                                                                          \
    } while (0)

#endif
