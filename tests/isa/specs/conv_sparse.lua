-- test-isa: the conv2d weight gradient that reads only g's nonzeros where a max pooling
-- follows (gen/kernels/convtile.lua sparse_wgrad; avx512, kernels 5 to 8): kernel 5 over 2
-- channels (10 patch rows: 3 sets of accumulators taking the nonzeros in turn, a pixel
-- count of 169, 10 whole vectors and a tail of 9) under overlapping 3x3 windows at stride 2;
-- kernel 8 at stride 2 with padding and no bias over 5 channels (40 rows: two passes),
-- a leaky ReLU between it and its pooling.
return network "conv_sparse" {
  input  = {2, 13, 13},
  layers = {
    conv2d(5, {kernel = 5, padding = 2}), relu(),                                  -- 5x13x13
    maxpool2d{kernel = 3, stride = 2},                                           -- 5x6x6
    conv2d(3, {kernel = 8, stride = 2, padding = 3, bias = false}), leaky_relu{slope = 0.1},  -- 3x3x3
    maxpool2d{kernel = 3, stride = 3},                                           -- 3x1x1
    flatten(),
    linear(4),
  },
  loss   = "cross_entropy",
  batch  = 3,
  optimizer = sgd { lr = 0.02 },
}
