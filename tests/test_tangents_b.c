/* The per-op teaching and forward-mode data of the reductions, scans,
 * indexing, normalisation, convolution, pooling and linear algebra ops
 * (src/ops/reduce*.c, scan.c, index.c, norm.c, conv*.c, pool*.c,
 * linalg*.c), beyond what test_jvp checks on the op case table:
 *   - each differentiable descriptor of these files has a tangent rule and
 *     a one-line formula;
 *   - the attribute printers show what the call was given;
 *   - forward over reverse: the tangent of a recorded gradient (H v) equals
 *     reverse over reverse (the gradient of <g, v>), which runs the tangent
 *     rules of the gradient ops (index_add, max_pool2d_backward,
 *     conv2d_input_grad, ...) in the graphs create_graph records;
 *   - embedding's padding row gets no tangent, as it gets no gradient. */
#include "../src/core/internal.h"
#include "../src/ops/registry.h"
#include "common.h"
#include "last_attrs.h"

static const tg_op *const *const k_files[] = {
    tg__ops_reduce,        tg__ops_reduce_stat, tg__ops_scan,       tg__ops_index,
    tg__ops_norm,          tg__ops_conv,        tg__ops_conv_cols,  tg__ops_pool,
    tg__ops_pool_adaptive, tg__ops_linalg,      tg__ops_linalg_det,
};

START_TEST(test_rules_and_formulas)
{
    int n = 0;
    for (size_t f = 0; f < sizeof k_files / sizeof k_files[0]; f++)
        for (const tg_op *const *op = k_files[f]; *op; op++, n++) {
            if (!(*op)->backward) continue;
            ck_assert_msg((*op)->jvp != NULL, "%s has no tangent rule", (*op)->name);
            ck_assert_msg((*op)->formula != NULL, "%s has no formula", (*op)->name);
            /* a rule in the teaching notation: "dx += ...", "da += ...; db += ..." */
            ck_assert_msg((*op)->formula[0] == 'd' && strstr((*op)->formula, "+=") != NULL,
                          "%s: formula \"%s\"", (*op)->name, (*op)->formula);
        }
    ck_assert_int_ge(n, 30);
}
END_TEST

START_TEST(test_attribute_printers)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_param(3, TT_SHAPE(2, 3, 4), 11, 0.5, 1.5);
    tg_tensor *x4 = tt_param(4, TT_SHAPE(2, 4, 4, 4), 12, 0.5, 1.5);
    tg_tensor *w = tt_param(4, TT_SHAPE(6, 2, 3, 3), 13, -1, 1);
    tg_tensor *a = tt_param(2, TT_SHAPE(3, 3), 14, 0.5, 1.5);
    tg_tensor *ix = tg_tensor_from(TG_I64, 2, TT_SHAPE(2, 1), (const int64_t[]){2, 0});
    tg_tensor *rows = tg_tensor_from(TG_I64, 1, TT_SHAPE(3), (const int64_t[]){0, 3, 1});
    ATTRS(tp, tg_mean(tp, x, 1, (const int[]){1}, false), "mean", "axis=1");
    ATTRS(tp, tg_sum(tp, x, 2, (const int[]){0, -1}, true), "sum", "axes=(0,2), keepdim=1");
    ATTRS(tp, tg_sum_all(tp, x), "sum", "");
    ATTRS(tp, tg_sum_to(tp, x, 2, TT_SHAPE(1, 4)), "sum_to", "shape=(1,4)");
    ATTRS(tp, tg_max(tp, x, 2, true), "max", "axis=2, keepdim=1");
    ATTRS(tp, tg_min(tp, x, -1, false), "min", "axis=2");
    ATTRS(tp, tg_norm(tp, x, 3, 1, (const int[]){2}, false), "norm", "axis=2, p=3");
    ATTRS(tp, tg_logsumexp(tp, x, 2, (const int[]){0, 1}, true), "logsumexp",
          "axes=(0,1), keepdim=1");
    ATTRS(tp, tg_cumsum(tp, x, -1), "cumsum", "axis=2");
    ATTRS(tp, tg_cumprod(tp, x, 0), "cumprod", "axis=0");
    ATTRS(tp, tg_gather(tp, tg_reshape(tp, x, 2, TT_SHAPE(2, 12)), 1, ix), "gather",
          "axis=1, index=(2,1)");
    ATTRS(tp, tg_embedding(tp, tg_reshape(tp, x, 2, TT_SHAPE(6, 4)), rows, 3), "embedding",
          "axis=0, index=(3), padding_idx=3");
    ATTRS(tp, tg_group_norm(tp, x4, 2, NULL, NULL, 1e-5), "group_norm", "groups=2, eps=1e-05");
    ATTRS(tp, tg_layer_norm(tp, x, 1, NULL, NULL, 0.001), "layer_norm", "eps=0.001");
    ATTRS(tp, tg_conv2d(tp, x4, tg_reshape(tp, w, 4, TT_SHAPE(3, 4, 3, 3)), NULL, 2, 1, 1, 0),
          "conv2d", "kernel=(3,3), stride=(2,1), padding=(1,0)");
    ATTRS(tp, tg_max_pool2d(tp, x4, 2, 2, 2, 2, 0, 0), "max_pool2d",
          "kernel=(2,2), stride=(2,2), padding=(0,0)");
    ATTRS(tp, tg_avg_pool2d(tp, x4, 3, 3, 1, 1, 1, 1), "avg_pool2d",
          "kernel=(3,3), stride=(1,1), padding=(1,1)");
    ATTRS(tp, tg_adaptive_avg_pool2d(tp, x4, 3, 2), "adaptive_avg_pool2d", "output=(3,2)");
    ATTRS(tp, tg_solve_triangular(tp, a, a, true), "solve_triangular", "upper");
    /* snprintf's contract: truncated, NUL terminated, the wanted length */
    char small[6];
    const tg_node *nd = tg__tape_node(tp, tg__tape_num_nodes(tp) - 1);
    ck_assert_int_eq(tg_node_op(nd)->attrs(nd, small, sizeof small), 5);
    ck_assert_str_eq(small, "upper");
    char tiny[3];
    ck_assert_int_eq(tg_node_op(nd)->attrs(nd, tiny, sizeof tiny), 5);
    ck_assert_str_eq(tiny, "up");
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(x4);
    tg_tensor_free(w);
    tg_tensor_free(a);
    tg_tensor_free(ix);
    tg_tensor_free(rows);
}
END_TEST

/* ---- forward over reverse ---------------------------------------------------- */
typedef tg_tensor *(*fn1)(tg_tape *tp, tg_tensor *x, const tg_tensor *aux);

/* H v of sum(f(x)^2 / 2) two ways: the tangent of the recorded gradient
 * (forward over reverse) and the gradient of <g, v> (reverse over
 * reverse); they agree to rounding. */
static void check_hvp(const char *name, fn1 f, const tg_tensor *aux, int nd, const int64_t *shape,
                      double lo, double hi, uint64_t seed)
{
    tg_tensor *x = tt_param(nd, shape, seed, lo, hi);
    tg_tensor *v = tt_rand(TG_F64, nd, shape, seed + 1, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = f(tp, x, aux);
    tg_tensor *loss = tg_mul_scalar(tp, tg_sum_all(tp, tg_square(tp, y)), 0.5);
    tg_tensor *g = tg_grad(tp, loss, x, true);
    ck_assert_msg(g != NULL, "%s: %s", name, tg_tape_error(tp));
    tg_tensor *hv = NULL;
    ck_assert_msg(tg_jvp(tp, 1, &x, &v, 1, &g, &hv, false) == TG_OK, "%s: %s", name,
                  tg_tape_error(tp));
    tg_tensor *h2 = tg_grad(tp, tg_sum_all(tp, tg_mul(tp, g, v)), x, false);
    ck_assert_msg(h2 != NULL, "%s: %s", name, tg_tape_error(tp));
    double scale = 0;
    for (int64_t k = 0; k < tg_tensor_numel(x); k++)
        scale = fmax(scale, fabs(tg_tensor_get_flat(h2, k)));
    ck_assert_msg(scale > 0, "%s: H v is zero: the check would check nothing", name);
    for (int64_t k = 0; k < tg_tensor_numel(x); k++) {
        const double a = tg_tensor_get_flat(hv, k), b = tg_tensor_get_flat(h2, k);
        ck_assert_msg(fabs(a - b) <= 1e-10 * scale,
                      "%s: element %lld: forward %.17g, reverse %.17g", name, (long long)k, a, b);
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(v);
}

static tg_tensor *f_prod(tg_tape *tp, tg_tensor *x, const tg_tensor *aux)
{
    (void)aux;
    return tg_prod(tp, x, 1, (const int[]){1}, false);
}
static tg_tensor *f_logsumexp(tg_tape *tp, tg_tensor *x, const tg_tensor *aux)
{
    (void)aux;
    return tg_logsumexp(tp, x, 1, (const int[]){0}, true);
}
static tg_tensor *f_norm3(tg_tape *tp, tg_tensor *x, const tg_tensor *aux)
{
    (void)aux;
    return tg_norm(tp, x, 3, 1, (const int[]){1}, false);
}
static tg_tensor *f_cumprod(tg_tape *tp, tg_tensor *x, const tg_tensor *aux)
{
    (void)aux;
    return tg_cumprod(tp, x, 1);
}
static tg_tensor *f_gather(tg_tape *tp, tg_tensor *x, const tg_tensor *aux)
{
    return tg_mul(tp, tg_gather(tp, x, 1, aux), tg_gather(tp, x, 1, aux));
}
static tg_tensor *f_embedding(tg_tape *tp, tg_tensor *x, const tg_tensor *aux)
{
    tg_tensor *e = tg_embedding(tp, x, aux, -1);
    return tg_mul(tp, e, e);
}
static tg_tensor *f_max(tg_tape *tp, tg_tensor *x, const tg_tensor *aux)
{
    (void)aux;
    tg_tensor *m = tg_max(tp, x, 1, false);
    return tg_mul(tp, m, m);
}
static tg_tensor *f_layer_norm(tg_tape *tp, tg_tensor *x, const tg_tensor *aux)
{
    (void)aux;
    tg_tensor *y = tg_layer_norm(tp, x, 1, NULL, NULL, 1e-5);
    return tg_mul(tp, y, tg_reshape(tp, x, 2, TT_SHAPE(4, 6)));
}
static tg_tensor *f_conv_pool(tg_tape *tp, tg_tensor *x, const tg_tensor *aux)
{
    tg_tensor *w = tg_reshape(tp, tg_slice(tp, tg_reshape(tp, x, 1, TT_SHAPE(36)), 0, 0, 18, 1), 4,
                              TT_SHAPE(1, 2, 3, 3));
    (void)aux;
    tg_tensor *img = tg_reshape(tp, x, 4, TT_SHAPE(1, 1, 6, 6));
    tg_tensor *y =
        tg_conv2d(tp, tg_concat(tp, 2, (tg_tensor *[]){img, img}, 1), w, NULL, 1, 1, 1, 1);
    return tg_add(tp, tg_max_pool2d(tp, y, 2, 2, 2, 2, 0, 0),
                  tg_avg_pool2d(tp, y, 2, 2, 2, 2, 0, 0));
}
static tg_tensor *f_adaptive(tg_tape *tp, tg_tensor *x, const tg_tensor *aux)
{
    (void)aux;
    tg_tensor *img = tg_reshape(tp, x, 4, TT_SHAPE(1, 1, 6, 6));
    tg_tensor *p = tg_adaptive_avg_pool2d(tp, tg_mul(tp, img, img), 4, 4);
    return tg_mul(tp, p, p);
}
/* aux: 3 I */
static tg_tensor *f_linalg(tg_tape *tp, tg_tensor *x, const tg_tensor *aux)
{
    tg_tensor *a = tg_add(tp, tg_matmul_t(tp, x, x, false, true), (tg_tensor *)aux);
    tg_tensor *l = tg_cholesky(tp, a);
    tg_tensor *s = tg_solve(tp, a, tg_solve_triangular(tp, l, x, false));
    tg_tensor *d =
        tg_reshape(tp, tg_add(tp, tg_det(tp, a), tg_slogdet(tp, a, NULL)), 2, TT_SHAPE(1, 1));
    return tg_add(tp, tg_add(tp, s, tg_inv(tp, a)), d);
}

START_TEST(test_forward_over_reverse)
{
    tg_tensor *ix = tg_tensor_from(TG_I64, 2, TT_SHAPE(4, 3),
                                   (const int64_t[]){0, 5, 5, 1, 2, 3, 4, 4, 0, 5, 1, 1});
    tg_tensor *rows = tg_tensor_from(TG_I64, 1, TT_SHAPE(5), (const int64_t[]){3, 0, 3, 1, 2});
    check_hvp("prod", f_prod, NULL, 2, TT_SHAPE(4, 6), 0.5, 1.5, 101);
    check_hvp("logsumexp", f_logsumexp, NULL, 2, TT_SHAPE(4, 6), -1, 1, 103);
    check_hvp("norm", f_norm3, NULL, 2, TT_SHAPE(4, 6), 0.5, 1.5, 105);
    check_hvp("cumprod", f_cumprod, NULL, 2, TT_SHAPE(4, 6), 0.5, 1.5, 107);
    check_hvp("gather", f_gather, ix, 2, TT_SHAPE(4, 6), -1, 1, 109);
    check_hvp("embedding", f_embedding, rows, 2, TT_SHAPE(4, 6), -1, 1, 111);
    check_hvp("max", f_max, NULL, 2, TT_SHAPE(4, 6), -1, 1, 113);
    check_hvp("layer_norm", f_layer_norm, NULL, 2, TT_SHAPE(4, 6), -1, 1, 115);
    check_hvp("conv2d+pool", f_conv_pool, NULL, 2, TT_SHAPE(6, 6), -1, 1, 117);
    check_hvp("adaptive_avg_pool2d", f_adaptive, NULL, 2, TT_SHAPE(6, 6), -1, 1, 119);
    tg_tensor *eye3 =
        tg_tensor_from(TG_F64, 2, TT_SHAPE(3, 3), (const double[]){3, 0, 0, 0, 3, 0, 0, 0, 3});
    check_hvp("linalg", f_linalg, eye3, 2, TT_SHAPE(3, 3), -1, 1, 121);
    tg_tensor_free(eye3);
    tg_tensor_free(ix);
    tg_tensor_free(rows);
}
END_TEST

/* ---- one input's tangent at a time ----------------------------------------------
 * test_jvp gives every input a tangent; the rules also sum only the terms
 * that exist (a bias alone is broadcast to the output's shape, a missing x
 * of scatter_add becomes zeros).  Each input alone: <w, J_i t> against
 * <J_i^T w, t>, and central differences along t. */
typedef tg_tensor *(*fn_n)(tg_tape *tp, tg_tensor **in);

static double dot(const tg_tensor *a, const tg_tensor *b)
{
    double s = 0;
    for (int64_t k = 0; k < tg_tensor_numel(a); k++)
        s += tg_tensor_get_flat(a, k) * tg_tensor_get_flat(b, k);
    return s;
}

static void check_one_input(const char *name, fn_n f, tg_tensor **in, int i)
{
    tg_tensor *t = tt_rand(TG_F64, tg_tensor_ndim(in[i]), tg_tensor_shape(in[i]), 300 + i, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = f(tp, in), *jt = NULL, *gi = NULL;
    ck_assert_msg(y != NULL, "%s: %s", name, tg_tape_error(tp));
    ck_assert_msg(tg_jvp(tp, 1, &in[i], &t, 1, &y, &jt, false) == TG_OK, "%s: %s", name,
                  tg_tape_error(tp));
    tg_tensor *w = tt_rand(TG_F64, tg_tensor_ndim(y), tg_tensor_shape(y), 400 + i, -1, 1);
    ck_assert_int_eq(tg_vjp(tp, y, w, 1, &in[i], &gi, false), TG_OK);
    const double fwd = dot(w, jt), rev = dot(gi, t);
    ck_assert_msg(fabs(fwd - rev) <= 1e-12 * (fabs(fwd) + fabs(rev)) && fwd != 0,
                  "%s input %d: forward %.17g, reverse %.17g", name, i, fwd, rev);
    double fd[2];
    for (int s = 0; s < 2; s++) {
        const double h = s ? -1e-6 : 1e-6;
        double *d = tg_tensor_f64(in[i]);
        for (int64_t k = 0; k < tg_tensor_numel(t); k++) d[k] += h * tg_tensor_get_flat(t, k);
        tg_tape *t2 = tg_tape_new(NULL);
        fd[s] = dot(w, f(t2, in));
        tg_tape_free(t2);
        for (int64_t k = 0; k < tg_tensor_numel(t); k++) d[k] -= h * tg_tensor_get_flat(t, k);
    }
    const double c = (fd[0] - fd[1]) / 2e-6;
    ck_assert_msg(fabs(c - fwd) <= 1e-6 * (1 + fabs(c)), "%s input %d: tangent %.10g, fd %.10g",
                  name, i, fwd, c);
    tg_tape_free(tp);
    tg_tensor_free(t);
    tg_tensor_free(w);
}

static tg_tensor *g_conv(tg_tape *tp, tg_tensor **in)
{
    return tg_conv2d(tp, in[0], in[1], in[2], 1, 1, 1, 0);
}
static tg_tensor *g_layer_norm(tg_tape *tp, tg_tensor **in)
{
    return tg_layer_norm(tp, in[0], 1, in[1], in[2], 1e-5);
}
static tg_tensor *g_scatter_add(tg_tape *tp, tg_tensor **in)
{
    return tg_scatter_add(tp, in[0], 1, in[3], in[1]);
}
static tg_tensor *g_solve(tg_tape *tp, tg_tensor **in)
{
    return tg_solve(tp, in[0], in[1]);
}
static tg_tensor *g_solve_tri(tg_tape *tp, tg_tensor **in)
{
    return tg_solve_triangular(tp, in[0], in[1], false);
}

START_TEST(test_one_input_tangents)
{
    tg_tensor *cv[3] = {tt_param(4, TT_SHAPE(2, 2, 4, 4), 31, -1, 1),
                        tt_param(4, TT_SHAPE(3, 2, 3, 3), 32, -1, 1),
                        tt_param(1, TT_SHAPE(3), 33, -1, 1)};
    for (int i = 0; i < 3; i++) check_one_input("conv2d", g_conv, cv, i);
    tg_tensor *ln[3] = {tt_param(2, TT_SHAPE(3, 5), 41, -1, 1),
                        tt_param(1, TT_SHAPE(5), 42, 0.5, 1.5),
                        tt_param(1, TT_SHAPE(5), 43, -1, 1)};
    for (int i = 0; i < 3; i++) check_one_input("layer_norm", g_layer_norm, ln, i);
    tg_tensor *sc[4] = {
        tt_param(2, TT_SHAPE(3, 4), 51, -1, 1), tt_param(2, TT_SHAPE(3, 2), 52, -1, 1), NULL,
        tg_tensor_from(TG_I64, 2, TT_SHAPE(3, 2), (const int64_t[]){1, 1, 0, 3, 2, 0})};
    for (int i = 0; i < 2; i++) check_one_input("scatter_add", g_scatter_add, sc, i);
    tg_tensor *la[2] = {tt_param(2, TT_SHAPE(3, 3), 61, -1, 1),
                        tt_param(2, TT_SHAPE(3, 2), 62, -1, 1)};
    double *d = tg_tensor_f64(la[0]);
    for (int j = 0; j < 3; j++) d[4 * j] += 3; /* well conditioned */
    for (int i = 0; i < 2; i++) {
        check_one_input("solve", g_solve, la, i);
        check_one_input("solve_triangular", g_solve_tri, la, i);
    }
    tg_tensor *all[] = {cv[0], cv[1], cv[2], ln[0], ln[1], ln[2],
                        sc[0], sc[1], sc[3], la[0], la[1]};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tg_tensor_free(all[i]);
}
END_TEST

/* embedding's padding row is read but gets no gradient (PyTorch's rule);
 * its tangent is then none either, so the two modes stay each other's
 * transpose: <w, J t> = <J^T w, t> with the padding row in use. */
START_TEST(test_embedding_padding_tangent)
{
    tg_tensor *wt = tt_param(2, TT_SHAPE(4, 3), 201, -1, 1);
    tg_tensor *t = tt_rand(TG_F64, 2, TT_SHAPE(4, 3), 202, -1, 1);
    tg_tensor *rows = tg_tensor_from(TG_I64, 1, TT_SHAPE(3), (const int64_t[]){2, 0, 2});
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_embedding(tp, wt, rows, 2), *jt = NULL;
    ck_assert_int_eq(tg_jvp(tp, 1, &wt, &t, 1, &y, &jt, false), TG_OK);
    for (int j = 0; j < 3; j++) {
        ck_assert_double_eq(tg_tensor_get_flat(jt, j), 0.0);     /* row 2: padding */
        ck_assert_double_eq(tg_tensor_get_flat(jt, 6 + j), 0.0); /* row 2 again */
        ck_assert_double_eq(tg_tensor_get_flat(jt, 3 + j), tg_tensor_get_flat(t, j));
    }
    tg_tape_free(tp);
    tg_tensor_free(wt);
    tg_tensor_free(t);
    tg_tensor_free(rows);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tangents_b");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_rules_and_formulas);
    tcase_add_test(tc, test_attribute_printers);
    tcase_add_test(tc, test_forward_over_reverse);
    tcase_add_test(tc, test_one_input_tangents);
    tcase_add_test(tc, test_embedding_padding_tangent);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
