/* libFuzzer target for gzip'ed IDX, two ways per input:
 *   1. the input as a gzip stream: cr_gunzip (limit 4 MiB), then the result as an IDX
 *      images/labels pair (see fuzz_split) -- hostile compressed data;
 *   2. the input as an IDX pair whose two files are gzip-compressed here before
 *      cr_idx_load_mem sees them -- hostile IDX content behind valid compression. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cr.h"
#include "fuzz.h"

/* gzip of len bytes into a malloc'ed buffer, or NULL. */
static uint8_t *gzip_bytes(const uint8_t *data, size_t len, size_t *out_len) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return NULL;
  size_t cap = deflateBound(&zs, (uLong)len) + 32;
  uint8_t *out = malloc(cap);
  if (!out) { deflateEnd(&zs); return NULL; }
  zs.next_in = (Bytef *)(uintptr_t)data;
  zs.avail_in = (uInt)len;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  int rc = deflate(&zs, Z_FINISH);
  *out_len = cap - zs.avail_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) { free(out); return NULL; }
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cr_err e;
  cr_dataset d;
  const uint8_t *img, *lab;
  size_t il, ll;
  uint8_t *out;
  size_t n;
  if (cr_gunzip(data, size, &out, &n, (size_t)1 << 22, "input.gz", &e) == 0) {
    fuzz_split(out, n, &img, &il, &lab, &ll);
    if (cr_idx_load_mem(&d, img, il, "images", lab, ll, "labels", &e) == 0) cr_dataset_free(&d);
    free(out);
  }
  fuzz_split(data, size, &img, &il, &lab, &ll);
  size_t gil = 0, gll = 0;
  uint8_t *gi = gzip_bytes(img, il, &gil), *gl = gzip_bytes(lab, ll, &gll);
  if (gi && gl && cr_idx_load_mem(&d, gi, gil, "images.gz", gl, gll, "labels.gz", &e) == 0)
    cr_dataset_free(&d);
  free(gi);
  free(gl);
  return 0;
}
