"""Byte layout of a trace file: preamble, chunk header, index lists (docs/trace-format.md).

All integers are little-endian.  Every byte of a file is covered by a CRC32: the
preamble by its own, each chunk header by its own, the step table and the payload by
theirs.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

PREAMBLE_MAGIC = b"\x89ATRACE\n"
PREAMBLE = struct.Struct("<8sHHI")  # magic, major, minor, crc32 of the first 12 bytes

CHUNK_MAGIC = b"ACTC"
# magic, type, flags, reserved, n_records, step_table_crc, first_record, first_step,
# last_step, payload_len, raw_len, payload_crc, header_crc (of the first 60 bytes)
CHUNK_HEADER = struct.Struct("<4sBBHIIQqqQQII")

TYPE_HEADER = ord("H")
TYPE_STEPS = ord("S")
TYPE_END = ord("E")
FLAG_KEYFRAME = 1  # the chunk's first record is a keyframe
FLAG_STEP_TABLE = 2  # an explicit step table follows the header (steps not evenly spaced)

END_PAYLOAD = struct.Struct("<QQq")  # step chunks, records, last step (-1 when none)


def crc32(data) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def pack_preamble(major: int, minor: int) -> bytes:
    head = PREAMBLE_MAGIC + struct.pack("<HH", major, minor)
    return head + struct.pack("<I", crc32(head))


@dataclass(frozen=True)
class ChunkHeader:
    """The fixed 64-byte header in front of every chunk."""

    kind: int
    flags: int
    n_records: int
    step_table_crc: int
    first_record: int
    first_step: int
    last_step: int
    payload_len: int
    raw_len: int
    payload_crc: int

    @property
    def step_table_len(self) -> int:
        return 8 * self.n_records if self.flags & FLAG_STEP_TABLE else 0

    def pack(self) -> bytes:
        body = CHUNK_HEADER.pack(
            CHUNK_MAGIC, self.kind, self.flags, 0, self.n_records, self.step_table_crc,
            self.first_record, self.first_step, self.last_step, self.payload_len,
            self.raw_len, self.payload_crc, 0)[:-4]
        return body + struct.pack("<I", crc32(body))

    @classmethod
    def unpack(cls, raw: bytes) -> ChunkHeader | None:
        """Parse 64 bytes; None when the magic, reserved field or header CRC is wrong."""
        (magic, kind, flags, reserved, n_records, table_crc, first_record, first_step,
         last_step, payload_len, raw_len, payload_crc, header_crc) = CHUNK_HEADER.unpack(raw)
        if magic != CHUNK_MAGIC or reserved != 0 or crc32(raw[:-4]) != header_crc:
            return None
        return cls(kind, flags, n_records, table_crc, first_record, first_step, last_step,
                   payload_len, raw_len, payload_crc)


class Malformed(Exception):
    """A payload does not parse; the caller turns it into a TraceError with context."""


class Cursor:
    """Bounds-checked little-endian reads from a decompressed payload."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    @property
    def done(self) -> bool:
        return self.pos == len(self.data)

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise Malformed(f"payload ends {self.pos + n - len(self.data)} bytes early")
        view = memoryview(self.data)[self.pos:self.pos + n]
        self.pos += n
        return view

    def unpack(self, fmt: struct.Struct) -> tuple:
        return fmt.unpack(self.take(fmt.size))

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return _U32.unpack(self.take(4))[0]

    def u64(self) -> int:
        return _U64.unpack(self.take(8))[0]

    def array(self, dtype: str, n: int) -> np.ndarray:
        item = np.dtype(dtype)
        return np.frombuffer(self.take(n * item.itemsize), dtype=item)


_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_LIST_HEAD = struct.Struct("<QQB")  # count, first index, gap width (only when count > 0)
_WIDTHS = {1: "<u1", 2: "<u2", 4: "<u4", 8: "<u8"}


def encode_index_list(indices: np.ndarray) -> bytes:
    """Sorted unique indices as count, first, then (gap - 1) values in byte planes."""
    if indices.size == 0:
        return _U64.pack(0)
    gaps = np.diff(indices.astype(np.int64)) - 1
    top = int(gaps.max()) if gaps.size else 0
    width = next(w for w in (1, 2, 4, 8) if top < 256**w)
    # byte planes: every gap's low byte first, then every second byte, ...; zlib then
    # sees long runs of the small high bytes
    planes = gaps.astype(_WIDTHS[width]).view(np.uint8).reshape(-1, width).T
    return _LIST_HEAD.pack(indices.size, int(indices[0]), width) + planes.tobytes()


@dataclass(frozen=True)
class IndexList:
    """An encoded index list located in a payload, decoded only on demand."""

    count: int
    first: int
    width: int
    planes: memoryview

    @classmethod
    def read(cls, cursor: Cursor, limit: int) -> IndexList:
        count = cursor.u64()
        if count == 0:
            return cls(0, 0, 1, memoryview(b""))
        first, width = cursor.u64(), cursor.u8()
        if width not in _WIDTHS or count > limit or first >= limit:
            raise Malformed(f"index list of {count} (first {first}, width {width}) "
                            f"does not fit a tensor of {limit}")
        return cls(count, first, width, cursor.take((count - 1) * width))

    def decode(self, limit: int) -> np.ndarray:
        """The sorted flat indices as int64; Malformed when one is >= limit."""
        if self.count == 0:
            return np.zeros(0, dtype=np.int64)
        planes = np.frombuffer(self.planes, dtype=np.uint8).reshape(self.width, -1)
        gaps = np.ascontiguousarray(planes.T).view(_WIDTHS[self.width]).ravel()
        if gaps.size and int(gaps.max()) >= limit:
            raise Malformed(f"index gap {int(gaps.max())} exceeds tensor size {limit}")
        indices = np.empty(self.count, dtype=np.int64)
        indices[0] = self.first
        np.cumsum(gaps.astype(np.int64) + 1, out=indices[1:])
        indices[1:] += self.first
        if indices[-1] >= limit:
            raise Malformed(f"index {int(indices[-1])} exceeds tensor size {limit}")
        return indices
