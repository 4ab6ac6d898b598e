/* chainrule bench: timing, workloads and the row format every bench program prints.
 *
 * A bench program prints raw rows `workload,impl,batch,us_per_op,gflops` on stdout;
 * `bench report` joins them with the machine's measured peak into build/bench.csv. */
#ifndef BENCH_HARNESS_H
#define BENCH_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The workloads of `make bench` (the order of the table). */
enum {
  W_MLP_TRAIN,   /* 784-50-10 cross-entropy, forward + backward + SGD, B=64 */
  W_MLP_INFER,   /* 784-50-10 forward, one row */
  W_MLP_FWD,     /* 784-50-10 forward, B=128 */
  W_SEED_TRAIN,  /* 784-50-1 MSE with relu shift -0.5 (the seed's net), train step, B=64 */
  W_DEEP_TRAIN,  /* 784-256-256-10 cross-entropy, train step, B=64 */
  W_WIDE_TRAIN,  /* 784-1024-10 train step, B=64 (a first layer past the L2) */
  W_WIDE_FWD,    /* 784-1024-10 forward, B=64 */
  W_M256_B1,     /* 784-256-10 train step at B=1, 8, 32, 256 */
  W_M256_B8,
  W_M256_B32,
  W_M256_B256,
  W_LENET_TRAIN, /* LeNet (specs/mnist_cnn.lua's network, conv = 1: bench/cnn.h), train step, B=64 */
  W_LENET_INFER, /* LeNet forward, one image */
  W_BNCNN_TRAIN, /* specs/fashion_cnn.lua's network (conv = 2), train step, B=64: PyTorch's only baseline */
  W_TANH_TRAIN,  /* 784-256-256-10 with tanh hidden units (act = 1), train step, B=64 */
  W_BIG_TRAIN,   /* 784-2048-2048-10 train step, B=64 (left out with BENCH_BIG=) */
  W_BIG_FWD,     /* 784-2048-2048-10 forward, B=64 */
  W_BIG_INFER,   /* 784-2048-2048-10 forward, one row (23 MB of weights: past every L2) */
  W_COUNT
};
#define W_FIRST_BIG W_BIG_TRAIN   /* workloads from here on run only when asked (--big; make bench does) */
#define W_FANN_END  W_WIDE_TRAIN  /* FANN (one sample at a time) runs the small ones only */

typedef struct {
  const char *key;      /* CSV name */
  const char *label;    /* table name */
  int nlin;             /* linear layers */
  int sizes[4];         /* sizes[0] = inputs, sizes[l+1] = outputs of linear layer l */
  int batch;
  int train;            /* 1: forward + backward + SGD; 0: forward only */
  int mse;              /* 1: MSE (one output), 0: softmax cross-entropy */
  float shift;          /* added after each hidden ReLU */
  int conv;             /* 1: the LeNet of bench/cnn.h, 2: bench/specs/bench_bncnn.lua's net (nlin,
                           sizes: their linear part only); the naive and OpenBLAS baselines have
                           the LeNet only */
  int act;              /* the hidden units: 0 ReLU (+ shift), 1 tanh (libm's tanhf in the baselines) */
} bench_workload;

extern const bench_workload bench_workloads[W_COUNT];

#define BENCH_LR 0.01f  /* SGD learning rate every implementation uses */

/* FLOPs of one op: 2*M*N*K per product; forward products, plus for training the weight
 * gradient of every layer and the input gradient of every layer but the first (a
 * convolution's product: 2 * outputs * C*K*K per image). */
double bench_flops(const bench_workload *w);

/* Median time of fn(ctx) in microseconds: warm-up first (about 15 ms), then up to
 * BENCH_MAX_SAMPLES samples (at least BENCH_MIN_SAMPLES, 5 for calls of 20 ms and more,
 * stopping after about BENCH_PASS_MS), each timing enough calls to last about 0.2 ms. One pass's figure: make bench runs every
 * program BENCH_PASSES times in turn, each time a fresh process, and `bench report` keeps the
 * fastest pass (mk/bench.mk). Passes are short and many because a process keeps one speed
 * for its life on this VM, and load lasting seconds slows every sample of a window: neither
 * is seen by a longer median of one process. bench/torch_bench.py uses the same numbers. */
#define BENCH_MAX_SAMPLES 41
#define BENCH_MIN_SAMPLES 9
#define BENCH_PASS_MS 150.0
typedef void (*bench_fn)(void *ctx);
double bench_median_us(bench_fn fn, void *ctx);

/* Print one raw row. */
void bench_row(const char *workload, const char *impl, int batch, double us, double gflops);
void bench_row_w(int workload, const char *impl, double us);

/* Deterministic fill (xorshift) for inputs and weights: uniform in [-a, a]. */
void bench_fill(float *p, size_t n, float a, uint32_t seed);
void *bench_alloc(size_t bytes);     /* cr_alloc (zeroed, aligned, huge pages from 2 MB); exits on failure */

#endif
