-- test-isa: the folded weight-gradient tail (gen/kernels/tiled.lua's folded_tail: 50 = 48 +
-- 2 columns, 8 inputs x 2 columns in one vector per tile) with an optimizer of two states
-- (AdamW), whose weights and states the fused update moves with a vector gather and scatter
-- on avx512 (gen/schedule.lua's XTG_GATHER); specs/mnist_mlp.lua has it with momentum.
return network "fold_adam" {
  input  = 96,
  layers = { linear(50), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 24,
  optimizer = adamw { lr = 0.01, weight_decay = 0.01 },
}
