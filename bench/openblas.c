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
