/* B1 scalar-tape (../shared/BENCHMARKS.md): record the extended Rosenbrock
 * function of n = 100,000 variables from one-element operations (8 per
 * term, 799,992 in all), then the reverse sweep for the full gradient, f64.
 *   f(x) = sum_{i=0}^{n-2} 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2,  x[i] = 1 + 0.5 sin(i)
 * Lines: phase=record, phase=reverse, phase=total (each rep from a reset tape).
 *
 *   bench_b1 [--n N] [--reps N] [--warmup N]
 */
#include "bench_util.h"

#include <math.h>
#include <stdlib.h>
#include <tapegrad.h>

int main(int argc, char **argv)
{
    tb_mem_install(); /* before the library allocates anything */
    const int n = tb_int_arg(argc, argv, "--n", 100000);
    const int reps = tb_int_arg(argc, argv, "--reps", 11);
    const int warmup = tb_int_arg(argc, argv, "--warmup", 2);
    tg_tensor **x = malloc(sizeof *x * (size_t)n);
    double *rec = malloc(sizeof(double) * (size_t)reps),
           *rev = malloc(sizeof(double) * (size_t)reps),
           *tot = malloc(sizeof(double) * (size_t)reps);
    tg_tape *tp = tg_tape_new(NULL);
    if (!x || !rec || !rev || !tot || !tp || n < 2) return 1;
    for (int i = 0; i < n; i++) {
        x[i] = tg_tensor_scalar(TG_F64, 1 + 0.5 * sin((double)i));
        if (!x[i]) return 1;
        tg_tensor_set_requires_grad(x[i], true);
    }
    /* the plain C value and the hand gradient's first element, as a check */
    double fref = 0;
    for (int i = 0; i < n - 1; i++) {
        double xi = tg_tensor_get_flat(x[i], 0), a = tg_tensor_get_flat(x[i + 1], 0) - xi * xi;
        fref += 100 * a * a + (1 - xi) * (1 - xi);
    }
    double x0 = tg_tensor_get_flat(x[0], 0), x1 = tg_tensor_get_flat(x[1], 0);
    double g0ref = -400 * x0 * (x1 - x0 * x0) - 2 * (1 - x0);
    double fv = 0, g0 = 0;
    tb_mem mem0 = tb_mem_now();
    for (int r = 0; r < warmup + reps; r++) {
        if (r == warmup) mem0 = tb_mem_now();
        const double t0 = tb_now_ms();
        tg_tape_reset(tp);
        tg_tensor *f = NULL;
        for (int i = 0; i < n - 1; i++) {
            tg_tensor *a = tg_sub(tp, x[i + 1], tg_mul(tp, x[i], x[i]));
            tg_tensor *b = tg_rsub_scalar(tp, 1.0, x[i]);
            tg_tensor *term =
                tg_add(tp, tg_mul_scalar(tp, tg_mul(tp, a, a), 100.0), tg_mul(tp, b, b));
            f = f ? tg_add(tp, f, term) : term;
        }
        const double t1 = tb_now_ms();
        if (tg_backward(tp, f) != TG_OK) {
            fprintf(stderr, "bench_b1: %s\n", tg_tape_error(tp));
            return 1;
        }
        const double t2 = tb_now_ms();
        if (r >= warmup) {
            rec[r - warmup] = t1 - t0;
            rev[r - warmup] = t2 - t1;
            tot[r - warmup] = t2 - t0;
        }
        fv = tg_tensor_get_flat(f, 0);
        g0 = tg_tensor_get_flat(tg_tensor_grad(x[0]), 0);
    }
    tb_mem_report(stdout, "B1 tapegrad", &mem0, reps);
    const tg_tape_stats st = tg_tape_usage(tp);
    tb_stats s = tb_stats_of(tot, reps);
    printf("# B1 tapegrad n=%d nodes=%lld f=%.6f (plain C %.6f) g0=%.6f (hand %.6f) "
           "arena_high_water_mb=%.1f "
           "ns_per_op=%.1f\n",
           n, (long long)st.nodes, fv, fref, g0, g0ref, (double)st.high_water / (1 << 20),
           s.median_ms * 1e6 / (8.0 * (n - 1)));
    char head[96];
    snprintf(head, sizeof head, "B1 scalar-tape n=%d threads=1 phase=record", n);
    tb_stats sr = tb_stats_of(rec, reps);
    tb_report(stdout, head, &sr);
    snprintf(head, sizeof head, "B1 scalar-tape n=%d threads=1 phase=reverse", n);
    tb_stats sv = tb_stats_of(rev, reps);
    tb_report(stdout, head, &sv);
    snprintf(head, sizeof head, "B1 scalar-tape n=%d threads=1 phase=total", n);
    tb_report(stdout, head, &s);
    tg_tape_free(tp);
    for (int i = 0; i < n; i++) tg_tensor_free(x[i]);
    free(x);
    free(rec);
    free(rev);
    free(tot);
    return 0;
}
