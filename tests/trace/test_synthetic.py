"""Synthetic ResNet-18 header and DropBack-like traces (accelsim.trace.synthetic)."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.trace import open_trace, verify
from accelsim.trace.synthetic import (
    churn_schedule,
    resnet18_header,
    swaps_per_step,
    write_synthetic_dropback,
)

TRACKED = 50_000
STEPS = 20


@pytest.fixture(scope="module")
def header():
    return resnet18_header()


@pytest.fixture(scope="module")
def trace(tmp_path_factory, header):
    path = tmp_path_factory.mktemp("synthetic") / "resnet18.trace"
    written = write_synthetic_dropback(path, header, STEPS, tracked=TRACKED, seed=3,
                                       keyframe_every=8)
    return path, written


def test_header_matches_torch_resnet18(header):
    torch = pytest.importorskip("torch")
    from torch import nn

    from accelsim.training.nets import build_net
    from accelsim.training.params import parameter_table

    assert header.params_total == 11_173_962
    model = build_net("resnet-18", (3, 32, 32), 10)
    table = parameter_table(model)
    assert [(t.tensor_id, t.name, t.layer, t.role, t.shape) for t in header.tensors] == [
        (e.tensor_id, e.name, e.layer, e.role, tuple(e.param.shape)) for e in table]

    seen = []
    kinds = {nn.Conv2d: "conv2d", nn.BatchNorm2d: "batchnorm2d", nn.Linear: "linear"}

    def hook(name):
        def record(module, inputs, output):
            seen.append((name, kinds[type(module)], tuple(module.weight.shape),
                         tuple(inputs[0].shape[1:]), tuple(output.shape[1:])))
        return record

    for name, module in model.named_modules():
        if type(module) in kinds:
            module.register_forward_hook(hook(name))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, 32, 32))
    ours = [(layer.name, layer.kind, layer.weight_shape, layer.in_shape, layer.out_shape)
            for layer in header.layers if layer.kind in kinds.values()]
    assert ours == seen
    owners = {t.tensor_id: t.layer for t in header.tensors}
    for layer in header.layers:
        assert all(owners[tid] == layer.name for tid in layer.tensor_ids)
    assert sorted(tid for layer in header.layers for tid in layer.tensor_ids) == list(
        range(len(header.tensors)))


def test_schedule_is_geometric():
    fractions = churn_schedule(5, 0.05, 0.0005)
    assert fractions[0] == pytest.approx(0.05)
    assert fractions[-1] == pytest.approx(0.0005)
    assert np.allclose(fractions[1:] / fractions[:-1], 0.1 ** 0.5)
    swaps = swaps_per_step(5, 1000, 0.05, 0.0005)
    assert swaps.tolist() == [0, 16, 5, 2, 0]


def test_trace_keeps_budget_and_churn(trace):
    path, written = trace
    assert verify(path).status == "intact"
    assert written.method == "dropback"
    assert written.method_params["budget"] == TRACKED
    assert written.regen["name"] == "synthetic"
    expected = swaps_per_step(STEPS, TRACKED)
    with open_trace(path) as reader:
        assert reader.num_steps == STEPS
        assert reader.steps[0] == 1 and reader.steps[-1] == STEPS
        assert reader.stored_counts().sum(axis=1).tolist() == [TRACKED] * STEPS
        previous = None
        for i, record in enumerate(reader.iter_steps(masks=True)):
            mask = np.concatenate([record.stored_masks[t.tensor_id].ravel()
                                   for t in written.tensors])
            assert int(mask.sum()) == TRACKED
            if previous is not None:
                came = sum(v.size for v in record.entered.values())
                went = sum(v.size for v in record.left.values())
                assert came == went == expected[i]
                assert int((mask & ~previous).sum()) == came
                assert int((previous & ~mask).sum()) == went
            previous = mask
    assert expected[1] == round(0.05 * TRACKED * (0.0001 / 0.05) ** (1 / (STEPS - 1)))


def test_same_seed_same_trace(tmp_path, header):
    a, b = tmp_path / "a.trace", tmp_path / "b.trace"
    write_synthetic_dropback(a, header, 3, tracked=1000, seed=5)
    write_synthetic_dropback(b, header, 3, tracked=1000, seed=5)
    assert a.read_bytes() == b.read_bytes()


def test_bad_arguments(tmp_path, header):
    with pytest.raises(ValueError):
        write_synthetic_dropback(tmp_path / "x.trace", header, 3, tracked=0)
    with pytest.raises(ValueError):
        write_synthetic_dropback(tmp_path / "x.trace", header, 3, churn_end=0.0)


def test_replay_regenerates(trace):
    from accelsim.sim import simulate

    path, _ = trace
    result = simulate(str(path), "dropback-edge", steps="1:4")
    assert result.steps.tolist() == [1, 2, 3]
    assert result.training["stored_weights"] == [TRACKED] * 3
    totals = result.totals
    assert totals["regen_values"] > 0
    assert totals["cycles"] > 0


def test_module_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, accelsim.trace.synthetic as s; s.resnet18_header(); "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
