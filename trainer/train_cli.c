/* train_cli.c — the trainer's command line: subcommands, the option table, help, parsing,
 * one-line error messages, and cr_trainer_main, which dispatches to the commands
 * (train_loop.c, train_cmds.c, train_report.c). The network is reached only through the
 * cr_net the generated NAME_cli.c hands in. */
#define _POSIX_C_SOURCE 200809L
#include "train_internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { O_STR, O_LONG, O_DOUBLE, O_U64, O_FLAG } otype;
typedef struct {
  const char *flag;
  otype type;
  int cmds;
  size_t off;       /* offset of the field in opts */
  size_t set_off;   /* offset of an int "was set" flag, or 0 */
  double lo, hi;    /* numeric range */
  const char *arg, *help;
} optdef;

#define OFF(f) offsetof(opts, f)
static const optdef optdefs[] = {
    {"--data", O_STR, CMD_DATA, OFF(data), 0, 0, 0, "NAME|DIR|PREFIX",
     "data set: mnist (data/mnist), fashion (data/fashion-mnist, else Debian's files in "
     "/usr/share/datasets/fashion-mnist), tiny (build/tiny), "
     "a directory holding train-/valid- (or t10k-) images-idx3-ubyte[.gz] and labels-idx1-ubyte[.gz], "
     "or a path prefix of such files (PREFIXtrain-images-idx3-ubyte, ...)"},
    {"--train-images", O_STR, CMD_TRAIN | CMD_REPORT, OFF(train_x), 0, 0, 0, "FILE",
     "training inputs: IDX[.gz], .npy, or .csv (label,values...; no labels file)"},
    {"--train-labels", O_STR, CMD_TRAIN | CMD_REPORT, OFF(train_y), 0, 0, 0, "FILE",
     "training labels: IDX[.gz] or .npy"},
    {"--valid-images", O_STR, CMD_DATA, OFF(valid_x), 0, 0, 0, "FILE",
     "validation/test inputs (formats as --train-images)"},
    {"--valid-labels", O_STR, CMD_DATA, OFF(valid_y), 0, 0, 0, "FILE", "validation/test labels"},
    {"--epochs", O_LONG, CMD_TRAIN, OFF(epochs), OFF(epochs_set), 0, TR_MAX_EPOCHS, "N",
     "train until N epochs are done in total (default 5; with --resume, counts the resumed ones; "
     "0: write the initialised checkpoint, nothing trained)"},
    {"--lr", O_DOUBLE, CMD_TRAIN, OFF(lr), OFF(lr_set), 0, 1e30, "X",
     "learning rate (default: the spec's, or the checkpoint's with --resume)"},
    {"--schedule", O_STR, CMD_TRAIN, OFF(schedule), 0, 0, 0, "KIND[:key=value,...]",
     "learning-rate schedule (default: the spec's, else constant), as torch.optim.lr_scheduler: "
     "constant; step:step_size=N[,gamma=0.1] (StepLR, per epoch); cosine[:t_max=N,eta_min=0] "
     "(CosineAnnealingLR, per epoch, t_max = --epochs); onecycle[:max_lr=X,epochs=N,pct_start=0.3,"
     "anneal=cos|linear,cycle_momentum=true,base_momentum=0.85,max_momentum=0.95,div_factor=25,"
     "final_div_factor=1e4,three_phase=false] (OneCycleLR, per batch; max_lr = the lr, epochs = "
     "--epochs; cycles SGD's momentum or Adam's beta1)"},
    {"--batch", O_LONG, CMD_TRAIN | CMD_EVAL, OFF(batch), OFF(batch_set), 1, INT_MAX, "N",
     "rows per step, 1..the spec's batch (default: the spec's batch)"},
    {"--shards", O_LONG, CMD_TRAIN, OFF(shards), 0, 1, TR_MAX_SHARDS, "S",
     "cut every batch into S shards, each with its own forward/backward, their gradients "
     "summed in a fixed order before one optimizer step (default 1: the fused step); S a power "
     "of two that divides the batch; the bits depend on S, not on --threads; not with batchnorm"},
    {"--threads", O_LONG, CMD_TRAIN, OFF(threads), 0, 1, TR_MAX_THREADS, "T",
     "threads that run the shards and the gradient sum (default 1); any T gives the same bits"},
    {"--distributed", O_FLAG, CMD_TRAIN, OFF(distributed), 0, 0, 0, NULL,
     "one rank of an MPI job (mpirun -np N PROG train ... --distributed; the MPI build of the "
     "trainer): every rank runs --shards/N shards of each batch, gradients summed in the same "
     "fixed tree over the ranks, rank 0 writes the checkpoint, metrics and plot; the bits are "
     "the single-process run's with the same --shards"},
    {"--seed", O_U64, CMD_TRAIN | CMD_IMPORT | CMD_REPORT, OFF(seed), OFF(seed_set), 0, 0, "N",
     "seed of initialisation and shuffling (default 1)"},
    {"--init", O_STR, CMD_TRAIN, OFF(init), 0, 0, 0, "SCHEME",
     "initialise every weight with SCHEME instead of the spec's (zeros, randn, simple_kaiming, "
     "xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal, pytorch_default)"},
    {"--no-norm", O_FLAG, CMD_TRAIN | CMD_REPORT, OFF(no_norm), 0, 0, 0, NULL,
     "do not normalise inputs (default: mean/std fitted on the training set)"},
    {"--no-shuffle", O_FLAG, CMD_TRAIN, OFF(no_shuffle), 0, 0, 0, NULL,
     "train on the rows in file order (default: a seeded shuffle every epoch); the batches "
     "are then read in place, without a copy"},
    {"--no-gather-thread", O_FLAG, CMD_TRAIN, OFF(no_gather_thread), 0, 0, 0, NULL,
     "gather each shuffled batch on the training thread after the step before (default, on "
     "a machine with 2+ CPUs and without --shards: on a second thread while that step runs, "
     "which keeps that CPU busy, polling between batches; the same bits either way)"},
    {"--checkpoint", O_STR, CMD_TRAIN | CMD_EVAL | CMD_PREDICT | CMD_EXPORT | CMD_IMPORT,
     OFF(checkpoint), 0, 0, 0, "FILE",
     "train/import: write the checkpoint here (train: after every epoch); "
     "eval/predict/export: read it"},
    {"--resume", O_STR, CMD_TRAIN, OFF(resume), 0, 0, 0, "FILE",
     "continue training from this checkpoint (weights, optimizer, normalisation, RNG, epoch); "
     "new checkpoints overwrite FILE unless --checkpoint names another"},
    {"--metrics", O_STR, CMD_TRAIN, OFF(metrics), 0, 0, 0, "CSV",
     "write epoch,train_loss,valid_loss,valid_acc,seconds after every epoch"},
    {"--plot", O_STR, CMD_TRAIN, OFF(plot), 0, 0, 0, "PNG",
     "plot losses and accuracy with gnuplot at the end (needs --metrics)"},
    {"--profile", O_FLAG, CMD_TRAIN, OFF(profile), 0, 0, 0, NULL,
     "at the end, print on stderr the shares of the training loop's wall time spent in the "
     "generated step, the batch gather and the NaN/Inf test (the step's own flag; a scan of "
     "the gradients only for a network generated without it), then its thread CPU time"},
    {"--progress", O_FLAG, CMD_TRAIN, OFF(progress), 0, 0, 0, NULL,
     "draw the progress bar even when stdout is not a terminal"},
    {"--variant", O_STR, CMD_TRAIN | CMD_EVAL | CMD_PREDICT, OFF(variant), 0, 0, 0, "ISA",
     "a trainer generated with --dispatch: run this variant (avx512, avx2, sse2, scalar, or "
     "ISA:FAMILY as generated) instead of the best one this CPU runs, e.g. to get the bits "
     "of another machine's run"},
    {"--input", O_STR, CMD_PREDICT, OFF(input), 0, 0, 0, "FILE",
     "inputs to predict: IDX images[.gz], .npy (float32 as given, uint8 scaled by 1/255) or "
     ".csv (label,values...: the labels are ignored)"},
    {"--output", O_STR, CMD_PREDICT, OFF(output), 0, 0, 0, "FILE",
     "write predictions here (default: stdout), one line per sample"},
    {"--rows", O_LONG, CMD_REPORT, OFF(rows), 0, 1, 100000000, "N",
     "validation rows the init report runs (default 1000)"},
};
#define NOPTS (sizeof optdefs / sizeof optdefs[0])

static const struct {
  const char *name;
  int cmd;
  const char *args, *what;
} cmds[] = {
    {"train", CMD_TRAIN, "[--data NAME|DIR] [options]", "train the network, printing one line per epoch"},
    {"eval", CMD_EVAL, "--checkpoint FILE [--data NAME|DIR]", "loss and accuracy of a checkpoint on the validation/test set"},
    {"predict", CMD_PREDICT, "--checkpoint FILE --input FILE [--output FILE]", "print the predicted class (or value) of every input row"},
    {"export", CMD_EXPORT, "DIR --checkpoint FILE", "write weights as .npy in PyTorch state_dict names and shapes (DIR/0.weight.npy ...) and norm.npy"},
    {"import", CMD_IMPORT, "DIR --checkpoint FILE", "make a checkpoint from DIR/*.npy (as export writes them; norm.npy optional)"},
    {"init-report", CMD_REPORT, "[--data NAME|DIR] [--seed N]", "activation mean/std per layer for the seed's init schemes, and the 100-layer deep-stack experiment"},
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

/* ------------------------------------------------------------------ help */

/* One line per layer of NAME_layers[]: its kind, and for image layers the shapes C×H×W
 * and the window (kernel, stride, padding). */
static void print_layers(const cr_net *net) {
  printf("layers:\n");
  for (int l = 0; l < net->layer_count; l++) {
    const cr_net_layer *L = &net->layers[l];
    const int *i = L->in_shape, *s = L->out_shape;
    char in[48], out[48];
    if (i[0]) snprintf(in, sizeof in, "%dx%dx%d", i[0], i[1], i[2]);
    else snprintf(in, sizeof in, "%d", L->in);
    if (s[0]) snprintf(out, sizeof out, "%dx%dx%d", s[0], s[1], s[2]);
    else snprintf(out, sizeof out, "%d", L->out);
    if (L->kernel)
      printf("  %2d %-10s %10s -> %-10s kernel %d stride %d padding %d\n", l, L->kind, in, out,
             L->kernel, L->stride, L->padding);
    else
      printf("  %2d %-10s %10s -> %s\n", l, L->kind, in, out);
  }
  printf("\n");
}

static void print_overview(const cr_net *net, const opts *o) {
  printf("%s — trainer for the network '%s' (%d -> %d, %s, %s), generated from %s\n\n",
         o->prog, net->name, net->in, net->out, net->classifier ? "cross-entropy" : "MSE",
         net->isa, net->spec);
  print_layers(net);
  printf("usage: %s COMMAND [options]    (%s COMMAND --help for its options)\n\n", o->prog,
         o->prog);
  for (size_t i = 0; i < NCMDS; i++) printf("  %-12s %s\n", cmds[i].name, cmds[i].what);
  printf("\nExit status: 0 ok, 1 failure (I/O, non-finite loss), 2 bad usage or input.\n");
}

static void print_help(const opts *o, int cmd) {
  for (size_t i = 0; i < NCMDS; i++) {
    if (cmds[i].cmd != cmd) continue;
    printf("usage: %s %s %s\n%s\n\noptions:\n", o->prog, cmds[i].name, cmds[i].args, cmds[i].what);
  }
  for (size_t i = 0; i < NOPTS; i++) {
    if (!(optdefs[i].cmds & cmd)) continue;
    char left[64];
    snprintf(left, sizeof left, "%s%s%s", optdefs[i].flag, optdefs[i].arg ? " " : "",
             optdefs[i].arg ? optdefs[i].arg : "");
    printf("  %-22s %s\n", left, optdefs[i].help);
  }
}

/* ------------------------------------------------------------------ parsing */

/* Stores value v of option d into o. Returns 0 or 2 (usage error, printed). */
static int parse_value(opts *o, const optdef *d, const char *v) {
  char *field = (char *)o + d->off;
  char *end = NULL;
  errno = 0;
  switch (d->type) {
    case O_STR:
      if (!*v) return tr_usage(o, "option '%s' needs a non-empty value", d->flag);
      *(const char **)field = v;
      return 0;
    case O_LONG: {
      long x = strtol(v, &end, 10);
      if (end == v || *end || errno || x < d->lo || x > d->hi)
        return tr_usage(o, "option '%s' needs an integer from %.0f to %.0f, got '%s'", d->flag,
                        d->lo, d->hi, v);
      *(long *)field = x;
      return 0;
    }
    case O_DOUBLE: {
      double x = strtod(v, &end);
      if (end == v || *end || (errno && errno != ERANGE) || !isfinite(x) || !(x > d->lo) ||
          x > d->hi)
        return tr_usage(o, "option '%s' needs a positive number, got '%s'", d->flag, v);
      /* the value ends up in a float: one that rounds to 0 (1e-50) or to a denormal would
         silently train with another number */
      if ((float)x < FLT_MIN)
        return tr_usage(o, "option '%s' %s is too small for a float (the smallest is %g)",
                        d->flag, v, (double)FLT_MIN);
      *(double *)field = x;
      return 0;
    }
    case O_U64: {
      unsigned long long x = v[0] == '-' ? 0 : strtoull(v, &end, 10);
      if (v[0] == '-' || end == v || *end || errno)
        return tr_usage(o, "option '%s' needs a non-negative integer, got '%s'", d->flag, v);
      *(unsigned long long *)field = x;
      return 0;
    }
    case O_FLAG:
      break;
  }
  return 0;
}

/* A positional argument: export/import DIR, predict FILE. Returns 0 or 2. */
static int parse_positional(opts *o, const char *a, int *positional) {
  if ((o->cmd & (CMD_EXPORT | CMD_IMPORT)) && *positional == 0) {
    o->dir = a;
    ++*positional;
    return 0;
  }
  if (o->cmd == CMD_PREDICT && *positional == 0 && !o->input) {
    o->input = a;
    ++*positional;
    return 0;
  }
  return tr_usage(o, "unexpected argument '%s'", a);
}

static const optdef *find_option(const char *a, size_t flen) {
  for (size_t k = 0; k < NOPTS; k++)
    if (strlen(optdefs[k].flag) == flen && !strncmp(optdefs[k].flag, a, flen)) return &optdefs[k];
  return NULL;
}

/* Parses argv after the subcommand. Returns 0, 1 (help printed) or 2 (usage error). */
static int parse_args(opts *o, int argc, char **argv) {
  int positional = 0, rc;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      print_help(o, o->cmd);
      return 1;
    }
    if (a[0] != '-' || a[1] == '\0') {
      if ((rc = parse_positional(o, a, &positional))) return rc;
      continue;
    }
    const char *eq = strchr(a, '=');
    size_t flen = eq ? (size_t)(eq - a) : strlen(a);
    const optdef *d = find_option(a, flen);
    if (!d) return tr_usage(o, "unknown option '%.*s'", (int)flen, a);
    if (!(d->cmds & o->cmd))
      return tr_usage(o, "option '%s' does not apply to this command", d->flag);
    if (d->type == O_FLAG) {
      if (eq) return tr_usage(o, "option '%s' takes no value", d->flag);
      *(int *)((char *)o + d->off) = 1;
      continue;
    }
    const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!v) return tr_usage(o, "option '%s' needs a value (%s)", d->flag, d->arg);
    if (d->set_off) *(int *)((char *)o + d->set_off) = 1;
    if ((rc = parse_value(o, d, v))) return rc;
  }
  return 0;
}

/* ------------------------------------------------------------------ main */

static int find_command(opts *o, const char *name) {
  if (!strcmp(name, "--init-report")) {
    o->cmd = CMD_REPORT, o->cmdname = "init-report";
    return 1;
  }
  for (size_t i = 0; i < NCMDS; i++)
    if (!strcmp(name, cmds[i].name)) o->cmd = cmds[i].cmd, o->cmdname = cmds[i].name;
  return o->cmd != 0;
}

/* Whatever went to stdout (predictions, epoch lines, help) must have arrived: a write error
 * there (a full disk, /dev/full) is reported and makes the status 1. */
static int stdout_status(const opts *o, int rc) {
  errno = 0;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    tr_fail(o, 1, "standard output: write failed: %s", errno ? strerror(errno) : "I/O error");
    return rc ? rc : 1;
  }
  return rc;
}

int cr_trainer_main(const cr_net *net, int argc, char **argv) {
  return cr_trainer_main_dist(net, argc, argv, NULL);
}

int cr_trainer_main_dist(const cr_net *net, int argc, char **argv, const cr_dist *dist) {
  opts o;
  memset(&o, 0, sizeof o);
  o.dist = dist;
  const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
  o.prog = argc > 0 ? (slash ? slash + 1 : argv[0]) : net->name;
  /* under mpirun every rank would print the same usage error: ranks other than 0 keep quiet
     (train --distributed sets quiet again from the rank MPI gives, tr_cmd_train) */
  o.quiet = dist && dist->launch_rank && dist->launch_rank() != 0;
  if (argc < 2) return tr_fail(&o, 2, "missing command (try --help)");
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    print_overview(net, &o);
    return 0;
  }
  if (!find_command(&o, argv[1])) return tr_fail(&o, 2, "unknown command '%s' (try --help)", argv[1]);
  int rc = parse_args(&o, argc - 2, argv + 2);
  if (rc == 1) return stdout_status(&o, 0);
  if (rc) return rc;
  o.quiet = 0;
  if (o.variant) {
    if (!net->use_variant)
      return tr_fail(&o, 2, "--variant: this trainer was not generated with --dispatch (it is the %s build)",
                     net->isa);
    if (net->use_variant(o.variant) != 0)
      return tr_fail(&o, 2, "--variant '%s': this build has no such variant, or this CPU cannot run it (it runs %s)",
                     o.variant, net->variant());
  }
  /* Past a file-size limit (ulimit -f) a write fails with EFBIG, which is reported and
     cleaned up after like any write error, instead of SIGXFSZ ending the program silently
     in the middle of a write. */
  signal(SIGXFSZ, SIG_IGN);
  switch (o.cmd) {
    case CMD_TRAIN: rc = tr_cmd_train(net, &o); break;
    case CMD_EVAL: rc = tr_cmd_eval(net, &o); break;
    case CMD_PREDICT: rc = tr_cmd_predict(net, &o); break;
    case CMD_EXPORT: rc = tr_cmd_export(net, &o); break;
    case CMD_IMPORT: rc = tr_cmd_import(net, &o); break;
    default: rc = tr_cmd_report(net, &o); break;
  }
  return stdout_status(&o, rc);
}
