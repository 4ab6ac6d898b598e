/* The baseline implementations the bench driver times (one entry per workload). */
#ifndef BENCH_BASELINES_H
#define BENCH_BASELINES_H
#include "harness.h"

extern const bench_fn naive_impl[W_COUNT];     /* naive.c: ctx is a bnet */
extern const bench_fn openblas_impl[W_COUNT];  /* openblas.c: ctx is a bnet */
void openblas_single_thread(void);
const char *openblas_core(void);     /* openblas_get_corename(): the kernels in use */
const char *openblas_config(void);   /* openblas_get_config() */

/* fann.c: FANN has no batch API; ctx from fann_bench_new runs B samples per op. */
void *fann_bench_new(int workload);
void fann_bench_run(void *ctx);
void fann_bench_free(void *ctx);

/* machine.c: one core's FP32 FMA peak (GFLOP/s) and the time to stream `bytes` from L2. */
double machine_fma_peak(const char **isa);
double machine_l2_read_us(size_t bytes, const char **isa);
/* machine.c: the CPU's model name, and the x86 ISA extensions it has (space-separated). */
void machine_cpu_model(char *buf, size_t size);
void machine_isa_flags(char *buf, size_t size);
void machine_thp_mode(char *buf, size_t size);
/* machine.c: the OPENBLAS_CORETYPE names whose instructions this CPU has (space-separated;
 * all = 0: the SSE3-or-newer main line, all = 1: also the older and niche cores). */
void machine_blas_cores(char *buf, size_t size, int all);
#endif
