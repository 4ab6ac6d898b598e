-- The weight gradient from g's nonzeros (gen/kernels/tiled.lua xtg_sparse, avx512) behind
-- both ReLUs: layer 0 (160 inputs: a block of 7 vectors and a rest of 3; 48 outputs: three
-- whole groups of 16 columns; zen4's default there, test-isa's avx512-zen4 build) and layer 2
-- (48 inputs: the rest block alone; 20 outputs: a whole group and 4 columns), a batch of 40
-- (the lists gathered 16 + 16 + 8 rows, 16 + 5 at isa_dump's 21), Adam's two states through
-- the update. The untuned avx512 build (generic: the tiles) gives the reference's results;
-- tests/isa/tune/sparse_xtg.avx512.tune takes the form in both layers, the zen4 build in
-- layer 0: the same bits.
return network "sparse_xtg" {
  input  = 160,
  layers = { linear(48), relu(), linear(20), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 40,
  optimizer = adam { lr = 0.01 },
}
