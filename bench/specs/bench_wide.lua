-- make bench: 784-1024-10 at batch 64 (a first layer wider than the L2 holds; train and forward rows).
return network "bench_wide" {
  input  = 784,
  layers = { linear(1024), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd { lr = 0.01 },
}
