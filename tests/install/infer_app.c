/* An inference consumer of an installed chainrule (tests/install/run.sh, CMake project):
 * xor_infer.h/.c from `chainrule_generate(... NAME xor_infer INFERENCE MAX_BATCH 4 DISPATCH x86)`,
 * the forward pass of examples/xor.lua dispatched to the best x86 variant. The weights are set by
 * hand through xor_infer_import_tensor (PyTorch layout, [out][in]) so that the network computes
 * the quadrant rule exactly: hidden units |x0 + x1| and |x0 - x1| as pairs of ReLUs, logit 1 =
 * |x0 + x1| - |x0 - x1|, which is positive exactly when x0 and x1 have the same sign. Exits 0
 * only if xor_infer_predict_with classifies 1000 random points as the rule does. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "xor_infer.h"

static xor_infer_params params;
static xor_infer_work work;

int main(void) {
  float w0[16 * 2], w2[2 * 16], zeros[16];
  memset(w0, 0, sizeof w0);
  memset(w2, 0, sizeof w2);
  memset(zeros, 0, sizeof zeros);
  static const float units[4][2] = {{1, 1}, {-1, -1}, {1, -1}, {-1, 1}};
  for (int h = 0; h < 4; h++) {
    w0[h * 2] = units[h][0];
    w0[h * 2 + 1] = units[h][1];
    w2[16 + h] = h < 2 ? 1.0f : -1.0f;   /* row 1 of [2][16]: logit 1 */
  }
  xor_infer_import_tensor(&params, 0, w0);
  xor_infer_import_tensor(&params, 1, zeros);
  xor_infer_import_tensor(&params, 2, w2);
  xor_infer_import_tensor(&params, 3, zeros);
  enum { N = 1000 };
  static float x[N * 2];
  static int32_t cls[N];
  uint32_t u = 99u;
  for (int i = 0; i < N * 2; i++) {
    u = u * 1664525u + 1013904223u;
    x[i] = (float)(u >> 8) / 8388608.0f - 1.0f;
  }
  xor_infer_predict_with(cls, &work, &params, x, N);
  int wrong = 0;
  for (int i = 0; i < N; i++) {
    float a = x[2 * i], b = x[2 * i + 1];
    if (a == 0.0f || b == 0.0f || a == b || a == -b) continue;   /* on a boundary */
    wrong += cls[i] != (a * b > 0.0f);
  }
  printf("infer_app: %s xor inference (variant %s): %d of %d points in the wrong quadrant class\n", XOR_INFER_ISA,
         xor_infer_isa(), wrong, N);
  return wrong == 0 ? 0 : 1;
}
