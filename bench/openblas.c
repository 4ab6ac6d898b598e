/* OpenBLAS baseline: the three products of every linear layer as cblas_sgemm calls (one
 * thread; at B=1 the BLAS-2 calls made for it, sgemv and sger), bias/ReLU/loss/SGD as
 * plain loops, exactly the work of the other rows. Which kernels OpenBLAS runs is decided
 * when the library loads (OPENBLAS_CORETYPE, else its CPU detection): the bench runs this
 * in one process per core type and keeps the fastest (bench.c). */
#include "basenet.h"
#include "baselines.h"

#include <cblas.h>

static void blas_fwd(float *y, const float *x, const float *W, const float *b, int n, int K, int N)
{
  for (int i = 0; i < n; i++)
    for (int j = 0; j < N; j++) y[i * N + j] = b[j];
  if (n == 1) {   /* one row: the matrix-vector product BLAS has for it */
    cblas_sgemv(CblasRowMajor, CblasTrans, K, N, 1.0f, W, N, x, 1, 1.0f, y, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, N, K, 1.0f, x, K, W, N, 1.0f, y, N);
}

static void blas_wgrad(float *dW, const float *x, const float *g, int n, int K, int N)
{
  if (n == 1) {   /* one row: the rank-1 update */
    for (int i = 0; i < K * N; i++) dW[i] = 0.0f;
    cblas_sger(CblasRowMajor, K, N, 1.0f, x, 1, g, 1, dW, N);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, n, 1.0f, x, K, g, N, 0.0f, dW, N);
}

static void blas_xgrad(float *dx, const float *g, const float *W, int n, int K, int N)
{
  if (n == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, K, N, 1.0f, W, N, g, 1, 0.0f, dx, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, K, N, 1.0f, g, N, W, N, 0.0f, dx, K);
}

#define PROD_FWD(y, x, W, b, n, K, N) blas_fwd(y, x, W, b, n, K, N)
#define PROD_WGRAD(dW, x, g, n, K, N) blas_wgrad(dW, x, g, n, K, N)
#define PROD_XGRAD(dx, g, W, n, K, N) blas_xgrad(dx, g, W, n, K, N)
#define STEP_INLINE static
#define STEP_TABLE openblas_impl
#include "basenet_step.h"

void openblas_single_thread(void) { openblas_set_num_threads(1); }

const char *openblas_core(void) { return openblas_get_corename(); }
const char *openblas_config(void) { return openblas_get_config(); }

/* LeNet (cnn.h) as PyTorch's CPU convolution without MKL-DNN does it: per image, im2col
   (col[c·K·K][pixel]) and one sgemm per product, col2im for the input gradient. */
#include "cnn.h"

static void im2col(float *restrict col, const float *restrict x, int C, int H, int W, int K, int P, int OH, int OW)
{
  for (int c = 0; c < C; c++)
    for (int ky = 0; ky < K; ky++)
      for (int kx = 0; kx < K; kx++) {
        float *row = col + ((c * K + ky) * K + kx) * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
          int iy = oy + ky - P;
          for (int ox = 0; ox < OW; ox++) {
            int ix = ox + kx - P;
            row[oy * OW + ox] = iy >= 0 && iy < H && ix >= 0 && ix < W ? x[(c * H + iy) * W + ix] : 0.0f;
          }
        }
      }
}

static void col2im(float *restrict dx, const float *restrict col, int C, int H, int W, int K, int P, int OH, int OW)
{
  for (int j = 0; j < C * H * W; j++) dx[j] = 0.0f;
  for (int c = 0; c < C; c++)
    for (int ky = 0; ky < K; ky++)
      for (int kx = 0; kx < K; kx++) {
        const float *row = col + ((c * K + ky) * K + kx) * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
          int iy = oy + ky - P;
          if (iy < 0 || iy >= H) continue;
          for (int ox = 0; ox < OW; ox++) {
            int ix = ox + kx - P;
            if (ix >= 0 && ix < W) dx[(c * H + iy) * W + ix] += row[oy * OW + ox];
          }
        }
      }
}

static void blas_conv_fwd(float *y, const float *x, const float *w, const float *b, float *col, int n, int C, int H,
                          int W, int O, int K, int P, int OH, int OW)
{
  int T = C * K * K, Q = OH * OW;
  for (int i = 0; i < n; i++) {
    float *yi = y + (size_t)i * O * Q;
    im2col(col, x + (size_t)i * C * H * W, C, H, W, K, P, OH, OW);
    for (int o = 0; o < O; o++)
      for (int q = 0; q < Q; q++) yi[o * Q + q] = b[o];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, Q, T, 1.0f, w, O, col, Q, 1.0f, yi, Q);
  }
}

static void blas_conv_wgrad(float *dw, float *db, const float *x, const float *g, float *col, int n, int C, int H,
                            int W, int O, int K, int P, int OH, int OW)
{
  int T = C * K * K, Q = OH * OW;
  for (int o = 0; o < O; o++) db[o] = 0.0f;
  for (int i = 0; i < n; i++) {
    const float *gi = g + (size_t)i * O * Q;
    im2col(col, x + (size_t)i * C * H * W, C, H, W, K, P, OH, OW);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, O, Q, 1.0f, col, Q, gi, Q, i ? 1.0f : 0.0f, dw, O);
    for (int o = 0; o < O; o++)
      for (int q = 0; q < Q; q++) db[o] += gi[o * Q + q];
  }
}

static void blas_conv_xgrad(float *dx, const float *g, const float *w, float *col, int n, int C, int H, int W, int O,
                            int K, int P, int OH, int OW)
{
  int T = C * K * K, Q = OH * OW;
  for (int i = 0; i < n; i++) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, Q, O, 1.0f, w, O, g + (size_t)i * O * Q, Q, 0.0f, col, Q);
    col2im(dx + (size_t)i * C * H * W, col, C, H, W, K, P, OH, OW);
  }
}

#define CONV_FWD(y, x, W, b, col, n, ...) blas_conv_fwd(y, x, W, b, col, n, __VA_ARGS__)
#define CONV_WGRAD(dW, db, x, g, col, n, ...) blas_conv_wgrad(dW, db, x, g, col, n, __VA_ARGS__)
#define CONV_XGRAD(dx, g, W, col, n, ...) blas_conv_xgrad(dx, g, W, col, n, __VA_ARGS__)
#define CNN_TABLE openblas_cnn_impl
#include "cnn_step.h"
