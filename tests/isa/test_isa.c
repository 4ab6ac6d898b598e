/* test_isa DESC SCALAR.bin [ISA RUN1.bin RUN2.bin]...
 *
 * Compares the dumps of tests/isa/isa_dump.c for one network: every ISA's results against
 * the double-precision reference (tests/ref, with the description DESC) with the tolerance
 * of the scalar tests (|got - ref| <= 1e-5 + 1e-4 * max|ref| per tensor), against the
 * scalar ISA (worst difference in ULPs, reported), and run 1 against run 2 of the same
 * binary (bitwise identical). The scalar dump is checked against the reference as well.
 * Kinks: a relu input that lies within KINK_BAND (relative to its layer's rms) of 0 in the
 * reference can round to either side in float, and then one sample's share of a gradient
 * is in or out. The reference counts such inputs, is run once more per input with its
 * derivative flipped, and a value may differ from the reference by the tolerance plus the
 * sum of how far those flips moved it (printed when used; more than MAX_KINKS: an error).
 * Each dump ends with the inputs isa_dump drew (params, x, targets): they must be this
 * program's draw bit for bit (isa_dump is compiled at -O0 on x86, mk/isa.mk). */
#include "ref.h"
#include "rng.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *name; float *a, *b; size_t n, nb; } isa_dump;
enum { MAX_ISAS = 12 };   /* scalar + 3 SIMD ISAs + their tuned and compact builds (big_xtg: 9) */
static isa_dump dumps[MAX_ISAS];   /* [0] = scalar */
static int ndumps;
static ref_net net;
static double *expect;             /* reference values in dump order */
static size_t nexpect, expect_cap;
static uint32_t *inputs;           /* the inputs' bits, in the order isa_dump appends them */
static size_t ninputs;
static double *slack;              /* per value: the sum of |flipped - expect| over the kinks */
static int nkinks;
enum { MAX_KINKS = 64 };
#define KINK_BAND 1e-5
static size_t *sect_start;         /* sections: one tensor / output / loss each */
static const char **sect_name;
static int nsect;

static float *read_dump(const char *path, size_t *n)
{
  FILE *f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "test_isa: cannot open %s\n", path); exit(2); }
  size_t cap = 1 << 16, len = 0;
  float *p = malloc(cap * sizeof *p);
  size_t got;
  while (p && (got = fread(p + len, sizeof *p, cap - len, f)) > 0) {
    len += got;
    if (len == cap) p = realloc(p, (cap *= 2) * sizeof *p);
  }
  fclose(f);
  if (!p) { fprintf(stderr, "test_isa: out of memory\n"); exit(2); }
  *n = len;
  return p;
}

static void section(const char *name)
{
  sect_start = realloc(sect_start, (size_t)(nsect + 2) * sizeof *sect_start);
  sect_name = realloc(sect_name, (size_t)(nsect + 1) * sizeof *sect_name);
  sect_start[nsect] = nexpect;
  sect_name[nsect++] = name;
}

static void push(const double *v, size_t n)
{
  if (nexpect + n > expect_cap) {
    expect_cap = 2 * (nexpect + n);
    expect = realloc(expect, expect_cap * sizeof *expect);
    if (!expect) { fprintf(stderr, "test_isa: out of memory\n"); exit(2); }
  }
  memcpy(expect + nexpect, v, n * sizeof *v);
  nexpect += n;
}

static void push_tensors(const double *params, const char *what)
{
  for (int i = 0; i < net.ntensors; i++) {
    section(what);
    push(params + net.t_off[i], (size_t)net.t_rows[i] * net.t_cols[i]);
  }
}

/* The reference for the records isa_dump writes, from the same inputs. */
static void build_expected(void)
{
  int B = net.batch;
  nexpect = 0;
  nsect = 0;
  free(inputs);
  double *p0 = calloc(net.nparams, sizeof *p0), *p = calloc(net.nparams, sizeof *p);
  double *x = calloc((size_t)B * net.in, sizeof *x), *t = calloc((size_t)B, sizeof *t);
  double *out = calloc((size_t)B * net.out, sizeof *out), *grad = calloc(net.nparams, sizeof *grad);
  double *dx = calloc((size_t)B * net.in, sizeof *dx);
  test_rng r = {11};
  int modes = 0, dropout = 0;
  for (int l = 0; l < net.nlayers; l++) {
    modes |= net.layer[l].kind == REF_BATCHNORM || net.layer[l].kind == REF_DROPOUT;
    dropout |= net.layer[l].kind == REF_DROPOUT;
  }
  for (int i = 0; i < net.ntensors; i++) {
    /* fan_in: a conv2d's is C·K·K, a batchnorm's its channels; running_var (the second
       tensor from the end of a batchnorm's) 1 + the draw */
    const ref_layer *L = &net.layer[net.t_layer[i]];
    double a = 1.0 / sqrt((double)(L->kind == REF_CONV2D ? L->ic * L->kernel * L->kernel
                                   : L->kind == REF_BATCHNORM ? L->channels : L->in));
    int last = i + 1 == net.ntensors || net.t_layer[i + 1] != net.t_layer[i];
    int rvar = L->kind == REF_BATCHNORM && !last && (i + 2 == net.ntensors || net.t_layer[i + 2] != net.t_layer[i]);
    for (int k = 0; k < net.t_rows[i] * net.t_cols[i]; k++)
      p0[net.t_off[i] + (size_t)k] = (float)((rvar ? 1.0 : 0.0) + test_rng_sym(&r, a));
  }
  /* the dropout masks: the generated code's generator, seeded (5, 9) before each use */
  unsigned char *keep = malloc(ref_dropout_size(&net, B) + 1);
  ref_pcg pcg;
  r.s = 12;
  for (int i = 0; i < B * net.in; i++) x[i] = (float)test_rng_sym(&r, 1.0);
  r.s = 13;
  for (int i = 0; i < B; i++)
    t[i] = net.loss == REF_MSE ? (double)(float)test_rng_sym(&r, 1.0) : (double)((7 * i + 3) % net.out);
  int ns[3] = {B, B / 2 + 1, 1};
  for (int k = 0; k < 3; k++) {
    int n = ns[k];
    net.train = 0;
    ref_forward(&net, p0, x, n, out);
    section("forward out");
    push(out, (size_t)n * net.out);
    if (modes) {
      net.train = 1;
      ref_pcg_seed(&pcg, 5, 9);
      ref_dropout_masks(&net, &pcg, n, keep);
      net.drop_mask = keep;
      ref_forward(&net, p0, x, n, out);
      section("forward_train out");
      push(out, (size_t)n * net.out);
      memcpy(p, p0, net.nparams * sizeof *p);
      ref_bn_update(&net, p, x, n);
      push_tensors(p, "params after forward_train");
    }
    double loss = ref_backward(&net, p0, x, t, n, NULL, grad, dx);
    section("backward loss");
    push(&loss, 1);
    push_tensors(grad, "gradient");
    section("dx");
    push(dx, (size_t)n * net.in);
  }
  ref_opt_state s;
  if (ref_opt_init(&s, &net) != 0) { fprintf(stderr, "test_isa: out of memory\n"); exit(2); }
  memcpy(p, p0, net.nparams * sizeof *p);
  ref_pcg_seed(&pcg, 5, 9);
  for (int step = 0; step < 2; step++) {
    if (dropout) ref_dropout_masks(&net, &pcg, B, keep);
    double loss = ref_backward(&net, p, x, t, B, NULL, grad, NULL);
    if (modes) ref_bn_update(&net, p, x, B);   /* the training forward's, before the step */
    ref_opt_step(&s, p, grad);
    section("train_step loss");
    push(&loss, 1);
    push_tensors(p, "params after train_step");
  }
  sect_start[nsect] = nexpect;
  /* the inputs as isa_dump holds them: floats (p0, x, MSE targets), int32 class indices */
  ninputs = (size_t)B * net.in + (size_t)B;
  for (int i = 0; i < net.ntensors; i++) ninputs += (size_t)net.t_rows[i] * net.t_cols[i];
  inputs = malloc(ninputs * sizeof *inputs);
  if (!inputs) { fprintf(stderr, "test_isa: out of memory\n"); exit(2); }
  size_t at = 0;
  for (int i = 0; i < net.ntensors; i++)
    for (int k = 0; k < net.t_rows[i] * net.t_cols[i]; k++) {
      float f = (float)p0[net.t_off[i] + (size_t)k];
      memcpy(&inputs[at++], &f, 4);
    }
  for (int i = 0; i < B * net.in; i++) {
    float f = (float)x[i];
    memcpy(&inputs[at++], &f, 4);
  }
  for (int i = 0; i < B; i++) {
    float f = (float)t[i];
    int32_t c = (int32_t)t[i];
    if (net.loss == REF_MSE) memcpy(&inputs[at++], &f, 4); else memcpy(&inputs[at++], &c, 4);
  }
  ref_opt_free(&s);
  free(p0); free(p); free(x); free(t); free(out); free(grad); free(dx); free(keep);
}

/* Distance in units in the last place between two floats (0 if bitwise equal). */
static uint32_t ulps(float a, float b)
{
  int32_t ia, ib;
  memcpy(&ia, &a, 4); memcpy(&ib, &b, 4);
  if (ia < 0) ia = INT32_MIN - ia;
  if (ib < 0) ib = INT32_MIN - ib;
  int64_t d = (int64_t)ia - ib;
  return (uint32_t)(d < 0 ? -d : d);
}

/* The reference, then once per kink with it flipped: slack. */
static void build_expected_kinks(void)
{
  int seen = 0;
  net.kink_band = KINK_BAND;
  net.kinks = &seen;
  net.kink_flip = 0;
  build_expected();
  nkinks = seen;
  if (nkinks > MAX_KINKS) {
    fprintf(stderr, "test_isa: %s: %d relu inputs within %g of their layer's rms of 0 (at most %d): "
            "these data cannot test this network\n", net.name, nkinks, KINK_BAND, MAX_KINKS);
    exit(2);
  }
  double *base = expect;
  size_t n = nexpect;
  expect = NULL;
  expect_cap = 0;
  slack = calloc(n, sizeof *slack);
  if (!slack) { fprintf(stderr, "test_isa: out of memory\n"); exit(2); }
  for (int f = 1; f <= nkinks; f++) {
    seen = 0;
    net.kink_flip = f;
    build_expected();
    for (size_t k = 0; k < n; k++) slack[k] += fabs(expect[k] - base[k]);
  }
  free(expect);
  expect = base;
  net.kinks = NULL;
}

START_TEST(test_isa_vs_reference)
{
  const isa_dump *d = &dumps[_i];
  ck_assert_msg(d->n == nexpect + ninputs, "%s: dump has %zu floats, the reference %zu + %zu inputs", d->name, d->n,
                nexpect, ninputs);
  double worst = 0;
  size_t eased = 0;
  for (int s = 0; s < nsect; s++) {
    double mx = 0;
    for (size_t k = sect_start[s]; k < sect_start[s + 1]; k++) mx = fmax(mx, fabs(expect[k]));
    double tol = 1e-5 + 1e-4 * mx;
    for (size_t k = sect_start[s]; k < sect_start[s + 1]; k++) {
      double err = fabs((double)d->a[k] - expect[k]);
      /* tested here, not by ck_assert per element: a passing Check assertion writes a record */
      if (!(err <= tol + slack[k]))
        ck_abort_msg("%s [%s]: %s[%zu] = %.9g, reference %.9g (|diff| %.3g > %.3g%s)", net.name, d->name,
                     sect_name[s], k - sect_start[s], (double)d->a[k], expect[k], err, tol + slack[k],
                     slack[k] > 0 ? ", with a kink's slack" : "");
      if (slack[k] == 0) worst = fmax(worst, err / tol);
      else eased += err > tol;
    }
  }
  printf("%s [%s]: vs reference: worst |diff| = %.3g of the tolerance", net.name, d->name, worst);
  if (nkinks)
    printf(" (%d relu inputs within %g rms of 0: %zu values needed their slack)", nkinks, KINK_BAND, eased);
  printf("\n");
}
END_TEST

START_TEST(test_isa_vs_scalar)
{
  const isa_dump *d = &dumps[_i], *sc = &dumps[0];
  ck_assert_msg(d->n == sc->n, "%s: %zu floats, scalar %zu", d->name, d->n, sc->n);
  /* ULPs blow up where a value is a cancellation residue near 0, so also report the worst
     over the values at least 1e-3 of their tensor's largest */
  uint32_t worst = 0, worst_big = 0;
  size_t at = 0, same = 0;
  for (int s = 0; s < nsect; s++) {
    float mx = 0;
    for (size_t k = sect_start[s]; k < sect_start[s + 1]; k++) mx = fmaxf(mx, fabsf(sc->a[k]));
    for (size_t k = sect_start[s]; k < sect_start[s + 1]; k++) {
      uint32_t u = ulps(d->a[k], sc->a[k]);
      same += u == 0;
      if (u > worst) { worst = u; at = k; }
      if (fabsf(sc->a[k]) >= 1e-3f * mx && u > worst_big) worst_big = u;
    }
  }
  int s = 0;
  while (s + 1 < nsect && sect_start[s + 1] <= at) s++;
  printf("%s [%s]: vs scalar: worst %u ULP (%s[%zu]: %.9g vs %.9g), %u ULP over values >= 1e-3 max, "
         "%.1f%% bitwise equal\n", net.name, d->name, worst, sect_name[s], at - sect_start[s], (double)d->a[at],
         (double)sc->a[at], worst_big, 100.0 * same / (double)nexpect);
}
END_TEST

START_TEST(test_isa_deterministic)
{
  const isa_dump *d = &dumps[_i];
  ck_assert_msg(d->n == d->nb && memcmp(d->a, d->b, d->n * sizeof(float)) == 0,
                "%s [%s]: two runs of the same binary differ", net.name, d->name);
}
END_TEST

START_TEST(test_isa_inputs)
{
  const isa_dump *d = &dumps[_i];
  ck_assert_msg(d->n == nexpect + ninputs, "%s: dump has %zu floats, the reference %zu + %zu inputs", d->name, d->n,
                nexpect, ninputs);
  for (size_t k = 0; k < ninputs; k++)
    if (memcmp(&d->a[nexpect + k], &inputs[k], 4))
      ck_abort_msg("%s [%s]: input %zu of %zu is not test_isa's draw: isa_dump tested other data", net.name,
                   d->name, k, ninputs);
}
END_TEST

static Suite *suite_isa(void)
{
  Suite *s = suite_create(net.name);
  TCase *tc = tcase_create("isa");
  tcase_add_loop_test(tc, test_isa_inputs, 0, ndumps);
  tcase_add_loop_test(tc, test_isa_vs_reference, 0, ndumps);
  tcase_add_loop_test(tc, test_isa_vs_scalar, 1, ndumps);
  tcase_add_loop_test(tc, test_isa_deterministic, 1, ndumps);
  suite_add_tcase(s, tc);
  return s;
}

int main(int argc, char **argv)
{
  if (argc < 3 || (argc - 3) % 3 != 0 || (argc - 3) / 3 + 1 > MAX_ISAS) {
    fprintf(stderr, "usage: test_isa DESC SCALAR.bin [ISA RUN1.bin RUN2.bin]...\n");
    return 2;
  }
  char err[512];
  if (ref_desc_read(&net, argv[1], err, sizeof err) != 0) { fprintf(stderr, "test_isa: %s\n", err); return 2; }
  build_expected_kinks();
  dumps[0].name = "scalar";
  dumps[0].a = dumps[0].b = read_dump(argv[2], &dumps[0].n);
  dumps[0].nb = dumps[0].n;
  ndumps = 1;
  for (int i = 3; i < argc; i += 3, ndumps++) {
    dumps[ndumps].name = argv[i];
    dumps[ndumps].a = read_dump(argv[i + 1], &dumps[ndumps].n);
    dumps[ndumps].b = read_dump(argv[i + 2], &dumps[ndumps].nb);
  }
  SRunner *sr = srunner_create(suite_isa());
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
