-- make bench: 784-2048-2048-10 at batch 64 (BENCH_BIG=1: slow to compile).
return network "bench_big" {
  input  = 784,
  layers = { linear(2048), relu(), linear(2048), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd { lr = 0.01 },
}
