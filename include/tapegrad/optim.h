/* tapegrad: optimizers over a list of user-owned parameters (nn/optim.c).
 * Zeroing and stepping are one call each; state (momentum, Adam moments) is
 * allocated once at creation, so a step allocates nothing. */
#ifndef TAPEGRAD_OPTIM_H
#define TAPEGRAD_OPTIM_H

#include "export.h"

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_optim tg_optim;

/* SGD with momentum and weight decay (PyTorch's convention):
 *   g = grad + wd w;  v = momentum v + g;  w -= lr v   (momentum 0: w -= lr g) */
TG_API tg_optim *tg_sgd_new(int n, tg_tensor *const *params, double lr, double momentum,
                            double weight_decay);
/* Adam (Kingma & Ba) with bias correction; weight decay added to the
 * gradient (L2), as torch.optim.Adam. */
TG_API tg_optim *tg_adam_new(int n, tg_tensor *const *params, double lr, double beta1, double beta2,
                             double eps, double weight_decay);
/* Sets every parameter's gradient to zero (parameters without one are skipped). */
TG_API void tg_optim_zero_grad(tg_optim *o);
/* One update from the parameters' current gradients.  A parameter without a
 * gradient (never reached by tg_backward) is left unchanged.  TG_ERR_SHAPE,
 * and no parameter changed, if a parameter with state (momentum, Adam) no
 * longer has the element count it had at creation. */
TG_API tg_status tg_optim_step(tg_optim *o);
TG_API void tg_optim_set_lr(tg_optim *o, double lr);
TG_API double tg_optim_lr(const tg_optim *o);
TG_API void tg_optim_free(tg_optim *o);

#ifdef __cplusplus
}
#endif
#endif
