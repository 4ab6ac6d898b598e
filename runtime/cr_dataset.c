/* Loading a data set whatever its format (IDX, CSV, .npy pair). */
#include "cr_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* [n][values], [n][rows][cols] or [n][C][H][W]; a 5-D or deeper array has no layout the
   networks take, and read flat it would pass wherever its value count fits. */
static int samples_ndim(const cr_npy *xa, const char *x_path, cr_err *e) {
  if (xa->ndim >= 2 && xa->ndim <= 4) return 0;
  return cr_errf(e, "%s: samples need 2 to 4 dimensions ([n][values], [n][rows][cols] or "
                 "[n][C][H][W]), got %d", x_path, xa->ndim);
}

/* Fills d->x from an array [n][...] (float32 as given, uint8 / 255); y zeroed. */
static int npy_samples(cr_dataset *d, const cr_npy *xa, const char *x_path, cr_err *e) {
  if (xa->dtype == CR_I64) return cr_errf(e, "%s: samples must be float32 or uint8, got int64", x_path);
  size_t n = xa->shape[0];
  if (n == 0) return cr_errf(e, "%s: no samples", x_path);
  size_t dim = xa->count / n;
  if (dim == 0 || dim > INT_MAX) return cr_errf(e, "%s: unusable sample size %zu", x_path, dim);
  size_t chans = 0, rows = 1, cols = dim;
  if (xa->ndim == 3 || xa->ndim == 4) {   /* [n][rows][cols] or [n][C][H][W]: sizes <= dim */
    chans = xa->ndim == 4 ? xa->shape[1] : 0;
    rows = xa->shape[xa->ndim - 2];
    cols = xa->shape[xa->ndim - 1];
  }
  if (cr__dataset_alloc(d, n, dim, x_path, e)) return -1;
  d->chans = (int)chans;
  d->rows = (int)rows;
  d->cols = (int)cols;
  if (xa->dtype == CR_F32) {
    /* NaN/Inf inputs are refused here, naming the file, as the CSV reader refuses them:
       otherwise eval prints a loss of nan and training stops at a gradient, far away. */
    long bad = cr_first_nonfinite(xa->data, xa->count);
    if (bad >= 0) {
      float v = ((const float *)xa->data)[bad];
      cr_dataset_free(d);
      return cr_errf(e, "%s: sample %zu holds %s at value %zu (NaN/Inf inputs are refused)",
                     x_path, (size_t)bad / dim, v != v ? "NaN" : v > 0 ? "+Inf" : "-Inf",
                     (size_t)bad % dim);
    }
    memcpy(d->x, xa->data, xa->count * sizeof(float));
  } else {
    const uint8_t *src = xa->data;
    for (size_t i = 0; i < xa->count; i++) d->x[i] = (float)src[i] / 255.0f;
  }
  memset(d->y, 0, n);
  return 0;
}

static int npy_pair(cr_dataset *d, const char *x_path, const char *y_path, cr_err *e) {
  cr_npy xa, ya;
  if (cr_npy_load(&xa, x_path, e)) return -1;
  if (cr_npy_load(&ya, y_path, e)) { cr_npy_free(&xa); return -1; }
  int status = -1;
  if (samples_ndim(&xa, x_path, e)) goto done;
  if (ya.ndim != 1) {
    cr_errf(e, "%s: labels need 1 dimension ([n]), got %d", y_path, ya.ndim);
    goto done;
  }
  size_t n = xa.shape[0];
  if (ya.shape[0] != n) {
    cr_errf(e, "%s: %zu labels for %zu samples in %s", y_path, ya.shape[0], n, x_path);
    goto done;
  }
  if (npy_samples(d, &xa, x_path, e)) goto done;
  for (size_t i = 0; i < n; i++) {
    if (ya.dtype == CR_U8) {
      d->y[i] = ((const uint8_t *)ya.data)[i];
    } else if (ya.dtype == CR_I64) {   /* NumPy's default integer type */
      int64_t v = ((const int64_t *)ya.data)[i];
      if (v < 0 || v > 255) {
        cr_dataset_free(d);
        cr_errf(e, "%s: label %zu is %lld, not an integer 0..255", y_path, i, (long long)v);
        goto done;
      }
      d->y[i] = (uint8_t)v;
    } else {
      float v = ((const float *)ya.data)[i];
      if (!(v >= 0.0f && v <= 255.0f) || v != floorf(v)) {
        cr_dataset_free(d);
        cr_errf(e, "%s: label %zu is %g, not an integer 0..255", y_path, i, (double)v);
        goto done;
      }
      d->y[i] = (uint8_t)v;
    }
  }
  status = 0;
done:
  cr_npy_free(&xa);
  cr_npy_free(&ya);
  return status;
}

int cr_dataset_load(cr_dataset *d, const char *x_path, const char *y_path, cr_err *e) {
  memset(d, 0, sizeof *d);
  if (cr__ends_with(x_path, ".csv") || cr__ends_with(x_path, ".csv.gz")) {
    if (y_path) return cr_errf(e, "%s: a CSV file holds its own labels; give no label file", x_path);
    return cr_csv_load(d, x_path, e);
  }
  if (!y_path) return cr_errf(e, "%s: a label file is needed besides the samples", x_path);
  if (cr__ends_with(x_path, ".npy") || cr__ends_with(x_path, ".npy.gz"))
    return npy_pair(d, x_path, y_path, e);
  return cr_idx_load(d, x_path, y_path, e);
}

int cr_inputs_load(cr_dataset *d, const char *path, cr_err *e) {
  memset(d, 0, sizeof *d);
  if (cr__ends_with(path, ".csv") || cr__ends_with(path, ".csv.gz")) return cr_csv_load(d, path, e);
  if (cr__ends_with(path, ".npy") || cr__ends_with(path, ".npy.gz")) {
    cr_npy xa;
    if (cr_npy_load(&xa, path, e)) return -1;
    int rc = samples_ndim(&xa, path, e) ? -1 : npy_samples(d, &xa, path, e);
    cr_npy_free(&xa);
    return rc;
  }
  uint8_t *buf;
  size_t len;
  if (cr_read_file(path, &buf, &len, 0, e)) return -1;
  int rc = cr__idx_images_mem(d, buf, len, path, e);
  free(buf);
  return rc;
}
