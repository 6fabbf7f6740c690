"""Dispatch-level capture: every ATen op one real training step executes.

A :class:`~torch.utils._python_dispatch.TorchDispatchMode` sees each operator below
autograd — the forward's, autograd's backward and the optimizer's — whatever module or
functional call produced it (the mechanism ``torch.utils.flop_counter.FlopCounterMode``
builds on). :class:`StepCapture` is active from the moment a :class:`TraceRecorder` is
created until the first optimizer step returns; then it leaves the mode stack, so later
steps run at full speed.

What it keeps (the ``workload`` header key, docs/trace-format.md):

* ops of forward passes that run with grad enabled and the model in training mode (an
  evaluation or ``no_grad`` pass before the first step is dropped), every op of autograd's
  backward and of ``optimizer.step()``; all micro-batches between the start and the first
  step belong to that step (gradient accumulation);
* per op: its name, phase (fwd / bwd / optimizer), the module path it ran under, input
  and output shapes and dtypes, its non-tensor arguments, the op that produced each input
  (by tensor identity) and, for an input computed from parameters alone (a
  ``weight_norm`` or ``prune`` reparametrisation), the ``tensor_id`` s of those
  parameters.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.module_tracker import ModuleTracker
from torch.utils.weak import WeakIdKeyDictionary

WORKLOAD_VERSION = 1
# Ops that move no data or only record profiler ranges: not part of the workload.
_SKIP = ("profiler.", "aten.detach.", "aten.lift_fresh.", "aten.alias.")
_SCALARS = (bool, int, float, str, type(None))
# Ops that draw random values: their outputs are data (a batch made inside the loop),
# never a constant computed from parameters alone, even with no tensor input.
_RANDOM = tuple(f"aten.{name}" for name in (
    "rand.", "rand_like.", "randn.", "randn_like.", "randint.", "randint_like.", "randperm.",
    "normal.", "normal_.", "uniform_.", "bernoulli.", "bernoulli_.", "multinomial.",
    "poisson.", "exponential_.", "geometric_.", "log_normal_.", "cauchy_.", "random_."))


def _arg_value(value):
    """A non-tensor argument as JSON (ints, floats, bools, lists of them), else its type."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, torch.dtype | torch.device | torch.layout | torch.memory_format):
        return str(value)
    if isinstance(value, list | tuple) and all(isinstance(v, _SCALARS) for v in value):
        return list(value)
    return type(value).__name__


class StepCapture(TorchDispatchMode):
    """Records the ops of one training step (see the module docstring)."""

    def __init__(self, model: nn.Module, param_ids: dict[int, int], owners: dict[int, str]):
        super().__init__()
        self._owners = owners  # tensor_id -> the module path that uses the parameter
        self._node_modules: dict = {}  # autograd node -> module path (backward)
        self.model = model
        self.ops: list[dict] = []
        self.micro_batches = 0
        self.in_optimizer = False
        self.dropped = 0  # ops of evaluation / no_grad passes, not kept
        self._tracker = ModuleTracker()
        self._root = type(model).__name__
        # tensor -> (producer op index or -1, parameter tensor_ids it is computed from
        # alone, or None when it depends on data)
        self._known = WeakIdKeyDictionary()
        for module in model.modules():
            for param in module.parameters(recurse=False):
                if id(param) in param_ids:
                    self._known[param] = (-1, frozenset([param_ids[id(param)]]))
            for buffer in module.buffers(recurse=False):
                self._known[buffer] = (-1, frozenset())
        self._handle = model.register_forward_pre_hook(self._count_pass)
        self.active = False

    def _count_pass(self, module, inputs) -> None:
        if torch.is_grad_enabled() and module.training and not self.in_optimizer:
            self.micro_batches += 1

    def start(self) -> StepCapture:
        self._tracker.__enter__()
        self.__enter__()
        self.active = True
        return self

    def stop(self) -> None:
        """Leave the mode stack (idempotent); hooks are removed."""
        if not self.active:
            return
        self.active = False
        self.__exit__(None, None, None)
        self._tracker.__exit__()
        self._handle.remove()

    def _module_path(self) -> str:
        deepest = max(self._tracker.parents, key=len, default="Global")
        if deepest == "Global" or deepest == self._root:
            return ""
        return deepest[len(self._root) + 1:] if deepest.startswith(self._root + ".") \
            else deepest

    def _module_of(self, phase: str, lineages) -> str:
        """The module path an op ran under. An op reading a parameter belongs to the
        module that owns it in every phase (MultiheadAttention runs its out_proj's matmul
        inside its own forward; ModuleTracker's backward view can be stale), and in the
        backward every op of the same autograd node (a linear's grad-input and
        grad-weight matmuls) to that module too."""
        tids = sorted(set().union(*(lineage for lineage in lineages if lineage)))
        owner = self._owners.get(tids[0]) if tids else None
        if phase != "bwd":
            return self._module_path() if owner is None or phase == "optimizer" else owner
        node = torch._C._current_autograd_node()
        if owner is not None:
            if node is not None:
                self._node_modules[node] = owner
            return owner
        if node is not None and node in self._node_modules:
            return self._node_modules[node]
        return self._module_path()

    def _phase(self) -> str | None:
        if self.in_optimizer:
            return "optimizer"
        if torch._C._current_graph_task_id() != -1:
            return "bwd"
        if torch.is_grad_enabled() and self.model.training:
            return "fwd"
        return None  # an evaluation or no_grad pass

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = str(func)
        if name.startswith(_SKIP):
            return out
        phase = self._phase()
        if phase is None:
            self.dropped += 1
            return out
        try:
            self._note(name, phase, args, kwargs, out)
        except Exception as error:  # noqa: BLE001 - never break the user's training
            # An op whose tensors cannot be described (nested, sparse, a subclass): kept
            # by name, so the simulator lists it as uncosted rather than missing it.
            self.ops.append({"op": name, "phase": phase, "module": self._module_path(),
                             "inputs": [], "outputs": [], "args": [],
                             "unreadable": type(error).__name__})
        return out

    def _note(self, name, phase, args, kwargs, out) -> None:
        index = len(self.ops)
        inputs, lineages = [], []
        values = ["T" if torch.is_tensor(value) else _arg_value(value) for value in args]
        for value in tree_flatten((args, kwargs))[0]:
            if not torch.is_tensor(value):
                continue
            source, lineage = self._known.get(value, (-1, None))
            lineages.append(lineage)
            entry = {"shape": list(value.shape), "dtype": str(value.dtype)[6:],
                     "src": source}
            if lineage:
                entry["params"] = sorted(lineage)
            inputs.append(entry)
        data_free = all(lineage is not None for lineage in lineages)
        derived = frozenset().union(*lineages) if data_free and lineages else (
            frozenset() if not lineages else None)
        random = name.startswith(_RANDOM)  # in place too: uniform_ on a zeros tensor
        if random:
            derived = None
        outputs = []
        for value in tree_flatten(out)[0]:
            if torch.is_tensor(value):
                outputs.append({"shape": list(value.shape), "dtype": str(value.dtype)[6:]})
                if random or value not in self._known or self._known[value][1] is None:
                    self._known[value] = (index, derived)
        self.ops.append({"op": name, "phase": phase, "module": self._module_of(phase, lineages),
                         "inputs": inputs, "outputs": outputs, "args": values})

    def workload(self, step: int) -> dict:
        """The captured step as the trace header's ``workload`` value."""
        return {"version": WORKLOAD_VERSION, "captured_step": step,
                "micro_batches": self.micro_batches, "ops": self.ops}


def check_inputs_shape(expected, inputs, step: int, warned: list) -> None:
    """Warn once when a later step's model input shape differs from the captured one."""
    shape = [list(x.shape) for x in inputs if torch.is_tensor(x)]
    if expected is not None and shape != expected and not warned:
        warned.append(step)
        warnings.warn(f"TraceRecorder: step {step}: model input shapes {shape} differ from "
                      f"the captured step's {expected}; the trace's workload describes the "
                      "captured step only", stacklevel=2)
