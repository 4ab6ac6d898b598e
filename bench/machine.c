/* What one core of this machine can do: FP32 FMA peak (independent FMA chains, enough of
 * them to cover latency x throughput) and the time of a plain vector read of N bytes that
 * sit in L2 (the bound for B=1 inference, which must stream the first layer's weights).
 * x86-64 only: AVX-512F when the CPU has it, else AVX2+FMA; elsewhere a scalar fallback. */
#include "baselines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_X86 1
#endif

enum { FMA_ITERS = 20000 };
static volatile float sink;
static volatile float start = 1.5f;   /* opaque to the compiler: no chain is folded away */

typedef struct { const float *p; size_t n; } stream_ctx;

#define R12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define R24(X) R12(X) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)

#ifdef HAVE_X86
/* 24 independent chains a = a*b + c (b < 1, so the values settle near 1: no overflow). */
__attribute__((target("avx512f"))) static void fma512(void *ctx)
{
  (void)ctx;
  const __m512 b = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(0.001f);
  const float s0 = start;
#define DECL(i) __m512 a##i = _mm512_set1_ps(s0 + (float)(i) * 0.01f);
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, b, c);
#define SUM(i) s = _mm512_add_ps(s, a##i);
  R24(DECL)
  for (int it = 0; it < FMA_ITERS; it++) { R24(STEP) __asm__ volatile("" ::: "memory"); }
  __m512 s = _mm512_setzero_ps();
  R24(SUM)
  sink = _mm512_reduce_add_ps(s);
#undef DECL
#undef STEP
#undef SUM
}

__attribute__((target("avx2,fma"))) static void fma256(void *ctx)
{
  (void)ctx;
  const __m256 b = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(0.001f);
  const float s0 = start;
#define DECL(i) __m256 a##i = _mm256_set1_ps(s0 + (float)(i) * 0.01f);
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, b, c);
#define SUM(i) s = _mm256_add_ps(s, a##i);
  R12(DECL)
  for (int it = 0; it < FMA_ITERS * 2; it++) { R12(STEP) __asm__ volatile("" ::: "memory"); }
  __m256 s = _mm256_setzero_ps();
  R12(SUM)
  float t[8];
  _mm256_storeu_ps(t, s);
  sink = t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
#undef DECL
#undef STEP
#undef SUM
}

/* Eight independent add chains over 64-byte aligned lines (explicit registers, so gcc and
 * clang emit the same loop: 8 loads + 8 adds per 512 bytes). */
#define R8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
__attribute__((target("avx512f"))) static void read512(void *ctx)
{
  const stream_ctx *s = ctx;
  const float *p = s->p;
#define DECL(j) __m512 a##j = _mm512_setzero_ps();
#define LOAD(j) a##j = _mm512_add_ps(a##j, _mm512_load_ps(p + i + 16 * j));
  R8(DECL)
  size_t i = 0;
  for (; i + 128 <= s->n; i += 128) { R8(LOAD) }
  for (; i + 16 <= s->n; i += 16) a0 = _mm512_add_ps(a0, _mm512_load_ps(p + i));
  a0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                     _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  sink = _mm512_reduce_add_ps(a0);
#undef DECL
#undef LOAD
}

__attribute__((target("avx2"))) static void read256(void *ctx)
{
  const stream_ctx *s = ctx;
  const float *p = s->p;
#define DECL(j) __m256 a##j = _mm256_setzero_ps();
#define LOAD(j) a##j = _mm256_add_ps(a##j, _mm256_load_ps(p + i + 8 * j));
  R8(DECL)
  size_t i = 0;
  for (; i + 64 <= s->n; i += 64) { R8(LOAD) }
  for (; i + 8 <= s->n; i += 8) a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
  a0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                     _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  float t[8];
  _mm256_storeu_ps(t, a0);
  sink = t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
#undef DECL
#undef LOAD
}
#endif

static void fma_scalar(void *ctx)
{
  (void)ctx;
  float a[8];
  for (int j = 0; j < 8; j++) a[j] = start + (float)j * 0.01f;
  for (int it = 0; it < FMA_ITERS; it++)
    for (int j = 0; j < 8; j++) a[j] = a[j] * 0.999f + 0.001f;
  sink = a[0] + a[7];
}

static void read_scalar(void *ctx)
{
  const stream_ctx *c = ctx;
  float s = 0;
  for (size_t i = 0; i < c->n; i++) s += c->p[i];
  sink = s;
}

double machine_fma_peak(const char **isa)
{
#ifdef HAVE_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    *isa = "avx512";
    return (double)FMA_ITERS * 24 * 16 * 2 / (bench_median_us(fma512, NULL) * 1e3);
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    *isa = "avx2";
    return (double)FMA_ITERS * 2 * 12 * 8 * 2 / (bench_median_us(fma256, NULL) * 1e3);
  }
#endif
  *isa = "scalar";
  return (double)FMA_ITERS * 8 * 2 / (bench_median_us(fma_scalar, NULL) * 1e3);
}

double machine_l2_read_us(size_t bytes, const char **isa)
{
  size_t n = bytes / sizeof(float);
  float *p = bench_alloc(bytes);
  bench_fill(p, n, 1.0f, 3u);
  double us;
  stream_ctx s = {p, n};
#ifdef HAVE_X86
  if (__builtin_cpu_supports("avx512f")) { *isa = "avx512"; us = bench_median_us(read512, &s); free(p); return us; }
  if (__builtin_cpu_supports("avx2")) { *isa = "avx2"; us = bench_median_us(read256, &s); free(p); return us; }
#endif
  *isa = "scalar";
  us = bench_median_us(read_scalar, &s);
  free(p);
  return us;
}

/* ---- what the CPU is and has ---- */

/* Appends " word" to buf (bounded). */
static void add_word(char *buf, size_t size, const char *word)
{
  size_t len = strlen(buf);
  if (len + 1 + strlen(word) + 1 > size) return;
  snprintf(buf + len, size - len, "%s%s", len ? " " : "", word);
}

void machine_cpu_model(char *buf, size_t size)
{
  snprintf(buf, size, "unknown CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f)) {
      char *colon = strchr(line, ':');
      if (!colon || (strncmp(line, "model name", 10) && strncmp(line, "Model", 5))) continue;
      colon++;
      while (*colon == ' ' || *colon == '\t') colon++;
      colon[strcspn(colon, "\n")] = 0;
      snprintf(buf, size, "%s", colon);
      break;
    }
    fclose(f);
  }
#ifdef HAVE_X86
  unsigned a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    unsigned fam = (a >> 8) & 15, model = (a >> 4) & 15;
    if (fam == 15) fam += (a >> 20) & 255;
    if (fam == 6 || fam >= 15) model |= ((a >> 16) & 15) << 4;
    size_t len = strlen(buf);
    snprintf(buf + len, size - len, " (family %u model %u)", fam, model);
  }
#endif
}

/* The kernel's transparent huge page mode (the bracketed word of
   /sys/kernel/mm/transparent_hugepage/enabled: always, madvise or never), or "unknown". */
void machine_thp_mode(char *buf, size_t size)
{
  snprintf(buf, size, "unknown");
  FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (!f) return;
  char line[128];
  if (fgets(line, sizeof line, f)) {
    char *open = strchr(line, '['), *close = open ? strchr(open, ']') : NULL;
    if (close) snprintf(buf, size, "%.*s", (int)(close - open - 1), open + 1);
  }
  fclose(f);
}

#ifdef HAVE_X86
/* CPUID leaf 7 subleaf 1 EAX bit 5 (AVX512_BF16) and leaf 7 EDX bits 22/24 (AMX-BF16,
   AMX-TILE): not every compiler's __builtin_cpu_supports knows them. */
static int has_leaf7(int sub, int reg, int bit)
{
  unsigned r[4];
  if (__get_cpuid_max(0, NULL) < 7) return 0;
  __cpuid_count(7, sub, r[0], r[1], r[2], r[3]);
  return (r[reg] >> bit) & 1;
}

static int has_avx512_skx(void)
{
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
}
#endif

void machine_isa_flags(char *buf, size_t size)
{
  buf[0] = 0;
#ifdef HAVE_X86
  __builtin_cpu_init();
  /* __builtin_cpu_supports takes a string literal only */
#define ISA_FLAG(name) if (__builtin_cpu_supports(name)) add_word(buf, size, name);
  ISA_FLAG("sse3") ISA_FLAG("ssse3") ISA_FLAG("sse4.1") ISA_FLAG("sse4.2") ISA_FLAG("avx")
  ISA_FLAG("avx2") ISA_FLAG("fma") ISA_FLAG("fma4") ISA_FLAG("avx512f") ISA_FLAG("avx512bw")
  ISA_FLAG("avx512dq") ISA_FLAG("avx512vl")
#undef ISA_FLAG
  if (has_leaf7(1, 0, 5)) add_word(buf, size, "avx512bf16");
  if (has_leaf7(0, 3, 24)) add_word(buf, size, "amx-tile");
#else
  snprintf(buf, size, "not x86-64");
#endif
}

void machine_blas_cores(char *buf, size_t size, int all)
{
  buf[0] = 0;
#ifdef HAVE_X86
  __builtin_cpu_init();
  int sse3 = __builtin_cpu_supports("sse3"), ssse3 = __builtin_cpu_supports("ssse3");
  int sse41 = __builtin_cpu_supports("sse4.1"), sse42 = __builtin_cpu_supports("sse4.2");
  int avx = __builtin_cpu_supports("avx"), avx2 = __builtin_cpu_supports("avx2");
  int fma = __builtin_cpu_supports("fma"), fma4 = __builtin_cpu_supports("fma4");
  int xop = __builtin_cpu_supports("xop"), skx = has_avx512_skx();
  int bf16 = skx && has_leaf7(1, 0, 5), amx = bf16 && has_leaf7(0, 3, 22) && has_leaf7(0, 3, 24);
  unsigned a, b, c, d;
  /* SSE4a (AMD): CPUID 0x80000001 ECX bit 6; 3DNow! prefetch: bit 8 */
  int sse4a = __get_cpuid(0x80000001u, &a, &b, &c, &d) && ((c >> 6) & 1);
  int prefw = __get_cpuid(0x80000001u, &a, &b, &c, &d) && ((c >> 8) & 1);
  /* Older or niche kernel sets, SSE2/SSE3-era: only with all = 1. */
  struct { const char *name; int ok, old; } cores[] = {
    {"Prescott", sse3, 0},
    {"Atom", ssse3, 1},
    {"Core2", ssse3, 1},
    {"Penryn", sse41, 1},
    {"Dunnington", sse41, 1},
    {"Nehalem", sse42, 0},
    {"Opteron", sse3 && prefw, 1},
    {"Opteron_SSE3", sse3 && prefw, 1},
    {"Barcelona", sse4a && prefw, 1},
    {"Nano", ssse3, 1},
    {"Bobcat", ssse3 && sse4a, 1},
    {"Sandybridge", avx, 0},
    {"Bulldozer", avx && fma4 && xop, 0},
    {"Piledriver", avx && fma && fma4 && xop, 0},
    {"Steamroller", avx && fma && fma4 && xop, 0},
    {"Excavator", avx2 && fma && fma4 && xop, 0},
    {"Haswell", avx2 && fma, 0},
    {"Zen", avx2 && fma, 0},
    {"SkylakeX", avx2 && fma && skx, 0},
    /* (OpenBLAS 0.3.21 cannot be forced to Cooperlake or SapphireRapids: "Core not found",
       then its own detection; bench openblas and torch_bench.py skip a run whose core is
       not the one asked for, so these run only where detection gives them anyway) */
    {"Cooperlake", avx2 && fma && bf16, 0},
    {"SapphireRapids", avx2 && fma && amx, 0},
  };
  for (size_t i = 0; i < sizeof cores / sizeof cores[0]; i++)
    if (cores[i].ok && (all || !cores[i].old)) add_word(buf, size, cores[i].name);
#else
  (void)all;
#endif
}
