/* Helpers shared by the reductions of src/ops: reduce.c (sum, mean, max,
 * min), reduce_stat.c (prod, logsumexp, norm, var, std, argmax) and scan.c
 * (cumsum, cumprod).  Internal (tg__). */
#ifndef TG_OPS_REDUCE_H
#define TG_OPS_REDUCE_H

#include "../core/internal.h"

/* PyTorch's convention for an axis of a 0-d tensor: 0 and -1 are accepted,
 * as if it had one axis of extent 1. */
bool tg__scalar_axis(const tg_tensor *x, int axis);
/* The axis list (naxes, axes) of op as flags red[TG_MAX_DIMS]; errors name
 * op and x.  all_name: the call that reduces every axis, named in the
 * error for an empty list (NULL: the op has none; list every axis). */
bool tg__axes_flags(tg_tape *tp, const char *op, const char *all_name, const tg_tensor *x,
                    int naxes, const int *axes, bool *red);
/* The shape of x reduced over red (extent 1 there with keepdim, dropped
 * without); returns its rank. */
int tg__reduced_shape(const tg_tensor *x, const bool *red, bool keepdim, int64_t *shape);
/* Output strides of x reduced over red: 0 along reduced axes. */
void tg__reduce_strides(const tg_tensor *x, const bool *red, int64_t *ostride);
/* The product of extents [from, to) of x (0 when out of range: see reduce.c). */
int64_t tg__prod_range(const tg_tensor *x, int from, int to);
/* For every element of x (row-major), the flat index of the output element
 * it reduces into, in tape scratch (NULL with the tape's error set on out of
 * memory; NULL and true for an x with no elements). */
bool tg__reduce_map(tg_tape *tp, const tg_tensor *x, const bool *red, int64_t **map);
/* g (the reduced shape, keepdim or not) broadcast back to x's shape, with
 * ops (recordable). */
tg_tensor *tg__reduce_expand(tg_tape *tp, tg_tensor *g, const tg_tensor *x, const bool *red,
                             bool keepdim);
/* Attribute printer (tg_attrs_fn style) of a reduction of x over red:
 * "axis=1" or "axes=(0,2)" (nothing when every axis is reduced), then
 * "keepdim=1" when kept, then extra (may be NULL), joined by ", ". */
int tg__axes_attrs(const tg_tensor *x, const bool *red, bool keepdim, const char *extra, char *buf,
                   size_t size);
/* The axes flagged in red as a list; returns their count. */
int tg__axes_list(const tg_tensor *x, const bool *red, int *axes);

#endif
