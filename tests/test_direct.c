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
 * (run with create_graph) and with central differences, so each case below
 * checks both rules and both branches. */
#include "common.h"

#include <math.h>

typedef tg_tensor *(*op_fn)(tg_tape *tp, tg_tensor *x);

/* ---- ops of x (2,2,4,4), values in [0.2, 2] ------------------------------- */
static tg_tensor *k_const; /* a fixed (2,2,4,4) tensor in [0.5, 1.5] */
static tg_tensor *k_w16;   /* a fixed (16,3) matrix */
static tg_tensor *k_wconv; /* fixed conv weights (3,2,3,3) and bias (3) */
static tg_tensor *k_bconv;

static tg_tensor *o_neg(tg_tape *tp, tg_tensor *x)
{
    return tg_neg(tp, x);
}
static tg_tensor *o_exp(tg_tape *tp, tg_tensor *x)
{
    return tg_exp(tp, x);
}
static tg_tensor *o_log(tg_tape *tp, tg_tensor *x)
{
    return tg_log(tp, x);
}
static tg_tensor *o_sqrt(tg_tape *tp, tg_tensor *x)
{
    return tg_sqrt(tp, x);
}
static tg_tensor *o_square(tg_tape *tp, tg_tensor *x)
{
    return tg_square(tp, x);
}
static tg_tensor *o_abs(tg_tape *tp, tg_tensor *x)
{
    return tg_abs(tp, tg_add_scalar(tp, x, -1.1));
}
static tg_tensor *o_sigmoid(tg_tape *tp, tg_tensor *x)
{
    return tg_sigmoid(tp, x);
}
static tg_tensor *o_tanh(tg_tape *tp, tg_tensor *x)
{
    return tg_tanh(tp, x);
}
static tg_tensor *o_relu(tg_tape *tp, tg_tensor *x)
{
    return tg_relu(tp, tg_add_scalar(tp, x, -1.1));
}
static tg_tensor *o_softplus(tg_tape *tp, tg_tensor *x)
{
    return tg_softplus(tp, x);
}
static tg_tensor *o_cast(tg_tape *tp, tg_tensor *x)
{
    return tg_cast(tp, x, TG_F64);
}
static tg_tensor *o_add_scalar(tg_tape *tp, tg_tensor *x)
{
    return tg_add_scalar(tp, x, 2.5);
}
static tg_tensor *o_mul_scalar(tg_tape *tp, tg_tensor *x)
{
    return tg_mul_scalar(tp, x, -1.5);
}
static tg_tensor *o_rsub_scalar(tg_tape *tp, tg_tensor *x)
{
    return tg_rsub_scalar(tp, 1, x);
}
static tg_tensor *o_rdiv_scalar(tg_tape *tp, tg_tensor *x)
{
    return tg_rdiv_scalar(tp, 2, x);
}
static tg_tensor *o_pow_scalar(tg_tape *tp, tg_tensor *x)
{
    return tg_pow_scalar(tp, x, 1.7);
}
static tg_tensor *o_add(tg_tape *tp, tg_tensor *x)
{
    return tg_add(tp, x, k_const);
}
static tg_tensor *o_sub(tg_tape *tp, tg_tensor *x)
{
    return tg_sub(tp, k_const, x);
}
static tg_tensor *o_mul(tg_tape *tp, tg_tensor *x)
{
    return tg_mul(tp, x, k_const);
}
static tg_tensor *o_div(tg_tape *tp, tg_tensor *x)
{
    return tg_div(tp, k_const, x);
}
static tg_tensor *o_pow(tg_tape *tp, tg_tensor *x)
{
    return tg_pow(tp, x, k_const);
}
static tg_tensor *o_maximum(tg_tape *tp, tg_tensor *x)
{
    return tg_maximum(tp, x, k_const);
}
static tg_tensor *o_minimum(tg_tape *tp, tg_tensor *x)
{
    return tg_minimum(tp, k_const, x);
}
/* broadcasting: x (2,2,4,4) against a (4) row and a (2,1,4,1) block */
static tg_tensor *o_mul_bcast(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *r = tg_slice(tp, tg_reshape(tp, x, 1, TT_SHAPE(64)), 0, 3, 7, 1);
    return tg_mul(tp, x, r);
}
static tg_tensor *o_softmax(tg_tape *tp, tg_tensor *x)
{
    return tg_softmax(tp, x, -1);
}
static tg_tensor *o_softmax1(tg_tape *tp, tg_tensor *x)
{
    return tg_softmax(tp, x, 1);
}
static tg_tensor *o_log_softmax(tg_tape *tp, tg_tensor *x)
{
    return tg_log_softmax(tp, x, 0);
}
static tg_tensor *o_sum_all(tg_tape *tp, tg_tensor *x)
{
    return tg_sum_all(tp, x);
}
static tg_tensor *o_mean_all(tg_tape *tp, tg_tensor *x)
{
    return tg_mean_all(tp, x);
}
static tg_tensor *o_sum(tg_tape *tp, tg_tensor *x)
{
    return tg_sum(tp, x, 2, (const int[]){1, 3}, false);
}
static tg_tensor *o_mean(tg_tape *tp, tg_tensor *x)
{
    return tg_mean(tp, x, 1, (const int[]){0}, true);
}
static tg_tensor *o_max(tg_tape *tp, tg_tensor *x)
{
    return tg_max(tp, x, 2, false);
}
static tg_tensor *o_sum_to(tg_tape *tp, tg_tensor *x)
{
    return tg_sum_to(tp, x, 3, TT_SHAPE(2, 1, 4));
}
static tg_tensor *o_reshape(tg_tape *tp, tg_tensor *x)
{
    return tg_reshape(tp, x, 2, TT_SHAPE(8, 8));
}
static tg_tensor *o_permute(tg_tape *tp, tg_tensor *x)
{
    return tg_permute_dims(tp, x, 4, (const int[]){2, 0, 3, 1});
}
static tg_tensor *o_transpose(tg_tape *tp, tg_tensor *x)
{
    return tg_transpose(tp, x, 1, 3);
}
static tg_tensor *o_slice(tg_tape *tp, tg_tensor *x)
{
    return tg_slice(tp, x, 2, 1, 4, 2);
}
static tg_tensor *o_embed(tg_tape *tp, tg_tensor *x)
{
    return tg_embed(tp, x, 4, TT_SHAPE(2, 2, 9, 4), 2, 1, 2);
}
static tg_tensor *o_concat(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *xs[2] = {tg_square(tp, x), x};
    return tg_concat(tp, 2, xs, 1);
}
static tg_tensor *o_broadcast_to(tg_tape *tp, tg_tensor *x)
{
    return tg_broadcast_to(tp, x, 5, TT_SHAPE(3, 2, 2, 4, 4));
}
static tg_tensor *o_flatten(tg_tape *tp, tg_tensor *x)
{
    return tg_flatten(tp, x);
}
static tg_tensor *o_matmul(tg_tape *tp, tg_tensor *x)
{
    return tg_matmul(tp, tg_reshape(tp, x, 2, TT_SHAPE(4, 16)), k_w16);
}
static tg_tensor *o_matmul_batched(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *b = tg_reshape(tp, x, 3, TT_SHAPE(4, 4, 4));
    return tg_matmul(tp, b, tg_transpose(tp, b, 1, 2));
}
static tg_tensor *o_matmul_t(tg_tape *tp, tg_tensor *x)
{
    return tg_matmul_t(tp, k_w16, tg_reshape(tp, x, 2, TT_SHAPE(4, 16)), true, true);
}
static tg_tensor *o_conv2d(tg_tape *tp, tg_tensor *x)
{
    return tg_conv2d(tp, x, k_wconv, k_bconv, 1, 1, 1, 1);
}
static tg_tensor *o_conv2d_s2(tg_tape *tp, tg_tensor *x)
{
    return tg_conv2d(tp, x, k_wconv, NULL, 2, 2, 1, 0);
}
static tg_tensor *o_im2col(tg_tape *tp, tg_tensor *x)
{
    return tg_im2col(tp, x, 3, 2, 1, 2, 1, 0);
}
static tg_tensor *o_col2im(tg_tape *tp, tg_tensor *x)
{
    /* the (2*2*2, 2*2*8) columns of a (2,2,3,4) image with 2x2 windows */
    tg_tensor *cols = tg_reshape(tp, x, 2, TT_SHAPE(8, 8));
    return tg_col2im_to(tp, cols, 4, TT_SHAPE(1, 2, 3, 5), 2, 2, 1, 1, 0, 0);
}
static tg_tensor *o_max_pool(tg_tape *tp, tg_tensor *x)
{
    return tg_max_pool2d(tp, x, 2, 2, 2, 2, 0, 0);
}
static tg_tensor *o_avg_pool(tg_tape *tp, tg_tensor *x)
{
    return tg_avg_pool2d(tp, x, 3, 3, 1, 1, 1, 1);
}

static const struct {
    const char *name;
    op_fn f;
} k_ops[] = {
    {"neg", o_neg},
    {"exp", o_exp},
    {"log", o_log},
    {"sqrt", o_sqrt},
    {"square", o_square},
    {"abs", o_abs},
    {"sigmoid", o_sigmoid},
    {"tanh", o_tanh},
    {"relu", o_relu},
    {"softplus", o_softplus},
    {"cast f64->f64", o_cast},
    {"add_scalar", o_add_scalar},
    {"mul_scalar", o_mul_scalar},
    {"rsub_scalar", o_rsub_scalar},
    {"rdiv_scalar", o_rdiv_scalar},
    {"pow_scalar", o_pow_scalar},
    {"add", o_add},
    {"sub", o_sub},
    {"mul", o_mul},
    {"div", o_div},
    {"pow", o_pow},
    {"maximum", o_maximum},
    {"minimum", o_minimum},
    {"mul broadcast", o_mul_bcast},
    {"softmax", o_softmax},
    {"softmax axis 1", o_softmax1},
    {"log_softmax axis 0", o_log_softmax},
    {"sum_all", o_sum_all},
    {"mean_all", o_mean_all},
    {"sum", o_sum},
    {"mean", o_mean},
    {"max", o_max},
    {"sum_to", o_sum_to},
    {"reshape", o_reshape},
    {"permute", o_permute},
    {"transpose", o_transpose},
    {"slice", o_slice},
    {"embed", o_embed},
    {"concat", o_concat},
    {"broadcast_to", o_broadcast_to},
    {"flatten", o_flatten},
    {"matmul", o_matmul},
    {"matmul batched x x^T", o_matmul_batched},
    {"matmul_t", o_matmul_t},
    {"conv2d", o_conv2d},
    {"conv2d stride 2", o_conv2d_s2},
    {"im2col", o_im2col},
    {"col2im", o_col2im},
    {"max_pool2d", o_max_pool},
    {"avg_pool2d", o_avg_pool},
};

static void make_constants(void)
{
    k_const = tt_rand(TG_F64, 4, TT_SHAPE(2, 2, 4, 4), 901, 0.5, 1.5);
    k_w16 = tt_rand(TG_F64, 2, TT_SHAPE(16, 3), 902, -1, 1);
    k_wconv = tt_rand(TG_F64, 4, TT_SHAPE(3, 2, 3, 3), 903, -1, 1);
    k_bconv = tt_rand(TG_F64, 1, TT_SHAPE(3), 904, -1, 1);
}
static void free_constants(void)
{
    tg_tensor_free(k_const);
    tg_tensor_free(k_w16);
    tg_tensor_free(k_wconv);
    tg_tensor_free(k_bconv);
}

/* sum(op(x)^2) + sum(x^2 / 2), with x*x recorded after op(x): the reverse
 * sweep reaches x*x first, so op's rule adds into x's gradient. */
static tg_tensor *fn_after(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    op_fn f = *(op_fn *)ctx;
    tg_tensor *y = f(tp, in[0]);
    tg_tensor *q = tg_mul_scalar(tp, tg_mul(tp, in[0], in[0]), 0.5);
    tg_tensor *a = tg_sum_all(tp, tg_square(tp, y));
    return tg_add(tp, a, tg_sum_all(tp, q));
}

START_TEST(test_rules_accumulate)
{
    make_constants();
    tg_tensor *x = tt_param(4, TT_SHAPE(2, 2, 4, 4), 905, 0.2, 2);
    for (int i = 0; i < (int)(sizeof k_ops / sizeof k_ops[0]); i++) {
        op_fn f = k_ops[i].f;
        char what[64];
        snprintf(what, sizeof what, "%s, adding into a gradient", k_ops[i].name);
        tt_gradcheck(what, fn_after, &f, 1, &x);
    }
    tg_tensor_free(x);
    free_constants();
}
END_TEST

/* ---- one value in two slots of one node ----------------------------------- */
static tg_tensor *a_mul(tg_tape *tp, tg_tensor *x)
{
    return tg_mul(tp, x, x);
}
static tg_tensor *a_add(tg_tape *tp, tg_tensor *x)
{
    return tg_add(tp, x, x);
}
static tg_tensor *a_sub(tg_tape *tp, tg_tensor *x)
{
    /* x - x is 0 with gradient 0: the check is of 3x - x, through sub(y, y') */
    return tg_sub(tp, tg_mul_scalar(tp, x, 3), x);
}
static tg_tensor *a_div(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *y = tg_sqrt(tp, x);
    return tg_div(tp, y, tg_mul(tp, y, y)); /* y / y^2 = 1 / sqrt x */
}
static tg_tensor *a_pow(tg_tape *tp, tg_tensor *x)
{
    return tg_pow(tp, x, x);
}
static tg_tensor *a_matmul(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *m = tg_reshape(tp, x, 2, TT_SHAPE(8, 8));
    return tg_matmul(tp, m, m);
}
static tg_tensor *a_matmul_t(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *b = tg_reshape(tp, x, 3, TT_SHAPE(4, 4, 4));
    return tg_matmul_t(tp, b, b, true, false); /* b^T b per batch item */
}
static tg_tensor *a_concat(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *xs[3] = {x, x, x};
    return tg_concat(tp, 3, xs, 2);
}

static const struct {
    const char *name;
    op_fn f;
} k_alias[] = {
    {"mul(x, x)", a_mul},
    {"add(x, x)", a_add},
    {"sub(3x, x)", a_sub},
    {"div(y, y*y)", a_div},
    {"pow(x, x)", a_pow},
    {"matmul(x, x)", a_matmul},
    {"matmul_t(b^T, b) batched", a_matmul_t},
    {"concat(x, x, x)", a_concat},
};

static tg_tensor *fn_alias(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    op_fn f = *(op_fn *)ctx;
    return tg_sum_all(tp, tg_square(tp, f(tp, in[0])));
}

START_TEST(test_rules_aliased_slots)
{
    tg_tensor *x = tt_param(4, TT_SHAPE(2, 2, 4, 4), 906, 0.2, 1.2);
    for (int i = 0; i < (int)(sizeof k_alias / sizeof k_alias[0]); i++) {
        op_fn f = k_alias[i].f;
        tt_gradcheck(k_alias[i].name, fn_alias, &f, 1, &x);
        /* and with another contribution arriving first */
        char what[64];
        snprintf(what, sizeof what, "%s, adding into a gradient", k_alias[i].name);
        tt_gradcheck(what, fn_after, &f, 1, &x);
    }
    tg_tensor_free(x);
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
