/* tg_gemm_describe and tg_gemm_slow_kernels: which kernels matrix products
 * run on, and the advice when OpenBLAS runs generic ones on a CPU that has
 * AVX2.
 *
 * OpenBLAS picks its kernels once, when it is loaded, from the environment
 * variable OPENBLAS_CORETYPE or its own detection, so one process can only
 * see one choice: meson runs this suite twice, with OPENBLAS_CORETYPE=Prescott
 * (the generic SSE3 kernels it falls back to for CPU models it does not
 * know) and =Haswell, and TG_EXPECT_SLOW=1 / 0 saying what the answer must
 * be on a CPU with AVX2.  On a CPU without AVX2, or without OpenBLAS, the
 * answer must be "not slow". */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "tg_config.h"

static bool cpu_has_avx2(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

START_TEST(test_gemm_describe)
{
    char buf[256];
    ck_assert_ptr_eq(tg_gemm_describe(buf, sizeof buf), buf);
    ck_assert_msg(strstr(buf, TG_HAVE_CBLAS ? "OpenBLAS" : "built-in") != NULL, "%s", buf);
    /* truncation keeps the string terminated; NULL and 0 are ignored */
    char small[8];
    memset(small, 'x', sizeof small);
    tg_gemm_describe(small, sizeof small);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    ck_assert_ptr_null(tg_gemm_describe(NULL, 10));
    tg_gemm_describe(small, 0);
}
END_TEST

START_TEST(test_gemm_slow_kernels)
{
    char advice[512];
    memset(advice, 'x', sizeof advice);
    const bool slow = tg_gemm_slow_kernels(advice, sizeof advice);
    const char *expect = getenv("TG_EXPECT_SLOW");
    char desc[256];
    tg_gemm_describe(desc, sizeof desc);
    if (!TG_HAVE_CBLAS || !cpu_has_avx2() || !expect) {
        /* built-in gemm, a CPU without AVX2, or no expectation given: only
         * the built-in gemm and non-AVX2 CPUs have a fixed answer */
        if (!TG_HAVE_CBLAS || !cpu_has_avx2()) ck_assert_msg(!slow, "%s: %s", desc, advice);
    } else {
        ck_assert_msg(slow == (expect[0] == '1'), "%s: slow %d, expected %s (%s)", desc, slow,
                      expect, advice);
    }
    if (slow) {
        ck_assert_msg(strstr(advice, "OPENBLAS_CORETYPE=") != NULL, "%s", advice);
        ck_assert_msg(strstr(advice, "SkylakeX") || strstr(advice, "Haswell"), "%s", advice);
    } else {
        ck_assert_str_eq(advice, "");
    }
    ck_assert_int_eq(tg_gemm_slow_kernels(NULL, 0), slow); /* advice is optional */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gemm_info");
    TCase *tc = tcase_create("gemm_info");
    tcase_add_test(tc, test_gemm_describe);
    tcase_add_test(tc, test_gemm_slow_kernels);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
