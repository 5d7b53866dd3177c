/* The three maps of a convolution on raw data, one image at a time, and
 * their loops over the images on threads (the ops that record them are in
 * conv.c, whose head comment derives them). */
#include "../core/internal.h"
#include "../core/parallel.h"
#include "../kernels/gemm.h"
#include "../kernels/im2col.h"
#include "../kernels/wsum.h"
#include "conv.h"

typedef tg__conv_attr conv_attr;

/* Arena scratch of n elements (at least one byte, so an empty product still
 * gets a valid pointer). */
void *tg__conv_scratch(tg_tape *tp, tg_dtype dt, int64_t n)
{
    size_t b = (size_t)n * tg_dtype_size(dt);
    return tg__tape_scratch(tp, b ? b : 1);
}

/* ---- the three maps on raw data, one image at a time ------------------------
 * The direct rules below (and the forward pass) work on one image n of the
 * batch at a time: its column block A_n = im2col(x[n]) is R x L (R = C*KH*KW,
 * L = OH*OW) and small enough to stay in cache, and in NCHW order both
 * y[n] and x[n] are plain row-major matrices (F x L and C x (H*W)), so
 *
 *   conv:         y[n]  = W A_n                  (gemm, no transpose)
 *   input_grad:   x[n]  = col2im(W^T G_n)        (G_n = g[n], F x L)
 *   weight_grad:  dW    = sum_n G_n A_n^T        (successive gemms, beta 1)
 *
 * The column block is made in the extended layout of kernels/im2col.h (each
 * output row padded from OW to PC columns with zeros), where each kernel
 * tap's row is one contiguous copy (im2col) or add (col2im) instead of OH
 * short ones, which is most of what those kernels cost; the gemms then work
 * on LX = OH*PC columns (PC/OW times the flops), and G_n and y[n] are
 * widened to / narrowed from that layout
 * (F*OH rows, cheap beside the block's R*OH).  Where PC = OW (a 1x1 kernel,
 * a stride as large as the kernel) the two layouts are the same and the
 * gemms read and write y and g in place. */

/* ---- the loops over images, on threads ----------------------------------
 * Each image's part of conv_into and conv_dx_into is computed alone, with
 * the same calls in the same order, so splitting the images into one chunk
 * per thread (each chunk with its own column block and work area) gives the
 * same bits for any thread count.  The weight gradient sums over the
 * images: it is summed in DW_PIECES pieces of the batch whose bounds depend
 * only on N, each piece's partial in its own buffer, the partials then
 * added in piece order (conv_dw_into), whatever the thread count.  The
 * chunks' gemms run with OpenBLAS on one thread: the chunks already hold
 * the cores.  CONV_PAR_MIN (multiply-adds of the batch's gemms) is measured
 * in docs/performance.md, "Thread thresholds: convolution". */
enum { DW_PIECES = 8 };
#define CONV_PAR_MIN ((int64_t)1 << 20)

/* Item lo of chunk t of n items split into nt chunks (t <= nt): no
 * overflow for any n. */
static int64_t chunk_lo(int64_t t, int64_t nt, int64_t n)
{
    return n / nt * t + (t < n % nt ? t : n % nt);
}

/* b's scratch for chunk t. */
static tg__conv_blk chunk_blk(const tg__conv_blk *b, int64_t t, size_t es)
{
    tg__conv_blk c = *b;
    const size_t off = (size_t)(t * b->len) * es;
    c.cols = (char *)b->cols + off;
    c.fx = (char *)b->fx + off;
    c.work = (char *)b->work + off;
    return c;
}

/* The geometry of one group of one image: the unit the kernels run. */
static tg__conv_geom one_image(const conv_attr *at)
{
    tg__conv_geom o = at->g;
    o.N = 1;
    o.C /= at->G;
    return o;
}

/* Elements of one chunk's scratch in blk_make (one group's column block of
 * one image with its margins, F/G x LX and the kernels' work area) into
 * *len; false when that exceeds TG_NUMEL_MAX.  The public entry points
 * check it with the geometry; the ops recorded from there reuse it. */
bool tg__conv_blk_len(const conv_attr *at, int64_t *len)
{
    const tg__conv_geom g1 = one_image(at), *g = &g1;
    const int64_t F = at->F / at->G, lim = TG_NUMEL_MAX;
    /* LX + 2M and the work area are within lim (tg__conv_geom_kernel_ok) */
    const int64_t ld = tg__conv_ext_cols(&g1) + 2 * tg__conv_ext_margin(&g1);
    int64_t R, n, t;
    return tg__extents_product(3, (const int64_t[]){g->C, g->KH, g->KW}, lim, &R) &&
           tg__extents_product(2, (const int64_t[]){R, ld}, lim, &n) &&
           tg__extents_product(2, (const int64_t[]){F, tg__conv_ext_cols(&g1)}, lim, &t) &&
           tg__add_i64(n, t, &n) && tg__add_i64(n, tg__conv_work_len(g), &n) && n <= lim &&
           (!tg__conv_direct_fits(at) ||
            (tg__conv_direct_len(at, &t) && (n = t > n ? t : n, true))) &&
           (*len = n, true);
}

/* Threads for the kernels of at: the multiply-adds N F R LX of the batch's
 * gemms weighed against CONV_PAR_MIN, at most one per image. */
static int conv_threads(const conv_attr *at, int64_t R, int64_t LX)
{
    int64_t w = at->g.N;
    const int64_t f[3] = {at->F, R, LX};
    for (int i = 0; i < 3; i++)
        if (!tg__mul_i64(w, f[i], &w)) w = INT64_MAX;
    const int nt = tg__par_threads(w, CONV_PAR_MIN);
    return at->g.N < nt ? (int)(at->g.N > 0 ? at->g.N : 1) : nt;
}

bool tg__conv_blk_make(tg_tape *tp, tg_dtype dt, const conv_attr *at, tg__conv_blk *b)
{
    const tg__conv_geom g1 = one_image(at), *g = &g1;
    const int64_t F = at->F / at->G;
    const size_t es = tg_dtype_size(dt);
    int64_t len, total, parts;
    if (!tg__conv_blk_len(at, &len))
        return tg__conv_geom_too_large(tp, "conv2d", &at->g, "column block of one image");
    b->R = tg__conv_geom_rows(g);
    b->L = g->OH * g->OW;
    b->LX = tg__conv_ext_cols(&g1);
    b->PC = b->LX / g->OH;
    b->M = tg__conv_ext_margin(&g1);
    b->len = len;
    b->direct = tg__conv_direct_fits(at);
    b->nt = conv_threads(at, b->R, b->LX);
    b->P = at->g.N < DW_PIECES ? at->g.N : DW_PIECES;
    if (!tg__extents_product(3, (const int64_t[]){b->P, at->F, b->R}, TG_NUMEL_MAX, &parts) ||
        !tg__muladd_i64(b->nt, len, parts, &total) || total > TG_NUMEL_MAX)
        return tg__conv_geom_too_large(tp, "conv2d", &at->g, "scratch of the threads");
    const int64_t ncols = b->R * (b->LX + 2 * b->M);
    char *m = tg__conv_scratch(tp, dt, total);
    if (!m) return false;
    b->cols = m;
    b->fx = m + (size_t)ncols * es;
    b->work = m + (size_t)(ncols + F * b->LX) * es;
    b->part = m + (size_t)(b->nt * len) * es;
    return true;
}

/* rows rows of OW: y (+)= the first OW of each row of PC in src */
static void narrow_rows(tg_dtype dt, int64_t rows, int64_t OW, int64_t PC, const void *src, void *y,
                        bool acc)
{
    TG_DISPATCH(dt, T, {
        const T *s = src;
        T *d = y;
        for (int64_t r = 0; r < rows; r++) {
            const T *restrict sr = s + r * PC;
            T *restrict dr = d + r * OW;
            if (acc)
                for (int64_t j = 0; j < OW; j++) dr[j] += sr[j];
            else
                for (int64_t j = 0; j < OW; j++) dr[j] = sr[j];
        }
    });
}

/* d (cols x rows) (+)= the transpose of s (rows x cols) */
static void transpose_into(tg_dtype dt, int64_t rows, int64_t cols, const void *s, void *d,
                           bool acc)
{
    TG_DISPATCH(dt, T, {
        const T *sv = s;
        T *dv = d;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++)
                dv[c * rows + r] = acc ? dv[c * rows + r] + sv[r * cols + c] : sv[r * cols + c];
    });
}

/* rows rows of OW from src into the first OW of each row of PC in dst (the
 * other columns of dst are left as they are: zero) */
static void widen_rows(tg_dtype dt, int64_t rows, int64_t OW, int64_t PC, const void *src,
                       void *dst)
{
    const size_t es = tg_dtype_size(dt);
    for (int64_t r = 0; r < rows; r++)
        memcpy(TG_AT_MUT(dst, r * PC, es), TG_AT(src, r * OW, es), (size_t)OW * es);
}

/* y (+)= conv(x, w), y (N, F, OH, OW), images [n0, n1): per image, per
 * group k, the gemm of the group's rows of w with its channels' column block
 * into its filters' rows of y. */
static void conv_into_range(tg_dtype dt, const conv_attr *at, const void *x, const void *w, void *y,
                            bool acc, const tg__conv_blk *b, int64_t n0, int64_t n1)
{
    const tg__conv_geom *g = &at->g, g1 = one_image(at);
    const int64_t F = at->F, Fg = F / at->G;
    const size_t es = tg_dtype_size(dt);
    const int64_t R = b->R, L = b->L, LX = b->LX, CHW = g->C * g->H * g->W,
                  GHW = g1.C * g->H * g->W;
    for (int64_t n = n0; n < n1; n++)
        for (int64_t k = 0; k < at->G; k++) {
            const void *wk = TG_AT(w, k * Fg * R, es);
            void *yk = TG_AT_MUT(y, (n * F + k * Fg) * L, es);
            /* the padding columns' products are dropped: no zeros needed */
            tg__im2col_ext(dt, &g1, TG_AT(x, n * CHW + k * GHW, es), b->cols, b->work, false);
            if (LX == L) {
                tg__gemm(dt, false, false, Fg, L, R, 1.0, wk, R, b->cols, L, acc ? 1.0 : 0.0, yk,
                         L);
                continue;
            }
            tg__gemm(dt, false, false, Fg, LX, R, 1.0, wk, R, b->cols, LX, 0.0, b->fx, LX);
            narrow_rows(dt, Fg * g->OH, g->OW, b->PC, b->fx, yk, acc);
        }
}

/* The whole batch, one chunk of images per thread. */
void tg__conv_into(tg_dtype dt, const conv_attr *at, const void *x, const void *w, void *y,
                   bool acc, const tg__conv_blk *b)
{
    if (at->F == 0) return; /* y has no elements: no image to walk, however many */
    const size_t es = tg_dtype_size(dt);
    const int nt = b->nt;
    tg__blas_serial(); /* OpenBLAS must not start its threads inside the region */
    TG_PAR_FOR(nt, nt, t, {
        const tg__conv_blk bt = chunk_blk(b, t, es);
        const int64_t n0 = chunk_lo(t, nt, at->g.N), n1 = chunk_lo(t + 1, nt, at->g.N);
        if (b->direct)
            tg__conv_direct_fwd(dt, at, x, w, y, acc, n0, n1, bt.cols);
        else
            conv_into_range(dt, at, x, w, y, acc, &bt, n0, n1);
    });
}

/* Are all n values finite?  On the bits (an all-ones exponent is Inf or
 * NaN), OR-ed over the array: a loop GCC vectorises, unlike isfinite's
 * compare-and-branch. */
static bool all_finite(tg_dtype dt, int64_t n, const void *v)
{
    const unsigned char *p = v;
    if (dt == TG_F32) {
        uint32_t bad = 0;
        for (int64_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, p + 4 * i, 4);
            bad |= (u & 0x7f800000u) == 0x7f800000u;
        }
        return !bad;
    }
    uint64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, p + 8 * i, 8);
        bad |= (u & 0x7ff0000000000000u) == 0x7ff0000000000000u;
    }
    return !bad;
}

/* dx (+)= input_grad(gy, w), dx (N, C, H, W), images [n0, n1).  The gemm
 * writes the block with a margin of zeros around each row (col2im_ext reads
 * every tap's row over a whole phase).  col2im_ext adds the block's padding
 * columns to other pixels, so they must be zero: W^T times G_n's zero
 * columns is, unless a weight is not finite (0 * Inf: clear); then they are
 * zeroed after each gemm. */
static void conv_dx_range(tg_dtype dt, const conv_attr *at, const void *gy, const void *w, void *dx,
                          bool acc, bool clear, const tg__conv_blk *b, int64_t n0, int64_t n1)
{
    const tg__conv_geom *g = &at->g, g1 = one_image(at);
    const size_t es = tg_dtype_size(dt);
    const int64_t F = at->F, Fg = F / at->G;
    const int64_t R = b->R, L = b->L, LX = b->LX, M = b->M, LD = LX + 2 * M,
                  CHW = g->C * g->H * g->W, GHW = g1.C * g->H * g->W;
    void *cols = TG_AT_MUT(b->cols, M, es);
    if (n0 == n1) return;
    if (LX != L) tg__cols_ext_clear_pad(dt, &g1, Fg, b->fx, LX);
    for (int64_t r = 0; M > 0 && r < R; r++) {
        memset(TG_AT_MUT(b->cols, r * LD, es), 0, (size_t)M * es);
        memset(TG_AT_MUT(b->cols, r * LD + M + LX, es), 0, (size_t)M * es);
    }
    for (int64_t n = n0; n < n1; n++)
        for (int64_t k = 0; k < at->G; k++) {
            const void *gn = TG_AT(gy, (n * F + k * Fg) * L, es);
            if (LX != L) {
                widen_rows(dt, Fg * g->OH, g->OW, b->PC, gn, b->fx);
                gn = b->fx;
            }
            tg__gemm(dt, true, false, R, LX, Fg, 1.0, TG_AT(w, k * Fg * R, es), R, gn, LX, 0.0,
                     cols, LD);
            if (clear) tg__cols_ext_clear_pad(dt, &g1, R, cols, LD);
            tg__col2im_ext(dt, &g1, cols, LD, TG_AT_MUT(dx, n * CHW + k * GHW, es), acc, b->work);
        }
}

void tg__conv_dx_into(tg_dtype dt, const conv_attr *at, const void *gy, const void *w, void *dx,
                      bool acc, const tg__conv_blk *b)
{
    const tg__conv_geom *g = &at->g;
    if (g->C == 0 || g->H == 0 || g->W == 0) return; /* dx has no elements (see conv_into) */
    const bool clear = b->LX != b->L && !all_finite(dt, at->F * b->R, w);
    const size_t es = tg_dtype_size(dt);
    const int nt = b->nt;
    tg__blas_serial(); /* OpenBLAS must not start its threads inside the region */
    TG_PAR_FOR(nt, nt, t, {
        const tg__conv_blk bt = chunk_blk(b, t, es);
        conv_dx_range(dt, at, gy, w, dx, acc, clear, &bt, chunk_lo(t, nt, g->N),
                      chunk_lo(t + 1, nt, g->N));
    });
}

/* The partial weight gradient of group k over images [n0, n1) into part
 * (Fg x R, or R x Fg when dw_t): each image's block is remade (cheaper than
 * keeping the whole batch's column matrix from the forward pass: that is
 * written once and read twice beyond the cache).  With more rows R than
 * filters F the sum is made transposed, dW^T += A_n G_n^T (R x F):
 * OpenBLAS's kernels run such a product (many rows, few columns) faster than
 * the one with few rows and many columns (docs/performance.md has the
 * measurements).  fx's padding columns are zero (conv_dw_into). */
static void conv_dw_piece(tg_dtype dt, const conv_attr *at, const void *x, const void *gy,
                          void *part, bool dw_t, int64_t k, int64_t n0, int64_t n1,
                          const tg__conv_blk *b)
{
    const tg__conv_geom *g = &at->g, g1 = one_image(at);
    const int64_t F = at->F, Fg = F / at->G;
    const size_t es = tg_dtype_size(dt);
    const int64_t R = b->R, L = b->L, LX = b->LX, CHW = g->C * g->H * g->W,
                  GHW = g1.C * g->H * g->W;
    for (int64_t n = n0; n < n1; n++) {
        /* G_n's padding columns are zeros: the block's need only be zero
         * when the image has a non-finite pixel (0 * Inf is NaN), so they
         * are zeroed only then (zeroing is a pass over the whole block) */
        const void *xn = TG_AT(x, n * CHW + k * GHW, es);
        tg__im2col_ext(dt, &g1, xn, b->cols, b->work, LX != L && !all_finite(dt, GHW, xn));
        const void *gn = TG_AT(gy, (n * F + k * Fg) * L, es);
        if (LX != L) {
            widen_rows(dt, Fg * g->OH, g->OW, b->PC, gn, b->fx);
            gn = b->fx;
        }
        const double beta = n > n0 ? 1.0 : 0.0;
        if (dw_t)
            tg__gemm(dt, false, true, R, Fg, LX, 1.0, b->cols, LX, gn, LX, beta, part, Fg);
        else
            tg__gemm(dt, false, true, Fg, R, LX, 1.0, gn, LX, b->cols, LX, beta, part, R);
    }
}

/* d (+)= s, n elements */
static void add_into(tg_dtype dt, int64_t n, const void *s, void *d, bool acc)
{
    TG_DISPATCH(dt, T, {
        const T *restrict sv = s;
        T *restrict dv = d;
        for (int64_t i = 0; i < n; i++) dv[i] = acc ? dv[i] + sv[i] : sv[i];
    });
}

/* dw (+)= weight_grad(x, gy), dw (F, C, KH, KW): the pieces' partials
 * (conv_dw_piece, in parallel), then per group their sum in piece order
 * into dw (transposed back when dw_t). */
void tg__conv_dw_into(tg_dtype dt, const conv_attr *at, const void *x, const void *gy, void *dw,
                      bool acc, const tg__conv_blk *b)
{
    const tg__conv_geom *g = &at->g, g1 = one_image(at);
    const int64_t F = at->F, Fg = F / at->G, R = b->R, P = b->P, FR = Fg * R;
    if (F == 0 || g->C == 0) return; /* dw has no elements (see conv_into) */
    const size_t es = tg_dtype_size(dt);
    if (g->N == 0) {
        if (!acc && F * R > 0) memset(dw, 0, (size_t)(F * R) * es);
        return;
    }
    const bool dw_t = R > Fg && !b->direct;
    const int nt = b->nt;
    tg__blas_serial(); /* OpenBLAS must not start its threads inside the region */
    TG_PAR_FOR(nt, nt, t, {
        const tg__conv_blk bt = chunk_blk(b, t, es);
        const int64_t p0 = chunk_lo(t, nt, P), p1 = chunk_lo(t + 1, nt, P);
        if (b->LX != b->L && p0 < p1 && !b->direct)
            tg__cols_ext_clear_pad(dt, &g1, Fg, bt.fx, b->LX);
        for (int64_t p = p0; p < p1 && b->direct; p++) /* one group */
            tg__conv_direct_dw(dt, at, x, gy, TG_AT_MUT(b->part, p * FR, es), chunk_lo(p, P, g->N),
                               chunk_lo(p + 1, P, g->N), bt.cols);
        for (int64_t k = 0; k < at->G && !b->direct; k++)
            for (int64_t p = p0; p < p1; p++)
                conv_dw_piece(dt, at, x, gy, TG_AT_MUT(b->part, (k * P + p) * FR, es), dw_t, k,
                              chunk_lo(p, P, g->N), chunk_lo(p + 1, P, g->N), &bt);
    });
    for (int64_t k = 0; k < at->G; k++) {
        void *s = TG_AT_MUT(b->part, k * P * FR, es), *dwk = TG_AT_MUT(dw, k * FR, es);
        for (int64_t p = 1; p < P; p++) add_into(dt, FR, TG_AT(s, p * FR, es), s, true);
        if (dw_t)
            transpose_into(dt, R, Fg, s, dwk, acc);
        else
            add_into(dt, FR, s, dwk, acc);
    }
}

/* db[f] (+)= sum_{n,l} gy[n,f,l], each image's row summed in eight lanes
 * of a wide accumulator (kernels/wsum.h), so that the loop vectorises and
 * the sum of N L terms stays accurate in f32 (the rounding differs from
 * tg_sum's, which sums rows of OW, only within an ulp of the sum).  The
 * filters are independent: shared among threads above CONV_DB_PAR_MIN
 * elements of gy (docs/performance.md, "Thread thresholds: convolution"). */
#define CONV_DB_PAR_MIN ((int64_t)1 << 16)
void tg__conv_db_into(tg_dtype dt, const tg__conv_geom *g, int64_t F, const void *gy, void *db,
                      bool acc)
{
    const int64_t L = g->OH * g->OW;
    const int nt = tg__par_threads(g->N * F * L, CONV_DB_PAR_MIN);
    TG_DISPATCH(dt, T, {
        const T *gv = gy;
        T *d = db;
        TG_PAR_FOR(nt, F, f, {
            double s = 0, c = 0;
            for (int64_t n = 0; n < g->N; n++) {
                const T *r = gv + (n * F + f) * L;
                double rs = 0, rc = 0;
                TG__WROW(T, L, l, r[l], rs, rc);
                TG__WADD(T, s, c, rs);
                if (TG__WSUM_COMP(T)) c += rc;
            }
            const T v = (T)tg__wsum_value(s, c);
            d[f] = acc ? d[f] + v : v;
        });
    });
}
