-- The op registry: every gen/ops/<kind>.lua is one layer kind, found by its module name
-- (mk/gen.mk embeds gen/*/*.lua by wildcard), so adding a layer is adding its file.
--
-- An op module is a table that says WHAT the layer computes, never how (no C text for
-- products, no ISA):
--   word          the DSL word (the file's name)
--   role          "product" (a layer with parameters whose work is the products of
--                 gen/kernels/, e.g. linear, conv2d), "map" (not element-wise, a step of its
--                 own (with fuses_activation: and the activation after it), no parameters
--                 unless it has modes: maxpool2d, avgpool2d,
--                 flatten, batchnorm, dropout) or "activation" (element-wise, no parameters)
--   modes         true for a layer that computes differently in training and in inference
--                 (batchnorm, dropout): its kernels' forward also gives the training-mode
--                 call, and the API gains NAME_forward_train. A parameter tensor with
--                 `buffer = true` is state that training mode writes (batchnorm's running
--                 statistics): in NAME_params and NAME_tensors, never stepped, gradient 0
--   input         "image" (needs a C×H×W input: conv2d, pooling), "flat" (linear) or nil
--                 (either: activations, flatten); gen/spec.lua refuses the others
--   kernels       the module under gen/kernels/ that writes this op's step functions
--                 (forward/backward with gen/kernels/layer.lua's contract) instead of the
--                 schedule's kernel family, e.g. "conv"
--   backward_reads_input  a map op whose backward reads its input (maxpool2d)
--   fuses_activation  a map op whose kernels apply the activation after it as they store its
--                 output (batchnorm): that activation joins its step when its derivative reads
--                 the output (gen/schedule.lua MAP_ACT); the kernels find it in s.act
--   args          what the DSL word takes: {"size", "opts"} or {"opts"}
--   example       how its options are written, for messages ("relu{shift = -0.5}")
--   options       activation options: list of {name, default, check = fn(v) -> ok, what}
--   check(l, v)   product and map ops: validates the recorded call with the toolkit v
--                 (gen/spec.lua; v.shape is the input's {C, H, W} or nil) and returns the
--                 layer's fields (out, shape = {C, H, W} of an image output, init, ...)
--   params(l)     parameter tensors {suffix, rows, cols, init fields} (default: none)
--   flops(l, B)   forward, backward for the parameters, backward for the input
--   activation ops also:
--     title         its name in prose ("ReLU")
--     summary       its formula in buffer comments ("max(x, 0) + shift")
--     formula(o, x) its formula for these options ("max(x, 0) - 0.5")
--     shown(o)      its name in the banner table
--     forward(isa, v, o)  the C expression of f(v) in an ISA's spelling (gen/isa/*.lua),
--                   or nil when the ISA cannot spell it as a vector (then the kernels
--                   apply it lane by lane with the scalar spelling)
--     grad = {uses = "input" | "output", derivative(o, m) prose, rule(isa, g, m, o)}:
--                   the gradient with respect to the input given g (with respect to the
--                   output) and m (the buffer named by `uses`), as a C expression
--     libm          true when its scalar spelling calls <math.h>
--     vector_math   the helper of gen/kernels/actmath.lua its vector spelling calls
--                   ("tanh", "sigmoid"): NAME.c then defines it (gen/lower.lua)
local M = {}

local cache

-- Every op module, sorted by word.
function M.all()
  if cache then return cache end
  local list = {}
  for name in pairs(package.preload) do
    local kind = name:match("^ops%.([%w_]+)$")
    if kind then
      local op = require(name)
      assert(op.word == kind, "gen/ops/" .. kind .. ".lua must declare word = '" .. kind .. "'")
      op.params = op.params or function() return {} end   -- activations have none
      list[#list + 1] = op
    end
  end
  table.sort(list, function(a, b) return a.word < b.word end)
  cache = list
  return list
end

-- The op of a DSL word, or nil.
function M.get(word)
  for _, op in ipairs(M.all()) do
    if op.word == word then return op end
  end
  return nil
end

-- The DSL words, in the order messages list them: products first, then the layers without
-- parameters that are steps of their own (pooling, flatten), then activations.
function M.words()
  local w = {}
  for _, role in ipairs({"product", "map", "activation"}) do
    for _, op in ipairs(M.all()) do
      if op.role == role then w[#w + 1] = op.word end
    end
  end
  return w
end

return M
