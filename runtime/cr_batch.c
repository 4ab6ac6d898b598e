/* Batching: seeded Fisher-Yates shuffle per epoch, partial last batch or drop_last. */
#include "cr_internal.h"

#include <stdlib.h>
#include <string.h>

int cr_batcher_init(cr_batcher *b, const cr_dataset *d, int batch, int shuffle, int drop_last,
                    uint64_t seed, cr_err *e) {
  memset(b, 0, sizeof *b);
  if (batch < 1) return cr_errf(e, "batcher: batch size must be >= 1, got %d", batch);
  if (d->n > UINT32_MAX) return cr_errf(e, "batcher: %zu samples (at most 2^32 - 1)", d->n);
  b->d = d;
  b->batch = batch;
  b->shuffle = shuffle != 0;
  b->drop_last = drop_last != 0;
  b->seed = seed;
  if (!b->shuffle) return 0;
  size_t xb, order;
  if (cr_size_mul((size_t)batch, d->dim, &xb) || cr_size_mul(xb, sizeof(float), &xb) ||
      cr_size_mul(d->n, sizeof(size_t), &order)) {
    memset(b, 0, sizeof *b);
    return cr_errf(e, "batcher: batch of %d x %zu values overflows", batch, d->dim);
  }
  b->order = malloc(order ? order : 1);
  b->xbuf = malloc(xb ? xb : 1);
  b->ybuf = malloc((size_t)batch);
  if (!b->order || !b->xbuf || !b->ybuf) {
    cr_batcher_free(b);
    return cr_errf(e, "batcher: out of memory for a batch of %d x %zu values", batch, d->dim);
  }
  return 0;
}

static void draw_order(cr_batcher *b) {
  size_t n = b->d->n;
  for (size_t i = 0; i < n; i++) b->order[i] = i;
  cr_rng r;
  cr_rng_seed(&r, b->seed, CR_STREAM_SHUFFLE + b->epoch);
  for (size_t i = n; i > 1; i--) {
    size_t j = cr_rng_bounded(&r, (uint32_t)i);
    size_t t = b->order[i - 1];
    b->order[i - 1] = b->order[j];
    b->order[j] = t;
  }
}

int cr_batcher_next(cr_batcher *b, const float **x, const uint8_t **y, int *n) {
  const cr_dataset *d = b->d;
  if (!b->started) {
    if (b->shuffle) draw_order(b);
    b->started = 1;
    b->pos = 0;
  }
  size_t left = d->n - b->pos;
  size_t take = left < (size_t)b->batch ? left : (size_t)b->batch;
  if (take == 0 || (b->drop_last && take < (size_t)b->batch)) {
    /* Epoch over: the next call starts the next one. */
    b->started = 0;
    b->epoch++;
    *x = NULL;
    *y = NULL;
    *n = 0;
    return 0;
  }
  if (!b->shuffle) {
    *x = d->x + b->pos * d->dim;
    *y = d->y + b->pos;
  } else {
    for (size_t i = 0; i < take; i++) b->ybuf[i] = d->y[b->order[b->pos + i]];
    b->cur = b->pos;
    if (!b->defer_x) cr_batcher_gather(b, 0, (int)take);
    *x = b->xbuf;
    *y = b->ybuf;
  }
  b->pos += take;
  *n = (int)take;
  return 1;
}

void cr_batcher_prefetch(const cr_batcher *b, int r) {
#if defined(__GNUC__) || defined(__clang__)
  const cr_dataset *d = b->d;
  size_t k = b->cur + (size_t)r;
  if (!b->shuffle || r < 0 || r >= b->batch || k >= d->n) return;
  const char *p = (const char *)(d->x + b->order[k] * d->dim);
  size_t bytes = d->dim * sizeof(float);
  for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o, 0, 3);
  __builtin_prefetch(p + bytes - 1, 0, 3);
#else
  (void)b, (void)r;
#endif
}

void cr_batcher_gather_to(const cr_batcher *b, float *dst, int r0, int r1) {
  if (!b->shuffle) return;
  const cr_dataset *d = b->d;
  for (int i = r0; i < r1; i++) {
    size_t s = b->order[b->cur + (size_t)i];
    memcpy(dst + (size_t)i * d->dim, d->x + s * d->dim, d->dim * sizeof(float));
  }
}

void cr_batcher_gather(const cr_batcher *b, int r0, int r1) { cr_batcher_gather_to(b, b->xbuf, r0, r1); }

void cr_batcher_set_epoch(cr_batcher *b, uint64_t epoch) {
  b->epoch = epoch;
  b->started = 0;
  b->pos = 0;
}

size_t cr_batcher_batches(const cr_batcher *b) {
  size_t n = b->d->n, B = (size_t)b->batch;
  return b->drop_last ? n / B : (n + B - 1) / B;
}

void cr_batcher_free(cr_batcher *b) {
  if (!b) return;
  free(b->order);
  free(b->xbuf);
  free(b->ybuf);
  memset(b, 0, sizeof *b);
}
