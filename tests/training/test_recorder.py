"""TraceRecorder: a real (tiny) training run written and read back exactly."""

import numpy as np
import pytest
import torch
from torch import nn

from accelsim import regen
from accelsim.errors import ConfigError
from accelsim.trace import open_trace, verify
from accelsim.training.methods import DropBack
from accelsim.training.recorder import TraceRecorder


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 3),
    )


def run_steps(model, optimizer, recorder, steps):
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 1, 8, 8, generator=gen), torch.randint(0, 3, (8,), generator=gen)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        recorder.log(loss=loss.item())
        losses.append(loss.item())
    return losses


def test_dropback_run_reads_back_masks_scalars_and_network(tmp_path):
    model = small_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    method = DropBack(model, budget=60, seed=4)
    method.attach(optimizer)
    path = tmp_path / "run.trace"
    expected_masks, expected_changed = [], []
    with TraceRecorder(model, optimizer, str(path), method=method, net="small-cnn",
                       activation_density=True) as recorder:
        for _ in range(7):
            before = {e.name: e.param.detach().clone() for e in method.entries}
            losses = run_steps(model, optimizer, recorder, 1)
            expected_masks.append({e.tensor_id: method.stored_mask(e.name).flatten().numpy()
                                   for e in method.entries})
            expected_changed.append({e.tensor_id: int((e.param != before[e.name]).sum())
                                     for e in method.entries})
        recorder.log(accuracy=50.0)
    assert verify(str(path)).status == "intact"
    with open_trace(str(path)) as trace:
        header = trace.header
        assert header.net == "small-cnn" and header.method == "dropback"
        assert header.batch_size == 8 and header.optimizer == "sgd"
        assert header.optimizer_state_per_weight == 1  # the momentum buffer
        assert header.regen["seed"] == 4 and header.regen["name"] == regen.GENERATOR_NAME
        kinds = [layer.kind for layer in header.layers]
        assert kinds == ["conv2d", "batchnorm2d", "relu", "maxpool2d", "flatten", "linear"]
        conv = header.layers[0]
        assert conv.in_shape == (1, 8, 8) and conv.out_shape == (4, 8, 8)
        assert conv.padding == (1, 1) and conv.tensor_ids == [0, 1]
        assert header.tensors[0].init == {"kind": "normal", "std": regen.init_std(9)}
        records = list(trace.iter_steps())
        assert [r.step for r in records] == list(range(1, 8))
        assert records[-1].loss == pytest.approx(losses[-1])
        assert records[-1].accuracy == 50.0 and np.isnan(records[0].accuracy)
        expected = zip(expected_masks, expected_changed, strict=True)
        for step, (masks, changed) in enumerate(expected, 1):
            for tid, mask in masks.items():
                assert np.array_equal(trace.stored_mask(step, tid), mask)
            assert records[step - 1].changed == changed
        density = records[0].activation_density
        assert 0.0 < density[2] <= 1.0 and np.isnan(density[0])


def test_dense_run_with_record_every(tmp_path):
    model = small_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "dense.trace"
    with TraceRecorder(model, optimizer, str(path), record_every=3) as recorder:
        run_steps(model, optimizer, recorder, 10)
    with open_trace(str(path)) as trace:
        assert trace.header.method == "dense" and trace.header.record_every == 3
        assert [r.step for r in trace.iter_steps()] == [3, 6, 9]
        assert trace.stored_mask(9, 0).all()


def test_recorder_refuses_existing_file_and_method_attached_late(tmp_path):
    path = tmp_path / "exists.trace"
    path.write_bytes(b"precious")
    model = small_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ConfigError, match="already exists"):
        TraceRecorder(model, optimizer, str(path))
    assert path.read_bytes() == b"precious"
    other = tmp_path / "late.trace"
    recorder = TraceRecorder(model, optimizer, str(other), method=DropBack(model, budget=10))
    recorder.method.attach(optimizer)  # after the recorder: its hook would run first
    with pytest.raises(ConfigError, match="attach the method"):
        run_steps(model, optimizer, recorder, 1)
    recorder.close()


def test_exception_in_loop_leaves_a_readable_truncated_trace(tmp_path):
    model = small_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "crash.trace"
    with pytest.raises(RuntimeError, match="boom"):
        with TraceRecorder(model, optimizer, str(path)) as recorder:
            run_steps(model, optimizer, recorder, 4)
            raise RuntimeError("boom")
    report = verify(str(path))
    assert report.status == "truncated" and report.num_steps == 4
