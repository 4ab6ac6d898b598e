/* randspec — writes small random network specs for the generator, and beside each one an
 * independent description of the same network for the double-precision reference
 * (tests/ref/README.md), both from one draw of its own fixed random generator (splitmix64),
 * so the output is the same on every machine and the reference never learns a network
 * from the generator.
 *
 *   randspec OUTDIR [COUNT [SEED [CONV_COUNT [WIDE_COUNT]]]]
 *       writes OUTDIR/rNN.lua and OUTDIR/rNN.desc (COUNT of them, default 24), then
 *       OUTDIR/cNN.lua and OUTDIR/cNN.desc (CONV_COUNT image networks, default 0), then
 *       OUTDIR/wNN.lua and OUTDIR/wNN.desc (WIDE_COUNT wide MLPs, default 0)
 *
 * Each network: 1-4 linear layers, widths 1-70 (odd and prime sizes are drawn on purpose),
 * between linears nothing, relu() or relu{shift = s}; loss mse (last width 1) or
 * cross_entropy (last width >= 2); batch 1-70; optimizer sgd (momentum, dampening,
 * nesterov, weight decay), adam or adamw, with some keys left to their defaults.
 *
 * From r24 on (COUNT > 24) the networks also use leaky_relu (leaky_relu() with torch's
 * default slope 0.01, or leaky_relu{slope = s}), tanh() and sigmoid(): 2-4 linear layers,
 * an optional activation before the first linear (standalone), after each linear but the
 * last a chain of 0-2 activations (the first fused with the linear, the second standalone)
 * and an optional one after the last linear; r24..r28 each force a layout so that each of
 * the three appears fused and standalone (see `forced` in one_act). r00..r23 are drawn by
 * the same code as before those were added, first in the stream, so their shapes stay as
 * they were (generator changes are checked against them; some linears have since lost
 * their bias, below).
 * cNN: image networks: input {C, H, W} (1-4 channels, sides 5-19, primes among them), an
 * optional pooling first, 1-2 conv2d (1-8 out channels, kernel 1-7, stride 1-2, padding up
 * to K/2, bias on or off, some with an init scheme) each with an optional fused activation
 * and an optional max or average pooling (windows that tile the input), flatten,
 * then 1-2 linears and a loss; batch 1-16 (1 for c03, c08, ...). c00..c04 force the corners
 * (conv_forced). They come from their own stream (seeded from SEED), after the rNN, so adding
 * them left r00..r29 byte-identical. From c08 on: pooled nets (input sides 12-28, 1-2 convs
 * of 8-32 channels each under a max pooling that tiles it, draw_pooled_conv), for the sparse
 * conv gradients; drawn after c00..c07, which stay byte-identical.
 * wNN (WIDE_COUNT of them, default 0, from a third stream): wide MLPs for the big-layer paths
 * of the SIMD kernels (packing, blocking, ragged tile widths, the batch-1 streams) that the
 * small ones never reach: input 90-1100 or 784, 1000, 1536, 3072; 1-3 hidden linears 9-1300
 * wide (multiples of 8, widths where only a narrow tile divides, plain draws), each followed
 * by relu, relu{shift}, leaky_relu or tanh; cross_entropy or mse; batch 1-256 (w03, w09, ...:
 * 1; w05, w11, ...: 128-256), halved (w05, w11, ...: the widest hidden layer halved) until
 * the network's multiply-adds per step, batch x sum of in x out, are at most 40 M (the
 * double reference's time).
 * Every linear layer of every network may be drawn without a bias (bias = false, about one
 * in five), from a stream of its own per kind of network: the networks' shapes and every
 * other draw are those of the seed before that was added.
 * A file is written only if its content changed (so make does not rebuild needlessly).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state;

static uint64_t next(void)
{
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* uniform integer in [lo, hi] (the modulo bias is irrelevant here and the same everywhere) */
static int between(int lo, int hi) { return lo + (int)(next() % (uint64_t)(hi - lo + 1)); }
static int chance(int percent) { return between(1, 100) <= percent; }
#define PICK(arr) (arr[between(0, (int)(sizeof arr / sizeof arr[0]) - 1)])

static int width(void)
{
  static const int primes[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67};
  static const int edges[] = {1, 8, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 70};
  int r = between(1, 10);
  if (r <= 4) return PICK(primes);
  if (r <= 6) return PICK(edges);
  return between(1, 70);
}

typedef struct { char *p; size_t len, cap; } text;

static void add(text *t, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int need = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (need < 0) abort();
  if (t->len + (size_t)need + 1 > t->cap) {
    t->cap = (t->len + (size_t)need + 1) * 2;
    t->p = realloc(t->p, t->cap);
    if (!t->p) abort();
  }
  va_start(ap, fmt);
  vsnprintf(t->p + t->len, (size_t)need + 1, fmt, ap);
  va_end(ap);
  t->len += (size_t)need;
}

/* Write path only if its content differs; temp file + rename. */
static int write_if_changed(const char *path, const text *t)
{
  FILE *f = fopen(path, "rb");
  if (f) {
    char *old = malloc(t->len + 2);
    if (!old) abort();
    size_t got = fread(old, 1, t->len + 1, f);
    fclose(f);
    int same = got == t->len && memcmp(old, t->p, t->len) == 0;
    free(old);
    if (same) return 0;
  }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  f = fopen(tmp, "wb");
  if (!f) { fprintf(stderr, "randspec: %s: %s\n", tmp, strerror(errno)); return -1; }
  int bad = fwrite(t->p, 1, t->len, f) != t->len;
  bad |= fclose(f) != 0;
  if (bad || rename(tmp, path) != 0) {
    fprintf(stderr, "randspec: %s: write failed\n", path);
    remove(tmp);
    return -1;
  }
  return 0;
}

static int write_pair(const char *dir, const char *name, text *lua, text *desc)
{
  char path[4096];
  int rc = 0;
  snprintf(path, sizeof path, "%s/%s.lua", dir, name);
  rc |= write_if_changed(path, lua);
  snprintf(path, sizeof path, "%s/%s.desc", dir, name);
  rc |= write_if_changed(path, desc);
  free(lua->p);
  free(desc->p);
  return rc;
}

/* The optimizer line (the spec's optimizer = ... and the description's), at the end of a
   network's draw. Adam's eps is torch's 1e-8 or 1e-6, wide nets too: test_isa checks Adam's
   steps given each build's own gradient and first step (a wide layer's gradient that is a
   cancellation residue near 0 moves its weight by up to lr whatever its float error). */
static void optimizer(text *lua, text *desc)
{
  static const char *sgd_lr[] = {"0.1", "0.05", "0.01", "0.5"};
  static const char *adam_lr[] = {"0.001", "0.003", "0.01"};
  static const char *momenta[] = {"0.9", "0.5", "0.99"};
  static const char *decays[] = {"0.0001", "0.005", "0.01"};
  int kind = between(1, 10);
  if (kind <= 5) {
    const char *lr = PICK(sgd_lr);
    add(lua, "  optimizer = sgd { lr = %s", lr);
    add(desc, "optimizer sgd lr=%s", lr);
    if (chance(70)) {
      const char *m = PICK(momenta);
      add(lua, ", momentum = %s", m);
      add(desc, " momentum=%s", m);
      if (chance(40)) {
        add(lua, ", nesterov = true");
        add(desc, " nesterov=1");
      } else if (chance(40)) {
        add(lua, ", dampening = 0.1");
        add(desc, " dampening=0.1");
      }
    }
  } else {
    const char *lr = PICK(adam_lr), *k = kind <= 8 ? "adam" : "adamw";
    add(lua, "  optimizer = %s { lr = %s", k, lr);
    add(desc, "optimizer %s lr=%s", k, lr);
    if (chance(40)) {
      add(lua, ", beta1 = 0.8, beta2 = 0.99");
      add(desc, " beta1=0.8 beta2=0.99");
    }
    if (chance(30)) {
      add(lua, ", eps = 1e-6");
      add(desc, " eps=1e-6");
    }
  }
  if (chance(40)) {
    const char *d = PICK(decays);
    add(lua, ", weight_decay = %s", d);
    add(desc, " weight_decay=%s", d);
  }
}

/* r00..r23: linears and relus only. Do not change what or in which order this draws. */
static const char *inits[] = {"kaiming_normal", "kaiming_uniform", "xavier_uniform",
                              "xavier_normal", "simple_kaiming", "pytorch_default"};
static const char *shifts[] = {"-0.5", "0.25", "-0.125", "0.5"};

/* The parts every drawn spec shares, drawn in this order: the batch after the input width,
   layer count and loss; each linear layer's width and init. */
static int draw_batch(int index)
{
  int r = between(1, 10);
  int batch = r == 1 ? 1 : r <= 3 ? PICK(((const int[]){8, 16, 32, 64})) : between(2, 70);
  return index % 12 == 3 ? 1 : batch;
}

static void begin(text *lua, text *desc, const char *name, int in, int batch, int ce)
{
  add(lua, "-- generated by tests/randspec (seeded); do not edit\n");
  add(lua, "return network \"%s\" {\n  input = %d,\n  layers = {", name, in);
  add(desc, "# generated by tests/randspec (seeded) with %s.lua; do not edit\n", name);
  add(desc, "name %s\ninput %d\nbatch %d\nloss %s\n", name, in, batch, ce ? "cross_entropy" : "mse");
}

/* About one linear layer in five without a bias (bias = false), drawn from a stream of its
   own, seeded again before each kind of network (in main), so that every other draw, and
   with it every network's shape, is what it was before linear layers could drop their bias,
   and COUNT still moves neither the image nor the wide networks. */
static uint64_t bias_state;

static int drop_bias(void)
{
  uint64_t keep = state;
  state = bias_state;
  int r = chance(20);
  bias_state = state;
  state = keep;
  return r;
}

/* linear(w[, {init = ..., bias = false}]) and its description line */
static void linear_line(text *lua, text *desc, int w, const char *init)
{
  int nobias = drop_bias();
  if (init || nobias) {
    add(lua, " linear(%d, {", w);
    if (init) add(lua, "init = \"%s\"%s", init, nobias ? ", " : "");
    add(lua, "%s}),", nobias ? "bias = false" : "");
  } else {
    add(lua, " linear(%d),", w);
  }
  add(desc, "linear %d%s%s%s\n", w, init ? " " : "", init ? init : "", nobias ? " bias=0" : "");
}

static void linear_layer(text *lua, text *desc, int last, int ce)
{
  int w = !last ? width() : ce ? (chance(50) ? between(2, 12) : (width() % 69) + 2) : 1;
  linear_line(lua, desc, w, chance(35) ? PICK(inits) : NULL);
}

static int finish(const char *dir, const char *name, text *lua, text *desc, int batch, int ce)
{
  lua->len--;   /* drop the last comma */
  add(lua, " },\n  loss = \"%s\",\n  batch = %d,\n", ce ? "cross_entropy" : "mse", batch);
  optimizer(lua, desc);
  add(lua, " },\n}\n");
  add(desc, "\n");
  return write_pair(dir, name, lua, desc);
}

static int one(const char *dir, int index)
{
  char name[16];
  snprintf(name, sizeof name, "r%02d", index);
  text lua = {0}, desc = {0};

  int in = width(), nlin = between(1, 4), ce = chance(60);
  int batch = draw_batch(index);   /* B = 1 always among the drawn nets */

  begin(&lua, &desc, name, in, batch, ce);
  for (int l = 0; l < nlin; l++) {
    int last = l == nlin - 1;
    linear_layer(&lua, &desc, last, ce);
    if (!last) {
      int k = between(1, 10);
      if (k <= 4) {
        add(&lua, " relu(),");
        add(&desc, "relu 0\n");
      } else if (k <= 8) {
        const char *s = PICK(shifts);
        add(&lua, " relu{shift = %s},", s);
        add(&desc, "relu %s\n", s);
      }   /* else two linears in a row */
    }
  }
  return finish(dir, name, &lua, &desc, batch, ce);
}

/* ---- r24 on: leaky_relu, tanh and sigmoid as well ---- */

enum { A_RELU, A_RELU_SHIFT, A_LEAKY_DEFAULT, A_LEAKY, A_TANH, A_SIGMOID, A_KINDS, A_NONE = -1 };

static void activation(text *lua, text *desc, int a)
{
  static const char *slopes[] = {"0.1", "0.2", "0.05", "0.3"};
  switch (a) {
  case A_RELU: add(lua, " relu(),"); add(desc, "relu 0\n"); break;
  case A_RELU_SHIFT: {
    const char *s = PICK(shifts);
    add(lua, " relu{shift = %s},", s);
    add(desc, "relu %s\n", s);
    break;
  }
  case A_LEAKY_DEFAULT:   /* torch.nn.LeakyReLU's default negative_slope */
    add(lua, " leaky_relu(),");
    add(desc, "leaky_relu 0.01\n");
    break;
  case A_LEAKY: {
    const char *s = PICK(slopes);
    add(lua, " leaky_relu{slope = %s},", s);
    add(desc, "leaky_relu %s\n", s);
    break;
  }
  case A_TANH: add(lua, " tanh(),"); add(desc, "tanh\n"); break;
  case A_SIGMOID: add(lua, " sigmoid(),"); add(desc, "sigmoid\n"); break;
  default: break;
  }
}

/* one of the six, the three new ones twice as likely as each relu */
static int any_activation(void)
{
  static const int pool[] = {A_RELU, A_RELU_SHIFT, A_LEAKY_DEFAULT, A_LEAKY, A_LEAKY, A_TANH, A_TANH,
                             A_SIGMOID, A_SIGMOID};
  return PICK(pool);
}

/* The layouts r24..r28 must contain: [0] before the first linear, [1] fused after the first
   linear, [2] standalone right after it, [3] after the last linear; A_NONE = drawn. Together
   each of leaky_relu, tanh, sigmoid appears fused and standalone (first layer, chained after
   another activation, last before the loss). */
static const int forced[5][4] = {
  {A_TANH, A_LEAKY, A_NONE, A_NONE},                 /* r24 */
  {A_NONE, A_TANH, A_SIGMOID, A_NONE},               /* r25 */
  {A_SIGMOID, A_LEAKY_DEFAULT, A_TANH, A_NONE},      /* r26 */
  {A_NONE, A_SIGMOID, A_NONE, A_LEAKY},              /* r27 (batch 1) */
  {A_LEAKY, A_NONE, A_LEAKY_DEFAULT, A_SIGMOID},     /* r28 */
};

static int one_act(const char *dir, int index)
{
  char name[16];
  snprintf(name, sizeof name, "r%02d", index);
  text lua = {0}, desc = {0};
  const int *f = index - 24 < 5 ? forced[index - 24] : NULL;

  int in = width(), nlin = between(2, 4), ce = chance(60);
  int batch = draw_batch(index);   /* r27: batch 1 (the SIMD flat-stream forward) */

  begin(&lua, &desc, name, in, batch, ce);
  int a = f && f[0] != A_NONE ? f[0] : chance(30) ? any_activation() : A_NONE;
  activation(&lua, &desc, a);
  for (int l = 0; l < nlin; l++) {
    int last = l == nlin - 1;
    linear_layer(&lua, &desc, last, ce);
    int fused, chained;
    if (!last) {   /* 0-2 activations: the first fused with this linear, the second standalone */
      int k = between(1, 10);
      fused = k <= 8 ? any_activation() : A_NONE;
      chained = k <= 3 ? any_activation() : A_NONE;
      if (l == 0 && f && f[1] != A_NONE) fused = f[1];
      if (l == 0 && f && f[2] != A_NONE) {
        chained = f[2];
        if (fused == A_NONE) fused = any_activation();
      }
    } else {
      fused = f && f[3] != A_NONE ? f[3] : chance(25) ? any_activation() : A_NONE;
      chained = A_NONE;
    }
    activation(&lua, &desc, fused);
    activation(&lua, &desc, chained);
  }
  return finish(dir, name, &lua, &desc, batch, ce);
}

/* ---- c00 on: image networks (conv2d, pooling, flatten), from a stream of their own ---- */

/* One conv block's draw: the conv's options, kept valid for the image h x w it meets. */
typedef struct { int out, k, s, p, bias; } conv_draw;

/* Forced corners of c00..c04 (0 = drawn): input channels, first conv's out channels, kernel,
   stride, padding. Together: 1 and 3 input channels, kernel 1 and 7, stride 2 with padding,
   out channels 1, 3, 5 and 8 (not multiples of 8 and one that is). */
static const int conv_forced[5][5] = {
  {1, 5, 7, 2, 3},   /* c00 */
  {3, 3, 1, 1, 0},   /* c01 */
  {3, 8, 3, 2, 1},   /* c02 */
  {1, 1, 5, 1, 2},   /* c03 (batch 1) */
  {2, 7, 2, 2, 0},   /* c04 */
};

static conv_draw draw_conv(int h, int w, const int *f)
{
  conv_draw c;
  static const int outs[] = {1, 2, 3, 4, 5, 6, 7, 8, 3, 5, 7};
  c.out = f && f[1] ? f[1] : PICK(outs);
  c.k = f && f[2] ? f[2] : between(1, 7);
  c.s = f && f[3] ? f[3] : between(1, 2);
  c.p = f ? f[4] : between(0, c.k / 2);
  int small = h < w ? h : w;
  while (c.k > small + 2 * c.p) c.k--;   /* the kernel fits the padded input */
  if (c.p > c.k / 2) c.p = c.k / 2;
  c.bias = chance(75);
  return c;
}

/* From c08 on (pooled nets) each conv is followed by a max pooling whose windows tile its
   output without overlap (kernel 2 or 3, stride = kernel), so at most a quarter of the conv's
   output gradient is nonzero: the sparse weight and input gradients of
   gen/kernels/convtile.lua (gen/schedule.lua's g_density) that c00..c07 never reach. The
   conv: 8-32 out channels (the sparse input gradient pays off from about a dozen), kernel
   3-7, stride 1 or 2; redrawn until a pool kernel divides both output sides (*pool, 0 when
   30 draws found none). */
static conv_draw draw_pooled_conv(int h, int w, int *pool)
{
  static const int outs[] = {8, 12, 16, 20, 24, 32};
  conv_draw c = {0};
  for (int tries = 0; tries < 30; tries++) {
    c.out = PICK(outs);
    c.k = between(3, 7);
    c.s = chance(80) ? 1 : 2;
    c.p = between(0, c.k / 2);
    int small = h < w ? h : w;
    while (c.k > small + 2 * c.p) c.k--;
    if (c.p > c.k / 2) c.p = c.k / 2;
    c.bias = chance(75);
    int oh = (h + 2 * c.p - c.k) / c.s + 1, ow = (w + 2 * c.p - c.k) / c.s + 1;
    for (*pool = 2; *pool <= 3; ++*pool)
      if (oh % *pool == 0 && ow % *pool == 0) return c;
  }
  *pool = 0;
  return c;
}

/* A pooling layer whose windows tile h x w (the generator refuses others; stride 1 when the
   drawn one does not), or none when the window is larger than the image. */
static void pool_layer(text *lua, text *desc, int *h, int *w)
{
  int k = between(2, 3), s = chance(50) ? k : between(1, 2), max = chance(55);
  if (k > *h || k > *w) return;
  if ((*h - k) % s || (*w - k) % s) s = 1;   /* stride 1 always tiles */
  const char *word = max ? "maxpool2d" : "avgpool2d";
  if (s == k) {
    add(lua, " %s{kernel = %d},", word, k);
    add(desc, "%s kernel=%d\n", word, k);
  } else {
    add(lua, " %s{kernel = %d, stride = %d},", word, k, s);
    add(desc, "%s kernel=%d stride=%d\n", word, k, s);
  }
  *h = (*h - k) / s + 1;
  *w = (*w - k) / s + 1;
}

static int one_conv(const char *dir, int index)
{
  char name[16];
  snprintf(name, sizeof name, "c%02d", index);
  text lua = {0}, desc = {0};
  const int *f = index < 5 ? conv_forced[index] : NULL;
  static const int chans[] = {1, 1, 3, 3, 2, 4};
  static const int sides[] = {5, 7, 9, 11, 12, 13, 16, 17, 19};
  static const int pooled_sides[] = {12, 14, 16, 18, 20, 23, 24, 28};
  int pooled = index >= 8;
  int c = f ? f[0] : PICK(chans), h = pooled ? PICK(pooled_sides) : PICK(sides);
  int w = chance(50) ? h : pooled ? PICK(pooled_sides) : PICK(sides);
  int nconv = pooled ? 1 + chance(75) : between(1, 2), nlin = between(1, 2), ce = chance(60);
  int r = between(1, 10), batch = index % 5 == 3 ? 1 : r <= 2 ? 16 : between(2, 12);

  add(&lua, "-- generated by tests/randspec (seeded); do not edit\n");
  add(&lua, "return network \"%s\" {\n  input = {%d, %d, %d},\n  layers = {", name, c, h, w);
  add(&desc, "# generated by tests/randspec (seeded) with %s.lua; do not edit\n", name);
  add(&desc, "name %s\ninput %d %d %d\nbatch %d\nloss %s\n", name, c, h, w, batch,
      ce ? "cross_entropy" : "mse");
  if (!pooled && chance(15)) pool_layer(&lua, &desc, &h, &w);   /* pooling first: its backward reads x */
  for (int l = 0; l < nconv; l++) {
    int pool = 0;
    conv_draw d = pooled ? draw_pooled_conv(h, w, &pool) : draw_conv(h, w, l == 0 ? f : NULL);
    add(&lua, " conv2d(%d, {kernel = %d", d.out, d.k);
    add(&desc, "conv2d %d kernel=%d", d.out, d.k);
    if (d.s != 1) { add(&lua, ", stride = %d", d.s); add(&desc, " stride=%d", d.s); }
    if (d.p != 0) { add(&lua, ", padding = %d", d.p); add(&desc, " padding=%d", d.p); }
    if (!d.bias) { add(&lua, ", bias = false"); add(&desc, " bias=0"); }
    if (chance(25)) {
      const char *init = PICK(inits);
      add(&lua, ", init = \"%s\"", init);
      add(&desc, " init=%s", init);
    }
    add(&lua, "}),");
    add(&desc, "\n");
    h = (h + 2 * d.p - d.k) / d.s + 1;
    w = (w + 2 * d.p - d.k) / d.s + 1;
    activation(&lua, &desc, chance(80) ? any_activation() : A_NONE);   /* fused with the conv */
    if (pool) {
      add(&lua, " maxpool2d{kernel = %d},", pool);
      add(&desc, "maxpool2d kernel=%d\n", pool);
      h /= pool;
      w /= pool;
    } else if (!pooled && chance(60)) {
      pool_layer(&lua, &desc, &h, &w);
    }
  }
  add(&lua, " flatten(),");
  add(&desc, "flatten\n");
  if (chance(20)) activation(&lua, &desc, any_activation());   /* standalone, on flat features */
  for (int l = 0; l < nlin; l++) {
    int last = l == nlin - 1;
    linear_layer(&lua, &desc, last, ce);
    if (!last) activation(&lua, &desc, chance(70) ? any_activation() : A_NONE);
  }
  return finish(dir, name, &lua, &desc, batch, ce);
}

/* ---- w00 on: wide MLPs, from a stream of their own ---- */

static int wide_width(void)
{
  static const int known[] = {1000, 1024, 500, 400, 200, 120, 344, 560, 1200, 768};
  int r = between(1, 20);
  if (r <= 8) return 8 * between(2, 162);
  if (r <= 14) return between(100, 1300);
  if (r <= 17) return PICK(known);
  return between(9, 130);
}

static int one_wide(const char *dir, int index)
{
  char name[16];
  snprintf(name, sizeof name, "w%02d", index);
  text lua = {0}, desc = {0};
  static const int inputs[] = {784, 1000, 1536, 3072};
  static const int batches[] = {1, 2, 5, 8, 16, 31, 32, 50, 64, 64, 100, 128, 160, 256};
  static const int classes[] = {2, 3, 10, 10, 17, 40};
  int in = chance(50) ? PICK(inputs) : between(90, 1100), nhid = between(1, 3), ce = chance(75);
  static const int large[] = {128, 160, 256};
  int w[4], batch = PICK(batches);
  if (index % 6 == 3) batch = 1;                    /* the batch-1 streams */
  else if (index % 6 == 5) batch = PICK(large);     /* blocked reductions over n */
  for (int l = 0; l <= nhid; l++) w[l] = l < nhid ? wide_width() : ce ? PICK(classes) : 1;
  for (;;) {   /* within budget: halve the batch, or (a large one) the widest hidden layer */
    long macs = 0;
    int widest = 0;
    for (int l = 0; l <= nhid; l++) {
      macs += (long)(l ? w[l - 1] : in) * w[l];
      if (l < nhid && w[l] > w[widest]) widest = l;
    }
    if (batch == 1 || batch * macs <= 40000000L) break;
    if (index % 6 == 5 && w[widest] > 64) w[widest] = (w[widest] + 1) / 2;
    else batch /= 2;
  }

  begin(&lua, &desc, name, in, batch, ce);
  for (int l = 0; l <= nhid; l++) {
    linear_line(&lua, &desc, w[l], NULL);
    if (l == nhid) break;
    int k = between(1, 10);
    activation(&lua, &desc, k <= 5 ? A_RELU : k <= 7 ? A_RELU_SHIFT : k <= 9 ? A_LEAKY : A_TANH);
  }
  return finish(dir, name, &lua, &desc, batch, ce);
}

int main(int argc, char **argv)
{
  if (argc < 2 || argc > 6 || strlen(argv[1]) > 4000) {
    fprintf(stderr, "usage: randspec OUTDIR [COUNT [SEED [CONV_COUNT [WIDE_COUNT]]]]\n");
    return 2;
  }
  char *end;
  long count = argc > 2 ? strtol(argv[2], &end, 10) : 24;
  if (argc > 2 && (*end || count < 1 || count > 100)) {
    fprintf(stderr, "randspec: COUNT must be 1..100, got '%s'\n", argv[2]);
    return 2;
  }
  unsigned long long seed = argc > 3 ? strtoull(argv[3], &end, 10) : 20261129ull;
  if (argc > 3 && *end) {
    fprintf(stderr, "randspec: SEED must be a number, got '%s'\n", argv[3]);
    return 2;
  }
  long nconv = argc > 4 ? strtol(argv[4], &end, 10) : 0;
  if (argc > 4 && (*end || nconv < 0 || nconv > 100)) {
    fprintf(stderr, "randspec: CONV_COUNT must be 0..100, got '%s'\n", argv[4]);
    return 2;
  }
  long nwide = argc > 5 ? strtol(argv[5], &end, 10) : 0;
  if (argc > 5 && (*end || nwide < 0 || nwide > 100)) {
    fprintf(stderr, "randspec: WIDE_COUNT must be 0..100, got '%s'\n", argv[5]);
    return 2;
  }
  state = seed;
  bias_state = seed ^ 0x6e6f62696173ull;
  for (int i = 0; i < count; i++)
    if (i < 24 ? one(argv[1], i) : one_act(argv[1], i)) return 1;
  /* the image networks draw from a stream of their own: COUNT does not move them */
  state = seed ^ 0x636f6e7632646cull;
  bias_state = seed ^ 0x6e6f62696173ull ^ 0x636f6e7632646cull;
  for (int i = 0; i < nconv; i++)
    if (one_conv(argv[1], i)) return 1;
  state = seed ^ 0x776964656d6c70ull;
  bias_state = seed ^ 0x6e6f62696173ull ^ 0x776964656d6c70ull;
  for (int i = 0; i < nwide; i++)
    if (one_wide(argv[1], i)) return 1;
  return 0;
}
