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

tg_tensor *tg__binary_op(tg_tape *tp, const tg_op *op, tg__bin_kernel_fn *kernel, tg_tensor *a,
                         tg_tensor *b)
{
    tg_tensor *in[2] = {a, b};
    if (!tg_tape_check_inputs(tp, op->name, 2, in)) return NULL;
    if (!tg__same_dtype(tp, op->name, a, b)) return NULL;
    int nd;
    int64_t shape[TG_MAX_DIMS];
    if (!tg__broadcast_shape(a->ndim, a->shape, b->ndim, b->shape, &nd, shape)) {
        char x[TG_SHAPE_BUF], y[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: shapes %s and %s do not broadcast", op->name,
                     tg__shape_str(a, x, sizeof x), tg__shape_str(b, y, sizeof y));
        return NULL;
    }
    tg_tensor *out = tg_tape_alloc(tp, a->dtype, nd, shape);
    if (!out) return NULL;
    kernel(out, a, b);
    return tg__tape_record_checked(tp, op, 2, in, out, NULL, 0, 0, NULL);
}

tg_tensor *tg__grad_to_input(tg_tape *tp, const tg_node *n, int i, tg_tensor *g)
{
    tg_tensor *x = tg_node_input(n, i);
    if (!g) return NULL;
    if (tg_tensor_same_shape(g, x)) return g;
    return tg_sum_to(tp, g, tg_tensor_ndim(x), tg_tensor_shape(x));
}

tg_status tg__jvp_diagonal(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    tg_tensor *gin[1] = {NULL};
    const tg_status st = n->op->backward(tp, n, tin[0], gin);
    *tout = gin[0];
    return st;
}
