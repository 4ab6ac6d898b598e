-- test-isa: leaky_relu, tanh and sigmoid on every ISA: fused after linears whose widths end
-- in partial vectors (50 = 48 + 2, 19, 23) and standalone (first layer, after another
-- activation); Adam, so train_step takes the unfused path.
return network "act_mix" {
  input  = 37,
  layers = { sigmoid(), linear(50), leaky_relu{slope = 0.2}, tanh(), linear(19), tanh(), leaky_relu(),
             linear(23), sigmoid(), linear(10) },
  loss   = "cross_entropy",
  batch  = 13,
  optimizer = adam { lr = 0.003 },
}
