/* The one general matrix product of the library (internal, not installed).
 * Every matrix product (matmul, conv through im2col, ...) goes through
 * tg__gemm, so there is a single place that chooses BLAS or the built-in
 * kernel, cuts a large product into pieces for the threads (gemm.c) and a
 * single place to test. */
#ifndef TG_KERNELS_GEMM_H
#define TG_KERNELS_GEMM_H

#include "tapegrad/tensor.h"

/* C = alpha * op(A) @ op(B) + beta * C, row-major; op = transpose when the flag is set.
 * A is M x K after op, B is K x N after op; lda/ldb/ldc are row strides. dt selects float or
 * double pointers.  beta == 0 overwrites C without reading it (C may hold NaN garbage); with
 * K == 0 or alpha == 0 the result is beta * C and A, B are not read.  M or N == 0 does
 * nothing.  The result is the same bits with any thread count (tapegrad/threads.h). */
void tg__gemm(tg_dtype dt, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
              double alpha, const void *A, int64_t lda, const void *B, int64_t ldb, double beta,
              void *C, int64_t ldc);
/* The built-in blocked fallback, always compiled (tests compare it with BLAS).  Same contract
 * as tg__gemm; C must not overlap A or B. */
void tg__gemm_fallback(tg_dtype dt, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                       double alpha, const void *A, int64_t lda, const void *B, int64_t ldb,
                       double beta, void *C, int64_t ldc);
/* Keeps OpenBLAS on one thread (its threads change the rounding of its
 * products and factorizations); tg__gemm and the LAPACK calls call it first. */
void tg__blas_serial(void);
/* Which backend tg__gemm uses: "openblas" or "builtin". */
const char *tg__gemm_backend(void);

#endif
