/* tg_matmul's NumPy/PyTorch layouts beyond the op's own (src/ops/
 * matmul_general.c): 1-d operands, several batch axes, batch axes that
 * broadcast.  Each case is compared with a plain loop that reads the
 * definition (every result element from its own batch item of each operand,
 * an extent 1 standing for any), gradchecked in f64, and its errors named. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef struct gcase {
    int na, nb;
    int64_t sa[5], sb[5];
    bool ta, tb;
} gcase;

static const gcase k_cases[] = {
    {1, 2, {5}, {5, 3}, false, false},                /* vector @ matrix */
    {2, 1, {3, 5}, {5}, false, false},                /* matrix @ vector */
    {1, 1, {5}, {5}, false, false},                   /* dot: a 0-d result */
    {1, 3, {4}, {2, 4, 3}, false, false},             /* vector @ batch */
    {3, 1, {2, 3, 4}, {4}, false, false},             /* batch @ vector */
    {4, 2, {2, 3, 3, 4}, {4, 2}, false, false},       /* two batch axes, shared b */
    {2, 4, {3, 4}, {2, 2, 4, 5}, false, false},       /* shared a */
    {3, 3, {1, 3, 4}, {2, 4, 5}, false, false},       /* batch 1 against 2 */
    {3, 3, {2, 3, 4}, {1, 4, 5}, false, false},       /* batch 2 against 1 */
    {4, 3, {2, 1, 3, 4}, {3, 4, 2}, false, false},    /* stretch both */
    {4, 4, {2, 1, 3, 4}, {1, 3, 4, 2}, false, false}, /* stretch both ways */
    {4, 2, {1, 1, 3, 4}, {4, 2}, false, false},       /* ones only: one matrix */
    {4, 4, {2, 3, 4, 3}, {2, 3, 5, 4}, true, true},   /* flags on 4-d */
    {4, 3, {2, 1, 4, 3}, {3, 4, 2}, true, false},     /* flags with stretching */
    {1, 4, {4}, {2, 1, 2, 4}, false, true},           /* vector @ b^T */
    {5, 3, {2, 1, 2, 2, 3}, {2, 3, 2}, false, false}, /* five axes */
    {3, 4, {0, 3, 4}, {2, 1, 4, 2}, false, false},    /* an empty batch */
    {3, 4, {2, 3, 0}, {2, 1, 0, 4}, false, false},    /* an empty sum */
};

/* op(X)(r, c) of the matrix at x. */
static double at(const double *x, int64_t rows, int64_t cols, bool t, int64_t r, int64_t c)
{
    (void)rows;
    return t ? x[c * cols + r] : x[r * cols + c];
}

/* Flat offset of the batch item of an operand with batch extents
 * ext[0..n), right-aligned under the result's batch index idx[0..nb). */
static int64_t item_of(const int64_t *ext, int n, const int64_t *idx, int nb)
{
    int64_t off = 0;
    for (int d = 0; d < n; d++) {
        const int64_t i = ext[d] == 1 ? 0 : idx[d + nb - n];
        off = off * ext[d] + i;
    }
    return off;
}

/* The definition, into out (the result's element count); returns it. */
static int64_t reference(const gcase *c, const double *av, const double *bv, double *out)
{
    int64_t sa[6], sb[6];
    int na = c->na, nb = c->nb;
    memcpy(sa, c->sa, sizeof c->sa);
    memcpy(sb, c->sb, sizeof c->sb);
    if (na == 1) sa[1] = sa[0], sa[0] = 1, na = 2;
    if (nb == 1) sb[1] = 1, nb = 2;
    const int64_t ar = sa[na - 2], ac = sa[na - 1], br = sb[nb - 2], bc = sb[nb - 1];
    const int64_t M = c->ta ? ac : ar, K = c->ta ? ar : ac, N = c->tb ? br : bc;
    const int nbat = (na > nb ? na : nb) - 2;
    int64_t bs[4], items = 1;
    for (int d = 0; d < nbat; d++) {
        const int ia = d - (nbat - (na - 2)), ib = d - (nbat - (nb - 2));
        const int64_t xa = ia >= 0 ? sa[ia] : 1, xb = ib >= 0 ? sb[ib] : 1;
        bs[d] = xa == 1 ? xb : xa;
        items *= bs[d];
    }
    for (int64_t p = 0; p < items; p++) {
        int64_t idx[4], q = p;
        for (int d = nbat - 1; d >= 0; d--) idx[d] = q % bs[d], q /= bs[d];
        const double *ap = av + item_of(sa, na - 2, idx, nbat) * ar * ac;
        const double *bp = bv + item_of(sb, nb - 2, idx, nbat) * br * bc;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                long double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (long double)at(ap, ar, ac, c->ta, i, k) * at(bp, br, bc, c->tb, k, j);
                out[(p * M + i) * N + j] = (double)s;
            }
    }
    return items * M * N;
}

static void label_of(const gcase *c, char *buf, size_t n)
{
    char a[64] = "", b[64] = "";
    for (int d = 0; d < c->na; d++)
        snprintf(a + strlen(a), sizeof a - strlen(a), "%s%lld", d ? "," : "", (long long)c->sa[d]);
    for (int d = 0; d < c->nb; d++)
        snprintf(b + strlen(b), sizeof b - strlen(b), "%s%lld", d ? "," : "", (long long)c->sb[d]);
    snprintf(buf, n, "(%s)%s @ (%s)%s", a, c->ta ? "^T" : "", b, c->tb ? "^T" : "");
}

/* The result's shape as NumPy gives it, against the definition's values,
 * in f64 (to 1e-13: both sum the same K products) and in f32. */
START_TEST(test_vs_definition)
{
    static const int64_t want_nd[] = {1, 1, 0, 2, 2, 4, 4, 3, 3, 4, 4, 4, 4, 4, 3, 5, 4, 4};
    ck_assert_int_eq(LEN(want_nd), LEN(k_cases));
    for (int dt = 0; dt < 2; dt++)
        for (int i = 0; i < LEN(k_cases); i++) {
            const gcase *c = &k_cases[i];
            char label[160];
            label_of(c, label, sizeof label);
            const tg_dtype d = dt ? TG_F32 : TG_F64;
            tg_tensor *a = tt_rand(d, c->na, c->sa, 10 + (uint64_t)i, -1, 1);
            tg_tensor *b = tt_rand(d, c->nb, c->sb, 50 + (uint64_t)i, -1, 1);
            double *av = malloc(sizeof(double) * (size_t)(tg_tensor_numel(a) + 1));
            double *bv = malloc(sizeof(double) * (size_t)(tg_tensor_numel(b) + 1));
            double *ref = malloc(sizeof(double) * 256);
            ck_assert(av && bv && ref);
            tg_tensor_to_f64(a, av);
            tg_tensor_to_f64(b, bv);
            const int64_t n = reference(c, av, bv, ref);
            tg_tape *tp = tg_tape_new(NULL);
            tg_tensor *y = tg_matmul_t(tp, a, b, c->ta, c->tb);
            ck_assert_msg(y, "%s: %s", label, tg_tape_error(tp));
            ck_assert_msg(tg_tensor_ndim(y) == want_nd[i], "%s: %d-d result, want %lld-d", label,
                          tg_tensor_ndim(y), (long long)want_nd[i]);
            ck_assert_int_eq(tg_tensor_numel(y), n);
            tt_assert_values(label, y, ref, n, dt ? 1e-5 : 1e-13, dt ? 1e-6 : 1e-15);
            tg_tape_free(tp);
            tg_tensor_free(a);
            tg_tensor_free(b);
            free(av);
            free(bv);
            free(ref);
        }
}
END_TEST

/* NumPy's result shapes, spelled out for a few cases. */
START_TEST(test_shapes)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *a = tt_rand(TG_F64, 4, TT_SHAPE(2, 1, 3, 4), 1, -1, 1);
    tg_tensor *b = tt_rand(TG_F64, 4, TT_SHAPE(1, 5, 4, 6), 2, -1, 1);
    tg_tensor *v = tt_rand(TG_F64, 1, TT_SHAPE(4), 3, -1, 1);
    tt_assert_shape(tg_matmul(tp, a, b), 4, TT_SHAPE(2, 5, 3, 6));
    tt_assert_shape(tg_matmul(tp, a, v), 3, TT_SHAPE(2, 1, 3));
    tt_assert_shape(tg_matmul(tp, v, b), 3, TT_SHAPE(1, 5, 6));
    tt_assert_shape(tg_matmul(tp, v, v), 0, NULL);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(v);
}
END_TEST

/* The case's product, its flags from the case (ctx). */
static tg_tensor *fn_case(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const gcase *c = ctx;
    return tg_matmul_t(tp, in[0], in[1], c->ta, c->tb);
}

/* d/da and d/db by finite differences in f64, every case: a stretched
 * operand's gradient is the sum over the items it was shared by. */
START_TEST(test_gradcheck)
{
    for (int i = 0; i < LEN(k_cases); i++) {
        const gcase *c = &k_cases[i];
        char label[160];
        label_of(c, label, sizeof label);
        tg_tensor *in[2] = {tt_param(c->na, c->sa, 100 + (uint64_t)i, -1, 1),
                            tt_param(c->nb, c->sb, 200 + (uint64_t)i, -1, 1)};
        /* an empty product has nothing to probe */
        const bool empty = tg_tensor_numel(in[0]) == 0 || tg_tensor_numel(in[1]) == 0;
        tt_gradcheck_ex(label, fn_case, (void *)c, 2, in, NULL, empty);
        tg_tensor_free(in[0]);
        tg_tensor_free(in[1]);
    }
}
END_TEST

/* A stretched a's gradient is the sum of its items' gradients: with b of
 * two items and a of one, d sum(a @ b) / da = ones @ (b_0 + b_1)^T, by hand. */
START_TEST(test_stretched_grad_by_hand)
{
    tg_tensor *a = tt_param(3, TT_SHAPE(1, 2, 3), 7, -1, 1);
    tg_tensor *b =
        tt_from(TG_F64, 3, TT_SHAPE(2, 3, 2), TT_VALUES(1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_all(tp, tg_matmul(tp, a, b));
    ck_assert_msg(tg_backward(tp, y) == TG_OK, "%s", tg_tape_error(tp));
    /* row k of b_0 + b_1 summed: 33, 77, 121, the same for each row of a */
    tt_assert_values("d/da", tg_tensor_grad(a), TT_VALUES(33, 77, 121, 33, 77, 121), 6, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

START_TEST(test_errors)
{
    tg_tensor *a = tt_rand(TG_F64, 4, TT_SHAPE(2, 3, 3, 4), 1, -1, 1);
    tg_tensor *b = tt_rand(TG_F64, 3, TT_SHAPE(2, 4, 5), 2, -1, 1);
    tg_tensor *c = tt_rand(TG_F64, 4, TT_SHAPE(2, 3, 5, 2), 3, -1, 1);
    tg_tensor *v = tt_rand(TG_F64, 1, TT_SHAPE(4), 4, -1, 1);
    tg_tensor *s = tg_tensor_scalar(TG_F64, 2.0);
    tg_tensor *before = tg_tensor_clone(a);
    EXPECT_ERR(tg_matmul(tp, a, b), TG_ERR_SHAPE, "matmul: (2,3,3,4) @ (2,4,5)",
               "batch axes do not broadcast", "batch axis 1: 3 vs 2");
    EXPECT_ERR(tg_matmul(tp, a, c), TG_ERR_SHAPE, "matmul: (2,3,3,4) @ (2,3,5,2)",
               "inner dimensions differ (4 vs 5)");
    EXPECT_ERR(tg_matmul_t(tp, v, b, true, false), TG_ERR_SHAPE, "matmul: (4)^T @ (2,4,5)",
               "a 1-d operand cannot be transposed");
    EXPECT_ERR(tg_matmul(tp, s, b), TG_ERR_SHAPE, "matmul: () @ (2,4,5)", "0-d operand");
    EXPECT_ERR(tg_matmul(tp, v, c), TG_ERR_SHAPE, "matmul: (4) @ (2,3,5,2)",
               "inner dimensions differ (4 vs 5)");
    tt_assert_close("a unchanged", a, before, 0, 0);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(c);
    tg_tensor_free(v);
    tg_tensor_free(s);
    tg_tensor_free(before);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("matmul_general");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_vs_definition);
    tcase_add_test(tc, test_shapes);
    suite_add_tcase(s, tc);
    tc = tcase_create("gradient");
    tcase_add_test(tc, test_gradcheck);
    tcase_add_test(tc, test_stretched_grad_by_hand);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
