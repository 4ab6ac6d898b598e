/* train_util.c — small pieces of the trainer: clock, progress bar, metrics CSV,
 * gnuplot plot, the naive layers of the init report. */
#define _POSIX_C_SOURCE 200809L
#include "cr_train.h"

#if defined(__GNUC__) || defined(__clang__)
#define TR_FMT(a, b) __attribute__((format(printf, a, b)))
#else
#define TR_FMT(a, b)
#endif

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double clock_seconds(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double cr_now(void) { return clock_seconds(CLOCK_MONOTONIC); }

double tr_thread_cpu(void) { return clock_seconds(CLOCK_THREAD_CPUTIME_ID); }

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

/* printf into a buffer that grows as needed (a row prints as wide as its numbers do:
 * %.6f of 1e300 is 308 characters). On failure b->failed is set and nothing more is
 * appended. */
typedef struct {
  char *p;
  size_t len, cap;
  int failed;
} tr_text;

static void text_printf(tr_text *b, const char *fmt, ...) TR_FMT(2, 3);
static void text_printf(tr_text *b, const char *fmt, ...) {
  while (!b->failed) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int k = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      b->failed = 1;
      return;
    }
    if (b->p && (size_t)k < room) {
      b->len += (size_t)k;
      return;
    }
    size_t need = b->len + (size_t)k + 1, ncap = b->cap ? b->cap : 256;
    while (ncap < need) ncap *= 2;
    char *np = realloc(b->p, ncap);
    if (!np) {
      b->failed = 1;
      return;
    }
    b->p = np, b->cap = ncap;
  }
}

int cr_metrics_format(const cr_metrics_row *rows, int n, char **text, size_t *len, cr_err *e) {
  tr_text b = {NULL, 0, 0, 0};
  *text = NULL, *len = 0;
  text_printf(&b, "epoch,train_loss,valid_loss,valid_acc,seconds\n");
  for (int i = 0; i < n; i++) {
    const cr_metrics_row *r = &rows[i];
    if (isnan(r->valid_acc))
      text_printf(&b, "%d,%.6f,%.6f,,%.3f\n", r->epoch, r->train_loss, r->valid_loss, r->seconds);
    else
      text_printf(&b, "%d,%.6f,%.6f,%.4f,%.3f\n", r->epoch, r->train_loss, r->valid_loss,
                  r->valid_acc, r->seconds);
  }
  if (b.failed) {
    free(b.p);
    return cr_errf(e, "metrics: out of memory formatting %d rows", n);
  }
  *text = b.p, *len = b.len;
  return 0;
}

int cr_metrics_write(const char *path, const cr_metrics_row *rows, int n, cr_err *e) {
  char *buf;
  size_t len;
  if (cr_metrics_format(rows, n, &buf, &len, e) != 0) return cr_errf(e, "%s: out of memory", path);
  int rc = cr_write_file(path, buf, len, 0, e);
  free(buf);
  return rc;
}

/* The next line of [*pos, end), without its "\n" (and "\r"), copied into line (cap bytes)
 * with *fits = 1; *fits = 0 (line empty) when it is longer than cap - 1 or holds a NUL.
 * Returns 0 at the end of the buffer. */
static int next_line(const char **pos, const char *end, char *line, size_t cap, int *fits) {
  if (*pos >= end) return 0;
  const char *s = *pos, *nl = memchr(s, '\n', (size_t)(end - s));
  const char *stop = nl ? nl : end;
  *pos = nl ? nl + 1 : end;
  size_t n = (size_t)(stop - s);
  if (n > 0 && s[n - 1] == '\r') n--;
  *fits = n < cap && !memchr(s, '\0', n);
  if (*fits) memcpy(line, s, n), line[n] = '\0';
  else line[0] = '\0';
  return 1;
}

/* A finite number filling the whole field. */
static int parse_num(const char *f, double *out) {
  char *end;
  *out = strtod(f, &end);
  return end != f && !*end && isfinite(*out);
}

int cr_metrics_parse(const char *buf, size_t len, const char *name, int below_epoch,
                     cr_metrics_row *rows, int max, int *n, cr_err *e) {
  static const char header[] = "epoch,train_loss,valid_loss,valid_acc,seconds";
  const char *pos = buf, *end = buf + len;
  /* the widest row the writer makes: 4 numbers of up to 318 characters (%.6f of DBL_MAX) */
  char line[2048];
  int lineno = 0, fits;
  *n = 0;
  while (next_line(&pos, end, line, sizeof line, &fits)) {
    lineno++;
    if (lineno == 1) {
      if (!fits || strcmp(line, header) != 0)
        return cr_errf(e, "%s:1: not a metrics CSV (header differs)", name);
      continue;
    }
    if (fits && !line[0]) continue;
    char *fields[6], *tok = line;
    int nf = 0;
    while (fits && nf < 6) {
      fields[nf++] = tok;
      char *c = strchr(tok, ',');
      if (!c) break;
      *c = '\0';
      tok = c + 1;
    }
    cr_metrics_row r;
    int bad = !fits || nf != 5;
    if (!bad) {
      char *endp;
      long ep = strtol(fields[0], &endp, 10);
      bad |= endp == fields[0] || *endp || ep < 1 || ep > 100000000;
      r.epoch = (int)ep;
      bad |= !parse_num(fields[1], &r.train_loss) || !parse_num(fields[2], &r.valid_loss) ||
             !parse_num(fields[4], &r.seconds);
      r.valid_acc = NAN;
      if (fields[3][0]) bad |= !parse_num(fields[3], &r.valid_acc);
    }
    if (bad) return cr_errf(e, "%s:%d: malformed metrics row", name, lineno);
    if (r.epoch < below_epoch && *n < max) rows[(*n)++] = r;
  }
  if (lineno == 0) return cr_errf(e, "%s:1: not a metrics CSV (empty)", name);
  return 0;
}

int cr_metrics_read(const char *path, int below_epoch, cr_metrics_row *rows, int max, int *n,
                    cr_err *e) {
  *n = 0;
  struct stat st;
  if (lstat(path, &st) != 0 && errno == ENOENT) return 0;
  uint8_t *buf;
  size_t len;
  if (cr_read_file(path, &buf, &len, CR_METRICS_MAX_BYTES, e) != 0) return -1;
  int rc = cr_metrics_parse((const char *)buf, len, path, below_epoch, rows, max, n, e);
  free(buf);
  return rc;
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

/* All rows of a metrics CSV (as cr_metrics_read checks them), malloc'ed into *rows. */
static int read_all_rows(const char *csv, cr_metrics_row **rows, int *n, cr_err *e) {
  uint8_t *buf;
  size_t len;
  *rows = NULL, *n = 0;
  if (cr_read_file(csv, &buf, &len, CR_METRICS_MAX_BYTES, e) != 0) return -1;
  size_t lines = 1;
  for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
  if (lines > INT_MAX) lines = INT_MAX;
  *rows = malloc(lines * sizeof **rows);
  int rc = *rows ? cr_metrics_parse((const char *)buf, len, csv, INT_MAX, *rows, (int)lines, n, e)
                 : cr_errf(e, "%s: out of memory", csv);
  free(buf);
  if (rc) free(*rows), *rows = NULL;
  return rc;
}

/* One inline data block of the plot script: "epoch train valid acc" per row, '?' for a
 * missing accuracy, then "e". */
static void gp_data(FILE *g, const cr_metrics_row *rows, int n) {
  for (int i = 0; i < n; i++) {
    fprintf(g, "%d %.9g %.9g ", rows[i].epoch, rows[i].train_loss, rows[i].valid_loss);
    if (isnan(rows[i].valid_acc)) fputs("?\n", g);
    else fprintf(g, "%.9g\n", rows[i].valid_acc);
  }
  fputs("e\n", g);
}

/* No user string reaches gnuplot: the numbers are read here (the metrics reader's checks)
 * and sent inline ('-' data), gnuplot writes the PNG to its stdout, which is an anonymous
 * temporary file (tmpfile), and the bytes go to PNG through cr_write_file like every
 * other output (temporary beside it, rename; devices and symlinks as cr.h says). */
int cr_plot_png(const char *png, const char *csv, int has_acc, cr_err *e) {
  if (!have_gnuplot()) return 1;
  cr_metrics_row *rows;
  int n;
  if (read_all_rows(csv, &rows, &n, e) != 0) return -1;
  FILE *img = tmpfile();
  int fd = img ? dup(fileno(img)) : -1;   /* dup: never close-on-exec, so the shell gets it */
  if (fd < 0) {
    int en = errno;
    if (img) fclose(img);
    free(rows);
    return cr_errf(e, "%s: cannot create a temporary file for the plot: %s", png, strerror(en));
  }
  char cmd[64];
  snprintf(cmd, sizeof cmd, "gnuplot >&%d 2>/dev/null", fd);
  FILE *g = popen(cmd, "w");
  if (!g) {
    int en = errno;
    close(fd), fclose(img), free(rows);
    return cr_errf(e, "%s: cannot run gnuplot: %s", png, strerror(en));
  }
  fprintf(g, "set terminal pngcairo size 900,500 noenhanced\nset output\n"
             "set key below\nset xlabel 'epoch'\nset ylabel 'loss'\nset grid\n");
  if (has_acc) fprintf(g, "set y2label 'validation accuracy'\nset y2tics\nset ytics nomirror\n");
  fprintf(g, "plot '-' using 1:2 with linespoints title 'train loss', '-' using 1:3 with "
             "linespoints title 'valid loss'");
  if (has_acc) fprintf(g, ", '-' using 1:4 axes x1y2 with linespoints title 'valid accuracy'");
  fputc('\n', g);
  for (int k = 0; k < (has_acc ? 3 : 2); k++) gp_data(g, rows, n);
  free(rows);
  int st = pclose(g);
  close(fd);
  if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fclose(img);
    return cr_errf(e, "%s: gnuplot failed", png);
  }
  long size = fseek(img, 0, SEEK_END) == 0 ? ftell(img) : -1;
  uint8_t *bytes = size > 0 ? malloc((size_t)size) : NULL;
  int rc;
  if (size <= 0) rc = cr_errf(e, "%s: gnuplot wrote no image", png);
  else if (!bytes) rc = cr_errf(e, "%s: out of memory", png);
  else if (fseek(img, 0, SEEK_SET) != 0 || fread(bytes, 1, (size_t)size, img) != (size_t)size)
    rc = cr_errf(e, "%s: cannot read gnuplot's image back", png);
  else
    rc = cr_write_file(png, bytes, (size_t)size, 0, e);
  free(bytes);
  fclose(img);
  return rc;
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
