/* The per-op teaching and forward-mode data of the elementwise, activation,
 * selection, softmax, shape, matmul and loss ops (src/ops/elementwise.c,
 * activation.c, elementary.c, select.c, fast_dropout.c, loss.c,
 * softmax.c, shape.c, permute.c, matmul.c), beyond what test_jvp checks on
 * the op case table:
 *   - each differentiable descriptor of these files has a tangent rule and
 *     a one-line formula;
 *   - the attribute printers show what the call was given, and every node
 *     of these ops that the op-case rows record with saved attributes has
 *     a printer;
 *   - a tangent on one input alone: a broadcast input's tangent is
 *     broadcast to the output's shape, a missing one is zero (binary ops,
 *     where, clamp_tensor, concat, matmul), against reverse mode;
 *   - three ways to H v agree: forward over reverse (the tangent rules of
 *     the gradient ops create_graph records: sigmoid_grad, xmul, ...),
 *     reverse over forward (the tangent rules recorded with create_graph,
 *     then differentiated) and reverse over reverse. */
#include "../src/core/internal.h"
#include "../src/ops/registry.h"
#include "common.h"
#include "last_attrs.h"
#include "op_cases.h"

static const tg_op *const *const k_files[] = {
    tg__ops_activation, tg__ops_elementary, tg__ops_elementwise, tg__ops_fast_dropout,
    tg__ops_loss,       tg__ops_matmul,     tg__ops_permute,     tg__ops_select,
    tg__ops_shape,      tg__ops_softmax,
};

START_TEST(test_rules_and_formulas)
{
    int n = 0, nd = 0;
    for (size_t f = 0; f < sizeof k_files / sizeof k_files[0]; f++)
        for (const tg_op *const *op = k_files[f]; *op; op++, n++) {
            if (!(*op)->backward) continue;
            nd++;
            ck_assert_msg((*op)->jvp != NULL, "%s has no tangent rule", (*op)->name);
            ck_assert_msg((*op)->formula != NULL, "%s has no formula", (*op)->name);
            /* a rule in the teaching notation: "dx += ...", "da += ...; db += ..." */
            ck_assert_msg((*op)->formula[0] == 'd' && strstr((*op)->formula, "+=") != NULL,
                          "%s: formula \"%s\"", (*op)->name, (*op)->formula);
        }
    ck_assert_int_ge(n, 80);
    ck_assert_int_ge(nd, 70);
}
END_TEST

START_TEST(test_attribute_printers)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_param(3, TT_SHAPE(2, 3, 4), 11, 0.5, 1.5);
    tg_tensor *m = tt_param(2, TT_SHAPE(4, 3), 12, -1, 1);
    ATTRS(tp, tg_add_scalar(tp, x, 2.5), "add_scalar", "2.5");
    ATTRS(tp, tg_mul_scalar(tp, x, 0.5), "mul_scalar", "0.5");
    ATTRS(tp, tg_rsub_scalar(tp, 1.0, x), "rsub_scalar", "1");
    ATTRS(tp, tg_rdiv_scalar(tp, -3.0, x), "rdiv_scalar", "-3");
    ATTRS(tp, tg_pow_scalar(tp, x, 1.5), "pow_scalar", "1.5");
    ATTRS(tp, tg_leaky_relu(tp, x, 0.01), "leaky_relu", "slope=0.01");
    ATTRS(tp, tg_elu(tp, x, 1.0), "elu", "alpha=1");
    ATTRS(tp, tg_hardtanh(tp, x, -1.0, 0.75), "hardtanh", "lo=-1, hi=0.75");
    ATTRS(tp, tg_clamp(tp, x, 0.25, 2.0), "clamp", "lo=0.25, hi=2");
    ATTRS(tp, tg_permute_dims(tp, x, 3, (const int[]){2, 0, 1}), "permute", "perm=(2,0,1)");
    ATTRS(tp, tg_transpose(tp, x, 0, -1), "permute", "perm=(2,1,0)");
    ATTRS(tp, tg_slice(tp, x, 2, 1, 100, 2), "slice", "axis=2, start=1, stop=4, step=2");
    ATTRS(tp, tg_slice(tp, x, -1, -3, -1, 1), "slice", "axis=2, start=1, stop=3, step=1");
    ATTRS(tp, tg_embed(tp, x, 3, TT_SHAPE(2, 7, 4), 1, 1, 2), "embed", "axis=1, start=1, step=2");
    ATTRS(tp, tg_concat(tp, 2, (tg_tensor *[]){x, x}, -1), "concat", "axis=2");
    ATTRS(tp, tg_softmax(tp, x, 1), "softmax", "axis=1");
    ATTRS(tp, tg_log_softmax(tp, x, -1), "log_softmax", "axis=2");
    ATTRS(tp, tg_matmul(tp, x, m), "matmul", "");
    ATTRS(tp, tg_matmul_t(tp, m, m, true, false), "matmul", "trans_a=1, trans_b=0");
    ATTRS(tp, tg_fast_dropout_linear(tp, tg_reshape(tp, x, 2, TT_SHAPE(6, 4)), m, 0.25),
          "fast_dropout", "p=0.25");
    /* snprintf's contract: truncated, NUL terminated, the wanted length */
    ck_assert_ptr_nonnull(tg_leaky_relu(tp, x, 0.125));
    const tg_node *nd = tg__tape_node(tp, tg__tape_num_nodes(tp) - 1);
    char small[5];
    ck_assert_int_eq(tg_node_op(nd)->attrs(nd, small, sizeof small), 11);
    ck_assert_str_eq(small, "slop");
    /* ops without attributes print none */
    ck_assert_ptr_nonnull(tg_add(tp, x, x));
    nd = tg__tape_node(tp, tg__tape_num_nodes(tp) - 1);
    ck_assert(tg_node_op(nd)->attrs == NULL);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(m);
}
END_TEST

/* Whether op is one of this file's group's. */
static bool in_group_a(const tg_op *op)
{
    for (size_t f = 0; f < sizeof k_files / sizeof k_files[0]; f++)
        for (const tg_op *const *p = k_files[f]; *p; p++)
            if (*p == op) return true;
    return false;
}

/* Every node of the group's ops that the op-case rows record with saved
 * attributes prints them, snprintf-style (group B's det saves only which
 * of det and slogdet it is, which the op's name already says). */
START_TEST(test_saved_attributes_print)
{
    oc_consts *K = oc_consts_new();
    int checked = 0;
    const oc_case *c;
    for (int i = -1; (c = oc_next(&i, OC_DIRECT));) {
        tg_tensor *x = tt_param(4, TT_SHAPE(2, 2, 4, 4), 501, 0.2, 2);
        tg_tape *tp = tg_tape_new(NULL);
        ck_assert_msg(c->f(tp, x, NULL, K) != NULL, "%s: %s", c->id, tg_tape_error(tp));
        for (int64_t k = 0; k < tg__tape_num_nodes(tp); k++) {
            const tg_node *nd = tg__tape_node(tp, k);
            if (!tg_node_saved(nd) || !in_group_a(tg_node_op(nd))) continue;
            ck_assert_msg(tg_node_op(nd)->attrs != NULL,
                          "%s (row %s) saves attributes but has "
                          "no printer",
                          tg_node_op(nd)->name, c->id);
            char buf[200];
            const int len = tg_node_op(nd)->attrs(nd, buf, sizeof buf);
            ck_assert_msg(len >= 0 && len < (int)sizeof buf && (size_t)len == strlen(buf),
                          "%s: printer returned %d for \"%s\"", tg_node_op(nd)->name, len, buf);
            checked++;
        }
        tg_tape_free(tp);
        tg_tensor_free(x);
    }
    ck_assert_int_ge(checked, 50);
    oc_consts_free(K);
}
END_TEST

/* ---- a tangent on one input ------------------------------------------------ */
typedef tg_tensor *(*fn2)(tg_tape *tp, tg_tensor *a, tg_tensor *b);

/* f(a, b) with a tangent on input `which` alone (0: a, 1: b): J t has the
 * output's shape and <w, J t> = <J^T w, t> (reverse mode, independent). */
static void check_one_tangent(const char *name, fn2 f, tg_tensor *a, tg_tensor *b, int which)
{
    tg_tensor *x = which == 0 ? a : b;
    tg_tensor *t = tt_rand(TG_F64, tg_tensor_ndim(x), tg_tensor_shape(x), 301 + which, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = f(tp, a, b), *jt = NULL;
    ck_assert_msg(y != NULL, "%s: %s", name, tg_tape_error(tp));
    ck_assert_msg(tg_jvp(tp, 1, &x, &t, 1, &y, &jt, false) == TG_OK, "%s: %s", name,
                  tg_tape_error(tp));
    tt_assert_shape(jt, tg_tensor_ndim(y), tg_tensor_shape(y));
    tg_tensor *w = tt_rand(TG_F64, tg_tensor_ndim(y), tg_tensor_shape(y), 303, -1, 1), *g = NULL;
    ck_assert_msg(tg_vjp(tp, y, w, 1, &x, &g, false) == TG_OK, "%s: %s", name, tg_tape_error(tp));
    double fwd = 0, rev = 0, scale = 0;
    for (int64_t k = 0; k < tg_tensor_numel(y); k++) {
        fwd += tg_tensor_get_flat(w, k) * tg_tensor_get_flat(jt, k);
        scale += fabs(tg_tensor_get_flat(w, k) * tg_tensor_get_flat(jt, k));
    }
    for (int64_t k = 0; k < tg_tensor_numel(x); k++)
        rev += tg_tensor_get_flat(g, k) * tg_tensor_get_flat(t, k);
    ck_assert_msg(scale > 0, "%s (input %d): J t is zero: the check would check nothing", name,
                  which);
    ck_assert_msg(fabs(fwd - rev) <= 1e-12 * scale, "%s (input %d): forward %.17g, reverse %.17g",
                  name, which, fwd, rev);
    tg_tape_free(tp);
    tg_tensor_free(t);
    tg_tensor_free(w);
}

static tg_tensor *f_add(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return tg_add(tp, a, b);
}
static tg_tensor *f_sub(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return tg_sub(tp, a, b);
}
static tg_tensor *f_div(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return tg_div(tp, a, b);
}
static tg_tensor *f_pow(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return tg_pow(tp, a, b);
}
static tg_tensor *f_maximum(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return tg_maximum(tp, a, b);
}
static tg_tensor *f_atan2(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return tg_atan2(tp, a, b);
}
static tg_tensor *f_hypot(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return tg_hypot(tp, a, b);
}
/* where(a > 1, a, b) and where(a > 1, b, a): each side broadcast */
static tg_tensor *f_where(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *c = tg_gt(tp, a, tg__const_full(tp, TG_F64, 0, NULL, 1.0));
    return tg_add(tp, tg_where(tp, c, a, b), tg_where(tp, c, b, a));
}
/* clamp(a, lo = b, hi = 2): x (a) and lo (b) broadcast */
static tg_tensor *f_clamp_tensor(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return tg_clamp_tensor(tp, a, b, tg__const_full(tp, TG_F64, 0, NULL, 2.0));
}
static tg_tensor *f_concat(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return tg_concat(tp, 2, (tg_tensor *[]){a, tg_broadcast_to(tp, b, 2, TT_SHAPE(3, 4))}, 0);
}
/* a (3,4) @ b^T (4,4)^T and a (2,3,4) batch against a shared 2-d b */
static tg_tensor *f_matmul(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *bb =
        tg_mul(tp, tg_reshape(tp, b, 2, TT_SHAPE(1, 4)),
               tg_broadcast_to(tp, tg_reshape(tp, b, 2, TT_SHAPE(4, 1)), 2, TT_SHAPE(4, 4)));
    tg_tensor *a3 =
        tg_reshape(tp, tg_concat(tp, 2, (tg_tensor *[]){a, a}, 0), 3, TT_SHAPE(2, 3, 4));
    return tg_add(tp, tg_matmul_t(tp, a, bb, false, true), tg_matmul(tp, a3, bb));
}

START_TEST(test_one_input_tangent)
{
    static const struct {
        const char *name;
        fn2 f;
    } cases[] = {
        {"add", f_add},       {"sub", f_sub},         {"div", f_div},
        {"pow", f_pow},       {"maximum", f_maximum}, {"atan2", f_atan2},
        {"hypot", f_hypot},   {"where", f_where},     {"clamp_tensor", f_clamp_tensor},
        {"concat", f_concat}, {"matmul", f_matmul},
    };
    tg_tensor *a = tt_param(2, TT_SHAPE(3, 4), 311, 0.5, 1.5);
    tg_tensor *b = tt_param(1, TT_SHAPE(4), 312, 0.5, 1.5);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int which = 0; which < 2; which++)
            check_one_tangent(cases[i].name, cases[i].f, a, b, which);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* add with the small input's tangent alone: each output row is it. */
START_TEST(test_broadcast_tangent_values)
{
    tg_tensor *a = tt_param(2, TT_SHAPE(3, 4), 321, -1, 1);
    tg_tensor *b = tt_param(1, TT_SHAPE(4), 322, -1, 1);
    tg_tensor *t = tt_rand(TG_F64, 1, TT_SHAPE(4), 323, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_add(tp, a, b), *jt = NULL;
    ck_assert_int_eq(tg_jvp(tp, 1, &b, &t, 1, &y, &jt, false), TG_OK);
    tt_assert_shape(jt, 2, TT_SHAPE(3, 4));
    for (int64_t k = 0; k < 12; k++)
        ck_assert_double_eq(tg_tensor_get_flat(jt, k), tg_tensor_get_flat(t, k % 4));
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(t);
}
END_TEST

/* ---- H v three ways ------------------------------------------------------------ */
typedef tg_tensor *(*fn1)(tg_tape *tp, tg_tensor *x);

/* H v of L = sum(f(x)^2 / 2) as
 *   - forward over reverse: the tangent of the recorded gradient;
 *   - reverse over forward: the gradient of the tangent of L, recorded;
 *   - reverse over reverse: the gradient of <g, v>;
 * the three agree to rounding. */
static void check_hvp(const char *name, fn1 f, int nd, const int64_t *shape, double lo, double hi,
                      uint64_t seed)
{
    tg_tensor *x = tt_param(nd, shape, seed, lo, hi);
    tg_tensor *v = tt_rand(TG_F64, nd, shape, seed + 1, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = f(tp, x);
    ck_assert_msg(y != NULL, "%s: %s", name, tg_tape_error(tp));
    tg_tensor *loss = tg_mul_scalar(tp, tg_sum_all(tp, tg_square(tp, y)), 0.5);
    tg_tensor *g = tg_grad(tp, loss, x, true);
    ck_assert_msg(g != NULL, "%s: %s", name, tg_tape_error(tp));
    tg_tensor *hv = NULL, *dl = NULL;
    ck_assert_msg(tg_jvp(tp, 1, &x, &v, 1, &g, &hv, false) == TG_OK, "%s: %s", name,
                  tg_tape_error(tp));
    ck_assert_msg(tg_jvp(tp, 1, &x, &v, 1, &loss, &dl, true) == TG_OK, "%s: %s", name,
                  tg_tape_error(tp));
    tg_tensor *h1 = tg_grad(tp, dl, x, false);
    ck_assert_msg(h1 != NULL, "%s: %s", name, tg_tape_error(tp));
    tg_tensor *h2 = tg_grad(tp, tg_sum_all(tp, tg_mul(tp, g, v)), x, false);
    ck_assert_msg(h2 != NULL, "%s: %s", name, tg_tape_error(tp));
    double scale = 0;
    for (int64_t k = 0; k < tg_tensor_numel(x); k++)
        scale = fmax(scale, fabs(tg_tensor_get_flat(h2, k)));
    ck_assert_msg(scale > 0, "%s: H v is zero: the check would check nothing", name);
    for (int64_t k = 0; k < tg_tensor_numel(x); k++) {
        const double a = tg_tensor_get_flat(hv, k), b = tg_tensor_get_flat(h1, k);
        const double c = tg_tensor_get_flat(h2, k);
        ck_assert_msg(fabs(a - c) <= 1e-10 * scale && fabs(b - c) <= 1e-10 * scale,
                      "%s: element %lld: forward over reverse %.17g, reverse over forward "
                      "%.17g, reverse over reverse %.17g",
                      name, (long long)k, a, b, c);
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(v);
}

/* sigmoid, tanh, relu and square record their fused gradient ops */
static tg_tensor *f_activations(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *s = tg_sigmoid(tp, x), *t = tg_tanh(tp, tg_mul(tp, x, s));
    return tg_add(tp, tg_mul(tp, tg_relu(tp, tg_add_scalar(tp, x, -0.1)), t),
                  tg_square(tp, tg_softplus(tp, t)));
}
static tg_tensor *f_attr_activations(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *x2 = tg_mul(tp, x, x);
    return tg_add(tp, tg_mul(tp, tg_elu(tp, x, 0.7), tg_leaky_relu(tp, tg_mul(tp, x, x2), 0.1)),
                  tg_mul(tp, tg_hardtanh(tp, x, -0.8, 0.8), tg_gelu_tanh(tp, x)));
}
static tg_tensor *f_elementary(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *u = tg_mul_scalar(tp, x, 0.4);
    return tg_add(tp, tg_mul(tp, tg_sin(tp, x), tg_atanh(tp, u)),
                  tg_div(tp, tg_erf(tp, x), tg_cbrt(tp, tg_add_scalar(tp, tg_exp(tp, x), 1.0))));
}
static tg_tensor *f_binary(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *b = tg_reshape(tp, tg_slice(tp, x, 0, 0, 1, 1), 1, TT_SHAPE(4));
    tg_tensor *p = tg_pow(tp, tg_add_scalar(tp, tg_abs(tp, x), 0.5), b);
    return tg_add(tp, tg_mul(tp, tg_atan2(tp, x, b), tg_hypot(tp, x, tg_rdiv_scalar(tp, 2.0, b))),
                  tg_maximum(tp, p, tg_pow_scalar(tp, x, 3.0)));
}
static tg_tensor *f_select(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *c = tg_gt(tp, x, tg__const_full(tp, TG_F64, 0, NULL, 0.0));
    tg_tensor *lo =
        tg_mul_scalar(tp, tg_reshape(tp, tg_slice(tp, x, 0, 2, 3, 1), 1, TT_SHAPE(4)), 0.5);
    tg_tensor *w = tg_where(tp, c, tg_square(tp, x), tg_neg(tp, x));
    tg_tensor *k = tg_clamp_tensor(tp, tg_sin(tp, x), lo, NULL);
    tg_tensor *mf = tg_masked_fill(tp, tg_exp(tp, x), c, 0.25);
    return tg_add(tp, tg_mul(tp, w, k), tg_mul(tp, mf, tg_clamp(tp, x, -0.5, 0.5)));
}
static tg_tensor *f_softmax(tg_tape *tp, tg_tensor *x)
{
    return tg_mul(tp, tg_softmax(tp, tg_mul(tp, x, x), 1), tg_log_softmax(tp, x, 0));
}
static tg_tensor *f_matmul_shapes(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *p =
        tg_permute_dims(tp, tg_reshape(tp, x, 3, TT_SHAPE(2, 2, 3)), 3, (const int[]){1, 0, 2});
    tg_tensor *e = tg_embed(tp, tg_slice(tp, x, 1, 0, 3, 2), 2, TT_SHAPE(3, 3), 1, 0, 2);
    tg_tensor *m =
        tg_matmul_t(tp, tg_reshape(tp, p, 2, TT_SHAPE(4, 3)), tg_tanh(tp, e), false, true);
    tg_tensor *pe = tg_reshape(tp, tg_matmul(tp, p, e), 2, TT_SHAPE(4, 3));
    return tg_concat(tp, 2, (tg_tensor *[]){m, pe}, 0);
}
/* the cross entropy with a masked class (xmul) and label targets, and
 * fast dropout */
static tg_tensor *f_losses(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *z = tg_concat(
        tp, 2, (tg_tensor *[]){x, tg__const_full(tp, TG_F64, 2, TT_SHAPE(3, 1), -INFINITY)}, 1);
    tg_tensor *labels = tg_tensor_from(TG_I64, 1, TT_SHAPE(3), (const int64_t[]){1, 0, 3});
    tg_tensor *l = tg_softmax_cross_entropy_index(tp, z, labels, TG_REDUCE_MEAN);
    tg_tensor_free(labels);
    tg_tensor *w = tg_reshape(tp, tg_slice(tp, x, 0, 1, 3, 1), 2, TT_SHAPE(4, 2));
    tg_tensor *d = tg_fast_dropout_linear(tp, x, w, 0.6);
    return tg_add(tp, d, tg_reshape(tp, l, 2, TT_SHAPE(1, 1)));
}

START_TEST(test_hvp_three_ways)
{
    check_hvp("activations", f_activations, 2, TT_SHAPE(3, 4), -1, 1, 401);
    check_hvp("attribute activations", f_attr_activations, 2, TT_SHAPE(3, 4), -1, 1, 403);
    check_hvp("elementary", f_elementary, 2, TT_SHAPE(3, 4), -1, 1, 405);
    check_hvp("binary", f_binary, 2, TT_SHAPE(3, 4), 0.5, 1.5, 407);
    check_hvp("select", f_select, 2, TT_SHAPE(3, 4), -1, 1, 409);
    check_hvp("softmax", f_softmax, 2, TT_SHAPE(3, 4), -1, 1, 411);
    check_hvp("matmul and shapes", f_matmul_shapes, 2, TT_SHAPE(3, 4), -1, 1, 413);
    check_hvp("losses", f_losses, 2, TT_SHAPE(3, 4), -1, 1, 415);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tangents_a");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_rules_and_formulas);
    tcase_add_test(tc, test_attribute_printers);
    tcase_add_test(tc, test_saved_attributes_print);
    tcase_add_test(tc, test_one_input_tangent);
    tcase_add_test(tc, test_broadcast_tangent_values);
    tcase_add_test(tc, test_hvp_three_ways);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
