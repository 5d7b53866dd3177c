/* Threads (include/tapegrad/threads.h): the setting, its errors, and the
 * promise that every result is the same bits with any thread count.
 *
 * The table test runs every OC_DIRECT row of op_cases.h, in f64 and f32,
 * with the threaded path forced at every size (tg__par_force: the small
 * shapes of the table would stay on one thread otherwise) and 1, 2 and 3
 * threads: the forward value, the gradient by the direct rules and the
 * gradient by the op-built rules (create_graph) must be equal bytes.  Three
 * threads split the pieces unevenly, as two do not; one thread runs the same
 * pieces in order.  The kernels' own suites add cases above the measured
 * thresholds, without the force. */
#include "common.h"
#include "op_cases.h"
#include "tg_config.h"

#include "../src/core/parallel.h"

#include <string.h>

START_TEST(test_setting)
{
    ck_assert_int_eq(tg_set_num_threads(2), TG_OK);
    ck_assert_int_eq(tg_get_num_threads(), 2);
    ck_assert_int_eq(tg_set_num_threads(1), TG_OK);
    ck_assert_int_eq(tg_get_num_threads(), 1);
    ck_assert_int_eq(tg_set_num_threads(0), TG_OK);
    ck_assert_int_ge(tg_get_num_threads(), 1);
    ck_assert_int_le(tg_get_num_threads(), TG_MAX_THREADS);
    ck_assert(tg_have_openmp() == (TG_HAVE_OPENMP != 0));
}
END_TEST

START_TEST(test_bad_counts)
{
    const int bad[] = {-1, TG_MAX_THREADS + 1, -2147483647 - 1};
    ck_assert_int_eq(tg_set_num_threads(3), TG_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(tg_set_num_threads(bad[i]), TG_ERR_ARG);
        ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(tg_last_error(), "tg_set_num_threads: n is"));
        ck_assert_int_eq(tg_get_num_threads(), 3); /* unchanged */
    }
}
END_TEST

/* One row's results: forward value, direct-rule and op-built gradients. */
typedef struct row_out {
    tg_tensor *y, *g_direct, *g_built;
} row_out;

static void row_out_free(row_out *o)
{
    tg_tensor_free(o->y);
    tg_tensor_free(o->g_direct);
    tg_tensor_free(o->g_built);
}

static row_out run_row(const oc_case *c, const oc_consts *K, const tg_tensor *x0)
{
    row_out o = {0};
    tg_tensor *x = tg_tensor_clone(x0);
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = c->f(tp, x, NULL, K);
    ck_assert_msg(y != NULL, "%s: %s", c->id, tg_tape_error(tp));
    tg_tensor *loss = tg_sum_all(tp, tg_square(tp, y));
    o.y = tg_tensor_cast_new(y, tg_tensor_dtype(y));
    ck_assert_msg(tg_backward(tp, loss) == TG_OK, "%s: %s", c->id, tg_tape_error(tp));
    o.g_direct = tg_tensor_clone(tg_tensor_grad(x));
    tg_tape_reset(tp);
    y = c->f(tp, x, NULL, K);
    tg_tensor *g = tg_grad(tp, tg_sum_all(tp, tg_square(tp, y)), x, true);
    ck_assert_msg(g != NULL, "%s: %s", c->id, tg_tape_error(tp));
    o.g_built = tg_tensor_clone(g);
    tg_tape_free(tp);
    tg_tensor_free(x);
    return o;
}

static void assert_same_bytes(const char *id, const char *what, int nt, const tg_tensor *a,
                              const tg_tensor *b)
{
    ck_assert_int_eq(tg_tensor_numel(a), tg_tensor_numel(b));
    const size_t es = tg_tensor_dtype(a) == TG_F64 ? 8 : 4;
    const size_t n = (size_t)tg_tensor_numel(a) * es;
    ck_assert_msg(memcmp(tg_tensor_data_const(a), tg_tensor_data_const(b), n) == 0,
                  "%s: the %s with %d threads differs from 1 thread's", id, what, nt);
}

static void check_dtype(tg_dtype dt)
{
    oc_consts *K64 = oc_consts_new();
    oc_consts *K = dt == TG_F64 ? K64 : oc_consts_cast(K64, dt);
    tg_tensor *x64 = tt_param(4, TT_SHAPE(2, 2, 4, 4), 4242, 0.2, 2);
    tg_tensor *x = tg_tensor_cast_new(x64, dt);
    const bool was = tg__par_force(true);
    int n = 0;
    for (int i = -1; oc_next(&i, OC_DIRECT); n++) {
        const oc_case *c = &oc_cases[i];
        ck_assert_int_eq(tg_set_num_threads(1), TG_OK);
        row_out one = run_row(c, K, x);
        for (int nt = 2; nt <= 3; nt++) {
            ck_assert_int_eq(tg_set_num_threads(nt), TG_OK);
            row_out more = run_row(c, K, x);
            assert_same_bytes(c->id, "forward value", nt, one.y, more.y);
            assert_same_bytes(c->id, "gradient (direct rules)", nt, one.g_direct, more.g_direct);
            assert_same_bytes(c->id, "gradient (op-built rules)", nt, one.g_built, more.g_built);
            row_out_free(&more);
        }
        row_out_free(&one);
    }
    ck_assert_int_ge(n, 100);
    tg__par_force(was);
    tg_tensor_free(x);
    tg_tensor_free(x64);
    if (K != K64) oc_consts_free(K);
    oc_consts_free(K64);
}

START_TEST(test_op_rows_same_bits_f64)
{
    check_dtype(TG_F64);
}
END_TEST

START_TEST(test_op_rows_same_bits_f32)
{
    check_dtype(TG_F32);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("parallel");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_setting);
    tcase_add_test(tc, test_bad_counts);
    tcase_add_test(tc, test_op_rows_same_bits_f64);
    tcase_add_test(tc, test_op_rows_same_bits_f32);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
