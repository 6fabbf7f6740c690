"""Physical bounds of the hardware keys: values no real accelerator has are refused.

Each bound is an upper limit in base units (the lower limits are the keys' own checks:
positive, or non-negative where 0 is meaningful and the replay handles it), generous
enough for any part built or announced, tight enough that a typo of a few orders of
magnitude (10^6 DRAM channels, 10^18 PE rows, a 10^30 Hz clock) is caught instead of
being simulated to finite but meaningless numbers. docs/hardware.md shows each bound
with its key (generated from this table).
"""

from __future__ import annotations

import re
from typing import Any

GIB, TIB = 2**30, 2**40

# dotted key -> (largest value in base units, how the docs show it)
BOUNDS: dict[str, tuple[float, str]] = {
    "array.rows": (65536, "65,536"),
    "array.cols": (65536, "65,536"),
    "array.clock": (10e9, "10 GHz"),
    "array.mac_energy": (1e4, "10 nJ"),
    "vector.lanes": (1 << 20, "1,048,576"),
    "vector.clock": (10e9, "10 GHz"),
    "sram.capacity": (TIB, "1 TiB"),
    "sram.ifmap_capacity": (TIB, "1 TiB"),
    "sram.filter_capacity": (TIB, "1 TiB"),
    "sram.ofmap_capacity": (TIB, "1 TiB"),
    "sram.banks": (4096, "4,096"),
    "sram.ports": (64, "64"),
    "sram.width": (8192, "8,192 bit"),
    "sram.read_energy": (1e6, "1 uJ"),
    "sram.write_energy": (1e6, "1 uJ"),
    "sram.leakage_power": (1e3, "1 kW"),
    "dram.channels": (256, "256"),
    "dram.ranks": (16, "16"),
    "dram.banks": (256, "256"),
    "dram.row_size": (2**20, "1 MiB"),
    "dram.burst_length": (64, "64"),
    "dram.bus_width": (4096, "4,096 bit"),
    "dram.data_rate": (1e11, "100 GT/s"),
    **{f"dram.{t}": (1e-3, "1 ms") for t in (
        "tCK", "tCL", "tRCD", "tRP", "tRAS", "tCCD", "tRRD", "tFAW", "tWR", "tRTP", "tRFC",
        "tREFI", "tCWL", "tWTR", "tRTW", "tCCD_L", "tRRD_L", "tWTR_L")},
    "dram.bank_groups": (64, "64"),
    "dram.scheduler_window": (4096, "4,096"),
    "dram.bandwidth_efficiency": (1.0, "1: the peak"),
    "dram.read_energy": (1e4, "10 nJ/bit"),
    "dram.write_energy": (1e4, "10 nJ/bit"),
    "dram.act_energy": (1e6, "1 uJ"),
    "dram.pre_energy": (1e6, "1 uJ"),
    "dram.background_power": (1e3, "1 kW"),
    "dram.refresh_power": (1e3, "1 kW"),
    "dram.vdd": (5.0, "5 V"),
    **{f"dram.{i}": (1e4, "10 A per device") for i in (
        "idd0", "idd2n", "idd3n", "idd4r", "idd4w", "idd5ab")},
    "dram.device_width": (1024, "1024 bit"),
    "dram.bandwidth_words_per_cycle": (1e6, "10^6"),
    "regen.lanes": (65536, "65,536"),
    "regen.latency": (10**6, "10^6 cycles"),
    "regen.energy_per_value": (1e6, "1 uJ"),
    "mapping.chunks": (65536, "65,536"),
}


def bound_of(dotted: str) -> tuple[float, str] | None:
    """The bound of a dotted key (``array.mac_energy.fp16`` has ``array.mac_energy``'s,
    ``mapping[2].chunks`` has ``mapping.chunks``')."""
    parts = re.sub(r"\[\d+\]", "", dotted).split(".")
    for end in range(len(parts), 0, -1):
        found = BOUNDS.get(".".join(parts[:end]))
        if found is not None:
            return found
    return None


def check_bound(dotted: str, parsed: Any, shown: str) -> str:
    """Why ``parsed`` exceeds the key's bound, or ''."""
    found = bound_of(dotted)
    if found is None or not isinstance(parsed, int | float) or isinstance(parsed, bool):
        return ""
    limit, text = found
    if parsed > limit:
        return f"{shown} is beyond any real part (at most {text})"
    return ""


def physical_problem(hw) -> tuple[str, str] | None:
    """(dotted key, reason) for a combination no replay can cost, or None.

    - one tile fits: every operand's share of its buffer's working set holds the
      smallest tile the array moves in a cycle, one vector along its longer edge
      (max(rows, cols) values of the wider of the weight and activation dtypes); larger
      operands are cut into chunks and refetched, which the replay costs;
    - a regeneration unit is weighed against DRAM reads, so their energy must not be 0.
    """
    rows, cols = hw.array.rows, hw.array.cols
    width = max(hw.dtypes.weights_bytes, hw.dtypes.activations_bytes)
    tile = max(rows, cols) * width
    share = 3 if hw.sram.organization == "unified" else 1
    for buffer in hw.sram.buffers:
        usable = buffer.working_set_bytes / share
        if usable < tile:
            key = "sram.capacity" if buffer.name == "unified" or \
                hw.sram.organization == "unified" else f"sram.{buffer.name}_capacity"
            return key, (f"the {buffer.name} buffer leaves {usable:g} bytes of working set "
                         f"per operand, less than one tile of a {rows}x{cols} array "
                         f"({max(rows, cols)} values of {width} bytes)")
    if hw.regen is not None and hw.dram.read_energy_pj_per_bit == 0:
        return "dram.read_energy", ("0 with a regeneration unit: the replay weighs a "
                                    "regenerated value against a DRAM byte's energy; give "
                                    "the DRAM a read energy, or drop [regen]")
    return None
