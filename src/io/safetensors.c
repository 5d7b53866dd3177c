/* Saving and loading tensors in the safetensors format (Hugging Face), so
 * Python tools can read what tapegrad trains and tapegrad can read tensors
 * written by Python.
 *
 * The format, in our words: a file starts with an unsigned 64-bit
 * little-endian integer N, the length of a header that follows as N bytes of
 * UTF-8 JSON.  The header is one object mapping each tensor name to
 * {"dtype": "F32" | "F64" | "BF16" | ..., "shape": [d0, d1, ...],
 * "data_offsets": [begin, end]}, plus an optional "__metadata__" object of
 * string to string.  After the header comes the byte buffer; [begin, end) are
 * byte offsets into it (not into the file), the data being row-major and
 * little-endian.  The reference implementation requires the entries, sorted
 * by begin, to tile the buffer exactly (no overlap, no gap, nothing left
 * over), and pads the header with spaces so the buffer starts 8-aligned; we
 * do both.
 *
 * Everything read from a file is distrusted: the header length is checked
 * against the file size, the JSON is parsed by the small bounded parser
 * below (no recursion beyond a fixed depth, every read checked against the
 * end of the header), and each entry's offsets against the buffer and its
 * shape before a byte of data is touched. */
#include "../core/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define META_KEY "__metadata__"

/* ---- small helpers --------------------------------------------------------- */
static bool host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Copies n elements of size es from src to dst reversing the bytes of each
 * when the host is big-endian (the file is always little-endian). */
static void copy_le(void *dst, const void *src, size_t n, size_t es)
{
    if (host_little_endian()) {
        if (n) memcpy(dst, src, n * es);
        return;
    }
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < es; k++) d[i * es + k] = s[i * es + es - 1 - k];
}

typedef struct dtype_info {
    const char *name;
    size_t size;
} dtype_info;
/* The dtypes of the format; only F32 and F64 are tensors here, the others
 * are known so that an entry of another dtype is reported as such (and its
 * byte span can still be checked) rather than as a corrupt header. */
static const dtype_info k_dtypes[] = {
    {"F64", 8},  {"F32", 4},     {"F16", 2},     {"BF16", 2}, {"I64", 8}, {"I32", 4},
    {"I16", 2},  {"I8", 1},      {"U64", 8},     {"U32", 4},  {"U16", 2}, {"U8", 1},
    {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"C64", 8},
};

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
        if (host_little_endian()) {
            ok = fwrite(t->data, es, ne, f) == ne;
            continue;
        }
        unsigned char *conv = tg__malloc(ne * es);
        if (!conv) {
            *st = TG_ERR_NOMEM;
            tg__set_last(*st, "safetensors_save: %s: out of memory", path);
            break;
        }
        copy_le(conv, t->data, ne, es);
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

/* ---- reading: a bounded JSON parser ----------------------------------------------- */
typedef struct jparser {
    const char *p, *end;
    const char *path;
    char err[200]; /* first error; set once */
} jparser;

static bool jfail(jparser *j, const char *what)
{
    if (!j->err[0]) snprintf(j->err, sizeof j->err, "%s", what);
    return false;
}

static void jws(jparser *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool jexpect(jparser *j, char c)
{
    jws(j);
    if (j->p >= j->end || *j->p != c) {
        char m[48];
        snprintf(m, sizeof m, "expected '%c'", c);
        return jfail(j, m);
    }
    j->p++;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool jhex4(jparser *j, unsigned *out)
{
    if (j->end - j->p < 4) return jfail(j, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(j->p[i]);
        if (h < 0) return jfail(j, "bad \\u escape");
        v = v * 16 + (unsigned)h;
    }
    j->p += 4;
    *out = v;
    return true;
}

/* The code point of the \u escape whose "\u" was just read (a surrogate
 * pair taken whole); false on a bad one (parser error set). */
static bool jescape_u(jparser *j, unsigned *cp)
{
    if (!jhex4(j, cp)) return false;
    if (*cp >= 0xD800 && *cp < 0xDC00) { /* a surrogate pair */
        unsigned lo;
        if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
            return jfail(j, "lone surrogate in \\u escape");
        j->p += 2;
        if (!jhex4(j, &lo) || lo < 0xDC00 || lo > 0xDFFF) return jfail(j, "bad surrogate pair");
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (*cp >= 0xDC00 && *cp < 0xE000) {
        return jfail(j, "lone surrogate in \\u escape");
    }
    if (*cp == 0) return jfail(j, "NUL character in a string");
    return true;
}

/* The code point of the escape whose backslash was just read; false on a
 * bad one (parser error set). */
static bool jescape(jparser *j, unsigned *cp)
{
    char e = *j->p++; /* in bounds: jstring's scan saw a char after '\\' */
    switch (e) {
    case '"':
        *cp = '"';
        return true;
    case '\\':
        *cp = '\\';
        return true;
    case '/':
        *cp = '/';
        return true;
    case 'b':
        *cp = '\b';
        return true;
    case 'f':
        *cp = '\f';
        return true;
    case 'n':
        *cp = '\n';
        return true;
    case 'r':
        *cp = '\r';
        return true;
    case 't':
        *cp = '\t';
        return true;
    case 'u':
        return jescape_u(j, cp);
    default:
        return jfail(j, "bad escape in a string");
    }
}

/* Appends code point cp to buf[*n...] in UTF-8: at most 4 bytes, and the
 * 6-byte \uXXXX (12 for a pair) it came from is longer, so a buffer the
 * size of the literal cannot overflow. */
static void put_utf8(char *buf, size_t *n, unsigned cp)
{
    if (cp < 0x80) {
        buf[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        buf[(*n)++] = (char)(0xC0 | (cp >> 6));
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        buf[(*n)++] = (char)(0xE0 | (cp >> 12));
        buf[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        buf[(*n)++] = (char)(0xF0 | (cp >> 18));
        buf[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        buf[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* Parses a string literal into a fresh tg__malloc'd NUL-terminated string
 * (out may be NULL to skip).  Escapes are decoded; a decoded NUL byte is
 * rejected (names are C strings). */
static bool jstring(jparser *j, char **out, bool *oom)
{
    if (out) *out = NULL;
    if (!jexpect(j, '"')) return false;
    /* The decoded string is never longer than the literal. */
    const char *s = j->p;
    while (s < j->end && *s != '"') s += (*s == '\\' && s + 1 < j->end) ? 2 : 1;
    if (s >= j->end) return jfail(j, "unterminated string");
    char *buf = NULL;
    if (out) {
        buf = tg__malloc((size_t)(s - j->p) + 1);
        if (!buf) {
            *oom = true;
            return jfail(j, "out of memory");
        }
    }
    size_t n = 0;
    while (*j->p != '"') {
        unsigned char c = (unsigned char)*j->p++;
        if (c < 0x20) {
            tg__free(buf);
            return jfail(j, "control character in a string");
        }
        if (c != '\\') {
            if (buf) buf[n++] = (char)c;
            continue;
        }
        unsigned cp = 0;
        if (!jescape(j, &cp)) {
            tg__free(buf);
            return false;
        }
        if (buf) put_utf8(buf, &n, cp);
    }
    j->p++; /* closing quote */
    if (buf) {
        buf[n] = '\0';
        *out = buf;
    }
    return true;
}

/* A non-negative integer without sign, fraction or exponent, < 2^63. */
static bool juint(jparser *j, uint64_t *out)
{
    jws(j);
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jfail(j, "expected an integer");
    if (*j->p == '0' && j->end - j->p > 1 && j->p[1] >= '0' && j->p[1] <= '9')
        return jfail(j, "integer with a leading zero");
    uint64_t v = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        unsigned d = (unsigned)(*j->p - '0');
        if (v > (UINT64_C(0x7fffffffffffffff) - d) / 10) return jfail(j, "integer too large");
        v = v * 10 + d;
        j->p++;
    }
    if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
        return jfail(j, "expected an integer, found a fraction or exponent");
    *out = v;
    return true;
}

/* Skips any JSON value (for unknown keys), nesting at most depth levels. */
static bool jskip(jparser *j, int depth)
{
    if (depth <= 0) return jfail(j, "nesting too deep");
    jws(j);
    if (j->p >= j->end) return jfail(j, "expected a value");
    char c = *j->p;
    if (c == '"') return jstring(j, NULL, NULL);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        jws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return true;
        }
        for (;;) {
            if (c == '{' && (!jstring(j, NULL, NULL) || !jexpect(j, ':'))) return false;
            if (!jskip(j, depth - 1)) return false;
            jws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            return jexpect(j, close);
        }
    }
    static const char *const lits[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(lits[i]);
        if ((size_t)(j->end - j->p) >= l && !memcmp(j->p, lits[i], l)) {
            j->p += l;
            return true;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        j->p++;
        while (j->p < j->end && strchr("0123456789+-.eE", *j->p)) j->p++;
        return true;
    }
    return jfail(j, "unexpected character");
}

/* One header entry. */
typedef struct entry {
    char *name;
    const dtype_info *dtype; /* NULL: unknown dtype string (an error) */
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    uint64_t begin, end;
} entry;

typedef struct header {
    entry *e;
    int n, cap;
} header;

static void header_free(header *h)
{
    for (int i = 0; i < h->n; i++) tg__free(h->e[i].name);
    tg__free(h->e);
    *h = (header){0};
}

/* Parses {"dtype": ..., "shape": [...], "data_offsets": [b, e]} for entry e. */
static bool jentry(jparser *j, entry *e, bool *oom)
{
    bool have_dtype = false, have_shape = false, have_off = false;
    if (!jexpect(j, '{')) return false;
    jws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return jfail(j, "empty entry");
    }
    for (;;) {
        char *key = NULL;
        if (!jstring(j, &key, oom) || !jexpect(j, ':')) {
            tg__free(key);
            return false;
        }
        bool ok;
        if (!strcmp(key, "dtype")) {
            char *dt = NULL;
            ok = !have_dtype && jstring(j, &dt, oom);
            if (ok) {
                e->dtype = NULL;
                for (int i = 0; i < TG_ARRAY_LEN(k_dtypes); i++)
                    if (!strcmp(dt, k_dtypes[i].name)) e->dtype = &k_dtypes[i];
                if (!e->dtype) {
                    char m[96];
                    snprintf(m, sizeof m, "unknown dtype \"%.40s\"", dt);
                    ok = jfail(j, m);
                }
            } else if (have_dtype) {
                jfail(j, "\"dtype\" given twice");
            }
            tg__free(dt);
            have_dtype = true;
        } else if (!strcmp(key, "shape")) {
            ok = !have_shape && jexpect(j, '[');
            if (have_shape) jfail(j, "\"shape\" given twice");
            have_shape = true;
            e->ndim = 0;
            jws(j);
            if (ok && j->p < j->end && *j->p == ']') {
                j->p++;
            } else {
                while (ok) {
                    uint64_t d;
                    if (!juint(j, &d)) {
                        ok = false;
                        break;
                    }
                    if (e->ndim == TG_MAX_DIMS) {
                        ok = jfail(j, "more dimensions than tapegrad's 8");
                        break;
                    }
                    e->shape[e->ndim++] = (int64_t)d;
                    jws(j);
                    if (j->p < j->end && *j->p == ',') {
                        j->p++;
                        continue;
                    }
                    ok = jexpect(j, ']');
                    break;
                }
            }
        } else if (!strcmp(key, "data_offsets")) {
            ok = !have_off && jexpect(j, '[') && juint(j, &e->begin) && jexpect(j, ',') &&
                 juint(j, &e->end) && jexpect(j, ']');
            if (have_off) jfail(j, "\"data_offsets\" given twice");
            have_off = true;
        } else {
            ok = jskip(j, 16); /* an unknown key: tolerated, as by the reference */
        }
        tg__free(key);
        if (!ok) return false;
        jws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (!jexpect(j, '}')) return false;
        break;
    }
    if (!have_dtype || !have_shape || !have_off)
        return jfail(j, !have_dtype   ? "entry without \"dtype\""
                        : !have_shape ? "entry without \"shape\""
                                      : "entry without \"data_offsets\"");
    return true;
}

/* The "__metadata__" value: an object of string to string. */
static bool jmetadata(jparser *j)
{
    if (!jexpect(j, '{')) return false;
    jws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return true;
    }
    for (;;) {
        if (!jstring(j, NULL, NULL) || !jexpect(j, ':')) return false;
        jws(j);
        if (j->p >= j->end || *j->p != '"') return jfail(j, "__metadata__ values must be strings");
        if (!jstring(j, NULL, NULL)) return false;
        jws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        return jexpect(j, '}');
    }
}

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
    header_free(&f->h);
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

/* The header entry of tensor name (taken over: freed on failure too),
 * parsed from j's value; false on a bad one or out of memory (parser error
 * set, naming the entry). */
static bool header_add_entry(jparser *j, header *h, char *name, bool *oom)
{
    if (h->n == h->cap) {
        int cap = h->cap ? 2 * h->cap : 8;
        entry *e = tg__realloc(h->e, (size_t)cap * sizeof *e);
        if (!e) {
            tg__free(name);
            *oom = true;
            return jfail(j, "out of memory");
        }
        h->e = e;
        h->cap = cap;
    }
    entry *e = &h->e[h->n++];
    *e = (entry){.name = name};
    const bool ok = jentry(j, e, oom);
    if (!ok && !*oom && !strstr(j->err, "entry '")) {
        /* name the entry in the message */
        char tmp[sizeof j->err];
        snprintf(tmp, sizeof tmp, "%s", j->err);
        snprintf(j->err, sizeof j->err, "entry '%.40s': %.140s", name, tmp);
    }
    return ok;
}

/* The header object, into h; false on a bad one (parser error set, *oom
 * when out of memory). */
static bool parse_header(jparser *j, header *h, bool *oom)
{
    bool ok = jexpect(j, '{');
    bool seen_meta = false;
    jws(j);
    if (ok && j->p < j->end && *j->p == '}') {
        j->p++;
    } else {
        while (ok) {
            char *name = NULL;
            if (!jstring(j, &name, oom) || !jexpect(j, ':')) {
                tg__free(name);
                ok = false;
                break;
            }
            if (!strcmp(name, META_KEY)) {
                tg__free(name);
                ok = !seen_meta && jmetadata(j);
                if (seen_meta) jfail(j, "__metadata__ given twice");
                seen_meta = true;
            } else {
                ok = header_add_entry(j, h, name, oom);
            }
            if (!ok) break;
            jws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            ok = jexpect(j, '}');
            break;
        }
    }
    if (ok) {
        jws(j);
        if (j->p != j->end) ok = jfail(j, "bytes after the header object");
    }
    return ok;
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
    if (!parse_header(&j, &sf->h, &oom)) {
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
        copy_le(t->data, src, (size_t)t->numel, es);
        return;
    }
    for (int64_t i = 0; i < t->numel; i++) {
        double v;
        if (edt == TG_F64) {
            copy_le(&v, src + (size_t)i * 8, 1, 8);
        } else {
            float x;
            copy_le(&x, src + (size_t)i * 4, 1, 4);
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
