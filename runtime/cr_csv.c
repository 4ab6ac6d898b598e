/* CSV data sets: "label,v0,v1,..." per line, an optional header line. */
#include "cr_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *p, *end;
} span;

static span trim(span s) {
  while (s.p < s.end && (*s.p == ' ' || *s.p == '\t')) s.p++;
  while (s.end > s.p && (s.end[-1] == ' ' || s.end[-1] == '\t' || s.end[-1] == '\r')) s.end--;
  return s;
}

/* Next line of [*pos, end): its span without the '\n'; advances *pos. */
static span next_line(const char **pos, const char *end) {
  span s = {*pos, *pos};
  while (s.end < end && *s.end != '\n') s.end++;
  *pos = s.end < end ? s.end + 1 : end;
  return s;
}

static size_t count_fields(span line) {
  size_t n = 1;
  for (const char *q = line.p; q < line.end; q++) n += *q == ',';
  return n;
}

/* The field starting at *p within line (ends at ',' or the line end), trimmed. */
static span next_field(const char **p, const char *end) {
  span f = {*p, *p};
  while (f.end < end && *f.end != ',') f.end++;
  *p = f.end < end ? f.end + 1 : end;
  return trim(f);
}

static int parse_label(span f, int *out) {
  size_t n = (size_t)(f.end - f.p);
  if (n == 0 || n > 3) return -1;
  int v = 0;
  for (const char *q = f.p; q < f.end; q++) {
    if (*q < '0' || *q > '9') return -1;
    v = v * 10 + (*q - '0');
  }
  if (v > 255) return -1;
  *out = v;
  return 0;
}

/* A decimal number (no hex, inf or nan) that fits in a finite float. */
static int parse_value(span f, float *out) {
  char tmp[64];
  size_t n = (size_t)(f.end - f.p);
  if (n == 0 || n >= sizeof tmp) return -1;
  int digits = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = f.p[i];
    if (ch >= '0' && ch <= '9') digits = 1;
    else if (!strchr("+-.eE", ch) || ch == 0) return -1;
    tmp[i] = ch;
  }
  if (!digits) return -1;
  tmp[n] = 0;
  char *endp;
  errno = 0;
  float v = strtof(tmp, &endp);
  if (endp != tmp + n || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

static void show(span f, char *buf, size_t cap) {
  size_t n = (size_t)(f.end - f.p), k = 0;
  for (size_t i = 0; i < n && k + 4 < cap; i++) {
    unsigned char ch = (unsigned char)f.p[i];
    buf[k++] = ch >= 32 && ch < 127 ? (char)ch : '?';
  }
  if (n > 0 && k < n) {
    if (k + 4 >= cap) k = cap - 4;
    memcpy(buf + k, "...", 3);
    k += 3;
  }
  buf[k] = 0;
}

int cr_csv_load_mem(cr_dataset *d, const uint8_t *buf, size_t len, const char *name, cr_err *e) {
  memset(d, 0, sizeof *d);
  const char *begin = (const char *)buf, *end = begin + len, *pos = begin;
  /* Pass 1: the header, the field count, the number of data rows. */
  size_t fields = 0, rows = 0, line_no = 0;
  int header = 0;
  while (pos < end) {
    span line = trim(next_line(&pos, end));
    line_no++;
    if (line.p == line.end) continue;
    if (fields == 0) {
      fields = count_fields(line);
      const char *q = line.p;
      span f = next_field(&q, line.end);
      float v;
      if (parse_value(f, &v) != 0) {   /* first field is not a number: a header line */
        header = 1;
        continue;
      }
    }
    rows++;
  }
  if (rows == 0) return cr_errf(e, "%s: no data rows in the CSV file", name);
  if (fields < 2) return cr_errf(e, "%s: CSV rows need a label and at least one value", name);
  size_t dim = fields - 1;
  if (dim > INT_MAX) return cr_errf(e, "%s: CSV rows are too long (%zu values)", name, dim);
  if (cr__dataset_alloc(d, rows, dim, name, e)) return -1;
  d->rows = 1;
  d->cols = (int)dim;
  /* Pass 2: parse every data row. */
  pos = begin;
  line_no = 0;
  size_t r = 0;
  int seen_first = 0;
  char shown[48];
  while (pos < end) {
    span line = trim(next_line(&pos, end));
    line_no++;
    if (line.p == line.end) continue;
    if (!seen_first) {
      seen_first = 1;
      if (header) continue;
    }
    size_t nf = count_fields(line);
    if (nf != fields) {
      cr_dataset_free(d);
      return cr_errf(e, "%s:%zu: row has %zu fields, expected %zu (label + %zu values)", name,
                     line_no, nf, fields, dim);
    }
    const char *q = line.p;
    span f = next_field(&q, line.end);
    int label;
    if (parse_label(f, &label)) {
      show(f, shown, sizeof shown);
      cr_dataset_free(d);
      return cr_errf(e, "%s:%zu: label '%s' is not an integer 0..255", name, line_no, shown);
    }
    d->y[r] = (uint8_t)label;
    float *x = d->x + r * dim;
    for (size_t j = 0; j < dim; j++) {
      f = next_field(&q, line.end);
      if (parse_value(f, &x[j])) {
        show(f, shown, sizeof shown);
        cr_dataset_free(d);
        return cr_errf(e, "%s:%zu: field %zu '%s' is not a finite decimal number", name, line_no,
                       j + 2, shown);
      }
    }
    r++;
  }
  return 0;
}

int cr_csv_load(cr_dataset *d, const char *path, cr_err *e) {
  memset(d, 0, sizeof *d);
  uint8_t *buf;
  size_t len;
  if (cr_read_file(path, &buf, &len, 0, e)) return -1;
  int rc = cr_csv_load_mem(d, buf, len, path, e);
  free(buf);
  return rc;
}

/* A growing text buffer for the writer. */
typedef struct {
  char *p;
  size_t n, cap;
  int failed;
} text;

static void put(text *t, const char *s, size_t n) {
  if (t->failed) return;
  if (t->cap - t->n < n) {
    size_t cap = t->cap ? t->cap : 4096;
    while (cap - t->n < n) {
      if (cap > SIZE_MAX / 2) { t->failed = 1; return; }
      cap *= 2;
    }
    char *np = realloc(t->p, cap);
    if (!np) { t->failed = 1; return; }
    t->p = np;
    t->cap = cap;
  }
  memcpy(t->p + t->n, s, n);
  t->n += n;
}

int cr_csv_save(const char *path, const cr_dataset *d, int header, cr_err *e) {
  text t = {0};
  char num[48];
  if (header) {
    put(&t, "label", 5);
    for (size_t j = 0; j < d->dim; j++) {
      int k = snprintf(num, sizeof num, ",p%zu", j);
      put(&t, num, (size_t)k);
    }
    put(&t, "\n", 1);
  }
  for (size_t i = 0; i < d->n; i++) {
    int k = snprintf(num, sizeof num, "%u", (unsigned)d->y[i]);
    put(&t, num, (size_t)k);
    const float *x = d->x + i * d->dim;
    for (size_t j = 0; j < d->dim; j++) {
      k = snprintf(num, sizeof num, ",%.9g", (double)x[j]);
      put(&t, num, (size_t)k);
    }
    put(&t, "\n", 1);
  }
  if (t.failed) {
    free(t.p);
    return cr_errf(e, "%s: out of memory formatting CSV", path);
  }
  int rc = cr_write_file(path, t.p ? t.p : "", t.n, cr__ends_with(path, ".gz"), e);
  free(t.p);
  return rc;
}
