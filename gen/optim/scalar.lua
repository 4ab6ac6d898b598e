-- The optimizers' step for the scalar families (portable loops, straight-line code): the
-- update of gen/optim/sgd.lua or adam.lua written once, as static C functions from
-- templates/optim_sgd.c.tpl or optim_adam.c.tpl (sopt_set, sopt_begin, sopt_tensor), and
-- NAME_step / NAME_step_range as one call per tensor, as gen/optim/vector.lua does for the
-- SIMD ISAs. The same expressions per element as the loops written per tensor before, so
-- the same bits.
local template = require "template"
local vopt = require "optim.vector"

local M = {}

-- The NaN/Inf test every sopt_tensor makes of the gradients it reads: the bits of g*0 ORed
-- (+-0 for a finite g, a NaN, whose exponent bits are all ones, for NaN or +-Inf), an
-- integer reduction the compiler may vectorise where a float sum could not be reordered.
local SEEN = [[
/* The bits of g*0: 0 or the sign bit for a finite g, a NaN's for NaN or +-Inf. */
static inline uint32_t sopt_seen(float g) {
  const float z = g * 0.0f;
  uint32_t u;
  memcpy(&u, &z, sizeof u);
  return u;
}

/* 1 when the OR of sopt_seen's values has a NaN's exponent bits. */
static inline int sopt_nonfinite(uint32_t seen) { return (seen & 0x7f800000u) != 0; }

]]

-- The static C functions (after adam_power), for a training build of network NAME.
function M.helpers(NAME, kind)
  local file = kind == "sgd" and "optim_sgd.c.tpl" or "optim_adam.c.tpl"
  return SEEN .. template.render(file, {name = NAME, kind = kind})
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

-- step_checked (NAME_step, and NAME_train_step's update, which keeps its flag): the step
-- counted, every tensor whole; 1 when a gradient was NaN or +-Inf.
function M.checked(NAME, tensors, kind)
  local L = {"/* " .. NAME .. "_step; returns 1 when a gradient it read was NaN or +-Inf. */",
             "static int step_checked(" .. NAME .. "_params *p, " .. NAME .. "_opt *s, const " .. NAME .. "_grads *g) {",
             "  sopt_k k;", "  sopt_begin(&k, s);", "  int bad = 0;"}
  for _, t in ipairs(tensors) do
    L[#L + 1] = "  bad |= " .. call(kind, t, "0", tostring(t.floats)) .. "   /* " .. t.name .. " */"
  end
  L[#L + 1] = "  return bad;"
  L[#L + 1] = "}"
  return table.concat(L, "\n") .. "\n"
end

-- NAME_step's body (p, s, g its C parameters).
function M.step()
  return "  (void)step_checked(p, s, g);\n"
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
