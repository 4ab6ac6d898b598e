-- maxpool2d{kernel = K, stride = K}: torch.nn.MaxPool2d (no padding, dilation 1), each
-- output the maximum of its K×K window, the first maximum in row-major order taking the
-- gradient (torch's CPU kernel: a later element wins only when strictly greater).
-- The windows must tile the input exactly (no ceil_mode): (H − K) divisible by the stride.
local pool = require "ops.avgpool2d"

return {
  word = "maxpool2d",
  role = "map",
  input = "image",
  kernels = "conv",
  args = {"opts"},
  example = "maxpool2d{kernel = 2, stride = 2}",
  summary = "max over each window",
  backward_reads_input = true,
  check = function(l, v) return pool.check_pool("maxpool2d", l, v) end,
  flops = function(l, B) return B * l.out * l.kernel * l.kernel, 0, B * l.in_ end,
}
