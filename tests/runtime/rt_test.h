/* Shared helpers for the runtime test suites (tests/runtime/). The same helper has the same
 * name in tests/gen, tests/isa and tests/fuzz: scratch_* for the per-run scratch directory,
 * read_bytes/write_bytes (read_text/write_text for text), gzip_bytes, make_* for builders of
 * test inputs, COUNT for array lengths, suite_<name> for a suite, test_* for test cases. */
#ifndef RT_TEST_H
#define RT_TEST_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "cr.h"

/* Suites, one per runtime module. */
Suite *suite_rng(void);
Suite *suite_file(void);
Suite *suite_idx(void);
Suite *suite_csv(void);
Suite *suite_npy(void);
Suite *suite_init(void);
Suite *suite_norm(void);
Suite *suite_batch(void);
Suite *suite_hostile(void);

/* Elements of an array. */
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A path inside this run's scratch directory (a fresh buffer; free() it). */
char *scratch_path(const char *name);
/* Writes bytes to path (aborts the test on failure). */
void write_bytes(const char *path, const void *data, size_t len);
/* Reads a whole file without any decompression (aborts the test on failure). */
uint8_t *read_bytes(const char *path, size_t *len);
/* gzip-compresses data in memory via cr_write_file + read_bytes. */
uint8_t *gzip_bytes(const void *data, size_t len, size_t *out_len);

/* Builds an IDX file in buf (big enough): magic 00 00 type ndim, dims, then `count` bytes
 * of data (pattern i*7+3). Returns its length. */
size_t make_idx(uint8_t *buf, int type, int ndim, const uint32_t *dims, size_t count);

/* Asserts a call failed with a message that starts with `name` and contains `part`. */
#define ck_assert_err(rc, e, name, part)                                                      \
  do {                                                                                        \
    ck_assert_msg((rc) == -1, "expected failure (-1), got %d", (int)(rc));                    \
    ck_assert_msg(strncmp((e).msg, (name), strlen(name)) == 0,                                \
                  "message should start with '%s', got '%s'", (name), (e).msg);               \
    ck_assert_msg(strstr((e).msg, (part)) != NULL, "message should contain '%s', got '%s'",   \
                  (part), (e).msg);                                                           \
  } while (0)

#endif
