-- The weight gradient from g's nonzeros (gen/kernels/tiled.lua xtg_sparse, avx512) behind
-- both ReLUs: layer 0 (160 inputs: a block of 7 vectors and a rest of 3; 48 outputs: three
-- whole groups of 16 columns) and layer 2 (48 inputs: the rest block alone; 20 outputs: a
-- whole group and 4 columns), a batch of 20 (the lists gathered 16 rows and 4), Adam's two
-- states through the update. tests/isa/tune/sparse_xtg.avx512.tune builds it with the tiles
-- (sparse=no), which must give the same bits.
return network "sparse_xtg" {
  input  = 160,
  layers = { linear(48), relu(), linear(20), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 20,
  optimizer = adam { lr = 0.01 },
}
