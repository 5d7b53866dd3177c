/* Every built-in op is covered: the op registry (src/ops/registry.h) against
 * the case table (op_cases.h) and the graph fuzzer's list (fuzz/fuzz_ops.h).
 * Each test fails naming the op or the row:
 *   - a registered descriptor with no row in the table;
 *   - a differentiable descriptor without a direct rule;
 *   - a descriptor without a scalar rule whose rows do not all say
 *     OC_NO_SCALAR (the op could run on one element);
 *   - a differentiable descriptor none of whose rows the direct-rule suite
 *     runs (OC_DIRECT, OC_ALIAS), or with a scalar rule and no OC_SCALAR or
 *     OC_PASS1 row (the scalar suite never compares it);
 *   - a row that names no registered op, or whose call records no node of
 *     its op (the row would test something else);
 *   - a public op (no OC_INTERNAL row) that the graph fuzzer never calls;
 *   - a differentiable descriptor without a tangent rule or a formula. */
#include "common.h"
#include "op_cases.h"
#include "fuzz/fuzz_ops.h"
#include "../src/core/internal.h"
#include "../src/ops/registry.h"

#include <string.h>

/* The flags of every row of op name, or'ed (*all: and'ed); the row count. */
static int rows_of(const char *name, unsigned *any, unsigned *all)
{
    int n = 0;
    *any = 0;
    *all = ~0u;
    for (int i = 0; i < oc_num_cases; i++)
        if (strcmp(oc_cases[i].op, name) == 0) {
            *any |= oc_cases[i].flags;
            *all &= oc_cases[i].flags;
            n++;
        }
    return n;
}

START_TEST(test_registry_is_sane)
{
    const size_t n = tg__builtin_op_count();
    ck_assert_uint_ge(n, 50);
    ck_assert_ptr_null(tg__builtin_op(n));
    for (size_t i = 0; i < n; i++) {
        const tg_op *op = tg__builtin_op(i);
        ck_assert_ptr_nonnull(op);
        ck_assert_msg(tg__builtin_op_find(op->name) == op, "op %s: registered twice", op->name);
    }
    ck_assert_ptr_null(tg__builtin_op_find("no such op"));
}
END_TEST

/* One registered descriptor (the loop index) against the table. */
START_TEST(test_every_op_has_cases_and_rules)
{
    const tg_op *op = tg__builtin_op((size_t)_i);
    unsigned any, all;
    const int n = rows_of(op->name, &any, &all);
    ck_assert_msg(n > 0, "op %s: no case in tests/op_cases.h", op->name);
    if (!op->backward) { /* not differentiable: its gradient is zero */
        ck_assert_msg(any & OC_ZERO_GRAD, "op %s: no backward and no OC_ZERO_GRAD case", op->name);
        return;
    }
    ck_assert_msg(op->direct != NULL, "op %s: no direct rule", op->name);
    ck_assert_msg(any & (OC_DIRECT | OC_ALIAS), "op %s: no OC_DIRECT case (tests/test_direct.c)",
                  op->name);
    if (!op->scalar) {
        ck_assert_msg(all & OC_NO_SCALAR,
                      "op %s: no scalar rule, and not every case says OC_NO_SCALAR", op->name);
    } else if (!(any & OC_INTERNAL)) {
        ck_assert_msg(any & (OC_SCALAR | OC_PASS1),
                      "op %s: a scalar rule no OC_SCALAR case compares (tests/test_scalar.c)",
                      op->name);
    }
}
END_TEST

/* One registered descriptor (the loop index): a differentiable op has its
 * own tangent rule (the double-vjp fallback is for custom ops: it records
 * the backward rule and sweeps it again for every tangent) and its
 * backward rule in one line for explain mode. */
START_TEST(test_every_op_has_tangent_and_formula)
{
    const tg_op *op = tg__builtin_op((size_t)_i);
    if (!op->backward) return; /* not differentiable: no tangent either */
    ck_assert_msg(op->jvp != NULL, "op %s: no tangent rule (tg_op.jvp)", op->name);
    ck_assert_msg(op->formula && op->formula[0], "op %s: no formula (tg_op.formula)", op->name);
}
END_TEST

/* Is there a node of op name on tp? */
static bool recorded(const tg_tape *tp, const char *name)
{
    for (int64_t i = 0; i < tg__tape_num_nodes(tp); i++)
        if (strcmp(tg_node_op(tg__tape_node(tp, i))->name, name) == 0) return true;
    return false;
}

/* One row (the loop index): it names a registered op and its call, given
 * the input of the first suite it is in, records a node of that op. */
START_TEST(test_every_case_records_its_op)
{
    const oc_case *c = &oc_cases[_i];
    ck_assert_msg(tg__builtin_op_find(c->op) != NULL,
                  "case %s: op %s is not a registered op (src/ops/registry.h)", c->id, c->op);
    for (int j = 0; j < _i; j++)
        ck_assert_msg(strcmp(oc_cases[j].id, c->id) != 0, "case %s: two rows of this id", c->id);
    oc_consts *K = oc_consts_new();
    tg_tensor *x, *y = NULL;
    if (c->flags & (OC_DIRECT | OC_ALIAS)) {
        x = tt_param(4, TT_SHAPE(2, 2, 4, 4), 905, 0.2, 2);
    } else if (c->flags & OC_SCALAR) {
        x = tt_from(TG_F64, 1, TT_SHAPE(1), TT_VALUES(c->a));
        y = tt_from(TG_F64, 1, TT_SHAPE(1), TT_VALUES(c->b));
        tg_tensor_set_requires_grad(y, true);
    } else if (c->flags & OC_PASS1) {
        x = tt_from(TG_F64, 2, TT_SHAPE(1, 1), TT_VALUES(1.25));
    } else {
        ck_assert_msg(c->flags & (OC_ELEM | OC_ZERO_GRAD), "case %s: in no suite", c->id);
        x = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 1, c->lo, c->hi);
    }
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *out = c->f(tp, x, y, K);
    ck_assert_msg(out != NULL, "case %s: %s", c->id, tg_tape_error(tp));
    ck_assert_msg(recorded(tp, c->op), "case %s: its call records no %s node", c->id, c->op);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(y);
    oc_consts_free(K);
}
END_TEST

/* Every public op (a row without OC_INTERNAL) is among the fuzzer's ops. */
#define FUZZ_NAME(code, name) name,
static const char *const k_fuzzed[] = {FUZZ_OPS(FUZZ_NAME)};

START_TEST(test_public_ops_are_fuzzed)
{
    const char *op = tg__builtin_op((size_t)_i)->name;
    unsigned any, all;
    if (rows_of(op, &any, &all) == 0 || (any & OC_INTERNAL)) return;
    bool found = false;
    for (size_t i = 0; i < sizeof k_fuzzed / sizeof k_fuzzed[0]; i++)
        found = found || strcmp(k_fuzzed[i], op) == 0;
    ck_assert_msg(found, "op %s: the graph fuzzer never calls it (tests/fuzz/fuzz_ops.h)", op);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("op_coverage");
    TCase *tc = tcase_create("coverage");
    const int n_ops = (int)tg__builtin_op_count();
    tcase_add_test(tc, test_registry_is_sane);
    tcase_add_loop_test(tc, test_every_op_has_cases_and_rules, 0, n_ops);
    tcase_add_loop_test(tc, test_every_op_has_tangent_and_formula, 0, n_ops);
    tcase_add_loop_test(tc, test_every_case_records_its_op, 0, oc_num_cases);
    tcase_add_loop_test(tc, test_public_ops_are_fuzzed, 0, n_ops);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
