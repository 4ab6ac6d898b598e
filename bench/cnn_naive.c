/* Naive LeNet baseline (cnn.h): direct convolution loops in a separate file from naive.c
 * (so the two -O3 compiles run in parallel), the linear layers as naive.c's i-k-j loops;
 * the conv loops are plain static functions (sizes are constants only where the compiler
 * chooses to inline: always_inline made clang -O3 take over 6 CPU minutes on them),
 * -O3 -march=native, no fast-math. */
#include "basenet.h"
#include "baselines.h"
#include "cnn.h"
#include "naive_prod.h"

/* The walk the forward and the input gradient share: every output (i, o, oy, ox) of the
 * conv (YI: its index in y and g), then its window: each input pixel inside the image
 * (padding skipped) as xi, the index in x (and dx), and wi, its weight's index in w ([C][K][K][O]),
 * in the order c, ky, kx. Macros, so each function's loops stay as plain as written out
 * (the object code is the same as with the loops spelled out twice). */
#define YI (((i * O + o) * OH + oy) * OW + ox)
#define FOR_OUTPUTS(...)                                                         \
  for (int i = 0; i < n; i++)                                                    \
    for (int o = 0; o < O; o++)                                                  \
      for (int oy = 0; oy < OH; oy++)                                            \
        for (int ox = 0; ox < OW; ox++) {                                        \
          __VA_ARGS__                                                            \
        }
#define FOR_WINDOW(...)                                                          \
  for (int c = 0; c < C; c++)                                                    \
    for (int ky = 0; ky < K; ky++) {                                             \
      int iy = oy + ky - P;                                                      \
      if (iy < 0 || iy >= H) continue;                                           \
      for (int kx = 0; kx < K; kx++) {                                           \
        int ix = ox + kx - P;                                                    \
        if (ix < 0 || ix >= W) continue;                                         \
        const int xi = ((i * C + c) * H + iy) * W + ix, wi = ((c * K + ky) * K + kx) * O + o; \
        __VA_ARGS__                                                              \
      }                                                                          \
    }

static void naive_conv_fwd(float *restrict y, const float *restrict x, const float *restrict w,
                          const float *restrict b, int n, int C, int H, int W, int O, int K, int P, int OH, int OW)
{
  FOR_OUTPUTS(
    float s = b[o];
    FOR_WINDOW(s += x[xi] * w[wi];)
    y[YI] = s;
  )
}

static void naive_conv_wgrad(float *restrict dw, float *restrict db, const float *restrict x, const float *restrict g,
                            int n, int C, int H, int W, int O, int K, int P, int OH, int OW)
{
  for (int o = 0; o < O; o++) {
    float sb = 0.0f;
    for (int i = 0; i < n; i++)
      for (int q = 0; q < OH * OW; q++) sb += g[(i * O + o) * OH * OW + q];
    db[o] = sb;
  }
  for (int c = 0; c < C; c++)
    for (int ky = 0; ky < K; ky++)
      for (int kx = 0; kx < K; kx++)
        for (int o = 0; o < O; o++) {
          float s = 0.0f;
          for (int i = 0; i < n; i++)
            for (int oy = 0; oy < OH; oy++) {
              int iy = oy + ky - P;
              if (iy < 0 || iy >= H) continue;
              for (int ox = 0; ox < OW; ox++) {
                int ix = ox + kx - P;
                if (ix < 0 || ix >= W) continue;
                s += g[((i * O + o) * OH + oy) * OW + ox] * x[((i * C + c) * H + iy) * W + ix];
              }
            }
          dw[((c * K + ky) * K + kx) * O + o] = s;
        }
}

static void naive_conv_xgrad(float *restrict dx, const float *restrict g, const float *restrict w,
                            int n, int C, int H, int W, int O, int K, int P, int OH, int OW)
{
  for (int j = 0; j < n * C * H * W; j++) dx[j] = 0.0f;
  FOR_OUTPUTS(
    float gv = g[YI];
    FOR_WINDOW(dx[xi] += gv * w[wi];)
  )
}

#define CONV_FWD(y, x, W, b, col, n, ...) naive_conv_fwd(y, x, W, b, n, __VA_ARGS__)
#define CONV_WGRAD(dW, db, x, g, col, n, ...) naive_conv_wgrad(dW, db, x, g, n, __VA_ARGS__)
#define CONV_XGRAD(dx, g, W, col, n, ...) naive_conv_xgrad(dx, g, W, n, __VA_ARGS__)
#define STEP_INLINE BN_AI
#define CNN_TABLE naive_cnn_impl
#include "cnn_step.h"
