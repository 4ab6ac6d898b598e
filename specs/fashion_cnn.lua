-- Small CNN with batchnorm and dropout for Fashion-MNIST (make demo-cnn-fashion): two 3x3
-- convolutions, each followed by batchnorm, ReLU and 2x2 max pooling, then dropout, a hidden
-- linear layer and dropout again. No bias right before a batchnorm: it would be cancelled by
-- the batch mean (its gradient is 0 up to rounding).
return network "fashion_cnn" {
  input  = {1, 28, 28},
  layers = {
    conv2d(16, {kernel = 3, padding = 1, bias = false}), -- 16x28x28
    batchnorm(), relu(),
    maxpool2d{kernel = 2, stride = 2},                   -- 16x14x14
    conv2d(32, {kernel = 3, padding = 1, bias = false}), -- 32x14x14
    batchnorm(), relu(),
    maxpool2d{kernel = 2, stride = 2},                   -- 32x7x7
    flatten(),                                           -- 1568
    dropout{p = 0.1},
    linear(128), relu(),
    dropout{p = 0.25},
    linear(10),
  },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd {lr = 0.02, momentum = 0.9},
  -- one cycle (torch's OneCycleLR) as specs/mnist_cnn.lua; --epochs sets its length
  schedule = onecycle{max_lr = 0.05},
}
