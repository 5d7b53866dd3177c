/* The bad-input catalogue (docs/errors.md), one row per error the library
 * can report, each checked here: the status, and the message exactly as a
 * user sees it.  Errors on a tape are also checked to be sticky (a later op
 * returns NULL) and cleared by tg_tape_reset.
 *
 * The table in docs/errors.md is printed by this program
 * (`test_errors_catalogue --markdown`), and the test checks that every row's
 * message appears in docs/errors.md, so the document cannot drift from what
 * the library prints. */
#include "common.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "src/core/internal.h" /* struct tg_tensor: a zeroed one is "not live" */
#include "src/scalar/stape.h"  /* struct tg_stape: a full tape without the memory */

typedef struct fixture {
    tg_tape *tp, *other;
    tg_tensor *a23, *b4, *c21, *f23, *e0, *img, *w, *p, *s;
} fixture;

/* Where the message is read from. */
typedef enum { ON_TAPE, LAST_ERROR, RETURNED, WARNING } where;

typedef struct row {
    const char *id;
    const char *area;
    tg_status st;
    where where;
    const char *trigger; /* what the user did, in words */
    const char *msg;     /* exactly as printed */
    tg_status (*run)(fixture *f);
} row;

/* ---- shared helpers ------------------------------------------------------ */
static const char *k_st_path = "tg_catalogue.safetensors";
static const char *k_idx_path = "tg_catalogue.idx";
static const char *k_loop_path = "tg_catalogue_loop.safetensors";

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(b, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

/* A safetensors file of one entry with the given header JSON and data. */
static void write_st(const char *json, const void *data, size_t n)
{
    size_t hl = strlen(json);
    unsigned char *b = calloc(1, 8 + hl + n + 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, json, hl);
    if (n) memcpy(b + 8 + hl, data, n);
    write_bytes(k_st_path, b, 8 + hl + n);
    free(b);
}

/* The IDX file of n bytes b as one gzip member, cut by cut bytes, with the
 * byte at flip (counted from the end; 0: none) changed, then extra bytes. */
static void write_idx_gz(const void *b, size_t n, size_t cut, size_t flip, const char *extra)
{
    z_stream z = {0};
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    unsigned char out[256];
    z.next_in = (Bytef *)(uintptr_t)b;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = sizeof out;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t len = z.total_out;
    deflateEnd(&z);
    if (flip) out[len - flip] ^= 1;
    len -= cut;
    size_t e = strlen(extra);
    ck_assert_uint_le(len + e, sizeof out);
    memcpy(out + len, extra, e);
    write_bytes(k_idx_path, out, len + e);
}

static tg_status bw_silent_fail(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    (void)tp, (void)n, (void)g, (void)gin;
    return TG_ERR_ARG; /* fails without setting the tape error */
}
static const tg_op k_silent = {.name = "silent", .arity = 1, .backward = bw_silent_fail};
static tg_status bw_wrong_shape(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    (void)n;
    gin[0] = tg_sum_all(tp, g); /* a scalar for a (2,3) input */
    return TG_OK;
}
static const tg_op k_wrong = {.name = "wrong_shape", .arity = 1, .backward = bw_wrong_shape};

/* A custom op y = x recorded with the given descriptor. */
static tg_tensor *custom(tg_tape *tp, const tg_op *op, tg_tensor *x)
{
    tg_tensor *y = tg_tape_alloc(tp, tg_tensor_dtype(x), tg_tensor_ndim(x), tg_tensor_shape(x));
    if (!y) return NULL;
    tg_tensor_copy(y, x);
    return tg_tape_record(tp, op, 1, &x, y, NULL, 0, 0, NULL);
}

static tg_tensor *gc_sum(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_sum_all(tp, tg_square(tp, in[0]));
}
static tg_tensor *gc_null(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)tp, (void)in, (void)ctx;
    return NULL;
}
static tg_tensor *gc_bad_op(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_matmul(tp, in[0], in[0]);
}
static int g_calls;
static tg_tensor *gc_growing(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return g_calls++ == 0 ? tg_square(tp, in[0]) : tg_sum_all(tp, in[0]);
}
static tg_tensor *gc_wrong(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return custom(tp, &k_wrong, in[0]);
}
static tg_tensor *gc_bad_grad(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_sum_all(tp, tg_detach(tp, tg_square(tp, in[0]))); /* gradient 0, not 2x */
}

/* An op "twice" (y = 2x) whose direct rule is right (2g) and whose
 * op-built rule is not (3g): gradcheck's numbers pass, its rules differ. */
static tg_status twice_built(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    (void)n;
    gin[0] = tg_mul_scalar(tp, g, 3.0);
    return TG_OK;
}
static tg_status twice_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    (void)n;
    return tg_grad_sink_add(k, 0, tg_mul_scalar(tp, (tg_tensor *)g, 2.0));
}
static const tg_op k_twice = {
    .name = "twice", .arity = 1, .backward = twice_built, .direct = twice_direct, .scalar = NULL};
static tg_tensor *gc_twice(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *x = in[0];
    tg_tensor *y = tg_tape_alloc(tp, tg_tensor_dtype(x), tg_tensor_ndim(x), tg_tensor_shape(x));
    if (!y) return NULL;
    for (int64_t i = 0; i < tg_tensor_numel(x); i++)
        tg_tensor_set_flat(y, i, 2 * tg_tensor_get_flat(x, i));
    return tg_sum_all(tp, tg_tape_record(tp, &k_twice, 1, &x, y, NULL, 0, 0, NULL));
}

/* ---- the rows -------------------------------------------------------------- */
#define T f->tp
#define OP(expr)                                                                                   \
    do {                                                                                           \
        ck_assert_ptr_null(expr);                                                                  \
        return tg_tape_status(T);                                                                  \
    } while (0)

/* tape: inputs and recording */
static tg_status r_null_input(fixture *f)
{
    OP(tg_add(T, f->a23, NULL));
}
static tg_status r_null_array(fixture *f)
{
    OP(tg_concat(T, 2, NULL, 0));
}
static tg_status r_not_live(fixture *f)
{
    struct tg_tensor fake;
    memset(&fake, 0, sizeof fake);
    OP(tg_exp(T, &fake));
}
/* freed after a tape recorded it: the tape keeps it until reset */
static tg_status r_input_freed(fixture *f)
{
    tg_tensor *x = tg_tensor_clone(f->a23);
    ck_assert_ptr_nonnull(tg_exp(T, x));
    tg_tensor_free(x);
    OP(tg_exp(T, x));
}
static tg_status r_other_tape(fixture *f)
{
    OP(tg_mul(T, f->a23, tg_exp(f->other, f->a23)));
}
static tg_status r_stale(fixture *f)
{
    tg_tensor *y = tg_exp(T, f->a23);
    tg_tape_reset(T);
    OP(tg_neg(T, y));
}
static tg_status r_null_tape(fixture *f)
{
    ck_assert_ptr_null(tg_add(NULL, f->a23, f->a23));
    return tg_last_status();
}
/* The growth warning, captured (WARNING rows read it from here). */
static char g_warning[512];
static void capture_warning(const tg_tape *tp, const char *msg, void *ctx)
{
    (void)tp, (void)ctx;
    snprintf(g_warning, sizeof g_warning, "%s", msg);
}
static tg_status r_growth_warning(fixture *f)
{
    (void)f;
    g_warning[0] = '\0';
    tg_tape *tp =
        tg_tape_new(&(tg_tape_options){.growth_warning = 1 << 20, .on_warning = capture_warning});
    tg_tensor *w = tg_tensor_zeros(TG_F64, 1, TT_SHAPE(1 << 16));
    tg_tensor_set_requires_grad(w, true);
    for (int step = 0; step < 8; step++) /* no tg_tape_reset: the tape grows */
        ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_exp(tp, w))), TG_OK);
    tg_tape_free(tp);
    tg_tensor_free(w);
    return TG_OK;
}
static tg_status r_record_count(fixture *f)
{
    tg_tensor *o = tg_tape_alloc(T, TG_F64, 2, TT_SHAPE(2, 3));
    OP(tg_tape_record(T, &k_silent, 2, (tg_tensor *[]){f->a23, f->a23}, o, NULL, 0, 0, NULL));
}
static tg_status r_record_output(fixture *f)
{
    OP(tg_tape_record(T, &k_silent, 1, &f->a23, f->b4, NULL, 0, 0, NULL));
}
static tg_status r_record_saved(fixture *f)
{
    tg_tensor *o = tg_tape_alloc(T, TG_F64, 2, TT_SHAPE(2, 3));
    OP(tg_tape_record(T, &k_silent, 1, &f->a23, o, NULL, 8, 0, NULL));
}
static tg_status r_record_big(fixture *f)
{
    /* the count is refused before any aux pointer is read */
    tg_tensor *o = tg_tape_alloc(T, TG_F64, 2, TT_SHAPE(2, 3));
    OP(tg_tape_record(T, &k_silent, 1, &f->a23, o, NULL, 0, 65536, &f->a23));
}
static tg_status r_record_negative(fixture *f)
{
    tg_tensor *o = tg_tape_alloc(T, TG_F64, 2, TT_SHAPE(2, 3));
    OP(tg_tape_record(T, &k_silent, -1, NULL, o, NULL, 0, 0, NULL));
}
static tg_status r_check_negative(fixture *f)
{
    ck_assert(!tg_tape_check_inputs(T, "custom", -1, NULL));
    return tg_tape_status(T);
}
static tg_status r_alloc_dtype(fixture *f)
{
    OP(tg_tape_alloc(T, (tg_dtype)7, 1, TT_SHAPE(2)));
}
static tg_status r_alloc_ndim(fixture *f)
{
    OP(tg_tape_alloc(T, TG_F64, 9, TT_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1)));
}
static tg_status r_alloc_shape_null(fixture *f)
{
    OP(tg_tape_alloc(T, TG_F64, 2, NULL));
}
static tg_status r_alloc_extent(fixture *f)
{
    OP(tg_tape_alloc(T, TG_F64, 2, TT_SHAPE(2, -5)));
}
static tg_status r_alloc_big(fixture *f)
{
    OP(tg_tape_alloc(T, TG_F32, 2, TT_SHAPE(INT64_C(1) << 40, INT64_C(1) << 40)));
}
static tg_status r_alloc_in_op(fixture *f)
{
    /* a custom op's output: the error names the op, not the allocation */
    ck_assert(tg_tape_check_inputs(T, "custom", 1, &f->a23));
    OP(tg_tape_alloc(T, TG_F64, 3, TT_SHAPE(2, INT64_C(1) << 62, 3)));
}
static tg_status r_arena_limit(fixture *f)
{
    tg_tape_free(T);
    T = tg_tape_new(&(tg_tape_options){.arena_limit = 4096});
    tg_tensor *big = tg_tensor_zeros(TG_F64, 1, TT_SHAPE(1000));
    tg_tensor *y = tg_exp(T, big);
    tg_tensor_free(big);
    OP(y);
}
static tg_status r_nomem_nodes(fixture *f)
{
    tg_tape_free(T); /* an arena big enough that the node list is what fails */
    T = tg_tape_new(&(tg_tape_options){.arena_chunk = 1 << 20});
    tg_tensor *y = tg_exp(T, f->a23); /* node list and arena exist now */
    for (int i = 0; i < 255; i++) y = tg_neg(T, y);
    tt_fail_after = 0;
    tg_set_allocator(&tt_failing); /* the 257th node needs a bigger list */
    tg_tensor *z = tg_neg(T, y);
    tg_set_allocator(NULL);
    OP(z);
}
static tg_status r_nomem_register(fixture *f)
{
    tg_tensor *c = tg_tape_alloc(T, TG_F64, 2, TT_SHAPE(2, 3));
    ck_assert_ptr_nonnull(tg_neg(T, c)); /* node list and arena exist, no user tensor yet */
    tt_fail_after = 0;
    tg_set_allocator(&tt_failing);
    tg_tensor *z = tg_neg(T, f->a23); /* the first user tensor needs the map */
    tg_set_allocator(NULL);
    OP(z);
}
static tg_status r_anomaly_forward(fixture *f)
{
    tg_tape_set_anomaly(T, true);
    OP(tg_log(T, tg_neg(T, f->a23)));
}
static tg_status r_anomaly_backward(fixture *f)
{
    /* sqrt(0) is finite, its derivative 1/(2 sqrt 0) is not */
    tg_tape_set_anomaly(T, true);
    tg_tensor *z = tg_mul_scalar(T, f->p, 0.0);
    tg_tensor *y = tg_sum_all(T, tg_sqrt(T, z));
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_backward(T, y), TG_ERR_NUMERIC);
    return tg_tape_status(T);
}

/* autodiff */
static tg_status r_bw_null(fixture *f)
{
    return tg_backward(T, NULL);
}
static tg_status r_bw_not_scalar(fixture *f)
{
    return tg_backward(T, tg_exp(T, f->a23));
}
static tg_status r_bw_seed(fixture *f)
{
    return tg_backward_ex(T, tg_exp(T, f->a23), &(tg_backward_options){.seed = f->b4});
}
static tg_status r_bw_not_recorded(fixture *f)
{
    return tg_backward(T, f->s);
}
static tg_status r_bw_state(fixture *f)
{
    ck_assert_ptr_null(tg_add(T, f->a23, f->b4));
    return tg_backward(T, tg_exp(T, f->a23)); /* returns STATE; the message stays */
}
static tg_status r_bw_rule_failed(fixture *f)
{
    return tg_backward(T, tg_sum_all(T, custom(T, &k_silent, f->p)));
}
static tg_status r_bw_rule_shape(fixture *f)
{
    return tg_backward(T, tg_sum_all(T, custom(T, &k_wrong, f->p)));
}
/* A first backward for w makes its .grad storage (after the sweep), the
 * second one its second gradient buffer (before the sweep); the failing
 * allocator makes that allocation fail, and .grad stays as it was. */
static tg_status bw_nomem_after(fixture *f, bool second)
{
    tg_tensor *w = tt_param(1, TT_SHAPE(1000), 9, -1, 1);
    tg_tensor *y = tg_sum_all(T, tg_square(T, w));
    ck_assert_ptr_nonnull(y);
    if (second) ck_assert_int_eq(tg_backward(T, y), TG_OK);
    tg_tensor *before = second ? tg_tensor_clone(tg_tensor_grad(w)) : NULL;
    tt_fail_after = 0;
    tg_set_allocator(&tt_failing);
    tg_status st = tg_backward(T, y); /* the sweep fits the arena */
    tg_set_allocator(NULL);
    if (second) /* nothing written */
        ck_assert(tg_compare(tg_tensor_grad(w), before, 0, 0, NULL));
    else
        ck_assert_ptr_null(tg_tensor_grad(w));
    tg_tensor_free(before);
    tg_tensor_free(w);
    return st;
}
static tg_status r_bw_nomem(fixture *f)
{
    return bw_nomem_after(f, false);
}
static tg_status r_bw_nomem_spare(fixture *f)
{
    return bw_nomem_after(f, true);
}
static tg_status r_retain_late(fixture *f)
{
    tg_tensor *h = tg_exp(T, f->p);
    ck_assert_int_eq(tg_backward(T, tg_sum_all(T, h)), TG_OK);
    return tg_retain_grad(T, h);
}
static tg_status r_retain_other(fixture *f)
{
    return tg_retain_grad(T, tg_exp(f->other, f->a23));
}
static tg_status r_retain_freed(fixture *f)
{
    tg_tensor *w = tt_param(1, TT_SHAPE(2), 9, -1, 1);
    ck_assert_ptr_nonnull(tg_exp(T, w));
    tg_tensor_free(w); /* the tape still holds it */
    return tg_retain_grad(T, w);
}
static tg_status r_retain_stale(fixture *f)
{
    tg_tensor *h = tg_exp(T, f->a23);
    tg_tape_reset(T);
    return tg_retain_grad(T, h);
}
static tg_status r_vjp_null(fixture *f)
{
    tg_tensor *out[1];
    return tg_vjp(T, tg_sum_all(T, f->a23), NULL, 1, NULL, out, false);
}
static tg_status r_grad_null_y(fixture *f)
{
    ck_assert_ptr_null(tg_grad(T, NULL, f->a23, false));
    return tg_tape_status(T);
}
static tg_status r_hvp_null_y(fixture *f)
{
    tg_tensor *out[1];
    return tg_hvp(T, NULL, 1, &f->p, &f->p, out, false);
}
static tg_status r_hessian_null_y(fixture *f)
{
    ck_assert_ptr_null(tg_hessian(T, NULL, f->p));
    return tg_tape_status(T);
}
/* forward mode */
static tg_status jvp_wrong_tangent(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                                   tg_tensor **tout)
{
    (void)n;
    *tout = tg_sum_all(tp, tin[0]); /* a scalar for a (2,3) output */
    return TG_OK;
}
static const tg_op k_wrong_tangent = {
    .name = "wrong_tangent", .arity = 1, .backward = bw_silent_fail, .jvp = jvp_wrong_tangent};
static tg_status jvp_of(fixture *f, tg_tensor *y, int n, tg_tensor *t)
{
    tg_tensor *out[1];
    return tg_jvp(T, n, &f->a23, &t, 1, &y, out, false);
}
static tg_status r_jvp_tangent_shape(fixture *f)
{
    return jvp_of(f, tg_exp(T, f->a23), 1, f->b4);
}
static tg_status r_jvp_tangent_dtype(fixture *f)
{
    return jvp_of(f, tg_exp(T, f->a23), 1, f->f23);
}
static tg_status r_jvp_negative(fixture *f)
{
    return jvp_of(f, tg_exp(T, f->a23), -1, f->a23);
}
static tg_status r_jvp_rule_shape(fixture *f)
{
    return jvp_of(f, custom(T, &k_wrong_tangent, f->a23), 1, f->a23);
}
static tg_status r_jvp_backward_failed(fixture *f)
{
    return jvp_of(f, custom(T, &k_silent, f->a23), 1, f->a23);
}
static tg_status r_jvp_backward_shape(fixture *f)
{
    return jvp_of(f, custom(T, &k_wrong, f->a23), 1, f->a23);
}
static tg_status r_jacobian_mode(fixture *f)
{
    ck_assert_ptr_null(tg_jacobian_ex(T, tg_exp(T, f->a23), f->a23, (tg_jac_mode)7));
    return tg_tape_status(T);
}
static tg_status r_bw_no_requires_grad(fixture *f)
{
    return tg_backward(T, tg_sum_all(T, tg_exp(T, f->a23)));
}
static tg_status r_bw_modified(fixture *f)
{
    tg_tensor *y = tg_sum_all(T, tg_mul(T, f->p, f->a23));
    tg_tensor_set_flat(f->a23, 0, 1); /* the same value: still a write */
    return tg_backward(T, y);
}
static tg_status r_bw_freed(fixture *f)
{
    tg_tensor *w = tt_param(1, TT_SHAPE(4), 9, -1, 1);
    tg_tensor *y = tg_sum_all(T, tg_mul(T, f->b4, w));
    tg_tensor_free(w); /* the tape keeps it until reset */
    return tg_backward(T, y);
}
static tg_status r_grad_not_recorded(fixture *f)
{
    ck_assert_ptr_null(tg_grad(T, tg_sum_all(T, f->p), f->a23, false));
    return tg_tape_status(T);
}
static tg_status r_grad_unused(fixture *f)
{
    ck_assert_ptr_nonnull(tg_exp(T, f->a23));
    ck_assert_ptr_null(tg_grad(T, tg_sum_all(T, f->p), f->a23, false));
    return tg_tape_status(T);
}

/* elementwise, dtypes */
static tg_status r_broadcast(fixture *f)
{
    OP(tg_mul(T, f->a23, f->b4));
}
static tg_status r_dtype(fixture *f)
{
    OP(tg_add(T, f->a23, f->f23));
}
static tg_status r_i64_op(fixture *f)
{
    tg_tensor *i = tg_tensor_zeros(TG_I64, 2, TT_SHAPE(2, 3));
    ck_assert_ptr_null(tg_exp(T, i));
    tg_tensor_free(i);
    return tg_tape_status(T);
}
static tg_status r_alloc_i64(fixture *f)
{
    OP(tg_tape_alloc(T, TG_I64, 1, TT_SHAPE(2)));
}
static tg_status r_cast(fixture *f)
{
    OP(tg_cast(T, f->a23, (tg_dtype)9));
}
/* selection (ops/select.c) */
static tg_status r_where_broadcast(fixture *f)
{
    OP(tg_where(T, f->b4, f->a23, f->c21));
}
static tg_status r_masked_fill_shape(fixture *f)
{
    OP(tg_masked_fill(T, f->c21, f->a23, 0.0));
}
static tg_status r_clamp_nan(fixture *f)
{
    OP(tg_clamp(T, f->a23, NAN, 1.0));
}
static tg_status r_clamp_tensor_broadcast(fixture *f)
{
    OP(tg_clamp_tensor(T, f->a23, f->b4, NULL));
}
static tg_status r_hardtanh_bounds(fixture *f)
{
    OP(tg_hardtanh(T, f->a23, 1, -1));
}

/* reductions */
static tg_status r_axis_range(fixture *f)
{
    OP(tg_sum(T, f->a23, 1, (int[]){2}, false));
}
static tg_status r_axis_twice(fixture *f)
{
    OP(tg_sum(T, f->a23, 2, (int[]){1, -1}, false));
}
static tg_status r_axes_null(fixture *f)
{
    OP(tg_mean(T, f->a23, 2, NULL, false));
}
static tg_status r_axes_many(fixture *f)
{
    OP(tg_sum(T, f->a23, 9, (int[9]){0}, false));
}
static tg_status r_axes_empty(fixture *f)
{
    OP(tg_sum(T, f->a23, 0, NULL, false));
}
static tg_status r_mean_empty(fixture *f)
{
    OP(tg_mean_all(T, f->e0));
}
static tg_status r_sum_to(fixture *f)
{
    OP(tg_sum_to(T, f->c21, 2, TT_SHAPE(3, 1)));
}
static tg_status r_max_empty(fixture *f)
{
    OP(tg_max(T, f->e0, 0, false));
}
static tg_status r_min_empty(fixture *f)
{
    OP(tg_min(T, f->e0, 0, false));
}
static tg_status r_axes_empty_listed(fixture *f)
{
    OP(tg_prod(T, f->a23, 0, NULL, false));
}
static tg_status r_norm_order(fixture *f)
{
    OP(tg_norm(T, f->a23, 0, 1, (const int[]){0}, false));
}
static tg_status r_var_dof(fixture *f)
{
    OP(tg_var(T, f->a23, 1, (const int[]){0}, 2, false));
}
static tg_status r_var_empty(fixture *f)
{
    OP(tg_std(T, f->e0, 1, (const int[]){0}, 0, false));
}
static tg_status r_argmax_empty(fixture *f)
{
    OP(tg_argmax(T, f->e0, 0, false));
}
static tg_status r_argmax_op(fixture *f)
{
    OP(tg_exp(T, tg_argmax(T, f->a23, 1, false)));
}

/* shape */
static tg_status r_reshape_count(fixture *f)
{
    OP(tg_reshape(T, f->a23, 2, TT_SHAPE(4, 2)));
}
static tg_status r_reshape_infer(fixture *f)
{
    OP(tg_reshape(T, f->a23, 2, TT_SHAPE(-1, 4)));
}
static tg_status r_reshape_extent(fixture *f)
{
    OP(tg_reshape(T, f->a23, 2, TT_SHAPE(-3, 2)));
}
static tg_status r_reshape_ndim(fixture *f)
{
    OP(tg_reshape(T, f->a23, 9, TT_SHAPE(1)));
}
static tg_status r_reshape_overflow(fixture *f)
{
    OP(tg_reshape(T, f->a23, 3, TT_SHAPE(INT64_MAX / 2, 4, 0)));
}
static tg_status r_broadcast_to(fixture *f)
{
    OP(tg_broadcast_to(T, f->a23, 2, TT_SHAPE(4, 3)));
}
static tg_status r_broadcast_to_size(fixture *f)
{
    OP(tg_broadcast_to(T, f->a23, 3, TT_SHAPE(INT64_C(1) << 58, 2, 3)));
}
static tg_status r_permute_null(fixture *f)
{
    OP(tg_permute_dims(T, f->a23, 2, NULL));
}
static tg_status r_permute_bad(fixture *f)
{
    OP(tg_permute_dims(T, f->a23, 2, (int[]){0, 0}));
}
static tg_status r_permute_count(fixture *f)
{
    OP(tg_permute_dims(T, f->a23, 3, (int[]){1, 0, 2}));
}
static tg_status r_transpose_axis(fixture *f)
{
    OP(tg_transpose(T, f->a23, 0, 5));
}
static tg_status r_slice_step(fixture *f)
{
    OP(tg_slice(T, f->a23, 1, 0, 3, 0));
}
static tg_status r_embed_null(fixture *f)
{
    OP(tg_embed(T, f->a23, 2, NULL, 0, 0, 1));
}
static tg_status r_embed_rank(fixture *f)
{
    OP(tg_embed(T, f->a23, 1, TT_SHAPE(6), 0, 0, 1));
}
static tg_status r_embed_extent(fixture *f)
{
    OP(tg_embed(T, f->a23, 2, TT_SHAPE(4, 4), 0, 0, 1));
}
static tg_status r_embed_step(fixture *f)
{
    OP(tg_embed(T, f->a23, 2, TT_SHAPE(4, 3), 0, 0, 0));
}
static tg_status r_embed_fit(fixture *f)
{
    OP(tg_embed(T, f->a23, 2, TT_SHAPE(4, 3), 0, 3, 1));
}
static tg_status r_embed_size(fixture *f)
{
    OP(tg_embed(T, f->a23, 2, TT_SHAPE(INT64_C(1) << 62, 3), 0, 0, 1));
}
static tg_status r_concat_none(fixture *f)
{
    OP(tg_concat(T, 0, (tg_tensor *[]){f->a23}, 0));
}
static tg_status r_concat_shape(fixture *f)
{
    OP(tg_concat(T, 2, (tg_tensor *[]){f->a23, f->c21}, 0));
}
static tg_status r_concat_size(fixture *f)
{
    tg_tensor *z = tg_tape_alloc(T, TG_F64, 2, TT_SHAPE(0, INT64_C(1) << 58));
    OP(tg_concat(T, 2, (tg_tensor *[]){z, z}, 1));
}

/* indexing: each row makes its TG_I64 index and frees it after the call */
#define IOP(index, expr)                                                                           \
    do {                                                                                           \
        tg_tensor *ix = (index);                                                                   \
        tg_tensor *y_ = (expr);                                                                    \
        tg_tensor_free(ix);                                                                        \
        ck_assert_ptr_null(y_);                                                                    \
        return tg_tape_status(T);                                                                  \
    } while (0)
#define I64(nd, shape, ...) tg_tensor_from(TG_I64, nd, shape, (const int64_t[]){__VA_ARGS__})
static tg_status r_ix_null(fixture *f)
{
    OP(tg_gather(T, f->a23, 1, NULL));
}
static tg_status r_ix_dtype(fixture *f)
{
    OP(tg_gather(T, f->a23, 1, f->f23));
}
static tg_status r_ix_not_live(fixture *f)
{
    OP(tg_index_select(T, f->a23, 0, tg_exp(f->other, f->b4)));
}
static tg_status r_ix_range(fixture *f)
{
    IOP(I64(2, TT_SHAPE(2, 2), 0, 2, 3, 1), tg_gather(T, f->a23, 1, ix));
}
static tg_status r_ix_negative(fixture *f)
{
    IOP(I64(2, TT_SHAPE(2, 2), 0, 2, 1, -1), tg_gather(T, f->a23, -1, ix));
}
static tg_status r_gather_rank(fixture *f)
{
    IOP(I64(1, TT_SHAPE(2), 0, 1), tg_gather(T, f->a23, 1, ix));
}
static tg_status r_gather_extent(fixture *f)
{
    IOP(I64(2, TT_SHAPE(3, 1), 0, 1, 2), tg_gather(T, f->a23, 1, ix));
}
static tg_status r_scatter_src(fixture *f)
{
    IOP(I64(2, TT_SHAPE(2, 1), 0, 1), tg_scatter_add(T, f->a23, 1, ix, f->a23));
}
static tg_status r_index_select_rank(fixture *f)
{
    IOP(I64(2, TT_SHAPE(1, 1), 0), tg_index_select(T, f->a23, 1, ix));
}
static tg_status r_embedding_rank(fixture *f)
{
    IOP(I64(1, TT_SHAPE(1), 0), tg_embedding(T, f->b4, ix, -1));
}
static tg_status r_embedding_padding(fixture *f)
{
    IOP(I64(1, TT_SHAPE(1), 0), tg_embedding(T, f->a23, ix, 2));
}
static tg_status r_embedding_range(fixture *f)
{
    IOP(I64(2, TT_SHAPE(1, 3), 0, 1, 2), tg_embedding(T, f->a23, ix, -1));
}
static tg_status r_embedding_axes(fixture *f)
{
    IOP(tg_tensor_new(TG_I64, 8, TT_SHAPE(1, 1, 1, 1, 1, 1, 1, 1)),
        tg_embedding(T, f->a23, ix, -1));
}
static tg_status r_one_hot_classes(fixture *f)
{
    IOP(I64(1, TT_SHAPE(2), 0, 1), tg_one_hot(T, ix, -1, TG_F64));
}
static tg_status r_one_hot_dtype(fixture *f)
{
    IOP(I64(1, TT_SHAPE(2), 0, 1), tg_one_hot(T, ix, 2, TG_I64));
}
static tg_status r_one_hot_range(fixture *f)
{
    IOP(I64(1, TT_SHAPE(2), 0, 2), tg_one_hot(T, ix, 2, TG_F32));
}
static tg_status r_one_hot_size(fixture *f)
{
    IOP(I64(1, TT_SHAPE(2), 0, 1), tg_one_hot(T, ix, INT64_C(1) << 59, TG_F32));
}
#undef I64
#undef IOP

/* matmul */
static tg_status r_mm_rank(fixture *f)
{
    OP(tg_matmul(T, tg_tape_alloc(T, TG_F64, 0, NULL), f->a23));
}
static tg_status r_mm_vec_t(fixture *f)
{
    OP(tg_matmul_t(T, f->b4, f->a23, true, false));
}
static tg_status r_mm_batch(fixture *f)
{
    tg_tensor *a = tg_tape_alloc(T, TG_F64, 3, TT_SHAPE(2, 2, 3));
    tg_tensor *b = tg_tape_alloc(T, TG_F64, 3, TT_SHAPE(3, 3, 2));
    OP(tg_matmul(T, a, b));
}
static tg_status r_mm_inner(fixture *f)
{
    OP(tg_matmul(T, f->a23, f->a23));
}
static tg_status r_mm_size(fixture *f)
{
    tg_tensor *a = tg_tape_alloc(T, TG_F64, 2, TT_SHAPE(INT64_C(1) << 40, 0));
    tg_tensor *b = tg_tape_alloc(T, TG_F64, 2, TT_SHAPE(0, INT64_C(1) << 40));
    OP(tg_matmul(T, a, b));
}

/* linear algebra */
static tg_tensor *from_vals(fixture *f, int nd, const int64_t *shape, const double *v)
{
    tg_tensor *t = tg_tape_alloc(T, TG_F64, nd, shape);
    for (int64_t i = 0; t && i < tg_tensor_numel(t); i++) tg_tensor_set_flat(t, i, v[i]);
    return t;
}
static tg_tensor *la_zeros(fixture *f, int nd, const int64_t *shape)
{
    tg_tensor *t = tg_tape_alloc(T, TG_F64, nd, shape);
    if (t) tg_tensor_fill(t, 0.0);
    return t;
}
static tg_status r_la_square(fixture *f)
{
    OP(tg_det(T, f->a23));
}
static tg_status r_la_rhs(fixture *f)
{
    tg_tensor *a = from_vals(f, 2, TT_SHAPE(2, 2), TT_VALUES(1, 0, 0, 1));
    OP(tg_solve(T, a, la_zeros(f, 2, TT_SHAPE(3, 1))));
}
static tg_status r_la_cols(fixture *f)
{
    tg_tensor *a = tg_tape_alloc(T, TG_F64, 3, TT_SHAPE(0, 1, 1));
    tg_tensor *b = tg_tape_alloc(T, TG_F64, 3, TT_SHAPE(0, 1, 3000000000));
    OP(tg_solve(T, a, b));
}
static tg_status r_la_singular(fixture *f)
{
    tg_tensor *a =
        from_vals(f, 3, TT_SHAPE(3, 2, 2), TT_VALUES(1, 0, 0, 1, 2, 1, 1, 2, 1, 2, 2, 4));
    OP(tg_solve(T, a, la_zeros(f, 3, TT_SHAPE(3, 2, 1))));
}
static tg_status r_la_tri_singular(fixture *f)
{
    tg_tensor *a = from_vals(f, 2, TT_SHAPE(2, 2), TT_VALUES(1, 5, 7, 0));
    OP(tg_solve_triangular(T, a, la_zeros(f, 2, TT_SHAPE(2, 3)), true));
}
static tg_status r_la_not_pd(fixture *f)
{
    OP(tg_cholesky(T, from_vals(f, 2, TT_SHAPE(2, 2), TT_VALUES(1, 2, 2, 1))));
}
static tg_status r_la_det_grad(fixture *f)
{
    tg_tensor *a = tg_tensor_from_f64(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(1, 2, 2, 4));
    tg_tensor_set_requires_grad(a, true);
    tg_tensor *y = tg_det(T, a);
    ck_assert_ptr_nonnull(y);
    ck_assert_ptr_null(tg_grad(T, y, a, false));
    tg_tensor_free(a); /* the tape holds it until freed */
    return tg_tape_status(T);
}

/* softmax and losses */
static tg_status r_softmax_empty(fixture *f)
{
    OP(tg_softmax(T, f->e0, 0));
}
/* normalisation: x a23 (2,3), 3 channels */
static tg_status r_norm_naxes(fixture *f)
{
    OP(tg_layer_norm(T, f->a23, 0, NULL, NULL, 1e-5));
}
static tg_status r_norm_ln_shape(fixture *f)
{
    OP(tg_layer_norm(T, f->a23, 1, f->b4, NULL, 1e-5));
}
static tg_status r_norm_eps(fixture *f)
{
    OP(tg_layer_norm(T, f->a23, 1, NULL, NULL, -1));
}
static tg_status r_norm_rank(fixture *f)
{
    OP(tg_batch_norm(T, f->b4, NULL, NULL, NULL, NULL, true, 0.1, 1e-5));
}
static tg_status r_norm_channels(fixture *f)
{
    OP(tg_batch_norm(T, f->a23, f->b4, NULL, NULL, NULL, true, 0.1, 1e-5));
}
static tg_status r_norm_groups(fixture *f)
{
    OP(tg_group_norm(T, f->a23, 2, NULL, NULL, 1e-5));
}
static tg_status r_bn_running_null(fixture *f)
{
    OP(tg_batch_norm(T, f->a23, NULL, NULL, NULL, NULL, false, 0.1, 1e-5));
}
static tg_status r_bn_running_live(fixture *f)
{
    tg_tensor *m = tg_tensor_zeros(TG_F64, 1, TT_SHAPE(3));
    tg_tensor *v = tg_exp(f->other, m);
    ck_assert_ptr_null(tg_batch_norm(T, f->a23, NULL, NULL, m, v, false, 0.1, 1e-5));
    tg_tensor_free(m);
    return tg_tape_status(T);
}
static tg_status r_bn_running_tape(fixture *f)
{
    OP(tg_batch_norm(T, f->a23, NULL, NULL, tg_tape_alloc(T, TG_F64, 1, TT_SHAPE(3)), NULL, true,
                     0.1, 1e-5));
}
static tg_status r_bn_running_alias(fixture *f)
{
    tg_tensor *m = tg_tensor_zeros(TG_F64, 1, TT_SHAPE(3));
    ck_assert_ptr_null(tg_batch_norm(T, f->a23, NULL, NULL, m, m, true, 0.1, 1e-5));
    tg_tensor_free(m);
    return tg_tape_status(T);
}
static tg_status r_bn_momentum(fixture *f)
{
    OP(tg_batch_norm(T, f->a23, NULL, NULL, NULL, NULL, true, 2, 1e-5));
}
static tg_status r_bn_one_value(fixture *f)
{
    OP(tg_batch_norm(T, tg_tape_alloc(T, TG_F64, 2, TT_SHAPE(1, 3)), NULL, NULL, NULL, NULL, true,
                     0.1, 1e-5));
}
static tg_status r_loss_shape(fixture *f)
{
    OP(tg_mse(T, f->a23, f->c21));
}
static tg_status r_loss_red(fixture *f)
{
    OP(tg_bce_logits(T, f->a23, f->a23, (tg_reduction)5));
}
static tg_status r_loss_empty(fixture *f)
{
    OP(tg_mse(T, f->e0, f->e0));
}
static tg_status r_bce_prob(fixture *f)
{
    OP(tg_bce(T, f->a23, f->a23, TG_REDUCE_SUM));
}
static tg_status r_xent_rank(fixture *f)
{
    OP(tg_softmax_cross_entropy(T, f->img, f->img, TG_REDUCE_SUM));
}
static tg_status r_xent_red(fixture *f)
{
    OP(tg_softmax_cross_entropy(T, f->a23, f->a23, (tg_reduction)3));
}
static tg_status r_xent_classes(fixture *f)
{
    tg_tensor *z = tg_tape_alloc(T, TG_F64, 2, TT_SHAPE(2, 0));
    OP(tg_softmax_cross_entropy(T, z, z, TG_REDUCE_SUM));
}
/* the deprecated int32_t* entry point, kept one release */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static tg_status r_labels_count(fixture *f)
{
    OP(tg_softmax_cross_entropy_labels(T, f->a23, (int32_t[]){0, 1, 2}, 3, TG_REDUCE_SUM));
}
static tg_status r_labels_null(fixture *f)
{
    OP(tg_softmax_cross_entropy_labels(T, f->a23, NULL, 2, TG_REDUCE_SUM));
}
static tg_status r_labels_range(fixture *f)
{
    OP(tg_softmax_cross_entropy_labels(T, f->a23, (int32_t[]){0, 3}, 2, TG_REDUCE_MEAN));
}
#pragma GCC diagnostic pop
static tg_status r_index_range(fixture *f)
{
    tg_tensor *l = tg_tensor_from(TG_I64, 1, TT_SHAPE(2), (const int64_t[]){0, 3});
    ck_assert_ptr_null(tg_softmax_cross_entropy_index(T, f->a23, l, TG_REDUCE_MEAN));
    tg_tensor_free(l);
    return tg_tape_status(T);
}
static tg_status r_index_shape(fixture *f)
{
    tg_tensor *l = tg_tensor_zeros(TG_I64, 1, TT_SHAPE(3));
    ck_assert_ptr_null(tg_softmax_cross_entropy_index(T, f->a23, l, TG_REDUCE_SUM));
    tg_tensor_free(l);
    return tg_tape_status(T);
}
static tg_status r_index_dtype(fixture *f)
{
    OP(tg_softmax_cross_entropy_index(T, f->a23, f->b4, TG_REDUCE_SUM));
}
static tg_status r_index_not_live(fixture *f)
{
    OP(tg_softmax_cross_entropy_index(T, f->a23, tg_exp(f->other, f->a23), TG_REDUCE_SUM));
}
static tg_status r_index_null(fixture *f)
{
    OP(tg_softmax_cross_entropy_index(T, f->a23, NULL, TG_REDUCE_SUM));
}

/* convolution and pooling: img (1,2,5,5), w (3,2,3,3) */
static tg_status r_conv_rank(fixture *f)
{
    OP(tg_conv2d(T, f->a23, f->w, NULL, 1, 1, 0, 0));
}
static tg_status r_conv_channels(fixture *f)
{
    tg_tensor *w = tg_tape_alloc(T, TG_F64, 4, TT_SHAPE(3, 4, 3, 3));
    OP(tg_conv2d(T, f->img, w, NULL, 1, 1, 0, 0));
}
static tg_status r_conv_bias(fixture *f)
{
    OP(tg_conv2d(T, f->img, f->w, f->b4, 1, 1, 0, 0));
}
static tg_status r_conv_stride(fixture *f)
{
    OP(tg_conv2d(T, f->img, f->w, NULL, 0, 1, 0, 0));
}
static tg_status r_conv_pad(fixture *f)
{
    OP(tg_conv2d(T, f->img, f->w, NULL, 1, 1, -1, 0));
}
static tg_status r_conv_kernel(fixture *f)
{
    tg_tensor *w = tg_tape_alloc(T, TG_F64, 4, TT_SHAPE(3, 2, 7, 3));
    OP(tg_conv2d(T, f->img, w, NULL, 1, 1, 0, 0));
}
static tg_status r_conv_kernel0(fixture *f)
{
    OP(tg_im2col(T, f->img, 0, 2, 1, 1, 0, 0));
}
static tg_status r_conv_work(fixture *f)
{
    OP(tg_conv2d(T, f->img, f->w, NULL, 1 << 30, 1 << 30, 3 << 29, 3 << 29));
}
static tg_status r_conv_output(fixture *f)
{
    OP(tg_conv2d(T, f->img, f->w, NULL, 1, 1, INT_MAX, INT_MAX));
}
static tg_status r_conv_block(fixture *f)
{
    tg_tensor *w = tg_tape_alloc(T, TG_F64, 4, TT_SHAPE(0, 2, 16384, 16384));
    OP(tg_conv2d(T, f->img, w, NULL, 1, 1, 65536, 65536));
}
static tg_status r_im2col_size(fixture *f)
{
    OP(tg_im2col(T, f->img, 1, 1, 1, 1, INT_MAX, INT_MAX));
}
static tg_status r_col2im_null(fixture *f)
{
    OP(tg_col2im_to(T, f->a23, 4, NULL, 1, 1, 1, 1, 0, 0));
}
static tg_status r_col2im_ndim(fixture *f)
{
    OP(tg_col2im_to(T, f->a23, 3, (const int64_t[]){1, 2, 5}, 1, 1, 1, 1, 0, 0));
}
static tg_status r_col2im_image(fixture *f)
{
    OP(tg_col2im_to(T, f->a23, 4, (const int64_t[]){1, -2, 3, 3}, 1, 1, 1, 1, 0, 0));
}
static tg_status r_col2im_cols(fixture *f)
{
    OP(tg_col2im_to(T, f->a23, 4, (const int64_t[]){1, 2, 5, 5}, 3, 3, 1, 1, 0, 0));
}
static tg_status r_col2im_size(fixture *f)
{
    const int64_t big = INT64_C(1) << 40;
    OP(tg_col2im_to(T, f->a23, 4, (const int64_t[]){big, big, 1, 1}, 1, 1, 1, 1, 0, 0));
}
static tg_status r_flatten_0d(fixture *f)
{
    OP(tg_flatten(T, f->s));
}
/* dilation, groups, conv1d, conv_transpose2d (issue 19, item 7) */
static tg_status r_conv_groups(fixture *f)
{
    OP(tg_conv2d_ex(T, f->img, f->w, NULL, &((tg_conv2d_opts){.groups = -1})));
}
static tg_status r_conv_groups_channels(fixture *f)
{
    OP(tg_conv2d_ex(T, f->img, f->w, NULL, &((tg_conv2d_opts){.groups = 3})));
}
static tg_status r_conv_groups_filters(fixture *f)
{
    OP(tg_conv2d_ex(T, f->img, f->w, NULL, &((tg_conv2d_opts){.groups = 2})));
}
static tg_status r_conv_groups_weight(fixture *f)
{
    tg_tensor *w = tg_tape_alloc(T, TG_F64, 4, TT_SHAPE(4, 2, 3, 3));
    OP(tg_conv2d_ex(T, f->img, w, NULL, &((tg_conv2d_opts){.groups = 2})));
}
static tg_status r_conv_dilation(fixture *f)
{
    OP(tg_conv2d_ex(T, f->img, f->w, NULL, &((tg_conv2d_opts){.dilation_h = -1})));
}
static tg_status r_conv_dilation_fit(fixture *f)
{
    OP(tg_conv2d_ex(T, f->img, f->w, NULL, &((tg_conv2d_opts){.dilation_h = 3})));
}
static tg_status r_conv1d_rank(fixture *f)
{
    OP(tg_conv1d(T, f->img, f->w, NULL, 1, 0, 1, 1));
}
static tg_status r_conv_t_out_pad(fixture *f)
{
    tg_tensor *w = tg_tape_alloc(T, TG_F64, 4, TT_SHAPE(2, 3, 3, 3));
    OP(tg_conv_transpose2d(T, f->img, w, NULL, NULL, 1, 0));
}
static tg_status r_conv_t_channels(fixture *f)
{
    OP(tg_conv_transpose2d(T, f->img, f->w, NULL, NULL, 0, 0));
}
static tg_status r_conv_t_bias(fixture *f)
{
    tg_tensor *w = tg_tape_alloc(T, TG_F64, 4, TT_SHAPE(2, 3, 3, 3));
    OP(tg_conv_transpose2d(T, f->img, w, f->b4, NULL, 0, 0));
}
static tg_status r_conv_t_empty(fixture *f)
{
    tg_tensor *x = tg_tape_alloc(T, TG_F64, 4, TT_SHAPE(1, 2, 0, 5));
    tg_tensor *w = tg_tape_alloc(T, TG_F64, 4, TT_SHAPE(2, 3, 3, 3));
    OP(tg_conv_transpose2d(T, x, w, NULL, NULL, 0, 0));
}
static tg_status r_conv_t_small(fixture *f)
{
    tg_tensor *w = tg_tape_alloc(T, TG_F64, 4, TT_SHAPE(2, 3, 3, 3));
    OP(tg_conv_transpose2d(T, f->img, w, NULL, &((tg_conv2d_opts){.pad_h = 4}), 0, 0));
}
static tg_status r_conv_t_size(fixture *f)
{
    tg_tensor *w = tg_tape_alloc(T, TG_F64, 4, TT_SHAPE(2, 3, 3, 3));
    OP(tg_conv_transpose2d(T, f->img, w, NULL,
                           &((tg_conv2d_opts){.stride_h = 1 << 30, .stride_w = 1 << 30}), 0, 0));
}
static tg_status r_pool_rank(fixture *f)
{
    OP(tg_max_pool2d(T, f->a23, 2, 2, 2, 2, 0, 0));
}
static tg_status r_pool_window(fixture *f)
{
    OP(tg_avg_pool2d(T, f->img, 0, 2, 2, 2, 0, 0));
}
static tg_status r_pool_stride(fixture *f)
{
    OP(tg_max_pool2d(T, f->img, 2, 2, 0, 2, 0, 0));
}
static tg_status r_pool_pad(fixture *f)
{
    OP(tg_max_pool2d(T, f->img, 2, 2, 2, 2, 2, 0));
}
static tg_status r_pool_empty(fixture *f)
{
    tg_tensor *x = tg_tape_alloc(T, TG_F64, 4, TT_SHAPE(1, 2, 0, 5));
    OP(tg_max_pool2d(T, x, 2, 2, 2, 2, 0, 0));
}
static tg_status r_pool_big(fixture *f)
{
    OP(tg_avg_pool2d(T, f->img, 7, 2, 1, 1, 0, 0));
}
static tg_status r_pool_size(fixture *f)
{
    tg_tensor *x = tg_tape_alloc(T, TG_F64, 4, TT_SHAPE(0, INT64_C(1) << 57, 1, 1));
    OP(tg_max_pool2d(T, x, 2, 2, 1, 1, 1, 1));
}
/* adaptive pooling (issue 19, item 7) */
static tg_status r_apool_size(fixture *f)
{
    OP(tg_adaptive_avg_pool2d(T, f->img, 0, 2));
}
static tg_status r_apool_big(fixture *f)
{
    OP(tg_adaptive_avg_pool2d(T, f->img, INT64_C(1) << 60, 1));
}

/* tensors (no tape: tg_last_error) */
static tg_status r_t_i64_value(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_tensor_full(TG_I64, 1, TT_SHAPE(2), NAN));
    return tg_last_status();
}
static tg_status r_t_i64_random(fixture *f)
{
    (void)f;
    tg_rng r;
    tg_rng_seed(&r, 1);
    ck_assert_ptr_null(tg_tensor_rand(TG_I64, 1, TT_SHAPE(2), &r));
    return tg_last_status();
}
static tg_status r_t_i64_requires_grad(fixture *f)
{
    (void)f;
    tg_tensor *i = tg_tensor_zeros(TG_I64, 1, TT_SHAPE(2));
    tg_status st = tg_tensor_set_requires_grad(i, true);
    tg_tensor_free(i);
    return st;
}
static tg_status r_optim_i64(fixture *f)
{
    (void)f;
    tg_tensor *i = tg_tensor_zeros(TG_I64, 1, TT_SHAPE(2));
    ck_assert_ptr_null(tg_sgd_new(1, &i, 0.1, 0, 0));
    tg_tensor_free(i);
    return tg_last_status();
}
static tg_status r_init_i64(fixture *f)
{
    (void)f;
    tg_rng r;
    tg_rng_seed(&r, 1);
    tg_tensor *i = tg_tensor_zeros(TG_I64, 1, TT_SHAPE(2));
    tg_status st = tg_init_normal(i, &r, 0, 1);
    tg_tensor_free(i);
    return st;
}
static tg_status r_t_dtype(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_tensor_new((tg_dtype)5, 1, TT_SHAPE(2)));
    return tg_last_status();
}
static tg_status r_t_ndim(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_tensor_zeros(TG_F64, 9, TT_SHAPE(1)));
    return tg_last_status();
}
static tg_status r_t_extent(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_tensor_ones(TG_F32, 2, TT_SHAPE(3, -1)));
    return tg_last_status();
}
static tg_status r_t_nomem(fixture *f)
{
    (void)f;
    tt_fail_after = 1; /* the header, not the data */
    tg_set_allocator(&tt_failing);
    tg_tensor *t = tg_tensor_new(TG_F64, 1, TT_SHAPE(100));
    tg_set_allocator(NULL);
    ck_assert_ptr_null(t);
    return tg_last_status();
}
static tg_status r_t_nomem_header(fixture *f)
{
    (void)f;
    tt_fail_after = 0;
    tg_set_allocator(&tt_failing);
    tg_tensor *t = tg_tensor_new(TG_F64, 1, TT_SHAPE(100));
    tg_set_allocator(NULL);
    ck_assert_ptr_null(t);
    return tg_last_status();
}
static tg_status r_t_arange(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_tensor_arange(TG_F64, 0, 1, 0));
    return tg_last_status();
}
static tg_status r_t_arange_many(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_tensor_arange(TG_F64, 0, 1e300, 1));
    return tg_last_status();
}
static tg_status r_t_from(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_tensor_from(TG_F64, 1, TT_SHAPE(2), NULL));
    return tg_last_status();
}
static tg_status r_t_from_f64(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_tensor_from_f64(TG_F64, 1, TT_SHAPE(2), NULL));
    return tg_last_status();
}
static tg_status r_t_clone(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_tensor_clone(NULL));
    return tg_last_status();
}
static tg_status r_t_cast(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_tensor_cast_new(NULL, TG_F32));
    return tg_last_status();
}
static tg_status r_t_rand(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_tensor_rand(TG_F64, 1, TT_SHAPE(2), NULL));
    return tg_last_status();
}
static tg_status r_t_randn(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_tensor_randn(TG_F64, 1, TT_SHAPE(2), NULL));
    return tg_last_status();
}
static tg_status r_t_requires_grad(fixture *f)
{
    return tg_tensor_set_requires_grad(tg_exp(T, f->a23), true);
}
static tg_status r_t_free_grad(fixture *f)
{
    ck_assert_int_eq(tg_backward(T, tg_sum_all(T, f->p)), TG_OK);
    tg_tensor_free(tg_tensor_grad(f->p));
    return tg_last_status();
}
static tg_status r_t_free_tape(fixture *f)
{
    tg_tensor_free(tg_exp(T, f->a23));
    return tg_last_status();
}
static tg_status r_t_free_twice(fixture *f)
{
    tg_tensor *x = tg_tensor_clone(f->a23);
    ck_assert_ptr_nonnull(tg_exp(T, x));
    tg_tensor_free(x);
    tg_tensor_free(x); /* the tape still keeps it: not a double free */
    return tg_last_status();
}

/* gradcheck (tg_last_error) */
static tg_status r_gc_null(fixture *f)
{
    (void)f;
    return tg_gradcheck(NULL, NULL, 1, &f->p, NULL, NULL);
}
static tg_status r_gc_not_user(fixture *f)
{
    tg_tensor *y = tg_exp(T, f->a23);
    return tg_gradcheck(gc_sum, NULL, 1, &y, NULL, NULL);
}
static tg_status r_gc_fn_null(fixture *f)
{
    return tg_gradcheck(gc_null, NULL, 1, &f->p, NULL, NULL);
}
static tg_status r_gc_fn_fail(fixture *f)
{
    return tg_gradcheck(gc_bad_op, NULL, 1, &f->p, NULL, NULL);
}
static tg_status r_gc_size(fixture *f)
{
    g_calls = 0;
    return tg_gradcheck(gc_growing, NULL, 1, &f->p, NULL, NULL);
}
static tg_status r_gc_backward(fixture *f)
{
    return tg_gradcheck(gc_wrong, NULL, 1, &f->p, NULL, NULL);
}
static tg_status r_gc_differ(fixture *f)
{
    return tg_gradcheck(gc_bad_grad, NULL, 1, &f->p, NULL, NULL);
}
static tg_status r_gc_rules(fixture *f)
{
    return tg_gradcheck(gc_twice, NULL, 1, &f->p, NULL, NULL);
}
static tg_status r_gc_nomem(fixture *f)
{
    tt_fail_after = 0;
    tg_set_allocator(&tt_failing);
    tg_status st = tg_gradcheck(gc_sum, NULL, 1, &f->p, NULL, NULL);
    tg_set_allocator(NULL);
    return st;
}

/* optimizers (tg_last_error) */
static tg_status r_optim_shape(fixture *f)
{
    (void)f;
    /* a batch tensor as a parameter: state made on the short last batch */
    tg_tensor *data = tt_from(TG_F64, 2, TT_SHAPE(3, 2), TT_VALUES(1, 2, 3, 4, 5, 6));
    const int32_t labels[3] = {0, 1, 0};
    tg_batches *b = tg_batches_new(data, labels, 2, false, false, 1);
    tg_tensor *x;
    const int32_t *y;
    int64_t n;
    tg_batches_next(b, &x, &y, &n);
    tg_batches_next(b, &x, &y, &n); /* 1 row */
    tg_tensor_set_requires_grad(x, true);
    tg_optim *o = tg_sgd_new(1, &x, 0.1, 0.9, 0);
    tg_batches_reset(b);
    tg_batches_next(b, &x, &y, &n); /* 2 rows */
    tg_tape *tp = tg_tape_new(NULL);
    tg_backward(tp, tg_sum_all(tp, x));
    tg_status st = tg_optim_step(o);
    tg_tape_free(tp);
    tg_optim_free(o);
    tg_batches_free(b);
    tg_tensor_free(data);
    return st;
}

/* data-parallel training (tg_last_error); one process, MPI not started */
static tg_status r_dist_n(fixture *f)
{
    return tg_dist_broadcast(-1, &f->a23);
}
static tg_status r_dist_not_user(fixture *f)
{
    tg_tensor *t = tg_exp(f->tp, f->a23);
    return tg_dist_broadcast(1, &t);
}
static tg_status r_dist_no_grad(fixture *f)
{
    return tg_dist_allreduce_grads(1, &f->p);
}
static tg_status r_dist_shard(fixture *f)
{
    tg_batches *b = tg_batches_new(f->a23, NULL, 1, false, false, 1);
    tg_status st = tg_batches_shard(b, 2, 2);
    tg_batches_free(b);
    return st;
}
static tg_status r_threads_count(fixture *f)
{
    (void)f;
    return tg_set_num_threads(-1);
}
#if TG_HAVE_MPI
static tg_status r_dist_not_init(fixture *f)
{
    return tg_dist_broadcast(1, &f->a23);
}
static tg_status r_dist_timeout(fixture *f)
{
    (void)f;
    return tg_dist_init(NULL, NULL, &(tg_dist_options){.timeout_seconds = -1});
}
static tg_status r_dist_bucket(fixture *f)
{
    (void)f;
    return tg_dist_init(NULL, NULL, &(tg_dist_options){.bucket_bytes = 8});
}
#else
static tg_status r_dist_no_mpi(fixture *f)
{
    (void)f;
    return tg_dist_init(NULL, NULL, NULL);
}
#endif

/* files (tg_last_error) */
static tg_status r_st_open(fixture *f)
{
    (void)f;
    tg_named_tensors nt = {0};
    return tg_safetensors_load("tg_catalogue_missing.safetensors", &nt);
}
static tg_status r_st_short(fixture *f)
{
    (void)f;
    write_bytes(k_st_path, "\x10\x00\x00", 3);
    tg_named_tensors nt = {0};
    return tg_safetensors_load(k_st_path, &nt);
}
static tg_status r_st_header_len(fixture *f)
{
    (void)f;
    write_bytes(k_st_path, "\x00\x10\x00\x00\x00\x00\x00\x00{}", 10);
    tg_named_tensors nt = {0};
    return tg_safetensors_load(k_st_path, &nt);
}
static tg_status r_st_json(fixture *f)
{
    (void)f;
    write_st("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],}", NULL, 0);
    tg_named_tensors nt = {0};
    return tg_safetensors_load(k_st_path, &nt);
}
static tg_status r_st_dtype(fixture *f)
{
    (void)f;
    write_st("{\"h\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", "\0\0\0\0", 4);
    tg_named_tensors nt = {0};
    return tg_safetensors_load(k_st_path, &nt);
}
static tg_status r_st_span(fixture *f)
{
    (void)f;
    write_st("{\"a\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,16]}}",
             "0123456789abcdef", 16);
    tg_named_tensors nt = {0};
    return tg_safetensors_load(k_st_path, &nt);
}
static tg_status r_st_into_name(fixture *f)
{
    write_st("{\"a\":{\"dtype\":\"F64\",\"shape\":[4],\"data_offsets\":[0,32]}}",
             "0123456789abcdef0123456789abcdef", 32);
    return tg_safetensors_load_into(k_st_path, 1, (const char *const[]){"b"}, &f->b4);
}
static tg_status r_st_into_dtype(fixture *f)
{
    write_st("{\"a\":{\"dtype\":\"I64\",\"shape\":[2,3],\"data_offsets\":[0,48]}}",
             "0123456789abcdef0123456789abcdef0123456789abcdef", 48);
    return tg_safetensors_load_into(k_st_path, 1, (const char *const[]){"a"}, &f->a23);
}
static tg_status r_st_into_shape(fixture *f)
{
    write_st("{\"a\":{\"dtype\":\"F64\",\"shape\":[4],\"data_offsets\":[0,32]}}",
             "0123456789abcdef0123456789abcdef", 32);
    return tg_safetensors_load_into(k_st_path, 1, (const char *const[]){"a"}, &f->a23);
}
static tg_status r_st_save_dup(fixture *f)
{
    return tg_safetensors_save(k_st_path, 2, (const char *const[]){"x", "x"},
                               (tg_tensor *[]){f->a23, f->b4});
}
static tg_status r_st_save_open(fixture *f)
{
    return tg_safetensors_save("tg_no_such_dir/w.safetensors", 1, (const char *const[]){"x"},
                               &f->a23);
}
static tg_status r_idx_open(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_idx_load("tg_catalogue_missing.idx", TG_F32, 1.0));
    return tg_last_status();
}
static tg_status r_idx_magic(fixture *f)
{
    (void)f;
    write_bytes(k_idx_path, "\x00\x00\x09\x01\x00\x00\x00\x01\x07", 9);
    ck_assert_ptr_null(tg_idx_load(k_idx_path, TG_F32, 1.0));
    return tg_last_status();
}
static tg_status r_idx_truncated(fixture *f)
{
    (void)f;
    write_bytes(k_idx_path, "\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x02\x01\x02\x03", 15);
    ck_assert_ptr_null(tg_idx_load(k_idx_path, TG_F64, 1.0));
    return tg_last_status();
}
static tg_status r_idx_trailing(fixture *f)
{
    (void)f;
    write_bytes(k_idx_path, "\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02\x03", 11);
    int64_t n;
    ck_assert_ptr_null(tg_idx_load_labels(k_idx_path, &n));
    return tg_last_status();
}
static tg_status r_idx_labels_rank(fixture *f)
{
    (void)f;
    write_bytes(k_idx_path, "\x00\x00\x08\x02\x00\x00\x00\x01\x00\x00\x00\x01\x01", 13);
    int64_t n;
    ck_assert_ptr_null(tg_idx_load_labels(k_idx_path, &n));
    return tg_last_status();
}
static tg_status r_idx_dtype(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_idx_load(k_idx_path, (tg_dtype)4, 1.0));
    return tg_last_status();
}

/* NULL arguments (tests/test_null_api.c sweeps every pointer parameter; one
 * row per kind of message here) */
static tg_status r_null_query(fixture *f)
{
    (void)f;
    ck_assert_int_eq(tg_tensor_numel(NULL), 0);
    return tg_last_status();
}
static tg_status r_null_rng(fixture *f)
{
    (void)f;
    ck_assert(isnan(tg_rng_uniform(NULL)));
    return tg_last_status();
}
/* checkpoint segments (tg_checkpoint) that go wrong */
static tg_tensor *seg_matmul(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    (void)n, (void)ctx;
    return tg_matmul(tp, in[0], in[0]);
}
static tg_tensor *seg_none(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    (void)tp, (void)n, (void)in, (void)ctx;
    return NULL;
}
static tg_tensor *seg_on_ctx_tape(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    (void)n;
    fixture *f = ctx;
    tg_exp(f->tp, f->a23); /* the checkpoint's tape, not tp */
    return tg_exp(tp, in[0]);
}
static tg_tensor *seg_ctx_tensor(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    (void)tp, (void)n, (void)in;
    return ctx;
}
static tg_tensor *seg_argmax(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    (void)n, (void)ctx;
    return tg_argmax(tp, in[0], 1, false);
}
static tg_tensor *seg_uses_ctx(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    (void)n;
    return tg_add(tp, in[0], ctx);
}
static tg_status r_ckpt_fn_null(fixture *f)
{
    OP(tg_checkpoint(T, NULL, NULL, 1, &f->a23));
}
static tg_status r_ckpt_negative(fixture *f)
{
    OP(tg_checkpoint(T, seg_none, NULL, -1, &f->a23));
}
static tg_status r_ckpt_failed(fixture *f)
{
    OP(tg_checkpoint(T, seg_matmul, NULL, 1, &f->a23));
}
static tg_status r_ckpt_null_result(fixture *f)
{
    OP(tg_checkpoint(T, seg_none, NULL, 1, &f->a23));
}
static tg_status r_ckpt_records_on_tape(fixture *f)
{
    OP(tg_checkpoint(T, seg_on_ctx_tape, f, 1, &f->a23));
}
static tg_status r_ckpt_foreign_result(fixture *f)
{
    tg_tensor *o = tg_exp(f->other, f->a23);
    OP(tg_checkpoint(T, seg_ctx_tensor, o, 1, &f->a23));
}
static tg_status r_ckpt_not_float(fixture *f)
{
    OP(tg_checkpoint(T, seg_argmax, NULL, 1, &f->a23));
}
static tg_status r_ckpt_captured(fixture *f)
{
    OP(tg_checkpoint(T, seg_uses_ctx, f->p, 1, &f->a23));
}
static tg_status r_null_tape_call(fixture *f)
{
    return tg_backward(NULL, f->s);
}
static tg_status r_null_stream(fixture *f)
{
    tg_tape_print(T, NULL);
    return tg_last_status();
}
static tg_status r_null_target(fixture *f)
{
    OP(tg_reshape(T, f->a23, 2, NULL));
}
static tg_status r_null_record(fixture *f)
{
    OP(tg_tape_record(T, &k_silent, 1, &f->a23, NULL, NULL, 0, 0, NULL));
}
/* names and the teaching outputs */
static tg_status r_name_long(fixture *f)
{
    return tg_tensor_set_name(f->a23, "a_name_of_forty_bytes_is_too_long_here__");
}
static tg_status r_name_control(fixture *f)
{
    return tg_tensor_set_name(f->a23, "W\n2");
}
static tg_status r_name_freed(fixture *f)
{
    tg_tensor *x = tg_tensor_clone(f->a23);
    ck_assert_ptr_nonnull(tg_exp(T, x));
    tg_tensor_free(x); /* the tape holds it until reset */
    return tg_tensor_set_name(x, "x");
}
static tg_status r_name_stale(fixture *f)
{
    tg_tensor *y = tg_exp(T, f->a23);
    tg_tape_reset(T);
    return tg_tensor_set_name(y, "y");
}
static tg_status r_explain_format(fixture *f)
{
    tg_tape_set_explain(T, stdout, (tg_explain_format)7, 4);
    return tg_last_status();
}
static tg_status r_svg_width(fixture *f)
{
    return tg_tape_write_svg(T, stdout, &(tg_picture_options){.small_numel = 4, .max_width = 10});
}
/* a stream open for reading only: every write fails */
static tg_status write_to_readonly(fixture *f, int which)
{
    ck_assert_ptr_nonnull(tg_exp(T, f->a23));
    FILE *fp = fopen("/dev/null", "r");
    ck_assert_ptr_nonnull(fp);
    tg_status st = which == 0   ? tg_tape_write_dot(T, fp, 4)
                   : which == 1 ? tg_tape_write_json(T, fp, 4)
                                : tg_tape_write_svg(T, fp, NULL);
    fclose(fp);
    return st;
}
static tg_status r_dot_io(fixture *f)
{
    return write_to_readonly(f, 0);
}
static tg_status r_json_io(fixture *f)
{
    return write_to_readonly(f, 1);
}
static tg_status r_svg_io(fixture *f)
{
    return write_to_readonly(f, 2);
}
static tg_status r_st_dir(fixture *f)
{
    (void)f;
    tg_named_tensors nt = {0};
    return tg_safetensors_load(".", &nt);
}
static tg_status r_st_not_file(fixture *f)
{
    (void)f;
    tg_named_tensors nt = {0};
    return tg_safetensors_load("/dev/null", &nt);
}
static tg_status r_st_shape_overflow(fixture *f)
{
    (void)f;
    write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
             "\"data_offsets\":[0,0]}}",
             NULL, 0);
    tg_named_tensors nt = {0};
    return tg_safetensors_load(k_st_path, &nt);
}
static tg_status r_st_save_loop(fixture *f)
{
    unlink(k_loop_path);
    ck_assert_int_eq(symlink(k_loop_path, k_loop_path), 0);
    return tg_safetensors_save(k_loop_path, 1, (const char *const[]){"x"}, &f->a23);
}
static tg_status r_idx_dir(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_idx_load(".", TG_F32, 1.0));
    return tg_last_status();
}
static tg_status r_idx_not_file(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_idx_load("/dev/null", TG_F32, 1.0));
    return tg_last_status();
}
static const char k_idx_2x2[] = "\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x02\x01\x02\x03\x04";
static tg_status r_idx_gz_cut(fixture *f)
{
    (void)f;
    write_idx_gz(k_idx_2x2, 16, 4, 0, "");
    ck_assert_ptr_null(tg_idx_load(k_idx_path, TG_F32, 1.0));
    return tg_last_status();
}
static tg_status r_idx_gz_crc(fixture *f)
{
    (void)f;
    write_idx_gz(k_idx_2x2, 16, 0, 8, "");
    ck_assert_ptr_null(tg_idx_load(k_idx_path, TG_F32, 1.0));
    return tg_last_status();
}
static tg_status r_idx_gz_length(fixture *f)
{
    (void)f;
    write_idx_gz(k_idx_2x2, 16, 0, 4, "");
    ck_assert_ptr_null(tg_idx_load(k_idx_path, TG_F32, 1.0));
    return tg_last_status();
}
static tg_status r_idx_gz_corrupt(fixture *f)
{
    (void)f;
    /* a gzip header whose compression method is 7, not deflate's 8 */
    write_bytes(k_idx_path, "\x1f\x8b\x07\x00\x00\x00\x00\x00\x00\x03\x01\x02", 12);
    ck_assert_ptr_null(tg_idx_load(k_idx_path, TG_F32, 1.0));
    return tg_last_status();
}
static tg_status r_idx_gz_trailing(fixture *f)
{
    (void)f;
    write_idx_gz(k_idx_2x2, 16, 0, 0, "junk");
    ck_assert_ptr_null(tg_idx_load(k_idx_path, TG_F32, 1.0));
    return tg_last_status();
}
static tg_status r_idx_gz_nomem(fixture *f)
{
    (void)f;
    write_idx_gz(k_idx_2x2, 16, 0, 0, "");
    tt_fail_after = 2; /* the read buffer and inflate's state; not its window */
    tg_set_allocator(&tt_failing);
    tg_tensor *t = tg_idx_load(k_idx_path, TG_F32, 1.0);
    tg_set_allocator(NULL);
    ck_assert_ptr_null(t);
    return tg_last_status();
}
static tg_status r_idx_cap(fixture *f)
{
    (void)f;
    /* (1,16384,16384): 256 MiB of pixels, 2 GiB as f64, declared by a
     * gzip'd file of a few dozen bytes */
    write_idx_gz("\x00\x00\x08\x03\x00\x00\x00\x01\x00\x00\x40\x00\x00\x00\x40\x00", 16, 0, 0, "");
    ck_assert_ptr_null(tg_idx_load(k_idx_path, TG_F64, 1.0));
    return tg_last_status();
}
static tg_status r_idx_max_bytes(fixture *f)
{
    (void)f;
    ck_assert_ptr_null(tg_idx_load_ex(k_idx_path, TG_F64, 1.0, &(tg_idx_options){.max_bytes = -1}));
    return tg_last_status();
}

/* ---- the scalar tape (include/tapegrad/scalar.h) ---------------------------- */
static tg_status r_stape_null(fixture *f)
{
    (void)f;
    ck_assert_int_eq(tg_s_exp(NULL, TG_SV_NONE).tag, 0);
    return tg_last_status();
}
/* Runs op on a fresh scalar tape holding one variable x; the tape's error. */
static tg_status stape_op(tg_sv (*op)(tg_stape *st, tg_sv x, tg_sv other))
{
    tg_stape *st = tg_stape_new(), *other = tg_stape_new();
    const tg_sv x = tg_stape_var(st, 2.0), o = tg_stape_var(other, 3.0);
    ck_assert_int_eq(op(st, x, o).tag, 0);
    const tg_status s = tg_stape_status(st);
    ck_assert_str_eq(tg_stape_error(st), tg_last_error()); /* the same message both places */
    tg_stape_free(st);
    tg_stape_free(other);
    return s;
}
static tg_sv op_other(tg_stape *st, tg_sv x, tg_sv o)
{
    return tg_s_mul(st, x, o);
}
static tg_status r_stape_other(fixture *f)
{
    (void)f;
    return stape_op(op_other);
}
static tg_sv op_none(tg_stape *st, tg_sv x, tg_sv o)
{
    (void)x, (void)o;
    return tg_s_neg(st, TG_SV_NONE);
}
static tg_status r_stape_none(fixture *f)
{
    (void)f;
    return stape_op(op_none);
}
static tg_sv op_forged(tg_stape *st, tg_sv x, tg_sv o)
{
    (void)o;
    return tg_s_sqrt(st, (tg_sv){7, x.tag});
}
static tg_status r_stape_forged(fixture *f)
{
    (void)f;
    return stape_op(op_forged);
}
static tg_status r_stape_nomem(fixture *f)
{
    (void)f;
    tg_stape *st = tg_stape_new();
    tt_fail_after = 0;
    tg_set_allocator(&tt_failing);
    const tg_sv x = tg_stape_var(st, 1.0);
    tg_set_allocator(NULL);
    ck_assert_int_eq(x.tag, 0);
    const tg_status s = tg_stape_status(st);
    tg_stape_free(st);
    return s;
}
static tg_status r_stape_limit(fixture *f)
{
    (void)f;
    tg_stape *st = tg_stape_new();
    st->n = st->cap = (int64_t)UINT32_MAX - 1; /* as if full: no arrays are touched */
    ck_assert_int_eq(tg_stape_var(st, 1.0).tag, 0);
    st->n = st->cap = 0;
    const tg_status s = tg_stape_status(st);
    tg_stape_free(st);
    return s;
}
static tg_status r_stape_sweep_state(fixture *f)
{
    (void)f;
    tg_stape *st = tg_stape_new();
    const tg_sv x = tg_stape_var(st, 1.0);
    tg_s_neg(st, TG_SV_NONE);
    double g;
    const tg_status s = tg_stape_gradient(st, x, 1, &x, &g);
    tg_stape_free(st);
    return s;
}
/* A sweep on a tape holding x and y = x^2, with the given arguments. */
static tg_status stape_sweep(int m, int which)
{
    tg_stape *st = tg_stape_new(), *other = tg_stape_new();
    const tg_sv x = tg_stape_var(st, 1.0), y = tg_s_square(st, x), o = tg_stape_var(other, 1);
    const double w = 1.0;
    double g;
    const tg_status s = tg_stape_vjp(st, m, which == 1 ? &o : &y, &w, 1, which == 2 ? &o : &x, &g);
    ck_assert_int_eq(tg_stape_status(st), TG_OK); /* the caller's error, not the tape's */
    tg_stape_free(st);
    tg_stape_free(other);
    return s;
}
static tg_status r_stape_sweep_count(fixture *f)
{
    (void)f;
    return stape_sweep(0, 0);
}
static tg_status r_stape_sweep_output(fixture *f)
{
    (void)f;
    return stape_sweep(1, 1);
}
static tg_status r_stape_sweep_input(fixture *f)
{
    (void)f;
    return stape_sweep(1, 2);
}
static tg_status r_stape_sweep_nomem(fixture *f)
{
    (void)f;
    tg_stape *st = tg_stape_new();
    const tg_sv x = tg_stape_var(st, 1.0), y = tg_s_square(st, x);
    double g;
    tt_fail_after = 0;
    tg_set_allocator(&tt_failing);
    const tg_status s = tg_stape_gradient(st, y, 1, &x, &g);
    tg_set_allocator(NULL);
    tg_stape_free(st);
    return s;
}
static tg_sv sq_fn(tg_stape *st, const tg_sv *x, void *ctx)
{
    (void)ctx;
    return tg_s_relu(st, x[0]);
}
static tg_sv bad_fn(tg_stape *st, const tg_sv *x, void *ctx)
{
    (void)ctx, (void)x;
    return tg_s_log(st, TG_SV_NONE);
}
static tg_status r_stape_gradcheck_args(fixture *f)
{
    (void)f;
    const double x0 = 0.0;
    return tg_stape_gradcheck(sq_fn, NULL, 0, &x0, 1e-6, 1e-8, NULL);
}
static tg_status r_stape_gradcheck_fail(fixture *f)
{
    (void)f;
    const double x0 = 0.0; /* relu's kink: reverse mode 0, differences 1/2 */
    return tg_stape_gradcheck(sq_fn, NULL, 1, &x0, 1e-6, 1e-8, NULL);
}
static tg_status r_stape_gradcheck_record(fixture *f)
{
    (void)f;
    const double x0 = 1.0;
    return tg_stape_gradcheck(bad_fn, NULL, 1, &x0, 1e-6, 1e-8, NULL);
}
static tg_status r_stape_gradcheck_nomem(fixture *f)
{
    (void)f;
    const double x0 = 1.0;
    tt_fail_after = 1; /* the tape, not its inputs' arrays */
    tg_set_allocator(&tt_failing);
    const tg_status s = tg_stape_gradcheck(sq_fn, NULL, 1, &x0, 1e-6, 1e-8, NULL);
    tg_set_allocator(NULL);
    return s;
}

/* ---- custom functions (function.h) ------------------------------------------- */
/* y = x, each callback broken in one way */
static tg_status cf_forward(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                            tg_tensor **saved)
{
    (void)saved;
    out[0] = tg_exp(tp, a->in[0]);
    return TG_OK;
}
static tg_status cf_forward_op(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                               tg_tensor **saved)
{
    (void)saved;
    out[0] = tg_matmul(tp, a->in[0], a->in[0]);
    return tg_tape_status(tp);
}
static tg_status cf_forward_quiet(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                                  tg_tensor **saved)
{
    (void)tp, (void)a, (void)out, (void)saved;
    return TG_ERR_ARG;
}
static tg_status cf_forward_null(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                                 tg_tensor **saved)
{
    (void)tp, (void)a, (void)saved;
    out[0] = NULL;
    return TG_OK;
}
static tg_tape *g_cf_other;
static tg_status cf_forward_foreign(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                                    tg_tensor **saved)
{
    (void)tp, (void)saved;
    out[0] = tg_exp(g_cf_other, a->in[0]);
    return TG_OK;
}
static tg_status cf_forward_mixed(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                                  tg_tensor **saved)
{
    (void)saved;
    out[0] = tg_exp(tp, a->in[0]);
    out[1] = tg_cast(tp, out[0], TG_F32);
    return TG_OK;
}
static tg_status cf_forward_saved(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                                  tg_tensor **saved)
{
    out[0] = tg_exp(tp, a->in[0]);
    saved[0] = tg_exp(g_cf_other, a->in[0]);
    return TG_OK;
}
static tg_status cf_vjp(tg_tape *tp, const tg_function_args *a, tg_tensor *const *gout,
                        tg_tensor **gin)
{
    gin[0] = tg_mul(tp, gout[0], a->out[0]);
    return TG_OK;
}
static tg_status cf_vjp_shape(tg_tape *tp, const tg_function_args *a, tg_tensor *const *gout,
                              tg_tensor **gin)
{
    (void)a;
    gin[0] = tg_sum_all(tp, gout[0]); /* a scalar for a (2,3) input */
    return TG_OK;
}
static tg_status cf_vjp_quiet(tg_tape *tp, const tg_function_args *a, tg_tensor *const *gout,
                              tg_tensor **gin)
{
    (void)tp, (void)a, (void)gout, (void)gin;
    return TG_ERR_ARG;
}
static tg_status cf_vjp_foreign(tg_tape *tp, const tg_function_args *a, tg_tensor *const *gout,
                                tg_tensor **gin)
{
    (void)tp, (void)gout;
    gin[0] = tg_exp(g_cf_other, a->in[0]);
    return TG_OK;
}
static tg_status cf_jvp_shape(tg_tape *tp, const tg_function_args *a, tg_tensor *const *tin,
                              tg_tensor **tout)
{
    (void)a;
    tout[0] = tg_sum_all(tp, tin[0]);
    return TG_OK;
}
static tg_status cf_call(fixture *f, tg_function fn, int n_out)
{
    tg_tensor *out[2];
    g_cf_other = f->other;
    return tg_function_call(T, &fn, NULL, 1, &f->p, n_out, out);
}
static tg_status cf_backward(fixture *f, tg_function fn)
{
    tg_tensor *y;
    g_cf_other = f->other;
    if (tg_function_call(T, &fn, NULL, 1, &f->p, 1, &y) != TG_OK) return tg_tape_status(T);
    return tg_backward(T, tg_sum_all(T, y));
}
static tg_status r_fn_null(fixture *f)
{
    return cf_call(f, (tg_function){.name = "expf", .forward = cf_forward}, 1);
}
static tg_status r_fn_count(fixture *f)
{
    return cf_call(f, (tg_function){.name = "expf", .forward = cf_forward, .vjp = cf_vjp}, 0);
}
static tg_status r_fn_forward_op(fixture *f)
{
    return cf_call(f, (tg_function){.name = "expf", .forward = cf_forward_op, .vjp = cf_vjp}, 1);
}
static tg_status r_fn_forward_quiet(fixture *f)
{
    return cf_call(f, (tg_function){.name = "expf", .forward = cf_forward_quiet, .vjp = cf_vjp}, 1);
}
static tg_status r_fn_output_null(fixture *f)
{
    return cf_call(f, (tg_function){.name = "expf", .forward = cf_forward_null, .vjp = cf_vjp}, 1);
}
static tg_status r_fn_output_foreign(fixture *f)
{
    return cf_call(f, (tg_function){.name = "expf", .forward = cf_forward_foreign, .vjp = cf_vjp},
                   1);
}
static tg_status r_fn_output_dtype(fixture *f)
{
    return cf_call(f, (tg_function){.name = "expf", .forward = cf_forward_mixed, .vjp = cf_vjp}, 2);
}
static tg_status r_fn_saved_foreign(fixture *f)
{
    return cf_call(
        f, (tg_function){.name = "expf", .n_saved = 1, .forward = cf_forward_saved, .vjp = cf_vjp},
        1);
}
static tg_status r_fn_vjp_shape(fixture *f)
{
    return cf_backward(f,
                       (tg_function){.name = "expf", .forward = cf_forward, .vjp = cf_vjp_shape});
}
static tg_status r_fn_vjp_quiet(fixture *f)
{
    return cf_backward(f,
                       (tg_function){.name = "expf", .forward = cf_forward, .vjp = cf_vjp_quiet});
}
static tg_status r_fn_vjp_foreign(fixture *f)
{
    return cf_backward(f,
                       (tg_function){.name = "expf", .forward = cf_forward, .vjp = cf_vjp_foreign});
}
static tg_status r_fn_jvp_shape(fixture *f)
{
    static const tg_function fn = {
        .name = "expf", .forward = cf_forward, .vjp = cf_vjp, .jvp = cf_jvp_shape};
    tg_tensor *y, *t;
    if (tg_function_call(T, &fn, NULL, 1, &f->p, 1, &y) != TG_OK) return tg_tape_status(T);
    return tg_jvp(T, 1, &f->p, &f->p, 1, &y, &t, false);
}

#undef T
#undef OP

#define R(id, area, st, where, trigger)                                                            \
    {                                                                                              \
#id, area, st, where, trigger, NULL, r_##id                                                \
    }
/* Expected messages are filled in below by id (see k_messages). */
static row k_rows[] = {
    R(null_input, "tape", TG_ERR_NULL, ON_TAPE, "an op given a NULL tensor"),
    R(null_array, "tape", TG_ERR_NULL, ON_TAPE, "a NULL array of inputs (tg_concat)"),
    R(not_live, "tape", TG_ERR_TAPE, ON_TAPE, "something that is not a live tensor (freed memory)"),
    R(input_freed, "tape", TG_ERR_TAPE, ON_TAPE,
      "a user tensor freed (tg_tensor_free) after a tape recorded it, used again"),
    R(other_tape, "tape", TG_ERR_TAPE, ON_TAPE, "a tensor of another tape"),
    R(stale, "tape", TG_ERR_TAPE, ON_TAPE, "a tape tensor from before tg_tape_reset"),
    R(null_tape, "tape", TG_ERR_NULL, LAST_ERROR, "an op given a NULL tape"),
    R(growth_warning, "tape", TG_OK, WARNING,
      "a warning (tg_tape_options.on_warning, else stderr), once: tg_backward called again and "
      "again without tg_tape_reset while the tape grows"),
    R(record_count, "custom ops", TG_ERR_ARG, ON_TAPE,
      "tg_tape_record with an input count that differs from the op's arity"),
    R(record_output, "custom ops", TG_ERR_TAPE, ON_TAPE,
      "tg_tape_record with an output not made by tg_tape_alloc on this tape"),
    R(record_saved, "custom ops", TG_ERR_NULL, ON_TAPE,
      "tg_tape_record with saved_size but no saved"),
    R(record_negative, "custom ops", TG_ERR_ARG, ON_TAPE, "tg_tape_record with n_in < 0"),
    R(record_big, "custom ops", TG_ERR_ARG, ON_TAPE,
      "tg_tape_record with over 65,535 aux tensors or 4 GiB of attributes"),
    R(check_negative, "custom ops", TG_ERR_ARG, ON_TAPE, "tg_tape_check_inputs with n < 0"),
    R(alloc_dtype, "custom ops", TG_ERR_ARG, ON_TAPE, "tg_tape_alloc with an unknown dtype"),
    R(alloc_i64, "custom ops", TG_ERR_DTYPE, ON_TAPE, "tg_tape_alloc with TG_I64"),
    R(alloc_ndim, "custom ops", TG_ERR_SHAPE, ON_TAPE, "tg_tape_alloc with more than 8 dimensions"),
    R(alloc_shape_null, "custom ops", TG_ERR_NULL, ON_TAPE,
      "tg_tape_alloc with ndim > 0, shape NULL"),
    R(alloc_extent, "custom ops", TG_ERR_SHAPE, ON_TAPE, "tg_tape_alloc with a negative extent"),
    R(alloc_big, "custom ops", TG_ERR_SHAPE, ON_TAPE,
      "tg_tape_alloc of more than TG_NUMEL_MAX (2^59 - 1) elements"),
    R(alloc_in_op, "custom ops", TG_ERR_SHAPE, ON_TAPE,
      "the same inside an op (after its tg_tape_check_inputs): the op is named"),
    R(arena_limit, "memory", TG_ERR_NOMEM, ON_TAPE, "an op past tg_tape_options.arena_limit"),
    R(nomem_nodes, "memory", TG_ERR_NOMEM, ON_TAPE, "malloc fails growing the node list"),
    R(nomem_register, "memory", TG_ERR_NOMEM, ON_TAPE,
      "malloc fails registering a user tensor on the tape"),
    R(anomaly_forward, "anomaly", TG_ERR_NUMERIC, ON_TAPE,
      "anomaly mode: an op's output has a NaN or Inf (log of negatives)"),
    R(anomaly_backward, "anomaly", TG_ERR_NUMERIC, ON_TAPE,
      "anomaly mode: a derivative rule makes a NaN or Inf (sqrt at 0)"),
    R(bw_null, "autodiff", TG_ERR_NULL, ON_TAPE, "tg_backward(tp, NULL)"),
    R(bw_not_scalar, "autodiff", TG_ERR_NOT_SCALAR, ON_TAPE,
      "tg_backward of a tensor with more than one element, no seed"),
    R(bw_seed, "autodiff", TG_ERR_SHAPE, ON_TAPE, "tg_backward_ex with a seed of another shape"),
    R(bw_not_recorded, "autodiff", TG_ERR_TAPE, ON_TAPE,
      "tg_backward of a user tensor the tape never saw"),
    R(bw_state, "autodiff", TG_ERR_STATE, RETURNED,
      "tg_backward on a tape already in error (the message stays the first error's)"),
    R(bw_rule_failed, "custom ops", TG_ERR_ARG, ON_TAPE,
      "a custom backward rule returns an error without a message"),
    R(bw_rule_shape, "custom ops", TG_ERR_SHAPE, ON_TAPE,
      "a custom backward rule returns a gradient of the wrong shape"),
    R(bw_nomem, "memory", TG_ERR_NOMEM, ON_TAPE, "malloc fails making a parameter's .grad storage"),
    R(bw_nomem_spare, "memory", TG_ERR_NOMEM, ON_TAPE,
      "malloc fails making a parameter's second gradient buffer (its second backward)"),
    R(retain_late, "autodiff", TG_ERR_ARG, LAST_ERROR,
      "tg_retain_grad on a tape tensor recorded before the last tg_backward (the tape stays "
      "usable; on a user tensor it is a no-op)"),
    R(retain_other, "autodiff", TG_ERR_TAPE, LAST_ERROR,
      "tg_retain_grad on a tensor of another tape (the tape stays usable)"),
    R(retain_freed, "autodiff", TG_ERR_TAPE, LAST_ERROR,
      "tg_retain_grad on a user tensor freed after a tape recorded it (the tape stays usable)"),
    R(retain_stale, "autodiff", TG_ERR_TAPE, LAST_ERROR,
      "tg_retain_grad on a tensor from before tg_tape_reset (the tape stays usable)"),
    R(vjp_null, "autodiff", TG_ERR_NULL, ON_TAPE, "tg_vjp with n > 0 and a NULL xs array"),
    R(grad_null_y, "autodiff", TG_ERR_NULL, ON_TAPE, "tg_grad(tp, NULL, x, ...)"),
    R(hvp_null_y, "autodiff", TG_ERR_NULL, ON_TAPE,
      "tg_hvp(tp, NULL, ...) (tg_hvp, tg_hessian and tg_jacobian name themselves)"),
    R(hessian_null_y, "autodiff", TG_ERR_NULL, ON_TAPE, "tg_hessian(tp, NULL, x)"),
    R(jvp_tangent_shape, "autodiff", TG_ERR_SHAPE, ON_TAPE,
      "tg_jvp with a tangent of another shape than its x"),
    R(jvp_tangent_dtype, "autodiff", TG_ERR_DTYPE, ON_TAPE,
      "tg_jvp with a tangent of another dtype than its x"),
    R(jvp_negative, "autodiff", TG_ERR_ARG, ON_TAPE, "tg_jvp with a negative count"),
    R(jvp_rule_shape, "autodiff", TG_ERR_SHAPE, ON_TAPE,
      "tg_jvp through a custom op whose tangent rule gives another shape than its output"),
    R(jvp_backward_failed, "autodiff", TG_ERR_ARG, ON_TAPE,
      "tg_jvp through a custom op without a tangent rule whose backward rule fails"),
    R(jvp_backward_shape, "autodiff", TG_ERR_SHAPE, ON_TAPE,
      "tg_jvp through a custom op without a tangent rule whose backward rule gives a wrong "
      "shape"),
    R(jacobian_mode, "autodiff", TG_ERR_ARG, ON_TAPE,
      "tg_jacobian_ex or tg_hessian_ex with a mode outside tg_jac_mode"),
    R(bw_no_requires_grad, "autodiff", TG_ERR_ARG, ON_TAPE,
      "tg_backward of an output that depends on no tensor with requires_grad"),
    R(bw_modified, "autodiff", TG_ERR_TAPE, ON_TAPE,
      "a recorded user tensor written (tg_tensor_set_flat, an optimizer step, ...) before "
      "backward"),
    R(bw_freed, "autodiff", TG_ERR_TAPE, ON_TAPE,
      "a parameter freed (tg_tensor_free) between recording and backward"),
    R(grad_not_recorded, "autodiff", TG_ERR_TAPE, ON_TAPE,
      "tg_grad with respect to a tensor no recorded op used"),
    R(grad_unused, "autodiff", TG_ERR_ARG, ON_TAPE,
      "tg_grad or tg_vjp of an output that does not depend on an input, without "
      "tg_grad_options.allow_unused"),
    R(broadcast, "elementwise", TG_ERR_SHAPE, ON_TAPE, "binary op on shapes that do not broadcast"),
    R(dtype, "elementwise", TG_ERR_DTYPE, ON_TAPE, "f64 and f32 mixed in one op"),
    R(i64_op, "elementwise", TG_ERR_DTYPE, ON_TAPE,
      "a TG_I64 tensor given to any op (every op's input check refuses it)"),
    R(cast, "elementwise", TG_ERR_DTYPE, ON_TAPE, "tg_cast to an unknown dtype"),
    R(where_broadcast, "selection", TG_ERR_SHAPE, ON_TAPE,
      "tg_where on shapes that do not broadcast together"),
    R(masked_fill_shape, "selection", TG_ERR_SHAPE, ON_TAPE,
      "tg_masked_fill with a mask that does not broadcast to x's shape (it would enlarge x)"),
    R(clamp_nan, "selection", TG_ERR_ARG, ON_TAPE, "tg_clamp with a NaN bound"),
    R(clamp_tensor_broadcast, "selection", TG_ERR_SHAPE, ON_TAPE,
      "tg_clamp_tensor with a bound that does not broadcast (a NULL bound shows as (none))"),
    R(hardtanh_bounds, "elementwise", TG_ERR_ARG, ON_TAPE,
      "tg_hardtanh with lo above hi (or a NaN bound)"),
    R(axis_range, "reductions", TG_ERR_AXIS, ON_TAPE, "an axis out of range"),
    R(axis_twice, "reductions", TG_ERR_AXIS, ON_TAPE, "an axis listed twice (1 and -1)"),
    R(axes_null, "reductions", TG_ERR_NULL, ON_TAPE, "naxes > 0 with a NULL axes list"),
    R(axes_many, "reductions", TG_ERR_AXIS, ON_TAPE, "more axes than dimensions"),
    R(axes_empty, "reductions", TG_ERR_AXIS, ON_TAPE,
      "tg_sum/tg_mean with naxes 0 (axes NULL or not): use tg_sum_all/tg_mean_all"),
    R(mean_empty, "reductions", TG_ERR_EMPTY, ON_TAPE, "mean of an empty tensor"),
    R(sum_to, "reductions", TG_ERR_SHAPE, ON_TAPE, "tg_sum_to a shape x does not broadcast to"),
    R(max_empty, "reductions", TG_ERR_EMPTY, ON_TAPE, "tg_max along an empty axis"),
    R(min_empty, "reductions", TG_ERR_EMPTY, ON_TAPE, "tg_min along an empty axis"),
    R(axes_empty_listed, "reductions", TG_ERR_AXIS, ON_TAPE,
      "tg_prod/logsumexp/norm/var/std with naxes 0: list every axis"),
    R(norm_order, "reductions", TG_ERR_ARG, ON_TAPE, "tg_norm with p <= 0 or NaN"),
    R(var_dof, "reductions", TG_ERR_ARG, ON_TAPE,
      "tg_var/tg_std with N - correction <= 0 (or a correction that is not finite)"),
    R(var_empty, "reductions", TG_ERR_EMPTY, ON_TAPE, "tg_var/tg_std over no elements"),
    R(argmax_empty, "reductions", TG_ERR_EMPTY, ON_TAPE, "tg_argmax/tg_argmin along an empty axis"),
    R(argmax_op, "reductions", TG_ERR_DTYPE, ON_TAPE,
      "an op given tg_argmax's index tensor (data only)"),
    R(reshape_count, "shape", TG_ERR_SHAPE, ON_TAPE, "reshape to another element count"),
    R(reshape_infer, "shape", TG_ERR_SHAPE, ON_TAPE, "reshape with -1 that cannot be inferred"),
    R(reshape_extent, "shape", TG_ERR_SHAPE, ON_TAPE, "reshape with an extent below -1"),
    R(reshape_ndim, "shape", TG_ERR_SHAPE, ON_TAPE, "reshape to more than 8 dimensions"),
    R(reshape_overflow, "shape", TG_ERR_SHAPE, ON_TAPE, "reshape whose extents overflow int64"),
    R(broadcast_to, "shape", TG_ERR_SHAPE, ON_TAPE, "tg_broadcast_to an incompatible shape"),
    R(broadcast_to_size, "shape", TG_ERR_SHAPE, ON_TAPE,
      "tg_broadcast_to a shape of more than TG_NUMEL_MAX elements"),
    R(permute_null, "shape", TG_ERR_NULL, ON_TAPE, "tg_permute_dims with perm NULL"),
    R(permute_bad, "shape", TG_ERR_AXIS, ON_TAPE, "tg_permute_dims with a perm that is not one"),
    R(permute_count, "shape", TG_ERR_AXIS, ON_TAPE,
      "tg_permute_dims with a perm length other than the rank"),
    R(transpose_axis, "shape", TG_ERR_AXIS, ON_TAPE, "tg_transpose with an axis out of range"),
    R(slice_step, "shape", TG_ERR_ARG, ON_TAPE, "tg_slice with step 0"),
    R(embed_null, "shape", TG_ERR_NULL, ON_TAPE, "tg_embed with a NULL target shape"),
    R(embed_rank, "shape", TG_ERR_SHAPE, ON_TAPE, "tg_embed into a shape of another rank"),
    R(embed_extent, "shape", TG_ERR_SHAPE, ON_TAPE,
      "tg_embed with extents that differ off the axis"),
    R(embed_step, "shape", TG_ERR_ARG, ON_TAPE, "tg_embed with step 0"),
    R(embed_fit, "shape", TG_ERR_SHAPE, ON_TAPE, "tg_embed whose positions run past the extent"),
    R(embed_size, "shape", TG_ERR_SHAPE, ON_TAPE,
      "tg_embed into a shape of more than TG_NUMEL_MAX elements"),
    R(concat_none, "shape", TG_ERR_ARG, ON_TAPE, "tg_concat of 0 tensors"),
    R(concat_shape, "shape", TG_ERR_SHAPE, ON_TAPE, "tg_concat of shapes that differ off the axis"),
    R(concat_size, "shape", TG_ERR_SHAPE, ON_TAPE,
      "tg_concat into a result of more than TG_NUMEL_MAX elements"),
    R(ix_null, "indexing", TG_ERR_NULL, ON_TAPE, "an indexing op given a NULL index"),
    R(ix_dtype, "indexing", TG_ERR_DTYPE, ON_TAPE, "an index that is not TG_I64"),
    R(ix_not_live, "indexing", TG_ERR_TAPE, ON_TAPE,
      "an index that is not a live tensor (another tape's, stale, freed)"),
    R(ix_range, "indexing", TG_ERR_ARG, ON_TAPE,
      "an index past the extent (tg_gather, tg_scatter_add, tg_index_select)"),
    R(ix_negative, "indexing", TG_ERR_ARG, ON_TAPE, "a negative index (not wrapped)"),
    R(gather_rank, "indexing", TG_ERR_SHAPE, ON_TAPE,
      "tg_gather or tg_scatter_add with an index of another rank than x"),
    R(gather_extent, "indexing", TG_ERR_SHAPE, ON_TAPE,
      "tg_gather or tg_scatter_add with an index larger than x off the axis"),
    R(scatter_src, "indexing", TG_ERR_SHAPE, ON_TAPE,
      "tg_scatter_add with src not of the index's shape"),
    R(index_select_rank, "indexing", TG_ERR_SHAPE, ON_TAPE,
      "tg_index_select with an index that is not 1-d"),
    R(embedding_rank, "indexing", TG_ERR_SHAPE, ON_TAPE,
      "tg_embedding of a weight that is not 2-d"),
    R(embedding_padding, "indexing", TG_ERR_ARG, ON_TAPE, "tg_embedding with padding_idx >= V"),
    R(embedding_range, "indexing", TG_ERR_ARG, ON_TAPE, "tg_embedding of a row index >= V"),
    R(embedding_axes, "indexing", TG_ERR_SHAPE, ON_TAPE,
      "tg_embedding or tg_one_hot of an index with 8 axes (the output would have 9)"),
    R(one_hot_classes, "indexing", TG_ERR_ARG, ON_TAPE, "tg_one_hot with num_classes < 0"),
    R(one_hot_dtype, "indexing", TG_ERR_DTYPE, ON_TAPE,
      "tg_one_hot to a dtype that is not f32/f64"),
    R(one_hot_range, "indexing", TG_ERR_ARG, ON_TAPE, "tg_one_hot of an index >= num_classes"),
    R(one_hot_size, "indexing", TG_ERR_SHAPE, ON_TAPE,
      "tg_one_hot with a result of more than TG_NUMEL_MAX elements"),
    R(mm_rank, "matmul", TG_ERR_SHAPE, ON_TAPE, "tg_matmul of a 0-d operand"),
    R(mm_vec_t, "matmul", TG_ERR_SHAPE, ON_TAPE, "tg_matmul_t of a 1-d operand read transposed"),
    R(mm_batch, "matmul", TG_ERR_SHAPE, ON_TAPE, "tg_matmul with batch axes that do not broadcast"),
    R(mm_inner, "matmul", TG_ERR_SHAPE, ON_TAPE, "tg_matmul with inner dimensions that differ"),
    R(mm_size, "matmul", TG_ERR_SHAPE, ON_TAPE,
      "tg_matmul with a result of more than TG_NUMEL_MAX elements"),
    R(la_square, "linear algebra", TG_ERR_SHAPE, ON_TAPE,
      "a linear algebra op on a matrix that is not square"),
    R(la_rhs, "linear algebra", TG_ERR_SHAPE, ON_TAPE,
      "tg_solve (or tg_solve_triangular) with b of other rows or batch extents than a"),
    R(la_cols, "linear algebra", TG_ERR_SHAPE, ON_TAPE,
      "tg_solve with more right-hand sides than a 32-bit integer holds"),
    R(la_singular, "linear algebra", TG_ERR_ARG, ON_TAPE,
      "tg_solve or tg_inv of a singular matrix (an exactly zero LU pivot)"),
    R(la_tri_singular, "linear algebra", TG_ERR_ARG, ON_TAPE,
      "tg_solve_triangular with a zero on the diagonal"),
    R(la_not_pd, "linear algebra", TG_ERR_ARG, ON_TAPE,
      "tg_cholesky of a matrix that is not positive definite"),
    R(la_det_grad, "linear algebra", TG_ERR_ARG, ON_TAPE,
      "the gradient of tg_det or tg_slogdet at a singular matrix"),
    R(softmax_empty, "softmax", TG_ERR_EMPTY, ON_TAPE, "softmax along an axis of extent 0"),
    R(norm_naxes, "normalisation", TG_ERR_AXIS, ON_TAPE,
      "tg_layer_norm with naxes outside 1 to x's rank"),
    R(norm_ln_shape, "normalisation", TG_ERR_SHAPE, ON_TAPE,
      "tg_layer_norm with a weight or bias not of the normalised extents"),
    R(norm_eps, "normalisation", TG_ERR_ARG, ON_TAPE,
      "a normalisation with eps negative, infinite or NaN"),
    R(norm_rank, "normalisation", TG_ERR_SHAPE, ON_TAPE,
      "tg_batch_norm or tg_group_norm of an input with fewer than 2 axes"),
    R(norm_channels, "normalisation", TG_ERR_SHAPE, ON_TAPE,
      "tg_batch_norm or tg_group_norm with a weight, bias or running statistic not (C)"),
    R(norm_groups, "normalisation", TG_ERR_ARG, ON_TAPE,
      "tg_group_norm with groups < 1 or not dividing C"),
    R(bn_running_null, "normalisation", TG_ERR_NULL, ON_TAPE,
      "tg_batch_norm in evaluation mode without running_mean or running_var"),
    R(bn_running_live, "normalisation", TG_ERR_TAPE, ON_TAPE,
      "tg_batch_norm with a running statistic of another tape, stale or freed"),
    R(bn_running_tape, "normalisation", TG_ERR_ARG, ON_TAPE,
      "tg_batch_norm in training mode with a running statistic that is a tape tensor"),
    R(bn_running_alias, "normalisation", TG_ERR_ARG, ON_TAPE,
      "tg_batch_norm in training mode with a running statistic that is also the weight, the "
      "bias or the other statistic"),
    R(bn_momentum, "normalisation", TG_ERR_ARG, ON_TAPE,
      "tg_batch_norm in training mode with momentum outside [0, 1]"),
    R(bn_one_value, "normalisation", TG_ERR_SHAPE, ON_TAPE,
      "tg_batch_norm in training mode with one value per channel (N * spatial = 1)"),
    R(loss_shape, "losses", TG_ERR_SHAPE, ON_TAPE,
      "a loss whose prediction and target differ in shape"),
    R(loss_red, "losses", TG_ERR_ARG, ON_TAPE, "a loss with an unknown reduction"),
    R(loss_empty, "losses", TG_ERR_EMPTY, ON_TAPE, "a mean loss over no elements"),
    R(bce_prob, "losses", TG_ERR_ARG, ON_TAPE, "tg_bce with p outside [0, 1]"),
    R(xent_rank, "losses", TG_ERR_SHAPE, ON_TAPE,
      "cross-entropy of logits that are not (N,C) or (C)"),
    R(xent_red, "losses", TG_ERR_ARG, ON_TAPE, "cross-entropy with an unknown reduction"),
    R(xent_classes, "losses", TG_ERR_EMPTY, ON_TAPE, "cross-entropy of logits with 0 classes"),
    R(labels_count, "losses", TG_ERR_SHAPE, ON_TAPE, "label cross-entropy with n != N"),
    R(labels_null, "losses", TG_ERR_NULL, ON_TAPE, "label cross-entropy with labels NULL"),
    R(labels_range, "losses", TG_ERR_ARG, ON_TAPE, "a label outside [0, C)"),
    R(index_range, "losses", TG_ERR_ARG, ON_TAPE,
      "tg_softmax_cross_entropy_index: a label outside [0, C)"),
    R(index_shape, "losses", TG_ERR_SHAPE, ON_TAPE,
      "tg_softmax_cross_entropy_index: labels not of z's shape without the class axis"),
    R(index_dtype, "losses", TG_ERR_DTYPE, ON_TAPE,
      "tg_softmax_cross_entropy_index: labels that are not TG_I64"),
    R(index_not_live, "losses", TG_ERR_TAPE, ON_TAPE,
      "tg_softmax_cross_entropy_index: labels of another tape, stale or freed"),
    R(index_null, "losses", TG_ERR_NULL, ON_TAPE, "tg_softmax_cross_entropy_index: labels NULL"),
    R(conv_rank, "conv", TG_ERR_SHAPE, ON_TAPE, "tg_conv2d of an input that is not 4-d"),
    R(conv_channels, "conv", TG_ERR_SHAPE, ON_TAPE, "tg_conv2d with channels that differ"),
    R(conv_bias, "conv", TG_ERR_SHAPE, ON_TAPE, "tg_conv2d with a bias of the wrong size"),
    R(conv_stride, "conv", TG_ERR_ARG, ON_TAPE, "tg_conv2d with stride 0"),
    R(conv_pad, "conv", TG_ERR_ARG, ON_TAPE, "tg_conv2d with negative padding"),
    R(conv_kernel, "conv", TG_ERR_SHAPE, ON_TAPE, "a kernel larger than the padded image"),
    R(conv_kernel0, "conv", TG_ERR_SHAPE, ON_TAPE, "tg_im2col with a 0-sized kernel"),
    R(conv_work, "conv", TG_ERR_SHAPE, ON_TAPE,
      "a stride and padding whose work area exceeds TG_NUMEL_MAX"),
    R(conv_output, "conv", TG_ERR_SHAPE, ON_TAPE, "a padding whose output exceeds TG_NUMEL_MAX"),
    R(conv_block, "conv", TG_ERR_SHAPE, ON_TAPE,
      "a geometry whose one-image column block exceeds TG_NUMEL_MAX"),
    R(im2col_size, "conv", TG_ERR_SHAPE, ON_TAPE,
      "tg_im2col whose column matrix exceeds TG_NUMEL_MAX"),
    R(col2im_null, "conv", TG_ERR_NULL, ON_TAPE, "tg_col2im_to with image_shape NULL"),
    R(col2im_ndim, "conv", TG_ERR_SHAPE, ON_TAPE, "tg_col2im_to with an image shape not 4-d"),
    R(col2im_image, "conv", TG_ERR_SHAPE, ON_TAPE, "tg_col2im_to with a negative image extent"),
    R(col2im_cols, "conv", TG_ERR_SHAPE, ON_TAPE, "tg_col2im_to of columns of the wrong shape"),
    R(col2im_size, "conv", TG_ERR_SHAPE, ON_TAPE,
      "tg_col2im_to with an image shape of more than TG_NUMEL_MAX elements"),
    R(flatten_0d, "conv", TG_ERR_SHAPE, ON_TAPE, "tg_flatten of a 0-d tensor"),
    R(conv_groups, "conv", TG_ERR_ARG, ON_TAPE, "tg_conv2d_ex with negative groups"),
    R(conv_groups_channels, "conv", TG_ERR_SHAPE, ON_TAPE,
      "tg_conv2d_ex with channels that groups does not divide"),
    R(conv_groups_filters, "conv", TG_ERR_SHAPE, ON_TAPE,
      "tg_conv2d_ex with filters that groups does not divide"),
    R(conv_groups_weight, "conv", TG_ERR_SHAPE, ON_TAPE,
      "tg_conv2d_ex with a weight of other than C/groups channels"),
    R(conv_dilation, "conv", TG_ERR_ARG, ON_TAPE,
      "tg_conv2d_ex with a negative dilation (tg_conv1d: below 1)"),
    R(conv_dilation_fit, "conv", TG_ERR_SHAPE, ON_TAPE,
      "a dilated kernel whose span is larger than the padded image"),
    R(conv1d_rank, "conv", TG_ERR_SHAPE, ON_TAPE, "tg_conv1d of an input that is not 3-d"),
    R(conv_t_out_pad, "conv", TG_ERR_ARG, ON_TAPE,
      "tg_conv_transpose2d with an output padding not below the stride"),
    R(conv_t_channels, "conv", TG_ERR_SHAPE, ON_TAPE,
      "tg_conv_transpose2d with channels that differ from w's first axis"),
    R(conv_t_bias, "conv", TG_ERR_SHAPE, ON_TAPE,
      "tg_conv_transpose2d with a bias of the wrong size"),
    R(conv_t_empty, "conv", TG_ERR_EMPTY, ON_TAPE,
      "tg_conv_transpose2d of an image with no pixels"),
    R(conv_t_small, "conv", TG_ERR_SHAPE, ON_TAPE,
      "tg_conv_transpose2d whose padding leaves no output"),
    R(conv_t_size, "conv", TG_ERR_SHAPE, ON_TAPE,
      "tg_conv_transpose2d whose output exceeds TG_NUMEL_MAX elements"),
    R(pool_rank, "pooling", TG_ERR_SHAPE, ON_TAPE, "pooling of an input that is not 4-d"),
    R(pool_window, "pooling", TG_ERR_ARG, ON_TAPE, "pooling with a 0-sized window"),
    R(pool_stride, "pooling", TG_ERR_ARG, ON_TAPE, "pooling with stride 0"),
    R(pool_pad, "pooling", TG_ERR_ARG, ON_TAPE, "pooling with padding over half the window"),
    R(pool_empty, "pooling", TG_ERR_EMPTY, ON_TAPE, "pooling an image with no pixels"),
    R(pool_big, "pooling", TG_ERR_SHAPE, ON_TAPE, "a window larger than the padded image"),
    R(pool_size, "pooling", TG_ERR_SHAPE, ON_TAPE,
      "pooling whose output exceeds TG_NUMEL_MAX elements"),
    R(apool_size, "pooling", TG_ERR_ARG, ON_TAPE, "tg_adaptive_avg_pool2d to a 0-sized output"),
    R(apool_big, "pooling", TG_ERR_SHAPE, ON_TAPE,
      "tg_adaptive_avg_pool2d to an output whose window bounds exceed TG_NUMEL_MAX"),
    R(t_dtype, "tensors", TG_ERR_DTYPE, LAST_ERROR, "creating a tensor of an unknown dtype"),
    R(t_i64_value, "tensors", TG_ERR_ARG, LAST_ERROR,
      "a value that is no int64 (NaN, infinite, beyond 2^63) written into a TG_I64 tensor "
      "(tg_tensor_full, fill, set_flat, from_f64, arange, copy and cast_new name themselves)"),
    R(t_i64_random, "tensors", TG_ERR_DTYPE, LAST_ERROR,
      "a random fill of a TG_I64 tensor (tg_tensor_rand, randn, fill_uniform, fill_normal)"),
    R(t_i64_requires_grad, "tensors", TG_ERR_DTYPE, LAST_ERROR,
      "tg_tensor_set_requires_grad(t, true) on a TG_I64 tensor"),
    R(t_ndim, "tensors", TG_ERR_SHAPE, LAST_ERROR, "creating a tensor of more than 8 dimensions"),
    R(t_extent, "tensors", TG_ERR_SHAPE, LAST_ERROR, "creating a tensor with a negative extent"),
    R(t_nomem_header, "memory", TG_ERR_NOMEM, LAST_ERROR, "malloc fails for a tensor's header"),
    R(t_nomem, "memory", TG_ERR_NOMEM, LAST_ERROR, "malloc fails for a tensor's data"),
    R(t_arange, "tensors", TG_ERR_ARG, LAST_ERROR, "tg_tensor_arange with step 0"),
    R(t_arange_many, "tensors", TG_ERR_ARG, LAST_ERROR, "tg_tensor_arange of 1e300 elements"),
    R(t_from, "tensors", TG_ERR_NULL, LAST_ERROR, "tg_tensor_from with data NULL"),
    R(t_from_f64, "tensors", TG_ERR_NULL, LAST_ERROR, "tg_tensor_from_f64 with data NULL"),
    R(t_clone, "tensors", TG_ERR_NULL, LAST_ERROR, "tg_tensor_clone(NULL)"),
    R(t_cast, "tensors", TG_ERR_NULL, LAST_ERROR, "tg_tensor_cast_new(NULL, ...)"),
    R(t_rand, "tensors", TG_ERR_NULL, LAST_ERROR, "tg_tensor_rand with rng NULL"),
    R(t_randn, "tensors", TG_ERR_NULL, LAST_ERROR, "tg_tensor_randn with rng NULL"),
    R(t_requires_grad, "tensors", TG_ERR_ARG, LAST_ERROR,
      "tg_tensor_set_requires_grad on a tape-owned tensor"),
    R(t_free_grad, "tensors", TG_ERR_ARG, LAST_ERROR,
      "tg_tensor_free of a .grad (a no-op: freed with its parameter)"),
    R(t_free_tape, "tensors", TG_ERR_ARG, LAST_ERROR,
      "tg_tensor_free of a tape-owned tensor (a no-op: freed by its tape)"),
    R(t_free_twice, "tensors", TG_ERR_ARG, LAST_ERROR,
      "tg_tensor_free twice of a tensor a tape still keeps (a no-op)"),
    R(gc_null, "gradcheck", TG_ERR_NULL, LAST_ERROR, "tg_gradcheck with fn NULL"),
    R(gc_not_user, "gradcheck", TG_ERR_ARG, LAST_ERROR, "tg_gradcheck of a tape-owned input"),
    R(gc_fn_null, "gradcheck", TG_ERR_ARG, LAST_ERROR,
      "the checked function returns NULL, no error"),
    R(gc_fn_fail, "gradcheck", TG_ERR_SHAPE, LAST_ERROR, "the checked function fails on its tape"),
    R(gc_size, "gradcheck", TG_ERR_SHAPE, LAST_ERROR,
      "the checked function's output changes size between calls"),
    R(gc_backward, "gradcheck", TG_ERR_SHAPE, LAST_ERROR, "backward of the checked function fails"),
    R(gc_differ, "gradcheck", TG_ERR_NUMERIC, LAST_ERROR,
      "analytic and numeric gradients differ (a wrong derivative)"),
    R(gc_rules, "gradcheck", TG_ERR_NUMERIC, LAST_ERROR,
      "an op's direct rule and its op-built rule give different gradients"),
    R(gc_nomem, "memory", TG_ERR_NOMEM, LAST_ERROR, "malloc fails inside tg_gradcheck"),
    R(optim_i64, "optimizers", TG_ERR_DTYPE, LAST_ERROR,
      "a TG_I64 parameter given to tg_sgd_new or tg_adam_new"),
    R(init_i64, "optimizers", TG_ERR_DTYPE, LAST_ERROR,
      "a TG_I64 tensor given to a tg_init_* function"),
    R(optim_shape, "optimizers", TG_ERR_SHAPE, LAST_ERROR,
      "tg_optim_step after a stateful parameter's element count changed"),
    R(st_open, "files", TG_ERR_IO, LAST_ERROR, "loading a safetensors file that does not exist"),
    R(st_dir, "files", TG_ERR_IO, LAST_ERROR, "loading a directory as a safetensors file"),
    R(st_not_file, "files", TG_ERR_IO, LAST_ERROR, "loading a device as a safetensors file"),
    R(st_short, "files", TG_ERR_IO, LAST_ERROR, "a safetensors file shorter than 8 bytes"),
    R(st_header_len, "files", TG_ERR_IO, LAST_ERROR, "a header length past the end of the file"),
    R(st_json, "files", TG_ERR_IO, LAST_ERROR, "a header that is not valid JSON"),
    R(st_dtype, "files", TG_ERR_DTYPE, LAST_ERROR, "an entry of a dtype other than F32/F64/I64"),
    R(st_span, "files", TG_ERR_IO, LAST_ERROR, "an entry whose byte span does not match its shape"),
    R(st_shape_overflow, "files", TG_ERR_IO, LAST_ERROR,
      "an entry whose shape's element count overflows"),
    R(st_into_name, "files", TG_ERR_IO, LAST_ERROR,
      "tg_safetensors_load_into a name not in the file"),
    R(st_into_dtype, "files", TG_ERR_DTYPE, LAST_ERROR,
      "tg_safetensors_load_into: an I64 entry into a float tensor, or a float entry into an i64 "
      "one"),
    R(st_into_shape, "files", TG_ERR_SHAPE, LAST_ERROR,
      "tg_safetensors_load_into a tensor of another shape"),
    R(st_save_dup, "files", TG_ERR_ARG, LAST_ERROR, "saving two tensors under one name"),
    R(st_save_open, "files", TG_ERR_IO, LAST_ERROR, "saving into a directory that does not exist"),
    R(st_save_loop, "files", TG_ERR_IO, LAST_ERROR, "saving through a loop of symbolic links"),
    R(idx_open, "files", TG_ERR_IO, LAST_ERROR, "loading an IDX file that does not exist"),
    R(idx_dir, "files", TG_ERR_IO, LAST_ERROR, "loading a directory as an IDX file"),
    R(idx_not_file, "files", TG_ERR_IO, LAST_ERROR, "loading a device as an IDX file"),
    R(idx_magic, "files", TG_ERR_IO, LAST_ERROR, "an IDX file whose magic is not unsigned bytes"),
    R(idx_truncated, "files", TG_ERR_IO, LAST_ERROR, "an IDX file shorter than its header says"),
    R(idx_trailing, "files", TG_ERR_IO, LAST_ERROR, "an IDX file longer than its header says"),
    R(idx_gz_cut, "files", TG_ERR_IO, LAST_ERROR, "a gzip'd IDX file cut short (in its trailer)"),
    R(idx_gz_crc, "files", TG_ERR_IO, LAST_ERROR, "a gzip member whose CRC-32 is wrong"),
    R(idx_gz_length, "files", TG_ERR_IO, LAST_ERROR, "a gzip member whose length field is wrong"),
    R(idx_gz_corrupt, "files", TG_ERR_IO, LAST_ERROR, "a gzip member that does not inflate"),
    R(idx_gz_trailing, "files", TG_ERR_IO, LAST_ERROR,
      "bytes after the last gzip member that are not a member"),
    R(idx_gz_nomem, "files", TG_ERR_NOMEM, LAST_ERROR, "malloc fails inside inflate"),
    R(idx_cap, "files", TG_ERR_NOMEM, LAST_ERROR,
      "an IDX header declaring more than the size cap (a gzip bomb)"),
    R(idx_max_bytes, "files", TG_ERR_ARG, LAST_ERROR, "tg_idx_load_ex with max_bytes negative"),
    R(idx_labels_rank, "files", TG_ERR_IO, LAST_ERROR, "a label file that is not 1-d"),
    R(idx_dtype, "files", TG_ERR_DTYPE, LAST_ERROR, "tg_idx_load into an unknown dtype"),
    R(stape_null, "scalar tape", TG_ERR_NULL, LAST_ERROR,
      "a scalar-tape operation given a NULL tape"),
    R(stape_other, "scalar tape", TG_ERR_TAPE, LAST_ERROR,
      "a value of another scalar tape, or from before tg_stape_reset (also the tape's error)"),
    R(stape_none, "scalar tape", TG_ERR_TAPE, LAST_ERROR,
      "TG_SV_NONE (what a failed operation returned) as an argument"),
    R(stape_forged, "scalar tape", TG_ERR_TAPE, LAST_ERROR,
      "a handle with this tape's tag and an index it never issued"),
    R(stape_nomem, "scalar tape", TG_ERR_NOMEM, LAST_ERROR, "out of memory growing the record"),
    R(stape_limit, "scalar tape", TG_ERR_NOMEM, LAST_ERROR,
      "more values than a 32-bit handle indexes (UINT32_MAX - 1)"),
    R(stape_sweep_state, "scalar tape", TG_ERR_STATE, LAST_ERROR,
      "tg_stape_gradient or tg_stape_vjp on a tape in error"),
    R(stape_sweep_count, "scalar tape", TG_ERR_ARG, LAST_ERROR,
      "tg_stape_vjp with no outputs or a negative input count (not sticky)"),
    R(stape_sweep_output, "scalar tape", TG_ERR_TAPE, LAST_ERROR,
      "a sweep's output not a live value of this tape (not sticky)"),
    R(stape_sweep_input, "scalar tape", TG_ERR_TAPE, LAST_ERROR,
      "a sweep's input not a live value of this tape (not sticky)"),
    R(stape_sweep_nomem, "scalar tape", TG_ERR_NOMEM, LAST_ERROR,
      "out of memory for a sweep's adjoints (not sticky)"),
    R(stape_gradcheck_args, "scalar tape", TG_ERR_ARG, LAST_ERROR,
      "tg_stape_gradcheck with n < 1, eps <= 0 or tol <= 0"),
    R(stape_gradcheck_fail, "scalar tape", TG_ERR_NUMERIC, LAST_ERROR,
      "tg_stape_gradcheck: a component beyond tol (the worst one is named)"),
    R(stape_gradcheck_record, "scalar tape", TG_ERR_TAPE, LAST_ERROR,
      "tg_stape_gradcheck: recording f failed"),
    R(stape_gradcheck_nomem, "scalar tape", TG_ERR_NOMEM, LAST_ERROR,
      "tg_stape_gradcheck out of memory"),
    R(dist_n, "distributed", TG_ERR_ARG, LAST_ERROR, "tg_dist_broadcast with n < 0"),
    R(dist_not_user, "distributed", TG_ERR_ARG, LAST_ERROR,
      "tg_dist_broadcast of a tape-owned tensor"),
    R(dist_no_grad, "distributed", TG_ERR_ARG, LAST_ERROR,
      "tg_dist_allreduce_grads of a parameter tg_backward did not reach"),
    R(dist_shard, "distributed", TG_ERR_ARG, LAST_ERROR,
      "tg_batches_shard with a rank not below the number of ranks"),
#if TG_HAVE_MPI
    R(dist_not_init, "distributed", TG_ERR_ARG, LAST_ERROR,
      "tg_dist_broadcast or tg_dist_allreduce_grads before tg_dist_init"),
    R(dist_timeout, "distributed", TG_ERR_ARG, LAST_ERROR,
      "tg_dist_init with a negative timeout_seconds"),
    R(dist_bucket, "distributed", TG_ERR_ARG, LAST_ERROR,
      "tg_dist_init with bucket_bytes below 64"),
#else
    R(dist_no_mpi, "distributed", TG_ERR_ARG, LAST_ERROR,
      "tg_dist_init (and tg_dist_broadcast, tg_dist_allreduce_grads) in a build without MPI"),
#endif
    R(threads_count, "threads", TG_ERR_ARG, LAST_ERROR,
      "tg_set_num_threads with n < 0 or above TG_MAX_THREADS"),
    R(null_query, "NULL arguments", TG_ERR_NULL, LAST_ERROR,
      "a tensor query (tg_tensor_numel, tg_tensor_data, ...) given NULL"),
    R(null_rng, "NULL arguments", TG_ERR_NULL, LAST_ERROR, "tg_rng_uniform(NULL) (it returns NaN)"),
    R(ckpt_fn_null, "checkpoint", TG_ERR_NULL, ON_TAPE, "tg_checkpoint with fn NULL"),
    R(ckpt_negative, "checkpoint", TG_ERR_ARG, ON_TAPE, "tg_checkpoint with n < 0"),
    R(ckpt_failed, "checkpoint", TG_ERR_SHAPE, ON_TAPE,
      "a segment whose op fails (the scratch tape's message, forwarded)"),
    R(ckpt_null_result, "checkpoint", TG_ERR_ARG, ON_TAPE,
      "a segment that returns NULL with no error on its tape"),
    R(ckpt_records_on_tape, "checkpoint", TG_ERR_TAPE, ON_TAPE,
      "a segment that records on the checkpoint's tape instead of the one it is given"),
    R(ckpt_foreign_result, "checkpoint", TG_ERR_TAPE, ON_TAPE,
      "a segment that returns a tensor of another tape"),
    R(ckpt_not_float, "checkpoint", TG_ERR_DTYPE, ON_TAPE,
      "a segment that returns an index tensor (tg_argmax)"),
    R(ckpt_captured, "checkpoint", TG_ERR_ARG, ON_TAPE,
      "a segment that uses a tensor that requires grad through ctx, not its inputs"),
    R(null_tape_call, "NULL arguments", TG_ERR_NULL, LAST_ERROR,
      "tg_backward, tg_grad, tg_hvp, ... given a NULL tape"),
    R(null_stream, "NULL arguments", TG_ERR_NULL, LAST_ERROR, "a printing call given FILE *f NULL"),
    R(null_target, "NULL arguments", TG_ERR_NULL, ON_TAPE,
      "tg_reshape, tg_sum_to or tg_broadcast_to with a NULL target shape"),
    R(null_record, "NULL arguments", TG_ERR_NULL, ON_TAPE, "tg_tape_record with out NULL"),
    R(fn_null, "custom functions", TG_ERR_NULL, ON_TAPE,
      "tg_function_call of a function without vjp"),
    R(fn_count, "custom functions", TG_ERR_ARG, ON_TAPE, "tg_function_call with n_out 0"),
    R(fn_forward_op, "custom functions", TG_ERR_SHAPE, ON_TAPE,
      "an op inside a function's forward fails: its error, prefixed"),
    R(fn_forward_quiet, "custom functions", TG_ERR_ARG, ON_TAPE,
      "a function's forward returns an error without a message"),
    R(fn_output_null, "custom functions", TG_ERR_NULL, ON_TAPE,
      "a function's forward leaves an output NULL"),
    R(fn_output_foreign, "custom functions", TG_ERR_TAPE, ON_TAPE,
      "a function's forward gives an output of another tape"),
    R(fn_output_dtype, "custom functions", TG_ERR_DTYPE, ON_TAPE,
      "a function's forward gives outputs of two dtypes"),
    R(fn_saved_foreign, "custom functions", TG_ERR_TAPE, ON_TAPE,
      "a function's forward saves a residual of another tape"),
    R(fn_vjp_shape, "custom functions", TG_ERR_SHAPE, ON_TAPE,
      "a function's vjp gives a gradient of the wrong shape"),
    R(fn_vjp_quiet, "custom functions", TG_ERR_ARG, ON_TAPE,
      "a function's vjp returns an error without a message"),
    R(fn_vjp_foreign, "custom functions", TG_ERR_TAPE, ON_TAPE,
      "a function's vjp gives a gradient of another tape"),
    R(fn_jvp_shape, "custom functions", TG_ERR_SHAPE, ON_TAPE,
      "a function's jvp gives a tangent of the wrong shape (tg_jvp)"),
    R(name_long, "names and pictures", TG_ERR_ARG, LAST_ERROR,
      "tg_tensor_set_name with a name longer than TG_NAME_MAX (31) bytes"),
    R(name_control, "names and pictures", TG_ERR_ARG, LAST_ERROR,
      "tg_tensor_set_name with a control character in the name"),
    R(name_freed, "names and pictures", TG_ERR_TAPE, LAST_ERROR,
      "tg_tensor_set_name of a user tensor freed while a tape holds it"),
    R(name_stale, "names and pictures", TG_ERR_TAPE, LAST_ERROR,
      "tg_tensor_set_name (or tg_tensor_name) of a tape tensor from before tg_tape_reset"),
    R(explain_format, "names and pictures", TG_ERR_ARG, LAST_ERROR,
      "tg_tape_set_explain with a format not in tg_explain_format"),
    R(svg_width, "names and pictures", TG_ERR_ARG, LAST_ERROR,
      "tg_tape_write_svg with max_width negative or under 64 px"),
    R(dot_io, "names and pictures", TG_ERR_IO, LAST_ERROR,
      "tg_tape_write_dot to a stream that fails"),
    R(json_io, "names and pictures", TG_ERR_IO, LAST_ERROR,
      "tg_tape_write_json to a stream that fails"),
    R(svg_io, "names and pictures", TG_ERR_IO, LAST_ERROR,
      "tg_tape_write_svg to a stream that fails"),
};
#undef R

/* The messages, exactly; "%T" stands for the temporary directory prefix
 * where one is printed (none at present). */
typedef struct message {
    const char *id, *msg;
} message;
static const message k_messages[] = {
    {"null_input", "add: input 1 is NULL [node 0]"},
    {"null_array", "concat: input array is NULL [node 0]"},
    {"not_live", "exp: input 0 is not a live tensor (freed?) [node 0]"},
    {"input_freed", "exp: input 0 was freed (tg_tensor_free) after a tape recorded it [node 1]"},
    {"other_tape", "mul: input 1 belongs to another tape [node 0]"},
    {"stale", "neg: input 0 is stale (created before the last tg_tape_reset) [node 0]"},
    {"null_tape", "add: tape is NULL"},
    {"growth_warning",
     "tape memory grew by 7.9 MB over 8 tg_backward calls without tg_tape_reset (8.4 MB in use); "
     "call tg_tape_reset before each step of a training loop, or set "
     "tg_tape_options.growth_warning to SIZE_MAX if the growth is intended"},
    {"record_count", "record silent: bad descriptor, output or input count 2 [node 0]"},
    {"record_output",
     "record silent: the output must come from tg_tape_alloc on this tape [node 0]"},
    {"record_saved", "record silent: saved is NULL with size 8 [node 0]"},
    {"record_negative", "record silent: input count -1 is negative [node 0]"},
    {"record_big", "record silent: 0 bytes of attributes and 65536 aux tensors (at most "
                   "4294967295 and 65535) [node 0]"},
    {"check_negative", "custom: input count -1 is negative [node 0]"},
    {"alloc_dtype", "tg_tape_alloc: unknown dtype 7 [node 0]"},
    {"alloc_i64", "tg_tape_alloc: dtype i64 is data only; tape tensors are f32 or f64 [node 0]"},
    {"alloc_ndim", "tg_tape_alloc: 9 dimensions (0 to 8 allowed) [node 0]"},
    {"alloc_shape_null", "tg_tape_alloc: shape is NULL for 2 dimensions [node 0]"},
    {"alloc_extent", "tg_tape_alloc: extent -5 of axis 1 is negative in (2,-5) [node 0]"},
    {"alloc_big", "tg_tape_alloc: a tensor of shape (1099511627776,1099511627776) would have over "
                  "576460752303423487 elements [node 0]"},
    {"alloc_in_op", "custom: a tensor of shape (2,4611686018427387904,3) would have over "
                    "576460752303423487 elements [node 0]"},
    {"arena_limit", "arena: cannot allocate 8000 bytes (in use 80, limit 4096) [node 0]"},
    {"nomem_nodes", "neg: out of memory growing the node list [node 256]"},
    {"nomem_register", "neg: out of memory registering input 0 [node 1]"},
    {"anomaly_forward", "anomaly: node 1 (log) produced NaN at flat index 0 of f64[2,3]; input 0 "
                        "f64[2,3] in [-6, -1] [node 1]"},
    {"anomaly_backward",
     "anomaly: during backward of node 1 (sqrt): the direct rule (gradient of input 0) produced "
     "+Inf at flat index 0 of f64[2,3]; input 0 f64[2,3] in [0, 0] [node 1]"},
    {"bw_null", "backward: output is NULL [node 0]"},
    {"bw_not_scalar", "backward: output f64[2,3] is not a scalar; pass a seed gradient of its "
                      "shape (tg_backward_ex or tg_vjp) [node 1]"},
    {"bw_seed", "backward: seed f64[4] does not match output f64[2,3] [node 1]"},
    {"bw_not_recorded", "backward: the output is not recorded on this tape [node 0]"},
    {"bw_state", "add: shapes (2,3) and (4) do not broadcast [node 0]"},
    {"bw_rule_failed", "backward: backward of silent (node 0) failed [node 2]"},
    {"bw_rule_shape",
     "backward: backward of wrong_shape gave a f64[] gradient for its f64[2,3] input 0 [node 2]"},
    {"bw_nomem", "backward: out of memory for a gradient of 1000 elements [node 2]"},
    {"bw_nomem_spare", "backward: out of memory for a second gradient buffer of 1000 elements "
                       "(parameter $0) [node 2]"},
    {"retain_late", "retain_grad: %0 f64[2,3] was recorded before the last tg_backward on this "
                    "tape, which kept no gradient for it; call tg_retain_grad before tg_backward"},
    {"retain_other", "retain_grad: the tensor belongs to another tape"},
    {"retain_freed", "retain_grad: the tensor was freed (tg_tensor_free)"},
    {"retain_stale", "retain_grad: the tensor is stale (created before the last tg_tape_reset)"},
    {"vjp_null", "vjp: inputs or outputs array is NULL [node 1]"},
    {"grad_null_y", "grad: output is NULL [node 0]"},
    {"hvp_null_y", "hvp: output is NULL [node 0]"},
    {"hessian_null_y", "hessian: output is NULL [node 0]"},
    {"jvp_tangent_shape", "jvp: tangent 0 f64[4] does not match xs[0] f64[2,3] [node 1]"},
    {"jvp_tangent_dtype", "jvp: tangent 0 f32[2,3] does not match xs[0] f64[2,3] [node 1]"},
    {"jvp_negative", "jvp: negative count (n -1, m 1) [node 1]"},
    {"jvp_rule_shape", "jvp: tangent rule of wrong_tangent (node 0) gave f64[] for its output "
                       "f64[2,3] [node 1]"},
    {"jvp_backward_failed",
     "jvp: backward rule (no tangent rule) of silent (node 0) failed [node 1]"},
    {"jvp_backward_shape", "jvp: backward rule of wrong_shape (node 0, no tangent rule) gave f64[] "
                           "for input 0 f64[2,3] [node 2]"},
    {"jacobian_mode",
     "jacobian: mode 7 is not TG_JAC_AUTO, TG_JAC_FORWARD or TG_JAC_REVERSE [node 1]"},
    {"bw_no_requires_grad", "backward: the output f64[] depends on no tensor that requires grad "
                            "(call tg_tensor_set_requires_grad on the parameters) [node 2]"},
    {"bw_modified", "backward: input 1 of mul (node 0), $1 f64[2,3], was modified after it was "
                    "recorded (version 0, now 1) [node 2]"},
    {"bw_freed", "backward: parameter $1 f64[4] was freed (tg_tensor_free) after it was recorded "
                 "[node 2]"},
    {"grad_not_recorded", "grad: xs[0] f64[2,3] is not on this tape (no recorded op used it); set "
                          "tg_grad_options.allow_unused to get zeros for it [node 1]"},
    {"grad_unused", "grad: the output does not depend on xs[0] f64[2,3]; set "
                    "tg_grad_options.allow_unused to get zeros for it [node 2]"},
    {"broadcast", "mul: shapes (2,3) and (4) do not broadcast [node 0]"},
    {"dtype", "add: dtypes differ: f64[2,3] and f32[2,3] (use tg_cast) [node 0]"},
    {"cast", "cast: unknown dtype 9 [node 0]"},
    {"where_broadcast", "where: shapes cond (4), a (2,3) and b (2,1) do not broadcast [node 0]"},
    {"masked_fill_shape", "masked_fill: mask (2,3) does not broadcast to x (2,1) [node 0]"},
    {"clamp_nan", "clamp: x (2,3): bound lo nan or hi 1 is NaN [node 0]"},
    {"clamp_tensor_broadcast",
     "clamp_tensor: shapes x (2,3), lo (4) and hi (none) do not broadcast [node 0]"},
    {"hardtanh_bounds", "hardtanh: lo 1 is not at most hi -1 (x of shape (2,3)) [node 0]"},
    {"i64_op", "exp: input 0 is i64[2,3]: an integer tensor is data only (the op takes f32 or "
               "f64) [node 0]"},
    {"axis_range", "sum: axis 2 out of range for f64[2,3] [node 0]"},
    {"axis_twice", "sum: axis -1 listed twice for f64[2,3] [node 0]"},
    {"axes_null", "mean: 2 axes listed for f64[2,3] but the list is NULL [node 0]"},
    {"axes_many", "sum: 9 axes given for f64[2,3] [node 0]"},
    {"axes_empty", "sum: no axes listed for f64[2,3] (an empty list is refused: use tg_sum_all "
                   "to reduce every axis) [node 0]"},
    {"mean_empty", "mean: no elements to average in f64[0,3] [node 0]"},
    {"sum_to", "sum_to: (2,1) cannot be summed to (3,1) (it must broadcast to (2,1)) [node 0]"},
    {"max_empty", "max: axis 0 of f64[0,3] is empty (the max of nothing) [node 0]"},
    {"min_empty", "min: axis 0 of f64[0,3] is empty (the min of nothing) [node 0]"},
    {"axes_empty_listed", "prod: no axes listed for f64[2,3] (an empty list is refused: list "
                          "every axis to reduce them all) [node 0]"},
    {"norm_order", "norm: order p = 0 for f64[2,3] (p must be > 0, or INFINITY) [node 0]"},
    {"var_dof", "var: correction 2 leaves N - correction = 0 <= 0 for 2 elements of f64[2,3] (N "
                "- correction must be > 0) [node 0]"},
    {"var_empty", "std: no elements to reduce in f64[0,3] [node 0]"},
    {"argmax_empty", "argmax: axis 0 of f64[0,3] is empty (the argmax of nothing) [node 0]"},
    {"argmax_op", "exp: input 0 is i64[2]: an integer tensor is data only (the op takes f32 or "
                  "f64) [node 0]"},
    {"reshape_count", "reshape: (2,3) (6 elements) to (4,2) (8 elements) [node 0]"},
    {"reshape_infer", "reshape: (2,3) (6 elements) to (-1,4): cannot infer axis 0 [node 0]"},
    {"reshape_extent", "reshape: (2,3): extent -3 of axis 0 is invalid [node 0]"},
    {"reshape_ndim", "reshape: (2,3) to a 9-d shape: bad target [node 0]"},
    {"reshape_overflow", "reshape: (2,3): the target shape overflows [node 0]"},
    {"broadcast_to", "broadcast_to: (2,3) does not broadcast to (4,3) [node 0]"},
    {"broadcast_to_size", "broadcast_to: (2,3) to (288230376151711744,2,3): the result has more "
                          "than 576460752303423487 elements [node 0]"},
    {"permute_null", "permute: (2,3): perm is NULL [node 0]"},
    {"permute_bad", "permute: (2,3): perm [0,0] is not a permutation of 0..1 [node 0]"},
    {"permute_count",
     "permute: (2,3): perm lists 3 axes for a 2-d input (each axis once) [node 0]"},
    {"transpose_axis", "transpose: axis 5 out of range for f64[2,3] [node 0]"},
    {"slice_step", "slice: (2,3) axis 1: step 0 must be >= 1 [node 0]"},
    {"embed_null", "embed: (2,3): target shape is NULL [node 0]"},
    {"embed_rank", "embed: (2,3) into a 1-d shape: the ranks differ [node 0]"},
    {"embed_extent",
     "embed: (2,3) into (4,4): extents must be non-negative and equal off axis 0 [node 0]"},
    {"embed_step", "embed: (2,3) into (4,3) axis 0: step 0 must be >= 1 [node 0]"},
    {"embed_fit",
     "embed: (2,3) into (4,3) axis 0: 2 positions from 3 step 1 do not fit in extent 4 [node 0]"},
    {"embed_size", "embed: (2,3) into (4611686018427387904,3): the target has more than "
                   "576460752303423487 elements [node 0]"},
    {"concat_none", "concat: 0 inputs; at least one is needed [node 0]"},
    {"concat_shape", "concat: input 1 (2,1) does not match input 0 (2,3) off axis 0 [node 0]"},
    {"concat_size", "concat: inputs 0..1 (input 1 (0,288230376151711744)) along axis 1: the result "
                    "has more than 576460752303423487 elements [node 0]"},
    {"ix_null", "gather: index is NULL [node 0]"},
    {"ix_dtype", "gather: index f32[2,3] must be i64 (integer positions) [node 0]"},
    {"ix_not_live", "index_select: index is not a live tensor of this tape (stale, of another "
                    "tape, or freed) [node 0]"},
    {"ix_range",
     "gather: index 3 at (1,0) is out of range [0, 3) along axis 1 of x (2,3) [node 0]"},
    {"ix_negative", "gather: index -1 at (1,1) is out of range [0, 3) along axis 1 of x (2,3) "
                    "(negative indices do not wrap) [node 0]"},
    {"gather_rank", "gather: index (2) has 1 axes, x (2,3) has 2 (they must match) [node 0]"},
    {"gather_extent", "gather: index (3,1) is larger than x (2,3) on axis 0 (index extents must be "
                      "at most x's off axis 1) [node 0]"},
    {"scatter_src",
     "scatter_add: src (2,3) and index (2,1) differ (src must have index's shape) [node 0]"},
    {"index_select_rank", "index_select: index (1,1) must be 1-d [node 0]"},
    {"embedding_rank", "embedding: weight (4) must be 2-d (V,D) [node 0]"},
    {"embedding_padding", "embedding: padding_idx 2 is out of range [0, 2) for weight (2,3) "
                          "(negative: none) [node 0]"},
    {"embedding_range",
     "embedding: index 2 at (0,2) is out of range [0, 2) for weight (2,3) [node 0]"},
    {"embedding_axes", "embedding: index (1,1,1,1,1,1,1,1) has 8 axes; the output would have 9 "
                       "(at most 8) [node 0]"},
    {"one_hot_classes", "one_hot: num_classes -1 must be >= 0 [node 0]"},
    {"one_hot_dtype", "one_hot: dtype i64: the output is f32 or f64 [node 0]"},
    {"one_hot_range", "one_hot: index 2 at (1) is out of range [0, 2) (num_classes 2) [node 0]"},
    {"one_hot_size", "one_hot: index (2) with 576460752303423488 classes: the result has more than "
                     "576460752303423487 elements [node 0]"},
    {"mm_rank", "matmul: () @ (2,3): a 0-d operand has no matrix axes (tg_mul scales by a "
                "scalar) [node 0]"},
    {"mm_vec_t", "matmul: (4)^T @ (2,3): a 1-d operand cannot be transposed [node 0]"},
    {"mm_batch", "matmul: (2,2,3) @ (3,3,2): batch axes do not broadcast (batch axis 0: 2 vs 3) "
                 "[node 0]"},
    {"mm_inner", "matmul: (2,3) @ (2,3): inner dimensions differ (3 vs 2) [node 0]"},
    {"mm_size", "matmul: (1099511627776,0) @ (0,1099511627776): the result has more than "
                "576460752303423487 elements [node 0]"},
    {"la_square", "det: a (2,3) is not a batch of square matrices (..., n, n) [node 0]"},
    {"la_rhs", "solve: a (2,2) and b (3,1): b must be (..., 2, k) with batch extents that "
               "broadcast against a's [node 0]"},
    {"la_cols", "solve: b (0,1,3000000000) has 3000000000 columns, more than LAPACK's 32-bit "
                "integers hold [node 0]"},
    {"la_singular", "solve: matrix 2 of 3 is singular (U[1,1] = 0); a (3,2,2) [node 0]"},
    {"la_tri_singular",
     "solve_triangular: matrix 0 of 1 is singular (A[1,1] = 0); a (2,2) [node 0]"},
    {"la_not_pd", "cholesky: matrix 0 of 1 is not positive definite (pivot 1); a (2,2) [node 0]"},
    {"la_det_grad",
     "det: the gradient at singular matrix 0 of 1 is not defined (det = 0); a (2,2) [node 1]"},
    {"softmax_empty", "softmax: axis 0 of f64[0,3] has extent 0 [node 0]"},
    {"norm_naxes", "layer_norm: naxes 0 must be between 1 and the rank 2 of input (2,3) [node 0]"},
    {"norm_ln_shape", "layer_norm: weight (4) must have the shape (3), the normalised extents of "
                      "input (2,3) [node 0]"},
    {"norm_eps", "layer_norm: eps -1 must be finite and >= 0 [node 0]"},
    {"norm_rank", "batch_norm: input (4) must have at least 2 axes (N,C,...) [node 0]"},
    {"norm_channels", "batch_norm: weight (4) must have the shape (3), one per channel of input "
                      "(2,3) [node 0]"},
    {"norm_groups",
     "group_norm: groups 2 must be >= 1 and divide the 3 channels of input (2,3) [node 0]"},
    {"bn_running_null", "batch_norm: running_mean is NULL (evaluation mode normalises with the "
                        "running statistics) [node 0]"},
    {"bn_running_live", "batch_norm: running_var is not a live tensor of this tape (stale, of "
                        "another tape, or freed) [node 0]"},
    {"bn_running_tape", "batch_norm: running_mean f64[3] is a tensor of the tape: training mode "
                        "updates it in place, so it must be a user tensor [node 0]"},
    {"bn_running_alias", "batch_norm: running_var is also running_mean: training mode updates the "
                         "running statistics in place, so each must be a tensor of its own [node "
                         "0]"},
    {"bn_momentum", "batch_norm: momentum 2 must be in [0, 1] [node 0]"},
    {"bn_one_value", "batch_norm: input (1,3) has 1 value per channel: training mode needs more "
                     "than 1 [node 0]"},
    {"loss_shape", "mse: y (2,3) and t (2,1) differ (targets are not broadcast) [node 0]"},
    {"loss_red", "bce_logits: unknown reduction 5 (use TG_REDUCE_SUM or TG_REDUCE_MEAN) [node 0]"},
    {"loss_empty", "mse: mean over no elements (y (0,3) is empty) [node 0]"},
    {"bce_prob", "bce: p (2,3) holds 2 at flat index 1, not a probability in [0,1] (use "
                 "tg_bce_logits on logits) [node 0]"},
    {"xent_rank", "softmax_cross_entropy: logits z (1,2,5,5) must be (N,C) or (C) [node 0]"},
    {"xent_red",
     "softmax_cross_entropy: unknown reduction 3 (use TG_REDUCE_SUM or TG_REDUCE_MEAN) [node 0]"},
    {"xent_classes", "softmax_cross_entropy: logits z (2,0) have no classes [node 0]"},
    {"labels_count",
     "softmax_cross_entropy_labels: 3 labels for logits z (2,3) (expected 2) [node 0]"},
    {"labels_null", "softmax_cross_entropy_labels: labels is NULL [node 0]"},
    {"labels_range", "softmax_cross_entropy_labels: label 3 at row 1 is out of range [0, 3) for "
                     "logits z (2,3) [node 0]"},
    {"index_range", "softmax_cross_entropy_index: label 3 at row 1 is out of range [0, 3) for "
                    "logits z (2,3) [node 0]"},
    {"index_shape", "softmax_cross_entropy_index: labels (3) must have the shape of logits z "
                    "(2,3) without its class axis, (2) [node 0]"},
    {"index_dtype", "softmax_cross_entropy_index: labels f64[4] must be i64 (class indices; for "
                    "probabilities use tg_softmax_cross_entropy) [node 0]"},
    {"index_not_live", "softmax_cross_entropy_index: labels is not a live tensor of this tape "
                       "(stale, of another tape, or freed) [node 0]"},
    {"index_null", "softmax_cross_entropy_index: labels is NULL [node 0]"},
    {"conv_rank", "conv2d: input (2,3) must be 4-d (N,C,H,W) [node 0]"},
    {"conv_channels",
     "conv2d: input (1,2,5,5) has 2 channels but weight (3,4,3,3) expects 4 [node 0]"},
    {"conv_bias",
     "conv2d: bias (4) must be 1-d with 3 elements, one per filter of weight (3,2,3,3) [node 0]"},
    {"conv_stride", "conv2d: input (1,2,5,5): stride (0,1) must be >= 1 [node 0]"},
    {"conv_pad", "conv2d: input (1,2,5,5): padding (-1,0) must be >= 0 [node 0]"},
    {"conv_kernel", "conv2d: kernel 7x3 is larger than the padded input 5x5 (input (1,2,5,5), "
                    "padding (0,0)) [node 0]"},
    {"conv_kernel0", "im2col: input (1,2,5,5): kernel 0x2 must be at least 1x1 [node 0]"},
    {"conv_work", "conv2d: input (1,2,5,5), kernel 3x3, stride (1073741824,1073741824), padding "
                  "(1610612736,1610612736): the work area would have more than 576460752303423487 "
                  "elements [node 0]"},
    {"conv_output",
     "conv2d: input (1,2,5,5), kernel 3x3, stride (1,1), padding (2147483647,2147483647): the "
     "output would have more than 576460752303423487 elements [node 0]"},
    {"conv_block",
     "conv2d: input (1,2,5,5), kernel 16384x16384, stride (1,1), padding (65536,65536): the "
     "column "
     "block of one image would have more than 576460752303423487 elements [node 0]"},
    {"im2col_size",
     "im2col: input (1,2,5,5), kernel 1x1, stride (1,1), padding (2147483647,2147483647): the "
     "column matrix would have more than 576460752303423487 elements [node 0]"},
    {"col2im_null", "col2im: image shape is NULL [node 0]"},
    {"col2im_ndim", "col2im: image shape has 3 dimensions, not 4 (N,C,H,W) [node 0]"},
    {"col2im_image", "col2im: image shape (1,-2,3,3) is invalid [node 0]"},
    {"col2im_cols", "col2im: columns (2,3) must be (18,9) = (C*KH*KW, N*OH*OW) for image "
                    "(1,2,5,5), kernel 3x3, stride (1,1), padding (0,0) [node 0]"},
    {"col2im_size",
     "col2im: input (1099511627776,1099511627776,1,1), kernel 1x1, stride (1,1), padding (0,0): "
     "the padded input would have more than 576460752303423487 elements [node 0]"},
    {"flatten_0d", "flatten: a 0-d tensor has no batch axis [node 0]"},
    {"conv_groups", "conv2d: input (1,2,5,5): groups -1 must be >= 1 [node 0]"},
    {"conv_groups_channels",
     "conv2d: input (1,2,5,5) has 2 channels, not divisible by groups 3 [node 0]"},
    {"conv_groups_filters",
     "conv2d: weight (3,2,3,3) has 3 filters, not divisible by groups 2 [node 0]"},
    {"conv_groups_weight", "conv2d: input (1,2,5,5) has 2 channels, 1 per group of 2, but weight "
                           "(4,2,3,3) expects 2 [node 0]"},
    {"conv_dilation", "conv2d: input (1,2,5,5): dilation (-1,1) must be >= 1 [node 0]"},
    {"conv_dilation_fit", "conv2d: kernel 3x3 with dilation (3,1) does not fit the padded input "
                          "5x5 (input (1,2,5,5), padding (0,0)) [node 0]"},
    {"conv1d_rank", "conv1d: input (1,2,5,5) must be 3-d (N,C,L) [node 0]"},
    {"conv_t_out_pad", "conv_transpose2d: input (1,2,5,5): output padding (1,0) must be >= 0 and "
                       "less than the stride (1,1) [node 0]"},
    {"conv_t_channels", "conv_transpose2d: input (1,2,5,5) has 2 channels but weight (3,2,3,3) "
                        "expects 3 [node 0]"},
    {"conv_t_bias", "conv_transpose2d: bias (4) must be 1-d with 3 elements, one per output "
                    "channel of weight (2,3,3,3) with groups 1 [node 0]"},
    {"conv_t_empty", "conv_transpose2d: input (1,2,0,5) has no pixels to spread [node 0]"},
    {"conv_t_small", "conv_transpose2d: input (1,2,5,5), weight (2,3,3,3), stride (1,1), padding "
                     "(4,0), dilation (1,1), output padding (0,0): the output would be -1x7, not "
                     "at least 1x1 [node 0]"},
    {"conv_t_size", "conv_transpose2d: input (1,2,5,5), weight (2,3,3,3), stride "
                    "(1073741824,1073741824), padding (0,0), dilation (1,1), groups 1: the output "
                    "would have more than 576460752303423487 elements [node 0]"},
    {"pool_rank", "max_pool2d: input (2,3) must be 4-d (N,C,H,W) [node 0]"},
    {"pool_window", "avg_pool2d: input (1,2,5,5): window 0x2 must be at least 1x1 [node 0]"},
    {"pool_stride", "max_pool2d: input (1,2,5,5): stride (0,2) must be >= 1 [node 0]"},
    {"pool_pad", "max_pool2d: input (1,2,5,5): padding (2,0) must be >= 0 and at most half the "
                 "window 2x2 [node 0]"},
    {"pool_empty", "max_pool2d: input (1,2,0,5) has no pixels to pool [node 0]"},
    {"pool_big", "avg_pool2d: window 7x2 is larger than the padded input 5x5 (input (1,2,5,5), "
                 "padding (0,0)) [node 0]"},
    {"pool_size", "max_pool2d: input (0,144115188075855872,1,1), window 2x2, stride (1,1), padding "
                  "(1,1): the output would have more than 576460752303423487 elements [node 0]"},
    {"apool_size",
     "adaptive_avg_pool2d: input (1,2,5,5): output size 0x2 must be at least 1x1 [node 0]"},
    {"apool_big", "adaptive_avg_pool2d: input (1,2,5,5), output size 1152921504606846976x1: the "
                  "output, or an output extent times the input's, would exceed 576460752303423487 "
                  "[node 0]"},
    {"t_i64_value", "tg_tensor_full: nan does not fit an i64 element (finite, in [-2^63, 2^63))"},
    {"t_i64_random",
     "tg_tensor_rand: i64[2] is an integer tensor; random fills are for f32 and f64"},
    {"t_i64_requires_grad", "tg_tensor_set_requires_grad: i64[2] is an integer tensor; integers "
                            "have no gradient"},
    {"t_dtype", "tg_tensor_new: unknown dtype 5"},
    {"t_ndim", "tg_tensor_zeros: 9 dimensions (0 to 8 allowed)"},
    {"t_extent", "tg_tensor_ones: extent -1 of axis 1 is negative in (3,-1)"},
    {"t_nomem_header", "tg_tensor_new: out of memory for the header"},
    {"t_nomem", "tg_tensor_new: out of memory for 100 elements"},
    {"t_arange", "tg_tensor_arange: step must be non-zero and values finite"},
    {"t_arange_many", "tg_tensor_arange: 1e+300 elements is too many"},
    {"t_from", "tg_tensor_from: data is NULL"},
    {"t_from_f64", "tg_tensor_from_f64: data is NULL"},
    {"t_clone", "tg_tensor_clone: tensor is NULL"},
    {"t_cast", "tg_tensor_cast_new: tensor is NULL"},
    {"t_rand", "tg_tensor_rand: rng is NULL"},
    {"t_randn", "tg_tensor_randn: rng is NULL"},
    {"t_requires_grad", "tg_tensor_set_requires_grad: only user-owned tensors; use tg_retain_grad "
                        "for a tape-owned one"},
    {"t_free_grad", "tg_tensor_free: a gradient is owned by its parameter; it is freed with it"},
    {"t_free_tape",
     "tg_tensor_free: a tape-owned tensor is freed by tg_tape_reset or tg_tape_free"},
    {"t_free_twice", "tg_tensor_free: the tensor was freed already (a tape that recorded it keeps "
                     "it until tg_tape_reset or tg_tape_free)"},
    {"gc_null", "gradcheck: function or inputs are NULL"},
    {"gc_not_user", "gradcheck: input 0 is NULL or not user-owned"},
    {"gc_fn_null", "gradcheck: the function failed: it returned NULL"},
    {"gc_fn_fail", "gradcheck: the function failed: matmul: (2,3) @ (2,3): inner dimensions differ "
                   "(3 vs 2) [node 0]"},
    {"gc_size", "gradcheck: the output changed size between evaluations"},
    {"gc_backward", "gradcheck: backward failed: grad: backward of wrong_shape gave a f64[] "
                    "gradient for its f64[2,3] input 0 [node 1]"},
    {"gc_differ", "gradcheck: analytic and numeric gradients differ"},
    {"gc_rules", "gradcheck: node 0 (twice): its direct rule and its op-built rule give different "
                 "gradients"},
    {"gc_nomem", "gradcheck: out of memory"},
    {"optim_i64", "sgd: parameter 0 is an i64 tensor; parameters are f32 or f64"},
    {"init_i64", "init_normal: the weight is an i64 tensor; weights are f32 or f64"},
    {"optim_shape", "optim_step: parameter 0 (2,2) has 4 elements but its optimizer state was made "
                    "for 2 (its shape changed since the optimizer was created)"},
    {"st_open", "safetensors_load: tg_catalogue_missing.safetensors: cannot open: No such file "
                "or directory"},
    {"st_dir", "safetensors_load: .: is a directory"},
    {"st_not_file", "safetensors_load: /dev/null: not a regular file or a FIFO"},
    {"st_short", "safetensors_load: tg_catalogue.safetensors: file is 3 bytes, shorter than the "
                 "8-byte header length"},
    {"st_header_len",
     "safetensors_load: tg_catalogue.safetensors: header length 4096 exceeds the file size 10"},
    {"st_json", "safetensors_load: tg_catalogue.safetensors: header: entry 'a': expected '\"' "
                "(near byte 32 of the header)"},
    {"st_dtype", "safetensors_load: tg_catalogue.safetensors: entry 'h' has dtype BF16; tapegrad "
                 "reads F32, F64 and I64 only"},
    {"st_span", "safetensors_load: tg_catalogue.safetensors: entry 'a': shape of 3 elements of F64 "
                "needs 24 bytes, data_offsets span 16"},
    {"st_shape_overflow", "safetensors_load: tg_catalogue.safetensors: entry 'a': shape "
                          "(4294967296,4294967296): the element count overflows"},
    {"st_into_name", "safetensors_load_into: tg_catalogue.safetensors: no entry named 'b'"},
    {"st_into_dtype", "safetensors_load_into: tg_catalogue.safetensors: entry 'a' has dtype I64, "
                      "the tensor f64 (integer and floating-point data are not converted)"},
    {"st_into_shape", "safetensors_load_into: tg_catalogue.safetensors: entry 'a' has shape (4), "
                      "the tensor (2,3)"},
    {"st_save_dup", "safetensors_save: tg_catalogue.safetensors: the name \"x\" is used twice"},
    {"st_save_open", "safetensors_save: tg_no_such_dir/w.safetensors: cannot create a temporary "
                     "file in tg_no_such_dir: No such file or directory"},
    {"st_save_loop", "safetensors_save: tg_catalogue_loop.safetensors: cannot resolve the symbolic "
                     "link: Too many levels of symbolic links"},
    {"idx_open", "idx_load: tg_catalogue_missing.idx: cannot open: No such file or directory"},
    {"idx_dir", "idx_load: .: is a directory"},
    {"idx_not_file", "idx_load: /dev/null: not a regular file or a FIFO"},
    {"idx_magic", "idx_load: tg_catalogue.idx: IDX element type 0x09 (magic 0x00000901); only 0x08 "
                  "(unsigned byte) is supported"},
    {"idx_truncated",
     "idx_load: tg_catalogue.idx: truncated: the header says (2,2) = 4 bytes, got 3"},
    {"idx_trailing",
     "idx_load_labels: tg_catalogue.idx: data continues past the 2 bytes the header gives"},
    {"idx_gz_cut",
     "idx_load: tg_catalogue.idx: gzip: the file ends inside a compressed member (cut short)"},
    {"idx_gz_crc", "idx_load: tg_catalogue.idx: gzip: a member's CRC-32 does not match its data"},
    {"idx_gz_length",
     "idx_load: tg_catalogue.idx: gzip: a member's length field does not match its data"},
    {"idx_gz_corrupt",
     "idx_load: tg_catalogue.idx: gzip: corrupt data: unknown compression method"},
    {"idx_gz_trailing", "idx_load: tg_catalogue.idx: gzip: trailing bytes after the last member "
                        "(not another gzip member)"},
    {"idx_gz_nomem", "idx_load: tg_catalogue.idx: out of memory inflating"},
    {"idx_cap", "idx_load: tg_catalogue.idx: the header's shape (1,16384,16384) needs 2147483648 "
                "bytes as f64, over the limit of 1073741824 (tg_idx_options.max_bytes)"},
    {"idx_max_bytes", "idx_load: tg_catalogue.idx: max_bytes -1 is negative"},
    {"idx_labels_rank", "idx_load_labels: tg_catalogue.idx: magic 0x00000802: 2 dimensions, "
                        "expected 1 (a label file, magic 0x00000801)"},
    {"idx_dtype",
     "idx_load: tg_catalogue.idx: dtype 4, scale 1: need F32 or F64 and a finite scale"},
    {"stape_null", "tg_s_exp: tape is NULL"},
    {"stape_other", "tg_s_mul: argument 2 is not a value of this scalar tape (another tape's, or "
                    "from before tg_stape_reset)"},
    {"stape_none", "tg_s_neg: argument 1 is TG_SV_NONE (no value)"},
    {"stape_forged", "tg_s_sqrt: argument 1 is value 7 of a tape of 1 values"},
    {"stape_nomem", "tg_stape_var: out of memory growing the tape past 0 values"},
    {"stape_limit", "tg_stape_var: the tape holds 4294967294 values, the most it can index"},
    {"stape_sweep_state", "tg_stape_gradient: the tape is in error (tg_s_neg: argument 1 is "
                          "TG_SV_NONE (no value)); reset it"},
    {"stape_sweep_count", "tg_stape_vjp: 0 outputs and 1 inputs (at least 1 and 0)"},
    {"stape_sweep_output", "tg_stape_vjp: output 0 is not a live value of this tape"},
    {"stape_sweep_input", "tg_stape_vjp: input 0 is not a live value of this tape"},
    {"stape_sweep_nomem", "tg_stape_gradient: out of memory for 2 adjoints"},
    {"stape_gradcheck_args",
     "tg_stape_gradcheck: n = 0, eps = 1e-06, tol = 1e-08 (n >= 1, eps and tol > 0)"},
    {"stape_gradcheck_fail", "tg_stape_gradcheck: input 0: reverse mode 0, central differences "
                             "0.5 (error 0.5 > 1e-08)"},
    {"stape_gradcheck_record", "tg_stape_gradcheck: recording f failed: tg_s_log: argument 1 is "
                               "TG_SV_NONE (no value)"},
    {"stape_gradcheck_nomem", "tg_stape_gradcheck: out of memory for 1 inputs"},
    {"dist_n", "tg_dist_broadcast: n = -1 is negative"},
    {"dist_not_user", "tg_dist_broadcast: tensor 0 is not a live user-owned tensor"},
    {"dist_no_grad", "tg_dist_allreduce_grads: parameter 0 (2,3) has no gradient (tg_backward did "
                     "not reach it)"},
    {"dist_shard", "batches_shard: rank 2 of 2: need 0 <= rank < nranks"},
#if TG_HAVE_MPI
    {"dist_not_init", "tg_dist_broadcast: call tg_dist_init first"},
    {"dist_timeout", "tg_dist_init: timeout_seconds -1 must be finite and >= 0 (0: 300 s)"},
    {"dist_bucket", "tg_dist_init: bucket_bytes 8 is below 64 (0: 4194304)"},
#else
    {"dist_no_mpi", "tg_dist_init: tapegrad was built without MPI (meson option mpi)"},
#endif
    {"threads_count", "tg_set_num_threads: n is -1, must be 0 (the default) or 1..256"},
    {"null_query", "tg_tensor_numel: tensor is NULL"},
    {"null_rng", "tg_rng_uniform: rng is NULL"},
    {"ckpt_fn_null", "checkpoint: fn is NULL [node 0]"},
    {"ckpt_negative", "checkpoint: negative input count -1 [node 0]"},
    {"ckpt_failed", "checkpoint: the segment failed: matmul: (2,3) @ (2,3): inner dimensions "
                    "differ (3 vs 2) [node 0]"},
    {"ckpt_null_result", "checkpoint: the segment returned NULL without an error [node 0]"},
    {"ckpt_records_on_tape", "checkpoint: the segment recorded 1 nodes on the checkpoint's tape "
                             "instead of the tape it was given [node 1]"},
    {"ckpt_foreign_result", "checkpoint: the segment returned a tensor of another tape (or a "
                            "stale one), not of the tape it was given [node 0]"},
    {"ckpt_not_float",
     "checkpoint: the segment returned i64[2]; its output must be f32 or f64 [node 0]"},
    {"ckpt_captured", "checkpoint: the segment used f64[2,3], which requires grad, directly "
                      "instead of through its inputs: pass it in in so that its gradient "
                      "reaches it [node 0]"},
    {"null_tape_call", "backward: tape is NULL"},
    {"null_stream", "tape_print: f is NULL"},
    {"null_target", "reshape: (2,3): target shape is NULL [node 0]"},
    {"null_record", "record silent: out is NULL [node 0]"},
    {"fn_null", "function_call expf: f->vjp is NULL [node 0]"},
    {"fn_count", "function_call expf: n_in 1, n_out 0, n_saved 0 (n_in >= 0, n_out >= 1 and "
                 "n_saved >= 0) [node 0]"},
    {"fn_forward_op",
     "function expf: forward: matmul: (2,3) @ (2,3): inner dimensions differ (3 vs 2) [node 0]"},
    {"fn_forward_quiet",
     "function expf: forward: returned invalid argument without a message [node 0]"},
    {"fn_output_null", "function expf: forward gave output 0 NULL [node 0]"},
    {"fn_output_foreign", "function expf: forward gave output 0 as a tensor that is not a live "
                          "tensor of this tape [node 0]"},
    {"fn_output_dtype", "function expf: forward gave output 0 f64[2,3] and output 1 f32[2,3]; a "
                        "function's outputs share one dtype [node 0]"},
    {"fn_saved_foreign",
     "function expf: forward saved residual 0, which is not a live tensor of this tape [node 0]"},
    {"fn_vjp_shape",
     "backward: backward of expf gave a f64[] gradient for its f64[2,3] input 0 [node 2]"},
    {"fn_vjp_quiet", "function expf: vjp: returned invalid argument without a message [node 2]"},
    {"fn_vjp_foreign",
     "function expf: vjp gave input 0 a gradient that is not a live tensor of this tape [node 2]"},
    {"fn_jvp_shape", "function expf: jvp gave a f64[] tangent for its f64[2,3] output 0 [node 1]"},
    {"name_long", "tensor_set_name: name \"a_name_of_fo...\" is 40 bytes long; at most 31"},
    {"name_control", "tensor_set_name: name has a control character (0x0a at byte 1)"},
    {"name_freed", "tensor_set_name: the tensor was freed (tg_tensor_free)"},
    {"name_stale", "tensor_set_name: not a live tensor (freed, or stale)"},
    {"explain_format", "tape_set_explain: format 7 is none of TG_EXPLAIN_TEXT, _MARKDOWN, _JSON"},
    {"svg_width", "tape_write_svg: max_width 10 px is too small (0 or >= 64)"},
    {"dot_io", "tape_write_dot: write error"},
    {"json_io", "tape_write_json: write error"},
    {"svg_io", "tape_write_svg: write error"},
};

static const char *expected_message(const char *id)
{
    for (int i = 0; i < TG_ARRAY_LEN(k_messages); i++)
        if (strcmp(k_messages[i].id, id) == 0) return k_messages[i].msg;
    return NULL;
}

static const char *status_name(tg_status s)
{
    static const char *const names[TG_STATUS_COUNT] = {
        "TG_OK",        "TG_ERR_NULL",    "TG_ERR_SHAPE", "TG_ERR_DTYPE", "TG_ERR_EMPTY",
        "TG_ERR_AXIS",  "TG_ERR_TAPE",    "TG_ERR_NOMEM", "TG_ERR_ARG",   "TG_ERR_NOT_SCALAR",
        "TG_ERR_STATE", "TG_ERR_NUMERIC", "TG_ERR_IO"};
    return (int)s >= 0 && s < TG_STATUS_COUNT ? names[s] : "?";
}

/* ---- fixture ----------------------------------------------------------------- */
static fixture fx;

static void setup(void)
{
    fx.tp = tg_tape_new(NULL);
    fx.other = tg_tape_new(NULL);
    fx.a23 = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 2, 3, 4, 5, 6));
    fx.b4 = tt_rand(TG_F64, 1, TT_SHAPE(4), 2, -1, 1);
    fx.c21 = tt_rand(TG_F64, 2, TT_SHAPE(2, 1), 3, -1, 1);
    fx.f23 = tt_rand(TG_F32, 2, TT_SHAPE(2, 3), 4, -1, 1);
    tg_tensor_set_requires_grad(fx.f23, true);
    fx.e0 = tg_tensor_new(TG_F64, 2, TT_SHAPE(0, 3));
    fx.img = tt_rand(TG_F64, 4, TT_SHAPE(1, 2, 5, 5), 5, -1, 1);
    fx.w = tt_rand(TG_F64, 4, TT_SHAPE(3, 2, 3, 3), 6, -1, 1);
    fx.p = tt_param(2, TT_SHAPE(2, 3), 7, 0.5, 1);
    fx.s = tg_tensor_scalar(TG_F64, 2.0);
}

static void teardown(void)
{
    tg_set_allocator(NULL);
    tg_tape_free(fx.tp);
    tg_tape_free(fx.other);
    tg_tensor *ts[] = {fx.a23, fx.b4, fx.c21, fx.f23, fx.e0, fx.img, fx.w, fx.p, fx.s};
    for (int i = 0; i < TG_ARRAY_LEN(ts); i++) tg_tensor_free(ts[i]);
    unlink(k_st_path);
    unlink(k_idx_path);
    unlink(k_loop_path);
}

/* Runs row i; returns the message it produced (static storage). */
static const char *run_row(const row *r, tg_status *st)
{
    static char msg[600];
    *st = r->run(&fx);
    snprintf(msg, sizeof msg, "%s",
             r->where == LAST_ERROR ? tg_last_error()
             : r->where == WARNING  ? g_warning
                                    : tg_tape_error(fx.tp));
    return msg;
}

START_TEST(test_row)
{
    const row *r = &k_rows[_i];
    const char *want = expected_message(r->id);
    ck_assert_msg(want != NULL, "row %s has no expected message", r->id);
    tg_status st;
    const char *msg = run_row(r, &st);
    ck_assert_msg(st == r->st, "%s: status %s, expected %s (%s)", r->id, status_name(st),
                  status_name(r->st), msg);
    ck_assert_msg(strcmp(msg, want) == 0, "%s: message\n  '%s'\nexpected\n  '%s'", r->id, msg,
                  want);
    if (r->where == LAST_ERROR) ck_assert_int_eq(tg_last_status(), r->st);
    if (r->where == ON_TAPE) {
        /* sticky, and reset clears it */
        ck_assert_int_eq(tg_tape_status(fx.tp), r->st);
        ck_assert_ptr_null(tg_exp(fx.tp, fx.a23));
        ck_assert_int_eq(tg_tape_status(fx.tp), r->st);
        ck_assert_str_eq(tg_tape_error(fx.tp), want);
        tg_tape_reset(fx.tp);
        ck_assert_int_eq(tg_tape_status(fx.tp), TG_OK);
        ck_assert_ptr_nonnull(tg_exp(fx.tp, fx.a23));
    }
}
END_TEST

/* Every status code has at least one row, and every row is in the document. */
START_TEST(test_every_status_has_a_row)
{
    for (int s = 1; s < TG_STATUS_COUNT; s++) {
        bool found = false;
        for (int i = 0; i < TG_ARRAY_LEN(k_rows); i++)
            found = found || k_rows[i].st == (tg_status)s;
        ck_assert_msg(found, "no catalogue row for %s", status_name((tg_status)s));
    }
    ck_assert_int_eq(TG_ARRAY_LEN(k_rows), TG_ARRAY_LEN(k_messages));
}
END_TEST

static char *read_doc(void)
{
    /* __FILE__ is this source's path as the compiler saw it (relative to the
     * build directory, where meson runs tests, or absolute) */
    char path[1024];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(path, sizeof path, ".");
    strncat(path, "/../docs/errors.md", sizeof path - strlen(path) - 1);
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s (run from the build directory)", path);
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

START_TEST(test_document_matches)
{
    char *doc = read_doc();
    for (int i = 0; i < TG_ARRAY_LEN(k_messages); i++) {
        char cell[700];
        snprintf(cell, sizeof cell, "`%s`", k_messages[i].msg);
        ck_assert_msg(strstr(doc, cell) != NULL, "docs/errors.md lacks the message of %s: %s",
                      k_messages[i].id, cell);
        snprintf(cell, sizeof cell, "`%s`", k_messages[i].id);
        ck_assert_msg(strstr(doc, cell) != NULL, "docs/errors.md lacks row %s", k_messages[i].id);
    }
    free(doc);
}
END_TEST

/* --dump: "id<TAB>message" per row (to fill k_messages); --markdown: the
 * table of docs/errors.md. */
static int print_rows(bool markdown)
{
    /* markdown: grouped by area, areas in order of first appearance */
    bool done[TG_ARRAY_LEN(k_rows)] = {0};
    for (int a = 0; a < TG_ARRAY_LEN(k_rows); a++) {
        if (done[a]) continue;
        const char *area = k_rows[a].area;
        if (markdown)
            printf("\n### %s\n\n| status | trigger | message | test |\n|---|---|---|---|\n", area);
        for (int i = a; i < TG_ARRAY_LEN(k_rows); i++) {
            const row *r = &k_rows[i];
            if (done[i] || (markdown && strcmp(r->area, area) != 0)) continue;
            done[i] = true;
            setup();
            tg_status st;
            const char *msg = run_row(r, &st);
            if (markdown)
                printf("| `%s` | %s | `%s` | `%s` |\n",
                       r->where == WARNING ? "warning" : status_name(r->st), r->trigger, msg,
                       r->id);
            else
                printf("%s\t%s\t%s\n", r->id, status_name(st), msg);
            teardown();
            fflush(stdout);
        }
    }
    return 0;
}

static bool g_markdown;
START_TEST(test_print)
{
    print_rows(g_markdown);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--dump") == 0 || strcmp(argv[1], "--markdown") == 0)) {
        /* inside a Check test (ck_assert needs one), without forking */
        g_markdown = strcmp(argv[1], "--markdown") == 0;
        Suite *s = suite_create("print");
        TCase *tc = tcase_create("print");
        tcase_add_test(tc, test_print);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_set_fork_status(sr, CK_NOFORK);
        srunner_run_all(sr, CK_SILENT);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
    }
    Suite *s = suite_create("errors_catalogue");
    TCase *tc = tcase_create("catalogue");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_row, 0, TG_ARRAY_LEN(k_rows));
    tcase_add_test(tc, test_every_status_has_a_row);
    tcase_add_test(tc, test_document_matches);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
