-- test-isa: bias-less layers widening to the last (its widest tensor a weight's columns,
-- no bias [1][out] to cover them: test_isa's Adam envelopes once sized their buffers by
-- rows alone), Adam; the first layer's crafted overflow (tests/isa/isa_dump.c case (a))
-- through a tanh, whose derivative at a bias-less layer's zero sums is 1.
return network "nobias_stair" {
  input  = 3,
  layers = { linear(4, {bias = false}), tanh(), linear(12, {bias = false}) },
  loss   = "cross_entropy",
  batch  = 16,
  optimizer = adam { lr = 0.01 },
}
