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
$(define("INFERENCE", 1, "forward only: no backward, loss or optimizer"))
$(define("IN", input, "features per sample"))
@ if input_shape then
$(define("IN_C", input_shape[1], "an image input: channels,"))
$(define("IN_H", input_shape[2], "height and"))
$(define("IN_W", input_shape[3], "width; rows are [C][H][W]"))
@ end
$(define("OUT", output, "outputs per sample"))
$(define("BATCH", batch, "most rows per " .. name .. "_forward call (--max-batch)"))
$(define("PARAM_COUNT", param_count, "floats in all parameters"))
$(define("PARAMS_BYTES", params_bytes, "sizeof(" .. name .. "_params)"))
$(define("WORK_BYTES", work_bytes, "sizeof(" .. name .. "_work)"))
$(define("TENSOR_COUNT", #tensors, "entries of " .. name .. "_tensors"))
$(define("LAYER_COUNT", #layers, "entries of " .. name .. "_layers"))
$(define("ISA", '"' .. isa .. '"', "instruction set of the generated code"))
@ if loss == "mse" then
$(define("LOSS_MSE", 1, "trained with mean squared error: one output per row"))
@ else
$(define("LOSS_CROSS_ENTROPY", 1, "a classifier: outputs are logits"))
@ end
@ if dispatch then
$(define("DISPATCH", 1, "entry points run the best of " .. variant_list:gsub('"', "")))
@ end
@ if source then
$(define("HAS_WEIGHTS", 1, "const " .. name .. "_weights from the --weights source"))
@ end
@ if norm then
$(define("NORM_MEAN", emit.float(norm.mean), "inputs were normalised as (x - MEAN) / STD in training"))
$(define("NORM_STD", emit.float(norm.std), "(the caller applies it; " .. name .. "_predict does not)"))
@ end

/* Parameters: tensor i lives at (float *)p + $(name)_tensors[i].offset. */
typedef struct $(name)_params {
@ for _, t in ipairs(tensors) do
  $(NAME)_ALIGN64 float $(t.cname)[$(t.floats)];   /* "$(t.name)" [$(t.rows)][$(t.cols)] */
@ end
} $(name)_params;

/* Scratch of $(name)_forward for up to $(NAME)_BATCH rows; the layers' buffers share slots. */
typedef struct $(name)_work {
@ for _, b in ipairs(members) do
  $(NAME)_ALIGN64 float $(b.cname)[$(b.floats)];   /* $(emit.comment_text(b.what)) */
@ end
} $(name)_work;

typedef struct {
  const char *name;          /* PyTorch nn.Sequential state_dict key */
  int rows, cols;            /* weight: [in][out]; bias: rows = 1 */
  size_t offset;             /* floats from the start of $(name)_params */
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

@ if source then
/* The weights of $(emit.comment_text(source)), bit for bit. */
extern const $(name)_params $(name)_weights;

@ end
/* x [n][$(NAME)_IN] -> out [n][$(NAME)_OUT], 1 <= n <= $(NAME)_BATCH. */
void $(name)_forward(float *out, $(name)_work *w, const $(name)_params *p, const float *x, int n);
@ if predict then
/* classes[i] = the index of the first maximum of row i's outputs, for any n >= 0 (in chunks of
   $(NAME)_BATCH rows); no libm. */
void $(name)_predict_with(int32_t *classes, $(name)_work *w, const $(name)_params *p, const float *x, int n);
@   if source then
/* The same with $(name)_weights and a $(name)_work on the stack ($(NAME)_WORK_BYTES bytes). */
void $(name)_predict(int32_t *classes, const float *x, int n);
@   end
@ end

/* PyTorch nn.Linear layout: weight [out][in] (the transpose of ours); bias unchanged. */
void $(name)_export_tensor(float *dst, const $(name)_params *p, int tensor);
void $(name)_import_tensor($(name)_params *p, int tensor, const float *src);

@ if dispatch then
@   include("dispatch.h.tpl")

@ end
#ifdef __cplusplus
}
#endif

#endif
