-- A two-input classifier for the XOR quadrants: the smallest network that needs a
-- hidden layer. Used by examples/embed.c, which links the generated pair alone.
return network "xor" {
  input  = 2,
  layers = { linear(16, {init = "kaiming_normal", nonlinearity = "relu"}), relu(), linear(2) },
  loss   = "cross_entropy",
  batch  = 32,
  optimizer = adam { lr = 0.01 },
}
