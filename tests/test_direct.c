/* Direct first-order rules (tg_op.direct) against the op-built rules and
 * finite differences, in the situations the per-op suites do not reach:
 *
 *   - accumulate: x already has a gradient when the op's rule runs (a use of
 *     x recorded after the op is processed first in the reverse sweep), so
 *     every rule's "add into the buffer" branch runs, not only "store";
 *   - aliasing: one value in two input slots of one node (mul(x, x),
 *     matmul(A, A), ...), where the two slots share one buffer.
 *
 * tg_gradcheck compares the direct rule's gradient with the op-built rule's
 * (run with create_graph) and with central differences, so each case
 * checks both rules and both branches.  The cases are rows of op_cases.h. */
#include "common.h"
#include "op_cases.h"

#include <math.h>

/* A row of the table, with the constants its call uses. */
typedef struct run_ctx {
    const oc_case *c;
    const oc_consts *K;
} run_ctx;

static tg_tensor *call(tg_tape *tp, const run_ctx *r, tg_tensor *x)
{
    return r->c->f(tp, x, NULL, r->K);
}

/* sum(op(x)^2) + sum(x^2 / 2), with x*x recorded after op(x): the reverse
 * sweep reaches x*x first, so op's rule adds into x's gradient. */
static tg_tensor *fn_after(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    tg_tensor *y = call(tp, ctx, in[0]);
    tg_tensor *q = tg_mul_scalar(tp, tg_mul(tp, in[0], in[0]), 0.5);
    tg_tensor *a = tg_sum_all(tp, tg_square(tp, y));
    return tg_add(tp, a, tg_sum_all(tp, q));
}

START_TEST(test_rules_accumulate)
{
    oc_consts *K = oc_consts_new();
    tg_tensor *x = tt_param(4, TT_SHAPE(2, 2, 4, 4), 905, 0.2, 2);
    int n = 0;
    for (int i = -1; oc_next(&i, OC_DIRECT); n++) {
        run_ctx r = {&oc_cases[i], K};
        char what[96];
        snprintf(what, sizeof what, "%s (%s), adding into a gradient", r.c->id, r.c->op);
        tt_gradcheck(what, fn_after, &r, 1, &x);
    }
    ck_assert_int_ge(n, 50);
    tg_tensor_free(x);
    oc_consts_free(K);
}
END_TEST

/* ---- one value in two slots of one node ----------------------------------- */
static tg_tensor *fn_alias(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    return tg_sum_all(tp, tg_square(tp, call(tp, ctx, in[0])));
}

START_TEST(test_rules_aliased_slots)
{
    oc_consts *K = oc_consts_new();
    tg_tensor *x = tt_param(4, TT_SHAPE(2, 2, 4, 4), 906, 0.2, 1.2);
    int n = 0;
    for (int i = -1; oc_next(&i, OC_ALIAS); n++) {
        run_ctx r = {&oc_cases[i], K};
        tt_gradcheck(r.c->id, fn_alias, &r, 1, &x);
        /* and with another contribution arriving first */
        char what[96];
        snprintf(what, sizeof what, "%s, adding into a gradient", r.c->id);
        tt_gradcheck(what, fn_after, &r, 1, &x);
    }
    ck_assert_int_ge(n, 8);
    tg_tensor_free(x);
    oc_consts_free(K);
}
END_TEST

/* An f32 value cast to f64 and back: the cast rules convert while they add.
 * loss = sum(cast32(square(cast64(x)))) + sum(x * x), the second recorded
 * last: d/dx = 2x + 2x, exact in f32. */
START_TEST(test_cast_rule_accumulates_across_dtypes)
{
    tg_tensor *x = tt_from(TG_F32, 1, TT_SHAPE(4), TT_VALUES(0.5, -1.25, 3, 0.1));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *c = tg_cast(tp, tg_square(tp, tg_cast(tp, x, TG_F64)), TG_F32);
    tg_tensor *m = tg_mul(tp, x, x);
    tg_tensor *loss = tg_add(tp, tg_sum_all(tp, c), tg_sum_all(tp, m));
    ck_assert_int_eq(tg_backward(tp, loss), TG_OK);
    tg_tensor *g = tg_tensor_grad(x);
    ck_assert_int_eq(tg_tensor_dtype(g), TG_F32);
    for (int i = 0; i < 4; i++) {
        float v = tg_tensor_f32(x)[i];
        ck_assert_float_eq(tg_tensor_f32(g)[i], 2 * v + 2 * v);
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("direct");
    TCase *tc = tcase_create("rules");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_rules_accumulate);
    tcase_add_test(tc, test_rules_aliased_slots);
    tcase_add_test(tc, test_cast_rule_accumulates_across_dtypes);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
