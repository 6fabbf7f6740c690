"""Walk a trace file's chunk headers without decompressing step payloads.

The scan classifies a file as intact (ends with a valid end marker), truncated (the file
stops inside or after a chunk; everything before is sound) or corrupt (a checksum or a
consistency check fails), and returns the index of complete step chunks.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from accelsim.errors import TraceError
from accelsim.trace import layout
from accelsim.trace.journal import read_journal
from accelsim.trace.layout import ChunkHeader, Malformed, crc32
from accelsim.trace.model import FORMAT_MINOR, SUPPORTED_VERSIONS, TraceHeader
from accelsim.trace.records import MIN_RECORD


@dataclass(frozen=True)
class ChunkEntry:
    """One complete step chunk: where it lies and which steps it holds."""

    offset: int
    header: ChunkHeader
    steps: np.ndarray
    journal: str = ""  # the journal holding these records ('' for a chunk of the trace)
    records: bytes = b""  # their bytes, when they come from the journal

    @property
    def payload_offset(self) -> int:
        return self.offset + layout.CHUNK_HEADER.size + self.header.step_table_len

    @property
    def end(self) -> int:
        return self.payload_offset + self.header.payload_len

    @property
    def keyframe(self) -> bool:
        return bool(self.header.flags & layout.FLAG_KEYFRAME)

    def describe(self) -> str:
        where = f"journal {self.journal}" if self.journal else \
            f"chunk at byte offset {self.offset}"
        return f"{where} (steps {self.header.first_step}..{self.header.last_step})"


@dataclass
class ScanResult:
    path: str
    file_size: int
    status: str = "truncated"  # "intact" | "truncated" | "corrupt"
    message: str = ""
    bad_offset: int | None = None
    bad_steps: tuple[int, int | None] | None = None
    header: TraceHeader | None = None
    minor: int = 0
    chunks: list[ChunkEntry] = field(default_factory=list)

    @property
    def last_step(self) -> int | None:
        return self.chunks[-1].header.last_step if self.chunks else None


# deflate cannot expand data more than 1032:1, nor (as zlib.compress writes it) grow it
# by more than a few bytes per 16 KiB block: lengths outside these bounds are corruption,
# and no length in a file can make a reader allocate more than its size justifies.
MAX_RATIO = 1032


def plausible_lengths(payload_len: int, raw_len: int) -> bool:
    """Whether a zlib stream of ``payload_len`` bytes can inflate to ``raw_len`` bytes."""
    return 8 <= payload_len <= raw_len + raw_len // 1000 + 64 and \
        raw_len <= MAX_RATIO * payload_len


def inflate(payload: bytes, raw_len: int) -> bytes:
    """zlib-decompress exactly ``raw_len`` bytes; Malformed otherwise (never a zlib.error)."""
    if not plausible_lengths(len(payload), raw_len):
        raise Malformed(f"{len(payload)} stored bytes cannot inflate to {raw_len}")
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(payload, raw_len + 1)
    except (zlib.error, OverflowError, MemoryError) as err:
        raise Malformed(f"payload does not decompress ({err})") from None
    if len(raw) != raw_len or not inflater.eof or inflater.unused_data:
        raise Malformed(f"payload decompresses to {len(raw)} bytes, header says {raw_len}")
    return raw


def _complete_stream(data: bytes, raw_len: int) -> bool:
    """Whether ``data`` holds a whole zlib stream (a writer killed inside a payload
    leaves one without its end)."""
    try:
        inflater = zlib.decompressobj()
        inflater.decompress(data, raw_len + 1)
    except (zlib.error, OverflowError, MemoryError):
        return False
    return inflater.eof


def scan(f, path: str) -> ScanResult:
    """Index a trace open in ``f``; raises TraceError only for an unsupported version."""
    result = ScanResult(path, os.fstat(f.fileno()).st_size)
    scanner = _Scanner(f, result)
    if scanner.preamble() and scanner.header_chunk():
        scanner.step_chunks(layout.PREAMBLE.size + scanner.header_chunk_len)
        if result.status == "truncated":
            scanner.journal()
    return result


class _Scanner:
    def __init__(self, f, result: ScanResult):
        self.f, self.result = f, result
        self.header_chunk_len = 0

    def read(self, offset: int, n: int) -> bytes:
        self.f.seek(offset)
        return self.f.read(n)

    def stop(self, status: str, offset: int | None, message: str) -> bool:
        """Record why the scan ends here; returns False so callers can ``return self.stop``."""
        result = self.result
        result.status, result.bad_offset = status, offset
        result.message = f"{result.path}: {status}: {message}"
        if status != "corrupt":
            result.bad_steps = None
        elif result.bad_steps is None:
            last = result.last_step
            result.bad_steps = (0 if last is None else last + 1, None)
        return False

    def journal(self) -> None:
        """Add the steps the journal beside an unclosed trace holds after its chunks."""
        result = self.result
        chunks = result.chunks
        binding = crc32(self.read(0, layout.PREAMBLE.size + self.header_chunk_len))
        next_record = chunks[-1].header.first_record + chunks[-1].header.n_records \
            if chunks else 0
        found = read_journal(result.path, binding, next_record, result.last_step)
        if found is None:
            return
        if found.problem:
            last = result.last_step
            result.status, result.bad_offset = "corrupt", None
            result.bad_steps = (0 if last is None else last + 1, None)
            result.message = (f"{result.path}: corrupt: {found.problem}; delete the journal "
                              f"to read the trace without the steps it holds")
            return
        if not found.records:
            return
        steps = np.array([step for step, _ in found.records], dtype=np.int64)
        raw = b"".join(record for _, record in found.records)
        keyframe = layout.FLAG_KEYFRAME if found.records[0][1][:1] == b"\x01" else 0
        header = ChunkHeader(layout.TYPE_STEPS, keyframe, steps.size, 0, next_record,
                             int(steps[0]), int(steps[-1]), 0, len(raw), 0)
        chunks.append(ChunkEntry(result.file_size, header, steps, found.path, raw))
        result.message += (f"; steps {steps[0]}..{steps[-1]} ({steps.size}) recovered "
                           f"from {found.path}")

    def preamble(self) -> bool:
        size = self.result.file_size
        raw = self.read(0, layout.PREAMBLE.size)
        magic = layout.PREAMBLE_MAGIC
        if raw[:len(magic)] != magic[:len(raw)]:
            return self.stop("corrupt", 0, "not an accelsim trace file (bad magic number)")
        if size < layout.PREAMBLE.size:
            what = "empty file" if size == 0 else "file ends inside the preamble"
            return self.stop("truncated", size, f"{what}: no trace header")
        _, major, minor, crc = layout.PREAMBLE.unpack(raw)
        if crc32(raw[:-4]) != crc:
            return self.stop("corrupt", 0, "preamble checksum mismatch at byte offset 0")
        _check_version(major, self.result.path)
        self.result.minor, self.major = minor, major
        return True

    def header_chunk(self) -> bool:
        offset = layout.PREAMBLE.size
        found = self.chunk_header(offset, "trace header")
        if not found:
            return False
        chunk, end = found
        if chunk.kind != layout.TYPE_HEADER or chunk.flags or chunk.n_records:
            return self.stop("corrupt", offset, "first chunk is not the trace header")
        if (chunk.step_table_crc, chunk.first_record, chunk.first_step, chunk.last_step) != (
                0, 0, 0, 0) or not plausible_lengths(chunk.payload_len, chunk.raw_len):
            return self.stop("corrupt", offset, f"trace header chunk at byte offset {offset} "
                                                f"has impossible fields")
        if end > self.result.file_size:
            return self.truncated_inside(offset, "file ends inside the trace header")
        try:
            payload = self.checked_payload(offset + layout.CHUNK_HEADER.size, chunk)
            data = json.loads(inflate(payload, chunk.raw_len).decode("utf-8"))
            self.result.header = TraceHeader.from_dict(data, self.result.minor)
            if self.result.header.format_version != self.major:
                raise Malformed(f"format_version {self.result.header.format_version} is not "
                                f"the preamble's major version {self.major}")
        except (Malformed, ValueError, TypeError, RecursionError, TraceError) as err:
            return self.stop("corrupt", offset, f"trace header at byte offset {offset} is "
                                                f"malformed: {err}")
        self.header_chunk_len = end - offset
        return True

    def chunk_header(self, offset: int, what: str):
        """(header, end offset) of the chunk at ``offset``, or False after ``stop``."""
        raw = self.read(offset, layout.CHUNK_HEADER.size)
        magic = layout.CHUNK_MAGIC
        if raw[:len(magic)] != magic[:len(raw)]:
            return self.stop("corrupt", offset, f"bad chunk magic at byte offset {offset} "
                                                f"({what})")
        if len(raw) < layout.CHUNK_HEADER.size:
            return self.stop("truncated", offset, f"file ends inside a chunk header at byte "
                                                  f"offset {offset} ({what})")
        chunk = ChunkHeader.unpack(raw)
        if chunk is None:
            return self.stop("corrupt", offset, f"chunk header checksum mismatch at byte "
                                                f"offset {offset} ({what})")
        end = offset + layout.CHUNK_HEADER.size + chunk.step_table_len + chunk.payload_len
        return chunk, end

    def checked_payload(self, offset: int, chunk: ChunkHeader) -> bytes:
        payload = self.read(offset, chunk.payload_len)
        if crc32(payload) != chunk.payload_crc:
            raise Malformed("payload checksum mismatch")
        return payload

    def step_chunks(self, offset: int) -> None:
        size = self.result.file_size
        while True:
            last = self.result.last_step
            if offset == size:
                after = "before any step" if last is None else f"after step {last}"
                self.stop("truncated", offset, f"no end marker: the writer stopped {after}")
                return
            where = "first step chunk" if last is None else f"after step {last}"
            found = self.chunk_header(offset, where)
            if not found:
                return
            chunk, end = found
            if chunk.kind == layout.TYPE_END:
                self.end_marker(offset, chunk, end)
                return
            if not self.step_chunk(offset, chunk, end):
                return
            offset = end

    def step_chunk(self, offset: int, chunk: ChunkHeader, end: int) -> bool:
        result = self.result
        if chunk.kind != layout.TYPE_STEPS:
            if result.minor <= FORMAT_MINOR:
                return self.stop("corrupt", offset, f"unknown chunk type {chunk.kind} at "
                                                    f"byte offset {offset}")
            if end > result.file_size:
                return self.truncated_inside(offset, f"file ends inside a chunk at byte "
                                                     f"offset {offset}")
            return True  # a later minor version's chunk type: skip it
        problem = self.inconsistency(chunk)
        if problem:
            # the header is sound but out of place (a swap, a duplicate): the steps at
            # risk are those after the last good one, whatever this chunk claims
            last = result.last_step
            after = "no step" if last is None else f"no step after {last}"
            return self.stop("corrupt", offset, f"chunk at byte offset {offset}: {problem}; "
                                                f"{after} can be read")
        result.bad_steps = (chunk.first_step, chunk.last_step)
        if end > result.file_size:
            return self.truncated_inside(
                offset, f"last chunk (steps {chunk.first_step}..{chunk.last_step}) at byte "
                        f"offset {offset} is incomplete: {result.file_size - offset} of "
                        f"{end - offset} bytes")
        steps = self.steps_of(offset, chunk)
        if steps is None:
            return self.stop("corrupt", offset, f"step table of the chunk at byte offset "
                                                f"{offset} is damaged")
        result.bad_steps = None
        result.chunks.append(ChunkEntry(offset, chunk, steps))
        return True

    def truncated_inside(self, offset: int, message: str) -> bool:
        """A chunk whose header is sound runs past the end of the file: a killed writer,
        unless a sound chunk header lies inside it (a damaged length hiding later chunks)."""
        self.f.seek(offset + layout.CHUNK_HEADER.size)
        rest = self.f.read()
        at = rest.find(layout.CHUNK_MAGIC)
        while at >= 0:
            raw = rest[at:at + layout.CHUNK_HEADER.size]
            if len(raw) == layout.CHUNK_HEADER.size and ChunkHeader.unpack(raw) is not None:
                hidden = offset + layout.CHUNK_HEADER.size + at
                return self.stop("corrupt", offset, f"chunk at byte offset {offset} claims "
                                 f"more bytes than the file holds, but a sound chunk starts "
                                 f"inside it at byte offset {hidden}")
            at = rest.find(layout.CHUNK_MAGIC, at + 1)
        chunk = ChunkHeader.unpack(self.read(offset, layout.CHUNK_HEADER.size))
        present = rest[chunk.step_table_len:]
        if chunk.step_table_len <= len(rest) and _complete_stream(present, chunk.raw_len):
            return self.stop("corrupt", offset, f"chunk at byte offset {offset} claims "
                             f"{chunk.payload_len} payload bytes, but its payload is "
                             f"complete after {len(present)}")
        return self.stop("truncated", offset, message)

    def inconsistency(self, chunk: ChunkHeader) -> str:
        chunks = self.result.chunks
        expected = chunks[-1].header.first_record + chunks[-1].header.n_records if chunks else 0
        last = self.result.last_step
        n = chunk.n_records
        if chunk.flags & ~(layout.FLAG_KEYFRAME | layout.FLAG_STEP_TABLE) or n < 1:
            return f"bad flags {chunk.flags} or record count {n}"
        if chunk.first_record != expected:
            return f"starts at record {chunk.first_record}, expected {expected}"
        if chunk.first_step > chunk.last_step or (last is not None and chunk.first_step <= last):
            return f"steps {chunk.first_step}..{chunk.last_step} out of order after {last}"
        if chunk.first_step < 0:
            return f"negative step {chunk.first_step}"
        if chunk.last_step - chunk.first_step < n - 1:
            return f"{n} increasing steps cannot lie in {chunk.first_step}..{chunk.last_step}"
        if not chunk.flags & layout.FLAG_STEP_TABLE and chunk.step_table_crc:
            return "a step table checksum without a step table"
        # every record takes at least MIN_RECORD bytes, so the counts are bounded by the
        # payload, which is bounded by the file
        if not plausible_lengths(chunk.payload_len, chunk.raw_len) or \
                n * MIN_RECORD > chunk.raw_len:
            return (f"{n} records in {chunk.raw_len} bytes stored in {chunk.payload_len} "
                    f"is impossible")
        return ""

    def steps_of(self, offset: int, chunk: ChunkHeader) -> np.ndarray | None:
        n, first, last = chunk.n_records, chunk.first_step, chunk.last_step
        if not chunk.flags & layout.FLAG_STEP_TABLE:
            if n == 1:
                return np.array([first], dtype=np.int64) if first == last else None
            stride, rest = divmod(last - first, n - 1)
            return None if rest else first + stride * np.arange(n, dtype=np.int64)
        table = self.read(offset + layout.CHUNK_HEADER.size, chunk.step_table_len)
        if crc32(table) != chunk.step_table_crc:
            return None
        steps = np.frombuffer(table, dtype="<i8").astype(np.int64)
        sound = steps[0] == first and steps[-1] == last and bool(np.all(np.diff(steps) > 0))
        return steps if sound else None

    def end_marker(self, offset: int, chunk: ChunkHeader, end: int) -> None:
        result = self.result
        size = result.file_size
        if chunk.flags or chunk.n_records or (chunk.step_table_crc, chunk.first_step,
                                               chunk.last_step) != (0, 0, 0):
            self.stop("corrupt", offset, f"end marker at byte offset {offset} has impossible "
                                         f"fields")
            return
        if end > size:
            self.truncated_inside(offset, "file ends inside the end marker (all steps are "
                                          "complete)")
            return
        try:
            payload = self.checked_payload(offset + layout.CHUNK_HEADER.size, chunk)
            n_chunks, n_records, last = layout.END_PAYLOAD.unpack(inflate(payload, chunk.raw_len))
        except (Malformed, struct.error) as err:
            self.stop("corrupt", offset, f"end marker at byte offset {offset}: {err}")
            return
        records = sum(c.header.n_records for c in result.chunks)
        expected = (len(result.chunks), records, -1 if result.last_step is None
                    else result.last_step)
        if (n_chunks, n_records, last) != expected or chunk.first_record != records:
            self.stop("corrupt", offset, f"end marker at byte offset {offset} disagrees "
                                         f"with the chunks before it")
        elif end != size:
            self.stop("corrupt", end, f"{size - end} unexpected bytes after the end marker "
                                      f"at byte offset {end}")
        else:
            result.status, result.message = "intact", f"{result.path}: intact"


def _check_version(major: int, path: str) -> None:
    newest = max(SUPPORTED_VERSIONS)
    if major > newest:
        raise TraceError(f"{path}: trace format version {major} is newer than this accelsim "
                         f"supports ({newest}); upgrade accelsim")
    if major not in SUPPORTED_VERSIONS:
        raise TraceError(f"{path}: trace format version {major} is no longer supported "
                         f"(supported: {SUPPORTED_VERSIONS})")
