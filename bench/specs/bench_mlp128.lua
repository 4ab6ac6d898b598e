-- make bench: the 784-50-10 classifier at batch 128.
return network "bench_mlp128" {
  input  = 784,
  layers = { linear(50), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 128,
  optimizer = sgd { lr = 0.01 },
}
