-- test-isa: packed weight gradients (gen/schedule.lua's xtg pack) of widths that are a whole
-- number of vectors but not of the default tiles, so the blocks of g end in a narrower tile
-- (XTG_RAGGED): 784x368 on avx512 (blocks of 96 columns, the last one 48 + 32), 368x104 on
-- avx2 (13 vectors of 8 in 16-wide tiles: one block of 6 tiles and an 8-wide one; with
-- ragged_xtg.avx2.tune, blocks of 32 and a last block of a single 8-wide tile). (avx2's
-- blocks of columns that were not a whole number of tiles once had the copy of g write past
-- its stack buffer.) neon runs both layers ragged through ragged_xtg.neon.tune.
return network "ragged_xtg" {
  input  = 784,
  layers = { linear(368), relu(), linear(104), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 32,
  optimizer = sgd { lr = 0.05 },
}
