-- leaky_relu, tanh and sigmoid against PyTorch (one forward/backward/step, tests/golden/make_golden.py):
-- leaky_relu standalone as the first layer (inputs in [-1, 1)), sigmoid fused, tanh
-- standalone after it, leaky_relu() with torch's default slope 0.01 fused; MSE, Adam.
return network "act_mse" {
  input = 8,
  layers = { leaky_relu{slope = 0.2}, linear(9), sigmoid(), tanh(), linear(6), leaky_relu(), linear(1) },
  loss = "mse",
  batch = 8,
  optimizer = adam { lr = 0.01 },
}
