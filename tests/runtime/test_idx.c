/* IDX loading and saving: round trips (plain, .gz), hostile headers and data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_test.h"

static void fill_images(uint8_t *img, uint8_t *lab, size_t n, size_t dim) {
  for (size_t i = 0; i < n * dim; i++) img[i] = (uint8_t)(i * 37 + 11);
  for (size_t i = 0; i < n; i++) lab[i] = (uint8_t)(i % 10);
}

START_TEST(test_round_trip) {
  /* _i = 0: plain files, 1: .gz files. */
  enum { N = 37, R = 5, C = 3 };
  uint8_t img[N * R * C], lab[N];
  fill_images(img, lab, N, R * C);
  char *ip = scratch_path(_i ? "rt-images.gz" : "rt-images"), *lp = scratch_path(_i ? "rt-labels.gz" : "rt-labels");
  cr_err e;
  ck_assert_msg(cr_idx_save(ip, lp, img, lab, N, R, C, &e) == 0, "%s", e.msg);
  size_t len;
  uint8_t *raw = read_bytes(ip, &len);
  if (_i) ck_assert_msg(raw[0] == 0x1f && raw[1] == 0x8b, "expected a gzip file");
  else ck_assert_uint_eq(len, 16 + N * R * C);
  free(raw);
  cr_dataset d;
  ck_assert_msg(cr_idx_load(&d, ip, lp, &e) == 0, "%s", e.msg);
  ck_assert_uint_eq(d.n, N);
  ck_assert_uint_eq(d.dim, R * C);
  ck_assert_int_eq(d.rows, R);
  ck_assert_int_eq(d.cols, C);
  for (size_t i = 0; i < N * R * C; i++)
    ck_assert_msg(d.x[i] == (float)img[i] / 255.0f, "x[%zu] = %g, expected %d/255", i,
                  (double)d.x[i], img[i]);
  ck_assert(memcmp(d.y, lab, N) == 0);
  cr_dataset_free(&d);
  ck_assert_ptr_null(d.x);
  free(ip);
  free(lp);
}
END_TEST

START_TEST(test_two_dim_images_and_formats_agree) {
  /* [n][dim] images load with rows = 1; the same data through CSV and .npy loads equal. */
  uint8_t buf[4 + 8 + 6 * 4], lbuf[4 + 4 + 6];
  uint32_t dims[2] = {6, 4}, ldims[1] = {6};
  size_t il = make_idx(buf, 0x08, 2, dims, 24), ll = make_idx(lbuf, 0x08, 1, ldims, 6);
  for (int i = 0; i < 6; i++) lbuf[8 + i] = (uint8_t)(i % 3);
  cr_dataset d, c, p;
  cr_err e;
  ck_assert_msg(cr_idx_load_mem(&d, buf, il, "a", lbuf, ll, "b", &e) == 0, "%s", e.msg);
  ck_assert_int_eq(d.rows, 1);
  ck_assert_int_eq(d.cols, 4);
  char *csv = scratch_path("same.csv"), *xn = scratch_path("same-x.npy"), *yn = scratch_path("same-y.npy");
  ck_assert_msg(cr_csv_save(csv, &d, 1, &e) == 0, "%s", e.msg);
  size_t xs[2] = {6, 4}, ys[1] = {6};
  ck_assert_msg(cr_npy_save(xn, CR_F32, d.x, 2, xs, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_npy_save(yn, CR_U8, d.y, 1, ys, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_dataset_load(&c, csv, NULL, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_dataset_load(&p, xn, yn, &e) == 0, "%s", e.msg);
  const cr_dataset *other[2] = {&c, &p};
  for (int k = 0; k < 2; k++) {
    ck_assert_uint_eq(other[k]->n, d.n);
    ck_assert_uint_eq(other[k]->dim, d.dim);
    ck_assert_msg(memcmp(other[k]->x, d.x, d.n * d.dim * sizeof(float)) == 0,
                  "format %d: values differ from IDX", k);
    ck_assert(memcmp(other[k]->y, d.y, d.n) == 0);
  }
  cr_dataset_free(&d);
  cr_dataset_free(&c);
  cr_dataset_free(&p);
  free(csv);
  free(xn);
  free(yn);
}
END_TEST

/* Hostile images files (each with valid labels for n = 2) and the message they must give. */
enum { MAXB = 256 };
typedef struct {
  const char *what;
  size_t (*make)(uint8_t *buf);
  uint32_t labels;   /* n of the (valid) labels file given with it */
  int labels_named;  /* the message names the labels file, not the images file */
  const char *expect;
} idx_case;

static size_t bad_magic(uint8_t *b) {
  uint32_t d[3] = {2, 2, 2};
  size_t n = make_idx(b, 0x08, 3, d, 8);
  b[0] = 0x01;
  return n;
}
static size_t bad_type(uint8_t *b) { uint32_t d[3] = {2, 2, 2}; return make_idx(b, 0x0D, 3, d, 32); }
static size_t zero_dims(uint8_t *b) { return make_idx(b, 0x08, 0, NULL, 0); }
static size_t four_dims(uint8_t *b) { uint32_t d[4] = {2, 1, 1, 1}; return make_idx(b, 0x08, 4, d, 2); }
static size_t short_magic(uint8_t *b) { b[0] = 0; b[1] = 0; b[2] = 8; return 3; }
static size_t short_header(uint8_t *b) { uint32_t d[3] = {2, 2, 2}; make_idx(b, 0x08, 3, d, 0); return 10; }
static size_t short_data(uint8_t *b) { uint32_t d[3] = {2, 2, 2}; return make_idx(b, 0x08, 3, d, 8) - 3; }
static size_t long_data(uint8_t *b) { uint32_t d[3] = {2, 2, 2}; return make_idx(b, 0x08, 3, d, 8) + 1; }
static size_t overflow_dims(uint8_t *b) {
  uint32_t d[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
  return make_idx(b, 0x08, 3, d, 4);
}
static size_t huge_dims(uint8_t *b) {
  /* ~2^62 bytes: fits in size_t, so only the length check stands between it and malloc. */
  uint32_t d[3] = {2, 0x80000000u, 0x7FFFFFFFu};
  return make_idx(b, 0x08, 3, d, 4);
}
static size_t one_dim(uint8_t *b) { uint32_t d[1] = {2}; return make_idx(b, 0x08, 1, d, 2); }
static size_t count_mismatch(uint8_t *b) { uint32_t d[3] = {3, 2, 2}; return make_idx(b, 0x08, 3, d, 12); }
static size_t no_samples(uint8_t *b) { uint32_t d[3] = {0, 28, 28}; return make_idx(b, 0x08, 3, d, 0); }
static size_t empty(uint8_t *b) { (void)b; return 0; }

static const idx_case IDX_BAD[] = {
    {"wrong magic", bad_magic, 2, 0, "not an IDX file"},
    {"float element type", bad_type, 2, 0, "unsupported IDX element type 0x0d"},
    {"zero dimensions", zero_dims, 2, 0, "0 dimensions"},
    {"four dimensions", four_dims, 2, 0, "4 dimensions"},
    {"truncated magic", short_magic, 2, 0, "truncated IDX header"},
    {"truncated header", short_header, 2, 0, "truncated IDX header"},
    {"truncated data", short_data, 2, 0, "truncated IDX data"},
    {"trailing data", long_data, 2, 0, "unexpected bytes after the IDX data"},
    {"dims overflow", overflow_dims, 2, 0, "overflow"},
    {"huge dims", huge_dims, 2, 0, "truncated IDX data"},
    {"1-D images", one_dim, 2, 0, "need 2 or 3 dimensions"},
    {"count mismatch", count_mismatch, 2, 1, "2 labels for 3 images"},
    {"no samples", no_samples, 0, 0, "no samples"},
    {"empty file", empty, 2, 0, "truncated IDX header"},
};

START_TEST(test_bad_images) {
  uint8_t img[MAXB], lab[16];
  size_t il = IDX_BAD[_i].make(img);
  uint32_t ld[1] = {IDX_BAD[_i].labels};
  size_t ll = make_idx(lab, 0x08, 1, ld, IDX_BAD[_i].labels);
  char *ip = scratch_path("bad-images"), *lp = scratch_path("bad-labels");
  write_bytes(ip, img, il);
  write_bytes(lp, lab, ll);
  cr_dataset d;
  cr_err e;
  int rc = cr_idx_load(&d, ip, lp, &e);
  ck_assert_err(rc, e, IDX_BAD[_i].labels_named ? lp : ip, IDX_BAD[_i].expect);
  ck_assert_ptr_null(d.x);
  ck_assert_uint_eq(d.n, 0);
  /* The same through the in-memory loader, with the name given. */
  rc = cr_idx_load_mem(&d, img, il, "mem-images", lab, ll, "mem-labels", &e);
  ck_assert_err(rc, e, IDX_BAD[_i].labels_named ? "mem-labels" : "mem-images", IDX_BAD[_i].expect);
  free(ip);
  free(lp);
}
END_TEST

START_TEST(test_bad_labels) {
  uint8_t img[64], lab[64];
  uint32_t d3[3] = {2, 2, 2};
  size_t il = make_idx(img, 0x08, 3, d3, 8), ll;
  const char *expect;
  if (_i == 0) { ll = make_idx(lab, 0x08, 3, d3, 8); expect = "labels need 1 dimension"; }
  else if (_i == 1) { uint32_t d[1] = {2}; ll = make_idx(lab, 0x08, 1, d, 2) - 1; expect = "truncated IDX data"; }
  else { uint32_t d[1] = {2}; ll = make_idx(lab, 0x08, 1, d, 2); lab[2] = 0x0C; expect = "element type"; }
  cr_dataset d;
  cr_err e;
  int rc = cr_idx_load_mem(&d, img, il, "img", lab, ll, "lab", &e);
  ck_assert_err(rc, e, "lab", expect);
}
END_TEST

START_TEST(test_missing_files) {
  uint8_t img[64];
  uint32_t d3[3] = {2, 2, 2};
  size_t il = make_idx(img, 0x08, 3, d3, 8);
  char *ip = scratch_path("present-images"), *lp = scratch_path("absent-labels"), *np = scratch_path("absent-images");
  write_bytes(ip, img, il);
  cr_dataset d;
  cr_err e;
  ck_assert_err(cr_idx_load(&d, ip, lp, &e), e, lp, "cannot open");
  ck_assert_err(cr_idx_load(&d, np, ip, &e), e, np, "cannot open");
  free(ip);
  free(lp);
  free(np);
}
END_TEST

START_TEST(test_corrupt_gz_images) {
  uint8_t img[256];
  uint32_t d3[3] = {3, 8, 8};
  size_t il = make_idx(img, 0x08, 3, d3, 192);
  size_t gl;
  uint8_t *gz = gzip_bytes(img, il, &gl);
  gz[gl / 2] ^= 0xFF;
  gz[gl / 2 + 1] ^= 0xFF;
  uint8_t lab[16];
  uint32_t ld[1] = {3};
  size_t ll = make_idx(lab, 0x08, 1, ld, 3);
  cr_dataset d;
  cr_err e;
  int rc = cr_idx_load_mem(&d, gz, gl, "img.gz", lab, ll, "lab", &e);
  ck_assert_err(rc, e, "img.gz", "gzip stream");
  free(gz);
}
END_TEST

START_TEST(test_smallest_and_label_range) {
  uint8_t img[32], lab[32];
  uint32_t d3[3] = {1, 1, 1}, ld[1] = {1};
  size_t il = make_idx(img, 0x08, 3, d3, 1), ll = make_idx(lab, 0x08, 1, ld, 1);
  img[il - 1] = 255;
  lab[ll - 1] = 255;
  cr_dataset d;
  cr_err e;
  ck_assert_msg(cr_idx_load_mem(&d, img, il, "i", lab, ll, "l", &e) == 0, "%s", e.msg);
  ck_assert_uint_eq(d.n, 1);
  ck_assert_uint_eq(d.dim, 1);
  ck_assert(d.x[0] == 1.0f);
  ck_assert_uint_eq(d.y[0], 255);
  cr_dataset_free(&d);
  /* The saver refuses shapes IDX cannot hold. */
  ck_assert_err(cr_idx_save(NULL, NULL, img, lab, 1, 0, 1, &e), e, "(idx)", "cannot hold");
}
END_TEST

START_TEST(test_dataset_load_dispatch) {
  cr_dataset d;
  cr_err e;
  char *csv = scratch_path("d.csv"), *xn = scratch_path("d-x.npy"), *yn = scratch_path("d-y.npy"), *idx = scratch_path("d-idx");
  /* A CSV carries its own labels; other formats need a label file. */
  ck_assert_err(cr_dataset_load(&d, csv, yn, &e), e, csv, "give no label file");
  ck_assert_err(cr_dataset_load(&d, idx, NULL, &e), e, idx, "label file is needed");
  /* .npy: uint8 samples are scaled by 1/255; float32 labels must be integers 0..255. */
  uint8_t xs[6] = {0, 51, 255, 102, 0, 0};
  float ys[2] = {3.0f, 250.0f};
  size_t xshape[2] = {2, 3}, yshape[1] = {2};
  ck_assert_int_eq(cr_npy_save(xn, CR_U8, xs, 2, xshape, &e), 0);
  ck_assert_int_eq(cr_npy_save(yn, CR_F32, ys, 1, yshape, &e), 0);
  ck_assert_msg(cr_dataset_load(&d, xn, yn, &e) == 0, "%s", e.msg);
  ck_assert(d.x[1] == 51.0f / 255.0f && d.x[2] == 1.0f);
  ck_assert_uint_eq(d.y[1], 250);
  ck_assert_int_eq(d.rows, 1);
  ck_assert_int_eq(d.cols, 3);
  cr_dataset_free(&d);
  ys[1] = 2.5f;
  ck_assert_int_eq(cr_npy_save(yn, CR_F32, ys, 1, yshape, &e), 0);
  ck_assert_err(cr_dataset_load(&d, xn, yn, &e), e, yn, "label 1 is 2.5, not an integer");
  yshape[0] = 3;
  float y3[3] = {0, 1, 2};
  ck_assert_int_eq(cr_npy_save(yn, CR_F32, y3, 1, yshape, &e), 0);
  ck_assert_err(cr_dataset_load(&d, xn, yn, &e), e, yn, "3 labels for 2 samples");
  ck_assert_int_eq(cr_npy_save(yn, CR_U8, xs, 2, xshape, &e), 0);
  ck_assert_err(cr_dataset_load(&d, xn, yn, &e), e, yn, "labels need 1 dimension");
  ck_assert_int_eq(cr_npy_save(xn, CR_U8, xs, 1, xshape, &e), 0);
  ck_assert_err(cr_dataset_load(&d, xn, yn, &e), e, xn, "samples need 2 to 4 dimensions");
  /* 5 or more dimensions: no layout a network takes (read flat, (2, 1, 1, 1, 3) would have
     passed as two 3-value rows), refused by training and predict's loaders alike; 4 pass. */
  yshape[0] = 2;
  ys[1] = 250.0f;
  ck_assert_int_eq(cr_npy_save(yn, CR_F32, ys, 1, yshape, &e), 0);
  size_t x5[5] = {2, 1, 1, 1, 3}, x4[4] = {2, 1, 1, 3};
  ck_assert_int_eq(cr_npy_save(xn, CR_U8, xs, 5, x5, &e), 0);
  ck_assert_err(cr_dataset_load(&d, xn, yn, &e), e, xn, "samples need 2 to 4 dimensions ([n][values], [n][rows][cols] or [n][C][H][W]), got 5");
  ck_assert_err(cr_inputs_load(&d, xn, &e), e, xn, "samples need 2 to 4 dimensions");
  ck_assert_int_eq(cr_npy_save(xn, CR_U8, xs, 4, x4, &e), 0);
  ck_assert_msg(cr_dataset_load(&d, xn, yn, &e) == 0, "%s", e.msg);
  ck_assert(d.n == 2 && d.dim == 3 && d.chans == 1 && d.rows == 1 && d.cols == 3);
  cr_dataset_free(&d);
  free(csv);
  free(xn);
  free(yn);
  free(idx);
}
END_TEST

Suite *suite_idx(void) {
  Suite *s = suite_create("idx");
  TCase *core = tcase_create("core");
  tcase_add_loop_test(core, test_round_trip, 0, 2);
  tcase_add_test(core, test_two_dim_images_and_formats_agree);
  suite_add_tcase(s, core);
  TCase *errors = tcase_create("errors");
  tcase_add_loop_test(errors, test_bad_images, 0, COUNT(IDX_BAD));
  tcase_add_loop_test(errors, test_bad_labels, 0, 3);
  tcase_add_test(errors, test_missing_files);
  tcase_add_test(errors, test_corrupt_gz_images);
  tcase_add_test(errors, test_dataset_load_dispatch);
  suite_add_tcase(s, errors);
  TCase *limits = tcase_create("limits");
  tcase_add_test(limits, test_smallest_and_label_range);
  suite_add_tcase(s, limits);
  return s;
}
