-- conv2d(out_channels, {kernel = K, stride = 1, padding = 0, bias = true, init = ...}):
-- torch.nn.Conv2d with a square kernel, zero padding, dilation 1, groups 1, on a C×H×W
-- input (NCHW rows): y[o][oy][ox] = b[o] + Σ_{c,ky,kx} x[c][oy·s+ky−p][ox·s+kx−p] · W[c][ky][kx][o],
-- out = floor((H + 2p − K) / s) + 1 (likewise W), as torch. The weight is stored
-- [C·K·K][O] (in, out: a linear layer's orientation), so NAME_export_tensor's transpose gives
-- torch's [O][C][K][K]. Backward: dW, db = Σ g, dx (the transposed convolution).
-- Its kernels are gen/kernels/conv.lua (portable loops for every ISA).
local linear = require "ops.linear"

local M = {
  word = "conv2d",
  role = "product",
  input = "image",
  kernels = "conv",
  args = {"size", "opts"},
  example = "{kernel = 5, stride = 1, padding = 0}",
  summary = "conv2d(x, W) + b",
}

M.OPTIONS = {"kernel", "stride", "padding", "bias", "init", "mode", "nonlinearity", "a", "bias_init"}

-- l: the recorded call; v: gen/spec.lua's validation toolkit (v.shape: the input's {C, H, W}).
function M.check(l, v)
  if l.extra > 0 then v.fail("conv2d takes out_channels and an options table, got more arguments") end
  local layer = {out_c = v.size(l.size, "conv2d needs out_channels as")}
  local o = v.opts(M.OPTIONS)
  if o.kernel == nil then v.fail("conv2d needs kernel = K in its options, as in conv2d(6, {kernel = 5})") end
  layer.kernel = v.int(o, "kernel", nil, 1)
  layer.stride = v.int(o, "stride", 1, 1)
  layer.padding = v.int(o, "padding", 0, 0)
  layer.has_bias = linear.bias_option(o, v)
  for k, x in pairs(linear.init_options(o, v)) do layer[k] = x end
  local C, H, W = v.shape[1], v.shape[2], v.shape[3]
  local K, S, P = layer.kernel, layer.stride, layer.padding
  if H + 2 * P < K or W + 2 * P < K then
    v.fail(string.format("conv2d kernel %d is larger than its input %d×%d%s", K, H, W,
      P > 0 and string.format(" padded by %d (%d×%d)", P, H + 2 * P, W + 2 * P) or ""))
  end
  layer.in_c = C
  layer.shape = {layer.out_c, (H + 2 * P - K) // S + 1, (W + 2 * P - K) // S + 1}
  layer.out = v.count(layer.shape)
  return layer
end

-- weight [C·K·K][O] (torch's [O][C][K][K] transposed), bias [O]; fans as torch's
-- _calculate_fan_in_and_fan_out for a conv weight.
function M.params(l)
  local kk = l.kernel * l.kernel
  local fan_in, fan_out = l.in_c * kk, l.out_c * kk
  local t = {
    {suffix = "weight", rows = fan_in, cols = l.out_c, init = l.init, mode = l.mode,
     nonlinearity = l.nonlinearity, a = l.a, fan_in = fan_in, fan_out = fan_out,
     torch = {l.out_c, l.in_c, l.kernel, l.kernel}},
  }
  if l.has_bias then
    t[2] = {suffix = "bias", rows = 1, cols = l.out_c, init = l.bias_init, mode = "fan_in",
            nonlinearity = "linear", a = 0.0, fan_in = fan_in, fan_out = fan_out, torch = {l.out_c}}
  end
  return t
end

-- Multiply-adds per row: every output element takes C·K·K of them (padding included, as
-- FLOP counts usually do); dW and dx as many again.
function M.flops(l, B)
  local f = 2 * B * l.out * l.in_c * l.kernel * l.kernel
  return f, f, f
end

return M
