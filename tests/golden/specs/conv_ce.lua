-- make golden / test-golden: image layers against PyTorch (nn.Conv2d, MaxPool2d, AvgPool2d,
-- Flatten): 2 channels, an odd 11x11 input, padding, overlapping max pooling, stride 2, a
-- conv without bias, tanh after a pool; SGD with momentum.
return network "conv_ce" {
  input  = {2, 11, 11},
  layers = {
    conv2d(4, {kernel = 3, padding = 1}), relu(),          -- 4x11x11
    maxpool2d{kernel = 2, stride = 1},                     -- 4x10x10
    conv2d(3, {kernel = 3, stride = 2, bias = false}),     -- 3x4x4
    avgpool2d{kernel = 2}, tanh(),                         -- 3x2x2
    flatten(),
    linear(5),
  },
  loss   = "cross_entropy",
  batch  = 8,
  optimizer = sgd { lr = 0.1, momentum = 0.9 },
}
