-- test-isa: the avx2 weight gradient of a layer whose W and dW together pass the L2 but
-- which is not huge (gen/schedule.lua's XTG_ROWS_WHOLE): packed g in blocks of whole rows
-- (jc = N), dW prefetched and stored after the fused update (pf); 301 inputs, not a
-- multiple of the tile's rows; momentum (the update's state beside W). Its tune file
-- (tests/isa/tune/xtg_rows.avx2.tune) gives the earlier blocks of 128 columns without pf,
-- which must give the same bits.
return network "xtg_rows" {
  input  = 301,
  layers = { linear(512), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 24,
  optimizer = sgd { lr = 0.05, momentum = 0.9 },
}
