/* Shared by the fuzz targets: how one fuzzer input becomes an images/labels pair. */
#ifndef CR_FUZZ_H
#define CR_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Input layout of the IDX targets: 2 bytes little-endian k, then k bytes of the images
 * file, then the labels file (the rest). k is clamped to what is there. */
static inline void fuzz_split(const uint8_t *data, size_t size, const uint8_t **a, size_t *alen,
                              const uint8_t **b, size_t *blen) {
  size_t k = size >= 2 ? (size_t)data[0] | (size_t)data[1] << 8 : 0;
  size_t rest = size >= 2 ? size - 2 : 0;
  if (k > rest) k = rest;
  *a = data + (size >= 2 ? 2 : size);
  *alen = k;
  *b = *a + k;
  *blen = rest - k;
}

#endif
