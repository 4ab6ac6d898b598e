/* libFuzzer target: a .npy file. */
#include "fuzz.h"
#include "cr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cr_npy a;
  cr_err e;
  if (cr_npy_load_mem(&a, data, size, "input.npy", &e) == 0) {
    volatile unsigned s = 0;
    size_t bytes = a.count * cr_npy_elem_size(a.dtype);
    for (size_t i = 0; i < bytes; i++) s += ((const uint8_t *)a.data)[i];
    (void)s;
    cr_npy_free(&a);
  }
  return 0;
}
