/* Thread thresholds of the row-wise ops: normalisation (statistics and
 * the direct rule's sums), max along an axis, argmax and adaptive pooling,
 * each timed on 1 and on 2 threads over sizes 2^10..2^22 elements of x,
 * with the threaded path forced at every size (tg__par_force), so that the
 * size where 2 threads start to pay can be read off.  A time is the
 * minimum over many repetitions (the machine may be shared: note the load
 * average printed first).
 *
 *   bench_threads_rows [--max-log2 22] [--reps-kelems N]
 *   TH <kernel> n=<n> t1_us=... t2_us=... ratio=...
 *
 * Kernels (f32, x of n elements): lnf (layer_norm forward over rows of 256),
 * lnb (its backward with weight and bias: the per-row and per-channel sums
 * and dx), bnb (batch_norm forward and backward, x (n/1024, 64, 16)), max
 * (tg_max along the last axis of rows of 256, forward and backward), amax0
 * (tg_argmax along axis 0 of (n/256, 256)) and apool (adaptive_avg_pool2d
 * of planes of 32x32 to 7x7, forward and backward); then the sums and map
 * reductions along axes: sum0 and sum1 (tg_sum of (n/256, 256) over axis 0,
 * over axis 1), sum02 (tg_sum of (n/4096, 64, 64) over axes 0 and 2), sumb
 * (sum1 forward and its direct rule, the broadcast of g), lse0 and lse1
 * (tg_logsumexp over axis 0, over axis 1, forward and backward). */
#include "bench_util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <tapegrad.h>

/* tests and benchmarks only: the threaded path at every size */
bool tg__par_force(bool on);

typedef struct kernel_ctx {
    tg_tape *tp;
    tg_tensor *x2, *x3, *x4, *x5, *w, *b, *wc, *bc;
    const char *kernel; /* which one run_kernel times */
} kernel_ctx;

static void run_kernel(void *ctx)
{
    const kernel_ctx *c = ctx;
    const char *k = c->kernel;
    tg_tape *tp = c->tp;
    tg_tape_reset(tp);
    if (!strcmp(k, "lnf"))
        tg_layer_norm(tp, c->x2, 1, NULL, NULL, 1e-5);
    else if (!strcmp(k, "lnb"))
        tg_backward(tp, tg_sum_all(tp, tg_layer_norm(tp, c->x2, 1, c->w, c->b, 1e-5)));
    else if (!strcmp(k, "bnb"))
        tg_backward(tp, tg_sum_all(tp, tg_batch_norm(tp, c->x3, c->wc, c->bc, NULL, NULL, true, 0.1,
                                                     1e-5)));
    else if (!strcmp(k, "max"))
        tg_backward(tp, tg_sum_all(tp, tg_max(tp, c->x2, 1, false)));
    else if (!strcmp(k, "amax0"))
        tg_argmax(tp, c->x2, 0, false);
    else if (!strcmp(k, "sum0") || !strcmp(k, "sum1"))
        tg_sum(tp, c->x2, 1, (const int[]){k[3] - '0'}, false);
    else if (!strcmp(k, "sum02"))
        tg_sum(tp, c->x5, 2, (const int[]){0, 2}, false);
    else if (!strcmp(k, "sumb"))
        tg_backward(tp, tg_sum_all(tp, tg_sum(tp, c->x2, 1, (const int[]){1}, false)));
    else if (!strcmp(k, "lse0") || !strcmp(k, "lse1"))
        tg_backward(tp,
                    tg_sum_all(tp, tg_logsumexp(tp, c->x2, 1, (const int[]){k[3] - '0'}, false)));
    else
        tg_backward(tp, tg_sum_all(tp, tg_adaptive_avg_pool2d(tp, c->x4, 7, 7)));
}

static tg_tensor *filled(int ndim, const int64_t *shape, double seed, bool grad)
{
    tg_tensor *t = tg_tensor_new(TG_F32, ndim, shape);
    for (int64_t i = 0; t && i < tg_tensor_numel(t); i++)
        tg_tensor_set_flat(t, i, 0.5 + 0.25 * ((i * 7 + (int64_t)seed) % 13) / 13.0);
    if (t && grad) tg_tensor_set_requires_grad(t, true);
    return t;
}

int main(int argc, char **argv)
{
    const int max_log2 = tb_int_arg(argc, argv, "--max-log2", 22);
    const int64_t reps_elems = (int64_t)tb_int_arg(argc, argv, "--reps-kelems", 65536) * 1000;
    const char *kernels[] = {"lnf",  "lnb",  "bnb",   "max",  "amax0", "apool",
                             "sum0", "sum1", "sum02", "sumb", "lse0",  "lse1"};
    /* --only NAME: that kernel alone */
    const char *only = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--only")) only = argv[i + 1];
    tg__par_force(true);
    FILE *la = fopen("/proc/loadavg", "r");
    char load[64] = "?";
    if (la) {
        if (!fgets(load, sizeof load, la)) load[0] = 0;
        fclose(la);
    }
    printf("# threads_rows: openmp=%d load %s", (int)tg_have_openmp(), load);
    for (int lg = 10; lg <= max_log2; lg++) {
        const int64_t n = (int64_t)1 << lg;
        kernel_ctx c = {.tp = tg_tape_new(NULL),
                        .x2 = filled(2, (const int64_t[]){n / 256, 256}, 1, true),
                        .x3 = filled(3, (const int64_t[]){n / 1024, 64, 16}, 2, true),
                        .x4 = filled(4, (const int64_t[]){1, n / 1024, 32, 32}, 3, true),
                        .x5 =
                            filled(3, (const int64_t[]){n / 4096 ? n / 4096 : 1, 64, 64}, 8, true),
                        .w = filled(1, (const int64_t[]){256}, 4, true),
                        .b = filled(1, (const int64_t[]){256}, 5, true),
                        .wc = filled(1, (const int64_t[]){64}, 6, true),
                        .bc = filled(1, (const int64_t[]){64}, 7, true)};
        if (!c.tp || !c.x2 || !c.x3 || !c.x4 || !c.x5 || !c.w || !c.b || !c.wc || !c.bc) return 1;
        for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++) {
            if (only && strcmp(only, kernels[k])) continue;
            c.kernel = kernels[k];
            tb_thread_line(stdout, kernels[k], (long long)n, run_kernel, &c, reps_elems / n);
            if (tg_tape_status(c.tp) != TG_OK) {
                fprintf(stderr, "%s: %s\n", kernels[k], tg_tape_error(c.tp));
                return 1;
            }
        }
        tg_tape_free(c.tp);
        tg_tensor *all[] = {c.x2, c.x3, c.x4, c.x5, c.w, c.b, c.wc, c.bc};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) tg_tensor_free(all[i]);
    }
    return 0;
}
