/* Thread thresholds of the broadcasting walks: each kernel timed on 1 and
 * on 2 threads over sizes 2^10..2^22, with the threaded path forced at
 * every size (tg__par_force), so that the size where 2 threads start to
 * pay can be read off.  A time is the minimum over many repetitions (the
 * machine may be shared: note the load).
 *
 *   bench_threads_bcast [--max-log2 22] [--reps-kelems N]
 *   TH <kernel> n=<n> t1_us=... t2_us=... ratio=...
 *
 * Kernels, on f32 (n/512, 512) as B3's layers are: bias (a + b, b of 512,
 * the row walk of TG_BCAST_MAP), biasgrad (the backward of sum(a * b): a's
 * gradient by pieces of rows, b's summed by columns of d) and colgrad (the
 * backward of sum(a * c), c of (n/512, 1): c's gradient summed by rows).
 * The backward kernels include sum_all's backward, a fill of n ones. */
#include "bench_util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <tapegrad.h>

/* tests and benchmarks only: the threaded path at every size */
bool tg__par_force(bool on);

enum { BB_COLS = 512 };

typedef struct kernel_ctx {
    tg_tape *tp;
    tg_tensor *a, *b, *c;
    const char *kernel; /* which one run_kernel times */
} kernel_ctx;

static void run_kernel(void *ctx)
{
    const kernel_ctx *c = ctx;
    const char *k = c->kernel;
    tg_tape_reset(c->tp);
    if (k[0] == 'c')
        tg_backward(c->tp, tg_sum_all(c->tp, tg_mul(c->tp, c->a, c->c)));
    else if (k[4] == 'g')
        tg_backward(c->tp, tg_sum_all(c->tp, tg_mul(c->tp, c->a, c->b)));
    else
        tg_add(c->tp, c->a, c->b);
}

static tg_tensor *filled(int64_t rows, int64_t cols, double seed)
{
    tg_tensor *t = tg_tensor_new(TG_F32, 2, (const int64_t[]){rows, cols});
    for (int64_t i = 0; t && i < rows * cols; i++)
        tg_tensor_set_flat(t, i, 0.5 + 0.25 * ((i * 7 + (int64_t)seed) % 13) / 13.0);
    if (t) tg_tensor_set_requires_grad(t, true);
    return t;
}

int main(int argc, char **argv)
{
    const int max_log2 = tb_int_arg(argc, argv, "--max-log2", 22);
    /* thousands of elements per measurement (see threads_elem.c) */
    const int64_t reps_elems = (int64_t)tb_int_arg(argc, argv, "--reps-kelems", 131072) * 1000;
    const char *kernels[] = {"bias", "biasgrad", "colgrad"};
    tg__par_force(true);
    printf("# threads_bcast: openmp=%d\n", (int)tg_have_openmp());
    for (int lg = 10; lg <= max_log2; lg++) {
        const int64_t n = (int64_t)1 << lg, rows = n / BB_COLS;
        kernel_ctx c = {.tp = tg_tape_new(NULL),
                        .a = filled(rows, BB_COLS, 1),
                        .b = filled(1, BB_COLS, 2),
                        .c = filled(rows, 1, 3)};
        if (!c.tp || !c.a || !c.b || !c.c) return 1;
        for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++) {
            c.kernel = kernels[k];
            tb_thread_line(stdout, kernels[k], (long long)n, run_kernel, &c, reps_elems / n);
        }
        tg_tape_free(c.tp);
        tg_tensor_free(c.a);
        tg_tensor_free(c.b);
        tg_tensor_free(c.c);
    }
    return 0;
}
