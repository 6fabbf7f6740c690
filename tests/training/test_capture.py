"""Dispatch-level capture: simulated matmul MACs per optimizer step against
torch.utils.flop_counter on training loops of several shapes (tiny nets, few steps)."""

import json
import math
import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations, prune
from torch.utils import flop_counter
from torch.utils._python_dispatch import TorchDispatchMode

from accelsim.errors import ConfigError
from accelsim.hw import load_hardware
from accelsim.sim import simulate
from accelsim.trace import TraceReader
from accelsim.training.recorder import TraceRecorder

STEPS = 3


class _Corrections(TorchDispatchMode):
    """What FlopCounterMode (torch 2.13) gets wrong or leaves out, counted from torch's
    own per-op formulas: its convolution_backward multiplies a grouped conv's weight
    gradient by the groups (a depthwise 16-group conv counts 17x its forward), and it has
    no formula for the fused CPU attention kernel."""

    def __init__(self):
        super().__init__()
        self.flops = {"conv_backward": 0, "sdpa": 0}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = str(func)
        if name.startswith("aten.convolution_backward"):
            grad, x, w = args[0], args[1], args[2]
            passes = sum(bool(m) for m in args[10][:2])
            self.flops["conv_backward"] += passes * flop_counter.conv_flop_count(
                x.shape, w.shape, grad.shape, bool(args[7]))
        elif name.startswith("aten._scaled_dot_product_flash_attention_for_cpu_backward"):
            grad, q, k, v = args[:4]
            self.flops["sdpa"] += flop_counter.sdpa_backward_flop_count(
                grad.shape, q.shape, k.shape, v.shape)
        elif name.startswith("aten._scaled_dot_product_flash_attention_for_cpu"):
            q, k, v = args[:3]
            self.flops["sdpa"] += flop_counter.sdpa_flop_count(q.shape, k.shape, v.shape)
        return out


def reference_macs(step) -> float:
    """FlopCounterMode's FLOPs / 2 for one optimizer step, with :class:`_Corrections`
    (``pytest -s`` prints both)."""
    with flop_counter.FlopCounterMode(display=False) as counter, _Corrections() as fix:
        step()
    counts = {str(k): v for k, v in counter.get_flop_counts()["Global"].items()}
    total = sum(counts.values()) - counts.get("aten.convolution_backward", 0)
    corrected = (total + fix.flops["conv_backward"] + fix.flops["sdpa"]) / 2
    print(f"reference: FlopCounterMode {counter.get_total_flops() / 2:.0f} MACs, "
          f"corrected {corrected:.0f}")
    return corrected


def simulated(model, optimizer, path, step, steps=STEPS, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with TraceRecorder(model, optimizer, str(path), **kwargs):
            for _ in range(steps):
                step()
    result = simulate(str(path), load_hardware("dropback-edge"))
    totals = result.totals
    return totals["macs"] / totals["training_steps"], result, caught


def assert_matches(model, optimizer, path, step, **kwargs):
    expected = reference_macs(step)
    macs, result, caught = simulated(model, optimizer, path, step, **kwargs)
    assert expected > 0
    print(f"{path.stem}: simulated {macs:.0f} MACs per step, ratio {macs / expected:.4f}")
    assert macs == pytest.approx(expected, rel=0.02), (macs, expected)
    header = TraceReader(str(path)).header
    assert header.params_total == sum(p.numel() for p in model.parameters())
    return result, caught, header


def sgd_step(model, optimizer, x, y, loss=nn.functional.cross_entropy):
    def step():
        optimizer.zero_grad()
        loss(model(x), y).backward()
        optimizer.step()
    return step


class MobileBlock(nn.Module):
    """Inverted residual: 1x1 expand, depthwise 3x3, 1x1 project, BN, ReLU6, residual."""

    def __init__(self):
        super().__init__()
        self.expand = nn.Sequential(nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16),
                                    nn.ReLU6())
        self.depthwise = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False),
                                       nn.BatchNorm2d(16), nn.ReLU6())
        self.project = nn.Sequential(nn.Conv2d(16, 8, 1, bias=False), nn.BatchNorm2d(8))
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        y = self.project(self.depthwise(self.expand(x)))
        return self.head((x + y).mean((2, 3)))


def test_mobilenet_block_depthwise_conv_matches_flop_counter(tmp_path):
    torch.manual_seed(0)
    model = MobileBlock()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    step = sgd_step(model, optimizer, torch.randn(4, 8, 8, 8), torch.randint(0, 4, (4,)))
    result, caught, header = assert_matches(model, optimizer, tmp_path / "m.trace", step)
    assert header.workload["micro_batches"] == 1
    ops = {op["op"] for op in header.workload["ops"]}
    assert "aten.hardtanh.default" in ops  # ReLU6 and the residual add are in the graph
    assert "aten.add.Tensor" in ops
    workload = result.options["workload"]
    # ReLU6, the add and the norms run on the vector unit; nothing matmul-like is left.
    assert workload["vector_ops"] > 0 and workload["uncosted_matmul_ops"] == 0
    assert result.totals["vector_ops"] > 0
    assert "aten.native_batch_norm" not in workload["uncosted"]
    assert any("does not cost" in str(w.message) for w in caught) == bool(
        workload["uncosted_ops"])


class MatmulAttention(nn.Module):
    def __init__(self, dim=16):
        super().__init__()
        self.qkv, self.out = nn.Linear(dim, 3 * dim), nn.Linear(dim, 4)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        return self.out(torch.matmul(scores.softmax(-1), v).mean(1))


def test_attention_with_torch_matmul_matches_flop_counter(tmp_path):
    torch.manual_seed(0)
    model = MatmulAttention()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    step = sgd_step(model, optimizer, torch.randn(2, 6, 16), torch.randint(0, 4, (2,)))
    result, _, _ = assert_matches(model, optimizer, tmp_path / "a.trace", step)
    # the activation-activation matmuls are costed from the graph, under the root module
    assert "<model>" in result.layers
    graph = result.options["workload"]
    assert graph["graph_gemms"] > 0 and graph["graph_macs_per_step"] > 0
    # trace info --layers: the per-module rows add up to the simulated step
    info = subprocess.run([sys.executable, "-m", "accelsim.cli", "trace", "info", "--json",
                           "--layers", str(tmp_path / "a.trace")], capture_output=True,
                          text=True, check=True)
    rows = json.loads(info.stdout)["layers"]
    assert sum(sum(row["macs"].values()) for row in rows) == pytest.approx(
        result.totals["macs"] / result.totals["training_steps"])
    assert sum(row["params"] for row in rows) == sum(p.numel() for p in model.parameters())
    by_name = {row["layer"]: row for row in rows}
    assert by_name["<model>"]["macs"]["fwd"] == 2 * 6 * 6 * 16 * 2  # QK^T and PV, batch 2
    # softmax, div, mean and the loss run on the vector unit, in the forward pass
    assert result.by_phase()["fwd"]["vector_ops"] > 0
    # consumers that place work by layer refuse in one line rather than misplace it
    with pytest.raises(ConfigError, match="does not place the workload graph"):
        simulate(str(tmp_path / "a.trace"), load_hardware("dropback-edge"), dram_model="burst")


def test_weight_norm_conv1d_net_matches_and_resolves_parameters(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(parametrizations.weight_norm(nn.Conv1d(3, 8, 5, padding=2)),
                          nn.ReLU(), parametrizations.weight_norm(nn.Conv1d(8, 8, 3)),
                          nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    step = sgd_step(model, optimizer, torch.randn(4, 3, 20), torch.randint(0, 2, (4,)))
    _, _, header = assert_matches(model, optimizer, tmp_path / "w.trace", step)
    # the batch is the model's input's, not a parametrization's (its input is g)
    assert header.batch_size == 4
    assert not any("parametrizations" in layer.name for layer in header.layers)
    ids = {t.name: t.tensor_id for t in header.tensors}
    assert {t.layer for t in header.tensors if "original" in t.name} == {"0", "2"}
    convs = [op for op in header.workload["ops"]
             if op["op"] == "aten.convolution.default"]
    assert len(convs) == 2
    # the conv's weight is g * v / |v|: resolved to both real parameters
    assert convs[0]["inputs"][1]["params"] == sorted(
        [ids["0.parametrizations.weight.original0"], ids["0.parametrizations.weight.original1"]])
    assert "params" not in convs[0]["inputs"][0]  # the data batch is not a parameter


def test_gradient_accumulation_after_an_evaluation_pass(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    micro = [(torch.randn(4, 3, 8, 8), torch.randint(0, 4, (4,))) for _ in range(4)]

    def step():
        optimizer.zero_grad()
        for x, y in micro:
            (nn.functional.cross_entropy(model(x), y) / len(micro)).backward()
        optimizer.step()

    def evaluate():
        model.eval()
        with torch.no_grad():
            model(torch.randn(64, 3, 8, 8))
        model.train()

    expected = reference_macs(step)
    with TraceRecorder(model, optimizer, str(tmp_path / "g.trace")):
        evaluate()  # a 16x larger batch before training: not the step's workload
        for _ in range(STEPS):
            step()
            evaluate()
    header = TraceReader(str(tmp_path / "g.trace")).header
    assert header.batch_size == 4 and header.workload["micro_batches"] == 4
    result = simulate(str(tmp_path / "g.trace"), load_hardware("dropback-edge"))
    macs = result.totals["macs"] / result.totals["training_steps"]
    print(f"g: simulated {macs:.0f} MACs per step, ratio {macs / expected:.4f}")
    assert macs == pytest.approx(expected, rel=0.02)


def test_global_l1_pruned_model_stores_mask_plus_biases(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 36, 10))
    prune.global_unstructured([(model[0], "weight"), (model[3], "weight")],
                              pruning_method=prune.L1Unstructured, amount=0.8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    step = sgd_step(model, optimizer, torch.randn(4, 3, 8, 8), torch.randint(0, 10, (4,)))
    result, _, header = assert_matches(model, optimizer, tmp_path / "p.trace", step)
    assert header.method == "torch_prune"
    roles = {t.name: t.role for t in header.tensors}
    assert roles["0.weight_orig"] == "weight" and roles["3.weight_orig"] == "weight"
    kept = int(model[0].weight_mask.sum() + model[3].weight_mask.sum())
    biases = model[0].bias.numel() + model[3].bias.numel()
    info = subprocess.run([sys.executable, "-m", "accelsim.cli", "trace", "info", "--json",
                           str(tmp_path / "p.trace")], capture_output=True, text=True,
                          check=True)
    document = json.loads(info.stdout)
    assert document["params_total"] == sum(p.numel() for p in model.parameters())
    assert document["stored"]["median"] == kept + biases
    dense_model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Flatten(),
                                nn.Linear(16 * 36, 10))
    dense_opt = torch.optim.SGD(dense_model.parameters(), lr=0.05)
    dense_step = sgd_step(dense_model, dense_opt, torch.randn(4, 3, 8, 8),
                          torch.randint(0, 10, (4,)))
    _, dense, _ = simulated(dense_model, dense_opt, tmp_path / "d.trace", dense_step)
    assert result.totals["macs"] == dense.totals["macs"]  # zeros still cost MACs
    # CSR weight reads of the fetched weights compared with dense (values + metadata)
    csr = simulate(str(tmp_path / "p.trace"),
                   load_hardware("dropback-edge").replace({"storage.format": "csr"}))
    dense_csr = simulate(str(tmp_path / "d.trace"),
                         load_hardware("dropback-edge").replace({"storage.format": "dense"}))
    sparse_reads = csr.totals["dram_read_bytes.weights"] + csr.totals["dram_read_bytes.metadata"]
    assert sparse_reads <= 0.5 * dense_csr.totals["dram_read_bytes.weights"]


def test_transformer_encoder_layer_with_adam(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0,
                                                     batch_first=True), nn.Flatten(),
                          nn.Linear(16 * 6, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    step = sgd_step(model, optimizer, torch.randn(2, 6, 16), torch.randint(0, 3, (2,)))
    _, _, header = assert_matches(model, optimizer, tmp_path / "t.trace", step)
    assert header.optimizer_state_per_weight == 2
    phases = {op["phase"] for op in header.workload["ops"]}
    assert phases == {"fwd", "bwd", "optimizer"}


def test_transposed_conv_autoencoder_with_mse(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
                          nn.ConvTranspose2d(4, 1, 4, stride=2, padding=1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.randn(4, 1, 8, 8)
    step = sgd_step(model, optimizer, x, x, loss=nn.functional.mse_loss)
    assert_matches(model, optimizer, tmp_path / "ae.trace", step)


def test_model_without_parameters_is_one_clear_error(tmp_path):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        TraceRecorder(nn.ReLU(), optimizer, str(tmp_path / "x.trace"))


def test_loop_without_optimizer_step_warns_and_writes_nothing(tmp_path):
    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.warns(UserWarning, match="never called optimizer.step"):
        with TraceRecorder(model, optimizer, str(tmp_path / "x.trace")):
            model(torch.randn(2, 3)).sum().backward()
    assert not (tmp_path / "x.trace").exists()
    # the capture left the dispatch mode stack: later ops are not recorded
    from torch.utils._python_dispatch import _get_current_dispatch_mode
    assert _get_current_dispatch_mode() is None


def test_input_shapes_changing_between_steps_warn_once(tmp_path):
    model = nn.Sequential(nn.Conv1d(2, 4, 3), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                          nn.Linear(4, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with TraceRecorder(model, optimizer, str(tmp_path / "x.trace")):
            # a smaller batch is expected (a last partial batch); a longer sequence is not
            for batch, length in ((4, 10), (2, 10), (4, 12), (4, 8)):
                optimizer.zero_grad()
                model(torch.randn(batch, 2, length)).sum().backward()
                optimizer.step()
    changed = [w for w in caught if "differ from the captured step" in str(w.message)]
    assert len(changed) == 1 and "step 3" in str(changed[0].message)


def test_malformed_workload_graph_is_one_line_naming_the_op(tmp_path):
    from accelsim.trace import LayerInfo, TensorInfo, TraceHeader, TraceWriter
    from accelsim.trace.model import StepRecord

    header = TraceHeader(
        net="x", layers=[LayerInfo("fc", "linear", weight_shape=(2, 3), in_shape=(3,),
                                   out_shape=(2,), tensor_ids=[0])],
        tensors=[TensorInfo(0, "fc.weight", "fc", "weight", (2, 3))],
        workload={"ops": [{"op": "aten.mm.default", "module": "",  # no phase
                           "inputs": [{"shape": [2, 3]}], "outputs": [], "args": []}]})
    path = tmp_path / "bad.trace"
    with TraceWriter(str(path), header) as writer:
        writer.append(StepRecord(step=1))
    run = subprocess.run([sys.executable, "-m", "accelsim.cli", "trace", "info", str(path)],
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip().count("\n") == 0
    assert "header.workload.ops[0] (aten.mm.default): malformed" in run.stderr


def test_pruning_again_mid_training_is_followed_per_step(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    step = sgd_step(model, optimizer, torch.randn(5, 6), torch.randint(0, 3, (5,)))
    stored = []
    with TraceRecorder(model, optimizer, str(tmp_path / "r.trace")):
        for i in range(4):
            step()
            stored.append(int(model[0].weight_mask.sum()) + 8 + 8 * 3 + 3)
            if i == 1:
                prune.l1_unstructured(model[0], "weight", amount=0.5)  # a new mask buffer
    reader = TraceReader(str(tmp_path / "r.trace"))
    assert reader.header.optimizer_state_per_weight == 2  # AdamW: two moments per weight
    counts = [int(sum(int(m.sum()) for m in record.stored_masks.values()))
              + sum(t.numel for t in reader.header.tensors
                    if t.tensor_id not in record.stored_masks)
              for record in reader.iter_steps(masks=True)]
    assert stored[0] > stored[-1]
    assert counts == stored


def test_an_op_the_capture_cannot_describe_is_kept_as_uncosted(tmp_path, monkeypatch):
    from accelsim.sim.workload import step_work
    from accelsim.training.capture import StepCapture

    real = StepCapture._note

    def fussy(self, name, phase, args, kwargs, out):
        if name.startswith("aten.relu"):
            raise RuntimeError("cannot describe")
        return real(self, name, phase, args, kwargs, out)

    monkeypatch.setattr(StepCapture, "_note", fussy)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    step = sgd_step(model, optimizer, torch.randn(2, 3), torch.randint(0, 2, (2,)))
    with TraceRecorder(model, optimizer, str(tmp_path / "u.trace")):
        step()
    header = TraceReader(str(tmp_path / "u.trace")).header
    relu = [op for op in header.workload["ops"] if op["op"].startswith("aten.relu")]
    assert relu and relu[0]["unreadable"] == "RuntimeError"
    assert step_work(header).uncosted["aten.relu"] == 1


def _stored_per_record(reader):
    """Stored weights of every record: the stored masks plus the tensors without one."""
    return [int(sum(int(m.sum()) for m in record.stored_masks.values()))
            + sum(t.numel for t in reader.header.tensors if t.tensor_id not in record.stored_masks)
            for record in reader.iter_steps(masks=True)]


def test_torch_ao_pruning_sparsifier_masks_are_the_stored_set_per_step(tmp_path):
    from torch.ao.pruning import WeightNormSparsifier

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    sparsifier = WeightNormSparsifier(sparsity_level=0.0, sparse_block_shape=(1, 4),
                                      zeros_per_block=4)
    sparsifier.prepare(model, [{"tensor_fqn": "0.weight"}, {"tensor_fqn": "2.weight"}])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    step = sgd_step(model, optimizer, torch.randn(6, 8), torch.randint(0, 4, (6,)))
    expected = reference_macs(step)
    masks = [model[0].parametrizations.weight[0], model[2].parametrizations.weight[0]]
    stored = []
    with TraceRecorder(model, optimizer, str(tmp_path / "s.trace")):
        for level in (0.0, 0.25, 0.5, 0.75):
            step()
            # what the step just recorded: the masks as optimizer.step() returned
            stored.append(sum(int((m.mask != 0).sum()) for m in masks) + 16 + 4)
            for group in sparsifier.groups:
                group["sparsity_level"] = level + 0.25
            sparsifier.step()  # rewrites each FakeSparsity mask's data in place
    reader = TraceReader(str(tmp_path / "s.trace"))
    header = reader.header
    assert header.method == "found_masks"
    assert header.method_params["source"] == "torch.nn.utils.parametrize"
    assert header.params_total == sum(p.numel() for p in model.parameters())
    roles = {t.name: t.role for t in header.tensors}
    assert roles["0.parametrizations.weight.original"] == "weight"
    assert stored[0] == 8 * 16 + 16 * 4 + 20 and stored[-1] < stored[1] < stored[0]
    assert _stored_per_record(reader) == stored
    result = simulate(str(tmp_path / "s.trace"), load_hardware("dropback-edge"))
    assert result.totals["macs"] / result.totals["training_steps"] == pytest.approx(
        expected, rel=0.02)


def test_zeros_are_pruned_records_weights_zeroed_in_place(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    prune.random_unstructured(model[0], "weight", amount=0.5)  # a mask, combined with zeros
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    fraction = [0.0]

    @torch.no_grad()
    def zero_smallest(opt, args, kwargs):  # a method that prunes by writing zeros
        fraction[0] += 0.2
        weight = model[2].weight
        weight[weight.abs() <= weight.abs().quantile(fraction[0])] = 0
        weight = model[0].weight_orig
        weight[0, :4] = 0  # zeros under the mask and outside it

    optimizer.register_step_post_hook(zero_smallest)  # before the recorder's: runs first
    step = sgd_step(model, optimizer, torch.randn(6, 8), torch.randint(0, 4, (6,)))
    stored = []
    with TraceRecorder(model, optimizer, str(tmp_path / "z.trace"), zeros_are_pruned=True):
        for _ in range(4):
            step()
            pruned = model[0].weight_orig * model[0].weight_mask  # .weight is the last forward's
            stored.append(int((pruned != 0).sum()) + sum(
                int((p != 0).sum()) for name, p in model.named_parameters()
                if name != "0.weight_orig"))
    reader = TraceReader(str(tmp_path / "z.trace"))
    assert reader.header.method == "found_masks"
    assert reader.header.method_params["source"] == ["exact zeros", "torch.nn.utils.prune"]
    assert stored[-1] < stored[1] < stored[0]
    assert _stored_per_record(reader) == stored
    with pytest.raises(ConfigError, match="zeros_are_pruned applies to method=None"):
        from accelsim.training.methods import Dense
        TraceRecorder(model, optimizer, str(tmp_path / "x.trace"), Dense(model),
                      zeros_are_pruned=True)
    # without the rule the in-place zeros are stored weights (only the mask prunes)
    with TraceRecorder(model, optimizer, str(tmp_path / "n.trace")):
        step()
    reader = TraceReader(str(tmp_path / "n.trace"))
    assert reader.header.method == "torch_prune"
    assert _stored_per_record(reader) == [int(model[0].weight_mask.sum()) + 16 + 64 + 4]


def test_activation_density_is_recorded_every_step_after_the_capture(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    densities = []
    model[1].register_forward_hook(
        lambda module, inputs, output: densities.append(float((output != 0).float().mean())))
    with TraceRecorder(model, optimizer, str(tmp_path / "d.trace"), activation_density=True):
        for seed in range(3):
            gen = torch.Generator().manual_seed(seed)
            sgd_step(model, optimizer, torch.randn(8, 6, generator=gen) + seed,
                     torch.randint(0, 3, (8,), generator=gen))()
    recorded = [float(r.activation_density[1]) for r in TraceReader(
        str(tmp_path / "d.trace")).iter_steps()]
    assert recorded == pytest.approx(densities) and len(set(densities)) > 1
    # without densities the leaf modules' hooks are gone once the layers are captured
    plain = nn.Sequential(nn.Linear(6, 4))
    opt = torch.optim.SGD(plain.parameters(), lr=0.1)
    with TraceRecorder(plain, opt, str(tmp_path / "p.trace")):
        sgd_step(plain, opt, torch.randn(2, 6), torch.randint(0, 4, (2,)))()
        assert not plain[0]._forward_hooks
    assert len(TraceReader(str(tmp_path / "p.trace")).header.layers) == 1


def test_prune_remove_mid_training_records_the_tensor_dense_again(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    step = sgd_step(model, optimizer, torch.randn(5, 6), torch.randint(0, 3, (5,)))
    with TraceRecorder(model, optimizer, str(tmp_path / "r.trace")):
        step()
        prune.remove(model[0], "weight")  # the mask buffer is gone, the weight trains densely
        step()
    total = sum(p.numel() for p in model.parameters())
    assert _stored_per_record(TraceReader(str(tmp_path / "r.trace"))) == [total - 24, total]


def test_a_parametrization_mask_of_another_shape_is_warned_about(tmp_path):
    from torch.nn.utils import parametrize

    class Masked(nn.Module):
        def __init__(self, shape):
            super().__init__()
            self.register_buffer("mask", torch.ones(shape))

        def forward(self, x):
            return x * self.mask

    model = nn.Sequential(nn.Linear(4, 3))
    parametrize.register_parametrization(model[0], "weight", Masked((3, 4)))
    parametrize.register_parametrization(model[0], "bias", Masked((1,)))  # broadcasts
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.warns(UserWarning, match="mask of 0.bias is not shaped like the stored"):
        recorder = TraceRecorder(model, optimizer, str(tmp_path / "w.trace"))
    assert sorted(recorder.method.masks) == ["0.parametrizations.weight.original"]
    recorder.close()


def test_embedding_lookups_are_listed_as_uncosted_not_dropped(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(50, 8), nn.Flatten(), nn.Linear(8 * 5, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    step = sgd_step(model, optimizer, torch.randint(0, 50, (4, 5)), torch.randint(0, 3, (4,)))
    result, caught, header = assert_matches(model, optimizer, tmp_path / "e.trace", step)
    uncosted = result.options["workload"]["uncosted"]
    # a gather is no multiply-accumulate: the MACs are the linear's alone, the lookups
    # and their weight gradient are named as not costed
    assert "aten.embedding" in uncosted and "aten.embedding_dense_backward" in uncosted
    assert any("does not cost" in str(w.message) for w in caught)
    info = subprocess.run([sys.executable, "-m", "accelsim.cli", "trace", "info", "--json",
                           str(tmp_path / "e.trace")], capture_output=True, text=True,
                          check=True)
    listed = json.loads(info.stdout)["workload"]["uncosted"]
    assert listed["aten.embedding"] == 1 and listed["aten.embedding_dense_backward"] == 1


def test_a_batch_drawn_inside_the_loop_is_data_not_a_parameter(tmp_path):
    """Indices from torch.randint inside the recorded step are data: the embedding's
    output is not 'computed from parameters alone', so the linear after it keeps its
    own MACs in every phase (the lookup once read as the linear's weight)."""
    from accelsim.sim.workload import layer_table

    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(50, 8), nn.Flatten(), nn.Linear(8 * 5, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def step():
        optimizer.zero_grad()
        noise = torch.zeros(4, 3).uniform_()  # in place on a constant: data too
        logits = model(torch.randint(0, 50, (4, 5))) + noise
        nn.functional.cross_entropy(logits, torch.randint(0, 3, (4,))).backward()
        optimizer.step()

    expected = reference_macs(step)
    macs, _, _ = simulated(model, optimizer, tmp_path / "b.trace", step)
    assert macs == pytest.approx(expected, rel=0.02)
    rows = {row["layer"]: row["macs"] for row in layer_table(
        TraceReader(str(tmp_path / "b.trace")).header, {})}
    assert rows["0"] == {"fwd": 0, "bwd_data": 0, "bwd_weight": 0}
    assert rows["2"] == {"fwd": 480, "bwd_data": 480, "bwd_weight": 480}


def test_structured_sparsifier_row_masks_prune_whole_filters(tmp_path):
    from torch.ao.pruning._experimental.pruner import SaliencyPruner

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 4))
    pruner = SaliencyPruner({})
    pruner.prepare(model, [{"tensor_fqn": "0.weight", "sparsity_level": 0.5}])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    step = sgd_step(model, optimizer, torch.randn(2, 3, 8, 8), torch.randint(0, 4, (2,)))
    with TraceRecorder(model, optimizer, str(tmp_path / "r.trace")):
        step()
        pruner.step()  # half of the conv's 8 filters
        step()
    rows = model[0].parametrizations.weight[0].mask
    assert int(rows.sum()) == 4
    reader = TraceReader(str(tmp_path / "r.trace"))
    total = sum(p.numel() for p in model.parameters())
    assert _stored_per_record(reader) == [total, total - 4 * 27]
    record = list(reader.iter_steps(masks=True))[-1]
    tid = next(t.tensor_id for t in reader.header.tensors
               if t.name == "0.parametrizations.weight.original")
    stored = record.stored_masks[tid].reshape(8, 27)
    assert (stored.all(axis=1) == rows.numpy()).all() and (stored.any(axis=1) == rows.numpy()).all()
