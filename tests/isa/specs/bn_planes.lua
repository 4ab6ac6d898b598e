-- test-isa: batchnorm's lane sums (gen/kernels/norm.lua: 64 partial sums per channel) on
-- planes of exactly 64 pixels (main loop only), of 100 (a main block and a tail of 36) and of
-- 25 (tail only), in both loop orders (seq: memory order, where every channel's lanes fit
-- norm.SEQ_BYTES on SIMD ISAs; chan: channel by channel, the 130 channels here and every
-- batchnorm on the scalar ISA), and over flat features;
-- the activations after them fused into the batchnorm's step where their derivative reads
-- the output (relu, tanh, sigmoid: schedule.lua MAP_ACT; tanh and sigmoid on SIMD ISAs by a
-- vector pass over each plane or row, 100 pixels and 11 features: a partial last vector), a
-- shifted relu standalone. SGD with momentum.
return network "bn_planes" {
  input  = {2, 8, 8},
  layers = {
    conv2d(4, {kernel = 3, padding = 1, bias = false}),   -- 4x8x8: 64 pixels, seq
    batchnorm(), relu(),
    conv2d(130, {kernel = 3, padding = 2, bias = false}), -- 130x10x10: 100 pixels, chan
    batchnorm{momentum = 0.2}, tanh(),
    maxpool2d{kernel = 2},                                -- 130x5x5
    conv2d(6, {kernel = 3, padding = 1, bias = false}),   -- 6x5x5: 25 pixels, seq
    batchnorm(), relu{shift = -0.5},
    flatten(),
    linear(11), tanh(),
    batchnorm(), sigmoid(),
    linear(4),
  },
  loss   = "cross_entropy",
  batch  = 5,
  optimizer = sgd { lr = 0.05, momentum = 0.9 },
}
