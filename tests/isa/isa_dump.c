/* isa_dump OUT.bin — runs one generated network on fixed inputs and writes every result
 * (raw fp32, little-endian host order) for tests/isa/test_isa.c to compare across ISAs.
 *
 * Built once per (spec, ISA) with -include CONFIG.h (tests/net/config.sh: NET, NETU,
 * NET_LOSS_*), for x86 natively and for AArch64 with clang --target (run under qemu), so
 * it needs nothing but libc and libm: no Check, no runtime library.
 *
 * Inputs are drawn with tests/ref/rng.h (splitmix64), identically in test_isa.c:
 *   params  tensor by tensor, uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)), seed 11 (a
 *           batchnorm running_var: 1 plus that, so it is positive)
 *   x       [B][IN] uniform in [-1, 1), seed 12;  MSE targets uniform in [-1, 1), seed 13;
 *           cross-entropy targets (7 i + 3) mod OUT
 * Records, for n in {B, B/2 + 1, 1}: forward out [n][OUT]; backward loss, grads (tensor by
 * tensor, rows*cols each) and dx [n][IN]; then two train steps on n = B from the initial
 * params (loss + params after each). A network with modes (NAME_MODES: batchnorm, dropout)
 * records the inference-mode forward, then the training-mode forward and the params after it
 * (the running statistics), and its backward follows the training forward; the dropout
 * generator is seeded (NAME_seed(w, 5, 9)) before each n and before the train steps. The
 * dump ends with the inputs (params tensor by tensor, x, the targets' 4 bytes each), which
 * test_isa.c checks bit for bit against its own draw. Every buffer sits between guard
 * floats that must be untouched after each call.
 * Not in the dump, a check of its own: NAME_train_step (on SIMD ISAs the optimizer fused
 * into the weight-gradient tiles) gives the same bits as forward + backward + NAME_step, in
 * loss, gradients, parameters and optimizer state, for the spec's hyperparameters over three
 * steps (n = B, B/2 + 1, B) and three other sets (momentum, dampening, Nesterov, weight decay)
 * over two (a first step at n = B/2 + 1, a second at B or at the fewest rows);
 * NAME_train_step_scratch (g only scratch, NaNs at the start) gives the same loss, parameters
 * and optimizer state; and NAME_step_range over uneven slices, last to first, then t++,
 * gives NAME_step's bits.
 * And NAME_nonfinite after NAME_train_step is 1 exactly when an element of g is NaN or +-Inf
 * (the step's own test, which the trainer relies on instead of scanning g): for finite
 * inputs, then with NaN, +Inf, -Inf and huge finite values (which overflow only some
 * gradients: a bias, one column, one element) put into x, the MSE targets and the
 * parameters (each value at one of three places per tensor, in turn), one element or one
 * column at a time (ISA_DUMP_VERBOSE=1: a summary). */
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define F(x) CAT(NET, x)
#define U(x) CAT(NETU, x)
#define STR_(a) #a
#define CAT_STR(a) STR_(a)

enum { GUARD = 32 };
static const float CANARY = -12345.678f;
static int failures;

/* n floats between GUARD canaries on both sides (the whole block 64-byte aligned). */
static float *guard_alloc(size_t n)
{
  size_t bytes = ((2 * GUARD + n) * sizeof(float) + 63) / 64 * 64;
  float *p = aligned_alloc(64, bytes);
  if (!p) { fprintf(stderr, "isa_dump: out of memory\n"); exit(2); }
  for (size_t i = 0; i < 2 * GUARD + n; i++) p[i] = CANARY;
  return p + GUARD;
}

static void guard_check(const float *p, size_t n, const char *what)
{
  for (size_t i = 0; i < GUARD; i++)
    if (memcmp(&p[-1 - (long)i], &CANARY, 4) || memcmp(&p[n + i], &CANARY, 4)) {
      fprintf(stderr, "isa_dump: %s: write outside its %zu floats\n", what, n);
      failures++;
      return;
    }
}

static FILE *out;
static void put(const void *p, size_t floats)
{
  if (fwrite(p, sizeof(float), floats, out) != floats) { perror("isa_dump: write"); exit(2); }
}

/* The hyperparameter sets of the fused-vs-separate check: 0 is the spec's. */
enum { HYPER_SETS = 4 };
static void hyper(F(_opt) *s, int set)
{
  if (set == 0) return;
#ifdef NET_OPT_SGD
  static const float mom[HYPER_SETS] = {0, 0.9f, 0.9f, 0.5f}, damp[HYPER_SETS] = {0, 0.1f, 0, 0.5f},
                     wd[HYPER_SETS] = {0, 0.01f, 0.001f, 0};
  static const int nest[HYPER_SETS] = {0, 0, 1, 0};
  s->momentum = mom[set]; s->dampening = damp[set]; s->weight_decay = wd[set]; s->nesterov = nest[set];
#else
  static const float wd[HYPER_SETS] = {0, 0.01f, 0.1f, 0};
  s->weight_decay = wd[set];
  if (set == 3) { s->beta1 = 0.5f; s->beta2 = 0.9f; s->eps = 1e-3f; }
#endif
}

/* NAME_step as NAME_step_range over slices that start and end anywhere (not on vector or
   tensor boundaries; one empty), applied last slice first, then s->t++. */
static void step_in_slices(F(_params) *p, F(_opt) *s, const F(_grads) *g)
{
  const size_t floats = sizeof *p / sizeof(float), cut = floats / 3 + 13;
  size_t lo[4] = {0, 7, cut, 2 * cut + 5}, hi[4] = {7, cut, 2 * cut + 5, floats};
  for (int i = 3; i >= 0; i--) {
    if (lo[i] > floats) lo[i] = floats;
    if (hi[i] > floats) hi[i] = floats;
    F(_step_range)(p, s, g, lo[i], hi[i] > lo[i] ? hi[i] : lo[i]);
    F(_step_range)(p, s, g, lo[i], lo[i]);   /* empty: no change */
  }
  s->t++;
}

/* train_step == forward + backward + step == forward + backward + step_range in slices, bit
   for bit (p0 the starting parameters). */
static void check_fused(const F(_params) *p0, const float *x, const F(_target) *t, int B)
{
  F(_params) *pa = aligned_alloc(64, sizeof *pa), *pb = aligned_alloc(64, sizeof *pb);
  F(_params) *pc = aligned_alloc(64, sizeof *pc), *pd = aligned_alloc(64, sizeof *pd);
  F(_grads) *ga = aligned_alloc(64, sizeof *ga), *gb = aligned_alloc(64, sizeof *gb);
  F(_grads) *gd = aligned_alloc(64, sizeof *gd);
  F(_opt) *sa = aligned_alloc(64, sizeof *sa), *sb = aligned_alloc(64, sizeof *sb);
  F(_opt) *sc = aligned_alloc(64, sizeof *sc), *sd = aligned_alloc(64, sizeof *sd);
  F(_work) *w = aligned_alloc(64, sizeof *w);
  float *o = malloc(sizeof(float) * (size_t)B * U(_OUT));
  if (!pa || !pb || !pc || !pd || !ga || !gb || !gd || !sa || !sb || !sc || !sd || !w || !o) {
    fprintf(stderr, "isa_dump: out of memory\n");
    exit(2);
  }
  /* The reference path's first step from p0 at n = B/2 + 1, the same in sets 1 to 3 (the
     hyperparameters only reach the step): computed in set 1, reused by sets 2 and 3 (not
     with dropout, whose masks are seeded per set) */
  F(_params) *pr = aligned_alloc(64, sizeof *pr);
  F(_grads) *gr = aligned_alloc(64, sizeof *gr);
  float lref = 0.0f;
#if defined(NET_DROPOUT)
  const int reuse = 0;
#else
  const int reuse = 1;
#endif
  if (!pr || !gr) { fprintf(stderr, "isa_dump: out of memory\n"); exit(2); }
  int nmin = 1;
#if defined(NET_MODES)
  if (nmin < U(_TRAIN_MIN_ROWS)) nmin = U(_TRAIN_MIN_ROWS);
#endif
  for (int set = 0; set < HYPER_SETS; set++) {
    memcpy(pa, p0, sizeof *pa); memcpy(pb, p0, sizeof *pb); memcpy(pd, p0, sizeof *pd);
    memset(ga, 0, sizeof *ga); memset(gb, 0, sizeof *gb);
    /* train_step_scratch's g starts as NaNs: a gradient it reads without writing shows */
    memset(gd, 0xff, sizeof *gd);
    memset(sa, 0, sizeof *sa); memset(sb, 0, sizeof *sb); memset(sd, 0, sizeof *sd);
    F(_opt_init)(sa); F(_opt_init)(sb); F(_opt_init)(sd);
    hyper(sa, set); hyper(sb, set); hyper(sd, set);
    /* set 0 (the spec's): n = B, B/2 + 1, B; sets 1 to 3: a first step at n = B/2 + 1, then
       a second at B (set 1) or at the fewest rows (sets 2, 3). The tiles' row loops and row
       blocks (which call sites of the update run) do not depend on the hyperparameters, the
       update's branches inside vopt_update (first step, decay, dampening, Nesterov) not on
       n; the call sites' own momentum test (the state's load and store) runs at both n in
       set 1 (momentum, decay), whatever the spec's optimizer */
    const int steps = set ? 2 : 3;
    for (int step = 1; step <= steps; step++) {
      int n = !set ? (step == 2 ? B / 2 + 1 : B) : step == 1 ? B / 2 + 1 : set == 1 ? B : nmin;
#if defined(NET_DROPOUT)
      F(_seed)(w, 5, (uint64_t)(20 + 4 * set + step));   /* the same masks on every path */
#endif
      float la = F(_train_step)(pa, sa, ga, w, x, t, n);
#if defined(NET_DROPOUT)
      F(_seed)(w, 5, (uint64_t)(20 + 4 * set + step));
#endif
      float ld = F(_train_step_scratch)(pd, sd, gd, w, x, t, n);
#if defined(NET_DROPOUT)
      F(_seed)(w, 5, (uint64_t)(20 + 4 * set + step));
#endif
      float lb;
      if (reuse && set >= 2 && step == 1) {
        memcpy(pb, pr, sizeof *pb); memcpy(gb, gr, sizeof *gb); lb = lref;
      } else {
#if defined(NET_MODES)
        F(_forward_train)(o, w, pb, x, n);
#else
        F(_forward)(o, w, pb, x, n);
#endif
        lb = F(_backward)(gb, NULL, w, pb, x, t, n);
        if (reuse && set == 1 && step == 1) { memcpy(pr, pb, sizeof *pr); memcpy(gr, gb, sizeof *gr); lref = lb; }
      }
      memcpy(pc, pb, sizeof *pc); memcpy(sc, sb, sizeof *sc);   /* batchnorm's statistics too */
      F(_step)(pb, sb, gb);
      step_in_slices(pc, sc, gb);
      const char *bad = memcmp(&la, &lb, 4) ? "loss" : memcmp(ga, gb, sizeof *ga) ? "gradients"
                      : memcmp(pa, pb, sizeof *pa) ? "parameters" : memcmp(sa, sb, sizeof *sa) ? "optimizer state"
                      : memcmp(pc, pb, sizeof *pc) ? "parameters after step_range in slices"
                      : memcmp(sc, sb, sizeof *sc) ? "optimizer state after step_range in slices"
                      : memcmp(&ld, &lb, 4) ? "loss of train_step_scratch"
                      : memcmp(pd, pb, sizeof *pd) ? "parameters after train_step_scratch"
                      : memcmp(sd, sb, sizeof *sd) ? "optimizer state after train_step_scratch" : NULL;
      if (bad) {
        fprintf(stderr, "isa_dump: hyperparameter set %d, step %d: %s%s differ from forward + backward + step",
                set, step, strstr(bad, " after ") || strstr(bad, " of ") ? "" : "train_step's ", bad);
        if (!strncmp(bad, "parameters", 10)) {   /* name the first float that differs */
          const F(_params) *pd2 = !bad[10] ? pa : strstr(bad, "scratch") ? pd : pc;
          for (int i = 0; i < U(_TENSOR_COUNT); i++) {
            const F(_tensor_info) *ti = &F(_tensors)[i];
            const float *a = (const float *)pd2 + ti->offset, *b = (const float *)pb + ti->offset;
            int k = 0;
            while (k < ti->rows * ti->cols && !memcmp(&a[k], &b[k], 4)) k++;
            if (k < ti->rows * ti->cols) {
              fprintf(stderr, " (first: %s[%d][%d], %.9g vs %.9g)", ti->name, k / ti->cols, k % ti->cols,
                      (double)a[k], (double)b[k]);
              break;
            }
          }
        }
        fprintf(stderr, "\n");
        failures++;
        break;
      }
    }
  }
  free(pa); free(pb); free(pc); free(pd); free(ga); free(gb); free(gd); free(pr); free(gr);
  free(sa); free(sb); free(sc); free(sd); free(w); free(o);
}

/* Non-finite elements of g (every tensor; a buffer's gradient is 0). *where: the tensor of
   the last one. */
static long count_nonfinite(const F(_grads) *g, int *where)
{
  long c = 0;
  for (int i = 0; i < U(_TENSOR_COUNT); i++) {
    const F(_tensor_info) *ti = &F(_tensors)[i];
    const float *a = (const float *)g + ti->offset;
    for (long k = 0; k < (long)ti->rows * ti->cols; k++)
      if (!isfinite(a[k])) c++, *where = i;
  }
  return c;
}

static struct { long cases, flagged, single, few; int single_in[U(_TENSOR_COUNT)]; } nf_stats;

/* One train step from p0 on x, t: NAME_nonfinite must say whether g holds a NaN or Inf. */
static void nonfinite_case(const F(_params) *p0, F(_params) *p, F(_opt) *s, F(_grads) *g, F(_work) *w,
                           const float *x, const F(_target) *t, int B, const char *what, long at, float v)
{
  memcpy(p, p0, sizeof *p);
  memset(s, 0, sizeof *s);
  F(_opt_init)(s);
  memset(g, 0, sizeof *g);
#if defined(NET_DROPOUT)
  F(_seed)(w, 5, 9);
#endif
  (void)F(_train_step)(p, s, g, w, x, t, B);
  int where = -1, flag = F(_nonfinite)(w);
  long c = count_nonfinite(g, &where);
  nf_stats.cases++;
  nf_stats.flagged += c > 0;
  if (c == 1) nf_stats.single++, nf_stats.single_in[where]++;
  if (c > 0 && c <= 16) nf_stats.few++;
  if (flag != (c > 0)) {
    fprintf(stderr, "isa_dump: %s[%ld] = %g: %s_nonfinite says %d, but g holds %ld NaN/Inf%s%s\n", what, at,
            (double)v, CAT_STR(NET), flag, c, c ? ", the last in " : "", c ? F(_tensors)[where].name : "");
    failures++;
  }
  /* the trainer names a flagged NAME_train_step_scratch's NaN/Inf by the parameter it left
     behind: every non-finite gradient element must have made its parameter non-finite */
  for (int i = 0; i < U(_TENSOR_COUNT); i++) {
    const F(_tensor_info) *ti = &F(_tensors)[i];
    const float *ga = (const float *)g + ti->offset, *pa = (const float *)p + ti->offset;
    for (long k = 0; k < (long)ti->rows * ti->cols; k++)
      if (!isfinite(ga[k]) && isfinite(pa[k])) {
        fprintf(stderr, "isa_dump: %s[%ld] = %g: gradient %s[%ld] = %g left its parameter finite (%g)\n",
                what, at, (double)v, ti->name, k, (double)ga[k], (double)pa[k]);
        failures++;
        break;   /* one report per tensor */
      }
  }
  /* the scratch step sets the same flag (its update reads the same gradients): checked for
     the finite step and the whole-column cases only, to keep the qemu runs short */
  if (strcmp(what, "(finite)") && strcmp(what, "x column")) return;
  memcpy(p, p0, sizeof *p);
  memset(s, 0, sizeof *s);
  F(_opt_init)(s);
#if defined(NET_DROPOUT)
  F(_seed)(w, 5, 9);
#endif
  (void)F(_train_step_scratch)(p, s, g, w, x, t, B);
  if (F(_nonfinite)(w) != flag) {
    fprintf(stderr, "isa_dump: %s[%ld] = %g: %s_nonfinite says %d after train_step, %d after train_step_scratch\n",
            what, at, (double)v, CAT_STR(NET), flag, F(_nonfinite)(w));
    failures++;
  }
}

/* Values that make gradients NaN or Inf: the non-finite three, then huge finite ones of both
   signs, whose products or sums overflow in some gradients only. */
static const float nf_values[] = {NAN, INFINITY, -INFINITY, 1e12f, -1e20f, 1e30f, -1e36f, 3e37f, -3e38f};
enum { NF_VALUES = sizeof nf_values / sizeof nf_values[0] };

static void check_nonfinite(const F(_params) *p0, const float *x0, const F(_target) *t0, int B)
{
  const int IN = U(_IN);
  /* few rows keep the many steps cheap (the tiles over k and j are those of any n; sums
     over the rows overflow alike, each row's share of the mean loss being 1/n); image
     networks, the costly ones under qemu, only with the three non-finite values */
  B = B < 8 ? B : 8;
#if defined(NET_MODES)
  if (B < U(_TRAIN_MIN_ROWS)) B = U(_TRAIN_MIN_ROWS);
#endif
  int nvals = NF_VALUES;
  for (int l = 0; l < U(_LAYER_COUNT); l++)
    if (!strcmp(F(_layers)[l].kind, "conv2d")) nvals = 3;
  F(_params) *p = aligned_alloc(64, sizeof *p), *pv = aligned_alloc(64, sizeof *pv);
  F(_grads) *g = aligned_alloc(64, sizeof *g);
  F(_opt) *s = aligned_alloc(64, sizeof *s);
  F(_work) *w = aligned_alloc(64, sizeof *w);
  float *x = malloc(sizeof(float) * (size_t)B * IN);
  F(_target) *t = malloc(sizeof *t * (size_t)B);
  if (!p || !pv || !g || !s || !w || !x || !t) { fprintf(stderr, "isa_dump: out of memory\n"); exit(2); }
  memcpy(x, x0, sizeof(float) * (size_t)B * IN);
  memcpy(t, t0, sizeof *t * (size_t)B);
  nonfinite_case(p0, p, s, g, w, x, t, B, "(finite)", 0, 0.0f);
  /* one input element (first, last, middle), then one input column (the last) */
  const long xs[3] = {0, (long)B * IN - 1, (long)(B / 2) * IN + IN / 2};
  for (int v = 0; v < nvals; v++) {
    for (int k = 0; k < 3; k++) {
      x[xs[k]] = nf_values[v];
      nonfinite_case(p0, p, s, g, w, x, t, B, "x", xs[k], nf_values[v]);
      x[xs[k]] = x0[xs[k]];
    }
    for (int i = 0; i < B; i++) x[i * IN + IN - 1] = nf_values[v];
    nonfinite_case(p0, p, s, g, w, x, t, B, "x column", IN - 1, nf_values[v]);
    memcpy(x, x0, sizeof(float) * (size_t)B * IN);
  }
#ifdef NET_LOSS_MSE
  for (int v = 0; v < nvals; v++)
    for (int k = 0; k < 2; k++) {
      int i = k ? B - 1 : 0;
      t[i] = nf_values[v];
      nonfinite_case(p0, p, s, g, w, x, t, B, "t", i, nf_values[v]);
      t[i] = t0[i];
    }
#endif
  /* one parameter element: the first, the last of row 0 (the tail columns) and the last of
     each trained tensor (batchnorm's statistics do not reach the training step's gradients),
     each value at one of the three, in turn: value v at place (v + tensor index) mod 3, so
     a tensor gets every value once and every place nvals/3 times, and over three tensor
     indices in a row every value meets every place */
  for (int i = 0; i < U(_TENSOR_COUNT); i++) {
    const F(_tensor_info) *ti = &F(_tensors)[i];
    if (strstr(ti->name, "running_") || strstr(ti->name, "num_batches")) continue;
    const long n = (long)ti->rows * ti->cols, ks[3] = {0, ti->cols - 1, n - 1};
    for (int v = 0; v < nvals; v++) {
      const int k = (v + i) % 3;
      memcpy(pv, p0, sizeof *pv);
      ((float *)pv)[ti->offset + (size_t)ks[k]] = nf_values[v];
      nonfinite_case(pv, p, s, g, w, x, t, B, ti->name, ks[k], nf_values[v]);
    }
  }
  /* Crafted overflows where linear layer P feeds linear layer Q through at most an
     activation: (a) column k of P's input huge (x, or the output of the linear layer before
     P through relu or nothing: its bias 1e12, its weight column 0) but W_P[k][:] = 0 (the
     forward does not see it), W_P[:, j] = 0, b_P[j] = 0.5 and W_Q[j][0] = 1e30: only
     dW_P[k][j] overflows (a sum of terms of one sign); (b) W_P[:, j]
     = 0, b_P[j] = 0.5 and W_Q[j][:] = -3.3e38 but W_Q[j][0] = +3.3e38: (Q the last layer,
     cross-entropy) the sum over the rows db_P[j] overflows, its terms do not. j: the first,
     middle and last column of dW_P (main tiles, tail columns), k: its first and last row. */
  const F(_layer_info) *L = F(_layers);
  int prev = -1, prev_ok = 0;   /* the linear layer before P, and whether (a) can use it */
  for (int P = 0; P < U(_LAYER_COUNT); P++) {
    if (strcmp(L[P].kind, "linear")) continue;
    int Q = P + 1, act = Q < U(_LAYER_COUNT) && (!strcmp(L[Q].kind, "relu") || !strcmp(L[Q].kind, "tanh")
                                                 || !strcmp(L[Q].kind, "sigmoid") || !strcmp(L[Q].kind, "leaky_relu"));
    int passes = !act || (strcmp(L[Q].kind, "tanh") && strcmp(L[Q].kind, "sigmoid"));   /* 1e12 stays huge */
    Q += act;
    if (Q >= U(_LAYER_COUNT) || strcmp(L[Q].kind, "linear")) { prev = -1; continue; }
    /* P without a bias (bias = false): z_P[:, j] is 0 in every row, so (a) needs an activation
       whose derivative at 0 is not: none, tanh or sigmoid (not relu's kink); (b) needs b_P */
    const int nobias = L[P].bias < 0;
    if (nobias && act && strcmp(L[P + 1].kind, "tanh") && strcmp(L[P + 1].kind, "sigmoid")) {
      prev = P, prev_ok = 0;
      continue;
    }
    const int K = L[P].in, H = L[P].out, C = L[Q].out;
    float *wp = (float *)pv + F(_tensors)[L[P].weight].offset;
    float *bp = nobias ? NULL : (float *)pv + F(_tensors)[L[P].bias].offset;
    float *wq = (float *)pv + F(_tensors)[L[Q].weight].offset;
    const int js[3] = {0, H / 2, H - 1}, ks[2] = {0, K - 1};
    for (int ja = 0; ja < 3; ja++) {
      const int j = js[ja];
      for (int kb = 0; kb < 2 && (P == 0 || prev_ok); kb++) {
        const int k = ks[kb];
        memcpy(pv, p0, sizeof *pv);
        for (int c = 0; c < H; c++) wp[k * H + c] = 0.0f;
        for (int r = 0; r < K; r++) wp[r * H + j] = 0.0f;
        if (bp) bp[j] = 0.5f;   /* a_P[:, j] the same positive value in every row */
        wq[j * C] = 1e30f;
        if (P == 0) {
          for (int i = 0; i < B; i++) x[i * IN + k] = 1e12f;
        } else {
          float *w0 = (float *)pv + F(_tensors)[L[prev].weight].offset;
          for (int r = 0; r < L[prev].in; r++) w0[r * K + k] = 0.0f;
          ((float *)pv + F(_tensors)[L[prev].bias].offset)[k] = 1e12f;
        }
        nonfinite_case(pv, p, s, g, w, x, t, B, F(_tensors)[L[P].weight].name, k * H + j, 1e30f);
        memcpy(x, x0, sizeof(float) * (size_t)B * IN);
      }
      if (nobias) continue;
      memcpy(pv, p0, sizeof *pv);
      for (int k = 0; k < K; k++) wp[k * H + j] = 0.0f;
      bp[j] = 0.5f;
      for (int c = 0; c < C; c++) wq[j * C + c] = c ? -3.3e38f : 3.3e38f;
      nonfinite_case(pv, p, s, g, w, x, t, B, F(_tensors)[L[P].bias].name, j, 3.3e38f);
    }
    prev = P, prev_ok = passes && L[P].bias >= 0;
  }
  if (getenv("ISA_DUMP_VERBOSE")) {
    fprintf(stderr, "isa_dump: %s_nonfinite: %ld cases, %ld with NaN/Inf gradients, %ld of them with at most 16, "
            "%ld with exactly one (", CAT_STR(NET), nf_stats.cases, nf_stats.flagged, nf_stats.few, nf_stats.single);
    for (int i = 0; i < U(_TENSOR_COUNT); i++)
      fprintf(stderr, "%s%s %d", i ? ", " : "", F(_tensors)[i].name, nf_stats.single_in[i]);
    fprintf(stderr, ")\n");
  }
  free(p); free(pv); free(g); free(s); free(w); free(x); free(t);
}

static void put_tensors(const void *base)
{
  for (int i = 0; i < U(_TENSOR_COUNT); i++)
    put((const float *)base + F(_tensors)[i].offset, (size_t)F(_tensors)[i].rows * F(_tensors)[i].cols);
}

int main(int argc, char **argv)
{
  /* --dump-only: the dump without the self-checks (check_fused, check_nonfinite), for the
     second run, which only has to repeat the first run's bits (the checks cost most of a
     run under qemu). --no-nonfinite: the dump and check_fused, for a variant build (tuned,
     compact) under an emulator (mk/isa.mk): its non-finite cases run natively on the x86
     ISAs' variants and on the emulated ISA's untuned build; they take 70-85 % of such a
     run (wide_odd's compact neon build: 12.3 of 14.4 s) */
  int dump_only = argc == 3 && !strcmp(argv[2], "--dump-only");
  int no_nonfinite = argc == 3 && !strcmp(argv[2], "--no-nonfinite");
  if (argc != 2 && !dump_only && !no_nonfinite) {
    fprintf(stderr, "usage: isa_dump OUT.bin [--dump-only | --no-nonfinite]\n");
    return 2;
  }
  const int B = U(_BATCH), IN = U(_IN), OUT = U(_OUT);
  /* structs are carved from guarded float blocks (64-byte aligned starts) */
  size_t pf = sizeof(F(_params)) / 4, wf = (sizeof(F(_work)) + 3) / 4, sf = (sizeof(F(_opt)) + 3) / 4;
  F(_params) *p0 = (F(_params) *)guard_alloc(pf), *p = (F(_params) *)guard_alloc(pf);
  F(_grads) *g = (F(_grads) *)guard_alloc(pf);
  F(_work) *w = (F(_work) *)guard_alloc(wf);
  F(_opt) *s = (F(_opt) *)guard_alloc(sf);
  float *x = guard_alloc((size_t)B * IN), *o = guard_alloc((size_t)B * OUT), *dx = guard_alloc((size_t)B * IN);
  F(_target) *t = (F(_target) *)guard_alloc((size_t)B);

  memset(p0, 0, sizeof *p0);
  test_rng r = {11};
  for (int i = 0; i < U(_TENSOR_COUNT); i++) {
    const F(_tensor_info) *ti = &F(_tensors)[i];
    double a = 1.0 / sqrt((double)ti->fan_in);
    double base = strstr(ti->name, "running_var") ? 1.0 : 0.0;
    for (int k = 0; k < ti->rows * ti->cols; k++)
      ((float *)p0)[ti->offset + (size_t)k] = (float)(base + test_rng_sym(&r, a));
  }
  r.s = 12;
  for (int i = 0; i < B * IN; i++) x[i] = (float)test_rng_sym(&r, 1.0);
  r.s = 13;
  for (int i = 0; i < B; i++) {
#ifdef NET_LOSS_MSE
    t[i] = (float)test_rng_sym(&r, 1.0);
#else
    t[i] = (F(_target))((7 * i + 3) % OUT);
#endif
  }

  out = fopen(argv[1], "wb");
  if (!out) { perror(argv[1]); return 2; }
  int ns[3] = {B, B / 2 + 1, 1};
  for (int k = 0; k < 3; k++) {
    int n = ns[k];
    memcpy(p, p0, sizeof *p);
    F(_forward)(o, w, p, x, n);
    put(o, (size_t)n * OUT);
#if defined(NET_MODES)
#if defined(NET_DROPOUT)
    F(_seed)(w, 5, 9);
#endif
    F(_forward_train)(o, w, p, x, n);
    put(o, (size_t)n * OUT);
    put_tensors(p);
#endif
    float loss = F(_backward)(g, dx, w, p, x, t, n);
    put(&loss, 1);
    put_tensors(g);
    put(dx, (size_t)n * IN);
  }
  memcpy(p, p0, sizeof *p);
  F(_opt_init)(s);
#if defined(NET_DROPOUT)
  F(_seed)(w, 5, 9);
#endif
  for (int step = 0; step < 2; step++) {
    float loss = F(_train_step)(p, s, g, w, x, t, B);
    put(&loss, 1);
    put_tensors(p);
  }
  /* last, the inputs themselves (p0, x, the targets' raw 4 bytes): test_isa.c checks them
     bit for bit against its own draw, so this driver may be compiled at any -O level (mk/isa.mk:
     -O0 on x86) without the data the generated code is tested on changing unnoticed */
  put_tensors(p0);
  put(x, (size_t)B * IN);
  put(t, (size_t)B);
  guard_check((float *)p, pf, "params"); guard_check((float *)p0, pf, "params copy");
  guard_check((float *)g, pf, "grads"); guard_check((float *)w, wf, "work");
  guard_check((float *)s, sf, "opt"); guard_check(x, (size_t)B * IN, "x");
  guard_check(o, (size_t)B * OUT, "out"); guard_check(dx, (size_t)B * IN, "dx");
  guard_check((float *)t, (size_t)B, "targets");
  if (!dump_only) {
    check_fused(p0, x, t, B);
    if (!no_nonfinite) check_nonfinite(p0, x, t, B);
  }
  if (fclose(out) != 0) { perror(argv[1]); return 2; }
  return failures ? 1 : 0;
}
