-- test-isa: image layers on every ISA, odd sizes: 3 channels, a prime 13x11 input, a 7x7
-- kernel with stride 2 and padding 3, overlapping max pooling (stride 1), a 1x1 conv without
-- bias, tanh after a conv; Adam (train_step's unfused path). Both convs (9 and 5 channels) run
-- pixel by pixel (channels inner); conv_gray's (3 and 2 channels) plane by plane.
return network "conv_rgb" {
  input  = {3, 13, 11},
  layers = {
    conv2d(9, {kernel = 7, stride = 2, padding = 3}), relu(),   -- 9x7x6
    maxpool2d{kernel = 2, stride = 1},                          -- 9x6x5
    conv2d(5, {kernel = 1, bias = false}), tanh(),              -- 5x6x5
    flatten(),
    linear(7),
  },
  loss   = "cross_entropy",
  batch  = 5,
  optimizer = adam { lr = 0.003 },
}
