/* CSV loading and saving. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_test.h"

static int load_text(cr_dataset *d, const char *text, cr_err *e) {
  return cr_csv_load_mem(d, (const uint8_t *)text, strlen(text), "t.csv", e);
}

START_TEST(test_header_and_values_as_given) {
  cr_dataset d;
  cr_err e;
  const char *text = "label,a,b,c\n3,0,128,255\n7, 0.5 ,1e-3,-2.5E+1\n";
  ck_assert_msg(load_text(&d, text, &e) == 0, "%s", e.msg);
  ck_assert_uint_eq(d.n, 2);
  ck_assert_uint_eq(d.dim, 3);
  ck_assert_int_eq(d.rows, 1);
  ck_assert_int_eq(d.cols, 3);
  ck_assert_uint_eq(d.y[0], 3);
  ck_assert_uint_eq(d.y[1], 7);
  const float want[6] = {0.0f, 128.0f, 255.0f, 0.5f, 1e-3f, -25.0f};
  for (int i = 0; i < 6; i++)
    ck_assert_msg(d.x[i] == want[i], "x[%d] = %.9g, expected %.9g (not scaled)", i, (double)d.x[i],
                  (double)want[i]);
  cr_dataset_free(&d);
}
END_TEST

START_TEST(test_no_header_crlf_blank_lines) {
  cr_dataset d;
  cr_err e;
  const char *text = "\r\n1,2,3\r\n\r\n  \n0,4,5\r\n9,6,7";   /* no newline at the end */
  ck_assert_msg(load_text(&d, text, &e) == 0, "%s", e.msg);
  ck_assert_uint_eq(d.n, 3);
  ck_assert_uint_eq(d.dim, 2);
  ck_assert_uint_eq(d.y[2], 9);
  ck_assert(d.x[4] == 6.0f && d.x[5] == 7.0f);
  cr_dataset_free(&d);
}
END_TEST

START_TEST(test_save_load_exact) {
  enum { N = 20, D = 7 };
  cr_dataset d = {N, D, 1, D, malloc(N * D * sizeof(float)), malloc(N), 0};
  cr_rng r;
  cr_rng_seed(&r, 1, 1);
  for (int i = 0; i < N * D; i++) d.x[i] = cr_rng_normal(&r) * 1000.0f;
  d.x[0] = -0.0f;
  d.x[1] = 1e-40f;   /* subnormal */
  d.x[2] = 3.4028235e38f;
  for (int i = 0; i < N; i++) d.y[i] = (uint8_t)(i * 13);
  char *p = scratch_path("exact.csv");
  cr_err e;
  for (int header = 0; header < 2; header++) {
    ck_assert_msg(cr_csv_save(p, &d, header, &e) == 0, "%s", e.msg);
    cr_dataset g;
    ck_assert_msg(cr_csv_load(&g, p, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(g.n, N);
    ck_assert_uint_eq(g.dim, D);
    ck_assert_msg(memcmp(g.x, d.x, sizeof(float) * N * D) == 0, "values must read back bit-exact");
    ck_assert(memcmp(g.y, d.y, N) == 0);
    cr_dataset_free(&g);
  }
  free(p);
  cr_dataset_free(&d);
}
END_TEST

static const struct {
  const char *text, *expect;
} CSV_BAD[] = {
    {"1,2,3\n4,5\n", "t.csv:2: row has 2 fields, expected 3"},
    {"label,a,b\n1,2,3\n4,5,6,7\n", "t.csv:3: row has 4 fields, expected 3"},
    {"1,2,abc\n", "t.csv:1: field 3 'abc' is not a finite decimal number"},
    {"1,2,3\n2,x1,3\n", "t.csv:2: field 2 'x1' is not"},
    {"1,nan,3\n", "field 2 'nan' is not"},
    {"1,inf,3\n", "field 2 'inf' is not"},
    {"1,1e999,3\n", "field 2 '1e999' is not"},
    {"1,0x10,3\n", "field 2 '0x10' is not"},
    {"1,,3\n", "field 2 '' is not"},
    {"1,2.5.5,3\n", "'2.5.5' is not"},
    {"1,2,3\n1.5,2,3\n", "t.csv:2: label '1.5' is not an integer 0..255"},
    {"1,2,3\n256,2,3\n", "label '256' is not an integer"},
    {"1,2,3\n-1,2,3\n", "label '-1' is not an integer"},
    {"", "no data rows"},
    {"\n\n  \r\n", "no data rows"},
    {"label,a,b\n", "no data rows"},
    {"3\n4\n", "need a label and at least one value"},
};

START_TEST(test_bad_csv) {
  cr_dataset d;
  cr_err e;
  int rc = load_text(&d, CSV_BAD[_i].text, &e);
  ck_assert_err(rc, e, "t.csv", CSV_BAD[_i].expect);
  ck_assert_ptr_null(d.x);
}
END_TEST

START_TEST(test_csv_missing_file_and_nul) {
  cr_dataset d;
  cr_err e;
  char *p = scratch_path("absent.csv");
  ck_assert_err(cr_csv_load(&d, p, &e), e, p, "cannot open");
  free(p);
  const uint8_t nul[] = {'1', ',', '2', 0, '3', '\n'};
  ck_assert_err(cr_csv_load_mem(&d, nul, sizeof nul, "nul.csv", &e), e, "nul.csv", "is not a finite");
}
END_TEST

START_TEST(test_csv_long_field_and_wide_row) {
  cr_dataset d;
  cr_err e;
  /* A 100-character number is refused (longer than any float needs), not overflowed. */
  char text[256] = "1,";
  memset(text + 2, '1', 100);
  strcpy(text + 102, "\n");
  ck_assert_err(load_text(&d, text, &e), e, "t.csv", "is not a finite");
  /* 5000 values in one row. */
  size_t cap = 5000 * 2 + 16, k = 0;
  char *wide = malloc(cap);
  k += (size_t)sprintf(wide, "4");
  for (int i = 0; i < 5000; i++) k += (size_t)sprintf(wide + k, ",%d", i % 10);
  ck_assert_msg(load_text(&d, wide, &e) == 0, "%s", e.msg);
  ck_assert_uint_eq(d.dim, 5000);
  ck_assert(d.x[4999] == 9.0f);
  cr_dataset_free(&d);
  free(wide);
}
END_TEST

Suite *suite_csv(void) {
  Suite *s = suite_create("csv");
  TCase *core = tcase_create("core");
  tcase_add_test(core, test_header_and_values_as_given);
  tcase_add_test(core, test_no_header_crlf_blank_lines);
  tcase_add_test(core, test_save_load_exact);
  suite_add_tcase(s, core);
  TCase *errors = tcase_create("errors");
  tcase_add_loop_test(errors, test_bad_csv, 0, COUNT(CSV_BAD));
  tcase_add_test(errors, test_csv_missing_file_and_nul);
  suite_add_tcase(s, errors);
  TCase *limits = tcase_create("limits");
  tcase_add_test(limits, test_csv_long_field_and_wide_row);
  suite_add_tcase(s, limits);
  return s;
}
