/* A consumer of an installed chainrule (tests/install/run.sh builds it twice: with CMake and
 * with a plain Makefile + pkg-config). Generated code (xor.h/xor.c from xor.lua) plus the
 * runtime library: cr_rng and cr_init_tensor initialise every tensor by the scheme the spec
 * names in xor_tensors[]; it trains on the XOR quadrants and exits 0 only if the mean loss of
 * the last 20 steps is below half that of the first 20. */
#include <stdio.h>

#include "cr.h"
#include "xor.h"

static xor_params params;
static xor_grads grads;
static xor_work work;
static xor_opt opt;

#define STEPS 300
#define WINDOW 20

int main(void) {
  cr_rng rng;
  cr_err e;
  cr_rng_seed(&rng, 7, 0);
  for (int i = 0; i < XOR_TENSOR_COUNT; i++) {
    const xor_tensor_info *t = &xor_tensors[i];
    cr_init_spec s = {t->init, t->mode, t->nonlinearity, t->init_a, t->fan_in, t->fan_out};
    if (cr_init_tensor((float *)&params + t->offset, (size_t)t->rows * (size_t)t->cols, &s, &rng, &e) != 0) {
      fprintf(stderr, "app: init of %s: %s\n", t->name, e.msg);
      return 1;
    }
  }
  xor_opt_init(&opt);
  float x[XOR_BATCH * XOR_IN];
  xor_target y[XOR_BATCH];
  double first = 0, last = 0;
  for (int step = 0; step < STEPS; step++) {
    for (int r = 0; r < XOR_BATCH; r++) {
      x[2 * r] = 2.0f * cr_rng_uniform(&rng) - 1.0f;
      x[2 * r + 1] = 2.0f * cr_rng_uniform(&rng) - 1.0f;
      y[r] = x[2 * r] * x[2 * r + 1] > 0.0f;
    }
    float loss = xor_train_step(&params, &opt, &grads, &work, x, y, XOR_BATCH);
    if (step < WINDOW) first += loss / WINDOW;
    if (step >= STEPS - WINDOW) last += loss / WINDOW;
  }
  printf("app: %s xor, %d steps: mean loss %.4f (first %d steps) -> %.4f (last %d)\n", XOR_ISA, STEPS, first,
         WINDOW, last, WINDOW);
  return last < 0.5 * first ? 0 : 1;
}
