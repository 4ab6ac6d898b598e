-- test-isa: batchnorm's lane sums (gen/kernels/norm.lua: 64 partial sums per channel) on
-- planes of exactly 64 pixels (main loop only), of 100 (a main block and a tail of 36), and
-- over flat features; bn_drop has a plane of 49 (tail only). SGD with momentum.
return network "bn_planes" {
  input  = {2, 8, 8},
  layers = {
    conv2d(4, {kernel = 3, padding = 1, bias = false}), -- 4x8x8: 64 pixels
    batchnorm(), relu(),
    conv2d(3, {kernel = 3, padding = 2, bias = false}), -- 3x10x10: 100 pixels
    batchnorm{momentum = 0.2}, relu(),
    maxpool2d{kernel = 2},                              -- 3x5x5
    flatten(),
    linear(11), tanh(),
    batchnorm(),
    linear(4),
  },
  loss   = "cross_entropy",
  batch  = 5,
  optimizer = sgd { lr = 0.05, momentum = 0.9 },
}
