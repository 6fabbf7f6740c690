"""Lowering: every recorded layer and training phase as GEMM-shaped array work.

Convention: ``O[m x n] = A[m x k] . B[k x n]`` repeated ``groups`` times. Per phase
(P = batch x output pixels, Kw = in_channels/groups x kh x kw, F = out_channels/groups):

========== ===================== ============ ============ ============
phase      m x k x n             A            B            O
========== ===================== ============ ============ ============
fwd        P x Kw x F            inputs       weights      outputs
bwd_data   P x F x Kw            grad_outputs weights^T    grad_inputs
bwd_weight Kw x P x F            inputs^T     grad_outputs grad_weights
========== ===================== ============ ============ ============

Convolutions use their im2col shape for the array work, but each operand's compulsory
DRAM footprint is the real tensor (``*_bytes``), never the im2col duplication. The first
GEMM layer has no ``bwd_data`` (nothing upstream needs its input gradient). Norm,
activation and pooling layers are fused into the GEMM layer that produces their input:
they move no data of their own. The update phase is a streaming pass over each layer's
parameter tensors (:class:`UpdatePass`), counted in :mod:`accelsim.sim.replay`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelsim.errors import TraceError
from accelsim.trace import LayerInfo, TraceHeader

GEMM_KINDS = ("linear", "conv2d")
PHASES = ("fwd", "bwd_data", "bwd_weight", "update")


@dataclass(frozen=True)
class GemmLayer:
    """The geometry of one conv/linear layer, from which every phase's GEMM follows."""

    name: str
    batch: int
    pixels: int  # output pixels per sample (1 for linear)
    in_elements: int  # per-sample input activations (unpadded)
    out_elements: int  # per-sample output activations
    in_channels: int
    out_channels: int
    kernel: int  # kh * kw (1 for linear)
    groups: int
    weight_tensor: int | None  # tensor_id of the weight
    tensor_ids: tuple[int, ...]  # every parameter the layer owns (weight, bias)
    first: bool  # the first GEMM layer: no bwd_data
    # A GEMM of one phase taken as is (an op of the workload graph, accelsim.sim.workload)
    # rather than derived from the layer's geometry; None for conv2d/linear layers.
    fixed: Gemm | None = None

    @property
    def weight_k(self) -> int:
        """Kw: reduction length of the forward GEMM (in/groups x kh x kw)."""
        return self.in_channels // self.groups * self.kernel

    @property
    def filters_per_group(self) -> int:
        return self.out_channels // self.groups

    def alive(self, out_alive: int, in_alive: int) -> GemmLayer:
        """The layer with pruned filters (outputs) and pruned input channels removed."""
        if out_alive == self.out_channels and in_alive == self.in_channels:
            return self
        return GemmLayer(
            self.name, self.batch, self.pixels,
            -(-self.in_elements * in_alive // self.in_channels),  # exact integer ceil
            self.out_elements // self.out_channels * out_alive,
            in_alive, out_alive, self.kernel, self.groups, self.weight_tensor,
            self.tensor_ids, self.first,
        )


# What each role moves as, in the results' traffic classes (accelsim.sim.results).
TRAFFIC_CLASS = {"inputs": "inputs", "outputs": "outputs", "weights": "weights",
                 "grad_outputs": "gradients", "grad_inputs": "gradients",
                 "grad_weights": "gradients"}

# The number format each role is multiplied in, as the description's dtypes name them.
VALUE_KIND = {"inputs": "activations", "outputs": "activations", "weights": "weights",
              "grad_outputs": "gradients", "grad_inputs": "gradients",
              "grad_weights": "gradients"}
_KIND_ORDER = ("weights", "activations", "gradients")


@dataclass(frozen=True)
class Operand:
    """One operand of a GEMM: its role in the phase, the traffic class its DRAM bytes are
    counted in, and its compulsory elements (whole batch, all groups)."""

    role: str
    elements: int

    @property
    def traffic(self) -> str:
        return TRAFFIC_CLASS[self.role]

    @property
    def is_weight(self) -> bool:
        return self.role == "weights"


@dataclass(frozen=True)
class Gemm:
    """One phase of one layer as array work: ``O = A . B`` with its operands as data."""

    layer: str
    phase: str
    m: int
    k: int
    n: int
    groups: int
    a: Operand
    b: Operand
    o: Operand

    @property
    def operands(self) -> tuple[Operand, Operand, Operand]:
        return self.a, self.b, self.o

    @property
    def roles(self) -> tuple[str, str, str]:
        return self.a.role, self.b.role, self.o.role

    @property
    def macs(self) -> int:
        return self.m * self.k * self.n * self.groups

    @property
    def mac_class(self) -> str:
        """What its MACs multiply (a results.MAC_CLASSES name): ``weights_activations``
        for a forward GEMM, ``activations_gradients`` for a weight-gradient one, ..."""
        kinds = sorted((VALUE_KIND[self.a.role], VALUE_KIND[self.b.role]),
                       key=_KIND_ORDER.index)
        return "_".join(kinds)


@dataclass(frozen=True)
class InputSource:
    """Where a GEMM layer's input comes from: the previous GEMM layer's output (through
    fused norm, activation and pooling layers) when its channels are that output's
    channels, maybe flattened (``channel_repeat`` inputs per output channel); it is that
    very tensor (``same_tensor``) when nothing between changed its size."""

    previous: GemmLayer | None
    channel_repeat: int = 1
    same_tensor: bool = False


def input_sources(layers: list[GemmLayer]) -> list[InputSource]:
    """The :class:`InputSource` of every GEMM layer, in execution order: the one rule for
    the replay (pruned filters remove the next layer's input channels) and for DRAM
    placement (a layer reads the tensor the previous one wrote)."""
    out, previous = [], None
    for layer in layers:
        if previous is not None and layer.in_channels % previous.out_channels == 0:
            out.append(InputSource(
                previous, layer.in_channels // previous.out_channels,
                previous.batch * previous.out_elements == layer.batch * layer.in_elements))
        else:
            out.append(InputSource(None))
        previous = layer
    return out


def _channels(shape: tuple[int, ...]) -> int:
    return shape[0] if shape else 1


def gemm_layers(header: TraceHeader, required: bool = True) -> list[GemmLayer]:
    """The conv/linear layers of a trace in execution order, checked for consistency
    (``required``: none is an error; a workload graph may hold all the work instead)."""
    layers = []
    for info in header.layers:
        if info.kind not in GEMM_KINDS:
            continue
        layers.append(_gemm_layer(info, header, first=not layers))
    if not layers and required:
        raise TraceError(f"trace of {header.net!r} has no conv2d or linear layer to simulate")
    return layers


def _gemm_layer(info: LayerInfo, header: TraceHeader, first: bool) -> GemmLayer:
    where = f"layer {info.name!r}"
    if not info.weight_shape or not info.in_shape or not info.out_shape:
        raise TraceError(f"{where}: weight, input and output shapes are required")
    weight = [t for t in info.tensor_ids if header.tensor(t).role == "weight"]
    if info.kind == "linear":
        out_features, in_features = info.weight_shape
        # per-sample rows: 1 for a flat input, the tokens of a [tokens, features] one
        pixels, kernel, groups = math.prod(info.in_shape[:-1]), 1, 1
        in_ch, out_ch = in_features, out_features
    else:
        out_ch = info.weight_shape[0]
        groups = info.groups or 1
        in_ch = info.weight_shape[1] * groups
        kernel = math.prod(info.weight_shape[2:])
        pixels = math.prod(info.out_shape[1:])
        if _channels(info.in_shape) != in_ch or _channels(info.out_shape) != out_ch:
            raise TraceError(f"{where}: activation shapes {info.in_shape} -> "
                             f"{info.out_shape} disagree with weight {info.weight_shape}")
    return GemmLayer(
        name=info.name, batch=header.batch_size, pixels=pixels,
        in_elements=math.prod(info.in_shape), out_elements=math.prod(info.out_shape),
        in_channels=in_ch, out_channels=out_ch, kernel=kernel, groups=groups,
        weight_tensor=weight[0] if weight else None, tensor_ids=tuple(info.tensor_ids),
        first=first,
    )


def lower(layer: GemmLayer, phase: str) -> Gemm | None:
    """The GEMM of one phase of one layer; None when the phase does no array work."""
    if layer.fixed is not None:
        return layer.fixed if layer.fixed.phase == phase else None
    p = layer.batch * layer.pixels
    kw, f, g = layer.weight_k, layer.filters_per_group, layer.groups
    inputs = layer.batch * layer.in_elements
    outputs = layer.batch * layer.out_elements
    weights = kw * f * g
    if phase == "fwd":
        return Gemm(layer.name, phase, p, kw, f, g, Operand("inputs", inputs),
                    Operand("weights", weights), Operand("outputs", outputs))
    if phase == "bwd_data":
        if layer.first:
            return None
        return Gemm(layer.name, phase, p, f, kw, g, Operand("grad_outputs", outputs),
                    Operand("weights", weights), Operand("grad_inputs", inputs))
    if phase == "bwd_weight":
        return Gemm(layer.name, phase, kw, p, f, g, Operand("inputs", inputs),
                    Operand("grad_outputs", outputs), Operand("grad_weights", weights))
    return None


# What the update phase moves per parameter tensor, as (traffic class, direction): the
# stored values and their metadata are read and written back, the weight gradient is
# read, the optimizer state is read and written.
UPDATE_TRAFFIC = (("weights", "read"), ("metadata", "read"), ("weights", "write"),
                  ("metadata", "write"), ("gradients", "read"), ("optimizer_state", "read"),
                  ("optimizer_state", "write"))


@dataclass(frozen=True)
class UpdatePass:
    """The update phase of one layer: a streaming pass over its parameter tensors
    (weights, biases, norm parameters alike) moving :data:`UPDATE_TRAFFIC` for each."""

    layer: str
    tensor_ids: tuple[int, ...]

    def moves(self, traffic: str, direction: str) -> bool:
        return (traffic, direction) in UPDATE_TRAFFIC


def update_passes(header: TraceHeader) -> list[UpdatePass]:
    """The update phase of every layer that owns parameters, in header order."""
    return [UpdatePass(info.name, tuple(info.tensor_ids)) for info in header.layers
            if info.tensor_ids]
