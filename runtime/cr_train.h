/* cr_train.h — the trainer's half of the runtime: checkpoints, progress bar, metrics
 * CSV, gnuplot plot, non-finite checks, the init report, and the generic trainer
 * program that every generated NAME_cli.c hands its network to.
 *
 * Conventions as in the rest of cr.h (which includes this header at its end): no
 * global state, no exit(); a function that can fail returns 0 on success and -1 on
 * failure, after writing one line "PATH: problem" into its cr_err.
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

/* ---- CRC-32 (IEEE 802.3, reflected, as zlib's crc32 and `cksum -a crc32b`) ---- */
uint32_t cr_crc32(uint32_t crc, const void *data, size_t bytes);

/* ---- Checkpoints (cr_ckpt.c) --------------------------------------------------
 * File layout, all integers little-endian:
 *   magic "CRCKPT\r\n" | u32 version | u32 header_bytes | char net[64] |
 *   u64 param_count | u64 shapes_hash | u32 nparts | u32 0 |
 *   nparts x { char name[32] | u64 bytes } | u64 payload_bytes | u32 payload_crc32 |
 *   u32 header_crc32 (of every header byte before it) | payload (the parts, in order)
 * The reader checks every field against what the caller expects before it copies
 * anything into the caller's buffers, so a refused checkpoint changes nothing.
 * The writer writes a temporary file in the same directory, fsyncs it and renames it
 * over PATH, so PATH always holds either the old or the new checkpoint. */
#define CR_CKPT_VERSION 1u
#define CR_CKPT_NAME_MAX 64
#define CR_CKPT_PART_NAME_MAX 32

typedef struct {
  const char *net;        /* network name, < 64 bytes */
  uint64_t param_count;   /* floats in all parameters */
  uint64_t shapes_hash;   /* cr_shapes_hash of the tensor table */
} cr_ckpt_id;

typedef struct {
  const char *name;       /* < 32 bytes: "params", "opt", "norm", "rng", "progress" */
  void *data;             /* save: read from; load: written to */
  size_t bytes;           /* exact size expected */
} cr_ckpt_part;

int cr_ckpt_save(const char *path, const cr_ckpt_id *id, const cr_ckpt_part *parts,
                 int nparts, cr_err *e);
int cr_ckpt_load(const char *path, const cr_ckpt_id *id, const cr_ckpt_part *parts,
                 int nparts, cr_err *e);

/* FNV-1a 64 over a tensor table's names and shapes, in order. */
typedef struct { const char *name; int rows, cols; } cr_shape;
uint64_t cr_shapes_hash(const cr_shape *shapes, int n);

/* ---- Time, progress bar, metrics, plot (cr_train_util.c) --------------------- */
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
/* Reads rows with epoch < below_epoch from an existing metrics CSV (for --resume).
 * A missing file gives 0 rows; a malformed one is an error. */
int cr_metrics_read(const char *path, int below_epoch, cr_metrics_row *rows, int max, int *n,
                    cr_err *e);

/* Plot losses and accuracy from a metrics CSV into a PNG with gnuplot.
 * Returns 0 on success, 1 when gnuplot is not installed (nothing written), -1 on error. */
int cr_plot_png(const char *png, const char *csv, int has_acc, cr_err *e);

/* Index of the first NaN/Inf in x[0..n), or -1 when all are finite. */
long cr_first_nonfinite(const float *x, size_t n);

/* Mean and standard deviation (Bessel-corrected, like torch.std) in double. */
void cr_mean_std(const float *x, size_t n, double *mean, double *std);

/* y[n][out] = x[n][in] @ w[in][out] + b[out] (b may be NULL): the obvious loops,
 * used where the generated code's internal layout must not matter (init report). */
void cr_naive_linear(float *y, const float *x, const float *w, const float *b,
                     int n, int in, int out);

/* The deep-stack experiment of the init report: 100 stacked 512x512 linear layers on
 * a batch of random inputs, three ways (plain randn, randn/sqrt(512), relu with
 * Kaiming gain), printing the std at a few depths and where it first goes inf/nan. */
int cr_deep_stack_report(FILE *out, uint64_t seed, cr_err *e);

/* ---- The generic trainer (cr_train_cli.c) -------------------------------------
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
  const char *kind;        /* "linear", "relu" */
  int in, out;
  float shift;
  int weight, bias;        /* tensor indices or -1 */
} cr_net_layer;

typedef struct {
  const char *name;        /* network name, e.g. "mnist_mlp" */
  const char *spec;        /* spec path it was generated from */
  const char *isa;
  int in, out, batch;
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
  void  (*export_tensor)(float *dst, const void *params, int tensor);
  void  (*import_tensor)(void *params, int tensor, const float *src);
} cr_net;

/* Runs the trainer's command line (train, eval, predict, export, import, init-report).
 * Returns the process exit status: 0 ok, 1 failure (I/O, NaN), 2 usage error. */
int cr_trainer_main(const cr_net *net, int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif /* CR_TRAIN_H */
