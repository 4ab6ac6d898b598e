-- Fashion-MNIST classifier: 784 pixels -> 256 hidden units (ReLU) -> 10 class scores,
-- softmax cross-entropy, SGD with momentum. `make demo-fashion` trains it on Debian's
-- dataset-fashion-mnist (60,000 train / 10,000 test images) for 20 epochs.
return network "fashion_mlp" {
  input  = 784,
  layers = {
    linear(256),
    relu(),
    linear(10),
  },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd {lr = 0.02, momentum = 0.9},
}
