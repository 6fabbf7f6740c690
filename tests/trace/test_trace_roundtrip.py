"""Whatever is written reads back bit-exactly, sequentially and by random access."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trace_support import header_for

from accelsim.errors import TraceError
from accelsim.trace import StepRecord, TraceWriter, open_trace, verify


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


@st.composite
def trace_plans(draw):
    n_tensors = draw(st.integers(1, 5))
    n_steps = draw(st.integers(0, 24))
    floats = st.floats(allow_nan=True, allow_infinity=True)
    return {
        "sizes": draw(st.lists(st.integers(1, 5000), min_size=n_tensors, max_size=n_tensors)),
        "structure_size": draw(st.integers(0, 9)),
        "keyframe_every": draw(st.integers(1, 10)),
        "chunk_steps": draw(st.integers(1, 10)),
        "seed": draw(st.integers(0, 2**32 - 1)),
        "steps": np.cumsum(draw(st.lists(st.integers(1, 4), min_size=n_steps,
                                         max_size=n_steps))).tolist(),
        "scalars": draw(st.lists(st.tuples(floats, floats, floats), min_size=n_steps,
                                 max_size=n_steps)),
        "with_density": draw(st.booleans()),
    }


def _next_mask(rng, previous: np.ndarray) -> np.ndarray:
    """Mostly small churn, sometimes a fresh random set, sometimes all or nothing."""
    choice = rng.integers(6)
    if choice == 0:
        return rng.random(previous.size) < rng.choice([0.01, 0.3, 0.9])
    if choice == 1:
        return np.full(previous.size, bool(rng.integers(2)))
    flips = rng.random(previous.size) < rng.choice([0.0, 0.001, 0.02])
    return previous ^ flips


def build_records(plan) -> tuple[list[StepRecord], list[dict]]:
    """The records to write (masks, deltas or nothing per tensor) and the expected masks."""
    rng = np.random.default_rng(plan["seed"])
    current = {i: np.ones(size, dtype=bool) for i, size in enumerate(plan["sizes"])}
    records, expected = [], []
    for step, (loss, lr, accuracy) in zip(plan["steps"], plan["scalars"], strict=True):
        record = StepRecord(step=step, loss=loss, lr=lr, accuracy=accuracy)
        for tid, size in enumerate(plan["sizes"]):
            mode = rng.integers(3)  # 0: unchanged, 1: full mask, 2: deltas
            if mode == 0:
                continue
            new = _next_mask(rng, current[tid])
            if mode == 1:
                record.stored_masks[tid] = new
            else:
                record.entered[tid] = np.flatnonzero(new & ~current[tid])
                record.left[tid] = np.flatnonzero(current[tid] & ~new)
            record.changed[tid] = int(rng.integers(size + 1))
            current[tid] = new
        if plan["structure_size"] and rng.integers(2):
            record.structure_masks[0] = rng.random(plan["structure_size"]) < 0.5
        if plan["with_density"]:
            record.activation_density = rng.random(len(plan["sizes"])).astype(np.float32)
        records.append(record)
        expected.append({tid: mask.copy() for tid, mask in current.items()})
    return records, expected


def write_plan(path: Path, plan) -> tuple[list[StepRecord], list[dict]]:
    records, expected = build_records(plan)
    header = header_for(plan["sizes"], plan["structure_size"])
    with TraceWriter(path, header, keyframe_every=plan["keyframe_every"],
                     chunk_steps=plan["chunk_steps"], fsync=False) as writer:
        for record in records:
            writer.append(record)
    return records, expected


def assert_same_step(got: StepRecord, want: StepRecord, masks: dict, before: dict) -> None:
    assert got.step == want.step
    for name in ("loss", "lr", "accuracy"):
        assert _bits(getattr(got, name)) == _bits(getattr(want, name))
    assert got.changed == want.changed
    assert got.structure_masks.keys() == want.structure_masks.keys()
    for tid, structure in want.structure_masks.items():
        np.testing.assert_array_equal(got.structure_masks[tid], structure)
    if want.activation_density is None:
        assert got.activation_density is None
    else:
        np.testing.assert_array_equal(got.activation_density, want.activation_density)
    for tid, mask in masks.items():
        np.testing.assert_array_equal(got.stored_masks[tid], mask)
        came, went = np.flatnonzero(mask & ~before[tid]), np.flatnonzero(before[tid] & ~mask)
        changed = bool(came.size or went.size)
        assert (tid in got.entered) == changed and (tid in got.left) == changed
        if changed:
            np.testing.assert_array_equal(got.entered[tid], came)
            np.testing.assert_array_equal(got.left[tid], went)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=trace_plans(), picks=st.lists(st.tuples(st.integers(0), st.integers(0)),
                                          max_size=6))
def test_written_steps_read_back_equal(plan, picks):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.trace"
        records, expected = write_plan(path, plan)
        with open_trace(path) as reader:
            assert not reader.truncated
            assert reader.steps.tolist() == plan["steps"]
            before = {i: np.ones(size, dtype=bool) for i, size in enumerate(plan["sizes"])}
            got = list(reader.iter_steps(masks=True))
            assert len(got) == len(records)
            for record, want, masks in zip(got, records, expected, strict=True):
                assert_same_step(record, want, masks, before)
                before = masks
            counts = reader.stored_counts()
            want_counts = [[int(masks[t].sum()) for t in sorted(masks)] for masks in expected]
            assert counts.tolist() == want_counts
            for position, tid in picks:
                if not records:
                    break
                position %= len(records)
                tid %= len(plan["sizes"])
                mask = reader.stored_mask(plan["steps"][position], tid)
                np.testing.assert_array_equal(mask, expected[position][tid])
        assert verify(path).status == "intact"


def test_dense_run_passes_nothing_and_everything_stays_stored(tmp_path):
    path = tmp_path / "dense.trace"
    with TraceWriter(path, header_for([1000, 10]), fsync=False) as writer:
        for step in range(50):
            writer.append(StepRecord(step=step, loss=1.0, lr=0.1, changed={0: 1000, 1: 10}))
    with open_trace(path) as reader:
        assert reader.stored_counts().tolist() == [[1000, 10]] * 50
        assert reader.stored_mask(37, 0).all()
        assert all(not r.entered and not r.left for r in reader.iter_steps())
        assert reader.summary()["churn"] == {"min": 0, "median": 0.0, "max": 0}
    assert path.stat().st_size < 4000  # keyframes of all-stored tensors are a few bytes


def test_closed_empty_trace_is_intact(tmp_path):
    path = tmp_path / "empty.trace"
    TraceWriter(path, header_for([5]), fsync=False).close()
    with open_trace(path) as reader:
        assert reader.num_steps == 0 and not reader.truncated
        assert list(reader.iter_steps()) == []
        with pytest.raises(TraceError, match="step 3 is not in the trace"):
            reader.stored_mask(3, 0)
    assert verify(path).status == "intact"


def test_existing_file_is_never_overwritten_silently(tmp_path):
    path = tmp_path / "run.trace"
    path.write_bytes(b"precious")
    with pytest.raises(TraceError, match="already exists"):
        TraceWriter(path, header_for([5]), fsync=False)
    assert path.read_bytes() == b"precious"
    TraceWriter(path, header_for([5]), overwrite=True, fsync=False).close()
    assert verify(path).status == "intact"


def test_exception_in_with_block_keeps_steps_but_no_end_marker(tmp_path):
    path = tmp_path / "run.trace"
    with pytest.raises(RuntimeError), TraceWriter(path, header_for([5]), fsync=False) as w:
        w.append(StepRecord(step=0, stored_masks={0: np.array([1, 0, 1, 0, 1], bool)}))
        raise RuntimeError("training crashed")
    report = verify(path)
    assert (report.status, report.num_steps) == ("truncated", 1)
    with open_trace(path) as reader:
        assert reader.truncated
        assert reader.stored_mask(0, 0).tolist() == [True, False, True, False, True]


@pytest.mark.parametrize("record, message", [
    (StepRecord(step=5, entered={0: np.array([2])}), "already stored"),
    (StepRecord(step=5, left={0: np.array([3, 1])}), "sorted unique"),
    (StepRecord(step=5, left={0: np.array([9])}), "sorted unique"),
    (StepRecord(step=5, stored_masks={0: np.ones(4, bool)}), "bool with 5"),
    (StepRecord(step=5, stored_masks={0: np.ones(5, bool)}, left={0: np.array([1])}),
     "both as masks and as deltas"),
    (StepRecord(step=5, stored_masks={7: np.ones(5, bool)}), "tensor_id 7"),
    (StepRecord(step=5, changed={0: 6}), "changed count"),
    (StepRecord(step=5, structure_masks={0: np.ones(2, bool)}), "structure mask"),
    (StepRecord(step=5, activation_density=np.ones(3, np.float32)), "activation_density"),
    (StepRecord(step=1), "increase strictly"),
])
def test_inconsistent_records_are_refused_without_changing_state(tmp_path, record, message):
    path = tmp_path / "run.trace"
    with TraceWriter(path, header_for([5], structure_size=3), fsync=False) as writer:
        writer.append(StepRecord(step=1, stored_masks={0: np.array([1, 1, 1, 0, 0], bool)}))
        with pytest.raises(TraceError, match=message):
            writer.append(record)
        writer.append(StepRecord(step=6, left={0: np.array([0])}))
    with open_trace(path) as reader:
        assert reader.stored_mask(6, 0).tolist() == [False, True, True, False, False]


def test_trace_package_works_without_torch(tmp_path):
    """Replay machines may have no torch: block it and write, read and verify a trace."""
    code = (
        "import sys; sys.modules['torch'] = None\n"  # any `import torch` now fails
        "import numpy as np\n"
        "from accelsim.trace import StepRecord, TraceWriter, open_trace, verify\n"
        "from trace_support import header_for\n"
        f"path = {str(tmp_path / 'no-torch.trace')!r}\n"
        "with TraceWriter(path, header_for([8]), fsync=False) as writer:\n"
        "    writer.append(StepRecord(step=0, stored_masks={0: np.arange(8) < 3}))\n"
        "assert open_trace(path).stored_mask(0, 0).sum() == 3\n"
        "assert verify(path).status == 'intact'\n"
    )
    here = Path(__file__).resolve().parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(here.parents[1]), str(here)]))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
