/* B1 on the scalar tape (include/tapegrad/scalar.h): the same extended
 * Rosenbrock function as bench_b1 (n = 100,000, 8 operations per term,
 * f64), recorded with tg_s_* operations, then tg_stape_gradient for the
 * full gradient.  Lines: B1-stape phase=record, phase=reverse, phase=total
 * (each rep from a reset tape), beside ADOL-C's in bench/compare.sh.
 *
 * A "# B1-stape peak_rss_kb=" line gives the process's peak in KiB (the
 * report lines round to MiB); --n 2 gives the process's baseline, the
 * loaded libraries (docs/performance.md, "B1: the scalar tape's memory").
 *
 *   bench_b1_stape [--n N] [--reps N] [--warmup N]
 */
#include "bench_util.h"

#include <math.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <tapegrad.h>

int main(int argc, char **argv)
{
    const int n = tb_int_arg(argc, argv, "--n", 100000);
    const int reps = tb_int_arg(argc, argv, "--reps", 11);
    const int warmup = tb_int_arg(argc, argv, "--warmup", 2);
    double *x0 = malloc(sizeof(double) * (size_t)n), *g = malloc(sizeof(double) * (size_t)n);
    tg_sv *x = malloc(sizeof *x * (size_t)n);
    double *rec = malloc(sizeof(double) * (size_t)reps),
           *rev = malloc(sizeof(double) * (size_t)reps),
           *tot = malloc(sizeof(double) * (size_t)reps);
    tg_stape *st = tg_stape_new();
    if (!x0 || !g || !x || !rec || !rev || !tot || !st || n < 2) return 1;
    double fref = 0;
    for (int i = 0; i < n; i++) x0[i] = 1 + 0.5 * sin((double)i);
    for (int i = 0; i < n - 1; i++) {
        const double a = x0[i + 1] - x0[i] * x0[i];
        fref += 100 * a * a + (1 - x0[i]) * (1 - x0[i]);
    }
    const double g0ref = -400 * x0[0] * (x0[1] - x0[0] * x0[0]) - 2 * (1 - x0[0]);
    double fv = 0;
    for (int r = 0; r < warmup + reps; r++) {
        const double t0 = tb_now_ms();
        tg_stape_reset(st);
        for (int i = 0; i < n; i++) x[i] = tg_stape_var(st, x0[i]);
        tg_sv f = TG_SV_NONE;
        for (int i = 0; i < n - 1; i++) {
            const tg_sv a = tg_s_sub(st, x[i + 1], tg_s_mul(st, x[i], x[i]));
            const tg_sv b = tg_s_rsub_c(st, 1.0, x[i]);
            const tg_sv term =
                tg_s_add(st, tg_s_mul_c(st, tg_s_mul(st, a, a), 100.0), tg_s_mul(st, b, b));
            f = i ? tg_s_add(st, f, term) : term;
        }
        const double t1 = tb_now_ms();
        if (tg_stape_gradient(st, f, n, x, g) != TG_OK) {
            fprintf(stderr, "bench_b1_stape: %s\n", tg_last_error());
            return 1;
        }
        const double t2 = tb_now_ms();
        if (r >= warmup) {
            rec[r - warmup] = t1 - t0;
            rev[r - warmup] = t2 - t1;
            tot[r - warmup] = t2 - t0;
        }
        fv = tg_sv_value(st, f);
    }
    tb_stats s = tb_stats_of(tot, reps);
    printf("# B1-stape n=%d values=%lld f=%.6f (plain C %.6f) g0=%.6f (hand %.6f) "
           "tape_mb=%.1f ns_per_op=%.1f\n",
           n, (long long)tg_stape_size(st), fv, fref, g[0], g0ref,
           (double)tg_stape_bytes(st) / (1 << 20), s.median_ms * 1e6 / (8.0 * (n - 1)));
    char head[96];
    snprintf(head, sizeof head, "B1-stape n=%d threads=1 phase=record", n);
    tb_stats sr = tb_stats_of(rec, reps);
    tb_report(stdout, head, &sr);
    snprintf(head, sizeof head, "B1-stape n=%d threads=1 phase=reverse", n);
    tb_stats sv = tb_stats_of(rev, reps);
    tb_report(stdout, head, &sv);
    snprintf(head, sizeof head, "B1-stape n=%d threads=1 phase=total", n);
    tb_report(stdout, head, &s);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        printf("# B1-stape peak_rss_kb=%ld tape_bytes=%lld\n", ru.ru_maxrss,
               (long long)tg_stape_bytes(st));
    tg_stape_free(st);
    free(x0), free(g), free(x), free(rec), free(rev), free(tot);
    return 0;
}
