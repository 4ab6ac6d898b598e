-- test-isa: the avx2 forward of a packed layer whose x passes the L2 (gen/schedule.lua's
-- XW_DEPTH: 230 rows x 601 inputs, 553 KB): k-blocks outer, every column block's panel of a
-- slab of 284 inputs in turn (601 = 284 + 284 + 33, a short last slab), the partial sums in
-- z, the ReLU from the registers after the last slab; 74 outputs (blocks of 2, 2, 2, 2 and
-- 1 vectors, columns 72..73 as dot products), 230 rows (not a multiple of the tile's 6).
-- Its tune file (tests/isa/tune/xw_depth.avx2.tune) gives the column blocks outer (and the
-- second layer x packed, by a line with mc= alone), which
-- must give the same bits.
return network "xw_depth" {
  input  = 601,
  layers = { linear(74), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 230,
  optimizer = sgd { lr = 0.05, momentum = 0.9 },
}
