/* act_ulp — the vector tanh and sigmoid of a SIMD ISA (gen/kernels/actmath.lua) against
 * double precision: the largest error in ulps of the float nearest the exact value, over
 * every power of two from 2^-40 to 2^7 (ACT_PER_BINADE values evenly spaced in each, both
 * signs), a fine sweep of [-12, 12], and the values where the formulas change (|x| near
 * 0.55, e^2|x| or e^-x overflowing); plus special values that must come out exactly (the
 * sign of zero, +-inf, NaN, +-FLT_MAX). libm's tanhf and 1 / (1 + expf(-x)), which the
 * scalar ISA uses, are measured the same way and printed beside them.
 *
 * Built per SIMD ISA by mk/isa.mk with the generated act_mix.c of that ISA included
 * (tests/isa/specs/act_mix.lua uses both activations, so it defines both helpers) and
 *   -DACT_C='"act_mix.c"' -DACT_BITS=512 -DACT_VT=__m512
 * Exit status 1 when an error passes ACT_MAX_ULP or a special value is wrong. Results below
 * the smallest normal float (sigmoid of x < -87.3) may be flushed to zero, as libm's
 * 1 / (1 + expf(-x)) flushes them too: there the error allowed is FLT_MIN, not ulps. */
#include ACT_C

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define V_TANH CAT(simd_tanh, ACT_BITS)
#define V_SIGMOID CAT(simd_sigmoid, ACT_BITS)
#define LANES (ACT_BITS / 32)

#ifndef ACT_PER_BINADE
#define ACT_PER_BINADE 2048
#endif
#define ACT_MAX_ULP 3.0

typedef struct {
  const char *name;
  double worst, worst_x, libm;
} stat;

static double ulp_err(float got, double want)
{
  if (isnan(got) || isnan(want)) return isnan(got) && isnan(want) ? 0.0 : INFINITY;
  double err = fabs((double)got - want);
  if (fabs(want) < FLT_MIN) return err <= FLT_MIN ? 0.0 : INFINITY;
  float w = (float)fabs(want);
  double ulp = (double)nextafterf(w, INFINITY) - (double)w;
  return err / ulp;
}

static double ref_tanh(float x) { return tanh((double)x); }
static double ref_sigmoid(float x) { return 1.0 / (1.0 + exp(-(double)x)); }
static float libm_tanh(float x) { return tanhf(x); }
static float libm_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* f of LANES values at once, through the vector helper */
static void vec_tanh(float *out, const float *in)
{
  ACT_VT v;
  memcpy(&v, in, sizeof v);
  v = V_TANH(v);
  memcpy(out, &v, sizeof v);
}
static void vec_sigmoid(float *out, const float *in)
{
  ACT_VT v;
  memcpy(&v, in, sizeof v);
  v = V_SIGMOID(v);
  memcpy(out, &v, sizeof v);
}

typedef struct {
  void (*vec)(float *, const float *);
  float (*libm)(float);
  double (*ref)(float);
  stat s;
  float buf[LANES];
  int n;
} fn;

static void flush(fn *f)
{
  float out[LANES];
  f->vec(out, f->buf);
  for (int l = 0; l < f->n; l++) {
    double want = f->ref(f->buf[l]);
    double e = ulp_err(out[l], want);
    if (e > f->s.worst) { f->s.worst = e; f->s.worst_x = f->buf[l]; }
    double el = ulp_err(f->libm(f->buf[l]), want);
    if (el > f->s.libm) f->s.libm = el;
  }
  f->n = 0;
}

static void add(fn *f, float x)
{
  f->buf[f->n++] = x;
  if (f->n == LANES) flush(f);
}

static void sweep(fn *f)
{
  for (int e = -40; e < 7; e++)
    for (int k = 0; k < ACT_PER_BINADE; k++) {
      float x = ldexpf(1.0f + (float)k / ACT_PER_BINADE, e);
      add(f, x);
      add(f, -x);
    }
  for (int k = -240000; k <= 240000; k++) add(f, (float)k * 5e-5f);
  const float edges[] = {0.55f, 9.0f, 44.0f, 44.5f, 87.0f, 88.0f, 88.72f, 88.8f, 89.0f, 100.0f, 103.9f, 104.0f, 105.0f};
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    float x = edges[i];
    for (int k = 0; k < 64; k++) {
      add(f, x);
      add(f, -x);
      x = nextafterf(x, 0.0f);
    }
  }
  for (int l = f->n; l < LANES; l++) f->buf[l] = 0.0f;
  if (f->n) flush(f);
}

static int special(const char *name, void (*vec)(float *, const float *), float x, float want)
{
  float in[LANES], out[LANES];
  for (int l = 0; l < LANES; l++) in[l] = x;
  vec(out, in);
  int ok = isnan(want) ? isnan(out[0]) : memcmp(&out[0], &want, sizeof want) == 0;
  if (!ok) printf("act_ulp: %s(%g) = %g (%a), expected %g (%a)\n", name, (double)x, (double)out[0], (double)out[0],
                  (double)want, (double)want);
  return ok ? 0 : 1;
}

int main(void)
{
  fn f[2] = {{vec_tanh, libm_tanh, ref_tanh, {"tanh", 0, 0, 0}, {0}, 0},
             {vec_sigmoid, libm_sigmoid, ref_sigmoid, {"sigmoid", 0, 0, 0}, {0}, 0}};
  int bad = 0;
  for (int i = 0; i < 2; i++) {
    sweep(&f[i]);
    printf("act_ulp (%d-bit): %s worst %.2f ulp (at x = %.9g), libm %.2f ulp; at most %.1f allowed\n", ACT_BITS,
           f[i].s.name, f[i].s.worst, f[i].s.worst_x, f[i].s.libm, ACT_MAX_ULP);
    if (!(f[i].s.worst <= ACT_MAX_ULP)) bad = 1;
  }
  const float inf = INFINITY, nan = NAN;
  bad |= special("tanh", vec_tanh, 0.0f, 0.0f);
  bad |= special("tanh", vec_tanh, -0.0f, -0.0f);
  bad |= special("tanh", vec_tanh, 1e-30f, 1e-30f);
  bad |= special("tanh", vec_tanh, inf, 1.0f);
  bad |= special("tanh", vec_tanh, -inf, -1.0f);
  bad |= special("tanh", vec_tanh, FLT_MAX, 1.0f);
  bad |= special("tanh", vec_tanh, -FLT_MAX, -1.0f);
  bad |= special("tanh", vec_tanh, nan, nan);
  bad |= special("sigmoid", vec_sigmoid, 0.0f, 0.5f);
  bad |= special("sigmoid", vec_sigmoid, inf, 1.0f);
  bad |= special("sigmoid", vec_sigmoid, -inf, 0.0f);
  bad |= special("sigmoid", vec_sigmoid, FLT_MAX, 1.0f);
  bad |= special("sigmoid", vec_sigmoid, -FLT_MAX, 0.0f);
  bad |= special("sigmoid", vec_sigmoid, nan, nan);
  return bad;
}
