/* Jacobians forward against reverse (issue 20): the full Jacobian of
 *   f: R^10 -> R^1000,  y = tanh(W2 tanh(W1 x)),  W1 (h, 10), W2 (1000, h),
 *   g: R^1000 -> R^10,  y = tanh(V2 tanh(V1 x)),  V1 (h, 1000), V2 (10, h),
 * f64, h = 100, each by tg_jacobian_ex in both modes: forward mode takes one
 * sweep per input (10 for f, 1000 for g), reverse mode one per output
 * (1000 for f, 10 for g).  A run is: reset, record the graph, the
 * Jacobian.  Prints one line per function and mode, the ratio of the two
 * modes per function, and the largest difference between the two
 * Jacobians.
 *
 *   bench_jacobian [--hidden N] [--reps N] [--warmup N]
 */
#include "bench_util.h"

#include <math.h>
#include <stdlib.h>
#include <tapegrad.h>

typedef struct problem {
    const char *name;
    int n, m; /* R^n -> R^m */
    tg_tensor *x, *w1, *w2;
} problem;

static tg_tensor *rand_tensor(int64_t r, int64_t c, uint64_t seed)
{
    tg_tensor *t = tg_tensor_new(TG_F64, 2, (const int64_t[]){r, c});
    tg_rng rng;
    tg_rng_seed(&rng, seed);
    /* scaled so tanh's arguments stay of order 1 */
    if (t) tg_tensor_fill_uniform(t, &rng, -1.5 / sqrt((double)c), 1.5 / sqrt((double)c));
    return t;
}

/* One run: the graph recorded on a reset tape and its Jacobian; NULL on
 * error (printed). */
static tg_tensor *run(tg_tape *tp, const problem *p, tg_jac_mode mode)
{
    tg_tape_reset(tp);
    tg_tensor *y = tg_tanh(tp, tg_matmul(tp, p->w2, tg_tanh(tp, tg_matmul(tp, p->w1, p->x))));
    tg_tensor *J = y ? tg_jacobian_ex(tp, y, p->x, mode) : NULL;
    if (!J) fprintf(stderr, "bench_jacobian: %s\n", tg_tape_error(tp));
    return J;
}

/* The median time of one mode on p; J kept in *keep. */
static tb_stats time_mode(tg_tape *tp, const problem *p, tg_jac_mode mode, int reps, int warmup,
                          tg_tensor **keep)
{
    double *ms = malloc(sizeof(double) * (size_t)reps);
    tb_stats s = {0};
    if (!ms) return s;
    for (int r = 0; r < warmup + reps; r++) {
        const double t0 = tb_now_ms();
        tg_tensor *J = run(tp, p, mode);
        const double t1 = tb_now_ms();
        if (!J) exit(1);
        if (r >= warmup) ms[r - warmup] = t1 - t0;
        if (r + 1 == warmup + reps) {
            *keep = J;
        } else {
            tg_tensor_free(J);
        }
    }
    s = tb_stats_of(ms, reps);
    free(ms);
    return s;
}

int main(int argc, char **argv)
{
    const int h = tb_int_arg(argc, argv, "--hidden", 100);
    const int reps = tb_int_arg(argc, argv, "--reps", 11);
    const int warmup = tb_int_arg(argc, argv, "--warmup", 2);
    problem ps[2] = {{"R10->R1000", 10, 1000, NULL, NULL, NULL},
                     {"R1000->R10", 1000, 10, NULL, NULL, NULL}};
    tg_tape *tp = tg_tape_new(NULL);
    if (!tp || h < 1 || reps < 1 || warmup < 0) return 1;
    tb_print_gemm(stdout);
    for (int i = 0; i < 2; i++) {
        problem *p = &ps[i];
        p->x = rand_tensor(p->n, 1, 11 + (uint64_t)i);
        p->w1 = rand_tensor(h, p->n, 21 + (uint64_t)i);
        p->w2 = rand_tensor(p->m, h, 31 + (uint64_t)i);
        if (!p->x || !p->w1 || !p->w2) return 1;
        tg_tensor *jf = NULL, *jr = NULL;
        const tb_stats f = time_mode(tp, p, TG_JAC_FORWARD, reps, warmup, &jf);
        const tb_stats r = time_mode(tp, p, TG_JAC_REVERSE, reps, warmup, &jr);
        char head[96];
        snprintf(head, sizeof head, "JAC %s hidden=%d mode=forward sweeps=%d threads=1", p->name, h,
                 p->n);
        tb_report(stdout, head, &f);
        snprintf(head, sizeof head, "JAC %s hidden=%d mode=reverse sweeps=%d threads=1", p->name, h,
                 p->m);
        tb_report(stdout, head, &r);
        double diff = 0;
        for (int64_t k = 0; k < tg_tensor_numel(jf); k++)
            diff = fmax(diff, fabs(tg_tensor_get_flat(jf, k) - tg_tensor_get_flat(jr, k)));
        /* the mode with more sweeps over the one with fewer */
        if (p->n < p->m)
            printf("# JAC %s reverse/forward=%.1f max|Jf-Jr|=%.3g\n", p->name,
                   r.median_ms / f.median_ms, diff);
        else
            printf("# JAC %s forward/reverse=%.1f max|Jf-Jr|=%.3g\n", p->name,
                   f.median_ms / r.median_ms, diff);
        tg_tensor_free(jf);
        tg_tensor_free(jr);
        tg_tensor_free(p->x);
        tg_tensor_free(p->w1);
        tg_tensor_free(p->w2);
    }
    tg_tape_free(tp);
    return 0;
}
