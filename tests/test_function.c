/* Custom rules for whole functions (include/tapegrad/function.h).
 *
 * Each function here has a twin written with tapegrad ops, whose autodiff
 * is the reference: the function's hand rules must give the same
 * gradients (reverse mode, first and second order) and tangents (tg_jvp)
 * to 1e-12 relative, and tg_gradcheck compares them with finite
 * differences.  Then the errors: each names the function. */
#include "common.h"

#include <math.h>
#include <string.h>

#define TOL 1e-12

/* ---- softplus(a * b), elementwise ---------------------------------------------- */

/* forward by plain loops (nothing to record), saving sigmoid(a b) */
static tg_status sp_forward(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                            tg_tensor **saved)
{
    tg_tensor *x = a->in[0], *y = a->in[1];
    const int64_t n = tg_tensor_numel(x);
    out[0] = tg_tape_alloc(tp, tg_tensor_dtype(x), tg_tensor_ndim(x), tg_tensor_shape(x));
    saved[0] = tg_tape_alloc(tp, tg_tensor_dtype(x), tg_tensor_ndim(x), tg_tensor_shape(x));
    if (!out[0] || !saved[0]) return tg_tape_status(tp);
    for (int64_t i = 0; i < n; i++) {
        const double z = tg_tensor_get_flat(x, i) * tg_tensor_get_flat(y, i);
        tg_tensor_set_flat(out[0], i, z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)));
        tg_tensor_set_flat(saved[0], i, 1.0 / (1.0 + exp(-z)));
    }
    return TG_OK;
}

/* d/da = g s b, d/db = g s a with s the saved sigmoid (a constant: first
 * order only) */
static tg_status sp_vjp_saved(tg_tape *tp, const tg_function_args *a, tg_tensor *const *gout,
                              tg_tensor **gin)
{
    tg_tensor *gs = tg_mul(tp, gout[0], a->saved[0]);
    if (a->needs[0]) gin[0] = tg_mul(tp, gs, a->in[1]);
    if (a->needs[1]) gin[1] = tg_mul(tp, gs, a->in[0]);
    return TG_OK;
}

/* the same from the inputs, so that it can be differentiated again */
static tg_status sp_vjp_ops(tg_tape *tp, const tg_function_args *a, tg_tensor *const *gout,
                            tg_tensor **gin)
{
    tg_tensor *gs = tg_mul(tp, gout[0], tg_sigmoid(tp, tg_mul(tp, a->in[0], a->in[1])));
    gin[0] = tg_mul(tp, gs, a->in[1]);
    gin[1] = tg_mul(tp, gs, a->in[0]);
    return TG_OK;
}

/* t_out = s (b t_a + a t_b) */
static tg_status sp_jvp(tg_tape *tp, const tg_function_args *a, tg_tensor *const *tin,
                        tg_tensor **tout)
{
    tg_tensor *s = tg_sigmoid(tp, tg_mul(tp, a->in[0], a->in[1]));
    tg_tensor *d = NULL;
    if (tin[0]) d = tg_mul(tp, a->in[1], tin[0]);
    if (tin[1]) {
        tg_tensor *e = tg_mul(tp, a->in[0], tin[1]);
        d = d ? tg_add(tp, d, e) : e;
    }
    tout[0] = d ? tg_mul(tp, s, d) : NULL;
    return TG_OK;
}

static const tg_function k_sp_saved = {
    .name = "softplus_ab", .n_saved = 1, .forward = sp_forward, .vjp = sp_vjp_saved};
static const tg_function k_sp_ops = {
    .name = "softplus_ab", .n_saved = 1, .forward = sp_forward, .vjp = sp_vjp_ops, .jvp = sp_jvp};

static tg_tensor *sp_call(tg_tape *tp, const tg_function *f, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *in[2] = {a, b}, *out[1] = {NULL};
    return tg_function_call(tp, f, NULL, 2, in, 1, out) == TG_OK ? out[0] : NULL;
}

static tg_tensor *sp_twin(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return tg_softplus(tp, tg_mul(tp, a, b));
}

/* sum(w * f(a, b)): a weighted loss, so every element's gradient differs */
static tg_tensor *weighted(tg_tape *tp, tg_tensor *y, tg_tensor *w)
{
    return tg_sum_all(tp, tg_mul(tp, y, w));
}

typedef struct sp_fix {
    tg_tensor *a, *b, *w;
} sp_fix;

static sp_fix sp_make(tg_dtype dt)
{
    sp_fix s = {tt_rand(dt, 2, TT_SHAPE(3, 4), 11, -2, 2),
                tt_rand(dt, 2, TT_SHAPE(3, 4), 12, -2, 2),
                tt_rand(dt, 2, TT_SHAPE(3, 4), 13, -1, 1)};
    tg_tensor_set_requires_grad(s.a, true);
    tg_tensor_set_requires_grad(s.b, true);
    return s;
}

static void sp_free(sp_fix *s)
{
    tg_tensor_free(s->a);
    tg_tensor_free(s->b);
    tg_tensor_free(s->w);
}

/* tg_backward through the function, then through its twin: same .grad */
static void check_backward(const tg_function *f, tg_dtype dt, double tol)
{
    sp_fix s = sp_make(dt);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = sp_call(tp, f, s.a, s.b);
    ck_assert_msg(y != NULL, "%s", tg_tape_error(tp));
    ck_assert_int_eq(tg_tape_usage(tp).nodes, 1); /* the forward recorded nothing */
    ck_assert_int_eq(tg_backward(tp, weighted(tp, y, s.w)), TG_OK);
    tg_tensor *ga = tg_tensor_clone(tg_tensor_grad(s.a)),
              *gb = tg_tensor_clone(tg_tensor_grad(s.b));
    tg_tape *t2 = tg_tape_new(NULL);
    tg_tensor *y2 = sp_twin(t2, s.a, s.b);
    tt_assert_close("forward", y, y2, tol, 0);
    ck_assert_int_eq(tg_backward(t2, weighted(t2, y2, s.w)), TG_OK);
    tt_assert_close("d/da", ga, tg_tensor_grad(s.a), tol, 0);
    tt_assert_close("d/db", gb, tg_tensor_grad(s.b), tol, 0);
    tg_tensor_free(ga);
    tg_tensor_free(gb);
    tg_tape_free(tp);
    tg_tape_free(t2);
    sp_free(&s);
}

START_TEST(test_vjp_equals_autodiff)
{
    check_backward(&k_sp_saved, TG_F64, TOL);
    check_backward(&k_sp_ops, TG_F64, TOL);
    /* f32: the loops compute in double, the ops in float */
    check_backward(&k_sp_saved, TG_F32, 1e-5);
}
END_TEST

static tg_tensor *sp_loss_fn(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    return weighted(tp, sp_call(tp, ctx, in[0], in[1]), in[2]);
}

START_TEST(test_gradcheck)
{
    sp_fix s = sp_make(TG_F64);
    tg_tensor *in[3] = {s.a, s.b, s.w};
    tt_gradcheck("softplus_ab (saved)", sp_loss_fn, (void *)&k_sp_saved, 3, in);
    tt_gradcheck("softplus_ab (ops)", sp_loss_fn, (void *)&k_sp_ops, 3, in);
    tg_compare_report rep[3];
    ck_assert_int_eq(tg_gradgradcheck(sp_loss_fn, (void *)&k_sp_ops, 3, in, NULL, rep), TG_OK);
    for (int i = 0; i < 3; i++) ck_assert_msg(rep[i].ok && !rep[i].vacuous, "input %d", i);
    sp_free(&s);
}
END_TEST

/* create_graph through the rule: d/da of <v, d loss/da> against the twin */
static void second_order(tg_tape *tp, bool custom, sp_fix *s, tg_tensor *v, tg_tensor **out)
{
    tg_tensor *y = custom ? sp_call(tp, &k_sp_ops, s->a, s->b) : sp_twin(tp, s->a, s->b);
    tg_tensor *loss = weighted(tp, y, s->w);
    tg_tensor *ga = tg_grad(tp, loss, s->a, true);
    tg_tensor *h = tg_sum_all(tp, tg_mul(tp, ga, v));
    tg_tensor *xs[2] = {s->a, s->b};
    ck_assert_int_eq(tg_vjp(tp, h, NULL, 2, xs, out, false), TG_OK);
}

START_TEST(test_second_order)
{
    sp_fix s = sp_make(TG_F64);
    tg_tensor *v = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 14, -1, 1);
    tg_tape *tp = tg_tape_new(NULL), *t2 = tg_tape_new(NULL);
    tg_tensor *h[2], *h2[2];
    second_order(tp, true, &s, v, h);
    second_order(t2, false, &s, v, h2);
    tt_assert_close("d2/da2 v", h[0], h2[0], TOL, 0);
    tt_assert_close("d2/dadb v", h[1], h2[1], TOL, 0);
    tg_tape_free(tp);
    tg_tape_free(t2);
    tg_tensor_free(v);
    sp_free(&s);
}
END_TEST

/* The reference tangent of y (on its tape) in plain C: sum_i J_i t_i with
 * each Jacobian J_i = dy/dx_i taken by reverse mode (tg_jacobian), so the
 * tangent rules are checked against the other mode. */
static void jvp_reference(tg_tape *tp, tg_tensor *y, int n, tg_tensor *const *xs,
                          tg_tensor *const *ts, double *out)
{
    const int64_t m = tg_tensor_numel(y);
    for (int64_t r = 0; r < m; r++) out[r] = 0;
    for (int i = 0; i < n; i++) {
        tg_tensor *jac = tg_jacobian(tp, y, xs[i]);
        ck_assert_msg(jac != NULL, "%s", tg_tape_error(tp));
        const int64_t k = tg_tensor_numel(xs[i]);
        for (int64_t r = 0; r < m; r++)
            for (int64_t c = 0; c < k; c++)
                out[r] += tg_tensor_get_flat(jac, r * k + c) * tg_tensor_get_flat(ts[i], c);
        tg_tensor_free(jac);
    }
}

/* tg_jvp through the tangent rule against the twin's Jacobians */
START_TEST(test_jvp)
{
    sp_fix s = sp_make(TG_F64);
    tg_tensor *ts[2] = {tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 15, -1, 1),
                        tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 16, -1, 1)};
    tg_tensor *xs[2] = {s.a, s.b};
    for (int n = 1; n <= 2; n++) { /* a only (b's tangent NULL to the rule), then both */
        tg_tape *tp = tg_tape_new(NULL), *t2 = tg_tape_new(NULL);
        tg_tensor *y = sp_call(tp, &k_sp_ops, s.a, s.b), *j;
        ck_assert_int_eq(tg_jvp(tp, n, xs, ts, 1, &y, &j, false), TG_OK);
        double want[12];
        jvp_reference(t2, sp_twin(t2, s.a, s.b), n, xs, ts, want);
        tt_assert_values("jvp", j, want, 12, TOL, 0);
        tg_tape_free(tp);
        tg_tape_free(t2);
    }
    tg_tensor_free(ts[0]);
    tg_tensor_free(ts[1]);
    sp_free(&s);
}
END_TEST

/* ---- two outputs: u = r cos(th) of shape (4), q = sum(r^2 th), 0-d ------------- */

static tg_status polar_forward(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                               tg_tensor **saved)
{
    (void)saved;
    tg_tensor *r = a->in[0], *th = a->in[1];
    out[0] = tg_mul(tp, r, tg_cos(tp, th));
    out[1] = tg_sum_all(tp, tg_mul(tp, tg_square(tp, r), th));
    return TG_OK;
}

/* gr = gu cos th + 2 gq r th, gth = -gu r sin th + gq r^2 */
static tg_status polar_vjp(tg_tape *tp, const tg_function_args *a, tg_tensor *const *gout,
                           tg_tensor **gin)
{
    tg_tensor *r = a->in[0], *th = a->in[1], *gu = gout[0], *gq = gout[1];
    gin[0] = tg_add(tp, tg_mul(tp, gu, tg_cos(tp, th)),
                    tg_mul(tp, tg_mul_scalar(tp, gq, 2.0), tg_mul(tp, r, th)));
    gin[1] = tg_add(tp, tg_neg(tp, tg_mul(tp, gu, tg_mul(tp, r, tg_sin(tp, th)))),
                    tg_mul(tp, gq, tg_square(tp, r)));
    return TG_OK;
}

/* tu = tr cos th - r sin th tth, tq = sum(2 r th tr + r^2 tth) */
static tg_status polar_jvp(tg_tape *tp, const tg_function_args *a, tg_tensor *const *tin,
                           tg_tensor **tout)
{
    tg_tensor *r = a->in[0], *th = a->in[1], *tu = NULL, *tq = NULL;
    if (tin[0]) {
        tu = tg_mul(tp, tin[0], tg_cos(tp, th));
        tq = tg_mul(tp, tg_mul_scalar(tp, tg_mul(tp, r, th), 2.0), tin[0]);
    }
    if (tin[1]) {
        tg_tensor *u = tg_neg(tp, tg_mul(tp, tg_mul(tp, r, tg_sin(tp, th)), tin[1]));
        tg_tensor *q = tg_mul(tp, tg_square(tp, r), tin[1]);
        tu = tu ? tg_add(tp, tu, u) : u;
        tq = tq ? tg_add(tp, tq, q) : q;
    }
    tout[0] = tu;
    tout[1] = tq ? tg_sum_all(tp, tq) : NULL;
    return TG_OK;
}

static const tg_function k_polar = {
    .name = "polar", .forward = polar_forward, .vjp = polar_vjp, .jvp = polar_jvp};

static void polar_twin(tg_tape *tp, tg_tensor *r, tg_tensor *th, tg_tensor **out)
{
    out[0] = tg_mul(tp, r, tg_cos(tp, th));
    out[1] = tg_sum_all(tp, tg_mul(tp, tg_square(tp, r), th));
}

/* loss = sum(w u) + c q (use 1: u only, 2: q only, 3: both) */
static tg_tensor *polar_loss(tg_tape *tp, tg_tensor *const *o, tg_tensor *w, int use)
{
    tg_tensor *lu = tg_sum_all(tp, tg_mul(tp, o[0], w));
    tg_tensor *lq = tg_mul_scalar(tp, o[1], 0.7);
    return use == 1 ? lu : use == 2 ? lq : tg_add(tp, lu, lq);
}

START_TEST(test_two_outputs)
{
    tg_tensor *r = tt_param(1, TT_SHAPE(4), 21, 0.5, 2), *th = tt_param(1, TT_SHAPE(4), 22, -2, 2);
    tg_tensor *w = tt_rand(TG_F64, 1, TT_SHAPE(4), 23, -1, 1), *xs[2] = {r, th};
    for (int use = 1; use <= 3; use++) {
        tg_tape *tp = tg_tape_new(NULL), *t2 = tg_tape_new(NULL);
        tg_tensor *o[2], *o2[2], *g[2], *g2[2];
        ck_assert_int_eq(tg_function_call(tp, &k_polar, NULL, 2, xs, 2, o), TG_OK);
        tt_assert_shape(o[0], 1, TT_SHAPE(4));
        tt_assert_shape(o[1], 0, NULL);
        polar_twin(t2, r, th, o2);
        tt_assert_close("u", o[0], o2[0], TOL, 0);
        tt_assert_close("q", o[1], o2[1], TOL, 0);
        ck_assert_int_eq(tg_vjp(tp, polar_loss(tp, o, w, use), NULL, 2, xs, g, false), TG_OK);
        ck_assert_int_eq(tg_vjp(t2, polar_loss(t2, o2, w, use), NULL, 2, xs, g2, false), TG_OK);
        tt_assert_close("d/dr", g[0], g2[0], TOL, 0);
        tt_assert_close("d/dth", g[1], g2[1], TOL, 0);
        tg_tape_free(tp);
        tg_tape_free(t2);
    }
    tg_tensor_free(r);
    tg_tensor_free(th);
    tg_tensor_free(w);
}
END_TEST

/* second order and tangents through both outputs */
START_TEST(test_two_outputs_higher)
{
    tg_tensor *r = tt_param(1, TT_SHAPE(4), 31, 0.5, 2), *th = tt_param(1, TT_SHAPE(4), 32, -2, 2);
    tg_tensor *w = tt_rand(TG_F64, 1, TT_SHAPE(4), 33, -1, 1), *xs[2] = {r, th};
    tg_tensor *ts[2] = {tt_rand(TG_F64, 1, TT_SHAPE(4), 34, -1, 1),
                        tt_rand(TG_F64, 1, TT_SHAPE(4), 35, -1, 1)};
    tg_tape *tp = tg_tape_new(NULL), *t2 = tg_tape_new(NULL);
    tg_tensor *o[2], *o2[2], *hv[2], *hv2[2], *j[2];
    ck_assert_int_eq(tg_function_call(tp, &k_polar, NULL, 2, xs, 2, o), TG_OK);
    polar_twin(t2, r, th, o2);
    ck_assert_int_eq(tg_jvp(tp, 2, xs, ts, 2, o, j, false), TG_OK);
    double want_u[4], want_q[1];
    jvp_reference(t2, o2[0], 2, xs, ts, want_u);
    jvp_reference(t2, o2[1], 2, xs, ts, want_q);
    tt_assert_values("jvp u", j[0], want_u, 4, TOL, 0);
    tt_assert_values("jvp q", j[1], want_q, 1, TOL, 0);
    ck_assert_int_eq(tg_hvp(tp, polar_loss(tp, o, w, 3), 2, xs, ts, hv, false), TG_OK);
    ck_assert_int_eq(tg_hvp(t2, polar_loss(t2, o2, w, 3), 2, xs, ts, hv2, false), TG_OK);
    tt_assert_close("hvp r", hv[0], hv2[0], TOL, 0);
    tt_assert_close("hvp th", hv[1], hv2[1], TOL, 0);
    tg_tape_free(tp);
    tg_tape_free(t2);
    tg_tensor *all[] = {r, th, w, ts[0], ts[1]};
    for (int i = 0; i < 5; i++) tg_tensor_free(all[i]);
}
END_TEST

/* ---- an output that is an input: the node records a copy ----------------------- */

static tg_status id_forward(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                            tg_tensor **saved)
{
    (void)tp;
    (void)saved;
    out[0] = a->in[0];
    out[1] = a->in[0]; /* the same tensor twice: two outputs */
    return TG_OK;
}

/* a straight-through rule: gin = 3 gout0 + gout1 (not the identity's, so
 * the test sees that the rule, not autodiff, ran) */
static tg_status id_vjp(tg_tape *tp, const tg_function_args *a, tg_tensor *const *gout,
                        tg_tensor **gin)
{
    (void)a;
    gin[0] = tg_add(tp, tg_mul_scalar(tp, gout[0], 3.0), gout[1]);
    return TG_OK;
}

static const tg_function k_id = {.name = "straight", .forward = id_forward, .vjp = id_vjp};

START_TEST(test_output_is_input)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(3), 41, -1, 1), *o[2];
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_int_eq(tg_function_call(tp, &k_id, NULL, 1, &x, 2, o), TG_OK);
    ck_assert_ptr_ne(o[0], x);
    tt_assert_close("value", o[0], x, 0, 0);
    tt_assert_close("value", o[1], x, 0, 0);
    ck_assert_int_eq(tg_backward(tp, tg_add(tp, tg_sum_all(tp, o[0]), tg_sum_all(tp, o[1]))),
                     TG_OK);
    const double want[3] = {4, 4, 4};
    tt_assert_values("straight-through", tg_tensor_grad(x), want, 3, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* A rule that hands one output's cotangent (a view of the packed
 * output's adjoint) to two inputs as it is: their adjoints must not share
 * memory when later contributions are added.  f(x, y) = (x + y, 0). */
static tg_status sum2_forward(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                              tg_tensor **saved)
{
    (void)saved;
    out[0] = tg_add(tp, a->in[0], a->in[1]);
    out[1] = tg_mul_scalar(tp, a->in[0], 0.0);
    return TG_OK;
}

static tg_status sum2_vjp(tg_tape *tp, const tg_function_args *a, tg_tensor *const *gout,
                          tg_tensor **gin)
{
    (void)tp;
    (void)a;
    gin[0] = gout[0];
    gin[1] = gout[0];
    return TG_OK;
}

static const tg_function k_sum2 = {.name = "sum2", .forward = sum2_forward, .vjp = sum2_vjp};

START_TEST(test_cotangent_shared)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(3), 61, -1, 1), *y = tt_param(1, TT_SHAPE(3), 62, -1, 1);
    tg_tensor *w = tt_rand(TG_F64, 1, TT_SHAPE(3), 63, -1, 1), *in[2] = {x, y}, *o[2];
    for (int create_graph = 0; create_graph <= 1; create_graph++) {
        tg_tape *tp = tg_tape_new(NULL);
        ck_assert_int_eq(tg_function_call(tp, &k_sum2, NULL, 2, in, 2, o), TG_OK);
        /* loss = sum(w (x + y)) + sum(x y) + sum(o1): dx = w + y, dy = w + x */
        tg_tensor *loss =
            tg_add(tp, tg_sum_all(tp, tg_mul(tp, w, o[0])),
                   tg_add(tp, tg_sum_all(tp, tg_mul(tp, x, y)), tg_sum_all(tp, o[1])));
        tg_tensor *g[2];
        ck_assert_int_eq(tg_vjp(tp, loss, NULL, 2, in, g, create_graph), TG_OK);
        double wx[3], wy[3];
        for (int i = 0; i < 3; i++) {
            wx[i] = tg_tensor_get_flat(w, i) + tg_tensor_get_flat(y, i);
            wy[i] = tg_tensor_get_flat(w, i) + tg_tensor_get_flat(x, i);
        }
        tt_assert_values("dx", g[0], wx, 3, TOL, 0);
        tt_assert_values("dy", g[1], wy, 3, TOL, 0);
        tg_tape_free(tp);
    }
    tg_tensor_free(x);
    tg_tensor_free(y);
    tg_tensor_free(w);
}
END_TEST

/* A function called inside another function's forward (recording is off
 * there) and inside a plain backward's rule works, and records nothing. */
static tg_status outer_forward(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                               tg_tensor **saved)
{
    (void)saved;
    out[0] = sp_call(tp, &k_sp_saved, a->in[0], a->in[1]);
    return out[0] ? TG_OK : tg_tape_status(tp);
}

static tg_status outer_vjp(tg_tape *tp, const tg_function_args *a, tg_tensor *const *gout,
                           tg_tensor **gin)
{
    /* the inner function's value, not its rule: its vjp runs here by hand */
    tg_tensor *y = sp_call(tp, &k_sp_saved, a->in[0], a->in[1]);
    if (!y) return tg_tape_status(tp);
    return sp_vjp_ops(tp, a, gout, gin);
}

static const tg_function k_outer = {.name = "outer", .forward = outer_forward, .vjp = outer_vjp};

START_TEST(test_nested)
{
    sp_fix s = sp_make(TG_F64);
    tg_tape *tp = tg_tape_new(NULL), *t2 = tg_tape_new(NULL);
    tg_tensor *y = sp_call(tp, &k_outer, s.a, s.b);
    ck_assert_msg(y != NULL, "%s", tg_tape_error(tp));
    ck_assert_int_eq(tg_tape_usage(tp).nodes, 1);
    tg_tensor *xs[2] = {s.a, s.b}, *g[2], *g2[2];
    ck_assert_int_eq(tg_vjp(tp, weighted(tp, y, s.w), NULL, 2, xs, g, false), TG_OK);
    ck_assert_int_eq(tg_vjp(t2, weighted(t2, sp_twin(t2, s.a, s.b), s.w), NULL, 2, xs, g2, false),
                     TG_OK);
    tt_assert_close("d/da", g[0], g2[0], TOL, 0);
    tt_assert_close("d/db", g[1], g2[1], TOL, 0);
    tg_tape_free(tp);
    tg_tape_free(t2);
    sp_free(&s);
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

static tg_status fail_forward(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                              tg_tensor **saved)
{
    (void)saved;
    int64_t bad[1] = {5};
    tg_tensor *r = tg_reshape(tp, a->in[0], 1, bad); /* 12 elements into 5 */
    out[0] = r;
    return r ? TG_OK : tg_tape_status(tp);
}

static tg_status quiet_forward(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                               tg_tensor **saved)
{
    (void)tp;
    (void)a;
    (void)out;
    (void)saved;
    return TG_ERR_ARG;
}

static tg_status null_forward(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                              tg_tensor **saved)
{
    (void)tp;
    (void)a;
    (void)saved;
    out[0] = NULL;
    return TG_OK;
}

static tg_status mixed_forward(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                               tg_tensor **saved)
{
    (void)saved;
    out[0] = tg_exp(tp, a->in[0]);
    out[1] = tg_cast(tp, out[0], TG_F32);
    return TG_OK;
}

static tg_status bad_vjp(tg_tape *tp, const tg_function_args *a, tg_tensor *const *gout,
                         tg_tensor **gin)
{
    (void)a;
    gin[0] = tg_sum_all(tp, gout[0]); /* a 0-d gradient for a (3,4) input */
    gin[1] = NULL;
    return TG_OK;
}

static tg_status quiet_vjp(tg_tape *tp, const tg_function_args *a, tg_tensor *const *gout,
                           tg_tensor **gin)
{
    (void)tp;
    (void)a;
    (void)gout;
    (void)gin;
    return TG_ERR_ARG;
}

static tg_status bad_jvp(tg_tape *tp, const tg_function_args *a, tg_tensor *const *tin,
                         tg_tensor **tout)
{
    (void)a;
    tout[0] = tg_sum_all(tp, tin[0]);
    return TG_OK;
}

static const tg_function k_fail = {.name = "broken", .forward = fail_forward, .vjp = sp_vjp_ops};
static const tg_function k_quiet = {.name = "quiet", .forward = quiet_forward, .vjp = sp_vjp_ops};
static const tg_function k_nullout = {.name = "none", .forward = null_forward, .vjp = sp_vjp_ops};
static const tg_function k_mixed = {.name = "mixed", .forward = mixed_forward, .vjp = sp_vjp_ops};
static const tg_function k_badvjp = {
    .name = "badvjp", .n_saved = 1, .forward = sp_forward, .vjp = bad_vjp};
static const tg_function k_quietvjp = {
    .name = "quietvjp", .n_saved = 1, .forward = sp_forward, .vjp = quiet_vjp};
static const tg_function k_badjvp = {
    .name = "badjvp", .n_saved = 1, .forward = sp_forward, .vjp = sp_vjp_ops, .jvp = bad_jvp};

START_TEST(test_errors)
{
    sp_fix s = sp_make(TG_F64);
    tg_tensor *in[2] = {s.a, s.b}, *out[2];
    tg_tape *tp = tg_tape_new(NULL);
    tg_function nof = k_sp_ops;
    nof.vjp = NULL;
    ck_assert_int_eq(tg_function_call(tp, &nof, NULL, 2, in, 1, out), TG_ERR_NULL);
    tt_assert_tape_error(tp, TG_ERR_NULL, "function_call softplus_ab: f->vjp is NULL");
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_function_call(tp, &k_sp_ops, NULL, 2, in, 0, out), TG_ERR_ARG);
    tt_assert_tape_error(tp, TG_ERR_ARG, "function_call softplus_ab: n_in 2, n_out 0");
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_function_call(tp, &k_fail, NULL, 1, in, 1, out), TG_ERR_SHAPE);
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "function broken: forward: reshape:");
    ck_assert_ptr_null(out[0]);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_function_call(tp, &k_quiet, NULL, 1, in, 1, out), TG_ERR_ARG);
    tt_assert_tape_error(tp, TG_ERR_ARG,
                         "function quiet: forward: returned invalid argument without a message");
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_function_call(tp, &k_nullout, NULL, 1, in, 1, out), TG_ERR_NULL);
    tt_assert_tape_error(tp, TG_ERR_NULL, "function none: forward gave output 0 NULL");
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_function_call(tp, &k_mixed, NULL, 1, in, 2, out), TG_ERR_DTYPE);
    tt_assert_tape_error(tp, TG_ERR_DTYPE, "function mixed: forward gave output 0 f64[3,4]",
                         "output 1 f32[3,4]");
    tg_tape_reset(tp);
    tg_tensor *y = sp_call(tp, &k_badvjp, s.a, s.b);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_ERR_SHAPE);
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "backward of badvjp gave a f64[] gradient",
                         "f64[3,4] input 0");
    tg_tape_reset(tp);
    y = sp_call(tp, &k_quietvjp, s.a, s.b);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_ERR_ARG);
    tt_assert_tape_error(tp, TG_ERR_ARG,
                         "function quietvjp: vjp: returned invalid argument without a message");
    tg_tape_reset(tp);
    y = sp_call(tp, &k_badjvp, s.a, s.b);
    tg_tensor *j;
    ck_assert_int_eq(tg_jvp(tp, 1, in, in, 1, &y, &j, false), TG_ERR_SHAPE);
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "function badjvp: jvp gave a f64[] tangent",
                         "f64[3,4] output 0");
    tg_tape_free(tp);
    sp_free(&s);
}
END_TEST

/* A forward returning a tensor of another tape. */
static tg_tape *g_other;
static tg_status foreign_forward(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                                 tg_tensor **saved)
{
    (void)tp;
    (void)saved;
    out[0] = tg_exp(g_other, a->in[0]);
    return TG_OK;
}
static const tg_function k_foreign = {
    .name = "foreign", .forward = foreign_forward, .vjp = sp_vjp_ops};

START_TEST(test_error_foreign)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(3), 51, -1, 1), *out[1];
    tg_tape *tp = tg_tape_new(NULL);
    g_other = tg_tape_new(NULL);
    ck_assert_int_eq(tg_function_call(tp, &k_foreign, NULL, 1, &x, 1, out), TG_ERR_TAPE);
    tt_assert_tape_error(tp, TG_ERR_TAPE,
                         "function foreign: forward gave output 0 as a tensor that is not a live "
                         "tensor of this tape");
    tg_tape_free(g_other);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("function");
    TCase *tc = tcase_create("function");
    tcase_add_test(tc, test_vjp_equals_autodiff);
    tcase_add_test(tc, test_gradcheck);
    tcase_add_test(tc, test_second_order);
    tcase_add_test(tc, test_jvp);
    tcase_add_test(tc, test_two_outputs);
    tcase_add_test(tc, test_two_outputs_higher);
    tcase_add_test(tc, test_output_is_input);
    tcase_add_test(tc, test_cotangent_shared);
    tcase_add_test(tc, test_nested);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_error_foreign);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
