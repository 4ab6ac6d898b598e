/* train_util.c — small pieces of the trainer: clock, progress bar, metrics CSV,
 * gnuplot plot, the naive layers of the init report. */
#define _POSIX_C_SOURCE 200809L
#include "cr_train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double cr_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- progress bar ---- */

void cr_progress_start(cr_progress *p, FILE *f, int tty, int epoch, int epochs, long total) {
  p->f = f;
  p->tty = tty;
  p->total = total > 0 ? total : 1;
  p->done = 0;
  p->t0 = cr_now();
  p->last_draw = -1.0;
  p->epoch = epoch;
  p->epochs = epochs;
}

void cr_progress_update(cr_progress *p, long done, double loss) {
  p->done = done;
  if (!p->tty) return;
  double t = cr_now();
  if (done < p->total && p->last_draw >= 0 && t - p->last_draw < 0.1) return;
  p->last_draw = t;
  enum { WIDTH = 20 };
  char bar[WIDTH + 1];
  long fill = (long)((double)done / (double)p->total * WIDTH);
  if (fill > WIDTH) fill = WIDTH;
  for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
  bar[WIDTH] = '\0';
  double el = t - p->t0;
  double rate = el > 0 ? (double)done / el : 0.0;
  /* \033[K clears to the end of the line; kept under 80 columns so it never wraps */
  fprintf(p->f, "\r\033[Kepoch %d/%d [%s] %ld/%ld loss %.4f %.0f samples/s", p->epoch, p->epochs,
          bar, done, p->total, loss, rate);
  fflush(p->f);
}

void cr_progress_end(cr_progress *p) {
  if (!p->tty) return;
  fprintf(p->f, "\r\033[K");
  fflush(p->f);
}

/* ---- metrics CSV ---- */

int cr_metrics_write(const char *path, const cr_metrics_row *rows, int n, cr_err *e) {
  size_t cap = 64 + (size_t)n * 128, len = 0;
  char *buf = malloc(cap);
  if (!buf) return cr_errf(e, "%s: out of memory", path);
  len += (size_t)snprintf(buf, cap, "epoch,train_loss,valid_loss,valid_acc,seconds\n");
  for (int i = 0; i < n; i++) {
    char acc[32] = "";
    if (!isnan(rows[i].valid_acc)) snprintf(acc, sizeof acc, "%.4f", rows[i].valid_acc);
    len += (size_t)snprintf(buf + len, cap - len, "%d,%.6f,%.6f,%s,%.3f\n", rows[i].epoch,
                            rows[i].train_loss, rows[i].valid_loss, acc, rows[i].seconds);
  }
  int rc = cr_write_file(path, buf, len, 0, e);
  free(buf);
  return rc;
}

int cr_metrics_read(const char *path, int below_epoch, cr_metrics_row *rows, int max, int *n,
                    cr_err *e) {
  *n = 0;
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errno == ENOENT) return 0;
    return cr_errf(e, "%s: cannot open metrics: %s", path, strerror(errno));
  }
  char line[512];
  int lineno = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    if (lineno == 1) {
      if (strncmp(line, "epoch,train_loss,valid_loss,valid_acc,seconds", 45) != 0) {
        fclose(f);
        return cr_errf(e, "%s:1: not a metrics CSV (header differs)", path);
      }
      continue;
    }
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) continue;
    char *fields[6], *tok = line;
    int nf = 0;
    while (nf < 6) {
      fields[nf++] = tok;
      char *c = strchr(tok, ',');
      if (!c) break;
      *c = '\0';
      tok = c + 1;
    }
    cr_metrics_row r;
    char *end = NULL;
    int bad = nf != 5;
    if (!bad) {
      r.epoch = (int)strtol(fields[0], &end, 10);
      bad |= end == fields[0] || *end;
      r.train_loss = strtod(fields[1], &end);
      bad |= end == fields[1] || *end;
      r.valid_loss = strtod(fields[2], &end);
      bad |= end == fields[2] || *end;
      r.valid_acc = NAN;
      if (fields[3][0]) {
        r.valid_acc = strtod(fields[3], &end);
        bad |= *end != '\0';
      }
      r.seconds = strtod(fields[4], &end);
      bad |= end == fields[4] || *end;
    }
    if (bad) {
      fclose(f);
      return cr_errf(e, "%s:%d: malformed metrics row", path, lineno);
    }
    if (r.epoch < below_epoch && *n < max) rows[(*n)++] = r;
  }
  fclose(f);
  return 0;
}

/* ---- plot ---- */

static int have_gnuplot(void) {
  const char *path = getenv("PATH");
  if (!path) return 0;
  char *dup = strdup(path);
  if (!dup) return 0;
  int found = 0;
  for (char *save = NULL, *d = strtok_r(dup, ":", &save); d && !found;
       d = strtok_r(NULL, ":", &save)) {
    char cand[4096];
    snprintf(cand, sizeof cand, "%s/gnuplot", *d ? d : ".");
    if (access(cand, X_OK) == 0) found = 1;
  }
  free(dup);
  return found;
}

/* gnuplot string literal: single quotes, a quote doubled. */
static void gp_quote(FILE *f, const char *s) {
  fputc('\'', f);
  for (; *s; s++) {
    if (*s == '\'') fputc('\'', f);
    fputc(*s, f);
  }
  fputc('\'', f);
}

int cr_plot_png(const char *png, const char *csv, int has_acc, cr_err *e) {
  if (!have_gnuplot()) return 1;
  size_t plen = strlen(png);
  char *tmp = malloc(plen + 16);
  if (!tmp) return cr_errf(e, "%s: out of memory", png);
  snprintf(tmp, plen + 16, "%s.tmp.png", png);
  FILE *g = popen("gnuplot 2>/dev/null", "w");
  if (!g) {
    free(tmp);
    return cr_errf(e, "%s: cannot run gnuplot: %s", png, strerror(errno));
  }
  fprintf(g, "set terminal pngcairo size 900,500 noenhanced\n");
  fprintf(g, "set output ");
  gp_quote(g, tmp);
  fprintf(g, "\nset datafile separator ','\nset key autotitle columnhead below\n"
             "set xlabel 'epoch'\nset ylabel 'loss'\nset grid\n");
  if (has_acc) fprintf(g, "set y2label 'validation accuracy'\nset y2tics\nset ytics nomirror\n");
  fprintf(g, "plot ");
  gp_quote(g, csv);
  fprintf(g, " using 1:2 with linespoints title 'train loss', '' using 1:3 with linespoints "
             "title 'valid loss'");
  if (has_acc) fprintf(g, ", '' using 1:4 axes x1y2 with linespoints title 'valid accuracy'");
  fprintf(g, "\nset output\n");
  int st = pclose(g);
  if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    unlink(tmp);
    free(tmp);
    return cr_errf(e, "%s: gnuplot failed", png);
  }
  if (rename(tmp, png) != 0) {
    int en = errno;
    unlink(tmp);
    free(tmp);
    return cr_errf(e, "%s: cannot write plot: %s", png, strerror(en));
  }
  free(tmp);
  return 0;
}

/* ---- the naive layers of the init report ---- */

void cr_naive_linear(float *y, const float *x, const float *w, const float *b, int n, int in,
                     int out) {
  for (int r = 0; r < n; r++) {
    float *yr = y + (size_t)r * out;
    for (int j = 0; j < out; j++) yr[j] = b ? b[j] : 0.0f;
    for (int k = 0; k < in; k++) {
      float xv = x[(size_t)r * in + k];
      const float *wk = w + (size_t)k * out;
      for (int j = 0; j < out; j++) yr[j] += xv * wk[j];
    }
  }
}

int cr_naive_activation(float *y, const float *x, size_t count, const cr_net_layer *L,
                        cr_err *e) {
  if (!strcmp(L->kind, "relu")) {
    for (size_t i = 0; i < count; i++) y[i] = (x[i] > 0.0f ? x[i] : 0.0f) + L->shift;
  } else if (!strcmp(L->kind, "leaky_relu")) {
    for (size_t i = 0; i < count; i++) y[i] = x[i] > 0.0f ? x[i] : L->slope * x[i];
  } else if (!strcmp(L->kind, "tanh")) {
    for (size_t i = 0; i < count; i++) y[i] = tanhf(x[i]);
  } else if (!strcmp(L->kind, "sigmoid")) {
    for (size_t i = 0; i < count; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
  } else {
    return cr_errf(e, "kind '%s' is not an activation the naive forward knows (relu, "
                   "leaky_relu, tanh, sigmoid)", L->kind);
  }
  return 0;
}
