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
    X(OP_GATHER, "gather")                                                                         \
    X(OP_SCATTER_ADD, "scatter_add")                                                               \
    X(OP_INDEX_SELECT, "index_select")                                                             \
    X(OP_EMBEDDING, "embedding")                                                                   \
    X(OP_ONE_HOT, "one_hot")                                                                       \
    X(OP_LAYER_NORM, "layer_norm")                                                                 \
    X(OP_BATCH_NORM, "batch_norm")                                                                 \
    X(OP_GROUP_NORM, "group_norm")                                                                 \
    X(OP_WHERE, "where")                                                                           \
    X(OP_MASKED_FILL, "masked_fill")                                                               \
    X(OP_CLAMP, "clamp")                                                                           \
    X(OP_CLAMP_TENSOR, "clamp_tensor")                                                             \
    X(OP_EQ, "eq")                                                                                 \
    X(OP_NE, "ne")                                                                                 \
    X(OP_LT, "lt")                                                                                 \
    X(OP_LE, "le")                                                                                 \
    X(OP_GT, "gt")                                                                                 \
    X(OP_GE, "ge")                                                                                 \
    X(OP_SOLVE, "solve")                                                                           \
    X(OP_SOLVE_TRIANGULAR, "solve_triangular")                                                     \
    X(OP_CHOLESKY, "cholesky")                                                                     \
    X(OP_INV, "inv")                                                                               \
    X(OP_DET, "det")                                                                               \
    X(OP_SLOGDET, "slogdet")                                                                       \
    X(OP_MIN, "min")                                                                               \
    X(OP_PROD, "prod")                                                                             \
    X(OP_LOGSUMEXP, "logsumexp")                                                                   \
    X(OP_NORM, "norm")                                                                             \
    X(OP_VAR, "mean")                                                                              \
    X(OP_STD, "norm")                                                                              \
    X(OP_CUMSUM, "cumsum")                                                                         \
    X(OP_CUMPROD, "cumprod")                                                                       \
    X(OP_ARGMAX, "argmax")                                                                         \
    X(OP_ARGMIN, "argmin")                                                                         \
    X(OP_CONV2D_EX, "conv2d")                                                                      \
    X(OP_CONV1D, "conv2d")                                                                         \
    X(OP_CONV_T, "conv2d_input_grad")                                                              \
    X(OP_ADAPTIVE_POOL, "adaptive_avg_pool2d")                                                     \
    X(OP_GLOBAL_POOL, "adaptive_avg_pool2d")

#endif
