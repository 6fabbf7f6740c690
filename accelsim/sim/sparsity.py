"""Zero-skipping in the PE array, and DropBack's decay of untracked weights to zero.

**Decay to zero.** DropBack's "decay to zero" variant (``init_decay`` d in the trace's
method hyper-parameters) resets an untracked weight to ``w0 * d**t`` after step t. The
replay counts a tensor's untracked weights as zeros from the first step at which the
largest initial value the regenerator can produce, ``|w0| <= BOX_MULLER_BOUND * std``,
decays below the threshold: the description's ``sparsity.zero_threshold``, or else the
magnitude that rounds to zero in ``dtypes.weights``. The rule is per tensor, so it is
conservative: in the few steps while only the smaller initial values have reached zero,
all of them still count as nonzero. A zero needs no regeneration (its regen energy
disappears) and, stored sparsely, no DRAM bytes: it costs what a pruned weight costs.

**Zero-skipping.** With ``sparsity.skip`` covering weights, a GEMM whose weight operand
holds zeros (its untracked weights, above) executes only the MACs of nonzero weights:
``macs x nonzero / weights``, exact for every phase that multiplies the weight. The
forward pass on a weight-stationary array also gets its time from the real mask: each
output channel's nonzero weights are compacted along the reduction dimension, the
channels are grouped onto the C PE columns, and a column group runs
``ceil(max nonzero of its channels / R)`` folds — its most loaded column sets its time.
``balance = "sort"`` sorts the channels by their nonzero counts first (so a group holds
channels of similar load) when that saves cycles, and charges the sort
(``n ceil(log2 n)`` comparisons on the PEs) and the permutation it reads
(``n ceil(log2 n)`` bits of metadata). Other phases and dataflows keep their dense
cycles, an upper bound; the result says which (``options["zero_skipping"]``).
"""

from __future__ import annotations

import math

import numpy as np

from accelsim.errors import ConfigError
from accelsim.hw.sparsity import Sparsity, rounds_to_zero_below
from accelsim.sim.storage import weight_fetch_arrays

# accelsim.regen's Box-Muller: u1 >= 2^-33, so |N| <= sqrt(-2 ln 2^-33) = sqrt(66 ln 2).
BOX_MULLER_BOUND = math.sqrt(66.0 * math.log(2.0))


def init_decay_of(method_params: dict | None) -> float | None:
    """The trace's DropBack decay factor d (None: no decay)."""
    value = (method_params or {}).get("init_decay")
    if value is None or float(value) >= 1.0:
        return None
    return float(value)


def untracked_zero(header, steps: np.ndarray, weight_dtype: str,
                   sparsity: Sparsity | None, source: str) -> np.ndarray | None:
    """(steps x tensors) bool: whether the tensor's untracked weights are zeros at each
    step because their initial values have decayed (None: the trace has no decay)."""
    decay = init_decay_of(header.method_params)
    if decay is None:
        return None
    threshold = sparsity.zero_threshold if sparsity is not None else None
    floor = rounds_to_zero_below(weight_dtype)
    if threshold is None and floor is None:
        raise ConfigError(f"{source}: sparsity.zero_threshold: the trace decays initial "
                          f"weights (init_decay {decay}) but {weight_dtype} has no "
                          "rounding-to-zero magnitude; give a threshold (\"X abs\")")
    steps = np.asarray(steps, dtype=np.float64)
    out = np.zeros((steps.size, len(header.tensors)), dtype=np.bool_)
    for j, tensor in enumerate(header.tensors):
        init = tensor.init or {}
        kind = init.get("kind")
        std = float(init.get("std", 0.0)) if kind == "normal" else 0.0
        if kind == "normal":
            bound = BOX_MULLER_BOUND * std
        elif kind == "constant":
            bound = abs(float(init.get("value", 0.0)))
        else:  # no init spec: its values are unknown, so never counted as zeros
            continue
        if threshold is None:
            limit = floor
        else:
            value, unit = threshold
            limit = value if unit == "abs" else value * std
        with np.errstate(under="ignore"):
            out[:, j] = bound * np.power(decay, steps) < limit
    return out


def fetch_arrays(numel, stored, padding, value_bytes: int, storage, fill: str,
                 zero: np.ndarray | None) -> dict[str, np.ndarray]:
    """weight_fetch_arrays, where steps with ``zero`` (untracked weights decayed to zero)
    cost like a pruning method's: their missing weights are zeros, nothing regenerated."""
    fetch = weight_fetch_arrays(numel, stored, padding, value_bytes, storage, fill)
    if zero is None or not zero.any() or fill == "zero":
        return fetch
    zeros = weight_fetch_arrays(numel, stored, padding, value_bytes, storage, "zero")
    return {key: np.where(zero, zeros[key], fetch[key]) for key in fetch}


def channel_groups_folds(channel_nonzero: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Per group of ``cols`` consecutive output channels: the folds it runs, each channel's
    nonzero weights compacted along the R rows (its most loaded column sets the count)."""
    n = channel_nonzero.shape[0]
    groups = -(-n // cols)
    padded = np.zeros(groups * cols, dtype=np.int64)
    padded[:n] = channel_nonzero
    most = padded.reshape(groups, cols).max(axis=1)
    return -(-most // rows)


def sort_cost(channels: int, lanes: int, metadata_bits_per_index: int | None = None
              ) -> tuple[float, float]:
    """(cycles, metadata bytes) of sorting ``channels`` counts on ``lanes`` comparators
    and reading the permutation back (ceil(log2 n) bits per channel)."""
    bits = metadata_bits_per_index or max(1, math.ceil(math.log2(max(channels, 2))))
    comparisons = channels * bits
    return float(-(-comparisons // max(lanes, 1))), channels * bits / 8.0


def skipped_fold_shares(channel_nonzero: np.ndarray, rows: int, cols: int,
                        order: str) -> np.ndarray:
    """Per executed fold, its share of the stored weights (channels in natural order, or
    ``order="sort"``: by nonzero count, largest first). At least one fold."""
    counts = np.asarray(channel_nonzero, dtype=np.int64)
    if order == "sort":
        counts = np.sort(counts)[::-1]
    folds = channel_groups_folds(counts, rows, cols)
    n = counts.shape[0]
    groups = folds.shape[0]
    padded = np.zeros(groups * cols, dtype=np.float64)
    padded[:n] = counts
    per_group = padded.reshape(groups, cols).sum(axis=1)
    total = per_group.sum()
    if total == 0 or folds.sum() == 0:
        return np.ones(1)
    live = folds > 0
    return np.repeat(per_group[live] / total / folds[live], folds[live])


def executed_macs(macs: float, weights: int, nonzero: np.ndarray) -> np.ndarray:
    """MACs a weight-skipping array executes: those of the nonzero weights."""
    return macs * np.asarray(nonzero, dtype=np.float64) / max(weights, 1)


GEMM_KINDS = ("conv2d", "linear")


def input_densities(header, layer_names: list[str], densities: list) -> dict[str, np.ndarray]:
    """Per GEMM layer fed by a ReLU: the recorded density of that ReLU's output at each
    simulated step (a ReLU output density is the share of nonzero activations; the trace
    records one per layer and step, never a mask). Layers whose input is no recorded
    ReLU output (the net's input, a pooled or added tensor) are absent."""
    if not densities or all(d is None for d in densities):
        return {}
    positions = {}
    feeding = None
    for position, info in enumerate(header.layers):
        if info.kind == "relu":
            feeding = position
        elif info.kind in GEMM_KINDS:
            if feeding is not None and info.name in layer_names:
                positions[info.name] = feeding
            feeding = None
    out = {}
    for name, position in positions.items():
        values = np.array([np.nan if d is None or position >= len(d) else float(d[position])
                           for d in densities])
        if np.isfinite(values).all():
            out[name] = np.clip(values, 0.0, 1.0)
    return out
