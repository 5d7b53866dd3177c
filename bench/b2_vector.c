/* B2 vector-rosenbrock (../shared/BENCHMARKS.md): the extended Rosenbrock
 * function with about ten whole-tensor operations, n = 10^7, f64, forward +
 * backward:  a = x[1:] - x[:-1]^2,  b = 1 - x[:-1],  f = sum(100 a^2 + b^2).
 *
 *   bench_b2 [--n N] [--reps N] [--warmup N] [--threads N]
 *
 * --threads N runs the library's kernels on N threads (tg_set_num_threads;
 * default 1, so that the line compares with the single-thread peers). */
#include "bench_util.h"

#include <math.h>
#include <stdlib.h>
#include <tapegrad.h>

int main(int argc, char **argv)
{
    tb_mem_install(); /* before the library allocates anything */
    const int n = tb_int_arg(argc, argv, "--n", 10000000);
    const int reps = tb_int_arg(argc, argv, "--reps", 11);
    const int warmup = tb_int_arg(argc, argv, "--warmup", 2);
    const int threads = tb_int_arg(argc, argv, "--threads", 1);
    if (tg_set_num_threads(threads) != TG_OK) {
        fprintf(stderr, "bench_b2: %s\n", tg_last_error());
        return 1;
    }
    tg_tensor *x = tg_tensor_new(TG_F64, 1, (const int64_t[]){n});
    double *ms = malloc(sizeof(double) * (size_t)reps);
    tg_tape *tp = tg_tape_new(NULL);
    if (!x || !ms || !tp || n < 2) return 1;
    double *xv = tg_tensor_f64(x);
    for (int i = 0; i < n; i++) xv[i] = 1 + 0.5 * sin((double)i);
    tg_tensor_set_requires_grad(x, true);
    double fv = 0;
    tb_mem mem0 = tb_mem_now();
    for (int r = 0; r < warmup + reps; r++) {
        if (r == warmup) mem0 = tb_mem_now();
        const double t0 = tb_now_ms();
        tg_tape_reset(tp);
        tg_tensor *lo = tg_slice(tp, x, 0, 0, n - 1, 1), *hi = tg_slice(tp, x, 0, 1, n, 1);
        tg_tensor *a = tg_sub(tp, hi, tg_square(tp, lo));
        tg_tensor *b = tg_rsub_scalar(tp, 1.0, lo);
        tg_tensor *f = tg_sum_all(
            tp, tg_add(tp, tg_mul_scalar(tp, tg_square(tp, a), 100.0), tg_square(tp, b)));
        if (tg_backward(tp, f) != TG_OK) {
            fprintf(stderr, "bench_b2: %s\n", tg_tape_error(tp));
            return 1;
        }
        const double t1 = tb_now_ms();
        if (r >= warmup) ms[r - warmup] = t1 - t0;
        fv = tg_tensor_get_flat(f, 0);
    }
    tb_mem_report(stdout, "B2 tapegrad", &mem0, reps);
    const tg_tape_stats st = tg_tape_usage(tp);
    printf("# B2 tapegrad n=%d f=%.6f nodes=%lld arena_reserved_mb=%.1f\n", n, fv,
           (long long)st.nodes, (double)st.bytes_reserved / (1 << 20));
    char head[96];
    snprintf(head, sizeof head, "B2 vector-rosenbrock n=%d threads=%d", n, threads);
    tb_stats s = tb_stats_of(ms, reps);
    tb_report(stdout, head, &s);
    free(ms);
    tg_tape_free(tp);
    tg_tensor_free(x);
    return 0;
}
