"""The stored set of every tensor of a trace, followed step by step from its deltas.

The replay needs, per simulated step, each tensor's stored count and CSR padding, and for
each GEMM weight its stored count per fold of the array grid (the forward pass's weight
tiles). Rescanning whole masks every step costs O(weights); here each step costs
O(entered + left): one numba pass updates the mask, the counts, the padding (from the
gaps beside each changed weight) and the fold counts.

It also decides which *reference* state stands for a step's cycles (see
:class:`CycleReferences`): cycles are computed once per reference, counts every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.jit import njit
from accelsim.sim.storage import FILL_CODES, FORMAT_CODES, fetch_parts
from accelsim.trace import StepRecord, TraceHeader


@njit(cache=True)
def _gap_padding(gap, bits):
    return gap >> bits if bits >= 0 else 0


@njit(cache=True)
def apply_changes_kernel(mask, starts, sizes, changes, tensors, entering, stored, padding,
                         csr_bits, tensor_layer, fold_offset, layer_k, layer_rows, layer_cols,
                         layer_folds_n, fold_counts, channel_offset, channel_counts):
    """Apply changes (global indices, their tensors, entering or leaving) in order.

    Returns the position of the first change that does not fit the mask (a weight that
    enters while stored, or leaves while not), or -1.
    """
    for c in range(changes.shape[0]):
        g = changes[c]
        t = tensors[c]
        come = entering[c]
        if mask[g] == come:
            return c
        start = starts[t]
        end = start + sizes[t]
        bits = csr_bits[t]
        if bits >= 0:
            p = g - 1
            while p >= start and not mask[p]:
                p -= 1
            q = g + 1
            while q < end and not mask[q]:
                q += 1
            before = g - p - 1  # zeros before g (p = start - 1: none stored before)
            if q < end:
                merged = _gap_padding(q - p - 1, bits)
                split = _gap_padding(before, bits) + _gap_padding(q - g - 1, bits)
            else:  # trailing zeros need no padding
                merged = 0
                split = _gap_padding(before, bits)
            padding[t] += split - merged if come else merged - split
        mask[g] = come
        stored[t] += 1 if come else -1
        layer = tensor_layer[t]
        if layer >= 0:
            local = g - start
            k = layer_k[layer]
            column = local // k  # W is (n, k) row-major: B = W^T's column
            fold = ((local - column * k) // layer_rows[layer]) * layer_folds_n[layer] \
                + column // layer_cols[layer]
            fold_counts[fold_offset[layer] + fold] += 1 if come else -1
            if channel_counts.shape[0]:
                channel_counts[channel_offset[layer] + column] += 1 if come else -1
    return -1


@njit(cache=True)
def decide_kernel(fold_counts, fold_offset, layer_tensor, sizes, stored, padding, value_bytes,
                  fmt, index_bits, fill, bytes_per_cycle, lanes, tolerance, ref_counts,
                  ref_stored, ref_bytes, ref_regen, ref_valid, new_ref, total_bytes,
                  total_regen, total_valid, new_total):
    """Per GEMM weight, for its fold-by-fold reference (new_ref) and for its totals-only
    reference (new_total, for phases that spread the weight evenly over the folds):
    0 dense this step, 1 within tolerance of the reference, 2 a new reference (its state
    copied into the ref_* / total_* arrays).

    A step may reuse a reference's cycles when the weight work that differs between
    them — summed over folds, |bytes| / bandwidth + |regenerated values| / lanes (for
    the totals: of the whole tensor) — is at most ``tolerance`` times the reference's
    weight time (its fetch or its regeneration, whichever is longer). That time is a
    lower bound on the cycles of any GEMM that reads the weight, and the pipeline's end
    moves by at most the work added to or taken from its tiles, so the cycles' relative
    error stays within ``tolerance``.
    """
    for layer in range(fold_offset.shape[0] - 1):
        t = layer_tensor[layer]
        numel = sizes[t]
        values, metadata, regen, fetched = fetch_parts(
            numel, stored[t], padding[t], value_bytes, fmt, index_bits[t], fill)
        if fetched >= numel:
            ref_valid[layer] = False
            total_valid[layer] = False
            new_ref[layer] = 0
            new_total[layer] = 0
            continue
        total = values + metadata
        new_total[layer] = 2
        if total_valid[layer]:
            change = abs(total - total_bytes[layer]) / bytes_per_cycle
            floor = total_bytes[layer] / bytes_per_cycle
            if lanes > 0:
                change += abs(regen - total_regen[layer]) / lanes
                floor = max(floor, total_regen[layer] / lanes)
            if change <= tolerance * floor:
                new_total[layer] = 1
        if new_total[layer] == 2:
            total_bytes[layer] = total
            total_regen[layer] = regen
            total_valid[layer] = True
        lo, hi = fold_offset[layer], fold_offset[layer + 1]
        if ref_valid[layer]:
            moved = 0
            for f in range(lo, hi):
                moved += abs(fold_counts[f] - ref_counts[f])
            beta = total / stored[t]
            beta_ref = ref_bytes[layer] / ref_stored[layer]
            change = (beta * moved + abs(beta - beta_ref) * ref_stored[layer]) / bytes_per_cycle
            floor = ref_bytes[layer] / bytes_per_cycle
            if lanes > 0:
                change += moved / lanes
                floor = max(floor, ref_regen[layer] / lanes)
            if change <= tolerance * floor:
                new_ref[layer] = 1
                continue
        for f in range(lo, hi):
            ref_counts[f] = fold_counts[f]
        ref_stored[layer] = stored[t]
        ref_bytes[layer] = total
        ref_regen[layer] = regen
        ref_valid[layer] = True
        new_ref[layer] = 2


@dataclass(frozen=True)
class Reference:
    """A weight tensor's state whose cycles stand for the steps within tolerance of it."""

    stored: int
    padding: int
    fold_counts: np.ndarray | None  # stored weights per fold (None: totals only)
    fold_sizes: np.ndarray | None  # weights per fold
    # Stored weights per output channel (row of W), for a zero-skipping array's load
    # balance (accelsim.sim.sparsity); None unless the tracker keeps them.
    channel_counts: np.ndarray | None = None

    def shares(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Per fold: share of the stored weights, share of the weights not stored."""
        if self.fold_counts is None:
            return None, None
        counts = self.fold_counts.astype(np.float64)
        total = counts.sum()
        weight = counts / total if total else None
        missing = self.fold_sizes - counts
        left = missing.sum()
        return weight, (missing / left if left else weight)


class StoredSetTracker:
    """Masks, stored counts, CSR padding and per-fold counts, updated from deltas.

    ``grids``: per GEMM weight, (tensor_id, k, n, rows, cols): W is (n, k) row-major and a
    fold is a rows x cols block of B = W^T (a single fold: rows = k, cols = n).
    """

    def __init__(self, header: TraceHeader, grids: list[tuple[int, int, int, int, int]],
                 storage, value_bytes: int, fill: str, bytes_per_cycle: float, lanes: int,
                 tolerance: float, keep_channels: bool = False):
        tensors = header.tensors
        self.keep_channels = keep_channels
        self.ids = [t.tensor_id for t in tensors]
        self.column = {tid: j for j, tid in enumerate(self.ids)}
        self.sizes = np.array([t.numel for t in tensors], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        self.mask = np.ones(int(self.sizes.sum()), dtype=np.bool_)  # all stored at first
        self.stored = self.sizes.copy()
        self.padding = np.zeros(len(tensors), dtype=np.int64)
        bits = storage.index_bits if storage.format == "csr" else None
        self.csr_bits = np.full(len(tensors), -1 if bits is None else bits, dtype=np.int64)
        self.index_bits = np.array([storage.index_bits_for(int(n)) for n in self.sizes],
                                   dtype=np.int64)
        self.fmt, self.fill = FORMAT_CODES[storage.format], FILL_CODES[fill]
        self.value_bytes, self.bytes_per_cycle = value_bytes, bytes_per_cycle
        self.lanes = lanes if fill == "regen" else 0
        self.tolerance = tolerance

        self.tensor_layer = np.full(len(tensors), -1, dtype=np.int64)
        self.layer_tensor = np.zeros(len(grids), dtype=np.int64)
        k, rows, cols, folds_n, offsets, fold_sizes = [], [], [], [], [0], []
        for layer, (tid, kk, nn, r, c) in enumerate(grids):
            self.tensor_layer[self.column[tid]] = layer
            self.layer_tensor[layer] = self.column[tid]
            fr, fc = -(-kk // r), -(-nn // c)
            k.append(kk), rows.append(r), cols.append(c), folds_n.append(fc)
            fold_rows = np.minimum(r, kk - r * np.arange(fr))
            fold_cols = np.minimum(c, nn - c * np.arange(fc))
            fold_sizes.append(np.outer(fold_rows, fold_cols).ravel().astype(np.int64))
            offsets.append(offsets[-1] + fr * fc)
        self.layer_k, self.layer_rows, self.layer_cols, self.layer_folds_n = (
            np.array(x, dtype=np.int64) for x in (k, rows, cols, folds_n))
        self.fold_offset = np.array(offsets, dtype=np.int64)
        self.fold_sizes = (np.concatenate(fold_sizes) if fold_sizes
                           else np.zeros(0, dtype=np.int64))
        self.fold_counts = self.fold_sizes.copy()  # every weight stored at first
        # Stored weights per output channel (kept only for a zero-skipping array).
        channels = [nn for _, _, nn, _, _ in grids] if keep_channels else []
        self.channel_offset = np.concatenate([[0], np.cumsum(channels)]).astype(np.int64) \
            if channels else np.zeros(len(grids) + 1, dtype=np.int64)
        self.channel_counts = np.repeat(np.array([kk for _, kk, _, _, _ in grids],
                                                 dtype=np.int64), channels) \
            if channels else np.zeros(0, dtype=np.int64)
        n_layers = len(grids)
        self.ref_counts = np.zeros_like(self.fold_counts)
        self.ref_stored = np.zeros(n_layers, dtype=np.int64)
        self.ref_bytes = np.zeros(n_layers)
        self.ref_regen = np.zeros(n_layers)
        self.ref_valid = np.zeros(n_layers, dtype=np.bool_)
        self.new_ref = np.zeros(n_layers, dtype=np.int64)
        self.total_bytes = np.zeros(n_layers)
        self.total_regen = np.zeros(n_layers)
        self.total_valid = np.zeros(n_layers, dtype=np.bool_)
        self.new_total = np.zeros(n_layers, dtype=np.int64)
        # Reference per layer: fold by fold, totals only (-1: dense).
        self.current = np.full(n_layers, -1, dtype=np.int64)
        self.current_total = np.full(n_layers, -1, dtype=np.int64)
        self.references: list[Reference] = []
        self.reused = 0

    def apply(self, record: StepRecord) -> int:
        """Apply one record's changes; returns how many weights entered or left."""
        pieces, owners, comes = [], [], []  # local indices, their tensor, entering
        column = self.column
        for tid, mask in record.stored_masks.items():  # full masks: diff against ours
            j = column[tid]
            start = self.starts[j]
            ours = self.mask[start:start + self.sizes[j]]
            mask = np.asarray(mask, dtype=bool).ravel()
            for come, local in ((False, np.flatnonzero(ours & ~mask)),
                                (True, np.flatnonzero(mask & ~ours))):
                pieces.append(local), owners.append(j), comes.append(come)
        full = record.stored_masks
        for come, deltas in ((False, record.left), (True, record.entered)):
            for tid, local in deltas.items():
                if tid not in full:
                    pieces.append(local), owners.append(column[tid]), comes.append(come)
        if not pieces:
            return 0
        lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        total = int(lengths.sum())
        if not total:
            return 0
        tensors = np.repeat(np.asarray(owners, dtype=np.int64), lengths)
        changes = np.concatenate(pieces).astype(np.int64, copy=False)
        changes += self.starts[tensors]
        entering = np.repeat(np.asarray(comes, dtype=np.bool_), lengths)
        bad = apply_changes_kernel(
            self.mask, self.starts, self.sizes, changes, tensors, entering, self.stored,
            self.padding, self.csr_bits, self.tensor_layer, self.fold_offset, self.layer_k,
            self.layer_rows, self.layer_cols, self.layer_folds_n, self.fold_counts,
            self.channel_offset, self.channel_counts)
        if bad >= 0:
            raise ValueError(f"step {record.step}: a change does not fit the stored set "
                             "before it")
        return total

    def _channel_counts(self, layer: int) -> np.ndarray:
        """Stored weights per output channel of a GEMM weight (W is (n, k) row-major)."""
        lo, hi = self.channel_offset[layer], self.channel_offset[layer + 1]
        return self.channel_counts[lo:hi].copy()

    def decide(self) -> tuple[np.ndarray, np.ndarray]:
        """Reference ids per GEMM weight for the present state (-1: dense): fold by fold,
        and totals only."""
        decide_kernel(self.fold_counts, self.fold_offset, self.layer_tensor, self.sizes,
                      self.stored, self.padding, self.value_bytes, self.fmt, self.index_bits,
                      self.fill, self.bytes_per_cycle, self.lanes, self.tolerance,
                      self.ref_counts, self.ref_stored, self.ref_bytes, self.ref_regen,
                      self.ref_valid, self.new_ref, self.total_bytes, self.total_regen,
                      self.total_valid, self.new_total)
        for flags, current, folds in ((self.new_ref, self.current, True),
                                      (self.new_total, self.current_total, False)):
            for layer in np.flatnonzero(flags != 1):
                if flags[layer] == 0:
                    current[layer] = -1
                    continue
                lo, hi = self.fold_offset[layer], self.fold_offset[layer + 1]
                j = self.layer_tensor[layer]
                self.references.append(Reference(
                    int(self.stored[j]), int(self.padding[j]),
                    self.fold_counts[lo:hi].copy() if folds else None,
                    self.fold_sizes[lo:hi] if folds else None,
                    self._channel_counts(layer) if folds and self.keep_channels else None))
                current[layer] = len(self.references) - 1
            self.reused += int(np.count_nonzero(flags == 1))
        return self.current.copy(), self.current_total.copy()
