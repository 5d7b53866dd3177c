/* tapegrad: n-d tensors (f32, f64; i64 data), creation, element access,
 * status codes.
 *
 * A tensor is either user-owned (created here, freed with tg_tensor_free,
 * usable on any tape) or tape-owned (created by an op, valid until the tape
 * is reset or freed).  Data is contiguous and row-major; shapes are listed
 * outermost first. */
#ifndef TAPEGRAD_TENSOR_H
#define TAPEGRAD_TENSOR_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks an entry point kept for one release after its replacement: using
 * it makes a compiler warning that names the replacement. */
#ifndef TG_DEPRECATED
#if defined(__GNUC__) || defined(__clang__)
#define TG_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define TG_DEPRECATED(msg)
#endif
#endif

/* Maximum number of dimensions of a tensor. */
#define TG_MAX_DIMS 8

/* TG_I64 (int64_t elements) is data only: class labels and indices.  A
 * user tensor of it can be created, read, written, copied (converted to and
 * from the float dtypes), printed, saved and loaded (safetensors "I64"), but
 * it has no gradient (requires_grad on it is an error) and the
 * differentiable ops refuse it (TG_ERR_DTYPE, naming the op); tape tensors
 * are f32 or f64.  A double written into an i64 element (tg_tensor_full,
 * fill, set, from_f64, copy from a float tensor, ...) is truncated toward
 * zero, as a C cast; one that is not finite or outside [-2^63, 2^63) is an
 * error (TG_ERR_ARG) and nothing is written.  Read as double (get, to_f64,
 * print, ...) an element beyond 2^53 in magnitude is rounded. */
typedef enum tg_dtype { TG_F32 = 0, TG_F64 = 1, TG_I64 = 2 } tg_dtype;

typedef enum tg_status {
    TG_OK = 0,
    TG_ERR_NULL,       /* a required pointer argument was NULL */
    TG_ERR_SHAPE,      /* shapes do not fit the op */
    TG_ERR_DTYPE,      /* dtypes differ or are not supported */
    TG_ERR_EMPTY,      /* a zero-size tensor where one is not allowed */
    TG_ERR_AXIS,       /* an axis out of range or repeated */
    TG_ERR_TAPE,       /* a tensor belongs to another tape, or is stale */
    TG_ERR_NOMEM,      /* allocation failed or the arena limit was reached */
    TG_ERR_ARG,        /* any other invalid argument */
    TG_ERR_NOT_SCALAR, /* backward of a non-scalar output without a seed */
    TG_ERR_STATE,      /* the tape is in error; reset it */
    TG_ERR_NUMERIC,    /* anomaly mode found a NaN or Inf */
    TG_ERR_IO,         /* file I/O or format error */
    TG_STATUS_COUNT
} tg_status;

/* A short fixed description of a status code ("shape mismatch", ...). */
TG_API const char *tg_strerror(tg_status s);

/* Errors of calls that have no tape (tensor creation, copy, ...) are kept per
 * thread: the status and message of the most recent failure. */
TG_API tg_status tg_last_status(void);
TG_API const char *tg_last_error(void);

typedef struct tg_tensor tg_tensor;
typedef struct tg_tape tg_tape;

/* Size in bytes of one element of the dtype. */
TG_API size_t tg_dtype_size(tg_dtype dt);
TG_API const char *tg_dtype_name(tg_dtype dt);

/* ---- user-owned tensors ------------------------------------------------ */
/* All creation functions return NULL (and set tg_last_status) on bad
 * arguments or out of memory.  A dimension may be 0 (an empty tensor). */
TG_API tg_tensor *tg_tensor_new(tg_dtype dt, int ndim, const int64_t *shape); /* zero-filled */
TG_API tg_tensor *tg_tensor_zeros(tg_dtype dt, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_tensor_ones(tg_dtype dt, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_tensor_full(tg_dtype dt, int ndim, const int64_t *shape, double value);
/* 1-D tensor start, start+step, ... while < stop (> stop for negative step). */
TG_API tg_tensor *tg_tensor_arange(tg_dtype dt, double start, double stop, double step);
/* Copies n = prod(shape) values from data (of dtype dt). */
TG_API tg_tensor *tg_tensor_from(tg_dtype dt, int ndim, const int64_t *shape, const void *data);
/* Copies from a double array whatever the tensor's dtype (convenient in tests). */
TG_API tg_tensor *tg_tensor_from_f64(tg_dtype dt, int ndim, const int64_t *shape,
                                     const double *data);
TG_API tg_tensor *tg_tensor_scalar(tg_dtype dt, double value); /* 0-d tensor */
/* A user-owned deep copy of any tensor (its values; not its grad). */
TG_API tg_tensor *tg_tensor_clone(const tg_tensor *t);
/* A user-owned copy converted to another dtype. */
TG_API tg_tensor *tg_tensor_cast_new(const tg_tensor *t, tg_dtype dt);
/* Frees a user-owned tensor and its gradient.  NULL is ignored.  A tensor a
 * tape has recorded stays allocated until every such tape is reset or
 * freed (then it goes): the tape can still run backward over it, a new op
 * on it is a TG_ERR_TAPE error, and tg_backward reports a freed parameter.
 * The library's own tensors are not the user's to free: for a .grad
 * (freed with its parameter) or a tape-owned tensor (freed by its tape),
 * this does nothing and sets tg_last_status to TG_ERR_ARG; so does freeing
 * a tensor twice while a tape keeps it. */
TG_API void tg_tensor_free(tg_tensor *t);

/* ---- seeded random numbers --------------------------------------------- */
/* A small explicit RNG state (xoshiro256**), so the same seed gives the same
 * numbers on every machine.  No hidden global state. */
typedef struct tg_rng {
    uint64_t s[4];
} tg_rng;
TG_API void tg_rng_seed(tg_rng *r, uint64_t seed);
TG_API uint64_t tg_rng_next(tg_rng *r);
TG_API double tg_rng_uniform(tg_rng *r); /* in [0, 1) */
TG_API double tg_rng_normal(tg_rng *r);  /* standard normal (Box-Muller) */
/* Fill a tensor: uniform in [lo, hi) / normal(mean, std); f32 and f64 only
 * (an i64 tensor is TG_ERR_DTYPE). */
TG_API tg_status tg_tensor_fill_uniform(tg_tensor *t, tg_rng *r, double lo, double hi);
TG_API tg_status tg_tensor_fill_normal(tg_tensor *t, tg_rng *r, double mean, double std);
TG_API tg_tensor *tg_tensor_rand(tg_dtype dt, int ndim, const int64_t *shape, tg_rng *r);
TG_API tg_tensor *tg_tensor_randn(tg_dtype dt, int ndim, const int64_t *shape, tg_rng *r);

/* ---- properties -------------------------------------------------------- */
TG_API tg_dtype tg_tensor_dtype(const tg_tensor *t);
TG_API int tg_tensor_ndim(const tg_tensor *t);
/* Pointer to ndim extents; valid while the tensor lives. */
TG_API const int64_t *tg_tensor_shape(const tg_tensor *t);
TG_API int64_t tg_tensor_dim(const tg_tensor *t, int axis); /* negative axis counts from the end */
TG_API int64_t tg_tensor_numel(const tg_tensor *t);
/* The tape that owns t, or NULL for a user-owned tensor. */
TG_API tg_tape *tg_tensor_tape(const tg_tensor *t);
TG_API bool tg_tensor_same_shape(const tg_tensor *a, const tg_tensor *b);
/* Formats "f64[2,3]" into buf (always NUL-terminated); returns buf. */
TG_API char *tg_tensor_describe(const tg_tensor *t, char *buf, size_t size);

/* The longest name tg_tensor_set_name takes, in bytes without the NUL. */
#define TG_NAME_MAX 31
/* Names t ("W2", "delta_k") for tg_tape_print, explain mode, DOT, JSON, SVG
 * and error messages, which then show "W2 ($3)".  The string is copied (at
 * most TG_NAME_MAX bytes, no control characters); NULL or "" removes the
 * name.  A tape tensor keeps it until its tape's reset or free, a user
 * tensor until tg_tensor_free.  Thread-safe for user tensors. */
TG_API tg_status tg_tensor_set_name(tg_tensor *t, const char *name);
/* t's name, or NULL when it has none; valid until t's name is set again or
 * t is freed (a tape tensor: its tape reset). */
TG_API const char *tg_tensor_name(const tg_tensor *t);

/* ---- data access ------------------------------------------------------- */
/* Raw contiguous data.  Writing into a tape-owned tensor after it has been
 * used by a later op makes the recorded graph inconsistent: don't.  The same
 * holds for a user-owned tensor between recording an op on it and the
 * backward pass (backward rules read the inputs again, and one-element
 * nodes use the values they recorded): update parameters after backward.
 * Every library call that writes a user tensor's data (tg_tensor_set*,
 * fill*, copy, the tg_init_* functions, tg_optim_step, tg_batches_next,
 * tg_safetensors_load_into) counts as a new version of it, and
 * tg_backward/tg_grad fail (TG_ERR_TAPE, naming the op and input) when a
 * recorded tensor's version changed since.  A write through this pointer
 * cannot be seen: call tg_tensor_mark_modified after one. */
TG_API void *tg_tensor_data(tg_tensor *t);
TG_API const void *tg_tensor_data_const(const tg_tensor *t);
/* Typed views: NULL if the dtype differs. */
TG_API double *tg_tensor_f64(tg_tensor *t);
TG_API float *tg_tensor_f32(tg_tensor *t);
TG_API int64_t *tg_tensor_i64(tg_tensor *t);
/* Element at a flat (row-major) index / at a multi-index; as double. */
TG_API double tg_tensor_get_flat(const tg_tensor *t, int64_t i);
TG_API void tg_tensor_set_flat(tg_tensor *t, int64_t i, double v);
TG_API double tg_tensor_get(const tg_tensor *t, const int64_t *idx);
TG_API void tg_tensor_set(tg_tensor *t, const int64_t *idx, double v);
/* Fill every element with v. */
TG_API tg_status tg_tensor_fill(tg_tensor *t, double v);
/* Tell the library t's data was written through tg_tensor_data (a new
 * version, as the calls above make). */
TG_API tg_status tg_tensor_mark_modified(tg_tensor *t);
/* Copy values from src into dst (same shape; dtypes may differ: converted). */
TG_API tg_status tg_tensor_copy(tg_tensor *dst, const tg_tensor *src);
/* Copy all values into out[numel] as doubles. */
TG_API tg_status tg_tensor_to_f64(const tg_tensor *t, double *out);
/* Print shape and values (at most max_elems, 0 = all) to f. */
TG_API void tg_tensor_print(FILE *f, const char *name, const tg_tensor *t, int64_t max_elems);

/* ---- gradients --------------------------------------------------------- */
/* Mark a user-owned tensor as a parameter: tg_backward writes its gradient.
 * Not an i64 tensor (TG_ERR_DTYPE: integers have no gradient). */
TG_API tg_status tg_tensor_set_requires_grad(tg_tensor *t, bool on);
TG_API bool tg_tensor_requires_grad(const tg_tensor *t);
/* The gradient written by the last tg_backward, or NULL when none has
 * written one: the tensor does not require grad, no tg_backward has run
 * since it does, the outputs of those that ran do not depend on it (a
 * backward leaves such a parameter's .grad as it was, as PyTorch leaves
 * .grad None), or the last ones failed (tg_backward of an output that
 * depends on no tensor that requires grad is an error).  For a user-owned
 * tensor it is user-owned storage kept with the tensor: the same tensor step
 * after step, but tg_backward may give it a new data pointer each time (it
 * swaps in the buffer the new gradient was computed in, alternating between
 * two), so read tg_tensor_data(tg_tensor_grad(w)) again after each backward
 * rather than keeping the pointer; it belongs to its parameter (freed with
 * it: tg_tensor_free refuses it).  For a tape-owned tensor marked with
 * tg_retain_grad it is tape-owned. */
TG_API tg_tensor *tg_tensor_grad(const tg_tensor *t);
/* Set the gradient of a user-owned tensor to zero (keeps its storage). */
TG_API void tg_tensor_zero_grad(tg_tensor *t);

/* ---- allocation hooks -------------------------------------------------- */
/* Every allocation of the library goes through these.  Passing NULLs restores
 * malloc/realloc/free.  Set them before creating any tensor or tape. */
typedef struct tg_allocator {
    void *(*malloc_fn)(size_t size, void *ctx);
    void *(*realloc_fn)(void *p, size_t size, void *ctx);
    void (*free_fn)(void *p, void *ctx);
    void *ctx;
} tg_allocator;
TG_API void tg_set_allocator(const tg_allocator *a);

#ifdef __cplusplus
}
#endif
#endif
