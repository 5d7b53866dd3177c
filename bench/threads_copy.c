/* Thread thresholds of the copies: permute, concat and the indexing ops,
 * each timed on 1 and on 2 threads over sizes 2^10..2^22 (n output
 * elements, f32), with the threaded path forced at every size
 * (tg__par_force), so that the size where 2 threads start to pay can be
 * read off.  A time is the minimum over many repetitions (the machine may
 * be shared: note the load).
 *
 *   bench_threads_copy [--max-log2 22] [--reps-kelems N]
 *   TH <kernel> n=<n> t1_us=... t2_us=... ratio=...
 *
 * Kernels: permute (the transpose of (n/64, 64)), concat (two (n/128, 64)
 * along axis 1), gather (along axis 1 of (n/64, 64), an index of the same
 * shape), scatter (scatter_add of that index into zeros: x copied, then the
 * adds), embed (embedding rows of 256 from a (64, 256) table, n/256
 * tokens) and embgrad (the backward of sum(embedding): index_add into the
 * table's gradient, after sum_all's fill of n ones). */
#include "bench_util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <tapegrad.h>

/* tests and benchmarks only: the threaded path at every size */
bool tg__par_force(bool on);

enum { BC_COLS = 64, BC_DIM = 256, BC_VOCAB = 64 };

typedef struct kernel_ctx {
    tg_tape *tp;
    tg_tensor *x, *h1, *h2, *zero, *ix, *table, *tok;
    const char *kernel; /* which one run_kernel times */
} kernel_ctx;

static void run_kernel(void *ctx)
{
    const kernel_ctx *c = ctx;
    const char *k = c->kernel;
    tg_tape *tp = c->tp;
    tg_tape_reset(tp);
    if (k[0] == 'p')
        tg_transpose(tp, c->x, 0, 1);
    else if (k[0] == 'c')
        tg_concat(tp, 2, (tg_tensor *const[]){c->h1, c->h2}, 1);
    else if (k[0] == 'g')
        tg_gather(tp, c->x, 1, c->ix);
    else if (k[0] == 's')
        tg_scatter_add(tp, c->zero, 1, c->ix, c->x);
    else if (k[3] == 'g')
        tg_backward(tp, tg_sum_all(tp, tg_embedding(tp, c->table, c->tok, -1)));
    else
        tg_embedding(tp, c->table, c->tok, -1);
}

static tg_tensor *filled(tg_dtype dt, int64_t rows, int64_t cols, int64_t mod, bool grad)
{
    tg_tensor *t = tg_tensor_new(dt, 2, (const int64_t[]){rows, cols});
    uint64_t s = 88172645463325252u; /* xorshift: indices in no order */
    for (int64_t i = 0; t && i < rows * cols; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        tg_tensor_set_flat(t, i, mod ? (double)(s % (uint64_t)mod) : 0.25 + (double)(s % 13) / 13);
    }
    if (t && grad) tg_tensor_set_requires_grad(t, true);
    return t;
}

static void free_ctx(kernel_ctx *c)
{
    tg_tape_free(c->tp);
    tg_tensor *ts[] = {c->x, c->h1, c->h2, c->zero, c->ix, c->table, c->tok};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) tg_tensor_free(ts[i]);
}

int main(int argc, char **argv)
{
    const int max_log2 = tb_int_arg(argc, argv, "--max-log2", 22);
    /* thousands of elements per measurement (see threads_elem.c) */
    const int64_t reps_elems = (int64_t)tb_int_arg(argc, argv, "--reps-kelems", 131072) * 1000;
    const char *kernels[] = {"permute", "concat", "gather", "scatter", "embed", "embgrad"};
    tg__par_force(true);
    printf("# threads_copy: openmp=%d\n", (int)tg_have_openmp());
    for (int lg = 10; lg <= max_log2; lg++) {
        const int64_t n = (int64_t)1 << lg, rows = n / BC_COLS;
        kernel_ctx c = {.tp = tg_tape_new(NULL),
                        .x = filled(TG_F32, rows, BC_COLS, 0, false),
                        .h1 = filled(TG_F32, rows / 2, BC_COLS, 0, false),
                        .h2 = filled(TG_F32, rows / 2, BC_COLS, 0, false),
                        .zero = filled(TG_F32, rows, BC_COLS, 0, false),
                        .ix = filled(TG_I64, rows, BC_COLS, BC_COLS, false),
                        .table = filled(TG_F32, BC_VOCAB, BC_DIM, 0, true),
                        .tok = filled(TG_I64, 1, n / BC_DIM, BC_VOCAB, false)};
        if (!c.tp || !c.x || !c.h1 || !c.h2 || !c.zero || !c.ix || !c.table || !c.tok) return 1;
        for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++) {
            c.kernel = kernels[k];
            tb_thread_line(stdout, kernels[k], (long long)n, run_kernel, &c, reps_elems / n);
        }
        free_ctx(&c);
    }
    return 0;
}
