/* Determinants and the Cholesky factor over batches of matrices, with the
 * standard adjoints (M. B. Giles, "An extended collection of matrix
 * derivative results", 2008; I. Murray, "Differentiation of the Cholesky
 * decomposition", 2016):
 *     d = det A:          gA = g d A^-T;
 *     l = log |det A|:    gA = g A^-T;
 *     A = L L^T:          S = L^-T Phi(L^T gL) L^-1,  gA = (S + S^T) / 2,
 * Phi taking the lower triangle with its diagonal halved.  The Cholesky
 * factor reads A's lower triangle only; its gradient is the symmetric one
 * (what a symmetric perturbation of A sees), as PyTorch's.  At a singular
 * A the determinant is 0 (log |det| -inf, sign 0) and the gradient an
 * error: A^-T does not exist there (docs/api.md). */
#include "linalg.h"

#include "../kernels/gemm.h"
#include "../kernels/lapack.h"

/* ---- det and slogdet --------------------------------------------------------- */
typedef struct det_attr {
    bool log; /* slogdet: the output is log |det| */
} det_attr;

/* det (or sign and log |det|) of each batch item of a, through LU of a
 * copy; out holds det or log |det|, sign (may be NULL) the signs. */
static bool det_forward(tg_tape *tp, const tg_tensor *a, int64_t batch, int n, bool want_log,
                        tg_tensor *out, tg_tensor *sign)
{
    void *lu = tg__la_scratch(tp, a->dtype, (int64_t)n * n);
    int *piv = lu ? tg__tape_scratch(tp, sizeof(int) * (size_t)(n ? n : 1)) : NULL;
    if (!piv) return false;
    const size_t sq = (size_t)n * (size_t)n;
    TG_DISPATCH(a->dtype, T, {
        for (int64_t i = 0; i < batch; i++) {
            T *m = lu;
            if (n) memcpy(m, tg__la_item(a, i, (int64_t)sq), sq * sizeof(T));
            (void)tg__lu(a->dtype, n, m, piv);
            T det = 1, labs = 0, sgn = 1;
            for (int j = 0; j < n; j++) {
                const T u = m[(size_t)j * n + j];
                const bool swap = piv[j] - 1 != j;
                det *= swap ? -u : u;
                if (u == 0)
                    sgn = 0;
                else if ((u < 0) != swap)
                    sgn = -sgn;
                labs += TG_LOG(TG_FABS(u));
            }
            if (sgn == 0) sgn = 0; /* not -0 */
            ((T *)out->data)[i] = want_log ? labs : det;
            if (sign) ((T *)sign->data)[i] = sgn;
        }
    });
    return true;
}

/* The gradient needs A^-T: an error at a singular batch item (det 0, or
 * log |det| = -inf). */
static bool det_grad_defined(tg_tape *tp, const tg_node *nd)
{
    const det_attr *at = tg_node_saved(nd);
    const tg_tensor *a = nd->in[0], *y = nd->out;
    for (int64_t i = 0; i < y->numel; i++) {
        double v = 0;
        TG_DISPATCH(y->dtype, T, { v = ((const T *)y->data)[i]; });
        if (at->log ? v != -INFINITY : v != 0) continue;
        char s[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_ARG,
                     "%s: the gradient at singular matrix %lld of %lld is not defined "
                     "(det = 0); a %s",
                     nd->op->name, (long long)i, (long long)y->numel,
                     tg__shape_str(a, s, sizeof s));
        return false;
    }
    return true;
}

static tg_status det_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    if (!det_grad_defined(tp, n)) return tg_tape_status(tp);
    const det_attr *at = tg_node_saved(n);
    tg_tensor *a = tg_node_input(n, 0), *y = tg_node_output(n);
    int64_t shape[TG_MAX_DIMS];
    for (int i = 0; i < a->ndim - 2; i++) shape[i] = a->shape[i];
    shape[a->ndim - 2] = shape[a->ndim - 1] = 1;
    tg_tensor *s = at->log ? g : tg_mul(tp, g, y); /* g d, or g */
    s = s ? tg_reshape(tp, s, a->ndim, shape) : NULL;
    gin[0] = tg_mul(tp, s, tg__la_mT(tp, tg_inv(tp, a)));
    return tg_tape_status(tp);
}

/* gA = s A^-T per batch item (s = g d or g): the transposed solve of s I. */
static tg_status det_direct(tg_tape *tp, const tg_node *nd, const tg_tensor *g, tg_grad_sink *k)
{
    if (!det_grad_defined(tp, nd)) return tg_tape_status(tp);
    const det_attr *at = tg_node_saved(nd);
    const tg_tensor *a = nd->in[0], *y = nd->out;
    const tg_dtype dt = a->dtype;
    const int n = (int)a->shape[a->ndim - 1];
    const int64_t sq = (int64_t)n * n;
    bool acc;
    tg_tensor *da = tg_grad_sink_buffer(k, 0, &acc);
    if (!da) return tg_tape_status(tp);
    void *lu = tg__la_scratch(tp, dt, sq), *t = lu ? tg__la_scratch(tp, dt, sq) : NULL;
    void *work = t ? tg__la_scratch(tp, dt, sq) : NULL;
    int *piv = work ? tg__tape_scratch(tp, sizeof(int) * (size_t)(n ? n : 1)) : NULL;
    if (!piv || !n) return tg_tape_status(tp);
    TG_DISPATCH(dt, T, {
        for (int64_t i = 0; i < y->numel; i++) {
            memcpy(lu, tg__la_item(a, i, sq), (size_t)sq * sizeof(T));
            (void)tg__lu(dt, n, lu, piv); /* non-singular: checked above */
            const T gi = ((const T *)g->data)[i], s = at->log ? gi : gi * ((const T *)y->data)[i];
            T *tt = t, *d = tg__la_item(da, i, sq);
            memset(tt, 0, (size_t)sq * sizeof(T));
            for (int j = 0; j < n; j++) tt[(size_t)j * n + j] = s;
            tg__lu_solve(dt, n, n, lu, piv, true, tt, work);
            for (int64_t e = 0; e < sq; e++) d[e] = acc ? d[e] + tt[e] : tt[e];
        }
    });
    return tg_tape_status(tp);
}

/* d log |det A| = tr(A^-1 dA) = sum(A^-T * dA) per batch item; d det A =
 * det A times that.  Undefined at a singular A, as the gradient. */
static tg_status det_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    if (!det_grad_defined(tp, n)) return tg_tape_status(tp);
    const det_attr *at = tg_node_saved(n);
    tg_tensor *a = tg_node_input(n, 0), *y = tg_node_output(n);
    const int axes[2] = {a->ndim - 2, a->ndim - 1};
    tg_tensor *tr = tg_sum(tp, tg_mul(tp, tg__la_mT(tp, tg_inv(tp, a)), tin[0]), 2, axes, false);
    *tout = at->log ? tr : tg_mul(tp, y, tr);
    return tg_tape_status(tp);
}

static const tg_op k_det = {.name = "det",
                            .arity = 1,
                            .backward = det_backward,
                            .direct = det_direct,
                            .scalar = NULL,
                            .jvp = det_jvp,
                            .formula = "dx += g y x^-T",
                            .attrs = NULL};
static const tg_op k_slogdet = {.name = "slogdet",
                                .arity = 1,
                                .backward = det_backward,
                                .direct = det_direct,
                                .scalar = NULL,
                                .jvp = det_jvp,
                                .formula = "dx += g x^-T",
                                .attrs = NULL};

/* det and slogdet: out (...) recorded under op, *sign (slogdet) a constant. */
static tg_tensor *det_op(tg_tape *tp, const tg_op *op, tg_tensor *a, tg_tensor **sign)
{
    if (sign) *sign = NULL;
    tg_tensor *in[1] = {a};
    if (!tg_tape_check_inputs(tp, op->name, 1, in)) return NULL;
    int64_t batch;
    int n;
    if (!tg__la_square(tp, op->name, a, &batch, &n)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, a->dtype, a->ndim - 2, a->shape);
    tg_tensor *sg = out && sign ? tg_tape_alloc(tp, a->dtype, a->ndim - 2, a->shape) : NULL;
    if (!out || (sign && !sg)) return NULL;
    const det_attr at = {.log = op == &k_slogdet};
    if (n == 0) { /* the empty product (tg__la_square gave no items to loop over) */
        tg_tensor_fill(out, at.log ? 0.0 : 1.0);
        if (sg) tg_tensor_fill(sg, 1.0);
    } else if (!det_forward(tp, a, batch, n, at.log, out, sg)) {
        return NULL;
    }
    out = tg__tape_record_checked(tp, op, 1, in, out, &at, sizeof at, 0, NULL);
    if (out && sign) *sign = sg;
    return out;
}

tg_tensor *tg_det(tg_tape *tp, tg_tensor *a)
{
    return det_op(tp, &k_det, a, NULL);
}

tg_tensor *tg_slogdet(tg_tape *tp, tg_tensor *a, tg_tensor **sign)
{
    return det_op(tp, &k_slogdet, a, sign);
}

/* ---- cholesky: A = L L^T, L lower ------------------------------------------- */
static tg_status chol_backward(tg_tape *tp, const tg_node *nd, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *l = tg_node_output(nd), *lt = tg__la_mT(tp, l);
    const int n = (int)l->shape[l->ndim - 1];
    tg_tensor *phi =
        tg_mul(tp, tg__la_bmm(tp, l, g, true, false), tg__la_mask(tp, l->dtype, n, false, 0.5));
    tg_tensor *t1 = tg_solve_triangular(tp, lt, phi, true);               /* L^-T Phi */
    tg_tensor *st = tg_solve_triangular(tp, lt, tg__la_mT(tp, t1), true); /* S^T */
    gin[0] = tg_mul_scalar(tp, tg_add(tp, st, tg__la_mT(tp, st)), 0.5);
    return tg_tape_status(tp);
}

/* One batch item: p = L^T gL, Phi in place, t = L^-T Phi, then S^T =
 * L^-T t^T, gA = (S + S^T) / 2 into d. */
static void chol_direct_item(tg_dtype dt, int n, const void *l, const void *g, void *p, void *t,
                             void *work, void *d, bool acc)
{
    tg__gemm(dt, true, false, n, n, n, 1.0, l, n, g, n, 0.0, p, n);
    TG_DISPATCH(dt, T, {
        T *pp = p, *tt = t, *dd = d;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) pp[(size_t)i * n + j] *= j < i ? 1 : j == i ? (T)0.5 : 0;
        tg__tri_solve(dt, n, n, l, false, true, pp, work); /* L^-T Phi */
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) tt[(size_t)i * n + j] = pp[(size_t)j * n + i];
        tg__tri_solve(dt, n, n, l, false, true, tt, work); /* S^T */
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                const T v = (tt[(size_t)i * n + j] + tt[(size_t)j * n + i]) * (T)0.5;
                T *o = dd + (size_t)i * n + j;
                *o = acc ? *o + v : v;
            }
    });
}

static tg_status chol_direct(tg_tape *tp, const tg_node *nd, const tg_tensor *g, tg_grad_sink *k)
{
    const tg_tensor *l = nd->out;
    const tg_dtype dt = l->dtype;
    const int n = (int)l->shape[l->ndim - 1];
    const int64_t sq = (int64_t)n * n, batch = sq ? l->numel / sq : 0;
    bool acc;
    tg_tensor *da = tg_grad_sink_buffer(k, 0, &acc);
    void *p = da ? tg__la_scratch(tp, dt, sq) : NULL, *t = p ? tg__la_scratch(tp, dt, sq) : NULL;
    void *work = t ? tg__la_scratch(tp, dt, sq) : NULL;
    if (!work) return tg_tape_status(tp);
    for (int64_t i = 0; i < batch; i++)
        chol_direct_item(dt, n, tg__la_item(l, i, sq), tg__la_item(g, i, sq), p, t, work,
                         tg__la_item(da, i, sq), acc);
    return tg_tape_status(tp);
}

/* dL = L Phi(L^-1 dA L^-T), for the symmetric part of dA: the backward
 * rule's gradient is the symmetric one, and the two modes must be each
 * other's transpose.  L^-1 dA L^-T = (L^-1 (L^-1 dA)^T)^T. */
static tg_status chol_jvp(tg_tape *tp, const tg_node *nd, tg_tensor *const *tin, tg_tensor **tout)
{
    tg_tensor *l = tg_node_output(nd), *ta = tin[0];
    const int n = (int)l->shape[l->ndim - 1];
    tg_tensor *sym = tg_mul_scalar(tp, tg_add(tp, ta, tg__la_mT(tp, ta)), 0.5);
    tg_tensor *y = tg_solve_triangular(tp, l, sym, false);
    tg_tensor *m = tg__la_mT(tp, tg_solve_triangular(tp, l, tg__la_mT(tp, y), false));
    tg_tensor *phi = tg_mul(tp, m, tg__la_mask(tp, l->dtype, n, false, 0.5));
    *tout = tg__la_bmm(tp, l, phi, false, false);
    return tg_tape_status(tp);
}

static const tg_op k_cholesky = {
    .name = "cholesky",
    .arity = 1,
    .backward = chol_backward,
    .direct = chol_direct,
    .scalar = NULL,
    .jvp = chol_jvp,
    .formula = "dx += sym(y^-T Phi(y^T g) y^-1)  (Phi: lower triangle, diagonal halved; "
               "sym(S) = (S + S^T) / 2)",
    .attrs = NULL};

tg_tensor *tg_cholesky(tg_tape *tp, tg_tensor *a)
{
    tg_tensor *in[1] = {a};
    if (!tg_tape_check_inputs(tp, k_cholesky.name, 1, in)) return NULL;
    int64_t batch;
    int n;
    if (!tg__la_square(tp, k_cholesky.name, a, &batch, &n)) return NULL;
    tg_tensor *out = tg__const_copy(tp, a);
    if (!out) return NULL;
    for (int64_t i = 0; i < batch; i++) {
        const int info = tg__cholesky(a->dtype, n, tg__la_item(out, i, (int64_t)n * n));
        if (!info) continue;
        char s[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_ARG,
                     "cholesky: matrix %lld of %lld is not positive definite (pivot %d); a %s",
                     (long long)i, (long long)batch, info - 1, tg__shape_str(a, s, sizeof s));
        return NULL;
    }
    return tg__tape_record_checked(tp, &k_cholesky, 1, in, out, NULL, 0, 0, NULL);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_linalg_det[] = {&k_det, &k_slogdet, &k_cholesky, NULL};
