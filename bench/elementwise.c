/* The elementwise unary ops, forward on 2^20 f32
 * values, each beside the same expression in a plain C loop compiled here:
 * a libm call per element (sin, tan, erf, ...) does not vectorise, in the
 * library or in the plain loop, while arithmetic (reciprocal, softsign,
 * leaky_relu, hardtanh) does.  The ratio says what the op costs beyond its
 * loop (validation, the tape's allocation, recording).
 *
 *   EW <op> n=1048576 median_ms=... min_ms=... max_ms=... peak_rss_mb=...
 *   # EW <op> plain_c median_ms=... */
#include "bench_util.h"

#include <tapegrad.h>

#include <math.h>
#include <stdlib.h>

#define N (1 << 20)

#define PLAIN(name, EXPR)                                                                          \
    static void plain_##name(float *restrict o, const float *restrict in, int n)                   \
    {                                                                                              \
        for (int i = 0; i < n; i++) {                                                              \
            const float x = in[i];                                                                 \
            o[i] = (EXPR);                                                                         \
        }                                                                                          \
    }
PLAIN(reciprocal, 1.0f / x)
PLAIN(rsqrt, 1.0f / sqrtf(x))
PLAIN(softsign, x / (fabsf(x) + 1.0f))
PLAIN(leaky_relu, x > 0 ? x : 0.1f * x)
PLAIN(hardtanh, x<-1.0f ? -1.0f : x> 1.0f ? 1.0f : x)
PLAIN(sin, sinf(x))
PLAIN(tan, tanf(x))
PLAIN(erf, erff(x))
PLAIN(gelu, x *(0.5f * erfcf(x * -0.70710678f)))
PLAIN(silu, x / (1.0f + expf(-x)))

static tg_tensor *leaky(tg_tape *tp, tg_tensor *x)
{
    return tg_leaky_relu(tp, x, 0.1);
}
static tg_tensor *hardtanh(tg_tape *tp, tg_tensor *x)
{
    return tg_hardtanh(tp, x, -1, 1);
}

typedef struct bop {
    const char *name;
    tg_tensor *(*op)(tg_tape *, tg_tensor *);
    void (*plain)(float *restrict, const float *restrict, int);
} bop;
static const bop k_ops[] = {
    {"reciprocal", tg_reciprocal, plain_reciprocal},
    {"rsqrt", tg_rsqrt, plain_rsqrt},
    {"softsign", tg_softsign, plain_softsign},
    {"leaky_relu", leaky, plain_leaky_relu},
    {"hardtanh", hardtanh, plain_hardtanh},
    {"sin", tg_sin, plain_sin},
    {"tan", tg_tan, plain_tan},
    {"erf", tg_erf, plain_erf},
    {"gelu", tg_gelu, plain_gelu},
    {"silu", tg_silu, plain_silu},
};

int main(int argc, char **argv)
{
    const int reps = tb_int_arg(argc, argv, "--reps", 21);
    tg_tensor *x = tg_tensor_new(TG_F32, 1, (const int64_t[]){N});
    float *xv = tg_tensor_data(x), *out = malloc(sizeof(float) * N);
    double *ms = malloc(sizeof(double) * (size_t)reps);
    if (!x || !out || !ms) return 1;
    for (int i = 0; i < N; i++) xv[i] = 0.25f + 1.5f * (float)i / N; /* in every domain */
    tg_tensor_mark_modified(x);
    tg_tape *tp = tg_tape_new(NULL);
    for (size_t k = 0; k < sizeof k_ops / sizeof k_ops[0]; k++) {
        char head[96];
        for (int r = 0; r < reps; r++) {
            tg_tape_reset(tp);
            const double t0 = tb_now_ms();
            if (!k_ops[k].op(tp, x)) return 1;
            ms[r] = tb_now_ms() - t0;
        }
        tb_stats s = tb_stats_of(ms, reps);
        snprintf(head, sizeof head, "EW %s n=%d", k_ops[k].name, N);
        tb_report(stdout, head, &s);
        for (int r = 0; r < reps; r++) {
            const double t0 = tb_now_ms();
            k_ops[k].plain(out, xv, N);
            ms[r] = tb_now_ms() - t0;
        }
        s = tb_stats_of(ms, reps);
        snprintf(head, sizeof head, "# EW %s plain_c", k_ops[k].name);
        tb_report(stdout, head, &s);
    }
    tg_tape_free(tp);
    tg_tensor_free(x);
    free(out);
    free(ms);
    return 0;
}
