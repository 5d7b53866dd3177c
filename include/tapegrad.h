/* tapegrad: a small reverse-mode automatic differentiation engine in C11.
 *
 * A worked example: y = sigmoid(w . x + b) and its gradients.
 *
 *     #include <tapegrad.h>
 *
 *     int64_t s2[] = {1, 2}, s1[] = {2, 1}, s0[] = {1, 1};
 *     tg_tensor *x = tg_tensor_from_f64(TG_F64, 2, s2, (double[]){1.0, 2.0});
 *     tg_tensor *w = tg_tensor_from_f64(TG_F64, 2, s1, (double[]){0.5, -0.25});
 *     tg_tensor *b = tg_tensor_from_f64(TG_F64, 2, s0, (double[]){0.1});
 *     tg_tensor_set_requires_grad(w, true);
 *     tg_tensor_set_requires_grad(b, true);
 *
 *     tg_tape *tp = tg_tape_new(NULL);
 *     tg_tensor *y = tg_sigmoid(tp, tg_add(tp, tg_matmul(tp, x, w), b));
 *     if (!y || tg_backward(tp, y) != TG_OK)
 *         fprintf(stderr, "%s\n", tg_tape_error(tp));
 *     tg_tape_print(tp, stdout);            // the Wengert list
 *     tg_tensor_print(stdout, "dy/dw", tg_tensor_grad(w), 0);
 *
 *     tg_tape_free(tp);
 *     tg_tensor_free(x); tg_tensor_free(w); tg_tensor_free(b);
 *
 * Errors never abort: an op given bad input returns NULL and the tape keeps
 * the first error (tg_tape_status, tg_tape_error) until tg_tape_reset.
 *
 * NULL arguments.  A pointer a function needs that is NULL is an error like
 * any other: TG_ERR_NULL and the message "function: parameter is NULL" (on
 * the tape for an op, in tg_last_error() otherwise), and the call returns
 * NULL, a status or a sentinel (NaN, -1, 0, false).  NULL means something
 * in these places only:
 *   - every *_free function ignores NULL, like free(NULL);
 *   - optional arguments: options (opts: the defaults), reports and results
 *     wanted only when given (tg_compare's report, tg_gradcheck's reports,
 *     tg_delta_check's first), a FILE where it says "NULL = none"
 *     (tg_gradcheck_print, tg_gradgradcheck_print, tg_tape_set_explain), a
 *     bias (tg_linear, tg_conv2d), a weight or bias of a normalisation
 *     (tg_layer_norm, tg_batch_norm, tg_group_norm) and tg_batch_norm's
 *     running statistics in training mode (none kept), a bound
 *     (tg_clamp_tensor: none), a seed (tg_vjp), labels
 *     (tg_batches_new: the batches then give y NULL), the out-pointers of
 *     tg_batches_next, the advice of tg_gemm_slow_kernels, and ctx (passed
 *     to fn as it is);
 *   - the shape or index of a 0-d tensor, an axes list with naxes 0 (every
 *     axis), saved with saved_size 0, aux with n_aux 0 and tg_function_call's
 *     in with n_in 0 (none);
 *   - a NULL label prints as "compare" (tg_compare_report_print/_format), a
 *     NULL name as "tensor" and a NULL tensor as "NULL" (tg_tensor_print,
 *     tg_tensor_describe);
 *   - tg_compare_report_format and tg_delta_report_format with buf NULL
 *     write nothing and return the length the text needs (as snprintf);
 *   - tg_tape_status, tg_tape_error and tg_tape_error_node answer
 *     TG_ERR_NULL, "tape is NULL" and -1 for a NULL tape and leave
 *     tg_last_error() alone: it holds the error of the call that gave NULL.
 * tests/test_null_api.c calls every public function with NULL in each
 * pointer parameter and checks the error or the meaning above. */
#ifndef TAPEGRAD_H
#define TAPEGRAD_H

#include "tapegrad/tensor.h"
#include "tapegrad/backend.h"
#include "tapegrad/tape.h"
#include "tapegrad/autodiff.h"
#include "tapegrad/function.h"
#include "tapegrad/checkpoint.h"
#include "tapegrad/ops.h"
#include "tapegrad/gradcheck.h"
#include "tapegrad/nn.h"
#include "tapegrad/optim.h"
#include "tapegrad/io.h"
#include "tapegrad/verify.h"
#include "tapegrad/scalar.h"
#include "tapegrad/dist.h"
#include "tapegrad/threads.h"

#endif
