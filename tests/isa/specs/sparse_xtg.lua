-- The weight gradient from g's nonzeros (gen/kernels/tiled.lua xtg_sparse, avx512) behind
-- both ReLUs: layer 0 (160 inputs: a block of 7 vectors and a rest of 3; 48 outputs: three
-- whole groups of 16 columns; the default there) and layer 2 (48 inputs: the rest block
-- alone; 20 outputs: a whole group and 4 columns; by the tune file), a batch of 40 (the lists
-- gathered 16 + 16 + 8 rows, 16 + 5 at isa_dump's 21), Adam's two states through the update.
-- tests/isa/tune/sparse_xtg.avx512.tune swaps the two layers' forms: the same bits.
return network "sparse_xtg" {
  input  = 160,
  layers = { linear(48), relu(), linear(20), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 40,
  optimizer = adam { lr = 0.01 },
}
