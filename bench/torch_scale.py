"""make bench-scale's PyTorch rows: one Fashion-MNIST epoch of the same networks as
bench/specs/scale_mlp.lua (784-256-256-10, batch 256) and specs/fashion_mlp.lua (784-256-10,
batch 64), SGD with momentum, with torch.set_num_threads(1) and (2), alternating, the best
samples/s of ROUNDS rounds (steps only, as the trainer's "done:" line).

usage: torch_scale.py ROUNDS"""
import gzip
import os
import sys
import time

import numpy as np
import torch


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load():
    for d in ("data/fashion-mnist", "/usr/share/datasets/fashion-mnist"):
        p = os.path.join(d, "train-images-idx3-ubyte.gz")
        if os.path.exists(p):
            x = idx(p).reshape(-1, 784).astype(np.float32) / 255.0
            y = idx(os.path.join(d, "train-labels-idx1-ubyte.gz")).astype(np.int64)
            x = (x - x.mean()) / x.std()
            return torch.from_numpy(x), torch.from_numpy(y)
    sys.exit("torch_scale.py: no Fashion-MNIST in data/fashion-mnist or /usr/share/datasets")


def epoch_rate(sizes, batch, x, y):
    torch.manual_seed(1)
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    order = torch.randperm(x.shape[0])
    t0 = time.perf_counter()
    for b in range(0, x.shape[0], batch):
        i = order[b:b + batch]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[i]), y[i]).backward()
        opt.step()
    return x.shape[0] / (time.perf_counter() - t0)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    x, y = load()
    nets = {"big": ([784, 256, 256, 10], 256), "fmlp": ([784, 256, 10], 64)}
    best = {}
    for _ in range(rounds):
        for name, (sizes, batch) in nets.items():
            for t in (1, 2):
                torch.set_num_threads(t)
                r = epoch_rate(sizes, batch, x, y)
                best[(name, t)] = max(best.get((name, t), 0.0), r)
    print("pytorch %s, one Fashion-MNIST epoch                samples/s" % torch.__version__)
    for (name, t), r in best.items():
        print("  %-42s %12.0f" % ("torch_%s_t%d" % (name, t), r))
    for name in nets:
        print("pytorch %s: 2 threads / 1 thread: %.2fx" % (name, best[(name, 2)] / best[(name, 1)]))


main()
