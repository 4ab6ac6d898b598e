/* One train step / forward of a bnet, written once for every baseline. The including file
 * defines the three products before including this:
 *   PROD_FWD(y, x, W, b, n, K, N)    y[n][N]  = x[n][K] . W[K][N] + b
 *   PROD_WGRAD(dW, x, g, n, K, N)    dW[K][N] = x^T . g[n][N]
 *   PROD_XGRAD(dx, g, W, n, K, N)    dx[n][K] = g[n][N] . W^T
 * STEP_INLINE (the naive baseline inlines everything so all sizes are constants), and
 * STEP_TABLE, the name of the baseline's table of workloads defined at the end. */

STEP_INLINE void step_forward(bnet *m, int n, int nlin, int s0, int s1, int s2, int s3, float shift, int act)
{
  int s[4] = {s0, s1, s2, s3};
  for (int l = 0; l < nlin; l++) {
    PROD_FWD(m->a[l + 1], m->a[l], m->W[l], m->b[l], n, s[l], s[l + 1]);
    if (l + 1 < nlin) bn_act(m->a[l + 1], n, s[l + 1], shift, act);
  }
}

STEP_INLINE float step_train(bnet *m, int n, int nlin, int s0, int s1, int s2, int s3, int mse,
                             float shift, int act)
{
  int s[4] = {s0, s1, s2, s3};
  step_forward(m, n, nlin, s0, s1, s2, s3, shift, act);
  float loss = bn_loss_grad(m->g[nlin], m->a[nlin], m->label, m->ymse, n, s[nlin], mse);
  for (int l = nlin - 1; l >= 0; l--) {
    PROD_WGRAD(m->dW[l], m->a[l], m->g[l + 1], n, s[l], s[l + 1]);
    bn_bias_grad(m->db[l], m->g[l + 1], n, s[l + 1]);
    if (l > 0) {
      PROD_XGRAD(m->g[l], m->g[l + 1], m->W[l], n, s[l], s[l + 1]);
      bn_act_mask(m->g[l], m->a[l], n, s[l], shift, act);
    }
  }
  for (int l = 0; l < nlin; l++) {
    bn_sgd(m->W[l], m->dW[l], s[l] * s[l + 1], BENCH_LR);
    bn_sgd(m->b[l], m->db[l], s[l + 1], BENCH_LR);
  }
  return loss;
}

/* The workloads of harness.c, the same for every baseline. */
static void mlp_train(void *p) { bnet *m = p; m->loss = step_train(m, 64, 2, 784, 50, 10, 0, 0, 0.0f, 0); }
static void mlp_infer(void *p) { step_forward(p, 1, 2, 784, 50, 10, 0, 0.0f, 0); }
static void mlp_fwd(void *p) { step_forward(p, 128, 2, 784, 50, 10, 0, 0.0f, 0); }
static void seed_train(void *p) { bnet *m = p; m->loss = step_train(m, 64, 2, 784, 50, 1, 0, 1, -0.5f, 0); }
static void deep_train(void *p) { bnet *m = p; m->loss = step_train(m, 64, 3, 784, 256, 256, 10, 0, 0.0f, 0); }
static void wide_train(void *p) { bnet *m = p; m->loss = step_train(m, 64, 2, 784, 1024, 10, 0, 0, 0.0f, 0); }
static void wide_fwd(void *p) { step_forward(p, 64, 2, 784, 1024, 10, 0, 0.0f, 0); }
#define M256(B) static void m256_b##B(void *p) { bnet *m = p; m->loss = step_train(m, B, 2, 784, 256, 10, 0, 0, 0.0f, 0); }
M256(1) M256(8) M256(32) M256(256)
#undef M256
static void big_train(void *p) { bnet *m = p; m->loss = step_train(m, 64, 3, 784, 2048, 2048, 10, 0, 0.0f, 0); }
static void big_fwd(void *p) { step_forward(p, 64, 3, 784, 2048, 2048, 10, 0.0f, 0); }
static void tanh_train(void *p) { bnet *m = p; m->loss = step_train(m, 64, 3, 784, 256, 256, 10, 0, 0.0f, 1); }
static void big_infer(void *p) { step_forward(p, 1, 3, 784, 2048, 2048, 10, 0.0f, 0); }

const bench_fn STEP_TABLE[W_COUNT] = {
  [W_MLP_TRAIN] = mlp_train, [W_MLP_INFER] = mlp_infer, [W_MLP_FWD] = mlp_fwd,
  [W_SEED_TRAIN] = seed_train, [W_DEEP_TRAIN] = deep_train, [W_WIDE_TRAIN] = wide_train,
  [W_WIDE_FWD] = wide_fwd, [W_M256_B1] = m256_b1, [W_M256_B8] = m256_b8,
  [W_M256_B32] = m256_b32, [W_M256_B256] = m256_b256, [W_BIG_TRAIN] = big_train,
  [W_BIG_FWD] = big_fwd, [W_BIG_INFER] = big_infer, [W_TANH_TRAIN] = tanh_train,
};
