-- leaky_relu{slope = 0.01}: a = x > 0 ? x : slope * x (torch.nn.LeakyReLU, whose
-- negative_slope defaults to 0.01). Its derivative, as torch's: x > 0 ? 1 : slope.
local emit = require "emit"

local function slope(isa, o) return isa.broadcast(emit.float(o.slope)) end

return {
  word = "leaky_relu",
  role = "activation",
  args = {"opts"},
  example = "leaky_relu{slope = 0.01}",
  options = {{name = "slope", default = 0.01, check = function() return true end, what = "a finite number"}},
  title = "leaky ReLU",
  summary = "x > 0 ? x : slope * x",
  formula = function(o, x) return x .. " > 0 ? " .. x .. " : " .. emit.number(o.slope) .. " " .. x end,
  shown = function(o) return "leaky_relu(" .. emit.number(o.slope) .. ")" end,
  forward = function(isa, v, o) return isa.blend_pos(v, v, isa.mul(slope(isa, o), v)) end,
  grad = {
    uses = "input",
    derivative = function(o, m) return "(" .. m .. " > 0 ? 1 : " .. emit.number(o.slope) .. ")" end,
    rule = function(isa, g, m, o) return isa.blend_pos(m, g, isa.mul(g, slope(isa, o))) end,
  },
  flops = function(l, B) return 2 * B * l.out, 2 * B * l.out, 0 end,
}
