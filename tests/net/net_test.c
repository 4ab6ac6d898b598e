/* net_test.c — generated code against the double-precision reference (and PyTorch).
 *
 * Compiled once per generated network with `-include CONFIG.h`, a small header that
 * mk/tests.mk writes beside the generated code:
 *     #include "NAME.h"
 *     #define NET  NAME          (lower case: NAME_forward, NAME_params, ...)
 *     #define NETU NAME_UPPER    (macros: NAME_UPPER_IN, ...)
 *     #define NET_LOSS_MSE 1  or  #define NET_LOSS_CE 1
 *     #define NET_OPT_SGD 1 / NET_OPT_ADAM 1 / NET_OPT_ADAMW 1
 *     #define NET_LAYER_HAS_SLOPE 1   (NAME_layer_info declares `float slope;`)
 *     #define NET_LAYER_HAS_IMAGE 1   (NAME_layer_info declares kernel, stride, padding,
 *                                      in_shape[3], out_shape[3])
 * and -DEXPECT_ISA='"scalar"'. Linked with NAME.c, tests/ref/ref.c and libcr.a (.npy).
 * -DNET_MINICHECK uses tests/net/minicheck.h instead of libcheck, -DNET_NO_GOLDEN leaves
 * out the PyTorch tests and libcr (for a cross-compiled target that has neither).
 *
 *   NAME_test [--desc FILE] [--golden DIR] [--traj DIR] [--only-golden]
 *
 * --desc:   the network's independent description (tests/ref/README.md); metadata
 *           (NAME_layers, NAME_tensors, sizes, optimizer) is checked against it and the
 *           reference is built from it. Without it the reference is built from the metadata.
 * --golden: PyTorch vectors for one forward/backward/SGD step (tests/golden/README.md).
 * --traj:   a PyTorch 10-step training trajectory.
 * --only-golden: skip the reference tests (metadata, core), run only the PyTorch ones.
 *
 * Every tensor is compared as in llm.c's check_tensor: |got - ref| <= 1e-5 + 1e-4·max|ref|
 * over that tensor, and the first mismatch is printed with its index. Every buffer the
 * generated code writes has 64 bytes of canary (a NaN pattern) before and after it; x and
 * the targets end where an inaccessible page begins, so a read past row n faults.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE   /* mmap's MAP_ANONYMOUS (config.h defines it before any header) */
#endif
#include "ref.h"
#include "rng.h"
#ifndef NET_NO_GOLDEN
#include "cr.h"
#endif

#ifdef NET_MINICHECK
#include "minicheck.h"
#else
#include <check.h>
#endif
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef EXPECT_ISA
#define EXPECT_ISA "scalar"
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define F(x) CAT(NET, CAT(_, x))    /* F(forward) -> NAME_forward */
#define M(x) CAT(NETU, CAT(_, x))   /* M(IN)      -> NAME_UPPER_IN */
#define STR_(x) #x
#define STR(x) STR_(x)

typedef F(params) params_t;
typedef F(grads) grads_t;
typedef F(work) work_t;
typedef F(opt) opt_t;
typedef F(target) target_t;

enum { IN = M(IN), OUT = M(OUT), BATCH = M(BATCH), NT = M(TENSOR_COUNT) };

/* Networks with modes (batchnorm, dropout: NAME_MODES): the reference runs in training mode
   (net.train = 1) against NAME_forward_train, whose dropout generator is seeded with
   (DROP_SEED, DROP_STREAM) before every training forward, as the reference's masks are
   drawn (modes_masks); NAME_forward, the inference mode, is checked in test_modes.
   fwd_train runs the training forward on a scratch copy of p, so the caller's running
   statistics stay as they were (a forward must not change p in these tests). */
enum { DROP_SEED = 3, DROP_STREAM = 77 };
static unsigned char drop_keep[(size_t)BATCH * 8192 + 1];
static void *drop_keep_heap;

static void modes_masks(int n);
#ifdef NET_MODES
static void fwd_train_on(float *out, work_t *w, params_t *p, const float *x, int n)
{
#ifdef NET_DROPOUT
  F(seed)(w, DROP_SEED, DROP_STREAM);
#endif
  F(forward_train)(out, w, p, x, n);
}
static void fwd_train(float *out, work_t *w, const params_t *p, const float *x, int n)
{
  params_t *scratch = aligned_alloc(64, sizeof *scratch);
  memcpy(scratch, p, sizeof *scratch);
  fwd_train_on(out, w, scratch, x, n);
  free(scratch);
}
#else
static void fwd_train(float *out, work_t *w, const params_t *p, const float *x, int n)
{
  F(forward)(out, w, p, x, n);
}
#endif

/* ------------------------------------------------------------------ options, stats */

static const char *opt_desc, *opt_golden, *opt_traj;
static int opt_only_golden;
static ref_net net;          /* what the reference computes */
static int have_desc;

typedef struct { const char *kind; double abs, rel; } stat;   /* rel: err / max|ref| */
static stat stats_ref[] = {{"out", 0, 0}, {"loss", 0, 0}, {"weight grad", 0, 0}, {"bias grad", 0, 0},
                           {"dx", 0, 0}, {"params after step", 0, 0}, {"params after train_step", 0, 0}};
#ifndef NET_NO_GOLDEN
static stat stats_torch[] = {{"out", 0, 0}, {"loss", 0, 0}, {"weight grad", 0, 0}, {"bias grad", 0, 0},
                             {"dx", 0, 0}, {"params after step", 0, 0}, {"trajectory losses", 0, 0},
                             {"trajectory params", 0, 0}, {"reference trajectory params", 0, 0}};
#endif
enum { S_OUT, S_LOSS, S_WGRAD, S_BGRAD, S_DX, S_STEP, S_TRAIN, S_TLOSS = 6, S_TPARAM, S_TREF };

static void note(stat *s, double abs, double maxref)
{
  if (abs > s->abs) s->abs = abs;
  double rel = maxref > 0 ? abs / maxref : 0;
  if (rel > s->rel) s->rel = rel;
}

/* ------------------------------------------------------------------ comparison */

static long kink_most, kink_eased;   /* kinks in one draw at most; values that needed their slack */
static long kink_flipped;            /* draws whose flips ran (kink_slack) */
static int quiet;                    /* check_tensor_slack: count mismatches, print none */

/* 0 when every element of got is within 1e-5 + 1e-4·max|ref| (plus slack[i], a kink's, when
   slack is not NULL: kink_slack below); else prints the first mismatch (with its [row][col]
   index) and returns the number of mismatches. */
static int check_tensor_slack(const char *label, const float *got, const double *ref, const double *slack,
                              size_t count, int cols, stat *st)
{
  double maxref = 0, maxerr = 0;
  for (size_t i = 0; i < count; i++) if (fabs(ref[i]) > maxref) maxref = fabs(ref[i]);
  double tol = 1e-5 + 1e-4 * maxref;
  int bad = 0;
  for (size_t i = 0; i < count; i++) {
    double e = fabs((double)got[i] - ref[i]), sl = slack ? slack[i] : 0;
    if (!(e <= tol + sl)) {   /* also catches NaN */
      if (!bad && !quiet)
        printf("MISMATCH %s: first at [%zu][%zu] (element %zu of %zu): got %.9g, ref %.9g, "
               "|diff| %.3g > tol %.3g%s\n", label, i / (size_t)cols, i % (size_t)cols, i, count,
               (double)got[i], ref[i], e, tol + sl, sl > 0 ? " (with a kink's slack)" : "");
      bad++;
    } else if (e > tol) {
      kink_eased++;   /* within its slack: not in the stats, which are the tolerance's */
    } else if (e > maxerr) {
      maxerr = e;
    }
  }
  if (bad && !quiet) printf("MISMATCH %s: %d of %zu elements out of tolerance\n", label, bad, count);
  if (st) note(st, maxerr, maxref);
  return bad;
}

static int check_tensor(const char *label, const float *got, const double *ref, size_t count, int cols, stat *st)
{
  return check_tensor_slack(label, got, ref, NULL, count, cols, st);
}

static int check_scalar(const char *label, double got, double ref, stat *st)
{
  float g = (float)got;
  return check_tensor(label, &g, &ref, 1, 1, st);
}

/* ------------------------------------------------------------------ guarded buffers */

#define GUARD 64
/* The canary is the float 0x7FC1A5A5, a quiet NaN with a payload no arithmetic makes:
   an overwrite shows, and a read past a buffer turns the result into NaN. */
static const unsigned char canary[4] = {0xA5, 0xA5, 0xC1, 0x7F};
#define CANARY_AT(q, base) canary[(size_t)((q) - (base)) % 4]

typedef struct { unsigned char *base; size_t size, total; unsigned char *p; const char *what; } guarded;

/* size bytes at 64-byte alignment plus `misalign` bytes, canaries on both sides, content
   filled with `fill` (0xFF makes every float a NaN). */
static void *galloc(guarded *g, const char *what, size_t size, size_t misalign, int fill)
{
  g->what = what;
  g->size = size;
  g->total = (GUARD + misalign + size + GUARD + 63) / 64 * 64;
  g->base = aligned_alloc(64, g->total);
  ck_assert_ptr_nonnull(g->base);
  g->p = g->base + GUARD + misalign;
  /* canaries where gcheck looks (the bytes before p and past p + size), fill in between */
  for (unsigned char *q = g->base; q < g->p; q++) *q = CANARY_AT(q, g->base);
  memset(g->p, fill, size);
  for (unsigned char *q = g->p + size; q < g->base + g->total; q++) *q = CANARY_AT(q, g->base);
  return g->p;
}

/* Per-element checks test with if and fail with ck_abort_msg: a passing ck_assert writes a
   record for Check (a system call each, ~100,000 per run in the loops below). */
static void gcheck(const guarded *g)
{
  for (unsigned char *q = g->base; q < g->p; q++)
    if (*q != CANARY_AT(q, g->base))
      ck_abort_msg("%s: byte %td before the buffer was overwritten", g->what, q - g->p);
  for (unsigned char *q = g->p + g->size; q < g->base + g->total; q++)
    if (*q != CANARY_AT(q, g->base))
      ck_abort_msg("%s: byte %zu past the end of its %zu bytes was overwritten", g->what,
                   (size_t)(q - g->p) - g->size, g->size);
}

static void gfree(guarded *g) { gcheck(g); free(g->base); g->base = NULL; }

/* Tests run in-process (stats accumulate); a fault names the test it happened in. */
static char running[160] = "setup";

static void on_fault(int sig)
{
  char msg[256];
  int len = snprintf(msg, sizeof msg, "FAULT: signal %d in %s (x and the targets end at an inaccessible "
                     "page: a read past row n of an input faults)\n", sig, running);
  if (len > 0) { ssize_t w = write(2, msg, (size_t)len); (void)w; }
  _exit(1);
}

#define RUNNING(...) snprintf(running, sizeof running, __VA_ARGS__)

/* ------------------------------------------------------------------ test data */

static float *tensor(void *base, int k) { return (float *)base + F(tensors)[k].offset; }
static size_t tcount(int k) { return (size_t)F(tensors)[k].rows * (size_t)F(tensors)[k].cols; }

static void random_params(params_t *p, test_rng *r)
{
  memset(p, 0xFF, sizeof *p);   /* padding stays NaN: generated code must not use it */
  for (int k = 0; k < NT; k++) {
    float *t = tensor(p, k);
    int rows = F(tensors)[k].rows;
    double a = rows > 1 ? 1.7 / sqrt(rows) : 0.5;   /* keeps activations O(1) */
    double base = strstr(F(tensors)[k].name, "running_var") ? 1.0 : 0.0;   /* a variance: > 0 */
    for (size_t i = 0, cnt = tcount(k); i < cnt; i++) t[i] = (float)(base + test_rng_sym(r, a));
    if (strstr(F(tensors)[k].name, "num_batches_tracked")) t[0] = 5.0f;   /* a count */
  }
}

/* params (ours, float) -> the reference's double array */
static void params_to_ref(double *dst, const void *p)
{
  for (int k = 0; k < NT; k++) {
    const float *t = tensor((void *)p, k);
    double *d = dst + net.t_off[k];
    for (size_t i = 0, cnt = tcount(k); i < cnt; i++) d[i] = t[i];
  }
}

typedef struct {
  int n;
  float *x;          /* x and t end exactly where an inaccessible page begins, so any read */
  target_t *t;       /* past row n faults in every build (and ASan sees it too)           */
  double *xd, *td;
  void *xmap, *tmap;
  size_t xlen, tlen;
} batch;

/* `bytes` bytes ending at a PROT_NONE page; map and len receive the mapping (munmap). */
static void *page_end_alloc(size_t bytes, void **map, size_t *len)
{
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  *len = (bytes + page - 1) / page * page + page;
  *map = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ck_assert_msg(*map != MAP_FAILED, "mmap of %zu bytes failed", *len);
  ck_assert(mprotect((char *)*map + *len - page, page, PROT_NONE) == 0);
  return (char *)*map + *len - page - bytes;
}

static void random_batch(batch *b, int n, test_rng *r)
{
  b->n = n;
  b->x = page_end_alloc((size_t)n * IN * sizeof(float), &b->xmap, &b->xlen);
  b->t = page_end_alloc((size_t)n * sizeof(target_t), &b->tmap, &b->tlen);
  b->xd = malloc((size_t)n * IN * sizeof(double));
  b->td = malloc((size_t)n * sizeof(double));
  ck_assert(b->xd && b->td);
  for (size_t i = 0; i < (size_t)n * IN; i++) b->xd[i] = b->x[i] = (float)test_rng_sym(r, 1.0);
  for (int i = 0; i < n; i++) {
#ifdef NET_LOSS_MSE
    b->t[i] = (float)test_rng_sym(r, 1.0);
#else
    b->t[i] = (target_t)(test_rng_next(r) % OUT);
#endif
    b->td[i] = (double)b->t[i];
  }
}

static void free_batch(batch *b)
{
  munmap(b->xmap, b->xlen); munmap(b->tmap, b->tlen); free(b->xd); free(b->td);
}

static int ns[4], nns;   /* row counts tested: 1, about B/2, B-1, B */

static void choose_ns(void)
{
  int cand[4] = {1, (BATCH + 1) / 2, BATCH - 1, BATCH};
  nns = 0;
  for (int i = 0; i < 4; i++) {
    int dup = cand[i] < 1;
    for (int j = 0; j < nns; j++) dup |= ns[j] == cand[i];
    if (!dup) ns[nns++] = cand[i];
  }
}

static uint64_t seed_for(int n, int salt)
{
  uint64_t h = 1469598103934665603ull;
  for (const char *c = STR(NET); *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
  return h ^ ((uint64_t)n << 20) ^ (uint64_t)salt;
}

/* Compare every gradient tensor of g against the reference gradient (slack: per parameter,
   or NULL). */
static int check_grads(const char *when, const grads_t *g, const double *ref, const double *slack)
{
  int bad = 0;
  for (int k = 0; k < NT; k++) {
    char label[160];
    snprintf(label, sizeof label, "%s: grad %s", when, F(tensors)[k].name);
    int isbias = F(tensors)[k].rows == 1 && strstr(F(tensors)[k].name, "bias");
    bad += check_tensor_slack(label, tensor((void *)g, k), ref + net.t_off[k], slack ? slack + net.t_off[k] : NULL,
                              tcount(k), F(tensors)[k].cols, &stats_ref[isbias ? S_BGRAD : S_WGRAD]);
  }
  return bad;
}

static int check_params(const char *when, const params_t *p, const double *ref, stat *st)
{
  int bad = 0;
  for (int k = 0; k < NT; k++) {
    char label[160];
    snprintf(label, sizeof label, "%s: %s", when, F(tensors)[k].name);
    bad += check_tensor(label, tensor((void *)p, k), ref + net.t_off[k], tcount(k), F(tensors)[k].cols, st);
  }
  return bad;
}

/* Kinks (as tests/isa/test_isa.c): a relu input within KINK_BAND of 0 (relative to its
   layer's rms) in the reference can round to either side in float, and then one row's share
   of every gradient below it is in or out; so can a max pooling window's runner-up that close
   below its maximum. Rare with the small specs, one in a few dozen draws with the wide random
   MLPs (765-267-224-3 at batch 128: w35 of RAND_WIDE_COUNT=40). ref_backward_kinks runs the
   reference with such inputs counted; where a gradient or dx check then fails, kink_slack runs
   it once more per input with its derivative flipped and gives each value the sum of how far
   the flips moved it as slack, and the check is repeated with it (the flips only when needed:
   fashion_cnn's draws have up to 20 such inputs, mostly pooling near-ties, and 20 more double
   passes would make its run five times longer). More than MAX_KINKS: the draw cannot test the
   network (a failure). The forward output and the loss move by at most the band: no slack.
   NET_TEST_SLACK=eager runs the flips for every draw with a kink, needed or not (mk/tests.mk
   sets it for one network, so that kink_slack and the checks with slack run in every make
   test: no draw of make test needs them). */
#define KINK_BAND 1e-5
enum { MAX_KINKS = 64 };

typedef struct {
  const double *pd, *xd, *td;   /* the reference's inputs */
  int n, nk;                    /* rows; kinks counted */
  double *gd, *dxd;             /* its gradient, dx (NULL: not asked for) */
  double *gsl, *dxsl;           /* slack (kink_slack; NULL until then) */
} kinks;

static void kink_slack(kinks *k);

/* NET_TEST_SLACK=eager (above) */
static int slack_eager(void)
{
  const char *e = getenv("NET_TEST_SLACK");
  return e && !strcmp(e, "eager");
}

static double ref_backward_kinks(kinks *k, double *outd)
{
  int seen = 0;
  net.kink_band = KINK_BAND;
  net.kinks = &seen;
  net.kink_flip = 0;
  double loss = ref_backward(&net, k->pd, k->xd, k->td, k->n, outd, k->gd, k->dxd);
  net.kinks = NULL;
  k->nk = seen;
  k->gsl = k->dxsl = NULL;
  ck_assert_msg(seen <= MAX_KINKS, "n=%d: %d relu inputs or pooling maxima within %g of their layer's rms of a kink "
                "(at most %d): these data cannot test this network", k->n, seen, KINK_BAND, MAX_KINKS);
  if (seen > kink_most) kink_most = seen;
  if (seen && slack_eager()) kink_slack(k);
  return loss;
}

static void kink_slack(kinks *k)
{
  size_t np = net.nparams, nx = (size_t)k->n * IN;
  k->gsl = calloc(np, sizeof *k->gsl);
  double *gf = malloc(np * sizeof *gf), *dxf = NULL;
  ck_assert(k->gsl && gf);
  if (k->dxd) {
    k->dxsl = calloc(nx, sizeof *k->dxsl);
    dxf = malloc(nx * sizeof *dxf);
    ck_assert(k->dxsl && dxf);
  }
  int seen;
  kink_flipped++;
  net.kink_band = KINK_BAND;
  net.kinks = &seen;
  for (int f = 1; f <= k->nk; f++) {
    seen = 0;
    net.kink_flip = f;
    ref_backward(&net, k->pd, k->xd, k->td, k->n, NULL, gf, dxf);
    for (size_t j = 0; j < np; j++) k->gsl[j] += fabs(gf[j] - k->gd[j]);
    for (size_t j = 0; dxf && j < nx; j++) k->dxsl[j] += fabs(dxf[j] - k->dxd[j]);
  }
  net.kinks = NULL;
  net.kink_flip = 0;
  free(gf); free(dxf);
}

static void kinks_free(kinks *k)
{
  free(k->gsl); free(k->dxsl);
  k->gsl = k->dxsl = NULL;
}

/* The gradient (or dx) against the reference's, with the kinks' slack where it fails without. */
static int check_grads_k(const char *when, const grads_t *g, kinks *k)
{
  if (k->nk && !k->gsl) {
    quiet++;
    int bad = check_grads(when, g, k->gd, NULL);
    quiet--;
    if (!bad) return 0;
    kink_slack(k);
  }
  return check_grads(when, g, k->gd, k->gsl);
}

static int check_dx_k(const float *dx, kinks *k)
{
  size_t nx = (size_t)k->n * IN;
  if (k->nk && !k->dxsl) {
    quiet++;
    int bad = check_tensor("dx", dx, k->dxd, nx, IN, &stats_ref[S_DX]);
    quiet--;
    if (!bad) return 0;
    kink_slack(k);   /* the gradient's slack is not built either: kink_slack builds both */
  }
  return check_tensor_slack("dx", dx, k->dxd, k->dxsl, nx, IN, &stats_ref[S_DX]);
}

/* ------------------------------------------------------------------ core tests */

START_TEST(test_forward_backward)
{
  int n = ns[_i];
  RUNNING("test_forward_backward n=%d", n);
  test_rng r = {seed_for(n, 1)};
  guarded gp, gg, gw, go, gdx;
  params_t *p = galloc(&gp, "params", sizeof(params_t), 0, 0xFF);
  grads_t *g = galloc(&gg, "grads", sizeof(grads_t), 0, 0xFF);
  work_t *w = galloc(&gw, "work", sizeof(work_t), 0, 0xFF);
  size_t mis = (_i & 1) ? 4 : 0;   /* out and dx at odd float offsets every other run */
  float *out = galloc(&go, "out", (size_t)n * OUT * sizeof(float), mis, 0xFF);
  float *dx = galloc(&gdx, "dx", (size_t)n * IN * sizeof(float), mis, 0xFF);
  random_params(p, &r);
  batch b;
  random_batch(&b, n, &r);   /* x ends at a page: its alignment is whatever n*IN*4 gives */
  params_t *p_copy = aligned_alloc(64, sizeof *p_copy);   /* the struct type is 64-byte aligned */
  float *x_copy = malloc((size_t)n * IN * sizeof(float));
  memcpy(p_copy, p, sizeof *p);
  memcpy(x_copy, b.x, (size_t)n * IN * sizeof(float));

  double *pd = malloc(net.nparams * sizeof(double)), *gd = malloc(net.nparams * sizeof(double));
  double *outd = malloc((size_t)n * OUT * sizeof(double)), *dxd = malloc((size_t)n * IN * sizeof(double));
  params_to_ref(pd, p);
  modes_masks(n);
  kinks kk = {.pd = pd, .xd = b.xd, .td = b.td, .n = n, .gd = gd, .dxd = dxd};
  double loss_ref = ref_backward_kinks(&kk, outd);
  char when[64];
  snprintf(when, sizeof when, "n=%d", n);

  fwd_train(out, w, p, b.x, n);
  gcheck(&go); gcheck(&gw); gcheck(&gp);

  /* a second, unrelated network state in between: no hidden state may carry over */
  {
    params_t *p2 = aligned_alloc(64, sizeof(params_t));
    work_t *w2 = aligned_alloc(64, sizeof(work_t));
    float *out_2 = malloc((size_t)BATCH * OUT * sizeof(float));
    batch b2;
    random_params(p2, &r);
    random_batch(&b2, BATCH, &r);
    fwd_train(out_2, w2, p2, b2.x, BATCH);
    free_batch(&b2);
    free(p2); free(w2); free(out_2);
  }
  ck_assert_msg(check_tensor("forward out", out, outd, (size_t)n * OUT, OUT, &stats_ref[S_OUT]) == 0,
                "%s: forward output differs from the reference (first mismatch printed above)", when);

  /* the same call again gives the same bits */
  float *out2 = malloc((size_t)n * OUT * sizeof(float));
  memcpy(out2, out, (size_t)n * OUT * sizeof(float));
  fwd_train(out, w, p, b.x, n);
  ck_assert_msg(memcmp(out, out2, (size_t)n * OUT * sizeof(float)) == 0, "%s: forward is not deterministic", when);
  free(out2);

  float l = F(loss)(out, b.t, n);
  ck_assert_msg(check_scalar("NAME_loss", l, loss_ref, &stats_ref[S_LOSS]) == 0,
                "%s: NAME_loss %.9g, reference %.9g", when, (double)l, loss_ref);
#ifdef NET_LOSS_CE
  {
    int want = 0;   /* from the generated output itself: first maximum */
    for (int i = 0; i < n; i++) {
      int best = 0;
      for (int j = 1; j < OUT; j++) if (out[(size_t)i * OUT + j] > out[(size_t)i * OUT + best]) best = j;
      want += best == b.t[i];
    }
    int got = F(correct)(out, b.t, n);
    ck_assert_msg(got == want, "%s: NAME_correct %d, expected %d", when, got, want);
  }
#endif

  fwd_train(out, w, p, b.x, n);   /* backward follows the training forward */
  float lb = F(backward)(g, dx, w, p, b.x, b.t, n);
  gcheck(&gg); gcheck(&gdx); gcheck(&gw); gcheck(&gp);
  ck_assert_msg(check_scalar("backward loss", lb, loss_ref, &stats_ref[S_LOSS]) == 0,
                "%s: NAME_backward returned %.9g, reference %.9g", when, (double)lb, loss_ref);
  snprintf(when, sizeof when, "n=%d backward", n);
  ck_assert_msg(check_grads_k(when, g, &kk) == 0, "%s: a gradient differs (first mismatch printed above)", when);
  ck_assert_msg(check_dx_k(dx, &kk) == 0,
                "n=%d: dx differs (first mismatch printed above)", n);

  /* dx = NULL: gradients only, written over NaN */
  memset(g, 0xFF, sizeof *g);
  fwd_train(out, w, p, b.x, n);
  lb = F(backward)(g, NULL, w, p, b.x, b.t, n);
  snprintf(when, sizeof when, "n=%d backward(dx=NULL)", n);
  ck_assert_msg(check_scalar("backward loss (dx=NULL)", lb, loss_ref, &stats_ref[S_LOSS]) == 0,
                "%s: loss %.9g, reference %.9g", when, (double)lb, loss_ref);
  ck_assert_msg(check_grads_k(when, g, &kk) == 0, "%s: a gradient differs (first mismatch printed above)", when);
  ck_assert_msg(memcmp(p, p_copy, sizeof *p) == 0, "n=%d: forward/backward changed the parameters", n);
  ck_assert_msg(memcmp(b.x, x_copy, (size_t)n * IN * sizeof(float)) == 0, "n=%d: forward/backward changed x", n);
  free(p_copy); free(x_copy);

  gfree(&gp); gfree(&gg); gfree(&gw); gfree(&go); gfree(&gdx);
  free_batch(&b);
  kinks_free(&kk);
  free(pd); free(gd); free(outd); free(dxd);
}
END_TEST

/* NAME_step twice (with fresh gradients in between) against the reference optimizer fed
   the same float gradients, so the optimizer is tested on its own. */
START_TEST(test_step)
{
  int n = ns[_i];
  RUNNING("test_step n=%d", n);
  test_rng r = {seed_for(n, 2)};
  guarded gp, gg, gw, gs;
  params_t *p = galloc(&gp, "params", sizeof(params_t), 0, 0xFF);
  grads_t *g = galloc(&gg, "grads", sizeof(grads_t), 0, 0xFF);
  work_t *w = galloc(&gw, "work", sizeof(work_t), 0, 0xFF);
  opt_t *s = galloc(&gs, "opt", sizeof(opt_t), 0, 0xFF);
  float *out = malloc((size_t)n * OUT * sizeof(float));
  random_params(p, &r);
  F(opt_init)(s);
  ck_assert_msg(s->t == 0, "opt_init: t = %ld, expected 0", (long)s->t);
  ref_opt_state rs;
  ck_assert(ref_opt_init(&rs, &net) == 0);
  double *pd = malloc(net.nparams * sizeof(double)), *gd = malloc(net.nparams * sizeof(double));
  params_to_ref(pd, p);
  for (int step = 1; step <= 3; step++) {
    batch b;
    random_batch(&b, n, &r);
    fwd_train(out, w, p, b.x, n);
    F(backward)(g, NULL, w, p, b.x, b.t, n);
    params_to_ref(gd, g);   /* grads share the params' tensor table */
    if (step == 3) {   /* the public hyperparameters are the caller's to change between steps */
      s->lr *= 0.5f;
      s->weight_decay = 0.01f;
      rs.h.lr = s->lr;
      rs.h.weight_decay = s->weight_decay;
    }
    F(step)(p, s, g);
    ref_opt_step(&rs, pd, gd);
    gcheck(&gp); gcheck(&gs); gcheck(&gg);
    char when[64];
    snprintf(when, sizeof when, "n=%d after step %d", n, step);
    ck_assert_msg(check_params(when, p, pd, &stats_ref[S_STEP]) == 0,
                  "%s (%s): parameters differ from the reference (first mismatch printed above)",
                  when, ref_opt_name(net.opt.kind));
    ck_assert_msg(s->t == step, "%s: opt.t = %ld", when, (long)s->t);
    free_batch(&b);
    params_to_ref(pd, p);   /* continue from the generated parameters */
  }
  ref_opt_free(&rs);
  gfree(&gp); gfree(&gg); gfree(&gw); gfree(&gs);
  free(out); free(pd); free(gd);
}
END_TEST

/* NAME_train_step: loss and gradients of the step's starting point, and the parameters
   after the update, for two steps (so optimizer state carries over). */
START_TEST(test_train_step)
{
  int n = ns[_i];
  RUNNING("test_train_step n=%d", n);
  test_rng r = {seed_for(n, 3)};
  guarded gp, gg, gw, gs;
  params_t *p = galloc(&gp, "params", sizeof(params_t), 0, 0xFF);
  grads_t *g = galloc(&gg, "grads", sizeof(grads_t), 0, 0xFF);
  work_t *w = galloc(&gw, "work", sizeof(work_t), 0, 0xFF);
  opt_t *s = galloc(&gs, "opt", sizeof(opt_t), 0, 0xFF);
  random_params(p, &r);
  F(opt_init)(s);
  ref_opt_state rs;
  ck_assert(ref_opt_init(&rs, &net) == 0);
  double *pd = malloc(net.nparams * sizeof(double)), *gd = malloc(net.nparams * sizeof(double));
  double *gg32 = malloc(net.nparams * sizeof(double));
  for (int step = 1; step <= 2; step++) {
    batch b;
    random_batch(&b, n, &r);
    params_to_ref(pd, p);
    modes_masks(n);
    kinks kk = {.pd = pd, .xd = b.xd, .td = b.td, .n = n, .gd = gd};
    double loss_ref = ref_backward_kinks(&kk, NULL);
    if (net.train) ref_bn_update(&net, pd, b.xd, n);   /* the training forward's update */
#ifdef NET_DROPOUT
    F(seed)(w, DROP_SEED, DROP_STREAM);
#endif
    float l = F(train_step)(p, s, g, w, b.x, b.t, n);
    gcheck(&gp); gcheck(&gg); gcheck(&gw); gcheck(&gs);
    char when[64];
    snprintf(when, sizeof when, "n=%d train_step %d", n, step);
    ck_assert_msg(check_scalar(when, l, loss_ref, &stats_ref[S_LOSS]) == 0,
                  "%s: loss %.9g, reference %.9g", when, (double)l, loss_ref);
    ck_assert_msg(check_grads_k(when, g, &kk) == 0, "%s: a gradient differs (first mismatch printed above)", when);
    kinks_free(&kk);
    params_to_ref(gg32, g);
    ref_opt_step(&rs, pd, gg32);
    if (step == 1) {   /* a learning-rate schedule: the next train_step uses the new lr */
      s->lr *= 0.5f;
      rs.h.lr = s->lr;
    }
    ck_assert_msg(check_params(when, p, pd, &stats_ref[S_TRAIN]) == 0,
                  "%s (%s): parameters differ from the reference (first mismatch printed above)",
                  when, ref_opt_name(net.opt.kind));
    free_batch(&b);
  }
  ref_opt_free(&rs);
  gfree(&gp); gfree(&gg); gfree(&gw); gfree(&gs);
  free(pd); free(gd); free(gg32);
}
END_TEST

/* export gives PyTorch's layout (the transpose of a weight, a bias as is), import takes it
   back and touches no other tensor. Exact: these are copies. */
START_TEST(test_export_import)
{
  RUNNING("test_export_import");
  test_rng r = {seed_for(0, 4)};
  guarded gp;
  params_t *p = galloc(&gp, "params", sizeof(params_t), 0, 0xFF);
  random_params(p, &r);
  params_t *before = aligned_alloc(64, sizeof *before);
  for (int k = 0; k < NT; k++) {
    int rows = F(tensors)[k].rows, cols = F(tensors)[k].cols;
    guarded gd;
    float *dst = galloc(&gd, "export buffer", tcount(k) * sizeof(float), 4, 0xFF);
    F(export_tensor)(dst, p, k);
    gcheck(&gd);
    const float *t = tensor(p, k);
    for (int i = 0; i < rows; i++)
      for (int j = 0; j < cols; j++)
        if (!(dst[(size_t)j * rows + i] == t[(size_t)i * cols + j]))
          ck_abort_msg("export %s: torch[%d][%d] = %g, ours[%d][%d] = %g", F(tensors)[k].name, j, i,
                       (double)dst[(size_t)j * rows + i], i, j, (double)t[(size_t)i * cols + j]);
    float *src = malloc(tcount(k) * sizeof(float));
    for (size_t i = 0, cnt = tcount(k); i < cnt; i++) src[i] = (float)test_rng_sym(&r, 1.0);
    memcpy(before, p, sizeof *p);
    F(import_tensor)(p, k, src);
    gcheck(&gp);
    for (int i = 0; i < rows; i++)
      for (int j = 0; j < cols; j++)
        if (!(t[(size_t)i * cols + j] == src[(size_t)j * rows + i]))
          ck_abort_msg("import %s: ours[%d][%d] = %g, torch[%d][%d] = %g", F(tensors)[k].name, i, j,
                       (double)t[(size_t)i * cols + j], j, i, (double)src[(size_t)j * rows + i]);
    for (int o = 0; o < NT; o++)
      if (o != k)
        ck_assert_msg(memcmp(tensor(p, o), tensor(before, o), tcount(o) * sizeof(float)) == 0,
                      "import %s changed %s", F(tensors)[k].name, F(tensors)[o].name);
    free(src);
    gfree(&gd);
  }
  free(before);
  gfree(&gp);
}
END_TEST

/* ------------------------------------------------------------------ metadata */

static int float_eq(double got, double want) { return (float)got == (float)want; }

/* One NAME_opt on the heap for the metadata checks: Adam's state is 8 bytes per parameter
   (a 1536-864-1 net's passes an 8 MB stack). 64-byte aligned like the struct type: malloc's
   16 bytes let clang's aligned 512-bit stores (memset of the state in NAME_opt_init, avx512)
   fault. */
static opt_t *opt_buf(void)
{
  static opt_t *buf;
  if (!buf) buf = aligned_alloc(64, sizeof *buf);
  if (!buf) { fprintf(stderr, "net_test: out of memory\n"); exit(2); }
  return buf;
}

START_TEST(test_metadata)
{
  RUNNING("test_metadata");
  ck_assert_msg(IN == net.in, "NAME_IN %d, description %d", IN, net.in);
  ck_assert_msg(OUT == net.out, "NAME_OUT %d, description %d", OUT, net.out);
  ck_assert_msg(BATCH == net.batch, "NAME_BATCH %d, description %d", BATCH, net.batch);
  ck_assert_msg(M(PARAM_COUNT) == net.nparams, "NAME_PARAM_COUNT %zu, description %zu",
                (size_t)M(PARAM_COUNT), net.nparams);
  ck_assert_msg(NT == net.ntensors, "NAME_TENSOR_COUNT %d, description %d", NT, net.ntensors);
  ck_assert_msg(M(WORK_BYTES) == sizeof(work_t), "NAME_WORK_BYTES %zu, sizeof(NAME_work) %zu",
                (size_t)M(WORK_BYTES), sizeof(work_t));
  ck_assert_msg(sizeof(params_t) >= M(PARAM_COUNT) * sizeof(float), "sizeof(NAME_params) %zu too small",
                sizeof(params_t));
  ck_assert_msg(sizeof(grads_t) >= M(PARAM_COUNT) * sizeof(float), "sizeof(NAME_grads) %zu too small",
                sizeof(grads_t));
  ck_assert_str_eq(M(ISA), EXPECT_ISA);
  ck_assert_msg(M(LAYER_COUNT) == net.nlayers, "NAME_LAYER_COUNT %d, description %d", M(LAYER_COUNT), net.nlayers);
#ifdef NET_LOSS_MSE
  ck_assert_msg(net.loss == REF_MSE, "NAME_LOSS_MSE defined, description says %s", ref_loss_name(net.loss));
  ck_assert_msg(_Generic((target_t)0, float: 1, default: 0), "MSE target type is not float");
#else
  ck_assert_msg(net.loss == REF_CROSS_ENTROPY, "NAME_LOSS_CROSS_ENTROPY defined, description says %s",
                ref_loss_name(net.loss));
  ck_assert_msg(_Generic((target_t)0, int32_t: 1, default: 0), "cross-entropy target type is not int32_t");
#endif
#if defined(NET_OPT_SGD)
  int kind = REF_SGD;
#elif defined(NET_OPT_ADAM)
  int kind = REF_ADAM;
#else
  int kind = REF_ADAMW;
#endif
  ck_assert_msg(kind == net.opt.kind, "generated optimizer %s, description %s", ref_opt_name(kind),
                ref_opt_name(net.opt.kind));
#ifdef NET_MODES
  /* a batchnorm with one value per channel per row has no variance in a batch of 1 row */
  int min_rows = 1;
  for (int l = 0; l < net.nlayers; l++)
    if (net.layer[l].kind == REF_BATCHNORM && net.layer[l].pixels == 1) min_rows = 2;
  ck_assert_msg(M(TRAIN_MIN_ROWS) == min_rows, "NAME_TRAIN_MIN_ROWS %d, description %d", M(TRAIN_MIN_ROWS), min_rows);
#endif

  /* tensors: names, shapes, fans, init, offsets inside the struct and not overlapping */
  int ti = 0;
  size_t end_prev = 0;
  for (int l = 0; l < net.nlayers; l++) {
    const ref_layer *L = &net.layer[l];
    const F(layer_info) *li = &F(layers)[l];
    ck_assert_msg(!strcmp(li->kind, ref_kind_name(L->kind)), "layers[%d].kind '%s', description %s", l, li->kind,
                  ref_kind_name(L->kind));
    ck_assert_msg(li->in == L->in && li->out == L->out, "layers[%d]: %d -> %d, description %d -> %d",
                  l, li->in, li->out, L->in, L->out);
    ck_assert_msg(float_eq(li->shift, L->kind == REF_RELU ? L->shift : 0), "layers[%d].shift %g, description %g",
                  l, (double)li->shift, L->kind == REF_RELU ? L->shift : 0);
#ifdef NET_LAYER_HAS_SLOPE
    ck_assert_msg(float_eq(li->slope, L->kind == REF_LEAKY_RELU ? L->slope : 0), "layers[%d].slope %g, description %g",
                  l, (double)li->slope, L->kind == REF_LEAKY_RELU ? L->slope : 0);
#else
    ck_assert_msg(L->kind != REF_LEAKY_RELU, "layers[%d] is leaky_relu, but NAME_layer_info has no 'float slope' "
                  "member (after shift) to give its slope", l);
#endif
    if (L->kind == REF_BATCHNORM) {
      /* torch's state_dict: weight, bias (affine), running_mean, running_var [C] and
         num_batches_tracked [1]; not a product's weight and bias in the layer table */
      static const char *names[] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
      static const char *inits[] = {"ones", "zeros", "zeros", "ones", "zeros"};
      ck_assert_msg(li->weight == -1 && li->bias == -1, "layers[%d] (batchnorm) has tensors %d %d", l,
                    li->weight, li->bias);
      for (int b = L->affine ? 0 : 2; b < 5; b++, ti++) {
        const F(tensor_info) *t = &F(tensors)[ti];
        char name[48];
        snprintf(name, sizeof name, "%d.%s", l, names[b]);
        ck_assert_msg(!strcmp(t->name, name), "tensors[%d].name '%s', expected '%s'", ti, t->name, name);
        ck_assert_msg(t->rows == 1 && t->cols == (b == 4 ? 1 : L->channels), "tensor %s: %dx%d", name, t->rows, t->cols);
        ck_assert_msg(!strcmp(t->init, inits[b]), "tensor %s: init '%s', expected '%s'", name, t->init, inits[b]);
        ck_assert_msg(t->offset >= end_prev, "tensor %s overlaps the previous one", name);
        end_prev = t->offset + tcount(ti);
      }
      continue;
    }
#ifdef NET_LAYER_HAS_IMAGE
    /* image layers: the window and the C×H×W shapes in and out (0s where flat) */
    int window = L->kind == REF_CONV2D || L->kind == REF_MAXPOOL2D || L->kind == REF_AVGPOOL2D;
    int k = window ? L->kernel : 0, s = window ? L->stride : 0, p = L->kind == REF_CONV2D ? L->pad : 0;
    ck_assert_msg(li->kernel == k && li->stride == s && li->padding == p,
                  "layers[%d] (%s): kernel %d stride %d padding %d, description %d %d %d", l, li->kind,
                  li->kernel, li->stride, li->padding, k, s, p);
    ck_assert_msg(li->in_shape[0] == L->ic && li->in_shape[1] == L->ih && li->in_shape[2] == L->iw &&
                  li->out_shape[0] == L->c && li->out_shape[1] == L->h && li->out_shape[2] == L->w,
                  "layers[%d] (%s): shapes %dx%dx%d -> %dx%dx%d, description %dx%dx%d -> %dx%dx%d", l, li->kind,
                  li->in_shape[0], li->in_shape[1], li->in_shape[2], li->out_shape[0], li->out_shape[1],
                  li->out_shape[2], L->ic, L->ih, L->iw, L->c, L->h, L->w);
#endif
    if (L->kind != REF_LINEAR && L->kind != REF_CONV2D) {
      ck_assert_msg(li->weight == -1 && li->bias == -1, "layers[%d] (%s) has tensors %d %d", l, li->kind,
                    li->weight, li->bias);
      continue;
    }
    /* conv2d: weight [C·K·K][O] and torch's fans (C·K·K, O·K·K); bias=false (conv2d or
       linear): no bias tensor */
    int conv = L->kind == REF_CONV2D, nb = L->nobias ? 1 : 2;
    int fan_in = conv ? L->ic * L->kernel * L->kernel : L->in;
    int fan_out = conv ? L->out_c * L->kernel * L->kernel : L->out;
    ck_assert_msg(li->weight == ti && li->bias == (nb == 2 ? ti + 1 : -1),
                  "layers[%d]: weight %d bias %d, expected %d %d", l, li->weight, li->bias, ti, nb == 2 ? ti + 1 : -1);
    for (int b = 0; b < nb; b++, ti++) {
      const F(tensor_info) *t = &F(tensors)[ti];
      char name[32];
      snprintf(name, sizeof name, "%d.%s", l, b ? "bias" : "weight");
      ck_assert_msg(!strcmp(t->name, name), "tensors[%d].name '%s', expected '%s'", ti, t->name, name);
      ck_assert_msg(t->rows == net.t_rows[ti] && t->cols == net.t_cols[ti], "tensor %s: %dx%d, expected %dx%d",
                    name, t->rows, t->cols, net.t_rows[ti], net.t_cols[ti]);
      ck_assert_msg(t->fan_in == fan_in && t->fan_out == fan_out, "tensor %s: fans %d/%d, expected %d/%d",
                    name, t->fan_in, t->fan_out, fan_in, fan_out);
      ck_assert_msg(t->offset >= end_prev, "tensor %s at offset %zu overlaps the previous one (ends at %zu)",
                    name, t->offset, end_prev);
      end_prev = t->offset + tcount(ti);
      ck_assert_msg(end_prev * sizeof(float) <= sizeof(params_t), "tensor %s ends past sizeof(NAME_params)", name);
      if (!b && have_desc) {
        const char *want = L->init[0] ? L->init : "pytorch_default";
        ck_assert_msg(t->init && !strcmp(t->init, want), "tensor %s: init '%s', the spec says '%s'",
                      name, t->init ? t->init : "(null)", want);
      }
    }
  }

  /* optimizer hyperparameters from the spec (PyTorch's defaults where it gives none) */
  opt_t *sp = opt_buf();
  memset(sp, 0xFF, sizeof *sp);
  F(opt_init)(sp);
  const ref_optim *o = &net.opt;
  ck_assert_msg(float_eq(sp->lr, o->lr), "opt.lr %g, spec %g", (double)sp->lr, o->lr);
  ck_assert_msg(float_eq(sp->weight_decay, o->weight_decay), "opt.weight_decay %g, spec %g",
                (double)sp->weight_decay, o->weight_decay);
  if (o->kind == REF_SGD) {
    ck_assert_msg(float_eq(sp->momentum, o->momentum), "opt.momentum %g, spec %g", (double)sp->momentum, o->momentum);
    ck_assert_msg(float_eq(sp->dampening, o->dampening), "opt.dampening %g, spec %g", (double)sp->dampening, o->dampening);
    ck_assert_msg(!!sp->nesterov == o->nesterov, "opt.nesterov %d, spec %d", sp->nesterov, o->nesterov);
  } else {
    ck_assert_msg(float_eq(sp->beta1, o->beta1), "opt.beta1 %g, spec %g", (double)sp->beta1, o->beta1);
    ck_assert_msg(float_eq(sp->beta2, o->beta2), "opt.beta2 %g, spec %g", (double)sp->beta2, o->beta2);
    ck_assert_msg(float_eq(sp->eps, o->eps), "opt.eps %g, spec %g", (double)sp->eps, o->eps);
  }
  ck_assert_msg(sp->t == 0, "opt.t %ld after opt_init", (long)sp->t);
}
END_TEST

/* The reference's dropout masks for n rows, drawn as NAME_forward_train draws them after
   NAME_seed(w, DROP_SEED, DROP_STREAM). */
static void modes_masks(int n)
{
  size_t need = ref_dropout_size(&net, n);
  if (need == 0) return;
  unsigned char *keep = drop_keep;
  if (need > sizeof drop_keep) {
    free(drop_keep_heap);
    keep = drop_keep_heap = malloc(need);
    ck_assert(keep != NULL);
  }
  ref_pcg r;
  ref_pcg_seed(&r, DROP_SEED, DROP_STREAM);
  ref_dropout_masks(&net, &r, n, keep);
  net.drop_mask = keep;
}

#ifdef NET_MODES
/* The two modes: NAME_forward (inference) uses the running statistics of p and does not
   change p; NAME_forward_train moves them as the reference's ref_bn_update does, three
   times in a row, and counts the batches. */
START_TEST(test_modes)
{
  int n = ns[_i];
  RUNNING("test_modes n=%d", n);
  test_rng r = {seed_for(n, 5)};
  guarded gp, gw;
  params_t *p = galloc(&gp, "params", sizeof(params_t), 0, 0xFF);
  work_t *w = galloc(&gw, "work", sizeof(work_t), 0, 0xFF);
  float *out = malloc((size_t)n * OUT * sizeof(float));
  double *pd = malloc(net.nparams * sizeof(double)), *outd = malloc((size_t)n * OUT * sizeof(double));
  random_params(p, &r);
  params_t *p_copy = aligned_alloc(64, sizeof *p_copy);
  memcpy(p_copy, p, sizeof *p);
  params_to_ref(pd, p);
  char when[64];
  for (int k = 1; k <= 3; k++) {
    batch b;
    random_batch(&b, n, &r);
    net.train = 0;
    ref_forward(&net, pd, b.xd, n, outd);
    net.train = 1;
    F(forward)(out, w, p, b.x, n);
    gcheck(&gp); gcheck(&gw);
    snprintf(when, sizeof when, "n=%d inference forward %d", n, k);
    ck_assert_msg(check_tensor(when, out, outd, (size_t)n * OUT, OUT, &stats_ref[S_OUT]) == 0,
                  "%s: differs from the reference's inference mode (first mismatch printed above)", when);
    if (k == 1) ck_assert_msg(memcmp(p, p_copy, sizeof *p) == 0, "n=%d: NAME_forward changed p", n);
    modes_masks(n);
    ref_bn_update(&net, pd, b.xd, n);
    fwd_train_on(out, w, p, b.x, n);
    gcheck(&gp); gcheck(&gw);
    snprintf(when, sizeof when, "n=%d after forward_train %d", n, k);
    ck_assert_msg(check_params(when, p, pd, &stats_ref[S_STEP]) == 0,
                  "%s: running statistics differ from the reference (first mismatch printed above)", when);
    free_batch(&b);
  }
  for (int k = 0; k < NT; k++)
    if (strstr(F(tensors)[k].name, "num_batches_tracked"))
      ck_assert_msg(tensor(p, k)[0] == tensor(p_copy, k)[0] + 3.0f, "%s: %g after 3 training forwards from %g",
                    F(tensors)[k].name, (double)tensor(p, k)[0], (double)tensor(p_copy, k)[0]);
  free(p_copy);
  gfree(&gp); gfree(&gw);
  free(out); free(pd); free(outd);
}
END_TEST
#endif

#ifdef NET_DROPOUT
/* A work never seeded (zeroed, as a static NAME_work is) draws as after NAME_seed(w, 0, 0):
   the same output and generator state from its first training forward (PCG32 at state 0
   and increment 0 would stay at 0, and every draw would drop its element). */
START_TEST(test_unseeded_dropout)
{
  const int n = BATCH;
  test_rng r = {seed_for(n, 7)};
  params_t *p = aligned_alloc(64, sizeof *p), *p2 = aligned_alloc(64, sizeof *p2);
  work_t *w0 = aligned_alloc(64, sizeof *w0), *w1 = aligned_alloc(64, sizeof *w1);
  float *o0 = malloc((size_t)n * OUT * sizeof(float)), *o1 = malloc((size_t)n * OUT * sizeof(float));
  ck_assert(p && p2 && w0 && w1 && o0 && o1);
  random_params(p, &r);
  memcpy(p2, p, sizeof *p);
  memset(w0, 0, sizeof *w0);
  memset(w1, 0, sizeof *w1);
  F(seed)(w1, 0, 0);
  batch b;
  random_batch(&b, n, &r);
  for (int k = 0; k < 2; k++) {
    F(forward_train)(o0, w0, p, b.x, n);
    F(forward_train)(o1, w1, p2, b.x, n);
    ck_assert_msg(memcmp(o0, o1, (size_t)n * OUT * sizeof(float)) == 0,
                  "training forward %d of a zeroed work differs from one seeded (0, 0)", k + 1);
    ck_assert_msg(memcmp(w0->rng, w1->rng, sizeof w0->rng) == 0, "generator state after forward %d", k + 1);
  }
  free_batch(&b);
  free(p); free(p2); free(w0); free(w1); free(o0); free(o1);
}
END_TEST
#endif

/* Build the reference's network from the generated metadata (specs without a description). */
static void net_from_metadata(void)
{
  memset(&net, 0, sizeof net);
  snprintf(net.name, sizeof net.name, "%s", STR(NET));
  net.in = IN;
  net.batch = BATCH;
#ifdef NET_LOSS_MSE
  net.loss = REF_MSE;
#else
  net.loss = REF_CROSS_ENTROPY;
#endif
  net.nlayers = M(LAYER_COUNT);
  for (int l = 0; l < net.nlayers; l++) {
    const F(layer_info) *li = &F(layers)[l];
    int kind = 0;
#ifdef NET_LAYER_HAS_IMAGE
    const int last_kind = REF_FLATTEN;   /* the image layers' window and shapes are in the table */
#else
    const int last_kind = REF_SIGMOID;
#endif
    for (int k = REF_LINEAR; k <= last_kind; k++)
      if (!strcmp(li->kind, ref_kind_name(k))) kind = k;
    if (!kind) {
      fprintf(stderr, "%s: layers[%d].kind '%s' is unknown to the reference\n", STR(NET), l, li->kind);
      exit(1);
    }
#ifndef NET_LAYER_HAS_SLOPE
    if (kind == REF_LEAKY_RELU) {
      fprintf(stderr, "%s: layers[%d] is leaky_relu, but NAME_layer_info has no 'float slope' member\n",
              STR(NET), l);
      exit(1);
    }
#else
    net.layer[l].slope = li->slope;
#endif
    net.layer[l].kind = kind;
    net.layer[l].out = li->out;
    net.layer[l].shift = li->shift;
#ifdef NET_LAYER_HAS_IMAGE
    if (l == 0) net.in_c = li->in_shape[0], net.in_h = li->in_shape[1], net.in_w = li->in_shape[2];
    net.layer[l].out_c = li->out_shape[0];
    net.layer[l].kernel = li->kernel, net.layer[l].stride = li->stride, net.layer[l].pad = li->padding;
#endif
    net.layer[l].nobias = (kind == REF_CONV2D || kind == REF_LINEAR) && li->bias < 0;
  }
  opt_t *sp = opt_buf();
  F(opt_init)(sp);
#if defined(NET_OPT_SGD)
  net.opt.kind = REF_SGD;
#elif defined(NET_OPT_ADAM)
  net.opt.kind = REF_ADAM;
#else
  net.opt.kind = REF_ADAMW;
#endif
  net.opt.lr = sp->lr; net.opt.momentum = sp->momentum; net.opt.dampening = sp->dampening;
  net.opt.weight_decay = sp->weight_decay; net.opt.nesterov = sp->nesterov;
  net.opt.beta1 = sp->beta1; net.opt.beta2 = sp->beta2; net.opt.eps = sp->eps;
  char err[200];
  if (ref_net_finish(&net, err, sizeof err)) {
    fprintf(stderr, "%s: metadata does not describe a network: %s\n", STR(NET), err);
    exit(1);
  }
}

#ifndef NET_NO_GOLDEN
#include "golden.inc"
#endif

int main(int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--desc") && i + 1 < argc) opt_desc = argv[++i];
    else if (!strcmp(argv[i], "--golden") && i + 1 < argc) opt_golden = argv[++i];
    else if (!strcmp(argv[i], "--traj") && i + 1 < argc) opt_traj = argv[++i];
    else if (!strcmp(argv[i], "--only-golden")) opt_only_golden = 1;
    else {
      fprintf(stderr, "usage: %s [--desc FILE] [--golden DIR] [--traj DIR] [--only-golden]\n", argv[0]);
      return 2;
    }
  }
#ifdef NET_NO_GOLDEN
  if (opt_golden || opt_traj) {
    fprintf(stderr, "%s: built with NET_NO_GOLDEN: --golden and --traj are not available\n", argv[0]);
    return 2;
  }
#endif
  if (opt_desc) {
    char err[600];
    if (ref_desc_read(&net, opt_desc, err, sizeof err)) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    have_desc = 1;
    /* the core tests index buffers by the description's shapes: refuse a wrong one here
       (test_metadata then names every other difference) */
    int ok = net.in == IN && net.out == OUT && net.ntensors == NT;
    for (int k = 0; ok && k < NT; k++)
      ok = net.t_rows[k] == F(tensors)[k].rows && net.t_cols[k] == F(tensors)[k].cols;
    if (!ok) {
      fprintf(stderr, "%s: does not describe network %s (%d -> %d, %d tensors; the generated code has "
              "%d -> %d, %d tensors, or tensor shapes differ)\n", opt_desc, STR(NET), net.in, net.out,
              net.ntensors, IN, OUT, NT);
      return 1;
    }
  } else {
    net_from_metadata();
  }
  choose_ns();
#ifdef NET_MODES
  net.train = 1;   /* the reference follows NAME_forward_train unless told otherwise */
#endif
  signal(SIGSEGV, on_fault);
  signal(SIGBUS, on_fault);

  Suite *su = suite_create(STR(NET));
  if (!opt_only_golden) {
    TCase *meta = tcase_create("metadata");
    tcase_add_test(meta, test_metadata);
    suite_add_tcase(su, meta);
    TCase *core = tcase_create("core");
    tcase_set_timeout(core, 120);
    tcase_add_loop_test(core, test_forward_backward, 0, nns);
    tcase_add_loop_test(core, test_step, 0, nns);
    tcase_add_loop_test(core, test_train_step, 0, nns);
    tcase_add_test(core, test_export_import);
#ifdef NET_MODES
    tcase_add_loop_test(core, test_modes, 0, nns);
#endif
#ifdef NET_DROPOUT
    tcase_add_test(core, test_unseeded_dropout);
#endif
    suite_add_tcase(su, core);
  }
#ifndef NET_NO_GOLDEN
  if (opt_golden || opt_traj) {
    TCase *golden = tcase_create("golden");
    tcase_set_timeout(golden, 120);
    if (opt_golden) tcase_add_test(golden, test_golden);
    if (opt_traj) tcase_add_test(golden, test_trajectory);
    suite_add_tcase(su, golden);
  }
#endif
  SRunner *sr = srunner_create(su);
  srunner_set_fork_status(sr, CK_NOFORK);   /* stats accumulate across tests */
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);

  if (!opt_only_golden) {
    printf("%s [%s]: n in {", STR(NET), EXPECT_ISA);
    for (int i = 0; i < nns; i++) printf("%s%d", i ? ", " : "", ns[i]);
    printf("}, %s\n", have_desc ? "reference from the independent description" : "reference from the metadata");
    printf("%s: largest |generated - reference| (and / max|ref| of that tensor):", STR(NET));
    for (size_t i = 0; i < sizeof stats_ref / sizeof stats_ref[0]; i++)
      printf("%s %s %.2e (%.2e)", i ? "," : "", stats_ref[i].kind, stats_ref[i].abs, stats_ref[i].rel);
    printf("\n");
    if (kink_most)
      printf("%s: up to %ld relu inputs or pooling maxima within %g rms of a kink in one draw; %ld gradient or dx "
             "values needed their slack; flips run for %ld draws\n", STR(NET), kink_most, KINK_BAND, kink_eased,
             kink_flipped);
    if (slack_eager() && !kink_flipped) {
      printf("%s: NET_TEST_SLACK=eager, but no draw met a kink, so the flips never ran: name another network in "
             "mk/tests.mk's NET_EAGER_SLACK\n", STR(NET));
      failed = 1;
    }
  }
#ifndef NET_NO_GOLDEN
  if (opt_golden || opt_traj) {
    printf("%s: largest |generated - PyTorch| (and / max|torch|):", STR(NET));
    int first = 1;
    for (size_t i = 0; i < sizeof stats_torch / sizeof stats_torch[0]; i++) {
      if ((i < S_TLOSS && !opt_golden) || (i >= S_TLOSS && !opt_traj)) continue;
      printf("%s %s %.2e (%.2e)", first ? "" : ",", stats_torch[i].kind, stats_torch[i].abs, stats_torch[i].rel);
      first = 0;
    }
    printf("\n%s: largest |reference - PyTorch| (and / max|torch|): every tensor %.2e (%.2e)\n", STR(NET),
           stat_ref_torch.abs, stat_ref_torch.rel);
  }
#endif
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
