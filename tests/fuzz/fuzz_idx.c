/* libFuzzer target: an IDX images file and labels file (see fuzz_split), plain or gzip'ed. */
#include "fuzz.h"
#include "cr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *img, *lab;
  size_t il, ll;
  fuzz_split(data, size, &img, &il, &lab, &ll);
  cr_dataset d;
  cr_err e;
  if (cr_idx_load_mem(&d, img, il, "images", lab, ll, "labels", &e) == 0) {
    /* Touch everything the loader promised. */
    volatile float s = 0;
    for (size_t i = 0; i < d.n * d.dim; i++) s += d.x[i];
    for (size_t i = 0; i < d.n; i++) s += d.y[i];
    (void)s;
    cr_dataset_free(&d);
  }
  return 0;
}
