"""The pipeline recurrence's per-tile timeline: the same cycles, units that never overlap."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.sim.pipeline import (
    COMPUTE_END,
    COMPUTE_START,
    LOAD_END,
    LOAD_START,
    REGEN_END,
    REGEN_START,
    STORE_END,
    STORE_START,
    TIMELINE_COLUMNS,
    fold_pipeline_cycles_kernel,
    pipeline_cycles_kernel,
    pipeline_timeline_kernel,
    tile_schedule_kernel,
)


def timeline(compute, load, store, regen, bandwidth=1.0, kernel=pipeline_timeline_kernel):
    arrays = [np.asarray(v, dtype=np.float64) for v in (compute, load, store, regen)]
    times = np.full((len(arrays[0]), TIMELINE_COLUMNS), np.nan)
    end = kernel(*arrays, bandwidth, times)
    return end, times


@pytest.mark.parametrize("kernel", [pipeline_timeline_kernel,
                                    pipeline_timeline_kernel.py_func])
def test_hand_worked_timeline(kernel):
    # load0 0-20, compute0 20-30; load1 20-40 (regen1 beside it, 20-25), compute1 40-50;
    # store0 waits for the channel until load1 is done: 40-45; store1 50-55.
    end, times = timeline([10, 10], [20, 20], [5, 5], [0, 5], kernel=kernel)
    assert end == 55.0
    np.testing.assert_array_equal(times[:, [LOAD_START, LOAD_END]], [[0, 20], [20, 40]])
    np.testing.assert_array_equal(times[:, [REGEN_START, REGEN_END]], [[0, 0], [20, 25]])
    np.testing.assert_array_equal(times[:, [COMPUTE_START, COMPUTE_END]], [[20, 30], [40, 50]])
    np.testing.assert_array_equal(times[:, [STORE_START, STORE_END]], [[40, 45], [50, 55]])


def test_no_tiles():
    end, times = timeline([], [], [], [])
    assert end == 0.0 and times.shape == (0, TIMELINE_COLUMNS)


values = st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0, 7.0, 20.0, 33.3]), min_size=1,
                  max_size=30)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), bandwidth=st.sampled_from([0.5, 1.0, 4.0]))
def test_timeline_obeys_the_pipeline_rules(data, bandwidth):
    compute = data.draw(values)
    n = len(compute)
    load, store, regen = (data.draw(st.lists(st.sampled_from([0.0, 2.0, 9.0, 40.0]),
                                             min_size=n, max_size=n)) for _ in range(3))
    end, times = timeline(compute, load, store, regen, bandwidth)
    assert not np.isnan(times).any()
    # One recurrence: the cycles are the timeline's last store, minus one, bit for bit.
    arrays = [np.asarray(v, dtype=np.float64) for v in (compute, load, store, regen)]
    assert pipeline_cycles_kernel(*arrays, bandwidth) == end - 1 == times[-1, STORE_END] - 1
    np.testing.assert_allclose(times[:, COMPUTE_END] - times[:, COMPUTE_START], compute)
    np.testing.assert_allclose(times[:, LOAD_END] - times[:, LOAD_START],
                               np.asarray(load) / bandwidth)
    np.testing.assert_allclose(times[:, REGEN_END] - times[:, REGEN_START], regen)
    # The PE starts a tile once it is loaded and regenerated and the tile before is done.
    assert (times[:, COMPUTE_START] >= times[:, LOAD_END]).all()
    assert (times[:, COMPUTE_START] >= times[:, REGEN_END]).all()
    assert (times[1:, COMPUTE_START] >= times[:-1, COMPUTE_END]).all()
    assert (times[:, STORE_START] >= times[:, COMPUTE_END]).all()
    # Double buffering: tile t loads only once the PE finished tile t-2.
    assert (times[2:, REGEN_START] >= times[:-2, COMPUTE_END]).all()
    # One DRAM channel: loads and stores never overlap.
    busy = np.concatenate([times[:, [LOAD_START, LOAD_END]], times[:, [STORE_START, STORE_END]]])
    busy = busy[np.lexsort((busy[:, 1], busy[:, 0]))]  # empty transfers first on ties
    assert (busy[1:, 0] >= busy[:-1, 1]).all()


def _tiles_then_cycles(share, regen_share, chunks, stream, fill, a, b, o, regen, lanes, bpc):
    arrays = [np.zeros(share.shape[0] * chunks) for _ in range(4)]
    filled = tile_schedule_kernel(share, regen_share, chunks, stream, fill, a, b, o, regen,
                                  lanes, *arrays)
    return pipeline_cycles_kernel(*(x[:filled] for x in arrays), bpc)


@settings(max_examples=300, deadline=None)
@given(folds=st.integers(1, 12), chunks=st.integers(1, 40), stream=st.integers(1, 90),
       fill=st.integers(0, 40), integral=st.booleans(), seed=st.integers(0, 2**31),
       lanes=st.integers(0, 2), bpc=st.sampled_from([1.0, 4.0, 16.0, 3.7]))
def test_fused_kernel_equals_tiles_then_recurrence(folds, chunks, stream, fill, integral,
                                                   seed, lanes, bpc):
    # The replay's kernel makes tiles on the fly and skips runs of identical tiles once
    # the pipeline only shifts; it must agree with the two kernels it replaces.
    rng = np.random.default_rng(seed)
    share = rng.dirichlet(np.ones(folds)) if seed % 2 else np.full(folds, 1 / folds)
    regen_share = rng.dirichlet(np.ones(folds))

    def value(high):
        return float(rng.integers(0, high)) if integral else float(rng.uniform(0, high))

    args = (share, regen_share, chunks, stream, fill, value(rng.choice([5, 500, 5000])),
            value(5000), value(rng.choice([5, 500, 5000])), value(2000), lanes, bpc)
    expected = _tiles_then_cycles(*args)
    assert fold_pipeline_cycles_kernel(*args) == pytest.approx(expected, rel=1e-9)


def test_fused_kernel_python_twin_and_long_runs():
    # Long runs of identical chunks (the case the skip is for), through the jitted kernel
    # and its pure-Python twin.
    share = np.array([0.5, 0.25, 0.25])
    for chunks, stream, a, o, bpc in ((64, 8192, 1e5, 3e4, 6.4), (32, 2048, 1e3, 3e2, 16.0),
                                      (50, 77, 10.0, 900.0, 1.0)):
        args = (share, share, chunks, stream, 46, a, 5e4, o, 100.0, 16, bpc)
        expected = _tiles_then_cycles(*args)
        assert fold_pipeline_cycles_kernel(*args) == pytest.approx(expected, rel=1e-9)
        assert fold_pipeline_cycles_kernel.py_func(*args) == pytest.approx(expected, rel=1e-9)
    empty = (share, share, 4, 0, 46, 1.0, 1.0, 1.0, 0.0, 0, 1.0)
    assert fold_pipeline_cycles_kernel(*empty) == _tiles_then_cycles(*empty) == 0.0
