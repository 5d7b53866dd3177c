/* Empty tensors whose other extents are huge: (2^40, 1, 0) has no element,
 * and an op that loops over its leading extent, image by image or row by
 * row, walks 2^40 empty items (the graph fuzzer found matmul and
 * batch_norm doing so: hangs).  Every case here runs an op on such inputs
 * forward, then backward three ways (tg_backward's direct rules, tg_grad
 * with create_graph's op-built rules, tg_jvp's tangent rules) and checks
 * the shapes and that each input's gradient is there and zero where the
 * output is empty.  A loop left unguarded makes its case time out. */
#include "common.h"

#include <math.h>

#define H ((int64_t)1 << 40) /* a walk of H items does not end in a test's time */
#define W ((int64_t)1 << 28) /* one each side of the empty axis: W^2 as long */

/* One case: up to three f64 inputs (the first requires grad), the op. */
typedef struct ecase {
    const char *name;
    int n;
    int nd[3];
    int64_t sh[3][4];
    tg_tensor *(*fn)(tg_tape *tp, tg_tensor *const *x);
} ecase;

static tg_tensor *index_of(int nd, const int64_t *sh)
{
    tg_tensor *ix = tg_tensor_new(TG_I64, nd, sh);
    ck_assert(ix != NULL);
    for (int64_t i = 0; i < tg_tensor_numel(ix); i++) tg_tensor_i64(ix)[i] = 0;
    return ix;
}

/* the ops: x[0], x[1], x[2] are the case's inputs */
static tg_tensor *f_add(tg_tape *tp, tg_tensor *const *x)
{
    return tg_add(tp, x[0], x[1]);
}
static tg_tensor *f_where(tg_tape *tp, tg_tensor *const *x)
{
    return tg_where(tp, x[1], x[0], x[2]);
}
static tg_tensor *f_clamp_tensor(tg_tape *tp, tg_tensor *const *x)
{
    return tg_clamp_tensor(tp, x[0], x[1], x[2]);
}
static tg_tensor *f_exp(tg_tape *tp, tg_tensor *const *x)
{
    return tg_exp(tp, x[0]);
}
static tg_tensor *f_sum0(tg_tape *tp, tg_tensor *const *x)
{
    return tg_sum(tp, x[0], 1, (const int[]){0}, false);
}
static tg_tensor *f_sum_all(tg_tape *tp, tg_tensor *const *x)
{
    return tg_sum_all(tp, x[0]);
}
static tg_tensor *f_sum_to(tg_tape *tp, tg_tensor *const *x)
{
    return tg_sum_to(tp, x[0], 2, TT_SHAPE(1, 0));
}
static tg_tensor *f_max0(tg_tape *tp, tg_tensor *const *x)
{
    return tg_max(tp, x[0], 0, false);
}
static tg_tensor *f_max1(tg_tape *tp, tg_tensor *const *x)
{
    return tg_max(tp, x[0], 1, true);
}
static tg_tensor *f_prod0(tg_tape *tp, tg_tensor *const *x)
{
    return tg_prod(tp, x[0], 1, (const int[]){0}, false);
}
static tg_tensor *f_logsumexp0(tg_tape *tp, tg_tensor *const *x)
{
    return tg_logsumexp(tp, x[0], 1, (const int[]){0}, false);
}
static tg_tensor *f_norm0(tg_tape *tp, tg_tensor *const *x)
{
    return tg_norm(tp, x[0], 2, 1, (const int[]){0}, false);
}
static tg_tensor *f_var0(tg_tape *tp, tg_tensor *const *x)
{
    return tg_var(tp, x[0], 1, (const int[]){0}, 1, false);
}
static tg_tensor *f_cumsum0(tg_tape *tp, tg_tensor *const *x)
{
    return tg_cumsum(tp, x[0], 0);
}
static tg_tensor *f_cumsum2(tg_tape *tp, tg_tensor *const *x)
{
    return tg_cumsum(tp, x[0], 2);
}
static tg_tensor *f_cumprod1(tg_tape *tp, tg_tensor *const *x)
{
    return tg_cumprod(tp, x[0], 1);
}
static tg_tensor *f_argmax(tg_tape *tp, tg_tensor *const *x)
{
    tg_tensor *i = tg_argmax(tp, x[0], 1, false);
    return i ? tg_neg(tp, x[0]) : NULL;
}
static tg_tensor *f_reshape(tg_tape *tp, tg_tensor *const *x)
{
    return tg_reshape(tp, x[0], 2, TT_SHAPE(0, H));
}
static tg_tensor *f_permute(tg_tape *tp, tg_tensor *const *x)
{
    return tg_permute_dims(tp, x[0], 3, (const int[]){2, 1, 0});
}
static tg_tensor *f_transpose(tg_tape *tp, tg_tensor *const *x)
{
    return tg_transpose(tp, x[0], 0, 2);
}
static tg_tensor *f_slice0(tg_tape *tp, tg_tensor *const *x)
{
    return tg_slice(tp, x[0], 0, 1, H, 2);
}
static tg_tensor *f_slice2(tg_tape *tp, tg_tensor *const *x)
{
    return tg_slice(tp, x[0], 2, 0, 0, 1);
}
static tg_tensor *f_embed(tg_tape *tp, tg_tensor *const *x)
{
    return tg_embed(tp, x[0], 3, TT_SHAPE(H, 3, 0), 1, 1, 1);
}
static tg_tensor *f_concat0(tg_tape *tp, tg_tensor *const *x)
{
    return tg_concat(tp, 2, (tg_tensor *const[]){x[0], x[1]}, 0);
}
static tg_tensor *f_concat1(tg_tape *tp, tg_tensor *const *x)
{
    return tg_concat(tp, 2, (tg_tensor *const[]){x[0], x[1]}, 1);
}
static tg_tensor *f_broadcast(tg_tape *tp, tg_tensor *const *x)
{
    return tg_broadcast_to(tp, x[0], 3, TT_SHAPE(H, 3, 0));
}
static tg_tensor *f_flatten(tg_tape *tp, tg_tensor *const *x)
{
    return tg_flatten(tp, x[0]);
}
static tg_tensor *f_gather(tg_tape *tp, tg_tensor *const *x)
{
    tg_tensor *ix = index_of(3, TT_SHAPE(H, 1, 0));
    tg_tensor *y = tg_gather(tp, x[0], 1, ix);
    tg_tensor_free(ix);
    return y;
}
static tg_tensor *f_scatter_add(tg_tape *tp, tg_tensor *const *x)
{
    tg_tensor *ix = index_of(3, TT_SHAPE(H, 1, 0));
    tg_tensor *y = tg_scatter_add(tp, x[0], 1, ix, x[1]);
    tg_tensor_free(ix);
    return y;
}
static tg_tensor *f_index_select0(tg_tape *tp, tg_tensor *const *x)
{
    tg_tensor *ix = index_of(1, TT_SHAPE(2));
    tg_tensor *y = tg_index_select(tp, x[0], 0, ix);
    tg_tensor_free(ix);
    return y;
}
static tg_tensor *f_index_select1(tg_tape *tp, tg_tensor *const *x)
{
    tg_tensor *ix = index_of(1, TT_SHAPE(2));
    tg_tensor *y = tg_index_select(tp, x[0], 1, ix);
    tg_tensor_free(ix);
    return y;
}
static tg_tensor *f_embedding(tg_tape *tp, tg_tensor *const *x)
{
    tg_tensor *ix = index_of(2, TT_SHAPE(H, 0));
    tg_tensor *y = tg_embedding(tp, x[0], ix, -1);
    tg_tensor_free(ix);
    return y;
}
static tg_tensor *f_solve(tg_tape *tp, tg_tensor *const *x)
{
    return tg_solve(tp, x[0], x[1]);
}
static tg_tensor *f_solve_tri(tg_tape *tp, tg_tensor *const *x)
{
    return tg_solve_triangular(tp, x[0], x[1], false);
}
static tg_tensor *f_inv(tg_tape *tp, tg_tensor *const *x)
{
    return tg_inv(tp, x[0]);
}
static tg_tensor *f_cholesky(tg_tape *tp, tg_tensor *const *x)
{
    return tg_cholesky(tp, x[0]);
}
static tg_tensor *f_det(tg_tape *tp, tg_tensor *const *x)
{
    return tg_det(tp, x[0]);
}
static tg_tensor *f_slogdet(tg_tape *tp, tg_tensor *const *x)
{
    tg_tensor *sign = NULL;
    return tg_slogdet(tp, x[0], &sign);
}
static tg_tensor *f_softmax0(tg_tape *tp, tg_tensor *const *x)
{
    return tg_softmax(tp, x[0], 0);
}
static tg_tensor *f_softmax1(tg_tape *tp, tg_tensor *const *x)
{
    return tg_softmax(tp, x[0], 1);
}
static tg_tensor *f_log_softmax2(tg_tape *tp, tg_tensor *const *x)
{
    return tg_log_softmax(tp, x[0], 2);
}
static tg_tensor *f_layer_norm(tg_tape *tp, tg_tensor *const *x)
{
    return tg_layer_norm(tp, x[0], 1, NULL, NULL, 1e-5);
}
static tg_tensor *f_group_norm(tg_tape *tp, tg_tensor *const *x)
{
    return tg_group_norm(tp, x[0], 1, NULL, NULL, 1e-5);
}
static tg_tensor *f_sse(tg_tape *tp, tg_tensor *const *x)
{
    return tg_sse(tp, x[0], x[1]);
}
static tg_tensor *f_bce_logits(tg_tape *tp, tg_tensor *const *x)
{
    return tg_bce_logits(tp, x[0], x[1], TG_REDUCE_SUM);
}
static tg_tensor *f_xent(tg_tape *tp, tg_tensor *const *x)
{
    return tg_softmax_cross_entropy(tp, x[0], x[1], TG_REDUCE_SUM);
}
static tg_tensor *f_xent_index(tg_tape *tp, tg_tensor *const *x)
{
    tg_tensor *ix = index_of(1, TT_SHAPE(0));
    tg_tensor *y = tg_softmax_cross_entropy_index(tp, x[0], ix, TG_REDUCE_SUM);
    tg_tensor_free(ix);
    return y;
}
static tg_tensor *f_conv2d(tg_tape *tp, tg_tensor *const *x)
{
    return tg_conv2d(tp, x[0], x[1], NULL, 1, 1, 1, 1);
}
static tg_tensor *f_conv1d(tg_tape *tp, tg_tensor *const *x)
{
    return tg_conv1d(tp, x[0], x[1], NULL, 1, 0, 1, 1);
}
static tg_tensor *f_conv_t(tg_tape *tp, tg_tensor *const *x)
{
    return tg_conv_transpose2d(tp, x[0], x[1], NULL, NULL, 0, 0);
}
static tg_tensor *f_im2col(tg_tape *tp, tg_tensor *const *x)
{
    return tg_im2col(tp, x[0], 2, 2, 1, 1, 0, 0);
}
static tg_tensor *f_col2im(tg_tape *tp, tg_tensor *const *x)
{
    return tg_col2im_to(tp, x[0], 4, TT_SHAPE(H, 0, 3, 3), 2, 2, 1, 1, 0, 0);
}
static tg_tensor *f_max_pool(tg_tape *tp, tg_tensor *const *x)
{
    return tg_max_pool2d(tp, x[0], 2, 2, 2, 2, 0, 0);
}
static tg_tensor *f_avg_pool(tg_tape *tp, tg_tensor *const *x)
{
    return tg_avg_pool2d(tp, x[0], 2, 2, 1, 1, 1, 1);
}
static tg_tensor *f_adaptive(tg_tape *tp, tg_tensor *const *x)
{
    return tg_adaptive_avg_pool2d(tp, x[0], 3, 2);
}
static tg_tensor *f_global(tg_tape *tp, tg_tensor *const *x)
{
    return tg_global_avg_pool2d(tp, x[0]);
}
static tg_tensor *f_linear(tg_tape *tp, tg_tensor *const *x)
{
    return tg_linear(tp, x[0], x[1], NULL);
}
static tg_tensor *f_dropout(tg_tape *tp, tg_tensor *const *x)
{
    return tg_dropout(tp, x[0], 0.5, true);
}

#define S3(a, b, c)                                                                                \
    {                                                                                              \
        a, b, c, 0                                                                                 \
    }
#define S4(a, b, c, d)                                                                             \
    {                                                                                              \
        a, b, c, d                                                                                 \
    }
#define S2(a, b)                                                                                   \
    {                                                                                              \
        a, b, 0, 0                                                                                 \
    }

static const ecase k_cases[] = {
    {"add (broadcast)", 2, {3, 3}, {S3(H, 1, 0), S3(1, 5, 0)}, f_add},
    /* an input with elements, so the broadcasting walk itself meets an empty
     * last axis (found by fuzz_graph: the walk's rows per piece divided by it) */
    {"add (broadcast, empty last axis)", 2, {2, 2}, {S2(3, 1), S2(1, 0)}, f_add},
    {"where", 3, {3, 3, 3}, {S3(H, 1, 0), S3(1, 4, 1), S3(1, 1, 1)}, f_where},
    {"clamp_tensor", 3, {3, 3, 3}, {S3(H, 1, 0), S3(1, 4, 1), S3(1, 1, 1)}, f_clamp_tensor},
    {"exp", 1, {3}, {S3(H, 1, 0)}, f_exp},
    {"sum axis 0", 1, {2}, {S2(H, 0)}, f_sum0},
    {"sum_all", 1, {3}, {S3(H, 1, 0)}, f_sum_all},
    {"sum_to", 1, {2}, {S2(H, 0)}, f_sum_to},
    {"max axis 0", 1, {2}, {S2(H, 0)}, f_max0},
    {"max axis 1", 1, {3}, {S3(H, 2, 0)}, f_max1},
    {"prod axis 0", 1, {2}, {S2(H, 0)}, f_prod0},
    {"logsumexp axis 0", 1, {2}, {S2(H, 0)}, f_logsumexp0},
    {"norm axis 0", 1, {2}, {S2(H, 0)}, f_norm0},
    {"var axis 0", 1, {2}, {S2(H, 0)}, f_var0},
    {"cumsum axis 0", 1, {3}, {S3(H, 1, 0)}, f_cumsum0},
    {"cumsum axis 2", 1, {3}, {S3(H, 1, 0)}, f_cumsum2},
    {"cumprod axis 1", 1, {3}, {S3(H, 3, 0)}, f_cumprod1},
    {"argmax", 1, {3}, {S3(H, 3, 0)}, f_argmax},
    {"reshape", 1, {2}, {S2(H, 0)}, f_reshape},
    {"permute", 1, {3}, {S3(H, 1, 0)}, f_permute},
    {"transpose", 1, {3}, {S3(H, 2, 0)}, f_transpose},
    {"slice axis 0", 1, {3}, {S3(H, 2, 0)}, f_slice0},
    {"slice axis 2", 1, {3}, {S3(H, 0, 3)}, f_slice2},
    {"embed", 1, {3}, {S3(H, 1, 0)}, f_embed},
    {"concat axis 0", 2, {3, 3}, {S3(H, 1, 0), S3(H, 1, 0)}, f_concat0},
    {"concat axis 1", 2, {3, 3}, {S3(H, 1, 0), S3(H, 2, 0)}, f_concat1},
    {"broadcast_to", 1, {3}, {S3(1, 3, 0)}, f_broadcast},
    {"flatten", 1, {3}, {S3(H, 0, 5)}, f_flatten},
    {"gather", 1, {3}, {S3(H, 2, 0)}, f_gather},
    {"scatter_add", 2, {3, 3}, {S3(H, 2, 0), S3(H, 1, 0)}, f_scatter_add},
    {"index_select axis 0", 1, {3}, {S3(H, 1, 0)}, f_index_select0},
    {"index_select axis 1", 1, {3}, {S3(H, 1, 0)}, f_index_select1},
    {"embedding", 1, {2}, {S2(3, 2)}, f_embedding},
    {"solve", 2, {3, 3}, {S3(H, 0, 0), S3(H, 0, 2)}, f_solve},
    {"solve_triangular", 2, {3, 3}, {S3(H, 0, 0), S3(H, 0, 2)}, f_solve_tri},
    {"inv", 1, {3}, {S3(H, 0, 0)}, f_inv},
    {"cholesky", 1, {3}, {S3(H, 0, 0)}, f_cholesky},
    {"det", 1, {4}, {S4(H, 0, 2, 2)}, f_det},
    {"slogdet", 1, {4}, {S4(H, 0, 2, 2)}, f_slogdet},
    {"softmax axis 0", 1, {3}, {S3(H, 1, 0)}, f_softmax0},
    {"softmax axis 1", 1, {3}, {S3(H, 1, 0)}, f_softmax1},
    {"log_softmax axis 2", 1, {3}, {S3(H, 0, 3)}, f_log_softmax2},
    {"layer_norm", 1, {3}, {S3(H, 0, 3)}, f_layer_norm},
    {"group_norm", 1, {3}, {S3(0, 2, H)}, f_group_norm},
    {"sse", 2, {3, 3}, {S3(H, 1, 0), S3(H, 1, 0)}, f_sse},
    {"bce_logits", 2, {3, 3}, {S3(H, 1, 0), S3(H, 1, 0)}, f_bce_logits},
    {"softmax_cross_entropy", 2, {2, 2}, {S2(0, H), S2(0, H)}, f_xent},
    {"softmax_cross_entropy_index", 1, {2}, {S2(0, H)}, f_xent_index},
    {"conv2d", 2, {4, 4}, {S4(H, 0, 2, 2), S4(0, 0, 1, 1)}, f_conv2d},
    {"conv1d", 2, {3, 3}, {S3(H, 0, 3), S3(0, 0, 2)}, f_conv1d},
    {"conv_transpose2d", 2, {4, 4}, {S4(H, 0, 2, 2), S4(0, 0, 1, 1)}, f_conv_t},
    {"im2col", 1, {4}, {S4(H, 0, 3, 3)}, f_im2col},
    {"col2im", 1, {2}, {S2(0, H * 4)}, f_col2im},
    {"max_pool2d", 1, {4}, {S4(H, 0, 4, 4)}, f_max_pool},
    {"avg_pool2d", 1, {4}, {S4(H, 0, 4, 4)}, f_avg_pool},
    {"adaptive_avg_pool2d", 1, {4}, {S4(H, 0, 4, 4)}, f_adaptive},
    {"global_avg_pool2d", 1, {4}, {S4(H, 0, 4, 4)}, f_global},
    {"linear", 2, {3, 2}, {S3(H, 0, 4), S2(4, 0)}, f_linear},
    {"dropout", 1, {3}, {S3(H, 1, 0)}, f_dropout},
    /* huge extents on both sides of the empty axis */
    {"add (broadcast) H0H", 2, {3, 3}, {S3(W, 0, W), S3(1, 0, 1)}, f_add},
    {"sum axis 0 H0H", 1, {3}, {S3(W, 0, W)}, f_sum0},
    {"prod axis 0 H0H", 1, {3}, {S3(W, 0, W)}, f_prod0},
    {"logsumexp axis 0 H0H", 1, {3}, {S3(W, 0, W)}, f_logsumexp0},
    {"var axis 0 H0H", 1, {3}, {S3(W, 0, W)}, f_var0},
    {"cumsum axis 0 H0H", 1, {3}, {S3(W, 0, W)}, f_cumsum0},
    {"cumsum axis 2 H0H", 1, {3}, {S3(W, 0, W)}, f_cumsum2},
    {"cumprod axis 1 H0H", 1, {3}, {S3(W, 0, W)}, f_cumprod1},
    {"permute H0H", 1, {3}, {S3(W, 0, W)}, f_permute},
    {"slice axis 0 H0H", 1, {3}, {S3(W, 0, W)}, f_slice0},
    {"concat axis 0 H0H", 2, {3, 3}, {S3(W, 0, W), S3(W, 0, W)}, f_concat0},
    {"concat axis 1 H0H", 2, {3, 3}, {S3(W, 0, W), S3(W, 0, W)}, f_concat1},
    {"index_select axis 0 H0H", 1, {3}, {S3(W, 0, W)}, f_index_select0},
    {"softmax axis 0 H0H", 1, {3}, {S3(W, 0, W)}, f_softmax0},
    {"log_softmax axis 2 H0H", 1, {3}, {S3(W, 0, W)}, f_log_softmax2},
    /* its direct rule walked every normalised extent (C = 2^40) */
    {"layer_norm 20H", 1, {3}, {S3(2, 0, H)}, f_layer_norm},
    {"transpose H0H", 1, {3}, {S3(W, 0, W)}, f_transpose},
    {"max_pool2d H0HH", 1, {4}, {S4(W, 0, 1 << 10, 1 << 10)}, f_max_pool},
    {"avg_pool2d H0HH", 1, {4}, {S4(W, 0, 1 << 10, 1 << 10)}, f_avg_pool},
    {"adaptive_avg_pool2d H0HH", 1, {4}, {S4(W, 0, 1 << 10, 1 << 10)}, f_adaptive},
    {"im2col H0HH", 1, {4}, {S4(W, 0, 1 << 10, 1 << 10)}, f_im2col},
};
#define N_CASES ((int)(sizeof k_cases / sizeof k_cases[0]))

/* Every input's gradient of the case's loss: present, of its shape, and
 * zero if the output is empty. */
static void check_grads(const ecase *c, tg_tensor *const *x, tg_tensor *const *g, bool empty_out)
{
    for (int k = 0; k < c->n; k++) {
        ck_assert_msg(g[k] != NULL, "%s: no gradient for input %d", c->name, k);
        ck_assert_msg(tg_tensor_numel(g[k]) == tg_tensor_numel(x[k]), "%s: input %d", c->name, k);
        for (int64_t i = 0; empty_out && i < tg_tensor_numel(g[k]); i++)
            ck_assert_msg(tg_tensor_get_flat(g[k], i) == 0, "%s: input %d", c->name, k);
    }
}

START_TEST(test_case)
{
    const ecase *c = &k_cases[_i];
    tg_tensor *x[3] = {NULL}, *t[3] = {NULL};
    for (int k = 0; k < c->n; k++) {
        x[k] = tg_tensor_new(TG_F64, c->nd[k], c->sh[k]);
        ck_assert_msg(x[k] != NULL, "%s: %s", c->name, tg_last_error());
        for (int64_t i = 0; i < tg_tensor_numel(x[k]); i++) tg_tensor_set_flat(x[k], i, 0.5);
        tg_tensor_set_requires_grad(x[k], true);
        t[k] = tg_tensor_zeros(TG_F64, c->nd[k], c->sh[k]);
    }
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = c->fn(tp, x);
    ck_assert_msg(y != NULL, "%s: %s", c->name, tg_tape_error(tp));
    const bool empty_out = tg_tensor_numel(y) == 0;
    tg_tensor *loss = tg_sum_all(tp, tg_square(tp, y));
    /* direct rules */
    ck_assert_msg(tg_backward(tp, loss) == TG_OK, "%s: %s", c->name, tg_tape_error(tp));
    tg_tensor *g[3] = {NULL};
    for (int k = 0; k < c->n; k++) g[k] = tg_tensor_grad(x[k]);
    check_grads(c, x, g, empty_out);
    /* op-built rules, recorded (create_graph) */
    ck_assert_int_eq(tg_vjp(tp, loss, NULL, c->n, x, g, true), TG_OK);
    check_grads(c, x, g, empty_out);
    /* tangent rules */
    tg_tensor *dy = NULL;
    ck_assert_msg(tg_jvp(tp, c->n, x, t, 1, &y, &dy, false) == TG_OK, "%s: %s", c->name,
                  tg_tape_error(tp));
    ck_assert_int_eq(tg_tensor_numel(dy), tg_tensor_numel(y));
    tg_tape_free(tp);
    for (int k = 0; k < c->n; k++) {
        tg_tensor_free(x[k]);
        tg_tensor_free(t[k]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("empty_extents");
    TCase *tc = tcase_create("ops");
    tcase_add_loop_test(tc, test_case, 0, N_CASES);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
