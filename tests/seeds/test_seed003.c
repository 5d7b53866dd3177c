/* Seed 003: Knight 2017, sigmoid derivative, worked example, squared error.
 *
 * Every formula of ../shared/seeds/003_1d6bfd4e7ec1742a.txt is a row computed by
 * seed_nets.c (hand formula in plain loops against tapegrad autodiff); this
 * suite asserts each row, that the document's equations are all covered,
 * and the number of errata found.  The rows are computed once in main,
 * before Check forks the tests. */
#include <math.h>

#include "common.h"
#include "seed_asserts.h"
#include "tapegrad/check_asserts.h"
#include "seed_nets.h"

static sn_rows g_rows;
static bool g_ran;

/* One row: the verdict it was written with must hold (seed_asserts.c). */
START_TEST(test_row)
{
    ck_assert_int_lt(_i, g_rows.n);
    sn_ck_assert_row(&g_rows.v[_i]);
}
END_TEST

/* No tape failed while the rows were computed. */
START_TEST(test_ran)
{
    ck_assert_msg(g_ran, "a tape failed while running seed 003's checks");
    ck_assert_int_eq(g_rows.n, 22);
}
END_TEST

/* Every equation of the document (in its own numbering) has a row. */
START_TEST(test_coverage)
{
    static const char *const labels[] = {"1", "2", "3",       "4",     "5", "6",
                                         "7", "8", "dE/dz_j", "chain", NULL};
    char missing[64] = "";
    ck_assert_msg(sn_rows_cover(&g_rows, 3, labels, missing, sizeof missing),
                  "seed 003: no check for eq %s", missing);
}
END_TEST

/* The errata found (listed on docs/seeds/003.md) are all still found. */
START_TEST(test_errata)
{
    int n_err = 0, n_apx = 0;
    for (int i = 0; i < g_rows.n; i++) {
        n_err += g_rows.v[i].verdict == SN_ERRATUM;
        n_apx += g_rows.v[i].verdict == SN_APPROX;
    }
    ck_assert_int_eq(n_err, 6);
    ck_assert_int_eq(n_apx, 0);
}
END_TEST

/* The worked example's numbers, independently of the rows: sigma(-1.28)
 * is 0.2176 (printed 0.21) and the delta there is 0.1332 (printed 0.131),
 * read from the tape. */
START_TEST(test_worked_example_values)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tg_tensor_scalar(TG_F64, -1.28), *y = tg_tensor_scalar(TG_F64, 1.0);
    tg_tensor *s = tg_sigmoid(tp, x);
    tg_tensor *E = tg_sse(tp, s, y);
    tg_tensor *g = tg_grad(tp, E, x, false);
    ck_assert_ptr_nonnull(g);
    /* the document's numbers, to the 6 digits quoted on docs/seeds/003.md
     * (the check macros of tapegrad/check_asserts.h print the report) */
    tg_ck_assert_values(s, ((const double[]){0.217550}), 1, 0, 5e-7);
    tg_ck_assert_values(g, ((const double[]){-0.133190}), 1, 0, 5e-7);
    /* eq. 8 with the chain rule's -1 restored: dE/dx = -(y - yhat) yhat (1 - yhat),
     * by hand in double, against autodiff to 1e-10 */
    const double yh = 1.0 / (1.0 + exp(1.28));
    tg_tensor *hand = tg_tensor_scalar(TG_F64, -(1.0 - yh) * yh * (1.0 - yh));
    tg_ck_assert_grad_matches(tp, E, x, hand, 1e-10, 0);
    tg_ck_assert_values(E, ((const double[]){0.5 * (1 - yh) * (1 - yh)}), 1, 1e-12, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(y);
    tg_tensor_free(hand);
}
END_TEST

int main(void)
{
    g_ran = sn_seed003(&g_rows);
    Suite *s = suite_create("seed003");
    TCase *tc = tcase_create("rows");
    tcase_add_loop_test(tc, test_row, 0, g_rows.n);
    tcase_add_test(tc, test_ran);
    tcase_add_test(tc, test_coverage);
    tcase_add_test(tc, test_errata);
    tcase_add_test(tc, test_worked_example_values);
    suite_add_tcase(s, tc);
    int rc = tt_run(s);
    sn_rows_free(&g_rows);
    return rc;
}
