-- test-isa: batchnorm (2d after a conv, 1d after an activation) and dropout on every ISA:
-- conv -> batchnorm -> relu -> dropout -> pool, then linear -> tanh -> batchnorm{momentum,
-- eps} -> dropout -> linear; Adam (the running statistics must not be stepped). No bias
-- right before a batchnorm: its gradient is 0 up to rounding, and Adam would step it by
-- ±lr whatever the sign of that noise, so no two ISAs could agree.
return network "bn_drop" {
  input  = {2, 7, 7},
  layers = {
    conv2d(5, {kernel = 3, padding = 1, bias = false}), -- 5x7x7
    batchnorm(), relu(),
    dropout{p = 0.25},
    maxpool2d{kernel = 2, stride = 1},                  -- 5x6x6
    flatten(),
    linear(13), tanh(),
    batchnorm{momentum = 0.3, eps = 1e-3},
    dropout{p = 0.5},
    linear(4),
  },
  loss   = "cross_entropy",
  batch  = 6,
  optimizer = adam { lr = 0.01 },
}
