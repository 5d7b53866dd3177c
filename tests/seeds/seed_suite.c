/* The shared part of the seed suites (seed_suite.h). */
#include "seed_suite.h"

#include "common.h"
#include "seed_asserts.h"

sn_rows sn_suite_rows;
static const sn_suite *g_suite;
static bool g_ran;

/* One row: the verdict it was written with must hold (seed_asserts.c). */
START_TEST(test_row)
{
    ck_assert_int_lt(_i, sn_suite_rows.n);
    sn_ck_assert_row(&sn_suite_rows.v[_i]);
}
END_TEST

/* No tape failed while the rows were computed. */
START_TEST(test_ran)
{
    ck_assert_msg(g_ran, "a tape failed while running seed %03d's checks", g_suite->seed);
    ck_assert_int_eq(sn_suite_rows.n, g_suite->n_rows);
}
END_TEST

/* Every equation of the document (in its own numbering) has a row. */
START_TEST(test_coverage)
{
    char missing[64] = "";
    ck_assert_msg(
        sn_rows_cover(&sn_suite_rows, g_suite->seed, g_suite->labels, missing, sizeof missing),
        "seed %03d: no check for eq %s", g_suite->seed, missing);
}
END_TEST

/* The errata found (listed on docs/seeds/00N.md) are all still found. */
START_TEST(test_errata)
{
    int n_err = 0, n_apx = 0;
    for (int i = 0; i < sn_suite_rows.n; i++) {
        n_err += sn_suite_rows.v[i].verdict == SN_ERRATUM;
        n_apx += sn_suite_rows.v[i].verdict == SN_APPROX;
    }
    ck_assert_int_eq(n_err, g_suite->n_errata);
    ck_assert_int_eq(n_apx, g_suite->n_approx);
}
END_TEST

int sn_suite_main(const sn_suite *s)
{
    char name[16];
    snprintf(name, sizeof name, "seed%03d", s->seed);
    g_suite = s;
    g_ran = s->run(&sn_suite_rows);
    Suite *su = suite_create(name);
    TCase *tc = tcase_create("rows");
    tcase_add_loop_test(tc, test_row, 0, sn_suite_rows.n);
    tcase_add_test(tc, test_ran);
    tcase_add_test(tc, test_coverage);
    tcase_add_test(tc, test_errata);
    if (s->add_tests) s->add_tests(tc);
    suite_add_tcase(su, tc);
    int rc = tt_run(su);
    sn_rows_free(&sn_suite_rows);
    return rc;
}
