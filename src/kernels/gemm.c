/* The general matrix product C = alpha op(A) op(B) + beta C (row-major).
 *
 * With OpenBLAS (TG_HAVE_CBLAS) the work goes to cblas_sgemm / cblas_dgemm;
 * otherwise, and whenever BLAS cannot take the call, to the cache-blocked
 * loop nest below.  Notes from the BLAS reference documentation of xGEMM
 * (netlib dgemm.f, the CBLAS wrapper cblas_dgemm.c), in our words:
 *   - op(A) is M x K, op(B) is K x N, C is M x N; the sizes are plain C ints
 *     in the CBLAS interface (OpenBLAS's blasint is int unless built for
 *     64-bit integers), so a size or stride above INT_MAX must not reach it.
 *   - In row-major order the leading dimension is the stored row length and
 *     must be at least max(1, stored columns): lda >= max(1, K) for a plain A
 *     and >= max(1, M) for a transposed one, likewise ldb, ldc >= max(1, N).
 *     An empty matrix has a zero row length, which BLAS rejects through
 *     xerbla (a printed complaint, no result), so empty products never go to
 *     BLAS: we do them ourselves.
 *   - With beta == 0, C does not need to hold anything on entry: it is
 *     overwritten, never multiplied (0 * NaN would be NaN).  The fallback
 *     keeps that promise explicitly. */
#include "gemm.h"

#include "../core/internal.h"
#include "../core/parallel.h"
#include "tg_config.h"

#include <limits.h>

#if TG_HAVE_CBLAS
#include <cblas.h>
#endif

/* ---- the built-in kernel -------------------------------------------------
 * Loop order: N blocks, K blocks, then rows of C four at a time.  For one
 * (N block, K block) the panel of op(B) (KC rows of up to NC contiguous
 * elements) is reused by every row of C, so it stays in L1/L2; each row of
 * A contributes a scalar a(i,k) that multiplies a whole contiguous row of
 * the panel into a contiguous row of C (an axpy), which is the shape a
 * compiler vectorises.  Four rows of C share every load of the panel.
 *
 * A transposed B is packed (transposed) into a small stack buffer so the
 * panel rows are contiguous; a plain B is used in place.  A transposed A
 * needs no packing: a(i,k) is a scalar load either way.
 *
 * The innermost loops run over a fixed chunk of JC elements: GCC at -O2
 * only vectorises loops whose trip count is a known multiple of the vector
 * width ("very cheap" cost model), so the variable-length remainder is a
 * separate short loop. */
enum {
    GEMM_KC = 64,                /* rows of the op(B) panel (K block) */
    GEMM_PACK_BYTES = 32 * 1024, /* the transposed-B packing buffer, on the stack */
    GEMM_JC = 32,                /* fixed-length chunk of the innermost loop */
};

/* NC (columns of the panel) for element size es: the panel fills the pack
 * buffer, and is a multiple of JC. */
#define GEMM_NC(es) ((int64_t)(GEMM_PACK_BYTES / ((es)*GEMM_KC)))

/* c[0..n) = 0 or *= beta (beta == 1: untouched). */
#define GEMM_SCALE_ROW(T, c, n, beta)                                                              \
    do {                                                                                           \
        if ((beta) == 0.0) {                                                                       \
            for (int64_t j_ = 0; j_ < (n); j_++) (c)[j_] = 0;                                      \
        } else if ((beta) != 1.0) {                                                                \
            const T bt_ = (T)(beta);                                                               \
            for (int64_t j_ = 0; j_ < (n); j_++) (c)[j_] *= bt_;                                   \
        }                                                                                          \
    } while (0)

/* The innermost loops, one pair per type: c_r[0..n) += a_r * p[0..n).  They
 * are functions so that restrict sits on parameters, where GCC relies on it
 * (block-scope restrict pointers still got runtime alias checks, which the
 * -O2 cost model refuses to pay for); inlined, the calls cost nothing. */
#define GEMM_DEFINE_AXPY(T, SUF)                                                                   \
    static inline void gemm_axpy4_##SUF(int64_t n, T a0, T a1, T a2, T a3, const T *restrict p,    \
                                        T *restrict c0, T *restrict c1, T *restrict c2,            \
                                        T *restrict c3)                                            \
    {                                                                                              \
        const int64_t nfull = n - n % GEMM_JC;                                                     \
        for (int64_t j = 0; j < nfull; j += GEMM_JC) {                                             \
            for (int jj = 0; jj < GEMM_JC; jj++) {                                                 \
                const T bv = p[j + jj];                                                            \
                c0[j + jj] += a0 * bv;                                                             \
                c1[j + jj] += a1 * bv;                                                             \
                c2[j + jj] += a2 * bv;                                                             \
                c3[j + jj] += a3 * bv;                                                             \
            }                                                                                      \
        }                                                                                          \
        for (int64_t j = nfull; j < n; j++) {                                                      \
            const T bv = p[j];                                                                     \
            c0[j] += a0 * bv;                                                                      \
            c1[j] += a1 * bv;                                                                      \
            c2[j] += a2 * bv;                                                                      \
            c3[j] += a3 * bv;                                                                      \
        }                                                                                          \
    }                                                                                              \
    static inline void gemm_axpy1_##SUF(int64_t n, T a0, const T *restrict p, T *restrict c0)      \
    {                                                                                              \
        const int64_t nfull = n - n % GEMM_JC;                                                     \
        for (int64_t j = 0; j < nfull; j += GEMM_JC)                                               \
            for (int jj = 0; jj < GEMM_JC; jj++) c0[j + jj] += a0 * p[j + jj];                     \
        for (int64_t j = nfull; j < n; j++) c0[j] += a0 * p[j];                                    \
    }
GEMM_DEFINE_AXPY(float, f32)
GEMM_DEFINE_AXPY(double, f64)
#define GEMM_AXPY4(T) _Generic((T)0, float : gemm_axpy4_f32, default : gemm_axpy4_f64)
#define GEMM_AXPY1(T) _Generic((T)0, float : gemm_axpy1_f32, default : gemm_axpy1_f64)

/* op(A)(i, k), inside the kernel below */
#define OPA(i, k) (trans_a ? a[(k)*lda + (i)] : a[(i)*lda + (k)])

void tg__gemm_fallback(tg_dtype dt, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                       double alpha, const void *A, int64_t lda, const void *B, int64_t ldb,
                       double beta, void *C, int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    /* One buffer for either type: a union keeps the typed accesses legal. */
    _Static_assert(GEMM_PACK_BYTES % (sizeof(double) * GEMM_KC * GEMM_JC) == 0,
                   "the panel width must be a multiple of the chunk");
    union {
        float f[GEMM_PACK_BYTES / sizeof(float)];
        double d[GEMM_PACK_BYTES / sizeof(double)];
    } pack;

    TG_DISPATCH(dt, T, {
        T *restrict c = C;
        /* beta first, so that the K loop below only ever accumulates. */
        for (int64_t i = 0; i < M; i++) GEMM_SCALE_ROW(T, c + i * ldc, N, beta);
        if (K <= 0 || alpha == 0.0) break; /* A and B are not read, as in BLAS */

        const T *restrict a = A;
        const T *restrict b = B;
        const T al = (T)alpha;
        T *restrict pk = _Generic((T)0, float : pack.f, default : pack.d);
        const int64_t nc_max = GEMM_NC(sizeof(T));

        for (int64_t j0 = 0; j0 < N; j0 += nc_max) {
            const int64_t nc = N - j0 < nc_max ? N - j0 : nc_max;
            for (int64_t k0 = 0; k0 < K; k0 += GEMM_KC) {
                const int64_t kc = K - k0 < GEMM_KC ? K - k0 : GEMM_KC;
                /* The panel: row k (0 <= k < kc) is op(B)(k0 + k, j0 .. j0 + nc). */
                const T *panel;
                int64_t ps;
                if (trans_b) {
                    /* op(B)(k, j) = B[j][k]: read rows of B contiguously. */
                    for (int64_t j = 0; j < nc; j++) {
                        const T *restrict brow = b + (j0 + j) * ldb + k0;
                        for (int64_t k = 0; k < kc; k++) pk[k * nc + j] = brow[k];
                    }
                    panel = pk;
                    ps = nc;
                } else {
                    panel = b + k0 * ldb + j0;
                    ps = ldb;
                }

                int64_t i = 0;
                for (; i + 4 <= M; i += 4) {
                    T *c0 = c + i * ldc + j0;
                    for (int64_t k = 0; k < kc; k++) {
                        const T a0 = al * OPA(i, k0 + k), a1 = al * OPA(i + 1, k0 + k);
                        const T a2 = al * OPA(i + 2, k0 + k), a3 = al * OPA(i + 3, k0 + k);
                        GEMM_AXPY4(T)
                        (nc, a0, a1, a2, a3, panel + k * ps, c0, c0 + ldc, c0 + 2 * ldc,
                         c0 + 3 * ldc);
                    }
                }
                for (; i < M; i++) {
                    T *c0 = c + i * ldc + j0;
                    for (int64_t k = 0; k < kc; k++)
                        GEMM_AXPY1(T)(nc, al * OPA(i, k0 + k), panel + k * ps, c0);
                }
            }
        }
    });
}
#undef OPA

/* ---- dispatch ------------------------------------------------------------ */
#if TG_HAVE_CBLAS
static bool fits_int(int64_t v)
{
    return v >= 1 && v <= INT_MAX;
}
#endif

void tg__blas_serial(void)
{
#if TG_HAVE_CBLAS
    /* Only ever lowered to 1, never raised: threads of tapegrad doing this
     * at the same time agree, so there is nothing to race on. */
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
#endif
}

/* One call: BLAS when it can take it, else the built-in kernel. */
static void gemm_whole(tg_dtype dt, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                       double alpha, const void *A, int64_t lda, const void *B, int64_t ldb,
                       double beta, void *C, int64_t ldc)
{
#if TG_HAVE_CBLAS
    /* Only calls BLAS accepts go to BLAS (see the notes at the top): no
     * empty dimension, every size and stride a positive int, and each stride
     * at least the stored row length. */
    const bool ok = K > 0 && fits_int(M) && fits_int(N) && fits_int(K) && fits_int(lda) &&
                    fits_int(ldb) && fits_int(ldc) && lda >= (trans_a ? M : K) &&
                    ldb >= (trans_b ? K : N) && ldc >= N;
    if (ok) {
        const enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
        const enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
        if (dt == TG_F64)
            cblas_dgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, alpha, A, (int)lda, B,
                        (int)ldb, beta, C, (int)ldc);
        else
            cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, (float)alpha, A, (int)lda, B,
                        (int)ldb, (float)beta, C, (int)ldc);
        return;
    }
#endif
    tg__gemm_fallback(dt, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- pieces on tapegrad's threads ------------------------------------------
 * OpenBLAS runs on one thread (tg__blas_serial): its threaded driver
 * partitions a product otherwise than its one-thread driver does, so other
 * micro-kernels compute the edges and sgemm's bits change with its thread
 * count (docs/performance.md, "Thread thresholds: matrix products").  A
 * large product is instead cut into pieces by a rule of the sizes alone:
 * row blocks of C (each one call with the same op(B)) or column blocks
 * (each with the same op(A)); the pieces run on tapegrad's threads, or in
 * order on one, and every element of C comes from the same call whatever
 * the thread count.  Each piece packs its shared operand again, so the cut
 * is across the longer side of C: row blocks re-pack op(B) (K x N) per
 * piece, column blocks op(A) (M x K). */
enum {
    /* fewest multiply-adds M*N*K for which two threads beat one (measured:
     * docs/performance.md); below it a product is one call */
    GEMM_SPLIT_MIN = 1 << 19,
    /* the most pieces: enough to share among 2 or 4 threads evenly */
    GEMM_MAX_PIECES = 4,
    /* piece edges on multiples of 16 rows or columns, whole tiles of
     * OpenBLAS's micro-kernels */
    GEMM_PIECE_ALIGN = 16,
};

typedef struct gemm_plan {
    int64_t work;          /* M * N * K, INT64_MAX when larger */
    int64_t pieces, grain; /* grain rows or columns per piece, the last may have fewer */
    bool rows;             /* cut across M (row blocks) rather than N */
} gemm_plan;

static gemm_plan gemm_plan_of(int64_t M, int64_t N, int64_t K)
{
    gemm_plan p = {.work = INT64_MAX, .pieces = 1, .grain = M, .rows = true};
    int64_t mn;
    if (!tg__mul_i64(M, N, &mn) || !tg__mul_i64(mn, K, &p.work)) p.work = INT64_MAX;
    if (p.work < GEMM_SPLIT_MIN && !(tg__par_forced() && p.work > 0)) return p;
    p.rows = M >= N;
    const int64_t dim = p.rows ? M : N;
    /* 2 to GEMM_MAX_PIECES pieces of at least half the threshold's work */
    const int64_t by_work = p.work / (GEMM_SPLIT_MIN / 2);
    const int64_t want = by_work < 2 ? 2 : by_work > GEMM_MAX_PIECES ? GEMM_MAX_PIECES : by_work;
    const int64_t per = TG_PAR_PIECES(dim, want);
    p.grain = TG_PAR_PIECES(per, GEMM_PIECE_ALIGN) * GEMM_PIECE_ALIGN;
    p.pieces = TG_PAR_PIECES(dim, p.grain);
    return p;
}

void tg__gemm(tg_dtype dt, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
              double alpha, const void *A, int64_t lda, const void *B, int64_t ldb, double beta,
              void *C, int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    tg__blas_serial();
    const gemm_plan p = gemm_plan_of(M, N, K > 0 && alpha != 0.0 ? K : 0);
    if (p.pieces == 1) {
        gemm_whole(dt, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const size_t es = tg_dtype_size(dt);
    const int nt = tg__par_threads(p.work, GEMM_SPLIT_MIN);
    TG_PAR_FOR(nt, p.pieces, i, {
        const int64_t s = i * p.grain;
        const int64_t len = p.grain < (p.rows ? M : N) - s ? p.grain : (p.rows ? M : N) - s;
        /* the first row (column) of a piece: op(A)'s row s is A's column s
         * when transposed, op(B)'s column s is B's row s */
        const int64_t a_off = p.rows ? (trans_a ? s : s * lda) : 0;
        const int64_t b_off = p.rows ? 0 : (trans_b ? s * ldb : s);
        const int64_t c_off = p.rows ? s * ldc : s;
        gemm_whole(dt, trans_a, trans_b, p.rows ? len : M, p.rows ? N : len, K, alpha,
                   (const char *)A + (size_t)a_off * es, lda, (const char *)B + (size_t)b_off * es,
                   ldb, beta, (char *)C + (size_t)c_off * es, ldc);
    });
}

const char *tg__gemm_backend(void)
{
    return TG_HAVE_CBLAS ? "openblas" : "builtin";
}

char *tg_gemm_describe(char *buf, size_t size)
{
    if (!buf) tg__set_last(TG_ERR_NULL, "tg_gemm_describe: buf is NULL");
    if (!buf || !size) return buf;
#if TG_HAVE_CBLAS
    /* OpenBLAS's own extension (its cblas.h): version, build options and,
     * in a DYNAMIC_ARCH build, the kernels chosen for this CPU */
    snprintf(buf, size, "%s", openblas_get_config());
#else
    snprintf(buf, size, "built-in gemm");
#endif
    return buf;
}

#if TG_HAVE_CBLAS && (defined(__x86_64__) || defined(__i386__)) &&                                 \
    (defined(__GNUC__) || defined(__clang__))
#define TG_CORE_CHECK 1
/* OpenBLAS's x86 kernel sets that have no AVX2 FMA kernels: on a CPU with
 * AVX2 one of these means OpenBLAS did not recognise the model (its
 * DYNAMIC_ARCH detection falls back to Prescott: OpenBLAS issue 4267, fixed
 * in 0.3.25) or was told so. */
static const char *const k_pre_avx2_cores[] = {"Prescott", "Core2", "Penryn",      "Dunnington",
                                               "Nehalem",  "Atom",  "Sandybridge", "Barcelona",
                                               "Opteron",  "Bobcat"};
#endif

bool tg_gemm_slow_kernels(char *advice, size_t size)
{
    if (advice && size) advice[0] = '\0';
#if TG_CORE_CHECK
    const char *core = openblas_get_corename();
    bool old = false;
    for (int i = 0; core && i < TG_ARRAY_LEN(k_pre_avx2_cores); i++)
        old = old || strcmp(core, k_pre_avx2_cores[i]) == 0;
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f");
    if (!old || !(avx512 || __builtin_cpu_supports("avx2"))) return false;
    if (advice && size)
        snprintf(advice, size,
                 "OpenBLAS runs its %s kernels on a CPU with %s, so matrix products are 2-4x "
                 "slower than they could be (OpenBLAS before 0.3.25 does not recognise some "
                 "newer CPU models): start the program with OPENBLAS_CORETYPE=%s in the "
                 "environment",
                 core, avx512 ? "AVX-512" : "AVX2", avx512 ? "SkylakeX" : "Haswell");
    return true;
#else
    return false;
#endif
}
