/* How the teaching outputs (tape listing, explain mode, JSON, DOT, SVG)
 * write values: matrices as grids a student can read row by row, JSON that
 * a browser parses, strings escaped for each format. */
#include "internal.h"

#include <stdio.h>

/* Appends with snprintf at *k; false once buf is full. */
static bool put(char *buf, size_t n, size_t *k, const char *fmt, ...)
{
    if (*k >= n) return false;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *k, n - *k, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= n - *k) {
        *k = n;
        return false;
    }
    *k += (size_t)w;
    return true;
}

static int64_t last_extent(const tg_tensor *t)
{
    return t->ndim ? t->shape[t->ndim - 1] : 1;
}

bool tg__fmt_values(const tg_tensor *t, int digits, const char *indent, char *buf, size_t n)
{
    if (!n) return false;
    buf[0] = '\0';
    size_t k = 0;
    const int64_t cols = last_extent(t);
    if (t->numel == 0 || cols == 0) return put(buf, n, &k, "[]");
    const int64_t rows = t->numel / cols;
    /* a row on one line; a column too, transposed, rather than a tall grid */
    if (rows == 1 || cols == 1) {
        bool ok = put(buf, n, &k, "[");
        for (int64_t i = 0; i < t->numel && ok; i++)
            ok = put(buf, n, &k, "%s%.*g", i ? ", " : "", digits, tg_tensor_get_flat(t, i));
        return ok && put(buf, n, &k, rows > 1 && t->ndim >= 2 ? "]^T" : "]");
    }
    /* a grid: each column right-aligned to its widest number (past
     * TG_GRID_COLS columns, to the widest of all) */
    enum { TG_GRID_COLS = 64 };
    int width[TG_GRID_COLS] = {0}, all = 1;
    for (int64_t i = 0; i < t->numel; i++) {
        char c[32];
        int w = snprintf(c, sizeof c, "%.*g", digits, tg_tensor_get_flat(t, i));
        all = w > all ? w : all;
        if (cols <= TG_GRID_COLS && w > width[i % cols]) width[i % cols] = w;
    }
    bool ok = true;
    for (int64_t r = 0; r < rows && ok; r++) {
        ok = put(buf, n, &k, "\n%s[", indent);
        for (int64_t c = 0; c < cols && ok; c++)
            ok = put(buf, n, &k, "%s%*.*g", c ? ", " : "", cols <= TG_GRID_COLS ? width[c] : all,
                     digits, tg_tensor_get_flat(t, r * cols + c));
        ok = ok && put(buf, n, &k, "]");
    }
    return ok;
}

/* A JSON number (%.17g round-trips an f64); JSON has no NaN or Inf. */
static bool put_num(char *buf, size_t n, size_t *k, double v)
{
    return isfinite(v) ? put(buf, n, k, "%.17g", v) : put(buf, n, k, "null");
}

static bool put_shape(const tg_tensor *t, char *buf, size_t n, size_t *k)
{
    bool ok = put(buf, n, k, "{\"shape\":[");
    for (int d = 0; d < t->ndim && ok; d++)
        ok = put(buf, n, k, "%s%lld", d ? "," : "", (long long)t->shape[d]);
    return ok && put(buf, n, k, "]");
}

char *tg__json_tensor(const tg_tensor *t, int64_t small, char *buf, size_t n)
{
    if (!n) return buf;
    size_t k = 0;
    if (t->numel <= small) {
        bool ok = put_shape(t, buf, n, &k) && put(buf, n, &k, ",\"values\":[");
        for (int64_t i = 0; i < t->numel && ok; i++)
            ok = (!i || put(buf, n, &k, ",")) && put_num(buf, n, &k, tg_tensor_get_flat(t, i));
        if (ok && put(buf, n, &k, "]}")) return buf;
        k = 0; /* too long for buf: the summary below */
    }
    double sq = 0, lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < t->numel; i++) {
        double v = tg_tensor_get_flat(t, i);
        sq += v * v;
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    bool ok = put_shape(t, buf, n, &k) && put(buf, n, &k, ",\"norm\":") &&
              put_num(buf, n, &k, sqrt(sq)) && put(buf, n, &k, ",\"min\":") &&
              put_num(buf, n, &k, lo) && put(buf, n, &k, ",\"max\":") && put_num(buf, n, &k, hi) &&
              put(buf, n, &k, "}");
    if (!ok) snprintf(buf, n, "null");
    return buf;
}

void tg__json_string(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void tg__xml_string(FILE *f, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\\':
            fputs("&#92;", f);
            break;
        default:
            fputc(*p, f);
        }
    }
}
