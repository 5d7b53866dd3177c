/* What conv.c shares with conv_api.c and conv_cols.c: the checks that turn an op's
 * arguments into a convolution geometry, failing on the tape with a message
 * that names the op and the shapes, and the arena scratch the kernels work
 * in.  Internal (tg__), never in include/. */
#ifndef TG_OPS_CONV_H
#define TG_OPS_CONV_H

#include "../core/internal.h"
#include "../kernels/im2col.h"

/* What a recorded convolution op saves: the geometry (C: all the input's
 * channels), the filters F and the groups G (G divides C and F). */
typedef struct tg__conv_attr {
    tg__conv_geom g;
    int64_t F, G;
} tg__conv_attr;

/* Arena scratch of n elements of dt (at least one byte). */
void *tg__conv_scratch(tg_tape *tp, tg_dtype dt, int64_t n);
/* The geometry of the (N,C,H,W) input x and a kh x kw kernel with the given
 * stride and padding; false (tape failed) on bad arguments. */
bool tg__conv_geom_from_args(tg_tape *tp, const char *op, const tg_tensor *x, int64_t kh,
                             int64_t kw, int sh, int sw, int ph, int pw, tg__conv_geom *g);
/* The same with dilation (dh, dw), the geometry of an input of extents
 * nchw; shown is the tensor the messages name (conv1d's 3-d input). */
bool tg__conv_geom_from_args_dil(tg_tape *tp, const char *op, const tg_tensor *shown,
                                 const int64_t nchw[4], int64_t kh, int64_t kw, int sh, int sw,
                                 int ph, int pw, int dh, int dw, tg__conv_geom *g);
/* The sizes g implies within TG_NUMEL_MAX: with F >= 0 filters in G groups
 * for a convolution, with F < 0 for im2col / col2im; false (tape failed)
 * otherwise. */
bool tg__conv_geom_sizes_ok(tg_tape *tp, const char *op, const tg__conv_geom *g, int64_t F,
                            int64_t G);
/* Fails with a message naming op, the geometry and what would be too
 * large (a size this geometry implies exceeds TG_NUMEL_MAX); false. */
bool tg__conv_geom_too_large(tg_tape *tp, const char *op, const tg__conv_geom *g, const char *what);
/* Elements of the scratch the convolution kernels take for at (conv.c):
 * false when beyond TG_NUMEL_MAX. */
bool tg__conv_blk_len(const tg__conv_attr *at, int64_t *len);
/* The recorded ops of conv.c on a validated geometry: y = conv(x, w) + b
 * (bias may be NULL) and its input gradient, input_grad(gy, w), which is
 * also the transposed convolution. */
tg_tensor *tg__conv2d_op(tg_tape *tp, tg_tensor *x, tg_tensor *w, tg_tensor *bias,
                         const tg__conv_attr *at);
tg_tensor *tg__conv2d_input_grad_op(tg_tape *tp, tg_tensor *gy, tg_tensor *w,
                                    const tg__conv_attr *at);
/* Attribute printer (tg_attrs_fn style) of a geometry: "kernel=(3,3),
 * stride=(1,1), padding=(1,1)", then dilation and groups (G) when not 1. */
int tg__conv_geom_attrs(const tg__conv_geom *g, int64_t G, char *buf, size_t size);
/* Is t 4-d?  Otherwise the tape fails naming op, what and the axes. */
bool tg__conv_expect_4d(tg_tape *tp, const char *op, const char *what, const tg_tensor *t,
                        const char *axes);

/* ---- the three maps on raw data (conv_maps.c) ------------------------------
 * One image's column block and its work area, per chunk of images (one
 * chunk per thread), and the partial sums of the weight gradient. */
typedef struct tg__conv_blk {
    int64_t R, L, LX, PC; /* rows, plain and extended columns, padded row width */
    int64_t M;            /* col2im_ext's margin (conv_dx_into: rows LX + 2M apart) */
    void *cols;           /* R x (LX + 2M): one image's column block */
    void *fx;             /* F x LX: G_n or the product in the extended layout */
    void *work;           /* the kernels' work area */
    int64_t len;          /* elements of the above: chunk t's are t * len further */
    int nt;               /* chunks of images, one per thread (chunk_blk) */
    int64_t P;            /* pieces of conv_dw_into's sum over the images */
    void *part;           /* G x P x (F/G * R): each piece's partial sum */
    bool direct;          /* forward and weight gradient by conv_direct.c */
} tg__conv_blk;
/* The scratch of the maps of at on dt: false (tape failed) when too large. */
bool tg__conv_blk_make(tg_tape *tp, tg_dtype dt, const tg__conv_attr *at, tg__conv_blk *b);
/* y (+)= conv(x, w);  dx (+)= input_grad(gy, w);  dw (+)= weight_grad(x, gy);
 * db (+)= the sum of gy over its axes 0, 2, 3 (raw data of the shapes at gives). */
void tg__conv_into(tg_dtype dt, const tg__conv_attr *at, const void *x, const void *w, void *y,
                   bool acc, const tg__conv_blk *b);
void tg__conv_dx_into(tg_dtype dt, const tg__conv_attr *at, const void *gy, const void *w, void *dx,
                      bool acc, const tg__conv_blk *b);
void tg__conv_dw_into(tg_dtype dt, const tg__conv_attr *at, const void *x, const void *gy, void *dw,
                      bool acc, const tg__conv_blk *b);
void tg__conv_db_into(tg_dtype dt, const tg__conv_geom *g, int64_t F, const void *gy, void *db,
                      bool acc);

/* ---- the direct kernels for few taps (conv_direct.c) -----------------------
 * Whether at's shapes take them (one group, horizontal stride 1, few taps
 * and filters); the scratch elements of one chunk of images (false past
 * TG_NUMEL_MAX); y (+)= conv(x, w) for images [n0, n1); part (F x R) = the
 * weight gradient's sum over images [n0, n1).  work: the chunk's scratch. */
bool tg__conv_direct_fits(const tg__conv_attr *at);
bool tg__conv_direct_len(const tg__conv_attr *at, int64_t *len);
void tg__conv_direct_fwd(tg_dtype dt, const tg__conv_attr *at, const void *x, const void *w,
                         void *y, bool acc, int64_t n0, int64_t n1, void *work);
void tg__conv_direct_dw(tg_dtype dt, const tg__conv_attr *at, const void *x, const void *gy,
                        void *part, int64_t n0, int64_t n1, void *work);

#endif
