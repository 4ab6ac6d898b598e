/* Batching: coverage of every sample per epoch, shuffling, partial batches, drop_last. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt_test.h"

/* n samples of 3 values; x[i][0] = i identifies the sample, y = i % 256. */
static cr_dataset make_id_set(size_t n) {
  cr_dataset d = {n, 3, 1, 3, malloc(n * 3 * sizeof(float) + 1), malloc(n + 1), 0};
  for (size_t i = 0; i < n; i++) {
    d.x[i * 3] = (float)i;
    d.x[i * 3 + 1] = (float)i * 2;
    d.x[i * 3 + 2] = -(float)i;
    d.y[i] = (uint8_t)(i % 256);
  }
  return d;
}

/* One epoch: sample ids in order into ids[], batch sizes into sizes[]; returns batches. */
static int epoch(cr_batcher *b, size_t *ids, int *sizes, size_t *total) {
  const float *x;
  const uint8_t *y;
  int n, k = 0;
  *total = 0;
  while (cr_batcher_next(b, &x, &y, &n)) {
    for (int i = 0; i < n; i++) {
      size_t id = (size_t)x[i * 3];
      ck_assert_msg(x[i * 3 + 1] == (float)id * 2 && x[i * 3 + 2] == -(float)id, "row %zu torn", id);
      ck_assert_uint_eq(y[i], id % 256);
      ids[(*total)++] = id;
    }
    sizes[k++] = n;
  }
  ck_assert_int_eq(n, 0);
  return k;
}

START_TEST(test_partial_and_drop_last) {
  /* _i: 0 in order, 1 shuffled. n = 10, batch 4: 4 4 2, or 4 4 with drop_last. */
  cr_dataset d = make_id_set(10);
  size_t ids[10];
  int sizes[10];
  size_t total;
  cr_err e;
  for (int drop = 0; drop < 2; drop++) {
    cr_batcher b;
    ck_assert_msg(cr_batcher_init(&b, &d, 4, _i, drop, 7, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(cr_batcher_batches(&b), drop ? 2 : 3);
    for (int ep = 0; ep < 3; ep++) {
      int k = epoch(&b, ids, sizes, &total);
      ck_assert_int_eq(k, drop ? 2 : 3);
      ck_assert_int_eq(sizes[0], 4);
      ck_assert_int_eq(sizes[1], 4);
      if (!drop) ck_assert_int_eq(sizes[2], 2);
      ck_assert_uint_eq(total, drop ? 8 : 10);
      /* Without drop_last every sample exactly once. */
      if (!drop) {
        int seen[10] = {0};
        for (size_t i = 0; i < total; i++) seen[ids[i]]++;
        for (int i = 0; i < 10; i++) ck_assert_msg(seen[i] == 1, "sample %d seen %d times", i, seen[i]);
      }
      if (!_i)
        for (size_t i = 0; i < total; i++) ck_assert_uint_eq(ids[i], i);
    }
    cr_batcher_free(&b);
  }
  cr_dataset_free(&d);
}
END_TEST

START_TEST(test_zero_copy_in_order) {
  cr_dataset d = make_id_set(9);
  cr_batcher b;
  cr_err e;
  ck_assert_int_eq(cr_batcher_init(&b, &d, 4, 0, 0, 0, &e), 0);
  const float *x;
  const uint8_t *y;
  int n;
  for (size_t pos = 0; pos < 9; pos += 4) {
    ck_assert_int_eq(cr_batcher_next(&b, &x, &y, &n), 1);
    ck_assert_ptr_eq(x, d.x + pos * 3);
    ck_assert_ptr_eq(y, d.y + pos);
  }
  ck_assert_int_eq(cr_batcher_next(&b, &x, &y, &n), 0);
  cr_batcher_free(&b);
  cr_dataset_free(&d);
}
END_TEST

/* Two shuffled batchers of batch B over d with the same seed: a copies its rows in next,
   b defers them (defer_x: the caller gathers). */
static void copying_and_deferred(cr_dataset *d, int B, uint64_t seed, cr_batcher *a, cr_batcher *b) {
  cr_err e;
  ck_assert_msg(cr_batcher_init(a, d, B, 1, 0, seed, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_batcher_init(b, d, B, 1, 0, seed, &e) == 0, "%s", e.msg);
  b->defer_x = 1;
}

/* defer_x: next copies the labels only; gather in two pieces, last rows first, gives the
   rows of the batcher that copies them itself (the buffer is poisoned before each batch). */
START_TEST(test_deferred_gather) {
  enum { N = 50, B = 8 };
  cr_dataset d = make_id_set(N);
  cr_batcher a, b;
  copying_and_deferred(&d, B, 5, &a, &b);
  const float *xa, *xb;
  const uint8_t *ya, *yb;
  int na, nb, batches = 0;
  for (;;) {
    for (int i = 0; i < B * 3; i++) b.xbuf[i] = -1.0f;
    int more = cr_batcher_next(&a, &xa, &ya, &na);
    ck_assert_int_eq(cr_batcher_next(&b, &xb, &yb, &nb), more);
    if (!more) break;
    ck_assert_int_eq(na, nb);
    ck_assert_mem_eq(ya, yb, (size_t)na);
    ck_assert_msg(xb[0] == -1.0f, "deferred next gathered rows");
    cr_batcher_gather(&b, na / 2, na);
    cr_batcher_gather(&b, 0, na / 2);
    ck_assert_mem_eq(xa, xb, (size_t)na * 3 * sizeof(float));
    batches++;
  }
  ck_assert_int_eq(batches, 7);   /* 6 of 8 and one of 2 */
  cr_batcher_free(&a);
  cr_batcher_free(&b);
  cr_dataset_free(&d);
}
END_TEST

/* cr_batcher_prefetch is a hint: rows gathered one by one with the next (and out-of-range)
   rows prefetched in between are the rows of the batcher that copies them itself, and an
   unshuffled batcher ignores it (its x points into the data set). */
START_TEST(test_prefetch_is_a_hint) {
  enum { N = 50, B = 8 };
  cr_dataset d = make_id_set(N);
  cr_batcher a, b;
  copying_and_deferred(&d, B, 9, &a, &b);
  const float *xa, *xb;
  const uint8_t *ya, *yb;
  int na, nb;
  while (cr_batcher_next(&a, &xa, &ya, &na)) {
    ck_assert_int_eq(cr_batcher_next(&b, &xb, &yb, &nb), 1);
    for (int i = 0; i < B * 3; i++) b.xbuf[i] = -1.0f;
    cr_batcher_prefetch(&b, -1);
    cr_batcher_prefetch(&b, 0);
    for (int r = 0; r < nb; r++) {
      cr_batcher_gather(&b, r, r + 1);
      cr_batcher_prefetch(&b, r + 1);
      cr_batcher_prefetch(&b, B + r);
    }
    ck_assert_mem_eq(xa, xb, (size_t)na * 3 * sizeof(float));
  }
  cr_batcher_free(&a);
  cr_batcher_free(&b);
  cr_err e;
  ck_assert_int_eq(cr_batcher_init(&a, &d, B, 0, 0, 9, &e), 0);
  ck_assert_int_eq(cr_batcher_next(&a, &xa, &ya, &na), 1);
  cr_batcher_prefetch(&a, 0);
  ck_assert_ptr_eq(xa, d.x);
  cr_batcher_free(&a);
  cr_dataset_free(&d);
}
END_TEST

START_TEST(test_shuffle_orders) {
  enum { N = 1000 };
  cr_dataset d = make_id_set(N);
  static size_t a0[N], a1[N], b0[N], c0[N], r1[N];
  int sizes[N];
  size_t t;
  cr_batcher a, b, c, r;
  cr_err e;
  ck_assert_int_eq(cr_batcher_init(&a, &d, 32, 1, 0, 42, &e), 0);
  ck_assert_int_eq(cr_batcher_init(&b, &d, 32, 1, 0, 42, &e), 0);
  ck_assert_int_eq(cr_batcher_init(&c, &d, 32, 1, 0, 43, &e), 0);
  ck_assert_int_eq(cr_batcher_init(&r, &d, 32, 1, 0, 42, &e), 0);
  epoch(&a, a0, sizes, &t);
  epoch(&a, a1, sizes, &t);
  epoch(&b, b0, sizes, &t);
  epoch(&c, c0, sizes, &t);
  cr_batcher_set_epoch(&r, 1);
  epoch(&r, r1, sizes, &t);
  ck_assert_msg(memcmp(a0, b0, sizeof a0) == 0, "same seed must give the same order");
  ck_assert_msg(memcmp(a0, a1, sizeof a0) != 0, "epochs must be reshuffled");
  ck_assert_msg(memcmp(a0, c0, sizeof a0) != 0, "another seed must give another order");
  ck_assert_msg(memcmp(a1, r1, sizeof a1) == 0, "set_epoch(1) must reproduce epoch 1");
  size_t fixed = 0;
  for (size_t i = 0; i < N; i++) fixed += a0[i] == i;
  /* Fixed points of a random permutation: Poisson(1); 10 or more has p < 1e-7. */
  ck_assert_msg(fixed < 10, "%zu samples stayed in place: not shuffled", fixed);
  cr_batcher_free(&a);
  cr_batcher_free(&b);
  cr_batcher_free(&c);
  cr_batcher_free(&r);
  cr_dataset_free(&d);
}
END_TEST

START_TEST(test_fisher_yates_uniform) {
  /* n = 4, batch 4: over 2400 epochs each of the 24 permutations should appear ~100
     times; each count is Binomial(2400, 1/24), SE sqrt(2400/24 * 23/24) ~ 9.8. */
  enum { EPOCHS = 2400 };
  cr_dataset d = make_id_set(4);
  cr_batcher b;
  cr_err e;
  ck_assert_int_eq(cr_batcher_init(&b, &d, 4, 1, 0, 2024, &e), 0);
  int count[256] = {0};
  const float *x;
  const uint8_t *y;
  int n;
  for (int ep = 0; ep < EPOCHS; ep++) {
    ck_assert_int_eq(cr_batcher_next(&b, &x, &y, &n), 1);
    ck_assert_int_eq(n, 4);
    int code = 0;
    for (int i = 0; i < 4; i++) code = code * 4 + y[i];
    count[code]++;
    ck_assert_int_eq(cr_batcher_next(&b, &x, &y, &n), 0);
  }
  int distinct = 0;
  double se = sqrt(EPOCHS / 24.0 * 23.0 / 24.0);
  for (int c = 0; c < 256; c++) {
    if (!count[c]) continue;
    distinct++;
    ck_assert_msg(fabs(count[c] - EPOCHS / 24.0) < 5 * se, "permutation %d drawn %d times", c, count[c]);
  }
  ck_assert_int_eq(distinct, 24);
  cr_batcher_free(&b);
  cr_dataset_free(&d);
}
END_TEST

START_TEST(test_batcher_limits) {
  cr_dataset d = make_id_set(3);
  cr_batcher b;
  cr_err e;
  const float *x;
  const uint8_t *y;
  int n;
  ck_assert_err(cr_batcher_init(&b, &d, 0, 1, 0, 0, &e), e, "batcher", "batch size must be >= 1");
  /* drop_last with n < batch: every epoch is empty. */
  ck_assert_int_eq(cr_batcher_init(&b, &d, 4, 1, 1, 0, &e), 0);
  ck_assert_uint_eq(cr_batcher_batches(&b), 0);
  ck_assert_int_eq(cr_batcher_next(&b, &x, &y, &n), 0);
  ck_assert_int_eq(cr_batcher_next(&b, &x, &y, &n), 0);
  cr_batcher_free(&b);
  /* batch larger than n without drop_last: one batch of n. */
  ck_assert_int_eq(cr_batcher_init(&b, &d, 100, 1, 0, 0, &e), 0);
  ck_assert_int_eq(cr_batcher_next(&b, &x, &y, &n), 1);
  ck_assert_int_eq(n, 3);
  ck_assert_int_eq(cr_batcher_next(&b, &x, &y, &n), 0);
  cr_batcher_free(&b);
  /* batch 1. */
  ck_assert_int_eq(cr_batcher_init(&b, &d, 1, 0, 0, 0, &e), 0);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(cr_batcher_next(&b, &x, &y, &n), 1);
    ck_assert_int_eq(n, 1);
  }
  ck_assert_int_eq(cr_batcher_next(&b, &x, &y, &n), 0);
  cr_batcher_free(&b);
  cr_dataset_free(&d);
}
END_TEST

Suite *suite_batch(void) {
  Suite *s = suite_create("batch");
  TCase *core = tcase_create("core");
  tcase_add_loop_test(core, test_partial_and_drop_last, 0, 2);
  tcase_add_test(core, test_zero_copy_in_order);
  tcase_add_test(core, test_deferred_gather);
  tcase_add_test(core, test_prefetch_is_a_hint);
  tcase_add_test(core, test_shuffle_orders);
  tcase_add_test(core, test_fisher_yates_uniform);
  tcase_set_timeout(core, 60);   /* statistical tests: ~1e6 draws under ASan, on a busy machine */
  suite_add_tcase(s, core);
  TCase *limits = tcase_create("limits");
  tcase_add_test(limits, test_batcher_limits);
  suite_add_tcase(s, limits);
  return s;
}
