/* Thread thresholds of the elementwise maps, full sums and optimizer
 * updates: each kernel timed on 1 and on 2 threads over sizes 2^10..2^22,
 * with the threaded path forced at every size (tg__par_force), so that the
 * size where 2 threads start to pay can be read off.  A time is the minimum
 * over many repetitions (the machine may be shared: note `uptime`).
 *
 *   bench_threads_elem [--max-log2 22] [--reps-kelems N]
 *   TH <kernel> n=<n> t1_us=... t2_us=... ratio=...
 *
 * Kernels: add (f64 a + b, a map bound by memory), exp (f32, a map bound
 * by arithmetic), sum (f64 sum_all), bgrad (the f64 gradient of a + b where
 * b is one element: a full sum inside TG_BCAST_GRAD) and adam (one f32
 * parameter's update). */
#include "bench_util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <tapegrad.h>

/* tests and benchmarks only: the threaded path at every size */
bool tg__par_force(bool on);

typedef struct kernel_ctx {
    tg_tape *tp;
    tg_tensor *a, *b, *af, *b1, *w;
    tg_optim *opt;
    const char *kernel; /* which one run_kernel times */
} kernel_ctx;

static void run_kernel(void *ctx)
{
    const kernel_ctx *c = ctx;
    const char *k = c->kernel;
    tg_tape_reset(c->tp);
    if (k[0] == 'a' && k[1] == 'd' && k[2] == 'd')
        tg_add(c->tp, c->a, c->b);
    else if (k[0] == 'e')
        tg_exp(c->tp, c->af);
    else if (k[0] == 's')
        tg_sum_all(c->tp, c->a);
    else if (k[0] == 'b')
        tg_backward(c->tp, tg_sum_all(c->tp, tg_add(c->tp, c->a, c->b1)));
    else
        tg_optim_step(c->opt);
}

static tg_tensor *filled(tg_dtype dt, int64_t n, double seed)
{
    tg_tensor *t = tg_tensor_new(dt, 1, (const int64_t[]){n});
    for (int64_t i = 0; t && i < n; i++)
        tg_tensor_set_flat(t, i, 0.5 + 0.25 * ((i * 7 + (int64_t)seed) % 13) / 13.0);
    return t;
}

int main(int argc, char **argv)
{
    const int max_log2 = tb_int_arg(argc, argv, "--max-log2", 22);
    /* thousands of elements per measurement: the argument parser takes at
     * most 10^6, and a good default is about 1.3e8 elements */
    const int64_t reps_elems = (int64_t)tb_int_arg(argc, argv, "--reps-kelems", 131072) * 1000;
    const char *kernels[] = {"add", "exp", "sum", "bgrad", "adam"};
    tg__par_force(true);
    printf("# threads_elem: openmp=%d\n", (int)tg_have_openmp());
    for (int lg = 10; lg <= max_log2; lg++) {
        const int64_t n = (int64_t)1 << lg;
        kernel_ctx c = {.tp = tg_tape_new(NULL),
                        .a = filled(TG_F64, n, 1),
                        .b = filled(TG_F64, n, 2),
                        .af = filled(TG_F32, n, 3),
                        .b1 = filled(TG_F64, 1, 4),
                        .w = filled(TG_F32, n, 5)};
        if (!c.tp || !c.a || !c.b || !c.af || !c.b1 || !c.w) return 1;
        tg_tensor_set_requires_grad(c.b1, true);
        tg_tensor_set_requires_grad(c.w, true);
        tg_backward(c.tp, tg_sum_all(c.tp, c.w)); /* w's gradient, for the updates */
        c.opt = tg_adam_new(1, &c.w, 1e-3, 0.9, 0.999, 1e-8, 0);
        if (!c.opt) return 1;
        for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++) {
            c.kernel = kernels[k];
            tb_thread_line(stdout, kernels[k], (long long)n, run_kernel, &c, reps_elems / n);
        }
        tg_optim_free(c.opt);
        tg_tape_free(c.tp);
        tg_tensor_free(c.a);
        tg_tensor_free(c.b);
        tg_tensor_free(c.af);
        tg_tensor_free(c.b1);
        tg_tensor_free(c.w);
    }
    return 0;
}
