/* Second order for every op: the gradient each op's op-built rule records
 * (create_graph) is itself differentiated, and checked against central
 * differences of the first gradient.
 *
 * For each OC_DIRECT row of op_cases.h, f(x) = d sum(sin y + y^2) / dx
 * with y = op(x) and create_graph, is a function of x made of the ops the
 * row's op-built rule records; tg_gradcheck compares its vector-Jacobian products (reverse over
 * reverse) with finite differences of f.  A rule written with a
 * non-differentiable shortcut (a value computed outside the tape, a
 * detached factor) gives a wrong Hessian here even when its first-order
 * gradient is right.  The outer function keeps the second derivative
 * non-zero for linear ops, and for an op it inverts: sin y + y^2 is not
 * linear in x for y = asin x (sin y alone is) nor for y = sqrt x (y^2
 * alone is).  Every rule's recorded ops are differentiated, with an
 * incoming gradient that is not all ones.
 *
 * A new op's rows run here without any change to this file. */
#include "common.h"
#include "op_cases.h"

typedef struct run_ctx {
    const oc_case *c;
    const oc_consts *K;
} run_ctx;

static tg_tensor *first_gradient(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const run_ctx *r = ctx;
    tg_tensor *y = r->c->f(tp, in[0], NULL, r->K);
    return tg_grad(tp, tg_sum_all(tp, tg_add(tp, tg_sin(tp, y), tg_square(tp, y))), in[0], true);
}

START_TEST(test_op_built_rules_differentiate)
{
    const oc_case *c = NULL;
    for (int i = -1, k = 0; k <= _i; k++) c = oc_next(&i, OC_DIRECT);
    ck_assert_ptr_nonnull(c);
    oc_consts *K = oc_consts_new();
    /* The OC_DIRECT rows' input: (2,2,4,4) in [0.2, 2) */
    tg_tensor *x = tt_param(4, TT_SHAPE(2, 2, 4, 4), 4211 + _i, 0.2, 2);
    run_ctx r = {c, K};
    char what[96];
    snprintf(what, sizeof what, "%s (%s), second order", c->id, c->op);
    tt_gradcheck(what, first_gradient, &r, 1, &x);
    tg_tensor_free(x);
    oc_consts_free(K);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("second_order");
    TCase *tc = tcase_create("op_cases");
    tcase_set_timeout(tc, 300);
    int n = 0;
    for (int i = -1; oc_next(&i, OC_DIRECT);) n++;
    if (n < 50) { /* the table lost its rows: this suite would check nothing */
        fprintf(stderr, "second_order: only %d OC_DIRECT rows in op_cases.h\n", n);
        return 1;
    }
    tcase_add_loop_test(tc, test_op_built_rules_differentiate, 0, n);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
