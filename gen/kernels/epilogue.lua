-- The one place an activation's formula meets a kernel (gen/ops/*.lua say what the
-- formulas are): the forward epilogue after a product, and the activation's derivative
-- applied where a gradient is written (input-gradient products, the loss gradient, a
-- standalone activation's backward). `act` is {op = the op module, opts = the layer's
-- validated options}; the other fields (out, out_ld) belong to the kernel that uses it.
local scalar = require "isa.scalar"

local M = {}

-- f(v) spelled for `isa`, or nil when the ISA cannot spell it as a vector.
function M.forward(act, isa, v)
  return act.op.forward(isa, v, act.opts)
end

-- Whether isa (a SIMD ISA) spells f as a vector.
function M.vector(act, isa)
  return isa.width > 1 and M.forward(act, isa, "v") ~= nil
end

-- The statements applying f to `count` (a number) contiguous floats at src + base into
-- dst + base on a SIMD ISA: whole vectors, then the rest as one partial vector, so every
-- element goes through the same vector f; nil where the ISA has no vector spelling of f.
function M.forward_run(act, isa, dst, src, base, count)
  local V = isa.width
  if not M.vector(act, isa) then return nil end
  local whole, tail, out = count // V * V, count % V, {}
  if whole > 0 then
    local at = base .. " + j"
    out[#out + 1] = string.format("for (int j = 0; j < %d; j += %d) %s", whole, V,
      isa.store(dst, at, M.forward(act, isa, isa.load(src, at))))
  end
  if tail > 0 then
    local at = base .. " + " .. whole
    out[#out + 1] = isa.store_part(dst, at, M.forward(act, isa, isa.load_part(src, at, tail)), tail)
  end
  return out
end

-- f(v) for one float.
function M.forward_scalar(act, v)
  return assert(act.op.forward(scalar, v, act.opts), act.op.word .. " has no scalar spelling")
end

-- The gradient with respect to the activation's input: g times f' read from m (the
-- buffer the op's grad.uses names: its input or its output), spelled for `isa`.
function M.grad(act, isa, g, m)
  return act.op.grad.rule(isa, g, m, act.opts)
end

function M.grad_scalar(act, g, m)
  return M.grad(act, scalar, g, m)
end

-- Prose for comments: " * [m > 0] (the previous ReLU's derivative)".
function M.grad_prose(act, m, which)
  return " * " .. act.op.grad.derivative(act.opts, m) .. " (the " .. which .. " " .. act.op.title .. "'s derivative)"
end

return M
