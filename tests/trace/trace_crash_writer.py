"""Write a deterministic trace, then die by SIGKILL (run as a script by the crash test).

    python trace_crash_writer.py PATH bytes N   # SIGKILL itself once N bytes are written
    python trace_crash_writer.py PATH sleep S   # sleep S seconds after every append

The records depend only on SEED, so the test regenerates exactly what was written.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np

from accelsim.trace import LayerInfo, StepRecord, TensorInfo, TraceHeader, TraceWriter

SEED = 1234
N_STEPS = 40
SIZES = (3000, 777, 50)
WRITER_OPTIONS = {"keyframe_every": 7, "chunk_steps": 5}


def crash_header() -> TraceHeader:
    tensors = [TensorInfo(i, f"l{i}.weight", f"l{i}", "weight", (size,))
               for i, size in enumerate(SIZES)]
    layers = [LayerInfo(f"l{i}", "linear", weight_shape=(size,), tensor_ids=[i])
              for i, size in enumerate(SIZES)]
    return TraceHeader(net="crash", layers=layers, tensors=tensors)


def crash_records() -> list[StepRecord]:
    """Steps 0, 3, 6, ... with ~2% churn; even steps give masks, odd ones deltas."""
    rng = np.random.default_rng(SEED)
    current = [rng.random(size) < 0.2 for size in SIZES]
    records = []
    for index in range(N_STEPS):
        record = StepRecord(step=3 * index, loss=float(rng.random()), lr=0.1,
                            accuracy=float(rng.random()) if index % 4 == 0 else float("nan"))
        for tid, mask in enumerate(current):
            new = mask ^ (rng.random(mask.size) < 0.02)
            if index % 2 == 0:
                record.stored_masks[tid] = new
            else:
                record.entered[tid] = np.flatnonzero(new & ~mask)
                record.left[tid] = np.flatnonzero(mask & ~new)
            record.changed[tid] = int(new.sum())
            current[tid] = new
        records.append(record)
    return records


class SuicidalWriter(TraceWriter):
    """Writes in 7-byte pieces and SIGKILLs its own process at byte ``kill_at``."""

    kill_at = -1

    def _write_bytes(self, data: bytes) -> None:
        for start in range(0, len(data), 7):
            piece = data[start:start + 7]
            done = os.lseek(self._fd, 0, os.SEEK_CUR)
            if done + len(piece) > self.kill_at:
                os.write(self._fd, piece[:self.kill_at - done])
                os.kill(os.getpid(), signal.SIGKILL)
            os.write(self._fd, piece)


def write_trace(path: str, writer_class=TraceWriter, pause_s: float = 0.0) -> None:
    with writer_class(path, crash_header(), **WRITER_OPTIONS) as writer:
        for record in crash_records():
            writer.append(record)
            if pause_s:
                print(record.step, flush=True)  # this step's append returned
            time.sleep(pause_s)


def main(path: str, mode: str, value: str) -> None:
    if mode == "bytes":
        SuicidalWriter.kill_at = int(value)
        write_trace(path, SuicidalWriter)
    else:
        write_trace(path, pause_s=float(value))


if __name__ == "__main__":
    main(*sys.argv[1:])
