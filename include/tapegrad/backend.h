/* tapegrad: what matrix products run on (the BLAS backend), and whether its
 * kernels suit this CPU. */
#ifndef TAPEGRAD_BACKEND_H
#define TAPEGRAD_BACKEND_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What matrix products (matmul, conv2d, ...) run on, e.g. "OpenBLAS 0.3.21
 * NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64" (the last
 * word but one: the CPU kernels OpenBLAS chose) or "built-in gemm", into buf
 * (always NUL-terminated when size > 0); returns buf. */
TG_API char *tg_gemm_describe(char *buf, size_t size);
/* Whether matrix products run on kernels much slower than this CPU allows.
 * OpenBLAS releases before 0.3.25 do not recognise some newer x86-64 models
 * and fall back to their generic SSE3 ("Prescott") kernels: gemm 2-4x
 * slower than with the CPU's AVX2 or AVX-512 kernels.  The remedy is the
 * environment variable OPENBLAS_CORETYPE, which OpenBLAS reads when it is
 * loaded: it must be set before the program starts.  When so, writes one
 * line of advice naming the value to set into advice (if not NULL; always
 * NUL-terminated when size > 0) and returns true. */
TG_API bool tg_gemm_slow_kernels(char *advice, size_t size);

#ifdef __cplusplus
}
#endif
#endif
