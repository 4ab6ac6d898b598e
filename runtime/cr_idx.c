/* IDX files (the MNIST format): parsing from memory, loading into a cr_dataset, saving. */
#include "cr_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDX_UBYTE 0x08

typedef struct {
  int ndim;
  size_t dims[3];
  size_t count;
  const uint8_t *data;
} idx_view;

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Validates a whole (decompressed) IDX file of unsigned bytes with 1..3 dimensions. */
static int idx_parse(const uint8_t *buf, size_t len, const char *name, idx_view *v, cr_err *e) {
  memset(v, 0, sizeof *v);
  if (len < 4)
    return cr_errf(e, "%s: truncated IDX header (%zu bytes, the magic number alone is 4)", name, len);
  if (buf[0] != 0 || buf[1] != 0)
    return cr_errf(e, "%s: not an IDX file (magic %02x %02x %02x %02x, expected 00 00 08 0N)",
                   name, buf[0], buf[1], buf[2], buf[3]);
  if (buf[2] != IDX_UBYTE)
    return cr_errf(e, "%s: unsupported IDX element type 0x%02x (only unsigned byte, 0x08)", name,
                   buf[2]);
  int ndim = buf[3];
  if (ndim < 1 || ndim > 3)
    return cr_errf(e, "%s: IDX file has %d dimensions (1 to 3 supported)", name, ndim);
  size_t header = 4 + 4 * (size_t)ndim;
  if (len < header)
    return cr_errf(e, "%s: truncated IDX header (%zu bytes, %d dimensions need %zu)", name, len,
                   ndim, header);
  size_t count = 1;
  for (int i = 0; i < ndim; i++) {
    v->dims[i] = be32(buf + 4 + 4 * i);
    if (cr_size_mul(count, v->dims[i], &count))
      return cr_errf(e, "%s: IDX dimensions overflow (product of sizes too large)", name);
  }
  char shape[64];
  if (ndim == 1) snprintf(shape, sizeof shape, "%zu", v->dims[0]);
  else if (ndim == 2) snprintf(shape, sizeof shape, "%zux%zu", v->dims[0], v->dims[1]);
  else snprintf(shape, sizeof shape, "%zux%zux%zu", v->dims[0], v->dims[1], v->dims[2]);
  if (len - header < count)
    return cr_errf(e, "%s: truncated IDX data: header says %s = %zu bytes, file has %zu", name,
                   shape, count, len - header);
  if (len - header > count)
    return cr_errf(e, "%s: %zu unexpected bytes after the IDX data (%s)", name,
                   len - header - count, shape);
  v->ndim = ndim;
  v->count = count;
  v->data = buf + header;
  return 0;
}

static int images_ndim(const idx_view *iv, const char *name, cr_err *e) {
  if (iv->ndim >= 2) return 0;
  return cr_errf(e, "%s: IDX images need 2 or 3 dimensions ([n][dim] or [n][rows][cols]), got %d",
                 name, iv->ndim);
}

/* Fills d from parsed images of 2 or 3 dimensions: x = pixels / 255, y zeroed. */
static int idx_images(cr_dataset *d, const idx_view *iv, const char *name, cr_err *e) {
  size_t n = iv->dims[0];
  if (n == 0) return cr_errf(e, "%s: no samples", name);
  size_t rows = iv->ndim == 3 ? iv->dims[1] : 1;
  size_t cols = iv->ndim == 3 ? iv->dims[2] : iv->dims[1];
  if (rows == 0 || cols == 0 || rows > INT_MAX || cols > INT_MAX)
    return cr_errf(e, "%s: unusable image shape %zux%zu", name, rows, cols);
  size_t dim = rows * cols;   /* no overflow: n * rows * cols was checked */
  if (cr__dataset_alloc(d, n, dim, name, e)) return -1;
  d->rows = (int)rows;
  d->cols = (int)cols;
  for (size_t i = 0; i < iv->count; i++) d->x[i] = (float)iv->data[i] / 255.0f;
  memset(d->y, 0, n);
  return 0;
}

int cr_idx_load_mem(cr_dataset *d,
                    const uint8_t *images, size_t images_len, const char *images_name,
                    const uint8_t *labels, size_t labels_len, const char *labels_name,
                    cr_err *e) {
  memset(d, 0, sizeof *d);
  const uint8_t *ib, *lb;
  size_t il, ll;
  uint8_t *iown = NULL, *lown = NULL;
  int status = -1;
  idx_view iv, lv;
  if (cr__maybe_gunzip(images, images_len, images_name, &ib, &il, &iown, e)) goto done;
  if (cr__maybe_gunzip(labels, labels_len, labels_name, &lb, &ll, &lown, e)) goto done;
  if (idx_parse(ib, il, images_name, &iv, e) || idx_parse(lb, ll, labels_name, &lv, e)) goto done;
  if (images_ndim(&iv, images_name, e)) goto done;
  if (lv.ndim != 1) {
    cr_errf(e, "%s: IDX labels need 1 dimension ([n]), got %d", labels_name, lv.ndim);
    goto done;
  }
  size_t n = iv.dims[0];
  if (lv.dims[0] != n) {
    cr_errf(e, "%s: %zu labels for %zu images in %s", labels_name, lv.dims[0], n, images_name);
    goto done;
  }
  if (idx_images(d, &iv, images_name, e)) goto done;
  memcpy(d->y, lv.data, n);
  status = 0;
done:
  free(iown);
  free(lown);
  return status;
}

int cr__idx_images_mem(cr_dataset *d, const uint8_t *images, size_t images_len,
                       const char *images_name, cr_err *e) {
  memset(d, 0, sizeof *d);
  const uint8_t *ib;
  size_t il;
  uint8_t *iown = NULL;
  idx_view iv;
  int status = -1;
  if (cr__maybe_gunzip(images, images_len, images_name, &ib, &il, &iown, e)) goto done;
  if (idx_parse(ib, il, images_name, &iv, e)) goto done;
  if (images_ndim(&iv, images_name, e)) goto done;
  status = idx_images(d, &iv, images_name, e);
done:
  free(iown);
  return status;
}

int cr_idx_load(cr_dataset *d, const char *images_path, const char *labels_path, cr_err *e) {
  memset(d, 0, sizeof *d);
  uint8_t *ib = NULL, *lb = NULL;
  size_t il, ll;
  if (cr_read_file(images_path, &ib, &il, 0, e)) return -1;
  if (cr_read_file(labels_path, &lb, &ll, 0, e)) { free(ib); return -1; }
  int rc = cr_idx_load_mem(d, ib, il, images_path, lb, ll, labels_path, e);
  free(ib);
  free(lb);
  return rc;
}

static int idx_write(const char *path, int ndim, const uint32_t *dims, const uint8_t *data,
                     size_t count, cr_err *e) {
  size_t header = 4 + 4 * (size_t)ndim, total;
  if (count > SIZE_MAX - header) return cr_errf(e, "%s: data too large", path);
  total = header + count;
  uint8_t *buf = malloc(total);
  if (!buf) return cr_errf(e, "%s: out of memory", path);
  buf[0] = 0;
  buf[1] = 0;
  buf[2] = IDX_UBYTE;
  buf[3] = (uint8_t)ndim;
  for (int i = 0; i < ndim; i++) put_be32(buf + 4 + 4 * i, dims[i]);
  if (count) memcpy(buf + header, data, count);
  int rc = cr_write_file(path, buf, total, cr__ends_with(path, ".gz"), e);
  free(buf);
  return rc;
}

int cr_idx_save(const char *images_path, const char *labels_path,
                const uint8_t *images, const uint8_t *labels,
                size_t n, int rows, int cols, cr_err *e) {
  const char *name = images_path ? images_path : labels_path ? labels_path : "(idx)";
  if (rows < 1 || cols < 1 || n > UINT32_MAX || (uint64_t)rows > UINT32_MAX ||
      (uint64_t)cols > UINT32_MAX)
    return cr_errf(e, "%s: IDX cannot hold %zu images of %dx%d", name, n, rows, cols);
  if (images_path) {
    size_t count;
    if (cr_size_mul(n, (size_t)rows, &count) || cr_size_mul(count, (size_t)cols, &count))
      return cr_errf(e, "%s: %zu images of %dx%d overflow", images_path, n, rows, cols);
    uint32_t dims[3] = {(uint32_t)n, (uint32_t)rows, (uint32_t)cols};
    if (idx_write(images_path, 3, dims, images, count, e)) return -1;
  }
  if (labels_path) {
    uint32_t dims[1] = {(uint32_t)n};
    if (idx_write(labels_path, 1, dims, labels, n, e)) return -1;
  }
  return 0;
}
