$(banner)
@ if isa_guard then
#if !($(isa_guard))
#error "$(name).c was generated for $(isa): compile with $(isa_guard_flags) (or -march=native on a CPU that has it)"
#endif
@ end
#include "$(name).h"

@ for _, h in ipairs(isa_includes) do
#include <$(h)>
@ end
@ if math_h then
#include <math.h>
@ end
#include <string.h>

/* The plan (gen/plan.lua) and the compiler agree on every offset. */
@ for _, t in ipairs(tensors) do
_Static_assert(offsetof($(name)_params, $(t.cname)) == $(t.offset) * sizeof(float), "offset of $(t.cname)");
@ end
_Static_assert(sizeof($(name)_params) == $(params_floats) * sizeof(float), "size of $(name)_params");
_Static_assert(sizeof($(name)_params) == $(NAME)_PARAMS_BYTES, "size of $(name)_params");
_Static_assert(sizeof($(name)_grads) == $(NAME)_GRADS_BYTES, "size of $(name)_grads");
_Static_assert(sizeof($(name)_opt) == $(NAME)_OPT_BYTES, "size of $(name)_opt");
_Static_assert(sizeof($(name)_work) == $(NAME)_WORK_BYTES, "size of $(name)_work");

@ include("tables.c.tpl")

@ for _, f in ipairs(functions) do
$(f)
@ end
static void forward_work($(name)_work *w, const $(name)_params *p, const float *x, int n) {
@ for _, c in ipairs(forward_calls) do
  $(c)
@ end
}

void $(name)_forward(float *out, $(name)_work *w, const $(name)_params *p, const float *x, int n) {
  forward_work(w, p, x, n);
  memcpy(out, $(output_ref), sizeof(float) * (size_t)n * $(NAME)_OUT);
}
@ if dropout then

void $(name)_seed($(name)_work *w, uint64_t seed, uint64_t stream) {
  w->rng[1] = (stream << 1) | 1u;
  w->rng[0] = w->rng[1];                                    /* 0 · mult + inc */
  w->rng[0] += seed;
  w->rng[0] = w->rng[0] * 6364136223846793005ULL + w->rng[1];
}
@ end
@ if modes then

/* Training mode: batch statistics (running ones updated in p), dropout masks drawn. */
static void forward_work_train($(name)_work *w, $(name)_params *p, const float *x, int n) {
@ if dropout then
  if (!(w->rng[1] & 1u)) $(name)_seed(w, 0, 0);   /* never seeded (a seeded increment is odd): seed 0, stream 0 */
@ end
@ for _, c in ipairs(train_forward_calls) do
  $(c)
@ end
}

void $(name)_forward_train(float *out, $(name)_work *w, $(name)_params *p, const float *x, int n) {
  forward_work_train(w, p, x, n);
  memcpy(out, $(output_ref), sizeof(float) * (size_t)n * $(NAME)_OUT);
}
@ end

float $(name)_backward($(name)_grads *g, float *dx, $(name)_work *w, const $(name)_params *p,
                       const float *x, const $(name)_target *t, int n) {
@ if not backward_reads_x then
  (void)x;  /* the first layer is an activation whose derivative reads its output, not x */
@ end
  const float loss = $(loss_backward_call);
@ for _, t in ipairs(buffer_tensors) do
  memset(g->$(t.cname), 0, sizeof g->$(t.cname));   /* not trained */
@ end
@ for _, c in ipairs(backward_calls) do
  $(c)
@ end
  return loss;
}

void $(name)_opt_init($(name)_opt *s) {
@ for _, f in ipairs(opt_fields) do
  s->$(f[1]) = $(f[2]);
@ end
  s->t = 0;
$(opt_init_state)}

void $(name)_step($(name)_params *p, $(name)_opt *s, const $(name)_grads *g) {
$(opt_step)}

void $(name)_step_range($(name)_params *p, $(name)_opt *s, const $(name)_grads *g, size_t lo, size_t hi) {
$(opt_step_range)}

@ for _, v in ipairs({{"", backward_fused_calls}, {"_scratch", backward_scratch_calls}}) do
float $(name)_train_step$(v[1])($(name)_params *p, $(name)_opt *s, $(name)_grads *g, $(name)_work *w,
                         $(v[1] == "" and "" or "        ")const float *x, const $(name)_target *t, int n) {
  forward_work$(modes and "_train" or "")(w, p, x, n);
@ if fuse_opt then
  /* the weights are updated inside their weight-gradient tiles (after that layer's dx used
     the old weights), the other tensors after the backward; the same vector update as
     $(name)_step, so the same bits; $(v[1] == "" and "g still gets the true gradients" or "g is scratch: no dW is stored where the\n     tiles update W (a NULL dw), the other gradients pass through g") */
  vopt_k k;
  vopt_begin(&k, s);
  w->nonfinite = 0;   /* the updates' NaN/Inf test of the gradients ($(name)_nonfinite) */
  k.nonfinite = &w->nonfinite;
@ if v[1] ~= "" and #unfused_calls == 0 and #buffer_tensors == 0 and not table.concat(v[2], " "):find("g->", 1, true) then
  (void)g;   /* (no bias) every tensor is updated in its weight-gradient tiles: none passes through g */
@ end
  const float loss = $(loss_backward_call);
@ for _, t in ipairs(buffer_tensors) do
  memset(g->$(t.cname), 0, sizeof g->$(t.cname));
@ end
@ for _, c in ipairs(v[2]) do
  $(c)
@ end
@ for _, c in ipairs(unfused_calls) do
  $(c)
@ end
  return loss;
@ else
  const float loss = $(name)_backward(g, NULL, w, p, x, t, n);
  w->nonfinite = step_checked(p, s, g);   /* $(name)_step, and its NaN/Inf test of g */
  return loss;
@ end
}
@ if v[1] == "" then

@ end
@ end

int $(name)_nonfinite(const $(name)_work *w) {
  return w->nonfinite;
}

float $(name)_loss(const float *out, const $(name)_target *t, int n) {
  return $(loss_call);
}
@ if correct_call then

int $(name)_correct(const float *out, const $(name)_target *t, int n) {
  return $(correct_call);
}
@ end

@ if shared_tiles > 0 then
/* dst[c][r] = src[r][c]: one loop for every tensor (compact code; inlined, it would be
   one vectorised copy per tensor again) */
$(noinline)static void copy_transposed(float *dst, const float *src, int rows, int cols) {
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

@ end
void $(name)_export_tensor(float *dst, const $(name)_params *p, int tensor) {
  switch (tensor) {
@ for i, t in ipairs(tensors) do
  case $(i - 1):
@   if shared_tiles > 0 then
    copy_transposed(dst, p->$(t.cname), $(t.rows), $(t.cols));
@   else
    for (int r = 0; r < $(t.rows); r++)
      for (int c = 0; c < $(t.cols); c++) dst[c * $(t.rows) + r] = p->$(t.cname)[r * $(t.cols) + c];
@   end
    break;
@ end
  default:
    break;
  }
}

void $(name)_import_tensor($(name)_params *p, int tensor, const float *src) {
  switch (tensor) {
@ for i, t in ipairs(tensors) do
  case $(i - 1):
@   if shared_tiles > 0 then
    copy_transposed(p->$(t.cname), src, $(t.cols), $(t.rows));
@   else
    for (int r = 0; r < $(t.rows); r++)
      for (int c = 0; c < $(t.cols); c++) p->$(t.cname)[r * $(t.cols) + c] = src[c * $(t.rows) + r];
@   end
    break;
@ end
  default:
    break;
  }
}
