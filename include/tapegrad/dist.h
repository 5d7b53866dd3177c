/* tapegrad: data-parallel training over MPI (dist/mpi.c; docs/distributed.md).
 *
 * Every process (rank) holds a whole copy of the model, trains on its own
 * shard of each global mini-batch (tg_batches_shard, io.h) and, after
 * tg_backward, replaces each parameter's gradient by the mean of that
 * gradient over all ranks (tg_dist_allreduce_grads): every rank then takes
 * the same optimizer step, and the copies stay identical.
 *
 *     tg_dist_init(&argc, &argv, NULL);
 *     ... make the parameters (any seed: rank 0's values win) ...
 *     tg_dist_broadcast(n, params);
 *     tg_batches_shard(batches, tg_dist_rank(), tg_dist_size());
 *     while (tg_batches_next(batches, &x, &y, &m)) {
 *         ... forward, tg_backward ...
 *         if (tg_dist_allreduce_grads(n, params) != TG_OK) ... tg_last_error() ...
 *         tg_optim_step(opt);
 *     }
 *     tg_dist_finalize();
 *
 * Every rank must make the same calls in the same order with the same
 * parameter list (shapes and dtypes), as with any MPI collective.  The
 * state is the process's: call these functions from one thread (MPI is
 * initialised with MPI_THREAD_FUNNELED).
 *
 * Errors never abort: each call returns a status and sets tg_last_error()
 * ("tg_dist_...: ..." naming the MPI call when MPI reported the error).
 * MPI errors are returned, not fatal: the library's communicator (a
 * duplicate of MPI_COMM_WORLD) has MPI_ERRORS_RETURN.  A collective that
 * not every rank joins within the timeout (a rank failed, exited or hangs)
 * is an error on the ranks that wait, not a hang; after it, collectives
 * fail at once (the communicator is unusable): report it and exit.
 *
 * Built without MPI (meson option mpi), tg_dist_init, tg_dist_broadcast
 * and tg_dist_allreduce_grads fail with "...: tapegrad was built without
 * MPI (meson option mpi)"; tg_dist_rank and tg_dist_size answer 0 and 1. */
#ifndef TAPEGRAD_DIST_H
#define TAPEGRAD_DIST_H

#include <stddef.h>

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The default bucket: the bytes of gradients packed into one exchange. */
#define TG_DIST_BUCKET_BYTES_DEFAULT ((size_t)4 << 20)
/* The default timeout of a collective, in seconds. */
#define TG_DIST_TIMEOUT_DEFAULT 300.0

typedef struct tg_dist_options {
    /* The longest a rank waits in one collective for the others, seconds
     * (0: TG_DIST_TIMEOUT_DEFAULT; negative or NaN: an error).  It must be
     * longer than the longest time one rank may spend between collectives
     * beyond the others (a slow data load, an evaluation on one rank). */
    double timeout_seconds;
    /* Gradients are exchanged in buckets of at most this many bytes (0:
     * TG_DIST_BUCKET_BYTES_DEFAULT; at least 64): the memory the exchange
     * takes besides the gradients is about twice this. */
    size_t bucket_bytes;
} tg_dist_options;

/* Initialises MPI (MPI_Init_thread, MPI_THREAD_FUNNELED) unless the caller
 * already did (then tg_dist_finalize leaves MPI running for the caller), and
 * the library's communicator.  argc and argv may be NULL (MPI then does not
 * see the command line); opts NULL: the defaults.  A second call without
 * tg_dist_finalize between is an error. */
TG_API tg_status tg_dist_init(int *argc, char ***argv, const tg_dist_options *opts);
/* Frees the library's communicator and finalises MPI if tg_dist_init
 * initialised it.  Without tg_dist_init: nothing, TG_OK. */
TG_API tg_status tg_dist_finalize(void);
/* This process's rank in [0, size) and the number of ranks; 0 and 1
 * before tg_dist_init (and after tg_dist_finalize). */
TG_API int tg_dist_rank(void);
TG_API int tg_dist_size(void);

/* Rank 0's values of n user-owned F32/F64 tensors copied into the same
 * tensors on every rank (shapes and dtypes must agree across ranks: they
 * are checked).  Call once after making the parameters. */
TG_API tg_status tg_dist_broadcast(int n, tg_tensor *const *tensors);

/* Each of the n parameters' gradient (tg_tensor_grad) replaced by its mean
 * over the ranks, (g_0 + g_1 + ... + g_{size-1}) / size, summed in that
 * order (rank 0 first), in the gradient's dtype.  The order does not depend
 * on MPI's choice of algorithm: each element is summed by one rank and the
 * result sent to all, so every rank gets the same bits, and one run the
 * same bits as the next.  Gradients are packed into buckets of
 * bucket_bytes and exchanged one bucket at a time (a reduce-scatter then an
 * all-gather).  Every parameter must have a gradient (tg_backward reached
 * it); the ranks first compare their parameter lists, so a missing
 * gradient or a shape that differs is an error on every rank, with no
 * gradient changed.  On a failure during the exchange, gradients may be
 * partly averaged. */
TG_API tg_status tg_dist_allreduce_grads(int n, tg_tensor *const *params);

#ifdef __cplusplus
}
#endif
#endif
