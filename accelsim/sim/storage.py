"""What it costs to fetch a weight tensor's stored values in the description's format.

A tensor whose every weight is stored, or whose pruning is structural (dead filters are
simply absent), is laid out densely: values only. A tensor with an unstructured stored
set is laid out in ``storage.format`` (bits per format: hw.Storage); the weights it does
not store come from the regeneration unit (DropBack: their initial values) or are zeros
the decoder inserts (pruning methods) — unless the format would take
more bytes than plain values (a nearly full tensor), when it is kept dense. Without a
regeneration unit, or in the dense format, the weights that are not stored are fetched
as dense values: no saving.

One formula, :func:`fetch_parts` (numba), serves the scalar :func:`weight_fetch`, the
per-step arrays of :func:`weight_fetch_arrays` and the replay's step tracker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from accelsim.hw.description import Storage
from accelsim.trace.methods import MethodMeaning

FORMAT_CODES = {"dense": 0, "bitmap": 1, "csr": 2, "coo": 3}
FILL_CODES = {"regen": 0, "zero": 1, "dense": 2}


@dataclass(frozen=True)
class WeightFetch:
    """Bytes and regenerated values to bring one weight tensor to the array once."""

    value_bytes: float
    metadata_bytes: float
    regen_values: int
    stored: int

    @property
    def total_bytes(self) -> float:
        return self.value_bytes + self.metadata_bytes


@njit(cache=True)
def fetch_parts(numel, stored, padding, value_bytes, fmt, index_bits, fill):
    """(value bytes, metadata bytes, regenerated values, weights fetched as stored) of one
    full read; codes as FORMAT_CODES / FILL_CODES, ``index_bits`` for this tensor."""
    dense = (float(numel * value_bytes), 0.0, 0, numel)
    if stored >= numel or fmt == 0 or fill == 2:
        return dense
    value_bits = 8 * value_bytes
    if fmt == 1:
        total_bits = numel + stored * value_bits
    else:
        total_bits = (stored + padding) * (value_bits + index_bits)
    values = (stored + padding) * value_bytes if fmt == 2 else stored * value_bytes
    # Metadata is laid out per tensor and rounded up to whole bytes.
    metadata = (total_bits + 7) // 8 - values
    if values + metadata >= numel * value_bytes:
        # Too dense for the format to pay off: the tensor is kept as plain values.
        return dense
    return float(values), float(metadata), (numel - stored if fill == 0 else 0), stored


@njit(cache=True)
def fetch_parts_kernel(numel, stored, padding, value_bytes, fmt, index_bits, fill, values,
                       metadata, regen, fetched):
    for i in range(stored.shape[0]):
        values[i], metadata[i], regen[i], fetched[i] = fetch_parts(
            numel[i], stored[i], padding[i], value_bytes, fmt, index_bits[i], fill)


def fill_rule(meaning: MethodMeaning, has_regen: bool) -> str:
    """The ``fill`` for a method: one whose unstored weights are their initial values
    (DropBack) has them regenerated on chip, or fetched densely without a regeneration
    unit; one that prunes leaves zeros, which a sparse format decodes for free."""
    if meaning.regenerates:
        return "regen" if has_regen else "dense"
    return "zero"


def _codes(storage: Storage, fill: str) -> tuple[int, int]:
    return FORMAT_CODES[storage.format], FILL_CODES[fill]


def weight_fetch(numel: int, stored: int, value_bytes: int, storage: Storage,
                 fill: str, padding: int = 0) -> WeightFetch:
    """Cost of one full read of a tensor with ``stored`` of ``numel`` weights stored.

    ``fill``: where the weights that are not stored come from — "regen" (their initial
    values, from the regeneration unit: DropBack), "zero" (pruned to zero: the format's
    decoder inserts them for free) or "dense" (nothing on chip can make them: every
    weight is fetched densely).
    ``padding``: the relative-index CSR filler entries for this stored set.
    """
    fmt, fill_code = _codes(storage, fill)
    values, metadata, regen, fetched = fetch_parts(
        int(numel), int(stored), int(padding), int(value_bytes), fmt,
        storage.index_bits_for(numel), fill_code)
    return WeightFetch(values, metadata, int(regen), int(fetched))


def weight_fetch_arrays(numel: np.ndarray | int, stored: np.ndarray, padding: np.ndarray,
                        value_bytes: int, storage: Storage, fill: str) -> dict[str, np.ndarray]:
    """:func:`weight_fetch` over arrays (one entry per step): keys value_bytes,
    metadata_bytes, regen_values, stored, total_bytes."""
    stored = np.ascontiguousarray(stored, dtype=np.int64)
    n = stored.shape[0]
    numel = np.broadcast_to(np.asarray(numel, dtype=np.int64), (n,)).copy()
    padding = np.broadcast_to(np.asarray(padding, dtype=np.int64), (n,)).copy()
    sizes, inverse = np.unique(numel, return_inverse=True)
    bits = np.array([storage.index_bits_for(int(x)) for x in sizes], dtype=np.int64)[inverse]
    fmt, fill_code = _codes(storage, fill)
    out = {"value_bytes": np.zeros(n), "metadata_bytes": np.zeros(n),
           "regen_values": np.zeros(n, dtype=np.int64), "stored": np.zeros(n, dtype=np.int64)}
    fetch_parts_kernel(numel, stored, padding, int(value_bytes), fmt,
                       np.ascontiguousarray(bits.ravel()), fill_code,
                       out["value_bytes"], out["metadata_bytes"], out["regen_values"],
                       out["stored"])
    out["total_bytes"] = out["value_bytes"] + out["metadata_bytes"]
    return out
