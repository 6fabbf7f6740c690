"""Quantities with units: "64 KiB", "1 GHz", "13.75 ns", "8 pJ/bit" -> numbers in base units.

Base units (what every ``*_bytes``, ``*_hz``, ``*_s``, ``*_pj`` ... field holds):

=================  ===============  =====================================================
kind               base unit        accepted units
=================  ===============  =====================================================
size               bytes (int)      B, kB, MB, GB (1000^n), KiB, MiB, GiB (1024^n)
bits               bits (int)       bit, bits, kbit, Kibit
frequency          Hz               Hz, kHz, MHz, GHz
duration           seconds          s, ms, us (or µs), ns, ps
energy             picojoules       fJ, pJ, nJ, uJ, mJ, J
energy_per_bit     pJ/bit           fJ/bit, pJ/bit, nJ/bit
power              watts            uW, mW, W
transfer_rate      transfers/s      T/s, kT/s, MT/s, GT/s
bandwidth          bytes/s          B/s, kB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s
=================  ===============  =====================================================

Decimal (``kB`` = 1000 B) and binary (``KiB`` = 1024 B) prefixes are distinct; "KB" is
refused as ambiguous. Dimensionless fields (counts, cycles, words per cycle) take plain
numbers; a field with a unit refuses a plain number, so "capacity = 65536" cannot be
read as bytes by one person and KiB by another. :func:`parse_quantity` raises
:class:`UnitError` with the reason only; callers add the file and the key.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


class UnitError(ValueError):
    """A value that is not a quantity of the expected kind (the reason, without file or key)."""


@dataclass(frozen=True)
class QuantityKind:
    """One physical kind: its base unit, an example for messages, and its units' factors."""

    name: str
    base_unit: str
    example: str
    factors: dict[str, float]
    integral: bool = False  # sizes and widths are whole numbers of bytes or bits


_DECIMAL = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}
_BINARY = {"Ki": 1024.0, "Mi": 1024.0**2, "Gi": 1024.0**3}


def _prefixed(unit: str, prefixes: dict[str, float]) -> dict[str, float]:
    return {prefix + unit: factor for prefix, factor in prefixes.items()}


KINDS: dict[str, QuantityKind] = {
    kind.name: kind
    for kind in (
        QuantityKind("size", "B", '"64 KiB"', _prefixed("B", {**_DECIMAL, **_BINARY}), True),
        QuantityKind("bits", "bit", '"64 bit"',
                     {"bit": 1.0, "bits": 1.0, "kbit": 1e3, "Kibit": 1024.0}, True),
        QuantityKind("frequency", "Hz", '"1 GHz"', _prefixed("Hz", _DECIMAL)),
        QuantityKind("duration", "s", '"13.75 ns"',
                     {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "ps": 1e-12}),
        QuantityKind("energy", "pJ", '"0.2 pJ"',
                     {"fJ": 1e-3, "pJ": 1.0, "nJ": 1e3, "uJ": 1e6, "mJ": 1e9, "J": 1e12}),
        QuantityKind("energy_per_bit", "pJ/bit", '"8 pJ/bit"',
                     {"fJ/bit": 1e-3, "pJ/bit": 1.0, "nJ/bit": 1e3}),
        QuantityKind("power", "W", '"1.5 mW"', {"uW": 1e-6, "mW": 1e-3, "W": 1.0}),
        QuantityKind("current", "mA", '"47 mA"', {"uA": 1e-3, "mA": 1.0, "A": 1e3}),
        QuantityKind("voltage", "V", '"1.2 V"', {"mV": 1e-3, "V": 1.0}),
        QuantityKind("transfer_rate", "T/s", '"3200 MT/s"', _prefixed("T/s", _DECIMAL)),
        QuantityKind("bandwidth", "B/s", '"25.6 GB/s"',
                     _prefixed("B/s", {**_DECIMAL, **_BINARY})),
    )
}

# The word used in messages ("expected a size like ...").
_KIND_WORDS = {
    "size": "a size",
    "bits": "a width in bits",
    "frequency": "a frequency",
    "duration": "a duration",
    "energy": "an energy",
    "energy_per_bit": "an energy per bit",
    "power": "a power",
    "current": "a current",
    "voltage": "a voltage",
    "transfer_rate": "a transfer rate",
    "bandwidth": "a bandwidth",
}

_AMBIGUOUS = {"KB": "kB for 1000 bytes or KiB for 1024", "Kb": "kbit or Kibit",
              "KB/s": "kB/s or KiB/s"}

_QUANTITY = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(\S+)\s*$")


def describe_kind(kind: str) -> str:
    """The phrase messages use for a kind: 'a size like "64 KiB"'."""
    spec = KINDS[kind]
    return f"{_KIND_WORDS[kind]} like {spec.example}"


def parse_quantity(value: object, kind: str, *, bare_is_base: bool = False) -> float | int:
    """Parse ``value`` (e.g. ``"64 KiB"``) as a quantity of ``kind``, in that kind's base unit.

    A plain number is refused unless ``bare_is_base`` (then it is taken as already in the
    base unit: bytes, Hz, seconds, pJ, ...). Sizes and bit widths come back as ``int``.
    """
    spec = KINDS[kind]
    expected = describe_kind(kind)
    if isinstance(value, bool):
        raise UnitError(f"expected {expected}, got {value!r}")
    if isinstance(value, int | float):
        if not bare_is_base:
            raise UnitError(f"expected {expected}, got {value!r} (a plain number: add the unit)")
        return _finish(float(value), spec, value)
    if not isinstance(value, str):
        raise UnitError(f"expected {expected}, got {value!r}")
    match = _QUANTITY.match(value)
    if match is None:
        raise UnitError(f'expected {expected}, got "{value}"')
    number, unit = float(match.group(1)), match.group(2)
    if unit in _AMBIGUOUS and unit not in spec.factors:
        raise UnitError(f'expected {expected}, got "{value}" ("{unit}" is ambiguous: write '
                        f"{_AMBIGUOUS[unit]})")
    if unit not in spec.factors:
        raise UnitError(f'expected {expected}, got "{value}"')
    return _finish(number * spec.factors[unit], spec, value)


def _finish(base_value: float, spec: QuantityKind, original: object) -> float | int:
    if not math.isfinite(base_value):
        raise UnitError(f"expected a finite {spec.name}, got {original!r}")
    if not spec.integral:
        return base_value
    rounded = round(base_value)
    if abs(base_value - rounded) > 1e-9 * max(1.0, abs(base_value)):
        raise UnitError(f"{original!r} is not a whole number of {spec.base_unit}")
    return int(rounded)


def parse_count(value: object) -> int:
    """A dimensionless whole number (rows, banks, lanes, cycles): a TOML integer."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnitError(f"expected a whole number, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise UnitError(f"expected a whole number, got {value!r}")
    return int(value)


def parse_number(value: object) -> float:
    """A dimensionless real number (words per cycle): a TOML integer or float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnitError(f"expected a plain number, got {value!r}")
    if not math.isfinite(value):
        raise UnitError(f"expected a finite number, got {value!r}")
    return float(value)


def format_quantity(value: float, kind: str) -> str:
    """A base-unit value back as a readable string in the base unit ("65536 B", "1e+09 Hz")."""
    spec = KINDS[kind]
    text = str(int(value)) if spec.integral else f"{value:.6g}"
    return f"{text} {spec.base_unit}"


# Readable display: the largest SI prefix at which a value is still >= 1. Energy from pJ,
# sizes from bytes (decimal prefixes, as the report's tables and figures use).
DISPLAY_SCALES = {
    "energy": ((1e12, "J"), (1e9, "mJ"), (1e6, "µJ"), (1e3, "nJ"), (1.0, "pJ")),
    "size": ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"), (1.0, "B")),
}


def display_scale(largest: float, kind: str) -> tuple[float, str]:
    """(base units per display unit, its name) for values up to ``largest``:
    ``display_scale(1.276e12, "energy") == (1e12, "J")``."""
    scales = DISPLAY_SCALES[kind]
    for factor, name in scales:
        if abs(largest) >= factor:
            return factor, name
    return scales[-1]


def readable(value: float, kind: str, digits: int = 4) -> str:
    """A base-unit value in its own readable unit: ``readable(1.276e12, "energy")`` is
    ``"1.276 J"``, ``readable(74.07e6, "size")`` is ``"74.07 MB"``."""
    factor, name = display_scale(value, kind)
    return f"{value / factor:.{digits}g} {name}"
