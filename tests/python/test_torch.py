"""make test-python: `chainrule gen SPEC --python` against PyTorch.

For each network below: generate NAME.py + libNAME.so, build the same nn.Sequential in
PyTorch, copy torch's initial weights in through net.set (PyTorch names and layouts), and
check that the outputs agree, that 10 SGD steps on the same batches give the same losses
and the same parameters, that the buffers are 64-byte aligned, and that wrong arguments raise
ValueError naming them; load_state_dict's checks before it writes, reset_optimizer,
optimizer_state/load_optimizer_state, and init's
draws against torch.nn.init's (a network of its own). A network with batchnorm and dropout also checks forward_train, seed
and train()/eval() against torch's training mode, torch's dropout driven by the masks that an
independent PCG32 (written here from the PCG paper, checked against its demo's output) draws. Tolerance as everywhere in chainrule's tests (llm.c's): |got - want|
<= 1e-5 + 1e-4 * max|want| per tensor.

    python3 tests/python/test_torch.py CHAINRULE WORKDIR [BUILD]   (BUILD: libcr.a, libcrtrain.a; CC)
"""
import copy
import importlib.util
import os
import platform
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


M64 = (1 << 64) - 1


class Pcg32:
    """PCG-XSH-RR 64/32 with pcg32_srandom_r's seeding: the generator the dropout masks use."""

    def __init__(self, seed, stream):
        self.inc = ((stream << 1) | 1) & M64
        self.state = 0
        self._step()
        self.state = (self.state + seed) & M64
        self._step()

    def _step(self):
        self.state = (self.state * 6364136223846793005 + self.inc) & M64

    def u32(self):
        old = self.state
        self._step()
        xs = ((((old >> 18) ^ old) >> 27)) & 0xFFFFFFFF
        rot = old >> 59
        return ((xs >> rot) | (xs << ((32 - rot) & 31))) & 0xFFFFFFFF

    def uniform(self, count):
        """count draws as float32: the top 24 bits / 2**24 (exact in float32)."""
        return np.array([(self.u32() >> 8) for _ in range(count)], dtype=np.float64).astype(np.float32) / np.float32(2 ** 24)


# the pcg32-demo's first outputs for seed 42, stream 54 (pcg-random.org's reference program)
_demo = Pcg32(42, 54)
assert [_demo.u32() for _ in range(3)] == [0xa15c02b7, 0x7b47f409, 0xba1d3330], "the test's own PCG32 is wrong"


class MaskDropout(torch.nn.Module):
    """nn.Dropout(p) whose masks are drawn by gen (a Pcg32, replaced by the test): one draw per
    element, row after row; kept when u >= p (as float32), scaled by float(1 / (1 - p))."""

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.gen = None

    def forward(self, x):
        if not self.training:
            return x
        u = self.gen.uniform(x.numel()).reshape(tuple(x.shape))
        keep = (u >= np.float32(self.p)).astype(np.float32) * np.float32(1.0 / (1.0 - self.p))
        return x * torch.from_numpy(keep)


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
    # training and inference modes: batchnorm 2d and 1d, dropout after each
    ("pybn", """return network "pybn" {
  input = {2, 6, 6}, layers = { conv2d(3, {kernel = 3, padding = 1, bias = false}), batchnorm(), relu(),
                                dropout{p = 0.25}, maxpool2d{kernel = 2, stride = 2}, flatten(),
                                linear(6), batchnorm{momentum = 0.3, eps = 1e-3}, tanh(), dropout{p = 0.5},
                                linear(4) },
  loss = "cross_entropy", batch = 8, optimizer = sgd {lr = 0.05, momentum = 0.9},
}
""", lambda: torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1, bias=False), torch.nn.BatchNorm2d(3),
                                 torch.nn.ReLU(), MaskDropout(0.25), torch.nn.MaxPool2d(2, 2), torch.nn.Flatten(),
                                 torch.nn.Linear(27, 6), torch.nn.BatchNorm1d(6, eps=1e-3, momentum=0.3),
                                 torch.nn.Tanh(), MaskDropout(0.5), torch.nn.Linear(6, 4)), "native", 0.9),
    # linear layers without a bias (nn.Linear(bias=False)), one before a batchnorm
    ("pynb", """return network "pynb" {
  input = 10, layers = { linear(12, {bias = false}), batchnorm(), relu(), linear(4, {bias = false}) },
  loss = "cross_entropy", batch = 16, optimizer = sgd {lr = 0.05, momentum = 0.9},
}
""", lambda: torch.nn.Sequential(torch.nn.Linear(10, 12, bias=False), torch.nn.BatchNorm1d(12), torch.nn.ReLU(),
                                 torch.nn.Linear(12, 4, bias=False)), "native", 0.9),
    # gen --python --dispatch x86 (on x86): libpyd.so holds every variant; each forced path against torch
    ("pyd", """return network "pyd" {
  input = 20, layers = { linear(24), relu(), linear(5) },
  loss = "cross_entropy", batch = 16, optimizer = sgd {lr = 0.1, momentum = 0.9},
}
""", lambda: torch.nn.Sequential(torch.nn.Linear(20, 24), torch.nn.ReLU(), torch.nn.Linear(24, 5)), "dispatch", 0.9),
]
if platform.machine() not in ("x86_64", "AMD64", "i686", "i386"):
    CASES = [c for c in CASES if c[3] != "dispatch"]


def seed_masks(model, seed, stream):
    """Every MaskDropout of model draws from one new Pcg32(seed, stream), as the generated
    code's layers share the generator in NAME_work."""
    gen = Pcg32(seed, stream)
    for m in model.modules():
        if isinstance(m, MaskDropout):
            m.gen = gen


def away_from_defaults(model):
    """Batchnorm's weight, bias and running statistics away from 1, 0, 0, 1, 0, so that the
    inference mode's use of them (or a swapped tensor) shows."""
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.weight.copy_(1 + torch.rand(m.weight.shape, generator=g) * 0.4 - 0.2)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.3)
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.num_batches_tracked.fill_(3)


def expect_value_error(f, words, what):
    try:
        f()
    except ValueError as e:
        check(all(w in str(e) for w in words), "%s: ValueError '%s' does not name %s" % (what, e, words))
        return
    check(False, "%s: no ValueError" % what)


def check_dispatch(name, net, model, batch):
    """gen --python --dispatch: net.isa() names a variant; each one this CPU runs, forced with
    use_isa, gives PyTorch's outputs; use_isa refuses one that was not generated."""
    best = net.isa()
    check(best in ("avx512", "avx2", "sse2", "scalar"), "%s: isa() is %r" % (name, best))
    ran = []
    for isa in ("avx512", "avx2", "sse2", "scalar"):
        try:
            net.use_isa(isa)
        except ValueError:
            check(isa not in ("sse2", "scalar"), "%s: use_isa(%r) refused on x86" % (name, isa))
            continue
        check(net.isa() == isa, "%s: after use_isa(%r) isa() is %r" % (name, isa, net.isa()))
        x, _ = batch(5)
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()
        close(net.forward(x), want, "%s: forward through %s" % (name, isa))
        ran.append(isa)
    expect_value_error(lambda: net.use_isa("neon"), ["use_isa", "neon"], name + " use_isa neon")
    net.use_isa(best)
    print("test-python: %s: dispatch picked %s; forward through %s checked against PyTorch" % (name, best, ", ".join(ran)))


def check_modes(name, mod, net, model, batch, torch_in):
    """forward_train, seed, train() and eval() against torch (without MODES: forward_train is
    forward, seed only checks its arguments). Leaves net and model with the same state."""
    x, _ = batch(mod.BATCH)
    before = net.state_dict()
    net.forward(x)
    check(all(np.array_equal(net.get(k), v) for k, v in before.items()), "%s: forward (eval) changed a tensor" % name)
    if not mod.MODES:
        check(mod.TRAIN_MIN_ROWS == 1, "%s: TRAIN_MIN_ROWS %d without batchnorm" % (name, mod.TRAIN_MIN_ROWS))
        check(np.array_equal(net.forward_train(x[:1]), net.forward(x[:1])), "%s: forward_train of 1 row" % name)
        check(np.array_equal(net.forward_train(x), net.forward(x)), "%s: forward_train differs from forward" % name)
        check(net.train() is net and net.training and np.array_equal(net.forward(x), net.forward_train(x)),
              "%s: train() forward" % name)
        net.eval()
        net.seed(1, 2)
        return
    model.train()
    # the generator a new Net starts with is seed(0, 0); then seeds chosen here
    for n, seeding in ((mod.BATCH, None), (2, (5, 2)), (mod.BATCH // 2 + 1, (2 ** 64 - 1, 2 ** 63 + 11))):
        x, _ = batch(n)
        if seeding:
            net.seed(*seeding)
        seed_masks(model, *(seeding or (0, 0)))
        with torch.no_grad():
            want = model(torch.from_numpy(x).reshape(torch_in(n))).numpy()
        close(net.forward_train(x), want, "%s: forward_train, n = %d, seed %s" % (name, n, seeding or "(0, 0) from Net()"))
        for k, v in model.state_dict().items():
            if "running" in k or "num_batches" in k:
                close(net.get(k), v.numpy(), "%s: %s after forward_train, n = %d" % (name, k, n))
    # train(): forward and predict run the training mode; the same seed draws the same masks
    x, _ = batch(mod.BATCH)
    check(net.train() is net and net.training, "%s: train() does not return the net in training mode" % name)
    net.seed(11, 4)
    a = net.forward(x)
    net.seed(11, 4)
    b = net.forward_train(x)
    check(np.array_equal(a, b), "%s: forward after train() is not forward_train (same seed)" % name)
    if any(isinstance(m, MaskDropout) for m in model.children()):
        net.seed(11, 5)
        check(not np.array_equal(net.forward_train(x), b), "%s: another stream drew the same masks" % name)
    check(net.eval() is net and not net.training, "%s: eval() does not return the net in eval mode" % name)
    # the three training forwards above moved net's running statistics: torch takes them over
    model.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
    model.eval()
    with torch.no_grad():
        want = model(torch.from_numpy(x).reshape(torch_in(mod.BATCH))).numpy()
    close(net.forward(x), want, "%s: forward after eval()" % name)
    # one row through a batchnorm over features: torch raises, and so does the wrapper, before
    # anything changes
    check(mod.TRAIN_MIN_ROWS == 2, "%s: TRAIN_MIN_ROWS %d, expected 2 (batchnorm 1d)" % (name, mod.TRAIN_MIN_ROWS))
    x1, t1 = batch(1)
    probe = copy.deepcopy(model).train()   # the batchnorm 2d before it would move its statistics
    try:
        probe(torch.from_numpy(x1).reshape(torch_in(1)))
        check(False, "%s: torch took one row in training mode" % name)
    except ValueError as e:
        check("more than 1 value per channel" in str(e), "%s: torch's error is '%s'" % (name, e))
    before = net.state_dict()
    bn1d = [i for i, m in enumerate(model.children()) if isinstance(m, torch.nn.BatchNorm1d)][0]
    words = ["x has 1 row", "layer %d (batchnorm)" % bn1d, "at least 2 rows"]
    expect_value_error(lambda: net.forward_train(x1), ["forward_train"] + words, name + " forward_train 1 row")
    expect_value_error(lambda: net.train_step(x1, t1), ["train_step"] + words, name + " train_step 1 row")
    net.train()
    expect_value_error(lambda: net.forward(x1), ["forward_train"] + words, name + " train() forward 1 row")
    net.eval()
    check(all(np.array_equal(net.get(k), v) for k, v in before.items()), "%s: a refused call changed a tensor" % name)
    check(net.forward(x1).shape == (1, mod.OUT), "%s: eval forward of 1 row" % name)
    expect_value_error(lambda: net.seed(-1), ["seed", "seed", "2**64"], name + " seed negative")
    expect_value_error(lambda: net.seed(1, 2 ** 64), ["seed", "stream"], name + " stream too large")
    expect_value_error(lambda: net.seed(1.5), ["seed", "integer"], name + " seed float")
    expect_value_error(lambda: net.train(1), ["train", "bool"], name + " train(1)")
    expect_value_error(lambda: net.forward_train(x.astype(np.float64)), ["forward_train", "x", "float32"],
                       name + " forward_train float64")
    print("test-python: %s: forward_train (3 seeds, running statistics), train()/eval(), seed checked against PyTorch"
          % name)


def check_state(name, mod, net, batch, stateful):
    """load_state_dict: strict names, every value checked before any is written; strict=False
    sets the named ones; reset_optimizer: a trained Net loaded with a fresh one's weights and
    reset trains as the fresh one does, bit for bit; optimizer_state (stateful: SGD with momentum)
    carries the rest of a run."""
    snap = net.state_dict()
    keys = list(mod.TENSORS)
    bad = {k: np.zeros_like(v) for k, v in snap.items()}
    bad[keys[-1]] = np.zeros((2, 3, 5), np.float32)
    expect_value_error(lambda: net.load_state_dict(bad), ["load_state_dict", keys[-1], "shape"], name + " load bad shape")
    check(all(np.array_equal(net.get(k), v) for k, v in snap.items()),
          "%s: a refused load_state_dict wrote a tensor" % name)
    expect_value_error(lambda: net.load_state_dict(dict(snap, junk=np.zeros(1, np.float32))), ["unexpected", "junk"],
                       name + " load unexpected key")
    partial = {k: v for k, v in snap.items() if k != keys[0]}
    expect_value_error(lambda: net.load_state_dict(partial), ["missing", keys[0]], name + " load missing key")
    check(all(np.array_equal(net.get(k), v) for k, v in snap.items()),
          "%s: a refused load_state_dict wrote a tensor" % name)
    net.load_state_dict({keys[0]: np.zeros_like(snap[keys[0]])}, strict=False)
    check(not net.get(keys[0]).any() and all(np.array_equal(net.get(k), snap[k]) for k in keys[1:]),
          "%s: load_state_dict(strict=False) of one tensor" % name)
    fresh = mod.Net()
    fresh.load_state_dict(snap)
    net.load_state_dict(snap)
    net.lr = net.lr * 3
    net.reset_optimizer()
    check(net.lr == fresh.lr, "%s: reset_optimizer kept lr %g (the spec's is %g)" % (name, net.lr, fresh.lr))
    fresh.seed(5, 1)
    net.seed(5, 1)
    for _ in range(3):
        x, t = batch(mod.BATCH)
        check(fresh.train_step(x, t) == net.train_step(x, t), "%s: reset_optimizer: another loss" % name)
    check(all(np.array_equal(net.get(k), fresh.get(k)) for k in keys),
          "%s: after reset_optimizer 3 steps differ from a fresh Net's" % name)
    # optimizer_state: net and fresh, 3 steps in, are the same; a third Net given net's weights and
    # optimizer state trains on as they do, bit for bit; with only the weights it may not
    state = net.optimizer_state()
    check(state.dtype == np.uint8 and state.shape == (mod.OPT_BYTES,), "%s: optimizer_state's type" % name)
    other, weights_only = mod.Net(), mod.Net()
    for n in (other, weights_only):
        n.load_state_dict(net.state_dict())
    expect_value_error(lambda: other.load_optimizer_state(state[:-1]), ["load_optimizer_state", "uint8", "shape"],
                       name + " optimizer state short")
    expect_value_error(lambda: other.load_optimizer_state(state.view(np.float32)), ["load_optimizer_state", "uint8"],
                       name + " optimizer state float32")
    nan_lr = state.copy()
    nan_lr[:4].view(np.float32)[0] = np.nan
    expect_value_error(lambda: other.load_optimizer_state(nan_lr), ["load_optimizer_state", "lr"], name + " optimizer lr nan")
    check(np.array_equal(other.optimizer_state(), mod.Net().optimizer_state()),
          "%s: a refused load_optimizer_state wrote" % name)
    other.load_optimizer_state(state)
    state[:] = 0   # a copy: the Net keeps its own
    check(other.lr == net.lr, "%s: load_optimizer_state: lr %g, want %g" % (name, other.lr, net.lr))
    for n in (net, other, weights_only):
        n.seed(9, 3)
    same_as_weights_only = True
    for _ in range(3):
        x, t = batch(mod.BATCH)
        losses = [n.train_step(x, t) for n in (net, other, weights_only)]
        check(losses[0] == losses[1], "%s: after load_optimizer_state another loss" % name)
        same_as_weights_only &= losses[0] == losses[2]
    check(all(np.array_equal(net.get(k), other.get(k)) for k in keys),
          "%s: after load_optimizer_state 3 steps differ from the Net it came from" % name)
    check(not stateful or not same_as_weights_only
          or not all(np.array_equal(net.get(k), weights_only.get(k)) for k in keys),
          "%s: the optimizer state (%d bytes) made no difference" % (name, mod.OPT_BYTES))
    print("test-python: %s: optimizer_state/load_optimizer_state (%s), 3 steps bit for bit" %
          (name, "momentum buffers" if stateful else "no momentum"))


INIT_SPEC = """return network "pyinit" {
  input = {3, 10, 10},
  layers = { conv2d(16, {kernel = 3, init = "kaiming_uniform", mode = "fan_out", nonlinearity = "leaky_relu", a = 0.2}),
             batchnorm(), relu(), flatten(),
             linear(64, {init = "xavier_normal", nonlinearity = "tanh", bias_init = "zeros"}), tanh(),
             linear(10) },
  loss = "cross_entropy", batch = 4, optimizer = sgd {lr = 0.1},
}
"""


def torch_init(key, shape):
    """The tensor key of INIT_SPEC drawn by torch.nn.init (its own fans from torch's shape)."""
    w = torch.empty(shape)
    if key == "0.weight":
        torch.nn.init.kaiming_uniform_(w, a=0.2, mode="fan_out", nonlinearity="leaky_relu")
    elif key == "4.weight":
        torch.nn.init.xavier_normal_(w, gain=torch.nn.init.calculate_gain("tanh"))
    elif key in ("0.bias", "6.weight", "6.bias"):   # nn.Conv2d's and nn.Linear's reset_parameters
        m = torch.nn.Conv2d(3, 16, 3) if key == "0.bias" else torch.nn.Linear(64, 10)
        w.copy_(getattr(m, key.split(".")[1]).detach())
    return w


def check_init():
    """Net.init draws each tensor as the spec says: its std within 4 standard errors of
    torch.nn.init's (40 draws of the same shape), a uniform scheme within torch's bound, batchnorm's
    ones and zeros exact; the same seed the same tensors, another seed others."""
    out = os.path.join(WORK, "pyinit")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "pyinit.lua")
    with open(path, "w") as f:
        f.write(INIT_SPEC)
    r = subprocess.run([CHAINRULE, "gen", path, "--python", "--isa", "scalar", "--out", out], capture_output=True, text=True)
    if r.returncode != 0:
        check(False, "pyinit: gen --python failed: %s" % r.stderr.strip())
        return
    s = importlib.util.spec_from_file_location("pyinit", os.path.join(out, "pyinit.py"))
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    net = mod.Net()
    check(not any(net.get(k).any() for k in mod.TENSORS), "pyinit: a new Net's parameters are not zero")
    check(net.init(seed=4) is net, "pyinit: init does not return the net")
    a = net.state_dict()
    check(all(np.array_equal(a[k], mod.Net().init(4).get(k)) for k in a), "pyinit: init(4) twice gave other tensors")
    check(not np.array_equal(a["0.weight"], mod.Net().init(5).get("0.weight")), "pyinit: init(5) gave init(4)'s weights")
    exact = {"1.weight": 1.0, "1.bias": 0.0, "1.running_mean": 0.0, "1.running_var": 1.0, "1.num_batches_tracked": 0.0,
             "4.bias": 0.0}
    torch.manual_seed(2)
    for key, v in a.items():
        if key in exact:
            check(np.all(v == exact[key]), "pyinit: %s is not all %g" % (key, exact[key]))
            continue
        ref = torch.stack([torch_init(key, v.shape) for _ in range(40)]).numpy()
        se = 4 / (2 * v.size) ** 0.5
        check(abs(float(v.std()) / float(ref.std()) - 1) <= se,
              "pyinit: %s std %.4g, torch.nn.init's %.4g (tolerance %.1f %%)" % (key, v.std(), ref.std(), 100 * se))
        if key != "4.weight":   # the uniform ones: inside torch's bound
            check(float(np.abs(v).max()) <= float(np.abs(ref).max()) * 1.01,
                  "pyinit: %s reaches %.4g, torch's bound is about %.4g" % (key, np.abs(v).max(), np.abs(ref).max()))
    expect_value_error(lambda: net.init(-1), ["init", "seed"], "pyinit init(-1)")
    expect_value_error(lambda: net.init(2 ** 64), ["init", "seed"], "pyinit init(2**64)")
    expect_value_error(lambda: net.init(1, scheme="bogus"), ["init", "0.weight", "unknown scheme 'bogus'", "kaiming_normal"],
                       "pyinit init scheme bogus")
    expect_value_error(lambda: net.init(1, scheme=np.array(["zeros"])), ["init", "scheme", "str"], "pyinit init scheme array")
    # (the arguments are checked, and an unknown scheme refused at the first weight, tensor 0, before
    # anything is drawn; init also draws into a copy, which no valid spec can fail halfway through)
    check(all(np.array_equal(a[k], net.get(k)) for k in a), "pyinit: a refused init changed the parameters")
    check(np.all(mod.Net().init(1, scheme="zeros").get("4.weight") == 0), "pyinit: init(scheme='zeros') left 4.weight")
    # the first tensor's numbers from the test's own PCG32: stream CR_STREAM_INIT = 1, kaiming_uniform's bound
    # as runtime/cr_init.c computes it (the gain a float, the rest in double, the bound then a float), each
    # element bound * (2u - 1) in float32, in the order of the parameter buffer (the C layout)
    index, _, offset, rows, cols = mod.TENSORS["0.weight"]
    raw = net._params.view(np.float32)[offset:offset + rows * cols]
    slope = float(np.float32(0.2))
    gain = float(np.float32((2.0 / (1.0 + slope * slope)) ** 0.5))
    bound = np.float32((3.0 ** 0.5) * (gain / 144.0 ** 0.5))   # fan_out = 16 channels x 3 x 3
    want = bound * (np.float32(2) * Pcg32(4, 1).uniform(rows * cols) - np.float32(1))
    check(np.array_equal(raw, want), "pyinit: 0.weight is not PCG32 (4, stream 1)'s kaiming_uniform draws bit for bit")
    check_init_trainer(mod, out, path, a)
    print("test-python: pyinit: init(seed) draws kaiming_uniform fan_out, xavier_normal, nn.Conv2d's and nn.Linear's"
          " defaults and batchnorm's constants as torch.nn.init does (std, bound); seeds repeat; the first tensor"
          " is the test's own PCG32 draws bit for bit")


def check_init_trainer(mod, out, path, a):
    """init(seed[, scheme]) against the trainer's `train --seed SEED [--init SCHEME] --epochs 0` checkpoint,
    exported: the same bits (a scalar trainer linked with the runtime and trainer libraries of BUILD)."""
    if len(sys.argv) < 4:
        print("test-python: pyinit: no BUILD directory given: init not compared with the trainer")
        return
    build = sys.argv[3]
    cc = os.environ.get("CC") or "cc"
    cli = os.path.join(out, "cli")
    os.makedirs(cli, exist_ok=True)
    r = subprocess.run([CHAINRULE, "gen", path, "--cli", "--isa", "scalar", "--out", cli], capture_output=True, text=True)
    if r.returncode == 0:
        r = subprocess.run(cc.split() + ["-std=c11", "-O2", "-Iruntime", "-Itrainer", "-I" + cli, "-o",
                                         os.path.join(cli, "pyinit_cli"), os.path.join(cli, "pyinit_cli.c"),
                                         os.path.join(cli, "pyinit.c"), os.path.join(build, "libcrtrain.a"),
                                         os.path.join(build, "libcr.a"), "-lz", "-lm", "-pthread"],
                           capture_output=True, text=True)
    if r.returncode != 0:
        check(False, "pyinit: the trainer did not build: %s" % r.stderr.strip()[:300])
        return
    rng = np.random.default_rng(0)
    data = {}
    for part, n in (("train", 8), ("valid", 4)):
        data[part] = (os.path.join(cli, part + "-x.npy"), os.path.join(cli, part + "-y.npy"))
        np.save(data[part][0], rng.standard_normal((n, 3, 10, 10)).astype(np.float32))
        np.save(data[part][1], rng.integers(0, 10, n).astype(np.uint8))
    for seed, scheme, net in ((4, None, None), (7, "xavier_uniform", mod.Net().init(7, scheme="xavier_uniform"))):
        ckpt, exported = os.path.join(cli, "s%d.ckpt" % seed), os.path.join(cli, "s%d" % seed)
        args = [os.path.join(cli, "pyinit_cli"), "train", "--epochs", "0", "--seed", str(seed), "--checkpoint", ckpt,
                "--train-images", data["train"][0], "--train-labels", data["train"][1],
                "--valid-images", data["valid"][0], "--valid-labels", data["valid"][1]]
        r = subprocess.run(args + (["--init", scheme] if scheme else []), capture_output=True, text=True)
        if r.returncode == 0:
            r = subprocess.run([args[0], "export", exported, "--checkpoint", ckpt], capture_output=True, text=True)
        if r.returncode != 0:
            check(False, "pyinit: the trainer's %s failed: %s" % (" ".join(args[1:]), r.stderr.strip()))
            continue
        got = a if net is None else net.state_dict()
        # a torch-layout copy of what the trainer drew (num_batches_tracked, an integer, is not exported)
        missing = [k for k in got if k != "1.num_batches_tracked" and not os.path.exists(os.path.join(exported, k + ".npy"))]
        check(not missing, "pyinit: the trainer exported no %s" % ", ".join(missing))
        same = [k for k in got if k not in missing and k != "1.num_batches_tracked"
                and np.array_equal(got[k], np.load(os.path.join(exported, k + ".npy")).reshape(got[k].shape))]
        check(len(same) == len(got) - 1 - len(missing),
              "pyinit: init(%d%s) differs from the trainer's --seed %d%s in %s" % (
                  seed, ", scheme=%r" % scheme if scheme else "", seed, " --init " + scheme if scheme else "",
                  ", ".join(k for k in got if k not in same and k != "1.num_batches_tracked")))
    check(not np.array_equal(a["4.weight"], mod.Net().init(4, scheme="xavier_uniform").get("4.weight")),
          "pyinit: scheme= changed nothing")
    print("test-python: pyinit: init(4) and init(7, scheme='xavier_uniform') are the trainer's --epochs 0"
          " checkpoints (--seed 4; --seed 7 --init xavier_uniform) bit for bit")


check_init()


for name, spec, make_model, isa, momentum in CASES:
    failed_before = len(failures)
    out = os.path.join(WORK, name)
    os.makedirs(out, exist_ok=True)
    spec_path = os.path.join(out, name + ".lua")
    with open(spec_path, "w") as f:
        f.write(spec)
    how = ["--dispatch", "x86"] if isa == "dispatch" else ["--isa", isa]
    r = subprocess.run([CHAINRULE, "gen", spec_path, "--python"] + how + ["--out", out],
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
    away_from_defaults(model)
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

    model.eval()   # net.forward is the inference mode
    for n in (1, mod.BATCH // 2 + 1, mod.BATCH):
        x, _ = batch(n)
        with torch.no_grad():
            want = model(torch.from_numpy(x).reshape(torch_in(n))).numpy()
        close(net.forward(x), want, "%s: forward, n = %d" % (name, n))
        if classifier:
            check(np.array_equal(net.predict(x), net.forward(x).argmax(axis=1)), "%s: predict" % name)

    check_modes(name, mod, net, model, batch, torch_in)
    if isa == "dispatch":
        check_dispatch(name, net, model, batch)

    model.train()   # net.train_step is the training mode
    net.seed(7, 3)
    seed_masks(model, 7, 3)
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
        check(not net.nonfinite(), "%s: nonfinite() after finite step %d" % (name, step))
    for k, v in model.state_dict().items():
        got = net.get(k)
        worst = max(worst, close(got, v.numpy().reshape(got.shape), "%s: %s after 10 SGD steps" % (name, k)))
    print("test-python: %s (%s, %s): forward and 10 SGD steps %s PyTorch %s (largest |diff| of a parameter %.2g)"
          % (name, isa, mod.LOSS, "match" if len(failures) == failed_before else "DO NOT match", torch.__version__, worst))

    check_state(name, mod, net, batch, momentum > 0)
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

    # last (it leaves NaNs in the parameters): a NaN in one input row reaches the gradients
    x, t = batch(mod.BATCH)
    x[mod.BATCH // 2, mod.IN // 2] = np.nan
    net.train_step(x, t)
    check(net.nonfinite(), "%s: nonfinite() is False after a step on a NaN input" % name)
    check(any(not np.isfinite(net.get(k)).all() for k in mod.TENSORS),
          "%s: nonfinite() but every parameter finite" % name)

if failures:
    print("test-python: %d failure(s)" % len(failures))
    sys.exit(1)
print("test-python: passed")
