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

#endif
