-- sigmoid(): a = 1 / (1 + e^-x) (libm's expf on the scalar ISA; the SIMD ISAs call
-- gen/kernels/actmath.lua's vector sigmoid, within a few ulp of it). Its derivative from
-- the output, as torch's sigmoid_backward: (g * (1 - a)) * a.
local actmath = require "kernels.actmath"

return {
  word = "sigmoid",
  role = "activation",
  args = {"opts"},
  example = "sigmoid()",
  options = {},
  title = "sigmoid",
  summary = "1 / (1 + exp(-x))",
  formula = function(_, x) return "1 / (1 + exp(-" .. x .. "))" end,
  shown = function() return "sigmoid" end,
  forward = function(isa, v)
    return isa.width == 1 and "1.0f / (1.0f + expf(-" .. v .. "))" or actmath.call(isa, "sigmoid", v)
  end,
  vector_math = "sigmoid",
  grad = {
    uses = "output",
    derivative = function(_, m) return m .. " (1 - " .. m .. ")" end,
    rule = function(isa, g, m)
      return isa.mul(isa.mul(g, "(" .. isa.sub(isa.broadcast("1.0f"), m) .. ")"), m)
    end,
  },
  libm = true,
  flops = function(l, B) return 3 * B * l.out, 3 * B * l.out, 0 end,
}
