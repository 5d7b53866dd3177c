/* Matrix products: (M,K)@(K,N), batched (B,M,K)@(B,K,N), and the two batch
 * broadcasts (B,M,K)@(K,N) and (M,K)@(B,K,N), where a 2-d operand is shared
 * by every batch item.  Either operand may be transposed on its last two
 * axes; the flag goes to gemm, which reads the stored matrix transposed, so
 * no transposed copy is ever made (forward or backward).  All products go
 * through tg__gemm (BLAS or the built-in kernel). */
#include "../core/internal.h"
#include "../kernels/gemm.h"
#include "matmul.h"

typedef struct matmul_attr {
    bool ta, tb; /* operand a / b is read transposed */
} matmul_attr;

/* The sizes of one product: op(A) is M x K, op(B) is K x N, batch items. */
typedef struct mm_dims {
    int64_t batch, M, N, K;
} mm_dims;

/* "(3,4)" or "(3,4)^T" into buf. */
static const char *operand_str(const tg_tensor *t, bool trans, char *buf, size_t n)
{
    char s[TG_SHAPE_BUF];
    snprintf(buf, n, "%s%s", tg__shape_str(t, s, sizeof s), trans ? "^T" : "");
    return buf;
}

/* The layouts the op takes itself: 2-d or 3-d operands, two 3-d ones with
 * the same batch; matmul_general brings every other one to these. */
static bool mm_core_layout(const tg_tensor *a, const tg_tensor *b)
{
    const bool ra = a->ndim == 2 || a->ndim == 3, rb = b->ndim == 2 || b->ndim == 3;
    return ra && rb && !(a->ndim == 3 && b->ndim == 3 && a->shape[0] != b->shape[0]);
}

/* Checks the inner dimensions of op(a) @ op(b) in a core layout; on failure
 * sets the tape error with a message naming the op and both shapes. */
static bool mm_check(tg_tape *tp, const tg_tensor *a, const tg_tensor *b, bool ta, bool tb,
                     mm_dims *d)
{
    char sa[TG_SHAPE_BUF + 4], sb[TG_SHAPE_BUF + 4];
    operand_str(a, ta, sa, sizeof sa);
    operand_str(b, tb, sb, sizeof sb);
    const int64_t ar = a->shape[a->ndim - 2], ac = a->shape[a->ndim - 1];
    const int64_t br = b->shape[b->ndim - 2], bc = b->shape[b->ndim - 1];
    const int64_t ka = ta ? ar : ac, kb = tb ? bc : br;
    if (ka != kb) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "matmul: %s @ %s: inner dimensions differ (%lld vs %lld)",
                     sa, sb, (long long)ka, (long long)kb);
        return false;
    }
    d->batch = a->ndim == 3 ? a->shape[0] : b->ndim == 3 ? b->shape[0] : 1;
    d->M = ta ? ac : ar;
    d->N = tb ? br : bc;
    d->K = ka;
    return true;
}

/* out = op(a) @ op(b), one gemm per batch item (one gemm in all when a plain
 * 3-d a meets a 2-d b: its batch folds into the rows). */
static void mm_forward(tg_tensor *out, const tg_tensor *a, const tg_tensor *b, bool ta, bool tb,
                       const mm_dims *d)
{
    if (out->numel == 0) return;
    if (d->K == 0) { /* an empty sum: zeros (and a, b may have no data at all) */
        tg_tensor_fill(out, 0.0);
        return;
    }
    const tg_dtype dt = out->dtype;
    const int64_t lda = a->shape[a->ndim - 1], ldb = b->shape[b->ndim - 1];
    if (a->ndim == 3 && b->ndim == 2 && !ta) {
        tg__gemm(dt, false, tb, d->batch * d->M, d->N, d->K, 1.0, a->data, lda, b->data, ldb, 0.0,
                 out->data, d->N);
        return;
    }
    const size_t es = tg_dtype_size(dt);
    const int64_t sa = a->ndim == 3 ? d->M * d->K : 0;
    const int64_t sb = b->ndim == 3 ? d->K * d->N : 0;
    const int64_t sc = d->M * d->N;
    for (int64_t i = 0; i < d->batch; i++)
        tg__gemm(dt, ta, tb, d->M, d->N, d->K, 1.0, (const char *)a->data + (size_t)(i * sa) * es,
                 lda, (const char *)b->data + (size_t)(i * sb) * es, ldb, 0.0,
                 (char *)out->data + (size_t)(i * sc) * es, d->N);
}

/* ---- backward --------------------------------------------------------------
 * For one batch item C = op(A) op(B), i.e. C_ij = sum_k op(A)_ik op(B)_kj,
 * so with G = dL/dC:
 *     dL/d op(A) = G op(B)^T,        dL/d op(B) = op(A)^T G.
 * Mapped back to the stored operands (the transpose of a gradient is the
 * gradient of the transpose), every term is again one product with flags:
 *     ta = 0:  dA = G op(B)^T              = matmul_t(G, B, 0, !tb)
 *     ta = 1:  dA = (G op(B)^T)^T = op(B) G^T = matmul_t(B, G, tb, 1)
 *     tb = 0:  dB = op(A)^T G              = matmul_t(A, G, !ta, 0)
 *     tb = 1:  dB = (op(A)^T G)^T = G^T op(A) = matmul_t(G, A, 1, ta)
 * A 2-d operand shared by a batch gets the sum of its per-item gradients,
 * sum_b (...)_b.  For a 2-d B under a plain 3-d A that sum is one 2-d
 * product: the batch and row axes of A and G fold together, A2 = (B*M, K),
 * G2 = (B*M, N), and sum_b A_b^T G_b = A2^T G2 (likewise G2^T A2).  The
 * other shared cases contract over a batch axis that is not adjacent to the
 * summed one in memory, so they take the batched product and tg_sum over
 * axis 0.  Everything here is a recorded op, so create-graph works. */
static tg_tensor *mm_grad_a(tg_tape *tp, tg_tensor *a, tg_tensor *b, tg_tensor *g,
                            const matmul_attr *at)
{
    tg_tensor *r =
        at->ta ? tg_matmul_t(tp, b, g, at->tb, true) : tg_matmul_t(tp, g, b, false, !at->tb);
    if (r && a->ndim == 2 && r->ndim == 3) r = tg_sum(tp, r, 1, (const int[]){0}, false);
    return r;
}

static tg_tensor *mm_grad_b(tg_tape *tp, tg_tensor *a, tg_tensor *b, tg_tensor *g,
                            const matmul_attr *at)
{
    if (b->ndim == 2 && a->ndim == 3 && !at->ta) {
        const int64_t rows = a->shape[0] * a->shape[1];
        tg_tensor *a2 = tg_reshape(tp, a, 2, (const int64_t[]){rows, a->shape[2]});
        tg_tensor *g2 = tg_reshape(tp, g, 2, (const int64_t[]){rows, g->shape[2]});
        return at->tb ? tg_matmul_t(tp, g2, a2, true, false) : tg_matmul_t(tp, a2, g2, true, false);
    }
    tg_tensor *r =
        at->tb ? tg_matmul_t(tp, g, a, true, at->ta) : tg_matmul_t(tp, a, g, !at->ta, false);
    if (r && b->ndim == 2 && r->ndim == 3) r = tg_sum(tp, r, 1, (const int[]){0}, false);
    return r;
}

static tg_status matmul_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const matmul_attr *at = tg_node_saved(n);
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0)) gin[0] = mm_grad_a(tp, a, b, g, at);
    if (tg_node_needs_grad(n, 1)) gin[1] = mm_grad_b(tp, a, b, g, at);
    return tg_tape_status(tp);
}

/* ---- direct rule: the same products written straight into the adjoints ----
 * Each term above is one gemm with the same flags, its C the input's adjoint
 * buffer and beta = 1 when the buffer already holds a contribution.  A 2-d
 * operand shared by a batch sums its per-item products by accumulating the
 * successive gemms (beta 1 after the first); under a plain 3-d A the sum for
 * B is the one folded product, as above.  No temporaries, no transposed
 * copies. */

static void mm_direct_a(const tg_tensor *a, const tg_tensor *b, const tg_tensor *g, bool ta,
                        bool tb, const mm_dims *d, tg_tensor *da, bool acc)
{
    const tg_dtype dt = g->dtype;
    const size_t es = tg_dtype_size(dt);
    const int64_t M = d->M, N = d->N, K = d->K, ldb = b->shape[b->ndim - 1];
    if (da->numel == 0) return; /* nothing to write, however long the batch */
    if (g->numel == 0) {        /* an empty sum: zeros (b may have no data at all) */
        if (!acc) tg_tensor_fill(da, 0.0);
        return;
    }
    if (a->ndim == 3 && b->ndim == 2 && !ta) { /* dA2 = G2 op(B)^T, rows folded */
        tg__gemm(dt, false, !tb, d->batch * M, K, N, 1.0, g->data, N, b->data, ldb, acc ? 1.0 : 0.0,
                 da->data, K);
        return;
    }
    const int64_t sb = b->ndim == 3 ? K * N : 0, sd = a->ndim == 3 ? M * K : 0;
    if (d->batch == 0 && !acc) tg_tensor_fill(da, 0.0); /* an empty sum (2-d a) */
    for (int64_t i = 0; i < d->batch; i++) {
        const double beta = acc || (a->ndim == 2 && i > 0) ? 1.0 : 0.0;
        const void *gi = TG_AT(g->data, i * M * N, es), *bi = TG_AT(b->data, i * sb, es);
        void *di = TG_AT_MUT(da->data, i * sd, es);
        if (!ta) /* dA = G op(B)^T */
            tg__gemm(dt, false, !tb, M, K, N, 1.0, gi, N, bi, ldb, beta, di, K);
        else /* dA = op(B) G^T */
            tg__gemm(dt, tb, true, K, M, N, 1.0, bi, ldb, gi, N, beta, di, M);
    }
}

static void mm_direct_b(const tg_tensor *a, const tg_tensor *b, const tg_tensor *g, bool ta,
                        bool tb, const mm_dims *d, tg_tensor *db, bool acc)
{
    const tg_dtype dt = g->dtype;
    const size_t es = tg_dtype_size(dt);
    const int64_t M = d->M, N = d->N, K = d->K, lda = a->shape[a->ndim - 1];
    if (db->numel == 0) return; /* nothing to write, however long the batch */
    if (g->numel == 0) {        /* an empty sum: zeros (a may have no data at all) */
        if (!acc) tg_tensor_fill(db, 0.0);
        return;
    }
    if (b->ndim == 2 && a->ndim == 3 && !ta) { /* A2^T G2 or G2^T A2, rows folded */
        const int64_t rows = d->batch * M;
        if (tb)
            tg__gemm(dt, true, false, N, K, rows, 1.0, g->data, N, a->data, lda, acc ? 1.0 : 0.0,
                     db->data, K);
        else
            tg__gemm(dt, true, false, K, N, rows, 1.0, a->data, lda, g->data, N, acc ? 1.0 : 0.0,
                     db->data, N);
        return;
    }
    const int64_t sa = a->ndim == 3 ? M * K : 0, sd = b->ndim == 3 ? K * N : 0;
    if (d->batch == 0 && !acc) tg_tensor_fill(db, 0.0); /* an empty sum (2-d b) */
    for (int64_t i = 0; i < d->batch; i++) {
        const double beta = acc || (b->ndim == 2 && i > 0) ? 1.0 : 0.0;
        const void *gi = TG_AT(g->data, i * M * N, es), *ai = TG_AT(a->data, i * sa, es);
        void *di = TG_AT_MUT(db->data, i * sd, es);
        if (!tb) /* dB = op(A)^T G */
            tg__gemm(dt, !ta, false, K, N, M, 1.0, ai, lda, gi, N, beta, di, N);
        else /* dB = G^T op(A) */
            tg__gemm(dt, true, ta, N, K, M, 1.0, gi, N, ai, lda, beta, di, K);
    }
}

static tg_status matmul_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const matmul_attr *at = tg_node_saved(n);
    const tg_tensor *a = n->in[0], *b = n->in[1];
    const int nd = g->ndim;
    const mm_dims d = {.batch = nd == 3 ? g->shape[0] : 1,
                       .M = g->shape[nd - 2],
                       .N = g->shape[nd - 1],
                       .K = at->ta ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1]};
    bool acc;
    tg_tensor *da = tg_grad_sink_buffer(k, 0, &acc);
    if (da) mm_direct_a(a, b, g, at->ta, at->tb, &d, da, acc);
    if (!tg__tape_ok(tp)) return tg_tape_status(tp);
    tg_tensor *db = tg_grad_sink_buffer(k, 1, &acc);
    if (db) mm_direct_b(a, b, g, at->ta, at->tb, &d, db, acc);
    return tg_tape_status(tp);
}

/* tangent: op(tA) op(B) + op(A) op(tB), the same product (flags, batch
 * broadcast) with one operand replaced by its tangent */
static tg_status matmul_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const matmul_attr *at = tg_node_saved(n);
    tg_tensor *a = tg_node_input(n, 0), *b = tg_node_input(n, 1), *t = NULL;
    if (tin[0]) t = tg_matmul_t(tp, tin[0], b, at->ta, at->tb);
    if (tin[1]) {
        tg_tensor *tb = tg_matmul_t(tp, a, tin[1], at->ta, at->tb);
        t = t ? tg_add(tp, t, tb) : tb;
    }
    *tout = t;
    return tg_tape_status(tp);
}
/* "trans_a=1, trans_b=0" (nothing for a plain product) */
static int matmul_attrs(const tg_node *n, char *buf, size_t size)
{
    const matmul_attr *at = tg_node_saved(n);
    if (!at->ta && !at->tb) return snprintf(buf, size, "%s", "");
    return snprintf(buf, size, "trans_a=%d, trans_b=%d", (int)at->ta, (int)at->tb);
}
static const tg_op k_matmul = {.name = "matmul",
                               .arity = 2,
                               .backward = matmul_backward,
                               .direct = matmul_direct,
                               .scalar = NULL,
                               .jvp = matmul_jvp,
                               .formula = "dA += G B^T;  dB += A^T G  (for Y = A B, per batch "
                                          "item; a shared 2-d operand sums over the batch)",
                               .attrs = matmul_attrs};

tg_tensor *tg_matmul_t(tg_tape *tp, tg_tensor *a, tg_tensor *b, bool trans_a, bool trans_b)
{
    tg_tensor *in[2] = {a, b};
    if (!tg_tape_check_inputs(tp, k_matmul.name, 2, in)) return NULL;
    if (!tg__same_dtype(tp, k_matmul.name, a, b)) return NULL;
    if (!mm_core_layout(a, b)) return tg__matmul_general(tp, a, b, trans_a, trans_b);
    mm_dims d;
    if (!mm_check(tp, a, b, trans_a, trans_b, &d)) return NULL;
    int64_t shape[3];
    int nd = 0;
    if (a->ndim == 3 || b->ndim == 3) shape[nd++] = d.batch;
    shape[nd++] = d.M;
    shape[nd++] = d.N;
    int64_t numel;
    if (!tg__extents_product(nd, shape, TG_NUMEL_MAX, &numel)) {
        char sa[TG_SHAPE_BUF + 4], sb[TG_SHAPE_BUF + 4];
        tg_tape_fail(tp, TG_ERR_SHAPE, "matmul: %s @ %s: the result has more than %lld elements",
                     operand_str(a, trans_a, sa, sizeof sa), operand_str(b, trans_b, sb, sizeof sb),
                     (long long)TG_NUMEL_MAX);
        return NULL;
    }
    tg_tensor *out = tg_tape_alloc(tp, a->dtype, nd, shape);
    if (!out) return NULL;
    mm_forward(out, a, b, trans_a, trans_b, &d);
    const matmul_attr at = {.ta = trans_a, .tb = trans_b};
    return tg_tape_record(tp, &k_matmul, 2, in, out, &at, sizeof at, 0, NULL);
}

tg_tensor *tg_matmul(tg_tape *tp, tg_tensor *a, tg_tensor *b)
{
    return tg_matmul_t(tp, a, b, false, false);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_matmul[] = {&k_matmul, NULL};
