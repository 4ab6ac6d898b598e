/* NumPy .npy files: float32 ('<f4'), uint8 ('|u1') and, for reading, int64 ('<i8': torch's
 * counters), C order, header versions 1-3. */
#include "cr_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t NPY_MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* --- a tiny parser for the header's Python dict literal ------------------------- */

typedef struct {
  const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static int take(cursor *c, char ch) {
  skip_ws(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return 1;
  }
  return 0;
}

/* A quoted string ('...' or "...", no escapes) copied into out (NUL-terminated). */
static int parse_str(cursor *c, char *out, size_t cap) {
  skip_ws(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
  char q = *c->p++;
  size_t n = 0;
  while (c->p < c->end && *c->p != q) {
    if (*c->p == '\\' || n + 1 >= cap) return -1;
    out[n++] = *c->p++;
  }
  if (c->p >= c->end) return -1;
  c->p++;
  out[n] = 0;
  return 0;
}

static int parse_word(cursor *c, const char *w) {
  skip_ws(c);
  size_t n = strlen(w);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return -1;
  c->p += n;
  return 0;
}

/* A shape tuple: "()", "(5,)", "(2, 3)", "(2, 3,)". Returns -1 on syntax errors,
 * -2 on more than 8 dimensions, -3 on a size that does not fit in size_t. */
static int parse_shape(cursor *c, size_t *shape, int *ndim) {
  if (!take(c, '(')) return -1;
  *ndim = 0;
  for (;;) {
    if (take(c, ')')) return 0;
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -1;
    size_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
      size_t digit = (size_t)(*c->p - '0');
      if (v > (SIZE_MAX - digit) / 10) return -3;
      v = v * 10 + digit;
      c->p++;
    }
    if (*ndim == 8) return -2;
    shape[(*ndim)++] = v;
    if (take(c, ')')) {
      /* "(5)" is an int in parentheses, not a tuple, in Python. */
      if (*ndim == 1) return -1;
      return 0;
    }
    if (!take(c, ',')) return -1;
  }
}

static int parse_header(const char *h, size_t hlen, const char *name, cr_npy *a, cr_err *e) {
  cursor c = {h, h + hlen};
  char key[32], descr[32];
  int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
  if (!take(&c, '{')) return cr_errf(e, "%s: .npy header is not a dict literal", name);
  for (;;) {
    if (take(&c, '}')) break;
    if (parse_str(&c, key, sizeof key) || !take(&c, ':'))
      return cr_errf(e, "%s: .npy header: malformed dict key", name);
    if (strcmp(key, "descr") == 0 && !have_descr) {
      if (parse_str(&c, descr, sizeof descr))
        return cr_errf(e, "%s: .npy header: 'descr' is not a simple dtype string", name);
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
      if (parse_word(&c, "False") == 0) fortran = 0;
      else if (parse_word(&c, "True") == 0) fortran = 1;
      else return cr_errf(e, "%s: .npy header: 'fortran_order' is not True or False", name);
      have_fortran = 1;
    } else if (strcmp(key, "shape") == 0 && !have_shape) {
      int rc = parse_shape(&c, a->shape, &a->ndim);
      if (rc == -2) return cr_errf(e, "%s: .npy array has more than 8 dimensions", name);
      if (rc == -3) return cr_errf(e, "%s: .npy shape has a size too large for this machine", name);
      if (rc) return cr_errf(e, "%s: .npy header: 'shape' is not a tuple of integers", name);
      have_shape = 1;
    } else {
      return cr_errf(e, "%s: .npy header: unexpected or repeated key '%s'", name, key);
    }
    if (take(&c, '}')) break;
    if (!take(&c, ',')) return cr_errf(e, "%s: .npy header: expected ',' or '}' in the dict", name);
  }
  skip_ws(&c);
  if (c.p != c.end) return cr_errf(e, "%s: .npy header: unexpected text after the dict", name);
  if (!have_descr || !have_fortran || !have_shape)
    return cr_errf(e, "%s: .npy header lacks '%s'", name,
                   !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
  if (fortran)
    return cr_errf(e, "%s: .npy array is in Fortran order (only C order is supported; "
                      "save np.ascontiguousarray(a))", name);
  if (strcmp(descr, "<f4") == 0) a->dtype = CR_F32;
  else if (strcmp(descr, "<i8") == 0) a->dtype = CR_I64;
  else if (strlen(descr) == 3 && strchr("|<>=", descr[0]) && strcmp(descr + 1, "u1") == 0)
    a->dtype = CR_U8;
  else
    return cr_errf(e, "%s: .npy dtype '%s' is not supported (only '<f4' float32, '|u1' uint8 and "
                      "'<i8' int64)", name, descr);
  return 0;
}

int cr_npy_load_mem(cr_npy *a, const uint8_t *buf, size_t len, const char *name, cr_err *e) {
  memset(a, 0, sizeof *a);
  if (len < 10) return cr_errf(e, "%s: truncated .npy header (%zu bytes)", name, len);
  if (memcmp(buf, NPY_MAGIC, 6) != 0) return cr_errf(e, "%s: not a .npy file (bad magic)", name);
  int major = buf[6];
  size_t prefix, hlen;
  if (major == 1) {
    prefix = 10;
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
  } else if (major == 2 || major == 3) {
    if (len < 12) return cr_errf(e, "%s: truncated .npy header (%zu bytes)", name, len);
    prefix = 12;
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
  } else {
    return cr_errf(e, "%s: .npy format version %d.%d is not supported (1.0, 2.0, 3.0)", name,
                   major, buf[7]);
  }
  if (hlen > len - prefix)
    return cr_errf(e, "%s: truncated .npy header (says %zu bytes, file has %zu after the prefix)",
                   name, hlen, len - prefix);
  cr_npy h;
  memset(&h, 0, sizeof h);
  if (parse_header((const char *)buf + prefix, hlen, name, &h, e)) return -1;
  size_t count = 1;
  for (int i = 0; i < h.ndim; i++)
    if (cr_size_mul(count, h.shape[i], &count))
      return cr_errf(e, "%s: .npy shape overflows (product of sizes too large)", name);
  size_t esize = cr_npy_elem_size(h.dtype), bytes;
  if (cr_size_mul(count, esize, &bytes))
    return cr_errf(e, "%s: .npy shape overflows (product of sizes too large)", name);
  size_t have = len - prefix - hlen;
  if (have < bytes)
    return cr_errf(e, "%s: truncated .npy data: shape needs %zu bytes, file has %zu", name, bytes,
                   have);
  if (have > bytes)
    return cr_errf(e, "%s: %zu unexpected bytes after the .npy data", name, have - bytes);
  h.count = count;
  h.data = malloc(bytes ? bytes : 1);
  if (!h.data) return cr_errf(e, "%s: out of memory for %zu bytes", name, bytes);
  const uint8_t *src = buf + prefix + hlen;
  if (h.dtype == CR_F32) {
    float *dst = h.data;
    for (size_t i = 0; i < count; i++) {
      const uint8_t *q = src + 4 * i;
      uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
      memcpy(&dst[i], &u, 4);
    }
  } else if (h.dtype == CR_I64) {
    int64_t *dst = h.data;
    for (size_t i = 0; i < count; i++) {
      uint64_t u = 0;
      for (int k = 7; k >= 0; k--) u = u << 8 | src[8 * i + (size_t)k];
      memcpy(&dst[i], &u, 8);   /* two's complement, as int64_t is by definition */
    }
  } else if (bytes) {
    memcpy(h.data, src, bytes);
  }
  *a = h;
  return 0;
}

size_t cr_npy_elem_size(int dtype) { return dtype == CR_F32 ? 4 : dtype == CR_I64 ? 8 : 1; }

int cr_npy_load(cr_npy *a, const char *path, cr_err *e) {
  memset(a, 0, sizeof *a);
  uint8_t *buf;
  size_t len;
  if (cr_read_file(path, &buf, &len, 0, e)) return -1;
  int rc = cr_npy_load_mem(a, buf, len, path, e);
  free(buf);
  return rc;
}

int cr_npy_save_version(const char *path, int dtype, const void *data, int ndim,
                        const size_t *shape, int version, cr_err *e) {
  if (dtype != CR_F32 && dtype != CR_U8) return cr_errf(e, "%s: unknown dtype %d", path, dtype);
  if (ndim < 0 || ndim > 8) return cr_errf(e, "%s: %d dimensions (0 to 8 supported)", path, ndim);
  if (version < 0 || version > 2) return cr_errf(e, "%s: .npy version %d (1 or 2)", path, version);
  char dict[512];
  int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                   dtype == CR_F32 ? "<f4" : "|u1");
  size_t count = 1;
  for (int i = 0; i < ndim; i++) {
    if (cr_size_mul(count, shape[i], &count))
      return cr_errf(e, "%s: shape overflows", path);
    k += snprintf(dict + k, sizeof dict - (size_t)k, i ? ", %zu" : "%zu", shape[i]);
  }
  k += snprintf(dict + k, sizeof dict - (size_t)k, "%s), }", ndim == 1 ? "," : "");
  size_t dlen = (size_t)k, esize = dtype == CR_F32 ? 4 : 1, bytes;
  if (cr_size_mul(count, esize, &bytes)) return cr_errf(e, "%s: shape overflows", path);
  /* Version 1 keeps the header length in 2 bytes; NumPy switches to 2.0 beyond that. */
  if (version == 0) version = 10 + dlen + 1 + 64 <= 65535 ? 1 : 2;
  size_t prefix = version == 1 ? 10 : 12;
  size_t hlen = dlen + 1;                        /* + '\n' */
  hlen += (64 - (prefix + hlen) % 64) % 64;      /* spaces so the data starts at 64k */
  size_t total = prefix + hlen;
  if (bytes > SIZE_MAX - total) return cr_errf(e, "%s: array too large", path);
  total += bytes;
  uint8_t *buf = malloc(total);
  if (!buf) return cr_errf(e, "%s: out of memory", path);
  memcpy(buf, NPY_MAGIC, 6);
  buf[6] = (uint8_t)version;
  buf[7] = 0;
  buf[8] = (uint8_t)hlen;
  buf[9] = (uint8_t)(hlen >> 8);
  if (version == 2) {
    buf[10] = (uint8_t)(hlen >> 16);
    buf[11] = (uint8_t)(hlen >> 24);
  }
  memcpy(buf + prefix, dict, dlen);
  memset(buf + prefix + dlen, ' ', hlen - dlen - 1);
  buf[prefix + hlen - 1] = '\n';
  uint8_t *dst = buf + prefix + hlen;
  if (dtype == CR_F32) {
    const float *src = data;
    for (size_t i = 0; i < count; i++) {
      uint32_t u;
      memcpy(&u, &src[i], 4);
      dst[4 * i] = (uint8_t)u;
      dst[4 * i + 1] = (uint8_t)(u >> 8);
      dst[4 * i + 2] = (uint8_t)(u >> 16);
      dst[4 * i + 3] = (uint8_t)(u >> 24);
    }
  } else if (bytes) {
    memcpy(dst, data, bytes);
  }
  int rc = cr_write_file(path, buf, total, 0, e);
  free(buf);
  return rc;
}

int cr_npy_save(const char *path, int dtype, const void *data, int ndim, const size_t *shape,
                cr_err *e) {
  return cr_npy_save_version(path, dtype, data, ndim, shape, 0, e);
}

void cr_npy_free(cr_npy *a) {
  if (!a) return;
  free(a->data);
  memset(a, 0, sizeof *a);
}
