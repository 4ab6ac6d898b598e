/* Error messages, size arithmetic and data set arrays shared by every part of the runtime.
 * Depends on nothing else of the runtime (the file and gzip helpers are in cr_file.c). */
#define _DEFAULT_SOURCE /* madvise */
#include "cr_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

int cr_errf(cr_err *e, const char *fmt, ...) {
  if (e) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
  }
  return -1;
}

int cr_size_mul(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a) return -1;
  *out = a * b;
  return 0;
}

int cr__ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* malloc, and for a large block the advice to back it with transparent huge pages where
 * the kernel offers them (Linux). Training reads a data set's rows in shuffled order: with
 * 4 KB pages nearly every row of a large set costs TLB misses (page walks, slow in a VM).
 * Advice only: the bytes and the results are the same without it. */
static void *alloc_rows(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  long page = sysconf(_SC_PAGESIZE);
  if (p && page > 0 && bytes >= ((size_t)8 << 20)) {
    uintptr_t a = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t b = ((uintptr_t)p + bytes) & ~((uintptr_t)page - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
  }
#endif
  return p;
}

int cr__dataset_alloc(cr_dataset *d, size_t n, size_t dim, const char *name, cr_err *e) {
  memset(d, 0, sizeof *d);
  size_t count, bytes;
  if (cr_size_mul(n, dim, &count) || cr_size_mul(count, sizeof(float), &bytes))
    return cr_errf(e, "%s: %zu samples of %zu values overflow the address space", name, n, dim);
  d->x = alloc_rows(bytes);
  d->y = malloc(n ? n : 1);
  if (!d->x || !d->y) {
    free(d->x);
    free(d->y);
    memset(d, 0, sizeof *d);
    return cr_errf(e, "%s: out of memory for %zu samples of %zu values", name, n, dim);
  }
  d->n = n;
  d->dim = dim;
  d->rows = 1;
  d->cols = 0;
  d->chans = 0;
  return 0;
}

void cr_dataset_free(cr_dataset *d) {
  if (!d) return;
  free(d->x);
  free(d->y);
  memset(d, 0, sizeof *d);
}
