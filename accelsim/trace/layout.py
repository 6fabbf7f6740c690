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

from accelsim.jit import njit

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
        if width not in _WIDTHS or count > limit or first >= limit or (count == 1 and
                                                                       width != 1):
            raise Malformed(f"index list of {count} (first {first}, width {width}) "
                            f"does not fit a tensor of {limit}")
        return cls(count, first, width, cursor.take((count - 1) * width))

    def decode(self, limit: int) -> np.ndarray:
        """The sorted flat indices as int64; Malformed when one is >= limit."""
        if self.count == 0:
            return np.zeros(0, dtype=np.int64)
        planes = np.frombuffer(self.planes, dtype=np.uint8).reshape(self.width, -1)
        gaps = np.ascontiguousarray(planes.T).view(_WIDTHS[self.width]).ravel()
        top = int(gaps.max()) if gaps.size else 0
        if top >= limit:
            raise Malformed(f"index gap {top} exceeds tensor size {limit}")
        if self.width > 1 and top < 256 ** (self.width // 2):
            raise Malformed(f"index list of width {self.width} is not the smallest width")
        indices = np.empty(self.count, dtype=np.int64)
        indices[0] = self.first
        np.cumsum(gaps.astype(np.int64) + 1, out=indices[1:])
        indices[1:] += self.first
        if indices[-1] >= limit:
            raise Malformed(f"index {int(indices[-1])} exceeds tensor size {limit}")
        return indices


# --- delta sets, parsed and decoded in one pass (numba) ------------------------------------

# Error codes of delta_sets_kernel, with what their two values mean.
(DELTA_OK, DELTA_SHORT, DELTA_TENSOR, DELTA_LIST, DELTA_GAP, DELTA_INDEX, DELTA_TWICE,
 DELTA_WIDTH) = range(8)


@njit(cache=True, inline="always")
def _le(buf, pos, nbytes):
    value = np.uint64(0)
    for b in range(nbytes):
        value |= np.uint64(buf[pos + b]) << np.uint64(8 * b)
    return value


@njit(cache=True)
def delta_sets_kernel(buf, pos, numel):
    """Parse a delta record's sets section at ``pos`` (u32 entries; each: u32 tensor_id,
    then the entered and the left index lists) and decode every list.

    ``numel[tid]``: the tensor's size, -1 for an unknown id. Returns (end, error, a, b,
    tids, counts, indices): per entry its tensor id and (entered, left) counts, every
    index concatenated (entry by entry, entered before left); ``error`` one of the DELTA_*
    codes, with its values in a, b. Every read is bounds-checked: a corrupt payload gives
    an error, never a read outside ``buf``.
    """
    size = buf.shape[0]
    empty = np.zeros(0, dtype=np.int64)
    none = (np.int64(0), np.int64(0))
    if pos + 4 > size:
        return pos, DELTA_SHORT, np.int64(pos + 4 - size), np.int64(0), empty, \
            np.zeros((0, 2), dtype=np.int64), empty
    entries = np.int64(_le(buf, pos, 4))
    p = pos + 4
    tids = np.zeros(min(entries, size), dtype=np.int64)
    counts = np.zeros((tids.shape[0], 2), dtype=np.int64)
    starts = np.zeros((tids.shape[0], 2), dtype=np.int64)  # payload offset of each list
    total = 0
    for e in range(entries):
        if p + 4 > size:
            return p, DELTA_SHORT, np.int64(p + 4 - size), none[1], empty, counts, empty
        tid = np.int64(_le(buf, p, 4))
        p += 4
        if tid >= numel.shape[0] or numel[tid] < 0:
            return p, DELTA_TENSOR, tid, none[1], empty, counts, empty
        for seen in range(e):
            if tids[seen] == tid:
                return p, DELTA_TWICE, tid, none[1], empty, counts, empty
        tids[e] = tid
        limit = numel[tid]
        for side in range(2):
            if p + 8 > size:
                return p, DELTA_SHORT, np.int64(p + 8 - size), none[1], empty, counts, empty
            count = _le(buf, p, 8)
            p += 8
            if count == 0:
                continue
            if p + 9 > size:
                return p, DELTA_SHORT, np.int64(p + 9 - size), none[1], empty, counts, empty
            first = _le(buf, p, 8)
            width = np.int64(buf[p + 8])
            p += 9
            if (width != 1 and width != 2 and width != 4 and width != 8) or \
                    count > np.uint64(limit) or first >= np.uint64(limit) or \
                    (count == 1 and width != 1):
                return p, DELTA_LIST, np.int64(e), np.int64(side), empty, counts, empty
            need = (np.int64(count) - 1) * width
            if p + need > size:
                return p, DELTA_SHORT, np.int64(p + need - size), none[1], empty, counts, \
                    empty
            counts[e, side] = np.int64(count)
            starts[e, side] = p
            p += need
            total += np.int64(count)
    indices = np.empty(total, dtype=np.int64)
    at = 0
    for e in range(entries):
        limit = numel[tids[e]]
        for side in range(2):
            count = counts[e, side]
            if count == 0:
                continue
            q = starts[e, side]
            first = np.int64(_le(buf, q - 9, 8))
            width = np.int64(buf[q - 1])
            value = first
            indices[at] = value
            top = np.uint64(0)
            # byte planes: every gap's low byte first, then every second byte, ...
            for i in range(count - 1):
                gap = np.uint64(0)
                for b in range(width):
                    gap |= np.uint64(buf[q + b * (count - 1) + i]) << np.uint64(8 * b)
                if gap >= np.uint64(limit):
                    return p, DELTA_GAP, np.int64(gap), limit, empty, counts, empty
                top = max(top, gap)
                value += np.int64(gap) + 1
                indices[at + i + 1] = value
            if width > 1 and top < (np.uint64(1) << np.uint64(8 * (width // 2))):
                return p, DELTA_WIDTH, np.int64(e), np.int64(side), empty, counts, empty
            if value >= limit:
                return p, DELTA_INDEX, value, limit, empty, counts, empty
            at += count
    return p, DELTA_OK, np.int64(0), np.int64(0), tids[:entries], counts[:entries], indices


class DecodedList:
    """An index list decoded already (delta records): ``count`` and ``decode()``."""

    __slots__ = ("count", "_indices")

    def __init__(self, indices: np.ndarray):
        self.count, self._indices = int(indices.size), indices

    def decode(self, limit: int) -> np.ndarray:
        return self._indices


def delta_sets(cursor: Cursor, numel: np.ndarray,
               step: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """[(tensor_id, entered, left)] of a delta record's sets section, decoded; advances
    the cursor; Malformed (naming the step) on anything that does not parse."""
    if not hasattr(cursor, "bytes_view"):
        cursor.bytes_view = np.frombuffer(cursor.data, dtype=np.uint8)
    end, error, a, b, tids, counts, indices = delta_sets_kernel(cursor.bytes_view,
                                                                cursor.pos, numel)
    if error == DELTA_SHORT:
        raise Malformed(f"payload ends {a} bytes early")
    if error == DELTA_TENSOR:
        raise Malformed(f"step {step} names unknown tensor_id {a}")
    if error == DELTA_TWICE:
        raise Malformed(f"step {step} lists tensor {a} twice")
    if error == DELTA_LIST:
        raise Malformed(f"step {step}: an index list of entry {a} does not fit its tensor")
    if error == DELTA_GAP:
        raise Malformed(f"index gap {a} exceeds tensor size {b}")
    if error == DELTA_WIDTH:
        raise Malformed(f"step {step}: an index list of entry {a} is not the smallest width")
    if error == DELTA_INDEX:
        raise Malformed(f"index {a} exceeds tensor size {b}")
    cursor.pos = int(end)
    out, at = [], 0
    for e in range(tids.shape[0]):
        came, went = int(counts[e, 0]), int(counts[e, 1])
        out.append((int(tids[e]), indices[at:at + came], indices[at + came:at + came + went]))
        at += came + went
    return out
