/* What tensor.c shares with rng.c: making a user tensor under the name of
 * the call the user made, refusing an integer tensor where only floats
 * make sense, and storing one element.  Internal (tg__), never in
 * include/. */
#ifndef TG_CORE_TENSOR_PRIV_H
#define TG_CORE_TENSOR_PRIV_H

#include "internal.h"

/* tg_tensor_new with its errors under the name what. */
tg_tensor *tg__tensor_new_as(const char *what, tg_dtype dt, int ndim, const int64_t *shape);
/* False (last error TG_ERR_DTYPE, naming what and why) for an i64 tensor. */
bool tg__tensor_float_only(const char *what, const tg_tensor *t, const char *why);
/* Element i := v, without a version bump. */
void tg__tensor_put_flat(tg_tensor *t, int64_t i, double v);

#endif
