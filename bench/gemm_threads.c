/* Where cutting a matrix product into pieces for two threads pays
 * (src/kernels/gemm.c, GEMM_SPLIT_MIN): f32 products C = A B from 2^10 to
 * 2^24 multiply-adds (cubes, and the shapes of B3 and B5), each timed as
 *   whole   one cblas_sgemm call, OpenBLAS on one thread (tapegrad's small products)
 *   ob2     one cblas_sgemm call, OpenBLAS on two threads (its own pool)
 *   cut1    tg__gemm cut into pieces (forced at every size), one thread
 *   cut2    the same pieces on two threads
 * the minimum over many repetitions (the machine may be shared: the load is
 * printed).  A line per shape:
 *   GT m=.. n=.. k=.. work=.. whole_ms=.. ob2_ms=.. cut1_ms=.. cut2_ms=.. cut2/whole=..
 *
 *   bench_gemm_threads [--reps N] */
#include "bench_util.h"

#include "src/core/parallel.h"
#include "src/kernels/gemm.h"
#include "tg_config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <tapegrad.h>

#if TG_HAVE_CBLAS
#include <cblas.h>
#endif

typedef struct shape {
    int m, n, k;
} shape;

static const shape k_shapes[] = {
    {8, 8, 16},      {16, 16, 16},    {32, 32, 32},    {40, 40, 40},    {48, 48, 48},
    {64, 64, 64},    {80, 80, 80},    {96, 96, 96},    {128, 128, 64},  {128, 128, 128},
    {160, 160, 160}, {256, 256, 256}, {16, 10, 256},   {16, 256, 512},  {16, 512, 784},
    {784, 512, 16},  {512, 256, 16},  {16, 784, 512},  {128, 10, 256},  {256, 10, 128},
    {128, 256, 512}, {128, 512, 784}, {784, 512, 128}, {128, 784, 512},
};

enum { MAX_ELEMS = 784 * 784 };

/* which: 0 whole, 1 OpenBLAS on 2 threads, 2 pieces on 1 thread, 3 on 2 */
static double time_one(int which, const shape *s, const float *a, const float *b, float *c,
                       int reps)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        const double t0 = tb_now_ms();
        if (which >= 2) {
            tg__gemm(TG_F32, false, false, s->m, s->n, s->k, 1.0, a, s->k, b, s->n, 0.0, c, s->n);
        } else {
#if TG_HAVE_CBLAS
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->m, s->n, s->k, 1.0f, a, s->k,
                        b, s->n, 0.0f, c, s->n);
#else
            tg__gemm_fallback(TG_F32, false, false, s->m, s->n, s->k, 1.0, a, s->k, b, s->n, 0.0, c,
                              s->n);
#endif
        }
        const double t = tb_now_ms() - t0;
        best = t < best ? t : best;
    }
    return best;
}

static void set_blas_threads(int n)
{
#if TG_HAVE_CBLAS
    openblas_set_num_threads(n);
#else
    (void)n;
#endif
}

int main(int argc, char **argv)
{
    const int reps = tb_int_arg(argc, argv, "--reps", 200);
    float *a = malloc(sizeof(float) * MAX_ELEMS), *b = malloc(sizeof(float) * MAX_ELEMS);
    float *c = malloc(sizeof(float) * MAX_ELEMS);
    if (!a || !b || !c) return 1;
    for (int i = 0; i < MAX_ELEMS; i++) {
        a[i] = (float)(i % 7) * 0.25f - 0.5f;
        b[i] = (float)(i % 5) * 0.125f - 0.25f;
    }
    FILE *la = fopen("/proc/loadavg", "r");
    char load[64] = "?";
    if (la && fgets(load, sizeof load, la)) load[strcspn(load, "\n")] = '\0';
    if (la) fclose(la);
    tb_print_gemm(stdout);
    printf("# GT reps=%d openmp=%d load=\"%s\"\n", reps, tg_have_openmp(), load);
    tg__par_force(true); /* tg__gemm cuts every product, so cut1/cut2 time the pieces */
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++) {
        const shape *s = &k_shapes[i];
        double ms[4];
        for (int w = 0; w < 4; w++) {
            /* whole and ob2 call OpenBLAS directly; tg__gemm puts it back on one thread */
            set_blas_threads(w == 1 ? 2 : 1);
            tg_set_num_threads(w == 3 ? 2 : 1);
            (void)time_one(w, s, a, b, c, 3); /* warm up: pool, buffers */
            ms[w] = time_one(w, s, a, b, c, reps);
        }
        printf("GT m=%d n=%d k=%d work=%lld whole_ms=%.4f ob2_ms=%.4f cut1_ms=%.4f cut2_ms=%.4f "
               "cut2/whole=%.2f\n",
               s->m, s->n, s->k, (long long)s->m * s->n * s->k, ms[0], ms[1], ms[2], ms[3],
               ms[3] / ms[0]);
        fflush(stdout);
    }
    free(a);
    free(b);
    free(c);
    return 0;
}
