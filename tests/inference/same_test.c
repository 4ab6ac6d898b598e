/* The inference-only build computes what the training build's forward computes
 * (make test-inference): the same spec generated twice, as `train` (the normal pair) and as
 * `infer` (--inference), the same random parameters in both (export from one, import into
 * the other), forward for every n from 1 to INFER_BATCH and beyond (infer_predict_with in
 * chunks). When INFER_BATCH equals TRAIN_BATCH the kernels are the same and every output must
 * be bit for bit the training build's; otherwise (other tile shapes, the batch-1 stream)
 * within 1e-5 + 1e-4·max|out|. Any spec: activations standalone, first, chained, last. */
#include "infer.h"
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static train_params tp;
static train_work tw;
static infer_params ip;
static infer_work iw;
static float x[TRAIN_BATCH * TRAIN_IN], a[TRAIN_BATCH * TRAIN_OUT], b[TRAIN_BATCH * TRAIN_OUT];

int main(void) {
  unsigned u = 2024u;
  for (int t = 0; t < TRAIN_TENSOR_COUNT; t++) {
    static float v[TRAIN_PARAM_COUNT];
    for (int k = 0; k < train_tensors[t].rows * train_tensors[t].cols; k++) {
      u = u * 1664525u + 1013904223u;
      v[k] = 0.5f * ((float)(u >> 8) / 8388608.0f - 1.0f);
    }
    train_import_tensor(&tp, t, v);
    infer_import_tensor(&ip, t, v);
  }
  for (int i = 0; i < TRAIN_BATCH * TRAIN_IN; i++) {
    u = u * 1664525u + 1013904223u;
    x[i] = (float)(u >> 8) / 8388608.0f - 1.0f;
  }
  int failures = 0, bitwise = INFER_BATCH == TRAIN_BATCH;
  float worst = 0.0f;
  for (int n = 1; n <= TRAIN_BATCH; n++) {
    train_forward(a, &tw, &tp, x, n);
    for (int i0 = 0; i0 < n; i0 += INFER_BATCH) {
      int m = n - i0 < INFER_BATCH ? n - i0 : INFER_BATCH;
      infer_forward(b + i0 * INFER_OUT, &iw, &ip, x + i0 * INFER_IN, m);
    }
    float mx = 0.0f;
    for (int i = 0; i < n * TRAIN_OUT; i++) mx = fmaxf(mx, fabsf(a[i]));
    for (int i = 0; i < n * TRAIN_OUT; i++) {
      float d = fabsf(a[i] - b[i]);
      worst = fmaxf(worst, d);
      if (bitwise ? memcmp(&a[i], &b[i], sizeof a[i]) != 0 : !(d <= 1e-5f + 1e-4f * mx)) {
        if (failures++ < 5)
          printf("FAIL n=%d out[%d][%d]: inference %.9g, training %.9g\n", n, i / TRAIN_OUT, i % TRAIN_OUT,
                 (double)b[i], (double)a[i]);
      }
    }
  }
  printf("same_test [%s, max batch %d of %d]: inference forward %s the training forward for n = 1..%d "
         "(largest difference %.3g)%s\n", INFER_ISA, INFER_BATCH, TRAIN_BATCH, bitwise ? "bit-identical to" : "within tolerance of",
         TRAIN_BATCH, (double)worst, failures ? " -- FAILED" : "");
  return failures ? 1 : 0;
}
