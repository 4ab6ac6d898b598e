-- The names of the generated file's static functions are made here and only here, so
-- gen/spec.lua can refuse a network name whose NAME_* functions would clash with them.
local ops = require "ops"

local M = {}

-- Prefix of each loss's functions (PREFIX_loss, PREFIX_backward, PREFIX_correct).
M.LOSS = {mse = "mse", cross_entropy = "softmax_cross_entropy"}

-- Function name of a step that starts at layer `first` and runs the ops `words` (a list):
-- l0_linear_relu, l2_linear, l1_relu, ...
function M.step(first, words)
  return "l" .. first .. "_" .. table.concat(words, "_")
end

-- Whether a network named `name` would clash: NAME_work vs forward_work, NAME_loss vs
-- mse_loss, NAME_forward vs l0_linear_forward, ...
function M.reserved(name)
  if name == "forward" then return true end
  for _, prefix in pairs(M.LOSS) do
    if name == prefix then return true end
  end
  local rest = name:match("^l%d+_(.+)$")
  if not rest then return false end
  for _, op in ipairs(ops.all()) do
    if rest == op.word then return true end
    if op.role == "product" then
      for _, act in ipairs(ops.all()) do
        if act.role == "activation" and rest == op.word .. "_" .. act.word then return true end
      end
    end
  end
  return false
end

return M
