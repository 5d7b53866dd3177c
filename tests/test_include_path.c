/* Built with include/tapegrad itself on the include path (tests/meson.build),
 * as a consumer who adds that folder might: <check.h> must still be the
 * Check framework's, not a tapegrad header of the same name (issue 17, item
 * 4: the gradient-checking header was include/tapegrad/check.h, which took
 * its place, so this file did not compile). */
#include <check.h>

#include "gradcheck.h"

START_TEST(test_check_is_the_framework)
{
    static const int64_t s[] = {2};
    tg_tensor *a = tg_tensor_from_f64(TG_F64, 1, s, (const double[]){1, 2});
    ck_assert(tg_compare(a, a, 0, 0, NULL));
    tg_tensor_free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("include_path");
    TCase *tc = tcase_create("include_path");
    tcase_add_test(tc, test_check_is_the_framework);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
