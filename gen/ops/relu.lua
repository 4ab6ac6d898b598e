-- relu{shift = s}: a = max(x, 0) + s (the seed uses s = -0.5). Its derivative is
-- [x > 0]. After a linear layer it is fused into that layer's step (gen/graph.lua);
-- this file emits the standalone form (first layer, or a relu after a relu).
local emit = require "emit"

local M = {}

function M.params() return {} end

-- max and shift forward; the mask multiply backward (no dx term of its own).
function M.flops(l, B) return 2 * B * l.out, B * l.out, 0 end

local function shifted(isa, v, shift)
  if shift == 0 then return v end
  if shift < 0 then return isa.sub(v, isa.broadcast(emit.float(-shift))) end
  return isa.add(v, isa.broadcast(emit.float(shift)))
end

function M.forward(s, ctx)
  local W, isa, shift = s.out, require("isa.scalar"), s.relu.spec.shift
  local fn = s.fname .. "_forward"
  local text = string.format("/* Layer %d: a = max(x, 0)%s; x, a [n][%d]. */\n", s.relu.index,
      shift == 0 and "" or (shift < 0 and " - " .. emit.number(-shift) or " + " .. emit.number(shift)), W)
    .. string.format("static void %s(float *restrict a, const float *restrict x, int n) {\n", fn)
    .. string.format("  for (int i = 0; i < n * %d; i++) %s\n", W,
         isa.store("a", "i", shifted(isa, isa.max(isa.load("x", "i"), isa.zero()), shift)))
    .. "}\n"
  local call = string.format("%s(%s, %s, n);", fn, ctx.ref(s.a), ctx.ref(s.input))
  return text, call
end

-- g = s.d is the gradient with respect to this relu's input, already masked by its
-- consumer; pass it on to the producer of the input, masked by that producer's ReLU.
function M.backward(s, ctx)
  local W, isa, mask = s.out, require("isa.scalar"), ctx.in_mask
  local fn = s.fname .. "_backward"
  local text = string.format("/* Layer %d backward: dx = g%s; g, dx [n][%d]%s. */\n", s.relu.index,
      mask and " * [m > 0] (the previous ReLU's derivative)" or " (the mask is applied by the consumer)", W,
      mask and ", m [n][" .. W .. "]" or "")
    .. string.format("static void %s(float *restrict dx, const float *restrict g%s, int n) {\n", fn,
         mask and ", const float *restrict m" or "")
    .. (ctx.first and "  if (dx == NULL) return;\n" or "")
    .. string.format("  for (int i = 0; i < n * %d; i++) %s\n", W,
         isa.store("dx", "i", mask and isa.select_pos(isa.load("m", "i"), isa.load("g", "i")) or isa.load("g", "i")))
    .. "}\n"
  local call = string.format("%s(%s, %s, %sn);", fn, ctx.dx, ctx.ref(s.d), mask and ctx.ref(mask) .. ", " or "")
  return text, call
end

return M
