/* Dense factorizations and solves for the linear algebra ops (internal, not
 * installed): LAPACK's Fortran routines when the BLAS library exports them
 * (TG_HAVE_LAPACK, meson.build), a built-in fallback otherwise.
 *
 * Every matrix here is row-major and square n x n; right-hand sides are
 * row-major n x k.  LAPACK is column-major: a row-major buffer is the
 * transpose of the matrix it holds, so the LAPACK path factors A^T and
 * solves the transposed system where needed (lapack.c).  Both paths pair
 * their factorization with their own solve, so a caller never looks inside
 * the factors beyond what is stated below.  n and k are Fortran integers
 * (32-bit on Debian's OpenBLAS): the ops refuse larger sizes first. */
#ifndef TG_KERNELS_LAPACK_H
#define TG_KERNELS_LAPACK_H

#include "tapegrad/tensor.h"

#include <stdbool.h>

/* LU with partial pivoting of a in place, pivots in ipiv (n entries, 1-based
 * row interchanges in LAPACK's convention).  The diagonal of a is then U's,
 * and det a = prod a[i,i] * (-1)^(number of i with ipiv[i] != i + 1).
 * Returns 0, or the 1-based index of the first exactly zero pivot (the
 * factors are still complete and the determinant is 0). */
int tg__lu(tg_dtype dt, int n, void *a, int *ipiv);
/* Solves A X = B (A^T X = B when trans) from tg__lu's a and ipiv; b is
 * overwritten by X; work holds n * k elements.  A must be non-singular. */
void tg__lu_solve(tg_dtype dt, int n, int k, const void *lu, const int *ipiv, bool trans, void *b,
                  void *work);
/* Cholesky factor of the symmetric positive definite matrix whose lower
 * triangle a holds: a becomes L (lower, a = L L^T, the upper triangle
 * zeroed).  Only the lower triangle is read.  Returns 0, or the 1-based
 * order of the first leading minor that is not positive definite. */
int tg__cholesky(tg_dtype dt, int n, void *a);
/* Solves T X = B (T^T X = B when trans) for the triangle of t (upper or
 * lower; the other triangle is not read), a diagonal without zeros; b is
 * overwritten by X; work holds n * k elements. */
void tg__tri_solve(tg_dtype dt, int n, int k, const void *t, bool upper, bool trans, void *b,
                   void *work);

/* The built-in versions, always compiled (tests compare them with LAPACK's);
 * same contracts (work unused). */
int tg__lu_fallback(tg_dtype dt, int n, void *a, int *ipiv);
void tg__lu_solve_fallback(tg_dtype dt, int n, int k, const void *lu, const int *ipiv, bool trans,
                           void *b);
int tg__cholesky_fallback(tg_dtype dt, int n, void *a);
void tg__tri_solve_fallback(tg_dtype dt, int n, int k, const void *t, bool upper, bool trans,
                            void *b);

/* Which path the above take: "lapack" or "builtin". */
const char *tg__lapack_backend(void);

#endif
