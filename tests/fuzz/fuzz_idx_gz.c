/* libFuzzer target: gzip decompression (cr_gunzip) of the whole input, then the result
 * as an IDX images/labels pair (see fuzz_split). */
#include <stdlib.h>

#include "fuzz.h"
#include "cr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *out;
  size_t n;
  cr_err e;
  if (cr_gunzip(data, size, &out, &n, (size_t)1 << 22, "input.gz", &e) != 0) return 0;
  const uint8_t *img, *lab;
  size_t il, ll;
  fuzz_split(out, n, &img, &il, &lab, &ll);
  cr_dataset d;
  if (cr_idx_load_mem(&d, img, il, "images", lab, ll, "labels", &e) == 0) cr_dataset_free(&d);
  free(out);
  return 0;
}
