/* IDX files (LeCun's MNIST format, also used by Fashion-MNIST), plain or
 * gzip'd.
 *
 * Layout: a 4-byte magic 0x00 0x00 <type> <ndim>, then ndim big-endian
 * 32-bit extents, then prod(extents) values, row-major.  Type 0x08 is
 * unsigned byte (the only one MNIST uses, and the only one read here);
 * images are 0x00000803 (N, rows, cols), labels 0x00000801 (N).
 *
 * Everything in the file is distrusted.  The extents' product is checked
 * for overflow and against what the file holds, both ways: a plain regular
 * file's length is compared with the header before anything is allocated;
 * a gzip'd file (whose length says nothing about its content) is held to a
 * cap on the result's bytes, checked against the header before anything is
 * allocated, and its buffer grows only with the data actually inflated.
 *
 * gzip is inflated here with zlib's inflate rather than gzread, because
 * gzread hides what a distrustful reader must see: it reports a member cut
 * inside its trailer (CRC-32 and length) only through gzclose, silently
 * ignores bytes after the last member, and puts the path into its own
 * messages.  Concatenated members are legal gzip (`cat a.gz b.gz`) and read
 * as one stream; anything else after the last member is an error, zero
 * padding included (gzip(1) itself warns about it, and a dataset file has
 * no reason to carry any).  zlib allocates through tg__malloc like
 * everything else, so its failures are TG_ERR_NOMEM too. */
#include "../core/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_UBYTE 0x08
#define IDX_BUF   (1 << 16) /* raw bytes read from the file at a time */

/* An open IDX file: the raw bytes pass through buf (z.next_in / z.avail_in
 * mark the unread part, in both modes), inflated when gz. */
typedef struct idx_in {
    const char *fn, *path;
    int fd;
    struct stat st;
    bool gz, zinit;
    bool member_end; /* inflate has finished a member: what follows must be another */
    bool eof;        /* read() has returned 0 */
    unsigned char *buf;
    z_stream z;
} idx_in;

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    size_t n;
    (void)opaque;
    return tg__mul_size(items, size, &n) ? tg__malloc(n) : Z_NULL;
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    tg__free(p);
}

static void io_error(idx_in *s, const char *what)
{
    tg__set_last(TG_ERR_IO, "%s: %s: %s", s->fn, s->path, what);
}

static ssize_t read_fd(idx_in *s, void *dst, size_t n)
{
    ssize_t r;
    do r = read(s->fd, dst, n);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        char m[128];
        snprintf(m, sizeof m, "read error: %s", strerror(errno));
        io_error(s, m);
    } else if (r == 0) {
        s->eof = true;
    }
    return r;
}

/* Makes at least k (<= IDX_BUF) unread raw bytes available unless the file
 * ends first; returns how many are, or -1 on a read error. */
static int64_t raw_need(idx_in *s, size_t k)
{
    while (s->z.avail_in < k && !s->eof) {
        if (s->z.next_in != s->buf) {
            memmove(s->buf, s->z.next_in, s->z.avail_in);
            s->z.next_in = s->buf;
        }
        ssize_t r = read_fd(s, s->buf + s->z.avail_in, IDX_BUF - s->z.avail_in);
        if (r < 0) return -1;
        s->z.avail_in += (uInt)r;
    }
    return s->z.avail_in;
}

/* Up to n bytes of a plain file; the count read, or -1 (last error set). */
static int64_t plain_read(idx_in *s, unsigned char *dst, int64_t n)
{
    int64_t got = 0;
    while (got < n) {
        if (s->z.avail_in) {
            size_t k = s->z.avail_in < (uint64_t)(n - got) ? s->z.avail_in : (size_t)(n - got);
            memcpy(dst + got, s->z.next_in, k);
            s->z.next_in += k;
            s->z.avail_in -= (uInt)k;
            got += (int64_t)k;
            continue;
        }
        if (s->eof) break;
        /* straight into dst: the buffer holds nothing */
        size_t want = (uint64_t)(n - got) > (1u << 30) ? (1u << 30) : (size_t)(n - got);
        ssize_t r = read_fd(s, dst + got, want);
        if (r < 0) return -1;
        got += r;
    }
    return got;
}

/* zlib's message for a member that does not match its trailer, or another
 * corruption, as a sentence of ours. */
static void gz_data_error(idx_in *s)
{
    const char *zm = s->z.msg ? s->z.msg : "corrupt data";
    char m[160];
    if (!strcmp(zm, "incorrect data check"))
        snprintf(m, sizeof m, "gzip: a member's CRC-32 does not match its data");
    else if (!strcmp(zm, "incorrect length check"))
        snprintf(m, sizeof m, "gzip: a member's length field does not match its data");
    else
        snprintf(m, sizeof m, "gzip: corrupt data: %s", zm);
    io_error(s, m);
}

/* Up to n inflated bytes; fewer only at the true end of the file, after a
 * whole member.  The count, or -1 (last error set). */
static int64_t gz_read(idx_in *s, unsigned char *dst, int64_t n)
{
    int64_t got = 0;
    while (got < n) {
        if (s->member_end) {
            /* another member, or the end of the file */
            int64_t have = raw_need(s, 2);
            if (have < 0) return -1;
            if (have == 0) break;
            if (have < 2 || s->z.next_in[0] != 0x1f || s->z.next_in[1] != 0x8b) {
                io_error(s, "gzip: trailing bytes after the last member (not another gzip "
                            "member)");
                return -1;
            }
            if (inflateReset(&s->z) != Z_OK) {
                io_error(s, "gzip: cannot restart inflate");
                return -1;
            }
            s->member_end = false;
        }
        if (raw_need(s, 1) < 0) return -1;
        if (!s->z.avail_in) {
            io_error(s, "gzip: the file ends inside a compressed member (cut short)");
            return -1;
        }
        uInt chunk = (uint64_t)(n - got) > (1u << 30) ? (1u << 30) : (uInt)(n - got);
        s->z.next_out = dst + got;
        s->z.avail_out = chunk;
        int ret = inflate(&s->z, Z_NO_FLUSH);
        got += chunk - s->z.avail_out;
        if (ret == Z_STREAM_END) {
            s->member_end = true;
        } else if (ret == Z_MEM_ERROR) {
            tg__set_last(TG_ERR_NOMEM, "%s: %s: out of memory inflating", s->fn, s->path);
            return -1;
        } else if (ret == Z_DATA_ERROR || ret == Z_NEED_DICT) {
            gz_data_error(s);
            return -1;
        } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
            /* Z_BUF_ERROR: no progress for want of input; the next pass
             * reads more or reports the cut */
            io_error(s, "gzip: inflate failed");
            return -1;
        }
    }
    return got;
}

static int64_t in_read(idx_in *s, unsigned char *dst, int64_t n)
{
    return s->gz ? gz_read(s, dst, n) : plain_read(s, dst, n);
}

static void in_close(idx_in *s)
{
    if (s->zinit) inflateEnd(&s->z);
    if (s->fd >= 0) close(s->fd);
    tg__free(s->buf);
    s->zinit = false;
    s->fd = -1;
    s->buf = NULL;
}

/* Opens path: a regular file or a FIFO (read to its end), gzip when it
 * starts with gzip's magic 1f 8b. */
static bool in_open(idx_in *s, const char *fn, const char *path)
{
    *s = (idx_in){.fn = fn, .path = path, .fd = -1};
    do s->fd = open(path, O_RDONLY | O_CLOEXEC);
    while (s->fd < 0 && errno == EINTR);
    if (s->fd < 0) {
        tg__set_last(TG_ERR_IO, "%s: %s: cannot open: %s", fn, path, strerror(errno));
        return false;
    }
    const char *bad = NULL;
    char m[128];
    if (fstat(s->fd, &s->st) != 0) {
        snprintf(m, sizeof m, "cannot stat: %s", strerror(errno));
        bad = m;
    } else if (S_ISDIR(s->st.st_mode)) {
        bad = "is a directory";
    } else if (!S_ISREG(s->st.st_mode) && !S_ISFIFO(s->st.st_mode)) {
        bad = "not a regular file or a FIFO"; /* a device may have no end */
    }
    if (bad) {
        io_error(s, bad);
        in_close(s);
        return false;
    }
    s->buf = tg__malloc(IDX_BUF);
    if (!s->buf) {
        tg__set_last(TG_ERR_NOMEM, "%s: %s: out of memory", fn, path);
        in_close(s);
        return false;
    }
    s->z.next_in = s->buf;
    int64_t have = raw_need(s, 2);
    if (have < 0) {
        in_close(s);
        return false;
    }
    s->gz = have >= 2 && s->buf[0] == 0x1f && s->buf[1] == 0x8b;
    if (s->gz) {
        s->z.zalloc = z_alloc;
        s->z.zfree = z_free;
        s->z.opaque = Z_NULL;
        int r = inflateInit2(&s->z, 16 + MAX_WBITS); /* gzip wrapper only */
        if (r != Z_OK) {
            tg__set_last(r == Z_MEM_ERROR ? TG_ERR_NOMEM : TG_ERR_IO, "%s: %s: %s", fn, path,
                         r == Z_MEM_ERROR ? "out of memory" : "gzip: cannot start inflate");
            in_close(s);
            return false;
        }
        s->zinit = true;
    }
    return true;
}

typedef struct idx_header {
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    int64_t numel;
} idx_header;

/* Reads the header; want_ndim 0 accepts any rank. */
static bool idx_header_read(idx_in *s, int want_ndim, idx_header *h)
{
    const char *fn = s->fn, *path = s->path;
    unsigned char m[4];
    int64_t r = in_read(s, m, 4);
    if (r != 4) {
        if (r >= 0)
            tg__set_last(TG_ERR_IO, "%s: %s: %lld bytes, shorter than the 4-byte IDX magic", fn,
                         path, (long long)r);
        return false;
    }
    unsigned magic = (unsigned)m[0] << 24 | (unsigned)m[1] << 16 | (unsigned)m[2] << 8 | m[3];
    if (m[0] != 0 || m[1] != 0) {
        tg__set_last(TG_ERR_IO, "%s: %s: bad magic 0x%08x: not an IDX file", fn, path, magic);
        return false;
    }
    if (m[2] != IDX_UBYTE) {
        tg__set_last(TG_ERR_IO,
                     "%s: %s: IDX element type 0x%02x (magic 0x%08x); only 0x08 (unsigned byte) "
                     "is supported",
                     fn, path, m[2], magic);
        return false;
    }
    int nd = m[3];
    if (nd < 1 || nd > TG_MAX_DIMS || (want_ndim && nd != want_ndim)) {
        tg__set_last(TG_ERR_IO, "%s: %s: magic 0x%08x: %d dimensions, expected %s", fn, path, magic,
                     nd, want_ndim == 1 ? "1 (a label file, magic 0x00000801)" : "between 1 and 8");
        return false;
    }
    unsigned char d[4 * TG_MAX_DIMS];
    r = in_read(s, d, 4 * nd);
    if (r != 4 * nd) {
        if (r >= 0)
            tg__set_last(TG_ERR_IO, "%s: %s: truncated header: %d extents need %d bytes, got %lld",
                         fn, path, nd, 4 * nd, (long long)r);
        return false;
    }
    h->ndim = nd;
    for (int i = 0; i < nd; i++) {
        const unsigned char *b = d + 4 * i;
        h->shape[i] =
            (int64_t)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]);
    }
    /* extents < 2^32: the product of 8 of them can overflow int64 */
    if (!tg__extents_product(nd, h->shape, TG_NUMEL_MAX, &h->numel)) {
        tg__set_last(TG_ERR_IO, "%s: %s: the extents' product overflows", fn, path);
        return false;
    }
    return true;
}

static const char *shape_str(const idx_header *h, char *buf, size_t n)
{
    int64_t sh[TG_MAX_DIMS];
    memcpy(sh, h->shape, sizeof sh);
    tg_tensor view = {.ndim = h->ndim, .shape = sh};
    return tg__shape_str(&view, buf, n);
}

static void truncated_error(const idx_in *s, const idx_header *h, int64_t got)
{
    char b[TG_SHAPE_BUF];
    tg__set_last(TG_ERR_IO, "%s: %s: truncated: the header says %s = %lld bytes, got %lld", s->fn,
                 s->path, shape_str(h, b, sizeof b), (long long)h->numel, (long long)got);
}

static void trailing_error(const idx_in *s, const idx_header *h)
{
    tg__set_last(TG_ERR_IO, "%s: %s: data continues past the %lld bytes the header gives", s->fn,
                 s->path, (long long)h->numel);
}

/* Checks the size the header declares before anything is allocated for the
 * data: a plain regular file must be exactly as long as the header says
 * (the precise diagnosis, so it comes first), and the result (es bytes per
 * element, named as) must fit under max_bytes. */
static bool idx_check_size(const idx_in *s, const idx_header *h, int64_t es, const char *as,
                           int64_t max_bytes)
{
    if (!s->gz && S_ISREG(s->st.st_mode)) {
        int64_t data = (int64_t)s->st.st_size - 4 - 4 * (int64_t)h->ndim;
        if (data < h->numel) {
            truncated_error(s, h, data);
            return false;
        }
        if (data > h->numel) {
            trailing_error(s, h);
            return false;
        }
    }
    int64_t bytes = h->numel * es; /* numel <= TG_NUMEL_MAX, es <= 8 */
    if (bytes > max_bytes) {
        char b[TG_SHAPE_BUF];
        tg__set_last(TG_ERR_NOMEM,
                     "%s: %s: the header's shape %s needs %lld bytes as %s, over the limit of "
                     "%lld (tg_idx_options.max_bytes)",
                     s->fn, s->path, shape_str(h, b, sizeof b), (long long)bytes, as,
                     (long long)max_bytes);
        return false;
    }
    return true;
}

/* Reads exactly numel data bytes into a fresh tg__malloc'd buffer and checks
 * that nothing follows (for gzip, this also checks the last member's
 * trailer).  The buffer grows with what the stream really holds (doubling,
 * capped at numel), so a header announcing more than the file holds costs
 * no more memory than the file's actual content before it is reported. */
static unsigned char *idx_read_data(idx_in *s, const idx_header *h)
{
    int64_t cap = h->numel < IDX_BUF ? h->numel : IDX_BUF, got = 0;
    if (!s->gz && S_ISREG(s->st.st_mode)) cap = h->numel; /* the length was checked */
    unsigned char *buf = tg__malloc((size_t)(cap ? cap : 1));
    for (;;) {
        if (!buf) {
            tg__set_last(TG_ERR_NOMEM, "%s: %s: out of memory reading %lld bytes", s->fn, s->path,
                         (long long)h->numel);
            return NULL;
        }
        int64_t r = in_read(s, buf + got, cap - got);
        if (r < 0) {
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
        truncated_error(s, h, got);
        tg__free(buf);
        return NULL;
    }
    unsigned char extra;
    int64_t r = in_read(s, &extra, 1);
    if (r != 0) {
        if (r > 0) trailing_error(s, h);
        tg__free(buf);
        return NULL;
    }
    return buf;
}

/* Opens, reads the header, checks the declared size, reads the data. */
static unsigned char *idx_load_bytes(const char *fn, const char *path, int want_ndim, int64_t es,
                                     const char *as, const tg_idx_options *opts, idx_header *h)
{
    int64_t max_bytes = opts && opts->max_bytes ? opts->max_bytes : TG_IDX_MAX_BYTES_DEFAULT;
    if (max_bytes < 0) {
        tg__set_last(TG_ERR_ARG, "%s: %s: max_bytes %lld is negative", fn, path,
                     (long long)max_bytes);
        return NULL;
    }
    idx_in s;
    if (!in_open(&s, fn, path)) return NULL;
    unsigned char *bytes = NULL;
    if (idx_header_read(&s, want_ndim, h) && idx_check_size(&s, h, es, as, max_bytes))
        bytes = idx_read_data(&s, h);
    in_close(&s);
    return bytes;
}

tg_tensor *tg_idx_load_ex(const char *path, tg_dtype dt, double scale, const tg_idx_options *opts)
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
    unsigned char *bytes =
        idx_load_bytes(fn, path, 0, (int64_t)tg_dtype_size(dt), tg_dtype_name(dt), opts, &h);
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

tg_tensor *tg_idx_load(const char *path, tg_dtype dt, double scale)
{
    return tg_idx_load_ex(path, dt, scale, NULL);
}

int32_t *tg_idx_load_labels_ex(const char *path, int64_t *n, const tg_idx_options *opts)
{
    const char *fn = "idx_load_labels";
    if (n) *n = 0;
    if (!path || !n) {
        tg__set_last(TG_ERR_NULL, "%s: %s is NULL", fn, !path ? "path" : "n");
        return NULL;
    }
    idx_header h;
    unsigned char *bytes =
        idx_load_bytes(fn, path, 1, (int64_t)sizeof(int32_t), "int32 labels", opts, &h);
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

int32_t *tg_idx_load_labels(const char *path, int64_t *n)
{
    return tg_idx_load_labels_ex(path, n, NULL);
}

void tg_idx_labels_free(int32_t *labels)
{
    tg__free(labels);
}
