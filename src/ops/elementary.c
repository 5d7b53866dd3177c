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
TG_UNARY_OP(sin, TG_LIBM(sin, x), (g * TG_LIBM(cos, x)), "dx += g * cos(x)")
/* defines sin_kernel sin_dx sin_direct sin_scalar k_sin tg_sin */

/* d cos x = g (-sin x) */
static tg_status cos_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_neg(tp, tg_sin(tp, tg_node_input(n, 0))));
    return TG_OK;
}
TG_UNARY_OP(cos, TG_LIBM(cos, x), (g * -TG_LIBM(sin, x)), "dx += -g * sin(x)")
/* defines cos_kernel cos_dx cos_direct cos_scalar k_cos tg_cos */

/* 2 / sqrt(pi), ln 2 and ln 10 (not every libm header defines M_2_SQRTPI
 * and the like in strict C11) */
#define EL_2_SQRTPI 1.12837916709551257390
#define EL_LN2      0.69314718055994530942
#define EL_LN10     2.30258509299404568402

/* d tan x = g (1 + y^2) */
static tg_status tan_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_add_scalar(tp, tg_square(tp, tg_node_output(n)), 1.0));
    return TG_OK;
}
TG_UNARY_OP(tan, TG_LIBM(tan, x), (g * ADD_SCALAR(T, (y * y), 1)),
            "dx += g * (1 + y^2)  (y = tan x)")
/* defines tan_kernel tan_dx tan_direct tan_scalar k_tan tg_tan */

/* 1 - x^2 as the op-built rules of asin, acos and atanh record it */
static tg_tensor *one_minus_square(tg_tape *tp, tg_tensor *x)
{
    return tg_rsub_scalar(tp, 1.0, tg_square(tp, x));
}

/* d asin x = g / sqrt(1 - x^2)   (inf at +-1, NaN outside [-1, 1]) */
static tg_status asin_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_div(tp, g, tg_sqrt(tp, one_minus_square(tp, tg_node_input(n, 0))));
    return TG_OK;
}
TG_UNARY_OP(asin, TG_LIBM(asin, x), (g / TG_SQRT(RSUB_SCALAR(T, 1, x *x))),
            "dx += g / sqrt(1 - x^2)")
/* defines asin_kernel asin_dx asin_direct asin_scalar k_asin tg_asin */

/* d acos x = -(g / sqrt(1 - x^2)) */
static tg_status acos_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_neg(tp, tg_div(tp, g, tg_sqrt(tp, one_minus_square(tp, tg_node_input(n, 0)))));
    return TG_OK;
}
TG_UNARY_OP(acos, TG_LIBM(acos, x), (-(g / TG_SQRT(RSUB_SCALAR(T, 1, x *x)))),
            "dx += -g / sqrt(1 - x^2)")
/* defines acos_kernel acos_dx acos_direct acos_scalar k_acos tg_acos */

/* d atan x = g / (x^2 + 1) */
static tg_status atan_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_div(tp, g, tg_add_scalar(tp, tg_square(tp, tg_node_input(n, 0)), 1.0));
    return TG_OK;
}
TG_UNARY_OP(atan, TG_LIBM(atan, x), (g / ADD_SCALAR(T, (x * x), 1)), "dx += g / (1 + x^2)")
/* defines atan_kernel atan_dx atan_direct atan_scalar k_atan tg_atan */

/* d sinh x = g cosh x */
static tg_status sinh_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_cosh(tp, tg_node_input(n, 0)));
    return TG_OK;
}
TG_UNARY_OP(sinh, TG_LIBM(sinh, x), (g * TG_LIBM(cosh, x)), "dx += g * cosh(x)")
/* defines sinh_kernel sinh_dx sinh_direct sinh_scalar k_sinh tg_sinh */

/* d cosh x = g sinh x */
static tg_status cosh_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_sinh(tp, tg_node_input(n, 0)));
    return TG_OK;
}
TG_UNARY_OP(cosh, TG_LIBM(cosh, x), (g * TG_LIBM(sinh, x)), "dx += g * sinh(x)")
/* defines cosh_kernel cosh_dx cosh_direct cosh_scalar k_cosh tg_cosh */

/* d asinh x = g / sqrt(x^2 + 1) */
static tg_status asinh_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0);
    gin[0] = tg_div(tp, g, tg_sqrt(tp, tg_add_scalar(tp, tg_square(tp, x), 1.0)));
    return TG_OK;
}
TG_UNARY_OP(asinh, TG_LIBM(asinh, x), (g / TG_SQRT(ADD_SCALAR(T, (x * x), 1))),
            "dx += g / sqrt(x^2 + 1)")
/* defines asinh_kernel asinh_dx asinh_direct asinh_scalar k_asinh tg_asinh */

/* d acosh x = g / sqrt(x^2 - 1)   (inf at 1, NaN below) */
static tg_status acosh_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_node_input(n, 0);
    gin[0] = tg_div(tp, g, tg_sqrt(tp, tg_add_scalar(tp, tg_square(tp, x), -1.0)));
    return TG_OK;
}
TG_UNARY_OP(acosh, TG_LIBM(acosh, x), (g / TG_SQRT(ADD_SCALAR(T, (x * x), -1))),
            "dx += g / sqrt(x^2 - 1)")
/* defines acosh_kernel acosh_dx acosh_direct acosh_scalar k_acosh tg_acosh */

/* d atanh x = g / (1 - x^2)   (y = +-inf and d = inf at +-1) */
static tg_status atanh_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_div(tp, g, one_minus_square(tp, tg_node_input(n, 0)));
    return TG_OK;
}
TG_UNARY_OP(atanh, TG_LIBM(atanh, x), (g / RSUB_SCALAR(T, 1, x *x)), "dx += g / (1 - x^2)")
/* defines atanh_kernel atanh_dx atanh_direct atanh_scalar k_atanh tg_atanh */

/* e^(-x^2), the factor of the derivatives of erf and erfc */
static tg_tensor *gauss(tg_tape *tp, tg_tensor *x)
{
    return tg_exp(tp, tg_neg(tp, tg_square(tp, x)));
}

/* d erf x = g (2/sqrt(pi)) e^(-x^2) */
static tg_status erf_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_mul_scalar(tp, gauss(tp, tg_node_input(n, 0)), EL_2_SQRTPI));
    return TG_OK;
}
TG_UNARY_OP(erf, TG_LIBM(erf, x), (g * MUL_SCALAR(T, TG_EXP(-(x *x)), EL_2_SQRTPI)),
            "dx += g * (2 / sqrt(pi)) * e^(-x^2)")
/* defines erf_kernel erf_dx erf_direct erf_scalar k_erf tg_erf */

/* d erfc x = g (-2/sqrt(pi)) e^(-x^2) */
static tg_status erfc_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_mul_scalar(tp, gauss(tp, tg_node_input(n, 0)), -EL_2_SQRTPI));
    return TG_OK;
}
TG_UNARY_OP(erfc, TG_LIBM(erfc, x), (g * MUL_SCALAR(T, TG_EXP(-(x *x)), -EL_2_SQRTPI)),
            "dx += -g * (2 / sqrt(pi)) * e^(-x^2)")
/* defines erfc_kernel erfc_dx erfc_direct erfc_scalar k_erfc tg_erfc */

/* d (e^x - 1) = g (y + 1) */
static tg_status expm1_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_add_scalar(tp, tg_node_output(n), 1.0));
    return TG_OK;
}
TG_UNARY_OP(expm1, TG_LIBM(expm1, x), (g * ADD_SCALAR(T, y, 1)), "dx += g * (y + 1)  (y = e^x - 1)")
/* defines expm1_kernel expm1_dx expm1_direct expm1_scalar k_expm1 tg_expm1 */

/* d ln(1 + x) = g / (x + 1) */
static tg_status log1p_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_div(tp, g, tg_add_scalar(tp, tg_node_input(n, 0), 1.0));
    return TG_OK;
}
TG_UNARY_OP(log1p, TG_LOG1P(x), (g / ADD_SCALAR(T, x, 1)), "dx += g / (1 + x)")
/* defines log1p_kernel log1p_dx log1p_direct log1p_scalar k_log1p tg_log1p */

/* d log2 x = g / (x ln 2) */
static tg_status log2_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_div(tp, g, tg_mul_scalar(tp, tg_node_input(n, 0), EL_LN2));
    return TG_OK;
}
TG_UNARY_OP(log2, TG_LIBM(log2, x), (g / MUL_SCALAR(T, x, EL_LN2)), "dx += g / (x ln 2)")
/* defines log2_kernel log2_dx log2_direct log2_scalar k_log2 tg_log2 */

/* d log10 x = g / (x ln 10) */
static tg_status log10_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_div(tp, g, tg_mul_scalar(tp, tg_node_input(n, 0), EL_LN10));
    return TG_OK;
}
TG_UNARY_OP(log10, TG_LIBM(log10, x), (g / MUL_SCALAR(T, x, EL_LN10)), "dx += g / (x ln 10)")
/* defines log10_kernel log10_dx log10_direct log10_scalar k_log10 tg_log10 */

/* d 2^x = g (y ln 2) */
static tg_status exp2_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tp, g, tg_mul_scalar(tp, tg_node_output(n), EL_LN2));
    return TG_OK;
}
TG_UNARY_OP(exp2, TG_LIBM(exp2, x), (g * MUL_SCALAR(T, y, EL_LN2)), "dx += g * y * ln 2  (y = 2^x)")
/* defines exp2_kernel exp2_dx exp2_direct exp2_scalar k_exp2 tg_exp2 */

/* d cbrt x = g / (3 y^2)   (inf at 0) */
static tg_status cbrt_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_div(tp, g, tg_mul_scalar(tp, tg_square(tp, tg_node_output(n)), 3.0));
    return TG_OK;
}
TG_UNARY_OP(cbrt, TG_LIBM(cbrt, x), (g / MUL_SCALAR(T, (y * y), 3)),
            "dx += g / (3 y^2)  (y = cbrt x)")
/* defines cbrt_kernel cbrt_dx cbrt_direct cbrt_scalar k_cbrt tg_cbrt */

/* d (1/x) = -(g y^2) */
static tg_status reciprocal_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_neg(tp, tg_mul(tp, g, tg_square(tp, tg_node_output(n))));
    return TG_OK;
}
TG_UNARY_OP(reciprocal, ((T)1 / x), (-(g * (y * y))), "dx += -g * y^2  (y = 1 / x)")
/* defines reciprocal_kernel reciprocal_dx reciprocal_direct reciprocal_scalar k_reciprocal
 * tg_reciprocal */

/* d (1/sqrt x) = g (-1/2) y^3 */
static tg_status rsqrt_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *y = tg_node_output(n);
    gin[0] = tg_mul(tp, g, tg_mul_scalar(tp, tg_mul(tp, y, tg_square(tp, y)), -0.5));
    return TG_OK;
}
TG_UNARY_OP(rsqrt, ((T)1 / TG_SQRT(x)), (g * MUL_SCALAR(T, y *(y *y), -0.5)),
            "dx += -g * y^3 / 2  (y = 1 / sqrt x)")
/* defines rsqrt_kernel rsqrt_dx rsqrt_direct rsqrt_scalar k_rsqrt tg_rsqrt */

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_elementary[] = {
    &k_sin,   &k_cos,   &k_tan,   &k_asin,       &k_acos,  &k_atan,  &k_sinh,  &k_cosh,
    &k_asinh, &k_acosh, &k_atanh, &k_erf,        &k_erfc,  &k_expm1, &k_log1p, &k_log2,
    &k_log10, &k_exp2,  &k_cbrt,  &k_reciprocal, &k_rsqrt, NULL};
