$(banner)
#ifndef $(NAME)_H
#define $(NAME)_H

#include <stddef.h>
#include <stdint.h>

/* 64-byte member alignment spelled for C11 and later, C++11 and later, and C99 (gcc, clang,
   MSVC extensions). */
#if defined(__cplusplus)
#define $(NAME)_ALIGN64 alignas(64)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define $(NAME)_ALIGN64 _Alignas(64)
#elif defined(_MSC_VER)
#define $(NAME)_ALIGN64 __declspec(align(64))
#else
#define $(NAME)_ALIGN64 __attribute__((aligned(64)))
#endif

#ifdef __cplusplus
extern "C" {
#endif

@ local function define(macro, value, note)
@   local left = "#define " .. NAME .. "_" .. macro .. " "
@   left = left .. string.rep(" ", math.max(0, #NAME + 25 - #left)) .. value
@   return note and left .. string.rep(" ", math.max(1, #NAME + 34 - #left)) .. "/* " .. note .. " */" or left
@ end
$(define("IN", input, "features per sample"))
@ if input_shape then
$(define("IN_C", input_shape[1], "an image input: channels,"))
$(define("IN_H", input_shape[2], "height and"))
$(define("IN_W", input_shape[3], "width; rows are [C][H][W]"))
@ end
$(define("OUT", output, "outputs per sample"))
$(define("BATCH", batch, "most rows per call; n may be 1.." .. NAME .. "_BATCH"))
$(define("PARAM_COUNT", param_count, "floats in all parameters"))
$(define("PARAMS_BYTES", params_bytes, "sizeof(" .. name .. "_params)"))
$(define("GRADS_BYTES", params_bytes, "sizeof(" .. name .. "_grads)"))
$(define("OPT_BYTES", opt_bytes, "sizeof(" .. name .. "_opt)"))
$(define("WORK_BYTES", work_bytes, "sizeof(" .. name .. "_work)"))
$(define("TENSOR_COUNT", #tensors, "entries of " .. name .. "_tensors"))
$(define("LAYER_COUNT", #layers, "entries of " .. name .. "_layers"))
$(define("ISA", '"' .. isa .. '"', "instruction set of the generated code"))
@ if loss == "mse" then
$(define("LOSS_MSE", 1, "mean squared error, float targets"))
@ else
$(define("LOSS_CROSS_ENTROPY", 1, "softmax cross-entropy, class-index targets"))
@ end
$(define("OPT_" .. optimizer:upper(), 1, "optimizer of " .. name .. "_step"))
@ if modes then
$(define("MODES", 1, "layers with a training mode: " .. name .. "_forward_train"))
$(define("TRAIN_MIN_ROWS", train_min_rows, "fewest rows n the training mode takes" .. (train_min_rows_layer and " (layer " .. train_min_rows_layer .. ", batchnorm: 1 value per channel per row)" or "")))
@ end
@ if dropout then
$(define("DROPOUT", 1, "dropout masks from " .. name .. "_seed's generator"))
@ end
@ if dispatch then
$(define("DISPATCH", 1, "entry points run the best of " .. variant_list:gsub('"', "")))
@ end

/* All structs are complete here, so the caller allocates them (static, stack, heap).
   Members are 64-byte aligned: static and automatic objects get that from the
   compiler; on the heap use aligned_alloc(64, size rounded up to 64) or similar. With the
   runtime, cr_alloc does that and backs structs of 2 MB and more with huge pages on Linux
   (fewer TLB misses on big layers' weights). */

/* Parameters: tensor i lives at (float *)p + $(name)_tensors[i].offset. */
typedef struct $(name)_params {
@ for _, t in ipairs(tensors) do
  $(NAME)_ALIGN64 float $(t.cname)[$(t.floats)];   /* "$(t.name)" [$(t.rows)][$(t.cols)] */
@ end
} $(name)_params;

/* Gradients: the same layout as $(name)_params. */
typedef struct $(name)_grads {
@ for _, t in ipairs(tensors) do
  $(NAME)_ALIGN64 float $(t.cname)[$(t.floats)];
@ end
} $(name)_grads;

/* Scratch kept between $(name)_forward and $(name)_backward (rows: $(NAME)_BATCH). */
typedef struct $(name)_work {
@ for _, b in ipairs(work) do
@   if b.decl then
  $(NAME)_ALIGN64 $(b.decl);   /* $(emit.comment_text(b.what)) */
@   else
  $(NAME)_ALIGN64 float $(b.cname)[$(b.floats)];   /* [$(b.rows)][$(b.ld)] $(emit.comment_text(b.what)) */
@   end
@ end
} $(name)_work;

/* Optimizer hyperparameters (set by $(name)_opt_init from the spec; the caller may
   change them between steps) and state. */
typedef struct $(name)_opt {
  float lr, momentum, dampening, weight_decay;  /* SGD (torch.optim.SGD semantics) */
  int   nesterov;
  float beta1, beta2, eps;                      /* Adam / AdamW (torch.optim.Adam/AdamW) */
  long  t;                                      /* steps taken */
@ for _, line in ipairs(opt_state) do
  $(line)
@ end
} $(name)_opt;

@ if target_type == "float" then
typedef float   $(name)_target;   /* regression target per row */
@ else
typedef int32_t $(name)_target;   /* class index 0..$(NAME)_OUT-1 per row */
@ end

typedef struct {
  const char *name;          /* PyTorch nn.Sequential state_dict key */
  int rows, cols;            /* weight: [in][out]; bias: rows = 1 */
  size_t offset;             /* floats from the start of $(name)_params (same in $(name)_grads) */
  const char *init;          /* init scheme from the spec */
  const char *mode;          /* "fan_in" or "fan_out" */
  const char *nonlinearity;  /* gain of kaiming/xavier: "linear", "relu", "leaky_relu", "tanh" */
  float init_a;              /* negative slope for leaky_relu */
  int fan_in, fan_out;       /* of the layer: fan_in = in, fan_out = out */
} $(name)_tensor_info;
extern const $(name)_tensor_info $(name)_tensors[];

typedef struct {
  const char *kind;          /* the spec's word: $(op_words) */
  int in, out;               /* features in and out */
  float shift;               /* relu: added after max(x, 0); else 0 */
  int weight, bias;          /* linear, conv2d: indices into $(name)_tensors (bias -1 if none); else -1 */
  float slope;               /* leaky_relu: the slope for x <= 0; else 0 */
  int kernel, stride, padding;   /* conv2d, maxpool2d, avgpool2d (padding: conv2d); else 0 */
  int in_shape[3], out_shape[3]; /* C, H, W of an image in/out (rows [C][H][W]); 0s when flat */
  float eps;                 /* batchnorm: added to the variance; else 0 */
  float p;                   /* dropout: the probability of dropping an element; else 0 */
} $(name)_layer_info;
extern const $(name)_layer_info $(name)_layers[];

/* x [n][$(NAME)_IN] -> out [n][$(NAME)_OUT], 1 <= n <= $(NAME)_BATCH. */
void  $(name)_forward(float *out, $(name)_work *w, const $(name)_params *p, const float *x, int n);
@ if modes then
/* $(name)_forward is the inference mode (batchnorm uses its running statistics, dropout is
   the identity). The training mode: batchnorm normalises with the batch's statistics and
   updates running_mean, running_var and num_batches_tracked in p; dropout draws its mask.
   It (and $(name)_train_step) needs $(NAME)_TRAIN_MIN_ROWS <= n <= $(NAME)_BATCH, not checked. */
void  $(name)_forward_train(float *out, $(name)_work *w, $(name)_params *p, const float *x, int n);
@ end
@ if dropout then
/* Seeds the dropout generator in w (PCG32 as runtime/cr_rng.c's cr_rng_seed(seed, stream)).
   A w never seeded (a zeroed one: its increment is even) is seeded (0, 0) by the first
   training forward. */
void  $(name)_seed($(name)_work *w, uint64_t seed, uint64_t stream);
@ end
/* After $(name)_forward$(modes and "_train" or "") with the same w, p, x, n: returns the mean loss, overwrites g with
   its gradient and, unless dx is NULL, writes dx [n][$(NAME)_IN]. */
float $(name)_backward($(name)_grads *g, float *dx, $(name)_work *w, const $(name)_params *p,
                       const float *x, const $(name)_target *t, int n);
void  $(name)_opt_init($(name)_opt *s);
void  $(name)_step($(name)_params *p, $(name)_opt *s, const $(name)_grads *g);
/* $(name)_step's update of the floats lo..hi-1 of the parameters only (offsets as in
   $(name)_tensors; the padding between tensors is skipped), the step s->t + 1, but s->t is
   not advanced: ranges that cover every tensor once, then s->t++, give $(name)_step's bits,
   so threads may share one step (disjoint ranges, s->t++ once after all). */
void  $(name)_step_range($(name)_params *p, $(name)_opt *s, const $(name)_grads *g, size_t lo,
                       size_t hi);
float $(name)_train_step($(name)_params *p, $(name)_opt *s, $(name)_grads *g, $(name)_work *w,
                         const float *x, const $(name)_target *t, int n);
/* After $(name)_train_step or _train_step_scratch with w: 1 when a gradient it computed was NaN
   or +-Inf, else 0. The step's optimizer update tests each gradient as it reads it, so no
   second pass over g is needed to stop training on a NaN/Inf. */
int   $(name)_nonfinite(const $(name)_work *w);
/* $(name)_train_step's loss, parameters and optimizer state, bit for bit, with g only as
   scratch: afterwards its contents are unspecified.$(fuse_opt and " The weights updated inside their\n   weight-gradient tiles skip storing their gradients (less memory traffic)." or "") */
float $(name)_train_step_scratch($(name)_params *p, $(name)_opt *s, $(name)_grads *g, $(name)_work *w,
                                 const float *x, const $(name)_target *t, int n);

/* Mean loss of an output of $(name)_forward. */
float $(name)_loss(const float *out, const $(name)_target *t, int n);
@ if correct_call then
/* Rows whose first maximum is the target class. */
int   $(name)_correct(const float *out, const $(name)_target *t, int n);
@ end

/* PyTorch nn.Linear layout: weight [out][in] (the transpose of ours); bias unchanged. */
void $(name)_export_tensor(float *dst, const $(name)_params *p, int tensor);
void $(name)_import_tensor($(name)_params *p, int tensor, const float *src);

@ if dispatch then
@ include("dispatch.h.tpl")

@ end
#ifdef __cplusplus
}
#endif

#endif
