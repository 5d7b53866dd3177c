/* The scalar path of a plain backward sweep (tg_op.scalar, src/core/backward.c
 * scalar_step, flat_slot, own_adjoint): one-element nodes run their op's
 * scalar rule, which autodiff.h promises gives the direct rule's bits, so
 * most checks here are exact (==).  Sections 1-8 below say what each covers. */
#include "common.h"
#include "op_cases.h"

#include <math.h>
#include <string.h>

/* got == want (rtol 0) or within rtol of it, printing both in full */
#define EQ(what, got, want) near_at(__LINE__, what, -1, got, want, 0)
static void near_at(int line, const char *what, int i, double got, double want, double rtol)
{
    ck_assert_msg(rtol ? fabs(got - want) <= rtol * fabs(want) : got == want,
                  "line %d: %s [%d]: got %.17g (%a), want %.17g (%a)", line, what, i, got, got,
                  want, want);
}

/* A user-owned tensor filled with v. */
static tg_tensor *full(tg_dtype dt, int nd, const int64_t *shape, double v, bool rg)
{
    tg_tensor *t = tg_tensor_full(dt, nd, shape, v);
    ck_assert_msg(t != NULL, "full: %s", tg_last_error());
    tg_tensor_set_requires_grad(t, rg);
    return t;
}
static double grad0(const tg_tensor *t)
{
    ck_assert_ptr_nonnull(tg_tensor_grad(t));
    return tg_tensor_get_flat(tg_tensor_grad(t), 0);
}
static void ok(tg_tape *tp, tg_status st)
{
    ck_assert_msg(st == TG_OK, "%s (%s)", tg_tape_error(tp), tg_strerror(st));
}

/* ---- 1. each library scalar rule against its direct rule ------------------ */
typedef tg_tensor *(*op2)(tg_tape *tp, tg_tensor *a, tg_tensor *b);
#define UNARY(name, expr)                                                                          \
    static tg_tensor *u_##name(tg_tape *tp, tg_tensor *x, tg_tensor *b)                            \
    {                                                                                              \
        (void)b;                                                                                   \
        return expr;                                                                               \
    }
/* The cases are the OC_SCALAR rows of op_cases.h: x = a and y = b (unary
 * calls ignore y); relu and abs away from their kink and at it, pow_scalar's
 * four rules p = 0, 1, 2, other, one value in both slots (mul(x, x), ...:
 * the two slots share one flat slot), maximum and minimum either way and at
 * a tie. */

/* One-element shape mixes: every pair of (), (1,), (1,1) broadcasts to one
 * element, so each makes a scalar node (tape.c: "(1,) + (1, 1) is a scalar
 * node"); the last is the 2-element reference, where the direct rule runs. */
static const struct {
    int na, nb;
    int64_t sa[2], sb[2];
} k_mix[] = {
    {1, 1, {1}, {1}}, {0, 1, {0}, {1}},    {2, 1, {1, 1}, {1}},
    {1, 0, {1}, {0}}, {0, 2, {0}, {1, 1}}, {1, 1, {2}, {2}},
};
#define REF_MIX 5

/* y = f(a, b) with a, b of mix m's shapes, holding c->a, c->b at element 0
 * (0.8 elsewhere), seeded with s at element 0 (0.3 elsewhere): r[0] is y's
 * element 0, r[1] and r[2] a's and b's gradients there (b's NAN when b is no
 * input), r[3] y's element count. */
static void run_op(const oc_case *c, tg_dtype dt, int m, double s, double r[4])
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *a = full(dt, k_mix[m].na, k_mix[m].sa, 0.8, true);
    tg_tensor *b = full(dt, k_mix[m].nb, k_mix[m].sb, 0.8, true);
    tg_tensor_set_flat(a, 0, c->a);
    tg_tensor_set_flat(b, 0, c->b);
    tg_tensor *y = c->f(tp, a, b, NULL);
    ck_assert_msg(y != NULL, "%s: %s", c->id, tg_tape_error(tp));
    tg_tensor *sd = full(dt, tg_tensor_ndim(y), tg_tensor_shape(y), 0.3, false);
    tg_tensor_set_flat(sd, 0, s);
    ok(tp, tg_backward_ex(tp, y, &(tg_backward_options){.seed = sd}));
    r[0] = tg_tensor_get_flat(y, 0);
    r[1] = grad0(a);
    r[2] = tg_tensor_grad(b) ? grad0(b) : NAN;
    r[3] = (double)tg_tensor_numel(y);
    tg_tensor *all[] = {a, b, sd};
    for (int i = 0; i < 3; i++) tg_tensor_free(all[i]);
    tg_tape_free(tp);
}

/* The scalar rule (one-element inputs) against the direct rule (element 0 of
 * 2-element inputs holding the same values, same seed): the value and every
 * gradient must be the same bits.  A scalar rule with another formula,
 * operand order or dtype of arithmetic, or a sweep that mishandles aliased
 * slots or stores f32 wrongly, fails here.  Seed -0.7 rounds in f32. */
START_TEST(test_scalar_rules_match_direct)
{
    const tg_dtype dts[2] = {TG_F64, TG_F32};
    const double seeds[2] = {1.0, -0.7};
    int i = -1, n = 0;
    for (const oc_case *c; (c = oc_next(&i, OC_SCALAR)); n++)
        for (int d = 0; d < 2; d++)
            for (int s = 0; s < 2; s++) {
                double ref[4], r[4];
                run_op(c, dts[d], REF_MIX, seeds[s], ref);
                for (int m = 0; m < REF_MIX; m++) { /* unary ops: a's shape varies */
                    char what[128];
                    snprintf(what, sizeof what, "%s %s mix %d seed %g", c->id,
                             tg_dtype_name(dts[d]), m, seeds[s]);
                    run_op(c, dts[d], m, seeds[s], r);
                    EQ(what, r[3], 1);
                    for (int k = 0; k < 3; k++)
                        if (!isnan(ref[k]) || !isnan(r[k])) EQ(what, r[k], ref[k]);
                }
            }
    ck_assert_int_ge(n, 37);
}
END_TEST

/* ---- 1b. reductions, shape ops, cast: gradcheck and the exact formula -- */
/* The cases are the OC_PASS1 rows of op_cases.h; OC_NARROWS: the gradient
 * passes through an f32 value. */
static tg_tensor *fn_square_of(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const oc_case *c = ctx;
    return tg_square(tp, c->f(tp, in[0], NULL, NULL));
}

/* Each passes its output gradient through unchanged (mean of one element
 * scales by exactly 1; cast rounds it to the input's dtype), so with seed
 * -0.7 the input's gradient is exactly -0.7, or -0.7f when an f32 value is
 * on the way.  Then gradcheck of square(op(x)), f64 and f32 (mixed mode),
 * compares the scalar path with finite differences and the op-built rule;
 * through an f32 value only a difference quotient that f32 holds exactly
 * can be checked: x = 1.25, eps = 2^-10 (the tolerances stay the defaults). */
START_TEST(test_reductions_shape_ops_cast)
{
    const tg_dtype dts[2] = {TG_F64, TG_F32};
    int i = -1, n = 0;
    for (const oc_case *c; (c = oc_next(&i, OC_PASS1)); n++)
        for (int d = 0; d < 2; d++) {
            tg_tape *tp = tg_tape_new(NULL);
            tg_tensor *x = full(dts[d], 2, TT_SHAPE(1, 1), 1.25, true);
            tg_tensor *y = c->f(tp, x, NULL, NULL);
            ck_assert_msg(y && tg_tensor_numel(y) == 1, "%s", tg_tape_error(tp));
            tg_tensor *s =
                full(tg_tensor_dtype(y), tg_tensor_ndim(y), tg_tensor_shape(y), -0.7, false);
            ok(tp, tg_backward_ex(tp, y, &(tg_backward_options){.seed = s}));
            const bool narrows = c->flags & OC_NARROWS;
            const bool f32 = narrows || dts[d] == TG_F32;
            EQ(c->id, grad0(x), f32 ? (double)-0.7f : -0.7);
            tt_gradcheck_ex(c->id, fn_square_of, (void *)c, 1, &x,
                            &(tg_gradcheck_options){.eps = narrows ? 0x1p-10 : 0}, false);
            tg_tensor_free(s);
            tg_tensor_free(x);
            tg_tape_free(tp);
        }
    ck_assert_int_ge(n, 11);
}
END_TEST

/* ---- 2. compositions: finite differences and op-built rules ------------ */
static tg_tensor *c_f1(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *a = in[0], *b = in[1];
    tg_tensor *l = tg_log(tp, tg_add(tp, tg_mul(tp, a, b), tg_exp(tp, a)));
    tg_tensor *t = tg_sub(tp, tg_div(tp, l, tg_sqrt(tp, b)), tg_pow(tp, a, b));
    return tg_add(tp, t, tg_maximum(tp, a, b));
}
static tg_tensor *c_f2(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *a = in[0], *b = in[1];
    tg_tensor *t = tg_mul(tp, tg_sigmoid(tp, tg_sub(tp, a, b)), tg_tanh(tp, tg_mul(tp, a, b)));
    t = tg_add(tp, t, tg_softplus(tp, tg_div(tp, b, a)));
    t = tg_sub(tp, t, tg_square(tp, tg_rdiv_scalar(tp, 2, a)));
    t = tg_add(tp, t, tg_abs(tp, tg_sub(tp, a, tg_mul_scalar(tp, b, 2))));
    return tg_mul(tp, t, tg_minimum(tp, tg_relu(tp, a), tg_neg(tp, tg_rsub_scalar(tp, 3, b))));
}
/* shapes mixing along the way (a (), b (1,1)), and a value reused by many
 * scalar nodes, whose flat slot accumulates */
static tg_tensor *c_f3(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *a = in[0], *b = in[1];
    tg_tensor *p = tg_add(tp, tg_pow_scalar(tp, a, 3.5), tg_pow_scalar(tp, b, 2));
    tg_tensor *q = tg_mean(tp, tg_mul(tp, p, tg_add_scalar(tp, a, 0.5)), 1, (const int[]){0}, 0);
    tg_tensor *acc = tg_mul(tp, q, tg_exp(tp, tg_pow(tp, tg_reshape(tp, b, 1, TT_SHAPE(1)), a)));
    for (int i = 0; i < 6; i++)
        acc = tg_add(tp, tg_mul(tp, acc, a), tg_tanh(tp, tg_mul_scalar(tp, b, 0.5 * i)));
    return tg_sum_all(tp, acc);
}

/* Every library scalar rule inside larger one-element graphs, f64 and (in
 * gradcheck's mixed mode) f32: gradcheck compares the scalar sweep with
 * central differences and with the op-built rules (create_graph). */
START_TEST(test_compositions_gradcheck)
{
    static const tg_fn fns[] = {c_f1, c_f2, c_f3};
    const tg_dtype dts[2] = {TG_F64, TG_F32};
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 3; i++) {
            tg_tensor *in[2] = {full(dts[d], 0, NULL, 0.9, true),
                                full(dts[d], 2, TT_SHAPE(1, 1), 1.4, true)};
            char what[64];
            snprintf(what, sizeof what, "f%d %s", i + 1, tg_dtype_name(dts[d]));
            tt_gradcheck(what, fns[i], NULL, 2, in);
            tg_tensor_free(in[0]);
            tg_tensor_free(in[1]);
        }
}
END_TEST

/* ---- 3. one-element adjoints written by direct rules and scalar rules ---- */
static tg_tensor *k_v3, *k_w13; /* (3,) and (1,3) constants, exact in f32 */
/* x (1,1) * v (3,) -> (1,3): x's buffer is summed into; broadcast_to hands
 * over sum_to(g) (adopted); x @ x and max: one element, no scalar rule */
UNARY(mul_v, tg_mul(tp, x, k_v3))
UNARY(add_v, tg_add(tp, k_v3, x))
UNARY(bcast, tg_broadcast_to(tp, x, 2, TT_SHAPE(2, 3)))
UNARY(matmul_w, tg_matmul(tp, x, k_w13))
UNARY(matmul_xx, tg_matmul(tp, x, x))
UNARY(max, tg_max(tp, x, 0, false))
/* d/dx sum(N(x)) = c0 + c1 x, with v = (0.25, -1, 2), w = (0.5, 1.5, -0.25) */
static const struct {
    const char *name;
    op2 f;
    double c0, c1;
} k_mixes[] = {
    {"x * v", u_mul_v, 1.25, 0},    {"v + x", u_add_v, 3, 0},     {"broadcast_to", u_bcast, 6, 0},
    {"x @ w", u_matmul_w, 1.75, 0}, {"x @ x", u_matmul_xx, 0, 2}, {"max", u_max, 1, 0},
};
typedef struct mix_ctx {
    op2 f;
    bool scalar_first;
} mix_ctx;
/* L = sum(N(x)) + x*x*x.  Recording the scalar part first makes the reverse
 * sweep reach N's direct rule first (it writes x's flat slot: store, or
 * adopt a handed-over tensor) and then the scalar path adds to it; recorded
 * last, the scalar path writes first and the direct rule adds. */
static tg_tensor *fn_mix(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const mix_ctx *m = ctx;
    tg_tensor *x = in[0], *c = NULL;
    if (m->scalar_first) c = tg_mul(tp, tg_mul(tp, x, x), x);
    tg_tensor *n = tg_sum_all(tp, m->f(tp, x, NULL));
    if (!m->scalar_first) c = tg_mul(tp, tg_mul(tp, x, x), x);
    return tg_add(tp, n, c);
}

/* Exact against the hand gradient (every term a small dyadic number, so
 * the sum is exact in f32 too), through tg_backward and tg_grad; gradcheck
 * in f64. */
START_TEST(test_mixed_scalar_and_direct)
{
    const tg_dtype dts[2] = {TG_F64, TG_F32};
    for (size_t i = 0; i < sizeof k_mixes / sizeof k_mixes[0]; i++)
        for (int order = 0; order < 2; order++)
            for (int d = 0; d < 2; d++) {
                mix_ctx m = {k_mixes[i].f, order == 1};
                char what[96];
                snprintf(what, sizeof what, "%s, scalar part %s, %s", k_mixes[i].name,
                         order ? "first" : "last", tg_dtype_name(dts[d]));
                k_v3 = tt_from(dts[d], 1, TT_SHAPE(3), TT_VALUES(0.25, -1, 2));
                k_w13 = tt_from(dts[d], 2, TT_SHAPE(1, 3), TT_VALUES(0.5, 1.5, -0.25));
                tg_tensor *x = full(dts[d], 2, TT_SHAPE(1, 1), 1.5, true);
                const double want = k_mixes[i].c0 + k_mixes[i].c1 * 1.5 + 3 * 1.5 * 1.5;
                tg_tape *tp = tg_tape_new(NULL);
                tg_tensor *L = fn_mix(tp, &x, &m);
                ok(tp, tg_backward(tp, L));
                EQ(what, grad0(x), want);
                tg_tensor *g = tg_grad(tp, L, x, false);
                ck_assert_msg(g != NULL, "%s", tg_tape_error(tp));
                EQ(what, tg_tensor_get_flat(g, 0), want);
                if (dts[d] == TG_F64) tt_gradcheck(what, fn_mix, &m, 1, &x);
                tg_tape_free(tp);
                tg_tensor_free(x);
                tg_tensor_free(k_v3);
                tg_tensor_free(k_w13);
            }
}
END_TEST

/* ---- 4. an adopted one-element adjoint later added to -------------------- */
/* Custom ops, forward y = x1 + ... + xn (pass) or x^3 (cube) elementwise,
 * computed in double and stored in the output's dtype. */
static tg_tensor *custom(tg_tape *tp, const tg_op *op, int n, tg_tensor **in, bool cube)
{
    if (!tg_tape_check_inputs(tp, op->name, n, in)) return NULL;
    tg_tensor *y =
        tg_tape_alloc(tp, tg_tensor_dtype(in[0]), tg_tensor_ndim(in[0]), tg_tensor_shape(in[0]));
    for (int64_t j = 0; y && j < tg_tensor_numel(y); j++) {
        double v = 0;
        for (int i = 0; i < n; i++) v += tg_tensor_get_flat(in[i], j);
        tg_tensor_set_flat(y, j, cube ? v * v * v : v);
    }
    return y ? tg_tape_record(tp, op, n, in, y, NULL, 0, 0, NULL) : NULL;
}
/* pass: no scalar rule; its direct rule hands gout itself to every input
 * (tg_grad_sink_add adopts it without a copy) and notes gout's data and
 * value, so the test can check that nothing wrote through it later */
static const void *k_gout_data;
static double k_gout_value;
static tg_status pass_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    (void)tp;
    for (int i = 0; i < tg_node_num_inputs(n); i++) gin[i] = g;
    return TG_OK;
}
static tg_status pass_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    k_gout_data = tg_tensor_data_const(g);
    k_gout_value = tg_tensor_get_flat(g, 0);
    for (int i = 0; i < tg_node_num_inputs(n) && tg_tape_status(tp) == TG_OK; i++)
        tg_grad_sink_add(k, i, g);
    return tg_tape_status(tp);
}
static const tg_op k_pass = {
    .name = "pass", .arity = -1, .backward = pass_backward, .direct = pass_direct, .scalar = NULL};

/* x (1,), c = 0.625 constant.  Graphs (in the sweep's order):
 *   0: L = 3 pass(x) + x c, pass recorded after x c: pass adopts gout (the
 *      flat slot of pass's output, 3) as x's adjoint, then mul's scalar rule
 *      adds c: own_adjoint must copy to x's slot, not add into gout;
 *   1: L = pass(x, x c): x adopts the seed (1), then mul adds c;
 *   2: as 0 with x c recorded last: the scalar path writes first, pass adds.
 * gout must still hold its value after the sweep (tape data lives until
 * reset), and pass's output, retained, must show it too. */
START_TEST(test_adopted_adjoint_then_scalar)
{
    const tg_dtype dts[2] = {TG_F64, TG_F32};
    for (int d = 0; d < 2; d++)
        for (int graph = 0; graph < 3; graph++) {
            tg_tensor *x = full(dts[d], 1, TT_SHAPE(1), 1.5, true);
            tg_tensor *c = full(dts[d], 1, TT_SHAPE(1), 0.625, false);
            tg_tape *tp = tg_tape_new(NULL);
            tg_tensor *L, *p = NULL, *xc = graph < 2 ? tg_mul(tp, x, c) : NULL;
            if (graph == 1) {
                L = custom(tp, &k_pass, 2, (tg_tensor *[]){x, xc}, false);
            } else {
                p = custom(tp, &k_pass, 1, &x, false);
                if (graph == 2) xc = tg_mul(tp, x, c);
                L = tg_add(tp, tg_mul_scalar(tp, p, 3), xc);
                ok(tp, tg_retain_grad(tp, p));
            }
            const double gout = graph == 1 ? 1 : 3;
            k_gout_data = NULL;
            ok(tp, tg_backward(tp, L));
            ck_assert_ptr_nonnull(k_gout_data);
            EQ("gradient of x", grad0(x), gout + 0.625);
            EQ("gout when handed over", k_gout_value, gout);
            EQ("gout's data after the sweep",
               dts[d] == TG_F64 ? *(const double *)k_gout_data : *(const float *)k_gout_data, gout);
            if (p) EQ("retained gradient of pass(x)", grad0(p), gout);
            tg_tape_free(tp);
            tg_tensor_free(x);
            tg_tensor_free(c);
        }
}
END_TEST

/* ---- 5. a scalar tape: the extended Rosenbrock function ------------------ */
#define RN 50
/* bench/b1_scalar.c's graph, 8 one-element ops per term (7 for the first);
 * reversed visits the terms from the last, so the user tensors are first
 * used in another order */
static tg_tensor *rosen(tg_tape *tp, tg_tensor **x, bool reversed)
{
    tg_tensor *f = NULL;
    for (int k = 0; k < RN - 1; k++) {
        const int i = reversed ? RN - 2 - k : k;
        tg_tensor *a = tg_sub(tp, x[i + 1], tg_mul(tp, x[i], x[i]));
        tg_tensor *b = tg_rsub_scalar(tp, 1.0, x[i]);
        tg_tensor *term = tg_add(tp, tg_mul_scalar(tp, tg_mul(tp, a, a), 100.0), tg_mul(tp, b, b));
        f = f ? tg_add(tp, f, term) : term;
    }
    return f;
}

/* Runs 0 and 1 record the same tape twice (run 1 finds the users by the
 * hints run 0 left) and must give the same bits; run 2 uses them first in
 * reverse order, so every hint names another tensor's slot and the lookup
 * falls back to the map.  Each is checked against the hand gradient
 *   g[i] = -400 x[i] (x[i+1] - x[i]^2) - 2 (1 - x[i]) + 200 (x[i] - x[i-1]^2)
 * to 1e-12, as are the op-built rules (create_graph, own rounding order). */
START_TEST(test_rosenbrock_scalar_tape)
{
    tg_tensor *x[RN], *out[RN];
    double v[RN], hand[RN] = {0}, first[RN], fref = 0;
    for (int i = 0; i < RN; i++)
        x[i] = full(TG_F64, 0, NULL, v[i] = 1 + 0.5 * sin((double)i), true);
    for (int i = 0; i < RN - 1; i++) {
        const double a = v[i + 1] - v[i] * v[i];
        hand[i] += -400 * v[i] * a - 2 * (1 - v[i]);
        hand[i + 1] += 200 * a;
        fref += 100 * a * a + (1 - v[i]) * (1 - v[i]);
    }
    tg_tape *tp = tg_tape_new(NULL);
    for (int run = 0; run < 3; run++) {
        tg_tape_reset(tp);
        tg_tensor *f = rosen(tp, x, run == 2);
        ck_assert_msg(f != NULL, "%s", tg_tape_error(tp));
        ck_assert_int_eq(tg_tape_usage(tp).nodes, 8 * (RN - 1) - 1);
        near_at(__LINE__, "f", run, tg_tensor_get_flat(f, 0), fref, 1e-12);
        ok(tp, tg_backward(tp, f));
        for (int i = 0; i < RN; i++) {
            near_at(__LINE__, "gradient vs hand", i, grad0(x[i]), hand[i], 1e-12);
            if (run == 0) first[i] = grad0(x[i]);
            if (run == 1) EQ("the same tape again", grad0(x[i]), first[i]);
        }
    }
    tg_tape_reset(tp);
    ok(tp, tg_vjp(tp, rosen(tp, x, false), NULL, RN, x, out, true));
    for (int i = 0; i < RN; i++)
        near_at(__LINE__, "create_graph", i, tg_tensor_get_flat(out[i], 0), hand[i], 1e-12);
    tg_tape_free(tp);
    for (int i = 0; i < RN; i++) tg_tensor_free(x[i]);
}
END_TEST

/* ---- 6. user-id hints across tapes ---------------------------------------- */
/* The hint is the slot on the tape that last registered the tensor: tape B
 * overwrites x3's and x1's hints between two parts of tape A, and A then
 * overwrites x4's, B x2's.  Every lookup must still find the right value (a
 * wrong one would wire the graph to another variable).  The values are
 * small dyadic numbers, so each gradient is exact. */
START_TEST(test_hints_across_tapes)
{
    const double v1 = 1.5, v2 = -0.75, v3 = 2.25, v4 = 0.5;
    tg_tensor *x1 = full(TG_F64, 1, TT_SHAPE(1), v1, true), *x2 = full(TG_F64, 0, NULL, v2, true),
              *x3 = full(TG_F64, 1, TT_SHAPE(1), v3, true), *x4 = full(TG_F64, 0, NULL, v4, true);
    tg_tensor *xs[4] = {x1, x2, x3, x4};
    tg_tape *A = tg_tape_new(NULL), *B = tg_tape_new(NULL);
    tg_tensor *a2 = tg_add(A, tg_mul(A, x1, x2), x3);                /* A: x1 0, x2 1, x3 2 */
    tg_tensor *lb = tg_mul(B, tg_sub(B, tg_mul(B, x3, x3), x1), x4); /* B: x3 0, x1 1, x4 2 */
    tg_tensor *la = tg_mul(A, tg_add(A, tg_mul(A, a2, x1), tg_square(A, x3)), x4); /* A: x4 3 */
    lb = tg_add(B, lb, tg_mul(B, x4, x2));                                         /* B: x2 3 */
    ck_assert_msg(la && lb, "%s %s", tg_tape_error(A), tg_tape_error(B));
    EQ("A value", tg_tensor_get_flat(la, 0), ((v1 * v2 + v3) * v1 + v3 * v3) * v4);
    EQ("B value", tg_tensor_get_flat(lb, 0), (v3 * v3 - v1) * v4 + v4 * v2);
    const double ha[4] = {(2 * v1 * v2 + v3) * v4, v1 * v1 * v4, (v1 + 2 * v3) * v4,
                          (v1 * v2 + v3) * v1 + v3 * v3};
    const double hb[4] = {-v4, v4, 2 * v3 * v4, v3 * v3 - v1 + v2};
    ok(A, tg_backward(A, la));
    for (int i = 0; i < 4; i++) EQ("A backward", grad0(xs[i]), ha[i]);
    ok(B, tg_backward(B, lb));
    for (int i = 0; i < 4; i++) EQ("B backward", grad0(xs[i]), hb[i]);
    /* A reset and used again in another first-use order (x2 0, x4 1, x1 2):
     * the hints now name A's new slots; B's lookups (tg_grad) fall back.
     * x3 is not on A now: it keeps what B wrote. */
    tg_tape_reset(A);
    ok(A, tg_backward(A, tg_mul(A, tg_mul(A, x2, x4), tg_square(A, x1))));
    const double ha2[4] = {2 * v1 * v2 * v4, v4 * v1 * v1, hb[2], v2 * v1 * v1};
    for (int i = 0; i < 4; i++) EQ("A backward after reset", grad0(xs[i]), ha2[i]);
    for (int i = 0; i < 4; i++) {
        tg_tensor *g = tg_grad(B, lb, xs[i], false);
        ck_assert_msg(g != NULL, "%s", tg_tape_error(B));
        EQ("B tg_grad after A's reset", tg_tensor_get_flat(g, 0), hb[i]);
    }
    tg_tape_free(A);
    tg_tape_free(B);
    for (int i = 0; i < 4; i++) tg_tensor_free(xs[i]);
}
END_TEST

/* ---- 7. a custom scalar rule is checked by tg_gradcheck ------------------ */
/* cube(x) = x^3 with correct op-built and direct rules (the direct rule
 * hands over the op-built rule's tensor, made on the tape) and a scalar rule
 * that is right (3 x^2 g) or planted wrong (2 x^2 g). */
static tg_status cube_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_mul_scalar(tp, tg_square(tp, tg_node_input(n, 0)), 3));
    return TG_OK;
}
static tg_status cube_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    tg_tensor *gin = NULL;
    cube_backward(tp, n, (tg_tensor *)g, &gin);
    return gin ? tg_grad_sink_add(k, 0, gin) : tg_tape_status(tp);
}
static void cube_scalar(const tg_node *n, const tg_scalar_args *a, double *gin)
{
    const bool wrong = strcmp(tg_node_op(n)->name, "cube_wrong") == 0;
    gin[0] = a->gout * (a->x[0] * a->x[0] * (wrong ? 2 : 3));
}
static const tg_op k_cube = {.name = "cube",
                             .arity = 1,
                             .backward = cube_backward,
                             .direct = cube_direct,
                             .scalar = cube_scalar};
static const tg_op k_cube_wrong = {.name = "cube_wrong",
                                   .arity = 1,
                                   .backward = cube_backward,
                                   .direct = cube_direct,
                                   .scalar = cube_scalar};
static tg_tensor *fn_cube(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    return custom(tp, ctx, 1, (tg_tensor **)in, true);
}

START_TEST(test_custom_scalar_rule_checked)
{
    tg_tensor *x1 = full(TG_F64, 1, TT_SHAPE(1), 1.3, true);
    tg_tensor *x2 = full(TG_F64, 1, TT_SHAPE(2), 1.3, true);
    tg_tensor_set_flat(x2, 1, 0.8);
    /* one element: the sweep takes the wrong scalar rule (2 x^2), the
     * op-built rule says 3 x^2: gradcheck must fail and say the rules differ */
    tg_compare_report rep;
    ck_assert_int_eq(tg_gradcheck(fn_cube, (void *)&k_cube_wrong, 1, &x1, NULL, &rep),
                     TG_ERR_NUMERIC);
    ck_assert(!rep.ok && rep.rules_disagree);
    ck_assert_int_eq(rep.rules_index, 0);
    EQ("rules_direct", rep.rules_direct, 1.3 * 1.3 * 2);
    EQ("rules_built", rep.rules_built, 1.3 * 1.3 * 3);
    /* two elements: the scalar rule is not used, both other rules are right */
    tt_gradcheck("cube_wrong on 2 elements", fn_cube, (void *)&k_cube_wrong, 1, &x2);
    /* the right scalar rule passes, and gives its direct rule's bits */
    tt_gradcheck("cube on 1 element", fn_cube, (void *)&k_cube, 1, &x1);
    tg_tape *tp = tg_tape_new(NULL);
    ok(tp, tg_backward(tp, fn_cube(tp, &x1, (void *)&k_cube)));
    tg_tape_reset(tp);
    tg_tensor *y2 = tg_sum_all(tp, fn_cube(tp, &x2, (void *)&k_cube));
    ok(tp, tg_backward(tp, y2));
    EQ("custom scalar rule vs its direct rule", grad0(x1), grad0(x2));
    tg_tape_free(tp);
    tg_tensor_free(x1);
    tg_tensor_free(x2);
}
END_TEST

/* ---- 8. anomaly mode on the scalar path ----------------------------------- */
/* The scalar path checks each input gradient a scalar rule wrote: sqrt at 0
 * gives 3 / (2 * 0) = +Inf, and two finite contributions of 1e308 sum to
 * +Inf in x's flat slot.  Each stops the sweep naming the op and its node;
 * the tape works again after a reset (anomaly mode still on). */
START_TEST(test_anomaly_scalar_path)
{
    tg_tensor *x = full(TG_F64, 1, TT_SHAPE(1), 0.0, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tape_set_anomaly(tp, true);
    ck_assert_int_eq(tg_backward(tp, tg_mul_scalar(tp, tg_sqrt(tp, x), 3)), TG_ERR_NUMERIC);
    tt_assert_tape_error(tp, TG_ERR_NUMERIC, "backward", "sqrt", "+Inf");
    ck_assert_int_eq(tg_tape_error_node(tp), 0);

    tg_tape_reset(tp);
    tg_tensor_set_flat(x, 0, 4.0);
    ok(tp, tg_backward(tp, tg_mul_scalar(tp, tg_sqrt(tp, x), 3)));
    EQ("after reset", grad0(x), 3 / (2 * 2.0));

    tg_tape_reset(tp);
    tg_tensor_set_flat(x, 0, 1e-300);
    tg_tensor *L = tg_add(tp, tg_mul_scalar(tp, x, 1e308), tg_mul_scalar(tp, x, 1e308));
    ck_assert_int_eq(tg_backward(tp, L), TG_ERR_NUMERIC);
    tt_assert_tape_error(tp, TG_ERR_NUMERIC, "mul_scalar", "+Inf");
    ck_assert_int_eq(tg_tape_error_node(tp), 0); /* the second to add, in the sweep */
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("scalar");
    TCase *tc = tcase_create("scalar path");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_scalar_rules_match_direct);
    tcase_add_test(tc, test_reductions_shape_ops_cast);
    tcase_add_test(tc, test_compositions_gradcheck);
    tcase_add_test(tc, test_mixed_scalar_and_direct);
    tcase_add_test(tc, test_adopted_adjoint_then_scalar);
    tcase_add_test(tc, test_rosenbrock_scalar_tape);
    tcase_add_test(tc, test_hints_across_tapes);
    tcase_add_test(tc, test_custom_scalar_rule_checked);
    tcase_add_test(tc, test_anomaly_scalar_path);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
