-- make golden / test-golden: a 10-step training trajectory through batchnorm (1d, one
-- without affine) against PyTorch: the losses, the final parameters with running_mean,
-- running_var and num_batches_tracked, then the inference-mode output (model.eval()).
-- Smooth activations before the batchnorms: a relu unit alive in one row of 8 has a
-- batch variance near 0, and 1/sqrt(var + eps) turns rounding into different trajectories.
return network "traj_bn" {
  input  = 12,
  layers = {
    linear(16), tanh(),
    batchnorm(),
    linear(7), sigmoid(),
    batchnorm{affine = false, momentum = 0.5},
    linear(5),
  },
  loss   = "cross_entropy",
  batch  = 8,
  optimizer = adam { lr = 0.01 },
}
