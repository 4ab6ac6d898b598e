/* The inference-only build against PyTorch (make test-inference). The generated pair is made
 * with --name infer (so this file names infer_* whatever the spec) from
 * tests/inference/vectors/mnist_mlp/ (PyTorch state_dict as .npy, tests/inference/make_vectors.py)
 * or from a trainer checkpoint of those files, for an ISA and a --max-batch. Checks:
 *   - infer_weights holds the .npy floats bit for bit (through infer_export_tensor);
 *   - infer_predict over the 200 validation images equals PyTorch's predictions, every one;
 *   - infer_forward (chunks of INFER_BATCH rows) gives PyTorch's logits within
 *     1e-5 + 1e-4·max|logit| and the same argmax; infer_predict_with with a caller's work too.
 * Inputs: (byte / 255 - mean) / std in float32 with the header's INFER_NORM_MEAN/STD, as
 * PyTorch computed them. No libc beyond stdio/stdlib/string: runs under qemu-aarch64 as is.
 *
 * usage: infer_test VECTOR_DIR */
#include "infer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../soft_check.h"

#define N_VALID 200

/* A .npy file's data: checks the element size and count, returns malloc'ed bytes. */
static void *load_npy(const char *dir, const char *name, size_t elem, size_t count) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "infer_test: cannot open %s\n", path);
    exit(1);
  }
  unsigned char head[12];
  if (fread(head, 1, 10, f) != 10 || memcmp(head, "\x93NUMPY", 6) != 0 || head[6] != 1) {
    fprintf(stderr, "infer_test: %s: not a version-1 .npy file\n", path);
    exit(1);
  }
  size_t hl = (size_t)head[8] | (size_t)head[9] << 8;
  fseek(f, (long)(10 + hl), SEEK_SET);
  void *data = malloc(elem * count + 1);
  size_t got = fread(data, 1, elem * count + 1, f);
  fclose(f);
  if (got != elem * count) {
    fprintf(stderr, "infer_test: %s: %zu data bytes, expected %zu\n", path, got, elem * count);
    exit(1);
  }
  return data;
}


static int argmax(const float *o) {
  int best = 0;
  for (int j = 1; j < INFER_OUT; j++)
    if (o[j] > o[best]) best = j;
  return best;
}

static infer_work work;

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: infer_test VECTOR_DIR\n");
    return 2;
  }
  const char *dir = argv[1];

  /* 1. the baked weights are the source floats, bit for bit */
  for (int t = 0; t < INFER_TENSOR_COUNT; t++) {
    const infer_tensor_info *ti = &infer_tensors[t];
    size_t n = (size_t)ti->rows * (size_t)ti->cols;
    char name[64];
    snprintf(name, sizeof name, "%s.npy", ti->name);
    float *want = load_npy(dir, name, 4, n);
    float *got = malloc(4 * n);
    infer_export_tensor(got, &infer_weights, t);
    CHECK(memcmp(got, want, 4 * n) == 0, "tensor %s: infer_weights differs from %s", ti->name, name);
    free(got);
    free(want);
  }

  /* 2. inputs normalised as PyTorch did */
  unsigned char *u8 = load_npy(dir, "valid-x.npy", 1, (size_t)N_VALID * INFER_IN);
  unsigned char *labels = load_npy(dir, "valid-y.npy", 1, N_VALID);
  float *logits = load_npy(dir, "valid-logits.npy", 4, (size_t)N_VALID * INFER_OUT);
  int32_t *pred = load_npy(dir, "valid-pred.npy", 4, N_VALID);
  float *x = malloc(sizeof(float) * N_VALID * INFER_IN);
  for (int i = 0; i < N_VALID * INFER_IN; i++) x[i] = ((float)u8[i] / 255.0f - INFER_NORM_MEAN) / INFER_NORM_STD;

  /* 3. predictions: every one equal to PyTorch's */
  int32_t classes[N_VALID], classes2[N_VALID];
  infer_predict(classes, x, N_VALID);
  int same = 0, right = 0;
  for (int i = 0; i < N_VALID; i++) {
    same += classes[i] == pred[i];
    right += classes[i] == labels[i];
    CHECK(classes[i] == pred[i], "image %d: infer_predict says %d, PyTorch %d", i, (int)classes[i], (int)pred[i]);
  }
  infer_predict_with(classes2, &work, &infer_weights, x, N_VALID);
  CHECK(memcmp(classes, classes2, sizeof classes) == 0, "infer_predict_with differs from infer_predict");

  /* 4. logits within tolerance, chunk by chunk */
  float maxw = 0.0f, worst = 0.0f;
  for (int i = 0; i < N_VALID * INFER_OUT; i++) maxw = logits[i] > maxw ? logits[i] : -logits[i] > maxw ? -logits[i] : maxw;
  const float tol = 1e-5f + 1e-4f * maxw;
  float out[INFER_BATCH * INFER_OUT];
  for (int i0 = 0; i0 < N_VALID; i0 += INFER_BATCH) {
    int n = N_VALID - i0 < INFER_BATCH ? N_VALID - i0 : INFER_BATCH;
    infer_forward(out, &work, &infer_weights, x + (size_t)i0 * INFER_IN, n);
    for (int r = 0; r < n; r++) {
      for (int j = 0; j < INFER_OUT; j++) {
        float d = out[r * INFER_OUT + j] - logits[(i0 + r) * INFER_OUT + j];
        d = d < 0 ? -d : d;
        worst = d > worst ? d : worst;
        CHECK(d <= tol, "image %d logit %d: %.9g, PyTorch %.9g", i0 + r, j, (double)out[r * INFER_OUT + j],
              (double)logits[(i0 + r) * INFER_OUT + j]);
      }
      CHECK(argmax(out + r * INFER_OUT) == classes[i0 + r], "image %d: forward's argmax differs from predict", i0 + r);
    }
    if (failures > 20) break;
  }
  printf("infer_test [%s, max batch %d]: %d/%d predictions equal PyTorch's (accuracy %.3f), largest |logit - PyTorch| "
         "%.3g (tolerance %.3g), weights bit-exact, work %d bytes%s\n",
         INFER_ISA, INFER_BATCH, same, N_VALID, (double)right / N_VALID, (double)worst, (double)tol,
         (int)sizeof(infer_work), failures ? " -- FAILED" : "");
  free(x), free(u8), free(labels), free(logits), free(pred);
  return failures ? 1 : 0;
}
