"""PyTorch rows of `make bench`: the same workloads, one thread, median of repeated runs.

Prints raw rows `workload,impl,batch,us_per_op,gflops` (see harness.h); prints a '#' note and
exits 0 when torch is not importable, so the bench goes on without it.
Run with Debian's /usr/bin/python3 (python3-torch).
"""
import statistics
import sys
import time

try:
    import torch
except ImportError as e:  # the bench runs without PyTorch, with a note in the table
    print(f"# pytorch: skipped ({e}); install python3-torch (scripts/deps.sh --bench)")
    sys.exit(0)

LR = 0.01  # BENCH_LR in harness.h

# key, sizes, batch, train, mse, relu shift: the same table as bench_workloads in harness.c
WORKLOADS = [
    ("mlp_train", [784, 50, 10], 64, True, False, 0.0),
    ("mlp_infer", [784, 50, 10], 1, False, False, 0.0),
    ("mlp_fwd", [784, 50, 10], 128, False, False, 0.0),
    ("seed_train", [784, 50, 1], 64, True, True, -0.5),
    ("deep_train", [784, 256, 256, 10], 64, True, False, 0.0),
]


class ShiftedReLU(torch.nn.Module):
    def __init__(self, shift):
        super().__init__()
        self.shift = shift

    def forward(self, x):
        x = torch.relu(x)
        return x + self.shift if self.shift else x


def flops(sizes, batch, train):
    f = 0
    for l in range(len(sizes) - 1):
        p = 2 * batch * sizes[l] * sizes[l + 1]
        f += p
        if train:
            f += p + (p if l > 0 else 0)
    return f


def median_us(fn):
    t0 = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - t0 < 0.05:
        fn()
        calls += 1
    per = (time.perf_counter() - t0) / calls
    reps = max(1, int(0.0002 / per) + 1)
    samples = []
    start = time.perf_counter()
    while len(samples) < 101:
        a = time.perf_counter()
        for _ in range(reps):
            fn()
        samples.append((time.perf_counter() - a) / reps)
        if len(samples) >= 15 and time.perf_counter() - start > 0.5:
            break
    return statistics.median(samples) * 1e6


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    for key, sizes, batch, train, mse, shift in WORKLOADS:
        layers = []
        for l in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[l], sizes[l + 1]))
            if l + 2 < len(sizes):
                layers.append(ShiftedReLU(shift))
        model = torch.nn.Sequential(*layers)
        x = torch.rand(batch, sizes[0]) * 2 - 1
        if mse:
            y = torch.rand(batch) * 2 - 1
            loss_fn = lambda out: torch.nn.functional.mse_loss(out.squeeze(1), y)
        else:
            y = torch.tensor([(i * 7 + 3) % sizes[-1] for i in range(batch)])
            loss_fn = lambda out: torch.nn.functional.cross_entropy(out, y)
        opt = torch.optim.SGD(model.parameters(), lr=LR)

        if train:
            def step():
                opt.zero_grad()
                loss = loss_fn(model(x))
                loss.backward()
                opt.step()
        else:
            def step():
                with torch.no_grad():
                    model(x)
        us = median_us(step)
        print(f"{key},pytorch,{batch},{us:.4f},{flops(sizes, batch, train) / (us * 1e3):.3f}", flush=True)
    print(f"# pytorch {torch.__version__}: nn.Sequential + torch.optim.SGD, 1 thread; forward rows under torch.no_grad()")


main()
