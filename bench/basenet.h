/* The baselines' network: plain parameter and activation arrays for the bench workloads.
 *
 * Shared by the naive and OpenBLAS baselines, so both do exactly the same work as the
 * generated code: forward (bias + ReLU fused into the product's output loop where the
 * implementation allows), loss gradient, weight and bias gradients, input gradients of
 * every layer but the first (ReLU mask applied), then SGD on every parameter. */
#ifndef BENCH_BASENET_H
#define BENCH_BASENET_H

#include "harness.h"

#include <math.h>
#include <stdint.h>

typedef struct {
  const bench_workload *w;
  float *W[3], *b[3], *dW[3], *db[3];
  float *a[4];      /* a[0] = x [n][in]; a[l+1] = output of linear l (after ReLU if hidden) */
  float *g[4];      /* g[l+1] = gradient of the loss w.r.t. the pre-activation of a[l+1] */
  int32_t *label;   /* cross-entropy targets */
  float *ymse;      /* MSE targets */
  float loss;
} bnet;

/* Allocates and fills (deterministically) everything a workload needs. */
bnet *bnet_new(int workload);

#define BN_AI static inline __attribute__((always_inline))

/* y[i][j] = max(y, 0) + shift on a row block (hidden layers). */
BN_AI void bn_relu(float *restrict y, int n, int N, float shift)
{
  for (int i = 0; i < n * N; i++) y[i] = (y[i] > 0.0f ? y[i] : 0.0f) + shift;
}

/* The hidden layers' activation of a workload: act 0 bn_relu, 1 tanh (libm's tanhf). */
BN_AI void bn_act(float *restrict y, int n, int N, float shift, int act)
{
  if (act == 1) {
    for (int i = 0; i < n * N; i++) y[i] = tanhf(y[i]);
  } else {
    bn_relu(y, n, N, shift);
  }
}

/* Loss gradient g = d(mean loss)/d(out); returns the mean loss. */
BN_AI float bn_loss_grad(float *restrict g, const float *restrict out, const int32_t *label,
                         const float *ymse, int n, int N, int mse)
{
  float loss = 0.0f;
  if (mse) {
    for (int i = 0; i < n; i++) {
      float d = out[i] - ymse[i];
      loss += d * d;
      g[i] = 2.0f * d / (float)n;
    }
    return loss / (float)n;
  }
  for (int i = 0; i < n; i++) {
    const float *o = out + i * N;
    float *gi = g + i * N;
    float m = o[0];
    for (int j = 1; j < N; j++) m = o[j] > m ? o[j] : m;
    float s = 0.0f;
    for (int j = 0; j < N; j++) { gi[j] = expf(o[j] - m); s += gi[j]; }
    float inv = 1.0f / s;
    for (int j = 0; j < N; j++) gi[j] = gi[j] * inv / (float)n;
    gi[label[i]] -= 1.0f / (float)n;
    loss += logf(s) + m - o[label[i]];
  }
  return loss / (float)n;
}

/* dx *= relu'(pre) where the ReLU output a = max(pre, 0) + shift, i.e. pre > 0 <=> a > shift. */
BN_AI void bn_relu_mask(float *restrict dx, const float *restrict a, int n, int K, float shift)
{
  for (int i = 0; i < n * K; i++) dx[i] = a[i] > shift ? dx[i] : 0.0f;
}

/* dx times the derivative of bn_act read from its output a: tanh's 1 - a^2, or the mask. */
BN_AI void bn_act_mask(float *restrict dx, const float *restrict a, int n, int K, float shift, int act)
{
  if (act == 1) {
    for (int i = 0; i < n * K; i++) dx[i] = dx[i] * (1.0f - a[i] * a[i]);
  } else {
    bn_relu_mask(dx, a, n, K, shift);
  }
}

/* db[j] = sum_i g[i][j] */
BN_AI void bn_bias_grad(float *restrict db, const float *restrict g, int n, int N)
{
  for (int j = 0; j < N; j++) db[j] = 0.0f;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < N; j++) db[j] += g[i * N + j];
}

BN_AI void bn_sgd(float *restrict p, const float *restrict d, int count, float lr)
{
  for (int i = 0; i < count; i++) p[i] -= lr * d[i];
}

#endif
