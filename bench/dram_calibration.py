"""Calibrate each DRAM standard's bandwidth_efficiency against the burst-level model.

The bandwidth model charges a layer-phase's DRAM bytes at ``bandwidth_efficiency`` x the
peak; with ``--dram burst`` the pipeline runs at the peak and every layer-phase waits for
the burst-level model's serve time of its own requests. For each timed standard this finds
(bisection) the efficiency at which the two give the same total cycles on DRAM-bound
replays — edge-lpddr4 with a 256 x 256 array and 64 KiB of SRAM, the standard swapped in,
both sample LeNet-300-100 traces (dense, DropBack 25x), recorded steps 100..102 — and prints
it beside the pure serve efficiency (bytes / (serve cycles x peak)) and how close the
calibrated default comes on each trace. The values go into
accelsim/hw/dram_standards.py: BANDWIDTH_EFFICIENCY.

    python bench/dram_calibration.py
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

from accelsim.hw import load_hardware  # noqa: E402
from accelsim.hw.dram_standards import DRAM_STANDARDS, IDEAL  # noqa: E402
from accelsim.sim import simulate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TRACES = {"dense": str(ROOT / "traces" / "lenet300-dense.trace"),
          "dropback25": str(ROOT / "traces" / "lenet300-dropback25.trace")}
STEPS = "100:103"


def dram_bound(standard: str, efficiency: float | None = None):
    changes = {"array.rows": 256, "array.cols": 256, "sram.capacity": "64 KiB",
               "dram.standard": standard}
    if efficiency is not None:
        changes["dram.bandwidth_efficiency"] = efficiency
    return load_hardware("edge-lpddr4").replace(changes)


def cycles(hw, dram_model: str) -> dict[str, float]:
    return {name: simulate(trace, hw, steps=STEPS, dram_model=dram_model).totals["cycles"]
            for name, trace in TRACES.items()}


def calibrate(standard: str) -> tuple[float, dict, dict, float]:
    target = cycles(dram_bound(standard), "burst")
    goal = sum(target.values())
    low, high = 0.05, 1.0
    for _ in range(20):  # the default's cycles fall as the efficiency grows
        middle = (low + high) / 2
        if sum(cycles(dram_bound(standard, middle), "bandwidth").values()) > goal:
            low = middle
        else:
            high = middle
    efficiency = round((low + high) / 2, 3)
    burst = simulate(TRACES["dense"], dram_bound(standard), steps=STEPS, dram_model="burst")
    peak = dram_bound(standard).dram_bytes_per_cycle
    serve = burst.dram["back_to_back"]["seconds"] * dram_bound(standard).array.clock_hz
    serve_efficiency = burst.totals["dram_bytes"] / peak / serve
    return efficiency, target, cycles(dram_bound(standard, efficiency), "bandwidth"), \
        serve_efficiency


def main() -> None:
    print(f"DRAM-bound replays: edge-lpddr4, 256x256 array, 64 KiB SRAM, steps {STEPS}")
    print(f"{'standard':<12} {'efficiency':>10} {'serve eff.':>10}   default / burst cycles")
    for name in DRAM_STANDARDS:
        if name == IDEAL:
            continue
        efficiency, burst, default, serve = calibrate(name)
        agreement = ", ".join(f"{trace} {default[trace] / burst[trace]:.3f}" for trace in burst)
        print(f"{name:<12} {efficiency:>10.3f} {serve:>10.3f}   {agreement}")


if __name__ == "__main__":
    main()
