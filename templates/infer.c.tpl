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
_Static_assert(sizeof($(name)_params) == $(NAME)_PARAMS_BYTES, "size of $(name)_params");
_Static_assert(sizeof($(name)_work) == $(NAME)_WORK_BYTES, "size of $(name)_work");

@ include("tables.c.tpl")

@ if weights then
@   include("weights.c.tpl")

@ end
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
@ if predict then

void $(name)_predict_with(int32_t *classes, $(name)_work *w, const $(name)_params *p, const float *x, int n) {
  for (int i0 = 0; i0 < n; i0 += $(NAME)_BATCH) {
    const int rows = n - i0 < $(NAME)_BATCH ? n - i0 : $(NAME)_BATCH;
    forward_work(w, p, x + (size_t)i0 * $(NAME)_IN, rows);
    for (int i = 0; i < rows; i++) {
      const float *o = $(output_ref) + (size_t)i * $(NAME)_OUT;
      int32_t best = 0;
      for (int32_t j = 1; j < $(NAME)_OUT; j++)
        if (o[j] > o[best]) best = j;
      classes[i0 + i] = best;
    }
  }
}
@   if weights then

@ include("predict.c.tpl")
@   end
@ end

void $(name)_export_tensor(float *dst, const $(name)_params *p, int tensor) {
  switch (tensor) {
@ for i, t in ipairs(tensors) do
  case $(i - 1):
    for (int r = 0; r < $(t.rows); r++)
      for (int c = 0; c < $(t.cols); c++) dst[c * $(t.rows) + r] = p->$(t.cname)[r * $(t.cols) + c];
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
    for (int r = 0; r < $(t.rows); r++)
      for (int c = 0; c < $(t.cols); c++) p->$(t.cname)[r * $(t.cols) + c] = src[c * $(t.rows) + r];
    break;
@ end
  default:
    break;
  }
}
