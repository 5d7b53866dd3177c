/* Status strings and the per-thread last error of calls without a tape. */
#include "internal.h"

#include <stdio.h>

static const char *const k_names[TG_STATUS_COUNT] = {
    [TG_OK] = "ok",
    [TG_ERR_NULL] = "NULL argument",
    [TG_ERR_SHAPE] = "shape mismatch",
    [TG_ERR_DTYPE] = "dtype mismatch",
    [TG_ERR_EMPTY] = "empty tensor",
    [TG_ERR_AXIS] = "axis out of range",
    [TG_ERR_TAPE] = "tensor from another tape or stale",
    [TG_ERR_NOMEM] = "out of memory",
    [TG_ERR_ARG] = "invalid argument",
    [TG_ERR_NOT_SCALAR] = "output is not a scalar",
    [TG_ERR_STATE] = "tape is in error",
    [TG_ERR_NUMERIC] = "non-finite value or check failed",
    [TG_ERR_IO] = "I/O or format error",
};

const char *tg_strerror(tg_status s)
{
    if ((int)s < 0 || s >= TG_STATUS_COUNT) return "unknown status";
    return k_names[s];
}

static _Thread_local tg_status t_last = TG_OK;
static _Thread_local char t_msg[512];

void tg__set_last(tg_status s, const char *fmt, ...)
{
    t_last = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_msg, sizeof t_msg, fmt, ap);
    va_end(ap);
}

void tg__clear_last(void)
{
    t_last = TG_OK;
    t_msg[0] = '\0';
}

tg_status tg_last_status(void)
{
    return t_last;
}

const char *tg_last_error(void)
{
    return t_msg;
}

/* Extents go in whole: when the next one (and the ",...)" that may have to
 * follow it) does not fit, the list ends in ",...)" instead, so the string
 * always closes with ")" (tg_tensor_describe turns it into "]"). */
char *tg__dims_str(int ndim, const int64_t *shape, char *buf, size_t n)
{
    if (!buf || !n) return buf;
    if (n < 6) { /* not even room for "(...)" */
        buf[0] = '\0';
        return buf;
    }
    size_t k = 1;
    buf[0] = '(';
    for (int i = 0; i < ndim; i++) {
        char e[24];
        const int w = snprintf(e, sizeof e, "%s%lld", i ? "," : "", (long long)shape[i]);
        /* room for this extent and, unless it is the last, a later ",...)" */
        const size_t after = i + 1 < ndim ? 5 : 1;
        if (k + (size_t)w + after + 1 > n) {
            snprintf(buf + k, n - k, "%s...)", i ? "," : "");
            return buf;
        }
        memcpy(buf + k, e, (size_t)w);
        k += (size_t)w;
    }
    buf[k] = ')';
    buf[k + 1] = '\0';
    return buf;
}

char *tg__shape_str(const tg_tensor *t, char *buf, size_t n)
{
    if (!t) {
        snprintf(buf, n, "NULL");
        return buf;
    }
    return tg__dims_str(t->ndim, t->shape, buf, n);
}
