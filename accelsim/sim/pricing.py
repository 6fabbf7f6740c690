"""Pricing apart from counting (Accelergy's split): the replay counts actions — MACs,
SRAM and DRAM bytes per direction, regenerated values, cycles — and :func:`price` turns
counts into energy with the description's prices. A result can so be re-priced for a
description that differs only in prices (:func:`reprice`, ``accelsim reprice``) without
replaying the trace.

Energy parts (pJ), per counter row:

========== ==========================================================================
mac        macs.<class> x the array's MAC energy for that class's operand dtypes: a
           mixed-format multiply (fp32 x fp16) is priced at the costlier of the two
           formats' MACs (its multiplier must handle both); every MAC accumulates in
           dtypes.accumulator
sram       sram_read_bytes x read energy per byte + sram_write_bytes x write energy
           per byte (an access of ``sram.width`` bits, the ifmap buffer's, divided by
           its bytes)
dram       DRAM bytes read x read pJ/bit x 8 + bytes written x write pJ/bit x 8
           + DRAM bytes x (ACT + PRE energy) / row size (the bandwidth model's traffic
           streams whole rows: one ACT-PRE per row of bytes moved) + cycles / array
           clock x (background + refresh power) x ranks x channels (the DRAM stands by
           for the whole run). The IDD-derived prices (accelsim.hw.dram_standards); a
           flat read_energy/write_energy leaves only the first line
regen      regen_values x the regeneration unit's energy per value
vector     vector_ops.<kind> x one MAC of that kind's dtype (activations, gradients,
           optimizer state) at the array's MAC energies: an upper bound for an add,
           compare or multiply, each of which costs at most one multiply + add
leakage    cycles / array clock x SRAM leakage power
========== ==========================================================================

Every price comes from the hardware description, where each value carries its source
(accelsim.hw.energy).
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from accelsim.errors import ConfigError
from accelsim.hw import Hardware
from accelsim.sim.results import (
    INDEX,
    MAC_CLASSES,
    VECTOR_KINDS,
    SimResult,
    counter,
    sampling_error,
)

# Keys of Hardware.to_dict() that only price counts (never change a count). Dotted; a
# "*" matches every entry of a list.
PRICE_KEYS = (
    "array.mac_energy_pj_by_dtype", "dtypes.weights_compute", "dtypes.accumulator",
    "sram.read_energy_pj", "sram.write_energy_pj", "sram.leakage_power_w",
    "sram.buffers.*.read_energy_pj", "sram.buffers.*.write_energy_pj",
    "dram.read_energy_pj_per_bit", "dram.write_energy_pj_per_bit",
    "dram.act_energy_pj", "dram.pre_energy_pj", "dram.background_power_w",
    "dram.refresh_power_w", "dram.vdd_v", "dram.idd0_ma", "dram.idd2n_ma", "dram.idd3n_ma",
    "dram.idd4r_ma", "dram.idd4w_ma", "dram.idd5ab_ma", "dram.device_width_bits",
    "regen.energy_per_value_pj",
    "energy.table",
)
NOT_PHYSICAL = ("name", "description", "source")
# Prices the burst-level DRAM model (result.dram) has already applied to its counts.
BURST_PRICE_KEYS = tuple(key for key in PRICE_KEYS if key.startswith("dram."))


@dataclass(frozen=True)
class Prices:
    """Energy per counted action, read off a description."""

    mac_pj: dict[str, float]  # per results.MAC_CLASSES entry
    vector_pj: dict[str, float]  # per results.VECTOR_KINDS entry
    sram_read_pj_per_byte: float
    sram_write_pj_per_byte: float
    dram_read_pj_per_byte: float
    dram_write_pj_per_byte: float
    dram_act_pj_per_byte: float  # one ACT + PRE per row of bytes moved
    dram_standby_w: float  # background + refresh, every rank of every channel
    regen_pj_per_value: float
    leakage_w: float
    clock_hz: float  # converts cycles to seconds for leakage

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def prices_of(hw: Hardware) -> Prices:
    sram, dram = hw.sram, hw.dram
    width_bytes = sram.width_bits / 8
    buffer = sram.buffer("ifmap")
    return Prices(
        mac_pj={mac_class: mac_class_energy_pj(hw, mac_class) for mac_class in MAC_CLASSES},
        vector_pj={kind: hw.array.mac_energy_pj(getattr(hw.dtypes, kind))
                   for kind in VECTOR_KINDS},
        sram_read_pj_per_byte=buffer.read_energy_pj / width_bytes,
        sram_write_pj_per_byte=buffer.write_energy_pj / width_bytes,
        dram_read_pj_per_byte=8 * dram.read_energy_pj_per_bit,
        dram_write_pj_per_byte=8 * dram.write_energy_pj_per_bit,
        dram_act_pj_per_byte=dram_act_pj_per_byte(dram),
        dram_standby_w=0.0 if dram.is_ideal else (
            (dram.background_power_w + dram.refresh_power_w) * dram.ranks * dram.channels),
        regen_pj_per_value=hw.regen.energy_per_value_pj if hw.regen else 0.0,
        leakage_w=sram.leakage_power_w,
        clock_hz=hw.array.clock_hz,
    )


def mac_class_energy_pj(hw: Hardware, mac_class: str) -> float:
    """One MAC of ``mac_class`` (e.g. ``weights_activations``): the costlier of its two
    operands' dtypes' MACs, at the array's MAC energies."""
    kinds = _mac_kinds(mac_class)
    return max(hw.array.mac_energy_pj(hw.dtypes.role_dtype(kind)) for kind in kinds)


def _mac_kinds(mac_class: str) -> tuple[str, str]:
    for kind in ("weights", "activations", "gradients"):
        if mac_class.startswith(kind + "_"):
            return kind, mac_class[len(kind) + 1:]
    raise ValueError(f"not a MAC class: {mac_class!r}")


def dram_act_pj_per_byte(dram) -> float:
    """ACT + PRE energy per DRAM byte of a stream that fills each row it opens."""
    if dram.is_ideal:
        return 0.0
    return (dram.act_energy_pj + dram.pre_energy_pj) / dram.row_size_bytes


def regen_byte_cost(hw: Hardware) -> float:
    """A regenerated value's energy in DRAM-read-byte equivalents: the one price ratio
    the mapper's objective weighs (accelsim.sim.gemm_cost.choose_mappings)."""
    if hw.regen is None:
        return 0.0
    per_byte = hw.dram.read_energy_pj_per_bit * 8 + dram_act_pj_per_byte(hw.dram)
    return hw.regen.energy_per_value_pj / per_byte if per_byte else math.inf


def price(values: np.ndarray, prices: Prices) -> np.ndarray:
    """Fill the energy counters of ``values`` (counters on the last axis) in place."""
    values[..., INDEX["energy_pj.mac"]] = sum(
        values[..., INDEX[f"macs.{mac_class}"]] * pj for mac_class, pj in prices.mac_pj.items())
    values[..., INDEX["energy_pj.sram"]] = (
        counter(values, "sram_read_bytes") * prices.sram_read_pj_per_byte
        + counter(values, "sram_write_bytes") * prices.sram_write_pj_per_byte)
    seconds = counter(values, "cycles") / prices.clock_hz
    values[..., INDEX["energy_pj.dram"]] = (
        counter(values, "dram_read_bytes") * prices.dram_read_pj_per_byte
        + counter(values, "dram_write_bytes") * prices.dram_write_pj_per_byte
        + counter(values, "dram_bytes") * prices.dram_act_pj_per_byte
        + seconds * prices.dram_standby_w * 1e12)
    values[..., INDEX["energy_pj.vector"]] = sum(
        values[..., INDEX[f"vector_ops.{kind}"]] * pj for kind, pj in prices.vector_pj.items())
    values[..., INDEX["energy_pj.regen"]] = (counter(values, "regen_values")
                                            * prices.regen_pj_per_value)
    values[..., INDEX["energy_pj.leakage"]] = seconds * prices.leakage_w * 1e12
    return values


def price_result(result: SimResult, prices: Prices) -> SimResult:
    """Price every counter array of ``result`` in place (rows and both aggregates)."""
    for values in (result.rows, result.layer_rows, result.step_rows):
        if values is not None:
            price(values, prices)
    result.options["prices"] = prices.to_dict()
    return result


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}."))
        return out
    if isinstance(value, list) and value and isinstance(value[0], dict):
        out = {}
        for i, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: value}


def _is_price(key: str, price_keys=PRICE_KEYS) -> bool:
    parts = key.split(".")
    for pattern in price_keys:
        want = pattern.split(".")
        head = parts[:len(want)]
        if len(head) == len(want) and all(w in ("*", p) for w, p in zip(want, head, strict=True)):
            return True
    return False


def description_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[list, list]:
    """(price keys, other keys) whose values differ between two Hardware.to_dict()s."""
    before, after = _flatten(old), _flatten(new)
    # Keys the user writes first; derived per-buffer copies after them.
    changed = sorted((key for key in set(before) | set(after)
                      if key.split(".")[0] not in NOT_PHYSICAL
                      and before.get(key) != after.get(key)),
                     key=lambda key: (".buffers." in key, key))
    prices = [key for key in changed if _is_price(key)]
    return prices, [key for key in changed if not _is_price(key)]


def reprice(result: SimResult, hw: Hardware, source: str = "result") -> SimResult:
    """``result`` with its energy re-priced for ``hw``, which must describe the same
    hardware as the result's but for prices; a ConfigError (one line) names the first
    key that differs otherwise."""
    old = result.hardware.get("description")
    if not isinstance(old, dict):
        raise ConfigError(f"{source}: the result does not record its hardware description; "
                          "re-run accelsim simulate")
    prices_changed, others = description_changes(old, hw.to_dict())
    name = hw.source or hw.name
    if others:
        raise ConfigError(
            f"{name}: {others[0]} differs from the result's hardware ({len(others)} "
            "non-price key(s) in all); reprice changes prices only — re-simulate for that")
    if result.dram is not None:
        burst = [key for key in prices_changed if _is_price(key, BURST_PRICE_KEYS)]
        if burst:
            raise ConfigError(
                f"{name}: {burst[0]} changes a DRAM price the burst-level model (result.dram) "
                "already applied; re-simulate with --dram burst for that")
    weight = regen_byte_cost(hw)
    low, high = _range(result.options.get("mapping_regen_cost_range"))
    if not low <= weight <= high or (weight in (low, high) and weight != _range_origin(result)):
        raise ConfigError(
            f"{name}: at these prices the mapper weighs a regenerated value as {weight:.6g} "
            f"DRAM bytes, outside [{low:.6g}, {high:.6g}] where this result's mappings stay "
            "optimal; re-simulate so the mappings can change")
    out = copy.deepcopy(result)
    price_result(out, prices_of(hw))
    sampling = out.options.get("sampling")
    if sampling:  # the energy's estimated error follows the new prices
        covers = out.step_weight / float(out.trace.get("record_every") or 1)
        sampling["relative_standard_error"] = sampling_error(out.step_rows, covers)
    out.hardware = {"name": hw.name, "source": hw.source, "fingerprint": hw.fingerprint(),
                    "description": hw.to_dict()}
    out.options["repriced"] = {"from": result.hardware.get("name"),
                               "changed": prices_changed}
    out.options["mapping_regen_cost"] = weight
    return out


def _range(stored) -> tuple[float, float]:
    if not stored:
        return -math.inf, math.inf
    low, high = stored
    return (-math.inf if low is None else float(low)), (math.inf if high is None else float(high))


def _range_origin(result: SimResult) -> float | None:
    value = result.options.get("mapping_regen_cost")
    return None if value is None else float(value)
