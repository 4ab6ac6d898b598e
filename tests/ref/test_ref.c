/* test_ref.c — Check suite for the double-precision reference (tests/ref/ref.c).
 *
 * core:   finite-difference gradient check of every parameter and every input value on a
 *         table of small networks (both losses, relu with and without shift, leaky_relu, tanh
 *         and sigmoid fused after a linear, standalone, chained and last before the loss,
 *         stacked linears),
 *         and on sampled coordinates of every network described by a file given on the
 *         command line (test_ref [DESC...]: the random specs and specs/).
 * loss:   values that follow from the definitions (uniform logits give log k, huge logits stay
 *         finite, a hand-summed MSE).
 * act:    activations on hand-worked values (tanh(ln 2) = 3/5, sigmoid(±ln 3) = 3/4, 1/4,
 *         leaky_relu at z = 0 takes the slope in backward) and their saturation limits.
 * optim:  torch.optim's update rules on hand-worked numbers (momentum buffer init, dampening,
 *         nesterov, weight decay, Adam's bias correction, AdamW's decoupled decay).
 * errors: description files with mistakes are refused with the file and line.
 *
 * Finite differences: the five-point central stencil
 *     f'(θ) ≈ (8 (f(θ+h) - f(θ-h)) - (f(θ+2h) - f(θ-2h))) / (12 h),   h = 1e-4 · max(1, |θ|),
 * whose truncation error is O(h⁴ f⁽⁵⁾) ≈ 1e-17 here and whose rounding error is a few ulps of
 * the loss over 12h, ≈ 1e-12 · |f|. relu and leaky_relu have a kink at 0, so a coordinate
 * is only trusted when none of them changes state on [θ-2h, θ+2h]: their masks at the four
 * stencil points are compared with the mask at θ (in a piecewise-linear net every
 * pre-activation is affine in θ on one piece, so equal masks at both ends mean no kink in
 * between; after tanh/sigmoid it is smooth, and a missed double crossing within 4h could
 * only fail the check); coordinates where a mask differs are skipped and counted, and at
 * most 5% may be skipped. tanh and sigmoid are smooth everywhere.
 * Error of one coordinate: |fd - g| / max(|fd|, |g|, 1e-4 · max|g| over its tensor):
 * relative for every component within 1e-4 of its tensor's largest; below that, components
 * (~0 by cancellation, or dead units) are held to an absolute 1e-10 · max|g| instead of
 * dividing the loss's rounding noise by ~0.
 */
#include "ref.h"
#include "rng.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static test_rng rng;
static uint64_t rng_next(void) { return test_rng_next(&rng); }
static double rng_sym(double a) { return test_rng_sym(&rng, a); }

typedef struct {
  const char *what;
  int in, loss, n;
  int nl;
  struct { int kind, out; double arg; } l[8];   /* arg: relu's shift, leaky_relu's slope */
} fd_case;

enum { LIN = REF_LINEAR, RELU = REF_RELU, LEAKY = REF_LEAKY_RELU, TANH = REF_TANH, SIGM = REF_SIGMOID };

static const fd_case fd_cases[] = {
  {"seed-like 9-6-relu(-0.5)-1 mse", 9, REF_MSE, 5, 3,
   {{REF_LINEAR, 6, 0}, {REF_RELU, 0, -0.5}, {REF_LINEAR, 1, 0}}},
  {"7-5-relu-4-relu(0.3)-3 cross_entropy", 7, REF_CROSS_ENTROPY, 6, 5,
   {{REF_LINEAR, 5, 0}, {REF_RELU, 0, 0}, {REF_LINEAR, 4, 0}, {REF_RELU, 0, 0.3}, {REF_LINEAR, 3, 0}}},
  {"4-3-2 stacked linears cross_entropy", 4, REF_CROSS_ENTROPY, 3, 2,
   {{REF_LINEAR, 3, 0}, {REF_LINEAR, 2, 0}}},
  {"6-1 single linear mse", 6, REF_MSE, 1, 1, {{REF_LINEAR, 1, 0}}},
  {"23-17-relu(-0.5)-11 cross_entropy", 23, REF_CROSS_ENTROPY, 7, 3,
   {{REF_LINEAR, 17, 0}, {REF_RELU, 0, -0.5}, {REF_LINEAR, 11, 0}}},
  {"13-1-relu-5-relu-1 mse (width-1 hidden)", 13, REF_MSE, 4, 5,
   {{REF_LINEAR, 1, 0}, {REF_RELU, 0, 0}, {REF_LINEAR, 5, 0}, {REF_RELU, 0, 0.25}, {REF_LINEAR, 1, 0}}},
  /* leaky_relu, tanh, sigmoid: fused after a linear, standalone (first layer, chained after
     another activation), last before either loss; slopes small, 1-ish, above 1, negative */
  {"8-6-leaky.01-5-tanh-4-sigm-3 ce fused", 8, REF_CROSS_ENTROPY, 5, 6,
   {{LIN, 6, 0}, {LEAKY, 0, 0.01}, {LIN, 5, 0}, {TANH, 0, 0}, {LIN, 4, 0}, {SIGM, 0, 0}, {LIN, 3, 0}}},
  {"7-tanh-5-sigm-4-leaky.2-1 mse, first", 7, REF_MSE, 6, 6,
   {{TANH, 0, 0}, {LIN, 5, 0}, {SIGM, 0, 0}, {LIN, 4, 0}, {LEAKY, 0, 0.2}, {LIN, 1, 0}}},
  {"6-5-leaky.1-tanh-sigm-4-relu-leaky1.5-3 ce", 6, REF_CROSS_ENTROPY, 4, 8,
   {{LIN, 5, 0}, {LEAKY, 0, 0.1}, {TANH, 0, 0}, {SIGM, 0, 0}, {LIN, 4, 0}, {RELU, 0, 0}, {LEAKY, 0, 1.5},
    {LIN, 3, 0}}},
  {"9-4-sigmoid-1-tanh mse (act last)", 9, REF_MSE, 5, 4,
   {{LIN, 4, 0}, {SIGM, 0, 0}, {LIN, 1, 0}, {TANH, 0, 0}}},
  {"5-7-tanh-4-sigmoid ce (act last)", 5, REF_CROSS_ENTROPY, 6, 4,
   {{LIN, 7, 0}, {TANH, 0, 0}, {LIN, 4, 0}, {SIGM, 0, 0}}},
  {"6-5-tanh-3-leaky(-0.3) ce (act last)", 6, REF_CROSS_ENTROPY, 5, 4,
   {{LIN, 5, 0}, {TANH, 0, 0}, {LIN, 3, 0}, {LEAKY, 0, -0.3}}},
  {"4-sigmoid-leaky(.05)-1-leaky(.01) mse", 4, REF_MSE, 3, 4,
   {{SIGM, 0, 0}, {LEAKY, 0, 0.05}, {LIN, 1, 0}, {LEAKY, 0, 0.01}}},
};

static void build_net(ref_net *net, const fd_case *c)
{
  memset(net, 0, sizeof *net);
  snprintf(net->name, sizeof net->name, "fd");
  net->in = c->in; net->loss = c->loss; net->batch = c->n; net->nlayers = c->nl;
  for (int l = 0; l < c->nl; l++) {
    net->layer[l].kind = c->l[l].kind;
    net->layer[l].out = c->l[l].out;
    if (c->l[l].kind == REF_RELU) net->layer[l].shift = c->l[l].arg;
    if (c->l[l].kind == REF_LEAKY_RELU) net->layer[l].slope = c->l[l].arg;
  }
  net->opt.kind = REF_SGD; net->opt.lr = 0.1;
  char err[200];
  ck_assert_msg(ref_net_finish(net, err, sizeof err) == 0, "%s: %s", c->what, err);
}

static double loss_at(const ref_net *net, const double *p, const double *x, const double *t, int n)
{
  double *out = malloc((size_t)n * net->out * sizeof(double));
  ref_forward(net, p, x, n, out);
  double L = ref_loss(net, out, t, n);
  free(out);
  return L;
}

/* The five-point difference of the loss along v[i] with step h against the analytic g (the
   relative error, the denominator at least 1e-4 of the tensor's largest |g|), or -1 when a
   relu, leaky_relu or max-pool kink (m0: the masks at v) lies within the stencil. */
static double fd_error(const ref_net *net, double *p, double *x, const double *t, int n, double *v, size_t i,
                       double h, double g, double gmax, const unsigned char *m0, unsigned char *m1, size_t ms)
{
  double th = v[i], f[4], d[4] = {-2, -1, 1, 2};
  int kink = 0;
  for (int k = 0; k < 4 && !kink; k++) {
    v[i] = th + d[k] * h;
    ref_masks(net, p, x, n, m1);
    kink = memcmp(m0, m1, ms) != 0;
  }
  if (kink) { v[i] = th; return -1; }
  for (int k = 0; k < 4; k++) { v[i] = th + d[k] * h; f[k] = loss_at(net, p, x, t, n); }
  v[i] = th;
  /* differences of nearly equal values first: they are exact (Sterbenz), so a loss that
     does not move gives exactly 0 */
  double fd = (8 * (f[2] - f[1]) - (f[3] - f[0])) / (12 * h);
  double den = fmax(fmax(fabs(fd), fabs(g)), 1e-4 * gmax);
  return den > 0 ? fabs(fd - g) / den : 0;
}

/* Check the analytic gradient g of f with respect to the values v[0..count) (a parameter
   tensor or the input). Returns the largest error; counts checked and skipped coordinates.
   Step h = 1e-4 (relative past 1). The stencil's rounding error is about ε·|f|/h, 1e-6 of a
   gradient 1e-6 times the loss (seen: r28's |g| = 5e-7 at a loss of 0.21, its difference
   5.4e-13 off, 1.07e-6 relative, where h = 1e-3 and 1e-2 agree with g to 8e-8 and 1e-9):
   an error past 1e-7 is measured again with 10 h (ten times less rounding; truncation
   ~(10 h)^4) and the smaller counts, unless a kink lies within that wider stencil. */
static double fd_check(const ref_net *net, double *p, double *x, const double *t, int n,
                       double *v, size_t count, const double *g, size_t limit, int *checked, int *skipped)
{
  double gmax = 0, worst = 0;
  for (size_t i = 0; i < count; i++) if (fabs(g[i]) > gmax) gmax = fabs(g[i]);
  size_t ms = ref_mask_size(net, n);
  unsigned char *m0 = malloc(ms + 1), *m1 = malloc(ms + 1);
  ref_masks(net, p, x, n, m0);
  for (size_t c = 0; c < count && c < limit; c++) {
    size_t i = count <= limit ? c : (size_t)(rng_next() % count);   /* all, or a sample */
    double h = 1e-4 * (fabs(v[i]) > 1 ? fabs(v[i]) : 1);
    double e = fd_error(net, p, x, t, n, v, i, h, g[i], gmax, m0, m1, ms);
    if (e < 0) { (*skipped)++; continue; }
    if (e > 1e-7) {
      double wide = fd_error(net, p, x, t, n, v, i, 10 * h, g[i], gmax, m0, m1, ms);
      if (wide >= 0 && wide < e) e = wide;
    }
    if (e > worst) worst = e;
    (*checked)++;
  }
  free(m0); free(m1);
  return worst;
}

START_TEST(test_fd_gradients)
{
  const fd_case *c = &fd_cases[_i];
  ref_net net;
  build_net(&net, c);
  rng.s = 1000 + (uint64_t)_i;
  int n = c->n;
  double *p = malloc(net.nparams * sizeof(double)), *g = malloc(net.nparams * sizeof(double));
  double *x = malloc((size_t)n * net.in * sizeof(double)), *dx = malloc((size_t)n * net.in * sizeof(double));
  double *t = malloc((size_t)n * sizeof(double));
  for (int k = 0; k < net.ntensors; k++)
    for (size_t j = 0; j < (size_t)net.t_rows[k] * net.t_cols[k]; j++)
      p[net.t_off[k] + j] = rng_sym(net.t_rows[k] > 1 ? 1.5 / sqrt(net.t_rows[k]) : 0.5);
  for (size_t j = 0; j < (size_t)n * net.in; j++) x[j] = rng_sym(1.0);
  for (int i = 0; i < n; i++)
    t[i] = net.loss == REF_MSE ? rng_sym(1.0) : (double)(rng_next() % (uint64_t)net.out);

  double L = ref_backward(&net, p, x, t, n, NULL, g, dx);
  ck_assert_msg(isfinite(L), "%s: loss %g", c->what, L);
  int checked = 0, skipped = 0;
  double worst = 0;
  for (int k = 0; k < net.ntensors; k++) {
    size_t cnt = (size_t)net.t_rows[k] * net.t_cols[k];
    double e = fd_check(&net, p, x, t, n, p + net.t_off[k], cnt, g + net.t_off[k], SIZE_MAX, &checked, &skipped);
    ck_assert_msg(e <= 1e-6, "%s: tensor %d: finite-difference error %.3g > 1e-6", c->what, k, e);
    if (e > worst) worst = e;
  }
  double e = fd_check(&net, p, x, t, n, x, (size_t)n * net.in, dx, SIZE_MAX, &checked, &skipped);
  ck_assert_msg(e <= 1e-6, "%s: dx: finite-difference error %.3g > 1e-6", c->what, e);
  if (e > worst) worst = e;
  ck_assert_msg(skipped * 20 <= checked + skipped,
                "%s: %d of %d coordinates skipped near a relu kink (more than 5%%)",
                c->what, skipped, checked + skipped);
  printf("ref fd: %-42s checked %4d skipped %2d  max rel err %.2e\n", c->what, checked, skipped, worst);
  free(p); free(g); free(x); free(dx); free(t);
}
END_TEST

/* The kink detection sees leaky_relu's kink: an input exactly at 0 in front of a standalone
   leaky_relu is skipped (the one-sided slopes differ: 1 and 0.1, so the stencil would miss),
   the others are checked; the same input in front of tanh (smooth) is checked. */
START_TEST(test_fd_leaky_kink)
{
  for (int kind = REF_LEAKY_RELU; kind <= REF_TANH; kind++) {
    ref_net net;
    memset(&net, 0, sizeof net);
    net.in = 3; net.loss = REF_MSE; net.batch = 1; net.nlayers = 2;
    net.layer[0].kind = kind; net.layer[0].slope = 0.1;
    net.layer[1].kind = REF_LINEAR; net.layer[1].out = 1;
    net.opt.kind = REF_SGD; net.opt.lr = 0.1;
    char err[100];
    ck_assert_msg(ref_net_finish(&net, err, sizeof err) == 0, "%s", err);
    double p[4] = {0.5, -0.7, 0.9, 0.1}, g[4], x[3] = {0, 0.4, -0.6}, dx[3], t[1] = {0.3};
    ref_backward(&net, p, x, t, 1, NULL, g, dx);
    int checked = 0, skipped = 0;
    double e = fd_check(&net, p, x, t, 1, x, 3, dx, SIZE_MAX, &checked, &skipped);
    ck_assert_msg(e <= 1e-6, "%s: dx: finite-difference error %.3g", ref_kind_name(kind), e);
    if (kind == REF_LEAKY_RELU)
      ck_assert_msg(checked == 2 && skipped == 1, "leaky_relu at 0: checked %d skipped %d, expected 2 and 1",
                    checked, skipped);
    else
      ck_assert_msg(checked == 3 && skipped == 0, "tanh at 0: checked %d skipped %d, expected 3 and 0",
                    checked, skipped);
  }
}
END_TEST

/* The same check on networks read from description files (the random specs' and the
   specs' own): n = min(batch, 4), and at most 40 sampled coordinates per tensor. */
static char **desc_files;
static int ndesc;

/* Gradients of net on n = min(batch, 4) random rows against finite differences, at most
   `limit` coordinates per tensor (a sample when there are more). */
static void fd_net(const ref_net *cnet, size_t limit, const char *what)
{
  ref_net net = *cnet;
  int n = net.batch < 4 ? net.batch : 4;
  double *p = malloc(net.nparams * sizeof(double)), *g = malloc(net.nparams * sizeof(double));
  double *x = malloc((size_t)n * net.in * sizeof(double)), *dx = malloc((size_t)n * net.in * sizeof(double));
  double *t = malloc((size_t)n * sizeof(double));
  for (int k = 0; k < net.ntensors; k++)
    for (size_t j = 0; j < (size_t)net.t_rows[k] * net.t_cols[k]; j++)
      p[net.t_off[k] + j] = net.t_buffer[k] ? 0.7 + rng_sym(0.5)   /* batchnorm state: var > 0 */
                          : rng_sym(net.t_rows[k] > 1 ? 1.5 / sqrt(net.t_rows[k]) : 0.5);
  for (size_t j = 0; j < (size_t)n * net.in; j++) x[j] = rng_sym(1.0);
  for (int i = 0; i < n; i++)
    t[i] = net.loss == REF_MSE ? rng_sym(1.0) : (double)(rng_next() % (uint64_t)net.out);
  /* training mode: a fixed dropout mask (about half kept), so the loss is a function of the
     parameters that finite differences can follow */
  unsigned char *keep = malloc(ref_dropout_size(&net, n) + 1);
  for (size_t j = 0; j < ref_dropout_size(&net, n); j++) keep[j] = rng_next() % 2;
  if (net.train) net.drop_mask = keep;
  ref_backward(&net, p, x, t, n, NULL, g, dx);
  int checked = 0, skipped = 0;
  double worst = 0;
  for (int k = 0; k < net.ntensors; k++) {
    /* batchnorm's running state is not trained: its gradient is 0 by definition, and only in
       training mode does the loss not depend on it */
    if (net.t_buffer[k] && !net.train) continue;
    size_t cnt = (size_t)net.t_rows[k] * net.t_cols[k];
    double e = fd_check(&net, p, x, t, n, p + net.t_off[k], cnt, g + net.t_off[k], limit, &checked, &skipped);
    ck_assert_msg(e <= 1e-6, "%s: tensor %d: finite-difference error %.3g > 1e-6", what, k, e);
    if (e > worst) worst = e;
  }
  double e = fd_check(&net, p, x, t, n, x, (size_t)n * net.in, dx, limit, &checked, &skipped);
  ck_assert_msg(e <= 1e-6, "%s: dx: finite-difference error %.3g > 1e-6", what, e);
  if (e > worst) worst = e;
  ck_assert_msg(skipped * 20 <= checked + skipped, "%s: %d of %d coordinates skipped near a relu kink (more than 5%%)",
                what, skipped, checked + skipped);
  printf("ref fd: %-42s checked %4d skipped %2d  max rel err %.2e\n", net.name, checked, skipped, worst);
  free(p); free(g); free(x); free(dx); free(t); free(keep);
}

START_TEST(test_fd_desc)
{
  ref_net net;
  char err[600];
  ck_assert_msg(ref_desc_read(&net, desc_files[_i], err, sizeof err) == 0, "%s", err);
  rng.s = 5000 + (uint64_t)_i;
  fd_net(&net, 40, desc_files[_i]);
}
END_TEST

static const char *write_tmp(const char *text);

/* Image layers, every coordinate: odd and prime sizes, stride 2, padding, 1 and 3 channels,
   kernels 1, 2, 3 and 7, no bias, max and average pooling (overlapping windows too), an
   activation fused after a conv and standalone after a pool, flatten after a flat layer. */
static const char *conv_fd_descs[] = {
  "name conv_a\ninput 1 7 5\nbatch 3\nloss cross_entropy\nconv2d 2 kernel=3 padding=1\nrelu 0\n"
  "maxpool2d kernel=2 stride=1\nflatten\nlinear 3\noptimizer sgd lr=0.1\n",
  "name conv_b\ninput 3 11 7\nbatch 2\nloss mse\nconv2d 2 kernel=3 stride=2 padding=2 bias=0\ntanh\n"
  "avgpool2d kernel=3 stride=2\nconv2d 1 kernel=1\nflatten\nlinear 1\noptimizer sgd lr=0.1\n",
  "name conv_c\ninput 1 13 13\nbatch 2\nloss cross_entropy\nconv2d 3 kernel=7 stride=2 padding=3\n"
  "maxpool2d kernel=2\nleaky_relu 0.1\nflatten\nrelu 0\nflatten\nlinear 4\noptimizer sgd lr=0.1\n",
};

START_TEST(test_fd_conv)
{
  const char *path = write_tmp(conv_fd_descs[_i]);
  ref_net net;
  char err[600];
  int rc = ref_desc_read(&net, path, err, sizeof err);
  remove(path);
  ck_assert_msg(rc == 0, "%s", err);
  rng.s = 7000 + (uint64_t)_i;
  fd_net(&net, SIZE_MAX, net.name);
}
END_TEST

/* batchnorm (2d after a conv, 1d after an activation, without affine) and dropout, every
   coordinate, smooth activations around them (a relu after a batchnorm of 60 values moves
   with every parameter, so too many coordinates would be kinks), a bias right before a
   batchnorm left out: its gradient is 0 in training
   mode, the mean removes it, and a relative check of noise against noise means nothing), in training mode (batch statistics, a fixed dropout mask) and in inference
   mode (running statistics, dropout the identity). */
static const char *mode_fd_descs[] = {
  "name bn_a\ninput 2 5 4\nbatch 3\nloss cross_entropy\nconv2d 3 kernel=3 padding=1 bias=0\nbatchnorm\ntanh\n"
  "dropout 0.3\navgpool2d kernel=2\nflatten\nlinear 5\ntanh\nbatchnorm momentum=0.2 eps=0.001\nlinear 3\n"
  "optimizer sgd lr=0.1\n",
  "name bn_b\ninput 6\nbatch 4\nloss mse\ndropout 0.5\nlinear 4\nsigmoid\nbatchnorm affine=0\ndropout 0.25\n"
  "linear 1\noptimizer sgd lr=0.1\n",
};

START_TEST(test_fd_modes)
{
  for (int train = 1; train >= 0; train--) {
    const char *path = write_tmp(mode_fd_descs[_i]);
    ref_net net;
    char err[600];
    int rc = ref_desc_read(&net, path, err, sizeof err);
    remove(path);
    ck_assert_msg(rc == 0, "%s", err);
    net.train = train;
    rng.s = 7100 + (uint64_t)_i;
    fd_net(&net, SIZE_MAX, train ? "training mode" : "inference mode");
  }
}
END_TEST

/* batchnorm by hand: one feature, rows x = 1 and 3 (mean 2, biased variance 1, unbiased 2):
   training gives ±1/sqrt(1 + eps)·w + b; the running statistics move to 0.9·0 + 0.1·2 = 0.2
   and 0.9·1 + 0.1·2 = 1.1, num_batches_tracked to 1; inference then uses those. */
START_TEST(test_bn_values)
{
  const char *path = write_tmp("name bv\ninput 1\nbatch 2\nloss mse\nlinear 1\nbatchnorm\noptimizer sgd lr=0.1\n");
  ref_net net;
  char err[300];
  int rc = ref_desc_read(&net, path, err, sizeof err);
  remove(path);
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_int_eq(net.ntensors, 7);
  ck_assert(!net.t_buffer[3] && net.t_buffer[4] && net.t_buffer[5] && net.t_buffer[6]);
  /* linear w = 1, b = 0; bn weight 2, bias 0.5, running mean 0, var 1, count 0 */
  double p[7] = {1, 0, 2, 0.5, 0, 1, 0}, x[2] = {1, 3}, out[2];
  net.train = 1;
  ref_forward(&net, p, x, 2, out);
  double s = 1 / sqrt(1 + 1e-5);
  ck_assert_msg(fabs(out[0] - (0.5 - 2 * s)) < 1e-15 && fabs(out[1] - (0.5 + 2 * s)) < 1e-15, "bn train %g %g",
                out[0], out[1]);
  ref_bn_update(&net, p, x, 2);
  ck_assert_msg(fabs(p[4] - 0.2) < 1e-15 && fabs(p[5] - 1.1) < 1e-15 && p[6] == 1, "running %g %g %g", p[4], p[5], p[6]);
  net.train = 0;
  ref_forward(&net, p, x, 2, out);
  ck_assert_msg(fabs(out[0] - (2 * (1 - 0.2) / sqrt(1.1 + 1e-5) + 0.5)) < 1e-14, "bn inference %g", out[0]);
  /* the optimizer leaves the running state alone, whatever the gradient says */
  ref_opt_state st;
  ck_assert(ref_opt_init(&st, &net) == 0);
  double g[7] = {1, 1, 1, 1, 1, 1, 1};
  ref_opt_step(&st, p, g);
  ck_assert_msg(p[4] == 0.2 && p[5] == 1.1 && p[6] == 1 && p[2] == 2 - 0.1, "stepped %g %g %g %g", p[4], p[5], p[6], p[2]);
  ref_opt_free(&st);
}
END_TEST

/* Dropout's generator is PCG32 as in O'Neill's pcg32-demo (seed 42, stream 54), and the
   keep rule u >= p keeps the expected share. */
START_TEST(test_dropout_draws)
{
  ref_pcg r;
  ref_pcg_seed(&r, 42, 54);
  unsigned want[6] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u, 0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
  for (int i = 0; i < 6; i++) {
    unsigned u = ref_pcg_u32(&r);
    ck_assert_msg(u == want[i], "pcg32 draw %d: %08x, expected %08x", i, u, want[i]);
  }
  const char *path = write_tmp("name dr\ninput 1000\nbatch 10\nloss mse\ndropout 0.3\nlinear 1\noptimizer sgd lr=0.1\n");
  ref_net net;
  char err[300];
  int rc = ref_desc_read(&net, path, err, sizeof err);
  remove(path);
  ck_assert_msg(rc == 0, "%s", err);
  unsigned char *m = malloc(ref_dropout_size(&net, 10));
  ref_pcg_seed(&r, 1, 2);
  ref_dropout_masks(&net, &r, 10, m);
  int kept = 0;
  for (int i = 0; i < 10000; i++) kept += m[i];
  /* binomial(10000, 0.7): sd 46 */
  ck_assert_msg(kept > 7000 - 230 && kept < 7000 + 230, "kept %d of 10000 at p = 0.3", kept);
  free(m);
}
END_TEST

/* Image layers by hand: a 1x3x3 image, a 2x2 conv with bias, 2x2 max pooling, a linear layer. */
START_TEST(test_conv_values)
{
  const char *path = write_tmp("name cv\ninput 1 3 3\nbatch 1\nloss mse\nconv2d 1 kernel=2\n"
                               "maxpool2d kernel=2\nflatten\nlinear 1\noptimizer sgd lr=0.1\n");
  ref_net net;
  char err[300];
  int rc = ref_desc_read(&net, path, err, sizeof err);
  remove(path);
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_int_eq(net.layer[0].h, 2); ck_assert_int_eq(net.layer[1].out, 1);
  ck_assert_int_eq(net.t_rows[0], 4); ck_assert_int_eq(net.t_cols[0], 1);
  /* W [c][ky][kx][o] = 1, 2, 3, 4; b = 0.5; linear w = 2, b = 0 */
  double p[5] = {1, 2, 3, 4, 0.5}, pl[7];
  memcpy(pl, p, sizeof p); pl[5] = 2; pl[6] = 0;
  double x[9] = {1, 0, 2, 0, 1, 0, 3, 0, 1}, out[1], t[1] = {0}, g[7], dx[9];
  /* conv outputs: (1 + 0 + 0 + 4) + .5 = 5.5, (0 + 4 + 3 + 0) + .5 = 7.5, (0 + 2 + 9 + 0) + .5 = 11.5,
     (1 + 0 + 0 + 4) + .5 = 5.5; max 11.5 at window index 2; out = 23 */
  ref_forward(&net, pl, x, 1, out);
  ck_assert_msg(out[0] == 23, "conv+maxpool forward %g, expected 23", out[0]);
  double L = ref_backward(&net, pl, x, t, 1, NULL, g, dx);
  ck_assert(L == 23.0 * 23.0);
  /* dL/dout = 46; through the linear 92 to the max (conv output [1][0]); dW = 92 * x under it */
  ck_assert_msg(g[0] == 0 && g[1] == 92 * 1 && g[2] == 92 * 3 && g[3] == 0 && g[4] == 92,
                "conv dW/db %g %g %g %g %g", g[0], g[1], g[2], g[3], g[4]);
  ck_assert_msg(dx[3] == 92 * 1 && dx[4] == 92 * 2 && dx[6] == 92 * 3 && dx[7] == 92 * 4 && dx[0] == 0,
                "conv dx %g %g %g %g", dx[3], dx[4], dx[6], dx[7]);
}
END_TEST

static ref_net tiny_net(int in, int out, int loss)
{
  ref_net net;
  memset(&net, 0, sizeof net);
  net.in = in; net.loss = loss; net.batch = 4; net.nlayers = 1;
  net.layer[0].kind = REF_LINEAR; net.layer[0].out = out;
  net.opt.kind = REF_SGD; net.opt.lr = 0.1;
  char err[100];
  ck_assert_msg(ref_net_finish(&net, err, sizeof err) == 0, "%s", err);
  return net;
}

START_TEST(test_loss_values)
{
  ref_net ce = tiny_net(2, 4, REF_CROSS_ENTROPY), mse = tiny_net(2, 1, REF_MSE);
  double z[8] = {0.5, 0.5, 0.5, 0.5, 1000, 0, 0, 0}, t[2] = {3, 1};
  /* row 0: uniform logits -> log 4; row 1: target logit 0 against 1000 -> ~1000 */
  double L = ref_loss(&ce, z, t, 2);
  ck_assert_msg(fabs(L - (log(4.0) + 1000) / 2) < 1e-12, "cross-entropy: expected %.15g, got %.15g",
                (log(4.0) + 1000) / 2, L);
  double o[2] = {1, 2}, tm[2] = {0, 0};
  L = ref_loss(&mse, o, tm, 2);
  ck_assert_msg(L == 2.5, "mse of (1,2) vs 0: expected 2.5, got %g", L);
  /* argmax takes the first maximum */
  double zc[8] = {1, 3, 3, 0, 2, 2, 2, 2}, tc[2] = {1, 0};
  ck_assert_int_eq(ref_correct(&ce, zc, tc, 2), 2);
  tc[0] = 2;
  ck_assert_int_eq(ref_correct(&ce, zc, tc, 2), 1);
}
END_TEST

START_TEST(test_ce_gradient_is_softmax_minus_onehot)
{
  /* one linear layer with W = 0: logits = b, so db = mean over rows of softmax(b) - onehot */
  ref_net ce = tiny_net(3, 3, REF_CROSS_ENTROPY);
  double p[12] = {0}, g[12], x[6] = {1, 2, 3, 4, 5, 6}, t[2] = {0, 2};
  p[9] = 0; p[10] = log(2.0); p[11] = log(5.0);   /* softmax = (1, 2, 5) / 8 */
  ref_backward(&ce, p, x, t, 2, NULL, g, NULL);
  double want[3] = {(1.0 / 8 - 1 + 1.0 / 8) / 2, (2.0 / 8 + 2.0 / 8) / 2, (5.0 / 8 + 5.0 / 8 - 1) / 2};
  for (int j = 0; j < 3; j++)
    ck_assert_msg(fabs(g[9 + j] - want[j]) < 1e-15, "db[%d]: expected %.17g, got %.17g", j, want[j], g[9 + j]);
}
END_TEST

/* One element-wise layer alone (the reference does not need a linear): out = f(x). */
static ref_net act_net(int kind, double slope, int in, int loss)
{
  ref_net net;
  memset(&net, 0, sizeof net);
  net.in = in; net.loss = loss; net.batch = 4; net.nlayers = 1;
  net.layer[0].kind = kind; net.layer[0].slope = slope;
  net.opt.kind = REF_SGD; net.opt.lr = 0.1;
  char err[100];
  ck_assert_msg(ref_net_finish(&net, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(net.out, in);
  ck_assert_int_eq(net.ntensors, 0);
  return net;
}

#define NEAR(got, want, what) \
  ck_assert_msg(fabs((got) - (want)) <= 1e-15 * fmax(1, fabs(want)), "%s: expected %.17g, got %.17g", \
                what, (double)(want), (double)(got))

START_TEST(test_act_forward_values)
{
  /* tanh(ln 2) = (2 - 1/2)/(2 + 1/2) = 3/5; sigmoid(ln 3) = 1/(1 + 1/3) = 3/4, sigmoid(-ln 3)
     = 1/4; both odd/symmetric around 0 and saturate without overflow */
  double out[4];
  ref_net th = act_net(REF_TANH, 0, 4, REF_CROSS_ENTROPY);
  double xt[4] = {log(2.0), -log(2.0), 0, 30};
  ref_forward(&th, NULL, xt, 1, out);
  NEAR(out[0], 0.6, "tanh(ln 2)"); NEAR(out[1], -0.6, "tanh(-ln 2)");
  ck_assert_msg(out[2] == 0 && out[3] == 1, "tanh(0), tanh(30): %.17g %.17g", out[2], out[3]);

  ref_net sg = act_net(REF_SIGMOID, 0, 4, REF_CROSS_ENTROPY);
  double xs[4] = {log(3.0), -log(3.0), 0, -800};
  ref_forward(&sg, NULL, xs, 1, out);
  NEAR(out[0], 0.75, "sigmoid(ln 3)"); NEAR(out[1], 0.25, "sigmoid(-ln 3)");
  ck_assert_msg(out[2] == 0.5 && out[3] == 0, "sigmoid(0), sigmoid(-800): %.17g %.17g", out[2], out[3]);
  xs[3] = 800;
  ref_forward(&sg, NULL, xs, 1, out);
  ck_assert_msg(out[3] == 1, "sigmoid(800): %.17g", out[3]);

  /* leaky_relu: z for z > 0, slope·z otherwise (also for a negative or > 1 slope) */
  ref_net lk = act_net(REF_LEAKY_RELU, 0.1, 4, REF_CROSS_ENTROPY);
  double xl[4] = {-2, 0, 3, -0.5};
  ref_forward(&lk, NULL, xl, 1, out);
  ck_assert_msg(out[0] == -0.2 && out[1] == 0 && out[2] == 3 && out[3] == 0.1 * -0.5,
                "leaky_relu(0.1) of -2 0 3 -0.5: %.17g %.17g %.17g %.17g", out[0], out[1], out[2], out[3]);
  lk.layer[0].slope = -1.5;
  ref_forward(&lk, NULL, xl, 1, out);
  ck_assert_msg(out[0] == 3 && out[2] == 3 && out[3] == 0.75, "leaky_relu(-1.5): %.17g %.17g %.17g",
                out[0], out[2], out[3]);
}
END_TEST

START_TEST(test_act_backward_values)
{
  /* MSE on one element-wise layer of width 1: L = mean (f(x) - t)², dL/dx = 2 (f(x) - t) f'(x) / n */
  double dx[3], t[3];
  ref_net th = act_net(REF_TANH, 0, 1, REF_MSE);
  double xt[1] = {log(2.0)};
  t[0] = 0;
  double L = ref_backward(&th, NULL, xt, t, 1, NULL, NULL, dx);
  NEAR(L, 0.36, "tanh loss");
  NEAR(dx[0], 2 * 0.6 * (1 - 0.36), "tanh dx");   /* 0.768 */

  ref_net sg = act_net(REF_SIGMOID, 0, 1, REF_MSE);
  double xs[2] = {log(3.0), -log(3.0)};
  t[0] = 0; t[1] = 1;
  L = ref_backward(&sg, NULL, xs, t, 2, NULL, NULL, dx);
  NEAR(L, (0.5625 + 0.5625) / 2, "sigmoid loss");
  NEAR(dx[0], 2 * 0.75 * 0.75 * 0.25 / 2, "sigmoid dx[0]");       /* 0.140625 */
  NEAR(dx[1], 2 * -0.75 * 0.25 * 0.75 / 2, "sigmoid dx[1]");      /* -0.140625 */

  /* leaky_relu backward uses the input: z = 0 is not > 0, so it passes slope·g (torch) */
  ref_net lk = act_net(REF_LEAKY_RELU, 0.1, 1, REF_MSE);
  double xl[3] = {-2, 0, 3};
  t[0] = 0; t[1] = 1; t[2] = 0;
  L = ref_backward(&lk, NULL, xl, t, 3, NULL, NULL, dx);
  NEAR(L, (0.04 + 1 + 9) / 3, "leaky_relu loss");
  NEAR(dx[0], 2 * -0.2 / 3 * 0.1, "leaky_relu dx at z = -2");
  NEAR(dx[1], 2 * -1.0 / 3 * 0.1, "leaky_relu dx at z = 0");
  NEAR(dx[2], 2 * 3.0 / 3, "leaky_relu dx at z = 3");

  /* saturated: the gradient is exactly 0 and finite (no inf·0) */
  double xsat[2] = {-800, 800};
  t[0] = 1; t[1] = 0;
  L = ref_backward(&sg, NULL, xsat, t, 2, NULL, NULL, dx);
  ck_assert_msg(L == 1 && dx[0] == 0 && dx[1] == 0, "saturated sigmoid: loss %g, dx %g %g", L, dx[0], dx[1]);
  double xtsat[2] = {40, -40};
  L = ref_backward(&th, NULL, xtsat, t, 2, NULL, NULL, dx);
  ck_assert_msg(L == 0.5 && dx[0] == 0 && dx[1] == 0, "saturated tanh: loss %g, dx %g %g", L, dx[0], dx[1]);
}
END_TEST

static void opt_case(ref_net *net, int kind)
{
  *net = tiny_net(1, 1, REF_MSE);   /* 2 parameters: w, b */
  net->opt.kind = kind;
  net->opt.beta1 = 0.9; net->opt.beta2 = 0.999; net->opt.eps = 1e-8;
}

START_TEST(test_sgd_rules)
{
  ref_net net;
  ref_opt_state s;
  double p[2], g1[2] = {1, -2}, g2[2] = {3, 4};

  /* plain: p -= lr g */
  opt_case(&net, REF_SGD); net.opt.lr = 0.5;
  ref_opt_init(&s, &net); p[0] = 1; p[1] = 1;
  ref_opt_step(&s, p, g1);
  ck_assert_msg(p[0] == 0.5 && p[1] == 2, "plain sgd: got %g %g", p[0], p[1]);
  ref_opt_free(&s);

  /* momentum 0.9, dampening 0.5: buf1 = g1 (no dampening on the first step),
     buf2 = 0.9 g1 + 0.5 g2 */
  opt_case(&net, REF_SGD); net.opt.lr = 0.5; net.opt.momentum = 0.9; net.opt.dampening = 0.5;
  ref_opt_init(&s, &net); p[0] = 0; p[1] = 0;
  ref_opt_step(&s, p, g1);
  ref_opt_step(&s, p, g2);
  double b0 = 0.9 * 1 + 0.5 * 3, b1 = 0.9 * -2 + 0.5 * 4;
  ck_assert_msg(fabs(p[0] - (-0.5 * 1 - 0.5 * b0)) < 1e-15 && fabs(p[1] - (0.5 * 2 - 0.5 * b1)) < 1e-15,
                "momentum+dampening: got %.17g %.17g", p[0], p[1]);
  ck_assert_int_eq(s.t, 2);
  ref_opt_free(&s);

  /* nesterov + weight decay 0.1, lr 1, momentum 0.5: d = g + 0.1 p; buf = d (first) ;
     update d + 0.5 buf */
  opt_case(&net, REF_SGD); net.opt.lr = 1; net.opt.momentum = 0.5; net.opt.nesterov = 1;
  net.opt.weight_decay = 0.1;
  ref_opt_init(&s, &net); p[0] = 2; p[1] = -1;
  ref_opt_step(&s, p, g1);
  double d0 = 1 + 0.2, d1 = -2 - 0.1;
  double w0 = 2 - (d0 + 0.5 * d0), w1 = -1 - (d1 + 0.5 * d1);
  ck_assert_msg(fabs(p[0] - w0) < 1e-15 && fabs(p[1] - w1) < 1e-15,
                "nesterov step 1: expected %.17g %.17g, got %.17g %.17g", w0, w1, p[0], p[1]);
  double e0 = 3 + 0.1 * w0, e1 = 4 + 0.1 * w1;
  double c0 = 0.5 * d0 + e0, c1 = 0.5 * d1 + e1;
  double v0 = w0 - (e0 + 0.5 * c0), v1 = w1 - (e1 + 0.5 * c1);
  ref_opt_step(&s, p, g2);
  ck_assert_msg(fabs(p[0] - v0) < 1e-14 && fabs(p[1] - v1) < 1e-14,
                "nesterov step 2: expected %.17g %.17g, got %.17g %.17g", v0, v1, p[0], p[1]);
  ref_opt_free(&s);
}
END_TEST

START_TEST(test_adam_rules)
{
  ref_net net;
  ref_opt_state s;
  double p[2], g1[2] = {1e-3, -50}, g2[2] = {2e-3, 50};

  /* Adam, first step: bias correction makes m̂ = g, v̂ = g², so p -= lr g/(|g| + eps) */
  opt_case(&net, REF_ADAM); net.opt.lr = 0.01;
  ref_opt_init(&s, &net); p[0] = 0; p[1] = 0;
  ref_opt_step(&s, p, g1);
  ck_assert_msg(fabs(p[0] + 0.01 * 1e-3 / (1e-3 + 1e-8)) < 1e-15 && fabs(p[1] - 0.01 * 50 / (50 + 1e-8)) < 1e-15,
                "adam step 1: got %.17g %.17g", p[0], p[1]);
  /* second step by hand */
  double m0 = 0.9 * 0.1 * 1e-3 + 0.1 * 2e-3, v0 = 0.999 * 0.001 * 1e-6 + 0.001 * 4e-6;
  double want0 = p[0] - 0.01 / (1 - 0.81) * m0 / (sqrt(v0) / sqrt(1 - 0.999 * 0.999) + 1e-8);
  ref_opt_step(&s, p, g2);
  ck_assert_msg(fabs(p[0] - want0) < 1e-15, "adam step 2: expected %.17g, got %.17g", want0, p[0]);
  ref_opt_free(&s);

  /* Adam's weight decay is L2 on the gradient: with g = 0, p = 1, wd = 0.5 the first step
     moves by lr (gradient 0.5 after decay) */
  double z[2] = {0, 0};
  opt_case(&net, REF_ADAM); net.opt.lr = 0.01; net.opt.weight_decay = 0.5;
  ref_opt_init(&s, &net); p[0] = 1; p[1] = 1;
  ref_opt_step(&s, p, z);
  ck_assert_msg(fabs(p[0] - (1 - 0.01 * 0.5 / (0.5 + 1e-8))) < 1e-15, "adam wd: got %.17g", p[0]);
  ref_opt_free(&s);

  /* AdamW: decoupled, p *= 1 - lr wd, and a zero gradient moves nothing else */
  opt_case(&net, REF_ADAMW); net.opt.lr = 0.01; net.opt.weight_decay = 0.5;
  ref_opt_init(&s, &net); p[0] = 1; p[1] = -2;
  ref_opt_step(&s, p, z);
  ck_assert_msg(p[0] == 1 * (1 - 0.005) && p[1] == -2 * (1 - 0.005), "adamw decay: got %.17g %.17g", p[0], p[1]);
  ref_opt_free(&s);
}
END_TEST

static const char *write_tmp(const char *text)
{
  static char path[64];
  snprintf(path, sizeof path, "/tmp/ref_desc_%ld.txt", (long)getpid());
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  return path;
}

START_TEST(test_desc_good)
{
  const char *path = write_tmp("# comment\nname r01\ninput 13\nbatch 8\nloss cross_entropy\n"
                               "linear 50 kaiming_normal\nrelu -0.5\nlinear 10\n"
                               "optimizer adamw lr=0.003 beta2=0.99\n");
  ref_net net;
  char err[300];
  int rc = ref_desc_read(&net, path, err, sizeof err);
  remove(path);
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_int_eq(net.in, 13); ck_assert_int_eq(net.out, 10); ck_assert_int_eq(net.batch, 8);
  ck_assert_int_eq(net.ntensors, 4);
  ck_assert_uint_eq(net.nparams, 13 * 50 + 50 + 50 * 10 + 10);
  ck_assert_str_eq(net.layer[0].init, "kaiming_normal");
  ck_assert(net.layer[1].shift == -0.5);
  ck_assert_int_eq(net.opt.kind, REF_ADAMW);
  ck_assert(net.opt.lr == 0.003 && net.opt.beta2 == 0.99 && net.opt.beta1 == 0.9 && net.opt.weight_decay == 1e-2);
}
END_TEST

START_TEST(test_desc_activations)
{
  const char *path = write_tmp("name act\ninput 5\nbatch 3\nloss cross_entropy\nsigmoid\nlinear 4\n"
                               "leaky_relu 0.2\ntanh\nrelu 0\nleaky_relu -1e-3\nlinear 3\n"
                               "optimizer sgd lr=0.1\n");
  ref_net net;
  char err[300];
  int rc = ref_desc_read(&net, path, err, sizeof err);
  remove(path);
  ck_assert_msg(rc == 0, "%s", err);
  static const int kinds[7] = {REF_SIGMOID, REF_LINEAR, REF_LEAKY_RELU, REF_TANH, REF_RELU, REF_LEAKY_RELU,
                               REF_LINEAR};
  static const char *names[7] = {"sigmoid", "linear", "leaky_relu", "tanh", "relu", "leaky_relu", "linear"};
  ck_assert_int_eq(net.nlayers, 7);
  for (int l = 0; l < 7; l++) {
    ck_assert_msg(net.layer[l].kind == kinds[l], "layer %d: kind %d, expected %d", l, net.layer[l].kind, kinds[l]);
    ck_assert_str_eq(ref_kind_name(net.layer[l].kind), names[l]);
  }
  ck_assert(net.layer[2].slope == 0.2 && net.layer[5].slope == -1e-3 && net.layer[3].slope == 0);
  ck_assert_int_eq(net.layer[0].out, 5); ck_assert_int_eq(net.layer[3].in, 4); ck_assert_int_eq(net.layer[3].out, 4);
  ck_assert_int_eq(net.out, 3); ck_assert_int_eq(net.ntensors, 4);
  ck_assert_uint_eq(net.nparams, 5 * 4 + 4 + 4 * 3 + 3);
  /* kinks: the relu and the two leaky_relus (4 wide each), not tanh or sigmoid */
  ck_assert_uint_eq(ref_mask_size(&net, 2), 2 * (4 + 4 + 4));
}
END_TEST

static const struct { const char *text, *msg; } bad_descs[] = {
  {"input 3\nbatch 2\nloss mse\nlinear 1\n", "no optimizer line"},
  {"input 3\nbatch 2\nloss hinge\n", ":3: unknown loss 'hinge'"},
  {"input 3\nbatch 2\nloss mse\nlinear 2\noptimizer sgd lr=0.1\n", "mse needs a last width of 1, got 2"},
  {"input 3\nbatch 2\nloss mse\nlinear x\n", ":4: bad linear width 'x'"},
  {"input 3\nbatch 2\nloss mse\nlinear 1\noptimizer sgd lr=0.1 momentun=0.9\n", ":5: unknown optimizer key 'momentun'"},
  {"input 3\nloss cross_entropy\nlinear 1\noptimizer sgd lr=0.1\n", "no positive batch"},
  {"input 3\nbatch 2\nloss mse\nlinear 1\nleaky_relu\n", ":5: cannot read 'leaky_relu' (1 fields)"},
  {"input 3\nbatch 2\nloss mse\nlinear 1\nleaky_relu 0.1x\n", ":5: bad leaky_relu slope '0.1x'"},
  {"input 3\nbatch 2\nloss mse\nlinear 1\ntanh 1\n", ":5: cannot read 'tanh' (2 fields)"},
  {"input 3\nbatch 2\nloss mse\nlinear 1\nsigmoid -\n", ":5: cannot read 'sigmoid' (2 fields)"},
  {"input 3\nbatch 2\nloss mse\nlinear 2\ntanh\noptimizer sgd lr=0.1\n", "mse needs a last width of 1, got 2"},
  {"input 3\nbatch 2\nloss mse\nbatchnorm\nlinear 1\noptimizer sgd lr=0.1\n", "batchnorm cannot be first"},
  {"input 3\nbatch 2\nloss mse\nlinear 1\nbatchnorm momentun=0.1\n", ":5: bad batchnorm option 'momentun=0.1'"},
  {"input 3\nbatch 2\nloss mse\ndropout 1\nlinear 1\noptimizer sgd lr=0.1\n", "dropout p must be in [0, 1)"},
  {"input 3\nbatch 2\nloss mse\nlinear 1 bias=0 bias=1\n", ":4: linear option 'bias' given twice"},
  {"input 3\nbatch 2\nloss mse\nlinear 1\noptimizer sgd lr=0.1 lr=0.2\n", ":5: optimizer key 'lr' given twice"},
  {"input 3\nbatch 2\nloss mse\nlinear 1\nbatchnorm eps=1e-5 eps=1e-3\n", ":5: batchnorm option 'eps' given twice"},
  {"input 1 5 5\nbatch 2\nloss mse\nconv2d 2 kernel=3 kernel=2\n", ":4: conv2d option 'kernel' given twice"},
  {"input 1 5 5\nbatch 2\nloss mse\nconv2d 2 kernel=3\nmaxpool2d kernel=2 stride=1 stride=2\n", ":5: maxpool2d option 'stride' given twice"},
};

START_TEST(test_desc_bad)
{
  const char *path = write_tmp(bad_descs[_i].text);
  ref_net net;
  char err[300] = "";
  int rc = ref_desc_read(&net, path, err, sizeof err);
  remove(path);
  ck_assert_msg(rc == -1, "case %d accepted", _i);
  ck_assert_msg(strstr(err, bad_descs[_i].msg) != NULL, "case %d: expected '%s' in '%s'", _i, bad_descs[_i].msg, err);
}
END_TEST

int main(int argc, char **argv)
{
  desc_files = argv + 1;
  ndesc = argc - 1;
  Suite *s = suite_create("ref");
  TCase *core = tcase_create("core");
  tcase_set_timeout(core, 60);
  tcase_add_loop_test(core, test_fd_gradients, 0, (int)(sizeof fd_cases / sizeof fd_cases[0]));
  if (ndesc) tcase_add_loop_test(core, test_fd_desc, 0, ndesc);
  tcase_add_loop_test(core, test_fd_conv, 0, (int)(sizeof conv_fd_descs / sizeof conv_fd_descs[0]));
  tcase_add_test(core, test_conv_values);
  tcase_add_loop_test(core, test_fd_modes, 0, (int)(sizeof mode_fd_descs / sizeof mode_fd_descs[0]));
  tcase_add_test(core, test_bn_values);
  tcase_add_test(core, test_dropout_draws);
  tcase_add_test(core, test_fd_leaky_kink);
  tcase_add_test(core, test_loss_values);
  tcase_add_test(core, test_ce_gradient_is_softmax_minus_onehot);
  suite_add_tcase(s, core);
  TCase *act = tcase_create("act");
  tcase_add_test(act, test_act_forward_values);
  tcase_add_test(act, test_act_backward_values);
  suite_add_tcase(s, act);
  TCase *optim = tcase_create("optim");
  tcase_add_test(optim, test_sgd_rules);
  tcase_add_test(optim, test_adam_rules);
  suite_add_tcase(s, optim);
  TCase *errors = tcase_create("errors");
  tcase_add_test(errors, test_desc_good);
  tcase_add_test(errors, test_desc_activations);
  tcase_add_loop_test(errors, test_desc_bad, 0, (int)(sizeof bad_descs / sizeof bad_descs[0]));
  suite_add_tcase(s, errors);
  SRunner *sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
