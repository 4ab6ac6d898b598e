-- make bench-scale: 784-256-256-10 at batch 256, the network of issue 15's scaling targets
-- (trained on Fashion-MNIST with --shards 2, 1 vs 2 threads).
return network "scale_mlp" {
  input  = 784,
  layers = { linear(256), relu(), linear(256), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 256,
  optimizer = sgd { lr = 0.02, momentum = 0.9 },
}
