/* make bench-inference: one 784-50-10 forward of one row (specs/mnist_mlp.lua, same weights)
 * through the inference-only build (--inference, --max-batch 1: infer_forward and
 * infer_predict) against the training build's forward at n = 1 (train_forward, batch 64, the
 * API before --inference existed) and against a training build of batch 1
 * (bench/specs/bench_mlp.lua at --batch 1 as train1: what make bench's "inference, B=1" row
 * times). With BENCH_DISPATCH (x86): the same inference build generated with --dispatch x86
 * (disp_forward: the CPU's best variant through the dispatcher's switch) against it.
 * Median over 31 runs of 20000 calls each, µs per call.
 * Prints CSV rows: workload,impl,batch,us_per_op */
#define _POSIX_C_SOURCE 200809L
#include "infer.h"
#include "train.h"
#include "train1.h"
#ifdef BENCH_DISPATCH
#include "disp.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RUNS 31
#define CALLS 20000

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static train_params tp;
static train_work tw;
static infer_work iw;
static train1_params tp1;
static train1_work tw1;
static float x[784 * 16], out[16];
static volatile float sink;

typedef void (*fn)(int);
static void f_train(int i) { train_forward(out, &tw, &tp, x + (i & 15) * 784, 1); }
static void f_train1(int i) { train1_forward(out, &tw1, &tp1, x + (i & 15) * 784, 1); }
static void f_infer(int i) { infer_forward(out, &iw, &infer_weights, x + (i & 15) * 784, 1); }
#ifdef BENCH_DISPATCH
static disp_work dw;
static void f_disp(int i) { disp_forward(out, &dw, &disp_weights, x + (i & 15) * 784, 1); }
#endif
static void f_predict(int i) {
  int32_t c;
  infer_predict(&c, x + (i & 15) * 784, 1);
  out[0] = (float)c;
}

static double median_us(fn f) {
  double t[RUNS];
  for (int r = 0; r < RUNS; r++) {
    double t0 = now();
    for (int i = 0; i < CALLS; i++) {
      f(i);
      sink = out[0];
    }
    t[r] = (now() - t0) / CALLS * 1e6;
  }
  qsort(t, RUNS, sizeof t[0], cmp);
  return t[RUNS / 2];
}

int main(void) {
  for (int i = 0; i < 784 * 16; i++) x[i] = (float)((i * 7919) % 255) / 255.0f - 0.3f;
  for (int t = 0; t < INFER_TENSOR_COUNT; t++) {
    float buf[39200];
    infer_export_tensor(buf, &infer_weights, t);
    train_import_tensor(&tp, t, buf);
    train1_import_tensor(&tp1, t, buf);
  }
  double a = median_us(f_train), a1 = median_us(f_train1), b = median_us(f_infer), c = median_us(f_predict);
  printf("workload,impl,batch,us_per_op\n");
  printf("784-50-10 forward n=1,training build %s (batch %d),1,%.3f\n", TRAIN_ISA, TRAIN_BATCH, a);
  printf("784-50-10 forward n=1,training build %s (batch %d),1,%.3f\n", TRAIN1_ISA, TRAIN1_BATCH, a1);
  printf("784-50-10 forward n=1,inference build %s (--max-batch %d),1,%.3f\n", INFER_ISA, INFER_BATCH, b);
  printf("784-50-10 predict n=1,inference build %s (--max-batch %d),1,%.3f\n", INFER_ISA, INFER_BATCH, c);
  printf("# inference / training forward: %.2fx the time (batch-64 build), %.2fx (batch-1 build)\n", b / a, b / a1);
#ifdef BENCH_DISPATCH
  double d = median_us(f_disp), b2 = median_us(f_infer);
  printf("784-50-10 forward n=1,inference build dispatch (%s picked; --max-batch %d),1,%.3f\n", disp_isa(), DISP_BATCH,
         d);
  /* against the faster of the direct build's two timings, before and after (a pass of 31 runs
     can sit on a slow stretch of a shared machine) */
  printf("# dispatched / direct %s inference forward: %.3fx the time (the direct build timed before and after: %.3f, "
         "%.3f us)\n", INFER_ISA, d / (b < b2 ? b : b2), b, b2);
#endif
  return b <= a * 1.05 ? 0 : 1;
}
