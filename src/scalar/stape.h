/* The scalar tape's internals: its record and the recording step that every
 * operation (sops.c) ends with. */
#ifndef TG_STAPE_INTERNAL_H
#define TG_STAPE_INTERNAL_H

#include "../core/internal.h"
#include "tapegrad/scalar.h"

#include <stdbool.h>

struct tg_stape {
    uint32_t tag;     /* issued handles carry it; changes at reset */
    int64_t n, cap;   /* values recorded, and room for */
    double *val;      /* [cap] each value */
    uint8_t *nargs;   /* [cap] its input count, 0 to 2 */
    int64_t na, acap; /* inputs recorded, and room for */
    uint32_t *arg;    /* [acap] each input's value index, in recording order */
    double *par;      /* [acap] d value / d input, computed when recorded */
    double *adj;      /* [adjcap] the sweep's adjoints, kept between sweeps */
    int64_t adjcap;
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

/* Records value v with k inputs (a0 with partial p0, a1 with p1). */
static inline tg_sv tg__stape_push(tg_stape *st, double v, int k, uint32_t a0, double p0,
                                   uint32_t a1, double p1, const char *op)
{
    if (__builtin_expect(st->n == st->cap || st->na + k > st->acap, 0) &&
        !tg__stape_reserve(st, k, op))
        return TG_SV_NONE;
    const int64_t i = st->n++;
    st->val[i] = v;
    st->nargs[i] = (uint8_t)k;
    int64_t j = st->na;
    if (k > 0) st->arg[j] = a0, st->par[j] = p0, j++;
    if (k > 1) st->arg[j] = a1, st->par[j] = p1, j++;
    st->na = j;
    return (tg_sv){(uint32_t)i, st->tag};
}

#endif
