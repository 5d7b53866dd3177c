/* Seed 000: Tanaka 2013, 4-layer sigmoid net (eqs 1-24) and fast dropout (25-44).
 *
 * Every formula of ../shared/seeds/000_9e78caca5ca94cb2.txt is a row computed by
 * seed_nets.c (hand formula in plain loops against tapegrad autodiff);
 * seed_suite.c asserts each row, that the document's equations (below) are
 * all covered, and the number of errata found; the tests here are this
 * seed's own. */
#include <math.h>

#include "common.h"
#include "seed_suite.h"

/* Every equation of the document, in its own numbering. */
static const char *const k_labels[] = {
    "1",  "2",  "3",  "4",  "5",  "6",  "7",  "8",  "9",  "10", "11", "12", "13", "14", "15",
    "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30",
    "31", "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44", NULL};

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
    for (int i = 0; i < sn_suite_rows.n; i++)
        if (sn_suite_rows.v[i].verdict == SN_APPROX)
            printf("seed 000 eq 25: %s: closed form %.10f, exact %.10f, rel. error %.4g\n",
                   sn_suite_rows.v[i].what, sn_suite_rows.v[i].printed, sn_suite_rows.v[i].autodiff,
                   sn_suite_rows.v[i].printed_err);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, test_eq25_enumeration);
}

int main(void)
{
    static const sn_suite s = {0, sn_seed000, 59, k_labels, 9, 4, add_tests};
    return sn_suite_main(&s);
}
