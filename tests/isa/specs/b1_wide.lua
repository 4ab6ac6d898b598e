-- test-isa: batch 1 past the registers (gen/kernels/stream.lua's rows stream: y updated 8
-- rows of W at a time): 5 inputs (one pass shorter than 8 rows), 460 and 131 outputs (partial
-- last vectors on every ISA), 460 inputs (57 passes + 4 rows), tanh (lane by lane) and a
-- shifted ReLU fused; then 10 outputs in registers (4 sets of accumulators on AVX2).
return network "b1_wide" {
  input  = 5,
  layers = { linear(460), tanh(), linear(131), relu { shift = -0.25 }, linear(10) },
  loss   = "cross_entropy",
  batch  = 1,
  optimizer = sgd { lr = 0.05 },
}
