/* train_cmds.c — the commands that start from a checkpoint (eval, predict, export) or
 * make one (import). */
#define _POSIX_C_SOURCE 200809L
#include "train_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int need_checkpoint(const opts *o) {
  if (o->checkpoint) return 0;
  return tr_usage(o, "needs --checkpoint FILE");
}

/* ------------------------------------------------------------------ eval */

int tr_cmd_eval(const cr_net *net, const opts *o) {
  int rc = need_checkpoint(o);
  if (rc) return rc;
  datapaths dp;
  if ((rc = tr_resolve_data(o, &dp, 0))) return rc;
  if (o->batch_set && o->batch > net->batch)
    return tr_usage(o, "option '--batch' %ld is larger than the spec's batch %d", o->batch,
                    net->batch);
  model m;
  if ((rc = tr_model_open(&m, net, o))) return rc;
  cr_dataset va;
  if ((rc = tr_load_set(net, o, &va, dp.vx, dp.vy))) {
    tr_model_free(&m);
    return rc;
  }
  tr_apply_norm(&m, &va);
  double loss, acc;
  tr_evaluate(&m, &va, o->batch_set ? (int)o->batch : net->batch, &loss, &acc);
  printf("%s: %zu samples  loss %.6f  %s %.4f\n", dp.vx, va.n, loss,
         net->classifier ? "accuracy" : "rounded-output accuracy", acc);
  cr_dataset_free(&va);
  tr_model_free(&m);
  return 0;
}

/* ------------------------------------------------------------------ predict */

/* One line per row of d: the class (classifier) or the output value. Returns the text
 * (malloc'ed, *len bytes) or NULL when out of memory. */
static char *predictions(const model *m, const cr_dataset *d, size_t *len) {
  const cr_net *net = m->net;
  size_t cap = d->n * 16 + 1;
  char *text = malloc(cap);
  *len = 0;
  if (!text) return NULL;
  for (size_t i = 0; i < d->n; i += (size_t)net->batch) {
    int k = d->n - i < (size_t)net->batch ? (int)(d->n - i) : net->batch;
    net->forward(m->out, m->work, m->params, d->x + i * (size_t)net->in, k);
    for (int r = 0; r < k; r++) {
      const float *row = m->out + (size_t)r * (size_t)net->out;
      if (net->classifier) {
        int best = 0;
        for (int j = 1; j < net->out; j++)
          if (row[j] > row[best]) best = j;
        *len += (size_t)snprintf(text + *len, cap - *len, "%d\n", best);
      } else {
        *len += (size_t)snprintf(text + *len, cap - *len, "%.6g\n", (double)row[0]);
      }
    }
  }
  return text;
}

int tr_cmd_predict(const cr_net *net, const opts *o) {
  int rc = need_checkpoint(o);
  if (rc) return rc;
  if (!o->input) return tr_usage(o, "needs --input FILE (IDX images or .npy)");
  const tr_file ins[] = {{"--checkpoint", o->checkpoint, 0}, {"--input", o->input, 0}};
  const tr_file out = {"--output", o->output, 0};
  if ((rc = tr_check_outputs(o, &out, 1, ins, 2))) return rc;
  model m;
  if ((rc = tr_model_open(&m, net, o))) return rc;
  cr_dataset d;
  if ((rc = tr_load_inputs(net, o, &d))) {
    tr_model_free(&m);
    return rc;
  }
  tr_apply_norm(&m, &d);
  size_t len;
  char *text = predictions(&m, &d, &len);
  cr_err e = {{0}};
  if (!text) rc = tr_fail(o, 1, "out of memory");
  else if (!o->output) fwrite(text, 1, len, stdout);
  else if (cr_write_file(o->output, text, len, 0, &e) != 0) rc = tr_fail(o, 1, "%s", e.msg);
  free(text);
  cr_dataset_free(&d);
  tr_model_free(&m);
  return rc;
}

/* ------------------------------------------------------------------ export, import */

/* PyTorch's state_dict shapes: nn.Linear weight [out][in] = [cols][rows] of ours, Conv2d
 * weight [out][in][kh][kw] (ours: [in·kh·kw][out], so the same bytes as the 2-D transpose),
 * biases and batchnorm's vectors [cols], num_batches_tracked 0-d. Returns the rank. */
static int torch_shape(const cr_net *net, int ti, size_t shape[4]) {
  const cr_net_tensor *t = &net->tensors[ti];
  const char *dot = strrchr(t->name, '.');
  if (dot && strcmp(dot + 1, "num_batches_tracked") == 0) return 0;
  for (int l = 0; l < net->layer_count; l++) {
    const cr_net_layer *L = &net->layers[l];
    if (L->weight == ti && strcmp(L->kind, "conv2d") == 0 && L->kernel > 0) {
      shape[0] = (size_t)t->cols, shape[1] = (size_t)L->in_shape[0];
      shape[2] = shape[3] = (size_t)L->kernel;
      return 4;
    }
  }
  if (t->rows == 1 && tr_tensor_role(net, ti) != 1) {
    shape[0] = (size_t)t->cols;
    return 1;
  }
  shape[0] = (size_t)t->cols, shape[1] = (size_t)t->rows;
  return 2;
}

/* "(a, b, ...)" as NumPy prints a shape. */
static const char *shape_text(char *buf, size_t size, int nd, const size_t *shape) {
  int k = snprintf(buf, size, "(");
  for (int i = 0; i < nd && k > 0 && (size_t)k < size; i++)
    k += snprintf(buf + k, size - (size_t)k, i ? ", %zu" : "%zu", shape[i]);
  if (k > 0 && (size_t)k < size) snprintf(buf + k, size - (size_t)k, nd == 1 ? ",)" : ")");
  return buf;
}

static int export_all(const model *m, const char *dir, cr_err *e) {
  const cr_net *net = m->net;
  char path[PATH_MAX];
  for (int i = 0; i < net->tensor_count; i++) {
    size_t shape[4] = {0, 0, 0, 0};
    int nd = torch_shape(net, i, shape);
    net->export_tensor(m->packed, m->params, i);
    snprintf(path, sizeof path, "%s/%s.npy", dir, net->tensors[i].name);
    if (cr_npy_save(path, CR_F32, m->packed, nd, shape, e) != 0) return -1;
  }
  cr_norm nm;
  memset(&nm, 0, sizeof nm);
  nm.mean = m->norm[0], nm.std = m->norm[1];
  snprintf(path, sizeof path, "%s/norm.npy", dir);
  return cr_norm_save(&nm, path, e);
}

/* The files export writes or import reads in DIR: every tensor's NAME.npy, then norm.npy
 * (net->tensor_count + 1 paths, PATH_MAX each, with what names them); NULL when out of memory. */
static tr_file *dir_files(const cr_net *net, const char *dir, char **store) {
  int n = net->tensor_count + 1;
  tr_file *f = calloc((size_t)n, sizeof *f);
  char *paths = malloc((size_t)n * PATH_MAX);
  if (!f || !paths) {
    free(f), free(paths);
    return NULL;
  }
  for (int i = 0; i < n; i++) {
    char *p = paths + (size_t)i * PATH_MAX;
    snprintf(p, PATH_MAX, "%s/%s.npy", dir, i < net->tensor_count ? net->tensors[i].name : "norm");
    f[i] = (tr_file){i < net->tensor_count ? "the tensor file" : "the normalisation file", p, 0};
  }
  *store = paths;
  return f;
}

int tr_cmd_export(const cr_net *net, const opts *o) {
  int rc = need_checkpoint(o);
  if (rc) return rc;
  if (!o->dir) return tr_usage(o, "needs a directory: export DIR --checkpoint FILE");
  /* in an existing DIR, before any file is written: none a directory or a dangling link, nor
     the checkpoint read (a new DIR holds none of these) */
  struct stat st;
  if (stat(o->dir, &st) == 0 && S_ISDIR(st.st_mode)) {
    char *paths;
    tr_file *outs = dir_files(net, o->dir, &paths);
    if (!outs) return tr_fail(o, 1, "out of memory");
    const tr_file in = {"--checkpoint", o->checkpoint, 0};
    rc = tr_check_outputs(o, outs, net->tensor_count + 1, &in, 1);
    free(outs), free(paths);
    if (rc) return rc;
  }
  model m;
  if ((rc = tr_model_open(&m, net, o))) return rc;
  cr_err e = {{0}};
  if (mkdir(o->dir, 0777) != 0 && errno != EEXIST)
    rc = tr_fail(o, 1, "%s: cannot create directory: %s", o->dir, strerror(errno));
  else if (export_all(&m, o->dir, &e) != 0)
    rc = tr_fail(o, 1, "%s", e.msg);
  else
    printf("exported %d tensors and norm.npy to %s\n", net->tensor_count, o->dir);
  tr_model_free(&m);
  return rc;
}

/* DIR/NAME.npy into tensor ti, checked for shape and finiteness. 0 ok, 2 bad (printed). */
static int import_tensor(model *m, const opts *o, int ti) {
  const cr_net *net = m->net;
  size_t shape[4] = {0, 0, 0, 0};
  int nd = torch_shape(net, ti, shape);
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s.npy", o->dir, net->tensors[ti].name);
  cr_err e = {{0}};
  cr_npy a;
  if (cr_npy_load(&a, path, &e) != 0) {
    /* a product's bias missing beside its weight: most likely a layer made without one */
    const char *dot = strrchr(net->tensors[ti].name, '.');
    if (tr_tensor_role(net, ti) == 2 && dot && access(path, F_OK) != 0 && errno == ENOENT)
      return tr_fail(o, 2, "%s (layer %.*s made without a bias? then its spec says {bias = false})", e.msg,
                     (int)(dot - net->tensors[ti].name), net->tensors[ti].name);
    return tr_fail(o, 2, "%s", e.msg);
  }
  int rc = 0;
  /* a 0-d tensor is batchnorm's num_batches_tracked, which torch saves as int64 */
  int counter = nd == 0 && a.dtype == CR_I64 && a.ndim == 0;
  int same = (a.dtype == CR_F32 || counter) && a.ndim == nd;
  for (int d = 0; d < nd && same; d++) same = a.shape[d] == shape[d];
  if (!same) {
    static const char *what[5] = {"a 0-d counter, or torch's int64", "a vector",
                                  "nn.Linear [out][in]", "", "nn.Conv2d [out][in][kh][kw]"};
    static const char *dtypes[4] = {"", "float32", "uint8", "int64"};
    char want[96], got[96];
    rc = tr_fail(o, 2, "%s: expected float32 of shape %s (%s), got %s of shape %s", path,
                 shape_text(want, sizeof want, nd, shape), what[nd], dtypes[a.dtype],
                 shape_text(got, sizeof got, a.ndim, a.shape));
  } else if (counter) {
    /* kept as a float that the training forward adds 1 to: exact up to 2^24 */
    int64_t v = *(const int64_t *)a.data;
    float f = (float)v;
    if (v < 0 || v > (1 << 24))
      rc = tr_fail(o, 2, "%s: counter %lld out of range (0 to 2^24, exact in float32)", path,
                   (long long)v);
    else
      net->import_tensor(m->params, ti, &f);
  } else if (cr_first_nonfinite(a.data, a.count) >= 0) {
    rc = tr_fail(o, 2, "%s: holds NaN or Inf", path);
  } else {
    net->import_tensor(m->params, ti, a.data);
  }
  cr_npy_free(&a);
  return rc;
}

/* DIR/norm.npy when it exists (else inputs stay as they are). 0 ok, 2 bad (printed). */
static int import_norm(model *m, const opts *o) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/norm.npy", o->dir);
  if (!tr_file_exists(path)) {
    printf("note: %s not found: inputs will not be normalised\n", path);
    return 0;
  }
  cr_err e = {{0}};
  cr_norm nm;
  if (cr_norm_load(&nm, path, &e) != 0) return tr_fail(o, 2, "%s", e.msg);
  int rc = 0;
  if (nm.per_feature)
    rc = tr_fail(o, 2, "%s: per-feature normalisation is not supported here", path);
  else
    m->norm[0] = nm.mean, m->norm[1] = nm.std;
  cr_norm_free(&nm);
  return rc;
}

/* Every state_dict file in DIR (N.name.npy) is one of the network's tensors, as gen --weights
 * checks (gen/weights.lua): a longer network's export would otherwise import its first layers
 * silently. Other files may sit beside them. 0, or 2 (printed) naming the first by name. */
static int only_our_tensors(const cr_net *net, const opts *o) {
  DIR *d = opendir(o->dir);
  if (!d) return 0;   /* (import_tensor names the missing directory) */
  char first[256] = "";
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *s = e->d_name, *p = s;
    while (isdigit((unsigned char)*p)) p++;
    size_t len = strlen(s);
    if (p == s || *p != '.' || len < 5 || strcmp(s + len - 4, ".npy") != 0 || p + 1 >= s + len - 4) continue;
    int word = 1;
    for (const char *q = p + 1; q < s + len - 4; q++)
      if (!isalnum((unsigned char)*q) && *q != '_') word = 0;
    if (!word) continue;
    int ours = 0;
    for (int i = 0; i < net->tensor_count && !ours; i++)
      ours = strlen(net->tensors[i].name) == len - 4 && !strncmp(net->tensors[i].name, s, len - 4);
    if (!ours && len < sizeof first && (!*first || strcmp(s, first) < 0)) snprintf(first, sizeof first, "%s", s);
  }
  closedir(d);
  if (!*first) return 0;
  /* N.bias.npy beside N.weight.npy of ours: that layer was made without a bias */
  const char *dot = strchr(first, '.');
  if (dot && !strcmp(dot, ".bias.npy"))
    for (int i = 0; i < net->tensor_count; i++)
      if (!strncmp(net->tensors[i].name, first, (size_t)(dot - first) + 1) && !strcmp(net->tensors[i].name + (dot - first), ".weight"))
        return tr_fail(o, 2, "%s/%s: layer %.*s of %s has no bias (bias = false in its spec): weights of a network "
                       "with one?", o->dir, first, (int)(dot - first), first, net->name);
  char names[320];
  size_t k = 0;
  for (int i = 0; i < net->tensor_count && k < sizeof names - 8; i++) {
    int w = snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "", net->tensors[i].name);
    k += w > 0 ? (size_t)w : 0;
  }
  if (k >= sizeof names - 8) snprintf(names + sizeof names - 8, 8, ", ...");
  return tr_fail(o, 2, "%s/%s: not a tensor of %s (its tensors: %s, and norm.npy): weights of another "
                 "network?", o->dir, first, net->name, names);
}

int tr_cmd_import(const cr_net *net, const opts *o) {
  int rc = need_checkpoint(o);
  if (rc) return rc;
  if (!o->dir) return tr_usage(o, "needs a directory: import DIR --checkpoint FILE");
  /* the checkpoint written is none of the files read */
  char *paths;
  tr_file *ins = dir_files(net, o->dir, &paths);
  if (!ins) return tr_fail(o, 1, "out of memory");
  const tr_file out = {"--checkpoint", o->checkpoint, 0};
  rc = tr_check_outputs(o, &out, 1, ins, net->tensor_count + 1);
  free(ins), free(paths);
  if (rc || (rc = only_our_tensors(net, o))) return rc;
  model m;
  if (tr_model_alloc(&m, net) != 0) return tr_fail(o, 1, "out of memory");
  cr_rng_seed(&m.rng, tr_seed(o), CR_STREAM_INIT);
  net->opt_init(m.opt);
  for (int i = 0; i < net->tensor_count && !rc; i++) rc = import_tensor(&m, o, i);
  if (!rc) rc = import_norm(&m, o);
  if (!rc) {
    m.progress[0] = 0, m.progress[1] = 0, m.progress[2] = (int64_t)tr_seed(o);
    m.progress[3] = net->batch;
    cr_err e = {{0}};
    if (tr_model_save(&m, o->checkpoint, &e) != 0)
      rc = tr_fail(o, 1, "%s", e.msg);
    else
      printf("imported %d tensors from %s into %s\n", net->tensor_count, o->dir, o->checkpoint);
  }
  tr_model_free(&m);
  return rc;
}
