-- test-isa: a huge layer on avx2 (W past HUGE_L2 x its 512 KB L2) at a batch that packs x
-- (gen/schedule.lua's mc) with the k-block of XW_X_L1 (kc 100 of 300: three blocks, the
-- partial sums carried in y); 40 rows = six tiles of 6 and one of 4; n = 17 and 1 leave
-- short row blocks. Momentum, so the fused update's state is checked too.
return network "huge_xw" {
  input  = 300,
  layers = { linear(1024), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 40,
  optimizer = sgd { lr = 0.05, momentum = 0.9 },
}
