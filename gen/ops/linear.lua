-- linear(out): y = x @ W + b with W [in][out] (the seed's layout; PyTorch's nn.Linear
-- stores the transpose); {bias = false}: y = x @ W, no bias tensor (nn.Linear(bias=False),
-- as before a batchnorm, whose shift makes a bias redundant). Backward: dW = x^T @ g,
-- db = sum_i g, dx = g @ W^T.
-- The three products are gen/kernels/'s matmul_xw, matmul_xtg and matmul_gwt.
local M = {
  word = "linear",
  role = "product",
  input = "flat",
  args = {"size", "opts"},
  example = "{init = 'kaiming_normal'}",
  summary = "x @ W + b",
}

M.INITS = {"pytorch_default", "zeros", "randn", "simple_kaiming", "xavier_uniform",
           "xavier_normal", "kaiming_uniform", "kaiming_normal"}
M.BIAS_INITS = {"pytorch_default", "zeros"}
M.MODES = {"fan_in", "fan_out"}
M.NONLINEARITIES = {"linear", "relu", "leaky_relu", "tanh"}
M.OPTIONS = {"bias", "init", "mode", "nonlinearity", "a", "bias_init"}

-- l: the recorded call {size, opts, extra, line}; v: gen/spec.lua's validation toolkit.
function M.check(l, v)
  if l.extra > 0 then v.fail("linear takes a size and an options table, got more arguments") end
  local layer = {out = v.size(l.size, "linear needs")}
  local o = v.opts(M.OPTIONS)
  layer.has_bias = M.bias_option(o, v)
  for k, x in pairs(M.init_options(o, v)) do layer[k] = x end
  return layer
end

-- The bias option of an options table o (true unless bias = false), checked with v; conv2d
-- shares it. bias_init without a bias would be ignored: refused.
function M.bias_option(o, v)
  if o.bias ~= nil and type(o.bias) ~= "boolean" then v.fail("bias must be true or false, got " .. v.show(o.bias)) end
  if o.bias == false and o.bias_init ~= nil then v.fail("bias_init has no bias to set (bias = false)") end
  return o.bias ~= false
end

-- The init options (init, mode, nonlinearity, a, bias_init) of an options table o, checked
-- with the toolkit v; conv2d shares them.
function M.init_options(o, v)
  local layer = {}
  layer.init = v.choice(o, "init", M.INITS, "pytorch_default")
  layer.mode = v.choice(o, "mode", M.MODES, "fan_in")
  local kaiming = layer.init:match("^kaiming") ~= nil
  local default_nl = (kaiming or layer.init == "pytorch_default") and "leaky_relu" or "linear"
  layer.nonlinearity = v.choice(o, "nonlinearity", M.NONLINEARITIES, default_nl)
  local a = o.a
  if a == nil then
    a = layer.init == "pytorch_default" and o.nonlinearity == nil and math.sqrt(5) or 0
  elseif not v.finite(a) or a < 0 then
    v.fail("a must be a finite number >= 0, got " .. v.show(a))
  end
  layer.a = a + 0.0
  layer.bias_init = v.choice(o, "bias_init", M.BIAS_INITS, "pytorch_default")
  return layer
end

-- The weight is the one tensor a kernel family may update inside its gradient tiles
-- (fused_update: the optimizer applied in the weight-gradient tiles); the bias is updated
-- after them.
function M.params(l)
  local t = {
    {suffix = "weight", rows = l.in_, cols = l.out, init = l.init, mode = l.mode,
     nonlinearity = l.nonlinearity, a = l.a, fan_in = l.in_, fan_out = l.out, fused_update = true,
     torch = {l.out, l.in_}},
  }
  if l.has_bias then
    t[2] = {suffix = "bias", rows = 1, cols = l.out, init = l.bias_init, mode = "fan_in",
            nonlinearity = "linear", a = 0.0, fan_in = l.in_, fan_out = l.out, torch = {l.out}}
  end
  return t
end

-- Per batch of B rows: forward 2*B*in*out; backward 2*B*in*out for dW and as much
-- again for dx (returned separately: the first layer's dx is only computed on request).
function M.flops(l, B)
  return 2 * B * l.in_ * l.out, 2 * B * l.in_ * l.out, 2 * B * l.in_ * l.out
end

return M
