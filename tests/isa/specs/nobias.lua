-- test-isa: linear layers without a bias (bias = false; no b to start the sums from, no db):
-- linear -> batchnorm, the usual reason to drop it (the batchnorm's shift takes its place;
-- bn_drop could not put a linear with a bias there), then a linear with its bias between two
-- without, and momentum (the fused update, the bias-less tensors' order in NAME_tensors).
-- 601 inputs, so its tune files (tests/isa/tune/nobias.*.tune) can block the first forward's
-- reduction (kc 301 of 601: the second block starts from z's partial sums, the first from
-- zero); 74 outputs leave a column tail; 23 rows a row tail; `gen --compact` too (ISA_COMPACT).
return network "nobias" {
  input  = 601,
  layers = {
    linear(74, {bias = false}), batchnorm(), relu(),
    linear(33), tanh(),
    linear(10, {bias = false}),
  },
  loss   = "cross_entropy",
  batch  = 23,
  optimizer = sgd { lr = 0.05, momentum = 0.9 },
}
