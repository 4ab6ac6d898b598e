-- make bench: 784-256-10, the network of bench_m256_{1,8,32,256} (mk/bench.mk's BENCH_DERIVED:
-- gen --name bench_m256_B --batch B).
return network "bench_m256" {
  input  = 784,
  layers = { linear(256), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 256,
  optimizer = sgd { lr = 0.01 },
}
