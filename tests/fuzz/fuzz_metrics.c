/* libFuzzer target: the trainer's metrics CSV reader (cr_metrics_parse, what --resume reads)
 * and writer (cr_metrics_format): whatever the reader accepts, the writer formats (however
 * wide its numbers print) and the reader reads back to the same rows. Input: the file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cr_train.h"
#include "fuzz.h"

static int same(const cr_metrics_row *a, const cr_metrics_row *b) {
  /* the writer prints %.6f / %.4f / %.3f: compare what those print, not the doubles */
  char x[2][1400];
  for (int k = 0; k < 2; k++) {
    const cr_metrics_row *r = k ? b : a;
    snprintf(x[k], sizeof x[k], "%d %.6f %.6f %.4f %.3f %d", r->epoch, r->train_loss,
             r->valid_loss, isnan(r->valid_acc) ? 0.0 : r->valid_acc, r->seconds,
             isnan(r->valid_acc));
  }
  return strcmp(x[0], x[1]) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  enum { MAX = 64 };
  cr_metrics_row rows[MAX], back[MAX];
  int n = 0, m = 0;
  cr_err e;
  if (cr_metrics_parse((const char *)data, size, "input.csv", 1 << 30, rows, MAX, &n, &e) != 0)
    return 0;
  char *text;
  size_t len;
  if (cr_metrics_format(rows, n, &text, &len, &e) != 0) return 0;
  if (strlen(text) != len) abort();
  /* formatted rows read back: every row (no epoch filter), the same numbers as printed */
  if (cr_metrics_parse(text, len, "again.csv", 1 << 30, back, MAX, &m, &e) != 0) abort();
  if (m != n) abort();
  for (int i = 0; i < n; i++) {
    cr_metrics_row r = back[i];
    if (!same(&rows[i], &r)) abort();
  }
  free(text);
  return 0;
}
