/* mnist_infer.c — inference on the device: specs/mnist_mlp.lua (784-50-10) generated for isa
 * scalar with its weights in flash, over the first BAKED_COUNT validation images of the tiny
 * set (mnist_images.inc, uint8 in flash), CHUNK rows per NAME_forward call. Two builds:
 *   - the normal generated pair, with the weights as a const NAME_params written by `bake
 *     weights` (mnist_weights.inc) from the trainer's export;
 *   - `chainrule gen --inference --weights CKPT --max-batch CHUNK` (MNIST_MLP_INFERENCE): the
 *     generator's own const mnist_mlp_weights and NORM_MEAN/STD, and mnist_mlp_predict, whose
 *     classes must equal the argmax taken here.
 * Normalises each pixel as the trainer does ((byte / 255 - mean) / std), takes the first
 * maximum of each output row, prints the predictions, a hash of every output bit and the
 * accuracy. Built for the Cortex-M4 and for the host; the two outputs must be identical, and
 * the predictions equal the trainer's. */
#include <stdint.h>

#include "mcu_io.h"
#include "mnist_images.inc"
#include "mnist_mlp.h"

#ifdef MNIST_MLP_INFERENCE
#define WEIGHTS (&mnist_mlp_weights)
#define MEAN MNIST_MLP_NORM_MEAN
#define STD MNIST_MLP_NORM_STD
#else
#include "mnist_weights.inc"
#define WEIGHTS (&baked_params.p)
#define MEAN BAKED_MEAN
#define STD BAKED_STD
#endif

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
#ifdef MNIST_MLP_INFERENCE
static int32_t classes[CHUNK];
static int predict_differs;
#endif

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
        x[r * MNIST_MLP_IN + j] = ((float)baked_images[i0 + r][j] / 255.0f - MEAN) / STD;
    mnist_mlp_forward(out, &work, WEIGHTS, x, n);
#ifdef MNIST_MLP_INFERENCE
    mnist_mlp_predict(classes, x, n);
#endif
    for (int r = 0; r < n; r++) {
      const float *o = out + r * MNIST_MLP_OUT;
      int best = 0;
      for (int c = 0; c < MNIST_MLP_OUT; c++) {
        if (o[c] > o[best]) best = c;
        uint32_t b = float_bits(o[c]);
        for (int k = 0; k < 4; k++) hash = (hash ^ ((b >> (8 * k)) & 0xffu)) * 16777619u;
      }
      preds[i0 + r] = (char)('0' + best);
#ifdef MNIST_MLP_INFERENCE
      predict_differs += classes[r] != best;
#endif
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
#ifdef MNIST_MLP_INFERENCE
  if (predict_differs) {
    out_str("mnist_mlp_predict differs from the argmax of mnist_mlp_forward in "),
        out_int(predict_differs), out_str(" rows"), out_nl();
    return 1;
  }
#endif
  out_str("accuracy "), out_int(correct), out_str("/"), out_int(BAKED_COUNT), out_nl();
  out_str("mcu ram: .data+.bss "), out_int((long)mcu_ram_static()), out_str(" bytes, stack used "),
      out_int((long)mcu_stack_used()), out_str(" bytes"), out_nl();
  return 0;
}
