"""Random access cost, file size, counts and summary, header and index-list encodings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from trace_support import header_for

from accelsim.errors import TraceError
from accelsim.trace import (
    FORMAT_VERSION,
    LayerInfo,
    StepRecord,
    TensorInfo,
    TraceHeader,
    TraceWriter,
    open_trace,
)
from accelsim.trace.layout import Cursor, IndexList, encode_index_list
from accelsim.trace.records import ENC_BITMAP, ENC_STORED, ENC_UNSTORED, _keyframe_entry

LENET_300_100 = [(300, 784), (300,), (100, 300), (100,), (10, 100), (10,)]  # 266,610 weights


def _write_churning(path, sizes, n_steps, seed, **options) -> list[dict]:
    rng = np.random.default_rng(seed)
    masks = {t: rng.random(n) < 0.1 for t, n in enumerate(sizes)}
    expected = []
    with TraceWriter(path, header_for(sizes), fsync=False, **options) as writer:
        for step in range(n_steps):
            masks = {t: m ^ (rng.random(m.size) < 0.01) for t, m in masks.items()}
            writer.append(StepRecord(step=10 * step, stored_masks=masks))
            expected.append(masks)
    return expected


def test_random_access_decodes_only_from_the_nearest_keyframe(tmp_path):
    path = tmp_path / "run.trace"
    expected = _write_churning(path, [2000, 300], 120, seed=1, keyframe_every=20,
                               chunk_steps=5)
    with open_trace(path) as reader:
        assert reader.num_chunks == 24
        np.testing.assert_array_equal(reader.stored_mask(1170, 0), expected[117][0])
        assert reader.chunks_decoded <= math.ceil(20 / 5)  # chunks 20..23 at most
        np.testing.assert_array_equal(reader.stored_mask(410, 1), expected[41][1])
        assert reader.chunks_decoded <= 2 * math.ceil(20 / 5)
        with pytest.raises(TraceError, match="step 415 is not in the trace"):
            reader.stored_mask(415, 0)
        with pytest.raises(TraceError, match="tensor_id 9"):
            reader.stored_mask(410, 9)


def test_lenet_sized_dropback_trace_is_small(tmp_path):
    """266,610 weights, 10,664 stored, 1% of the stored set swapped per step, 300 steps.

    Bound: the information content is log2 C(10664, 107) + log2 C(255946, 107) bits per
    step (which 107 leave, which 107 enter) plus one keyframe, log2 C(266610, 10664) bits:
    about 91 KB in all.  A byte-oriented zlib coding may spend up to twice that (measured:
    about 1.6x, 0.014 bits per weight per step); the 1 MB budget is far away.
    """
    sizes = [math.prod(shape) for shape in LENET_300_100]
    total, stored, churn, n_steps = sum(sizes), 10_664, 107, 300
    rng = np.random.default_rng(0)
    flat = np.zeros(total, dtype=bool)
    flat[rng.choice(total, stored, replace=False)] = True
    bounds = np.cumsum([0] + sizes)
    path = tmp_path / "lenet.trace"
    with TraceWriter(path, header_for(sizes), fsync=False) as writer:
        for step in range(n_steps):
            if step:
                left = rng.choice(np.flatnonzero(flat), churn, replace=False)
                entered = rng.choice(np.flatnonzero(~flat), churn, replace=False)
                flat[left], flat[entered] = False, True
            masks = {t: flat[bounds[t]:bounds[t + 1]].copy() for t in range(len(sizes))}
            writer.append(StepRecord(step=step, stored_masks=masks))
    info_bytes = (n_steps * (_log2_choose(stored, churn) + _log2_choose(total - stored, churn))
                  + _log2_choose(total, stored)) / 8
    size = path.stat().st_size
    assert size < 2 * info_bytes < 200_000
    with open_trace(path) as reader:
        summary = reader.summary()
    assert summary["stored"] == {"min": stored, "median": stored, "max": stored}
    assert summary["churn"]["median"] == 2 * churn
    assert summary["bits_per_weight_per_step"] == pytest.approx(size * 8 / (total * n_steps))


def _log2_choose(n: int, k: int) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(2)


def test_stored_counts_and_summary_match_the_masks(tmp_path):
    path = tmp_path / "run.trace"
    expected = _write_churning(path, [500, 70, 9], 30, seed=2, keyframe_every=8,
                               chunk_steps=3)
    with open_trace(path) as reader:
        counts = reader.stored_counts()
        summary = reader.summary()
    want = np.array([[m.sum() for m in masks.values()] for masks in expected])
    np.testing.assert_array_equal(counts, want)
    totals = want.sum(axis=1)
    assert summary["stored"] == {"min": totals.min(), "median": float(np.median(totals)),
                                 "max": totals.max()}
    assert (summary["steps"], summary["first_step"], summary["last_step"]) == (30, 0, 290)
    assert summary["params_total"] == 579 and summary["tensors"] == 3


@pytest.mark.parametrize("indices, width", [
    ([], None), ([7], 1), ([0, 1, 2, 3], 1), ([5, 300], 2), ([0, 70_000], 4),
    ([1, 2**40], 8), ([3, 4, 300, 301, 100_000], 4),
])
def test_index_lists_round_trip_with_the_narrowest_gap_width(indices, width):
    array = np.array(indices, dtype=np.int64)
    data = encode_index_list(array)
    listed = IndexList.read(Cursor(data), 2**41)
    assert listed.count == array.size and (width is None or listed.width == width)
    np.testing.assert_array_equal(listed.decode(2**41), array)


@pytest.mark.parametrize("stored, encoding", [
    (np.zeros(1000, bool), ENC_STORED),
    (np.ones(1000, bool), ENC_UNSTORED),
    (np.arange(1000) % 2 == 0, ENC_BITMAP),
    (np.arange(1000) % 50 == 0, ENC_STORED),
    (np.arange(1000) % 50 != 0, ENC_UNSTORED),
])
def test_keyframes_pick_the_smallest_encoding(stored, encoding):
    entry = _keyframe_entry(0, stored, None)
    assert entry[4] == encoding


def test_header_round_trips_through_json_and_validates():
    header = TraceHeader(
        net="lenet5",
        layers=[LayerInfo("conv1", "conv2d", weight_shape=(6, 1, 5, 5), bias_shape=(6,),
                          stride=(1, 1), padding=(2, 2), dilation=(1, 1), groups=1,
                          in_shape=(1, 28, 28), out_shape=(6, 28, 28), tensor_ids=[0, 1]),
                LayerInfo("pool1", "maxpool2d", stride=2, in_shape=(6, 28, 28),
                          out_shape=(6, 14, 14))],
        tensors=[TensorInfo(0, "conv1.weight", "conv1", "weight", (6, 1, 5, 5),
                            init={"kind": "normal", "std": 0.05}, structure_size=6),
                 TensorInfo(1, "conv1.bias", "conv1", "bias", (6,),
                            init={"kind": "constant", "value": 0.0})],
        method="filter_pruning", method_params={"ratio": 0.5}, optimizer="adam",
        optimizer_state_per_weight=2, batch_size=64, dataset="mnist")
    again = TraceHeader.from_dict(header.to_dict())
    assert again == header and again.format_version == FORMAT_VERSION
    assert again.layers[0].stride == (1, 1) and again.layers[1].stride == 2
    assert again.tensors[0].numel == 150 and again.params_total == 156


@pytest.mark.parametrize("change, message", [
    (lambda d: d["tensors"][1].update(tensor_id=0), "not unique"),
    (lambda d: d["tensors"][0].update(numel=5), "numel"),
    (lambda d: d["tensors"][0].update(role="kernel"), "role"),
    (lambda d: d["tensors"][0].update(shape=["a"]), "shape"),
    (lambda d: d["layers"][0].update(tensor_ids=[[1]]), "tensor_ids"),
    (lambda d: d["layers"][0].update(tensor_ids=[5]), "unknown"),
    (lambda d: d.update(batch_size="64"), "batch_size"),
    (lambda d: d.pop("net"), "lacks 'net'"),
    (lambda d: d.update(surprise=1), "unknown keys"),
    (lambda d: d.update(format="other"), "format"),
])
def test_malformed_headers_are_trace_errors(change, message):
    data = header_for([10, 4]).to_dict()
    change(data)
    with pytest.raises(TraceError, match=message):
        TraceHeader.from_dict(data)
