/* bake.c — host tool of tests/mcu: writes C data for the device programs, bit-exact (floats as
 * C99 hex literals). Compiled once per network against its generated header:
 *
 *   cc -include NAME.h -DNET=NAME -DNET_UP=UPPER -Iruntime bake.c libcr.a -lz -lm
 *
 *   bake init SEED OUT        parameters initialised as the trainer does (cr_init_tensor per
 *                             tensor, PCG32 seed SEED, stream CR_STREAM_INIT)
 *   bake weights DIR OUT      parameters from DIR/<tensor>.npy (PyTorch [out][in] layout, as
 *                             the trainer's `export` writes them) and DIR/norm.npy
 *   bake images IMAGES LABELS COUNT OUT    the first COUNT images (uint8) and labels of an
 *                             IDX pair
 *
 * The parameters are written as
 *   static const union { float f[sizeof(NAME_params) / 4]; NAME_params p; } baked_params;
 * the whole struct including its padding (zeros), so nothing depends on member names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)
#define N_(x) CAT(NET, x)
#define U_(x) CAT(NET_UP, x)

typedef N_(_params) params_t;
static params_t params;

static int fail(const char *msg) {
  fprintf(stderr, "bake: %s\n", msg);
  return 1;
}

static FILE *open_out(const char *path) {
  FILE *f = fopen(path, "w");
  if (f) fprintf(f, "/* written by tests/mcu/bake.c: do not edit */\n");
  return f;
}

static int close_out(FILE *f) { return fclose(f) == 0 ? 0 : fail("cannot write output"); }

static int write_params(const char *path, const char *how) {
  FILE *f = open_out(path);
  if (!f) return fail("cannot open output");
  const float *v = (const float *)&params;
  const size_t count = sizeof params / sizeof(float);
  fprintf(f, "/* %s parameters (%s): %zu floats of " STR(NET) "_params with padding */\n", STR(NET),
          how, count);
  fprintf(f,
          "static const union {\n  float f[%zu];\n  " STR(NET) "_params p;\n} baked_params = {{\n",
          count);
  for (size_t i = 0; i < count; i++) fprintf(f, "%a%s", (double)v[i], i % 8 == 7 ? ",\n" : ", ");
  fprintf(f, "}};\n_Static_assert(sizeof baked_params.f == sizeof(" STR(NET) "_params), "
             "\"baked_params\");\n");
  return close_out(f);
}

static int cmd_init(unsigned long long seed, const char *out) {
  cr_rng r;
  cr_err e;
  cr_rng_seed(&r, seed, CR_STREAM_INIT);
  for (int i = 0; i < U_(_TENSOR_COUNT); i++) {
    const N_(_tensor_info) *t = &N_(_tensors)[i];
    cr_init_spec s = {t->init, t->mode, t->nonlinearity, t->init_a, t->fan_in, t->fan_out};
    if (cr_init_tensor((float *)&params + t->offset, (size_t)t->rows * t->cols, &s, &r, &e))
      return fail(e.msg);
  }
  char how[64];
  snprintf(how, sizeof how, "cr_init_tensor, seed %llu", seed);
  return write_params(out, how);
}

static int cmd_weights(const char *dir, const char *out) {
  char path[4096];
  cr_err e;
  for (int i = 0; i < U_(_TENSOR_COUNT); i++) {
    const N_(_tensor_info) *t = &N_(_tensors)[i];
    cr_npy a;
    snprintf(path, sizeof path, "%s/%s.npy", dir, t->name);
    if (cr_npy_load(&a, path, &e)) return fail(e.msg);
    if (a.dtype != CR_F32 || a.count != (size_t)t->rows * t->cols) {
      cr_npy_free(&a);
      return fail("a tensor's .npy has the wrong type or size");
    }
    N_(_import_tensor)(&params, i, a.data);
    cr_npy_free(&a);
  }
  cr_norm nm;
  snprintf(path, sizeof path, "%s/norm.npy", dir);
  if (cr_norm_load(&nm, path, &e)) return fail(e.msg);
  if (nm.per_feature) return fail("per-feature normalisation is not supported");
  if (write_params(out, dir)) return 1;
  FILE *f = fopen(out, "a");
  if (!f) return fail("cannot append to output");
  fprintf(f, "#define BAKED_MEAN %af  /* %.9g */\n#define BAKED_STD %af  /* %.9g */\n",
          (double)nm.mean, (double)nm.mean, (double)nm.std, (double)nm.std);
  return close_out(f);
}

static int cmd_images(const char *images, const char *labels, long count, const char *out) {
  uint8_t *im, *lb;
  size_t im_len, lb_len;
  cr_err e;
  if (cr_read_file(images, &im, &im_len, (size_t)1 << 28, &e)) return fail(e.msg);
  if (cr_read_file(labels, &lb, &lb_len, (size_t)1 << 28, &e)) return fail(e.msg);
  /* IDX: magic 0x00000803, n, rows, cols (big-endian) then bytes; labels 0x00000801, n. */
  const size_t dim = 28 * 28;
  if (im_len < 16 || im[2] != 8 || im[3] != 3 || lb_len < 8 || lb[2] != 8 || lb[3] != 1 ||
      im[11] != 28 || im[15] != 28 || count < 1 || im_len < 16 + (size_t)count * dim ||
      lb_len < 8 + (size_t)count)
    return fail("images/labels: not a 28x28 IDX pair with that many rows");
  FILE *f = open_out(out);
  if (!f) return fail("cannot open output");
  fprintf(f, "/* the first %ld images and labels of %s */\n#define BAKED_COUNT %ld\n", count,
          images, count);
  fprintf(f, "static const uint8_t baked_images[%ld][%zu] = {\n", count, dim);
  for (long i = 0; i < count; i++) {
    fprintf(f, "{");
    for (size_t j = 0; j < dim; j++) fprintf(f, "%u,", im[16 + i * dim + j]);
    fprintf(f, "},\n");
  }
  fprintf(f, "};\nstatic const uint8_t baked_labels[%ld] = {", count);
  for (long i = 0; i < count; i++) fprintf(f, "%u,", lb[8 + i]);
  fprintf(f, "};\n");
  free(im);
  free(lb);
  return close_out(f);
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "init")) return cmd_init(strtoull(argv[2], 0, 10), argv[3]);
  if (argc == 4 && !strcmp(argv[1], "weights")) return cmd_weights(argv[2], argv[3]);
  if (argc == 6 && !strcmp(argv[1], "images"))
    return cmd_images(argv[2], argv[3], strtol(argv[4], 0, 10), argv[5]);
  fprintf(stderr, "usage: bake init SEED OUT | weights DIR OUT | images IMAGES LABELS COUNT OUT\n");
  return 2;
}
