"""The GEMM cost model: SCALE-Sim's compute cycles, compulsory traffic, monotonicity."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.sim.gemm_cost import (
    ArrayConfig,
    GemmShape,
    compute_cycles_closed_form,
    gemm_cost,
)


def shape(m, k, n, elem=1):
    return GemmShape(m, k, n, 1, m * k * elem, k * n * elem, m * n * elem, m * n * elem)


def config(rows=32, cols=32, flow="ws", buffer=32 * 1024, bw=10.0, lanes=0):
    return ArrayConfig(rows, cols, flow, buffer, buffer, buffer, bw, lanes)


@pytest.mark.parametrize("m, k, n, expected", [
    (30 * 30, 3 * 3 * 3, 64, 1987),      # conv 32x32x3 -> 64, 3x3 (hardware.md)
    (30 * 30, 3 * 3 * 64, 64, 35783),    # conv 32x32x64 -> 64, 3x3
    (1, 784, 300, 23749),                # FC 784 -> 300
])
def test_ws_closed_form_matches_scalesim_examples(m, k, n, expected):
    assert compute_cycles_closed_form(m, k, n, 32, 32, "ws") == expected
    # With buffers large enough to need no chunking, the model computes the same.
    cost = gemm_cost(shape(m, k, n), config(buffer=10**9))
    assert cost.compute_cycles == expected and cost.chunks == 1


dims = st.integers(1, 600)
flows = st.sampled_from(["ws", "os", "is"])


def dram_total(cost):
    return cost.a_read_bytes + cost.b_read_bytes + cost.o_write_bytes + cost.psum_spill_bytes


@settings(max_examples=150, deadline=None)
@given(m=dims, k=dims, n=dims, flow=flows, small=st.integers(256, 64 * 1024),
       factor=st.integers(2, 64))
def test_larger_sram_never_increases_dram_bytes(m, k, n, flow, small, factor):
    s = shape(m, k, n, elem=2)
    a = gemm_cost(s, config(flow=flow, buffer=small))
    b = gemm_cost(s, config(flow=flow, buffer=small * factor))
    assert dram_total(b) <= dram_total(a)


@settings(max_examples=150, deadline=None)
@given(m=dims, k=dims, n=dims, flow=flows, buffer=st.integers(64, 10**6))
def test_traffic_is_at_least_compulsory(m, k, n, flow, buffer):
    s = shape(m, k, n, elem=4)
    cost = gemm_cost(s, config(flow=flow, buffer=buffer))
    assert cost.a_read_bytes >= s.a_bytes and cost.b_read_bytes >= s.b_bytes
    assert cost.o_write_bytes == s.o_bytes
    assert cost.a_refetch_bytes == cost.a_read_bytes - s.a_bytes >= 0
    assert cost.cycles >= cost.compute_cycles


@settings(max_examples=150, deadline=None)
@given(m=dims, k=dims, n=dims, flow=flows, rows=st.integers(1, 64), cols=st.integers(1, 64))
def test_wider_array_streams_no_longer(m, k, n, flow, rows, cols):
    """Doubling the columns never lengthens the streaming part (folds x T); only the
    pipeline skew (C cycles per fold) grows, and by no more than the extra columns."""
    narrow = compute_cycles_closed_form(m, k, n, rows, cols, flow)
    wide = compute_cycles_closed_form(m, k, n, rows, 2 * cols, flow)
    fold_cols = {"ws": n, "os": n, "is": m}[flow]
    folds_rows = -(-({"ws": k, "os": m, "is": k}[flow]) // rows)
    folds_narrow = folds_rows * -(-fold_cols // cols)
    folds_wide = folds_rows * -(-fold_cols // (2 * cols))
    assert folds_wide <= folds_narrow
    assert wide <= narrow + folds_wide * cols


def test_regeneration_can_be_the_bottleneck():
    s = shape(64, 512, 512, elem=4)
    fast = gemm_cost(s, config(bw=64.0, lanes=64), regen_values=512 * 512)
    slow = gemm_cost(s, config(bw=64.0, lanes=1), regen_values=512 * 512)
    assert slow.cycles > fast.cycles >= fast.compute_cycles
    assert slow.cycles >= 512 * 512  # one lane: one value per cycle at least


def test_bandwidth_bound_layer_costs_bytes_over_bandwidth():
    # A fully connected layer at batch 1: 4 MB of weights, almost no compute.
    s = shape(1, 1024, 1024, elem=4)
    cost = gemm_cost(s, config(bw=8.0, buffer=10**9))
    assert cost.cycles == pytest.approx(s.b_bytes / 8.0, rel=0.02)
