"""Binary encoding of step records inside a chunk payload (docs/trace-format.md).

A record is a delta (entered/left index lists of the tensors that changed) or a keyframe
(the full stored set of every tensor).  Decoding is lazy: parsing locates each tensor's
data, and index lists or bitmaps are expanded only for the tensors somebody asks for.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from accelsim.trace.layout import (
    Cursor,
    DecodedList,
    IndexList,
    Malformed,
    delta_sets,
    encode_index_list,
)
from accelsim.trace.model import StepRecord, TensorInfo

KIND_DELTA = 0
KIND_KEYFRAME = 1
FLAG_DENSITY = 1

ENC_BITMAP = 0  # packed bits, LSB first, ceil(numel / 8) bytes
ENC_STORED = 1  # index list of the stored weights
ENC_UNSTORED = 2  # index list of the weights that are not stored

# kind, flags, reserved, n_changed, step, loss, lr, accuracy
RECORD_HEAD = struct.Struct("<BBHIqddd")
MIN_RECORD = RECORD_HEAD.size + 8  # a record with nothing in it: head, n_structure, n_sets
KEYFRAME_ENTRY = struct.Struct("<IBQQQ")  # tensor_id, encoding, stored, entered, left
_U32 = struct.Struct("<I")
_STRUCTURE_ENTRY = struct.Struct("<II")  # tensor_id, length


def encode_record(kind: int, record: StepRecord, changes: dict, masks: dict | None) -> bytes:
    """One record; ``changes`` maps tensor_id -> (entered, left); ``masks`` for keyframes."""
    flags = FLAG_DENSITY if record.activation_density is not None else 0
    ids = sorted(record.changed)
    parts = [
        RECORD_HEAD.pack(kind, flags, 0, len(ids), record.step, record.loss, record.lr,
                         record.accuracy),
        np.array(ids, dtype="<u4").tobytes(),
        np.array([record.changed[t] for t in ids], dtype="<u8").tobytes(),
        _U32.pack(len(record.structure_masks)),
    ]
    for tid in sorted(record.structure_masks):
        bits = np.asarray(record.structure_masks[tid], dtype=bool).ravel()
        parts += [_STRUCTURE_ENTRY.pack(tid, bits.size), _pack_bits(bits)]
    if record.activation_density is not None:
        density = np.asarray(record.activation_density, dtype="<f4").ravel()
        parts += [_U32.pack(density.size), density.tobytes()]
    if kind == KIND_KEYFRAME:
        parts += [_U32.pack(len(masks))]
        parts += [_keyframe_entry(tid, mask, changes.get(tid)) for tid, mask in masks.items()]
    else:
        parts += [_U32.pack(len(changes))]
        for tid, (entered, left) in changes.items():
            parts += [_U32.pack(tid), encode_index_list(entered), encode_index_list(left)]
    return b"".join(parts)


def _pack_bits(mask: np.ndarray) -> bytes:
    return np.packbits(mask, bitorder="little").tobytes()


def _keyframe_entry(tid: int, mask: np.ndarray, change) -> bytes:
    """The smallest of bitmap, stored-index list and unstored-index list."""
    stored = int(np.count_nonzero(mask))
    best_enc, best = ENC_BITMAP, None
    best_len = (mask.size + 7) // 8
    for enc, members in ((ENC_STORED, stored), (ENC_UNSTORED, mask.size - stored)):
        if 8 + max(members - 1, 0) < best_len:  # cheapest an index list could be
            selector = mask if enc == ENC_STORED else ~mask
            data = encode_index_list(np.flatnonzero(selector))
            if len(data) < best_len:
                best_enc, best, best_len = enc, data, len(data)
    if best is None:
        best = _pack_bits(mask)
    n_entered, n_left = (0, 0) if change is None else (change[0].size, change[1].size)
    return KEYFRAME_ENTRY.pack(tid, best_enc, stored, n_entered, n_left) + best


@dataclass(frozen=True)
class DeltaEntry:
    entered: IndexList | DecodedList
    left: IndexList | DecodedList

    @property
    def counts(self) -> tuple[int, int]:
        return self.entered.count, self.left.count


@dataclass(frozen=True)
class KeyframeEntry:
    encoding: int
    stored: int
    n_entered: int
    n_left: int
    bitmap: memoryview | None
    members: IndexList | None

    @property
    def counts(self) -> tuple[int, int]:
        return self.n_entered, self.n_left

    def decode(self, numel: int) -> np.ndarray:
        """The full stored mask; Malformed when it disagrees with the stored count."""
        if self.encoding == ENC_BITMAP:
            mask = unpack_bitmap(self.bitmap, numel).view(bool)
        else:
            mask = np.full(numel, self.encoding == ENC_UNSTORED, dtype=bool)
            mask[self.members.decode(numel)] = self.encoding == ENC_STORED
        if int(np.count_nonzero(mask)) != self.stored:
            raise Malformed(f"keyframe holds {np.count_nonzero(mask)} stored weights, "
                            f"its count says {self.stored}")
        return mask


def unpack_bitmap(data, count: int) -> np.ndarray:
    """``count`` bits, LSB first, as uint8 0/1; Malformed when a padding bit is set."""
    bits = np.frombuffer(data, dtype=np.uint8)
    if count % 8 and bits.size and int(bits[-1]) >> (count % 8):
        raise Malformed("padding bits of a bitmap are not zero")
    return np.unpackbits(bits, count=count, bitorder="little")


@dataclass
class RawRecord:
    """A parsed record whose stored-set data is still encoded."""

    kind: int
    step: int
    loss: float
    lr: float
    accuracy: float
    changed: dict[int, int]
    structure_masks: dict[int, np.ndarray]
    activation_density: np.ndarray | None
    sets: dict[int, DeltaEntry | KeyframeEntry]


def parse_records(raw: bytes, tensors: dict[int, TensorInfo], n_layers: int) -> list[RawRecord]:
    """Every record of a decompressed payload; Malformed on anything inconsistent."""
    cursor = Cursor(raw)
    records = []
    while not cursor.done:
        records.append(_parse_record(cursor, tensors, n_layers))
    return records


def _parse_record(cursor: Cursor, tensors: dict[int, TensorInfo], n_layers: int) -> RawRecord:
    kind, flags, reserved, n_changed, step, loss, lr, accuracy = cursor.unpack(RECORD_HEAD)
    if kind not in (KIND_DELTA, KIND_KEYFRAME) or reserved or flags & ~FLAG_DENSITY:
        raise Malformed(f"record header of step {step} has kind {kind}, flags {flags}")
    ids = cursor.array("<u4", n_changed)
    counts = cursor.array("<u8", n_changed)
    if ids.size > 1 and not bool(np.all(np.diff(ids.astype(np.int64)) > 0)):
        raise Malformed(f"step {step}: changed counts are not in ascending tensor order")
    changed = {int(t): int(c) for t, c in zip(ids, counts, strict=True)}
    for tid, count in changed.items():
        if count > _tensor(tensors, tid, step).numel:
            raise Malformed(f"step {step}: changed count {count} exceeds tensor {tid}")
    structure = _parse_structure(cursor, tensors, step)
    density = None
    if flags & FLAG_DENSITY:
        density = cursor.array("<f4", cursor.u32()).astype(np.float32)
        if density.size != n_layers:
            raise Malformed(f"step {step}: {density.size} activation densities, "
                            f"{n_layers} layers")
    sets = _parse_sets(cursor, kind, tensors, step)
    return RawRecord(kind, step, loss, lr, accuracy, changed, structure, density, sets)


def _tensor(tensors: dict[int, TensorInfo], tid: int, step: int) -> TensorInfo:
    if tid not in tensors:
        raise Malformed(f"step {step} names unknown tensor_id {tid}")
    return tensors[tid]


def _parse_structure(cursor: Cursor, tensors: dict[int, TensorInfo], step: int) -> dict:
    structure = {}
    for _ in range(cursor.u32()):
        tid, length = cursor.unpack(_STRUCTURE_ENTRY)
        if length != _tensor(tensors, tid, step).structure_size or tid in structure:
            raise Malformed(f"step {step}: bad structure mask for tensor {tid}")
        structure[tid] = unpack_bitmap(cursor.take((length + 7) // 8), length).astype(bool)
    return structure


def _parse_sets(cursor: Cursor, kind: int, tensors: dict[int, TensorInfo], step: int) -> dict:
    if kind == KIND_DELTA:  # parsed and decoded in one numba pass
        return {tid: DeltaEntry(DecodedList(came), DecodedList(went))
                for tid, came, went in delta_sets(cursor, _numel_table(tensors), step)}
    read_entry = _read_keyframe_entry
    sets: dict[int, DeltaEntry | KeyframeEntry] = {}
    for _ in range(cursor.u32()):
        tid, entry = read_entry(cursor, tensors, step)
        if tid in sets:
            raise Malformed(f"step {step} lists tensor {tid} twice")
        sets[tid] = entry
    if kind == KIND_KEYFRAME and len(sets) != len(tensors):
        raise Malformed(f"keyframe at step {step} covers {len(sets)} of {len(tensors)} tensors")
    return sets


_NUMEL_TABLES: dict[int, tuple[dict, np.ndarray]] = {}


def _numel_table(tensors: dict[int, TensorInfo]) -> np.ndarray:
    """numel by tensor_id (-1: no such tensor), built once per tensors dict."""
    known = _NUMEL_TABLES.get(id(tensors))
    if known is not None and known[0] is tensors:
        return known[1]
    table = np.full(max(tensors, default=-1) + 1, -1, dtype=np.int64)
    for tid, info in tensors.items():
        table[tid] = info.numel
    if len(_NUMEL_TABLES) > 64:
        _NUMEL_TABLES.clear()
    _NUMEL_TABLES[id(tensors)] = (tensors, table)
    return table


def _read_keyframe_entry(cursor: Cursor, tensors: dict[int, TensorInfo], step: int):
    tid, encoding, stored, n_entered, n_left = cursor.unpack(KEYFRAME_ENTRY)
    numel = _tensor(tensors, tid, step).numel
    if encoding not in (ENC_BITMAP, ENC_STORED, ENC_UNSTORED) or max(
            stored, n_entered, n_left) > numel:
        raise Malformed(f"keyframe at step {step}: bad entry for tensor {tid}")
    if encoding == ENC_BITMAP:
        bitmap = cursor.take((numel + 7) // 8)
        return tid, KeyframeEntry(encoding, stored, n_entered, n_left, bitmap, None)
    members = IndexList.read(cursor, numel)
    return tid, KeyframeEntry(encoding, stored, n_entered, n_left, None, members)
