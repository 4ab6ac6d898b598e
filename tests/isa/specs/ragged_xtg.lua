-- test-isa: avx2's packed weight gradient (gen/schedule.lua's xtg pack) of a 344-wide
-- layer, 43 tiles of 8: no block of whole tiles divides it, so the blocks of g are whole
-- tiles with a short last block. (A block of 43 columns, not a whole number of tiles, once
-- had the copy of g write past its stack buffer.)
return network "ragged_xtg" {
  input  = 96,
  layers = { linear(344), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd { lr = 0.05 },
}
