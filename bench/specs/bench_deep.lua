-- make bench: a deeper classifier, 784-256-256-10.
return network "bench_deep" {
  input  = 784,
  layers = { linear(256), relu(), linear(256), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd { lr = 0.01 },
}
