/* Small helpers shared by op implementations. */
#include "internal.h"

bool tg__same_dtype(tg_tape *tp, const char *op, const tg_tensor *a, const tg_tensor *b)
{
    if (a->dtype == b->dtype) return true;
    char x[TG_SHAPE_BUF + 8], y[TG_SHAPE_BUF + 8];
    tg_tape_fail(tp, TG_ERR_DTYPE, "%s: dtypes differ: %s and %s (use tg_cast)", op,
                 tg_tensor_describe(a, x, sizeof x), tg_tensor_describe(b, y, sizeof y));
    return false;
}

bool tg__expect_shape4(tg_tape *tp, const char *op, const char *what, const tg_tensor *t, int64_t a,
                       int64_t b, int64_t c, int64_t d)
{
    if (t->ndim == 4 && t->shape[0] == a && t->shape[1] == b && t->shape[2] == c &&
        t->shape[3] == d)
        return true;
    char s[TG_SHAPE_BUF];
    tg_tape_fail(tp, TG_ERR_SHAPE, "%s: %s is %s, expected (%lld,%lld,%lld,%lld)", op, what,
                 tg__shape_str(t, s, sizeof s), (long long)a, (long long)b, (long long)c,
                 (long long)d);
    return false;
}

bool tg__norm_axis(tg_tape *tp, const char *op, const tg_tensor *x, int axis, int *out)
{
    int a = axis < 0 ? axis + x->ndim : axis;
    if (a < 0 || a >= x->ndim) {
        char d[TG_SHAPE_BUF + 8];
        tg_tape_fail(tp, TG_ERR_AXIS, "%s: axis %d out of range for %s", op, axis,
                     tg_tensor_describe(x, d, sizeof d));
        return false;
    }
    *out = a;
    return true;
}

tg_tensor *tg__const_full(tg_tape *tp, tg_dtype dt, int ndim, const int64_t *shape, double v)
{
    tg_tensor *t = tg_tape_alloc(tp, dt, ndim, shape);
    if (t) tg_tensor_fill(t, v);
    return t;
}

tg_tensor *tg__const_copy(tg_tape *tp, const tg_tensor *src)
{
    tg_tensor *t = tg_tape_alloc(tp, src->dtype, src->ndim, src->shape);
    if (t) tg_tensor_copy(t, src);
    return t;
}

void tg__add_inplace(tg_tensor *b, const tg_tensor *a)
{
    if (a->dtype == b->dtype) {
        TG_DISPATCH(b->dtype, T, {
            T *restrict y = b->data;
            const T *restrict x = a->data;
            for (int64_t i = 0; i < b->numel; i++) y[i] += x[i];
        });
    } else {
        for (int64_t i = 0; i < b->numel; i++)
            tg_tensor_set_flat(b, i, tg_tensor_get_flat(b, i) + tg_tensor_get_flat(a, i));
    }
}

void tg__scalar_identity(const tg_node *n, const tg_scalar_args *a, double *gin)
{
    (void)n;
    gin[0] = a->gout;
}
