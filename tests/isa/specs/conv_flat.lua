-- test-isa: the flat pixel-lane weight gradient (gen/kernels/convtile.lua, flat_wgrad) with
-- a last partial vector of pixels on every ISA: a 2x9x17 input (9·17 = 153 output pixels:
-- 9 past the last whole 16, 1 past 8 and 4), a 7x7 kernel with padding 3 (the rows of the
-- shifted copies start and end inside the vector: a row of 14 under 16 floats on avx512),
-- the first conv with its bias (db in the tiles), the second without, 3x3 padding 1.
return network "conv_flat" {
  input  = {2, 9, 17},
  layers = {
    conv2d(3, {kernel = 7, padding = 3}), relu(),              -- 3x9x17
    conv2d(2, {kernel = 3, padding = 1, bias = false}), tanh(), -- 2x9x17
    flatten(),
    linear(3),
  },
  loss   = "cross_entropy",
  batch  = 3,
  optimizer = sgd { lr = 0.05, momentum = 0.9 },
}
