/* make_tiny: writes a small, learnable, deterministic data set for fast tests.
 *
 *   make_tiny OUTDIR [N_TRAIN N_VALID]      (defaults 600 and 200)
 *
 * Each sample is a 28x28 image of class c in 0..9: a bright bar through the centre
 * (shifted by up to +-2 pixels) at the angle c * 18 degrees (+- 5.7 degrees of jitter),
 * plus Gaussian noise (sigma 0.08), clamped to [0, 1] and quantised to bytes. Labels are
 * drawn uniformly. Everything comes from cr_rng_seed(7, CR_STREAM_DATA) (PCG32), and
 * libm's sin/cos/sqrt, so a machine writes the same bytes every time.
 *
 * Files in OUTDIR (one data set, seven formats that all load to the same cr_dataset):
 *   {train,valid}-images-idx3-ubyte, {train,valid}-labels-idx1-ubyte   IDX
 *   the same names + ".gz"                                             gzip'ed IDX
 *   {train,valid}-x.npy (float32 [n][28][28] = byte / 255), {train,valid}-y.npy (uint8 [n])
 *   {train,valid}.csv   (header line, then label and 784 values byte / 255, %.9g)       */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cr.h"

#define SIDE 28
#define PI 3.14159265358979323846

static void draw(uint8_t *img, int label, cr_rng *r) {
  double angle = label * PI / 10.0 + (cr_rng_uniform_double(r) - 0.5) * 0.2;
  double cx = 13.5 + (double)cr_rng_bounded(r, 5) - 2.0;
  double cy = 13.5 + (double)cr_rng_bounded(r, 5) - 2.0;
  double ux = cos(angle), uy = sin(angle);
  for (int i = 0; i < SIDE; i++)
    for (int j = 0; j < SIDE; j++) {
      double px = j - cx, py = i - cy;
      double along = px * ux + py * uy;     /* position along the bar */
      double across = -px * uy + py * ux;   /* distance from its axis */
      double v = 0.0;
      if (fabs(along) <= 10.0) v = 1.0 - fabs(across) / 1.6;
      if (v < 0.0) v = 0.0;
      v += 0.08 * cr_rng_normal(r);
      if (v < 0.0) v = 0.0;
      if (v > 1.0) v = 1.0;
      img[i * SIDE + j] = (uint8_t)lround(v * 255.0);
    }
}

static int write_split(const char *dir, const char *split, size_t n, cr_rng *r, cr_err *e) {
  size_t dim = SIDE * SIDE;
  uint8_t *img = malloc(n * dim), *lab = malloc(n);
  float *xf = malloc(n * dim * sizeof(float));
  if (!img || !lab || !xf) {
    free(img); free(lab); free(xf);
    return cr_errf(e, "%s: out of memory", dir);
  }
  for (size_t i = 0; i < n; i++) {
    lab[i] = (uint8_t)cr_rng_bounded(r, 10);
    draw(img + i * dim, lab[i], r);
  }
  for (size_t i = 0; i < n * dim; i++) xf[i] = (float)img[i] / 255.0f;
  char a[4096], b[4096];
  int rc = 0;
  const char *ext[2] = {"", ".gz"};
  for (int k = 0; k < 2 && !rc; k++) {
    snprintf(a, sizeof a, "%s/%s-images-idx3-ubyte%s", dir, split, ext[k]);
    snprintf(b, sizeof b, "%s/%s-labels-idx1-ubyte%s", dir, split, ext[k]);
    rc = cr_idx_save(a, b, img, lab, n, SIDE, SIDE, e);
  }
  if (!rc) {
    size_t xs[3] = {n, SIDE, SIDE}, ys[1] = {n};
    snprintf(a, sizeof a, "%s/%s-x.npy", dir, split);
    snprintf(b, sizeof b, "%s/%s-y.npy", dir, split);
    rc = cr_npy_save(a, CR_F32, xf, 3, xs, e);
    if (!rc) rc = cr_npy_save(b, CR_U8, lab, 1, ys, e);
  }
  if (!rc) {
    cr_dataset d = {n, dim, 1, (int)dim, xf, lab, 0};
    snprintf(a, sizeof a, "%s/%s.csv", dir, split);
    rc = cr_csv_save(a, &d, 1, e);
  }
  free(img);
  free(lab);
  free(xf);
  return rc;
}

static long arg_count(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  return *end == 0 && v >= 1 && v <= 1000000 ? v : -1;
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 4) {
    fprintf(stderr, "usage: make_tiny OUTDIR [N_TRAIN N_VALID]\n");
    return 2;
  }
  const char *dir = argv[1];
  long ntrain = 600, nvalid = 200;
  if (argc == 4) {
    ntrain = arg_count(argv[2]);
    nvalid = arg_count(argv[3]);
    if (ntrain < 0 || nvalid < 0) {
      fprintf(stderr, "make_tiny: sample counts must be integers 1..1000000\n");
      return 2;
    }
  }
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "%s: cannot create directory: %s\n", dir, strerror(errno));
    return 1;
  }
  cr_rng r;
  cr_rng_seed(&r, 7, CR_STREAM_DATA);
  cr_err e;
  if (write_split(dir, "train", (size_t)ntrain, &r, &e) ||
      write_split(dir, "valid", (size_t)nvalid, &r, &e)) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  printf("make_tiny: wrote %ld train + %ld valid samples (28x28, 10 classes) to %s\n", ntrain,
         nvalid, dir);
  return 0;
}
