/* chainrule bench driver (one thread).
 *
 *   bench machine                  CPU model, ISA, FMA peak of one core, L2 read time and
 *                                  bandwidth of the B=1 weights
 *   bench cores [--all]            the OPENBLAS_CORETYPE names this CPU can run
 *   bench workloads [--big]        the workload table (for bench/torch_bench.py)
 *   bench baselines [--no-fann] [--big]   naive C and FANN on every workload
 *   bench openblas [--big]         OpenBLAS on every workload, rows named openblas-CORE by
 *                                  the core in use; run it once per OPENBLAS_CORETYPE
 *   bench report RAW OUT.csv       join raw rows into OUT.csv (adds pct_peak; a workload and
 *                                  program timed by several passes: the fastest) and print
 *                                  the table, ratios against the fastest OpenBLAS and
 *                                  PyTorch core, tuned vs untuned (chainrule-ISA-tuned
 *                                  rows), the code-generation costs and the targets
 *
 * Every program of the bench prints raw rows `workload,impl,batch,us_per_op,gflops`
 * (the l2_read row: GB/s in the gflops column) and code-generation rows
 * `codegen,ISA,SPEC,gen_ms,c_bytes,c_lines,compile_ms`; lines starting with '#' are notes
 * the report repeats ('# machine ...' ones in its header). mk/bench.mk runs them in turn. */
#define _POSIX_C_SOURCE 200809L
#include "baselines.h"
#include "basenet.h"
#include "cnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int has_flag(int argc, char **argv, const char *flag)
{
  for (int i = 2; i < argc; i++)
    if (!strcmp(argv[i], flag)) return 1;
  return 0;
}

static int cmd_machine(void)
{
  char model[256], isa_flags[512];
  machine_cpu_model(model, sizeof model);
  machine_isa_flags(isa_flags, sizeof isa_flags);
  printf("# machine cpu: %s\n# machine isa: %s\n", model, isa_flags);
  char thp[32];
  machine_thp_mode(thp, sizeof thp);
  printf("# machine memory: chainrule's, OpenBLAS's and the naive code's buffers as the trainer's (cr_alloc:"
         " blocks of 2 MB and more advised to huge pages; transparent_hugepage %s); PyTorch's tensors and FANN's network are their own\n", thp);
  long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (l2 > 0) printf("# machine l2: %ld KB per core\n", l2 / 1024);
  const char *forced = getenv("OPENBLAS_CORETYPE");
  printf("# machine openblas: %s core %s; %s\n", forced && *forced ? "OPENBLAS_CORETYPE gives" : "detects",
         openblas_core(), openblas_config());
  const char *isa;
  double peak = machine_fma_peak(&isa);
  /* us column: time of one GFLOP at peak, so the row reads like the others. */
  bench_row("peak_fma", isa, 1, 1e6 / peak, peak);
  const bench_workload *w = &bench_workloads[W_MLP_INFER];
  size_t bytes = sizeof(float) * (size_t)w->sizes[0] * (size_t)w->sizes[1];
  double us = machine_l2_read_us(bytes, &isa);
  bench_row("l2_read", isa, 1, us, (double)bytes / (us * 1e3));
  printf("# l2_read: plain %s vector read of %zu bytes (784x50 floats, the B=1 first-layer weights) resident in L2\n",
         isa, bytes);
  return 0;
}

static int cmd_workloads(int big)
{
  int end = big ? W_COUNT : W_FIRST_BIG;
  for (int wl = 0; wl < end; wl++) {
    const bench_workload *w = &bench_workloads[wl];
    printf("%s %d %d %d %g %d", w->key, w->batch, w->train, w->mse, (double)w->shift, w->act);
    for (int l = 0; l <= w->nlin; l++) printf(" %d", w->sizes[l]);
    printf("\n");
  }
  return 0;
}

/* One LeNet row (the conv workloads, bench/cnn.h). */
static void cnn_row(int wl, const char *impl, bench_fn fn)
{
  cnet *m = cnet_new(wl);
  bench_row_w(wl, impl, bench_median_us(fn, m));
  if (!isfinite(m->loss)) printf("# %s %s: loss is not finite\n", impl, bench_workloads[wl].key);
}

static int cmd_baselines(int fann, int big)
{
  int end = big ? W_COUNT : W_FIRST_BIG;
  for (int wl = 0; wl < end; wl++) {
    if (bench_workloads[wl].conv == 2) continue;   /* (the BN-CNN: PyTorch's baseline only) */
    if (bench_workloads[wl].conv) { cnn_row(wl, "naive", naive_cnn_impl[wl]); continue; }
    bnet *m = bnet_new(wl);
    bench_row_w(wl, "naive", bench_median_us(naive_impl[wl], m));
    if (!isfinite(m->loss)) printf("# naive %s: loss is not finite\n", bench_workloads[wl].key);
  }
  if (fann) {
    for (int wl = 0; wl < W_FANN_END; wl++) {
      void *c = fann_bench_new(wl);
      bench_row_w(wl, "fann", bench_median_us(fann_bench_run, c));
      fann_bench_free(c);
    }
    printf("# fann: fann_train/fann_run once per row (no batch API; per-sample weight updates, tanh hidden units); the first %d workloads only\n",
           (int)W_FANN_END);
  }
  return 0;
}

/* One OpenBLAS core: the one OPENBLAS_CORETYPE asked for (checked: OpenBLAS falls back to
   another core for a name it does not know), else the one it detected. */
static int cmd_openblas(int big)
{
  const char *want = getenv("OPENBLAS_CORETYPE");
  const char *core = openblas_core();
  char impl[32];
  if (want && *want && strcasecmp(want, core)) {
    printf("# openblas %s: not selectable in this OpenBLAS (it ran %s instead); skipped\n", want, core);
    return 0;
  }
  printf("# openblas %s%s: %s\n", core, want && *want ? "" : " (detected)", openblas_config());
  openblas_single_thread();
  snprintf(impl, sizeof impl, "openblas-%s", core);
  int end = big ? W_COUNT : W_FIRST_BIG;
  for (int wl = 0; wl < end; wl++) {
    if (bench_workloads[wl].conv == 2) continue;
    if (bench_workloads[wl].conv) { cnn_row(wl, impl, openblas_cnn_impl[wl]); continue; }
    bnet *m = bnet_new(wl);
    bench_row_w(wl, impl, bench_median_us(openblas_impl[wl], m));
  }
  return 0;
}

/* ---- report ---- */

enum { MAX_ROWS = 1024, MAX_NOTES = 64, MAX_CODEGEN = 256, MAX_PASSES = 32 };
/* us: the fastest pass; pass_us[p]: pass p's time (0: not timed in that pass). A pass begins
   with the machine program's peak_fma row (mk/bench.mk runs it first in every pass). */
typedef struct {
  char workload[32], impl[40];
  int batch, passes;
  double us, gflops, pass_us[MAX_PASSES];
} row;
typedef struct { char isa[16], spec[64]; double gen_ms, compile_ms; long bytes, lines; } codegen;
static row rows[MAX_ROWS];
static int nrows;
static codegen cgs[MAX_CODEGEN];
static int ncgs;
static char notes[MAX_NOTES][256];
static int nnotes;
static int npasses;   /* peak_fma rows read so far: the pass of the rows that follow */

static const row *find(const char *workload, const char *impl)
{
  for (int i = 0; i < nrows; i++)
    if (!strcmp(rows[i].workload, workload) && !strcmp(rows[i].impl, impl)) return &rows[i];
  return NULL;
}

/* The fastest row of a workload whose impl starts with prefix: the best chainrule ISA
   ("chainrule-"), the fastest OpenBLAS core ("openblas-"), the fastest PyTorch core. */
static const row *fastest(const char *workload, const char *prefix)
{
  const row *b = NULL;
  size_t n = strlen(prefix);
  for (int i = 0; i < nrows; i++)
    if (!strcmp(rows[i].workload, workload) && !strncmp(rows[i].impl, prefix, n) &&
        (!b || rows[i].us < b->us))
      b = &rows[i];
  return b;
}

static int read_raw(const char *path)
{
  FILE *f = fopen(path, "r");
  if (!f) { fprintf(stderr, "bench report: cannot open %s\n", path); return 2; }
  char line[512];
  char why[512];
  int ln = 0;
  while (fgets(line, sizeof line, f)) {
    ln++;
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0]) continue;
    if (line[0] == '#') {   /* a note; once (the per-core runs repeat some) */
      int seen = 0;
      for (int i = 0; i < nnotes; i++) seen |= !strncmp(notes[i], line + 1, sizeof notes[0] - 1);
      if (!seen && nnotes < MAX_NOTES) snprintf(notes[nnotes++], sizeof notes[0], "%.250s", line + 1);
      continue;
    }
    if (!strncmp(line, "codegen,", 8)) {
      codegen c;
      if (ncgs == MAX_CODEGEN) {
        snprintf(why, sizeof why, "more than %d codegen rows", MAX_CODEGEN);
        goto bad;
      }
      if (sscanf(line + 8, "%15[^,],%63[^,],%lf,%ld,%ld,%lf", c.isa, c.spec, &c.gen_ms, &c.bytes, &c.lines,
                 &c.compile_ms) != 6) {
        snprintf(why, sizeof why, "expected codegen,isa,spec,gen_ms,bytes,lines,compile_ms, got '%.400s'", line);
        goto bad;
      }
      cgs[ncgs++] = c;
      continue;
    }
    row r;
    if (nrows == MAX_ROWS) {
      snprintf(why, sizeof why, "more than %d timing rows", MAX_ROWS);
      goto bad;
    }
    if (sscanf(line, "%31[^,],%39[^,],%d,%lf,%lf", r.workload, r.impl, &r.batch, &r.us, &r.gflops) != 5) {
      snprintf(why, sizeof why, "expected workload,impl,batch,us,gflops, got '%.400s'", line);
      goto bad;
    }
    if (!strcmp(r.workload, "peak_fma") && npasses < MAX_PASSES - 1) npasses++;
    /* a workload timed again by a later pass: keep the fastest (mk/bench.mk: the estimator) */
    row *seen = NULL;
    for (int i = 0; i < nrows && !seen; i++)
      if (!strcmp(rows[i].workload, r.workload) && !strcmp(rows[i].impl, r.impl)) seen = &rows[i];
    if (seen) {
      seen->passes++;
      if (r.us < seen->us) { seen->us = r.us; seen->gflops = r.gflops; }
      if (!seen->pass_us[npasses] || r.us < seen->pass_us[npasses]) seen->pass_us[npasses] = r.us;
      continue;
    }
    r.passes = 1;
    memset(r.pass_us, 0, sizeof r.pass_us);
    r.pass_us[npasses] = r.us;
    rows[nrows++] = r;
  }
  fclose(f);
  return 0;
bad:
  fprintf(stderr, "bench report: %s:%d: %s\n", path, ln, why);
  fclose(f);
  return 2;
}

/* One line of the target table: what, measured, target, met / NOT MET (or why no data),
   then extra (NULL: nothing). */
static void target_line(const char *what, double got, double want, int higher_is_better, const char *unit,
                        const char *missing, const char *extra)
{
  char t[32];
  snprintf(t, sizeof t, "%s %.2f%s", higher_is_better ? ">=" : "<=", want, unit);
  if (!(got > 0)) { printf("  %-50s %10s  %-12s  no data%s%s\n", what, "-", t, missing ? ": " : "", missing ? missing : ""); return; }
  int ok = higher_is_better ? got >= want : got <= want;
  if (extra && *extra) printf("  %-50s %9.2f%s  %-12s  %-8s%s\n", what, got, unit, t, ok ? "met" : "NOT MET", extra);
  else printf("  %-50s %9.2f%s  %-12s  %s\n", what, got, unit, t, ok ? "met" : "NOT MET");
}

static void target(const char *what, double got, double want, int higher_is_better, const char *unit,
                   const char *missing)
{
  target_line(what, got, want, higher_is_better, unit, missing, NULL);
}

/* The fastest time of pass p among a workload's rows whose impl starts with prefix (0: none). */
static double pass_fastest(const char *workload, const char *prefix, int p)
{
  double best = 0;
  size_t n = strlen(prefix);
  for (int i = 0; i < nrows; i++) {
    double us = rows[i].pass_us[p];
    if (us > 0 && !strcmp(rows[i].workload, workload) && !strncmp(rows[i].impl, prefix, n) && (!best || us < best))
      best = us;
  }
  return best;
}

static double ratio(const row *base, const row *x) { return base && x ? base->us / x->us : 0.0; }

/* A target measured against a reference row (ref_workload's fastest row whose impl starts with
   ref_prefix: a baseline's cores, the peak, the L2 read), followed by the same figure within each
   pass that timed both sides: how far such a row moves from pass to pass (the other side of a
   target within that range is noise). A pass's figure from chainrule's time c and the
   reference's r: k * r / c (a speedup: k 1; a % of peak: the peak row's time is that of a
   fixed amount of work) or, when inverse, c / r (a time against the reference's). */
static void target_pp(const char *what, double got, double want, int higher_is_better, const char *unit,
                      const char *missing, const char *workload, const char *ref_workload,
                      const char *ref_prefix, double k, int inverse)
{
  double lo = 0, hi = 0;
  int n = 0;
  for (int p = 0; p < MAX_PASSES; p++) {
    double r = pass_fastest(ref_workload, ref_prefix, p), c = pass_fastest(workload, "chainrule-", p);
    if (!(r > 0 && c > 0)) continue;
    double v = inverse ? c / r : k * r / c;
    if (!n || v < lo) lo = v;
    if (!n || v > hi) hi = v;
    n++;
  }
  char extra[64] = "";
  if (n > 1) snprintf(extra, sizeof extra, "  per pass %.2f-%.2f%s (%d)", lo, hi, unit, n);
  target_line(what, got, want, higher_is_better, unit, missing, extra);
}

/* A ratio target: chainrule's best ISA against the fastest baseline core, both the fastest of
   their passes (and per pass, target_pp). */
static void target_vs(const char *what, const char *workload, const char *base_prefix, double want,
                      const char *missing)
{
  target_pp(what, ratio(fastest(workload, base_prefix), fastest(workload, "chainrule-")), want, 1, "x", missing,
            workload, workload, base_prefix, 1.0, 0);
}

/* A % of peak target: chainrule's best ISA of the workload (the fastest of its passes) against
   the peak (the fastest pass's); per pass, that pass's time against that pass's peak. */
static void target_peak(const char *what, const char *workload, const row *peak, double want)
{
  const row *t = fastest(workload, "chainrule-");
  /* a pass's peak row takes r us per GFLOP and the workload is gflops * us / 1e3 GFLOP, so a
     pass in which it took c us ran it at 100 * (gflops * us / 1e6) * r / c % of that peak */
  target_pp(what, t ? 100.0 * t->gflops / peak->gflops : 0.0, want, 1, "%", NULL, workload, "peak_fma", peak->impl,
            t ? 100.0 * t->gflops * t->us / 1e6 : 0.0, 0);
}

/* The cores that have rows with this prefix, in the order they first appear. */
static int core_list(const char *prefix, const char *cores[], int max)
{
  int n = 0;
  size_t pl = strlen(prefix);
  for (int i = 0; i < nrows; i++) {
    if (strncmp(rows[i].impl, prefix, pl)) continue;
    const char *c = rows[i].impl + pl;
    int seen = 0;
    for (int j = 0; j < n; j++) seen |= !strcmp(cores[j], c);
    if (!seen && n < max) cores[n++] = c;
  }
  return n;
}

/* A workload x core table of times (us/op), the fastest core of each workload marked. */
static void core_table(const char *title, const char *prefix)
{
  const char *cores[32];
  int nc = core_list(prefix, cores, 32);
  if (!nc) { printf("\n%s: no rows\n", title); return; }
  printf("\n%s, us/op by core (* = fastest, the baseline of the ratios):\n%-30s", title, "workload");
  for (int c = 0; c < nc; c++) printf(" %13.13s", cores[c]);
  printf("\n");
  for (int wl = 0; wl < W_COUNT; wl++) {
    const bench_workload *w = &bench_workloads[wl];
    const row *best = fastest(w->key, prefix);
    if (!best) continue;
    char label[48];
    snprintf(label, sizeof label, "%s B=%d", w->label, w->batch);
    printf("%-30s", label);
    for (int c = 0; c < nc; c++) {
      char impl[48];
      snprintf(impl, sizeof impl, "%s%s", prefix, cores[c]);
      const row *r = find(w->key, impl);
      if (r) printf(" %12.2f%s", r->us, r == best ? "*" : " ");
      else printf(" %13s", "-");
    }
    printf("\n");
  }
}

/* The impl name a table row shows: the fastest core's rows as "openblas[Zen]". */
static void shown_impl(const row *r, char *buf, size_t size)
{
  const char *dash = strchr(r->impl, '-');
  if (dash && (!strncmp(r->impl, "openblas-", 9) || !strncmp(r->impl, "pytorch-", 8)))
    snprintf(buf, size, "%.*s[%s]", (int)(dash - r->impl), r->impl, dash + 1);
  else
    snprintf(buf, size, "%s", r->impl);
}

static void codegen_report(FILE *csv)
{
  if (csv) fprintf(csv, "isa,spec,gen_ms,c_bytes,c_lines,compile_ms\n");
  if (!ncgs) { printf("\nCode generation: no rows\n"); return; }
  printf("\nCode generation (chainrule gen; the .c's size; its compile at -O2 -g with the bench's flags, timed\n"
         "as `make bench` built it, so a parallel make may share the machine):\n");
  printf("  %-8s %-16s %9s %12s %9s %12s\n", "isa", "spec", "gen ms", ".c bytes", "lines", "compile ms");
  for (int i = 0; i < ncgs; i++) {
    const codegen *c = &cgs[i];
    char gen[24] = "-", cc[24] = "-";   /* a negative time: not recorded */
    if (c->gen_ms >= 0) snprintf(gen, sizeof gen, "%.0f", c->gen_ms);
    if (c->compile_ms >= 0) snprintf(cc, sizeof cc, "%.0f", c->compile_ms);
    printf("  %-8s %-16s %9s %12ld %9ld %12s\n", c->isa, c->spec, gen, c->bytes, c->lines, cc);
    if (csv) fprintf(csv, "%s,%s,%.0f,%ld,%ld,%.0f\n", c->isa, c->spec, c->gen_ms, c->bytes, c->lines,
                     c->compile_ms);
  }
}

static void targets(const row *peak, const row *l2)
{
  const char *big = "784-2048-2048-10 left out (BENCH_BIG= was given)";
  printf("\nTargets (issue 12; best chainrule ISA of this run, OpenBLAS = its fastest core per workload):\n");
  printf("  %-50s %10s  %-12s  %s\n", "target", "measured", "wanted", "result");
  target_peak("784-50-10 train B=64: % of peak", "mlp_train", peak, 88.0);
  target_vs("784-50-10 train B=64: x OpenBLAS", "mlp_train", "openblas-", 1.3, NULL);
  target_peak("784-256-256-10 train B=64: % of peak", "deep_train", peak, 90.0);
  target_peak("784-50-10 forward B=128: % of peak", "mlp_fwd", peak, 85.0);
  const row *in = fastest("mlp_infer", "chainrule-");
  target_pp("784-50-10 inference B=1: time / L2 read time", in && l2 ? in->us / l2->us : 0.0, 1.15, 0, "x", NULL,
            "mlp_infer", "l2_read", l2 ? l2->impl : "", 1.0, 1);
  target_vs("784-50-10 inference B=1: x OpenBLAS sgemv", "mlp_infer", "openblas-", 1.0, NULL);
  /* the B=1 target at a width past every cache: a matrix-vector product that reads
     23 MB of weights, so both sides run at the speed of memory (issue 12 found 1.27x sgemv's time) */
  target_vs("784-2048-2048-10 inference B=1: x OpenBLAS sgemv", "big_infer", "openblas-", 1.0, big);
  static const struct { const char *key, *what; double want; } vs_blas[] = {
    {"wide_train", "784-1024-10 train B=64: x OpenBLAS", 1.25},
    {"wide_fwd", "784-1024-10 forward B=64: x OpenBLAS", 1.1},
    {"big_train", "784-2048-2048-10 train B=64: x OpenBLAS", 1.25},
    {"big_fwd", "784-2048-2048-10 forward B=64: x OpenBLAS", 1.1},
    {"m256_b1", "784-256-10 train B=1: x OpenBLAS", 1.2},
    {"m256_b8", "784-256-10 train B=8: x OpenBLAS", 1.2},
    {"m256_b32", "784-256-10 train B=32: x OpenBLAS", 1.2},
    {"m256_b256", "784-256-10 train B=256: x OpenBLAS", 1.2},
  };
  for (size_t i = 0; i < sizeof vs_blas / sizeof vs_blas[0]; i++)
    target_vs(vs_blas[i].what, vs_blas[i].key, "openblas-", vs_blas[i].want,
              !strncmp(vs_blas[i].key, "big", 3) ? big : NULL);
  const row *li = fastest("lenet_infer", "chainrule-");
  target_vs("LeNet-5 train B=64: x PyTorch", "lenet_train", "pytorch-", 4.0, NULL);
  target_peak("LeNet-5 train B=64: % of peak", "lenet_train", peak, 50.0);
  target("LeNet-5 inference B=1: time (us)", li ? li->us : 0.0, 20.0, 0, "", NULL);
  double mb = 0, s = 0;
  for (int i = 0; i < ncgs; i++) {
    if (cgs[i].bytes / 1e6 > mb) mb = cgs[i].bytes / 1e6;
    if (cgs[i].compile_ms / 1e3 > s) s = cgs[i].compile_ms / 1e3;
  }
  target("largest generated .c, bench + size specs (MB)", mb, 1.0, 0, "", NULL);
  target("slowest -O2 compile, bench + size specs (s)", s, 15.0, 0, "", NULL);
  printf("  (the issue's size/compile target is for every spec up to 4096 wide or 16 deep: size_deep\n"
         "   is 16 layers of odd widths ~1000 at batch 63 with Adam, size_wide 4096-4096-4095-10;\n"
         "   both only generated and compiled at -O2 without -g, for the codegen rows' ISAs)\n"
         "  (per pass: the same figure within each pass that timed both sides (a %% of peak against\n"
         "   that pass's peak, a time against that pass's L2 read), lowest-highest, and how many\n"
         "   passes; a target inside that range is met or missed by this run's noise)\n"
         "  (LeNet-5's FLOPs, and so its %% of peak and GFLOP/s, are the dense convolution's; the\n"
         "   avx512 and avx2 builds' conv weight and input gradients skip the zeros a max pooling\n"
         "   leaves in g (gen/kernels/convtile.lua sparse_wgrad, sparse_dx), multiply-adds counted\n"
         "   here but not done: so its %% of peak can pass 100; likewise an avx512 build's weight\n"
         "   gradient behind a ReLU where it takes g's nonzeros (gen/kernels/tiled.lua xtg_sparse:\n"
         "   zen4's and zen5's defaults at batches 16-64 below a density, elsewhere a tune file's\n"
         "   sparse=yes): the MLP rows with a ReLU count the multiply-adds by the ReLU's zeros too)\n");
}

/* Tuned vs untuned: every chainrule-ISA-tuned row (gen --tune with a file `chainrule tune`
   wrote on this machine, mk/bench.mk) beside the chainrule-ISA row of its workload. */
static void tuned_report(void)
{
  int n = 0;
  double logsum = 0;
  for (int i = 0; i < nrows; i++) {
    const row *t = &rows[i];
    size_t len = strlen(t->impl);
    if (strncmp(t->impl, "chainrule-", 10) || len < 7 || strcmp(t->impl + len - 6, "-tuned")) continue;
    char base[48];
    snprintf(base, sizeof base, "%.*s", (int)(len - 6), t->impl);
    const row *u = find(t->workload, base);
    if (!u) continue;
    const char *label = t->workload;
    for (int wl = 0; wl < W_COUNT; wl++)
      if (!strcmp(bench_workloads[wl].key, t->workload)) label = bench_workloads[wl].label;
    if (!n++)
      printf("\nTuned (chainrule tune on this machine, gen --tune) vs untuned, each the fastest of its passes\n"
             "(a workload whose tune file kept every default shows the run-to-run noise):\n"
             "%-28s %5s  %-16s %12s %12s %8s\n", "workload", "batch", "isa", "untuned us", "tuned us", "speedup");
    printf("%-28s %5d  %-16s %12.2f %12.2f %7.2fx\n", label, t->batch, base + 10, u->us, t->us, u->us / t->us);
    logsum += log(u->us / t->us);
  }
  if (n) printf("%-28s %5s  %-16s %12s %12s %7.2fx\n", "geometric mean", "", "", "", "", exp(logsum / n));
}

static int cmd_report(const char *raw, const char *out, const char *cgout)
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

  printf("\n");
  for (int i = 0; i < nnotes; i++)
    if (!strncmp(notes[i], " machine ", 9)) printf("%s\n", notes[i] + 9);
  printf("One core, FP32. Peak (measured, %s FMA chains): %.1f GFLOP/s", peak->impl, peak->gflops);
  if (l2) printf(";  L2 read of the 784x50 weights: %.3f us (%.1f GB/s)", l2->us, l2->gflops);
  int most = 0, least = 0;
  for (int i = 0; i < nrows; i++) {
    if (rows[i].passes > most) most = rows[i].passes;
    if (!least || rows[i].passes < least) least = rows[i].passes;
  }
  printf("\nEvery time: the fastest of %d pass%s (%s) of the median of up to %d samples of about\n"
         "0.2 ms each; every pass runs every program in turn as a fresh process, so each implementation\n"
         "had the same chances (other load on a shared machine only slows a pass, and a process that\n"
         "runs at this VM's slower speed for its life is one pass).",
         most, most == 1 ? "" : "es", least == most ? "every program, every workload" : "some rows fewer: a failed run",
         BENCH_MAX_SAMPLES);
  printf("\nOpenBLAS and PyTorch rows: the fastest core of each workload, named in brackets, of every\n"
         "OPENBLAS_CORETYPE timed (tables below); the ratios are against those fastest cores.\n");
  printf("\n%-28s %5s  %-24s %10s %9s %6s %10s %9s\n", "workload", "batch", "impl", "us/op", "GFLOP/s",
         "%peak", "xOpenBLAS", "xPyTorch");
  for (int wl = 0; wl < W_COUNT; wl++) {
    const bench_workload *w = &bench_workloads[wl];
    const row *blas = fastest(w->key, "openblas-"), *torch = fastest(w->key, "pytorch-");
    for (int i = 0; i < nrows; i++) {
      const row *r = &rows[i];
      if (strcmp(r->workload, w->key)) continue;
      if ((!strncmp(r->impl, "openblas-", 9) && r != blas) || (!strncmp(r->impl, "pytorch-", 8) && r != torch))
        continue;
      char impl[64];
      shown_impl(r, impl, sizeof impl);
      printf("%-28s %5d  %-24s %10.2f %9.1f %6.1f", w->label, r->batch, impl, r->us, r->gflops,
             100.0 * r->gflops / peak->gflops);
      if (blas) printf(" %9.2fx", ratio(blas, r)); else printf(" %10s", "-");
      if (torch) printf(" %8.2fx", ratio(torch, r)); else printf(" %9s", "-");
      printf("\n");
    }
  }
  tuned_report();
  core_table("OpenBLAS", "openblas-");
  core_table("PyTorch", "pytorch-");
  FILE *cg = cgout ? fopen(cgout, "w") : NULL;
  if (cgout && !cg) { fprintf(stderr, "bench report: cannot write %s\n", cgout); return 2; }
  codegen_report(cg);
  if (cg && fclose(cg) != 0) { fprintf(stderr, "bench report: cannot write %s\n", cgout); return 2; }
  printf("\n");
  for (int i = 0; i < nnotes; i++)
    if (strncmp(notes[i], " machine ", 9)) printf("note:%s\n", notes[i]);
  targets(peak, l2);
  return 0;
}

int main(int argc, char **argv)
{
  const char *cmd = argc >= 2 ? argv[1] : "";
  int big = has_flag(argc, argv, "--big");
  if (!strcmp(cmd, "machine")) return cmd_machine();
  if (!strcmp(cmd, "cores")) {
    char buf[512];
    machine_blas_cores(buf, sizeof buf, has_flag(argc, argv, "--all"));
    printf("%s\n", buf);
    return 0;
  }
  if (!strcmp(cmd, "workloads")) return cmd_workloads(big);
  if (!strcmp(cmd, "baselines")) return cmd_baselines(!has_flag(argc, argv, "--no-fann"), big);
  if (!strcmp(cmd, "openblas")) return cmd_openblas(big);
  if ((argc == 4 || argc == 5) && !strcmp(cmd, "report")) return cmd_report(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
  fprintf(stderr, "usage: bench machine | bench cores [--all] | bench workloads [--big] |\n"
                  "       bench baselines [--no-fann] [--big] | bench openblas [--big] |\n"
                  "       bench report RAW OUT.csv [CODEGEN.csv]\n");
  return 2;
}
