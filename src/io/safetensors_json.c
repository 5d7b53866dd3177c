/* The bounded JSON parser of a safetensors header (the format is described
 * in safetensors.h): no recursion beyond a fixed depth, every read checked
 * against the end of the header, the first error kept with where it
 * happened.  It is kept apart from the file reading (safetensors_read.c,
 * which calls tg__st_parse_header) because the parser is a unit of its own. */
#include "../core/internal.h"
#include "safetensors.h"

#include <stdio.h>
#include <stdlib.h>

/* The dtypes of the format; only F32 and F64 are tensors here, the others
 * are known so that an entry of another dtype is reported as such (and its
 * byte span can still be checked) rather than as a corrupt header. */
static const dtype_info k_dtypes[] = {
    {"F64", 8},  {"F32", 4},     {"F16", 2},     {"BF16", 2}, {"I64", 8}, {"I32", 4},
    {"I16", 2},  {"I8", 1},      {"U64", 8},     {"U32", 4},  {"U16", 2}, {"U8", 1},
    {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"C64", 8},
};

/* ---- reading: a bounded JSON parser ----------------------------------------------- */
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

void tg__st_header_free(header *h)
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
bool tg__st_parse_header(jparser *j, header *h, bool *oom)
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
