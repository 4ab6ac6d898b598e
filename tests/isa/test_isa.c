/* test_isa DESC SCALAR.bin [ISA RUN1.bin RUN2.bin]...
 *
 * Compares the dumps of tests/isa/isa_dump.c for one network: every ISA's results against
 * the double-precision reference (tests/ref, with the description DESC) with the tolerance
 * of the scalar tests (|got - ref| <= 1e-5 + 1e-4 * max|ref| per tensor), against the
 * scalar ISA (worst difference in ULPs, reported), and run 1 against run 2 of the same
 * binary (bitwise identical). The scalar dump is checked against the reference as well.
 * Kinks: a relu input that lies within KINK_BAND (relative to its layer's rms) of 0 in the
 * reference can round to either side in float, and then one sample's share of a gradient
 * is in or out; so can a max pooling window's runner-up that close below its maximum, and
 * then the window's gradient goes to the other tap. The reference counts such inputs, is run
 * once more per input with its derivative flipped (only when some value does not fit without:
 * build_slack), and a value may differ from the reference by the tolerance plus the
 * sum of how far those flips moved it (printed when used; more than MAX_KINKS: an error).
 * Adam and AdamW divide each gradient by its own size (plus eps), so a weight whose gradient
 * is a cancellation residue near 0 steps by up to lr either way whatever its float error
 * (scalar's too), and the second step's gradient then differs with the first step's weights.
 * So each dump's train steps are checked given its own earlier values: the first step from
 * its batch-B gradient (the step's own, bit for bit: isa_dump checks; batchnorm's running
 * statistics moved first, in double, from the parameters before the step, and each step
 * with its own dropout masks), the second's loss and gradient at its parameters after the
 * first, in double, and that gradient's own rounding, of the first's order, as slack: the
 * second step is also taken with every gradient element moved up and down by OPT_ERRS x the smaller of the
 * largest errors of the first gradient in its row and in its column, or by its own size where
 * those were exact (a unit dead at the first step, alive at the second: its inputs near the
 * kink), and a value may differ by the tolerance plus the most that moved it (printed). SGD's
 * step is linear in the gradient and is checked against the plain reference.
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
enum { MAX_ISAS = 20 };   /* scalar + 4 SIMD ISAs + their tuned and compact builds (big_xtg: 13) */
static isa_dump dumps[MAX_ISAS];   /* [0] = scalar */
static int ndumps;
static ref_net net;
static double *expect;             /* reference values in dump order */
static size_t nexpect, expect_cap;
static uint32_t *inputs;           /* the inputs' bits, in the order isa_dump appends them */
static size_t ninputs;
static double *slack;              /* per value: the sum of |flipped - expect| over the kinks */
static int nkinks;
static double *in_p0, *in_x, *in_t;   /* the reference's inputs (the last build_expected's) */
static int grad_sect[REF_MAX_TENSORS]; /* per tensor: the section of its batch-B gradient */
static size_t train_at;            /* where the train steps' values start */
static int conditional;            /* Adam's steps checked given each dump's own earlier values */
static int modes;                  /* the net has batchnorm or dropout (training and inference) */
static unsigned char *step_masks[2]; /* the dropout masks of the two train steps (NULL: none) */
#define OPT_ERRS 2.0
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

/* The fixed tolerance of a section whose largest |reference value| is mx. */
static double tolerance(double mx) { return 1e-5 + 1e-4 * mx; }

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
  int dropout = 0;
  modes = 0;
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
    for (int i = 0; k == 0 && i < net.ntensors; i++) grad_sect[i] = nsect + i;
    push_tensors(grad, "gradient");
    section("dx");
    push(dx, (size_t)n * net.in);
  }
  ref_opt_state s;
  if (ref_opt_init(&s, &net) != 0) { fprintf(stderr, "test_isa: out of memory\n"); exit(2); }
  memcpy(p, p0, net.nparams * sizeof *p);
  ref_pcg_seed(&pcg, 5, 9);
  train_at = nexpect;
  conditional = net.opt.kind != REF_SGD;
  for (int step = 0; step < 2; step++) {
    if (dropout) {   /* each step's masks kept for conditional_expect */
      free(step_masks[step]);
      step_masks[step] = malloc(ref_dropout_size(&net, B) + 1);
      if (!step_masks[step]) { fprintf(stderr, "test_isa: out of memory\n"); exit(2); }
      ref_dropout_masks(&net, &pcg, B, step_masks[step]);
      net.drop_mask = step_masks[step];
    }
    double loss = ref_backward(&net, p, x, t, B, NULL, grad, NULL);
    if (modes) ref_bn_update(&net, p, x, B);   /* the training forward's, before the step */
    ref_opt_step(&s, p, grad);
    section(step ? "train_step 2 loss" : "train_step 1 loss");
    push(&loss, 1);
    push_tensors(p, step ? "params after train_step 2" : "params after train_step 1");
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
  free(in_p0); free(in_x); free(in_t);
  in_p0 = p0;
  in_x = x;
  in_t = t;
  free(p); free(out); free(grad); free(dx); free(keep);
  net.drop_mask = NULL;
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

/* The reference with its kinks counted; slack all 0 until build_slack. */
static void build_expected_kinks(void)
{
  int seen = 0;
  net.kink_band = KINK_BAND;
  net.kinks = &seen;
  net.kink_flip = 0;
  build_expected();
  net.kinks = NULL;
  nkinks = seen;
  if (nkinks > MAX_KINKS) {
    fprintf(stderr, "test_isa: %s: %d relu inputs or pooling maxima within %g of their layer's rms of a kink (at most %d): "
            "these data cannot test this network\n", net.name, nkinks, KINK_BAND, MAX_KINKS);
    exit(2);
  }
  slack = calloc(nexpect, sizeof *slack);
  if (!slack) { fprintf(stderr, "test_isa: out of memory\n"); exit(2); }
}

/* The reference once more per kink with it flipped: slack. Run only when a dump's values do
   not all fit without it (slack_needed): fashion_cnn's 27 kinks made its comparison a
   114 s serial step of make test, and none of them needed its slack. build_expected rebuilds
   every table (sections, inputs, in_p0...) from the same draws, so they stay as they were. */
static int slack_built;
static void build_slack(void)
{
  int seen = 0;
  net.kink_band = KINK_BAND;
  net.kinks = &seen;
  double *base = expect;
  size_t n = nexpect;
  expect = NULL;
  expect_cap = 0;
  for (int f = 1; f <= nkinks; f++) {
    seen = 0;
    net.kink_flip = f;
    build_expected();
    for (size_t k = 0; k < n; k++) slack[k] += fabs(expect[k] - base[k]);
  }
  free(expect);
  expect = base;
  net.kinks = NULL;
  net.kink_flip = 0;
  slack_built = 1;
}

/* The tolerance of section s: from its largest reference value. */
static double sect_tolerance(int s)
{
  double mx = 0;
  for (size_t k = sect_start[s]; k < sect_start[s + 1]; k++) mx = fmax(mx, fabs(expect[k]));
  return tolerance(mx);
}

/* 1 when some value of d lies outside the tolerance (plus oslack) of want: the kinks' slack
   must be built before it is judged. */
static int slack_needed(const isa_dump *d, const double *want, const double *oslack)
{
  if (!nkinks || slack_built) return 0;
  for (int s = 0; s < nsect; s++) {
    double tol = sect_tolerance(s);
    for (size_t k = sect_start[s]; k < sect_start[s + 1]; k++)
      if (!(fabs((double)d->a[k] - want[k]) <= tol + (oslack ? oslack[k] : 0))) return 1;
  }
  return 0;
}

/* Adam's state copied into another of the same net's. */
static void opt_copy(ref_opt_state *to, const ref_opt_state *from)
{
  memcpy(to->m, from->m, from->count * sizeof *to->m);
  memcpy(to->v, from->v, from->count * sizeof *to->v);
  to->t = from->t;
}

/* The train steps' values for dump d given its own earlier ones (conditional, above): want[k]
   and oslack[k] for k from train_at on. */
static void conditional_expect(const isa_dump *d, double *want, double *oslack)
{
  size_t np = net.nparams;
  double *g = calloc(np, sizeof *g), *env = calloc(np, sizeof *env), *p = malloc(np * sizeof *p);
  double *q = malloc(np * sizeof *q), *gq = malloc(np * sizeof *gq), *qs = malloc(np * sizeof *qs);
  int most = 1;
  for (int i = 0; i < net.ntensors; i++) {   /* (rows and cols: no bias tensor need cover the widest) */
    if (net.t_rows[i] > most) most = net.t_rows[i];
    if (net.t_cols[i] > most) most = net.t_cols[i];
  }
  double *rmax = calloc((size_t)most, sizeof *rmax), *cmax = calloc((size_t)most, sizeof *cmax);
  ref_opt_state s1, s2;
  if (!g || !env || !p || !q || !gq || !qs || !rmax || !cmax || ref_opt_init(&s1, &net) || ref_opt_init(&s2, &net)) {
    fprintf(stderr, "test_isa: out of memory\n");
    exit(2);
  }
  /* the first step's gradient (the dump's batch-B gradient) and its errors' envelope */
  for (int i = 0; i < net.ntensors; i++) {
    size_t a = sect_start[grad_sect[i]];
    int R = net.t_rows[i], C = net.t_cols[i];
    memset(rmax, 0, (size_t)R * sizeof *rmax);
    memset(cmax, 0, (size_t)C * sizeof *cmax);
    for (int r = 0; r < R; r++)
      for (int c = 0; c < C; c++) {
        size_t k = a + (size_t)r * C + c;
        double e = fabs(d->a[k] - expect[k]);
        g[net.t_off[i] + (size_t)r * C + c] = d->a[k];
        rmax[r] = fmax(rmax[r], e);
        cmax[c] = fmax(cmax[c], e);
      }
    for (int r = 0; r < R; r++)
      for (int c = 0; c < C; c++) env[net.t_off[i] + (size_t)r * C + c] = OPT_ERRS * fmin(rmax[r], cmax[c]);
  }
  /* step 1: the reference's loss, then the step from the dump's gradient */
  size_t k = train_at, p1 = train_at + 1;
  want[k] = expect[k];
  k++;
  memcpy(p, in_p0, np * sizeof *p);
  /* a training forward's running statistics move before each step (from the parameters
     before it: p0, then the dump's), and each step has its own dropout masks */
  net.train = modes;
  net.drop_mask = step_masks[0];
  if (modes) ref_bn_update(&net, p, in_x, net.batch);
  ref_opt_step(&s1, p, g);
  for (int i = 0; i < net.ntensors; i++)
    for (size_t j = 0; j < (size_t)net.t_rows[i] * net.t_cols[i]; j++) want[k++] = p[net.t_off[i] + j];
  /* step 2 from the dump's parameters after step 1 */
  for (int i = 0; i < net.ntensors; i++)
    for (size_t j = 0; j < (size_t)net.t_rows[i] * net.t_cols[i]; j++) p[net.t_off[i] + j] = d->a[p1++];
  net.drop_mask = step_masks[1];
  want[k++] = ref_backward(&net, p, in_x, in_t, net.batch, NULL, g, NULL);
  if (modes) ref_bn_update(&net, p, in_x, net.batch);
  net.drop_mask = NULL;
  for (size_t j = 0; j < np; j++)
    if (env[j] == 0) env[j] = fabs(g[j]);   /* a unit that came alive: near its kink as like as not */
  memcpy(q, p, np * sizeof *q);
  opt_copy(&s2, &s1);
  ref_opt_step(&s2, q, g);
  for (int sign = -1; sign <= 1; sign += 2) {
    for (size_t j = 0; j < np; j++) gq[j] = g[j] + sign * env[j];
    memcpy(qs, p, np * sizeof *qs);
    opt_copy(&s2, &s1);
    ref_opt_step(&s2, qs, gq);
    for (size_t j = 0; j < np; j++) env[j] = sign < 0 ? fabs(qs[j] - q[j]) : fmax(env[j], fabs(qs[j] - q[j]));
  }
  for (int i = 0; i < net.ntensors; i++)
    for (size_t j = 0; j < (size_t)net.t_rows[i] * net.t_cols[i]; j++, k++) {
      want[k] = q[net.t_off[i] + j];
      oslack[k] = env[net.t_off[i] + j];
    }
  ref_opt_free(&s1);
  ref_opt_free(&s2);
  free(g); free(env); free(p); free(q); free(gq); free(qs); free(rmax); free(cmax);
}

START_TEST(test_isa_vs_reference)
{
  const isa_dump *d = &dumps[_i];
  ck_assert_msg(d->n == nexpect + ninputs, "%s: dump has %zu floats, the reference %zu + %zu inputs", d->name, d->n,
                nexpect, ninputs);
  double worst = 0, *want = expect, *oslack = NULL;
  size_t eased = 0, oeased = 0, ogiven = 0;
  if (conditional) {
    want = malloc(nexpect * sizeof *want);
    oslack = calloc(nexpect, sizeof *oslack);
    if (!want || !oslack) { fprintf(stderr, "test_isa: out of memory\n"); exit(2); }
    memcpy(want, expect, train_at * sizeof *want);
    conditional_expect(d, want, oslack);
  }
  if (slack_needed(d, want, oslack)) build_slack();
  for (int s = 0; s < nsect; s++) {
    double tol = sect_tolerance(s);
    for (size_t k = sect_start[s]; k < sect_start[s + 1]; k++) {
      double err = fabs((double)d->a[k] - want[k]), os = oslack ? oslack[k] : 0, sl = slack[k] + os;
      /* tested here, not by ck_assert per element: a passing Check assertion writes a record */
      if (!(err <= tol + sl))
        ck_abort_msg("%s [%s]: %s[%zu] = %.9g, reference %.9g (|diff| %.3g > %.3g%s%s%s)", net.name, d->name,
                     sect_name[s], k - sect_start[s], (double)d->a[k], want[k], err, tol + sl,
                     k >= train_at && conditional ? ", given its own earlier step" : "",
                     slack[k] > 0 ? ", with a kink's slack" : "", os > 0 ? ", with the gradient's rounding" : "");
      ogiven += os > tol;
      if (err <= tol) worst = fmax(worst, err / tol);
      else {
        eased += slack[k] > 0;
        oeased += os > 0;
      }
    }
  }
  printf("%s [%s]: vs reference: worst |diff| = %.3g of the tolerance", net.name, d->name, worst);
  if (nkinks)
    printf(" (%d relu inputs or pooling maxima within %g rms of a kink: %zu values needed their slack%s)", nkinks,
           KINK_BAND, eased, slack_built ? "" : "; flips not run: none needed");
  if (conditional)
    printf(" (%s, given its own first step: %zu second-step values could move by more than the tolerance, "
           "%zu needed it)", ref_opt_name(net.opt.kind), ogiven, oeased);
  printf("\n");
  if (conditional) {
    free(want);
    free(oslack);
  }
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
  if (argc >= 3 && (argc - 3) % 3 == 0 && (argc - 3) / 3 + 1 > MAX_ISAS) {
    fprintf(stderr, "test_isa: %d builds given, at most %d (MAX_ISAS)\n", (argc - 3) / 3 + 1, MAX_ISAS);
    return 2;
  }
  if (argc < 3 || (argc - 3) % 3 != 0) {
    fprintf(stderr, "usage: test_isa DESC SCALAR.bin [ISA RUN1.bin RUN2.bin]...\n");
    return 2;
  }
  char err[512];
  if (ref_desc_read(&net, argv[1], err, sizeof err) != 0) { fprintf(stderr, "test_isa: %s\n", err); return 2; }
  build_expected_kinks();
  /* TEST_ISA_SLACK=eager: the flips up front (mk/isa.mk sets it for one net, so that the
     lazy path's code runs in every make test whether or not a draw needs it) */
  const char *eager = getenv("TEST_ISA_SLACK");
  if (eager && !strcmp(eager, "eager") && nkinks) build_slack();
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
