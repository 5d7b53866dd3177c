/* tapegrad: every differentiable op, one line of math each.
 *
 * Every op takes the tape first, returns a new tape-owned tensor, and on any
 * error (NULL input, bad shape, dtype mismatch, tape in error, out of memory)
 * returns NULL, leaves its inputs untouched and sets the tape's sticky error.
 * Inputs of one op must share a dtype (tg_cast converts).  Binary ops
 * broadcast the NumPy way: shapes are aligned at the right, and an extent of
 * 1 stretches; their gradient is summed back to each input's shape. */
#ifndef TAPEGRAD_OPS_H
#define TAPEGRAD_OPS_H

#include "export.h"

#include "autodiff.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- elementwise binary, broadcasting (ops/elementwise.c) -------------- */
TG_API tg_tensor *tg_add(tg_tape *tp, tg_tensor *a, tg_tensor *b); /* a + b */
TG_API tg_tensor *tg_sub(tg_tape *tp, tg_tensor *a, tg_tensor *b); /* a - b */
TG_API tg_tensor *tg_mul(tg_tape *tp, tg_tensor *a, tg_tensor *b); /* a * b */
TG_API tg_tensor *tg_div(tg_tape *tp, tg_tensor *a, tg_tensor *b); /* a / b */
TG_API tg_tensor *tg_pow(tg_tape *tp, tg_tensor *a, tg_tensor *b); /* a ^ b; d/db = a^b log a */
TG_API tg_tensor *tg_maximum(tg_tape *tp, tg_tensor *a,
                             tg_tensor *b); /* max(a, b); ties split 1/2 */
TG_API tg_tensor *tg_minimum(tg_tape *tp, tg_tensor *a,
                             tg_tensor *b); /* min(a, b); ties split 1/2 */
TG_API tg_tensor *tg_atan2(tg_tape *tp, tg_tensor *a,
                           tg_tensor *b); /* atan2(a, b); d/da = b/(a^2+b^2), d/db = -a/(a^2+b^2) */
TG_API tg_tensor *tg_hypot(tg_tape *tp, tg_tensor *a,
                           tg_tensor *b); /* sqrt(a^2+b^2); d/da = a/y, d/db = b/y */

/* ---- scalar variants (ops/elementwise.c) ------------------------------- */
TG_API tg_tensor *tg_add_scalar(tg_tape *tp, tg_tensor *x, double s);  /* x + s */
TG_API tg_tensor *tg_mul_scalar(tg_tape *tp, tg_tensor *x, double s);  /* x * s */
TG_API tg_tensor *tg_rsub_scalar(tg_tape *tp, double s, tg_tensor *x); /* s - x */
TG_API tg_tensor *tg_rdiv_scalar(tg_tape *tp, double s, tg_tensor *x); /* s / x */
TG_API tg_tensor *tg_pow_scalar(tg_tape *tp, tg_tensor *x, double p);  /* x ^ p; d/dx = p x^(p-1) */

/* ---- elementwise unary (ops/activation.c) ------------------------------ */
TG_API tg_tensor *tg_neg(tg_tape *tp, tg_tensor *x);      /* -x */
TG_API tg_tensor *tg_exp(tg_tape *tp, tg_tensor *x);      /* e^x;          d = e^x */
TG_API tg_tensor *tg_log(tg_tape *tp, tg_tensor *x);      /* ln x;         d = 1/x */
TG_API tg_tensor *tg_sin(tg_tape *tp, tg_tensor *x);      /* sin x;        d = cos x */
TG_API tg_tensor *tg_cos(tg_tape *tp, tg_tensor *x);      /* cos x;        d = -sin x */
TG_API tg_tensor *tg_sqrt(tg_tape *tp, tg_tensor *x);     /* sqrt x;       d = 1/(2 sqrt x) */
TG_API tg_tensor *tg_square(tg_tape *tp, tg_tensor *x);   /* x^2;          d = 2x */
TG_API tg_tensor *tg_abs(tg_tape *tp, tg_tensor *x);      /* |x|;          d = sign x (0 at 0) */
TG_API tg_tensor *tg_sigmoid(tg_tape *tp, tg_tensor *x);  /* 1/(1+e^-x);   d = y(1-y) */
TG_API tg_tensor *tg_tanh(tg_tape *tp, tg_tensor *x);     /* tanh x;       d = 1-y^2 */
TG_API tg_tensor *tg_relu(tg_tape *tp, tg_tensor *x);     /* max(x, 0);    d = [x > 0] */
TG_API tg_tensor *tg_softplus(tg_tape *tp, tg_tensor *x); /* ln(1+e^x);    d = sigmoid x */
/* Elementary functions (ops/elementary.c); outside a domain: libm's NaN/inf. */
TG_API tg_tensor *tg_tan(tg_tape *tp, tg_tensor *x);   /* tan x;        d = 1+y^2 */
TG_API tg_tensor *tg_asin(tg_tape *tp, tg_tensor *x);  /* asin x;       d = 1/sqrt(1-x^2) */
TG_API tg_tensor *tg_acos(tg_tape *tp, tg_tensor *x);  /* acos x;       d = -1/sqrt(1-x^2) */
TG_API tg_tensor *tg_atan(tg_tape *tp, tg_tensor *x);  /* atan x;       d = 1/(1+x^2) */
TG_API tg_tensor *tg_sinh(tg_tape *tp, tg_tensor *x);  /* sinh x;       d = cosh x */
TG_API tg_tensor *tg_cosh(tg_tape *tp, tg_tensor *x);  /* cosh x;       d = sinh x */
TG_API tg_tensor *tg_asinh(tg_tape *tp, tg_tensor *x); /* asinh x;      d = 1/sqrt(x^2+1) */
TG_API tg_tensor *tg_acosh(tg_tape *tp, tg_tensor *x); /* acosh x;      d = 1/sqrt(x^2-1) */
TG_API tg_tensor *tg_atanh(tg_tape *tp, tg_tensor *x); /* atanh x;      d = 1/(1-x^2) */
TG_API tg_tensor *tg_erf(tg_tape *tp, tg_tensor *x);   /* erf x;        d = 2/sqrt(pi) e^(-x^2) */
TG_API tg_tensor *tg_erfc(tg_tape *tp, tg_tensor *x);  /* 1 - erf x;    d = -2/sqrt(pi) e^(-x^2) */
TG_API tg_tensor *tg_expm1(tg_tape *tp, tg_tensor *x); /* e^x - 1;      d = y+1 */
TG_API tg_tensor *tg_log1p(tg_tape *tp, tg_tensor *x); /* ln(1+x);      d = 1/(1+x) */
TG_API tg_tensor *tg_log2(tg_tape *tp, tg_tensor *x);  /* log2 x;       d = 1/(x ln 2) */
TG_API tg_tensor *tg_log10(tg_tape *tp, tg_tensor *x); /* log10 x;      d = 1/(x ln 10) */
TG_API tg_tensor *tg_exp2(tg_tape *tp, tg_tensor *x);  /* 2^x;          d = y ln 2 */
TG_API tg_tensor *tg_cbrt(tg_tape *tp, tg_tensor *x);  /* x^(1/3);      d = 1/(3y^2) */
TG_API tg_tensor *tg_reciprocal(tg_tape *tp, tg_tensor *x); /* 1/x;          d = -y^2 */
TG_API tg_tensor *tg_rsqrt(tg_tape *tp, tg_tensor *x);      /* 1/sqrt x;     d = -y^3/2 */
/* Activations (ops/activation.c); at a corner, PyTorch's gradient. */
TG_API tg_tensor *tg_silu(tg_tape *tp, tg_tensor *x); /* x sigmoid x;  d = s(1+x(1-s)) */
TG_API tg_tensor *tg_gelu(tg_tape *tp, tg_tensor *x); /* x Phi(x);     d = Phi(x) + x phi(x) */
/* PyTorch's gelu(approximate='tanh'): x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2 */
TG_API tg_tensor *tg_gelu_tanh(tg_tape *tp, tg_tensor *x);
TG_API tg_tensor *tg_softsign(tg_tape *tp, tg_tensor *x); /* x/(1+|x|);    d = 1/(1+|x|)^2 */
TG_API tg_tensor *tg_mish(tg_tape *tp, tg_tensor *x);     /* x tanh(softplus x) */
TG_API tg_tensor *tg_leaky_relu(tg_tape *tp, tg_tensor *x,
                                double slope); /* x > 0 ? x : slope x;  d = x > 0 ? 1 : slope */
TG_API tg_tensor *tg_elu(tg_tape *tp, tg_tensor *x,
                         double alpha); /* x > 0 ? x : alpha(e^x-1);  d = x > 0 ? 1 : alpha e^x */
TG_API tg_tensor *tg_hardtanh(tg_tape *tp, tg_tensor *x, double lo,
                              double hi); /* min(max(x, lo), hi);  d = [lo < x < hi]; lo <= hi */
/* Non-differentiable helpers (gradient zero), used by backward rules. */
TG_API tg_tensor *tg_sign(tg_tape *tp, tg_tensor *x); /* -1, 0, 1 */
TG_API tg_tensor *tg_step(tg_tape *tp, tg_tensor *x); /* [x > 0] as 0/1 */
/* Identity whose gradient is zero (stop-gradient). */
TG_API tg_tensor *tg_detach(tg_tape *tp, tg_tensor *x);
/* Convert dtype; the gradient is cast back. */
TG_API tg_tensor *tg_cast(tg_tape *tp, tg_tensor *x, tg_dtype dt);

/* ---- reductions (ops/reduce.c) ----------------------------------------- */
TG_API tg_tensor *tg_sum_all(tg_tape *tp, tg_tensor *x);  /* sum of all elements, 0-d */
TG_API tg_tensor *tg_mean_all(tg_tape *tp, tg_tensor *x); /* mean of all elements, 0-d */
/* Sum / mean over the naxes axes listed (negative counts from the end).
 * naxes 0 is an error (TG_ERR_AXIS), axes NULL or not: NumPy reads an empty
 * list as "no axis", PyTorch as "every axis"; use tg_sum_all / tg_mean_all
 * for every axis (or list them all, for keepdim).  A 0-d x takes axis 0 or
 * -1 (as in PyTorch; so do tg_max, tg_softmax, tg_log_softmax and
 * tg_transpose): the identity, with a 0-d result even with keepdim. */
TG_API tg_tensor *tg_sum(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, bool keepdim);
TG_API tg_tensor *tg_mean(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, bool keepdim);
/* Max along one axis; the gradient goes to the first arg-max (a NaN counts
 * as the largest value, as in NumPy). */
TG_API tg_tensor *tg_max(tg_tape *tp, tg_tensor *x, int axis, bool keepdim);
/* Sum x down to a shape it broadcasts to (the adjoint of tg_broadcast_to). */
TG_API tg_tensor *tg_sum_to(tg_tape *tp, tg_tensor *x, int ndim, const int64_t *shape);

/* ---- shape (ops/shape.c) ------------------------------------------------ */
/* Same data, new shape; one extent may be -1 (inferred). */
TG_API tg_tensor *tg_reshape(tg_tape *tp, tg_tensor *x, int ndim, const int64_t *shape);
/* Output axis i is input axis perm[i]; perm lists each of x's nperm = ndim
 * axes once (0 <= perm[i] < ndim; NULL with nperm 0 for a 0-d x).  A
 * length other than x's rank is an error.  (The array API standard's name
 * for the op; (count, array) as every shape argument of the library.) */
TG_API tg_tensor *tg_permute_dims(tg_tape *tp, tg_tensor *x, int nperm, const int *perm);
/* Deprecated (one release): tg_permute_dims without the length, which
 * cannot check perm against x's rank. */
TG_API tg_tensor *tg_permute(tg_tape *tp, tg_tensor *x, const int *perm)
    TG_DEPRECATED("use tg_permute_dims(tp, x, nperm, perm)");
TG_API tg_tensor *tg_transpose(tg_tape *tp, tg_tensor *x, int axis0, int axis1);
/* Elements start, start+step, ... < stop along axis (step >= 1; negative
 * start/stop count from the end, as in Python). */
TG_API tg_tensor *tg_slice(tg_tape *tp, tg_tensor *x, int axis, int64_t start, int64_t stop,
                           int64_t step);
/* The adjoint of tg_slice: a zero tensor of shape with x written at
 * start, start+step, ... along axis. */
TG_API tg_tensor *tg_embed(tg_tape *tp, tg_tensor *x, int ndim, const int64_t *shape, int axis,
                           int64_t start, int64_t step);
TG_API tg_tensor *tg_concat(tg_tape *tp, int n, tg_tensor *const *xs, int axis);
TG_API tg_tensor *tg_broadcast_to(tg_tape *tp, tg_tensor *x, int ndim, const int64_t *shape);

/* ---- linear algebra (ops/matmul.c) ------------------------------------- */
/* a @ b: (M,K)@(K,N) -> (M,N); (B,M,K)@(B,K,N) -> (B,M,N);
 * (B,M,K)@(K,N) -> (B,M,N); (M,K)@(B,K,N) -> (B,M,N).
 * d/da = g @ b^T, d/db = a^T @ g (summed over the batch for a shared 2-d operand). */
TG_API tg_tensor *tg_matmul(tg_tape *tp, tg_tensor *a, tg_tensor *b);
/* op(a) @ op(b) with op = transpose of the last two axes when the flag is set;
 * no transposed copy is made. */
TG_API tg_tensor *tg_matmul_t(tg_tape *tp, tg_tensor *a, tg_tensor *b, bool trans_a, bool trans_b);

/* ---- softmax (ops/softmax.c) -------------------------------------------- */
/* y = e^(x - max) / sum e^(x - max) along axis; dx = y (g - sum(g y)). */
TG_API tg_tensor *tg_softmax(tg_tape *tp, tg_tensor *x, int axis);
/* y = x - max - log sum e^(x - max); dx = g - e^y sum g. */
TG_API tg_tensor *tg_log_softmax(tg_tape *tp, tg_tensor *x, int axis);

/* ---- losses (ops/loss.c) ------------------------------------------------ */
typedef enum tg_reduction { TG_REDUCE_SUM = 0, TG_REDUCE_MEAN = 1 } tg_reduction;
/* 1/2 sum (t - y)^2  (seed 000 eq. 3). */
TG_API tg_tensor *tg_sse(tg_tape *tp, tg_tensor *y, tg_tensor *t);
/* mean (t - y)^2 over all elements. */
TG_API tg_tensor *tg_mse(tg_tape *tp, tg_tensor *y, tg_tensor *t);
/* -[t log p + (1-t) log(1-p)] summed or averaged over all elements
 * (seed 000 eq. 4), each log clamped at -100 as in PyTorch's BCELoss (p = 0
 * or 1 gives a finite loss; the gradient is the clamped function's, 0
 * through a clamped log). */
TG_API tg_tensor *tg_bce(tg_tape *tp, tg_tensor *p, tg_tensor *t, tg_reduction red);
/* The same on logits z (p = sigmoid z), computed stably:
 * softplus(z) - t z. */
TG_API tg_tensor *tg_bce_logits(tg_tape *tp, tg_tensor *z, tg_tensor *t, tg_reduction red);
/* Softmax cross-entropy over the last axis of logits z (N,C) or (C):
 * -sum_c t_c log softmax(z)_c, summed or averaged over the N rows.
 * targets: same shape as z (one-hot or any distribution). */
TG_API tg_tensor *tg_softmax_cross_entropy(tg_tape *tp, tg_tensor *z, tg_tensor *targets,
                                           tg_reduction red);
/* The same with class indices (PyTorch's cross_entropy with class
 * indices): labels is a TG_I64 tensor of z's shape without the class axis,
 * (N) for z (N,C) and 0-d for z (C), each label in [0, C).  A label out of
 * range is an error naming the row, the label and C (TG_ERR_ARG); labels
 * of another dtype or shape are TG_ERR_DTYPE / TG_ERR_SHAPE.  The labels
 * are read when the op is recorded (they get no gradient). */
TG_API tg_tensor *tg_softmax_cross_entropy_index(tg_tape *tp, tg_tensor *z, const tg_tensor *labels,
                                                 tg_reduction red);
/* Deprecated (kept for one release): labels[i] in [0, C) for each of the
 * n = N rows (n = 1 for 1-D z) as int32_t.  Use
 * tg_softmax_cross_entropy_index with a TG_I64 label tensor. */
TG_API TG_DEPRECATED("use tg_softmax_cross_entropy_index with a TG_I64 label tensor")
    tg_tensor *tg_softmax_cross_entropy_labels(tg_tape *tp, tg_tensor *z, const int32_t *labels,
                                               int64_t n, tg_reduction red);

/* ---- convolution and pooling (ops/conv.c, ops/pool.c) ---- */
/* Layout NCHW.  tapegrad's conv2d is a cross-correlation (as in PyTorch; the
 * kernel is not flipped):
 *   y[n,f,i,j] = b[f] + sum_{c,p,q} w[f,c,p,q] x[n,c, i*sh - ph + p, j*sw - pw + q]
 * with x zero outside the image; x (N,C,H,W), w (F,C,KH,KW), bias (F) or
 * NULL, y (N,F,OH,OW), OH = (H + 2 ph - KH) / sh + 1 (floor), OW alike.
 * dx = full convolution of dy with w (correlation with the flipped kernel),
 * dw[f,c,p,q] = sum_{n,i,j} dy[n,f,i,j] x[n,c, i*sh - ph + p, j*sw - pw + q],
 * db[f] = sum_{n,i,j} dy[n,f,i,j]; derivatives of any order. */
TG_API tg_tensor *tg_conv2d(tg_tape *tp, tg_tensor *x, tg_tensor *w, tg_tensor *bias, int stride_h,
                            int stride_w, int pad_h, int pad_w);
/* The column matrix A (C*KH*KW, N*OH*OW) of x (N,C,H,W) (seed 002, U = W A + b):
 *   A[(c*KH + p)*KW + q, (n*OH + i)*OW + j] = x[n,c, i*sh - ph + p, j*sw - pw + q]
 * (0 in the padding); d = col2im. */
TG_API tg_tensor *tg_im2col(tg_tape *tp, tg_tensor *x, int kh, int kw, int stride_h, int stride_w,
                            int pad_h, int pad_w);
/* The adjoint of tg_im2col: an image of image_shape (N,C,H,W) (ndim must be
 * 4) with every entry of cols added where im2col reads it (padding entries
 * dropped); d = im2col.  (ndim, shape) as tg_sum_to / tg_broadcast_to. */
TG_API tg_tensor *tg_col2im_to(tg_tape *tp, tg_tensor *cols, int ndim, const int64_t *image_shape,
                               int kh, int kw, int stride_h, int stride_w, int pad_h, int pad_w);
/* Deprecated (one release): tg_col2im_to with ndim 4 implied. */
TG_API tg_tensor *tg_col2im(tg_tape *tp, tg_tensor *cols, const int64_t image_shape[4], int kh,
                            int kw, int stride_h, int stride_w, int pad_h, int pad_w)
    TG_DEPRECATED("use tg_col2im_to(tp, cols, 4, image_shape, ...)");
/* y[n,c,i,j] = max of the kh x kw window at (i*sh - ph, j*sw - pw) (padding
 * never wins; ph <= kh/2, pw <= kw/2); the gradient goes to the first arg-max. */
TG_API tg_tensor *tg_max_pool2d(tg_tape *tp, tg_tensor *x, int kh, int kw, int stride_h,
                                int stride_w, int pad_h, int pad_w);
/* y[n,c,i,j] = (1/(kh kw)) sum of the same window, padding counted as zeros;
 * dx = the adjoint spreading g/(kh kw) over each window. */
TG_API tg_tensor *tg_avg_pool2d(tg_tape *tp, tg_tensor *x, int kh, int kw, int stride_h,
                                int stride_w, int pad_h, int pad_w);
/* (N, d1, ..., dk) -> (N, d1 * ... * dk): conv features to a dense layer (a reshape). */
TG_API tg_tensor *tg_flatten(tg_tape *tp, tg_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
