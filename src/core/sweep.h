/* The reverse sweep shared by tg_backward, tg_grad and tg_vjp: its state
 * (src/core/sweep.c runs it, src/core/backward.c sets it up and reads the
 * adjoints it leaves). */
#ifndef TG_CORE_SWEEP_H
#define TG_CORE_SWEEP_H

#include "internal.h"

/* A direct sweep's adjoint of one value: its one element itself, or where
 * its data is (8 bytes per value id in all, so a scalar tape's sweep takes
 * no arena block per adjoint). */
typedef union adj_slot {
    double f64;
    float f32;
    void *p;
} adj_slot;

/* What a direct sweep's slot[id] holds (state[id]). */
enum {
    ADJ_NONE,    /* no adjoint yet */
    ADJ_INLINE,  /* owned: the one element, in the slot itself */
    ADJ_OWNED,   /* owned: slot.p is a buffer this sweep made */
    ADJ_ADOPTED, /* slot.p is data the sweep was handed: copied before any sum */
};

typedef struct sweep {
    int32_t nv;     /* values known when the sweep started */
    bool *dep;      /* dep[id]: value depends on a target */
    bool dep_ready; /* dep[] is already final: no forward pass needed */
    /* tg_backward replacing .grad, in a direct sweep: a parameter's adjoint
     * buffer (when it has more than one element) is its spare (see struct
     * tg_tensor), which backward swaps with .grad's data once the sweep has
     * succeeded, instead of copying the adjoint over */
    bool spares;
    /* tg_backward: an output that depends on no target is an error (it
     * would write no gradient at all, and say nothing); tg_grad gives
     * zeros instead */
    bool need_dep;
    bool create_graph; /* later contributions are summed by tg_add (recorded) */
    bool explain;      /* explain mode narrates each rule and contribution */
    /* The tag of the union below: a direct sweep (no graph built, explain
     * off) keeps its adjoints in d, any other sweep in t. */
    bool direct;
    union {
        /* Each adjoint as bare data of its value's shape and dtype,
         * described by state[id] and slot[id] (ADJ_*).  No tensor header is
         * made per adjoint (on a scalar tape such a header would be most of the
         * sweep's memory), and a one-element adjoint lives in its slot. */
        struct {
            uint8_t *state;
            adj_slot *slot;
        } d;
        /* Each adjoint as a tensor. */
        struct {
            tg_tensor **grads; /* grads[id]: accumulated adjoint, or NULL */
            /* owned[id]: grads[id] is a buffer this sweep made and nothing
             * else references, so later contributions may be added into it
             * in place.  An adopted first contribution is not owned: it may
             * be another slot's adjoint, a forward tensor, or share data
             * with one (a reshape view). */
            bool *owned;
        } t;
    };
} sweep;

/* A direct sweep's adjoint data of value id, or NULL for none. */
static inline void *adj_data(const sweep *s, int32_t id)
{
    const uint8_t st = s->d.state[id];
    return st == ADJ_INLINE ? (void *)&s->d.slot[id] : st != ADJ_NONE ? s->d.slot[id].p : NULL;
}

/* Did a gradient reach value id (does the output depend on it)?  Asked of
 * the state, not of the data: a zero-size adjoint may have no bytes. */
static inline bool tg__sweep_reached(const sweep *s, int32_t id)
{
    if (id < 0 || id >= s->nv) return false;
    return s->direct ? s->d.state[id] != ADJ_NONE : s->t.grads[id] != NULL;
}

/* A sweep with no target marked and no adjoint arrays yet; false on out of
 * memory (tape error set). */
bool tg__sweep_init(tg_tape *tp, sweep *s);
/* Runs the reverse sweep from y with the targets already marked in s->dep.
 * On return s holds the adjoint of every value that has one. */
tg_status tg__sweep_run(tg_tape *tp, const char *what, tg_tensor *y, const tg_tensor *seed_in,
                        bool create_graph, sweep *s);
/* The adjoint of value id (of x's shape) after a sweep, or NULL for none:
 * the tensor itself, or after a direct sweep a header for its data, in h
 * when given (valid while h is), else a tape tensor. */
tg_tensor *tg__sweep_adjoint(tg_tape *tp, const sweep *s, int32_t id, const tg_tensor *x,
                             tg_tensor *h);

#endif
