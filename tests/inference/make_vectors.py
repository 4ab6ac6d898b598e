#!/usr/bin/env python3
"""PyTorch vectors for the inference-only build (make inference-vectors; needs python3-torch).

Trains specs/mnist_mlp.lua's network (784-50-10, nn.Sequential of Linear, ReLU, Linear) in
PyTorch on the tiny data set's training split (make tiny-data: 600 images), briefly, so that
its validation accuracy is well short of 100% and many predictions are close calls, then
writes into tests/inference/vectors/mnist_mlp/:

  0.weight.npy 0.bias.npy 2.weight.npy 2.bias.npy   state_dict, float32, nn.Linear layout
  norm.npy          float32 [2]: mean, std of the training pixels (x / 255), torch's x.std()
  valid-x.npy       uint8 [200][784]: the validation images (the test divides by 255 and
                    normalises in float32 exactly as below)
  valid-y.npy       uint8 [200]: labels
  valid-logits.npy  float32 [200][10]: PyTorch's outputs
  valid-pred.npy    int32 [200]: PyTorch's argmax (first maximum)

usage: make_vectors.py TINY_DIR OUT_DIR
"""
import sys

import numpy as np
import torch
from torch import nn


def main():
    tiny, out = sys.argv[1], sys.argv[2]
    torch.manual_seed(10)
    torch.set_num_threads(1)
    tx = np.load(f"{tiny}/train-x.npy").reshape(-1, 784).astype(np.float32)
    ty = np.load(f"{tiny}/train-y.npy").astype(np.int64)
    vx = np.load(f"{tiny}/valid-x.npy").reshape(-1, 784).astype(np.float32)
    vy = np.load(f"{tiny}/valid-y.npy").astype(np.uint8)
    vu8 = np.rint(vx * 255.0).astype(np.uint8)
    assert np.array_equal(vu8.astype(np.float32) / np.float32(255.0), vx)

    t = torch.from_numpy(tx)
    mean, std = t.mean(), t.std()
    norm = torch.stack([mean, std])

    def prep(x):
        return (x - norm[0]) / norm[1]

    model = nn.Sequential(nn.Linear(784, 50), nn.ReLU(), nn.Linear(50, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.03)
    xs, ys = prep(t), torch.from_numpy(ty)
    for _ in range(1):
        perm = torch.randperm(len(xs))
        for i in range(0, len(xs), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xs[idx]), ys[idx])
            loss.backward()
            opt.step()

    with torch.no_grad():
        x = prep(torch.from_numpy(vu8.astype(np.float32)) / 255.0)
        logits = model(x)
    pred = logits.argmax(dim=1).numpy().astype(np.int32)
    top2 = torch.topk(logits, 2, dim=1).values
    margin = (top2[:, 0] - top2[:, 1]).min().item()
    acc = float((pred == vy).mean())
    for k, v in model.state_dict().items():
        np.save(f"{out}/{k}.npy", v.numpy().astype(np.float32))
    np.save(f"{out}/norm.npy", norm.numpy().astype(np.float32))
    np.save(f"{out}/valid-x.npy", vu8)
    np.save(f"{out}/valid-y.npy", vy)
    np.save(f"{out}/valid-logits.npy", logits.numpy().astype(np.float32))
    np.save(f"{out}/valid-pred.npy", pred)
    print(f"make_vectors: {out}: torch {torch.__version__}, validation accuracy {acc:.3f} "
          f"on {len(vy)} images, smallest top-2 logit margin {margin:.3g}")


if __name__ == "__main__":
    main()
