"""A writer SIGKILLed at any instant leaves a trace (and journal) that reads up to the last
step whose ``append`` returned; without its journal the trace reads up to its last
complete chunk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import trace_crash_writer as crash

from accelsim.errors import TraceError
from accelsim.trace import open_trace, verify

SCRIPT = Path(__file__).with_name("trace_crash_writer.py")
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    """The uninterrupted file, its chunk table (end offset, records so far) and the masks."""
    path = tmp_path_factory.mktemp("complete") / "run.trace"
    crash.write_trace(str(path))
    with open_trace(path) as reader:
        ends = [(c.end, c.header.first_record + c.header.n_records) for c in reader._chunks]
        header_end = reader._chunks[0].offset
        masks = [r.stored_masks for r in reader.iter_steps(masks=True)]
    return {"bytes": path.read_bytes(), "ends": ends, "header_end": header_end,
            "records": crash.crash_records(), "masks": masks}


def _environment() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    return env


def _complete_steps(complete, length: int) -> int:
    return max([records for end, records in complete["ends"] if end <= length], default=0)


def _appended_steps(complete, length: int) -> int:
    """Records whose append returned when the writer died at byte ``length`` of the trace:
    a chunk is written when the record after it is appended (or at close)."""
    if length < complete["header_end"]:
        return 0
    return min([records for end, records in complete["ends"] if end > length],
               default=len(complete["records"]))


def assert_reads_as_prefix(path: Path, complete, n_steps: int | None = None) -> None:
    data, full = path.read_bytes(), complete["bytes"]
    assert full.startswith(data), "a killed writer left bytes the complete run never wrote"
    if n_steps is None:
        n_steps = _complete_steps(complete, len(data))
    report = verify(path)
    assert report.status == ("intact" if data == full else "truncated"), report.message
    assert report.num_steps == n_steps
    if len(data) < complete["header_end"]:
        with pytest.raises(TraceError, match="no trace header|inside|magic"):
            open_trace(path)
        return
    with open_trace(path) as reader:
        assert reader.truncated == (data != full)
        assert reader.num_steps == n_steps
        for got, want, masks in zip(reader.iter_steps(masks=True), complete["records"],
                                    complete["masks"], strict=False):
            assert (got.step, got.loss) == (want.step, want.loss)
            for tid, mask in masks.items():
                np.testing.assert_array_equal(got.stored_masks[tid], mask)
        if n_steps:
            last = complete["records"][n_steps - 1].step
            np.testing.assert_array_equal(reader.stored_mask(last, 0),
                                          complete["masks"][n_steps - 1][0])


def _kill_points(complete) -> list[int]:
    """Random byte positions plus the edges of the header and of a few chunks."""
    rng = np.random.default_rng(7)
    size = len(complete["bytes"])
    edges = [0, 5, complete["header_end"] - 1, complete["header_end"]]
    for end, _ in (complete["ends"][i] for i in rng.choice(len(complete["ends"]), 3)):
        edges += [end - 1, end, end + 1]
    edges = sorted({p for p in edges if 0 <= p < size})
    return edges + sorted(rng.integers(0, size, 20 - len(edges)).tolist())


def test_self_kill_at_any_byte_leaves_a_readable_prefix(tmp_path, complete):
    points = _kill_points(complete)
    assert len(points) >= 20
    runs = [(tmp_path / f"kill-{p}.trace",) for p in points]
    procs = [subprocess.Popen([sys.executable, str(SCRIPT), str(path), "bytes", str(p)],
                              env=_environment()) for (path,), p in zip(runs, points, strict=True)]
    for proc in procs:
        assert proc.wait(timeout=30) == -signal.SIGKILL
    for (path,), point in zip(runs, points, strict=True):
        assert path.stat().st_size == point
        assert_reads_as_prefix(path, complete, _appended_steps(complete, point))


def test_sigkill_from_outside_at_random_moments(tmp_path, complete):
    rng = np.random.default_rng(11)
    for run in range(4):
        path = tmp_path / f"outside-{run}.trace"
        proc = subprocess.Popen([sys.executable, str(SCRIPT), str(path), "sleep", "0.01"],
                                env=_environment(), stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(float(rng.uniform(0.0, 0.3)))  # the run needs > 0.4 s from here
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        appended = proc.stdout.read().split()  # one line per append that returned
        if path.stat().st_size < complete["header_end"]:
            assert not appended
            continue
        with open_trace(path) as reader:
            n_steps = reader.num_steps
        assert n_steps >= len(appended), "a step whose append returned was lost"
        assert n_steps <= len(appended) + 1  # the one being appended may be in too
        assert_reads_as_prefix(path, complete, n_steps)


def test_every_prefix_of_a_file_reads_as_clean_truncation(tmp_path, complete):
    full = complete["bytes"]
    path = tmp_path / "prefix.trace"
    for length in range(0, len(full), 97):
        path.write_bytes(full[:length])
        assert_reads_as_prefix(path, complete)
