-- test-isa: batch 1 with odd widths (flat stream with a period of 8 rows x 15 vectors, a
-- leftover of 4 rows; a shifted ReLU; momentum, so train_step takes the unfused path).
return network "b1_odd" {
  input  = 300,
  layers = { linear(30), relu { shift = -0.5 }, linear(20) },
  loss   = "cross_entropy",
  batch  = 1,
  optimizer = sgd { lr = 0.05, momentum = 0.9 },
}
