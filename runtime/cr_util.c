/* Error messages, size arithmetic and data set arrays shared by every part of the runtime.
 * Depends on nothing else of the runtime (the file and gzip helpers are in cr_file.c). */
#define _DEFAULT_SOURCE /* madvise */
#include "cr_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Blocks of CR_HUGE_BYTES or more start on a 2 MB boundary and are advised to huge pages
 * before they are first touched (the kernel backs a page with a huge one at its first fault
 * only if the advice came first). */
#define CR_HUGE_BYTES ((size_t)2 << 20)

void *cr_alloc(size_t bytes) {
  size_t align = bytes >= CR_HUGE_BYTES ? CR_HUGE_BYTES : 64;
  size_t rounded = bytes ? bytes : 1;
  if (rounded > SIZE_MAX - align) return NULL;
  rounded = (rounded + align - 1) / align * align;   /* aligned_alloc wants a multiple */
  void *p = aligned_alloc(align, rounded);
  if (!p) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (align == CR_HUGE_BYTES) (void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
  memset(p, 0, bytes);
  return p;
}

int cr__dataset_alloc(cr_dataset *d, size_t n, size_t dim, const char *name, cr_err *e) {
  memset(d, 0, sizeof *d);
  size_t count, bytes;
  if (cr_size_mul(n, dim, &count) || cr_size_mul(count, sizeof(float), &bytes))
    return cr_errf(e, "%s: %zu samples of %zu values overflow the address space", name, n, dim);
  d->x = cr_alloc(bytes);
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
