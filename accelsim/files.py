"""Writing output files so that a failure never leaves half a file behind."""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from accelsim.errors import ConfigError


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    with atomic_output(path, "wb") as handle:
        handle.write(data)


@contextmanager
def atomic_output(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """A file to stream a large output into: a temporary file beside ``path``, renamed into
    place when the block ends and removed if it raises (``path`` untouched then)."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".",
                                   prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise ConfigError(f"cannot write {path}: {err.strerror}") from None
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; give what open() would
        os.replace(tmp, path)
    except BaseException as err:
        os.unlink(tmp)
        if isinstance(err, OSError):
            raise ConfigError(f"cannot write {path}: {err.strerror}") from None
        raise


def check_outputs(outputs: dict[str, str | Path | None],
                  inputs: list[str | Path | None]) -> None:
    """Before any work: every output (``{"--out": path}``) goes into an existing folder, is
    not a folder itself and is not one of the inputs. ConfigError naming the option."""
    sources = [Path(p) for p in inputs if p is not None and Path(p).exists()]
    for option, path in outputs.items():
        if path is None:
            continue
        path = Path(path)
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise ConfigError(f"{option} {path}: folder {parent} does not exist")
        if path.is_dir():
            raise ConfigError(f"{option} {path}: is a folder, not a file")
        for source in sources:
            if path.exists() and os.path.samefile(path, source):
                raise ConfigError(f"{option} {path}: is an input of this command; choose "
                                  f"another output file")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
