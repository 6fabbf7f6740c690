"""Damaged, foreign and too-new files give a clear TraceError, never another exception."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trace_support import header_for

from accelsim.errors import TraceError
from accelsim.trace import StepRecord, TraceWriter, layout, open_trace, verify
from accelsim.trace.model import FORMAT_MINOR

SIZES = [300, 40, 5]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict:
    """A small closed trace with keyframes, step tables, structure masks and densities."""
    path = tmp_path_factory.mktemp("sample") / "sample.trace"
    rng = np.random.default_rng(3)
    steps = np.cumsum(rng.integers(1, 3, 24))
    with TraceWriter(path, header_for(SIZES, structure_size=4), keyframe_every=6,
                     chunk_steps=4, fsync=False) as writer:
        for step in steps:
            writer.append(StepRecord(
                step=int(step), loss=float(rng.random()), lr=0.01,
                stored_masks={t: rng.random(n) < 0.3 for t, n in enumerate(SIZES)},
                structure_masks={0: rng.random(4) < 0.5},
                activation_density=rng.random(3).astype(np.float32)))
    with open_trace(path) as reader:
        chunks = [(c.offset, c.header.first_step, c.header.last_step, c.payload_offset)
                  for c in reader._chunks]
        end_offset = reader._chunks[-1].end  # the end marker follows the last step chunk
    return {"bytes": path.read_bytes(), "chunks": chunks, "end_offset": end_offset}


def read_everything(path: Path) -> None:
    with open_trace(path) as reader:
        list(reader.iter_steps(masks=True))
        for step in reader.steps:
            for tid in range(len(SIZES)):
                reader.stored_mask(int(step), tid)
        reader.summary()


def _region_start(sample: dict, offset: int) -> int:
    """Where the unit (preamble, header chunk, step chunk, end marker) holding offset starts."""
    starts = [0, layout.PREAMBLE.size] + [c[0] for c in sample["chunks"]]
    starts.append(sample["end_offset"])
    return max(s for s in starts if s <= offset)


def _flip_offsets(sample: dict, rng) -> list[int]:
    """Every byte of the preamble, of each chunk header and step table, of the header
    chunk's header and of the end marker; a random sample of payload bytes."""
    size = len(sample["bytes"])
    fixed = set(range(layout.PREAMBLE.size + layout.CHUNK_HEADER.size))
    for offset, _, _, payload_offset in sample["chunks"]:
        fixed.update(range(offset, payload_offset))
    fixed.update(range(sample["end_offset"], size))
    payload = sorted(set(range(size)) - fixed)
    return sorted(fixed) + rng.choice(payload, 300, replace=False).tolist()


def test_every_flipped_byte_is_detected_and_located(tmp_path, sample):
    data = sample["bytes"]
    rng = np.random.default_rng(5)
    path = tmp_path / "flipped.trace"
    offsets = _flip_offsets(sample, rng)
    deep_reads = set(rng.choice(offsets, 150, replace=False).tolist())
    for offset in offsets:
        flipped = bytearray(data)
        flipped[offset] ^= int(rng.integers(1, 256))
        path.write_bytes(flipped)
        report = verify(path)
        assert report.status == "corrupt", (offset, report.message)
        assert report.bad_offset == _region_start(sample, offset), (offset, report.message)
        chunk = next((c for c in sample["chunks"] if c[0] == report.bad_offset), None)
        if chunk is not None:
            assert report.bad_steps[0] <= chunk[1]
            assert report.bad_steps[1] in (None, chunk[2])
        if offset in deep_reads:
            with pytest.raises(TraceError):
                read_everything(path)


@settings(max_examples=150, deadline=None)
@given(prefix=st.sampled_from(["none", "preamble", "header"]), tail=st.binary(max_size=600))
def test_garbage_never_raises_anything_but_trace_error(tmp_path_factory, sample, prefix, tail):
    path = tmp_path_factory.mktemp("garbage") / "g.trace"
    data = sample["bytes"]
    keep = {"none": 0, "preamble": layout.PREAMBLE.size, "header": _header_end(data)}[prefix]
    path.write_bytes(data[:keep] + tail)
    report = verify(path)
    assert report.status in ("corrupt", "truncated", "intact")
    if report.status == "corrupt" or prefix != "header":
        with pytest.raises(TraceError):
            read_everything(path)
    else:
        read_everything(path)


def _header_end(data: bytes) -> int:
    chunk = layout.ChunkHeader.unpack(data[layout.PREAMBLE.size:layout.PREAMBLE.size + 64])
    return layout.PREAMBLE.size + layout.CHUNK_HEADER.size + chunk.payload_len


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"),
    (b"\x89ATR", "no trace header"),
    (b"# a Python file, not a trace\nprint('hello')\n", "not an accelsim trace"),
    (json.dumps({"format": "accelsim-trace"}).encode(), "not an accelsim trace"),
    (bytes(range(256)) * 4, "not an accelsim trace"),
])
def test_foreign_files_are_refused_clearly(tmp_path, content, message):
    path = tmp_path / "foreign.trace"
    path.write_bytes(content)
    with pytest.raises(TraceError, match=message):
        open_trace(path)
    assert message in verify(path).message


def test_missing_file_and_directory_are_trace_errors(tmp_path):
    with pytest.raises(TraceError, match="cannot open"):
        open_trace(tmp_path / "absent.trace")
    with pytest.raises(TraceError, match="cannot open"):
        verify(tmp_path)


@pytest.mark.parametrize("major, message", [
    (2, r"trace format version 2 is newer than this accelsim supports \(1\); upgrade accelsim"),
    (0, "trace format version 0 is no longer supported"),
])
def test_unsupported_major_versions(tmp_path, sample, major, message):
    path = tmp_path / "version.trace"
    path.write_bytes(layout.pack_preamble(major, 0) + sample["bytes"][layout.PREAMBLE.size:])
    with pytest.raises(TraceError, match=message):
        open_trace(path)
    with pytest.raises(TraceError, match=message):
        verify(path)


def _header_chunk(header_dict: dict) -> bytes:
    raw = json.dumps(header_dict).encode()
    payload = zlib.compress(raw)
    chunk = layout.ChunkHeader(layout.TYPE_HEADER, 0, 0, 0, 0, 0, 0, len(payload), len(raw),
                               layout.crc32(payload))
    return chunk.pack() + payload


def _foreign_chunk() -> bytes:
    payload = zlib.compress(b"something a later minor version added")
    chunk = layout.ChunkHeader(ord("X"), 0, 0, 0, 0, 0, 0, len(payload), 37,
                               layout.crc32(payload))
    return chunk.pack() + payload


@pytest.mark.parametrize("minor", [FORMAT_MINOR, FORMAT_MINOR + 1])
def test_newer_minor_may_add_header_keys_and_chunk_types(tmp_path, sample, minor):
    data = sample["bytes"]
    header = header_for(SIZES, structure_size=4).to_dict()
    header["future_field"] = {"anything": 1}
    body = _header_chunk(header) + _foreign_chunk() + data[_header_end(data):]
    path = tmp_path / "minor.trace"
    path.write_bytes(layout.pack_preamble(1, minor) + body)
    if minor == FORMAT_MINOR:  # this reader's own minor: an unknown key is corruption
        with pytest.raises(TraceError, match="unknown keys"):
            open_trace(path)
        return
    assert verify(path).status == "intact"
    with open_trace(path) as reader:
        assert reader.num_steps == 24
        read_everything(path)


def test_payload_that_does_not_fit_its_header_is_corruption(tmp_path, sample):
    """Checksums hold but the data does not match the tensors: still a TraceError."""
    data = sample["bytes"]
    header = header_for([30, 40, 5], structure_size=4).to_dict()
    path = tmp_path / "mismatch.trace"
    path.write_bytes(data[:layout.PREAMBLE.size] + _header_chunk(header)
                     + data[_header_end(data):])
    report = verify(path)
    assert report.status == "corrupt" and report.bad_offset is not None
    assert "corrupt" in report.message
    with pytest.raises(TraceError, match=r"steps \d+\.\.\d+\) is corrupt"):
        read_everything(path)


def test_bytes_after_the_end_marker_are_corruption(tmp_path, sample):
    path = tmp_path / "appended.trace"
    path.write_bytes(sample["bytes"] + b"\x00")
    report = verify(path)
    assert report.status == "corrupt" and "after the end marker" in report.message
    with pytest.raises(TraceError, match="after the end marker"):
        open_trace(path)
