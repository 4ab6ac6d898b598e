-- test-isa: padding past K-1 (a 1x1 conv with padding 1 as the first layer: the input
-- gradient's frame starts before g, whose border rows and columns reach no input; its
-- frame copy wrote before the stack buffer, a crash on neon, wrong dx on avx2/avx512),
-- stride 2 with rows narrower than a vector (the input gradient's narrow tiles over g
-- dilated), one output channel at kernel 5.
return network "conv_pad" {
  input  = {2, 9, 9},
  layers = {
    conv2d(2, {kernel = 1, padding = 1}), relu(),          -- 2x11x11
    conv2d(3, {kernel = 3, stride = 2, padding = 1}), tanh(),  -- 3x6x6
    conv2d(1, {kernel = 5, padding = 2}), sigmoid(),       -- 1x6x6
    conv2d(2, {kernel = 2, padding = 1}), leaky_relu{slope = 0.2},  -- 2x7x7
    flatten(),
    linear(1),
  },
  loss   = "mse",
  batch  = 2,
  optimizer = sgd { lr = 0.05 },
}
