/* im2col / col2im for 2-d convolution (layout in im2col.h).
 *
 * Both walk one image plane (n, c) at a time, so the plane stays in L1
 * while its KH*KW rows of the column matrix (one kernel tap (p, q) a row,
 * each a contiguous run of OH*OW entries) are written or read.  For each
 * tap the ranges of output rows i and output columns j whose input pixel
 * lies inside the image are computed once, so the inner loops run over
 * contiguous output columns without a bounds test: the rows that read only
 * padding are one memset (they are adjacent in the column matrix), and
 * along a row the input index moves by the stride (stride 1: one memcpy,
 * or one memcpy for the whole tap when its rows are contiguous in the
 * image too).  The inner loops are functions with restrict parameters,
 * where GCC vectorises them without runtime alias checks. */
#include "im2col.h"

#include "../core/internal.h"

bool tg__conv_geom_make(tg__conv_geom *g, const int64_t nchw[4], int64_t kh, int64_t kw, int64_t sh,
                        int64_t sw, int64_t ph, int64_t pw)
{
    *g = (tg__conv_geom){.N = nchw[0],
                         .C = nchw[1],
                         .H = nchw[2],
                         .W = nchw[3],
                         .KH = kh,
                         .KW = kw,
                         .SH = sh,
                         .SW = sw,
                         .PH = ph,
                         .PW = pw};
    if (g->SH < 1 || g->SW < 1 || g->PH < 0 || g->PW < 0 || g->KH < 1 || g->KW < 1) return false;
    int64_t hp = g->H + 2 * g->PH, wp = g->W + 2 * g->PW;
    if (g->KH > hp || g->KW > wp) return false;
    g->OH = (hp - g->KH) / g->SH + 1;
    g->OW = (wp - g->KW) / g->SW + 1;
    return true;
}

/* Smallest j >= 0 with j*s >= a (a may be negative). */
static int64_t ceil_div_pos(int64_t a, int64_t s)
{
    return a <= 0 ? 0 : (a + s - 1) / s;
}

/* Output indices [*lo, *hi) (of `out` in all) whose input index
 * o*s - pad + t lies inside [0, extent), for kernel tap t. */
static void valid_range(int64_t t, int64_t s, int64_t pad, int64_t extent, int64_t out, int64_t *lo,
                        int64_t *hi)
{
    int64_t a = ceil_div_pos(pad - t, s);
    int64_t b = ceil_div_pos(extent + pad - t, s);
    if (a > out) a = out;
    if (b > out) b = out;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/* The inner loops, one set per type. */
#define IM2COL_DEFINE_LOOPS(T, SUF)                                                                \
    static inline void gather2_##SUF(int64_t n, const T *restrict src, T *restrict dst)            \
    {                                                                                              \
        for (int64_t j = 0; j < n; j++) dst[j] = src[2 * j];                                       \
    }                                                                                              \
    static inline void gather_##SUF(int64_t n, const T *restrict src, int64_t s, T *restrict dst)  \
    {                                                                                              \
        for (int64_t j = 0; j < n; j++) dst[j] = src[j * s];                                       \
    }                                                                                              \
    static inline void add1_##SUF(int64_t n, const T *restrict src, T *restrict dst)               \
    {                                                                                              \
        for (int64_t j = 0; j < n; j++) dst[j] += src[j];                                          \
    }                                                                                              \
    static inline void pair_add_##SUF(int64_t n, const T *restrict s0, const T *restrict s1,       \
                                      T *restrict dst)                                             \
    {                                                                                              \
        for (int64_t j = 0; j < n; j++) {                                                          \
            dst[2 * j] += s0[j];                                                                   \
            dst[2 * j + 1] += s1[j];                                                               \
        }                                                                                          \
    }                                                                                              \
    static inline void scatter_add_##SUF(int64_t n, const T *restrict src, int64_t s,              \
                                         T *restrict dst)                                          \
    {                                                                                              \
        for (int64_t j = 0; j < n; j++) dst[j * s] += src[j];                                      \
    }
IM2COL_DEFINE_LOOPS(float, f32)
IM2COL_DEFINE_LOOPS(double, f64)
#define GATHER2(T)     _Generic((T)0, float : gather2_f32, default : gather2_f64)
#define GATHER(T)      _Generic((T)0, float : gather_f32, default : gather_f64)
#define ADD1(T)        _Generic((T)0, float : add1_f32, default : add1_f64)
#define SCATTER_ADD(T) _Generic((T)0, float : scatter_add_f32, default : scatter_add_f64)
#define PAIR_ADD(T)    _Generic((T)0, float : pair_add_f32, default : pair_add_f64)

void tg__im2col(tg_dtype dt, const tg__conv_geom *g, const void *x, void *cols)
{
    const int64_t ncols = tg__conv_geom_cols(g), L = g->OH * g->OW;
    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW, SH = g->SH, SW = g->SW;
    TG_DISPATCH(dt, T, {
        const T *xv = x;
        T *cv = cols;
        for (int64_t n = 0; n < g->N; n++)
            for (int64_t c = 0; c < g->C; c++) {
                const T *img = xv + (n * g->C + c) * H * W;
                for (int64_t p = 0; p < g->KH; p++) {
                    int64_t ilo, ihi;
                    valid_range(p, SH, g->PH, H, OH, &ilo, &ihi);
                    for (int64_t q = 0; q < g->KW; q++) {
                        T *row = cv + ((c * g->KH + p) * g->KW + q) * ncols + n * L;
                        int64_t jlo, jhi;
                        valid_range(q, SW, g->PW, W, OW, &jlo, &jhi);
                        const int64_t w0 = q - g->PW; /* input column of output column 0 */
                        const int64_t nj = jhi - jlo;
                        /* output rows reading padding only: adjacent runs */
                        memset(row, 0, (size_t)(ilo * OW) * sizeof(T));
                        memset(row + ihi * OW, 0, (size_t)((OH - ihi) * OW) * sizeof(T));
                        if (ihi <= ilo) continue;
                        if (SW == 1 && SH == 1 && jlo == 0 && jhi == OW && OW == W) {
                            /* the tap's valid block is one run in the image
                             * and in the row */
                            memcpy(row + ilo * OW, img + (ilo - g->PH + p) * W,
                                   (size_t)((ihi - ilo) * OW) * sizeof(T));
                            continue;
                        }
                        for (int64_t i = ilo; i < ihi; i++) {
                            T *dst = row + i * OW;
                            /* input column of output column j: j*SW + w0, in
                             * [0, W) exactly for j in [jlo, jhi) */
                            const T *src = img + (i * SH - g->PH + p) * W + jlo * SW + w0;
                            for (int64_t j = 0; j < jlo; j++) dst[j] = 0;
                            if (SW == 1)
                                memcpy(dst + jlo, src, (size_t)nj * sizeof(T));
                            else if (SW == 2)
                                GATHER2(T)(nj, src, dst + jlo);
                            else
                                GATHER(T)(nj, src, SW, dst + jlo);
                            for (int64_t j = jhi; j < OW; j++) dst[j] = 0;
                        }
                    }
                }
            }
    });
}

void tg__col2im(tg_dtype dt, const tg__conv_geom *g, const void *cols, void *x, bool accumulate)
{
    const int64_t ncols = tg__conv_geom_cols(g), L = g->OH * g->OW;
    const int64_t H = g->H, W = g->W, OW = g->OW, SH = g->SH, SW = g->SW;
    TG_DISPATCH(dt, T, {
        T *xv = x;
        const T *cv = cols;
        const int64_t nx = g->N * g->C * H * W;
        if (!accumulate && nx > 0) memset(xv, 0, (size_t)nx * sizeof(T));
        for (int64_t n = 0; n < g->N; n++)
            for (int64_t c = 0; c < g->C; c++) {
                T *img = xv + (n * g->C + c) * H * W;
                for (int64_t p = 0; p < g->KH; p++) {
                    int64_t ilo, ihi;
                    valid_range(p, SH, g->PH, H, g->OH, &ilo, &ihi);
                    for (int64_t q = 0; q < g->KW; q++) {
                        const T *row = cv + ((c * g->KH + p) * g->KW + q) * ncols + n * L;
                        int64_t jlo, jhi;
                        valid_range(q, SW, g->PW, W, OW, &jlo, &jhi);
                        const int64_t w0 = q - g->PW;
                        if (SW == 2 && q + 1 < g->KW) {
                            /* taps q and q + 1 fill the even and odd input
                             * columns of one contiguous run: one interleaved
                             * (vectorisable) pass over their common range
                             * [a, b), the at most one column each has
                             * outside it on its own */
                            const T *row1 = row + ncols;
                            int64_t jlo1, jhi1;
                            valid_range(q + 1, SW, g->PW, W, OW, &jlo1, &jhi1);
                            int64_t a = jlo > jlo1 ? jlo : jlo1, b = jhi < jhi1 ? jhi : jhi1;
                            if (b < a) a = b = 0; /* nothing in common */
                            /* each tap's columns outside [a, b) */
                            const int64_t e0 = jhi < a ? jhi : a, f0 = jlo > b ? jlo : b;
                            const int64_t e1 = jhi1 < a ? jhi1 : a, f1 = jlo1 > b ? jlo1 : b;
                            for (int64_t i = ilo; i < ihi; i++) {
                                const T *s0 = row + i * OW, *s1 = row1 + i * OW;
                                T *drow = img + (i * SH - g->PH + p) * W;
                                for (int64_t j = jlo; j < e0; j++) drow[2 * j + w0] += s0[j];
                                for (int64_t j = f0; j < jhi; j++) drow[2 * j + w0] += s0[j];
                                for (int64_t j = jlo1; j < e1; j++) drow[2 * j + w0 + 1] += s1[j];
                                for (int64_t j = f1; j < jhi1; j++) drow[2 * j + w0 + 1] += s1[j];
                                if (b > a) PAIR_ADD(T)(b - a, s0 + a, s1 + a, drow + 2 * a + w0);
                            }
                            q++;
                            continue;
                        }
                        const int64_t nj = jhi - jlo;
                        /* rows outside [ilo, ihi) read padding: dropped */
                        for (int64_t i = ilo; i < ihi; i++) {
                            const T *src = row + i * OW + jlo;
                            T *dst = img + (i * SH - g->PH + p) * W + jlo * SW + w0;
                            if (SW == 1)
                                ADD1(T)(nj, src, dst);
                            else
                                SCATTER_ADD(T)(nj, src, SW, dst);
                        }
                    }
                }
            }
    });
}
