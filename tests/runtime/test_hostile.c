/* Hostile files (issue 11): the reader policy (regular files only, never blocking on a FIFO,
 * size and inflate-ratio limits while reading), NaN/Inf in .npy inputs, trailing gzip
 * padding, and formats chosen by name (.csv.gz, .npy.gz). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "rt_test.h"

/* Three things that are not regular files, and the word the message must use. */
typedef struct {
  const char *what;
  char path[512];
} nonreg;

static void nonregular(nonreg out[3]) {
  char *fifo = scratch_path("fifo"), *dir = scratch_path("adir");
  remove(fifo);
  ck_assert_int_eq(mkfifo(fifo, 0600), 0);
  ck_assert(mkdir(dir, 0700) == 0 || access(dir, F_OK) == 0);
  out[0].what = "is a FIFO";
  snprintf(out[0].path, sizeof out[0].path, "%s", fifo);
  out[1].what = "is a character device";
  snprintf(out[1].path, sizeof out[1].path, "/dev/zero");
  out[2].what = "is a directory";
  snprintf(out[2].path, sizeof out[2].path, "%s", dir);
  free(fifo);
  free(dir);
}

/* Every loader, given a FIFO (no writer: a blocking open would hang past the test's timeout),
 * /dev/zero (endless) and a directory, refuses at once with one line naming what it is. */
START_TEST(test_readers_refuse_non_regular_files) {
  nonreg nr[3];
  nonregular(nr);
  char *good = scratch_path("good-labels");
  uint8_t lab[64];
  uint32_t dims[1] = {4};
  write_bytes(good, lab, make_idx(lab, 8, 1, dims, 4));
  for (int i = 0; i < 3; i++) {
    const char *p = nr[i].path;
    cr_err e;
    uint8_t *buf;
    size_t len;
    cr_dataset d;
    cr_npy a;
    cr_norm nm;
    ck_assert_err(cr_read_file(p, &buf, &len, 0, &e), e, p, nr[i].what);
    ck_assert_err(cr_npy_load(&a, p, &e), e, p, nr[i].what);
    ck_assert_err(cr_csv_load(&d, p, &e), e, p, nr[i].what);
    ck_assert_err(cr_idx_load(&d, p, good, &e), e, p, nr[i].what);
    ck_assert_err(cr_idx_load(&d, good, p, &e), e, p, nr[i].what);
    ck_assert_err(cr_inputs_load(&d, p, &e), e, p, nr[i].what);
    ck_assert_err(cr_norm_load(&nm, p, &e), e, p, nr[i].what);
    float w[4];
    cr_ckpt_id id = {"toy", 4, 1};
    cr_ckpt_part parts[1] = {{"params", w, sizeof w}};
    ck_assert_err(cr_ckpt_load(p, &id, parts, 1, &e), e, p, nr[i].what);
    ck_assert_msg(!strchr(e.msg, '\n'), "one line: %s", e.msg);
  }
  free(good);
}
END_TEST

/* n zero bytes, gzip-compressed at level 9 in chunks (never n bytes in memory at once). */
static uint8_t *gzip_zeros(size_t n, size_t *out_len) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  static uint8_t zeros[1 << 16];
  size_t cap = n / 500 + 4096, pos = 0, left = n;
  uint8_t *out = malloc(cap);
  int rc;
  do {
    size_t chunk = left < sizeof zeros ? left : sizeof zeros;
    left -= chunk;
    zs.next_in = zeros;
    zs.avail_in = (uInt)chunk;
    do {
      if (pos == cap) out = realloc(out, cap *= 2);
      zs.next_out = out + pos;
      zs.avail_out = (uInt)(cap - pos);
      rc = deflate(&zs, left ? Z_NO_FLUSH : Z_FINISH);
      pos = cap - zs.avail_out;
    } while (zs.avail_out == 0 || (!left && rc != Z_STREAM_END));
  } while (left);
  deflateEnd(&zs);
  *out_len = pos;
  return out;
}

/* A gzip bomb: 64 MB of zeros in ~64 KB. The limit is CR_MAX_INFLATE_RATIO times the input
 * (+ CR_INFLATE_SLACK), checked while inflating, far below the 2 GB file limit; the same
 * zeros at a ratio within the limit still decompress. */
START_TEST(test_gzip_bomb_refused_by_ratio) {
  size_t glen;
  uint8_t *bomb = gzip_zeros((size_t)64 << 20, &glen);
  size_t bound = glen * CR_MAX_INFLATE_RATIO + CR_INFLATE_SLACK;
  ck_assert_msg(bound < ((size_t)64 << 20), "test input does not exceed the ratio (%zu)", glen);
  cr_err e;
  uint8_t *out;
  size_t n;
  ck_assert_err(cr_gunzip(bomb, glen, &out, &n, 0, "bomb.gz", &e), e, "bomb.gz", "gzip bomb");
  ck_assert_ptr_null(out);
  char *p = scratch_path("bomb-idx.gz");
  write_bytes(p, bomb, glen);
  ck_assert_err(cr_read_file(p, &out, &n, 0, &e), e, p, "gzip bomb");
  cr_dataset d;
  ck_assert_err(cr_inputs_load(&d, p, &e), e, p, "gzip bomb");
  free(bomb);
  /* 1 MB of zeros: ~1 KB, within the slack */
  bomb = gzip_zeros((size_t)1 << 20, &glen);
  ck_assert_msg(cr_gunzip(bomb, glen, &out, &n, 0, "ok.gz", &e) == 0, "%s", e.msg);
  ck_assert_uint_eq(n, (size_t)1 << 20);
  free(out);
  free(bomb);
  free(p);
}
END_TEST

/* Zero padding after the last gzip member (tape blocks, dd) is ignored, as gzip -d does;
 * anything else after it is still garbage. */
START_TEST(test_gzip_trailing_zero_padding) {
  uint8_t data[3000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7);
  size_t glen;
  uint8_t *gz = gzip_bytes(data, sizeof data, &glen);
  uint8_t *padded = calloc(glen + 1024, 1);
  memcpy(padded, gz, glen);
  cr_err e;
  uint8_t *out;
  size_t n;
  ck_assert_msg(cr_gunzip(padded, glen + 1024, &out, &n, 0, "pad.gz", &e) == 0, "%s", e.msg);
  ck_assert_uint_eq(n, sizeof data);
  ck_assert(memcmp(out, data, n) == 0);
  free(out);
  padded[glen + 1000] = 'x';
  ck_assert_err(cr_gunzip(padded, glen + 1024, &out, &n, 0, "pad.gz", &e), e, "pad.gz", "garbage");
  free(padded);
  free(gz);
}
END_TEST

/* NaN or Inf in float .npy inputs is refused naming the file, the sample and the value
 * (CSV refuses them already), for labelled sets and for prediction inputs. */
START_TEST(test_npy_nonfinite_inputs_refused) {
  float x[3][4];
  for (int i = 0; i < 12; i++) x[i / 4][i % 4] = (float)i * 0.25f;
  x[1][2] = strtof("nan", NULL);
  uint8_t y[3] = {0, 1, 2};
  char *xp = scratch_path("nan-x.npy"), *yp = scratch_path("nan-y.npy");
  size_t xs[2] = {3, 4}, ys[1] = {3};
  cr_err e;
  ck_assert_msg(cr_npy_save(xp, CR_F32, x, 2, xs, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_npy_save(yp, CR_U8, y, 1, ys, &e) == 0, "%s", e.msg);
  cr_dataset d;
  ck_assert_err(cr_inputs_load(&d, xp, &e), e, xp, "sample 1 holds NaN at value 2");
  ck_assert_err(cr_dataset_load(&d, xp, yp, &e), e, xp, "sample 1 holds NaN at value 2");
  x[1][2] = 1.0f;
  x[2][3] = -strtof("inf", NULL);
  ck_assert_msg(cr_npy_save(xp, CR_F32, x, 2, xs, &e) == 0, "%s", e.msg);
  ck_assert_err(cr_inputs_load(&d, xp, &e), e, xp, "sample 2 holds -Inf at value 3");
  x[2][3] = 3.4028235e38f;   /* FLT_MAX is finite: accepted */
  ck_assert_msg(cr_npy_save(xp, CR_F32, x, 2, xs, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_dataset_load(&d, xp, yp, &e) == 0, "%s", e.msg);
  ck_assert(d.x[11] == x[2][3]);
  cr_dataset_free(&d);
  free(xp);
  free(yp);
}
END_TEST

/* The format is chosen by name with or without .gz: a .csv.gz is CSV, an .npy.gz is .npy
 * (not IDX), and they load to what the plain files load to. */
START_TEST(test_gz_names_choose_the_format) {
  float x[2][3] = {{0.5f, -1.0f, 2.0f}, {3.0f, 0.0f, 0.25f}};
  uint8_t y[2] = {4, 7};
  cr_dataset src = {2, 3, 1, 3, &x[0][0], y};
  char *cp = scratch_path("set.csv.gz"), *np = scratch_path("in.npy"), *ngz = scratch_path("in.npy.gz");
  cr_err e;
  ck_assert_msg(cr_csv_save(cp, &src, 1, &e) == 0, "%s", e.msg);
  size_t raw_len;
  uint8_t *raw = read_bytes(cp, &raw_len);
  ck_assert_msg(raw[0] == 0x1f && raw[1] == 0x8b, "CSV .gz not compressed");
  free(raw);
  cr_dataset d;
  ck_assert_msg(cr_dataset_load(&d, cp, NULL, &e) == 0, "%s", e.msg);
  ck_assert(d.n == 2 && d.dim == 3 && d.y[1] == 7 && memcmp(d.x, x, sizeof x) == 0);
  cr_dataset_free(&d);
  ck_assert_err(cr_dataset_load(&d, cp, "labels", &e), e, cp, "holds its own labels");
  size_t shape[2] = {2, 3};
  ck_assert_msg(cr_npy_save(np, CR_F32, x, 2, shape, &e) == 0, "%s", e.msg);
  uint8_t *plain = read_bytes(np, &raw_len);
  ck_assert_msg(cr_write_file(ngz, plain, raw_len, 1, &e) == 0, "%s", e.msg);
  free(plain);
  ck_assert_msg(cr_inputs_load(&d, ngz, &e) == 0, "%s", e.msg);
  ck_assert(d.n == 2 && d.dim == 3 && memcmp(d.x, x, sizeof x) == 0);
  cr_dataset_free(&d);
  free(cp);
  free(np);
  free(ngz);
}
END_TEST

Suite *suite_hostile(void) {
  Suite *s = suite_create("hostile");
  TCase *t = tcase_create("readers");
  tcase_set_timeout(t, 30);
  tcase_add_test(t, test_readers_refuse_non_regular_files);
  tcase_add_test(t, test_gzip_bomb_refused_by_ratio);
  tcase_add_test(t, test_gzip_trailing_zero_padding);
  tcase_add_test(t, test_npy_nonfinite_inputs_refused);
  tcase_add_test(t, test_gz_names_choose_the_format);
  suite_add_tcase(s, t);
  return s;
}
