/* Seed 002: Jin 2016, MLP with bias, batched form, softmax (eqs 1-20, 1.1-1.6).
 *
 * Every formula of ../shared/seeds/002_36241a395fb81be0.txt is a row computed by
 * seed_nets.c (hand formula in plain loops against tapegrad autodiff); this
 * suite asserts each row, that the document's equations are all covered,
 * and the number of errata found.  The rows are computed once in main,
 * before Check forks the tests. */
#include <math.h>

#include "common.h"
#include "seed_asserts.h"
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
    ck_assert_msg(g_ran, "a tape failed while running seed 002's checks");
    ck_assert_int_eq(g_rows.n, 52);
}
END_TEST

/* Every equation of the document (in its own numbering) has a row. */
START_TEST(test_coverage)
{
    static const char *const labels[] = {"1",  "2",  "3",   "4",   "5",   "6",   "7",   "8",  "9",
                                         "10", "11", "12",  "13",  "14",  "15",  "16",  "17", "18",
                                         "19", "20", "1.1", "1.2", "1.4", "1.5", "1.6", NULL};
    char missing[64] = "";
    ck_assert_msg(sn_rows_cover(&g_rows, 2, labels, missing, sizeof missing),
                  "seed 002: no check for eq %s", missing);
}
END_TEST

/* The errata found (listed on docs/seeds/002.md) are all still found. */
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

int main(void)
{
    g_ran = sn_seed002(&g_rows);
    Suite *s = suite_create("seed002");
    TCase *tc = tcase_create("rows");
    tcase_add_loop_test(tc, test_row, 0, g_rows.n);
    tcase_add_test(tc, test_ran);
    tcase_add_test(tc, test_coverage);
    tcase_add_test(tc, test_errata);
    suite_add_tcase(s, tc);
    int rc = tt_run(s);
    sn_rows_free(&g_rows);
    return rc;
}
