-- test-isa: batch 1 without biases (gen/kernels/stream.lua's streams with no b to start from or
-- to add last): 301x26 and 256x100 as flat streams (avx512, avx2), 256 wide in registers
-- (avx512) or by the rows stream (avx2, neon, sse2), 100x10 in registers.
return network "nobias_b1" {
  input  = 301,
  layers = {
    linear(26, {bias = false}), relu(),
    linear(256, {bias = false}), tanh(),
    linear(100, {bias = false}), sigmoid(),
    linear(10, {bias = false}),
  },
  loss   = "cross_entropy",
  batch  = 1,
  optimizer = sgd { lr = 0.05 },
}
