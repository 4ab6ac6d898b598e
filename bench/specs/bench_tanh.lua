-- make bench: bench_deep's 784-256-256-10 with tanh hidden units (the vector tanh of
-- gen/kernels/actmath.lua in every layer's epilogue), against PyTorch's nn.Tanh and the
-- naive and OpenBLAS baselines with libm's tanhf.
return network "bench_tanh" {
  input  = 784,
  layers = { linear(256), tanh(), linear(256), tanh(), linear(10) },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd { lr = 0.01 },
}
