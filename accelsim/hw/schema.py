"""Typed parameters for the hardware description, gem5-style: unit, default, one-line doc.

Every field of the description's dataclasses is made with :func:`param` (read from a
TOML key) or :func:`derived` (computed); the :class:`Param` stored in the field's
metadata is what the loader parses with, what error messages name, and what
docs/hardware.md is generated from (:mod:`accelsim.hw.docs`).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from accelsim.errors import ConfigError
from accelsim.hw.bounds import check_bound
from accelsim.hw.units import KINDS, UnitError, parse_count, parse_number, parse_quantity


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


REQUIRED = _Marker("REQUIRED")  # no default: the description must give the key
COMPUTED = _Marker("COMPUTED")  # the default depends on other values (energy table, standard)

# Kinds that are not physical quantities, with how the docs name them.
PLAIN_KINDS = {
    "count": "whole number",
    "number": "number",
    "choice": "one of",
    "flag": "true/false",
    "text": "text",
    "energy_by_dtype": "table dtype = energy",
    "address_mapping": "fields",
    "index_bits": 'whole number or "auto"',
    "section": "table",
}


@dataclass(frozen=True)
class Param:
    """What a field is: its TOML key (None when derived), kind, default and description."""

    key: str | None
    kind: str  # a units.KINDS name or a PLAIN_KINDS name
    doc: str
    default: Any = REQUIRED  # a TOML-style value, REQUIRED or COMPUTED
    default_doc: str | None = None  # how the docs show a COMPUTED default
    choices: tuple[str, ...] = ()
    check: str = "positive"  # "positive", "non_negative" or "none"

    def unit_doc(self) -> str:
        """'size (B)', 'one of: ws, os, is', ... for the reference tables."""
        if self.kind in KINDS:
            return f"{self.kind.replace('_', ' ')} ({KINDS[self.kind].base_unit})"
        if self.kind == "choice":
            return "one of: " + ", ".join(f"`{choice}`" for choice in self.choices)
        return PLAIN_KINDS[self.kind]

    def default_text(self) -> str:
        if self.default is REQUIRED:
            return "required"
        if self.default is COMPUTED:
            return self.default_doc or "computed"
        if isinstance(self.default, bool):
            return str(self.default).lower()
        if isinstance(self.default, str):
            return f'"{self.default}"'
        return str(self.default)


def param(key: str, kind: str, doc: str, *, default: Any = REQUIRED,
          default_doc: str | None = None, choices: Iterable[str] = (),
          check: str = "positive") -> Any:
    """A dataclass field read from TOML ``key``; the description lives in its metadata."""
    spec = Param(key, kind, doc, default, default_doc, tuple(choices), check)
    return dataclasses.field(metadata={"param": spec})


def derived(doc: str, kind: str, *, compare: bool = True) -> Any:
    """A dataclass field computed by the loader, not read from TOML."""
    return dataclasses.field(compare=compare,
                             metadata={"param": Param(None, kind, doc, COMPUTED)})


def params_of(cls) -> list[tuple[str, Param]]:
    """(field name, Param) of every described field of a dataclass, in order."""
    return [(f.name, f.metadata["param"]) for f in dataclasses.fields(cls)
            if "param" in f.metadata]


def keys_of(cls) -> list[str]:
    return [spec.key for _, spec in params_of(cls) if spec.key is not None]


@dataclass(frozen=True)
class Context:
    """Where values come from, so that a message can name the file and the key."""

    source: str  # the file the description was loaded from (or a label)
    origins: Mapping[str, str]  # dotted key -> the file that set it (extends, replace())
    bare_is_base: bool = False  # plain numbers for unit fields are base units (replace())

    def origin(self, dotted: str) -> str:
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            found = self.origins.get(".".join(parts[:end]))
            if found is not None:
                return found
        return self.source

    def fail(self, dotted: str, reason: str) -> NoReturn:
        raise ConfigError(f"{self.origin(dotted)}: {dotted}: {reason}")


def suggestion(word: str, known: Iterable[str]) -> str:
    """' (did you mean "capacity"?)' when a known word is close, else ''."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    if not close:
        lowered = {item.lower(): item for item in known}
        close = [lowered[word.lower()]] if word.lower() in lowered else []
    return f' (did you mean "{close[0]}"?)' if close else ""


def reject_unknown_keys(table: Mapping[str, Any], known: Iterable[str], prefix: str,
                        ctx: Context) -> None:
    known = list(known)
    for key in table:
        if key not in known:
            dotted = f"{prefix}.{key}" if prefix else key
            ctx.fail(dotted, f"unknown key{suggestion(key, known)}")


def read_params(cls, section: str, table: Mapping[str, Any], ctx: Context,
                skip: Iterable[str] = ()) -> dict[str, Any]:
    """Parse ``table`` against ``cls``'s params: {field name: value}.

    Unknown keys, missing required keys, wrong units and values out of range raise
    ConfigError. A COMPUTED key that is absent comes back as None for the section's
    builder to fill in; keys in ``skip`` are left to the caller.
    """
    reject_unknown_keys(table, keys_of(cls), section, ctx)
    values = {}
    for name, spec in params_of(cls):
        if spec.key is None or spec.key in skip:
            continue
        dotted = f"{section}.{spec.key}" if section else spec.key
        if spec.key in table:
            values[name] = parse_value(spec, table[spec.key], dotted, ctx)
        elif spec.default is REQUIRED:
            ctx.fail(dotted, "missing required key")
        elif spec.default is COMPUTED:
            values[name] = None
        else:
            values[name] = parse_value(spec, spec.default, dotted, ctx)
    return values


def parse_value(spec: Param, value: Any, dotted: str, ctx: Context) -> Any:
    """One value of ``spec``'s kind, checked; ConfigError naming ``dotted`` otherwise."""
    try:
        parsed = _PARSERS[spec.kind](value, spec, ctx) if spec.kind in _PARSERS else (
            parse_quantity(value, spec.kind, bare_is_base=ctx.bare_is_base))
    except UnitError as error:
        ctx.fail(dotted, str(error))
    _check_range(spec, parsed, value, dotted, ctx)
    return parsed


def _check_range(spec: Param, parsed: Any, original: Any, dotted: str, ctx: Context) -> None:
    if spec.check == "none" or not isinstance(parsed, int | float) or isinstance(parsed, bool):
        return
    shown = f'"{original}"' if isinstance(original, str) else repr(original)
    beyond = check_bound(dotted, parsed, shown)
    if beyond:
        ctx.fail(dotted, beyond)
    if spec.check == "positive" and parsed <= 0:
        ctx.fail(dotted, f"must be greater than zero, got {shown}")
    if spec.check == "non_negative" and parsed < 0:
        ctx.fail(dotted, f"must not be negative, got {shown}")


def _parse_choice(value: Any, spec: Param, ctx: Context) -> str:
    if not isinstance(value, str) or value not in spec.choices:
        options = ", ".join(f'"{choice}"' for choice in spec.choices)
        shown = f'"{value}"' if isinstance(value, str) else repr(value)
        hint = suggestion(value, spec.choices) if isinstance(value, str) else ""
        raise UnitError(f"expected one of {options}, got {shown}{hint}")
    return value


def _parse_flag(value: Any, spec: Param, ctx: Context) -> bool:
    if not isinstance(value, bool):
        raise UnitError(f"expected true or false, got {value!r}")
    return value


def _parse_text(value: Any, spec: Param, ctx: Context) -> str:
    if not isinstance(value, str):
        raise UnitError(f"expected a string, got {value!r}")
    return value


def _parse_index_bits(value: Any, spec: Param, ctx: Context) -> int | None:
    if value == "auto":
        return None
    return parse_count(value)


_PARSERS = {
    "count": lambda value, spec, ctx: parse_count(value),
    "number": lambda value, spec, ctx: parse_number(value),
    "choice": _parse_choice,
    "flag": _parse_flag,
    "text": _parse_text,
    "index_bits": _parse_index_bits,
}

