-- SGD with torch.optim.SGD's semantics (PyTorch 1.13, foreach=False), per element:
--   d = g + weight_decay·p
--   if momentum ≠ 0: buf = d on the first step, else momentum·buf + (1 - dampening)·d
--                    d = nesterov ? d + momentum·buf : buf
--   p = p - lr·d
-- The hyperparameters are read from NAME_opt at every step (the caller may change them).
local M = {}

-- copies of NAME_params in NAME_opt's state (NAME_OPT_BYTES)
M.STATE_COPIES = 1

function M.state(NAME)
  return {NAME .. "_params buf;   /* momentum buffers, one per tensor */"}
end

-- Statements of NAME_opt_init after the public fields are set.
function M.init()
  return "  memset(&s->buf, 0, sizeof s->buf);\n"
end

return M
