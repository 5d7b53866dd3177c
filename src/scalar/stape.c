/* The scalar tape's record, its errors and its reverse sweep.
 *
 * The record is four arrays: per value its number (val) and its input count
 * (nargs, 0 to 2); per input, in recording order, the input's index (arg)
 * and the partial derivative of the value with respect to it (par). The
 * sweep walks values from the output down to 0 and the input streams
 * backwards in step, so it reads memory sequentially and does one
 * multiply-add per recorded input, knowing nothing about operations. */
#include "stape.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Handles carry the tag of the tape and reset that issued them: a new tag per
 * tape and per reset, never 0 (TG_SV_NONE's). */
static _Atomic uint32_t g_tags = 0;

static uint32_t next_tag(void)
{
    uint32_t t;
    do t = atomic_fetch_add(&g_tags, 1u) + 1u;
    while (t == 0);
    return t;
}

tg_stape *tg_stape_new(void)
{
    tg_stape *st = tg__calloc(1, sizeof *st);
    if (!st) {
        tg__set_last(TG_ERR_NOMEM, "tg_stape_new: out of memory");
        return NULL;
    }
    st->tag = next_tag();
    return st;
}

void tg_stape_free(tg_stape *st)
{
    if (!st) return;
    tg__free(st->val);
    tg__free(st->nargs);
    tg__free(st->arg);
    tg__free(st->par);
    tg__free(st->adj);
    tg__free(st);
}

void tg_stape_reset(tg_stape *st)
{
    if (!st) {
        tg__set_last(TG_ERR_NULL, "tg_stape_reset: tape is NULL");
        return;
    }
    st->n = st->na = 0;
    st->tag = next_tag();
    st->status = TG_OK;
    st->msg[0] = '\0';
}

tg_status tg_stape_status(const tg_stape *st)
{
    return st ? st->status : TG_ERR_NULL;
}

const char *tg_stape_error(const tg_stape *st)
{
    return st ? st->msg : "tape is NULL";
}

int64_t tg_stape_size(const tg_stape *st)
{
    if (!st) {
        tg__set_last(TG_ERR_NULL, "tg_stape_size: tape is NULL");
        return -1;
    }
    return st->n;
}

int64_t tg_stape_bytes(const tg_stape *st)
{
    if (!st) {
        tg__set_last(TG_ERR_NULL, "tg_stape_bytes: tape is NULL");
        return -1;
    }
    return st->cap * (int64_t)(sizeof *st->val + sizeof *st->nargs) +
           st->acap * (int64_t)(sizeof *st->arg + sizeof *st->par) +
           st->adjcap * (int64_t)sizeof *st->adj;
}

void tg__stape_fail(tg_stape *st, tg_status s, const char *fmt, ...)
{
    if (st->status != TG_OK) return; /* the first error is the one to read */
    st->status = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    va_end(ap);
    tg__set_last(s, "%s", st->msg);
}

bool tg__stape_arg(tg_stape *st, tg_sv a, const char *op, int slot)
{
    if (a.tag == st->tag && (int64_t)a.i < st->n) return true;
    if (st->status != TG_OK) return false; /* TG_SV_NONE from an earlier error */
    if (a.tag == 0)
        tg__stape_fail(st, TG_ERR_TAPE, "%s: argument %d is TG_SV_NONE (no value)", op, slot);
    else if (a.tag == st->tag)
        tg__stape_fail(st, TG_ERR_TAPE, "%s: argument %d is value %u of a tape of %lld values", op,
                       slot, a.i, (long long)st->n);
    else
        tg__stape_fail(st, TG_ERR_TAPE,
                       "%s: argument %d is not a value of this scalar tape (another tape's, "
                       "or from before tg_stape_reset)",
                       op, slot);
    return false;
}

/* Grows an array to hold cap elements of size bytes each (false on failure,
 * the old array kept). */
static bool grow(void **p, int64_t cap, size_t size)
{
    size_t bytes;
    if (!tg__mul_size((size_t)cap, size, &bytes)) return false;
    void *q = tg__realloc(*p, bytes);
    if (!q) return false;
    *p = q;
    return true;
}

/* Room for one more value with k inputs. Handles index values with 32 bits:
 * UINT32_MAX - 1 values at most. */
bool tg__stape_reserve(tg_stape *st, int k, const char *op)
{
    if (st->n >= (int64_t)UINT32_MAX - 1) {
        tg__stape_fail(st, TG_ERR_NOMEM, "%s: the tape holds %lld values, the most it can index",
                       op, (long long)st->n);
        return false;
    }
    if (st->n == st->cap) {
        const int64_t cap = st->cap ? 2 * st->cap : 4096;
        if (!grow((void **)&st->val, cap, sizeof *st->val) ||
            !grow((void **)&st->nargs, cap, sizeof *st->nargs))
            goto nomem;
        st->cap = cap;
    }
    if (st->na + k > st->acap) {
        const int64_t cap = st->acap ? 2 * st->acap : 8192;
        if (!grow((void **)&st->arg, cap, sizeof *st->arg) ||
            !grow((void **)&st->par, cap, sizeof *st->par))
            goto nomem;
        st->acap = cap;
    }
    return true;
nomem:
    tg__stape_fail(st, TG_ERR_NOMEM, "%s: out of memory growing the tape past %lld values", op,
                   (long long)st->n);
    return false;
}

tg_sv tg__stape_leaf(tg_stape *st, double v, const char *op)
{
    if (!st) {
        tg__set_last(TG_ERR_NULL, "%s: tape is NULL", op);
        return TG_SV_NONE;
    }
    if (st->status != TG_OK) return TG_SV_NONE;
    return tg__stape_push(st, v, 0, 0, 0, 0, 0, op);
}

tg_sv tg_stape_var(tg_stape *st, double v)
{
    return tg__stape_leaf(st, v, "tg_stape_var");
}

tg_sv tg_stape_const(tg_stape *st, double v)
{
    return tg__stape_leaf(st, v, "tg_stape_const");
}

double tg_sv_value(tg_stape *st, tg_sv a)
{
    if (!st) {
        tg__set_last(TG_ERR_NULL, "tg_sv_value: tape is NULL");
        return NAN;
    }
    return tg__stape_arg(st, a, "tg_sv_value", 1) ? st->val[a.i] : NAN;
}

/* ---- the reverse sweep ------------------------------------------------------- */

/* Errors of a sweep are the caller's (a bad handle or pointer): they set the
 * thread's last error and leave the tape as it was. */
static tg_status sweep_fail(tg_status s, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tg__set_last(s, "%s", msg);
    return s;
}

static bool valid(const tg_stape *st, tg_sv a)
{
    return a.tag == st->tag && (int64_t)a.i < st->n;
}

static tg_status sweep_check(const tg_stape *st, const char *fn, int m, const tg_sv *y,
                             const double *w, int n, const tg_sv *x, const double *out)
{
    if (!st) return sweep_fail(TG_ERR_NULL, "%s: tape is NULL", fn);
    if (st->status != TG_OK)
        return sweep_fail(TG_ERR_STATE, "%s: the tape is in error (%s); reset it", fn, st->msg);
    if (m < 1 || n < 0)
        return sweep_fail(TG_ERR_ARG, "%s: %d outputs and %d inputs (at least 1 and 0)", fn, m, n);
    const char *null = !y ? "y" : !w ? "w" : n > 0 && !x ? "x" : n > 0 && !out ? "out" : NULL;
    if (null) return sweep_fail(TG_ERR_NULL, "%s: %s is NULL", fn, null);
    for (int j = 0; j < m; j++)
        if (!valid(st, y[j]))
            return sweep_fail(TG_ERR_TAPE, "%s: output %d is not a live value of this tape", fn, j);
    for (int k = 0; k < n; k++)
        if (!valid(st, x[k]))
            return sweep_fail(TG_ERR_TAPE, "%s: input %d is not a live value of this tape", fn, k);
    return TG_OK;
}

static tg_status sweep(tg_stape *st, const char *fn, int m, const tg_sv *y, const double *w, int n,
                       const tg_sv *x, double *out)
{
    tg_status s = sweep_check(st, fn, m, y, w, n, x, out);
    if (s != TG_OK) return s;
    int64_t top = 0;
    for (int j = 0; j < m; j++)
        if ((int64_t)y[j].i > top) top = y[j].i;
    if (top + 1 > st->adjcap) {
        int64_t cap = st->adjcap ? st->adjcap : 4096;
        while (cap < top + 1) cap *= 2;
        if (!grow((void **)&st->adj, cap, sizeof *st->adj))
            return sweep_fail(TG_ERR_NOMEM, "%s: out of memory for %lld adjoints", fn,
                              (long long)(top + 1));
        st->adjcap = cap;
    }
    double *restrict adj = st->adj;
    memset(adj, 0, (size_t)(top + 1) * sizeof *adj);
    for (int j = 0; j < m; j++) adj[y[j].i] += w[j];

    /* the inputs of values above top are not needed: skip their records */
    int64_t k = st->na;
    for (int64_t v = st->n - 1; v > top; v--) k -= st->nargs[v];
    const uint8_t *restrict nargs = st->nargs;
    const uint32_t *restrict arg = st->arg;
    const double *restrict par = st->par;
    for (int64_t v = top; v >= 0; v--) {
        const double a = adj[v];
        for (int j = nargs[v]; j > 0; j--) {
            k--;
            adj[arg[k]] += par[k] * a;
        }
    }
    for (int i = 0; i < n; i++) out[i] = (int64_t)x[i].i <= top ? adj[x[i].i] : 0.0;
    return TG_OK;
}

tg_status tg_stape_gradient(tg_stape *st, tg_sv y, int n, const tg_sv *x, double *out)
{
    const double one = 1.0;
    return sweep(st, "tg_stape_gradient", 1, &y, &one, n, x, out);
}

tg_status tg_stape_vjp(tg_stape *st, int m, const tg_sv *y, const double *w, int n, const tg_sv *x,
                       double *out)
{
    return sweep(st, "tg_stape_vjp", m, y, w, n, x, out);
}
