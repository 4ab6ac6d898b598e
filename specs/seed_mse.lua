-- The seed network: 784 pixels -> 50 hidden units -> 1 output, regression on the digit
-- label (0..9) with mean squared error, as in the "forward and backward from scratch"
-- notes: simplified Kaiming init, relu shifted by -0.5, plain SGD.
return network "seed_mse" {
  input  = 784,
  layers = {
    linear(50, {init = "simple_kaiming", bias_init = "zeros"}),
    relu {shift = -0.5},
    linear(1, {init = "simple_kaiming", bias_init = "zeros"}),
  },
  loss   = "mse",
  batch  = 64,
  optimizer = sgd {lr = 0.01},
}
