/* tapegrad: how many threads the library's own kernels use.
 *
 * In a build with OpenMP (the meson option `openmp`, on where the compiler
 * has it), the large elementwise and broadcasting maps and their
 * gradients, slice, permute and concat copies, gathers and their
 * scatter-adds, sums and reductions along axes, softmax, normalisation
 * layers, pooling, convolutions (image by image), the optimizer updates and
 * large matrix products run on up to n threads.
 * Work is cut into pieces whose bounds do not depend on n, each piece is
 * computed the same way whatever thread runs it, and partial sums are
 * combined in a fixed order: every result is the same bits with any n
 * (tests/test_parallel.c checks so).  Small work stays on the calling
 * thread, where starting threads would cost more than it saves.
 *
 * OpenBLAS's own threads would change the rounding of its products and
 * factorizations, so tapegrad keeps OpenBLAS on one thread and cuts a large
 * product into pieces for its own threads instead: a program's
 * openblas_set_num_threads (or OPENBLAS_NUM_THREADS) is set back to 1 by
 * tapegrad's next matrix product or factorization.
 *
 * The setting is one per process, like torch.set_num_threads.  Kernels
 * called from inside the caller's own OpenMP parallel region, or in a child
 * process after fork(), run on one thread. */
#ifndef TAPEGRAD_THREADS_H
#define TAPEGRAD_THREADS_H

#include "export.h"
#include "tensor.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most threads tg_set_num_threads takes. */
#define TG_MAX_THREADS 256

/* Use n threads (1..TG_MAX_THREADS; 0: the default, OMP_NUM_THREADS or
 * else the CPU count) for the kernels and matrix products; TG_ERR_ARG for
 * any other n.  Without OpenMP everything runs on the calling thread. */
TG_API tg_status tg_set_num_threads(int n);
/* The thread count set (or the default), at least 1. */
TG_API int tg_get_num_threads(void);
/* Whether this build runs kernels with OpenMP. */
TG_API bool tg_have_openmp(void);

#ifdef __cplusplus
}
#endif
#endif
