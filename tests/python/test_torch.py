"""make test-python: `chainrule gen SPEC --python` against PyTorch.

For each network below: generate NAME.py + libNAME.so, build the same nn.Sequential in
PyTorch, copy torch's initial weights in through net.set (PyTorch names and layouts), and
check that the outputs agree, that 10 SGD steps on the same batches give the same losses
and the same parameters, that the buffers are 64-byte aligned, and that wrong arguments raise
ValueError naming them. Tolerance as everywhere in chainrule's tests (llm.c's): |got - want|
<= 1e-5 + 1e-4 * max|want| per tensor.

    python3 tests/python/test_torch.py CHAINRULE WORKDIR
"""
import importlib.util
import os
import subprocess
import sys

try:
    import numpy as np
    import torch
except ImportError as e:
    print("test-python: SKIP: %s (install python3-torch and python3-numpy: scripts/deps.sh --python)" % e)
    sys.exit(0)

CHAINRULE, WORK = sys.argv[1], sys.argv[2]
torch.set_num_threads(1)
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("test-python: FAIL: " + what)


def close(got, want, what):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    tol = 1e-5 + 1e-4 * float(np.max(np.abs(want)))
    err = float(np.max(np.abs(got - want)))
    check(got.shape == want.shape and err <= tol, "%s: max |diff| %.3g > tolerance %.3g" % (what, err, tol))
    return err


# name, spec text, the nn.Sequential, the ISA, momentum of the spec's SGD
CASES = [
    ("pyclf", """return network "pyclf" {
  input = 6, layers = { linear(8), relu(), linear(5), tanh(), linear(3) },
  loss = "cross_entropy", batch = 16, optimizer = sgd {lr = 0.1, momentum = 0.9},
}
""", lambda: torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 5), torch.nn.Tanh(),
                                 torch.nn.Linear(5, 3)), "native", 0.9),
    ("pycnn", """return network "pycnn" {
  input = {2, 6, 6}, layers = { conv2d(3, {kernel = 3, padding = 1}), relu(), maxpool2d{kernel = 2, stride = 2},
                                flatten(), linear(4) },
  loss = "cross_entropy", batch = 8, optimizer = sgd {lr = 0.05, momentum = 0.9},
}
""", lambda: torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2),
                                 torch.nn.Flatten(), torch.nn.Linear(27, 4)), "scalar", 0.9),
    # one input feature: "0.weight" is [7][1], not a bias-like (7,)
    ("pymse", """return network "pymse" {
  input = 1, layers = { linear(7), sigmoid(), linear(1) },
  loss = "mse", batch = 8, optimizer = sgd {lr = 0.05},
}
""", lambda: torch.nn.Sequential(torch.nn.Linear(1, 7), torch.nn.Sigmoid(), torch.nn.Linear(7, 1)), "scalar", 0.0),
]


def expect_value_error(f, words, what):
    try:
        f()
    except ValueError as e:
        check(all(w in str(e) for w in words), "%s: ValueError '%s' does not name %s" % (what, e, words))
        return
    check(False, "%s: no ValueError" % what)


for name, spec, make_model, isa, momentum in CASES:
    failed_before = len(failures)
    out = os.path.join(WORK, name)
    os.makedirs(out, exist_ok=True)
    spec_path = os.path.join(out, name + ".lua")
    with open(spec_path, "w") as f:
        f.write(spec)
    r = subprocess.run([CHAINRULE, "gen", spec_path, "--python", "--isa", isa, "--out", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        check(False, "%s: gen --python failed: %s" % (name, r.stderr.strip()))
        continue
    mod_spec = importlib.util.spec_from_file_location(name, os.path.join(out, name + ".py"))
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    net = mod.Net()
    for buf in ("_params", "_grads", "_work", "_opt"):
        check(getattr(net, buf).ctypes.data % 64 == 0, "%s: %s is not 64-byte aligned" % (name, buf))

    torch.manual_seed(1)
    model = make_model()
    sd = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    check(sorted(sd) == sorted(mod.TENSORS), "%s: tensor names %s, torch has %s" % (name, sorted(mod.TENSORS), sorted(sd)))
    net.load_state_dict(sd)
    for k, v in sd.items():
        # torch's state_dict shapes exactly (a conv weight [out][in][kh][kw], not flattened)
        check(net.get(k).shape == v.shape, "%s: get(%r) has shape %s, torch's is %s" % (name, k, net.get(k).shape, v.shape))
        check(np.array_equal(net.get(k), v), "%s: get(%r) is not what set() was given" % (name, k))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})   # strict: names and shapes

    rng = np.random.default_rng(3)
    first = next(iter(model.children()))

    def torch_in(n):   # our rows are flat; an image network's torch input is NCHW
        if isinstance(first, torch.nn.Conv2d):
            side = int(round((mod.IN // first.in_channels) ** 0.5))
            return (n, first.in_channels, side, side)
        return (n, mod.IN)
    classifier = mod.LOSS == "cross_entropy"

    def batch(n):
        x = rng.standard_normal((n, mod.IN)).astype(np.float32)
        if classifier:
            t = rng.integers(0, mod.OUT, n).astype(np.int32)
        else:
            t = rng.standard_normal(n).astype(np.float32)
        return x, t

    for n in (1, mod.BATCH // 2 + 1, mod.BATCH):
        x, _ = batch(n)
        with torch.no_grad():
            want = model(torch.from_numpy(x).reshape(torch_in(n))).numpy()
        close(net.forward(x), want, "%s: forward, n = %d" % (name, n))
        if classifier:
            check(np.array_equal(net.predict(x), net.forward(x).argmax(axis=1)), "%s: predict" % name)

    opt = torch.optim.SGD(model.parameters(), lr=net.lr, momentum=momentum)
    loss_fn = torch.nn.CrossEntropyLoss() if classifier else torch.nn.MSELoss()
    worst = 0.0
    for step in range(10):
        x, t = batch(mod.BATCH)
        opt.zero_grad()
        y = model(torch.from_numpy(x).reshape(torch_in(mod.BATCH)))
        loss = loss_fn(y, torch.from_numpy(t).long()) if classifier else loss_fn(y[:, 0], torch.from_numpy(t))
        loss.backward()
        opt.step()
        got = net.train_step(x, t)
        close(got, loss.item(), "%s: loss of step %d" % (name, step))
    for k, v in model.state_dict().items():
        got = net.get(k)
        worst = max(worst, close(got, v.numpy().reshape(got.shape), "%s: %s after 10 SGD steps" % (name, k)))
    print("test-python: %s (%s, %s): forward and 10 SGD steps %s PyTorch %s (largest |diff| of a parameter %.2g)"
          % (name, isa, mod.LOSS, "match" if len(failures) == failed_before else "DO NOT match", torch.__version__, worst))

    x, t = batch(2)
    expect_value_error(lambda: net.forward(x.astype(np.float64)), ["forward", "x", "float32"], name + " forward float64")
    expect_value_error(lambda: net.forward(x[:, :-1]), ["forward", "x", "shape"], name + " forward wrong width")
    expect_value_error(lambda: net.forward(np.zeros((mod.BATCH + 1, mod.IN), np.float32)), ["x", "n <= %d" % mod.BATCH],
                       name + " forward too many rows")
    expect_value_error(lambda: net.forward(list(x)), ["x", "ndarray"], name + " forward list")
    expect_value_error(lambda: net.train_step(x, t.astype(np.float64)), ["train_step", "t", "dtype"], name + " t dtype")
    expect_value_error(lambda: net.train_step(x, t[:1]), ["train_step", "t has 1 rows"], name + " t rows")
    expect_value_error(lambda: net.set("0.weight", np.zeros((2, 2), np.float32)), ["set", "0.weight", "shape"],
                       name + " set shape")
    expect_value_error(lambda: net.get("nope"), ["get", "nope"], name + " get unknown")
    if classifier:
        expect_value_error(lambda: net.train_step(x, np.array([0, mod.OUT], np.int32)), ["train_step", "t", "class"],
                           name + " t out of range")

if failures:
    print("test-python: %d failure(s)" % len(failures))
    sys.exit(1)
print("test-python: passed")
