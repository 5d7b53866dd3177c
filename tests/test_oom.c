/* Out-of-memory injection: every heap allocation of a representative
 * workload is made to fail in turn, once as a single failure and once as
 * "this and every later allocation fails".  At each point the workload must
 * end in TG_OK or TG_ERR_NOMEM with a message, never crash or leak (ASan/LSan
 * in CI), leave the user's tensors (values and existing gradients) unchanged,
 * and the same tape must work again after tg_tape_reset, giving bit for bit
 * the result of a run without injection.
 *
 * Workloads: a small net + second step + gradcheck (the original one); an
 * MLP with matmul and softmax cross-entropy on labels; conv2d + max/avg
 * pooling + dense + softmax cross-entropy; tg_grad with create_graph and a
 * second-order backward; gradcheck of conv2d; safetensors save + load; IDX
 * image and label loading.  The same workloads are then run with an arena
 * limit below their high-water mark (the user's limit behaves like malloc
 * failing). */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long g_count, g_fail_at;
static bool g_sticky, g_failed;

static bool should_fail(void)
{
    g_count++;
    if (g_fail_at && (g_count == g_fail_at || (g_sticky && g_count > g_fail_at))) {
        g_failed = true;
        return true;
    }
    return false;
}
static void *inj_malloc(size_t n, void *c)
{
    (void)c;
    return should_fail() ? NULL : malloc(n);
}
static void *inj_realloc(void *p, size_t n, void *c)
{
    (void)c;
    return should_fail() ? NULL : realloc(p, n);
}
static void inj_free(void *p, void *c)
{
    (void)c;
    free(p);
}
static const tg_allocator k_inj = {inj_malloc, inj_realloc, inj_free, NULL};

/* ---- a workload -------------------------------------------------------------
 * init:    once, without injection: inputs and the reference result.
 * fresh:   before each injected run, without injection: fresh parameters
 *          (their gradient storage, if any, is then made under injection,
 *          or kept from an earlier backward to check it is not clobbered).
 * run:     under injection, on a tape also created under injection.
 * verify:  without injection: the user's tensors are unchanged (or, after
 *          TG_OK, hold the reference), then the tape is reset and the step
 *          rerun to give the reference result again.
 * clean / fini: free per-run / everything. */
typedef struct workload {
    const char *name;
    void (*init)(void *ctx);
    void (*fresh)(void *ctx);
    tg_status (*run)(void *ctx, tg_tape *tp);
    void (*verify)(void *ctx, tg_tape *tp, tg_status st);
    void (*clean)(void *ctx);
    void (*fini)(void *ctx);
    void *ctx;
} workload;

/* The message that goes with a failure: the tape's when it is in error,
 * else the per-thread last error (calls without a tape). */
static const char *message_of(tg_tape *tp)
{
    return tp && tg_tape_status(tp) != TG_OK ? tg_tape_error(tp) : tg_last_error();
}

/* Sweeps every allocation point of w; returns how many were injected.
 * arena_limit != 0 runs without malloc injection but with that arena limit
 * instead (a single run). */
static long sweep_ex(const workload *w, bool sticky, size_t arena_limit)
{
    long points = 0;
    for (long n = 1;; n++) {
        w->fresh(w->ctx);
        g_count = 0;
        g_fail_at = arena_limit ? 0 : n;
        g_sticky = sticky;
        g_failed = false;
        tg_set_allocator(&k_inj);
        tg_tape *tp =
            tg_tape_new(&(tg_tape_options){.arena_chunk = 512, .arena_limit = arena_limit});
        tg_status st = tp ? w->run(w->ctx, tp) : tg_last_status();
        tg_set_allocator(NULL);
        g_fail_at = 0;
        bool failed = g_failed;
        ck_assert_msg(st == TG_OK || st == TG_ERR_NOMEM, "%s: allocation %ld (%s): status %s: %s",
                      w->name, n, sticky ? "sticky" : "single", tg_strerror(st), message_of(tp));
        if (st == TG_ERR_NOMEM) {
            const char *m = message_of(tp);
            ck_assert_msg(strlen(m) > 0, "%s: allocation %ld: NOMEM without a message", w->name, n);
            if (arena_limit)
                ck_assert_msg(strstr(m, "arena") || strstr(m, "memory"),
                              "%s: arena limit: message '%s' says nothing of memory", w->name, m);
        }
        if (!arena_limit)
            ck_assert_msg(failed || st == TG_OK, "%s: allocation %ld: failed without a fault",
                          w->name, n);
        if (tp) {
            w->verify(w->ctx, tp, st);
            tg_tape_free(tp);
        } else {
            /* no tape: check the user's tensors through a fresh one */
            tg_tape *t2 = tg_tape_new(NULL);
            w->verify(w->ctx, t2, st);
            tg_tape_free(t2);
        }
        w->clean(w->ctx);
        if (arena_limit) return st == TG_ERR_NOMEM;
        if (!failed) break; /* every allocation point has been failed once */
        points++;
    }
    return points;
}

static void sweep(const workload *w, long min_points)
{
    w->init(w->ctx);
    long single = sweep_ex(w, false, 0);
    long sticky = sweep_ex(w, true, 0);
    ck_assert_msg(single >= min_points, "%s: only %ld allocation points", w->name, single);
    ck_assert_int_eq(single, sticky);
    printf("oom %s: %ld allocation points, each failed singly and from there on\n", w->name,
           single);
    w->fini(w->ctx);
}

/* The same workload with the arena limited to every multiple of 1/16 of
 * what one step needs: each run is a clean NOMEM naming the arena (or OK
 * when the step fits), checked and recovered from like an injected fault. */
static void sweep_arena(const workload *w, size_t high_water)
{
    w->init(w->ctx);
    long nomem = 0;
    for (int q = 1; q < 16; q++) nomem += sweep_ex(w, false, high_water * (size_t)q / 16);
    ck_assert_msg(nomem == 15, "%s: only %ld of 15 arena limits below %zu bytes were reached",
                  w->name, nomem, high_water);
    w->fini(w->ctx);
}

static bool bit_equal(const tg_tensor *a, const tg_tensor *b)
{
    return a && b && tg_tensor_same_shape(a, b) && tg_tensor_dtype(a) == tg_tensor_dtype(b) &&
           memcmp(tg_tensor_data_const(a), tg_tensor_data_const(b),
                  (size_t)tg_tensor_numel(a) * tg_dtype_size(tg_tensor_dtype(a))) == 0;
}
#define assert_bits(what, a, b) ck_assert_msg(bit_equal(a, b), "%s differs", what)

/* ==== 1. the original small net, a second step, and gradcheck ============= */
static tg_tensor *net(tg_tape *tp, tg_tensor *x, tg_tensor *w1, tg_tensor *w2)
{
    tg_tensor *h = tg_tanh(tp, tg_sum(tp, tg_mul(tp, x, w1), 1, (int[]){1}, false));
    tg_tensor *o = tg_sigmoid(tp, tg_mul(tp, tg_reshape(tp, h, 2, TT_SHAPE(4, 1)), w2));
    return tg_mean_all(tp, tg_square(tp, tg_sub(tp, o, tg_detach(tp, x))));
}

static tg_tensor *gc_fn(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_sum_all(tp, tg_softplus(tp, tg_mul(tp, in[0], in[0])));
}

typedef struct net_ctx {
    tg_tensor *x, *x0, *w1_0, *w2_0, *ref_g1;
    tg_tensor *w1, *w2;
} net_ctx;

static tg_status net_step(tg_tape *tp, net_ctx *c)
{
    tg_tape_reset(tp);
    tg_tensor *loss = net(tp, c->x, c->w1, c->w2);
    if (!loss) return tg_tape_status(tp);
    return tg_backward(tp, loss);
}

static void net_init(void *vc)
{
    net_ctx *c = vc;
    c->x = tt_rand(TG_F64, 2, TT_SHAPE(4, 3), 1, -1, 1);
    c->x0 = tg_tensor_clone(c->x);
    c->w1_0 = tt_param(2, TT_SHAPE(4, 3), 2, -1, 1);
    c->w2_0 = tt_param(2, TT_SHAPE(1, 3), 3, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    c->w1 = c->w1_0;
    c->w2 = c->w2_0;
    ck_assert_int_eq(net_step(tp, c), TG_OK);
    c->ref_g1 = tg_tensor_clone(tg_tensor_grad(c->w1_0));
    tg_tape_free(tp);
}
static void net_fresh(void *vc)
{
    net_ctx *c = vc;
    c->w1 = tg_tensor_clone(c->w1_0);
    c->w2 = tg_tensor_clone(c->w2_0);
    tg_tensor_set_requires_grad(c->w1, true);
    tg_tensor_set_requires_grad(c->w2, true);
}
static tg_status net_run(void *vc, tg_tape *tp)
{
    net_ctx *c = vc;
    tg_status st = net_step(tp, c);
    if (st == TG_OK) st = net_step(tp, c); /* a second step reuses everything */
    if (st == TG_OK) {
        tg_tensor *p = tg_tensor_clone(c->w2);
        if (!p) return tg_last_status();
        tg_tensor_set_requires_grad(p, true);
        st = tg_gradcheck(gc_fn, NULL, 1, &p, NULL, NULL);
        tg_tensor_free(p);
    }
    return st;
}
static void net_verify(void *vc, tg_tape *tp, tg_status st)
{
    (void)st;
    net_ctx *c = vc;
    assert_bits("x", c->x, c->x0);
    assert_bits("w1", c->w1, c->w1_0);
    ck_assert_int_eq(net_step(tp, c), TG_OK);
    assert_bits("gradient after recovery", tg_tensor_grad(c->w1), c->ref_g1);
}
static void net_clean(void *vc)
{
    net_ctx *c = vc;
    tg_tensor_free(c->w1);
    tg_tensor_free(c->w2);
}
static void net_fini(void *vc)
{
    net_ctx *c = vc;
    tg_tensor_free(c->x);
    tg_tensor_free(c->x0);
    tg_tensor_free(c->w1_0);
    tg_tensor_free(c->w2_0);
    tg_tensor_free(c->ref_g1);
}

static net_ctx g_net;
static const workload k_net = {"net+gradcheck", net_init,  net_fresh, net_run,
                               net_verify,      net_clean, net_fini,  &g_net};

START_TEST(test_oom_net)
{
    sweep(&k_net, 10);
}
END_TEST

/* ==== 2-4. models: a generic "params + forward + backward" workload ======= */
#define MAX_P 4
typedef struct model_ctx {
    const char *name;
    /* builds the loss from the inputs and the parameters */
    tg_tensor *(*loss)(tg_tape *tp, struct model_ctx *c);
    /* optional extra work after backward (second order) */
    tg_status (*extra)(tg_tape *tp, struct model_ctx *c, tg_tensor *loss);
    int np;
    tg_tensor *in[3], *in0[3];  /* inputs and their copies */
    tg_tensor *p0[MAX_P];       /* initial parameters */
    tg_tensor *p[MAX_P];        /* this run's parameters */
    tg_tensor *old_grad[MAX_P]; /* the gradients they start with */
    tg_tensor *ref_grad[MAX_P]; /* reference gradients */
    /* each backward's "before": .grad's values (made outside injection, so
     * taking them allocates nothing) and whether there was a .grad */
    tg_tensor *snap[MAX_P];
    bool had_grad[MAX_P];
    double ref_loss;
    int32_t labels[8];
    tg_tensor *lab; /* the labels as a TG_I64 tensor (made outside injection) */
} model_ctx;

static tg_status model_step(tg_tape *tp, model_ctx *c, double *loss_out)
{
    tg_tape_reset(tp);
    tg_tensor *loss = c->loss(tp, c);
    if (!loss) return tg_tape_status(tp);
    for (int i = 0; i < c->np && c->snap[i]; i++) {
        c->had_grad[i] = tg_tensor_grad(c->p[i]) != NULL;
        if (c->had_grad[i]) tg_tensor_copy(c->snap[i], tg_tensor_grad(c->p[i]));
    }
    tg_status st = tg_backward(tp, loss);
    /* a failed backward (here, of the first step or the second) leaves
     * every .grad as it was just before it */
    for (int i = 0; st != TG_OK && i < c->np && c->snap[i]; i++) {
        if (c->had_grad[i])
            assert_bits("gradient after a failed backward", tg_tensor_grad(c->p[i]), c->snap[i]);
        else
            ck_assert_ptr_null(tg_tensor_grad(c->p[i]));
    }
    if (st == TG_OK && c->extra) st = c->extra(tp, c, loss);
    if (st == TG_OK && loss_out) *loss_out = tg_tensor_get_flat(loss, 0);
    return st;
}

static void model_init(void *vc)
{
    model_ctx *c = vc;
    tg_tape *tp = tg_tape_new(NULL);
    for (int i = 0; i < c->np; i++) c->p[i] = c->p0[i];
    ck_assert_int_eq(model_step(tp, c, &c->ref_loss), TG_OK);
    for (int i = 0; i < c->np; i++) {
        c->ref_grad[i] = tg_tensor_clone(tg_tensor_grad(c->p0[i]));
        ck_assert(tg_tensor_numel(c->ref_grad[i]) > 0);
    }
    tg_tape_free(tp);
}
static void model_fresh(void *vc)
{
    model_ctx *c = vc;
    for (int i = 0; i < c->np; i++) {
        c->p[i] = tg_tensor_clone(c->p0[i]);
        c->snap[i] = tg_tensor_clone(c->p0[i]);
        tg_tensor_set_requires_grad(c->p[i], true);
        /* half the parameters already hold a gradient (of another loss): a
         * failing backward must leave it alone */
        if (i % 2 == 0) {
            tg_tape *tp = tg_tape_new(NULL);
            ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul_scalar(tp, c->p[i], 3.0))),
                             TG_OK);
            tg_tape_free(tp);
            c->old_grad[i] = tg_tensor_clone(tg_tensor_grad(c->p[i]));
        } else {
            c->old_grad[i] = NULL;
        }
    }
}
static tg_status model_run(void *vc, tg_tape *tp)
{
    model_ctx *c = vc;
    tg_status st = model_step(tp, c, NULL);
    if (st == TG_OK) st = model_step(tp, c, NULL); /* the steady state */
    return st;
}
static void model_verify(void *vc, tg_tape *tp, tg_status st)
{
    model_ctx *c = vc;
    for (int i = 0; i < 3; i++)
        if (c->in[i]) assert_bits("input", c->in[i], c->in0[i]);
    for (int i = 0; i < c->np; i++) {
        assert_bits("parameter", c->p[i], c->p0[i]);
        /* a failed backward leaves gradients as they were; a successful one
         * writes the reference (an earlier successful step may also have) */
        if (st != TG_OK && c->old_grad[i] && !bit_equal(tg_tensor_grad(c->p[i]), c->ref_grad[i]))
            assert_bits("gradient before a failed step", tg_tensor_grad(c->p[i]), c->old_grad[i]);
        if (st == TG_OK) assert_bits("gradient", tg_tensor_grad(c->p[i]), c->ref_grad[i]);
    }
    double l = 0;
    ck_assert_msg(model_step(tp, c, &l) == TG_OK, "%s: recovery step: %s", c->name,
                  tg_tape_error(tp));
    ck_assert(l == c->ref_loss);
    for (int i = 0; i < c->np; i++)
        assert_bits("gradient after recovery", tg_tensor_grad(c->p[i]), c->ref_grad[i]);
}
static void model_clean(void *vc)
{
    model_ctx *c = vc;
    for (int i = 0; i < c->np; i++) {
        tg_tensor_free(c->p[i]);
        tg_tensor_free(c->old_grad[i]);
        tg_tensor_free(c->snap[i]);
        c->p[i] = c->old_grad[i] = c->snap[i] = NULL;
    }
}
static void model_fini(void *vc)
{
    model_ctx *c = vc;
    for (int i = 0; i < 3; i++) {
        tg_tensor_free(c->in[i]);
        tg_tensor_free(c->in0[i]);
    }
    for (int i = 0; i < c->np; i++) {
        tg_tensor_free(c->p0[i]);
        tg_tensor_free(c->ref_grad[i]);
    }
    tg_tensor_free(c->lab);
}
static void model_add_input(model_ctx *c, int i, tg_tensor *t)
{
    c->in[i] = t;
    c->in0[i] = tg_tensor_clone(t);
}

/* 2. MLP: relu(x W1 + b1) W2 + b2 -> softmax cross-entropy on labels */
static tg_tensor *mlp_loss(tg_tape *tp, model_ctx *c)
{
    tg_tensor *h = tg_relu(tp, tg_add(tp, tg_matmul(tp, c->in[0], c->p[0]), c->p[1]));
    tg_tensor *z = tg_add(tp, tg_matmul_t(tp, h, c->p[2], false, true), c->p[3]);
    return tg_softmax_cross_entropy_index(tp, z, c->lab, TG_REDUCE_MEAN);
}

static void make_mlp(model_ctx *c)
{
    *c = (model_ctx){.name = "mlp", .loss = mlp_loss, .np = 4, .labels = {0, 2, 1, 1, 0, 2}};
    c->lab = tg_tensor_from(TG_I64, 1, TT_SHAPE(6), (const int64_t[]){0, 2, 1, 1, 0, 2});
    model_add_input(c, 0, tt_rand(TG_F64, 2, TT_SHAPE(6, 5), 20, -1, 1));
    c->p0[0] = tt_param(2, TT_SHAPE(5, 7), 21, -0.5, 0.5);
    c->p0[1] = tt_param(1, TT_SHAPE(7), 22, -0.1, 0.1);
    c->p0[2] = tt_param(2, TT_SHAPE(3, 7), 23, -0.5, 0.5); /* used transposed */
    c->p0[3] = tt_param(1, TT_SHAPE(3), 24, -0.1, 0.1);
}

static model_ctx g_model;
/* The workload of g_model, named after it. */
static void sweep_model(long min_points)
{
    const workload w = {g_model.name, model_init,  model_fresh, model_run,
                        model_verify, model_clean, model_fini,  &g_model};
    sweep(&w, min_points);
}

START_TEST(test_oom_mlp)
{
    make_mlp(&g_model);
    sweep_model(8);
}
END_TEST

/* 3. conv2d + tanh + max pool + avg pool + dense + softmax cross-entropy on
 * one-hot targets (f32, so that dtype's kernels are swept too) */
static tg_tensor *cnn_loss(tg_tape *tp, model_ctx *c)
{
    tg_tensor *h = tg_tanh(tp, tg_conv2d(tp, c->in[0], c->p[0], c->p[1], 1, 1, 1, 1)); /* 2,3,6,6 */
    h = tg_max_pool2d(tp, h, 2, 2, 2, 2, 0, 0);                                        /* 2,3,3,3 */
    h = tg_avg_pool2d(tp, h, 3, 3, 1, 1, 1, 1);                                        /* 2,3,3,3 */
    tg_tensor *z = tg_matmul(tp, tg_flatten(tp, h), c->p[2]);                          /* 2,4 */
    return tg_softmax_cross_entropy(tp, z, c->in[1], TG_REDUCE_SUM);
}

static tg_tensor *param32(int ndim, const int64_t *shape, uint64_t seed)
{
    tg_tensor *t = tt_rand(TG_F32, ndim, shape, seed, -0.5, 0.5);
    tg_tensor_set_requires_grad(t, true);
    return t;
}

static void make_cnn(model_ctx *c)
{
    *c = (model_ctx){.name = "cnn", .loss = cnn_loss, .np = 3};
    model_add_input(c, 0, tt_rand(TG_F32, 4, TT_SHAPE(2, 2, 6, 6), 30, -1, 1));
    model_add_input(c, 1, tt_from(TG_F32, 2, TT_SHAPE(2, 4), TT_VALUES(0, 1, 0, 0, 0, 0, 0, 1)));
    c->p0[0] = param32(4, TT_SHAPE(3, 2, 3, 3), 31);
    c->p0[1] = param32(1, TT_SHAPE(3), 32);
    c->p0[2] = param32(2, TT_SHAPE(27, 4), 33);
}

START_TEST(test_oom_cnn)
{
    make_cnn(&g_model);
    sweep_model(8);
}
END_TEST

/* 4. second order: g = d/dw sum(tanh(x w)^2) with create_graph, then
 * backward of |g|^2 (a Hessian-vector product through every rule) */
static tg_tensor *so_first(tg_tape *tp, model_ctx *c)
{
    return tg_sum_all(tp, tg_square(tp, tg_tanh(tp, tg_matmul(tp, c->in[0], c->p[0]))));
}
static tg_tensor *so_loss(tg_tape *tp, model_ctx *c)
{
    tg_tensor *y = so_first(tp, c);
    tg_tensor *g = tg_grad(tp, y, c->p[0], true);
    return tg_sum_all(tp, tg_square(tp, g));
}

static void make_second_order(model_ctx *c)
{
    *c = (model_ctx){.name = "create_graph", .loss = so_loss, .np = 1};
    model_add_input(c, 0, tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 40, -1, 1));
    c->p0[0] = tt_param(2, TT_SHAPE(4, 2), 41, -1, 1);
}

START_TEST(test_oom_second_order)
{
    make_second_order(&g_model);
    sweep_model(8);
}
END_TEST

/* ==== 5. gradcheck of conv2d (its own tape, messages through tg_last_error) */
static tg_tensor *conv_fn(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_conv2d(tp, in[0], in[1], in[2], 2, 1, 1, 0);
}
typedef struct gc_ctx {
    tg_tensor *in[3], *in0[3];
} gc_ctx;
static gc_ctx g_gc;
static void gc_init(void *vc)
{
    gc_ctx *c = vc;
    c->in[0] = tt_param(4, TT_SHAPE(1, 2, 4, 3), 50, -1, 1);
    c->in[1] = tt_param(4, TT_SHAPE(2, 2, 2, 2), 51, -1, 1);
    c->in[2] = tt_param(1, TT_SHAPE(2), 52, -1, 1);
    for (int i = 0; i < 3; i++) c->in0[i] = tg_tensor_clone(c->in[i]);
}
static void gc_nothing(void *vc)
{
    (void)vc;
}
static tg_status gc_run(void *vc, tg_tape *tp)
{
    gc_ctx *c = vc;
    (void)tp;
    return tg_gradcheck(conv_fn, NULL, 3, c->in, NULL, NULL);
}
static void gc_verify(void *vc, tg_tape *tp, tg_status st)
{
    (void)st;
    gc_ctx *c = vc;
    for (int i = 0; i < 3; i++) assert_bits("gradcheck input restored", c->in[i], c->in0[i]);
    tg_tape_reset(tp);
    ck_assert_ptr_nonnull(conv_fn(tp, c->in, NULL));
    ck_assert_int_eq(tg_gradcheck(conv_fn, NULL, 3, c->in, NULL, NULL), TG_OK);
}
static void gc_fini(void *vc)
{
    gc_ctx *c = vc;
    for (int i = 0; i < 3; i++) {
        tg_tensor_free(c->in[i]);
        tg_tensor_free(c->in0[i]);
    }
}

START_TEST(test_oom_gradcheck_conv)
{
    const workload w = {"gradcheck conv2d", gc_init,    gc_nothing, gc_run,
                        gc_verify,          gc_nothing, gc_fini,    &g_gc};
    sweep(&w, 10);
}
END_TEST

/* ==== 6. save + load safetensors, IDX images and labels =================== */
typedef struct io_ctx {
    char dir[64], st_path[96], idx_path[96], lab_path[96];
    tg_tensor *a, *b, *a0, *b0;
} io_ctx;
static io_ctx g_io;

static void write_file(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void io_init(void *vc)
{
    io_ctx *c = vc;
    snprintf(c->dir, sizeof c->dir, "/tmp/tg_oom_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(c->dir));
    snprintf(c->st_path, sizeof c->st_path, "%s/w.safetensors", c->dir);
    snprintf(c->idx_path, sizeof c->idx_path, "%s/img.idx", c->dir);
    snprintf(c->lab_path, sizeof c->lab_path, "%s/lab.idx", c->dir);
    c->a = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 60, -1, 1);
    c->b = tt_rand(TG_F32, 1, TT_SHAPE(5), 61, -1, 1);
    c->a0 = tg_tensor_clone(c->a);
    c->b0 = tg_tensor_clone(c->b);
    /* images: magic 0x00000803 (u8, 3-d), 2 x 2 x 3 */
    const unsigned char img[] = {0, 0, 8, 3, 0, 0, 0, 2, 0,   0,   0,   2,   0,   0,
                                 0, 3, 0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};
    write_file(c->idx_path, img, sizeof img);
    const unsigned char lab[] = {0, 0, 8, 1, 0, 0, 0, 4, 7, 0, 3, 9};
    write_file(c->lab_path, lab, sizeof lab);
}

/* save, load back, load into, read the IDX files; compares everything */
static tg_status io_work(io_ctx *c, bool check)
{
    const char *names[2] = {"w/a", "b"};
    tg_tensor *ts[2] = {c->a, c->b};
    tg_status st = tg_safetensors_save(c->st_path, 2, names, ts);
    if (st != TG_OK) return st;
    tg_named_tensors nt = {0};
    st = tg_safetensors_load(c->st_path, &nt);
    if (st != TG_OK) return st;
    if (check) {
        ck_assert_int_eq(nt.n, 2);
        for (int i = 0; i < 2; i++) {
            const tg_tensor *want = strcmp(nt.names[i], "b") == 0 ? c->b : c->a;
            assert_bits("loaded tensor", nt.tensors[i], want);
        }
    }
    tg_named_tensors_free(&nt);
    tg_tensor *into = tg_tensor_new(TG_F64, 1, TT_SHAPE(5));
    if (!into) return tg_last_status();
    st = tg_safetensors_load_into(c->st_path, 1, (const char *const[]){"b"}, &into);
    if (st == TG_OK && check)
        for (int i = 0; i < 5; i++)
            ck_assert(tg_tensor_get_flat(into, i) == tg_tensor_get_flat(c->b, i));
    tg_tensor_free(into);
    if (st != TG_OK) return st;
    tg_tensor *img = tg_idx_load(c->idx_path, TG_F32, 1.0 / 255.0);
    if (!img) return tg_last_status();
    if (check) {
        ck_assert_int_eq(tg_tensor_ndim(img), 3);
        ck_assert(tg_tensor_get_flat(img, 11) == (float)(255.0 / 255.0));
        ck_assert(tg_tensor_get_flat(img, 5) == (float)(5.0 / 255.0));
    }
    tg_tensor_free(img);
    int64_t n = 0;
    int32_t *lab = tg_idx_load_labels(c->lab_path, &n);
    if (!lab) return tg_last_status();
    if (check) {
        ck_assert_int_eq(n, 4);
        ck_assert_int_eq(lab[0], 7);
        ck_assert_int_eq(lab[3], 9);
    }
    tg_idx_labels_free(lab);
    return TG_OK;
}
static tg_status io_run(void *vc, tg_tape *tp)
{
    (void)tp;
    return io_work(vc, false);
}
static void io_verify(void *vc, tg_tape *tp, tg_status st)
{
    (void)tp;
    (void)st;
    io_ctx *c = vc;
    assert_bits("saved tensor a", c->a, c->a0);
    assert_bits("saved tensor b", c->b, c->b0);
    ck_assert_int_eq(io_work(c, true), TG_OK);
}
static void io_fini(void *vc)
{
    io_ctx *c = vc;
    tg_tensor_free(c->a);
    tg_tensor_free(c->b);
    tg_tensor_free(c->a0);
    tg_tensor_free(c->b0);
    unlink(c->st_path);
    unlink(c->idx_path);
    unlink(c->lab_path);
    rmdir(c->dir);
}

START_TEST(test_oom_io)
{
    const workload w = {"safetensors+idx", io_init,    gc_nothing, io_run,
                        io_verify,         gc_nothing, io_fini,    &g_io};
    sweep(&w, 10);
}
END_TEST

/* ==== the arena limit ========================================================= */
/* The high-water mark of one step of a model workload, measured. */
static size_t high_water(model_ctx *c)
{
    /* measured on the run the sweep limits (model_fresh, model_run): which
     * parameters hold a .grad already decides whether the sweep writes
     * their gradients into second buffers or into the arena */
    tg_tape *tp = tg_tape_new(NULL);
    model_fresh(c);
    ck_assert_int_eq(model_run(c, tp), TG_OK);
    size_t hw = tg_tape_usage(tp).high_water;
    tg_tape_free(tp);
    model_clean(c);
    return hw;
}

/* With a limit the recovery step in verify also needs the room: run it on a
 * tape without limit by swapping verify. */
static void model_verify_unlimited(void *vc, tg_tape *tp, tg_status st)
{
    (void)tp;
    tg_tape *t2 = tg_tape_new(NULL);
    model_verify(vc, t2, st);
    tg_tape_free(t2);
}

START_TEST(test_arena_limit)
{
    void (*makers[])(model_ctx *) = {make_mlp, make_cnn, make_second_order};
    for (int m = 0; m < 3; m++) {
        makers[m](&g_model);
        size_t hw = high_water(&g_model);
        const workload w = {g_model.name,           model_init,  model_fresh, model_run,
                            model_verify_unlimited, model_clean, model_fini,  &g_model};
        sweep_arena(&w, hw);
        printf("arena limit %s: 15 limits below the %zu-byte high-water mark\n", g_model.name, hw);
    }
    /* and on the same tape: a limited tape fails, resets, and works with a
     * small graph that fits */
    tg_tape *tp = tg_tape_new(&(tg_tape_options){.arena_limit = 4096});
    tg_tensor *big = tg_tensor_zeros(TG_F64, 1, TT_SHAPE(1000));
    ck_assert_ptr_null(tg_exp(tp, big));
    tt_assert_tape_error(tp, TG_ERR_NOMEM, "arena", "limit 4096");
    tg_tape_reset(tp);
    tg_tensor *small = tg_tensor_ones(TG_F64, 1, TT_SHAPE(4));
    tg_tensor *y = tg_sum_all(tp, tg_exp(tp, small));
    ck_assert_ptr_nonnull(y);
    ck_assert_double_eq_tol(tg_tensor_get_flat(y, 0), 4 * exp(1.0), 1e-12);
    tg_tape_free(tp);
    tg_tensor_free(big);
    tg_tensor_free(small);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("oom");
    TCase *tc = tcase_create("oom");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_oom_net);
    tcase_add_test(tc, test_oom_mlp);
    tcase_add_test(tc, test_oom_cnn);
    tcase_add_test(tc, test_oom_second_order);
    tcase_add_test(tc, test_oom_gradcheck_conv);
    tcase_add_test(tc, test_oom_io);
    tcase_add_test(tc, test_arena_limit);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
