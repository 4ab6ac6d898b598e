-- avgpool2d{kernel = K, stride = K}: torch.nn.AvgPool2d (no padding), each output the mean
-- of its K×K window; the gradient is spread evenly, g / K². The windows must tile the
-- input exactly (no ceil_mode): (H − K) divisible by the stride.
local M = {
  word = "avgpool2d",
  role = "map",
  input = "image",
  kernels = "conv",
  args = {"opts"},
  example = "avgpool2d{kernel = 2, stride = 2}",
  summary = "mean over each window",
}

-- Shared by maxpool2d: kernel (required), stride (default: the kernel), the output shape.
function M.check_pool(word, l, v)
  if l.extra > 0 then v.fail(word .. " takes one options table like " .. word .. "{kernel = 2}, got more arguments") end
  local o = v.opts({"kernel", "stride"})
  if o.kernel == nil then v.fail(word .. " needs kernel = K, as in " .. word .. "{kernel = 2}") end
  local layer = {}
  layer.kernel = v.int(o, "kernel", nil, 1)
  layer.stride = v.int(o, "stride", layer.kernel, 1)
  local C, H, W = v.shape[1], v.shape[2], v.shape[3]
  local K, S = layer.kernel, layer.stride
  if K > H or K > W then
    v.fail(string.format("%s kernel %d is larger than its input %d×%d", word, K, H, W))
  end
  for _, d in ipairs({{"height", H}, {"width", W}}) do
    if (d[2] - K) % S ~= 0 then
      v.fail(string.format("%s kernel %d stride %d does not tile the input %s %d ((%d - %d) %% %d = %d; "
        .. "ceil_mode is not supported)", word, K, S, d[1], d[2], d[2], K, S, (d[2] - K) % S))
    end
  end
  layer.shape = {C, (H - K) // S + 1, (W - K) // S + 1}
  layer.out = v.count(layer.shape)
  return layer
end

function M.check(l, v) return M.check_pool("avgpool2d", l, v) end

function M.flops(l, B) return B * l.out * l.kernel * l.kernel, 0, B * l.in_ end

return M
