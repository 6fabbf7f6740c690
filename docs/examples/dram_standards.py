"""Which DRAM suits DropBack training best? The same trace on LPDDR4, DDR4 and HBM2.

Replays the sample DropBack 25x trace on the edge design with its DRAM swapped and prints
cycles, DRAM energy and total energy per training step. Run from the repository root:

    python docs/examples/dram_standards.py
"""

import accelsim

TRACE = "traces/lenet300-dropback25.trace"
base = accelsim.load_hardware("dropback-edge")

print(f"{'DRAM':14}{'GB/s':>8}{'cycles/step':>14}{'DRAM uJ/step':>14}{'total uJ/step':>15}")
for standard in ("lpddr4-3200", "ddr4-2400", "ddr4-3200", "hbm2"):
    hw = base.replace({"dram.standard": standard})
    totals = accelsim.simulate(TRACE, hw, steps="1:40").totals
    steps = totals["training_steps"]
    print(f"{standard:14}{hw.dram_bandwidth_bytes_per_s / 1e9:8.1f}"
          f"{totals['cycles'] / steps:14.4g}{totals['energy_pj.dram'] / steps / 1e6:14.2f}"
          f"{totals['energy_pj'] / steps / 1e6:15.2f}")
