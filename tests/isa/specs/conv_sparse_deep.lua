-- test-isa: the sparse conv2d weight gradient (gen/kernels/convtile.lua sparse_wgrad) over
-- 16 input channels at kernel 5: 80 patch rows, in 3 passes over the nonzeros on avx512 (30
-- rows at most) and 6 on avx2 (14), each pass one set of accumulators; then kernel 3 (24
-- rows), sparse on avx2 and, with --cpu zen4 (mk/isa.mk ISA_CPU_ZEN4), on avx512.
return network "conv_sparse_deep" {
  input  = {16, 8, 8},
  layers = {
    conv2d(8, {kernel = 5, padding = 2}), relu(),   -- 8x8x8
    maxpool2d{kernel = 2, stride = 2},              -- 8x4x4
    conv2d(6, {kernel = 3, padding = 1}), relu(),   -- 6x4x4
    maxpool2d{kernel = 2, stride = 2},              -- 6x2x2
    flatten(),
    linear(3),
  },
  loss   = "cross_entropy",
  batch  = 2,
  optimizer = sgd { lr = 0.05 },
}
