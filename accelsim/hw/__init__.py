"""Hardware descriptions: typed, unit-carrying, validated; loaded from models/*.toml.

``load_hardware("edge-lpddr4")`` gives a frozen :class:`Hardware`; ``hw.replace({...})``
a modified copy; energy tables with their sources are in :mod:`accelsim.hw.energy`.
The keys are documented in docs/hardware.md. numpy only, never torch.
"""

from accelsim.hw.description import (
    DTYPE_BYTES,
    Array,
    Dram,
    Dtypes,
    Energy,
    Hardware,
    Regen,
    Sram,
    SramBuffer,
    Storage,
    build_hardware,
    canonical_dtype,
)
from accelsim.hw.dram_standards import DRAM_STANDARDS
from accelsim.hw.energy import (
    ENERGY_TABLES,
    EnergyTable,
    EnergyValue,
    energy_table,
    mac_energy_pj,
    regen_energy_per_value,
    sram_access_energy_pj,
)
from accelsim.hw.loader import PRESET_DIR, list_presets, load_hardware
from accelsim.hw.units import parse_quantity

__all__ = [
    "DRAM_STANDARDS",
    "DTYPE_BYTES",
    "ENERGY_TABLES",
    "PRESET_DIR",
    "Array",
    "Dram",
    "Dtypes",
    "Energy",
    "EnergyTable",
    "EnergyValue",
    "Hardware",
    "Regen",
    "Sram",
    "SramBuffer",
    "Storage",
    "build_hardware",
    "canonical_dtype",
    "energy_table",
    "list_presets",
    "load_hardware",
    "mac_energy_pj",
    "parse_quantity",
    "regen_energy_per_value",
    "sram_access_energy_pj",
]
