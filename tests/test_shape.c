/* Shape ops: reshape, broadcast_to, permute/transpose, slice, embed and
 * concat.  Forward values against hand values (and against an independent
 * multi-index reference for every permutation), finite-difference
 * gradchecks in f64 over 0-d to 6-d shapes and every axis (negative axes
 * too), second derivatives through the backward rules, f32 against f64,
 * and every error path (status + message naming the op and the shape). */
#include "common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int64_t prod(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* ---- one op with its parameters, as a tg_fn for gradcheck ----------------- */
typedef enum op_kind {
    K_RESHAPE,
    K_PERMUTE,
    K_TRANSPOSE,
    K_SLICE,
    K_EMBED,
    K_CONCAT,
    K_BCAST
} op_kind;

typedef struct op_ctx {
    op_kind k;
    int ndim;                   /* reshape / embed / broadcast target */
    int64_t shape[TG_MAX_DIMS]; /* ditto */
    int perm[TG_MAX_DIMS];
    int axis, axis1;
    int64_t start, stop, step;
    int n; /* concat inputs */
} op_ctx;

static tg_tensor *apply(tg_tape *tp, tg_tensor *const *in, void *vctx)
{
    const op_ctx *c = vctx;
    switch (c->k) {
    case K_RESHAPE:
        return tg_reshape(tp, in[0], c->ndim, c->shape);
    case K_PERMUTE:
        return tg_permute_dims(tp, in[0], tg_tensor_ndim(in[0]), c->perm);
    case K_TRANSPOSE:
        return tg_transpose(tp, in[0], c->axis, c->axis1);
    case K_SLICE:
        return tg_slice(tp, in[0], c->axis, c->start, c->stop, c->step);
    case K_EMBED:
        return tg_embed(tp, in[0], c->ndim, c->shape, c->axis, c->start, c->step);
    case K_CONCAT:
        return tg_concat(tp, c->n, in, c->axis);
    case K_BCAST:
        return tg_broadcast_to(tp, in[0], c->ndim, c->shape);
    }
    return NULL;
}

/* Gradcheck of one op on fresh parameters of the given shape. */
static void check_op(const char *what, op_ctx *c, int ndim, const int64_t *shape, uint64_t seed)
{
    tg_tensor *x = tt_param(ndim, shape, seed, -1, 1);
    tt_gradcheck(what, apply, c, 1, &x);
    tg_tensor_free(x);
}

/* ---- reshape ---------------------------------------------------------------- */
START_TEST(test_reshape_forward)
{
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_reshape(tp, x, 2, TT_SHAPE(3, 2));
    tt_assert_shape(y, 2, TT_SHAPE(3, 2));
    tt_assert_values("reshape (3,2)", y, TT_VALUES(0, 1, 2, 3, 4, 5), 6, 0, 0);
    /* -1 is inferred */
    tg_tensor *z = tg_reshape(tp, x, 3, TT_SHAPE(-1, 1, 2));
    tt_assert_shape(z, 3, TT_SHAPE(3, 1, 2));
    tg_tensor *f = tg_reshape(tp, x, 1, TT_SHAPE(-1));
    tt_assert_shape(f, 1, TT_SHAPE(6));
    /* a one-element tensor reshapes to 0-d and back */
    tg_tensor *one = tt_from(TG_F64, 2, TT_SHAPE(1, 1), TT_VALUES(4.5));
    tg_tensor *s = tg_reshape(tp, one, 0, NULL);
    tt_assert_shape(s, 0, NULL);
    tt_assert_values("0-d", s, TT_VALUES(4.5), 1, 0, 0);
    /* an empty tensor reshapes among empty shapes */
    tg_tensor *e = tg_tensor_new(TG_F64, 2, TT_SHAPE(0, 3));
    tg_tensor *e2 = tg_reshape(tp, e, 3, TT_SHAPE(3, 0, 5));
    tt_assert_shape(e2, 3, TT_SHAPE(3, 0, 5));
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(one);
    tg_tensor_free(e);
}
END_TEST

START_TEST(test_reshape_grad)
{
    op_ctx c = {.k = K_RESHAPE, .ndim = 3, .shape = {3, 1, 2}};
    check_op("reshape (2,3)->(3,1,2)", &c, 2, TT_SHAPE(2, 3), 1);
    c = (op_ctx){.k = K_RESHAPE, .ndim = 1, .shape = {-1}};
    check_op("reshape (2,3,4)->(-1)", &c, 3, TT_SHAPE(2, 3, 4), 2);
    c = (op_ctx){.k = K_RESHAPE, .ndim = 0};
    check_op("reshape (1)->()", &c, 1, TT_SHAPE(1), 3);
    c = (op_ctx){.k = K_RESHAPE, .ndim = 6, .shape = {2, 1, 3, 1, 2, 2}};
    check_op("reshape (4,6)->6-d", &c, 2, TT_SHAPE(4, 6), 4);
}
END_TEST

/* ---- broadcast_to ---------------------------------------------------------- */
START_TEST(test_broadcast_forward)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *col = tt_from(TG_F64, 2, TT_SHAPE(2, 1), TT_VALUES(1, 2));
    tg_tensor *y = tg_broadcast_to(tp, col, 3, TT_SHAPE(2, 2, 3));
    tt_assert_shape(y, 3, TT_SHAPE(2, 2, 3));
    tt_assert_values("(2,1)->(2,2,3)", y, TT_VALUES(1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2), 12, 0, 0);
    tg_tensor *s = tt_from(TG_F64, 0, NULL, TT_VALUES(7));
    tt_assert_values("()->(2,2)", tg_broadcast_to(tp, s, 2, TT_SHAPE(2, 2)), TT_VALUES(7, 7, 7, 7),
                     4, 0, 0);
    /* an extent of 1 may stretch to 0 */
    tt_assert_shape(tg_broadcast_to(tp, col, 2, TT_SHAPE(2, 0)), 2, TT_SHAPE(2, 0));
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(col);
    tg_tensor_free(s);
}
END_TEST

START_TEST(test_broadcast_grad)
{
    op_ctx c = {.k = K_BCAST, .ndim = 3, .shape = {2, 2, 3}};
    check_op("broadcast (2,1)->(2,2,3)", &c, 2, TT_SHAPE(2, 1), 5);
    check_op("broadcast (3)->(2,2,3)", &c, 1, TT_SHAPE(3), 6);
    check_op("broadcast ()->(2,2,3)", &c, 0, NULL, 7);
    c = (op_ctx){.k = K_BCAST, .ndim = 4, .shape = {2, 3, 2, 2}};
    check_op("broadcast (1,3,1,2)->(2,3,2,2)", &c, 4, TT_SHAPE(1, 3, 1, 2), 8);
}
END_TEST

/* ---- permute / transpose --------------------------------------------------- */
/* out[i0..] = x[j..] with j[perm[d]] = i[d], by explicit multi-indices. */
static void ref_permute(int nd, const int64_t *shape, const int *perm, double *out)
{
    int64_t oshape[TG_MAX_DIMS], xstr[TG_MAX_DIMS], s = 1;
    for (int d = nd - 1; d >= 0; d--) {
        xstr[d] = s;
        s *= shape[d];
    }
    for (int d = 0; d < nd; d++) oshape[d] = shape[perm[d]];
    for (int64_t f = 0; f < s; f++) {
        int64_t rem = f, xi = 0;
        for (int d = nd - 1; d >= 0; d--) {
            xi += (rem % oshape[d]) * xstr[perm[d]];
            rem /= oshape[d];
        }
        out[f] = (double)xi; /* x = iota: the value is the flat index */
    }
}

/* next lexicographic permutation; false after the last one */
static bool next_perm(int *p, int n)
{
    int i = n - 2;
    while (i >= 0 && p[i] >= p[i + 1]) i--;
    if (i < 0) return false;
    int j = n - 1;
    while (p[j] <= p[i]) j--;
    int t = p[i];
    p[i] = p[j];
    p[j] = t;
    for (int a = i + 1, b = n - 1; a < b; a++, b--) {
        t = p[a];
        p[a] = p[b];
        p[b] = t;
    }
    return true;
}

START_TEST(test_permute_forward_hand)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tensor *t = tg_transpose(tp, x, 0, 1);
    tt_assert_shape(t, 2, TT_SHAPE(3, 2));
    tt_assert_values("(2,3)^T", t, TT_VALUES(0, 3, 1, 4, 2, 5), 6, 0, 0);
    tt_assert_values("permute (1,0)", tg_permute_dims(tp, x, 2, (int[]){1, 0}),
                     TT_VALUES(0, 3, 1, 4, 2, 5), 6, 0, 0);
    tt_assert_values("transpose(-1,-2)", tg_transpose(tp, x, -1, -2), TT_VALUES(0, 3, 1, 4, 2, 5),
                     6, 0, 0);
    tt_assert_values("transpose(1,1) is the identity", tg_transpose(tp, x, 1, -1),
                     TT_VALUES(0, 1, 2, 3, 4, 5), 6, 0, 0);
    /* (2,3,4) with perm (2,0,1): out[k][i][j] = x[i][j][k] = 12 i + 4 j + k */
    tg_tensor *x3 = tt_iota(TG_F64, 3, TT_SHAPE(2, 3, 4));
    tg_tensor *p = tg_permute_dims(tp, x3, 3, (int[]){2, 0, 1});
    tt_assert_shape(p, 3, TT_SHAPE(4, 2, 3));
    tt_assert_values("(2,3,4) perm (2,0,1)", p,
                     TT_VALUES(0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21, 2, 6, 10, 14, 18, 22, 3, 7,
                               11, 15, 19, 23),
                     24, 0, 0);
    /* 0-d and 1-d permutes are copies */
    tg_tensor *s = tt_from(TG_F64, 0, NULL, TT_VALUES(3));
    tt_assert_values("0-d", tg_permute_dims(tp, s, 0, NULL), TT_VALUES(3), 1, 0, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(x3);
    tg_tensor_free(s);
}
END_TEST

/* The deprecated tg_permute (no length) still works for one release: the
 * same values as tg_permute_dims. */
START_TEST(test_permute_deprecated)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x3 = tt_iota(TG_F64, 3, TT_SHAPE(2, 3, 4));
    static const int perm[3] = {2, 0, 1};
    tg_tensor *p = tg_permute_dims(tp, x3, 3, perm);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    tg_tensor *q = tg_permute(tp, x3, perm);
#pragma GCC diagnostic pop
    tt_assert_shape(q, 3, TT_SHAPE(4, 2, 3));
    tt_assert_values("deprecated tg_permute", q, tg_tensor_f64(p), 24, 0, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x3);
}
END_TEST

/* Every permutation of a 3-d and a 4-d tensor, and a 6-d one: forward
 * against the multi-index reference, and gradcheck. */
START_TEST(test_permute_all)
{
    static const struct {
        int nd;
        int64_t shape[4];
    } cases[] = {{1, {5}}, {2, {2, 3}}, {3, {2, 3, 4}}, {4, {2, 3, 1, 4}}};
    for (int c = 0; c < LEN(cases); c++) {
        const int nd = cases[c].nd;
        const int64_t *shape = cases[c].shape;
        int perm[4] = {0, 1, 2, 3};
        double ref[64];
        tg_tensor *x = tt_iota(TG_F64, nd, shape);
        do {
            tg_tape *tp = tg_tape_new(NULL);
            tg_tensor *y = tg_permute_dims(tp, x, nd, perm);
            ref_permute(nd, shape, perm, ref);
            char what[64];
            snprintf(what, sizeof what, "%d-d permute (%d,%d,%d,%d)", nd, perm[0], perm[1], perm[2],
                     perm[3]);
            for (int d = 0; d < nd; d++) ck_assert_int_eq(tg_tensor_shape(y)[d], shape[perm[d]]);
            tt_assert_values(what, y, ref, prod(nd, shape), 0, 0);
            tg_tape_free(tp);
            op_ctx oc = {.k = K_PERMUTE};
            memcpy(oc.perm, perm, sizeof perm);
            check_op(what, &oc, nd, shape, 10 + (uint64_t)c);
        } while (next_perm(perm, nd));
        tg_tensor_free(x);
    }
}
END_TEST

START_TEST(test_transpose_grad)
{
    static const int pairs[][2] = {{0, 1}, {0, 2}, {1, 2}, {-1, 0}, {-3, -2}, {2, -1}};
    for (int i = 0; i < LEN(pairs); i++) {
        op_ctx c = {.k = K_TRANSPOSE, .axis = pairs[i][0], .axis1 = pairs[i][1]};
        char what[48];
        snprintf(what, sizeof what, "transpose (%d,%d) of (2,3,4)", pairs[i][0], pairs[i][1]);
        check_op(what, &c, 3, TT_SHAPE(2, 3, 4), 20 + (uint64_t)i);
    }
    op_ctx c = {.k = K_TRANSPOSE, .axis = 1, .axis1 = 3};
    check_op("transpose (1,3) of 4-d", &c, 4, TT_SHAPE(2, 2, 3, 2), 30);
}
END_TEST

/* ndim >= 6: reshape to 6-d, permute all six axes, reshape to 7-d. */
static tg_tensor *six_d_chain(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *a = tg_reshape(tp, in[0], 6, TT_SHAPE(2, 1, 3, 2, 1, 2));
    tg_tensor *b = tg_permute_dims(tp, a, 6, (int[]){4, 2, 5, 0, 3, 1});
    tg_tensor *c = tg_transpose(tp, b, -6, 2);
    return tg_reshape(tp, c, 7, TT_SHAPE(2, 3, 1, 1, 2, 1, 2));
}

START_TEST(test_six_d)
{
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(4, 6));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = six_d_chain(tp, &x, NULL);
    tt_assert_shape(y, 7, TT_SHAPE(2, 3, 1, 1, 2, 1, 2));
    /* reference: permute (4,2,5,0,3,1) then swap axes 0 and 2 = permute
     * (5,2,4,0,3,1) of the 6-d view of tt_iota(24) */
    double ref[24];
    ref_permute(6, TT_SHAPE(2, 1, 3, 2, 1, 2), (const int[]){5, 2, 4, 0, 3, 1}, ref);
    tt_assert_values("6-d permute", y, ref, 24, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor *p = tt_param(2, TT_SHAPE(4, 6), 40, -1, 1);
    tt_gradcheck("6-d reshape/permute chain", six_d_chain, NULL, 1, &p);
    tg_tensor_free(p);
}
END_TEST

/* ---- slice ----------------------------------------------------------------- */
START_TEST(test_slice_forward_1d)
{
    tg_tensor *x = tt_iota(TG_F64, 1, TT_SHAPE(10));
    tg_tape *tp = tg_tape_new(NULL);
    static const struct {
        int64_t start, stop, step;
        int n;
        double v[10];
    } cases[] = {
        {2, 7, 1, 5, {2, 3, 4, 5, 6}},
        {1, 10, 3, 3, {1, 4, 7}},
        {0, 10, 3, 4, {0, 3, 6, 9}},
        {0, 10, 2, 5, {0, 2, 4, 6, 8}},
        {-3, 100, 1, 3, {7, 8, 9}},      /* negative start, stop clamped */
        {-100, -4, 2, 3, {0, 2, 4}},     /* start clamped to 0, negative stop */
        {0, -1, 3, 3, {0, 3, 6}},        /* x[0:-1:3] */
        {-2, -1, 1, 1, {8}},             /* x[-2:-1] */
        {-9, -2, 3, 3, {1, 4, 7}},       /* x[-9:-2:3] */
        {3, INT64_MAX, 4, 2, {3, 7}},    /* huge stop */
        {INT64_MIN, 3, 1, 3, {0, 1, 2}}, /* huge negative start */
        {1, 10, INT64_MAX, 1, {1}},      /* huge step */
        {8, 2, 1, 0, {0}},               /* start past stop: empty */
        {5, 5, 1, 0, {0}},               /* empty */
        {12, 20, 1, 0, {0}},             /* both past the end: empty */
        {-20, -15, 1, 0, {0}},           /* both before the start: empty */
    };
    for (int i = 0; i < LEN(cases); i++) {
        tg_tensor *y = tg_slice(tp, x, 0, cases[i].start, cases[i].stop, cases[i].step);
        char what[96];
        snprintf(what, sizeof what, "x[%lld:%lld:%lld]", (long long)cases[i].start,
                 (long long)cases[i].stop, (long long)cases[i].step);
        ck_assert_msg(y != NULL, "%s: %s", what, tg_tape_error(tp));
        tt_assert_shape(y, 1, (const int64_t[]){cases[i].n});
        tt_assert_values(what, y, cases[i].v, cases[i].n, 0, 0);
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_slice_forward_nd)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tensor *y = tg_slice(tp, x, 1, 1, 3, 1);
    tt_assert_shape(y, 2, TT_SHAPE(2, 2));
    tt_assert_values("x[:,1:3]", y, TT_VALUES(1, 2, 4, 5), 4, 0, 0);
    tt_assert_values("x[-1:2]", tg_slice(tp, x, 0, -1, 2, 1), TT_VALUES(3, 4, 5), 3, 0, 0);
    tt_assert_values("x[:,::2]", tg_slice(tp, x, -1, 0, 3, 2), TT_VALUES(0, 2, 3, 5), 4, 0, 0);
    tg_tensor *x3 = tt_iota(TG_F64, 3, TT_SHAPE(2, 3, 4));
    tg_tensor *a = tg_slice(tp, x3, 1, 0, 3, 2);
    tt_assert_shape(a, 3, TT_SHAPE(2, 2, 4));
    tt_assert_values("x3[:,0:3:2]", a,
                     TT_VALUES(0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23), 16, 0, 0);
    tg_tensor *b = tg_slice(tp, x3, -1, -3, 4, 2);
    tt_assert_shape(b, 3, TT_SHAPE(2, 3, 2));
    tt_assert_values("x3[...,-3::2]", b, TT_VALUES(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23), 12,
                     0, 0);
    tg_tensor *c = tg_slice(tp, x3, -3, 1, 2, 3);
    tt_assert_shape(c, 3, TT_SHAPE(1, 3, 4));
    tt_assert_values("x3[1:2:3]", c, TT_VALUES(12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23), 12,
                     0, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(x3);
}
END_TEST

/* An empty slice is a valid tensor; backward through it gives zeros. */
START_TEST(test_slice_empty)
{
    tg_tensor *x = tt_param(2, TT_SHAPE(2, 3), 50, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *e = tg_slice(tp, x, 1, 2, 1, 1);
    tt_assert_shape(e, 2, TT_SHAPE(2, 0));
    tg_tensor *s = tg_sum_all(tp, e);
    tt_assert_values("sum of empty slice", s, TT_VALUES(0), 1, 0, 0);
    /* y = sum(x[:, 0:1]) + sum(x[:, 3:]) -- the second slice is empty */
    tg_tensor *y = tg_add(tp, tg_sum_all(tp, tg_slice(tp, x, 1, 0, 1, 1)),
                          tg_sum_all(tp, tg_slice(tp, x, 1, 3, 9, 2)));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values("d/dx", tg_tensor_grad(x), TT_VALUES(1, 0, 0, 1, 0, 0), 6, 0, 0);
    tg_tape_free(tp);
    /* the gradcheck of an empty slice: every gradient is exactly zero */
    op_ctx c = {.k = K_SLICE, .axis = 0, .start = 5, .stop = 9, .step = 1};
    tg_compare_report rep;
    ck_assert_int_eq(tg_gradcheck(apply, &c, 1, &x, NULL, &rep), TG_OK);
    ck_assert(rep.ok && rep.vacuous);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_slice_grad)
{
    static const struct {
        int nd;
        int64_t shape[4];
    } shapes[] = {{1, {7}}, {2, {5, 3}}, {3, {2, 6, 3}}, {4, {2, 3, 5, 2}}};
    static const int64_t ranges[][3] = {
        {0, 100, 1}, {1, 4, 1}, {0, 5, 2}, {1, 100, 3}, {-3, 100, 1}, {-4, -1, 2}, {-100, -1, 3},
    };
    int count = 0;
    for (int s = 0; s < LEN(shapes); s++) {
        const int nd = shapes[s].nd;
        for (int ax = -nd; ax < nd; ax++) {
            for (int r = 0; r < LEN(ranges); r++) {
                op_ctx c = {.k = K_SLICE,
                            .axis = ax,
                            .start = ranges[r][0],
                            .stop = ranges[r][1],
                            .step = ranges[r][2]};
                /* skip ranges that are empty on this extent (tested above) */
                tg_tape *tp = tg_tape_new(NULL);
                tg_tensor *z = tg_tensor_new(TG_F64, nd, shapes[s].shape);
                tg_tensor *y = apply(tp, &z, &c);
                ck_assert_ptr_nonnull(y);
                bool empty = tg_tensor_numel(y) == 0;
                tg_tape_free(tp);
                tg_tensor_free(z);
                if (empty) continue;
                char what[96];
                snprintf(what, sizeof what, "%d-d slice axis %d [%lld:%lld:%lld]", nd, ax,
                         (long long)c.start, (long long)c.stop, (long long)c.step);
                check_op(what, &c, nd, shapes[s].shape, 60 + (uint64_t)count++);
            }
        }
    }
    ck_assert_int_gt(count, 80);
}
END_TEST

/* ---- embed ----------------------------------------------------------------- */
START_TEST(test_embed_forward)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(1, 2, 3, 4));
    tg_tensor *y = tg_embed(tp, x, 2, TT_SHAPE(2, 5), 1, 1, 2);
    tt_assert_shape(y, 2, TT_SHAPE(2, 5));
    tt_assert_values("embed axis 1 at 1::2", y, TT_VALUES(0, 1, 0, 2, 0, 0, 3, 0, 4, 0), 10, 0, 0);
    tg_tensor *r = tt_from(TG_F64, 2, TT_SHAPE(1, 2), TT_VALUES(7, 8));
    tt_assert_values("embed axis 0 at 2", tg_embed(tp, r, 2, TT_SHAPE(3, 2), -2, 2, 1),
                     TT_VALUES(0, 0, 0, 0, 7, 8), 6, 0, 0);
    /* the whole extent with step 3: positions 0, 3 of 5 (the last fits exactly) */
    tg_tensor *v = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(5, 6));
    tt_assert_values("embed 1-d 0::3", tg_embed(tp, v, 1, TT_SHAPE(4), 0, 0, 3),
                     TT_VALUES(5, 0, 0, 6), 4, 0, 0);
    /* an empty x embeds as zeros, even at start == extent */
    tg_tensor *e = tg_tensor_new(TG_F64, 2, TT_SHAPE(2, 0));
    tt_assert_values("embed empty", tg_embed(tp, e, 2, TT_SHAPE(2, 3), 1, 3, 1),
                     TT_VALUES(0, 0, 0, 0, 0, 0), 6, 0, 0);
    /* embed(slice(x)) keeps the sliced positions and zeros the rest */
    tg_tensor *x3 = tt_iota(TG_F64, 3, TT_SHAPE(2, 3, 2));
    tg_tensor *s = tg_slice(tp, x3, 1, -2, 3, 1);
    tt_assert_values("embed(slice)", tg_embed(tp, s, 3, TT_SHAPE(2, 3, 2), 1, 1, 1),
                     TT_VALUES(0, 0, 2, 3, 4, 5, 0, 0, 8, 9, 10, 11), 12, 0, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(r);
    tg_tensor_free(v);
    tg_tensor_free(e);
    tg_tensor_free(x3);
}
END_TEST

START_TEST(test_embed_grad)
{
    op_ctx c = {.k = K_EMBED, .ndim = 2, .shape = {2, 5}, .axis = 1, .start = 1, .step = 2};
    check_op("embed (2,2) into (2,5) at 1::2", &c, 2, TT_SHAPE(2, 2), 70);
    c = (op_ctx){.k = K_EMBED, .ndim = 3, .shape = {7, 3, 2}, .axis = -3, .start = 0, .step = 3};
    check_op("embed (3,3,2) into (7,3,2) at 0::3", &c, 3, TT_SHAPE(3, 3, 2), 71);
    c = (op_ctx){.k = K_EMBED, .ndim = 4, .shape = {2, 3, 2, 6}, .axis = -1, .start = 2, .step = 1};
    check_op("embed (2,3,2,4) into (2,3,2,6) at 2:", &c, 4, TT_SHAPE(2, 3, 2, 4), 72);
    c = (op_ctx){.k = K_EMBED, .ndim = 1, .shape = {1}, .axis = 0, .start = 0, .step = 5};
    check_op("embed (1) into (1)", &c, 1, TT_SHAPE(1), 73);
}
END_TEST

/* ---- concat ---------------------------------------------------------------- */
START_TEST(test_concat_forward)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *a = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tensor *b = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(6, 7, 8, 9));
    tg_tensor *c = tt_from(TG_F64, 2, TT_SHAPE(1, 3), TT_VALUES(6, 7, 8));
    tg_tensor *y = tg_concat(tp, 2, (tg_tensor *[]){a, b}, 1);
    tt_assert_shape(y, 2, TT_SHAPE(2, 5));
    tt_assert_values("concat axis 1", y, TT_VALUES(0, 1, 2, 6, 7, 3, 4, 5, 8, 9), 10, 0, 0);
    tg_tensor *z = tg_concat(tp, 2, (tg_tensor *[]){a, c}, -2);
    tt_assert_shape(z, 2, TT_SHAPE(3, 3));
    tt_assert_values("concat axis 0", z, TT_VALUES(0, 1, 2, 3, 4, 5, 6, 7, 8), 9, 0, 0);
    /* one input is a copy */
    tt_assert_values("concat of 1", tg_concat(tp, 1, &a, 0), TT_VALUES(0, 1, 2, 3, 4, 5), 6, 0, 0);
    /* three 1-d inputs, one of them empty */
    tg_tensor *p = tt_from(TG_F64, 1, TT_SHAPE(1), TT_VALUES(1));
    tg_tensor *q = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(2, 3));
    tg_tensor *e = tg_tensor_new(TG_F64, 1, TT_SHAPE(0));
    tg_tensor *w = tg_concat(tp, 3, (tg_tensor *[]){p, e, q}, 0);
    tt_assert_shape(w, 1, TT_SHAPE(3));
    tt_assert_values("concat 1-d", w, TT_VALUES(1, 2, 3), 3, 0, 0);
    /* middle axis of 3-d: (2,1,2) ++ (2,2,2) */
    tg_tensor *m1 = tt_from(TG_F64, 3, TT_SHAPE(2, 1, 2), TT_VALUES(0, 1, 2, 3));
    tg_tensor *m2 =
        tt_from(TG_F64, 3, TT_SHAPE(2, 2, 2), TT_VALUES(10, 11, 12, 13, 14, 15, 16, 17));
    tg_tensor *m = tg_concat(tp, 2, (tg_tensor *[]){m1, m2}, 1);
    tt_assert_shape(m, 3, TT_SHAPE(2, 3, 2));
    tt_assert_values("concat middle", m, TT_VALUES(0, 1, 10, 11, 12, 13, 2, 3, 14, 15, 16, 17), 12,
                     0, 0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(c);
    tg_tensor_free(p);
    tg_tensor_free(q);
    tg_tensor_free(e);
    tg_tensor_free(m1);
    tg_tensor_free(m2);
}
END_TEST

/* 1, 2 and 3 inputs along the first, a middle and the last axis of 1-d to
 * 4-d shapes; input i has extent i + 1 along the axis. */
START_TEST(test_concat_grad)
{
    static const struct {
        int nd;
        int64_t shape[4];
    } shapes[] = {{1, {3}}, {2, {2, 3}}, {3, {2, 3, 2}}, {4, {2, 1, 3, 2}}};
    int count = 0;
    for (int s = 0; s < LEN(shapes); s++) {
        const int nd = shapes[s].nd;
        const int axes[3] = {0, nd / 2, -1};
        for (int a = 0; a < 3; a++) {
            for (int n = 1; n <= 3; n++) {
                tg_tensor *xs[3];
                int ax = axes[a] < 0 ? axes[a] + nd : axes[a];
                for (int i = 0; i < n; i++) {
                    int64_t sh[4];
                    memcpy(sh, shapes[s].shape, sizeof sh);
                    sh[ax] = i + 1;
                    xs[i] = tt_param(nd, sh, 100 + (uint64_t)(count * 3 + i), -1, 1);
                }
                op_ctx c = {.k = K_CONCAT, .n = n, .axis = axes[a]};
                char what[64];
                snprintf(what, sizeof what, "concat of %d %d-d along %d", n, nd, axes[a]);
                tt_gradcheck(what, apply, &c, n, xs);
                for (int i = 0; i < n; i++) tg_tensor_free(xs[i]);
                count++;
            }
        }
    }
}
END_TEST

/* Only inputs that need a gradient get one; an input used twice gets both
 * contributions; inputs from ops work too. */
START_TEST(test_concat_needs_grad)
{
    tg_tensor *a = tt_param(2, TT_SHAPE(2, 2), 120, -1, 1);
    tg_tensor *b = tt_rand(TG_F64, 2, TT_SHAPE(2, 1), 121, -1, 1); /* a constant */
    tg_tensor *w = tt_from(TG_F64, 2, TT_SHAPE(2, 5), TT_VALUES(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
    tg_tape *tp = tg_tape_new(NULL);
    /* y = sum(concat(a, b, a) * w): da = w[:, 0:2] + w[:, 3:5] */
    tg_tensor *y = tg_sum_all(tp, tg_mul(tp, tg_concat(tp, 3, (tg_tensor *[]){a, b, a}, 1), w));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values("da", tg_tensor_grad(a), TT_VALUES(1 + 4, 2 + 5, 6 + 9, 7 + 10), 4, 0, 0);
    ck_assert_ptr_null(tg_tensor_grad(b));
    /* the gradient of the constant is still available through tg_grad */
    tg_tensor *gb = tg_grad(tp, y, b, false);
    tt_assert_values("db", gb, TT_VALUES(3, 8), 2, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(w);
}
END_TEST

START_TEST(test_concat_many)
{
    /* more inputs than the backward pass's small on-stack gradient array */
    enum { N = 11 };
    tg_tensor *xs[N];
    for (int i = 0; i < N; i++)
        xs[i] = tt_param(2, TT_SHAPE(1 + i % 3, 2), 130 + (uint64_t)i, -1, 1);
    op_ctx c = {.k = K_CONCAT, .n = N, .axis = 0};
    tt_gradcheck("concat of 11", apply, &c, N, xs);
    for (int i = 0; i < N; i++) tg_tensor_free(xs[i]);
}
END_TEST

/* ---- second derivatives: every backward rule is made of ops ------------- */
typedef struct so_ctx {
    op_ctx op;
    tg_tensor *w; /* fixed weights, the shape of the op's output */
} so_ctx;

/* d/dx sum(w * op(x)^2), recorded (create_graph), as a function of x */
static tg_tensor *grad_of_square(tg_tape *tp, tg_tensor *const *in, void *vctx)
{
    so_ctx *c = vctx;
    tg_tensor *ins[2] = {in[0], in[0]};
    tg_tensor *y = apply(tp, ins, &c->op);
    tg_tensor *f = tg_sum_all(tp, tg_mul(tp, tg_square(tp, y), c->w));
    return tg_grad(tp, f, in[0], true);
}

START_TEST(test_second_order)
{
    static const struct {
        op_ctx op;
        int nd;
        int64_t shape[4];
        int ond;
        int64_t oshape[4];
    } cases[] = {
        {{.k = K_PERMUTE, .perm = {2, 0, 1}}, 3, {2, 3, 2}, 3, {2, 2, 3}},
        {{.k = K_TRANSPOSE, .axis = 0, .axis1 = -1}, 2, {2, 3}, 2, {3, 2}},
        {{.k = K_SLICE, .axis = 1, .start = -3, .stop = 5, .step = 2}, 2, {2, 5}, 2, {2, 2}},
        {{.k = K_EMBED, .ndim = 2, .shape = {2, 5}, .axis = 1, .start = 1, .step = 3},
         2,
         {2, 2},
         2,
         {2, 5}},
        {{.k = K_CONCAT, .n = 2, .axis = -1}, 2, {2, 2}, 2, {2, 4}},
        {{.k = K_RESHAPE, .ndim = 3, .shape = {3, 1, 2}}, 2, {2, 3}, 3, {3, 1, 2}},
        {{.k = K_BCAST, .ndim = 3, .shape = {2, 2, 3}}, 2, {2, 1}, 3, {2, 2, 3}},
    };
    for (int i = 0; i < LEN(cases); i++) {
        so_ctx c = {.op = cases[i].op};
        c.w = tt_rand(TG_F64, cases[i].ond, cases[i].oshape, 140 + (uint64_t)i, 0.5, 1.5);
        tg_tensor *x = tt_param(cases[i].nd, cases[i].shape, 150 + (uint64_t)i, -1, 1);
        char what[48];
        snprintf(what, sizeof what, "second order, case %d", i);
        tt_gradcheck(what, grad_of_square, &c, 1, &x);
        tg_tensor_free(x);
        tg_tensor_free(c.w);
    }
}
END_TEST

/* ---- f32 agrees with f64 --------------------------------------------------- */
START_TEST(test_f32_matches_f64)
{
    static const op_ctx ops[] = {
        {.k = K_RESHAPE, .ndim = 2, .shape = {4, 6}},
        {.k = K_PERMUTE, .perm = {1, 2, 0}},
        {.k = K_TRANSPOSE, .axis = 0, .axis1 = 2},
        {.k = K_SLICE, .axis = 2, .start = -3, .stop = 4, .step = 2},
        {.k = K_EMBED, .ndim = 3, .shape = {2, 7, 4}, .axis = 1, .start = 1, .step = 2},
        {.k = K_CONCAT, .n = 2, .axis = 1},
        {.k = K_BCAST, .ndim = 4, .shape = {2, 2, 3, 4}},
    };
    tg_tensor *x64 = tt_rand(TG_F64, 3, TT_SHAPE(2, 3, 4), 160, -3, 3);
    tg_tensor *x32 = tg_tensor_cast_new(x64, TG_F32);
    tg_tape *tp = tg_tape_new(NULL);
    for (int i = 0; i < LEN(ops); i++) {
        tg_tensor *a = apply(tp, (tg_tensor *[]){x64, x64}, (void *)&ops[i]);
        tg_tensor *b = apply(tp, (tg_tensor *[]){x32, x32}, (void *)&ops[i]);
        ck_assert_msg(a && b, "op %d: %s", i, tg_tape_error(tp));
        ck_assert_int_eq(tg_tensor_dtype(b), TG_F32);
        /* pure data movement: equal up to the f32 rounding of the inputs */
        char what[32];
        snprintf(what, sizeof what, "f32 vs f64, op %d", i);
        tt_assert_close(what, b, a, 6e-8, 0);
    }
    tg_tape_free(tp);
    tg_tensor_free(x64);
    tg_tensor_free(x32);
}
END_TEST

/* ---- errors ---------------------------------------------------------------- */
START_TEST(test_errors_reshape_broadcast)
{
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    EXPECT_ERR(tg_reshape(tp, x, 2, TT_SHAPE(4, 2)), TG_ERR_SHAPE, "reshape", "(2,3)", "(4,2)");
    EXPECT_ERR(tg_reshape(tp, x, 2, TT_SHAPE(-1, -1)), TG_ERR_SHAPE, "reshape", "(2,3)");
    EXPECT_ERR(tg_reshape(tp, x, 2, TT_SHAPE(4, -1)), TG_ERR_SHAPE, "reshape", "(2,3)", "(4,-1)",
               "infer");
    EXPECT_ERR(tg_reshape(tp, x, 2, TT_SHAPE(0, -1)), TG_ERR_SHAPE, "reshape", "(2,3)");
    EXPECT_ERR(tg_reshape(tp, x, 2, TT_SHAPE(-2, 3)), TG_ERR_SHAPE, "reshape", "(2,3)");
    EXPECT_ERR(tg_reshape(tp, x, TG_MAX_DIMS + 1, TT_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 6)),
               TG_ERR_SHAPE, "reshape", "(2,3)");
    EXPECT_ERR(tg_reshape(tp, x, 2, NULL), TG_ERR_NULL, "reshape", "(2,3)", "target shape is NULL");
    EXPECT_ERR(tg_reshape(tp, x, 3, TT_SHAPE(INT64_MAX / 2, 4, 0)), TG_ERR_SHAPE, "reshape",
               "(2,3)", "overflow");
    EXPECT_ERR(tg_broadcast_to(tp, x, 2, TT_SHAPE(3, 3)), TG_ERR_SHAPE, "broadcast_to", "(2,3)",
               "(3,3)");
    EXPECT_ERR(tg_broadcast_to(tp, x, 1, TT_SHAPE(3)), TG_ERR_SHAPE, "broadcast_to", "(2,3)",
               "(3)");
    EXPECT_ERR(tg_broadcast_to(tp, x, 2, NULL), TG_ERR_NULL, "broadcast_to", "(2,3)",
               "target shape is NULL");
    tg_tensor *one = tt_iota(TG_F64, 1, TT_SHAPE(1));
    EXPECT_ERR(tg_broadcast_to(tp, one, 2, TT_SHAPE(2, -1)), TG_ERR_SHAPE, "broadcast_to", "(1)",
               "(2,-1)");
    tg_tensor_free(one);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_errors_permute_slice)
{
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tensor *s = tt_from(TG_F64, 0, NULL, TT_VALUES(1));
    EXPECT_ERR(tg_permute_dims(tp, x, 2, NULL), TG_ERR_NULL, "permute", "(2,3)", "perm");
    EXPECT_ERR(tg_permute_dims(tp, x, 2, (int[]){0, 0}), TG_ERR_AXIS, "permute", "(2,3)", "[0,0]",
               "not a permutation");
    EXPECT_ERR(tg_permute_dims(tp, x, 2, (int[]){0, 2}), TG_ERR_AXIS, "permute", "(2,3)", "[0,2]");
    EXPECT_ERR(tg_permute_dims(tp, x, 2, (int[]){-1, 0}), TG_ERR_AXIS, "permute", "(2,3)",
               "[-1,0]");
    /* the length is checked against x's rank (issue 24, item 5) */
    EXPECT_ERR(tg_permute_dims(tp, x, 3, (int[]){1, 0, 2}), TG_ERR_AXIS, "permute", "(2,3)",
               "perm lists 3 axes for a 2-d input");
    EXPECT_ERR(tg_permute_dims(tp, x, 1, (int[]){0}), TG_ERR_AXIS, "permute", "(2,3)",
               "perm lists 1 axes for a 2-d input");
    EXPECT_ERR(tg_permute_dims(tp, x, -1, (int[]){0}), TG_ERR_AXIS, "permute", "(2,3)",
               "perm lists -1 axes");
    EXPECT_ERR(tg_permute_dims(tp, s, 1, (int[]){0}), TG_ERR_AXIS, "permute", "()",
               "perm lists 1 axes for a 0-d input");
    EXPECT_ERR(tg_transpose(tp, x, 0, 2), TG_ERR_AXIS, "transpose", "2,3", "axis 2");
    EXPECT_ERR(tg_transpose(tp, x, -3, 0), TG_ERR_AXIS, "transpose", "2,3", "axis -3");
    EXPECT_ERR(tg_transpose(tp, s, 0, 1), TG_ERR_AXIS, "transpose", "f64[]");
    EXPECT_ERR(tg_slice(tp, x, 2, 0, 1, 1), TG_ERR_AXIS, "slice", "2,3", "axis 2");
    EXPECT_ERR(tg_slice(tp, x, -3, 0, 1, 1), TG_ERR_AXIS, "slice", "2,3");
    EXPECT_ERR(tg_slice(tp, s, 0, 0, 1, 1), TG_ERR_AXIS, "slice", "f64[]");
    EXPECT_ERR(tg_slice(tp, x, 1, 0, 3, 0), TG_ERR_ARG, "slice", "(2,3)", "step 0");
    EXPECT_ERR(tg_slice(tp, x, 1, 3, 0, -1), TG_ERR_ARG, "slice", "(2,3)", "step -1");
    tg_tensor_free(x);
    tg_tensor_free(s);
}
END_TEST

START_TEST(test_errors_embed)
{
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 2));
    EXPECT_ERR(tg_embed(tp, x, 2, NULL, 1, 0, 1), TG_ERR_NULL, "embed", "(2,2)");
    EXPECT_ERR(tg_embed(tp, x, 3, TT_SHAPE(2, 2, 2), 1, 0, 1), TG_ERR_SHAPE, "embed", "(2,2)",
               "3-d");
    EXPECT_ERR(tg_embed(tp, x, 2, TT_SHAPE(2, 5), 2, 0, 1), TG_ERR_AXIS, "embed", "2,2");
    EXPECT_ERR(tg_embed(tp, x, 2, TT_SHAPE(3, 5), 1, 0, 1), TG_ERR_SHAPE, "embed", "(2,2)",
               "(3,5)");
    EXPECT_ERR(tg_embed(tp, x, 2, TT_SHAPE(2, -5), 1, 0, 1), TG_ERR_SHAPE, "embed", "(2,2)",
               "(2,-5)");
    EXPECT_ERR(tg_embed(tp, x, 2, TT_SHAPE(2, 5), 1, 0, 0), TG_ERR_ARG, "embed", "(2,2)", "step 0");
    /* positions 2 and 4 of an extent 4: the second does not fit */
    EXPECT_ERR(tg_embed(tp, x, 2, TT_SHAPE(2, 4), 1, 2, 2), TG_ERR_SHAPE, "embed", "(2,2)", "(2,4)",
               "do not fit");
    EXPECT_ERR(tg_embed(tp, x, 2, TT_SHAPE(2, 4), 1, -1, 1), TG_ERR_SHAPE, "embed", "(2,2)",
               "(2,4)");
    EXPECT_ERR(tg_embed(tp, x, 2, TT_SHAPE(2, 4), 1, 4, 1), TG_ERR_SHAPE, "embed", "(2,2)",
               "(2,4)");
    EXPECT_ERR(tg_embed(tp, x, 2, TT_SHAPE(2, 1), 1, 0, 1), TG_ERR_SHAPE, "embed", "(2,2)",
               "(2,1)");
    EXPECT_ERR(tg_embed(tp, x, 2, TT_SHAPE(2, 4), 1, 1, INT64_MAX), TG_ERR_SHAPE, "embed", "(2,2)");
    tg_tensor *e = tg_tensor_new(TG_F64, 2, TT_SHAPE(2, 0));
    EXPECT_ERR(tg_embed(tp, e, 2, TT_SHAPE(2, 3), 1, 4, 1), TG_ERR_SHAPE, "embed", "(2,0)",
               "(2,3)");
    tg_tensor_free(e);
    tg_tensor_free(x);
}
END_TEST

/* Huge extents, starts and steps (issue 18, item 3): slice and embed with a
 * step near INT64_MAX (the row pitch step * inner overflowed), and shapes
 * whose non-zero extents' product exceeds TG_NUMEL_MAX made by reshape,
 * embed, concat, broadcast_to and matmul from tensors with no elements
 * (accepted, or not, depending on where the 0 was). */
START_TEST(test_huge_extents)
{
    const int64_t big = INT64_C(1) << 40;
    tg_tensor *x = tt_iota(TG_F64, 3, TT_SHAPE(2, 3, 4));
    tg_tape *t = tg_tape_new(NULL);
    /* one position of axis 1, huge steps: x[:, 1::step, :] */
    const int64_t steps[] = {INT64_C(1) << 62, INT64_MAX / 2, INT64_MAX};
    for (int i = 0; i < LEN(steps); i++) {
        tg_tensor *p = tt_param(3, TT_SHAPE(2, 3, 4), 40 + i, -1, 1);
        tg_tensor *y = tg_slice(t, x, 1, 1, INT64_MAX, steps[i]);
        ck_assert_msg(y != NULL, "%s", tg_tape_error(t));
        tt_assert_shape(y, 3, TT_SHAPE(2, 1, 4));
        tt_assert_values("x[:, 1::huge, :]", y, TT_VALUES(4, 5, 6, 7, 16, 17, 18, 19), 8, 0, 0);
        /* the adjoint: embed, through slice's backward, and embed's own */
        tg_tensor *s = tg_slice(t, p, 1, 1, INT64_MAX, steps[i]);
        ck_assert_int_eq(tg_backward(t, tg_sum_all(t, tg_mul(t, s, y))), TG_OK);
        double dp[24] = {0};
        for (int j = 0; j < 4; j++) dp[4 + j] = 4 + j, dp[16 + j] = 16 + j;
        tt_assert_values("d slice", tg_tensor_grad(p), dp, 24, 0, 0);
        tg_tensor *e = tg_embed(t, y, 3, TT_SHAPE(2, 3, 4), 1, 2, steps[i]);
        ck_assert_msg(e != NULL, "%s", tg_tape_error(t));
        for (int j = 0; j < 24; j++) dp[j] = 0;
        for (int j = 0; j < 4; j++) dp[8 + j] = 4 + j, dp[20 + j] = 16 + j;
        tt_assert_values("embed at 2, huge step", e, dp, 24, 0, 0);
        tg_tape_reset(t);
        tg_tensor_free(p);
    }
    tg_tape_free(t);

    /* reshape of a tensor with no elements: refused in both axis orders */
    tg_tensor *z = tg_tensor_new(TG_F64, 2, TT_SHAPE(0, 3));
    EXPECT_ERR(tg_reshape(tp, z, 3, TT_SHAPE(0, big, big)), TG_ERR_SHAPE, "reshape", "(0,3)",
               "overflows");
    EXPECT_ERR(tg_reshape(tp, z, 3, TT_SHAPE(big, big, 0)), TG_ERR_SHAPE, "reshape", "(0,3)",
               "overflows");
    EXPECT_ERR(tg_reshape(tp, z, 3, TT_SHAPE(big, -1, big)), TG_ERR_SHAPE, "reshape", "(0,3)",
               "overflows");
    /* embed into a target whose extents are too large */
    tg_tensor *z1 = tg_tensor_new(TG_F64, 2, TT_SHAPE(0, 1));
    EXPECT_ERR(tg_embed(tp, z1, 2, TT_SHAPE(0, INT64_C(1) << 62), 1, 0, 1), TG_ERR_SHAPE, "embed",
               "(0,1)", "(0,4611686018427387904)", "more than");
    /* broadcast_to a shape too large */
    EXPECT_ERR(tg_broadcast_to(tp, z1, 3, TT_SHAPE(big, 0, big)), TG_ERR_SHAPE, "broadcast_to",
               "(0,1)", "(1099511627776,0,1099511627776)", "more than");
    /* concat: extents summed into a result too large */
    tg_tensor *zh = tg_tensor_new(TG_F64, 2, TT_SHAPE(0, INT64_C(1) << 58));
    ck_assert_ptr_nonnull(zh);
    EXPECT_ERR(tg_concat(tp, 2, (tg_tensor *[]){zh, zh}, 1), TG_ERR_SHAPE, "concat",
               "(0,288230376151711744)", "more than");
    /* matmul: (2^40, 0) @ (0, 2^40) is a (2^40, 2^40) result */
    tg_tensor *ma = tg_tensor_new(TG_F64, 2, TT_SHAPE(big, 0));
    tg_tensor *mb = tg_tensor_new(TG_F64, 2, TT_SHAPE(0, big));
    EXPECT_ERR(tg_matmul(tp, ma, mb), TG_ERR_SHAPE, "matmul", "(1099511627776,0)",
               "(0,1099511627776)", "result");
    /* embed into a target with no elements but 2^58 outer blocks: nothing
     * to store, at once (it looped over the empty blocks) */
    tg_tensor *tall = tg_tensor_new(TG_F64, 2, TT_SHAPE(INT64_C(1) << 58, 0));
    t = tg_tape_new(NULL);
    tg_tensor *em = tg_embed(t, tall, 2, TT_SHAPE(INT64_C(1) << 58, 0), 1, 0, 1);
    ck_assert_msg(em != NULL, "%s", tg_tape_error(t));
    tt_assert_shape(em, 2, TT_SHAPE(INT64_C(1) << 58, 0));
    tg_tape_free(t);
    /* concat's gradient for inputs with no elements, in 2^58 empty rows */
    tg_tensor_set_requires_grad(tall, true);
    t = tg_tape_new(NULL);
    tg_tensor *cc = tg_concat(t, 2, (tg_tensor *[]){tall, tall}, 1);
    ck_assert_msg(cc != NULL, "%s", tg_tape_error(t));
    ck_assert_int_eq(tg_backward(t, tg_sum_all(t, cc)), TG_OK);
    tt_assert_shape(tg_tensor_grad(tall), 2, TT_SHAPE(INT64_C(1) << 58, 0));
    /* max along an axis of such a tensor, and its gradient */
    tg_tensor *tall3 = tg_tensor_new(TG_F64, 3, TT_SHAPE(INT64_C(1) << 56, 3, 0));
    tg_tensor_set_requires_grad(tall3, true);
    tg_tensor *mx = tg_max(t, tall3, 1, false);
    ck_assert_msg(mx != NULL, "%s", tg_tape_error(t));
    tt_assert_shape(mx, 2, TT_SHAPE(INT64_C(1) << 56, 0));
    ck_assert_int_eq(tg_backward(t, tg_sum_all(t, mx)), TG_OK);
    tt_assert_shape(tg_tensor_grad(tall3), 3, TT_SHAPE(INT64_C(1) << 56, 3, 0));
    tg_tensor_free(tall3);
    tg_tape_free(t);
    tg_tensor_free(tall);
    tg_tensor_free(ma);
    tg_tensor_free(mb);
    tg_tensor_free(zh);
    tg_tensor_free(z1);
    tg_tensor_free(z);

    /* a tensor with no elements but extents whose product overflows, where
     * it can still be made: the ops' products of its extents are checked */
    tg_tensor *zz = tg_tensor_new(TG_F64, 3, TT_SHAPE(0, big, big));
    if (zz) {
        t = tg_tape_new(NULL);
        tg_tensor *r = tg_sum(t, zz, 2, (const int[]){1, 2}, false);
        ck_assert_msg(r != NULL, "%s", tg_tape_error(t));
        ck_assert_int_eq(tg_tensor_numel(r), 0);
        r = tg_mean(t, zz, 2, (const int[]){1, 2}, false);
        ck_assert_msg(r != NULL, "%s", tg_tape_error(t));
        ck_assert_int_eq(tg_tensor_numel(r), 0);
        r = tg_max(t, zz, 2, false);
        ck_assert_msg(r != NULL, "%s", tg_tape_error(t));
        r = tg_slice(t, zz, 0, 0, 1, 1);
        ck_assert_msg(r != NULL, "%s", tg_tape_error(t));
        r = tg_add(t, zz, tg_slice(t, zz, 2, 0, 1, 1));
        ck_assert_msg(r != NULL, "%s", tg_tape_error(t));
        ck_assert_ptr_null(tg_mean_all(t, zz));
        tt_assert_tape_error(t, TG_ERR_EMPTY, "mean", "no elements");
        tg_tape_free(t);
        tg_tensor_free(zz);
    }
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_errors_concat)
{
    tg_tensor *a = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tensor *b = tt_iota(TG_F64, 2, TT_SHAPE(3, 3));
    tg_tensor *f = tt_iota(TG_F32, 2, TT_SHAPE(2, 3));
    tg_tensor *v = tt_iota(TG_F64, 1, TT_SHAPE(3));
    tg_tensor *s = tt_from(TG_F64, 0, NULL, TT_VALUES(1));
    EXPECT_ERR(tg_concat(tp, 0, (tg_tensor *[]){a}, 0), TG_ERR_ARG, "concat", "0 inputs");
    EXPECT_ERR(tg_concat(tp, -1, (tg_tensor *[]){a}, 0), TG_ERR_ARG, "concat");
    EXPECT_ERR(tg_concat(tp, 2, NULL, 0), TG_ERR_NULL, "concat");
    EXPECT_ERR(tg_concat(tp, 2, (tg_tensor *[]){a, NULL}, 0), TG_ERR_NULL, "concat", "input 1");
    EXPECT_ERR(tg_concat(tp, 2, (tg_tensor *[]){a, f}, 0), TG_ERR_DTYPE, "concat", "f64[2,3]",
               "f32[2,3]");
    EXPECT_ERR(tg_concat(tp, 2, (tg_tensor *[]){a, b}, 1), TG_ERR_SHAPE, "concat", "(2,3)",
               "(3,3)");
    EXPECT_ERR(tg_concat(tp, 3, (tg_tensor *[]){a, a, v}, 0), TG_ERR_SHAPE, "concat", "input 2",
               "(3)", "(2,3)");
    EXPECT_ERR(tg_concat(tp, 2, (tg_tensor *[]){a, b}, 2), TG_ERR_AXIS, "concat", "2,3");
    EXPECT_ERR(tg_concat(tp, 2, (tg_tensor *[]){s, s}, 0), TG_ERR_AXIS, "concat", "f64[]");
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(f);
    tg_tensor_free(v);
    tg_tensor_free(s);
}
END_TEST

/* Every op: a NULL input is TG_ERR_NULL naming the op; a NULL tape or a tape
 * already in error gives NULL and changes nothing. */
static tg_tensor *call_op(int i, tg_tape *tp, tg_tensor *x)
{
    tg_tensor *xs[2] = {x, x};
    switch (i) {
    case 0:
        return tg_reshape(tp, x, 1, TT_SHAPE(-1));
    case 1:
        return tg_broadcast_to(tp, x, 2, TT_SHAPE(2, 3));
    case 2:
        return tg_permute_dims(tp, x, 2, (int[]){1, 0});
    case 3:
        return tg_transpose(tp, x, 0, 1);
    case 4:
        return tg_slice(tp, x, 0, 0, 1, 1);
    case 5:
        return tg_embed(tp, x, 2, TT_SHAPE(2, 3), 0, 0, 1);
    case 6:
        return tg_concat(tp, 2, xs, 0);
    default:
        return NULL;
    }
}
static const char *const k_names[] = {"reshape", "broadcast_to", "permute", "transpose",
                                      "slice",   "embed",        "concat"};

START_TEST(test_errors_null_and_sticky)
{
    tg_tensor *x = tt_iota(TG_F64, 2, TT_SHAPE(2, 3));
    for (int i = 0; i < LEN(k_names); i++) {
        /* NULL input */
        tg_tape *tp = tg_tape_new(NULL);
        ck_assert_ptr_null(call_op(i, tp, NULL));
        tt_assert_tape_error(tp, TG_ERR_NULL, k_names[i], "NULL");
        tg_tape_free(tp);
        /* NULL tape */
        ck_assert_ptr_null(call_op(i, NULL, x));
        /* the op works on a healthy tape ... */
        tp = tg_tape_new(NULL);
        ck_assert_msg(call_op(i, tp, x) != NULL, "%s: %s", k_names[i], tg_tape_error(tp));
        /* ... and does nothing on a tape in error */
        ck_assert_ptr_null(tg_slice(tp, x, 5, 0, 1, 1));
        char msg[512];
        snprintf(msg, sizeof msg, "%s", tg_tape_error(tp));
        int64_t nodes = tg_tape_usage(tp).nodes, tensors = tg_tape_usage(tp).tensors;
        ck_assert_ptr_null(call_op(i, tp, x));
        ck_assert_int_eq(tg_tape_status(tp), TG_ERR_AXIS);
        ck_assert_str_eq(tg_tape_error(tp), msg);
        ck_assert_int_eq(tg_tape_usage(tp).nodes, nodes);
        ck_assert_int_eq(tg_tape_usage(tp).tensors, tensors);
        tg_tape_free(tp);
    }
    /* a tensor of another tape */
    tg_tape *t1 = tg_tape_new(NULL), *t2 = tg_tape_new(NULL);
    tg_tensor *y = tg_reshape(t1, x, 1, TT_SHAPE(6));
    ck_assert_ptr_null(tg_slice(t2, y, 0, 0, 1, 1));
    tt_assert_tape_error(t2, TG_ERR_TAPE, "slice", "another tape");
    tg_tape_free(t1);
    tg_tape_free(t2);
    tg_tensor_free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shape");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_reshape_forward);
    tcase_add_test(tc, test_broadcast_forward);
    tcase_add_test(tc, test_permute_forward_hand);
    tcase_add_test(tc, test_permute_deprecated);
    tcase_add_test(tc, test_slice_forward_1d);
    tcase_add_test(tc, test_slice_forward_nd);
    tcase_add_test(tc, test_slice_empty);
    tcase_add_test(tc, test_embed_forward);
    tcase_add_test(tc, test_concat_forward);
    tcase_add_test(tc, test_concat_needs_grad);
    tcase_add_test(tc, test_f32_matches_f64);
    suite_add_tcase(s, tc);
    TCase *tg = tcase_create("gradcheck");
    tcase_add_test(tg, test_reshape_grad);
    tcase_add_test(tg, test_broadcast_grad);
    tcase_add_test(tg, test_permute_all);
    tcase_add_test(tg, test_transpose_grad);
    tcase_add_test(tg, test_six_d);
    tcase_add_test(tg, test_slice_grad);
    tcase_add_test(tg, test_embed_grad);
    tcase_add_test(tg, test_concat_grad);
    tcase_add_test(tg, test_concat_many);
    tcase_add_test(tg, test_second_order);
    suite_add_tcase(s, tg);
    TCase *te = tcase_create("errors");
    tcase_add_test(te, test_errors_reshape_broadcast);
    tcase_add_test(te, test_errors_permute_slice);
    tcase_add_test(te, test_errors_embed);
    tcase_add_test(te, test_errors_concat);
    tcase_add_test(te, test_huge_extents);
    tcase_add_test(te, test_errors_null_and_sticky);
    suite_add_tcase(s, te);
    return tt_run(s);
}
