/* Allocation and deterministic contents of the baselines' LeNet (cnn.h). */
#include "cnn.h"

#include <math.h>

const int cnn_tensor_size[CNN_TENSORS] = {25 * 6, 6, 150 * 16, 16, 400 * 120, 120, 120 * 84, 84, 84 * 10, 10};
static const int fan_in[CNN_TENSORS] = {25, 25, 150, 150, 400, 400, 120, 120, 84, 84};

static float *buf(int n, int per) { return bench_alloc(sizeof(float) * (size_t)n * (size_t)per); }

cnet *cnet_new(int workload)
{
  const bench_workload *w = &bench_workloads[workload];
  cnet *m = bench_alloc(sizeof *m);
  int n = w->batch;
  m->w = w;
  for (int t = 0; t < CNN_TENSORS; t++) {
    m->p[t] = buf(cnn_tensor_size[t], 1);
    m->d[t] = buf(cnn_tensor_size[t], 1);
    bench_fill(m->p[t], (size_t)cnn_tensor_size[t], 1.0f / sqrtf((float)fan_in[t]), 100u + (uint32_t)t);
  }
  m->x = buf(n, 784);
  bench_fill(m->x, (size_t)n * 784, 1.0f, 7u);
  m->c1 = buf(n, 4704); m->gc1 = buf(n, 4704);
  m->p1 = buf(n, 1176); m->gp1 = buf(n, 1176);
  m->c2 = buf(n, 1600); m->gc2 = buf(n, 1600);
  m->p2 = buf(n, 400);  m->gp2 = buf(n, 400);
  m->f1 = buf(n, 120);  m->gf1 = buf(n, 120);
  m->f2 = buf(n, 84);   m->gf2 = buf(n, 84);
  m->out = buf(n, 10);  m->gout = buf(n, 10);
  m->col = buf(150, 784);
  m->label = bench_alloc(sizeof(int32_t) * (size_t)n);
  for (int i = 0; i < n; i++) m->label[i] = (int32_t)((i * 7 + 3) % 10);
  return m;
}
