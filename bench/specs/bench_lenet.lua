-- make bench: LeNet (specs/mnist_cnn.lua's network) train step at batch 64, plain SGD.
return network "bench_lenet" {
  input  = {1, 28, 28},
  layers = {
    conv2d(6, {kernel = 5, padding = 2}), relu(),
    maxpool2d{kernel = 2, stride = 2},
    conv2d(16, {kernel = 5}), relu(),
    maxpool2d{kernel = 2, stride = 2},
    flatten(),
    linear(120), relu(),
    linear(84), relu(),
    linear(10),
  },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd { lr = 0.01 },
}
