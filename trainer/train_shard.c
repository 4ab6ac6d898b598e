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
 * The optimizer runs per slice too (NAME_step_range, then one s->t++ by net->step_done:
 * NAME_step's bits), in the same task as the slice's sum while it is in cache — in one
 * process; with ranks, after the sum over the ranks. The task also tests its slice for
 * NaN/Inf, so the trainer scans the gradients only when one was found.
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

void tr_shards_free(tr_shards *sh) {
  if (sh->grads)
    for (int j = 1; j < sh->local; j++) free(sh->grads[j]);
  if (sh->work)
    for (int j = 1; j < sh->local; j++) free(sh->work[j]);
  free(sh->grads), free(sh->work), free(sh->loss), free(sh->rows), free(sh->row0);
  free(sh->weight), free(sh->tmp), free(sh->bad);
  tr_pool_free(sh->pool);
  memset(sh, 0, sizeof *sh);
}

int tr_shards_init(tr_shards *sh, model *m, int shards, int threads, const cr_dist *dist,
                   int rank, int ranks) {
  memset(sh, 0, sizeof *sh);
  sh->m = m;
  sh->shards = shards;
  sh->dist = dist, sh->rank = rank, sh->ranks = ranks;
  sh->local = shards / ranks;              /* the caller checked: a power of two */
  sh->s0 = rank * sh->local;
  sh->gfloats = m->net->grads_bytes / sizeof(float);
  sh->chunks = (int)((sh->gfloats + SUM_CHUNK - 1) / SUM_CHUNK);
  size_t S = (size_t)shards, k = (size_t)sh->local;
  sh->grads = calloc(k, sizeof *sh->grads);
  sh->work = calloc(k, sizeof *sh->work);
  sh->loss = calloc(S, sizeof *sh->loss);
  sh->rows = calloc(S, sizeof *sh->rows);
  sh->row0 = calloc(S, sizeof *sh->row0);
  sh->weight = calloc(S, sizeof *sh->weight);
  sh->bad = calloc((size_t)sh->chunks, sizeof *sh->bad);
  if (ranks > 1) sh->tmp = tr_alloc64(m->net->grads_bytes);
  sh->pool = tr_pool_new(threads);
  if (!sh->grads || !sh->work || !sh->loss || !sh->rows || !sh->row0 || !sh->weight ||
      !sh->bad || !sh->pool || (ranks > 1 && !sh->tmp)) {
    tr_shards_free(sh);
    return -1;
  }
  sh->grads[0] = m->grads, sh->work[0] = m->work;
  for (int j = 1; j < sh->local; j++) {
    sh->grads[j] = tr_alloc64(m->net->grads_bytes);
    sh->work[j] = tr_alloc64(m->net->work_bytes);
    if (!sh->grads[j] || !sh->work[j]) {
      tr_shards_free(sh);
      return -1;
    }
  }
  return 0;
}

/* Shard s draws its dropout masks from stream CR_STREAM_DROPOUT + (s << 24) + epoch: shard 0
 * the unsharded run's stream, and no two (shard, epoch) pairs the same (epochs < 2^24,
 * shards <= TR_MAX_SHARDS <= 256, so the streams stay below CR_STREAM_DROPOUT + 2^32).
 * s is the shard's index in the whole batch, whichever rank runs it. */
void tr_shards_seed(tr_shards *sh, uint64_t seed, uint64_t epoch) {
  const cr_net *net = sh->m->net;
  if (!net->seed) return;
  for (int j = 0; j < sh->local; j++)
    net->seed(sh->work[j], seed, CR_STREAM_DROPOUT + ((uint64_t)(sh->s0 + j) << 24) + epoch);
}

/* Task j: the training forward and backward of this rank's shard j (its rows gathered
 * first when the batcher defers that). */
static void shard_task(void *ctx, int j) {
  tr_shards *sh = ctx;
  const int s = sh->s0 + j;
  if (sh->rows[s] == 0) return;
  const model *m = sh->m;
  const cr_net *net = m->net;
  const float *x = sh->x + (size_t)sh->row0[s] * (size_t)net->in;
  const void *t = (const char *)m->targets + (size_t)sh->row0[s] * 4;  /* int32 or float */
  float *out = m->out + (size_t)sh->row0[s] * (size_t)net->out;
  if (sh->batcher) cr_batcher_gather(sh->batcher, sh->row0[s], sh->row0[s] + sh->rows[s]);
  net->forward_train(out, sh->work[j], m->params, x, sh->rows[s]);
  sh->loss[s] = net->backward(sh->grads[j], NULL, sh->work[j], m->params, x, t, sh->rows[s]);
}

/* gcc in its default GNU mode (-std=gnu11, -ffp-contract=fast) fuses a product and a sum
 * of separate statements into an FMA when the target has one; clang and gcc -std=c11 fuse
 * only within a statement. NO_CONTRACT keeps sum_slice's products rounded under any gcc
 * flags, so a rank that only scales its shard and the one-process tree round alike. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define NO_CONTRACT
#endif

/* Floats a..b-1 of this rank's gradient buffers, weighted and summed as the levels of the
 * fixed tree below the rank's share (all of it in one process). The first level weighs
 * both of its operands in the loop that adds them (w_i g_i + w_j g_j, each product rounded:
 * separate statements, never contracted into an FMA; NO_CONTRACT). */
NO_CONTRACT static void sum_slice(tr_shards *sh, size_t a, size_t b) {
  const int *rows = sh->rows + sh->s0;
  const float *wt = sh->weight + sh->s0;
  for (int i = 0; i < sh->local && rows[i] > 0; i += 2) {   /* empty shards are a suffix */
    float *g = (float *)sh->grads[i];
    const float wi = wt[i];
    if (i + 1 < sh->local && rows[i + 1] > 0) {
      const float *h = (const float *)sh->grads[i + 1], wj = wt[i + 1];
      for (size_t k = a; k < b; k++) {
        const float x = g[k] * wi;
        const float y = h[k] * wj;
        g[k] = x + y;
      }
    } else {
      for (size_t k = a; k < b; k++) g[k] *= wi;
    }
  }
  for (int stride = 2; stride < sh->local; stride *= 2)
    for (int i = 0; i + stride < sh->local; i += 2 * stride) {
      if (rows[i + stride] == 0) continue;
      float *g = (float *)sh->grads[i];
      const float *h = (const float *)sh->grads[i + stride];
      for (size_t k = a; k < b; k++) g[k] += h[k];
    }
}

/* The summed gradient's floats a..b-1 (chunk c): NaN/Inf noted in bad[c], then the
 * optimizer's update of those floats (when the network has NAME_step_range). */
static void step_slice(tr_shards *sh, int c, size_t a, size_t b) {
  const cr_net *net = sh->m->net;
  sh->bad[c] = cr_first_nonfinite((const float *)sh->m->grads + a, b - a) >= 0;
  if (net->step_range) net->step_range(sh->m->params, sh->m->opt, sh->m->grads, a, b);
}

static void chunk(const tr_shards *sh, int c, size_t *a, size_t *b) {
  *a = (size_t)c * SUM_CHUNK, *b = *a + SUM_CHUNK;
  if (*b > sh->gfloats) *b = sh->gfloats;
}

/* Task c of one process: slice c summed and stepped. */
static void sum_step_task(void *ctx, int c) {
  tr_shards *sh = ctx;
  size_t a, b;
  chunk(sh, c, &a, &b);
  sum_slice(sh, a, b);
  step_slice(sh, c, a, b);
}

/* Task c of a rank: slice c summed over the rank's shards (then sum_ranks, step_task). */
static void sum_task(void *ctx, int c) {
  tr_shards *sh = ctx;
  size_t a, b;
  chunk(sh, c, &a, &b);
  sum_slice(sh, a, b);
}

static void step_task(void *ctx, int c) {
  tr_shards *sh = ctx;
  size_t a, b;
  chunk(sh, c, &a, &b);
  step_slice(sh, c, a, b);
}

/* The levels of the tree above the ranks' shares: rank i takes in rank i + stride's partial
 * sum (its shares' root, shard (i + stride)·local), stride 1, 2, 4, ... — the single-process
 * tree's own additions, so the same bits; then rank 0's sum and every shard's loss go to
 * all ranks by copies (MPI_Bcast, MPI_Allgather: no arithmetic). 0, or -1 (MPI failed). */
static int sum_ranks(tr_shards *sh) {
  float *g = (float *)sh->m->grads;
  const size_t n = sh->gfloats;
  const int k = sh->local;
  for (int stride = 1; stride < sh->ranks; stride *= 2) {
    if (sh->rank % (2 * stride) == 0) {
      int from = sh->rank + stride;
      if (from >= sh->ranks || sh->rows[from * k] == 0) continue;
      if (sh->dist->recv(sh->tmp, n, from) != 0) return -1;
      for (size_t i = 0; i < n; i++) g[i] += sh->tmp[i];
    } else if (sh->rank % (2 * stride) == stride) {
      if (sh->rows[sh->rank * k] > 0 && sh->dist->send(g, n, sh->rank - stride) != 0) return -1;
      break;
    }
  }
  if (sh->dist->bcast(g, n * sizeof(float)) != 0) return -1;
  return sh->dist->allgather(sh->loss + sh->s0, sh->loss, (size_t)k * sizeof(float));
}

int tr_shards_step(tr_shards *sh, const float *x, int n, float *loss) {
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
  tr_pool_run(sh->pool, sh->local, shard_task, sh);
  if (sh->ranks == 1) {
    tr_pool_run(sh->pool, sh->chunks, sum_step_task, sh);
  } else {
    tr_pool_run(sh->pool, sh->chunks, sum_task, sh);
    if (sum_ranks(sh) != 0) return -1;
    tr_pool_run(sh->pool, sh->chunks, step_task, sh);
  }
  if (net->step_range) net->step_done(sh->m->opt);
  else net->step(sh->m->params, sh->m->opt, sh->m->grads);
  sh->nonfinite = 0;
  for (int c = 0; c < sh->chunks; c++) sh->nonfinite |= sh->bad[c];
  float l = 0.0f;
  for (int s = 0; s < S && sh->rows[s] > 0; s++) l += sh->weight[s] * sh->loss[s];
  *loss = l;
  return 0;
}
