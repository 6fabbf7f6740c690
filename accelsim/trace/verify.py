"""verify(): check every checksum and decode every chunk of a trace file."""

from __future__ import annotations

import os
from dataclasses import dataclass

from accelsim.trace.reader import CorruptChunkError, TraceReader, open_binary
from accelsim.trace.scan import scan


@dataclass(frozen=True)
class VerifyReport:
    """What ``verify`` found.

    status: "intact" (closed cleanly, everything checks), "truncated" (the file stops
    early; the ``num_steps`` complete steps are sound) or "corrupt" (``bad_offset`` and
    ``bad_steps`` locate the first damage; ``bad_steps[1]`` is None when unknown).
    """

    path: str
    status: str
    num_steps: int
    last_step: int | None
    file_size_bytes: int
    bad_offset: int | None
    bad_steps: tuple[int, int | None] | None
    message: str

    @property
    def ok(self) -> bool:
        """True unless corrupt: every step present reads back as written."""
        return self.status != "corrupt"


def verify(path) -> VerifyReport:
    """Check a trace end to end; TraceError only when it cannot be opened or its format
    version is unsupported."""
    path = os.fspath(path)
    with open_binary(path) as f:
        result = scan(f, path)
        if result.header is None:
            return _report(result, 0, None)
        reader = TraceReader.from_scan(path, f, result)
        good_steps, last_step = 0, None
        try:
            for record in reader.iter_steps():
                good_steps, last_step = good_steps + 1, record.step
        except CorruptChunkError as err:
            return VerifyReport(path, "corrupt", good_steps, last_step, result.file_size,
                                err.offset, err.steps, str(err))
    return _report(result, good_steps, last_step)


def _report(result, num_steps: int, last_step: int | None) -> VerifyReport:
    message = result.message
    if result.status != "corrupt":
        message += f" ({num_steps} complete steps, last step {last_step})"
    return VerifyReport(result.path, result.status, num_steps, last_step, result.file_size,
                        result.bad_offset, result.bad_steps, message)
