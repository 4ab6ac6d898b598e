-- Portable C11: one float per "vector". The oracle every other ISA is tested against.
--
-- Each entry spells one operation as C text; gen/kernels.lua builds loops from these.
-- A SIMD ISA provides the same entries for its vector type (see the comment at the top
-- of gen/kernels.lua).
return {
  name = "scalar",
  width = 1,                 -- floats per vector
  vtype = "float",           -- C type of one vector
  includes = {},             -- extra headers the generated .c needs
  kernels = nil,             -- module name of ISA-specific kernels (nil: gen/kernels.lua's loops)
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
}
