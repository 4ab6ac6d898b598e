#!/usr/bin/env python3
"""Write PyTorch golden vectors for chainrule's tests (run by `make golden`).

Needs PyTorch (Debian's python3-torch) and NumPy; `make test` only reads the .npy files this
writes. For each network it reads the same independent description the C reference reads
(tests/ref/README.md), builds the network with torch.nn, and saves float32 arrays.
Layout and file names: tests/golden/README.md. Weights are saved in OUR layout,
[in][out] (the transpose of nn.Linear.weight); biases as [1][out].

    /usr/bin/python3 tests/golden/make_golden.py [OUTDIR] [--only NAME,...]
        OUTDIR defaults to tests/golden; --only writes just the named directories.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# (directory, description, kind, rows per batch, seed)
NETS = [
    ("seed_mse", "tests/net/desc/seed_mse.desc", "step", 64, 1),
    ("mnist_mlp", "tests/net/desc/mnist_mlp.desc", "step", 16, 2),
    ("traj_sgd", "tests/golden/specs/traj_sgd.desc", "traj", 8, 3),
    ("traj_momentum", "tests/golden/specs/traj_momentum.desc", "traj", 8, 4),
    ("traj_nesterov", "tests/golden/specs/traj_nesterov.desc", "traj", 8, 5),
    ("traj_adam", "tests/golden/specs/traj_adam.desc", "traj", 8, 6),
    ("traj_adamw", "tests/golden/specs/traj_adamw.desc", "traj", 8, 7),
    ("traj_mse_momentum", "tests/golden/specs/traj_mse_momentum.desc", "traj", 8, 8),
    ("act_ce", "tests/golden/specs/act_ce.desc", "step", 12, 9),
    ("act_mse", "tests/golden/specs/act_mse.desc", "step", 7, 10),
    ("conv_ce", "tests/golden/specs/conv_ce.desc", "step", 6, 11),
    ("bn_ce", "tests/golden/specs/bn_ce.desc", "step", 7, 12),
    ("traj_bn", "tests/golden/specs/traj_bn.desc", "traj", 8, 13),
]
# nets whose inputs are uniform in [-1, 1) instead of [0, 1): a standalone activation as
# their first layer must see negative values too
SYMMETRIC_X = {"act_ce", "act_mse", "conv_ce", "bn_ce"}
TRAJ_STEPS = 10


def read_desc(path):
    """The description format of tests/ref/README.md."""
    net = {"layers": [], "opt": None}
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            tok = line.split("#", 1)[0].split()
            if not tok:
                continue
            key = tok[0]
            if key in ("name", "loss"):
                net[key] = tok[1]
            elif key in ("input", "batch") and len(tok) == 2:
                net[key] = int(tok[1])
            elif key == "input" and len(tok) == 4:
                net["input_shape"] = tuple(int(v) for v in tok[1:])
                net["input"] = int(np.prod(net["input_shape"]))
            elif key in ("conv2d", "maxpool2d", "avgpool2d"):
                o = {"stride": 1, "padding": 0, "bias": 1} if key == "conv2d" else {}
                if key == "conv2d":
                    o["out"] = int(tok[1])
                for kv in tok[2 if key == "conv2d" else 1:]:
                    k, v = kv.split("=")
                    o[k] = int(v)
                o.setdefault("stride", o["kernel"])
                net["layers"].append((key, o))
            elif key == "batchnorm":
                o = {"momentum": 0.1, "eps": 1e-5, "affine": 1}
                for kv in tok[1:]:
                    k, v = kv.split("=")
                    o[k] = float(v)
                net["layers"].append(("batchnorm", o))
            elif key == "dropout" and len(tok) == 2:
                net["layers"].append(("dropout", float(tok[1])))
            elif key == "flatten" and len(tok) == 1:
                net["layers"].append(("flatten", None))
            elif key == "linear":   # linear OUT [SCHEME] [bias=0|1]
                bias = [int(t.split("=")[1]) for t in tok[2:] if t.startswith("bias=")]
                net["layers"].append(("linear", (int(tok[1]), bool(bias[-1]) if bias else True)))
            elif key == "relu":
                net["layers"].append(("relu", float(tok[1])))
            elif key == "leaky_relu":
                net["layers"].append(("leaky_relu", float(tok[1])))
            elif key in ("tanh", "sigmoid") and len(tok) == 1:
                net["layers"].append((key, None))
            elif key == "optimizer":
                opt = {"kind": tok[1]}
                for kv in tok[2:]:
                    k, v = kv.split("=")
                    opt[k] = float(v)
                net["opt"] = opt
            else:
                sys.exit("%s:%d: cannot read '%s'" % (path, lineno, key))
    return net


class ShiftedReLU(nn.Module):
    """The seed's relu: x.clamp_min(0) + shift (shift -0.5 in the seed)."""

    def __init__(self, shift):
        super().__init__()
        self.shift = shift

    def forward(self, x):
        return x.clamp_min(0.0) + self.shift


def build(net):
    mods, width = [], net["input"]
    c, h, w = net.get("input_shape", (0, 0, 0))
    for kind, arg in net["layers"]:
        if kind in ("conv2d", "maxpool2d", "avgpool2d"):
            k, s, p = arg["kernel"], arg["stride"], arg.get("padding", 0)
            if kind == "conv2d":
                mods.append(nn.Conv2d(c, arg["out"], k, stride=s, padding=p, bias=bool(arg["bias"])))
                c = arg["out"]
            else:
                mods.append((nn.MaxPool2d if kind == "maxpool2d" else nn.AvgPool2d)(k, stride=s))
            h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            width = c * h * w
        elif kind == "flatten":
            mods.append(nn.Flatten())
            c = 0
        elif kind == "batchnorm":
            bn = nn.BatchNorm2d if c else nn.BatchNorm1d
            mods.append(bn(c if c else width, eps=arg["eps"], momentum=arg["momentum"], affine=bool(arg["affine"])))
        elif kind == "dropout":
            mods.append(nn.Dropout(arg))
        elif kind == "linear":
            mods.append(nn.Linear(width, arg[0], bias=arg[1]))
            width = arg[0]
        elif kind == "relu":
            mods.append(ShiftedReLU(arg))
        elif kind == "leaky_relu":
            mods.append(nn.LeakyReLU(negative_slope=arg))
        elif kind == "tanh":
            mods.append(nn.Tanh())
        elif kind == "sigmoid":
            mods.append(nn.Sigmoid())
        else:
            sys.exit("unknown layer kind '%s'" % kind)
    return nn.Sequential(*mods)


def init_params(model):
    """Simplified Kaiming weights (randn / sqrt(fan_in)) and small non-zero biases."""
    with torch.no_grad():
        for m in model:
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape) / fan_in ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.rand(m.bias.shape) * 0.2 - 0.1)
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                # away from torch's 1 and 0 so that a swapped or ignored tensor shows
                if m.affine:
                    m.weight.copy_(1 + torch.rand(m.weight.shape) * 0.4 - 0.2)
                    m.bias.copy_(torch.rand(m.bias.shape) * 0.2 - 0.1)
                m.running_mean.copy_(torch.rand(m.running_mean.shape) * 0.2 - 0.1)
                m.running_var.copy_(1 + torch.rand(m.running_var.shape) * 0.5)


def optimizer(net, params):
    o = net["opt"]
    wd = o.get("weight_decay", 0.0)
    if o["kind"] == "sgd":
        return torch.optim.SGD(params, lr=o["lr"], momentum=o.get("momentum", 0.0),
                               dampening=o.get("dampening", 0.0), nesterov=bool(o.get("nesterov", 0)),
                               weight_decay=wd)
    cls = torch.optim.Adam if o["kind"] == "adam" else torch.optim.AdamW
    if o["kind"] == "adamw" and "weight_decay" not in o:
        wd = 1e-2
    return cls(params, lr=o.get("lr", 1e-3), betas=(o.get("beta1", 0.9), o.get("beta2", 0.999)),
               eps=o.get("eps", 1e-8), weight_decay=wd)


def loss_fn(net, out, t):
    if net["loss"] == "mse":
        return ((out.squeeze(1) - t) ** 2).mean()
    return F.cross_entropy(out, t.long())


def data(net, n, lead=(), symmetric=False):
    """Inputs in [0, 1) like pixels (or [-1, 1) when symmetric); targets: class indices
    (cross-entropy) or digit-like labels 0..9 as floats (the seed's regression), both stored
    as float32."""
    x = torch.rand(*lead, n, net["input"])
    if symmetric:
        x = x * 2 - 1
    width = [a[0] for k, a in net["layers"] if k == "linear"][-1]
    classes = width if net["loss"] == "cross_entropy" else 10
    t = torch.randint(0, classes, (*lead, n)).float()
    return x, t


def image(net, x):
    """Rows [n][C*H*W] as the images [n][C][H][W] a conv net takes (a view: x.grad stays flat)."""
    return x.view(x.shape[0], *net["input_shape"]) if "input_shape" in net else x


def ours(tensor):
    """nn.Linear weight [out][in] -> ours [in][out]; nn.Conv2d weight [O][C][K][K] -> ours
    [C*K*K][O]; bias [out] -> [1][out]."""
    a = tensor.detach().numpy()
    return a.reshape(a.shape[0], -1).T if a.ndim >= 2 else a.reshape(1, -1)


def save(outdir, name, array):
    path = os.path.join(outdir, name)
    tmp = path + ".tmp.npy"
    np.save(tmp, np.ascontiguousarray(np.asarray(array, dtype=np.float32)))
    os.replace(tmp, path)


def save_params(outdir, prefix, model):
    for key, p in model.state_dict().items():
        save(outdir, "%s.%s.npy" % (prefix, key), ours(p))


def golden_step(net, model, n, outdir):
    x, t = data(net, n, symmetric=os.path.basename(outdir) in SYMMETRIC_X)
    save(outdir, "x.npy", x)
    save(outdir, "t.npy", t)
    save_params(outdir, "param", model)
    opt = optimizer(net, model.parameters())
    x.requires_grad_(True)
    out = model(image(net, x))
    loss = loss_fn(net, out, t)
    loss.backward()
    save(outdir, "out.npy", out.detach())
    save(outdir, "loss.npy", loss.detach().reshape(1))
    save(outdir, "dx.npy", x.grad)
    for key, p in model.named_parameters():
        save(outdir, "grad.%s.npy" % key, ours(p.grad))
    opt.step()
    save_params(outdir, "step", model)
    return "loss %.6f" % loss.item()


def golden_traj(net, model, n, outdir):
    x, t = data(net, n, (TRAJ_STEPS,))
    save(outdir, "x.npy", x)
    save(outdir, "t.npy", t)
    save_params(outdir, "param", model)
    opt = optimizer(net, model.parameters())
    losses = []
    for k in range(TRAJ_STEPS):
        opt.zero_grad()
        loss = loss_fn(net, model(image(net, x[k])), t[k])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    save(outdir, "losses.npy", np.array(losses, dtype=np.float32))
    save_params(outdir, "final", model)
    if any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.Dropout)) for m in model):
        # inference mode after the steps: the running statistics, dropout off
        model.eval()
        with torch.no_grad():
            save(outdir, "eval.npy", model(image(net, x[0])))
    return "losses %.4f -> %.4f" % (losses[0], losses[-1])


def main():
    args, only = sys.argv[1:], None
    if "--only" in args:
        i = args.index("--only")
        if i + 1 >= len(args):
            sys.exit("make_golden.py: --only needs a comma-separated list of names")
        only = args[i + 1].split(",")
        unknown = [o for o in only if o not in [e[0] for e in NETS]]
        if unknown:
            sys.exit("make_golden.py: unknown golden net(s): %s" % ", ".join(unknown))
        del args[i:i + 2]
    top = args[0] if args else os.path.join(ROOT, "tests", "golden")
    torch.set_num_threads(1)
    for name, desc, kind, n, seed in NETS:
        if only is not None and name not in only:
            continue
        path = os.path.join(ROOT, desc)
        net = read_desc(path)
        outdir = os.path.join(top, name)
        os.makedirs(outdir, exist_ok=True)
        for f in os.listdir(outdir):
            if f.endswith(".npy"):
                os.remove(os.path.join(outdir, f))
        torch.manual_seed(seed)
        model = build(net)
        init_params(model)
        what = (golden_step if kind == "step" else golden_traj)(net, model, n, outdir)
        with open(path) as src, open(os.path.join(outdir, "net.desc"), "w") as dst:
            dst.write("# copied from %s by tests/golden/make_golden.py\n" % desc)
            dst.write(src.read())
        size = sum(os.path.getsize(os.path.join(outdir, f)) for f in os.listdir(outdir))
        print("golden %-18s %-4s n=%-3d %s  (%d KB)" % (name, kind, n, what, size // 1024))


if __name__ == "__main__":
    main()
