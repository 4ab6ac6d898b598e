-- make golden / test-golden: batchnorm against PyTorch (nn.BatchNorm2d after a conv,
-- nn.BatchNorm1d after a linear, momentum and eps set), one training-mode step:
-- forward, gradients (weight, bias, the input), and the parameters after SGD with momentum
-- and weight decay, the running statistics moved by the forward. The linear before the 1d
-- batchnorm has no bias (bias = false, nn.Linear's bias=False: with one, its gradient would be
-- rounding noise); the tanh after it runs in the batchnorm's output pass.
return network "bn_ce" {
  input  = {3, 6, 6},
  layers = {
    conv2d(4, {kernel = 3, padding = 1, bias = false}),    -- 4x6x6
    batchnorm(), relu(),
    maxpool2d{kernel = 2},                                 -- 4x3x3
    flatten(),
    linear(9, {bias = false}),
    batchnorm{momentum = 0.25, eps = 1e-3}, tanh(),
    linear(5),
  },
  loss   = "cross_entropy",
  batch  = 8,
  optimizer = sgd { lr = 0.1, momentum = 0.9, weight_decay = 0.01 },
}
