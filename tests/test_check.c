/* The verification API itself: tg_compare's report and tg_gradcheck's
 * pass/fail, vacuity, kink skipping and non-scalar outputs.  A checker that
 * cannot fail proves nothing, so most tests here make it fail on purpose. */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_compare_report)
{
    tg_tensor *a = tt_from(TG_F64, 1, TT_SHAPE(4), TT_VALUES(1, 2, 3, 4));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(4), TT_VALUES(1, 2.001, 3, 4.1));
    tg_compare_report r;
    ck_assert(!tg_compare(a, b, 1e-6, 0, &r));
    ck_assert_int_eq(r.n_failed, 2);
    ck_assert_int_eq(r.worst_index, 3);
    ck_assert(r.worst_a == 4 && r.worst_b == 4.1);
    ck_assert_double_eq_tol(r.worst_abs, 0.1, 1e-12);
    ck_assert_double_eq_tol(r.worst_rel, 0.1 / 4.1, 1e-12);
    ck_assert(tg_compare(a, b, 0.05, 0, &r)); /* within 5% */
    ck_assert(r.ok && !r.vacuous);
    /* shape mismatch is reported as such */
    tg_tensor *c = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(1, 2, 3, 4));
    ck_assert(!tg_compare(a, c, 1, 1, &r));
    ck_assert(r.shape_mismatch);
    /* NaN never compares equal */
    tg_tensor *n = tt_from(TG_F64, 1, TT_SHAPE(4), TT_VALUES(1, 2, NAN, 4));
    ck_assert(!tg_compare(n, a, 1, 1, &r));
    ck_assert_int_eq(r.worst_index, 2);
    /* all zeros: ok but vacuous */
    tg_tensor *z = tg_tensor_zeros(TG_F64, 1, TT_SHAPE(4));
    ck_assert(tg_compare(z, z, 0, 1e-12, &r));
    ck_assert(r.vacuous);
    /* the printed report names the worst element */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tg_compare(a, b, 1e-6, 0, &r);
    tg_compare_report_print(f, "hand vs autodiff", &r);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "hand vs autodiff: FAIL"));
    ck_assert_ptr_nonnull(strstr(buf, "worst at [3]"));
    free(buf);
    tg_tensor *all[] = {a, b, c, n, z};
    for (size_t i = 0; i < 5; i++) tg_tensor_free(all[i]);
}
END_TEST

static tg_tensor *fn_smooth(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_sum_all(tp, tg_mul(tp, tg_tanh(tp, in[0]), tg_exp(tp, in[1])));
}

START_TEST(test_gradcheck_passes_and_restores)
{
    tg_tensor *a = tt_param(2, TT_SHAPE(3, 2), 1, -1, 1);
    tg_tensor *b = tt_param(1, TT_SHAPE(2), 2, -1, 1);
    tg_tensor *copy = tg_tensor_clone(a);
    tg_tensor *in[2] = {a, b};
    tg_compare_report rep[2];
    ck_assert_int_eq(tg_gradcheck(fn_smooth, NULL, 2, in, NULL, rep), TG_OK);
    ck_assert(rep[0].ok && rep[1].ok);
    ck_assert_int_eq(rep[0].numel, 6);
    ck_assert_int_eq(rep[1].numel, 2);
    ck_assert(!rep[0].vacuous);
    ck_assert_double_lt(rep[0].max_abs, 1e-8);
    tt_assert_close("inputs restored", a, copy, 0, 0);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(copy);
}
END_TEST

/* Only inputs with requires_grad are checked (if any has it). */
START_TEST(test_gradcheck_selects_inputs)
{
    tg_tensor *a = tt_param(1, TT_SHAPE(3), 1, -1, 1);
    tg_tensor *b = tt_rand(TG_F64, 1, TT_SHAPE(3), 2, -1, 1);
    tg_tensor *in[2] = {a, b};
    tg_compare_report rep[2];
    ck_assert_int_eq(tg_gradcheck(fn_smooth, NULL, 2, in, NULL, rep), TG_OK);
    ck_assert_int_eq(rep[0].numel, 3);
    ck_assert_int_eq(rep[1].numel, 0);
    /* f32 inputs: the f32 graph's gradient against differences taken in
     * f64 (on f64 copies), and the report says so; an input passed twice
     * is one variable */
    tg_tensor *f = tt_rand(TG_F32, 1, TT_SHAPE(3), 2, -1, 1);
    tg_tensor_set_requires_grad(f, true);
    tg_tensor *in2[2] = {f, f};
    ck_assert_int_eq(tg_gradcheck(fn_smooth, NULL, 2, in2, NULL, rep), TG_OK);
    ck_assert(rep[0].f32_vs_f64 && rep[1].f32_vs_f64);
    ck_assert_int_eq(rep[0].numel, 3);
    ck_assert(!rep[0].vacuous);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(f);
}
END_TEST

/* relu at exactly 0: the one-sided slopes differ by 1, the element is
 * skipped and counted, and the rest still pass. */
static tg_tensor *fn_relu(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_sum_all(tp, tg_mul_scalar(tp, tg_relu(tp, in[0]), 2.0));
}

START_TEST(test_gradcheck_kinks)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(5), TT_VALUES(-1, 0, 0.5, 0, 2));
    tg_tensor_set_requires_grad(x, true);
    tg_compare_report rep;
    ck_assert_int_eq(tg_gradcheck(fn_relu, NULL, 1, &x, NULL, &rep), TG_OK);
    ck_assert_int_eq(rep.n_skipped, 2);
    /* with kink skipping disabled the zeros fail (analytic 0, numeric 1) */
    tg_gradcheck_options o = {.kink_tol = -1};
    ck_assert_int_eq(tg_gradcheck(fn_relu, NULL, 1, &x, &o, &rep), TG_ERR_NUMERIC);
    ck_assert_int_eq(rep.n_failed, 2);
    ck_assert_double_eq_tol(rep.worst_b, 1.0, 1e-6);
    tg_tensor_free(x);
}
END_TEST

/* A function that is flat where it is evaluated: the check is vacuous. */
START_TEST(test_gradcheck_vacuous)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(-1, -2, -3));
    tg_tensor_set_requires_grad(x, true);
    tg_compare_report rep;
    ck_assert_int_eq(tg_gradcheck(fn_relu, NULL, 1, &x, NULL, &rep), TG_OK);
    ck_assert(rep.vacuous);
    tg_tensor_free(x);
}
END_TEST

/* Non-scalar outputs are checked through a random projection. */
static tg_tensor *fn_vec(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_sigmoid(tp, tg_mul(tp, in[0], in[0]));
}

START_TEST(test_gradcheck_non_scalar)
{
    tg_tensor *x = tt_param(2, TT_SHAPE(2, 3), 5, -2, 2);
    tt_gradcheck("sigmoid(x^2) via projection", fn_vec, NULL, 1, &x);
    tg_tensor_free(x);
}
END_TEST

static tg_tensor *fn_fails(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *bad = tg_tensor_new(TG_F64, 1, TT_SHAPE(7));
    tg_tensor *y = tg_add(tp, in[0], bad); /* (3) + (7): error */
    tg_tensor_free(bad);
    return y;
}

START_TEST(test_gradcheck_function_error)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(3), 5, -2, 2);
    ck_assert_int_eq(tg_gradcheck(fn_fails, NULL, 1, &x, NULL, NULL), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "add"));
    ck_assert_int_eq(tg_gradcheck(NULL, NULL, 1, &x, NULL, NULL), TG_ERR_NULL);
    tg_tensor_free(x);
}
END_TEST

/* A passing comparison's report names the element with the largest error
 * (here [1], abs err 1e-4), not the one closest to its tolerance ([0],
 * abs err 1e-7, relative to a tolerance 100 times smaller); a failing one
 * names the largest violation, an infinite one included; equal infinities
 * are equal. */
START_TEST(test_compare_worst)
{
    tg_tensor *a = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 100, 3));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1.0000001, 100.0001, 3));
    tg_compare_report r;
    ck_assert(tg_compare(a, b, 1e-5, 1e-6, &r));
    ck_assert_int_eq(r.worst_index, 1);
    ck_assert(r.worst_abs == r.max_abs);
    char buf[512];
    tg_compare_report_format(buf, sizeof buf, "near", &r);
    ck_assert_msg(strstr(buf, "worst at [1]: 100 vs 100.0001") != NULL, "%s", buf);
    /* failing: the infinite violation at [2] is the worst, not [1] */
    tg_tensor *c = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    tg_tensor *d = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2.5, INFINITY));
    ck_assert(!tg_compare(c, d, 1e-10, 0, &r));
    ck_assert_int_eq(r.n_failed, 2);
    ck_assert_int_eq(r.worst_index, 2);
    /* -inf against -inf is equal; 2 against 2.5 is then the worst */
    tg_tensor *e = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, -INFINITY));
    tg_tensor *f = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2.5, -INFINITY));
    ck_assert(!tg_compare(e, f, 1e-10, 0, &r));
    ck_assert_int_eq(r.n_failed, 1);
    ck_assert_int_eq(r.worst_index, 1);
    ck_assert(tg_compare(e, e, 0, 0, &r));
    tg_tensor *all[] = {a, b, c, d, e, f};
    for (size_t i = 0; i < 6; i++) tg_tensor_free(all[i]);
}
END_TEST

/* An op whose direct rule is right (3 x^2 g) and whose op-built rule is
 * wrong (2 x^2 g): the numeric check passes, the rules disagree.  The
 * report must say that this is why it fails, and the error must name the
 * op and the rule; likewise for a wrong scalar rule on one element. */
static tg_status badbuilt_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_mul_scalar(tp, tg_square(tp, tg_node_input(n, 0)), 2));
    return TG_OK;
}
static tg_status badbuilt_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    (void)tp;
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return TG_OK;
    for (int64_t i = 0; i < tg_tensor_numel(d); i++) {
        const double x = tg_tensor_get_flat(tg_node_input(n, 0), i);
        const double v = tg_tensor_get_flat(g, i) * (3 * x * x);
        tg_tensor_set_flat(d, i, acc ? tg_tensor_get_flat(d, i) + v : v);
    }
    return TG_OK;
}
static void cube_scalar(const tg_node *n, const tg_scalar_args *a, double *gin)
{
    (void)n;
    gin[0] = a->gout * (a->x[0] * a->x[0] * 2); /* wrong, as the op-built rule */
}
static tg_status cube_built(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_mul_scalar(tp, tg_square(tp, tg_node_input(n, 0)), 3));
    return TG_OK;
}
static const tg_op k_badbuilt = {.name = "cube_badbuilt",
                                 .arity = 1,
                                 .backward = badbuilt_backward,
                                 .direct = badbuilt_direct,
                                 .scalar = NULL};
static const tg_op k_badscalar = {.name = "cube_badscalar",
                                  .arity = 1,
                                  .backward = cube_built,
                                  .direct = NULL,
                                  .scalar = cube_scalar};

static tg_tensor *fn_cube(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const tg_op *op = ctx;
    tg_tensor *x = tg_exp(tp, in[0]);
    if (!tg_tape_check_inputs(tp, op->name, 1, &x)) return NULL;
    tg_tensor *y = tg_tape_alloc(tp, tg_tensor_dtype(x), tg_tensor_ndim(x), tg_tensor_shape(x));
    if (!y) return NULL;
    for (int64_t i = 0; i < tg_tensor_numel(x); i++) {
        double v = tg_tensor_get_flat(x, i);
        tg_tensor_set_flat(y, i, v * v * v);
    }
    return tg_sum_all(tp, tg_tanh(tp, tg_tape_record(tp, op, 1, &x, y, NULL, 0, 0, NULL)));
}

START_TEST(test_gradcheck_rules_report)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(6), 40, -1, 0);
    tg_compare_report rep;
    ck_assert_int_eq(tg_gradcheck(fn_cube, (void *)&k_badbuilt, 1, &x, NULL, &rep), TG_ERR_NUMERIC);
    ck_assert(rep.rules_disagree && rep.n_failed == 0);
    ck_assert_str_eq(tg_last_error(),
                     "gradcheck: node 1 (cube_badbuilt): its direct rule and its op-built rule "
                     "give different gradients");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(tg_gradcheck_print(f, fn_cube, (void *)&k_badbuilt, 1, &x, NULL),
                     TG_ERR_NUMERIC);
    fclose(f);
    ck_assert_msg(strstr(buf, "gradcheck input 0: FAIL  6 elements, 0 out of tolerance; failed "
                              "because the direct and op-built rules disagree") != NULL,
                  "%s", buf);
    ck_assert_msg(strstr(buf, "node 1 (cube_badbuilt): its direct rule and its op-built rule") !=
                      NULL,
                  "%s", buf);
    free(buf);
    /* the scalar rule of a one-element node */
    tg_tensor *x1 = tt_param(1, TT_SHAPE(1), 41, -1, 0);
    ck_assert_int_eq(tg_gradcheck(fn_cube, (void *)&k_badscalar, 1, &x1, NULL, &rep),
                     TG_ERR_NUMERIC);
    ck_assert(rep.rules_disagree);
    ck_assert_str_eq(tg_last_error(),
                     "gradcheck: node 1 (cube_badscalar): its scalar rule and its op-built rule "
                     "give different gradients");
    tg_tensor_free(x);
    tg_tensor_free(x1);
}
END_TEST

/* A function that ignores one of its inputs: that input is never recorded,
 * and its gradient is zero (tg_grad and tg_vjp refuse a tensor no op used,
 * since for them it is a mix-up; gradcheck asks about every input). */
static tg_tensor *fn_ignores_second(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_sum_all(tp, tg_square(tp, in[0]));
}

START_TEST(test_gradcheck_unused_input)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(3), 5, -1, 1);
    tg_tensor *u = tt_param(1, TT_SHAPE(2), 6, -1, 1);
    tg_tensor *in[2] = {x, u};
    tg_compare_report rep[2];
    ck_assert_msg(tg_gradcheck(fn_ignores_second, NULL, 2, in, NULL, rep) == TG_OK, "%s",
                  tg_last_error());
    ck_assert(rep[0].ok && rep[1].ok);
    ck_assert_int_eq(rep[1].numel, 2);
    ck_assert(rep[1].max_abs == 0);
    tg_tensor_free(x);
    tg_tensor_free(u);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("check");
    TCase *tc = tcase_create("check");
    tcase_add_test(tc, test_compare_report);
    tcase_add_test(tc, test_gradcheck_passes_and_restores);
    tcase_add_test(tc, test_gradcheck_selects_inputs);
    tcase_add_test(tc, test_gradcheck_kinks);
    tcase_add_test(tc, test_gradcheck_vacuous);
    tcase_add_test(tc, test_gradcheck_non_scalar);
    tcase_add_test(tc, test_gradcheck_function_error);
    tcase_add_test(tc, test_compare_worst);
    tcase_add_test(tc, test_gradcheck_rules_report);
    tcase_add_test(tc, test_gradcheck_unused_input);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
