/* Thread thresholds of the convolution, pooling and softmax kernels
 * (docs/performance.md, "Thread thresholds: convolution, pooling, ..."):
 * for each kernel and a work size 2^10 .. 2^24 (the unit its call site
 * weighs: multiply-adds of a convolution's gemms, window reads of a pool,
 * elements of a softmax), the minimum over reps of a forward and backward
 * pass at 1 and at 2 threads, and their ratio.  A threshold is the work
 * from which 2 threads stay faster.  The threaded path is forced at every
 * size (the tests' switch, tg__par_force), so that the table shows what
 * a threshold would cost or save on each side of it.
 *
 *   bench_threads_conv [--reps N] */
#include "bench_util.h"

#include <tapegrad.h>

bool tg__par_force(bool on); /* src/core/parallel.h: internal, linked statically */

enum { K_CONV, K_POOL, K_SOFTMAX, K_COUNT };
static const char *const k_names[K_COUNT] = {"conv 8@5x5 on 1x14x14", "max+avg pool 2x2",
                                             "log_softmax rows of 1000"};

/* The input of kernel k for about `work` units: its shape, and the units. */
static int64_t input_shape(int k, int64_t work, int64_t shape[4])
{
    if (k == K_CONV) { /* 1x14x14, 8@5x5 p2: 8 * 25 * 14 * 16 per image */
        const int64_t per = 8 * 25 * 28 * 32 / 4, n = work / per > 0 ? work / per : 1;
        shape[0] = n, shape[1] = 1, shape[2] = 14, shape[3] = 14;
        return n * per;
    }
    if (k == K_POOL) { /* (n, 16, 16, 16): 2 pools of 64 windows of 4 per plane */
        const int64_t per = 16 * 64 * 4 * 2, n = work / per > 0 ? work / per : 1;
        shape[0] = n, shape[1] = 16, shape[2] = 16, shape[3] = 16;
        return n * per;
    }
    const int64_t n = work / 1000 > 0 ? work / 1000 : 1;
    shape[0] = n, shape[1] = 1000, shape[2] = shape[3] = 1;
    return n * 1000;
}

static tg_tensor *graph(tg_tape *tp, int k, tg_tensor *x, tg_tensor *w)
{
    if (k == K_CONV) return tg_sum_all(tp, tg_conv2d(tp, x, w, NULL, 1, 1, 2, 2));
    if (k == K_POOL)
        return tg_sum_all(tp, tg_add(tp, tg_max_pool2d(tp, x, 2, 2, 2, 2, 0, 0),
                                     tg_avg_pool2d(tp, x, 2, 2, 2, 2, 0, 0)));
    return tg_sum_all(tp, tg_mul(tp, tg_log_softmax(tp, x, 1), x));
}

static double time_ms(int k, int nt, const int64_t shape[4], int reps)
{
    tg_rng r;
    tg_rng_seed(&r, 1);
    tg_set_num_threads(nt);
    tg_tensor *x = tg_tensor_rand(TG_F32, k == K_SOFTMAX ? 2 : 4, shape, &r);
    tg_tensor *w = tg_tensor_rand(TG_F32, 4, (const int64_t[]){8, 1, 5, 5}, &r);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_requires_grad(w, true);
    tg_tape *tp = tg_tape_new(NULL);
    double best = 1e30;
    for (int i = 0; i < reps + 2; i++) {
        const double t0 = tb_now_ms();
        tg_tape_reset(tp);
        if (tg_backward(tp, graph(tp, k, x, w)) != TG_OK) {
            fprintf(stderr, "bench_threads_conv: %s\n", tg_tape_error(tp));
            break;
        }
        const double t = tb_now_ms() - t0;
        if (i >= 2 && t < best) best = t;
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    return best;
}

int main(int argc, char **argv)
{
    const int reps = tb_int_arg(argc, argv, "--reps", 30);
    tg__par_force(true);
    printf("# kernel, log2 work, work, ms at 1 thread, ms at 2 threads, ratio 2/1\n");
    for (int k = 0; k < K_COUNT; k++)
        for (int e = 10; e <= 24; e += 2) {
            int64_t shape[4];
            const int64_t work = input_shape(k, (int64_t)1 << e, shape);
            const double t1 = time_ms(k, 1, shape, reps), t2 = time_ms(k, 2, shape, reps);
            printf("%-26s 2^%-2d %10lld %9.4f %9.4f %5.2f\n", k_names[k], e, (long long)work, t1,
                   t2, t2 / t1);
        }
    return 0;
}
