/* Normalisation: mean/std fitted on the training set, applied to every set. */
#include "cr_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float floor_std(double s) { return s < (double)CR_NORM_MIN_STD ? 1.0f : (float)s; }

int cr_norm_fit(cr_norm *nm, const cr_dataset *train, int per_feature, cr_err *e) {
  memset(nm, 0, sizeof *nm);
  size_t n = train->n, dim = train->dim;
  if (n < 2 || dim < 1)
    return cr_errf(e, "normalisation: needs at least 2 training samples of at least 1 value, got %zu x %zu",
                   n, dim);
  const float *x = train->x;
  nm->dim = dim;
  if (!per_feature) {
    double mean, std;
    cr_mean_std(x, n * dim, &mean, &std);
    nm->mean = (float)mean;
    nm->std = floor_std(std);
    return 0;
  }
  double *acc = calloc(dim, sizeof *acc);
  nm->means = malloc(dim * sizeof *nm->means);
  nm->stds = malloc(dim * sizeof *nm->stds);
  if (!acc || !nm->means || !nm->stds) {
    free(acc);
    cr_norm_free(nm);
    return cr_errf(e, "normalisation: out of memory for %zu features", dim);
  }
  nm->per_feature = 1;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < dim; j++) acc[j] += x[i * dim + j];
  for (size_t j = 0; j < dim; j++) {
    acc[j] /= (double)n;
    nm->means[j] = (float)acc[j];
  }
  double *ss = calloc(dim, sizeof *ss);
  if (!ss) {
    free(acc);
    cr_norm_free(nm);
    return cr_errf(e, "normalisation: out of memory for %zu features", dim);
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < dim; j++) {
      double dv = x[i * dim + j] - acc[j];
      ss[j] += dv * dv;
    }
  for (size_t j = 0; j < dim; j++) nm->stds[j] = floor_std(sqrt(ss[j] / (double)(n - 1)));
  free(acc);
  free(ss);
  return 0;
}

void cr_norm_apply_rows(const cr_norm *nm, float *x, size_t n, size_t dim) {
  if (!nm->per_feature) {
    float m = nm->mean, s = nm->std;
    size_t total = n * dim;
    for (size_t i = 0; i < total; i++) x[i] = (x[i] - m) / s;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    float *row = x + i * nm->dim;
    for (size_t j = 0; j < nm->dim; j++) row[j] = (row[j] - nm->means[j]) / nm->stds[j];
  }
}

int cr_norm_apply(const cr_norm *nm, cr_dataset *d, cr_err *e) {
  if (nm->per_feature && d->dim != nm->dim)
    return cr_errf(e, "normalisation: fitted on %zu features, data has %zu", nm->dim, d->dim);
  cr_norm_apply_rows(nm, d->x, d->n, d->dim);
  return 0;
}

static int good_std(float s) { return isfinite(s) && s > 0.0f; }

int cr_norm_set_scalar(cr_norm *nm, float mean, float std, cr_err *e) {
  memset(nm, 0, sizeof *nm);
  if (!isfinite(mean) || !good_std(std))
    return cr_errf(e, "normalisation: mean %g / std %g unusable (need finite, std > 0)",
                   (double)mean, (double)std);
  nm->mean = mean;
  nm->std = std;
  nm->dim = 0;
  return 0;
}

int cr_norm_set_per_feature(cr_norm *nm, size_t dim, const float *means, const float *stds,
                            cr_err *e) {
  memset(nm, 0, sizeof *nm);
  if (dim < 1) return cr_errf(e, "normalisation: no features");
  for (size_t j = 0; j < dim; j++)
    if (!isfinite(means[j]) || !good_std(stds[j]))
      return cr_errf(e, "normalisation: feature %zu has mean %g / std %g (need finite, std > 0)", j,
                     (double)means[j], (double)stds[j]);
  size_t bytes;
  if (cr_size_mul(dim, sizeof(float), &bytes)) return cr_errf(e, "normalisation: too many features");
  nm->means = malloc(bytes);
  nm->stds = malloc(bytes);
  if (!nm->means || !nm->stds) {
    cr_norm_free(nm);
    return cr_errf(e, "normalisation: out of memory for %zu features", dim);
  }
  memcpy(nm->means, means, bytes);
  memcpy(nm->stds, stds, bytes);
  nm->per_feature = 1;
  nm->dim = dim;
  return 0;
}

int cr_norm_save(const cr_norm *nm, const char *path, cr_err *e) {
  if (!nm->per_feature) {
    float v[2] = {nm->mean, nm->std};
    size_t shape[1] = {2};
    return cr_npy_save(path, CR_F32, v, 1, shape, e);
  }
  size_t bytes;
  if (cr_size_mul(nm->dim, 2 * sizeof(float), &bytes)) return cr_errf(e, "%s: too many features", path);
  float *v = malloc(bytes);
  if (!v) return cr_errf(e, "%s: out of memory", path);
  memcpy(v, nm->means, nm->dim * sizeof(float));
  memcpy(v + nm->dim, nm->stds, nm->dim * sizeof(float));
  size_t shape[2] = {2, nm->dim};
  int rc = cr_npy_save(path, CR_F32, v, 2, shape, e);
  free(v);
  return rc;
}

int cr_norm_load(cr_norm *nm, const char *path, cr_err *e) {
  memset(nm, 0, sizeof *nm);
  cr_npy a;
  if (cr_npy_load(&a, path, e)) return -1;
  int rc;
  cr_err inner;
  const float *v = a.data;
  if (a.dtype != CR_F32 || a.shape[0] != 2 || (a.ndim != 1 && a.ndim != 2))
    rc = cr_errf(e, "%s: not a normalisation file (need float32 [2] or [2][dim])", path);
  else if (a.ndim == 1)
    rc = cr_norm_set_scalar(nm, v[0], v[1], &inner);
  else
    rc = cr_norm_set_per_feature(nm, a.shape[1], v, v + a.shape[1], &inner);
  if (rc && a.dtype == CR_F32 && a.shape[0] == 2 && (a.ndim == 1 || a.ndim == 2))
    cr_errf(e, "%s: %s", path, inner.msg);
  cr_npy_free(&a);
  return rc;
}

void cr_norm_free(cr_norm *nm) {
  if (!nm) return;
  free(nm->means);
  free(nm->stds);
  memset(nm, 0, sizeof *nm);
}
