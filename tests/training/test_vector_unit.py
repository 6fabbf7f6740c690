"""The vector unit: every non-GEMM op of a captured step (norms, activations, pooling,
adds, the loss, the optimizer's arithmetic) costed from the workload graph, counted by
hand on a tiny net; descriptions without one say the ops are not costed."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from accelsim.cli import main
from accelsim.hw import load_hardware
from accelsim.sim import simulate
from accelsim.trace import TraceReader
from accelsim.training.recorder import TraceRecorder

BATCH, FIN, HIDDEN, CLASSES = 3, 4, 8, 2


def _recorded(path, model, optimizer, x, y) -> str:
    """Two SGD steps of ``model`` on one batch, recorded with the capture."""
    with TraceRecorder(model, optimizer, str(path)):
        for _ in range(2):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    return str(path)


@pytest.fixture(scope="module")
def mlp_trace(tmp_path_factory):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(FIN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES))
    return _recorded(tmp_path_factory.mktemp("vector") / "mlp.trace", model,
                     torch.optim.SGD(model.parameters(), lr=0.1),
                     torch.randn(BATCH, FIN), torch.randint(0, CLASSES, (BATCH,)))


@pytest.fixture(scope="module")
def conv_trace(tmp_path_factory):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 2))
    return _recorded(tmp_path_factory.mktemp("vector") / "conv.trace", model,
                     torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                     torch.randn(2, 3, 8, 8), torch.randint(0, 2, (2,)))


def _ops_of(trace: str) -> list[dict]:
    with TraceReader(trace) as reader:
        return reader.header.workload["ops"]


def test_relu_and_its_derivative_cost_one_operation_per_element(mlp_trace):
    # residency none: every vector op's tensors go through DRAM (the tiny net fits on chip)
    through_dram = load_hardware("edge-lpddr4").replace({"sram.residency": "none"})
    result = simulate(mlp_trace, through_dram)
    relu = [row for row in result.by_layer() if row["name"] == "1"]
    by_phase = {row["phase"]: row for row in relu}
    steps = result.totals["training_steps"]
    # relu forward: BATCH x HIDDEN outputs; threshold_backward: as many gradients
    assert by_phase["fwd"]["vector_ops.activations"] == pytest.approx(steps * BATCH * HIDDEN)
    assert by_phase["bwd_data"]["vector_ops.gradients"] == pytest.approx(
        steps * BATCH * HIDDEN)
    # its tensors go to DRAM and back (fp16 activations and gradients on edge-lpddr4)
    assert by_phase["fwd"]["dram_read_bytes.inputs"] == pytest.approx(
        steps * BATCH * HIDDEN * 2)
    lanes = load_hardware("edge-lpddr4").vector.lanes
    assert by_phase["fwd"]["compute_cycles"] == pytest.approx(
        steps * -(-BATCH * HIDDEN // lanes))
    # With residency the whole tiny step fits in 512 KiB: the same ops move nothing.
    kept = simulate(mlp_trace, load_hardware("edge-lpddr4"))
    row = next(r for r in kept.by_layer() if r["name"] == "1" and r["phase"] == "fwd")
    assert row["dram_read_bytes"] == 0 and row["vector_ops"] == by_phase["fwd"]["vector_ops"]


def test_norms_activations_pooling_and_the_optimizer_all_cost_energy(conv_trace):
    hw = load_hardware("edge-lpddr4")
    result = simulate(conv_trace, hw)
    totals = result.totals
    assert totals["vector_ops"] > 0 and totals["energy_pj.vector"] > 0
    phases = result.by_phase()
    for phase in ("fwd", "bwd_data", "update"):
        assert phases[phase]["vector_ops"] > 0, phase
    # priced at one MAC of each kind's dtype (fp16 activations and gradients, fp32 state)
    expected = (totals["vector_ops.activations"] * hw.array.mac_energy_pj("fp16")
                + totals["vector_ops.gradients"] * hw.array.mac_energy_pj("fp16")
                + totals["vector_ops.optimizer_state"] * hw.array.mac_energy_pj("fp32"))
    assert totals["energy_pj.vector"] == pytest.approx(expected)
    names = {op["op"].split(".")[1] for op in _ops_of(conv_trace)}
    assert {"native_batch_norm", "relu", "avg_pool2d"} <= names
    assert result.options["vector"]["costed"] is True


def test_without_a_vector_unit_the_ops_are_said_not_to_be_costed(conv_trace, tmp_path,
                                                                 capsys):
    bare = load_hardware("eyeriss-like")
    result = simulate(conv_trace, bare)
    assert result.totals["vector_ops"] == 0 and result.totals["energy_pj.vector"] == 0
    assert result.options["vector"]["costed"] is False
    assert result.options["vector"]["ops"] > 0
    code = main(["simulate", conv_trace, "--hw", "eyeriss-like",
                 "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 0 and "has no [vector] unit" in err and "not costed" in err


def test_a_slower_vector_clock_takes_more_array_cycles(conv_trace):
    hw = load_hardware("edge-lpddr4")
    half = hw.replace({"vector.clock": "400 MHz"})  # the array runs at 800 MHz
    fast, slow = (simulate(conv_trace, h).by_phase()["update"] for h in (hw, half))
    assert slow["vector_ops"] == fast["vector_ops"]
    assert slow["compute_cycles"] > fast["compute_cycles"]


def test_bad_vector_sections_are_one_line(tmp_path, conv_trace, capsys):
    cases = {
        "zero.toml": ('extends = "edge-lpddr4"\n[vector]\nlanes = 0\n', "vector.lanes"),
        "fused.toml": ('extends = "eyeriss-like"\n[fusion]\nweight_update = true\n',
                       "fusion.weight_update"),
    }
    for name, (text, key) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        code = main(["simulate", conv_trace, "--hw", str(path),
                     "--out", str(tmp_path / "r.json")])
        err = capsys.readouterr().err
        assert code == 1 and key in err and "Traceback" not in err, name
        assert len(err.strip().splitlines()) == 1, err


def test_elementwise_fusion_reads_a_gemms_output_on_chip(mlp_trace):
    hw = load_hardware("edge-lpddr4").replace({"sram.residency": "none"})
    plain = simulate(mlp_trace, hw)
    fused = simulate(mlp_trace, hw.replace({"fusion.elementwise": True}))
    relu = {row["phase"]: row for row in fused.by_layer() if row["name"] == "1"}
    before = {row["phase"]: row for row in plain.by_layer() if row["name"] == "1"}
    # ReLU reads the linear layer's output tile on chip; its own output is still written
    assert before["fwd"]["dram_read_bytes.inputs"] > 0
    assert relu["fwd"]["dram_read_bytes.inputs"] == 0
    assert relu["fwd"]["dram_write_bytes.outputs"] == before["fwd"]["dram_write_bytes.outputs"]
    assert fused.totals["vector_ops"] == plain.totals["vector_ops"]
    for key in ("dram_read_bytes", "dram_write_bytes"):
        assert fused.totals[key] <= plain.totals[key], key
    assert fused.totals["dram_read_bytes"] < plain.totals["dram_read_bytes"]


def test_the_optimizer_arithmetic_is_counted_once(conv_trace):
    # With a vector unit the update pass's own compute is the vector rows', not the PEs'.
    result = simulate(conv_trace, load_hardware("edge-lpddr4"))
    lanes = load_hardware("edge-lpddr4").vector.lanes
    update = [row for row in result.by_layer() if row["phase"] == "update"]
    passes = [row for row in update if row["vector_ops"] == 0]
    assert passes and all(row["compute_cycles"] == 0 for row in passes)
    vector = sum(row["compute_cycles"] for row in update if row["vector_ops"] > 0)
    assert vector >= result.by_phase()["update"]["vector_ops"] / lanes
