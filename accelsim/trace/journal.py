"""The step journal beside a trace being written: ``<trace>.journal`` (docs/trace-format.md).

A chunk is written to the trace only when it is complete, so the records of the open
chunk would die with a killed process.  The writer therefore also appends every record,
as soon as it is appended, to the journal (one ``os.write``, no compression), empties
the journal once the chunk holding those records is in the trace, and deletes it when
the trace is closed.  A reader of a trace without an end marker takes the steps the
journal holds after the trace's last complete chunk.  The journal file also carries the
writer's lock: two writers of one trace exclude each other.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from accelsim.errors import TraceError
from accelsim.trace.layout import crc32

JOURNAL_MAGIC = b"\x89AJOURN\n"
JOURNAL_VERSION = 1
# magic, version, reserved, CRC32 of the trace's preamble and header chunk (the binding),
# CRC32 of the first 16 bytes
PREAMBLE = struct.Struct("<8sHHII")
# record index in the file, step, record length, CRC32 of the first 20 bytes + the record
FRAME = struct.Struct("<QqII")

try:  # POSIX advisory locks; elsewhere writers are not excluded
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None


def journal_path(trace_path: str) -> str:
    return f"{trace_path}.journal"


def pack_preamble(binding: int) -> bytes:
    head = struct.pack("<8sHHI", JOURNAL_MAGIC, JOURNAL_VERSION, 0, binding)
    return head + struct.pack("<I", crc32(head))


def pack_frame(index: int, step: int, record: bytes) -> bytes:
    head = FRAME.pack(index, step, len(record), 0)[:-4]
    return head + struct.pack("<I", crc32(head + record)) + record


def lock(path: str, trace_path: str) -> int:
    """Open (creating) and exclusively lock the journal; its fd. TraceError when another
    process holds it. The file is not truncated here."""
    for _ in range(8):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as err:
            raise TraceError(f"cannot create trace journal {path}: {err.strerror}") from None
        if fcntl is None:
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise TraceError(f"{trace_path} is being written by another process (it holds "
                             f"the lock on {path})") from None
        try:  # the holder before us may have deleted the file we locked: lock the new one
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise TraceError(f"cannot lock trace journal {path}")


@dataclass
class JournalRecords:
    """The records a journal adds after a trace's complete chunks."""

    path: str
    records: list[tuple[int, bytes]]  # (step, record bytes), in order
    problem: str = ""  # why the journal is damaged ('' when sound)


def read_journal(trace_path: str, binding: int, next_record: int,
                 last_step: int | None) -> JournalRecords | None:
    """The steps after record ``next_record - 1`` of the trace, from its journal; None when
    there is no journal for this trace (absent, empty, or another trace's)."""
    path = journal_path(trace_path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if len(data) < PREAMBLE.size:
        return None  # created, never written: holds nothing
    magic, version, reserved, bound, crc = PREAMBLE.unpack_from(data)
    if magic != JOURNAL_MAGIC or crc32(data[:PREAMBLE.size - 4]) != crc or reserved:
        return JournalRecords(path, [], f"{path}: not a trace journal (bad preamble)")
    if version != JOURNAL_VERSION:
        return JournalRecords(path, [], f"{path}: journal version {version} is not "
                                        f"supported ({JOURNAL_VERSION})")
    if bound != binding:
        return None  # the journal of an earlier trace at this path
    found = JournalRecords(path, [])
    pos, expected, previous = PREAMBLE.size, next_record, last_step
    while pos + FRAME.size <= len(data):
        index, step, length, crc = FRAME.unpack_from(data, pos)
        end = pos + FRAME.size + length
        if end > len(data):
            break  # the writer was killed inside this frame
        if crc32(data[pos:pos + FRAME.size - 4] + data[pos + FRAME.size:end]) != crc:
            found.problem = f"{path}: frame at byte offset {pos} is damaged"
            return found
        record = data[pos + FRAME.size:end]
        if index < next_record:
            pass  # already in a complete chunk of the trace (killed before emptying)
        elif index == expected - 1 and found.records and step == found.records[-1][0]:
            found.records[-1] = (step, record)  # the same record amended (its loss, ...)
        elif index == expected and (previous is None or step > previous) and step >= 0:
            found.records.append((step, record))
            expected, previous = expected + 1, step
        else:
            found.problem = (f"{path}: frame at byte offset {pos} (record {index}, step "
                             f"{step}) does not follow record {expected - 1}")
            return found
        pos = end
    return found
