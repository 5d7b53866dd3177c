/* tapegrad: initialisers and layers as plain functions over user-owned
 * parameter tensors.  Convolution and pooling are ops (ops.h). */
#ifndef TAPEGRAD_NN_H
#define TAPEGRAD_NN_H

#include "export.h"

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- initialisers (nn/init.c) -------------------------------------------- */
/* Fans: a 2-d weight (in, out) used as x @ W has fan_in = in, fan_out = out;
 * a conv weight (F, C, KH, KW) has fan_in = C*KH*KW, fan_out = F*KH*KW.
 * All draw from the given RNG, so a seed gives the same network everywhere.
 * They return TG_ERR_NULL / TG_ERR_SHAPE (1-d or >4-d weight) on bad input. */
TG_API tg_status tg_init_uniform(tg_tensor *w, tg_rng *r, double lo, double hi);
TG_API tg_status tg_init_normal(tg_tensor *w, tg_rng *r, double mean, double std);
TG_API tg_status tg_init_xavier_uniform(tg_tensor *w, tg_rng *r); /* U(+-sqrt(6/(in+out))) */
TG_API tg_status tg_init_xavier_normal(tg_tensor *w, tg_rng *r);  /* N(0, 2/(in+out)) */
TG_API tg_status tg_init_he_uniform(tg_tensor *w, tg_rng *r);     /* U(+-sqrt(6/in)) */
TG_API tg_status tg_init_he_normal(tg_tensor *w, tg_rng *r);      /* N(0, 2/in) */

/* ---- layers (nn/layers.c) -------------------------------------------------- */
/* x @ w + b over x's last axis: x (..., in) -> (..., out), w (in, out),
 * b (out) or NULL (PyTorch's F.linear with w transposed). */
TG_API tg_tensor *tg_linear(tg_tape *tp, tg_tensor *x, tg_tensor *w, tg_tensor *b);
/* Inverted dropout: each element kept with probability 1 - p and scaled by
 * 1/(1-p); the Bernoulli mask comes from the tape's seeded RNG (one draw per
 * element) and is a tape constant, so backward is exact.  tg_tape_reset does
 * not reseed the RNG: each forward draws a fresh mask.  A function given to
 * tg_gradcheck must therefore start with tg_rng_seed(tg_tape_rng(tp), s) so
 * every evaluation draws the same mask.  training false or p = 0: the
 * identity (a tape-owned view, no draw).  p must be in [0, 1). */
TG_API tg_tensor *tg_dropout(tg_tape *tp, tg_tensor *x, double p, bool training);
/* Fast dropout (seed 000, eqs 26-28), the Gaussian closed form of a layer
 * whose inputs o are kept with probability p:
 *   mu = p (o @ w),  s2 = p (1 - p) ((o*o) @ (w*w)),  n' = mu / sqrt(1 + pi s2 / 8)
 * returns the pre-activation n' (apply tg_sigmoid for eq. 25's output).
 * Recorded as two matmuls, two squares and one fused op for the last line
 * (its own first-order and op-built rules: differentiable to any order). */
TG_API tg_tensor *tg_fast_dropout_linear(tg_tape *tp, tg_tensor *o, tg_tensor *w, double p);

#ifdef __cplusplus
}
#endif
#endif
