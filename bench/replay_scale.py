"""Replay at scale: how simulate() time grows with the number of trace steps.

Generates synthetic ResNet-18 (CIFAR) DropBack traces (``accelsim.trace.synthetic``: 1M
tracked weights, churn decaying geometrically 5% -> 0.01% per step) of N steps each, times
the generation separately, then times ``simulate(trace, "dropback-edge")`` (fast fidelity)
over the whole trace. The first simulate call (numba compilation, cold caches) is timed on
its own, on 2 steps of the smallest trace, before any measured run.

Goal set by the project: 10,000 steps in <= 60 s on one core, and 10x more steps costing
far less than 10x more time (here: a growth ratio <= --growth-goal for 10x steps).
Thread pools are pinned to one thread (set the variables yourself to override).

    python bench/replay_scale.py                 # N = 10, 100, 1000 (~2-3 minutes)
    python bench/replay_scale.py --steps 10 100  # quicker
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from accelsim.sim import simulate  # noqa: E402
from accelsim.trace.synthetic import resnet18_header, write_synthetic_dropback  # noqa: E402

TARGET_STEPS = 10_000
TARGET_SECONDS = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 100, 1000],
                        help="trace lengths to measure (default: 10 100 1000)")
    parser.add_argument("--tracked", type=int, default=1_000_000)
    parser.add_argument("--churn-start", type=float, default=0.05)
    parser.add_argument("--churn-end", type=float, default=0.0001)
    parser.add_argument("--hw", default="dropback-edge")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--growth-goal", type=float, default=3.0,
                        help="largest acceptable time ratio for 10x more steps (default 3)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the traces here (default: a temporary directory)")
    args = parser.parse_args()
    sizes = sorted(set(args.steps))

    header = resnet18_header()
    print(f"ResNet-18 CIFAR, {header.params_total:,} parameters; DropBack tracked "
          f"{args.tracked:,}, churn {args.churn_start:g} -> {args.churn_end:g}; hw {args.hw}; "
          f"fidelity fast; one thread")
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        traces, gen = {}, {}
        for n in sizes:
            path = root / f"resnet18-dropback-{n}.trace"
            start = time.perf_counter()
            write_synthetic_dropback(path, header, n, tracked=args.tracked,
                                     churn_start=args.churn_start, churn_end=args.churn_end,
                                     seed=args.seed)
            gen[n] = time.perf_counter() - start
            traces[n] = path
            print(f"generate {n:>6} steps: {gen[n]:8.2f} s  ({gen[n] / n * 1e3:7.2f} ms/step, "
                  f"{path.stat().st_size / 2**20:.1f} MiB)")

        start = time.perf_counter()
        simulate(str(traces[sizes[0]]), args.hw, steps="1:3")
        print(f"first simulate call (compile + cold, 2 steps): "
              f"{time.perf_counter() - start:.2f} s")

        replay = {}
        for n in sizes:
            start = time.perf_counter()
            result = simulate(str(traces[n]), args.hw)
            replay[n] = time.perf_counter() - start
            assert len(result.steps) == n
            print(f"simulate {n:>6} steps: {replay[n]:8.2f} s  "
                  f"({replay[n] / n * 1e3:7.2f} ms/step; signatures "
                  f"{result.options['signatures']}, hits {result.options['signature_hits']})")

    print()
    print(f"{'steps':>7} {'gen s':>9} {'replay s':>10} {'ms/step':>9} {'growth':>18}")
    for i, n in enumerate(sizes):
        growth = ""
        if i:
            prev = sizes[i - 1]
            growth = f"{replay[n] / replay[prev]:.2f}x for {n / prev:g}x"
        print(f"{n:>7} {gen[n]:9.2f} {replay[n]:10.2f} {replay[n] / n * 1e3:9.2f} "
              f"{growth:>18}")

    largest = sizes[-1]
    linear = replay[largest] / largest * TARGET_STEPS
    print()
    print(f"extrapolated {TARGET_STEPS:,} steps at the {largest}-step rate: {linear:.1f} s "
          f"(goal <= {TARGET_SECONDS:.0f} s: {'MET' if linear <= TARGET_SECONDS else 'NOT met'})")
    if len(sizes) >= 2:
        a, b = sizes[-2], sizes[-1]
        slope = (replay[b] - replay[a]) / (b - a)
        fitted = replay[b] + slope * (TARGET_STEPS - b)
        exponent = math.log(replay[b] / replay[a]) / math.log(b / a)
        ten_x = 10 ** exponent
        print(f"two-point fit ({a}, {b}): {slope * 1e3:.2f} ms per extra step, "
              f"{TARGET_STEPS:,} steps ~ {fitted:.1f} s; time grows as steps^{exponent:.2f} "
              f"= {ten_x:.2f}x per 10x steps (goal <= {args.growth_goal:g}x: "
              f"{'MET' if ten_x <= args.growth_goal else 'NOT met'})")


if __name__ == "__main__":
    main()
