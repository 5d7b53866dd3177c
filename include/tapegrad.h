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
 * the first error (tg_tape_status, tg_tape_error) until tg_tape_reset. */
#ifndef TAPEGRAD_H
#define TAPEGRAD_H

#include "tapegrad/tensor.h"
#include "tapegrad/tape.h"
#include "tapegrad/autodiff.h"
#include "tapegrad/ops.h"
#include "tapegrad/check.h"
#include "tapegrad/nn.h"
#include "tapegrad/optim.h"
#include "tapegrad/io.h"
#include "tapegrad/verify.h"

#endif
