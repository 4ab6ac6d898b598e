/* --dispatch with CPU family variants (make test-dispatch): `chainrule gen examples/xor.lua
 * --dispatch avx512:zen5,avx512:zen4,avx512,avx2:zen3,avx2,sse2,scalar --name dfam`. Checks:
 *   - dfam_isa() is the first variant (best first: avx512:zen4, avx512:zen5, avx512, avx2:zen3,
 *     avx2, sse2, scalar) whose ISA this CPU runs and whose family, if it names one, is this
 *     CPU's: argv[1], the family `chainrule cpu` reads from /proc/cpuinfo (the dispatcher reads
 *     cpuid: two independent readings);
 *   - every variant whose ISA the CPU runs can be forced with dfam_use_isa, whatever its
 *     family, and dfam_forward then gives exactly the bits of that variant's own forward.
 *
 *   family_test FAMILY */
#include "dfam.h"
#include "dfam_avx2.h"
#include "dfam_avx2_zen3.h"
#include "dfam_avx512.h"
#include "dfam_avx512_zen4.h"
#include "dfam_avx512_zen5.h"
#include "dfam_scalar.h"
#include "dfam_sse2.h"

#include <string.h>
#include "../soft_check.h"
#include "cpu_runs.h"

#define N 5
static dfam_params p;
static dfam_work w;
static float x[N * DFAM_IN], got[N * DFAM_OUT], want[N * DFAM_OUT];

#define OWN(V) dfam_##V##_forward(want, (dfam_##V##_work *)&w, (const dfam_##V##_params *)&p, x, N)

int main(int argc, char **argv) {
  if (argc != 2) {
    printf("usage: family_test FAMILY\n");
    return 2;
  }
  static const char *const words[7] = {"avx512:zen4", "avx512:zen5", "avx512", "avx2:zen3", "avx2", "sse2", "scalar"};
  static const char *const family[7] = {"zen4", "zen5", NULL, "zen3", NULL, NULL, NULL};
  int isa[4];   /* avx512, avx2, sse2, scalar */
  cpu_runs(isa);
  const int runs[7] = {isa[0], isa[0], isa[0], isa[1], isa[1], isa[2], isa[3]};
  int best = 0;
  while (!runs[best] || (family[best] && strcmp(family[best], argv[1]) != 0)) best++;
  CHECK(strcmp(dfam_isa(), words[best]) == 0, "dfam_isa() is %s; on a %s CPU the first it runs is %s", dfam_isa(),
        argv[1], words[best]);
  printf("dispatch: family variants: picked %s on this CPU (family %s)\n", dfam_isa(), argv[1]);
  unsigned u = 7u;
  for (int i = 0; i < (int)(sizeof p / sizeof(float)); i++) {
    u = u * 1664525u + 1013904223u;
    ((float *)&p)[i] = (float)(u >> 8) / 16777216.0f - 0.5f;
  }
  for (int i = 0; i < N * DFAM_IN; i++) x[i] = (float)(i % 7) * 0.25f - 0.7f;
  for (int v = 0; v < 7; v++) {
    int rc = dfam_use_isa(words[v]);
    CHECK(rc == (runs[v] ? 0 : -1), "dfam_use_isa(\"%s\") = %d", words[v], rc);
    if (rc != 0) continue;
    CHECK(strcmp(dfam_isa(), words[v]) == 0, "after dfam_use_isa(\"%s\") dfam_isa() is %s", words[v], dfam_isa());
    dfam_forward(got, &w, &p, x, N);
    switch (v) {
    case 0: OWN(avx512_zen4); break;
    case 1: OWN(avx512_zen5); break;
    case 2: OWN(avx512); break;
    case 3: OWN(avx2_zen3); break;
    case 4: OWN(avx2); break;
    case 5: OWN(sse2); break;
    default: OWN(scalar); break;
    }
    CHECK(memcmp(got, want, sizeof got) == 0, "%s forced: dfam_forward differs from its variant's", words[v]);
  }
  CHECK(dfam_use_isa("avx512:zen3") == -1, "dfam_use_isa(\"avx512:zen3\") accepted (not generated)");
  printf("dispatch: family variants: %s\n", failures ? "FAILED" : "each one this CPU runs forced, bit-identical to its own");
  return failures ? 1 : 0;
}
