-- Adam and AdamW with torch.optim.Adam / AdamW's semantics (PyTorch 1.13, amsgrad off),
-- per element, with t counted from 1:
--   Adam:  g = g + weight_decay·p          AdamW: p = p·(1 - lr·weight_decay)
--   m = beta1·m + (1 - beta1)·g
--   v = beta2·v + (1 - beta2)·g²
--   p = p - (lr / (1 - beta1^t)) · m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
-- Float-only: beta^t by binary exponentiation in float (adam_power: no libm, no double, the
-- same bits on every target), so a single-precision FPU needs no soft-double helpers.
-- PyTorch computes the corrections in Python doubles from the double betas; ours start from
-- the float betas of NAME_opt, and 1 - beta^t is exact for t = 1.
local M = {}

-- copies of NAME_params in NAME_opt's state (NAME_OPT_BYTES)
M.STATE_COPIES = 2

-- Static C functions NAME_step uses (emitted once, before the step functions).
function M.helpers()
  return [[
/* beta^t in float by binary exponentiation (no libm, the same bits on every target). */
static float adam_power(float beta, long t) {
  float r = 1.0f, b = beta;
  while (t > 0) {
    if (t & 1) r = r * b;
    b = b * b;
    t = t / 2;
  }
  return r;
}
]]
end

function M.state(NAME)
  return {NAME .. "_params m;     /* first moments, one per tensor */",
          NAME .. "_params v;     /* second moments */"}
end

-- Statements of NAME_opt_init after the public fields are set.
function M.init()
  return "  memset(&s->m, 0, sizeof s->m);\n  memset(&s->v, 0, sizeof s->v);\n"
end

return M
