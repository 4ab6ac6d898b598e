/* ref.h — a naive, double-precision reference for chainrule's networks.
 *
 * Written from the maths, independently of the generator: loops in the textbook order,
 * every intermediate kept, no fusion, no tiling. Tests compare generated fp32 code against
 * it tensor by tensor, and a finite-difference check (tests/ref/test_ref.c) verifies its
 * gradients.
 *
 * Network: input width, then layers in spec order:
 *   linear(out)      y = x @ W + b      W is [in][out] (ours; nn.Linear's weight is [out][in])
 *   relu(shift)      y = max(z, 0) + shift, dz = dy * (z > 0)
 *   leaky_relu(s)    y = z > 0 ? z : s z,     dz = z > 0 ? dy : s dy   (torch: 0 is not > 0)
 *   tanh             y = tanh z,              dz = dy (1 - y²)
 *   sigmoid          y = 1 / (1 + e^-z),      dz = dy y (1 - y)
 * Image layers (rows are C×H×W in NCHW order, as torch's contiguous batches):
 *   conv2d(O, K, S, P, bias)   y[o][oy][ox] = b[o] + Σ_{c,ky,kx} x[c][oy·S+ky−P][ox·S+kx−P] W[c][ky][kx][o]
 *                              (zero padding; W is [C][K][K][O], torch's [O][C][K][K] transposed)
 *   maxpool2d(K, S)            max of each K×K window; the gradient goes to its first maximum
 *   avgpool2d(K, S)            mean of each window; the gradient spread as dy / K²
 *   flatten                    the same values (an image becomes flat features)
 * Layers with modes (net->train: 1 training, 0 inference):
 *   batchnorm(momentum, eps, affine)  per channel (image) or feature (flat): training
 *              normalises with the batch's mean and biased variance over the m = n·H·W
 *              elements; inference with running_mean/running_var. ref_bn_update moves the
 *              running statistics (torch: unbiased variance) and counts the batch.
 *              Tensors: weight, bias (affine), running_mean, running_var, num_batches_tracked
 *              (the last three "buffers": gradient 0, never stepped by the optimizer)
 *   dropout(p)                 training: y = x·keep/(1 - p), keep from net->drop_mask (NULL:
 *                              all kept); inference: y = x. ref_dropout_masks draws keep
 *                              as the generated code does (PCG32, u >= (float)p)
 * Loss over n rows (mean):
 *   mse              (out[i][0] - t[i])^2          (last width 1; output squeezed, as in the seed)
 *   cross_entropy    logsumexp(z[i]) - z[i][t[i]]   (t[i] a class index)
 * Optimizers with torch.optim semantics (1.13): SGD (momentum, dampening, nesterov,
 * weight_decay added to the gradient), Adam (bias-corrected, L2 weight decay added to the
 * gradient), AdamW (decoupled decay p *= 1 - lr*wd before the Adam update).
 *
 * Parameters are one double array: for each linear layer in order, W [in][out] then b [out]
 * (none with bias=0) (the order of NAME_tensors: "0.weight", "0.bias", "2.weight", ...).
 */
#ifndef REF_H
#define REF_H

#include <stddef.h>

enum { REF_LINEAR = 1, REF_RELU = 2, REF_LEAKY_RELU = 3, REF_TANH = 4, REF_SIGMOID = 5,
       REF_CONV2D = 6, REF_MAXPOOL2D = 7, REF_AVGPOOL2D = 8, REF_FLATTEN = 9,
       REF_BATCHNORM = 10, REF_DROPOUT = 11 };
enum { REF_MSE = 1, REF_CROSS_ENTROPY = 2 };
enum { REF_SGD = 1, REF_ADAM = 2, REF_ADAMW = 3 };

#define REF_MAX_LAYERS  32
#define REF_MAX_TENSORS (2 * REF_MAX_LAYERS)

typedef struct {
  int kind;           /* REF_LINEAR, REF_RELU, REF_LEAKY_RELU, REF_TANH, REF_SIGMOID */
  int in, out;        /* widths (filled by ref_net_finish) */
  double shift;       /* relu only */
  double slope;       /* leaky_relu only: the negative slope */
  char init[32];      /* linear, conv2d: weight init scheme named in the spec ("" = not given) */
  int out_c;          /* conv2d: output channels */
  int kernel, stride, pad, nobias;   /* conv2d, pooling (pad: conv2d only; nobias: conv2d, linear) */
  int ic, ih, iw;     /* input image shape (filled by ref_net_finish; 0 when flat) */
  int c, h, w;        /* output image shape (filled by ref_net_finish; 0 when flat) */
  double momentum, eps;   /* batchnorm */
  int affine;             /* batchnorm: weight and bias */
  int channels, pixels;   /* batchnorm: channels (features) and pixels of each (filled) */
  double p;               /* dropout: the drop probability */
} ref_layer;

typedef struct {
  int kind;           /* REF_SGD, REF_ADAM, REF_ADAMW */
  double lr, momentum, dampening, weight_decay;
  int nesterov;
  double beta1, beta2, eps;
} ref_optim;

typedef struct {
  char name[64];
  int in, out, batch, loss;
  int in_c, in_h, in_w;              /* input image shape; 0 when the input is flat */
  int nlayers;
  ref_layer layer[REF_MAX_LAYERS];
  ref_optim opt;
  /* derived by ref_net_finish */
  int ntensors;
  int t_layer[REF_MAX_TENSORS];      /* index of the layer owning tensor i */
  int t_rows[REF_MAX_TENSORS], t_cols[REF_MAX_TENSORS];
  size_t t_off[REF_MAX_TENSORS];     /* doubles from the start of the parameter array */
  size_t nparams;
  int widest;                        /* largest activation width */
  unsigned char t_buffer[REF_MAX_TENSORS];   /* 1: batchnorm running state, not trained */
  /* the mode, set by the caller (ref_desc_read: 0) */
  int train;                         /* 1: training mode (batch statistics, dropout masks) */
  const unsigned char *drop_mask;    /* training: keep flags, per dropout layer [n][width] in
                                        layer order (ref_dropout_size); NULL keeps all */
  /* Kinks, for comparisons with float code (test_isa): ref_backward counts in *kinks (when not
     NULL) every relu or leaky_relu input z with |z| <= kink_band x the rms of that layer's
     inputs over the n rows, where a float sum can land on either side of 0, and every max
     pooling window whose runner-up is that close below its maximum (not equal: an exact tie
     goes to the first tap in float too), and gives the kink_flip-th of them (1-based; 0:
     none) the other side's derivative (the pooling's gradient to the runner-up). */
  double kink_band;
  int kink_flip;
  int *kinks;
} ref_net;

/* Fill widths and the tensor table; 0 on success, else -1 and a message in err. */
int ref_net_finish(ref_net *net, char *err, size_t errlen);

/* Read a description file (format: tests/ref/README.md). 0 on success, else -1 and
   "PATH:LINE: problem" in err. */
int ref_desc_read(ref_net *net, const char *path, char *err, size_t errlen);

/* Forward pass over n rows: out is [n][net->out]. */
void ref_forward(const ref_net *net, const double *params, const double *x, int n, double *out);

/* Mean loss of out ([n][out]) against targets (MSE: value; cross-entropy: class index). */
double ref_loss(const ref_net *net, const double *out, const double *t, int n);

/* Rows whose first maximum equals the target class (cross-entropy nets). */
int ref_correct(const ref_net *net, const double *out, const double *t, int n);

/* Forward + loss + backward: returns the mean loss; writes out ([n][out], may be NULL),
   grad ([nparams], the gradient of the mean loss) and dx ([n][in], may be NULL). */
double ref_backward(const ref_net *net, const double *params, const double *x, const double *t,
                    int n, double *out, double *grad, double *dx);

/* The masks (z > 0) of every relu and leaky_relu layer and the position of each max-pooling
   window's maximum (the only kinks; tanh and sigmoid are smooth), concatenated row by row; mask must hold ref_mask_size(net, n) bytes. Used by
   the finite-difference check to detect kinks. */
size_t ref_mask_size(const ref_net *net, int n);
void ref_masks(const ref_net *net, const double *params, const double *x, int n,
               unsigned char *mask);

/* Training mode: the running statistics of every batchnorm layer after one training forward
   over these n rows (running = (1 - momentum)·running + momentum·batch, the variance
   unbiased, m/(m - 1)), num_batches_tracked + 1. */
void ref_bn_update(const ref_net *net, double *params, const double *x, int n);

/* Dropout masks as the generated code draws them: PCG32 seeded as cr_rng_seed, one draw per
   element of each dropout layer in order (rows, then columns), keep iff (u32 >> 8)·2^-24 >=
   (float)p. mask holds ref_dropout_size(net, n) bytes. */
typedef struct { unsigned long long state, inc; } ref_pcg;
void     ref_pcg_seed(ref_pcg *r, unsigned long long seed, unsigned long long stream);
unsigned ref_pcg_u32(ref_pcg *r);
size_t ref_dropout_size(const ref_net *net, int n);
void   ref_dropout_masks(const ref_net *net, ref_pcg *r, int n, unsigned char *mask);

/* Optimizer state (torch.optim semantics). */
typedef struct {
  ref_optim h;
  size_t count;
  double *buf, *m, *v;   /* momentum buffer (SGD); first/second moments (Adam/AdamW) */
  unsigned char *frozen; /* per parameter: 1 for batchnorm buffers (never stepped) */
  int have_buf;          /* SGD: momentum buffer initialised (first step copies d_p) */
  long t;                /* steps taken */
} ref_opt_state;

int  ref_opt_init(ref_opt_state *s, const ref_net *net);   /* 0 ok, -1 out of memory */
void ref_opt_step(ref_opt_state *s, double *params, const double *grad);
void ref_opt_free(ref_opt_state *s);

const char *ref_loss_name(int loss);
const char *ref_kind_name(int kind);   /* "linear", "relu", "leaky_relu", "tanh", "sigmoid" */
const char *ref_opt_name(int kind);

#endif
