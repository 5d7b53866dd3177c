/* B4 cnn-step (../shared/BENCHMARKS.md): one SGD step, f32, batch 64, of
 *   1x28x28 -> conv 8@5x5 s1 p2 -> relu -> conv 16@5x5 s2 p2 -> relu
 *           -> flatten -> dense 3136->10 -> softmax cross-entropy (mean)
 * timed as tape reset + forward + backward + SGD update (lr 0.1), the same
 * batch every step, as ../shared/peers/torch_bench.py does.
 *
 * Synthetic data: inputs uniform in [0, 1) from a fixed seed, labels i mod
 * 10; weights N(0, 1) / sqrt(fan_in) from a fixed seed, biases zero.
 *
 *   bench_b4 [--reps N] [--warmup N] [--threads N]
 *
 * Prints the BENCHMARKS.md line and '#' lines with the losses and the
 * memory behaviour (heap allocations during the timed steps: the target is
 * zero, every buffer, the im2col matrices included, lives in the tape's
 * arena and is reused after tg_tape_reset). */
#include "bench_util.h"

#include <math.h>
#include <stdlib.h>
#include <tapegrad.h>

enum { BATCH = 64, NPARAM = 6 };

static tg_tensor *param(tg_rng *r, int ndim, const int64_t *shape, double fan_in)
{
    tg_tensor *t = tg_tensor_new(TG_F32, ndim, shape);
    if (!t) return NULL;
    if (fan_in > 0) tg_tensor_fill_normal(t, r, 0.0, 1.0 / sqrt(fan_in));
    tg_tensor_set_requires_grad(t, true);
    return t;
}

static int die(const char *what, tg_tape *tp)
{
    fprintf(stderr, "bench_b4: %s: %s\n", what, tp ? tg_tape_error(tp) : tg_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    tb_mem_install(); /* before the library allocates anything */
    const int reps = tb_int_arg(argc, argv, "--reps", 30);
    const int warmup = tb_int_arg(argc, argv, "--warmup", 10);
    const int threads = tb_int_arg(argc, argv, "--threads", 1);
    /* the library's kernels and OpenBLAS both (include/tapegrad/threads.h) */
    if (tg_set_num_threads(threads > 0 ? threads : 1) != TG_OK) return die("--threads", NULL);
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    tg_tensor *x = tg_tensor_rand(TG_F32, 4, (const int64_t[]){BATCH, 1, 28, 28}, &rng);
    int32_t labels[BATCH];
    for (int i = 0; i < BATCH; i++) labels[i] = i % 10;
    /* the loss takes the labels as a TG_I64 tensor, made once */
    tg_tensor *lab = tg_tensor_new(TG_I64, 1, (const int64_t[]){BATCH});
    for (int i = 0; lab && i < BATCH; i++) tg_tensor_i64(lab)[i] = labels[i];
    tg_tensor *p[NPARAM] = {
        param(&rng, 4, (const int64_t[]){8, 1, 5, 5}, 25),   /* conv1 W */
        param(&rng, 1, (const int64_t[]){8}, 0),             /* conv1 b */
        param(&rng, 4, (const int64_t[]){16, 8, 5, 5}, 200), /* conv2 W */
        param(&rng, 1, (const int64_t[]){16}, 0),            /* conv2 b */
        param(&rng, 2, (const int64_t[]){3136, 10}, 3136),   /* dense W (x @ W) */
        param(&rng, 1, (const int64_t[]){10}, 0),            /* dense b */
    };
    for (int k = 0; k < NPARAM; k++)
        if (!p[k] || !x) return die("allocating the parameters", NULL);
    tg_tape *tp = tg_tape_new(NULL);
    if (!tp) return die("tg_tape_new", NULL);

    double *ms = malloc(sizeof(double) * (size_t)(reps ? reps : 1));
    /* torch.optim.SGD's update, as the peer runs it: the library's own,
     * on its threads */
    tg_optim *opt = tg_sgd_new(NPARAM, p, 0.1, 0.0, 0.0);
    if (!ms || !opt) return die("tg_sgd_new", NULL);
    double loss_first = 0, loss_last = 0;
    int64_t mallocs_at_timing = 0;
    tb_mem mem0 = tb_mem_now();
    for (int r = 0; r < warmup + reps; r++) {
        if (r == warmup) mem0 = tb_mem_now();
        if (r == warmup) mallocs_at_timing = tg_tape_usage(tp).mallocs;
        const double t0 = tb_now_ms();
        tg_tape_reset(tp);
        tg_tensor *h1 = tg_relu(tp, tg_conv2d(tp, x, p[0], p[1], 1, 1, 2, 2));
        tg_tensor *h2 = tg_relu(tp, tg_conv2d(tp, h1, p[2], p[3], 2, 2, 2, 2));
        tg_tensor *z = tg_add(tp, tg_matmul(tp, tg_flatten(tp, h2), p[4]), p[5]);
        tg_tensor *loss = tg_softmax_cross_entropy_index(tp, z, lab, TG_REDUCE_MEAN);
        if (tg_backward(tp, loss) != TG_OK) return die("step", tp);
        if (tg_optim_step(opt) != TG_OK) return die("sgd", NULL);
        const double t1 = tb_now_ms();
        if (r >= warmup) ms[r - warmup] = t1 - t0;
        const double lv = tg_tensor_get_flat(loss, 0);
        if (r == 0) loss_first = lv;
        loss_last = lv;
    }
    tb_print_gemm(stdout);
    tb_mem_report(stdout, "B4 tapegrad", &mem0, reps);
    const tg_tape_stats st = tg_tape_usage(tp);
    printf("# B4 tapegrad batch=%d threads=%d loss first=%.5f last=%.5f (lr 0.1, same batch every "
           "step) heap_allocs_in_timed_steps=%lld arena_reserved_mb=%.1f nodes_per_step=%lld\n",
           BATCH, threads, loss_first, loss_last, (long long)(st.mallocs - mallocs_at_timing),
           (double)st.bytes_reserved / (1 << 20), (long long)st.nodes);
    char head[96];
    snprintf(head, sizeof head, "B4 cnn-step batch=%d threads=%d", BATCH, threads);
    tb_stats s = tb_stats_of(ms, reps);
    tb_report(stdout, head, &s);
    free(ms);
    tg_optim_free(opt);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(lab);
    for (int k = 0; k < NPARAM; k++) tg_tensor_free(p[k]);
    return 0;
}
