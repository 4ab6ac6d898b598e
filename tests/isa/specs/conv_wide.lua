-- test-isa: the conv register tiles' channel blocks (gen/kernels/convtile.lua): 19 and 33
-- output channels (more vectors than one tile holds on avx2 and neon, and not a multiple of
-- any vector width), 19 input channels for the second conv's input gradient (its flipped
-- weights have 19 lanes), 2 input channels, prime 11x7 input, stride 2 with padding 1 (an
-- unused padded column), a 2x2 kernel on an odd 6x4 map.
return network "conv_wide" {
  input  = {2, 11, 7},
  layers = {
    conv2d(19, {kernel = 3, stride = 2, padding = 1}), leaky_relu{slope = 0.1},   -- 19x6x4
    conv2d(33, {kernel = 2}), relu(),                                            -- 33x5x3
    flatten(),
    linear(4),
  },
  loss   = "cross_entropy",
  batch  = 3,
  optimizer = sgd { lr = 0.05 },
}
