-- test-isa: image layers on every ISA: one channel, a prime 17x17 input, max pooling as the
-- first layer (its backward reads x), stride 2 without padding (one row and column dropped,
-- as torch), average pooling, padding 1, leaky_relu and sigmoid after convs; SGD with
-- plain steps (train_step's fused path: the conv weights are updated after the tiles).
return network "conv_gray" {
  input  = {1, 17, 17},
  layers = {
    maxpool2d{kernel = 3, stride = 2},                          -- 1x8x8
    conv2d(3, {kernel = 2, stride = 2}), leaky_relu{slope = 0.1},   -- 3x4x4
    avgpool2d{kernel = 2},                                      -- 3x2x2
    conv2d(2, {kernel = 3, padding = 1}), sigmoid(),            -- 2x2x2
    flatten(),
    linear(1),
  },
  loss   = "mse",
  batch  = 3,
  optimizer = sgd { lr = 0.05 },
}
