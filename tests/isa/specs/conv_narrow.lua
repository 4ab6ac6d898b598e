-- test-isa: conv2d rows narrower than a vector in pixel lanes (convtile.lua's narrow tiles:
-- one row per vector, masked stores, a tile over several rows). 11-wide rows: avx512's
-- forward and its input gradient times the ReLU derivative; 5-wide rows: avx2's and
-- avx512's forwards and input gradients, after max pooling and times tanh's derivative;
-- 3-wide rows: neon's forward and its input gradient times leaky_relu's derivative; 13 and
-- 5 rows, so some tiles have fewer rows; padding, so the taps over the frame's zero rows
-- are clipped per tile.
return network "conv_narrow" {
  input  = {2, 13, 11},
  layers = {
    conv2d(7, {kernel = 3, padding = 1}), relu(),                   -- 7x13x11
    conv2d(3, {kernel = 3, padding = 1}), sigmoid(),                -- 3x13x11
    maxpool2d{kernel = 3, stride = 2},                              -- 3x6x5
    conv2d(4, {kernel = 3, padding = 1}), tanh(),                   -- 4x6x5
    conv2d(2, {kernel = 3, padding = 1}), relu(),                   -- 2x6x5
    maxpool2d{kernel = 2, stride = 1},                              -- 2x5x4
    conv2d(2, {kernel = 2}), leaky_relu{slope = 0.1},               -- 2x4x3
    conv2d(2, {kernel = 3, padding = 1}), tanh(),                   -- 2x4x3
    flatten(),
    linear(5),
  },
  loss   = "cross_entropy",
  batch  = 3,
  optimizer = adam { lr = 0.003 },
}
