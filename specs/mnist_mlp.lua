-- The MNIST classifier: 784 pixels -> 50 hidden units (ReLU) -> 10 class scores,
-- softmax cross-entropy, SGD with momentum.
return network "mnist_mlp" {
  input  = 784,
  layers = {
    linear(50, {init = "kaiming_normal", mode = "fan_in", nonlinearity = "relu", bias_init = "zeros"}),
    relu(),
    linear(10),
  },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd {lr = 0.05, momentum = 0.9},
}
