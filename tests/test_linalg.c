/* Linear algebra ops (solve, solve_triangular, cholesky, inv, det,
 * slogdet): the LU / Cholesky / triangular kernels (LAPACK's and the
 * built-in fallback) against naive references, forward values against
 * textbook ones, the closed-form gradients (d log|det X|/dX = X^-T,
 * d det X/dX = det X X^-T, inv(inv(a)) = a), f64 gradchecks over sizes 1,
 * 2, 3, 5 and batches (first and second order), f32 against f64, zero
 * sizes, and the error contract (singular, not positive definite, shapes). */
#include "common.h"

#include "src/kernels/lapack.h"
#include "tg_config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const int k_sizes[] = {1, 2, 3, 5};

/* A user f64 (or f32) tensor of shape (..., n, n): uniform in [-1, 1) plus
 * n on the diagonal, so well conditioned (diagonally dominant). */
static tg_tensor *well_cond(tg_dtype dt, int nb, const int64_t *batch, int n, uint64_t seed)
{
    int64_t shape[8];
    for (int i = 0; i < nb; i++) shape[i] = batch[i];
    shape[nb] = shape[nb + 1] = n;
    tg_tensor *a = tt_rand(TG_F64, nb + 2, shape, seed, -1, 1);
    double *p = tg_tensor_data(a);
    for (int64_t i = 0; i < tg_tensor_numel(a); i++)
        if ((i % ((int64_t)n * n)) % (n + 1) == 0) p[i] += n;
    tg_tensor_mark_modified(a);
    if (dt == TG_F64) return a;
    tg_tensor *b = tg_tensor_cast_new(a, dt);
    tg_tensor_free(a);
    return b;
}

/* The values of t as doubles (malloc'd). */
static double *vals(const tg_tensor *t)
{
    double *v = malloc(sizeof(double) * (size_t)(tg_tensor_numel(t) + 1));
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(tg_tensor_to_f64(t, v), TG_OK);
    return v;
}

/* ---- kernels ------------------------------------------------------------------ */

/* A X = B (and A^T X = B) by tg__lu + tg__lu_solve and by the fallback,
 * checked by multiplying back; a matrix whose first column starts with 0
 * needs pivoting. */
START_TEST(test_kernels_lu)
{
    for (int s = 0; s < LEN(k_sizes); s++) {
        const int n = k_sizes[s], k = 3;
        tg_tensor *ta = tt_rand(TG_F64, 2, TT_SHAPE(n, n), 10 + s, -1, 1);
        tg_tensor *tb = tt_rand(TG_F64, 2, TT_SHAPE(n, k), 20 + s, -1, 1);
        double *a = vals(ta), *b = vals(tb);
        a[0] = 0; /* pivoting needed (n > 1), singular for n = 1 */
        if (n == 1) a[0] = 0.5;
        for (int path = 0; path < 2; path++)
            for (int trans = 0; trans < 2; trans++) {
                double lu[25], x[15], work[15];
                int piv[5];
                memcpy(lu, a, sizeof(double) * (size_t)(n * n));
                memcpy(x, b, sizeof(double) * (size_t)(n * k));
                const int info =
                    path ? tg__lu_fallback(TG_F64, n, lu, piv) : tg__lu(TG_F64, n, lu, piv);
                ck_assert_int_eq(info, 0);
                if (path)
                    tg__lu_solve_fallback(TG_F64, n, k, lu, piv, trans, x);
                else
                    tg__lu_solve(TG_F64, n, k, lu, piv, trans, x, work);
                for (int i = 0; i < n; i++)
                    for (int c = 0; c < k; c++) {
                        double r = 0;
                        for (int j = 0; j < n; j++)
                            r += (trans ? a[j * n + i] : a[i * n + j]) * x[j * k + c];
                        ck_assert_msg(fabs(r - b[i * k + c]) < 1e-12,
                                      "n %d path %d trans %d: residual %g", n, path, trans,
                                      r - b[i * k + c]);
                    }
            }
        free(a);
        free(b);
        tg_tensor_free(ta);
        tg_tensor_free(tb);
    }
}
END_TEST

/* A zero pivot is reported by both paths, with its 1-based index. */
START_TEST(test_kernels_singular)
{
    const double s[9] = {1, 2, 3, 2, 4, 6, 1, 0, 1}; /* row 1 = 2 row 0 */
    for (int path = 0; path < 2; path++) {
        double lu[9];
        int piv[3];
        memcpy(lu, s, sizeof lu);
        const int info = path ? tg__lu_fallback(TG_F64, 3, lu, piv) : tg__lu(TG_F64, 3, lu, piv);
        ck_assert_msg(info > 0, "path %d: singular not found", path);
    }
}
END_TEST

/* L L^T = A for both paths; the upper triangle of A is not read, L's is
 * zero; a matrix that is not positive definite gives the failing order. */
START_TEST(test_kernels_cholesky)
{
    for (int s = 0; s < LEN(k_sizes); s++) {
        const int n = k_sizes[s];
        tg_tensor *t = well_cond(TG_F64, 0, NULL, n, 30 + s);
        double *a = vals(t);
        for (int i = 0; i < n; i++) /* symmetric from the lower triangle */
            for (int j = i + 1; j < n; j++) a[i * n + j] = a[j * n + i];
        for (int path = 0; path < 2; path++) {
            double l[25];
            memcpy(l, a, sizeof(double) * (size_t)(n * n));
            for (int i = 0; i < n; i++) /* garbage above: must not be read */
                for (int j = i + 1; j < n; j++) l[i * n + j] = 1e300;
            const int info =
                path ? tg__cholesky_fallback(TG_F64, n, l) : tg__cholesky(TG_F64, n, l);
            ck_assert_int_eq(info, 0);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) {
                    if (j > i) ck_assert(l[i * n + j] == 0);
                    double r = 0;
                    for (int c = 0; c < n; c++) r += l[i * n + c] * l[j * n + c];
                    ck_assert_msg(fabs(r - a[i * n + j]) < 1e-12, "n %d path %d", n, path);
                }
        }
        free(a);
        tg_tensor_free(t);
    }
    const double np[4] = {1, 2, 2, 1}; /* eigenvalues 3, -1 */
    const double nan2[4] = {1, 0, 0, NAN}, nan1[4] = {1, 0, NAN, 1};
    for (int path = 0; path < 2; path++) {
        double l[4];
        memcpy(l, np, sizeof l);
        ck_assert_int_eq(path ? tg__cholesky_fallback(TG_F64, 2, l) : tg__cholesky(TG_F64, 2, l),
                         2);
        memcpy(l, nan2, sizeof l); /* a NaN pivot is not positive */
        ck_assert_int_eq(path ? tg__cholesky_fallback(TG_F64, 2, l) : tg__cholesky(TG_F64, 2, l),
                         2);
        memcpy(l, nan1, sizeof l); /* nor one made NaN by the elimination */
        ck_assert_int_eq(path ? tg__cholesky_fallback(TG_F64, 2, l) : tg__cholesky(TG_F64, 2, l),
                         2);
    }
}
END_TEST

/* T X = B and T^T X = B for both triangles and both paths, the other
 * triangle holding garbage that must not be read. */
START_TEST(test_kernels_tri)
{
    for (int s = 0; s < LEN(k_sizes); s++) {
        const int n = k_sizes[s], k = 2;
        tg_tensor *ta = well_cond(TG_F64, 0, NULL, n, 40 + s);
        tg_tensor *tb = tt_rand(TG_F64, 2, TT_SHAPE(n, k), 50 + s, -1, 1);
        double *a = vals(ta), *b = vals(tb);
        for (int v = 0; v < 8; v++) {
            const bool upper = v & 1, trans = v & 2, path = v & 4;
            double t[25], x[10], work[10];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    t[i * n + j] = (upper ? j >= i : j <= i) ? a[i * n + j] : NAN;
            memcpy(x, b, sizeof(double) * (size_t)(n * k));
            if (path)
                tg__tri_solve_fallback(TG_F64, n, k, t, upper, trans, x);
            else
                tg__tri_solve(TG_F64, n, k, t, upper, trans, x, work);
            for (int i = 0; i < n; i++)
                for (int c = 0; c < k; c++) {
                    double r = 0;
                    for (int j = 0; j < n; j++) {
                        const int ii = trans ? j : i, jj = trans ? i : j;
                        if (upper ? jj >= ii : jj <= ii) r += a[ii * n + jj] * x[j * k + c];
                    }
                    ck_assert_msg(fabs(r - b[i * k + c]) < 1e-12, "n %d variant %d", n, v);
                }
        }
        free(a);
        free(b);
        tg_tensor_free(ta);
        tg_tensor_free(tb);
    }
}
END_TEST

START_TEST(test_backend_name)
{
    ck_assert_str_eq(tg__lapack_backend(), TG_HAVE_LAPACK ? "lapack" : "builtin");
}
END_TEST

/* ---- forward values -------------------------------------------------------------- */

START_TEST(test_det_hand)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *a = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(1, 2, 3, 4));
    tg_tensor *b = tt_from(TG_F64, 3, TT_SHAPE(2, 3, 3),
                           TT_VALUES(2, 0, 1, 1, 3, 2, 1, 1, 2,   /* det 6 */
                                     0, 1, 0, 1, 0, 0, 0, 0, 1)); /* a swap: det -1 */
    tt_assert_values("det 2x2", tg_det(tp, a), TT_VALUES(-2), 1, 1e-15, 0);
    tt_assert_values("det batch", tg_det(tp, b), TT_VALUES(6, -1), 2, 1e-15, 1e-15);
    tg_tensor *sign = NULL;
    tg_tensor *l = tg_slogdet(tp, b, &sign);
    tt_assert_values("slogdet", l, TT_VALUES(log(6.0), 0), 2, 1e-15, 1e-15);
    tt_assert_values("sign", sign, TT_VALUES(1, -1), 2, 0, 0);
    tt_assert_values("slogdet 2x2", tg_slogdet(tp, a, &sign), TT_VALUES(log(2.0)), 1, 1e-15, 0);
    tt_assert_values("sign 2x2", sign, TT_VALUES(-1), 1, 0, 0);
    ck_assert(!tg_tensor_requires_grad(sign));
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* A singular matrix: det 0, log |det| -inf and sign 0 (PyTorch's values),
 * not an error; only the gradient is (test_errors). */
START_TEST(test_det_singular_forward)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *a = tt_from(TG_F64, 2, TT_SHAPE(3, 3), TT_VALUES(1, 2, 3, 2, 4, 6, 1, 0, 1));
    tg_tensor *d = tg_det(tp, a);
    ck_assert(d && tg_tensor_get_flat(d, 0) == 0);
    tg_tensor *sign = NULL;
    tg_tensor *l = tg_slogdet(tp, a, &sign);
    ck_assert(l && tg_tensor_get_flat(l, 0) == -INFINITY);
    ck_assert(tg_tensor_get_flat(sign, 0) == 0 && !signbit(tg_tensor_get_flat(sign, 0)));
    tg_tape_free(tp);
    tg_tensor_free(a);
}
END_TEST

/* [[4, 2], [2, 3]] = L L^T with L = [[2, 0], [1, sqrt 2]]; the upper
 * triangle is not read. */
START_TEST(test_cholesky_hand)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *a = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(4, 99, 2, 3));
    tt_assert_values("cholesky", tg_cholesky(tp, a), TT_VALUES(2, 0, 1, sqrt(2.0)), 4, 1e-15, 0);
    tt_assert_values("input untouched", a, TT_VALUES(4, 99, 2, 3), 4, 0, 0);
    tg_tape_free(tp);
    tg_tensor_free(a);
}
END_TEST

/* Over sizes and batches: a @ solve(a, b) = b, inv(inv(a)) = a, a inv(a) =
 * I, L L^T = a, tri @ solve_triangular = b, det = exp(log|det|) sign; and
 * the inputs are unchanged. */
START_TEST(test_identities)
{
    static const int64_t batch[2] = {2, 3};
    for (int s = 0; s < LEN(k_sizes); s++)
        for (int nb = 0; nb <= 2; nb++) {
            const int n = k_sizes[s];
            tg_tape *tp = tg_tape_new(NULL);
            tg_tensor *a = well_cond(TG_F64, nb, batch, n, 100 + s * 3 + nb);
            int64_t bs[4] = {2, 3, 0, 0};
            bs[nb] = n;
            bs[nb + 1] = 2;
            tg_tensor *b = tt_rand(TG_F64, nb + 2, bs, 200 + s, -1, 1);
            double *a0 = vals(a), *b0 = vals(b);
            tg_tensor *a3 = tg_reshape(tp, a, 3, TT_SHAPE(tg_tensor_numel(a) / (n * n), n, n));
            tg_tensor *b3 = tg_reshape(tp, b, 3, TT_SHAPE(tg_tensor_numel(b) / (n * 2), n, 2));
            tg_tensor *x = tg_solve(tp, a, b);
            tt_assert_close("a @ solve(a, b)",
                            tg_matmul(tp, a3, tg_reshape(tp, x, 3, tg_tensor_shape(b3))), b3, 1e-12,
                            1e-12);
            tt_assert_close("inv(inv(a))", tg_inv(tp, tg_inv(tp, a)), a, 1e-12, 1e-12);
            tg_tensor *l = tg_cholesky(tp, tg_add(tp, a, tg_transpose(tp, a, -1, -2)));
            tg_tensor *l3 = tg_reshape(tp, l, 3, tg_tensor_shape(a3));
            tg_tensor *sym = tg_add(tp, a3, tg_transpose(tp, a3, 1, 2));
            tt_assert_close("L L^T", tg_matmul_t(tp, l3, l3, false, true), sym, 1e-12, 1e-12);
            for (int up = 0; up < 2; up++) { /* the triangle times the solution is b */
                tg_tensor *xt = tg_solve_triangular(tp, a, b, up);
                double *av = vals(a), *xv = vals(xt), *bv = vals(b);
                const int64_t items = tg_tensor_numel(a) / (n * n);
                for (int64_t it = 0; it < items; it++)
                    for (int i = 0; i < n; i++)
                        for (int c = 0; c < 2; c++) {
                            double r = 0;
                            for (int j = up ? i : 0; j < (up ? n : i + 1); j++)
                                r += av[it * n * n + i * n + j] * xv[(it * n + j) * 2 + c];
                            ck_assert(fabs(r - bv[(it * n + i) * 2 + c]) < 1e-12);
                        }
                free(av);
                free(xv);
                free(bv);
            }
            tg_tensor *sign = NULL;
            tg_tensor *ld = tg_slogdet(tp, a, &sign);
            tt_assert_close("det = sign exp(logabs)", tg_det(tp, a),
                            tg_mul(tp, sign, tg_exp(tp, ld)), 1e-12, 1e-12);
            ck_assert_int_eq(tg_tape_status(tp), TG_OK);
            tt_assert_values("a untouched", a, a0, tg_tensor_numel(a), 0, 0);
            tt_assert_values("b untouched", b, b0, tg_tensor_numel(b), 0, 0);
            free(a0);
            free(b0);
            tg_tape_free(tp);
            tg_tensor_free(a);
            tg_tensor_free(b);
        }
}
END_TEST

/* ---- gradients ------------------------------------------------------------------ */
enum { G_SOLVE, G_TRI_UP, G_TRI_LO, G_CHOL, G_INV, G_DET, G_SLOGDET, G_COUNT };
static const char *const k_gname[] = {
    "solve",  "solve_triangular upper", "solve_triangular lower", "cholesky", "inv", "det",
    "slogdet"};

typedef struct gctx {
    int op;
} gctx;

/* The op on a (and b), cholesky on the symmetric a + a^T. */
static tg_tensor *apply(tg_tape *tp, int op, tg_tensor *a, tg_tensor *b)
{
    switch (op) {
    case G_SOLVE:
        return tg_solve(tp, a, b);
    case G_TRI_UP:
        return tg_solve_triangular(tp, a, b, true);
    case G_TRI_LO:
        return tg_solve_triangular(tp, a, b, false);
    case G_CHOL:
        return tg_cholesky(tp, tg_add(tp, a, tg_transpose(tp, a, -1, -2)));
    case G_INV:
        return tg_inv(tp, a);
    case G_DET:
        return tg_det(tp, a);
    default:
        return tg_slogdet(tp, a, NULL);
    }
}

static bool two_inputs(int op)
{
    return op == G_SOLVE || op == G_TRI_UP || op == G_TRI_LO;
}

static tg_tensor *fn_first(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const gctx *c = ctx;
    return apply(tp, c->op, in[0], two_inputs(c->op) ? in[1] : NULL);
}

/* d sum(op^3) / da, recorded: its gradient checks the op-built rules (a
 * cube, as the square of a 1x1 Cholesky factor is linear in a). */
static tg_tensor *fn_second(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const gctx *c = ctx;
    tg_tensor *y = apply(tp, c->op, in[0], two_inputs(c->op) ? in[1] : NULL);
    tg_tensor *s = tg_sum_all(tp, tg_mul(tp, y, tg_square(tp, y)));
    return s ? tg_grad(tp, s, in[0], true) : NULL;
}

/* f64 gradcheck of every op over sizes 1, 2, 3, 5 and 0-, 1- and 2-d
 * batches (a and b), first order (direct and op-built rules against
 * finite differences); second order over sizes 1, 2, 3. */
static void check_grads(bool second)
{
    static const int64_t batch[2] = {2, 3};
    for (int op = 0; op < G_COUNT; op++)
        for (int s = 0; s < LEN(k_sizes) - (second ? 1 : 0); s++)
            for (int nb = 0; nb <= 2; nb++) {
                const int n = k_sizes[s];
                tg_tensor *in[2];
                in[0] = well_cond(TG_F64, nb, batch, n, 300 + op * 20 + s * 3 + nb);
                int64_t bs[4] = {2, 3, 0, 0};
                bs[nb] = n;
                bs[nb + 1] = 2;
                in[1] = tt_rand(TG_F64, nb + 2, bs, 400 + s, -1, 1);
                tg_tensor_set_requires_grad(in[0], true);
                tg_tensor_set_requires_grad(in[1], true);
                char label[96];
                snprintf(label, sizeof label, "%s%s n %d batch axes %d", k_gname[op],
                         second ? " (second order)" : "", n, nb);
                gctx c = {op};
                tt_gradcheck(label, second ? fn_second : fn_first, &c, two_inputs(op) ? 2 : 1, in);
                tg_tensor_free(in[0]);
                tg_tensor_free(in[1]);
            }
}

static tg_tensor *fn_solve_pair(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const bool *tri = ctx;
    return *tri ? tg_solve_triangular(tp, in[0], in[1], false) : tg_solve(tp, in[0], in[1]);
}

/* Batch axes that broadcast (tg__la_stretch), for solve and the lower
 * triangular solve: every item of x solves its own system (a x = b to
 * 1e-12, a lower triangular so both ops solve the same one), and both
 * gradients pass gradcheck (a stretched operand's sums over the items that
 * shared it). */
START_TEST(test_broadcast_batches)
{
    static const struct {
        int na, nb;
        int64_t ba[2], sb[4];
    } cases[] = {
        {2, 3, {2, 1}, {4, 3, 2}}, /* (2,1,3,3) and (4,3,2): x (2,4,3,2) */
        {0, 3, {0}, {2, 3, 2}},    /* one (3,3) shared by (2,3,2) */
        {1, 4, {1}, {2, 2, 3, 1}}, /* (1,3,3) and (2,2,3,1) */
        {2, 2, {3, 2}, {3, 2}},    /* (3,2,3,3) and one (3,2) */
    };
    for (int tri = 0; tri < 2; tri++)
        for (int i = 0; i < LEN(cases); i++) {
            tg_tensor *a = well_cond(TG_F64, cases[i].na, cases[i].ba, 3, 700 + (uint64_t)i);
            double *p = tg_tensor_data(a);
            for (int64_t e = 0; e < tg_tensor_numel(a); e++)
                if (e % 3 > (e / 3) % 3) p[e] = 0; /* column > row: the upper triangle */
            tg_tensor_mark_modified(a);
            tg_tensor *b = tt_rand(TG_F64, cases[i].nb, cases[i].sb, 800 + (uint64_t)i, -1, 1);
            char label[64];
            snprintf(label, sizeof label, "%s case %d", tri ? "solve_triangular" : "solve", i);
            tg_tape *tp = tg_tape_new(NULL);
            bool t = tri;
            tg_tensor *pair[2] = {a, b};
            tg_tensor *x = fn_solve_pair(tp, pair, &t);
            ck_assert_msg(x, "%s: %s", label, tg_tape_error(tp));
            tg_tensor *bx = tg_broadcast_to(tp, b, tg_tensor_ndim(x), tg_tensor_shape(x));
            tt_assert_close(label, tg_matmul(tp, a, x), bx, 1e-12, 1e-12);
            tg_tape_free(tp);
            tg_tensor_set_requires_grad(a, true);
            tg_tensor_set_requires_grad(b, true);
            tt_gradcheck(label, fn_solve_pair, &t, 2, pair);
            tg_tensor_free(a);
            tg_tensor_free(b);
        }
}
END_TEST

START_TEST(test_gradcheck_first)
{
    check_grads(false);
}
END_TEST

START_TEST(test_gradcheck_second)
{
    check_grads(true);
}
END_TEST

/* Closed forms: for X = [[1, 2], [3, 4]], d log|det X| / dX = X^-T =
 * [[-2, 1.5], [1, -0.5]] and d det X / dX = det X X^-T = [[4, -3], [-2, 1]]
 * (the cofactors); over a batch of 5x5, d log|det X| / dX = inv(X)^T. */
START_TEST(test_closed_forms)
{
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(1, 2, 3, 4));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    for (int create = 0; create < 2; create++) {
        tt_assert_values("dlog|det|/dX", tg_grad(tp, tg_slogdet(tp, x, NULL), x, create),
                         TT_VALUES(-2, 1.5, 1, -0.5), 4, 1e-14, 1e-14);
        tt_assert_values("ddet/dX", tg_grad(tp, tg_det(tp, x), x, create), TT_VALUES(4, -3, -2, 1),
                         4, 1e-14, 1e-14);
    }
    tg_tensor *y = well_cond(TG_F64, 1, TT_SHAPE(3), 5, 77);
    tg_tensor_set_requires_grad(y, true);
    tg_tensor *g = tg_grad(tp, tg_sum_all(tp, tg_slogdet(tp, y, NULL)), y, false);
    tt_assert_close("dlog|det|/dX = X^-T", g, tg_transpose(tp, tg_inv(tp, y), 1, 2), 1e-12, 1e-13);
    /* d tr(inv X) / dX = -(X^-2)^T */
    tg_tensor *yi = tg_inv(tp, y);
    g = tg_grad(tp, tg_sum_all(tp, yi), y, false);
    tg_tensor *ones = tg_tensor_ones(TG_F64, 3, TT_SHAPE(3, 5, 5));
    tg_tensor *ref =
        tg_neg(tp, tg_matmul_t(tp, tg_matmul_t(tp, yi, ones, true, false), yi, false, true));
    tt_assert_close("d sum(inv X)/dX = -X^-T 1 X^-T", g, ref, 1e-12, 1e-13);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(ones);
    tg_tensor_free(x);
    tg_tensor_free(y);
}
END_TEST

/* sum(W * cholesky(a)) for a fixed W. */
static double chol_loss(const tg_tensor *a, tg_tensor *w)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *ac = tg_tensor_clone(a);
    const double v = tg_tensor_get_flat(tg_sum_all(tp, tg_mul(tp, tg_cholesky(tp, ac), w)), 0);
    tg_tape_free(tp);
    tg_tensor_free(ac);
    return v;
}

/* The Cholesky gradient with respect to a itself (not through a + a^T) is
 * the symmetric one: ga = ga^T, and <ga, E> is the derivative along every
 * symmetric direction E (central differences), from both rules. */
START_TEST(test_cholesky_grad_symmetric)
{
    const int n = 4;
    tg_tensor *x = well_cond(TG_F64, 0, NULL, n, 91);
    double *p = tg_tensor_data(x);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) p[j * n + i] = p[i * n + j];
    tg_tensor_mark_modified(x);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor *w = tt_rand(TG_F64, 2, TT_SHAPE(n, n), 92, -1, 1);
    for (int create = 0; create < 2; create++) {
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *g = tg_grad(tp, tg_sum_all(tp, tg_mul(tp, tg_cholesky(tp, x), w)), x, create);
        ck_assert_ptr_nonnull(g);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                const double gij = tg_tensor_get_flat(g, i * n + j);
                ck_assert_msg(fabs(gij - tg_tensor_get_flat(g, j * n + i)) < 1e-14,
                              "create %d: not symmetric at [%d,%d]", create, i, j);
                /* E = e_i e_j^T + e_j e_i^T (halved on the diagonal) */
                const double h = 1e-6, s = i == j ? 1 : 2;
                p[i * n + j] += h;
                if (i != j) p[j * n + i] += h;
                tg_tensor_mark_modified(x);
                const double up = chol_loss(x, w);
                p[i * n + j] -= 2 * h;
                if (i != j) p[j * n + i] -= 2 * h;
                tg_tensor_mark_modified(x);
                const double down = chol_loss(x, w);
                p[i * n + j] += h;
                if (i != j) p[j * n + i] += h;
                tg_tensor_mark_modified(x);
                ck_assert_msg(fabs(s * gij - (up - down) / (2 * h)) < 1e-7,
                              "create %d [%d,%d]: %g vs %g", create, i, j, s * gij,
                              (up - down) / (2 * h));
            }
        tg_tape_free(tp);
    }
    tg_tensor_free(x);
    tg_tensor_free(w);
}
END_TEST

/* f32 against f64, forward and gradient, for every op. */
START_TEST(test_f32_vs_f64)
{
    for (int op = 0; op < G_COUNT; op++) {
        tg_tensor *a64 = well_cond(TG_F64, 1, TT_SHAPE(3), 4, 500 + op);
        tg_tensor *b64 = tt_rand(TG_F64, 3, TT_SHAPE(3, 4, 2), 600 + op, -1, 1);
        tg_tensor *a32 = tg_tensor_cast_new(a64, TG_F32), *b32 = tg_tensor_cast_new(b64, TG_F32);
        tg_tensor_set_requires_grad(a64, true);
        tg_tensor_set_requires_grad(a32, true);
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y64 = apply(tp, op, a64, b64), *y32 = apply(tp, op, a32, b32);
        tt_assert_close(k_gname[op], tg_cast(tp, y32, TG_F64), y64, 1e-5, 1e-5);
        tg_tensor *g64 = tg_grad(tp, tg_sum_all(tp, y64), a64, false);
        tg_tensor *g32 = tg_grad(tp, tg_sum_all(tp, y32), a32, false);
        tt_assert_close(k_gname[op], tg_cast(tp, g32, TG_F64), g64, 1e-4, 1e-5);
        ck_assert_int_eq(tg_tape_status(tp), TG_OK);
        tg_tape_free(tp);
        tg_tensor_free(a64);
        tg_tensor_free(b64);
        tg_tensor_free(a32);
        tg_tensor_free(b32);
    }
}
END_TEST

/* n = 0, an empty batch and k = 0: empty results (det of a 0x0 matrix is
 * 1, its log 0, its sign 1, as PyTorch), zero gradients, no error. */
START_TEST(test_empty)
{
    static const int64_t shapes[3][3] = {{0, 0, 0}, {0, 3, 3}, {2, 3, 3}};
    static const int64_t rhs[3][3] = {{0, 0, 2}, {0, 3, 2}, {2, 3, 0}};
    static const int nds[3] = {2, 3, 3};
    for (int c = 0; c < 3; c++) {
        const int nd = nds[c];
        const int64_t *sa = nd == 2 ? shapes[c] + 1 : shapes[c],
                      *sb = nd == 2 ? rhs[c] + 1 : rhs[c];
        tg_tensor *a = tg_tensor_zeros(TG_F64, nd, sa), *b = tg_tensor_zeros(TG_F64, nd, sb);
        if (c == 2) { /* k = 0 with real matrices: the identity */
            double *p = tg_tensor_data(a);
            for (int64_t i = 0; i < 18; i++) p[i] = i % 9 % 4 == 0;
            tg_tensor_mark_modified(a);
        }
        tg_tensor_set_requires_grad(a, true);
        tg_tensor_set_requires_grad(b, true);
        for (int op = 0; op < G_COUNT; op++) {
            tg_tape *tp = tg_tape_new(NULL);
            tg_tensor *y = apply(tp, op, a, b);
            ck_assert_msg(y != NULL, "%s case %d: %s", k_gname[op], c, tg_tape_error(tp));
            if (nd == 2 && (op == G_DET || op == G_SLOGDET))
                ck_assert(tg_tensor_get_flat(y, 0) == (op == G_DET ? 1 : 0));
            tg_tensor *g = tg_grad(tp, tg_sum_all(tp, y), a, false);
            ck_assert_msg(g != NULL, "%s case %d: %s", k_gname[op], c, tg_tape_error(tp));
            tt_assert_shape(g, nd, sa);
            for (int64_t i = 0; tg_tensor_numel(y) == 0 && i < tg_tensor_numel(g); i++)
                ck_assert(tg_tensor_get_flat(g, i) == 0);
            tg_tape_free(tp);
        }
        tg_tensor_free(a);
        tg_tensor_free(b);
    }
}
END_TEST

/* A huge batch of 0x0 matrices (no data at all) costs nothing: no loop
 * runs once per batch item. */
START_TEST(test_empty_huge_batch)
{
    const int64_t big = INT64_C(1) << 40;
    tg_tensor *a = tg_tensor_zeros(TG_F64, 3, TT_SHAPE(big, 0, 0));
    tg_tensor *b = tg_tensor_zeros(TG_F64, 3, TT_SHAPE(big, 0, 2));
    tg_tensor_set_requires_grad(a, true);
    for (int op = 0; op < G_COUNT; op++) {
        if (op == G_DET || op == G_SLOGDET) continue; /* a (2^40) result: memory, not time */
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = apply(tp, op, a, b);
        ck_assert_msg(y != NULL, "%s: %s", k_gname[op], tg_tape_error(tp));
        ck_assert_int_eq(tg_tensor_numel(y), 0);
        ck_assert_ptr_nonnull(tg_grad(tp, tg_sum_all(tp, y), a, false));
        tg_tape_free(tp);
    }
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* ---- errors ---------------------------------------------------------------------- */
START_TEST(test_errors)
{
    /* item 2 of 3 singular */
    tg_tensor *a =
        tt_from(TG_F64, 3, TT_SHAPE(3, 2, 2), TT_VALUES(1, 0, 0, 1, 2, 1, 1, 2, 1, 2, 2, 4));
    tg_tensor *b = tt_rand(TG_F64, 3, TT_SHAPE(3, 2, 1), 1, -1, 1);
    EXPECT_ERR(tg_solve(tp, a, b), TG_ERR_ARG,
               "solve: matrix 2 of 3 is singular (U[1,1] = 0); a (3,2,2)");
    EXPECT_ERR(tg_inv(tp, a), TG_ERR_ARG, "inv: matrix 2 of 3 is singular (U[1,1] = 0)");
    tg_tensor *t = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(1, 5, 7, 0));
    tg_tensor *b2 = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 2, -1, 1);
    EXPECT_ERR(tg_solve_triangular(tp, t, b2, true), TG_ERR_ARG,
               "solve_triangular: matrix 0 of 1 is singular (A[1,1] = 0); a (2,2)");
    tg_tensor *np = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(1, 2, 2, 1));
    EXPECT_ERR(tg_cholesky(tp, np), TG_ERR_ARG,
               "cholesky: matrix 0 of 1 is not positive definite (pivot 1); a (2,2)");
    tg_tensor *r = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 3, -1, 1);
    EXPECT_ERR(tg_det(tp, r), TG_ERR_SHAPE,
               "det: a (2,3) is not a batch of square matrices (..., n, n)");
    tg_tensor *r31 = tt_rand(TG_F64, 2, TT_SHAPE(3, 1), 4, -1, 1);
    EXPECT_ERR(tg_solve(tp, t, r31), TG_ERR_SHAPE,
               "solve: a (2,2) and b (3,1): b must be (..., 2, k) with batch extents that "
               "broadcast against a's");
    tg_tensor *b223 = tt_rand(TG_F64, 3, TT_SHAPE(2, 2, 3), 5, -1, 1);
    EXPECT_ERR(tg_solve(tp, a, b223), TG_ERR_SHAPE, "a (3,2,2) and b (2,2,3)",
               "b must be (..., 2, k)");
    tg_tensor *f = tg_tensor_cast_new(b2, TG_F32);
    EXPECT_ERR(tg_solve(tp, t, f), TG_ERR_DTYPE, "solve");
    tg_tensor *i64 = tg_tensor_zeros(TG_I64, 2, TT_SHAPE(2, 2));
    EXPECT_ERR(tg_inv(tp, i64), TG_ERR_DTYPE,
               "inv: input 0 is i64[2,2]: an integer tensor is data only");
    tg_tensor *e = tg_tensor_zeros(TG_F64, 3, TT_SHAPE(0, 1, 1));
    tg_tensor *wide = tg_tensor_zeros(TG_F64, 3, TT_SHAPE(0, 1, 3000000000));
    EXPECT_ERR(tg_solve(tp, e, wide), TG_ERR_SHAPE,
               "solve: b (0,1,3000000000) has 3000000000 columns, more than LAPACK's 32-bit "
               "integers hold");
    /* a singular matrix's determinant is 0; its gradient is an error */
    tg_tensor *sg = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(1, 2, 2, 4));
    tg_tensor_set_requires_grad(sg, true);
    for (int op = 0; op < 2; op++)
        for (int create = 0; create < 2; create++) {
            tg_tape *tp = tg_tape_new(NULL);
            tg_tensor *y = op ? tg_slogdet(tp, sg, NULL) : tg_det(tp, sg);
            ck_assert_ptr_nonnull(y);
            ck_assert_ptr_null(tg_grad(tp, y, sg, create));
            tt_assert_tape_error(tp, TG_ERR_ARG, op ? "slogdet" : "det",
                                 ": the gradient at singular matrix 0 of 1 is not defined "
                                 "(det = 0); a (2,2)");
            tg_tape_free(tp);
        }
    tg_tensor *all[] = {a, b, t, b2, b223, np, r, r31, f, i64, e, wide, sg};
    for (int i = 0; i < LEN(all); i++) tg_tensor_free(all[i]);
}
END_TEST

/* ---- the same bits with any thread count -------------------------------------
 * OpenBLAS's threaded getrf (n = 200 here) and getrs (k = 4 right-hand
 * sides, at any n) round otherwise than its one-thread routines.  Every
 * linear algebra op, forward and gradient, at 1, 2 and 3 threads must be the
 * same bytes; the first pass sets OpenBLAS to one thread and the last to two,
 * as programs calling openblas_set_num_threads would. */
#if TG_HAVE_CBLAS
void openblas_set_num_threads(int n);
#endif

enum { LA_OUTS = 8 };

/* Forward values of solve, solve_triangular (lower, upper), cholesky of the
 * symmetric s, inv and slogdet, and the gradient of the sum of their squares
 * with respect to a, b and s: LA_OUTS tensors into out. */
static void la_run(const tg_tensor *a0, const tg_tensor *b0, const tg_tensor *s0, tg_tensor **out)
{
    tg_tensor *a = tg_tensor_clone(a0), *b = tg_tensor_clone(b0), *sy = tg_tensor_clone(s0);
    tg_tensor *in[] = {a, b, sy};
    for (int i = 0; i < 3; i++) tg_tensor_set_requires_grad(in[i], true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y[] = {tg_solve(tp, a, b), tg_solve_triangular(tp, a, b, false),
                      tg_solve_triangular(tp, a, b, true), tg_cholesky(tp, sy), tg_inv(tp, a)};
    tg_tensor *loss = tg_slogdet(tp, a, NULL);
    for (int i = 0; i < LEN(y); i++) loss = tg_add(tp, loss, tg_sum_all(tp, tg_square(tp, y[i])));
    ck_assert_msg(tg_backward(tp, loss) == TG_OK, "%s", tg_tape_error(tp));
    for (int i = 0; i < LEN(y); i++) out[i] = tg_tensor_cast_new(y[i], tg_tensor_dtype(y[i]));
    for (int i = 0; i < 3; i++) out[LEN(y) + i] = tg_tensor_clone(tg_tensor_grad(in[i]));
    tg_tape_free(tp);
    for (int i = 0; i < 3; i++) tg_tensor_free(in[i]);
}

START_TEST(test_same_bits_any_threads)
{
    static const int sizes[] = {4, 200};
    for (int d = 0; d < 2; d++)
        for (int si = 0; si < LEN(sizes); si++) {
            const tg_dtype dt = d ? TG_F64 : TG_F32;
            const int n = sizes[si];
            tg_tensor *a = well_cond(dt, 0, NULL, n, 77);
            tg_tensor *b = tt_rand(dt, 2, TT_SHAPE(n, 4), 78, -1, 1);
            /* (a + a^T) / 2 stays diagonally dominant: positive definite */
            tg_tensor *sy = tg_tensor_clone(a);
            double *v = vals(a);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    tg_tensor_set_flat(sy, i * n + j, 0.5 * (v[i * n + j] + v[j * n + i]));
            free(v);
            tg_tensor *one[LA_OUTS], *more[LA_OUTS];
            ck_assert_int_eq(tg_set_num_threads(1), TG_OK);
#if TG_HAVE_CBLAS
            openblas_set_num_threads(1);
#endif
            la_run(a, b, sy, one);
            for (int t = 2; t <= 4; t++) {
                ck_assert_int_eq(tg_set_num_threads(t == 4 ? 2 : t), TG_OK);
#if TG_HAVE_CBLAS
                if (t == 4) openblas_set_num_threads(2);
#endif
                la_run(a, b, sy, more);
                for (int i = 0; i < LA_OUTS; i++) {
                    const size_t bytes = (size_t)tg_tensor_numel(one[i]) * tg_dtype_size(dt);
                    ck_assert_msg(tg_tensor_numel(one[i]) == tg_tensor_numel(more[i]) &&
                                      memcmp(tg_tensor_data_const(one[i]),
                                             tg_tensor_data_const(more[i]), bytes) == 0,
                                  "%s n=%d: output %d with %d threads%s differs from 1 thread's",
                                  tg_dtype_name(dt), n, i, t == 4 ? 2 : t,
                                  t == 4 ? " (OpenBLAS set to 2)" : "");
                    tg_tensor_free(more[i]);
                }
            }
            for (int i = 0; i < LA_OUTS; i++) tg_tensor_free(one[i]);
            tg_tensor_free(a);
            tg_tensor_free(b);
            tg_tensor_free(sy);
        }
    ck_assert_int_eq(tg_set_num_threads(0), TG_OK);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("linalg");
    TCase *tc = tcase_create("kernels");
    tcase_add_test(tc, test_kernels_lu);
    tcase_add_test(tc, test_kernels_singular);
    tcase_add_test(tc, test_kernels_cholesky);
    tcase_add_test(tc, test_kernels_tri);
    tcase_add_test(tc, test_backend_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("forward");
    tcase_add_test(tc, test_det_hand);
    tcase_add_test(tc, test_det_singular_forward);
    tcase_add_test(tc, test_cholesky_hand);
    tcase_add_test(tc, test_identities);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_empty_huge_batch);
    suite_add_tcase(s, tc);

    tc = tcase_create("gradient");
    tcase_add_test(tc, test_gradcheck_first);
    tcase_add_test(tc, test_broadcast_batches);
    tcase_add_test(tc, test_gradcheck_second);
    tcase_add_test(tc, test_closed_forms);
    tcase_add_test(tc, test_cholesky_grad_symmetric);
    tcase_add_test(tc, test_f32_vs_f64);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_same_bits_any_threads);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
