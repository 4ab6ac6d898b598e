-- make bench (codegen rows only, never run): the issue's bound on generated code, 16 layers
-- deep with every width odd near 1000, an odd batch and Adam, so every product has a short
-- last reduction block, partial vectors and row tails: the largest code per layer we know of.
local layers = {}
for w = 1001, 1029, 2 do
  layers[#layers + 1] = linear(w)
  layers[#layers + 1] = relu()
end
layers[#layers + 1] = linear(10)
return network "size_deep" {
  input  = 784,
  layers = layers,
  loss   = "cross_entropy",
  batch  = 63,
  optimizer = adam { lr = 0.001 },
}
