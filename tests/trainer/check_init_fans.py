"""check_init_fans.py REPORT EXPORT_DIR — the init report's weight table against PyTorch.

REPORT is the output of `NAME_cli init-report`: per weight tensor its torch shape (from
the layer table: [O][C][K][K] for a conv, [out][in] for a linear), its fans (from the
tensor table) and the std each scheme drew. EXPORT_DIR holds the same network's tensors
(`NAME_cli export`): each must hold as many values as the shape. For every weight row:
  - fan_in and fan_out equal torch.nn.init._calculate_fan_in_and_fan_out of the shape;
  - each scheme's drawn std is within 5 standard errors of the std PyTorch draws with
    (torch.nn.init on 400 copies of the shape; simple_kaiming is N(0, 1/fan_in), the seed's).
Prints one line per tensor; exit 1 on the first mismatch.
"""
import math
import sys

import numpy as np
import torch


def torch_std(shape, scheme, g):
    w = torch.empty((400,) + tuple(shape))
    for k in range(400):
        t = w[k]
        if scheme == "randn":
            t.normal_(generator=g)
        elif scheme == "simple_kaiming":
            fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(t)
            t.normal_(generator=g).div_(math.sqrt(fan_in))
        elif scheme == "xavier":
            t.copy_(torch.nn.init.xavier_normal_(torch.empty(shape)))
        else:
            t.copy_(torch.nn.init.kaiming_normal_(torch.empty(shape), mode=scheme))
    return float(w.std())


def main():
    report, export = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    rows = []
    with open(report) as f:
        for line in f:
            p = line.split()
            if len(p) == 9 and p[0].endswith(".weight") and p[2].isdigit():
                shape = tuple(int(d) for d in p[1].split("x"))
                rows.append((p[0], shape, int(p[2]), int(p[3]), [float(v) for v in p[4:]]))
    if not rows:
        sys.exit("no weight rows in " + report)
    schemes = ["randn", "simple_kaiming", "xavier", "fan_in", "fan_out"]
    for name, shape, fi, fo, stds in rows:
        count = int(np.prod(shape))
        if np.load("%s/%s.npy" % (export, name)).size != count:
            sys.exit("%s: the export holds %d values, the shape %s %d" % (name, np.load("%s/%s.npy" % (export, name)).size, shape, count))
        tfi, tfo = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        if (fi, fo) != (tfi, tfo):
            sys.exit("%s %s: fans %d/%d, torch %d/%d" % (name, shape, fi, fo, tfi, tfo))
        worst = 0.0
        for scheme, got in zip(schemes, stds):
            want = torch_std(shape, scheme, g)
            err = abs(got / want - 1) * math.sqrt(2 * count)   # in standard errors of a std
            worst = max(worst, err)
            if err > 5:
                sys.exit("%s %s: %s std %.5g, torch %.5g (%.1f standard errors)" % (name, shape, scheme, got, want, err))
        print("%s %s: fans %d/%d as torch, stds within %.2f standard errors" % (name, shape, fi, fo, worst))


main()
