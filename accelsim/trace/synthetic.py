"""Synthetic traces: a hand-built ResNet-18 header and DropBack-like stored-set churn.

Nothing here trains anything (and nothing imports torch): the header is written out by
hand from the ResNet-18 CIFAR structure of ``accelsim.training.nets`` (layer and tensor
names, tensor_ids and roles as the TraceRecorder would record them), and the step records
come from a random walk of the stored set, so replay can be measured at scales no quick
training run reaches (``bench/replay_scale.py``).
"""

from __future__ import annotations

import math
import os

import numpy as np

from accelsim.trace.model import LayerInfo, StepRecord, TensorInfo, TraceHeader
from accelsim.trace.writer import TraceWriter

__all__ = ["churn_schedule", "resnet18_header", "write_synthetic_dropback"]


class _Builder:
    """Collects layers (execution order) and tensors (named_parameters order)."""

    def __init__(self):
        self.layers: list[LayerInfo] = []
        self.tensors: list[TensorInfo] = []

    def _tensor(self, layer: str, attr: str, role: str, shape: tuple[int, ...],
                init: dict) -> int:
        tid = len(self.tensors)
        self.tensors.append(TensorInfo(tensor_id=tid, name=f"{layer}.{attr}", layer=layer,
                                       role=role, shape=shape, init=init))
        return tid

    def conv(self, name: str, in_shape: tuple[int, int, int], out_ch: int, kernel: int,
             stride: int, padding: int) -> tuple[int, int, int]:
        c, h, w = in_shape
        oh = (h + 2 * padding - kernel) // stride + 1
        ow = (w + 2 * padding - kernel) // stride + 1
        shape = (out_ch, c, kernel, kernel)
        fan_in = c * kernel * kernel
        tid = self._tensor(name, "weight", "weight", shape,
                           {"kind": "normal", "std": math.sqrt(2.0 / fan_in)})
        out = (out_ch, oh, ow)
        self.layers.append(LayerInfo(
            name=name, kind="conv2d", weight_shape=shape, stride=(stride, stride),
            padding=(padding, padding), dilation=(1, 1), groups=1, in_shape=in_shape,
            out_shape=out, tensor_ids=[tid]))
        return out

    def bn(self, name: str, shape: tuple[int, int, int]) -> tuple[int, int, int]:
        c = shape[0]
        ids = [self._tensor(name, "weight", "norm_weight", (c,), {"kind": "constant",
                                                                   "value": 1.0}),
               self._tensor(name, "bias", "norm_bias", (c,), {"kind": "constant",
                                                               "value": 0.0})]
        self.layers.append(LayerInfo(name=name, kind="batchnorm2d", weight_shape=(c,),
                                     bias_shape=(c,), in_shape=shape, out_shape=shape,
                                     tensor_ids=ids))
        return shape

    def linear(self, name: str, in_features: int, out_features: int) -> None:
        shape = (out_features, in_features)
        ids = [self._tensor(name, "weight", "weight", shape,
                            {"kind": "normal", "std": math.sqrt(2.0 / in_features)}),
               self._tensor(name, "bias", "bias", (out_features,),
                            {"kind": "constant", "value": 0.0})]
        self.layers.append(LayerInfo(name=name, kind="linear", weight_shape=shape,
                                     bias_shape=(out_features,), in_shape=(in_features,),
                                     out_shape=(out_features,), tensor_ids=ids))


def resnet18_header(batch: int = 128, num_classes: int = 10) -> TraceHeader:
    """ResNet-18 (CIFAR stem, 3x32x32 input) as a trace header; method left "dense".

    Layers: every conv2d / batchnorm2d / linear in execution order (names as
    ``accelsim.training.nets.resnet_18`` modules); tensors: every parameter in
    ``named_parameters()`` order, tensor_id = position (11,173,962 at 10 classes).
    """
    b = _Builder()
    shape = b.conv("stem.0", (3, 32, 32), 64, 3, 1, 1)
    shape = b.bn("stem.1", shape)
    in_planes = 64
    for i, planes in enumerate((64, 128, 256, 512)):
        for j in range(2):
            stride = 2 if i > 0 and j == 0 else 1
            prefix = f"stages.{i}.{j}"
            block_in = shape
            out = b.conv(f"{prefix}.conv1", block_in, planes, 3, stride, 1)
            out = b.bn(f"{prefix}.bn1", out)
            out = b.conv(f"{prefix}.conv2", out, planes, 3, 1, 1)
            out = b.bn(f"{prefix}.bn2", out)
            if stride != 1 or in_planes != planes:
                short = b.conv(f"{prefix}.shortcut.0", block_in, planes, 1, stride, 0)
                b.bn(f"{prefix}.shortcut.1", short)
            shape, in_planes = out, planes
    b.layers.append(LayerInfo(name="pool", kind="adaptiveavgpool2d", in_shape=shape,
                              out_shape=(shape[0], 1, 1)))
    b.linear("fc", in_planes, num_classes)
    return TraceHeader(net="resnet-18", layers=b.layers, tensors=b.tensors, method="dense",
                       optimizer="sgd", batch_size=batch, dataset="cifar10-synthetic",
                       extra={"recorded_by": "accelsim.trace.synthetic"})


def churn_schedule(steps: int, churn_start: float = 0.05, churn_end: float = 0.0001,
                   decay_steps: int | None = None) -> np.ndarray:
    """Churn fraction of each step 1..steps: geometric from churn_start to churn_end over
    the first ``decay_steps`` steps (None: over the whole trace), churn_end after that —
    the shape of a real run, whose stored set settles early and then drifts slowly.

    Entry 0 (step 1, the first record) is the start value but no swap happens then.
    """
    horizon = steps if decay_steps is None else decay_steps
    if steps <= 0:
        return np.zeros(0)
    if horizon <= 1:  # no room to decay: one step keeps the start value, else the end
        return np.full(steps, float(churn_start if steps == 1 else churn_end))
    t = np.minimum(np.arange(steps, dtype=np.float64) / (horizon - 1), 1.0)
    return churn_start * (churn_end / churn_start) ** t


def swaps_per_step(steps: int, tracked: int, churn_start: float = 0.05,
                   churn_end: float = 0.0001, decay_steps: int | None = None) -> np.ndarray:
    """Weights that leave (and as many that enter) at each step; 0 at the first step."""
    swaps = np.rint(churn_schedule(steps, churn_start, churn_end, decay_steps)
                    * tracked).astype(np.int64)
    if steps:
        swaps[0] = 0
    return swaps


def _draw(rng: np.random.Generator, pool_mask: np.ndarray, want: bool, count: int,
          total: int) -> np.ndarray:
    """``count`` distinct global indices i with pool_mask[i] == want (rejection sampling)."""
    picked = np.empty(0, dtype=np.int64)
    while picked.size < count:
        need = count - picked.size
        cand = rng.integers(0, total, size=int(need * 1.3) + 16, dtype=np.int64)
        cand = cand[pool_mask[cand] == want]
        cand = np.unique(np.concatenate([picked, cand]))
        if cand.size > count:  # unique() sorts: choose a random subset, not the lowest
            cand = rng.choice(cand, size=count, replace=False)
        picked = cand
    return np.sort(picked)


def _split(indices: np.ndarray, starts: np.ndarray, ids: list[int]) -> dict[int, np.ndarray]:
    """Sorted global indices -> {tensor_id: sorted local int64 indices} (non-empty only)."""
    owner = np.searchsorted(starts, indices, side="right") - 1
    bounds = np.searchsorted(owner, np.arange(len(ids) + 1))
    out = {}
    for k, tid in enumerate(ids):
        lo, hi = bounds[k], bounds[k + 1]
        if hi > lo:
            out[tid] = (indices[lo:hi] - starts[k]).astype(np.int64)
    return out


def write_synthetic_dropback(path, header: TraceHeader, steps: int, tracked: int = 1_000_000,
                             churn_start: float = 0.05, churn_end: float = 0.0001,
                             seed: int = 0, keyframe_every: int = 256, *,
                             decay_steps: int | None = None,
                             overwrite: bool = True, fsync: bool = False,
                             compress_level: int = 1,
                             method_params: dict | None = None) -> TraceHeader:
    """Write a DropBack-like trace of ``steps`` records (steps 1..steps) to ``path``.

    Step 1 stores exactly ``tracked`` weights drawn uniformly over all tensors; each later
    step t swaps ``round(churn(t) * tracked)`` of them (``churn_schedule``, decaying over
    ``decay_steps``): as many stored
    weights leave as unstored ones enter, so every step stores exactly ``tracked``.
    ``method_params``: extra DropBack hyper-parameters for the header (e.g.
    ``{"init_decay": 0.9}``, which the replay reads). Returns the header written (a copy
    of ``header`` with method "dropback").
    """
    total = header.params_total
    if not 0 < tracked <= total:
        raise ValueError(f"tracked must be in 1..{total}, got {tracked}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not (0 < churn_start <= 1 and 0 < churn_end <= 1):
        raise ValueError("churn_start and churn_end must be fractions in (0, 1]")
    out_header = TraceHeader.from_dict(header.to_dict())
    out_header.method = "dropback"
    out_header.method_params = {
        "budget": tracked, "stored_weights": tracked, "compression": total / tracked,
        "scope": "global", "synthetic": True, "churn_start": churn_start,
        "churn_end": churn_end, "decay_steps": decay_steps, "seed": seed,
        **(method_params or {})}
    out_header.regen = {"name": "synthetic", "version": 1, "seed": seed}
    ids = [t.tensor_id for t in out_header.tensors]
    sizes = np.array([t.numel for t in out_header.tensors], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    rng = np.random.default_rng(seed)
    swaps = swaps_per_step(steps, tracked, churn_start, churn_end, decay_steps)
    untracked = total - tracked
    swaps = np.minimum(swaps, min(tracked, untracked))

    mask = np.zeros(total, dtype=bool)
    stored = np.sort(rng.choice(total, size=tracked, replace=False)).astype(np.int64)
    mask[stored] = True
    # stored[p]: global index of tracked slot p; leaving weights are drawn by slot, so only
    # entering ones need rejection sampling against the mask
    with TraceWriter(os.fspath(path), out_header, keyframe_every=keyframe_every,
                     overwrite=overwrite, fsync=fsync, compress_level=compress_level) as w:
        first = StepRecord(step=1)
        for k, tid in enumerate(ids):
            first.stored_masks[tid] = mask[starts[k]:starts[k] + sizes[k]].copy()
        w.append(first)
        for step in range(2, steps + 1):
            n = int(swaps[step - 1])
            record = StepRecord(step=step)
            if n:
                pos = rng.choice(tracked, size=n, replace=False)
                left = np.sort(stored[pos])
                entered = _draw(rng, mask, False, n, total)
                mask[left] = False
                mask[entered] = True
                stored[pos] = rng.permutation(entered)
                record.left = _split(left, starts, ids)
                record.entered = _split(entered, starts, ids)
            w.append(record)
    return out_header
