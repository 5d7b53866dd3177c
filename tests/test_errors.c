/* Bad input gives a clear error, never a crash: each case checks the status,
 * that the message names the op and the shapes, that the user's tensors are
 * untouched, that later ops return NULL, and that tg_tape_reset recovers.
 * (Op-specific cases of matmul, softmax, losses, conv live in their suites.) */
#include "common.h"

#include <stdint.h>
#include <string.h>

#include "src/core/internal.h" /* tg__clear_last, tg_tensor_describe of a header on the stack */

typedef struct fixture {
    tg_tape *tp;
    tg_tensor *a23, *b4, *c21, *f23, *e0;
} fixture;

static fixture fx;

static void setup(void)
{
    fx.tp = tg_tape_new(NULL);
    fx.a23 = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 1, -1, 1);
    fx.b4 = tt_rand(TG_F64, 1, TT_SHAPE(4), 2, -1, 1);
    fx.c21 = tt_rand(TG_F64, 2, TT_SHAPE(2, 1), 3, -1, 1);
    fx.f23 = tt_rand(TG_F32, 2, TT_SHAPE(2, 3), 4, -1, 1);
    fx.e0 = tg_tensor_new(TG_F64, 2, TT_SHAPE(0, 3));
}

static void teardown(void)
{
    tg_tape_free(fx.tp);
    tg_tensor_free(fx.a23);
    tg_tensor_free(fx.b4);
    tg_tensor_free(fx.c21);
    tg_tensor_free(fx.f23);
    tg_tensor_free(fx.e0);
}

/* After an error: sticky, later ops return NULL, reset recovers. */
static void assert_sticky_then_reset(tg_tape *tp)
{
    char first[512];
    snprintf(first, sizeof first, "%s", tg_tape_error(tp));
    tg_status st = tg_tape_status(tp);
    ck_assert_ptr_null(tg_exp(tp, fx.a23));
    ck_assert_ptr_null(tg_add(tp, fx.a23, fx.c21));
    ck_assert_int_eq(tg_tape_status(tp), st);
    ck_assert_str_eq(tg_tape_error(tp), first);
    ck_assert_int_eq(tg_backward(tp, NULL), TG_ERR_STATE);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    ck_assert_ptr_nonnull(tg_add(tp, fx.a23, fx.c21));
}

START_TEST(test_null_inputs)
{
    ck_assert_ptr_null(tg_add(fx.tp, fx.a23, NULL));
    tt_assert_tape_error(fx.tp, TG_ERR_NULL, "add", "input 1");
    assert_sticky_then_reset(fx.tp);
    ck_assert_ptr_null(tg_sigmoid(fx.tp, NULL));
    tt_assert_tape_error(fx.tp, TG_ERR_NULL, "sigmoid", "input 0");
    assert_sticky_then_reset(fx.tp);
    /* a NULL tape: NULL back, nothing else happens */
    ck_assert_ptr_null(tg_add(NULL, fx.a23, fx.a23));
    ck_assert_ptr_null(tg_sum_all(NULL, fx.a23));
    ck_assert_int_eq(tg_backward(NULL, fx.a23), TG_ERR_NULL);
    ck_assert_ptr_null(tg_grad(NULL, fx.a23, fx.a23, false));
    ck_assert_ptr_null(tg_grad(fx.tp, NULL, fx.a23, false));
    tt_assert_tape_error(fx.tp, TG_ERR_NULL, "grad");
}
END_TEST

START_TEST(test_shape_mismatch)
{
    ck_assert_ptr_null(tg_mul(fx.tp, fx.a23, fx.b4));
    tt_assert_tape_error(fx.tp, TG_ERR_SHAPE, "mul", "(2,3)", "(4)", "broadcast");
    assert_sticky_then_reset(fx.tp);
    ck_assert_ptr_null(tg_reshape(fx.tp, fx.a23, 2, TT_SHAPE(4, 2)));
    tt_assert_tape_error(fx.tp, TG_ERR_SHAPE, "reshape", "(2,3)", "6", "8");
    assert_sticky_then_reset(fx.tp);
    ck_assert_ptr_null(tg_reshape(fx.tp, fx.a23, 2, TT_SHAPE(-1, 4)));
    tt_assert_tape_error(fx.tp, TG_ERR_SHAPE, "reshape", "infer");
    assert_sticky_then_reset(fx.tp);
    ck_assert_ptr_null(tg_broadcast_to(fx.tp, fx.a23, 2, TT_SHAPE(4, 3)));
    tt_assert_tape_error(fx.tp, TG_ERR_SHAPE, "broadcast_to", "(2,3)");
    assert_sticky_then_reset(fx.tp);
    ck_assert_ptr_null(tg_sum_to(fx.tp, fx.c21, 2, TT_SHAPE(3, 1)));
    tt_assert_tape_error(fx.tp, TG_ERR_SHAPE, "sum_to", "(2,1)");
    assert_sticky_then_reset(fx.tp);
}
END_TEST

START_TEST(test_dtype_mismatch)
{
    ck_assert_ptr_null(tg_add(fx.tp, fx.a23, fx.f23));
    tt_assert_tape_error(fx.tp, TG_ERR_DTYPE, "add", "f64[2,3]", "f32[2,3]", "tg_cast");
    assert_sticky_then_reset(fx.tp);
    ck_assert_ptr_null(tg_cast(fx.tp, fx.a23, (tg_dtype)9));
    tt_assert_tape_error(fx.tp, TG_ERR_DTYPE, "cast");
    assert_sticky_then_reset(fx.tp);
    /* the cure works */
    ck_assert_ptr_nonnull(tg_add(fx.tp, fx.a23, tg_cast(fx.tp, fx.f23, TG_F64)));
}
END_TEST

START_TEST(test_axes)
{
    ck_assert_ptr_null(tg_sum(fx.tp, fx.a23, 1, (int[]){2}, false));
    tt_assert_tape_error(fx.tp, TG_ERR_AXIS, "sum", "axis 2", "f64[2,3]");
    assert_sticky_then_reset(fx.tp);
    ck_assert_ptr_null(tg_mean(fx.tp, fx.a23, 1, (int[]){-3}, false));
    tt_assert_tape_error(fx.tp, TG_ERR_AXIS, "mean", "axis -3");
    assert_sticky_then_reset(fx.tp);
    ck_assert_ptr_null(tg_sum(fx.tp, fx.a23, 2, (int[]){1, -1}, false));
    tt_assert_tape_error(fx.tp, TG_ERR_AXIS, "sum", "twice");
    assert_sticky_then_reset(fx.tp);
}
END_TEST

START_TEST(test_empty_tensors)
{
    /* elementwise ops and sums accept empty tensors (as NumPy does) ... */
    tg_tensor *y = tg_exp(fx.tp, fx.e0);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_tensor_numel(y), 0);
    tg_tensor *s = tg_sum_all(fx.tp, fx.e0);
    ck_assert(tg_tensor_get_flat(s, 0) == 0.0);
    /* ... but a mean of nothing is an error, not a NaN */
    ck_assert_ptr_null(tg_mean_all(fx.tp, fx.e0));
    tt_assert_tape_error(fx.tp, TG_ERR_EMPTY, "mean", "f64[0,3]");
    assert_sticky_then_reset(fx.tp);
    /* backward of an empty output: not a scalar */
    y = tg_exp(fx.tp, fx.e0);
    ck_assert_int_eq(tg_backward(fx.tp, y), TG_ERR_NOT_SCALAR);
    tt_assert_tape_error(fx.tp, TG_ERR_NOT_SCALAR, "backward", "f64[0,3]");
}
END_TEST

START_TEST(test_wrong_tape)
{
    tg_tape *other = tg_tape_new(NULL);
    tg_tensor *y = tg_exp(other, fx.a23);
    ck_assert_ptr_null(tg_mul(fx.tp, fx.a23, y));
    tt_assert_tape_error(fx.tp, TG_ERR_TAPE, "mul", "input 1", "another tape");
    assert_sticky_then_reset(fx.tp);
    /* backward of a tensor from another tape */
    ck_assert_int_eq(tg_backward(fx.tp, tg_sum_all(other, y)), TG_ERR_TAPE);
    tt_assert_tape_error(fx.tp, TG_ERR_TAPE, "backward");
    tg_tape_free(other);
}
END_TEST

/* A failing backward leaves the user's gradients as they were. */
static tg_status bad_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    (void)n;
    (void)g;
    tg_tape_fail(tp, TG_ERR_ARG, "explode: refused on purpose");
    gin[0] = NULL;
    return TG_ERR_ARG;
}
static const tg_op k_explode = {.name = "explode", .arity = 1, .backward = bad_backward};

START_TEST(test_failed_backward_leaves_grads)
{
    tg_tensor *w = tt_param(1, TT_SHAPE(4), 7, -1, 1);
    tg_tensor *y = tg_sum_all(fx.tp, tg_square(fx.tp, w));
    ck_assert_int_eq(tg_backward(fx.tp, y), TG_OK);
    tg_tensor *before = tg_tensor_clone(tg_tensor_grad(w));
    tg_tape_reset(fx.tp);
    tg_tensor *e = tg_tape_alloc(fx.tp, TG_F64, 1, TT_SHAPE(4));
    tg_tensor_copy(e, w);
    e = tg_tape_record(fx.tp, &k_explode, 1, &w, e, NULL, 0, 0, NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(tg_backward(fx.tp, tg_sum_all(fx.tp, e)), TG_ERR_ARG);
    tt_assert_tape_error(fx.tp, TG_ERR_ARG, "explode: refused on purpose");
    tt_assert_close("grad untouched", tg_tensor_grad(w), before, 0, 0);
    tg_tensor_free(before);
    tg_tensor_free(w);
}
END_TEST

START_TEST(test_record_misuse)
{
    /* an output not from tg_tape_alloc, or a wrong input count */
    ck_assert_ptr_null(tg_tape_record(fx.tp, &k_explode, 1, &fx.a23, fx.b4, NULL, 0, 0, NULL));
    tt_assert_tape_error(fx.tp, TG_ERR_TAPE, "record explode");
    assert_sticky_then_reset(fx.tp);
    tg_tensor *o = tg_tape_alloc(fx.tp, TG_F64, 1, TT_SHAPE(4));
    ck_assert_ptr_null(
        tg_tape_record(fx.tp, &k_explode, 2, (tg_tensor *[]){fx.a23, fx.a23}, o, NULL, 0, 0, NULL));
    tt_assert_tape_error(fx.tp, TG_ERR_ARG, "explode", "input count 2");
    assert_sticky_then_reset(fx.tp);
    ck_assert_int_eq(tg_retain_grad(fx.tp, NULL), TG_ERR_NULL);
}
END_TEST

/* Issue 18, item 19: an op given a NULL tape returned NULL and left no
 * message anywhere.  Each sets the thread's last error naming the op. */
static tg_tensor *op_with_null_tape(int i, const char **name)
{
    tg_tensor *a = fx.a23, *c = fx.c21;
    tg_tensor *img = NULL; /* ops that would read it fail on the tape first */
    const int64_t shape[4] = {1, 1, 2, 3};
    tg_tensor *xs[2] = {a, a};
    const int axes[1] = {0};
    const int perm[2] = {1, 0};
    tg_tape *T = NULL;
    (void)img;
    switch (i) {
#define CASE(k, nm, call)                                                                          \
    case k:                                                                                        \
        *name = nm;                                                                                \
        return call
        CASE(0, "add", tg_add(T, a, c));
        CASE(1, "sub", tg_sub(T, a, c));
        CASE(2, "mul", tg_mul(T, a, c));
        CASE(3, "div", tg_div(T, a, c));
        CASE(4, "pow", tg_pow(T, a, c));
        CASE(5, "maximum", tg_maximum(T, a, c));
        CASE(6, "minimum", tg_minimum(T, a, c));
        CASE(7, "add_scalar", tg_add_scalar(T, a, 1));
        CASE(8, "mul_scalar", tg_mul_scalar(T, a, 2));
        CASE(9, "rsub_scalar", tg_rsub_scalar(T, 1, a));
        CASE(10, "rdiv_scalar", tg_rdiv_scalar(T, 1, a));
        CASE(11, "pow_scalar", tg_pow_scalar(T, a, 2));
        CASE(12, "neg", tg_neg(T, a));
        CASE(13, "exp", tg_exp(T, a));
        CASE(14, "log", tg_log(T, a));
        CASE(15, "sqrt", tg_sqrt(T, a));
        CASE(16, "square", tg_square(T, a));
        CASE(17, "abs", tg_abs(T, a));
        CASE(18, "sigmoid", tg_sigmoid(T, a));
        CASE(19, "tanh", tg_tanh(T, a));
        CASE(20, "relu", tg_relu(T, a));
        CASE(21, "softplus", tg_softplus(T, a));
        CASE(22, "sign", tg_sign(T, a));
        CASE(23, "step", tg_step(T, a));
        CASE(24, "detach", tg_detach(T, a));
        CASE(25, "cast", tg_cast(T, a, TG_F32));
        CASE(26, "sum_all", tg_sum_all(T, a));
        CASE(27, "mean_all", tg_mean_all(T, a));
        CASE(28, "sum", tg_sum(T, a, 1, axes, false));
        CASE(29, "mean", tg_mean(T, a, 1, axes, true));
        CASE(30, "max", tg_max(T, a, 1, false));
        CASE(31, "sum_to", tg_sum_to(T, a, 1, TT_SHAPE(3)));
        CASE(32, "reshape", tg_reshape(T, a, 1, TT_SHAPE(6)));
        CASE(33, "permute", tg_permute_dims(T, a, 2, perm));
        CASE(34, "transpose", tg_transpose(T, a, 0, 1));
        CASE(35, "slice", tg_slice(T, a, 1, 0, 2, 1));
        CASE(36, "embed", tg_embed(T, a, 2, TT_SHAPE(2, 5), 1, 0, 1));
        CASE(37, "concat", tg_concat(T, 2, xs, 0));
        CASE(38, "broadcast_to", tg_broadcast_to(T, c, 2, TT_SHAPE(2, 3)));
        CASE(39, "matmul", tg_matmul(T, a, fx.a23));
        CASE(40, "matmul", tg_matmul_t(T, a, a, false, true));
        CASE(41, "softmax", tg_softmax(T, a, 1));
        CASE(42, "log_softmax", tg_log_softmax(T, a, 1));
        CASE(43, "sse", tg_sse(T, a, a));
        CASE(44, "mse", tg_mse(T, a, a));
        CASE(45, "bce", tg_bce(T, a, a, TG_REDUCE_MEAN));
        CASE(46, "bce_logits", tg_bce_logits(T, a, a, TG_REDUCE_MEAN));
        CASE(47, "softmax_cross_entropy", tg_softmax_cross_entropy(T, a, a, TG_REDUCE_MEAN));
        CASE(48, "softmax_cross_entropy_index",
             tg_softmax_cross_entropy_index(T, a, NULL, TG_REDUCE_MEAN));
        CASE(49, "conv2d", tg_conv2d(T, a, a, NULL, 1, 1, 0, 0));
        CASE(50, "im2col", tg_im2col(T, a, 1, 1, 1, 1, 0, 0));
        CASE(51, "col2im", tg_col2im_to(T, a, 4, shape, 1, 1, 1, 1, 0, 0));
        CASE(52, "max_pool2d", tg_max_pool2d(T, a, 1, 1, 1, 1, 0, 0));
        CASE(53, "avg_pool2d", tg_avg_pool2d(T, a, 1, 1, 1, 1, 0, 0));
        CASE(54, "flatten", tg_flatten(T, a));
        CASE(55, "linear", tg_linear(T, a, a, NULL));
        CASE(56, "dropout", tg_dropout(T, a, 0.5, true));
        CASE(57, "fast_dropout_linear", tg_fast_dropout_linear(T, a, a, 0.5));
        CASE(58, "grad", tg_grad(T, a, a, false));
        CASE(59, "tg_tape_alloc", tg_tape_alloc(T, TG_F64, 1, TT_SHAPE(2)));
    case 60:
        *name = "backward";
        return tg_backward(T, a) == TG_ERR_NULL ? NULL : a;
#undef CASE
    }
    *name = NULL;
    return NULL;
}
enum { N_NULL_TAPE_OPS = 61 };

START_TEST(test_null_tape_every_op)
{
    const char *name;
    tg__clear_last();
    ck_assert_ptr_null(op_with_null_tape(_i, &name));
    ck_assert_ptr_nonnull(name);
    char want[96];
    snprintf(want, sizeof want, "%s: tape is NULL", name);
    ck_assert_msg(tg_last_status() == TG_ERR_NULL, "%s: status %d, last error '%s'", name,
                  (int)tg_last_status(), tg_last_error());
    ck_assert_str_eq(tg_last_error(), want);
}
END_TEST

/* Unclear messages: a negative count said "NULL array"; an output too big
 * to exist said "alloc: extent ... invalid" without naming the op. */
START_TEST(test_counts_and_sizes_named)
{
    tg_tensor *y = tg_exp(fx.tp, fx.a23);
    tg_tensor *gs[1];
    ck_assert_int_ne(tg_vjp(fx.tp, tg_sum_all(fx.tp, y), NULL, -1, NULL, gs, false), TG_OK);
    tt_assert_tape_error(fx.tp, TG_ERR_ARG, "vjp", "input count -1 is negative");
    assert_sticky_then_reset(fx.tp);
    ck_assert_ptr_null(tg_sum(fx.tp, fx.a23, -1, NULL, false));
    tt_assert_tape_error(fx.tp, TG_ERR_AXIS, "sum", "-1 axes");
    assert_sticky_then_reset(fx.tp);
    /* zero-element tensors whose broadcast has too many elements */
    const int64_t big = INT64_C(1) << 40;
    tg_tensor *p = tg_tensor_new(TG_F64, 3, TT_SHAPE(big, 1, 0));
    tg_tensor *q = tg_tensor_new(TG_F64, 3, TT_SHAPE(1, big, 0));
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(q);
    ck_assert_ptr_null(tg_add(fx.tp, p, q));
    tt_assert_tape_error(fx.tp, TG_ERR_SHAPE, "add", "1099511627776");
    assert_sticky_then_reset(fx.tp);
    /* the op being built is forgotten once recorded: a later allocation of
     * the user's own is named as such */
    ck_assert_ptr_nonnull(tg_exp(fx.tp, fx.a23));
    ck_assert_ptr_null(tg_tape_alloc(fx.tp, TG_F64, 2, TT_SHAPE(big, big)));
    tt_assert_tape_error(fx.tp, TG_ERR_SHAPE, "tg_tape_alloc", "(1099511627776,1099511627776)");
    tg_tensor_free(p);
    tg_tensor_free(q);
}
END_TEST

/* Shape strings of up to TG_MAX_DIMS extents of any size print in full; a
 * buffer too small for one ends in ",...)" and never in a cut number. */
START_TEST(test_long_shape_strings)
{
    int64_t ext[TG_MAX_DIMS];
    for (int i = 0; i < TG_MAX_DIMS; i++) ext[i] = i % 2 ? INT64_MIN : INT64_MAX - i;
    struct tg_tensor h;
    memset(&h, 0, sizeof h);
    h.magic = 0;
    h.dtype = TG_F64;
    h.ndim = TG_MAX_DIMS;
    h.shape = ext;
    char want[400] = "f64[";
    for (int i = 0; i < TG_MAX_DIMS; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "," : "",
                 (long long)ext[i]);
    strcat(want, "]");
    char d[TG_SHAPE_BUF + 8];
    ck_assert_str_eq(tg_tensor_describe(&h, d, sizeof d), want);
    /* cut short: whole extents, then ",...)" */
    char s[40];
    tg__shape_str(&h, s, sizeof s);
    ck_assert_str_eq(s, "(9223372036854775807,...)");
    char e[8];
    ck_assert_str_eq(tg__shape_str(&h, e, sizeof e), "(...)");
    h.ndim = 1;
    ck_assert_str_eq(tg__shape_str(&h, s, sizeof s), "(9223372036854775807)");
    h.ndim = 0;
    ck_assert_str_eq(tg__shape_str(&h, s, sizeof s), "()");
}
END_TEST

START_TEST(test_strerror)
{
    for (int s = 0; s < TG_STATUS_COUNT; s++) {
        ck_assert_ptr_nonnull(tg_strerror((tg_status)s));
        ck_assert_int_gt(strlen(tg_strerror((tg_status)s)), 1);
    }
    ck_assert_str_eq(tg_strerror((tg_status)999), "unknown status");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_null_inputs);
    tcase_add_test(tc, test_shape_mismatch);
    tcase_add_test(tc, test_dtype_mismatch);
    tcase_add_test(tc, test_axes);
    tcase_add_test(tc, test_empty_tensors);
    tcase_add_test(tc, test_wrong_tape);
    tcase_add_test(tc, test_failed_backward_leaves_grads);
    tcase_add_test(tc, test_record_misuse);
    tcase_add_test(tc, test_strerror);
    tcase_add_loop_test(tc, test_null_tape_every_op, 0, N_NULL_TAPE_OPS);
    tcase_add_test(tc, test_counts_and_sizes_named);
    tcase_add_test(tc, test_long_shape_strings);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
