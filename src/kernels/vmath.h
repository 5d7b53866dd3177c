/* Elementary functions in plain arithmetic that the compiler can vectorise
 * (no libm call, no branch), for the f32 kernels whose cost is the function
 * itself (e.g. the sigmoid of an MLP's hidden layer).
 * f64 kernels keep libm. */
#ifndef TG_VMATH_H
#define TG_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* e^x in f32, within 2 ulp of expf (checked against expf over every f32 in
 * [-104, 89] by tests/test_activation.c's vmath test), with gradual
 * underflow to 0 below -87.3, +Inf above 88.7 and NaN for NaN.
 *
 * Cody-Waite reduction x = k ln 2 + r, |r| <= ln 2 / 2, with ln 2 split in a
 * part exact in f32 and a correction; e^r by the degree-6 polynomial of
 * Cephes' expf (S. Moshier); 2^k applied as two factors 2^(k/2) 2^(k-k/2),
 * each a normal number for every k in [-150, 128], so subnormal results and
 * overflow to Inf come out of the multiplications themselves. */
static inline float tg__expf(float x)
{
    x = x > 89.0f ? 89.0f : x; /* NaN passes both clamps unchanged */
    x = x < -104.0f ? -104.0f : x;
    /* k = round(x / ln 2): adding 1.5 * 2^23 leaves k in the low mantissa
     * bits (|k| < 2^22), read without a float-to-int conversion */
    const float magic = 12582912.0f;
    const float t = x * 1.44269504088896341f + magic;
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    const int32_t k = (int32_t)(tb - 0x4B400000u);
    const float kf = t - magic;
    float r = x - kf * 0.693359375f;
    r = r - kf * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t k1 = k / 2, k2 = k - k1;
    const uint32_t b1 = (uint32_t)(k1 + 127) << 23, b2 = (uint32_t)(k2 + 127) << 23;
    float s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    return p * s1 * s2;
}

/* The logistic function in f32 from tg__expf of -|x| (never overflows):
 * 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below. */
static inline float tg__sigmoidf(float x)
{
    const float e = tg__expf(-fabsf(x));
    const float s = 1.0f / (1.0f + e), es = e * s; /* both, then a select */
    return x >= 0 ? s : es;
}

#endif
