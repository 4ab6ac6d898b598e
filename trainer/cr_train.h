/* cr_train.h — the trainer program (trainer/, build/libcrtrain.a) that every generated
 * NAME_cli.c hands its network to, and its pieces: progress bar, metrics CSV, gnuplot
 * plot, the init report. Built on the runtime (runtime/cr.h, build/libcr.a), which it
 * includes; unlike the runtime, the trainer prints (to stdout and stderr, as a program
 * does). It still never calls exit(): cr_trainer_main returns the exit status.
 * A function that can fail returns 0 on success and -1 on failure, after writing one
 * line "PATH: problem" into its cr_err, as in the runtime.
 *
 * Link with libcrtrain.a libcr.a -lz -lm.
 */
#ifndef CR_TRAIN_H
#define CR_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Time, progress bar, metrics, plot (train_util.c) ------------------------- */
double cr_now(void);  /* monotonic seconds */

typedef struct {
  FILE *f;
  int tty;              /* draw a bar (1) or stay silent until cr_progress_end (0) */
  long total, done;
  double t0, last_draw;
  int epoch, epochs;
} cr_progress;

void cr_progress_start(cr_progress *p, FILE *f, int tty, int epoch, int epochs, long total);
void cr_progress_update(cr_progress *p, long done, double loss);  /* redraws <= 10x/s */
void cr_progress_end(cr_progress *p);  /* clears the bar line (tty only) */

typedef struct {
  int epoch;
  double train_loss, valid_loss, valid_acc, seconds;
} cr_metrics_row;

/* Rewrites PATH (atomically) with the header epoch,train_loss,valid_loss,valid_acc,seconds
 * and ROWS. valid_acc is written empty when it is NaN (a regressor without accuracy). */
int cr_metrics_write(const char *path, const cr_metrics_row *rows, int n, cr_err *e);
/* The text cr_metrics_write writes, in a malloc'ed buffer (*text, *len; free() it). A row is
 * as wide as its numbers print (%.6f of 1e300 is 308 characters): the buffer grows. */
int cr_metrics_format(const cr_metrics_row *rows, int n, char **text, size_t *len, cr_err *e);
/* Reads rows with epoch < below_epoch from an existing metrics CSV (for --resume), at most
 * max of them. A missing file gives 0 rows; a malformed one is an error (the header must be
 * the writer's; each row 5 fields: epoch 1..1e8, finite numbers, valid_acc may be empty).
 * The file is read as every runtime reader reads (cr_read_file: a regular file, at most
 * CR_METRICS_MAX_BYTES). */
#define CR_METRICS_MAX_BYTES ((size_t)64 << 20)
int cr_metrics_read(const char *path, int below_epoch, cr_metrics_row *rows, int max, int *n,
                    cr_err *e);
/* The same on a buffer (name is used in messages); for fuzzing. */
int cr_metrics_parse(const char *buf, size_t len, const char *name, int below_epoch,
                     cr_metrics_row *rows, int max, int *n, cr_err *e);

/* Plot losses and accuracy from a metrics CSV into a PNG with gnuplot.
 * Returns 0 on success, 1 when gnuplot is not installed (nothing written), -1 on error. */
int cr_plot_png(const char *png, const char *csv, int has_acc, cr_err *e);

/* y[n][out] = x[n][in] @ w[in][out] + b[out] (b may be NULL): the obvious loops,
 * used where the generated code's internal layout must not matter (init report). */
void cr_naive_linear(float *y, const float *x, const float *w, const float *b,
                     int n, int in, int out);

/* The deep-stack experiment of the init report: 100 stacked 512x512 linear layers on
 * a batch of random inputs, three ways (plain randn, randn/sqrt(512), relu with
 * Kaiming gain), printing the std at a few depths and where it first goes inf/nan. */
int cr_deep_stack_report(FILE *out, uint64_t seed, cr_err *e);

/* ---- The generic trainer (train_cli.c and the other train_*.c) -------------------
 * A generated NAME_cli.c describes its network with a cr_net and calls
 * cr_trainer_main. Buffers are passed as void * and cast back in the thin wrappers
 * that the template generates. */
typedef struct {
  const char *name;
  int rows, cols;
  size_t offset;           /* floats from the start of the params struct */
  const char *init, *mode, *nonlinearity;
  float init_a;
  int fan_in, fan_out;
} cr_net_tensor;

typedef struct {
  const char *kind;        /* "linear", "relu", ..., "conv2d", "maxpool2d", "avgpool2d", "flatten" */
  int in, out;
  float shift;             /* relu: added after max(x, 0) */
  int weight, bias;        /* tensor indices or -1 */
  float slope;             /* leaky_relu: the negative slope; else 0 */
  int kernel, stride, padding;   /* conv2d, pooling (padding: conv2d); else 0 */
  int in_shape[3], out_shape[3]; /* C, H, W of an image in/out; 0s when flat */
  float eps;               /* batchnorm: added to the variance; else 0 */
  float p;                 /* dropout: the probability of dropping an element; else 0 */
} cr_net_layer;

typedef struct {
  const char *name;        /* network name, e.g. "mnist_mlp" */
  const char *spec;        /* spec path it was generated from */
  const char *isa;         /* "avx2", ...; "dispatch"; ISA:FAMILY (avx2:zen3) when gen --cpu
                              FAMILY changed its defaults */
  int in, out, batch;
  int in_shape[3];         /* C, H, W of an image input (rows [C][H][W]); 0s when flat */
  int classifier;          /* 1: cross-entropy, targets int32_t; 0: MSE, targets float */
  size_t param_count;
  size_t params_bytes, grads_bytes, work_bytes, opt_bytes;
  int tensor_count, layer_count;
  const cr_net_tensor *tensors;
  const cr_net_layer *layers;
  void  (*forward)(float *out, void *work, const void *params, const float *x, int n);
  float (*train_step)(void *params, void *opt, void *grads, void *work,
                      const float *x, const void *targets, int n);
  float (*loss)(const float *out, const void *targets, int n);
  int   (*correct)(const float *out, const void *targets, int n);   /* NULL for MSE */
  void  (*opt_init)(void *opt);
  float *(*opt_lr)(void *opt);                                      /* the lr field */
  float *(*opt_momentum)(void *opt);     /* SGD's momentum or Adam's beta1 (onecycle cycles it) */
  const char *schedule;    /* the spec's lr schedule, "KIND:key=value,..." (NULL: constant) */
  void  (*export_tensor)(float *dst, const void *params, int tensor);
  void  (*import_tensor)(void *params, int tensor, const float *src);
  /* NAME_seed for a network with dropout (NULL without): the trainer seeds the generated
     dropout generator with (seed, CR_STREAM_DROPOUT + epoch) before each epoch */
  void  (*seed)(void *work, uint64_t seed, uint64_t stream);
  /* The step in parts, for train --shards (the unsharded step is train_step):
     NAME_forward_train (NAME_forward for a network without training modes), NAME_backward
     (dx NULL) and NAME_step. NULL in a NAME_cli.c generated before they were added. */
  void  (*forward_train)(float *out, void *work, void *params, const float *x, int n);
  float (*backward)(void *grads, float *dx, void *work, const void *params, const float *x,
                    const void *targets, int n);
  void  (*step)(void *params, void *opt, const void *grads);
  /* NAME_step in slices, for the threads of train --shards: NAME_step_range on the floats
     lo..hi-1 of the parameters, then step_done (s->t++) once; together NAME_step's bits.
     NULL in a NAME_cli.c generated before they were added (the step then runs whole). */
  void  (*step_range)(void *params, void *opt, const void *grads, size_t lo, size_t hi);
  void  (*step_done)(void *opt);
  /* NAME_nonfinite: after train_step with this work, 1 when a gradient it computed was NaN
     or +-Inf (the step's own test, so the trainer need not scan the gradients), else 0.
     NULL in a NAME_cli.c generated before it was added (the trainer then scans). */
  int   (*nonfinite)(const void *work);
  /* NAME_train_step_scratch: train_step's loss, parameters and optimizer state with the
     gradients only as scratch (the weights updated inside their gradient tiles skip storing
     them). The unsharded trainer steps with it when nonfinite is there too, and names a
     NaN/Inf by the parameter it left behind. NULL in a NAME_cli.c generated before it. */
  float (*train_step_scratch)(void *params, void *opt, void *grads, void *work,
                              const float *x, const void *targets, int n);
  /* NAME_isa of a --dispatch build (isa "dispatch"): the variant its entry points run, which
     train names when it starts. NULL otherwise, and in a NAME_cli.c generated before it. */
  const char *(*variant)(void);
  /* NAME_use_isa of a --dispatch build (train --variant): 0, or -1 when the build has no such
     variant or this CPU cannot run it. NULL otherwise. */
  int (*use_variant)(const char *isa);
  /* The ISA whose code the running variant is, as checkpoints name it: variant's, but a family
     variant whose code gen found to be the plain ISA's (avx512:zen4 for a net without the
     layers zen4's defaults change) is that ISA. NULL: variant's name. */
  const char *(*variant_code)(void);
} cr_net;

/* How a trainer reaches the other processes of `train --distributed` (an MPI job). The
 * trainer holds the maths (which rank adds what, in which order); these only move bytes.
 * Each returns 0, or -1 on failure. */
typedef struct cr_dist {
  /* Joins the job: this process's rank and the number of ranks. -1 with one line in err
     when the process was not started by the job launcher (mpirun). */
  int  (*init)(int *rank, int *ranks, char *err, size_t cap);
  void (*finalize)(void);
  /* all[r * bytes ...] = rank r's `bytes` at mine, on every rank; mine may be
     all + rank * bytes */
  int  (*allgather)(const void *mine, void *all, size_t bytes);
  /* to every other rank r: out[lo[r] .. lo[r] + n[r] - 1]; from every other rank r: its
     n[this rank] floats, into in + r * stride */
  int  (*exchange)(const float *out, const size_t *lo, const size_t *n, float *in,
                   size_t stride);
  /* in place: buf[lo[r] .. lo[r] + n[r] - 1] of rank r to every rank, for every r, and with
     them (bytes > 0) extra[r * bytes ...] of rank r */
  int  (*allgatherv)(float *buf, const size_t *lo, const size_t *n, void *extra, size_t bytes);
  int  (*bcast)(void *buf, size_t bytes);   /* rank 0's bytes to every rank */
  /* This process's rank as the job launcher's environment gives it, before init (0 when
     it gives none; NULL: always 0). Every rank parses the same command line, so only rank
     0 reports a bad option. */
  int  (*launch_rank)(void);
} cr_dist;

/* cr_trainer_main for a trainer that can run `train --distributed`: dist carries the
 * transfers. NAME_cli.c compiled with -DCR_TRAIN_MPI passes cr_mpi_dist() (Open MPI,
 * trainer/mpi/train_mpi.c, built with mpicc: not in libcrtrain.a). */
int cr_trainer_main_dist(const cr_net *net, int argc, char **argv, const cr_dist *dist);
const cr_dist *cr_mpi_dist(void);

/* y[i] = the activation of layer L at x[i], i < count, in float:
 *   "relu"        max(x, 0) + L->shift
 *   "leaky_relu"  x > 0 ? x : L->slope * x
 *   "tanh"        tanhf(x)
 *   "sigmoid"     1 / (1 + expf(-x))
 * Any other kind (linear included) is -1 with a message naming it, and y is untouched;
 * count 0 checks the kind only. Used by the init report, so that a kind the generator
 * learns before this function does gets an error, not wrong numbers. */
int cr_naive_activation(float *y, const float *x, size_t count, const cr_net_layer *L,
                        cr_err *e);

/* Runs the trainer's command line (train, eval, predict, export, import, init-report).
 * Returns the process exit status: 0 ok, 1 failure (I/O, NaN), 2 usage error. */
int cr_trainer_main(const cr_net *net, int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif /* CR_TRAIN_H */
