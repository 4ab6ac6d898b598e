/* Embedding generated code without the chainrule runtime: only xor.h/xor.c and libc.
 *
 *   build/chainrule gen examples/xor.lua --out build/examples
 *   cc -std=c11 -O2 -Ibuild/examples examples/embed.c build/examples/xor.c -lm
 *
 * Points in [-1,1]^2 are labelled by the sign of x*y (the XOR quadrants). The program
 * initialises the weights itself, trains with xor_train_step and exits 0 when held-out
 * accuracy reaches 95%, 1 otherwise. */
#include "xor.h"

#include <math.h>
#include <stdio.h>

/* A 32-bit xorshift: enough for an example, and the same stream on every platform. */
static uint32_t next_u32(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

static float uniform_pm1(uint32_t *s) { return (float)(next_u32(s) >> 8) / 8388608.0f - 1.0f; }

static void make_batch(float *x, xor_target *t, int n, uint32_t *s) {
  for (int i = 0; i < n; i++) {
    x[2 * i] = uniform_pm1(s);
    x[2 * i + 1] = uniform_pm1(s);
    t[i] = (x[2 * i] * x[2 * i + 1] > 0.0f) ? 1 : 0;
  }
}

/* Static storage: the generated structs are complete types with 64-byte aligned members. */
static xor_params params;
static xor_grads grads;
static xor_work work;
static xor_opt opt;

int main(void) {
  uint32_t seed = 12345u;
  /* Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) for every tensor, like nn.Linear's default. */
  for (int i = 0; i < XOR_TENSOR_COUNT; i++) {
    const xor_tensor_info *ti = &xor_tensors[i];
    float *v = (float *)&params + ti->offset;
    const float bound = 1.0f / sqrtf((float)ti->fan_in);
    for (int k = 0; k < ti->rows * ti->cols; k++) v[k] = bound * uniform_pm1(&seed);
  }
  xor_opt_init(&opt);

  float x[XOR_BATCH * XOR_IN];
  xor_target t[XOR_BATCH];
  float loss = 0.0f;
  for (int step = 0; step < 2000; step++) {
    make_batch(x, t, XOR_BATCH, &seed);
    loss = xor_train_step(&params, &opt, &grads, &work, x, t, XOR_BATCH);
    if (step % 500 == 0) printf("step %4d  loss %.4f\n", step, (double)loss);
  }

  int correct = 0, total = 0;
  float out[XOR_BATCH * XOR_OUT];
  for (int b = 0; b < 32; b++) {
    make_batch(x, t, XOR_BATCH, &seed);
    xor_forward(out, &work, &params, x, XOR_BATCH);
    correct += xor_correct(out, t, XOR_BATCH);
    total += XOR_BATCH;
  }
  const double acc = (double)correct / total;
  printf("final train loss %.4f, held-out accuracy %.3f (%d/%d)\n", (double)loss, acc, correct, total);
  return acc >= 0.95 ? 0 : 1;
}
