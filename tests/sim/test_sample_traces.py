"""The sample traces (LeNet-300-100 on digits, dense and DropBack 25x, 345 steps) and a
freshly recorded filter-pruning run, replayed against formulas written out here.

Forward-phase weight traffic (every weight read once per step: the trace's GEMMs fit the
buffers, which each test checks with ``refetch_bytes == 0``). With ``v`` value bits,
``N_t`` weights in tensor t and ``k_t(s)`` of them stored at step s (from the trace's
masks), the bytes of one step are

    dense (every weight stored)   sum_t N_t * v / 8
    bitmap                        sum_t (N_t + k_t * v) / 8
    csr, b-bit relative index     sum_t (k_t + p_t) * (v + b) / 8,
                                  p_t = sum over stored weights of floor(gap / 2**b),
                                  gap = zeros since the previous stored weight
    coo, b-bit index              sum_t k_t * (v + b) / 8   (b = ceil(log2 N_t) if auto)

and the unstored weights come from the regen unit. For coo with a fixed b (no padding)
the dense/DropBack ratio of a step is exactly (N / k) * v / (v + b), N = sum_t N_t,
k = sum_t k_t: about 25 * 32 / 48 for the 25x trace with b = 16. Only the GEMM weights
(``role == "weight"``) are read in the forward pass; biases move in the update pass.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest

from accelsim.hw import load_hardware
from accelsim.sim import simulate
from accelsim.sim.hardware import sim_params
from accelsim.sim.replay import replay_records
from accelsim.sim.results import COUNTER_NAMES, INDEX, TRAFFIC_CLASSES, counter
from accelsim.trace import TraceWriter, open_trace

TRACES = Path(__file__).resolve().parents[2] / "traces"
DENSE = str(TRACES / "lenet300-dense.trace")
DROPBACK = str(TRACES / "lenet300-dropback25.trace")
STEPS = 345


@pytest.fixture(scope="module")
def edge():
    # Traffic formulas: every operand through DRAM (tests/sim/test_residency.py: on chip).
    return load_hardware("dropback-edge").replace({"sram.residency": "none"})


@pytest.fixture(scope="module")
def dropback_masks():
    """Per step: {weight tensor id: stored mask} of the GEMM weights, and the header."""
    with open_trace(DROPBACK) as reader:
        header = reader.header
        weights = [t.tensor_id for t in header.tensors if t.role == "weight"]
        steps = [(r.step, {tid: r.stored_masks[tid] for tid in weights})
                 for r in reader.iter_steps(masks=True)]
    return header, steps


def fillers(mask: np.ndarray, index_bits: int) -> int:
    indices = np.flatnonzero(mask)
    gaps = np.diff(indices, prepend=-1) - 1
    return int((gaps // 2**index_bits).sum())


def step_bits(fmt: str, index_bits: int | None, mask: np.ndarray, v: int) -> int:
    """DRAM bits of one tensor stored in ``fmt`` (the formulas of the module doc)."""
    n, k = mask.size, int(mask.sum())
    if fmt == "dense" or k == n:
        return n * v
    if fmt == "bitmap":
        return n + k * v
    if fmt == "csr":
        return (k + fillers(mask, index_bits)) * (v + index_bits)
    return k * (v + (index_bits or math.ceil(math.log2(n))))


def step_bytes(fmt: str, index_bits: int | None, mask: np.ndarray, v: int) -> tuple[int, bool]:
    """(DRAM bytes, kept sparse?): the format's bits rounded up to whole bytes per tensor,
    unless that is no smaller than plain values, when the tensor is kept dense."""
    dense = mask.size * v // 8
    sparse = -(-step_bits(fmt, index_bits, mask, v) // 8)
    return (sparse, True) if sparse < dense else (dense, False)


def fwd(path: str, hw):
    result = simulate(path, hw, phases=["fwd"])
    assert result.totals["refetch_bytes"] == 0  # every weight read exactly once
    return result


def test_trace_is_what_the_formulas_assume(dropback_masks):
    header, steps = dropback_masks
    assert len(steps) == STEPS and header.method == "dropback"
    assert [t.numel for t in header.tensors if t.role == "weight"] == [235200, 30000, 1000]
    stored = [sum(int(m.sum()) for m in masks.values()) for _, masks in steps]
    assert max(stored) <= header.method_params["budget"]  # biases share the budget


@pytest.mark.parametrize("fmt, index_bits", [
    ("coo", 16), ("coo", None), ("csr", 4), ("csr", 8), ("bitmap", None)])
def test_dropback_weight_traffic_matches_the_storage_formula(edge, dropback_masks, fmt,
                                                             index_bits):
    changes = {"storage.format": fmt}
    if index_bits is not None:
        changes["storage.index_bits"] = index_bits
    hw = edge.replace(changes)
    v = 8 * hw.dtypes.weights_bytes
    header, steps = dropback_masks
    numel = sum(t.numel for t in header.tensors if t.role == "weight")
    dense = fwd(DENSE, hw).per_step()["weight_dram_read_bytes"]
    sparse = fwd(DROPBACK, hw)
    per_step = sparse.per_step()["weight_dram_read_bytes"]
    regen = sparse.rows[..., INDEX["regen_values"]].sum(axis=(1, 2))
    assert dense == [numel * v / 8] * STEPS
    for i, (step, masks) in enumerate(steps):
        assert sparse.steps[i] == step
        costs = [step_bytes(fmt, index_bits, m, v) for m in masks.values()]
        expected = sum(cost for cost, _ in costs)
        assert per_step[i] == pytest.approx(expected, rel=1e-12), step
        unstored = sum(m.size - int(m.sum())
                       for m, (_, sparse) in zip(masks.values(), costs, strict=True) if sparse)
        assert regen[i] == unstored
        stored = sum(int(m.sum()) for m in masks.values())
        if fmt == "coo" and index_bits is not None and all(k for _, k in costs):
            # no padding and every tensor sparse: the ratio is exact
            ratio = dense[i] / per_step[i]
            assert ratio == pytest.approx(numel / stored * v / (v + index_bits), rel=1e-12)
    if fmt == "coo" and index_bits == 16:
        ratio = sum(dense) / sum(per_step)
        assert ratio == pytest.approx(25 * 32 / 48, rel=0.01)  # ~16.7x, not 25x


def test_dropback_on_the_preset_saves_what_the_csr_formula_says(edge, dropback_masks):
    """dropback-edge as shipped: relative-index CSR at its own index width."""
    header, steps = dropback_masks
    v, b = 8 * edge.dtypes.weights_bytes, edge.storage.index_bits
    expected = sum(step_bits("csr", b, m, v) for _, masks in steps for m in masks.values())
    totals = fwd(DROPBACK, edge).totals
    assert totals["weight_dram_read_bytes"] == pytest.approx(expected / 8, rel=1e-12)
    dense = fwd(DENSE, edge).totals["weight_dram_read_bytes"]
    assert dense / totals["weight_dram_read_bytes"] > 10


def test_without_regen_unit_dropback_costs_exactly_dense(edge):
    hw = edge.replace({"regen": False})
    sparse = simulate(DROPBACK, hw)
    dense = simulate(DENSE, hw)
    assert sparse.totals["regen_values"] == 0
    for operand in TRAFFIC_CLASSES:  # every byte of every operand, per step
        for key in (f"dram_read_bytes.{operand}", f"dram_write_bytes.{operand}"):
            np.testing.assert_array_equal(sparse.rows[..., INDEX[key]],
                                          dense.rows[..., INDEX[key]], err_msg=key)
    assert sparse.totals["weight_dram_read_bytes"] == dense.totals["weight_dram_read_bytes"]


@pytest.mark.parametrize("preset", ["dropback-edge", "edge-lpddr4", "datacenter-hbm2"])
def test_dense_trace_regenerates_nothing(preset):
    hw = load_hardware(preset).replace({"regen.lanes": 16, "storage.format": "csr",
                                        "sram.residency": "none"})
    totals = simulate(DENSE, hw).totals
    assert totals["regen_values"] == 0 and totals["energy_pj.regen"] == 0
    assert totals["dram_read_bytes.metadata"] == 0
    with open_trace(DENSE) as reader:
        weights = sum(t.numel for t in reader.header.tensors if t.role == "weight")
        params = reader.header.params_total
    v = hw.dtypes.weights_bytes
    # fwd + bwd_data (no bwd_data for the first layer: 235200 weights) + update read
    per_step = (weights + (weights - 235200)) * v + params * v
    assert totals["dram_read_bytes.weights"] == pytest.approx(STEPS * per_step, rel=1e-12)


def test_swd_like_dense_training_is_never_cheaper_than_dense(edge, tmp_path):
    """SWD stores every weight while it trains (its savings come after finalize): a trace
    with SWD's method and hyperparameters and explicit all-True stored masks must cost
    what dense training costs, step by step, counter by counter."""
    with open_trace(DENSE) as reader:
        header = copy.deepcopy(reader.header)
        records = list(reader.iter_steps(masks=True))
    header.method = "swd"
    header.method_params = {"target": 0.9, "criterion": "magnitude", "scope": "global",
                            "structured": False, "kept_weights": 26661}
    path = str(tmp_path / "swd.trace")
    with TraceWriter(path, header) as writer:
        for record in records:
            record.entered, record.left = {}, {}
            writer.append(record)  # full masks, every weight stored
    swd = simulate(path, edge)
    dense = simulate(DENSE, edge)
    assert swd.trace["method"] == "swd"
    cost = [INDEX[name] for name in COUNTER_NAMES]
    assert (swd.rows[..., cost] >= dense.rows[..., cost]).all()
    np.testing.assert_array_equal(swd.rows, dense.rows)
    in_memory = replay_records(header, records, sim_params(edge))
    np.testing.assert_array_equal(in_memory.rows, dense.rows)


# --- filter pruning ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pruned_run(tmp_path_factory):
    """LeNet-5 on digits, 2 epochs of batch 128 (24 steps), 50% of each conv's filters
    pruned in 5 events (steps 2, 5, 8, 11, 14)."""
    pytest.importorskip("torch")
    from accelsim.training.loop import TrainConfig
    from accelsim.training.recorder import record

    path = str(tmp_path_factory.mktemp("fp") / "lenet5-fp.trace")
    result = record(TrainConfig(net="lenet-5", method="filter_pruning", compression=2,
                                epochs=2, batch_size=128), path, progress=False)
    assert result.method_params["event_steps"] == [2, 5, 8, 11, 14]
    with open_trace(path) as reader:
        header = reader.header
        alive = [(r.step, {tid: int(m.sum()) for tid, m in r.structure_masks.items()})
                 for r in reader.iter_steps()]
    return path, header, alive


def test_filter_pruning_shrinks_macs_and_traffic_with_the_live_filters(edge, pruned_run):
    path, header, alive = pruned_run
    result = simulate(path, edge)
    layers = {info.name: info for info in header.layers}
    convs = [info for info in header.layers if info.kind == "conv2d"]
    linears = [info for info in header.layers if info.kind == "linear"]
    assert len(convs) == 2 and len(linears) == 3
    c1, c2, fc1 = convs[0], convs[1], linears[0]
    assert c2.in_shape[0] == c1.out_shape[0]
    per_channel = fc1.in_shape[0] // c2.out_shape[0]  # pooled pixels per channel (5 x 5)
    assert per_channel * c2.out_shape[0] == fc1.in_shape[0]
    batch = header.batch_size
    v, act = edge.dtypes.weights_bytes, edge.dtypes.activations_bytes
    fwd_i = result.phases.index("fwd")
    row = {name: result.layers.index(name) for name in layers if layers[name].tensor_ids}
    live_first, live_last = alive[0][1], alive[-1][1]
    assert live_first[c1.tensor_ids[0]] == 6 and live_first[c2.tensor_ids[0]] == 16
    assert live_last[c1.tensor_ids[0]] == 3 and live_last[c2.tensor_ids[0]] == 8
    events = 0
    for s, (step, live) in enumerate(alive):
        assert result.steps[s] == step
        k1, k2 = live[c1.tensor_ids[0]], live[c2.tensor_ids[0]]
        events += s > 0 and (k1, k2) != (alive[s - 1][1][c1.tensor_ids[0]],
                                          alive[s - 1][1][c2.tensor_ids[0]])
        kh1 = math.prod(c1.weight_shape[2:])
        kh2 = math.prod(c2.weight_shape[2:])
        expected = {
            # conv1: k1 live filters over 1 input channel
            c1.name: (batch * math.prod(c1.out_shape[1:]) * kh1 * c1.in_shape[0] * k1,
                      k1 * c1.in_shape[0] * kh1, c1.in_shape[0] * math.prod(c1.in_shape[1:])),
            # conv2: k2 live filters over the k1 live channels of conv1
            c2.name: (batch * math.prod(c2.out_shape[1:]) * kh2 * k1 * k2, k2 * k1 * kh2,
                      k1 * math.prod(c2.in_shape[1:])),
            # fc1: its inputs are conv2's live channels, pooled and flattened
            fc1.name: (batch * fc1.out_shape[0] * k2 * per_channel,
                       fc1.out_shape[0] * k2 * per_channel, k2 * per_channel),
        }
        for name, (macs, weights, inputs) in expected.items():
            counters = result.rows[s, row[name], fwd_i]
            assert counter(counters, "macs") == macs, (step, name)
            assert counters[INDEX["dram_read_bytes.weights"]] == weights * v, (step, name)
            assert counters[INDEX["dram_read_bytes.metadata"]] == 0
            assert counters[INDEX["dram_read_bytes.inputs"]] == pytest.approx(
                batch * inputs * act, rel=1e-12), (step, name)
        # MACs and weight bytes in proportion to the live filters (conv1: k1 / 6)
        first = result.rows[0, row[c1.name], fwd_i]
        now = result.rows[s, row[c1.name], fwd_i]
        assert counter(now, "macs") / counter(first, "macs") == pytest.approx(k1 / 6)
        assert (now[INDEX["dram_read_bytes.weights"]]
                / first[INDEX["dram_read_bytes.weights"]]) == pytest.approx(k1 / 6)
    assert events == 5
    totals = result.totals
    assert totals["regen_values"] == 0 and totals["energy_pj.regen"] == 0


def test_filter_pruning_updates_only_live_filters(edge, pruned_run):
    """The update pass streams the live filters of a pruned conv (weights and bias)."""
    path, header, alive = pruned_run
    result = simulate(path, edge, phases=["update"])
    v, grad = edge.dtypes.weights_bytes, edge.dtypes.gradients_bytes
    pruned_layers = [info for info in header.layers
                     if info.tensor_ids and all(t in alive[0][1] for t in info.tensor_ids)]
    assert [info.kind for info in pruned_layers] == ["conv2d", "conv2d"]
    for s, (step, live) in enumerate(alive):
        for info in pruned_layers:
            expected = sum(header.tensor(tid).numel // header.tensor(tid).structure_size
                           * live[tid] for tid in info.tensor_ids)
            counters = result.rows[s, result.layers.index(info.name), 0]
            assert counters[INDEX["dram_read_bytes.weights"]] == expected * v, (step, info.name)
            assert counters[INDEX["dram_write_bytes.weights"]] == expected * v
            assert counters[INDEX["dram_read_bytes.gradients"]] == expected * grad
            assert counters[INDEX["dram_read_bytes.metadata"]] == 0
    assert result.totals["regen_values"] == 0
