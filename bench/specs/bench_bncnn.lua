-- make bench: specs/fashion_cnn.lua's network (two conv -> batchnorm -> relu -> max pooling
-- blocks, dropout, a hidden linear layer) train step at batch 64, plain SGD; against PyTorch
-- only (no OpenBLAS or naive baseline of its own).
return network "bench_bncnn" {
  input  = {1, 28, 28},
  layers = {
    conv2d(16, {kernel = 3, padding = 1, bias = false}),
    batchnorm(), relu(),
    maxpool2d{kernel = 2, stride = 2},
    conv2d(32, {kernel = 3, padding = 1, bias = false}),
    batchnorm(), relu(),
    maxpool2d{kernel = 2, stride = 2},
    flatten(),
    dropout{p = 0.1},
    linear(128), relu(),
    dropout{p = 0.25},
    linear(10),
  },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd { lr = 0.01 },
}
