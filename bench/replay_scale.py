"""Replay at scale: simulate() time for 1,000 / 10,000 / 100,000 steps of ResNet-18 DropBack.

Generates synthetic ResNet-18 (CIFAR, batch 128) DropBack traces
(``accelsim.trace.synthetic``: 1M of 11.2M weights tracked; churn decaying geometrically
from 5% to 0.01% of the tracked set per step over the first ``--decay-steps`` steps, then
staying at 0.01%, the shape of a real run whose stored set settles early) and times
``simulate(trace, "dropback-edge")`` on each, fast fidelity, default cycle tolerance,
whole trace. Generation is timed apart; the first simulate call (numba compilation) is
timed on its own, on 2 steps, before any measured run.

Then the price of the cycle references: the first ``--check-steps`` steps replayed with
the default tolerance against ``cycle_tolerance=0`` (every step's cycles computed), the
largest relative cycle error over every (step, layer, phase) and of the total.

Goals set by the project: 10,000 steps in <= 60 s on one core; 10x more steps costing far
less than 10x more time. Thread pools are pinned to one thread.

    python bench/replay_scale.py                          # 1k, 10k, 100k (~8 minutes)
    python bench/replay_scale.py --steps 1000 10000       # quicker
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from accelsim.sim import simulate  # noqa: E402
from accelsim.sim.results import INDEX  # noqa: E402
from accelsim.trace.synthetic import resnet18_header, write_synthetic_dropback  # noqa: E402

TARGET_STEPS = 10_000
TARGET_SECONDS = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[1000, 10_000, 100_000],
                        help="trace lengths to measure (default: 1000 10000 100000)")
    parser.add_argument("--tracked", type=int, default=1_000_000)
    parser.add_argument("--churn-start", type=float, default=0.05)
    parser.add_argument("--churn-end", type=float, default=0.0001)
    parser.add_argument("--decay-steps", type=int, default=2000)
    parser.add_argument("--hw", default="dropback-edge")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init-decay", type=float, default=None, metavar="D",
                        help="record DropBack's decay to zero (init_decay D) in the traces, "
                             "so a zero-skipping --hw (e.g. procrustes-like) skips")
    parser.add_argument("--check-steps", type=int, default=150,
                        help="steps replayed exactly to measure the tolerance's error")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the traces here (default: a temporary directory)")
    args = parser.parse_args()
    sizes = sorted(set(args.steps))

    header = resnet18_header()
    print(f"ResNet-18 CIFAR, {header.params_total:,} parameters; DropBack tracked "
          f"{args.tracked:,}, churn {args.churn_start:g} -> {args.churn_end:g} over "
          f"{args.decay_steps} steps; hw {args.hw}; fidelity fast; one thread")
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        traces, gen, replay = {}, {}, {}
        for n in sizes:
            decay = f"-d{args.init_decay:g}" if args.init_decay is not None else ""
            path = root / f"resnet18-dropback-{n}-{args.decay_steps}{decay}.trace"
            start = time.perf_counter()
            made = not path.exists()
            if made:
                write_synthetic_dropback(path, header, n, tracked=args.tracked,
                                         churn_start=args.churn_start,
                                         churn_end=args.churn_end, seed=args.seed,
                                         decay_steps=args.decay_steps,
                                         method_params=None if args.init_decay is None
                                         else {"init_decay": args.init_decay})
            gen[n] = time.perf_counter() - start
            traces[n] = path
            how = f"{gen[n]:8.2f} s" if made else "kept from --workdir"
            print(f"generate {n:>7} steps: {how}  ({path.stat().st_size / 2**20:.1f} MiB)",
                  flush=True)

        start = time.perf_counter()
        simulate(str(traces[sizes[0]]), args.hw, steps="1:3")
        print(f"first simulate call (compile + cold, 2 steps): "
              f"{time.perf_counter() - start:.2f} s", flush=True)

        for n in sizes:
            start = time.perf_counter()
            result = simulate(str(traces[n]), args.hw)
            replay[n] = time.perf_counter() - start
            assert len(result.steps) == n
            o = result.options
            print(f"simulate {n:>7} steps: {replay[n]:8.2f} s  ({replay[n] / n * 1e3:6.2f} "
                  f"ms/step; cycle references {o['cycle_references']:,}, reused "
                  f"{o['cycle_reference_reuses']:,}; signatures {o['signatures']:,})",
                  flush=True)

        check = min(args.check_steps, sizes[0])
        span = f"1:{check + 1}"
        fast = simulate(str(traces[sizes[0]]), args.hw, steps=span)
        exact = simulate(str(traces[sizes[0]]), args.hw, steps=span, cycle_tolerance=0.0)
        got, want = fast.rows[..., INDEX["cycles"]], exact.rows[..., INDEX["cycles"]]
        worst = float(np.max(np.abs(got - want) / np.maximum(want, 1)))
        total = abs(fast.totals["cycles"] / exact.totals["cycles"] - 1)

    print()
    print(f"{'steps':>8} {'replay s':>10} {'ms/step':>9} {'growth':>20}")
    for i, n in enumerate(sizes):
        growth = ""
        if i:
            prev = sizes[i - 1]
            growth = f"{replay[n] / replay[prev]:.2f}x for {n / prev:g}x"
        print(f"{n:>8} {replay[n]:10.2f} {replay[n] / n * 1e3:9.2f} {growth:>20}")
    print()
    if TARGET_STEPS in replay:
        t = replay[TARGET_STEPS]
        print(f"{TARGET_STEPS:,} steps: {t:.1f} s = {t / TARGET_SECONDS:.2f} of the "
              f"{TARGET_SECONDS:.0f} s goal ({'MET' if t <= TARGET_SECONDS else 'NOT met'})")
    print(f"cycle tolerance {fast.options['cycle_tolerance']:g} over the first {check} "
          f"steps: worst (step, layer, phase) cycle error {worst:.2e}, total {total:.2e}; "
          f"{fast.options['cycle_references']} references against "
          f"{exact.options['cycle_references']} exact")


if __name__ == "__main__":
    main()
