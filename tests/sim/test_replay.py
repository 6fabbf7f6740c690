"""Replay on traces written through the trace API: conservation laws and invariants."""

import json

import numpy as np
import pytest

from accelsim.hw import load_hardware
from accelsim.sim import simulate
from accelsim.sim.results import ENERGY_PARTS, INDEX
from accelsim.trace import LayerInfo, StepRecord, TensorInfo, TraceHeader, TraceWriter

SIZES = [(64, 48), (48, 32), (32, 10)]  # linear layers (in, out)


def mlp_header(batch=16, method="dropback"):
    layers, tensors = [], []
    for i, (fan_in, fan_out) in enumerate(SIZES):
        w, b = len(tensors), len(tensors) + 1
        tensors.append(TensorInfo(w, f"fc{i}.weight", f"fc{i}", "weight", (fan_out, fan_in),
                                  init={"kind": "normal", "std": fan_in ** -0.5}))
        tensors.append(TensorInfo(b, f"fc{i}.bias", f"fc{i}", "bias", (fan_out,),
                                  init={"kind": "constant", "value": 0.0}))
        layers.append(LayerInfo(f"fc{i}", "linear", weight_shape=(fan_out, fan_in),
                                bias_shape=(fan_out,), in_shape=(fan_in,),
                                out_shape=(fan_out,), tensor_ids=[w, b]))
    return TraceHeader(net="mlp", layers=layers, tensors=tensors, method=method,
                       batch_size=batch, optimizer_state_per_weight=1,
                       regen={"name": "test", "version": 1, "seed": 0})


def write_trace(path, header, steps=6, keep=0.1, seed=0):
    """Every weight tensor keeps a random `keep` share (all of it when keep == 1)."""
    rng = np.random.default_rng(seed)
    with TraceWriter(str(path), header, keyframe_every=4, chunk_steps=2) as writer:
        for step in range(1, steps + 1):
            masks = {}
            for t in header.tensors:
                if keep < 1 and t.role == "weight":
                    masks[t.tensor_id] = rng.random(t.numel) < keep
            writer.append(StepRecord(step=step, loss=1.0, lr=0.1, stored_masks=masks))
    return str(path)


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    folder = tmp_path_factory.mktemp("traces")
    return {
        "dense": write_trace(folder / "dense.trace", mlp_header(method="dense"), keep=1.0),
        "sparse": write_trace(folder / "sparse.trace", mlp_header()),
        "sparse_b32": write_trace(folder / "sparse32.trace", mlp_header(batch=32)),
    }


@pytest.fixture(scope="module")
def edge():
    # The traffic laws below count every operand through DRAM (no on-chip residency);
    # tests/sim/test_residency.py covers what residency keeps on chip.
    return load_hardware("dropback-edge").replace({"sram.residency": "none"})


def test_fetched_plus_regenerated_equals_weight_reads(traces, edge):
    hw = edge.replace({"storage.format": "coo"})
    result = simulate(traces["sparse"], hw, phases=["fwd"])
    numel = sum(i * o for i, o in SIZES)
    value_bytes = hw.dtypes.weights_bytes
    values = result.rows[..., INDEX["dram_read_bytes.weights"]].sum(axis=(1, 2)) / value_bytes
    regen = result.rows[..., INDEX["regen_values"]].sum(axis=(1, 2))
    assert np.allclose(values + regen, numel)  # every weight read once per forward
    assert (regen > 0.8 * numel).all()


def test_sparse_weight_traffic_never_exceeds_dense(traces, edge):
    for fmt in ("dense", "bitmap", "csr", "coo"):
        hw = edge.replace({"storage.format": fmt})
        dense = simulate(traces["dense"], hw).totals
        sparse = simulate(traces["sparse"], hw).totals
        assert sparse["weight_dram_read_bytes"] <= dense["weight_dram_read_bytes"], fmt


def test_energy_total_is_the_sum_of_components(traces, edge):
    totals = simulate(traces["sparse"], edge).totals
    parts = sum(totals[f"energy_pj.{p}"] for p in ENERGY_PARTS)
    assert totals["energy_pj"] == pytest.approx(parts, rel=1e-12)
    assert all(totals[f"energy_pj.{p}"] >= 0 for p in ENERGY_PARTS)
    assert totals["energy_pj.regen"] > 0 and totals["energy_pj.dram"] > 0


def test_doubling_the_batch_doubles_activations_not_forward_weights(traces, edge):
    hw = edge.replace({"sram.capacity": "16 MiB"})  # no capacity effects
    one = simulate(traces["sparse"], hw, phases=["fwd"]).totals
    two = simulate(traces["sparse_b32"], hw, phases=["fwd"]).totals
    for key in ("dram_read_bytes.inputs", "dram_write_bytes.outputs"):
        assert two[key] == pytest.approx(2 * one[key])
    assert two["weight_dram_read_bytes"] == one["weight_dram_read_bytes"]
    assert two["macs"] == 2 * one["macs"]


def test_without_regen_unit_pruned_weights_are_fetched(traces, edge):
    with_unit = simulate(traces["sparse"], edge).totals
    without = simulate(traces["sparse"], edge.replace({"regen": False})).totals
    dense = simulate(traces["dense"], edge).totals
    assert without["regen_values"] == 0
    assert without["weight_dram_read_bytes"] == dense["weight_dram_read_bytes"]
    assert with_unit["weight_dram_read_bytes"] < without["weight_dram_read_bytes"]


def test_same_inputs_give_byte_identical_json(traces, edge):
    a = simulate(traces["sparse"], edge).to_json()
    b = simulate(traces["sparse"], edge).to_json()
    assert a == b
    result = json.loads(a)
    for key in ("cycles", "energy_pj", "dram_read_bytes", "dram_write_bytes",
                "weight_dram_read_bytes", "regen_values", "macs"):
        assert key in result["totals"]
    row = result["layers"][0]
    assert {"name", "phase", "compute_cycles", "cycles", "dram_read_bytes.weights"} <= set(row)


def test_steps_range_and_phases(traces, edge):
    part = simulate(traces["sparse"], edge, steps="2:4")
    assert list(part.steps) == [2, 3]
    fwd = simulate(traces["sparse"], edge, phases=["fwd"])
    assert fwd.phases == ["fwd"]
    assert fwd.totals["macs"] == 6 * 16 * sum(i * o for i, o in SIZES)


def test_pruned_weights_are_zeros_not_regenerated(tmp_path, edge):
    """A pruning method's unstored weights are zeros: the sparse format decodes them for
    free, with or without a regeneration unit; only DropBack regenerates."""
    pruned = write_trace(tmp_path / "swd.trace", mlp_header(method="swd"))
    dropback = write_trace(tmp_path / "db.trace", mlp_header(method="dropback"))
    for hw in (edge, edge.replace({"regen": False})):
        zeros = simulate(pruned, hw).totals
        assert zeros["regen_values"] == 0 and zeros["energy_pj.regen"] == 0
        with_regen = simulate(dropback, edge).totals
        # Same masks, same format: the same weight bytes whoever fills the gaps.
        assert zeros["weight_dram_read_bytes"] == with_regen["weight_dram_read_bytes"]
    assert simulate(dropback, edge).totals["regen_values"] > 0
