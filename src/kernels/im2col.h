/* im2col / col2im kernels for 2-d convolution and their geometry (internal).
 *
 * The column matrix has the layout of seed 002 section 2, matrix A: one row
 * per kernel tap (c, p, q), one column per output position (n, i, j), with
 * the batch as the slowest column index, so a whole-batch convolution is a
 * single gemm  U[F, N*OH*OW] = W[F, C*KH*KW] @ A[C*KH*KW, N*OH*OW]:
 *
 *   A[(c*KH + p)*KW + q][(n*OH + i)*OW + j] = x[n][c][i*SH - PH + p*DH][j*SW - PW + q*DW]
 *
 * (DH, DW the dilation, 1 for a plain convolution; zero where the input index falls in the
 * padding).  col2im is the adjoint: it adds every entry of A back to the input position it was read
 * from. */
#ifndef TG_KERNELS_IM2COL_H
#define TG_KERNELS_IM2COL_H

#include "tapegrad/tensor.h"

typedef struct tg__conv_geom {
    int64_t N, C, H, W;     /* input extents (NCHW) */
    int64_t KH, KW;         /* kernel extents */
    int64_t SH, SW, PH, PW; /* strides (>= 1) and zero padding (>= 0) */
    int64_t OH, OW;         /* output extents: (H + 2 PH - (KH - 1) DH - 1) / SH + 1, ... */
    int64_t DH, DW;         /* dilation (>= 1): tap p reads input row i*SH - PH + p*DH */
} tg__conv_geom;

/* Why tg__conv_geom_make refuses a geometry. */
typedef enum tg__geom_err {
    TG__GEOM_OK,
    TG__GEOM_ARG,  /* a stride < 1, a padding < 0 or a kernel extent < 1 */
    TG__GEOM_SIZE, /* the input's extents, or its padded extents, exceed TG_NUMEL_MAX */
    TG__GEOM_FIT,  /* the kernel does not fit the padded input */
} tg__geom_err;

/* One axis of the output: (in + 2 pad - k) / stride + 1 into *out, with
 * the padded extent in + 2 pad into *padded.  TG__GEOM_SIZE when the padded
 * extent exceeds TG_NUMEL_MAX (in, pad >= 0, k, stride >= 1), TG__GEOM_FIT
 * when k is larger than it. */
tg__geom_err tg__conv_out_extent(int64_t in, int64_t pad, int64_t k, int64_t stride,
                                 int64_t *padded, int64_t *out);

/* The geometry of a kernel kh x kw (strides sh, sw, padding ph, pw) over an
 * NCHW input of the given shape, OH and OW included.  The input's extents
 * are checked against TG_NUMEL_MAX (tg__extents_product: col2im takes them
 * from the caller), so that the sizes below can be checked without
 * overflow; the sizes the caller allocates (its output, and
 * tg__conv_geom_kernel_ok for the kernels) are the caller's to check. */
tg__geom_err tg__conv_geom_make(tg__conv_geom *g, const int64_t nchw[4], int64_t kh, int64_t kw,
                                int64_t sh, int64_t sw, int64_t ph, int64_t pw);
/* The same with dilation dh, dw (>= 1; TG__GEOM_ARG otherwise): the kernel
 * spans (kh - 1) dh + 1 rows, which must fit the padded input
 * (TG__GEOM_FIT, also when the span itself overflows). */
tg__geom_err tg__conv_geom_make_dil(tg__conv_geom *g, const int64_t nchw[4], int64_t kh, int64_t kw,
                                    int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh,
                                    int64_t dw);
/* Are the sizes the im2col / col2im kernels derive from g at most
 * TG_NUMEL_MAX: the work area (tg__conv_work_len) and one image's block in
 * the extended layout with its margins?  Every op that runs the kernels
 * checks this when it validates the geometry: the work area grows with
 * SH * SW (one phase per stride offset), so a huge stride with a huge
 * padding gives a geometry whose output is small but whose work area is
 * not, and its length must not wrap.  Then those sizes, and the indexes
 * into them, are computed without checks. */
bool tg__conv_geom_kernel_ok(const tg__conv_geom *g);
/* Rows and columns of the column matrix. */
static inline int64_t tg__conv_geom_rows(const tg__conv_geom *g)
{
    return g->C * g->KH * g->KW;
}
static inline int64_t tg__conv_geom_cols(const tg__conv_geom *g)
{
    return g->N * g->OH * g->OW;
}

/* Elements of the scratch both kernels need beside their output: the
 * padded, stride-split copy of one image plane (im2col.c). */
int64_t tg__conv_work_len(const tg__conv_geom *g);

/* cols[rows x cols] = im2col(x[N,C,H,W]); every entry is written.  A
 * geometry with N = 1 and x pointing at image n gives the column block of
 * that one image (rows x OH*OW), the unit the direct backward rules work on
 * so that it stays in cache.  work: tg__conv_work_len(g) elements. */
void tg__im2col(tg_dtype dt, const tg__conv_geom *g, const void *x, void *cols, void *work);
/* x[N,C,H,W] (+)= col2im(cols): each column entry is added at the input
 * position im2col read it from (padding entries are dropped); x is zeroed
 * first unless accumulate is set (then the result is added to x).  work as
 * for tg__im2col; cols and x must not overlap it. */
void tg__col2im(tg_dtype dt, const tg__conv_geom *g, const void *cols, void *x, bool accumulate,
                void *work);
/* The extended layout the convolution's per-image gemms use: each output
 * row padded from OW to PC = OW + (KW - 1) DW / SW columns (rows of
 * tg__conv_ext_cols(g) = N*OH*PC entries), so that a kernel tap's row is one
 * run of the stride-split plane instead of OH runs of OW: the column matrix
 * with columns inserted.
 *
 * im2col_ext writes the inserted columns as zeros when zero_pad is set, else
 * leaves in them values of the plane (finite if the plane is: a product
 * whose padding columns are dropped needs no zeros).
 *
 * col2im_ext takes the block of one image (g->N == 1) whose rows are ld
 * apart, each row with tg__conv_ext_margin(g) zeros before and after its
 * OH*PC entries (ld >= OH*PC + 2 * margin; cols points at row 0's first
 * entry), and its inserted columns zero (tg__cols_ext_clear_pad zeroes them
 * in `rows` rows ld apart): it reads every tap's row over a whole phase. */
int64_t tg__conv_ext_cols(const tg__conv_geom *g);
int64_t tg__conv_ext_margin(const tg__conv_geom *g);
void tg__im2col_ext(tg_dtype dt, const tg__conv_geom *g, const void *x, void *cols, void *work,
                    bool zero_pad);
void tg__col2im_ext(tg_dtype dt, const tg__conv_geom *g, const void *cols, int64_t ld, void *x,
                    bool accumulate, void *work);
void tg__cols_ext_clear_pad(tg_dtype dt, const tg__conv_geom *g, int64_t rows, void *cols,
                            int64_t ld);

#endif
