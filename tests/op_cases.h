/* The op test cases: one table that feeds every op-generic suite.
 *
 * Each row is one case of one built-in op (a tg_op descriptor of src/ops,
 * listed by the op registry, src/ops/registry.h):
 *
 *   X(op, id, flags, lo, hi, a, b, ref, dref, call)
 *
 *   op     the descriptor's .name (an identifier: k_<op> in src/ops);
 *   id     the case's own name, unique in the table (shown on failure);
 *   flags  which suites run the row (OC_ELEM ... OC_ZERO_GRAD) and what it
 *          says about its op (OC_NO_SCALAR, OC_INTERNAL), below;
 *   lo,hi  the range of x's values (OC_ELEM);
 *   a, b   x's and y's one value (OC_SCALAR; b unused by unary calls);
 *   ref    the forward value at v, in double (OC_ELEM; 0 otherwise);
 *   dref   its derivative at v (OC_ELEM; 0 otherwise);
 *   call   an expression of tp, x, y (a second operand, or NULL) and K
 *          (the constants of oc_consts) that records the op.
 *
 * The suites and what each row must hold for them:
 *   OC_ELEM      tests/test_activation.c: x of 6 shapes (0-d to 4-d) in
 *                [lo, hi): forward against ref (f64) and f64 against f32,
 *                f64 gradcheck (finite differences and the op-built rule),
 *                f32 gradients against f64, the derivative against dref;
 *   OC_NONSMOOTH with OC_ELEM: a kink at 0, where gradcheck skips exact
 *                zeros (test_activation.c, test_kinks_at_zero);
 *   OC_ZERO_GRAD not differentiable (backward NULL): the gradient is 0
 *                (test_activation.c, test_zero_gradient_ops);
 *   OC_DIRECT    tests/test_direct.c: x (2,2,4,4) in [0.2, 2), y NULL; the
 *                gradcheck of sum(call^2) + sum(x^2/2), x*x recorded last, so
 *                the op's direct rule adds into a gradient; and
 *                tests/test_second_order.c: x (2,2,4,4) in [0.2, 2), the
 *                gradcheck of d sum(sin y + y^2) / dx, y = call
 *                (create_graph), which
 *                differentiates the ops the op-built rule records; and
 *                tests/test_precision.c: the row in f32 against f64;
 *   OC_ALIAS     tests/test_direct.c: as OC_DIRECT with x in [0.2, 1.2) and
 *                x in two input slots of one node (and without x*x);
 *   OC_SCALAR    tests/test_scalar.c: one-element x = a and y = b of every
 *                mix of (), (1,), (1,1), f64 and f32: the scalar rule's value
 *                and gradients are the direct rule's bits (==);
 *   OC_PASS1     tests/test_scalar.c: x (1,1) = 1.25, the op passes the seed
 *                through unchanged (reductions, shape ops, cast), exactly,
 *                and gradcheck of square(call) in f64 and f32;
 *   OC_NARROWS   with OC_PASS1: the gradient goes through an f32 value.
 * What a row says about its op (tests/test_op_coverage.c checks them):
 *   OC_NO_SCALAR the op has no scalar rule: its one-element nodes take the
 *                direct rule (say why beside the row); an op without a scalar
 *                rule whose rows do not all say so fails the coverage test;
 *   OC_INTERNAL  no public call is this op alone: another op's rule records
 *                it (the call reaches it through a recorded gradient), or a
 *                composite does (xmul in the cross entropy, fast_dropout in
 *                tg_fast_dropout_linear), so the fuzzer's list needn't name it.
 *
 * tests/test_op_coverage.c fails, naming the op, when a registered
 * descriptor has no row, is differentiable without a direct rule, has no
 * scalar rule without OC_NO_SCALAR, has one that no OC_SCALAR or OC_PASS1
 * row compares (OC_INTERNAL ops aside: their one-element nodes do not come
 * from one-element operands, which is what the scalar suite compares), or
 * its rows never reach OC_DIRECT or OC_ALIAS; when a row names no
 * registered op or its call records no node of its op; and when a public
 * op is missing from the graph fuzzer's list (tests/fuzz/fuzz_ops.h).
 *
 * Adding a built-in op, start to finish:
 *   1. the op file (src/ops/<file>.c): the kernel, the op-built rule, the
 *      direct rule, the scalar rule if it can run on one element, the
 *      descriptor `static const tg_op k_<name> = {"<name>", ...}` and the
 *      public function; then add &k_<name> to the file's tg__ops_<file>
 *      array at its end (a new file: a new array, declared in
 *      src/ops/registry.h and listed in src/ops/registry.c);
 *   2. the header line in include/tapegrad/ops.h (and its error rows in
 *      docs/errors.md and tests/test_errors_catalogue.c, if it has new
 *      messages);
 *   3. rows here: at least one OC_DIRECT row, an OC_SCALAR row if it has a
 *      scalar rule (OC_NO_SCALAR on every row if not), an OC_ELEM row for an
 *      elementwise unary op; then the fuzzer's opcode at the end of
 *      tests/fuzz/fuzz_ops.h and its parameter decoding in fuzz_graph.c;
 *   4. the README row (README.md, "ops").
 * Then build and run the tests: test_op_coverage names whatever is missing. */
#ifndef TT_OP_CASES_H
#define TT_OP_CASES_H

#include <tapegrad.h>

#include <math.h>

enum {
    OC_ELEM = 1u << 0,
    OC_NONSMOOTH = 1u << 1,
    OC_ZERO_GRAD = 1u << 2,
    OC_DIRECT = 1u << 3,
    OC_ALIAS = 1u << 4,
    OC_SCALAR = 1u << 5,
    OC_PASS1 = 1u << 6,
    OC_NARROWS = 1u << 7,
    OC_NO_SCALAR = 1u << 8,
    OC_INTERNAL = 1u << 9,
};

/* Fixed f64 tensors the calls use (oc_consts_new makes them). */
typedef struct oc_consts {
    tg_tensor *c;     /* (2,2,4,4) in [0.5, 1.5): the other operand of binary ops */
    tg_tensor *w16;   /* (16,3) matrix in [-1, 1) */
    tg_tensor *wconv; /* conv weights (3,2,3,3) and bias (3) in [-1, 1) */
    tg_tensor *bconv;
    tg_tensor *ninf; /* (4,1) of -inf: a masked class */
    tg_tensor *t17;  /* (4,17) targets, rows summing to 1, 0 in the masked class */
    /* TG_I64 indices (src/ops/index.c), with repeated positions */
    tg_tensor *i2244; /* (2,2,4,4) in [0,4): gather / scatter_add along axis 2 or 3 */
    tg_tensor *i3;    /* (3) = {1, 0, 1}: index_select along axis 1 */
    tg_tensor *i23;   /* (2,3) in [0,4): embedding rows */
} oc_consts;
oc_consts *oc_consts_new(void);
void oc_consts_free(oc_consts *k);
/* The same constants in dtype dt (each value rounded once). */
oc_consts *oc_consts_cast(const oc_consts *k, tg_dtype dt);

/* d sum(y) / dx, recorded (create_graph): the rules of the gradient ops. */
tg_tensor *oc_grad(tg_tape *tp, tg_tensor *y, tg_tensor *x);

#define OC_S(...)   ((const int64_t[]){__VA_ARGS__})
#define OC_T(...)   ((tg_tensor *[]){__VA_ARGS__})
#define OC_NS       OC_NO_SCALAR
#define OC_EDS      (OC_ELEM | OC_DIRECT | OC_SCALAR)
#define OC_MAXPOOL  tg_max_pool2d(tp, x, 2, 2, 2, 2, 0, 0)
#define OC_AVGPOOL  tg_avg_pool2d(tp, x, 3, 3, 1, 1, 1, 1)
#define OC_X4x16    tg_reshape(tp, x, 2, OC_S(4, 16))
#define OC_BATCH444 tg_reshape(tp, x, 3, OC_S(4, 4, 4))
/* n elements of t (64 elements) from flat index at: a (n) vector */
#define OC_CUT(t, at, n) tg_slice(tp, tg_reshape(tp, t, 1, OC_S(64)), 0, at, (at) + (n), 1)
/* constant conditions for the select rows: K->c above its mean, (2,2,4,4),
 * and K->c's mean over the last axis, (2,2,4,1) */
#define OC_C_GT_MEAN tg_gt(tp, K->c, tg_mean_all(tp, K->c))
#define OC_C_MEAN3   tg_mean(tp, K->c, 1, (const int[]){3}, true)
/* x > 0, a mask of x's shape: masked_fill's scalar rows */
#define OC_X_GT_0 tg_gt(tp, x, tg_mul_scalar(tp, x, 0.0))

/* clang-format off */
#define OP_CASES(X)                                                                                \
    /* ---- elementwise unary (src/ops/activation.c) ---- */                                      \
    X(neg, neg, OC_EDS, -3, 3, 1.3, 0, -v, -1, tg_neg(tp, x))                                     \
    X(exp, exp, OC_EDS, -3, 3, 1.3, 0, exp(v), exp(v), tg_exp(tp, x))                              \
    X(log, log, OC_EDS, 0.3, 3, 1.3, 0, log(v), 1 / v, tg_log(tp, x))                              \
    X(sin, sin, OC_EDS, -3, 3, 1.3, 0, sin(v), cos(v), tg_sin(tp, x))                              \
    X(cos, cos, OC_EDS, -3, 3, 1.3, 0, cos(v), -sin(v), tg_cos(tp, x))                             \
    X(sqrt, sqrt, OC_EDS, 0.3, 3, 1.3, 0, sqrt(v), 0.5 / sqrt(v), tg_sqrt(tp, x))                 \
    X(square, square, OC_EDS, -3, 3, -1.3, 0, v * v, 2 * v, tg_square(tp, x))                     \
    X(abs, abs, OC_ELEM | OC_NONSMOOTH | OC_SCALAR, -2, 2, 1.3, 0, fabs(v), v > 0 ? 1 : -1,       \
      tg_abs(tp, x))                                                                               \
    X(abs, abs_neg, OC_SCALAR, 0, 0, -1.3, 0, 0, 0, tg_abs(tp, x))                                \
    X(abs, abs_at_0, OC_SCALAR, 0, 0, 0, 0, 0, 0, tg_abs(tp, x))                                  \
    X(abs, abs_shifted, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_abs(tp, tg_add_scalar(tp, x, -1.1)))      \
    X(sigmoid, sigmoid, OC_EDS, -4, 4, -1.3, 0, oc_sigmoid(v),                                   \
      oc_sigmoid(v) * (1 - oc_sigmoid(v)), tg_sigmoid(tp, x))                                    \
    X(tanh, tanh, OC_EDS, -3, 3, 0.4, 0, tanh(v), 1 - tanh(v) * tanh(v), tg_tanh(tp, x))          \
    X(relu, relu, OC_ELEM | OC_NONSMOOTH | OC_SCALAR, -2, 2, 1.3, 0, v > 0 ? v : 0, v > 0,       \
      tg_relu(tp, x))                                                                              \
    X(relu, relu_neg, OC_SCALAR, 0, 0, -1.3, 0, 0, 0, tg_relu(tp, x))                             \
    X(relu, relu_at_0, OC_SCALAR, 0, 0, 0, 0, 0, 0, tg_relu(tp, x))                               \
    X(relu, relu_shifted, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_relu(tp, tg_add_scalar(tp, x, -1.1)))   \
    X(softplus, softplus, OC_EDS, -4, 4, -0.3, 0, fmax(v, 0) + log1p(exp(-fabs(v))),              \
      oc_sigmoid(v), tg_softplus(tp, x))                                                           \
    /* ---- elementary functions (src/ops/elementary.c): a domain short of [0.2, 2) */             \
    /* ---- gets an OC_DIRECT row of its own, x mapped into it ---- */                             \
    X(tan, tan, OC_ELEM | OC_SCALAR, -1.2, 1.2, 0.7, 0, tan(v), 1 + tan(v) * tan(v),               \
      tg_tan(tp, x))                                                                               \
    X(tan, tan_half, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_tan(tp, tg_mul_scalar(tp, x, 0.5)))           \
    X(asin, asin, OC_ELEM | OC_SCALAR, -0.9, 0.9, 0.6, 0, asin(v), 1 / sqrt(1 - v * v),            \
      tg_asin(tp, x))                                                                              \
    X(asin, asin_04, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_asin(tp, tg_mul_scalar(tp, x, 0.4)))          \
    X(acos, acos, OC_ELEM | OC_SCALAR, -0.9, 0.9, -0.6, 0, acos(v), -1 / sqrt(1 - v * v),          \
      tg_acos(tp, x))                                                                              \
    X(acos, acos_04, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_acos(tp, tg_mul_scalar(tp, x, 0.4)))          \
    X(atan, atan, OC_EDS, -3, 3, 1.3, 0, atan(v), 1 / (1 + v * v), tg_atan(tp, x))                 \
    X(sinh, sinh, OC_EDS, -3, 3, 1.3, 0, sinh(v), cosh(v), tg_sinh(tp, x))                         \
    X(cosh, cosh, OC_EDS, -3, 3, -1.3, 0, cosh(v), sinh(v), tg_cosh(tp, x))                        \
    X(asinh, asinh, OC_EDS, -3, 3, -1.3, 0, asinh(v), 1 / sqrt(v * v + 1), tg_asinh(tp, x))        \
    X(acosh, acosh, OC_ELEM | OC_SCALAR, 1.1, 3, 1.3, 0, acosh(v), 1 / sqrt(v * v - 1),            \
      tg_acosh(tp, x))                                                                             \
    X(acosh, acosh_1, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_acosh(tp, tg_add_scalar(tp, x, 1)))          \
    X(atanh, atanh, OC_ELEM | OC_SCALAR, -0.9, 0.9, 0.6, 0, atanh(v), 1 / (1 - v * v),             \
      tg_atanh(tp, x))                                                                             \
    X(atanh, atanh_04, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_atanh(tp, tg_mul_scalar(tp, x, 0.4)))       \
    X(erf, erf, OC_EDS, -3, 3, 0.7, 0, erf(v), oc_2_sqrtpi * exp(-v * v), tg_erf(tp, x))           \
    X(erfc, erfc, OC_EDS, -3, 3, 0.7, 0, erfc(v), -oc_2_sqrtpi * exp(-v * v), tg_erfc(tp, x))      \
    X(expm1, expm1, OC_EDS, -3, 3, -0.3, 0, expm1(v), exp(v), tg_expm1(tp, x))                     \
    X(log1p, log1p, OC_EDS, -0.7, 3, -0.3, 0, log1p(v), 1 / (1 + v), tg_log1p(tp, x))              \
    X(log2, log2, OC_EDS, 0.3, 3, 1.3, 0, log2(v), 1 / (v * oc_ln2), tg_log2(tp, x))               \
    X(log10, log10, OC_EDS, 0.3, 3, 1.3, 0, log10(v), 1 / (v * oc_ln10), tg_log10(tp, x))          \
    X(exp2, exp2, OC_EDS, -3, 3, 1.3, 0, exp2(v), exp2(v) * oc_ln2, tg_exp2(tp, x))                \
    X(cbrt, cbrt, OC_EDS, 0.3, 3, 1.3, 0, cbrt(v), 1 / (3 * cbrt(v) * cbrt(v)), tg_cbrt(tp, x))    \
    X(cbrt, cbrt_neg, OC_SCALAR, 0, 0, -1.3, 0, 0, 0, tg_cbrt(tp, x))                              \
    X(reciprocal, reciprocal, OC_EDS, 0.3, 3, 1.3, 0, 1 / v, -1 / (v * v), tg_reciprocal(tp, x))   \
    X(reciprocal, reciprocal_neg, OC_SCALAR, 0, 0, -1.3, 0, 0, 0, tg_reciprocal(tp, x))            \
    X(rsqrt, rsqrt, OC_EDS, 0.3, 3, 1.3, 0, 1 / sqrt(v), -0.5 / (v * sqrt(v)), tg_rsqrt(tp, x))    \
    /* ---- activations (src/ops/activation.c) ---- */                                             \
    X(silu, silu, OC_EDS, -4, 4, -1.3, 0, v * oc_sigmoid(v),                                       \
      oc_sigmoid(v) * (1 + v * (1 - oc_sigmoid(v))), tg_silu(tp, x))                               \
    X(gelu, gelu, OC_EDS, -3, 3, -1.3, 0, v * (0.5 * erfc(-oc_rsqrt2 * v)),                        \
      0.5 * erfc(-oc_rsqrt2 * v) + v * exp(-0.5 * v * v) * oc_rsqrt2pi, tg_gelu(tp, x))            \
    /* PyTorch's formula cancels in 1 + tanh for x < -1 (f32 loses digits there) */                \
    X(gelu_tanh, gelu_tanh, OC_EDS, -1, 3, -1.3, 0, oc_gelu_tanh(v), oc_dgelu_tanh(v),             \
      tg_gelu_tanh(tp, x))                                                                         \
    X(softsign, softsign, OC_EDS, -3, 3, -1.3, 0, v / (1 + fabs(v)),                               \
      1 / ((1 + fabs(v)) * (1 + fabs(v))), tg_softsign(tp, x))                                     \
    X(mish, mish, OC_EDS, -4, 4, -1.3, 0, v * tanh(log1p(exp(v))), oc_dmish(v), tg_mish(tp, x))    \
    /* the piecewise ones: each piece and the corner (PyTorch's gradient there); */                \
    /* hardtanh's OC_ELEM range is inside its bounds (else a 1-element draw is vacuous) */         \
    X(leaky_relu, leaky_relu, OC_ELEM | OC_SCALAR, -2, 2, 1.3, 0, v > 0 ? v : 0.1 * v,             \
      v > 0 ? 1 : 0.1, tg_leaky_relu(tp, x, 0.1))                                                  \
    X(leaky_relu, leaky_relu_neg, OC_SCALAR, 0, 0, -1.3, 0, 0, 0, tg_leaky_relu(tp, x, 0.1))       \
    X(leaky_relu, leaky_relu_at_0, OC_SCALAR, 0, 0, 0, 0, 0, 0, tg_leaky_relu(tp, x, 0.1))         \
    X(leaky_relu, leaky_relu_shifted, OC_DIRECT, 0, 0, 0, 0, 0, 0,                                 \
      tg_leaky_relu(tp, tg_add_scalar(tp, x, -1.1), 0.1))                                          \
    X(elu, elu, OC_ELEM | OC_SCALAR, -2, 2, 1.3, 0, v > 0 ? v : 1.3 * expm1(v),                    \
      v > 0 ? 1 : 1.3 * exp(v), tg_elu(tp, x, 1.3))                                                \
    X(elu, elu_neg, OC_SCALAR, 0, 0, -1.3, 0, 0, 0, tg_elu(tp, x, 1.3))                            \
    X(elu, elu_at_0, OC_SCALAR, 0, 0, 0, 0, 0, 0, tg_elu(tp, x, 1.3))                              \
    X(elu, elu_shifted, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_elu(tp, tg_add_scalar(tp, x, -1.1), 1.3))  \
    X(hardtanh, hardtanh, OC_ELEM | OC_SCALAR, -0.95, 1.15, 0.3, 0, fmin(fmax(v, -1), 1.2),          \
      v > -1 && v < 1.2, tg_hardtanh(tp, x, -1, 1.2))                                              \
    X(hardtanh, hardtanh_below, OC_SCALAR, 0, 0, -1.3, 0, 0, 0, tg_hardtanh(tp, x, -1, 1))         \
    X(hardtanh, hardtanh_at_hi, OC_SCALAR, 0, 0, 1, 0, 0, 0, tg_hardtanh(tp, x, -1, 1))            \
    X(hardtanh, hardtanh_shifted, OC_DIRECT, 0, 0, 0, 0, 0, 0,                                     \
      tg_hardtanh(tp, tg_add_scalar(tp, x, -1.1), -0.5, 0.5))                                      \
    X(sign, sign, OC_ZERO_GRAD, 0, 0, 0, 0, 0, 0, tg_sign(tp, x))                                  \
    X(step, step, OC_ZERO_GRAD, 0, 0, 0, 0, 0, 0, tg_step(tp, x))                                  \
    X(detach, detach, OC_ZERO_GRAD, 0, 0, 0, 0, 0, 0, tg_detach(tp, x))                            \
    X(cast, cast_f64, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_cast(tp, x, TG_F64))                         \
    X(cast, cast64, OC_PASS1, 0, 0, 0, 0, 0, 0, tg_cast(tp, x, TG_F64))                            \
    X(cast, cast32, OC_PASS1 | OC_NARROWS, 0, 0, 0, 0, 0, 0, tg_cast(tp, x, TG_F32))               \
    X(cast, cast_trip, OC_PASS1 | OC_NARROWS, 0, 0, 0, 0, 0, 0,                                    \
      tg_cast(tp, tg_cast(tp, x, TG_F32), TG_F64))                                                 \
    /* the gradient ops the op-built rules record (no scalar rule: they run                     \
     * in create_graph sweeps, whose one-element nodes use the direct rule) */                   \
    X(square_grad, square_grad, OC_DIRECT | OC_NS | OC_INTERNAL, 0, 0, 0, 0, 0, 0,                 \
      oc_grad(tp, tg_square(tp, x), x))                                                            \
    X(sigmoid_grad, sigmoid_grad, OC_DIRECT | OC_NS | OC_INTERNAL, 0, 0, 0, 0, 0, 0,               \
      oc_grad(tp, tg_square(tp, tg_sigmoid(tp, x)), x))                                            \
    X(tanh_grad, tanh_grad, OC_DIRECT | OC_NS | OC_INTERNAL, 0, 0, 0, 0, 0, 0,                     \
      oc_grad(tp, tg_square(tp, tg_tanh(tp, x)), x))                                               \
    X(relu_grad, relu_grad, OC_DIRECT | OC_NS | OC_INTERNAL, 0, 0, 0, 0, 0, 0,                     \
      oc_grad(tp, tg_square(tp, tg_relu(tp, tg_add_scalar(tp, x, -1.1))), x))                      \
    /* ---- scalar operand (src/ops/elementwise.c) ---- */                                        \
    X(add_scalar, add_scalar, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_add_scalar(tp, x, 2.5))              \
    X(add_scalar, add_scalar_2_3, OC_SCALAR, 0, 0, 1.3, 0, 0, 0, tg_add_scalar(tp, x, 2.3))        \
    X(mul_scalar, mul_scalar, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_mul_scalar(tp, x, -1.5))             \
    X(mul_scalar, mul_scalar_m1_7, OC_SCALAR, 0, 0, 1.3, 0, 0, 0, tg_mul_scalar(tp, x, -1.7))      \
    X(rsub_scalar, rsub_scalar, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_rsub_scalar(tp, 1, x))             \
    X(rsub_scalar, rsub_scalar_1_1, OC_SCALAR, 0, 0, 1.3, 0, 0, 0, tg_rsub_scalar(tp, 1.1, x))     \
    X(rdiv_scalar, rdiv_scalar, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_rdiv_scalar(tp, 2, x))             \
    X(rdiv_scalar, rdiv_scalar_2_3, OC_SCALAR, 0, 0, 1.3, 0, 0, 0, tg_rdiv_scalar(tp, 2.3, x))     \
    /* pow_scalar's scalar rule has four branches: p = 0, 1, 2, other */                          \
    X(pow_scalar, pow_scalar, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_pow_scalar(tp, x, 1.7))              \
    X(pow_scalar, pow_scalar_0, OC_SCALAR, 0, 0, 1.3, 0, 0, 0, tg_pow_scalar(tp, x, 0))            \
    X(pow_scalar, pow_scalar_1, OC_SCALAR, 0, 0, 1.3, 0, 0, 0, tg_pow_scalar(tp, x, 1))            \
    X(pow_scalar, pow_scalar_2, OC_SCALAR, 0, 0, 1.3, 0, 0, 0, tg_pow_scalar(tp, x, 2))            \
    X(pow_scalar, pow_scalar_3_5, OC_SCALAR, 0, 0, 1.3, 0, 0, 0, tg_pow_scalar(tp, x, 3.5))        \
    /* ---- binary, broadcasting (src/ops/elementwise.c) ---- */                                  \
    X(add, add, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_add(tp, x, K->c))                                  \
    X(add, add_xy, OC_SCALAR, 0, 0, 1.3, 0.7, 0, 0, tg_add(tp, x, y))                              \
    X(add, add_x_x, OC_ALIAS | OC_SCALAR, 0, 0, 1.3, 0, 0, 0, tg_add(tp, x, x))                    \
    X(sub, sub, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_sub(tp, K->c, x))                                  \
    X(sub, sub_xy, OC_SCALAR, 0, 0, 1.3, 0.7, 0, 0, tg_sub(tp, x, y))                              \
    /* x - x is 0 with gradient 0: the check is of 3x - x */                                      \
    X(sub, sub_3x_x, OC_ALIAS, 0, 0, 0, 0, 0, 0, tg_sub(tp, tg_mul_scalar(tp, x, 3), x))           \
    X(mul, mul, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_mul(tp, x, K->c))                                  \
    X(mul, mul_xy, OC_SCALAR, 0, 0, 1.3, -0.7, 0, 0, tg_mul(tp, x, y))                             \
    X(mul, mul_x_x, OC_ALIAS | OC_SCALAR, 0, 0, 1.3, 0, 0, 0, tg_mul(tp, x, x))                    \
    /* x (2,2,4,4) against a (4) row cut from x itself */                                         \
    X(mul, mul_broadcast, OC_DIRECT, 0, 0, 0, 0, 0, 0,                                             \
      tg_mul(tp, x, tg_slice(tp, tg_reshape(tp, x, 1, OC_S(64)), 0, 3, 7, 1)))                     \
    X(div, div, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_div(tp, K->c, x))                                  \
    X(div, div_xy, OC_SCALAR, 0, 0, 1.3, 0.7, 0, 0, tg_div(tp, x, y))                              \
    X(div, div_x_x, OC_SCALAR, 0, 0, 1.3, 0, 0, 0, tg_div(tp, x, x))                               \
    /* y / y^2 = 1 / sqrt x, y = sqrt x */                                                        \
    X(div, div_y_yy, OC_ALIAS, 0, 0, 0, 0, 0, 0,                                                   \
      oc_div_y_yy(tp, tg_sqrt(tp, x)))                                                             \
    X(pow, pow, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_pow(tp, x, K->c))                                  \
    X(pow, pow_xy, OC_SCALAR, 0, 0, 1.3, 0.7, 0, 0, tg_pow(tp, x, y))                              \
    X(pow, pow_x_x, OC_ALIAS | OC_SCALAR, 0, 0, 1.3, 0, 0, 0, tg_pow(tp, x, x))                    \
    X(maximum, maximum, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_maximum(tp, x, K->c))                      \
    X(maximum, maximum_xy, OC_SCALAR, 0, 0, 1.3, 0.7, 0, 0, tg_maximum(tp, x, y))                  \
    X(maximum, maximum_b_wins, OC_SCALAR, 0, 0, -1.3, 0.7, 0, 0, tg_maximum(tp, x, y))             \
    X(maximum, maximum_tie, OC_SCALAR, 0, 0, 0.7, 0.7, 0, 0, tg_maximum(tp, x, y))                 \
    X(minimum, minimum, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_minimum(tp, K->c, x))                      \
    X(minimum, minimum_xy, OC_SCALAR, 0, 0, 1.3, 0.7, 0, 0, tg_minimum(tp, x, y))                  \
    X(minimum, minimum_a_wins, OC_SCALAR, 0, 0, -1.3, 0.7, 0, 0, tg_minimum(tp, x, y))             \
    X(minimum, minimum_tie, OC_SCALAR, 0, 0, 0.7, 0.7, 0, 0, tg_minimum(tp, x, y))                 \
    /* ---- selection and comparison (src/ops/select.c): conditions from K->c ---- */              \
    X(where, where, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_where(tp, OC_C_GT_MEAN, x, K->c))              \
    X(where, where_broadcast, OC_DIRECT, 0, 0, 0, 0, 0, 0,                                         \
      tg_where(tp, tg_gt(tp, OC_C_MEAN3, tg_mean_all(tp, K->c)), tg_sum_all(tp, x),                \
               tg_sum(tp, x, 1, (const int[]){0}, true)))                                          \
    X(where, where_alias, OC_ALIAS, 0, 0, 0, 0, 0, 0, tg_where(tp, OC_C_GT_MEAN, x, x))            \
    X(where, where_xy, OC_SCALAR, 0, 0, 1.3, 0.7, 0, 0, tg_where(tp, tg_gt(tp, x, y), x, y))       \
    X(where, where_yx, OC_SCALAR, 0, 0, 0.7, 1.3, 0, 0, tg_where(tp, tg_gt(tp, x, y), x, y))       \
    X(masked_fill, masked_fill, OC_DIRECT, 0, 0, 0, 0, 0, 0,                                       \
      tg_masked_fill(tp, x, OC_C_GT_MEAN, -2.5))                                                   \
    X(masked_fill, masked_fill_broadcast, OC_DIRECT, 0, 0, 0, 0, 0, 0,                             \
      tg_masked_fill(tp, x, tg_gt(tp, OC_C_MEAN3, tg_mean_all(tp, K->c)), 0.5))                    \
    X(masked_fill, masked_fill_kept, OC_SCALAR, 0, 0, 1.3, 0, 0, 0,                                \
      tg_masked_fill(tp, x, OC_X_GT_0, -2.5))                                                      \
    X(masked_fill, masked_fill_masked, OC_SCALAR, 0, 0, -0.7, 0, 0, 0,                             \
      tg_masked_fill(tp, x, OC_X_GT_0, -INFINITY))                                                 \
    X(clamp, clamp, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_clamp(tp, x, 0.7, 1.5))                        \
    X(clamp, clamp_in, OC_SCALAR, 0, 0, 1.3, 0, 0, 0, tg_clamp(tp, x, 0.7, 1.5))                   \
    X(clamp, clamp_below, OC_SCALAR, 0, 0, 0.2, 0, 0, 0, tg_clamp(tp, x, 0.7, 1.5))                \
    X(clamp, clamp_above, OC_SCALAR, 0, 0, 1.7, 0, 0, 0, tg_clamp(tp, x, 0.7, 1.5))                \
    X(clamp, clamp_at_lo, OC_SCALAR, 0, 0, 0.7, 0, 0, 0, tg_clamp(tp, x, 0.7, 1.5))                \
    X(clamp, clamp_at_hi, OC_SCALAR, 0, 0, 1.5, 0, 0, 0, tg_clamp(tp, x, 0.7, 1.5))                \
    X(clamp, clamp_inverted, OC_SCALAR, 0, 0, 1.1, 0, 0, 0, tg_clamp(tp, x, 1.5, 0.7))             \
    X(clamp_tensor, clamp_tensor, OC_DIRECT, 0, 0, 0, 0, 0, 0,                                     \
      tg_clamp_tensor(tp, x, tg_mul_scalar(tp, K->c, 0.8), tg_add_scalar(tp, K->c, 0.3)))          \
    X(clamp_tensor, clamp_tensor_bounds, OC_DIRECT, 0, 0, 0, 0, 0, 0,                              \
      tg_clamp_tensor(tp, K->c,                                                                    \
                      tg_add_scalar(tp, tg_mean(tp, x, 1, (const int[]){3}, true), -0.4),          \
                      tg_add_scalar(tp, tg_mean_all(tp, x), 0.1)))                                 \
    X(clamp_tensor, clamp_tensor_no_hi, OC_DIRECT, 0, 0, 0, 0, 0, 0,                               \
      tg_clamp_tensor(tp, x, K->c, NULL))                                                          \
    X(clamp_tensor, clamp_tensor_alias, OC_ALIAS, 0, 0, 0, 0, 0, 0,                                \
      tg_clamp_tensor(tp, K->c, x, x))                                                             \
    X(clamp_tensor, clamp_tensor_x, OC_SCALAR, 0, 0, 1.3, 0.7, 0, 0,                               \
      tg_clamp_tensor(tp, x, y, NULL))                                                             \
    X(clamp_tensor, clamp_tensor_lo, OC_SCALAR, 0, 0, 0.4, 0.7, 0, 0,                              \
      tg_clamp_tensor(tp, x, y, NULL))                                                             \
    X(clamp_tensor, clamp_tensor_at_lo, OC_SCALAR, 0, 0, 0.7, 0.7, 0, 0,                           \
      tg_clamp_tensor(tp, x, y, NULL))                                                             \
    X(clamp_tensor, clamp_tensor_hi, OC_SCALAR, 0, 0, 1.3, 0.7, 0, 0,                              \
      tg_clamp_tensor(tp, x, NULL, y))                                                             \
    X(clamp_tensor, clamp_tensor_inverted, OC_SCALAR, 0, 0, 1.3, 0.7, 0, 0,                        \
      tg_clamp_tensor(tp, x, tg_add_scalar(tp, y, 1.0), y))                                        \
    X(eq, eq, OC_ZERO_GRAD, 0, 0, 0, 0, 0, 0, tg_eq(tp, x, tg_mul_scalar(tp, x, 1.0)))             \
    X(ne, ne, OC_ZERO_GRAD, 0, 0, 0, 0, 0, 0, tg_ne(tp, x, tg_mean_all(tp, x)))                    \
    X(lt, lt, OC_ZERO_GRAD, 0, 0, 0, 0, 0, 0, tg_lt(tp, x, tg_mean_all(tp, x)))                    \
    X(le, le, OC_ZERO_GRAD, 0, 0, 0, 0, 0, 0, tg_le(tp, x, tg_mean_all(tp, x)))                    \
    X(gt, gt, OC_ZERO_GRAD, 0, 0, 0, 0, 0, 0, tg_gt(tp, x, tg_mean_all(tp, x)))                    \
    X(ge, ge, OC_ZERO_GRAD, 0, 0, 0, 0, 0, 0, tg_ge(tp, x, tg_mean_all(tp, x)))                    \
    /* atan2 and hypot (0/0 at a = b = 0: the operands here keep away from it; */                  \
    /* atan2(x, x) = pi/4 is constant, so only hypot has an OC_ALIAS row) */                       \
    X(atan2, atan2, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_atan2(tp, x, K->c))                            \
    X(atan2, atan2_xy, OC_SCALAR, 0, 0, 1.3, -0.7, 0, 0, tg_atan2(tp, x, y))                       \
    X(atan2, atan2_x_x, OC_SCALAR, 0, 0, -1.3, 0, 0, 0, tg_atan2(tp, x, x))                        \
    X(atan2, atan2_broadcast, OC_DIRECT, 0, 0, 0, 0, 0, 0,                                         \
      tg_atan2(tp, tg_slice(tp, tg_reshape(tp, x, 1, OC_S(64)), 0, 3, 7, 1), x))                   \
    X(hypot, hypot, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_hypot(tp, K->c, x))                            \
    X(hypot, hypot_xy, OC_SCALAR, 0, 0, 1.3, -0.7, 0, 0, tg_hypot(tp, x, y))                       \
    X(hypot, hypot_x_x, OC_ALIAS | OC_SCALAR, 0, 0, 1.3, 0, 0, 0, tg_hypot(tp, x, x))              \
    X(hypot, hypot_broadcast, OC_DIRECT, 0, 0, 0, 0, 0, 0,                                         \
      tg_hypot(tp, x, tg_slice(tp, tg_reshape(tp, x, 1, OC_S(64)), 0, 3, 7, 1)))                   \
    /* ---- softmax (src/ops/softmax.c): no scalar rule, one element is 1 ---- */                 \
    X(softmax, softmax, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_softmax(tp, x, -1))                \
    X(softmax, softmax_axis_1, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_softmax(tp, x, 1))          \
    X(log_softmax, log_softmax_axis_0, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                        \
      tg_log_softmax(tp, x, 0))                                                                    \
    /* ---- normalisation (src/ops/norm.c): no scalar rule, a one-element set ---- */           \
    /* ---- normalises to 0 (the output is the bias); weights cut from x or K->c ---- */          \
    X(layer_norm, layer_norm, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                 \
      tg_layer_norm(tp, x, 1, OC_CUT(x, 3, 4), OC_CUT(x, 20, 4), 1e-5))                            \
    X(layer_norm, layer_norm_2_axes, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                          \
      tg_layer_norm(tp, x, 2, NULL, NULL, 1e-5))                                                   \
    /* x in all three slots of one node: x (64), weight x, bias x */                              \
    X(layer_norm, layer_norm_x_x_x, OC_ALIAS | OC_NS, 0, 0, 0, 0, 0, 0,                            \
      oc_layer_norm_self(tp, tg_reshape(tp, x, 1, OC_S(64))))                                      \
    X(batch_norm, batch_norm, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                 \
      tg_batch_norm(tp, x, OC_CUT(x, 3, 2), OC_CUT(x, 9, 2), NULL, NULL, true, 0.1, 1e-5))         \
    X(batch_norm, batch_norm_eval, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                            \
      tg_batch_norm(tp, x, OC_CUT(x, 3, 2), NULL, OC_CUT(K->c, 0, 2), OC_CUT(K->c, 5, 2), false,   \
                    0.1, 1e-5))                                                                    \
    X(group_norm, group_norm, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                 \
      tg_group_norm(tp, x, 1, OC_CUT(x, 7, 2), OC_CUT(x, 11, 2), 1e-5))                            \
    X(group_norm, group_norm_2, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                               \
      tg_group_norm(tp, tg_reshape(tp, x, 3, OC_S(2, 4, 8)), 2, NULL, OC_CUT(x, 30, 4), 1e-5))     \
    /* ---- reductions (src/ops/reduce.c) ---- */                                                 \
    X(sum, sum_all, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_sum_all(tp, x))                                \
    X(sum, sum_axes_1_3, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_sum(tp, x, 2, (const int[]){1, 3}, false))\
    X(sum, sum_all_1, OC_PASS1, 0, 0, 0, 0, 0, 0, tg_sum_all(tp, x))                               \
    X(sum, sum_axis_0, OC_PASS1, 0, 0, 0, 0, 0, 0, tg_sum(tp, x, 1, (const int[]){0}, false))      \
    X(mean, mean_all, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_mean_all(tp, x))                             \
    X(mean, mean_axis_0, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_mean(tp, x, 1, (const int[]){0}, true))   \
    X(mean, mean_all_1, OC_PASS1, 0, 0, 0, 0, 0, 0, tg_mean_all(tp, x))                            \
    X(mean, mean_axis_m1, OC_PASS1, 0, 0, 0, 0, 0, 0, tg_mean(tp, x, 1, (const int[]){-1}, true))  \
    X(sum_to, sum_to, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_sum_to(tp, x, 3, OC_S(2, 1, 4)))             \
    X(sum_to, sum_to_1, OC_PASS1, 0, 0, 0, 0, 0, 0, tg_sum_to(tp, x, 1, OC_S(1)))                  \
    /* a one-element max is a copy, the direct rule is as fast */                                \
    X(max, max, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_max(tp, x, 2, false))                      \
    /* ---- more reductions (src/ops/reduce.c, reduce_stat.c, scan.c): a ---- */                 \
    /* ---- one-element reduction is a copy, the direct rule is as fast; ---- */                  \
    /* ---- relu(x - 1.1) makes exact zeros (none, one or two per product) ---- */                \
    X(min, min, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_min(tp, x, -1, true))                      \
    X(prod, prod, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_prod(tp, x, 2, (const int[]){1, -1}, false)) \
    X(prod, prod_zeros, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                       \
      tg_prod(tp, tg_relu(tp, tg_add_scalar(tp, x, -1.1)), 1, (const int[]){1}, true))             \
    X(logsumexp, logsumexp, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                   \
      tg_logsumexp(tp, x, 2, (const int[]){0, 2}, true))                                           \
    X(norm, norm_2, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_norm(tp, x, 2, 1, (const int[]){-1}, false)) \
    X(norm, norm_1, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                           \
      tg_norm(tp, x, 1, 2, (const int[]){0, 1}, false))                                            \
    X(norm, norm_inf, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                         \
      tg_norm(tp, x, INFINITY, 1, (const int[]){3}, true))                                         \
    X(norm, norm_3, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_norm(tp, x, 3, 1, (const int[]){2}, false)) \
    X(cumsum, cumsum, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_cumsum(tp, x, 2))                            \
    X(cumsum, cumsum_1, OC_PASS1, 0, 0, 0, 0, 0, 0, tg_cumsum(tp, x, 0))                           \
    X(cumprod, cumprod, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_cumprod(tp, x, -1))                \
    X(cumprod, cumprod_zeros, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                 \
      tg_cumprod(tp, tg_relu(tp, tg_add_scalar(tp, x, -1.1)), 3))                                  \
    /* ---- shape ops (src/ops/shape.c) ---- */                                                   \
    X(reshape, reshape, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_reshape(tp, x, 2, OC_S(8, 8)))             \
    X(reshape, flatten, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_flatten(tp, x))                            \
    X(reshape, reshape_111, OC_PASS1, 0, 0, 0, 0, 0, 0, tg_reshape(tp, x, 3, OC_S(1, 1, 1)))       \
    X(permute, permute, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_permute_dims(tp, x, 4, (const int[]){2, 0, 3, 1})) \
    X(permute, transpose, OC_DIRECT, 0, 0, 0, 0, 0, 0, tg_transpose(tp, x, 1, 3))                  \
    X(permute, permute_111, OC_PASS1, 0, 0, 0, 0, 0, 0,                                            \
      tg_permute_dims(tp, tg_reshape(tp, x, 3, OC_S(1, 1, 1)), 3, (const int[]){2, 0, 1}))                 \
    X(broadcast_to, broadcast_to, OC_DIRECT, 0, 0, 0, 0, 0, 0,                                     \
      tg_broadcast_to(tp, x, 5, OC_S(3, 2, 2, 4, 4)))                                              \
    X(broadcast_to, broadcast_111, OC_PASS1, 0, 0, 0, 0, 0, 0,                                     \
      tg_broadcast_to(tp, x, 3, OC_S(1, 1, 1)))                                                    \
    /* slice, embed, concat: a one-element node is a copy, no scalar rule */                      \
    X(slice, slice, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_slice(tp, x, 2, 1, 4, 2))              \
    X(embed, embed, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                           \
      tg_embed(tp, x, 4, OC_S(2, 2, 9, 4), 2, 1, 2))                                               \
    X(concat, concat, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                         \
      tg_concat(tp, 2, OC_T(tg_square(tp, x), x), 1))                                              \
    X(concat, concat_x_x_x, OC_ALIAS | OC_NS, 0, 0, 0, 0, 0, 0, tg_concat(tp, 3, OC_T(x, x, x), 2))\
    /* ---- indexing (src/ops/index.c): a one-element node is a copy, no scalar rule ---- */   \
    X(gather, gather, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_gather(tp, x, 2, K->i2244))          \
    X(scatter_add, scatter_add, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                               \
      tg_scatter_add(tp, x, -1, K->i2244, tg_square(tp, x)))                                       \
    X(scatter_add, scatter_add_x_x, OC_ALIAS | OC_NS, 0, 0, 0, 0, 0, 0,                            \
      tg_scatter_add(tp, x, 2, K->i2244, x))                                                       \
    X(index_select, index_select, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                             \
      tg_index_select(tp, x, 1, K->i3))                                                            \
    X(index_add, index_add, OC_DIRECT | OC_NS | OC_INTERNAL, 0, 0, 0, 0, 0, 0,                     \
      oc_grad(tp, tg_square(tp, tg_index_select(tp, x, -3, K->i3)), x))                            \
    X(embedding, embedding, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                   \
      tg_embedding(tp, OC_X4x16, K->i23, -1))                                                      \
    /* ---- matmul (src/ops/matmul.c): a 1x1 product takes the direct rule ---- */                \
    X(matmul, matmul, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_matmul(tp, OC_X4x16, K->w16))       \
    X(matmul, matmul_batched_x_xt, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                            \
      oc_matmul_b_bt(tp, OC_BATCH444))                                                             \
    /* NumPy's layouts (ops/matmul_general.c): batch axes that stretch, a vector */               \
    X(matmul, matmul_bcast_4d, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                \
      tg_matmul(tp, x, tg_slice(tp, x, 0, 0, 1, 1)))                                               \
    X(matmul, matmul_vec_4d, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                  \
      tg_matmul(tp, tg_sum(tp, x, 3, (const int[]){0, 1, 3}, false), x))                           \
    X(matmul, matmul_t, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                       \
      tg_matmul_t(tp, K->w16, OC_X4x16, true, true))                                               \
    X(matmul, matmul_x_x, OC_ALIAS | OC_NS, 0, 0, 0, 0, 0, 0,                                      \
      oc_matmul_m_m(tp, tg_reshape(tp, x, 2, OC_S(8, 8))))                                         \
    /* b^T b per batch item, one b in both slots */                                               \
    X(matmul, matmul_t_btb, OC_ALIAS | OC_NS, 0, 0, 0, 0, 0, 0,                                    \
      oc_matmul_t_self(tp, OC_BATCH444))                                                           \
    /* ---- linear algebra (src/ops/linalg.c, src/ops/linalg_det.c): no scalar rule, as even  \
     * a 1x1 result comes from the LU or LAPACK kernel, whose rounding (a reciprocal, say) a     \
     * scalar rule would have to copy bit for bit; well conditioned: x + c I, x x^T + 4 I ---- */  \
    X(solve, solve, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_solve(tp, oc_plus_eye(tp, x, 4), x))  \
    X(solve_triangular, solve_upper, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                          \
      tg_solve_triangular(tp, oc_plus_eye(tp, x, 2), x, true))                                     \
    X(solve_triangular, solve_lower, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                          \
      tg_solve_triangular(tp, oc_plus_eye(tp, x, 2), x, false))                                    \
    X(cholesky, cholesky, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                     \
      tg_cholesky(tp, oc_plus_eye(tp, oc_matmul_b_bt(tp, OC_BATCH444), 4)))                        \
    X(inv, inv, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_inv(tp, oc_plus_eye(tp, x, 4)))           \
    X(det, det, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_det(tp, oc_plus_eye(tp, x, 2)))           \
    X(slogdet, slogdet, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                       \
      tg_slogdet(tp, oc_plus_eye(tp, x, 2), NULL))                                                 \
    /* ---- convolution and pooling (src/ops/conv.c, pool.c): no scalar rule, ---- */             \
    /* ---- a one-element window is a product or a copy ---- */                                   \
    X(conv2d, conv2d, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                         \
      tg_conv2d(tp, x, K->wconv, K->bconv, 1, 1, 1, 1))                                            \
    X(conv2d, conv2d_stride_2, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                \
      tg_conv2d(tp, x, K->wconv, NULL, 2, 2, 1, 0))                                                \
    /* x as image and weights: both gradient ops recorded */                                      \
    X(conv2d_input_grad, conv2d_input_grad, OC_DIRECT | OC_NS | OC_INTERNAL, 0, 0, 0, 0, 0, 0,     \
      oc_grad(tp, tg_square(tp, tg_conv2d(tp, x, x, NULL, 1, 1, 1, 1)), x))                        \
    X(conv2d_weight_grad, conv2d_weight_grad, OC_DIRECT | OC_NS | OC_INTERNAL, 0, 0, 0, 0, 0, 0,   \
      oc_grad(tp, tg_square(tp, tg_conv2d(tp, x, x, NULL, 1, 1, 1, 1)), x))                        \
    X(im2col, im2col, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, tg_im2col(tp, x, 3, 2, 1, 2, 1, 0))     \
    /* the (2*2*2, 2*2*8) columns of a (2,2,3,4) image with 2x2 windows */                       \
    X(col2im, col2im, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                         \
      tg_col2im_to(tp, tg_reshape(tp, x, 2, OC_S(8, 8)), 4, OC_S(1, 2, 3, 5), 2, 2, 1, 1, 0, 0))         \
    X(max_pool2d, max_pool2d, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, OC_MAXPOOL)                     \
    X(max_pool2d_backward, max_pool2d_backward, OC_DIRECT | OC_NS | OC_INTERNAL, 0, 0, 0, 0, 0, 0, \
      oc_grad(tp, tg_square(tp, OC_MAXPOOL), x))                                                   \
    X(max_pool2d_gather, max_pool2d_gather, OC_DIRECT | OC_NS | OC_INTERNAL, 0, 0, 0, 0, 0, 0,     \
      oc_grad(tp, tg_square(tp, oc_grad(tp, tg_square(tp, OC_MAXPOOL), x)), x))                    \
    X(avg_pool2d, avg_pool2d, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0, OC_AVGPOOL)                     \
    X(avg_pool2d_backward, avg_pool2d_backward, OC_DIRECT | OC_NS | OC_INTERNAL, 0, 0, 0, 0, 0, 0, \
      oc_grad(tp, tg_square(tp, OC_AVGPOOL), x))                                                   \
    /* ---- dilation, groups, conv1d, conv_transpose2d (src/ops/conv_api.c) and ---- */         \
    /* ---- adaptive pooling (src/ops/pool_adaptive.c): no scalar rule, as above ---- */          \
    X(conv2d, conv2d_dilated, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                 \
      tg_conv2d_ex(tp, x, K->wconv, K->bconv,                                                      \
                   &((tg_conv2d_opts){.pad_h = 1, .pad_w = 2, .dilation_h = 2,                     \
                                      .dilation_w = 3})))                                          \
    /* groups = C = 2: depthwise, three filters per channel */                                    \
    X(conv2d, conv2d_depthwise, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                               \
      tg_conv2d_ex(tp, x, tg_reshape(tp, K->wconv, 4, OC_S(6, 1, 3, 3)), NULL,                     \
                   &((tg_conv2d_opts){.stride_h = 2, .pad_h = 1, .pad_w = 1, .groups = 2})))       \
    X(conv2d, conv1d, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                                         \
      tg_conv1d(tp, tg_reshape(tp, x, 3, OC_S(2, 2, 16)),                                          \
                tg_reshape(tp, K->wconv, 3, OC_S(6, 1, 9)), NULL, 2, 3, 2, 2))                     \
    X(conv2d_input_grad, conv_transpose2d, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                    \
      tg_conv_transpose2d(tp, x, tg_reshape(tp, K->wconv, 4, OC_S(2, 3, 3, 3)), K->bconv,          \
                          &((tg_conv2d_opts){.stride_h = 2, .stride_w = 2, .pad_h = 1}), 1, 0))    \
    X(conv2d_input_grad, conv_transpose2d_groups, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,             \
      tg_conv_transpose2d(tp, x, tg_reshape(tp, K->wconv, 4, OC_S(2, 3, 3, 3)), NULL,              \
                          &((tg_conv2d_opts){.dilation_h = 2, .groups = 2}), 0, 0))                \
    /* 4 -> 3: windows of 2 overlapping by a row */                                               \
    X(adaptive_avg_pool2d, adaptive_avg_pool2d, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,               \
      tg_adaptive_avg_pool2d(tp, x, 3, 2))                                                         \
    X(adaptive_avg_pool2d, global_avg_pool2d, OC_DIRECT | OC_NS, 0, 0, 0, 0, 0, 0,                 \
      tg_global_avg_pool2d(tp, x))                                                                 \
    X(adaptive_avg_pool2d_backward, adaptive_avg_pool2d_backward,                                  \
      OC_DIRECT | OC_NS | OC_INTERNAL, 0, 0, 0, 0, 0, 0,                                           \
      oc_grad(tp, tg_square(tp, tg_adaptive_avg_pool2d(tp, x, 3, 5)), x))                          \
    /* ---- losses (src/ops/loss.c): xmul is t * log_softmax(z) where a target */                \
    /* ---- of 0 meets a masked (-inf) logit ---- */                                              \
    X(xmul, xmul, OC_DIRECT | OC_INTERNAL, 0, 0, 0, 0, 0, 0,                                       \
      tg_softmax_cross_entropy(tp, tg_concat(tp, 2, OC_T(OC_X4x16, K->ninf), 1), K->t17,           \
                               TG_REDUCE_MEAN))                                                    \
    /* the same with labels: the one-hot target is a constant, so forward mode     \
     * (test_jvp) carries a tangent through the logits alone (t17's has an           \
     * infinite term at the masked class, as its gradient has) */                   \
    X(xmul, xmul_labels, OC_DIRECT | OC_INTERNAL, 0, 0, 0, 0, 0, 0,                                \
      tg_softmax_cross_entropy_index(                                                              \
          tp,                                                                                      \
          tg_concat(tp, 2,                                                                         \
                    OC_T(tg_slice(tp, OC_X4x16, 0, 0, 3, 1), tg_slice(tp, K->ninf, 0, 0, 3, 1)),   \
                    1),                                                                            \
          K->i3, TG_REDUCE_MEAN))                                                                  \
    /* ---- fast dropout (src/ops/fast_dropout.c, via tg_fast_dropout_linear) ---- */            \
    X(fast_dropout, fast_dropout, OC_DIRECT | OC_INTERNAL, 0, 0, 0, 0, 0, 0,                       \
      tg_fast_dropout_linear(tp, OC_X4x16, K->w16, 0.7))
/* clang-format on */

static inline double oc_sigmoid(double v)
{
    /* never exp of a large positive number */
    return v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v));
}

/* layer_norm of v (64) with v as its weight and its bias: one value in
 * three slots. */
static inline tg_tensor *oc_layer_norm_self(tg_tape *tp, tg_tensor *v)
{
    return tg_layer_norm(tp, v, 1, v, v, 1e-5);
}

/* Constants and closed forms of the elementary functions' rows. */
#define oc_2_sqrtpi 1.12837916709551257390 /* 2/sqrt(pi) */
#define oc_ln2      0.69314718055994530942
#define oc_ln10     2.30258509299404568402
#define oc_rsqrt2   0.70710678118654752440 /* 1/sqrt(2) */
#define oc_rsqrt2pi 0.39894228040143267794 /* 1/sqrt(2 pi) */
/* PyTorch's gelu(approximate='tanh') and its derivative, in the order of
 * src/ops/activation.c (b = sqrt(2/pi), k = 0.044715) */
static inline double oc_gelu_tanh(double v)
{
    const double t = tanh(0.79788456080286535588 * (v + 0.044715 * (v * (v * v))));
    return 0.5 * v * (1 + t);
}
static inline double oc_dgelu_tanh(double v)
{
    const double t = tanh(0.79788456080286535588 * (v + 0.044715 * (v * (v * v))));
    return 0.5 * (1 + t) +
           0.5 * v * (1 - t * t) * 0.79788456080286535588 * (1 + 3 * 0.044715 * v * v);
}
/* d/dv v tanh(softplus v) = t + v sigmoid(v) (1 - t^2) */
static inline double oc_dmish(double v)
{
    const double t = tanh(log1p(exp(v)));
    return t + v * oc_sigmoid(v) * (1 - t * t);
}

/* Calls that use one value twice (one tensor in two slots, as the cases
 * need): m @ m, b @ b^T, b^T @ b (matmul_t), y / (y * y). */
tg_tensor *oc_matmul_m_m(tg_tape *tp, tg_tensor *m);
tg_tensor *oc_matmul_b_bt(tg_tape *tp, tg_tensor *b);
tg_tensor *oc_matmul_t_self(tg_tape *tp, tg_tensor *b);
tg_tensor *oc_div_y_yy(tg_tape *tp, tg_tensor *y);
/* x + c I for x (..., n, n), the identity made by ops from x's values (x * 0
 * + c on the diagonal), so it takes x's dtype and adds a zero gradient. */
tg_tensor *oc_plus_eye(tg_tape *tp, tg_tensor *x, double c);

/* One row of the table. */
typedef tg_tensor *(*oc_fn)(tg_tape *tp, tg_tensor *x, tg_tensor *y, const oc_consts *K);
typedef struct oc_case {
    const char *op, *id;
    unsigned flags;
    double lo, hi, a, b;
    double (*ref)(double v), (*dref)(double v);
    oc_fn f;
} oc_case;

extern const oc_case oc_cases[];
extern const int oc_num_cases;

/* The i-th case with all of flags set after index *from (start with -1),
 * or NULL: for (const oc_case *c; (c = oc_next(&i, OC_DIRECT));) ... */
const oc_case *oc_next(int *from, unsigned flags);

#endif
