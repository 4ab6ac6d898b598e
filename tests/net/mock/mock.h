/* mock.h — a hand-written network with the generated API (docs/GENERATED_API.md), used to
 * show that tests/net/net_test.c catches broken code: mock.c compiled with -DMUTANT=k
 * (k = 1..MOCK_MUTANTS) carries one deliberate bug each, and `make test-net` requires
 * the harness to pass MUTANT=0 and to fail every other one.
 * Network: 12 -> linear(16) -> relu{shift=-0.5} -> linear(7) -> relu -> linear(1), MSE,
 * batch 8, sgd{lr = 0.02, momentum = 0.9}. */
#ifndef MOCK_H
#define MOCK_H

#include <stddef.h>
#include <stdint.h>

#define MOCK_IN 12
#define MOCK_OUT 1
#define MOCK_BATCH 8
#define MOCK_PARAM_COUNT (12 * 16 + 16 + 16 * 7 + 7 + 7 + 1)
#define MOCK_TENSOR_COUNT 6
#define MOCK_LAYER_COUNT 5
#define MOCK_ISA "scalar"
#define MOCK_LOSS_MSE 1
#define MOCK_OPT_SGD 1
#define MOCK_MUTANTS 8

typedef struct mock_params {
  _Alignas(64) float w0[12 * 16];
  _Alignas(64) float b0[16];
  _Alignas(64) float w2[16 * 7];
  _Alignas(64) float b2[7];
  _Alignas(64) float w4[7];
  _Alignas(64) float b4[1];
} mock_params;
typedef struct mock_grads { mock_params g; } mock_grads;
typedef struct mock_work { _Alignas(64) float z0[8 * 16], a1[8 * 16], z2[8 * 7], a3[8 * 7], y[8]; } mock_work;
#define MOCK_WORK_BYTES sizeof(mock_work)
typedef struct mock_opt {
  float lr, momentum, dampening, weight_decay;
  int nesterov;
  float beta1, beta2, eps;
  long t;
  mock_params buf;
} mock_opt;
typedef float mock_target;

typedef struct {
  const char *name;
  int rows, cols;
  size_t offset;
  const char *init, *mode, *nonlinearity;
  float init_a;
  int fan_in, fan_out;
} mock_tensor_info;
extern const mock_tensor_info mock_tensors[];
typedef struct { const char *kind; int in, out; float shift; float slope; int weight, bias; } mock_layer_info;
extern const mock_layer_info mock_layers[];

void mock_forward(float *out, mock_work *w, const mock_params *p, const float *x, int n);
float mock_backward(mock_grads *g, float *dx, mock_work *w, const mock_params *p, const float *x,
                    const mock_target *t, int n);
void mock_opt_init(mock_opt *s);
void mock_step(mock_params *p, mock_opt *s, const mock_grads *g);
float mock_train_step(mock_params *p, mock_opt *s, mock_grads *g, mock_work *w, const float *x,
                      const mock_target *t, int n);
float mock_loss(const float *out, const mock_target *t, int n);
void mock_export_tensor(float *dst, const mock_params *p, int tensor);
void mock_import_tensor(mock_params *p, int tensor, const float *src);

#endif
