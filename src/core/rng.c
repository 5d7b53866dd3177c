/* The random number generator (xoshiro256** seeded through splitmix64) and
 * the random tensor fills and constructors built on it.  Apart from
 * tensor.c, whose creation and element-store helpers it shares through
 * tensor_priv.h, so that each file stays one reviewable purpose. */
#include "internal.h"
#include "tensor_priv.h"

/* ---- RNG: xoshiro256** seeded through splitmix64 ------------------------- */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void tg_rng_seed(tg_rng *r, uint64_t seed)
{
    if (!r) {
        tg__set_last(TG_ERR_NULL, "tg_rng_seed: rng is NULL");
        return;
    }
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t tg_rng_next(tg_rng *r)
{
    if (!r) {
        tg__set_last(TG_ERR_NULL, "tg_rng_next: rng is NULL");
        return 0;
    }
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double tg_rng_uniform(tg_rng *r)
{
    if (!r) {
        tg__set_last(TG_ERR_NULL, "tg_rng_uniform: rng is NULL");
        return NAN;
    }
    return (double)(tg_rng_next(r) >> 11) * 0x1.0p-53;
}

double tg_rng_normal(tg_rng *r)
{
    if (!r) {
        tg__set_last(TG_ERR_NULL, "tg_rng_normal: rng is NULL");
        return NAN;
    }
    double u1 = tg_rng_uniform(r), u2 = tg_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

tg_status tg_tensor_fill_uniform(tg_tensor *t, tg_rng *r, double lo, double hi)
{
    if (!t || !r) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_fill_uniform: %s is NULL", !t ? "tensor" : "rng");
        return TG_ERR_NULL;
    }
    if (!tg__tensor_float_only("tg_tensor_fill_uniform", t, "random fills are for f32 and f64"))
        return TG_ERR_DTYPE;
    tg__bump_version(t);
    for (int64_t i = 0; i < t->numel; i++)
        tg__tensor_put_flat(t, i, lo + (hi - lo) * tg_rng_uniform(r));
    return TG_OK;
}

tg_status tg_tensor_fill_normal(tg_tensor *t, tg_rng *r, double mean, double std)
{
    if (!t || !r) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_fill_normal: %s is NULL", !t ? "tensor" : "rng");
        return TG_ERR_NULL;
    }
    if (!tg__tensor_float_only("tg_tensor_fill_normal", t, "random fills are for f32 and f64"))
        return TG_ERR_DTYPE;
    tg__bump_version(t);
    for (int64_t i = 0; i < t->numel; i++) tg__tensor_put_flat(t, i, mean + std * tg_rng_normal(r));
    return TG_OK;
}

tg_tensor *tg_tensor_rand(tg_dtype dt, int ndim, const int64_t *shape, tg_rng *r)
{
    if (!r) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_rand: rng is NULL");
        return NULL;
    }
    tg_tensor *t = tg__tensor_new_as("tg_tensor_rand", dt, ndim, shape);
    if (t && !tg__tensor_float_only("tg_tensor_rand", t, "random fills are for f32 and f64")) {
        tg_tensor_free(t);
        return NULL;
    }
    if (t) {
        tg_tensor_fill_uniform(t, r, 0.0, 1.0);
        t->version = 0; /* a new tensor: nothing has recorded it */
    }
    return t;
}

tg_tensor *tg_tensor_randn(tg_dtype dt, int ndim, const int64_t *shape, tg_rng *r)
{
    if (!r) {
        tg__set_last(TG_ERR_NULL, "tg_tensor_randn: rng is NULL");
        return NULL;
    }
    tg_tensor *t = tg__tensor_new_as("tg_tensor_randn", dt, ndim, shape);
    if (t && !tg__tensor_float_only("tg_tensor_randn", t, "random fills are for f32 and f64")) {
        tg_tensor_free(t);
        return NULL;
    }
    if (t) {
        tg_tensor_fill_normal(t, r, 0.0, 1.0);
        t->version = 0;
    }
    return t;
}
