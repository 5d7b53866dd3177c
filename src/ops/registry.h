/* The op registry: every built-in tg_op descriptor, internal (tg__, never in
 * include/).  Each file of src/ops ends with one NULL-terminated array of
 * its descriptors, tg__ops_<file>; registry.c joins them, and
 * tests/test_op_coverage.c refuses a descriptor that has no case in
 * tests/op_cases.h, no direct rule, or (when it can run on one element) no
 * scalar rule.  A new op file adds its array here and in registry.c. */
#ifndef TG_OPS_REGISTRY_H
#define TG_OPS_REGISTRY_H

#include "tapegrad.h"

#include <stddef.h>

extern const tg_op *const tg__ops_activation[];
extern const tg_op *const tg__ops_conv[];
extern const tg_op *const tg__ops_conv_cols[];
extern const tg_op *const tg__ops_elementary[];
extern const tg_op *const tg__ops_elementwise[];
extern const tg_op *const tg__ops_fast_dropout[];
extern const tg_op *const tg__ops_index[];
extern const tg_op *const tg__ops_linalg[];
extern const tg_op *const tg__ops_linalg_det[];
extern const tg_op *const tg__ops_loss[];
extern const tg_op *const tg__ops_matmul[];
extern const tg_op *const tg__ops_norm[];
extern const tg_op *const tg__ops_permute[];
extern const tg_op *const tg__ops_pool[];
extern const tg_op *const tg__ops_pool_adaptive[];
extern const tg_op *const tg__ops_reduce[];
extern const tg_op *const tg__ops_select[];
extern const tg_op *const tg__ops_reduce_stat[];
extern const tg_op *const tg__ops_scan[];
extern const tg_op *const tg__ops_shape[];
extern const tg_op *const tg__ops_softmax[];

/* How many built-in descriptors there are, and the i-th (NULL past the
 * end), in a fixed order: file by file, each file's in its own order. */
size_t tg__builtin_op_count(void);
const tg_op *tg__builtin_op(size_t i);
/* The descriptor whose .name is name, or NULL. */
const tg_op *tg__builtin_op_find(const char *name);

#endif
