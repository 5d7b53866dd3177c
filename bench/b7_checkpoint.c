/* B7 checkpoint-step (issue 20): one training step (tape reset, forward,
 * backward; no update, as bench/peer_checkpoint.py) of a 64-layer MLP,
 * width 512, batch 128, h = tanh(h W + b) per layer, f32, loss mean(h^2),
 * with the whole tape (--mode whole) or one tg_checkpoint per 8 layers
 * (--mode ckpt).  Run each mode in its own process: peak_rss_mb is the
 * process's ru_maxrss.
 *
 * Lines (../shared/BENCHMARKS.md form, then the memory):
 *   B7 checkpoint-step mode=M layers=64 width=512 batch=128 every=8 threads=1 median_ms=...
 *   # B7 tapegrad mem mode=M kept_mb=... peak_mb=... peak_rss_mb=...
 * kept_mb: the tape's arena in use after the forward pass (what is kept for
 * backward: the activations); peak_mb: the tape's high water over one
 * steady-state step (forward, backward and the scratch tapes of the
 * recomputations at their peak, tg_tape_usage).
 *
 * Synthetic data: x uniform in [0, 1) from a fixed seed; W N(0, 1/width)
 * (tanh keeps its activations in range over 64 layers), b 0.01.
 *
 *   bench_b7 [--mode whole|ckpt] [--layers N] [--width N] [--batch N]
 *            [--every N] [--reps N] [--warmup N]
 */
#include "bench_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <tapegrad.h>

#include "tg_config.h"

#if TG_HAVE_CBLAS
void openblas_set_num_threads(int n); /* OpenBLAS's own thread-pool size */
#endif

/* One segment: in = {h, W_0, b_0, W_1, b_1, ...}. */
static tg_tensor *layers_fn(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *h = in[0];
    for (int k = 1; k + 1 < n; k += 2)
        h = tg_tanh(tp, tg_add(tp, tg_matmul(tp, h, in[k]), in[k + 1]));
    return h;
}

typedef struct net {
    int layers, every;
    tg_tensor *x;
    tg_tensor **w, **b;
    tg_tensor **in; /* a segment's inputs */
} net;

static tg_tensor *forward(tg_tape *tp, const net *m, bool ckpt)
{
    tg_tensor *h = m->x;
    for (int l = 0; l < m->layers; l += m->every) {
        const int k = m->layers - l < m->every ? m->layers - l : m->every;
        m->in[0] = h;
        for (int j = 0; j < k; j++) {
            m->in[1 + 2 * j] = m->w[l + j];
            m->in[2 + 2 * j] = m->b[l + j];
        }
        h = ckpt ? tg_checkpoint(tp, layers_fn, NULL, 1 + 2 * k, m->in)
                 : layers_fn(tp, 1 + 2 * k, m->in, NULL);
    }
    return tg_mean_all(tp, tg_square(tp, h));
}

static const char *mode_arg(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--mode") == 0) return argv[i + 1];
    return "whole";
}

int main(int argc, char **argv)
{
    const char *mode = mode_arg(argc, argv);
    const bool ckpt = strcmp(mode, "ckpt") == 0;
    if (!ckpt && strcmp(mode, "whole") != 0) {
        fprintf(stderr, "bench_b7: --mode is whole or ckpt, not %s\n", mode);
        return 2;
    }
    net m;
    m.layers = tb_int_arg(argc, argv, "--layers", 64);
    m.every = tb_int_arg(argc, argv, "--every", 8);
    const int width = tb_int_arg(argc, argv, "--width", 512);
    const int batch = tb_int_arg(argc, argv, "--batch", 128);
    const int reps = tb_int_arg(argc, argv, "--reps", 20);
    const int warmup = tb_int_arg(argc, argv, "--warmup", 3);
    if (m.layers < 1 || m.every < 1 || width < 1 || batch < 1 || reps < 1) return 2;
#if TG_HAVE_CBLAS
    openblas_set_num_threads(1);
#endif
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    m.x = tg_tensor_rand(TG_F32, 2, (const int64_t[]){batch, width}, &rng);
    m.w = calloc((size_t)m.layers, sizeof *m.w);
    m.b = calloc((size_t)m.layers, sizeof *m.b);
    m.in = calloc((size_t)(1 + 2 * m.every), sizeof *m.in);
    double *ms = calloc((size_t)reps, sizeof *ms);
    if (!m.x || !m.w || !m.b || !m.in || !ms) return 1;
    for (int l = 0; l < m.layers; l++) {
        m.w[l] = tg_tensor_new(TG_F32, 2, (const int64_t[]){width, width});
        m.b[l] = tg_tensor_full(TG_F32, 2, (const int64_t[]){1, width}, 0.01);
        if (!m.w[l] || !m.b[l]) return 1;
        tg_tensor_fill_normal(m.w[l], &rng, 0.0, 1.0 / sqrt((double)width));
        tg_tensor_set_requires_grad(m.w[l], true);
        tg_tensor_set_requires_grad(m.b[l], true);
    }
    tg_tape *tp = tg_tape_new(NULL);
    if (!tp) return 1;
    size_t kept = 0;
    double loss = 0;
    for (int r = 0; r < warmup + reps; r++) {
        const double t0 = tb_now_ms();
        tg_tape_reset(tp);
        tg_tensor *y = forward(tp, &m, ckpt);
        kept = tg_tape_usage(tp).bytes_in_use;
        if (!y || tg_backward(tp, y) != TG_OK) {
            fprintf(stderr, "bench_b7: %s\n", tg_tape_error(tp));
            return 1;
        }
        const double t1 = tb_now_ms();
        if (r >= warmup) ms[r - warmup] = t1 - t0;
        loss = tg_tensor_get_flat(y, 0);
    }
    /* The memory of a steady-state step, on a fresh tape: a tape's high
     * water is kept across resets, and the first step's is higher (the
     * parameters' second gradient buffers are made by the first backward,
     * which keeps its gradients in the arena meanwhile). */
    tg_tape_free(tp);
    tp = tg_tape_new(NULL);
    tg_tensor *y = tp ? forward(tp, &m, ckpt) : NULL;
    kept = tg_tape_usage(tp).bytes_in_use;
    if (!y || tg_backward(tp, y) != TG_OK) {
        fprintf(stderr, "bench_b7: %s\n", tg_tape_error(tp));
        return 1;
    }
    const tg_tape_stats st = tg_tape_usage(tp);
    tb_print_gemm(stdout);
    printf("# B7 tapegrad mem mode=%s kept_mb=%.1f peak_mb=%.1f peak_rss_mb=%ld loss=%.6f "
           "dW0[0]=%.6g\n",
           mode, (double)kept / (1 << 20), (double)st.high_water / (1 << 20), tb_peak_rss_mb(),
           loss, tg_tensor_get_flat(tg_tensor_grad(m.w[0]), 0));
    char head[160];
    snprintf(head, sizeof head,
             "B7 checkpoint-step mode=%s layers=%d width=%d batch=%d every=%d threads=1", mode,
             m.layers, width, batch, m.every);
    tb_stats s = tb_stats_of(ms, reps);
    tb_report(stdout, head, &s);
    tg_tape_free(tp);
    tg_tensor_free(m.x);
    for (int l = 0; l < m.layers; l++) {
        tg_tensor_free(m.w[l]);
        tg_tensor_free(m.b[l]);
    }
    free(m.w);
    free(m.b);
    free(m.in);
    free(ms);
    return 0;
}
