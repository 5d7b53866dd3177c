/* The graph fuzzer's opcodes (fuzz_graph.c), in the order its corpus
 * (corpus/fuzz_graph) was written for: an input byte b picks opcode
 * b % OP_COUNT, so a new opcode goes at the end.  Each names the op it
 * records, the .name of a descriptor of the op registry (or a composite:
 * then the ops it is made of); tests/test_op_coverage.c fails when a public
 * built-in op (see tests/op_cases.h) is on no line. */
#ifndef TT_FUZZ_OPS_H
#define TT_FUZZ_OPS_H

/* X(opcode, op name) */
#define FUZZ_OPS(X)                                                                                \
    X(OP_ADD, "add")                                                                               \
    X(OP_SUB, "sub")                                                                               \
    X(OP_MUL, "mul")                                                                               \
    X(OP_DIV, "div")                                                                               \
    X(OP_POW, "pow")                                                                               \
    X(OP_MAXIMUM, "maximum")                                                                       \
    X(OP_MINIMUM, "minimum")                                                                       \
    X(OP_ADD_S, "add_scalar")                                                                      \
    X(OP_MUL_S, "mul_scalar")                                                                      \
    X(OP_RSUB_S, "rsub_scalar")                                                                    \
    X(OP_RDIV_S, "rdiv_scalar")                                                                    \
    X(OP_POW_S, "pow_scalar")                                                                      \
    X(OP_NEG, "neg")                                                                               \
    X(OP_EXP, "exp")                                                                               \
    X(OP_LOG, "log")                                                                               \
    X(OP_SQRT, "sqrt")                                                                             \
    X(OP_SQUARE, "square")                                                                         \
    X(OP_ABS, "abs")                                                                               \
    X(OP_SIGMOID, "sigmoid")                                                                       \
    X(OP_TANH, "tanh")                                                                             \
    X(OP_RELU, "relu")                                                                             \
    X(OP_SOFTPLUS, "softplus")                                                                     \
    X(OP_SIGN, "sign")                                                                             \
    X(OP_STEP, "step")                                                                             \
    X(OP_DETACH, "detach")                                                                         \
    X(OP_CAST, "cast")                                                                             \
    X(OP_SUM_ALL, "sum")                                                                           \
    X(OP_MEAN_ALL, "mean")                                                                         \
    X(OP_SUM, "sum")                                                                               \
    X(OP_MEAN, "mean")                                                                             \
    X(OP_MAX, "max")                                                                               \
    X(OP_SUM_TO, "sum_to")                                                                         \
    X(OP_RESHAPE, "reshape")                                                                       \
    X(OP_PERMUTE, "permute")                                                                       \
    X(OP_TRANSPOSE, "permute")                                                                     \
    X(OP_SLICE, "slice")                                                                           \
    X(OP_EMBED, "embed")                                                                           \
    X(OP_CONCAT, "concat")                                                                         \
    X(OP_BROADCAST, "broadcast_to")                                                                \
    X(OP_MATMUL, "matmul")                                                                         \
    X(OP_MATMUL_T, "matmul")                                                                       \
    X(OP_SOFTMAX, "softmax")                                                                       \
    X(OP_LOG_SOFTMAX, "log_softmax")                                                               \
    X(OP_SSE, "sse")                                                                               \
    X(OP_MSE, "mse")                                                                               \
    X(OP_BCE, "bce")                                                                               \
    X(OP_BCE_LOGITS, "bce_logits")                                                                 \
    X(OP_SCE, "softmax_cross_entropy")                                                             \
    X(OP_SCE_LABELS, "softmax_cross_entropy_labels")                                               \
    X(OP_CONV2D, "conv2d")                                                                         \
    X(OP_IM2COL, "im2col")                                                                         \
    X(OP_COL2IM, "col2im")                                                                         \
    X(OP_MAXPOOL, "max_pool2d")                                                                    \
    X(OP_AVGPOOL, "avg_pool2d")                                                                    \
    X(OP_FLATTEN, "reshape")                                                                       \
    X(OP_CONV2D_HUGE, "conv2d")                                                                    \
    X(OP_IM2COL_HUGE, "im2col")                                                                    \
    X(OP_COL2IM_HUGE, "col2im")                                                                    \
    X(OP_POOL_HUGE, "max_pool2d")                                                                  \
    X(OP_SLICE_HUGE, "slice")                                                                      \
    X(OP_EMBED_HUGE, "embed")                                                                      \
    X(OP_RESHAPE_HUGE, "reshape")                                                                  \
    X(OP_BROADCAST_HUGE, "broadcast_to")                                                           \
    X(OP_SIN, "sin")                                                                               \
    X(OP_COS, "cos")                                                                               \
    X(OP_TAN, "tan")                                                                               \
    X(OP_ASIN, "asin")                                                                             \
    X(OP_ACOS, "acos")                                                                             \
    X(OP_ATAN, "atan")                                                                             \
    X(OP_SINH, "sinh")                                                                             \
    X(OP_COSH, "cosh")                                                                             \
    X(OP_ASINH, "asinh")                                                                           \
    X(OP_ACOSH, "acosh")                                                                           \
    X(OP_ATANH, "atanh")                                                                           \
    X(OP_ERF, "erf")                                                                               \
    X(OP_ERFC, "erfc")                                                                             \
    X(OP_EXPM1, "expm1")                                                                           \
    X(OP_LOG1P, "log1p")                                                                           \
    X(OP_LOG2, "log2")                                                                             \
    X(OP_LOG10, "log10")                                                                           \
    X(OP_EXP2, "exp2")                                                                             \
    X(OP_CBRT, "cbrt")                                                                             \
    X(OP_RECIPROCAL, "reciprocal")                                                                 \
    X(OP_RSQRT, "rsqrt")                                                                           \
    X(OP_SILU, "silu")                                                                             \
    X(OP_GELU, "gelu")                                                                             \
    X(OP_GELU_TANH, "gelu_tanh")                                                                   \
    X(OP_SOFTSIGN, "softsign")                                                                     \
    X(OP_MISH, "mish")                                                                             \
    X(OP_LEAKY_RELU, "leaky_relu")                                                                 \
    X(OP_ELU, "elu")                                                                               \
    X(OP_HARDTANH, "hardtanh")                                                                     \
    X(OP_ATAN2, "atan2")                                                                           \
    X(OP_HYPOT, "hypot")

#endif
