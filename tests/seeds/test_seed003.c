/* Seed 003: Knight 2017, sigmoid derivative, worked example, squared error.
 *
 * Every formula of ../shared/seeds/003_1d6bfd4e7ec1742a.txt is a row computed by
 * seed_nets.c (hand formula in plain loops against tapegrad autodiff);
 * seed_suite.c asserts each row, that the document's equations (below) are
 * all covered, and the number of errata found; the tests here are this
 * seed's own. */
#include <math.h>

#include "common.h"
#include "tapegrad/check_asserts.h"
#include "seed_suite.h"

/* Every equation of the document, in its own numbering. */
static const char *const k_labels[] = {"1", "2", "3",       "4",     "5", "6",
                                       "7", "8", "dE/dz_j", "chain", NULL};

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

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, test_worked_example_values);
}

int main(void)
{
    static const sn_suite s = {3, sn_seed003, 22, k_labels, 6, 0, add_tests};
    return sn_suite_main(&s);
}
