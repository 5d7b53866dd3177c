/* Shared by dist/common.c (always built) and dist/mpi.c (built with MPI). */
#ifndef TG_DIST_INTERNAL_H
#define TG_DIST_INTERNAL_H

#include "../core/internal.h"
#include "tapegrad/dist.h"

/* Checks a list of n tensors given to fn (what: "tensor" or "parameter"):
 * the array and each tensor non-NULL, live, user-owned, F32 or F64, with a
 * gradient when need_grad.  On failure: sets the last error, returns the
 * status and the index of the bad tensor in *bad (-1: the list itself). */
tg_status tg__dist_check_list(const char *fn, const char *what, int n, tg_tensor *const *ts,
                              bool need_grad, int *bad);

/* A 64-bit digest of the list's dtypes and shapes (FNV-1a), compared
 * across ranks. */
int64_t tg__dist_signature(int n, tg_tensor *const *ts);

#endif
