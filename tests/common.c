#include "common.h"

#include <tapegrad/check_asserts.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tg_tensor *tt_from(tg_dtype dt, int ndim, const int64_t *shape, const double *values)
{
    tg_tensor *t = tg_tensor_from_f64(dt, ndim, shape, values);
    ck_assert_msg(t != NULL, "tt_from: %s", tg_last_error());
    return t;
}

tg_tensor *tt_rand(tg_dtype dt, int ndim, const int64_t *shape, uint64_t seed, double lo, double hi)
{
    tg_rng r;
    tg_rng_seed(&r, seed);
    tg_tensor *t = tg_tensor_new(dt, ndim, shape);
    ck_assert_msg(t != NULL, "tt_rand: %s", tg_last_error());
    tg_tensor_fill_uniform(t, &r, lo, hi);
    return t;
}

tg_tensor *tt_iota(tg_dtype dt, int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (int64_t i = 0; i < n; i++) v[i] = (double)i;
    tg_tensor *t = tt_from(dt, ndim, shape, v);
    free(v);
    return t;
}

void tt_assert_shape(const tg_tensor *t, int ndim, const int64_t *shape)
{
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(tg_tensor_ndim(t), ndim);
    for (int i = 0; i < ndim; i++) ck_assert_int_eq(tg_tensor_shape(t)[i], shape[i]);
}

tg_tensor *tt_param(int ndim, const int64_t *shape, uint64_t seed, double lo, double hi)
{
    tg_tensor *t = tt_rand(TG_F64, ndim, shape, seed, lo, hi);
    tg_tensor_set_requires_grad(t, true);
    return t;
}

void tt_gradcheck_ex(const char *what, tg_fn fn, void *ctx, int n, tg_tensor *const *inputs,
                     const tg_gradcheck_options *opts, bool allow_vacuous)
{
    tg_compare_report rep[16];
    ck_assert_int_le(n, 16);
    tg_status st = tg_gradcheck(fn, ctx, n, inputs, opts, rep);
    if (st != TG_OK && st != TG_ERR_NUMERIC)
        ck_abort_msg("%s: gradcheck could not run: %s (%s)", what, tg_last_error(),
                     tg_strerror(st));
    for (int i = 0; i < n; i++) {
        if (!rep[i].numel) continue;
        if (!rep[i].ok || (rep[i].vacuous && !allow_vacuous)) {
            char label[160];
            snprintf(label, sizeof label, "%s: input %d", what, i);
            tg_compare_report_print(stderr, label, &rep[i]);
        }
        ck_assert_msg(rep[i].ok,
                      "%s: input %d: gradient differs at [%lld]: analytic %.17g, "
                      "numeric %.17g (%lld of %lld elements fail)",
                      what, i, (long long)rep[i].worst_index, rep[i].worst_a, rep[i].worst_b,
                      (long long)rep[i].n_failed, (long long)rep[i].numel);
        ck_assert_msg(allow_vacuous || !rep[i].vacuous,
                      "%s: input %d: vacuous check (all gradients ~0)", what, i);
        ck_assert_msg(rep[i].n_skipped < rep[i].numel, "%s: input %d: every element was at a kink",
                      what, i);
    }
}

/* Both delegate to tapegrad/check_asserts.h, the assertions users put in
 * their own suites: the failure message is tg_compare's full report. */
void tt_assert_close_impl(const char *file, int line, const char *what, const tg_tensor *a,
                          const tg_tensor *b, double rtol, double atol)
{
    tg_ck_assert_close_at(file, line, what, a, b, rtol, atol);
}

void tt_assert_values_impl(const char *file, int line, const char *what, const tg_tensor *a,
                           const double *expect, int64_t n, double rtol, double atol)
{
    tg_ck_assert_values_at(file, line, what, a, expect, n, rtol, atol);
}

void tt_assert_tape_error_impl(const char *file, int line, tg_tape *tp, tg_status st, ...)
{
    ck_assert_msg(tg_tape_status(tp) == st, "%s:%d: expected status '%s', got '%s' (%s)", file,
                  line, tg_strerror(st), tg_strerror(tg_tape_status(tp)), tg_tape_error(tp));
    va_list ap;
    va_start(ap, st);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
        ck_assert_msg(strstr(tg_tape_error(tp), s) != NULL, "%s:%d: error message '%s' lacks '%s'",
                      file, line, tg_tape_error(tp), s);
    va_end(ap);
}

int tt_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

tg_tensor *tt_xent_labels(tg_tape *tp, tg_tensor *z, const int32_t *labels, int64_t n,
                          tg_reduction red)
{
    const bool vec = z && tg_tensor_ndim(z) == 1 && n == 1;
    tg_tensor *l = tg_tensor_new(TG_I64, vec ? 0 : 1, &n);
    ck_assert_ptr_nonnull(l);
    for (int64_t i = 0; i < n; i++) tg_tensor_i64(l)[i] = labels[i];
    tg_tensor *loss = tg_softmax_cross_entropy_index(tp, z, l, red);
    tg_tensor_free(l);
    return loss;
}

long tt_fail_after;
static void *fail_malloc(size_t n, void *c)
{
    (void)c;
    return tt_fail_after-- > 0 ? malloc(n) : NULL;
}
static void *fail_realloc(void *p, size_t n, void *c)
{
    (void)c;
    return tt_fail_after-- > 0 ? realloc(p, n) : NULL;
}
static void plain_free(void *p, void *c)
{
    (void)c;
    free(p);
}
const tg_allocator tt_failing = {fail_malloc, fail_realloc, plain_free, NULL};
