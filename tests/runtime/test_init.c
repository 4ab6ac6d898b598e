/* Initialisation: every scheme's sample mean and std against PyTorch's formula.
 *
 * Tolerances come from the sample size N (5 standard errors each):
 *   mean: SE = sigma / sqrt(N).
 *   std:  SE(s) ~ sqrt((mu4 - sigma^4) / (4 sigma^2 N)) (delta method on the sample
 *         variance), with mu4 = 3 sigma^4 for a normal (SE = sigma / sqrt(2N)) and
 *         mu4 = b^4 / 5, sigma^2 = b^2 / 3 for U(-b, b) (SE = b / sqrt(15 N)).
 * The expected sigma is computed here from the formulas in torch.nn.init's documentation,
 * independently of cr_init.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt_test.h"

typedef struct {
  cr_init_spec spec;
  int uniform;     /* 1: U(-b, b), 0: normal, -1: zeros */
  double sigma;    /* expected standard deviation */
} init_case;

/* The cases, with sigma written as the formula (an automatic array may use sqrt). */
enum { NINIT = 14 };
static init_case get_case(int i) {
  const double r2 = sqrt(2.0);
  const init_case all[NINIT] = {
      {{"randn", NULL, NULL, 0, 784, 50}, 0, 1.0},
      {{"simple_kaiming", NULL, NULL, 0, 784, 50}, 0, 1.0 / sqrt(784.0)},
      {{"xavier_uniform", NULL, NULL, 0, 784, 50}, 1, sqrt(2.0 / (784 + 50))},
      {{"xavier_normal", NULL, NULL, 0, 784, 50}, 0, sqrt(2.0 / (784 + 50))},
      {{"xavier_normal", NULL, "tanh", 0, 50, 10}, 0, 5.0 / 3.0 * sqrt(2.0 / (50 + 10))},
      {{"kaiming_normal", "fan_in", "relu", 0, 784, 50}, 0, r2 / sqrt(784.0)},
      {{"kaiming_normal", "fan_out", "relu", 0, 784, 50}, 0, r2 / sqrt(50.0)},
      {{"kaiming_uniform", "fan_in", "relu", 0, 784, 50}, 1, r2 / sqrt(784.0)},
      {{"kaiming_uniform", "fan_out", "linear", 0, 784, 50}, 1, 1.0 / sqrt(50.0)},
      /* PyTorch's kaiming default: leaky_relu with a = 0, i.e. the relu gain. */
      {{"kaiming_normal", NULL, NULL, 0, 100, 7}, 0, r2 / sqrt(100.0)},
      {{"kaiming_normal", "fan_in", "leaky_relu", 0.2f, 100, 7}, 0,
       sqrt(2.0 / (1.0 + (double)0.2f * (double)0.2f)) / sqrt(100.0)},
      {{"kaiming_uniform", "fan_in", "tanh", 0, 64, 7}, 1, 5.0 / 3.0 / sqrt(64.0)},
      /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)): sigma = bound / sqrt 3. */
      {{"pytorch_default", NULL, NULL, 0, 784, 50}, 1, 1.0 / sqrt(784.0) / sqrt(3.0)},
      {{"zeros", NULL, NULL, 0, 784, 50}, -1, 0.0},
  };
  return all[i];
}

START_TEST(test_scheme_moments) {
  enum { N = 200000 };
  const init_case cc = get_case(_i), *c = &cc;
  float *w = malloc(N * sizeof *w);
  for (int i = 0; i < N; i++) w[i] = 12345.0f;
  cr_rng r;
  cr_rng_seed(&r, 1234 + (uint64_t)_i, CR_STREAM_INIT);
  cr_err e;
  ck_assert_msg(cr_init_tensor(w, N, &c->spec, &r, &e) == 0, "%s", e.msg);
  if (c->uniform < 0) {
    for (int i = 0; i < N; i++) ck_assert_msg(w[i] == 0.0f, "zeros: w[%d] = %g", i, (double)w[i]);
    free(w);
    return;
  }
  double s = 0, ss = 0, maxabs = 0;
  for (int i = 0; i < N; i++) {
    s += w[i];
    ss += (double)w[i] * w[i];
    if (fabs(w[i]) > maxabs) maxabs = fabs(w[i]);
  }
  double mean = s / N, sd = sqrt((ss - N * mean * mean) / (N - 1));
  double sigma = c->sigma;
  double se_mean = sigma / sqrt(N);
  double se_sd = c->uniform ? sigma * sqrt(3.0) / sqrt(15.0 * N) : sigma / sqrt(2.0 * N);
  ck_assert_msg(fabs(mean) < 5 * se_mean, "%s: mean %g, expected 0 +- %g", c->spec.scheme, mean,
                5 * se_mean);
  ck_assert_msg(fabs(sd - sigma) < 5 * se_sd, "%s: std %g, expected %g +- %g", c->spec.scheme, sd,
                sigma, 5 * se_sd);
  if (c->uniform) {
    double b = sigma * sqrt(3.0);
    ck_assert_msg(maxabs <= b * (1 + 1e-6), "%s: |w| reached %g beyond bound %g", c->spec.scheme,
                  maxabs, b);
    /* P(max |w| < b (1 - 20/N)) = (1 - 20/N)^N ~ e^-20. */
    ck_assert_msg(maxabs > b * (1 - 20.0 / N), "%s: |w| only reached %g of bound %g",
                  c->spec.scheme, maxabs, b);
  }
  free(w);
}
END_TEST

START_TEST(test_pytorch_default_is_kaiming_uniform_sqrt5) {
  /* nn.Linear's reset_parameters: kaiming_uniform_(a = sqrt 5) == U(-1/sqrt(fan_in), ..). */
  enum { N = 1000 };
  float a[N], b[N];
  cr_rng r1, r2;
  cr_rng_seed(&r1, 5, 1);
  cr_rng_seed(&r2, 5, 1);
  cr_init_spec pd = {"pytorch_default", NULL, NULL, 0, 300, 20};
  cr_init_spec ku = {"kaiming_uniform", "fan_in", "leaky_relu", sqrtf(5.0f), 300, 20};
  cr_err e;
  ck_assert_int_eq(cr_init_tensor(a, N, &pd, &r1, &e), 0);
  ck_assert_int_eq(cr_init_tensor(b, N, &ku, &r2, &e), 0);
  for (int i = 0; i < N; i++)
    ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-6f * fabsf(a[i]) + 1e-12f, "i=%d: %g vs %g", i,
                  (double)a[i], (double)b[i]);
}
END_TEST

START_TEST(test_gains) {
  ck_assert_float_eq(cr_init_gain("linear", 0), 1.0f);
  ck_assert_float_eq(cr_init_gain("sigmoid", 0), 1.0f);
  ck_assert_float_eq_tol(cr_init_gain("relu", 0), 1.41421356f, 1e-6f);
  ck_assert_float_eq_tol(cr_init_gain("leaky_relu", 0.01f), (float)sqrt(2.0 / 1.0001), 1e-6f);
  ck_assert_float_eq_tol(cr_init_gain("leaky_relu", 0.0f), 1.41421356f, 1e-6f);
  ck_assert_float_eq_tol(cr_init_gain("tanh", 0), 5.0f / 3.0f, 1e-6f);
  ck_assert_float_eq(cr_init_gain("selu", 0), 0.75f);
  ck_assert_float_eq(cr_init_gain("swish", 0), 0.0f);
  ck_assert_float_eq(cr_init_gain(NULL, 0), 0.0f);
}
END_TEST

START_TEST(test_same_seed_same_values) {
  float a[64], b[64];
  cr_init_spec s = {"kaiming_normal", "fan_in", "relu", 0, 64, 1};
  cr_rng r1, r2;
  cr_rng_seed(&r1, 99, CR_STREAM_INIT);
  cr_rng_seed(&r2, 99, CR_STREAM_INIT);
  cr_err e;
  ck_assert_int_eq(cr_init_tensor(a, 64, &s, &r1, &e), 0);
  ck_assert_int_eq(cr_init_tensor(b, 64, &s, &r2, &e), 0);
  ck_assert(memcmp(a, b, sizeof a) == 0);
}
END_TEST

static const struct {
  cr_init_spec spec;
  const char *expect;
} INIT_BAD[] = {
    {{"he_normal", NULL, NULL, 0, 10, 10}, "unknown scheme 'he_normal'"},
    {{NULL, NULL, NULL, 0, 10, 10}, "unknown scheme '(null)'"},
    {{"kaiming_normal", "fan_both", NULL, 0, 10, 10}, "unknown mode 'fan_both'"},
    {{"kaiming_normal", NULL, "gelu", 0, 10, 10}, "unknown nonlinearity 'gelu'"},
    {{"xavier_uniform", NULL, "swish", 0, 10, 10}, "unknown nonlinearity 'swish'"},
    {{"kaiming_uniform", "fan_out", "relu", 0, 10, 0}, "needs fan_out >= 1"},
    {{"simple_kaiming", NULL, NULL, 0, 0, 10}, "needs fan_in >= 1"},
    {{"pytorch_default", NULL, NULL, 0, -3, 10}, "needs fan_in >= 1, got -3"},
    {{"xavier_normal", NULL, NULL, 0, 10, 0}, "needs fan_in and fan_out >= 1"},
};

START_TEST(test_init_errors) {
  float w[4];
  cr_rng r;
  cr_rng_seed(&r, 1, 1);
  cr_err e;
  ck_assert_err(cr_init_tensor(w, 4, &INIT_BAD[_i].spec, &r, &e), e, "init", INIT_BAD[_i].expect);
}
END_TEST

Suite *suite_init(void) {
  Suite *s = suite_create("init");
  TCase *core = tcase_create("core");
  tcase_add_loop_test(core, test_scheme_moments, 0, NINIT);
  tcase_add_test(core, test_pytorch_default_is_kaiming_uniform_sqrt5);
  tcase_add_test(core, test_gains);
  tcase_add_test(core, test_same_seed_same_values);
  tcase_set_timeout(core, 60);   /* statistical tests: ~1e6 draws under ASan, on a busy machine */
  suite_add_tcase(s, core);
  TCase *errors = tcase_create("errors");
  tcase_add_loop_test(errors, test_init_errors, 0, COUNT(INIT_BAD));
  suite_add_tcase(s, errors);
  return s;
}
