"""Energy tables with provenance: every number is an :class:`EnergyValue` carrying its source.

A table is picked by name (``[energy] table = "horowitz-45nm"``) and supplies the
defaults a hardware description does not set: MAC energy per operand dtype and
accumulator (:func:`mac_energy`), SRAM energy per access and SRAM leakage per bank (both
interpolated from the table's capacity points), the DRAM energy per bit of the "ideal"
DRAM, and the primitive operations the regeneration unit's energy is derived from.
Per-standard DRAM energies live in :data:`DRAM_ENERGY_PER_BIT` (and, derived from IDD
currents, in :mod:`accelsim.hw.dram_standards`).

SRAM interpolation (:func:`sram_access_energy_pj`): each table point is turned into
energy per bit (read energy / access width); between the two points around the
requested capacity, energy per bit is interpolated linearly in log(capacity) vs
log(energy) (a power law, as CACTI's curves are close to one); outside the table the
nearest segment's power law is extended. The result is multiplied by the access width:
energy scales linearly with width. That is a simplification: a wider row shares its
decoder and wordline, so real SRAMs grow a little less than linearly with width.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from accelsim.errors import ConfigError

KIB = 1024
MIB = 1024 * 1024

HOROWITZ = "Horowitz, 'Computing's energy problem', ISSCC 2014, 45 nm, 0.9 V"
CACTI_HWC = "CACTI via Accelergy hwcomponents-cacti, 32-bit read"
EYERISS = "Chen et al., Eyeriss, ISCA 2016 (65 nm), energy normalised to one MAC"
TIMELOOP_EYERISS = "Timeloop/Accelergy Eyeriss-like example (65 nm)"
ACCELERGY_DRAM = "Accelergy/hwcomponents DRAM table (read = write)"
# Our own CACTI runs: bench/cacti_points.py writes the configurations, runs a local CACTI
# build and prints every point beside the value here.
CACTI_RUN = ("CACTI 7.0 (HewlettPackard/cacti 1ffd8df) run by accelsim: ram, 1 bank, "
             "64-bit port, 360 K")


@dataclass(frozen=True)
class EnergyValue:
    """One number with its unit and where it comes from."""

    value: float
    unit: str  # "pJ", "pJ/bit", "x MAC" (relative)
    source: str

    def scaled(self, factor: float, how: str) -> EnergyValue:
        """This value times ``factor``; ``how`` says why, appended to the source."""
        return EnergyValue(self.value * factor, self.unit, f"{self.source}; {how}")


@dataclass(frozen=True)
class SramPoint:
    """One SRAM read energy at a capacity and access width (the table's data points)."""

    capacity_bytes: int
    width_bits: int
    read: EnergyValue

    @property
    def pj_per_bit(self) -> float:
        return self.read.value / self.width_bits


@dataclass(frozen=True)
class LeakagePoint:
    """The static power of one SRAM bank of ``capacity_bytes`` (the table's data points)."""

    capacity_bytes: int
    power: EnergyValue  # unit "mW"


@dataclass(frozen=True)
class EnergyTable:
    """A named set of energies for one technology, each with its source."""

    name: str
    description: str
    ops: Mapping[str, EnergyValue]  # primitive operations (MACs, regen derive from them)
    sram_read: tuple[SramPoint, ...]  # sorted by capacity
    sram_leakage: tuple[LeakagePoint, ...]  # sorted by capacity
    dram_per_bit: EnergyValue  # the "ideal" DRAM's default energy per bit
    relative: Mapping[str, EnergyValue] = field(default_factory=dict)  # x one MAC
    cited_mac: Mapping[str, EnergyValue] = field(default_factory=dict)  # whole MACs cited

    @property
    def mac(self) -> Mapping[str, EnergyValue]:
        """One MAC per dtype at that dtype's default accumulator (docs and reports)."""
        return MappingProxyType({dtype: mac_energy(self, dtype) for dtype in DTYPES})


def _pj(value: float, source: str) -> EnergyValue:
    return EnergyValue(value, "pJ", source)


# --- Horowitz ISSCC'14, 45 nm ------------------------------------------------------------

_HOROWITZ_OPS_CITED = {
    "int8_add": _pj(0.03, HOROWITZ),
    "int8_mult": _pj(0.2, HOROWITZ),
    "int32_add": _pj(0.1, HOROWITZ),
    "int32_mult": _pj(3.1, HOROWITZ),
    "fp16_add": _pj(0.4, HOROWITZ),
    "fp16_mult": _pj(1.1, HOROWITZ),
    "fp32_add": _pj(0.9, HOROWITZ),
    "fp32_mult": _pj(3.7, HOROWITZ),
}


def _geometric_midpoint(low: EnergyValue, high: EnergyValue, how: str) -> EnergyValue:
    # 16 bits is the geometric middle of 8 and 32 bits: log-log interpolation.
    return EnergyValue(math.sqrt(low.value * high.value), low.unit,
                       f"{HOROWITZ}; {how}")


def _horowitz_ops() -> dict[str, EnergyValue]:
    ops = dict(_HOROWITZ_OPS_CITED)
    # Horowitz lists no 16-bit integer: interpolated log-log between his 8- and 32-bit values.
    for op in ("add", "mult"):
        ops[f"int16_{op}"] = _geometric_midpoint(
            ops[f"int8_{op}"], ops[f"int32_{op}"],
            "int16 interpolated log-log between the 8- and 32-bit values")
        # Horowitz lists no bf16: the fp16 value is used (bf16's 8-bit mantissa multiplier
        # is smaller than fp16's 11-bit one, so this is an upper bound).
        ops[f"bf16_{op}"] = EnergyValue(ops[f"fp16_{op}"].value, "pJ",
                                        f"{HOROWITZ}; bf16 taken as fp16 (upper bound)")
    return ops


DTYPES = ("int8", "int16", "int32", "fp16", "bf16", "fp32")
INTEGER_DTYPES = ("int8", "int16", "int32")


def default_accumulator(dtype: str) -> str:
    """Where a MAC of ``dtype`` operands accumulates by default: int32 for integers (the
    usual int8 x int8 -> int32 datapath), fp32 for floats (mixed-precision training's
    fp16/bf16 x fp16/bf16 with fp32 accumulation, Micikevicius et al., ICLR 2018)."""
    return "int32" if dtype in INTEGER_DTYPES else "fp32"


def mac_energy(table: EnergyTable, dtype: str, accumulator: str | None = None) -> EnergyValue:
    """One multiply-accumulate of ``dtype`` operands into an ``accumulator`` (default
    :func:`default_accumulator`): the table's multiply of the operand dtype plus its add
    of the accumulator dtype (Horowitz's decomposition), or the whole MAC where the
    table cites one for that dtype at its default accumulator."""
    if dtype not in DTYPES:
        raise ConfigError(f'unknown dtype "{dtype}" (known: {", ".join(DTYPES)})')
    accumulator = accumulator or default_accumulator(dtype)
    if dtype in table.cited_mac and accumulator == default_accumulator(dtype):
        return table.cited_mac[dtype]
    mult, add = table.ops[f"{dtype}_mult"], table.ops[f"{accumulator}_add"]
    return _pj(mult.value + add.value,
               f"{dtype} mult + {accumulator} add: {mult.source}")


_HOROWITZ_OPS = _horowitz_ops()

_HOROWITZ_SRAM = (
    SramPoint(8 * KIB, 64, _pj(10.0, f"{HOROWITZ}: SRAM 64-bit read, 8 KB")),
    SramPoint(32 * KIB, 64, _pj(20.0, f"{HOROWITZ}: SRAM 64-bit read, 32 KB")),
    SramPoint(1 * MIB, 64, _pj(100.0, f"{HOROWITZ}: SRAM 64-bit read, 1 MB")),
)

# Horowitz: DRAM 64-bit access 1.3-2.6 nJ; the midpoint, 1.95 nJ / 64 bit = 30.5 pJ/bit.
_HOROWITZ_DRAM = EnergyValue(1950.0 / 64, "pJ/bit",
                             f"{HOROWITZ}: DRAM 64-bit access 1.3-2.6 nJ, midpoint / 64 bit")

# --- SRAM leakage: our CACTI runs ----------------------------------------------------------
# The cacti-45nm read points below are CACTI's itrs-hp cells at 360 K (our run of the same
# configuration reads 5.27 pJ for an 8 KB 32-bit read against the table's 5.25), so leakage
# comes from the same cells: static power of one bank, mW. itrs-hp at 360 K is the hot,
# leaky corner; low-power designs take the cacti-45nm-lop table (itrs-lop cells leak ~70x
# less and read ~40% cheaper), or set sram.leakage_power.

def _leakage(node: str, cells: str, points: tuple[tuple[int, float], ...]):
    return tuple(LeakagePoint(capacity, EnergyValue(
        mw, "mW", f"{CACTI_RUN}, {node}, {cells} cells and periphery, {capacity // KIB} KB"))
        for capacity, mw in points)


_HP_45_LEAKAGE = _leakage("45 nm", "itrs-hp", (
    (8 * KIB, 10.99), (32 * KIB, 40.93), (128 * KIB, 149.7), (1 * MIB, 1198.0),
    (4 * MIB, 4787.0)))
_HP_22_LEAKAGE = _leakage("22 nm", "itrs-hp", (
    (8 * KIB, 2.925), (32 * KIB, 10.49), (128 * KIB, 38.69), (1 * MIB, 308.8),
    (4 * MIB, 1228.0)))
_LOP_45_LEAKAGE = _leakage("45 nm", "itrs-lop", (
    (8 * KIB, 0.1517), (32 * KIB, 0.5671), (128 * KIB, 2.079), (1 * MIB, 16.59),
    (4 * MIB, 66.05)))
# Eyeriss was built in TSMC 65 nm LP: its leakage comes from CACTI's low-operating-power
# cells (itrs-hp would give 165 mW for a 128 KB bank, over half the chip's measured 278 mW
# at 200 MHz, Chen et al., ISSCC 2016).
_LOP_65_LEAKAGE = _leakage("65 nm", "itrs-lop", (
    (8 * KIB, 0.414), (32 * KIB, 1.540), (128 * KIB, 5.646), (1 * MIB, 42.95),
    (4 * MIB, 179.4)))

# --- CACTI (hwcomponents-cacti), 32-bit reads --------------------------------------------

_CACTI_45_SRAM = (
    SramPoint(8 * KIB, 32, _pj(5.25, f"{CACTI_HWC}, 45 nm, 8 KB")),
    SramPoint(32 * KIB, 32, _pj(11.8, f"{CACTI_HWC}, 45 nm, 32 KB")),
    SramPoint(1 * MIB, 32, _pj(68.4, f"{CACTI_HWC}, 45 nm, 1 MB")),
)
_CACTI_22_SRAM = (
    SramPoint(8 * KIB, 32, _pj(1.82, f"{CACTI_HWC}, 22 nm, 8 KB")),
    SramPoint(32 * KIB, 32, _pj(2.55, f"{CACTI_HWC}, 22 nm, 32 KB")),
    SramPoint(1 * MIB, 32, _pj(14.8, f"{CACTI_HWC}, 22 nm, 1 MB")),
)

_CACTI_RUN_LOP_45 = f"{CACTI_RUN}, 45 nm, itrs-lop cells and periphery, 32-bit read"
_CACTI_45_LOP_SRAM = (
    SramPoint(8 * KIB, 32, _pj(3.184, f"{_CACTI_RUN_LOP_45}, 8 KB")),
    SramPoint(32 * KIB, 32, _pj(6.904, f"{_CACTI_RUN_LOP_45}, 32 KB")),
    SramPoint(1 * MIB, 32, _pj(28.93, f"{_CACTI_RUN_LOP_45}, 1 MB")),
)

# --- Eyeriss (65 nm) ----------------------------------------------------------------------

_EYERISS_MAC_INT8 = _pj(0.21, f"{TIMELOOP_EYERISS}: 8-bit MAC")
# Other dtypes and primitive ops: Horowitz's values scaled so that int8 mult + add = 0.21 pJ.
_EYERISS_SCALE = _EYERISS_MAC_INT8.value / (
    _HOROWITZ_OPS["int8_mult"].value + _HOROWITZ_OPS["int8_add"].value)
_EYERISS_OPS = {
    op: value.scaled(_EYERISS_SCALE, "scaled so that an int8 MAC = 0.21 pJ (Timeloop Eyeriss)")
    for op, value in _HOROWITZ_OPS.items()
}
_EYERISS_RELATIVE = {
    "dram": EnergyValue(200.0, "x MAC", f"{EYERISS}: DRAM"),
    "global_buffer": EnergyValue(6.0, "x MAC", f"{EYERISS}: global buffer (>100 kB)"),
    "inter_pe": EnergyValue(2.0, "x MAC", f"{EYERISS}: inter-PE (array)"),
    "register_file": EnergyValue(1.0, "x MAC", f"{EYERISS}: register file (0.5 kB)"),
}
_EYERISS_SRAM = (
    # The RF of one PE (~0.5 KB of 16-bit words) costs 1x a MAC (Eyeriss), MAC = 0.21 pJ.
    SramPoint(512, 16, _pj(0.21, f"{EYERISS}: register file = 1x MAC; "
                                 f"MAC 0.21 pJ ({TIMELOOP_EYERISS})")),
    SramPoint(128 * KIB, 64, _pj(18.18, f"{TIMELOOP_EYERISS}: 128 KB global buffer, "
                                        "64-bit read")),
)
_EYERISS_DRAM = EnergyValue(512.0 / 64, "pJ/bit", f"{TIMELOOP_EYERISS}: LPDDR4 64-bit access "
                                                  "512 pJ / 64 bit")


def _freeze(mapping: Mapping[str, EnergyValue]) -> Mapping[str, EnergyValue]:
    return MappingProxyType(dict(mapping))


def _table(name, description, ops, sram, leakage, dram, relative=None,
           cited_macs=None) -> EnergyTable:
    return EnergyTable(name=name, description=description, ops=_freeze(ops),
                       sram_read=tuple(sorted(sram, key=lambda point: point.capacity_bytes)),
                       sram_leakage=tuple(sorted(leakage, key=lambda p: p.capacity_bytes)),
                       dram_per_bit=dram, relative=_freeze(relative or {}),
                       cited_mac=_freeze(cited_macs or {}))


_HOROWITZ_45_OPS_NOTE = "MAC and logic ops from Horowitz 45 nm"
ENERGY_TABLES: Mapping[str, EnergyTable] = MappingProxyType({
    table.name: table
    for table in (
        _table("horowitz-45nm", "Horowitz ISSCC'14, 45 nm: MACs, 64-bit SRAM reads, DRAM",
               _HOROWITZ_OPS, _HOROWITZ_SRAM, _HP_45_LEAKAGE, _HOROWITZ_DRAM),
        _table("cacti-45nm", f"CACTI 45 nm 32-bit SRAM reads; {_HOROWITZ_45_OPS_NOTE}; "
                             "DRAM from Horowitz (off-chip, not on the logic node)",
               _HOROWITZ_OPS, _CACTI_45_SRAM, _HP_45_LEAKAGE, _HOROWITZ_DRAM),
        _table("cacti-45nm-lop", f"CACTI 45 nm low-operating-power (itrs-lop) SRAM: 32-bit "
                                 f"reads and leakage; {_HOROWITZ_45_OPS_NOTE}; DRAM from "
                                 "Horowitz",
               _HOROWITZ_OPS, _CACTI_45_LOP_SRAM, _LOP_45_LEAKAGE, _HOROWITZ_DRAM),
        _table("cacti-22nm", f"CACTI 22 nm 32-bit SRAM reads; {_HOROWITZ_45_OPS_NOTE} (no "
                             "22 nm MAC numbers are cited: override array.mac_energy); "
                             "DRAM from Horowitz",
               _HOROWITZ_OPS, _CACTI_22_SRAM, _HP_22_LEAKAGE, _HOROWITZ_DRAM),
        _table("eyeriss-65nm", "Eyeriss 65 nm: Timeloop example MAC, global buffer and "
                               "LPDDR4; Eyeriss relative costs",
               _EYERISS_OPS, _EYERISS_SRAM, _LOP_65_LEAKAGE, _EYERISS_DRAM,
               _EYERISS_RELATIVE,
               cited_macs={"int8": _EYERISS_MAC_INT8}),
    )
})

# DRAM energy per bit per standard family (Accelergy's table; read = write; an all-in
# average per bit moved: activation energy is folded in).
DRAM_ENERGY_PER_BIT: Mapping[str, EnergyValue] = MappingProxyType({
    "lpddr4": EnergyValue(8.0, "pJ/bit", f"{ACCELERGY_DRAM}: LPDDR4"),
    "hbm2": EnergyValue(6.25, "pJ/bit", f"{ACCELERGY_DRAM}: HBM2"),
    "ddr3": EnergyValue(70.0, "pJ/bit", f"{ACCELERGY_DRAM}: DDR3"),
    "lpddr": EnergyValue(40.0, "pJ/bit", f"{ACCELERGY_DRAM}: LPDDR"),
    "hbm3": EnergyValue(4.05, "pJ/bit", f"{ACCELERGY_DRAM}: HBM3"),
})


def energy_table(name: str) -> EnergyTable:
    """The table called ``name``; ConfigError naming the known tables otherwise."""
    try:
        return ENERGY_TABLES[name]
    except KeyError:
        known = ", ".join(ENERGY_TABLES)
        raise ConfigError(f'unknown energy table "{name}" (known: {known})') from None


def mac_energy_pj(table: EnergyTable, dtype: str, accumulator: str | None = None) -> float:
    """Energy of one multiply-accumulate of ``dtype`` operands, in pJ (:func:`mac_energy`)."""
    return mac_energy(table, dtype, accumulator).value


def sram_access_energy_pj(table: EnergyTable, capacity_bytes: float, width_bits: int) -> float:
    """Energy of one ``width_bits``-wide access to an SRAM of ``capacity_bytes``, in pJ.

    Interpolated log-log in capacity between the table's points (energy per bit), then
    scaled linearly with width; see the module docstring.
    """
    if capacity_bytes <= 0 or width_bits <= 0:
        raise ValueError("capacity and width must be positive")
    lower, upper = _bracketing_points(table.sram_read, capacity_bytes)
    slope = (math.log(upper.pj_per_bit / lower.pj_per_bit)
             / math.log(upper.capacity_bytes / lower.capacity_bytes))
    pj_per_bit = lower.pj_per_bit * (capacity_bytes / lower.capacity_bytes) ** slope
    return pj_per_bit * width_bits


def sram_leakage_w(table: EnergyTable, bank_capacity_bytes: float) -> float:
    """Static power of one SRAM bank of ``bank_capacity_bytes``, in W: interpolated
    log-log in capacity between the table's CACTI points, as read energy is."""
    if bank_capacity_bytes <= 0:
        raise ValueError("capacity must be positive")
    lower, upper = _bracketing_points(table.sram_leakage, bank_capacity_bytes)
    slope = (math.log(upper.power.value / lower.power.value)
             / math.log(upper.capacity_bytes / lower.capacity_bytes))
    return lower.power.value * (bank_capacity_bytes / lower.capacity_bytes) ** slope / 1e3


def _bracketing_points(points: tuple, capacity_bytes: float):
    """The two neighbouring points around ``capacity_bytes`` (the end pair outside the range)."""
    for lower, upper in zip(points, points[1:], strict=False):
        if capacity_bytes <= upper.capacity_bytes:
            return lower, upper
    return points[-2], points[-1]


# --- the regeneration unit's energy, derived ----------------------------------------------

@dataclass(frozen=True)
class RegenStep:
    """One line of the regen datapath's energy derivation: ``count`` operations ``op``."""

    what: str
    op: str  # a key of EnergyTable.ops
    count: float  # how many table operations (64-bit widths folded in as multiples)


# Producing one value in accelsim.regen's generator (Weyl counter -> xorshift-multiply
# scrambler -> Box-Muller), costed in the table's 32-bit integer and fp32 operations.
# A 64-bit adder costs ~2x a 32-bit one (linear in width); a 64-bit multiplier ~4x a
# 32-bit one (array multipliers grow with width squared: Horowitz's 8 -> 32-bit multiply
# goes 0.2 -> 3.1 pJ, 15.5x for 4x the width). ln, sqrt and cos are each a degree-5
# polynomial evaluated by Horner's rule (5 multiplies + 5 adds) after range reduction.
REGEN_DATAPATH: tuple[RegenStep, ...] = (
    RegenStep("Weyl counter: one 64-bit add", "int32_add", 2),
    RegenStep("three 64-bit xor-shifts (costed as 64-bit adds, an upper bound)", "int32_add", 6),
    RegenStep("two 64-bit multiplies of the scrambler", "int32_mult", 8),
    RegenStep("two 32-bit uniforms converted to fp32", "fp32_add", 2),
    RegenStep("ln, sqrt, cos: 3 degree-5 polynomials, 5 adds each", "fp32_add", 15),
    RegenStep("ln, sqrt, cos: 3 degree-5 polynomials, 5 multiplies each", "fp32_mult", 15),
    RegenStep("-2*ln(u1), 2*pi*u2, r*cos(theta), *std", "fp32_mult", 4),
)


def regen_energy_per_value(table: EnergyTable) -> EnergyValue:
    """Energy to regenerate one initial weight value, derived from ``table``'s operations."""
    total = sum(step.count * table.ops[step.op].value for step in REGEN_DATAPATH)
    return _pj(total, f"derived: {len(REGEN_DATAPATH)}-step xorshift + Box-Muller datapath "
                      f"costed with {table.name} operations (accelsim.hw.energy.REGEN_DATAPATH)")
