/* PCG32 (PCG-XSH-RR 64/32) and the uniform and normal draws built on it; see cr.h. */
#include "cr.h"

#include <math.h>

#define PCG_MULT 6364136223846793005ULL

static void step(cr_rng *r) { r->state = r->state * PCG_MULT + r->inc; }

void cr_rng_seed(cr_rng *r, uint64_t seed, uint64_t stream) {
  r->state = 0;
  r->inc = (stream << 1) | 1u;
  step(r);
  r->state += seed;
  step(r);
}

uint32_t cr_rng_u32(cr_rng *r) {
  uint64_t old = r->state;
  step(r);
  uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
  uint32_t rot = (uint32_t)(old >> 59);
  return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

uint32_t cr_rng_bounded(cr_rng *r, uint32_t bound) {
  if (bound <= 1) return 0;
  /* 2^32 mod bound: draws below it would make the low residues more likely. */
  uint32_t threshold = (uint32_t)(0u - bound) % bound;
  for (;;) {
    uint32_t x = cr_rng_u32(r);
    if (x >= threshold) return x % bound;
  }
}

float cr_rng_uniform(cr_rng *r) { return (float)(cr_rng_u32(r) >> 8) * 0x1p-24f; }

double cr_rng_uniform_double(cr_rng *r) {
  uint64_t hi = cr_rng_u32(r) >> 5, lo = cr_rng_u32(r) >> 6;   /* 27 + 26 = 53 bits */
  return (double)((hi << 26) | lo) * 0x1p-53;
}

float cr_rng_normal(cr_rng *r) {
  for (;;) {
    double u = 2.0 * cr_rng_uniform_double(r) - 1.0;
    double v = 2.0 * cr_rng_uniform_double(r) - 1.0;
    /* Separate statements: no compiler may fuse these into an FMA (clang's default
       -ffp-contract=on fuses only within one expression), so every platform gets the
       same bits. */
    double uu = u * u;
    double vv = v * v;
    double s = uu + vv;
    if (s > 0.0 && s < 1.0) return (float)(u * sqrt(-2.0 * log(s) / s));
  }
}
