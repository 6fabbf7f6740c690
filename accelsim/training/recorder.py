"""TraceRecorder: the training hook that writes what a run kept in memory, step by step.

Attach it to any PyTorch loop::

    method = DropBack(model, compression=25)
    method.attach(optimizer)                      # the method first: it masks, then we record
    with TraceRecorder(model, optimizer, "run.trace", method=method) as recorder:
        for x, y in data:
            ...
            loss.backward()
            optimizer.step()                      # the step post-hook records this step
            recorder.log(loss=loss.item())        # annotates the step just recorded

The network as executed is captured by forward hooks on the first training forward pass
(grad enabled, model in training mode; an evaluation pass before it is not the network's
workload), and every ATen op of the first optimizer step — all its micro-batches' forward
and backward passes and the update — by :class:`accelsim.training.capture.StepCapture`
(the header's ``workload`` graph). Ops the simulator cannot cost are named in one warning
when the trace is started. Each
record is appended (and journaled, so a SIGKILL no longer loses it) when
``optimizer.step()`` returns; scalars logged after it — the loss, an epoch's test
accuracy — amend that record.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from accelsim import __version__
from accelsim.errors import ConfigError
from accelsim.trace import LayerInfo, StepRecord, TensorInfo, TraceHeader, TraceWriter
from accelsim.training.capture import StepCapture
from accelsim.training.init import RegenInit
from accelsim.training.methods import Dense, PruningMethod
from accelsim.training.methods.found import FoundMasks, found_method
from accelsim.training.optim import optimizer_params
from accelsim.training.params import parameter_table

_LAYER_KINDS = {
    nn.Linear: "linear", nn.Conv2d: "conv2d", nn.BatchNorm1d: "batchnorm1d",
    nn.BatchNorm2d: "batchnorm2d", nn.MaxPool2d: "maxpool2d", nn.AvgPool2d: "avgpool2d",
    nn.AdaptiveAvgPool2d: "adaptiveavgpool2d", nn.ReLU: "relu", nn.Dropout: "dropout",
    nn.Flatten: "flatten", nn.Identity: "identity",
}
_ACTIVATIONS = (nn.ReLU,)


def _pair(value) -> tuple[int, int] | None:
    if value is None:
        return None
    return tuple(value) if isinstance(value, tuple | list) else (value, value)


def _layer_info(name: str, module: nn.Module, inputs, output, tensor_ids) -> LayerInfo:
    kind = _LAYER_KINDS.get(type(module), type(module).__name__.lower())
    weight = getattr(module, "weight", None)
    bias = getattr(module, "bias", None)
    conv_like = isinstance(module, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d)
    x = inputs[0] if inputs and torch.is_tensor(inputs[0]) else None
    return LayerInfo(
        name=name, kind=kind,
        weight_shape=tuple(weight.shape) if torch.is_tensor(weight) else None,
        bias_shape=tuple(bias.shape) if torch.is_tensor(bias) else None,
        stride=_pair(getattr(module, "stride", None)) if conv_like else None,
        padding=_pair(getattr(module, "padding", None)) if conv_like else None,
        dilation=_pair(getattr(module, "dilation", None)) if conv_like else None,
        groups=getattr(module, "groups", None),
        in_shape=tuple(x.shape[1:]) if x is not None else None,
        out_shape=tuple(output.shape[1:]) if torch.is_tensor(output) else None,
        tensor_ids=list(tensor_ids),
    )


class TraceRecorder:
    """Records one step record per optimizer step (or every ``record_every`` steps).

    ``method=None`` finds the masks the model carries (``accelsim.training.methods.found``: prune
    buffers, parametrize sparsifiers) and, with ``zeros_are_pruned``, counts exact zeros
    as pruned; otherwise it records as dense.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        path: str,
        method: PruningMethod | None = None,
        *,
        net: str | None = None,
        dataset: str = "",
        regen_init: RegenInit | None = None,
        record_every: int = 1,
        activation_density: bool = False,
        count_changed: bool = True,
        keyframe_every: int = 256,
        overwrite: bool = False,
        extra: dict[str, Any] | None = None,
        lr_schedule: dict[str, Any] | None = None,
        zeros_are_pruned: bool = False,
    ):
        if record_every < 1:
            raise ConfigError(f"record_every must be >= 1, got {record_every}")
        if os.path.exists(path) and not overwrite:
            raise ConfigError(f"{path} already exists; choose another --out or overwrite it")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ConfigError(f"{path}: folder {folder} does not exist")
        if zeros_are_pruned and method is not None:
            raise ConfigError(f"TraceRecorder: zeros_are_pruned applies to method=None; "
                              f"{method.name}'s stored_mask already says what is stored")
        self.model, self.optimizer, self.path = model, optimizer, str(path)
        # method=None: masks the model carries (prune, parametrize sparsifiers) and, with
        # zeros_are_pruned, exact zeros; else dense
        self.method = method if method is not None else (
            found_method(model, zeros_are_pruned) or Dense(model))
        self.entries = parameter_table(model)
        if not self.entries:
            raise ConfigError(f"TraceRecorder: {type(model).__name__} has no trainable "
                              "parameters; nothing to record")
        self.net = net or type(model).__name__
        self.dataset, self.record_every, self.extra = dataset, record_every, extra or {}
        self.regen_init = regen_init or getattr(self.method, "init", None)
        self.activation_density = activation_density
        self.lr_schedule = lr_schedule  # how the loop changes the lr ({"kind": ...}), if known
        self.count_changed = count_changed
        self._writer_options = {"keyframe_every": keyframe_every, "overwrite": overwrite}
        self._layers: list[LayerInfo] = []
        self._layer_positions: dict[int, int] = {}  # id(module) -> first layer position
        self._densities: dict[int, float] = {}
        self._batch_size = 0
        self._writer: TraceWriter | None = None
        self._before: list[torch.Tensor] | None = None
        self._recorded_masks: dict[int, torch.Tensor] = {}
        # a method that only says stored_mask is compared with its last record each step
        self._own_delta = (type(self.method).mask_delta is not PruningMethod.mask_delta
                           or type(self.method).mask_deltas is not PruningMethod.mask_deltas)
        self._wrote_first = False
        self._captured = False
        self._steps = 0
        self._handles: list = []
        self._layer_handles: list = []  # one forward hook per leaf module, until captured
        self._capture = StepCapture(model, {id(e.param): e.tensor_id for e in self.entries},
                                    {e.tensor_id: e.layer for e in self.entries})
        self._workload: dict[str, Any] = {}
        self._input_shapes: list | None = None
        self._shape_warned: list = []
        self.attach()
        self._capture.start()

    # -- hooks -----------------------------------------------------------------------
    def attach(self) -> None:
        owned = {}
        for entry in self.entries:
            owned.setdefault(entry.layer, []).append(entry.tensor_id)
        for name, module in self.model.named_modules():
            # a parametrization (weight_norm's _WeightNorm) computes a weight, not a layer
            if not list(module.children()) and ".parametrizations." not in f".{name}":
                self._layer_handles.append(module.register_forward_hook(
                    self._capture_hook(name, owned.get(name, []))))
        self._handles.append(self.model.register_forward_hook(self._captured_hook))
        self._handles.append(self.model.register_forward_pre_hook(self._check_inputs))
        self._handles.append(self.optimizer.register_step_pre_hook(self._before_step))
        self._handles.append(self.optimizer.register_step_post_hook(self._after_step))

    def _captured_hook(self, module, inputs, output) -> None:
        self._captured = bool(self._layers)
        if self._captured and not self.activation_density:
            # the layers are known: later forwards run without a hook per leaf module
            for handle in self._layer_handles:
                handle.remove()
            self._layer_handles.clear()

    def _check_inputs(self, module, inputs) -> None:
        """Warn once when a later training pass's input shapes differ from the captured
        step's: the header's layers and workload graph describe that step only."""
        if not (torch.is_grad_enabled() and module.training):
            return
        shapes = [list(x.shape) for x in inputs if torch.is_tensor(x)]
        if self._input_shapes is None:
            self._input_shapes = shapes
            self._batch_size = shapes[0][0] if shapes and shapes[0] else 1
        elif not self._shape_warned and [s[1:] for s in shapes] != [
                s[1:] for s in self._input_shapes]:
            # A smaller last batch (dim 0 only) is expected: every step is costed at the
            # captured batch, as before. Other dimensions changing is a different workload.
            self._shape_warned.append(self._steps + 1)
            warnings.warn(f"TraceRecorder: step {self._steps + 1}: model input shapes "
                          f"{shapes} differ from the captured step's {self._input_shapes}; "
                          "the trace's workload describes the captured step only",
                          stacklevel=2)

    def _capture_hook(self, name: str, tensor_ids):
        def hook(module, inputs, output):
            if not self._captured and torch.is_grad_enabled() and self.model.training:
                self._layers.append(_layer_info(name, module, inputs, output, tensor_ids))
                self._layer_positions.setdefault(id(module), len(self._layers) - 1)
            if self.activation_density and module.training and isinstance(module, _ACTIVATIONS):
                position = self._layer_positions.get(id(module))
                if position is not None:
                    self._densities[position] = float((output != 0).float().mean())
        return hook

    def _due(self) -> bool:
        return (self._steps + 1) % self.record_every == 0

    @torch.no_grad()
    def _before_step(self, optimizer, args, kwargs) -> None:
        self._capture.in_optimizer = True
        if self.count_changed and self._due():
            self._before = [e.param.detach().clone() for e in self.entries]

    @torch.no_grad()
    def _after_step(self, optimizer, args, kwargs) -> None:
        if self.method.step_count != self._steps + 1 and not isinstance(
                self.method, Dense | FoundMasks):
            raise ConfigError("TraceRecorder: attach the method to the optimizer before "
                              "creating the recorder (its masks must be applied first)")
        self._steps += 1
        if self._capture.active:
            self._capture.in_optimizer = False
            self._capture.stop()
            self._workload = self._capture.workload(self._steps)
        if self._steps % self.record_every:
            return
        if self._writer is None:
            header = self._header()
            warn_uncosted(header, self.path)
            self._writer = TraceWriter(self.path, header, **self._writer_options)
        self._writer.append(self._record(self._steps))

    # -- records -----------------------------------------------------------------------
    def _record(self, step: int) -> StepRecord:
        record = StepRecord(step=step, lr=float(self.optimizer.param_groups[0]["lr"]))
        first = not self._wrote_first
        # the method's own deltas, all tensors from one call (one vectorised pass)
        deltas = self.method.mask_deltas() if (
            self._own_delta and not first and self.record_every == 1
            and not isinstance(self.method, Dense)) else None
        for entry in self.entries:
            self._add_stored_set(record, entry, first, deltas)
            structure = self.method.structure_mask(entry.name)
            if structure is not None:
                record.structure_masks[entry.tensor_id] = structure.cpu().numpy().astype(bool)
        self._wrote_first = True
        if self._before is not None:
            # one host sync for all tensors' counts (a CUDA model would wait per tensor)
            counts = torch.stack([(entry.param != before).sum() for entry, before in zip(
                self.entries, self._before, strict=True)]).tolist()
            for entry, count in zip(self.entries, counts, strict=True):
                record.changed[entry.tensor_id] = int(count)
            self._before = None
        if self.activation_density:
            record.activation_density = np.array(
                [self._densities.get(i, math.nan) for i in range(len(self._layers))],
                dtype=np.float32)
        return record

    def _add_stored_set(self, record: StepRecord, entry, first: bool, deltas) -> None:
        """Full mask on the first record, the method's own delta afterwards when it has
        one for exactly this interval, else (a method with no ``mask_delta`` of its own,
        or ``record_every`` > 1) a comparison against the last recorded mask."""
        tid = entry.tensor_id
        if isinstance(self.method, Dense):
            return  # every weight stored, which is what a trace assumes until told otherwise
        if deltas is None:
            mask = self.method.stored_mask(entry.name).flatten()
            previous = self._recorded_masks.get(tid)
            if previous is None:
                record.stored_masks[tid] = mask.cpu().numpy().astype(bool)
            else:
                record.entered[tid] = (mask & ~previous).nonzero().squeeze(1).cpu().numpy()
                record.left[tid] = (previous & ~mask).nonzero().squeeze(1).cpu().numpy()
            self._recorded_masks[tid] = mask.clone()
            return
        delta = deltas.get(entry.name)
        if delta is not None:
            record.entered[tid], record.left[tid] = (
                x.cpu().numpy() if torch.is_tensor(x) else x for x in delta)

    @property
    def steps_recorded(self) -> int:
        return 0 if self._writer is None else self._writer.num_steps

    def log(self, loss: float | None = None, accuracy: float | None = None) -> None:
        """Attach scalars to the step recorded last (no-op before the first one)."""
        if self._writer is None or self._writer.num_steps == 0 or (
                loss is None and accuracy is None):
            return
        self._writer.amend(loss=None if loss is None else float(loss),
                           accuracy=None if accuracy is None else float(accuracy))

    # -- header ------------------------------------------------------------------------
    def _header(self) -> TraceHeader:
        if not self._layers:
            raise ConfigError("TraceRecorder: the model ran no forward pass before the first "
                              "optimizer step; nothing to record")
        tensors = []
        for entry in self.entries:
            spec = self.regen_init.specs.get(entry.name) if self.regen_init else None
            structure = self.method.structure_mask(entry.name)
            tensors.append(TensorInfo(
                tensor_id=entry.tensor_id, name=entry.name, layer=entry.layer, role=entry.role,
                shape=tuple(entry.param.shape), init=spec.to_dict() if spec else {},
                structure_size=0 if structure is None else int(structure.numel())))
        regen = self.regen_init.to_dict() if self.regen_init else {"name": "none",
                                                                     "version": 0, "seed": 0}
        dtype = str(self.entries[0].param.dtype).replace("torch.", "") if self.entries else ""
        optimizer = optimizer_params(self.optimizer)
        if self.lr_schedule is not None:
            optimizer["lr_schedule"] = dict(self.lr_schedule)
        return TraceHeader(
            net=self.net, layers=self._layers, tensors=tensors, method=self.method.name,
            method_params=self.method.hparams(), optimizer=type(self.optimizer).__name__.lower(),
            optimizer_params=optimizer, optimizer_state_per_weight=self._state_per_weight(),
            batch_size=self._batch_size,
            dtypes={"weights": dtype, "activations": dtype, "gradients": dtype,
                    "optimizer_state": dtype},
            regen=regen, dataset=self.dataset, record_every=self.record_every,
            extra={"recorded_by": f"accelsim {__version__} TraceRecorder", **self.extra},
            reproducibility=reproducibility(), workload=self._workload,
        )

    def _state_per_weight(self) -> int:
        """Per-weight optimizer state tensors (SGD 0, momentum 1, Adam 2), after step 1."""
        for entry in self.entries:
            state = self.optimizer.state.get(entry.param, {})
            return sum(1 for v in state.values()
                       if torch.is_tensor(v) and v.shape == entry.param.shape)
        return 0

    # -- lifetime ----------------------------------------------------------------------
    def close(self, clean: bool = True) -> None:
        """Write the last record and close the file (with its end marker when clean)."""
        self._capture.stop()
        for handle in self._handles + self._layer_handles:
            handle.remove()
        self._handles.clear()
        self._layer_handles.clear()
        if self._writer is None:
            if clean and self._steps == 0:
                warnings.warn(f"TraceRecorder: {self.path}: the loop never called "
                              "optimizer.step(); no trace written", stacklevel=2)
            return
        if clean:
            self._writer.close()
        else:
            self._writer.__exit__(RuntimeError, None, None)

    def __enter__(self) -> TraceRecorder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(clean=exc_type is None)


def reproducibility() -> dict[str, Any]:
    """What a run's numbers depend on besides its seed: a rerun with the same values gives
    the same trace bytes (CPU); another thread count changes reduction orders, so losses
    and the weights DropBack picks may differ (docs/training.md)."""
    return {
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def record(config, out: str, overwrite: bool = False, progress: bool = True,
           activation_density: bool = False):
    """Train as configured and write the trace to ``out``; returns the TrainResult.
    ``activation_density``: record every ReLU's output density at every recorded step."""
    from accelsim.training.loop import prepare, train

    run = prepare(config)
    config = run.config  # every default filled in
    with TraceRecorder(run.model, run.optimizer, out, run.method, net=config.net,
                       dataset=run.data.name, regen_init=run.init, overwrite=overwrite,
                       lr_schedule=config.schedule.to_dict(),
                       activation_density=activation_density,
                       extra={"seed": config.seed, "epochs": config.epochs}) as recorder:
        result = train(run, progress=progress,
                       on_step=lambda step, loss, lr: recorder.log(loss=loss),
                       on_epoch=lambda epoch, accuracy: recorder.log(accuracy=accuracy))
        # The last record carries the final test accuracy (after SWD's hard prune).
        recorder.log(accuracy=result.test_accuracy)
        if recorder.steps_recorded == 0:
            raise ConfigError(f"{out}: training ran no optimizer step (epochs "
                              f"{config.epochs}?); no trace written")
    return result


def warn_uncosted(header: TraceHeader, path: str) -> None:
    """One warning naming the ops of the captured step the simulator will not cost."""
    from accelsim.sim.workload import describe_uncosted, step_work

    text = describe_uncosted(step_work(header))
    if text:
        warnings.warn(f"TraceRecorder: {path}: the simulator does not cost {text} of the "
                      "captured step (no MACs; memory traffic not modelled yet)", stacklevel=3)
