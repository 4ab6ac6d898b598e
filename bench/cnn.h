/* The baselines' LeNet (specs/mnist_cnn.lua's network, bench/specs/bench_lenet.lua, at batch 64 and 1): plain
 * arrays for the naive and im2col + OpenBLAS rows of the lenet workloads.
 *
 *   1x28x28 -> conv 6 5x5 pad 2, ReLU -> max 2x2 -> conv 16 5x5, ReLU -> max 2x2 -> 400
 *   -> 120 ReLU -> 84 ReLU -> 10, softmax cross-entropy, SGD
 *
 * Conv weights are [C][K][K][O] (chainrule's layout), images NCHW. The train step does what
 * the generated one does: forward, loss gradient, every dW and db, every input gradient but
 * the first layer's, SGD on every tensor. */
#ifndef BENCH_CNN_H
#define BENCH_CNN_H

#include "basenet.h"

enum { CNN_TENSORS = 10 };

typedef struct {
  const bench_workload *w;
  float *p[CNN_TENSORS], *d[CNN_TENSORS];   /* w1 b1 w2 b2 w3 b3 w4 b4 w5 b5 and gradients */
  float *x;                                 /* [n][784] */
  float *c1, *p1, *c2, *p2, *f1, *f2, *out; /* activations (after ReLU where there is one) */
  float *gc1, *gp1, *gc2, *gp2, *gf1, *gf2, *gout;
  float *col;                               /* im2col workspace, [150][784] at most */
  int32_t *label;
  float loss;
} cnet;

/* Tensor sizes, in the order of p[]. */
extern const int cnn_tensor_size[CNN_TENSORS];
cnet *cnet_new(int workload);

extern const bench_fn naive_cnn_impl[W_COUNT];     /* naive.c */
extern const bench_fn openblas_cnn_impl[W_COUNT];  /* openblas.c */

/* y = max over 2x2 windows (stride 2) of x[n][C][H][W]. */
BN_AI void cnn_pool(float *restrict y, const float *restrict x, int n, int C, int H, int W)
{
  for (int i = 0; i < n * C; i++)
    for (int oy = 0; oy < H / 2; oy++)
      for (int ox = 0; ox < W / 2; ox++) {
        const float *q = x + (size_t)i * H * W + 2 * oy * W + 2 * ox;
        float v = q[0];
        v = q[1] > v ? q[1] : v;
        v = q[W] > v ? q[W] : v;
        v = q[W + 1] > v ? q[W + 1] : v;
        y[(size_t)i * (H / 2) * (W / 2) + oy * (W / 2) + ox] = v;
      }
}

/* dx = g at each window's first maximum of x, 0 elsewhere. */
BN_AI void cnn_pool_grad(float *restrict dx, const float *restrict g, const float *restrict x, int n, int C,
                         int H, int W)
{
  for (int i = 0; i < n * C * H * W; i++) dx[i] = 0.0f;
  for (int i = 0; i < n * C; i++)
    for (int oy = 0; oy < H / 2; oy++)
      for (int ox = 0; ox < W / 2; ox++) {
        int at = i * H * W + 2 * oy * W + 2 * ox, best = at;
        if (x[at + 1] > x[best]) best = at + 1;
        if (x[at + W] > x[best]) best = at + W;
        if (x[at + W + 1] > x[best]) best = at + W + 1;
        dx[best] += g[i * (H / 2) * (W / 2) + oy * (W / 2) + ox];
      }
}

#endif
