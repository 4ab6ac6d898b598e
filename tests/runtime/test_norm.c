/* Normalisation: fitted on train only, applied to other sets, saved and loaded; the real
 * data sets' numbers when they are present. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_test.h"

static cr_dataset make_set(size_t n, size_t dim, uint64_t seed, float shift) {
  cr_dataset d = {n, dim, 1, (int)dim, malloc(n * dim * sizeof(float)), calloc(n, 1), 0};
  cr_rng r;
  cr_rng_seed(&r, seed, 9);
  for (size_t i = 0; i < n * dim; i++)
    d.x[i] = shift + cr_rng_uniform(&r) * (float)(1 + i % dim);   /* features differ in scale */
  return d;
}

/* Mean and unbiased std of feature j (or of everything when j < 0), in double. */
static void moments(const cr_dataset *d, long j, double *mean, double *sd) {
  double s = 0, ss = 0;
  size_t cnt = 0;
  for (size_t i = 0; i < d->n; i++)
    for (size_t k = 0; k < d->dim; k++)
      if (j < 0 || (size_t)j == k) { s += d->x[i * d->dim + k]; cnt++; }
  *mean = s / cnt;
  for (size_t i = 0; i < d->n; i++)
    for (size_t k = 0; k < d->dim; k++)
      if (j < 0 || (size_t)j == k) { double v = d->x[i * d->dim + k] - *mean; ss += v * v; }
  *sd = sqrt(ss / (cnt - 1));
}

START_TEST(test_unbiased_std_by_hand) {
  float x[4] = {0, 1, 2, 3};
  uint8_t y[2] = {0, 0};
  cr_dataset d = {2, 2, 1, 2, x, y, 0};
  cr_norm nm;
  cr_err e;
  ck_assert_int_eq(cr_norm_fit(&nm, &d, 0, &e), 0);
  /* mean 1.5; squared deviations 2.25+0.25+0.25+2.25 = 5; unbiased var 5/3. */
  ck_assert_float_eq_tol(nm.mean, 1.5f, 1e-7f);
  ck_assert_float_eq_tol(nm.std, (float)sqrt(5.0 / 3.0), 1e-6f);
  cr_norm_free(&nm);
  ck_assert_int_eq(cr_norm_fit(&nm, &d, 1, &e), 0);
  /* feature 0: {0, 2}, feature 1: {1, 3}: means 1 and 2, unbiased std sqrt 2 each. */
  ck_assert_float_eq_tol(nm.means[0], 1.0f, 1e-7f);
  ck_assert_float_eq_tol(nm.means[1], 2.0f, 1e-7f);
  ck_assert_float_eq_tol(nm.stds[0], (float)sqrt(2.0), 1e-6f);
  ck_assert_float_eq_tol(nm.stds[1], (float)sqrt(2.0), 1e-6f);
  cr_norm_free(&nm);
}
END_TEST

START_TEST(test_train_zero_one_valid_uses_train_numbers) {
  /* _i = 0: scalar, 1: per feature. */
  cr_dataset train = make_set(500, 6, 1, 0.0f), valid = make_set(300, 6, 2, 0.7f);
  cr_dataset raw_valid = make_set(300, 6, 2, 0.7f);
  cr_norm nm;
  cr_err e;
  ck_assert_msg(cr_norm_fit(&nm, &train, _i, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_norm_apply(&nm, &train, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_norm_apply(&nm, &valid, &e) == 0, "%s", e.msg);
  for (long j = _i ? 0 : -1; j < (_i ? 6 : 0); j++) {
    double m, s;
    moments(&train, j, &m, &s);
    ck_assert_msg(fabs(m) < 1e-5 && fabs(s - 1) < 1e-5, "train feature %ld: mean %g std %g", j, m, s);
  }
  /* Validation: (x - train mean) / train std, element by element, not its own numbers. */
  for (size_t i = 0; i < valid.n * valid.dim; i++) {
    size_t k = i % valid.dim;
    float m = _i ? nm.means[k] : nm.mean, s = _i ? nm.stds[k] : nm.std;
    ck_assert_msg(valid.x[i] == (raw_valid.x[i] - m) / s, "valid[%zu] = %g", i, (double)valid.x[i]);
  }
  double vm, vs;
  moments(&valid, -1, &vm, &vs);
  /* Valid was shifted by 0.7 before; normalised with its own numbers its mean would be 0. */
  ck_assert_msg(vm > 0.25, "valid mean %g should stay shifted (fitted on train)", vm);
  cr_norm_free(&nm);
  cr_dataset_free(&train);
  cr_dataset_free(&valid);
  cr_dataset_free(&raw_valid);
}
END_TEST

START_TEST(test_constant_feature_and_save_load) {
  cr_dataset d = make_set(50, 3, 3, 0.0f);
  for (size_t i = 0; i < d.n; i++) d.x[i * 3 + 1] = 0.25f;   /* constant feature */
  cr_norm nm, back;
  cr_err e;
  ck_assert_int_eq(cr_norm_fit(&nm, &d, 1, &e), 0);
  ck_assert_float_eq(nm.stds[1], 1.0f);
  ck_assert_float_eq(nm.means[1], 0.25f);
  char *p = scratch_path("norm.npy");
  ck_assert_msg(cr_norm_save(&nm, p, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_norm_load(&back, p, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(back.per_feature, 1);
  ck_assert_uint_eq(back.dim, 3);
  ck_assert(memcmp(back.means, nm.means, 3 * sizeof(float)) == 0);
  ck_assert(memcmp(back.stds, nm.stds, 3 * sizeof(float)) == 0);
  ck_assert_int_eq(cr_norm_apply(&back, &d, &e), 0);
  for (size_t i = 0; i < d.n; i++) ck_assert(d.x[i * 3 + 1] == 0.0f);
  cr_norm_free(&back);
  cr_norm_free(&nm);
  /* Scalar. */
  ck_assert_int_eq(cr_norm_fit(&nm, &d, 0, &e), 0);
  ck_assert_msg(cr_norm_save(&nm, p, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_norm_load(&back, p, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(back.per_feature, 0);
  ck_assert(back.mean == nm.mean && back.std == nm.std);
  free(p);
  cr_dataset_free(&d);
}
END_TEST

START_TEST(test_norm_errors) {
  cr_dataset one = make_set(1, 4, 1, 0), four = make_set(10, 4, 1, 0), five = make_set(10, 5, 1, 0);
  cr_norm nm;
  cr_err e;
  ck_assert_err(cr_norm_fit(&nm, &one, 0, &e), e, "normalisation", "at least 2 training samples");
  ck_assert_int_eq(cr_norm_fit(&nm, &four, 1, &e), 0);
  ck_assert_err(cr_norm_apply(&nm, &five, &e), e, "normalisation", "fitted on 4 features, data has 5");
  cr_norm_free(&nm);
  ck_assert_err(cr_norm_set_scalar(&nm, 0.1f, 0.0f, &e), e, "normalisation", "unusable");
  ck_assert_err(cr_norm_set_scalar(&nm, NAN, 1.0f, &e), e, "normalisation", "unusable");
  float m[2] = {0, 0}, s[2] = {1, -1};
  ck_assert_err(cr_norm_set_per_feature(&nm, 2, m, s, &e), e, "normalisation", "feature 1");
  char *p = scratch_path("notnorm.npy");
  size_t shape[1] = {3};
  float v[3] = {1, 2, 3};
  ck_assert_int_eq(cr_npy_save(p, CR_F32, v, 1, shape, &e), 0);
  ck_assert_err(cr_norm_load(&nm, p, &e), e, p, "not a normalisation file");
  shape[0] = 2;
  v[1] = -1;
  ck_assert_int_eq(cr_npy_save(p, CR_F32, v, 1, shape, &e), 0);
  ck_assert_err(cr_norm_load(&nm, p, &e), e, p, "unusable");
  free(p);
  cr_dataset_free(&one);
  cr_dataset_free(&four);
  cr_dataset_free(&five);
}
END_TEST

/* The real data sets, when present (data/ from scripts/fetch-data.sh; Fashion-MNIST also at
 * the Debian package's location). Prints the fitted numbers; the expected values are the
 * commonly quoted ones (MNIST 0.1307/0.3081 over its 60000 training digits; our 8000 are a
 * subset, hence the 0.01 tolerance; Fashion-MNIST 0.2860/0.3530). */
static const struct {
  const char *x, *y, *name;
  double mean, std;
} REAL[] = {
    {"data/mnist/train-images-idx3-ubyte", "data/mnist/train-labels-idx1-ubyte", "MNIST digits (8000 train)", 0.1307, 0.3081},
    {"data/fashion-mnist/train-images-idx3-ubyte.gz", "data/fashion-mnist/train-labels-idx1-ubyte.gz", "Fashion-MNIST (60000 train)", 0.2860, 0.3530},
    {"/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz", "Fashion-MNIST (60000 train)", 0.2860, 0.3530},
};

START_TEST(test_real_data_numbers) {
  FILE *f = fopen(REAL[_i].x, "rb");
  if (!f) return;   /* not fetched: nothing to check */
  fclose(f);
  if (_i == 2) {    /* already covered through data/fashion-mnist */
    FILE *g = fopen(REAL[1].x, "rb");
    if (g) { fclose(g); return; }
  }
  cr_dataset d;
  cr_err e;
  ck_assert_msg(cr_idx_load(&d, REAL[_i].x, REAL[_i].y, &e) == 0, "%s", e.msg);
  cr_norm nm;
  ck_assert_int_eq(cr_norm_fit(&nm, &d, 0, &e), 0);
  printf("norm: %s: mean %.4f std %.4f\n", REAL[_i].name, (double)nm.mean, (double)nm.std);
  ck_assert_msg(fabs(nm.mean - REAL[_i].mean) < 0.01 && fabs(nm.std - REAL[_i].std) < 0.01,
                "%s: mean %g std %g, expected about %g / %g", REAL[_i].name, (double)nm.mean,
                (double)nm.std, REAL[_i].mean, REAL[_i].std);
  cr_dataset_free(&d);
}
END_TEST

Suite *suite_norm(void) {
  Suite *s = suite_create("norm");
  TCase *core = tcase_create("core");
  tcase_add_test(core, test_unbiased_std_by_hand);
  tcase_add_loop_test(core, test_train_zero_one_valid_uses_train_numbers, 0, 2);
  tcase_add_test(core, test_constant_feature_and_save_load);
  tcase_add_loop_test(core, test_real_data_numbers, 0, COUNT(REAL));
  tcase_set_timeout(core, 60);
  suite_add_tcase(s, core);
  TCase *errors = tcase_create("errors");
  tcase_add_test(errors, test_norm_errors);
  suite_add_tcase(s, errors);
  return s;
}
