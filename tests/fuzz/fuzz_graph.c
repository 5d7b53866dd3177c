/* libFuzzer harness: the input bytes are a small program.  A header picks
 * the dtype, tape options and a few user-owned input tensors of random
 * shapes (empty ones and mixed dtypes included); then each op byte applies
 * one of ~50 ops to tensors picked from the pool with parameters read from
 * the following bytes, valid or not (bad axes, strides, shapes, NULL
 * operands, a tensor of another tape, a stale one).  The harness checks:
 *   - nothing crashes and nothing leaks (ASan/LSan/UBSan do that);
 *   - a failing op returns NULL with a status and a non-empty message, the
 *     error is sticky, and tg_tape_reset makes the tape usable again;
 *   - the user's tensors are never written by forward or backward;
 *   - backward (and a second-order tg_grad + backward) runs on whatever was
 *     built;
 *   - for a valid f64 graph of small, finite, well-conditioned values, the
 *     gradient agrees with central finite differences (tg_gradcheck).
 * Some inputs have no elements but huge extents (one 0, the others up to
 * 2^58, within the rule of tensor shapes: the non-zero extents' product
 * at most INT64_MAX / 16), and the *_HUGE ops draw strides, paddings,
 * kernels, starts, steps and target extents near 2^30, 2^31, 2^62,
 * INT64_MAX and below 0, so that every size the library derives from them
 * is computed where it can overflow (UBSan reports a signed overflow, ASan
 * a write past a block sized by a wrapped length).
 * Any violation calls __builtin_trap() so libFuzzer records a crash. */
#include "fuzz_ops.h"

#include <tapegrad.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IN   4
#define MAX_OPS  12
#define MAX_POOL (MAX_IN + MAX_OPS)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_graph: check failed at line %d: %s\n", __LINE__, #cond);         \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

typedef struct reader {
    const uint8_t *p;
    size_t n, pos;
} reader;

static uint8_t rd(reader *r)
{
    return r->pos < r->n ? r->p[r->pos++] : 0;
}

/* One decoded instruction: the op, up to three operand slots (255 = NULL,
 * 254 = a tensor of another tape, 253 = a stale tensor) and raw params. */
typedef struct instr {
    uint8_t op;
    uint8_t a, b, c;
    uint8_t p[8];
} instr;

typedef struct program {
    tg_dtype dt;
    bool anomaly, small_arena, second_order;
    int n_in, n_ops;
    instr ops[MAX_OPS];
    /* filled while running: values near a singularity make a finite
     * difference meaningless, so the gradcheck is skipped */
    bool risky;
} program;

/* The opcodes, in corpus order (fuzz_ops.h). */
#define FUZZ_OPCODE(code, name) code,
enum { FUZZ_OPS(FUZZ_OPCODE) OP_COUNT };

/* Extremes for the int parameters of conv, im2col and pooling (strides,
 * paddings, kernels): the products and sums of these overflowed. */
static int huge_int(uint8_t b)
{
    static const int v[] = {1,       2,
                            3,       0,
                            -1,      INT_MIN,
                            INT_MAX, INT_MAX - 1,
                            1 << 30, (1 << 30) + 1,
                            3 << 29, 1 << 29,
                            1 << 28, 1 << 16,
                            1000,    (INT_MAX - 1) / 2};
    return v[b % (sizeof v / sizeof v[0])];
}

/* Extremes for extents, starts and steps (int64). */
static int64_t huge_i64(uint8_t b)
{
    static const int64_t v[] = {0,
                                1,
                                2,
                                3,
                                -1,
                                -2,
                                INT64_C(1) << 30,
                                INT64_C(1) << 31,
                                (INT64_C(1) << 31) - 1,
                                INT64_C(1) << 32,
                                INT64_C(1) << 40,
                                INT64_C(1) << 58,
                                INT64_C(1) << 59,
                                INT64_MAX / 16,
                                INT64_C(1) << 62,
                                INT64_MAX / 2,
                                INT64_MAX - 1,
                                INT64_MAX,
                                INT64_MIN,
                                -(INT64_C(1) << 62)};
    return v[b % (sizeof v / sizeof v[0])];
}

static int sgn_small(uint8_t b) /* -2..5, mostly valid small ints */
{
    return (int)(b % 8) - 2;
}

static double min_abs(const tg_tensor *t)
{
    double m = INFINITY;
    for (int64_t i = 0; i < tg_tensor_numel(t); i++) {
        double v = fabs(tg_tensor_get_flat(t, i));
        if (v < m) m = v;
    }
    return m;
}
static double max_abs(const tg_tensor *t)
{
    double m = 0;
    for (int64_t i = 0; i < tg_tensor_numel(t); i++) {
        double v = fabs(tg_tensor_get_flat(t, i));
        if (!(v <= m)) m = v; /* NaN counts as large */
    }
    return m;
}
static double min_val(const tg_tensor *t)
{
    double m = INFINITY;
    for (int64_t i = 0; i < tg_tensor_numel(t); i++) {
        double v = tg_tensor_get_flat(t, i);
        if (v < m) m = v;
    }
    return m;
}

typedef struct env {
    tg_tensor *pool[MAX_POOL];
    int n;
    tg_tensor *foreign; /* a tensor of another tape */
    tg_tensor *stale;   /* a tensor from before a reset */
} env;

static tg_tensor *pick(env *e, uint8_t s)
{
    if (s == 255) return NULL;
    if (s == 254) return e->foreign;
    if (s == 253) return e->stale;
    return e->pool[s % e->n];
}

/* Could some element of a meet some element of b within 1e-4?  At a tie,
 * maximum/minimum split the gradient 1/2-1/2: a subgradient choice, so a
 * composite that is smooth there (min(max(a, b), b) = b) can get 0.75 where
 * its derivative is 1, and gradcheck's kink rule cannot see it because the
 * composite has no kink.  Every pair is compared (broadcasting aside): this
 * may skip a few checkable graphs, never keep an uncheckable one. */
static bool near_tie(const tg_tensor *a, const tg_tensor *b)
{
    if (!a || !b) return false;
    for (int64_t i = 0; i < tg_tensor_numel(a); i++)
        for (int64_t j = 0; j < tg_tensor_numel(b); j++)
            if (fabs(tg_tensor_get_flat(a, i) - tg_tensor_get_flat(b, j)) < 1e-4) return true;
    return false;
}

/* Is a within 1e-4 of 0 where b is negative, at some pair of elements
 * that atan2(a, b) puts together (broadcasting, shapes right-aligned)?
 * There atan2 jumps by 2 pi (its branch cut, the negative b axis), so a
 * finite difference across it is no derivative, and a composite may even be
 * evaluated outside its domain on the far side (atan2(y, y) is -3 pi / 4
 * there, log1p of it NaN). */
static bool near_cut(const tg_tensor *a, const tg_tensor *b)
{
    const int na = tg_tensor_ndim(a), nb = tg_tensor_ndim(b), nd = na > nb ? na : nb;
    int64_t ext[TG_MAX_DIMS], sa[TG_MAX_DIMS], sb[TG_MAX_DIMS], n = 1, ma = 1, mb = 1;
    if (tg_tensor_numel(a) == 0 || tg_tensor_numel(b) == 0) return false;
    for (int d = nd - 1; d >= 0; d--) {
        const int da = d - (nd - na), db = d - (nd - nb);
        const int64_t ea = da >= 0 ? tg_tensor_shape(a)[da] : 1;
        const int64_t eb = db >= 0 ? tg_tensor_shape(b)[db] : 1;
        if (ea != eb && ea != 1 && eb != 1) return false; /* the op refuses it */
        ext[d] = ea > eb ? ea : eb;
        if (ext[d] > 4096 / n) return true; /* too many pairs to look at: say so */
        n *= ext[d];
        sa[d] = ea == 1 ? 0 : ma; /* a stretched axis does not move */
        sb[d] = eb == 1 ? 0 : mb;
        ma *= ea, mb *= eb;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t r = i, ia = 0, ib = 0;
        for (int d = nd - 1; d >= 0; d--) {
            ia += (r % ext[d]) * sa[d];
            ib += (r % ext[d]) * sb[d];
            r /= ext[d];
        }
        if (fabs(tg_tensor_get_flat(a, ia)) < 1e-4 && tg_tensor_get_flat(b, ib) < 0) return true;
    }
    return false;
}

/* Runs one instruction; returns its output or NULL. */
/* Whether the harness itself may read t's values: not the stale tensor,
 * whose memory sanitizer builds poison after the reset (the library's
 * check reads its header unpoisoned; a read of its data is a report). */
static bool readable(const env *e, const tg_tensor *t)
{
    return t && t != e->stale;
}

static tg_tensor *run_op(tg_tape *tp, env *e, const instr *in, program *pg)
{
    tg_tensor *a = pick(e, in->a), *b = pick(e, in->b), *c = pick(e, in->c);
    const uint8_t *p = in->p;
    double s = (double)((int)p[0] - 128) / 32.0; /* a scalar in [-4, 4) */
    int ax = sgn_small(p[1]);
    switch (in->op % OP_COUNT) {
    case OP_ADD:
        return tg_add(tp, a, b);
    case OP_SUB:
        return tg_sub(tp, a, b);
    case OP_MUL:
        return tg_mul(tp, a, b);
    case OP_DIV:
        if (readable(e, b) && min_abs(b) < 0.25) pg->risky = true;
        return tg_div(tp, a, b);
    case OP_POW:
        if (readable(e, a) && min_val(a) < 0.25) pg->risky = true;
        return tg_pow(tp, a, b);
    case OP_MAXIMUM:
        if (readable(e, a) && readable(e, b) && near_tie(a, b)) pg->risky = true;
        return tg_maximum(tp, a, b);
    case OP_MINIMUM:
        if (readable(e, a) && readable(e, b) && near_tie(a, b)) pg->risky = true;
        return tg_minimum(tp, a, b);
    case OP_ADD_S:
        return tg_add_scalar(tp, a, s);
    case OP_MUL_S:
        return tg_mul_scalar(tp, a, s);
    case OP_RSUB_S:
        return tg_rsub_scalar(tp, s, a);
    case OP_RDIV_S:
        if (readable(e, a) && min_abs(a) < 0.25) pg->risky = true;
        return tg_rdiv_scalar(tp, s, a);
    case OP_POW_S:
        if (readable(e, a) && min_val(a) < 0.25) pg->risky = true;
        return tg_pow_scalar(tp, a, s);
    case OP_NEG:
        return tg_neg(tp, a);
    case OP_EXP:
        return tg_exp(tp, a);
    case OP_SIN:
        return tg_sin(tp, a);
    case OP_COS:
        return tg_cos(tp, a);
    case OP_GATHER:
    case OP_SCATTER_ADD:
    case OP_INDEX_SELECT:
    case OP_EMBEDDING:
    case OP_ONE_HOT: {
        /* a TG_I64 index of a's shape (b's for scatter_add, src's shape),
         * 1-d for index_select or when p[7] says so, or NULL; values
         * mostly small and in range, now and then one out of it */
        const tg_tensor *like = in->op % OP_COUNT == OP_SCATTER_ADD ? b : a;
        int64_t sh[8] = {(int64_t)(p[2] % 5)}, n = 0;
        int nd = 1;
        if (in->op % OP_COUNT != OP_INDEX_SELECT && !(p[7] & 2) && readable(e, like)) {
            nd = tg_tensor_ndim(like);
            memcpy(sh, tg_tensor_shape(like), (size_t)nd * sizeof *sh);
        }
        tg_tensor *ix = (p[7] & 1) ? NULL : tg_tensor_new(TG_I64, nd, sh);
        if (ix) n = tg_tensor_numel(ix);
        for (int64_t k = 0; k < n && k < 4096; k++)
            tg_tensor_i64(ix)[k] = (p[3 + k % 4] % 4) - ((p[7] & 4) && k == 0 ? 3 : 0);
        if (n > 4096) { /* too many to write: an empty index instead */
            tg_tensor_free(ix);
            ix = tg_tensor_new(TG_I64, 1, (const int64_t[]){0});
        }
        tg_tensor *r;
        switch (in->op % OP_COUNT) {
        case OP_GATHER:
            r = tg_gather(tp, a, ax, ix);
            break;
        case OP_SCATTER_ADD:
            r = tg_scatter_add(tp, a, ax, ix, b);
            break;
        case OP_INDEX_SELECT:
            r = tg_index_select(tp, a, ax, ix);
            break;
        case OP_EMBEDDING:
            r = tg_embedding(tp, a, ix, (int64_t)(p[6] % 4) - 1);
            /* the padding row: no gradient although the output reads it */
            if (p[6] % 4) pg->risky = true;
            break;
        default:
            pg->risky = true; /* a constant */
            r = tg_one_hot(tp, ix, p[6] % 5, pg->dt);
            break;
        }
        tg_tensor_free(ix);
        return r;
    }
    /* selection: a condition near 0 or an x near a bound is a kink (and a
     * fill with -inf an infinite output), not a finite difference */
    case OP_WHERE:
        if (readable(e, a) && min_abs(a) < 1e-4) pg->risky = true;
        return tg_where(tp, a, b, c);
    case OP_MASKED_FILL:
        if ((readable(e, b) && min_abs(b) < 1e-4) || (p[2] & 1)) pg->risky = true;
        return tg_masked_fill(tp, a, b, (p[2] & 1) ? -INFINITY : s);
    case OP_CLAMP: {
        const double lo = s, hi = (p[2] & 1) ? INFINITY : s + (double)p[3] / 64.0;
        if (readable(e, a))
            for (int64_t i = 0; i < tg_tensor_numel(a); i++) {
                const double v = tg_tensor_get_flat(a, i);
                if (fabs(v - lo) < 1e-4 || fabs(v - hi) < 1e-4) pg->risky = true;
            }
        return tg_clamp(tp, a, lo, hi);
    }
    case OP_CLAMP_TENSOR: {
        tg_tensor *lo = (p[2] & 1) ? NULL : b, *hi = (p[2] & 2) ? NULL : c;
        if ((readable(e, a) && readable(e, lo) && near_tie(a, lo)) ||
            (readable(e, a) && readable(e, hi) && near_tie(a, hi)) ||
            (readable(e, lo) && readable(e, hi) && near_tie(lo, hi)))
            pg->risky = true;
        return tg_clamp_tensor(tp, a, lo, hi);
    }
    case OP_EQ: /* comparisons: gradient zero by definition */
        pg->risky = true;
        return tg_eq(tp, a, b);
    case OP_NE:
        pg->risky = true;
        return tg_ne(tp, a, b);
    case OP_LT:
        pg->risky = true;
        return tg_lt(tp, a, b);
    case OP_LE:
        pg->risky = true;
        return tg_le(tp, a, b);
    case OP_GT:
        pg->risky = true;
        return tg_gt(tp, a, b);
    case OP_GE:
        pg->risky = true;
        return tg_ge(tp, a, b);
    case OP_MIN:
        return tg_min(tp, a, ax, p[2] & 1);
    case OP_PROD:
    case OP_LOGSUMEXP:
    case OP_NORM:
    case OP_VAR:
    case OP_STD: {
        int axes[TG_MAX_DIMS] = {sgn_small(p[1]), sgn_small(p[2]), sgn_small(p[3])};
        const int na = p[4] % 4; /* 0 is an error, tested too */
        const bool keep = p[5] & 1;
        /* orders and corrections, a few of them invalid */
        static const double ps[] = {1, 2, INFINITY, 3, 0.5, 0, -1, NAN};
        const double q = ps[p[6] % 8], corr = (double)(p[6] % 4) - 1;
        /* zeros and kinks (|x|, a norm or std at 0) that gradcheck may meet */
        const bool small = readable(e, a) && min_abs(a) < 0.25;
        switch (in->op % OP_COUNT) {
        case OP_PROD:
            if (small) pg->risky = true;
            return tg_prod(tp, a, na, axes, keep);
        case OP_LOGSUMEXP:
            return tg_logsumexp(tp, a, na, axes, keep);
        case OP_NORM:
            if (small || q != 2) pg->risky = true;
            return tg_norm(tp, a, q, na, axes, keep);
        case OP_VAR:
            return tg_var(tp, a, na, axes, corr, keep);
        default:
            pg->risky = true;
            return tg_std(tp, a, na, axes, corr, keep);
        }
    }
    case OP_CUMSUM:
        return tg_cumsum(tp, a, ax);
    case OP_CUMPROD:
        if (readable(e, a) && min_abs(a) < 0.25) pg->risky = true;
        return tg_cumprod(tp, a, ax);
    case OP_ARGMAX:
    case OP_ARGMIN: {
        /* an index tensor is data: the graph goes on from a (through an
         * identity, so the output is the tape's); an op given one is
         * refused (test_reduce_more.c) */
        tg_tensor *i = (in->op % OP_COUNT) == OP_ARGMAX ? tg_argmax(tp, a, ax, p[2] & 1)
                                                        : tg_argmin(tp, a, ax, p[2] & 1);
        return i ? tg_add_scalar(tp, a, 0) : NULL;
    }
    /* elementary functions: risky near a pole or a domain's edge, where a
     * finite difference with step 1e-6 is not the derivative */
    case OP_TAN:
        if (readable(e, a) && max_abs(a) > 1.2) pg->risky = true;
        return tg_tan(tp, a);
    case OP_ASIN:
    case OP_ACOS:
    case OP_ATANH:
        if (readable(e, a) && max_abs(a) > 0.9) pg->risky = true;
        return (in->op % OP_COUNT) == OP_ASIN   ? tg_asin(tp, a)
               : (in->op % OP_COUNT) == OP_ACOS ? tg_acos(tp, a)
                                                : tg_atanh(tp, a);
    case OP_ATAN:
        return tg_atan(tp, a);
    case OP_SINH:
        return tg_sinh(tp, a);
    case OP_COSH:
        return tg_cosh(tp, a);
    case OP_ASINH:
        return tg_asinh(tp, a);
    case OP_ACOSH:
        if (readable(e, a) && min_val(a) < 1.1) pg->risky = true;
        return tg_acosh(tp, a);
    case OP_ERF:
        return tg_erf(tp, a);
    case OP_ERFC:
        return tg_erfc(tp, a);
    case OP_EXPM1:
        return tg_expm1(tp, a);
    case OP_LOG1P:
        if (readable(e, a) && min_val(a) < -0.75) pg->risky = true;
        return tg_log1p(tp, a);
    case OP_LOG2:
    case OP_LOG10:
        if (readable(e, a) && min_val(a) < 0.25) pg->risky = true;
        return (in->op % OP_COUNT) == OP_LOG2 ? tg_log2(tp, a) : tg_log10(tp, a);
    case OP_EXP2:
        return tg_exp2(tp, a);
    case OP_CBRT:
    case OP_RECIPROCAL:
        if (readable(e, a) && min_abs(a) < 0.25) pg->risky = true;
        return (in->op % OP_COUNT) == OP_CBRT ? tg_cbrt(tp, a) : tg_reciprocal(tp, a);
    case OP_RSQRT:
        if (readable(e, a) && min_val(a) < 0.25) pg->risky = true;
        return tg_rsqrt(tp, a);
    case OP_SILU:
        return tg_silu(tp, a);
    case OP_GELU:
        return tg_gelu(tp, a);
    case OP_GELU_TANH:
        return tg_gelu_tanh(tp, a);
    case OP_SOFTSIGN:
        return tg_softsign(tp, a);
    case OP_MISH:
        return tg_mish(tp, a);
    case OP_LEAKY_RELU:
        return tg_leaky_relu(tp, a, s);
    case OP_ELU:
        return tg_elu(tp, a, s);
    case OP_HARDTANH: /* hi below lo (an error) when p[1] < 32 */
        return tg_hardtanh(tp, a, s, s + (double)p[1] / 64.0 - 0.5);
    case OP_ATAN2:
    case OP_HYPOT: /* 0/0 at a = b = 0; atan2's branch cut */
        if (readable(e, a) && readable(e, b) && min_abs(a) < 0.25 && min_abs(b) < 0.25)
            pg->risky = true;
        if ((in->op % OP_COUNT) == OP_ATAN2 && readable(e, a) && readable(e, b) && near_cut(a, b))
            pg->risky = true;
        return (in->op % OP_COUNT) == OP_ATAN2 ? tg_atan2(tp, a, b) : tg_hypot(tp, a, b);
    case OP_LOG:
        if (readable(e, a) && min_val(a) < 0.25) pg->risky = true;
        return tg_log(tp, a);
    case OP_SQRT:
        if (readable(e, a) && min_val(a) < 0.25) pg->risky = true;
        return tg_sqrt(tp, a);
    case OP_SQUARE:
        return tg_square(tp, a);
    case OP_ABS:
        return tg_abs(tp, a);
    case OP_SIGMOID:
        return tg_sigmoid(tp, a);
    case OP_TANH:
        return tg_tanh(tp, a);
    case OP_RELU:
        return tg_relu(tp, a);
    case OP_SOFTPLUS:
        return tg_softplus(tp, a);
    case OP_SIGN:
        pg->risky = true;
        return tg_sign(tp, a);
    case OP_STEP:
        pg->risky = true;
        return tg_step(tp, a);
    case OP_DETACH: /* gradient zero by definition: not a finite difference */
        pg->risky = true;
        return tg_detach(tp, a);
    case OP_CAST:
        /* f32 rounding swamps a finite difference with step 1e-6 */
        if (p[2] % 3 == TG_F32) pg->risky = true;
        return tg_cast(tp, a, (tg_dtype)(p[2] % 3)); /* 2 is invalid */
    case OP_SUM_ALL:
        return tg_sum_all(tp, a);
    case OP_MEAN_ALL:
        return tg_mean_all(tp, a);
    case OP_SUM:
    case OP_MEAN: {
        int axes[TG_MAX_DIMS] = {sgn_small(p[1]), sgn_small(p[2]), sgn_small(p[3])};
        int na = p[4] % 4;
        bool keep = p[5] & 1;
        const int *ap = axes;
        if (p[5] & 2) { /* every axis, listed (naxes 0 is an error, tested too) */
            na = readable(e, a) ? tg_tensor_ndim(a) : 0;
            for (int d = 0; d < na; d++) axes[d] = d;
        }
        return (in->op % OP_COUNT) == OP_SUM ? tg_sum(tp, a, na, ap, keep)
                                             : tg_mean(tp, a, na, ap, keep);
    }
    case OP_MAX:
        return tg_max(tp, a, ax, p[2] & 1);
    case OP_SUM_TO:
    case OP_RESHAPE:
    case OP_BROADCAST:
    case OP_EMBED: {
        int nd = p[2] % 5;
        int64_t sh[4];
        for (int i = 0; i < 4; i++) sh[i] = (int64_t)(p[3 + i] % 5) - 1; /* -1..3 */
        switch (in->op % OP_COUNT) {
        case OP_SUM_TO:
            return tg_sum_to(tp, a, nd, sh);
        case OP_RESHAPE:
            return tg_reshape(tp, a, nd, sh);
        case OP_BROADCAST:
            return tg_broadcast_to(tp, a, nd, sh);
        default:
            return tg_embed(tp, a, nd, sh, ax, sgn_small(p[7]), sgn_small(p[0]));
        }
    }
    case OP_PERMUTE: {
        int perm[TG_MAX_DIMS] = {p[2] % 4, p[3] % 4, p[4] % 4, p[5] % 4, 4, 5, 6, 7};
        const int nd = readable(e, a) ? tg_tensor_ndim(a) : 0;
        if (p[6] & 1) { /* usually a real permutation of the right rank */
            for (int i = 0; i < TG_MAX_DIMS; i++) perm[i] = i;
            for (int i = nd - 1; i > 0; i--) {
                int j = p[7] % (i + 1);
                int t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
        }
        /* sometimes a length other than the rank */
        return tg_permute_dims(tp, a, (p[6] & 2) ? (p[6] >> 2) % 5 : nd, perm);
    }
    case OP_TRANSPOSE:
        return tg_transpose(tp, a, ax, sgn_small(p[2]));
    case OP_SLICE:
        return tg_slice(tp, a, ax, sgn_small(p[2]), sgn_small(p[3]), sgn_small(p[4]));
    case OP_CONCAT: {
        tg_tensor *xs[3] = {a, b, c};
        return tg_concat(tp, 1 + p[2] % 3, xs, ax);
    }
    case OP_MATMUL:
        return tg_matmul(tp, a, b);
    case OP_MATMUL_T:
        return tg_matmul_t(tp, a, b, p[2] & 1, p[2] & 2);
    /* linear algebra: random matrices may be singular or not positive
     * definite, and the error is then the expected outcome */
    case OP_SOLVE:
        pg->risky = true;
        return tg_solve(tp, a, b);
    case OP_SOLVE_TRIANGULAR:
        pg->risky = true;
        return tg_solve_triangular(tp, a, b, p[2] & 1);
    case OP_CHOLESKY:
        pg->risky = true;
        return tg_cholesky(tp, a);
    case OP_INV:
        pg->risky = true;
        return tg_inv(tp, a);
    case OP_DET:
        pg->risky = true;
        return tg_det(tp, a);
    case OP_SLOGDET: {
        pg->risky = true;
        tg_tensor *sign = NULL;
        return tg_slogdet(tp, a, (p[2] & 1) ? &sign : NULL);
    }
    case OP_SOFTMAX:
        return tg_softmax(tp, a, ax);
    case OP_LOG_SOFTMAX:
        return tg_log_softmax(tp, a, ax);
    case OP_SSE:
        return tg_sse(tp, a, b);
    case OP_MSE:
        return tg_mse(tp, a, b);
    case OP_BCE: /* p must be in [0,1]: the error path is the point here */
        pg->risky = true;
        return tg_bce(tp, a, b, (tg_reduction)(p[2] % 3));
    case OP_BCE_LOGITS:
        return tg_bce_logits(tp, a, b, (tg_reduction)(p[2] % 3));
    case OP_SCE:
        return tg_softmax_cross_entropy(tp, a, b, (tg_reduction)(p[2] % 3));
    case OP_SCE_LABELS: { /* a TG_I64 label tensor of any length, 1-d or 0-d, or NULL */
        const int64_t labels[4] = {p[3] % 4, p[4] % 4, p[5] % 4, (int64_t)p[6] - 128};
        const int64_t n = p[2] % 5;
        tg_tensor *l = (p[7] & 1) ? NULL : tg_tensor_from(TG_I64, (p[1] & 4) ? 0 : 1, &n, labels);
        tg_tensor *r = tg_softmax_cross_entropy_index(tp, a, l, (tg_reduction)(p[1] % 3));
        tg_tensor_free(l);
        return r;
    }
    case OP_CONV2D:
        return tg_conv2d(tp, a, b, (p[2] & 1) ? c : NULL, sgn_small(p[3]), sgn_small(p[4]),
                         sgn_small(p[5]), sgn_small(p[6]));
    case OP_IM2COL:
        return tg_im2col(tp, a, sgn_small(p[1]), sgn_small(p[2]), sgn_small(p[3]), sgn_small(p[4]),
                         sgn_small(p[5]), sgn_small(p[6]));
    case OP_COL2IM: {
        int64_t img[4] = {p[7] % 3, 1 + p[0] % 3, p[1] % 4, p[2] % 4};
        return tg_col2im_to(tp, a, 4, (p[3] & 128) ? NULL : img, 1 + p[3] % 3, 1 + p[4] % 3,
                            sgn_small(p[5]), sgn_small(p[6]), 0, p[4] >> 7);
    }
    case OP_MAXPOOL:
        return tg_max_pool2d(tp, a, sgn_small(p[1]), sgn_small(p[2]), sgn_small(p[3]),
                             sgn_small(p[4]), sgn_small(p[5]), sgn_small(p[6]));
    case OP_AVGPOOL:
        return tg_avg_pool2d(tp, a, sgn_small(p[1]), sgn_small(p[2]), sgn_small(p[3]),
                             sgn_small(p[4]), sgn_small(p[5]), sgn_small(p[6]));
    case OP_FLATTEN:
        return tg_flatten(tp, a);
    /* normalisation with a large eps: no set is near a zero variance, where
     * the gradient is too steep for a finite difference */
    case OP_LAYER_NORM:
        return tg_layer_norm(tp, a, sgn_small(p[1]), (p[2] & 1) ? b : NULL, (p[2] & 2) ? c : NULL,
                             0.1);
    case OP_GROUP_NORM:
        return tg_group_norm(tp, a, sgn_small(p[1]), (p[2] & 1) ? b : NULL, (p[2] & 2) ? c : NULL,
                             0.1);
    case OP_BATCH_NORM: {
        /* training without running statistics (the harness checks that its
         * inputs are never written), or evaluation with b and c as the
         * running mean and variance (a variance near -eps is a singularity) */
        const bool training = !(p[2] & 4);
        if (!training && readable(e, c) && min_val(c) < 0.25) pg->risky = true;
        return tg_batch_norm(tp, a, (p[2] & 1) ? b : NULL, (p[2] & 2) ? c : NULL,
                             training ? NULL : b, training ? NULL : c, training, 0.1, 0.1);
    }
    /* dilation, groups and output padding small, some invalid (issue 19, item 7) */
    case OP_CONV2D_EX: {
        const tg_conv2d_opts o = {sgn_small(p[3]),     sgn_small(p[4]), sgn_small(p[5]),
                                  sgn_small(p[6]),     sgn_small(p[7]), sgn_small(p[1]),
                                  sgn_small(p[2] >> 1)};
        return tg_conv2d_ex(tp, a, b, (p[2] & 1) ? c : NULL, (p[0] & 1) ? NULL : &o);
    }
    case OP_CONV1D:
        return tg_conv1d(tp, a, b, (p[2] & 1) ? c : NULL, sgn_small(p[3]), sgn_small(p[4]),
                         sgn_small(p[5]), sgn_small(p[6]));
    case OP_CONV_T: {
        const tg_conv2d_opts o = {sgn_small(p[3]),     sgn_small(p[4]), sgn_small(p[5]),
                                  sgn_small(p[6]),     sgn_small(p[7]), sgn_small(p[1]),
                                  sgn_small(p[2] >> 1)};
        return tg_conv_transpose2d(tp, a, b, (p[2] & 1) ? c : NULL, &o, sgn_small(p[0]),
                                   sgn_small(p[0] >> 3));
    }
    case OP_ADAPTIVE_POOL:
        return tg_adaptive_avg_pool2d(tp, a, sgn_small(p[1]), sgn_small(p[2]));
    case OP_GLOBAL_POOL:
        return tg_global_avg_pool2d(tp, a);
    /* extreme parameters: these exercise validation and the error paths;
     * a graph they leave valid (huge strides or steps that still fit) is
     * not a finite-difference check (windows of 2^31 scale by 2^-62) */
    case OP_CONV2D_HUGE:
        pg->risky = true;
        return tg_conv2d(tp, a, b, (p[2] & 1) ? c : NULL, huge_int(p[3]), huge_int(p[4]),
                         huge_int(p[5]), huge_int(p[6]));
    case OP_IM2COL_HUGE:
        pg->risky = true;
        return tg_im2col(tp, a, (p[7] & 1) ? huge_int(p[1]) : 1 + p[1] % 3,
                         (p[7] & 2) ? huge_int(p[2]) : 1 + p[2] % 3, huge_int(p[3]), huge_int(p[4]),
                         huge_int(p[5]), huge_int(p[6]));
    case OP_COL2IM_HUGE: {
        pg->risky = true;
        int64_t img[4] = {huge_i64(p[7]), 1 + p[0] % 3, huge_i64(p[1]), huge_i64(p[2])};
        return tg_col2im_to(tp, a, 4, img, (p[0] & 64) ? huge_int(p[3]) : 1 + p[3] % 3,
                            (p[0] & 128) ? huge_int(p[4]) : 1 + p[4] % 3, huge_int(p[5]),
                            huge_int(p[6]), huge_int(p[3] >> 4), huge_int(p[4] >> 4));
    }
    case OP_POOL_HUGE: {
        pg->risky = true;
        const int kh = (p[7] & 1) ? huge_int(p[1]) : 1 + p[1] % 3;
        const int kw = (p[7] & 2) ? huge_int(p[2]) : 1 + p[2] % 3;
        /* the padding: mostly the largest allowed, half the window */
        const int ph = (p[7] & 4) ? huge_int(p[5]) : kh / 2,
                  pw = (p[7] & 8) ? huge_int(p[6]) : kw / 2;
        return (p[7] & 16) ? tg_max_pool2d(tp, a, kh, kw, huge_int(p[3]), huge_int(p[4]), ph, pw)
                           : tg_avg_pool2d(tp, a, kh, kw, huge_int(p[3]), huge_int(p[4]), ph, pw);
    }
    case OP_SLICE_HUGE:
        return tg_slice(tp, a, ax, huge_i64(p[2]), huge_i64(p[3]), huge_i64(p[4]));
    case OP_EMBED_HUGE:
    case OP_RESHAPE_HUGE:
    case OP_BROADCAST_HUGE: {
        /* x's own extents, some replaced by extremes (and -1 for reshape) */
        int nd = p[2] % 5;
        int64_t sh[4];
        for (int i = 0; i < 4; i++)
            sh[i] = readable(e, a) && i < tg_tensor_ndim(a) && !(p[7] & (1u << i))
                        ? tg_tensor_shape(a)[i]
                        : huge_i64(p[3 + i]);
        switch (in->op % OP_COUNT) {
        case OP_RESHAPE_HUGE:
            return tg_reshape(tp, a, nd, sh);
        case OP_BROADCAST_HUGE:
            return tg_broadcast_to(tp, a, nd, sh);
        default:
            return tg_embed(tp, a, nd, sh, ax, huge_i64(p[1]), huge_i64(p[0]));
        }
    }
    }
    return NULL;
}

/* Runs the program on tp with the given inputs; returns the last output
 * (the last input if no op ran), or NULL when the tape is in error. */
static tg_tensor *run(tg_tape *tp, tg_tensor *const *inputs, program *pg, env *e)
{
    e->n = pg->n_in;
    for (int i = 0; i < pg->n_in; i++) e->pool[i] = inputs[i];
    for (int k = 0; k < pg->n_ops; k++) {
        tg_tensor *y = run_op(tp, e, &pg->ops[k], pg);
        if (!y) {
            tg_status st = tg_tape_status(tp);
            CHECK(st != TG_OK);
            CHECK(tg_tape_error(tp)[0] != '\0');
            /* sticky: the next op fails the same way without effect */
            CHECK(tg_exp(tp, inputs[0]) == NULL);
            CHECK(tg_tape_status(tp) == st);
            return NULL;
        }
        CHECK(tg_tape_status(tp) == TG_OK);
        CHECK(tg_tensor_tape(y) == tp);
        e->pool[e->n++] = y;
    }
    return e->pool[e->n - 1];
}

typedef struct gc_ctx {
    program *pg;
    tg_tape *other;
} gc_ctx;

static tg_tensor *gc_fn(tg_tape *tp, tg_tensor *const *inputs, void *vctx)
{
    gc_ctx *g = vctx;
    env e = {.foreign = NULL, .stale = NULL};
    return run(tp, inputs, g->pg, &e);
}

static bool finite_and_small(const tg_tensor *t, double bound)
{
    for (int64_t i = 0; i < tg_tensor_numel(t); i++) {
        double v = tg_tensor_get_flat(t, i);
        if (!isfinite(v) || fabs(v) > bound) return false;
    }
    return true;
}

/* How often each outcome happened, printed at exit with TG_FUZZ_STATS=1 (so
 * a run can show that the finite-difference check is really reached). */
static long g_runs, g_valid, g_gradchecks;
static void print_stats(void)
{
    fprintf(stderr, "fuzz_graph: %ld inputs, %ld valid graphs, %ld gradchecks\n", g_runs, g_valid,
            g_gradchecks);
}
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (getenv("TG_FUZZ_STATS")) atexit(print_stats);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_runs++;
    reader r = {data, size, 0};
    program pg = {0};
    uint8_t flags = rd(&r);
    pg.dt = (flags & 1) ? TG_F32 : TG_F64;
    pg.anomaly = flags & 2;
    pg.small_arena = (flags & 0x0c) == 0x0c;
    pg.second_order = flags & 16;
    bool mixed = (flags & 0xe0) == 0xe0; /* some inputs of the other dtype */
    pg.n_in = 1 + rd(&r) % MAX_IN;

    tg_tensor *inputs[MAX_IN] = {0}, *orig[MAX_IN] = {0};
    int64_t total = 0;
    for (int i = 0; i < pg.n_in; i++) {
        uint8_t h = rd(&r);
        /* bits 0-2: rank 0..4; 0x20 requires grad; 0x40 dtype; 0x80 (with
         * rank >= 2) no elements, huge extents */
        int nd = (h & 7) % 5;
        int64_t sh[4];
        for (int d = 0; d < nd; d++) {
            uint8_t x = rd(&r);
            sh[d] = x % 8 == 7 ? 0 : 1 + x % 3; /* 0 now and then: empty tensors */
        }
        if ((h & 0x80) && nd >= 2) {
            /* one 0 (axis from the first extent byte) and extremes elsewhere
             * whose product stays within the rule of tensor shapes */
            const int zero = (int)(sh[0] % (int64_t)nd);
            int64_t prod = 1;
            for (int d = 0; d < nd; d++) {
                int64_t e = d == zero ? 0 : huge_i64(rd(&r));
                if (d != zero && (e < 1 || e > INT64_MAX / 16 / prod)) e = 1;
                if (d != zero) prod *= e;
                sh[d] = e;
            }
        }
        tg_dtype dt = (mixed && (h & 0x40)) ? (pg.dt == TG_F64 ? TG_F32 : TG_F64) : pg.dt;
        tg_rng rng;
        tg_rng_seed(&rng, rd(&r));
        inputs[i] = tg_tensor_new(dt, nd, sh);
        CHECK(inputs[i] != NULL);
        tg_tensor_fill_uniform(inputs[i], &rng, 0.3, 2.0);
        /* signs from a byte, so values are bounded away from zero */
        uint8_t signs = rd(&r);
        for (int64_t k = 0; k < tg_tensor_numel(inputs[i]); k++)
            if (signs & (1u << (k % 8)))
                tg_tensor_set_flat(inputs[i], k, -tg_tensor_get_flat(inputs[i], k));
        tg_tensor_set_requires_grad(inputs[i], h & 0x20);
        orig[i] = tg_tensor_clone(inputs[i]);
        CHECK(orig[i] != NULL);
        total += tg_tensor_numel(inputs[i]);
    }
    while (pg.n_ops < MAX_OPS && r.pos < r.n) {
        instr *in = &pg.ops[pg.n_ops++];
        in->op = rd(&r);
        in->a = rd(&r);
        in->b = rd(&r);
        in->c = rd(&r);
        for (int k = 0; k < 8; k++) in->p[k] = rd(&r);
    }

    /* a bounded arena: a huge geometry that validation lets through must
     * end in TG_ERR_NOMEM, not in an allocation beyond libFuzzer's limit */
    tg_tape_options opts = {.anomaly = pg.anomaly,
                            .arena_limit = pg.small_arena ? 6000 : (size_t)64 << 20,
                            .arena_chunk = 1024};
    tg_tape *tp = tg_tape_new(&opts);
    tg_tape *other = tg_tape_new(NULL);
    CHECK(tp && other);
    env e = {0};
    e.foreign = tg_exp(other, inputs[0]);
    e.stale = tg_neg(tp, inputs[0]);
    CHECK(e.foreign && (e.stale || pg.small_arena));
    tg_tape_reset(tp); /* e.stale is now from an old epoch */

    tg_tensor *y = run(tp, inputs, &pg, &e);
    bool valid = y != NULL;
    g_valid += valid;
    if (valid) {
        /* backward through a scalar made of the whole output */
        tg_tensor *loss = tg_sum_all(tp, tg_mul(tp, y, y));
        tg_status st = loss ? tg_backward(tp, loss) : tg_tape_status(tp);
        if (st != TG_OK) {
            CHECK(tg_tape_status(tp) == st);
            CHECK(tg_tape_error(tp)[0] != '\0');
            valid = false;
        } else if (pg.second_order) {
            /* d loss / d x0 with create_graph, then backward of its square */
            tg_tensor *g = tg_grad(tp, loss, inputs[0], true);
            tg_tensor *l2 = g ? tg_sum_all(tp, tg_square(tp, g)) : NULL;
            st = l2 ? tg_backward(tp, l2) : tg_tape_status(tp);
            if (st != TG_OK) CHECK(tg_tape_error(tp)[0] != '\0');
        }
    } else {
        CHECK(tg_tape_status(tp) != TG_OK);
    }
    for (int i = 0; i < pg.n_in; i++)
        CHECK(memcmp(tg_tensor_data(inputs[i]), tg_tensor_data(orig[i]),
                     (size_t)tg_tensor_numel(inputs[i]) *
                         tg_dtype_size(tg_tensor_dtype(inputs[i]))) == 0);

    /* the tape works again after a reset */
    tg_tape_reset(tp);
    CHECK(tg_tape_status(tp) == TG_OK);
    if (!pg.small_arena) CHECK(tg_neg(tp, inputs[0]) != NULL);

    /* finite differences on valid, small, well-conditioned f64 graphs */
    bool all_f64 = true, any_rg = false;
    for (int i = 0; i < pg.n_in; i++) {
        all_f64 = all_f64 && tg_tensor_dtype(inputs[i]) == TG_F64;
        any_rg = any_rg || tg_tensor_requires_grad(inputs[i]);
    }
    if (valid && all_f64 && any_rg && !pg.risky && !pg.anomaly && total <= 48) {
        tg_tape_reset(tp);
        env e2 = {0};
        tg_tensor *y2 = run(tp, inputs, &pg, &e2);
        /* (an output that is just an input is not on the tape: nothing to check) */
        bool ok = y2 && tg_tensor_tape(y2) == tp && tg_tensor_numel(y2) <= 64;
        for (int k = 0; ok && k < e2.n; k++) ok = finite_and_small(e2.pool[k], 30.0);
        if (ok) {
            gc_ctx g = {&pg, NULL};
            tg_compare_report rep[MAX_IN];
            tg_status st = tg_gradcheck(gc_fn, &g, pg.n_in, inputs, NULL, rep);
            g_gradchecks++;
            if (st != TG_OK) {
                fprintf(stderr, "gradcheck: %s: %s\n", tg_strerror(st), tg_last_error());
                for (int i = 0; i < pg.n_in; i++) tg_compare_report_print(stderr, "input", &rep[i]);
                tg_tape_reset(tp);
                run(tp, inputs, &pg, &e2);
                tg_tape_print(tp, stderr);
            }
            CHECK(st == TG_OK);
        }
        for (int i = 0; i < pg.n_in; i++)
            CHECK(memcmp(tg_tensor_data(inputs[i]), tg_tensor_data(orig[i]),
                         (size_t)tg_tensor_numel(inputs[i]) * 8) == 0);
    }

    tg_tape_free(tp);
    tg_tape_free(other);
    for (int i = 0; i < pg.n_in; i++) {
        tg_tensor_free(inputs[i]);
        tg_tensor_free(orig[i]);
    }
    return 0;
}
