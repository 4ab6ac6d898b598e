-- test-isa: 2x2 max pooling at stride 2 on narrow rows (gen/kernels/convtile.lua, pool_pairs_*:
-- avx512 blocks of 16 // OW whole pairs of rows, the last block masked; avx2 4 or 8 windows,
-- neon 4, where rows have 4 or more): 10 windows after a ReLU (one masked block, the derivative's
-- sign from x), 5 after a shifted ReLU (3 pairs a block, a rest of 2; the derivative from
-- m), 2 (8 pairs, rest 2) and 1 (16 pairs, rest 5) without an activation between.
return network "pool_narrow" {
  input  = {1, 20, 20},
  layers = {
    conv2d(3, {kernel = 3, padding = 1}), relu(),               -- 3x20x20
    maxpool2d{kernel = 2},                                      -- 3x10x10
    conv2d(4, {kernel = 3, padding = 1}), relu{shift = 0.25},   -- 4x10x10
    maxpool2d{kernel = 2},                                      -- 4x5x5
    conv2d(5, {kernel = 2}),                                    -- 5x4x4
    maxpool2d{kernel = 2},                                      -- 5x2x2
    maxpool2d{kernel = 2},                                      -- 5x1x1
    flatten(),
    linear(3),
  },
  loss   = "cross_entropy",
  batch  = 7,
  optimizer = adam { lr = 0.003 },
}
