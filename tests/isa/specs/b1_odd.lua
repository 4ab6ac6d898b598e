-- test-isa: batch 1 with odd widths (flat stream with a period of 8 rows x 15 vectors, a
-- leftover of 4 rows, on avx512; 4 rows x 15 vectors in 2 passes over runs of 34 periods,
-- the last run short, on avx2; a shifted ReLU; momentum, so train_step takes the unfused path).
return network "b1_odd" {
  input  = 300,
  layers = { linear(30), relu { shift = -0.5 }, linear(20) },
  loss   = "cross_entropy",
  batch  = 1,
  optimizer = sgd { lr = 0.05, momentum = 0.9 },
}
