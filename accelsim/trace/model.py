"""The trace data model: header (network, tensors, run settings) and one record per step.

Everything here is plain data.  The header travels as JSON (``to_dict``/``from_dict``,
validated on the way in and out); step records travel in the binary chunks described in
docs/trace-format.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accelsim import __version__ as _ACCELSIM_VERSION
from accelsim.errors import TraceError

FORMAT_NAME = "accelsim-trace"
FORMAT_VERSION = 1  # major: a reader refuses majors it does not know
FORMAT_MINOR = 2  # minor: additions an older reader of the same major may ignore
# Header keys added by a minor version, with the value a file of an older minor means.
# Minor 1: the optimizer's hyper-parameters and lr schedule (minor 0 recorded only its
# name) and "reproducibility" (torch threads and determinism settings; minor 0: {}).
# Minor 2: "workload", the operator-level graph of one captured training step
# (accelsim.training.capture; minor 0 and 1: {}, meaning "no graph: cost header.layers").
# A file of that minor or newer must have them.
OPTIONAL_HEADER_KEYS = {"optimizer_params": (dict, dict, 1), "reproducibility": (dict, dict, 1),
                        "workload": (dict, dict, 2)}
SUPPORTED_VERSIONS = (1,)

MAX_NUMEL = 2**40  # weights per tensor: a reader holds a one-byte mask entry per weight
ROLES = ("weight", "bias", "norm_weight", "norm_bias", "other")
DTYPE_KEYS = ("weights", "activations", "gradients", "optimizer_state")


def _default_dtypes() -> dict[str, str]:
    return {key: "float32" for key in DTYPE_KEYS}


def _default_regen() -> dict[str, Any]:
    return {"name": "none", "version": 0, "seed": 0}


def _tuple_or_none(value):
    if value is None or isinstance(value, int):
        return value
    return tuple(value)


@dataclass
class TensorInfo:
    """One parameter tensor: its stable id (the regen seed input), owner, role and shape."""

    tensor_id: int
    name: str
    layer: str
    role: str
    shape: tuple[int, ...]
    numel: int | None = None  # computed from shape when left out
    init: dict[str, Any] = field(default_factory=dict)
    structure_size: int = 0  # filters/channels of its structure mask; 0 = no structure mask

    def __post_init__(self):
        self.shape = tuple(self.shape)
        if self.numel is None:
            self.numel = math.prod(self.shape)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensor_id": self.tensor_id, "name": self.name, "layer": self.layer,
            "role": self.role, "shape": list(self.shape), "numel": self.numel,
            "init": self.init, "structure_size": self.structure_size,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str, lenient: bool) -> TensorInfo:
        spec = _Fields(data, where, lenient)
        info = cls(
            tensor_id=spec.get("tensor_id", int), name=spec.get("name", str),
            layer=spec.get("layer", str), role=spec.get("role", str),
            shape=tuple(spec.get("shape", list)), numel=spec.get("numel", int),
            init=spec.get("init", dict), structure_size=spec.get("structure_size", int),
        )
        spec.finish()
        return info

    def validate(self, where: str) -> None:
        _check(_is_int(self.tensor_id) and 0 <= self.tensor_id < 2**32,
               f"{where}.tensor_id must be an integer in [0, 2**32)")
        _check(self.role in ROLES, f"{where}.role {self.role!r} is not one of {ROLES}")
        _check(all(_is_int(d) and d >= 0 for d in self.shape),
               f"{where}.shape {self.shape} must hold non-negative integers")
        _check(self.numel == math.prod(self.shape),
               f"{where}.numel {self.numel} != product of shape {self.shape}")
        _check(self.numel <= MAX_NUMEL,
               f"{where}.numel {self.numel} exceeds the format's limit of 2**40 weights")
        _check(_is_int(self.structure_size) and self.structure_size >= 0,
               f"{where}.structure_size must be a non-negative integer")


@dataclass
class LayerInfo:
    """One layer as executed: kind, geometry and the per-sample activation shapes."""

    name: str
    kind: str
    weight_shape: tuple[int, ...] | None = None
    bias_shape: tuple[int, ...] | None = None
    stride: tuple[int, ...] | int | None = None
    padding: tuple[int, ...] | int | None = None
    dilation: tuple[int, ...] | int | None = None
    groups: int | None = None
    in_shape: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()
    tensor_ids: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    _TUPLES = ("weight_shape", "bias_shape", "stride", "padding", "dilation",
               "in_shape", "out_shape")

    def __post_init__(self):
        for key in self._TUPLES:
            setattr(self, key, _tuple_or_none(getattr(self, key)))
        self.tensor_ids = list(self.tensor_ids)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        for key in self._TUPLES:
            value = getattr(self, key)
            out[key] = list(value) if isinstance(value, tuple) else value
        out.update(groups=self.groups, tensor_ids=list(self.tensor_ids), extra=self.extra)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str, lenient: bool) -> LayerInfo:
        spec = _Fields(data, where, lenient)
        values = {key: spec.get(key, (list, int, type(None))) for key in cls._TUPLES}
        layer = cls(
            name=spec.get("name", str), kind=spec.get("kind", str),
            groups=spec.get("groups", (int, type(None))),
            tensor_ids=spec.get("tensor_ids", list), extra=spec.get("extra", dict), **values,
        )
        spec.finish()
        return layer

    def validate(self, where: str) -> None:
        for key in self._TUPLES:
            value = getattr(self, key)
            items = value if isinstance(value, tuple) else (value,)
            _check(all(v is None or _is_int(v) for v in items),
                   f"{where}.{key} must hold integers")
        _check(all(_is_int(t) for t in self.tensor_ids), f"{where}.tensor_ids must be integers")


@dataclass
class TraceHeader:
    """What the training run was: network, tensors, method, optimizer and run settings."""

    net: str
    layers: list[LayerInfo]
    tensors: list[TensorInfo]
    method: str = "dense"
    method_params: dict[str, Any] = field(default_factory=dict)
    optimizer: str = "sgd"
    # lr (initial), momentum, weight_decay, betas, ... and lr_schedule {kind, spec, ...}
    optimizer_params: dict[str, Any] = field(default_factory=dict)
    optimizer_state_per_weight: int = 0
    batch_size: int = 1
    dtypes: dict[str, str] = field(default_factory=_default_dtypes)
    regen: dict[str, Any] = field(default_factory=_default_regen)
    dataset: str = ""
    record_every: int = 1
    extra: dict[str, Any] = field(default_factory=dict)
    # what the bytes of a re-recording depend on besides the seed: torch version, thread
    # counts, deterministic-algorithm settings (filled by TraceRecorder)
    reproducibility: dict[str, Any] = field(default_factory=dict)
    # the ops of one captured training step: {"version", "captured_step", "micro_batches",
    # "ops": [...]} (docs/trace-format.md "Workload graph"); {} when not captured
    workload: dict[str, Any] = field(default_factory=dict)
    accelsim_version: str = _ACCELSIM_VERSION
    format: str = field(default=FORMAT_NAME, init=False)
    format_version: int = field(default=FORMAT_VERSION, init=False)

    _SCALARS = (("net", str), ("method", str), ("method_params", dict), ("optimizer", str),
                ("optimizer_state_per_weight", int), ("batch_size", int), ("dtypes", dict),
                ("regen", dict), ("dataset", str), ("record_every", int), ("extra", dict),
                ("accelsim_version", str))

    @property
    def params_total(self) -> int:
        return sum(t.numel for t in self.tensors)

    def tensor(self, tensor_id: int) -> TensorInfo:
        for info in self.tensors:
            if info.tensor_id == tensor_id:
                return info
        raise TraceError(f"tensor_id {tensor_id} is not in the trace header")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": self.format, "format_version": self.format_version}
        out.update({key: getattr(self, key) for key, _ in self._SCALARS})
        out.update({key: getattr(self, key) for key in OPTIONAL_HEADER_KEYS})
        out["layers"] = [layer.to_dict() for layer in self.layers]
        out["tensors"] = [tensor.to_dict() for tensor in self.tensors]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], minor: int = FORMAT_MINOR) -> TraceHeader:
        """Build and validate a header; unknown keys are tolerated only from a newer minor."""
        lenient = minor > FORMAT_MINOR
        spec = _Fields(data, "header", lenient)
        _check(spec.get("format", str) == FORMAT_NAME, f"header.format is not {FORMAT_NAME!r}")
        version = spec.get("format_version", int)
        _check(version in SUPPORTED_VERSIONS,
               f"header.format_version {version} is not supported {SUPPORTED_VERSIONS}")
        values = {key: spec.get(key, kind) for key, kind in cls._SCALARS}
        values.update({key: spec.get(key, kind) if minor >= since
                       else spec.optional(key, kind, default())
                       for key, (kind, default, since) in OPTIONAL_HEADER_KEYS.items()})
        layers = [LayerInfo.from_dict(_as_dict(item, f"header.layers[{i}]"),
                                      f"header.layers[{i}]", lenient)
                  for i, item in enumerate(spec.get("layers", list))]
        tensors = [TensorInfo.from_dict(_as_dict(item, f"header.tensors[{i}]"),
                                        f"header.tensors[{i}]", lenient)
                   for i, item in enumerate(spec.get("tensors", list))]
        spec.finish()
        header = cls(layers=layers, tensors=tensors, **values)
        header.format_version = version
        header.validate()
        return header

    def validate(self) -> None:
        """Raise TraceError naming the first inconsistent field."""
        for i, tensor in enumerate(self.tensors):
            tensor.validate(f"header.tensors[{i}]")
        ids = [t.tensor_id for t in self.tensors]
        _check(len(set(ids)) == len(ids), "header.tensors: tensor_id values are not unique")
        for i, layer in enumerate(self.layers):
            layer.validate(f"header.layers[{i}]")
            unknown = set(layer.tensor_ids) - set(ids)
            _check(not unknown, f"header.layers[{i}].tensor_ids {sorted(unknown)} are unknown")
        _check(self.optimizer_state_per_weight >= 0,
               "header.optimizer_state_per_weight must be >= 0")
        _check(self.batch_size >= 1, "header.batch_size must be >= 1")
        _check(self.record_every >= 1, "header.record_every must be >= 1")
        for key in ("name", "version", "seed"):
            _check(key in self.regen, f"header.regen lacks {key!r}")


class _Fields:
    """Typed access to one JSON object; reports missing, mistyped and unknown keys."""

    def __init__(self, data: dict[str, Any], where: str, lenient: bool):
        self.data, self.where, self.lenient = _as_dict(data, where), where, lenient
        self.seen: set[str] = set()

    def get(self, key: str, kind):
        self.seen.add(key)
        _check(key in self.data, f"{self.where} lacks {key!r}")
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        _check(ok, f"{self.where}.{key} has type {type(value).__name__}")
        return value

    def optional(self, key: str, kind, default):
        """A key an older minor version lacks: ``default`` when absent, else typed."""
        return self.get(key, kind) if key in self.data else default

    def finish(self) -> None:
        """Refuse keys nobody asked for, unless a newer minor version may have added them."""
        unknown = sorted(set(self.data) - self.seen)
        _check(self.lenient or not unknown, f"{self.where} has unknown keys {unknown}")


def _as_dict(value, where: str) -> dict[str, Any]:
    _check(isinstance(value, dict), f"{where} is not a JSON object")
    return value


def _is_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise TraceError(message)


@dataclass
class StepRecord:
    """One optimizer step: stored-set changes, structure masks, counts and scalars.

    Writing: give a tensor's stored set EITHER as ``stored_masks[tid]`` (bool, numel
    entries) OR as ``entered[tid]``/``left[tid]`` (sorted unique flat int64 indices against
    the previous written step).  A tensor mentioned in neither is unchanged; before the
    first record every weight counts as stored.
    Reading: ``entered``/``left`` hold every tensor whose stored set changed;
    ``stored_masks`` is filled only when asked for (``iter_steps(masks=True)``).
    """

    step: int
    loss: float = math.nan
    lr: float = math.nan
    accuracy: float = math.nan  # NaN when not evaluated at this step
    changed: dict[int, int] = field(default_factory=dict)
    stored_masks: dict[int, np.ndarray] = field(default_factory=dict)
    entered: dict[int, np.ndarray] = field(default_factory=dict)
    left: dict[int, np.ndarray] = field(default_factory=dict)
    structure_masks: dict[int, np.ndarray] = field(default_factory=dict)
    activation_density: np.ndarray | None = None
