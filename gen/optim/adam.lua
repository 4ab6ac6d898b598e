-- Adam and AdamW with torch.optim.Adam / AdamW's semantics (PyTorch 1.13, amsgrad off),
-- per element, with t counted from 1:
--   Adam:  g = g + weight_decay·p          AdamW: p = p·(1 - lr·weight_decay)
--   m = beta1·m + (1 - beta1)·g
--   v = beta2·v + (1 - beta2)·g²
--   p = p - (lr / (1 - beta1^t)) · m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
-- The bias corrections are computed in double, as PyTorch does in Python.
local template = require "template"

local M = {}

function M.state(NAME)
  return {NAME .. "_params m;     /* first moments, one per tensor */",
          NAME .. "_params v;     /* second moments */"}
end

-- NAME_step's body (from templates/optim_adam.c.tpl; p, s, g are its C parameters), for the
-- parameter tensors of gen/plan.lua.
function M.step(tensors, kind)
  return template.render("optim_adam.c.tpl", {tensors = tensors, kind = kind})
end

-- Statements of NAME_opt_init after the public fields are set.
function M.init()
  return "  memset(&s->m, 0, sizeof s->m);\n  memset(&s->v, 0, sizeof s->v);\n"
end

return M
