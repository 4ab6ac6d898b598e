/* PCG32: published reference values, reproducibility, streams, and the distributions of
 * the uniform, bounded and normal draws. Statistical checks allow 5 standard errors of the
 * estimate (a false alarm about once in 1.7 million runs); the standard error of each is
 * written beside it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt_test.h"

/* First outputs of the PCG reference demo (pcg32-demo.c, pcg32_srandom_r(&rng, 42, 54)),
 * published with the PCG C implementation. */
static const uint32_t PCG_DEMO[6] = {0xa15c02b7, 0x7b47f409, 0xba1d3330,
                                     0x83d2f293, 0xbfa4784b, 0xcbed606e};

START_TEST(test_pcg32_reference_values) {
  cr_rng r;
  cr_rng_seed(&r, 42, 54);
  for (int i = 0; i < 6; i++) {
    uint32_t got = cr_rng_u32(&r);
    ck_assert_msg(got == PCG_DEMO[i], "output %d: expected 0x%08x, got 0x%08x", i, PCG_DEMO[i], got);
  }
}
END_TEST

START_TEST(test_reproducible_and_streams) {
  cr_rng a, b, c, d;
  cr_rng_seed(&a, 123, 1);
  cr_rng_seed(&b, 123, 1);
  cr_rng_seed(&c, 123, 2);
  cr_rng_seed(&d, 124, 1);
  int same_c = 0, same_d = 0;
  for (int i = 0; i < 1000; i++) {
    uint32_t x = cr_rng_u32(&a);
    ck_assert_uint_eq(x, cr_rng_u32(&b));
    same_c += x == cr_rng_u32(&c);
    same_d += x == cr_rng_u32(&d);
  }
  /* Independent 32-bit streams agree on a draw with probability 2^-32. */
  ck_assert_msg(same_c <= 1, "stream 2 matched stream 1 at %d of 1000 draws", same_c);
  ck_assert_msg(same_d <= 1, "seed 124 matched seed 123 at %d of 1000 draws", same_d);
}
END_TEST

START_TEST(test_uniform_definitions) {
  /* The documented bit recipes, checked against raw u32 draws of a copy. */
  cr_rng r, raw;
  cr_rng_seed(&r, 9, 3);
  raw = r;
  for (int i = 0; i < 1000; i++) {
    float u = cr_rng_uniform(&r);
    ck_assert_float_eq(u, (float)(cr_rng_u32(&raw) >> 8) / 16777216.0f);
    ck_assert(u >= 0.0f && u < 1.0f);
    double v = cr_rng_uniform_double(&r);
    uint64_t hi = cr_rng_u32(&raw) >> 5, lo = cr_rng_u32(&raw) >> 6;
    ck_assert_double_eq(v, (double)(hi * 67108864u + lo) / 9007199254740992.0);
    ck_assert(v >= 0.0 && v < 1.0);
  }
}
END_TEST

START_TEST(test_uniform_moments) {
  enum { N = 200000 };
  cr_rng r;
  cr_rng_seed(&r, 2024, 7);
  double s = 0, ss = 0;
  for (int i = 0; i < N; i++) {
    double u = cr_rng_uniform(&r);
    s += u;
    ss += u * u;
  }
  double mean = s / N, var = ss / N - mean * mean;
  /* U(0,1): mean 1/2 (SE sqrt(1/12/N)), variance 1/12 (SE sqrt((1/80 - 1/144)/N)). */
  ck_assert_msg(fabs(mean - 0.5) < 5 * sqrt(1.0 / 12 / N), "uniform mean %g", mean);
  ck_assert_msg(fabs(var - 1.0 / 12) < 5 * sqrt((1.0 / 80 - 1.0 / 144) / N), "uniform var %g", var);
}
END_TEST

START_TEST(test_bounded_counts) {
  enum { N = 100000, K = 10 };
  cr_rng r;
  cr_rng_seed(&r, 5, 5);
  long count[K] = {0};
  for (int i = 0; i < N; i++) {
    uint32_t v = cr_rng_bounded(&r, K);
    ck_assert_uint_lt(v, K);
    count[v]++;
  }
  /* Each count is Binomial(N, 1/K): SE sqrt(N p (1-p)). */
  double se = sqrt(N * 0.1 * 0.9);
  for (int k = 0; k < K; k++)
    ck_assert_msg(fabs(count[k] - N / (double)K) < 5 * se, "value %d drawn %ld times of %d", k,
                  count[k], N);
  ck_assert_uint_eq(cr_rng_bounded(&r, 1), 0);
}
END_TEST

START_TEST(test_normal_moments) {
  enum { N = 200000 };
  cr_rng r;
  cr_rng_seed(&r, 77, 1);
  double s = 0, ss = 0;
  long inside = 0;
  for (int i = 0; i < N; i++) {
    double z = cr_rng_normal(&r);
    ck_assert(isfinite(z));
    s += z;
    ss += z * z;
    inside += fabs(z) < 1.0;
  }
  double mean = s / N, sd = sqrt(ss / N - mean * mean);
  double p1 = 0.6826894921370859;   /* P(|Z| < 1) = erf(1/sqrt 2) */
  ck_assert_msg(fabs(mean) < 5 / sqrt(N), "normal mean %g", mean);
  /* SE of a normal sample's std: sigma / sqrt(2N). */
  ck_assert_msg(fabs(sd - 1) < 5 / sqrt(2.0 * N), "normal std %g", sd);
  ck_assert_msg(fabs(inside / (double)N - p1) < 5 * sqrt(p1 * (1 - p1) / N),
                "P(|z|<1) = %g, expected %g", inside / (double)N, p1);
  ck_assert_msg(fabs(erf(1 / sqrt(2.0)) - p1) < 1e-12, "constant check");
}
END_TEST

/* Large bounds exercise the rejection step (threshold = 2^32 mod bound is large). */
static const uint32_t BIG_BOUNDS[] = {0x80000001u, 0xFFFFFFFFu, 3u, 0x7FFFFFFFu};

START_TEST(test_bounded_large) {
  cr_rng r;
  cr_rng_seed(&r, (uint64_t)_i, 11);
  uint32_t bound = BIG_BOUNDS[_i];
  int high = 0;
  for (int i = 0; i < 4000; i++) {
    uint32_t v = cr_rng_bounded(&r, bound);
    ck_assert_msg(v < bound, "got %u for bound %u", v, bound);
    high += v >= bound / 2;
  }
  /* Values >= bound/2: Binomial(4000, p), p = (bound - bound/2) / bound. */
  double p = (double)(bound - bound / 2) / bound;
  ck_assert_msg(fabs(high - 4000 * p) < 5 * sqrt(4000 * p * (1 - p)),
                "%d of 4000 at or above bound/2 for bound %u, expected %.0f", high, bound, 4000 * p);
}
END_TEST

Suite *suite_rng(void) {
  Suite *s = suite_create("rng");
  TCase *core = tcase_create("core");
  tcase_add_test(core, test_pcg32_reference_values);
  tcase_add_test(core, test_reproducible_and_streams);
  tcase_add_test(core, test_uniform_definitions);
  tcase_add_test(core, test_uniform_moments);
  tcase_add_test(core, test_bounded_counts);
  tcase_add_test(core, test_normal_moments);
  tcase_set_timeout(core, 60);   /* statistical tests: ~1e6 draws under ASan, on a busy machine */
  suite_add_tcase(s, core);
  TCase *limits = tcase_create("limits");
  tcase_add_loop_test(limits, test_bounded_large, 0, COUNT(BIG_BOUNDS));
  suite_add_tcase(s, limits);
  return s;
}
