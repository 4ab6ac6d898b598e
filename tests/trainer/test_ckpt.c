/* Check suite for the trainer's pieces: checkpoints (runtime/cr_ckpt.c), CRC-32,
 * metrics CSV, the non-finite scan, mean/std, unlabelled inputs for predict, the init
 * report's naive activations. Run by `make test-trainer` (ASan + UBSan).
 * CR_TEST_TMP names a scratch directory (default /tmp). */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_train.h"
#include "train_internal.h"

static char tmpdir[512];

static void path_of(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)n + 1);
  *len = fread(b, 1, (size_t)n, f);
  fclose(f);
  return b;
}

static void spit(const char *path, const unsigned char *b, size_t len) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(b, 1, len, f), len);
  fclose(f);
}

/* A small "network": three parts of known contents. */
typedef struct {
  float w[37];
  unsigned char opt[13];
  float norm[2];
} state;

static void fill(state *s, float k) {
  memset(s, 0, sizeof *s); /* padding too, so whole-struct memcmp is meaningful */
  for (int i = 0; i < 37; i++) s->w[i] = k * (float)i - 3.0f;
  for (int i = 0; i < 13; i++) s->opt[i] = (unsigned char)(k * 7 + i);
  s->norm[0] = 0.13f, s->norm[1] = 0.31f;
}

static void setup(state *s, cr_ckpt_id *id, cr_ckpt_part parts[3]) {
  static const cr_shape shapes[2] = {{"0.weight", 6, 6}, {"0.bias", 1, 1}};
  id->net = "toy";
  id->param_count = 37;
  id->shapes_hash = cr_shapes_hash(shapes, 2);
  parts[0] = (cr_ckpt_part){"params", s->w, sizeof s->w};
  parts[1] = (cr_ckpt_part){"opt", s->opt, sizeof s->opt};
  parts[2] = (cr_ckpt_part){"norm", s->norm, sizeof s->norm};
}

/* Writes a good checkpoint and returns its path in buf. */
static void write_good(char *buf, size_t cap) {
  state s;
  cr_ckpt_id id;
  cr_ckpt_part parts[3];
  fill(&s, 1.5f);
  setup(&s, &id, parts);
  path_of(buf, cap, "good.ckpt");
  cr_err e = {{0}};
  ck_assert_msg(cr_ckpt_save(buf, &id, parts, 3, &e) == 0, "save failed: %s", e.msg);
}

/* Loads path expecting failure whose message contains want; checks nothing was copied. */
static void expect_refused(const char *path, const cr_ckpt_id *id_override, const char *want) {
  state s, before;
  cr_ckpt_id id;
  cr_ckpt_part parts[3];
  fill(&s, 9.0f);
  memcpy(&before, &s, sizeof s);
  setup(&s, &id, parts);
  if (id_override) id = *id_override;
  cr_err e = {{0}};
  ck_assert_msg(cr_ckpt_load(path, &id, parts, 3, &e) == -1, "%s: loaded, expected '%s'", path, want);
  ck_assert_msg(strstr(e.msg, want) != NULL, "message '%s' lacks '%s'", e.msg, want);
  ck_assert_msg(strstr(e.msg, path) == e.msg, "message '%s' does not start with the path", e.msg);
  ck_assert_msg(memcmp(&s, &before, sizeof s) == 0, "refused load changed the caller's buffers");
}

START_TEST(crc32_known_vector) {
  ck_assert_uint_eq(cr_crc32(0, "123456789", 9), 0xcbf43926u);
  uint32_t c = cr_crc32(0, "1234", 4);
  ck_assert_uint_eq(cr_crc32(c, "56789", 5), 0xcbf43926u);
}
END_TEST

START_TEST(roundtrip_exact) {
  char path[600];
  write_good(path, sizeof path);
  state s, want;
  cr_ckpt_id id;
  cr_ckpt_part parts[3];
  fill(&s, 0.0f);
  fill(&want, 1.5f);
  setup(&s, &id, parts);
  cr_err e = {{0}};
  ck_assert_msg(cr_ckpt_load(path, &id, parts, 3, &e) == 0, "load failed: %s", e.msg);
  ck_assert_msg(memcmp(&s, &want, sizeof s) == 0, "loaded state differs from saved");
  /* saving the same state twice gives the same bytes */
  char p2[600];
  path_of(p2, sizeof p2, "again.ckpt");
  ck_assert_int_eq(cr_ckpt_save(p2, &id, parts, 3, &e), 0);
  size_t a, b;
  unsigned char *x = slurp(path, &a), *y = slurp(p2, &b);
  ck_assert_uint_eq(a, b);
  ck_assert_msg(memcmp(x, y, a) == 0, "same state, different bytes");
  free(x), free(y);
}
END_TEST

START_TEST(every_truncation_refused) {
  char path[600], cut[600];
  write_good(path, sizeof path);
  size_t len;
  unsigned char *b = slurp(path, &len);
  path_of(cut, sizeof cut, "cut.ckpt");
  for (size_t n = 0; n < len; n++) {
    spit(cut, b, n);
    expect_refused(cut, NULL, "truncated");
  }
  free(b);
}
END_TEST

START_TEST(every_bit_flip_refused) {
  char path[600], bad[600];
  write_good(path, sizeof path);
  size_t len;
  unsigned char *b = slurp(path, &len);
  path_of(bad, sizeof bad, "flip.ckpt");
  /* every byte, one bit each (bit i % 8), so each bit position is hit across the file */
  for (size_t i = 0; i < len; i++) {
    unsigned char m = (unsigned char)(1u << (i % 8));
    b[i] ^= m;
    spit(bad, b, len);
    expect_refused(bad, NULL, "");
    b[i] ^= m;
  }
  free(b);
}
END_TEST

START_TEST(trailing_bytes_refused) {
  char path[600], bad[600];
  write_good(path, sizeof path);
  size_t len;
  unsigned char *b = slurp(path, &len);
  unsigned char *c = malloc(len + 1);
  memcpy(c, b, len);
  c[len] = 0;
  path_of(bad, sizeof bad, "long.ckpt");
  spit(bad, c, len + 1);
  expect_refused(bad, NULL, "trailing bytes");
  free(b), free(c);
}
END_TEST

START_TEST(mismatches_named) {
  char path[600];
  write_good(path, sizeof path);
  state s;
  cr_ckpt_id id;
  cr_ckpt_part parts[3];
  setup(&s, &id, parts);
  cr_ckpt_id other = id;
  other.net = "other";
  expect_refused(path, &other, "is for network 'toy', this program trains 'other'");
  other = id;
  other.param_count = 38;
  expect_refused(path, &other, "parameter shapes differ");
  other = id;
  other.shapes_hash ^= 1;
  expect_refused(path, &other, "parameter shapes differ");
  /* a part of another size: e.g. NAME_opt of another ISA or optimizer */
  state t;
  cr_ckpt_part p2[3];
  setup(&t, &id, p2);
  p2[1].bytes = 12;
  cr_err e = {{0}};
  ck_assert_int_eq(cr_ckpt_load(path, &id, p2, 3, &e), -1);
  ck_assert_msg(strstr(e.msg, "part 'opt' has 13 bytes, this program's is 12 bytes"), "%s", e.msg);
  p2[1].bytes = 13;
  p2[2].name = "normal";
  ck_assert_int_eq(cr_ckpt_load(path, &id, p2, 3, &e), -1);
  ck_assert_msg(strstr(e.msg, "part 2 is 'norm', expected 'normal'"), "%s", e.msg);
  ck_assert_int_eq(cr_ckpt_load(path, &id, p2, 2, &e), -1);
  ck_assert_msg(strstr(e.msg, "has 3 parts, this program expects 2"), "%s", e.msg);
}
END_TEST

/* A program that added a part at the end loads the older 3-part file (the new part left as
   it was, *loaded = 3) and its own 4-part files; fewer parts than required, or more parts
   than it knows, are refused. */
START_TEST(load_some_trailing_parts) {
  char path[600], p4[600];
  write_good(path, sizeof path);
  state s, want;
  cr_ckpt_id id;
  cr_ckpt_part parts[4];
  float extra[2] = {7.0f, 8.0f};
  fill(&s, 0.0f);
  fill(&want, 1.5f);
  setup(&s, &id, parts);
  parts[3] = (cr_ckpt_part){"extra", extra, sizeof extra};
  cr_err e = {{0}};
  int loaded = -1;
  ck_assert_msg(cr_ckpt_load_some(path, &id, parts, 4, 3, &loaded, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(loaded, 3);
  ck_assert_msg(memcmp(&s, &want, sizeof s) == 0, "the 3 parts the file has were not loaded");
  ck_assert(extra[0] == 7.0f && extra[1] == 8.0f);
  ck_assert_int_eq(cr_ckpt_load_some(path, &id, parts, 4, 4, &loaded, &e), -1);
  ck_assert_msg(strstr(e.msg, "has 3 parts, this program expects 4") != NULL, "%s", e.msg);
  /* a 4-part file: all four */
  path_of(p4, sizeof p4, "four.ckpt");
  extra[0] = 5.0f;
  ck_assert_msg(cr_ckpt_save(p4, &id, parts, 4, &e) == 0, "%s", e.msg);
  extra[0] = 0.0f;
  ck_assert_msg(cr_ckpt_load_some(p4, &id, parts, 4, 3, &loaded, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(loaded, 4);
  ck_assert(extra[0] == 5.0f);
  /* a program that knows 3 parts, or requires 2 of its 3, refuses the 4-part file */
  ck_assert_int_eq(cr_ckpt_load_some(p4, &id, parts, 3, 2, &loaded, &e), -1);
  ck_assert_msg(strstr(e.msg, "has 4 parts, this program expects 2 to 3") != NULL, "%s", e.msg);
  ck_assert_int_eq(cr_ckpt_load_some(p4, &id, parts, 4, 5, &loaded, &e), -1);
}
END_TEST

START_TEST(version_named) {
  char path[600], bad[600];
  write_good(path, sizeof path);
  size_t len;
  unsigned char *b = slurp(path, &len);
  b[8] = 2; /* format version 2 (little-endian u32 at offset 8) */
  path_of(bad, sizeof bad, "v2.ckpt");
  spit(bad, b, len);
  expect_refused(bad, NULL, "format version 2, this program reads version 1");
  free(b);
}
END_TEST

START_TEST(save_failure_leaves_nothing) {
  state s;
  cr_ckpt_id id;
  cr_ckpt_part parts[3];
  fill(&s, 1.0f);
  setup(&s, &id, parts);
  char path[600];
  path_of(path, sizeof path, "no-such-dir/x.ckpt");
  cr_err e = {{0}};
  ck_assert_int_eq(cr_ckpt_save(path, &id, parts, 3, &e), -1);
  ck_assert_msg(strstr(e.msg, "no-such-dir/x.ckpt"), "%s", e.msg);
  ck_assert_int_ne(access(path, F_OK), 0);
  /* overwriting keeps a complete file: the old one or the new one */
  write_good(path, sizeof path);
  fill(&s, 2.0f);
  ck_assert_int_eq(cr_ckpt_save(path, &id, parts, 3, &e), 0);
  state r;
  cr_ckpt_part rp[3];
  fill(&r, 0.0f);
  setup(&r, &id, rp);
  ck_assert_int_eq(cr_ckpt_load(path, &id, rp, 3, &e), 0);
  ck_assert_msg(memcmp(&r, &s, sizeof s) == 0, "overwritten checkpoint holds old data");
}
END_TEST

START_TEST(nonfinite_scan) {
  float x[1000];
  for (int i = 0; i < 1000; i++) x[i] = (float)i * 1e30f;
  ck_assert_int_eq(cr_first_nonfinite(x, 1000), -1);
  x[700] = INFINITY;
  x[900] = NAN;
  ck_assert_int_eq(cr_first_nonfinite(x, 1000), 700);
  x[3] = -NAN;
  ck_assert_int_eq(cr_first_nonfinite(x, 1000), 3);
  x[0] = -INFINITY;
  ck_assert_int_eq(cr_first_nonfinite(x, 1), 0);
  ck_assert_int_eq(cr_first_nonfinite(x, 0), -1);
  float big = 3.4028235e38f;
  ck_assert_int_eq(cr_first_nonfinite(&big, 1), -1);
  /* The fast test adds 0x00800000 to the exponent field: the finite values nearest to its
     carry (largest exponents, both signs), zeros and denormals stay finite, and one bad
     value is found at every position of every length, vector remainders included. */
  float edge[6] = {3.4028235e38f, -3.4028235e38f, 0.0f, -0.0f, 1e-45f, -1.17549421e-38f};
  ck_assert_int_eq(cr_first_nonfinite(edge, 6), -1);
  uint32_t snan_bits = 0x7f800001u, neg_nan_bits = 0xffc00000u;
  float snan, neg_nan;
  memcpy(&snan, &snan_bits, 4);
  memcpy(&neg_nan, &neg_nan_bits, 4);
  const float bad[4] = {INFINITY, -INFINITY, snan, neg_nan};
  float y[67];
  for (int len = 1; len <= 67; len++)
    for (int pos = 0; pos < len; pos++) {
      for (int i = 0; i < len; i++) y[i] = edge[i % 6];
      y[pos] = bad[(len + pos) % 4];
      ck_assert_int_eq(cr_first_nonfinite(y, (size_t)len), pos);
    }
}
END_TEST

/* tr_scan_gather: the NaN/Inf test of every gradient after a step, in pieces, with the
   next batch gathered between them. A bad value at any element of any tensor (first,
   last, across piece and tensor ends) is found for every piece count; values in the gaps
   between tensors are not gradients and stay unseen; the rows gathered are the batch's. */
START_TEST(scan_gather_every_element) {
  enum { N = 23, DIM = 5, B = 7 };
  static const cr_net_tensor ts[3] = {{.rows = 37, .cols = 5, .offset = 0},
                                      {.rows = 1, .cols = 7, .offset = 192},
                                      {.rows = 13, .cols = 3, .offset = 208}};
  cr_net net;
  memset(&net, 0, sizeof net);
  net.tensor_count = 3;
  net.tensors = ts;
  float g[256];
  cr_dataset d = {N, DIM, 1, DIM, malloc(N * DIM * sizeof(float)), malloc(N), 0};
  for (int i = 0; i < N * DIM; i++) d.x[i] = (float)i;
  memset(d.y, 1, N);
  cr_batcher a, b;
  cr_err e;
  ck_assert_int_eq(cr_batcher_init(&a, &d, B, 1, 0, 4, &e), 0);
  ck_assert_int_eq(cr_batcher_init(&b, &d, B, 1, 0, 4, &e), 0);
  b.defer_x = 1;
  const float bad[3] = {NAN, INFINITY, -INFINITY};
  const float *xa, *xb;
  const uint8_t *ya, *yb;
  int na, nb, batches = 0;
  while (cr_batcher_next(&a, &xa, &ya, &na)) {
    ck_assert_int_eq(cr_batcher_next(&b, &xb, &yb, &nb), 1);
    /* gaps between the tensors hold NaN: not a gradient, not tested */
    for (int i = 0; i < 256; i++) g[i] = NAN;
    for (int t = 0; t < 3; t++)
      for (int k = 0; k < ts[t].rows * ts[t].cols; k++) g[ts[t].offset + (size_t)k] = 1e30f;
    ck_assert_int_eq(tr_scan_gather(&net, g, &b, nb), 0);
    ck_assert_mem_eq(xa, xb, (size_t)na * DIM * sizeof(float));
    batches++;
    for (int rows = 0; rows <= B; rows += rows < 3 ? 1 : 4)
      for (int t = 0; t < 3; t++)
        for (int k = 0; k < ts[t].rows * ts[t].cols; k++) {
          float *p = g + ts[t].offset + k;
          *p = bad[(t + k) % 3];
          ck_assert_msg(tr_scan_gather(&net, g, &b, rows < nb ? rows : nb) == 1,
                        "missed tensor %d element %d with %d pieces", t, k, rows);
          *p = 1e30f;
        }
  }
  ck_assert_int_eq(batches, 4);   /* 3 of 7, one of 2 */
  cr_batcher_free(&a);
  cr_batcher_free(&b);
  /* more rows than gradient elements: pieces of one element, then the remaining rows */
  static const cr_net_tensor one = {.rows = 1, .cols = 3, .offset = 0};
  net.tensor_count = 1;
  net.tensors = &one;
  ck_assert_int_eq(cr_batcher_init(&a, &d, B, 1, 0, 8, &e), 0);
  ck_assert_int_eq(cr_batcher_init(&b, &d, B, 1, 0, 8, &e), 0);
  b.defer_x = 1;
  ck_assert_int_eq(cr_batcher_next(&a, &xa, &ya, &na), 1);
  ck_assert_int_eq(cr_batcher_next(&b, &xb, &yb, &nb), 1);
  g[0] = g[1] = 0.5f, g[2] = -INFINITY;
  ck_assert_int_eq(tr_scan_gather(&net, g, &b, nb), 1);
  ck_assert_mem_eq(xa, xb, (size_t)na * DIM * sizeof(float));
  g[2] = 0.0f;
  ck_assert_int_eq(tr_scan_gather(&net, g, &b, nb), 0);
  cr_batcher_free(&a);
  cr_batcher_free(&b);
  cr_dataset_free(&d);
}
END_TEST

START_TEST(metrics_roundtrip) {
  char path[600];
  path_of(path, sizeof path, "m.csv");
  cr_metrics_row rows[3] = {{1, 0.5, 0.25, 0.9, 1.5}, {2, 0.4, 0.2, NAN, 1.25}, {3, 0.3, 0.1, 0.95, 1.0}};
  cr_err e = {{0}};
  ck_assert_int_eq(cr_metrics_write(path, rows, 3, &e), 0);
  cr_metrics_row back[4];
  int n = -1;
  ck_assert_int_eq(cr_metrics_read(path, 3, back, 4, &n, &e), 0);
  ck_assert_int_eq(n, 2);
  ck_assert_int_eq(back[1].epoch, 2);
  ck_assert(isnan(back[1].valid_acc));
  ck_assert_double_eq_tol(back[0].valid_acc, 0.9, 1e-9);
  ck_assert_double_eq_tol(back[1].train_loss, 0.4, 1e-9);
  FILE *f = fopen(path, "w");
  fputs("epoch,train_loss,valid_loss,valid_acc,seconds\n1,0.5,zz,0.9,1\n", f);
  fclose(f);
  ck_assert_int_eq(cr_metrics_read(path, 9, back, 4, &n, &e), -1);
  ck_assert_msg(strstr(e.msg, "m.csv:2: malformed metrics row"), "%s", e.msg);
  char missing[600];
  path_of(missing, sizeof missing, "missing.csv");
  ck_assert_int_eq(cr_metrics_read(missing, 9, back, 4, &n, &e), 0);
  ck_assert_int_eq(n, 0);
}
END_TEST

/* Rows that print far wider than a typical row (%.6f of 1e300 is 308 characters): the
 * writer once sized its buffer at 128 bytes a row and overflowed it (issue 11). The file
 * must be exactly what printf gives, and read back to the same numbers. */
START_TEST(metrics_wide_rows) {
  char path[600];
  path_of(path, sizeof path, "wide.csv");
  enum { N = 40 };
  cr_metrics_row rows[N];
  for (int i = 0; i < N; i++)
    rows[i] = (cr_metrics_row){i + 1, 1e300 * (i % 2 ? -1 : 1), -1.5e299, i % 3 ? 0.5 : NAN,
                               1e300};
  cr_err e = {{0}};
  ck_assert_int_eq(cr_metrics_write(path, rows, N, &e), 0);
  size_t len = 0;
  unsigned char *got = slurp(path, &len);
  ck_assert_ptr_nonnull(got);
  /* the expected text, each row measured by snprintf(NULL, 0) first */
  size_t cap = 64;
  for (int i = 0; i < N; i++)
    cap += (size_t)snprintf(NULL, 0, "%d,%.6f,%.6f,%.4f,%.3f\n", rows[i].epoch,
                            rows[i].train_loss, rows[i].valid_loss, 0.5, rows[i].seconds);
  char *want = malloc(cap);
  size_t w = (size_t)snprintf(want, cap, "epoch,train_loss,valid_loss,valid_acc,seconds\n");
  for (int i = 0; i < N; i++) {
    if (isnan(rows[i].valid_acc))
      w += (size_t)snprintf(want + w, cap - w, "%d,%.6f,%.6f,,%.3f\n", rows[i].epoch,
                            rows[i].train_loss, rows[i].valid_loss, rows[i].seconds);
    else
      w += (size_t)snprintf(want + w, cap - w, "%d,%.6f,%.6f,%.4f,%.3f\n", rows[i].epoch,
                            rows[i].train_loss, rows[i].valid_loss, rows[i].valid_acc,
                            rows[i].seconds);
  }
  ck_assert_uint_gt(w, (size_t)N * 128);   /* wider than the old buffer */
  ck_assert_uint_eq(len, w);
  ck_assert(memcmp(got, want, w) == 0);
  free(got);
  free(want);
  cr_metrics_row back[N];
  int n = -1;
  ck_assert_int_eq(cr_metrics_read(path, N + 1, back, N, &n, &e), 0);
  ck_assert_int_eq(n, N);
  for (int i = 0; i < N; i++) {
    ck_assert(back[i].epoch == rows[i].epoch && back[i].train_loss == rows[i].train_loss &&
              back[i].valid_loss == rows[i].valid_loss && back[i].seconds == rows[i].seconds);
    ck_assert(isnan(rows[i].valid_acc) ? isnan(back[i].valid_acc) : back[i].valid_acc == 0.5);
  }
}
END_TEST

/* The reader refuses what the writer never writes: non-finite numbers, epochs < 1, lines
 * longer than any row the writer makes of finite numbers, NUL bytes, a foreign header. */
START_TEST(metrics_reader_refuses) {
  static const char *const bad[] = {
      "1,nan,0.1,0.5,1\n", "1,0.1,inf,0.5,1\n", "1,0.1,0.1,-inf,1\n", "0,0.1,0.1,0.5,1\n",
      "-3,0.1,0.1,0.5,1\n", "1,0.1,0.1,0.5\n", "1,0.1,0.1,0.5,1,7\n", "1,0x1p3,0.1,0.5,1e999\n",
      "2147483648,0.1,0.1,0.5,1\n"};
  const char *hdr = "epoch,train_loss,valid_loss,valid_acc,seconds\n";
  cr_metrics_row rows[4];
  int n;
  cr_err e = {{0}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char buf[256];
    int len = snprintf(buf, sizeof buf, "%s%s", hdr, bad[i]);
    ck_assert_int_eq(cr_metrics_parse(buf, (size_t)len, "m.csv", 99, rows, 4, &n, &e), -1);
    ck_assert_msg(strstr(e.msg, "m.csv:2: malformed metrics row"), "%s: %s", bad[i], e.msg);
  }
  char nul[] = "epoch,train_loss,valid_loss,valid_acc,seconds\n1,0.1\0,0.1,0.5,1\n";
  ck_assert_int_eq(cr_metrics_parse(nul, sizeof nul - 1, "m.csv", 99, rows, 4, &n, &e), -1);
  char *longline = malloc(5000);
  int k = snprintf(longline, 5000, "%s1,", hdr);
  memset(longline + k, '1', 4000);
  memcpy(longline + k + 4000, ",0,0,0\n", 8);
  ck_assert_int_eq(cr_metrics_parse(longline, (size_t)k + 4008, "m.csv", 99, rows, 4, &n, &e), -1);
  ck_assert_msg(strstr(e.msg, "m.csv:2: malformed metrics row"), "%s", e.msg);
  free(longline);
  ck_assert_int_eq(cr_metrics_parse("epoch,x\n", 8, "m.csv", 99, rows, 4, &n, &e), -1);
  ck_assert_msg(strstr(e.msg, "m.csv:1: not a metrics CSV"), "%s", e.msg);
  /* and a good one with \r\n line ends and a blank line */
  const char *ok = "epoch,train_loss,valid_loss,valid_acc,seconds\r\n\r\n1,0.5,0.25,,2\r\n";
  ck_assert_int_eq(cr_metrics_parse(ok, strlen(ok), "m.csv", 99, rows, 4, &n, &e), 0);
  ck_assert_int_eq(n, 1);
  ck_assert(rows[0].train_loss == 0.5 && isnan(rows[0].valid_acc) && rows[0].seconds == 2.0);
}
END_TEST

START_TEST(mean_std_is_norm_fit) {
  /* cr_norm_fit's scalar numbers are cr_mean_std's, to the bit */
  float x[3 * 7];
  for (int i = 0; i < 21; i++) x[i] = (float)((i * 37) % 11) * 0.3f - 1.1f;
  cr_dataset d = {3, 7, 1, 7, x, NULL, 0};
  cr_norm nm;
  cr_err e = {{0}};
  ck_assert_int_eq(cr_norm_fit(&nm, &d, 0, &e), 0);
  double m, sd;
  cr_mean_std(x, 21, &m, &sd);
  ck_assert(nm.mean == (float)m && nm.std == (float)sd);
  cr_norm_free(&nm);
  cr_mean_std(x, 1, &m, &sd);
  ck_assert(m == (double)x[0] && sd == 0.0);
}
END_TEST

START_TEST(inputs_without_labels) {
  uint8_t img[3 * 2 * 2] = {0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8};
  uint8_t lab[3] = {1, 2, 3};
  char ipath[600], lpath[600], npath[600];
  path_of(ipath, sizeof ipath, "in-images.gz");
  path_of(lpath, sizeof lpath, "in-labels");
  path_of(npath, sizeof npath, "in.npy");
  cr_err e = {{0}};
  ck_assert_int_eq(cr_idx_save(ipath, lpath, img, lab, 3, 2, 2, &e), 0);
  cr_dataset d, full;
  ck_assert_msg(cr_inputs_load(&d, ipath, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(cr_dataset_load(&full, ipath, lpath, &e), 0);
  ck_assert(d.n == 3 && d.dim == 4 && d.rows == 2 && d.cols == 2);
  ck_assert(memcmp(d.x, full.x, sizeof(float) * 12) == 0);
  for (int i = 0; i < 3; i++) ck_assert_int_eq(d.y[i], 0);
  size_t shape[2] = {3, 4};
  ck_assert_int_eq(cr_npy_save(npath, CR_U8, img, 2, shape, &e), 0);
  cr_dataset_free(&d);
  ck_assert_msg(cr_inputs_load(&d, npath, &e) == 0, "%s", e.msg);
  ck_assert(d.n == 3 && d.dim == 4 && memcmp(d.x, full.x, sizeof(float) * 12) == 0);
  cr_dataset_free(&d);
  cr_dataset_free(&full);
  /* a labels file is 1-D: not samples */
  ck_assert_int_eq(cr_inputs_load(&d, lpath, &e), -1);
  ck_assert_msg(strstr(e.msg, "in-labels: IDX images need 2 or 3 dimensions"), "%s", e.msg);
}
END_TEST

START_TEST(naive_activations) {
  const float x[4] = {-2.0f, -0.5f, 0.0f, 1.5f};
  float y[4];
  cr_err e = {{0}};
  cr_net_layer relu = {.kind = "relu", .in = 4, .out = 4, .shift = 0.25f, .weight = -1, .bias = -1, .slope = 0.0f};
  ck_assert_int_eq(cr_naive_activation(y, x, 4, &relu, &e), 0);
  ck_assert(y[0] == 0.25f && y[1] == 0.25f && y[2] == 0.25f && y[3] == 1.75f);
  cr_net_layer leaky = {.kind = "leaky_relu", .in = 4, .out = 4, .shift = 0.0f, .weight = -1, .bias = -1, .slope = 0.1f};
  ck_assert_int_eq(cr_naive_activation(y, x, 4, &leaky, &e), 0);
  ck_assert(y[0] == 0.1f * -2.0f && y[1] == 0.1f * -0.5f && y[2] == 0.0f && y[3] == 1.5f);
  cr_net_layer th = {.kind = "tanh", .in = 4, .out = 4, .shift = 0.0f, .weight = -1, .bias = -1, .slope = 0.0f};
  ck_assert_int_eq(cr_naive_activation(y, x, 4, &th, &e), 0);
  for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(y[i], (float)tanh(x[i]), 1e-6f);
  cr_net_layer sg = {.kind = "sigmoid", .in = 4, .out = 4, .shift = 0.0f, .weight = -1, .bias = -1, .slope = 0.0f};
  ck_assert_int_eq(cr_naive_activation(y, x, 4, &sg, &e), 0);
  for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(y[i], (float)(1 / (1 + exp(-x[i]))), 1e-6f);
  ck_assert(y[2] == 0.5f);
  cr_net_layer gelu = {.kind = "gelu", .in = 4, .out = 4, .shift = 0.0f, .weight = -1, .bias = -1, .slope = 0.0f};
  y[0] = 42.0f;
  ck_assert_int_eq(cr_naive_activation(y, x, 4, &gelu, &e), -1);
  ck_assert_msg(strstr(e.msg, "kind 'gelu' is not an activation"), "%s", e.msg);
  ck_assert(y[0] == 42.0f);
  cr_net_layer lin = {.kind = "linear", .in = 4, .out = 4, .shift = 0.0f, .weight = 0, .bias = 1, .slope = 0.0f};
  ck_assert_int_eq(cr_naive_activation(NULL, NULL, 0, &lin, &e), -1);
}
END_TEST

/* The checkpoint's shapes hash covers every tensor, as gen --weights computes it
   (gen/weights.lua): a network of 300 tensors hashes as its whole table in one piece, and
   a change in the last tensor changes it. The trainer once hashed only the first 256. */
START_TEST(shapes_hash_every_tensor) {
  enum { N = 300 };
  static cr_net_tensor t[N];
  static cr_shape s[N];
  static char names[N][16];
  for (int i = 0; i < N; i++) {
    snprintf(names[i], sizeof names[i], "l%d.weight", i);
    t[i] = (cr_net_tensor){.name = names[i], .rows = i + 1, .cols = 7};
    s[i] = (cr_shape){names[i], i + 1, 7};
  }
  cr_net net = {.name = "deep", .tensor_count = N, .tensors = t};
  uint64_t whole = cr_shapes_hash(s, N);
  ck_assert(tr_shapes_hash(&net) == whole);
  ck_assert(cr_shapes_hash_more(cr_shapes_hash(s, 100), s + 100, N - 100) == whole);
  t[N - 1].cols = 8;
  ck_assert(tr_shapes_hash(&net) != whole);
}
END_TEST

int main(void) {
  const char *t = getenv("CR_TEST_TMP");
  snprintf(tmpdir, sizeof tmpdir, "%s/cr-ckpt-XXXXXX", t && *t ? t : "/tmp");
  if (!mkdtemp(tmpdir)) {
    perror(tmpdir);
    return 1;
  }
  Suite *s = suite_create("trainer-runtime");
  TCase *core = tcase_create("core");
  tcase_add_test(core, crc32_known_vector);
  tcase_add_test(core, roundtrip_exact);
  tcase_add_test(core, load_some_trailing_parts);
  tcase_add_test(core, nonfinite_scan);
  tcase_add_test(core, scan_gather_every_element);
  tcase_add_test(core, metrics_roundtrip);
  tcase_add_test(core, metrics_wide_rows);
  tcase_add_test(core, metrics_reader_refuses);
  tcase_add_test(core, mean_std_is_norm_fit);
  tcase_add_test(core, inputs_without_labels);
  tcase_add_test(core, naive_activations);
  tcase_add_test(core, shapes_hash_every_tensor);
  suite_add_tcase(s, core);
  TCase *errors = tcase_create("errors");
  tcase_set_timeout(errors, 60);
  tcase_add_test(errors, every_truncation_refused);
  tcase_add_test(errors, every_bit_flip_refused);
  tcase_add_test(errors, trailing_bytes_refused);
  tcase_add_test(errors, mismatches_named);
  tcase_add_test(errors, version_named);
  tcase_add_test(errors, save_failure_leaves_nothing);
  suite_add_tcase(s, errors);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  return failed ? 1 : 0;
}
