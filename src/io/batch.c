/* Mini-batch iteration over the first axis of a data tensor, with an order
 * shuffled from a seed.  The iterator owns one batch tensor and one label
 * array sized for a full batch, allocated once; a short last batch reuses
 * them with a smaller first extent, so iterating allocates nothing.
 *
 * Epochs: tg_batches_new prepares the first epoch (shuffled when asked);
 * each tg_batches_reset starts the next one with a new permutation drawn
 * from the same RNG stream, so the sequence of epoch orders is a function of
 * the seed alone, and successive epochs differ. */
#include "../core/internal.h"

struct tg_batches {
    const tg_tensor *data;
    const int32_t *labels; /* may be NULL */
    int64_t n, batch, cursor;
    int rank, nranks; /* tg_batches_shard: this rank's part of each batch */
    bool shuffle, drop_last;
    tg_rng rng;
    int64_t *order;
    size_t row_bytes;
    tg_tensor *x; /* (min(batch, n), ...) */
    int32_t *y;
};

/* Uniform integer in [0, bound) without modulo bias (rejection of the
 * incomplete top range), bound >= 1. */
static uint64_t rng_below(tg_rng *r, uint64_t bound)
{
    uint64_t threshold = (0 - bound) % bound; /* = 2^64 mod bound */
    for (;;) {
        uint64_t v = tg_rng_next(r);
        if (v >= threshold) return v % bound;
    }
}

static void new_epoch(tg_batches *b)
{
    for (int64_t i = 0; i < b->n; i++) b->order[i] = i;
    if (b->shuffle) /* Fisher-Yates */
        for (int64_t i = b->n - 1; i > 0; i--) {
            int64_t j = (int64_t)rng_below(&b->rng, (uint64_t)i + 1);
            int64_t t = b->order[i];
            b->order[i] = b->order[j];
            b->order[j] = t;
        }
    b->cursor = 0;
}

tg_batches *tg_batches_new(const tg_tensor *data, const int32_t *labels, int64_t batch_size,
                           bool shuffle, bool drop_last, uint64_t seed)
{
    if (!data) {
        tg__set_last(TG_ERR_NULL, "batches_new: data is NULL");
        return NULL;
    }
    char s[TG_SHAPE_BUF];
    if (data->ndim < 1) {
        tg__set_last(TG_ERR_SHAPE, "batches_new: data %s: need at least one axis to batch over",
                     tg__shape_str(data, s, sizeof s));
        return NULL;
    }
    if (batch_size < 1) {
        tg__set_last(TG_ERR_ARG, "batches_new: data %s: batch size %lld < 1",
                     tg__shape_str(data, s, sizeof s), (long long)batch_size);
        return NULL;
    }
    tg_batches *b = tg__calloc(1, sizeof *b);
    if (!b) goto nomem;
    b->data = data;
    b->labels = labels;
    b->n = data->shape[0];
    b->batch = batch_size;
    b->shuffle = shuffle;
    b->drop_last = drop_last;
    b->nranks = 1;
    b->row_bytes = tg_dtype_size(data->dtype) * (size_t)(b->n ? data->numel / b->n : 0);
    tg_rng_seed(&b->rng, seed);
    int64_t rows = batch_size < b->n ? batch_size : b->n;
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, data->shape, (size_t)data->ndim * sizeof *shape);
    shape[0] = rows;
    b->order = tg__malloc((size_t)(b->n ? b->n : 1) * sizeof *b->order);
    b->y = tg__malloc((size_t)(rows ? rows : 1) * sizeof *b->y);
    if (!b->order || !b->y) goto nomem;
    b->x = tg_tensor_new(data->dtype, data->ndim, shape);
    if (!b->x) goto nomem;
    new_epoch(b);
    return b;
nomem:
    tg_batches_free(b);
    tg__set_last(TG_ERR_NOMEM, "batches_new: data %s: out of memory",
                 tg__shape_str(data, s, sizeof s));
    return NULL;
}

void tg_batches_reset(tg_batches *b)
{
    if (!b) {
        tg__set_last(TG_ERR_NULL, "batches_reset: iterator is NULL");
        return;
    }
    new_epoch(b);
}

/* floor(rows * k / parts) without forming the product, which can exceed
 * int64 (rows up to TG_NUMEL_MAX, k up to INT_MAX): with rows = q parts + s,
 * it is q k + floor(s k / parts), and s k < parts^2 < 2^62. */
static int64_t part_start(int64_t rows, int k, int parts)
{
    return rows / parts * k + rows % parts * k / parts;
}

bool tg_batches_next(tg_batches *b, tg_tensor **x, const int32_t **y, int64_t *n)
{
    if (x) *x = NULL;
    if (y) *y = NULL;
    if (n) *n = 0;
    if (!b) tg__set_last(TG_ERR_NULL, "batches_next: iterator is NULL");
    if (!b || b->cursor >= b->n) return false;
    int64_t r = b->n - b->cursor;
    if (r > b->batch) r = b->batch;
    if ((r < b->batch && b->drop_last) || r < b->nranks) {
        b->cursor = b->n;
        return false;
    }
    /* this rank's part of the global batch of r rows (tg_batches_shard) */
    const int64_t global = r, lo = part_start(global, b->rank, b->nranks);
    r = part_start(global, b->rank + 1, b->nranks) - lo;
    /* The short last batch: the same storage seen with a smaller first
     * extent (its capacity is min(batch, n) rows, never exceeded). */
    tg__bump_version(b->x); /* a tape that recorded the last batch must see the change */
    b->x->shape[0] = r;
    b->x->numel = r * (b->n ? b->data->numel / b->n : 0);
    unsigned char *dst = b->x->data;
    const unsigned char *src = b->data->data;
    for (int64_t k = 0; k < r; k++) {
        int64_t i = b->order[b->cursor + lo + k];
        memcpy(dst + (size_t)k * b->row_bytes, src + (size_t)i * b->row_bytes, b->row_bytes);
        if (b->labels) b->y[k] = b->labels[i];
    }
    b->cursor += global;
    if (x) *x = b->x;
    if (y) *y = b->labels ? b->y : NULL;
    if (n) *n = r;
    return true;
}

tg_status tg_batches_shard(tg_batches *b, int rank, int nranks)
{
    if (!b) {
        tg__set_last(TG_ERR_NULL, "batches_shard: iterator is NULL");
        return TG_ERR_NULL;
    }
    if (nranks < 1 || rank < 0 || rank >= nranks) {
        tg__set_last(TG_ERR_ARG, "batches_shard: rank %d of %d: need 0 <= rank < nranks", rank,
                     nranks);
        return TG_ERR_ARG;
    }
    b->rank = rank;
    b->nranks = nranks;
    return TG_OK;
}

void tg_batches_free(tg_batches *b)
{
    if (!b) return;
    tg_tensor_free(b->x);
    tg__free(b->y);
    tg__free(b->order);
    tg__free(b);
}
