/* Initialisers: fill a weight tensor from an explicit seeded RNG, so the same
 * seed gives the same network on every machine (xoshiro256** is exact
 * integer arithmetic; the normal draws use libm's log/cos, correctly rounded
 * or within an ulp on every libm we know of).
 *
 * Fans follow nn.h: a 2-d weight (in, out) is used as x @ W, so fan_in is
 * its first extent (PyTorch's Linear stores (out, in): the opposite order);
 * a weight of 3 or more dimensions (F, C, k...) is a convolution kernel with
 * fan_in = C * prod(k) and fan_out = F * prod(k).
 *
 * Xavier/Glorot (Glorot & Bengio 2010) keeps the variance of activations and
 * of gradients equal across layers: Var w = 2 / (fan_in + fan_out), i.e.
 * U(+-sqrt(6 / (fan_in + fan_out))) since Var U(-a, a) = a^2 / 3.  He
 * (He et al. 2015) compensates the half of the signal a ReLU discards:
 * Var w = 2 / fan_in, i.e. U(+-sqrt(6 / fan_in)). */
#include "../core/internal.h"

static tg_status check_tensor(const char *fn, tg_tensor *w, tg_rng *r)
{
    if (!w || !r) {
        tg__set_last(TG_ERR_NULL, "%s: %s is NULL", fn, !w ? "weight" : "rng");
        return TG_ERR_NULL;
    }
    if (w->dtype == TG_I64) { /* the fills are float loops (TG_DISPATCH) */
        tg__set_last(TG_ERR_DTYPE, "%s: the weight is an i64 tensor; weights are f32 or f64", fn);
        return TG_ERR_DTYPE;
    }
    return TG_OK;
}

/* Fills w with lo + (hi - lo) u, u uniform in [0, 1).  In f32 the product is
 * rounded once more, so a value may round up to hi itself. */
static void fill_uniform(tg_tensor *w, tg_rng *r, double lo, double hi)
{
    tg__bump_version(w); /* a tape that recorded w must see the change */
    TG_DISPATCH(w->dtype, T, {
        T *d = (T *)w->data;
        for (int64_t i = 0; i < w->numel; i++) d[i] = (T)(lo + (hi - lo) * tg_rng_uniform(r));
    });
}

static void fill_normal(tg_tensor *w, tg_rng *r, double mean, double std)
{
    tg__bump_version(w);
    TG_DISPATCH(w->dtype, T, {
        T *d = (T *)w->data;
        for (int64_t i = 0; i < w->numel; i++) d[i] = (T)(mean + std * tg_rng_normal(r));
    });
}

tg_status tg_init_uniform(tg_tensor *w, tg_rng *r, double lo, double hi)
{
    tg_status st = check_tensor("init_uniform", w, r);
    if (st != TG_OK) return st;
    if (!isfinite(lo) || !isfinite(hi) || hi < lo) {
        tg__set_last(TG_ERR_ARG, "init_uniform: bounds [%g, %g) are not finite with lo <= hi", lo,
                     hi);
        return TG_ERR_ARG;
    }
    fill_uniform(w, r, lo, hi);
    return TG_OK;
}

tg_status tg_init_normal(tg_tensor *w, tg_rng *r, double mean, double std)
{
    tg_status st = check_tensor("init_normal", w, r);
    if (st != TG_OK) return st;
    if (!isfinite(mean) || !isfinite(std) || std < 0) {
        tg__set_last(TG_ERR_ARG, "init_normal: mean %g, std %g: need finite values and std >= 0",
                     mean, std);
        return TG_ERR_ARG;
    }
    fill_normal(w, r, mean, std);
    return TG_OK;
}

/* The fans of a weight; an error for 0-d, 1-d or more than 4-d weights (a
 * bias has no fan: initialise it with tg_init_uniform / tg_tensor_fill). */
static tg_status fans(const char *fn, tg_tensor *w, tg_rng *r, double *fan_in, double *fan_out)
{
    tg_status st = check_tensor(fn, w, r);
    if (st != TG_OK) return st;
    if (w->ndim < 2 || w->ndim > 4) {
        char s[TG_SHAPE_BUF];
        tg__set_last(TG_ERR_SHAPE,
                     "%s: weight %s: fans are defined for a 2-d (in, out) or a 3-d/4-d "
                     "(F, C, k...) weight",
                     fn, tg__shape_str(w, s, sizeof s));
        return TG_ERR_SHAPE;
    }
    if (w->ndim == 2) {
        *fan_in = (double)w->shape[0];
        *fan_out = (double)w->shape[1];
    } else {
        double rf = 1;
        for (int i = 2; i < w->ndim; i++) rf *= (double)w->shape[i];
        *fan_in = (double)w->shape[1] * rf;
        *fan_out = (double)w->shape[0] * rf;
    }
    return TG_OK;
}

tg_status tg_init_xavier_uniform(tg_tensor *w, tg_rng *r)
{
    double fi, fo;
    tg_status st = fans("init_xavier_uniform", w, r, &fi, &fo);
    if (st != TG_OK) return st;
    if (w->numel == 0) return TG_OK; /* nothing to draw (and the fans may be 0) */
    double a = sqrt(6.0 / (fi + fo));
    fill_uniform(w, r, -a, a);
    return TG_OK;
}

tg_status tg_init_xavier_normal(tg_tensor *w, tg_rng *r)
{
    double fi, fo;
    tg_status st = fans("init_xavier_normal", w, r, &fi, &fo);
    if (st != TG_OK) return st;
    if (w->numel == 0) return TG_OK;
    fill_normal(w, r, 0.0, sqrt(2.0 / (fi + fo)));
    return TG_OK;
}

tg_status tg_init_he_uniform(tg_tensor *w, tg_rng *r)
{
    double fi, fo;
    tg_status st = fans("init_he_uniform", w, r, &fi, &fo);
    if (st != TG_OK) return st;
    if (w->numel == 0) return TG_OK;
    double a = sqrt(6.0 / fi);
    fill_uniform(w, r, -a, a);
    return TG_OK;
}

tg_status tg_init_he_normal(tg_tensor *w, tg_rng *r)
{
    double fi, fo;
    tg_status st = fans("init_he_normal", w, r, &fi, &fo);
    if (st != TG_OK) return st;
    if (w->numel == 0) return TG_OK;
    fill_normal(w, r, 0.0, sqrt(2.0 / fi));
    return TG_OK;
}
