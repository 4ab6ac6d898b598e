#!/usr/bin/env python3
"""Writes tests/trainer/sched_golden.txt: the learning rate (and momentum) PyTorch's
torch.optim.lr_scheduler gives at every training step, for the schedules the trainer
implements (trainer/train_sched.c). `make golden` runs it; tests/trainer/test_sched.c
compares the trainer's values with these.

Format: one block per case,
    case TEXT OPTIMIZER BASE_LR EPOCHS STEPS_PER_EPOCH
    EPOCH STEP LR MOMENTUM        (one line per step; MOMENTUM nan when not cycled)
    end
"""
import math
import sys

import torch

CASES = [
    # (trainer's schedule text, optimizer, base lr, epochs, steps per epoch)
    ("step:step_size=2,gamma=0.5", "sgd", 0.1, 5, 3),
    ("step:step_size=1", "adam", 0.01, 4, 2),
    ("cosine:eta_min=0.001", "sgd", 0.1, 6, 2),
    ("cosine:t_max=3", "sgd", 0.05, 7, 1),
    ("onecycle", "sgd", 0.1, 3, 7),
    ("onecycle:max_lr=0.5,pct_start=0.25,anneal=linear,div_factor=10,final_div_factor=100",
     "sgd", 0.1, 2, 9),
    ("onecycle:three_phase=true,cycle_momentum=false", "sgd", 0.2, 4, 5),
    ("onecycle:epochs=5,base_momentum=0.8,max_momentum=0.9", "adam", 0.003, 3, 4),
]


def scheduler(text, opt, epochs, spe):
    kind, _, rest = text.partition(":")
    kw = {}
    for item in filter(None, rest.split(",")):
        k, v = item.split("=")
        kw[k] = {"true": True, "false": False}.get(v, v)
    if kind == "step":
        return torch.optim.lr_scheduler.StepLR(
            opt, step_size=int(kw["step_size"]), gamma=float(kw.get("gamma", 0.1))), "epoch"
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=int(kw.get("t_max", epochs)), eta_min=float(kw.get("eta_min", 0))), "epoch"
    total = int(kw.get("epochs", epochs)) * spe
    args = dict(max_lr=float(kw.get("max_lr", opt.param_groups[0]["lr"])), total_steps=total)
    for k in ("pct_start", "base_momentum", "max_momentum", "div_factor", "final_div_factor"):
        if k in kw:
            args[k] = float(kw[k])
    for k in ("cycle_momentum", "three_phase"):
        if k in kw:
            args[k] = kw[k]
    if "anneal" in kw:
        args["anneal_strategy"] = kw["anneal"]
    return torch.optim.lr_scheduler.OneCycleLR(opt, **args), "batch"


def main(out):
    lines = []
    for text, kind, lr, epochs, spe in CASES:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = (torch.optim.SGD([p], lr=lr, momentum=0.9) if kind == "sgd"
               else torch.optim.Adam([p], lr=lr))
        sched, every = scheduler(text, opt, epochs, spe)
        cycled = every == "batch" and sched.cycle_momentum
        lines.append(f"case {text} {kind} {lr!r} {epochs} {spe}")
        step = 0
        for ep in range(epochs):
            for _ in range(spe):
                g = opt.param_groups[0]
                mom = (g["momentum"] if kind == "sgd" else g["betas"][0]) if cycled else math.nan
                lines.append(f"{ep} {step} {g['lr']!r} {mom!r}")
                p.grad = torch.zeros(1)
                opt.step()
                if every == "batch":
                    sched.step()
                step += 1
            if every == "epoch":
                sched.step()
        lines.append("end")
    with open(out, "w") as f:
        f.write("# written by tests/trainer/make_sched_golden.py with torch %s\n" % torch.__version__)
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/trainer/sched_golden.txt")
