-- batchnorm{momentum = 0.1, eps = 1e-5, affine = true}: torch.nn.BatchNorm2d after an image
-- layer (statistics per channel over N, H, W) or torch.nn.BatchNorm1d after flat features
-- (per feature over N). A layer with two modes (gen/kernels/norm.lua):
--   training   y = (x − mean) / sqrt(var + eps) · weight + bias with the batch's mean and
--              biased variance; running_mean and running_var move towards the batch's mean
--              and UNBIASED variance by `momentum` (torch's update), num_batches_tracked + 1
--   inference  the same formula with running_mean and running_var
-- Its tensors are those of torch's state_dict: weight (γ, init 1), bias (β, init 0) —
-- trained — and running_mean (0), running_var (1), num_batches_tracked (0, a count kept
-- as a float) — `buffer = true`: state the training forward writes, never the optimizer.
local M = {
  word = "batchnorm",
  role = "map",
  kernels = "norm",
  modes = true,
  fuses_activation = true,     -- its step applies a following activation (schedule.lua MAP_ACT)
  backward_reads_input = true,
  libm = true,                 -- sqrtf
  args = {"opts"},
  example = "batchnorm{momentum = 0.1, eps = 1e-5}",
  summary = "(x - mean) / sqrt(var + eps) * weight + bias",
}

function M.check(l, v)
  if l.extra > 0 then v.fail("batchnorm takes one options table like batchnorm{momentum = 0.1}, got more arguments") end
  if v.index == 1 then
    v.fail("batchnorm cannot be the first layer: it normalises a linear or conv2d output (put it after one)")
  end
  local o = v.opts({"momentum", "eps", "affine"})
  local layer = {momentum = 0.1, eps = 1e-5, affine = true}
  if o.momentum ~= nil then
    if not v.finite(o.momentum) or o.momentum < 0 or o.momentum > 1 then
      v.fail("momentum must be a number in [0, 1], got " .. v.show(o.momentum))
    end
    layer.momentum = o.momentum + 0.0
  end
  if o.eps ~= nil then
    if not v.finite(o.eps) or o.eps <= 0 then v.fail("eps must be a number > 0, got " .. v.show(o.eps)) end
    layer.eps = o.eps + 0.0
  end
  if o.affine ~= nil then
    if type(o.affine) ~= "boolean" then v.fail("affine must be true or false, got " .. v.show(o.affine)) end
    layer.affine = o.affine
  end
  -- channels and the pixels of each (1 for flat features)
  if v.shape then
    layer.channels, layer.pixels = v.shape[1], v.shape[2] * v.shape[3]
    layer.shape = {v.shape[1], v.shape[2], v.shape[3]}
    layer.out = v.count(layer.shape)
  else
    layer.channels, layer.pixels, layer.out = v.width, 1, v.width
  end
  return layer
end

function M.params(l)
  local C = l.channels
  -- torch's shapes: [C], and a 0-d num_batches_tracked
  local function t(suffix, init, cols, buffer)
    return {suffix = suffix, rows = 1, cols = cols, init = init, mode = "fan_in", nonlinearity = "linear",
            a = 0.0, fan_in = C, fan_out = C, buffer = buffer,
            torch = suffix == "num_batches_tracked" and {} or {cols}}
  end
  local list = {}
  if l.affine then
    list[#list + 1] = t("weight", "ones", C, false)
    list[#list + 1] = t("bias", "zeros", C, false)
  end
  list[#list + 1] = t("running_mean", "zeros", C, true)
  list[#list + 1] = t("running_var", "ones", C, true)
  list[#list + 1] = t("num_batches_tracked", "zeros", 1, true)
  return list
end

-- statistics (2 passes) and the normalisation; backward 2 sums and dx
function M.flops(l, B) return 7 * B * l.out, 3 * B * l.out, 5 * B * l.out end

return M
