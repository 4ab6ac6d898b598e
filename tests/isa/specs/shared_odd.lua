-- Compact code (gen --compact, ISA_COMPACT in mk/isa.mk) shares a tile function between
-- layers of one shape: the three 37 -> 37 layers call the same forward, input-gradient
-- and weight-gradient tiles (Adam fused) with their own pointers; odd batch and widths, so
-- full tiles, one-row tails and partial vectors all run.
return network "shared_odd" {
  input  = 100,
  layers = { linear(37), relu(), linear(37), relu(), linear(37), relu(), linear(37), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 13,
  optimizer = adam { lr = 0.003 },
}
