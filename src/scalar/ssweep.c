/* The scalar tape's reverse sweep: adj[in] += partial * adj[out], walking the
 * values from the output down to 0 and the input and partial streams
 * backwards in step, so it reads the record sequentially and does one
 * multiply-add per recorded input, knowing nothing about operations.
 *
 * The adjoints live in blocks of TG__SB values. Every input of a value has a
 * smaller index, so once the sweep has gone below a block, nothing adds to
 * its adjoints again: the block goes back to the tape's pool for a lower one,
 * unless it holds an adjoint the caller asked for (pinned). A sweep so holds
 * the adjoints of the blocks its live values still reach, not one per value. */
#include "stape.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

/* The adjoint block b, zeroed, from the pool or new (NULL: out of memory). */
static double *adj_take(tg_stape *st, int64_t b)
{
    double *blk = st->npool > 0 ? st->pool[--st->npool] : tg__malloc(TG__SB * sizeof(double));
    if (!blk) return NULL;
    memset(blk, 0, TG__SB * sizeof(double));
    st->adjb[b] = blk;
    return blk;
}

/* Block b's adjoints back to the pool (the pool has room: it and adjb
 * together never hold more blocks than the tape has value blocks). */
static void adj_give(tg_stape *st, int64_t b)
{
    if (!st->adjb[b]) return;
    st->pool[st->npool++] = st->adjb[b];
    st->adjb[b] = NULL;
}

/* A place in a stream read backwards: block at, pos entries before it. */
typedef struct rpos {
    int64_t at, pos;
} rpos;

static rpos stream_end(tg__sstream *s)
{
    if (s->at >= 0) s->used[s->at] = s->fill; /* the block being written, as far as it is */
    return (rpos){s->at, s->fill};
}

/* Steps back over a value's k entries (never split across blocks). */
static inline void step_back(rpos *r, const int64_t *used, int64_t k)
{
    if (k > r->pos) r->pos = used[--r->at];
    r->pos -= k;
}

static inline int64_t stored_partials(unsigned kind)
{
    return (((kind >> 2) & 3) == TG__SP_STORED) + (((kind >> 4) & 3) == TG__SP_STORED);
}

/* The kinds of value block b (after its values). */
static inline const uint8_t *kinds_of(const tg_stape *st, int64_t b)
{
    return (const uint8_t *)(st->vblk[b] + TG__SB);
}

/* adj[v] for each value v <= top, from top down; false when an adjoint block
 * could not be had (the blocks taken are left in adjb for the caller). */
static bool sweep_values(tg_stape *st, int64_t top)
{
    rpos ra = stream_end(&st->arg), rp = stream_end(&st->par);
    /* the inputs of values above top are not needed: skip their records */
    for (int64_t v = st->n - 1; v > top; v--) {
        const unsigned kd = kinds_of(st, v >> TG__SB_SHIFT)[v & TG__SB_MASK];
        step_back(&ra, st->arg.used, kd & 3);
        step_back(&rp, st->par.used, stored_partials(kd));
    }
    double *const *adjb = st->adjb;
    void *const *ablk = st->arg.blk, *const *pblk = st->par.blk;
    const int64_t *aused = st->arg.used, *pused = st->par.used;
    /* the blocks being read, and the entries of values not yet swept in them */
    const uint32_t *arg = ra.at >= 0 ? ablk[ra.at] : NULL;
    const double *par = rp.at >= 0 ? pblk[rp.at] : NULL;
    static const double unit[4] = {0.0, 1.0, -1.0, 0.0}; /* by code; STORED reads par */
    for (int64_t b = top >> TG__SB_SHIFT; b >= 0; b--) {
        const double *adj = adjb[b] ? adjb[b] : adj_take(st, b);
        if (!adj) return false;
        const uint8_t *kind = kinds_of(st, b);
        const int64_t hi = b == top >> TG__SB_SHIFT ? top & TG__SB_MASK : TG__SB - 1;
        for (int64_t o = hi; o >= 0; o--) {
            const unsigned kd = kind[o];
            const int64_t na = kd & 3;
            if (na == 0) continue;
            if (na > ra.pos) ra.pos = aused[--ra.at], arg = ablk[ra.at];
            ra.pos -= na;
            const int64_t np = stored_partials(kd);
            if (np > rp.pos) rp.pos = pused[--rp.at], par = pblk[rp.at];
            rp.pos -= np;
            const double a = adj[o];
            const double *p = par + rp.pos;
            for (int64_t j = 0; j < na; j++) {
                const unsigned c = (kd >> (2 + 2 * j)) & 3;
                const double pj = c == TG__SP_STORED ? *p++ : unit[c];
                const uint32_t in = arg[ra.pos + j];
                double *t = adjb[in >> TG__SB_SHIFT];
                if (__builtin_expect(!t, 0) && !(t = adj_take(st, in >> TG__SB_SHIFT)))
                    return false;
                t[in & TG__SB_MASK] += pj * a;
            }
        }
        if (!st->pin[b]) adj_give(st, b);
    }
    return true;
}

static tg_status sweep(tg_stape *st, const char *fn, int m, const tg_sv *y, const double *w, int n,
                       const tg_sv *x, double *out)
{
    tg_status s = sweep_check(st, fn, m, y, w, n, x, out);
    if (s != TG_OK) return s;
    int64_t top = 0;
    for (int j = 0; j < m; j++)
        if ((int64_t)y[j].i > top) top = y[j].i;
    const int64_t nb = (top >> TG__SB_SHIFT) + 1;
    memset(st->pin, 0, (size_t)nb);
    for (int k = 0; k < n; k++)
        if ((int64_t)x[k].i <= top) st->pin[x[k].i >> TG__SB_SHIFT] = 1;
    bool ok = true;
    for (int j = 0; j < m && ok; j++) {
        const int64_t b = y[j].i >> TG__SB_SHIFT;
        double *adj = st->adjb[b] ? st->adjb[b] : adj_take(st, b);
        if (adj) adj[y[j].i & TG__SB_MASK] += w[j];
        ok = adj != NULL;
    }
    if (ok) ok = sweep_values(st, top);
    if (ok)
        for (int k = 0; k < n; k++) {
            const double *adj = (int64_t)x[k].i <= top ? st->adjb[x[k].i >> TG__SB_SHIFT] : NULL;
            out[k] = adj ? adj[x[k].i & TG__SB_MASK] : 0.0;
        }
    for (int64_t b = 0; b < nb; b++) adj_give(st, b);
    if (!ok)
        return sweep_fail(TG_ERR_NOMEM, "%s: out of memory for %lld adjoints", fn,
                          (long long)(top + 1));
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
