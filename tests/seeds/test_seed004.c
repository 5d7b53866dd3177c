/* Seed 004: Eglen 2024, two-layer delta rule, sigmoid and identity.
 *
 * Every formula of ../shared/seeds/004_02f217ac7c404889.txt is a row computed by
 * seed_nets.c (hand formula in plain loops against tapegrad autodiff);
 * seed_suite.c asserts each row, that the document's equations (below) are
 * all covered, and the number of errata found; the tests here are this
 * seed's own. */
#include <math.h>

#include "common.h"
#include "seed_suite.h"

/* Every equation of the document, in its own numbering. */
static const char *const k_labels[] = {"1", "2", "3", "4", "5", "1-4", "2a", "2b", "1.1", NULL};

/* The learning rule descends: one step Delta w = -eta dE/dw lowers E, and
 * for small eta by eta |dE/dw|^2 to first order. */
static double e_of(const double *w1, const double *w2, tg_tensor **g1, tg_tensor **g2, tg_tape *tp)
{
    static const double x[3] = {0.4, -0.7, 0.9}, t[2] = {0.2, 0.7};
    tg_tensor *X = tt_from(TG_F64, 2, TT_SHAPE(1, 3), x),
              *T = tt_from(TG_F64, 2, TT_SHAPE(1, 2), t);
    tg_tensor *W1 = tt_from(TG_F64, 2, TT_SHAPE(3, 4), w1),
              *W2 = tt_from(TG_F64, 2, TT_SHAPE(4, 2), w2);
    tg_tensor *y = tg_sigmoid(tp, tg_matmul(tp, tg_sigmoid(tp, tg_matmul(tp, X, W1)), W2));
    tg_tensor *E = tg_sse(tp, y, T);
    double e = tg_tensor_get_flat(E, 0);
    if (g1) {
        tg_tensor *a = tg_grad(tp, E, W1, false), *b = tg_grad(tp, E, W2, false);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        *g1 = tg_tensor_clone(a);
        *g2 = tg_tensor_clone(b);
    }
    tg_tensor_free(X);
    tg_tensor_free(T);
    tg_tensor_free(W1);
    tg_tensor_free(W2);
    return e;
}

START_TEST(test_learning_rule_descends)
{
    double w1[12], w2[8];
    for (int i = 0; i < 12; i++) w1[i] = 0.3 * sin(1.7 * i + 0.2);
    for (int i = 0; i < 8; i++) w2[i] = 0.5 * cos(0.9 * i + 0.4);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *g1, *g2;
    double e0 = e_of(w1, w2, &g1, &g2, tp), gg = 0;
    const double *a = tg_tensor_f64(g1), *b = tg_tensor_f64(g2);
    for (int i = 0; i < 12; i++) gg += a[i] * a[i];
    for (int i = 0; i < 8; i++) gg += b[i] * b[i];
    ck_assert(gg > 1e-8);
    for (int k = 0; k < 2; k++) {
        double eta = k == 0 ? 0.5 : 1e-5, v1[12], v2[8];
        for (int i = 0; i < 12; i++) v1[i] = w1[i] - eta * a[i];
        for (int i = 0; i < 8; i++) v2[i] = w2[i] - eta * b[i];
        tg_tape_reset(tp);
        double e1 = e_of(v1, v2, NULL, NULL, tp);
        ck_assert_msg(e1 < e0, "eta %g: E %g -> %g", eta, e0, e1);
        if (k == 1) /* first order: E drops by eta |g|^2 (1 + O(eta)) */
            ck_assert_double_eq_tol((e0 - e1) / (eta * gg), 1.0, 1e-3);
    }
    tg_tensor_free(g1);
    tg_tensor_free(g2);
    tg_tape_free(tp);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, test_learning_rule_descends);
}

int main(void)
{
    static const sn_suite s = {4, sn_seed004, 32, k_labels, 0, 0, add_tests};
    return sn_suite_main(&s);
}
