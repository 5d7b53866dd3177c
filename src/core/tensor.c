/* User-owned tensors: creation, element access, copy (the RNG and the
 * random fills are in rng.c). */
#include "internal.h"
#include "tensor_priv.h"

#include <stdio.h>

size_t tg_dtype_size(tg_dtype dt)
{
    return dt == TG_F64 ? sizeof(double) : dt == TG_I64 ? sizeof(int64_t) : sizeof(float);
}

const char *tg_dtype_name(tg_dtype dt)
{
    return dt == TG_F64 ? "f64" : dt == TG_F32 ? "f32" : dt == TG_I64 ? "i64" : "?";
}

/* Does v convert to an int64_t (truncated toward zero)?  Converting a NaN,
 * an infinity or a value outside [-2^63, 2^63) is undefined behaviour in C:
 * such a value is refused before any conversion. */
static bool fits_i64(double v)
{
    return v >= -0x1p63 && v < 0x1p63; /* false for NaN */
}

/* The error for a value that does not fit an i64 element. */
static void not_i64(const char *what, double v)
{
    tg__set_last(TG_ERR_ARG, "%s: %g does not fit an i64 element (finite, in [-2^63, 2^63))", what,
                 v);
}

/* For an i64 tensor: does v fit (else the error, naming what)?  Always true
 * for the float dtypes. */
static bool value_ok(const char *what, const tg_tensor *t, double v)
{
    if (t->dtype != TG_I64 || fits_i64(v)) return true;
    not_i64(what, v);
    return false;
}

/* The float-only calls refuse an i64 tensor (TG_ERR_DTYPE). */
bool tg__tensor_float_only(const char *what, const tg_tensor *t, const char *why)
{
    if (t->dtype != TG_I64) return true;
    char d[TG_SHAPE_BUF + 8];
    tg__set_last(TG_ERR_DTYPE, "%s: %s is an integer tensor; %s", what,
                 tg_tensor_describe(t, d, sizeof d), why);
    return false;
}

/* Validates dtype and shape and computes the element count; on failure sets
 * the thread's last error.  The shape rule is the tape's (core/tape.c
 * alloc_tensor): the non-zero extents' product at most TG_NUMEL_MAX, so
 * whether a shape is accepted does not depend on the order of its axes. */
static bool shape_ok(const char *what, tg_dtype dt, int ndim, const int64_t *shape, int64_t *numel)
{
    if (dt != TG_F32 && dt != TG_F64 && dt != TG_I64) {
        tg__set_last(TG_ERR_DTYPE, "%s: unknown dtype %d", what, (int)dt);
        return false;
    }
    if (ndim < 0 || ndim > TG_MAX_DIMS) {
        tg__set_last(TG_ERR_SHAPE, "%s: %d dimensions (0 to %d allowed)", what, ndim, TG_MAX_DIMS);
        return false;
    }
    if (ndim > 0 && !shape) {
        tg__set_last(TG_ERR_NULL, "%s: shape is NULL", what);
        return false;
    }
    if (!tg__extents_product(ndim, shape, TG_NUMEL_MAX, numel)) {
        char s[TG_SHAPE_BUF];
        tg__dims_str(ndim, shape, s, sizeof s);
        int neg = 0;
        while (neg < ndim && shape[neg] >= 0) neg++;
        if (neg < ndim)
            tg__set_last(TG_ERR_SHAPE, "%s: extent %lld of axis %d is negative in %s", what,
                         (long long)shape[neg], neg, s);
        else
            tg__set_last(TG_ERR_SHAPE, "%s: a tensor of shape %s would have over %lld elements",
                         what, s, (long long)TG_NUMEL_MAX);
        return false;
    }
    return true;
}

static void init_header(tg_tensor *t, tg_dtype dt, int ndim, const int64_t *shape, int64_t numel)
{
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->ndim = ndim;
    t->shape = tg__tensor_extents(t);
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = numel;
    t->id = -1;
    /* version 0, held by no tape, no flags: all zero from the memset */
}

/* Element i := v, without a version bump: for the library's own loops (a
 * fresh tensor, or a caller that bumps once).  For an i64 tensor v fits
 * (value_ok, checked by the caller). */
void tg__tensor_put_flat(tg_tensor *t, int64_t i, double v)
{
    if (t->dtype == TG_F64)
        ((double *)t->data)[i] = v;
    else if (t->dtype == TG_I64)
        ((int64_t *)t->data)[i] = (int64_t)v;
    else
        ((float *)t->data)[i] = (float)v;
}

/* Every element := v, without a version bump (v fits, as for
 * tg__tensor_put_flat). */
static void put_all(tg_tensor *t, double v)
{
    if (t->dtype == TG_I64) { /* data only: TG_DISPATCH is for the float dtypes */
        int64_t *p = t->data, x = (int64_t)v;
        for (int64_t i = 0; i < t->numel; i++) p[i] = x;
        return;
    }
    TG_DISPATCH(t->dtype, T, {
        T *p = t->data;
        T x = (T)v;
        for (int64_t i = 0; i < t->numel; i++) p[i] = x;
    });
}

/* tg_tensor_new with its errors under the name of the call the user made
 * (tg_tensor_zeros, tg_tensor_from, ...). */
tg_tensor *tg__tensor_new_as(const char *what, tg_dtype dt, int ndim, const int64_t *shape)
{
    int64_t n;
    if (!shape_ok(what, dt, ndim, shape, &n)) return NULL;
    /* the header and its extents in one allocation (core/internal.h) */
    tg_tensor *t = tg__malloc(sizeof *t + (size_t)ndim * sizeof(int64_t));
    if (!t) {
        tg__set_last(TG_ERR_NOMEM, "%s: out of memory for the header", what);
        return NULL;
    }
    init_header(t, dt, ndim, shape, n);
    t->magic = TG_MAGIC_USER;
    t->data = tg__calloc((size_t)n, tg_dtype_size(dt));
    if (!t->data) {
        tg__free(t);
        tg__set_last(TG_ERR_NOMEM, "%s: out of memory for %lld elements", what, (long long)n);
        return NULL;
    }
    return t;
}

tg_tensor *tg_tensor_new(tg_dtype dt, int ndim, const int64_t *shape)
{
    return tg__tensor_new_as("tg_tensor_new", dt, ndim, shape);
}

tg_tensor *tg_tensor_zeros(tg_dtype dt, int ndim, const int64_t *shape)
{
    return tg__tensor_new_as("tg_tensor_zeros", dt, ndim, shape);
}

tg_tensor *tg_tensor_full(tg_dtype dt, int ndim, const int64_t *shape, double value)
{
    if (dt == TG_I64 && !fits_i64(value)) {
        not_i64("tg_tensor_full", value);
        return NULL;
    }
    tg_tensor *t = tg__tensor_new_as("tg_tensor_full", dt, ndim, shape);
    if (t) put_all(t, value);
    return t;
}

tg_tensor *tg_tensor_ones(tg_dtype dt, int ndim, const int64_t *shape)
{
    tg_tensor *t = tg__tensor_new_as("tg_tensor_ones", dt, ndim, shape);
    if (t) put_all(t, 1.0);
    return t;
}

tg_tensor *tg_tensor_scalar(tg_dtype dt, double value)
{
    return tg_tensor_full(dt, 0, NULL, value);
}

tg_tensor *tg_tensor_arange(tg_dtype dt, double start, double stop, double step)
{
    if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step)) {
        tg__set_last(TG_ERR_ARG, "tg_tensor_arange: step must be non-zero and values finite");
        return NULL;
    }
    double count = ceil((stop - start) / step);
    if (count < 0) count = 0;
    if (count > 1e15) {
        tg__set_last(TG_ERR_ARG, "tg_tensor_arange: %g elements is too many", count);
        return NULL;
    }
    int64_t n = (int64_t)count;
    if (dt == TG_I64 && n > 0 && (!fits_i64(start) || !fits_i64(start + (double)(n - 1) * step))) {
        not_i64("tg_tensor_arange", fits_i64(start) ? start + (double)(n - 1) * step : start);
        return NULL;
    }
    tg_tensor *t = tg_tensor_new(dt, 1, &n);
    if (!t) return NULL;
    for (int64_t i = 0; i < n; i++) tg__tensor_put_flat(t, i, start + (double)i * step);
    return t;
}

tg_tensor *tg_tensor_from(tg_dtype dt, int ndim, const int64_t *shape, const void *data)
{
    tg_tensor *t = tg__tensor_new_as("tg_tensor_from", dt, ndim, shape);
    if (!t) return NULL;
    if (t->numel && !data) {
        tg_tensor_free(t);
        tg__set_last(TG_ERR_NULL, "tg_tensor_from: data is NULL");
        return NULL;
    }
    if (t->numel) memcpy(t->data, data, (size_t)t->numel * tg_dtype_size(dt));
    return t;
}

tg_tensor *tg_tensor_from_f64(tg_dtype dt, int ndim, const int64_t *shape, const double *data)
{
    tg_tensor *t = tg__tensor_new_as("tg_tensor_from_f64", dt, ndim, shape);
    if (!t) return NULL;
    if (t->numel && !data) {
        tg_tensor_free(t);
        tg__set_last(TG_ERR_NULL, "tg_tensor_from_f64: data is NULL");
        return NULL;
    }
    for (int64_t i = 0; i < t->numel; i++) {
        if (!value_ok("tg_tensor_from_f64", t, data[i])) {
            tg_tensor_free(t);
            return NULL;
        }
        tg__tensor_put_flat(t, i, data[i]);
    }
    return t;
}

tg_tensor *tg_tensor_clone(const tg_tensor *t)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_clone: tensor is NULL");
        return NULL;
    }
    return tg_tensor_from(t->dtype, t->ndim, t->shape, t->data);
}

tg_tensor *tg_tensor_cast_new(const tg_tensor *t, tg_dtype dt)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_cast_new: tensor is NULL");
        return NULL;
    }
    tg_tensor *r = tg__tensor_new_as("tg_tensor_cast_new", dt, t->ndim, t->shape);
    if (r && tg_tensor_copy(r, t) != TG_OK) { /* a value that does not fit i64 */
        tg_tensor_free(r);
        return NULL;
    }
    if (r) r->version = 0; /* a new tensor: nothing has recorded it */
    return r;
}

/* Frees user tensor t, then its gradient (a tensor of its own, with
 * perhaps a gradient of its own: a .grad marked requires_grad), and so on
 * down the chain, each unless a tape still holds it: that one is marked
 * freed and its last tape frees it (tg__tensor_release). */
static void destroy(tg_tensor *t)
{
    while (t) {
        tg_tensor *g = t->grad;
        tg__tensor_forget_name(t);
        tg__free(t->spare); /* the gradient's second buffer (core/backward.c) */
        tg__free(t->data);
        t->magic = 0;
        tg__free(t);
        /* acq_rel: the tape that sees the count reach 0 frees it, and must
         * see every write made before this mark */
        if (g && __atomic_fetch_or(&g->holds, TG_HOLD_FREED, __ATOMIC_ACQ_REL) >= TG_HOLD) break;
        t = g;
    }
}

void tg__tensor_hold(tg_tensor *t)
{
    __atomic_fetch_add(&t->holds, TG_HOLD, __ATOMIC_ACQ_REL);
}

void tg__tensor_release(tg_tensor *t)
{
    const uint32_t h = __atomic_sub_fetch(&t->holds, TG_HOLD, __ATOMIC_ACQ_REL);
    if (h < TG_HOLD && (h & TG_HOLD_FREED)) destroy(t);
}

void tg_tensor_free(tg_tensor *t)
{
    if (!t) return;
    /* The library's own tensors are freed with what owns them: freeing one
     * here would leave its owner a dangling pointer (a gradient) or free
     * arena memory (a tape tensor).  A no-op that says so, the same for
     * both. */
    if (t->magic == TG_MAGIC_TAPE) {
        tg__set_last(
            TG_ERR_ARG,
            "tg_tensor_free: a tape-owned tensor is freed by tg_tape_reset or tg_tape_free");
        return;
    }
    if (t->magic != TG_MAGIC_USER) return; /* not a live tensor: nothing to free */
    const uint32_t h = __atomic_load_n(&t->holds, __ATOMIC_ACQUIRE);
    if (h & TG_HOLD_GRAD) {
        tg__set_last(TG_ERR_ARG,
                     "tg_tensor_free: a gradient is owned by its parameter; it is freed with it");
        return;
    }
    if (h & TG_HOLD_FREED) {
        tg__set_last(TG_ERR_ARG, "tg_tensor_free: the tensor was freed already (a tape that "
                                 "recorded it keeps it until tg_tape_reset or tg_tape_free)");
        return;
    }
    /* held by a tape (another thread's, perhaps): marked, freed by the
     * last tape to let go; else freed now */
    if (__atomic_fetch_or(&t->holds, TG_HOLD_FREED, __ATOMIC_ACQ_REL) < TG_HOLD) destroy(t);
}

/* ---- properties ---------------------------------------------------------- */
tg_dtype tg_tensor_dtype(const tg_tensor *t)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_dtype: tensor is NULL");
        return TG_F64;
    }
    return t->dtype;
}
int tg_tensor_ndim(const tg_tensor *t)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_ndim: tensor is NULL");
        return -1;
    }
    return t->ndim;
}
const int64_t *tg_tensor_shape(const tg_tensor *t)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_shape: tensor is NULL");
        return NULL;
    }
    return t->shape;
}
int64_t tg_tensor_dim(const tg_tensor *t, int axis)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_dim: tensor is NULL");
        return -1;
    }
    if (axis < 0) axis += t->ndim;
    if (axis < 0 || axis >= t->ndim) return -1;
    return t->shape[axis];
}
int64_t tg_tensor_numel(const tg_tensor *t)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_numel: tensor is NULL");
        return 0;
    }
    return t->numel;
}
tg_tape *tg_tensor_tape(const tg_tensor *t)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_tape: tensor is NULL");
        return NULL;
    }
    return t->tape;
}
bool tg_tensor_same_shape(const tg_tensor *a, const tg_tensor *b)
{
    if (!a || !b) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_same_shape: %s is NULL", !a ? "a" : "b");
        return false;
    }
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}
char *tg_tensor_describe(const tg_tensor *t, char *buf, size_t size)
{
    if (!buf) tg__set_last(TG_ERR_NULL, "tg_tensor_describe: buf is NULL");
    if (!buf || !size) return buf;
    if (!t) {
        snprintf(buf, size, "NULL");
        return buf;
    }
    char sh[TG_SHAPE_BUF];
    tg__shape_str(t, sh, sizeof sh);
    sh[0] = '[';
    size_t l = strlen(sh);
    if (l) sh[l - 1] = ']';
    snprintf(buf, size, "%s%s", tg_dtype_name(t->dtype), sh);
    return buf;
}

/* ---- data ------------------------------------------------------------------ */
void *tg_tensor_data(tg_tensor *t)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_data: tensor is NULL");
        return NULL;
    }
    return t->data;
}
const void *tg_tensor_data_const(const tg_tensor *t)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_data_const: tensor is NULL");
        return NULL;
    }
    return t->data;
}
double *tg_tensor_f64(tg_tensor *t)
{
    if (!t) tg__set_last(TG_ERR_NULL, "tg_tensor_f64: tensor is NULL");
    return t && t->dtype == TG_F64 ? (double *)t->data : NULL;
}
float *tg_tensor_f32(tg_tensor *t)
{
    if (!t) tg__set_last(TG_ERR_NULL, "tg_tensor_f32: tensor is NULL");
    return t && t->dtype == TG_F32 ? (float *)t->data : NULL;
}
int64_t *tg_tensor_i64(tg_tensor *t)
{
    if (!t) tg__set_last(TG_ERR_NULL, "tg_tensor_i64: tensor is NULL");
    return t && t->dtype == TG_I64 ? (int64_t *)t->data : NULL;
}

/* Element i as double, i in range. */
static double get_at(const tg_tensor *t, int64_t i)
{
    return t->dtype == TG_F64   ? ((const double *)t->data)[i]
           : t->dtype == TG_I64 ? (double)((const int64_t *)t->data)[i]
                                : (double)((const float *)t->data)[i];
}

double tg_tensor_get_flat(const tg_tensor *t, int64_t i)
{
    if (!t) tg__set_last(TG_ERR_NULL, "tg_tensor_get_flat: tensor is NULL");
    if (!t || i < 0 || i >= t->numel) return NAN;
    return get_at(t, i);
}

void tg_tensor_set_flat(tg_tensor *t, int64_t i, double v)
{
    if (!t) tg__set_last(TG_ERR_NULL, "tg_tensor_set_flat: tensor is NULL");
    if (!t || i < 0 || i >= t->numel) return;
    if (!value_ok("tg_tensor_set_flat", t, v)) return;
    tg__bump_version(t);
    tg__tensor_put_flat(t, i, v);
}

static int64_t flat_index(const tg_tensor *t, const int64_t *idx)
{
    int64_t f = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (idx[i] < 0 || idx[i] >= t->shape[i]) return -1;
        f = f * t->shape[i] + idx[i];
    }
    return f;
}

double tg_tensor_get(const tg_tensor *t, const int64_t *idx)
{
    if (!t || (t->ndim && !idx))
        tg__set_last(TG_ERR_NULL, "tg_tensor_get: %s is NULL", !t ? "tensor" : "idx");
    if (!t || (t->ndim && !idx)) return NAN;
    return tg_tensor_get_flat(t, flat_index(t, idx));
}

void tg_tensor_set(tg_tensor *t, const int64_t *idx, double v)
{
    if (!t || (t->ndim && !idx))
        tg__set_last(TG_ERR_NULL, "tg_tensor_set: %s is NULL", !t ? "tensor" : "idx");
    if (!t || (t->ndim && !idx)) return;
    tg_tensor_set_flat(t, flat_index(t, idx), v);
}

tg_status tg_tensor_fill(tg_tensor *t, double v)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_fill: tensor is NULL");
        return TG_ERR_NULL;
    }
    if (!value_ok("tg_tensor_fill", t, v)) return TG_ERR_ARG;
    tg__bump_version(t);
    put_all(t, v);
    return TG_OK;
}

tg_status tg_tensor_mark_modified(tg_tensor *t)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_mark_modified: tensor is NULL");
        return TG_ERR_NULL;
    }
    tg__bump_version(t);
    return TG_OK;
}

tg_status tg_tensor_copy(tg_tensor *dst, const tg_tensor *src)
{
    if (!dst || !src) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_copy: %s is NULL", !dst ? "dst" : "src");
        return TG_ERR_NULL;
    }
    if (dst->numel != src->numel || !tg_tensor_same_shape(dst, src)) return TG_ERR_SHAPE;
    if (dst == src) return TG_OK;
    if (dst->dtype == TG_I64 && src->dtype != TG_I64) /* every value checked before any write */
        for (int64_t i = 0; i < src->numel; i++)
            if (!fits_i64(get_at(src, i))) {
                not_i64("tg_tensor_copy", get_at(src, i));
                return TG_ERR_ARG;
            }
    tg__bump_version(dst);
    if (dst->dtype == src->dtype) {
        if (dst->numel)
            memcpy(dst->data, src->data, (size_t)dst->numel * tg_dtype_size(dst->dtype));
    } else if (dst->dtype == TG_I64 || src->dtype == TG_I64) {
        for (int64_t i = 0; i < dst->numel; i++) tg__tensor_put_flat(dst, i, get_at(src, i));
    } else if (dst->dtype == TG_F64) {
        const float *s = src->data;
        double *d = dst->data;
        for (int64_t i = 0; i < dst->numel; i++) d[i] = s[i];
    } else {
        const double *s = src->data;
        float *d = dst->data;
        for (int64_t i = 0; i < dst->numel; i++) d[i] = (float)s[i];
    }
    return TG_OK;
}

tg_status tg_tensor_to_f64(const tg_tensor *t, double *out)
{
    if (!t || (!out && t->numel)) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_to_f64: %s is NULL", !t ? "tensor" : "out");
        return TG_ERR_NULL;
    }
    for (int64_t i = 0; i < t->numel; i++) out[i] = tg_tensor_get_flat(t, i);
    return TG_OK;
}

void tg_tensor_print(FILE *f, const char *name, const tg_tensor *t, int64_t max_elems)
{
    if (!f) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_print: f is NULL");
        return;
    }
    char d[TG_SHAPE_BUF + 8];
    fprintf(f, "%s %s", name ? name : "tensor", tg_tensor_describe(t, d, sizeof d));
    if (!t) {
        fputc('\n', f);
        return;
    }
    int64_t n = t->numel;
    if (max_elems > 0 && n > max_elems) n = max_elems;
    int64_t row = t->ndim ? t->shape[t->ndim - 1] : 1;
    fputs(" =", f);
    for (int64_t i = 0; i < n; i++) {
        if (t->ndim >= 2 && row > 0 && i % row == 0) fputs("\n   ", f);
        if (t->dtype == TG_I64) /* every digit: an integer is not rounded */
            fprintf(f, " %lld", (long long)((const int64_t *)t->data)[i]);
        else
            fprintf(f, " % .6g", tg_tensor_get_flat(t, i));
    }
    if (n < t->numel) fprintf(f, " ... (%lld more)", (long long)(t->numel - n));
    fputc('\n', f);
}

/* ---- gradients ------------------------------------------------------------ */
tg_status tg_tensor_set_requires_grad(tg_tensor *t, bool on)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_set_requires_grad: tensor is NULL");
        return TG_ERR_NULL;
    }
    if (t->magic != TG_MAGIC_USER) {
        tg__set_last(TG_ERR_ARG, "tg_tensor_set_requires_grad: only user-owned tensors; use "
                                 "tg_retain_grad for a tape-owned one");
        return TG_ERR_ARG;
    }
    if (on && !tg__tensor_float_only("tg_tensor_set_requires_grad", t, "integers have no gradient"))
        return TG_ERR_DTYPE;
    t->requires_grad = on;
    return TG_OK;
}

bool tg_tensor_requires_grad(const tg_tensor *t)
{
    if (!t) tg__set_last(TG_ERR_NULL, "tg_tensor_requires_grad: tensor is NULL");
    return t && t->requires_grad;
}

tg_tensor *tg_tensor_grad(const tg_tensor *t)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_grad: tensor is NULL");
        return NULL;
    }
    return t->grad;
}

void tg_tensor_zero_grad(tg_tensor *t)
{
    if (!t) tg__set_last(TG_ERR_NULL, "tg_tensor_zero_grad: tensor is NULL");
    if (t && t->grad) tg_tensor_fill(t->grad, 0.0);
}
