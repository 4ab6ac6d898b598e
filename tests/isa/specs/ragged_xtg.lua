-- test-isa: packed weight gradients (gen/schedule.lua's xtg pack) of widths that are a whole
-- number of vectors but not of the default tiles, so the blocks of g end in a narrower tile
-- (XTG_RAGGED): 784x368 on avx512 (7 tiles of 48 and one of 32), 368x344 on avx2 (43
-- vectors of 8: 16-wide tiles, each block's columns as whole tiles, the last block ending in
-- one 8-wide tile). (avx2's block of 43 columns, not a whole number of tiles, once had the
-- copy of g write past its stack buffer.) neon runs both shapes through ragged_xtg.neon.tune.
return network "ragged_xtg" {
  input  = 784,
  layers = { linear(368), relu(), linear(344), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd { lr = 0.05 },
}
