-- Portable C11: one float per "vector". The oracle every other ISA is tested against.
--
-- Each entry spells one operation as C text; the kernels (gen/kernels/) and the
-- activations' formulas (gen/ops/) are written with these. A SIMD ISA provides the same
-- entries for its vector type plus what the tiled kernels need (gen/isa/avx512.lua).
-- Operands are atoms or calls: an entry does not parenthesise what it is given.
return {
  name = "scalar",
  width = 1,                 -- floats per vector
  vtype = "float",           -- C type of one vector
  includes = {},             -- extra headers the generated .c needs
  zero = function() return "0.0f" end,
  -- base[index] for any alignment; base is a float pointer expression
  load = function(base, index) return base .. "[" .. index .. "]" end,
  store = function(base, index, v) return base .. "[" .. index .. "] = " .. v .. ";" end,
  broadcast = function(x) return x end,
  add = function(a, b) return a .. " + " .. b end,
  sub = function(a, b) return a .. " - " .. b end,
  mul = function(a, b) return a .. " * " .. b end,
  fma = function(a, b, c) return c .. " + " .. a .. " * " .. b end,   -- a*b + c, rounded twice
  max = function(a, b) return "(" .. a .. " > " .. b .. " ? " .. a .. " : " .. b .. ")" end,
  -- x where mask > 0, else 0 (the ReLU derivative)
  select_pos = function(mask, x) return "(" .. mask .. " > 0.0f ? " .. x .. " : 0.0f)" end,
  -- x where mask > 0, else y
  blend_pos = function(mask, x, y) return "(" .. mask .. " > 0.0f ? " .. x .. " : " .. y .. ")" end,
}
