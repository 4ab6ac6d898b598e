-- test-isa: batch 1 (the flat-stream forward) with leaky_relu, tanh and sigmoid fused after
-- odd widths, and a sigmoid last before MSE; plain SGD, so train_step fuses the update.
return network "act_b1" {
  input  = 70,
  layers = { linear(33), tanh(), linear(17), leaky_relu{slope = 0.05}, linear(1), sigmoid() },
  loss   = "mse",
  batch  = 1,
  optimizer = sgd { lr = 0.05 },
}
