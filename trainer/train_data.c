/* train_data.c — which files --data and the --train-/--valid-/--input options name, and
 * loading them through the runtime (cr_dataset_load, cr_inputs_load) with the checks that
 * a data set fits the network. */
#define _POSIX_C_SOURCE 200809L
#include "train_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tr_file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int dir_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A path's identity: the file's device and inode, or (a file not there yet) its directory's
 * and its name. 0, or -1 when its directory does not exist either. */
typedef struct {
  dev_t dev;
  ino_t ino;
  const char *name;   /* "" for an existing file */
} file_id;

/* The directory part of path into dir ("." when it has none). */
static void dir_of(char *dir, size_t cap, const char *path, const char **name) {
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(dir, cap, "."), *name = path;
  else if (slash == path) snprintf(dir, cap, "/"), *name = slash + 1;
  else snprintf(dir, cap, "%.*s", (int)(slash - path), path), *name = slash + 1;
}

static int identify(const char *path, file_id *id) {
  struct stat st;
  char dir[PATH_MAX];
  if (stat(path, &st) == 0) {
    id->dev = st.st_dev, id->ino = st.st_ino, id->name = "";
    return 0;
  }
  dir_of(dir, sizeof dir, path, &id->name);
  if (stat(dir, &st) != 0) return -1;
  id->dev = st.st_dev, id->ino = st.st_ino;
  return 0;
}

static int same_id(const file_id *a, const file_id *b) {
  return a->dev == b->dev && a->ino == b->ino && !strcmp(a->name, b->name);
}

int tr_check_outputs(const opts *o, const tr_file *outs, int nouts, const tr_file *ins, int nins) {
  for (int i = 0; i < nouts; i++) {
    const tr_file *f = &outs[i];
    if (!f->path) continue;
    /* "option '--metrics' PATH", or a file no option names ("the tensor file PATH") */
    char label[PATH_MAX + 64];
    snprintf(label, sizeof label, strncmp(f->what, "--", 2) ? "%s %s" : "option '%s' %s", f->what, f->path);
    char dir[PATH_MAX];
    const char *name;
    struct stat st;
    dir_of(dir, sizeof dir, f->path, &name);
    int exists = stat(f->path, &st) == 0;
    if (!*name || (exists && S_ISDIR(st.st_mode)))
      return tr_usage(o, "%s: a directory, not a file", label);
    /* a file is replaced through a temporary beside it (cr_write_file): its directory must
       take one; a stream or device is written in place, a symbolic link's target elsewhere */
    struct stat ls;
    int link = lstat(f->path, &ls) == 0 && S_ISLNK(ls.st_mode);
    if (link && !exists)   /* as the writer (runtime/cr_out.c) would say after the training */
      return tr_usage(o, "%s: a symbolic link to a missing file (not followed)", label);
    int direct = (exists && !S_ISREG(st.st_mode)) || link;
    if (!direct && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
      return tr_usage(o, "%s: no directory %s", label, dir);
    if (!direct && access(dir, W_OK | X_OK) != 0)
      return tr_usage(o, "%s: directory %s is not writable", label, dir);
    file_id a, b;
    if (identify(f->path, &a) != 0) continue;
    for (int k = 0; k < nins + i; k++) {
      const tr_file *g = k < nins ? &ins[k] : &outs[k - nins];
      if (!g->path || !*g->path || (k < nins && f->may_be == k + 1) || identify(g->path, &b) != 0 ||
          !same_id(&a, &b))
        continue;
      return tr_usage(o, "%s: the same file as %s%s%s", label, g->what,
                      strcmp(g->path, f->path) ? " " : "", strcmp(g->path, f->path) ? g->path : "");
    }
  }
  return 0;
}

/* BASE/SPLIT-KIND-ubyte (base a directory) or BASESPLIT-KIND-ubyte (base a path prefix),
 * plain or .gz; out holds the found path. */
static int find_idx(char *out, size_t cap, const char *base, int is_dir, const char *split,
                    const char *kind) {
  const char *sfx[2] = {"", ".gz"};
  for (int s = 0; s < 2; s++) {
    snprintf(out, cap, "%s%s%s-%s-ubyte%s", base, is_dir ? "/" : "", split, kind, sfx[s]);
    if (tr_file_exists(out)) return 1;
  }
  return 0;
}

/* The directory (or prefix) a --data NAME stands for. */
static const char *data_dir(const char *name) {
  if (!strcmp(name, "mnist")) return "data/mnist";
  /* scripts/fetch-data.sh --fashion links Debian's files here; else use them in place */
  if (!strcmp(name, "fashion"))
    return dir_exists("data/fashion-mnist") ? "data/fashion-mnist"
                                            : "/usr/share/datasets/fashion-mnist";
  if (!strcmp(name, "tiny")) return "build/tiny";
  return name;
}

static int find_pair(char *x, char *y, const char *dir, int is_dir, const char *split) {
  return find_idx(x, PATH_MAX, dir, is_dir, split, "images-idx3") &&
         find_idx(y, PATH_MAX, dir, is_dir, split, "labels-idx1");
}

/* The IDX files of --data: train-, and valid- or t10k-. 0 ok, 2 bad (printed). */
static int resolve_data_dir(const opts *o, datapaths *p, int need_train) {
  const char *dir = data_dir(o->data);
  int is_dir = dir_exists(dir);
  char probe[PATH_MAX];
  if (!is_dir && !find_idx(probe, PATH_MAX, dir, 0, "train", "images-idx3") &&
      !find_idx(probe, PATH_MAX, dir, 0, "valid", "images-idx3") &&
      !find_idx(probe, PATH_MAX, dir, 0, "t10k", "images-idx3")) {
    const char *hint = !strcmp(o->data, "mnist")     ? " (run scripts/fetch-data.sh)"
                       : !strcmp(o->data, "fashion") ? " (run scripts/deps.sh --data)"
                       : !strcmp(o->data, "tiny")    ? " (run make tiny-data)"
                                                     : "";
    return tr_fail(o, 2, "%s: no such data directory (or file prefix)%s", dir, hint);
  }
  p->have_train = find_pair(p->tx, p->ty, dir, is_dir, "train");
  p->have_valid = find_pair(p->vx, p->vy, dir, is_dir, "valid") ||
                  find_pair(p->vx, p->vy, dir, is_dir, "t10k");
  if ((need_train && !p->have_train) || !p->have_valid)
    return tr_fail(o, 2, "%s: no %s-images-idx3-ubyte[.gz] / labels-idx1-ubyte[.gz] %s", dir,
                   !p->have_valid ? "valid- or t10k" : "train",
                   is_dir ? "there" : "with that prefix");
  return 0;
}

int tr_resolve_data(const opts *o, datapaths *p, int need_train) {
  memset(p, 0, sizeof *p);
  int rc;
  if (o->data && (rc = resolve_data_dir(o, p, need_train))) return rc;
  if (o->train_x) snprintf(p->tx, PATH_MAX, "%s", o->train_x), p->ty[0] = '\0', p->have_train = 1;
  if (o->train_y) snprintf(p->ty, PATH_MAX, "%s", o->train_y);
  if (o->valid_x) snprintf(p->vx, PATH_MAX, "%s", o->valid_x), p->vy[0] = '\0', p->have_valid = 1;
  if (o->valid_y) snprintf(p->vy, PATH_MAX, "%s", o->valid_y);
  if ((o->train_y && !o->train_x) || (o->valid_y && !o->valid_x))
    return tr_usage(o, "labels given without their images");
  const char *which = need_train && !p->have_train ? "train" : "valid";
  if ((need_train && !p->have_train) || !p->have_valid)
    return tr_usage(o, "no data: give --data NAME|DIR or --%s-images/--%s-labels", which, which);
  return 0;
}

/* An image network's input against the samples' own shape (IDX [n][rows][cols], .npy
 * [n][a][b] or [n][C][H][W]; rows 1 when the file gives none): the values match in count
 * but not in layout, e.g. 14x56 images for a 1x28x28 network. H×W with one channel or
 * C×(H·W) pass; a 4-D file's C×H×W must be the network's. */
static int wrong_layout(const cr_net *net, const cr_dataset *d) {
  const int *s = net->in_shape;
  if (!s[0]) return 0;
  if (d->chans) return !(d->chans == s[0] && d->rows == s[1] && d->cols == s[2]);
  if (d->rows <= 1) return 0;
  return !(s[0] == 1 && d->rows == s[1] && d->cols == s[2]) && !(d->rows == s[0] && d->cols == s[1] * s[2]);
}

/* The rows of d have the network's input width (and an image network's layout, where the
 * file gives one) and at least one sample. 0 ok, 2 bad. */
static int check_rows(const cr_net *net, const opts *o, cr_dataset *d, const char *x) {
  if (d->dim == (size_t)net->in && wrong_layout(net, d)) {
    char got[48];
    if (d->chans) snprintf(got, sizeof got, "%dx%dx%d", d->chans, d->rows, d->cols);
    else snprintf(got, sizeof got, "%dx%d", d->rows, d->cols);
    tr_fail(o, 2, "%s: samples are %s images, network %s takes %dx%dx%d images", x, got,
            net->name, net->in_shape[0], net->in_shape[1], net->in_shape[2]);
    cr_dataset_free(d);
    return 2;
  }
  if (d->dim != (size_t)net->in) {
    if (net->in_shape[0])
      tr_fail(o, 2, "%s: samples have %zu values, network %s takes %dx%dx%d images (%d values)", x, d->dim,
              net->name, net->in_shape[0], net->in_shape[1], net->in_shape[2], net->in);
    else
      tr_fail(o, 2, "%s: samples have %zu values, network %s takes %d", x, d->dim, net->name,
              net->in);
    cr_dataset_free(d);
    return 2;
  }
  if (d->n == 0) {
    cr_dataset_free(d);
    return tr_fail(o, 2, "%s: no samples", x);
  }
  return 0;
}

int tr_load_set(const cr_net *net, const opts *o, cr_dataset *d, const char *x, const char *y) {
  cr_err e = {{0}};
  /* The runtime picks the format by name and says when a label file is missing or extra. */
  if (cr_dataset_load(d, x, y[0] ? y : NULL, &e) != 0) return tr_fail(o, 2, "%s", e.msg);
  int rc = check_rows(net, o, d, x);
  if (rc || !net->classifier) return rc;
  for (size_t i = 0; i < d->n; i++) {
    if (d->y[i] >= net->out) {
      tr_fail(o, 2, "%s: label %d of sample %zu is out of range for %d classes", y[0] ? y : x,
              d->y[i], i, net->out);
      cr_dataset_free(d);
      return 2;
    }
  }
  return 0;
}

int tr_load_inputs(const cr_net *net, const opts *o, cr_dataset *d) {
  cr_err e = {{0}};
  if (cr_inputs_load(d, o->input, &e) != 0) return tr_fail(o, 2, "%s", e.msg);
  return check_rows(net, o, d, o->input);
}

/* The first batchnorm layer that sees one value per channel per row (after a linear layer,
 * or a 1x1 image), or -1: its training mode needs at least 2 rows per step. */
static int one_value_batchnorm(const cr_net *net) {
  for (int i = 0; i < net->layer_count; i++) {
    const cr_net_layer *L = &net->layers[i];
    int pixels = L->in_shape[0] ? L->in_shape[1] * L->in_shape[2] : 1;
    if (!strcmp(L->kind, "batchnorm") && pixels == 1) return i;
  }
  return -1;
}

int tr_check_train_rows(const cr_net *net, const opts *o, const char *x, size_t n, int batch) {
  int bn = one_value_batchnorm(net);
  if (bn < 0) return 0;
  static const char *why = "needs at least 2 rows per training step (torch: Expected more than 1 "
                           "value per channel when training)";
  if (batch < 2)
    return tr_fail(o, 2, "batch %d: layer %d (batchnorm) normalises one value per channel per row "
                   "and %s", batch, bn, why);
  if (n % (size_t)batch == 1)
    return tr_fail(o, 2, "%s: %zu samples in batches of %d leave a last batch of 1 row, and layer %d "
                   "(batchnorm) %s; choose another --batch", x, n, batch, bn, why);
  return 0;
}
