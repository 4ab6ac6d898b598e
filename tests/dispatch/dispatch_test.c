/* Runtime ISA dispatch (make test-dispatch): `chainrule gen --dispatch x86 --name dnet` (all four)
 * writes dnet_avx512.c, dnet_avx2.c, dnet_sse2.c, dnet_scalar.c (each compiled with its ISA's flags) and
 * dnet.h/dnet.c, whose dnet_* entry points run the best variant this CPU supports. Checks:
 *   - dnet_isa() is the best variant the CPU supports (__builtin_cpu_supports here too);
 *   - each path forced with dnet_use_isa (those the CPU runs): forward + 3 train steps through
 *     dnet_* give exactly the bits of the variant's own functions (the path really went
 *     there), and agree with scalar within test-isa's tolerance; dnet_isa() reports it;
 *   - dnet_use_isa refuses an ISA that was not generated or that this CPU lacks.
 * And the inference build `gen specs/mnist_mlp.lua --inference --weights VECTORS --max-batch 8
 * --dispatch x86 --name infer` (infer.c holds the weights once, the variants none): each path
 * forced with infer_use_isa, infer_forward over infer_weights and infer_predict give exactly the
 * bits and classes of infer_ISA_forward/_predict_with over the same weights. (tests/inference's
 * infer_test runs on this build too: PyTorch's logits and predictions through the best path.) */
#include "dnet.h"
#include "dnet_avx2.h"
#include "dnet_avx512.h"
#include "dnet_scalar.h"
#include "dnet_sse2.h"
#include "infer.h"
#include "infer_avx2.h"
#include "infer_avx512.h"
#include "infer_scalar.h"
#include "infer_sse2.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include "../soft_check.h"
#include "cpu_runs.h"


#define N (DNET_BATCH - 3)
static dnet_params p;
static dnet_grads g;
static dnet_work w;
static dnet_opt s;
static float x[N * DNET_IN], out[N * DNET_OUT];
static dnet_target t[N];

typedef struct {
  float out[N * DNET_OUT];
  float loss[3];
  dnet_params p;
} result;
static result res[4];

static void setup(void) {
  unsigned u = 12345u;
  for (int i = 0; i < DNET_TENSOR_COUNT; i++) {
    static float v[DNET_PARAM_COUNT];
    for (int k = 0; k < dnet_tensors[i].rows * dnet_tensors[i].cols; k++) {
      u = u * 1664525u + 1013904223u;
      v[k] = 0.1f * ((float)(u >> 8) / 8388608.0f - 1.0f);
    }
    dnet_import_tensor(&p, i, v);
  }
  for (int i = 0; i < N * DNET_IN; i++) {
    u = u * 1664525u + 1013904223u;
    x[i] = (float)(u >> 8) / 16777216.0f;
  }
  for (int i = 0; i < N; i++) t[i] = (dnet_target)(i % DNET_OUT);
}

/* One variant's own functions, its types cast from the public ones (the same layout). */
#define RUN_VARIANT(V)                                                                                        \
  do {                                                                                                        \
    dnet_##V##_opt_init((dnet_##V##_opt *)&s);                                                                \
    dnet_##V##_forward(r->out, (dnet_##V##_work *)&w, (dnet_##V##_params *)&p, x, N);                         \
    for (int k = 0; k < 3; k++)                                                                               \
      r->loss[k] = dnet_##V##_train_step((dnet_##V##_params *)&p, (dnet_##V##_opt *)&s, (dnet_##V##_grads *)&g, \
                                         (dnet_##V##_work *)&w, x, t, N);                                     \
  } while (0)

/* Through the dispatching entry points (via = 0) or a variant's own functions (via = 1..4:
   avx512, avx2, sse2, scalar). */
static void run(result *r, int via) {
  setup();
  switch (via) {
  case 0:
    dnet_opt_init(&s);
    dnet_forward(r->out, &w, &p, x, N);
    for (int k = 0; k < 3; k++) r->loss[k] = dnet_train_step(&p, &s, &g, &w, x, t, N);
    break;
  case 1: RUN_VARIANT(avx512); break;
  case 2: RUN_VARIANT(avx2); break;
  case 3: RUN_VARIANT(sse2); break;
  default: RUN_VARIANT(scalar); break;
  }
  r->p = p;
}

static void close_to(const char *isa, const char *what, const float *got, const float *want, int n) {
  float mx = 0.0f;
  for (int i = 0; i < n; i++) mx = fmaxf(mx, fabsf(want[i]));
  for (int i = 0; i < n; i++)
    if (!(fabsf(got[i] - want[i]) <= 1e-5f + 1e-4f * mx)) {
      CHECK(0, "%s %s[%d]: %.9g, scalar %.9g", isa, what, i, (double)got[i], (double)want[i]);
      return;
    }
}

/* The inference dispatcher forced to variant v (0..3: avx512, avx2, sse2, scalar): infer_forward
   and infer_predict against the variant's own functions on the same weights. */
#define NI 13
_Static_assert(NI <= N && INFER_IN == DNET_IN, "check_infer's rows come from x");
#define INFER_VARIANT(V)                                                                         \
  do {                                                                                           \
    for (int i0 = 0; i0 < NI; i0 += INFER_BATCH) {                                               \
      int rows = NI - i0 < INFER_BATCH ? NI - i0 : INFER_BATCH;                                  \
      infer_##V##_forward(want + i0 * INFER_OUT, (infer_##V##_work *)&iw,                        \
                          (const infer_##V##_params *)&infer_weights, x + i0 * INFER_IN, rows);  \
    }                                                                                            \
    infer_##V##_predict_with(want_cls, (infer_##V##_work *)&iw, (const infer_##V##_params *)&infer_weights, x, NI); \
  } while (0)

static void check_infer(const char *isa, int v) {
  const int before = failures;
  static infer_work iw;
  static float got[NI * INFER_OUT], want[NI * INFER_OUT];
  int32_t got_cls[NI], want_cls[NI];
  for (int i0 = 0; i0 < NI; i0 += INFER_BATCH) {
    int rows = NI - i0 < INFER_BATCH ? NI - i0 : INFER_BATCH;
    infer_forward(got + i0 * INFER_OUT, &iw, &infer_weights, x + i0 * INFER_IN, rows);
  }
  infer_predict(got_cls, x, NI);
  switch (v) {
  case 0: INFER_VARIANT(avx512); break;
  case 1: INFER_VARIANT(avx2); break;
  case 2: INFER_VARIANT(sse2); break;
  default: INFER_VARIANT(scalar); break;
  }
  CHECK(memcmp(got, want, sizeof got) == 0, "%s: infer_forward differs from infer_%s_forward's bits", isa, isa);
  CHECK(memcmp(got_cls, want_cls, sizeof got_cls) == 0, "%s: infer_predict differs from infer_%s_predict_with", isa,
        isa);
  if (failures == before)
    printf("dispatch: %-6s forced: inference forward (%d rows, infer_weights) bit-identical to infer_%s_forward\n", isa,
         NI, isa);
}

int main(void) {
  static const char *const isas[4] = {"avx512", "avx2", "sse2", "scalar"};
  int can[4];
  cpu_runs(can);
  const char *best = can[0] ? "avx512" : can[1] ? "avx2" : can[2] ? "sse2" : "scalar";
  CHECK(strcmp(dnet_isa(), best) == 0, "dnet_isa() is %s, this CPU's best is %s", dnet_isa(), best);
  CHECK(strcmp(infer_isa(), best) == 0, "infer_isa() is %s, this CPU's best is %s", infer_isa(), best);
  printf("dispatch: picked %s on this CPU\n", dnet_isa());
  result ref;
  run(&ref, 4);
  for (int v = 0; v < 4; v++) {
    int rc = dnet_use_isa(isas[v]);
    CHECK(rc == (can[v] ? 0 : -1), "dnet_use_isa(\"%s\") = %d", isas[v], rc);
    if (rc != 0) {
      printf("dispatch: %-6s refused (this CPU lacks it)\n", isas[v]);
      continue;
    }
    CHECK(strcmp(dnet_isa(), isas[v]) == 0, "after dnet_use_isa(\"%s\") dnet_isa() is %s", isas[v], dnet_isa());
    CHECK(infer_use_isa(isas[v]) == 0, "infer_use_isa(\"%s\") refused", isas[v]);
    CHECK(strcmp(infer_isa(), isas[v]) == 0, "after infer_use_isa(\"%s\") infer_isa() is %s", isas[v], infer_isa());
    check_infer(isas[v], v);
    run(&res[0], 0);
    run(&res[1], v + 1);
    CHECK(memcmp(&res[0], &res[1], sizeof res[0]) == 0, "%s: dispatched results differ from dnet_%s_*'s bits", isas[v],
          isas[v]);
    close_to(isas[v], "forward", res[0].out, ref.out, N * DNET_OUT);
    close_to(isas[v], "loss", res[0].loss, ref.loss, 3);
    close_to(isas[v], "params", (const float *)&res[0].p, (const float *)&ref.p, DNET_PARAMS_BYTES / 4);
    printf("dispatch: %-6s forced: forward + 3 train steps bit-identical to dnet_%s_*, within tolerance of scalar "
           "(loss %.6f)\n", isas[v], isas[v], (double)res[0].loss[2]);
  }
  CHECK(dnet_use_isa("neon") == -1, "dnet_use_isa(\"neon\") accepted");
  CHECK(infer_use_isa("avx") == -1, "infer_use_isa(\"avx\") accepted");
  for (int v = 0; v < 4; v++) CHECK(infer_use_isa(isas[v]) == (can[v] ? 0 : -1), "infer_use_isa(\"%s\")", isas[v]);
  printf("dispatch: %s\n", failures ? "FAILED" : "ok");
  (void)out;
  return failures ? 1 : 0;
}
