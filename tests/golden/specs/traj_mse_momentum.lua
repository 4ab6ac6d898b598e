-- A small net for a 10-step PyTorch training trajectory (tests/golden/make_golden.py).
return network "traj_mse_momentum" {
  input = 12,
  layers = { linear(16), relu{shift = -0.5}, linear(7), relu(), linear(1) },
  loss = "mse",
  batch = 8,
  optimizer = sgd { lr = 0.02, momentum = 0.9 },
}
