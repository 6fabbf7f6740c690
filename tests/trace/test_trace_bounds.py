"""Crafted traces whose checksums all hold: no length, count or shape makes the reader
allocate or loop beyond what the file justifies; every checkable field is checked."""

from __future__ import annotations

import json
import time
import zlib

import numpy as np
import pytest
from trace_support import chunk_offsets, header_for, with_header_fields

from accelsim.errors import TraceError
from accelsim.trace import StepRecord, TraceWriter, layout, open_trace, verify

SIZES = [300, 40]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("bounds") / "s.trace"
    rng = np.random.default_rng(1)
    with TraceWriter(path, header_for(SIZES), keyframe_every=5, chunk_steps=3,
                     fsync=False) as writer:
        for step in (1, 2, 3, 5, 8, 9, 10, 11, 12, 20):
            writer.append(StepRecord(step=step, loss=0.5, lr=0.1,
                                     stored_masks={t: rng.random(n) < 0.4
                                                   for t, n in enumerate(SIZES)}))
    return path.read_bytes()


def _check_refused(tmp_path, data: bytes, match: str = "") -> str:
    """Crafted data: verify says corrupt quickly, and every reader path raises TraceError."""
    path = tmp_path / "crafted.trace"
    path.write_bytes(data)
    start = time.monotonic()
    report = verify(path)
    assert report.status == "corrupt", report.message
    assert match in report.message
    try:
        with open_trace(path) as reader:
            with pytest.raises(TraceError):
                list(reader.iter_steps(masks=True))
                reader.summary()
    except TraceError:
        pass
    assert time.monotonic() - start < 5
    return report.message


def _steps_chunks(data):
    return [(o, h) for o, h in chunk_offsets(data) if h.kind == layout.TYPE_STEPS]


@pytest.mark.parametrize("fields", [
    {"raw_len": 2**63},                       # was OverflowError in inflate
    {"raw_len": 2**40},
    {"n_records": 2**32 - 1},                 # was a 32 GiB allocation in steps_of
    {"n_records": 2**28 + 1, "last_step": 2**40},  # was 12 s and 4 GB for a 10 KB file
    {"payload_len": 2**60},
    {"step_table_crc": 12345},                # a table checksum without a table
    {"first_step": 7, "last_step": 7},        # 3 records cannot share one step
])
def test_crafted_step_chunk_fields_are_refused(tmp_path, sample, fields):
    offset, _ = _steps_chunks(sample)[1]
    _check_refused(tmp_path, with_header_fields(sample, offset, **fields))


@pytest.mark.parametrize("kind, fields", [
    (layout.TYPE_HEADER, {"first_step": 3}),
    (layout.TYPE_HEADER, {"last_step": 3}),
    (layout.TYPE_HEADER, {"first_record": 1}),
    (layout.TYPE_HEADER, {"step_table_crc": 1}),
    (layout.TYPE_HEADER, {"raw_len": 2**62}),
    (layout.TYPE_END, {"first_step": 3}),
    (layout.TYPE_END, {"last_step": 3}),
    (layout.TYPE_END, {"step_table_crc": 9}),
    (layout.TYPE_END, {"raw_len": 2**62}),
])
def test_header_and_end_chunk_fields_are_checked(tmp_path, sample, kind, fields):
    offset = next(o for o, h in chunk_offsets(sample) if h.kind == kind)
    _check_refused(tmp_path, with_header_fields(sample, offset, **fields))


def test_a_length_running_past_the_end_hides_no_chunks(tmp_path, sample):
    """A crafted payload_len that reaches past EOF would drop every later chunk as a
    'truncation': a sound chunk header inside it makes it corruption."""
    offset, header = _steps_chunks(sample)[1]
    grown = header.payload_len + len(sample)  # past the end of the file
    crafted = with_header_fields(sample, offset, payload_len=grown, raw_len=grown)
    message = _check_refused(tmp_path, crafted)
    assert "sound chunk starts inside it" in message


def test_swapped_and_duplicated_chunks_name_the_steps_after_the_last_good_one(tmp_path,
                                                                             sample):
    chunks = _steps_chunks(sample)
    (a, _), (b, hb), (c, _) = chunks[0], chunks[1], chunks[2]
    swapped = sample[:a] + sample[b:c] + sample[a:b] + sample[c:]
    path = tmp_path / "swap.trace"
    path.write_bytes(swapped)
    report = verify(path)
    assert report.status == "corrupt" and report.bad_steps == (0, None), report
    duplicated = sample[:c] + sample[b:c] + sample[c:]
    path.write_bytes(duplicated)
    report = verify(path)
    assert report.status == "corrupt" and report.bad_steps == (hb.last_step + 1, None)
    assert report.bad_offset == c


def _with_header(sample: bytes, change) -> bytes:
    offset, header = chunk_offsets(sample)[0]
    end = offset + layout.CHUNK_HEADER.size + header.payload_len
    data = json.loads(zlib.decompress(sample[offset + layout.CHUNK_HEADER.size:end]))
    change(data)
    raw = json.dumps(data, sort_keys=True).encode()
    payload = zlib.compress(raw)
    chunk = layout.ChunkHeader(layout.TYPE_HEADER, 0, 0, 0, 0, 0, 0, len(payload), len(raw),
                               layout.crc32(payload))
    return sample[:offset] + chunk.pack() + payload + sample[end:]


def test_a_ten_trillion_weight_tensor_in_the_header_is_refused(tmp_path, sample):
    def huge(data):
        data["tensors"][0].update(shape=[10**13], numel=10**13)
    message = _check_refused(tmp_path, _with_header(sample, huge), "2**40")
    assert "header.tensors[0].numel" in message


def test_index_lists_must_be_canonical(tmp_path):
    """A single-index list with another width byte, or a wider gap width than needed,
    would decode to the same indices from different bytes: refused."""
    from accelsim.trace.layout import Cursor, IndexList, Malformed, encode_index_list

    one = bytearray(encode_index_list(np.array([5])))
    one[-1] = 4
    with pytest.raises(Malformed):
        IndexList.read(Cursor(bytes(one)), 10)
    wide = encode_index_list(np.array([0, 300]))  # gap 299 needs width 2
    narrow = encode_index_list(np.array([0, 3, 7]))
    assert wide[16] == 2 and narrow[16] == 1
    head = bytearray(narrow[:16]) + bytes([2]) + bytes([2, 3, 0, 0])
    with pytest.raises(Malformed, match="smallest width"):
        IndexList.read(Cursor(bytes(head)), 10).decode(10)


def test_a_minor_1_header_without_reproducibility_is_refused(tmp_path, sample):
    message = _check_refused(tmp_path, _with_header(sample, lambda d: d.pop("reproducibility")))
    assert "lacks 'reproducibility'" in message


def test_header_format_version_must_match_the_preamble(tmp_path, sample, monkeypatch):
    from accelsim.trace import model, scan

    monkeypatch.setattr(model, "SUPPORTED_VERSIONS", (1, 2))
    monkeypatch.setattr(scan, "SUPPORTED_VERSIONS", (1, 2))
    crafted = layout.pack_preamble(2, 1) + sample[layout.PREAMBLE.size:]
    _check_refused(tmp_path, crafted, "is not the preamble's major version 2")
