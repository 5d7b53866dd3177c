/* tapegrad: saving and loading tensors (safetensors), IDX datasets (the
 * MNIST / Fashion-MNIST format, gzip through zlib), mini-batch iteration.
 * Errors are reported through the return status and tg_last_error(); a
 * corrupt or truncated file is a clear error, never a crash. */
#ifndef TAPEGRAD_IO_H
#define TAPEGRAD_IO_H

#include "export.h"

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- safetensors (io/safetensors.c) ----------------------------------------- */
/* Writes n named tensors (F32 / F64, little-endian, header sorted by name).
 * The data goes to a new file of a unique name beside the target, then
 * renamed over it: a reader, a crash or a failed save sees the old file or
 * the new one, whole, and concurrent saves to one path each leave a
 * complete file (the last rename wins).  When path is a symbolic link (or a
 * chain of them), the file it points to is replaced and the link stays a
 * link.  The new file has the mode a newly created file gets (0666 less the
 * umask); other hard links to the old file keep the old content. */
TG_API tg_status tg_safetensors_save(const char *path, int n, const char *const *names,
                                     tg_tensor *const *tensors);
/* A set of named user-owned tensors read from a file. */
typedef struct tg_named_tensors {
    int n;
    char **names;
    tg_tensor **tensors;
} tg_named_tensors;
/* Reads every tensor of a file (F32 and F64 entries; other dtypes are an
 * error naming the entry).  Free with tg_named_tensors_free. */
TG_API tg_status tg_safetensors_load(const char *path, tg_named_tensors *out);
TG_API void tg_named_tensors_free(tg_named_tensors *t);
/* Fills existing tensors by name (shapes must match; dtypes are converted). */
TG_API tg_status tg_safetensors_load_into(const char *path, int n, const char *const *names,
                                          tg_tensor *const *tensors);

/* The names before the tg_<object>_<verb> pattern: deprecated, removed in
 * the next release. */
TG_API TG_DEPRECATED("use tg_safetensors_save") tg_status
    tg_save_safetensors(const char *path, int n, const char *const *names,
                        tg_tensor *const *tensors);
TG_API TG_DEPRECATED("use tg_safetensors_load") tg_status
    tg_load_safetensors(const char *path, tg_named_tensors *out);
TG_API TG_DEPRECATED("use tg_safetensors_load_into") tg_status
    tg_load_safetensors_into(const char *path, int n, const char *const *names,
                             tg_tensor *const *tensors);

/* ---- IDX datasets (io/idx.c) ------------------------------------------------------ */
/* The default cap on the bytes of an IDX load's result: 1 GiB, several
 * times MNIST's 60000 training images as f64 (376 MB), and well under the
 * memory of a machine that trains on them; far less than what a small
 * gzip'd file can declare (gzip packs zeros about 1000 to 1). */
#define TG_IDX_MAX_BYTES_DEFAULT ((int64_t)1 << 30)
typedef struct tg_idx_options {
    /* The most bytes the result may take: the header's element count times
     * the dtype's size (4 per label), checked against the header before
     * anything is allocated.  0: TG_IDX_MAX_BYTES_DEFAULT; negative: an
     * error.  (Loading also holds the file's bytes, one per element, while
     * converting.) */
    int64_t max_bytes;
} tg_idx_options;
/* Reads an IDX file (optionally .gz) of unsigned bytes into a user-owned
 * tensor of dtype dt with the file's shape, each value multiplied by scale
 * (1/255.0 for pixels in [0, 1]).  The header is checked against the file:
 * a plain file must be exactly as long as the header says; a gzip file must
 * be whole (every member's CRC-32 and length checked), with nothing after
 * its last member (concatenated members are read as one stream).  A result
 * over TG_IDX_MAX_BYTES_DEFAULT bytes is TG_ERR_NOMEM: tg_idx_load_ex
 * raises the cap. */
TG_API tg_tensor *tg_idx_load(const char *path, tg_dtype dt, double scale);
/* tg_idx_load with options (NULL: the defaults). */
TG_API tg_tensor *tg_idx_load_ex(const char *path, tg_dtype dt, double scale,
                                 const tg_idx_options *opts);
/* Reads an IDX label file (1-d unsigned bytes) into an int32 array; *n
 * receives the count.  The array comes from the library's allocator: free it
 * with tg_idx_labels_free (plain free() is equivalent only while no custom
 * allocator is set with tg_set_allocator).  Checked as tg_idx_load. */
TG_API int32_t *tg_idx_load_labels(const char *path, int64_t *n);
/* tg_idx_load_labels with options (NULL: the defaults). */
TG_API int32_t *tg_idx_load_labels_ex(const char *path, int64_t *n, const tg_idx_options *opts);
TG_API void tg_idx_labels_free(int32_t *labels);

/* ---- mini-batches (io/batch.c) ----------------------------------------------------- */
/* Iterates over the first axis of data (N, ...) and labels[N] in batches,
 * in an order shuffled from a seed at each tg_batches_reset (shuffle false:
 * in order).  The batch tensor and label array are owned by the iterator and
 * reused (no allocation per batch).  The last batch may be smaller unless
 * drop_last: the same tensor then has a smaller first extent.  Marked with
 * tg_tensor_set_requires_grad (a gradient with respect to the inputs), its
 * .grad follows: tg_backward gives it the batch's current shape (replacing,
 * not accumulating, across a change of shape). */
typedef struct tg_batches tg_batches;
TG_API tg_batches *tg_batches_new(const tg_tensor *data, const int32_t *labels, int64_t batch_size,
                                  bool shuffle, bool drop_last, uint64_t seed);
/* Starts the next epoch (reshuffled from the same RNG stream).  A new
 * iterator is already at its first, shuffled epoch: call this from the
 * second epoch on. */
TG_API void tg_batches_reset(tg_batches *b);
/* Next batch: true and *x (B, ...), *y (B labels), *n (B) set; false at the end. */
TG_API bool tg_batches_next(tg_batches *b, tg_tensor **x, const int32_t **y, int64_t *n);
TG_API void tg_batches_free(tg_batches *b);
/* Data-parallel training (dist.h): this iterator gives rank `rank` of
 * `nranks` its shard of each global batch.  The global batches are those of
 * the unsharded iterator (the same order on every rank given the same
 * seed); a global batch of B rows is cut into nranks contiguous parts, part
 * r being rows [r B / nranks, (r + 1) B / nranks) (integer division): all
 * equal when nranks divides B, else they differ by one row.  Each rank thus
 * sees a disjoint part and together they see every row of the batch.  A
 * last global batch of fewer than nranks rows is dropped, so every rank
 * gets the same number of batches, none empty.  Applies from the next
 * tg_batches_next on; (0, 1) undoes it.  TG_ERR_ARG (no change) unless
 * 0 <= rank < nranks. */
TG_API tg_status tg_batches_shard(tg_batches *b, int rank, int nranks);

#ifdef __cplusplus
}
#endif
#endif
