/* tg_checkpoint: a segment recomputed during backward gives the same
 * gradients as the segment kept on the tape.  The graphs here run the same
 * ops in the same order with and without checkpoints, so first-order
 * results (tg_backward, tg_grad, tg_vjp, tg_jvp) must be the same bits
 * (compared with ==, element by element), with dropout inside a segment
 * (the mask drawn again is the same) and with segments nested; second
 * derivatives through create_graph are compared to 1e-12 relative and
 * checked by finite differences (tg_gradgradcheck).  The tape's high water
 * must drop, and misuse must give the errors of docs/errors.md. */
#include "common.h"

#include <math.h>
#include <string.h>

#define BATCH 4
#define WIDTH 5
#define MAXL  16

/* A segment's ctx: the dropout probability and, for nesting, how many
 * layers each inner checkpoint takes (0: none) and the inner checkpoints'
 * ctx.  A ctx lives as long as the tape's nodes (the recomputation reads
 * it). */
typedef struct seg_ctx {
    double p;
    int inner;
    const struct seg_ctx *sub;
} seg_ctx;

/* A small MLP: L layers h = tanh(h W_l + b_l), each followed by dropout
 * when p > 0. */
typedef struct mlp {
    int layers;
    double p;
    seg_ctx outer, inner; /* the checkpoints' ctx */
    tg_tensor *x;
    tg_tensor *w[MAXL], *b[MAXL];
} mlp;

static void mlp_init(mlp *m, int layers, double p, bool x_grad)
{
    m->layers = layers;
    m->p = p;
    m->x = tt_rand(TG_F64, 2, TT_SHAPE(BATCH, WIDTH), 11, -1, 1);
    tg_tensor_set_requires_grad(m->x, x_grad);
    for (int l = 0; l < layers; l++) {
        m->w[l] = tt_param(2, TT_SHAPE(WIDTH, WIDTH), 100 + (uint64_t)l, -0.8, 0.8);
        m->b[l] = tt_param(1, TT_SHAPE(WIDTH), 200 + (uint64_t)l, -0.3, 0.3);
    }
}

static void mlp_free(mlp *m)
{
    tg_tensor_free(m->x);
    for (int l = 0; l < m->layers; l++) {
        tg_tensor_free(m->w[l]);
        tg_tensor_free(m->b[l]);
    }
}

static tg_tensor *layer(tg_tape *tp, tg_tensor *h, tg_tensor *w, tg_tensor *b, double p)
{
    h = tg_tanh(tp, tg_add(tp, tg_matmul(tp, h, w), b));
    return p > 0 ? tg_dropout(tp, h, p, true) : h;
}

/* in = {h, W_0, b_0, W_1, b_1, ...}: (n - 1) / 2 layers. */
static tg_tensor *segment(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    const seg_ctx *c = ctx;
    tg_tensor *h = in[0];
    const int layers = (n - 1) / 2;
    if (c->inner > 0) {
        for (int l = 0; l < layers; l += c->inner) {
            tg_tensor *sub[1 + 2 * MAXL];
            sub[0] = h;
            for (int k = 0; k < 2 * c->inner; k++) sub[1 + k] = in[1 + 2 * l + k];
            h = tg_checkpoint(tp, segment, (void *)c->sub, 1 + 2 * c->inner, sub);
        }
        return h;
    }
    for (int l = 0; l < layers; l++) h = layer(tp, h, in[1 + 2 * l], in[2 + 2 * l], c->p);
    return h;
}

/* The network's output on tp: the whole tape (per 0), or one checkpoint
 * per `per` layers, each of which nests checkpoints of `inner` layers. */
static tg_tensor *mlp_forward(tg_tape *tp, const mlp *m, int per, int inner)
{
    tg_tensor *h = m->x;
    if (per == 0) {
        for (int l = 0; l < m->layers; l++) h = layer(tp, h, m->w[l], m->b[l], m->p);
        return h;
    }
    mlp *mm = (mlp *)m; /* the ctx must outlive this call */
    mm->inner = (seg_ctx){m->p, 0, NULL};
    mm->outer = (seg_ctx){m->p, inner, &mm->inner};
    for (int l = 0; l < m->layers; l += per) {
        tg_tensor *in[1 + 2 * MAXL];
        in[0] = h;
        for (int k = 0; k < per; k++) {
            in[1 + 2 * k] = m->w[l + k];
            in[2 + 2 * k] = m->b[l + k];
        }
        h = tg_checkpoint(tp, segment, &mm->outer, 1 + 2 * per, in);
    }
    return h;
}

/* loss = sum(y^2) / 2 after a dropout outside any segment: its mask is
 * drawn after the segments', so it is the same only if the checkpoints
 * leave the tape's RNG where the segments would have. */
static tg_tensor *mlp_loss(tg_tape *tp, const mlp *m, int per, int inner)
{
    tg_tensor *y = mlp_forward(tp, m, per, inner);
    if (m->p > 0) y = tg_dropout(tp, y, m->p, true);
    return tg_mul_scalar(tp, tg_sum_all(tp, tg_square(tp, y)), 0.5);
}

/* a and b hold the same bits. */
static void assert_same(const char *what, const tg_tensor *a, const tg_tensor *b)
{
    ck_assert_msg(a && b, "%s: missing tensor", what);
    ck_assert_int_eq(tg_tensor_numel(a), tg_tensor_numel(b));
    for (int64_t k = 0; k < tg_tensor_numel(a); k++) {
        const double u = tg_tensor_get_flat(a, k), v = tg_tensor_get_flat(b, k);
        ck_assert_msg(u == v, "%s: element %lld: %.17g with the checkpoint, %.17g without", what,
                      (long long)k, u, v);
    }
}

/* Each parameter's .grad after tg_backward, into copies (user-owned). */
static void grads_of(const mlp *m, tg_tensor **g)
{
    for (int l = 0; l < m->layers; l++) {
        g[2 * l] = tg_tensor_clone(tg_tensor_grad(m->w[l]));
        g[2 * l + 1] = tg_tensor_clone(tg_tensor_grad(m->b[l]));
    }
}

/* tg_backward with and without checkpoints (per, inner), same seed: equal
 * loss, equal .grad bits, the tape's RNG in the same state after. */
static void check_backward(int layers, double p, int per, int inner)
{
    mlp m;
    mlp_init(&m, layers, p, false);
    tg_tensor *g[2][2 * MAXL];
    tg_rng rng[2];
    double loss[2];
    for (int run = 0; run < 2; run++) {
        tg_tape *tp = tg_tape_new(&(tg_tape_options){.seed = 77});
        tg_tensor *y = run ? mlp_loss(tp, &m, per, inner) : mlp_loss(tp, &m, 0, 0);
        ck_assert_msg(y && tg_backward(tp, y) == TG_OK, "%s", tg_tape_error(tp));
        loss[run] = tg_tensor_get_flat(y, 0);
        rng[run] = *tg_tape_rng(tp);
        grads_of(&m, g[run]);
        tg_tape_free(tp);
    }
    ck_assert_msg(loss[0] == loss[1], "loss %.17g without, %.17g with", loss[0], loss[1]);
    ck_assert(memcmp(&rng[0], &rng[1], sizeof rng[0]) == 0);
    for (int i = 0; i < 2 * layers; i++) {
        char what[32];
        snprintf(what, sizeof what, "%s%d grad", i % 2 ? "b" : "W", i / 2);
        assert_same(what, g[1][i], g[0][i]);
        tg_tensor_free(g[0][i]);
        tg_tensor_free(g[1][i]);
    }
    mlp_free(&m);
}

START_TEST(test_mlp_bit_identical)
{
    check_backward(6, 0.0, 2, 0);
    check_backward(6, 0.0, 3, 0);
    check_backward(6, 0.0, 6, 0);
}
END_TEST

START_TEST(test_dropout_same_mask)
{
    check_backward(6, 0.3, 2, 0);
    check_backward(6, 0.3, 3, 0);
}
END_TEST

START_TEST(test_nested)
{
    check_backward(8, 0.0, 4, 2);
    check_backward(8, 0.25, 4, 1);
    check_backward(8, 0.25, 8, 4);
}
END_TEST

/* The dropout inside the segments really drew masks (a test with p = 0.3
 * that ran no dropout would pass vacuously): another seed changes the
 * gradient. */
START_TEST(test_dropout_draws)
{
    mlp m;
    mlp_init(&m, 4, 0.3, false);
    double g[2];
    for (int run = 0; run < 2; run++) {
        tg_tape *tp = tg_tape_new(&(tg_tape_options){.seed = 77 + (uint64_t)run});
        tg_tensor *y = mlp_loss(tp, &m, 2, 0);
        ck_assert_msg(y && tg_backward(tp, y) == TG_OK, "%s", tg_tape_error(tp));
        g[run] = tg_tensor_get_flat(tg_tensor_grad(m.w[0]), 0) +
                 tg_tensor_get_flat(tg_tensor_grad(m.w[0]), 7);
        tg_tape_free(tp);
    }
    ck_assert(g[0] != g[1]);
    mlp_free(&m);
}
END_TEST

/* tg_grad and tg_vjp (a non-scalar output with a seed) through
 * checkpoints, for x (not a parameter) and an intermediate's
 * consumers: the same bits as without. */
START_TEST(test_grad_and_vjp)
{
    mlp m;
    mlp_init(&m, 4, 0.2, true);
    tg_tensor *seed = tt_rand(TG_F64, 2, TT_SHAPE(BATCH, WIDTH), 5, -1, 1);
    tg_tensor *gx[2], *vj[2][2];
    for (int run = 0; run < 2; run++) {
        tg_tape *tp = tg_tape_new(&(tg_tape_options){.seed = 3});
        tg_tensor *l = mlp_loss(tp, &m, run ? 2 : 0, 0);
        tg_tensor *g = tg_grad(tp, l, m.x, false);
        ck_assert_msg(g != NULL, "%s", tg_tape_error(tp));
        gx[run] = tg_tensor_clone(g);
        tg_tape_reset(tp);
        tg_tensor *y = mlp_forward(tp, &m, run ? 2 : 0, 0);
        tg_tensor *xs[2] = {m.x, m.w[1]}, *out[2];
        ck_assert_msg(y && tg_vjp(tp, y, seed, 2, xs, out, false) == TG_OK, "%s",
                      tg_tape_error(tp));
        vj[run][0] = tg_tensor_clone(out[0]);
        vj[run][1] = tg_tensor_clone(out[1]);
        tg_tape_free(tp);
    }
    assert_same("dl/dx", gx[1], gx[0]);
    assert_same("vjp x", vj[1][0], vj[0][0]);
    assert_same("vjp W1", vj[1][1], vj[0][1]);
    for (int run = 0; run < 2; run++) {
        tg_tensor_free(gx[run]);
        tg_tensor_free(vj[run][0]);
        tg_tensor_free(vj[run][1]);
    }
    tg_tensor_free(seed);
    mlp_free(&m);
}
END_TEST

/* Second order: with create_graph the gradient is recorded through the
 * recomputation, and the gradient of <g, v> (a Hessian-vector product,
 * for x and for W0) agrees with the one without checkpoints.  The
 * first-order gradient made with create_graph also agrees with the plain
 * one. */
static void check_second_order(int per, int inner, double p)
{
    mlp m;
    mlp_init(&m, 4, p, true);
    tg_tensor *v = tt_rand(TG_F64, 2, TT_SHAPE(BATCH, WIDTH), 8, -1, 1);
    tg_tensor *vw = tt_rand(TG_F64, 2, TT_SHAPE(WIDTH, WIDTH), 9, -1, 1);
    tg_tensor *r[2][3];
    for (int run = 0; run < 2; run++) {
        tg_tape *tp = tg_tape_new(&(tg_tape_options){.seed = 21});
        tg_tensor *l = mlp_loss(tp, &m, run ? per : 0, inner);
        tg_tensor *xs[2] = {m.x, m.w[0]}, *g[2], *h[2];
        ck_assert_msg(l && tg_vjp(tp, l, NULL, 2, xs, g, true) == TG_OK, "%s", tg_tape_error(tp));
        tg_tensor *z =
            tg_add(tp, tg_sum_all(tp, tg_mul(tp, g[0], v)), tg_sum_all(tp, tg_mul(tp, g[1], vw)));
        ck_assert_msg(z && tg_vjp(tp, z, NULL, 2, xs, h, false) == TG_OK, "%s", tg_tape_error(tp));
        r[run][0] = tg_tensor_clone(g[0]);
        r[run][1] = tg_tensor_clone(h[0]);
        r[run][2] = tg_tensor_clone(h[1]);
        tg_tape_free(tp);
    }
    tt_assert_close("dl/dx (create_graph)", r[1][0], r[0][0], 1e-12, 0);
    tt_assert_close("H v, x", r[1][1], r[0][1], 1e-12, 1e-14);
    tt_assert_close("H v, W0", r[1][2], r[0][2], 1e-12, 1e-14);
    for (int run = 0; run < 2; run++)
        for (int i = 0; i < 3; i++) tg_tensor_free(r[run][i]);
    tg_tensor_free(v);
    tg_tensor_free(vw);
    mlp_free(&m);
}

START_TEST(test_create_graph)
{
    check_second_order(2, 0, 0.0);
    check_second_order(2, 0, 0.3);
    check_second_order(4, 2, 0.3);
}
END_TEST

/* tg_gradcheck and tg_gradgradcheck of a function through a checkpoint:
 * finite differences for the first and second derivatives, and both rules
 * of the checkpoint node compared with each other. */
static tg_tensor *checked_fn(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    static const seg_ctx flat = {0.0, 0, NULL}, c = {0.0, 1, &flat};
    tg_tensor *h = tg_checkpoint(tp, segment, (void *)&c, 5, in);
    return tg_sum_all(tp, tg_mul(tp, h, h));
}

START_TEST(test_gradcheck)
{
    tg_tensor *in[5];
    in[0] = tt_param(2, TT_SHAPE(3, 4), 1, -1, 1);
    in[1] = tt_param(2, TT_SHAPE(4, 4), 2, -0.8, 0.8);
    in[2] = tt_param(1, TT_SHAPE(4), 3, -0.3, 0.3);
    in[3] = tt_param(2, TT_SHAPE(4, 4), 4, -0.8, 0.8);
    in[4] = tt_param(1, TT_SHAPE(4), 5, -0.3, 0.3);
    tt_gradcheck("checkpoint", checked_fn, NULL, 5, in);
    ck_assert_msg(tg_gradgradcheck(checked_fn, NULL, 5, in, NULL, NULL) == TG_OK, "%s",
                  tg_last_error());
    for (int i = 0; i < 5; i++) tg_tensor_free(in[i]);
}
END_TEST

/* Forward mode through checkpoints, over elementwise segments (ops with
 * tangent rules): in = {x}, y = sin(tanh(exp(x) ...)) per layer, nested
 * when inner > 0. */
static tg_tensor *unary_segment(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    static int none = 0;
    const int *inner = ctx;
    tg_tensor *h = in[0];
    for (int l = 0; l < 2; l++) {
        if (*inner) {
            h = tg_checkpoint(tp, unary_segment, &none, n, &h);
        } else {
            h = tg_sin(tp, tg_tanh(tp, h));
        }
    }
    return h;
}

/* The output of 4 such segments (nested: inner), or of the same ops on
 * the tape (per 0). */
static tg_tensor *unary_forward(tg_tape *tp, tg_tensor *x, bool ckpt, int inner)
{
    static int flags[2] = {0, 1};
    tg_tensor *h = x;
    for (int l = 0; l < 4; l++) {
        if (ckpt) {
            h = tg_checkpoint(tp, unary_segment, &flags[inner != 0], 1, &h);
        } else {
            for (int k = 0; k < (inner ? 4 : 2); k++) h = tg_sin(tp, tg_tanh(tp, h));
        }
    }
    return h;
}

/* The tangent along tx, the same bits as without checkpoints (plain); with
 * create_graph the same to 1e-12 and differentiable: the gradient of
 * |tangent|^2 for x agrees too (forward over reverse through the
 * recomputation). */
static void check_jvp(int inner)
{
    tg_tensor *x = tt_param(2, TT_SHAPE(3, 4), 30, -1, 1);
    tg_tensor *tx = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 31, -1, 1);
    tg_tensor *r[2][3];
    for (int run = 0; run < 2; run++) {
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = unary_forward(tp, x, run, inner), *t, *tg;
        ck_assert_msg(y && tg_jvp(tp, 1, &x, &tx, 1, &y, &t, false) == TG_OK, "%s",
                      tg_tape_error(tp));
        r[run][0] = tg_tensor_clone(t);
        ck_assert_msg(tg_jvp(tp, 1, &x, &tx, 1, &y, &tg, true) == TG_OK, "%s", tg_tape_error(tp));
        r[run][1] = tg_tensor_clone(tg);
        tg_tensor *g = tg_grad(tp, tg_sum_all(tp, tg_square(tp, tg)), x, false);
        ck_assert_msg(g != NULL, "%s", tg_tape_error(tp));
        r[run][2] = tg_tensor_clone(g);
        tg_tape_free(tp);
    }
    assert_same("jvp", r[1][0], r[0][0]);
    tt_assert_close("jvp (create_graph)", r[1][1], r[0][1], 1e-12, 1e-14);
    tt_assert_close("d |jvp|^2 / d x", r[1][2], r[0][2], 1e-12, 1e-14);
    for (int run = 0; run < 2; run++)
        for (int i = 0; i < 3; i++) tg_tensor_free(r[run][i]);
    tg_tensor_free(tx);
    tg_tensor_free(x);
}

START_TEST(test_jvp)
{
    check_jvp(0);
    check_jvp(1);
}
END_TEST

/* The tape keeps the segments' outputs only: its high water (which counts
 * the scratch tapes at their peak) is well under the whole tape's. */
START_TEST(test_memory)
{
    mlp m;
    mlp_init(&m, 16, 0.0, false);
    /* wider activations than the parameters, so activations dominate */
    tg_tensor_free(m.x);
    m.x = tt_rand(TG_F64, 2, TT_SHAPE(512, WIDTH), 11, -1, 1);
    const int per[3] = {0, 4, 8}, inner[3] = {0, 0, 2};
    size_t hw[3];
    for (int run = 0; run < 3; run++) {
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = mlp_loss(tp, &m, per[run], inner[run]);
        ck_assert_msg(y && tg_backward(tp, y) == TG_OK, "%s", tg_tape_error(tp));
        hw[run] = tg_tape_usage(tp).high_water;
        tg_tape_free(tp);
    }
    ck_assert_msg(hw[1] * 2 < hw[0], "high water %zu with checkpoints, %zu without", hw[1], hw[0]);
    ck_assert_msg(hw[2] * 2 < hw[0], "high water %zu nested, %zu without", hw[2], hw[0]);
    mlp_free(&m);
}
END_TEST

/* ---- errors --------------------------------------------------------------- */

static tg_tensor *seg_null(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    (void)tp, (void)n, (void)in, (void)ctx;
    return NULL;
}

static tg_tensor *seg_bad_matmul(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    (void)n, (void)ctx;
    return tg_matmul(tp, in[0], in[0]); /* (4,5) @ (4,5) */
}

/* records on the tape in ctx instead of the one it is given */
typedef struct other_ctx {
    tg_tape *tp;
    tg_tensor *x;
} other_ctx;
static tg_tensor *seg_other_tape(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    (void)tp, (void)in, (void)n;
    const other_ctx *c = ctx;
    return tg_tanh(c->tp, c->x);
}

/* returns a tensor recorded on the tape in ctx */
static tg_tensor *seg_foreign_result(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    (void)tp, (void)n, (void)in;
    return ctx;
}

static tg_tensor *seg_index(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    (void)n, (void)ctx;
    return tg_argmax(tp, in[0], 1, false);
}

/* uses the parameter in ctx directly */
static tg_tensor *seg_captured(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    (void)n;
    return tg_matmul(tp, in[0], ctx);
}

/* fails when called the second time (the recomputation) */
static tg_tensor *seg_second_fails(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    (void)n;
    int *calls = ctx;
    return ++*calls > 1 ? NULL : tg_tanh(tp, in[0]);
}

START_TEST(test_errors)
{
    tg_tensor *x = tt_rand(TG_F64, 2, TT_SHAPE(BATCH, WIDTH), 1, -1, 1);
    tg_tensor *w = tt_param(2, TT_SHAPE(WIDTH, WIDTH), 2, -1, 1);
    tg_tensor *const in[1] = {x};
    EXPECT_ERR(tg_checkpoint(tp, NULL, NULL, 1, in), TG_ERR_NULL, "checkpoint: fn is NULL");
    EXPECT_ERR(tg_checkpoint(tp, seg_null, NULL, 1, NULL), TG_ERR_NULL, "checkpoint: in is NULL");
    EXPECT_ERR(tg_checkpoint(tp, seg_null, NULL, -1, in), TG_ERR_ARG,
               "checkpoint: negative input count -1");
    EXPECT_ERR(tg_checkpoint(tp, seg_null, NULL, 1, (tg_tensor *const[]){NULL}), TG_ERR_NULL,
               "checkpoint: input 0 is NULL");
    EXPECT_ERR(tg_checkpoint(tp, seg_null, NULL, 1, in), TG_ERR_ARG,
               "checkpoint: the segment returned NULL without an error");
    EXPECT_ERR(tg_checkpoint(tp, seg_bad_matmul, NULL, 1, in), TG_ERR_SHAPE,
               "checkpoint: the segment failed: matmul: (4,5) @ (4,5)");
    EXPECT_ERR(tg_checkpoint(tp, seg_index, NULL, 1, in), TG_ERR_DTYPE,
               "checkpoint: the segment returned i64[4]", "its output must be f32 or f64");
    EXPECT_ERR(tg_checkpoint(tp, seg_captured, w, 1, in), TG_ERR_ARG,
               "checkpoint: the segment used f64[5,5], which requires grad, directly",
               "pass it in in");
    /* a tensor of another tape as the result */
    tg_tape *other = tg_tape_new(NULL);
    tg_tensor *t = tg_tanh(other, x);
    EXPECT_ERR(tg_checkpoint(tp, seg_foreign_result, t, 1, in), TG_ERR_TAPE,
               "checkpoint: the segment returned a tensor of another tape");
    tg_tape_free(other);
    /* a segment that records on the checkpoint's tape */
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_ptr_null(tg_checkpoint(tp, seg_other_tape, &(other_ctx){tp, x}, 1, in));
    tt_assert_tape_error(tp, TG_ERR_TAPE,
                         "checkpoint: the segment recorded 1 nodes on the checkpoint's tape",
                         "instead of the tape it was given");
    tg_tape_free(tp);
    /* a recomputation that fails: backward reports it, no .grad written */
    int calls = 0;
    tp = tg_tape_new(NULL);
    tg_tensor *y = tg_checkpoint(tp, seg_second_fails, &calls, 1, (tg_tensor *const[]){w});
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, y)), TG_ERR_ARG);
    tt_assert_tape_error(tp, TG_ERR_ARG, "checkpoint: the segment returned NULL without an error");
    ck_assert_ptr_null(tg_tensor_grad(w));
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
}
END_TEST

/* Under an arena limit the scratch tape gets the room left: a segment too
 * big for it is a clean out-of-memory error naming the checkpoint. */
START_TEST(test_arena_limit)
{
    tg_tensor *x = tt_rand(TG_F64, 2, TT_SHAPE(256, 256), 1, -1, 1);
    tg_tape *tp = tg_tape_new(&(tg_tape_options){.arena_limit = 600000});
    static const seg_ctx c = {0.0, 0, NULL};
    tg_tensor *w = tt_param(2, TT_SHAPE(256, 256), 2, -1, 1);
    tg_tensor *b = tt_param(1, TT_SHAPE(256), 3, -1, 1);
    tg_tensor *in[7] = {x, w, b, w, b, w, b};
    ck_assert_ptr_null(tg_checkpoint(tp, segment, (void *)&c, 7, in));
    tt_assert_tape_error(tp, TG_ERR_NOMEM, "checkpoint: the segment failed:");
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_mlp_bit_identical);
    tcase_add_test(tc, test_dropout_same_mask);
    tcase_add_test(tc, test_nested);
    tcase_add_test(tc, test_dropout_draws);
    tcase_add_test(tc, test_grad_and_vjp);
    tcase_add_test(tc, test_create_graph);
    tcase_add_test(tc, test_gradcheck);
    tcase_add_test(tc, test_jvp);
    tcase_add_test(tc, test_memory);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_arena_limit);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
