/* B5's weight-sized passes alone, in plain C: what a fast-dropout step does
 * to the 784x512 first-layer weights besides the matrix products (seed 000
 * eqs 26-28 as BENCHMARKS.md's B5 writes them, and as the peer computes
 * them):
 *   W2 = W * W                 (forward: the variance's weights)
 *   dW = 2 W * G               (the chain rule through W * W; G the gemm's
 *                               gradient of W2)
 *   W -= lr (dW + D)           (the SGD update; D the mean path's gradient)
 * Between repetitions a 4 MiB buffer (this machine's L2) is read and
 * written, standing for the gemms' traffic, so the weights come from where
 * they would in a step.  The median of these passes is a floor under any
 * B5 step computed as written, on top of the sgemm limit of limits.c:
 * docs/performance.md, "Where the time goes".
 *
 *   bench_b5_floor [--reps N]
 */
#include "bench_util.h"

#include <stdint.h>
#include <stdlib.h>

static void passes(float *restrict w, float *restrict w2, const float *restrict g,
                   float *restrict dw, const float *restrict d, int64_t n, float lr)
{
    for (int64_t i = 0; i < n; i++) w2[i] = w[i] * w[i];
    for (int64_t i = 0; i < n; i++) dw[i] = g[i] * (w[i] * 2.0f) + d[i];
    for (int64_t i = 0; i < n; i++) w[i] -= lr * dw[i];
}

int main(int argc, char **argv)
{
    const int reps = tb_int_arg(argc, argv, "--reps", 200);
    const int64_t n = 784 * 512, m = (int64_t)4 << 20 >> 2;
    float *w = malloc(sizeof(float) * (size_t)n), *w2 = malloc(sizeof(float) * (size_t)n);
    float *g = malloc(sizeof(float) * (size_t)n), *dw = malloc(sizeof(float) * (size_t)n);
    float *d = malloc(sizeof(float) * (size_t)n), *other = malloc(sizeof(float) * (size_t)m);
    double *ms = malloc(sizeof(double) * (size_t)(reps > 0 ? reps : 1));
    if (!w || !w2 || !g || !dw || !d || !other || !ms || reps < 1) return 1;
    for (int64_t i = 0; i < n; i++) w[i] = 1e-3f * (float)(i % 1000), g[i] = 1, d[i] = 0.5f;
    for (int64_t i = 0; i < m; i++) other[i] = 1;
    for (int r = 0; r < reps + 5; r++) {
        for (int64_t i = 0; i < m; i++) other[i] += 1; /* the gemms' traffic */
        const double t0 = tb_now_ms();
        passes(w, w2, g, dw, d, n, 1e-9f);
        const double t1 = tb_now_ms();
        if (r >= 5) ms[r - 5] = t1 - t0;
    }
    /* a use of every output, so no pass is optimised away */
    printf("# B5 weight passes n=%lld check=%g\n", (long long)n,
           (double)(w[n - 1] + w2[n / 2] + dw[1] + other[m - 1]));
    tb_stats s = tb_stats_of(ms, reps);
    tb_report(stdout, "B5 fast-dropout-step batch=128 threads=1 limit=weight-passes", &s);
    free(w), free(w2), free(g), free(dw), free(d), free(other), free(ms);
    return 0;
}
