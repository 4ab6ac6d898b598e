/* same_libm.c — expf and logf in plain float C (see same_libm.h): the same operations in the
 * same order on every IEEE single-precision target when built with -ffp-contract=off, so
 * their results are identical everywhere. Accurate to about 1 ulp; not for production. */
#include <stdint.h>

#include "same_libm.h"

static float from_bits(uint32_t u) {
  union {
    uint32_t u;
    float f;
  } c = {u};
  return c.f;
}

static uint32_t to_bits(float f) {
  union {
    float f;
    uint32_t u;
  } c = {f};
  return c.u;
}

/* 2^k for -126 <= k <= 127. */
static float pow2i(int k) { return from_bits((uint32_t)(k + 127) << 23); }

static const float LN2_HI = 6.93145752e-1f; /* ln 2 with its low bits cut (exact k*LN2_HI) */
static const float LN2_LO = 1.42860677e-6f;

float same_expf(float x) {
  if (x != x) return x;
  if (x > 88.7228394f) return from_bits(0x7f800000u);
  if (x < -103.972084f) return 0.0f;
  /* x = k ln2 + r, |r| <= ln2 / 2 */
  const float kf = x * 1.44269504f + (x < 0 ? -0.5f : 0.5f);
  const int k = (int)kf;
  const float r = (x - (float)k * LN2_HI) - (float)k * LN2_LO;
  /* e^r by its Taylor polynomial to degree 7 (error < 2e-9 for |r| <= 0.35) */
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  if (k > 127) return p * 2.0f * pow2i(k - 1);
  if (k < -126) return p * pow2i(k + 64) * pow2i(-64);
  return p * pow2i(k);
}

float same_logf(float x) {
  uint32_t b = to_bits(x);
  if (x != x || b == 0x7f800000u) return x;      /* nan, +inf */
  if (x == 0.0f) return -from_bits(0x7f800000u); /* -inf */
  if (x < 0.0f) return from_bits(0x7fc00000u);   /* nan */
  int e = 0;
  if (b < 0x00800000u) b = to_bits(x * 8388608.0f), e = -23; /* subnormal: scale by 2^23 */
  e += (int)(b >> 23) - 127;
  float m = from_bits((b & 0x007fffffu) | 0x3f800000u); /* [1, 2) */
  if (m > 1.41421356f) m *= 0.5f, e++;                  /* [sqrt(1/2), sqrt(2)) */
  /* log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172: odd series to s^11 */
  const float f = m - 1.0f;
  const float s = f / (2.0f + f);
  const float z = s * s;
  float p = 2.0f / 11.0f;
  p = p * z + 2.0f / 9.0f;
  p = p * z + 2.0f / 7.0f;
  p = p * z + 2.0f / 5.0f;
  p = p * z + 2.0f / 3.0f;
  const float lm = f - s * (f - p * z); /* = 2s + s*z*p, as f - s*f = 2s */
  return ((float)e * LN2_LO + lm) + (float)e * LN2_HI;
}
