/* A direct convolution for filters with few taps (R = C*KH*KW small, one
 * group, horizontal stride 1): the forward map and the weight gradient
 * computed from a zero-padded copy of each image, with no column block.
 *
 * Why: with few taps the im2col path's gemm has an inner dimension of R
 * (25 for a 5x5 filter on one channel) and few rows (the filters), a shape
 * where sgemm spends much of its time packing, and the column block is R
 * times the image, written and read again for every image.  Here a block
 * of output pixels (one vector of L lanes along an output row) times a
 * block of filters is held in vector registers while the taps stream by
 * (register blocking, as oneDNN's direct kernels do): each input vector
 * loaded serves a whole block of filters, each filter's weight is a
 * broadcast.  The weight gradient holds a block of filters times a block
 * of taps, each a vector of per-lane partial sums, and reduces the lanes
 * once per piece of the batch.
 *
 * Each tap's input for L consecutive output columns is L consecutive
 * elements of a padded row (horizontal stride 1), read at the tap's
 * offset; rows are padded past the last output block, so a block never
 * reads past its row.  Lanes past the output row's end compute values
 * that are dropped (forward) or are masked to zero (weight gradient: the
 * padded row there holds real pixels, possibly not finite).
 *
 * The vectors are GCC/clang vector extensions of 64 bytes (16 f32 or 8 f64
 * lanes: one AVX-512 register, two AVX2 ones), built per x86-64 level by
 * TG_CLONES.  Products and sums stay separate operations (no contraction,
 * see TG_CLONES), so every version computes the same bits. */
#include "../core/checked.h"
#include "../core/internal.h"
#include "conv.h"

enum {
    VBYTES = 64,   /* bytes of one vector */
    FWD_FB = 8,    /* filters per block in the forward map (8 accumulators) */
    DW_FB = 4,     /* filters per block in the weight gradient ... */
    DW_RB = 5,     /* ... times taps per block: 20 accumulators */
    DIRECT_R = 32, /* at most this many taps per filter */
    DIRECT_F = 512 /* at most this many filters (the scratch grows with F R) */
};

typedef float vf32 __attribute__((vector_size(VBYTES)));
typedef double vf64 __attribute__((vector_size(VBYTES)));
typedef int32_t vi32 __attribute__((vector_size(VBYTES)));
typedef int64_t vi64 __attribute__((vector_size(VBYTES)));

/* The rule of the shapes: one group, horizontal stride 1, at most DIRECT_R
 * taps and DIRECT_F filters, and output rows of at least 8 pixels (shorter
 * rows would leave most lanes idle). */
bool tg__conv_direct_fits(const tg__conv_attr *at)
{
    const tg__conv_geom *g = &at->g;
    return at->G == 1 && g->SW == 1 && g->C * g->KH * g->KW <= DIRECT_R && at->F <= DIRECT_F &&
           g->OW >= 8 && g->OH >= 1;
}

/* The direct kernels' view of a geometry with L lanes a vector. */
typedef struct dgeo {
    int64_t R, F, L;
    int64_t HP, WP; /* rows of each padded channel plane, elements a padded row */
    int64_t NJ;     /* vectors per output row: OW rounded up to L */
    int64_t FP, RP; /* F and R rounded up to their blocks */
} dgeo;

static int64_t round_up(int64_t a, int64_t b)
{
    return (a + b - 1) / b * b;
}

static dgeo dgeo_of(const tg__conv_attr *at, int64_t L)
{
    const tg__conv_geom *g = &at->g;
    dgeo d;
    d.R = g->C * g->KH * g->KW;
    d.F = at->F;
    d.L = L;
    d.NJ = (g->OW + L - 1) / L;
    /* the rows the taps read: up to (OH-1) SH + (KH-1) DH (within H + 2 PH) */
    d.HP = (g->OH - 1) * g->SH + (g->KH - 1) * g->DH + 1;
    d.WP = d.NJ * L + (g->KW - 1) * g->DW;
    d.FP = round_up(at->F, FWD_FB); /* a multiple of DW_FB too */
    d.RP = round_up(d.R, DW_RB);
    return d;
}

/* Scratch elements of one chunk: the padded planes, the packed weights,
 * the widened output gradient and the lane sums.  False past TG_NUMEL_MAX. */
bool tg__conv_direct_len(const tg__conv_attr *at, int64_t *len)
{
    const tg__conv_geom *g = &at->g;
    const dgeo d = dgeo_of(at, VBYTES / (int64_t)sizeof(float)); /* the most lanes */
    const int64_t lim = TG_NUMEL_MAX;
    int64_t plane, wt, gyp, lacc, n;
    return tg__extents_product(3, (const int64_t[]){g->C, d.HP, d.WP}, lim, &plane) &&
           tg__extents_product(2, (const int64_t[]){d.FP, d.R}, lim, &wt) &&
           tg__extents_product(4, (const int64_t[]){d.FP, g->OH, d.NJ, d.L}, lim, &gyp) &&
           tg__extents_product(3, (const int64_t[]){d.FP, d.RP, d.L}, lim, &lacc) &&
           tg__add_i64(plane, wt, &n) && tg__add_i64(n, gyp, &n) && tg__add_i64(n, lacc, &n) &&
           n <= lim && (*len = n, true);
}

/* Image n's channels zero-padded into plane (C planes of HP x WP): padded
 * row r holds input row r - PH, shifted right by PW. */
#define DIRECT_FILL_PLANE(T, g, d, x, n, plane)                                                    \
    do {                                                                                           \
        const int64_t fp_cnt = (g)->W < (d).WP - (g)->PW ? (g)->W : (d).WP - (g)->PW;              \
        for (int64_t c = 0; c < (g)->C; c++)                                                       \
            for (int64_t r = 0; r < (d).HP; r++) {                                                 \
                T *fp_row = (plane) + (c * (d).HP + r) * (d).WP;                                   \
                const int64_t fp_xr = r - (g)->PH;                                                 \
                memset(fp_row, 0, sizeof(T) * (size_t)(d).WP);                                     \
                if (fp_xr >= 0 && fp_xr < (g)->H && fp_cnt > 0)                                    \
                    memcpy(fp_row + (g)->PW, (x) + (((n) * (g)->C + c) * (g)->H + fp_xr) * (g)->W, \
                           sizeof(T) * (size_t)fp_cnt);                                            \
            }                                                                                      \
    } while (0)

/* off[r]: where tap r = (c*KH + p)*KW + q reads in the planes, relative to
 * its output row's first pixel; taps R .. RP read offset 0 (their products
 * go to lane sums that are never read). */
static void tap_offsets(const tg__conv_geom *g, const dgeo *d, int64_t *off)
{
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t p = 0; p < g->KH; p++)
            for (int64_t q = 0; q < g->KW; q++)
                off[(c * g->KH + p) * g->KW + q] = (c * d->HP + p * g->DH) * d->WP + q * g->DW;
    for (int64_t r = d->R; r < d->RP; r++) off[r] = 0;
}

/* y (+)= conv(x, w) for images [n0, n1): per output row and vector of L
 * pixels, FWD_FB filters' sums in registers over the taps.  wt: the
 * weights packed as [FP / FWD_FB][R][FWD_FB] (zeros past F). */
#define DIRECT_FWD(T, VT, g, d, x, w, y, acc, n0, n1, plane, wt, off)                              \
    do {                                                                                           \
        const int64_t df_L = (d).L, df_OW = (g)->OW, df_OH = (g)->OH;                              \
        for (int64_t f = 0; f < (d).FP; f++)                                                       \
            for (int64_t r = 0; r < (d).R; r++)                                                    \
                (wt)[((f / FWD_FB) * (d).R + r) * FWD_FB + f % FWD_FB] =                           \
                    f < (d).F ? (w)[f * (d).R + r] : 0;                                            \
        for (int64_t n = (n0); n < (n1); n++) {                                                    \
            DIRECT_FILL_PLANE(T, g, d, x, n, plane);                                               \
            for (int64_t f0 = 0; f0 < (d).FP; f0 += FWD_FB)                                        \
                for (int64_t i = 0; i < df_OH; i++)                                                \
                    for (int64_t jb = 0; jb < (d).NJ; jb++) {                                      \
                        const T *df_x = (plane) + i * (g)->SH * (d).WP + jb * df_L;                \
                        const T *df_w = (wt) + f0 * (d).R;                                         \
                        VT df_a[FWD_FB];                                                           \
                        for (int k = 0; k < FWD_FB; k++) df_a[k] = (VT){0};                        \
                        for (int64_t r = 0; r < (d).R; r++) {                                      \
                            VT df_v;                                                               \
                            memcpy(&df_v, df_x + (off)[r], sizeof df_v);                           \
                            for (int k = 0; k < FWD_FB; k++)                                       \
                                df_a[k] += df_v * df_w[r * FWD_FB + k];                            \
                        }                                                                          \
                        const int64_t df_j = jb * df_L,                                            \
                                      df_m = df_OW - df_j < df_L ? df_OW - df_j : df_L;            \
                        for (int k = 0; k < FWD_FB && f0 + k < (d).F; k++) {                       \
                            T *df_y = (y) + (((n) * (d).F + f0 + k) * df_OH + i) * df_OW + df_j;   \
                            T df_t[VBYTES / sizeof(T)];                                            \
                            memcpy(df_t, &df_a[k], sizeof df_t);                                   \
                            for (int64_t l = 0; l < df_m; l++)                                     \
                                df_y[l] = (acc) ? df_y[l] + df_t[l] : df_t[l];                     \
                        }                                                                          \
                    }                                                                              \
        }                                                                                          \
    } while (0)

/* The scratch of one chunk, cut as tg__conv_direct_len counts it. */
typedef struct dscratch {
    void *plane, *wt, *gyp, *lacc;
} dscratch;

static dscratch scratch_of(const tg__conv_geom *g, const dgeo *d, void *work, size_t es)
{
    dscratch s;
    char *m = work;
    s.plane = m;
    m += (size_t)(g->C * d->HP * d->WP) * es;
    s.wt = m;
    m += (size_t)(d->FP * d->R) * es;
    s.gyp = m;
    m += (size_t)(d->FP * g->OH * d->NJ * d->L) * es;
    s.lacc = m;
    return s;
}

TG_CLONES static void fwd_f32(const tg__conv_attr *at, const float *x, const float *w, float *y,
                              bool acc, int64_t n0, int64_t n1, void *work)
{
    const tg__conv_geom *g = &at->g;
    const dgeo d = dgeo_of(at, VBYTES / sizeof(float));
    const dscratch s = scratch_of(g, &d, work, sizeof(float));
    int64_t off[DIRECT_R + DW_RB];
    tap_offsets(g, &d, off);
    float *plane = s.plane, *wt = s.wt;
    DIRECT_FWD(float, vf32, g, d, x, w, y, acc, n0, n1, plane, wt, off);
}

TG_CLONES static void fwd_f64(const tg__conv_attr *at, const double *x, const double *w, double *y,
                              bool acc, int64_t n0, int64_t n1, void *work)
{
    const tg__conv_geom *g = &at->g;
    const dgeo d = dgeo_of(at, VBYTES / sizeof(double));
    const dscratch s = scratch_of(g, &d, work, sizeof(double));
    int64_t off[DIRECT_R + DW_RB];
    tap_offsets(g, &d, off);
    double *plane = s.plane, *wt = s.wt;
    DIRECT_FWD(double, vf64, g, d, x, w, y, acc, n0, n1, plane, wt, off);
}

void tg__conv_direct_fwd(tg_dtype dt, const tg__conv_attr *at, const void *x, const void *w,
                         void *y, bool acc, int64_t n0, int64_t n1, void *work)
{
    if (dt == TG_F32)
        fwd_f32(at, x, w, y, acc, n0, n1, work);
    else
        fwd_f64(at, x, w, y, acc, n0, n1, work);
}

/* The lane sums of the weight gradient, lacc [FP][RP][L], (+)= image n's
 * terms: gy[n] widened into gyp (rows of NJ L, zeros past OW and past F),
 * then per block of DW_FB filters and DW_RB taps, 20 vectors of sums held
 * in registers over the image's output pixels.  The last vector of a row
 * reads pixels past the row's end, whose gradient lanes are zero: they are
 * masked out of the input too (tail; full: all lanes), so that an infinite
 * pixel there gives no 0 * Inf. */
#define DIRECT_DW_IMAGE(T, VT, VI, g, d, gy, n, plane, gyp, lacc, off, full, tail)                 \
    do {                                                                                           \
        const int64_t dw_L = (d).L, dw_row = (d).NJ * dw_L, dw_OH = (g)->OH;                       \
        for (int64_t f = 0; f < (d).FP; f++)                                                       \
            for (int64_t i = 0; i < dw_OH; i++) {                                                  \
                T *dw_d = (gyp) + (f * dw_OH + i) * dw_row;                                        \
                const int64_t dw_m = f < (d).F ? (g)->OW : 0;                                      \
                if (dw_m)                                                                          \
                    memcpy(dw_d, (gy) + (((n) * (d).F + f) * dw_OH + i) * (g)->OW,                 \
                           sizeof(T) * (size_t)dw_m);                                              \
                memset(dw_d + dw_m, 0, sizeof(T) * (size_t)(dw_row - dw_m));                       \
            }                                                                                      \
        for (int64_t f0 = 0; f0 < (d).FP; f0 += DW_FB)                                             \
            for (int64_t r0 = 0; r0 < (d).RP; r0 += DW_RB) {                                       \
                VT dw_a[DW_FB][DW_RB];                                                             \
                for (int a = 0; a < DW_FB; a++)                                                    \
                    for (int b = 0; b < DW_RB; b++)                                                \
                        memcpy(&dw_a[a][b], (lacc) + ((f0 + a) * (d).RP + r0 + b) * dw_L,          \
                               sizeof(VT));                                                        \
                for (int64_t i = 0; i < dw_OH; i++)                                                \
                    for (int64_t jb = 0; jb < (d).NJ; jb++) {                                      \
                        const T *dw_x = (plane) + i * (g)->SH * (d).WP + jb * dw_L;                \
                        const VI dw_k = jb + 1 < (d).NJ ? (full) : (tail);                         \
                        VT dw_g[DW_FB];                                                            \
                        for (int a = 0; a < DW_FB; a++)                                            \
                            memcpy(&dw_g[a], (gyp) + ((f0 + a) * dw_OH + i) * dw_row + jb * dw_L,  \
                                   sizeof(VT));                                                    \
                        for (int b = 0; b < DW_RB; b++) {                                          \
                            VT dw_v;                                                               \
                            memcpy(&dw_v, dw_x + (off)[r0 + b], sizeof dw_v);                      \
                            dw_v = (VT)((VI)dw_v & dw_k);                                          \
                            for (int a = 0; a < DW_FB; a++) dw_a[a][b] += dw_g[a] * dw_v;          \
                        }                                                                          \
                    }                                                                              \
                for (int a = 0; a < DW_FB; a++)                                                    \
                    for (int b = 0; b < DW_RB; b++)                                                \
                        memcpy((lacc) + ((f0 + a) * (d).RP + r0 + b) * dw_L, &dw_a[a][b],          \
                               sizeof(VT));                                                        \
            }                                                                                      \
    } while (0)

/* part (F x R) = the sum over images [n0, n1) of the weight gradient's
 * terms: lane sums over the images in order, then each one's L lanes added
 * in lane order. */
#define DIRECT_DW(T, VT, VI, at, x, gy, part, n0, n1, work)                                        \
    do {                                                                                           \
        const tg__conv_geom *dd_g = &(at)->g;                                                      \
        const dgeo dd_d = dgeo_of((at), VBYTES / sizeof(T));                                       \
        const dscratch dd_s = scratch_of(dd_g, &dd_d, (work), sizeof(T));                          \
        int64_t dd_off[DIRECT_R + DW_RB];                                                          \
        tap_offsets(dd_g, &dd_d, dd_off);                                                          \
        T *dd_plane = dd_s.plane, *dd_gyp = dd_s.gyp, *dd_lacc = dd_s.lacc;                        \
        VI dd_full, dd_tail;                                                                       \
        for (int64_t l = 0; l < dd_d.L; l++) {                                                     \
            dd_full[l] = -1;                                                                       \
            dd_tail[l] = (dd_d.NJ - 1) * dd_d.L + l < dd_g->OW ? -1 : 0;                           \
        }                                                                                          \
        memset(dd_lacc, 0, sizeof(T) * (size_t)(dd_d.FP * dd_d.RP * dd_d.L));                      \
        for (int64_t n = (n0); n < (n1); n++) {                                                    \
            DIRECT_FILL_PLANE(T, dd_g, dd_d, (x), n, dd_plane);                                    \
            DIRECT_DW_IMAGE(T, VT, VI, dd_g, dd_d, (gy), n, dd_plane, dd_gyp, dd_lacc, dd_off,     \
                            dd_full, dd_tail);                                                     \
        }                                                                                          \
        for (int64_t f = 0; f < dd_d.F; f++)                                                       \
            for (int64_t r = 0; r < dd_d.R; r++) {                                                 \
                const T *dd_l = dd_lacc + (f * dd_d.RP + r) * dd_d.L;                              \
                T dd_sum = dd_l[0];                                                                \
                for (int64_t l = 1; l < dd_d.L; l++) dd_sum += dd_l[l];                            \
                (part)[f * dd_d.R + r] = dd_sum;                                                   \
            }                                                                                      \
    } while (0)

TG_CLONES static void dw_f32(const tg__conv_attr *at, const float *x, const float *gy, float *part,
                             int64_t n0, int64_t n1, void *work)
{
    DIRECT_DW(float, vf32, vi32, at, x, gy, part, n0, n1, work);
}

TG_CLONES static void dw_f64(const tg__conv_attr *at, const double *x, const double *gy,
                             double *part, int64_t n0, int64_t n1, void *work)
{
    DIRECT_DW(double, vf64, vi64, at, x, gy, part, n0, n1, work);
}

void tg__conv_direct_dw(tg_dtype dt, const tg__conv_attr *at, const void *x, const void *gy,
                        void *part, int64_t n0, int64_t n1, void *work)
{
    if (dt == TG_F32)
        dw_f32(at, x, gy, part, n0, n1, work);
    else
        dw_f64(at, x, gy, part, n0, n1, work);
}
