"""How much does on-chip SRAM buy DropBack versus dense training?

Replays the sample LeNet-300-100 traces (dense and DropBack 25x) on the DropBack-oriented
edge design with SRAM from 64 KiB to 4 MiB and prints total DRAM traffic and energy per
training step. Run from the repository root:

    python docs/examples/sram_sweep.py
"""

import accelsim

TRACES = {"dense": "traces/lenet300-dense.trace",
          "dropback 25x": "traces/lenet300-dropback25.trace"}
STEPS = "1:40"  # a slice of the run keeps the example quick

base = accelsim.load_hardware("dropback-edge")
print(f"{'SRAM':>8}  {'run':14}{'DRAM MB/step':>14}{'energy uJ/step':>16}")
for capacity in ("64 KiB", "256 KiB", "1 MiB", "4 MiB"):
    hw = base.replace({"sram.capacity": capacity})
    for name, trace in TRACES.items():
        totals = accelsim.simulate(trace, hw, steps=STEPS).totals
        steps = totals["training_steps"]
        dram = (totals["dram_read_bytes"] + totals["dram_write_bytes"]) / steps
        energy = totals["energy_pj"] / steps
        print(f"{capacity:>8}  {name:14}{dram / 1e6:14.3f}{energy / 1e6:16.2f}")
