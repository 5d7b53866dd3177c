/* The scalar tape's record (its blocks and how it grows) and its errors.
 * The layout is described in stape.h; the reverse sweep is in ssweep.c. */
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
    st->arg.at = st->par.at = -1;
    return st;
}

static void stream_free(tg__sstream *s)
{
    for (int64_t b = 0; b < s->nblk; b++) tg__free(s->blk[b]);
    tg__free(s->blk);
    tg__free(s->used);
}

/* Back to writing at the start of the first block (kept). */
static void stream_rewind(tg__sstream *s)
{
    s->cur = NULL;
    s->fill = s->lim = 0;
    s->at = -1;
}

void tg_stape_free(tg_stape *st)
{
    if (!st) return;
    for (int64_t b = 0; b < st->nvb; b++) tg__free(st->vblk[b]);
    for (int64_t b = 0; b < st->npool; b++) tg__free(st->pool[b]);
    tg__free(st->vblk);
    tg__free(st->adjb);
    tg__free(st->pin);
    tg__free(st->pool);
    stream_free(&st->arg);
    stream_free(&st->par);
    tg__free(st);
}

void tg_stape_reset(tg_stape *st)
{
    if (!st) {
        tg__set_last(TG_ERR_NULL, "tg_stape_reset: tape is NULL");
        return;
    }
    st->n = st->cap = 0;
    st->val = NULL;
    st->kind = NULL;
    stream_rewind(&st->arg);
    stream_rewind(&st->par);
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
    const int64_t vb = TG__SB * (int64_t)(sizeof(double) + 1),
                  ab = TG__SB * (int64_t)sizeof(double);
    const int64_t tables =
        st->vtab * (int64_t)(2 * sizeof(double *) + sizeof(double *) + 1) +
        (st->arg.tcap + st->par.tcap) * (int64_t)(sizeof(void *) + sizeof(int64_t));
    return st->nvb * vb + st->npool * ab + st->arg.nblk * TG__SA_LEN * (int64_t)sizeof(uint32_t) +
           st->par.nblk * TG__SP_LEN * (int64_t)sizeof(double) + tables;
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

/* Grows the array *p of *cap elements of size bytes each to hold cap2,
 * zeroing the new ones (false on failure, the old array kept). */
static bool grow_table(void **p, int64_t cap, int64_t cap2, size_t size)
{
    size_t bytes;
    if (!tg__mul_size((size_t)cap2, size, &bytes)) return false;
    char *q = tg__realloc(*p, bytes);
    if (!q) return false;
    memset(q + (size_t)cap * size, 0, (size_t)(cap2 - cap) * size);
    *p = q;
    return true;
}

/* A new block of len entries of size bytes (NULL when out of memory). */
static void *new_block(int64_t len, size_t size)
{
    size_t bytes;
    return tg__mul_size((size_t)len, size, &bytes) ? tg__malloc(bytes) : NULL;
}

/* Moves s's writing to its next block (allocated when the tape has not had
 * it before) of len entries of size bytes. */
static bool stream_next(tg__sstream *s, int64_t len, size_t size)
{
    const int64_t at = s->at + 1;
    if (at == s->nblk) {
        if (s->nblk == s->tcap) {
            const int64_t t = s->tcap ? 2 * s->tcap : 16;
            if (!grow_table((void **)&s->blk, s->tcap, t, sizeof *s->blk) ||
                !grow_table((void **)&s->used, s->tcap, t, sizeof *s->used))
                return false;
            s->tcap = t;
        }
        void *b = new_block(len, size);
        if (!b) return false;
        s->blk[s->nblk++] = b;
    }
    if (s->at >= 0) s->used[s->at] = s->fill;
    s->at = at;
    s->cur = s->blk[at];
    s->fill = 0;
    s->lim = len;
    return true;
}

/* Moves the value writing to the block of value n (allocated when new);
 * the tables indexed by value block grow together. */
static bool next_value_block(tg_stape *st)
{
    const int64_t b = st->n >> TG__SB_SHIFT;
    if (b == st->nvb) {
        if (st->nvb == st->vtab) {
            const int64_t t = st->vtab ? 2 * st->vtab : 16;
            if (!grow_table((void **)&st->vblk, st->vtab, t, sizeof *st->vblk) ||
                !grow_table((void **)&st->adjb, st->vtab, t, sizeof *st->adjb) ||
                !grow_table((void **)&st->pin, st->vtab, t, sizeof *st->pin) ||
                !grow_table((void **)&st->pool, st->vtab, t, sizeof *st->pool))
                return false;
            st->vtab = t;
        }
        double *blk = new_block(TG__SB, sizeof(double) + 1);
        if (!blk) return false;
        st->vblk[st->nvb++] = blk;
    }
    st->val = st->vblk[b];
    st->kind = (uint8_t *)(st->val + TG__SB);
    st->cap = (b + 1) << TG__SB_SHIFT;
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
    if ((st->n == st->cap && !next_value_block(st)) ||
        (st->arg.fill + k > st->arg.lim && !stream_next(&st->arg, TG__SA_LEN, sizeof(uint32_t))) ||
        (st->par.fill + k > st->par.lim && !stream_next(&st->par, TG__SP_LEN, sizeof(double)))) {
        tg__stape_fail(st, TG_ERR_NOMEM, "%s: out of memory growing the tape past %lld values", op,
                       (long long)st->n);
        return false;
    }
    return true;
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
    return tg__stape_arg(st, a, "tg_sv_value", 1) ? tg__stape_val(st, a.i) : NAN;
}
