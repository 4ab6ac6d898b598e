/* Parameter initialisation with torch.nn.init's semantics (see cr.h for the table). */
#include "cr_internal.h"

#include <math.h>
#include <string.h>

static int is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

float cr_init_gain(const char *nonlinearity, float a) {
  if (is(nonlinearity, "linear") || is(nonlinearity, "identity") || is(nonlinearity, "sigmoid"))
    return 1.0f;
  if (is(nonlinearity, "tanh")) return 5.0f / 3.0f;
  if (is(nonlinearity, "relu")) return (float)sqrt(2.0);
  if (is(nonlinearity, "leaky_relu")) return (float)sqrt(2.0 / (1.0 + (double)a * (double)a));
  if (is(nonlinearity, "selu")) return 0.75f;
  return 0.0f;
}

static void fill_uniform(float *w, size_t count, double bound, cr_rng *r) {
  float b = (float)bound;
  for (size_t i = 0; i < count; i++) {
    float u = 2.0f * cr_rng_uniform(r) - 1.0f;   /* exact: a multiple of 2^-23 in [-1, 1) */
    w[i] = b * u;
  }
}

static void fill_normal(float *w, size_t count, double std, cr_rng *r) {
  float s = (float)std;
  for (size_t i = 0; i < count; i++) w[i] = s * cr_rng_normal(r);
}

int cr_init_tensor(float *w, size_t count, const cr_init_spec *s, cr_rng *r, cr_err *e) {
  const char *scheme = s->scheme ? s->scheme : "(null)";
  int kaiming = is(s->scheme, "kaiming_uniform") || is(s->scheme, "kaiming_normal");
  int xavier = is(s->scheme, "xavier_uniform") || is(s->scheme, "xavier_normal");
  double gain = 1.0;
  if (kaiming || xavier) {
    const char *nl = s->nonlinearity ? s->nonlinearity : kaiming ? "leaky_relu" : "linear";
    gain = cr_init_gain(nl, s->a);
    if (gain == 0.0)
      return cr_errf(e, "init: unknown nonlinearity '%s' (linear, relu, leaky_relu, tanh, sigmoid, selu)",
                     nl);
  }
  if (is(s->scheme, "zeros")) {
    memset(w, 0, count * sizeof *w);
    return 0;
  }
  if (is(s->scheme, "ones")) {   /* batchnorm's weight and running_var */
    for (size_t i = 0; i < count; i++) w[i] = 1.0f;
    return 0;
  }
  if (is(s->scheme, "randn")) {
    fill_normal(w, count, 1.0, r);
    return 0;
  }
  if (is(s->scheme, "simple_kaiming") || is(s->scheme, "pytorch_default")) {
    if (s->fan_in < 1) return cr_errf(e, "init: %s needs fan_in >= 1, got %d", scheme, s->fan_in);
    double inv = 1.0 / sqrt((double)s->fan_in);
    if (is(s->scheme, "simple_kaiming")) fill_normal(w, count, inv, r);
    else fill_uniform(w, count, inv, r);
    return 0;
  }
  if (xavier) {
    if (s->fan_in < 1 || s->fan_out < 1)
      return cr_errf(e, "init: %s needs fan_in and fan_out >= 1, got %d and %d", scheme, s->fan_in,
                     s->fan_out);
    double fans = (double)s->fan_in + (double)s->fan_out;
    if (is(s->scheme, "xavier_uniform")) fill_uniform(w, count, gain * sqrt(6.0 / fans), r);
    else fill_normal(w, count, gain * sqrt(2.0 / fans), r);
    return 0;
  }
  if (kaiming) {
    int fan;
    if (s->mode == NULL || is(s->mode, "fan_in")) fan = s->fan_in;
    else if (is(s->mode, "fan_out")) fan = s->fan_out;
    else return cr_errf(e, "init: unknown mode '%s' (fan_in or fan_out)", s->mode);
    if (fan < 1)
      return cr_errf(e, "init: %s needs %s >= 1, got %d", scheme, s->mode ? s->mode : "fan_in", fan);
    double std = gain / sqrt((double)fan);
    if (is(s->scheme, "kaiming_uniform")) fill_uniform(w, count, sqrt(3.0) * std, r);
    else fill_normal(w, count, std, r);
    return 0;
  }
  return cr_errf(e, "init: unknown scheme '%s' (zeros, ones, randn, simple_kaiming, pytorch_default, "
                    "xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal)", scheme);
}
