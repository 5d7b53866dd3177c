/* Full Jacobians and Hessians of small problems, both ways (verify.h).
 * Reverse mode gives one row of dy/dx per sweep (a vector-Jacobian product
 * with a unit seed), forward mode one column per sweep (a Jacobian-vector
 * product with a unit tangent), so the cheaper way is the one with fewer
 * sweeps: forward when x has fewer elements than y.  A Hessian is the
 * Jacobian of the recorded gradient: forward over reverse (a jvp of the
 * gradient, a column per element of x) or reverse over reverse (a vjp of
 * it, a row per element).  The two ways share no rule code path beyond the
 * ops' backward rules, which is why the tests compare them. */
#include "../core/checked.h"
#include "../core/internal.h"
#include "../core/tensor_priv.h"

/* The arguments of tg_jacobian_ex and tg_hessian_ex, with errors named what
 * (the call the user made): the parameters by their role, the mode, then
 * the usual checks of live tensors on tp. */
static bool jh_args(tg_tape *tp, const char *what, tg_tensor *y, tg_tensor *x, tg_jac_mode mode)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "%s: tape is NULL", what);
        return false;
    }
    if (!tg__tape_ok(tp)) return false;
    if (!y || !x) {
        tg_tape_fail(tp, TG_ERR_NULL, "%s: %s is NULL", what, !y ? "output" : "x");
        return false;
    }
    if (mode != TG_JAC_AUTO && mode != TG_JAC_FORWARD && mode != TG_JAC_REVERSE) {
        tg_tape_fail(tp, TG_ERR_ARG,
                     "%s: mode %d is not TG_JAC_AUTO, TG_JAC_FORWARD or TG_JAC_REVERSE", what,
                     (int)mode);
        return false;
    }
    return tg_tape_check_inputs(tp, what, 2, (tg_tensor *[]){y, x});
}

/* The user-owned (numel(y), numel(x)) result in x's dtype; NULL with the
 * tape error set. */
static tg_tensor *jac_new(tg_tape *tp, const char *what, const tg_tensor *y, const tg_tensor *x)
{
    int64_t n;
    const int64_t ext[2] = {y->numel, x->numel};
    tg_tensor *J =
        tg__extents_product(2, ext, TG_NUMEL_MAX, &n) ? tg_tensor_new(x->dtype, 2, ext) : NULL;
    if (!J)
        tg_tape_fail(tp, TG_ERR_NOMEM, "%s: out of memory for a %lld x %lld matrix", what,
                     (long long)y->numel, (long long)x->numel);
    return J;
}

/* Row i of J is e_i^T dy/dx: one reverse sweep per element of y. */
static bool rows_reverse(tg_tape *tp, const char *what, tg_tensor *y, tg_tensor *x, tg_tensor *J)
{
    tg_tensor *seed = tg_tensor_new(y->dtype, y->ndim, y->shape);
    if (!seed) {
        tg_tape_fail(tp, TG_ERR_NOMEM, "%s: out of memory for a seed %lld", what,
                     (long long)y->numel);
        return false;
    }
    bool ok = true;
    tg_tensor *xs[1] = {x};
    for (int64_t i = 0; i < y->numel && ok; i++) {
        tg_tensor_fill(seed, 0.0);
        tg_tensor_set_flat(seed, i, 1.0);
        tg_tensor *g = NULL;
        ok = tg__vjp(tp, what, y, seed, 1, xs, &g, false, false) == TG_OK;
        for (int64_t j = 0; ok && j < x->numel; j++)
            tg_tensor_set_flat(J, i * x->numel + j, tg_tensor_get_flat(g, j));
    }
    tg_tensor_free(seed);
    return ok;
}

/* Column j of J is dy/dx e_j: one forward sweep per element of x.  Each
 * unit tangent is a fresh tape constant: a sweep may record nodes that read
 * it (an op without a tangent rule), so it must not change afterwards. */
static bool cols_forward(tg_tape *tp, const char *what, tg_tensor *y, tg_tensor *x, tg_tensor *J)
{
    tg_tensor *xs[1] = {x}, *ys[1] = {y};
    for (int64_t j = 0; j < x->numel; j++) {
        tg_tensor *t = tg__const_full(tp, x->dtype, x->ndim, x->shape, 0.0);
        if (!t) return false;
        tg__tensor_put_flat(t, j, 1.0);
        tg_tensor *col = NULL;
        if (tg__jvp(tp, what, 1, xs, &t, 1, ys, &col, false) != TG_OK) return false;
        for (int64_t i = 0; i < y->numel; i++)
            tg_tensor_set_flat(J, i * x->numel + j, tg_tensor_get_flat(col, i));
    }
    return true;
}

/* dy/dx by mode (TG_JAC_AUTO: the one with fewer sweeps), errors named
 * what; the arguments are checked. */
static tg_tensor *jacobian_as(tg_tape *tp, const char *what, tg_tensor *y, tg_tensor *x,
                              tg_jac_mode mode)
{
    tg_tensor *J = jac_new(tp, what, y, x);
    if (!J) return NULL;
    if (mode == TG_JAC_AUTO) mode = x->numel < y->numel ? TG_JAC_FORWARD : TG_JAC_REVERSE;
    const bool ok =
        mode == TG_JAC_FORWARD ? cols_forward(tp, what, y, x, J) : rows_reverse(tp, what, y, x, J);
    if (ok) return J;
    tg_tensor_free(J);
    return NULL;
}

tg_tensor *tg_jacobian_ex(tg_tape *tp, tg_tensor *y, tg_tensor *x, tg_jac_mode mode)
{
    if (!jh_args(tp, "jacobian", y, x, mode)) return NULL;
    return jacobian_as(tp, "jacobian", y, x, mode);
}

tg_tensor *tg_jacobian(tg_tape *tp, tg_tensor *y, tg_tensor *x)
{
    return tg_jacobian_ex(tp, y, x, TG_JAC_AUTO);
}

tg_tensor *tg_hessian_ex(tg_tape *tp, tg_tensor *y, tg_tensor *x, tg_jac_mode mode)
{
    if (!jh_args(tp, "hessian", y, x, mode)) return NULL;
    /* The Jacobian of the recorded gradient, one sweep per element of x
     * either way; forward over reverse by default, as JAX's hessian
     * (jacfwd of jacrev). */
    tg_tensor *g = NULL;
    tg_tensor *xs[1] = {x};
    if (tg__vjp(tp, "hessian", y, NULL, 1, xs, &g, true, false) != TG_OK) return NULL;
    return jacobian_as(tp, "hessian", g, x, mode == TG_JAC_REVERSE ? mode : TG_JAC_FORWARD);
}

tg_tensor *tg_hessian(tg_tape *tp, tg_tensor *y, tg_tensor *x)
{
    return tg_hessian_ex(tp, y, x, TG_JAC_AUTO);
}
