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
