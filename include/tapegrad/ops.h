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

/* ---- selection and comparison (ops/select.c) ------------------------- */
/* A condition or mask is a float tensor of the operands' dtype, nonzero
 * (NaN too) meaning true; the comparisons make one (1 or 0, no gradient).
 * Gradients at the bounds and ties: docs/api.md, "Selection and comparison". */
TG_API tg_tensor *tg_where(tg_tape *tp, tg_tensor *cond, tg_tensor *a,
                           tg_tensor *b); /* c ? a : b */
TG_API tg_tensor *tg_masked_fill(tg_tape *tp, tg_tensor *x, tg_tensor *mask,
                                 double v);                                  /* m ? v : x */
TG_API tg_tensor *tg_clamp(tg_tape *tp, tg_tensor *x, double lo, double hi); /* min(max(x,lo),hi) */
/* the same with tensor bounds, broadcast; a NULL bound is none */
TG_API tg_tensor *tg_clamp_tensor(tg_tape *tp, tg_tensor *x, tg_tensor *lo, tg_tensor *hi);
TG_API tg_tensor *tg_eq(tg_tape *tp, tg_tensor *a, tg_tensor *b); /* a == b */
TG_API tg_tensor *tg_ne(tg_tape *tp, tg_tensor *a, tg_tensor *b); /* a != b */
TG_API tg_tensor *tg_lt(tg_tape *tp, tg_tensor *a, tg_tensor *b); /* a < b */
TG_API tg_tensor *tg_le(tg_tape *tp, tg_tensor *a, tg_tensor *b); /* a <= b */
TG_API tg_tensor *tg_gt(tg_tape *tp, tg_tensor *a, tg_tensor *b); /* a > b */
TG_API tg_tensor *tg_ge(tg_tape *tp, tg_tensor *a, tg_tensor *b); /* a >= b */

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
/* Min along one axis, as tg_max: the gradient goes to the first arg-min (a
 * NaN counts as the smallest value). */
TG_API tg_tensor *tg_min(tg_tape *tp, tg_tensor *x, int axis, bool keepdim);
/* ---- more reductions over an axis list (ops/reduce_stat.c, ops/scan.c) ----
 * Axes and keepdim as tg_sum (naxes 0 is an error: list every axis).
 * y = prod x; the product of nothing is 1; d/dx_i = prod_{j != i} x_j,
 * right with zeros among the factors. */
TG_API tg_tensor *tg_prod(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, bool keepdim);
/* y = log sum e^x, computed as m + log sum e^(x - m), m = max (no overflow);
 * -inf over nothing; d = softmax over the axes (0 where every x is -inf). */
TG_API tg_tensor *tg_logsumexp(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, bool keepdim);
/* y = (sum |x|^p)^(1/p), p > 0 (p = INFINITY: max |x|); 0 over nothing;
 * d = sign x (|x|/y)^(p-1) (p = inf: sign x at the first arg-max of |x|);
 * 0 where y = 0 (as PyTorch). */
TG_API tg_tensor *tg_norm(tg_tape *tp, tg_tensor *x, double p, int naxes, const int *axes,
                          bool keepdim);
/* var = sum (x - mean)^2 / (N - correction) over the axes (N elements;
 * correction 1: Bessel's, 0: the population variance); N - correction <= 0
 * is an error (TG_ERR_ARG), N = 0 too (TG_ERR_EMPTY).  std = sqrt var, with
 * gradient 0 where every element is equal (as PyTorch). */
TG_API tg_tensor *tg_var(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, double correction,
                         bool keepdim);
TG_API tg_tensor *tg_std(tg_tape *tp, tg_tensor *x, int naxes, const int *axes, double correction,
                         bool keepdim);
/* y_k = sum_{j <= k} x_j along axis; d = the reverse cumulative sum of g. */
TG_API tg_tensor *tg_cumsum(tg_tape *tp, tg_tensor *x, int axis);
/* y_k = prod_{j <= k} x_j along axis; the gradient is right with zeros. */
TG_API tg_tensor *tg_cumprod(tg_tape *tp, tg_tensor *x, int axis);
/* The index of the first max (min) along axis, as a tape-owned TG_I64
 * tensor (a NaN counts as the max and as the min, as in tg_max): data, not
 * differentiable; no op takes it as an input (TG_ERR_DTYPE).  The max of
 * nothing is an error (TG_ERR_EMPTY). */
TG_API tg_tensor *tg_argmax(tg_tape *tp, tg_tensor *x, int axis, bool keepdim);
TG_API tg_tensor *tg_argmin(tg_tape *tp, tg_tensor *x, int axis, bool keepdim);

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

/* ---- indexing (ops/index.c) --------------------------------------------- */
/* An index is a TG_I64 tensor (user-owned data, never differentiated), read
 * and copied when the op records (changing it afterwards does not change the
 * graph).  Every value must lie in [0, extent): one out of range, negative
 * ones too (they do not wrap, as in PyTorch), is an error (TG_ERR_ARG)
 * naming the op, the value, its position and the extent; an index of
 * another dtype is TG_ERR_DTYPE. */
/* out[i] = x[i with i_axis = index[i]] (take_along_axis, torch.gather): index
 * has x's rank and extents at most x's off axis (any extent on axis); out has
 * index's shape.  d = scatter_add into zeros (repeated positions add up). */
TG_API tg_tensor *tg_gather(tg_tape *tp, tg_tensor *x, int axis, const tg_tensor *index);
/* out = x with src[i] added at [i with i_axis = index[i]] (torch.scatter_add;
 * repeated positions add up); index as for tg_gather, src of index's shape.
 * d/dx = g, d/dsrc = gather(g, axis, index). */
TG_API tg_tensor *tg_scatter_add(tg_tape *tp, tg_tensor *x, int axis, const tg_tensor *index,
                                 tg_tensor *src);
/* x's slices index[0], index[1], ... along axis (index 1-d, length m): x's
 * shape with extent m on axis.  d = the slices of g added back at index. */
TG_API tg_tensor *tg_index_select(tg_tape *tp, tg_tensor *x, int axis, const tg_tensor *index);
/* out[i..., :] = weight[index[i...], :]: weight (V,D), index of any shape (at
 * most 7 axes), out index.shape + (D).  Rows at padding_idx (< 0: none) are
 * read as they are but get no gradient (PyTorch); repeated rows add up. */
TG_API tg_tensor *tg_embedding(tg_tape *tp, tg_tensor *weight, const tg_tensor *index,
                               int64_t padding_idx);
/* 1 at [i..., index[i...]], 0 elsewhere: index.shape + (num_classes), of
 * dtype dt (f32 or f64); a constant (not differentiable, no node). */
TG_API tg_tensor *tg_one_hot(tg_tape *tp, const tg_tensor *index, int64_t num_classes, tg_dtype dt);

/* ---- linear algebra (ops/matmul.c) ------------------------------------- */
/* a @ b as NumPy's matmul: (M,K)@(K,N) -> (M,N); the axes before the last
 * two are batch axes that broadcast, (2,1,M,K)@(3,K,N) -> (2,3,M,N); a 1-d a
 * is a row and a 1-d b a column whose axis is dropped, (K)@(K) -> ().
 * d/da = g @ b^T, d/db = a^T @ g (summed over the items an operand is shared by). */
TG_API tg_tensor *tg_matmul(tg_tape *tp, tg_tensor *a, tg_tensor *b);
/* op(a) @ op(b) with op = transpose of the last two axes when the flag is set
 * (not for a 1-d operand); no transposed copy is made. */
TG_API tg_tensor *tg_matmul_t(tg_tape *tp, tg_tensor *a, tg_tensor *b, bool trans_a, bool trans_b);
/* Over any leading batch axes (ops/linalg.c, ops/linalg_det.c; LAPACK or a
 * built-in fallback); solve's and solve_triangular's a and b broadcast them.
 * A singular or non-positive-definite matrix is an error naming the batch
 * item; adjoints as in docs/api.md, "Linear algebra". */
/* x = a^-1 b, a (..., n, n), b (..., n, k): gb = a^-T g, ga = -gb x^T. */
TG_API tg_tensor *tg_solve(tg_tape *tp, tg_tensor *a, tg_tensor *b);
/* x = t^-1 b, t the upper (or lower) triangle of a: gb = t^-T g, ga = tri(-gb x^T). */
TG_API tg_tensor *tg_solve_triangular(tg_tape *tp, tg_tensor *a, tg_tensor *b, bool upper);
/* Lower l with a = l l^T (reads a's lower triangle): ga = sym(l^-T Phi(l^T g) l^-1). */
TG_API tg_tensor *tg_cholesky(tg_tape *tp, tg_tensor *a);
/* y = a^-1: ga = -y^T g y^T. */
TG_API tg_tensor *tg_inv(tg_tape *tp, tg_tensor *a);
/* d = det a, (..., n, n) -> (...): ga = g d a^-T (an error at a singular a). */
TG_API tg_tensor *tg_det(tg_tape *tp, tg_tensor *a);
/* log |det a|, and *sign (if sign) -1/0/1 without gradient: ga = g a^-T. */
TG_API tg_tensor *tg_slogdet(tg_tape *tp, tg_tensor *a, tg_tensor **sign);

/* ---- softmax (ops/softmax.c) -------------------------------------------- */
/* y = e^(x - max) / sum e^(x - max) along axis; dx = y (g - sum(g y)). */
TG_API tg_tensor *tg_softmax(tg_tape *tp, tg_tensor *x, int axis);
/* y = x - max - log sum e^(x - max); dx = g - e^y sum g. */
TG_API tg_tensor *tg_log_softmax(tg_tape *tp, tg_tensor *x, int axis);

/* ---- normalisation (ops/norm.c) ---------------------------------------- */
/* Each normalises x with the mean and the biased variance of a set of its
 * elements, then scales and shifts per channel (weight, bias: either may be
 * NULL, for 1 and 0):  y = (x - mean) / sqrt(var + eps) * weight + bias;
 * dx = rstd (g w - mean(g w) - xhat mean(g w xhat)) over each set.  eps is
 * finite and >= 0.  (PyTorch's functional forms, same conventions.) */
/* Over the last naxes axes (PyTorch's normalized_shape is x's last naxes
 * extents, 1 <= naxes <= rank); weight and bias have those extents. */
TG_API tg_tensor *tg_layer_norm(tg_tape *tp, tg_tensor *x, int naxes, tg_tensor *weight,
                                tg_tensor *bias, double eps);
/* x (N, C, ...) per channel over every axis but 1; weight, bias,
 * running_mean, running_var (C).  training: batch statistics (more than 1
 * value per channel), and each running statistic given (NULL: none) is
 * updated in place, once the op is recorded, running = (1 - momentum)
 * running + momentum stat (the unbiased batch variance for running_var;
 * momentum in [0, 1]); they must then be user tensors of their own.
 * Evaluation (!training): normalised with running_mean and running_var,
 * both required (constants: no gradient reaches them). */
TG_API tg_tensor *tg_batch_norm(tg_tape *tp, tg_tensor *x, tg_tensor *weight, tg_tensor *bias,
                                tg_tensor *running_mean, tg_tensor *running_var, bool training,
                                double momentum, double eps);
/* x (N, C, ...) over each of groups groups of C / groups channels (with
 * every axis after 1) of each sample; groups divides C; weight, bias (C). */
TG_API tg_tensor *tg_group_norm(tg_tape *tp, tg_tensor *x, int groups, tg_tensor *weight,
                                tg_tensor *bias, double eps);

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

/* ---- convolution and pooling (ops/conv*.c, ops/pool*.c) ---- */
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
/* The options of tg_conv2d_ex and tg_conv_transpose2d.  A field left 0 takes
 * its default (stride 1, padding 0, dilation 1, groups 1): a zero-initialised
 * struct, or NULL, is tg_conv2d with stride 1 and no padding.  Negative
 * values are errors. */
typedef struct tg_conv2d_opts {
    int stride_h, stride_w;     /* >= 1 (0: 1) */
    int pad_h, pad_w;           /* zero padding, >= 0 */
    int dilation_h, dilation_w; /* >= 1 (0: 1): tap p reads row i*sh - ph + p*dh */
    int groups;                 /* >= 1 (0: 1), dividing C and F */
} tg_conv2d_opts;
/* conv2d with dilation and groups (G = o->groups): x (N,C,H,W), w (F,C/G,KH,KW),
 *   y[n,f,i,j] = b[f] + sum_{c',p,q} w[f,c',p,q] x[n, g C/G + c', i*sh - ph + p*dh, j*sw - pw +
 * q*dw] with g = f / (F/G) the filter's group; OH = (H + 2 ph - (KH-1) dh - 1) / sh + 1. groups = C
 * (with F = C, or a multiple) is a depthwise convolution. */
TG_API tg_tensor *tg_conv2d_ex(tg_tape *tp, tg_tensor *x, tg_tensor *w, tg_tensor *bias,
                               const tg_conv2d_opts *o);
/* 1-d: x (N,C,L), w (F,C/groups,K), bias (F) or NULL -> y (N,F,OL),
 *   y[n,f,i] = b[f] + sum_{c',q} w[f,c',q] x[n, g C/groups + c', i*stride - pad + q*dilation]
 * OL = (L + 2 pad - (K-1) dilation - 1) / stride + 1; stride, dilation, groups >= 1. */
TG_API tg_tensor *tg_conv1d(tg_tape *tp, tg_tensor *x, tg_tensor *w, tg_tensor *bias, int stride,
                            int pad, int dilation, int groups);
/* The adjoint of tg_conv2d_ex in its input (PyTorch's conv_transpose2d):
 * x (N,C,H,W), w (C,F/G,KH,KW), bias (F) or NULL -> y (N,F,OH,OW) with
 *   OH = (H-1) sh - 2 ph + (KH-1) dh + output_padding_h + 1
 * and <conv2d_ex(v, w'), x> = <v, conv_transpose2d(x, w)> for every v of y's
 * shape (w' = w read as (C,F/G,KH,KW) filters); 0 <= output_padding < stride. */
TG_API tg_tensor *tg_conv_transpose2d(tg_tape *tp, tg_tensor *x, tg_tensor *w, tg_tensor *bias,
                                      const tg_conv2d_opts *o, int output_padding_h,
                                      int output_padding_w);
/* Average over PyTorch's adaptive windows: x (N,C,H,W) -> (N,C,oh,ow),
 *   rows [floor(i H / oh), ceil((i+1) H / oh)), columns alike, oh, ow >= 1
 * (windows may overlap when H is not a multiple of oh). */
TG_API tg_tensor *tg_adaptive_avg_pool2d(tg_tape *tp, tg_tensor *x, int64_t oh, int64_t ow);
/* The mean of each plane: x (N,C,H,W) -> (N,C,1,1) (adaptive pooling to 1x1). */
TG_API tg_tensor *tg_global_avg_pool2d(tg_tape *tp, tg_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
