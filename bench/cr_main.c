/* One bench program per ISA: times every generated bench network of that ISA.
 * Compiled with -DBENCH_IMPL='"chainrule-avx2"' and -DBENCH_RUNS='X(bench_mlp) X(bench_deep)'
 * (the bench specs of this run, mk/bench.mk). */
#include "harness.h"

#define X(net) void run_##net(const char *impl);
BENCH_RUNS
#undef X

int main(void)
{
#define X(net) run_##net(BENCH_IMPL);
  BENCH_RUNS
#undef X
  return 0;
}
