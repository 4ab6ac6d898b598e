/* Statistics over float arrays: the non-finite scan and mean/std. */
#include "cr.h"

#include <math.h>
#include <string.h>

long cr_first_nonfinite(const float *x, size_t n) {
  /* The largest magnitude bit pattern first (fast, vectorisable); the index search runs
     only when something was found. */
  uint32_t worst = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &x[i], 4);
    u &= 0x7fffffffu;
    worst = u > worst ? u : worst;
  }
  if (worst < 0x7f800000u) return -1;
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
