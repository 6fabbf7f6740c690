"""The two fidelities: identical counts, cycles within 2%; the event model's contention."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.hw import load_hardware
from accelsim.sim import simulate
from accelsim.sim.event import event_cycles
from accelsim.sim.gemm_cost import ArrayConfig, GemmShape, gemm_cost
from accelsim.sim.pipeline import TileSchedule, pipeline_cycles_kernel


def both(schedule):
    fast = pipeline_cycles_kernel(schedule.compute_cycles, schedule.load_bytes,
                                  schedule.store_bytes, schedule.regen_cycles,
                                  schedule.dram_bytes_per_cycle)
    return fast, event_cycles(schedule)


def schedule(compute, load, store, regen, bandwidth=1.0):
    arrays = (np.asarray(v, dtype=np.float64) for v in (compute, load, store, regen))
    return TileSchedule(*arrays, bandwidth)


def test_hand_worked_pipeline():
    # load0 0-20, compute0 20-30; load1 20-40 (channel free, buffer half free),
    # compute1 40-50; nothing to store: the last store ends at 50, minus one.
    assert both(schedule([10, 10], [20, 20], [0, 0], [0, 0])) == (49.0, 49.0)
    # Regeneration slower than the load holds the PE back: regen0 0-30, compute0 30-40,
    # load1 starts when tile 0 is ready (30), regen1 30-60, compute1 60-70.
    assert both(schedule([10, 10], [20, 20], [0, 0], [30, 30])) == (69.0, 69.0)


def test_stores_and_loads_contend_for_the_channel():
    # Compute is free; 4 tiles each load 10 and store 10 bytes at 1 byte/cycle: the channel
    # carries 80 bytes one after another, so nothing can finish before cycle 80.
    fast, event = both(schedule([0] * 4, [10] * 4, [10] * 4, [0] * 4))
    assert fast == event >= 80 - 1


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 400), k=st.integers(1, 400), n=st.integers(1, 400),
       element=st.sampled_from([1, 2, 4]), flow=st.sampled_from(["ws", "os", "is"]),
       side=st.sampled_from([8, 16, 32]), buffer=st.sampled_from([2048, 32768, 1 << 20]),
       bandwidth=st.sampled_from([2.0, 16.0, 64.0]), lanes=st.sampled_from([0, 4, 16]))
def test_random_layers_agree(m, k, n, element, flow, side, buffer, bandwidth, lanes):
    cfg = ArrayConfig(side, side, flow, buffer, buffer, buffer, bandwidth, lanes)
    shape = GemmShape(m, k, n, 1, m * k * element, k * n * element, m * n * element,
                      m * n * element)
    regen = 0.9 * k * n if lanes else 0.0
    fast = gemm_cost(shape, cfg, regen)
    event = gemm_cost(shape, cfg, regen, fidelity="event")
    assert event.cycles == pytest.approx(fast.cycles, rel=0.02)
    for field in ("compute_cycles", "a_read_bytes", "b_read_bytes", "o_write_bytes",
                  "psum_spill_bytes", "b_fetches", "chunks"):
        assert getattr(event, field) == getattr(fast, field)


@pytest.mark.parametrize("trace", ["traces/lenet300-dense.trace",
                                   "traces/lenet300-dropback25.trace"])
def test_sample_traces_agree(trace):
    hw = load_hardware("dropback-edge")
    fast = simulate(trace, hw, steps="1:6").totals
    event = simulate(trace, hw, steps="1:6", fidelity="event").totals
    assert event["cycles"] == pytest.approx(fast["cycles"], rel=0.02)
    for key, value in fast.items():
        if key != "cycles" and not key.startswith("energy_pj"):
            assert event[key] == value, key
    # Energy differs only through leakage (time-dependent), which is 0 in this preset.
    assert event["energy_pj"] == pytest.approx(fast["energy_pj"], rel=1e-9)
