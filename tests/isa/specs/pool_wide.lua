-- test-isa: 2x2 max pooling at stride 2 on rows of more than 8 windows (gen/kernels/convtile.lua,
-- pool_pairs_*: avx512 blocks of 16 windows of one pair of rows, tails by k-masks; avx2 blocks
-- of 8, neon of 4): a first-layer pool (34 windows: two whole blocks and 2), one after a leaky ReLU (the
-- derivative from m; 17 windows: 16 and 1), one after a ReLU (the derivative's sign from x
-- itself; 10 windows: one masked block).
return network "pool_wide" {
  input  = {2, 8, 68},
  layers = {
    maxpool2d{kernel = 2, stride = 2},                          -- 2x4x34
    conv2d(3, {kernel = 3, padding = 1}), leaky_relu{slope = 0.1},  -- 3x4x34
    maxpool2d{kernel = 2},                                      -- 3x2x17
    conv2d(2, {kernel = 1}), relu(),                            -- 2x2x17
    flatten(),
    linear(5),
  },
  loss   = "cross_entropy",
  batch  = 5,
  optimizer = sgd { lr = 0.02, momentum = 0.9 },
}
