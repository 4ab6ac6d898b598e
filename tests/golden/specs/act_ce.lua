-- leaky_relu, tanh and sigmoid against PyTorch (one forward/backward/step, tests/golden/make_golden.py):
-- tanh standalone as the first layer, leaky_relu and tanh fused after a linear, sigmoid
-- standalone after tanh; cross-entropy.
return network "act_ce" {
  input = 20,
  layers = { tanh(), linear(16), leaky_relu{slope = 0.1}, linear(12), tanh(), sigmoid(), linear(10) },
  loss = "cross_entropy",
  batch = 16,
  optimizer = sgd { lr = 0.1, momentum = 0.9 },
}
