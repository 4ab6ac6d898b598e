/* train_model.c — the network's buffers in memory, their checkpoint (through the runtime's
 * cr_ckpt_save/cr_ckpt_load), initialisation, evaluation, and finding and naming a
 * non-finite value for messages. */
#include "train_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tr_isa_running(const cr_net *net) {
  return net->variant_code ? net->variant_code() : net->variant ? net->variant() : net->isa;
}

void tr_model_free(model *m) {
  free(m->params), free(m->grads), free(m->work), free(m->opt);
  free(m->out), free(m->targets), free(m->packed);
  memset(m, 0, sizeof *m);
}

int tr_model_alloc(model *m, const cr_net *net) {
  memset(m, 0, sizeof *m);
  m->net = net;
  m->params = cr_alloc(net->params_bytes);
  m->grads = cr_alloc(net->grads_bytes);
  m->work = cr_alloc(net->work_bytes);
  m->opt = cr_alloc(net->opt_bytes);
  m->out = cr_alloc(sizeof(float) * (size_t)net->batch * (size_t)net->out);
  m->targets = cr_alloc(4 * (size_t)net->batch);
  m->packed = cr_alloc(sizeof(float) * net->param_count);
  m->norm[0] = 0.0f, m->norm[1] = 1.0f;
  if (!m->params || !m->grads || !m->work || !m->opt || !m->out || !m->targets || !m->packed) {
    tr_model_free(m);
    return -1;
  }
  return 0;
}

float *tr_tensor_ptr(void *base, const cr_net_tensor *t) { return (float *)base + t->offset; }

static size_t tensor_count(const cr_net_tensor *t) { return (size_t)t->rows * (size_t)t->cols; }

int tr_tensor_role(const cr_net *net, int ti) {
  for (int l = 0; l < net->layer_count; l++) {
    if (net->layers[l].weight == ti) return 1;
    if (net->layers[l].bias == ti) return 2;
  }
  return 0;
}

/* ------------------------------------------------------------------ checkpoints */

uint64_t tr_shapes_hash(const cr_net *net) {
  /* Every tensor, in pieces of 64, as gen --weights hashes the table (gen/weights.lua).
   * The trainer once hashed only the first 256 tensors, and gen then refused the
   * checkpoint of a network of more than 256 tensors. */
  uint64_t h = CR_SHAPES_HASH_INIT;
  for (int i0 = 0; i0 < net->tensor_count; i0 += 64) {
    cr_shape shapes[64];
    int n = net->tensor_count - i0 < 64 ? net->tensor_count - i0 : 64;
    for (int i = 0; i < n; i++) {
      shapes[i].name = net->tensors[i0 + i].name;
      shapes[i].rows = net->tensors[i0 + i].rows;
      shapes[i].cols = net->tensors[i0 + i].cols;
    }
    h = cr_shapes_hash_more(h, shapes, n);
  }
  return h;
}

#define CKPT_PARTS 7
static void ckpt_setup(const model *m, cr_ckpt_id *id, cr_ckpt_part parts[CKPT_PARTS]) {
  const cr_net *net = m->net;
  id->net = net->name;
  id->param_count = net->param_count;
  id->shapes_hash = tr_shapes_hash(net);
  parts[0] = (cr_ckpt_part){"params", m->packed, sizeof(float) * net->param_count};
  parts[1] = (cr_ckpt_part){"opt", m->opt, net->opt_bytes};
  parts[2] = (cr_ckpt_part){"norm", (void *)m->norm, sizeof m->norm};
  parts[3] = (cr_ckpt_part){"rng", (void *)&m->rng, sizeof m->rng};
  parts[4] = (cr_ckpt_part){"progress", (void *)m->progress, sizeof m->progress};
  parts[5] = (cr_ckpt_part){"isa", (void *)m->isa, sizeof m->isa};
  /* (added last: trainers before it wrote the first 6 parts; tr_model_load takes those
     checkpoints too, with shards 0) */
  parts[6] = (cr_ckpt_part){"shards", (void *)&m->shards, sizeof m->shards};
}

/* The parameters tensor by tensor, packed (to = 1) into m->packed or unpacked from it, so
 * padding inside the params struct never reaches a checkpoint. */
static void pack_params(model *m, int to_packed) {
  size_t k = 0;
  for (int i = 0; i < m->net->tensor_count; i++) {
    const cr_net_tensor *t = &m->net->tensors[i];
    float *p = tr_tensor_ptr(m->params, t);
    size_t bytes = tensor_count(t) * sizeof(float);
    if (to_packed) memcpy(m->packed + k, p, bytes);
    else memcpy(p, m->packed + k, bytes);
    k += tensor_count(t);
  }
}

int tr_model_save(model *m, const char *path, cr_err *e) {
  pack_params(m, 1);
  cr_ckpt_id id;
  cr_ckpt_part parts[CKPT_PARTS];
  /* (a resume compares it with its own, tr_isa_running) */
  memset(m->isa, 0, sizeof m->isa);
  snprintf(m->isa, sizeof m->isa, "%s", tr_isa_running(m->net));
  ckpt_setup(m, &id, parts);
  return cr_ckpt_save(path, &id, parts, CKPT_PARTS, e);
}

int tr_model_load(model *m, const char *path, cr_err *e) {
  cr_ckpt_id id;
  cr_ckpt_part parts[CKPT_PARTS];
  ckpt_setup(m, &id, parts);
  m->shards = 0;
  int loaded;
  if (cr_ckpt_load_some(path, &id, parts, CKPT_PARTS, CKPT_PARTS - 1, &loaded, e) != 0) return -1;
  m->isa[sizeof m->isa - 1] = '\0';
  if (!(m->norm[1] > 0.0f) || !isfinite(m->norm[0]) || !isfinite(m->norm[1]))
    return cr_errf(e, "%s: checkpoint's normalisation numbers are invalid", path);
  /* A valid CRC says the bytes are the ones written, not that a writer was honest: the
     numbers are checked as the trainer would have made them. */
  const cr_net *net = m->net;
  const int64_t *pg = m->progress;
  if (pg[0] < 0 || pg[0] > TR_MAX_EPOCHS || pg[1] < 0 || pg[3] < 1 || pg[3] > net->batch)
    return cr_errf(e, "%s: checkpoint's progress is invalid (epochs %lld, steps %lld, batch "
                   "%lld; expected 0..%d epochs, steps >= 0, batch 1..%d)", path,
                   (long long)pg[0], (long long)pg[1], (long long)pg[3], TR_MAX_EPOCHS, net->batch);
  int64_t sh = m->shards;
  if (sh < 0 || sh > TR_MAX_SHARDS || (sh & (sh - 1)) || (sh > 0 && pg[3] % sh))
    return cr_errf(e, "%s: checkpoint's shard count %lld is invalid (0, or a power of two up to "
                   "%d that divides its batch %lld)", path, (long long)sh, TR_MAX_SHARDS,
                   (long long)pg[3]);
  float lr = *net->opt_lr(m->opt);
  if (!(lr > 0.0f) || !isfinite(lr)) {
    char lv[16];
    return cr_errf(e, "%s: checkpoint's learning rate is %s (a finite number > 0 is needed)",
                   path, tr_fmt_num(lv, lr));
  }
  pack_params(m, 0);
  long idx;
  float val;
  int bad = tr_find_nonfinite(net, m->params, 0, &idx, &val);
  if (bad >= 0) {
    char where[192], pv[16];
    tr_describe_element(net, bad, idx, where, sizeof where);
    return cr_errf(e, "%s: checkpoint's parameter %s is %s", path, where, tr_fmt_num(pv, val));
  }
  return 0;
}

int tr_model_open(model *m, const cr_net *net, const opts *o) {
  if (tr_model_alloc(m, net) != 0) return tr_fail(o, 1, "out of memory");
  cr_err e = {{0}};
  if (tr_model_load(m, o->checkpoint, &e) != 0) {
    tr_model_free(m);
    return tr_fail(o, 2, "%s", e.msg);
  }
  return 0;
}

int tr_model_init(model *m, uint64_t seed, const char *scheme, cr_err *e) {
  cr_rng_seed(&m->rng, seed, CR_STREAM_INIT);
  for (int i = 0; i < m->net->tensor_count; i++) {
    const cr_net_tensor *t = &m->net->tensors[i];
    cr_init_spec s = {t->init, t->mode, t->nonlinearity, t->init_a, t->fan_in, t->fan_out};
    if (scheme && tr_tensor_role(m->net, i) == 1) s.scheme = scheme;
    if (cr_init_tensor(tr_tensor_ptr(m->params, t), tensor_count(t), &s, &m->rng, e) != 0)
      return -1;
  }
  m->net->opt_init(m->opt);
  return 0;
}

/* ------------------------------------------------------------------ evaluation */

void tr_set_targets(const model *m, const uint8_t *y, int n) {
  if (m->net->classifier) {
    int32_t *t = m->targets;
    for (int i = 0; i < n; i++) t[i] = y[i];
  } else {
    float *t = m->targets;
    for (int i = 0; i < n; i++) t[i] = (float)y[i];
  }
}

void tr_apply_norm(const model *m, cr_dataset *d) {
  cr_norm nm;
  memset(&nm, 0, sizeof nm);
  nm.dim = d->dim;
  nm.mean = m->norm[0];
  nm.std = m->norm[1];
  cr_norm_apply_rows(&nm, d->x, d->n, d->dim);
}

void tr_evaluate(const model *m, const cr_dataset *d, int batch, double *loss, double *acc) {
  const cr_net *net = m->net;
  double lsum = 0;
  long correct = 0;
  for (size_t i = 0; i < d->n; i += (size_t)batch) {
    int n = d->n - i < (size_t)batch ? (int)(d->n - i) : batch;
    net->forward(m->out, m->work, m->params, d->x + i * d->dim, n);
    tr_set_targets(m, d->y + i, n);
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

/* ------------------------------------------------------------------ non-finite values */

/* Gradients are scanned from the last tensor back (backward = 1): a NaN born in the loss
 * spreads to every earlier gradient, so the one nearest the output is the telling one. */
int tr_find_nonfinite(const cr_net *net, void *base, int backward, long *index, float *value) {
  for (int j = 0; j < net->tensor_count; j++) {
    int i = backward ? net->tensor_count - 1 - j : j;
    const float *p = tr_tensor_ptr(base, &net->tensors[i]);
    long k = cr_first_nonfinite(p, tensor_count(&net->tensors[i]));
    if (k >= 0) {
      *index = k;
      *value = p[k];
      return i;
    }
  }
  return -1;
}

int tr_scan_gather(const cr_net *net, void *grads, cr_batcher *b, int rows) {
  size_t total = 0;
  for (int t = 0; t < net->tensor_count; t++) total += tensor_count(&net->tensors[t]);
  size_t piece = rows > 0 ? (total + (size_t)rows - 1) / (size_t)rows : total;
  int bad = 0, row = 0, t = 0;
  size_t off = 0; /* the next element of tensor t to test */
  if (rows > 0) cr_batcher_prefetch(b, 0);
  while (t < net->tensor_count || row < rows) {
    /* one piece: `piece` elements from (t, off) on, across tensor ends */
    for (size_t left = piece; left > 0 && t < net->tensor_count;) {
      size_t count = tensor_count(&net->tensors[t]);
      size_t k = count - off < left ? count - off : left;
      bad |= cr_any_nonfinite(tr_tensor_ptr(grads, &net->tensors[t]) + off, k);
      left -= k, off += k;
      if (off == count) t++, off = 0;
    }
    /* then one row, and the next row asked for (it arrives during the next piece) */
    if (row < rows) {
      cr_batcher_gather(b, row, row + 1);
      cr_batcher_prefetch(b, ++row);
    }
  }
  return bad;
}

void tr_gather_ahead(const cr_batcher *b, float *dst, int rows) {
  enum { AHEAD = 2 };   /* rows in flight ahead of the copy */
  for (int r = 0; r < AHEAD && r < rows; r++) cr_batcher_prefetch(b, r);
  for (int r = 0; r < rows; r++) {
    cr_batcher_prefetch(b, r + AHEAD);
    cr_batcher_gather_to(b, dst, r, r + 1);
  }
}

int tr_find_largest(const cr_net *net, void *base, long *index, float *value) {
  int best = 0;
  float bv = -1.0f;
  for (int i = 0; i < net->tensor_count; i++) {
    const float *p = tr_tensor_ptr(base, &net->tensors[i]);
    for (size_t k = 0; k < tensor_count(&net->tensors[i]); k++) {
      if (fabsf(p[k]) > bv) {
        bv = fabsf(p[k]);
        best = i, *index = (long)k, *value = p[k];
      }
    }
  }
  return best;
}

void tr_describe_element(const cr_net *net, int ti, long idx, char *buf, size_t cap) {
  const cr_net_tensor *t = &net->tensors[ti];
  char at[48];
  /* "[row][col]" of the flat index, "[col]" for a one-row tensor (a bias) */
  if (t->rows == 1) snprintf(at, sizeof at, "[%ld]", idx);
  else snprintf(at, sizeof at, "[%ld][%ld]", idx / t->cols, idx % t->cols);
  for (int l = 0; l < net->layer_count; l++) {
    const cr_net_layer *L = &net->layers[l];
    if (L->weight == ti || L->bias == ti) {
      snprintf(buf, cap, "layer %d (%s %d->%d) tensor %s%s", l, L->kind, L->in, L->out, t->name,
               at);
      return;
    }
  }
  snprintf(buf, cap, "tensor %s%s", t->name, at);
}

const char *tr_fmt_num(char buf[16], float v) {
  if (isnan(v)) return "nan";
  if (isinf(v)) return v > 0 ? "inf" : "-inf";
  snprintf(buf, 16, "%.6g", (double)v);
  return buf;
}
