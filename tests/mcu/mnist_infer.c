/* mnist_infer.c — inference on the device: specs/mnist_mlp.lua (784-50-10) generated for isa
 * scalar, weights baked into flash as a const NAME_params (mnist_weights.inc: trained on the
 * host by the trainer on a tiny data set, exported and turned into a C array by `bake
 * weights`), over the first BAKED_COUNT validation images of that set (mnist_images.inc,
 * uint8 in flash), CHUNK rows per NAME_forward call. Normalises each pixel as the trainer
 * does ((byte / 255 - mean) / std), takes the first maximum of each output row, prints the
 * predictions, a hash of every output bit and the accuracy. Built for the Cortex-M4 and for
 * the host; the two outputs must be identical, and the predictions equal the trainer's. */
#include <stdint.h>

#include "mcu_io.h"
#include "mnist_images.inc"
#include "mnist_mlp.h"
#include "mnist_weights.inc"

#define CHUNK 10
#define PER_LINE 50
_Static_assert(CHUNK <= MNIST_MLP_BATCH, "CHUNK");
_Static_assert(sizeof(mnist_mlp_work) == MNIST_MLP_WORK_BYTES, "MNIST_MLP_WORK_BYTES");
#ifdef MNIST_MLP_PARAMS_BYTES
_Static_assert(sizeof(mnist_mlp_params) == MNIST_MLP_PARAMS_BYTES, "MNIST_MLP_PARAMS_BYTES");
#endif

/* RAM: the work struct, one chunk of inputs and outputs (the RAM check in mk/mcu.mk finds
 * these by name); the weights and images stay in flash. */
static mnist_mlp_work work;
static float x[CHUNK * MNIST_MLP_IN];
static float out[CHUNK * MNIST_MLP_OUT];
static char preds[BAKED_COUNT];

int main(void) {
  uint32_t hash = 2166136261u; /* FNV-1a over the bits of every output */
  int correct = 0;
  out_str("mnist_mlp: "), out_int(MNIST_MLP_IN), out_str("-50-"), out_int(MNIST_MLP_OUT),
      out_str(" isa "), out_str(MNIST_MLP_ISA), out_str(", "), out_int(BAKED_COUNT),
      out_str(" images, "), out_int(CHUNK), out_str(" per call"), out_nl();
  for (int i0 = 0; i0 < BAKED_COUNT; i0 += CHUNK) {
    const int n = BAKED_COUNT - i0 < CHUNK ? BAKED_COUNT - i0 : CHUNK;
    for (int r = 0; r < n; r++)
      for (int j = 0; j < MNIST_MLP_IN; j++)
        x[r * MNIST_MLP_IN + j] =
            ((float)baked_images[i0 + r][j] / 255.0f - BAKED_MEAN) / BAKED_STD;
    mnist_mlp_forward(out, &work, &baked_params.p, x, n);
    for (int r = 0; r < n; r++) {
      const float *o = out + r * MNIST_MLP_OUT;
      int best = 0;
      for (int c = 0; c < MNIST_MLP_OUT; c++) {
        if (o[c] > o[best]) best = c;
        uint32_t b = float_bits(o[c]);
        for (int k = 0; k < 4; k++) hash = (hash ^ ((b >> (8 * k)) & 0xffu)) * 16777619u;
      }
      preds[i0 + r] = (char)('0' + best);
      correct += best == baked_labels[i0 + r];
    }
  }
  for (int i = 0; i < BAKED_COUNT; i += PER_LINE) {
    char digits[PER_LINE + 1];
    int k = 0;
    for (; k < PER_LINE && i + k < BAKED_COUNT; k++) digits[k] = preds[i + k];
    digits[k] = '\0';
    out_str("pred "), out_int(i), out_str(" "), out_str(digits), out_nl();
  }
  out_str("outputs fnv1a "), out_hex(hash), out_nl();
  out_str("accuracy "), out_int(correct), out_str("/"), out_int(BAKED_COUNT), out_nl();
  out_str("mcu ram: .data+.bss "), out_int((long)mcu_ram_static()), out_str(" bytes, stack used "),
      out_int((long)mcu_stack_used()), out_str(" bytes"), out_nl();
  return 0;
}
