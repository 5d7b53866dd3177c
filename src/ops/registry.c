/* The op registry (registry.h): the per-file descriptor arrays joined in one
 * list, so a test can walk every built-in op without naming any. */
#include "registry.h"

#include <string.h>

static const tg_op *const *const k_files[] = {
    tg__ops_activation,  tg__ops_conv,          tg__ops_conv_cols, tg__ops_elementary,
    tg__ops_elementwise, tg__ops_fast_dropout,  tg__ops_index,     tg__ops_linalg,
    tg__ops_linalg_det,  tg__ops_loss,          tg__ops_matmul,    tg__ops_norm,
    tg__ops_pool,        tg__ops_pool_adaptive, tg__ops_reduce,    tg__ops_reduce_stat,
    tg__ops_scan,        tg__ops_select,        tg__ops_shape,     tg__ops_softmax,
    tg__ops_permute,
};

size_t tg__builtin_op_count(void)
{
    size_t n = 0;
    for (size_t f = 0; f < sizeof k_files / sizeof k_files[0]; f++)
        for (const tg_op *const *p = k_files[f]; *p; p++) n++;
    return n;
}

const tg_op *tg__builtin_op(size_t i)
{
    for (size_t f = 0; f < sizeof k_files / sizeof k_files[0]; f++)
        for (const tg_op *const *p = k_files[f]; *p; p++)
            if (i-- == 0) return *p;
    return NULL;
}

const tg_op *tg__builtin_op_find(const char *name)
{
    for (size_t i = 0; name && i < tg__builtin_op_count(); i++)
        if (strcmp(tg__builtin_op(i)->name, name) == 0) return tg__builtin_op(i);
    return NULL;
}
