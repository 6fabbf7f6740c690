"""The hardware description: typed, frozen dataclasses with units in their field names.

Each part of an accelerator (PE array, SRAM, DRAM, regeneration unit, weight storage
format, dtypes, energy table) is one dataclass; every field carries its TOML key, unit
kind, default and a one-line description in its metadata (see :mod:`accelsim.hw.schema`),
from which docs/hardware.md's key reference is generated. Values are in base units
(bytes, bits, Hz, seconds, pJ, pJ/bit, W). :func:`build_hardware` turns TOML-style
tables into a validated :class:`Hardware`; :mod:`accelsim.hw.loader` reads the files.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from accelsim.hw.bounds import physical_problem
from accelsim.hw.dram_standards import DRAM_STANDARDS, IDD_KEYS, IDEAL, IddModel
from accelsim.hw.energy import (
    DTYPES,
    ENERGY_TABLES,
    EnergyTable,
    default_accumulator,
    mac_energy_pj,
    regen_energy_per_value,
    sram_access_energy_pj,
    sram_leakage_w,
)
from accelsim.hw.schema import (
    COMPUTED,
    Context,
    Param,
    derived,
    keys_of,
    param,
    params_of,
    parse_value,
    read_params,
    reject_unknown_keys,
    suggestion,
)
from accelsim.hw.sparsity import Sparsity, build_sparsity

DATAFLOWS = ("ws", "os", "is")
ORGANIZATIONS = ("per_operand", "unified")
SRAM_BUFFERS = ("ifmap", "filter", "ofmap")
UNIFIED = "unified"
STORAGE_FORMATS = ("dense", "bitmap", "csr", "coo")
DTYPE_BYTES = {"int8": 1, "int16": 2, "int32": 4, "fp16": 2, "bf16": 2, "fp32": 4}
ADDRESS_FIELDS = ("row", "rank", "bank", "column", "channel")
CSR_DEFAULT_INDEX_BITS = 4  # EIE (Han et al., ISCA 2016): 4-bit relative row index
REGEN_DEFAULT_LATENCY = 60  # cycles; estimated pipeline depth, see docs/hardware.md
SECTIONS = ("array", "sram", "dram", "regen", "storage", "dtypes", "energy", "mapping",
            "fusion")
RESIDENCY_POLICIES = ("nearest_use", "none")  # accelsim.sim.residency
SECTIONS += ("sparsity", "vector")  # zero-skipping (accelsim.hw.sparsity); vector unit
GEMM_PHASES = ("fwd", "bwd_data", "bwd_weight")
LOOP_ORDERS = ("rows-outer", "cols-outer")

# Accept the names PyTorch and numpy use for the same dtypes (traces record those).
DTYPE_ALIASES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "half": "fp16",
                 "float": "fp32"}


def canonical_dtype(name: str) -> str:
    """'float32' -> 'fp32'; a name already in DTYPE_BYTES comes back unchanged."""
    return DTYPE_ALIASES.get(name, name)


# --- the parts ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Array:
    """The PE array: rows x cols MAC units running one dataflow at one clock."""

    rows: int = param("rows", "count", "PE rows (SCALE-Sim ArrayHeight)")
    cols: int = param("cols", "count", "PE columns (SCALE-Sim ArrayWidth)")
    dataflow: str = param("dataflow", "choice", "what stays put in the PEs: weights (ws), "
                          "outputs (os) or inputs (is)", default="ws", choices=DATAFLOWS)
    clock_hz: float = param("clock", "frequency", "array clock: one MAC per PE per cycle")
    tiling: bool = param("tiling", "flag", "cut a fold's stream into chunks when that saves "
                         "DRAM traffic; false streams whole folds as SCALE-Sim does",
                         default=True)
    mac_energy_pj_by_dtype: tuple[tuple[str, float], ...] = param(
        "mac_energy", "energy_by_dtype", "energy of one multiply-accumulate of operands in a "
        "dtype, accumulating in dtypes.accumulator, as a table (`[array.mac_energy]` "
        '`fp16 = "2 pJ"`); dtypes left out come from the table',
        default=COMPUTED, default_doc="the table's multiply of the dtype + add of the "
        "accumulator")

    @property
    def pe_count(self) -> int:
        """rows x cols."""
        return self.rows * self.cols

    @property
    def cycle_s(self) -> float:
        """One array clock period in seconds."""
        return 1.0 / self.clock_hz

    def mac_energy_pj(self, dtype: str) -> float:
        """Energy of one MAC in ``dtype`` (``fp16``, or an alias such as ``float16``)."""
        return dict(self.mac_energy_pj_by_dtype)[canonical_dtype(dtype)]


@dataclass(frozen=True)
class SramBuffer:
    """One on-chip buffer as the simulator sees it (derived from [sram])."""

    name: str = derived("ifmap, filter or ofmap (per_operand), or unified", "text")
    capacity_bytes: int = derived("size of this buffer", "size")
    working_set_bytes: int = derived("bytes one tile may occupy: half the capacity when "
                                     "double-buffered, else all of it", "size")
    read_energy_pj: float = derived("energy of one read of sram.width bits", "energy")
    write_energy_pj: float = derived("energy of one write of sram.width bits", "energy")


@dataclass(frozen=True)
class Sram:
    """On-chip SRAM: three per-operand buffers (SCALE-Sim) or one unified buffer."""

    organization: str = param("organization", "choice", "three buffers, one per operand "
                              "(ifmap, filter, ofmap; SCALE-Sim), or one shared buffer",
                              default="per_operand", choices=ORGANIZATIONS)
    capacity_bytes: int = param("capacity", "size", "per_operand: the size of each buffer; "
                                "unified: the size of the one buffer")
    ifmap_capacity_bytes: int | None = param(
        "ifmap_capacity", "size", "per_operand only: ifmap buffer size (SCALE-Sim "
        "IfmapSramSzkB)", default=COMPUTED, default_doc="capacity")
    filter_capacity_bytes: int | None = param(
        "filter_capacity", "size", "per_operand only: filter buffer size (FilterSramSzkB)",
        default=COMPUTED, default_doc="capacity")
    ofmap_capacity_bytes: int | None = param(
        "ofmap_capacity", "size", "per_operand only: ofmap buffer size (OfmapSramSzkB)",
        default=COMPUTED, default_doc="capacity")
    banks: int = param("banks", "count", "banks per buffer; an access touches one bank",
                       default=1)
    ports: int = param("ports", "count", "ports per bank (accesses per cycle)", default=2)
    width_bits: int = param("width", "bits", "bits per access of one port", default="64 bit")
    read_energy_pj: float | None = param(
        "read_energy", "energy", "energy of one read, for every buffer",
        default=COMPUTED, default_doc="energy table at (capacity / banks, width)")
    write_energy_pj: float | None = param(
        "write_energy", "energy", "energy of one write, for every buffer",
        default=COMPUTED, default_doc="the table's read energy (tables list reads only)")
    leakage_power_w: float = param(
        "leakage_power", "power", "static power of all the SRAM", default=COMPUTED,
        default_doc="the energy table's CACTI leakage per bank x banks, every buffer",
        check="non_negative")
    double_buffered: bool = param("double_buffered", "flag", "half of each buffer is the "
                                  "working set while the other half fills", default=True)
    residency: str = param(
        "residency", "choice", "which tensors stay on chip between their uses: "
        "nearest_use keeps those used again soonest while they fit (activations, their "
        "stash, gradients, weights and optimizer state; docs/simulator.md); none sends "
        "every operand through DRAM (SCALE-Sim)", default="nearest_use",
        choices=RESIDENCY_POLICIES)
    buffers: tuple[SramBuffer, ...] = derived("the buffers with their capacities and "
                                              "resolved energies", "section")

    def buffer(self, operand: str) -> SramBuffer:
        """The buffer ``operand`` (ifmap, filter, ofmap) lives in; the one buffer if unified."""
        if self.organization == UNIFIED:
            return self.buffers[0]
        return next(buffer for buffer in self.buffers if buffer.name == operand)

    @property
    def total_capacity_bytes(self) -> int:
        """All buffers together."""
        return sum(buffer.capacity_bytes for buffer in self.buffers)


def _timing(key: str, doc: str) -> Any:
    return param(key, "duration", doc, default=COMPUTED, default_doc="from the standard")


def _from_idd(key: str, kind: str, doc: str) -> Any:
    return param(key, kind, doc, default=COMPUTED, check="non_negative",
                 default_doc="from the IDD currents (0 beside a flat read_energy/write_energy)")


def _idd(key: str, kind: str, doc: str) -> Any:
    return param(key, kind, doc, default=COMPUTED,
                 default_doc="from the standard (a description gives all eight IDD keys or none)")


def _from_standard(key: str, kind: str, doc: str, check: str = "positive") -> Any:
    return param(key, kind, doc, default=COMPUTED, default_doc="from the standard",
                 check=check)


@dataclass(frozen=True)
class Dram:
    """Off-chip DRAM: a JEDEC-style standard (timings, banks, energies) or SCALE-Sim's ideal.

    For ``standard = "ideal"`` only ``bandwidth_words_per_cycle`` and the energies per bit
    apply; the organisation and timing fields are None.
    """

    standard: str = param("standard", "choice", "DRAM standard; its values are the defaults "
                          "of every other key", choices=tuple(DRAM_STANDARDS))
    channels: int | None = param("channels", "count", "independent channels", default=1)
    ranks: int | None = param("ranks", "count", "ranks per channel", default=1)
    banks: int | None = _from_standard("banks", "count", "banks per rank")
    row_size_bytes: int | None = _from_standard("row_size", "size",
                                                "row (page) size of one rank")
    burst_length: int | None = _from_standard("burst_length", "count", "beats per burst")
    bus_width_bits: int | None = _from_standard("bus_width", "bits", "data bus width of one "
                                                "channel")
    data_rate_transfers_per_s: float | None = _from_standard("data_rate", "transfer_rate",
                                                             "transfers per second per pin")
    tck_s: float | None = _timing("tCK", "clock period")
    tcl_s: float | None = _timing("tCL", "read command to first data (CAS latency)")
    trcd_s: float | None = _timing("tRCD", "ACT to read/write")
    trp_s: float | None = _timing("tRP", "PRE to ACT (precharge)")
    tras_s: float | None = _timing("tRAS", "ACT to PRE, at least")
    tccd_s: float | None = _timing("tCCD", "column command to column command (different "
                                   "bank groups: tCCD_S)")
    trrd_s: float | None = _timing("tRRD", "ACT to ACT, different banks (different bank "
                                   "groups: tRRD_S)")
    tfaw_s: float | None = _timing("tFAW", "window holding at most four ACTs")
    twr_s: float | None = _timing("tWR", "end of write data to PRE (write recovery)")
    trtp_s: float | None = _timing("tRTP", "read to PRE")
    tcwl_s: float | None = _timing("tCWL", "write command to first write data (write latency)")
    twtr_s: float | None = _timing("tWTR", "end of write data to read command, same rank "
                                   "(different bank groups: tWTR_S)")
    trtw_s: float | None = _timing("tRTW", "read command to write command, same rank "
                                   "(bus turnaround)")
    bank_groups: int | None = _from_standard("bank_groups", "count", "bank groups per rank "
                                             "(1: none); a bank's group is the low bits of its "
                                             "bank number")
    tccd_l_s: float | None = _timing("tCCD_L", "column command to column command, same bank "
                                     "group")
    trrd_l_s: float | None = _timing("tRRD_L", "ACT to ACT, same bank group")
    twtr_l_s: float | None = _timing("tWTR_L", "end of write data to read command, same bank "
                                     "group")
    trfc_s: float | None = _timing("tRFC", "refresh command duration")
    trefi_s: float | None = _timing("tREFI", "average refresh interval")
    read_energy_pj_per_bit: float = param(
        "read_energy", "energy_per_bit", "energy per bit read (one burst = this x burst bits); "
        "set here: a flat, all-in price (ACT, PRE, background, refresh then 0 unless set)",
        default=COMPUTED, default_doc="from the IDD currents (ideal: the energy table)",
        check="non_negative")
    write_energy_pj_per_bit: float = param(
        "write_energy", "energy_per_bit", "energy per bit written; set here: flat, as "
        "read_energy", default=COMPUTED,
        default_doc="from the IDD currents (ideal: the energy table)", check="non_negative")
    act_energy_pj: float | None = _from_idd("act_energy", "energy", "energy of one ACT")
    pre_energy_pj: float | None = _from_idd("pre_energy", "energy", "energy of one PRE")
    background_power_w: float | None = _from_idd(
        "background_power", "power", "standby power of one rank")
    refresh_power_w: float | None = _from_idd(
        "refresh_power", "power", "average refresh power of one rank")
    vdd_v: float | None = _idd("vdd", "voltage", "supply voltage the IDD currents are drawn at")
    idd0_ma: float | None = _idd("idd0", "current", "one device's current, ACT-PRE every tRC")
    idd2n_ma: float | None = _idd("idd2n", "current", "one device's precharge standby current")
    idd3n_ma: float | None = _idd("idd3n", "current", "one device's active standby current")
    idd4r_ma: float | None = _idd("idd4r", "current", "one device's current, reading in bursts")
    idd4w_ma: float | None = _idd("idd4w", "current", "one device's current, writing in bursts")
    idd5ab_ma: float | None = _idd("idd5ab", "current", "one device's all-bank refresh current")
    device_width_bits: int | None = _idd("device_width", "bits", "data width of one device "
                                         "(bus_width / this = devices drawing the currents)")
    address_mapping: tuple[str, ...] | None = param(
        "address_mapping", "address_mapping", "address fields from most to least significant "
        'above the burst offset: "row:bank:column" (row-major), "row:column:bank" (bank-'
        "interleaved) or a list; a left-out rank goes after row, a left-out channel last",
        default="row:bank:column")
    bandwidth_efficiency: float | None = _from_standard(
        "bandwidth_efficiency", "number", "share of the peak bandwidth the bandwidth model's "
        "transfers achieve (it charges bytes / (peak x this)); the standards' values are "
        "calibrated against the burst-level model (bench/dram_calibration.py)")
    scheduler_window: int | None = _from_standard(
        "scheduler_window", "count", "pending requests per channel the burst-level model's "
        "first-ready scheduler chooses from; the standards' values are chosen from the "
        "comparison with DRAMsim3 (docs/validation.md)")
    bandwidth_words_per_cycle: float | None = param(
        "bandwidth_words_per_cycle", "number", 'ideal only: words of dtypes.weights moved '
        "per array cycle (SCALE-Sim Bandwidth)", default=COMPUTED,
        default_doc='required when standard = "ideal"')

    @property
    def is_ideal(self) -> bool:
        """SCALE-Sim's ideal DRAM: bandwidth only, no timing."""
        return self.standard == IDEAL

    @property
    def efficiency(self) -> float:
        """bandwidth_efficiency, 1 for the ideal DRAM (it moves its words every cycle)."""
        return 1.0 if self.bandwidth_efficiency is None else self.bandwidth_efficiency

    @property
    def burst_bytes(self) -> int | None:
        """Bytes one burst moves on one channel."""
        if self.is_ideal:
            return None
        return self.bus_width_bits // 8 * self.burst_length

    @property
    def peak_bandwidth_bytes_per_s(self) -> float | None:
        """All channels at their data rate; None for the ideal DRAM (see Hardware)."""
        if self.is_ideal:
            return None
        return self.data_rate_transfers_per_s * self.bus_width_bits / 8 * self.channels

    @property
    def trc_s(self) -> float | None:
        """ACT to ACT in one bank: tRAS + tRP."""
        return None if self.is_ideal else self.tras_s + self.trp_s

    @property
    def total_banks(self) -> int | None:
        """channels x ranks x banks."""
        return None if self.is_ideal else self.channels * self.ranks * self.banks

    @property
    def read_burst_energy_pj(self) -> float | None:
        """Energy of one read burst: read energy per bit x burst bits."""
        return None if self.is_ideal else self.read_energy_pj_per_bit * self.burst_bytes * 8


@dataclass(frozen=True)
class Regen:
    """The regeneration unit: recomputes initial weight values (accelsim.regen) on chip.

    It runs at the array clock. Whether a design without one must fetch initial values
    from DRAM is for the simulator to decide; this only describes the unit.
    """

    lanes: int = param("lanes", "count", "values produced per array cycle")
    latency_cycles: int = param("latency", "count", "cycles from request to first value "
                                "(pipeline depth)", default=REGEN_DEFAULT_LATENCY)
    energy_per_value_pj: float = param(
        "energy_per_value", "energy", "energy to produce one value", default=COMPUTED,
        default_doc="derived from the energy table's operations")


@dataclass(frozen=True)
class Vector:
    """The vector (SIMD) unit: runs every op of the step that is not a GEMM — norms,
    activations, pooling, adds, softmax, the loss, the optimizer's arithmetic."""

    lanes: int = param("lanes", "count", "elementwise operations per vector-unit cycle")
    clock_hz: float | None = param("clock", "frequency", "vector-unit clock",
                                   default=COMPUTED, default_doc="the array clock")

    def clock_of(self, array: Array) -> float:
        """Its clock: its own, or the array's."""
        return self.clock_hz or array.clock_hz


@dataclass(frozen=True)
class Fusion:
    """Work the accelerator fuses instead of sending it through DRAM."""

    weight_update: bool = param(
        "weight_update", "flag", "the weight-gradient GEMM applies the optimizer update "
        "tile by tile: no weight gradient is written to DRAM or read back", default=False)
    elementwise: bool = param(
        "elementwise", "flag", "an elementwise op that directly follows a GEMM runs on its "
        "output tiles: it reads nothing back from DRAM", default=False)


@dataclass(frozen=True)
class Storage:
    """How stored weights are laid out in DRAM, and what their metadata costs.

    Per tensor of ``numel`` weights of which ``stored`` are kept, with ``v`` value bits:
    dense ``numel * v``; bitmap ``numel + stored * v`` (one bit per weight);
    csr ``(stored + padding) * (v + index_bits)`` where an entry's index is the number of
    zeros before it and a run of ``z`` zeros needs ``z // 2**index_bits`` padding entries
    (see :meth:`padding_entries`); coo ``stored * (v + index_bits)``, index_bits =
    ``ceil(log2(numel))`` when "auto".
    """

    format: str = param("format", "choice", "weight storage format", default="dense",
                        choices=STORAGE_FORMATS)
    index_bits: int | None = param(
        "index_bits", "index_bits", 'csr: relative index width; coo: index width or "auto" '
        "(ceil(log2(numel)) per tensor); not used by dense and bitmap", default=COMPUTED,
        default_doc=f'csr: {CSR_DEFAULT_INDEX_BITS}; coo: "auto"')

    def index_bits_for(self, numel: int) -> int:
        """Index bits per stored entry for a tensor of ``numel`` weights (0: no index)."""
        if self.format in ("dense", "bitmap"):
            return 0
        if self.index_bits is None:  # coo, auto
            return max(1, math.ceil(math.log2(numel))) if numel > 1 else 1
        return self.index_bits

    def padding_entries(self, stored_indices: np.ndarray) -> int:
        """csr: padding entries needed for these sorted flat indices (0 for other formats)."""
        if self.format != "csr" or len(stored_indices) == 0:
            return 0
        indices = np.asarray(stored_indices, dtype=np.int64)
        zeros_before = np.diff(indices, prepend=-1) - 1
        return int((zeros_before >> self.index_bits).sum())

    def stored_bits(self, numel: int, stored: int, value_bits: int, padding: int = 0) -> int:
        """Bits a tensor occupies in DRAM, metadata included (formulas in the class doc)."""
        if self.format == "dense":
            return numel * value_bits
        if self.format == "bitmap":
            return numel + stored * value_bits
        return (stored + padding) * (value_bits + self.index_bits_for(numel))


@dataclass(frozen=True)
class Dtypes:
    """Number formats of what training keeps: weights, activations, gradients, optimizer state."""

    weights: str = param("weights", "choice", "stored weights", default="fp32", choices=DTYPES)
    activations: str = param("activations", "choice", "activations (layer inputs/outputs)",
                             default="fp32", choices=DTYPES)
    gradients: str = param("gradients", "choice", "activation and weight gradients",
                           default="fp32", choices=DTYPES)
    optimizer_state: str = param("optimizer_state", "choice", "each optimizer state value "
                                 "(e.g. momentum)", default="fp32", choices=DTYPES)
    weights_compute: str = param(
        "weights_compute", "choice", "the format the PE array multiplies weights in (mixed "
        "precision: an fp16 copy of fp32 master weights); storage and traffic stay in "
        "weights", default=COMPUTED, default_doc="weights", choices=DTYPES)
    accumulator: str = param(
        "accumulator", "choice", "the format MACs accumulate in", default=COMPUTED,
        default_doc="int32 for integer weights, else fp32", choices=DTYPES)

    def role_dtype(self, operand: str) -> str:
        """The dtype the PE array multiplies an operand of ``operand`` in (weights,
        activations or gradients)."""
        return self.weights_compute if operand == "weights" else getattr(self, operand)

    def bytes_of(self, role: str) -> int:
        """Bytes per value of ``role`` (weights, activations, gradients, optimizer_state)."""
        return DTYPE_BYTES[getattr(self, role)]

    @property
    def weights_bytes(self) -> int:
        """Bytes per weights value."""
        return DTYPE_BYTES[self.weights]

    @property
    def activations_bytes(self) -> int:
        """Bytes per activations value."""
        return DTYPE_BYTES[self.activations]

    @property
    def gradients_bytes(self) -> int:
        """Bytes per gradients value."""
        return DTYPE_BYTES[self.gradients]

    @property
    def optimizer_state_bytes(self) -> int:
        """Bytes per optimizer state value."""
        return DTYPE_BYTES[self.optimizer_state]


@dataclass(frozen=True)
class Energy:
    """Which energy table fills in the energies a description leaves out."""

    table: str = param("table", "choice", "energy table (accelsim.hw.energy) the defaults come "
                       "from; override single values in their part", default="horowitz-45nm",
                       choices=tuple(ENERGY_TABLES))

    @property
    def energy_table(self) -> EnergyTable:
        """The named table, with every value's source."""
        return ENERGY_TABLES[self.table]


@dataclass(frozen=True)
class MappingPin:
    """A mapping fixed for one layer (``[[mapping]]``, one table per pin): the mapper's
    choice is replaced, so a run can reproduce another tool's mapping or test one."""

    layer: str = param("layer", "text", "the layer's name, as `accelsim trace info` lists it")
    phase: str = param("phase", "choice", "the phase pinned; every GEMM phase when absent",
                       default="all", choices=("all", *GEMM_PHASES))
    chunks: int = param("chunks", "count", "chunks the streamed dimension is cut into",
                        default=1)
    loop_order: str = param("loop_order", "choice", "which fold loop is outer",
                            default="rows-outer", choices=LOOP_ORDERS)

    @property
    def rows_outer(self) -> bool:
        return self.loop_order == "rows-outer"


@dataclass(frozen=True)
class Hardware:
    """A whole accelerator. Equal descriptions compare and hash equal (source aside)."""

    name: str = param("name", "text", "short name used in results and reports")
    description: str = param("description", "text", "one line on what this models",
                             default="")
    array: Array = param("array", "section", "the PE array", default=COMPUTED)
    sram: Sram = param("sram", "section", "on-chip buffers", default=COMPUTED)
    dram: Dram = param("dram", "section", "off-chip memory", default=COMPUTED)
    regen: Regen | None = param("regen", "section", "regeneration unit; absent (or "
                                "`regen = false`) when the design has none", default=COMPUTED)
    storage: Storage = param("storage", "section", "weight storage format", default=COMPUTED)
    fusion: Fusion = param("fusion", "section", "fused work", default=COMPUTED)
    vector: Vector | None = param("vector", "section", "vector unit for the non-GEMM ops; "
                                  "absent: those ops are not costed (results say so)",
                                  default=COMPUTED)
    dtypes: Dtypes = param("dtypes", "section", "number formats", default=COMPUTED)
    energy: Energy = param("energy", "section", "energy table", default=COMPUTED)
    mappings: tuple[MappingPin, ...] = param(
        "mapping", "section", "mappings pinned per layer (`[[mapping]]` tables)",
        default=COMPUTED, default_doc="none: the mapper chooses")
    sparsity: Sparsity | None = param(
        "sparsity", "section", "zero-skipping in the PE array; absent: every MAC runs",
        default=COMPUTED, default_doc="none")
    source: str = derived("the file this was loaded from", "text", compare=False)
    inputs: Mapping[str, Any] = dataclasses.field(compare=False, repr=False, default=None)
    origins: Mapping[str, str] = dataclasses.field(compare=False, repr=False, default=None)

    @property
    def dram_bandwidth_bytes_per_s(self) -> float:
        """Peak DRAM bandwidth; for the ideal DRAM, its words/cycle at the array clock."""
        if self.dram.is_ideal:
            return self.dram_bytes_per_cycle * self.array.clock_hz
        return self.dram.peak_bandwidth_bytes_per_s

    @property
    def dram_bytes_per_cycle(self) -> float:
        """Peak DRAM bytes per array clock cycle."""
        if self.dram.is_ideal:
            return self.dram.bandwidth_words_per_cycle * self.dtypes.weights_bytes
        return self.dram.peak_bandwidth_bytes_per_s / self.array.clock_hz

    def replace(self, changes: Mapping[str, Any]) -> Hardware:
        """A new, validated description with ``changes`` applied.

        Keys are dotted TOML keys (``"sram.capacity"``, ``"array.mac_energy.fp16"``);
        values are TOML-style strings with units or plain numbers in base units
        (``{"sram.capacity": "128 KiB"}`` or ``{"sram.capacity": 131072}``).
        ``{"regen": False}`` removes the regeneration unit. A new ``dram.standard``,
        ``storage.format`` or ``sram.organization`` drops the keys that depend on it
        (:data:`DEPENDENT_KEYS`) unless ``changes`` sets them too.
        """
        inputs = copy.deepcopy(dict(self.inputs))
        origins = dict(self.origins)
        drop_dependent_keys(inputs, changes)
        for dotted, value in changes.items():
            _set_dotted(inputs, dotted, value)
            origins[dotted] = "replace()"
        return build_hardware(inputs, source=self.source, origins=origins, bare_is_base=True)

    def to_dict(self) -> dict[str, Any]:
        """Every described value in base units, JSON-serialisable, in a fixed order."""
        return _plain(self)

    def fingerprint(self) -> str:
        """A stable hash of the physical parameters (name, description and source aside)."""
        # No pinned mapping hashes as before pins existed, so stored sweeps stay valid.
        physical = {key: value for key, value in self.to_dict().items()
                    if key not in ("name", "description", "source")
                    and not (key == "mappings" and not value)
                    and not (key == "sparsity" and value is None)}
        text = json.dumps(physical, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


# Keys whose meaning depends on another key of their table. When a child file or replace()
# gives that key a new value, the dependent keys inherited from the parent (or kept from
# before replace()) are dropped, so values tuned for one DRAM standard or storage format
# never leak into another. None: every other key of the table.
DEPENDENT_KEYS: dict[str, tuple[str, ...] | None] = {
    "dram.standard": None,
    "storage.format": ("index_bits",),
    "sram.organization": ("ifmap_capacity", "filter_capacity", "ofmap_capacity"),
}


def drop_dependent_keys(inputs: dict[str, Any], changes: Mapping[str, Any]) -> None:
    """Remove from ``inputs`` the keys that depend on a key ``changes`` (dotted) alters."""
    for dotted, dependents in DEPENDENT_KEYS.items():
        section, key = dotted.split(".")
        table = inputs.get(section)
        if dotted not in changes or not isinstance(table, dict):
            continue
        if table.get(key) == changes[dotted]:
            continue
        for dependent in dependents or [other for other in table if other != key]:
            table.pop(dependent, None)


def _set_dotted(inputs: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = inputs
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def _plain(value: Any) -> Any:
    """Dataclasses -> dicts of their described fields, pair tuples -> dicts, tuples -> lists."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if "param" in f.metadata}
    if isinstance(value, tuple):
        if value and all(isinstance(item, tuple) and len(item) == 2
                         and isinstance(item[0], str) for item in value):
            return {key: _plain(item) for key, item in value}
        return [_plain(item) for item in value]
    return value


# --- building a Hardware from TOML-style tables --------------------------------------------

def build_hardware(inputs: Mapping[str, Any], *, source: str,
                   origins: Mapping[str, str] | None = None,
                   bare_is_base: bool = False) -> Hardware:
    """Validate TOML-style ``inputs`` (one merged document, ``extends`` resolved).

    ``source`` names the file in messages; ``origins`` maps dotted keys to the file that
    set them (a parent, or "replace()"); ``bare_is_base`` lets plain numbers stand for
    base units (replace()). Raises ConfigError naming the file, the key and the reason.
    """
    ctx = Context(source, dict(origins or {}), bare_is_base)
    top = read_params(Hardware, "", inputs, ctx, skip=SECTIONS)
    energy = Energy(**read_params(Energy, "energy", _table(inputs, "energy", ctx), ctx))
    table = energy.energy_table
    dtypes = _build_dtypes(_table(inputs, "dtypes", ctx), ctx)
    hw = Hardware(
        **top,
        array=_build_array(_table(inputs, "array", ctx), ctx, table, dtypes.accumulator),
        sram=_build_sram(_table(inputs, "sram", ctx), ctx, table),
        dram=_build_dram(_table(inputs, "dram", ctx), ctx, table),
        regen=_build_regen(inputs, ctx, table),
        storage=_build_storage(_table(inputs, "storage", ctx), ctx),
        fusion=Fusion(**read_params(Fusion, "fusion", _table(inputs, "fusion", ctx), ctx)),
        vector=_build_vector(inputs, ctx),
        dtypes=dtypes,
        energy=energy,
        mappings=_build_mappings(inputs, ctx),
        sparsity=build_sparsity(inputs, ctx, _table(inputs, "storage", ctx).get(
            "format", "dense")),
        source=source,
        inputs=copy.deepcopy(dict(inputs)),
        origins=dict(ctx.origins),
    )
    problem = physical_problem(hw)
    if problem:
        ctx.fail(*problem)
    return hw


def _build_mappings(inputs: Mapping[str, Any], ctx: Context) -> tuple[MappingPin, ...]:
    pins = inputs.get("mapping", [])
    if not isinstance(pins, list) or not all(isinstance(pin, Mapping) for pin in pins):
        ctx.fail("mapping", f"expected [[mapping]] tables (layer, phase, chunks, "
                 f"loop_order), got {pins!r}")
    out = [MappingPin(**read_params(MappingPin, f"mapping[{i}]", pin, ctx))
           for i, pin in enumerate(pins)]
    seen = set()
    for i, pin in enumerate(out):
        phases = GEMM_PHASES if pin.phase == "all" else (pin.phase,)
        for phase in phases:
            if (pin.layer, phase) in seen:
                ctx.fail(f"mapping[{i}]", f"layer {pin.layer!r} phase {phase} is pinned twice")
            seen.add((pin.layer, phase))
    return tuple(out)


def _table(inputs: Mapping[str, Any], name: str, ctx: Context) -> Mapping[str, Any]:
    value = inputs.get(name, {})
    if not isinstance(value, Mapping):
        ctx.fail(name, f"expected a table [{name}], got {value!r}")
    return value


_MAC_ENERGY = Param("mac_energy", "energy", "energy of one MAC")


def _build_dtypes(table: Mapping[str, Any], ctx: Context) -> Dtypes:
    values = read_params(Dtypes, "dtypes", table, ctx)
    values["weights_compute"] = values["weights_compute"] or values["weights"]
    values["accumulator"] = values["accumulator"] or default_accumulator(values["weights"])
    return Dtypes(**values)


def _build_array(table: Mapping[str, Any], ctx: Context, energy: EnergyTable,
                 accumulator: str) -> Array:
    values = read_params(Array, "array", table, ctx, skip=("mac_energy",))
    overrides = table.get("mac_energy", {})
    if not isinstance(overrides, Mapping):
        ctx.fail("array.mac_energy", f"expected a table of dtype = energy, got {overrides!r}")
    reject_unknown_keys(overrides, DTYPES, "array.mac_energy", ctx)
    values["mac_energy_pj_by_dtype"] = tuple(
        (dtype, parse_value(_MAC_ENERGY, overrides[dtype], f"array.mac_energy.{dtype}", ctx)
         if dtype in overrides else mac_energy_pj(energy, dtype, accumulator))
        for dtype in DTYPES)
    return Array(**values)


def _build_sram(table: Mapping[str, Any], ctx: Context, energy: EnergyTable) -> Sram:
    values = read_params(Sram, "sram", table, ctx)
    capacities = _buffer_capacities(values, ctx)
    if values["organization"] == "per_operand":
        values.update({f"{op}_capacity_bytes": capacities[op] for op in SRAM_BUFFERS})
    smallest_bank = min(capacities.values()) / values["banks"]
    if smallest_bank * 8 < values["width_bits"]:
        ctx.fail("sram.banks", f"{values['banks']} banks leave {smallest_bank:g} bytes per bank, "
                               f"less than one {values['width_bits']}-bit access")
    values["buffers"] = tuple(_sram_buffer(name, capacity, values, energy)
                              for name, capacity in capacities.items())
    if values["leakage_power_w"] is None:
        values["leakage_power_w"] = sum(
            values["banks"] * sram_leakage_w(energy, capacity / values["banks"])
            for capacity in capacities.values())
    return Sram(**values)


def _buffer_capacities(values: dict[str, Any], ctx: Context) -> dict[str, int]:
    if values["organization"] == UNIFIED:
        for op in SRAM_BUFFERS:
            if values[f"{op}_capacity_bytes"] is not None:
                ctx.fail(f"sram.{op}_capacity", 'only for organization = "per_operand"')
        return {UNIFIED: values["capacity_bytes"]}
    return {op: values[f"{op}_capacity_bytes"] or values["capacity_bytes"] for op in SRAM_BUFFERS}


def _sram_buffer(name: str, capacity: int, values: dict[str, Any],
                 energy: EnergyTable) -> SramBuffer:
    bank_capacity = capacity / values["banks"]
    table_read = sram_access_energy_pj(energy, bank_capacity, values["width_bits"])
    read = values["read_energy_pj"]
    write = values["write_energy_pj"]
    return SramBuffer(
        name=name,
        capacity_bytes=capacity,
        working_set_bytes=capacity // 2 if values["double_buffered"] else capacity,
        read_energy_pj=table_read if read is None else read,
        write_energy_pj=table_read if write is None else write,
    )


_IDEAL_KEYS = ("standard", "bandwidth_words_per_cycle", "read_energy", "write_energy")
_DRAM_PARAMS = {spec.key: spec for _, spec in params_of(Dram)}


def _build_dram(table: Mapping[str, Any], ctx: Context, energy: EnergyTable) -> Dram:
    reject_unknown_keys(table, keys_of(Dram), "dram", ctx)
    if "standard" not in table:
        ctx.fail("dram.standard", "missing required key")
    standard = parse_value(_DRAM_PARAMS["standard"], table["standard"], "dram.standard", ctx)
    if standard == IDEAL:
        return _build_ideal_dram(table, ctx, energy)
    if "bandwidth_words_per_cycle" in table:
        ctx.fail("dram.bandwidth_words_per_cycle", 'only for standard = "ideal"; a timed '
                 "DRAM's bandwidth follows from data_rate, bus_width and channels")
    merged = {**DRAM_STANDARDS[standard].values, **table}
    values = read_params(Dram, "dram", merged, ctx, skip=("address_mapping",))
    _dram_energies(values, table, ctx)
    for name, spec in params_of(Dram):
        if values.get(name, 0) is None and spec.key not in _OPTIONAL_DRAM_KEYS:
            ctx.fail(f"dram.{spec.key}", f'missing required key (standard "{standard}" '
                                         "does not give it)")
    values["address_mapping"] = _address_mapping(merged.get("address_mapping"), ctx)
    _check_dram_timings(values, ctx)
    return Dram(**values)




_IDD_FIELDS = {spec.key: name for name, spec in params_of(Dram) if spec.key in IDD_KEYS}
_OPTIONAL_DRAM_KEYS = ("bandwidth_words_per_cycle", *IDD_KEYS)
_FLAT_KEYS = ("read_energy", "write_energy")


def _dram_energies(values: dict[str, Any], table: Mapping[str, Any], ctx: Context) -> None:
    """Fill the energies a timed DRAM leaves unset from its IDD currents (in place).

    An IDD set is all of IDD_KEYS or none. A description that sets ``read_energy`` or
    ``write_energy`` itself prices DRAM flat (an all-in pJ/bit, as Accelergy's): ACT, PRE,
    background and refresh it does not set are 0 then, not added on top.
    """
    # Currents of one datasheet go together: a description that gives any of them (its
    # own part's) gives them all, never a mix with the standard's.
    for given in ([key for key in IDD_KEYS if key in table],
                  [key for key in IDD_KEYS if values[_IDD_FIELDS[key]] is not None]):
        if given and len(given) < len(IDD_KEYS):
            missing = next(key for key in IDD_KEYS if key not in given)
            ctx.fail(f"dram.{missing}", f"missing from the IDD set ({', '.join(given)} "
                     f"given; an IDD set needs all of {', '.join(IDD_KEYS)})")
    derived = _idd_energies(values, ctx) if given else {}
    flat = any(key in table for key in _FLAT_KEYS)
    for name, spec in params_of(Dram):
        if spec.kind in ("energy", "energy_per_bit", "power") and values[name] is None:
            if name in derived and not (flat and spec.key not in _FLAT_KEYS):
                values[name] = derived[name]
            elif flat or name in derived:
                values[name] = 0.0


def _idd_energies(values: dict[str, Any], ctx: Context) -> dict[str, float]:
    devices, remainder = divmod(values["bus_width_bits"], values["device_width_bits"])
    if devices < 1 or remainder:
        ctx.fail("dram.device_width", f"{values['device_width_bits']} bit does not divide "
                 f"bus_width ({values['bus_width_bits']} bit) into whole devices")
    for key in ("idd3n", "idd4r", "idd4w", "idd5ab"):
        if key != "idd3n" and values[_IDD_FIELDS[key]] < values["idd3n_ma"]:
            ctx.fail(f"dram.{key}", f"{values[_IDD_FIELDS[key]]:g} mA is below idd3n "
                     f"({values['idd3n_ma']:g} mA, active standby): not a datasheet set")
    model = IddModel(
        vdd=values["vdd_v"], idd0=values["idd0_ma"], idd2n=values["idd2n_ma"],
        idd3n=values["idd3n_ma"], idd4r=values["idd4r_ma"], idd4w=values["idd4w_ma"],
        idd5ab=values["idd5ab_ma"], devices=devices, tck_s=values["tck_s"],
        tras_s=values["tras_s"], trp_s=values["trp_s"], trfc_s=values["trfc_s"],
        trefi_s=values["trefi_s"], burst_length=values["burst_length"],
        bus_width_bits=values["bus_width_bits"])
    energies = model.energies()
    if energies["act_energy_pj"] < 0:
        ctx.fail("dram.idd0", f"{values['idd0_ma']:g} mA x tRC is below the standby charge "
                 "(idd3n x tRAS + idd2n x tRP): the derived ACT energy would be negative")
    return energies


def _build_ideal_dram(table: Mapping[str, Any], ctx: Context, energy: EnergyTable) -> Dram:
    for key in table:
        if key not in _IDEAL_KEYS:
            ctx.fail(f"dram.{key}", 'not used by standard "ideal" (it has no timing or '
                                    "organisation)")
    if "bandwidth_words_per_cycle" not in table:
        ctx.fail("dram.bandwidth_words_per_cycle", 'missing required key for standard "ideal"')
    values = read_params(Dram, "dram", table, ctx, skip=_timed_only_keys())
    for direction in ("read", "write"):
        if values[f"{direction}_energy_pj_per_bit"] is None:
            values[f"{direction}_energy_pj_per_bit"] = energy.dram_per_bit.value
    absent = {name: None for name, spec in params_of(Dram) if spec.key not in _IDEAL_KEYS}
    return Dram(**{**absent, **values})


def _timed_only_keys() -> tuple[str, ...]:
    return tuple(key for key in keys_of(Dram) if key not in _IDEAL_KEYS)


def _address_mapping(value: Any, ctx: Context) -> tuple[str, ...]:
    dotted = "dram.address_mapping"
    if value is None:
        value = "row:bank:column"
    if isinstance(value, str):
        fields = [part.strip() for part in value.split(":")]
    elif isinstance(value, list) and all(isinstance(part, str) for part in value):
        fields = list(value)
    else:
        ctx.fail(dotted, f'expected fields like "row:bank:column" or a list, got {value!r}')
    for part in fields:
        if part not in ADDRESS_FIELDS:
            ctx.fail(dotted, f'unknown field "{part}"{suggestion(part, ADDRESS_FIELDS)}; '
                             f"fields: {', '.join(ADDRESS_FIELDS)}")
        if fields.count(part) > 1:
            ctx.fail(dotted, f'field "{part}" appears twice')
    for needed in ("row", "bank", "column"):
        if needed not in fields:
            ctx.fail(dotted, f'missing field "{needed}"')
    if "rank" not in fields:
        fields.insert(fields.index("row") + 1, "rank")
    if "channel" not in fields:
        fields.append("channel")
    return tuple(fields)


def _ns(seconds: float) -> str:
    return f"{seconds * 1e9:.4g} ns"


def _check_dram_timings(values: dict[str, Any], ctx: Context) -> None:
    """Values that no real part has: the pairs JEDEC orders, and a consistent clock."""
    ordered = (("tras_s", "trcd_s", "tRAS", "tRCD"), ("trefi_s", "trfc_s", "tREFI", "tRFC"),
               ("tfaw_s", "trrd_s", "tFAW", "tRRD"), ("tccd_l_s", "tccd_s", "tCCD_L", "tCCD"),
               ("trrd_l_s", "trrd_s", "tRRD_L", "tRRD"), ("twtr_l_s", "twtr_s", "tWTR_L", "tWTR"))
    for longer, shorter, longer_key, shorter_key in ordered:
        if values[longer] < values[shorter]:
            ctx.fail(f"dram.{longer_key}", f"{_ns(values[longer])} is shorter than "
                                           f"{shorter_key} ({_ns(values[shorter])})")
    if values["banks"] % values["bank_groups"]:
        ctx.fail("dram.bank_groups", f"{values['bank_groups']} groups do not divide "
                                     f"{values['banks']} banks")
    transfers_per_clock = values["data_rate_transfers_per_s"] * values["tck_s"]
    if abs(transfers_per_clock - 2.0) > 0.04:
        ctx.fail("dram.tCK", f"a double-data-rate bus moves 2 transfers per clock, but "
                             f"data_rate x tCK = {transfers_per_clock:.3g}: change both")
    if values["bus_width_bits"] % 8:
        ctx.fail("dram.bus_width", f"{values['bus_width_bits']} bits is not whole bytes")
    burst_bytes = values["bus_width_bits"] // 8 * values["burst_length"]
    if values["row_size_bytes"] % burst_bytes:
        ctx.fail("dram.row_size", f"{values['row_size_bytes']} B is not a whole number of "
                                  f"{burst_bytes}-byte bursts")


def _build_regen(inputs: Mapping[str, Any], ctx: Context, energy: EnergyTable) -> Regen | None:
    table = inputs.get("regen")
    if table is None or table is False:
        return None
    if not isinstance(table, Mapping):
        ctx.fail("regen", f"expected a [regen] table, or false for none; got {table!r}")
    values = read_params(Regen, "regen", table, ctx)
    if values["energy_per_value_pj"] is None:
        values["energy_per_value_pj"] = regen_energy_per_value(energy).value
    return Regen(**values)


def _build_vector(inputs: Mapping[str, Any], ctx: Context) -> Vector | None:
    table = inputs.get("vector")
    if table is None:
        fused = [key for key, value in dict(inputs.get("fusion") or {}).items() if value]
        if fused:
            ctx.fail(f"fusion.{fused[0]}", "fuses work onto the vector unit, and this "
                                           "description has no [vector] section")
        return None
    if not isinstance(table, Mapping):
        ctx.fail("vector", f"expected a [vector] table, got {table!r}")
    return Vector(**read_params(Vector, "vector", table, ctx))


def _build_storage(table: Mapping[str, Any], ctx: Context) -> Storage:
    values = read_params(Storage, "storage", table, ctx)
    storage_format = values["format"]
    given = "index_bits" in table
    if storage_format in ("dense", "bitmap") and given:
        ctx.fail("storage.index_bits", f'not used by format "{storage_format}"')
    if storage_format == "csr":
        if not given:
            values["index_bits"] = CSR_DEFAULT_INDEX_BITS
        elif values["index_bits"] is None:
            ctx.fail("storage.index_bits", 'csr needs a fixed width ("auto" is for coo)')
    if values["index_bits"] is not None and values["index_bits"] > 64:
        ctx.fail("storage.index_bits", f"at most 64 bits, got {values['index_bits']}")
    return Storage(**values)
