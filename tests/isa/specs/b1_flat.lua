-- test-isa: batch 1, the flat stream's passes (gen/kernels/stream.lua). 301x26: a period of 4
-- rows x 13 vectors on avx2 in 2 passes over runs of 39 periods and a leftover row (8 rows
-- and 5 leftover rows on avx512, sums in registers); 60x100: 2 rows x 25 vectors on avx2,
-- 3 passes over runs of 20 of its 30 periods, one broadcast per input (P = 2); 4 rows on
-- avx512 (splats).
return network "b1_flat" {
  input  = 301,
  layers = { linear(26), relu(), linear(60), tanh(), linear(100), sigmoid(), linear(10) },
  loss   = "cross_entropy",
  batch  = 1,
  optimizer = sgd { lr = 0.05 },
}
