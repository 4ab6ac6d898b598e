/* chainrule bench driver (one thread).
 *
 *   bench machine                  FMA peak of one core + L2 read time of the B=1 weights
 *   bench baselines [--no-fann]    naive C, OpenBLAS, FANN on every workload
 *   bench report RAW OUT.csv       join raw rows into OUT.csv (adds pct_peak) and print
 *                                  the table, ratios and targets
 *
 * Every program of the bench prints raw rows `workload,impl,batch,us_per_op,gflops`;
 * lines starting with '#' are notes the report repeats. mk/bench.mk runs them in turn. */
#include "baselines.h"
#include "basenet.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmd_machine(void)
{
  const char *isa;
  double peak = machine_fma_peak(&isa);
  /* us column: time of one GFLOP at peak, so the row reads like the others. */
  bench_row("peak_fma", isa, 1, 1e6 / peak, peak);
  const bench_workload *w = &bench_workloads[W_MLP_INFER];
  size_t bytes = sizeof(float) * (size_t)w->sizes[0] * (size_t)w->sizes[1];
  double us = machine_l2_read_us(bytes, &isa);
  bench_row("l2_read", isa, 1, us, 0.0);
  printf("# l2_read: plain %s vector read of %zu bytes (784x50 floats, the B=1 first-layer weights) resident in L2\n",
         isa, bytes);
  return 0;
}

static int cmd_baselines(int fann)
{
  for (int wl = 0; wl < W_COUNT; wl++) {
    bnet *m = bnet_new(wl);
    bench_row_w(wl, "naive", bench_median_us(naive_impl[wl], m));
    if (!isfinite(m->loss)) printf("# naive %s: loss is not finite\n", bench_workloads[wl].key);
  }
  openblas_single_thread();
  for (int wl = 0; wl < W_COUNT; wl++) {
    bnet *m = bnet_new(wl);
    bench_row_w(wl, "openblas", bench_median_us(openblas_impl[wl], m));
  }
  if (fann) {
    for (int wl = 0; wl < W_COUNT; wl++) {
      void *c = fann_bench_new(wl);
      bench_row_w(wl, "fann", bench_median_us(fann_bench_run, c));
      fann_bench_free(c);
    }
    printf("# fann: fann_train/fann_run once per row (no batch API; per-sample weight updates, tanh hidden units)\n");
  }
  return 0;
}

/* ---- report ---- */

enum { MAX_ROWS = 256, MAX_NOTES = 32 };
typedef struct { char workload[32], impl[32]; int batch; double us, gflops; } row;
static row rows[MAX_ROWS];
static int nrows;
static char notes[MAX_NOTES][256];
static int nnotes;

static const row *find(const char *workload, const char *impl)
{
  for (int i = 0; i < nrows; i++)
    if (!strcmp(rows[i].workload, workload) && !strcmp(rows[i].impl, impl)) return &rows[i];
  return NULL;
}

/* The fastest chainrule row of a workload (any ISA). */
static const row *best_chainrule(const char *workload)
{
  const row *b = NULL;
  for (int i = 0; i < nrows; i++)
    if (!strcmp(rows[i].workload, workload) && !strncmp(rows[i].impl, "chainrule", 9) &&
        (!b || rows[i].us < b->us))
      b = &rows[i];
  return b;
}

static int read_raw(const char *path)
{
  FILE *f = fopen(path, "r");
  if (!f) { fprintf(stderr, "bench report: cannot open %s\n", path); return 2; }
  char line[512];
  int ln = 0;
  while (fgets(line, sizeof line, f)) {
    ln++;
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0]) continue;
    if (line[0] == '#') {
      if (nnotes < MAX_NOTES) snprintf(notes[nnotes++], sizeof notes[0], "%.250s", line + 1);
      continue;
    }
    row r;
    if (nrows == MAX_ROWS ||
        sscanf(line, "%31[^,],%31[^,],%d,%lf,%lf", r.workload, r.impl, &r.batch, &r.us, &r.gflops) != 5) {
      fprintf(stderr, "bench report: %s:%d: expected workload,impl,batch,us,gflops, got '%s'\n", path, ln, line);
      fclose(f);
      return 2;
    }
    rows[nrows++] = r;
  }
  fclose(f);
  return 0;
}

static void target(const char *what, double got, double want, int higher_is_better, const char *unit)
{
  if (got <= 0) { printf("  %-52s  target %s%.2f%s: no data\n", what, higher_is_better ? ">= " : "<= ", want, unit); return; }
  int ok = higher_is_better ? got >= want : got <= want;
  printf("  %-52s  %7.2f%s   target %s%.2f%s   %s\n", what, got, unit, higher_is_better ? ">= " : "<= ",
         want, unit, ok ? "met" : "MISSED");
}

static double ratio(const row *base, const row *x) { return base && x ? base->us / x->us : 0.0; }

static int cmd_report(const char *raw, const char *out)
{
  int rc = read_raw(raw);
  if (rc) return rc;
  const row *peak = find("peak_fma", "avx512");
  if (!peak) peak = find("peak_fma", "avx2");
  if (!peak) peak = find("peak_fma", "scalar");
  if (!peak) { fprintf(stderr, "bench report: %s has no peak_fma row\n", raw); return 2; }
  const row *l2 = NULL;
  for (int i = 0; i < nrows; i++) if (!strcmp(rows[i].workload, "l2_read")) l2 = &rows[i];

  char tmp[1024];
  snprintf(tmp, sizeof tmp, "%s.tmp", out);
  FILE *f = fopen(tmp, "w");
  if (!f) { fprintf(stderr, "bench report: cannot write %s\n", tmp); return 2; }
  fprintf(f, "workload,impl,batch,us_per_op,gflops,pct_peak\n");
  for (int i = 0; i < nrows; i++)
    fprintf(f, "%s,%s,%d,%.4f,%.3f,%.1f\n", rows[i].workload, rows[i].impl, rows[i].batch, rows[i].us,
            rows[i].gflops, 100.0 * rows[i].gflops / peak->gflops);
  if (fclose(f) != 0 || rename(tmp, out) != 0) { fprintf(stderr, "bench report: cannot write %s\n", out); return 2; }

  printf("\nOne core, FP32. Peak (measured, %s FMA chains): %.1f GFLOP/s", peak->impl, peak->gflops);
  if (l2) printf(";  L2 read of the 784x50 weights: %.3f us", l2->us);
  printf("\n\n%-26s %5s  %-18s %10s %9s %6s %10s %9s\n", "workload", "batch", "impl", "us/op", "GFLOP/s",
         "%peak", "xOpenBLAS", "xPyTorch");
  for (int wl = 0; wl < W_COUNT; wl++) {
    const bench_workload *w = &bench_workloads[wl];
    const row *blas = find(w->key, "openblas"), *torch = find(w->key, "pytorch");
    for (int i = 0; i < nrows; i++) {
      const row *r = &rows[i];
      if (strcmp(r->workload, w->key)) continue;
      printf("%-26s %5d  %-18s %10.2f %9.1f %6.1f", w->label, r->batch, r->impl, r->us, r->gflops,
             100.0 * r->gflops / peak->gflops);
      if (blas) printf(" %9.2fx", ratio(blas, r)); else printf(" %10s", "-");
      if (torch) printf(" %8.2fx", ratio(torch, r)); else printf(" %9s", "-");
      printf("\n");
    }
  }
  for (int i = 0; i < nnotes; i++) printf("note:%s\n", notes[i]);

  printf("\nTargets (best chainrule ISA of this run):\n");
  const row *t = best_chainrule("mlp_train");
  target("784-50-10 train B=64: x OpenBLAS", ratio(find("mlp_train", "openblas"), t), 1.25, 1, "x");
  target("784-50-10 train B=64: x PyTorch", ratio(find("mlp_train", "pytorch"), t), 2.8, 1, "x");
  const row *d = best_chainrule("deep_train");
  target("784-256-256-10 train B=64: % of peak", d ? 100.0 * d->gflops / peak->gflops : 0.0, 85.0, 1, "%");
  const row *fw = best_chainrule("mlp_fwd");
  target("784-50-10 forward B=128: x OpenBLAS", ratio(find("mlp_fwd", "openblas"), fw), 1.2, 1, "x");
  const row *in = best_chainrule("mlp_infer");
  target("784-50-10 inference B=1: time / L2 read time", in && l2 ? in->us / l2->us : 0.0, 1.10, 0, "x");
  return 0;
}

int main(int argc, char **argv)
{
  if (argc >= 2 && !strcmp(argv[1], "machine")) return cmd_machine();
  if (argc >= 2 && !strcmp(argv[1], "baselines"))
    return cmd_baselines(!(argc >= 3 && !strcmp(argv[2], "--no-fann")));
  if (argc == 4 && !strcmp(argv[1], "report")) return cmd_report(argv[2], argv[3]);
  fprintf(stderr, "usage: bench machine | bench baselines [--no-fann] | bench report RAW OUT.csv\n");
  return 2;
}
