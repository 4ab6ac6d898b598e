-- The optimizers' step for the scalar families (portable loops, straight-line code): the
-- update of gen/optim/sgd.lua or adam.lua written once, as static C functions from
-- templates/optim_sgd.c.tpl or optim_adam.c.tpl (sopt_set, sopt_begin, sopt_tensor), and
-- NAME_step / NAME_step_range as one call per tensor, as gen/optim/vector.lua does for the
-- SIMD ISAs. The same expressions per element as the loops written per tensor before, so
-- the same bits.
local template = require "template"
local vopt = require "optim.vector"

local M = {}

-- The static C functions (after adam_power), for a training build of network NAME.
function M.helpers(NAME, kind)
  local file = kind == "sgd" and "optim_sgd.c.tpl" or "optim_adam.c.tpl"
  return template.render(file, {name = NAME, kind = kind})
end

-- sopt_tensor's call for tensor t (cname) on floats a..b-1 (C expressions).
local function call(kind, t, a, b)
  local args = {"p->" .. t.cname}
  for _, st in ipairs(vopt.states(kind)) do args[#args + 1] = "s->" .. st .. "." .. t.cname end
  args[#args + 1] = "g->" .. t.cname
  args[#args + 1] = a
  args[#args + 1] = b
  args[#args + 1] = "&k"
  return "sopt_tensor(" .. table.concat(args, ", ") .. ");"
end

-- NAME_step's body (p, s, g its C parameters): the step counted, every tensor whole.
function M.step(tensors, kind)
  local L = {"  sopt_k k;", "  sopt_begin(&k, s);"}
  for _, t in ipairs(tensors) do
    L[#L + 1] = "  " .. call(kind, t, "0", tostring(t.floats)) .. "   /* " .. t.name .. " */"
  end
  return table.concat(L, "\n") .. "\n"
end

-- NAME_step_range's body (lo, hi: floats of NAME_params): per tensor the part of lo..hi-1
-- it holds, the step s->t would take next, s->t not advanced.
function M.step_range(tensors, kind)
  local L = {"  sopt_k k;", "  sopt_set(&k, s);"}
  for _, t in ipairs(tensors) do
    L[#L + 1] = "  {  /* " .. t.name .. " */"
    L[#L + 1] = "    " .. vopt.range_bounds(t.offset)
    L[#L + 1] = "    if (b > " .. t.floats .. ") b = " .. t.floats .. ";"
    L[#L + 1] = "    if (a < b) " .. call(kind, t, "a", "b")
    L[#L + 1] = "  }"
  end
  return table.concat(L, "\n") .. "\n"
end

return M
