/* Elementary functions of libm (ADOL-C's set and more), elementwise: each
 * op's op-built backward rule, written with tapegrad ops, then one line with
 * its forward expression and its derivative (the generator and how to add an
 * op: unary.h).  Outside a function's domain the value is libm's (NaN, or
 * +-inf at a pole), as is its derivative's: no op fails on a value. */
#include "unary.h"

/* d sin x = g cos x */
static tg_status sin_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_cos(tp, tg_node_input(n, 0)));
    return TG_OK;
}
TG_UNARY_OP(sin, TG_LIBM(sin, x), (g * TG_LIBM(cos, x)))
/* defines sin_kernel sin_dx sin_direct sin_scalar k_sin tg_sin */

/* d cos x = g (-sin x) */
static tg_status cos_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_neg(tp, tg_sin(tp, tg_node_input(n, 0))));
    return TG_OK;
}
TG_UNARY_OP(cos, TG_LIBM(cos, x), (g * -TG_LIBM(sin, x)))
/* defines cos_kernel cos_dx cos_direct cos_scalar k_cos tg_cos */

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_elementary[] = {&k_sin, &k_cos, NULL};
