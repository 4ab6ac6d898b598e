/* mock.c — see mock.h. Naive loops; MUTANT selects one deliberate bug (0 = none). */
#include "mock.h"

#include <string.h>

#ifndef MUTANT
#define MUTANT 0
#endif

#define OFF(f) (offsetof(mock_params, f) / sizeof(float))
const mock_tensor_info mock_tensors[] = {
  {"0.weight", 12, 16, OFF(w0), "pytorch_default", "fan_in", "leaky_relu", 2.236068f, 12, 16},
  {"0.bias", 1, 16, OFF(b0), "pytorch_default", "fan_in", "leaky_relu", 2.236068f, 12, 16},
  {"2.weight", 16, 7, OFF(w2), "pytorch_default", "fan_in", "leaky_relu", 2.236068f, 16, 7},
  {"2.bias", 1, 7, OFF(b2), "pytorch_default", "fan_in", "leaky_relu", 2.236068f, 16, 7},
  {"4.weight", 7, 1, OFF(w4), "pytorch_default", "fan_in", "leaky_relu", 2.236068f, 7, 1},
  {"4.bias", 1, 1, OFF(b4), "pytorch_default", "fan_in", "leaky_relu", 2.236068f, 7, 1},
};
const mock_layer_info mock_layers[] = {
  {"linear", 12, 16, 0, 0, 0, 1}, {"relu", 16, 16, -0.5f, 0, -1, -1}, {"linear", 16, 7, 0, 0, 2, 3},
  {"relu", 7, 7, 0, 0, -1, -1}, {"linear", 7, 1, 0, 0, 4, 5},
};

/* y[n][out] = x[n][in] @ w[in][out] + b */
static void linear_forward(float *y, const float *x, const float *w, const float *b, int n, int in, int out)
{
  int rows = MUTANT == 2 ? n + 1 : n;   /* mutant 2: reads input row n */
  for (int i = 0; i < rows && i < MOCK_BATCH; i++)
    for (int j = 0; j < out; j++) {
      float s = b[j];
      for (int k = 0; k < in; k++) s += x[i * in + k] * w[k * out + j];
      y[i * out + j] = s;
    }
}

static void relu_forward(float *y, const float *z, float shift, int count)
{
  for (int i = 0; i < count; i++) y[i] = (z[i] > 0 ? z[i] : 0.0f) + shift;
}

/* dw = xᵀ dy, db = Σ dy, dx = dy wᵀ (dx may be NULL) */
static void linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                            int n, int in, int out)
{
  for (int k = 0; k < (MUTANT == 3 ? in - 1 : in); k++)   /* mutant 3: last weight row never written */
    for (int j = 0; j < out; j++) {
      float s = 0;
      for (int i = 0; i < n; i++) s += x[i * in + k] * dy[i * out + j];
      dw[k * out + j] = s;
    }
  for (int j = 0; j < out; j++) {
    float s = MUTANT == 4 ? db[j] : 0.0f;   /* mutant 4: accumulates into the bias gradient */
    for (int i = 0; i < n; i++) s += dy[i * out + j];
    db[j] = s;
  }
  if (dx)
    for (int i = 0; i < n; i++)
      for (int k = 0; k < in; k++) {
        float s = 0;
        for (int j = 0; j < out; j++) s += dy[i * out + j] * w[k * out + j];
        dx[i * in + k] = s;
      }
}

void mock_forward(float *out, mock_work *w, const mock_params *p, const float *x, int n)
{
  linear_forward(w->z0, x, p->w0, p->b0, n, 12, 16);
  relu_forward(w->a1, w->z0, -0.5f, n * 16);
  linear_forward(w->z2, w->a1, p->w2, p->b2, n, 16, 7);
  relu_forward(w->a3, w->z2, 0.0f, n * 7);
  linear_forward(w->y, w->a3, p->w4, p->b4, n, 7, 1);
  memcpy(out, w->y, (size_t)(MUTANT == 1 ? n + 1 : n) * sizeof(float));   /* mutant 1: writes row n */
}

float mock_loss(const float *out, const mock_target *t, int n)
{
  float s = 0;
  for (int i = 0; i < n; i++) s += (out[i] - t[i]) * (out[i] - t[i]);
  return s / (MUTANT == 5 ? MOCK_BATCH : n);   /* mutant 5: mean over B, not n */
}

float mock_backward(mock_grads *g, float *dx, mock_work *w, const mock_params *p, const float *x,
                    const mock_target *t, int n)
{
  float dy[8] = {0}, d2[8 * 7] = {0}, d0[8 * 16] = {0};
  for (int i = 0; i < n; i++) dy[i] = 2 * (w->y[i] - t[i]) / (MUTANT == 5 ? MOCK_BATCH : n);
  linear_backward(d2, g->g.w4, g->g.b4, dy, w->a3, p->w4, n, 7, 1);
  for (int i = 0; i < n * 7; i++) if (!(w->z2[i] > 0)) d2[i] = 0;
  linear_backward(d0, g->g.w2, g->g.b2, d2, w->a1, p->w2, n, 16, 7);
  for (int i = 0; i < n * 16; i++) if (!(w->z0[i] > 0)) d0[i] = 0;
  linear_backward(dx, g->g.w0, g->g.b0, d0, x, p->w0, n, 12, 16);
  return mock_loss(w->y, t, n);
}

void mock_opt_init(mock_opt *s)
{
  memset(s, 0, sizeof *s);
  s->lr = 0.02f;
  s->momentum = 0.9f;
  s->beta1 = 0.9f;
  s->beta2 = 0.999f;
  s->eps = 1e-8f;
}

/* torch.optim.SGD: d = g + wd p; buf = d on the first step, else m buf + (1 - dampening) d */
void mock_step(mock_params *p, mock_opt *s, const mock_grads *g)
{
  for (int k = 0; k < MOCK_TENSOR_COUNT; k++) {
    size_t off = mock_tensors[k].offset, count = (size_t)mock_tensors[k].rows * mock_tensors[k].cols;
    float *pt = (float *)p + off, *bt = (float *)&s->buf + off;
    const float *gt = (const float *)g + off;
    for (size_t i = 0; i < count; i++) {
      float d = gt[i] + s->weight_decay * pt[i];
      int first = MUTANT == 6 ? 1 : s->t == 0;   /* mutant 6: momentum never carries over */
      bt[i] = first ? d : s->momentum * bt[i] + (1 - s->dampening) * d;
      d = s->nesterov ? d + s->momentum * bt[i] : bt[i];
      pt[i] -= s->lr * d;
    }
  }
  s->t++;
}

float mock_train_step(mock_params *p, mock_opt *s, mock_grads *g, mock_work *w, const float *x,
                      const mock_target *t, int n)
{
  float out[8];
  mock_forward(out, w, p, x, n);
  float loss = mock_backward(g, NULL, w, p, x, t, n);
  mock_step(p, s, g);
  if (MUTANT == 7) memset(g, 0, sizeof *g);   /* mutant 7: gradients not left for the caller */
  return loss;
}

void mock_export_tensor(float *dst, const mock_params *p, int k)
{
  const mock_tensor_info *ti = &mock_tensors[k];
  const float *src = (const float *)p + ti->offset;
  for (int i = 0; i < ti->rows; i++)
    for (int j = 0; j < ti->cols; j++)
      if (MUTANT == 8) dst[i * ti->cols + j] = src[i * ti->cols + j];   /* mutant 8: no transpose */
      else dst[j * ti->rows + i] = src[i * ti->cols + j];
}

void mock_import_tensor(mock_params *p, int k, const float *src)
{
  const mock_tensor_info *ti = &mock_tensors[k];
  float *dst = (float *)p + ti->offset;
  for (int i = 0; i < ti->rows; i++)
    for (int j = 0; j < ti->cols; j++) dst[i * ti->cols + j] = src[j * ti->rows + i];
}
