-- test-isa: batch >= 128 on avx512 (gen/schedule.lua's WHOLE_TILES: the unpacked xw and xtg of
-- the 64-wide layer take 4-vector tiles, since 3-vector blocks leave a 1-vector remainder),
-- 130 rows (not a multiple of the tiles' rows), and g larger than L1 (XTG_G_AHEAD: each
-- weight-gradient tile prefetches rows of g and x ahead, addresses past the end included);
-- momentum and weight decay (the update's state beside W).
return network "whole_b128" {
  input  = 37,
  layers = { linear(64), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 130,
  optimizer = sgd { lr = 0.05, momentum = 0.9, weight_decay = 0.01 },
}
