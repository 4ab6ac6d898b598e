-- make bench: the seed's 784-50-1 regression net (ReLU shifted by -0.5, MSE loss).
return network "bench_seed" {
  input  = 784,
  layers = { linear(50), relu { shift = -0.5 }, linear(1) },
  loss   = "mse",
  batch  = 64,
  optimizer = sgd { lr = 0.01 },
}
