/* cr_train_cli.c — the trainer program shared by every generated NAME_cli.c:
 * command-line parsing, data sets, the training loop with progress, metrics and
 * checkpoints, NaN/Inf stops, eval, predict, export/import of .npy weights.
 * The network itself is reached only through the cr_net the generated file hands in. */
#define _POSIX_C_SOURCE 200809L
#include "cr_train.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ options */

enum { CMD_TRAIN = 1, CMD_EVAL = 2, CMD_PREDICT = 4, CMD_EXPORT = 8, CMD_IMPORT = 16,
       CMD_REPORT = 32 };
#define CMD_DATA (CMD_TRAIN | CMD_EVAL | CMD_REPORT)

typedef struct {
  const char *prog, *cmdname;
  int cmd;
  const char *data, *train_x, *train_y, *valid_x, *valid_y;
  const char *init, *checkpoint, *resume, *metrics, *plot, *input, *output, *dir;
  long epochs, batch, rows;
  double lr;
  unsigned long long seed;
  int lr_set, seed_set, batch_set, no_norm, progress; /* progress: -1 auto */
} opts;

typedef enum { O_STR, O_LONG, O_DOUBLE, O_U64, O_FLAG } otype;
typedef struct {
  const char *flag;
  otype type;
  int cmds;
  size_t off;       /* offset of the field in opts */
  size_t set_off;   /* offset of an int "was set" flag, or 0 */
  double lo, hi;    /* numeric range */
  const char *arg, *help;
} optdef;

#define OFF(f) offsetof(opts, f)
static const optdef optdefs[] = {
    {"--data", O_STR, CMD_DATA, OFF(data), 0, 0, 0, "NAME|DIR|PREFIX",
     "data set: mnist (data/mnist), fashion (data/fashion-mnist, else Debian's files in "
     "/usr/share/datasets/fashion-mnist), tiny (build/tiny), "
     "a directory holding train-/valid- (or t10k-) images-idx3-ubyte[.gz] and labels-idx1-ubyte[.gz], "
     "or a path prefix of such files (PREFIXtrain-images-idx3-ubyte, ...)"},
    {"--train-images", O_STR, CMD_TRAIN | CMD_REPORT, OFF(train_x), 0, 0, 0, "FILE",
     "training inputs: IDX[.gz], .npy, or .csv (label,values...; no labels file)"},
    {"--train-labels", O_STR, CMD_TRAIN | CMD_REPORT, OFF(train_y), 0, 0, 0, "FILE",
     "training labels: IDX[.gz] or .npy"},
    {"--valid-images", O_STR, CMD_DATA, OFF(valid_x), 0, 0, 0, "FILE",
     "validation/test inputs (formats as --train-images)"},
    {"--valid-labels", O_STR, CMD_DATA, OFF(valid_y), 0, 0, 0, "FILE", "validation/test labels"},
    {"--epochs", O_LONG, CMD_TRAIN, OFF(epochs), 0, 1, 1000000, "N",
     "train until N epochs are done in total (default 5; with --resume, counts the resumed ones)"},
    {"--lr", O_DOUBLE, CMD_TRAIN, OFF(lr), OFF(lr_set), 0, 1e30, "X",
     "learning rate (default: the spec's, or the checkpoint's with --resume)"},
    {"--batch", O_LONG, CMD_TRAIN | CMD_EVAL, OFF(batch), OFF(batch_set), 1, INT_MAX, "N",
     "rows per step, 1..the spec's batch (default: the spec's batch)"},
    {"--seed", O_U64, CMD_TRAIN | CMD_IMPORT | CMD_REPORT, OFF(seed), OFF(seed_set), 0, 0, "N",
     "seed of initialisation and shuffling (default 1)"},
    {"--init", O_STR, CMD_TRAIN, OFF(init), 0, 0, 0, "SCHEME",
     "initialise every weight with SCHEME instead of the spec's (zeros, randn, simple_kaiming, "
     "xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal, pytorch_default)"},
    {"--no-norm", O_FLAG, CMD_TRAIN | CMD_REPORT, OFF(no_norm), 0, 0, 0, NULL,
     "do not normalise inputs (default: mean/std fitted on the training set)"},
    {"--checkpoint", O_STR, CMD_TRAIN | CMD_EVAL | CMD_PREDICT | CMD_EXPORT | CMD_IMPORT,
     OFF(checkpoint), 0, 0, 0, "FILE",
     "train/import: write the checkpoint here (train: after every epoch); "
     "eval/predict/export: read it"},
    {"--resume", O_STR, CMD_TRAIN, OFF(resume), 0, 0, 0, "FILE",
     "continue training from this checkpoint (weights, optimizer, normalisation, RNG, epoch)"},
    {"--metrics", O_STR, CMD_TRAIN, OFF(metrics), 0, 0, 0, "CSV",
     "write epoch,train_loss,valid_loss,valid_acc,seconds after every epoch"},
    {"--plot", O_STR, CMD_TRAIN, OFF(plot), 0, 0, 0, "PNG",
     "plot losses and accuracy with gnuplot at the end (needs --metrics)"},
    {"--progress", O_FLAG, CMD_TRAIN, OFF(progress), 0, 0, 0, NULL,
     "draw the progress bar even when stdout is not a terminal"},
    {"--input", O_STR, CMD_PREDICT, OFF(input), 0, 0, 0, "FILE",
     "inputs to predict: IDX images[.gz] or .npy (float32 as given, uint8 scaled by 1/255)"},
    {"--output", O_STR, CMD_PREDICT, OFF(output), 0, 0, 0, "FILE",
     "write predictions here (default: stdout), one line per sample"},
    {"--rows", O_LONG, CMD_REPORT, OFF(rows), 0, 1, 100000000, "N",
     "validation rows the init report runs (default 1000)"},
};
#define NOPTS (sizeof optdefs / sizeof optdefs[0])

static const struct {
  const char *name;
  int cmd;
  const char *args, *what;
} cmds[] = {
    {"train", CMD_TRAIN, "[--data NAME|DIR] [options]", "train the network, printing one line per epoch"},
    {"eval", CMD_EVAL, "--checkpoint FILE [--data NAME|DIR]", "loss and accuracy of a checkpoint on the validation/test set"},
    {"predict", CMD_PREDICT, "--checkpoint FILE --input FILE [--output FILE]", "print the predicted class (or value) of every input row"},
    {"export", CMD_EXPORT, "DIR --checkpoint FILE", "write weights as .npy in PyTorch nn.Linear layout (DIR/0.weight.npy ...) and norm.npy"},
    {"import", CMD_IMPORT, "DIR --checkpoint FILE", "make a checkpoint from DIR/*.npy (as export writes them; norm.npy optional)"},
    {"init-report", CMD_REPORT, "[--data NAME|DIR] [--seed N]", "activation mean/std per layer for the seed's init schemes, and the 100-layer deep-stack experiment"},
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static int usage_error(const opts *o, const char *fmt, ...) {
  fprintf(stderr, "%s%s%s: ", o->prog, o->cmdname ? " " : "", o->cmdname ? o->cmdname : "");
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs(" (try --help)\n", stderr);
  return 2;
}

static void print_help(const cr_net *net, const opts *o, int cmd) {
  if (!cmd) {
    printf("%s — trainer for the network '%s' (%d -> %d, %s, %s), generated from %s\n\n",
           o->prog, net->name, net->in, net->out, net->classifier ? "cross-entropy" : "MSE",
           net->isa, net->spec);
    printf("usage: %s COMMAND [options]    (%s COMMAND --help for its options)\n\n", o->prog,
           o->prog);
    for (size_t i = 0; i < NCMDS; i++) printf("  %-12s %s\n", cmds[i].name, cmds[i].what);
    printf("\nExit status: 0 ok, 1 failure (I/O, non-finite loss), 2 bad usage or input.\n");
    return;
  }
  for (size_t i = 0; i < NCMDS; i++) {
    if (cmds[i].cmd != cmd) continue;
    printf("usage: %s %s %s\n%s\n\noptions:\n", o->prog, cmds[i].name, cmds[i].args, cmds[i].what);
  }
  for (size_t i = 0; i < NOPTS; i++) {
    if (!(optdefs[i].cmds & cmd)) continue;
    char left[64];
    snprintf(left, sizeof left, "%s%s%s", optdefs[i].flag, optdefs[i].arg ? " " : "",
             optdefs[i].arg ? optdefs[i].arg : "");
    printf("  %-22s %s\n", left, optdefs[i].help);
  }
}

/* Parses argv after the subcommand. Returns 0, 1 (help printed) or 2 (usage error). */
static int parse_args(const cr_net *net, opts *o, int argc, char **argv) {
  int positional = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      print_help(net, o, o->cmd);
      return 1;
    }
    if (a[0] != '-' || a[1] == '\0') {
      if ((o->cmd & (CMD_EXPORT | CMD_IMPORT)) && positional == 0) {
        o->dir = a;
        positional++;
        continue;
      }
      if (o->cmd == CMD_PREDICT && positional == 0 && !o->input) {
        o->input = a;
        positional++;
        continue;
      }
      return usage_error(o, "unexpected argument '%s'", a);
    }
    const char *eq = strchr(a, '=');
    size_t flen = eq ? (size_t)(eq - a) : strlen(a);
    const optdef *d = NULL;
    for (size_t k = 0; k < NOPTS; k++)
      if (strlen(optdefs[k].flag) == flen && !strncmp(optdefs[k].flag, a, flen)) d = &optdefs[k];
    if (!d) return usage_error(o, "unknown option '%.*s'", (int)flen, a);
    if (!(d->cmds & o->cmd))
      return usage_error(o, "option '%s' does not apply to this command", d->flag);
    char *field = (char *)o + d->off;
    if (d->type == O_FLAG) {
      if (eq) return usage_error(o, "option '%s' takes no value", d->flag);
      *(int *)field = 1;
      continue;
    }
    const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!v) return usage_error(o, "option '%s' needs a value (%s)", d->flag, d->arg);
    if (d->set_off) *(int *)((char *)o + d->set_off) = 1;
    char *end = NULL;
    errno = 0;
    switch (d->type) {
      case O_STR:
        if (!*v) return usage_error(o, "option '%s' needs a non-empty value", d->flag);
        *(const char **)field = v;
        break;
      case O_LONG: {
        long x = strtol(v, &end, 10);
        if (end == v || *end || errno || x < d->lo || x > d->hi) {
          return usage_error(o, "option '%s' needs an integer from %.0f to %.0f, got '%s'",
                             d->flag, d->lo, d->hi, v);
        }
        *(long *)field = x;
        break;
      }
      case O_DOUBLE: {
        double x = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(x) || !(x > d->lo) || x > d->hi)
          return usage_error(o, "option '%s' needs a positive number, got '%s'", d->flag, v);
        *(double *)field = x;
        break;
      }
      case O_U64: {
        if (v[0] == '-')
          return usage_error(o, "option '%s' needs a non-negative integer, got '%s'", d->flag, v);
        unsigned long long x = strtoull(v, &end, 10);
        if (end == v || *end || errno)
          return usage_error(o, "option '%s' needs a non-negative integer, got '%s'", d->flag, v);
        *(unsigned long long *)field = x;
        break;
      }
      case O_FLAG:
        break;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ data */

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* BASE/SPLIT-KIND-ubyte (base a directory) or BASESPLIT-KIND-ubyte (base a path prefix),
 * plain or .gz; out holds the found path. */
static int find_idx(char *out, size_t cap, const char *base, int is_dir, const char *split,
                    const char *kind) {
  const char *sfx[2] = {"", ".gz"};
  for (int s = 0; s < 2; s++) {
    snprintf(out, cap, "%s%s%s-%s-ubyte%s", base, is_dir ? "/" : "", split, kind, sfx[s]);
    if (file_exists(out)) return 1;
  }
  return 0;
}

typedef struct {
  char tx[PATH_MAX], ty[PATH_MAX], vx[PATH_MAX], vy[PATH_MAX];
  int have_train, have_valid;
} datapaths;

static int resolve_data(const opts *o, datapaths *p, int need_train) {
  memset(p, 0, sizeof *p);
  if (o->data) {
    const char *dir = o->data;
    if (!strcmp(dir, "mnist")) dir = "data/mnist";
    else if (!strcmp(dir, "fashion")) {
      /* scripts/fetch-data.sh --fashion links Debian's files here; else use them in place */
      struct stat ds;
      dir = stat("data/fashion-mnist", &ds) == 0 && S_ISDIR(ds.st_mode)
                ? "data/fashion-mnist" : "/usr/share/datasets/fashion-mnist";
    }
    else if (!strcmp(dir, "tiny")) dir = "build/tiny";
    struct stat st;
    int is_dir = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    char probe[PATH_MAX];
    if (!is_dir && !find_idx(probe, PATH_MAX, dir, 0, "train", "images-idx3") &&
        !find_idx(probe, PATH_MAX, dir, 0, "valid", "images-idx3") &&
        !find_idx(probe, PATH_MAX, dir, 0, "t10k", "images-idx3")) {
      const char *hint = !strcmp(o->data, "mnist") ? " (run scripts/fetch-data.sh)"
                         : !strcmp(o->data, "fashion") ? " (run scripts/deps.sh --data)"
                         : !strcmp(o->data, "tiny") ? " (run make tiny-data)" : "";
      fprintf(stderr, "%s %s: %s: no such data directory (or file prefix)%s\n", o->prog,
              o->cmdname, dir, hint);
      return 2;
    }
    p->have_train = find_idx(p->tx, PATH_MAX, dir, is_dir, "train", "images-idx3") &&
                    find_idx(p->ty, PATH_MAX, dir, is_dir, "train", "labels-idx1");
    p->have_valid = (find_idx(p->vx, PATH_MAX, dir, is_dir, "valid", "images-idx3") &&
                     find_idx(p->vy, PATH_MAX, dir, is_dir, "valid", "labels-idx1")) ||
                    (find_idx(p->vx, PATH_MAX, dir, is_dir, "t10k", "images-idx3") &&
                     find_idx(p->vy, PATH_MAX, dir, is_dir, "t10k", "labels-idx1"));
    if ((need_train && !p->have_train) || !p->have_valid) {
      fprintf(stderr, "%s %s: %s: no %s-images-idx3-ubyte[.gz] / labels-idx1-ubyte[.gz] %s\n",
              o->prog, o->cmdname, dir, !p->have_valid ? "valid- or t10k" : "train",
              is_dir ? "there" : "with that prefix");
      return 2;
    }
  }
  if (o->train_x) snprintf(p->tx, PATH_MAX, "%s", o->train_x), p->ty[0] = '\0', p->have_train = 1;
  if (o->train_y) snprintf(p->ty, PATH_MAX, "%s", o->train_y);
  if (o->valid_x) snprintf(p->vx, PATH_MAX, "%s", o->valid_x), p->vy[0] = '\0', p->have_valid = 1;
  if (o->valid_y) snprintf(p->vy, PATH_MAX, "%s", o->valid_y);
  if ((o->train_y && !o->train_x) || (o->valid_y && !o->valid_x))
    return usage_error(o, "labels given without their images");
  if ((need_train && !p->have_train) || !p->have_valid)
    return usage_error(o, "no data: give --data NAME|DIR or --%s-images/--%s-labels",
                       need_train && !p->have_train ? "train" : "valid",
                       need_train && !p->have_train ? "train" : "valid");
  return 0;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

/* Loads one data set and checks it fits the network. Exit status style: 0 ok, 2 bad. */
static int load_set(const cr_net *net, const opts *o, cr_dataset *d, const char *x,
                    const char *y) {
  cr_err e = {{0}};
  if (!ends_with(x, ".csv") && !y[0]) {
    fprintf(stderr, "%s %s: %s: labels file missing (only .csv inputs carry labels)\n", o->prog,
            o->cmdname, x);
    return 2;
  }
  if (cr_dataset_load(d, x, ends_with(x, ".csv") ? NULL : y, &e) != 0) {
    fprintf(stderr, "%s %s: %s\n", o->prog, o->cmdname, e.msg);
    return 2;
  }
  if (d->dim != (size_t)net->in) {
    fprintf(stderr, "%s %s: %s: samples have %zu values, network %s takes %d\n", o->prog,
            o->cmdname, x, d->dim, net->name, net->in);
    cr_dataset_free(d);
    return 2;
  }
  if (d->n == 0) {
    fprintf(stderr, "%s %s: %s: no samples\n", o->prog, o->cmdname, x);
    cr_dataset_free(d);
    return 2;
  }
  if (net->classifier) {
    for (size_t i = 0; i < d->n; i++) {
      if (d->y[i] >= net->out) {
        fprintf(stderr, "%s %s: %s: label %d of sample %zu is out of range for %d classes\n",
                o->prog, o->cmdname, y[0] ? y : x, d->y[i], i, net->out);
        cr_dataset_free(d);
        return 2;
      }
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ the model in memory */

typedef struct {
  const cr_net *net;
  void *params, *grads, *work, *opt;
  float *out;          /* [batch][out] */
  void *targets;       /* [batch] int32_t or float */
  float *packed;       /* [param_count]: checkpoint's "params" part */
  float norm[2];       /* mean, std applied to inputs */
  cr_rng rng;          /* init stream state after initialisation */
  int64_t progress[4]; /* epochs done, steps done, seed, batch */
  char isa[16];        /* ISA of the build that wrote the optimizer state */
} model;

static void *alloc64(size_t bytes) {
  size_t b = (bytes + 63) / 64 * 64;
  void *p = aligned_alloc(64, b ? b : 64);
  if (p) memset(p, 0, b ? b : 64);
  return p;
}

static void model_free(model *m) {
  free(m->params), free(m->grads), free(m->work), free(m->opt);
  free(m->out), free(m->targets), free(m->packed);
  memset(m, 0, sizeof *m);
}

static int model_alloc(model *m, const cr_net *net) {
  memset(m, 0, sizeof *m);
  m->net = net;
  m->params = alloc64(net->params_bytes);
  m->grads = alloc64(net->grads_bytes);
  m->work = alloc64(net->work_bytes);
  m->opt = alloc64(net->opt_bytes);
  m->out = alloc64(sizeof(float) * (size_t)net->batch * (size_t)net->out);
  m->targets = alloc64(4 * (size_t)net->batch);
  m->packed = alloc64(sizeof(float) * net->param_count);
  m->norm[0] = 0.0f, m->norm[1] = 1.0f;
  if (!m->params || !m->grads || !m->work || !m->opt || !m->out || !m->targets || !m->packed) {
    model_free(m);
    return -1;
  }
  return 0;
}

static void set_targets(const model *m, const uint8_t *y, int n) {
  if (m->net->classifier) {
    int32_t *t = m->targets;
    for (int i = 0; i < n; i++) t[i] = y[i];
  } else {
    float *t = m->targets;
    for (int i = 0; i < n; i++) t[i] = (float)y[i];
  }
}

static float *tensor_ptr(void *base, const cr_net_tensor *t) { return (float *)base + t->offset; }

#define CKPT_PARTS 6
static void ckpt_setup(const model *m, cr_ckpt_id *id, cr_ckpt_part parts[CKPT_PARTS]) {
  const cr_net *net = m->net;
  cr_shape shapes[256];
  int n = net->tensor_count < 256 ? net->tensor_count : 256;
  for (int i = 0; i < n; i++) {
    shapes[i].name = net->tensors[i].name;
    shapes[i].rows = net->tensors[i].rows;
    shapes[i].cols = net->tensors[i].cols;
  }
  id->net = net->name;
  id->param_count = net->param_count;
  id->shapes_hash = cr_shapes_hash(shapes, n);
  parts[0] = (cr_ckpt_part){"params", m->packed, sizeof(float) * net->param_count};
  parts[1] = (cr_ckpt_part){"opt", m->opt, net->opt_bytes};
  parts[2] = (cr_ckpt_part){"norm", (void *)m->norm, sizeof m->norm};
  parts[3] = (cr_ckpt_part){"rng", (void *)&m->rng, sizeof m->rng};
  parts[4] = (cr_ckpt_part){"progress", (void *)m->progress, sizeof m->progress};
  parts[5] = (cr_ckpt_part){"isa", (void *)m->isa, sizeof m->isa};
}

static int model_save(model *m, const char *path, cr_err *e) {
  size_t k = 0;
  for (int i = 0; i < m->net->tensor_count; i++) {
    const cr_net_tensor *t = &m->net->tensors[i];
    size_t cnt = (size_t)t->rows * (size_t)t->cols;
    memcpy(m->packed + k, tensor_ptr(m->params, t), cnt * sizeof(float));
    k += cnt;
  }
  cr_ckpt_id id;
  cr_ckpt_part parts[CKPT_PARTS];
  memset(m->isa, 0, sizeof m->isa);
  snprintf(m->isa, sizeof m->isa, "%s", m->net->isa);
  ckpt_setup(m, &id, parts);
  return cr_ckpt_save(path, &id, parts, CKPT_PARTS, e);
}

static int model_load(model *m, const char *path, cr_err *e) {
  cr_ckpt_id id;
  cr_ckpt_part parts[CKPT_PARTS];
  ckpt_setup(m, &id, parts);
  if (cr_ckpt_load(path, &id, parts, CKPT_PARTS, e) != 0) return -1;
  m->isa[sizeof m->isa - 1] = '\0';
  if (!(m->norm[1] > 0.0f) || !isfinite(m->norm[0]) || !isfinite(m->norm[1]))
    return cr_errf(e, "%s: checkpoint's normalisation numbers are invalid", path);
  size_t k = 0;
  for (int i = 0; i < m->net->tensor_count; i++) {
    const cr_net_tensor *t = &m->net->tensors[i];
    size_t cnt = (size_t)t->rows * (size_t)t->cols;
    memcpy(tensor_ptr(m->params, t), m->packed + k, cnt * sizeof(float));
    k += cnt;
  }
  return 0;
}

static int is_weight(const cr_net_tensor *t) { return ends_with(t->name, "weight"); }

/* Initialises every tensor from the spec's schemes (or `scheme` for weights). */
static int model_init(model *m, uint64_t seed, const char *scheme, cr_err *e) {
  cr_rng_seed(&m->rng, seed, CR_STREAM_INIT);
  for (int i = 0; i < m->net->tensor_count; i++) {
    const cr_net_tensor *t = &m->net->tensors[i];
    cr_init_spec s = {t->init, t->mode, t->nonlinearity, t->init_a, t->fan_in, t->fan_out};
    if (scheme && is_weight(t)) s.scheme = scheme;
    if (cr_init_tensor(tensor_ptr(m->params, t), (size_t)t->rows * (size_t)t->cols, &s, &m->rng,
                       e) != 0)
      return -1;
  }
  m->net->opt_init(m->opt);
  return 0;
}

/* A float for messages: "nan", "inf", "-inf" spelled the same on every libc. */
static const char *fmt_num(char buf[16], float v) {
  if (isnan(v)) return "nan";
  if (isinf(v)) return v > 0 ? "inf" : "-inf";
  snprintf(buf, 16, "%.6g", (double)v);
  return buf;
}

/* A loss for the epoch line: 4 decimals, or 4 significant digits when it is huge. */
static void fmt_loss(char buf[24], double v) {
  snprintf(buf, 24, fabs(v) < 1e5 ? "%.4f" : "%.4g", v);
}

/* "[row][col]" of a flat index into a tensor, "[col]" for a one-row tensor (a bias). */
static const char *fmt_index(char buf[48], const cr_net_tensor *t, long idx) {
  if (t->rows == 1) snprintf(buf, 48, "[%ld]", idx);
  else snprintf(buf, 48, "[%ld][%ld]", idx / t->cols, idx % t->cols);
  return buf;
}

/* Which layer holds tensor ti, for messages. */
static void describe_tensor(const cr_net *net, int ti, char *buf, size_t cap) {
  for (int l = 0; l < net->layer_count; l++) {
    const cr_net_layer *L = &net->layers[l];
    if (L->weight == ti || L->bias == ti) {
      snprintf(buf, cap, "layer %d (%s %d->%d) tensor %s", l, L->kind, L->in, L->out,
               net->tensors[ti].name);
      return;
    }
  }
  snprintf(buf, cap, "tensor %s", net->tensors[ti].name);
}

/* First non-finite value among the tensors of base (params or grads): tensor index, or -1.
 * Gradients are scanned from the last tensor back (backward=1): a NaN born in the loss
 * spreads to every earlier gradient, so the one nearest the output is the telling one. */
static int find_nonfinite_dir(const cr_net *net, void *base, int backward, long *index,
                              float *value) {
  for (int j = 0; j < net->tensor_count; j++) {
    int i = backward ? net->tensor_count - 1 - j : j;
    const cr_net_tensor *t = &net->tensors[i];
    const float *p = tensor_ptr(base, t);
    long k = cr_first_nonfinite(p, (size_t)t->rows * (size_t)t->cols);
    if (k >= 0) {
      *index = k;
      *value = p[k];
      return i;
    }
  }
  return -1;
}

static int find_nonfinite(const cr_net *net, void *base, long *index, float *value) {
  return find_nonfinite_dir(net, base, 0, index, value);
}

/* The parameter of largest magnitude (for a loss that overflowed on finite numbers). */
static int find_largest(const cr_net *net, void *base, long *index, float *value) {
  int best = 0;
  float bv = -1.0f;
  for (int i = 0; i < net->tensor_count; i++) {
    const cr_net_tensor *t = &net->tensors[i];
    const float *p = tensor_ptr(base, t);
    for (size_t k = 0; k < (size_t)t->rows * (size_t)t->cols; k++) {
      if (fabsf(p[k]) > bv) {
        bv = fabsf(p[k]);
        best = i, *index = (long)k, *value = p[k];
      }
    }
  }
  return best;
}

/* Mean loss and accuracy over a data set, in batches, in order. */
static void evaluate(const model *m, const cr_dataset *d, int batch, double *loss, double *acc) {
  const cr_net *net = m->net;
  double lsum = 0;
  long correct = 0;
  for (size_t i = 0; i < d->n; i += (size_t)batch) {
    int n = d->n - i < (size_t)batch ? (int)(d->n - i) : batch;
    const float *x = d->x + i * d->dim;
    net->forward(m->out, m->work, m->params, x, n);
    set_targets(m, d->y + i, n);
    lsum += (double)net->loss(m->out, m->targets, n) * n;
    if (net->correct) {
      correct += net->correct(m->out, m->targets, n);
    } else {
      /* regressor on integer labels: a row counts as right when the rounded output is */
      const float *t = m->targets;
      for (int r = 0; r < n; r++) correct += lrintf(m->out[r]) == lrintf(t[r]);
    }
  }
  *loss = lsum / (double)d->n;
  *acc = (double)correct / (double)d->n;
}

static void apply_norm(const model *m, cr_dataset *d) {
  cr_norm nm;
  memset(&nm, 0, sizeof nm);
  nm.per_feature = 0;
  nm.dim = d->dim;
  nm.mean = m->norm[0];
  nm.std = m->norm[1];
  cr_norm_apply_rows(&nm, d->x, d->n, d->dim);
}

/* ------------------------------------------------------------------ train */

static int cmd_train(const cr_net *net, opts *o) {
  datapaths dp;
  int rc = resolve_data(o, &dp, 1);
  if (rc) return rc;
  if (o->batch_set && o->batch > net->batch)
    return usage_error(o, "option '--batch' %ld is larger than the spec's batch %d", o->batch,
                       net->batch);
  if (o->plot && !o->metrics)
    return usage_error(o, "option '--plot' needs --metrics (the plot is drawn from the CSV)");
  if (o->init) {
    cr_init_spec s = {o->init, NULL, NULL, 0.0f, 1, 1};
    float probe;
    cr_rng r;
    cr_rng_seed(&r, 0, 0);
    cr_err e = {{0}};
    if (cr_init_tensor(&probe, 1, &s, &r, &e) != 0)
      return usage_error(o, "option '--init': unknown scheme '%s'", o->init);
  }
  model m;
  if (model_alloc(&m, net) != 0) {
    fprintf(stderr, "%s train: out of memory\n", o->prog);
    return 1;
  }
  cr_dataset tr, va;
  memset(&tr, 0, sizeof tr);
  memset(&va, 0, sizeof va);
  cr_batcher b;
  memset(&b, 0, sizeof b);
  cr_err e = {{0}};
  cr_metrics_row *rows = NULL;
  int nrows = 0;
  rc = 2;
  if (load_set(net, o, &tr, dp.tx, dp.ty) || load_set(net, o, &va, dp.vx, dp.vy)) goto out;

  long start_epoch = 0, steps = 0;
  uint64_t seed = o->seed_set ? o->seed : 1;
  int batch = net->batch;
  if (o->resume) {
    if (model_load(&m, o->resume, &e) != 0) {
      fprintf(stderr, "%s train: %s\n", o->prog, e.msg);
      goto out;
    }
    /* The weights are portable; NAME_opt's state buffers have a layout private to the
       build (ISA) that wrote them, so only that build may continue the optimizer. */
    if (strcmp(m.isa, net->isa) != 0) {
      fprintf(stderr, "%s train: %s: checkpoint's optimizer state was written by the %s build, "
              "this is the %s build (resume with that one; eval/predict/export work with any)\n",
              o->prog, o->resume, m.isa, net->isa);
      goto out;
    }
    start_epoch = m.progress[0];
    steps = m.progress[1];
    seed = (uint64_t)m.progress[2];
    batch = (int)m.progress[3];
    if (o->seed_set && o->seed != seed)
      fprintf(stderr, "%s train: note: --seed ignored, resuming with the checkpoint's seed %llu\n",
              o->prog, (unsigned long long)seed);
  } else {
    if (model_init(&m, seed, o->init, &e) != 0) {
      fprintf(stderr, "%s train: %s\n", o->prog, e.msg);
      goto out;
    }
    if (!o->no_norm) {
      cr_norm nm;
      if (cr_norm_fit(&nm, &tr, 0, &e) != 0) {
        fprintf(stderr, "%s train: %s\n", o->prog, e.msg);
        goto out;
      }
      m.norm[0] = nm.mean, m.norm[1] = nm.std;
      cr_norm_free(&nm);
    }
  }
  if (o->batch_set) batch = (int)o->batch;
  if (batch < 1 || batch > net->batch) {
    fprintf(stderr, "%s train: batch %d out of range 1..%d\n", o->prog, batch, net->batch);
    goto out;
  }
  if (o->lr_set) *net->opt_lr(m.opt) = (float)o->lr;
  long epochs = o->epochs ? o->epochs : 5;
  const char *ckpt = o->checkpoint ? o->checkpoint : o->resume;
  apply_norm(&m, &tr);
  apply_norm(&m, &va);
  if (cr_batcher_init(&b, &tr, batch, 1, 0, seed, &e) != 0) {
    fprintf(stderr, "%s train: %s\n", o->prog, e.msg);
    goto out;
  }
  rows = calloc((size_t)epochs + 1, sizeof *rows);
  if (!rows) goto out;
  if (o->metrics && o->resume &&
      cr_metrics_read(o->metrics, (int)start_epoch + 1, rows, (int)epochs, &nrows, &e) != 0) {
    fprintf(stderr, "%s train: %s\n", o->prog, e.msg);
    goto out;
  }
  int tty = o->progress || isatty(STDOUT_FILENO);
  printf("%s: %zu train / %zu valid samples, batch %d, lr %g, seed %llu, normalisation "
         "mean %.4f std %.4f%s\n",
         net->name, tr.n, va.n, batch, (double)*net->opt_lr(m.opt), (unsigned long long)seed,
         (double)m.norm[0], (double)m.norm[1],
         o->resume ? " (resumed)" : "");
  if (start_epoch >= epochs)
    printf("checkpoint already has %ld epochs (--epochs %ld): nothing to train\n", start_epoch,
           epochs);
  double total_train_s = 0;
  long total_samples = 0;
  long last_good_epoch = start_epoch;
  double vloss = NAN, vacc = NAN;
  rc = 0;
  cr_batcher_set_epoch(&b, (uint64_t)start_epoch);
  for (long ep = start_epoch; ep < epochs; ep++) {
    cr_progress pr;
    cr_progress_start(&pr, stdout, tty, (int)ep + 1, (int)epochs, (long)tr.n);
    double t0 = cr_now(), lsum = 0;
    long seen = 0;
    const float *x;
    const uint8_t *y;
    int n;
    while (cr_batcher_next(&b, &x, &y, &n)) {
      set_targets(&m, y, n);
      float loss = net->train_step(m.params, m.opt, m.grads, m.work, x, m.targets, n);
      steps++;
      long idx = -1;
      float val = 0;
      int bad = find_nonfinite_dir(net, m.grads, 1, &idx, &val);
      if (!isfinite(loss) || bad >= 0) {
        cr_progress_end(&pr);
        char where[160], kept[PATH_MAX + 64];
        char lv[16], gv[16];
        if (bad >= 0) {
          describe_tensor(net, bad, where, sizeof where);
          char at[48];
          fprintf(stderr, "%s train: non-finite values at step %ld (epoch %ld): loss %s, gradient "
                  "of %s%s = %s; ", o->prog, steps, ep + 1, fmt_num(lv, loss), where,
                  fmt_index(at, &net->tensors[bad], idx), fmt_num(gv, val));
        } else {
          /* the loss overflowed on finite numbers: point at the weights that diverged */
          int big = find_nonfinite(net, m.params, &idx, &val);
          if (big < 0) big = find_largest(net, m.params, &idx, &val);
          describe_tensor(net, big, where, sizeof where);
          char at[48];
          fprintf(stderr, "%s train: non-finite values at step %ld (epoch %ld): loss %s, gradients "
                  "finite, largest parameter %s%s = %s; ", o->prog, steps, ep + 1,
                  fmt_num(lv, loss), where, fmt_index(at, &net->tensors[big], idx), fmt_num(gv, val));
        }
        if (ckpt && last_good_epoch > 0)
          snprintf(kept, sizeof kept, "last good checkpoint kept: %s (epoch %ld)", ckpt,
                   last_good_epoch);
        else
          snprintf(kept, sizeof kept, "no checkpoint written%s", ckpt ? " yet" : "");
        fprintf(stderr, "training stopped, %s\n", kept);
        rc = 1;
        goto finish;
      }
      lsum += (double)loss * n;
      seen += n;
      cr_progress_update(&pr, seen, lsum / (double)seen);
    }
    double train_s = cr_now() - t0;
    cr_progress_end(&pr);
    total_train_s += train_s;
    total_samples += seen;
    evaluate(&m, &va, net->batch, &vloss, &vacc);
    double secs = cr_now() - t0;
    cr_metrics_row r = {(int)ep + 1, seen ? lsum / (double)seen : NAN, vloss,
                        net->classifier ? vacc : NAN, secs};
    if (nrows < (int)epochs + 1) rows[nrows++] = r;
    char tl[24], vl[24];
    fmt_loss(tl, r.train_loss), fmt_loss(vl, vloss);
    if (net->classifier)
      printf("epoch %ld/%ld  train_loss %s  valid_loss %s  valid_acc %.4f  %.2fs  %.0f samples/s\n",
             ep + 1, epochs, tl, vl, vacc, secs, seen / (train_s > 0 ? train_s : 1e-9));
    else
      printf("epoch %ld/%ld  train_loss %s  valid_loss %s  (rounded-output acc %.4f)  %.2fs  "
             "%.0f samples/s\n", ep + 1, epochs, tl, vl, vacc, secs,
             seen / (train_s > 0 ? train_s : 1e-9));
    fflush(stdout);
    if (ckpt) {
      long idx;
      float val;
      int bad = find_nonfinite(net, m.params, &idx, &val);
      if (bad >= 0) {
        char where[160];
        describe_tensor(net, bad, where, sizeof where);
        char pv[16], at[48];
        fprintf(stderr, "%s train: parameter %s%s = %s after epoch %ld; checkpoint %s "
                "not overwritten\n", o->prog, where, fmt_index(at, &net->tensors[bad], idx),
                fmt_num(pv, val), ep + 1, ckpt);
        rc = 1;
        goto finish;
      }
      m.progress[0] = ep + 1, m.progress[1] = steps, m.progress[2] = (int64_t)seed,
      m.progress[3] = batch;
      if (model_save(&m, ckpt, &e) != 0) {
        fprintf(stderr, "%s train: %s\n", o->prog, e.msg);
        rc = 1;
        goto finish;
      }
      last_good_epoch = ep + 1;
    }
    if (o->metrics && cr_metrics_write(o->metrics, rows, nrows, &e) != 0) {
      fprintf(stderr, "%s train: %s\n", o->prog, e.msg);
      rc = 1;
      goto finish;
    }
  }
  if (total_samples > 0)
    printf("done: %ld samples in %.2fs of training (%.0f samples/s); valid_loss %.4g%s",
           total_samples, total_train_s, total_samples / (total_train_s > 0 ? total_train_s : 1e-9),
           vloss, net->classifier ? "" : "\n");
  if (total_samples > 0 && net->classifier) printf("  valid_acc %.4f\n", vacc);
finish:
  if (o->metrics && nrows > 0) {
    if (rc == 0 && o->metrics) printf("metrics: %s\n", o->metrics);
    if (o->plot) {
      int prc = cr_plot_png(o->plot, o->metrics, net->classifier, &e);
      if (prc == 0) printf("plot: %s\n", o->plot);
      else if (prc == 1) printf("plot: skipped (gnuplot is not installed; scripts/deps.sh installs it)\n");
      else fprintf(stderr, "%s train: %s\n", o->prog, e.msg);
    }
  }
  if (rc == 0 && ckpt && last_good_epoch > 0) printf("checkpoint: %s (epoch %ld)\n", ckpt, last_good_epoch);
out:
  free(rows);
  cr_batcher_free(&b);
  cr_dataset_free(&tr);
  cr_dataset_free(&va);
  model_free(&m);
  return rc;
}

/* ------------------------------------------------------------------ eval, predict */

static int need_checkpoint(const opts *o) {
  if (o->checkpoint) return 0;
  return usage_error(o, "needs --checkpoint FILE");
}

static int load_model_or_fail(model *m, const cr_net *net, const opts *o) {
  if (model_alloc(m, net) != 0) {
    fprintf(stderr, "%s %s: out of memory\n", o->prog, o->cmdname);
    return 1;
  }
  cr_err e = {{0}};
  if (model_load(m, o->checkpoint, &e) != 0) {
    fprintf(stderr, "%s %s: %s\n", o->prog, o->cmdname, e.msg);
    model_free(m);
    return 2;
  }
  return 0;
}

static int cmd_eval(const cr_net *net, opts *o) {
  int rc = need_checkpoint(o);
  if (rc) return rc;
  datapaths dp;
  if ((rc = resolve_data(o, &dp, 0))) return rc;
  if (o->batch_set && o->batch > net->batch)
    return usage_error(o, "option '--batch' %ld is larger than the spec's batch %d", o->batch,
                       net->batch);
  model m;
  if ((rc = load_model_or_fail(&m, net, o))) return rc;
  cr_dataset va;
  memset(&va, 0, sizeof va);
  if ((rc = load_set(net, o, &va, dp.vx, dp.vy))) {
    model_free(&m);
    return rc;
  }
  apply_norm(&m, &va);
  double loss, acc;
  evaluate(&m, &va, o->batch_set ? (int)o->batch : net->batch, &loss, &acc);
  printf("%s: %zu samples  loss %.6f  %s %.4f\n", dp.vx, va.n, loss,
         net->classifier ? "accuracy" : "rounded-output accuracy", acc);
  cr_dataset_free(&va);
  model_free(&m);
  return 0;
}

/* Inputs for predict: .npy (float32 as given, uint8 / 255) or IDX images without labels. */
static int load_inputs(const cr_net *net, const opts *o, float **xs, size_t *n) {
  cr_err e = {{0}};
  *xs = NULL;
  *n = 0;
  if (ends_with(o->input, ".npy")) {
    cr_npy a;
    if (cr_npy_load(&a, o->input, &e) != 0) {
      fprintf(stderr, "%s predict: %s\n", o->prog, e.msg);
      return 2;
    }
    size_t per = 1;
    for (int i = 1; i < a.ndim; i++) per *= a.shape[i];
    if (a.ndim < 1 || per != (size_t)net->in) {
      fprintf(stderr, "%s predict: %s: rows of %zu values, network %s takes %d\n", o->prog,
              o->input, a.ndim < 1 ? (size_t)0 : per, net->name, net->in);
      cr_npy_free(&a);
      return 2;
    }
    *n = a.shape[0];
    float *x = malloc(sizeof(float) * (a.count ? a.count : 1));
    if (!x) {
      cr_npy_free(&a);
      return 1;
    }
    for (size_t i = 0; i < a.count; i++)
      x[i] = a.dtype == CR_F32 ? ((float *)a.data)[i] : ((uint8_t *)a.data)[i] / 255.0f;
    cr_npy_free(&a);
    *xs = x;
    return 0;
  }
  /* IDX images: the loader wants labels, so hand it an all-zero label file of the same n. */
  uint8_t *buf = NULL;
  size_t len = 0;
  if (cr_read_file(o->input, &buf, &len, 0, &e) != 0) {
    fprintf(stderr, "%s predict: %s\n", o->prog, e.msg);
    return 2;
  }
  size_t cnt = len >= 8 ? ((size_t)buf[4] << 24 | (size_t)buf[5] << 16 | (size_t)buf[6] << 8 | buf[7]) : 0;
  if (cnt > len) cnt = len; /* a lying header is caught by the image parser; never over-allocate */
  uint8_t *lab = calloc(8 + cnt, 1);
  if (!lab) {
    free(buf);
    return 1;
  }
  lab[2] = 8, lab[3] = 1;
  memcpy(lab + 4, buf + 4, len >= 8 ? 4 : 0);
  cr_dataset d;
  int lrc = cr_idx_load_mem(&d, buf, len, o->input, lab, 8 + cnt, "(no labels)", &e);
  free(buf);
  free(lab);
  if (lrc != 0) {
    fprintf(stderr, "%s predict: %s\n", o->prog, e.msg);
    return 2;
  }
  if (d.dim != (size_t)net->in) {
    fprintf(stderr, "%s predict: %s: images of %zu pixels, network %s takes %d\n", o->prog,
            o->input, d.dim, net->name, net->in);
    cr_dataset_free(&d);
    return 2;
  }
  *n = d.n;
  *xs = d.x;
  free(d.y);
  return 0;
}

static int cmd_predict(const cr_net *net, opts *o) {
  int rc = need_checkpoint(o);
  if (rc) return rc;
  if (!o->input) return usage_error(o, "needs --input FILE (IDX images or .npy)");
  model m;
  if ((rc = load_model_or_fail(&m, net, o))) return rc;
  float *x;
  size_t n;
  if ((rc = load_inputs(net, o, &x, &n))) {
    model_free(&m);
    return rc;
  }
  cr_dataset d = {n, (size_t)net->in, 1, net->in, x, NULL};
  apply_norm(&m, &d);
  size_t cap = n * 16 + 1, len = 0;
  char *text = malloc(cap);
  if (!text) {
    free(x);
    model_free(&m);
    return 1;
  }
  for (size_t i = 0; i < n; i += (size_t)net->batch) {
    int k = n - i < (size_t)net->batch ? (int)(n - i) : net->batch;
    net->forward(m.out, m.work, m.params, x + i * (size_t)net->in, k);
    for (int r = 0; r < k; r++) {
      const float *row = m.out + (size_t)r * (size_t)net->out;
      if (net->classifier) {
        int best = 0;
        for (int j = 1; j < net->out; j++)
          if (row[j] > row[best]) best = j;
        len += (size_t)snprintf(text + len, cap - len, "%d\n", best);
      } else {
        len += (size_t)snprintf(text + len, cap - len, "%.6g\n", (double)row[0]);
      }
    }
  }
  cr_err e = {{0}};
  rc = 0;
  if (o->output) {
    if (cr_write_file(o->output, text, len, 0, &e) != 0) {
      fprintf(stderr, "%s predict: %s\n", o->prog, e.msg);
      rc = 1;
    }
  } else {
    fwrite(text, 1, len, stdout);
  }
  free(text);
  free(x);
  model_free(&m);
  return rc;
}

/* ------------------------------------------------------------------ export, import */

/* PyTorch nn.Linear shapes: weight [out][in] = [cols][rows] of ours; bias [out]. */
static int torch_shape(const cr_net_tensor *t, size_t shape[2]) {
  if (t->rows == 1 && ends_with(t->name, "bias")) {
    shape[0] = (size_t)t->cols;
    return 1;
  }
  shape[0] = (size_t)t->cols, shape[1] = (size_t)t->rows;
  return 2;
}

static int cmd_export(const cr_net *net, opts *o) {
  int rc = need_checkpoint(o);
  if (rc) return rc;
  if (!o->dir) return usage_error(o, "needs a directory: export DIR --checkpoint FILE");
  model m;
  if ((rc = load_model_or_fail(&m, net, o))) return rc;
  if (mkdir(o->dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "%s export: %s: cannot create directory: %s\n", o->prog, o->dir, strerror(errno));
    model_free(&m);
    return 1;
  }
  cr_err e = {{0}};
  char path[PATH_MAX];
  rc = 0;
  for (int i = 0; i < net->tensor_count && !rc; i++) {
    const cr_net_tensor *t = &net->tensors[i];
    size_t shape[2] = {0, 0};
    int nd = torch_shape(t, shape);
    net->export_tensor(m.packed, m.params, i);
    snprintf(path, sizeof path, "%s/%s.npy", o->dir, t->name);
    if (cr_npy_save(path, CR_F32, m.packed, nd, shape, &e) != 0) rc = 1;
  }
  if (!rc) {
    cr_norm nm;
    memset(&nm, 0, sizeof nm);
    nm.mean = m.norm[0], nm.std = m.norm[1];
    snprintf(path, sizeof path, "%s/norm.npy", o->dir);
    if (cr_norm_save(&nm, path, &e) != 0) rc = 1;
  }
  if (rc) fprintf(stderr, "%s export: %s\n", o->prog, e.msg);
  else printf("exported %d tensors and norm.npy to %s\n", net->tensor_count, o->dir);
  model_free(&m);
  return rc;
}

static int cmd_import(const cr_net *net, opts *o) {
  int rc = need_checkpoint(o);
  if (rc) return rc;
  if (!o->dir) return usage_error(o, "needs a directory: import DIR --checkpoint FILE");
  model m;
  if (model_alloc(&m, net) != 0) return 1;
  cr_err e = {{0}};
  char path[PATH_MAX];
  rc = 0;
  cr_rng_seed(&m.rng, o->seed_set ? o->seed : 1, CR_STREAM_INIT);
  net->opt_init(m.opt);
  for (int i = 0; i < net->tensor_count && !rc; i++) {
    const cr_net_tensor *t = &net->tensors[i];
    size_t shape[2] = {0, 0};
    int nd = torch_shape(t, shape);
    snprintf(path, sizeof path, "%s/%s.npy", o->dir, t->name);
    cr_npy a;
    if (cr_npy_load(&a, path, &e) != 0) {
      fprintf(stderr, "%s import: %s\n", o->prog, e.msg);
      rc = 2;
      break;
    }
    int ok = a.dtype == CR_F32 && a.ndim == nd && a.shape[0] == shape[0] &&
             (nd == 1 || a.shape[1] == shape[1]);
    if (!ok) {
      if (nd == 2)
        fprintf(stderr, "%s import: %s: expected float32 of shape (%zu, %zu) (nn.Linear [out][in])\n",
                o->prog, path, shape[0], shape[1]);
      else
        fprintf(stderr, "%s import: %s: expected float32 of shape (%zu,)\n", o->prog, path, shape[0]);
      rc = 2;
    } else if (cr_first_nonfinite(a.data, a.count) >= 0) {
      fprintf(stderr, "%s import: %s: holds NaN or Inf\n", o->prog, path);
      rc = 2;
    } else {
      net->import_tensor(m.params, i, a.data);
    }
    cr_npy_free(&a);
  }
  snprintf(path, sizeof path, "%s/norm.npy", o->dir);
  if (!rc && file_exists(path)) {
    cr_norm nm;
    if (cr_norm_load(&nm, path, &e) != 0) {
      fprintf(stderr, "%s import: %s\n", o->prog, e.msg);
      rc = 2;
    } else if (nm.per_feature) {
      fprintf(stderr, "%s import: %s: per-feature normalisation is not supported here\n", o->prog,
              path);
      cr_norm_free(&nm);
      rc = 2;
    } else {
      m.norm[0] = nm.mean, m.norm[1] = nm.std;
      cr_norm_free(&nm);
    }
  } else if (!rc) {
    printf("note: %s not found: inputs will not be normalised\n", path);
  }
  if (!rc) {
    m.progress[0] = 0, m.progress[1] = 0, m.progress[2] = (int64_t)(o->seed_set ? o->seed : 1);
    m.progress[3] = net->batch;
    if (model_save(&m, o->checkpoint, &e) != 0) {
      fprintf(stderr, "%s import: %s\n", o->prog, e.msg);
      rc = 1;
    } else {
      printf("imported %d tensors from %s into %s\n", net->tensor_count, o->dir, o->checkpoint);
    }
  }
  model_free(&m);
  return rc;
}

/* ------------------------------------------------------------------ init report */

static const struct {
  const char *label, *scheme, *mode;
} report_schemes[] = {
    {"randn", "randn", NULL},
    {"simple_kaiming", "simple_kaiming", NULL},
    {"xavier (glorot)", "xavier_normal", NULL},
    {"kaiming fan_in", "kaiming_normal", "fan_in"},
    {"kaiming fan_out", "kaiming_normal", "fan_out"},
};

static int cmd_report(const cr_net *net, opts *o) {
  datapaths dp;
  int rc = resolve_data(o, &dp, !o->no_norm);
  if (rc) return rc;
  cr_dataset tr, va;
  memset(&tr, 0, sizeof tr);
  memset(&va, 0, sizeof va);
  if ((!o->no_norm && (rc = load_set(net, o, &tr, dp.tx, dp.ty))) ||
      (rc = load_set(net, o, &va, dp.vx, dp.vy))) {
    cr_dataset_free(&tr);
    return rc;
  }
  cr_err e = {{0}};
  float mean = 0, std = 1;
  if (!o->no_norm) {
    cr_norm nm;
    if (cr_norm_fit(&nm, &tr, 0, &e) != 0) {
      fprintf(stderr, "%s init-report: %s\n", o->prog, e.msg);
      cr_dataset_free(&tr), cr_dataset_free(&va);
      return 2;
    }
    mean = nm.mean, std = nm.std;
    cr_norm_apply_rows(&nm, va.x, va.n, va.dim);
    cr_norm_free(&nm);
  }
  int rows = (int)(o->rows ? (size_t)o->rows : 1000);
  if ((size_t)rows > va.n) rows = (int)va.n;
  uint64_t seed = o->seed_set ? o->seed : 1;
  int maxw = net->in;
  for (int l = 0; l < net->layer_count; l++)
    if (net->layers[l].out > maxw) maxw = net->layers[l].out;
  float *a = malloc(sizeof(float) * (size_t)rows * (size_t)maxw);
  float *b = malloc(sizeof(float) * (size_t)rows * (size_t)maxw);
  float *params = malloc(net->params_bytes);
  if (!a || !b || !params) {
    free(a), free(b), free(params), cr_dataset_free(&tr), cr_dataset_free(&va);
    return 1;
  }
  printf("init report for %s on %d validation rows of %s (inputs %s: mean %.4f std %.4f)\n",
         net->name, rows, dp.vx, o->no_norm ? "raw" : "normalised with the training set's",
         (double)mean, (double)std);
  printf("weights drawn with each scheme (kaiming: PyTorch's default gain sqrt 2), biases zero, "
         "seed %llu\n\n", (unsigned long long)seed);
  printf("%-17s %-26s %10s %10s\n", "scheme", "after layer", "mean", "std");
  rc = 0;
  for (size_t s = 0; s < sizeof report_schemes / sizeof report_schemes[0] && !rc; s++) {
    cr_rng r;
    cr_rng_seed(&r, seed, CR_STREAM_INIT);
    memset(params, 0, net->params_bytes);
    for (int i = 0; i < net->tensor_count; i++) {
      const cr_net_tensor *t = &net->tensors[i];
      if (!is_weight(t)) continue;
      cr_init_spec sp = {report_schemes[s].scheme, report_schemes[s].mode, NULL, 0.0f,
                         t->fan_in, t->fan_out};
      if (cr_init_tensor(tensor_ptr(params, t), (size_t)t->rows * (size_t)t->cols, &sp, &r, &e)) {
        fprintf(stderr, "%s init-report: %s\n", o->prog, e.msg);
        rc = 1;
        break;
      }
    }
    memcpy(a, va.x, sizeof(float) * (size_t)rows * va.dim);
    int width = net->in;
    for (int l = 0; l < net->layer_count && !rc; l++) {
      const cr_net_layer *L = &net->layers[l];
      char what[64];
      if (!strcmp(L->kind, "linear")) {
        const float *w = tensor_ptr(params, &net->tensors[L->weight]);
        const float *bias = L->bias >= 0 ? tensor_ptr(params, &net->tensors[L->bias]) : NULL;
        cr_naive_linear(b, a, w, bias, rows, L->in, L->out);
        width = L->out;
        snprintf(what, sizeof what, "%d linear %d->%d", l, L->in, L->out);
      } else if (!strcmp(L->kind, "relu")) {
        for (size_t k = 0; k < (size_t)rows * (size_t)width; k++)
          b[k] = (a[k] > 0.0f ? a[k] : 0.0f) + L->shift;
        if (L->shift != 0.0f) snprintf(what, sizeof what, "%d relu (shift %g)", l, (double)L->shift);
        else snprintf(what, sizeof what, "%d relu", l);
      } else {
        memcpy(b, a, sizeof(float) * (size_t)rows * (size_t)width);
        snprintf(what, sizeof what, "%d %s (not modelled)", l, L->kind);
      }
      double mu, sd;
      cr_mean_std(b, (size_t)rows * (size_t)width, &mu, &sd);
      printf("%-17s %-26s %10.4g %10.4g\n", l == 0 ? report_schemes[s].label : "", what, mu, sd);
      float *tmp = a;
      a = b, b = tmp;
    }
  }
  free(a), free(b), free(params);
  cr_dataset_free(&tr), cr_dataset_free(&va);
  if (rc) return rc;
  printf("\n");
  if (cr_deep_stack_report(stdout, seed, &e) != 0) {
    fprintf(stderr, "%s init-report: %s\n", o->prog, e.msg);
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------ main */

int cr_trainer_main(const cr_net *net, int argc, char **argv) {
  opts o;
  memset(&o, 0, sizeof o);
  o.progress = 0;
  const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
  o.prog = argc > 0 ? (slash ? slash + 1 : argv[0]) : net->name;
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
      !strcmp(argv[1], "help")) {
    if (argc < 2) {
      fprintf(stderr, "%s: missing command (try --help)\n", o.prog);
      return 2;
    }
    print_help(net, &o, 0);
    return 0;
  }
  int first = 2;
  if (!strcmp(argv[1], "--init-report")) {
    o.cmd = CMD_REPORT, o.cmdname = "init-report";
  } else {
    for (size_t i = 0; i < NCMDS; i++)
      if (!strcmp(argv[1], cmds[i].name)) o.cmd = cmds[i].cmd, o.cmdname = cmds[i].name;
  }
  if (!o.cmd) {
    fprintf(stderr, "%s: unknown command '%s' (try --help)\n", o.prog, argv[1]);
    return 2;
  }
  int prc = parse_args(net, &o, argc - first, argv + first);
  if (prc == 1) return 0;
  if (prc) return prc;
  switch (o.cmd) {
    case CMD_TRAIN: return cmd_train(net, &o);
    case CMD_EVAL: return cmd_eval(net, &o);
    case CMD_PREDICT: return cmd_predict(net, &o);
    case CMD_EXPORT: return cmd_export(net, &o);
    case CMD_IMPORT: return cmd_import(net, &o);
    default: return cmd_report(net, &o);
  }
}
