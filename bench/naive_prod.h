/* The naive baseline's products (i-k-j loops, j innermost and contiguous), shared by
 * naive.c (the MLPs) and cnn_naive.c (LeNet's linear layers). */
#ifndef BENCH_NAIVE_PROD_H
#define BENCH_NAIVE_PROD_H
#include "basenet.h"

BN_AI void naive_fwd(float *restrict y, const float *restrict x, const float *restrict W,
                     const float *restrict b, int n, int K, int N)
{
  for (int i = 0; i < n; i++) {
    float *yi = y + i * N;
    for (int j = 0; j < N; j++) yi[j] = b[j];
    for (int k = 0; k < K; k++) {
      float xv = x[i * K + k];
      const float *wk = W + k * N;
      for (int j = 0; j < N; j++) yi[j] += xv * wk[j];
    }
  }
}

BN_AI void naive_wgrad(float *restrict dW, const float *restrict x, const float *restrict g,
                       int n, int K, int N)
{
  for (int k = 0; k < K * N; k++) dW[k] = 0.0f;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < K; k++) {
      float xv = x[i * K + k];
      float *dwk = dW + k * N;
      const float *gi = g + i * N;
      for (int j = 0; j < N; j++) dwk[j] += xv * gi[j];
    }
}

/* dx[i][k] = sum_j g[i][j] W[k][j]: with W stored [K][N] the sum runs along j. */
BN_AI void naive_xgrad(float *restrict dx, const float *restrict g, const float *restrict W,
                       int n, int K, int N)
{
  for (int i = 0; i < n; i++)
    for (int k = 0; k < K; k++) {
      float s = 0.0f;
      for (int j = 0; j < N; j++) s += g[i * N + j] * W[k * N + j];
      dx[i * K + k] = s;
    }
}

#define PROD_FWD(y, x, W, b, n, K, N) naive_fwd(y, x, W, b, n, K, N)
#define PROD_WGRAD(dW, x, g, n, K, N) naive_wgrad(dW, x, g, n, K, N)
#define PROD_XGRAD(dx, g, W, n, K, N) naive_xgrad(dx, g, W, n, K, N)
#endif
