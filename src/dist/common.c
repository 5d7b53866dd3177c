/* The checks every tg_dist_* function makes before any communication, and,
 * in a build without MPI, the functions themselves (they fail with a clear
 * error; rank and size answer a single process). */
#include "dist.h"

tg_status tg__dist_check_list(const char *fn, const char *what, int n, tg_tensor *const *ts,
                              bool need_grad, int *bad)
{
    *bad = -1;
    if (n < 0) {
        tg__set_last(TG_ERR_ARG, "%s: n = %d is negative", fn, n);
        return TG_ERR_ARG;
    }
    if (!ts && n > 0) {
        tg__set_last(TG_ERR_NULL, "%s: %ss is NULL", fn, what);
        return TG_ERR_NULL;
    }
    char s[TG_SHAPE_BUF];
    for (int i = 0; i < n; i++) {
        const tg_tensor *t = ts[i];
        *bad = i;
        if (!t) {
            tg__set_last(TG_ERR_NULL, "%s: %s %d is NULL", fn, what, i);
            return TG_ERR_NULL;
        }
        if (t->magic != TG_MAGIC_USER || tg__tensor_freed(t)) {
            tg__set_last(TG_ERR_ARG, "%s: %s %d is not a live user-owned tensor", fn, what, i);
            return TG_ERR_ARG;
        }
        if (t->dtype != TG_F32 && t->dtype != TG_F64) {
            tg__set_last(TG_ERR_DTYPE, "%s: %s %d %s is %s: only f32 and f64 are exchanged", fn,
                         what, i, tg__shape_str(t, s, sizeof s), tg_dtype_name(t->dtype));
            return TG_ERR_DTYPE;
        }
        if (need_grad && !t->grad) {
            tg__set_last(TG_ERR_ARG, "%s: %s %d %s has no gradient (tg_backward did not reach it)",
                         fn, what, i, tg__shape_str(t, s, sizeof s));
            return TG_ERR_ARG;
        }
    }
    *bad = -1;
    return TG_OK;
}

int64_t tg__dist_signature(int n, tg_tensor *const *ts)
{
    uint64_t h = 1469598103934665603ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
    MIX(n);
    for (int i = 0; i < n && ts; i++) {
        MIX(ts[i]->dtype);
        MIX(ts[i]->ndim);
        for (int d = 0; d < ts[i]->ndim; d++) MIX(ts[i]->shape[d]);
    }
#undef MIX
    return (int64_t)(h >> 1);
}

#if !TG_HAVE_MPI
static tg_status no_mpi(const char *fn)
{
    tg__set_last(TG_ERR_ARG, "%s: tapegrad was built without MPI (meson option mpi)", fn);
    return TG_ERR_ARG;
}

tg_status tg_dist_init(int *argc, char ***argv, const tg_dist_options *opts)
{
    (void)argc, (void)argv, (void)opts;
    return no_mpi("tg_dist_init");
}

tg_status tg_dist_finalize(void)
{
    return TG_OK;
}

int tg_dist_rank(void)
{
    return 0;
}

int tg_dist_size(void)
{
    return 1;
}

tg_status tg_dist_broadcast(int n, tg_tensor *const *tensors)
{
    int bad;
    tg_status st = tg__dist_check_list("tg_dist_broadcast", "tensor", n, tensors, false, &bad);
    return st != TG_OK ? st : no_mpi("tg_dist_broadcast");
}

tg_status tg_dist_allreduce_grads(int n, tg_tensor *const *params)
{
    int bad;
    tg_status st =
        tg__dist_check_list("tg_dist_allreduce_grads", "parameter", n, params, true, &bad);
    return st != TG_OK ? st : no_mpi("tg_dist_allreduce_grads");
}
#endif
