/* ref.c — naive double-precision reference (see ref.h). Clarity over speed. */
#include "ref.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

const char *ref_loss_name(int loss)
{
  return loss == REF_MSE ? "mse" : loss == REF_CROSS_ENTROPY ? "cross_entropy" : "?";
}

const char *ref_kind_name(int kind)
{
  switch (kind) {
  case REF_LINEAR: return "linear";
  case REF_RELU: return "relu";
  case REF_LEAKY_RELU: return "leaky_relu";
  case REF_TANH: return "tanh";
  case REF_SIGMOID: return "sigmoid";
  case REF_CONV2D: return "conv2d";
  case REF_MAXPOOL2D: return "maxpool2d";
  case REF_AVGPOOL2D: return "avgpool2d";
  case REF_FLATTEN: return "flatten";
  case REF_BATCHNORM: return "batchnorm";
  case REF_DROPOUT: return "dropout";
  default: return "?";
  }
}

const char *ref_opt_name(int kind)
{
  return kind == REF_SGD ? "sgd" : kind == REF_ADAM ? "adam" : kind == REF_ADAMW ? "adamw" : "?";
}

int ref_net_finish(ref_net *net, char *err, size_t errlen)
{
  if (net->in <= 0) return fail(err, errlen, "input width must be positive");
  if (net->nlayers <= 0) return fail(err, errlen, "no layers");
  int width = net->in, nt = 0;
  int c = net->in_c, h = net->in_h, w = net->in_w;   /* image shape, 0 when flat */
  if (c && c * h * w != net->in) return fail(err, errlen, "input shape does not match its width");
  size_t off = 0;
  net->widest = width;
  for (int l = 0; l < net->nlayers; l++) {
    ref_layer *L = &net->layer[l];
    L->in = width;
    L->ic = c; L->ih = h; L->iw = w;
    int image = L->kind == REF_CONV2D || L->kind == REF_MAXPOOL2D || L->kind == REF_AVGPOOL2D;
    if (image && !c) return fail(err, errlen, "layer %d: %s needs an image input", l, ref_kind_name(L->kind));
    if (L->kind == REF_LINEAR && c) return fail(err, errlen, "layer %d: linear after an image needs flatten", l);
    if (image) {
      int k = L->kernel, s = L->stride, p = L->kind == REF_CONV2D ? L->pad : 0;
      if (k <= 0 || s <= 0 || p < 0) return fail(err, errlen, "layer %d: bad kernel, stride or padding", l);
      if (h + 2 * p < k || w + 2 * p < k) return fail(err, errlen, "layer %d: kernel larger than the input", l);
      if (L->kind == REF_CONV2D) {
        if (L->out_c <= 0) return fail(err, errlen, "layer %d: conv2d channels must be positive", l);
        if (nt + 2 > REF_MAX_TENSORS) return fail(err, errlen, "too many tensors");
        net->t_layer[nt] = l; net->t_rows[nt] = c * k * k; net->t_cols[nt] = L->out_c;
        net->t_off[nt] = off; off += (size_t)c * k * k * (size_t)L->out_c; nt++;
        if (!L->nobias) {
          net->t_layer[nt] = l; net->t_rows[nt] = 1; net->t_cols[nt] = L->out_c;
          net->t_off[nt] = off; off += (size_t)L->out_c; nt++;
        }
        c = L->out_c;
      }
      h = (h + 2 * p - k) / s + 1;
      w = (w + 2 * p - k) / s + 1;
      width = L->out = c * h * w;
    } else if (L->kind == REF_FLATTEN) {
      c = h = w = 0;
      L->out = width;
    } else if (L->kind == REF_LINEAR) {
      if (L->out <= 0) return fail(err, errlen, "layer %d: linear width must be positive", l);
      if (nt + 2 > REF_MAX_TENSORS) return fail(err, errlen, "too many tensors");
      net->t_layer[nt] = l; net->t_rows[nt] = width; net->t_cols[nt] = L->out;
      net->t_off[nt] = off; off += (size_t)width * (size_t)L->out; nt++;
      if (!L->nobias) {
        net->t_layer[nt] = l; net->t_rows[nt] = 1; net->t_cols[nt] = L->out;
        net->t_off[nt] = off; off += (size_t)L->out; nt++;
      }
      width = L->out;
    } else if (L->kind == REF_BATCHNORM) {
      if (l == 0) return fail(err, errlen, "layer 0: batchnorm cannot be first");
      if (!(L->eps > 0) || L->momentum < 0 || L->momentum > 1)
        return fail(err, errlen, "layer %d: bad batchnorm momentum or eps", l);
      L->channels = c ? c : width;
      L->pixels = c ? h * w : 1;
      L->out = width;
      int nbt = L->affine ? 5 : 3;
      if (nt + nbt > REF_MAX_TENSORS) return fail(err, errlen, "too many tensors");
      for (int k = 0; k < nbt; k++) {
        int last = k == nbt - 1;
        net->t_layer[nt] = l; net->t_rows[nt] = 1; net->t_cols[nt] = last ? 1 : L->channels;
        net->t_buffer[nt] = k >= nbt - 3;
        net->t_off[nt] = off; off += (size_t)net->t_cols[nt]; nt++;
      }
    } else if (L->kind == REF_DROPOUT) {
      if (!(L->p >= 0 && L->p < 1)) return fail(err, errlen, "layer %d: dropout p must be in [0, 1)", l);
      L->out = width;
    } else if (L->kind == REF_RELU || L->kind == REF_LEAKY_RELU || L->kind == REF_TANH ||
               L->kind == REF_SIGMOID) {
      L->out = width;   /* element-wise: width unchanged, no parameters */
    } else {
      return fail(err, errlen, "layer %d: unknown kind", l);
    }
    L->c = c; L->h = h; L->w = w;
    if (width > net->widest) net->widest = width;
  }
  if (c) return fail(err, errlen, "the last layer gives an image (flatten and linear missing)");
  net->out = width;
  net->ntensors = nt;
  net->nparams = off;
  if (net->loss == REF_MSE && width != 1)
    return fail(err, errlen, "mse needs a last width of 1, got %d", width);
  if (net->loss == REF_CROSS_ENTROPY && width < 2)
    return fail(err, errlen, "cross_entropy needs at least 2 outputs, got %d", width);
  if (net->loss != REF_MSE && net->loss != REF_CROSS_ENTROPY)
    return fail(err, errlen, "unknown loss");
  return 0;
}

/* ---------- description files ---------- */

static void opt_defaults(ref_optim *o, int kind)
{
  memset(o, 0, sizeof *o);
  o->kind = kind;
  /* torch.optim defaults (1.13); SGD's lr has no default there, the description gives it */
  o->beta1 = 0.9; o->beta2 = 0.999; o->eps = 1e-8;
  if (kind != REF_SGD) o->lr = 1e-3;
  if (kind == REF_ADAMW) o->weight_decay = 1e-2;
}

static int parse_double(const char *s, double *v)
{
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return (end == s || *end != '\0' || errno) ? -1 : 0;
}

static int parse_int(const char *s, int *v)
{
  char *end;
  errno = 0;
  long x = strtol(s, &end, 10);
  if (end == s || *end != '\0' || errno || x < -1000000000L || x > 1000000000L) return -1;
  *v = (int)x;
  return 0;
}

/* Is key k one of the space-separated keys and already marked in *seen? Marks it. A key
   not in the list is left to the option parser to refuse. */
static int repeated(unsigned *seen, const char *k, const char *keys)
{
  size_t n = strlen(k);
  unsigned bit = 1;
  for (const char *p = keys; *p; bit <<= 1) {
    size_t len = strcspn(p, " ");
    if (len == n && !strncmp(p, k, n)) {
      int again = (*seen & bit) != 0;
      *seen |= bit;
      return again;
    }
    p += len;
    if (*p == ' ') p++;
  }
  return 0;
}

int ref_desc_read(ref_net *net, const char *path, char *err, size_t errlen)
{
  FILE *f = fopen(path, "r");
  if (!f) return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  memset(net, 0, sizeof *net);
  char line[512];
  int lineno = 0, have_opt = 0, rc = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    char *tok[16];
    int nt = 0;
    for (char *p = strtok(line, " \t\r\n"); p && nt < 16; p = strtok(NULL, " \t\r\n")) tok[nt++] = p;
    if (nt == 0 || tok[0][0] == '#') continue;
#define BAD(...) do { char m_[256]; snprintf(m_, sizeof m_, __VA_ARGS__); \
    rc = fail(err, errlen, "%s:%d: %s", path, lineno, m_); goto done; } while (0)
    if (!strcmp(tok[0], "name") && nt == 2) {
      snprintf(net->name, sizeof net->name, "%s", tok[1]);
    } else if (!strcmp(tok[0], "input") && nt == 2) {
      if (parse_int(tok[1], &net->in)) BAD("bad input width '%s'", tok[1]);
    } else if (!strcmp(tok[0], "input") && nt == 4) {
      if (parse_int(tok[1], &net->in_c) || parse_int(tok[2], &net->in_h) || parse_int(tok[3], &net->in_w) ||
          net->in_c <= 0 || net->in_h <= 0 || net->in_w <= 0)
        BAD("bad input shape '%s %s %s'", tok[1], tok[2], tok[3]);
      net->in = net->in_c * net->in_h * net->in_w;
    } else if ((!strcmp(tok[0], "conv2d") || !strcmp(tok[0], "maxpool2d") || !strcmp(tok[0], "avgpool2d")) &&
               nt >= 2) {
      /* conv2d OUT kernel=K [stride=1] [padding=0] [bias=1] [init=SCHEME];
         maxpool2d / avgpool2d kernel=K [stride=K] */
      if (net->nlayers == REF_MAX_LAYERS) BAD("too many layers");
      ref_layer *L = &net->layer[net->nlayers++];
      int conv = !strcmp(tok[0], "conv2d"), first = 1;
      unsigned seen = 0;
      L->kind = conv ? REF_CONV2D : !strcmp(tok[0], "maxpool2d") ? REF_MAXPOOL2D : REF_AVGPOOL2D;
      L->stride = 0;
      if (conv) {
        if (parse_int(tok[1], &L->out_c)) BAD("bad conv2d channels '%s'", tok[1]);
        L->stride = 1;
        first = 2;
      }
      for (int i = first; i < nt; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq) BAD("expected key=value, got '%s'", tok[i]);
        *eq = '\0';
        const char *k = tok[i], *v = eq + 1;
        int bias = 1;
        if (repeated(&seen, k, "kernel stride padding bias init")) BAD("%s option '%s' given twice", tok[0], k);
        if (conv && !strcmp(k, "init")) { snprintf(L->init, sizeof L->init, "%s", v); continue; }
        if (!strcmp(k, "kernel") ? parse_int(v, &L->kernel) : !strcmp(k, "stride") ? parse_int(v, &L->stride)
            : conv && !strcmp(k, "padding") ? parse_int(v, &L->pad) : conv && !strcmp(k, "bias") ? parse_int(v, &bias)
            : -1)
          BAD("bad %s option '%s=%s'", tok[0], k, v);
        if (bias != 0 && bias != 1) BAD("bad %s option 'bias=%s' (0 or 1)", tok[0], v);
        if (!strcmp(k, "bias")) L->nobias = !bias;
      }
      if (L->kernel <= 0) BAD("%s needs kernel=K", tok[0]);
      if (L->stride == 0) L->stride = L->kernel;
    } else if (!strcmp(tok[0], "batchnorm")) {
      /* batchnorm [momentum=0.1] [eps=1e-5] [affine=1] */
      if (net->nlayers == REF_MAX_LAYERS) BAD("too many layers");
      ref_layer *L = &net->layer[net->nlayers++];
      L->kind = REF_BATCHNORM;
      L->momentum = 0.1; L->eps = 1e-5; L->affine = 1;
      unsigned seen = 0;
      for (int i = 1; i < nt; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq) BAD("expected key=value, got '%s'", tok[i]);
        *eq = '\0';
        const char *k = tok[i], *v = eq + 1;
        if (repeated(&seen, k, "momentum eps affine")) BAD("batchnorm option '%s' given twice", k);
        if (!strcmp(k, "momentum") ? parse_double(v, &L->momentum) : !strcmp(k, "eps") ? parse_double(v, &L->eps)
            : !strcmp(k, "affine") ? parse_int(v, &L->affine) : -1)
          BAD("bad batchnorm option '%s=%s'", k, v);
      }
    } else if (!strcmp(tok[0], "dropout") && nt == 2) {
      if (net->nlayers == REF_MAX_LAYERS) BAD("too many layers");
      ref_layer *L = &net->layer[net->nlayers++];
      L->kind = REF_DROPOUT;
      if (parse_double(tok[1], &L->p)) BAD("bad dropout p '%s'", tok[1]);
    } else if (!strcmp(tok[0], "flatten") && nt == 1) {
      if (net->nlayers == REF_MAX_LAYERS) BAD("too many layers");
      net->layer[net->nlayers++].kind = REF_FLATTEN;
    } else if (!strcmp(tok[0], "batch") && nt == 2) {
      if (parse_int(tok[1], &net->batch)) BAD("bad batch '%s'", tok[1]);
    } else if (!strcmp(tok[0], "loss") && nt == 2) {
      if (!strcmp(tok[1], "mse")) net->loss = REF_MSE;
      else if (!strcmp(tok[1], "cross_entropy")) net->loss = REF_CROSS_ENTROPY;
      else BAD("unknown loss '%s'", tok[1]);
    } else if (!strcmp(tok[0], "linear") && nt >= 2 && nt <= 4) {
      /* linear OUT [SCHEME] [bias=0] */
      if (net->nlayers == REF_MAX_LAYERS) BAD("too many layers");
      ref_layer *L = &net->layer[net->nlayers++];
      L->kind = REF_LINEAR;
      if (parse_int(tok[1], &L->out)) BAD("bad linear width '%s'", tok[1]);
      int seen_bias = 0;
      for (int i = 2; i < nt; i++) {
        if (!strncmp(tok[i], "bias=", 5)) {
          int bias = 1;
          if (seen_bias++) BAD("linear option 'bias' given twice");
          if (parse_int(tok[i] + 5, &bias) || (bias != 0 && bias != 1)) BAD("bad linear option '%s'", tok[i]);
          L->nobias = !bias;
        } else if (i == 2) {
          snprintf(L->init, sizeof L->init, "%s", tok[i]);
        } else {
          BAD("expected bias=0 or bias=1, got '%s'", tok[i]);
        }
      }
    } else if (!strcmp(tok[0], "relu") && nt == 2) {
      if (net->nlayers == REF_MAX_LAYERS) BAD("too many layers");
      ref_layer *L = &net->layer[net->nlayers++];
      L->kind = REF_RELU;
      if (parse_double(tok[1], &L->shift)) BAD("bad relu shift '%s'", tok[1]);
    } else if (!strcmp(tok[0], "leaky_relu") && nt == 2) {
      if (net->nlayers == REF_MAX_LAYERS) BAD("too many layers");
      ref_layer *L = &net->layer[net->nlayers++];
      L->kind = REF_LEAKY_RELU;
      if (parse_double(tok[1], &L->slope)) BAD("bad leaky_relu slope '%s'", tok[1]);
    } else if ((!strcmp(tok[0], "tanh") || !strcmp(tok[0], "sigmoid")) && nt == 1) {
      if (net->nlayers == REF_MAX_LAYERS) BAD("too many layers");
      ref_layer *L = &net->layer[net->nlayers++];
      L->kind = !strcmp(tok[0], "tanh") ? REF_TANH : REF_SIGMOID;
    } else if (!strcmp(tok[0], "optimizer") && nt >= 2) {
      int kind = !strcmp(tok[1], "sgd") ? REF_SGD : !strcmp(tok[1], "adam") ? REF_ADAM
               : !strcmp(tok[1], "adamw") ? REF_ADAMW : 0;
      if (!kind) BAD("unknown optimizer '%s'", tok[1]);
      opt_defaults(&net->opt, kind);
      have_opt = 1;
      unsigned seen = 0;
      for (int i = 2; i < nt; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq) BAD("expected key=value, got '%s'", tok[i]);
        *eq = '\0';
        const char *k = tok[i], *v = eq + 1;
        if (repeated(&seen, k, "lr momentum dampening weight_decay nesterov beta1 beta2 eps"))
          BAD("optimizer key '%s' given twice", k);
        double d;
        if (parse_double(v, &d)) BAD("bad number '%s' for %s", v, k);
        if (!strcmp(k, "lr")) net->opt.lr = d;
        else if (!strcmp(k, "momentum")) net->opt.momentum = d;
        else if (!strcmp(k, "dampening")) net->opt.dampening = d;
        else if (!strcmp(k, "weight_decay")) net->opt.weight_decay = d;
        else if (!strcmp(k, "nesterov")) net->opt.nesterov = d != 0;
        else if (!strcmp(k, "beta1")) net->opt.beta1 = d;
        else if (!strcmp(k, "beta2")) net->opt.beta2 = d;
        else if (!strcmp(k, "eps")) net->opt.eps = d;
        else BAD("unknown optimizer key '%s'", k);
      }
    } else {
      BAD("cannot read '%s' (%d fields)", tok[0], nt);
    }
#undef BAD
  }
  if (ferror(f)) { rc = fail(err, errlen, "%s: read error", path); goto done; }
  if (!have_opt) { rc = fail(err, errlen, "%s: no optimizer line", path); goto done; }
  if (net->batch <= 0) { rc = fail(err, errlen, "%s: no positive batch", path); goto done; }
  {
    char m[200];
    if (ref_net_finish(net, m, sizeof m)) rc = fail(err, errlen, "%s: %s", path, m);
  }
done:
  fclose(f);
  return rc;
}

/* ---------- forward / backward ---------- */

/* ---------- image layers ---------- */

/* Element [c][y][x] of image i of a layer's input (in = 1) or output (in = 0), as an index
   into its [n][width] array. */
static size_t at_in(const ref_layer *L, int i, int c, int y, int x)
{
  return (size_t)i * L->in + ((size_t)c * L->ih + y) * L->iw + x;
}

static size_t at_out(const ref_layer *L, int i, int c, int y, int x)
{
  return (size_t)i * L->out + ((size_t)c * L->h + y) * L->w + x;
}

/* The input row (or column) under output position o for tap k; -1 when it is padding. */
static int tap(const ref_layer *L, int o, int k, int size)
{
  int p = L->kind == REF_CONV2D ? L->pad : 0;
  int v = o * L->stride + k - p;
  return v >= 0 && v < size ? v : -1;
}

/* The output positions [*lo, *hi) whose tap k falls inside the input (not on padding): taps
   move with o, so they are one run. Returns the input position under *lo, -1 if the run is
   empty. */
static int tap_run(const ref_layer *L, int k, int size, int outs, int *lo, int *hi)
{
  *lo = 0;
  while (*lo < outs && tap(L, *lo, k, size) < 0) ++*lo;
  *hi = outs;
  while (*hi > *lo && tap(L, *hi - 1, k, size) < 0) --*hi;
  return *lo < *hi ? tap(L, *lo, k, size) : -1;
}

static double conv_weight(const ref_layer *L, const double *W, int c, int ky, int kx, int o)
{
  return W[(((size_t)c * L->kernel + ky) * L->kernel + kx) * L->out_c + o];
}

/* Index (in the window, ky·K + kx) of the first maximum of a pooling window. */
/* The first maximum of a pooling window (tap ky * K + kx); with second, also the runner-up's
   tap (-1 if the window has one tap) and with gap how far below the maximum it is. */
static int window_argmax2(const ref_layer *L, const double *a, int i, int c, int oy, int ox, int *second,
                          double *gap)
{
  int best = 0, next = -1;
  double m = a[at_in(L, i, c, oy * L->stride, ox * L->stride)], m2 = -INFINITY;
  for (int ky = 0; ky < L->kernel; ky++)
    for (int kx = 0; kx < L->kernel; kx++) {
      int t = ky * L->kernel + kx;
      if (t == 0) continue;
      double v = a[at_in(L, i, c, oy * L->stride + ky, ox * L->stride + kx)];
      if (v > m) { m2 = m; next = best; m = v; best = t; }
      else if (v > m2) { m2 = v; next = t; }
    }
  if (second) *second = next;
  if (gap) *gap = m - m2;
  return best;
}

static int window_argmax(const ref_layer *L, const double *a, int i, int c, int oy, int ox)
{
  return window_argmax2(L, a, i, c, oy, ox, NULL, NULL);
}

static void image_forward(const ref_layer *L, const double *W, const double *b, const double *a, double *y, int n)
{
  if (L->kind == REF_FLATTEN) {
    memcpy(y, a, (size_t)n * L->out * sizeof(double));
    return;
  }
  int K = L->kernel;
  if (L->kind == REF_CONV2D) {
    /* y[i][o][oy][ox] = b[o] + the sum over c, ky, kx (in that order, padding taps left out)
       of a[i][c][iy][ix]·W[c][ky][kx][o]. A row of outputs (all ox) takes each term in turn:
       every output still adds its own terms in that order, and the row's independent sums
       do not wait on each other (one sum per output, term by term, is one chain of
       dependent adds). */
    for (int i = 0; i < n; i++)
      for (int o = 0; o < L->c; o++)
        for (int oy = 0; oy < L->h; oy++) {
          double *yr = y + at_out(L, i, o, oy, 0);
          for (int ox = 0; ox < L->w; ox++) yr[ox] = b ? b[o] : 0.0;
          for (int c = 0; c < L->ic; c++)
            for (int ky = 0; ky < K; ky++) {
              int iy = tap(L, oy, ky, L->ih);
              if (iy < 0) continue;
              const double *ar = a + at_in(L, i, c, iy, 0);
              for (int kx = 0; kx < K; kx++) {
                double wk = conv_weight(L, W, c, ky, kx, o);
                int lo, hi, ix0 = tap_run(L, kx, L->iw, L->w, &lo, &hi);
                if (ix0 < 0) continue;
                const double *at = ar + ix0;
                for (int ox = lo; ox < hi; ox++) yr[ox] += at[(size_t)(ox - lo) * L->stride] * wk;
              }
            }
        }
    return;
  }
  for (int i = 0; i < n; i++)
    for (int o = 0; o < L->c; o++)
      for (int oy = 0; oy < L->h; oy++)
        for (int ox = 0; ox < L->w; ox++) {
          double s;
          if (L->kind == REF_MAXPOOL2D) {
            int best = window_argmax(L, a, i, o, oy, ox);
            s = a[at_in(L, i, o, oy * L->stride + best / K, ox * L->stride + best % K)];
          } else {
            s = 0;
            for (int ky = 0; ky < K; ky++)
              for (int kx = 0; kx < K; kx++) s += a[at_in(L, i, o, oy * L->stride + ky, ox * L->stride + kx)];
            s /= (double)K * K;
          }
          y[at_out(L, i, o, oy, ox)] = s;
        }
}

/* dy: gradient w.r.t. the layer's output; writes da (w.r.t. its input) and, for conv2d,
   dW and db (db may be NULL: no bias). Max pooling: a window whose runner-up is within band
   (> 0) of its maximum, not equal to it, is a kink (net's kinks, as relu's). */
static void image_backward(const ref_net *net, const ref_layer *L, const double *W, const double *a,
                           const double *dy, double *da, double *dW, double *db, int n, double band)
{
  if (L->kind == REF_FLATTEN) {
    memcpy(da, dy, (size_t)n * L->in * sizeof(double));
    return;
  }
  int K = L->kernel;
  memset(da, 0, (size_t)n * L->in * sizeof(double));
  if (L->kind == REF_CONV2D) {
    memset(dW, 0, (size_t)L->ic * K * K * L->out_c * sizeof(double));
    if (db) memset(db, 0, (size_t)L->out_c * sizeof(double));
  }
  if (L->kind == REF_CONV2D) {
    /* Each sum takes its terms in the order of one output at a time (i, o, oy, ox, then c, ky,
       kx): db[o] and dW over i, oy, ox; an element of da over o, oy, ox (within one o and
       oy the outputs that read it differ in ox and kx, ox ascending as kx descends). A row
       of outputs (all ox) goes through its taps with kx descending, which keeps those
       orders and lets the row's sums run side by side (as image_forward). */
    for (int i = 0; i < n; i++)
      for (int o = 0; o < L->c; o++)
        for (int oy = 0; oy < L->h; oy++) {
          const double *gr = dy + at_out(L, i, o, oy, 0);
          if (db) for (int ox = 0; ox < L->w; ox++) db[o] += gr[ox];
          for (int c = 0; c < L->ic; c++)
            for (int ky = 0; ky < K; ky++) {
              int iy = tap(L, oy, ky, L->ih);
              if (iy < 0) continue;
              const double *ar = a + at_in(L, i, c, iy, 0);
              double *dar = da + at_in(L, i, c, iy, 0);
              for (int kx = K - 1; kx >= 0; kx--) {
                size_t wi = (((size_t)c * K + ky) * K + kx) * L->out_c + o;
                int lo, hi, ix0 = tap_run(L, kx, L->iw, L->w, &lo, &hi);
                if (ix0 < 0) continue;
                size_t ix = (size_t)ix0;
                for (int ox = lo; ox < hi; ox++, ix += (size_t)L->stride) {
                  dW[wi] += gr[ox] * ar[ix];
                  dar[ix] += gr[ox] * W[wi];
                }
              }
            }
        }
    return;
  }
  for (int i = 0; i < n; i++)
    for (int o = 0; o < L->c; o++)
      for (int oy = 0; oy < L->h; oy++)
        for (int ox = 0; ox < L->w; ox++) {
          double g = dy[at_out(L, i, o, oy, ox)];
          if (L->kind == REF_MAXPOOL2D) {
            int second;
            double gap;
            int best = window_argmax2(L, a, i, o, oy, ox, &second, &gap);
            if (second >= 0 && gap > 0 && gap <= band && ++*net->kinks == net->kink_flip) best = second;
            da[at_in(L, i, o, oy * L->stride + best / K, ox * L->stride + best % K)] += g;
          } else {
            for (int ky = 0; ky < K; ky++)
              for (int kx = 0; kx < K; kx++)
                da[at_in(L, i, o, oy * L->stride + ky, ox * L->stride + kx)] += g / ((double)K * K);
          }
        }
}

/* Activations: act[0] = x, act[l+1] = output of layer l; each [n][width]. */
static double **alloc_acts(const ref_net *net, const double *x, int n)
{
  double **act = calloc((size_t)net->nlayers + 1, sizeof *act);
  if (!act) abort();
  act[0] = (double *)x;
  for (int l = 0; l < net->nlayers; l++) {
    act[l + 1] = malloc((size_t)n * (size_t)net->layer[l].out * sizeof(double));
    if (!act[l + 1]) abort();
  }
  return act;
}

static void free_acts(const ref_net *net, double **act)
{
  for (int l = 0; l < net->nlayers; l++) free(act[l + 1]);
  free(act);
}

/* ---------- batchnorm and dropout ---------- */

/* The parameter block of a batchnorm layer whose first tensor is ti. */
typedef struct { const double *weight, *bias; const double *rmean, *rvar; size_t rmean_off, rvar_off, nbt_off; } bn_tensors;

static bn_tensors bn_at(const ref_net *net, const ref_layer *L, const double *params, int ti)
{
  bn_tensors t = {NULL, NULL, NULL, NULL, 0, 0, 0};
  if (L->affine) { t.weight = params + net->t_off[ti]; t.bias = params + net->t_off[ti + 1]; ti += 2; }
  t.rmean_off = net->t_off[ti]; t.rvar_off = net->t_off[ti + 1]; t.nbt_off = net->t_off[ti + 2];
  t.rmean = params + t.rmean_off; t.rvar = params + t.rvar_off;
  return t;
}

/* Element q of channel c in row i of a batchnorm layer's [n][channels][pixels] array. */
static size_t bn_at_elem(const ref_layer *L, int i, int c, int q)
{
  return ((size_t)i * L->channels + (size_t)c) * L->pixels + (size_t)q;
}

/* The batch mean and biased variance of channel c over the n rows (two passes). */
static void bn_batch_stats(const ref_layer *L, const double *a, int n, int c, double *mean, double *var)
{
  double m = (double)n * L->pixels, s = 0, ss = 0;
  for (int i = 0; i < n; i++)
    for (int q = 0; q < L->pixels; q++) s += a[bn_at_elem(L, i, c, q)];
  *mean = s / m;
  for (int i = 0; i < n; i++)
    for (int q = 0; q < L->pixels; q++) {
      double d = a[bn_at_elem(L, i, c, q)] - *mean;
      ss += d * d;
    }
  *var = ss / m;
}

static void bn_forward(const ref_net *net, const ref_layer *L, const bn_tensors *t, const double *a, double *y, int n)
{
  for (int c = 0; c < L->channels; c++) {
    double mean, var;
    if (net->train) bn_batch_stats(L, a, n, c, &mean, &var);
    else { mean = t->rmean[c]; var = t->rvar[c]; }
    double sd = sqrt(var + L->eps);
    for (int i = 0; i < n; i++)
      for (int q = 0; q < L->pixels; q++) {
        size_t e = bn_at_elem(L, i, c, q);
        double xh = (a[e] - mean) / sd;
        y[e] = L->affine ? t->weight[c] * xh + t->bias[c] : xh;
      }
  }
}

/* dy -> da, dweight, dbias. Training: the batch statistics depend on every element, so
   dx = (1/sd)·(dxh - mean(dxh) - xh·mean(dxh·xh)) with dxh = dy·weight; inference: an
   affine map, dx = dy·weight/sd. */
static void bn_backward(const ref_net *net, const ref_layer *L, const bn_tensors *t, const double *a,
                        const double *dy, double *da, double *dw, double *db, int n)
{
  double m = (double)n * L->pixels;
  for (int c = 0; c < L->channels; c++) {
    double mean, var;
    if (net->train) bn_batch_stats(L, a, n, c, &mean, &var);
    else { mean = t->rmean[c]; var = t->rvar[c]; }
    double sd = sqrt(var + L->eps), gam = L->affine ? t->weight[c] : 1.0;
    double sdy = 0, sdyxh = 0;
    for (int i = 0; i < n; i++)
      for (int q = 0; q < L->pixels; q++) {
        size_t e = bn_at_elem(L, i, c, q);
        sdy += dy[e];
        sdyxh += dy[e] * (a[e] - mean) / sd;
      }
    if (L->affine) { dw[c] = sdyxh; db[c] = sdy; }
    for (int i = 0; i < n; i++)
      for (int q = 0; q < L->pixels; q++) {
        size_t e = bn_at_elem(L, i, c, q);
        double xh = (a[e] - mean) / sd, dxh = dy[e] * gam;
        da[e] = net->train ? (dxh - gam * sdy / m - xh * gam * sdyxh / m) / sd : dxh / sd;
      }
  }
}

/* The keep flags of dropout layer l within net->drop_mask (NULL: all kept). */
static const unsigned char *drop_flags(const ref_net *net, int l, int n)
{
  if (!net->drop_mask) return NULL;
  size_t off = 0;
  for (int k = 0; k < l; k++)
    if (net->layer[k].kind == REF_DROPOUT) off += (size_t)n * net->layer[k].out;
  return net->drop_mask + off;
}

/* y = x·keep/(1 - p) in training mode (da likewise from dy), the identity in inference. */
static void drop_apply(const ref_net *net, int l, const double *a, double *y, int n)
{
  const ref_layer *L = &net->layer[l];
  const unsigned char *keep = drop_flags(net, l, n);
  size_t cnt = (size_t)n * L->out;
  for (size_t i = 0; i < cnt; i++)
    y[i] = !net->train ? a[i] : (keep && !keep[i]) ? 0.0 : a[i] / (1.0 - L->p);
}

static int tensors_of(const ref_layer *L)
{
  if (L->kind == REF_LINEAR || L->kind == REF_CONV2D) return L->nobias ? 1 : 2;
  if (L->kind == REF_BATCHNORM) return L->affine ? 5 : 3;
  return 0;
}

static void forward_all(const ref_net *net, const double *params, int n, double **act)
{
  int ti = 0;
  for (int l = 0; l < net->nlayers; l++) {
    const ref_layer *L = &net->layer[l];
    const double *a = act[l];
    double *y = act[l + 1];
    if (L->kind == REF_BATCHNORM) {
      bn_tensors t = bn_at(net, L, params, ti);
      ti += tensors_of(L);
      bn_forward(net, L, &t, a, y, n);
    } else if (L->kind == REF_DROPOUT) {
      drop_apply(net, l, a, y, n);
    } else if (L->kind == REF_LINEAR) {
      const double *W = params + net->t_off[ti], *b = L->nobias ? NULL : params + net->t_off[ti + 1];
      ti += tensors_of(L);
      /* y[i][j] = b[j] + a[i][0]·W[0][j] + a[i][1]·W[1][j] + ..., summed in that order (W
         read row by row; from 0 without a bias) */
      for (int i = 0; i < n; i++) {
        double *yi = y + (size_t)i * L->out;
        if (b) memcpy(yi, b, (size_t)L->out * sizeof *yi);
        else for (int j = 0; j < L->out; j++) yi[j] = 0.0;
        for (int k = 0; k < L->in; k++) {
          double aik = a[(size_t)i * L->in + k];
          const double *Wk = W + (size_t)k * L->out;
          for (int j = 0; j < L->out; j++) yi[j] += aik * Wk[j];
        }
      }
    } else if (L->kind >= REF_CONV2D && L->kind <= REF_FLATTEN) {
      const double *W = NULL, *b = NULL;
      if (L->kind == REF_CONV2D) {
        W = params + net->t_off[ti++];
        if (!L->nobias) b = params + net->t_off[ti++];
      }
      image_forward(L, W, b, a, y, n);
    } else {
      size_t cnt = (size_t)n * L->out;
      switch (L->kind) {
      case REF_RELU:
        for (size_t i = 0; i < cnt; i++) y[i] = (a[i] > 0 ? a[i] : 0.0) + L->shift;
        break;
      case REF_LEAKY_RELU:
        for (size_t i = 0; i < cnt; i++) y[i] = a[i] > 0 ? a[i] : L->slope * a[i];
        break;
      case REF_TANH:
        for (size_t i = 0; i < cnt; i++) y[i] = tanh(a[i]);
        break;
      case REF_SIGMOID:
        /* 1/(1 + e^-z); for z < -709 e^-z is +inf and y is 0, the limit */
        for (size_t i = 0; i < cnt; i++) y[i] = 1.0 / (1.0 + exp(-a[i]));
        break;
      default:
        abort();
      }
    }
  }
}

void ref_forward(const ref_net *net, const double *params, const double *x, int n, double *out)
{
  double **act = alloc_acts(net, x, n);
  forward_all(net, params, n, act);
  memcpy(out, act[net->nlayers], (size_t)n * net->out * sizeof(double));
  free_acts(net, act);
}

static double logsumexp(const double *z, int k)
{
  double m = z[0];
  for (int j = 1; j < k; j++) if (z[j] > m) m = z[j];
  double s = 0;
  for (int j = 0; j < k; j++) s += exp(z[j] - m);
  return m + log(s);
}

double ref_loss(const ref_net *net, const double *out, const double *t, int n)
{
  double s = 0;
  for (int i = 0; i < n; i++) {
    if (net->loss == REF_MSE) {
      double d = out[i] - t[i];
      s += d * d;
    } else {
      const double *z = out + (size_t)i * net->out;
      s += logsumexp(z, net->out) - z[(int)t[i]];
    }
  }
  return s / n;
}

int ref_correct(const ref_net *net, const double *out, const double *t, int n)
{
  int c = 0;
  for (int i = 0; i < n; i++) {
    const double *z = out + (size_t)i * net->out;
    int best = 0;
    for (int j = 1; j < net->out; j++) if (z[j] > z[best]) best = j;
    c += best == (int)t[i];
  }
  return c;
}

/* The half-width of the band around a kink at 0 in which ref_backward counts (and may flip)
   the inputs a[0..cnt) of a relu layer: -1 (none) unless net->kinks is set. */
static double kink_band(const ref_net *net, const double *a, size_t cnt)
{
  if (!net->kinks || !(net->kink_band > 0)) return -1;
  double ss = 0;
  for (size_t i = 0; i < cnt; i++) ss += a[i] * a[i];
  return net->kink_band * sqrt(ss / (double)(cnt ? cnt : 1));
}

double ref_backward(const ref_net *net, const double *params, const double *x, const double *t,
                    int n, double *out, double *grad, double *dx)
{
  double **act = alloc_acts(net, x, n);
  forward_all(net, params, n, act);
  const double *o = act[net->nlayers];
  double loss = ref_loss(net, o, t, n);
  if (out) memcpy(out, o, (size_t)n * net->out * sizeof(double));

  /* dy: gradient of the mean loss w.r.t. the current layer's output */
  size_t wmax = (size_t)n * (size_t)net->widest;
  double *dy = malloc(wmax * sizeof(double)), *da = malloc(wmax * sizeof(double));
  if (!dy || !da) abort();
  for (int i = 0; i < n; i++) {
    if (net->loss == REF_MSE) {
      dy[i] = 2.0 * (o[i] - t[i]) / n;
    } else {
      const double *z = o + (size_t)i * net->out;
      double lse = logsumexp(z, net->out);
      for (int j = 0; j < net->out; j++)
        dy[(size_t)i * net->out + j] = (exp(z[j] - lse) - (j == (int)t[i] ? 1.0 : 0.0)) / n;
    }
  }
  int ti = net->ntensors;
  for (int l = net->nlayers - 1; l >= 0; l--) {
    const ref_layer *L = &net->layer[l];
    const double *a = act[l];
    if (L->kind == REF_BATCHNORM) {
      ti -= tensors_of(L);
      bn_tensors bt = bn_at(net, L, params, ti);
      double *dw = L->affine ? grad + net->t_off[ti] : NULL, *db = L->affine ? grad + net->t_off[ti + 1] : NULL;
      bn_backward(net, L, &bt, a, dy, da, dw, db, n);
      for (int k = ti; k < ti + tensors_of(L); k++)   /* the running state: no gradient */
        if (net->t_buffer[k]) memset(grad + net->t_off[k], 0, (size_t)net->t_cols[k] * sizeof(double));
    } else if (L->kind == REF_DROPOUT) {
      drop_apply(net, l, dy, da, n);
    } else if (L->kind == REF_LINEAR) {
      ti -= tensors_of(L);
      const double *W = params + net->t_off[ti];
      double *dW = grad + net->t_off[ti], *db = L->nobias ? NULL : grad + net->t_off[ti + 1];
      /* dW[k][j] = sum over the rows i, in order, of a[i][k]·dy[i][j] */
      memset(dW, 0, (size_t)L->in * L->out * sizeof *dW);
      for (int i = 0; i < n; i++)
        for (int k = 0; k < L->in; k++) {
          double aik = a[(size_t)i * L->in + k];
          const double *dyi = dy + (size_t)i * L->out;
          double *dWk = dW + (size_t)k * L->out;
          for (int j = 0; j < L->out; j++) dWk[j] += aik * dyi[j];
        }
      for (int j = 0; db && j < L->out; j++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += dy[(size_t)i * L->out + j];
        db[j] = s;
      }
      for (int i = 0; i < n; i++)
        for (int k = 0; k < L->in; k++) {
          double s = 0;
          for (int j = 0; j < L->out; j++) s += dy[(size_t)i * L->out + j] * W[(size_t)k * L->out + j];
          da[(size_t)i * L->in + k] = s;
        }
    } else if (L->kind >= REF_CONV2D && L->kind <= REF_FLATTEN) {
      const double *W = NULL;
      double *dW = NULL, *db = NULL;
      if (L->kind == REF_CONV2D) {
        ti -= L->nobias ? 1 : 2;
        W = params + net->t_off[ti];
        dW = grad + net->t_off[ti];
        if (!L->nobias) db = grad + net->t_off[ti + 1];
      }
      image_backward(net, L, W, a, dy, da, dW, db, n,
                     L->kind == REF_MAXPOOL2D ? kink_band(net, a, (size_t)n * L->in) : -1);
    } else {
      /* element-wise: da = dy * f'(z), f' from the input z (relu, leaky_relu) or from the
         output y = f(z) (tanh: 1 - y², sigmoid: y (1 - y)) */
      const double *y = act[l + 1];
      size_t cnt = (size_t)n * L->out;
      switch (L->kind) {
      case REF_RELU:
      case REF_LEAKY_RELU: {
        double band = kink_band(net, a, cnt);
        for (size_t i = 0; i < cnt; i++) {
          int on = a[i] > 0;
          if (fabs(a[i]) <= band && ++*net->kinks == net->kink_flip) on = !on;
          da[i] = on ? dy[i] : L->kind == REF_RELU ? 0.0 : L->slope * dy[i];
        }
        break;
      }
      case REF_TANH:
        for (size_t i = 0; i < cnt; i++) da[i] = dy[i] * (1.0 - y[i] * y[i]);
        break;
      case REF_SIGMOID:
        for (size_t i = 0; i < cnt; i++) da[i] = dy[i] * y[i] * (1.0 - y[i]);
        break;
      default:
        abort();
      }
    }
    double *tmp = dy; dy = da; da = tmp;
  }
  if (dx) memcpy(dx, dy, (size_t)n * net->in * sizeof(double));
  free(dy); free(da);
  free_acts(net, act);
  return loss;
}

size_t ref_mask_size(const ref_net *net, int n)
{
  size_t s = 0;
  for (int l = 0; l < net->nlayers; l++) {
    if (net->layer[l].kind == REF_RELU || net->layer[l].kind == REF_LEAKY_RELU) s += (size_t)n * net->layer[l].in;
    if (net->layer[l].kind == REF_MAXPOOL2D) s += (size_t)n * net->layer[l].out;
  }
  return s;
}

void ref_masks(const ref_net *net, const double *params, const double *x, int n,
               unsigned char *mask)
{
  double **act = alloc_acts(net, x, n);
  forward_all(net, params, n, act);
  for (int l = 0; l < net->nlayers; l++) {
    const ref_layer *L = &net->layer[l];
    if (L->kind == REF_RELU || L->kind == REF_LEAKY_RELU)
      for (size_t i = 0; i < (size_t)n * L->in; i++) *mask++ = act[l][i] > 0;
    if (L->kind == REF_MAXPOOL2D)
      for (int i = 0; i < n; i++)
        for (int c = 0; c < L->c; c++)
          for (int oy = 0; oy < L->h; oy++)
            for (int ox = 0; ox < L->w; ox++) *mask++ = (unsigned char)window_argmax(L, act[l], i, c, oy, ox);
  }
  free_acts(net, act);
}

void ref_bn_update(const ref_net *net, double *params, const double *x, int n)
{
  ref_net tn = *net;
  tn.train = 1;
  double **act = alloc_acts(&tn, x, n);
  forward_all(&tn, params, n, act);
  int ti = 0;
  for (int l = 0; l < net->nlayers; l++) {
    const ref_layer *L = &net->layer[l];
    if (L->kind == REF_BATCHNORM) {
      bn_tensors t = bn_at(net, L, params, ti);
      double m = (double)n * L->pixels;
      for (int c = 0; c < L->channels; c++) {
        double mean, var;
        bn_batch_stats(L, act[l], n, c, &mean, &var);
        double unbiased = m > 1 ? var * m / (m - 1) : var;
        params[t.rmean_off + (size_t)c] = (1 - L->momentum) * params[t.rmean_off + (size_t)c] + L->momentum * mean;
        params[t.rvar_off + (size_t)c] = (1 - L->momentum) * params[t.rvar_off + (size_t)c] + L->momentum * unbiased;
      }
      params[t.nbt_off] += 1;
    }
    ti += tensors_of(L);
  }
  free_acts(&tn, act);
}

void ref_pcg_seed(ref_pcg *r, unsigned long long seed, unsigned long long stream)
{
  const unsigned long long mult = 6364136223846793005ULL;
  r->inc = (stream << 1) | 1u;
  r->state = r->inc;            /* 0·mult + inc */
  r->state += seed;
  r->state = r->state * mult + r->inc;
}

unsigned ref_pcg_u32(ref_pcg *r)
{
  unsigned long long old = r->state;
  r->state = old * 6364136223846793005ULL + r->inc;
  unsigned xs = (unsigned)(((old >> 18) ^ old) >> 27), rot = (unsigned)(old >> 59);
  return (xs >> rot) | (xs << ((32u - rot) & 31u));
}

size_t ref_dropout_size(const ref_net *net, int n)
{
  size_t s = 0;
  for (int l = 0; l < net->nlayers; l++)
    if (net->layer[l].kind == REF_DROPOUT) s += (size_t)n * net->layer[l].out;
  return s;
}

void ref_dropout_masks(const ref_net *net, ref_pcg *r, int n, unsigned char *mask)
{
  for (int l = 0; l < net->nlayers; l++) {
    const ref_layer *L = &net->layer[l];
    if (L->kind != REF_DROPOUT) continue;
    double p = (double)(float)L->p;
    for (size_t i = 0; i < (size_t)n * L->out; i++) *mask++ = (double)(ref_pcg_u32(r) >> 8) * 0x1p-24 >= p;
  }
}

/* ---------- optimizers (torch.optim 1.13 semantics) ---------- */

int ref_opt_init(ref_opt_state *s, const ref_net *net)
{
  memset(s, 0, sizeof *s);
  s->h = net->opt;
  s->count = net->nparams;
  s->buf = calloc(s->count, sizeof(double));
  s->m = calloc(s->count, sizeof(double));
  s->v = calloc(s->count, sizeof(double));
  s->frozen = calloc(s->count ? s->count : 1, 1);
  if (!s->buf || !s->m || !s->v || !s->frozen) { ref_opt_free(s); return -1; }
  for (int i = 0; i < net->ntensors; i++)
    if (net->t_buffer[i]) memset(s->frozen + net->t_off[i], 1, (size_t)net->t_rows[i] * net->t_cols[i]);
  return 0;
}

void ref_opt_free(ref_opt_state *s)
{
  free(s->buf); free(s->m); free(s->v); free(s->frozen);
  s->buf = s->m = s->v = NULL;
  s->frozen = NULL;
}

void ref_opt_step(ref_opt_state *s, double *p, const double *grad)
{
  const ref_optim *h = &s->h;
  s->t++;
  if (h->kind == REF_SGD) {
    for (size_t i = 0; i < s->count; i++) {
      if (s->frozen[i]) continue;
      double d = grad[i];
      if (h->weight_decay != 0) d += h->weight_decay * p[i];
      if (h->momentum != 0) {
        if (!s->have_buf) s->buf[i] = d;
        else s->buf[i] = h->momentum * s->buf[i] + (1 - h->dampening) * d;
        d = h->nesterov ? d + h->momentum * s->buf[i] : s->buf[i];
      }
      p[i] -= h->lr * d;
    }
    s->have_buf = 1;
    return;
  }
  double bc1 = 1 - pow(h->beta1, (double)s->t), bc2 = 1 - pow(h->beta2, (double)s->t);
  double step = h->lr / bc1, sbc2 = sqrt(bc2);
  for (size_t i = 0; i < s->count; i++) {
    if (s->frozen[i]) continue;
    double g = grad[i];
    if (h->kind == REF_ADAMW) p[i] *= 1 - h->lr * h->weight_decay;
    else if (h->weight_decay != 0) g += h->weight_decay * p[i];
    s->m[i] = h->beta1 * s->m[i] + (1 - h->beta1) * g;
    s->v[i] = h->beta2 * s->v[i] + (1 - h->beta2) * g * g;
    double denom = sqrt(s->v[i]) / sbc2 + h->eps;
    p[i] -= step * s->m[i] / denom;
  }
}
