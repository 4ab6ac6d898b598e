-- test-isa: the input gradient of a hidden layer in gwt's form "gt" by avx512's default
-- (gen/schedule.lua's GWT_GT_FEWER: batch x (K + N) = 32 x 220 floats transposed against
-- W's 120 x 100): 120 inputs and 100 outputs, neither a multiple of 16 (the columns and
-- inputs past the last whole transpose), the ReLU mask on dx; n = 17 and 1 leave rows of
-- zeros in the last slice. avx2 and neon keep the "wt" form here. Momentum, so the
-- update after the tiles reads the weight gradient that overwrote gt's scratch.
return network "gt_fewer" {
  input  = 50,
  layers = { linear(120), relu(), linear(100), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 32,
  optimizer = sgd { lr = 0.05, momentum = 0.9 },
}
