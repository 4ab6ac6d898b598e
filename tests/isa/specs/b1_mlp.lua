-- test-isa: the 784-50-10 classifier at batch 1 (the flat-stream B=1 forward of gen/tile.lua).
return network "b1_mlp" {
  input  = 784,
  layers = { linear(50), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 1,
  optimizer = sgd { lr = 0.05 },
}
