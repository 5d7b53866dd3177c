/* im2col / col2im for 2-d convolution (layout in im2col.h).
 *
 * Both work one image plane (n, c) at a time through a small scratch copy
 * of it, the plane's "phases": the zero-padded plane split by the stride,
 *
 *   ph[a][b][r][s] = xpad[r*SH + a][s*SW + b]   (a < SH, b < SW),
 *
 * (xpad is x with PH rows and PW columns of zeros around it; with stride 1
 * there is one phase, the padded plane itself).  Kernel tap (p, q) then
 * reads, for output row i, the contiguous run
 *
 *   ph[p % SH][q % SW][i + p / SH][q / SW .. q / SW + OW)
 *
 * (with dilation, p*DH and q*DW in place of p and q: the tap's offset in
 * the padded plane is what picks its phase and its run)
 * so every row of the column matrix is OH plain copies of OW elements with
 * no bounds test and no gather (the padding is in the phases), and col2im
 * adds the same runs back into the phases before folding them into the
 * plane.  In the extended layout (im2col.h), whose output rows are PC wide
 * like the phases', the OH runs of a tap are one contiguous run: one copy or
 * add per tap instead of OH short ones (for a narrow output the work per
 * run, not per element, dominates).  Making the
 * phases touches each input element once; the column matrix has
 * KH*KW/(SH*SW) times as many. */
#include "im2col.h"

#include "../core/internal.h"

tg__geom_err tg__conv_out_extent(int64_t in, int64_t pad, int64_t k, int64_t stride,
                                 int64_t *padded, int64_t *out)
{
    int64_t p;
    if (!tg__muladd_i64(2, pad, in, &p) || p > TG_NUMEL_MAX) return TG__GEOM_SIZE;
    *padded = p;
    if (k > p) return TG__GEOM_FIT;
    *out = (p - k) / stride + 1;
    return TG__GEOM_OK;
}

tg__geom_err tg__conv_geom_make(tg__conv_geom *g, const int64_t nchw[4], int64_t kh, int64_t kw,
                                int64_t sh, int64_t sw, int64_t ph, int64_t pw)
{
    return tg__conv_geom_make_dil(g, nchw, kh, kw, sh, sw, ph, pw, 1, 1);
}

/* The kernel's span less one, (k - 1) d, into *span: false when it exceeds
 * TG_NUMEL_MAX (then no padded input can hold it). */
static bool span_of(int64_t k, int64_t d, int64_t *span)
{
    return tg__mul_i64(k - 1, d, span) && *span < TG_NUMEL_MAX;
}

tg__geom_err tg__conv_geom_make_dil(tg__conv_geom *g, const int64_t nchw[4], int64_t kh, int64_t kw,
                                    int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh,
                                    int64_t dw)
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
                         .PW = pw,
                         .DH = dh,
                         .DW = dw};
    if (g->SH < 1 || g->SW < 1 || g->PH < 0 || g->PW < 0 || g->KH < 1 || g->KW < 1 || g->DH < 1 ||
        g->DW < 1)
        return TG__GEOM_ARG;
    int64_t numel, hp, wp, sph, spw;
    if (!tg__extents_product(4, nchw, TG_NUMEL_MAX, &numel)) return TG__GEOM_SIZE;
    /* a span beyond TG_NUMEL_MAX fits no padded input; the padded extent
     * is still checked first, so that an input too large is said so */
    const bool hfit = span_of(g->KH, g->DH, &sph), wfit = span_of(g->KW, g->DW, &spw);
    tg__geom_err e = tg__conv_out_extent(g->H, g->PH, hfit ? sph + 1 : 1, g->SH, &hp, &g->OH);
    if (e == TG__GEOM_OK)
        e = tg__conv_out_extent(g->W, g->PW, wfit ? spw + 1 : 1, g->SW, &wp, &g->OW);
    if (e == TG__GEOM_OK && (!hfit || !wfit)) e = TG__GEOM_FIT;
    return e;
}

/* Rows and columns of one phase: every (i + p DH / SH) and (j + q DW / SW)
 * a tap reads.  The spans (K - 1) D are at most the padded extents
 * (tg__conv_geom_make_dil): no overflow. */
static int64_t phase_rows(const tg__conv_geom *g)
{
    return g->OH + (g->KH - 1) * g->DH / g->SH;
}
static int64_t phase_cols(const tg__conv_geom *g)
{
    return g->OW + (g->KW - 1) * g->DW / g->SW;
}

bool tg__conv_geom_kernel_ok(const tg__conv_geom *g)
{
    /* the phase extents are at most the output's plus the kernel's, each
     * bounded by the padded input's (TG_NUMEL_MAX): no overflow */
    const int64_t PR = phase_rows(g), PC = phase_cols(g), lim = TG_NUMEL_MAX;
    int64_t work, ext, margin;
    return tg__extents_product(4, (const int64_t[]){g->SH, g->SW, PR, PC}, lim, &work) &&
           tg__add_i64(work, PC, &work) && work <= lim &&
           tg__extents_product(2, (const int64_t[]){g->OH, PC}, lim, &ext) &&
           tg__muladd_i64((g->KH - 1) * g->DH / g->SH, PC, (g->KW - 1) * g->DW / g->SW, &margin) &&
           margin <= lim && tg__muladd_i64(2, margin, ext, &ext) && ext <= lim;
}

int64_t tg__conv_work_len(const tg__conv_geom *g)
{
    /* one phase row more: an extended run (im2col_any) of the last tap
     * reads up to (KW - 1) DW / SW elements past its phase */
    return g->SH * g->SW * phase_rows(g) * phase_cols(g) + phase_cols(g);
}

/* Smallest s >= 0 with s*S >= a (a may be negative). */
static int64_t ceil_div_pos(int64_t a, int64_t s)
{
    return a <= 0 ? 0 : (a + s - 1) / s;
}

/* Phase columns [*lo, *hi) of phase b whose plane column s*SW + b - PW lies
 * in [0, W) (the others hold padding). */
static void phase_col_range(const tg__conv_geom *g, int64_t b, int64_t *lo, int64_t *hi)
{
    const int64_t PC = phase_cols(g);
    int64_t a = ceil_div_pos(g->PW - b, g->SW), e = ceil_div_pos(g->W + g->PW - b, g->SW);
    if (a > PC) a = PC;
    if (e > PC) e = PC;
    if (e < a) e = a;
    *lo = a;
    *hi = e;
}

/* The inner loops, one set per type, with restrict parameters: GCC
 * vectorises them without runtime alias checks.  copy moves a short run in
 * 16-byte pieces, the last one overlapping the one before (a plain loop
 * would become a call to memmove per run: runs are as short as 14
 * elements).  deal2 sends the even and odd elements of a run to two phases
 * (stride 2, the common case); deal the same for any stride. */
#define IM2COL_DEFINE_LOOPS(T, SUF)                                                                \
    static inline void copy_##SUF(int64_t n, const T *restrict src, T *restrict dst)               \
    {                                                                                              \
        enum { V = 16 / sizeof(T) };                                                               \
        if (n < V) {                                                                               \
            for (int64_t j = 0; j < n; j++) dst[j] = src[j];                                       \
            return;                                                                                \
        }                                                                                          \
        for (int64_t j = 0; j + V < n; j += V) memcpy(dst + j, src + j, 16);                       \
        memcpy(dst + n - V, src + n - V, 16);                                                      \
    }                                                                                              \
    static inline void add_##SUF(int64_t n, const T *restrict src, T *restrict dst)                \
    {                                                                                              \
        for (int64_t j = 0; j < n; j++) dst[j] += src[j];                                          \
    }                                                                                              \
    static inline void deal2_##SUF(int64_t n, const T *restrict src, T *restrict even,             \
                                   T *restrict odd)                                                \
    {                                                                                              \
        for (int64_t j = 0; j < n; j++) {                                                          \
            even[j] = src[2 * j];                                                                  \
            odd[j] = src[2 * j + 1];                                                               \
        }                                                                                          \
    }                                                                                              \
    static inline void undeal2_add_##SUF(int64_t n, const T *restrict even, const T *restrict odd, \
                                         T *restrict dst)                                          \
    {                                                                                              \
        for (int64_t j = 0; j < n; j++) {                                                          \
            dst[2 * j] += even[j];                                                                 \
            dst[2 * j + 1] += odd[j];                                                              \
        }                                                                                          \
    }                                                                                              \
    static inline void gather_##SUF(int64_t n, const T *restrict src, int64_t s, T *restrict dst)  \
    {                                                                                              \
        for (int64_t j = 0; j < n; j++) dst[j] = src[j * s];                                       \
    }                                                                                              \
    static inline void scatter_add_##SUF(int64_t n, const T *restrict src, int64_t s,              \
                                         T *restrict dst)                                          \
    {                                                                                              \
        for (int64_t j = 0; j < n; j++) dst[j * s] += src[j];                                      \
    }
/* dst[j] (+)= the sum of k rows at j: up to four taps' runs gathered into
 * a phase with one pass over it instead of one per tap */
#define IM2COL_DEFINE_SUMS(T, SUF)                                                                 \
    static inline void sum1_##SUF(int64_t n, bool add, const T *restrict a, T *restrict dst)       \
    {                                                                                              \
        if (add)                                                                                   \
            for (int64_t j = 0; j < n; j++) dst[j] += a[j];                                        \
        else                                                                                       \
            for (int64_t j = 0; j < n; j++) dst[j] = a[j];                                         \
    }                                                                                              \
    static inline void sum2_##SUF(int64_t n, bool add, const T *restrict a, const T *restrict b,   \
                                  T *restrict dst)                                                 \
    {                                                                                              \
        if (add)                                                                                   \
            for (int64_t j = 0; j < n; j++) dst[j] += a[j] + b[j];                                 \
        else                                                                                       \
            for (int64_t j = 0; j < n; j++) dst[j] = a[j] + b[j];                                  \
    }                                                                                              \
    static inline void sum4_##SUF(int64_t n, bool add, const T *restrict a, const T *restrict b,   \
                                  const T *restrict c, const T *restrict d, T *restrict dst)       \
    {                                                                                              \
        if (add)                                                                                   \
            for (int64_t j = 0; j < n; j++) dst[j] += (a[j] + b[j]) + (c[j] + d[j]);               \
        else                                                                                       \
            for (int64_t j = 0; j < n; j++) dst[j] = (a[j] + b[j]) + (c[j] + d[j]);                \
    }
IM2COL_DEFINE_SUMS(float, f32)
IM2COL_DEFINE_SUMS(double, f64)
#define SUM1(T) _Generic((T)0, float : sum1_f32, default : sum1_f64)
#define SUM2(T) _Generic((T)0, float : sum2_f32, default : sum2_f64)
#define SUM4(T) _Generic((T)0, float : sum4_f32, default : sum4_f64)

IM2COL_DEFINE_LOOPS(float, f32)
IM2COL_DEFINE_LOOPS(double, f64)
#define COPY(T)        _Generic((T)0, float : copy_f32, default : copy_f64)
#define ADD(T)         _Generic((T)0, float : add_f32, default : add_f64)
#define DEAL2(T)       _Generic((T)0, float : deal2_f32, default : deal2_f64)
#define UNDEAL2_ADD(T) _Generic((T)0, float : undeal2_add_f32, default : undeal2_add_f64)
#define GATHER(T)      _Generic((T)0, float : gather_f32, default : gather_f64)
#define SCATTER_ADD(T) _Generic((T)0, float : scatter_add_f32, default : scatter_add_f64)

/* Stride 2 whose two column phases take the same columns [*lo, *hi) of
 * every image row: then one pass deals a row to both (DEAL2) and one pass
 * folds them back (UNDEAL2_ADD). */
static bool deal2_range(const tg__conv_geom *g, int64_t *lo, int64_t *hi)
{
    int64_t lo1, hi1;
    phase_col_range(g, 0, lo, hi);
    phase_col_range(g, 1, &lo1, &hi1);
    return g->SW == 2 && lo1 == *lo && hi1 == *hi;
}

/* The loop bodies below are macros over the locals of im2col_any and
 * col2im_any (g, H, W, OW, SH, SW, DH, DW, PR, PC, PS, nwork, ph, img, deal2,
 * lo0, hi0), so that one text serves both dtypes inside TG_DISPATCH. */

/* The phases of one image plane: zeros, then each image row dealt to the
 * phase rows it belongs to.  deal2: stride 2 with both phases taking the
 * same columns of each row (phase_col_range), one pass for the two. */
#define FILL_PHASES(T)                                                                             \
    do {                                                                                           \
        for (int64_t e = 0; e < nwork; e++) ph[e] = 0;                                             \
        for (int64_t r = 0; r < PR; r++)                                                           \
            for (int64_t a = 0; a < SH; a++) {                                                     \
                const int64_t h = r * SH + a - g->PH;                                              \
                if (h < 0 || h >= H) continue;                                                     \
                T *dst = ph + a * SW * PS + r * PC; /* phase (a, 0) */                             \
                const T *src = img + h * W;                                                        \
                if (SW == 1) {                                                                     \
                    COPY(T)(W, src, dst + g->PW);                                                  \
                } else if (deal2) {                                                                \
                    DEAL2(T)(hi0 - lo0, src + 2 * lo0 - g->PW, dst + lo0, dst + PS + lo0);         \
                } else {                                                                           \
                    for (int64_t b = 0; b < SW; b++) {                                             \
                        int64_t lo, hi;                                                            \
                        phase_col_range(g, b, &lo, &hi);                                           \
                        GATHER(T)(hi - lo, src + lo * SW + b - g->PW, SW, dst + b * PS + lo);      \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
    } while (0)

/* Zeros in columns OW .. PC-1 of the nrows rows of PC at row: column by
 * column, strided, as a row has only (KW - 1) / SW of them (a loop along a
 * row would become a call to memset for every two elements). */
#define ZERO_PAD(T, row, nrows)                                                                    \
    do {                                                                                           \
        for (int64_t j_ = OW; j_ < PC; j_++)                                                       \
            for (int64_t i_ = 0; i_ < (nrows); i_++) (row)[i_ * PC + j_] = 0;                      \
    } while (0)

/* Kernel tap p reads phase row block p D % S, from phase row p D / S (the
 * same for columns): the loops over taps keep both as counters, stepped by
 * tap_next, instead of dividing for every tap (two divisions cost more
 * than the short run a tap copies).  The phase run of tap (p, q) (its output
 * row 0) is at (pa * SW + qa) * PS + pd * PC + qd in plane c's phases.  A
 * step of D wraps about D / S times, so the taps of a row wrap (K - 1) D / S
 * times in all: no more than the phase rows (columns) the kernel spans,
 * which making the phases walks anyway. */
static inline void tap_next(int64_t *a, int64_t *d, int64_t step, int64_t s)
{
    *a += step;
    while (*a >= s) {
        *a -= s;
        ++*d;
    }
}
#define FOR_TAPS(p, q, off)                                                                        \
    for (int64_t p = 0, pa_ = 0, pd_ = 0; p < g->KH; p++, tap_next(&pa_, &pd_, DH, SH))            \
        for (int64_t q = 0, qa_ = 0, qd_ = 0, off = pa_ * SW * PS + pd_ * PC; q < g->KW;           \
             q++, tap_next(&qa_, &qd_, DW, SW), off = (pa_ * SW + qa_) * PS + pd_ * PC + qd_)

/* The taps p < k that phase a of stride s reads with dilation d, those
 * with p d = a (mod s): *p0, *p0 + *step, ... (none when *p0 >= k).  The
 * step s / gcd(d, s) adds a multiple of s to p d, so the phase row advances
 * by step d / s per tap; with d = 1 this is p = a, a + s, ... */
static void phase_taps(int64_t a, int64_t d, int64_t s, int64_t k, int64_t *p0, int64_t *step)
{
    int64_t x = d, y = s;
    while (y) {
        const int64_t t = x % y;
        x = y;
        y = t;
    }
    *step = s / x;
    *p0 = k;
    for (int64_t p = 0; p < *step && p < k; p++)
        if (p * d % s == a) {
            *p0 = p;
            return;
        }
}

/* Both layouts: ext false, OH runs of OW per tap (rows of N*OH*OW);
 * ext true, one run of OH*PC per tap (rows of N*OH*PC) whose columns
 * OW .. PC-1 of each output row are then zeroed if zero_pad. */
static void im2col_any(tg_dtype dt, const tg__conv_geom *g, const void *x, void *cols, void *work,
                       bool ext, bool zero_pad)
{
    if (g->C == 0) return; /* no planes (and no output), however large N */
    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW, SH = g->SH, SW = g->SW, DH = g->DH,
                  DW = g->DW;
    const int64_t PR = phase_rows(g), PC = phase_cols(g), PS = PR * PC;
    const int64_t L = ext ? OH * PC : OH * OW, ncols = g->N * L, nwork = tg__conv_work_len(g);
    int64_t lo0, hi0;
    const bool deal2 = deal2_range(g, &lo0, &hi0);
    TG_DISPATCH(dt, T, {
        const T *xv = x;
        T *cv = cols, *ph = work;
        for (int64_t n = 0; n < g->N; n++)
            for (int64_t c = 0; c < g->C; c++) {
                const T *img = xv + (n * g->C + c) * H * W;
                FILL_PHASES(T);
                FOR_TAPS(p, q, off)
                {
                    T *row = cv + ((c * g->KH + p) * g->KW + q) * ncols + n * L;
                    const T *src = ph + off;
                    if (PC == OW || ext) {
                        COPY(T)(OH * PC, src, row); /* one run */
                        if (zero_pad) ZERO_PAD(T, row, OH);
                    } else {
                        for (int64_t i = 0; i < OH; i++) COPY(T)(OW, src + i * PC, row + i * OW);
                    }
                }
            }
    });
}

/* The taps' runs of plane c summed into its phases.  Plain layout: one
 * add per output row of each tap.  Extended layout (ld apart, one image,
 * margin zeros around each row: tg__conv_ext_margin): phase (a, b) at e is
 * the sum over its taps t of row_t[e - off_t], every tap readable over the
 * whole phase thanks to the margins, so the taps are gathered four at a
 * time, each phase element written ceil(taps / 4) times instead of once
 * per tap. */
#define GATHER_PHASES(T)                                                                           \
    do {                                                                                           \
        for (int64_t a = 0; a < SH; a++)                                                           \
            for (int64_t b = 0; b < SW; b++) {                                                     \
                T *dst = ph + (a * SW + b) * PS;                                                   \
                const T *pend[4];                                                                  \
                int np = 0;                                                                        \
                bool add = false;                                                                  \
                int64_t p0, pst, q0, qst;                                                          \
                phase_taps(a, DH, SH, g->KH, &p0, &pst);                                           \
                phase_taps(b, DW, SW, g->KW, &q0, &qst);                                           \
                for (int64_t p = p0, pd = p0 * DH / SH; p < g->KH; p += pst, pd += pst * DH / SH)  \
                    for (int64_t q = q0, qd = q0 * DW / SW; q < g->KW;                             \
                         q += qst, qd += qst * DW / SW) {                                          \
                        pend[np++] = cv + ((c * g->KH + p) * g->KW + q) * ld - (pd * PC + qd);     \
                        if (np < 4) continue;                                                      \
                        SUM4(T)(PS, add, pend[0], pend[1], pend[2], pend[3], dst);                 \
                        add = true, np = 0;                                                        \
                    }                                                                              \
                if (np >= 2) SUM2(T)(PS, add, pend[0], pend[1], dst), add = true;                  \
                if (np % 2) SUM1(T)(PS, add, pend[np - 1], dst), add = true;                       \
                if (!add)                                                                          \
                    for (int64_t e = 0; e < PS; e++) dst[e] = 0; /* a phase no tap reads */        \
            }                                                                                      \
    } while (0)

/* ld: the distance between rows of cols (ext: one image, margins around
 * each row; plain: N*OH*OW, rows without margins). */
static void col2im_any(tg_dtype dt, const tg__conv_geom *g, const void *cols, int64_t ld, void *x,
                       bool accumulate, void *work, bool ext)
{
    if (g->C == 0) return; /* no planes (and no output), however large N */
    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW, SH = g->SH, SW = g->SW, DH = g->DH,
                  DW = g->DW;
    const int64_t PR = phase_rows(g), PC = phase_cols(g), PS = PR * PC;
    const int64_t L = OH * OW, nwork = tg__conv_work_len(g);
    int64_t lo0, hi0;
    const bool deal2 = deal2_range(g, &lo0, &hi0);
    TG_DISPATCH(dt, T, {
        T *xv = x, *ph = work;
        const T *cv = cols;
        for (int64_t n = 0; n < g->N; n++)
            for (int64_t c = 0; c < g->C; c++) {
                T *img = xv + (n * g->C + c) * H * W;
                if (ext) {
                    GATHER_PHASES(T);
                } else {
                    for (int64_t e = 0; e < nwork; e++) ph[e] = 0;
                    FOR_TAPS(p, q, off)
                    {
                        const T *row = cv + ((c * g->KH + p) * g->KW + q) * ld + n * L;
                        T *dst = ph + off;
                        if (PC == OW)
                            ADD(T)(L, row, dst); /* the runs are adjacent */
                        else
                            for (int64_t i = 0; i < OH; i++) ADD(T)(OW, row + i * OW, dst + i * PC);
                    }
                }
                /* folded into the plane; the padding's share is dropped */
                if (!accumulate)
                    for (int64_t e = 0; e < H * W; e++) img[e] = 0;
                for (int64_t r = 0; r < PR; r++)
                    for (int64_t a = 0; a < SH; a++) {
                        const int64_t h = r * SH + a - g->PH;
                        if (h < 0 || h >= H) continue;
                        const T *src = ph + a * SW * PS + r * PC; /* phase (a, 0) */
                        T *dst = img + h * W;
                        if (SW == 1) {
                            ADD(T)(W, src + g->PW, dst);
                        } else if (deal2) {
                            UNDEAL2_ADD(T)
                            (hi0 - lo0, src + lo0, src + PS + lo0, dst + 2 * lo0 - g->PW);
                        } else {
                            for (int64_t b = 0; b < SW; b++) {
                                int64_t lo, hi;
                                phase_col_range(g, b, &lo, &hi);
                                SCATTER_ADD(T)
                                (hi - lo, src + b * PS + lo, SW, dst + lo * SW + b - g->PW);
                            }
                        }
                    }
            }
    });
}

void tg__im2col(tg_dtype dt, const tg__conv_geom *g, const void *x, void *cols, void *work)
{
    im2col_any(dt, g, x, cols, work, false, false);
}

void tg__col2im(tg_dtype dt, const tg__conv_geom *g, const void *cols, void *x, bool accumulate,
                void *work)
{
    col2im_any(dt, g, cols, g->N * g->OH * g->OW, x, accumulate, work, false);
}

void tg__im2col_ext(tg_dtype dt, const tg__conv_geom *g, const void *x, void *cols, void *work,
                    bool zero_pad)
{
    im2col_any(dt, g, x, cols, work, true, zero_pad);
}

void tg__col2im_ext(tg_dtype dt, const tg__conv_geom *g, const void *cols, int64_t ld, void *x,
                    bool accumulate, void *work)
{
    col2im_any(dt, g, cols, ld, x, accumulate, work, true);
}

int64_t tg__conv_ext_margin(const tg__conv_geom *g)
{
    return (g->KH - 1) * g->DH / g->SH * phase_cols(g) + (g->KW - 1) * g->DW / g->SW;
}

void tg__cols_ext_clear_pad(tg_dtype dt, const tg__conv_geom *g, int64_t rows, void *cols,
                            int64_t ld)
{
    const int64_t OH = g->OH, OW = g->OW, PC = phase_cols(g);
    if (PC == OW) return;
    TG_DISPATCH(dt, T, {
        T *cv = cols;
        for (int64_t r = 0; r < rows; r++) ZERO_PAD(T, cv + r * ld, g->N * OH);
    });
}

int64_t tg__conv_ext_cols(const tg__conv_geom *g)
{
    return g->N * g->OH * phase_cols(g);
}
