/* train_report.c — the init-report command: activation mean/std after every layer of this
 * network for the seed's init schemes, computed with naive loops from the tensor and
 * layer tables (never through the generated code's internal work layout), then the
 * deep-stack experiment (why initialisation scale matters, on 100 stacked 512x512
 * layers: the seed's experiment). */
#include "train_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ this network */

static const struct {
  const char *label, *scheme, *mode;
} report_schemes[] = {
    {"randn", "randn", NULL},
    {"simple_kaiming", "simple_kaiming", NULL},
    {"xavier (glorot)", "xavier_normal", NULL},
    {"kaiming fan_in", "kaiming_normal", "fan_in"},
    {"kaiming fan_out", "kaiming_normal", "fan_out"},
};
#define NSCHEMES (sizeof report_schemes / sizeof report_schemes[0])

static int is_kind(const cr_net_layer *L, const char *k) { return !strcmp(L->kind, k); }

/* The layers with a naive forward here besides the activations: products, image maps, and
 * the two with a training mode (batchnorm, dropout). */
static int is_structural(const cr_net_layer *L) {
  return is_kind(L, "linear") || is_kind(L, "conv2d") || is_kind(L, "maxpool2d") ||
         is_kind(L, "avgpool2d") || is_kind(L, "flatten") || is_kind(L, "batchnorm") ||
         is_kind(L, "dropout");
}

/* Every layer is one the naive forward knows (is_structural or an activation). 0 ok, 1
 * (printed) otherwise, before anything is printed: a kind new to the generator gets an
 * error here, not wrong numbers. */
static int check_kinds(const cr_net *net, const opts *o) {
  cr_err e = {{0}};
  for (int l = 0; l < net->layer_count; l++) {
    const cr_net_layer *L = &net->layers[l];
    if (!is_structural(L) && cr_naive_activation(NULL, NULL, 0, L, &e) != 0)
      return tr_fail(o, 1, "layer %d: %s", l, e.msg);
  }
  return 0;
}

/* The label of layer l in the table. */
static void layer_label(const cr_net_layer *L, int l, char *what, size_t cap) {
  const int *i = L->in_shape, *s = L->out_shape;
  if (is_kind(L, "linear")) snprintf(what, cap, "%d linear %d->%d", l, L->in, L->out);
  else if (is_kind(L, "conv2d") || is_kind(L, "maxpool2d") || is_kind(L, "avgpool2d"))
    snprintf(what, cap, "%d %s %dx%dx%d->%dx%dx%d", l, L->kind, i[0], i[1], i[2], s[0], s[1], s[2]);
  else if (is_kind(L, "relu") && L->shift != 0.0f)
    snprintf(what, cap, "%d relu (shift %g)", l, (double)L->shift);
  else if (is_kind(L, "leaky_relu"))
    snprintf(what, cap, "%d leaky_relu (slope %g)", l, (double)L->slope);
  else if (is_kind(L, "batchnorm"))
    snprintf(what, cap, "%d batchnorm (eps %g)", l, (double)L->eps);
  else if (is_kind(L, "dropout"))
    snprintf(what, cap, "%d dropout (p %g, training)", l, (double)L->p);
  else snprintf(what, cap, "%d %s", l, L->kind);
}

/* ---- naive image layers (rows [C][H][W], torch's formulas; the weight [C·K·K][O]) ---- */

static void naive_conv2d(float *y, const float *x, const float *w, const float *b, int rows,
                         const cr_net_layer *L) {
  int C = L->in_shape[0], H = L->in_shape[1], W = L->in_shape[2];
  int O = L->out_shape[0], OH = L->out_shape[1], OW = L->out_shape[2];
  int K = L->kernel, S = L->stride, P = L->padding;
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * L->in;
    float *yr = y + (size_t)r * L->out;
    for (int o = 0; o < O; o++)
      for (int oy = 0; oy < OH; oy++)
        for (int ox = 0; ox < OW; ox++) {
          float acc = b ? b[o] : 0.0f;
          for (int c = 0; c < C; c++)
            for (int ky = 0; ky < K; ky++)
              for (int kx = 0; kx < K; kx++) {
                int iy = oy * S + ky - P, ix = ox * S + kx - P;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;   /* zero padding */
                acc += xr[((size_t)c * H + iy) * W + ix] * w[(size_t)((c * K + ky) * K + kx) * O + o];
              }
          yr[((size_t)o * OH + oy) * OW + ox] = acc;
        }
  }
}

/* max or mean over each K×K window (no padding) */
static void naive_pool(float *y, const float *x, int rows, const cr_net_layer *L, int max) {
  int C = L->in_shape[0], H = L->in_shape[1], W = L->in_shape[2];
  int OH = L->out_shape[1], OW = L->out_shape[2], K = L->kernel, S = L->stride;
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < C; c++) {
      const float *xc = x + (size_t)r * L->in + (size_t)c * H * W;
      float *yc = y + (size_t)r * L->out + (size_t)c * OH * OW;
      for (int oy = 0; oy < OH; oy++)
        for (int ox = 0; ox < OW; ox++) {
          float acc = max ? xc[(size_t)oy * S * W + (size_t)ox * S] : 0.0f;
          for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
              float v = xc[(size_t)(oy * S + ky) * W + (size_t)(ox * S + kx)];
              acc = max ? (v > acc ? v : acc) : acc + v;
            }
          yc[(size_t)oy * OW + ox] = max ? acc : acc / (float)(K * K);
        }
    }
}

/* Batchnorm in training mode as initialised (weight 1, bias 0): each channel (a feature, or
 * an image's plane) less its mean over the rows (and pixels), over the square root of the
 * biased variance + eps, as torch's BatchNorm1d/2d in training mode. */
static void naive_batchnorm(float *y, const float *x, int rows, int width, const cr_net_layer *L) {
  const int C = L->in_shape[0] ? L->in_shape[0] : width;
  const int P = width / C;
  for (int c = 0; c < C; c++) {
    double sum = 0.0, sq = 0.0;
    for (int r = 0; r < rows; r++)
      for (int q = 0; q < P; q++) sum += x[(size_t)r * width + (size_t)c * P + q];
    const double n = (double)rows * P, mean = sum / n;
    for (int r = 0; r < rows; r++)
      for (int q = 0; q < P; q++) {
        const double d = x[(size_t)r * width + (size_t)c * P + q] - mean;
        sq += d * d;
      }
    const double inv = 1.0 / sqrt(sq / n + (double)L->eps);
    for (int r = 0; r < rows; r++)
      for (int q = 0; q < P; q++) {
        const size_t i = (size_t)r * width + (size_t)c * P + q;
        y[i] = (float)((x[i] - mean) * inv);
      }
  }
}

/* Dropout in training mode: each element kept with probability 1 - p and scaled by 1/(1 - p). */
static void naive_dropout(float *y, const float *x, size_t count, float p, cr_rng *rng) {
  const float keep = 1.0f / (1.0f - p);
  for (size_t i = 0; i < count; i++) y[i] = cr_rng_uniform(rng) >= p ? x[i] * keep : 0.0f;
}

/* Every weight drawn with the scheme (biases zero), from the init stream of seed. */
static int init_weights(const cr_net *net, void *params, size_t s, uint64_t seed, cr_err *e) {
  cr_rng r;
  cr_rng_seed(&r, seed, CR_STREAM_INIT);
  memset(params, 0, net->params_bytes);
  for (int i = 0; i < net->tensor_count; i++) {
    const cr_net_tensor *t = &net->tensors[i];
    if (tr_tensor_role(net, i) != 1) continue;
    cr_init_spec sp = {report_schemes[s].scheme, report_schemes[s].mode, NULL, 0.0f,
                       t->fan_in, t->fan_out};
    if (cr_init_tensor(tr_tensor_ptr(params, t), (size_t)t->rows * (size_t)t->cols, &sp, &r, e))
      return -1;
  }
  return 0;
}

/* The naive forward over rows inputs, printing mean and std after every layer.
 * a and b hold rows x the widest layer; a starts as the inputs. Dropout's masks come from
 * the dropout stream of seed (the same for every scheme). */
static void forward_rows(const cr_net *net, void *params, float *a, float *b, int rows,
                         const char *label, uint64_t seed) {
  int width = net->in;
  cr_rng rng;
  cr_rng_seed(&rng, seed, CR_STREAM_DROPOUT);
  for (int l = 0; l < net->layer_count; l++) {
    const cr_net_layer *L = &net->layers[l];
    if (is_kind(L, "linear") || is_kind(L, "conv2d")) {
      const float *w = tr_tensor_ptr(params, &net->tensors[L->weight]);
      const float *bias = L->bias >= 0 ? tr_tensor_ptr(params, &net->tensors[L->bias]) : NULL;
      if (is_kind(L, "linear")) cr_naive_linear(b, a, w, bias, rows, L->in, L->out);
      else naive_conv2d(b, a, w, bias, rows, L);
      width = L->out;
    } else if (is_kind(L, "maxpool2d") || is_kind(L, "avgpool2d")) {
      naive_pool(b, a, rows, L, is_kind(L, "maxpool2d"));
      width = L->out;
    } else if (is_kind(L, "flatten")) {
      memcpy(b, a, sizeof(float) * (size_t)rows * (size_t)width);   /* same values, flat */
    } else if (is_kind(L, "batchnorm")) {
      naive_batchnorm(b, a, rows, width, L);
    } else if (is_kind(L, "dropout")) {
      naive_dropout(b, a, (size_t)rows * (size_t)width, L->p, &rng);
    } else {
      cr_naive_activation(b, a, (size_t)rows * (size_t)width, L, NULL); /* kinds checked */
    }
    char what[80];
    layer_label(L, l, what, sizeof what);
    double mu, sd;
    cr_mean_std(b, (size_t)rows * (size_t)width, &mu, &sd);
    printf("%-17s %-34s %10.4g %10.4g\n", l == 0 ? label : "", what, mu, sd);
    float *tmp = a;
    a = b, b = tmp;
  }
}

/* The validation rows, normalised with the training set's numbers unless --no-norm.
 * *mean, *std: those numbers. 0 ok, else the exit status (printed). */
static int report_data(const cr_net *net, const opts *o, const datapaths *dp, cr_dataset *va,
                       float *mean, float *std) {
  cr_dataset tr;
  memset(&tr, 0, sizeof tr);
  int rc;
  if ((!o->no_norm && (rc = tr_load_set(net, o, &tr, dp->tx, dp->ty))) ||
      (rc = tr_load_set(net, o, va, dp->vx, dp->vy))) {
    cr_dataset_free(&tr);
    return rc;
  }
  *mean = 0, *std = 1;
  if (o->no_norm) return 0;
  cr_err e = {{0}};
  cr_norm nm;
  rc = cr_norm_fit(&nm, &tr, 0, &e);
  cr_dataset_free(&tr);
  if (rc != 0) {
    cr_dataset_free(va);
    return tr_fail(o, 2, "%s", e.msg);
  }
  *mean = nm.mean, *std = nm.std;
  cr_norm_apply_rows(&nm, va->x, va->n, va->dim);
  cr_norm_free(&nm);
  return 0;
}

/* The table for this network: every scheme, every layer. 0 ok, 1 failed (printed). */
static int network_table(const cr_net *net, const opts *o, const cr_dataset *va, int rows) {
  int maxw = net->in;
  for (int l = 0; l < net->layer_count; l++)
    if (net->layers[l].out > maxw) maxw = net->layers[l].out;
  float *a = malloc(sizeof(float) * (size_t)rows * (size_t)maxw);
  float *b = malloc(sizeof(float) * (size_t)rows * (size_t)maxw);
  float *params = malloc(net->params_bytes);
  int rc = a && b && params ? 0 : tr_fail(o, 1, "out of memory");
  cr_err e = {{0}};
  for (size_t s = 0; s < NSCHEMES && !rc; s++) {
    if (init_weights(net, params, s, tr_seed(o), &e) != 0) {
      rc = tr_fail(o, 1, "%s", e.msg);
      break;
    }
    memcpy(a, va->x, sizeof(float) * (size_t)rows * va->dim);
    forward_rows(net, params, a, b, rows, report_schemes[s].label, tr_seed(o));
  }
  free(a), free(b), free(params);
  return rc;
}

/* The torch shape of weight tensor ti from the layer table: [O][C][K][K] for a conv,
 * [out][in] for a linear (the export writes the same values as [O][C·K·K]). */
static void torch_shape(const cr_net *net, int ti, char *buf, size_t cap) {
  snprintf(buf, cap, "?");
  for (int l = 0; l < net->layer_count; l++) {
    const cr_net_layer *L = &net->layers[l];
    if (L->weight != ti) continue;
    if (is_kind(L, "conv2d"))
      snprintf(buf, cap, "%dx%dx%dx%d", L->out_shape[0], L->in_shape[0], L->kernel, L->kernel);
    else snprintf(buf, cap, "%dx%d", L->out, L->in);
  }
}

/* The std of every weight tensor as drawn by each scheme (the same draws as the table above),
 * beside its torch shape and its fans: the tensor table's, which for a conv weight are torch's
 * _calculate_fan_in_and_fan_out (C·K·K and O·K·K), for a linear one in and out
 * (tests/trainer/check_init_fans.py checks them with torch). 0 ok, 1 failed (printed). */
static int weight_table(const cr_net *net, const opts *o) {
  float *params = malloc(net->params_bytes);
  double *sd = malloc(sizeof(double) * NSCHEMES * (size_t)net->tensor_count);
  int rc = params && sd ? 0 : tr_fail(o, 1, "out of memory");
  cr_err e = {{0}};
  for (size_t s = 0; s < NSCHEMES && !rc; s++) {
    if (init_weights(net, params, s, tr_seed(o), &e) != 0) {
      rc = tr_fail(o, 1, "%s", e.msg);
      break;
    }
    for (int i = 0; i < net->tensor_count; i++) {
      const cr_net_tensor *t = &net->tensors[i];
      double mu;
      if (tr_tensor_role(net, i) == 1)
        cr_mean_std(tr_tensor_ptr(params, t), (size_t)t->rows * (size_t)t->cols, &mu, &sd[s * (size_t)net->tensor_count + (size_t)i]);
    }
  }
  if (!rc) {
    printf("\nweight std as drawn (fans: conv C*K*K and O*K*K, linear in and out, as torch's "
           "_calculate_fan_in_and_fan_out)\n%-10s %-12s %7s %7s", "tensor", "torch shape", "fan_in",
           "fan_out");
    for (size_t s = 0; s < NSCHEMES; s++) printf(" %16s", report_schemes[s].label);
    printf("\n");
    for (int i = 0; i < net->tensor_count; i++) {
      const cr_net_tensor *t = &net->tensors[i];
      if (tr_tensor_role(net, i) != 1) continue;
      char shape[64];
      torch_shape(net, i, shape, sizeof shape);
      printf("%-10s %-12s %7d %7d", t->name, shape, t->fan_in, t->fan_out);
      for (size_t s = 0; s < NSCHEMES; s++) printf(" %16.5g", sd[s * (size_t)net->tensor_count + (size_t)i]);
      printf("\n");
    }
  }
  free(params), free(sd);
  return rc;
}

int tr_cmd_report(const cr_net *net, const opts *o) {
  datapaths dp;
  int rc = tr_resolve_data(o, &dp, !o->no_norm);
  if (rc || (rc = check_kinds(net, o))) return rc;
  cr_dataset va;
  float mean, std;
  if ((rc = report_data(net, o, &dp, &va, &mean, &std))) return rc;
  int rows = (int)(o->rows ? (size_t)o->rows : 1000);
  if ((size_t)rows > va.n) rows = (int)va.n;
  /* torch's training mode refuses it too: one value per channel has no variance */
  for (int l = 0; l < net->layer_count && rows < 2; l++)
    if (is_kind(&net->layers[l], "batchnorm") && !net->layers[l].in_shape[0]) {
      cr_dataset_free(&va);
      return tr_fail(o, 2, "layer %d is a batchnorm of flat features, whose batch "
                     "statistics need at least 2 rows (%d given)", l, rows);
    }
  uint64_t seed = tr_seed(o);
  printf("init report for %s on %d validation rows of %s (inputs %s: mean %.4f std %.4f)\n",
         net->name, rows, dp.vx, o->no_norm ? "raw" : "normalised with the training set's",
         (double)mean, (double)std);
  printf("weights drawn with each scheme (kaiming: PyTorch's default gain sqrt 2), biases zero, "
         "seed %llu\n\n", (unsigned long long)seed);
  printf("%-17s %-34s %10s %10s\n", "scheme", "after layer", "mean", "std");
  rc = network_table(net, o, &va, rows);
  cr_dataset_free(&va);
  if (rc || (rc = weight_table(net, o))) return rc;
  printf("\n");
  cr_err e = {{0}};
  if (cr_deep_stack_report(stdout, seed, &e) != 0) return tr_fail(o, 1, "%s", e.msg);
  return 0;
}

/* ------------------------------------------------------------------ the deep stack */

enum { DEEP_DIM = 512, DEEP_LAYERS = 100, DEEP_ROWS = 16, DEEP_RUNS = 3 };
#define DEEP_SIZE ((size_t)DEEP_ROWS * DEEP_DIM)
#define DEEP_WSIZE ((size_t)DEEP_DIM * DEEP_DIM)

typedef struct {
  const char *label;
  float scale;       /* W = randn * scale */
  int relu;          /* relu after every layer */
  float *x, *y;      /* [DEEP_ROWS][DEEP_DIM] */
  int dead_at;       /* first layer whose output holds inf/nan, 0 = never */
  double mean[DEEP_LAYERS + 1], std[DEEP_LAYERS + 1];
} deep_run;

typedef struct {
  float *w, *ws;     /* this depth's randn matrix, and scaled for one run */
  deep_run runs[DEEP_RUNS];
} deep_stack;

static void deep_free(deep_stack *d) {
  free(d->w), free(d->ws);
  for (int r = 0; r < DEEP_RUNS; r++) free(d->runs[r].x), free(d->runs[r].y);
}

/* The three runs, each starting from the same random inputs x ~ N(0, 1). */
static int deep_init(deep_stack *d, uint64_t seed) {
  memset(d, 0, sizeof *d);
  const char *labels[DEEP_RUNS] = {"randn", "randn/sqrt(512)", "relu, kaiming"};
  const float scales[DEEP_RUNS] = {1.0f, 1.0f / sqrtf((float)DEEP_DIM),
                                   sqrtf(2.0f / (float)DEEP_DIM)};
  d->w = malloc(sizeof(float) * DEEP_WSIZE);
  d->ws = malloc(sizeof(float) * DEEP_WSIZE);
  int ok = d->w && d->ws;
  for (int r = 0; r < DEEP_RUNS; r++) {
    d->runs[r].label = labels[r];
    d->runs[r].scale = scales[r];
    d->runs[r].relu = r == 2;
    d->runs[r].x = malloc(sizeof(float) * DEEP_SIZE);
    d->runs[r].y = malloc(sizeof(float) * DEEP_SIZE);
    ok = ok && d->runs[r].x && d->runs[r].y;
  }
  if (!ok) return -1;
  cr_rng rng;
  cr_rng_seed(&rng, seed, CR_STREAM_DATA);
  for (size_t i = 0; i < DEEP_SIZE; i++) d->runs[0].x[i] = cr_rng_normal(&rng);
  for (int r = 0; r < DEEP_RUNS; r++) {
    if (r > 0) memcpy(d->runs[r].x, d->runs[0].x, sizeof(float) * DEEP_SIZE);
    cr_mean_std(d->runs[r].x, DEEP_SIZE, &d->runs[r].mean[0], &d->runs[r].std[0]);
  }
  return 0;
}

/* One layer of one run with this depth's matrix d->w. */
static void deep_layer(deep_stack *d, deep_run *run, int l) {
  for (size_t i = 0; i < DEEP_WSIZE; i++) d->ws[i] = d->w[i] * run->scale;
  cr_naive_linear(run->y, run->x, d->ws, NULL, DEEP_ROWS, DEEP_DIM, DEEP_DIM);
  if (run->relu)
    for (size_t i = 0; i < DEEP_SIZE; i++) run->y[i] = run->y[i] > 0.0f ? run->y[i] : 0.0f;
  if (!run->dead_at && cr_first_nonfinite(run->y, DEEP_SIZE) >= 0) run->dead_at = l;
  cr_mean_std(run->y, DEEP_SIZE, &run->mean[l], &run->std[l]);
  float *t = run->x;
  run->x = run->y, run->y = t;
}

static void deep_print(const deep_stack *d, FILE *out, uint64_t seed) {
  fprintf(out, "deep stack: %d linear layers %dx%d without bias, %d input rows x ~ N(0,1), "
               "seed %llu\n", DEEP_LAYERS, DEEP_DIM, DEEP_DIM, DEEP_ROWS, (unsigned long long)seed);
  fprintf(out, "(W = randn x scale; the same randn per depth in every column; float32)\n");
  fprintf(out, "%6s  %-24s %-24s %-24s\n", "depth", "randn (scale 1)", "randn/sqrt(512)",
          "relu, kaiming sqrt(2/512)");
  static const int depths[] = {1, 2, 5, 10, 20, 25, 28, 30, 40, 50, 75, 100};
  for (size_t k = 0; k < sizeof depths / sizeof depths[0]; k++) {
    int l = depths[k];
    fprintf(out, "%6d", l);
    for (int r = 0; r < DEEP_RUNS; r++) {
      const deep_run *run = &d->runs[r];
      char cell[64];
      if (isfinite(run->mean[l]) && isfinite(run->std[l]))
        snprintf(cell, sizeof cell, "mean %9.3g std %9.3g", run->mean[l], run->std[l]);
      else
        snprintf(cell, sizeof cell, "(inf/nan)");
      fprintf(out, "  %-24s", cell);
    }
    fprintf(out, "\n");
  }
  for (int r = 0; r < DEEP_RUNS; r++) {
    const deep_run *run = &d->runs[r];
    if (run->dead_at)
      fprintf(out, "%s: activations first hold inf/nan after layer %d\n", run->label,
              run->dead_at);
    else
      fprintf(out, "%s: finite through all %d layers (final std %.3g)\n", run->label,
              DEEP_LAYERS, run->std[DEEP_LAYERS]);
  }
}

int cr_deep_stack_report(FILE *out, uint64_t seed, cr_err *e) {
  deep_stack d;
  if (deep_init(&d, seed) != 0) {
    deep_free(&d);
    return cr_errf(e, "deep-stack report: out of memory");
  }
  /* One randn matrix per depth, shared by the three runs (scaled per run), so the only
     difference between the columns is the scale and the relu. */
  cr_rng rng;
  cr_rng_seed(&rng, seed, CR_STREAM_INIT);
  for (int l = 1; l <= DEEP_LAYERS; l++) {
    for (size_t i = 0; i < DEEP_WSIZE; i++) d.w[i] = cr_rng_normal(&rng);
    for (int r = 0; r < DEEP_RUNS; r++) deep_layer(&d, &d.runs[r], l);
  }
  deep_print(&d, out, seed);
  deep_free(&d);
  return 0;
}
