-- make bench: 784-256-10 at batch 1.
return network "bench_m256_1" {
  input  = 784,
  layers = { linear(256), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 1,
  optimizer = sgd { lr = 0.01 },
}
