/* B5 fast-dropout-step (../shared/BENCHMARKS.md): one SGD step, f32, batch
 * 128, of a 784-512-10 network trained with the fast-dropout closed form of
 * seed 000 (eqs 25-28, p = 0.5 on both layers), sigmoid units, no biases,
 * loss -sum[t log o + (1-t) log(1-o)] (seed 000 eq. 4) divided by the batch,
 * as ../shared/peers/torch_bench.py does:
 *   mu = p (o @ W),  s2 = p (1-p) ((o*o) @ (W*W)),  n' = mu / sqrt(1 + pi/8 s2),  o = sigmoid(n')
 *
 *   bench_b5 [--batch N] [--threads N] [--reps N] [--warmup N]
 */
#include "bench_util.h"

#include <math.h>
#include <stdlib.h>
#include <tapegrad.h>

/* sigmoid(n') of one layer: tapegrad's own fast-dropout layer (two matmuls,
 * two squares and one fused op for mu / sqrt(1 + pi/8 s2)) */
static tg_tensor *fd_layer(tg_tape *tp, tg_tensor *o, tg_tensor *w, double p)
{
    return tg_sigmoid(tp, tg_fast_dropout_linear(tp, o, w, p));
}

int main(int argc, char **argv)
{
    tb_mem_install(); /* before the library allocates anything */
    const int batch = tb_int_arg(argc, argv, "--batch", 128);
    const int threads = tb_int_arg(argc, argv, "--threads", 1);
    const int reps = tb_int_arg(argc, argv, "--reps", 100);
    const int warmup = tb_int_arg(argc, argv, "--warmup", 10);
    /* the kernels' threads and the pieces of the matrix products alike */
    if (tg_set_num_threads(threads) != TG_OK) {
        fprintf(stderr, "bench_b5: %s\n", tg_last_error());
        return 2;
    }
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    tg_tensor *x = tg_tensor_rand(TG_F32, 2, (const int64_t[]){batch, 784}, &rng);
    tg_tensor *t = tg_tensor_new(TG_F32, 2, (const int64_t[]){batch, 10});
    tg_tensor *w1 = tg_tensor_new(TG_F32, 2, (const int64_t[]){784, 512});
    tg_tensor *w2 = tg_tensor_new(TG_F32, 2, (const int64_t[]){512, 10});
    tg_tape *tp = tg_tape_new(NULL);
    double *ms = malloc(sizeof(double) * (size_t)(reps > 0 ? reps : 1));
    if (!x || !t || !w1 || !w2 || !tp || !ms) return 1;
    for (int i = 0; i < batch; i++) tg_tensor_set_flat(t, i * 10 + i % 10, 1.0);
    tg_tensor_fill_normal(w1, &rng, 0, 1 / sqrt(784.0));
    tg_tensor_fill_normal(w2, &rng, 0, 1 / sqrt(512.0));
    tg_tensor_set_requires_grad(w1, true);
    tg_tensor_set_requires_grad(w2, true);
    /* torch.optim.SGD's update, as the peer runs it: the library's own,
     * on its threads */
    tg_tensor *const ps[2] = {w1, w2};
    tg_optim *opt = tg_sgd_new(2, ps, 0.1, 0.0, 0.0);
    if (!opt) return 1;
    double loss_first = 0, loss_last = 0;
    int64_t mallocs_at_timing = 0;
    tb_mem mem0 = tb_mem_now();
    for (int r = 0; r < warmup + reps; r++) {
        if (r == warmup) mem0 = tb_mem_now();
        if (r == warmup) mallocs_at_timing = tg_tape_usage(tp).mallocs;
        const double t0 = tb_now_ms();
        tg_tape_reset(tp);
        tg_tensor *o = fd_layer(tp, fd_layer(tp, x, w1, 0.5), w2, 0.5);
        tg_tensor *loss = tg_mul_scalar(tp, tg_bce(tp, o, t, TG_REDUCE_SUM), 1.0 / batch);
        if (tg_backward(tp, loss) != TG_OK) {
            fprintf(stderr, "bench_b5: %s\n", tg_tape_error(tp));
            return 1;
        }
        if (tg_optim_step(opt) != TG_OK) return 1;
        const double t1 = tb_now_ms();
        if (r >= warmup) ms[r - warmup] = t1 - t0;
        const double lv = tg_tensor_get_flat(loss, 0);
        if (r == 0) loss_first = lv;
        loss_last = lv;
    }
    tb_print_gemm(stdout);
    tb_mem_report(stdout, "B5 tapegrad", &mem0, reps);
    const tg_tape_stats st = tg_tape_usage(tp);
    printf("# B5 tapegrad batch=%d threads=%d loss first=%.5f last=%.5f "
           "heap_allocs_in_timed_steps=%lld "
           "arena_reserved_mb=%.1f nodes_per_step=%lld\n",
           batch, threads, loss_first, loss_last, (long long)(st.mallocs - mallocs_at_timing),
           (double)st.bytes_reserved / (1 << 20), (long long)st.nodes);
    char head[96];
    snprintf(head, sizeof head, "B5 fast-dropout-step batch=%d threads=%d", batch, threads);
    tb_stats s = tb_stats_of(ms, reps);
    tb_report(stdout, head, &s);
    free(ms);
    tg_optim_free(opt);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(t);
    tg_tensor_free(w1);
    tg_tensor_free(w2);
    return 0;
}
