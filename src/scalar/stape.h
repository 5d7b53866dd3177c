/* The scalar tape's internals: its record and the recording step that every
 * operation (sops.c) ends with.
 *
 * The record is three streams, each a list of fixed-size blocks (growing
 * adds a block: nothing is copied and at most one block is unused):
 *  - per value, its number and its kind (one byte: its input count, 0 to 2,
 *    and for each input a code saying whether the partial is +1, -1 or
 *    stored), in value blocks indexed by the value's index;
 *  - per input, in recording order, the input's value index (arg);
 *  - per stored partial, in recording order, its number (par).
 * A value's inputs and stored partials never straddle two blocks, so the
 * sweep moves to the previous block only between values. */
#ifndef TG_STAPE_INTERNAL_H
#define TG_STAPE_INTERNAL_H

#include "../core/internal.h"
#include "tapegrad/scalar.h"

#include <stdbool.h>

/* Values per value block (and per adjoint block in a sweep). */
#define TG__SB_SHIFT 13
#define TG__SB       ((int64_t)1 << TG__SB_SHIFT)
#define TG__SB_MASK  (TG__SB - 1)
/* Entries per input-index block and per partial block. */
#define TG__SA_LEN (2 * TG__SB)
#define TG__SP_LEN TG__SB

/* A partial's code in a value's kind: bits 2-3 for input 0, 4-5 for input 1.
 * An absent input has the code of +1, so a kind's stored partials are its
 * codes equal to TG__SP_STORED. */
enum { TG__SP_STORED = 0, TG__SP_ONE = 1, TG__SP_MONE = 2 };

/* One stream of fixed-size blocks, written at its end. */
typedef struct tg__sstream {
    void *cur;     /* the block being written (NULL before the first) */
    int64_t fill;  /* entries written in it */
    int64_t lim;   /* its length; 0 before the first block */
    int64_t at;    /* its index in blk; -1 before the first */
    void **blk;    /* [tcap] the blocks, kept across resets */
    int64_t *used; /* [tcap] entries written in each block before cur */
    int64_t nblk, tcap;
} tg__sstream;

struct tg_stape {
    uint32_t tag;      /* issued handles carry it; changes at reset */
    int64_t n;         /* values recorded */
    int64_t cap;       /* the current value block ends here: pushing at n == cap moves on */
    double *val;       /* the current value block's values, indexed by i & TG__SB_MASK */
    uint8_t *kind;     /* and its kinds */
    double **vblk;     /* [vtab] value blocks: TG__SB values then TG__SB kinds */
    int64_t nvb, vtab; /* value blocks allocated, and room in the tables */
    tg__sstream arg;   /* uint32_t input indices */
    tg__sstream par;   /* double partials */
    /* A sweep's adjoints: one block per value block it has written and not yet
     * finished (adjb, NULL otherwise), the rest kept for the next (pool). */
    double **adjb; /* [vtab] */
    uint8_t *pin;  /* [vtab] the block holds an adjoint the sweep returns */
    double **pool; /* [vtab] free adjoint blocks */
    int64_t npool;
    tg_status status; /* the first error since reset, sticky */
    char msg[256];
};

/* Sets the tape's sticky error (the first one stays) and the thread's. */
void tg__stape_fail(tg_stape *st, tg_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* True when a is a live value of st; otherwise sets the error naming op and
 * the argument's slot (1-based), unless the tape is already in error. */
bool tg__stape_arg(tg_stape *st, tg_sv a, const char *op, int slot);
/* Makes room for one more value with k inputs (false: the error is set). */
bool tg__stape_reserve(tg_stape *st, int k, const char *op);

/* The value of live index i. */
static inline double tg__stape_val(const tg_stape *st, uint32_t i)
{
    return st->vblk[i >> TG__SB_SHIFT][i & TG__SB_MASK];
}

/* How partial p is recorded: +1 and -1 (sums and differences) as a code
 * alone, which multiplies exactly as the stored number would. */
static inline unsigned tg__stape_code(double p)
{
    return p == 1.0 ? TG__SP_ONE : p == -1.0 ? TG__SP_MONE : TG__SP_STORED;
}

/* Records value v with k inputs (a0 with partial p0, a1 with p1). */
static inline tg_sv tg__stape_push(tg_stape *st, double v, int k, uint32_t a0, double p0,
                                   uint32_t a1, double p1, const char *op)
{
    if (__builtin_expect(st->n == st->cap || st->arg.fill + k > st->arg.lim ||
                             st->par.fill + k > st->par.lim,
                         0) &&
        !tg__stape_reserve(st, k, op))
        return TG_SV_NONE;
    const int64_t i = st->n++;
    unsigned c0 = TG__SP_ONE, c1 = TG__SP_ONE;
    uint32_t *arg = st->arg.cur;
    double *par = st->par.cur;
    if (k > 0) {
        arg[st->arg.fill++] = a0;
        c0 = tg__stape_code(p0);
        if (c0 == TG__SP_STORED) par[st->par.fill++] = p0;
    }
    if (k > 1) {
        arg[st->arg.fill++] = a1;
        c1 = tg__stape_code(p1);
        if (c1 == TG__SP_STORED) par[st->par.fill++] = p1;
    }
    st->val[i & TG__SB_MASK] = v;
    st->kind[i & TG__SB_MASK] = (uint8_t)((unsigned)k | c0 << 2 | c1 << 4);
    return (tg_sv){(uint32_t)i, st->tag};
}

#endif
