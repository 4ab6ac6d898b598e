-- test-trainer: dropout under train --shards (tests/trainer/shards.sh): each shard draws its
-- masks from its own stream, so the bits depend on the shard count, not on the threads.
-- Small, so that ASan + UBSan runs stay quick.
return network "drop_mlp" {
  input  = 784,
  layers = {
    linear(24), relu(),
    dropout{p = 0.2},
    linear(10),
  },
  loss   = "cross_entropy",
  batch  = 32,
  optimizer = sgd { lr = 0.05, momentum = 0.9 },
}
