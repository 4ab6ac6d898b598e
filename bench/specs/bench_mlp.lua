-- make bench: the 784-50-10 classifier at batch 64; also bench_mlp1 and bench_mlp128 at batch
-- 1 and 128 (mk/bench.mk's BENCH_DERIVED: gen --name --batch).
return network "bench_mlp" {
  input  = 784,
  layers = { linear(50), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd { lr = 0.01 },
}
