/* Linear systems over batches of matrices: solve, solve_triangular, inv,
 * through LU and triangular solves (kernels/lapack.h: LAPACK or the
 * built-in fallback), with the standard adjoints (M. B. Giles, "An extended
 * collection of matrix derivative results for forward and reverse mode
 * algorithmic differentiation", 2008):
 *     X = A^-1 B:  gB = A^-T G,  gA = -gB X^T;
 *     Y = A^-1:    gA = -Y^T G Y^T.
 * A triangular solve reads one triangle only, so its gA is that triangle of
 * -gB X^T.  Inputs are never written: the factorizations work on copies in
 * the tape's arena.  The shared helpers (ops/linalg.h) come first. */
#include "linalg.h"

#include "../kernels/gemm.h"
#include "../kernels/lapack.h"

#include <limits.h>

bool tg__la_square(tg_tape *tp, const char *op, const tg_tensor *a, int64_t *batch, int *n)
{
    const int nd = a->ndim;
    if (nd < 2 || a->shape[nd - 1] != a->shape[nd - 2]) {
        char s[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: a %s is not a batch of square matrices (..., n, n)", op,
                     tg__shape_str(a, s, sizeof s));
        return false;
    }
    /* a factor of a's accepted extents: within TG_NUMEL_MAX */
    if (!tg__extents_product(nd - 2, a->shape, TG_NUMEL_MAX, batch)) return false;
    *n = (int)a->shape[nd - 1];
    /* a batch of 0x0 matrices holds no data however long it is: no loop
     * runs over its items */
    if (*n == 0) *batch = 0;
    return true;
}

int tg__la_rhs(tg_tape *tp, const char *op, const tg_tensor *a, const tg_tensor *b)
{
    char sa[TG_SHAPE_BUF], sb[TG_SHAPE_BUF];
    const int nd = a->ndim;
    bool ok = b->ndim == nd && b->shape[nd - 2] == a->shape[nd - 1];
    for (int i = 0; ok && i < nd - 2; i++) ok = b->shape[i] == a->shape[i];
    if (!ok) {
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "%s: a %s and b %s: b must be (..., %lld, k) with batch extents that "
                     "broadcast against a's",
                     op, tg__shape_str(a, sa, sizeof sa), tg__shape_str(b, sb, sizeof sb),
                     (long long)a->shape[nd - 1]);
        return -1;
    }
    const int64_t k = b->shape[nd - 1];
    if (k > INT_MAX) {
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "%s: b %s has %lld columns, more than LAPACK's 32-bit integers hold", op,
                     tg__shape_str(b, sb, sizeof sb), (long long)k);
        return -1;
    }
    return (int)k;
}

bool tg__la_stretch(tg_tape *tp, tg_tensor **a, tg_tensor **b)
{
    const tg_tensor *x = *a, *y = *b;
    if (y->ndim < 2) return true; /* tg__la_rhs names the shape */
    const int na = x->ndim - 2, nb = y->ndim - 2, nd = na > nb ? na : nb;
    int64_t sa[TG_MAX_DIMS], sb[TG_MAX_DIMS];
    bool keep_a = na == nd, keep_b = nb == nd;
    for (int d = 0; d < nd; d++) {
        const int ia = d - (nd - na), ib = d - (nd - nb);
        const int64_t ea = ia >= 0 ? x->shape[ia] : 1, eb = ib >= 0 ? y->shape[ib] : 1;
        if (ea != eb && ea != 1 && eb != 1) return true; /* tg__la_rhs names the shapes */
        sa[d] = sb[d] = ea == 1 ? eb : ea;
        keep_a = keep_a && ea == sa[d];
        keep_b = keep_b && eb == sb[d];
    }
    sa[nd] = x->shape[na];
    sa[nd + 1] = x->shape[na + 1];
    sb[nd] = y->shape[nb];
    sb[nd + 1] = y->shape[nb + 1];
    if (!keep_a) *a = tg_broadcast_to(tp, *a, nd + 2, sa);
    if (!keep_b) *b = tg_broadcast_to(tp, *b, nd + 2, sb);
    return *a && *b;
}

void *tg__la_scratch(tg_tape *tp, tg_dtype dt, int64_t count)
{
    size_t bytes;
    /* count is at most an operand's element count, so this cannot
     * overflow; should it, the arena refuses SIZE_MAX bytes with its own
     * out-of-memory error */
    if (count < 0 || !tg__mul_size((size_t)count, tg_dtype_size(dt), &bytes)) bytes = SIZE_MAX;
    return tg__tape_scratch(tp, bytes ? bytes : 1);
}

tg_tensor *tg__la_bmm(tg_tape *tp, tg_tensor *a, tg_tensor *b, bool ta, bool tb)
{
    return a && b ? tg_matmul_t(tp, a, b, ta, tb) : NULL;
}

tg_tensor *tg__la_mT(tg_tape *tp, tg_tensor *x)
{
    return x ? tg_transpose(tp, x, -2, -1) : NULL;
}

tg_tensor *tg__la_mask(tg_tape *tp, tg_dtype dt, int n, bool upper, double diag)
{
    tg_tensor *m = tg__const_full(tp, dt, 2, (const int64_t[]){n, n}, 0.0);
    if (!m) return NULL;
    TG_DISPATCH(dt, T, {
        T *p = m->data;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                p[(size_t)i * n + j] = i == j ? (T)diag : (upper ? j > i : j < i) ? 1 : 0;
    });
    return m;
}

/* LU of batch item i of a into lu/piv; false after the singular-matrix
 * error naming op. */
static bool lu_item(tg_tape *tp, const char *op, const tg_tensor *a, int64_t i, int64_t batch,
                    int n, void *lu, int *piv)
{
    if (n == 0) return true;
    const size_t es = tg_dtype_size(a->dtype);
    memcpy(lu, tg__la_item(a, i, (int64_t)n * n), (size_t)n * (size_t)n * es);
    const int info = tg__lu(a->dtype, n, lu, piv);
    if (!info) return true;
    char s[TG_SHAPE_BUF];
    tg_tape_fail(tp, TG_ERR_ARG, "%s: matrix %lld of %lld is singular (U[%d,%d] = 0); a %s", op,
                 (long long)i, (long long)batch, info - 1, info - 1, tg__shape_str(a, s, sizeof s));
    return false;
}

/* Scratch for one LU: n * n elements and n pivots. */
static bool lu_scratch(tg_tape *tp, tg_dtype dt, int n, void **lu, int **piv)
{
    *lu = tg__la_scratch(tp, dt, (int64_t)n * n);
    *piv = *lu ? tg__tape_scratch(tp, sizeof(int) * (size_t)(n ? n : 1)) : NULL;
    return *piv != NULL;
}

/* x = a^-1 x in place for every batch item (trans: a^-T x), x having k
 * columns. */
static bool lu_solve_all(tg_tape *tp, const char *op, const tg_tensor *a, bool trans, void *x,
                         int k)
{
    int64_t batch;
    int n;
    tg__la_square(tp, op, a, &batch, &n);
    void *lu, *work = tg__la_scratch(tp, a->dtype, (int64_t)n * k);
    int *piv;
    if (!work || !lu_scratch(tp, a->dtype, n, &lu, &piv)) return false;
    const size_t es = tg_dtype_size(a->dtype);
    for (int64_t i = 0; i < batch; i++) {
        if (!lu_item(tp, op, a, i, batch, n, lu, piv)) return false;
        tg__lu_solve(a->dtype, n, k, lu, piv, trans, TG_AT_MUT(x, i * n * k, es), work);
    }
    return true;
}

/* linalg.h */
void tg__la_put(tg_tensor *d, const void *src, bool acc)
{
    if (!acc) {
        if (d->numel) memcpy(d->data, src, (size_t)d->numel * tg_dtype_size(d->dtype));
        return;
    }
    TG_DISPATCH(d->dtype, T, {
        T *p = d->data;
        const T *s = src;
        for (int64_t i = 0; i < d->numel; i++) p[i] += s[i];
    });
}

/* ---- solve: X = A^-1 B ------------------------------------------------------ */
static tg_status solve_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *a = tg_node_input(n, 0), *x = tg_node_output(n);
    tg_tensor *gb = tg_solve(tp, tg__la_mT(tp, a), g); /* A^-T G */
    if (tg_node_needs_grad(n, 0)) gin[0] = tg_neg(tp, tg__la_bmm(tp, gb, x, false, true));
    if (tg_node_needs_grad(n, 1)) gin[1] = gb;
    return tg_tape_status(tp);
}

static tg_status solve_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const tg_tensor *a = n->in[0], *x = n->out;
    const int nk = (int)g->shape[g->ndim - 1], nn = (int)a->shape[a->ndim - 1];
    const int64_t per = (int64_t)nn * nk, batch = nn && nk ? g->numel / per : 0;
    void *gb = tg__la_scratch(tp, g->dtype, g->numel);
    if (!gb) return tg_tape_status(tp);
    if (g->numel) memcpy(gb, g->data, (size_t)g->numel * tg_dtype_size(g->dtype));
    if (!lu_solve_all(tp, "solve", a, true, gb, nk)) return tg_tape_status(tp);
    bool acc;
    tg_tensor *db = tg_grad_sink_buffer(k, 1, &acc);
    if (db) tg__la_put(db, gb, acc);
    tg_tensor *da = tg_grad_sink_buffer(k, 0, &acc);
    if (!da) return tg_tape_status(tp);
    if (!acc && batch == 0) tg_tensor_fill(da, 0.0); /* k = 0: an empty sum */
    const size_t es = tg_dtype_size(g->dtype);
    for (int64_t i = 0; i < batch; i++) /* gA = -gB X^T */
        tg__gemm(g->dtype, false, true, nn, nn, nk, -1.0, TG_AT(gb, i * per, es), nk,
                 tg__la_item(x, i, per), nk, acc ? 1.0 : 0.0, tg__la_item(da, i, (int64_t)nn * nn),
                 nn);
    return tg_tape_status(tp);
}

/* The right-hand side of a tangent solve: tB - tA X (either tangent NULL
 * for zero, not both). */
static tg_tensor *solve_rhs(tg_tape *tp, tg_tensor *ta, tg_tensor *tb, tg_tensor *x)
{
    if (!ta) return tb;
    tg_tensor *ax = tg__la_bmm(tp, ta, x, false, false);
    return tb ? tg_sub(tp, tb, ax) : tg_neg(tp, ax);
}

/* dX = A^-1 (dB - dA X) */
static tg_status solve_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    *tout = tg_solve(tp, tg_node_input(n, 0), solve_rhs(tp, tin[0], tin[1], tg_node_output(n)));
    return TG_OK;
}

static const tg_op k_solve = {.name = "solve",
                              .arity = 2,
                              .backward = solve_backward,
                              .direct = solve_direct,
                              .scalar = NULL,
                              .jvp = solve_jvp,
                              .formula = "db += a^-T g;  da += -(a^-T g) y^T",
                              .attrs = NULL};

tg_tensor *tg_solve(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *in[2] = {a, b};
    if (!tg_tape_check_inputs(tp, k_solve.name, 2, in)) return NULL;
    if (!tg__same_dtype(tp, k_solve.name, a, b)) return NULL;
    int64_t batch;
    int n;
    if (!tg__la_square(tp, k_solve.name, a, &batch, &n)) return NULL;
    if (!tg__la_stretch(tp, &a, &b)) return NULL;
    if (a != in[0] || b != in[1]) return tg_solve(tp, a, b);
    const int k = tg__la_rhs(tp, k_solve.name, a, b);
    if (k < 0) return NULL;
    tg_tensor *out = tg__const_copy(tp, b);
    if (!out || !lu_solve_all(tp, k_solve.name, a, false, out->data, k)) return NULL;
    return tg__tape_record_checked(tp, &k_solve, 2, in, out, NULL, 0, 0, NULL);
}

/* ---- solve_triangular: X = T^-1 B for one triangle T of A ---------------- */
typedef struct tri_attr {
    bool upper;
} tri_attr;

/* Is every diagonal element of every batch item non-zero?  Else the
 * singular-matrix error. */
static bool tri_check(tg_tape *tp, const tg_tensor *a, int64_t batch, int n)
{
    for (int64_t i = 0; i < batch; i++)
        for (int j = 0; j < n; j++) {
            double d = 0;
            TG_DISPATCH(a->dtype, T, { d = ((const T *)a->data)[(i * n + j) * n + j]; });
            if (d != 0) continue;
            char s[TG_SHAPE_BUF];
            tg_tape_fail(tp, TG_ERR_ARG,
                         "solve_triangular: matrix %lld of %lld is singular (A[%d,%d] = 0); a %s",
                         (long long)i, (long long)batch, j, j, tg__shape_str(a, s, sizeof s));
            return false;
        }
    return true;
}

/* x = op(T)^-1 x for every batch item, op = transpose when trans. */
static bool tri_solve_all(tg_tape *tp, const tg_tensor *a, bool upper, bool trans, void *x, int k)
{
    int64_t batch;
    int n;
    tg__la_square(tp, "solve_triangular", a, &batch, &n);
    void *work = tg__la_scratch(tp, a->dtype, (int64_t)n * k);
    if (!work) return false;
    const size_t es = tg_dtype_size(a->dtype);
    for (int64_t i = 0; i < batch; i++)
        tg__tri_solve(a->dtype, n, k, tg__la_item(a, i, (int64_t)n * n), upper, trans,
                      TG_AT_MUT(x, i * n * k, es), work);
    return true;
}

static tg_status tri_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const tri_attr *at = tg_node_saved(n);
    tg_tensor *a = tg_node_input(n, 0), *x = tg_node_output(n);
    tg_tensor *gb = tg_solve_triangular(tp, tg__la_mT(tp, a), g, !at->upper);
    if (tg_node_needs_grad(n, 0)) {
        tg_tensor *m = tg__la_mask(tp, a->dtype, (int)a->shape[a->ndim - 1], at->upper, 1.0);
        gin[0] = tg_mul(tp, tg_neg(tp, tg__la_bmm(tp, gb, x, false, true)), m);
    }
    if (tg_node_needs_grad(n, 1)) gin[1] = gb;
    return tg_tape_status(tp);
}

/* gA = the triangle of -gB X^T, through one n x n scratch per item. */
static void tri_direct_a(tg_tape *tp, const tg_tensor *x, const void *gb, bool upper, int nn,
                         int nk, tg_tensor *da, bool acc)
{
    const int64_t per = (int64_t)nn * nk, sq = (int64_t)nn * nn, batch = sq ? da->numel / sq : 0;
    void *t = tg__la_scratch(tp, da->dtype, sq);
    if (!t) return;
    const size_t es = tg_dtype_size(da->dtype);
    for (int64_t i = 0; i < batch; i++) {
        tg__gemm(da->dtype, false, true, nn, nn, nk, -1.0, TG_AT(gb, i * per, es), nk,
                 tg__la_item(x, i, per), nk, 0.0, t, nn);
        TG_DISPATCH(da->dtype, T, {
            T *d = tg__la_item(da, i, sq);
            const T *s = t;
            for (int r = 0; r < nn; r++)
                for (int c = 0; c < nn; c++) {
                    const size_t o = (size_t)r * nn + c;
                    const T v = (upper ? c >= r : c <= r) ? s[o] : 0;
                    d[o] = acc ? d[o] + v : v;
                }
        });
    }
}

static tg_status tri_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const tri_attr *at = tg_node_saved(n);
    const tg_tensor *a = n->in[0];
    const int nk = (int)g->shape[g->ndim - 1], nn = (int)a->shape[a->ndim - 1];
    void *gb = tg__la_scratch(tp, g->dtype, g->numel);
    if (!gb) return tg_tape_status(tp);
    if (g->numel) memcpy(gb, g->data, (size_t)g->numel * tg_dtype_size(g->dtype));
    if (!tri_solve_all(tp, a, at->upper, true, gb, nk)) return tg_tape_status(tp);
    bool acc;
    tg_tensor *db = tg_grad_sink_buffer(k, 1, &acc);
    if (db) tg__la_put(db, gb, acc);
    tg_tensor *da = tg_grad_sink_buffer(k, 0, &acc);
    if (da) tri_direct_a(tp, n->out, gb, at->upper, nn, nk, da, acc);
    return tg_tape_status(tp);
}

/* dX = T^-1 (dB - dT X), dT the triangle of dA the solve reads */
static tg_status tri_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const tri_attr *at = tg_node_saved(n);
    tg_tensor *a = tg_node_input(n, 0), *ta = tin[0];
    if (ta)
        ta = tg_mul(tp, ta, tg__la_mask(tp, a->dtype, (int)a->shape[a->ndim - 1], at->upper, 1.0));
    *tout = tg_solve_triangular(tp, a, solve_rhs(tp, ta, tin[1], tg_node_output(n)), at->upper);
    return TG_OK;
}

/* "upper" or "lower": the triangle read */
static int tri_attrs(const tg_node *n, char *buf, size_t size)
{
    const tri_attr *at = tg_node_saved(n);
    return snprintf(buf, size, "%s", at->upper ? "upper" : "lower");
}

static const tg_op k_solve_triangular = {
    .name = "solve_triangular",
    .arity = 2,
    .backward = tri_backward,
    .direct = tri_direct,
    .scalar = NULL,
    .jvp = tri_jvp,
    .formula = "db += tri(a)^-T g;  da += tri(-(tri(a)^-T g) y^T)  (tri: the triangle read)",
    .attrs = tri_attrs};

tg_tensor *tg_solve_triangular(tg_tape *tp, tg_tensor *a, tg_tensor *b, bool upper)
{
    tg_tensor *in[2] = {a, b};
    const char *op = k_solve_triangular.name;
    if (!tg_tape_check_inputs(tp, op, 2, in)) return NULL;
    if (!tg__same_dtype(tp, op, a, b)) return NULL;
    int64_t batch;
    int n;
    if (!tg__la_square(tp, op, a, &batch, &n)) return NULL;
    if (!tg__la_stretch(tp, &a, &b)) return NULL;
    if (a != in[0] || b != in[1]) return tg_solve_triangular(tp, a, b, upper);
    const int k = tg__la_rhs(tp, op, a, b);
    if (k < 0) return NULL;
    tg_tensor *out = tg__const_copy(tp, b);
    if (!out || !tri_check(tp, a, batch, n)) return NULL;
    if (!tri_solve_all(tp, a, upper, false, out->data, k)) return NULL;
    const tri_attr at = {.upper = upper};
    return tg__tape_record_checked(tp, &k_solve_triangular, 2, in, out, &at, sizeof at, 0, NULL);
}

/* ---- inv: Y = A^-1 ---------------------------------------------------------- */
static tg_status inv_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *y = tg_node_output(n);
    tg_tensor *ytg = tg__la_bmm(tp, y, g, true, false);
    gin[0] = tg_neg(tp, tg__la_bmm(tp, ytg, y, false, true));
    return tg_tape_status(tp);
}

static tg_status inv_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const tg_tensor *y = n->out;
    const int nn = (int)y->shape[y->ndim - 1];
    const int64_t sq = (int64_t)nn * nn, batch = sq ? y->numel / sq : 0;
    bool acc;
    tg_tensor *da = tg_grad_sink_buffer(k, 0, &acc);
    void *t = da ? tg__la_scratch(tp, y->dtype, sq) : NULL;
    if (!t) return tg_tape_status(tp);
    for (int64_t i = 0; i < batch; i++) { /* t = Y^T G, gA = -t Y^T */
        tg__gemm(y->dtype, true, false, nn, nn, nn, 1.0, tg__la_item(y, i, sq), nn,
                 tg__la_item(g, i, sq), nn, 0.0, t, nn);
        tg__gemm(y->dtype, false, true, nn, nn, nn, -1.0, t, nn, tg__la_item(y, i, sq), nn,
                 acc ? 1.0 : 0.0, tg__la_item(da, i, sq), nn);
    }
    return tg_tape_status(tp);
}

/* dY = -Y dA Y */
static tg_status inv_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    tg_tensor *y = tg_node_output(n);
    *tout = tg_neg(tp, tg__la_bmm(tp, tg__la_bmm(tp, y, tin[0], false, false), y, false, false));
    return TG_OK;
}

static const tg_op k_inv = {.name = "inv",
                            .arity = 1,
                            .backward = inv_backward,
                            .direct = inv_direct,
                            .scalar = NULL,
                            .jvp = inv_jvp,
                            .formula = "dx += -y^T g y^T",
                            .attrs = NULL};

tg_tensor *tg_inv(tg_tape *tp, tg_tensor *a)
{
    tg_tensor *in[1] = {a};
    if (!tg_tape_check_inputs(tp, k_inv.name, 1, in)) return NULL;
    int64_t batch;
    int n;
    if (!tg__la_square(tp, k_inv.name, a, &batch, &n)) return NULL;
    tg_tensor *out = tg__const_full(tp, a->dtype, a->ndim, a->shape, 0.0);
    if (!out) return NULL;
    TG_DISPATCH(out->dtype, T, {
        T *p = out->data;
        for (int64_t i = 0; i < batch; i++)
            for (int j = 0; j < n; j++) p[(i * n + j) * n + j] = 1;
    });
    if (!lu_solve_all(tp, k_inv.name, a, false, out->data, n)) return NULL;
    return tg__tape_record_checked(tp, &k_inv, 1, in, out, NULL, 0, 0, NULL);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_linalg[] = {&k_solve, &k_solve_triangular, &k_inv, NULL};
