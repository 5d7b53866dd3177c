/* The generic backward pass: tg_backward semantics, tg_grad on
 * intermediates, vector-Jacobian products, create_graph, custom ops. */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* y = sigmoid(w . x + b), the README's worked example, checked by hand. */
START_TEST(test_sigmoid_neuron)
{
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(1, 2), TT_VALUES(1.0, 2.0));
    tg_tensor *w = tt_from(TG_F64, 2, TT_SHAPE(2, 1), TT_VALUES(0.5, -0.25));
    tg_tensor *b = tt_from(TG_F64, 2, TT_SHAPE(1, 1), TT_VALUES(0.1));
    tg_tensor_set_requires_grad(w, true);
    tg_tensor_set_requires_grad(b, true);
    tg_tape *tp = tg_tape_new(NULL);
    /* w . x as an elementwise product and a sum, so this test needs no matmul */
    tg_tensor *xt = tt_from(TG_F64, 2, TT_SHAPE(2, 1), TT_VALUES(1.0, 2.0));
    tg_tensor *z = tg_add(tp, tg_sum(tp, tg_mul(tp, xt, w), 1, (int[]){0}, true), b);
    tg_tensor *y = tg_sigmoid(tp, z);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    double zv = 0.5 * 1.0 - 0.25 * 2.0 + 0.1, yv = 1.0 / (1.0 + exp(-zv));
    double d = yv * (1 - yv);
    tt_assert_values("y", y, TT_VALUES(yv), 1, 1e-15, 0);
    tt_assert_values("dy/dw", tg_tensor_grad(w), TT_VALUES(d * 1.0, d * 2.0), 2, 1e-14, 0);
    tt_assert_values("dy/db", tg_tensor_grad(b), TT_VALUES(d), 1, 1e-14, 0);
    /* the gradient of an intermediate: dy/dz = y (1 - y) */
    tg_tensor *gz = tg_grad(tp, y, z, false);
    tt_assert_values("dy/dz", gz, TT_VALUES(d), 1, 1e-14, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(xt);
    tg_tensor_free(w);
    tg_tensor_free(b);
}
END_TEST

/* ---- tg_backward semantics ---------------------------------------------------- */
static tg_tensor *poly(tg_tape *tp, tg_tensor *x, tg_tensor *w)
{
    /* sum(w * x^2 + x): d/dw = x^2, d/dx = 2 w x + 1 */
    return tg_sum_all(tp, tg_add(tp, tg_mul(tp, w, tg_square(tp, x)), x));
}

START_TEST(test_replace_and_accumulate)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    tg_tensor *w = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(0.5, -1, 2));
    tg_tensor *unused = tt_param(1, TT_SHAPE(2), 9, 0, 1);
    tg_tensor_set_requires_grad(w, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = poly(tp, x, w);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values("dy/dw", tg_tensor_grad(w), TT_VALUES(1, 4, 9), 3, 0, 0);
    ck_assert_ptr_null(tg_tensor_grad(x));      /* x does not require grad */
    ck_assert_ptr_null(tg_tensor_grad(unused)); /* never used on this tape: untouched */
    tg_tensor *storage = tg_tensor_grad(w);
    /* a second call replaces (default): same values, same storage */
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values("replaced", tg_tensor_grad(w), TT_VALUES(1, 4, 9), 3, 0, 0);
    ck_assert_ptr_eq(tg_tensor_grad(w), storage);
    /* accumulate on request */
    ck_assert_int_eq(tg_backward_ex(tp, y, &(tg_backward_options){.accumulate = true}), TG_OK);
    tt_assert_values("accumulated", tg_tensor_grad(w), TT_VALUES(2, 8, 18), 3, 0, 0);
    /* a new graph on the reset tape: gradients again replace */
    tg_tape_reset(tp);
    y = poly(tp, x, w);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values("after reset", tg_tensor_grad(w), TT_VALUES(1, 4, 9), 3, 0, 0);
    tg_tensor_zero_grad(w);
    tt_assert_values("zeroed", tg_tensor_grad(w), TT_VALUES(0, 0, 0), 3, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(unused);
}
END_TEST

START_TEST(test_retain_grad_and_intermediates)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(4), 3, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *h = tg_tanh(tp, x);
    tg_tensor *y = tg_sum_all(tp, tg_square(tp, h));
    ck_assert_int_eq(tg_retain_grad(tp, h), TG_OK);
    ck_assert_int_eq(tg_retain_grad(tp, x), TG_OK); /* user-owned: a no-op (issue 24, item 8) */
    tg_tape_reset(tp);
    h = tg_tanh(tp, x);
    y = tg_sum_all(tp, tg_square(tp, h));
    ck_assert_int_eq(tg_retain_grad(tp, h), TG_OK);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    /* dy/dh = 2h */
    tg_tensor *gh = tg_tensor_grad(h);
    ck_assert_ptr_nonnull(gh);
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq_tol(tg_tensor_get_flat(gh, i), 2 * tg_tensor_get_flat(h, i), 1e-15);
    /* tg_grad agrees and does not touch .grad */
    tg_tensor *g2 = tg_grad(tp, y, h, false);
    tt_assert_close("tg_grad vs retained", g2, gh, 0, 0);
    /* dy/dy = 1; an unrelated tensor on the tape gets zeros when asked for
     * (allow_unused; without it an error: test_grad_allow_unused) */
    tt_assert_values("dy/dy", tg_grad(tp, y, y, false), TT_VALUES(1), 1, 0, 0);
    tg_tensor *other = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(1, 2));
    ck_assert_ptr_nonnull(tg_exp(tp, other));
    tt_assert_values("unrelated",
                     tg_grad_ex(tp, y, other, &(tg_grad_options){.allow_unused = true}),
                     TT_VALUES(0, 0), 2, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(other);
}
END_TEST

/* Issue 24, item 7: one answer for "y does not depend on x", PyTorch's.
 * tg_backward leaves such a parameter's .grad NULL; tg_grad and tg_vjp
 * refuse such an x (naming the call, the index and the shape) unless
 * tg_grad_options.allow_unused asks for zeros of its shape. */
START_TEST(test_grad_allow_unused)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(1, -2));
    tg_tensor *u = tt_param(2, TT_SHAPE(2, 3), 3, -1, 1); /* recorded, unused by y */
    tg_tensor *v = tt_param(1, TT_SHAPE(4), 4, -1, 1);    /* never recorded */
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    for (int cg = 0; cg < 2; cg++) {
        tg_tape_reset(tp);
        tg_tensor *y = tg_sum_all(tp, tg_square(tp, x));
        ck_assert_ptr_nonnull(tg_exp(tp, u));
        /* tg_grad: an error by default */
        ck_assert_ptr_null(tg_grad(tp, y, u, cg));
        ck_assert_int_eq(tg_tape_status(tp), TG_ERR_ARG);
        tt_assert_tape_error(tp, TG_ERR_ARG,
                             "grad: the output does not depend on xs[0] f64[2,3]; set "
                             "tg_grad_options.allow_unused to get zeros for it");
        tg_tape_reset(tp);
        y = tg_sum_all(tp, tg_square(tp, x));
        ck_assert_ptr_nonnull(tg_exp(tp, u));
        /* the same through tg_vjp, naming itself and the index */
        tg_tensor *out[3] = {NULL, NULL, NULL};
        ck_assert_int_eq(tg_vjp(tp, y, NULL, 2, (tg_tensor *[]){x, u}, out, cg), TG_ERR_ARG);
        tt_assert_tape_error(tp, TG_ERR_ARG,
                             "vjp: the output does not depend on xs[1] f64[2,3]; set "
                             "tg_grad_options.allow_unused to get zeros for it");
        tg_tape_reset(tp);
        y = tg_sum_all(tp, tg_square(tp, x));
        ck_assert_ptr_nonnull(tg_exp(tp, u));
        /* never recorded: the same advice */
        ck_assert_ptr_null(tg_grad(tp, y, v, cg));
        ck_assert_int_eq(tg_tape_status(tp), TG_ERR_TAPE);
        tt_assert_tape_error(tp, TG_ERR_TAPE,
                             "grad: xs[0] f64[4] is not on this tape (no recorded op used it); set "
                             "tg_grad_options.allow_unused to get zeros for it");
        tg_tape_reset(tp);
        y = tg_sum_all(tp, tg_square(tp, x));
        ck_assert_ptr_nonnull(tg_exp(tp, u));
        /* allow_unused: zeros of the input's shape, the others as usual */
        const tg_grad_options o = {.create_graph = cg, .allow_unused = true};
        ck_assert_int_eq(tg_vjp_ex(tp, y, 3, (tg_tensor *[]){x, u, v}, out, &o), TG_OK);
        tt_assert_values("dy/dx", out[0], TT_VALUES(2, -4), 2, 0, 0);
        tt_assert_values("dy/du", out[1], TT_VALUES(0, 0, 0, 0, 0, 0), 6, 0, 0);
        ck_assert_int_eq(tg_tensor_ndim(out[1]), 2);
        tt_assert_values("dy/dv", out[2], TT_VALUES(0, 0, 0, 0), 4, 0, 0);
        tg_tensor *g = tg_grad_ex(tp, y, u, &o);
        ck_assert_ptr_nonnull(g);
        ck_assert(tg_tensor_same_shape(g, u));
        tt_assert_values("tg_grad_ex", g, TT_VALUES(0, 0, 0, 0, 0, 0), 6, 0, 0);
        /* a seed through the options */
        tg_tensor *s = tt_from(TG_F64, 0, NULL, TT_VALUES(3));
        tt_assert_values("seeded", tg_grad_ex(tp, y, x, &(tg_grad_options){.seed = s}),
                         TT_VALUES(6, -12), 2, 0, 0);
        tg_tensor_free(s);
        ck_assert_int_eq(tg_tape_status(tp), TG_OK);
        /* tg_backward: .grad of the unused parameter stays NULL */
        ck_assert_int_eq(tg_backward(tp, y), TG_OK);
        tt_assert_values(".grad x", tg_tensor_grad(x), TT_VALUES(2, -4), 2, 0, 0);
        ck_assert_ptr_null(tg_tensor_grad(u));
        ck_assert_ptr_null(tg_tensor_grad(v));
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(u);
    tg_tensor_free(v);
}
END_TEST

/* Issue 24, item 8: tg_retain_grad on a user tensor is a no-op (it gets
 * .grad anyway when it requires grad); on a tape tensor a backward has
 * already passed, or one of another tape, or a stale one, it is an error
 * returned and set as the thread's last error, never the tape's: the tape
 * stays usable. */
START_TEST(test_retain_grad_errors_not_sticky)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(3), 5, -1, 1);
    tg_tensor *c = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    tg_tape *tp = tg_tape_new(NULL), *other = tg_tape_new(NULL);
    /* user tensors: TG_OK, with or without requires_grad, nothing changes */
    ck_assert_int_eq(tg_retain_grad(tp, x), TG_OK);
    ck_assert_int_eq(tg_retain_grad(tp, c), TG_OK);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    ck_assert(!tg_tensor_requires_grad(c));
    tg_tensor *h = tg_mul(tp, x, c);
    tg_tensor *y = tg_sum_all(tp, tg_square(tp, h));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    ck_assert_ptr_null(tg_tensor_grad(c));
    ck_assert_ptr_nonnull(tg_tensor_grad(x));
    /* h was made before that backward: its gradient is gone */
    ck_assert_int_eq(tg_retain_grad(tp, h), TG_ERR_ARG);
    ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(),
                     "retain_grad: %0 f64[3] was recorded before the last tg_backward on this "
                     "tape, which kept no gradient for it; call tg_retain_grad before "
                     "tg_backward");
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    ck_assert_ptr_null(tg_tensor_grad(h));
    /* a tensor of another tape, NULL */
    tg_tensor *o = tg_exp(other, c);
    ck_assert_int_eq(tg_retain_grad(tp, o), TG_ERR_TAPE);
    ck_assert_str_eq(tg_last_error(), "retain_grad: the tensor belongs to another tape");
    ck_assert_int_eq(tg_retain_grad(tp, NULL), TG_ERR_NULL);
    ck_assert_str_eq(tg_last_error(), "retain_grad: tensor is NULL");
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    ck_assert_int_eq(tg_tape_status(other), TG_OK);
    /* the tape goes on: a tensor made after the backward can be retained */
    tg_tensor *h2 = tg_mul(tp, x, c);
    tg_tensor *y2 = tg_sum_all(tp, tg_square(tp, h2));
    ck_assert_int_eq(tg_retain_grad(tp, h2), TG_OK);
    ck_assert_int_eq(tg_backward(tp, y2), TG_OK);
    ck_assert_ptr_nonnull(tg_tensor_grad(h2));
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq(tg_tensor_get_flat(tg_tensor_grad(h2), i),
                            2 * tg_tensor_get_flat(h2, i));
    /* a stale tensor (made before a reset) */
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_retain_grad(tp, h2), TG_ERR_TAPE);
    ck_assert_str_eq(tg_last_error(),
                     "retain_grad: the tensor is stale (created before the last tg_tape_reset)");
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    ck_assert_ptr_nonnull(tg_exp(tp, x));
    tg_tape_free(tp);
    tg_tape_free(other);
    tg_tensor_free(x);
    tg_tensor_free(c);
}
END_TEST

/* tg_backward takes "depends on a parameter" from the requires-grad flags the
 * tape kept while recording, and skips its forward pass over the nodes,
 * unless a flag changed after recording or a tensor is retained (the cases
 * below): then it makes the pass, and every gradient is as if it had. */
START_TEST(test_dependence_without_forward_pass)
{
    tg_tape *tp = tg_tape_new(NULL);
    for (int flip = 0; flip < 3; flip++) {
        /* y = sum(a*b + exp(c)) with a a parameter, b and c not (yet) */
        tg_tensor *a = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(1.5, -2));
        tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(0.5, 3));
        tg_tensor *c = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(4, 0.25));
        tg_tensor_set_requires_grad(a, true);
        tg_tape_reset(tp);
        tg_tensor *y = tg_sum_all(tp, tg_add(tp, tg_mul(tp, a, b), tg_exp(tp, c)));
        if (flip == 1) tg_tensor_set_requires_grad(b, true);  /* after recording */
        if (flip == 2) tg_tensor_set_requires_grad(a, false); /* after recording */
        /* with a no longer a parameter, y depends on none: an error (and
         * no .grad written) */
        ck_assert_int_eq(tg_backward(tp, y), flip == 2 ? TG_ERR_ARG : TG_OK);
        if (flip == 2)
            ck_assert_ptr_null(tg_tensor_grad(a)); /* no longer a parameter */
        else
            tt_assert_values("da", tg_tensor_grad(a), TT_VALUES(0.5, 3), 2, 0, 0);
        if (flip == 1)
            tt_assert_values("db", tg_tensor_grad(b), TT_VALUES(1.5, -2), 2, 0, 0);
        else
            ck_assert_ptr_null(tg_tensor_grad(b));
        ck_assert_ptr_null(tg_tensor_grad(c));
        tg_tensor_free(a);
        tg_tensor_free(b);
        tg_tensor_free(c);
    }
    tg_tensor *a = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(1.5, -2));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(0.5, 3));
    tg_tensor *c = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(4, 0.25));
    tg_tensor_set_requires_grad(a, true);
    /* retained, made from constants only: it gets its gradient (exp(c) did
     * not require grad when made, but retaining it makes it a target) */
    tg_tape_reset(tp);
    tg_tensor *e = tg_exp(tp, c);
    tg_tensor *y = tg_sum_all(tp, tg_mul(tp, tg_mul(tp, a, b), e));
    ck_assert_int_eq(tg_retain_grad(tp, e), TG_OK);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values("de", tg_tensor_grad(e), TT_VALUES(1.5 * 0.5, -2 * 3), 2, 0, 0);
    /* detach (which clears the kept flag too): the gradient stops there;
     * y = sum(d a + a) with d = a^2 held constant, so dy/da = a^2 + 1 */
    tg_tape_reset(tp);
    tg_tensor *d = tg_detach(tp, tg_mul(tp, a, a));
    ck_assert(!tg_tensor_requires_grad(d));
    y = tg_sum_all(tp, tg_add(tp, tg_mul(tp, d, a), a));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values("detach", tg_tensor_grad(a), TT_VALUES(1.5 * 1.5 + 1, 4 + 1), 2, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(c);
}
END_TEST

START_TEST(test_vjp_non_scalar)
{
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(1, 2, 3, 4));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_square(tp, x); /* non-scalar */
    ck_assert_int_eq(tg_backward(tp, y), TG_ERR_NOT_SCALAR);
    tt_assert_tape_error(tp, TG_ERR_NOT_SCALAR, "backward", "f64[2,2]", "seed");
    ck_assert_int_eq(tg_backward(tp, y), TG_ERR_STATE); /* tape in error */
    tg_tape_reset(tp);
    y = tg_square(tp, x);
    tg_tensor *seed = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(1, 0, -1, 0.5));
    tg_tensor *g = NULL;
    ck_assert_int_eq(tg_vjp(tp, y, seed, 1, &x, &g, false), TG_OK);
    tt_assert_values("seed * 2x", g, TT_VALUES(2, 0, -6, 4), 4, 0, 0);
    tg_tensor *bad = tt_from(TG_F64, 1, TT_SHAPE(4), TT_VALUES(1, 1, 1, 1));
    ck_assert_int_eq(tg_vjp(tp, y, bad, 1, &x, &g, false), TG_ERR_SHAPE);
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "seed", "f64[4]", "f64[2,2]");
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(seed);
    tg_tensor_free(bad);
}
END_TEST

/* The same tensor reaching the output along several paths accumulates. */
START_TEST(test_fan_out_accumulates)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(0.3, -0.7));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    /* y = sum(x*x + exp(x) + x) -> dy/dx = 2x + e^x + 1 */
    tg_tensor *y = tg_sum_all(tp, tg_add(tp, tg_add(tp, tg_mul(tp, x, x), tg_exp(tp, x)), x));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    /* The second element sums terms of size ~1.4 to 0.097: rounding of the
     * three-term sum depends on its order (gcc and clang differ), so the
     * bound is a few ulps of the terms, 4 * 2^-52 * 3 = 2.7e-15, absolute. */
    tt_assert_values("fan-out", tg_tensor_grad(x),
                     TT_VALUES(0.6 + exp(0.3) + 1, -1.4 + exp(-0.7) + 1), 2, 0, 2.7e-15);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* Plain backward adds later contributions in place into buffers the sweep
 * owns.  Every way an adjoint can be shared must survive that: reshape's
 * backward returns a view of its g (r's adjoint), which is h's first
 * contribution here (r is recorded after h + x, so it is swept first); add
 * hands its g on unchanged; x * x sends one tensor to two slots of x; and h
 * and r are retained, so their adjoints must keep their values after others
 * accumulate.  With h = 3x, r = reshape(h, (2,2)):
 *   y = sum(h + x) + sum(r * r) + sum(x * x)
 *   dy/dr = 2r,  dy/dh = 1 + 2h,  dy/dx = 3 dy/dh + 1 + 2x = 4 + 20x */
START_TEST(test_inplace_accumulation_keeps_shared_adjoints)
{
    const double xv[4] = {0.5, -1.25, 2.0, 0.125};
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(4), xv);
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *h = tg_mul_scalar(tp, x, 3.0);
    tg_tensor *s1 = tg_sum_all(tp, tg_add(tp, h, x));
    tg_tensor *r = tg_reshape(tp, h, 2, TT_SHAPE(2, 2));
    tg_tensor *s2 = tg_sum_all(tp, tg_mul(tp, r, r));
    tg_tensor *y = tg_add(tp, tg_add(tp, s1, s2), tg_sum_all(tp, tg_mul(tp, x, x)));
    ck_assert_int_eq(tg_retain_grad(tp, h), TG_OK);
    ck_assert_int_eq(tg_retain_grad(tp, r), TG_OK);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    double gr[4], gh[4], gx[4];
    for (int i = 0; i < 4; i++) {
        gr[i] = 2 * 3 * xv[i];
        gh[i] = 1 + 2 * 3 * xv[i];
        gx[i] = 4 + 20 * xv[i];
    }
    tt_assert_values("dy/dr (retained)", tg_tensor_grad(r), gr, 4, 1e-15, 0);
    tt_assert_values("dy/dh (retained)", tg_tensor_grad(h), gh, 4, 1e-15, 0);
    tt_assert_values("dy/dx", tg_tensor_grad(x), gx, 4, 1e-15, 0);
    /* tg_vjp of both at once: the same values, and x's does not alias h's */
    tg_tensor *xs[2] = {h, x}, *gs[2] = {NULL, NULL};
    ck_assert_int_eq(tg_vjp(tp, y, NULL, 2, xs, gs, false), TG_OK);
    tt_assert_values("vjp dy/dh", gs[0], gh, 4, 1e-15, 0);
    tt_assert_values("vjp dy/dx", gs[1], gx, 4, 1e-15, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* create_graph: the gradient is on the tape and can be differentiated. */
START_TEST(test_create_graph_second_derivative)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(0.5, 1.5, -2));
    tg_tape *tp = tg_tape_new(NULL);
    /* f = sum(x^3): f' = 3x^2, f'' = 6x */
    tg_tensor *f = tg_sum_all(tp, tg_mul(tp, x, tg_square(tp, x)));
    int64_t before = tg_tape_usage(tp).nodes;
    tg_tensor *g = tg_grad(tp, f, x, true);
    ck_assert_int_gt(tg_tape_usage(tp).nodes, before); /* recorded */
    tt_assert_values("f'", g, TT_VALUES(0.75, 6.75, 12), 3, 1e-15, 0);
    tg_tensor *h = tg_grad(tp, tg_sum_all(tp, g), x, false);
    tt_assert_values("f''", h, TT_VALUES(3, 9, -12), 3, 1e-15, 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* ---- custom ops ------------------------------------------------------------------ */
/* cube(x) = x^3, written as a user would: forward loop, backward with ops. */
static tg_status cube_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0);
    gin[0] = tg_mul(tp, g, tg_mul_scalar(tp, tg_square(tp, x), 3.0)); /* 3 x^2 g */
    return TG_OK;
}
/* the same op with a planted sign slip in its backward */
static tg_status cube_backward_wrong(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0);
    gin[0] = tg_mul(tp, g, tg_mul_scalar(tp, tg_square(tp, x), -3.0));
    return TG_OK;
}
/* a backward that returns the wrong shape */
static tg_status cube_backward_badshape(tg_tape *tp, const tg_node *n, tg_tensor *g,
                                        tg_tensor **gin)
{
    (void)n;
    gin[0] = tg_sum_all(tp, g);
    return TG_OK;
}
static const tg_op k_cube = {.name = "cube", .arity = 1, .backward = cube_backward};
static const tg_op k_cube_wrong = {
    .name = "cube_wrong", .arity = 1, .backward = cube_backward_wrong};
static const tg_op k_cube_badshape = {
    .name = "cube_badshape", .arity = 1, .backward = cube_backward_badshape};

/* Direct first-order rules (tg_op.direct): the same derivative written in
 * place, a planted wrong one (2x^2 for 3x^2), and one that hands over a
 * gradient of the wrong shape. */
static tg_status cube_direct_k(tg_tape *tp, const tg_node *n, const tg_tensor *g,
                               tg_grad_sink *sink, double k)
{
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(sink, 0, &acc);
    if (!d) return tg_tape_status(tp);
    const tg_tensor *x = tg_node_input(n, 0);
    for (int64_t i = 0; i < tg_tensor_numel(x); i++) {
        double v = tg_tensor_get_flat(x, i);
        double c = tg_tensor_get_flat(g, i) * (k * (v * v));
        tg_tensor_set_flat(d, i, acc ? tg_tensor_get_flat(d, i) + c : c);
    }
    return TG_OK;
}
static tg_status cube_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *sink)
{
    return cube_direct_k(tp, n, g, sink, 3.0);
}
static tg_status cube_direct_wrong(tg_tape *tp, const tg_node *n, const tg_tensor *g,
                                   tg_grad_sink *sink)
{
    return cube_direct_k(tp, n, g, sink, 2.0);
}
static tg_status cube_direct_badshape(tg_tape *tp, const tg_node *n, const tg_tensor *g,
                                      tg_grad_sink *sink)
{
    (void)n;
    return tg_grad_sink_add(sink, 0, tg_sum_all(tp, (tg_tensor *)g));
}
static const tg_op k_cube_direct = {.name = "cube_direct",
                                    .arity = 1,
                                    .backward = cube_backward,
                                    .direct = cube_direct,
                                    .scalar = NULL};
static const tg_op k_cube_direct_wrong = {.name = "cube_direct_wrong",
                                          .arity = 1,
                                          .backward = cube_backward,
                                          .direct = cube_direct_wrong,
                                          .scalar = NULL};
static const tg_op k_cube_direct_badshape = {.name = "cube_direct_badshape",
                                             .arity = 1,
                                             .backward = cube_backward,
                                             .direct = cube_direct_badshape,
                                             .scalar = NULL};

static tg_tensor *cube(tg_tape *tp, tg_tensor *x, const tg_op *op)
{
    if (!tg_tape_check_inputs(tp, op->name, 1, &x)) return NULL;
    tg_tensor *y = tg_tape_alloc(tp, tg_tensor_dtype(x), tg_tensor_ndim(x), tg_tensor_shape(x));
    if (!y) return NULL;
    for (int64_t i = 0; i < tg_tensor_numel(x); i++) {
        double v = tg_tensor_get_flat(x, i);
        tg_tensor_set_flat(y, i, v * v * v);
    }
    return tg_tape_record(tp, op, 1, &x, y, NULL, 0, 0, NULL);
}
static tg_tensor *fn_cube(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    return tg_sum_all(tp, tg_sigmoid(tp, cube(tp, in[0], ctx)));
}

START_TEST(test_custom_op)
{
    tg_tensor *x = tt_param(2, TT_SHAPE(2, 3), 11, -1, 1);
    tt_gradcheck("custom cube", fn_cube, (void *)&k_cube, 1, &x);
    /* second derivative through the custom op: d2/dx2 sum(x^3) = 6x */
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *g = tg_grad(tp, tg_sum_all(tp, cube(tp, x, &k_cube)), x, true);
    tg_tensor *h = tg_grad(tp, tg_sum_all(tp, g), x, false);
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq_tol(tg_tensor_get_flat(h, i), 6 * tg_tensor_get_flat(x, i), 1e-14);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* gradcheck catches a planted sign slip, and reports where. */
START_TEST(test_custom_op_wrong_backward_caught)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(5), 12, 0.2, 1);
    tg_compare_report rep;
    tg_status st = tg_gradcheck(fn_cube, (void *)&k_cube_wrong, 1, &x, NULL, &rep);
    ck_assert_int_eq(st, TG_ERR_NUMERIC);
    ck_assert(!rep.ok);
    ck_assert_int_eq(rep.n_failed, 5);
    ck_assert(rep.worst_a * rep.worst_b < 0); /* opposite signs */
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_custom_op_bad_shape_reported)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(3), 13, 0.2, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_all(tp, cube(tp, x, &k_cube_badshape));
    ck_assert_int_eq(tg_backward(tp, y), TG_ERR_SHAPE);
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "cube_badshape", "f64[]", "f64[3]");
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* A direct rule is used by plain backward (here: x used twice, so the
 * second contribution accumulates into the first), and gradcheck checks it
 * against both the numeric gradient and the op-built rule. */
START_TEST(test_custom_op_direct_rule)
{
    tg_tensor *x = tt_param(2, TT_SHAPE(2, 3), 14, -1, 1);
    tt_gradcheck("custom cube with a direct rule", fn_cube, (void *)&k_cube_direct, 1, &x);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_add(tp, cube(tp, x, &k_cube_direct), cube(tp, x, &k_cube_direct));
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_OK);
    for (int i = 0; i < 6; i++) {
        double v = tg_tensor_get_flat(x, i);
        ck_assert_double_eq_tol(tg_tensor_get_flat(tg_tensor_grad(x), i), 6 * v * v, 1e-15);
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* A direct rule that disagrees with the op's backward rule is caught, and
 * the report says so (the numeric check fails too: the direct rule is the
 * one plain backward uses). */
START_TEST(test_custom_op_wrong_direct_caught)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(4), 15, 0.2, 1);
    tg_compare_report rep;
    tg_status st = tg_gradcheck(fn_cube, (void *)&k_cube_direct_wrong, 1, &x, NULL, &rep);
    ck_assert_int_eq(st, TG_ERR_NUMERIC);
    ck_assert(!rep.ok);
    ck_assert(rep.rules_disagree);
    ck_assert_int_eq(rep.n_failed, 4);
    /* 2x^2 against 3x^2 times the same sigmoid' factor */
    ck_assert_double_eq_tol(rep.rules_direct / rep.rules_built, 2.0 / 3.0, 1e-14);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "direct rule"));
    char buf[1024];
    tg_compare_report_format(buf, sizeof buf, "cube", &rep);
    ck_assert_ptr_nonnull(strstr(buf, "direct rule and op-built rule disagree"));
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_custom_op_direct_bad_shape_reported)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(3), 16, 0.2, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_all(tp, cube(tp, x, &k_cube_direct_badshape));
    ck_assert_int_eq(tg_backward(tp, y), TG_ERR_SHAPE);
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "cube_direct_badshape", "f64[]", "f64[3]");
    /* with create_graph the op-built rule runs and is right */
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_SHAPE);
    tg_tape_free(tp);
    tp = tg_tape_new(NULL);
    y = tg_sum_all(tp, cube(tp, x, &k_cube_direct_badshape));
    tg_tensor *g = tg_grad(tp, y, x, true);
    ck_assert_ptr_nonnull(g);
    ck_assert_double_eq_tol(tg_tensor_get_flat(g, 0),
                            3 * tg_tensor_get_flat(x, 0) * tg_tensor_get_flat(x, 0), 1e-15);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* A planted missing transpose: y = A @ x with the rule dx = A @ g instead
 * of A^T @ g.  For a non-symmetric A gradcheck must catch it. */
static tg_status matvec_backward_wrong(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *a = tg_node_input(n, 0);
    if (tg_node_needs_grad(n, 1)) gin[1] = tg_matmul(tp, a, g); /* should be trans_a = true */
    return TG_OK;
}
static const tg_op k_matvec_wrong = {
    .name = "matvec_wrong", .arity = 2, .backward = matvec_backward_wrong};

static tg_tensor *fn_matvec(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *ab[2] = {in[0], in[1]};
    tg_tensor *y = tg_matmul(tp, in[0], in[1]); /* the correct forward ... */
    if (!y) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, TG_F64, 2, tg_tensor_shape(y));
    if (!out) return NULL;
    tg_tensor_copy(out, y);
    /* ... recorded under the op with the wrong rule */
    return tg_sum_all(
        tp, tg_sigmoid(tp, tg_tape_record(tp, &k_matvec_wrong, 2, ab, out, NULL, 0, 0, NULL)));
}

START_TEST(test_missing_transpose_caught)
{
    tg_tensor *a = tt_rand(TG_F64, 2, TT_SHAPE(3, 3), 21, -1, 1);
    tg_tensor *x = tt_param(2, TT_SHAPE(3, 1), 22, -1, 1);
    tg_tensor *in[2] = {a, x};
    tg_compare_report rep[2];
    ck_assert_int_eq(tg_gradcheck(fn_matvec, NULL, 2, in, NULL, rep), TG_ERR_NUMERIC);
    ck_assert(!rep[1].ok);
    ck_assert_int_gt(rep[1].n_failed, 0);
    ck_assert_int_eq(rep[0].numel, 0); /* a does not require grad: not checked */
    tg_tensor_free(a);
    tg_tensor_free(x);
}
END_TEST

/* A user-owned parameter used on two tapes, one after the other. */
START_TEST(test_param_on_two_tapes)
{
    tg_tensor *w = tt_param(1, TT_SHAPE(2), 14, -1, 1);
    tg_tape *a = tg_tape_new(NULL), *b = tg_tape_new(NULL);
    tg_tensor *ya = tg_sum_all(a, tg_square(a, w));
    tg_tensor *yb = tg_sum_all(b, tg_mul_scalar(b, w, 3.0));
    ck_assert_int_eq(tg_backward(b, yb), TG_OK);
    tt_assert_values("from b", tg_tensor_grad(w), TT_VALUES(3, 3), 2, 0, 0);
    ck_assert_int_eq(tg_backward(a, ya), TG_OK);
    tt_assert_values("from a", tg_tensor_grad(w),
                     TT_VALUES(2 * tg_tensor_get_flat(w, 0), 2 * tg_tensor_get_flat(w, 1)), 2, 0,
                     0);
    tg_tape_free(a);
    tg_tape_free(b);
    tg_tensor_free(w);
}
END_TEST

/* ---- .grad's two buffers --------------------------------------------------------
 * A direct tg_backward writes a parameter's gradient into a second buffer
 * kept with the parameter and, once the whole sweep has succeeded, swaps it
 * with .grad's data: .grad (the header) stays the same tensor, its data
 * pointer alternates, and a failed sweep leaves .grad exactly as it was.
 * The loss below gives its parameters every kind of adjoint a sweep can end
 * with: written by a direct rule into its buffer (w, b), summed there (u,
 * used three times), adopted and then copied into its buffer before a sum
 * (v), adopted only (a), a one-element flat slot (s), and none (z: its
 * .grad stays NULL, issue 24 item 7). */
enum { GB_W, GB_B, GB_U, GB_V, GB_A, GB_S, GB_Z, GB_N };
static const char *const k_gb_names[GB_N] = {"w", "b", "u", "v", "a", "s", "z"};
/* the parameters whose gradient lands in the second buffer */
static bool gb_swapped(int i)
{
    return i == GB_W || i == GB_B || i == GB_U || i == GB_V;
}

typedef struct gb_world {
    tg_dtype dt;
    tg_tensor *x[2], *c[2]; /* two sets of inputs: two different losses */
    tg_tensor *p[GB_N];
} gb_world;

static void gb_init(gb_world *g, tg_dtype dt)
{
    g->dt = dt;
    for (int k = 0; k < 2; k++) {
        g->x[k] = tt_rand(dt, 2, TT_SHAPE(4, 5), 100 + (uint64_t)k, -1, 1);
        g->c[k] = tt_rand(dt, 2, TT_SHAPE(4, 3), 110 + (uint64_t)k, -1, 1);
    }
    const int64_t *shapes[GB_N] = {TT_SHAPE(5, 3), TT_SHAPE(3), TT_SHAPE(4, 3), TT_SHAPE(4, 3),
                                   TT_SHAPE(4, 3), TT_SHAPE(0), TT_SHAPE(2)};
    const int ndims[GB_N] = {2, 1, 2, 2, 2, 0, 1};
    for (int i = 0; i < GB_N; i++) {
        g->p[i] = tt_rand(dt, ndims[i], shapes[i], 120 + (uint64_t)i, -1, 1);
        tg_tensor_set_requires_grad(g->p[i], true);
    }
}

static void gb_free(gb_world *g)
{
    for (int k = 0; k < 2; k++) {
        tg_tensor_free(g->x[k]);
        tg_tensor_free(g->c[k]);
    }
    for (int i = 0; i < GB_N; i++) tg_tensor_free(g->p[i]);
}

/* s * sum(r^2), r = (u h + u u) + a + v + v c, h = tanh(x w + b), with
 * inputs set k.  Nodes are swept last first: v's add hands it g (adopted)
 * before mul(v, c), recorded first, adds into it. */
static tg_tensor *gb_loss(tg_tape *tp, const gb_world *g, int k)
{
    tg_tensor *const *p = g->p;
    tg_tensor *vc = tg_mul(tp, p[GB_V], g->c[k]);
    tg_exp(tp, p[GB_Z]); /* on the tape; the loss does not depend on it */
    tg_tensor *h = tg_tanh(tp, tg_add(tp, tg_matmul(tp, g->x[k], p[GB_W]), p[GB_B]));
    tg_tensor *q = tg_add(tp, tg_mul(tp, h, p[GB_U]), tg_mul(tp, p[GB_U], p[GB_U]));
    tg_tensor *r = tg_add(tp, tg_add(tp, tg_add(tp, q, p[GB_A]), p[GB_V]), vc);
    return tg_mul(tp, tg_sum_all(tp, tg_square(tp, r)), p[GB_S]);
}

static bool gb_bits_equal(const tg_tensor *a, const tg_tensor *b)
{
    if (!a || !b) return !a && !b; /* z's missing .grad */
    return tg_tensor_same_shape(a, b) && tg_tensor_dtype(a) == tg_tensor_dtype(b) &&
           memcmp(tg_tensor_data_const(a), tg_tensor_data_const(b),
                  (size_t)tg_tensor_numel(a) * tg_dtype_size(tg_tensor_dtype(a))) == 0;
}

/* One replacing backward of loss k on a fresh tape; checks every .grad
 * against tg_vjp's gradient on the same tape (the same direct rules, into
 * tape buffers), bit for bit, and returns copies of the gradients. */
static void gb_step(tg_tape *tp, const gb_world *g, int k, tg_tensor **copies)
{
    tg_tape_reset(tp);
    tg_tensor *loss = gb_loss(tp, g, k);
    ck_assert_msg(loss != NULL, "%s", tg_tape_error(tp));
    ck_assert_int_eq(tg_backward(tp, loss), TG_OK);
    tg_tensor *ref[GB_N];
    ck_assert_int_eq(tg_vjp_ex(tp, loss, GB_N, g->p, ref, &(tg_grad_options){.allow_unused = true}),
                     TG_OK);
    for (int i = 0; i < GB_N; i++) {
        const tg_tensor *gr = tg_tensor_grad(g->p[i]);
        if (i == GB_Z) { /* the loss does not depend on z: no .grad, tg_vjp's zeros */
            ck_assert_ptr_null(gr);
            tt_assert_values("dz", ref[i], TT_VALUES(0, 0), 2, 0, 0);
            copies[i] = NULL;
            continue;
        }
        ck_assert_msg(gb_bits_equal(gr, ref[i]), "loss %d: .grad of %s differs from tg_vjp's", k,
                      k_gb_names[i]);
        copies[i] = tg_tensor_clone(gr);
    }
}

static void gb_free_all(tg_tensor **t)
{
    for (int i = 0; i < GB_N; i++) tg_tensor_free(t[i]);
}

/* Successive backward calls replace .grad with exactly the new gradient;
 * the header stays, the data pointer of a swapped gradient alternates
 * between its two buffers. */
START_TEST(test_grad_buffers_swap)
{
    gb_world g;
    gb_init(&g, _i ? TG_F32 : TG_F64);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *g1[GB_N], *g2[GB_N], *g3[GB_N], *hdr[GB_N];
    const void *d1[GB_N], *d2[GB_N];
    gb_step(tp, &g, 0, g1);
    for (int i = 0; i < GB_N; i++) {
        hdr[i] = tg_tensor_grad(g.p[i]);
        d1[i] = tg_tensor_data(hdr[i]);
    }
    gb_step(tp, &g, 1, g2);
    for (int i = 0; i < GB_N; i++) {
        ck_assert_ptr_eq(tg_tensor_grad(g.p[i]), hdr[i]);
        d2[i] = tg_tensor_data(hdr[i]);
        /* the two losses have different gradients, so stale data shows */
        if (i != GB_Z) ck_assert_msg(!gb_bits_equal(g1[i], g2[i]), "%s", k_gb_names[i]);
        /* swapped, or copied (a, s, z: the data stays where it was) */
        if (gb_swapped(i))
            ck_assert_ptr_ne(d2[i], d1[i]);
        else
            ck_assert_ptr_eq(d2[i], d1[i]);
    }
    ck_assert_ptr_null(hdr[GB_Z]); /* z: never a .grad */
    gb_step(tp, &g, 0, g3);
    for (int i = 0; i < GB_N; i++) {
        ck_assert_ptr_eq(tg_tensor_grad(g.p[i]), hdr[i]);
        ck_assert(gb_bits_equal(g3[i], g1[i]));
        if (gb_swapped(i)) ck_assert_ptr_eq(tg_tensor_data(hdr[i]), d1[i]);
    }
    /* tg_grad's result (tape-owned, valid until reset) is not kept in a
     * second buffer: a later backward of another loss leaves it alone */
    tg_tape_reset(tp);
    tg_tensor *l0 = gb_loss(tp, &g, 0), *l1 = gb_loss(tp, &g, 1);
    tg_tensor *dw = tg_grad(tp, l0, g.p[GB_W], false);
    ck_assert_ptr_nonnull(dw);
    ck_assert_int_eq(tg_backward(tp, l1), TG_OK);
    ck_assert(gb_bits_equal(dw, g1[GB_W]));
    ck_assert(gb_bits_equal(tg_tensor_grad(g.p[GB_W]), g2[GB_W]));
    gb_free_all(g1);
    gb_free_all(g2);
    gb_free_all(g3);
    tg_tape_free(tp);
    gb_free(&g);
}
END_TEST

/* A sweep that fails midway, after it has written some parameters' second
 * buffers (anomaly mode: sqrt's derivative at 0, swept after w, b, u and v;
 * or an arena limit), leaves every .grad, values and data pointer, as it
 * was; the tape then recovers. */
static void gb_assert_unchanged(const char *what, const gb_world *g, tg_tensor *const *before,
                                const void *const *data)
{
    for (int i = 0; i < GB_N; i++) {
        ck_assert_msg(gb_bits_equal(tg_tensor_grad(g->p[i]), before[i]),
                      "%s: .grad of %s changed by a failed backward", what, k_gb_names[i]);
        ck_assert_msg(tg_tensor_data(tg_tensor_grad(g->p[i])) == data[i],
                      "%s: .grad of %s has moved", what, k_gb_names[i]);
    }
}

START_TEST(test_grad_buffers_failed_sweep)
{
    gb_world g;
    gb_init(&g, _i ? TG_F32 : TG_F64);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *g1[GB_N], *g2[GB_N], *g3[GB_N];
    const void *data[GB_N];
    /* two steps: each second buffer then holds the older gradient */
    gb_step(tp, &g, 0, g1);
    gb_step(tp, &g, 1, g2);
    for (int i = 0; i < GB_N; i++) data[i] = tg_tensor_data(tg_tensor_grad(g.p[i]));
    tg_tensor *q = tt_from(g.dt, 1, TT_SHAPE(3), TT_VALUES(0.25, 0, 4));

    /* anomaly mode: sqrt(q), recorded first, is swept last */
    tg_tape *ta = tg_tape_new(&(tg_tape_options){.anomaly = true});
    tg_tensor_set_requires_grad(q, true);
    tg_tensor *sq = tg_sum_all(ta, tg_sqrt(ta, q));
    tg_tensor *loss = tg_add(ta, sq, gb_loss(ta, &g, 0));
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(tg_backward(ta, loss), TG_ERR_NUMERIC);
    tt_assert_tape_error(ta, TG_ERR_NUMERIC, "sqrt");
    gb_assert_unchanged("anomaly", &g, g2, data);
    ck_assert_ptr_null(tg_tensor_grad(q));
    tg_tape_free(ta);

    /* arena limits between what loss 0's forward pass and its whole step
     * need: before each, .grad holds loss 1's gradient */
    tg_tape *tm = tg_tape_new(NULL);
    tg_tensor *l0 = gb_loss(tm, &g, 0);
    const size_t fwd = tg_tape_usage(tm).bytes_in_use;
    ck_assert_int_eq(tg_backward(tm, l0), TG_OK);
    const size_t need = tg_tape_usage(tm).high_water - fwd;
    tg_tape_free(tm);
    int failed = 0;
    for (int q16 = 1; q16 < 16; q16++) {
        gb_step(tp, &g, 1, g3);
        gb_free_all(g3);
        for (int i = 0; i < GB_N; i++) data[i] = tg_tensor_data(tg_tensor_grad(g.p[i]));
        tg_tape *tl = tg_tape_new(&(tg_tape_options){.arena_limit = fwd + need * q16 / 16});
        tg_tensor *l = gb_loss(tl, &g, 0);
        ck_assert_ptr_nonnull(l);
        tg_status st = tg_backward(tl, l);
        if (st != TG_OK) {
            ck_assert_int_eq(st, TG_ERR_NOMEM);
            gb_assert_unchanged("arena limit", &g, g2, data);
            failed++;
        } else {
            for (int i = 0; i < GB_N; i++) ck_assert(gb_bits_equal(tg_tensor_grad(g.p[i]), g1[i]));
        }
        tg_tape_free(tl);
    }
    ck_assert_int_gt(failed, 0);
    /* and the next backward works */
    gb_step(tp, &g, 1, g3);
    for (int i = 0; i < GB_N; i++) ck_assert(gb_bits_equal(g3[i], g2[i]));
    gb_free_all(g1);
    gb_free_all(g2);
    gb_free_all(g3);
    tg_tensor_free(q);
    tg_tape_free(tp);
    gb_free(&g);
}
END_TEST

/* accumulate adds into .grad where it is (no swap); a first accumulating
 * backward of a parameter without .grad stores; replacing swaps again. */
START_TEST(test_grad_buffers_accumulate)
{
    gb_world g;
    gb_init(&g, _i ? TG_F32 : TG_F64);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *g1[GB_N], *g2[GB_N], *g3[GB_N];
    gb_step(tp, &g, 0, g1);
    gb_step(tp, &g, 1, g2);
    const void *d2[GB_N];
    for (int i = 0; i < GB_N; i++) d2[i] = tg_tensor_data(tg_tensor_grad(g.p[i]));
    tg_tape_reset(tp);
    const tg_backward_options acc = {.accumulate = true};
    ck_assert_int_eq(tg_backward_ex(tp, gb_loss(tp, &g, 0), &acc), TG_OK);
    for (int i = 0; i < GB_N; i++) {
        const tg_tensor *gr = tg_tensor_grad(g.p[i]);
        ck_assert_ptr_eq(tg_tensor_data_const(gr), d2[i]);
        for (int64_t e = 0; e < tg_tensor_numel(gr); e++) {
            /* the sum in the dtype (an f32 sum rounded once from double is the f32 sum) */
            double want = tg_tensor_get_flat(g2[i], e) + tg_tensor_get_flat(g1[i], e);
            if (g.dt == TG_F32) want = (float)want;
            ck_assert_msg(tg_tensor_get_flat(gr, e) == want, "%s[%lld]", k_gb_names[i],
                          (long long)e);
        }
    }
    /* replacing again: exactly loss 1's gradient, swapped in */
    gb_step(tp, &g, 1, g3);
    for (int i = 0; i < GB_N; i++) {
        ck_assert(gb_bits_equal(g3[i], g2[i]));
        if (gb_swapped(i)) ck_assert_ptr_ne(tg_tensor_data(tg_tensor_grad(g.p[i])), d2[i]);
    }
    gb_free_all(g3);
    /* a parameter's first backward, accumulating: its gradient, stored */
    tg_tensor *fresh = tg_tensor_clone(g.p[GB_W]);
    tg_tensor_set_requires_grad(fresh, true);
    tg_tape_reset(tp);
    tg_tensor *sw = tg_sum_all(tp, tg_mul(tp, fresh, fresh));
    ck_assert_int_eq(tg_backward_ex(tp, sw, &acc), TG_OK);
    for (int64_t e = 0; e < 15; e++)
        ck_assert(tg_tensor_get_flat(tg_tensor_grad(fresh), e) == 2 * tg_tensor_get_flat(fresh, e));
    tg_tensor_free(fresh);
    gb_free_all(g1);
    gb_free_all(g2);
    tg_tape_free(tp);
    gb_free(&g);
}
END_TEST

/* Counts the library's heap allocations (tg_set_allocator). */
static long g_gb_allocs;
static void *gb_malloc(size_t n, void *c)
{
    (void)c;
    g_gb_allocs++;
    return malloc(n);
}
static void *gb_realloc(void *p, size_t n, void *c)
{
    (void)c;
    g_gb_allocs++;
    return realloc(p, n);
}
static void gb_release(void *p, void *c)
{
    (void)c;
    free(p);
}

/* The second buffers are made once: from the third training step on, a
 * step (reset, forward, backward, SGD update through .grad) makes no heap
 * allocation, and each parameter's .grad data alternates between two
 * buffers. */
START_TEST(test_grad_buffers_steady_state)
{
    tg_set_allocator(&(tg_allocator){gb_malloc, gb_realloc, gb_release, NULL});
    gb_world g;
    gb_init(&g, _i ? TG_F32 : TG_F64);
    tg_tape *tp = tg_tape_new(&(tg_tape_options){.arena_chunk = 1024}); /* grows at first */
    long per_step[6];
    const void *seen[6];
    for (int step = 0; step < 6; step++) {
        const long before = g_gb_allocs;
        tg_tape_reset(tp);
        ck_assert_int_eq(tg_backward(tp, gb_loss(tp, &g, step % 2)), TG_OK);
        for (int i = 0; i < GB_N; i++) {
            const tg_tensor *gr = tg_tensor_grad(g.p[i]);
            for (int64_t e = 0; e < tg_tensor_numel(gr); e++)
                tg_tensor_set_flat(
                    g.p[i], e, tg_tensor_get_flat(g.p[i], e) - 0.01 * tg_tensor_get_flat(gr, e));
        }
        per_step[step] = g_gb_allocs - before;
        seen[step] = tg_tensor_data(tg_tensor_grad(g.p[GB_W]));
    }
    ck_assert_int_gt(per_step[0], 0);
    for (int step = 2; step < 6; step++) {
        ck_assert_msg(per_step[step] == 0, "step %d made %ld allocations", step, per_step[step]);
        ck_assert_ptr_eq(seen[step], seen[step - 2]);
        ck_assert_ptr_ne(seen[step], seen[step - 1]);
    }
    tg_tape_free(tp);
    gb_free(&g);
    tg_set_allocator(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("autodiff");
    TCase *tc = tcase_create("backward");
    tcase_add_test(tc, test_sigmoid_neuron);
    tcase_add_test(tc, test_replace_and_accumulate);
    tcase_add_test(tc, test_retain_grad_and_intermediates);
    tcase_add_test(tc, test_retain_grad_errors_not_sticky);
    tcase_add_test(tc, test_grad_allow_unused);
    tcase_add_test(tc, test_dependence_without_forward_pass);
    tcase_add_test(tc, test_vjp_non_scalar);
    tcase_add_test(tc, test_fan_out_accumulates);
    tcase_add_test(tc, test_inplace_accumulation_keeps_shared_adjoints);
    tcase_add_test(tc, test_create_graph_second_derivative);
    tcase_add_test(tc, test_custom_op);
    tcase_add_test(tc, test_custom_op_wrong_backward_caught);
    tcase_add_test(tc, test_custom_op_bad_shape_reported);
    tcase_add_test(tc, test_custom_op_direct_rule);
    tcase_add_test(tc, test_custom_op_wrong_direct_caught);
    tcase_add_test(tc, test_custom_op_direct_bad_shape_reported);
    tcase_add_test(tc, test_missing_transpose_caught);
    tcase_add_test(tc, test_param_on_two_tapes);
    suite_add_tcase(s, tc);
    TCase *tb = tcase_create("grad buffers");
    tcase_add_loop_test(tb, test_grad_buffers_swap, 0, 2); /* f64, f32 */
    tcase_add_loop_test(tb, test_grad_buffers_failed_sweep, 0, 2);
    tcase_add_loop_test(tb, test_grad_buffers_accumulate, 0, 2);
    tcase_add_loop_test(tb, test_grad_buffers_steady_state, 0, 2);
    suite_add_tcase(s, tb);
    return tt_run(s);
}
