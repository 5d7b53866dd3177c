/* Indexing ops (issue 19, item 4): gather, scatter_add, index_select,
 * embedding, one_hot.  Forward values against hand values, f64 gradchecks
 * over several shapes and axes (negative ones too) with repeated indices,
 * second derivatives through the op-built rules (each op's adjoint is the
 * other op of its pair), the padding row of an embedding, zero-size
 * indices, f32 against f64, an index tensor changed after recording, and
 * every validation error (status and message naming the op, the bad
 * index, its position and the extent). */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A user-owned TG_I64 tensor of the given values. */
static tg_tensor *ix(int ndim, const int64_t *shape, const int64_t *v)
{
    tg_tensor *t = tg_tensor_from(TG_I64, ndim, shape, v);
    ck_assert_ptr_nonnull(t);
    return t;
}
#define IX(nd, shape, ...) ix(nd, shape, (const int64_t[]){__VA_ARGS__})

/* ---- one op with its parameters, as a tg_fn for gradcheck ----------------- */
typedef enum op_kind { K_GATHER, K_SCATTER, K_SELECT, K_EMBEDDING } op_kind;

typedef struct op_ctx {
    op_kind k;
    int axis;
    const tg_tensor *index;
    int64_t pad;
    const tg_tensor *mask; /* multiplies the output when set */
} op_ctx;

static tg_tensor *apply(tg_tape *tp, tg_tensor *const *in, void *vctx)
{
    const op_ctx *c = vctx;
    tg_tensor *y = NULL;
    switch (c->k) {
    case K_GATHER:
        y = tg_gather(tp, in[0], c->axis, c->index);
        break;
    case K_SCATTER:
        y = tg_scatter_add(tp, in[0], c->axis, c->index, in[1]);
        break;
    case K_SELECT:
        y = tg_index_select(tp, in[0], c->axis, c->index);
        break;
    case K_EMBEDDING:
        y = tg_embedding(tp, in[0], c->index, c->pad);
        break;
    }
    return c->mask ? tg_mul(tp, y, (tg_tensor *)c->mask) : y;
}

/* ---- forward values ----------------------------------------------------------- */
START_TEST(test_gather_values)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(3, 4)); /* x[i][j] = 4i + j */
    /* axis 1: out[i][j] = x[i][idx[i][j]], index (2,5) narrower off axis */
    tg_tensor *i1 = IX(2, TT_SHAPE(2, 5), 3, 0, 0, 2, 1, 1, 1, 3, 0, 2);
    tg_tensor *y = tg_gather(tp, x, 1, i1);
    tt_assert_shape(y, 2, TT_SHAPE(2, 5));
    tt_assert_values("gather axis 1", y, TT_VALUES(3, 0, 0, 2, 1, 5, 5, 7, 4, 6), 10, 0, 0);
    /* axis -2 (0): out[i][j] = x[idx[i][j]][j] */
    tg_tensor *i0 = IX(2, TT_SHAPE(2, 3), 2, 0, 1, 1, 1, 2);
    tg_tensor *z = tg_gather(tp, x, -2, i0);
    tt_assert_values("gather axis -2", z, TT_VALUES(8, 1, 6, 4, 5, 10), 6, 0, 0);
    /* the index is the user's: not written */
    ck_assert_int_eq(tg_tensor_i64(i0)[0], 2);
    tg_tensor_free(i0);
    tg_tensor_free(i1);
    tg_tensor_free(x);
    tg_tape_free(tp);
}
END_TEST

START_TEST(test_scatter_add_values)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tg_tensor_zeros(TG_F64, 2, TT_SHAPE(2, 4));
    tg_tensor *src = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 2, 3, 4, 5, 6));
    /* repeated positions accumulate: row 0 puts 1 and 3 at 2 */
    tg_tensor *i = IX(2, TT_SHAPE(2, 3), 2, 0, 2, 3, 3, 3);
    tg_tensor *y = tg_scatter_add(tp, x, 1, i, src);
    tt_assert_values("scatter_add", y, TT_VALUES(2, 0, 4, 0, 0, 0, 0, 15), 8, 0, 0);
    /* x is not written */
    ck_assert(tg_tensor_get_flat(x, 2) == 0);
    tg_tensor_free(i);
    tg_tensor_free(src);
    tg_tensor_free(x);
    tg_tape_free(tp);
}
END_TEST

START_TEST(test_index_select_values)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_iota(TG_F64, 3, TT_SHAPE(2, 3, 2));
    tg_tensor *i = IX(1, TT_SHAPE(4), 2, 0, 2, 1);
    tg_tensor *y = tg_index_select(tp, x, -2, i);
    tt_assert_shape(y, 3, TT_SHAPE(2, 4, 2));
    tt_assert_values("index_select axis -2", y,
                     TT_VALUES(4, 5, 0, 1, 4, 5, 2, 3, 10, 11, 6, 7, 10, 11, 8, 9), 16, 0, 0);
    tg_tensor *z = tg_index_select(tp, x, 0, IX(1, TT_SHAPE(1), 1));
    tt_assert_shape(z, 3, TT_SHAPE(1, 3, 2));
    tt_assert_values("index_select axis 0", z, TT_VALUES(6, 7, 8, 9, 10, 11), 6, 0, 0);
    tg_tensor_free(i);
    tg_tensor_free(x);
    tg_tape_free(tp);
}
END_TEST

START_TEST(test_embedding_values)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *w = tt_iota(TG_F64, 2, TT_SHAPE(4, 2));
    tg_tensor *i = IX(2, TT_SHAPE(2, 2), 3, 1, 1, 0);
    tg_tensor *y = tg_embedding(tp, w, i, 1);
    tt_assert_shape(y, 3, TT_SHAPE(2, 2, 2));
    /* the padding row's values are read as they are (PyTorch) */
    tt_assert_values("embedding", y, TT_VALUES(6, 7, 2, 3, 2, 3, 0, 1), 8, 0, 0);
    /* a 0-d index gives one row */
    tg_tensor *i0 = IX(0, NULL, 2);
    tg_tensor *r = tg_embedding(tp, w, i0, -1);
    tt_assert_shape(r, 1, TT_SHAPE(2));
    tt_assert_values("embedding 0-d", r, TT_VALUES(4, 5), 2, 0, 0);
    tg_tensor_free(i0);
    tg_tensor_free(i);
    tg_tensor_free(w);
    tg_tape_free(tp);
}
END_TEST

START_TEST(test_one_hot_values)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *i = IX(2, TT_SHAPE(2, 2), 2, 0, 0, 1);
    tg_tensor *y = tg_one_hot(tp, i, 3, TG_F32);
    tt_assert_shape(y, 3, TT_SHAPE(2, 2, 3));
    ck_assert_int_eq(tg_tensor_dtype(y), TG_F32);
    tt_assert_values("one_hot", y, TT_VALUES(0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 0), 12, 0, 0);
    ck_assert(!tg_tensor_requires_grad(y));
    /* no node: a constant */
    ck_assert_int_eq(tg_tape_usage(tp).nodes, 0);
    tg_tensor *e = IX(1, TT_SHAPE(0), 0);
    tg_tensor *z = tg_one_hot(tp, e, 0, TG_F64);
    tt_assert_shape(z, 2, TT_SHAPE(0, 0));
    tg_tensor_free(e);
    tg_tensor_free(i);
    tg_tape_free(tp);
}
END_TEST

/* ---- gradients ------------------------------------------------------------------ */
START_TEST(test_gather_gradcheck)
{
    struct {
        int nd;
        int64_t xs[4];
        int axis;
        int ind;
        int64_t is[4];
    } cases[] = {
        {2, {3, 4}, 1, 2, {2, 5}},
        {2, {3, 4}, -2, 2, {5, 4}},
        {3, {2, 3, 4}, -1, 3, {2, 2, 6}},
        {3, {2, 3, 4}, 1, 3, {1, 7, 4}},
        {1, {5}, 0, 1, {9}},
        {4, {2, 1, 3, 2}, 2, 4, {2, 1, 4, 1}},
    };
    for (int c = 0; c < LEN(cases); c++) {
        tg_tensor *x = tt_param(cases[c].nd, cases[c].xs, 10 + (uint64_t)c, -1, 1);
        tg_tensor *i = tg_tensor_new(TG_I64, cases[c].ind, cases[c].is);
        const int ax = cases[c].axis < 0 ? cases[c].axis + cases[c].nd : cases[c].axis;
        /* repeated positions: k * 7 mod extent */
        for (int64_t k = 0; k < tg_tensor_numel(i); k++)
            tg_tensor_i64(i)[k] = (k * 7 + c) % cases[c].xs[ax];
        op_ctx ctx = {.k = K_GATHER, .axis = cases[c].axis, .index = i};
        char what[32];
        snprintf(what, sizeof what, "gather case %d", c);
        tt_gradcheck(what, apply, &ctx, 1, &x);
        tg_tensor_free(i);
        tg_tensor_free(x);
    }
}
END_TEST

START_TEST(test_scatter_add_gradcheck)
{
    struct {
        int nd;
        int64_t xs[3];
        int axis;
        int64_t is[3];
    } cases[] = {
        {2, {3, 4}, 1, {2, 6}},
        {2, {3, 4}, -2, {5, 3}},
        {3, {2, 3, 2}, -1, {2, 3, 3}},
    };
    for (int c = 0; c < LEN(cases); c++) {
        tg_tensor *in[2] = {tt_param(cases[c].nd, cases[c].xs, 20 + (uint64_t)c, -1, 1),
                            tt_param(cases[c].nd, cases[c].is, 30 + (uint64_t)c, -1, 1)};
        tg_tensor *i = tg_tensor_new(TG_I64, cases[c].nd, cases[c].is);
        const int ax = cases[c].axis < 0 ? cases[c].axis + cases[c].nd : cases[c].axis;
        for (int64_t k = 0; k < tg_tensor_numel(i); k++)
            tg_tensor_i64(i)[k] = (k * 5 + 1) % cases[c].xs[ax];
        op_ctx ctx = {.k = K_SCATTER, .axis = cases[c].axis, .index = i};
        char what[32];
        snprintf(what, sizeof what, "scatter_add case %d", c);
        tt_gradcheck(what, apply, &ctx, 2, in);
        tg_tensor_free(i);
        tg_tensor_free(in[0]);
        tg_tensor_free(in[1]);
    }
}
END_TEST

START_TEST(test_index_select_gradcheck)
{
    struct {
        int nd;
        int64_t xs[4];
        int axis;
        int64_t m;
    } cases[] = {
        {2, {3, 4}, 0, 5},        {2, {3, 4}, -1, 2}, {3, {2, 3, 2}, 1, 7},
        {4, {2, 3, 2, 2}, -3, 4}, {1, {6}, 0, 3},
    };
    for (int c = 0; c < LEN(cases); c++) {
        tg_tensor *x = tt_param(cases[c].nd, cases[c].xs, 40 + (uint64_t)c, -1, 1);
        tg_tensor *i = tg_tensor_new(TG_I64, 1, &cases[c].m);
        const int ax = cases[c].axis < 0 ? cases[c].axis + cases[c].nd : cases[c].axis;
        for (int64_t k = 0; k < cases[c].m; k++)
            tg_tensor_i64(i)[k] = (k * 3 + 1) % cases[c].xs[ax];
        op_ctx ctx = {.k = K_SELECT, .axis = cases[c].axis, .index = i};
        char what[32];
        snprintf(what, sizeof what, "index_select case %d", c);
        tt_gradcheck(what, apply, &ctx, 1, &x);
        tg_tensor_free(i);
        tg_tensor_free(x);
    }
}
END_TEST

START_TEST(test_embedding_gradcheck)
{
    tg_tensor *w = tt_param(2, TT_SHAPE(5, 3), 50, -1, 1);
    tg_tensor *i = IX(3, TT_SHAPE(2, 2, 3), 4, 0, 4, 2, 2, 2, 1, 0, 3, 4, 4, 1);
    op_ctx ctx = {.k = K_EMBEDDING, .index = i, .pad = -1};
    tt_gradcheck("embedding", apply, &ctx, 1, &w);
    /* with a padding index the padding row gets no gradient although the
     * output reads it: masked out of the output, the finite differences
     * see no dependence on it either, and both sides agree */
    tg_tensor *mask = tg_tensor_ones(TG_F64, 4, TT_SHAPE(2, 2, 3, 3));
    for (int64_t k = 0; k < 12; k++)
        if (tg_tensor_i64(i)[k] == 2)
            for (int d = 0; d < 3; d++) tg_tensor_set_flat(mask, 3 * k + d, 0);
    op_ctx pctx = {.k = K_EMBEDDING, .index = i, .pad = 2, .mask = mask};
    tt_gradcheck("embedding, padding_idx 2", apply, &pctx, 1, &w);
    tg_tensor_free(mask);
    tg_tensor_free(i);
    tg_tensor_free(w);
}
END_TEST

/* Repeated indices accumulate and the padding row gets exactly 0, through
 * tg_backward (direct rules) and tg_grad with create_graph (op-built). */
START_TEST(test_embedding_counts)
{
    tg_tensor *w = tt_param(2, TT_SHAPE(4, 2), 51, -1, 1);
    tg_tensor *i = IX(2, TT_SHAPE(2, 3), 3, 1, 3, 0, 3, 1);
    for (int built = 0; built < 2; built++) {
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = tg_sum_all(tp, tg_embedding(tp, w, i, 1));
        const tg_tensor *g;
        if (built) {
            g = tg_grad(tp, y, w, true);
        } else {
            ck_assert_int_eq(tg_backward(tp, y), TG_OK);
            g = tg_tensor_grad(w);
        }
        ck_assert_msg(g != NULL, "%s", tg_tape_error(tp));
        /* row 3 read three times, row 0 once, row 1 (padding) twice, row 2 never */
        tt_assert_values(built ? "embedding counts, op-built" : "embedding counts, direct", g,
                         TT_VALUES(1, 1, 0, 0, 0, 0, 3, 3), 8, 0, 0);
        tg_tape_free(tp);
    }
    tg_tensor_free(i);
    tg_tensor_free(w);
}
END_TEST

/* ---- second derivatives: each op-built rule is the other op of its pair ---- */
typedef struct so_ctx {
    op_ctx op;
    tg_tensor *w; /* fixed weights, the shape of the op's output */
} so_ctx;

/* d/d in sum(w * op(in)^2), recorded (create_graph), of every input */
static tg_tensor *grad_of_square(tg_tape *tp, tg_tensor *const *in, void *vctx)
{
    so_ctx *c = vctx;
    tg_tensor *y = apply(tp, in, &c->op);
    tg_tensor *f = tg_sum_all(tp, tg_mul(tp, tg_square(tp, y), c->w));
    if (c->op.k != K_SCATTER) return tg_grad(tp, f, in[0], true);
    tg_tensor *g[2];
    if (tg_vjp(tp, f, NULL, 2, in, g, true) != TG_OK) return NULL;
    return tg_add(tp, tg_sum_all(tp, tg_square(tp, g[0])), tg_sum_all(tp, tg_square(tp, g[1])));
}

START_TEST(test_second_order)
{
    tg_tensor *gi = IX(2, TT_SHAPE(2, 3), 0, 2, 2, 1, 1, 3);
    tg_tensor *si = IX(1, TT_SHAPE(4), 1, 0, 1, 2);
    tg_tensor *ei = IX(2, TT_SHAPE(2, 2), 2, 0, 2, 1);
    tg_tensor *x34 = tt_param(2, TT_SHAPE(3, 4), 60, -1, 1);
    tg_tensor *s23 = tt_param(2, TT_SHAPE(2, 3), 61, -1, 1);
    struct {
        op_ctx op;
        int n;
        tg_tensor *in[2];
        int ond;
        int64_t os[3];
    } cases[] = {
        {{.k = K_GATHER, .axis = 1, .index = gi}, 1, {x34}, 2, {2, 3}},
        {{.k = K_SCATTER, .axis = -1, .index = gi}, 2, {x34, s23}, 2, {3, 4}},
        {{.k = K_SELECT, .axis = 1, .index = si}, 1, {x34}, 2, {3, 4}},
        {{.k = K_SELECT, .axis = 0, .index = si}, 1, {x34}, 2, {4, 4}},
        {{.k = K_EMBEDDING, .index = ei, .pad = -1}, 1, {x34}, 3, {2, 2, 4}},
    };
    for (int c = 0; c < LEN(cases); c++) {
        so_ctx ctx = {.op = cases[c].op};
        ctx.w = tt_rand(TG_F64, cases[c].ond, cases[c].os, 70 + (uint64_t)c, 0.5, 1.5);
        char what[40];
        snprintf(what, sizeof what, "second order, case %d", c);
        tt_gradcheck(what, grad_of_square, &ctx, cases[c].n, cases[c].in);
        tg_tensor_free(ctx.w);
    }
    tg_tensor_free(s23);
    tg_tensor_free(x34);
    tg_tensor_free(ei);
    tg_tensor_free(si);
    tg_tensor_free(gi);
}
END_TEST

/* The second derivative through an embedding with padding: the padding row
 * has none either (its first derivative is the constant 0). */
START_TEST(test_embedding_padding_second_order)
{
    tg_tensor *w = tt_param(2, TT_SHAPE(3, 2), 62, -1, 1);
    tg_tensor *i = IX(1, TT_SHAPE(4), 0, 2, 2, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_all(tp, tg_square(tp, tg_embedding(tp, w, i, 2)));
    tg_tensor *g = tg_grad(tp, y, w, true); /* 2 w[r] per read of row r, 0 for row 2 */
    ck_assert_msg(g != NULL, "%s", tg_tape_error(tp));
    for (int d = 0; d < 2; d++) {
        ck_assert(tg_tensor_get_flat(g, 4 + d) == 0);
        ck_assert(tg_tensor_get_flat(g, d) == 2 * tg_tensor_get_flat(w, d));
    }
    tg_tensor *h = tg_grad(tp, tg_sum_all(tp, g), w, false); /* 2 per read row, 0 for row 2 */
    ck_assert_msg(h != NULL, "%s", tg_tape_error(tp));
    tt_assert_values("second derivative, padding", h, TT_VALUES(2, 2, 2, 2, 0, 0), 6, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(i);
    tg_tensor_free(w);
}
END_TEST

/* ---- the index tensor is read when the op records ------------------------------ */
START_TEST(test_index_changed_after_recording)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(4), 63, -1, 1);
    tg_tensor *i = IX(1, TT_SHAPE(3), 3, 3, 0);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_all(tp, tg_gather(tp, x, 0, i));
    ck_assert_ptr_nonnull(y);
    /* an out-of-range value written after recording is not read: backward
     * uses the positions the op recorded */
    tg_tensor_i64(i)[0] = 1000;
    tg_tensor_set_flat(i, 1, -5);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values("gather gradient, recorded positions", tg_tensor_grad(x),
                     TT_VALUES(1, 0, 0, 2), 4, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(i);
    tg_tensor_free(x);
}
END_TEST

/* ---- zero-size ------------------------------------------------------------------ */
START_TEST(test_zero_size)
{
    tg_tensor *x = tt_param(2, TT_SHAPE(3, 2), 64, -1, 1);
    tg_tensor *e1 = IX(1, TT_SHAPE(0), 0);
    tg_tensor *e2 = tg_tensor_new(TG_I64, 2, TT_SHAPE(0, 2));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *a = tg_index_select(tp, x, 0, e1);
    tt_assert_shape(a, 2, TT_SHAPE(0, 2));
    tg_tensor *b = tg_gather(tp, x, 0, e2);
    tt_assert_shape(b, 2, TT_SHAPE(0, 2));
    tg_tensor *c = tg_embedding(tp, x, e2, 0);
    tt_assert_shape(c, 3, TT_SHAPE(0, 2, 2));
    tg_tensor *src = tg_tensor_new(TG_F64, 2, TT_SHAPE(0, 2));
    tg_tensor *d = tg_scatter_add(tp, x, 1, e2, src);
    tt_assert_shape(d, 2, TT_SHAPE(3, 2));
    tg_tensor *y = tg_add(tp, tg_add(tp, tg_sum_all(tp, a), tg_sum_all(tp, b)),
                          tg_add(tp, tg_sum_all(tp, c), tg_sum_all(tp, d)));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    /* only scatter_add's identity reaches x */
    tt_assert_values("zero-size gradient", tg_tensor_grad(x), TT_VALUES(1, 1, 1, 1, 1, 1), 6, 0, 0);
    /* an x with nothing along the axis takes only an empty index */
    tg_tensor *x0 = tg_tensor_new(TG_F64, 2, TT_SHAPE(0, 3));
    tt_assert_shape(tg_index_select(tp, x0, 0, e1), 2, TT_SHAPE(0, 3));
    tg_tensor_free(x0);
    tg_tensor_free(src);
    tg_tape_free(tp);
    tg_tensor_free(e2);
    tg_tensor_free(e1);
    tg_tensor_free(x);
}
END_TEST

/* ---- f32 against f64 ------------------------------------------------------------ */
START_TEST(test_f32_matches_f64)
{
    tg_tensor *x64 = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 65, -2, 2);
    tg_tensor *s64 = tt_rand(TG_F64, 2, TT_SHAPE(2, 4), 66, -2, 2);
    tg_tensor *x32 = tg_tensor_cast_new(x64, TG_F32), *s32 = tg_tensor_cast_new(s64, TG_F32);
    tg_tensor *i = IX(2, TT_SHAPE(2, 4), 2, 2, 0, 1, 1, 0, 2, 2);
    tg_tensor *r = IX(1, TT_SHAPE(3), 1, 1, 0);
    const op_ctx ops[] = {
        {.k = K_GATHER, .axis = 0, .index = i},
        {.k = K_SCATTER, .axis = 0, .index = i},
        {.k = K_SELECT, .axis = 1, .index = r},
        {.k = K_EMBEDDING, .index = r, .pad = 0},
    };
    for (int k = 0; k < LEN(ops); k++) {
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *a = apply(tp, (tg_tensor *[]){x64, s64}, (void *)&ops[k]);
        tg_tensor *b = apply(tp, (tg_tensor *[]){x32, s32}, (void *)&ops[k]);
        ck_assert_msg(a && b, "op %d: %s", k, tg_tape_error(tp));
        ck_assert_int_eq(tg_tensor_dtype(b), TG_F32);
        char what[32];
        snprintf(what, sizeof what, "f32 vs f64, op %d", k);
        tt_assert_close(what, b, a, 1e-6, 1e-6);
        tg_tape_free(tp);
    }
    tg_tensor_free(r);
    tg_tensor_free(i);
    tg_tensor_free(s32);
    tg_tensor_free(x32);
    tg_tensor_free(s64);
    tg_tensor_free(x64);
}
END_TEST

/* ---- errors -------------------------------------------------------------------- */
START_TEST(test_errors)
{
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 4));
    tg_tensor *s = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tensor *f = tt_iota(TG_F32, 2, TT_SHAPE(2, 3));
    tg_tensor *w = tt_iota(TG_F64, 2, TT_SHAPE(5, 3));
    tg_tensor *good = IX(2, TT_SHAPE(2, 3), 0, 1, 2, 3, 2, 1);
    tg_tensor *big = IX(2, TT_SHAPE(2, 3), 0, 1, 2, 3, 4, 1);
    tg_tensor *neg = IX(2, TT_SHAPE(2, 3), 0, 1, 2, 3, -1, 1);
    tg_tensor *fidx = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tensor *wide = IX(2, TT_SHAPE(3, 1), 0, 0, 0);
    tg_tensor *flat = IX(1, TT_SHAPE(6), 0, 1, 2, 3, 2, 1);
    tg_tensor *deep = tg_tensor_new(TG_I64, 8, TT_SHAPE(1, 1, 1, 1, 1, 1, 1, 1));
    tg_tensor *w15 = tt_iota(TG_F64, 1, TT_SHAPE(15));

    /* out of range: the op, the value, its position, the extent */
    EXPECT_ERR(tg_gather(tp, x, 1, big), TG_ERR_ARG, "gather: index 4 at (1,1)", "[0, 4)",
               "axis 1 of x (2,4)");
    EXPECT_ERR(tg_gather(tp, x, 1, neg), TG_ERR_ARG, "gather: index -1 at (1,1)",
               "negative indices do not wrap");
    EXPECT_ERR(tg_scatter_add(tp, x, 1, big, s), TG_ERR_ARG, "scatter_add: index 4 at (1,1)");
    EXPECT_ERR(tg_index_select(tp, x, 0, flat), TG_ERR_ARG, "index_select: index 2 at (2)",
               "[0, 2)", "axis 0 of x (2,4)");
    EXPECT_ERR(tg_embedding(tp, w, neg, -1), TG_ERR_ARG, "embedding: index -1 at (1,1)", "[0, 5)",
               "weight (5,3)");
    EXPECT_ERR(tg_one_hot(tp, big, 4, TG_F64), TG_ERR_ARG, "one_hot: index 4 at (1,1)", "[0, 4)");
    /* dtype, NULL, shape */
    EXPECT_ERR(tg_gather(tp, x, 1, fidx), TG_ERR_DTYPE, "gather: index f64[2,3] must be i64");
    EXPECT_ERR(tg_embedding(tp, w, fidx, -1), TG_ERR_DTYPE, "embedding: index f64[2,3]");
    EXPECT_ERR(tg_one_hot(tp, fidx, 3, TG_F64), TG_ERR_DTYPE, "one_hot: index f64[2,3]");
    EXPECT_ERR(tg_gather(tp, x, 1, NULL), TG_ERR_NULL, "gather: index is NULL");
    EXPECT_ERR(tg_gather(tp, x, 1, flat), TG_ERR_SHAPE, "gather: index (6) has 1 axes", "x (2,4)");
    EXPECT_ERR(tg_gather(tp, x, 1, wide), TG_ERR_SHAPE, "gather: index (3,1)", "axis 0");
    EXPECT_ERR(tg_gather(tp, x, 2, good), TG_ERR_AXIS, "gather");
    EXPECT_ERR(tg_scatter_add(tp, x, 1, good, x), TG_ERR_SHAPE,
               "scatter_add: src (2,4) and index (2,3) differ");
    EXPECT_ERR(tg_scatter_add(tp, x, 1, good, f), TG_ERR_DTYPE, "scatter_add");
    EXPECT_ERR(tg_index_select(tp, x, 1, good), TG_ERR_SHAPE,
               "index_select: index (2,3) must be 1-d");
    EXPECT_ERR(tg_embedding(tp, s, good, 3), TG_ERR_ARG, "embedding: padding_idx 3", "[0, 2)",
               "weight (2,3)");
    EXPECT_ERR(tg_embedding(tp, w15, good, -1), TG_ERR_SHAPE,
               "embedding: weight (15) must be 2-d (V,D)");
    EXPECT_ERR(tg_embedding(tp, w, deep, -1), TG_ERR_SHAPE, "embedding: index (1,1,1,1,1,1,1,1)",
               "8 axes");
    EXPECT_ERR(tg_one_hot(tp, good, -1, TG_F64), TG_ERR_ARG, "one_hot: num_classes -1");
    EXPECT_ERR(tg_one_hot(tp, good, 4, TG_I64), TG_ERR_DTYPE, "one_hot: dtype i64");
    EXPECT_ERR(tg_one_hot(tp, good, INT64_MAX / 4, TG_F64), TG_ERR_SHAPE, "one_hot: index (2,3)",
               "elements");
    /* the index as an op input elsewhere stays refused */
    EXPECT_ERR(tg_exp(tp, good), TG_ERR_DTYPE, "exp: input 0 is i64[2,3]");
    /* a tape-less call reports on the thread */
    ck_assert_ptr_null(tg_gather(NULL, x, 1, good));
    ck_assert_int_eq(tg_last_status(), TG_ERR_NULL);
    ck_assert_ptr_null(tg_one_hot(NULL, good, 4, TG_F64));
    ck_assert_str_eq(tg_last_error(), "one_hot: tape is NULL");

    tg_tensor *all[] = {x, s, f, w, good, big, neg, fidx, wide, flat, deep, w15};
    for (int k = 0; k < LEN(all); k++) tg_tensor_free(all[k]);
}
END_TEST

/* A tape-owned index is refused as the dtype rule wants (no tape tensor is
 * i64), and a stale or foreign float tensor as an index is named. */
START_TEST(test_index_not_live)
{
    tg_tensor *x = tt_iota(TG_F64, 1, TT_SHAPE(4));
    tg_tape *tp = tg_tape_new(NULL), *other = tg_tape_new(NULL);
    tg_tensor *t = tg_exp(other, x);
    ck_assert_ptr_null(tg_index_select(tp, x, 0, t));
    tt_assert_tape_error(tp, TG_ERR_TAPE, "index_select: index is not a live tensor of this tape");
    tg_tape_free(other);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("index");
    TCase *tv = tcase_create("values");
    tcase_add_test(tv, test_gather_values);
    tcase_add_test(tv, test_scatter_add_values);
    tcase_add_test(tv, test_index_select_values);
    tcase_add_test(tv, test_embedding_values);
    tcase_add_test(tv, test_one_hot_values);
    tcase_add_test(tv, test_zero_size);
    tcase_add_test(tv, test_f32_matches_f64);
    tcase_add_test(tv, test_index_changed_after_recording);
    suite_add_tcase(s, tv);
    TCase *tg = tcase_create("gradients");
    tcase_add_test(tg, test_gather_gradcheck);
    tcase_add_test(tg, test_scatter_add_gradcheck);
    tcase_add_test(tg, test_index_select_gradcheck);
    tcase_add_test(tg, test_embedding_gradcheck);
    tcase_add_test(tg, test_embedding_counts);
    tcase_add_test(tg, test_second_order);
    tcase_add_test(tg, test_embedding_padding_second_order);
    suite_add_tcase(s, tg);
    TCase *te = tcase_create("errors");
    tcase_add_test(te, test_errors);
    tcase_add_test(te, test_index_not_live);
    suite_add_tcase(s, te);
    return tt_run(s);
}
