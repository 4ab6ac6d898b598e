-- tanh(): a = tanh(x) (libm's tanhf on the scalar ISA; the SIMD ISAs call
-- gen/kernels/actmath.lua's vector tanh, within a few ulp of it). Its derivative from the
-- output, as torch's tanh_backward: g * (1 - a^2).
local actmath = require "kernels.actmath"

return {
  word = "tanh",
  role = "activation",
  args = {"opts"},
  example = "tanh()",
  options = {},
  title = "tanh",
  summary = "tanh(x)",
  formula = function(_, x) return "tanh(" .. x .. ")" end,
  shown = function() return "tanh" end,
  forward = function(isa, v) return isa.width == 1 and "tanhf(" .. v .. ")" or actmath.call(isa, "tanh", v) end,
  vector_math = "tanh",
  grad = {
    uses = "output",
    derivative = function(_, m) return "(1 - " .. m .. "^2)" end,
    rule = function(isa, g, m) return isa.mul(g, "(" .. isa.sub(isa.broadcast("1.0f"), isa.mul(m, m)) .. ")") end,
  },
  libm = true,
  flops = function(l, B) return 2 * B * l.out, 3 * B * l.out, 0 end,
}
