"""On-chip residency (accelsim.sim.residency): what stays in SRAM between its uses, the
laws of the policy (capacity respected, monotone in capacity, the compulsory floor with
an unbounded SRAM) and the fused weight update."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.cli import main
from accelsim.hw import load_hardware
from accelsim.sim import simulate
from accelsim.sim.residency import Op, Tensor, plan
from accelsim.trace import open_trace

ROOT = Path(__file__).resolve().parents[2]
DENSE = str(ROOT / "traces" / "lenet300-dense.trace")
DROPBACK = str(ROOT / "traces" / "lenet300-dropback25.trace")
STEPS = "300:304"
CAPACITIES = ("16 KiB", "64 KiB", "512 KiB", "4 MiB", "64 MiB", "1 GiB")


def _ops(n: int) -> list[Op]:
    return [Op("fwd", i) for i in range(n)]


def test_a_tensor_stays_on_chip_only_where_it_fits_beside_the_reserve():
    # Three ops; A made by op 0 and used at op 2, B made by op 1 and used at op 2 (the
    # nearer use, ranked first). Capacity 100: op 1 reserves 60, so 60 + 20 + 30 > 100.
    a = Tensor("a", 30, [(0, "o"), (2, "a")])
    b = Tensor("b", 20, [(1, "o"), (2, "b")])
    decided = plan([a, b], _ops(3), [10, 60, 10], capacity=100, policy="nearest_use")
    assert decided.served(2, "b") and decided.served(1, "o")
    assert not decided.served(2, "a") and not decided.served(0, "o")
    roomy = plan([a, b], _ops(3), [10, 60, 10], capacity=110, policy="nearest_use")
    assert roomy.served(2, "a") and roomy.served(2, "b") and roomy.served(0, "o")
    nothing = plan([a, b], _ops(3), [10, 60, 10], capacity=1e9, policy="none")
    assert not any(nothing.on_chip.values())


def test_an_outside_tensor_is_read_from_dram_first_and_weights_wrap_into_the_next_step():
    batch = Tensor("input", 10, [(0, "a"), (2, "a")], external=True)
    weights = Tensor("w", 10, [(0, "b"), (2, "weights"), (2, "weights_write")], wraps=True)
    decided = plan([batch, weights], _ops(3), [0, 0, 0], capacity=100, policy="nearest_use")
    assert not decided.served(0, "a") and decided.served(2, "a")
    assert decided.served(0, "b") and decided.served(2, "weights_write")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_capacity_is_respected_and_residency_grows_with_capacity(data):
    n = data.draw(st.integers(2, 8))
    tensors = []
    for t in range(data.draw(st.integers(1, 6))):
        # Each tensor its own slots, as each GEMM operand is one tensor.
        uses = sorted(set(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4))))
        tensors.append(Tensor(f"t{t}", data.draw(st.integers(1, 50)),
                              [(uses[0], f"o:{t}"), *((u, f"a:{t}") for u in uses[1:])],
                              wraps=data.draw(st.booleans())))
    reserve = [float(data.draw(st.integers(0, 60))) for _ in range(n)]
    small, large = sorted(data.draw(st.integers(1, 200)) for _ in range(2))
    a = plan(tensors, _ops(n), reserve, small, "nearest_use")
    b = plan(tensors, _ops(n), reserve, large, "nearest_use")
    assert all(b.on_chip[key] for key, value in a.on_chip.items() if value)
    for g, held in enumerate(a.held_bytes):  # nothing resident crowds out an op's tiles
        assert held == 0 or held + min(small, reserve[g]) <= small


def _per_step(result) -> dict[str, float]:
    steps = result.totals["training_steps"]
    return {key: result.totals[key] / steps
            for key in ("dram_read_bytes", "dram_write_bytes", "cycles")}


@pytest.mark.parametrize("trace", [DENSE, DROPBACK])
def test_more_sram_never_moves_more_dram_bytes_or_takes_more_cycles(trace):
    base = load_hardware("dropback-edge")
    previous = None
    for capacity in CAPACITIES:
        now = _per_step(simulate(trace, base.replace({"sram.capacity": capacity}),
                                 steps=STEPS))
        if previous is not None:
            for key, value in now.items():
                assert value <= previous[key] * (1 + 1e-12), (capacity, key)
        previous = now


def test_an_unbounded_sram_moves_only_the_compulsory_floor():
    # Everything fits: weights and optimizer state stay across steps, every activation
    # and gradient on chip; the input batch is all that comes from DRAM.
    hw = load_hardware("edge-lpddr4").replace({"sram.capacity": "1 GiB"})
    result = simulate(DENSE, hw, steps=STEPS)
    with open_trace(DENSE) as reader:
        header = reader.header
    first = next(layer for layer in header.layers if layer.kind in ("linear", "conv2d"))
    batch = header.batch_size * first.in_shape[0] * hw.dtypes.activations_bytes
    steps = result.totals["training_steps"]
    assert result.totals["dram_read_bytes"] == pytest.approx(steps * batch)
    assert result.totals["dram_write_bytes"] == 0
    assert result.options["residency"]["resident_segments"] > 0


def test_residency_never_moves_more_than_none_per_traffic_class():
    hw = load_hardware("dropback-edge")
    kept = simulate(DROPBACK, hw, steps=STEPS).totals
    none = simulate(DROPBACK, hw.replace({"sram.residency": "none"}), steps=STEPS).totals
    for key, value in kept.items():
        if key.startswith(("dram_read_bytes", "dram_write_bytes")):
            assert value <= none[key], key
    assert kept["dram_bytes"] < none["dram_bytes"]
    assert kept["macs"] == none["macs"] and kept["regen_values"] == none["regen_values"]


@pytest.mark.parametrize("residency", ["none", "nearest_use"])
def test_a_fused_update_writes_no_weight_gradient(residency):
    hw = load_hardware("dropback-edge").replace({"sram.residency": residency})
    fused = hw.replace({"fusion.weight_update": True})
    plain, merged = (simulate(DROPBACK, h, steps=STEPS) for h in (hw, fused))
    assert plain.by_phase()["bwd_weight"]["dram_write_bytes.gradients"] > 0 or \
        residency != "none"
    assert merged.by_phase()["bwd_weight"]["dram_write_bytes.gradients"] == 0
    assert merged.by_phase()["update"]["dram_read_bytes.gradients"] == 0
    assert merged.totals["dram_write_bytes"] <= plain.totals["dram_write_bytes"]
    if residency == "none":
        assert merged.totals["dram_write_bytes"] < plain.totals["dram_write_bytes"]


def test_an_unknown_residency_policy_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "edge-lpddr4"\n[sram]\nresidency = "belady"\n')
    code = main(["simulate", DENSE, "--hw", str(bad), "--steps", "1:2",
                 "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 1 and "sram.residency" in err and "belady" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_fused_dropback_update_charges_its_on_chip_threshold():
    # Scoring every weight against the previous step's threshold and binning the score
    # for the next one: two vector operations per weight, on the update row.
    hw = load_hardware("dropback-edge")
    plain = simulate(DROPBACK, hw, steps=STEPS)
    fused = simulate(DROPBACK, hw.replace({"fusion.weight_update": True}), steps=STEPS)
    with open_trace(DROPBACK) as reader:
        params = reader.header.params_total
    added = fused.totals["vector_ops"] - plain.totals["vector_ops"]
    assert added == 2 * params * fused.totals["training_steps"]
    assert fused.totals["energy_pj.vector"] > plain.totals["energy_pj.vector"]
