-- test-isa: weight gradients of big layers through packed blocks of g (gen/schedule.lua's
-- xtg pack): 1024 outputs in several column blocks; a batch of 80, larger than the block
-- of rows, so the reduction over the rows is blocked (partial sums in dW, the fused update
-- after the last block; n = 41 and 1 leave a short last block or one block); 1024 inputs,
-- not a multiple of the tile's rows; momentum and the other hyperparameter sets of
-- isa_dump's fused check.
return network "big_xtg" {
  input  = 100,
  layers = { linear(1024), relu(), linear(48), tanh(), linear(10) },
  loss   = "cross_entropy",
  batch  = 80,
  optimizer = sgd { lr = 0.05, momentum = 0.9 },
}
