/* FANN baseline. FANN 2.2 has no batch API, no ReLU and no softmax: a "train step" here is
 * fann_train (incremental backprop, one weight update per sample) called for each of the B
 * rows, and forward is fann_run per row. Hidden layers use FANN_SIGMOID_SYMMETRIC, the
 * output FANN_LINEAR (MSE net) or FANN_SIGMOID (classifier, FANN's MSE error), so the
 * arithmetic per sample is comparable but not identical to the other rows. */
#include "baselines.h"

#include <floatfann.h>
#include <stdlib.h>

typedef struct {
  struct fann *ann;
  const bench_workload *w;
  float *x, *y;     /* [B][in], [B][out] */
} fann_ctx;

void *fann_bench_new(int workload)
{
  const bench_workload *w = &bench_workloads[workload];
  fann_ctx *c = bench_alloc(sizeof *c);
  c->w = w;
  unsigned sz[4];
  for (int l = 0; l <= w->nlin; l++) sz[l] = (unsigned)w->sizes[l];
  c->ann = fann_create_standard_array((unsigned)w->nlin + 1, sz);
  if (!c->ann) { fprintf(stderr, "bench: fann_create_standard_array failed\n"); exit(1); }
  fann_set_activation_function_hidden(c->ann, FANN_SIGMOID_SYMMETRIC);
  fann_set_activation_function_output(c->ann, w->mse ? FANN_LINEAR : FANN_SIGMOID);
  fann_set_training_algorithm(c->ann, FANN_TRAIN_INCREMENTAL);
  fann_set_learning_rate(c->ann, BENCH_LR);
  fann_randomize_weights(c->ann, -0.05f, 0.05f);
  int in = w->sizes[0], out = w->sizes[w->nlin];
  c->x = bench_alloc(sizeof(float) * (size_t)w->batch * in);
  c->y = bench_alloc(sizeof(float) * (size_t)w->batch * out);
  bench_fill(c->x, (size_t)w->batch * in, 1.0f, 7u);
  for (int i = 0; i < w->batch; i++) c->y[i * out + (i * 7 + 3) % out] = 1.0f;
  return c;
}

void fann_bench_run(void *ctx)
{
  fann_ctx *c = ctx;
  int in = c->w->sizes[0], out = c->w->sizes[c->w->nlin];
  for (int i = 0; i < c->w->batch; i++) {
    if (c->w->train) fann_train(c->ann, c->x + (size_t)i * in, c->y + (size_t)i * out);
    else (void)fann_run(c->ann, c->x + (size_t)i * in);
  }
}

void fann_bench_free(void *ctx)
{
  fann_ctx *c = ctx;
  fann_destroy(c->ann);
  free(c->x); free(c->y); free(c);
}
