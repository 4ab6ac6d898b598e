/* OpenBLAS baseline: the three products of every linear layer as cblas_sgemm calls (one
 * thread), bias/ReLU/loss/SGD as plain loops, exactly the work of the other rows. */
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
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, n, 1.0f, x, K, g, N, 0.0f, dW, N);
}

static void blas_xgrad(float *dx, const float *g, const float *W, int n, int K, int N)
{
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, K, N, 1.0f, g, N, W, N, 0.0f, dx, K);
}

#define PROD_FWD(y, x, W, b, n, K, N) blas_fwd(y, x, W, b, n, K, N)
#define PROD_WGRAD(dW, x, g, n, K, N) blas_wgrad(dW, x, g, n, K, N)
#define PROD_XGRAD(dx, g, W, n, K, N) blas_xgrad(dx, g, W, n, K, N)
#define STEP_INLINE static
#include "basenet_step.h"

static void mlp_train(void *p) { bnet *m = p; m->loss = step_train(m, 64, 2, 784, 50, 10, 0, 0, 0.0f); }
static void mlp_infer(void *p) { step_forward(p, 1, 2, 784, 50, 10, 0, 0.0f); }
static void mlp_fwd(void *p) { step_forward(p, 128, 2, 784, 50, 10, 0, 0.0f); }
static void seed_train(void *p) { bnet *m = p; m->loss = step_train(m, 64, 2, 784, 50, 1, 0, 1, -0.5f); }
static void deep_train(void *p) { bnet *m = p; m->loss = step_train(m, 64, 3, 784, 256, 256, 10, 0, 0.0f); }

const bench_fn openblas_impl[W_COUNT] = {
  [W_MLP_TRAIN] = mlp_train, [W_MLP_INFER] = mlp_infer, [W_MLP_FWD] = mlp_fwd,
  [W_SEED_TRAIN] = seed_train, [W_DEEP_TRAIN] = deep_train,
};

void openblas_single_thread(void) { openblas_set_num_threads(1); }
