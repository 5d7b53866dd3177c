/* Shared helpers for the Check suites: tensor construction, gradchecks over
 * shapes, and assertions that print tg_compare's report on failure. */
#ifndef TT_COMMON_H
#define TT_COMMON_H

#include <check.h>
#include <tapegrad.h>

/* A user-owned tensor from a list of doubles (any dtype). */
tg_tensor *tt_from(tg_dtype dt, int ndim, const int64_t *shape, const double *values);
/* A user-owned tensor uniform in [lo, hi) from a fixed seed. */
tg_tensor *tt_rand(tg_dtype dt, int ndim, const int64_t *shape, uint64_t seed, double lo,
                   double hi);
/* Like tt_rand, with requires_grad set. */
tg_tensor *tt_param(int ndim, const int64_t *shape, uint64_t seed, double lo, double hi);

/* A user-owned tensor holding 0, 1, 2, ... in row-major order: each value
 * names its own flat index. */
tg_tensor *tt_iota(tg_dtype dt, int ndim, const int64_t *shape);
/* Fails unless t is non-NULL with exactly this shape. */
void tt_assert_shape(const tg_tensor *t, int ndim, const int64_t *shape);

/* Runs tg_gradcheck (default options unless opts) and fails the test with
 * the per-input report when any input fails.  Also fails when a check is
 * vacuous (both sides ~0 everywhere) unless allow_vacuous. */
void tt_gradcheck_ex(const char *what, tg_fn fn, void *ctx, int n, tg_tensor *const *inputs,
                     const tg_gradcheck_options *opts, bool allow_vacuous);
#define tt_gradcheck(what, fn, ctx, n, inputs)                                                     \
    tt_gradcheck_ex(what, fn, ctx, n, inputs, NULL, false)

/* Fails the test with tg_compare's report unless a and b agree. */
void tt_assert_close_impl(const char *file, int line, const char *what, const tg_tensor *a,
                          const tg_tensor *b, double rtol, double atol);
#define tt_assert_close(what, a, b, rtol, atol)                                                    \
    tt_assert_close_impl(__FILE__, __LINE__, what, a, b, rtol, atol)
/* Compare a tensor with a plain array of doubles (hand values). */
void tt_assert_values_impl(const char *file, int line, const char *what, const tg_tensor *a,
                           const double *expect, int64_t n, double rtol, double atol);
#define tt_assert_values(what, a, expect, n, rtol, atol)                                           \
    tt_assert_values_impl(__FILE__, __LINE__, what, a, expect, n, rtol, atol)

/* Asserts the tape is in error with the given status and that its message
 * contains each of the given substrings (NULL-terminated list). */
void tt_assert_tape_error_impl(const char *file, int line, tg_tape *tp, tg_status st, ...);
#define tt_assert_tape_error(tp, st, ...)                                                          \
    tt_assert_tape_error_impl(__FILE__, __LINE__, tp, st, __VA_ARGS__, (const char *)NULL)

/* tg_softmax_cross_entropy_index with n int32_t labels (z's rows), as the
 * deprecated tg_softmax_cross_entropy_labels takes them: the TG_I64 label
 * tensor ((n), or 0-d for a 1-d z) is made, used and freed here (the op
 * reads it when it records). */
tg_tensor *tt_xent_labels(tg_tape *tp, tg_tensor *z, const int32_t *labels, int64_t n,
                          tg_reduction red);
/* A fresh tape tp, one call on it that must fail (NULL) with status st and
 * a message holding each given part, and nothing recorded. */
#define EXPECT_ERR(call, st, ...)                                                                  \
    do {                                                                                           \
        tg_tape *tp = tg_tape_new(NULL);                                                           \
        tg_tensor *r_ = (call);                                                                    \
        ck_assert_msg(r_ == NULL, "%s did not fail", #call);                                       \
        tt_assert_tape_error(tp, st, __VA_ARGS__);                                                 \
        ck_assert_int_eq(tg_tape_usage(tp).nodes, 0);                                              \
        tg_tape_free(tp);                                                                          \
    } while (0)

/* Runs a suite with Check's normal output and returns the exit status. */
int tt_run(Suite *s);

/* An allocator (tg_set_allocator) whose malloc and realloc succeed
 * tt_fail_after more times and then return NULL: out of memory at a chosen
 * allocation. */
extern long tt_fail_after;
extern const tg_allocator tt_failing;

#define TT_SHAPE(...)  ((const int64_t[]){__VA_ARGS__})
#define TT_VALUES(...) ((const double[]){__VA_ARGS__})

#endif
