/* Saving tensors in the safetensors format (the format is described in
 * safetensors.h): the header written as JSON in name order, the data after
 * it, all into a temporary file renamed over the target so a failed save
 * never leaves a half-written file.  The byte-order helpers here are shared
 * with the reader. */
#include "../core/internal.h"
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- small helpers --------------------------------------------------------- */
bool tg__st_host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Copies n elements of size es from src to dst reversing the bytes of each
 * when the host is big-endian (the file is always little-endian). */
void tg__st_copy_le(void *dst, const void *src, size_t n, size_t es)
{
    if (tg__st_host_little_endian()) {
        if (n) memcpy(dst, src, n * es);
        return;
    }
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < es; k++) d[i * es + k] = s[i * es + es - 1 - k];
}

/* ---- a growable byte string (for writing the header) -------------------------- */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = tg__realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}
static void sb_fmt_u64(sbuf *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    sb_put(b, tmp, (size_t)n);
}
/* A JSON string literal: quotes, backslashes and control bytes escaped;
 * other bytes (UTF-8) copied as they are. */
static void sb_json_str(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char e[2] = {'\\', (char)*c};
            sb_put(b, e, 2);
        } else if (*c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", *c);
            sb_put(b, e, 6);
        } else {
            sb_put(b, (const char *)c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* ---- writing ----------------------------------------------------------------------- */
/* A tg__malloc'd copy of the first n bytes of s followed by t. */
static char *concat(const char *s, size_t n, const char *t)
{
    size_t tn = strlen(t), len;
    char *r = tg__add_size(n, tn, &len) && tg__add_size(len, 1, &len) ? tg__malloc(len) : NULL;
    if (!r) return NULL;
    memcpy(r, s, n);
    memcpy(r + n, t, tn + 1);
    return r;
}

/* The file a save replaces: path itself, or, when path is a symbolic link,
 * the file its chain of links ends at (a relative target taken from the
 * link's own directory, as the kernel does), so that the save updates what
 * the link points to and the link stays a link.  A dangling link's target
 * is created.  A tg__malloc'd string, or NULL with the last error set. */
static char *save_target(const char *fn, const char *path)
{
    char *cur = concat(path, strlen(path), "");
    for (int hops = 0; cur; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) return cur; /* not a link */
        int err = 0;
        char *to = NULL;
        if (hops == 40) { /* the kernel's own limit (SYMLOOP_MAX on Linux) */
            err = ELOOP;
        } else {
            /* st_size is the target's length, but the link may change
             * between lstat and readlink: grow until it fits */
            size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 256;
            for (;;) {
                to = tg__malloc(cap);
                if (!to) break;
                ssize_t r = readlink(cur, to, cap);
                if (r < 0) err = errno;
                if (r < 0 || (size_t)r < cap) {
                    if (r >= 0) to[r] = '\0';
                    break;
                }
                tg__free(to);
                to = NULL;
                if (!tg__mul_size(cap, 2, &cap)) break;
            }
            if (!to && !err) {
                tg__free(cur);
                tg__set_last(TG_ERR_NOMEM, "%s: %s: out of memory", fn, path);
                return NULL;
            }
        }
        if (err) {
            tg__free(to);
            tg__free(cur);
            tg__set_last(TG_ERR_IO, "%s: %s: cannot resolve the symbolic link: %s", fn, path,
                         strerror(err));
            return NULL;
        }
        const char *slash = strrchr(cur, '/');
        char *next = to[0] == '/' || !slash ? concat(to, strlen(to), "")
                                            : concat(cur, (size_t)(slash + 1 - cur), to);
        tg__free(to);
        tg__free(cur);
        cur = next;
    }
    tg__set_last(TG_ERR_NOMEM, "%s: %s: out of memory", fn, path);
    return NULL;
}

/* Creates a new file beside target, under a name no other save (thread or
 * process) uses, opened with O_EXCL so an existing file is never taken over.
 * Mode 0666 as fopen would give, so the kernel applies the umask (and a
 * default ACL) exactly as for a file the user creates.  Returns the open
 * stream and its name in *tmp (tg__malloc'd), or NULL with the last error
 * set. */
static FILE *create_temp(const char *fn, const char *path, const char *target, char **tmp)
{
    static unsigned long counter;
    const char *slash = strrchr(target, '/');
    size_t dirlen = slash ? (size_t)(slash + 1 - target) : 0;
    *tmp = NULL;
    for (int attempt = 0; attempt < 100; attempt++) {
        char suffix[64];
        unsigned long k = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        snprintf(suffix, sizeof suffix, ".%ld.%lu.tmp", (long)getpid(), k);
        /* the base name cut to 200 bytes, so that the suffix cannot push
         * a long name past NAME_MAX */
        char *base = concat(target + dirlen, strnlen(target + dirlen, 200), suffix);
        char *name = base ? concat(target, dirlen, base) : NULL;
        tg__free(base);
        if (!name) {
            tg__set_last(TG_ERR_NOMEM, "%s: %s: out of memory", fn, path);
            return NULL;
        }
        int fd;
        do fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        while (fd < 0 && errno == EINTR);
        if (fd < 0 && errno == EEXIST) { /* a name another program chose: the next one */
            tg__free(name);
            continue;
        }
        if (fd < 0) {
            int err = errno;
            tg__free(name);
            tg__set_last(TG_ERR_IO, "%s: %s: cannot create a temporary file in %.*s: %s", fn, path,
                         dirlen ? (int)(dirlen > 1 ? dirlen - 1 : 1) : 1, dirlen ? target : ".",
                         strerror(err));
            return NULL;
        }
        FILE *f = fdopen(fd, "wb");
        if (!f) {
            int err = errno;
            close(fd);
            remove(name);
            tg__free(name);
            tg__set_last(err == ENOMEM ? TG_ERR_NOMEM : TG_ERR_IO, "%s: %s: cannot open: %s", fn,
                         path, strerror(err));
            return NULL;
        }
        *tmp = name;
        return f;
    }
    tg__set_last(TG_ERR_IO, "%s: %s: no free temporary name beside it", fn, path);
    return NULL;
}

/* Sorts the indices order[0..n) by name: an insertion sort, since qsort
 * has no context argument in C11 and a global one would not be
 * thread-safe (parameter lists are short). */
static void sort_by_name(int *order, int n, const char *const *names)
{
    for (int i = 1; i < n; i++) {
        int v = order[i], k = i;
        while (k > 0 && strcmp(names[order[k - 1]], names[v]) > 0) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = v;
    }
}

/* The arguments' checks: no NULL, no reserved name. */
static tg_status save_check_args(const char *path, int n, const char *const *names,
                                 tg_tensor *const *tensors)
{
    if (!path || (n > 0 && (!names || !tensors))) {
        tg__set_last(TG_ERR_NULL, "safetensors_save: %s is NULL",
                     !path    ? "path"
                     : !names ? "names"
                              : "tensors");
        return TG_ERR_NULL;
    }
    if (n < 0) {
        tg__set_last(TG_ERR_ARG, "safetensors_save: %s: %d tensors", path, n);
        return TG_ERR_ARG;
    }
    for (int i = 0; i < n; i++) {
        if (!names[i] || !tensors[i]) {
            tg__set_last(TG_ERR_NULL, "safetensors_save: %s: %s %d is NULL", path,
                         !names[i] ? "name" : "tensor", i);
            return TG_ERR_NULL;
        }
        if (!strcmp(names[i], META_KEY)) {
            tg__set_last(TG_ERR_ARG, "safetensors_save: %s: the name \"%s\" is reserved", path,
                         META_KEY);
            return TG_ERR_ARG;
        }
    }
    return TG_OK;
}

/* The tensors' indices in name order (a fresh tg__malloc'd array), or NULL
 * (last error set) on out of memory or a name used twice. */
static int *save_order(const char *path, int n, const char *const *names)
{
    int *order = tg__malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    if (!order) {
        tg__set_last(TG_ERR_NOMEM, "safetensors_save: %s: out of memory", path);
        return NULL;
    }
    for (int i = 0; i < n; i++) order[i] = i;
    sort_by_name(order, n, names);
    for (int i = 1; i < n; i++)
        if (!strcmp(names[order[i - 1]], names[order[i]])) {
            tg__set_last(TG_ERR_ARG, "safetensors_save: %s: the name \"%s\" is used twice", path,
                         names[order[i]]);
            tg__free(order);
            return NULL;
        }
    return order;
}

/* The header, in name order, data laid out in the same order, padded so
 * the buffer starts 8-aligned (h->oom on out of memory). */
static void save_header(sbuf *h, int n, const char *const *names, tg_tensor *const *tensors,
                        const int *order)
{
    sb_str(h, "{");
    uint64_t off = 0;
    for (int k = 0; k < n; k++) {
        const tg_tensor *t = tensors[order[k]];
        uint64_t bytes = (uint64_t)t->numel * tg_dtype_size(t->dtype);
        if (k) sb_str(h, ",");
        sb_json_str(h, names[order[k]]);
        sb_str(h, ":{\"dtype\":\"");
        sb_str(h, t->dtype == TG_F64 ? "F64" : t->dtype == TG_I64 ? "I64" : "F32");
        sb_str(h, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) sb_str(h, ",");
            sb_fmt_u64(h, (uint64_t)t->shape[d]);
        }
        sb_str(h, "],\"data_offsets\":[");
        sb_fmt_u64(h, off);
        sb_str(h, ",");
        sb_fmt_u64(h, off + bytes);
        sb_str(h, "]}");
        off += bytes;
    }
    sb_str(h, "}");
    while (!h->oom && h->len % 8) sb_str(h, " "); /* the buffer starts 8-aligned */
}

/* Writes the header length, the header and the tensors' data in order to
 * f; false on a failed write (errno says why), or on out of memory (*st,
 * last error set). */
static bool save_write(FILE *f, const char *path, const sbuf *h, int n, tg_tensor *const *tensors,
                       const int *order, tg_status *st)
{
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h->len >> (8 * i));
    bool ok = fwrite(len8, 1, 8, f) == 8 && fwrite(h->p, 1, h->len, f) == h->len;
    for (int k = 0; ok && k < n; k++) {
        const tg_tensor *t = tensors[order[k]];
        size_t es = tg_dtype_size(t->dtype), ne = (size_t)t->numel;
        if (!ne) continue;
        if (tg__st_host_little_endian()) {
            ok = fwrite(t->data, es, ne, f) == ne;
            continue;
        }
        unsigned char *conv = tg__malloc(ne * es);
        if (!conv) {
            *st = TG_ERR_NOMEM;
            tg__set_last(*st, "safetensors_save: %s: out of memory", path);
            break;
        }
        tg__st_copy_le(conv, t->data, ne, es);
        ok = fwrite(conv, es, ne, f) == ne;
        tg__free(conv);
    }
    return ok;
}

tg_status tg_safetensors_save(const char *path, int n, const char *const *names,
                              tg_tensor *const *tensors)
{
    tg_status st = save_check_args(path, n, names, tensors);
    if (st != TG_OK) return st;
    int *order = save_order(path, n, names);
    if (!order) return tg_last_status();
    sbuf h = {0};
    save_header(&h, n, names, tensors, order);
    if (h.oom) {
        tg__free(h.p);
        tg__free(order);
        tg__set_last(TG_ERR_NOMEM, "safetensors_save: %s: out of memory for the header", path);
        return TG_ERR_NOMEM;
    }

    /* Write a new file beside the target and rename it over the target, so
     * a failed save never leaves a half-written file under the real name,
     * and a reader sees either the old file or the new one, whole. */
    char *tmp = NULL, *target = save_target("safetensors_save", path);
    FILE *f = target ? create_temp("safetensors_save", path, target, &tmp) : NULL;
    if (!f) {
        st = tg_last_status();
        goto done;
    }
    bool ok = save_write(f, path, &h, n, tensors, order, &st);
    int werr = ok ? 0 : errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        werr = errno;
    }
    if (st == TG_OK && !ok) {
        st = TG_ERR_IO;
        tg__set_last(st, "safetensors_save: %s: write failed: %s", path, strerror(werr));
    }
    if (st == TG_OK && rename(tmp, target) != 0) {
        st = TG_ERR_IO;
        tg__set_last(st, "safetensors_save: %s: cannot replace %s: %s", path, target,
                     strerror(errno));
    }
    if (st != TG_OK) remove(tmp);
done:
    tg__free(tmp);
    tg__free(target);
    tg__free(h.p);
    tg__free(order);
    return st;
}
