/* Statistics over float arrays: the non-finite scan and mean/std. */
#include "cr.h"

#include <math.h>
#include <string.h>

int cr_any_nonfinite(const float *x, size_t n) {
  /* A float is NaN or Inf when its exponent field is all ones, and then
     (bits & 0x7f800000) + 0x00800000 carries into bit 31; for every other exponent it stays
     below 2^31. OR-ing those sums is three integer operations per element, which compilers
     vectorise even at the baseline SSE2 (the trainer scans every gradient after every step;
     a max over the magnitude bits needs SSE4.1's pmaxud to vectorise and ran twice as long
     without it). */
  uint32_t any = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &x[i], 4);
    any |= (u & 0x7f800000u) + 0x00800000u;
  }
  return (int)(any >> 31);
}

long cr_first_nonfinite(const float *x, size_t n) {
  /* the fast test first, the index search only when something was found */
  if (!cr_any_nonfinite(x, n)) return -1;
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return (long)i;
  return -1;
}

void cr_mean_std(const float *x, size_t n, double *mean, double *std) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += x[i];
  double m = n ? s / (double)n : 0.0;
  double ss = 0.0;
  for (size_t i = 0; i < n; i++) {
    double dv = x[i] - m;
    ss += dv * dv;
  }
  *mean = m;
  *std = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
}
