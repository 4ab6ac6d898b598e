-- test-isa: the spread prefetches (the tune key spread, tests/isa/tune/spread512.avx512.tune
-- and .avx2.tune, which also names avx2's packed panels; off by default, gen/schedule.lua's
-- XW_SPREAD): a layer whose W passes the
-- avx512 family's L2 (601 x 1024 floats, 2.4 MB) but is not huge (x not packed), at a batch
-- of at most SPREAD_TILES row tiles (21 rows: tiles of 8, 8 and a short one), so with the
-- key the row tiles after each filling one prefetch the next panel of W. 601 inputs: the
-- last k-block is short.
return network "spread512" {
  input  = 601,
  layers = { linear(1024), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 21,
  optimizer = sgd { lr = 0.05 },
}
