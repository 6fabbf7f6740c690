"""Writing output files so that a failure never leaves half a file behind."""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from accelsim.errors import ConfigError


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".",
                                   prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as err:
        raise ConfigError(f"cannot write {path}: {err.strerror}") from None


def write_text_atomic(path: str | Path, text: str) -> None:
    """The text (UTF-8) form of :func:`write_bytes_atomic`."""
    write_bytes_atomic(path, text.encode("utf-8"))


def read_toml(path: Path, shown: str, what: str = "") -> dict[str, Any]:
    """Parse a TOML file; any problem is one ConfigError naming ``shown`` (the path as the
    user wrote it). ``what`` names the kind of file in the unreadable-file message."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{shown}: cannot read{' ' + what if what else ''}: "
                          f"{error.strerror}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{shown}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{shown}: invalid TOML: {error}") from None
