/* Allocation and deterministic contents of the baselines' networks. */
#include "basenet.h"

#include <math.h>

bnet *bnet_new(int workload)
{
  const bench_workload *w = &bench_workloads[workload];
  bnet *m = bench_alloc(sizeof *m);
  int n = w->batch;
  m->w = w;
  for (int l = 0; l < w->nlin; l++) {
    int K = w->sizes[l], N = w->sizes[l + 1];
    m->W[l] = bench_alloc(sizeof(float) * (size_t)K * N);
    m->dW[l] = bench_alloc(sizeof(float) * (size_t)K * N);
    m->b[l] = bench_alloc(sizeof(float) * (size_t)N);
    m->db[l] = bench_alloc(sizeof(float) * (size_t)N);
    bench_fill(m->W[l], (size_t)K * N, 1.0f / sqrtf((float)K), 100u + (uint32_t)l);
    bench_fill(m->b[l], (size_t)N, 1.0f / sqrtf((float)K), 200u + (uint32_t)l);
  }
  for (int l = 0; l <= w->nlin; l++) {
    m->a[l] = bench_alloc(sizeof(float) * (size_t)n * w->sizes[l]);
    m->g[l] = bench_alloc(sizeof(float) * (size_t)n * w->sizes[l]);
  }
  bench_fill(m->a[0], (size_t)n * w->sizes[0], 1.0f, 7u);
  m->label = bench_alloc(sizeof(int32_t) * (size_t)n);
  m->ymse = bench_alloc(sizeof(float) * (size_t)n);
  for (int i = 0; i < n; i++) m->label[i] = (int32_t)((i * 7 + 3) % w->sizes[w->nlin]);
  bench_fill(m->ymse, (size_t)n, 1.0f, 9u);
  return m;
}
