-- relu{shift = s}: a = max(x, 0) + s (the seed uses s = -0.5). Its derivative is
-- [x > 0], as torch.relu's (0 at 0).
local emit = require "emit"

local M = {
  word = "relu",
  role = "activation",
  args = {"opts"},
  example = "relu{shift = -0.5}",
  options = {{name = "shift", default = 0, check = function(v) return true end, what = "a finite number"}},
  title = "ReLU",
  summary = "max(x, 0) + shift",
}

local function shift_text(shift)
  if shift == 0 then return "" end
  return shift < 0 and " - " .. emit.number(-shift) or " + " .. emit.number(shift)
end

function M.formula(o, x) return "max(" .. x .. ", 0)" .. shift_text(o.shift) end

function M.shown(o)
  return o.shift == 0 and "relu" or "relu(shift " .. emit.number(o.shift) .. ")"
end

-- max(v, 0), then the shift (subtracted when negative)
function M.forward(isa, v, o)
  local r = isa.max(v, isa.zero())
  if o.shift < 0 then return isa.sub(r, isa.broadcast(emit.float(-o.shift))) end
  if o.shift > 0 then return isa.add(r, isa.broadcast(emit.float(o.shift))) end
  return r
end

M.grad = {
  uses = "input",
  derivative = function(_, m) return "[" .. m .. " > 0]" end,
  rule = function(isa, g, m) return isa.select_pos(m, g) end,
  -- without a shift, [x > 0] = [max(x, 0) > 0] bit for bit (NaN and -0 give +0, not > 0):
  -- a kernel that has the output at hand may read the derivative's mask from it
  output_sign = function(o) return o.shift == 0 end,
}

-- max and shift forward; the mask multiply backward (no dx term of its own).
function M.flops(l, B) return 2 * B * l.out, B * l.out, 0 end

return M
