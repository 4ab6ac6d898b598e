/* train_shard.c — one training step with the batch cut into S shards (train --shards S),
 * run on a thread pool (train_pool.c, --threads T).
 *
 * Each shard s has its own NAME_work and NAME_grads; its rows run the training forward and
 * NAME_backward there, which leaves the gradient of the shard's mean loss. The step's
 * gradient is then
 *     g = sum over shards of w_s · g_s,   w_s = (float)n_s / (float)n,
 * each w_s · g_s rounded once, summed as a fixed binary tree (shard i takes in shard i +
 * stride, stride 1, 2, 4, ...), into the model's own buffer (shard 0's), and one NAME_step
 * applies it. Nothing here depends on which thread ran what: a shard writes only its work,
 * its gradients and its rows of the output; the tree runs per slice of the gradient buffer,
 * each element summed in the same order. So the bits depend on S, never on T.
 *
 * The rows of a batch of n are split as evenly as possible, in order, larger shards first:
 * the first n mod S shards get floor(n/S) + 1 rows, the others floor(n/S). When S divides n (every full batch: the trainer
 * requires S to divide --batch) the shards are equal and, S a power of two, w_s = 1/S exactly.
 * A last partial batch of fewer rows than S leaves the last shards empty; they are left out
 * of the tree. */
#define _POSIX_C_SOURCE 200809L
#include "train_internal.h"

#include <stdlib.h>
#include <string.h>

/* Floats of the gradient buffer per summing task: 64 KB, a multiple of any vector. */
#define SUM_CHUNK 16384

static void *zalloc64(size_t bytes) {
  size_t b = (bytes + 63) / 64 * 64;
  void *p = aligned_alloc(64, b ? b : 64);
  if (p) memset(p, 0, b ? b : 64);
  return p;
}

void tr_shards_free(tr_shards *sh) {
  if (sh->grads)
    for (int s = 1; s < sh->shards; s++) free(sh->grads[s]);
  if (sh->work)
    for (int s = 1; s < sh->shards; s++) free(sh->work[s]);
  free(sh->grads), free(sh->work), free(sh->loss), free(sh->rows), free(sh->row0);
  free(sh->weight);
  tr_pool_free(sh->pool);
  memset(sh, 0, sizeof *sh);
}

int tr_shards_init(tr_shards *sh, model *m, int shards, int threads) {
  memset(sh, 0, sizeof *sh);
  sh->m = m;
  sh->shards = shards;
  sh->gfloats = m->net->grads_bytes / sizeof(float);
  size_t S = (size_t)shards;
  sh->grads = calloc(S, sizeof *sh->grads);
  sh->work = calloc(S, sizeof *sh->work);
  sh->loss = calloc(S, sizeof *sh->loss);
  sh->rows = calloc(S, sizeof *sh->rows);
  sh->row0 = calloc(S, sizeof *sh->row0);
  sh->weight = calloc(S, sizeof *sh->weight);
  sh->pool = tr_pool_new(threads);
  if (!sh->grads || !sh->work || !sh->loss || !sh->rows || !sh->row0 || !sh->weight ||
      !sh->pool) {
    tr_shards_free(sh);
    return -1;
  }
  sh->grads[0] = m->grads, sh->work[0] = m->work;
  for (int s = 1; s < shards; s++) {
    sh->grads[s] = zalloc64(m->net->grads_bytes);
    sh->work[s] = zalloc64(m->net->work_bytes);
    if (!sh->grads[s] || !sh->work[s]) {
      tr_shards_free(sh);
      return -1;
    }
  }
  return 0;
}

/* Shard s draws its dropout masks from stream CR_STREAM_DROPOUT + (s << 24) + epoch: shard 0
 * the unsharded run's stream, and no two (shard, epoch) pairs the same (epochs < 2^24,
 * shards <= TR_MAX_SHARDS <= 256, so the streams stay below CR_STREAM_DROPOUT + 2^32). */
void tr_shards_seed(tr_shards *sh, uint64_t seed, uint64_t epoch) {
  const cr_net *net = sh->m->net;
  if (!net->seed) return;
  for (int s = 0; s < sh->shards; s++)
    net->seed(sh->work[s], seed, CR_STREAM_DROPOUT + ((uint64_t)s << 24) + epoch);
}

/* Task s: the training forward and backward of shard s. */
static void shard_task(void *ctx, int s) {
  tr_shards *sh = ctx;
  if (sh->rows[s] == 0) return;
  const model *m = sh->m;
  const cr_net *net = m->net;
  const float *x = sh->x + (size_t)sh->row0[s] * (size_t)net->in;
  const void *t = (const char *)m->targets + (size_t)sh->row0[s] * 4;  /* int32 or float */
  float *out = m->out + (size_t)sh->row0[s] * (size_t)net->out;
  net->forward_train(out, sh->work[s], m->params, x, sh->rows[s]);
  sh->loss[s] = net->backward(sh->grads[s], NULL, sh->work[s], m->params, x, t, sh->rows[s]);
}

/* Task c: slice c of the gradient buffers, weighted and summed as the fixed tree. */
static void sum_task(void *ctx, int c) {
  tr_shards *sh = ctx;
  size_t a = (size_t)c * SUM_CHUNK, b = a + SUM_CHUNK;
  if (b > sh->gfloats) b = sh->gfloats;
  for (int s = 0; s < sh->shards && sh->rows[s] > 0; s++) {
    float *g = (float *)sh->grads[s], w = sh->weight[s];
    for (size_t k = a; k < b; k++) g[k] *= w;
  }
  for (int stride = 1; stride < sh->shards; stride *= 2)
    for (int i = 0; i + stride < sh->shards; i += 2 * stride) {
      if (sh->rows[i + stride] == 0) continue;   /* empty shards are a suffix */
      float *g = (float *)sh->grads[i];
      const float *h = (const float *)sh->grads[i + stride];
      for (size_t k = a; k < b; k++) g[k] += h[k];
    }
}

float tr_shards_step(tr_shards *sh, const float *x, int n) {
  const cr_net *net = sh->m->net;
  const int S = sh->shards;
  const int q = n / S, extra = n % S;   /* the first `extra` shards take q + 1 rows */
  for (int s = 0, row = 0; s < S; s++) {
    sh->row0[s] = row;
    sh->rows[s] = q + (s < extra);
    sh->weight[s] = (float)sh->rows[s] / (float)n;
    row += sh->rows[s];
  }
  sh->x = x;
  tr_pool_run(sh->pool, S, shard_task, sh);
  tr_pool_run(sh->pool, (int)((sh->gfloats + SUM_CHUNK - 1) / SUM_CHUNK), sum_task, sh);
  net->step(sh->m->params, sh->m->opt, sh->m->grads);
  float loss = 0.0f;
  for (int s = 0; s < S && sh->rows[s] > 0; s++) loss += sh->weight[s] * sh->loss[s];
  return loss;
}
