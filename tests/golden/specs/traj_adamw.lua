-- A small net for a 10-step PyTorch training trajectory (tests/golden/make_golden.py).
return network "traj_adamw" {
  input = 12,
  layers = { linear(16), relu{shift = -0.5}, linear(7), relu(), linear(5) },
  loss = "cross_entropy",
  batch = 8,
  optimizer = adamw { lr = 0.01, beta1 = 0.8, beta2 = 0.99, weight_decay = 0.1 },
}
