/* libFuzzer target: a CSV data set. */
#include "fuzz.h"
#include "cr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cr_dataset d;
  cr_err e;
  if (cr_csv_load_mem(&d, data, size, "input.csv", &e) == 0) {
    volatile float s = 0;
    for (size_t i = 0; i < d.n * d.dim; i++) s += d.x[i];
    (void)s;
    cr_dataset_free(&d);
  }
  return 0;
}
