"""Reading hardware descriptions from TOML files and presets, resolving ``extends``.

``load_hardware("edge-lpddr4")`` reads the preset ``models/edge-lpddr4.toml``;
``load_hardware("my/design.toml")`` reads that file. A file may say
``extends = "other.toml"`` (a path relative to the file) or ``extends = "edge-lpddr4"``
(a preset name): the parent is loaded first and the child's keys are deep-merged over
it (tables merge key by key; any other value, arrays included, replaces the parent's).
A child that changes ``dram.standard``, ``storage.format`` or ``sram.organization``
drops the parent's keys that depend on it (``description.DEPENDENT_KEYS``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import accelsim
from accelsim.errors import ConfigError
from accelsim.files import read_toml
from accelsim.hw.description import Hardware, build_hardware, drop_dependent_keys
from accelsim.hw.schema import suggestion

# Where preset names resolve. Presets live in the repository's models/ folder; when they
# are shipped as package data, point this at that folder.
PRESET_DIR = Path(accelsim.__file__).resolve().parent.parent / "models"
PRESET_SUFFIX = ".toml"


def load_hardware(path_or_name: str | os.PathLike[str]) -> Hardware:
    """Load a hardware description from a TOML file or a preset name; validate it."""
    path = resolve_hardware_path(path_or_name)
    inputs, origins = _load_merged(path, chain=())
    return build_hardware(inputs, source=display_path(path), origins=origins)


def list_presets() -> list[str]:
    """Names of the presets in PRESET_DIR (``load_hardware`` accepts each)."""
    return sorted(path.stem for path in PRESET_DIR.glob(f"*{PRESET_SUFFIX}"))


def resolve_hardware_path(path_or_name: str | os.PathLike[str]) -> Path:
    """An existing file as given, else a preset of that name; ConfigError otherwise."""
    path = Path(path_or_name)
    if path.is_file():
        return path
    if len(path.parts) == 1:
        for candidate in (PRESET_DIR / path.name, PRESET_DIR / f"{path.name}{PRESET_SUFFIX}"):
            if candidate.is_file():
                return candidate
    hint = suggestion(path.stem, list_presets())
    raise ConfigError(f"{path_or_name}: no such file or preset{hint} "
                      f"(presets: {', '.join(list_presets())})")


def display_path(path: Path) -> str:
    """How messages name a file: relative to the working directory, else models/NAME."""
    resolved = path.resolve()
    for base, prefix in ((Path.cwd().resolve(), Path()),
                         (PRESET_DIR.resolve(), Path(PRESET_DIR.name))):
        try:
            return str(prefix / resolved.relative_to(base))
        except ValueError:
            continue
    return str(path)


def _load_merged(path: Path, chain: tuple[Path, ...]) -> tuple[dict, dict[str, str]]:
    """The document at ``path`` merged over its ``extends`` ancestors, and each key's file."""
    shown = display_path(path)
    document = _read_toml(path, shown)
    parent_ref = document.pop("extends", None)
    origins = {dotted: shown for dotted in _flatten(document)}
    if parent_ref is None:
        return document, origins
    if not isinstance(parent_ref, str):
        raise ConfigError(f'{shown}: extends: expected a file name like "edge-lpddr4.toml", '
                          f"got {parent_ref!r}")
    parent = _parent_path(path, parent_ref, shown)
    chain = (*chain, path.resolve())
    if parent.resolve() in chain:
        loop = " -> ".join(display_path(link) for link in (*chain, parent))
        raise ConfigError(f"{shown}: extends: loop {loop}")
    parent_document, parent_origins = _load_merged(parent, chain)
    drop_dependent_keys(parent_document, _flatten(document))
    return deep_merge(parent_document, document), {**parent_origins, **origins}


def _read_toml(path: Path, shown: str) -> dict[str, Any]:
    return read_toml(path, shown)


def _parent_path(child: Path, reference: str, shown: str) -> Path:
    """``extends`` target: a path relative to the child's folder, or a bare preset name."""
    relative = child.parent / reference
    if relative.is_file():
        return relative
    is_bare_name = "/" not in reference and not reference.endswith(PRESET_SUFFIX)
    preset = PRESET_DIR / f"{reference}{PRESET_SUFFIX}"
    if is_bare_name and preset.is_file():
        return preset
    siblings = [sibling.name for sibling in child.parent.glob(f"*{PRESET_SUFFIX}")]
    raise ConfigError(f'{shown}: extends: parent "{reference}" not found'
                      f"{suggestion(reference, siblings)}")


def _flatten(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{dotted key: value} of every non-table value in ``document``."""
    flat = {}
    for key, value in document.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def deep_merge(parent: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """``child`` over ``parent``: tables merge key by key, other values replace."""
    merged = dict(parent)
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
