/* train_internal.h — what the trainer's .c files share; not part of its public API.
 * Names are prefixed tr_ so they cannot clash with a program linking libcrtrain.a. */
#ifndef TRAIN_INTERNAL_H
#define TRAIN_INTERNAL_H

#include <limits.h>
#include <stdint.h>

#include "cr_train.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* ------------------------------------------------------------------ options (train_cli.c) */

/* --epochs' upper bound, and what a checkpoint's epoch count may be. */
#define TR_MAX_EPOCHS 1000000

enum { CMD_TRAIN = 1, CMD_EVAL = 2, CMD_PREDICT = 4, CMD_EXPORT = 8, CMD_IMPORT = 16,
       CMD_REPORT = 32 };
#define CMD_DATA (CMD_TRAIN | CMD_EVAL | CMD_REPORT)

typedef struct {
  const char *prog, *cmdname;
  int cmd;
  const char *data, *train_x, *train_y, *valid_x, *valid_y;
  const char *init, *checkpoint, *resume, *metrics, *plot, *input, *output, *dir, *schedule;
  const char *variant; /* --variant: the dispatch build's variant to run (cr_net.use_variant) */
  long epochs, batch, rows, shards, threads;
  double lr;
  unsigned long long seed;
  int lr_set, seed_set, batch_set, epochs_set, no_norm, no_shuffle, progress, distributed, profile;
  int no_gather_thread;
  const cr_dist *dist; /* the MPI build's transfers (cr_trainer_main_dist), else NULL */
  int quiet;           /* a rank other than 0: tr_usage/tr_fail print nothing */
} opts;

#if defined(__GNUC__) || defined(__clang__)
#define TR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TR_PRINTF(a, b)
#endif

/* "PROG CMD: message (try --help)" on stderr; returns 2 (bad usage). */
int tr_usage(const opts *o, const char *fmt, ...) TR_PRINTF(2, 3);
/* "PROG CMD: message" on stderr; returns rc (the exit status the caller passes on). */
int tr_fail(const opts *o, int rc, const char *fmt, ...) TR_PRINTF(3, 4);

/* This thread's CPU seconds (CLOCK_THREAD_CPUTIME_ID): what train --profile adds up. */
double tr_thread_cpu(void);

/* The seed of this run: --seed, else 1. */
uint64_t tr_seed(const opts *o);

/* ------------------------------------------------------------------ schedules (train_sched.c) */

enum { TR_SCHED_CONSTANT, TR_SCHED_STEP, TR_SCHED_COSINE, TR_SCHED_ONECYCLE };

/* A learning-rate schedule, torch.optim.lr_scheduler's semantics: step (StepLR) and cosine
 * (CosineAnnealingLR) change the rate once per epoch, onecycle (OneCycleLR) once per batch.
 * Keys left unset are NAN and take their default from the run: cosine t_max and onecycle
 * epochs = the run's --epochs, onecycle max_lr = the optimizer's lr. */
typedef struct {
  int kind;
  double step_size, gamma;                       /* step */
  double t_max, eta_min;                         /* cosine */
  double max_lr, epochs, pct_start, anneal_linear, cycle_momentum, base_momentum,
      max_momentum, div_factor, final_div_factor, three_phase;   /* onecycle */
} tr_sched;

/* Parses "KIND" or "KIND:key=value,..." (KIND: constant, step, cosine, onecycle).
 * 0, or -1 with a one-line reason in err. */
int tr_sched_parse(tr_sched *s, const char *text, char *err, size_t errlen);
/* Whether s can run for `epochs` epochs of `steps_per_epoch` batches. 0, or -1 (err). */
int tr_sched_check(const tr_sched *s, long epochs, long steps_per_epoch, char *err,
                   size_t errlen);
/* The learning rate (and, for a onecycle that cycles momentum, the momentum; else NAN) of
 * the batch `step` (0-based, counted over the whole run) in epoch `epoch` (0-based).
 * -1 when step is past the end of a onecycle schedule. */
int tr_sched_at(const tr_sched *s, double base_lr, long epoch, long step, long epochs,
                long steps_per_epoch, double *lr, double *momentum);

/* ------------------------------------------------------------------ data (train_data.c) */

typedef struct {
  char tx[PATH_MAX], ty[PATH_MAX], vx[PATH_MAX], vy[PATH_MAX];
  int have_train, have_valid;
} datapaths;

/* The training/validation files named by --data or the --train-/--valid- options.
 * Exit status style: 0 ok, 2 bad. */
int tr_resolve_data(const opts *o, datapaths *p, int need_train);
/* Loads one labelled set and checks it fits the network (y may be ""). 0 ok, 2 bad. */
int tr_load_set(const cr_net *net, const opts *o, cr_dataset *d, const char *x, const char *y);
/* Loads --input (no labels) and checks its rows fit the network. 0 ok, 2 bad. */
int tr_load_inputs(const cr_net *net, const opts *o, cr_dataset *d);
/* A network whose batchnorm sees one value per channel per row cannot train on a batch of
 * 1 row (torch refuses it too): batch >= 2 and no last batch of 1 of n samples from file x.
 * 0 ok, 2 bad (printed). */
int tr_check_train_rows(const cr_net *net, const opts *o, const char *x, size_t n, int batch);
/* 1 if p names a regular file. */
int tr_file_exists(const char *p);
/* A file a command reads or writes, for tr_check_outputs: what names it ("--metrics", "the
 * training images"), its path (NULL: not given), and (an output) the index + 1 of the input
 * it may be (train's checkpoint, saved back over --resume's), else 0. */
typedef struct {
  const char *what, *path;
  int may_be;
} tr_file;
/* The command's outputs, before any work: none a directory, in a missing or unwritable
 * directory, the same file as one of the inputs or another output (an existing file by device
 * and inode, a new one by its directory's and its name). 0 ok, 2 bad (printed). */
int tr_check_outputs(const opts *o, const tr_file *outs, int nouts, const tr_file *ins, int nins);

/* ------------------------------------------------------------------ the model (train_model.c) */

typedef struct {
  const cr_net *net;
  void *params, *grads, *work, *opt;
  float *out;          /* [batch][out] */
  void *targets;       /* [batch] int32_t or float */
  float *packed;       /* [param_count]: checkpoint's "params" part */
  float norm[2];       /* mean, std applied to inputs */
  cr_rng rng;          /* init stream state after initialisation */
  int64_t progress[4]; /* epochs done, steps done, seed, batch */
  int64_t shards;      /* --shards of the steps taken (1: unsharded); 0: not recorded (no step
                          yet, or a checkpoint written before the "shards" part) */
  char isa[16];        /* ISA whose code wrote the checkpoint (a dispatch build's variant) */
} model;

/* The ISA whose code runs: a dispatch build's variant (NAME_isa), else the build's ISA. What a
 * checkpoint records, and what --resume compares it with. */
const char *tr_isa_running(const cr_net *net);
/* cr_shapes_hash of the network's tensor table (names and shapes): the checkpoint's
 * shapes_hash, and part of --distributed's network fingerprint. */
uint64_t tr_shapes_hash(const cr_net *net);
int  tr_model_alloc(model *m, const cr_net *net);
void tr_model_free(model *m);
int  tr_model_save(model *m, const char *path, cr_err *e);
/* Loads a checkpoint and checks what its CRCs cannot: progress (epochs 0..TR_MAX_EPOCHS,
 * steps >= 0, batch 1..the spec's), a finite learning rate > 0, finite parameters and
 * normalisation. On failure m holds whatever was read (the callers discard it). */
int  tr_model_load(model *m, const char *path, cr_err *e);
/* Initialises every tensor from the spec's schemes (or `scheme` for weights). */
int  tr_model_init(model *m, uint64_t seed, const char *scheme, cr_err *e);
/* Allocates m and loads --checkpoint into it, printing the error. 0 ok, 1 or 2 failed. */
int  tr_model_open(model *m, const cr_net *net, const opts *o);

void  tr_set_targets(const model *m, const uint8_t *y, int n);
void  tr_apply_norm(const model *m, cr_dataset *d);
/* Mean loss and accuracy over a data set, in batches, in order. */
void  tr_evaluate(const model *m, const cr_dataset *d, int batch, double *loss, double *acc);

float *tr_tensor_ptr(void *base, const cr_net_tensor *t);
/* 1 if tensor ti is some layer's weight, 2 if some layer's bias, else 0. */
int   tr_tensor_role(const cr_net *net, int ti);

/* First non-finite value among the tensors of base (params or grads): its tensor index,
 * or -1. backward = 1 scans from the last tensor back. */
int  tr_find_nonfinite(const cr_net *net, void *base, int backward, long *index, float *value);
/* After a step: tests every element of every gradient tensor (grads) for NaN/Inf, with
 * cr_first_nonfinite's test, in `rows` pieces of about equal size, and after piece i
 * gathers row i of the batcher's current batch (drawn by cr_batcher_next with defer_x),
 * with row i + 1 requested from memory first, so the gather's trips to memory overlap the
 * scan (rows 0: the scan alone, b unused). 1 when some gradient is not finite (then
 * tr_find_nonfinite names it), else 0. */
int  tr_scan_gather(const cr_net *net, void *grads, cr_batcher *b, int rows);
/* Gathers rows 0..rows-1 of the batcher's current batch (drawn by cr_batcher_next with
 * defer_x) into dst one by one, each row's next rows requested from memory before it is
 * copied, so the copies overlap the trips to memory (the step tests its own gradients: no
 * scan to hide them in). */
void tr_gather_ahead(const cr_batcher *b, float *dst, int rows);
/* The parameter of largest magnitude (for a loss that overflowed on finite numbers). */
int  tr_find_largest(const cr_net *net, void *base, long *index, float *value);
/* "layer L (kind in->out) tensor NAME[row][col]" for messages. */
void tr_describe_element(const cr_net *net, int ti, long index, char *buf, size_t cap);
/* A float for messages: "nan", "inf", "-inf" spelled the same on every libc. */
const char *tr_fmt_num(char buf[16], float v);

/* ------------------------------------------------------------------ threads (train_pool.c) */

/* CPUs this process may run on (its affinity mask on Linux, else the online CPUs), >= 1. */
int tr_cpus(void);

typedef struct tr_pool tr_pool;
/* A pool of threads - 1 workers (pthreads) plus the calling thread; NULL when out of
 * memory or threads. */
tr_pool *tr_pool_new(int threads);
/* fn(ctx, i) for every i < ntasks, spread over the threads; returns when all are done.
 * Tasks must write disjoint memory: which thread runs which is not fixed. */
void tr_pool_run(tr_pool *p, int ntasks, void (*fn)(void *ctx, int task), void *ctx);
/* tr_pool_run in two halves: start posts the job to the workers and returns (a pool without
 * workers runs it at once); wait runs the tasks no worker has taken, on the caller, and
 * returns when all are done. Between them the caller may work on memory no task touches. */
void tr_pool_start(tr_pool *p, int ntasks, void (*fn)(void *ctx, int task), void *ctx);
void tr_pool_wait(tr_pool *p);
void tr_pool_free(tr_pool *p);

/* ------------------------------------------------------------------ sharded step (train_shard.c) */

/* --shards' upper bound (the dropout streams of train_shard.c need it <= 256). */
#define TR_MAX_SHARDS 256
/* --threads' upper bound. */
#define TR_MAX_THREADS 1024

typedef struct {
  model *m;
  int shards;          /* in the whole batch */
  int local, s0;       /* this rank's shards: s0 .. s0 + local - 1 (all of them: s0 = 0) */
  size_t gfloats;      /* floats in one NAME_grads */
  void **grads, **work;/* per local shard; [0] are the model's own */
  float *loss, *weight;/* per shard: its mean loss, its weight n_s / n */
  int *rows, *row0;    /* per shard: its rows of the current batch */
  const float *x;      /* the current batch */
  const cr_batcher *batcher; /* non-NULL: x is its deferred buffer, each shard gathers its rows */
  tr_pool *pool;
  const cr_dist *dist; /* --distributed: the other ranks; else NULL */
  int rank, ranks;
  size_t *lo, *len;    /* ranks > 1, per rank: the floats lo .. lo + len - 1 it sums (and steps) */
  float *tmp;          /* rank r's partial sum of this rank's floats at tmp + r * slot */
  size_t slot;         /* the largest len */
  float *gath;         /* per rank: its shards' losses and its nonfinite flag */
  int split;           /* ranks > 1: each rank steps its own floats (NAME_step_range and
                          NAME_opt's documented layout); 0: every rank steps all of them */
  int state_copies;    /* NAME_params-shaped state buffers in NAME_opt (split) */
  int chunks;          /* slices of the gradient buffer, one task each for sum and step */
  int *bad;            /* per slice: the summed gradient holds NaN/Inf */
  int nonfinite;       /* after a step: some slice did */
} tr_shards;

/* Buffers for this rank's shards - 1 more shards and a pool of `threads`; shards / ranks
 * must be a power of two (ranks 1: any). 0, or -1 out of memory. */
int   tr_shards_init(tr_shards *sh, model *m, int shards, int threads, const cr_dist *dist,
                     int rank, int ranks);
void  tr_shards_free(tr_shards *sh);
/* Seeds every local shard's dropout generator for an epoch (no-op without dropout). */
void  tr_shards_seed(tr_shards *sh, uint64_t seed, uint64_t epoch);
/* One step on n rows (x, and m->targets already set: the whole batch, on every rank): the
 * local shards' forward + backward, the weighted tree sum into m->grads (over the ranks
 * too), NAME_step (in slices, on the threads). *loss: the batch's mean loss; sh->nonfinite:
 * m->grads holds NaN/Inf. With ranks, m->grads is the whole sum only after a NaN/Inf (or
 * when every rank steps everything); else just this rank's range of it. 0, or -1 when a
 * transfer failed. */
int   tr_shards_step(tr_shards *sh, const float *x, int n, float *loss);
/* Every rank's floats of the optimizer state to every rank (all ranks call it: before rank 0
 * writes a checkpoint). 0, or -1 when a transfer failed. */
int   tr_shards_sync_state(tr_shards *sh);

/* ------------------------------------------------------------------ the commands */

int tr_cmd_train(const cr_net *net, const opts *o);   /* train_loop.c */
int tr_cmd_eval(const cr_net *net, const opts *o);    /* train_cmds.c */
int tr_cmd_predict(const cr_net *net, const opts *o);
int tr_cmd_export(const cr_net *net, const opts *o);
int tr_cmd_import(const cr_net *net, const opts *o);
int tr_cmd_report(const cr_net *net, const opts *o);  /* train_report.c */

#endif
