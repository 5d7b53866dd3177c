/* Seed 000: Tanaka 2013, 4-layer sigmoid net (eqs 1-24) and fast dropout (25-44).
 *
 * Every formula of ../shared/seeds/000_9e78caca5ca94cb2.txt is a row computed by
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
    ck_assert_msg(g_ran, "a tape failed while running seed 000's checks");
    ck_assert_int_eq(g_rows.n, 59);
}
END_TEST

/* Every equation of the document (in its own numbering) has a row. */
START_TEST(test_coverage)
{
    static const char *const labels[] = {
        "1",  "2",  "3",  "4",  "5",  "6",  "7",  "8",  "9",  "10", "11", "12", "13", "14", "15",
        "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30",
        "31", "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44", NULL};
    char missing[64] = "";
    ck_assert_msg(sn_rows_cover(&g_rows, 0, labels, missing, sizeof missing),
                  "seed 000: no check for eq %s", missing);
}
END_TEST

/* The errata found (listed on docs/seeds/000.md) are all still found. */
START_TEST(test_errata)
{
    int n_err = 0, n_apx = 0;
    for (int i = 0; i < g_rows.n; i++) {
        n_err += g_rows.v[i].verdict == SN_ERRATUM;
        n_apx += g_rows.v[i].verdict == SN_APPROX;
    }
    ck_assert_int_eq(n_err, 9);
    ck_assert_int_eq(n_apx, 4);
}
END_TEST

/* Eq 25's machinery: the masks enumerated carry probability 1, and with no
 * dropout (p = 1) both the exact expectation and the closed form are the
 * plain sigmoid (s^2 = 0), so what the rows measure is the approximation. */
START_TEST(test_eq25_enumeration)
{
    const double w[6] = {0.7, -1.2, 0.4, 1.9, -0.3, 0.8}, o[6] = {0.2, 0.9, 0.5, 0.4, 0.7, 0.1};
    double tot = 0, x = 0;
    for (int j = 0; j < 6; j++) x += w[j] * o[j];
    double e = sn_dropout_exact(6, 0.7, w, o, &tot);
    ck_assert_double_eq_tol(tot, 1.0, 1e-14);
    ck_assert(e > 0 && e < 1);
    double e1 = sn_dropout_exact(6, 1.0, w, o, &tot), sx = 1 / (1 + exp(-x));
    ck_assert_double_eq_tol(tot, 1.0, 1e-14);
    ck_assert_double_eq_tol(e1, sx, 1e-15);
    ck_assert_double_eq_tol(sn_dropout_closed(6, 1.0, w, o), sx, 1e-15);
    /* p = 0.7: the closed form is close but not exact. */
    double cf = sn_dropout_closed(6, 0.7, w, o);
    ck_assert(fabs(cf - e) > 1e-6 && fabs(cf - e) < 2e-2);
    /* The sizes measured on the seed's page, printed for the log. */
    for (int i = 0; i < g_rows.n; i++)
        if (g_rows.v[i].verdict == SN_APPROX)
            printf("seed 000 eq 25: %s: closed form %.10f, exact %.10f, rel. error %.4g\n",
                   g_rows.v[i].what, g_rows.v[i].printed, g_rows.v[i].autodiff,
                   g_rows.v[i].printed_err);
}
END_TEST

int main(void)
{
    g_ran = sn_seed000(&g_rows);
    Suite *s = suite_create("seed000");
    TCase *tc = tcase_create("rows");
    tcase_add_loop_test(tc, test_row, 0, g_rows.n);
    tcase_add_test(tc, test_ran);
    tcase_add_test(tc, test_coverage);
    tcase_add_test(tc, test_errata);
    tcase_add_test(tc, test_eq25_enumeration);
    suite_add_tcase(s, tc);
    int rc = tt_run(s);
    sn_rows_free(&g_rows);
    return rc;
}
