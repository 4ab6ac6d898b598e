/* datainfo: loads a data set with cr_dataset_load and prints its shape, label counts and
 * the normalisation numbers cr_norm_fit gives (mean and unbiased std of all values).
 *
 *   datainfo X_PATH [Y_PATH]       (IDX[.gz] images + labels, .npy pair, or one CSV)    */
#include <stdio.h>

#include "cr.h"

int main(int argc, char **argv) {
  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: datainfo X_PATH [Y_PATH]\n");
    return 2;
  }
  cr_dataset d;
  cr_err e;
  if (cr_dataset_load(&d, argv[1], argc == 3 ? argv[2] : NULL, &e)) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  size_t counts[256] = {0};
  for (size_t i = 0; i < d.n; i++) counts[d.y[i]]++;
  float lo = d.x[0], hi = d.x[0];
  for (size_t i = 0; i < d.n * d.dim; i++) {
    if (d.x[i] < lo) lo = d.x[i];
    if (d.x[i] > hi) hi = d.x[i];
  }
  cr_norm nm;
  if (cr_norm_fit(&nm, &d, 0, &e)) {
    fprintf(stderr, "%s\n", e.msg);
    cr_dataset_free(&d);
    return 1;
  }
  printf("%s: %zu samples of %zu values (%dx%d), values in [%g, %g]\n", argv[1], d.n, d.dim,
         d.rows, d.cols, (double)lo, (double)hi);
  printf("labels:");
  for (int c = 0; c < 256; c++)
    if (counts[c]) printf(" %d:%zu", c, counts[c]);
  printf("\nmean %.6f std %.6f (all values; std unbiased, n-1)\n", (double)nm.mean, (double)nm.std);
  cr_norm_free(&nm);
  cr_dataset_free(&d);
  return 0;
}
