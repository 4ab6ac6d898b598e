/* One bench program per ISA: times every generated bench network of that ISA.
 * Compiled with -DBENCH_IMPL='"chainrule-avx512"'. */
#include "harness.h"

void run_bench_mlp(const char *impl);
void run_bench_mlp1(const char *impl);
void run_bench_mlp128(const char *impl);
void run_bench_seed(const char *impl);
void run_bench_deep(const char *impl);

int main(void)
{
  run_bench_mlp(BENCH_IMPL);
  run_bench_mlp1(BENCH_IMPL);
  run_bench_mlp128(BENCH_IMPL);
  run_bench_seed(BENCH_IMPL);
  run_bench_deep(BENCH_IMPL);
  return 0;
}
