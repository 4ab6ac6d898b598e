-- test-isa: the input gradient of a hidden layer in gwt's form "gt" by avx512's default
-- (gen/schedule.lua's GWT_GT_FEWER: batch x (K + N) = 32 x 290 floats transposed, under half
-- of W's 150 x 140): 150 inputs and 140 outputs, neither a multiple of 16 (the columns and
-- inputs past the last whole transpose), the ReLU mask on dx; n = 17 and 1 leave rows of
-- zeros in the last slice. avx2 and neon keep the "wt" form here. Momentum: the
-- weight gradient, written over gt's scratch (dW's memory), feeds the update's state.
return network "gt_fewer" {
  input  = 50,
  layers = { linear(150), relu(), linear(140), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 32,
  optimizer = sgd { lr = 0.05, momentum = 0.9 },
}
