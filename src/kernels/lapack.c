/* LU, Cholesky and triangular solves: LAPACK or the built-in fallback
 * (lapack.h states the contracts). */
#include "lapack.h"

#include "../core/internal.h"
#include "gemm.h"

/* ---- the built-in fallback ---------------------------------------------------
 * Textbook algorithms on row-major data: Doolittle LU with partial
 * pivoting (the largest magnitude in the column), the Cholesky-Banachiewicz
 * recurrence, forward and back substitution.  Sums run in the element type,
 * as LAPACK's do. */

int tg__lu_fallback(tg_dtype dt, int n, void *a, int *ipiv)
{
    int info = 0;
    TG_DISPATCH(dt, T, {
        T *m = a;
        for (int j = 0; j < n; j++) {
            int p = j;
            for (int i = j + 1; i < n; i++)
                if (TG_FABS(m[(size_t)i * n + j]) > TG_FABS(m[(size_t)p * n + j])) p = i;
            ipiv[j] = p + 1;
            if (p != j)
                for (int c = 0; c < n; c++) {
                    const T t = m[(size_t)j * n + c];
                    m[(size_t)j * n + c] = m[(size_t)p * n + c];
                    m[(size_t)p * n + c] = t;
                }
            const T piv = m[(size_t)j * n + j];
            if (piv == 0) { /* singular: U[j,j] = 0, the rest still eliminated */
                if (!info) info = j + 1;
                continue;
            }
            for (int i = j + 1; i < n; i++) {
                T *ri = m + (size_t)i * n;
                const T l = ri[j] / piv;
                ri[j] = l;
                for (int c = j + 1; c < n; c++) ri[c] -= l * m[(size_t)j * n + c];
            }
        }
    });
    return info;
}

/* Swaps rows i and j of the row-major b with k columns of es-byte elements. */
static void swap_rows(void *b, size_t es, int k, int i, int j)
{
    unsigned char *ri = (unsigned char *)b + (size_t)i * k * es;
    unsigned char *rj = (unsigned char *)b + (size_t)j * k * es;
    for (size_t e = 0; e < (size_t)k * es; e++) {
        const unsigned char t = ri[e];
        ri[e] = rj[e];
        rj[e] = t;
    }
}

void tg__lu_solve_fallback(tg_dtype dt, int n, int k, const void *lu, const int *ipiv, bool trans,
                           void *b)
{
    const size_t es = tg_dtype_size(dt);
    if (!trans) /* P A = L U: X = U^-1 L^-1 P B */
        for (int j = 0; j < n; j++)
            if (ipiv[j] - 1 != j) swap_rows(b, es, k, j, ipiv[j] - 1);
    TG_DISPATCH(dt, T, {
        const T *m = lu;
        T *x = b;
        if (!trans) {
            for (int i = 0; i < n; i++) /* L: unit lower */
                for (int j = 0; j < i; j++)
                    for (int c = 0; c < k; c++)
                        x[(size_t)i * k + c] -= m[(size_t)i * n + j] * x[(size_t)j * k + c];
            for (int i = n - 1; i >= 0; i--) { /* U */
                for (int j = i + 1; j < n; j++)
                    for (int c = 0; c < k; c++)
                        x[(size_t)i * k + c] -= m[(size_t)i * n + j] * x[(size_t)j * k + c];
                for (int c = 0; c < k; c++) x[(size_t)i * k + c] /= m[(size_t)i * n + i];
            }
        } else {                          /* A^T = U^T L^T P: X = P^T L^-T U^-T B */
            for (int i = 0; i < n; i++) { /* U^T: lower */
                for (int j = 0; j < i; j++)
                    for (int c = 0; c < k; c++)
                        x[(size_t)i * k + c] -= m[(size_t)j * n + i] * x[(size_t)j * k + c];
                for (int c = 0; c < k; c++) x[(size_t)i * k + c] /= m[(size_t)i * n + i];
            }
            for (int i = n - 1; i >= 0; i--) /* L^T: unit upper */
                for (int j = i + 1; j < n; j++)
                    for (int c = 0; c < k; c++)
                        x[(size_t)i * k + c] -= m[(size_t)j * n + i] * x[(size_t)j * k + c];
        }
    });
    if (trans)
        for (int j = n - 1; j >= 0; j--)
            if (ipiv[j] - 1 != j) swap_rows(b, es, k, j, ipiv[j] - 1);
}

int tg__cholesky_fallback(tg_dtype dt, int n, void *a)
{
    int info = 0;
    TG_DISPATCH(dt, T, {
        T *m = a;
        for (int j = 0; j < n && !info; j++) {
            T *rj = m + (size_t)j * n;
            T s = rj[j];
            for (int c = 0; c < j; c++) s -= rj[c] * rj[c];
            if (!(s > 0)) { /* also NaN */
                info = j + 1;
                break;
            }
            const T d = TG_SQRT(s);
            rj[j] = d;
            for (int i = j + 1; i < n; i++) {
                T *ri = m + (size_t)i * n;
                T t = ri[j];
                for (int c = 0; c < j; c++) t -= ri[c] * rj[c];
                ri[j] = t / d;
            }
        }
        for (int i = 0; i < n; i++)
            for (int c = i + 1; c < n; c++) m[(size_t)i * n + c] = 0;
    });
    return info;
}

void tg__tri_solve_fallback(tg_dtype dt, int n, int k, const void *t, bool upper, bool trans,
                            void *b)
{
    TG_DISPATCH(dt, T, {
        const T *m = t;
        T *x = b;
        /* op(T)[i,j] is m[i * si + j * sj], op = transpose when trans: a
         * lower triangle when upper == trans */
        const size_t si = trans ? 1 : (size_t)n, sj = trans ? (size_t)n : 1;
        const bool lower = upper == trans;
        for (int s = 0; s < n; s++) {
            const int i = lower ? s : n - 1 - s;
            T *ri = x + (size_t)i * k;
            const int j0 = lower ? 0 : i + 1, j1 = lower ? i : n;
            for (int j = j0; j < j1; j++) {
                const T l = m[(size_t)i * si + (size_t)j * sj];
                const T *rj = x + (size_t)j * k;
                for (int c = 0; c < k; c++) ri[c] -= l * rj[c];
            }
            const T d = m[(size_t)i * si + (size_t)i * sj];
            for (int c = 0; c < k; c++) ri[c] /= d;
        }
    });
}

/* ---- LAPACK ---------------------------------------------------------------------
 * Declared by hand: Debian's OpenBLAS exports the routines but ships no
 * LAPACKE header.  The Fortran integer is int (OpenBLAS's default LP64
 * build; the ILP64 one is a separate library, libopenblas64), and each
 * character argument has a hidden length after the others (gfortran's
 * convention, size_t), which the routines compiled from Fortran expect.
 *
 * Each call first keeps OpenBLAS on one thread (tg__blas_serial): its
 * threaded getrf and getrs cut the work otherwise than the one-thread
 * routines and round differently, and results must not depend on the
 * thread count. */
#if TG_HAVE_LAPACK
#include <stddef.h>

void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv, int *info);
void sgetrf_(const int *m, const int *n, float *a, const int *lda, int *ipiv, int *info);
void dgetrs_(const char *trans, const int *n, const int *nrhs, const double *a, const int *lda,
             const int *ipiv, double *b, const int *ldb, int *info, size_t trans_len);
void sgetrs_(const char *trans, const int *n, const int *nrhs, const float *a, const int *lda,
             const int *ipiv, float *b, const int *ldb, int *info, size_t trans_len);
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t uplo_len);
void dtrtrs_(const char *uplo, const char *trans, const char *diag, const int *n, const int *nrhs,
             const double *a, const int *lda, double *b, const int *ldb, int *info, size_t uplo_len,
             size_t trans_len, size_t diag_len);
void strtrs_(const char *uplo, const char *trans, const char *diag, const int *n, const int *nrhs,
             const float *a, const int *lda, float *b, const int *ldb, int *info, size_t uplo_len,
             size_t trans_len, size_t diag_len);

/* dst (k x n, row-major) = src^T for src n x k row-major: a row-major
 * right-hand side as the column-major matrix LAPACK reads, and back. */
static void transpose(tg_dtype dt, int n, int k, const void *src, void *dst)
{
    TG_DISPATCH(dt, T, {
        const T *s = src;
        T *d = dst;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < k; c++) d[(size_t)c * n + i] = s[(size_t)i * k + c];
    });
}

/* LAPACK sees the row-major a as A^T and factors that: A^T = P L U.  The
 * determinant and the zero pivot are the same for A and A^T. */
int tg__lu(tg_dtype dt, int n, void *a, int *ipiv)
{
    if (n == 0) return 0;
    tg__blas_serial();
    int info = 0;
    if (dt == TG_F64)
        dgetrf_(&n, &n, a, &n, ipiv, &info);
    else
        sgetrf_(&n, &n, a, &n, ipiv, &info);
    return info > 0 ? info : 0;
}

/* The factors are A^T's, so A X = B is the transposed solve and A^T X = B
 * the plain one; B goes over in column-major order and comes back. */
void tg__lu_solve(tg_dtype dt, int n, int k, const void *lu, const int *ipiv, bool trans, void *b,
                  void *work)
{
    if (n == 0 || k == 0) return;
    tg__blas_serial();
    int info = 0;
    const char t = trans ? 'N' : 'T';
    transpose(dt, n, k, b, work);
    if (dt == TG_F64)
        dgetrs_(&t, &n, &k, lu, &n, ipiv, work, &n, &info, 1);
    else
        sgetrs_(&t, &n, &k, lu, &n, ipiv, work, &n, &info, 1);
    transpose(dt, k, n, work, b);
}

/* The row-major lower triangle is the column-major upper one of the same
 * (symmetric) matrix: LAPACK's U with A = U^T U is then our L^T, stored
 * where our L is. */
int tg__cholesky(tg_dtype dt, int n, void *a)
{
    if (n == 0) return 0;
    tg__blas_serial();
    int info = 0;
    const char u = 'U';
    if (dt == TG_F64)
        dpotrf_(&u, &n, a, &n, &info, 1);
    else
        spotrf_(&u, &n, a, &n, &info, 1);
    if (info) return info > 0 ? info : 0;
    TG_DISPATCH(dt, T, {
        T *m = a;
        for (int i = 0; i < n; i++) {
            /* OpenBLAS's own potrf tests a pivot with <= 0 only, so a NaN
             * gets through as a NaN factor; refuse it as the fallback does */
            if (!(m[(size_t)i * n + i] > 0)) {
                info = i + 1;
                break;
            }
            for (int c = i + 1; c < n; c++) m[(size_t)i * n + c] = 0;
        }
    });
    return info;
}

/* LAPACK sees T^T: its triangle is the other one, and the transposition
 * flag flips. */
void tg__tri_solve(tg_dtype dt, int n, int k, const void *t, bool upper, bool trans, void *b,
                   void *work)
{
    if (n == 0 || k == 0) return;
    tg__blas_serial();
    int info = 0;
    const char ul = upper ? 'L' : 'U', tr = trans ? 'N' : 'T', dg = 'N';
    transpose(dt, n, k, b, work);
    if (dt == TG_F64)
        dtrtrs_(&ul, &tr, &dg, &n, &k, t, &n, work, &n, &info, 1, 1, 1);
    else
        strtrs_(&ul, &tr, &dg, &n, &k, t, &n, work, &n, &info, 1, 1, 1);
    transpose(dt, k, n, work, b);
}

const char *tg__lapack_backend(void)
{
    return "lapack";
}
#else
int tg__lu(tg_dtype dt, int n, void *a, int *ipiv)
{
    return tg__lu_fallback(dt, n, a, ipiv);
}

void tg__lu_solve(tg_dtype dt, int n, int k, const void *lu, const int *ipiv, bool trans, void *b,
                  void *work)
{
    (void)work;
    tg__lu_solve_fallback(dt, n, k, lu, ipiv, trans, b);
}

int tg__cholesky(tg_dtype dt, int n, void *a)
{
    return tg__cholesky_fallback(dt, n, a);
}

void tg__tri_solve(tg_dtype dt, int n, int k, const void *t, bool upper, bool trans, void *b,
                   void *work)
{
    (void)work;
    tg__tri_solve_fallback(dt, n, k, t, upper, trans, b);
}

const char *tg__lapack_backend(void)
{
    return "builtin";
}
#endif
