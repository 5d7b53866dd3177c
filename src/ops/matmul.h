/* What ops/matmul.c and ops/matmul_general.c share (internal). */
#ifndef TG_OPS_MATMUL_H
#define TG_OPS_MATMUL_H

#include "../core/internal.h"

/* op(a) @ op(b) for the layouts the matmul op does not take itself (a 1-d
 * operand, more than one batch axis, batch axes that broadcast), built from
 * reshape, broadcast_to and the op; a shape error names matmul and both
 * operands.  a and b are checked inputs of one dtype. */
tg_tensor *tg__matmul_general(tg_tape *tp, tg_tensor *a, tg_tensor *b, bool ta, bool tb);

#endif
