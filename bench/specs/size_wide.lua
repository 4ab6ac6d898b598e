-- make bench (codegen rows only, never run): the issue's bound on generated code at 4096
-- wide, both ways, with an odd width (partial vectors) and momentum fused into the tiles.
return network "size_wide" {
  input  = 4096,
  layers = { linear(4096), relu(), linear(4095), tanh(), linear(10) },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd { lr = 0.01, momentum = 0.9 },
}
