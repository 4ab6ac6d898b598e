/* Which of the x86 ISAs this CPU runs, asked of __builtin_cpu_supports here, apart from the
   generated dispatcher's own tests (gen/driver.lua DISPATCH_TEST), for the tests in tests/dispatch/.
   The order is --dispatch x86's: runs[0..3] = avx512, avx2, sse2, scalar. */
#ifndef CPU_RUNS_H
#define CPU_RUNS_H

static void cpu_runs(int runs[4]) {
  runs[0] = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma");
  runs[1] = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  runs[2] = __builtin_cpu_supports("sse2");
  runs[3] = 1;
}

#endif
