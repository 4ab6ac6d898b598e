/* Runs every runtime suite. Scratch files go to a fresh directory under $CR_TEST_TMP
 * (default /tmp), removed at the end. Prints Check's "N%: Checks: X, Failures: F, Errors: E". */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_test.h"

static char scratch[4096];

char *scratch_path(const char *name) {
  size_t n = strlen(scratch) + strlen(name) + 2;
  char *p = malloc(n);
  ck_assert_ptr_nonnull(p);
  snprintf(p, n, "%s/%s", scratch, name);
  return p;
}

void write_bytes(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  ck_assert_msg(f != NULL, "cannot create %s", path);
  ck_assert_uint_eq(fwrite(data, 1, len, f), len);
  ck_assert_int_eq(fclose(f), 0);
}

uint8_t *read_bytes(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  size_t cap = 1 << 16, n = 0, got;
  uint8_t *buf = malloc(cap);
  ck_assert_ptr_nonnull(buf);
  while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      ck_assert_ptr_nonnull(buf);
    }
  }
  fclose(f);
  *len = n;
  return buf;
}

uint8_t *gzip_bytes(const void *data, size_t len, size_t *out_len) {
  char *p = scratch_path("gzip_bytes.gz");
  cr_err e;
  ck_assert_msg(cr_write_file(p, data, len, 1, &e) == 0, "%s", e.msg);
  uint8_t *out = read_bytes(p, out_len);
  remove(p);
  free(p);
  return out;
}

size_t make_idx(uint8_t *buf, int type, int ndim, const uint32_t *dims, size_t count) {
  buf[0] = 0;
  buf[1] = 0;
  buf[2] = (uint8_t)type;
  buf[3] = (uint8_t)ndim;
  for (int i = 0; i < ndim; i++) {
    buf[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
    buf[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
    buf[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
    buf[7 + 4 * i] = (uint8_t)dims[i];
  }
  size_t h = 4 + 4 * (size_t)ndim;
  for (size_t i = 0; i < count; i++) buf[h + i] = (uint8_t)(i * 7 + 3);
  return h + count;
}

static void scratch_remove(void) {
  DIR *d = opendir(scratch);
  if (!d) return;
  struct dirent *de;
  char p[8192];
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    snprintf(p, sizeof p, "%s/%s", scratch, de->d_name);
    remove(p);
  }
  closedir(d);
  rmdir(scratch);
}

/* A fresh scratch directory under $CR_TEST_TMP (default /tmp); 0 or -1 (message printed). */
static int scratch_create(void) {
  const char *base = getenv("CR_TEST_TMP");
  if (!base || !*base) base = "/tmp";
  if (mkdir(base, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "%s: cannot create: %s\n", base, strerror(errno));
    return -1;
  }
  snprintf(scratch, sizeof scratch, "%s/cr-test-XXXXXX", base);
  if (!mkdtemp(scratch)) {
    fprintf(stderr, "%s: cannot create a scratch directory: %s\n", base, strerror(errno));
    return -1;
  }
  return 0;
}

int main(void) {
  if (scratch_create() != 0) return 1;
  SRunner *sr = srunner_create(suite_rng());
  srunner_add_suite(sr, suite_file());
  srunner_add_suite(sr, suite_idx());
  srunner_add_suite(sr, suite_csv());
  srunner_add_suite(sr, suite_npy());
  srunner_add_suite(sr, suite_init());
  srunner_add_suite(sr, suite_norm());
  srunner_add_suite(sr, suite_batch());
  srunner_add_suite(sr, suite_hostile());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  scratch_remove();
  return failed == 0 ? 0 : 1;
}
