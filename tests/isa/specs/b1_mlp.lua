-- test-isa: the 784-50-10 classifier at batch 1 (gen/kernels/stream.lua: the flat stream on
-- avx512, and on avx2 in 3 passes over runs of 20 periods; the outputs in registers on neon).
return network "b1_mlp" {
  input  = 784,
  layers = { linear(50), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 1,
  optimizer = sgd { lr = 0.05 },
}
