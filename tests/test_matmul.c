/* Matrix products: the gemm kernels (built-in fallback and BLAS) against a
 * naive triple loop, tg_matmul / tg_matmul_t forward against hand values
 * and the naive loop for every form and transpose combination, f32 against
 * f64, gradients by finite differences (first and second order), and the
 * error contract. */
#include "common.h"

#include "src/kernels/gemm.h"
#include "tg_config.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- references ------------------------------------------------------------ */

/* Element (r, c) of a row-major matrix with row stride ld, read transposed
 * when trans: op(X)(r, c). */
static double mat_at(const double *x, int64_t ld, bool trans, int64_t r, int64_t c)
{
    return trans ? x[c * ld + r] : x[r * ld + c];
}

/* The naive triple loop for op(a) @ op(b) on tensors of any supported form,
 * into out (f64 values, shape of the product), summed in long double. */
static void naive_matmul(const tg_tensor *a, const tg_tensor *b, bool ta, bool tb, double *out)
{
    const int na = tg_tensor_ndim(a), nb = tg_tensor_ndim(b);
    const int64_t *sa = tg_tensor_shape(a), *sb = tg_tensor_shape(b);
    const int64_t ar = sa[na - 2], ac = sa[na - 1], br = sb[nb - 2], bc = sb[nb - 1];
    const int64_t M = ta ? ac : ar, K = ta ? ar : ac, N = tb ? br : bc;
    const int64_t batch = na == 3 ? sa[0] : nb == 3 ? sb[0] : 1;
    double *av = malloc(sizeof(double) * (size_t)(tg_tensor_numel(a) + 1));
    double *bv = malloc(sizeof(double) * (size_t)(tg_tensor_numel(b) + 1));
    ck_assert(av && bv);
    tg_tensor_to_f64(a, av);
    tg_tensor_to_f64(b, bv);
    for (int64_t p = 0; p < batch; p++) {
        const double *ap = av + (na == 3 ? p * ar * ac : 0);
        const double *bp = bv + (nb == 3 ? p * br * bc : 0);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                long double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (long double)mat_at(ap, ac, ta, i, k) * mat_at(bp, bc, tb, k, j);
                out[(p * M + i) * N + j] = (double)s;
            }
    }
    free(av);
    free(bv);
}

/* The forms of a product, as stored shapes of a and b for sizes (P, M, K, N)
 * and flags: P batch items, op(a) M x K, op(b) K x N. */
typedef enum form { F_2D, F_BATCHED, F_BCAST_B, F_BCAST_A } form;
static const char *const form_name[] = {"(M,K)@(K,N)", "(P,M,K)@(P,K,N)", "(P,M,K)@(K,N)",
                                        "(M,K)@(P,K,N)"};

static int stored_shape(bool batched, int64_t P, int64_t r, int64_t c, bool trans, int64_t *s)
{
    int n = 0;
    if (batched) s[n++] = P;
    s[n++] = trans ? c : r;
    s[n++] = trans ? r : c;
    return n;
}

typedef struct mm_case {
    form f;
    int64_t P, M, K, N;
    bool ta, tb;
} mm_case;

/* Random inputs of the case (user-owned, dtype dt, uniform in [-1, 1)). */
static void case_inputs(const mm_case *c, tg_dtype dt, uint64_t seed, tg_tensor **a, tg_tensor **b)
{
    int64_t s[3];
    const bool ba = c->f == F_BATCHED || c->f == F_BCAST_B;
    const bool bb = c->f == F_BATCHED || c->f == F_BCAST_A;
    int n = stored_shape(ba, c->P, c->M, c->K, c->ta, s);
    *a = tt_rand(dt, n, s, seed, -1, 1);
    n = stored_shape(bb, c->P, c->K, c->N, c->tb, s);
    *b = tt_rand(dt, n, s, seed + 1000, -1, 1);
}

static void case_label(const mm_case *c, char *buf, size_t n)
{
    snprintf(buf, n, "%s P=%lld M=%lld K=%lld N=%lld ta=%d tb=%d", form_name[c->f], (long long)c->P,
             (long long)c->M, (long long)c->K, (long long)c->N, c->ta, c->tb);
}

/* Size lists used by several tests: 1x1, Mx1, 1xN, odd, and sizes that
 * cross the fallback's blocks (K block 64, panel 64/128 wide, 4-row tiles). */
static const int64_t k_sizes[][3] = {
    {1, 1, 1}, {5, 1, 1}, {1, 1, 6}, {1, 7, 1}, {4, 3, 2}, {17, 33, 9}, {3, 70, 5}, {9, 4, 131},
};
static const int64_t k_batches[] = {1, 3};

/* ---- forward against hand values -------------------------------------------- */

START_TEST(test_hand_2x3_3x2)
{
    /* [1 2 3; 4 5 6] [7 8; 9 10; 11 12]
     *   = [1*7+2*9+3*11  1*8+2*10+3*12; 4*7+5*9+6*11  4*8+5*10+6*12]
     *   = [58 64; 139 154] */
    for (int d = 0; d < 2; d++) {
        tg_dtype dt = d ? TG_F64 : TG_F32;
        tg_tensor *a = tt_from(dt, 2, TT_SHAPE(2, 3), TT_VALUES(1, 2, 3, 4, 5, 6));
        tg_tensor *b = tt_from(dt, 2, TT_SHAPE(3, 2), TT_VALUES(7, 8, 9, 10, 11, 12));
        /* the same matrices stored transposed */
        tg_tensor *at = tt_from(dt, 2, TT_SHAPE(3, 2), TT_VALUES(1, 4, 2, 5, 3, 6));
        tg_tensor *bt = tt_from(dt, 2, TT_SHAPE(2, 3), TT_VALUES(7, 9, 11, 8, 10, 12));
        tg_tape *tp = tg_tape_new(NULL);
        const double expect[] = {58, 64, 139, 154};
        tg_tensor *c = tg_matmul(tp, a, b);
        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(tg_tensor_ndim(c), 2);
        ck_assert_int_eq(tg_tensor_dim(c, 0), 2);
        ck_assert_int_eq(tg_tensor_dim(c, 1), 2);
        ck_assert_int_eq(tg_tensor_dtype(c), dt);
        tt_assert_values("A@B", c, expect, 4, 0, 0);
        tt_assert_values("A^T^T@B", tg_matmul_t(tp, at, b, true, false), expect, 4, 0, 0);
        tt_assert_values("A@B^T^T", tg_matmul_t(tp, a, bt, false, true), expect, 4, 0, 0);
        tt_assert_values("both", tg_matmul_t(tp, at, bt, true, true), expect, 4, 0, 0);
        /* B A = [7 8; 9 10; 11 12][1 2 3; 4 5 6] (3x3) */
        const double ba[] = {39, 54, 69, 49, 68, 87, 59, 82, 105};
        tt_assert_values("B@A", tg_matmul(tp, b, a), ba, 9, 0, 0);
        ck_assert_int_eq(tg_tape_status(tp), TG_OK);
        tg_tape_free(tp);
        tg_tensor_free(a);
        tg_tensor_free(b);
        tg_tensor_free(at);
        tg_tensor_free(bt);
    }
}
END_TEST

/* Gradients of L = sum(A@B) by hand: dA[i][k] = sum_j B[k][j] (row sums of
 * B), dB[k][j] = sum_i A[i][k] (column sums of A). */
START_TEST(test_hand_gradient)
{
    tg_tensor *a = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 2, 3, 4, 5, 6));
    tg_tensor *b = tt_from(TG_F64, 2, TT_SHAPE(3, 2), TT_VALUES(7, 8, 9, 10, 11, 12));
    tg_tensor_set_requires_grad(a, true);
    tg_tensor_set_requires_grad(b, true);
    tg_tape *tp = tg_tape_new(NULL);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_matmul(tp, a, b))), TG_OK);
    tt_assert_values("dA", tg_tensor_grad(a), TT_VALUES(15, 19, 23, 15, 19, 23), 6, 1e-10, 0);
    tt_assert_values("dB", tg_tensor_grad(b), TT_VALUES(5, 5, 7, 7, 9, 9), 6, 1e-10, 0);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* A batched product by hand: item 0 is the 2x3 @ 3x2 above, item 1 is the
 * identity-like [1 0 0; 0 1 0] @ B = the first two rows of B. */
START_TEST(test_hand_batched)
{
    tg_tensor *a =
        tt_from(TG_F64, 3, TT_SHAPE(2, 2, 3), TT_VALUES(1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0));
    tg_tensor *b = tt_from(TG_F64, 2, TT_SHAPE(3, 2), TT_VALUES(7, 8, 9, 10, 11, 12));
    tg_tensor *b3 =
        tt_from(TG_F64, 3, TT_SHAPE(2, 3, 2), TT_VALUES(7, 8, 9, 10, 11, 12, 7, 8, 9, 10, 11, 12));
    tg_tape *tp = tg_tape_new(NULL);
    const double expect[] = {58, 64, 139, 154, 7, 8, 9, 10};
    tg_tensor *c = tg_matmul(tp, a, b);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(tg_tensor_ndim(c), 3);
    tt_assert_values("(2,2,3)@(3,2)", c, expect, 8, 0, 0);
    tt_assert_values("(2,2,3)@(2,3,2)", tg_matmul(tp, a, b3), expect, 8, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(b3);
}
END_TEST

/* ---- forward against the naive loop ------------------------------------------- */

/* Every form x flags x size x batch, in dtype dt, against the naive loop. */
static void forward_vs_naive(tg_dtype dt, double rtol, double atol_per_k)
{
    uint64_t seed = 1;
    for (int f = 0; f < 4; f++)
        for (int fl = 0; fl < 4; fl++)
            for (int s = 0; s < LEN(k_sizes); s++)
                for (int p = 0; p < LEN(k_batches); p++) {
                    mm_case c = {(form)f,       k_batches[p], k_sizes[s][0], k_sizes[s][1],
                                 k_sizes[s][2], fl & 1,       (fl >> 1) & 1};
                    if (c.f == F_2D && p > 0) continue;
                    char label[128];
                    case_label(&c, label, sizeof label);
                    tg_tensor *a, *b;
                    case_inputs(&c, dt, seed++, &a, &b);
                    tg_tape *tp = tg_tape_new(NULL);
                    tg_tensor *y = tg_matmul_t(tp, a, b, c.ta, c.tb);
                    ck_assert_msg(y != NULL, "%s: %s", label, tg_tape_error(tp));
                    const int64_t n = (c.f == F_2D ? 1 : c.P) * c.M * c.N;
                    ck_assert_int_eq(tg_tensor_numel(y), n);
                    ck_assert_int_eq(tg_tensor_ndim(y), c.f == F_2D ? 2 : 3);
                    ck_assert_int_eq(tg_tensor_dim(y, -2), c.M);
                    ck_assert_int_eq(tg_tensor_dim(y, -1), c.N);
                    double *ref = malloc(sizeof(double) * (size_t)n);
                    naive_matmul(a, b, c.ta, c.tb, ref);
                    tt_assert_values(label, y, ref, n, rtol, atol_per_k * (double)c.K);
                    free(ref);
                    tg_tape_free(tp);
                    tg_tensor_free(a);
                    tg_tensor_free(b);
                }
}

START_TEST(test_forward_naive_f64)
{
    /* inputs in [-1, 1): a sum of K products is off by a few K ulps at most */
    forward_vs_naive(TG_F64, 1e-13, 4 * DBL_EPSILON);
}
END_TEST

START_TEST(test_forward_naive_f32)
{
    /* the naive loop reads the same f32 values, so only f32 rounding of the
     * K-term sum separates the two */
    forward_vs_naive(TG_F32, 1e-5, 2 * FLT_EPSILON);
}
END_TEST

/* f32 forward agrees with f64 forward on the same (f32-representable)
 * inputs, to f32 precision. */
START_TEST(test_f32_vs_f64)
{
    uint64_t seed = 500;
    for (int f = 0; f < 4; f++)
        for (int fl = 0; fl < 4; fl++)
            for (int s = 0; s < LEN(k_sizes); s++) {
                mm_case c = {(form)f,       3,      k_sizes[s][0], k_sizes[s][1],
                             k_sizes[s][2], fl & 1, (fl >> 1) & 1};
                char label[128];
                case_label(&c, label, sizeof label);
                tg_tensor *a32, *b32;
                case_inputs(&c, TG_F32, seed++, &a32, &b32);
                tg_tensor *a64 = tg_tensor_cast_new(a32, TG_F64);
                tg_tensor *b64 = tg_tensor_cast_new(b32, TG_F64);
                tg_tape *tp = tg_tape_new(NULL);
                tg_tensor *y32 = tg_matmul_t(tp, a32, b32, c.ta, c.tb);
                tg_tensor *y64 = tg_matmul_t(tp, a64, b64, c.ta, c.tb);
                ck_assert_msg(y32 && y64, "%s: %s", label, tg_tape_error(tp));
                ck_assert_int_eq(tg_tensor_dtype(y32), TG_F32);
                tt_assert_close(label, y32, y64, 1e-5, 2 * FLT_EPSILON * (double)c.K);
                tg_tape_free(tp);
                tg_tensor_free(a32);
                tg_tensor_free(b32);
                tg_tensor_free(a64);
                tg_tensor_free(b64);
            }
}
END_TEST

/* ---- the gemm kernels -------------------------------------------------------- */

static void fill_uniform(double *x, int64_t n, tg_rng *r)
{
    for (int64_t i = 0; i < n; i++) x[i] = 2 * tg_rng_uniform(r) - 1;
}

/* Runs one gemm (which: 0 = fallback, 1 = tg__gemm) in dtype dt on f64
 * source data (converted), writing the result back as f64 into c. */
static void run_gemm(int which, tg_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                     double alpha, const double *A, int64_t lda, int64_t na, const double *B,
                     int64_t ldb, int64_t nb, double beta, double *C, int64_t ldc, int64_t nc)
{
    void *a = NULL, *b = NULL, *c = NULL;
    if (dt == TG_F64) {
        a = (void *)A;
        b = (void *)B;
        c = C;
    } else {
        float *fa = malloc(sizeof(float) * (size_t)(na + 1));
        float *fb = malloc(sizeof(float) * (size_t)(nb + 1));
        float *fc = malloc(sizeof(float) * (size_t)(nc + 1));
        ck_assert(fa && fb && fc);
        for (int64_t i = 0; i < na; i++) fa[i] = (float)A[i];
        for (int64_t i = 0; i < nb; i++) fb[i] = (float)B[i];
        for (int64_t i = 0; i < nc; i++) fc[i] = (float)C[i];
        a = fa;
        b = fb;
        c = fc;
    }
    if (which == 0)
        tg__gemm_fallback(dt, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        tg__gemm(dt, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
    if (dt == TG_F32) {
        for (int64_t i = 0; i < nc; i++) C[i] = ((float *)c)[i];
        free(a);
        free(b);
        free(c);
    }
}

/* Checks C_out = alpha op(A) op(B) + beta C_in on the M x N window and that
 * the padding columns (ldc > N) are untouched. */
static void check_gemm_result(const char *label, tg_dtype dt, bool ta, bool tb, int64_t M,
                              int64_t N, int64_t K, double alpha, const double *A, int64_t lda,
                              const double *B, int64_t ldb, double beta, const double *Cin,
                              const double *Cout, int64_t ldc)
{
    const double eps = dt == TG_F64 ? DBL_EPSILON : FLT_EPSILON;
    /* The first bad element is reported; one assertion per call, since each
     * Check assertion costs a write to the runner. */
    int64_t bad_i = -1, bad_j = -1;
    double bad_got = 0, bad_expect = 0, bad_tol = 0;
    for (int64_t i = 0; i < M && bad_i < 0; i++)
        for (int64_t j = 0; j < ldc && bad_i < 0; j++) {
            const double got = Cout[i * ldc + j];
            const double cin = Cin[i * ldc + j];
            double expect = cin, tol = 0;
            if (j < N) {
                /* the reference sum in double: its own error (<= K u sum|t|)
                 * is well inside the bound below */
                double s = 0, sabs = 0;
                for (int64_t k = 0; k < K; k++) {
                    const double t = mat_at(A, lda, ta, i, k) * mat_at(B, ldb, tb, k, j);
                    s += t;
                    sabs += fabs(t);
                }
                expect = alpha * s + (beta != 0 ? beta * cin : 0);
                /* error bound of a K-term dot product plus the scaling steps */
                tol = 4 * eps *
                      ((double)(K + 2) * fabs(alpha) * sabs + (beta != 0 ? fabs(beta * cin) : 0));
            }
            /* padding (j >= N) must be bit-identical (NaN stays NaN) */
            const bool ok = j < N ? isfinite(got) && fabs(got - expect) <= tol
                                  : (got == cin || (isnan(got) && isnan(cin)));
            if (!ok) {
                bad_i = i;
                bad_j = j;
                bad_got = got;
                bad_expect = expect;
                bad_tol = tol;
            }
        }
    ck_assert_msg(bad_i < 0, "%s: C[%lld][%lld] = %.17g, expected %.17g (tol %.3g%s)", label,
                  (long long)bad_i, (long long)bad_j, bad_got, bad_expect, bad_tol,
                  bad_j >= N ? ", padding column written" : "");
}

/* The fallback and tg__gemm (BLAS when present) against the naive loop for
 * f32 and f64, every transpose combination, sizes crossing the blocks, row
 * strides wider than the rows, alpha != 1, and beta 0 (C full of NaN),
 * 1 and 0.5. */
START_TEST(test_gemm_kernels_vs_naive)
{
    static const int64_t sizes[][3] = {
        {1, 1, 1},   {1, 9, 1},   {9, 1, 1},    {1, 1, 9},     {4, 4, 4},   {5, 7, 3},
        {17, 33, 9}, {13, 1, 70}, {6, 130, 65}, {67, 66, 129}, {3, 200, 2}, {2, 5, 300},
    };
    static const double betas[] = {0.0, 1.0, 0.5};
    tg_rng r;
    tg_rng_seed(&r, 42);
    for (int d = 0; d < 2; d++) {
        const tg_dtype dt = d ? TG_F64 : TG_F32;
        for (int s = 0; s < LEN(sizes); s++)
            for (int fl = 0; fl < 4; fl++)
                for (int bi = 0; bi < LEN(betas); bi++)
                    for (int pad = 0; pad < 2; pad++) {
                        const int64_t M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
                        const bool ta = fl & 1, tb = fl & 2;
                        /* stored shapes and row strides (pad: wider than needed) */
                        const int64_t arows = ta ? K : M, acols = ta ? M : K;
                        const int64_t brows = tb ? N : K, bcols = tb ? K : N;
                        const int64_t lda = acols + 3 * pad, ldb = bcols + 2 * pad,
                                      ldc = N + 5 * pad;
                        const int64_t na = arows * lda, nb = brows * ldb, nc = M * ldc;
                        double *A = malloc(sizeof(double) * (size_t)na);
                        double *B = malloc(sizeof(double) * (size_t)nb);
                        double *Cin = malloc(sizeof(double) * (size_t)nc);
                        double *C = malloc(sizeof(double) * (size_t)nc);
                        ck_assert(A && B && Cin && C);
                        fill_uniform(A, na, &r);
                        fill_uniform(B, nb, &r);
                        fill_uniform(Cin, nc, &r);
                        if (betas[bi] == 0)
                            for (int64_t i = 0; i < nc; i++) Cin[i] = NAN;
                        const double alpha = pad ? -0.75 : 1.0;
                        for (int which = 0; which < 2; which++) {
                            char label[160];
                            snprintf(label, sizeof label,
                                     "%s %s M=%lld N=%lld K=%lld ta=%d tb=%d beta=%g pad=%d",
                                     which ? tg__gemm_backend() : "fallback", tg_dtype_name(dt),
                                     (long long)M, (long long)N, (long long)K, ta, tb, betas[bi],
                                     pad);
                            memcpy(C, Cin, sizeof(double) * (size_t)nc);
                            run_gemm(which, dt, ta, tb, M, N, K, alpha, A, lda, na, B, ldb, nb,
                                     betas[bi], C, ldc, nc);
                            if (dt == TG_F32) {
                                /* compare with the f32-rounded inputs the kernel saw */
                                double *A32 = malloc(sizeof(double) * (size_t)na);
                                double *B32 = malloc(sizeof(double) * (size_t)nb);
                                double *C32 = malloc(sizeof(double) * (size_t)nc);
                                for (int64_t i = 0; i < na; i++) A32[i] = (float)A[i];
                                for (int64_t i = 0; i < nb; i++) B32[i] = (float)B[i];
                                for (int64_t i = 0; i < nc; i++) C32[i] = (float)Cin[i];
                                check_gemm_result(label, dt, ta, tb, M, N, K, alpha, A32, lda, B32,
                                                  ldb, betas[bi], C32, C, ldc);
                                free(A32);
                                free(B32);
                                free(C32);
                            } else {
                                check_gemm_result(label, dt, ta, tb, M, N, K, alpha, A, lda, B, ldb,
                                                  betas[bi], Cin, C, ldc);
                            }
                        }
                        free(A);
                        free(B);
                        free(Cin);
                        free(C);
                    }
    }
}
END_TEST

/* The fallback and tg__gemm agree with each other to rounding on a product
 * big enough that BLAS takes its blocked (possibly threaded) path. */
START_TEST(test_gemm_fallback_vs_backend)
{
    const int64_t M = 150, N = 170, K = 190;
    tg_rng r;
    tg_rng_seed(&r, 7);
    for (int d = 0; d < 2; d++) {
        const tg_dtype dt = d ? TG_F64 : TG_F32;
        const size_t es = tg_dtype_size(dt);
        for (int fl = 0; fl < 4; fl++) {
            double *A = malloc(sizeof(double) * (size_t)(M * K));
            double *B = malloc(sizeof(double) * (size_t)(K * N));
            double *C0 = malloc(sizeof(double) * (size_t)(M * N));
            double *C1 = malloc(sizeof(double) * (size_t)(M * N));
            fill_uniform(A, M * K, &r);
            fill_uniform(B, K * N, &r);
            const bool ta = fl & 1, tb = fl & 2;
            for (int64_t i = 0; i < M * N; i++) C0[i] = C1[i] = NAN;
            run_gemm(0, dt, ta, tb, M, N, K, 1.0, A, ta ? M : K, M * K, B, tb ? K : N, K * N, 0.0,
                     C0, N, M * N);
            run_gemm(1, dt, ta, tb, M, N, K, 1.0, A, ta ? M : K, M * K, B, tb ? K : N, K * N, 0.0,
                     C1, N, M * N);
            const double eps = es == 8 ? DBL_EPSILON : FLT_EPSILON;
            /* |a|, |b| < 1: each side is within K u K of the exact sum, and
             * typically within sqrt(K) u; 4 K eps is a loose but K-aware bound */
            int64_t bad = -1;
            for (int64_t i = 0; i < M * N && bad < 0; i++)
                if (!(fabs(C0[i] - C1[i]) <= 4 * eps * (double)K)) bad = i;
            ck_assert_msg(bad < 0, "%s ta=%d tb=%d [%lld]: fallback %.17g, %s %.17g",
                          tg_dtype_name(dt), ta, tb, (long long)bad, bad < 0 ? 0 : C0[bad],
                          tg__gemm_backend(), bad < 0 ? 0 : C1[bad]);
            free(A);
            free(B);
            free(C0);
            free(C1);
        }
    }
}
END_TEST

/* Products large enough that tg__gemm cuts them into pieces for the
 * threads (row blocks when M >= N, column blocks otherwise; 2 to 4 pieces)
 * against the naive loop: every transpose, row strides wider than the rows,
 * alpha != 1 and beta 0 (NaN in C), 1 and 0.5, at 1 and 2 threads. */
START_TEST(test_gemm_pieces_vs_naive)
{
    static const int64_t sizes[][3] = {{200, 37, 90}, {37, 200, 90}, {130, 129, 160}};
    static const double betas[] = {0.0, 1.0, 0.5};
    tg_rng r;
    tg_rng_seed(&r, 43);
    for (int t = 1; t <= 2; t++) {
        ck_assert_int_eq(tg_set_num_threads(t), TG_OK);
        for (int d = 0; d < 2; d++)
            for (int s = 0; s < LEN(sizes); s++)
                for (int fl = 0; fl < 4; fl++)
                    for (int bi = 0; bi < LEN(betas); bi++) {
                        const tg_dtype dt = d ? TG_F64 : TG_F32;
                        const int64_t M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
                        const bool ta = fl & 1, tb = fl & 2;
                        const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 5;
                        const int64_t na = (ta ? K : M) * lda, nb = (tb ? N : K) * ldb;
                        const int64_t nc = M * ldc;
                        double *A = malloc(sizeof(double) * (size_t)na);
                        double *B = malloc(sizeof(double) * (size_t)nb);
                        double *Cin = malloc(sizeof(double) * (size_t)nc);
                        double *C = malloc(sizeof(double) * (size_t)nc);
                        ck_assert(A && B && Cin && C);
                        /* values a float holds exactly: the f64 reference is then
                         * the f32 kernel's exact sum */
                        fill_uniform(A, na, &r);
                        fill_uniform(B, nb, &r);
                        fill_uniform(Cin, nc, &r);
                        for (int64_t i = 0; i < na; i++) A[i] = (float)A[i];
                        for (int64_t i = 0; i < nb; i++) B[i] = (float)B[i];
                        for (int64_t i = 0; i < nc; i++)
                            Cin[i] = betas[bi] == 0 ? NAN : (float)Cin[i];
                        memcpy(C, Cin, sizeof(double) * (size_t)nc);
                        run_gemm(1, dt, ta, tb, M, N, K, -0.75, A, lda, na, B, ldb, nb, betas[bi],
                                 C, ldc, nc);
                        char label[160];
                        snprintf(label, sizeof label,
                                 "pieces %s M=%lld N=%lld K=%lld ta=%d tb=%d beta=%g threads=%d",
                                 tg_dtype_name(dt), (long long)M, (long long)N, (long long)K, ta,
                                 tb, betas[bi], t);
                        check_gemm_result(label, dt, ta, tb, M, N, K, -0.75, A, lda, B, ldb,
                                          betas[bi], Cin, C, ldc);
                        free(A);
                        free(B);
                        free(Cin);
                        free(C);
                    }
    }
    ck_assert_int_eq(tg_set_num_threads(0), TG_OK);
}
END_TEST

/* ---- the same bits with any thread count -------------------------------------
 * Products big enough that OpenBLAS would thread them and tg__gemm cuts
 * them into pieces: the forward value and both gradients of
 * sum(matmul(a, b)^2) must be the same bytes at 1, 2 and 3 threads (three
 * share the pieces unevenly).  OpenBLAS's own threaded sgemm rounds
 * differently from its one-thread sgemm on every one of these shapes: the
 * first pass sets OpenBLAS to one thread and the last to two, as programs
 * calling openblas_set_num_threads would, and tapegrad must keep its own
 * products on one OpenBLAS thread either way. */
#if TG_HAVE_CBLAS
void openblas_set_num_threads(int n);
#endif

typedef struct mm_run {
    tg_tensor *y, *ga, *gb;
} mm_run;

static mm_run mm_run_once(const tg_tensor *a0, const tg_tensor *b0, bool ta, bool tb)
{
    tg_tensor *a = tg_tensor_clone(a0), *b = tg_tensor_clone(b0);
    tg_tensor_set_requires_grad(a, true);
    tg_tensor_set_requires_grad(b, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_matmul_t(tp, a, b, ta, tb);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_square(tp, y))), TG_OK);
    mm_run o = {tg_tensor_cast_new(y, tg_tensor_dtype(y)), tg_tensor_clone(tg_tensor_grad(a)),
                tg_tensor_clone(tg_tensor_grad(b))};
    ck_assert(o.y && o.ga && o.gb);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
    return o;
}

static void mm_run_free(mm_run *o)
{
    tg_tensor_free(o->y);
    tg_tensor_free(o->ga);
    tg_tensor_free(o->gb);
}

static bool same_bytes(const tg_tensor *x, const tg_tensor *y)
{
    const size_t n = (size_t)tg_tensor_numel(x) * tg_dtype_size(tg_tensor_dtype(x));
    return tg_tensor_numel(x) == tg_tensor_numel(y) &&
           memcmp(tg_tensor_data_const(x), tg_tensor_data_const(y), n) == 0;
}

START_TEST(test_same_bits_any_threads)
{
    /* (batch, M, K, N): 0 batch = plain matrices; B3's layers at batch 16 and
     * 128, a tall-skinny one and a batch of products */
    static const int64_t shapes[][4] = {{0, 256, 256, 256}, {0, 128, 4096, 10}, {0, 16, 784, 256},
                                        {0, 128, 784, 512}, {0, 16, 512, 784},  {4, 64, 100, 96}};
    for (int d = 0; d < 2; d++)
        for (int s = 0; s < LEN(shapes); s++)
            for (int fl = 0; fl < 4; fl += s == 0 ? 1 : 3) { /* all flags on the first */
                const tg_dtype dt = d ? TG_F64 : TG_F32;
                const int64_t P = shapes[s][0], M = shapes[s][1], K = shapes[s][2];
                const int64_t N = shapes[s][3];
                const bool ta = fl & 1, tb = fl & 2;
                int64_t sa[3], sb[3];
                const int na = stored_shape(P > 0, P, M, K, ta, sa);
                const int nb = stored_shape(false, 0, K, N, tb, sb);
                tg_tensor *a = tt_rand(dt, na, sa, 900 + (uint64_t)s, -1, 1);
                tg_tensor *b = tt_rand(dt, nb, sb, 950 + (uint64_t)s, -1, 1);
                ck_assert_int_eq(tg_set_num_threads(1), TG_OK);
#if TG_HAVE_CBLAS
                openblas_set_num_threads(1);
#endif
                mm_run one = mm_run_once(a, b, ta, tb);
                for (int t = 2; t <= 4; t++) {
                    ck_assert_int_eq(tg_set_num_threads(t == 4 ? 2 : t), TG_OK);
#if TG_HAVE_CBLAS
                    if (t == 4) openblas_set_num_threads(2);
#endif
                    mm_run more = mm_run_once(a, b, ta, tb);
                    const char *what = !same_bytes(one.y, more.y)     ? "forward value"
                                       : !same_bytes(one.ga, more.ga) ? "gradient of a"
                                       : !same_bytes(one.gb, more.gb) ? "gradient of b"
                                                                      : NULL;
                    ck_assert_msg(!what,
                                  "%s batch=%lld M=%lld K=%lld N=%lld ta=%d tb=%d: the %s "
                                  "with %d threads%s differs from 1 thread's",
                                  tg_dtype_name(dt), (long long)P, (long long)M, (long long)K,
                                  (long long)N, ta, tb, what, t == 4 ? 2 : t,
                                  t == 4 ? " (OpenBLAS set to 2)" : "");
                    mm_run_free(&more);
                }
                mm_run_free(&one);
                tg_tensor_free(a);
                tg_tensor_free(b);
            }
    ck_assert_int_eq(tg_set_num_threads(0), TG_OK);
}
END_TEST

/* Empty products: M or N == 0 leaves C alone; K == 0 gives beta * C with A
 * and B never read (NULL here), beta 0 overwriting NaN. */
START_TEST(test_gemm_zero_sizes)
{
    for (int d = 0; d < 2; d++)
        for (int which = 0; which < 2; which++) {
            const tg_dtype dt = d ? TG_F64 : TG_F32;
            void (*gemm)(tg_dtype, bool, bool, int64_t, int64_t, int64_t, double, const void *,
                         int64_t, const void *, int64_t, double, void *, int64_t) =
                which ? tg__gemm : tg__gemm_fallback;
            double c64[6];
            float c32[6];
            void *c = d ? (void *)c64 : (void *)c32;
#define SETC(v)                                                                                    \
    for (int i = 0; i < 6; i++) {                                                                  \
        c64[i] = (v);                                                                              \
        c32[i] = (float)(v);                                                                       \
    }
#define GETC(i) (d ? c64[i] : (double)c32[i])
            for (int fl = 0; fl < 4; fl++) {
                const bool ta = fl & 1, tb = fl & 2;
                /* M == 0 and N == 0: nothing written (C holds a sentinel) */
                SETC(3.0);
                gemm(dt, ta, tb, 0, 3, 4, 1.0, NULL, 4, NULL, 3, 0.0, c, 3);
                gemm(dt, ta, tb, 2, 0, 4, 1.0, NULL, 4, NULL, 1, 0.0, c, 1);
                gemm(dt, ta, tb, 0, 0, 0, 1.0, NULL, 1, NULL, 1, 0.0, c, 1);
                for (int i = 0; i < 6; i++) ck_assert_double_eq(GETC(i), 3.0);
                /* K == 0, beta 0: zeros over NaN */
                SETC(NAN);
                gemm(dt, ta, tb, 2, 3, 0, 1.0, NULL, 0, NULL, 0, 0.0, c, 3);
                for (int i = 0; i < 6; i++) ck_assert_double_eq(GETC(i), 0.0);
                /* K == 0, beta 1: unchanged; beta 0.5: halved */
                SETC(3.0);
                gemm(dt, ta, tb, 2, 3, 0, 1.0, NULL, 0, NULL, 0, 1.0, c, 3);
                for (int i = 0; i < 6; i++) ck_assert_double_eq(GETC(i), 3.0);
                gemm(dt, ta, tb, 2, 3, 0, 1.0, NULL, 0, NULL, 0, 0.5, c, 3);
                for (int i = 0; i < 6; i++) ck_assert_double_eq(GETC(i), 1.5);
            }
#undef SETC
#undef GETC
        }
}
END_TEST

/* alpha == 0 in the fallback: beta * C, A and B not read (they are NaN). */
START_TEST(test_gemm_fallback_alpha_zero)
{
    double A[6], B[6], C[4];
    for (int i = 0; i < 6; i++) A[i] = B[i] = NAN;
    for (int i = 0; i < 4; i++) C[i] = i + 1;
    tg__gemm_fallback(TG_F64, false, false, 2, 2, 3, 0.0, A, 3, B, 2, 2.0, C, 2);
    for (int i = 0; i < 4; i++) ck_assert_double_eq(C[i], 2.0 * (i + 1));
}
END_TEST

START_TEST(test_gemm_backend_name)
{
    const char *name = tg__gemm_backend();
    ck_assert_str_eq(name, TG_HAVE_CBLAS ? "openblas" : "builtin");
    fprintf(stderr, "matmul: gemm backend is %s\n", name);
}
END_TEST

/* ---- gradients ----------------------------------------------------------------- */

typedef struct flags {
    bool ta, tb;
} flags;

static tg_tensor *fn_matmul(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const flags *f = ctx;
    return tg_matmul_t(tp, in[0], in[1], f->ta, f->tb);
}

/* Sizes for the finite-difference checks (small: every element is probed). */
static const int64_t k_grad_sizes[][4] = {
    /* P, M, K, N */
    {3, 2, 3, 4}, {1, 1, 1, 1}, {2, 1, 4, 1}, {2, 3, 1, 2}, {2, 5, 3, 1}, {1, 1, 2, 5},
};

/* d matmul / d a and d b in f64 for every form, flag and size. */
START_TEST(test_gradcheck)
{
    uint64_t seed = 900;
    for (int f = 0; f < 4; f++)
        for (int fl = 0; fl < 4; fl++)
            for (int s = 0; s < LEN(k_grad_sizes); s++) {
                const int64_t *z = k_grad_sizes[s];
                mm_case c = {(form)f, z[0], z[1], z[2], z[3], fl & 1, (fl >> 1) & 1};
                char label[128];
                case_label(&c, label, sizeof label);
                tg_tensor *in[2];
                case_inputs(&c, TG_F64, seed++, &in[0], &in[1]);
                tg_tensor_set_requires_grad(in[0], true);
                tg_tensor_set_requires_grad(in[1], true);
                flags fg = {c.ta, c.tb};
                tt_gradcheck(label, fn_matmul, &fg, 2, in);
                tg_tensor_free(in[0]);
                tg_tensor_free(in[1]);
            }
}
END_TEST

/* The gradient of a shared 2-d operand is the sum over the batch: compare
 * with the same product written with an explicit tg_broadcast_to (whose
 * adjoint sums), to 1e-12, for both broadcast forms and every flag. */
START_TEST(test_broadcast_grad_vs_explicit)
{
    uint64_t seed = 1300;
    for (int f = F_BCAST_B; f <= F_BCAST_A; f++)
        for (int fl = 0; fl < 4; fl++) {
            mm_case c = {(form)f, 4, 3, 5, 2, fl & 1, (fl >> 1) & 1};
            char label[128];
            case_label(&c, label, sizeof label);
            tg_tensor *a, *b;
            case_inputs(&c, TG_F64, seed++, &a, &b);
            tg_tensor_set_requires_grad(a, true);
            tg_tensor_set_requires_grad(b, true);
            tg_tensor *w = tt_rand(TG_F64, 3, TT_SHAPE(c.P, c.M, c.N), seed++, -1, 1);
            tg_tape *tp = tg_tape_new(NULL);
            /* broadcast path */
            tg_tensor *y = tg_sum_all(tp, tg_mul(tp, tg_matmul_t(tp, a, b, c.ta, c.tb), w));
            tg_tensor *ga = tg_grad(tp, y, a, false), *gb = tg_grad(tp, y, b, false);
            /* explicit path: the 2-d operand broadcast to 3-d first */
            tg_tensor *a3 = a, *b3 = b;
            if (tg_tensor_ndim(a) == 2)
                a3 = tg_broadcast_to(tp, a, 3,
                                     TT_SHAPE(c.P, tg_tensor_dim(a, 0), tg_tensor_dim(a, 1)));
            else
                b3 = tg_broadcast_to(tp, b, 3,
                                     TT_SHAPE(c.P, tg_tensor_dim(b, 0), tg_tensor_dim(b, 1)));
            tg_tensor *y2 = tg_sum_all(tp, tg_mul(tp, tg_matmul_t(tp, a3, b3, c.ta, c.tb), w));
            tg_tensor *ga2 = tg_grad(tp, y2, a, false), *gb2 = tg_grad(tp, y2, b, false);
            ck_assert_msg(ga && gb && ga2 && gb2, "%s: %s", label, tg_tape_error(tp));
            tt_assert_close(label, y, y2, 1e-12, 0);
            tt_assert_close(label, ga, ga2, 1e-12, 1e-14);
            tt_assert_close(label, gb, gb2, 1e-12, 1e-14);
            tg_tape_free(tp);
            tg_tensor_free(a);
            tg_tensor_free(b);
            tg_tensor_free(w);
        }
}
END_TEST

/* Only one input needs a gradient: that one is right, the other gets none. */
START_TEST(test_grad_one_input)
{
    for (int which = 0; which < 2; which++) {
        tg_tensor *a = tt_rand(TG_F64, 3, TT_SHAPE(2, 3, 4), 11, -1, 1);
        tg_tensor *b = tt_rand(TG_F64, 2, TT_SHAPE(4, 5), 12, -1, 1);
        tg_tensor *x = which ? b : a, *other = which ? a : b;
        tg_tensor_set_requires_grad(x, true);
        tg_tape *tp = tg_tape_new(NULL);
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_matmul(tp, a, b))), TG_OK);
        ck_assert_ptr_null(tg_tensor_grad(other));
        ck_assert_ptr_nonnull(tg_tensor_grad(x));
        /* sum over (p, i, j) of sum_k a[p,i,k] b[k,j]:
         * d/da[p,i,k] = sum_j b[k,j];  d/db[k,j] = sum_{p,i} a[p,i,k] */
        double av[24], bv[20], expect[24];
        tg_tensor_to_f64(a, av);
        tg_tensor_to_f64(b, bv);
        if (which == 0) {
            for (int p = 0; p < 2; p++)
                for (int i = 0; i < 3; i++)
                    for (int k = 0; k < 4; k++) {
                        double s = 0;
                        for (int j = 0; j < 5; j++) s += bv[k * 5 + j];
                        expect[(p * 3 + i) * 4 + k] = s;
                    }
            tt_assert_values("dA", tg_tensor_grad(a), expect, 24, 1e-10, 0);
        } else {
            for (int k = 0; k < 4; k++)
                for (int j = 0; j < 5; j++) {
                    double s = 0;
                    for (int p = 0; p < 2; p++)
                        for (int i = 0; i < 3; i++) s += av[(p * 3 + i) * 4 + k];
                    expect[k * 5 + j] = s;
                }
            tt_assert_values("dB", tg_tensor_grad(b), expect, 20, 1e-10, 0);
        }
        tg_tape_free(tp);
        tg_tensor_free(a);
        tg_tensor_free(b);
    }
}
END_TEST

/* Second order: h(A, B) = d/dA sum((op(A) op(B))^2), recorded with
 * create_graph, is itself checked by finite differences in A and B. */
typedef struct second_ctx {
    flags f;
    int wrt; /* 0: d/dA, 1: d/dB */
} second_ctx;

static tg_tensor *fn_second(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const second_ctx *s = ctx;
    tg_tensor *c = tg_matmul_t(tp, in[0], in[1], s->f.ta, s->f.tb);
    tg_tensor *y = tg_sum_all(tp, tg_square(tp, c));
    return tg_grad(tp, y, in[s->wrt], true);
}

START_TEST(test_second_order)
{
    uint64_t seed = 2000;
    for (int f = 0; f < 4; f++)
        for (int fl = 0; fl < 4; fl++)
            for (int wrt = 0; wrt < 2; wrt++) {
                mm_case c = {(form)f, 2, 3, 2, 4, fl & 1, (fl >> 1) & 1};
                char label[160];
                case_label(&c, label, sizeof label);
                strcat(label, wrt ? " d2/dB" : " d2/dA");
                tg_tensor *in[2];
                case_inputs(&c, TG_F64, seed++, &in[0], &in[1]);
                tg_tensor_set_requires_grad(in[0], true);
                tg_tensor_set_requires_grad(in[1], true);
                second_ctx sc = {{c.ta, c.tb}, wrt};
                tt_gradcheck(label, fn_second, &sc, 2, in);
                tg_tensor_free(in[0]);
                tg_tensor_free(in[1]);
            }
}
END_TEST

/* The create-graph gradient by hand: for L = sum((A B)^2),
 * dL/dA = 2 (A B) B^T, compared with the naive loop to 1e-10. */
START_TEST(test_second_order_hand)
{
    tg_tensor *a = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 31, -1, 1);
    tg_tensor *b = tt_rand(TG_F64, 2, TT_SHAPE(4, 2), 32, -1, 1);
    tg_tensor_set_requires_grad(a, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *c = tg_matmul(tp, a, b);
    tg_tensor *g = tg_grad(tp, tg_sum_all(tp, tg_square(tp, c)), a, true);
    ck_assert_ptr_nonnull(g);
    double cv[6], bv[8], expect[12];
    naive_matmul(a, b, false, false, cv);
    tg_tensor_to_f64(b, bv);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++) {
            double s = 0;
            for (int j = 0; j < 2; j++) s += 2 * cv[i * 2 + j] * bv[k * 2 + j];
            expect[i * 4 + k] = s;
        }
    tt_assert_values("2 (AB) B^T", g, expect, 12, 1e-10, 0);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* Empty products through the op: the forward is zeros of the right shape and
 * backward runs, giving gradients of the inputs' (possibly empty) shapes. */
START_TEST(test_empty)
{
    static const int64_t shapes[][2][3] = {
        /* a 2-d, b 2-d */
        {{2, 0, 0}, {0, 3, 0}},
        {{0, 4, 0}, {4, 3, 0}},
        {{2, 4, 0}, {4, 0, 0}},
    };
    for (int s = 0; s < LEN(shapes); s++) {
        tg_tensor *a = tt_rand(TG_F64, 2, shapes[s][0], 1, -1, 1);
        tg_tensor *b = tt_rand(TG_F64, 2, shapes[s][1], 2, -1, 1);
        tg_tensor_set_requires_grad(a, true);
        tg_tensor_set_requires_grad(b, true);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *c = tg_matmul(tp, a, b);
        ck_assert_msg(c != NULL, "%s", tg_tape_error(tp));
        ck_assert_int_eq(tg_tensor_dim(c, 0), shapes[s][0][0]);
        ck_assert_int_eq(tg_tensor_dim(c, 1), shapes[s][1][1]);
        for (int64_t i = 0; i < tg_tensor_numel(c); i++)
            ck_assert_double_eq(tg_tensor_get_flat(c, i), 0.0);
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, c)), TG_OK);
        ck_assert(tg_tensor_same_shape(tg_tensor_grad(a), a));
        ck_assert(tg_tensor_same_shape(tg_tensor_grad(b), b));
        for (int64_t i = 0; i < tg_tensor_numel(a); i++)
            ck_assert_double_eq(tg_tensor_get_flat(tg_tensor_grad(a), i), 0.0);
        tg_tape_free(tp);
        tg_tensor_free(a);
        tg_tensor_free(b);
    }
    /* an empty batch */
    tg_tensor *a = tt_rand(TG_F64, 3, TT_SHAPE(0, 2, 3), 1, -1, 1);
    tg_tensor *b = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 2, -1, 1);
    tg_tensor_set_requires_grad(b, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *c = tg_matmul(tp, a, b);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(tg_tensor_numel(c), 0);
    ck_assert_int_eq(tg_tensor_dim(c, 0), 0);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, c)), TG_OK);
    for (int64_t i = 0; i < 12; i++)
        ck_assert_double_eq(tg_tensor_get_flat(tg_tensor_grad(b), i), 0.0);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* ---- errors ---------------------------------------------------------------------- */

/* Runs tg_matmul_t on a fresh tape and expects NULL with status st and a
 * message containing "matmul" and each given piece. */
#define EXPECT_FAIL(a, b, ta, tb, st, ...)                                                         \
    do {                                                                                           \
        tg_tape *tp_ = tg_tape_new(NULL);                                                          \
        ck_assert_ptr_null(tg_matmul_t(tp_, a, b, ta, tb));                                        \
        tt_assert_tape_error(tp_, st, "matmul", __VA_ARGS__);                                      \
        ck_assert_int_eq(tg_tape_usage(tp_).nodes, 0);                                             \
        tg_tape_free(tp_);                                                                         \
    } while (0)

/* An empty batch product whose batch axis is huge, (2^40, 1, 0): the
 * output has no elements, and neither pass may walk the 2^40 empty items
 * (the graph fuzzer found the direct backward doing so, a hang). */
START_TEST(test_empty_huge_batch)
{
    const int64_t huge = (int64_t)1 << 40;
    tg_tensor *a = tg_tensor_new(TG_F64, 3, TT_SHAPE(huge, 1, 0));
    tg_tensor *p = tg_tensor_new(TG_F64, 3, TT_SHAPE(huge, 0, 2));
    tg_tensor *q = tg_tensor_new(TG_F64, 3, TT_SHAPE(huge, 2, 0));
    ck_assert(a && p && q);
    tg_tensor_set_requires_grad(a, true);
    tg_tensor_set_requires_grad(p, true);
    tg_tensor_set_requires_grad(q, true);
    tg_tape *tp = tg_tape_new(NULL);
    /* a^T a: items (0,1) @ (1,0); p q: items (0,2) @ (2,0); both (huge,0,0) */
    tg_tensor *ys[2] = {tg_matmul_t(tp, a, a, true, false), tg_matmul(tp, p, q)};
    for (int k = 0; k < 2; k++) {
        ck_assert_msg(ys[k] != NULL, "%s", tg_tape_error(tp));
        ck_assert_int_eq(tg_tensor_numel(ys[k]), 0);
    }
    tg_tensor *loss =
        tg_add(tp, tg_sum_all(tp, tg_square(tp, ys[0])), tg_sum_all(tp, tg_square(tp, ys[1])));
    ck_assert_int_eq(tg_backward(tp, loss), TG_OK);
    ck_assert_int_eq(tg_tensor_numel(tg_tensor_grad(a)), 0);
    ck_assert_int_eq(tg_tensor_numel(tg_tensor_grad(p)), 0);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(p);
    tg_tensor_free(q);
}
END_TEST

START_TEST(test_errors_shapes)
{
    tg_tensor *a34 = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 1, -1, 1);
    tg_tensor *b52 = tt_rand(TG_F64, 2, TT_SHAPE(5, 2), 2, -1, 1);
    tg_tensor *b42 = tt_rand(TG_F64, 2, TT_SHAPE(4, 2), 3, -1, 1);
    tg_tensor *a234 = tt_rand(TG_F64, 3, TT_SHAPE(2, 3, 4), 4, -1, 1);
    tg_tensor *b345 = tt_rand(TG_F64, 3, TT_SHAPE(3, 4, 5), 5, -1, 1);
    tg_tensor *v4 = tt_rand(TG_F64, 1, TT_SHAPE(4), 6, -1, 1);
    tg_tensor *s0 = tg_tensor_scalar(TG_F64, 2.0);
    tg_tensor *d4 = tt_rand(TG_F64, 4, TT_SHAPE(2, 2, 3, 4), 7, -1, 1);
    tg_tensor *before = tg_tensor_clone(a34);

    /* the message of tape.h, verbatim */
    EXPECT_FAIL(a34, b52, false, false, TG_ERR_SHAPE,
                "matmul: (3,4) @ (5,2): inner dimensions differ");
    /* transposes: op(a) = (4,3) against (4,2) */
    EXPECT_FAIL(a34, b42, true, false, TG_ERR_SHAPE, "(3,4)^T @ (4,2)", "inner dimensions differ");
    EXPECT_FAIL(a34, b42, false, true, TG_ERR_SHAPE, "(3,4) @ (4,2)^T", "inner dimensions differ");
    EXPECT_FAIL(a234, b52, false, false, TG_ERR_SHAPE, "(2,3,4) @ (5,2)",
                "inner dimensions differ");
    EXPECT_FAIL(a234, b345, false, false, TG_ERR_SHAPE, "(2,3,4) @ (3,4,5)",
                "batch axes do not broadcast", "2 vs 3");
    /* 1-d and 4-d operands are NumPy's layouts (test_matmul_general.c);
     * a vector read transposed and a 0-d operand are not */
    EXPECT_FAIL(v4, b42, true, false, TG_ERR_SHAPE, "(4)^T @ (4,2)", "1-d");
    EXPECT_FAIL(a34, v4, false, true, TG_ERR_SHAPE, "(3,4) @ (4)^T", "1-d");
    EXPECT_FAIL(s0, b42, false, false, TG_ERR_SHAPE, "() @ (4,2)", "0-d");
    EXPECT_FAIL(d4, b52, false, false, TG_ERR_SHAPE, "(2,2,3,4) @ (5,2)", "inner dimensions");

    /* inputs untouched */
    tt_assert_close("a34 unchanged", a34, before, 0, 0);
    tg_tensor_free(a34);
    tg_tensor_free(b52);
    tg_tensor_free(b42);
    tg_tensor_free(a234);
    tg_tensor_free(b345);
    tg_tensor_free(v4);
    tg_tensor_free(s0);
    tg_tensor_free(d4);
    tg_tensor_free(before);
}
END_TEST

START_TEST(test_errors_dtype)
{
    tg_tensor *a = tt_rand(TG_F32, 2, TT_SHAPE(2, 3), 1, -1, 1);
    tg_tensor *b = tt_rand(TG_F64, 2, TT_SHAPE(3, 2), 2, -1, 1);
    EXPECT_FAIL(a, b, false, false, TG_ERR_DTYPE, "f32[2,3]", "f64[3,2]");
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* NULL inputs and tapes; a tape already in error returns NULL and keeps its
 * first error. */
START_TEST(test_errors_null_and_sticky)
{
    tg_tensor *a = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 1, -1, 1);
    tg_tensor *b = tt_rand(TG_F64, 2, TT_SHAPE(3, 2), 2, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);

    ck_assert_ptr_null(tg_matmul(NULL, a, b));
    ck_assert_ptr_null(tg_matmul_t(NULL, a, b, true, true));

    ck_assert_ptr_null(tg_matmul(tp, a, NULL));
    tt_assert_tape_error(tp, TG_ERR_NULL, "matmul", "input 1");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_matmul_t(tp, NULL, b, false, true));
    tt_assert_tape_error(tp, TG_ERR_NULL, "matmul", "input 0");
    tg_tape_reset(tp);

    /* sticky: a shape error, then a valid product returns NULL */
    ck_assert_ptr_null(tg_matmul(tp, a, a));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "matmul: (2,3) @ (2,3): inner dimensions differ");
    const int64_t nodes = tg_tape_usage(tp).nodes;
    ck_assert_ptr_null(tg_matmul(tp, a, b));
    ck_assert_ptr_null(tg_matmul_t(tp, a, a, false, true));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "matmul: (2,3) @ (2,3): inner dimensions differ");
    ck_assert_int_eq(tg_tape_usage(tp).nodes, nodes);

    /* reset recovers */
    tg_tape_reset(tp);
    ck_assert_ptr_nonnull(tg_matmul(tp, a, b));
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("matmul");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_hand_2x3_3x2);
    tcase_add_test(tc, test_hand_gradient);
    tcase_add_test(tc, test_hand_batched);
    tcase_add_test(tc, test_forward_naive_f64);
    tcase_add_test(tc, test_forward_naive_f32);
    tcase_add_test(tc, test_f32_vs_f64);
    tcase_add_test(tc, test_empty);
    suite_add_tcase(s, tc);

    tc = tcase_create("gemm");
    tcase_add_test(tc, test_gemm_kernels_vs_naive);
    tcase_add_test(tc, test_gemm_fallback_vs_backend);
    tcase_add_test(tc, test_gemm_zero_sizes);
    tcase_add_test(tc, test_gemm_fallback_alpha_zero);
    tcase_add_test(tc, test_gemm_backend_name);
    tcase_add_test(tc, test_gemm_pieces_vs_naive);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_same_bits_any_threads);
    suite_add_tcase(s, tc);

    tc = tcase_create("gradient");
    tcase_add_test(tc, test_gradcheck);
    tcase_add_test(tc, test_broadcast_grad_vs_explicit);
    tcase_add_test(tc, test_grad_one_input);
    tcase_add_test(tc, test_second_order);
    tcase_add_test(tc, test_second_order_hand);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_empty_huge_batch);
    tcase_add_test(tc, test_errors_shapes);
    tcase_add_test(tc, test_errors_dtype);
    tcase_add_test(tc, test_errors_null_and_sticky);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
