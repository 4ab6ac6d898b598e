/* rng.h — the tests' random numbers: splitmix64 (Steele, Lea, Flood 2014), fixed and the
 * same on every machine, so a seed names the same test data everywhere. */
#ifndef TEST_RNG_H
#define TEST_RNG_H

#include <stdint.h>

typedef struct { uint64_t s; } test_rng;

static inline uint64_t test_rng_next(test_rng *r)
{
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* uniform in [0, 1) with 53 random bits */
static inline double test_rng_uniform(test_rng *r) { return (double)(test_rng_next(r) >> 11) * 0x1.0p-53; }

/* uniform in [-a, a) */
static inline double test_rng_sym(test_rng *r, double a) { return a * (2 * test_rng_uniform(r) - 1); }

#endif
