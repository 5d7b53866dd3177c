/* B4's two convolution layers, pass by pass: the minimum over reps of
 * tg__conv_into (forward), tg__conv_dx_into (input gradient) and
 * tg__conv_dw_into (weight gradient) at the shapes of bench/b4_cnn.c,
 * batch 64, f32, with the GFLOP/s each reaches (2 flops per multiply-add of
 * the convolution itself, not of the kernels' padded products).  The
 * kernels are the library's internal ones (src/ops/conv.h), linked
 * statically, so that each pass is seen without the tape around it.
 *
 *   bench_conv_layers [--reps N] [--threads N] */
#include "bench_util.h"

#include "../src/ops/conv.h"

#include <stdlib.h>
#include <tapegrad.h>

enum { BATCH = 64 };

typedef struct layer {
    const char *name;
    int64_t C, H, W, F, K, S, P;
} layer;

static const layer layers[2] = {
    {"conv1 1x28x28 8@5x5 s1 p2", 1, 28, 28, 8, 5, 1, 2},
    {"conv2 8x28x28 16@5x5 s2 p2", 8, 28, 28, 16, 5, 2, 2},
};

static void fill(float *v, int64_t n, uint64_t seed)
{
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        v[i] = (float)((double)(seed >> 40) / (double)(1u << 24)) - 0.5f;
    }
}

/* Minimum ms over reps of pass k (0 forward, 1 input gradient, 2 weight
 * gradient) of layer l. */
static double pass_ms(const layer *l, int k, int reps, double *gflops)
{
    tg__conv_attr at = {.F = l->F, .G = 1};
    const int64_t nchw[4] = {BATCH, l->C, l->H, l->W};
    if (tg__conv_geom_make(&at.g, nchw, l->K, l->K, l->S, l->S, l->P, l->P) != TG__GEOM_OK)
        return -1;
    const int64_t nx = BATCH * l->C * l->H * l->W, nw = l->F * l->C * l->K * l->K,
                  ny = BATCH * l->F * at.g.OH * at.g.OW;
    float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw),
          *y = malloc(sizeof(float) * (size_t)ny);
    tg_tape *tp = tg_tape_new(NULL);
    tg__conv_blk b;
    double best = -1;
    if (x && w && y && tp && tg__conv_blk_make(tp, TG_F32, &at, &b)) {
        fill(x, nx, 1), fill(w, nw, 2), fill(y, ny, 3);
        for (int r = 0; r < reps + 3; r++) {
            const double t0 = tb_now_ms();
            if (k == 0)
                tg__conv_into(TG_F32, &at, x, w, y, false, &b);
            else if (k == 1)
                tg__conv_dx_into(TG_F32, &at, y, w, x, false, &b);
            else
                tg__conv_dw_into(TG_F32, &at, x, y, w, false, &b);
            const double t = tb_now_ms() - t0;
            if (r >= 3 && (best < 0 || t < best)) best = t;
        }
        *gflops = 2.0 * (double)ny * (double)(l->C * l->K * l->K) / (best * 1e6);
    }
    tg_tape_free(tp);
    free(x), free(w), free(y);
    return best;
}

int main(int argc, char **argv)
{
    const int reps = tb_int_arg(argc, argv, "--reps", 200);
    const int threads = tb_int_arg(argc, argv, "--threads", 1);
    if (tg_set_num_threads(threads > 0 ? threads : 1) != TG_OK) return 1;
    static const char *const pass[3] = {"forward", "input grad", "weight grad"};
    printf("# layer, pass, min ms over %d reps, GFLOP/s (batch %d, f32, %d thread(s))\n", reps,
           BATCH, threads);
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < 3; k++) {
            double gf = 0;
            const double ms = pass_ms(&layers[l], k, reps, &gf);
            printf("%-28s %-12s %8.4f ms %7.1f GFLOP/s\n", layers[l].name, pass[k], ms, gf);
        }
    return 0;
}
