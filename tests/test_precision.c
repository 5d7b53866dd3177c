/* Every op in f32 against f64: the value and the gradient of each
 * OC_DIRECT row of op_cases.h, computed from the same numbers in both
 * dtypes (the f32 inputs and constants, widened exactly, are the f64
 * ones), agree to f32 precision.
 *
 * This catches an f32 kernel that differs from its f64 twin in more than
 * rounding: a float path that drops a term, accumulates in the wrong
 * order over a long axis, or overflows where the f64 path does not.  The
 * tolerance is f32's: about 1e3 ulps relative to the element, or to the
 * largest element of the tensor for entries that cancel to near zero. */
#include "common.h"
#include "op_cases.h"

#include <math.h>

#define RTOL 1e-4 /* f32's epsilon is 1.2e-7: sums of up to ~100 terms */

/* |a - b| <= RTOL (|b| + max |b|/10) elementwise, with NaN = NaN. */
static void assert_close32(const char *what, tg_tensor *a32, tg_tensor *b64)
{
    ck_assert_ptr_nonnull(a32);
    ck_assert_ptr_nonnull(b64);
    ck_assert(tg_tensor_same_shape(a32, b64));
    int64_t n = tg_tensor_numel(b64);
    double big = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(tg_tensor_get_flat(b64, i))) big = fmax(big, fabs(tg_tensor_get_flat(b64, i)));
    for (int64_t i = 0; i < n; i++) {
        double a = tg_tensor_get_flat(a32, i), b = tg_tensor_get_flat(b64, i);
        if (isnan(b) || isinf(b)) {
            ck_assert_msg(isnan(b) ? isnan(a) : a == b, "%s [%lld]: f32 %.9g, f64 %.17g", what,
                          (long long)i, a, b);
            continue;
        }
        ck_assert_msg(fabs(a - b) <= RTOL * (fabs(b) + big / 10),
                      "%s [%lld]: f32 %.9g, f64 %.17g (max |f64| %.3g)", what, (long long)i, a, b,
                      big);
    }
}

/* y = the row's call, and d sum(w y) / dx for a fixed w of y's shape and
 * dtype, the same numbers in both dtypes (a vector-Jacobian product that
 * does not amplify y's rounding, as a nonlinear function of y would) */
static void run(const oc_case *c, const oc_consts *K, tg_tensor *x, tg_tape *tp, tg_tensor **y,
                tg_tensor **g)
{
    *y = c->f(tp, x, NULL, K);
    ck_assert_msg(*y != NULL, "%s: %s", c->id, tg_tape_error(tp));
    tg_tensor *w0 = tt_rand(TG_F32, tg_tensor_ndim(*y), tg_tensor_shape(*y), 77, -1, 1);
    tg_tensor *w = tg_tensor_cast_new(w0, tg_tensor_dtype(*y));
    *g = tg_grad(tp, tg_sum_all(tp, tg_mul(tp, *y, w)), x, false);
    ck_assert_msg(tg_tape_status(tp) == TG_OK, "%s: %s", c->id, tg_tape_error(tp));
    ck_assert_int_eq(tg_tensor_dtype(*g), tg_tensor_dtype(x));
    tg_tensor_free(w0);
    tg_tensor_free(w);
}

START_TEST(test_f32_against_f64)
{
    const oc_case *c = NULL;
    for (int i = -1, k = 0; k <= _i; k++) c = oc_next(&i, OC_DIRECT);
    ck_assert_ptr_nonnull(c);
    oc_consts *K64 = oc_consts_new();
    oc_consts *K32 = oc_consts_cast(K64, TG_F32);
    oc_consts *K64r = oc_consts_cast(K32, TG_F64); /* f64 of the rounded values */
    tg_tensor *x0 = tt_rand(TG_F32, 4, TT_SHAPE(2, 2, 4, 4), 5113 + _i, 0.2, 2);
    tg_tensor *x32 = tg_tensor_clone(x0), *x64 = tg_tensor_cast_new(x0, TG_F64);
    tg_tensor_set_requires_grad(x32, true);
    tg_tensor_set_requires_grad(x64, true);
    tg_tape *t32 = tg_tape_new(NULL), *t64 = tg_tape_new(NULL);
    tg_tensor *y32, *g32, *y64, *g64;
    run(c, K32, x32, t32, &y32, &g32);
    run(c, K64r, x64, t64, &y64, &g64);
    char what[96];
    snprintf(what, sizeof what, "%s (%s) value", c->id, c->op);
    assert_close32(what, y32, y64);
    snprintf(what, sizeof what, "%s (%s) gradient", c->id, c->op);
    assert_close32(what, g32, g64);
    tg_tape_free(t32);
    tg_tape_free(t64);
    tg_tensor_free(x0);
    tg_tensor_free(x32);
    tg_tensor_free(x64);
    oc_consts_free(K64);
    oc_consts_free(K32);
    oc_consts_free(K64r);
}
END_TEST

int main(void)
{
    int n = 0;
    for (int i = -1; oc_next(&i, OC_DIRECT);) n++;
    if (n < 50) { /* the table lost its rows: this suite would check nothing */
        fprintf(stderr, "precision: only %d OC_DIRECT rows in op_cases.h\n", n);
        return 1;
    }
    Suite *s = suite_create("precision");
    TCase *tc = tcase_create("op_cases");
    tcase_add_loop_test(tc, test_f32_against_f64, 0, n);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
