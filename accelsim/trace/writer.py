"""TraceWriter: append step records to a trace file, chunk by chunk, crash-safe.

Durability: every appended record is written at once to the step journal beside the
trace (``<trace>.journal``, see accelsim/trace/journal.py), so a SIGKILL loses no
appended step; records are compressed into a chunk of the trace when it is complete
(``chunk_steps`` records, or the next record is a keyframe), written with one ``os.write``
loop and ``os.fsync``-ed (``fsync=False`` skips the syncs, for tests and scratch files;
``sync_steps=True`` also syncs the journal at every step, against power loss).
``close()`` adds the end marker that makes the trace "intact" and deletes the journal.
A failed write (disk full) leaves the trace a clean prefix and the writer refusing
further appends with the same one-line error.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib

import numpy as np

from accelsim.errors import TraceError
from accelsim.trace import journal, layout
from accelsim.trace.layout import ChunkHeader, crc32
from accelsim.trace.model import FORMAT_MINOR, FORMAT_VERSION, StepRecord, TraceHeader
from accelsim.trace.records import KIND_DELTA, KIND_KEYFRAME, encode_record

_MAX_STEP = 2**63 - 1


class TraceWriter:
    """Writes a trace: header at construction, then ``append`` per step, then ``close``.

    Every ``keyframe_every``-th record (counting from the first, which is one) is a
    keyframe holding every tensor's full stored set; it always starts a new chunk, so a
    random access decodes at most ``ceil(keyframe_every / chunk_steps)`` chunks.
    Leaving a ``with`` block by an exception writes the pending records but no end
    marker, so ``verify`` reports the trace as truncated.
    """

    def __init__(self, path, header: TraceHeader, *, keyframe_every: int = 256,
                 chunk_steps: int = 32, overwrite: bool = False, fsync: bool = True,
                 compress_level: int = 6, sync_steps: bool = False):
        self.path = os.fspath(path)
        self._fd: int | None = None
        self._journal_fd: int | None = None
        if keyframe_every < 1 or chunk_steps < 1 or not 0 <= compress_level <= 9:
            raise TraceError(f"{self.path}: keyframe_every and chunk_steps must be >= 1 and "
                             f"compress_level in 0..9")
        try:
            header.validate()
        except TraceError as err:
            raise TraceError(f"{self.path}: {err}") from None
        self.header = header
        self.keyframe_every, self.chunk_steps = keyframe_every, chunk_steps
        self._fsync, self._level, self._sync_steps = fsync, compress_level, sync_steps
        self._tensors = {t.tensor_id: t for t in header.tensors}
        self._masks = {t.tensor_id: np.ones(t.numel, dtype=bool) for t in header.tensors}
        self._pending: list[bytes] = []
        self._pending_steps: list[int] = []
        self._pending_keyframe = False
        self._appended = self._written = self._chunks = 0
        self._last_step: int | None = None
        self._broken = ""  # the error of a failed write; the writer refuses to go on
        self._size = 0  # bytes of complete chunks in the trace
        self.journal_path = journal.journal_path(self.path)
        self._open(overwrite)

    # -- public ------------------------------------------------------------------------
    @property
    def num_steps(self) -> int:
        """Records appended so far (written or still pending in the open chunk)."""
        return self._appended

    def append(self, record: StepRecord) -> None:
        """Add one step; raises TraceError (and changes nothing) when it is inconsistent.

        When it returns, the record is in the journal: a SIGKILL no longer loses it."""
        self._require_open()
        step = self._check_step(record.step)
        changes = self._changes(record, step)
        self._check_extras(record, step)
        keyframe = self._appended % self.keyframe_every == 0
        if self._pending and (keyframe or len(self._pending) >= self.chunk_steps):
            self._flush_chunk()  # the open chunk is complete: into the trace
        for tid, (entered, left) in changes.items():
            self._masks[tid][entered] = True
            self._masks[tid][left] = False
        kind = KIND_KEYFRAME if keyframe else KIND_DELTA
        encoded = encode_record(kind, record, changes, self._masks if keyframe else None)
        self._journal(self._appended, step, encoded)
        self._pending.append(encoded)
        self._pending_keyframe |= keyframe and len(self._pending) == 1
        self._pending_steps.append(step)
        self._appended += 1
        self._last_step = step

    def amend(self, *, loss: float | None = None, accuracy: float | None = None) -> None:
        """Change the loss or accuracy of the record appended last (scalars that are known
        only after ``optimizer.step()``); journaled at once like ``append``."""
        self._require_open()
        if not self._pending:
            raise TraceError(f"{self.path}: no appended record to amend")
        data = bytearray(self._pending[-1])
        for value, offset, name in ((loss, 16, "loss"), (accuracy, 32, "accuracy")):
            if value is None:
                continue
            if not isinstance(value, float | int | np.floating | np.integer):
                self._fail(self._last_step, f"{name} must be a number")
            struct.pack_into("<d", data, offset, float(value))
        self._journal(self._appended - 1, self._last_step, bytes(data))
        self._pending[-1] = bytes(data)

    def close(self) -> None:
        """Write pending records and the end marker, sync and close. Idempotent.

        Raises the error of an earlier failed write (the trace then lacks its end)."""
        broken = self._broken
        self._finish(end_marker=True)
        if broken:
            raise TraceError(broken)

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        try:  # leaving by an exception: keep that one, not a second from the same disk
            self._finish(end_marker=False)
        except TraceError:
            pass

    def __del__(self):
        for name in ("_fd", "_journal_fd"):
            fd = getattr(self, name, None)
            if fd is not None:
                os.close(fd)

    # -- file --------------------------------------------------------------------------
    def _open(self, overwrite: bool) -> None:
        """Lock the journal, then write preamble and header: into a new file (never over
        an existing one) or, with ``overwrite``, into a temporary file renamed over the
        old trace, so a failure leaves the old trace as it was and no empty file."""
        text = self._header_json()  # before creating the file: a bad header leaves none
        if not overwrite and os.path.lexists(self.path):
            raise TraceError(f"{self.path} already exists; pass overwrite=True to replace it")
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise TraceError(f"cannot create trace {self.path}: folder {folder} does not exist")
        self._journal_fd = journal.lock(self.journal_path, self.path)
        payload = zlib.compress(text, self._level)
        chunk = ChunkHeader(layout.TYPE_HEADER, 0, 0, 0, 0, 0, 0, len(payload), len(text),
                            crc32(payload))
        start = layout.pack_preamble(FORMAT_VERSION, FORMAT_MINOR) + chunk.pack() + payload
        try:
            target = self._create(overwrite)
        except (OSError, TraceError) as err:
            # keep a journal that holds steps (of an existing trace); drop one we created
            self._release_journal(delete=os.fstat(self._journal_fd).st_size == 0)
            if isinstance(err, TraceError):
                raise
            raise TraceError(f"cannot write trace {self.path}: {err.strerror}") from None
        try:
            os.ftruncate(self._journal_fd, 0)  # an old journal never joins the new trace
            try:
                self._write_bytes(start)
                if self._fsync:
                    os.fsync(self._fd)
                if target != self.path:
                    os.replace(target, self.path)
            except OSError:
                os.close(self._fd)
                self._fd = None
                os.unlink(target)
                raise
            os.write(self._journal_fd, journal.pack_preamble(crc32(start)))
        except OSError as err:
            self._release_journal(delete=True)
            raise TraceError(f"cannot write trace {self.path}: {err.strerror}") from None
        self._size = len(start)
        self._sync_directory()

    def _create(self, overwrite: bool) -> str:
        """Open the file the header goes into; its path (a temporary one to overwrite)."""
        binary = getattr(os, "O_BINARY", 0)
        if overwrite:
            directory = os.path.dirname(os.path.abspath(self.path))
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(self.path)}.",
                                       suffix=".tmp")
            os.chmod(tmp, 0o644)
            self._fd = fd
            return tmp
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | binary, 0o644)
        except FileExistsError:
            raise TraceError(f"{self.path} already exists; pass overwrite=True to replace "
                             f"it") from None
        return self.path

    def _release_journal(self, delete: bool) -> None:
        if self._journal_fd is None:
            return
        if delete:
            try:
                os.unlink(self.journal_path)
            except OSError:
                pass
        os.close(self._journal_fd)  # releases the lock
        self._journal_fd = None

    def _header_json(self) -> bytes:
        try:
            text = json.dumps(self.header.to_dict(), sort_keys=True, allow_nan=False,
                              default=_json_default)
        except (TypeError, ValueError) as err:
            raise TraceError(f"{self.path}: header is not JSON-serialisable: {err}") from None
        try:
            TraceHeader.from_dict(json.loads(text))  # refuse what no reader would accept
        except TraceError as err:
            raise TraceError(f"{self.path}: {err}") from None
        return text.encode("utf-8")

    def _sync_directory(self) -> None:
        """Make the new directory entry durable too (POSIX; a no-op where unsupported)."""
        if not self._fsync:
            return
        try:
            fd = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _write_bytes(self, data: bytes) -> None:
        """The one place bytes reach the file (tests replace it to crash mid-chunk)."""
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def _write_journal_bytes(self, data: bytes) -> None:
        """The one place bytes reach the journal (tests replace it to fail)."""
        view = memoryview(data)
        while view:
            view = view[os.write(self._journal_fd, view):]

    def _broke(self, err: OSError, what: str) -> TraceError:
        """Remember a failed write; cut the trace back to its complete chunks."""
        self._broken = f"cannot write {what} {self.path}: {err.strerror}"
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:
            pass
        return TraceError(self._broken)

    def _journal(self, index: int, step: int, record: bytes) -> None:
        try:
            self._write_journal_bytes(journal.pack_frame(index, step, record))
            if self._sync_steps:
                os.fsync(self._journal_fd)
        except OSError as err:
            raise self._broke(err, "the journal of trace") from None

    def _write_chunk(self, data: bytes) -> None:
        try:
            self._write_bytes(data)
            if self._fsync:
                os.fsync(self._fd)
        except OSError as err:
            raise self._broke(err, "trace") from None
        self._size += len(data)

    def _flush_chunk(self) -> None:
        steps = np.array(self._pending_steps, dtype=np.int64)
        even = steps.size < 3 or bool(np.all(np.diff(steps) == steps[1] - steps[0]))
        table = b"" if even else steps.astype("<i8").tobytes()
        raw = b"".join(self._pending)
        payload = zlib.compress(raw, self._level)
        flags = (layout.FLAG_KEYFRAME if self._pending_keyframe else 0) | (
            0 if even else layout.FLAG_STEP_TABLE)
        chunk = ChunkHeader(layout.TYPE_STEPS, flags, steps.size, crc32(table) if table else 0,
                            self._written, int(steps[0]), int(steps[-1]), len(payload),
                            len(raw), crc32(payload))
        self._write_chunk(chunk.pack() + table + payload)
        self._written += steps.size
        self._chunks += 1
        self._pending, self._pending_steps, self._pending_keyframe = [], [], False
        try:  # the records are in the trace now: the journal starts over
            os.ftruncate(self._journal_fd, journal.PREAMBLE.size)
        except OSError as err:
            raise self._broke(err, "the journal of trace") from None

    def _finish(self, end_marker: bool) -> None:
        if self._fd is None:
            return
        try:
            if not self._broken:
                if self._pending:
                    self._flush_chunk()
                if end_marker:
                    self._write_end_marker()
        finally:
            os.close(self._fd)
            self._fd = None
            # a broken writer keeps its journal: it may hold steps the trace lacks
            self._release_journal(delete=not self._broken)

    def _write_end_marker(self) -> None:
        last = -1 if self._last_step is None else self._last_step
        raw = layout.END_PAYLOAD.pack(self._chunks, self._written, last)
        payload = zlib.compress(raw, self._level)
        chunk = ChunkHeader(layout.TYPE_END, 0, 0, 0, self._written, 0, 0, len(payload),
                            len(raw), crc32(payload))
        self._write_chunk(chunk.pack() + payload)

    # -- validation --------------------------------------------------------------------
    def _require_open(self) -> None:
        if self._broken:
            raise TraceError(self._broken)
        if self._fd is None:
            raise TraceError(f"{self.path}: writer is closed")

    def _fail(self, step, message: str):
        raise TraceError(f"{self.path}: step {step}: {message}")

    def _check_step(self, step) -> int:
        if not isinstance(step, int | np.integer) or not 0 <= step <= _MAX_STEP:
            self._fail(step, "step must be a non-negative integer")
        if self._last_step is not None and step <= self._last_step:
            self._fail(step, f"steps must increase strictly (last was {self._last_step})")
        return int(step)

    def _tensor_numel(self, tid, step) -> int:
        if tid not in self._tensors:
            self._fail(step, f"tensor_id {tid} is not in the header")
        return self._tensors[tid].numel

    def _changes(self, record: StepRecord, step: int) -> dict[int, tuple]:
        """tensor_id -> (entered, left) for every tensor whose stored set changes."""
        delta_ids = set(record.entered) | set(record.left)
        both = delta_ids & set(record.stored_masks)
        if both:
            self._fail(step, f"tensors {sorted(both)} given both as masks and as deltas")
        changes = {}
        for tid in sorted(set(record.stored_masks) | delta_ids):
            if tid in record.stored_masks:
                entered, left = self._mask_delta(record.stored_masks[tid], tid, step)
            else:
                entered, left = self._checked_delta(record, tid, step)
            if entered.size or left.size:
                changes[int(tid)] = (entered, left)
        return changes

    def _mask_delta(self, mask, tid, step) -> tuple[np.ndarray, np.ndarray]:
        numel = self._tensor_numel(tid, step)
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.size != numel:
            self._fail(step, f"stored mask of tensor {tid} must be bool with {numel} entries")
        flat, current = mask.ravel(), self._masks[tid]
        return np.flatnonzero(flat & ~current), np.flatnonzero(current & ~flat)

    def _checked_delta(self, record: StepRecord, tid, step) -> tuple[np.ndarray, np.ndarray]:
        numel = self._tensor_numel(tid, step)
        entered = self._sorted_indices(record.entered.get(tid), numel, tid, step)
        left = self._sorted_indices(record.left.get(tid), numel, tid, step)
        current = self._masks[tid]
        if current[entered].any():
            self._fail(step, f"tensor {tid}: an entered index is already stored")
        if not current[left].all():
            self._fail(step, f"tensor {tid}: a left index is not stored")
        return entered, left

    def _sorted_indices(self, indices, numel, tid, step) -> np.ndarray:
        if indices is None:
            return np.zeros(0, dtype=np.int64)
        indices = np.asarray(indices)
        if indices.size == 0:
            return np.zeros(0, dtype=np.int64)
        if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
            self._fail(step, f"tensor {tid}: deltas must be 1-D integer arrays")
        ok = indices[0] >= 0 and indices[-1] < numel and bool(np.all(np.diff(indices) > 0))
        if not ok:
            self._fail(step, f"tensor {tid}: deltas must be sorted unique indices < {numel}")
        return indices.astype(np.int64)

    def _check_extras(self, record: StepRecord, step: int) -> None:
        for tid, count in record.changed.items():
            if not isinstance(count, int | np.integer) or not (
                    0 <= count <= self._tensor_numel(tid, step)):
                self._fail(step, f"changed count of tensor {tid} must be in 0..numel")
        for tid, mask in record.structure_masks.items():
            self._tensor_numel(tid, step)
            size = self._tensors[tid].structure_size
            mask = np.asarray(mask)
            if size == 0 or mask.dtype != bool or mask.size != size:
                self._fail(step, f"structure mask of tensor {tid} must be bool with its "
                                 f"structure_size ({size}) entries")
        density = record.activation_density
        if density is not None and np.asarray(density).size != len(self.header.layers):
            self._fail(step, f"activation_density needs one value per layer "
                             f"({len(self.header.layers)})")
        for name in ("loss", "lr", "accuracy"):
            if not isinstance(getattr(record, name), float | int | np.floating | np.integer):
                self._fail(step, f"{name} must be a number")


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray | tuple):
        return value.tolist() if isinstance(value, np.ndarray) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
