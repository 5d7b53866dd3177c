/* What conv.c shares with conv_cols.c: the checks that turn an op's
 * arguments into a convolution geometry, failing on the tape with a message
 * that names the op and the shapes, and the arena scratch the kernels work
 * in.  Internal (tg__), never in include/. */
#ifndef TG_OPS_CONV_H
#define TG_OPS_CONV_H

#include "../core/internal.h"
#include "../kernels/im2col.h"

/* Arena scratch of n elements of dt (at least one byte). */
void *tg__conv_scratch(tg_tape *tp, tg_dtype dt, int64_t n);
/* The geometry of the (N,C,H,W) input x and a kh x kw kernel with the given
 * stride and padding; false (tape failed) on bad arguments. */
bool tg__conv_geom_from_args(tg_tape *tp, const char *op, const tg_tensor *x, int64_t kh,
                             int64_t kw, int sh, int sw, int ph, int pw, tg__conv_geom *g);
/* The sizes g implies within TG_NUMEL_MAX: with F >= 0 filters for conv2d,
 * with F < 0 for im2col / col2im; false (tape failed) otherwise. */
bool tg__conv_geom_sizes_ok(tg_tape *tp, const char *op, const tg__conv_geom *g, int64_t F);
/* Is t 4-d?  Otherwise the tape fails naming op, what and the axes. */
bool tg__conv_expect_4d(tg_tape *tp, const char *op, const char *what, const tg_tensor *t,
                        const char *axes);

#endif
