/* Whole-file reading, gzip in memory and on disk, atomic writes; cr_alloc. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_test.h"

static void fill_pattern(uint8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)((i * 131) ^ (i >> 7));
}

START_TEST(test_write_read_plain_and_gzip) {
  enum { N = 100000 };
  uint8_t *data = malloc(N);
  fill_pattern(data, N);
  char *a = scratch_path("plain.bin"), *b = scratch_path("packed.bin.gz");
  cr_err e;
  ck_assert_msg(cr_write_file(a, data, N, 0, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_write_file(b, data, N, 1, &e) == 0, "%s", e.msg);
  uint8_t *got;
  size_t len;
  ck_assert_msg(cr_read_file(a, &got, &len, 0, &e) == 0, "%s", e.msg);
  ck_assert_uint_eq(len, N);
  ck_assert(memcmp(got, data, N) == 0);
  free(got);
  size_t raw_len;
  uint8_t *raw = read_bytes(b, &raw_len);
  ck_assert_msg(raw[0] == 0x1f && raw[1] == 0x8b, "gzip magic expected");
  ck_assert_msg(raw_len < N, "compressed %zu bytes from %d", raw_len, N);
  ck_assert_msg(cr_read_file(b, &got, &len, 0, &e) == 0, "%s", e.msg);
  ck_assert_uint_eq(len, N);
  ck_assert(memcmp(got, data, N) == 0);
  free(got);
  /* Same data, same compressed bytes (no timestamp in the gzip header). */
  ck_assert_msg(cr_write_file(b, data, N, 1, &e) == 0, "%s", e.msg);
  size_t raw2_len;
  uint8_t *raw2 = read_bytes(b, &raw2_len);
  ck_assert_uint_eq(raw2_len, raw_len);
  ck_assert(memcmp(raw, raw2, raw_len) == 0);
  free(raw);
  free(raw2);
  free(data);
  free(a);
  free(b);
}
END_TEST

START_TEST(test_multi_member_gzip) {
  uint8_t part1[300], part2[500];
  fill_pattern(part1, sizeof part1);
  fill_pattern(part2, sizeof part2);
  size_t l1, l2;
  uint8_t *g1 = gzip_bytes(part1, sizeof part1, &l1), *g2 = gzip_bytes(part2, sizeof part2, &l2);
  uint8_t *cat = malloc(l1 + l2);
  memcpy(cat, g1, l1);
  memcpy(cat + l1, g2, l2);
  uint8_t *out;
  size_t n;
  cr_err e;
  ck_assert_msg(cr_gunzip(cat, l1 + l2, &out, &n, 0, "cat.gz", &e) == 0, "%s", e.msg);
  ck_assert_uint_eq(n, sizeof part1 + sizeof part2);
  ck_assert(memcmp(out, part1, sizeof part1) == 0);
  ck_assert(memcmp(out + sizeof part1, part2, sizeof part2) == 0);
  free(out);
  free(cat);
  free(g1);
  free(g2);
}
END_TEST

START_TEST(test_atomic_write_leaves_no_temporary) {
  char *p = scratch_path("atomic.bin");
  cr_err e;
  ck_assert_msg(cr_write_file(p, "first version, long", 19, 0, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_write_file(p, "second", 6, 0, &e) == 0, "%s", e.msg);
  size_t len;
  uint8_t *got = read_bytes(p, &len);
  ck_assert_uint_eq(len, 6);
  ck_assert(memcmp(got, "second", 6) == 0);
  free(got);
  /* No "atomic.bin.tmp.*" left in the directory. */
  char *dir = scratch_path("");
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    ck_assert_msg(strncmp(de->d_name, "atomic.bin.tmp", 14) != 0, "left behind: %s", de->d_name);
  closedir(d);
  free(dir);
  remove(p);
  free(p);
}
END_TEST

START_TEST(test_write_into_missing_directory) {
  char *p = scratch_path("no/such/dir/file.bin");
  cr_err e;
  int rc = cr_write_file(p, "x", 1, 0, &e);
  ck_assert_err(rc, e, p, "cannot create a temporary file");
  FILE *f = fopen(p, "rb");
  ck_assert_msg(f == NULL, "nothing should exist at %s", p);
  free(p);
}
END_TEST

START_TEST(test_read_missing_file) {
  char *p = scratch_path("does-not-exist.idx");
  uint8_t *got = (uint8_t *)1;
  size_t len = 5;
  cr_err e;
  int rc = cr_read_file(p, &got, &len, 0, &e);
  ck_assert_err(rc, e, p, "cannot open");
  ck_assert_ptr_null(got);
  ck_assert_uint_eq(len, 0);
  free(p);
  /* A directory opens on Linux but cannot be read. */
  char *dir = scratch_path("");
  rc = cr_read_file(dir, &got, &len, 0, &e);
  ck_assert_err(rc, e, dir, "");
  ck_assert_ptr_null(got);
  free(dir);
}
END_TEST

/* Corruptions of a valid gzip stream, each with the message it must give. */
static const struct {
  const char *what, *expect;
} GZ_BAD[] = {
    {"truncated", "truncated gzip stream"},
    {"flipped", "corrupt gzip stream"},
    {"trailing garbage", "garbage after the gzip stream"},
    {"bad crc", "corrupt gzip stream"},
    {"header only", "gzip"},
};

START_TEST(test_gzip_corrupt) {
  uint8_t data[4000];
  fill_pattern(data, sizeof data);
  size_t len;
  uint8_t *gz = gzip_bytes(data, sizeof data, &len);
  uint8_t *bad = malloc(len + 16);
  memcpy(bad, gz, len);
  size_t blen = len;
  switch (_i) {
    case 0: blen = len / 2; break;
    case 1: for (size_t i = 12; i < 40 && i < len - 8; i++) bad[i] ^= 0x5a; break;
    case 2: memcpy(bad + len, "GARBAGE!", 8); blen = len + 8; break;
    case 3: bad[len - 8] ^= 1; break;   /* CRC32 of the trailer */
    case 4: blen = 10; break;
  }
  char *p = scratch_path("corrupt.gz");
  write_bytes(p, bad, blen);
  uint8_t *out = (uint8_t *)1;
  size_t n;
  cr_err e;
  int rc = cr_read_file(p, &out, &n, 0, &e);
  ck_assert_err(rc, e, p, GZ_BAD[_i].expect);
  ck_assert_ptr_null(out);
  free(p);
  free(bad);
  free(gz);
}
END_TEST

START_TEST(test_size_limits) {
  /* A gzip bomb in miniature: 100000 zeros are ~100 bytes compressed. */
  enum { N = 100000 };
  uint8_t *zeros = calloc(N, 1);
  char *p = scratch_path("bomb.gz");
  cr_err e;
  ck_assert_msg(cr_write_file(p, zeros, N, 1, &e) == 0, "%s", e.msg);
  uint8_t *out;
  size_t n;
  int rc = cr_read_file(p, &out, &n, 1000, &e);
  ck_assert_err(rc, e, p, "longer than the limit of 1000");
  ck_assert_msg(cr_read_file(p, &out, &n, N, &e) == 0, "exactly the limit must pass: %s", e.msg);
  ck_assert_uint_eq(n, N);
  free(out);
  /* Plain file: limit N - 1 fails, N passes. */
  ck_assert_msg(cr_write_file(p, zeros, N, 0, &e) == 0, "%s", e.msg);
  rc = cr_read_file(p, &out, &n, N - 1, &e);
  ck_assert_err(rc, e, p, "file longer than the limit");
  ck_assert_msg(cr_read_file(p, &out, &n, N, &e) == 0, "%s", e.msg);
  free(out);
  /* An empty file is fine. */
  ck_assert_msg(cr_write_file(p, zeros, 0, 0, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_read_file(p, &out, &n, 0, &e) == 0, "%s", e.msg);
  ck_assert_uint_eq(n, 0);
  ck_assert_ptr_nonnull(out);
  free(out);
  free(zeros);
  free(p);
  size_t prod;
  ck_assert_int_eq(cr_size_mul(SIZE_MAX / 2, 2, &prod), 0);
  ck_assert_int_eq(cr_size_mul(SIZE_MAX / 2 + 1, 2, &prod), -1);
  ck_assert_int_eq(cr_size_mul(0, SIZE_MAX, &prod), 0);
  ck_assert_uint_eq(prod, 0);
}
END_TEST

/* Is [p, p + n) in one mapping of this process that carries the huge page advice (VmFlags
   "hg" in /proc/self/smaps)? -1 when smaps cannot be read (not Linux). */
static int advised_huge(const void *p, size_t n) {
  FILE *f = fopen("/proc/self/smaps", "r");
  if (!f) return -1;
  char line[512];
  int inside = 0, found = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      inside = (uintptr_t)p >= lo && (uintptr_t)p + n <= hi;
    } else if (inside && !strncmp(line, "VmFlags:", 8)) {
      found = strstr(line, " hg") != NULL;
      break;
    }
  }
  fclose(f);
  return found;
}

/* Zeroed, 64-byte aligned; from 2 MB on aligned to 2 MB and advised to huge pages. */
START_TEST(test_alloc) {
  const size_t two = (size_t)2 << 20;
  const size_t sizes[] = {0, 1, 100, 4096, two - 1, two, 5 * two + 3};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    unsigned char *p = cr_alloc(n);
    ck_assert_ptr_nonnull(p);
    ck_assert_msg((uintptr_t)p % (n >= two ? two : 64) == 0, "cr_alloc(%zu) = %p: misaligned", n, (void *)p);
    for (size_t k = 0; k < n; k++)
      if (p[k]) ck_abort_msg("cr_alloc(%zu): byte %zu is %d, not 0", n, k, p[k]);
    if (n >= two && access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0) {   /* a THP kernel */
      int hg = advised_huge(p, n);
      if (hg >= 0) ck_assert_msg(hg == 1, "cr_alloc(%zu): no huge page advice on its mapping", n);
    }
    memset(p, 0xa5, n);   /* every byte is ours (ASan checks) */
    free(p);
  }
  ck_assert_ptr_null(cr_alloc(SIZE_MAX));
  ck_assert_ptr_null(cr_alloc(SIZE_MAX - 4096));
}
END_TEST

Suite *suite_file(void) {
  Suite *s = suite_create("file");
  TCase *core = tcase_create("core");
  tcase_add_test(core, test_write_read_plain_and_gzip);
  tcase_add_test(core, test_multi_member_gzip);
  tcase_add_test(core, test_atomic_write_leaves_no_temporary);
  tcase_add_test(core, test_alloc);
  suite_add_tcase(s, core);
  TCase *errors = tcase_create("errors");
  tcase_add_test(errors, test_write_into_missing_directory);
  tcase_add_test(errors, test_read_missing_file);
  tcase_add_loop_test(errors, test_gzip_corrupt, 0, COUNT(GZ_BAD));
  suite_add_tcase(s, errors);
  TCase *limits = tcase_create("limits");
  tcase_add_test(limits, test_size_limits);
  suite_add_tcase(s, limits);
  return s;
}
