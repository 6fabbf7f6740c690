"""Finished points on disk: ``DIR/points/<key>.json``, one file per point, so a sweep
that is killed and rerun recomputes only the points that have no file.

Every file is written to a temporary name and renamed into place: a kill leaves either
the whole file or none. A file that does not read back as a point of this key (edited,
from an older format) counts as missing and is recomputed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from accelsim.errors import ConfigError
from accelsim.explore.spec import POINT_FORMAT_VERSION
from accelsim.files import write_text_atomic

POINT_FORMAT = "accelsim-sweep-point"


class PointStore:
    """The ``points/`` folder of a sweep's output directory."""

    def __init__(self, out_dir: Path):
        self.folder = out_dir / "points"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"cannot create {self.folder}: {error.strerror}") from None

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str) -> dict[str, Any] | None:
        """The stored row of ``key``, or None when there is no usable file."""
        try:
            document = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (not isinstance(document, dict) or document.get("format") != POINT_FORMAT
                or document.get("version") != POINT_FORMAT_VERSION
                or document.get("key") != key or not isinstance(document.get("row"), dict)):
            return None
        return document["row"]

    def save(self, key: str, row: dict[str, Any], provenance: dict[str, Any]) -> None:
        document = {"format": POINT_FORMAT, "version": POINT_FORMAT_VERSION, "key": key,
                    "row": {name: _json_safe(value) for name, value in row.items()},
                    "provenance": provenance}
        text = json.dumps(document, indent=1, sort_keys=True, allow_nan=False) + "\n"
        write_text_atomic(self.path(key), text)


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null (strict JSON); numpy scalars become Python ones."""
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
