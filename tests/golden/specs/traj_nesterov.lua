-- A small net for a 10-step PyTorch training trajectory (tests/golden/make_golden.py).
return network "traj_nesterov" {
  input = 12,
  layers = { linear(16), relu{shift = -0.5}, linear(7), relu(), linear(5) },
  loss = "cross_entropy",
  batch = 8,
  optimizer = sgd { lr = 0.05, momentum = 0.9, nesterov = true, weight_decay = 0.01 },
}
