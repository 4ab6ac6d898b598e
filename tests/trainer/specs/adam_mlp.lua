-- test-mpi: Adam under train --distributed (tests/trainer/mpi.sh). Each rank steps only its
-- own floats, so the first and second moments of the others' floats are gathered before a
-- checkpoint; the mid-run checkpoint and a resume on another number of ranks must give the
-- single-process bytes.
return network "adam_mlp" {
  input  = 784,
  layers = { linear(40), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 32,
  optimizer = adam { lr = 0.003 },
}
