/* Out-of-memory injection: every heap allocation of a representative
 * workload (tape creation, graph building, backward with parameter gradient
 * storage, a reset step, gradcheck) is made to fail in turn, once as a single
 * failure and once as "this and every later allocation fails".  At each point
 * the workload must end in TG_OK or TG_ERR_NOMEM with a message, never crash
 * or leak (ASan/LSan in CI), leave the user's tensors unchanged, and the
 * same tape must work again after tg_tape_reset. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

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

typedef struct world {
    tg_tensor *x, *w1, *w2, *x0, *ref_g1;
} world;

/* One step: forward + backward; returns the tape status. */
static tg_status step(tg_tape *tp, world *w)
{
    tg_tape_reset(tp);
    tg_tensor *loss = net(tp, w->x, w->w1, w->w2);
    if (!loss) return tg_tape_status(tp);
    return tg_backward(tp, loss);
}

static tg_status workload(world *w, tg_tape **tp_out)
{
    tg_tape *tp = tg_tape_new(&(tg_tape_options){.arena_chunk = 512});
    *tp_out = tp;
    if (!tp) return tg_last_status();
    tg_status st = step(tp, w);
    if (st == TG_OK) st = step(tp, w); /* a second step reuses everything */
    if (st == TG_OK) {
        tg_tensor *p = tg_tensor_clone(w->w2);
        if (!p) return tg_last_status();
        tg_tensor_set_requires_grad(p, true);
        st = tg_gradcheck(gc_fn, NULL, 1, &p, NULL, NULL);
        tg_tensor_free(p);
    }
    return st;
}

static void sweep(bool sticky)
{
    world w;
    w.x = tt_rand(TG_F64, 2, TT_SHAPE(4, 3), 1, -1, 1);
    w.x0 = tg_tensor_clone(w.x);
    tg_tensor *w1_0 = tt_param(2, TT_SHAPE(4, 3), 2, -1, 1);
    tg_tensor *w2_0 = tt_param(2, TT_SHAPE(1, 3), 3, -1, 1);
    /* the reference gradient, computed without injection */
    tg_tape *tp = tg_tape_new(NULL);
    w.w1 = w1_0;
    w.w2 = w2_0;
    ck_assert_int_eq(step(tp, &w), TG_OK);
    w.ref_g1 = tg_tensor_clone(tg_tensor_grad(w1_0));
    tg_tape_free(tp);

    long points = 0;
    for (long n = 1;; n++) {
        /* fresh parameters each time, so gradient storage is allocated under
         * injection too */
        w.w1 = tg_tensor_clone(w1_0);
        w.w2 = tg_tensor_clone(w2_0);
        tg_tensor_set_requires_grad(w.w1, true);
        tg_tensor_set_requires_grad(w.w2, true);
        g_count = 0;
        g_fail_at = n;
        g_sticky = sticky;
        g_failed = false;
        tg_set_allocator(&k_inj);
        tg_status st = workload(&w, &tp);
        tg_set_allocator(NULL);
        g_fail_at = 0;
        bool failed = g_failed;
        ck_assert_msg(st == TG_OK || st == TG_ERR_NOMEM, "allocation %ld (%s): status %s: %s", n,
                      sticky ? "sticky" : "single", tg_strerror(st),
                      tp ? tg_tape_error(tp) : tg_last_error());
        if (st == TG_ERR_NOMEM)
            ck_assert_msg(strlen(tp && tg_tape_status(tp) ? tg_tape_error(tp) : tg_last_error()) >
                              0,
                          "allocation %ld: NOMEM without a message", n);
        ck_assert_msg(failed || st == TG_OK, "allocation %ld: failed without an injected fault", n);
        tt_assert_close("x unchanged", w.x, w.x0, 0, 0);
        tt_assert_close("w1 unchanged", w.w1, w1_0, 0, 0);
        /* the same tape works again after a reset */
        if (tp) {
            ck_assert_int_eq(step(tp, &w), TG_OK);
            tt_assert_close("gradient after recovery", tg_tensor_grad(w.w1), w.ref_g1, 0, 0);
            tg_tape_free(tp);
        }
        tg_tensor_free(w.w1);
        tg_tensor_free(w.w2);
        if (!failed) break; /* every allocation point has been failed once */
        points++;
    }
    ck_assert_int_gt(points, 10);
    printf("oom sweep (%s): %ld allocation points injected\n", sticky ? "sticky" : "single",
           points);
    tg_tensor_free(w.x);
    tg_tensor_free(w.x0);
    tg_tensor_free(w1_0);
    tg_tensor_free(w2_0);
    tg_tensor_free(w.ref_g1);
}

START_TEST(test_oom_single)
{
    sweep(false);
}
END_TEST

START_TEST(test_oom_sticky)
{
    sweep(true);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("oom");
    TCase *tc = tcase_create("oom");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_oom_single);
    tcase_add_test(tc, test_oom_sticky);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
