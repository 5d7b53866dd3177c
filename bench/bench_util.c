#include "bench_util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

double tb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
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
