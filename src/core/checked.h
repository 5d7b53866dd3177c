/* Checked integer arithmetic for sizes, extents, strides and offsets.
 *
 * Every product or sum that forms an element count, a byte size, an output
 * extent or an offset from values a caller chose goes through these, so an
 * overflow is an error the caller reports (naming its op) and never a
 * wrapped length that a kernel then writes past (signed overflow is also
 * undefined behaviour in C).  Each returns false on overflow and then leaves
 * *r unspecified; true with the exact result otherwise.  Not installed. */
#ifndef TG_CHECKED_H
#define TG_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest element count a tensor may have: its byte size (at most 8 per
 * element) and the sizes derived from it (a gradient, two buffers, index
 * arithmetic on n + 1) stay far from INT64_MAX and SIZE_MAX on 64-bit
 * targets. */
#define TG_NUMEL_MAX (INT64_MAX / 16)

static inline bool tg__mul_i64(int64_t a, int64_t b, int64_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

static inline bool tg__add_i64(int64_t a, int64_t b, int64_t *r)
{
    return !__builtin_add_overflow(a, b, r);
}

static inline bool tg__sub_i64(int64_t a, int64_t b, int64_t *r)
{
    return !__builtin_sub_overflow(a, b, r);
}

/* a * b + c */
static inline bool tg__muladd_i64(int64_t a, int64_t b, int64_t c, int64_t *r)
{
    int64_t p;
    return tg__mul_i64(a, b, &p) && tg__add_i64(p, c, r);
}

static inline bool tg__mul_size(size_t a, size_t b, size_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

static inline bool tg__add_size(size_t a, size_t b, size_t *r)
{
    return !__builtin_add_overflow(a, b, r);
}

/* The product of n non-negative extents, false when one is negative or when
 * the product of the non-zero ones exceeds limit (TG_NUMEL_MAX for a
 * tensor's element count).  A zero extent makes the result 0, but the other
 * extents are bounded all the same: whether a shape is accepted does not
 * depend on the order of its axes, and any reshape or flatten of an accepted
 * shape has extents that are accepted too. */
static inline bool tg__extents_product(int n, const int64_t *ext, int64_t limit, int64_t *r)
{
    int64_t p = 1;
    bool zero = false;
    for (int i = 0; i < n; i++) {
        if (ext[i] < 0) return false;
        if (ext[i] == 0)
            zero = true;
        else if (!tg__mul_i64(p, ext[i], &p) || p > limit)
            return false;
    }
    *r = zero ? 0 : p;
    return true;
}

#endif
