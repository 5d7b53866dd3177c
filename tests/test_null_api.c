/* NULL in every pointer parameter of the public API (issue 18, item 11).
 *
 * Every public function declared in the public headers (include/tapegrad.h
 * and each header in include/tapegrad) is called with NULL in each pointer
 * parameter in turn, the other arguments valid (null_api_cases.h), and must
 * not crash: it reports the failure through its return value (NULL, a
 * status, a sentinel) and writes a message naming the function and the
 * parameter, exactly as listed, where the user reads it:
 *
 *   TAPE   the tape's sticky error (an op or a call on a valid tape),
 *   LAST   tg_last_error() (calls without a usable tape),
 *   NTAPE  a NULL tape given to an op (or to tg_tape_check_inputs, their
 *          common input check): reported in tg_last_error() by that check
 *          (issue 18, item 19).  The NULL return is always checked, the
 *          message once the library reports a NULL tape there at all (see
 *          g_ntape_reported); from then on every op must,
 *   DOC    NULL has a documented meaning (include/tapegrad.h lists them),
 *          which is checked, and no error is reported.
 *
 * Each case is a test case of its own, named after the call
 * ("tg_rng_next(r=NULL)"), so a crash fails that case and names it instead
 * of taking the suite down.  Another test reads the headers (the source
 * root comes from TG_SOURCE_ROOT, as tests/meson.build sets it) and fails
 * listing every public function, and every pointer parameter, without a
 * case, so a function added later cannot skip the sweep.
 *
 * `test_null_api --dump` also prints what each case returned and reported:
 * for reviewing messages. */
#include "common.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/core/internal.h" /* tg__set_last: a sentinel last error */

typedef enum { TAPE, LAST, NTAPE, DOC } kind;
static const char *const k_kind_names[] = {"TAPE", "LAST", "NTAPE", "DOC"};

typedef struct ncase {
    const char *fn;
    const char *param; /* "a", or "xs[1]" for an element of an array parameter */
    const char *variant;
    kind kind;
    tg_status st;
    const char *msg;
    bool (*run)(void);
} ncase;

/* ---- fixture ------------------------------------------------------------- */
static struct {
    tg_tape *tp;
    tg_tensor *a, *b, *m, *p, *s, *img, *w, *bias, *lw, *lb, *oh, *cols, *scratch, *loss;
    tg_tensor *lab;   /* TG_I64 labels (0, 2) for A's two rows */
    tg_tensor *bn_rv; /* a running variance (3) for batch_norm */
    tg_tensor *ab[2], *a_null[2], *outs[1];
    tg_rng rng;
    FILE *out;
    double buf[64], a_vals[6], lw_vals[12];
    bool flag;
    tg_compare_report rep, reps[2];
    tg_delta_entry dent[1];
    tg_delta_result dres[1];
    tg_replay_report replay;
    tg_node_memory mem;
    tg_named_tensors named;
    tg_tensor *batch_x;
    const int32_t *batch_y;
    int64_t count;
    char text[512];
} F;

#define TP   F.tp
#define A    F.a
#define B    F.b
#define M    F.m
#define P    F.p
#define S    F.s
#define IMG  F.img
#define W    F.w
#define BIAS F.bias
#define LW   F.lw
#define LB   F.lb
#define OH   F.oh
#define COLS F.cols
#define RNG  (&F.rng)
#define OUT  F.out

static const double k_six[6] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
static const int64_t k_s23[] = {2, 3}, k_s3[] = {3}, k_s32[] = {3, 2}, k_s43[] = {4, 3},
                     k_s223[] = {2, 2, 3}, k_idx11[] = {1, 1}, k_img[4] = {1, 2, 5, 5};
static const int k_axis1[] = {1}, k_perm10[] = {1, 0};
static const int32_t k_labels[] = {0, 2};
static tg_tensor *const k_null1[1] = {NULL};
static const char *const k_names[1] = {"w"};
static const char *const k_null_name[1] = {NULL};
static const char *const k_st_path = "tg_null_api.safetensors";
static const char *const k_idx_path = "tg_null_api.idx";
static const char *const k_sentinel = "(the last error before the call)";

static void setup(void)
{
    memset(&F, 0, sizeof F);
    F.tp = tg_tape_new(NULL);
    ck_assert_ptr_nonnull(F.tp);
    F.a = tt_from(TG_F64, 2, k_s23, k_six);
    F.b = tt_rand(TG_F64, 2, k_s23, 2, 0.1, 0.9);
    F.m = tt_rand(TG_F64, 2, k_s32, 3, -1, 1);
    F.p = tt_param(2, k_s23, 4, 0.5, 1);
    F.s = tg_tensor_scalar(TG_F64, 2.0);
    F.img = tt_rand(TG_F64, 4, k_img, 5, -1, 1);
    F.w = tt_rand(TG_F64, 4, TT_SHAPE(3, 2, 3, 3), 6, -1, 1);
    F.bias = tt_rand(TG_F64, 1, TT_SHAPE(3), 7, -1, 1);
    F.lw = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 8, -1, 1);
    F.lb = tt_rand(TG_F64, 1, TT_SHAPE(4), 9, -1, 1);
    F.oh = tt_from(TG_F64, 2, k_s23, TT_VALUES(1, 0, 0, 0, 0, 1));
    F.cols = tt_rand(TG_F64, 2, TT_SHAPE(18, 9), 10, -1, 1);
    F.lab = tg_tensor_from(TG_I64, 1, TT_SHAPE(2), (const int64_t[]){0, 2});
    F.bn_rv = tg_tensor_ones(TG_F64, 1, TT_SHAPE(3));
    F.scratch = tg_tape_alloc(F.tp, TG_F64, 2, k_s23);
    ck_assert_ptr_nonnull(F.scratch);
    F.ab[0] = F.a_null[0] = F.a;
    F.ab[1] = F.b;
    tg_rng_seed(&F.rng, 11);
    F.out = tmpfile();
    ck_assert_ptr_nonnull(F.out);
    memcpy(F.a_vals, tg_tensor_data(F.a), sizeof F.a_vals);
    memcpy(F.lw_vals, tg_tensor_data(F.lw), sizeof F.lw_vals);
}

static void teardown(void)
{
    tg_set_allocator(NULL);
    tg_replay_report_free(&F.replay);
    tg_named_tensors_free(&F.named);
    tg_tape_free(F.tp);
    tg_tensor *ts[] = {F.a,    F.b,  F.m,  F.p,  F.s,    F.img, F.w,
                       F.bias, F.lw, F.lb, F.oh, F.cols, F.lab, F.bn_rv};
    for (int i = 0; i < TG_ARRAY_LEN(ts); i++) tg_tensor_free(ts[i]);
    if (F.out) fclose(F.out);
    unlink(k_st_path);
    unlink(k_idx_path);
}

/* ---- helpers the cases call -------------------------------------------------- */
static bool a_untouched(void)
{
    return memcmp(tg_tensor_data(F.a), F.a_vals, sizeof F.a_vals) == 0;
}

static bool lw_untouched(void)
{
    return memcmp(tg_tensor_data(F.lw), F.lw_vals, sizeof F.lw_vals) == 0;
}

/* A one-element loss on the tape: sum(p * a), nodes 0 and 1. */
static tg_tensor *y_loss(void)
{
    if (!F.loss) F.loss = tg_sum_all(F.tp, tg_mul(F.tp, F.p, F.a));
    ck_assert_msg(F.loss != NULL, "y_loss: %s", tg_tape_error(F.tp));
    return F.loss;
}

/* What a temporary file received. */
static const char *file_text(FILE *f)
{
    static char text[4096];
    fflush(f);
    long n = ftell(f);
    rewind(f);
    size_t k = fread(text, 1, n > 0 && (size_t)n < sizeof text ? (size_t)n : sizeof text - 1, f);
    text[k] = '\0';
    return text;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static bool d_new_0d(tg_tensor *t)
{
    bool ok = t && tg_tensor_ndim(t) == 0 && tg_tensor_numel(t) == 1;
    tg_tensor_free(t);
    return ok;
}

static bool d_describe_null(void)
{
    char buf[16];
    return tg_tensor_describe(NULL, buf, sizeof buf) == buf && strcmp(buf, "NULL") == 0;
}

static bool d_print_no_name(void)
{
    tg_tensor_print(F.out, NULL, F.s, 0);
    return strncmp(file_text(F.out), "tensor f64[]", 12) == 0;
}

static bool d_print_null(void)
{
    tg_tensor_print(F.out, "a", NULL, 0);
    return strcmp(file_text(F.out), "a NULL\n") == 0;
}

static int g_counted;
static void *count_malloc(size_t n, void *c)
{
    (void)c;
    g_counted++;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n, void *c)
{
    (void)c;
    g_counted++;
    return realloc(p, n);
}
static void count_free(void *p, void *c)
{
    (void)c;
    free(p);
}

static bool d_allocator_null(void)
{
    tg_set_allocator(&(tg_allocator){count_malloc, count_realloc, count_free, NULL});
    tg_tensor *t = tg_tensor_new(TG_F64, 1, k_s3);
    tg_tensor_free(t);
    int counted = g_counted;
    tg_set_allocator(NULL);
    t = tg_tensor_new(TG_F64, 1, k_s3);
    tg_tensor_free(t);
    return counted > 0 && g_counted == counted && t != NULL;
}

static bool d_slow_kernels_null(void)
{
    char advice[256];
    bool slow = tg_gemm_slow_kernels(advice, sizeof advice);
    return tg_gemm_slow_kernels(NULL, sizeof advice) == slow;
}

static bool d_tape_new_null(void)
{
    tg_tape *tp = tg_tape_new(NULL);
    bool ok = tp && tg_tape_status(tp) == TG_OK && tg_neg(tp, F.a) != NULL;
    tg_tape_free(tp);
    return ok;
}

/* The query answered as documented, and the last error is still the one
 * set before the call. */
static bool d_keeps_last(bool answered)
{
    return answered && tg_last_status() == TG_ERR_IO && strcmp(tg_last_error(), k_sentinel) == 0;
}

static bool d_explain_off(void)
{
    FILE *e = tmpfile();
    ck_assert_ptr_nonnull(e);
    tg_tape_set_explain(F.tp, e, TG_EXPLAIN_TEXT, 4);
    tg_tape_set_explain(F.tp, NULL, TG_EXPLAIN_TEXT, 4);
    bool ok = tg_backward(F.tp, y_loss()) == TG_OK && file_text(e)[0] == '\0';
    fclose(e);
    return ok;
}

static bool d_backward_ex_no_opts(void)
{
    return tg_backward_ex(F.tp, y_loss(), NULL) == TG_OK && tg_tensor_grad(F.p) &&
           tg_compare(tg_tensor_grad(F.p), F.a, 0, 0, NULL);
}

static bool d_grad_ex_no_opts(void)
{
    tg_tensor *g = tg_grad_ex(F.tp, y_loss(), F.p, NULL);
    return g && tg_compare(g, F.a, 0, 0, NULL);
}

static bool d_vjp_ex_no_opts(void)
{
    return tg_vjp_ex(F.tp, y_loss(), 1, &F.p, F.outs, NULL) == TG_OK &&
           tg_compare(F.outs[0], F.a, 0, 0, NULL);
}

static bool d_vjp_no_seed(void)
{
    return tg_vjp(F.tp, y_loss(), NULL, 1, &F.p, F.outs, false) == TG_OK &&
           tg_compare(F.outs[0], F.a, 0, 0, NULL);
}

/* tg_checkpoint's ctx is passed to fn as it is: NULL reaches the segment. */
static tg_tensor *seg_ctx_null(tg_tape *tp, int n, tg_tensor *const *in, void *ctx)
{
    return n == 1 && !ctx ? tg_exp(tp, in[0]) : NULL;
}
static bool d_ckpt_ctx(void)
{
    tg_tensor *y = tg_checkpoint(F.tp, seg_ctx_null, NULL, 1, &F.a);
    return y && tg_tape_status(F.tp) == TG_OK;
}

/* A custom op (the identity) whose rules call the sink with NULL. */
enum { PROBE_NONE, PROBE_SINK_BUFFER, PROBE_SINK_ADD };
static int g_probe;
static tg_status probe_backward(tg_tape *tp, const tg_node *n, tg_tensor *gout, tg_tensor **gin)
{
    (void)tp;
    (void)n;
    gin[0] = gout;
    return TG_OK;
}
static tg_status probe_direct(tg_tape *tp, const tg_node *n, const tg_tensor *gout,
                              tg_grad_sink *sink)
{
    (void)n;
    if (g_probe == PROBE_SINK_BUFFER) {
        F.flag = tg_grad_sink_buffer(sink, 0, NULL) == NULL;
        return tg_tape_status(tp);
    }
    if (g_probe == PROBE_SINK_ADD) {
        F.flag = tg_grad_sink_add(sink, 0, NULL) != TG_OK;
        return tg_tape_status(tp);
    }
    return tg_grad_sink_add(sink, 0, gout);
}
static const tg_op k_probe = {.name = "probe",
                              .arity = 1,
                              .backward = probe_backward,
                              .direct = probe_direct,
                              .scalar = NULL};

static tg_tensor *probe_op(tg_tape *tp, tg_tensor *x)
{
    if (!tg_tape_check_inputs(tp, "probe", 1, &x)) return NULL;
    tg_tensor *y = tg_tape_alloc(tp, tg_tensor_dtype(x), tg_tensor_ndim(x), tg_tensor_shape(x));
    if (!y) return NULL;
    tg_tensor_copy(y, x);
    return tg_tape_record(tp, &k_probe, 1, &x, y, NULL, 0, 0, NULL);
}

/* Runs backward through the probe op with the given probe: true when the
 * call under test reported the failure and backward failed with it. */
static bool d_in_rule(int probe)
{
    tg_tensor *y = tg_sum_all(F.tp, probe_op(F.tp, F.p));
    ck_assert_msg(y != NULL, "%s", tg_tape_error(F.tp));
    g_probe = probe;
    tg_status st = tg_backward(F.tp, y);
    g_probe = PROBE_NONE;
    return F.flag && st != TG_OK;
}

static bool d_record(const tg_op *op, int n_in, tg_tensor *const *in, bool with_out,
                     const void *saved, size_t saved_size, int n_aux, tg_tensor *const *aux)
{
    tg_tensor *out = with_out ? tg_tape_alloc(F.tp, TG_F64, 2, k_s23) : NULL;
    ck_assert(!with_out || out);
    return !tg_tape_record(F.tp, op, n_in, in, out, saved, saved_size, n_aux, aux);
}

static bool d_record_ok(const void *saved, size_t saved_size, int n_aux, tg_tensor *const *aux)
{
    tg_tensor *out = tg_tape_alloc(F.tp, TG_F64, 2, k_s23);
    tg_tensor_copy(out, F.a);
    return tg_tape_record(F.tp, &k_probe, 1, &F.a, out, saved, saved_size, n_aux, aux) == out;
}

static bool d_fail_null_tape(void)
{
    tg_tape_fail(NULL, TG_ERR_ARG, "probe failed: %d", 1);
    return true;
}

static bool d_fail_null_fmt(void)
{
    const char *volatile fmt = NULL; /* not a literal: the format check stays quiet */
    tg_tape_fail(F.tp, TG_ERR_SHAPE, fmt, 1);
    return tg_tape_status(F.tp) == TG_ERR_SHAPE;
}

static bool d_permute_0d(void)
{
    tg_tensor *s = tg_tensor_scalar(TG_F64, 2.5);
    tg_tensor *y = tg_permute_dims(F.tp, s, 0, NULL);
    bool ok = y && tg_tensor_ndim(y) == 0 && tg_tensor_get_flat(y, 0) == 2.5;
    tg_tensor_free(s);
    return ok;
}

static bool d_conv_no_bias(void)
{
    tg_tensor *y = tg_conv2d(F.tp, F.img, F.w, NULL, 1, 1, 0, 0);
    tt_assert_shape(y, 4, TT_SHAPE(1, 3, 3, 3));
    return true;
}

/* A normalisation of A (2,3) (op 0 layer_norm, 1 batch_norm in training
 * mode, 2 group_norm with 3 groups) with weight (which 0) or bias (1) NULL:
 * the same as with a weight of ones or a bias of zeros. */
static tg_tensor *norm_of(int op, tg_tensor *w, tg_tensor *b)
{
    return op == 0   ? tg_layer_norm(F.tp, F.a, 1, w, b, 1e-5)
           : op == 1 ? tg_batch_norm(F.tp, F.a, w, b, NULL, NULL, true, 0.1, 1e-5)
                     : tg_group_norm(F.tp, F.a, 3, w, b, 1e-5);
}
static bool d_norm_no_affine(int op, int which)
{
    tg_tensor *one = tg_tensor_ones(TG_F64, 1, TT_SHAPE(3));
    tg_tensor *zero = tg_tensor_zeros(TG_F64, 1, TT_SHAPE(3));
    tg_tensor *y = which ? norm_of(op, F.bias, NULL) : norm_of(op, NULL, F.bias);
    tg_tensor *z = which ? norm_of(op, F.bias, zero) : norm_of(op, one, F.bias);
    const bool ok = y && z && tg_compare(y, z, 0, 0, NULL);
    tg_tensor_free(one);
    tg_tensor_free(zero);
    return ok;
}

/* batch_norm in training mode with one running statistic NULL: the other
 * is updated, the output is the same. */
static bool d_bn_no_running(int which)
{
    tg_tensor *t = tg_tensor_ones(TG_F64, 1, TT_SHAPE(3));
    tg_tensor *y =
        tg_batch_norm(F.tp, F.a, NULL, NULL, which ? t : NULL, which ? NULL : t, true, 0.5, 1e-5);
    tg_tensor *z = tg_batch_norm(F.tp, F.a, NULL, NULL, NULL, NULL, true, 0.5, 1e-5);
    const bool ok = y && z && tg_compare(y, z, 0, 0, NULL) && tg_tensor_get_flat(t, 0) != 1.0;
    tg_tensor_free(t);
    return ok;
}

/* conv2d_ex without bias, and with NULL options: tg_conv2d's values */
static bool d_conv_ex_no_bias(void)
{
    tg_tensor *y = tg_conv2d_ex(F.tp, F.img, F.w, NULL, NULL);
    tg_tensor *z = tg_conv2d(F.tp, F.img, F.w, NULL, 1, 1, 0, 0);
    return y && z && tg_compare(y, z, 0, 0, NULL);
}

static bool d_conv_ex_default(void)
{
    tg_tensor *y = tg_conv2d_ex(F.tp, F.img, F.w, F.bias, NULL);
    tg_tensor *z = tg_conv2d(F.tp, F.img, F.w, F.bias, 1, 1, 0, 0);
    return y && z && tg_compare(y, z, 0, 0, NULL);
}

/* conv1d of (1,2,25) by (3,2,9) without bias: (1,3,17) */
static bool d_conv1d_no_bias(void)
{
    tg_tensor *x = tg_reshape(F.tp, F.img, 3, TT_SHAPE(1, 2, 25));
    tg_tensor *w = tg_reshape(F.tp, F.w, 3, TT_SHAPE(3, 2, 9));
    tg_tensor *y = tg_conv1d(F.tp, x, w, NULL, 1, 0, 1, 1);
    tt_assert_shape(y, 3, TT_SHAPE(1, 3, 17));
    return true;
}

/* conv_transpose2d of (3,2,3,3) by w (3,2,3,3), no bias, NULL options:
 * (3,2,5,5) */
static bool d_conv_t_no_bias(void)
{
    tg_tensor *x = tg_reshape(F.tp, F.w, 4, TT_SHAPE(2, 3, 3, 3));
    tg_tensor *y = tg_conv_transpose2d(F.tp, x, F.w, NULL, NULL, 0, 0);
    tt_assert_shape(y, 4, TT_SHAPE(2, 2, 5, 5));
    return true;
}

static bool d_linear_no_bias(void)
{
    tg_tensor *y = tg_linear(F.tp, F.a, F.lw, NULL);
    tg_tensor *z = tg_matmul(F.tp, F.a, F.lw);
    return y && z && tg_compare(y, z, 0, 0, NULL);
}

static bool d_saved(void)
{
    return tg_safetensors_save(k_st_path, 1, k_names, &F.a) == TG_OK;
}

static bool d_idx_saved(void)
{
    const unsigned char b[] = {0, 0, 8, 1, 0, 0, 0, 2, 1, 2};
    FILE *fp = fopen(k_idx_path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(b, 1, sizeof b, fp), sizeof b);
    ck_assert_int_eq(fclose(fp), 0);
    return true;
}

/* The _ex loaders with NULL options load as the plain ones do. */
static bool d_idx_ex_defaults(void)
{
    tg_tensor *t = tg_idx_load_ex(k_idx_path, TG_F64, 1.0, NULL);
    bool ok = t && tg_tensor_numel(t) == 2 && tg_tensor_get_flat(t, 1) == 2.0;
    tg_tensor_free(t);
    return ok;
}

static bool d_idx_labels_ex_defaults(void)
{
    int64_t n = 0;
    int32_t *lab = tg_idx_load_labels_ex(k_idx_path, &n, NULL);
    bool ok = lab && n == 2 && lab[0] == 1 && lab[1] == 2;
    tg_idx_labels_free(lab);
    return ok;
}

static bool d_batches_no_labels(void)
{
    tg_batches *b = tg_batches_new(F.a, NULL, 1, false, false, 1);
    const int32_t *y = k_labels;
    bool ok = b && tg_batches_next(b, &F.batch_x, &y, &F.count) && F.batch_x && !y && F.count == 1;
    tg_batches_free(b);
    return ok;
}

/* tg_dist_init(NULL, NULL, NULL): MPI started without the command line,
 * the default options (a build without MPI: its documented error). */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LSAN_OFF() __lsan_disable() /* Open MPI keeps memory past MPI_Finalize */
#define LSAN_ON()  __lsan_enable()
#else
#define LSAN_OFF() ((void)0)
#define LSAN_ON()  ((void)0)
#endif
static bool d_dist_init_nulls(void)
{
    LSAN_OFF();
    tg_status st = tg_dist_init(NULL, NULL, NULL);
#if TG_HAVE_MPI
    bool ok =
        st == TG_OK && tg_dist_rank() == 0 && tg_dist_size() == 1 && tg_dist_finalize() == TG_OK;
    LSAN_ON();
    return ok;
#else
    LSAN_ON();
    /* Without MPI the call refuses whatever its arguments: the NULLs cannot
     * be told apart from that refusal, which is checked here; the last
     * error is then put back, since it is the refusal, not a NULL error. */
    const bool ok =
        st == TG_ERR_ARG && strcmp(tg_last_error(), "tg_dist_init: tapegrad was built "
                                                    "without MPI (meson option mpi)") == 0;
    tg__set_last(TG_ERR_IO, "%s", k_sentinel);
    return ok;
#endif
}

/* tg_batches_next with out-pointer `which` (0 x, 1 y, 2 n) NULL. */
static bool d_batches_next_out(int which)
{
    tg_batches *b = tg_batches_new(F.a, k_labels, 1, false, false, 1);
    ck_assert_ptr_nonnull(b);
    bool ok = tg_batches_next(b, which == 0 ? NULL : &F.batch_x, which == 1 ? NULL : &F.batch_y,
                              which == 2 ? NULL : &F.count);
    ok = ok && (which == 0 || F.batch_x) && (which == 1 || (F.batch_y && F.batch_y[0] == 0)) &&
         (which == 2 || F.count == 1);
    tg_batches_free(b);
    return ok;
}

static const tg_compare_report *d_report(void)
{
    tg_compare(F.a, F.b, 0, 0, &F.rep);
    return &F.rep;
}

static bool d_report_print_no_label(void)
{
    tg_compare_report_print(F.out, NULL, d_report());
    return strncmp(file_text(F.out), "compare: FAIL", 13) == 0;
}

static tg_tensor *fn_sum_sq(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_sum_all(tp, tg_mul(tp, in[0], in[0]));
}

/* fn_sum_sq, when ctx arrives as NULL. */
static tg_tensor *fn_ctx_null(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    return ctx ? NULL : fn_sum_sq(tp, in, ctx);
}

static bool d_gradcheck_ctx(void)
{
    return tg_gradcheck(fn_ctx_null, NULL, 1, &F.p, NULL, NULL) == TG_OK;
}

/* ---- the scalar tape: each call on a fresh tape holding x and y = x^2 ----- */
/* which: 0 y, 1 w, 2 x, 3 out NULL in tg_stape_vjp; 4 x, 5 out in tg_stape_gradient */
static bool s_sweep_null(int which)
{
    tg_stape *st = tg_stape_new();
    const tg_sv x = tg_stape_var(st, 1.5), y = tg_s_square(st, x);
    const double w = 1.0;
    double g = 0;
    tg_status s;
    if (which < 4)
        s = tg_stape_vjp(st, 1, which == 0 ? NULL : &y, which == 1 ? NULL : &w, 1,
                         which == 2 ? NULL : &x, which == 3 ? NULL : &g);
    else
        s = tg_stape_gradient(st, y, 1, which == 4 ? NULL : &x, which == 5 ? NULL : &g);
    const bool sticky = tg_stape_status(st) != TG_OK;
    tg_stape_free(st);
    return s == TG_ERR_NULL && !sticky;
}

static tg_sv s_square_fn(tg_stape *st, const tg_sv *x, void *ctx)
{
    return ctx ? TG_SV_NONE : tg_s_square(st, x[0]);
}

/* tg_stape_gradcheck with ctx NULL (f's to interpret) and max_err NULL (not
 * written): both fine. */
static bool d_stape_gradcheck(bool max_err_null)
{
    const double x0 = 0.7;
    double err = -1;
    const tg_status s =
        tg_stape_gradcheck(s_square_fn, NULL, 1, &x0, 1e-6, 1e-8, max_err_null ? NULL : &err);
    return s == TG_OK && (max_err_null || err >= 0);
}

/* One entry: the hand gradient d sum(p * a) / d p = a. */
static const tg_delta_entry *d_entries(void)
{
    F.dent[0] = (tg_delta_entry){F.p, F.a, "dp"};
    return F.dent;
}

static const tg_delta_result *d_results(void)
{
    ck_assert_int_eq(tg_delta_check(F.tp, y_loss(), 1, d_entries(), 1e-12, 1e-12, F.dres, NULL),
                     TG_OK);
    return F.dres;
}

static const tg_replay_report *d_replay(void)
{
    ck_assert_int_eq(tg_replay_f64(fn_sum_sq, NULL, 1, &F.p, 0, &F.replay), TG_OK);
    return &F.replay;
}

static bool d_format_measure(void)
{
    const tg_compare_report *r = d_report();
    size_t need = tg_compare_report_format(NULL, sizeof F.text, "a", r);
    return need > 0 && need == tg_compare_report_format(F.text, sizeof F.text, "a", r) &&
           need == strlen(F.text);
}

static bool d_format_no_label(void)
{
    tg_compare_report_format(F.text, sizeof F.text, NULL, d_report());
    return strncmp(F.text, "compare: FAIL", 13) == 0;
}

static bool d_delta_format_measure(void)
{
    const tg_delta_result *r = d_results();
    size_t need = tg_delta_report_format(NULL, sizeof F.text, 1, d_entries(), r);
    return need > 0 && need == tg_delta_report_format(F.text, sizeof F.text, 1, d_entries(), r) &&
           need == strlen(F.text);
}

/* ---- the cases ----------------------------------------------------------------- */
#define CASE(fn, p, v, k, st, msg, ...)                                                            \
    static bool run_##fn##_##p##_##v(void)                                                         \
    {                                                                                              \
        return (__VA_ARGS__);                                                                      \
    }
#define ECASE(fn, p, i, k, st, msg, ...)                                                           \
    static bool run_##fn##_##p##_e##i(void)                                                        \
    {                                                                                              \
        return (__VA_ARGS__);                                                                      \
    }
/* every public function is called, the deprecated ones too */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
/* a deprecated function's case: its call compiled with the warning off */
#define DCASE(fn, p, v, k, st, msg, ...)                                                           \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wdeprecated-declarations\"") \
        CASE(fn, p, v, k, st, msg, __VA_ARGS__) _Pragma("GCC diagnostic pop")
#include "null_api_cases.h"
#pragma GCC diagnostic pop
#undef CASE
#undef ECASE
#undef DCASE

#define CASE(fn, p, v, k, st, msg, ...) {#fn, #p, #v, k, st, msg, run_##fn##_##p##_##v},
#define DCASE                           CASE
#define ECASE(fn, p, i, k, st, msg, ...)                                                           \
    {#fn, #p "[" #i "]", "", k, st, msg, run_##fn##_##p##_e##i},
static const ncase k_cases[] = {
#include "null_api_cases.h"
};
#undef CASE
#undef ECASE
#undef DCASE

/* Public functions without a pointer parameter: nothing to sweep (the
 * coverage test checks that they have none). */
static const char *const k_no_pointers[] = {
    "tg_strerror",        "tg_last_status",     "tg_last_error",    "tg_dtype_size",
    "tg_dtype_name",      "tg_tensor_arange",   "tg_tensor_scalar", "tg_delta_verdict_name",
    "tg_stape_new",       "tg_dist_finalize",   "tg_dist_rank",     "tg_dist_size",
    "tg_set_num_threads", "tg_get_num_threads", "tg_have_openmp",
};

/* Header-only helpers behind the tg_ck_assert macros (check_asserts.h):
 * internal (the double underscore), called only by the macros, which pass
 * their own message buffer and the user's arguments on to the functions
 * swept here. */
static bool internal_name(const char *name)
{
    return strncmp(name, "tg_ck__", 7) == 0;
}

/* Whether a NULL tape given to an op is reported in tg_last_error() by the
 * common input check (issue 18, item 19); measured once in main. */
static bool g_ntape_reported;

/* --dump: each case prints what it returned and reported. */
static bool g_dump;

static const char *case_title(const ncase *c, char *buf, size_t n)
{
    snprintf(buf, n, "%s(%s=NULL%s%s)", c->fn, c->param, c->variant[0] ? ", " : "", c->variant);
    return buf;
}

START_TEST(test_case)
{
    const ncase *c = &k_cases[_i];
    char title[160];
    case_title(c, title, sizeof title);
    tg__set_last(TG_ERR_IO, "%s", k_sentinel);
    bool reported = c->run();
    if (g_dump)
        printf("%-5s %-56s %s tape %d '%s' last %d '%s'\n", k_kind_names[c->kind], title,
               reported ? "reported" : "SILENT", tg_tape_status(F.tp), tg_tape_error(F.tp),
               tg_last_status(), tg_last_error());
    switch (c->kind) {
    case TAPE:
        ck_assert_msg(reported, "%s: the return value does not report the failure", title);
        ck_assert_msg(tg_tape_status(F.tp) == c->st && strcmp(tg_tape_error(F.tp), c->msg) == 0,
                      "%s: tape error %d '%s', expected %d '%s'", title, tg_tape_status(F.tp),
                      tg_tape_error(F.tp), c->st, c->msg);
        break;
    case LAST:
    case NTAPE:
        ck_assert_msg(reported, "%s: the return value does not report the failure", title);
        if (c->kind == LAST || g_ntape_reported)
            ck_assert_msg(tg_last_status() == c->st && strcmp(tg_last_error(), c->msg) == 0,
                          "%s: last error %d '%s', expected %d '%s'", title, tg_last_status(),
                          tg_last_error(), c->st, c->msg);
        ck_assert_msg(tg_tape_status(F.tp) == TG_OK, "%s: the fixture's tape is in error: %s",
                      title, tg_tape_error(F.tp));
        break;
    case DOC:
        ck_assert_msg(reported, "%s: the documented meaning (%s) does not hold", title, c->msg);
        ck_assert_msg(tg_last_status() == TG_OK || strcmp(tg_last_error(), k_sentinel) == 0,
                      "%s: documented meaning, yet an error: %s", title, tg_last_error());
        ck_assert_msg(tg_tape_status(F.tp) == TG_OK, "%s: documented meaning, yet a tape error: %s",
                      title, tg_tape_error(F.tp));
        break;
    }
}
END_TEST

/* ---- coverage: the declarations in the headers ------------------------------- */
#define MAX_DECLS 400
#define MAX_PTRS  12
typedef struct decl {
    char name[64];
    char file[64];
    int nptr;
    char ptr[MAX_PTRS][32];
    bool deprecated; /* an old name kept after a rename: it forwards to a swept one */
} decl;

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    char *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    size_t k = fread(b, 1, (size_t)n, fp);
    b[k] = '\0';
    fclose(fp);
    return b;
}

/* Blanks comments, string and character literals, preprocessor lines (with
 * their continuations) and the C++ guards (#ifdef __cplusplus ... #endif),
 * keeping the newlines: what is left is declarations and definitions. */
static void strip(char *s)
{
    bool line_start = true;
    int cpp_skip = 0; /* inside #ifdef __cplusplus: nesting depth */
    for (char *p = s; *p;) {
        if (line_start) {
            char *q = p;
            while (*q == ' ' || *q == '\t') q++;
            if (*q == '#') {
                bool is_cpp = strncmp(q, "#ifdef __cplusplus", 18) == 0;
                bool is_if = strncmp(q, "#if", 3) == 0, is_endif = strncmp(q, "#endif", 6) == 0;
                if (cpp_skip)
                    cpp_skip += is_if ? 1 : is_endif ? -1 : 0;
                else if (is_cpp)
                    cpp_skip = 1;
                for (; *p && *p != '\n'; p++) {
                    if (*p == '\\' && p[1] == '\n') *p++ = ' ';
                    *p = ' ';
                }
                if (*p) p++;
                continue;
            }
            if (cpp_skip) {
                for (; *p && *p != '\n'; p++) *p = ' ';
                if (*p) p++;
                continue;
            }
        }
        line_start = *p == '\n';
        if (p[0] == '/' && p[1] == '*') {
            char *e = strstr(p + 2, "*/");
            char *end = e ? e + 2 : p + strlen(p);
            for (; p < end; p++)
                if (*p != '\n') *p = ' ';
        } else if (p[0] == '/' && p[1] == '/') {
            for (; *p && *p != '\n'; p++) *p = ' ';
        } else if (*p == '"' || *p == '\'') {
            char q = *p;
            *p++ = ' ';
            for (; *p && *p != q; p++) {
                if (*p == '\\' && p[1]) *p++ = ' ';
                *p = ' ';
            }
            if (*p) *p++ = ' ';
        } else {
            p++;
        }
    }
}

static bool ident_char(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Function-pointer typedefs seen so far ("tg_fn"): a parameter of such a
 * type is a pointer slot too. */
static char g_fnptr[16][32];
static int g_nfnptr;

static bool is_pointer_param(const char *p)
{
    if (strchr(p, '*') || strchr(p, '[')) return true;
    for (int i = 0; i < g_nfnptr; i++) {
        size_t l = strlen(g_fnptr[i]);
        const char *q = p;
        while (*q == ' ' || *q == '\t' || *q == '\n') q++;
        if (strncmp(q, "const ", 6) == 0) q += 6;
        if (strncmp(q, g_fnptr[i], l) == 0 && !ident_char(q[l])) return true;
    }
    return false;
}

/* The parameter's name: the last identifier before any '['. */
static void param_name(const char *p, char *out, size_t n)
{
    const char *end = strchr(p, '[');
    if (!end) end = p + strlen(p);
    while (end > p && !ident_char(end[-1])) end--;
    const char *b = end;
    while (b > p && ident_char(b[-1])) b--;
    snprintf(out, n, "%.*s", (int)(end - b), b);
}

/* Adds every function declared or defined at file scope in s. */
static void parse_decls(char *s, const char *file, decl *d, int *nd)
{
    strip(s);
    for (char *f = strstr(s, "(*"); f; f = strstr(f + 2, "(*")) {
        char *r = f + 2;
        while (*r == ' ') r++;
        char *t = r;
        while (ident_char(*t)) t++;
        if (strncmp(r, "tg_", 3) == 0 && *t == ')' && g_nfnptr < 16)
            snprintf(g_fnptr[g_nfnptr++], 32, "%.*s", (int)(t - r), r);
    }
    int brace = 0, paren = 0;
    for (char *p = s; *p; p++) {
        if (*p == '{') brace++;
        if (*p == '}') brace--;
        if (*p == '(') paren++;
        if (*p == ')') paren--;
        if (brace || paren || strncmp(p, "tg_", 3) != 0 || (p > s && ident_char(p[-1]))) continue;
        char *e = p;
        while (ident_char(*e)) e++;
        char *q = e;
        while (*q == ' ' || *q == '\t' || *q == '\n') q++;
        if (*q != '(') {
            p = e - 1;
            continue;
        }
        char *r = q + 1;
        while (*r == ' ' || *r == '\n') r++;
        if (*r == '*') { /* "tg_status (*tg_backward_fn)(...)": a typedef, seen above */
            p = e - 1;
            continue;
        }
        ck_assert_int_lt(*nd, MAX_DECLS);
        decl *x = &d[(*nd)++];
        memset(x, 0, sizeof *x);
        snprintf(x->name, sizeof x->name, "%.*s", (int)(e - p), p);
        snprintf(x->file, sizeof x->file, "%s", file);
        /* TG_DEPRECATED("...") between the previous declaration and this one */
        char *b = p;
        while (b > s && b[-1] != ';' && b[-1] != '}') b--;
        const char *m = strstr(b, "TG_DEPRECATED");
        x->deprecated = m && m < p;
        /* the parameters: split at commas outside nested parentheses */
        int depth = 0;
        char *start = q + 1;
        for (r = q + 1;; r++) {
            if (*r == '(' || *r == '[') depth++;
            if ((*r == ')' || *r == ']') && depth) {
                depth--;
                continue;
            }
            if (!*r || (depth == 0 && (*r == ',' || *r == ')'))) {
                char param[256];
                snprintf(param, sizeof param, "%.*s", (int)(r - start), start);
                if (is_pointer_param(param)) {
                    ck_assert_int_lt(x->nptr, MAX_PTRS);
                    param_name(param, x->ptr[x->nptr], sizeof x->ptr[0]);
                    x->nptr++;
                }
                start = r + 1;
                if (!*r || *r == ')') break;
            }
        }
        p = r; /* the closing parenthesis: paren stays balanced */
        if (!*p) break;
    }
}

static int read_decls(const char *root, decl *d)
{
    int nd = 0;
    char path[1024];
    snprintf(path, sizeof path, "%s/include/tapegrad.h", root);
    char *s = slurp(path);
    ck_assert_msg(s != NULL, "cannot read %s", path);
    parse_decls(s, "tapegrad.h", d, &nd);
    free(s);
    snprintf(path, sizeof path, "%s/include/tapegrad", root);
    DIR *dir = opendir(path);
    ck_assert_msg(dir != NULL, "cannot open %s", path);
    /* twice: the function-pointer typedefs are known everywhere the second time */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) nd = 0;
        rewinddir(dir);
        for (struct dirent *e; (e = readdir(dir));) {
            size_t l = strlen(e->d_name);
            if (l < 3 || strcmp(e->d_name + l - 2, ".h") != 0) continue;
            snprintf(path, sizeof path, "%s/include/tapegrad/%s", root, e->d_name);
            s = slurp(path);
            ck_assert_msg(s != NULL, "cannot read %s", path);
            parse_decls(s, e->d_name, d, &nd);
            free(s);
        }
    }
    closedir(dir);
    return nd;
}

static const decl *find_decl(const decl *d, int nd, const char *name)
{
    for (int i = 0; i < nd; i++)
        if (strcmp(d[i].name, name) == 0) return &d[i];
    return NULL;
}

static bool has_case(const char *fn, const char *param)
{
    for (int i = 0; i < TG_ARRAY_LEN(k_cases); i++)
        if (strcmp(k_cases[i].fn, fn) == 0 && strcmp(k_cases[i].param, param) == 0) return true;
    return false;
}

START_TEST(test_every_function_is_swept)
{
    const char *root = getenv("TG_SOURCE_ROOT");
    ck_assert_msg(root && *root, "TG_SOURCE_ROOT is not set (tests/meson.build sets it)");
    static decl d[MAX_DECLS];
    int nd = read_decls(root, d);
    static char missing[16384];
    size_t k = 0;
    missing[0] = '\0';
#define MISSING(...)                                                                               \
    do {                                                                                           \
        if (k < sizeof missing)                                                                    \
            k += (size_t)snprintf(missing + k, sizeof missing - k, __VA_ARGS__);                   \
    } while (0)
    int nfn = 0, nslots = 0;
    for (int i = 0; i < nd; i++) {
        if (internal_name(d[i].name) || d[i].deprecated) continue;
        nfn++;
        nslots += d[i].nptr;
        bool listed = false;
        for (int j = 0; j < TG_ARRAY_LEN(k_no_pointers); j++)
            listed = listed || strcmp(k_no_pointers[j], d[i].name) == 0;
        if (listed && d[i].nptr)
            MISSING("\n  %s (%s): listed as having no pointer parameter, but has %s", d[i].name,
                    d[i].file, d[i].ptr[0]);
        if (!listed && !d[i].nptr)
            MISSING("\n  %s (%s): no pointer parameter: add it to k_no_pointers", d[i].name,
                    d[i].file);
        for (int j = 0; j < d[i].nptr; j++)
            if (!has_case(d[i].name, d[i].ptr[j]))
                MISSING("\n  %s (%s): no case for %s = NULL", d[i].name, d[i].file, d[i].ptr[j]);
    }
    /* and nothing in the table that the headers do not declare */
    for (int i = 0; i < TG_ARRAY_LEN(k_cases); i++) {
        const ncase *c = &k_cases[i];
        const decl *x = find_decl(d, nd, c->fn);
        char p[32];
        snprintf(p, sizeof p, "%.*s", (int)strcspn(c->param, "["), c->param);
        bool found = false;
        for (int j = 0; x && j < x->nptr; j++) found = found || strcmp(x->ptr[j], p) == 0;
        if (!found) MISSING("\n  case %s(%s): no such pointer parameter declared", c->fn, c->param);
    }
    for (int j = 0; j < TG_ARRAY_LEN(k_no_pointers); j++)
        if (!find_decl(d, nd, k_no_pointers[j]))
            MISSING("\n  %s: in k_no_pointers but not declared", k_no_pointers[j]);
#undef MISSING
    ck_assert_msg(nfn > 150, "only %d public functions found in %s/include: the parser is broken",
                  nfn, root);
    ck_assert_msg(k == 0, "public functions not swept for NULL:%s", missing);
    printf("null_api: %d public functions, %d pointer parameters, %d cases\n", nfn, nslots,
           TG_ARRAY_LEN(k_cases));
}
END_TEST

/* ---- main ------------------------------------------------------------------------ */
static void probe_ntape(void)
{
    tg_tensor *x = tg_tensor_scalar(TG_F64, 1.0);
    tg__set_last(TG_ERR_IO, "%s", k_sentinel);
    g_ntape_reported = tg_neg(NULL, x) == NULL && tg_last_status() == TG_ERR_NULL &&
                       strcmp(tg_last_error(), "neg: tape is NULL") == 0;
    tg_tensor_free(x);
    if (!g_ntape_reported)
        printf("null_api: a NULL tape given to an op leaves no message yet (issue 18, item 19): "
               "NTAPE cases check the NULL return only\n");
}

int main(int argc, char **argv)
{
    probe_ntape();
    g_dump = argc > 1 && strcmp(argv[1], "--dump") == 0;
    static char titles[TG_ARRAY_LEN(k_cases)][160];
    Suite *s = suite_create("null_api");
    TCase *tc = tcase_create("coverage");
    tcase_add_test(tc, test_every_function_is_swept);
    suite_add_tcase(s, tc);
    for (int i = 0; i < TG_ARRAY_LEN(k_cases); i++) {
        tc = tcase_create(case_title(&k_cases[i], titles[i], sizeof titles[i]));
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_loop_test(tc, test_case, i, i + 1);
        suite_add_tcase(s, tc);
    }
    return tt_run(s);
}
