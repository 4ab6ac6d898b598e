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
 * NAME_step's bits), in the same task as the slice's sum while it is in cache. The task also
 * tests its slice for NaN/Inf, so the trainer scans the gradients only when one was found.
 *
 * With ranks (--distributed), the gradient buffer is cut into one range of floats per rank.
 * Each rank sums its own shards, sends every other rank its partial sum of that rank's range,
 * adds the partial sums of its own range in the tree's order, and tests and steps that range
 * alone; then the ranks copy each other's new parameters. A rank's optimizer state is current
 * for its own range only, so it is copied to every rank before rank 0 writes a checkpoint.
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
  free(sh->weight), free(sh->tmp), free(sh->bad), free(sh->lo), free(sh->len), free(sh->gath);
  tr_pool_free(sh->pool);
  memset(sh, 0, sizeof *sh);
}

/* Floats per rank, rounded to whole 64-byte lines so no two ranks write one line. */
#define RANK_ALIGN 16
/* NAME_opt's public fields, padded: its state buffers start here (NAME_OPT_BYTES). */
#define OPT_HEAD 64

/* ranks > 1: rank r sums (and steps) the floats lo[r] .. lo[r] + len[r] - 1, an even cut of
 * the gradient buffer every rank computes alike; tmp holds the others' partial sums of this
 * rank's floats. Each rank steps only its own floats when the optimizer allows it: with
 * NAME_step_range, and NAME_opt the documented 64 bytes of public fields then NAME_params-
 * shaped state buffers (GENERATED_API.md: NAME_OPT_BYTES), whose floats of a range a rank
 * can send. 0, or -1 out of memory. */
static int split_ranges(tr_shards *sh) {
  const cr_net *net = sh->m->net;
  const int R = sh->ranks;
  sh->lo = calloc((size_t)R + 1, sizeof *sh->lo);
  sh->len = calloc((size_t)R, sizeof *sh->len);
  sh->gath = calloc((size_t)R * (size_t)(sh->local + 1), sizeof *sh->gath);
  if (!sh->lo || !sh->len || !sh->gath) return -1;
  size_t most = 0;
  for (int r = 1; r <= R; r++) {
    sh->lo[r] = r == R ? sh->gfloats
                       : sh->gfloats * (size_t)r / (size_t)R / RANK_ALIGN * RANK_ALIGN;
    sh->len[r - 1] = sh->lo[r] - sh->lo[r - 1];
    if (sh->len[r - 1] > most) most = sh->len[r - 1];
  }
  sh->tmp = cr_alloc((size_t)R * most * sizeof(float));
  if (!sh->tmp) return -1;
  sh->slot = most;
  const size_t pb = net->params_bytes;
  sh->split = net->step_range && net->step_done && pb == net->grads_bytes &&
              net->opt_bytes > OPT_HEAD && (net->opt_bytes - OPT_HEAD) % pb == 0;
  sh->state_copies = sh->split ? (int)((net->opt_bytes - OPT_HEAD) / pb) : 0;
  return 0;
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
  sh->pool = tr_pool_new(threads);
  if (!sh->grads || !sh->work || !sh->loss || !sh->rows || !sh->row0 || !sh->weight ||
      !sh->bad || !sh->pool || (ranks > 1 && split_ranges(sh) != 0)) {
    tr_shards_free(sh);
    return -1;
  }
  sh->grads[0] = m->grads, sh->work[0] = m->work;
  for (int j = 1; j < sh->local; j++) {
    sh->grads[j] = cr_alloc(m->net->grads_bytes);
    sh->work[j] = cr_alloc(m->net->work_bytes);
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
 * only within a statement. NO_CONTRACT keeps tree_sum's products rounded under any gcc
 * flags, so a rank that only scales its shard and the one-process tree round alike. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define NO_CONTRACT
#endif

/* The fixed tree's levels over count operands of n floats, op[0..count-1] in shard (or rank)
 * order; op[i] takes part when live[i] (the empty ones are a suffix). Each level adds
 * op[i + stride] into op[i] in place, stride 1, 2, 4, ...; with w, the first level weighs
 * both of its operands in the loop that adds them (w_i g_i + w_j g_j, each product rounded:
 * separate statements, never contracted into an FMA; NO_CONTRACT). The root's addition
 * writes dst instead of op[0] (the root is copied there when it has none): dst may be one
 * of the operands, as each addition reads and writes element k alone and every operand is
 * read at or before the root's level. The one order of additions for one process's shards
 * and for the ranks' partial sums, so both give the same bits. */
NO_CONTRACT static void tree_sum(float *const *opin, const int *live, int count, const float *w,
                                 size_t n, float *dst) {
  float *op[TR_MAX_SHARDS];
  memcpy(op, opin, (size_t)count * sizeof *op);
  int stride = 1;
  if (w) {
    for (int i = 0; i < count && live[i]; i += 2) {
      float *g = i == 0 && count <= 2 ? dst : op[i];
      const float *p = op[i], wi = w[i];
      if (i + 1 < count && live[i + 1]) {
        const float *h = op[i + 1], wj = w[i + 1];
        for (size_t k = 0; k < n; k++) {
          const float x = p[k] * wi;
          const float y = h[k] * wj;
          g[k] = x + y;
        }
      } else {
        for (size_t k = 0; k < n; k++) g[k] = p[k] * wi;
      }
      op[i] = g;
    }
    stride = 2;
  }
  for (; stride < count; stride *= 2)
    for (int i = 0; i + stride < count; i += 2 * stride) {
      if (!live[i + stride]) continue;
      float *g = i == 0 && 2 * stride >= count ? dst : op[i];
      const float *p = op[i], *h = op[i + stride];
      for (size_t k = 0; k < n; k++) g[k] = p[k] + h[k];
      op[i] = g;
    }
  if (op[0] != dst) memcpy(dst, op[0], n * sizeof *dst);
}

/* Floats a..b-1 of this rank's gradient buffers summed as the levels of the fixed tree below
 * the rank's share (all of it in one process), into its first shard's buffer. */
static void sum_slice(tr_shards *sh, size_t a, size_t b) {
  float *op[TR_MAX_SHARDS];
  for (int i = 0; i < sh->local; i++) op[i] = (float *)sh->grads[i] + a;
  tree_sum(op, sh->rows + sh->s0, sh->local, sh->weight + sh->s0, b - a, op[0]);
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

/* Task c of a rank: slice c summed over the rank's shards (before the exchange). */
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

/* This rank's floats lo .. lo + len - 1 in slices (chunk c: a .. b - 1). */
static int own_chunks(const tr_shards *sh) {
  return (int)((sh->len[sh->rank] + SUM_CHUNK - 1) / SUM_CHUNK);
}

static void own_chunk(const tr_shards *sh, int c, size_t *a, size_t *b) {
  const size_t lo = sh->lo[sh->rank], hi = lo + sh->len[sh->rank];
  *a = lo + (size_t)c * SUM_CHUNK, *b = *a + SUM_CHUNK;
  if (*b > hi) *b = hi;
}

/* Task c of a rank after the exchange: slice c of its own floats summed over the ranks' partial
 * sums as the tree's levels above the ranks' shares (tree_sum: the single-process tree's own
 * additions, so the same bits; with one shard per rank the partial sums arrive unweighted and
 * the first level weighs them). The root lands in the model's gradients, which hold this
 * rank's own operand, so no copy is needed. Then the NaN/Inf test and, when split, the step
 * of the slice. */
static void rank_task(void *ctx, int c) {
  tr_shards *sh = ctx;
  size_t a, b;
  own_chunk(sh, c, &a, &b);
  const size_t off = a - sh->lo[sh->rank], n = b - a;
  float *own = (float *)sh->m->grads + a;
  float *part[TR_MAX_SHARDS];
  int live[TR_MAX_SHARDS];   /* a rank's partial sum takes part when its first shard has rows */
  for (int r = 0; r < sh->ranks; r++) {
    part[r] = r == sh->rank ? own : sh->tmp + (size_t)r * sh->slot + off;
    live[r] = sh->rows[r * sh->local] > 0;
  }
  tree_sum(part, live, sh->ranks, sh->local == 1 ? sh->weight : NULL, n, own);
  if (sh->split) {
    const cr_net *net = sh->m->net;
    sh->bad[c] = cr_first_nonfinite(own, n) >= 0;
    net->step_range(sh->m->params, sh->m->opt, sh->m->grads, a, b);
  }
}

/* The step over the ranks: partial sums exchanged, each rank sums its own floats; split, it
 * tests and steps them, then the ranks copy each other's new parameters, and with them their
 * losses and NaN/Inf flags (copies only); a flag anywhere brings every rank the whole summed
 * gradient, for the trainer's report. Not split: the summed gradient is copied
 * to every rank and each steps all of it. 0, or -1 (MPI failed). */
static int step_ranks(tr_shards *sh) {
  const cr_net *net = sh->m->net;
  const int k = sh->local, R = sh->ranks, me = sh->rank;
  if (k > 1) tr_pool_run(sh->pool, sh->chunks, sum_task, sh);
  /* every rank's partial sum of each range to the range's rank (of a rank without rows in
     this batch too: the receiver leaves it out of the tree) */
  if (sh->dist->exchange(sh->m->grads, sh->lo, sh->len, sh->tmp, sh->slot) != 0) return -1;
  tr_pool_run(sh->pool, own_chunks(sh), rank_task, sh);
  if (!sh->split) {
    if (sh->dist->allgatherv(sh->m->grads, sh->lo, sh->len, sh->loss,
                             (size_t)k * sizeof(float)) != 0)
      return -1;
    tr_pool_run(sh->pool, sh->chunks, step_task, sh);
    if (net->step_range) net->step_done(sh->m->opt);
    else net->step(sh->m->params, sh->m->opt, sh->m->grads);
    sh->nonfinite = 0;
    for (int c = 0; c < sh->chunks; c++) sh->nonfinite |= sh->bad[c];
    return 0;
  }
  float *mine = sh->gath + (size_t)me * (size_t)(k + 1);
  int bad = 0;
  for (int c = 0; c < own_chunks(sh); c++) bad |= sh->bad[c];
  memcpy(mine, sh->loss + sh->s0, (size_t)k * sizeof(float));
  mine[k] = (float)bad;
  if (sh->dist->allgatherv(sh->m->params, sh->lo, sh->len, sh->gath,
                           (size_t)(k + 1) * sizeof(float)) != 0)
    return -1;
  sh->nonfinite = 0;
  for (int r = 0; r < R; r++) {
    const float *theirs = sh->gath + (size_t)r * (size_t)(k + 1);
    memcpy(sh->loss + (size_t)r * (size_t)k, theirs, (size_t)k * sizeof(float));
    sh->nonfinite |= theirs[k] != 0.0f;
  }
  net->step_done(sh->m->opt);
  if (sh->nonfinite && sh->dist->allgatherv(sh->m->grads, sh->lo, sh->len, NULL, 0) != 0)
    return -1;
  return 0;
}

int tr_shards_sync_state(tr_shards *sh) {
  if (sh->ranks == 1 || !sh->split) return 0;
  for (int c = 0; c < sh->state_copies; c++) {
    float *state = (float *)((char *)sh->m->opt + OPT_HEAD + (size_t)c * sh->m->net->params_bytes);
    if (sh->dist->allgatherv(state, sh->lo, sh->len, NULL, 0) != 0) return -1;
  }
  return 0;
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
  if (sh->ranks > 1) {
    if (step_ranks(sh) != 0) return -1;
  } else {
    tr_pool_run(sh->pool, sh->chunks, sum_step_task, sh);
    if (net->step_range) net->step_done(sh->m->opt);
    else net->step(sh->m->params, sh->m->opt, sh->m->grads);
    sh->nonfinite = 0;
    for (int c = 0; c < sh->chunks; c++) sh->nonfinite |= sh->bad[c];
  }
  float l = 0.0f;
  for (int s = 0; s < S && sh->rows[s] > 0; s++) l += sh->weight[s] * sh->loss[s];
  *loss = l;
  return 0;
}
