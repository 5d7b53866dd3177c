/* The generic backward pass: tg_backward semantics, tg_grad on
 * intermediates, vector-Jacobian products, create_graph, custom ops. */
#include "common.h"

#include <math.h>

/* y = sigmoid(w . x + b), the README's worked example, checked by hand. */
START_TEST(test_sigmoid_neuron)
{
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(1, 2), TT_VALUES(1.0, 2.0));
    tg_tensor *w = tt_from(TG_F64, 2, TT_SHAPE(2, 1), TT_VALUES(0.5, -0.25));
    tg_tensor *b = tt_from(TG_F64, 2, TT_SHAPE(1, 1), TT_VALUES(0.1));
    tg_tensor_set_requires_grad(w, true);
    tg_tensor_set_requires_grad(b, true);
    tg_tape *tp = tg_tape_new(NULL);
    /* w . x as an elementwise product and a sum, so this test needs no matmul */
    tg_tensor *xt = tt_from(TG_F64, 2, TT_SHAPE(2, 1), TT_VALUES(1.0, 2.0));
    tg_tensor *z = tg_add(tp, tg_sum(tp, tg_mul(tp, xt, w), 1, (int[]){0}, true), b);
    tg_tensor *y = tg_sigmoid(tp, z);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    double zv = 0.5 * 1.0 - 0.25 * 2.0 + 0.1, yv = 1.0 / (1.0 + exp(-zv));
    double d = yv * (1 - yv);
    tt_assert_values("y", y, TT_VALUES(yv), 1, 1e-15, 0);
    tt_assert_values("dy/dw", tg_tensor_grad(w), TT_VALUES(d * 1.0, d * 2.0), 2, 1e-14, 0);
    tt_assert_values("dy/db", tg_tensor_grad(b), TT_VALUES(d), 1, 1e-14, 0);
    /* the gradient of an intermediate: dy/dz = y (1 - y) */
    tg_tensor *gz = tg_grad(tp, y, z, false);
    tt_assert_values("dy/dz", gz, TT_VALUES(d), 1, 1e-14, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(xt);
    tg_tensor_free(w);
    tg_tensor_free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("autodiff");
    TCase *tc = tcase_create("backward");
    tcase_add_test(tc, test_sigmoid_neuron);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
