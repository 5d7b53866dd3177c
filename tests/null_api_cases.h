/* The NULL-argument cases of test_null_api.c: one line per pointer
 * parameter of every public function (several when NULL means different
 * things, e.g. with and without a count), included twice by the test (once
 * to define each case's call, once to build the table).
 *
 *   CASE(function, parameter, variant, kind, status, message, call)
 *
 * call is an expression made with NULL in that parameter and valid values
 * everywhere else; it is true when the call reported the failure through its
 * return value (NULL, a status other than TG_OK, a sentinel) or, for kind
 * DOC, when the documented meaning of NULL held.  kind says where the
 * message must appear (test_null_api.c: TAPE, LAST, NTAPE, DOC); message is
 * the exact text a user reads there, naming the function and the parameter
 * (for DOC: the documented meaning, in words).  A parameter named with [i]
 * is an element of an array parameter set to NULL. */

/* ---- tensor.h: creation --------------------------------------------------- */
CASE(tg_tensor_new, shape, , LAST, TG_ERR_NULL, "tg_tensor_new: shape is NULL",
     !tg_tensor_new(TG_F64, 2, NULL))
CASE(tg_tensor_new, shape, 0d, DOC, TG_OK, "ndim 0 needs no shape: a 0-d tensor",
     d_new_0d(tg_tensor_new(TG_F64, 0, NULL)))
CASE(tg_tensor_zeros, shape, , LAST, TG_ERR_NULL, "tg_tensor_zeros: shape is NULL",
     !tg_tensor_zeros(TG_F64, 2, NULL))
CASE(tg_tensor_ones, shape, , LAST, TG_ERR_NULL, "tg_tensor_ones: shape is NULL",
     !tg_tensor_ones(TG_F64, 2, NULL))
CASE(tg_tensor_full, shape, , LAST, TG_ERR_NULL, "tg_tensor_full: shape is NULL",
     !tg_tensor_full(TG_F64, 2, NULL, 3.0))
CASE(tg_tensor_from, shape, , LAST, TG_ERR_NULL, "tg_tensor_from: shape is NULL",
     !tg_tensor_from(TG_F64, 2, NULL, k_six))
CASE(tg_tensor_from, data, , LAST, TG_ERR_NULL, "tg_tensor_from: data is NULL",
     !tg_tensor_from(TG_F64, 2, k_s23, NULL))
CASE(tg_tensor_from_f64, shape, , LAST, TG_ERR_NULL, "tg_tensor_from_f64: shape is NULL",
     !tg_tensor_from_f64(TG_F64, 2, NULL, k_six))
CASE(tg_tensor_from_f64, data, , LAST, TG_ERR_NULL, "tg_tensor_from_f64: data is NULL",
     !tg_tensor_from_f64(TG_F64, 2, k_s23, NULL))
CASE(tg_tensor_clone, t, , LAST, TG_ERR_NULL, "tg_tensor_clone: tensor is NULL",
     !tg_tensor_clone(NULL))
CASE(tg_tensor_cast_new, t, , LAST, TG_ERR_NULL, "tg_tensor_cast_new: tensor is NULL",
     !tg_tensor_cast_new(NULL, TG_F32))
CASE(tg_tensor_free, t, , DOC, TG_OK, "NULL is ignored, like free(NULL)",
     (tg_tensor_free(NULL), true))

/* ---- tensor.h: random numbers --------------------------------------------- */
CASE(tg_rng_seed, r, , LAST, TG_ERR_NULL, "tg_rng_seed: rng is NULL", (tg_rng_seed(NULL, 1), true))
CASE(tg_rng_next, r, , LAST, TG_ERR_NULL, "tg_rng_next: rng is NULL", tg_rng_next(NULL) == 0)
CASE(tg_rng_uniform, r, , LAST, TG_ERR_NULL, "tg_rng_uniform: rng is NULL",
     isnan(tg_rng_uniform(NULL)))
CASE(tg_rng_normal, r, , LAST, TG_ERR_NULL, "tg_rng_normal: rng is NULL",
     isnan(tg_rng_normal(NULL)))
CASE(tg_tensor_fill_uniform, t, , LAST, TG_ERR_NULL, "tg_tensor_fill_uniform: tensor is NULL",
     tg_tensor_fill_uniform(NULL, RNG, 0, 1) == TG_ERR_NULL)
CASE(tg_tensor_fill_uniform, r, , LAST, TG_ERR_NULL, "tg_tensor_fill_uniform: rng is NULL",
     tg_tensor_fill_uniform(A, NULL, 0, 1) == TG_ERR_NULL && a_untouched())
CASE(tg_tensor_fill_normal, t, , LAST, TG_ERR_NULL, "tg_tensor_fill_normal: tensor is NULL",
     tg_tensor_fill_normal(NULL, RNG, 0, 1) == TG_ERR_NULL)
CASE(tg_tensor_fill_normal, r, , LAST, TG_ERR_NULL, "tg_tensor_fill_normal: rng is NULL",
     tg_tensor_fill_normal(A, NULL, 0, 1) == TG_ERR_NULL && a_untouched())
CASE(tg_tensor_rand, shape, , LAST, TG_ERR_NULL, "tg_tensor_rand: shape is NULL",
     !tg_tensor_rand(TG_F64, 2, NULL, RNG))
CASE(tg_tensor_rand, r, , LAST, TG_ERR_NULL, "tg_tensor_rand: rng is NULL",
     !tg_tensor_rand(TG_F64, 2, k_s23, NULL))
CASE(tg_tensor_randn, shape, , LAST, TG_ERR_NULL, "tg_tensor_randn: shape is NULL",
     !tg_tensor_randn(TG_F64, 2, NULL, RNG))
CASE(tg_tensor_randn, r, , LAST, TG_ERR_NULL, "tg_tensor_randn: rng is NULL",
     !tg_tensor_randn(TG_F64, 2, k_s23, NULL))

/* ---- tensor.h: properties ------------------------------------------------- */
CASE(tg_tensor_dtype, t, , LAST, TG_ERR_NULL, "tg_tensor_dtype: tensor is NULL",
     (tg_tensor_dtype(NULL), true))
CASE(tg_tensor_ndim, t, , LAST, TG_ERR_NULL, "tg_tensor_ndim: tensor is NULL",
     tg_tensor_ndim(NULL) == -1)
CASE(tg_tensor_shape, t, , LAST, TG_ERR_NULL, "tg_tensor_shape: tensor is NULL",
     !tg_tensor_shape(NULL))
CASE(tg_tensor_dim, t, , LAST, TG_ERR_NULL, "tg_tensor_dim: tensor is NULL",
     tg_tensor_dim(NULL, 0) == -1)
CASE(tg_tensor_numel, t, , LAST, TG_ERR_NULL, "tg_tensor_numel: tensor is NULL",
     tg_tensor_numel(NULL) == 0)
CASE(tg_tensor_tape, t, , LAST, TG_ERR_NULL, "tg_tensor_tape: tensor is NULL",
     !tg_tensor_tape(NULL))
CASE(tg_tensor_same_shape, a, , LAST, TG_ERR_NULL, "tg_tensor_same_shape: a is NULL",
     !tg_tensor_same_shape(NULL, B))
CASE(tg_tensor_same_shape, b, , LAST, TG_ERR_NULL, "tg_tensor_same_shape: b is NULL",
     !tg_tensor_same_shape(A, NULL))
CASE(tg_tensor_describe, t, , DOC, TG_OK, "describes a NULL tensor as \"NULL\"", d_describe_null())
CASE(tg_tensor_describe, buf, , LAST, TG_ERR_NULL, "tg_tensor_describe: buf is NULL",
     !tg_tensor_describe(A, NULL, 16))

/* ---- tensor.h: data access ------------------------------------------------ */
CASE(tg_tensor_data, t, , LAST, TG_ERR_NULL, "tg_tensor_data: tensor is NULL",
     !tg_tensor_data(NULL))
CASE(tg_tensor_data_const, t, , LAST, TG_ERR_NULL, "tg_tensor_data_const: tensor is NULL",
     !tg_tensor_data_const(NULL))
CASE(tg_tensor_f64, t, , LAST, TG_ERR_NULL, "tg_tensor_f64: tensor is NULL", !tg_tensor_f64(NULL))
CASE(tg_tensor_f32, t, , LAST, TG_ERR_NULL, "tg_tensor_f32: tensor is NULL", !tg_tensor_f32(NULL))
CASE(tg_tensor_i64, t, , LAST, TG_ERR_NULL, "tg_tensor_i64: tensor is NULL", !tg_tensor_i64(NULL))
CASE(tg_tensor_get_flat, t, , LAST, TG_ERR_NULL, "tg_tensor_get_flat: tensor is NULL",
     isnan(tg_tensor_get_flat(NULL, 0)))
CASE(tg_tensor_set_flat, t, , LAST, TG_ERR_NULL, "tg_tensor_set_flat: tensor is NULL",
     (tg_tensor_set_flat(NULL, 0, 1.0), true))
CASE(tg_tensor_get, t, , LAST, TG_ERR_NULL, "tg_tensor_get: tensor is NULL",
     isnan(tg_tensor_get(NULL, k_idx11)))
CASE(tg_tensor_get, idx, , LAST, TG_ERR_NULL, "tg_tensor_get: idx is NULL",
     isnan(tg_tensor_get(A, NULL)))
CASE(tg_tensor_get, idx, 0d, DOC, TG_OK, "a 0-d tensor needs no index",
     tg_tensor_get(S, NULL) == 2.0)
CASE(tg_tensor_set, t, , LAST, TG_ERR_NULL, "tg_tensor_set: tensor is NULL",
     (tg_tensor_set(NULL, k_idx11, 1.0), true))
CASE(tg_tensor_set, idx, , LAST, TG_ERR_NULL, "tg_tensor_set: idx is NULL",
     (tg_tensor_set(A, NULL, 7.0), a_untouched()))
CASE(tg_tensor_fill, t, , LAST, TG_ERR_NULL, "tg_tensor_fill: tensor is NULL",
     tg_tensor_fill(NULL, 1.0) == TG_ERR_NULL)
CASE(tg_tensor_mark_modified, t, , LAST, TG_ERR_NULL, "tg_tensor_mark_modified: tensor is NULL",
     tg_tensor_mark_modified(NULL) == TG_ERR_NULL)
CASE(tg_tensor_copy, dst, , LAST, TG_ERR_NULL, "tg_tensor_copy: dst is NULL",
     tg_tensor_copy(NULL, A) == TG_ERR_NULL)
CASE(tg_tensor_copy, src, , LAST, TG_ERR_NULL, "tg_tensor_copy: src is NULL",
     tg_tensor_copy(A, NULL) == TG_ERR_NULL && a_untouched())
CASE(tg_tensor_to_f64, t, , LAST, TG_ERR_NULL, "tg_tensor_to_f64: tensor is NULL",
     tg_tensor_to_f64(NULL, F.buf) == TG_ERR_NULL)
CASE(tg_tensor_to_f64, out, , LAST, TG_ERR_NULL, "tg_tensor_to_f64: out is NULL",
     tg_tensor_to_f64(A, NULL) == TG_ERR_NULL)
CASE(tg_tensor_print, f, , LAST, TG_ERR_NULL, "tg_tensor_print: f is NULL",
     (tg_tensor_print(NULL, "a", A, 0), true))
CASE(tg_tensor_print, name, , DOC, TG_OK, "no name: printed as \"tensor\"", d_print_no_name())
CASE(tg_tensor_print, t, , DOC, TG_OK, "prints the name and \"NULL\"", d_print_null())

/* ---- tensor.h: gradients, allocator; backend.h ---------------------------- */
CASE(tg_tensor_set_requires_grad, t, , LAST, TG_ERR_NULL,
     "tg_tensor_set_requires_grad: tensor is NULL",
     tg_tensor_set_requires_grad(NULL, true) != TG_OK)
CASE(tg_tensor_requires_grad, t, , LAST, TG_ERR_NULL, "tg_tensor_requires_grad: tensor is NULL",
     !tg_tensor_requires_grad(NULL))
CASE(tg_tensor_grad, t, , LAST, TG_ERR_NULL, "tg_tensor_grad: tensor is NULL",
     !tg_tensor_grad(NULL))
CASE(tg_tensor_zero_grad, t, , LAST, TG_ERR_NULL, "tg_tensor_zero_grad: tensor is NULL",
     (tg_tensor_zero_grad(NULL), true))
CASE(tg_set_allocator, a, , DOC, TG_OK, "restores malloc, realloc and free", d_allocator_null())
CASE(tg_gemm_describe, buf, , LAST, TG_ERR_NULL, "tg_gemm_describe: buf is NULL",
     !tg_gemm_describe(NULL, 64))
CASE(tg_gemm_slow_kernels, advice, , DOC, TG_OK, "no advice text wanted: only the answer",
     d_slow_kernels_null())

/* ---- tape.h ----------------------------------------------------------------- */
CASE(tg_tape_new, opts, , DOC, TG_OK, "default options", d_tape_new_null())
CASE(tg_tape_free, tp, , DOC, TG_OK, "NULL is ignored, like free(NULL)", (tg_tape_free(NULL), true))
CASE(tg_tape_reset, tp, , LAST, TG_ERR_NULL, "tape_reset: tape is NULL",
     (tg_tape_reset(NULL), true))
CASE(tg_tape_status, tp, , DOC, TG_OK,
     "answers TG_ERR_NULL and leaves the last error (of the call that gave NULL) alone",
     d_keeps_last(tg_tape_status(NULL) == TG_ERR_NULL))
CASE(tg_tape_error, tp, , DOC, TG_OK,
     "answers \"tape is NULL\" and leaves the last error (of the call that gave NULL) alone",
     d_keeps_last(strcmp(tg_tape_error(NULL), "tape is NULL") == 0))
CASE(tg_tape_error_node, tp, , DOC, TG_OK,
     "answers -1 and leaves the last error (of the call that gave NULL) alone",
     d_keeps_last(tg_tape_error_node(NULL) == -1))
CASE(tg_tape_set_anomaly, tp, , LAST, TG_ERR_NULL, "tape_set_anomaly: tape is NULL",
     (tg_tape_set_anomaly(NULL, true), true))
CASE(tg_tape_rng, tp, , LAST, TG_ERR_NULL, "tape_rng: tape is NULL", !tg_tape_rng(NULL))
CASE(tg_tape_usage, tp, , LAST, TG_ERR_NULL, "tape_usage: tape is NULL",
     tg_tape_usage(NULL).nodes == 0)
CASE(tg_tape_print, tp, , LAST, TG_ERR_NULL, "tape_print: tape is NULL",
     (tg_tape_print(NULL, OUT), true))
CASE(tg_tape_print, f, , LAST, TG_ERR_NULL, "tape_print: f is NULL",
     (tg_tape_print(TP, NULL), true))
CASE(tg_tape_set_explain, tp, , LAST, TG_ERR_NULL, "tape_set_explain: tape is NULL",
     (tg_tape_set_explain(NULL, OUT, TG_EXPLAIN_TEXT, 4), true))
CASE(tg_tape_set_explain, f, , DOC, TG_OK, "turns explain mode off", d_explain_off())
CASE(tg_tape_write_dot, tp, , LAST, TG_ERR_NULL, "tape_write_dot: tape is NULL",
     tg_tape_write_dot(NULL, OUT, 4) == TG_ERR_NULL)
CASE(tg_tape_write_dot, f, , LAST, TG_ERR_NULL, "tape_write_dot: f is NULL",
     tg_tape_write_dot(TP, NULL, 4) == TG_ERR_NULL)
/* names and the teaching outputs */
CASE(tg_tensor_set_name, t, , LAST, TG_ERR_NULL, "tensor_set_name: tensor is NULL",
     tg_tensor_set_name(NULL, "W") == TG_ERR_NULL)
CASE(tg_tensor_set_name, name, , DOC, TG_OK, "removes the name",
     tg_tensor_set_name(A, "W") == TG_OK && tg_tensor_set_name(A, NULL) == TG_OK &&
         !tg_tensor_name(A))
CASE(tg_tensor_name, t, , LAST, TG_ERR_NULL, "tensor_name: tensor is NULL", !tg_tensor_name(NULL))
CASE(tg_tape_write_json, tp, , LAST, TG_ERR_NULL, "tape_write_json: tape is NULL",
     tg_tape_write_json(NULL, OUT, 4) == TG_ERR_NULL)
CASE(tg_tape_write_json, f, , LAST, TG_ERR_NULL, "tape_write_json: f is NULL",
     tg_tape_write_json(TP, NULL, 4) == TG_ERR_NULL)
CASE(tg_tape_write_svg, tp, , LAST, TG_ERR_NULL, "tape_write_svg: tape is NULL",
     tg_tape_write_svg(NULL, OUT, NULL) == TG_ERR_NULL)
CASE(tg_tape_write_svg, f, , LAST, TG_ERR_NULL, "tape_write_svg: f is NULL",
     tg_tape_write_svg(TP, NULL, NULL) == TG_ERR_NULL)
CASE(tg_tape_write_svg, opts, , DOC, TG_OK,
     "uses the defaults (values of up to 4 elements, 1280 px)",
     tg_tape_write_svg(TP, OUT, NULL) == TG_OK)

/* ---- autodiff.h ------------------------------------------------------------- */
CASE(tg_backward, tp, , LAST, TG_ERR_NULL, "backward: tape is NULL",
     tg_backward(NULL, y_loss()) == TG_ERR_NULL)
CASE(tg_backward, y, , TAPE, TG_ERR_NULL, "backward: output is NULL [node 0]",
     tg_backward(TP, NULL) == TG_ERR_NULL)
CASE(tg_backward_ex, tp, , LAST, TG_ERR_NULL, "backward: tape is NULL",
     tg_backward_ex(NULL, y_loss(), NULL) == TG_ERR_NULL)
CASE(tg_backward_ex, y, , TAPE, TG_ERR_NULL, "backward: output is NULL [node 0]",
     tg_backward_ex(TP, NULL, NULL) == TG_ERR_NULL)
CASE(tg_backward_ex, opts, , DOC, TG_OK, "default options: seed 1, .grad replaced",
     d_backward_ex_no_opts())
CASE(tg_retain_grad, tp, , LAST, TG_ERR_NULL, "retain_grad: tape is NULL",
     tg_retain_grad(NULL, y_loss()) == TG_ERR_NULL)
CASE(tg_retain_grad, t, , LAST, TG_ERR_NULL, "retain_grad: tensor is NULL",
     tg_retain_grad(TP, NULL) == TG_ERR_NULL)
CASE(tg_grad, tp, , LAST, TG_ERR_NULL, "grad: tape is NULL", !tg_grad(NULL, y_loss(), P, false))
CASE(tg_grad, y, , TAPE, TG_ERR_NULL, "grad: output is NULL [node 0]", !tg_grad(TP, NULL, P, false))
CASE(tg_grad, x, , TAPE, TG_ERR_NULL, "grad: input 0 is NULL [node 2]",
     !tg_grad(TP, y_loss(), NULL, false))
CASE(tg_grad_ex, tp, , LAST, TG_ERR_NULL, "grad: tape is NULL",
     !tg_grad_ex(NULL, y_loss(), P, NULL))
CASE(tg_grad_ex, y, , TAPE, TG_ERR_NULL, "grad: output is NULL [node 0]",
     !tg_grad_ex(TP, NULL, P, NULL))
CASE(tg_grad_ex, x, , TAPE, TG_ERR_NULL, "grad: input 0 is NULL [node 2]",
     !tg_grad_ex(TP, y_loss(), NULL, NULL))
CASE(tg_grad_ex, opts, , DOC, TG_OK, "default options: seed 1, no graph, unused an error",
     d_grad_ex_no_opts())
CASE(tg_vjp_ex, tp, , LAST, TG_ERR_NULL, "vjp: tape is NULL",
     tg_vjp_ex(NULL, y_loss(), 1, &P, F.outs, NULL) == TG_ERR_NULL)
CASE(tg_vjp_ex, y, , TAPE, TG_ERR_NULL, "vjp: output is NULL [node 0]",
     tg_vjp_ex(TP, NULL, 1, &P, F.outs, NULL) == TG_ERR_NULL)
CASE(tg_vjp_ex, xs, , TAPE, TG_ERR_NULL, "vjp: inputs or outputs array is NULL [node 2]",
     tg_vjp_ex(TP, y_loss(), 1, NULL, F.outs, NULL) == TG_ERR_NULL)
ECASE(tg_vjp_ex, xs, 0, TAPE, TG_ERR_NULL, "vjp: input 0 is NULL [node 2]",
      tg_vjp_ex(TP, y_loss(), 1, k_null1, F.outs, NULL) == TG_ERR_NULL)
CASE(tg_vjp_ex, out, , TAPE, TG_ERR_NULL, "vjp: inputs or outputs array is NULL [node 2]",
     tg_vjp_ex(TP, y_loss(), 1, &P, NULL, NULL) == TG_ERR_NULL)
CASE(tg_vjp_ex, opts, , DOC, TG_OK, "default options: seed 1, no graph, unused an error",
     d_vjp_ex_no_opts())
CASE(tg_vjp, tp, , LAST, TG_ERR_NULL, "vjp: tape is NULL",
     tg_vjp(NULL, y_loss(), NULL, 1, &P, F.outs, false) == TG_ERR_NULL)
CASE(tg_vjp, y, , TAPE, TG_ERR_NULL, "vjp: output is NULL [node 0]",
     tg_vjp(TP, NULL, NULL, 1, &P, F.outs, false) == TG_ERR_NULL)
CASE(tg_vjp, seed, , DOC, TG_OK, "y has one element and the seed is 1", d_vjp_no_seed())
CASE(tg_vjp, xs, , TAPE, TG_ERR_NULL, "vjp: inputs or outputs array is NULL [node 2]",
     tg_vjp(TP, y_loss(), NULL, 1, NULL, F.outs, false) == TG_ERR_NULL)
ECASE(tg_vjp, xs, 0, TAPE, TG_ERR_NULL, "vjp: input 0 is NULL [node 2]",
      tg_vjp(TP, y_loss(), NULL, 1, k_null1, F.outs, false) == TG_ERR_NULL)
CASE(tg_vjp, out, , TAPE, TG_ERR_NULL, "vjp: inputs or outputs array is NULL [node 2]",
     tg_vjp(TP, y_loss(), NULL, 1, &P, NULL, false) == TG_ERR_NULL)
/* forward mode: ys = {the loss}, the tangent of P is A (P's shape) */
#define JVP_Y ((tg_tensor *[]){y_loss()})
CASE(tg_jvp, tp, , LAST, TG_ERR_NULL, "jvp: tape is NULL",
     tg_jvp(NULL, 1, &P, &A, 1, JVP_Y, F.outs, false) == TG_ERR_NULL)
CASE(tg_jvp, xs, , TAPE, TG_ERR_NULL, "jvp: xs array is NULL [node 2]",
     tg_jvp(TP, 1, NULL, &A, 1, JVP_Y, F.outs, false) == TG_ERR_NULL)
CASE(tg_jvp, ts, , TAPE, TG_ERR_NULL, "jvp: tangents array is NULL [node 2]",
     tg_jvp(TP, 1, &P, NULL, 1, JVP_Y, F.outs, false) == TG_ERR_NULL)
CASE(tg_jvp, ys, , TAPE, TG_ERR_NULL, "jvp: ys array is NULL [node 0]",
     tg_jvp(TP, 1, &P, &A, 1, NULL, F.outs, false) == TG_ERR_NULL)
CASE(tg_jvp, out, , TAPE, TG_ERR_NULL, "jvp: out array is NULL [node 2]",
     tg_jvp(TP, 1, &P, &A, 1, JVP_Y, NULL, false) == TG_ERR_NULL)
CASE(tg_jvp_ex, tp, , LAST, TG_ERR_NULL, "jvp: tape is NULL",
     tg_jvp_ex(NULL, 1, &P, &A, 1, JVP_Y, F.outs, NULL) == TG_ERR_NULL)
CASE(tg_jvp_ex, xs, , TAPE, TG_ERR_NULL, "jvp: xs array is NULL [node 2]",
     tg_jvp_ex(TP, 1, NULL, &A, 1, JVP_Y, F.outs, NULL) == TG_ERR_NULL)
CASE(tg_jvp_ex, ts, , TAPE, TG_ERR_NULL, "jvp: tangents array is NULL [node 2]",
     tg_jvp_ex(TP, 1, &P, NULL, 1, JVP_Y, F.outs, NULL) == TG_ERR_NULL)
CASE(tg_jvp_ex, ys, , TAPE, TG_ERR_NULL, "jvp: ys array is NULL [node 0]",
     tg_jvp_ex(TP, 1, &P, &A, 1, NULL, F.outs, NULL) == TG_ERR_NULL)
CASE(tg_jvp_ex, out, , TAPE, TG_ERR_NULL, "jvp: out array is NULL [node 2]",
     tg_jvp_ex(TP, 1, &P, &A, 1, JVP_Y, NULL, NULL) == TG_ERR_NULL)
CASE(tg_jvp_ex, opts, , DOC, TG_OK, "default options: no graph",
     tg_jvp_ex(TP, 1, &P, &A, 1, JVP_Y, F.outs, NULL) == TG_OK && F.outs[0])
CASE(tg_grad_sink_buffer, sink, , LAST, TG_ERR_NULL, "grad_sink_buffer: sink is NULL",
     !tg_grad_sink_buffer(NULL, 0, &F.flag))
CASE(tg_grad_sink_buffer, accumulate, , TAPE, TG_ERR_NULL,
     "grad_sink_buffer: accumulate is NULL [node 2]", d_in_rule(PROBE_SINK_BUFFER))
CASE(tg_grad_sink_add, sink, , LAST, TG_ERR_NULL, "grad_sink_add: sink is NULL",
     tg_grad_sink_add(NULL, 0, A) == TG_ERR_NULL)
CASE(tg_grad_sink_add, g, , TAPE, TG_ERR_NULL,
     "grad_sink_add: gradient of input 0 is NULL [node 2]", d_in_rule(PROBE_SINK_ADD))
CASE(tg_node_op, n, , LAST, TG_ERR_NULL, "node_op: node is NULL", !tg_node_op(NULL))
CASE(tg_node_num_inputs, n, , LAST, TG_ERR_NULL, "node_num_inputs: node is NULL",
     tg_node_num_inputs(NULL) == 0)
CASE(tg_node_input, n, , LAST, TG_ERR_NULL, "node_input: node is NULL", !tg_node_input(NULL, 0))
CASE(tg_node_output, n, , LAST, TG_ERR_NULL, "node_output: node is NULL", !tg_node_output(NULL))
CASE(tg_node_needs_grad, n, , LAST, TG_ERR_NULL, "node_needs_grad: node is NULL",
     !tg_node_needs_grad(NULL, 0))
CASE(tg_node_saved, n, , LAST, TG_ERR_NULL, "node_saved: node is NULL", !tg_node_saved(NULL))
CASE(tg_node_aux, n, , LAST, TG_ERR_NULL, "node_aux: node is NULL", !tg_node_aux(NULL, 0))
CASE(tg_node_num_aux, n, , LAST, TG_ERR_NULL, "node_num_aux: node is NULL",
     tg_node_num_aux(NULL) == 0)
CASE(tg_tape_alloc, tp, , LAST, TG_ERR_NULL, "tg_tape_alloc: tape is NULL",
     !tg_tape_alloc(NULL, TG_F64, 2, k_s23))
CASE(tg_tape_alloc, shape, , TAPE, TG_ERR_NULL,
     "tg_tape_alloc: shape is NULL for 2 dimensions [node 0]", !tg_tape_alloc(TP, TG_F64, 2, NULL))
CASE(tg_tape_check_inputs, tp, , NTAPE, TG_ERR_NULL, "probe: tape is NULL",
     !tg_tape_check_inputs(NULL, "probe", 1, &A))
CASE(tg_tape_check_inputs, op_name, , TAPE, TG_ERR_NULL, "check_inputs: op_name is NULL [node 0]",
     !tg_tape_check_inputs(TP, NULL, 1, &A))
CASE(tg_tape_check_inputs, in, , TAPE, TG_ERR_NULL, "probe: input array is NULL [node 0]",
     !tg_tape_check_inputs(TP, "probe", 1, NULL))
ECASE(tg_tape_check_inputs, in, 0, TAPE, TG_ERR_NULL, "probe: input 0 is NULL [node 0]",
      !tg_tape_check_inputs(TP, "probe", 1, k_null1))
CASE(tg_tape_record, tp, , LAST, TG_ERR_NULL, "record probe: tape is NULL",
     !tg_tape_record(NULL, &k_probe, 1, &A, F.scratch, NULL, 0, 0, NULL))
CASE(tg_tape_record, op, , TAPE, TG_ERR_NULL, "record: op is NULL [node 0]",
     d_record(NULL, 1, &A, true, NULL, 0, 0, NULL))
CASE(tg_tape_record, in, , TAPE, TG_ERR_NULL, "record probe: in is NULL [node 0]",
     d_record(&k_probe, 1, NULL, true, NULL, 0, 0, NULL))
ECASE(tg_tape_record, in, 0, TAPE, TG_ERR_NULL, "probe: input 0 is NULL [node 0]",
      d_record(&k_probe, 1, k_null1, true, NULL, 0, 0, NULL))
CASE(tg_tape_record, out, , TAPE, TG_ERR_NULL, "record probe: out is NULL [node 0]",
     d_record(&k_probe, 1, &A, false, NULL, 0, 0, NULL))
CASE(tg_tape_record, saved, , TAPE, TG_ERR_NULL, "record probe: saved is NULL with size 8 [node 0]",
     d_record(&k_probe, 1, &A, true, NULL, 8, 0, NULL))
CASE(tg_tape_record, saved, none, DOC, TG_OK, "saved_size 0: no attributes",
     d_record_ok(NULL, 0, 0, NULL))
CASE(tg_tape_record, aux, , TAPE, TG_ERR_NULL, "record probe: aux is NULL [node 0]",
     d_record(&k_probe, 1, &A, true, NULL, 0, 1, NULL))
CASE(tg_tape_record, aux, none, DOC, TG_OK, "n_aux 0: no aux tensors",
     d_record_ok(NULL, 0, 0, NULL))
CASE(tg_tape_fail, tp, , LAST, TG_ERR_ARG, "probe failed: 1", d_fail_null_tape())
CASE(tg_tape_fail, fmt, , TAPE, TG_ERR_SHAPE, "tape_fail: fmt is NULL [node 0]", d_fail_null_fmt())

/* ---- ops.h: binary --------------------------------------------------------- */
#define BIN(op, name)                                                                              \
    CASE(tg_##op, tp, , NTAPE, TG_ERR_NULL, name ": tape is NULL", !tg_##op(NULL, A, B))           \
    CASE(tg_##op, a, , TAPE, TG_ERR_NULL, name ": input 0 is NULL [node 0]",                       \
         !tg_##op(TP, NULL, B))                                                                    \
    CASE(tg_##op, b, , TAPE, TG_ERR_NULL, name ": input 1 is NULL [node 0]", !tg_##op(TP, A, NULL))
BIN(add, "add")
BIN(sub, "sub")
BIN(mul, "mul")
BIN(div, "div")
BIN(pow, "pow")
BIN(maximum, "maximum")
BIN(minimum, "minimum")
BIN(atan2, "atan2")
BIN(hypot, "hypot")
#undef BIN
/* ---- ops.h: selection and comparison -------------------------------------- */
#define CMP(op) BIN(op, #op)
#define BIN(op, name)                                                                              \
    CASE(tg_##op, tp, , NTAPE, TG_ERR_NULL, name ": tape is NULL", !tg_##op(NULL, A, B))           \
    CASE(tg_##op, a, , TAPE, TG_ERR_NULL, name ": input 0 is NULL [node 0]",                       \
         !tg_##op(TP, NULL, B))                                                                    \
    CASE(tg_##op, b, , TAPE, TG_ERR_NULL, name ": input 1 is NULL [node 0]", !tg_##op(TP, A, NULL))
CMP(eq)
CMP(ne)
CMP(lt)
CMP(le)
CMP(gt)
CMP(ge)
#undef BIN
#undef CMP
CASE(tg_where, tp, , NTAPE, TG_ERR_NULL, "where: tape is NULL", !tg_where(NULL, A, A, B))
CASE(tg_where, cond, , TAPE, TG_ERR_NULL, "where: input 0 is NULL [node 0]",
     !tg_where(TP, NULL, A, B))
CASE(tg_where, a, , TAPE, TG_ERR_NULL, "where: input 1 is NULL [node 0]", !tg_where(TP, A, NULL, B))
CASE(tg_where, b, , TAPE, TG_ERR_NULL, "where: input 2 is NULL [node 0]", !tg_where(TP, A, A, NULL))
CASE(tg_masked_fill, tp, , NTAPE, TG_ERR_NULL, "masked_fill: tape is NULL",
     !tg_masked_fill(NULL, A, B, 0))
CASE(tg_masked_fill, x, , TAPE, TG_ERR_NULL, "masked_fill: input 0 is NULL [node 0]",
     !tg_masked_fill(TP, NULL, B, 0))
CASE(tg_masked_fill, mask, , TAPE, TG_ERR_NULL, "masked_fill: input 1 is NULL [node 0]",
     !tg_masked_fill(TP, A, NULL, 0))
CASE(tg_clamp, tp, , NTAPE, TG_ERR_NULL, "clamp: tape is NULL", !tg_clamp(NULL, A, 0, 1))
CASE(tg_clamp, x, , TAPE, TG_ERR_NULL, "clamp: input 0 is NULL [node 0]", !tg_clamp(TP, NULL, 0, 1))
CASE(tg_clamp_tensor, tp, , NTAPE, TG_ERR_NULL, "clamp_tensor: tape is NULL",
     !tg_clamp_tensor(NULL, A, A, A))
CASE(tg_clamp_tensor, x, , TAPE, TG_ERR_NULL, "clamp_tensor: input 0 is NULL [node 0]",
     !tg_clamp_tensor(TP, NULL, A, A))
CASE(tg_clamp_tensor, lo, , DOC, TG_OK, "no lower bound",
     tg_compare(tg_clamp_tensor(TP, A, NULL, A), A, 0, 0, NULL))
CASE(tg_clamp_tensor, hi, , DOC, TG_OK, "no upper bound",
     tg_compare(tg_clamp_tensor(TP, A, A, NULL), A, 0, 0, NULL))
#define LOSS(op, name)                                                                             \
    CASE(tg_##op, tp, , NTAPE, TG_ERR_NULL, name ": tape is NULL", !tg_##op(NULL, A, B))           \
    CASE(tg_##op, y, , TAPE, TG_ERR_NULL, name ": input 0 is NULL [node 0]",                       \
         !tg_##op(TP, NULL, B))                                                                    \
    CASE(tg_##op, t, , TAPE, TG_ERR_NULL, name ": input 1 is NULL [node 0]", !tg_##op(TP, A, NULL))
LOSS(sse, "sse")
LOSS(mse, "mse")
#undef LOSS
CASE(tg_matmul, tp, , NTAPE, TG_ERR_NULL, "matmul: tape is NULL", !tg_matmul(NULL, A, M))
CASE(tg_matmul, a, , TAPE, TG_ERR_NULL, "matmul: input 0 is NULL [node 0]", !tg_matmul(TP, NULL, M))
CASE(tg_matmul, b, , TAPE, TG_ERR_NULL, "matmul: input 1 is NULL [node 0]", !tg_matmul(TP, A, NULL))
CASE(tg_matmul_t, tp, , NTAPE, TG_ERR_NULL, "matmul: tape is NULL",
     !tg_matmul_t(NULL, A, B, false, true))
CASE(tg_matmul_t, a, , TAPE, TG_ERR_NULL, "matmul: input 0 is NULL [node 0]",
     !tg_matmul_t(TP, NULL, B, false, true))
CASE(tg_matmul_t, b, , TAPE, TG_ERR_NULL, "matmul: input 1 is NULL [node 0]",
     !tg_matmul_t(TP, A, NULL, false, true))
CASE(tg_solve, tp, , NTAPE, TG_ERR_NULL, "solve: tape is NULL", !tg_solve(NULL, A, B))
CASE(tg_solve, a, , TAPE, TG_ERR_NULL, "solve: input 0 is NULL [node 0]", !tg_solve(TP, NULL, B))
CASE(tg_solve, b, , TAPE, TG_ERR_NULL, "solve: input 1 is NULL [node 0]", !tg_solve(TP, A, NULL))
CASE(tg_solve_triangular, tp, , NTAPE, TG_ERR_NULL, "solve_triangular: tape is NULL",
     !tg_solve_triangular(NULL, A, B, true))
CASE(tg_solve_triangular, a, , TAPE, TG_ERR_NULL, "solve_triangular: input 0 is NULL [node 0]",
     !tg_solve_triangular(TP, NULL, B, true))
CASE(tg_solve_triangular, b, , TAPE, TG_ERR_NULL, "solve_triangular: input 1 is NULL [node 0]",
     !tg_solve_triangular(TP, A, NULL, true))
#define LA(op, name)                                                                               \
    CASE(tg_##op, tp, , NTAPE, TG_ERR_NULL, name ": tape is NULL", !tg_##op(NULL, A))              \
    CASE(tg_##op, a, , TAPE, TG_ERR_NULL, name ": input 0 is NULL [node 0]", !tg_##op(TP, NULL))
LA(cholesky, "cholesky")
LA(inv, "inv")
LA(det, "det")
#undef LA
CASE(tg_slogdet, tp, , NTAPE, TG_ERR_NULL, "slogdet: tape is NULL", !tg_slogdet(NULL, A, NULL))
CASE(tg_slogdet, a, , TAPE, TG_ERR_NULL, "slogdet: input 0 is NULL [node 0]",
     !tg_slogdet(TP, NULL, NULL))
CASE(tg_slogdet, sign, none, DOC, TG_OK, "sign NULL: log |det| without the signs",
     tg_slogdet(TP, tg_matmul(TP, A, M), NULL) != NULL)

/* ---- ops.h: scalar variants and unary --------------------------------------- */
#define UN(op, name)                                                                               \
    CASE(tg_##op, tp, , NTAPE, TG_ERR_NULL, name ": tape is NULL", !tg_##op(NULL, A))              \
    CASE(tg_##op, x, , TAPE, TG_ERR_NULL, name ": input 0 is NULL [node 0]", !tg_##op(TP, NULL))
CASE(tg_add_scalar, tp, , NTAPE, TG_ERR_NULL, "add_scalar: tape is NULL",
     !tg_add_scalar(NULL, A, 2))
CASE(tg_add_scalar, x, , TAPE, TG_ERR_NULL, "add_scalar: input 0 is NULL [node 0]",
     !tg_add_scalar(TP, NULL, 2))
CASE(tg_mul_scalar, tp, , NTAPE, TG_ERR_NULL, "mul_scalar: tape is NULL",
     !tg_mul_scalar(NULL, A, 2))
CASE(tg_mul_scalar, x, , TAPE, TG_ERR_NULL, "mul_scalar: input 0 is NULL [node 0]",
     !tg_mul_scalar(TP, NULL, 2))
CASE(tg_rsub_scalar, tp, , NTAPE, TG_ERR_NULL, "rsub_scalar: tape is NULL",
     !tg_rsub_scalar(NULL, 2, A))
CASE(tg_rsub_scalar, x, , TAPE, TG_ERR_NULL, "rsub_scalar: input 0 is NULL [node 0]",
     !tg_rsub_scalar(TP, 2, NULL))
CASE(tg_rdiv_scalar, tp, , NTAPE, TG_ERR_NULL, "rdiv_scalar: tape is NULL",
     !tg_rdiv_scalar(NULL, 2, A))
CASE(tg_rdiv_scalar, x, , TAPE, TG_ERR_NULL, "rdiv_scalar: input 0 is NULL [node 0]",
     !tg_rdiv_scalar(TP, 2, NULL))
CASE(tg_pow_scalar, tp, , NTAPE, TG_ERR_NULL, "pow_scalar: tape is NULL",
     !tg_pow_scalar(NULL, A, 2))
CASE(tg_pow_scalar, x, , TAPE, TG_ERR_NULL, "pow_scalar: input 0 is NULL [node 0]",
     !tg_pow_scalar(TP, NULL, 2))
UN(neg, "neg")
UN(exp, "exp")
UN(sin, "sin")
UN(cos, "cos")
UN(log, "log")
UN(sqrt, "sqrt")
UN(square, "square")
UN(abs, "abs")
UN(sigmoid, "sigmoid")
UN(tanh, "tanh")
UN(relu, "relu")
UN(softplus, "softplus")
UN(tan, "tan")
UN(asin, "asin")
UN(acos, "acos")
UN(atan, "atan")
UN(sinh, "sinh")
UN(cosh, "cosh")
UN(asinh, "asinh")
UN(acosh, "acosh")
UN(atanh, "atanh")
UN(erf, "erf")
UN(erfc, "erfc")
UN(expm1, "expm1")
UN(log1p, "log1p")
UN(log2, "log2")
UN(log10, "log10")
UN(exp2, "exp2")
UN(cbrt, "cbrt")
UN(reciprocal, "reciprocal")
UN(rsqrt, "rsqrt")
UN(silu, "silu")
UN(gelu, "gelu")
UN(gelu_tanh, "gelu_tanh")
UN(softsign, "softsign")
UN(mish, "mish")
CASE(tg_leaky_relu, tp, , NTAPE, TG_ERR_NULL, "leaky_relu: tape is NULL",
     !tg_leaky_relu(NULL, A, 0.1))
CASE(tg_leaky_relu, x, , TAPE, TG_ERR_NULL, "leaky_relu: input 0 is NULL [node 0]",
     !tg_leaky_relu(TP, NULL, 0.1))
CASE(tg_elu, tp, , NTAPE, TG_ERR_NULL, "elu: tape is NULL", !tg_elu(NULL, A, 1))
CASE(tg_elu, x, , TAPE, TG_ERR_NULL, "elu: input 0 is NULL [node 0]", !tg_elu(TP, NULL, 1))
CASE(tg_hardtanh, tp, , NTAPE, TG_ERR_NULL, "hardtanh: tape is NULL", !tg_hardtanh(NULL, A, -1, 1))
CASE(tg_hardtanh, x, , TAPE, TG_ERR_NULL, "hardtanh: input 0 is NULL [node 0]",
     !tg_hardtanh(TP, NULL, -1, 1))
UN(sign, "sign")
UN(step, "step")
UN(detach, "detach")
UN(sum_all, "sum_all")
UN(mean_all, "mean_all")
UN(flatten, "flatten")
#undef UN
CASE(tg_cast, tp, , NTAPE, TG_ERR_NULL, "cast: tape is NULL", !tg_cast(NULL, A, TG_F32))
CASE(tg_cast, x, , TAPE, TG_ERR_NULL, "cast: input 0 is NULL [node 0]", !tg_cast(TP, NULL, TG_F32))

/* ---- ops.h: reductions --------------------------------------------------- */
CASE(tg_sum, tp, , NTAPE, TG_ERR_NULL, "sum: tape is NULL", !tg_sum(NULL, A, 1, k_axis1, false))
CASE(tg_sum, x, , TAPE, TG_ERR_NULL, "sum: input 0 is NULL [node 0]",
     !tg_sum(TP, NULL, 1, k_axis1, false))
CASE(tg_sum, axes, , TAPE, TG_ERR_NULL,
     "sum: 1 axes listed for f64[2,3] but the list is NULL [node 0]",
     !tg_sum(TP, A, 1, NULL, false))
CASE(tg_sum, axes, empty, TAPE, TG_ERR_AXIS,
     "sum: no axes listed for f64[2,3] (an empty list is refused: use tg_sum_all to reduce "
     "every axis) [node 0]",
     !tg_sum(TP, A, 0, NULL, false))
CASE(tg_mean, tp, , NTAPE, TG_ERR_NULL, "mean: tape is NULL", !tg_mean(NULL, A, 1, k_axis1, false))
CASE(tg_mean, x, , TAPE, TG_ERR_NULL, "mean: input 0 is NULL [node 0]",
     !tg_mean(TP, NULL, 1, k_axis1, false))
CASE(tg_mean, axes, , TAPE, TG_ERR_NULL,
     "mean: 1 axes listed for f64[2,3] but the list is NULL [node 0]",
     !tg_mean(TP, A, 1, NULL, false))
CASE(tg_mean, axes, empty, TAPE, TG_ERR_AXIS,
     "mean: no axes listed for f64[2,3] (an empty list is refused: use tg_mean_all to reduce "
     "every axis) [node 0]",
     !tg_mean(TP, A, 0, NULL, false))
CASE(tg_max, tp, , NTAPE, TG_ERR_NULL, "max: tape is NULL", !tg_max(NULL, A, 1, false))
CASE(tg_max, x, , TAPE, TG_ERR_NULL, "max: input 0 is NULL [node 0]", !tg_max(TP, NULL, 1, false))
CASE(tg_sum_to, tp, , NTAPE, TG_ERR_NULL, "sum_to: tape is NULL", !tg_sum_to(NULL, A, 1, k_s3))
CASE(tg_sum_to, x, , TAPE, TG_ERR_NULL, "sum_to: input 0 is NULL [node 0]",
     !tg_sum_to(TP, NULL, 1, k_s3))
CASE(tg_sum_to, shape, , TAPE, TG_ERR_NULL, "sum_to: (2,3): target shape is NULL [node 0]",
     !tg_sum_to(TP, A, 1, NULL))
CASE(tg_min, tp, , NTAPE, TG_ERR_NULL, "min: tape is NULL", !tg_min(NULL, A, 1, false))
CASE(tg_min, x, , TAPE, TG_ERR_NULL, "min: input 0 is NULL [node 0]", !tg_min(TP, NULL, 1, false))
CASE(tg_prod, tp, , NTAPE, TG_ERR_NULL, "prod: tape is NULL", !tg_prod(NULL, A, 1, k_axis1, false))
CASE(tg_prod, x, , TAPE, TG_ERR_NULL, "prod: input 0 is NULL [node 0]",
     !tg_prod(TP, NULL, 1, k_axis1, false))
CASE(tg_logsumexp, tp, , NTAPE, TG_ERR_NULL, "logsumexp: tape is NULL",
     !tg_logsumexp(NULL, A, 1, k_axis1, false))
CASE(tg_logsumexp, x, , TAPE, TG_ERR_NULL, "logsumexp: input 0 is NULL [node 0]",
     !tg_logsumexp(TP, NULL, 1, k_axis1, false))
CASE(tg_norm, tp, , NTAPE, TG_ERR_NULL, "norm: tape is NULL",
     !tg_norm(NULL, A, 2, 1, k_axis1, false))
CASE(tg_norm, x, , TAPE, TG_ERR_NULL, "norm: input 0 is NULL [node 0]",
     !tg_norm(TP, NULL, 2, 1, k_axis1, false))
CASE(tg_var, tp, , NTAPE, TG_ERR_NULL, "var: tape is NULL", !tg_var(NULL, A, 1, k_axis1, 1, false))
CASE(tg_var, x, , TAPE, TG_ERR_NULL, "var: input 0 is NULL [node 0]",
     !tg_var(TP, NULL, 1, k_axis1, 1, false))
CASE(tg_std, tp, , NTAPE, TG_ERR_NULL, "std: tape is NULL", !tg_std(NULL, A, 1, k_axis1, 1, false))
CASE(tg_std, x, , TAPE, TG_ERR_NULL, "std: input 0 is NULL [node 0]",
     !tg_std(TP, NULL, 1, k_axis1, 1, false))
CASE(tg_cumsum, tp, , NTAPE, TG_ERR_NULL, "cumsum: tape is NULL", !tg_cumsum(NULL, A, 1))
CASE(tg_cumsum, x, , TAPE, TG_ERR_NULL, "cumsum: input 0 is NULL [node 0]", !tg_cumsum(TP, NULL, 1))
CASE(tg_cumprod, tp, , NTAPE, TG_ERR_NULL, "cumprod: tape is NULL", !tg_cumprod(NULL, A, 1))
CASE(tg_cumprod, x, , TAPE, TG_ERR_NULL, "cumprod: input 0 is NULL [node 0]",
     !tg_cumprod(TP, NULL, 1))
CASE(tg_argmax, tp, , NTAPE, TG_ERR_NULL, "argmax: tape is NULL", !tg_argmax(NULL, A, 1, false))
CASE(tg_argmax, x, , TAPE, TG_ERR_NULL, "argmax: input 0 is NULL [node 0]",
     !tg_argmax(TP, NULL, 1, false))
CASE(tg_argmin, tp, , NTAPE, TG_ERR_NULL, "argmin: tape is NULL", !tg_argmin(NULL, A, 1, false))
CASE(tg_argmin, x, , TAPE, TG_ERR_NULL, "argmin: input 0 is NULL [node 0]",
     !tg_argmin(TP, NULL, 1, false))
CASE(tg_prod, axes, , TAPE, TG_ERR_NULL,
     "prod: 1 axes listed for f64[2,3] but the list is NULL [node 0]",
     !tg_prod(TP, A, 1, NULL, false))
CASE(tg_logsumexp, axes, , TAPE, TG_ERR_NULL,
     "logsumexp: 1 axes listed for f64[2,3] but the list is NULL [node 0]",
     !tg_logsumexp(TP, A, 1, NULL, false))
CASE(tg_norm, axes, , TAPE, TG_ERR_NULL,
     "norm: 1 axes listed for f64[2,3] but the list is NULL [node 0]",
     !tg_norm(TP, A, 2, 1, NULL, false))
CASE(tg_var, axes, , TAPE, TG_ERR_NULL,
     "var: 1 axes listed for f64[2,3] but the list is NULL [node 0]",
     !tg_var(TP, A, 1, NULL, 1, false))
CASE(tg_std, axes, , TAPE, TG_ERR_NULL,
     "std: 1 axes listed for f64[2,3] but the list is NULL [node 0]",
     !tg_std(TP, A, 1, NULL, 1, false))

/* ---- ops.h: shape ------------------------------------------------------- */
CASE(tg_reshape, tp, , NTAPE, TG_ERR_NULL, "reshape: tape is NULL", !tg_reshape(NULL, A, 2, k_s32))
CASE(tg_reshape, x, , TAPE, TG_ERR_NULL, "reshape: input 0 is NULL [node 0]",
     !tg_reshape(TP, NULL, 2, k_s32))
CASE(tg_reshape, shape, , TAPE, TG_ERR_NULL, "reshape: (2,3): target shape is NULL [node 0]",
     !tg_reshape(TP, A, 2, NULL))
CASE(tg_permute_dims, tp, , NTAPE, TG_ERR_NULL, "permute: tape is NULL",
     !tg_permute_dims(NULL, A, 2, k_perm10))
CASE(tg_permute_dims, x, , TAPE, TG_ERR_NULL, "permute: input 0 is NULL [node 0]",
     !tg_permute_dims(TP, NULL, 2, k_perm10))
CASE(tg_permute_dims, perm, , TAPE, TG_ERR_NULL, "permute: (2,3): perm is NULL [node 0]",
     !tg_permute_dims(TP, A, 2, NULL))
CASE(tg_permute_dims, perm, 0d, DOC, TG_OK, "nperm 0 needs no perm: a 0-d input is copied",
     d_permute_0d())
/* deprecated (one release): DCASE compiles the call with the warning off */
DCASE(tg_permute, tp, , NTAPE, TG_ERR_NULL, "permute: tape is NULL", !tg_permute(NULL, A, k_perm10))
DCASE(tg_permute, x, , TAPE, TG_ERR_NULL, "permute: input 0 is NULL [node 0]",
      !tg_permute(TP, NULL, k_perm10))
DCASE(tg_permute, perm, , TAPE, TG_ERR_NULL, "permute: (2,3): perm is NULL [node 0]",
      !tg_permute(TP, A, NULL))
CASE(tg_transpose, tp, , NTAPE, TG_ERR_NULL, "transpose: tape is NULL",
     !tg_transpose(NULL, A, 0, 1))
CASE(tg_transpose, x, , TAPE, TG_ERR_NULL, "transpose: input 0 is NULL [node 0]",
     !tg_transpose(TP, NULL, 0, 1))
CASE(tg_slice, tp, , NTAPE, TG_ERR_NULL, "slice: tape is NULL", !tg_slice(NULL, A, 1, 0, 2, 1))
CASE(tg_slice, x, , TAPE, TG_ERR_NULL, "slice: input 0 is NULL [node 0]",
     !tg_slice(TP, NULL, 1, 0, 2, 1))
CASE(tg_embed, tp, , NTAPE, TG_ERR_NULL, "embed: tape is NULL",
     !tg_embed(NULL, A, 2, k_s43, 0, 0, 1))
CASE(tg_embed, x, , TAPE, TG_ERR_NULL, "embed: input 0 is NULL [node 0]",
     !tg_embed(TP, NULL, 2, k_s43, 0, 0, 1))
CASE(tg_embed, shape, , TAPE, TG_ERR_NULL, "embed: (2,3): target shape is NULL [node 0]",
     !tg_embed(TP, A, 2, NULL, 0, 0, 1))
CASE(tg_concat, tp, , NTAPE, TG_ERR_NULL, "concat: tape is NULL", !tg_concat(NULL, 2, F.ab, 0))
CASE(tg_concat, xs, , TAPE, TG_ERR_NULL, "concat: input array is NULL [node 0]",
     !tg_concat(TP, 2, NULL, 0))
ECASE(tg_concat, xs, 1, TAPE, TG_ERR_NULL, "concat: input 1 is NULL [node 0]",
      !tg_concat(TP, 2, F.a_null, 0))
CASE(tg_gather, tp, , NTAPE, TG_ERR_NULL, "gather: tape is NULL", !tg_gather(NULL, A, 1, F.lab))
CASE(tg_gather, x, , TAPE, TG_ERR_NULL, "gather: input 0 is NULL [node 0]",
     !tg_gather(TP, NULL, 1, F.lab))
CASE(tg_gather, index, , TAPE, TG_ERR_NULL, "gather: index is NULL [node 0]",
     !tg_gather(TP, A, 1, NULL))
CASE(tg_scatter_add, tp, , NTAPE, TG_ERR_NULL, "scatter_add: tape is NULL",
     !tg_scatter_add(NULL, A, 1, F.lab, B))
CASE(tg_scatter_add, x, , TAPE, TG_ERR_NULL, "scatter_add: input 0 is NULL [node 0]",
     !tg_scatter_add(TP, NULL, 1, F.lab, B))
CASE(tg_scatter_add, index, , TAPE, TG_ERR_NULL, "scatter_add: index is NULL [node 0]",
     !tg_scatter_add(TP, A, 1, NULL, B))
CASE(tg_scatter_add, src, , TAPE, TG_ERR_NULL, "scatter_add: input 1 is NULL [node 0]",
     !tg_scatter_add(TP, A, 1, F.lab, NULL))
CASE(tg_index_select, tp, , NTAPE, TG_ERR_NULL, "index_select: tape is NULL",
     !tg_index_select(NULL, A, 1, F.lab))
CASE(tg_index_select, x, , TAPE, TG_ERR_NULL, "index_select: input 0 is NULL [node 0]",
     !tg_index_select(TP, NULL, 1, F.lab))
CASE(tg_index_select, index, , TAPE, TG_ERR_NULL, "index_select: index is NULL [node 0]",
     !tg_index_select(TP, A, 1, NULL))
CASE(tg_embedding, tp, , NTAPE, TG_ERR_NULL, "embedding: tape is NULL",
     !tg_embedding(NULL, A, F.lab, -1))
CASE(tg_embedding, weight, , TAPE, TG_ERR_NULL, "embedding: input 0 is NULL [node 0]",
     !tg_embedding(TP, NULL, F.lab, -1))
CASE(tg_embedding, index, , TAPE, TG_ERR_NULL, "embedding: index is NULL [node 0]",
     !tg_embedding(TP, A, NULL, -1))
CASE(tg_one_hot, tp, , NTAPE, TG_ERR_NULL, "one_hot: tape is NULL",
     !tg_one_hot(NULL, F.lab, 3, TG_F64))
CASE(tg_one_hot, index, , TAPE, TG_ERR_NULL, "one_hot: index is NULL [node 0]",
     !tg_one_hot(TP, NULL, 3, TG_F64))
CASE(tg_broadcast_to, tp, , NTAPE, TG_ERR_NULL, "broadcast_to: tape is NULL",
     !tg_broadcast_to(NULL, A, 3, k_s223))
CASE(tg_broadcast_to, x, , TAPE, TG_ERR_NULL, "broadcast_to: input 0 is NULL [node 0]",
     !tg_broadcast_to(TP, NULL, 3, k_s223))
CASE(tg_broadcast_to, shape, , TAPE, TG_ERR_NULL,
     "broadcast_to: (2,3): target shape is NULL [node 0]", !tg_broadcast_to(TP, A, 3, NULL))

/* ---- ops.h: softmax and losses ---------------------------------------------- */
CASE(tg_softmax, tp, , NTAPE, TG_ERR_NULL, "softmax: tape is NULL", !tg_softmax(NULL, A, 1))
CASE(tg_softmax, x, , TAPE, TG_ERR_NULL, "softmax: input 0 is NULL [node 0]",
     !tg_softmax(TP, NULL, 1))
CASE(tg_log_softmax, tp, , NTAPE, TG_ERR_NULL, "log_softmax: tape is NULL",
     !tg_log_softmax(NULL, A, 1))
CASE(tg_log_softmax, x, , TAPE, TG_ERR_NULL, "log_softmax: input 0 is NULL [node 0]",
     !tg_log_softmax(TP, NULL, 1))
/* normalisation: A (2,3), BIAS (3) as weight, bias and running statistics */
CASE(tg_layer_norm, tp, , NTAPE, TG_ERR_NULL, "layer_norm: tape is NULL",
     !tg_layer_norm(NULL, A, 1, BIAS, BIAS, 1e-5))
CASE(tg_layer_norm, x, , TAPE, TG_ERR_NULL, "layer_norm: input 0 is NULL [node 0]",
     !tg_layer_norm(TP, NULL, 1, BIAS, BIAS, 1e-5))
CASE(tg_layer_norm, weight, , DOC, TG_OK, "no weight: a scale of 1", d_norm_no_affine(0, 0))
CASE(tg_layer_norm, bias, , DOC, TG_OK, "no bias: a shift of 0", d_norm_no_affine(0, 1))
CASE(tg_batch_norm, tp, , NTAPE, TG_ERR_NULL, "batch_norm: tape is NULL",
     !tg_batch_norm(NULL, A, BIAS, BIAS, NULL, NULL, true, 0.1, 1e-5))
CASE(tg_batch_norm, x, , TAPE, TG_ERR_NULL, "batch_norm: input 0 is NULL [node 0]",
     !tg_batch_norm(TP, NULL, BIAS, BIAS, NULL, NULL, true, 0.1, 1e-5))
CASE(tg_batch_norm, weight, , DOC, TG_OK, "no weight: a scale of 1", d_norm_no_affine(1, 0))
CASE(tg_batch_norm, bias, , DOC, TG_OK, "no bias: a shift of 0", d_norm_no_affine(1, 1))
CASE(tg_batch_norm, running_mean, , TAPE, TG_ERR_NULL,
     "batch_norm: running_mean is NULL (evaluation mode normalises with the running statistics) "
     "[node 0]",
     !tg_batch_norm(TP, A, NULL, NULL, NULL, F.bn_rv, false, 0.1, 1e-5))
CASE(tg_batch_norm, running_mean, training, DOC, TG_OK, "training: no running mean kept",
     d_bn_no_running(0))
CASE(tg_batch_norm, running_var, , TAPE, TG_ERR_NULL,
     "batch_norm: running_var is NULL (evaluation mode normalises with the running statistics) "
     "[node 0]",
     !tg_batch_norm(TP, A, NULL, NULL, BIAS, NULL, false, 0.1, 1e-5))
CASE(tg_batch_norm, running_var, training, DOC, TG_OK, "training: no running variance kept",
     d_bn_no_running(1))
CASE(tg_group_norm, tp, , NTAPE, TG_ERR_NULL, "group_norm: tape is NULL",
     !tg_group_norm(NULL, A, 3, BIAS, BIAS, 1e-5))
CASE(tg_group_norm, x, , TAPE, TG_ERR_NULL, "group_norm: input 0 is NULL [node 0]",
     !tg_group_norm(TP, NULL, 3, BIAS, BIAS, 1e-5))
CASE(tg_group_norm, weight, , DOC, TG_OK, "no weight: a scale of 1", d_norm_no_affine(2, 0))
CASE(tg_group_norm, bias, , DOC, TG_OK, "no bias: a shift of 0", d_norm_no_affine(2, 1))
CASE(tg_bce, tp, , NTAPE, TG_ERR_NULL, "bce: tape is NULL", !tg_bce(NULL, A, B, TG_REDUCE_SUM))
CASE(tg_bce, p, , TAPE, TG_ERR_NULL, "bce: input 0 is NULL [node 0]",
     !tg_bce(TP, NULL, B, TG_REDUCE_SUM))
CASE(tg_bce, t, , TAPE, TG_ERR_NULL, "bce: input 1 is NULL [node 0]",
     !tg_bce(TP, A, NULL, TG_REDUCE_SUM))
CASE(tg_bce_logits, tp, , NTAPE, TG_ERR_NULL, "bce_logits: tape is NULL",
     !tg_bce_logits(NULL, A, B, TG_REDUCE_SUM))
CASE(tg_bce_logits, z, , TAPE, TG_ERR_NULL, "bce_logits: input 0 is NULL [node 0]",
     !tg_bce_logits(TP, NULL, B, TG_REDUCE_SUM))
CASE(tg_bce_logits, t, , TAPE, TG_ERR_NULL, "bce_logits: input 1 is NULL [node 0]",
     !tg_bce_logits(TP, A, NULL, TG_REDUCE_SUM))
CASE(tg_softmax_cross_entropy, tp, , NTAPE, TG_ERR_NULL, "softmax_cross_entropy: tape is NULL",
     !tg_softmax_cross_entropy(NULL, A, OH, TG_REDUCE_SUM))
CASE(tg_softmax_cross_entropy, z, , TAPE, TG_ERR_NULL,
     "softmax_cross_entropy: input 0 is NULL [node 0]",
     !tg_softmax_cross_entropy(TP, NULL, OH, TG_REDUCE_SUM))
CASE(tg_softmax_cross_entropy, targets, , TAPE, TG_ERR_NULL,
     "softmax_cross_entropy: input 1 is NULL [node 0]",
     !tg_softmax_cross_entropy(TP, A, NULL, TG_REDUCE_SUM))
CASE(tg_softmax_cross_entropy_index, tp, , NTAPE, TG_ERR_NULL,
     "softmax_cross_entropy_index: tape is NULL",
     !tg_softmax_cross_entropy_index(NULL, A, F.lab, TG_REDUCE_SUM))
CASE(tg_softmax_cross_entropy_index, z, , TAPE, TG_ERR_NULL,
     "softmax_cross_entropy_index: input 0 is NULL [node 0]",
     !tg_softmax_cross_entropy_index(TP, NULL, F.lab, TG_REDUCE_SUM))
CASE(tg_softmax_cross_entropy_index, labels, , TAPE, TG_ERR_NULL,
     "softmax_cross_entropy_index: labels is NULL [node 0]",
     !tg_softmax_cross_entropy_index(TP, A, NULL, TG_REDUCE_SUM))
/* the deprecated wrapper, kept one release (test_null_api.c allows its use) */
CASE(tg_softmax_cross_entropy_labels, tp, , NTAPE, TG_ERR_NULL,
     "softmax_cross_entropy_labels: tape is NULL",
     !tg_softmax_cross_entropy_labels(NULL, A, k_labels, 2, TG_REDUCE_SUM))
CASE(tg_softmax_cross_entropy_labels, z, , TAPE, TG_ERR_NULL,
     "softmax_cross_entropy_labels: input 0 is NULL [node 0]",
     !tg_softmax_cross_entropy_labels(TP, NULL, k_labels, 2, TG_REDUCE_SUM))
CASE(tg_softmax_cross_entropy_labels, labels, , TAPE, TG_ERR_NULL,
     "softmax_cross_entropy_labels: labels is NULL [node 0]",
     !tg_softmax_cross_entropy_labels(TP, A, NULL, 2, TG_REDUCE_SUM))

/* ---- ops.h: convolution and pooling ----------------------------------------- */
CASE(tg_conv2d, tp, , NTAPE, TG_ERR_NULL, "conv2d: tape is NULL",
     !tg_conv2d(NULL, IMG, W, BIAS, 1, 1, 0, 0))
CASE(tg_conv2d, x, , TAPE, TG_ERR_NULL, "conv2d: input 0 is NULL [node 0]",
     !tg_conv2d(TP, NULL, W, BIAS, 1, 1, 0, 0))
CASE(tg_conv2d, w, , TAPE, TG_ERR_NULL, "conv2d: input 1 is NULL [node 0]",
     !tg_conv2d(TP, IMG, NULL, BIAS, 1, 1, 0, 0))
CASE(tg_conv2d, bias, , DOC, TG_OK, "no bias", d_conv_no_bias())
CASE(tg_im2col, tp, , NTAPE, TG_ERR_NULL, "im2col: tape is NULL",
     !tg_im2col(NULL, IMG, 3, 3, 1, 1, 0, 0))
CASE(tg_im2col, x, , TAPE, TG_ERR_NULL, "im2col: input 0 is NULL [node 0]",
     !tg_im2col(TP, NULL, 3, 3, 1, 1, 0, 0))
CASE(tg_col2im_to, tp, , NTAPE, TG_ERR_NULL, "col2im: tape is NULL",
     !tg_col2im_to(NULL, COLS, 4, k_img, 3, 3, 1, 1, 0, 0))
CASE(tg_col2im_to, cols, , TAPE, TG_ERR_NULL, "col2im: input 0 is NULL [node 0]",
     !tg_col2im_to(TP, NULL, 4, k_img, 3, 3, 1, 1, 0, 0))
CASE(tg_col2im_to, image_shape, , TAPE, TG_ERR_NULL, "col2im: image shape is NULL [node 0]",
     !tg_col2im_to(TP, COLS, 4, NULL, 3, 3, 1, 1, 0, 0))
DCASE(tg_col2im, tp, , NTAPE, TG_ERR_NULL, "col2im: tape is NULL",
      !tg_col2im(NULL, COLS, k_img, 3, 3, 1, 1, 0, 0))
DCASE(tg_col2im, cols, , TAPE, TG_ERR_NULL, "col2im: input 0 is NULL [node 0]",
      !tg_col2im(TP, NULL, k_img, 3, 3, 1, 1, 0, 0))
DCASE(tg_col2im, image_shape, , TAPE, TG_ERR_NULL, "col2im: image shape is NULL [node 0]",
      !tg_col2im(TP, COLS, NULL, 3, 3, 1, 1, 0, 0))
CASE(tg_max_pool2d, tp, , NTAPE, TG_ERR_NULL, "max_pool2d: tape is NULL",
     !tg_max_pool2d(NULL, IMG, 2, 2, 2, 2, 0, 0))
CASE(tg_max_pool2d, x, , TAPE, TG_ERR_NULL, "max_pool2d: input 0 is NULL [node 0]",
     !tg_max_pool2d(TP, NULL, 2, 2, 2, 2, 0, 0))
CASE(tg_avg_pool2d, tp, , NTAPE, TG_ERR_NULL, "avg_pool2d: tape is NULL",
     !tg_avg_pool2d(NULL, IMG, 2, 2, 2, 2, 0, 0))
CASE(tg_avg_pool2d, x, , TAPE, TG_ERR_NULL, "avg_pool2d: input 0 is NULL [node 0]",
     !tg_avg_pool2d(TP, NULL, 2, 2, 2, 2, 0, 0))
/* dilation, groups, conv1d, conv_transpose2d, adaptive pooling (issue 19, item 7) */
CASE(tg_conv2d_ex, tp, , NTAPE, TG_ERR_NULL, "conv2d: tape is NULL",
     !tg_conv2d_ex(NULL, IMG, W, BIAS, NULL))
CASE(tg_conv2d_ex, x, , TAPE, TG_ERR_NULL, "conv2d: input 0 is NULL [node 0]",
     !tg_conv2d_ex(TP, NULL, W, BIAS, NULL))
CASE(tg_conv2d_ex, w, , TAPE, TG_ERR_NULL, "conv2d: input 1 is NULL [node 0]",
     !tg_conv2d_ex(TP, IMG, NULL, BIAS, NULL))
CASE(tg_conv2d_ex, bias, , DOC, TG_OK, "no bias", d_conv_ex_no_bias())
CASE(tg_conv2d_ex, o, , DOC, TG_OK, "the defaults: stride 1, no padding, dilation 1, groups 1",
     d_conv_ex_default())
CASE(tg_conv1d, tp, , NTAPE, TG_ERR_NULL, "conv1d: tape is NULL",
     !tg_conv1d(NULL, IMG, W, NULL, 1, 0, 1, 1))
CASE(tg_conv1d, x, , TAPE, TG_ERR_NULL, "conv1d: input 0 is NULL [node 0]",
     !tg_conv1d(TP, NULL, W, NULL, 1, 0, 1, 1))
CASE(tg_conv1d, w, , TAPE, TG_ERR_NULL, "conv1d: input 1 is NULL [node 0]",
     !tg_conv1d(TP, IMG, NULL, NULL, 1, 0, 1, 1))
CASE(tg_conv1d, bias, , DOC, TG_OK, "no bias", d_conv1d_no_bias())
CASE(tg_conv_transpose2d, tp, , NTAPE, TG_ERR_NULL, "conv_transpose2d: tape is NULL",
     !tg_conv_transpose2d(NULL, IMG, W, NULL, NULL, 0, 0))
CASE(tg_conv_transpose2d, x, , TAPE, TG_ERR_NULL, "conv_transpose2d: input 0 is NULL [node 0]",
     !tg_conv_transpose2d(TP, NULL, W, NULL, NULL, 0, 0))
CASE(tg_conv_transpose2d, w, , TAPE, TG_ERR_NULL, "conv_transpose2d: input 1 is NULL [node 0]",
     !tg_conv_transpose2d(TP, IMG, NULL, NULL, NULL, 0, 0))
CASE(tg_conv_transpose2d, bias, , DOC, TG_OK, "no bias", d_conv_t_no_bias())
CASE(tg_conv_transpose2d, o, , DOC, TG_OK,
     "the defaults: stride 1, no padding, dilation 1, groups 1", d_conv_t_no_bias())
CASE(tg_adaptive_avg_pool2d, tp, , NTAPE, TG_ERR_NULL, "adaptive_avg_pool2d: tape is NULL",
     !tg_adaptive_avg_pool2d(NULL, IMG, 2, 2))
CASE(tg_adaptive_avg_pool2d, x, , TAPE, TG_ERR_NULL,
     "adaptive_avg_pool2d: input 0 is NULL [node 0]", !tg_adaptive_avg_pool2d(TP, NULL, 2, 2))
CASE(tg_global_avg_pool2d, tp, , NTAPE, TG_ERR_NULL, "global_avg_pool2d: tape is NULL",
     !tg_global_avg_pool2d(NULL, IMG))
CASE(tg_global_avg_pool2d, x, , TAPE, TG_ERR_NULL, "global_avg_pool2d: input 0 is NULL [node 0]",
     !tg_global_avg_pool2d(TP, NULL))

/* ---- nn.h --------------------------------------------------------------------- */
#define INIT(fn, name, ...)                                                                        \
    CASE(tg_##fn, w, , LAST, TG_ERR_NULL, name ": weight is NULL",                                 \
         tg_##fn(NULL, RNG __VA_ARGS__) == TG_ERR_NULL)                                            \
    CASE(tg_##fn, r, , LAST, TG_ERR_NULL, name ": rng is NULL",                                    \
         tg_##fn(LW, NULL __VA_ARGS__) == TG_ERR_NULL && lw_untouched())
INIT(init_uniform, "init_uniform", , -1.0, 1.0)
INIT(init_normal, "init_normal", , 0.0, 1.0)
INIT(init_xavier_uniform, "init_xavier_uniform", )
INIT(init_xavier_normal, "init_xavier_normal", )
INIT(init_he_uniform, "init_he_uniform", )
INIT(init_he_normal, "init_he_normal", )
#undef INIT
CASE(tg_linear, tp, , NTAPE, TG_ERR_NULL, "linear: tape is NULL", !tg_linear(NULL, A, LW, LB))
CASE(tg_linear, x, , TAPE, TG_ERR_NULL, "linear: input 0 is NULL [node 0]",
     !tg_linear(TP, NULL, LW, LB))
CASE(tg_linear, w, , TAPE, TG_ERR_NULL, "linear: input 1 is NULL [node 0]",
     !tg_linear(TP, A, NULL, LB))
CASE(tg_linear, b, , DOC, TG_OK, "no bias: x @ w", d_linear_no_bias())
CASE(tg_dropout, tp, , NTAPE, TG_ERR_NULL, "dropout: tape is NULL", !tg_dropout(NULL, A, 0.5, true))
CASE(tg_dropout, x, , TAPE, TG_ERR_NULL, "dropout: input 0 is NULL [node 0]",
     !tg_dropout(TP, NULL, 0.5, true))
CASE(tg_fast_dropout_linear, tp, , NTAPE, TG_ERR_NULL, "fast_dropout_linear: tape is NULL",
     !tg_fast_dropout_linear(NULL, A, LW, 0.5))
CASE(tg_fast_dropout_linear, o, , TAPE, TG_ERR_NULL,
     "fast_dropout_linear: input 0 is NULL [node 0]", !tg_fast_dropout_linear(TP, NULL, LW, 0.5))
CASE(tg_fast_dropout_linear, w, , TAPE, TG_ERR_NULL,
     "fast_dropout_linear: input 1 is NULL [node 0]", !tg_fast_dropout_linear(TP, A, NULL, 0.5))

/* ---- optim.h ------------------------------------------------------------------- */
CASE(tg_sgd_new, params, , LAST, TG_ERR_NULL, "sgd: 1 parameters, list NULL",
     !tg_sgd_new(1, NULL, 0.1, 0.9, 0.0))
ECASE(tg_sgd_new, params, 0, LAST, TG_ERR_NULL, "sgd: parameter 0 is NULL",
      !tg_sgd_new(1, k_null1, 0.1, 0.9, 0.0))
CASE(tg_adam_new, params, , LAST, TG_ERR_NULL, "adam: 1 parameters, list NULL",
     !tg_adam_new(1, NULL, 1e-3, 0.9, 0.999, 1e-8, 0.0))
ECASE(tg_adam_new, params, 0, LAST, TG_ERR_NULL, "adam: parameter 0 is NULL",
      !tg_adam_new(1, k_null1, 1e-3, 0.9, 0.999, 1e-8, 0.0))
CASE(tg_optim_zero_grad, o, , LAST, TG_ERR_NULL, "optim_zero_grad: optimizer is NULL",
     (tg_optim_zero_grad(NULL), true))
CASE(tg_optim_step, o, , LAST, TG_ERR_NULL, "optim_step: optimizer is NULL",
     tg_optim_step(NULL) == TG_ERR_NULL)
CASE(tg_optim_set_lr, o, , LAST, TG_ERR_NULL, "optim_set_lr: optimizer is NULL",
     (tg_optim_set_lr(NULL, 0.1), true))
CASE(tg_optim_lr, o, , LAST, TG_ERR_NULL, "optim_lr: optimizer is NULL", tg_optim_lr(NULL) == 0.0)
CASE(tg_optim_free, o, , DOC, TG_OK, "NULL is ignored, like free(NULL)",
     (tg_optim_free(NULL), true))

/* ---- io.h ------------------------------------------------------------------------ */
CASE(tg_safetensors_save, path, , LAST, TG_ERR_NULL, "safetensors_save: path is NULL",
     tg_safetensors_save(NULL, 1, k_names, &A) == TG_ERR_NULL)
CASE(tg_safetensors_save, names, , LAST, TG_ERR_NULL, "safetensors_save: names is NULL",
     tg_safetensors_save(k_st_path, 1, NULL, &A) == TG_ERR_NULL && !file_exists(k_st_path))
ECASE(tg_safetensors_save, names, 0, LAST, TG_ERR_NULL,
      "safetensors_save: tg_null_api.safetensors: name 0 is NULL",
      tg_safetensors_save(k_st_path, 1, k_null_name, &A) == TG_ERR_NULL && !file_exists(k_st_path))
CASE(tg_safetensors_save, tensors, , LAST, TG_ERR_NULL, "safetensors_save: tensors is NULL",
     tg_safetensors_save(k_st_path, 1, k_names, NULL) == TG_ERR_NULL && !file_exists(k_st_path))
ECASE(tg_safetensors_save, tensors, 0, LAST, TG_ERR_NULL,
      "safetensors_save: tg_null_api.safetensors: tensor 0 is NULL",
      tg_safetensors_save(k_st_path, 1, k_names, k_null1) == TG_ERR_NULL && !file_exists(k_st_path))
CASE(tg_safetensors_load, path, , LAST, TG_ERR_NULL, "safetensors_load: path is NULL",
     tg_safetensors_load(NULL, &F.named) == TG_ERR_NULL && F.named.n == 0)
CASE(tg_safetensors_load, out, , LAST, TG_ERR_NULL, "safetensors_load: out is NULL",
     d_saved() && tg_safetensors_load(k_st_path, NULL) == TG_ERR_NULL)
CASE(tg_named_tensors_free, t, , DOC, TG_OK, "NULL is ignored, like free(NULL)",
     (tg_named_tensors_free(NULL), true))
CASE(tg_safetensors_load_into, path, , LAST, TG_ERR_NULL, "safetensors_load_into: path is NULL",
     tg_safetensors_load_into(NULL, 1, k_names, &A) == TG_ERR_NULL && a_untouched())
CASE(tg_safetensors_load_into, names, , LAST, TG_ERR_NULL, "safetensors_load_into: names is NULL",
     d_saved() && tg_safetensors_load_into(k_st_path, 1, NULL, &A) == TG_ERR_NULL)
ECASE(tg_safetensors_load_into, names, 0, LAST, TG_ERR_NULL,
      "safetensors_load_into: tg_null_api.safetensors: name 0 is NULL",
      d_saved() && tg_safetensors_load_into(k_st_path, 1, k_null_name, &A) == TG_ERR_NULL)
CASE(tg_safetensors_load_into, tensors, , LAST, TG_ERR_NULL,
     "safetensors_load_into: tensors is NULL",
     d_saved() && tg_safetensors_load_into(k_st_path, 1, k_names, NULL) == TG_ERR_NULL)
ECASE(tg_safetensors_load_into, tensors, 0, LAST, TG_ERR_NULL,
      "safetensors_load_into: tg_null_api.safetensors: tensor 0 is NULL",
      d_saved() && tg_safetensors_load_into(k_st_path, 1, k_names, k_null1) == TG_ERR_NULL)
CASE(tg_idx_load, path, , LAST, TG_ERR_NULL, "idx_load: path is NULL",
     !tg_idx_load(NULL, TG_F32, 1.0))
CASE(tg_idx_load_ex, path, , LAST, TG_ERR_NULL, "idx_load: path is NULL",
     !tg_idx_load_ex(NULL, TG_F32, 1.0, NULL))
CASE(tg_idx_load_ex, opts, , DOC, TG_OK, "NULL options: the defaults",
     d_idx_saved() && d_idx_ex_defaults())
CASE(tg_idx_load_labels, path, , LAST, TG_ERR_NULL, "idx_load_labels: path is NULL",
     !tg_idx_load_labels(NULL, &F.count))
CASE(tg_idx_load_labels, n, , LAST, TG_ERR_NULL, "idx_load_labels: n is NULL",
     d_idx_saved() && !tg_idx_load_labels(k_idx_path, NULL))
CASE(tg_idx_load_labels_ex, path, , LAST, TG_ERR_NULL, "idx_load_labels: path is NULL",
     !tg_idx_load_labels_ex(NULL, &F.count, NULL))
CASE(tg_idx_load_labels_ex, n, , LAST, TG_ERR_NULL, "idx_load_labels: n is NULL",
     d_idx_saved() && !tg_idx_load_labels_ex(k_idx_path, NULL, NULL))
CASE(tg_idx_load_labels_ex, opts, , DOC, TG_OK, "NULL options: the defaults",
     d_idx_saved() && d_idx_labels_ex_defaults())
CASE(tg_idx_labels_free, labels, , DOC, TG_OK, "NULL is ignored, like free(NULL)",
     (tg_idx_labels_free(NULL), true))
CASE(tg_batches_new, data, , LAST, TG_ERR_NULL, "batches_new: data is NULL",
     !tg_batches_new(NULL, k_labels, 1, false, false, 1))
CASE(tg_batches_new, labels, , DOC, TG_OK, "no labels: the batches give y NULL",
     d_batches_no_labels())
CASE(tg_batches_reset, b, , LAST, TG_ERR_NULL, "batches_reset: iterator is NULL",
     (tg_batches_reset(NULL), true))
CASE(tg_batches_next, b, , LAST, TG_ERR_NULL, "batches_next: iterator is NULL",
     !tg_batches_next(NULL, &F.batch_x, &F.batch_y, &F.count) && !F.batch_x && !F.batch_y &&
         F.count == 0)
CASE(tg_batches_next, x, , DOC, TG_OK, "the batch tensor is not wanted", d_batches_next_out(0))
CASE(tg_batches_next, y, , DOC, TG_OK, "the labels are not wanted", d_batches_next_out(1))
CASE(tg_batches_next, n, , DOC, TG_OK, "the batch size is not wanted", d_batches_next_out(2))
CASE(tg_batches_free, b, , DOC, TG_OK, "NULL is ignored, like free(NULL)",
     (tg_batches_free(NULL), true))
CASE(tg_batches_shard, b, , LAST, TG_ERR_NULL, "batches_shard: iterator is NULL",
     tg_batches_shard(NULL, 0, 1) == TG_ERR_NULL)

/* ---- dist.h ----------------------------------------------------------------------- */
CASE(tg_dist_init, argc, , DOC, TG_OK, "MPI does not see the command line", d_dist_init_nulls())
CASE(tg_dist_init, argv, , DOC, TG_OK, "MPI does not see the command line", d_dist_init_nulls())
CASE(tg_dist_init, opts, , DOC, TG_OK, "NULL options: the defaults", d_dist_init_nulls())
CASE(tg_dist_broadcast, tensors, , LAST, TG_ERR_NULL, "tg_dist_broadcast: tensors is NULL",
     tg_dist_broadcast(1, NULL) == TG_ERR_NULL)
ECASE(tg_dist_broadcast, tensors, 0, LAST, TG_ERR_NULL, "tg_dist_broadcast: tensor 0 is NULL",
      tg_dist_broadcast(1, k_null1) == TG_ERR_NULL)
CASE(tg_dist_allreduce_grads, params, , LAST, TG_ERR_NULL,
     "tg_dist_allreduce_grads: parameters is NULL", tg_dist_allreduce_grads(1, NULL) == TG_ERR_NULL)
ECASE(tg_dist_allreduce_grads, params, 0, LAST, TG_ERR_NULL,
      "tg_dist_allreduce_grads: parameter 0 is NULL",
      tg_dist_allreduce_grads(1, k_null1) == TG_ERR_NULL)

/* ---- gradcheck.h ---------------------------------------------------------------- */
CASE(tg_compare, a, , LAST, TG_ERR_NULL, "compare: a is NULL",
     !tg_compare(NULL, B, 0, 0, &F.rep) && !F.rep.ok)
CASE(tg_compare, b, , LAST, TG_ERR_NULL, "compare: b is NULL",
     !tg_compare(A, NULL, 0, 0, &F.rep) && !F.rep.ok)
CASE(tg_compare, report, , DOC, TG_OK, "no report: only the answer",
     tg_compare(A, A, 0, 0, NULL) && !tg_compare(A, B, 0, 0, NULL))
CASE(tg_compare_report_print, f, , LAST, TG_ERR_NULL, "compare_report_print: f is NULL",
     (tg_compare_report_print(NULL, "a", d_report()), true))
CASE(tg_compare_report_print, label, , DOC, TG_OK, "no label: printed as \"compare\"",
     d_report_print_no_label())
CASE(tg_compare_report_print, r, , LAST, TG_ERR_NULL, "compare_report_print: report is NULL",
     (tg_compare_report_print(OUT, "a", NULL), true))
CASE(tg_gradcheck, fn, , LAST, TG_ERR_NULL, "gradcheck: function or inputs are NULL",
     tg_gradcheck(NULL, NULL, 1, &P, NULL, NULL) == TG_ERR_NULL)
CASE(tg_gradcheck, ctx, , DOC, TG_OK, "passed to fn as it is", d_gradcheck_ctx())
CASE(tg_gradcheck, inputs, , LAST, TG_ERR_NULL, "gradcheck: function or inputs are NULL",
     tg_gradcheck(fn_sum_sq, NULL, 1, NULL, NULL, NULL) == TG_ERR_NULL)
ECASE(tg_gradcheck, inputs, 0, LAST, TG_ERR_ARG, "gradcheck: input 0 is NULL or not user-owned",
      tg_gradcheck(fn_sum_sq, NULL, 1, k_null1, NULL, NULL) == TG_ERR_ARG)
CASE(tg_gradcheck, opts, , DOC, TG_OK, "default options",
     tg_gradcheck(fn_sum_sq, NULL, 1, &P, NULL, F.reps) == TG_OK && F.reps[0].ok)
CASE(tg_gradcheck, reports, , DOC, TG_OK, "no reports: only the status",
     tg_gradcheck(fn_sum_sq, NULL, 1, &P, NULL, NULL) == TG_OK)
CASE(tg_gradcheck_print, f, , DOC, TG_OK, "no report printed: only the status",
     tg_gradcheck_print(NULL, fn_sum_sq, NULL, 1, &P, NULL) == TG_OK)
CASE(tg_gradcheck_print, fn, , LAST, TG_ERR_NULL, "gradcheck: function or inputs are NULL",
     tg_gradcheck_print(OUT, NULL, NULL, 1, &P, NULL) == TG_ERR_NULL)
CASE(tg_gradcheck_print, ctx, , DOC, TG_OK, "passed to fn as it is",
     tg_gradcheck_print(OUT, fn_ctx_null, NULL, 1, &P, NULL) == TG_OK)
CASE(tg_gradcheck_print, inputs, , LAST, TG_ERR_NULL, "gradcheck: function or inputs are NULL",
     tg_gradcheck_print(OUT, fn_sum_sq, NULL, 1, NULL, NULL) == TG_ERR_NULL)
CASE(tg_gradcheck_print, opts, , DOC, TG_OK, "default options",
     tg_gradcheck_print(OUT, fn_sum_sq, NULL, 1, &P, NULL) == TG_OK)

/* ---- verify.h ------------------------------------------------------------------- */
CASE(tg_delta_check, tp, , LAST, TG_ERR_NULL, "delta check: tape, loss, entries or results is NULL",
     tg_delta_check(NULL, y_loss(), 1, d_entries(), 0, 0, F.dres, NULL) == TG_ERR_NULL)
CASE(tg_delta_check, loss, , LAST, TG_ERR_NULL,
     "delta check: tape, loss, entries or results is NULL",
     tg_delta_check(TP, NULL, 1, d_entries(), 0, 0, F.dres, NULL) == TG_ERR_NULL)
CASE(tg_delta_check, entries, , LAST, TG_ERR_NULL,
     "delta check: tape, loss, entries or results is NULL",
     tg_delta_check(TP, y_loss(), 1, NULL, 0, 0, F.dres, NULL) == TG_ERR_NULL)
CASE(tg_delta_check, results, , LAST, TG_ERR_NULL,
     "delta check: tape, loss, entries or results is NULL",
     tg_delta_check(TP, y_loss(), 1, d_entries(), 0, 0, NULL, NULL) == TG_ERR_NULL)
CASE(tg_delta_check, first, , DOC, TG_OK, "the first divergence is not wanted",
     tg_delta_check(TP, y_loss(), 1, d_entries(), 1e-12, 1e-12, F.dres, NULL) == TG_OK)
CASE(tg_delta_report_print, f, , LAST, TG_ERR_NULL, "delta_report_print: f is NULL",
     (tg_delta_report_print(NULL, 1, d_entries(), d_results()), true))
CASE(tg_delta_report_print, entries, , LAST, TG_ERR_NULL,
     "delta_report_print: entries or results is NULL",
     (tg_delta_report_print(OUT, 1, NULL, d_results()), true))
CASE(tg_delta_report_print, results, , LAST, TG_ERR_NULL,
     "delta_report_print: entries or results is NULL",
     (tg_delta_report_print(OUT, 1, d_entries(), NULL), true))
CASE(tg_hvp, tp, , LAST, TG_ERR_NULL, "hvp: tape is NULL",
     tg_hvp(NULL, y_loss(), 1, &P, &A, F.outs, false) == TG_ERR_NULL)
CASE(tg_hvp, y, , TAPE, TG_ERR_NULL, "hvp: output is NULL [node 0]",
     tg_hvp(TP, NULL, 1, &P, &A, F.outs, false) == TG_ERR_NULL)
CASE(tg_hvp, xs, , TAPE, TG_ERR_NULL, "hvp: xs is NULL [node 2]",
     tg_hvp(TP, y_loss(), 1, NULL, &A, F.outs, false) == TG_ERR_NULL)
CASE(tg_hvp, vs, , TAPE, TG_ERR_NULL, "hvp: vs is NULL [node 2]",
     tg_hvp(TP, y_loss(), 1, &P, NULL, F.outs, false) == TG_ERR_NULL)
ECASE(tg_hvp, vs, 0, TAPE, TG_ERR_NULL, "hvp directions: input 0 is NULL [node 2]",
      tg_hvp(TP, y_loss(), 1, &P, k_null1, F.outs, false) == TG_ERR_NULL)
CASE(tg_hvp, out, , TAPE, TG_ERR_NULL, "hvp: out is NULL [node 2]",
     tg_hvp(TP, y_loss(), 1, &P, &A, NULL, false) == TG_ERR_NULL)
CASE(tg_jacobian, tp, , LAST, TG_ERR_NULL, "jacobian: tape is NULL",
     !tg_jacobian(NULL, y_loss(), P))
CASE(tg_jacobian, y, , TAPE, TG_ERR_NULL, "jacobian: output is NULL [node 0]",
     !tg_jacobian(TP, NULL, P))
CASE(tg_jacobian, x, , TAPE, TG_ERR_NULL, "jacobian: x is NULL [node 2]",
     !tg_jacobian(TP, y_loss(), NULL))
CASE(tg_hessian, tp, , LAST, TG_ERR_NULL, "hessian: tape is NULL", !tg_hessian(NULL, y_loss(), P))
CASE(tg_hessian, y, , TAPE, TG_ERR_NULL, "hessian: output is NULL [node 0]",
     !tg_hessian(TP, NULL, P))
CASE(tg_hessian, x, , TAPE, TG_ERR_NULL, "hessian: x is NULL [node 2]",
     !tg_hessian(TP, y_loss(), NULL))
CASE(tg_jacobian_ex, tp, , LAST, TG_ERR_NULL, "jacobian: tape is NULL",
     !tg_jacobian_ex(NULL, y_loss(), P, TG_JAC_FORWARD))
CASE(tg_jacobian_ex, y, , TAPE, TG_ERR_NULL, "jacobian: output is NULL [node 0]",
     !tg_jacobian_ex(TP, NULL, P, TG_JAC_FORWARD))
CASE(tg_jacobian_ex, x, , TAPE, TG_ERR_NULL, "jacobian: x is NULL [node 2]",
     !tg_jacobian_ex(TP, y_loss(), NULL, TG_JAC_FORWARD))
CASE(tg_hessian_ex, tp, , LAST, TG_ERR_NULL, "hessian: tape is NULL",
     !tg_hessian_ex(NULL, y_loss(), P, TG_JAC_REVERSE))
CASE(tg_hessian_ex, y, , TAPE, TG_ERR_NULL, "hessian: output is NULL [node 0]",
     !tg_hessian_ex(TP, NULL, P, TG_JAC_REVERSE))
CASE(tg_hessian_ex, x, , TAPE, TG_ERR_NULL, "hessian: x is NULL [node 2]",
     !tg_hessian_ex(TP, y_loss(), NULL, TG_JAC_REVERSE))
CASE(tg_gradgradcheck, fn, , LAST, TG_ERR_NULL, "gradgradcheck: function or inputs are NULL",
     tg_gradgradcheck(NULL, NULL, 1, &P, NULL, NULL) == TG_ERR_NULL)
CASE(tg_gradgradcheck, ctx, , DOC, TG_OK, "passed to fn as it is",
     tg_gradgradcheck(fn_ctx_null, NULL, 1, &P, NULL, NULL) == TG_OK)
CASE(tg_gradgradcheck, inputs, , LAST, TG_ERR_NULL, "gradgradcheck: function or inputs are NULL",
     tg_gradgradcheck(fn_sum_sq, NULL, 1, NULL, NULL, NULL) == TG_ERR_NULL)
CASE(tg_gradgradcheck, opts, , DOC, TG_OK, "default options",
     tg_gradgradcheck(fn_sum_sq, NULL, 1, &P, NULL, F.reps) == TG_OK && F.reps[0].ok)
CASE(tg_gradgradcheck, reports, , DOC, TG_OK, "no reports: only the status",
     tg_gradgradcheck(fn_sum_sq, NULL, 1, &P, NULL, NULL) == TG_OK)
CASE(tg_gradgradcheck_print, f, , DOC, TG_OK, "no report printed: only the status",
     tg_gradgradcheck_print(NULL, fn_sum_sq, NULL, 1, &P, NULL) == TG_OK)
CASE(tg_gradgradcheck_print, fn, , LAST, TG_ERR_NULL, "gradgradcheck: function or inputs are NULL",
     tg_gradgradcheck_print(OUT, NULL, NULL, 1, &P, NULL) == TG_ERR_NULL)
CASE(tg_gradgradcheck_print, ctx, , DOC, TG_OK, "passed to fn as it is",
     tg_gradgradcheck_print(OUT, fn_ctx_null, NULL, 1, &P, NULL) == TG_OK)
CASE(tg_gradgradcheck_print, inputs, , LAST, TG_ERR_NULL,
     "gradgradcheck: function or inputs are NULL",
     tg_gradgradcheck_print(OUT, fn_sum_sq, NULL, 1, NULL, NULL) == TG_ERR_NULL)
CASE(tg_gradgradcheck_print, opts, , DOC, TG_OK, "default options",
     tg_gradgradcheck_print(OUT, fn_sum_sq, NULL, 1, &P, NULL) == TG_OK)
CASE(tg_replay_f64, fn, , LAST, TG_ERR_NULL, "replay: function, inputs or report is NULL",
     tg_replay_f64(NULL, NULL, 1, &P, 0, &F.replay) == TG_ERR_NULL)
CASE(tg_replay_f64, ctx, , DOC, TG_OK, "passed to fn as it is",
     tg_replay_f64(fn_ctx_null, NULL, 1, &P, 0, &F.replay) == TG_OK)
CASE(tg_replay_f64, inputs, , LAST, TG_ERR_NULL, "replay: function, inputs or report is NULL",
     tg_replay_f64(fn_sum_sq, NULL, 1, NULL, 0, &F.replay) == TG_ERR_NULL)
ECASE(tg_replay_f64, inputs, 0, LAST, TG_ERR_NULL, "replay: input 0 is NULL",
      tg_replay_f64(fn_sum_sq, NULL, 1, k_null1, 0, &F.replay) == TG_ERR_NULL)
CASE(tg_replay_f64, rep, , LAST, TG_ERR_NULL, "replay: function, inputs or report is NULL",
     tg_replay_f64(fn_sum_sq, NULL, 1, &P, 0, NULL) == TG_ERR_NULL)
CASE(tg_replay_report_print, f, , LAST, TG_ERR_NULL, "replay_report_print: f is NULL",
     (tg_replay_report_print(NULL, d_replay()), true))
CASE(tg_replay_report_print, rep, , LAST, TG_ERR_NULL, "replay_report_print: report is NULL",
     (tg_replay_report_print(OUT, NULL), true))
CASE(tg_replay_report_free, rep, , DOC, TG_OK, "NULL is ignored, like free(NULL)",
     (tg_replay_report_free(NULL), true))
CASE(tg_tape_node_memory, tp, , LAST, TG_ERR_NULL, "tape_node_memory: tape is NULL",
     tg_tape_node_memory(NULL, 0, &F.mem) == TG_ERR_NULL)
CASE(tg_tape_node_memory, m, , LAST, TG_ERR_NULL, "tape_node_memory: m is NULL",
     y_loss() && tg_tape_node_memory(TP, 0, NULL) == TG_ERR_NULL)
CASE(tg_tape_print_ex, tp, , LAST, TG_ERR_NULL, "tape_print_ex: tape is NULL",
     (tg_tape_print_ex(NULL, OUT, TG_PRINT_MEMORY), true))
CASE(tg_tape_print_ex, f, , LAST, TG_ERR_NULL, "tape_print_ex: f is NULL",
     (tg_tape_print_ex(TP, NULL, TG_PRINT_MEMORY), true))
CASE(tg_compare_report_format, buf, , DOC, TG_OK,
     "nothing written; the length the text needs is returned (as snprintf(NULL, 0, ...))",
     d_format_measure())
CASE(tg_compare_report_format, label, , DOC, TG_OK, "no label: written as \"compare\"",
     d_format_no_label())
CASE(tg_compare_report_format, r, , LAST, TG_ERR_NULL, "compare_report_format: report is NULL",
     tg_compare_report_format(F.text, sizeof F.text, "a", NULL) == 0 && F.text[0] == '\0')
CASE(tg_delta_report_format, buf, , DOC, TG_OK,
     "nothing written; the length the text needs is returned (as snprintf(NULL, 0, ...))",
     d_delta_format_measure())
CASE(tg_delta_report_format, entries, , LAST, TG_ERR_NULL,
     "delta_report_format: entries or results is NULL",
     tg_delta_report_format(F.text, sizeof F.text, 1, NULL, d_results()) == 0 && F.text[0] == '\0')
CASE(tg_delta_report_format, results, , LAST, TG_ERR_NULL,
     "delta_report_format: entries or results is NULL",
     tg_delta_report_format(F.text, sizeof F.text, 1, d_entries(), NULL) == 0 && F.text[0] == '\0')

/* ---- scalar.h: the scalar tape -------------------------------------------- */
CASE(tg_stape_free, st, , DOC, TG_OK, "NULL is ignored, like free(NULL)",
     (tg_stape_free(NULL), true))
CASE(tg_stape_reset, st, , LAST, TG_ERR_NULL, "tg_stape_reset: tape is NULL",
     (tg_stape_reset(NULL), true))
CASE(tg_stape_status, st, , DOC, TG_OK,
     "answers TG_ERR_NULL and leaves the last error (of the call that gave NULL) alone",
     d_keeps_last(tg_stape_status(NULL) == TG_ERR_NULL))
CASE(tg_stape_error, st, , DOC, TG_OK,
     "answers \"tape is NULL\" and leaves the last error (of the call that gave NULL) alone",
     d_keeps_last(strcmp(tg_stape_error(NULL), "tape is NULL") == 0))
CASE(tg_stape_size, st, , LAST, TG_ERR_NULL, "tg_stape_size: tape is NULL",
     tg_stape_size(NULL) == -1)
CASE(tg_stape_bytes, st, , LAST, TG_ERR_NULL, "tg_stape_bytes: tape is NULL",
     tg_stape_bytes(NULL) == -1)
CASE(tg_stape_var, st, , LAST, TG_ERR_NULL, "tg_stape_var: tape is NULL",
     tg_stape_var(NULL, 1.0).tag == 0)
CASE(tg_stape_const, st, , LAST, TG_ERR_NULL, "tg_stape_const: tape is NULL",
     tg_stape_const(NULL, 1.0).tag == 0)
CASE(tg_sv_value, st, , LAST, TG_ERR_NULL, "tg_sv_value: tape is NULL",
     isnan(tg_sv_value(NULL, TG_SV_NONE)))
CASE(tg_s_add, st, , LAST, TG_ERR_NULL, "tg_s_add: tape is NULL",
     tg_s_add(NULL, TG_SV_NONE, TG_SV_NONE).tag == 0)
CASE(tg_s_sub, st, , LAST, TG_ERR_NULL, "tg_s_sub: tape is NULL",
     tg_s_sub(NULL, TG_SV_NONE, TG_SV_NONE).tag == 0)
CASE(tg_s_mul, st, , LAST, TG_ERR_NULL, "tg_s_mul: tape is NULL",
     tg_s_mul(NULL, TG_SV_NONE, TG_SV_NONE).tag == 0)
CASE(tg_s_div, st, , LAST, TG_ERR_NULL, "tg_s_div: tape is NULL",
     tg_s_div(NULL, TG_SV_NONE, TG_SV_NONE).tag == 0)
CASE(tg_s_pow, st, , LAST, TG_ERR_NULL, "tg_s_pow: tape is NULL",
     tg_s_pow(NULL, TG_SV_NONE, TG_SV_NONE).tag == 0)
CASE(tg_s_max, st, , LAST, TG_ERR_NULL, "tg_s_max: tape is NULL",
     tg_s_max(NULL, TG_SV_NONE, TG_SV_NONE).tag == 0)
CASE(tg_s_min, st, , LAST, TG_ERR_NULL, "tg_s_min: tape is NULL",
     tg_s_min(NULL, TG_SV_NONE, TG_SV_NONE).tag == 0)
CASE(tg_s_add_c, st, , LAST, TG_ERR_NULL, "tg_s_add_c: tape is NULL",
     tg_s_add_c(NULL, TG_SV_NONE, 2.0).tag == 0)
CASE(tg_s_mul_c, st, , LAST, TG_ERR_NULL, "tg_s_mul_c: tape is NULL",
     tg_s_mul_c(NULL, TG_SV_NONE, 2.0).tag == 0)
CASE(tg_s_div_c, st, , LAST, TG_ERR_NULL, "tg_s_div_c: tape is NULL",
     tg_s_div_c(NULL, TG_SV_NONE, 2.0).tag == 0)
CASE(tg_s_pow_c, st, , LAST, TG_ERR_NULL, "tg_s_pow_c: tape is NULL",
     tg_s_pow_c(NULL, TG_SV_NONE, 2.0).tag == 0)
CASE(tg_s_rsub_c, st, , LAST, TG_ERR_NULL, "tg_s_rsub_c: tape is NULL",
     tg_s_rsub_c(NULL, 2.0, TG_SV_NONE).tag == 0)
CASE(tg_s_rdiv_c, st, , LAST, TG_ERR_NULL, "tg_s_rdiv_c: tape is NULL",
     tg_s_rdiv_c(NULL, 2.0, TG_SV_NONE).tag == 0)
CASE(tg_s_neg, st, , LAST, TG_ERR_NULL, "tg_s_neg: tape is NULL",
     tg_s_neg(NULL, TG_SV_NONE).tag == 0)
CASE(tg_s_square, st, , LAST, TG_ERR_NULL, "tg_s_square: tape is NULL",
     tg_s_square(NULL, TG_SV_NONE).tag == 0)
CASE(tg_s_exp, st, , LAST, TG_ERR_NULL, "tg_s_exp: tape is NULL",
     tg_s_exp(NULL, TG_SV_NONE).tag == 0)
CASE(tg_s_log, st, , LAST, TG_ERR_NULL, "tg_s_log: tape is NULL",
     tg_s_log(NULL, TG_SV_NONE).tag == 0)
CASE(tg_s_sqrt, st, , LAST, TG_ERR_NULL, "tg_s_sqrt: tape is NULL",
     tg_s_sqrt(NULL, TG_SV_NONE).tag == 0)
CASE(tg_s_abs, st, , LAST, TG_ERR_NULL, "tg_s_abs: tape is NULL",
     tg_s_abs(NULL, TG_SV_NONE).tag == 0)
CASE(tg_s_sin, st, , LAST, TG_ERR_NULL, "tg_s_sin: tape is NULL",
     tg_s_sin(NULL, TG_SV_NONE).tag == 0)
CASE(tg_s_cos, st, , LAST, TG_ERR_NULL, "tg_s_cos: tape is NULL",
     tg_s_cos(NULL, TG_SV_NONE).tag == 0)
CASE(tg_s_tanh, st, , LAST, TG_ERR_NULL, "tg_s_tanh: tape is NULL",
     tg_s_tanh(NULL, TG_SV_NONE).tag == 0)
CASE(tg_s_sigmoid, st, , LAST, TG_ERR_NULL, "tg_s_sigmoid: tape is NULL",
     tg_s_sigmoid(NULL, TG_SV_NONE).tag == 0)
CASE(tg_s_softplus, st, , LAST, TG_ERR_NULL, "tg_s_softplus: tape is NULL",
     tg_s_softplus(NULL, TG_SV_NONE).tag == 0)
CASE(tg_s_relu, st, , LAST, TG_ERR_NULL, "tg_s_relu: tape is NULL",
     tg_s_relu(NULL, TG_SV_NONE).tag == 0)
CASE(tg_stape_gradient, st, , LAST, TG_ERR_NULL, "tg_stape_gradient: tape is NULL",
     tg_stape_gradient(NULL, TG_SV_NONE, 0, NULL, NULL) == TG_ERR_NULL)
CASE(tg_stape_gradient, x, , LAST, TG_ERR_NULL, "tg_stape_gradient: x is NULL", s_sweep_null(4))
CASE(tg_stape_gradient, out, , LAST, TG_ERR_NULL, "tg_stape_gradient: out is NULL", s_sweep_null(5))
CASE(tg_stape_vjp, st, , LAST, TG_ERR_NULL, "tg_stape_vjp: tape is NULL",
     tg_stape_vjp(NULL, 1, NULL, NULL, 0, NULL, NULL) == TG_ERR_NULL)
CASE(tg_stape_vjp, y, , LAST, TG_ERR_NULL, "tg_stape_vjp: y is NULL", s_sweep_null(0))
CASE(tg_stape_vjp, w, , LAST, TG_ERR_NULL, "tg_stape_vjp: w is NULL", s_sweep_null(1))
CASE(tg_stape_vjp, x, , LAST, TG_ERR_NULL, "tg_stape_vjp: x is NULL", s_sweep_null(2))
CASE(tg_stape_vjp, out, , LAST, TG_ERR_NULL, "tg_stape_vjp: out is NULL", s_sweep_null(3))
CASE(tg_stape_gradcheck, f, , LAST, TG_ERR_NULL, "tg_stape_gradcheck: f is NULL",
     tg_stape_gradcheck(NULL, NULL, 1, F.buf, 1e-6, 1e-8, NULL) == TG_ERR_NULL)
CASE(tg_stape_gradcheck, ctx, , DOC, TG_OK, "passed to f as it is", d_stape_gradcheck(false))
CASE(tg_stape_gradcheck, x0, , LAST, TG_ERR_NULL, "tg_stape_gradcheck: x0 is NULL",
     tg_stape_gradcheck(s_square_fn, NULL, 1, NULL, 1e-6, 1e-8, NULL) == TG_ERR_NULL)
CASE(tg_stape_gradcheck, max_err, , DOC, TG_OK, "not written", d_stape_gradcheck(true))

/* ---- function.h ----------------------------------------------------------------- */
#ifndef TT_NULL_API_FUNCTION
#define TT_NULL_API_FUNCTION
/* A function y = x with the straight-through rule, for the calls below. */
static tg_status nf_forward(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                            tg_tensor **saved)
{
    (void)saved;
    out[0] = tg_tape_alloc(tp, TG_F64, 0, NULL);
    if (out[0]) tg_tensor_set_flat(out[0], 0, a->n_in ? tg_tensor_get_flat(a->in[0], 0) : 1.0);
    return tg_tape_status(tp);
}
static tg_status nf_vjp(tg_tape *tp, const tg_function_args *a, tg_tensor *const *gout,
                        tg_tensor **gin)
{
    (void)tp;
    (void)a;
    (void)gout;
    (void)gin;
    return TG_OK;
}
static const tg_function k_nf = {.name = "nullprobe", .forward = nf_forward, .vjp = nf_vjp};
#endif
CASE(tg_function_call, tp, , LAST, TG_ERR_NULL, "function_call: tape is NULL",
     tg_function_call(NULL, &k_nf, NULL, 1, &A, 1, F.outs) == TG_ERR_NULL)
CASE(tg_function_call, f, , TAPE, TG_ERR_NULL, "function_call: f is NULL [node 0]",
     tg_function_call(TP, NULL, NULL, 1, &A, 1, F.outs) == TG_ERR_NULL)
CASE(tg_function_call, ctx, , DOC, TG_OK, "passed to the callbacks as it is",
     tg_function_call(TP, &k_nf, NULL, 1, &A, 1, F.outs) == TG_OK && F.outs[0] != NULL)
CASE(tg_function_call, in, , TAPE, TG_ERR_NULL, "function_call nullprobe: in is NULL [node 0]",
     tg_function_call(TP, &k_nf, NULL, 1, NULL, 1, F.outs) == TG_ERR_NULL)
CASE(tg_function_call, in, none, DOC, TG_OK, "n_in 0: no inputs",
     tg_function_call(TP, &k_nf, NULL, 0, NULL, 1, F.outs) == TG_OK && F.outs[0] != NULL)
ECASE(tg_function_call, in, 0, TAPE, TG_ERR_NULL, "nullprobe: input 0 is NULL [node 0]",
      tg_function_call(TP, &k_nf, NULL, 1, k_null1, 1, F.outs) == TG_ERR_NULL)
CASE(tg_function_call, out, , TAPE, TG_ERR_NULL, "function_call nullprobe: out is NULL [node 0]",
     tg_function_call(TP, &k_nf, NULL, 1, &A, 1, NULL) == TG_ERR_NULL)
