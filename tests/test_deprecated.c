/* The deprecated aliases of renamed public functions (issue 17, item 4):
 * each still works, forwarding to its new name, for the one release it is
 * kept.  Each call suppresses the deprecation warning locally, so the rest
 * of this file still warns (an error under -Dwerror=true) on any other use
 * of an old name. */
#include "common.h"

#include <unistd.h>

#define OLD_NAME_BEGIN                                                                             \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wdeprecated-declarations\"")
#define OLD_NAME_END _Pragma("GCC diagnostic pop")

static const char *const k_path = "tg_deprecated.safetensors";
static const int64_t k_s23[] = {2, 3};
static const double k_vals[6] = {1.5, -2, 0.25, 4, -0.5, 6};

static tg_tensor *value_of(const tg_named_tensors *nt, const char *name)
{
    for (int i = 0; i < nt->n; i++)
        if (strcmp(nt->names[i], name) == 0) return nt->tensors[i];
    return NULL;
}

START_TEST(test_save_safetensors)
{
    tg_tensor *a = tt_from(TG_F64, 2, k_s23, k_vals);
    OLD_NAME_BEGIN
    tg_status st = tg_save_safetensors(k_path, 1, (const char *const[]){"a"}, &a);
    OLD_NAME_END
    ck_assert_int_eq(st, TG_OK);
    tg_named_tensors nt = {0};
    ck_assert_int_eq(tg_safetensors_load(k_path, &nt), TG_OK);
    ck_assert_int_eq(nt.n, 1);
    tt_assert_values("saved a", value_of(&nt, "a"), k_vals, 6, 0, 0);
    tg_named_tensors_free(&nt);
    tg_tensor_free(a);
    unlink(k_path);
}
END_TEST

START_TEST(test_load_safetensors)
{
    tg_tensor *a = tt_from(TG_F32, 2, k_s23, k_vals);
    ck_assert_int_eq(tg_safetensors_save(k_path, 1, (const char *const[]){"a"}, &a), TG_OK);
    tg_named_tensors nt = {0};
    OLD_NAME_BEGIN
    tg_status st = tg_load_safetensors(k_path, &nt);
    OLD_NAME_END
    ck_assert_int_eq(st, TG_OK);
    ck_assert_int_eq(nt.n, 1);
    ck_assert_int_eq(tg_tensor_dtype(value_of(&nt, "a")), TG_F32);
    tt_assert_values("loaded a", value_of(&nt, "a"), k_vals, 6, 0, 0);
    tg_named_tensors_free(&nt);
    /* an error names the new function */
    OLD_NAME_BEGIN
    st = tg_load_safetensors(NULL, &nt);
    OLD_NAME_END
    ck_assert_int_eq(st, TG_ERR_NULL);
    ck_assert_str_eq(tg_last_error(), "safetensors_load: path is NULL");
    tg_tensor_free(a);
    unlink(k_path);
}
END_TEST

START_TEST(test_load_safetensors_into)
{
    tg_tensor *a = tt_from(TG_F64, 2, k_s23, k_vals);
    tg_tensor *b = tg_tensor_zeros(TG_F64, 2, k_s23);
    ck_assert_int_eq(tg_safetensors_save(k_path, 1, (const char *const[]){"a"}, &a), TG_OK);
    OLD_NAME_BEGIN
    tg_status st = tg_load_safetensors_into(k_path, 1, (const char *const[]){"a"}, &b);
    OLD_NAME_END
    ck_assert_int_eq(st, TG_OK);
    tt_assert_values("b filled from a", b, k_vals, 6, 0, 0);
    tg_tensor_free(a);
    tg_tensor_free(b);
    unlink(k_path);
}
END_TEST

START_TEST(test_tape_get_stats)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *a = tt_from(TG_F64, 2, k_s23, k_vals);
    ck_assert_ptr_nonnull(tg_exp(tp, tg_mul(tp, a, a)));
    OLD_NAME_BEGIN
    tg_tape_stats old = tg_tape_get_stats(tp);
    OLD_NAME_END
    tg_tape_stats now = tg_tape_usage(tp);
    ck_assert_int_eq(old.nodes, 2);
    ck_assert_int_eq(old.nodes, now.nodes);
    ck_assert_int_eq(old.tensors, now.tensors);
    ck_assert_uint_eq(old.bytes_in_use, now.bytes_in_use);
    ck_assert_uint_eq(old.high_water, now.high_water);
    ck_assert_uint_eq(old.bytes_reserved, now.bytes_reserved);
    ck_assert_int_eq(old.mallocs, now.mallocs);
    tg_tape_free(tp);
    tg_tensor_free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("deprecated");
    TCase *tc = tcase_create("deprecated");
    tcase_add_test(tc, test_save_safetensors);
    tcase_add_test(tc, test_load_safetensors);
    tcase_add_test(tc, test_load_safetensors_into);
    tcase_add_test(tc, test_tape_get_stats);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
