-- test-isa: layers past the tiled kernels' block sizes (gen/schedule.lua's tiling), on
-- every ISA: 1024 outputs (a row stride of 4 KB: packed panels); 1024 and 523 inputs of
-- packed forwards (the reduction blocked, partial sums carried in z, with and without a
-- shorter last block); input gradients of 1024 and 523 outputs (the transposed block of
-- W narrower than N: sums carried in dx, f' applied after the last block); odd widths
-- (partial vectors). A small batch keeps it lean.
return network "wide_odd" {
  input  = 100,
  layers = { linear(1024), relu(), linear(523), tanh(), linear(200), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 5,
  optimizer = sgd { lr = 0.05 },
}
