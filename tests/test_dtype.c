/* Issue 24, item 6: the data-only integer dtype TG_I64 and class labels as
 * a tensor (tg_softmax_cross_entropy_index).  An i64 tensor is created,
 * read, converted, printed, saved and loaded like any other; it has no
 * gradient, and no op lets it reach a float kernel. */
#include "common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const int64_t k_six[6] = {-3, 0, 1, 2, 4000000000, -9007199254740993};

START_TEST(test_i64_create_read_convert)
{
    ck_assert_uint_eq(tg_dtype_size(TG_I64), 8);
    ck_assert_str_eq(tg_dtype_name(TG_I64), "i64");
    tg_tensor *a = tg_tensor_from(TG_I64, 2, TT_SHAPE(2, 3), k_six);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(tg_tensor_dtype(a), TG_I64);
    char d[32];
    ck_assert_str_eq(tg_tensor_describe(a, d, sizeof d), "i64[2,3]");
    ck_assert_ptr_nonnull(tg_tensor_i64(a));
    ck_assert_ptr_null(tg_tensor_f64(a));
    ck_assert_ptr_null(tg_tensor_f32(a));
    ck_assert(tg_tensor_i64(a)[5] == -9007199254740993); /* every bit kept */
    ck_assert_double_eq(tg_tensor_get_flat(a, 4), 4e9);
    ck_assert_double_eq(tg_tensor_get(a, TT_SHAPE(0, 0)), -3);
    /* the other constructors */
    tg_tensor *z = tg_tensor_zeros(TG_I64, 1, TT_SHAPE(3));
    tg_tensor *o = tg_tensor_ones(TG_I64, 1, TT_SHAPE(3));
    tg_tensor *f = tg_tensor_full(TG_I64, 1, TT_SHAPE(3), -2.9); /* truncated toward 0 */
    tg_tensor *r = tg_tensor_arange(TG_I64, 0, 5, 2);
    tg_tensor *s = tg_tensor_scalar(TG_I64, 7);
    tg_tensor *g = tg_tensor_from_f64(TG_I64, 1, TT_SHAPE(3), TT_VALUES(1.5, -1.5, 1e15));
    ck_assert(z && o && f && r && s && g);
    for (int i = 0; i < 3; i++) {
        ck_assert(tg_tensor_i64(z)[i] == 0);
        ck_assert(tg_tensor_i64(o)[i] == 1);
        ck_assert(tg_tensor_i64(f)[i] == -2);
        ck_assert(tg_tensor_i64(r)[i] == 2 * i);
    }
    ck_assert(tg_tensor_i64(s)[0] == 7 && tg_tensor_ndim(s) == 0);
    ck_assert(tg_tensor_i64(g)[0] == 1 && tg_tensor_i64(g)[1] == -1 &&
              tg_tensor_i64(g)[2] == 1000000000000000);
    /* set, fill */
    tg_tensor_set_flat(z, 1, 42);
    ck_assert(tg_tensor_i64(z)[1] == 42);
    ck_assert_int_eq(tg_tensor_fill(o, 5), TG_OK);
    ck_assert(tg_tensor_i64(o)[2] == 5);
    /* copies: clone, cast to and from the float dtypes */
    tg_tensor *c = tg_tensor_clone(a);
    ck_assert(c && memcmp(tg_tensor_data(c), k_six, sizeof k_six) == 0);
    tg_tensor *a64 = tg_tensor_cast_new(a, TG_F64);
    ck_assert_double_eq(tg_tensor_get_flat(a64, 0), -3);
    ck_assert_double_eq(tg_tensor_get_flat(a64, 4), 4e9);
    tg_tensor *x = tt_from(TG_F32, 1, TT_SHAPE(3), TT_VALUES(2.75, -0.5, 3e9));
    tg_tensor *xi = tg_tensor_cast_new(x, TG_I64);
    ck_assert(xi && tg_tensor_i64(xi)[0] == 2 && tg_tensor_i64(xi)[1] == 0 &&
              tg_tensor_i64(xi)[2] == 3000000000);
    ck_assert_int_eq(tg_tensor_copy(x, z), TG_OK); /* i64 -> f32 */
    ck_assert_double_eq(tg_tensor_get_flat(x, 1), 42);
    double out[3];
    ck_assert_int_eq(tg_tensor_to_f64(r, out), TG_OK);
    ck_assert(out[0] == 0 && out[1] == 2 && out[2] == 4);
    /* printing shows every digit */
    FILE *fp = tmpfile();
    tg_tensor_print(fp, "a", a, 0);
    rewind(fp);
    char buf[256] = {0};
    ck_assert_uint_gt(fread(buf, 1, sizeof buf - 1, fp), 0);
    fclose(fp);
    ck_assert_str_eq(buf, "a i64[2,3] =\n    -3 0 1\n    2 4000000000 -9007199254740993\n");
    tg_tensor *all[] = {a, z, o, f, r, s, g, c, a64, x, xi};
    for (int i = 0; i < (int)(sizeof all / sizeof all[0]); i++) tg_tensor_free(all[i]);
}
END_TEST

/* A double that is not an int64 value is refused before any conversion
 * (converting it would be undefined behaviour), and nothing is written. */
START_TEST(test_i64_bad_values)
{
    tg_tensor *t = tg_tensor_from(TG_I64, 1, TT_SHAPE(3), (const int64_t[]){1, 2, 3});
    ck_assert_ptr_null(tg_tensor_full(TG_I64, 1, TT_SHAPE(2), NAN));
    ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(),
                     "tg_tensor_full: nan does not fit an i64 element (finite, in [-2^63, 2^63))");
    ck_assert_int_eq(tg_tensor_fill(t, 1e19), TG_ERR_ARG);
    ck_assert_str_eq(
        tg_last_error(),
        "tg_tensor_fill: 1e+19 does not fit an i64 element (finite, in [-2^63, 2^63))");
    tg_tensor_set_flat(t, 0, INFINITY);
    ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
    ck_assert_ptr_null(tg_tensor_from_f64(TG_I64, 1, TT_SHAPE(2), TT_VALUES(1, -1e300)));
    ck_assert_ptr_null(tg_tensor_arange(TG_I64, 0, 1e300, 1e299));
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(7, NAN, 9));
    ck_assert_int_eq(tg_tensor_copy(t, x), TG_ERR_ARG);
    ck_assert_ptr_null(tg_tensor_cast_new(x, TG_I64));
    ck_assert(tg_tensor_i64(t)[0] == 1 && tg_tensor_i64(t)[1] == 2 && tg_tensor_i64(t)[2] == 3);
    /* random fills are for the float dtypes */
    tg_rng r;
    tg_rng_seed(&r, 1);
    ck_assert_int_eq(tg_tensor_fill_uniform(t, &r, 0, 10), TG_ERR_DTYPE);
    ck_assert_str_eq(tg_last_error(), "tg_tensor_fill_uniform: i64[3] is an integer tensor; "
                                      "random fills are for f32 and f64");
    ck_assert_int_eq(tg_tensor_fill_normal(t, &r, 0, 1), TG_ERR_DTYPE);
    ck_assert_ptr_null(tg_tensor_rand(TG_I64, 1, TT_SHAPE(2), &r));
    ck_assert_ptr_null(tg_tensor_randn(TG_I64, 1, TT_SHAPE(2), &r));
    ck_assert(tg_tensor_i64(t)[0] == 1 && tg_tensor_i64(t)[2] == 3);
    tg_tensor_free(t);
    tg_tensor_free(x);
}
END_TEST

static tg_status bw_identity(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    (void)tp, (void)n;
    gin[0] = g;
    return TG_OK;
}
static const tg_op k_ident = {.name = "custom_ident", .arity = 1, .backward = bw_identity};

/* An i64 tensor has no gradient and never reaches an op: every op's
 * operand check (tg_tape_check_inputs) refuses it, naming the op and the
 * dtype, and the tape tensors, optimizers and initialisers refuse it too. */
START_TEST(test_i64_refused)
{
    tg_tensor *i = tg_tensor_from(TG_I64, 2, TT_SHAPE(2, 3), k_six);
    tg_tensor *f = tt_rand(TG_F64, 2, TT_SHAPE(2, 3), 1, -1, 1);
    tg_tensor *w = tt_rand(TG_F64, 2, TT_SHAPE(3, 2), 2, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    /* no gradient */
    ck_assert_int_eq(tg_tensor_set_requires_grad(i, true), TG_ERR_DTYPE);
    ck_assert_str_eq(tg_last_error(), "tg_tensor_set_requires_grad: i64[2,3] is an integer "
                                      "tensor; integers have no gradient");
    ck_assert(!tg_tensor_requires_grad(i));
    ck_assert_int_eq(tg_tensor_set_requires_grad(i, false), TG_OK);
    /* the ops */
    ck_assert_ptr_null(tg_exp(tp, i));
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_DTYPE);
    ck_assert_str_eq(tg_tape_error(tp), "exp: input 0 is i64[2,3]: an integer tensor is data "
                                        "only (the op takes f32 or f64) [node 0]");
    tg_tape_reset(tp);
#define REFUSED(call, name)                                                                        \
    do {                                                                                           \
        ck_assert_ptr_null(call);                                                                  \
        tt_assert_tape_error(tp, TG_ERR_DTYPE, name, "i64[");                                      \
        tg_tape_reset(tp);                                                                         \
    } while (0)
    REFUSED(tg_add(tp, f, i), "add: input 1");
    REFUSED(tg_mul_scalar(tp, i, 2.0), "mul_scalar");
    REFUSED(tg_relu(tp, i), "relu");
    REFUSED(tg_matmul(tp, i, w), "matmul");
    REFUSED(tg_sum_all(tp, i), "sum_all");
    REFUSED(tg_sum(tp, i, 1, (const int[]){0}, false), "sum");
    REFUSED(tg_reshape(tp, i, 1, TT_SHAPE(6)), "reshape");
    REFUSED(tg_softmax(tp, i, -1), "softmax");
    REFUSED(tg_concat(tp, 2, (tg_tensor *[]){f, i}, 0), "concat");
    REFUSED(tg_cast(tp, i, TG_F64), "cast");
    REFUSED(tg_mse(tp, f, i), "mse");
    REFUSED(tg_softmax_cross_entropy(tp, i, f, TG_REDUCE_SUM), "softmax_cross_entropy");
    REFUSED(tg_linear(tp, i, w, NULL), "linear");
    REFUSED(tg_tape_record(tp, &k_ident, 1, &i, tg_tape_alloc(tp, TG_F64, 2, TT_SHAPE(2, 3)), NULL,
                           0, 0, NULL),
            "custom_ident");
    /* gradients with respect to it, seeds of it */
    tg_tensor *y = tg_sum_all(tp, tg_exp(tp, f));
    REFUSED(tg_grad(tp, y, i, false), "grad");
    y = tg_sum_all(tp, f);
    ck_assert_int_eq(tg_backward_ex(tp, y, &(tg_backward_options){.seed = i}), TG_ERR_SHAPE);
    tg_tape_reset(tp);
    /* tape tensors are f32 or f64 */
    ck_assert_ptr_null(tg_tape_alloc(tp, TG_I64, 1, TT_SHAPE(2)));
    tt_assert_tape_error(tp, TG_ERR_DTYPE, "tg_tape_alloc: dtype i64 is data only");
    tg_tape_reset(tp);
#undef REFUSED
    /* optimizers and initialisers */
    ck_assert_ptr_null(tg_sgd_new(1, &i, 0.1, 0, 0));
    ck_assert_int_eq(tg_last_status(), TG_ERR_DTYPE);
    ck_assert_str_eq(tg_last_error(),
                     "sgd: parameter 0 is an i64 tensor; parameters are f32 or f64");
    ck_assert_ptr_null(tg_adam_new(1, &i, 0.1, 0.9, 0.999, 1e-8, 0));
    tg_rng r;
    tg_rng_seed(&r, 3);
    ck_assert_int_eq(tg_init_normal(i, &r, 0, 1), TG_ERR_DTYPE);
    ck_assert_int_eq(tg_init_uniform(i, &r, 0, 1), TG_ERR_DTYPE);
    ck_assert(memcmp(tg_tensor_data(i), k_six, sizeof k_six) == 0); /* untouched throughout */
    tg_tape_free(tp);
    tg_tensor_free(i);
    tg_tensor_free(f);
    tg_tensor_free(w);
}
END_TEST

/* safetensors "I64": saved, loaded bit for bit, loaded into an i64 tensor;
 * not converted to or from a float tensor. */
START_TEST(test_i64_safetensors)
{
    char path[64];
    snprintf(path, sizeof path, "tg_dtype_%d.safetensors", (int)getpid());
    tg_tensor *i = tg_tensor_from(TG_I64, 2, TT_SHAPE(2, 3), k_six);
    tg_tensor *f = tt_rand(TG_F32, 1, TT_SHAPE(4), 1, -1, 1);
    ck_assert_int_eq(tg_safetensors_save(path, 2, (const char *const[]){"labels", "w"},
                                         (tg_tensor *const[]){i, f}),
                     TG_OK);
    tg_named_tensors nt = {0};
    ck_assert_int_eq(tg_safetensors_load(path, &nt), TG_OK);
    ck_assert_int_eq(nt.n, 2);
    ck_assert_str_eq(nt.names[0], "labels");
    ck_assert_int_eq(tg_tensor_dtype(nt.tensors[0]), TG_I64);
    ck_assert(tg_tensor_same_shape(nt.tensors[0], i));
    ck_assert(memcmp(tg_tensor_data(nt.tensors[0]), k_six, sizeof k_six) == 0);
    ck_assert_int_eq(tg_tensor_dtype(nt.tensors[1]), TG_F32);
    tg_named_tensors_free(&nt);
    tg_tensor *into = tg_tensor_zeros(TG_I64, 2, TT_SHAPE(2, 3));
    ck_assert_int_eq(tg_safetensors_load_into(path, 1, (const char *const[]){"labels"}, &into),
                     TG_OK);
    ck_assert(memcmp(tg_tensor_data(into), k_six, sizeof k_six) == 0);
    tg_tensor *wrong = tg_tensor_zeros(TG_F64, 2, TT_SHAPE(2, 3));
    ck_assert_int_eq(tg_safetensors_load_into(path, 1, (const char *const[]){"labels"}, &wrong),
                     TG_ERR_DTYPE);
    char want[256];
    snprintf(want, sizeof want,
             "safetensors_load_into: %s: entry 'labels' has dtype I64, the tensor f64 (integer "
             "and floating-point data are not converted)",
             path);
    ck_assert_str_eq(tg_last_error(), want);
    ck_assert_double_eq(tg_tensor_get_flat(wrong, 0), 0);
    tg_tensor *wi = tg_tensor_zeros(TG_I64, 1, TT_SHAPE(4));
    ck_assert_int_eq(tg_safetensors_load_into(path, 1, (const char *const[]){"w"}, &wi),
                     TG_ERR_DTYPE);
    unlink(path);
    tg_tensor *all[] = {i, f, into, wrong, wi};
    for (int k = 0; k < (int)(sizeof all / sizeof all[0]); k++) tg_tensor_free(all[k]);
}
END_TEST

static double scalar(tg_tensor *t)
{
    ck_assert_ptr_nonnull(t);
    return tg_tensor_get_flat(t, 0);
}

/* The cross-entropy with class indices equals the one with one-hot targets,
 * bit for bit (it is built from them), in both dtypes and reductions, for
 * (N,C) logits with (N) labels and (C) logits with a 0-d label; its
 * gradient is softmax - onehot.  The labels are read when the op records:
 * freeing them before backward is fine. */
START_TEST(test_xent_index_values)
{
    const tg_dtype dt = _i ? TG_F32 : TG_F64;
    tg_tensor *z = tt_rand(dt, 2, TT_SHAPE(4, 5), 3, -3, 3);
    tg_tensor *zc = tg_tensor_clone(z);
    tg_tensor_set_requires_grad(z, true);
    tg_tensor *oh = tg_tensor_zeros(dt, 2, TT_SHAPE(4, 5));
    const int64_t lab[4] = {0, 4, 2, 2};
    for (int r = 0; r < 4; r++) tg_tensor_set_flat(oh, r * 5 + lab[r], 1);
    tg_tape *tp = tg_tape_new(NULL);
    for (int red = 0; red < 2; red++) {
        tg_tensor *l = tg_tensor_from(TG_I64, 1, TT_SHAPE(4), lab);
        tg_tensor *loss = tg_softmax_cross_entropy_index(tp, z, l, (tg_reduction)red);
        tg_tensor_free(l);
        ck_assert_double_eq(scalar(loss),
                            scalar(tg_softmax_cross_entropy(tp, zc, oh, (tg_reduction)red)));
        ck_assert_int_eq(tg_backward(tp, loss), TG_OK);
        /* d/dz = (softmax(z) - onehot) / (N for the mean) */
        tg_tensor *sm = tg_softmax(tp, zc, -1);
        for (int k = 0; k < 20; k++) {
            const double want =
                (tg_tensor_get_flat(sm, k) - tg_tensor_get_flat(oh, k)) / (red ? 4.0 : 1.0);
            ck_assert_double_eq_tol(tg_tensor_get_flat(tg_tensor_grad(z), k), want,
                                    dt == TG_F32 ? 1e-6 : 1e-15);
        }
        tg_tape_reset(tp);
    }
    /* one row: (C) logits, a 0-d label */
    tg_tensor *z1 = tt_from(dt, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    tg_tensor *l0 = tg_tensor_scalar(TG_I64, 2);
    const double hand = log(exp(1) + exp(2) + exp(3)) - 3;
    ck_assert_double_eq_tol(scalar(tg_softmax_cross_entropy_index(tp, z1, l0, TG_REDUCE_SUM)), hand,
                            dt == TG_F32 ? 1e-6 : 1e-15);
    /* an empty batch sums to 0 */
    tg_tensor *ze = tg_tensor_zeros(dt, 2, TT_SHAPE(0, 3));
    tg_tensor *le = tg_tensor_zeros(TG_I64, 1, TT_SHAPE(0));
    ck_assert_double_eq(scalar(tg_softmax_cross_entropy_index(tp, ze, le, TG_REDUCE_SUM)), 0.0);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    tg_tape_free(tp);
    tg_tensor *all[] = {z, zc, oh, z1, l0, ze, le};
    for (int k = 0; k < (int)(sizeof all / sizeof all[0]); k++) tg_tensor_free(all[k]);
}
END_TEST

START_TEST(test_xent_index_errors)
{
    tg_tensor *z = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 1, -1, 1);
    tg_tensor *z1 = tt_rand(TG_F64, 1, TT_SHAPE(4), 2, -1, 1);
    tg_tensor *bad = tg_tensor_from(TG_I64, 1, TT_SHAPE(3), (const int64_t[]){0, 4, 1});
    tg_tensor *neg = tg_tensor_from(TG_I64, 1, TT_SHAPE(3), (const int64_t[]){0, 1, -5});
    tg_tensor *huge = tg_tensor_from(TG_I64, 1, TT_SHAPE(3), (const int64_t[]){0, 1, INT64_MAX});
    tg_tensor *two = tg_tensor_from(TG_I64, 1, TT_SHAPE(2), (const int64_t[]){0, 1});
    tg_tensor *col = tg_tensor_zeros(TG_I64, 2, TT_SHAPE(3, 1));
    tg_tensor *fl = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(0, 1, 2));
    tg_tensor *nine = tg_tensor_scalar(TG_I64, 9);
    tg_tape *tp = tg_tape_new(NULL), *other = tg_tape_new(NULL);
#define XERR(labels, zz, st, msg)                                                                  \
    do {                                                                                           \
        ck_assert_ptr_null(tg_softmax_cross_entropy_index(tp, zz, labels, TG_REDUCE_SUM));         \
        ck_assert_int_eq(tg_tape_status(tp), st);                                                  \
        ck_assert_str_eq(tg_tape_error(tp), msg);                                                  \
        tg_tape_reset(tp);                                                                         \
    } while (0)
    XERR(bad, z, TG_ERR_ARG,
         "softmax_cross_entropy_index: label 4 at row 1 is out of range [0, 4) for logits z "
         "(3,4) [node 0]");
    XERR(neg, z, TG_ERR_ARG,
         "softmax_cross_entropy_index: label -5 at row 2 is out of range [0, 4) for logits z "
         "(3,4) [node 0]");
    XERR(huge, z, TG_ERR_ARG,
         "softmax_cross_entropy_index: label 9223372036854775807 at row 2 is out of range [0, 4) "
         "for logits z (3,4) [node 0]");
    XERR(nine, z1, TG_ERR_ARG,
         "softmax_cross_entropy_index: label 9 at row 0 is out of range [0, 4) for logits z (4) "
         "[node 0]");
    XERR(two, z, TG_ERR_SHAPE,
         "softmax_cross_entropy_index: labels (2) must have the shape of logits z (3,4) without "
         "its class axis, (3) [node 0]");
    XERR(col, z, TG_ERR_SHAPE,
         "softmax_cross_entropy_index: labels (3,1) must have the shape of logits z (3,4) "
         "without its class axis, (3) [node 0]");
    XERR(two, z1, TG_ERR_SHAPE,
         "softmax_cross_entropy_index: labels (2) must have the shape of logits z (4) without "
         "its class axis, () [node 0]");
    XERR(fl, z, TG_ERR_DTYPE,
         "softmax_cross_entropy_index: labels f64[3] must be i64 (class indices; for "
         "probabilities use tg_softmax_cross_entropy) [node 0]");
    XERR(NULL, z, TG_ERR_NULL, "softmax_cross_entropy_index: labels is NULL [node 0]");
    tg_tensor *o = tg_exp(other, z);
    XERR(o, z, TG_ERR_TAPE,
         "softmax_cross_entropy_index: labels is not a live tensor of this tape (stale, of "
         "another tape, or freed) [node 0]");
#undef XERR
    tg_tape_free(tp);
    tg_tape_free(other);
    tg_tensor *all[] = {z, z1, bad, neg, huge, two, col, fl, nine};
    for (int k = 0; k < (int)(sizeof all / sizeof all[0]); k++) tg_tensor_free(all[k]);
}
END_TEST

/* tg_gradcheck of a loss with its labels as an input: the i64 input is data,
 * passed as it is (also in the mixed f32/f64 mode) and never perturbed or
 * differentiated. */
static tg_tensor *xent_fn(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_softmax_cross_entropy_index(tp, in[0], in[1], TG_REDUCE_MEAN);
}

START_TEST(test_xent_index_gradcheck)
{
    const tg_dtype dt = _i ? TG_F32 : TG_F64;
    tg_tensor *z = tt_rand(dt, 2, TT_SHAPE(3, 4), 5, -2, 2);
    tg_tensor_set_requires_grad(z, true);
    tg_tensor *l = tg_tensor_from(TG_I64, 1, TT_SHAPE(3), (const int64_t[]){1, 3, 0});
    tg_compare_report rep[2];
    const tg_status st = tg_gradcheck(xent_fn, NULL, 2, (tg_tensor *const[]){z, l}, NULL, rep);
    ck_assert_msg(st == TG_OK, "%s", tg_last_error());
    ck_assert(tg_tensor_i64(l)[0] == 1 && tg_tensor_i64(l)[1] == 3 && tg_tensor_i64(l)[2] == 0);
    tg_tensor_free(z);
    tg_tensor_free(l);
}
END_TEST

/* The deprecated int32_t* entry point, kept one release: the same loss as
 * the tensor one, and its own checks of the count, NULL and the range. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
START_TEST(test_xent_labels_deprecated)
{
    tg_tensor *z = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 1, -1, 1);
    tg_tensor *l = tg_tensor_from(TG_I64, 1, TT_SHAPE(3), (const int64_t[]){3, 0, 2});
    tg_tape *tp = tg_tape_new(NULL);
    const int32_t lab[3] = {3, 0, 2};
    ck_assert_double_eq(scalar(tg_softmax_cross_entropy_labels(tp, z, lab, 3, TG_REDUCE_MEAN)),
                        scalar(tg_softmax_cross_entropy_index(tp, z, l, TG_REDUCE_MEAN)));
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_softmax_cross_entropy_labels(tp, z, lab, 2, TG_REDUCE_SUM));
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "softmax_cross_entropy_labels", "2 labels", "(3,4)",
                         "expected 3");
    tg_tape_reset(tp);
    ck_assert_ptr_null(tg_softmax_cross_entropy_labels(tp, z, NULL, 3, TG_REDUCE_SUM));
    tt_assert_tape_error(tp, TG_ERR_NULL, "softmax_cross_entropy_labels: labels is NULL");
    tg_tape_reset(tp);
    ck_assert_ptr_null(
        tg_softmax_cross_entropy_labels(tp, z, (const int32_t[]){0, 4, 1}, 3, TG_REDUCE_SUM));
    tt_assert_tape_error(tp, TG_ERR_ARG, "softmax_cross_entropy_labels", "label 4 at row 1",
                         "[0, 4)", "(3,4)");
    tg_tape_free(tp);
    tg_tensor_free(z);
    tg_tensor_free(l);
}
END_TEST
#pragma GCC diagnostic pop

int main(void)
{
    Suite *s = suite_create("dtype");
    TCase *tc = tcase_create("i64");
    tcase_add_test(tc, test_i64_create_read_convert);
    tcase_add_test(tc, test_i64_bad_values);
    tcase_add_test(tc, test_i64_refused);
    tcase_add_test(tc, test_i64_safetensors);
    suite_add_tcase(s, tc);
    TCase *tx = tcase_create("labels");
    tcase_add_loop_test(tx, test_xent_index_values, 0, 2); /* f64, f32 */
    tcase_add_test(tx, test_xent_index_errors);
    tcase_add_loop_test(tx, test_xent_index_gradcheck, 0, 2); /* f64, f32 (mixed mode) */
    tcase_add_test(tx, test_xent_labels_deprecated);
    suite_add_tcase(s, tx);
    return tt_run(s);
}
