/* Times one generated network (one spec, one ISA) on one or more workloads (a train step
 * or the forward pass at the workload's batch). Compiled once per spec with
 *   -DNET=bench_wide -DNETU=BENCH_WIDE -DBENCH_WLS=W_WIDE_TRAIN,W_WIDE_FWD
 *   -DBENCH_HEADER='"bench_wide.h"'
 * and -I to the ISA's generated folder; defines run_<NET>(impl). */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include BENCH_HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define F(x) CAT(NET, x)     /* F(_forward) -> bench_mlp_forward */
#define U(x) CAT(NETU, x)    /* U(_BATCH)   -> BENCH_MLP_BATCH   */

typedef struct {
  F(_params) *p;
  F(_grads) *g;
  F(_work) *w;
  F(_opt) *s;
  float *x, *out;
  F(_target) *t;
  int n;
  float loss;
} net_ctx;

static void train(void *c)
{
  net_ctx *b = c;
  /* a training loop reads no gradients: g as scratch (the weights updated inside their
     gradient tiles skip storing them), the same parameters as NAME_train_step */
  b->loss = F(_train_step_scratch)(b->p, b->s, b->g, b->w, b->x, b->t, b->n);
}

static void forward(void *c)
{
  net_ctx *b = c;
  F(_forward)(b->out, b->w, b->p, b->x, b->n);
}

static void run_one(int workload, const char *impl)
{
  const bench_workload *wl = &bench_workloads[workload];
  net_ctx b;
  b.n = wl->batch;
  if (b.n > U(_BATCH)) {
    printf("# %s %s: batch %d is larger than the spec's %d; skipped\n", impl, wl->key, b.n, U(_BATCH));
    return;
  }
  b.p = bench_alloc(sizeof *b.p);
  b.g = bench_alloc(sizeof *b.g);
  b.w = bench_alloc(sizeof *b.w);
  b.s = bench_alloc(sizeof *b.s);
  b.x = bench_alloc(sizeof(float) * (size_t)U(_BATCH) * U(_IN));
  b.out = bench_alloc(sizeof(float) * (size_t)U(_BATCH) * U(_OUT));
  b.t = bench_alloc(sizeof(F(_target)) * (size_t)U(_BATCH));
  for (int i = 0; i < U(_TENSOR_COUNT); i++) {
    const F(_tensor_info) *ti = &F(_tensors)[i];
    bench_fill((float *)b.p + ti->offset, (size_t)ti->rows * (size_t)ti->cols,
               1.0f / sqrtf((float)ti->fan_in), 100u + (uint32_t)i);
  }
  bench_fill(b.x, (size_t)b.n * U(_IN), 1.0f, 7u);
  for (int i = 0; i < b.n; i++) b.t[i] = (F(_target))((i * 7 + 3) % U(_OUT));
  F(_opt_init)(b.s);
  b.s->lr = BENCH_LR;
  b.loss = 0.0f;
  bench_row_w(workload, impl, bench_median_us(wl->train ? train : forward, &b));
  if (!isfinite(b.loss)) printf("# %s %s: loss is not finite\n", impl, wl->key);
  free(b.p); free(b.g); free(b.w); free(b.s); free(b.x); free(b.out); free(b.t);
}

void CAT(run_, NET)(const char *impl);
void CAT(run_, NET)(const char *impl)
{
  static const int workloads[] = {BENCH_WLS};
  for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) run_one(workloads[i], impl);
}
