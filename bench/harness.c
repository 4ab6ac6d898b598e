/* Timing and row helpers shared by every bench program (see harness.h). */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "cr.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const bench_workload bench_workloads[W_COUNT] = {
  [W_MLP_TRAIN]  = {"mlp_train", "784-50-10 train step", 2, {784, 50, 10, 0}, 64, 1, 0, 0.0f, 0, 0},
  [W_MLP_INFER]  = {"mlp_infer", "784-50-10 inference", 2, {784, 50, 10, 0}, 1, 0, 0, 0.0f, 0, 0},
  [W_MLP_FWD]    = {"mlp_fwd", "784-50-10 forward", 2, {784, 50, 10, 0}, 128, 0, 0, 0.0f, 0, 0},
  [W_SEED_TRAIN] = {"seed_train", "784-50-1 MSE train step", 2, {784, 50, 1, 0}, 64, 1, 1, -0.5f, 0, 0},
  [W_DEEP_TRAIN] = {"deep_train", "784-256-256-10 train step", 3, {784, 256, 256, 10}, 64, 1, 0, 0.0f, 0, 0},
  [W_WIDE_TRAIN] = {"wide_train", "784-1024-10 train step", 2, {784, 1024, 10, 0}, 64, 1, 0, 0.0f, 0, 0},
  [W_WIDE_FWD]   = {"wide_fwd", "784-1024-10 forward", 2, {784, 1024, 10, 0}, 64, 0, 0, 0.0f, 0, 0},
  [W_M256_B1]    = {"m256_b1", "784-256-10 train step", 2, {784, 256, 10, 0}, 1, 1, 0, 0.0f, 0, 0},
  [W_M256_B8]    = {"m256_b8", "784-256-10 train step", 2, {784, 256, 10, 0}, 8, 1, 0, 0.0f, 0, 0},
  [W_M256_B32]   = {"m256_b32", "784-256-10 train step", 2, {784, 256, 10, 0}, 32, 1, 0, 0.0f, 0, 0},
  [W_M256_B256]  = {"m256_b256", "784-256-10 train step", 2, {784, 256, 10, 0}, 256, 1, 0, 0.0f, 0, 0},
  [W_LENET_TRAIN] = {"lenet_train", "LeNet-5 train step", 3, {400, 120, 84, 10}, 64, 1, 0, 0.0f, 1, 0},
  [W_LENET_INFER] = {"lenet_infer", "LeNet-5 inference", 3, {400, 120, 84, 10}, 1, 0, 0, 0.0f, 1, 0},
  [W_BNCNN_TRAIN] = {"bncnn_train", "BN-CNN train step", 2, {1568, 128, 10, 0}, 64, 1, 0, 0.0f, 2, 0},
  [W_TANH_TRAIN] = {"tanh_train", "784-256-256-10 tanh train", 3, {784, 256, 256, 10}, 64, 1, 0, 0.0f, 0, 1},
  [W_BIG_TRAIN]  = {"big_train", "784-2048-2048-10 train step", 3, {784, 2048, 2048, 10}, 64, 1, 0, 0.0f, 0, 0},
  [W_BIG_FWD]    = {"big_fwd", "784-2048-2048-10 forward", 3, {784, 2048, 2048, 10}, 64, 0, 0, 0.0f, 0, 0},
  [W_BIG_INFER]  = {"big_infer", "784-2048-2048-10 inference", 3, {784, 2048, 2048, 10}, 1, 0, 0, 0.0f, 0, 0},
};

double bench_flops(const bench_workload *w)
{
  double f = 0;
  for (int l = 0; l < w->nlin; l++) {
    double p = 2.0 * w->batch * w->sizes[l] * w->sizes[l + 1];
    f += p;
    if (w->train) f += p + (l > 0 ? p : 0);
  }
  /* the two convs of each conv net: outputs per image (channels x pixels) and multiply-adds
     per output (C_in K K); the first has no input gradient. conv 1: LeNet-5, 1->6 5x5 on
     28x28, 6->16 5x5 on 10x10; conv 2: the BN-CNN, 1->16 3x3 on 28x28, 16->32 3x3 on 14x14 */
  static const double convs[3][2][2] = {{{0}}, {{6 * 28 * 28, 25}, {16 * 10 * 10, 150}},
                                         {{16 * 28 * 28, 9}, {32 * 14 * 14, 144}}};
  if (w->conv) {
    double c1 = 2.0 * w->batch * convs[w->conv][0][0] * convs[w->conv][0][1];
    double c2 = 2.0 * w->batch * convs[w->conv][1][0] * convs[w->conv][1][1];
    /* and the first linear layer's input gradient: the loop above counts none for linear
       layer 0, which here is not the network's first layer */
    f += c1 + c2 + (w->train ? c1 + 2 * c2 + 2.0 * w->batch * w->sizes[0] * w->sizes[1] : 0);
  }
  return f;
}

static double now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Short samples (about 0.2 ms) and many of them: on a shared machine a preemption spoils
   only the samples it lands in, and the median skips those. One call is one pass's figure
   and a pass is kept short (BENCH_MAX_SAMPLES, BENCH_PASS_MS): this VM has slow phases of
   ~0.1 s to seconds, contention for the caches from outside the process (the 784-50-10 step
   ~120 or ~155 us; mk/bench.mk), so what steadies the bench is many passes spread over the
   run (make bench's), not long ones. */
double bench_median_us(bench_fn fn, void *ctx)
{
  /* Warm-up: at least 3 calls and about 15 ms, which also estimates the call time. */
  double t0 = now_us(), t = t0;
  long calls = 0;
  while (calls < 3 || t - t0 < 15000.0) { fn(ctx); calls++; t = now_us(); }
  double per = (t - t0) / (double)calls;
  long reps = per >= 200.0 ? 1 : (long)(200.0 / per) + 1;

  double samples[BENCH_MAX_SAMPLES];
  int ns = 0;
  double start = now_us();
  while (ns < BENCH_MAX_SAMPLES) {
    double a = now_us();
    for (long r = 0; r < reps; r++) fn(ctx);
    double b = now_us();
    samples[ns++] = (b - a) / (double)reps;
    /* slow ops: at least BENCH_MIN_SAMPLES, but 5 for calls of 20 ms and more (as
       784-2048-2048-10's), once the pass has lasted BENCH_PASS_MS */
    if (ns >= (per >= 20000.0 ? 5 : BENCH_MIN_SAMPLES) && b - start > BENCH_PASS_MS * 1e3) break;
  }
  qsort(samples, (size_t)ns, sizeof samples[0], cmp_double);
  return samples[ns / 2];
}

void bench_row(const char *workload, const char *impl, int batch, double us, double gflops)
{
  printf("%s,%s,%d,%.4f,%.3f\n", workload, impl, batch, us, gflops);
  fflush(stdout);
}

void bench_row_w(int workload, const char *impl, double us)
{
  const bench_workload *w = &bench_workloads[workload];
  bench_row(w->key, impl, w->batch, us, bench_flops(w) / (us * 1e3));
}

void bench_fill(float *p, size_t n, float a, uint32_t seed)
{
  uint32_t s = seed * 2654435761u + 12345u;
  if (s == 0) s = 1;
  for (size_t i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >> 17; s ^= s << 5;
    p[i] = a * ((float)(s >> 8) * (2.0f / 16777216.0f) - 1.0f);
  }
}

void *bench_alloc(size_t bytes)
{
  void *p = cr_alloc(bytes);
  if (!p) { fprintf(stderr, "bench: out of memory (%zu bytes)\n", bytes); exit(1); }
  return p;
}
