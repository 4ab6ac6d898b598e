-- SGD with torch.optim.SGD's semantics (PyTorch 1.13, foreach=False), per element:
--   d = g + weight_decay·p
--   if momentum ≠ 0: buf = d on the first step, else momentum·buf + (1 - dampening)·d
--                    d = nesterov ? d + momentum·buf : buf
--   p = p - lr·d
-- The hyperparameters are read from NAME_opt at every step (the caller may change them).
local template = require "template"

local M = {}

-- copies of NAME_params in NAME_opt's state (NAME_OPT_BYTES)
M.STATE_COPIES = 1

function M.state(NAME)
  return {NAME .. "_params buf;   /* momentum buffers, one per tensor */"}
end

-- NAME_step's body (from templates/optim_sgd.c.tpl; p, s, g are its C parameters), for the
-- parameter tensors of gen/plan.lua.
function M.step(tensors, kind)
  return template.render("optim_sgd.c.tpl", {tensors = tensors, kind = kind, range = false})
end

-- NAME_step_range's body (lo, hi its C parameters): the same template, per tensor the part
-- of lo..hi-1 it holds, s->t not advanced.
function M.step_range(tensors, kind)
  return template.render("optim_sgd.c.tpl", {tensors = tensors, kind = kind, range = true})
end

-- Statements of NAME_opt_init after the public fields are set.
function M.init()
  return "  memset(&s->buf, 0, sizeof s->buf);\n"
end

return M
