/* Forward mode beyond the per-op rules of test_jvp.c: custom ops (a tangent
 * built from the backward rule when the op has no tangent rule, the op's
 * own rule when it has one, a wrong rule reported), tangents recorded with
 * create_graph (forward over reverse against tg_hvp, jvp of jvp against
 * finite differences), and Jacobians and Hessians both ways on random
 * graphs.
 *
 * Which path the built-in ops take: tanh and exp have their own tangent
 * rule (a diagonal Jacobian); matmul, mul, add, sum and softmax take the
 * double-vjp construction until their rules are written, and their own
 * rules from then on.  The comparisons here hold for either path, so after
 * the rules land these tests check both modes through them unchanged. */
#include "common.h"

#include <math.h>
#include <string.h>

/* max |a - b| <= tol max(1, max |b|), elementwise over two tensors of one
 * size: a relative comparison that does not blow up at a zero entry. */
static void assert_near(const char *what, const tg_tensor *a, const tg_tensor *b, double tol)
{
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(tg_tensor_numel(a), tg_tensor_numel(b));
    double scale = 1, worst = 0;
    int64_t at = 0;
    for (int64_t k = 0; k < tg_tensor_numel(b); k++)
        scale = fmax(scale, fabs(tg_tensor_get_flat(b, k)));
    for (int64_t k = 0; k < tg_tensor_numel(a); k++) {
        const double d = fabs(tg_tensor_get_flat(a, k) - tg_tensor_get_flat(b, k));
        if (!(d <= worst)) {
            worst = d;
            at = k;
        }
    }
    ck_assert_msg(worst <= tol * scale, "%s: element %lld: %.17g vs %.17g (diff %.3g, scale %.3g)",
                  what, (long long)at, tg_tensor_get_flat(a, at), tg_tensor_get_flat(b, at), worst,
                  scale);
}

/* ---- custom ops ------------------------------------------------------------ */

/* cubemul(x, w) = x^3 w (one shape), with only a backward rule:
 * dx = g 3 x^2 w, dw = g x^3. */
static tg_status cubemul_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0), *w = tg_node_input(n, 1);
    tg_tensor *x2 = tg_mul(tp, x, x);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg_mul(tp, g, tg_mul_scalar(tp, tg_mul(tp, x2, w), 3));
    if (tg_node_needs_grad(n, 1)) gin[1] = tg_mul(tp, g, tg_mul(tp, x2, x));
    return TG_OK;
}
static const tg_op k_cubemul = {.name = "cubemul", .arity = 2, .backward = cubemul_backward};

static tg_tensor *cubemul(tg_tape *tp, tg_tensor *x, tg_tensor *w)
{
    tg_tensor *in[2] = {x, w};
    if (!tg_tape_check_inputs(tp, "cubemul", 2, in)) return NULL;
    tg_tensor *y = tg_tape_alloc(tp, TG_F64, tg_tensor_ndim(x), tg_tensor_shape(x));
    if (!y) return NULL;
    for (int64_t k = 0; k < tg_tensor_numel(x); k++) {
        const double v = tg_tensor_get_flat(x, k);
        tg_tensor_set_flat(y, k, v * v * v * tg_tensor_get_flat(w, k));
    }
    return tg_tape_record(tp, &k_cubemul, 2, in, y, NULL, 0, 0, NULL);
}

/* matvec(a, x) = a @ x, a (3,4), x (4,1), with only a backward rule:
 * da = g x^T, dx = a^T g.  Its Jacobian is not diagonal. */
static tg_status matvec_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *a = tg_node_input(n, 0), *x = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg_matmul_t(tp, g, x, false, true);
    if (tg_node_needs_grad(n, 1)) gin[1] = tg_matmul_t(tp, a, g, true, false);
    return TG_OK;
}
static const tg_op k_matvec = {.name = "matvec", .arity = 2, .backward = matvec_backward};

static tg_tensor *matvec(tg_tape *tp, tg_tensor *a, tg_tensor *x)
{
    tg_tensor *in[2] = {a, x};
    tg_tensor *y = tg_tape_alloc(tp, TG_F64, 2, TT_SHAPE(3, 1));
    if (!y) return NULL;
    for (int64_t i = 0; i < 3; i++) {
        double s = 0;
        for (int64_t j = 0; j < 4; j++)
            s += tg_tensor_get_flat(a, 4 * i + j) * tg_tensor_get_flat(x, j);
        tg_tensor_set_flat(y, i, s);
    }
    return tg_tape_record(tp, &k_matvec, 2, in, y, NULL, 0, 0, NULL);
}

START_TEST(test_custom_op_without_tangent_rule)
{
    tg_tensor *x = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 11, -1.5, 1.5);
    tg_tensor *w = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 12, -1, 1);
    tg_tensor *tx = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 13, -1, 1);
    tg_tensor *tw = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 14, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = cubemul(tp, x, w), *t = NULL;
    ck_assert_int_eq(
        tg_jvp(tp, 2, (tg_tensor *[]){x, w}, (tg_tensor *[]){tx, tw}, 1, &y, &t, false), TG_OK);
    double expect[6];
    for (int k = 0; k < 6; k++) {
        const double v = tg_tensor_get_flat(x, k);
        expect[k] = 3 * v * v * tg_tensor_get_flat(w, k) * tg_tensor_get_flat(tx, k) +
                    v * v * v * tg_tensor_get_flat(tw, k);
    }
    tt_assert_values("cubemul tangent", t, expect, 6, 1e-14, 1e-15);

    /* with create_graph the tangent is recorded: d/dx sum(t) = 6 x w tx + 3 x^2 tw */
    tg_tensor *tg = NULL;
    ck_assert_int_eq(
        tg_jvp(tp, 2, (tg_tensor *[]){x, w}, (tg_tensor *[]){tx, tw}, 1, &y, &tg, true), TG_OK);
    tg_tensor *gx = tg_grad(tp, tg_sum_all(tp, tg), x, false);
    ck_assert_msg(gx != NULL, "%s", tg_tape_error(tp));
    for (int k = 0; k < 6; k++) {
        const double v = tg_tensor_get_flat(x, k);
        expect[k] = 6 * v * tg_tensor_get_flat(w, k) * tg_tensor_get_flat(tx, k) +
                    3 * v * v * tg_tensor_get_flat(tw, k);
    }
    tt_assert_values("d sum(tangent) / dx", gx, expect, 6, 1e-14, 1e-15);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(tx);
    tg_tensor_free(tw);
}
END_TEST

START_TEST(test_custom_matvec_tangent)
{
    tg_tensor *a = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 21, -1, 1);
    tg_tensor *x = tt_rand(TG_F64, 2, TT_SHAPE(4, 1), 22, -1, 1);
    tg_tensor *ta = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 23, -1, 1);
    tg_tensor *tx = tt_rand(TG_F64, 2, TT_SHAPE(4, 1), 24, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    /* tanh after it: the sweep carries the fallback's tangent on */
    tg_tensor *y = tg_tanh(tp, matvec(tp, a, x)), *t = NULL;
    ck_assert_int_eq(
        tg_jvp(tp, 2, (tg_tensor *[]){a, x}, (tg_tensor *[]){ta, tx}, 1, &y, &t, false), TG_OK);
    double expect[3];
    for (int i = 0; i < 3; i++) {
        double d = 0; /* (ta x + a tx)_i */
        for (int j = 0; j < 4; j++)
            d += tg_tensor_get_flat(ta, 4 * i + j) * tg_tensor_get_flat(x, j) +
                 tg_tensor_get_flat(a, 4 * i + j) * tg_tensor_get_flat(tx, j);
        const double yi = tg_tensor_get_flat(y, i);
        expect[i] = (1 - yi * yi) * d;
    }
    tt_assert_values("matvec tangent", t, expect, 3, 1e-13, 1e-15);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(x);
    tg_tensor_free(ta);
    tg_tensor_free(tx);
}
END_TEST

/* twice(x) = 2x with a tangent rule that counts its calls. */
static int g_twice_jvp_calls;
static tg_status twice_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    (void)n;
    gin[0] = tg_mul_scalar(tp, g, 2);
    return TG_OK;
}
static tg_status twice_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    (void)n;
    g_twice_jvp_calls++;
    *tout = tg_mul_scalar(tp, tin[0], 2);
    return TG_OK;
}
/* A rule giving a tangent of the wrong shape (a sum instead of the vector). */
static tg_status twice_jvp_wrong(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                                 tg_tensor **tout)
{
    (void)n;
    *tout = tg_sum_all(tp, tin[0]);
    return TG_OK;
}
/* A backward rule of the wrong shape: the fallback dots it with a tangent. */
static tg_status twice_backward_wrong(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    (void)n;
    gin[0] = tg_sum_all(tp, g);
    return TG_OK;
}
static const tg_op k_twice = {
    .name = "twice", .arity = 1, .backward = twice_backward, .jvp = twice_jvp};
static const tg_op k_twice_wrong = {
    .name = "twice_wrong", .arity = 1, .backward = twice_backward, .jvp = twice_jvp_wrong};
static const tg_op k_twice_wrong_back = {
    .name = "twice_wrong_back", .arity = 1, .backward = twice_backward_wrong};

static tg_tensor *twice(tg_tape *tp, const tg_op *op, tg_tensor *x)
{
    tg_tensor *y = tg_tape_alloc(tp, TG_F64, tg_tensor_ndim(x), tg_tensor_shape(x));
    if (!y) return NULL;
    for (int64_t k = 0; k < tg_tensor_numel(x); k++)
        tg_tensor_set_flat(y, k, 2 * tg_tensor_get_flat(x, k));
    return tg_tape_record(tp, op, 1, &x, y, NULL, 0, 0, NULL);
}

START_TEST(test_custom_op_with_tangent_rule)
{
    tg_tensor *x = tt_rand(TG_F64, 1, TT_SHAPE(3), 31, -1, 1);
    tg_tensor *tx = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, -2, 0.5));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = twice(tp, &k_twice, x), *t = NULL;
    g_twice_jvp_calls = 0;
    ck_assert_int_eq(tg_jvp(tp, 1, &x, &tx, 1, &y, &t, false), TG_OK);
    ck_assert_int_eq(g_twice_jvp_calls, 1);
    tt_assert_values("twice tangent", t, TT_VALUES(2, -4, 1), 3, 0, 0);
    /* nothing recorded without create_graph: the rule's ops are constants */
    const int64_t nodes = tg_tape_usage(tp).nodes;
    ck_assert_int_eq(tg_jvp(tp, 1, &x, &tx, 1, &y, &t, false), TG_OK);
    ck_assert_int_eq(tg_tape_usage(tp).nodes, nodes);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(tx);
}
END_TEST

START_TEST(test_custom_rule_wrong_shape)
{
    tg_tensor *x = tt_rand(TG_F64, 1, TT_SHAPE(3), 41, -1, 1);
    tg_tensor *tx = tt_rand(TG_F64, 1, TT_SHAPE(3), 42, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = twice(tp, &k_twice_wrong, x), *t = NULL;
    ck_assert_int_eq(tg_jvp(tp, 1, &x, &tx, 1, &y, &t, false), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_tape_error(tp),
                     "jvp: tangent rule of twice_wrong (node 0) gave f64[] for its output f64[3] "
                     "[node 1]");
    tg_tape_free(tp);
    tp = tg_tape_new(NULL);
    y = twice(tp, &k_twice_wrong_back, x);
    ck_assert_int_eq(tg_jvp(tp, 1, &x, &tx, 1, &y, &t, false), TG_ERR_SHAPE);
    tt_assert_tape_error(tp, TG_ERR_SHAPE,
                         "jvp: backward rule of twice_wrong_back (node 0, no tangent rule) gave "
                         "f64[] for input 0 f64[3]");
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(tx);
}
END_TEST

/* ---- random graphs ------------------------------------------------------------ */

/* A tape constant (r, c) in [lo, hi) of dtype dt. */
static tg_tensor *rconst(tg_tape *tp, tg_dtype dt, int64_t r, int64_t c, tg_rng *rng, double lo,
                         double hi)
{
    tg_tensor *t = tg_tape_alloc(tp, dt, 2, TT_SHAPE(r, c));
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(tg_tensor_fill_uniform(t, rng, lo, hi), TG_OK);
    return t;
}

/* A graph of 3 to 6 steps drawn from matmul, tanh, exp, mul, broadcasting
 * add and softmax, from x (r, c), then (for odd seeds) a sum along axis 1:
 * outputs from fewer to more elements than x.  Constants are tape-owned. */
static tg_tensor *random_graph(tg_tape *tp, tg_tensor *x, uint64_t seed)
{
    tg_rng rng;
    tg_rng_seed(&rng, seed * 7919 + 1);
    const tg_dtype dt = tg_tensor_dtype(x);
    tg_tensor *h = x;
    const int steps = 3 + (int)(tg_rng_next(&rng) % 4);
    for (int s = 0; s < steps; s++) {
        const int64_t r = tg_tensor_shape(h)[0], c = tg_tensor_shape(h)[1];
        switch (tg_rng_next(&rng) % 6) {
        case 0: /* widen or narrow */
            h = tg_matmul(tp, h,
                          rconst(tp, dt, c, 2 + (int64_t)(tg_rng_next(&rng) % 7), &rng, -1, 1));
            break;
        case 1:
            h = tg_tanh(tp, h);
            break;
        case 2: /* keep exp's argument small */
            h = tg_exp(tp, tg_tanh(tp, h));
            break;
        case 3:
            h = tg_mul(tp, h, rconst(tp, dt, r, c, &rng, -1.5, 1.5));
            break;
        case 4:
            h = tg_add(tp, h, rconst(tp, dt, 1, c, &rng, -1, 1));
            break;
        default:
            h = tg_softmax(tp, h, 1);
            break;
        }
    }
    if (seed % 2) h = tg_sum(tp, h, 1, (const int[]){1}, false);
    ck_assert_msg(h != NULL, "%s", tg_tape_error(tp));
    return h;
}

/* x for graph seed: (r, c) with r in 1..4, c in 1..3, random values. */
static tg_tensor *random_x(tg_dtype dt, uint64_t seed)
{
    const int64_t r = 1 + (int64_t)(seed * 5 % 4), c = 1 + (int64_t)(seed * 2 % 3);
    return tt_rand(dt, 2, TT_SHAPE(r, c), 100 + seed, -1, 1);
}

START_TEST(test_jacobian_forward_equals_reverse)
{
    const uint64_t seed = (uint64_t)_i;
    tg_tensor *x = random_x(TG_F64, seed);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = random_graph(tp, x, seed);
    tg_tensor *jf = tg_jacobian_ex(tp, y, x, TG_JAC_FORWARD);
    ck_assert_msg(jf != NULL, "%s", tg_tape_error(tp));
    tg_tensor *jr = tg_jacobian_ex(tp, y, x, TG_JAC_REVERSE);
    ck_assert_msg(jr != NULL, "%s", tg_tape_error(tp));
    tt_assert_shape(jf, 2, TT_SHAPE(tg_tensor_numel(y), tg_tensor_numel(x)));
    char what[64];
    snprintf(what, sizeof what, "graph %d: J forward vs reverse (%lld x %lld)", _i,
             (long long)tg_tensor_numel(y), (long long)tg_tensor_numel(x));
    assert_near(what, jf, jr, 1e-12);
    /* the automatic choice is one of the two, and the same numbers */
    tg_tensor *ja = tg_jacobian(tp, y, x);
    assert_near(what, ja, jr, 1e-12);
    tg_tensor_free(ja);
    tg_tensor_free(jf);
    tg_tensor_free(jr);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* The random graphs cover both n < m and n > m (else the test above would
 * compare only one kind). */
START_TEST(test_random_graphs_cover_both_shapes)
{
    int wide = 0, narrow = 0;
    for (uint64_t seed = 0; seed < 12; seed++) {
        tg_tensor *x = random_x(TG_F64, seed);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = random_graph(tp, x, seed);
        wide += tg_tensor_numel(x) < tg_tensor_numel(y);
        narrow += tg_tensor_numel(x) > tg_tensor_numel(y);
        tg_tape_free(tp);
        tg_tensor_free(x);
    }
    ck_assert_int_ge(wide, 2);
    ck_assert_int_ge(narrow, 2);
}
END_TEST

START_TEST(test_hessian_forward_over_reverse)
{
    const uint64_t seed = (uint64_t)_i;
    tg_tensor *x = random_x(TG_F64, seed);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_all(tp, tg_tanh(tp, random_graph(tp, x, seed)));
    tg_tensor *hf = tg_hessian_ex(tp, y, x, TG_JAC_FORWARD);
    ck_assert_msg(hf != NULL, "%s", tg_tape_error(tp));
    tg_tensor *hr = tg_hessian_ex(tp, y, x, TG_JAC_REVERSE);
    ck_assert_msg(hr != NULL, "%s", tg_tape_error(tp));
    tg_tensor *hd = tg_hessian(tp, y, x);
    ck_assert_msg(hd != NULL, "%s", tg_tape_error(tp));
    char what[64];
    snprintf(what, sizeof what, "graph %d: H forward over reverse vs reverse", _i);
    assert_near(what, hf, hr, 1e-12);
    assert_near(what, hd, hf, 0); /* the default is forward over reverse */
    tg_tensor_free(hf);
    tg_tensor_free(hr);
    tg_tensor_free(hd);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* Forward over reverse: the jvp of the recorded gradient along v is H v,
 * which tg_hvp computes reverse over reverse. */
static void hvp_both_ways(tg_dtype dt, uint64_t seed, tg_tensor **fwd, tg_tensor **rev)
{
    tg_tensor *x = random_x(dt, seed);
    tg_tensor *v = tt_rand(dt, 2, tg_tensor_shape(x), 200 + seed, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_all(tp, tg_tanh(tp, random_graph(tp, x, seed)));
    tg_tensor *g = tg_grad(tp, y, x, true), *hv = NULL, *hv2 = NULL;
    ck_assert_msg(g != NULL, "%s", tg_tape_error(tp));
    ck_assert_msg(tg_jvp(tp, 1, &x, &v, 1, &g, &hv, false) == TG_OK, "%s", tg_tape_error(tp));
    ck_assert_msg(tg_hvp(tp, y, 1, &x, &v, &hv2, false) == TG_OK, "%s", tg_tape_error(tp));
    *fwd = tg_tensor_clone(hv);
    *rev = tg_tensor_clone(hv2);
    tg_tape_free(tp);
    tg_tensor_free(v);
    tg_tensor_free(x);
}

START_TEST(test_hvp_forward_over_reverse)
{
    tg_tensor *f, *r;
    hvp_both_ways(TG_F64, (uint64_t)_i, &f, &r);
    char what[64];
    snprintf(what, sizeof what, "graph %d: Hv forward over reverse vs tg_hvp", _i);
    assert_near(what, f, r, 1e-12);
    tg_tensor_free(f);
    tg_tensor_free(r);
    /* f32: the same products, against the f64 ones to f32's rounding */
    tg_tensor *f32, *r32;
    hvp_both_ways(TG_F32, (uint64_t)_i, &f32, &r32);
    hvp_both_ways(TG_F64, (uint64_t)_i, &f, &r);
    snprintf(what, sizeof what, "graph %d: f32 Hv forward over reverse vs f64", _i);
    assert_near(what, f32, f, 1e-4);
    tg_tensor_free(f32);
    tg_tensor_free(r32);
    tg_tensor_free(f);
    tg_tensor_free(r);
}
END_TEST

/* ---- jvp of jvp ------------------------------------------------------------------ */

/* y = sum(tanh(x W) * exp(0.5 x W), axis 1): x (2,3), W (3,4). */
static tg_tensor *small_graph(tg_tape *tp, tg_tensor *x, tg_tensor *w)
{
    tg_tensor *z = tg_matmul(tp, x, w);
    return tg_sum(tp, tg_mul(tp, tg_tanh(tp, z), tg_exp(tp, tg_mul_scalar(tp, z, 0.5))), 1,
                  (const int[]){1}, false);
}

/* y(x + a v + b u) into out (2). */
static void small_at(tg_tensor *x, tg_tensor *w, tg_tensor *v, tg_tensor *u, double a, double b,
                     double *out)
{
    tg_tensor *xp = tg_tensor_clone(x);
    for (int64_t k = 0; k < 6; k++)
        tg_tensor_set_flat(xp, k,
                           tg_tensor_get_flat(x, k) + a * tg_tensor_get_flat(v, k) +
                               b * tg_tensor_get_flat(u, k));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = small_graph(tp, xp, w);
    for (int64_t k = 0; k < 2; k++) out[k] = tg_tensor_get_flat(y, k);
    tg_tape_free(tp);
    tg_tensor_free(xp);
}

START_TEST(test_jvp_of_jvp)
{
    tg_tensor *x = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 51, -1, 1);
    tg_tensor *w = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 52, -1, 1);
    tg_tensor *v = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 53, -1, 1);
    tg_tensor *u = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 54, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = small_graph(tp, x, w), *t1 = NULL, *t2 = NULL;
    /* t1 = J v recorded; its tangent along u is d^2 y [v, u] */
    ck_assert_int_eq(tg_jvp(tp, 1, &x, &v, 1, &y, &t1, true), TG_OK);
    ck_assert_msg(tg_jvp(tp, 1, &x, &u, 1, &t1, &t2, false) == TG_OK, "%s", tg_tape_error(tp));
    const double h = 1e-4;
    double pp[2], pm[2], mp[2], mm[2];
    small_at(x, w, v, u, h, h, pp);
    small_at(x, w, v, u, h, -h, pm);
    small_at(x, w, v, u, -h, h, mp);
    small_at(x, w, v, u, -h, -h, mm);
    for (int k = 0; k < 2; k++) {
        const double fd = (pp[k] - pm[k] - mp[k] + mm[k]) / (4 * h * h);
        const double a = tg_tensor_get_flat(t2, k);
        ck_assert_msg(fabs(a - fd) <= 1e-6 * (1 + fabs(fd)),
                      "element %d: jvp of jvp %.12g, finite differences %.12g", k, a, fd);
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(v);
    tg_tensor_free(u);
}
END_TEST

START_TEST(test_jacobian_bad_mode)
{
    tg_tensor *x = tt_rand(TG_F64, 1, TT_SHAPE(3), 61, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_tanh(tp, x);
    ck_assert_ptr_null(tg_jacobian_ex(tp, y, x, (tg_jac_mode)7));
    tt_assert_tape_error(tp, TG_ERR_ARG,
                         "jacobian: mode 7 is not TG_JAC_AUTO, TG_JAC_FORWARD or TG_JAC_REVERSE");
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("forward");
    TCase *tc = tcase_create("custom_ops");
    tcase_add_test(tc, test_custom_op_without_tangent_rule);
    tcase_add_test(tc, test_custom_matvec_tangent);
    tcase_add_test(tc, test_custom_op_with_tangent_rule);
    tcase_add_test(tc, test_custom_rule_wrong_shape);
    suite_add_tcase(s, tc);
    TCase *tg = tcase_create("graphs");
    tcase_set_timeout(tg, 300);
    tcase_add_loop_test(tg, test_jacobian_forward_equals_reverse, 0, 12);
    tcase_add_test(tg, test_random_graphs_cover_both_shapes);
    tcase_add_loop_test(tg, test_hessian_forward_over_reverse, 0, 8);
    tcase_add_loop_test(tg, test_hvp_forward_over_reverse, 0, 6);
    tcase_add_test(tg, test_jvp_of_jvp);
    tcase_add_test(tg, test_jacobian_bad_mode);
    suite_add_tcase(s, tg);
    return tt_run(s);
}
