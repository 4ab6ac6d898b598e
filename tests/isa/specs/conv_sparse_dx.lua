-- test-isa: the conv2d input gradient from g's nonzeros where a max pooling follows
-- (gen/kernels/convtile.lua sparse_dx; avx512, avx2). The second conv: 12 channels at
-- kernel 5 (60 patch rows: 2 passes over each pixel's nonzero channels on avx512, 5 on
-- avx2), 20 output channels (a mask of 2 vectors of gt's row on avx512, 3 on avx2), rows of
-- 18 (dx's rows in two overlapping vectors on avx512), times the leaky ReLU's derivative
-- before it. The third: kernel 6 at stride 2 without padding over 20 channels (120 rows: 3
-- and 10 passes), whose windows leave the input's last row and column (dx 0 there).
return network "conv_sparse_dx" {
  input  = {3, 18, 18},
  layers = {
    conv2d(12, {kernel = 3, padding = 1}), leaky_relu{slope = 0.1},   -- 12x18x18
    conv2d(20, {kernel = 5, padding = 2}), relu(),                    -- 20x18x18
    maxpool2d{kernel = 2, stride = 2},                                -- 20x9x9
    conv2d(6, {kernel = 6, stride = 2}), relu(),                      -- 6x2x2
    maxpool2d{kernel = 2, stride = 2},                                -- 6x1x1
    flatten(),
    linear(3),
  },
  loss   = "cross_entropy",
  batch  = 2,
  optimizer = sgd { lr = 0.05 },
}
