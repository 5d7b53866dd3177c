/* Shared helpers of the benchmark programs: wall-clock timing, the
 * median / min / max of repeated runs, peak RSS, and the one-line result
 * format of ../shared/BENCHMARKS.md:
 *
 *   B4 cnn-step batch=64 threads=1 median_ms=... min_ms=... max_ms=... peak_rss_mb=...
 */
#ifndef TG_BENCH_UTIL_H
#define TG_BENCH_UTIL_H

#include <stdio.h>

/* Monotonic wall-clock time in milliseconds (clock_gettime). */
double tb_now_ms(void);
/* Peak resident set size of this process so far, in MiB (getrusage). */
long tb_peak_rss_mb(void);

typedef struct tb_stats {
    double median_ms, min_ms, max_ms;
    int n;
} tb_stats;
/* Median (mean of the two middle values for even n), min and max of n
 * times; sorts ms in place. */
tb_stats tb_stats_of(double *ms, int n);
/* Prints "<head> median_ms=... min_ms=... max_ms=... peak_rss_mb=..." with
 * the same number format as the peers (4 decimals below 1 ms, else 3). */
void tb_report(FILE *f, const char *head, const tb_stats *s);

/* Prints "# gemm <what matrix products run on>" and, when OpenBLAS runs
 * generic kernels on a CPU with AVX2 (tg_gemm_slow_kernels), "# gemm
 * warning: <advice>": a B3-B5 line is only comparable with a peer's line
 * taken with the same kernels. */
void tb_print_gemm(FILE *f);

/* Minimum wall-clock microseconds of one run(ctx) over max(reps, 5)
 * repetitions, after one untimed run that warms caches and buffers: the
 * threshold benches (threads_*.c) compare 1 and 2 threads by it, since the
 * minimum is the figure least moved by other programs on the machine. */
double tb_min_us(void (*run)(void *ctx), void *ctx, long long reps);

/* One line of the thread-threshold benches: run(ctx) timed by tb_min_us at
 * 1 and then at 2 threads (tg_set_num_threads), printed as
 *   TH <kernel> n=<n> t1_us=... t2_us=... ratio=...   (t2 / t1) */
void tb_thread_line(FILE *f, const char *kernel, long long n, void (*run)(void *ctx), void *ctx,
                    long long reps);

/* Parses "--name N" from argv; returns def when absent.  Exits with a
 * message on a malformed value. */
int tb_int_arg(int argc, char **argv, const char *name, int def);

/* Memory per step: minor page faults (getrusage ru_minflt) and the heap
 * allocations the library makes through its allocator hook (tg_set_allocator;
 * OpenBLAS's own buffers are not seen).  tb_mem_install() once before the
 * library allocates; tb_mem_begin() when the timed steps start;
 * tb_mem_report() after them prints
 *   # <id> mem steps=N minflt_per_step=... heap_allocs_per_step=... heap_bytes_per_step=... */
typedef struct tb_mem {
    long minflt;
    long long allocs, bytes;
} tb_mem;
void tb_mem_install(void);
tb_mem tb_mem_now(void);
void tb_mem_report(FILE *f, const char *id, const tb_mem *begin, int steps);

#endif
