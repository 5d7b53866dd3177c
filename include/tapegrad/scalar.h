/* tapegrad: the scalar tape, for code written element by element.
 *
 * A simulation, a likelihood or a physics formula written with C doubles,
 * one operation at a time (the code ADOL-C and CoDiPack are used for), needs
 * no tensors: recording each operation as a one-element tensor costs a tensor
 * header per value. The scalar tape records instead, for each operation, the
 * indices of its inputs and the partial derivatives of its output with
 * respect to them, computed when the operation runs ("Jacobian taping"). The
 * reverse sweep is then only adj[in] += partial * adj[out], reading the
 * record backwards: 8 bytes of value and 1 of kind per operation, 4 per
 * input, 8 per partial other than +1 and -1 (docs/api.md, "Memory").
 *
 * Values are small handles (tg_sv: an index and a tag), passed by value.
 * Every value can be differentiated with respect to, variables and
 * intermediates alike. Errors follow the library's model: the first error is
 * sticky on the tape (tg_stape_status, tg_stape_error), later operations
 * return TG_SV_NONE, nothing aborts; a handle from another tape or from
 * before tg_stape_reset is an error naming the operation. Everything is f64.
 *
 * Use it instead of one-element tensors when the computation is scalar code;
 * use tensors when it has vectors and matrices (a matmul is one tensor op but
 * n^3 scalar ones), when you need second derivatives (create_graph), or ops
 * the scalar tape does not have (docs/api.md, "The scalar tape"). */
#ifndef TAPEGRAD_SCALAR_H
#define TAPEGRAD_SCALAR_H

#include "tensor.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_stape tg_stape;

/* A value on a scalar tape: the index of the operation that made it and the
 * tape's tag (which changes at every reset). */
typedef struct tg_sv {
    uint32_t i;
    uint32_t tag;
} tg_sv;

/* The handle of no value: what an operation returns once the tape is in
 * error. No tape ever issues tag 0. */
#define TG_SV_NONE ((tg_sv){0, 0})

/* A new, empty tape (NULL and the thread's last error when out of memory). */
TG_API tg_stape *tg_stape_new(void);
TG_API void tg_stape_free(tg_stape *st);
/* Forgets every value and the error; keeps the memory. Handles from before
 * the reset become invalid (an error if used). */
TG_API void tg_stape_reset(tg_stape *st);
/* TG_OK, or the first error since the last reset, and its message ("" when OK). */
TG_API tg_status tg_stape_status(const tg_stape *st);
TG_API const char *tg_stape_error(const tg_stape *st);
/* The number of values recorded since the last reset. */
TG_API int64_t tg_stape_size(const tg_stape *st);
/* Bytes the tape holds (its record's blocks, adjoint blocks kept for sweeps, tables). */
TG_API int64_t tg_stape_bytes(const tg_stape *st);

/* An independent variable with value v (it has no inputs). */
TG_API tg_sv tg_stape_var(tg_stape *st, double v);
/* A constant: a value with no inputs (its adjoint is computed, and ignored). */
TG_API tg_sv tg_stape_const(tg_stape *st, double v);
/* The value of a (NaN and the tape's error for an invalid handle). */
TG_API double tg_sv_value(tg_stape *st, tg_sv a);

/* ---- operations: y = f(a, b) with the partials recorded at y's creation ---- */
TG_API tg_sv tg_s_add(tg_stape *st, tg_sv a, tg_sv b); /* a + b:  dy/da = 1, dy/db = 1 */
TG_API tg_sv tg_s_sub(tg_stape *st, tg_sv a, tg_sv b); /* a - b:  1, -1 */
TG_API tg_sv tg_s_mul(tg_stape *st, tg_sv a, tg_sv b); /* a * b:  b, a */
TG_API tg_sv tg_s_div(tg_stape *st, tg_sv a, tg_sv b); /* a / b:  1/b, -y/b */
/* a^b: b a^(b-1) (0 where b = 0), y log a (0 where a = 0 and b >= 0), as tg_pow */
TG_API tg_sv tg_s_pow(tg_stape *st, tg_sv a, tg_sv b);
/* max(a, b): 1 to the larger, 1/2 to each on a tie (as tg_maximum); min likewise */
TG_API tg_sv tg_s_max(tg_stape *st, tg_sv a, tg_sv b);
TG_API tg_sv tg_s_min(tg_stape *st, tg_sv a, tg_sv b);

/* With a constant c (the constant gets no adjoint). */
TG_API tg_sv tg_s_add_c(tg_stape *st, tg_sv a, double c);  /* a + c:  1 */
TG_API tg_sv tg_s_mul_c(tg_stape *st, tg_sv a, double c);  /* c a:    c */
TG_API tg_sv tg_s_rsub_c(tg_stape *st, double c, tg_sv a); /* c - a:  -1 */
TG_API tg_sv tg_s_div_c(tg_stape *st, tg_sv a, double c);  /* a / c:  1/c */
TG_API tg_sv tg_s_rdiv_c(tg_stape *st, double c, tg_sv a); /* c / a:  -y/a */
TG_API tg_sv tg_s_pow_c(tg_stape *st, tg_sv a, double c);  /* a^c:    c a^(c-1) (0 where c = 0) */

/* Elementary functions. */
TG_API tg_sv tg_s_neg(tg_stape *st, tg_sv a);      /* -a:          -1 */
TG_API tg_sv tg_s_square(tg_stape *st, tg_sv a);   /* a^2:         2a */
TG_API tg_sv tg_s_exp(tg_stape *st, tg_sv a);      /* e^a:         y */
TG_API tg_sv tg_s_log(tg_stape *st, tg_sv a);      /* ln a:        1/a */
TG_API tg_sv tg_s_sqrt(tg_stape *st, tg_sv a);     /* sqrt a:      1/(2y) */
TG_API tg_sv tg_s_abs(tg_stape *st, tg_sv a);      /* |a|:         sign a (0 at 0) */
TG_API tg_sv tg_s_sin(tg_stape *st, tg_sv a);      /* sin a:       cos a */
TG_API tg_sv tg_s_cos(tg_stape *st, tg_sv a);      /* cos a:       -sin a */
TG_API tg_sv tg_s_tanh(tg_stape *st, tg_sv a);     /* tanh a:      1 - y^2 */
TG_API tg_sv tg_s_sigmoid(tg_stape *st, tg_sv a);  /* 1/(1+e^-a):  y (1 - y) */
TG_API tg_sv tg_s_softplus(tg_stape *st, tg_sv a); /* ln(1+e^a):   sigmoid a */
TG_API tg_sv tg_s_relu(tg_stape *st, tg_sv a);     /* max(a, 0):   1 where a > 0, else 0 */

/* ---- derivatives: reverse sweeps over the record; the tape stays usable --- */
/* out[k] = dy/dx[k] for k < n. Any recorded values may be y and x (a value
 * recorded after y gets 0). */
TG_API tg_status tg_stape_gradient(tg_stape *st, tg_sv y, int n, const tg_sv *x, double *out);
/* The vector-Jacobian product: out[k] = sum_j w[j] dy[j]/dx[k]. */
TG_API tg_status tg_stape_vjp(tg_stape *st, int m, const tg_sv *y, const double *w, int n,
                              const tg_sv *x, double *out);

/* A function recorded on a scalar tape: returns its output from inputs x. */
typedef tg_sv (*tg_stape_fn)(tg_stape *st, const tg_sv *x, void *ctx);
/* Checks f's reverse-mode gradient at x0 (n inputs) against central
 * differences with step eps (each input's step scaled by max(1, |x0[k]|)):
 * TG_OK when every component agrees within tol (|a - b| <= tol max(1, |b|)),
 * else TG_ERR_NUMERIC with the worst component named in tg_last_error().
 * *max_err (may be NULL) receives the largest such error. */
TG_API tg_status tg_stape_gradcheck(tg_stape_fn f, void *ctx, int n, const double *x0, double eps,
                                    double tol, double *max_err);

#ifdef __cplusplus
}
#endif

#endif
