/* The op test cases of op_cases.h, made into functions and one array. */
#include "op_cases.h"

#include "common.h"

#include <stdlib.h>

oc_consts *oc_consts_new(void)
{
    oc_consts *k = calloc(1, sizeof *k);
    ck_assert_ptr_nonnull(k);
    k->c = tt_rand(TG_F64, 4, TT_SHAPE(2, 2, 4, 4), 901, 0.5, 1.5);
    k->w16 = tt_rand(TG_F64, 2, TT_SHAPE(16, 3), 902, -1, 1);
    k->wconv = tt_rand(TG_F64, 4, TT_SHAPE(3, 2, 3, 3), 903, -1, 1);
    k->bconv = tt_rand(TG_F64, 1, TT_SHAPE(3), 904, -1, 1);
    k->ninf = tg_tensor_full(TG_F64, 2, TT_SHAPE(4, 1), -INFINITY);
    k->t17 = tt_rand(TG_F64, 2, TT_SHAPE(4, 17), 907, 0.5, 1.5);
    ck_assert_ptr_nonnull(k->ninf);
    k->i2244 = tg_tensor_new(TG_I64, 4, TT_SHAPE(2, 2, 4, 4));
    ck_assert_ptr_nonnull(k->i2244);
    for (int64_t i = 0; i < 64; i++) tg_tensor_i64(k->i2244)[i] = (i * 5 + i / 7) % 4;
    k->i3 = tg_tensor_from(TG_I64, 1, TT_SHAPE(3), (const int64_t[]){1, 0, 1});
    k->i23 = tg_tensor_from(TG_I64, 2, TT_SHAPE(2, 3), (const int64_t[]){3, 0, 3, 2, 0, 0});
    for (int64_t r = 0; r < 4; r++) {
        double s = 0;
        tg_tensor_set_flat(k->t17, 17 * r + 16, 0);
        for (int64_t j = 0; j < 17; j++) s += tg_tensor_get_flat(k->t17, 17 * r + j);
        for (int64_t j = 0; j < 17; j++)
            tg_tensor_set_flat(k->t17, 17 * r + j, tg_tensor_get_flat(k->t17, 17 * r + j) / s);
    }
    return k;
}

void oc_consts_free(oc_consts *k)
{
    if (!k) return;
    tg_tensor *all[] = {k->c, k->w16, k->wconv, k->bconv, k->ninf, k->t17};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tg_tensor_free(all[i]);
    tg_tensor *indices[] = {k->i2244, k->i3, k->i23};
    for (size_t i = 0; i < sizeof indices / sizeof indices[0]; i++) tg_tensor_free(indices[i]);
    free(k);
}

tg_tensor *oc_grad(tg_tape *tp, tg_tensor *y, tg_tensor *x)
{
    return tg_grad(tp, tg_sum_all(tp, y), x, true);
}

tg_tensor *oc_matmul_m_m(tg_tape *tp, tg_tensor *m)
{
    return tg_matmul(tp, m, m);
}
tg_tensor *oc_matmul_b_bt(tg_tape *tp, tg_tensor *b)
{
    return tg_matmul(tp, b, tg_transpose(tp, b, 1, 2));
}
tg_tensor *oc_matmul_t_self(tg_tape *tp, tg_tensor *b)
{
    return tg_matmul_t(tp, b, b, true, false);
}
tg_tensor *oc_div_y_yy(tg_tape *tp, tg_tensor *y)
{
    return tg_div(tp, y, tg_mul(tp, y, y));
}

tg_tensor *oc_plus_eye(tg_tape *tp, tg_tensor *x, double c)
{
    if (!x) return NULL;
    const int64_t n = tg_tensor_shape(x)[tg_tensor_ndim(x) - 1];
    tg_tensor *v = tg_slice(tp, tg_reshape(tp, x, 1, OC_S(tg_tensor_numel(x))), 0, 0, n, 1);
    tg_tensor *d = tg_add_scalar(tp, tg_mul_scalar(tp, v, 0), c);
    tg_tensor *eye = tg_embed(tp, d, 1, OC_S(n * n), 0, 0, n + 1);
    return tg_add(tp, x, tg_reshape(tp, eye, 2, OC_S(n, n)));
}

/* Each row's call, forward value and derivative as functions. */
#define OC_DEF(op, id, flags, lo, hi, a, b, ref, dref, call)                                       \
    static tg_tensor *oc_f_##id(tg_tape *tp, tg_tensor *x, tg_tensor *y, const oc_consts *K)       \
    {                                                                                              \
        (void)x, (void)y, (void)K;                                                                 \
        return call;                                                                               \
    }                                                                                              \
    static double oc_ref_##id(double v)                                                            \
    {                                                                                              \
        (void)v;                                                                                   \
        return (ref);                                                                              \
    }                                                                                              \
    static double oc_dref_##id(double v)                                                           \
    {                                                                                              \
        (void)v;                                                                                   \
        return (dref);                                                                             \
    }
OP_CASES(OC_DEF)

#define OC_ROW(op, id, flags, lo, hi, a, b, ref, dref, call)                                       \
    {#op, #id, flags, lo, hi, a, b, oc_ref_##id, oc_dref_##id, oc_f_##id},
const oc_case oc_cases[] = {OP_CASES(OC_ROW)};
const int oc_num_cases = (int)(sizeof oc_cases / sizeof oc_cases[0]);

const oc_case *oc_next(int *from, unsigned flags)
{
    for (int i = *from + 1; i < oc_num_cases; i++)
        if ((oc_cases[i].flags & flags) == flags) return &oc_cases[*from = i];
    *from = oc_num_cases;
    return NULL;
}

/* The same constants in dtype dt (each value rounded once); the index
 * tensors are copied as they are. */
static tg_tensor *cast_float(const tg_tensor *t, tg_dtype dt)
{
    tg_tensor *c = tg_tensor_dtype(t) == TG_I64 ? tg_tensor_clone(t) : tg_tensor_cast_new(t, dt);
    ck_assert_ptr_nonnull(c);
    return c;
}

oc_consts *oc_consts_cast(const oc_consts *k, tg_dtype dt)
{
    oc_consts *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->c = cast_float(k->c, dt);
    c->w16 = cast_float(k->w16, dt);
    c->wconv = cast_float(k->wconv, dt);
    c->bconv = cast_float(k->bconv, dt);
    c->ninf = cast_float(k->ninf, dt);
    c->t17 = cast_float(k->t17, dt);
    c->i2244 = cast_float(k->i2244, dt);
    c->i3 = cast_float(k->i3, dt);
    c->i23 = cast_float(k->i23, dt);
    return c;
}
