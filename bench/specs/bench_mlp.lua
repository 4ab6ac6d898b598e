-- make bench: the 784-50-10 classifier at batch 64.
return network "bench_mlp" {
  input  = 784,
  layers = { linear(50), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd { lr = 0.01 },
}
