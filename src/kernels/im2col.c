/* im2col / col2im for 2-d convolution (layout in im2col.h).
 *
 * Both walk one image plane (n, c) at a time, so the plane stays in L1
 * while its KH*KW rows of the column matrix (one kernel tap (p, q) a row,
 * each a contiguous run of OH*OW entries) are written or read; along an
 * output row the input index
 * moves by the stride, and with stride 1 a whole run is one memcpy.  The
 * range of output columns j whose input column lies inside the image is
 * computed once per tap instead of testing every element. */
#include "im2col.h"

#include "../core/internal.h"

bool tg__conv_geom_finish(tg__conv_geom *g)
{
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

/* Output columns [*lo, *hi) read an input column inside [0, W) for tap q. */
static void valid_cols(const tg__conv_geom *g, int64_t q, int64_t *lo, int64_t *hi)
{
    int64_t a = ceil_div_pos(g->PW - q, g->SW);
    int64_t b = ceil_div_pos(g->W + g->PW - q, g->SW);
    if (a > g->OW) a = g->OW;
    if (b > g->OW) b = g->OW;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

void tg__im2col(tg_dtype dt, const tg__conv_geom *g, const void *x, void *cols)
{
    const int64_t ncols = tg__conv_geom_cols(g), L = g->OH * g->OW;
    TG_DISPATCH(dt, T, {
        const T *restrict xv = x;
        T *restrict cv = cols;
        for (int64_t n = 0; n < g->N; n++)
            for (int64_t c = 0; c < g->C; c++) {
                const T *img = xv + (n * g->C + c) * g->H * g->W;
                for (int64_t p = 0; p < g->KH; p++)
                    for (int64_t q = 0; q < g->KW; q++) {
                        T *row = cv + ((c * g->KH + p) * g->KW + q) * ncols + n * L;
                        int64_t jlo, jhi;
                        valid_cols(g, q, &jlo, &jhi);
                        const int64_t w0 = q - g->PW; /* input column of output column 0 */
                        for (int64_t i = 0; i < g->OH; i++) {
                            T *dst = row + i * g->OW;
                            const int64_t h = i * g->SH - g->PH + p;
                            if (h < 0 || h >= g->H) {
                                for (int64_t j = 0; j < g->OW; j++) dst[j] = 0;
                                continue;
                            }
                            /* input column of output column j: j*SW + w0, in
                             * [0, W) exactly for j in [jlo, jhi) */
                            const T *src = img + h * g->W;
                            for (int64_t j = 0; j < jlo; j++) dst[j] = 0;
                            if (g->SW == 1) {
                                if (jhi > jlo)
                                    memcpy(dst + jlo, src + jlo + w0,
                                           (size_t)(jhi - jlo) * sizeof(T));
                            } else {
                                for (int64_t j = jlo; j < jhi; j++) dst[j] = src[j * g->SW + w0];
                            }
                            for (int64_t j = jhi; j < g->OW; j++) dst[j] = 0;
                        }
                    }
            }
    });
}

void tg__col2im(tg_dtype dt, const tg__conv_geom *g, const void *cols, void *x)
{
    const int64_t ncols = tg__conv_geom_cols(g), L = g->OH * g->OW;
    const int64_t nx = g->N * g->C * g->H * g->W;
    TG_DISPATCH(dt, T, {
        T *restrict xv = x;
        const T *restrict cv = cols;
        for (int64_t k = 0; k < nx; k++) xv[k] = 0;
        for (int64_t n = 0; n < g->N; n++)
            for (int64_t c = 0; c < g->C; c++) {
                T *img = xv + (n * g->C + c) * g->H * g->W;
                for (int64_t p = 0; p < g->KH; p++)
                    for (int64_t q = 0; q < g->KW; q++) {
                        const T *row = cv + ((c * g->KH + p) * g->KW + q) * ncols + n * L;
                        int64_t jlo, jhi;
                        valid_cols(g, q, &jlo, &jhi);
                        const int64_t w0 = q - g->PW;
                        for (int64_t i = 0; i < g->OH; i++) {
                            const int64_t h = i * g->SH - g->PH + p;
                            if (h < 0 || h >= g->H) continue; /* read from padding: dropped */
                            const T *src = row + i * g->OW;
                            T *dst = img + h * g->W;
                            if (g->SW == 1) {
                                for (int64_t j = jlo; j < jhi; j++) dst[j + w0] += src[j];
                            } else {
                                for (int64_t j = jlo; j < jhi; j++) dst[j * g->SW + w0] += src[j];
                            }
                        }
                    }
            }
    });
}
