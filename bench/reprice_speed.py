"""reprice against the simulate it replaces: the same energy for new prices, how much faster.

For each trace, simulate() on dropback-edge and write RESULT.json; then, for a description
that differs only in DRAM read/write energy (flat 7 and 5 pJ/bit instead of the IDD-derived
6.13 and 5.66, so ACT and standby become 0 too: all prices), time (a)
a fresh simulate() and (b) load_result() + reprice() of the saved file, and check the totals
agree (relative 1e-9). Then a larger change (read 4 pJ/bit): on dropback-edge the mapper
weighs a regenerated value by regen energy / DRAM read energy, so halving the read energy
can move mappings; reprice must then refuse, and the line says whether it did and whether
a fresh simulate really chose other mappings.
Traces: the bundled LeNet-300-100 DropBack sample (345 steps) and a synthetic ResNet-18
DropBack trace (accelsim.trace.synthetic; ``--resnet-steps``, default 1,000). The goal set
by the project: reprice >= 20x faster. One thread; numba compilation is done before timing.

    python bench/reprice_speed.py
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from accelsim.errors import ConfigError  # noqa: E402
from accelsim.hw import load_hardware  # noqa: E402
from accelsim.sim import simulate  # noqa: E402
from accelsim.sim.pricing import reprice  # noqa: E402
from accelsim.sim.results import load_result  # noqa: E402
from accelsim.trace.synthetic import resnet18_header, write_synthetic_dropback  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOAL = 20.0


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resnet-steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    base = load_hardware("dropback-edge")
    new = base.replace({"dram.read_energy": "7 pJ/bit", "dram.write_energy": "5 pJ/bit"})
    far = base.replace({"dram.read_energy": "4 pJ/bit"})
    with tempfile.TemporaryDirectory() as tmp:
        resnet = Path(tmp) / "resnet18.trace"
        write_synthetic_dropback(resnet, resnet18_header(), args.resnet_steps)
        traces = {"LeNet-300-100 DropBack (345 steps)":
                  str(ROOT / "traces" / "lenet300-dropback25.trace"),
                  f"ResNet-18 DropBack ({args.resnet_steps:,} steps)": str(resnet)}
        simulate(traces[next(iter(traces))], base, steps="1:3")  # compile
        print(f"{'trace':<40} {'simulate s':>11} {'reprice s':>10} {'speed-up':>9} "
              f"{'worst rel diff':>15}")
        for name, trace in traces.items():
            saved = Path(tmp) / "result.json"
            saved.write_text(simulate(trace, base).to_json())
            fresh_s, fresh = _best(lambda t=trace: simulate(t, new), args.repeats)
            repriced_s, again = _best(lambda path=saved: reprice(load_result(path), new),
                                      args.repeats)
            worst = max(abs(again.totals[k] - v) / max(abs(v), 1e-300)
                        for k, v in fresh.totals.items())
            ratio = fresh_s / repriced_s
            print(f"{name:<40} {fresh_s:11.3f} {repriced_s:10.4f} {ratio:8.0f}x "
                  f"{worst:15.2e}  ({'MET' if ratio >= GOAL and worst <= 1e-9 else 'NOT MET'}"
                  f": goal >= {GOAL:.0f}x, 1e-9)")
            try:
                reprice(load_result(saved), far)
                refused = "accepted"
            except ConfigError:
                refused = "refused"
            moved = _mappings(simulate(trace, far)) != _mappings(simulate(trace, base))
            print(f"{'':<40} read 4 pJ/bit: reprice {refused}; a fresh simulate "
                  f"{'chooses other mappings' if moved else 'keeps every mapping'}")


def _mappings(result) -> list:
    return [(row.get("mapping"), row.get("mappings")) for row in result.by_layer()]


if __name__ == "__main__":
    main()
