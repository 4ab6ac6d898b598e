-- flatten(): torch.nn.Flatten, C×H×W -> C·H·W features in the same (NCHW) order; the
-- values are copied unchanged (and the gradient back).
return {
  word = "flatten",
  role = "map",
  kernels = "conv",
  args = {"opts"},
  example = "flatten()",
  summary = "the same values, flat",
  check = function(l, v)
    if l.extra > 0 or l.opts ~= nil then v.fail("flatten takes no arguments, got " .. v.show(l.opts)) end
    return {out = v.shape and v.count(v.shape) or v.width}
  end,
  flops = function() return 0, 0, 0 end,
}
