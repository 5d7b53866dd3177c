#include "bench_util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <tapegrad.h>
#include <time.h>

double tb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

double tb_min_us(void (*run)(void *ctx), void *ctx, long long reps)
{
    if (reps < 5) reps = 5;
    double best = 1e30;
    run(ctx);
    for (long long r = 0; r < reps; r++) {
        const double t0 = tb_now_ms();
        run(ctx);
        const double t = (tb_now_ms() - t0) * 1e3;
        if (t < best) best = t;
    }
    return best;
}

void tb_thread_line(FILE *f, const char *kernel, long long n, void (*run)(void *ctx), void *ctx,
                    long long reps)
{
    tg_set_num_threads(1);
    const double t1 = tb_min_us(run, ctx, reps);
    tg_set_num_threads(2);
    const double t2 = tb_min_us(run, ctx, reps);
    fprintf(f, "TH %-8s n=%-8lld t1_us=%.2f t2_us=%.2f ratio=%.3f\n", kernel, n, t1, t2, t2 / t1);
    fflush(f);
}

long tb_peak_rss_mb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return ru.ru_maxrss / 1024; /* Linux reports KiB */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

tb_stats tb_stats_of(double *ms, int n)
{
    tb_stats s = {0, 0, 0, n};
    if (n <= 0) return s;
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    s.median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    s.min_ms = ms[0];
    s.max_ms = ms[n - 1];
    return s;
}

static void fmt_ms(char *buf, size_t len, double v)
{
    snprintf(buf, len, v < 1.0 ? "%.4f" : "%.3f", v);
}

void tb_report(FILE *f, const char *head, const tb_stats *s)
{
    char a[32], b[32], c[32];
    fmt_ms(a, sizeof a, s->median_ms);
    fmt_ms(b, sizeof b, s->min_ms);
    fmt_ms(c, sizeof c, s->max_ms);
    fprintf(f, "%s median_ms=%s min_ms=%s max_ms=%s peak_rss_mb=%ld\n", head, a, b, c,
            tb_peak_rss_mb());
    fflush(f);
}

void tb_print_gemm(FILE *f)
{
    char buf[512];
    fprintf(f, "# gemm %s\n", tg_gemm_describe(buf, sizeof buf));
    if (tg_gemm_slow_kernels(buf, sizeof buf)) fprintf(f, "# gemm warning: %s\n", buf);
}

int tb_int_arg(int argc, char **argv, const char *name, int def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) {
            char *end;
            long v = strtol(argv[i + 1], &end, 10);
            if (*end || v < 0 || v > 1000000) {
                fprintf(stderr, "%s: bad value '%s'\n", name, argv[i + 1]);
                exit(2);
            }
            return (int)v;
        }
    return def;
}

/* A counting allocator: the benchmarks are single-threaded callers of the
 * library, so plain counters suffice. */
static long long g_allocs, g_bytes;

static void *count_malloc(size_t n, void *ctx)
{
    (void)ctx;
    g_allocs++;
    g_bytes += (long long)n;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n, void *ctx)
{
    (void)ctx;
    g_allocs++;
    g_bytes += (long long)n;
    return realloc(p, n);
}
static void count_free(void *p, void *ctx)
{
    (void)ctx;
    free(p);
}

void tb_mem_install(void)
{
    tg_set_allocator(&(tg_allocator){count_malloc, count_realloc, count_free, NULL});
}

tb_mem tb_mem_now(void)
{
    struct rusage ru;
    tb_mem m = {0, g_allocs, g_bytes};
    if (getrusage(RUSAGE_SELF, &ru) == 0) m.minflt = ru.ru_minflt;
    return m;
}

void tb_mem_report(FILE *f, const char *id, const tb_mem *begin, int steps)
{
    tb_mem end = tb_mem_now();
    double n = steps > 0 ? steps : 1;
    fprintf(f,
            "# %s mem steps=%d minflt_per_step=%.1f heap_allocs_per_step=%.2f "
            "heap_bytes_per_step=%.0f\n",
            id, steps, (double)(end.minflt - begin->minflt) / n,
            (double)(end.allocs - begin->allocs) / n, (double)(end.bytes - begin->bytes) / n);
}
