-- sigmoid(): a = 1 / (1 + e^-x) (libm's expf). Its derivative from the output, as torch's
-- sigmoid_backward: (g * (1 - a)) * a. The forward has no vector spelling: the tiled
-- kernels apply it lane by lane after the product.
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
  forward = function(isa, v) return isa.width == 1 and "1.0f / (1.0f + expf(-" .. v .. "))" or nil end,
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
