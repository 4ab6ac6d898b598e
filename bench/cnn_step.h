/* The LeNet train step and forward (cnn.h) for one baseline, written once. The including
 * file defines, besides basenet_step.h's PROD_FWD/PROD_WGRAD/PROD_XGRAD (for the linear
 * layers), the three convolution products (col: the im2col workspace, unused by the naive
 * loops; images C x H x W, kernel K, padding P, stride 1, output O x OH x OW):
 *   CONV_FWD(y, x, W, b, col, n, C, H, Wd, O, K, P, OH, OW)    y = conv(x, W) + b
 *   CONV_WGRAD(dW, db, x, g, col, n, C, H, Wd, O, K, P, OH, OW) dW = sum g * x, db = sum g
 *   CONV_XGRAD(dx, g, W, col, n, C, H, Wd, O, K, P, OH, OW)    dx = transposed conv of g
 * and CNN_TABLE, the name of its table of workloads. */

#define CONV1 1, 28, 28, 6, 5, 2, 28, 28
#define CONV2 6, 14, 14, 16, 5, 0, 10, 10

STEP_INLINE void cnn_forward(cnet *m, int n)
{
  float **p = m->p;
  CONV_FWD(m->c1, m->x, p[0], p[1], m->col, n, CONV1);
  bn_relu(m->c1, n, 4704, 0.0f);
  cnn_pool(m->p1, m->c1, n, 6, 28, 28);
  CONV_FWD(m->c2, m->p1, p[2], p[3], m->col, n, CONV2);
  bn_relu(m->c2, n, 1600, 0.0f);
  cnn_pool(m->p2, m->c2, n, 16, 10, 10);
  PROD_FWD(m->f1, m->p2, p[4], p[5], n, 400, 120);
  bn_relu(m->f1, n, 120, 0.0f);
  PROD_FWD(m->f2, m->f1, p[6], p[7], n, 120, 84);
  bn_relu(m->f2, n, 84, 0.0f);
  PROD_FWD(m->out, m->f2, p[8], p[9], n, 84, 10);
}

STEP_INLINE float cnn_train(cnet *m, int n)
{
  float **p = m->p, **d = m->d;
  cnn_forward(m, n);
  float loss = bn_loss_grad(m->gout, m->out, m->label, NULL, n, 10, 0);
  PROD_WGRAD(d[8], m->f2, m->gout, n, 84, 10);
  bn_bias_grad(d[9], m->gout, n, 10);
  PROD_XGRAD(m->gf2, m->gout, p[8], n, 84, 10);
  bn_relu_mask(m->gf2, m->f2, n, 84, 0.0f);
  PROD_WGRAD(d[6], m->f1, m->gf2, n, 120, 84);
  bn_bias_grad(d[7], m->gf2, n, 84);
  PROD_XGRAD(m->gf1, m->gf2, p[6], n, 120, 84);
  bn_relu_mask(m->gf1, m->f1, n, 120, 0.0f);
  PROD_WGRAD(d[4], m->p2, m->gf1, n, 400, 120);
  bn_bias_grad(d[5], m->gf1, n, 120);
  PROD_XGRAD(m->gp2, m->gf1, p[4], n, 400, 120);
  cnn_pool_grad(m->gc2, m->gp2, m->c2, n, 16, 10, 10);
  bn_relu_mask(m->gc2, m->c2, n, 1600, 0.0f);
  CONV_WGRAD(d[2], d[3], m->p1, m->gc2, m->col, n, CONV2);
  CONV_XGRAD(m->gp1, m->gc2, p[2], m->col, n, CONV2);
  cnn_pool_grad(m->gc1, m->gp1, m->c1, n, 6, 28, 28);
  bn_relu_mask(m->gc1, m->c1, n, 4704, 0.0f);
  CONV_WGRAD(d[0], d[1], m->x, m->gc1, m->col, n, CONV1);
  for (int t = 0; t < CNN_TENSORS; t++) bn_sgd(p[t], d[t], cnn_tensor_size[t], BENCH_LR);
  return loss;
}

static void lenet_train(void *c) { cnet *m = c; m->loss = cnn_train(m, 64); }
static void lenet_infer(void *c) { cnn_forward(c, 1); }

const bench_fn CNN_TABLE[W_COUNT] = {[W_LENET_TRAIN] = lenet_train, [W_LENET_INFER] = lenet_infer};

#undef CONV1
#undef CONV2
