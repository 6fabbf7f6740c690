"""Procrustes' headline, reproduced with accelsim: DropBack with decay to zero on
`procrustes-like` against dense training on `procrustes-like-dense`, per network.

Procrustes (Yang et al., MICRO 2020) reports up to 3.26x less energy and up to 4x
speedup against a dense training accelerator. Per network this prints the energy and
cycles per training step of late steps (every untracked weight decayed to zero) of a
DropBack trace with ``init_decay`` on procrustes-like, against a dense trace of the same
net on procrustes-like-dense, and their ratios.

LeNet-300-100 and LeNet-5 are real runs on the bundled digits (``accelsim record``, 15
epochs, seed 0). ResNet-20, VGG-S, WRN-28-10 and DenseNet-BC are labelled *synthetic*: their
header (layers, tensors, initial-value specs, the workload of one step) comes from one
real CIFAR-shaped training step on random inputs, their stored sets from
``accelsim.trace.synthetic`` (uniformly random, 1/compression of the weights, churn
decaying from 5% to 0.01% per step), since training them long enough for the decay to
reach zero (~150 steps at d = 0.5 in fp32) does not fit the shared machine.

    python bench/procrustes_table.py                      # all (~10 minutes on 2 cores)
    python bench/procrustes_table.py --nets lenet-300-100 lenet-5
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from accelsim.sim import simulate

REAL = {"lenet-300-100": 25.0, "lenet-5": 10.0}  # DropBack compression (paper: 25x MNIST MLP)
SYNTHETIC = {"resnet-20": 10.0, "vgg-s": 10.0, "wrn-28-10": 10.0, "densenet-bc": 10.0}
DECAY = 0.5
LATE = 200  # first simulated step: every untracked weight has decayed to zero in fp32
SYNTHETIC_STEPS = 170
SYNTHETIC_LATE = 160


def record(net: str, method: list[str], out: Path) -> None:
    subprocess.run([sys.executable, "-m", "accelsim.cli", "record", "--net", net, *method,
                    "--epochs", "15", "--seed", "0", "--out", str(out), "--overwrite",
                    "--json"], check=True, stdout=subprocess.DEVNULL)


def one_step_header(net: str, method: str, compression: float, out: Path, batch: int = 64):
    """The header of one real CIFAR-shaped step (random inputs) of ``net``."""
    import torch

    from accelsim.training.methods import METHODS
    from accelsim.training.nets import build_net
    from accelsim.training.recorder import TraceRecorder

    torch.manual_seed(0)
    model = build_net(net, (3, 32, 32), 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    kwargs = {"compression": compression, "init_decay": DECAY} if method == "dropback" else {}
    pruning = METHODS[method](model, **kwargs)
    pruning.attach(optimizer)
    with TraceRecorder(model, optimizer, str(out), method=pruning, net=net,
                       overwrite=True) as recorder:
        x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        recorder.log(loss=float(loss))
    from accelsim.trace import open_trace
    with open_trace(out) as trace:
        return trace.header


def per_step(result) -> tuple[float, float, float]:
    steps = float(result.step_weight.sum())
    t = result.totals
    return t["energy_pj"] / steps, t["cycles"] / steps, t["macs"] / steps


def row(net: str, label: str, sparse, dense) -> str:
    e_s, c_s, m_s = per_step(sparse)
    e_d, c_d, m_d = per_step(dense)
    fwd_s, fwd_d = sparse.by_phase()["fwd"], dense.by_phase()["fwd"]
    fwd_speed = fwd_d["cycles"] / fwd_s["cycles"] * (sparse.step_weight.sum()
                                                      / dense.step_weight.sum())
    return (f"| {net} | {label} | {e_d / 1e6:.1f} | {e_s / 1e6:.1f} | {e_d / e_s:.2f}x | "
            f"{c_d / c_s:.2f}x | {fwd_speed:.2f}x | {m_s / m_d:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", default=[*REAL, *SYNTHETIC])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    lines = ["| net | trace | dense uJ/step | DropBack uJ/step | energy | speedup | fwd speedup "
             "| MACs executed / dense |", "|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        for net in args.nets:
            sparse_trace, dense_trace = root / f"{net}-db-decay.trace", root / f"{net}-dense.trace"
            if net in REAL:
                if not sparse_trace.exists():
                    record(net, ["--method", "dropback", "--compression", str(REAL[net]),
                                 "--init-decay", str(DECAY)], sparse_trace)
                if not dense_trace.exists():
                    record(net, ["--method", "dense"], dense_trace)
                steps, label = f"{LATE}:", f"real, digits, {REAL[net]:g}x, steps {LATE}+"
            else:
                from accelsim.trace.synthetic import write_synthetic_dropback

                if not sparse_trace.exists():
                    header = one_step_header(net, "dropback", SYNTHETIC[net],
                                             root / f"{net}-one.trace")
                    total = header.params_total
                    write_synthetic_dropback(sparse_trace, header, SYNTHETIC_STEPS,
                                             tracked=int(total / SYNTHETIC[net]),
                                             method_params={"init_decay": DECAY})
                if not dense_trace.exists():
                    one_step_header(net, "dense", 1.0, dense_trace)
                steps = f"{SYNTHETIC_LATE}:"
                label = f"synthetic, CIFAR shapes, {SYNTHETIC[net]:g}x, steps {SYNTHETIC_LATE}+"
            sparse = simulate(str(sparse_trace), "procrustes-like", steps=steps)
            dense = simulate(str(dense_trace), "procrustes-like-dense",
                             steps=steps if net in REAL else None)
            zero = sparse.options["zero_skipping"]
            assert zero["steps_every_tensor_decayed"] == len(sparse.steps), zero
            lines.append(row(net, label, sparse, dense))
            print(lines[-1], flush=True)
            if np.isnan(sparse.totals["energy_pj"]):
                raise SystemExit(f"{net}: energy is not a number")
    print()
    print("\n".join(lines))
    print("\nProcrustes (MICRO 2020): up to 3.26x energy, up to 4x speedup")


if __name__ == "__main__":
    main()
