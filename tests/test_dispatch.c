/* TG_DISPATCH runs its body for f32 and f64 only (issue 17, item 4).  Every
 * op refuses another dtype before it dispatches; should one get through,
 * the dispatch stops on an assert instead of running the f32 body on data
 * of another type (it used to read every dtype that is not f64 as f32). */
#include "common.h"

#include <signal.h>

#include "src/core/internal.h"

/* The body's typedef of T, as a number: 4 (float) or 8 (double). */
static int dispatched_size(tg_dtype dt)
{
    int size = 0;
    TG_DISPATCH(dt, T, { size = (int)sizeof(T); });
    return size;
}

START_TEST(test_float_dtypes)
{
    ck_assert_int_eq(dispatched_size(TG_F32), 4);
    ck_assert_int_eq(dispatched_size(TG_F64), 8);
}
END_TEST

#ifndef NDEBUG
/* A dtype that is neither: the assert fires (SIGABRT), no body runs. */
START_TEST(test_other_dtype_stops)
{
    const tg_dtype other = (tg_dtype)(TG_F64 + 1);
    ck_assert_int_eq(dispatched_size(other), 0);
}
END_TEST
#endif

int main(void)
{
    Suite *s = suite_create("dispatch");
    TCase *tc = tcase_create("dispatch");
    tcase_add_test(tc, test_float_dtypes);
#ifndef NDEBUG
    tcase_add_test_raise_signal(tc, test_other_dtype_stops, SIGABRT);
#endif
    suite_add_tcase(s, tc);
    return tt_run(s);
}
