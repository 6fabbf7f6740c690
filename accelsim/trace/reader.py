"""TraceReader: sequential and random access to the steps of a trace file.

Opening scans chunk headers only.  A payload is read, checksummed, decompressed and
parsed when a step in it is first needed; a random access starts at the nearest
keyframe chunk at or before the step, never at the beginning of the file.
"""

from __future__ import annotations

import bisect
import os
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from accelsim.errors import TraceError
from accelsim.trace.layout import Malformed, crc32
from accelsim.trace.model import StepRecord, TraceHeader
from accelsim.trace.records import (
    KIND_DELTA,
    KIND_KEYFRAME,
    KeyframeEntry,
    RawRecord,
    parse_records,
)
from accelsim.trace.scan import ChunkEntry, ScanResult, inflate, scan

_CACHED_CHUNKS = 8


class CorruptChunkError(TraceError):
    """A step chunk failed its checksum or does not decode; names its offset and steps."""

    def __init__(self, message: str, chunk: ChunkEntry):
        super().__init__(message)
        self.offset = chunk.offset
        self.steps = (chunk.header.first_step, chunk.header.last_step)


def open_trace(path) -> TraceReader:
    """Open a trace for reading (TraceError when it is corrupt, unsupported or unreadable)."""
    return TraceReader(path)


class TraceReader:
    """A trace on disk.  ``truncated`` is True when the writer never closed it; then only
    its complete chunks are visible.  ``chunks_decoded`` counts payload decodes."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._file = open_binary(self.path)
        try:
            result = scan(self._file, self.path)
        except BaseException:
            self._file.close()
            raise
        if result.status == "corrupt" or result.header is None:
            self._file.close()
            raise TraceError(result.message)
        self._init_from_scan(result)

    @classmethod
    def from_scan(cls, path: str, file, result: ScanResult) -> TraceReader:
        """A reader over an already scanned open file (for ``verify``; it keeps reading
        the complete chunks in front of a corrupt one)."""
        reader = cls.__new__(cls)
        reader.path, reader._file = path, file
        reader._init_from_scan(result)
        return reader

    def _init_from_scan(self, result: ScanResult) -> None:
        self.header: TraceHeader = result.header
        self.truncated = result.status == "truncated"
        self.truncation_message = result.message if self.truncated else ""
        self.file_size_bytes = result.file_size
        self._chunks = result.chunks
        starts = np.cumsum([0] + [c.header.n_records for c in self._chunks])
        self._chunk_starts = starts[:-1].tolist()
        self._keyframe_chunks = [i for i, c in enumerate(self._chunks) if c.keyframe]
        steps = [c.steps for c in self._chunks]
        self.steps: np.ndarray = np.concatenate(steps) if steps else np.zeros(0, np.int64)
        self._tensors = {t.tensor_id: t for t in self.header.tensors}
        self._cache: OrderedDict[int, list[RawRecord]] = OrderedDict()
        self.chunks_decoded = 0

    # -- basics ------------------------------------------------------------------------
    @property
    def num_steps(self) -> int:
        return int(self.steps.size)

    @property
    def num_chunks(self) -> int:
        return len(self._chunks)

    def __len__(self) -> int:
        return self.num_steps

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TraceReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sequential --------------------------------------------------------------------
    def iter_steps(self, *, masks: bool = False) -> Iterator[StepRecord]:
        """Every step in order with its deltas; ``masks=True`` adds full stored masks."""
        state = {tid: self._all_stored(t.numel) for tid, t in self._tensors.items()}
        for index in range(len(self._chunks)):
            for raw in self._records(index):
                entered, left = self._advance(state, raw, index)
                yield StepRecord(
                    step=raw.step, loss=raw.loss, lr=raw.lr, accuracy=raw.accuracy,
                    changed=dict(raw.changed), entered=entered, left=left,
                    structure_masks=dict(raw.structure_masks),
                    activation_density=raw.activation_density,
                    stored_masks={t: m.copy() for t, m in state.items()} if masks else {},
                )

    def iter_changes(self) -> Iterator[StepRecord]:
        """Every step in order as written, without following the stored sets: a delta
        gives ``entered``/``left``, a keyframe its full ``stored_masks``. Cheaper than
        :meth:`iter_steps` for a consumer that keeps its own masks (the replay), which
        must then check that each delta fits the set before it."""
        for index in range(len(self._chunks)):
            for raw in self._records(index):
                entered, left, masks = {}, {}, {}
                for tid, entry in raw.sets.items():
                    numel = self._tensors[tid].numel
                    try:
                        if isinstance(entry, KeyframeEntry):
                            masks[tid] = entry.decode(numel)
                        else:
                            came = entry.entered.decode(numel)
                            went = entry.left.decode(numel)
                            if came.size or went.size:
                                entered[tid], left[tid] = came, went
                    except Malformed as err:
                        raise self._corrupt(index, f"step {raw.step}: {err}") from None
                yield StepRecord(
                    step=raw.step, loss=raw.loss, lr=raw.lr, accuracy=raw.accuracy,
                    changed=dict(raw.changed), entered=entered, left=left,
                    structure_masks=dict(raw.structure_masks),
                    activation_density=raw.activation_density, stored_masks=masks)

    def _advance(self, state: dict, raw: RawRecord, index: int) -> tuple[dict, dict]:
        """Apply one record to ``state``; return the entered/left indices it caused."""
        entered, left = {}, {}
        for tid, entry in raw.sets.items():
            numel = self._tensors[tid].numel
            try:
                if isinstance(entry, KeyframeEntry):
                    new = entry.decode(numel)
                    came = np.flatnonzero(new & ~state[tid])
                    went = np.flatnonzero(state[tid] & ~new)
                    if (came.size, went.size) != entry.counts:
                        raise Malformed(f"keyframe churn counts of tensor {tid} are wrong")
                    state[tid] = new
                else:
                    came, went = entry.entered.decode(numel), entry.left.decode(numel)
                    _apply_delta(state[tid], came, went, tid)
            except Malformed as err:
                raise self._corrupt(index, f"step {raw.step}: {err}") from None
            if came.size or went.size:
                entered[tid], left[tid] = came, went
        return entered, left

    # -- random access -----------------------------------------------------------------
    def stored_mask(self, step: int, tensor_id: int) -> np.ndarray:
        """The flat stored mask of one tensor after ``step``, decoded from the nearest
        keyframe at or before it."""
        numel = self.header.tensor(tensor_id).numel
        target = self._chunk_of(step)
        k = bisect.bisect_right(self._keyframe_chunks, target) - 1
        start = self._keyframe_chunks[k] if k >= 0 else 0
        mask = self._all_stored(numel)
        for index in range(start, target + 1):
            for raw in self._records(index):
                if raw.step > step:
                    break
                mask = self._apply_one(mask, raw, tensor_id, index)
        return mask

    def _all_stored(self, numel: int) -> np.ndarray:
        try:
            return np.ones(numel, dtype=bool)
        except MemoryError:
            raise TraceError(f"{self.path}: not enough memory for the stored mask of a tensor "
                             f"of {numel:,} weights") from None

    def _apply_one(self, mask: np.ndarray, raw: RawRecord, tid: int, index: int) -> np.ndarray:
        entry = raw.sets.get(tid)
        if entry is None:
            return mask
        numel = mask.size
        try:
            if isinstance(entry, KeyframeEntry):
                return entry.decode(numel)
            _apply_delta(mask, entry.entered.decode(numel), entry.left.decode(numel), tid)
        except Malformed as err:
            raise self._corrupt(index, f"step {raw.step}: {err}") from None
        return mask

    def _chunk_of(self, step: int) -> int:
        position = int(np.searchsorted(self.steps, step))
        if position == self.num_steps or self.steps[position] != step:
            span = (f"{self.steps[0]}..{self.steps[-1]}, {self.num_steps} recorded"
                    if self.num_steps else "none recorded")
            raise TraceError(f"{self.path}: step {step} is not in the trace (steps {span})")
        return bisect.bisect_right(self._chunk_starts, position) - 1

    # -- counts and summary ------------------------------------------------------------
    def stored_counts(self) -> np.ndarray:
        """Stored weights per step and tensor (steps x tensors, header order); decodes no
        index list or bitmap."""
        return self._count_table()[0]

    def _count_table(self) -> tuple[np.ndarray, np.ndarray]:
        columns = {tid: j for j, tid in enumerate(self._tensors)}
        current = np.array([t.numel for t in self._tensors.values()], dtype=np.int64)
        stored = np.zeros((self.num_steps, len(columns)), dtype=np.int64)
        churn = np.zeros(self.num_steps, dtype=np.int64)
        row = 0
        for index in range(len(self._chunks)):
            for raw in self._records(index):
                for tid, entry in raw.sets.items():
                    came, went = entry.counts
                    churn[row] += came + went
                    if isinstance(entry, KeyframeEntry):
                        current[columns[tid]] = entry.stored
                    else:
                        current[columns[tid]] += came - went
                stored[row] = current
                row += 1
        return stored, churn

    def stored_by_tensor(self) -> dict[int, float]:
        """Each tensor's stored count, median over the recorded steps."""
        stored, _ = self._count_table()
        if not self.num_steps:
            return {}
        medians = np.median(stored, axis=0)
        return {tid: float(medians[j]) for j, tid in enumerate(self._tensors)}

    def summary(self) -> dict[str, Any]:
        """Steps, tensors, stored count and churn (entered + left, from the second record
        on) per step, file size."""
        stored, churn = self._count_table()
        params = self.header.params_total
        cells = params * self.num_steps
        return {
            "path": self.path,
            "steps": self.num_steps,
            "first_step": int(self.steps[0]) if self.num_steps else None,
            "last_step": int(self.steps[-1]) if self.num_steps else None,
            "tensors": len(self._tensors),
            "params_total": params,
            "stored": _spread(stored.sum(axis=1)),
            # The first record has no recorded predecessor: its "churn" is the set-up of
            # the stored set (e.g. DropBack's first top-k), not a change between steps.
            "churn": _spread(churn[1:]),
            "file_size_bytes": self.file_size_bytes,
            "bits_per_weight_per_step": self.file_size_bytes * 8 / cells if cells else None,
            "truncated": self.truncated,
        }

    # -- chunk decoding ----------------------------------------------------------------
    def _records(self, index: int) -> list[RawRecord]:
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        records = self._decode_chunk(index)
        self.chunks_decoded += 1
        self._cache[index] = records
        if len(self._cache) > _CACHED_CHUNKS:
            self._cache.popitem(last=False)
        return records

    def _decode_chunk(self, index: int) -> list[RawRecord]:
        chunk = self._chunks[index]
        try:
            raw = chunk.records if chunk.journal else self._payload(index)
            records = parse_records(raw, self._tensors, len(self.header.layers))
        except Malformed as err:
            raise self._corrupt(index, str(err)) from None
        problem = _chunk_mismatch(chunk, records)
        if problem:
            raise self._corrupt(index, problem)
        return records

    def _payload(self, index: int) -> bytes:
        chunk = self._chunks[index]
        self._file.seek(chunk.payload_offset)
        payload = self._file.read(chunk.header.payload_len)
        if len(payload) != chunk.header.payload_len:
            raise self._corrupt(index, "file shrank while it was being read")
        if crc32(payload) != chunk.header.payload_crc:
            raise self._corrupt(index, "payload checksum mismatch")
        return inflate(payload, chunk.header.raw_len)

    def _corrupt(self, index: int, why: str) -> CorruptChunkError:
        chunk = self._chunks[index]
        return CorruptChunkError(f"{self.path}: {chunk.describe()} is corrupt: {why}", chunk)


def _apply_delta(mask: np.ndarray, entered: np.ndarray, left: np.ndarray, tid: int) -> None:
    if mask[entered].any() or not mask[left].all():
        raise Malformed(f"delta of tensor {tid} does not fit the stored set before it")
    mask[entered] = True
    mask[left] = False


def _chunk_mismatch(chunk: ChunkEntry, records: list[RawRecord]) -> str:
    """Why the decoded records disagree with the chunk header, or ''."""
    steps = np.array([r.step for r in records], dtype=np.int64)
    if steps.size != chunk.steps.size or not np.array_equal(steps, chunk.steps):
        return f"payload holds steps {steps.tolist()[:4]}..., header says otherwise"
    kinds = [r.kind for r in records]
    first = KIND_KEYFRAME if chunk.keyframe else KIND_DELTA
    if kinds[0] != first or any(k != KIND_DELTA for k in kinds[1:]):
        return "keyframes are not where the chunk header says"
    return ""


def _spread(values: np.ndarray) -> dict[str, float | int | None]:
    if values.size == 0:
        return {"min": None, "median": None, "max": None}
    return {"min": int(values.min()), "median": float(np.median(values)),
            "max": int(values.max())}


def open_binary(path: str):
    try:
        return open(path, "rb")
    except OSError as err:
        raise TraceError(f"cannot open trace {path}: {err.strerror}") from None
