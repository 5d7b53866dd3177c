/* tapegrad: checkpointing (rematerialisation).  tg_checkpoint runs a
 * segment of the graph without keeping its intermediates on the tape and
 * recomputes it when a gradient (or a tangent) has to go through it: memory
 * for time, as torch.utils.checkpoint and jax.checkpoint. */
#ifndef TAPEGRAD_CHECKPOINT_H
#define TAPEGRAD_CHECKPOINT_H

#include "export.h"

#include "tape.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A segment: a function of its n inputs in, recorded on tp (the tape it is
 * given, never another), returning one float tensor of tp (or one of in).
 * It must compute the same thing each time it is called with the same
 * inputs and ctx; random draws come from tg_tape_rng(tp), which is
 * restored for the recomputation.  Every tensor whose gradient is wanted
 * (the segment's parameters too) must reach it through in, not ctx; ctx
 * must stay valid while the node may be differentiated (until reset). */
typedef tg_tensor *(*tg_segment_fn)(tg_tape *tp, int n, tg_tensor *const *in, void *ctx);

/* y = fn(in) as one node: fn runs on a scratch tape that is reset before
 * the call returns (tp keeps it for the next checkpoint), so tp keeps y and
 * the inputs only; backward recomputes fn.  NULL on error (tp's error). */
TG_API tg_tensor *tg_checkpoint(tg_tape *tp, tg_segment_fn fn, void *ctx, int n,
                                tg_tensor *const *in);

#ifdef __cplusplus
}
#endif
#endif
