/* xor_train.c — on-device training: examples/xor.lua (2-16-2, cross-entropy, Adam) generated
 * for isa scalar, trained for STEPS steps of xor_train_step from a fixed initialisation
 * (xor_init.inc, written on the host by `bake init`) on a fixed stream of points (xorshift32,
 * integer arithmetic, so every platform draws the same floats). Prints the loss every 100
 * steps, every final parameter (bits and value) and the held-out accuracy. Built for the
 * Cortex-M4 (startup.c, semihost.c) and for the host (host_io.c): the two outputs are
 * compared line by line, lines starting with "mcu " (device only) left out. */
#include <string.h>

#include "mcu_io.h"
#include "xor.h"
#include "xor_init.inc"

#define STEPS 1000

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

/* Everything the network needs, static: the RAM check (mk/mcu.mk) finds these by name. */
static xor_params params;
static xor_grads grads;
static xor_work work;
static xor_opt opt;
static float x[XOR_BATCH * XOR_IN];
static xor_target t[XOR_BATCH];
static float out[XOR_BATCH * XOR_OUT];

_Static_assert(sizeof(xor_work) == XOR_WORK_BYTES, "XOR_WORK_BYTES");
#ifdef XOR_PARAMS_BYTES
_Static_assert(sizeof(xor_params) == XOR_PARAMS_BYTES, "XOR_PARAMS_BYTES");
_Static_assert(sizeof(xor_grads) == XOR_GRADS_BYTES, "XOR_GRADS_BYTES");
_Static_assert(sizeof(xor_opt) == XOR_OPT_BYTES, "XOR_OPT_BYTES");
#endif

int main(void) {
  uint32_t seed = 12345u;
  memcpy(&params, &baked_params.p, sizeof params);
  xor_opt_init(&opt);
  out_str("xor: "), out_int(XOR_IN), out_str("-16-"), out_int(XOR_OUT), out_str(" isa "),
      out_str(XOR_ISA), out_str(", batch "), out_int(XOR_BATCH), out_str(", "), out_int(STEPS),
      out_str(" steps"), out_nl();

  float loss = 0.0f;
  for (int step = 1; step <= STEPS; step++) {
    make_batch(x, t, XOR_BATCH, &seed);
    loss = xor_train_step(&params, &opt, &grads, &work, x, t, XOR_BATCH);
    if (step % 100 == 0)
      out_str("step "), out_int(step), out_str(" loss "), out_float(loss), out_nl();
  }
  out_str("final loss "), out_float(loss), out_nl();
  for (int i = 0; i < XOR_TENSOR_COUNT; i++) {
    const xor_tensor_info *ti = &xor_tensors[i];
    const float *v = (const float *)&params + ti->offset;
    for (int k = 0; k < ti->rows * ti->cols; k++)
      out_str("param "), out_str(ti->name), out_str("["), out_int(k), out_str("] "),
          out_float(v[k]), out_nl();
  }

  int correct = 0, total = 0;
  for (int b = 0; b < 32; b++) {
    make_batch(x, t, XOR_BATCH, &seed);
    xor_forward(out, &work, &params, x, XOR_BATCH);
    correct += xor_correct(out, t, XOR_BATCH);
    total += XOR_BATCH;
  }
  out_str("held-out accuracy "), out_int(correct), out_str("/"), out_int(total), out_nl();
  out_str("mcu ram: .data+.bss "), out_int((long)mcu_ram_static()), out_str(" bytes, stack used "),
      out_int((long)mcu_stack_used()), out_str(" bytes"), out_nl();
  return correct * 100 >= total * 95 ? 0 : 1;
}
