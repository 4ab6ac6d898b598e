"""PyTorch rows of `make bench`: the same workloads, one thread, median of repeated runs.

The estimator is bench/harness.c's (after a warm-up, the median of up to BENCH_MAX_SAMPLES = 41
samples of about 0.2 ms, at least 9, stopping after about 150 ms); make bench runs this once
per pass and keeps the fastest pass, as for every program.

Reads the workloads from the file `bench workloads` writes; prints raw rows
`workload,pytorch-CORE,batch,us_per_op,gflops` (see harness.h), CORE being the OpenBLAS core
torch's BLAS runs (make bench runs this once per OPENBLAS_CORETYPE); prints a '#' note and
exits 0 when torch is not importable, so the bench goes on without it.
Run with Debian's /usr/bin/python3 (python3-torch).
"""
import os
import statistics
import sys
import tempfile
import time


def load_torch():
    """Imports torch and returns (torch, core, rejected): the OpenBLAS core its BLAS loaded
    with, and whether OpenBLAS rejected the OPENBLAS_CORETYPE name first.

    OpenBLAS picks its kernels when the library loads (OPENBLAS_CORETYPE, else its CPU
    detection) and says which with OPENBLAS_VERBOSE=2 on stderr: catch that line."""
    os.environ["OPENBLAS_VERBOSE"] = "2"
    saved = os.dup(2)
    with tempfile.TemporaryFile() as err:
        os.dup2(err.fileno(), 2)
        try:
            import torch
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        err.seek(0)
        text = err.read().decode(errors="replace")
    cores = [l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("Core:")]
    # "Core not found: X" (printed at OPENBLAS_VERBOSE=2): OpenBLAS did not take the name and
    # used its own detection; main() compares the core that ran with the one asked for and
    # turns the message into a note
    rejected = any(l.startswith("Core not found:") for l in text.splitlines())
    other = [l for l in text.splitlines() if l and not l.startswith(("Core:", "Core not found:"))]
    if other:
        sys.stderr.write("\n".join(other) + "\n")
    return torch, (cores[-1] if cores else None), rejected


try:
    torch, CORE, NAME_REJECTED = load_torch()
except ImportError as e:  # the bench runs without PyTorch, with a note in the table
    print(f"# pytorch: skipped ({e}); install python3-torch (scripts/deps.sh --bench)")
    sys.exit(0)

LR = 0.01  # BENCH_LR in harness.h


def read_workloads(path):
    """`bench workloads` lines: key batch train mse shift act sizes... (act 0: ReLU + shift, 1: tanh)"""
    out = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if p:
                out.append((p[0], [int(v) for v in p[6:]], int(p[1]), p[2] == "1", p[3] == "1", float(p[4]), int(p[5])))
    return out
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


def lenet():
    """specs/mnist_cnn.lua's network (bench/cnn.h): the lenet_* workloads."""
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def lenet_flops(batch, train):
    """bench_flops (harness.c) for the LeNet: products only, no input gradient of the first conv."""
    c1, c2 = 2 * batch * 6 * 28 * 28 * 25, 2 * batch * 16 * 10 * 10 * 150
    fc = 2 * batch * (400 * 120 + 120 * 84 + 84 * 10)
    return c1 + c2 + fc + (c1 + 2 * c2 + 2 * fc if train else 0)


def bncnn():
    """bench/specs/bench_bncnn.lua (specs/fashion_cnn.lua's network): the bncnn_* workloads."""
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.1), nn.Linear(1568, 128), nn.ReLU(), nn.Dropout(0.25),
                         nn.Linear(128, 10))


def bncnn_flops(batch, train):
    """bench_flops (harness.c, conv = 2): products only, no input gradient of the first conv."""
    c1, c2 = 2 * batch * 16 * 28 * 28 * 9, 2 * batch * 32 * 14 * 14 * 144
    fc = 2 * batch * (1568 * 128 + 128 * 10)
    return c1 + c2 + fc + (c1 + 2 * c2 + 2 * fc if train else 0)


MAX_SAMPLES, MIN_SAMPLES, PASS_S = 41, 9, 0.150  # BENCH_MAX_SAMPLES, _MIN_SAMPLES, _PASS_MS


def median_us(fn):
    t0 = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - t0 < 0.025:
        fn()
        calls += 1
    per = (time.perf_counter() - t0) / calls
    reps = max(1, int(0.0002 / per) + 1)
    samples = []
    start = time.perf_counter()
    while len(samples) < MAX_SAMPLES:
        a = time.perf_counter()
        for _ in range(reps):
            fn()
        samples.append((time.perf_counter() - a) / reps)
        least = 5 if per >= 0.020 else MIN_SAMPLES  # as harness.c: 5 for calls of 20 ms+
        if len(samples) >= least and time.perf_counter() - start > PASS_S:
            break
    return statistics.median(samples) * 1e6


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: torch_bench.py WORKLOADS  (the output of `bench workloads`)")
    want = os.environ.get("OPENBLAS_CORETYPE")
    if CORE is None:
        print("# pytorch: its BLAS reported no OpenBLAS core (OPENBLAS_VERBOSE=2); rows named pytorch-unknown")
    elif want and want.lower() != CORE.lower():
        print(f"# pytorch {want}: not selectable in this OpenBLAS (it ran {CORE} instead); skipped")
        return
    if want and NAME_REJECTED:
        print(f"# pytorch {want}: this OpenBLAS does not take the name (it prints 'Core not found'); its own "
              f"detection chose {CORE}, the core asked for, so the rows stand")
    impl = f"pytorch-{CORE or 'unknown'}"
    torch.set_num_threads(1)
    torch.manual_seed(0)
    for key, sizes, batch, train, mse, shift, act in read_workloads(sys.argv[1]):
        # the image workloads: (model, FLOPs) by key prefix, else an MLP of `sizes`
        conv = next((v for k, v in {"lenet": (lenet, lenet_flops), "bncnn": (bncnn, bncnn_flops)}.items()
                     if key.startswith(k)), None)
        layers = []
        for l in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[l], sizes[l + 1]))
            if l + 2 < len(sizes):
                layers.append(torch.nn.Tanh() if act == 1 else ShiftedReLU(shift))
        model = conv[0]() if conv else torch.nn.Sequential(*layers)
        x = torch.rand(batch, 1, 28, 28) * 2 - 1 if conv else torch.rand(batch, sizes[0]) * 2 - 1
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
        f = conv[1](batch, train) if conv else flops(sizes, batch, train)
        print(f"{key},{impl},{batch},{us:.4f},{f / (us * 1e3):.3f}", flush=True)
    print(f"# pytorch {torch.__version__}: nn.Sequential + torch.optim.SGD, 1 thread; forward rows under torch.no_grad()")


main()
