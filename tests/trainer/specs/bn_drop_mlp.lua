-- test-trainer: batchnorm and dropout through the trainer (tests/trainer/run.sh): running
-- statistics in checkpoints and exports, the dropout stream per epoch (resume), eval in
-- inference mode, a linear without a bias (no 0.bias.npy). Small, for quick ASan + UBSan runs.
return network "bn_drop_mlp" {
  input  = 784,
  layers = {
    linear(24, {bias = false}), relu(),
    batchnorm(),
    dropout{p = 0.2},
    linear(10),
  },
  loss   = "cross_entropy",
  batch  = 32,
  optimizer = sgd { lr = 0.05, momentum = 0.9 },
}
