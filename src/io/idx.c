/* IDX files (LeCun's MNIST format, also used by Fashion-MNIST), read through
 * zlib's gzread, which inflates .gz files and passes uncompressed files
 * through unchanged.
 *
 * Layout: a 4-byte magic 0x00 0x00 <type> <ndim>, then ndim big-endian
 * 32-bit extents, then prod(extents) values, row-major.  Type 0x08 is
 * unsigned byte (the only one MNIST uses, and the only one read here);
 * images are 0x00000803 (N, rows, cols), labels 0x00000801 (N).  The
 * header is distrusted: the extents' product is checked for overflow and
 * against what the (decompressed) stream actually holds, both ways.
 *
 * zlib allocates its own inflate state with malloc (gzopen has no allocator
 * hook); every other allocation here goes through tg__malloc. */
#include "../core/internal.h"

#include <errno.h>
#include <zlib.h>

#define IDX_UBYTE 0x08

/* Reads up to n bytes; returns the count read, or -1 on a stream error
 * (message in *err).  gzread takes an unsigned int, so large reads loop. */
static int64_t gz_read_all(gzFile g, unsigned char *dst, int64_t n, const char **err)
{
    int64_t got = 0;
    while (got < n) {
        int64_t want = n - got;
        if (want > (1 << 30)) want = 1 << 30;
        int r = gzread(g, dst + got, (unsigned)want);
        if (r < 0) {
            int code;
            *err = gzerror(g, &code);
            return -1;
        }
        if (r == 0) break;
        got += r;
    }
    return got;
}

typedef struct idx_header {
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    int64_t numel;
} idx_header;

/* Opens path and reads its header; want_ndim 0 accepts any rank. */
static gzFile idx_open(const char *fn, const char *path, int want_ndim, idx_header *h)
{
    errno = 0;
    gzFile g = gzopen(path, "rb");
    if (!g) {
        tg__set_last(errno == 0 ? TG_ERR_NOMEM : TG_ERR_IO, "%s: %s: cannot open: %s", fn, path,
                     errno ? strerror(errno) : "out of memory");
        return NULL;
    }
    unsigned char m[4];
    const char *zerr = NULL;
    int64_t r = gz_read_all(g, m, 4, &zerr);
    if (r != 4) {
        if (r < 0)
            tg__set_last(TG_ERR_IO, "%s: %s: %s", fn, path, zerr);
        else
            tg__set_last(TG_ERR_IO, "%s: %s: %lld bytes, shorter than the 4-byte IDX magic", fn,
                         path, (long long)r);
        gzclose(g);
        return NULL;
    }
    unsigned magic = (unsigned)m[0] << 24 | (unsigned)m[1] << 16 | (unsigned)m[2] << 8 | m[3];
    if (m[0] != 0 || m[1] != 0) {
        tg__set_last(TG_ERR_IO, "%s: %s: bad magic 0x%08x: not an IDX file", fn, path, magic);
        gzclose(g);
        return NULL;
    }
    if (m[2] != IDX_UBYTE) {
        tg__set_last(TG_ERR_IO,
                     "%s: %s: IDX element type 0x%02x (magic 0x%08x); only 0x08 (unsigned byte) "
                     "is supported",
                     fn, path, m[2], magic);
        gzclose(g);
        return NULL;
    }
    int nd = m[3];
    if (nd < 1 || nd > TG_MAX_DIMS || (want_ndim && nd != want_ndim)) {
        tg__set_last(TG_ERR_IO, "%s: %s: magic 0x%08x: %d dimensions, expected %s", fn, path, magic,
                     nd, want_ndim == 1 ? "1 (a label file, magic 0x00000801)" : "between 1 and 8");
        gzclose(g);
        return NULL;
    }
    unsigned char d[4 * TG_MAX_DIMS];
    r = gz_read_all(g, d, 4 * nd, &zerr);
    if (r != 4 * nd) {
        if (r < 0)
            tg__set_last(TG_ERR_IO, "%s: %s: %s", fn, path, zerr);
        else
            tg__set_last(TG_ERR_IO, "%s: %s: truncated header: %d extents need %d bytes, got %lld",
                         fn, path, nd, 4 * nd, (long long)r);
        gzclose(g);
        return NULL;
    }
    h->ndim = nd;
    h->numel = 1;
    for (int i = 0; i < nd; i++) {
        const unsigned char *b = d + 4 * i;
        h->shape[i] =
            (int64_t)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]);
        /* extents < 2^32: the product of 8 of them can overflow int64 */
        if (h->shape[i] && h->numel > INT64_MAX / 16 / h->shape[i]) {
            tg__set_last(TG_ERR_IO, "%s: %s: the extents' product overflows", fn, path);
            gzclose(g);
            return NULL;
        }
        h->numel *= h->shape[i];
    }
    return g;
}

/* Reads exactly numel data bytes into a fresh tg__malloc'd buffer and checks
 * that nothing follows.  The buffer grows with what the stream really holds
 * (doubling, capped at numel), so a corrupt header announcing gigabytes costs
 * no more memory than the file's actual content before it is reported. */
static unsigned char *idx_read_data(const char *fn, const char *path, gzFile g, const idx_header *h)
{
    int64_t cap = h->numel < (1 << 20) ? h->numel : (1 << 20), got = 0;
    unsigned char *buf = tg__malloc((size_t)(cap ? cap : 1));
    const char *zerr = NULL;
    for (;;) {
        if (!buf) {
            tg__set_last(TG_ERR_NOMEM, "%s: %s: out of memory reading %lld bytes", fn, path,
                         (long long)h->numel);
            return NULL;
        }
        int64_t r = gz_read_all(g, buf + got, cap - got, &zerr);
        if (r < 0) {
            tg__set_last(TG_ERR_IO, "%s: %s: %s", fn, path, zerr);
            tg__free(buf);
            return NULL;
        }
        got += r;
        if (got < cap || cap == h->numel) break;
        cap = cap > h->numel / 2 ? h->numel : 2 * cap;
        unsigned char *nb = tg__realloc(buf, (size_t)cap);
        if (!nb) tg__free(buf);
        buf = nb;
    }
    if (got != h->numel) {
        char s[TG_SHAPE_BUF];
        int64_t sh[TG_MAX_DIMS];
        memcpy(sh, h->shape, sizeof sh);
        tg_tensor view = {.ndim = h->ndim, .shape = sh};
        tg__set_last(TG_ERR_IO, "%s: %s: truncated: the header says %s = %lld bytes, got %lld", fn,
                     path, tg__shape_str(&view, s, sizeof s), (long long)h->numel, (long long)got);
        tg__free(buf);
        return NULL;
    }
    unsigned char extra;
    int64_t r = gz_read_all(g, &extra, 1, &zerr);
    if (r != 0) {
        if (r < 0)
            tg__set_last(TG_ERR_IO, "%s: %s: %s", fn, path, zerr);
        else
            tg__set_last(TG_ERR_IO, "%s: %s: data continues past the %lld bytes the header gives",
                         fn, path, (long long)h->numel);
        tg__free(buf);
        return NULL;
    }
    return buf;
}

tg_tensor *tg_idx_load(const char *path, tg_dtype dt, double scale)
{
    const char *fn = "idx_load";
    if (!path) {
        tg__set_last(TG_ERR_NULL, "%s: path is NULL", fn);
        return NULL;
    }
    if ((dt != TG_F32 && dt != TG_F64) || !isfinite(scale)) {
        tg__set_last(dt != TG_F32 && dt != TG_F64 ? TG_ERR_DTYPE : TG_ERR_ARG,
                     "%s: %s: dtype %d, scale %g: need F32 or F64 and a finite scale", fn, path,
                     (int)dt, scale);
        return NULL;
    }
    idx_header h;
    gzFile g = idx_open(fn, path, 0, &h);
    if (!g) return NULL;
    unsigned char *bytes = idx_read_data(fn, path, g, &h);
    gzclose(g);
    if (!bytes) return NULL;
    tg_tensor *t = tg_tensor_new(dt, h.ndim, h.shape);
    if (t)
        TG_DISPATCH(dt, T, {
            T *d = (T *)t->data;
            for (int64_t i = 0; i < h.numel; i++) d[i] = (T)((double)bytes[i] * scale);
        });
    tg__free(bytes);
    return t;
}

int32_t *tg_idx_load_labels(const char *path, int64_t *n)
{
    const char *fn = "idx_load_labels";
    if (n) *n = 0;
    if (!path || !n) {
        tg__set_last(TG_ERR_NULL, "%s: %s is NULL", fn, !path ? "path" : "n");
        return NULL;
    }
    idx_header h;
    gzFile g = idx_open(fn, path, 1, &h);
    if (!g) return NULL;
    unsigned char *bytes = idx_read_data(fn, path, g, &h);
    gzclose(g);
    if (!bytes) return NULL;
    int32_t *lab = tg__malloc((size_t)(h.numel ? h.numel : 1) * sizeof *lab);
    if (!lab) {
        tg__set_last(TG_ERR_NOMEM, "%s: %s: out of memory for %lld labels", fn, path,
                     (long long)h.numel);
    } else {
        for (int64_t i = 0; i < h.numel; i++) lab[i] = bytes[i];
        *n = h.numel;
    }
    tg__free(bytes);
    return lab;
}

void tg_idx_labels_free(int32_t *labels)
{
    tg__free(labels);
}
