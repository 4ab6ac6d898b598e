-- make bench: 784-2048-2048-10 at batch 64 (on by default; BENCH_BIG= leaves it out).
return network "bench_big" {
  input  = 784,
  layers = { linear(2048), relu(), linear(2048), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd { lr = 0.01 },
}
