/* B3 mlp-step (../shared/BENCHMARKS.md): one SGD step, f32, of a
 * 784-512-256-10 MLP with biases, sigmoid hidden units and softmax
 * cross-entropy (mean over the batch), timed as tape reset + forward +
 * backward + SGD update (lr 0.1), the same batch every step, as
 * ../shared/peers/torch_bench.py does.
 *
 * Synthetic data: inputs uniform in [0, 1) from a fixed seed, labels i mod
 * 10; weights N(0, 1) / sqrt(fan_in), biases zero.
 *
 *   bench_b3 [--batch N] [--threads N] [--reps N] [--warmup N]
 */
#include "bench_util.h"

#include <math.h>
#include <stdlib.h>
#include <tapegrad.h>

enum { NLAYER = 3 };

int main(int argc, char **argv)
{
    tb_mem_install(); /* before the library allocates anything */
    const int batch = tb_int_arg(argc, argv, "--batch", 128);
    const int threads = tb_int_arg(argc, argv, "--threads", 1);
    const int reps = tb_int_arg(argc, argv, "--reps", 100);
    const int warmup = tb_int_arg(argc, argv, "--warmup", 10);
    /* the kernels' threads and the pieces of the matrix products alike */
    if (tg_set_num_threads(threads) != TG_OK) {
        fprintf(stderr, "bench_b3: %s\n", tg_last_error());
        return 2;
    }
    const int64_t sizes[NLAYER + 1] = {784, 512, 256, 10};
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    tg_tensor *x = tg_tensor_rand(TG_F32, 2, (const int64_t[]){batch, 784}, &rng);
    int32_t *labels = malloc(sizeof *labels * (size_t)batch);
    tg_tensor *w[NLAYER], *b[NLAYER], *params[2 * NLAYER];
    for (int l = 0; l < NLAYER; l++) {
        w[l] = tg_tensor_new(TG_F32, 2, (const int64_t[]){sizes[l], sizes[l + 1]});
        b[l] = tg_tensor_new(TG_F32, 2, (const int64_t[]){1, sizes[l + 1]});
        if (!w[l] || !b[l]) return 1;
        tg_tensor_fill_normal(w[l], &rng, 0.0, 1.0 / sqrt((double)sizes[l]));
        tg_tensor_set_requires_grad(w[l], true);
        tg_tensor_set_requires_grad(b[l], true);
        params[2 * l] = w[l];
        params[2 * l + 1] = b[l];
    }
    for (int i = 0; i < batch; i++) labels[i] = i % 10;
    /* the loss takes the labels as a TG_I64 tensor, made once */
    tg_tensor *lab = tg_tensor_new(TG_I64, 1, (const int64_t[]){batch});
    for (int i = 0; lab && i < batch; i++) tg_tensor_i64(lab)[i] = labels[i];
    tg_tape *tp = tg_tape_new(NULL);
    double *ms = malloc(sizeof(double) * (size_t)(reps > 0 ? reps : 1));
    if (!x || !labels || !lab || !tp || !ms) return 1;
    /* torch.optim.SGD's update, as the peer runs it: the library's own,
     * on its threads */
    tg_optim *opt = tg_sgd_new(2 * NLAYER, params, 0.1, 0.0, 0.0);
    if (!opt) return 1;
    double loss_first = 0, loss_last = 0;
    int64_t mallocs_at_timing = 0;
    tb_mem mem0 = tb_mem_now();
    for (int r = 0; r < warmup + reps; r++) {
        if (r == warmup) mem0 = tb_mem_now();
        if (r == warmup) mallocs_at_timing = tg_tape_usage(tp).mallocs;
        const double t0 = tb_now_ms();
        tg_tape_reset(tp);
        tg_tensor *h = x;
        for (int l = 0; l < NLAYER; l++) {
            h = tg_add(tp, tg_matmul(tp, h, w[l]), b[l]);
            if (l < NLAYER - 1) h = tg_sigmoid(tp, h);
        }
        tg_tensor *loss = tg_softmax_cross_entropy_index(tp, h, lab, TG_REDUCE_MEAN);
        if (tg_backward(tp, loss) != TG_OK) {
            fprintf(stderr, "bench_b3: %s\n", tg_tape_error(tp));
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
    tb_mem_report(stdout, "B3 tapegrad", &mem0, reps);
    const tg_tape_stats st = tg_tape_usage(tp);
    printf("# B3 tapegrad batch=%d threads=%d loss first=%.5f last=%.5f "
           "heap_allocs_in_timed_steps=%lld "
           "arena_reserved_mb=%.1f nodes_per_step=%lld\n",
           batch, threads, loss_first, loss_last, (long long)(st.mallocs - mallocs_at_timing),
           (double)st.bytes_reserved / (1 << 20), (long long)st.nodes);
    char head[96];
    snprintf(head, sizeof head, "B3 mlp-step batch=%d threads=%d", batch, threads);
    tb_stats s = tb_stats_of(ms, reps);
    tb_report(stdout, head, &s);
    free(ms);
    free(labels);
    tg_tensor_free(lab);
    tg_optim_free(opt);
    tg_tape_free(tp);
    tg_tensor_free(x);
    for (int l = 0; l < NLAYER; l++) {
        tg_tensor_free(w[l]);
        tg_tensor_free(b[l]);
    }
    return 0;
}
