/* cr_train_report.c — the deep-stack half of the init report: why initialisation
 * scale matters, shown on 100 stacked 512x512 layers (the seed's experiment). */
#include "cr_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { DEEP_DIM = 512, DEEP_LAYERS = 100, DEEP_ROWS = 16 };

typedef struct {
  const char *label;
  float scale;       /* W = randn * scale */
  int relu;          /* relu after every layer */
  float *x, *y;      /* [DEEP_ROWS][DEEP_DIM] */
  int dead_at;       /* first layer whose output holds inf/nan, 0 = never */
  double mean[DEEP_LAYERS + 1], std[DEEP_LAYERS + 1];
} deep_run;

int cr_deep_stack_report(FILE *out, uint64_t seed, cr_err *e) {
  const size_t sz = (size_t)DEEP_ROWS * DEEP_DIM;
  float *w = malloc(sizeof(float) * DEEP_DIM * DEEP_DIM);
  float *x0 = malloc(sizeof(float) * sz);
  deep_run runs[3] = {
      {"randn", 1.0f, 0, NULL, NULL, 0, {0}, {0}},
      {"randn/sqrt(512)", 1.0f / sqrtf((float)DEEP_DIM), 0, NULL, NULL, 0, {0}, {0}},
      {"relu, kaiming", sqrtf(2.0f / (float)DEEP_DIM), 1, NULL, NULL, 0, {0}, {0}},
  };
  int ok = w && x0;
  for (int r = 0; r < 3; r++) {
    runs[r].x = malloc(sizeof(float) * sz);
    runs[r].y = malloc(sizeof(float) * sz);
    ok = ok && runs[r].x && runs[r].y;
  }
  if (!ok) {
    free(w), free(x0);
    for (int r = 0; r < 3; r++) free(runs[r].x), free(runs[r].y);
    return cr_errf(e, "deep-stack report: out of memory");
  }
  cr_rng rng;
  cr_rng_seed(&rng, seed, CR_STREAM_DATA);
  for (size_t i = 0; i < sz; i++) x0[i] = cr_rng_normal(&rng);
  for (int r = 0; r < 3; r++) {
    memcpy(runs[r].x, x0, sizeof(float) * sz);
    cr_mean_std(x0, sz, &runs[r].mean[0], &runs[r].std[0]);
  }
  /* One randn matrix per depth, shared by the three runs (scaled per run), so the only
     difference between the columns is the scale and the relu. */
  cr_rng_seed(&rng, seed, CR_STREAM_INIT);
  float *ws = malloc(sizeof(float) * DEEP_DIM * DEEP_DIM);
  if (!ws) {
    free(w), free(x0);
    for (int r = 0; r < 3; r++) free(runs[r].x), free(runs[r].y);
    return cr_errf(e, "deep-stack report: out of memory");
  }
  for (int l = 1; l <= DEEP_LAYERS; l++) {
    for (size_t i = 0; i < (size_t)DEEP_DIM * DEEP_DIM; i++) w[i] = cr_rng_normal(&rng);
    for (int r = 0; r < 3; r++) {
      deep_run *d = &runs[r];
      for (size_t i = 0; i < (size_t)DEEP_DIM * DEEP_DIM; i++) ws[i] = w[i] * d->scale;
      cr_naive_linear(d->y, d->x, ws, NULL, DEEP_ROWS, DEEP_DIM, DEEP_DIM);
      if (d->relu)
        for (size_t i = 0; i < sz; i++) d->y[i] = d->y[i] > 0.0f ? d->y[i] : 0.0f;
      if (!d->dead_at && cr_first_nonfinite(d->y, sz) >= 0) d->dead_at = l;
      cr_mean_std(d->y, sz, &d->mean[l], &d->std[l]);
      float *t = d->x;
      d->x = d->y, d->y = t;
    }
  }
  fprintf(out, "deep stack: %d linear layers %dx%d without bias, %d input rows x ~ N(0,1), "
               "seed %llu\n", DEEP_LAYERS, DEEP_DIM, DEEP_DIM, DEEP_ROWS, (unsigned long long)seed);
  fprintf(out, "(W = randn x scale; the same randn per depth in every column; float32)\n");
  fprintf(out, "%6s  %-24s %-24s %-24s\n", "depth", "randn (scale 1)", "randn/sqrt(512)",
          "relu, kaiming sqrt(2/512)");
  static const int depths[] = {1, 2, 5, 10, 20, 25, 28, 30, 40, 50, 75, 100};
  for (size_t k = 0; k < sizeof depths / sizeof depths[0]; k++) {
    int l = depths[k];
    fprintf(out, "%6d", l);
    for (int r = 0; r < 3; r++) {
      char cell[64];
      if (isfinite(runs[r].mean[l]) && isfinite(runs[r].std[l]))
        snprintf(cell, sizeof cell, "mean %9.3g std %9.3g", runs[r].mean[l], runs[r].std[l]);
      else
        snprintf(cell, sizeof cell, "(inf/nan)");
      fprintf(out, "  %-24s", cell);
    }
    fprintf(out, "\n");
  }
  for (int r = 0; r < 3; r++) {
    if (runs[r].dead_at)
      fprintf(out, "%s: activations first hold inf/nan after layer %d\n", runs[r].label,
              runs[r].dead_at);
    else
      fprintf(out, "%s: finite through all %d layers (final std %.3g)\n", runs[r].label,
              DEEP_LAYERS, runs[r].std[DEEP_LAYERS]);
  }
  free(w), free(ws), free(x0);
  for (int r = 0; r < 3; r++) free(runs[r].x), free(runs[r].y);
  return 0;
}
