/* Reading safetensors files (the format is described in safetensors.h):
 * the whole file read into memory, its header parsed (safetensors_json.c)
 * and every entry's shape, span and name checked before a byte of data is
 * touched, then tg_safetensors_load / tg_safetensors_load_into. */
#include "../core/internal.h"
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- reading: the file ---------------------------------------------------------------- */
typedef struct stfile {
    unsigned char *bytes; /* the whole file */
    size_t size;
    const unsigned char *buf; /* the byte buffer after the header */
    uint64_t buf_len;
    header h;
} stfile;

static void stfile_free(stfile *f)
{
    tg__st_header_free(&f->h);
    tg__free(f->bytes);
    *f = (stfile){0};
}

static int cmp_entry_offsets(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}
static int cmp_entry_names(const void *a, const void *b)
{
    return strcmp((*(const entry *const *)a)->name, (*(const entry *const *)b)->name);
}

static tg_status fail(tg_status s, const char *fn, const char *path, const char *msg)
{
    tg__set_last(s, "%s: %s: %s", fn, path, msg);
    return s;
}

/* Reads the whole of path into a fresh tg__malloc'd buffer (*size bytes).
 * The size fstat gives is only a first guess: a procfs file reports 0 and a
 * FIFO has none, so any file is read to its end.  A directory, device or
 * socket is refused: none holds a file's bytes, and a device such as
 * /dev/zero has no end. */
static tg_status read_whole(const char *fn, const char *path, unsigned char **out, size_t *size)
{
    char m[256];
    *out = NULL;
    *size = 0;
    int fd;
    do fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        snprintf(m, sizeof m, "cannot open: %s", strerror(errno));
        return fail(TG_ERR_IO, fn, path, m);
    }
    struct stat st;
    const char *bad = NULL;
    if (fstat(fd, &st) != 0) {
        snprintf(m, sizeof m, "cannot stat: %s", strerror(errno));
        bad = m;
    } else if (S_ISDIR(st.st_mode)) {
        bad = "is a directory";
    } else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        bad = "not a regular file or a FIFO";
    }
    if (bad) {
        close(fd);
        return fail(TG_ERR_IO, fn, path, bad);
    }
    /* one byte more than the file's size, so the read that sees the end
     * needs no second allocation */
    size_t cap = 1 << 16, n = 0;
    if (S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size < SIZE_MAX)
        cap = (size_t)st.st_size + 1;
    unsigned char *b = tg__malloc(cap);
    tg_status rs = TG_OK;
    for (;;) {
        if (!b) {
            snprintf(m, sizeof m, "out of memory reading %zu bytes", cap);
            rs = fail(TG_ERR_NOMEM, fn, path, m);
            break;
        }
        if (n == cap) {
            size_t nc;
            unsigned char *nb = tg__mul_size(cap, 2, &nc) ? tg__realloc(b, nc) : NULL;
            if (!nb) {
                tg__free(b);
                b = NULL;
                cap = tg__mul_size(cap, 2, &nc) ? nc : SIZE_MAX;
                continue;
            }
            b = nb;
            cap = nc;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(m, sizeof m, "read error: %s", strerror(errno));
            rs = fail(TG_ERR_IO, fn, path, m);
            break;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (rs != TG_OK) {
        tg__free(b);
        return rs;
    }
    *out = b;
    *size = n;
    return TG_OK;
}

/* Does entry e's span lie in the buffer and fit its shape and dtype? */
static tg_status check_entry_span(const char *fn, const char *path, const stfile *sf,
                                  const entry *e)
{
    char m[256];
    /* extents are < 2^63 (juint); their product is bounded by TG_NUMEL_MAX,
     * so count * 8 cannot wrap */
    int64_t count = 0;
    bool overflow = !tg__extents_product(e->ndim, e->shape, TG_NUMEL_MAX, &count);
    uint64_t need = overflow ? 0 : (uint64_t)count * e->dtype->size;
    if (e->begin > e->end || e->end > sf->buf_len) {
        snprintf(m, sizeof m,
                 "entry '%.60s': data_offsets [%llu, %llu] outside the %llu-byte buffer", e->name,
                 (unsigned long long)e->begin, (unsigned long long)e->end,
                 (unsigned long long)sf->buf_len);
        return fail(TG_ERR_IO, fn, path, m);
    }
    if (overflow) {
        char s[TG_SHAPE_BUF];
        int64_t sh[TG_MAX_DIMS];
        memcpy(sh, e->shape, sizeof sh);
        tg_tensor view = {.ndim = e->ndim, .shape = sh};
        snprintf(m, sizeof m, "entry '%.60s': shape %s: the element count overflows", e->name,
                 tg__shape_str(&view, s, sizeof s));
        return fail(TG_ERR_IO, fn, path, m);
    }
    if (need != e->end - e->begin) {
        snprintf(m, sizeof m,
                 "entry '%.60s': shape of %llu elements of %s needs %llu bytes, "
                 "data_offsets span %llu",
                 e->name, (unsigned long long)count, e->dtype->name, (unsigned long long)need,
                 (unsigned long long)(e->end - e->begin));
        return fail(TG_ERR_IO, fn, path, m);
    }
    return TG_OK;
}

/* Do the n entries by[], sorted by offset, tile the buffer exactly? */
static tg_status check_tiling(const char *fn, const char *path, const stfile *sf, entry *const *by,
                              int n)
{
    char m[256];
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (by[i]->begin != at) {
            if (by[i]->begin < at)
                snprintf(m, sizeof m,
                         "entry '%.60s': data_offsets [%llu, %llu] overlap the previous "
                         "entry (ending at %llu)",
                         by[i]->name, (unsigned long long)by[i]->begin,
                         (unsigned long long)by[i]->end, (unsigned long long)at);
            else
                snprintf(m, sizeof m,
                         "entry '%.60s': data_offsets [%llu, %llu] leave a gap after %llu",
                         by[i]->name, (unsigned long long)by[i]->begin,
                         (unsigned long long)by[i]->end, (unsigned long long)at);
            return fail(TG_ERR_IO, fn, path, m);
        }
        at = by[i]->end;
    }
    if (at != sf->buf_len) {
        snprintf(m, sizeof m, "the entries cover %llu bytes of a %llu-byte buffer",
                 (unsigned long long)at, (unsigned long long)sf->buf_len);
        return fail(TG_ERR_IO, fn, path, m);
    }
    return TG_OK;
}

/* Entries: shape vs span, names unique, spans tiling the buffer. */
static tg_status check_entries(const char *fn, const char *path, const stfile *sf)
{
    int n = sf->h.n;
    entry **by = tg__malloc((size_t)(n ? n : 1) * sizeof *by);
    if (!by) return fail(TG_ERR_NOMEM, fn, path, "out of memory");
    tg_status st = TG_OK;
    for (int i = 0; i < n && st == TG_OK; i++) {
        by[i] = &sf->h.e[i];
        st = check_entry_span(fn, path, sf, by[i]);
    }
    if (st == TG_OK && n > 1) {
        qsort(by, (size_t)n, sizeof *by, cmp_entry_names);
        for (int i = 1; i < n && st == TG_OK; i++)
            if (!strcmp(by[i - 1]->name, by[i]->name)) {
                char m[256];
                snprintf(m, sizeof m, "the name '%.60s' appears twice", by[i]->name);
                st = fail(TG_ERR_IO, fn, path, m);
            }
    }
    if (st == TG_OK) {
        if (n > 1) qsort(by, (size_t)n, sizeof *by, cmp_entry_offsets);
        st = check_tiling(fn, path, sf, by, n);
    }
    tg__free(by);
    return st;
}

/* Reads and validates a whole file: header length, JSON, every entry's
 * shape against its byte span, and the spans tiling the buffer. */
static tg_status stfile_read(const char *fn, const char *path, stfile *sf)
{
    *sf = (stfile){0};
    char m[256];
    tg_status rs = read_whole(fn, path, &sf->bytes, &sf->size);
    if (rs != TG_OK) return rs;
    if (sf->size < 8) {
        snprintf(m, sizeof m, "file is %zu bytes, shorter than the 8-byte header length", sf->size);
        stfile_free(sf);
        return fail(TG_ERR_IO, fn, path, m);
    }
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | sf->bytes[i];
    if (hl > sf->size - 8) {
        snprintf(m, sizeof m, "header length %llu exceeds the file size %zu",
                 (unsigned long long)hl, sf->size);
        stfile_free(sf);
        return fail(TG_ERR_IO, fn, path, m);
    }
    sf->buf = sf->bytes + 8 + hl;
    sf->buf_len = sf->size - 8 - hl;

    jparser j = {(const char *)sf->bytes + 8, (const char *)sf->bytes + 8 + hl, path, {0}};
    const char *jstart = j.p;
    bool oom = false;
    if (!tg__st_parse_header(&j, &sf->h, &oom)) {
        snprintf(m, sizeof m, "header: %s (near byte %td of the header)", j.err, j.p - jstart);
        stfile_free(sf);
        return fail(oom ? TG_ERR_NOMEM : TG_ERR_IO, fn, path, m);
    }
    tg_status st = check_entries(fn, path, sf);
    if (st != TG_OK) stfile_free(sf);
    return st;
}

static bool is_tensor_dtype(const entry *e)
{
    return !strcmp(e->dtype->name, "F32") || !strcmp(e->dtype->name, "F64") ||
           !strcmp(e->dtype->name, "I64");
}

/* The tensor dtype of an entry that is_tensor_dtype accepts. */
static tg_dtype entry_dtype(const entry *e)
{
    return !strcmp(e->dtype->name, "F64")   ? TG_F64
           : !strcmp(e->dtype->name, "I64") ? TG_I64
                                            : TG_F32;
}

static tg_status dtype_error(const char *fn, const char *path, const entry *e)
{
    char m[160];
    snprintf(m, sizeof m, "entry '%.60s' has dtype %s; tapegrad reads F32, F64 and I64 only",
             e->name, e->dtype->name);
    return fail(TG_ERR_DTYPE, fn, path, m);
}

/* Copies entry e's data into t (same element count; float dtypes converted,
 * an I64 entry only into an i64 tensor: the callers check). */
static void entry_to_tensor(const stfile *sf, const entry *e, tg_tensor *t)
{
    const unsigned char *src = sf->buf + e->begin;
    tg_dtype edt = entry_dtype(e);
    size_t es = tg_dtype_size(edt);
    if (edt == t->dtype) {
        tg__st_copy_le(t->data, src, (size_t)t->numel, es);
        return;
    }
    for (int64_t i = 0; i < t->numel; i++) {
        double v;
        if (edt == TG_F64) {
            tg__st_copy_le(&v, src + (size_t)i * 8, 1, 8);
        } else {
            float x;
            tg__st_copy_le(&x, src + (size_t)i * 4, 1, 4);
            v = x;
        }
        tg_tensor_set_flat(t, i, v);
    }
}

tg_status tg_safetensors_load(const char *path, tg_named_tensors *out)
{
    const char *fn = "safetensors_load";
    if (out) *out = (tg_named_tensors){0};
    if (!path || !out) {
        tg__set_last(TG_ERR_NULL, "%s: %s is NULL", fn, !path ? "path" : "out");
        return TG_ERR_NULL;
    }
    stfile sf;
    tg_status st = stfile_read(fn, path, &sf);
    if (st != TG_OK) return st;
    for (int i = 0; i < sf.h.n; i++)
        if (!is_tensor_dtype(&sf.h.e[i])) {
            st = dtype_error(fn, path, &sf.h.e[i]);
            stfile_free(&sf);
            return st;
        }
    int n = sf.h.n;
    out->names = tg__calloc((size_t)(n ? n : 1), sizeof *out->names);
    out->tensors = tg__calloc((size_t)(n ? n : 1), sizeof *out->tensors);
    if (!out->names || !out->tensors) {
        st = fail(TG_ERR_NOMEM, fn, path, "out of memory");
        goto fail_out;
    }
    /* In name order, as written. */
    entry **by = tg__malloc((size_t)(n ? n : 1) * sizeof *by);
    if (!by) {
        st = fail(TG_ERR_NOMEM, fn, path, "out of memory");
        goto fail_out;
    }
    for (int i = 0; i < n; i++) by[i] = &sf.h.e[i];
    if (n > 1) qsort(by, (size_t)n, sizeof *by, cmp_entry_names);
    for (int i = 0; i < n; i++) {
        entry *e = by[i];
        tg_tensor *t = tg_tensor_new(entry_dtype(e), e->ndim, e->shape);
        if (!t) {
            st = tg_last_status();
            char m[160];
            snprintf(m, sizeof m, "entry '%.60s': %s", e->name, tg_last_error());
            fail(st, fn, path, m);
            tg__free(by);
            goto fail_out;
        }
        entry_to_tensor(&sf, e, t);
        out->tensors[out->n] = t;
        out->names[out->n] = e->name; /* ownership moves to out */
        e->name = NULL;
        out->n++;
    }
    tg__free(by);
    stfile_free(&sf);
    tg__clear_last();
    return TG_OK;
fail_out:
    tg_named_tensors_free(out);
    stfile_free(&sf);
    return st;
}

void tg_named_tensors_free(tg_named_tensors *t)
{
    if (!t) return;
    for (int i = 0; i < t->n; i++) {
        if (t->names) tg__free(t->names[i]);
        if (t->tensors) tg_tensor_free(t->tensors[i]);
    }
    tg__free(t->names);
    tg__free(t->tensors);
    *t = (tg_named_tensors){0};
}

tg_status tg_safetensors_load_into(const char *path, int n, const char *const *names,
                                   tg_tensor *const *tensors)
{
    const char *fn = "safetensors_load_into";
    if (!path || (n > 0 && (!names || !tensors))) {
        tg__set_last(TG_ERR_NULL, "%s: %s is NULL", fn,
                     !path    ? "path"
                     : !names ? "names"
                              : "tensors");
        return TG_ERR_NULL;
    }
    if (n < 0) {
        tg__set_last(TG_ERR_ARG, "%s: %s: %d tensors", fn, path, n);
        return TG_ERR_ARG;
    }
    for (int i = 0; i < n; i++)
        if (!names[i] || !tensors[i]) {
            tg__set_last(TG_ERR_NULL, "%s: %s: %s %d is NULL", fn, path,
                         !names[i] ? "name" : "tensor", i);
            return TG_ERR_NULL;
        }
    stfile sf;
    tg_status st = stfile_read(fn, path, &sf);
    if (st != TG_OK) return st;
    entry **match = tg__malloc((size_t)(n ? n : 1) * sizeof *match);
    if (!match) {
        stfile_free(&sf);
        return fail(TG_ERR_NOMEM, fn, path, "out of memory");
    }
    /* Check every requested tensor before writing any, so a failure leaves
     * all of them unchanged. */
    char m[256];
    for (int i = 0; i < n && st == TG_OK; i++) {
        match[i] = NULL;
        for (int k = 0; k < sf.h.n; k++)
            if (!strcmp(sf.h.e[k].name, names[i])) match[i] = &sf.h.e[k];
        const entry *e = match[i];
        if (!e) {
            snprintf(m, sizeof m, "no entry named '%.60s'", names[i]);
            st = fail(TG_ERR_IO, fn, path, m);
        } else if (!is_tensor_dtype(e)) {
            st = dtype_error(fn, path, e);
        } else if ((entry_dtype(e) == TG_I64) != (tensors[i]->dtype == TG_I64)) {
            /* integers and floats are not converted: a label file read
             * into weights (or back) is a mix-up, not a cast */
            snprintf(m, sizeof m,
                     "entry '%.60s' has dtype %s, the tensor %s (integer and "
                     "floating-point data are not converted)",
                     e->name, e->dtype->name, tg_dtype_name(tensors[i]->dtype));
            st = fail(TG_ERR_DTYPE, fn, path, m);
        } else if (e->ndim != tensors[i]->ndim ||
                   memcmp(e->shape, tensors[i]->shape, (size_t)e->ndim * sizeof(int64_t))) {
            char a[TG_SHAPE_BUF], b[TG_SHAPE_BUF];
            int64_t sh[TG_MAX_DIMS];
            memcpy(sh, e->shape, sizeof sh);
            tg_tensor view = {.ndim = e->ndim, .shape = sh};
            snprintf(m, sizeof m, "entry '%.60s' has shape %s, the tensor %s", e->name,
                     tg__shape_str(&view, a, sizeof a), tg__shape_str(tensors[i], b, sizeof b));
            st = fail(TG_ERR_SHAPE, fn, path, m);
        }
    }
    if (st == TG_OK)
        for (int i = 0; i < n; i++) {
            tg__bump_version(tensors[i]); /* a tape that recorded it must see the change */
            entry_to_tensor(&sf, match[i], tensors[i]);
        }
    tg__free(match);
    stfile_free(&sf);
    return st;
}
