"""Failed writes (disk full), concurrent writers, the journal and the recorder loop under
SIGKILL: nothing appended is lost and every failure is one clear TraceError."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from trace_support import header_for

from accelsim.cli import main
from accelsim.errors import TraceError
from accelsim.trace import StepRecord, TraceWriter, open_trace, verify

SIZES = [200, 30]
REPO_ROOT = Path(__file__).resolve().parents[2]
LOOP = REPO_ROOT / "tests" / "training" / "recording_loop.py"


def records(n: int, seed: int = 0) -> list[StepRecord]:
    rng = np.random.default_rng(seed)
    return [StepRecord(step=i + 1, loss=float(i), lr=0.1,
                       stored_masks={t: rng.random(s) < 0.3 for t, s in enumerate(SIZES)})
            for i in range(n)]


class DiskFull(TraceWriter):
    """The trace's disk fills after ``room`` bytes (the journal's after ``journal_room``)."""

    room = 10**9
    journal_room = 10**9

    def _write_bytes(self, data: bytes) -> None:
        done = os.lseek(self._fd, 0, os.SEEK_CUR)
        if done + len(data) > self.room:
            os.write(self._fd, data[:max(self.room - done, 0)])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        super()._write_bytes(data)

    def _write_journal_bytes(self, data: bytes) -> None:
        if os.fstat(self._journal_fd).st_size + len(data) > self.journal_room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        super()._write_journal_bytes(data)


def _writer(cls, path, **kw):
    return cls(path, header_for(SIZES), keyframe_every=8, chunk_steps=3, fsync=False, **kw)


def test_disk_full_mid_chunk_keeps_every_appended_step_and_one_message(tmp_path):
    path = tmp_path / "full.trace"
    writer = _writer(DiskFull, path)
    DiskFull.room = os.path.getsize(path) + 400  # inside the first chunk
    appended = 0
    with pytest.raises(TraceError, match="No space left on device") as first:
        for record in records(10):
            writer.append(record)
            appended += 1
    with pytest.raises(TraceError) as again:  # the same error, not "steps must increase"
        writer.append(records(11)[10])
    assert str(again.value) == str(first.value)
    writer.__exit__(TraceError, first.value, None)  # what a `with` block does
    DiskFull.room = 10**9
    report = verify(path)
    assert report.status == "truncated" and report.num_steps == appended >= 3, report.message
    assert "recovered from" in report.message  # the steps the trace lacks are in the journal
    with open_trace(path) as reader:
        assert [r.loss for r in reader.iter_steps()] == [float(i) for i in range(appended)]


def test_disk_full_in_the_journal_is_one_message_too(tmp_path):
    path = tmp_path / "jfull.trace"
    DiskFull.journal_room = 120
    try:
        writer = _writer(DiskFull, path)
        with pytest.raises(TraceError, match="cannot write the journal of trace"):
            for record in records(10):
                writer.append(record)
        with pytest.raises(TraceError, match="No space left"):
            writer.close()
    finally:
        DiskFull.journal_room = 10**9
    assert verify(path).status == "truncated"


def test_disk_full_while_writing_the_header_leaves_no_file(tmp_path):
    path = tmp_path / "h.trace"
    DiskFull.room = 10
    try:
        with pytest.raises(TraceError, match="No space left"):
            _writer(DiskFull, path)
    finally:
        DiskFull.room = 10**9
    assert not path.exists() and not Path(f"{path}.journal").exists()
    with _writer(TraceWriter, path) as writer:  # a rerun is not blocked
        writer.append(records(1)[0])
    assert verify(path).status == "intact"


def test_overwrite_replaces_atomically_and_a_failure_keeps_the_old_trace(tmp_path):
    path = tmp_path / "old.trace"
    with _writer(TraceWriter, path) as writer:
        writer.append(records(1)[0])
    old = path.read_bytes()
    DiskFull.room = 10
    try:
        with pytest.raises(TraceError, match="No space left"):
            _writer(DiskFull, path, overwrite=True)
    finally:
        DiskFull.room = 10**9
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.trace"]  # no temporaries
    with pytest.raises(TraceError, match="already exists"):
        _writer(TraceWriter, path)


def test_two_writers_of_one_trace_exclude_each_other(tmp_path):
    path = tmp_path / "shared.trace"
    first = _writer(TraceWriter, path, overwrite=True)
    with pytest.raises(TraceError, match="being written by another process"):
        _writer(TraceWriter, path, overwrite=True)
    for record in records(5):
        first.append(record)
    first.close()
    assert verify(path).status == "intact"
    assert not Path(f"{path}.journal").exists()
    with _writer(TraceWriter, path, overwrite=True) as second:  # free again
        second.append(records(1)[0])
    assert verify(path).num_steps == 1


def test_two_overwriting_recorder_processes_cannot_both_succeed(tmp_path):
    """The issue's case: two overwriting runs on one file at once; one fails clearly."""
    path = tmp_path / "race.trace"
    path.write_bytes(b"an old trace")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    procs = [subprocess.Popen([sys.executable, str(LOOP), str(path), "150", "0.01",
                               "overwrite"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    codes = [p.wait(timeout=120) for p in procs]
    errors = [p.stderr.read() for p in procs]
    assert verify(path).status == "intact", errors
    assert verify(path).num_steps == 150
    if sorted(codes) != [0, 0]:  # they overlapped (almost always): one was refused
        assert sorted(codes) == [0, 1], errors
        assert any("being written by another process" in e for e in errors), errors


def test_amend_changes_the_last_record_and_is_journaled(tmp_path):
    path = tmp_path / "amend.trace"
    writer = _writer(TraceWriter, path)
    for record in records(4):
        writer.append(record)
    writer.amend(loss=42.0, accuracy=0.5)
    # a kill now: the journal holds the amended record
    with open_trace(path) as reader:
        got = list(reader.iter_steps())
    assert [r.loss for r in got] == [0.0, 1.0, 2.0, 42.0] and got[-1].accuracy == 0.5
    writer.close()
    with open_trace(path) as reader:
        assert [r.loss for r in reader.iter_steps()] == [0.0, 1.0, 2.0, 42.0]


def test_a_damaged_journal_is_corruption_naming_it(tmp_path):
    path = tmp_path / "dj.trace"
    writer = _writer(TraceWriter, path)
    for record in records(2):
        writer.append(record)
    journal = Path(f"{path}.journal")
    data = bytearray(journal.read_bytes())
    data[-5] ^= 0xFF
    journal.write_bytes(bytes(data))
    report = verify(path)
    assert report.status == "corrupt" and "dj.trace.journal" in report.message
    with pytest.raises(TraceError, match="delete the journal"):
        open_trace(path)
    os.close(writer._fd)
    writer._fd = None


@pytest.mark.parametrize("steps", [0, 1])
def test_trace_info_on_a_killed_trace_with_0_or_1_steps(tmp_path, capsys, steps):
    path = tmp_path / f"s{steps}.trace"
    writer = _writer(TraceWriter, path)
    for record in records(steps):
        writer.append(record)
    assert main(["trace", "info", str(path)]) == 0  # the writer is still "running"
    out = capsys.readouterr().out
    assert "(truncated)" in out and f"steps        {steps}" in out
    assert main(["trace", "info", "--json", str(path)]) == 0
    writer.close()


def test_sigkilled_recording_loop_loses_no_completed_step(tmp_path):
    """A real DropBack loop under TraceRecorder, SIGKILLed mid-run: every step whose
    optimizer.step() returned is in the trace (bench/recording_kills.py does 100)."""
    path = tmp_path / "loop.trace"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen([sys.executable, str(LOOP), str(path), "100000"], env=env,
                            stdout=subprocess.PIPE, text=True)
    seen = 0
    while seen < 57:  # into the second keyframe interval, mid-chunk
        line = proc.stdout.readline()
        assert line, "the loop ended early"
        seen = int(line)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done = seen + len(proc.stdout.read().split())
    time.sleep(0)
    report = verify(path)
    assert report.status == "truncated" and report.num_steps >= done, report.message
    assert report.num_steps <= done + 1
