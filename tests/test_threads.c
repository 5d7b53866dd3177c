/* Concurrency: separate tapes used from separate threads at the same time
 * give bit-for-bit the results of running the same jobs one after another.
 *
 * Each job owns a tape and its own copy of the parameters, and trains a small
 * conv + dense network for a few SGD steps on inputs shared read-only by all
 * threads (the images, the targets and the initial weights); it also takes
 * tg_grad with respect to the shared images, which reads them only.  Jobs
 * differ in learning rate and seed so that a mix-up between threads would
 * show.  The suite is meant to run under ThreadSanitizer too
 * (-Db_sanitize=thread), which reports any data race inside the library. */
#include "common.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define N_THREADS 4
#define N_STEPS   6
#define N_IMG     4
#define N_CLASS   3

/* Inputs every thread reads and none writes. */
typedef struct shared {
    tg_tensor *images;   /* (N_IMG, 1, 6, 6) */
    tg_tensor *targets;  /* (N_IMG, N_CLASS) one-hot */
    tg_tensor *conv_w0;  /* (2, 1, 3, 3) initial weights */
    tg_tensor *dense_w0; /* (2*2*2, N_CLASS) */
} shared;

typedef struct job {
    const shared *sh;
    int index;
    double lr;
    /* results */
    tg_tensor *conv_w, *dense_w;
    double losses[N_STEPS];
    tg_tensor *dimages; /* d loss / d images at the last step (user-owned copy) */
    tg_status status;
    char error[512];
    bool own_error_ok;
} job;

static pthread_barrier_t g_barrier;
static bool g_use_barrier;

static tg_tensor *forward(tg_tape *tp, const shared *sh, tg_tensor *cw, tg_tensor *dw)
{
    tg_tensor *h = tg_conv2d(tp, sh->images, cw, NULL, 1, 1, 0, 0); /* (N,2,4,4) */
    h = tg_max_pool2d(tp, tg_tanh(tp, h), 2, 2, 2, 2, 0, 0);        /* (N,2,2,2) */
    tg_tensor *z = tg_matmul(tp, tg_flatten(tp, h), dw);            /* (N,C) */
    return tg_softmax_cross_entropy(tp, z, sh->targets, TG_REDUCE_MEAN);
}

/* p -= lr * grad, on user-owned tensors. */
static void sgd(tg_tensor *p, double lr)
{
    const tg_tensor *g = tg_tensor_grad(p);
    for (int64_t i = 0; i < tg_tensor_numel(p); i++)
        tg_tensor_set_flat(p, i, tg_tensor_get_flat(p, i) - lr * tg_tensor_get_flat(g, i));
}

static void *run_job(void *arg)
{
    job *j = arg;
    const shared *sh = j->sh;
    j->status = TG_OK;
    /* tg_last_error is per thread: this thread's own failure stays visible
     * while the other threads make theirs */
    ck_assert_ptr_null(tg_tensor_new((tg_dtype)(40 + j->index), 1, TT_SHAPE(2)));
    char mine[64];
    snprintf(mine, sizeof mine, "unknown dtype %d", 40 + j->index);
    if (g_use_barrier) pthread_barrier_wait(&g_barrier);
    j->own_error_ok = tg_last_status() == TG_ERR_DTYPE && strstr(tg_last_error(), mine) != NULL;

    j->conv_w = tg_tensor_clone(sh->conv_w0);
    j->dense_w = tg_tensor_clone(sh->dense_w0);
    tg_tensor_set_requires_grad(j->conv_w, true);
    tg_tensor_set_requires_grad(j->dense_w, true);
    tg_tape *tp = tg_tape_new(&(tg_tape_options){.seed = (uint64_t)j->index});
    for (int s = 0; s < N_STEPS && j->status == TG_OK; s++) {
        tg_tape_reset(tp);
        tg_tensor *loss = forward(tp, sh, j->conv_w, j->dense_w);
        j->status = loss ? tg_backward(tp, loss) : tg_tape_status(tp);
        if (j->status != TG_OK) break;
        j->losses[s] = tg_tensor_get_flat(loss, 0);
        if (s == N_STEPS - 1) {
            tg_tensor *gx = tg_grad(tp, loss, sh->images, false);
            j->dimages = gx ? tg_tensor_clone(gx) : NULL;
            if (!gx) j->status = tg_tape_status(tp);
        }
        sgd(j->conv_w, j->lr);
        sgd(j->dense_w, j->lr);
    }
    snprintf(j->error, sizeof j->error, "%s", tg_tape_error(tp));
    tg_tape_free(tp);
    return NULL;
}

static void job_free(job *j)
{
    tg_tensor_free(j->conv_w);
    tg_tensor_free(j->dense_w);
    tg_tensor_free(j->dimages);
}

static void setup_shared(shared *sh)
{
    sh->images = tt_rand(TG_F64, 4, TT_SHAPE(N_IMG, 1, 6, 6), 11, -1, 1);
    double t[N_IMG * N_CLASS] = {0};
    for (int i = 0; i < N_IMG; i++) t[i * N_CLASS + i % N_CLASS] = 1.0;
    sh->targets = tt_from(TG_F64, 2, TT_SHAPE(N_IMG, N_CLASS), t);
    sh->conv_w0 = tt_rand(TG_F64, 4, TT_SHAPE(2, 1, 3, 3), 12, -0.5, 0.5);
    sh->dense_w0 = tt_rand(TG_F64, 2, TT_SHAPE(8, N_CLASS), 13, -0.5, 0.5);
}

static void free_shared(shared *sh)
{
    tg_tensor_free(sh->images);
    tg_tensor_free(sh->targets);
    tg_tensor_free(sh->conv_w0);
    tg_tensor_free(sh->dense_w0);
}

static bool bit_equal(const tg_tensor *a, const tg_tensor *b)
{
    return a && b && tg_tensor_same_shape(a, b) && tg_tensor_dtype(a) == tg_tensor_dtype(b) &&
           memcmp(tg_tensor_data_const(a), tg_tensor_data_const(b),
                  (size_t)tg_tensor_numel(a) * tg_dtype_size(tg_tensor_dtype(a))) == 0;
}

START_TEST(test_threads_match_sequential)
{
    shared sh;
    setup_shared(&sh);
    tg_tensor *images0 = tg_tensor_clone(sh.images);
    tg_tensor *cw0 = tg_tensor_clone(sh.conv_w0);

    job seq[N_THREADS], par[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        seq[i] = (job){.sh = &sh, .index = i, .lr = 0.1 * (i + 1)};
        par[i] = seq[i];
    }
    /* one after another, on this thread */
    g_use_barrier = false;
    for (int i = 0; i < N_THREADS; i++) {
        run_job(&seq[i]);
        ck_assert_msg(seq[i].status == TG_OK, "sequential job %d: %s", i, seq[i].error);
    }
    /* all at once; the barrier makes the threads overlap */
    g_use_barrier = true;
    ck_assert_int_eq(pthread_barrier_init(&g_barrier, NULL, N_THREADS), 0);
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, run_job, &par[i]), 0);
    for (int i = 0; i < N_THREADS; i++) ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&g_barrier);

    for (int i = 0; i < N_THREADS; i++) {
        ck_assert_msg(par[i].status == TG_OK, "thread %d: %s", i, par[i].error);
        ck_assert_msg(par[i].own_error_ok, "thread %d lost its own tg_last_error", i);
        /* training moved: the loss fell (the comparison below is not of two
         * untouched copies) */
        ck_assert_msg(par[i].losses[N_STEPS - 1] < par[i].losses[0], "thread %d: loss %g -> %g", i,
                      par[i].losses[0], par[i].losses[N_STEPS - 1]);
        ck_assert_msg(memcmp(par[i].losses, seq[i].losses, sizeof par[i].losses) == 0,
                      "thread %d: losses differ from the sequential run", i);
        ck_assert_msg(bit_equal(par[i].conv_w, seq[i].conv_w), "thread %d: conv weights differ", i);
        ck_assert_msg(bit_equal(par[i].dense_w, seq[i].dense_w), "thread %d: dense weights differ",
                      i);
        ck_assert_msg(bit_equal(par[i].dimages, seq[i].dimages),
                      "thread %d: d loss / d images differs", i);
    }
    /* different learning rates really gave different results */
    ck_assert(!bit_equal(par[0].dense_w, par[1].dense_w));
    /* the shared inputs were only read */
    ck_assert(bit_equal(sh.images, images0));
    ck_assert(bit_equal(sh.conv_w0, cw0));
    ck_assert_ptr_null(tg_tensor_grad(sh.images));

    for (int i = 0; i < N_THREADS; i++) {
        job_free(&seq[i]);
        job_free(&par[i]);
    }
    tg_tensor_free(images0);
    tg_tensor_free(cw0);
    free_shared(&sh);
}
END_TEST

/* Many short-lived tapes per thread: creation, errors and frees race with
 * each other's allocations (ASan/TSan see any sharing). */
static void *churn(void *arg)
{
    const shared *sh = arg;
    for (int k = 0; k < 50; k++) {
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = tg_sum_all(tp, tg_exp(tp, sh->images));
        ck_assert_ptr_nonnull(y);
        ck_assert_ptr_null(tg_matmul(tp, sh->images, sh->targets)); /* a 4-d operand */
        ck_assert_int_eq(tg_tape_status(tp), TG_ERR_SHAPE);
        tg_tape_free(tp);
    }
    return NULL;
}

START_TEST(test_threads_churn)
{
    shared sh;
    setup_shared(&sh);
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, churn, &sh), 0);
    for (int i = 0; i < N_THREADS; i++) ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    free_shared(&sh);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_threads_match_sequential);
    tcase_add_test(tc, test_threads_churn);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
