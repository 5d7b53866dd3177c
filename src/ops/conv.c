/* 2-d convolution (NCHW) through im2col + gemm: the three recorded ops and
 * their kernels.  The public entry points (conv2d, conv2d_ex, conv1d,
 * conv_transpose2d) and the validation of a convolution's geometry are in
 * conv_api.c; the public im2col / col2im ops and flatten in conv_cols.c.
 *
 * Convention: tapegrad's conv2d is a cross-correlation, as in PyTorch and as
 * in the index formula of seed 002 section 2:
 *
 *   y[n,f,i,j] = b[f] + sum_{c,p,q} w[f,c,p,q] x[n,c, i*SH - PH + p, j*SW - PW + q]
 *
 * (x is zero outside the image).  With dilation (DH, DW) tap p reads row
 * i*SH - PH + p*DH; with G groups, filter f sees only the C/G channels of its
 * group, f / (F/G), and w is (F, C/G, KH, KW).  The kernel is not flipped.  Its gradient
 * with respect to x is then a true convolution of dy with w (a correlation
 * with the flipped kernel): seed 002 eq. 24-25.
 *
 * Three recorded ops do all the work, each bilinear in its two tensor inputs
 * and each one's backward written with the other two, so derivatives of any
 * order go through convolution:
 *
 *   conv(x, w)         = the correlation above              [N,F,OH,OW]
 *   input_grad(g, w)   = (d conv / d x)^T g   = col2im(W^T G)   [N,C,H,W]
 *   weight_grad(x, g)  = (d conv / d w)^T g   = G A^T           [F,C,KH,KW]
 *
 * where A = im2col(x) is the (C*KH*KW) x (N*OH*OW) column matrix of seed 002
 * (kernels/im2col.h), W is w as an F x (C*KH*KW) matrix and G is g as an
 * F x (N*OH*OW) matrix.  The gemms run one image at a time (see "the three
 * maps on raw data" below), writing into the result directly.  With
 * <a, b> the sum of the elementwise product:
 *
 *   <conv(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)>
 *
 * and the backward rules below are read off this identity.  Groups split
 * each map into G independent ones on contiguous blocks (the channels of a
 * group, its filters, its rows of w), so the kernels loop over the groups
 * around the same per-image gemms. */
#include "../core/internal.h"
#include "../kernels/gemm.h"
#include "../kernels/im2col.h"
#include "../kernels/wsum.h"
#include "conv.h"

typedef tg__conv_attr conv_attr;

static tg_tensor *conv_weight_grad(tg_tape *tp, tg_tensor *x, tg_tensor *gy, const conv_attr *at);

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
typedef struct conv_blk {
    int64_t R, L, LX, PC; /* rows, plain and extended columns, padded row width */
    int64_t M;            /* col2im_ext's margin (conv_dx_into: rows LX + 2M apart) */
    void *cols;           /* R x (LX + 2M): one image's column block */
    void *fx;             /* F x LX: G_n or the product in the extended layout */
    void *wt;             /* R x F: the weight gradient transposed (conv_dw_into) */
    void *work;           /* the kernels' work area */
} conv_blk;

/* The geometry of one group of one image: the unit the kernels run. */
static tg__conv_geom one_image(const conv_attr *at)
{
    tg__conv_geom o = at->g;
    o.N = 1;
    o.C /= at->G;
    return o;
}

/* Elements of blk_make's scratch (one group's column block of one image
 * with its margins, F/G x LX, R x F/G and the kernels' work area) into
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
           tg__add_i64(n, t, &n) && tg__extents_product(2, (const int64_t[]){R, F}, lim, &t) &&
           tg__add_i64(n, t, &n) && tg__add_i64(n, tg__conv_work_len(g), &n) && n <= lim &&
           (*len = n, true);
}

static bool blk_make(tg_tape *tp, tg_dtype dt, const conv_attr *at, conv_blk *b)
{
    const tg__conv_geom g1 = one_image(at), *g = &g1;
    const int64_t F = at->F / at->G;
    const size_t es = tg_dtype_size(dt);
    int64_t len;
    if (!tg__conv_blk_len(at, &len))
        return tg__conv_geom_too_large(tp, "conv2d", &at->g, "column block of one image");
    b->R = tg__conv_geom_rows(g);
    b->L = g->OH * g->OW;
    b->LX = tg__conv_ext_cols(&g1);
    b->PC = b->LX / g->OH;
    b->M = tg__conv_ext_margin(&g1);
    const int64_t ncols = b->R * (b->LX + 2 * b->M);
    char *m = tg__conv_scratch(tp, dt, len);
    if (!m) return false;
    b->cols = m;
    b->fx = m + (size_t)ncols * es;
    b->wt = m + (size_t)(ncols + F * b->LX) * es;
    b->work = m + (size_t)(ncols + F * b->LX + b->R * F) * es;
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

/* y (+)= conv(x, w), y (N, F, OH, OW): per image, per group k, the gemm of
 * the group's rows of w with its channels' column block into its filters'
 * rows of y. */
static void conv_into(tg_dtype dt, const conv_attr *at, const void *x, const void *w, void *y,
                      bool acc, const conv_blk *b)
{
    const tg__conv_geom *g = &at->g, g1 = one_image(at);
    const int64_t F = at->F, Fg = F / at->G;
    if (F == 0) return; /* y has no elements: no image to walk, however many */
    const size_t es = tg_dtype_size(dt);
    const int64_t R = b->R, L = b->L, LX = b->LX, CHW = g->C * g->H * g->W,
                  GHW = g1.C * g->H * g->W;
    for (int64_t n = 0; n < g->N; n++)
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

/* dx (+)= input_grad(gy, w), dx (N, C, H, W).  The gemm writes the block
 * with a margin of zeros around each row (col2im_ext reads every tap's row
 * over a whole phase).  col2im_ext adds the block's padding columns to
 * other pixels, so they must be zero: W^T times G_n's zero columns is,
 * unless a weight is not finite (0 * Inf); then they are zeroed after each
 * gemm. */
static void conv_dx_into(tg_dtype dt, const conv_attr *at, const void *gy, const void *w, void *dx,
                         bool acc, const conv_blk *b)
{
    const tg__conv_geom *g = &at->g, g1 = one_image(at);
    if (g->C == 0 || g->H == 0 || g->W == 0) return; /* dx has no elements (see conv_into) */
    const size_t es = tg_dtype_size(dt);
    const int64_t F = at->F, Fg = F / at->G;
    const int64_t R = b->R, L = b->L, LX = b->LX, M = b->M, LD = LX + 2 * M,
                  CHW = g->C * g->H * g->W, GHW = g1.C * g->H * g->W;
    const bool clear = LX != L && !all_finite(dt, F * R, w);
    void *cols = TG_AT_MUT(b->cols, M, es);
    if (LX != L) tg__cols_ext_clear_pad(dt, &g1, Fg, b->fx, LX);
    for (int64_t r = 0; M > 0 && r < R; r++) {
        memset(TG_AT_MUT(b->cols, r * LD, es), 0, (size_t)M * es);
        memset(TG_AT_MUT(b->cols, r * LD + M + LX, es), 0, (size_t)M * es);
    }
    for (int64_t n = 0; n < g->N; n++)
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

/* dw (+)= weight_grad(x, gy), dw (F, C, KH, KW): each image's block is
 * remade (cheaper than keeping the whole batch's column matrix from the
 * forward pass: that is written once and read twice beyond the cache).
 * With more rows R than filters F the sum is made transposed, dW^T += A_n
 * G_n^T (R x F), and transposed into dw once: OpenBLAS's kernels run such a
 * product (many rows, few columns) faster than the one with few rows and
 * many columns (docs/performance.md has the measurements). */
static void conv_dw_into(tg_dtype dt, const conv_attr *at, const void *x, const void *gy, void *dw,
                         bool acc, const conv_blk *b)
{
    const tg__conv_geom *g = &at->g, g1 = one_image(at);
    const int64_t F = at->F, Fg = F / at->G;
    if (F == 0 || g->C == 0) return; /* dw has no elements (see conv_into) */
    const size_t es = tg_dtype_size(dt);
    const int64_t R = b->R, L = b->L, LX = b->LX, CHW = g->C * g->H * g->W,
                  GHW = g1.C * g->H * g->W;
    const bool dw_t = R > Fg;
    if (g->N == 0 && !acc && F * R > 0) memset(dw, 0, (size_t)(F * R) * es);
    if (LX != L) tg__cols_ext_clear_pad(dt, &g1, Fg, b->fx, LX);
    for (int64_t k = 0; k < at->G; k++) {
        void *dwk = TG_AT_MUT(dw, k * Fg * R, es);
        for (int64_t n = 0; n < g->N; n++) {
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
            if (dw_t)
                tg__gemm(dt, false, true, R, Fg, LX, 1.0, b->cols, LX, gn, LX, n > 0 ? 1.0 : 0.0,
                         b->wt, Fg);
            else
                tg__gemm(dt, false, true, Fg, R, LX, 1.0, gn, LX, b->cols, LX,
                         acc || n > 0 ? 1.0 : 0.0, dwk, R);
        }
        if (dw_t && g->N > 0) transpose_into(dt, R, Fg, b->wt, dwk, acc);
    }
}

/* db[f] (+)= sum_{n,l} gy[n,f,l], each image's row summed in eight lanes
 * of a wide accumulator (kernels/wsum.h), so that the loop vectorises and
 * the sum of N L terms stays accurate in f32 (the rounding differs from
 * tg_sum's, which sums rows of OW, only within an ulp of the sum). */
static void conv_db_into(tg_dtype dt, const tg__conv_geom *g, int64_t F, const void *gy, void *db,
                         bool acc)
{
    const int64_t L = g->OH * g->OW;
    TG_DISPATCH(dt, T, {
        const T *gv = gy;
        T *d = db;
        for (int64_t f = 0; f < F; f++) {
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
        }
    });
}

/* t + u, either NULL for zero */
static tg_tensor *add_opt(tg_tape *tp, tg_tensor *t, tg_tensor *u)
{
    return !t ? u : !u ? t : tg_add(tp, t, u);
}

/* ---- conv: y = conv(x, w) + b ---------------------------------------------
 * dx = input_grad(g, w), dw = weight_grad(x, g), db[f] = sum_{n,i,j} g[n,f,i,j]. */
static tg_status conv_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const conv_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *w = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg__conv2d_input_grad_op(tp, g, w, at);
    if (tg_node_needs_grad(n, 1)) gin[1] = conv_weight_grad(tp, x, g, at);
    if (tg_node_num_inputs(n) == 3 && tg_node_needs_grad(n, 2))
        gin[2] = tg_sum(tp, g, 3, (const int[]){0, 2, 3}, false);
    return TG_OK;
}
/* Each input's gradient straight into its buffer (blk: one image's column
 * block, arena scratch). */
static tg_status conv_direct(tg_tape *tp, const tg_node *n, const tg_tensor *gy, tg_grad_sink *k)
{
    const conv_attr *at = tg_node_saved(n);
    const tg_tensor *x = n->in[0], *w = n->in[1];
    const tg_dtype dt = gy->dtype;
    conv_blk blk;
    if (!blk_make(tp, dt, at, &blk)) return tg_tape_status(tp);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (d) conv_dx_into(dt, at, gy->data, w->data, d->data, acc, &blk);
    if (!tg__tape_ok(tp)) return tg_tape_status(tp);
    d = tg_grad_sink_buffer(k, 1, &acc);
    if (d) conv_dw_into(dt, at, x->data, gy->data, d->data, acc, &blk);
    if (!tg__tape_ok(tp)) return tg_tape_status(tp);
    if (n->n_in == 3 && (d = tg_grad_sink_buffer(k, 2, &acc)))
        conv_db_into(dt, &at->g, at->F, gy->data, d->data, acc);
    return tg_tape_status(tp);
}
/* bilinear in (x, w), plus b: conv(tx, w) + conv(x, tw) + tb */
static tg_status conv_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const conv_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *w = tg_node_input(n, 1), *t = NULL;
    if (tin[0]) t = tg__conv2d_op(tp, tin[0], w, NULL, at);
    if (tin[1]) t = add_opt(tp, t, tg__conv2d_op(tp, x, tin[1], NULL, at));
    if (tg_node_num_inputs(n) == 3 && tin[2]) {
        const tg_tensor *y = tg_node_output(n);
        tg_tensor *tb = tg_reshape(tp, tin[2], 4, (const int64_t[]){1, at->F, 1, 1});
        t = t ? tg_add(tp, t, tb) : tg_broadcast_to(tp, tb, y->ndim, y->shape);
    }
    *tout = t;
    return TG_OK;
}

int tg__conv_geom_attrs(const tg__conv_geom *g, int64_t G, char *buf, size_t size)
{
    char d[48] = "", gr[32] = "";
    if (g->DH != 1 || g->DW != 1)
        snprintf(d, sizeof d, ", dilation=(%lld,%lld)", (long long)g->DH, (long long)g->DW);
    if (G != 1) snprintf(gr, sizeof gr, ", groups=%lld", (long long)G);
    return snprintf(buf, size, "kernel=(%lld,%lld), stride=(%lld,%lld), padding=(%lld,%lld)%s%s",
                    (long long)g->KH, (long long)g->KW, (long long)g->SH, (long long)g->SW,
                    (long long)g->PH, (long long)g->PW, d, gr);
}

static int conv_attrs(const tg_node *n, char *buf, size_t size)
{
    const conv_attr *at = tg_node_saved(n);
    return tg__conv_geom_attrs(&at->g, at->G, buf, size);
}

static const tg_op k_conv2d = {
    .name = "conv2d",
    .arity = -1,
    .backward = conv_backward,
    .direct = conv_direct,
    .scalar = NULL,
    .jvp = conv_jvp,
    .formula =
        "dx += conv_transpose2d(g, w);  dw += sum_n correlate(x_n, g_n);  db += sum_{n,i,j} g",
    .attrs = conv_attrs};

/* ---- input_grad(g, w): v = W^T G scattered back by col2im ----------------
 * linear in g and in w:  <input_grad(g, w), vbar> = <g, conv(vbar, w)>, so
 * dg = conv(vbar, w) and dw = weight_grad(vbar, g). */
static tg_status input_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *vbar,
                                     tg_tensor **gin)
{
    const conv_attr *at = tg_node_saved(n);
    tg_tensor *gy = tg_node_input(n, 0), *w = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg__conv2d_op(tp, vbar, w, NULL, at);
    if (tg_node_needs_grad(n, 1)) gin[1] = conv_weight_grad(tp, vbar, gy, at);
    return TG_OK;
}
/* dg (+)= conv(vbar, w), dw (+)= weight_grad(vbar, g). */
static tg_status input_grad_direct(tg_tape *tp, const tg_node *n, const tg_tensor *vbar,
                                   tg_grad_sink *k)
{
    const conv_attr *at = tg_node_saved(n);
    const tg_tensor *gy = n->in[0], *w = n->in[1];
    const tg_dtype dt = vbar->dtype;
    conv_blk blk;
    if (!blk_make(tp, dt, at, &blk)) return tg_tape_status(tp);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (d) conv_into(dt, at, vbar->data, w->data, d->data, acc, &blk);
    if (!tg__tape_ok(tp)) return tg_tape_status(tp);
    d = tg_grad_sink_buffer(k, 1, &acc);
    if (d) conv_dw_into(dt, at, vbar->data, gy->data, d->data, acc, &blk);
    return tg_tape_status(tp);
}
/* bilinear: input_grad(tg, w) + input_grad(g, tw) */
static tg_status input_grad_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                                tg_tensor **tout)
{
    const conv_attr *at = tg_node_saved(n);
    tg_tensor *gy = tg_node_input(n, 0), *w = tg_node_input(n, 1), *t = NULL;
    if (tin[0]) t = tg__conv2d_input_grad_op(tp, tin[0], w, at);
    if (tin[1]) t = add_opt(tp, t, tg__conv2d_input_grad_op(tp, gy, tin[1], at));
    *tout = t;
    return TG_OK;
}
static const tg_op k_conv2d_input_grad = {
    .name = "conv2d_input_grad",
    .arity = 2,
    .backward = input_grad_backward,
    .direct = input_grad_direct,
    .scalar = NULL,
    .jvp = input_grad_jvp,
    .formula =
        "da += conv2d(g, b);  db += conv2d_weight_grad(g, a)  (a: the output gradient, b: w)",
    .attrs = conv_attrs};

/* ---- weight_grad(x, g): G A^T --------------------------------------------
 * linear in x and in g:  <weight_grad(x, g), mbar> = <g, conv(x, mbar)>, so
 * dx = input_grad(g, mbar) and dg = conv(x, mbar). */
static tg_status weight_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *mbar,
                                      tg_tensor **gin)
{
    const conv_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *gy = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg__conv2d_input_grad_op(tp, gy, mbar, at);
    if (tg_node_needs_grad(n, 1)) gin[1] = tg__conv2d_op(tp, x, mbar, NULL, at);
    return TG_OK;
}
/* dx (+)= input_grad(g, mbar), dg (+)= conv(x, mbar). */
static tg_status weight_grad_direct(tg_tape *tp, const tg_node *n, const tg_tensor *mbar,
                                    tg_grad_sink *k)
{
    const conv_attr *at = tg_node_saved(n);
    const tg_tensor *x = n->in[0];
    const tg_dtype dt = mbar->dtype;
    conv_blk blk;
    if (!blk_make(tp, dt, at, &blk)) return tg_tape_status(tp);
    const tg_tensor *gy = n->in[1];
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (d) conv_dx_into(dt, at, gy->data, mbar->data, d->data, acc, &blk);
    if (!tg__tape_ok(tp)) return tg_tape_status(tp);
    d = tg_grad_sink_buffer(k, 1, &acc);
    if (d) conv_into(dt, at, x->data, mbar->data, d->data, acc, &blk);
    return tg_tape_status(tp);
}
/* bilinear: weight_grad(tx, g) + weight_grad(x, tg) */
static tg_status weight_grad_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                                 tg_tensor **tout)
{
    const conv_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *gy = tg_node_input(n, 1), *t = NULL;
    if (tin[0]) t = conv_weight_grad(tp, tin[0], gy, at);
    if (tin[1]) t = add_opt(tp, t, conv_weight_grad(tp, x, tin[1], at));
    *tout = t;
    return TG_OK;
}
static const tg_op k_conv2d_weight_grad = {
    .name = "conv2d_weight_grad",
    .arity = 2,
    .backward = weight_grad_backward,
    .direct = weight_grad_direct,
    .scalar = NULL,
    .jvp = weight_grad_jvp,
    .formula = "da += conv2d_input_grad(b, g);  db += conv2d(a, g)  (a: x, b: the output gradient)",
    .attrs = conv_attrs};

/* The three ops are reached from the public entry points (conv_api.c),
 * which validate the geometry, and from each other's backward rules, with
 * shapes that follow from it; a mismatch (tg__expect_shape4) means a
 * gradient of the wrong shape was handed in (a bug), reported as a shape
 * error rather than read out of bounds. */
tg_tensor *tg__conv2d_op(tg_tape *tp, tg_tensor *x, tg_tensor *w, tg_tensor *bias,
                         const conv_attr *at)
{
    tg_tensor *in[3] = {x, w, bias};
    const int n_in = bias ? 3 : 2;
    const tg__conv_geom *g = &at->g;
    if (!tg_tape_check_inputs(tp, k_conv2d.name, n_in, in)) return NULL;
    if (!tg__same_dtype(tp, k_conv2d.name, x, w)) return NULL;
    const int64_t F = at->F;
    if (!tg__expect_shape4(tp, "conv2d", "the input", x, g->N, g->C, g->H, g->W) ||
        !tg__expect_shape4(tp, "conv2d", "the weight", w, F, g->C / at->G, g->KH, g->KW))
        return NULL;
    const tg_dtype dt = x->dtype;
    const int64_t L = g->OH * g->OW;
    tg_tensor *out = tg_tape_alloc(tp, dt, 4, (const int64_t[]){g->N, F, g->OH, g->OW});
    if (!out) return NULL;
    conv_blk blk;
    if (!blk_make(tp, dt, at, &blk)) return NULL;
    /* Each image's product y[n] = W A_n goes straight into the NCHW output,
     * onto the bias copied in first (beta 1).  The column block A_n is made
     * in cache and not kept: the weight gradient remakes it, which is cheaper
     * than writing and rereading the whole batch's matrix. */
    if (bias)
        TG_DISPATCH(dt, T, {
            const T *bv = bias->data;
            T *o = out->data;
            for (int64_t nf = 0; nf < g->N * F; nf++)
                for (int64_t l = 0; l < L; l++) o[nf * L + l] = bv[nf % F];
        });
    conv_into(dt, at, x->data, w->data, out->data, bias != NULL, &blk);
    return tg_tape_record(tp, &k_conv2d, n_in, in, out, at, sizeof *at, 0, NULL);
}

tg_tensor *tg__conv2d_input_grad_op(tg_tape *tp, tg_tensor *gy, tg_tensor *w, const conv_attr *at)
{
    tg_tensor *in[2] = {gy, w};
    const char *name = k_conv2d_input_grad.name;
    const tg__conv_geom *g = &at->g;
    if (!tg_tape_check_inputs(tp, name, 2, in)) return NULL;
    if (!tg__same_dtype(tp, name, gy, w)) return NULL;
    const int64_t F = at->F;
    if (!tg__expect_shape4(tp, name, "the weight", w, F, g->C / at->G, g->KH, g->KW) ||
        !tg__expect_shape4(tp, name, "the output gradient", gy, g->N, F, g->OH, g->OW))
        return NULL;
    const tg_dtype dt = gy->dtype;
    tg_tensor *out = tg_tape_alloc(tp, dt, 4, (const int64_t[]){g->N, g->C, g->H, g->W});
    if (!out) return NULL;
    conv_blk blk;
    if (!blk_make(tp, dt, at, &blk)) return NULL;
    conv_dx_into(dt, at, gy->data, w->data, out->data, false, &blk);
    return tg_tape_record(tp, &k_conv2d_input_grad, 2, in, out, at, sizeof *at, 0, NULL);
}

static tg_tensor *conv_weight_grad(tg_tape *tp, tg_tensor *x, tg_tensor *gy, const conv_attr *at)
{
    tg_tensor *in[2] = {x, gy};
    const char *name = k_conv2d_weight_grad.name;
    const tg__conv_geom *g = &at->g;
    const int64_t F = at->F;
    if (!tg_tape_check_inputs(tp, name, 2, in)) return NULL;
    if (!tg__same_dtype(tp, name, x, gy)) return NULL;
    if (!tg__expect_shape4(tp, name, "the input", x, g->N, g->C, g->H, g->W) ||
        !tg__expect_shape4(tp, name, "the output gradient", gy, g->N, F, g->OH, g->OW))
        return NULL;
    const tg_dtype dt = x->dtype;
    tg_tensor *out = tg_tape_alloc(tp, dt, 4, (const int64_t[]){F, g->C / at->G, g->KH, g->KW});
    if (!out) return NULL;
    conv_blk blk;
    if (!blk_make(tp, dt, at, &blk)) return NULL;
    conv_dw_into(dt, at, x->data, gy->data, out->data, false, &blk);
    return tg_tape_record(tp, &k_conv2d_weight_grad, 2, in, out, at, sizeof *at, 0, NULL);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_conv[] = {&k_conv2d, &k_conv2d_input_grad, &k_conv2d_weight_grad, NULL};
