/* .npy: round trips with version 1.0 and 2.0 headers, NumPy-style headers written by
 * hand, and hostile files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_test.h"

/* Shapes for the round trip: ndim, then sizes. */
static const struct {
  int ndim;
  size_t shape[8];
} SHAPES[] = {
    {0, {0}}, {1, {5}}, {2, {3, 4}}, {3, {2, 3, 5}}, {1, {0}}, {8, {1, 2, 1, 3, 1, 2, 1, 2}},
};
enum { NSHAPES = COUNT(SHAPES) };

START_TEST(test_round_trip) {
  /* _i enumerates shape x dtype x version. */
  int sh = _i % NSHAPES, dtype = (_i / NSHAPES) % 2 ? CR_U8 : CR_F32, version = 1 + _i / (2 * NSHAPES);
  size_t count = 1;
  for (int k = 0; k < SHAPES[sh].ndim; k++) count *= SHAPES[sh].shape[k];
  float *f = malloc(count * sizeof(float) + 1);
  uint8_t *u = malloc(count + 1);
  for (size_t i = 0; i < count; i++) {
    f[i] = (float)i * -0.3f + 1e-3f;
    u[i] = (uint8_t)(i * 29);
  }
  if (count > 1) f[1] = -0.0f;
  char *p = scratch_path("rt.npy");
  cr_err e;
  ck_assert_msg(cr_npy_save_version(p, dtype, dtype == CR_F32 ? (void *)f : (void *)u,
                                    SHAPES[sh].ndim, SHAPES[sh].shape, version, &e) == 0, "%s", e.msg);
  size_t len;
  uint8_t *raw = read_bytes(p, &len);
  ck_assert_uint_eq(raw[6], version);
  size_t prefix = version == 1 ? 10 : 12;
  size_t hlen = version == 1 ? (size_t)raw[8] | (size_t)raw[9] << 8
                             : (size_t)raw[8] | (size_t)raw[9] << 8 | (size_t)raw[10] << 16;
  ck_assert_msg((prefix + hlen) % 64 == 0, "data should start at a multiple of 64, starts at %zu",
                prefix + hlen);
  ck_assert_uint_eq(raw[prefix + hlen - 1], '\n');
  free(raw);
  cr_npy a;
  ck_assert_msg(cr_npy_load(&a, p, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(a.dtype, dtype);
  ck_assert_int_eq(a.ndim, SHAPES[sh].ndim);
  for (int k = 0; k < a.ndim; k++) ck_assert_uint_eq(a.shape[k], SHAPES[sh].shape[k]);
  ck_assert_uint_eq(a.count, count);
  ck_assert(memcmp(a.data, dtype == CR_F32 ? (void *)f : (void *)u,
                   count * (dtype == CR_F32 ? 4 : 1)) == 0);
  cr_npy_free(&a);
  ck_assert_ptr_null(a.data);
  free(f);
  free(u);
  free(p);
}
END_TEST

/* Builds a .npy in memory from a header dict text and data bytes (version 1 or 2). */
static size_t make_npy(uint8_t *buf, int version, const char *dict, const void *data, size_t dlen) {
  size_t prefix = version == 1 ? 10 : 12, hlen = strlen(dict);
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (uint8_t)version;
  buf[7] = 0;
  buf[8] = (uint8_t)hlen;
  buf[9] = (uint8_t)(hlen >> 8);
  if (version != 1) buf[10] = buf[11] = 0;
  memcpy(buf + prefix, dict, hlen);
  memcpy(buf + prefix + hlen, data, dlen);
  return prefix + hlen + dlen;
}

START_TEST(test_numpy_style_headers) {
  /* The 16-byte-aligned header of older NumPy, double quotes, other key order, no
     trailing comma, tabs: all valid Python dict literals NumPy could read. */
  const char *dicts[] = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n",
      "{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"<f4\"}\n",
      "{'descr':'<f4','fortran_order':False,'shape':(2,3,)}\t \n",
  };
  float v[6] = {1, 2, 3, 4, 5, 6};
  uint8_t buf[512];
  for (int k = 0; k < 3; k++) {
    size_t n = make_npy(buf, 1, dicts[k], v, sizeof v);
    cr_npy a;
    cr_err e;
    ck_assert_msg(cr_npy_load_mem(&a, buf, n, "hand.npy", &e) == 0, "dict %d: %s", k, e.msg);
    ck_assert_int_eq(a.ndim, 2);
    ck_assert_uint_eq(a.shape[1], 3);
    ck_assert(((float *)a.data)[5] == 6.0f);
    cr_npy_free(&a);
  }
  /* '<u1' and '>u1' mean the same single byte. */
  uint8_t b[3] = {1, 2, 3};
  size_t n = make_npy(buf, 2, "{'descr': '<u1', 'fortran_order': False, 'shape': (3,), }\n", b, 3);
  cr_npy a;
  cr_err e;
  ck_assert_msg(cr_npy_load_mem(&a, buf, n, "u1.npy", &e) == 0, "%s", e.msg);
  ck_assert_int_eq(a.dtype, CR_U8);
  cr_npy_free(&a);
}
END_TEST

/* '<i8' (torch's num_batches_tracked): little-endian two's complement whatever the host,
   the extremes included; as data set samples it is refused, as labels taken when 0..255. */
START_TEST(test_int64) {
  static const int64_t want[4] = {0, 1234567890123LL, -2, INT64_MIN};
  uint8_t le[32], buf[256];
  for (int i = 0; i < 4; i++)
    for (int k = 0; k < 8; k++) le[8 * i + k] = (uint8_t)((uint64_t)want[i] >> (8 * k));
  size_t n = make_npy(buf, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }\n", le, 32);
  cr_npy a;
  cr_err e;
  ck_assert_msg(cr_npy_load_mem(&a, buf, n, "i8.npy", &e) == 0, "%s", e.msg);
  ck_assert_int_eq(a.dtype, CR_I64);
  ck_assert_uint_eq(a.count, 4);
  ck_assert_uint_eq(cr_npy_elem_size(a.dtype), 8);
  for (int i = 0; i < 4; i++) ck_assert_msg(((int64_t *)a.data)[i] == want[i], "element %d", i);
  cr_npy_free(&a);
  n = make_npy(buf, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }\n", le, 31);
  ck_assert_err(cr_npy_load_mem(&a, buf, n, "short.npy", &e), e, "short.npy", "needs 32 bytes, file has 31");
  /* a 0-d int64, as numpy.save(torch.tensor(5)) writes it */
  n = make_npy(buf, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }\n", le + 8, 8);
  ck_assert_msg(cr_npy_load_mem(&a, buf, n, "nbt.npy", &e) == 0, "%s", e.msg);
  ck_assert(a.ndim == 0 && a.count == 1 && *(int64_t *)a.data == want[1]);
  cr_npy_free(&a);

  char *xp = scratch_path("i8-x.npy"), *yp = scratch_path("i8-y.npy");
  size_t xs[2] = {2, 2}, ls[1] = {2};
  float x[4] = {0, 1, 2, 3};
  ck_assert_msg(cr_npy_save(xp, CR_F32, x, 2, xs, &e) == 0, "%s", e.msg);
  ck_assert_err(cr_npy_save(yp, CR_I64, want, 1, ls, &e), e, yp, "unknown dtype");
  int64_t labels[2] = {7, 255};
  for (int i = 0; i < 2; i++)
    for (int k = 0; k < 8; k++) le[8 * i + k] = (uint8_t)((uint64_t)labels[i] >> (8 * k));
  n = make_npy(buf, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }\n", le, 16);
  write_bytes(yp, buf, n);
  cr_dataset d;
  ck_assert_msg(cr_dataset_load(&d, xp, yp, &e) == 0, "%s", e.msg);
  ck_assert(d.n == 2 && d.y[0] == 7 && d.y[1] == 255);
  cr_dataset_free(&d);
  le[8] = 0, le[9] = 1;   /* label 1 = 256 */
  write_bytes(yp, buf, make_npy(buf, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }\n", le, 16));
  ck_assert_err(cr_dataset_load(&d, xp, yp, &e), e, yp, "label 1 is 256, not an integer 0..255");
  /* int64 samples: refused, naming the file */
  n = make_npy(buf, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1), }\n", le, 16);
  write_bytes(xp, buf, n);
  ck_assert_err(cr_inputs_load(&d, xp, &e), e, xp, "samples must be float32 or uint8, got int64");
  free(xp);
  free(yp);
}
END_TEST

/* The sample shape a data set keeps: 2-D none, 3-D rows x cols, 4-D channels too. */
START_TEST(test_sample_shapes) {
  static const struct {
    int ndim;
    size_t shape[4];
    int chans, rows, cols;
  } CASES[] = {{2, {2, 12}, 0, 1, 12}, {3, {2, 3, 4}, 0, 3, 4}, {4, {2, 3, 2, 2}, 3, 2, 2},
               {4, {2, 1, 1, 12}, 1, 1, 12}};
  float x[24] = {0};
  uint8_t y[2] = {0, 1};
  size_t ys[1] = {2};
  char *xp = scratch_path("shape-x.npy"), *yp = scratch_path("shape-y.npy");
  cr_err e;
  ck_assert_msg(cr_npy_save(yp, CR_U8, y, 1, ys, &e) == 0, "%s", e.msg);
  for (size_t k = 0; k < COUNT(CASES); k++) {
    ck_assert_msg(cr_npy_save(xp, CR_F32, x, CASES[k].ndim, CASES[k].shape, &e) == 0, "%s", e.msg);
    cr_dataset d;
    ck_assert_msg(cr_dataset_load(&d, xp, yp, &e) == 0, "%s", e.msg);
    ck_assert_msg(d.dim == 12 && d.chans == CASES[k].chans && d.rows == CASES[k].rows && d.cols == CASES[k].cols,
                  "case %zu: chans %d rows %d cols %d", k, d.chans, d.rows, d.cols);
    cr_dataset_free(&d);
    ck_assert_msg(cr_inputs_load(&d, xp, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(d.chans, CASES[k].chans);
    cr_dataset_free(&d);
  }
  free(xp);
  free(yp);
}
END_TEST

static const struct {
  const char *dict;
  size_t data;   /* bytes of data after the header */
  const char *expect;
} NPY_BAD[] = {
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16, "dtype '<f8' is not supported"},
    {"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, "dtype '>f4' is not supported"},
    {"{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", 8, "dtype '<i4'"},
    {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, "Fortran order"},
    {"{'descr': '<f4', 'fortran_order': False, }", 8, "lacks 'shape'"},
    {"{'descr': '<f4', 'shape': (2,), }", 8, "lacks 'fortran_order'"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", 8, "'shape' is not a tuple"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", 8, "'shape' is not a tuple"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", 8, "unexpected or repeated key 'extra'"},
    {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8, "repeated key 'descr'"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } trailing", 8, "unexpected text after"},
    {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", 8, "not True or False"},
    {"{'descr': '<f4 , 'fortran_order': False, 'shape': (2,)", 8, "expected ',' or '}'"},
    {"['descr', '<f4']", 8, "not a dict literal"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 7, "truncated .npy data"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 9, "unexpected bytes after"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 8, "overflow"},
    {"{'descr': '|u1', 'fortran_order': False, 'shape': (4611686018427387904,), }", 8, "truncated .npy data"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4, "more than 8 dimensions"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 4, "too large"},
    {"{'descr': '<f4\\'', 'fortran_order': False, 'shape': (1,), }", 4, "'descr' is not a simple"},
};

START_TEST(test_bad_header) {
  uint8_t buf[1024], zero[32] = {0};
  size_t n = make_npy(buf, 1, NPY_BAD[_i].dict, zero, NPY_BAD[_i].data);
  char *p = scratch_path("bad.npy");
  write_bytes(p, buf, n);
  cr_npy a;
  cr_err e;
  int rc = cr_npy_load(&a, p, &e);
  ck_assert_err(rc, e, p, NPY_BAD[_i].expect);
  ck_assert_ptr_null(a.data);
  free(p);
}
END_TEST

START_TEST(test_bad_prefix) {
  uint8_t buf[256], zero[8] = {0};
  size_t n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", zero, 8);
  const char *expect;
  switch (_i) {
    case 0: buf[1] = 'n'; expect = "bad magic"; break;
    case 1: n = 8; expect = "truncated .npy header"; break;
    case 2: buf[6] = 4; expect = "version 4.0 is not supported"; break;
    case 3: buf[8] = 0xFF; buf[9] = 0x7F; expect = "truncated .npy header (says 32767 bytes"; break;
    case 4: buf[6] = 2; n = 11; expect = "truncated .npy header"; break;
    default: n = 0; expect = "truncated .npy header (0 bytes)"; break;
  }
  cr_npy a;
  cr_err e;
  ck_assert_err(cr_npy_load_mem(&a, buf, n, "p.npy", &e), e, "p.npy", expect);
}
END_TEST

START_TEST(test_missing_and_save_errors) {
  cr_npy a;
  cr_err e;
  char *p = scratch_path("absent.npy");
  ck_assert_err(cr_npy_load(&a, p, &e), e, p, "cannot open");
  size_t shape[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  float v = 0;
  ck_assert_err(cr_npy_save(p, CR_F32, &v, 9, shape, &e), e, p, "9 dimensions");
  ck_assert_err(cr_npy_save(p, 7, &v, 1, shape, &e), e, p, "unknown dtype");
  size_t big[2] = {SIZE_MAX / 2, 4};
  ck_assert_err(cr_npy_save(p, CR_F32, &v, 2, big, &e), e, p, "overflow");
  free(p);
}
END_TEST

Suite *suite_npy(void) {
  Suite *s = suite_create("npy");
  TCase *core = tcase_create("core");
  tcase_add_loop_test(core, test_round_trip, 0, 4 * NSHAPES);
  tcase_add_test(core, test_numpy_style_headers);
  tcase_add_test(core, test_int64);
  tcase_add_test(core, test_sample_shapes);
  suite_add_tcase(s, core);
  TCase *errors = tcase_create("errors");
  tcase_add_loop_test(errors, test_bad_header, 0, COUNT(NPY_BAD));
  tcase_add_loop_test(errors, test_bad_prefix, 0, 6);
  tcase_add_test(errors, test_missing_and_save_errors);
  suite_add_tcase(s, errors);
  return s;
}
